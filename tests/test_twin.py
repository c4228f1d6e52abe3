"""The twin against answers worked out by hand from docs/spec.md section 4.

``dec(x, d) = sign(x) * ((|x| * (4096 - d)) >> 12)``; ``u`` uses ``du + 1``; threshold is
``vth_mant * 64``; a spike at step t enters ``u`` at step t+1, so raster row 0 (step 1) shows in
``u`` at step 2 (output row 1).
"""

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgelearn import INPUT, Connection, Network, Population, layer, twin


def run(net, raster):
    res = twin.simulate(net, inputs=np.asarray(raster, bool), probe=True)
    return (np.asarray(res.u, np.int64)[:, 0], np.asarray(res.v, np.int64)[:, 0],
            np.asarray(res.spikes, bool)[:, 0], res)


def impulse(n_steps, n_axons=1):
    r = np.zeros((n_steps, n_axons), bool)
    r[0] = True
    return r


def test_impulse_response_of_u_and_v():
    # w = 10 -> a = 10 * 2^(0+6) = 640 at step 2.
    # u3 = (640 * (4096 - 1025)) >> 12 = 1965440 >> 12 = 479; u4 = (479 * 3071) >> 12 = 359
    # v2 = 640; v3 = ((640 * 3584) >> 12) + 479 = 560 + 479 = 1039; v4 = (1039*3584 >> 12) + 359
    #    = 909 + 359 = 1268
    net = layer(1, 1, w=np.array([[10]]), du=1024, dv=512, vth_mant=1000)
    u, v, s, _ = run(net, impulse(5))
    assert u.tolist() == [0, 640, 479, 359, 269]
    assert v.tolist() == [0, 640, 1039, 1268, 1378]
    assert not s.any()


@pytest.mark.parametrize("sign", [1, -1])
def test_decay_to_exactly_zero(sign):
    # du = 4095 clears u every step (4096 - 4096 = 0); dv = 2048 halves v, truncating toward 0.
    net = layer(1, 1, w=np.array([[100 * sign]]), du=4095, dv=2048, vth_mant=2**17 - 1)
    u, v, s, _ = run(net, impulse(16))
    assert u.tolist() == [0, 6400 * sign] + [0] * 14
    expect = [0, 6400, 3200, 1600, 800, 400, 200, 100, 50, 25, 12, 6, 3, 1, 0, 0]
    assert v.tolist() == [sign * x for x in expect]


def test_threshold_is_strict():
    # vth_mant = 100 -> threshold 6400. a = 100 * 64 = 6400 is not above it; 101 * 64 is.
    at = layer(1, 1, w=np.array([[100]]), du=4095, dv=4095, vth_mant=100)
    above = layer(1, 1, w=np.array([[101]]), du=4095, dv=4095, vth_mant=100)
    assert not run(at, impulse(4))[2].any()
    u, v, s, _ = run(above, impulse(4))
    assert s.tolist() == [False, True, False, False]
    assert v.tolist() == [0, 0, 0, 0]  # reset to 0 on the spike; dv = 4095 clears the rest


def test_weight_exponent_and_mixed_sign_mode():
    # Two axons, weights 3 and -5 -> mixed mode: 3 -> 2, -5 -> -6. Both spike: acc = -4.
    # w_exp = -1 floors: floor(-4 / 2) = -2 -> -2 * 64 = -128. With w_exp = 2: -4 * 2^8 = -1024.
    for w_exp, expect in ((-1, -128), (2, -1024)):
        net = layer(2, 1, w=np.array([[3, -5]]), du=4095, dv=4095, vth_mant=10, w_exp=w_exp)
        assert net.connections[0].mixed
        u, _, _, _ = run(net, impulse(3, 2))
        assert u.tolist() == [0, expect, 0]
    # acc = -3 (not mixed: only negatives) with w_exp = -1: floor(-1.5) = -2 -> -128
    net = layer(1, 1, w=np.array([[-3]]), du=4095, dv=4095, w_exp=-1)
    assert run(net, impulse(3))[0].tolist() == [0, -128, 0]


