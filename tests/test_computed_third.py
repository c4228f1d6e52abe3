"""Third factors computed by designated neurons (docs/spec.md 5.3): a readout learns classes from
label *spikes*, its error computed on the core by error neurons, with no host write; the twin
and the C runtime agree bit for bit, gradients reach the error pathway, the host cannot write
a computed third factor, and the artifact carries the designation."""

from __future__ import annotations

import dataclasses

import fw_common as F
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgelearn import INPUT, Connection, Network, Population, artifact, rule, runtime, twin
from edgelearn.cli import main


def run_session(net: Network, train: list[np.ndarray], test: list[np.ndarray]):
    """Learning on while the training rasters stream, off for the test ones; every step's
    spikes, the test samples' spike counts of ``out`` and the core."""
    core = runtime.Core(net)
    s_train = core.run(np.concatenate(train)).s
    core.set_learning(False)
    s_test = core.run(np.concatenate(test)).s
    counts = s_test[:, :F.ERR_CLASSES].reshape(len(test), F.STEPS, F.ERR_CLASSES).sum(1)
    return np.concatenate([s_train, s_test]), counts, core


def predictions(counts: np.ndarray) -> np.ndarray:
    return np.where(counts.max(1) > 0, counts.argmax(1), -1)


def test_a_readout_learns_from_label_spikes_through_error_neurons():
    """Every training sample carries its label as spikes on a label axon, nothing else: no
    third factor is ever written. After 3 samples per class the readout classifies unlabelled
    samples; the same samples with the label axons silent teach nothing."""
    accs = []
    for seed in range(5):
        train_c, train, test_c, test = F.error_session(seed)
        _, counts, core = run_session(F.error_network(), train, test)
        accs.append(float(np.mean(predictions(counts) == np.asarray(test_c))))
        w = core.weights(0)[:, :F.ERR_FEATURES]
        for c in range(F.ERR_CLASSES):  # each class's neuron favours its own features
            proto = np.random.default_rng(100 + c).choice(F.ERR_FEATURES, 8, replace=False)
            assert w[c, proto].mean() > w[c].mean(), (seed, c)
    assert min(accs) >= 0.9 and np.mean(accs) >= 0.95, accs
    _, unlabelled, _, test = F.error_session(0, label=False)
    _, counts, core = run_session(F.error_network(), unlabelled, test)
    assert not core.weights(0).any() and (predictions(counts) == -1).all()


def test_twin_equals_c_runtime_on_the_session():
    net = F.error_network()
    _, train, _, test = F.error_session(1)
    spikes, _, core = run_session(net, train, test)
    tw1 = twin.simulate(net, inputs=np.concatenate(train), probe=True)
    tw2 = twin.simulate(net, state=twin.set_learning(tw1.final_state, False),
                        inputs=np.concatenate(test))
    np.testing.assert_array_equal(
        np.concatenate([np.asarray(tw1.spikes, bool), np.asarray(tw2.spikes, bool)]), spikes)
    ps = tw2.final_state.plastic[0]
    x, y = core.traces(0)
    np.testing.assert_array_equal(np.asarray(ps.w).astype(np.int64), core.weights(0))
    np.testing.assert_array_equal(np.asarray(ps.x).astype(np.int64), x)
    np.testing.assert_array_equal(np.asarray(ps.y).astype(np.int64), y)
    # the twin's third factor of `out` is the rule's: clamp(shr(u_err, 7)) at every step
    u_err = np.asarray(tw1.u)[:, F.ERR_CLASSES:].astype(np.int64)
    r_out = np.asarray(tw1.final_state.r)[:F.ERR_CLASSES]
    np.testing.assert_array_equal(r_out, np.clip(u_err[-1] >> 7, -128, 127))
    np.testing.assert_array_equal(np.asarray(tw2.final_state.r).astype(np.int64), core.third)
    assert (u_err >> 7).max() > 0 > (u_err >> 7).min()  # positive and negative errors occurred


