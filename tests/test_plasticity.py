"""Plasticity: hand-worked answers, the PRNG and stochastic rounding, gradients (twin).

The C runtime's agreement with these is checked in tests/test_differential.py.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgelearn import INPUT, Connection, Network, Population, fixed, plasticity, rule, twin

STDP = """
dw = 2^-1 * x1 * y0 - 2^-1 * y1 * x0
x1.decay = 2048
x1.impulse = 1024
y1.decay = 2048
y1.impulse = 1024
t_epoch = 1
round = floor
"""


def stdp_net(text=STDP):
    # axon 1 drives the neuron (127 * 64 = 8128 > threshold 64) one step after it spikes;
    # axon 0 reaches it through a plastic synapse that starts at 0.
    pop = Population("post", 1, du=4095, dv=4095, vth_mant=1)
    drive = Connection(INPUT, "post", np.array([[0, 127]]))
    plastic = Connection(INPUT, "post", np.array([[0, 0]]), rule=rule.parse(text))
    return Network(2, (pop,), (drive, plastic))


def final_weight(net, pre_step, drive_step, steps=8):
    r = np.zeros((steps, 2), bool)
    r[pre_step - 1, 0] = True
    r[drive_step - 1, 1] = True
    res = twin.simulate(net, inputs=r)
    return res, float(res.final_state.plastic[1].w[0, 0])


def test_stdp_causal_pair_potentiates_by_hand():
    # Pre (axon 0) spikes at step 1: x1 = 64 (impulse 1024/16), then halves each step (decay
    # 2048/4096, exact for even values): 32, 16, 8 at step 4. Axon 1 spikes at step 3, so the
    # neuron spikes at step 4: y0 = 1. Epoch every step: at t = 1, y0 = 0 and y1 = 0 -> dw = 0;
    # at t = 4: dw = floor((1 * 8 * 1) * 2^(-1+15) - 0) >> 15 = 4. Final weight 4.
    res, w = final_weight(stdp_net(), pre_step=1, drive_step=3)
    assert np.flatnonzero(np.asarray(res.spikes)[:, 0]).tolist() == [3]  # step 4
    assert w == 4


def test_stdp_anticausal_pair_depresses_by_hand():
    # Axon 1 at step 1 -> post spike at step 2: y1 = 64, 32 at step 3, 16 at step 4. Pre spikes
    # at step 4: x0 = 1 -> dw = -(1 * 16 * 1) / 2 = -8 (exact). At step 2 x1 = 0: no change.
    _, w = final_weight(stdp_net(), pre_step=4, drive_step=1)
    assert w == -8


def test_prng_is_reproducible_and_rounding_unbiased():
    a = fixed.rand(7, 3, 5, jnp.arange(10))
    b = fixed.rand(7, 3, 5, jnp.arange(10))
    np.testing.assert_array_equal(a, b)
    assert len(set(np.asarray(fixed.rand(7, 3, 5, jnp.arange(1000))).tolist())) == 1000
    # 2e5 stochastic roundings of a decay: x = 37, d = 1000 -> E = 37 * 3096 / 4096 = 27.966...
    n = 200_000
    words = fixed.rand(1, jnp.arange(n), 0, 0)
    out = fixed.trace_update(jnp.full(n, 37.0), 1000.0, 0.0, jnp.zeros(n), words)
    mean, expect = float(jnp.mean(out)), 37 * 3096 / 4096
    # outcomes are 27 or 28: Bernoulli(p = 0.966), std of the mean sqrt(p(1-p)/n) = 4.1e-4;
    # allow 5 standard deviations.
    assert set(np.unique(np.asarray(out)).tolist()) == {27.0, 28.0}
    assert abs(mean - expect) < 5 * np.sqrt(0.966 * 0.034 / n)
    # impulse rounding: imp = 23 (1.4375) -> adds 1 or 2, mean 1.4375
    out = fixed.trace_update(jnp.zeros(n), 0.0, 23.0, jnp.ones(n), words)
    assert abs(float(jnp.mean(out)) - 23 / 16) < 5 * np.sqrt(0.4375 * 0.5625 / n)


def test_prng_golden_words():
    # Worked through the definition in docs/spec.md 5.1 with Python integers.
    def lowbias32(x):
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    def mix(x):
        return lowbias32((x + 0x9E3779B9) & 0xFFFFFFFF)

    for seed, t, stream, idx in ((0, 0, 0, 0), (1, 2, 3, 4), (2**32 - 1, 65535, 255, 10**9)):
        expect = mix(mix(mix(mix(idx) ^ stream) ^ t) ^ seed)
        assert int(fixed.rand(seed, t, stream, idx)) == expect


def association_case():
    """4 inputs -> 2 outputs under the error-triggered rule: pattern A on axons 0, 1 labelled
    for neuron 0 (r = +64 for it, 0 for the other); 200 silent steps (traces die out); pattern
    B on axons 2, 3 labelled for neuron 1. Returns ``(net, raster (500, 4), third (500, 2))``."""
    r_text = rule.shipped("error_triggered").text()
    pop = Population("out", 2, du=4095, dv=4095, vth_mant=400)
    net = Network(4, (pop,), (Connection(INPUT, "out", np.zeros((2, 4)),
                                         rule=rule.parse(r_text)),), seed=3)
    rng = np.random.default_rng(0)
    raster = np.zeros((500, 4), bool)
    raster[:100, :2] = rng.random((100, 2)) < 0.5
    raster[300:400, 2:] = rng.random((100, 2)) < 0.5
    third = np.zeros((500, 2), np.int64)
    third[:100, 0] = 64
    third[300:400, 1] = 64
    return net, raster, third


def test_error_triggered_rule_learns_association():
    net, raster, third = association_case()
    res = twin.simulate(net, inputs=raster, third=third)
    w = np.asarray(res.final_state.plastic[0].w)
    assert w[0, :2].min() > 0 and w[1, 2:].min() > 0
    assert w[0, 2:].max() == 0 and w[1, :2].max() == 0


def test_gradients_wrt_every_hyperparameter_through_100_steps():
    text = """
    dw = 2^-4 * x1 * (r - y1) when |r - y1| > 4 - 2^-8 * w
    x1.decay = 300
    x1.impulse = 700
    y1.decay = 300
    y1.impulse = 700
    t_epoch = 5
    """
    pop = Population("out", 3, du=3000, dv=1000, vth_mant=30)
    net = Network(6, (pop,), (Connection(INPUT, "out", np.full((3, 6), 10),
                                         rule=rule.parse(text)),), seed=1)
    rng = np.random.default_rng(4)
    raster = jnp.asarray(rng.random((100, 6)) < 0.3)
    third = jnp.asarray(np.tile([40.0, 0.0, 20.0], (100, 1)))
    params = twin.params_from_network(net)

    def loss(p):
        res = twin.simulate(net, p, inputs=raster, third=third)
        w = res.final_state.plastic[0].w
        return jnp.sum((w - 30.0) ** 2) + jnp.sum(res.spikes)

    g = jax.grad(loss)(params).conns[0].hyper
    for name in ("coef", "gate"):
        arr = np.asarray(getattr(g, name))
        assert np.all(np.isfinite(arr)) and np.all(arr != 0), (name, arr)
    for name in ("decay", "impulse"):
        arr = np.asarray(getattr(g, name))[[0, 2]]  # x1 and y1: the traces the rule reads
        assert np.all(np.isfinite(arr)) and np.all(arr != 0), (name, arr)


@pytest.mark.parametrize("name", rule.SHIPPED)
def test_shipped_rules_run_in_the_twin(name):
    r = rule.shipped(name)
    pop = Population("out", 3, du=2000, dv=2000, vth_mant=20)
    net = Network(5, (pop,), (Connection(INPUT, "out", np.full((3, 5), 40), rule=r),), seed=9)
    raster = np.random.default_rng(0).random((60, 5)) < 0.4
    res = twin.simulate(net, inputs=raster, third=np.full((60, 3), 30.0))
    w = np.asarray(res.final_state.plastic[0].w)
    assert np.all(w >= r.w_min) and np.all(w <= r.w_max) and np.all(w == np.round(w))
    assert plasticity.to_hyper(twin.params_from_network(net).conns[0].hyper) == r.hyper()


def test_learning_switch_freezes_weights_but_not_traces():
    net = stdp_net()
    r = np.zeros((8, 2), bool)
    r[0, 0] = True
    r[2, 1] = True
    state = twin.set_learning(twin.init_state(net), False)
    res = twin.simulate(net, state=state, inputs=r)
    assert float(res.final_state.plastic[1].w[0, 0]) == 0  # would be 4 with learning on
    assert float(res.final_state.plastic[1].y[0, 0]) > 0  # the post trace still moved


def test_error_triggered_rule_learns_association_in_c_runtime():
    # The association above, run by the C runtime: it learns it too, with exactly the weights,
    # tags and traces the twin produced (and the same spikes at every step).
    from edgelearn import runtime

    net, raster, third = association_case()
    tw = twin.simulate(net, inputs=raster, third=third)
    core = runtime.Core(net)
    res = core.run(raster, third=third)
    w = core.weights(0)
    assert w[0, :2].min() > 0 and w[1, 2:].min() > 0
    assert w[0, 2:].max() == 0 and w[1, :2].max() == 0
    ps = tw.final_state.plastic[0]
    np.testing.assert_array_equal(np.asarray(ps.w).astype(np.int64), w)
    np.testing.assert_array_equal(np.asarray(ps.x).astype(np.int64), core.traces(0)[0])
    np.testing.assert_array_equal(np.asarray(ps.y).astype(np.int64), core.traces(0)[1])
    np.testing.assert_array_equal(np.asarray(tw.spikes, bool), res.s)
    # recall with learning off: pattern A drives neuron 0's current, not neuron 1's
    core.set_learning(False)
    core.set_third(np.zeros(2, np.int64))
    probe = np.zeros((5, 4), bool)
    probe[:, :2] = True
    u = core.run(probe, probe=True).u[1:]
    assert np.all(u[:, 0] > 0) and np.all(u[:, 1] == 0) and np.array_equal(core.weights(0), w)


def test_c_runtime_set_hyper_mid_run_matches_the_twin():
    # New hyperparameters after 60 steps, without reloading: the C runtime continues from its
    # state exactly as the twin continues from its final state with the new params.
    from edgelearn import runtime

    r0 = rule.parse(STDP.replace("round = floor", "round = stochastic") + "de = 2^-2 * x1 * r\n")
    pop = Population("post", 3, du=1000, dv=1000, vth_mant=5)
    net = Network(4, (pop,), (Connection(INPUT, "post", np.full((3, 4), 20), rule=r0),), seed=11)
    rng = np.random.default_rng(1)
    raster = rng.random((120, 4)) < 0.4
    third = rng.integers(-128, 128, (120, 3))
    h = r0.hyper()
    h2 = rule.Hyper(coef=(-3, 7, 100), decay=(100, 0, 4095, 0, 0),
                    impulse=(2047, 0, 300, 0, 0), gate=())
    core = runtime.Core(net)
    s1 = core.run(raster[:60], third=third[:60]).s
    core.set_hyper(0, h2)
    s2 = core.run(raster[60:], third=third[60:]).s
    a = twin.simulate(net, inputs=raster[:60], third=third[:60])
    net2 = Network(4, (pop,), (Connection(INPUT, "post", np.full((3, 4), 20),
                                          rule=r0.with_hyper(h2)),), seed=11)
    b = twin.simulate(net2, state=a.final_state, inputs=raster[60:], third=third[60:])
    np.testing.assert_array_equal(np.concatenate([a.spikes, b.spikes]).astype(bool),
                                  np.concatenate([s1, s2]))
    ps = b.final_state.plastic[0]
    np.testing.assert_array_equal(np.asarray(ps.w).astype(np.int64), core.weights(0))
    np.testing.assert_array_equal(np.asarray(ps.e).astype(np.int64), core.tags(0))
    assert h != h2 and np.any(core.tags(0) != 0)
    # a different structure is refused, and nothing changes
    with pytest.raises(runtime.RuntimeStatusError, match="EL_ERR_RULE_STRUCTURE"):
        core.set_rule(0, rule.parse(STDP))
    np.testing.assert_array_equal(np.asarray(ps.w).astype(np.int64), core.weights(0))


def test_hyperparameters_respect_the_accumulator_width():
    # x1 * y1 * w can reach 127 * 127 * 128 = 2,064,512, so |mantissa| <= 8 keeps |P| < 2^24
    r = rule.parse("dw = 2^-9 * x1 * y1 * w")
    assert r.terms[0][1].mant_limit() == 8
    with pytest.raises(ValueError, match="too wide for the accumulator"):
        r.with_hyper(rule.Hyper(coef=(127,), decay=(0,) * 5, impulse=(0,) * 5, gate=()))
    # the twin quantizes a trained mantissa into that limit, so what it trains deploys
    hp = plasticity.hyper_params(r)
    hp = plasticity.HyperParams(coef=jnp.asarray([90.0]), decay=hp.decay, impulse=hp.impulse,
                                gate=hp.gate)
    assert plasticity.to_hyper(hp, r).coef == (8,)


# --------------------------------------------------------------------------- the step counter
#
# The step counter t reaches the plasticity processor as an unsigned 32-bit word (spec 4): it
# seeds the PRNG and decides the epochs (t mod t_epoch). Starting both engines at a t just below
# 2^31 (where an int32 counter would turn negative) and just below 2^32 (where the counter
# wraps to 0) checks that they agree there bit for bit. t_epoch 10 and 7 do not divide 2^32, so
# a counter that wrapped differently would move the epochs; every trace decays, so a different
# PRNG word would change the traces.


def trace_settings(**traces: tuple[int, int]) -> str:
    return "".join(f"{k}.decay = {d}\n{k}.impulse = {imp}\n" for k, (d, imp) in traces.items())


COUNTER_RULES = (
    "dw = 2^-4 * x1 * (r - y1) + 2^-6 * x2 * y0\nde = 2^-3 * x1 * r\nt_epoch = 10\n"
    + trace_settings(x1=(700, 900), x2=(1500, 500), y1=(900, 1100)),
    "dw = 2^-5 * y2 * (x1 - 20) - 2^-7 * y3 * w\nt_epoch = 7\n"
    + trace_settings(x1=(300, 1500), y2=(2000, 1700), y3=(100, 600)),
)


def counter_net():
    pops = (Population("a", 5, du=900, dv=300, vth_mant=6, bias_mant=np.arange(5) * 40),
            Population("b", 3, du=2000, dv=1000, vth_mant=4, bias_mant=np.array([30, 0, 60])))
    rng = np.random.default_rng(21)
    first, second = (rule.parse(text) for text in COUNTER_RULES)
    conns = (Connection(INPUT, "a", rng.integers(-30, 60, (5, 6)), rule=first),
             Connection("a", "b", rng.integers(-20, 50, (3, 5)), rule=second),
             Connection(INPUT, "b", rng.integers(0, 40, (3, 6))))
    return Network(6, pops, conns, seed=0xC0FFEE)


def c_core_at(net, t0):
    """A fresh C core whose step counter reads ``t0`` (el_core_set_time: running 2^31 steps
    would take minutes)."""
    from edgelearn import runtime

    core = runtime.Core(net)
    core.time = t0
    assert core.time == t0
    return core


@pytest.mark.parametrize("t0", [2**31 - 23, 2**32 - 23])
def test_twin_equals_c_runtime_across_the_step_counter_boundaries(t0):
    net = counter_net()
    core = c_core_at(net, t0)
    state = twin.init_state(net)
    # the twin's own counter type, holding t0's 32 bits
    state = dataclasses.replace(state, t=jnp.asarray(np.uint32(t0)).astype(state.t.dtype))
    rng = np.random.default_rng(t0 % 1000)
    raster = rng.random((60, 6)) < 0.4
    third = rng.integers(-128, 128, (60, 8))
    w0 = [core.weights(k) for k in net.plastic]
    for c in range(0, 60, 5):  # chunks of 5 steps: the first mismatch is localised
        tw = twin.simulate(net, state=state, inputs=raster[c:c + 5], third=third[c:c + 5])
        state = tw.final_state
        rt = core.run(raster[c:c + 5], third=third[c:c + 5])
        where = f"steps t0 + {c + 1} .. t0 + {c + 5}"
        np.testing.assert_array_equal(np.asarray(tw.spikes, bool), rt.s, err_msg=where)
        for k in net.plastic:
            ps = state.plastic[k]
            x, y = core.traces(k)
            for name, a, b in (("w", ps.w, core.weights(k)), ("e", ps.e, core.tags(k)),
                               ("x", ps.x, x), ("y", ps.y, y)):
                np.testing.assert_array_equal(np.asarray(a).astype(np.int64),
                                              b.astype(np.int64), err_msg=f"{name}{k}, {where}")
        assert int(state.t) == core.time % 2**32 == (t0 + c + 5) % 2**32
    # not vacuous: both connections learned, and the run crossed the boundary
    assert all(np.any(core.weights(k) != w) for k, w in zip(net.plastic, w0, strict=True))
    assert core.time == t0 + 60 and int(state.t) == (t0 + 60) % 2**32