def test_bias_driven_regular_firing_period():
    # No input; bias = 100 * 2^2 = 400 per step, dv = 0 keeps v exactly (4096/4096).
    # Threshold 25 * 64 = 1600: v = 400, 800, 1200, 1600 (not above), 2000 -> spike at step 5,
    # reset, so spikes at steps 5, 10, 15, ...: period 5.
    net = layer(1, 1, w=np.zeros((1, 1)), dv=0, vth_mant=25, bias_mant=100, bias_exp=2)
    _, v, s, _ = run(net, np.zeros((20, 1), bool))
    assert (np.flatnonzero(s) + 1).tolist() == [5, 10, 15, 20]
    assert v[:5].tolist() == [400, 800, 1200, 1600, 0]


def test_refractory_hold():
    # Same neuron with refractory = 3: after the spike at step 5, v is held at 0 on steps 6 and
    # 7, then integrates again from step 8: 400, 800, 1200, 1600, 2000 -> spike at step 12.
    # Period 5 + (3 - 1) = 7.
    net = layer(1, 1, w=np.zeros((1, 1)), dv=0, vth_mant=25, bias_mant=100, bias_exp=2,
                refractory=3)
    _, v, s, _ = run(net, np.zeros((20, 1), bool))
    assert (np.flatnonzero(s) + 1).tolist() == [5, 12, 19]
    assert v[4:12].tolist() == [0, 0, 0, 400, 800, 1200, 1600, 0]


def test_u_wraps_at_24_bits():
    # 8 axons of weight 127 with w_exp = 7: a = 8 * 127 * 2^13 = 8323072 (< 2^23), twice.
    # u2 = 8323072; u3 = (8323072 * 4095 >> 12) + 8323072 = 8321040 + 8323072 = 16644112,
    # which wraps to 16644112 - 2^24 = -133104.
    net = layer(8, 1, w=np.full((1, 8), 127), du=0, dv=4095, vth_mant=2**17 - 1, w_exp=7)
    r = np.zeros((3, 8), bool)
    r[:2] = True
    u, _, _, res = run(net, r)
    assert u.tolist() == [0, 8323072, -133104]
    assert int(res.stats["wrap_u"]) == 1
    # 9 axons: the scaled input itself overflows: 9 * 127 * 2^13 = 9363456 -> -7413760
    net = layer(9, 1, w=np.full((1, 9), 127), du=4095, dv=4095, vth_mant=2**17 - 1, w_exp=7)
    assert run(net, impulse(2, 9))[0].tolist() == [0, 9363456 - 2**24]


def test_v_saturates_at_the_extremes():
    # bias = -4096 * 2^7 = -524288 per step, dv = 0: v = -524288 k until it reaches
    # -2^23 = -8388608 at k = 16, which saturates to -(2^23 - 1).
    net = layer(1, 1, w=np.zeros((1, 1)), dv=0, vth_mant=0, bias_mant=-4096, bias_exp=7)
    _, v, s, res = run(net, np.zeros((18, 1), bool))
    assert v[14] == -524288 * 15
    assert v[15:].tolist() == [-(2**23 - 1)] * 3
    assert not s.any()
    assert int(res.stats["sat_v"]) == 3
    # bias = 4095 * 2^7 = 524160: step 16 gives 8386560 <= 131071 * 64 = 8388544; step 17 would
    # be 8910720, saturates to 8388607 > 8388544 -> spike.
    net = layer(1, 1, w=np.zeros((1, 1)), dv=0, vth_mant=2**17 - 1, bias_mant=4095, bias_exp=7)
    _, v, s, _ = run(net, np.zeros((17, 1), bool))
    assert v[15] == 8386560 and (np.flatnonzero(s) + 1).tolist() == [17]


def test_recurrent_and_sparse_connection():
    # Neuron 0 is driven by bias to spike every step; a recurrent weight 50 from 0 to 1 gives
    # neuron 1 u = 50 * 64 = 3200 one step after each spike of neuron 0.
    pop = Population("p", 2, du=4095, dv=4095, vth_mant=1, bias_mant=np.array([100, 0]))
    dense = Connection("p", "p", np.array([[0, 0], [50, 0]]))
    sparse = Connection("p", "p", np.array([50]), indptr=np.array([0, 0, 1]),
                        indices=np.array([0]))
    outs = []
    for c in (dense, sparse):
        net = Network(1, (pop,), (c,))
        res = twin.simulate(net, inputs=np.zeros((4, 1), bool), probe=True)
        outs.append(np.asarray(res.u))
    assert outs[0][:, 1].tolist() == [0, 3200, 3200, 3200]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_batch_under_vmap_equals_single_runs():
    rng = np.random.default_rng(0)
    net = layer(20, 10, w=rng.integers(-128, 128, (10, 20)), du=300, dv=200, vth_mant=50)
    rasters = rng.random((4, 30, 20)) < 0.3
    batched = twin.simulate(net, inputs=rasters, probe=True)
    for b in range(4):
        single = twin.simulate(net, inputs=rasters[b], probe=True)
        np.testing.assert_array_equal(batched.v[b], single.v)
        np.testing.assert_array_equal(batched.spikes[b], single.spikes)