def test_gradients_reach_the_error_pathway():
    """Meta-training can shape the error neurons: the learned weights depend differentiably on
    the label -> err weights and the err decay, through the computed third factor."""
    net = F.error_network()
    _, train, _, _ = F.error_session(2, n_train=1)
    x = jnp.asarray(np.concatenate(train))
    topo, params = twin.topology(net), twin.params_from_network(net)

    def loss(p):
        res = twin.simulate(topo, p, twin.init_state(topo, p, seed=net.seed), x)
        return jnp.sum(res.final_state.plastic[0].w ** 2)

    g = jax.grad(loss)(params)
    assert np.isfinite(np.asarray(g.conns[1].w)).all() and np.abs(g.conns[1].w).sum() > 0
    assert np.isfinite(float(g.pops[1].du)) and float(g.pops[1].du) != 0.0


def test_the_host_cannot_write_a_computed_third_factor():
    net = F.error_network()
    core = runtime.Core(net)
    n = core.n_neurons
    r = np.zeros(n, np.int64)
    r[F.ERR_CLASSES:] = 5  # err's own third factor is the host's: allowed
    core.set_third(r)
    r[1] = 3
    with pytest.raises(ValueError, match=r"at index \(1,\).*designated neurons compute"):
        core.set_third(r)
    raster = np.zeros((4, net.n_inputs), bool)
    third = np.zeros((4, n), np.int64)
    third[3, 2] = -1
    with pytest.raises(ValueError, match=r"third holds -1 at index \(3, 2\)"):
        core.run(raster, third=third)
    assert core.time == 0  # refused before any step
    with pytest.raises(ValueError, match=r"third holds -1 at index \(3, 2\)"):
        twin.simulate(net, inputs=raster, third=third)
    # the C runtime refuses on its own (EL_ERR_RANGE), writing nothing
    from edgelearn._el_runtime import ffi, lib
    buf = np.zeros(n, np.int8)
    buf[0] = 9
    assert lib.el_core_set_third(core._core, ffi.from_buffer("int8_t[]", buf)) == lib.EL_ERR_RANGE
    rows = np.zeros((2, n), np.int8)
    rows[1, 0] = 1
    assert lib.el_core_run_third(core._core, ffi.NULL if net.n_inputs == 0 else ffi.from_buffer(
        "uint8_t[]", np.zeros((2, net.n_inputs), np.uint8)), ffi.from_buffer("int8_t[]", rows),
        2, ffi.NULL, ffi.NULL, ffi.NULL) == lib.EL_ERR_RANGE
    assert core.time == 0
    third[3, 2] = 0
    third[:, F.ERR_CLASSES:] = -7
    core.run(raster, third=third)  # zeros where computed: accepted
    assert core.time == 4
    for bad in (np.zeros((4, n + 1)), np.zeros((3, n))):  # a shape error stays a shape error
        with pytest.raises(ValueError, match="shape"):
            twin.simulate(net, inputs=raster, third=bad)
        with pytest.raises(ValueError, match="shape"):
            core.run(raster, third=bad)