def test_state_carries_across_calls():
    rng = np.random.default_rng(1)
    net = layer(8, 6, w=rng.integers(-128, 128, (6, 8)), du=100, dv=100, vth_mant=20,
                refractory=4)
    r = rng.random((40, 8)) < 0.4
    whole = twin.simulate(net, inputs=r, probe=True)
    first = twin.simulate(net, inputs=r[:17], probe=True)
    second = twin.simulate(net, state=first.final_state, inputs=r[17:], probe=True)
    np.testing.assert_array_equal(whole.v[17:], second.v)
    np.testing.assert_array_equal(whole.spikes[17:], second.spikes)


def test_bad_inputs_are_named():
    net = layer(3, 2, w=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"inputs must have shape \(T, 3\)"):
        twin.simulate(net, inputs=np.zeros((5, 4), bool))
    with pytest.raises(ValueError, match="du = 5000 is out of range"):
        layer(3, 2, w=np.zeros((2, 3)), du=5000)
    with pytest.raises(ValueError, match="weights holds 200, out of range"):
        layer(3, 2, w=np.full((2, 3), 200))


def test_step_checks_what_simulate_checks():
    rng = np.random.default_rng(3)
    net = layer(5, 4, w=rng.integers(-128, 128, (4, 5)), du=100, dv=100, vth_mant=20)
    topo, params = twin.topology(net), twin.params_from_network(net)
    st = twin.init_state(net)
    r = rng.random((3, 5)) < 0.6
    want = twin.simulate(net, inputs=r, probe=True)
    for t in range(3):  # step by step equals simulate (the input enters one step later)
        st, _ = twin.step(topo, params, st, jnp.asarray(r[t], jnp.float32))
        np.testing.assert_array_equal(np.asarray(st.v), np.asarray(want.v[t]))
    with pytest.raises(ValueError, match=r"s_in must have shape \(5,\), got \(1, 5\)"):
        twin.step(topo, params, st, np.zeros((1, 5), np.float32))
    with pytest.raises(ValueError, match="s_in must hold only spikes"):
        twin.step(topo, params, st, np.array([0, 1, 2, 0, 0], np.float32))
    with pytest.raises(ValueError, match=r"r_write must have shape \(4,\)"):
        twin.step(topo, params, st, np.zeros(5, np.float32), r_write=np.zeros(5))
    with pytest.raises(ValueError, match="r_write holds values in"):
        twin.step(topo, params, st, np.zeros(5, np.float32), r_write=np.full(4, 300))


def test_gradients_through_100_steps_are_finite_and_nonzero():
    rng = np.random.default_rng(2)
    net = layer(30, 10, w=rng.integers(-20, 60, (10, 30)), du=500, dv=300, vth_mant=40)
    raster = jnp.asarray(rng.random((100, 30)) < 0.2)
    params = twin.params_from_network(net)
    target = jnp.linspace(1.0, 8.0, 10)

    def loss(p):
        res = twin.simulate(net, p, inputs=raster, probe=True)
        count = res.spikes.sum(0)
        return jnp.sum((count - target) ** 2) + 1e-9 * jnp.sum(res.v[-1] ** 2)

    g = jax.grad(loss)(params)
    for name, val in (("w", g.conns[0].w), ("du", g.pops[0].du), ("dv", g.pops[0].dv),
                      ("vth_mant", g.pops[0].vth_mant), ("bias_mant", g.pops[0].bias_mant)):
        arr = np.asarray(val)
        assert np.all(np.isfinite(arr)), name
        assert np.any(arr != 0), name


def test_quantize_np_gives_the_integers_of_quantize():
    from edgelearn import fixed

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 200, 10_000), np.arange(-300, 300) + 0.5,
                        np.arange(-300, 300) - 0.5,
                        # float32 edges: 0.5 - 2^-25 rounds up when 1/2 is added in float32
                        [np.nextafter(np.float32(0.5), np.float32(0)), 1e9, -1e9]]
                       ).astype(np.float32)
    for lo, hi in ((-128, 127), (0, 4095), (-4096, 4095)):
        want = np.asarray(fixed.quantize(x, lo, hi)).astype(np.int64)
        assert np.array_equal(fixed.quantize_np(x, lo, hi), want)
    assert fixed.quantize_np(np.nextafter(np.float32(0.5), np.float32(0)), -1, 1) == 1


# --------------------------------------------------------------------------- audit: the twin
# refuses what the C runtime refuses (concrete inputs), and Network refuses what C's loader does

AUDIT_NET = dict(n_inputs=2, size=1, w=np.array([[10, 20]]), vth_mant=1000)


@pytest.mark.parametrize("value", [2, -1, 0.5, np.nan])
def test_raster_values_other_than_spikes_are_refused(value):
    from edgelearn import runtime

    net = layer(**AUDIT_NET)
    r = np.zeros((3, 2))
    r[1, 0] = value
    with pytest.raises(ValueError, match=r"inputs must hold only spikes .* at index \(1, 0\)"):
        twin.simulate(net, inputs=r)
    with pytest.raises(ValueError, match="only spikes"):  # concrete jax arrays and batches too
        twin.simulate(net, inputs=jnp.asarray(np.stack([np.zeros((3, 2)), r])))
    with pytest.raises((ValueError, TypeError)):  # and the C runtime refuses it as well
        runtime.simulate(net, r.astype(np.int64) if value in (2, -1) else r)
    with pytest.raises(TypeError, match="dtype complex"):
        twin.simulate(net, inputs=np.zeros((3, 2), complex))


def test_spike_rasters_of_every_dtype_give_the_same_answer():
    net = layer(**AUDIT_NET)
    r = np.zeros((4, 2), bool)
    # u = (10 + 20) * 64 = 1920 at step 2, then du + 1 = 1: (1920 * 4095) >> 12 = 1919,
    # (1919 * 4095) >> 12 = 1918
    r[0] = True
    want = [0, 1920, 1919, 1918]
    for x in (r, r.astype(np.float32), r.astype(np.int8), jnp.asarray(r, jnp.float32),
              r.tolist()):
        assert np.asarray(twin.simulate(net, inputs=x, probe=True).u)[:, 0].tolist() == want


def test_traced_rasters_are_not_checked_by_value():
    # meta-training runs the twin under jit/grad/vmap with float32 rasters (tracers)
    net = layer(**AUDIT_NET)
    params = twin.params_from_network(net)
    r = jnp.zeros((4, 2)).at[0].set(1.0)
    third = jnp.zeros((4, 1))
    f = jax.jit(lambda x, t: twin.simulate(net, inputs=x, third=t, probe=True).u[:, 0])
    assert np.asarray(f(r, third)).tolist() == [0, 1920, 1919, 1918]
    g = jax.grad(lambda p, x: twin.simulate(net, p, inputs=x, probe=True).u.sum())(params, r)
    assert np.all(np.isfinite(np.asarray(g.conns[0].w)))
    v = jax.vmap(lambda x: twin.simulate(net, inputs=x).spikes)(jnp.stack([r, r]))
    assert v.shape == (2, 4, 1)


@pytest.mark.parametrize("value, msg", [(500, r"third holds values in \[0\S*, 500\S*\], out of "
                                               r"range \[-128, 127\]"),
                                        (-129, "out of range"), (0.5, "third must hold integers"),
                                        (np.nan, "third must hold integers")])
def test_third_factor_out_of_range_or_fractional_is_refused_not_clipped(value, msg):
    from edgelearn import runtime

    net = layer(**AUDIT_NET)
    third = np.zeros((3, 1))
    third[1, 0] = value
    with pytest.raises(ValueError, match=msg):
        twin.simulate(net, inputs=np.zeros((3, 2), bool), third=third)
    with pytest.raises((ValueError, TypeError)):
        runtime.Core(net).run(np.zeros((3, 2), bool), third=third)
    ok = np.full((3, 1), -128.0)  # the ends of the range, as floats, are taken
    twin.simulate(net, inputs=np.zeros((3, 2), bool), third=ok + np.array([[0], [255], [0]]))


def _plastic_net(r):
    return Network(2, (Population("p", 2),),
                   (Connection(INPUT, "p", np.zeros((2, 2)), rule=r),))


def _widened(r):
    terms = tuple(dataclasses.replace(t, mant=127, factors=t.factors * 2)
                  for t in r.targets["dw"])
    return dataclasses.replace(r, targets={**r.targets, "dw": terms})