def test_self_and_chained_designations_through_reset_and_a_set_counter():
    """A population computing its own third factor, another computing it from a third
    population, both plastic; run, reset (spec 5.5: r back to 0), the step counter moved, run
    again: the twin and the C runtime agree on every spike, r and weight."""
    rng = np.random.default_rng(5)
    rule_text = "dw = 2^-7 * x1 * r\nt_epoch = 2\nx1.impulse = 800\nx1.decay = 500\n"
    pops = (Population("a", 4, du=600, dv=300, vth_mant=60, third_from="a", third_shift=0),
            Population("b", 5, du=900, dv=100, vth_mant=80, third_from="c", third_shift=3),
            Population("c", 5, du=300, vth_mant=(1 << 17) - 1))
    conns = (Connection(INPUT, "a", rng.integers(-60, 100, (4, 6)), rule=rule.parse(rule_text)),
             Connection(INPUT, "b", rng.integers(-40, 90, (5, 6)), rule=rule.parse(rule_text)),
             Connection(INPUT, "c", rng.integers(-90, 90, (5, 6))),
             Connection("b", "c", -30 * np.eye(5, dtype=np.int64)))
    net = Network(6, pops, conns, seed=11)
    x1, x2 = (rng.random((60, 6)) < 0.3 for _ in range(2))
    core = runtime.Core(net)
    s1 = core.run(x1).s
    r1 = core.third
    core.reset()
    assert not core.third.any()
    core.time = 1000
    s2 = core.run(x2).s
    tw1 = twin.simulate(net, inputs=x1)
    st = twin.reset_neurons(tw1.final_state)
    st = dataclasses.replace(st, t=jnp.asarray(1000, jnp.uint32))
    tw2 = twin.simulate(net, state=st, inputs=x2)
    np.testing.assert_array_equal(np.asarray(tw1.spikes, bool), s1)
    np.testing.assert_array_equal(np.asarray(tw2.spikes, bool), s2)
    np.testing.assert_array_equal(np.asarray(tw1.final_state.r).astype(np.int64), r1)
    np.testing.assert_array_equal(np.asarray(tw2.final_state.r).astype(np.int64), core.third)
    for k in (0, 1):
        np.testing.assert_array_equal(np.asarray(tw2.final_state.plastic[k].w).astype(np.int64),
                                      core.weights(k))
    assert r1[:4].min() == -128 or r1[:4].max() == 127  # shift 0: the clamp is reached
    assert s1.any() and s2.any() and not np.array_equal(core.weights(1), conns[1].weights)


def test_label_writers_refuse_a_readout_that_computes_its_third_factor():
    """The one-shot learners and meta-training write r_pos / r_neg from labels: a readout
    whose third factor its neurons compute cannot take them (the twin would have ignored them
    silently, the C runtime refused at the first write)."""
    from edgelearn import oneshot
    from metatrain.model import Protocol

    net = F.error_network()
    art = artifact.Artifact(net, artifact.InputMap(9, 3, 1), artifact.Readout(0, 64, -64, 30))
    for make in (oneshot.TwinLearner, oneshot.RuntimeLearner, Protocol.of_artifact):
        with pytest.raises(ValueError, match="readout population 'out' computes its third "
                                             "factor from 'err'"):
            make(art)


def test_the_network_checks_the_designation():
    out = Population("out", 3, third_from="err", third_shift=2)
    with pytest.raises(ValueError, match=r"out.third_from = 'err': no such population"):
        Network(2, (out,), ())
    with pytest.raises(ValueError, match=r"it has 4 neurons, out has 3"):
        Network(2, (out, Population("err", 4)), ())
    with pytest.raises(ValueError, match=r"third_shift = 24 is out of range \[0, 23\]"):
        Population("out", 3, third_from="err", third_shift=24)
    with pytest.raises(ValueError, match=r"third_shift = 3 needs third_from"):
        Population("out", 3, third_shift=3)
    with pytest.raises(ValueError, match=r"third_from must be None .* got 'input'"):
        Population("out", 3, third_from=INPUT)
    # a population may compute its own third factor from its own u
    own = Network(2, (Population("p", 3, third_from="p"),),
                  (Connection(INPUT, "p", np.ones((3, 2))),))
    assert own.computed_third().all()
    runtime.Core(own)


def test_the_artifact_carries_the_designation(tmp_path, capsys):
    net = F.error_network(shift=9)
    art = artifact.Artifact(net, None, artifact.Readout(0, 0, 0, F.STEPS))
    artifact.save(tmp_path / "err.elm", art)
    assert main(["inspect", str(tmp_path / "err.elm")]) == 0
    shown = capsys.readouterr().out
    assert "population out: 3 neurons" in shown and "third factor = clamp(u of err >> 9)" in shown
    assert shown.count("third factor") == 1
    back = artifact.from_bytes(artifact.to_bytes(art))
    out, err = back.network.populations
    assert (out.third_from, out.third_shift) == ("err", 9)
    assert (err.third_from, err.third_shift) == (None, 0)
    assert artifact.describe(net)["populations"][0]["third_from"] == "err"
    assert "third_from" not in artifact.describe(net)["populations"][1]