@pytest.mark.parametrize("change, msg, c_status", [
    (lambda r: dataclasses.replace(r, t_epoch=0), r"t_epoch = 0 is not an integer in \[1, 65535\]",
     "EL_ERR_RULE_FIELD"),
    (lambda r: dataclasses.replace(r, w_min=10, w_max=-10), "w_min = 10 is above w_max = -10",
     "EL_ERR_RULE_FIELD"),
    (lambda r: dataclasses.replace(r, decay=(5000, 0, 0, 0, 0)),
     r"decay\[0\] = 5000 is out of range \[0, 4095\]", "EL_ERR_RULE_FIELD"),
    (_widened, "product too wide for the accumulator", "EL_ERR_RULE_WIDTH"),
    (lambda r: dataclasses.replace(r, targets={"dw": tuple(
        dataclasses.replace(t, exp=-30) for t in r.targets["dw"])}),
     r"exponent -30 is not an integer in \[-24, 7\]", "EL_ERR_RULE_FIELD"),
    (lambda r: dataclasses.replace(r, w_max=300), "w_max = 300", None),  # does not even encode
    (lambda r: dataclasses.replace(r, rounding="up"), "rounding = 'up'", None),
    (lambda r: dataclasses.replace(r, decay=5000), "decay must be 5 integers", None),
])
def test_network_refuses_a_rule_the_c_loader_refuses(change, msg, c_status):
    from edgelearn import rule, runtime

    bad = change(rule.shipped("error_triggered"))
    if c_status is not None:
        assert runtime.rule_status(bad.microcode()) == c_status
    with pytest.raises(ValueError, match=r"connections\[0\] \(input -> p\)\.rule: .*" + msg):
        _plastic_net(bad)
    for name in rule.SHIPPED:  # what parse() gives is accepted, by both
        net = _plastic_net(rule.shipped(name))
        runtime.Core(net)


def test_hyperparameters_must_be_integers():
    from edgelearn import rule

    r = rule.shipped("error_triggered")
    h = r.hyper()
    with pytest.raises(ValueError, match=r"hyper\.coef\[0\] must be an integer .* got 1\.7"):
        r.with_hyper(dataclasses.replace(h, coef=(1.7,)))
    with pytest.raises(ValueError, match=r"hyper\.decay\[0\] must be an integer"):
        r.with_hyper(dataclasses.replace(h, decay=(True,) + h.decay[1:]))
    r2 = r.with_hyper(dataclasses.replace(h, coef=(np.int64(3),)))  # numpy integers are fine
    assert r2.hyper().coef == (3,)


def test_init_state_seed_must_be_a_32_bit_integer():
    net = layer(**AUDIT_NET)
    with pytest.raises(TypeError, match="seed must be an integer .* got 1.5"):
        twin.init_state(net, seed=1.5)
    with pytest.raises(ValueError, match=r"seed = -1 is out of range \[0, 2\^32 - 1\]"):
        twin.init_state(net, seed=-1)
    with pytest.raises(ValueError, match="out of range"):
        twin.init_state(net, seed=2**32)
    assert int(twin.init_state(net, seed=np.uint32(2**32 - 1)).seed) == 2**32 - 1
    seed = jax.jit(lambda s: twin.init_state(net, seed=s).seed)(jnp.uint32(7))  # traced: taken
    assert int(seed) == 7


def test_network_nits_are_named():
    with pytest.raises(ValueError, match=r"p\.bias_mant has shape \(2,\), expected \(\) .* "
                                         r"or \(3,\)"):
        Population("p", 3, bias_mant=[1, 2])
    with pytest.raises(TypeError, match=r"mixed must be True, False or None .* got 'no'"):
        layer(2, 1, w=np.array([[10, 20]]), mixed="no")
    with pytest.raises(TypeError, match="mixed must be"):
        layer(2, 1, w=np.array([[10, 20]]), mixed=1)
    assert layer(2, 1, w=np.array([[10, 20]]), mixed=np.bool_(True)).connections[0].mixed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from a wrapping cast
        with pytest.raises(ValueError, match=r"weights holds 1e\+20, out of range \[-128, 127\]"):
            layer(2, 1, w=np.array([[1e20, 20.0]]))
        with pytest.raises(ValueError, match=r"weights holds -300, out of range"):
            layer(2, 1, w=np.array([[-300.0, 20.0]]))
