"""State machines on the core: the spiking network equals the numpy sign dynamics, bit for bit,
on the C runtime and on the twin."""

import numpy as np
import pytest

from edgelearn import fsm, fsm_core, fsm_experiments, fsm_sim

EXAMPLE = fsm_experiments.demo_machine()


def reference(core, sched, start=None):
    """The numpy reference's z_tau o m_tau (tau = 0 .. T-1) and final state, same weights."""
    ref = fsm_sim.walk(core.fsm, sched, weights=fsm_sim.DenseWeights.from_int8(core.mant),
                       record=True, start=start)
    i0 = core.fsm.spec.states.index(start or core.fsm.spec.start)
    z = np.concatenate([core.fsm.states[i0][None], ref.trajectory[:-1]])
    return ref, z * ref.masks


@pytest.fixture(scope="module")
def demo():
    c = fsm.compile_fsm(EXAMPLE, 1000, seed=3)
    core = fsm_core.core_network(c)
    rng = np.random.default_rng(0)
    syms = fsm_experiments.random_symbols(EXAMPLE, 30, rng)
    sched = fsm_sim.random_schedule(syms, rng, rest=(1, 6))
    return core, sched


def test_layout(demo):
    core, _ = demo
    n = core.n
    net = core.network
    (pop,) = net.populations
    assert pop.size == 2 * n + 1 and pop.du == pop.dv == 4095 and pop.vth_mant == 0
    assert pop.bias_mant[:2 * n].tolist() == [32] * (2 * n) and pop.bias_mant[-1] == 4095
    rec, inp = net.connections
    w = rec.weights
    assert np.array_equal(w[:n, :n], core.mant) and np.array_equal(w[:n, n:2 * n], -core.mant)
    assert np.array_equal(w[n:2 * n, :n], -core.mant) and np.all(w[n:2 * n, 2 * n] == -2)
    assert np.all(w[2 * n] == 0) and np.all(w[:n, 2 * n] == 0)
    assert rec.mixed and rec.w_exp == core.w_exp < 0
    assert np.array_equal(rec.effective_weights(2 * n + 1, 2 * n + 1), w)  # even: mixed is a no-op
    assert net.n_inputs == 2 * 6 + 8
    masked = core.fsm.stim_a[0] <= 0
    assert np.array_equal(inp.weights[:n, core.axon_a[0]] == -128, masked)
    assert np.all(inp.weights[2 * n] == 0)


def test_hand_worked_sign_rule_with_ties():
    """h = 0 must give +1 (P spikes, M does not), h = -2 must give -1, exactly as sgn(0) = +1."""
    spec = fsm.FSMSpec.build("a", [("a", "x", "b")])
    c = fsm.compile_fsm(spec, 16, seed=0, check_capacity=False)
    xa = c.states[0].astype(np.int64)
    mant = np.zeros((16, 16), np.int8)  # row 0: h = 0
    mant[1, 2] = 2 * xa[2]  # h_1 = +2
    mant[2, 3] = -2 * xa[3]  # h_2 = -2
    mant[3, 4] = 126 * xa[4]  # h_3 = +126 ...
    mant[3, 5] = -124 * xa[5]  # ... - 124 = +2
    core = fsm_core.core_network(c, mant)
    sched = fsm_sim.Schedule.fixed(["x"], hold=0, release=0, rest=2, final_rest=0)
    raster = core.raster(sched)
    assert raster.shape == (4, 2 + 2) and raster[0, core.axon_cue[0]] and not raster[1:].any()
    from edgelearn import runtime

    s = runtime.simulate(core.network, raster, probe=False).s
    zm = fsm_core.decode_spikes(s, 16)
    assert np.array_equal(zm[1], xa)  # step 2: the cue
    assert zm[2, :4].tolist() == [1, 1, -1, 1]  # step 3: sgn(h) with sgn(0) = +1
    assert np.all(zm[2, 4:] == 1)  # h = 0 everywhere else
    assert s[2, 0] and not s[2, 16]  # P_0 spikes, M_0 does not
    assert s[:, -1].all()  # B spikes every step


def test_runtime_equals_numpy_reference(demo):
    core, sched = demo
    ref, want = reference(core, sched)
    run = fsm_core.run_on_core(core, sched)
    assert ref.correct and run.correct, run.errors
    assert np.array_equal(run.zm, want)
    assert np.array_equal(run.final, ref.final_state)
    assert run.decoded == run.expected == ref.expected
    assert run.decoded_output == ref.decoded_output == run.expected_output
    assert "chime" in run.decoded_output


def test_twin_equals_runtime(demo):
    core, sched = demo
    from edgelearn import runtime, twin

    k = 12  # the first 12 symbols: enough for every kind of edge, and quick on the twin
    sched = fsm_sim.Schedule(sched.symbols[:k], sched.hold[:k], sched.release[:k],
                             sched.rest[:k], 2)
    raster = core.raster(sched)
    c = runtime.simulate(core.network, raster, probe=True)
    t = twin.simulate(core.network, inputs=raster, probe=True)
    assert np.array_equal(np.asarray(t.spikes) > 0, c.s)
    assert np.array_equal(np.asarray(t.u).astype(np.int64), c.u)
    assert np.array_equal(np.asarray(t.v).astype(np.int64), c.v)
    # potentials stay below the residue limit, so dec(v, 4095) never reaches the half-step
    assert np.abs(c.v).max() < 32 * 4096


def test_start_state_and_masking_on_core(demo):
    core, _ = demo
    sched = fsm_sim.Schedule.fixed(["door", "door", "up", "alarm"], hold=30, release=30, rest=3)
    run = fsm_core.run_on_core(core, sched, start="floor3")
    assert run.correct, run.errors
    assert run.decoded == ("floor3_open", "floor3", "floor3", "halted")
    assert run.decoded_output == ("chime", None, None, "siren")
    _, want = reference(core, sched, start="floor3")
    assert np.array_equal(run.zm, want)


def test_sparse_layout_same_spikes(demo):
    core, sched = demo
    sp = fsm_core.core_network(core.fsm, core.mant, sparse=True)
    rec = sp.network.connections[0]
    assert rec.sparse and np.array_equal(rec.dense_weights(2001, 2001),
                                         core.network.connections[0].weights)
    a = fsm_core.run_on_core(core, sched)
    b = fsm_core.run_on_core(sp, sched)
    assert b.correct and np.array_equal(a.spikes, b.spikes)


def test_sparsified_weights_on_core_match_reference():
    """98 % zero ternary weights (as 2 * sgn, even) in CSR form: spikes == numpy reference."""
    rng = np.random.default_rng(4)
    c = fsm.compile_fsm(EXAMPLE, 1000, seed=rng)
    mant = (2 * fsm.sparsify(c.dense(), 0.98, rng)).astype(np.int8)
    core = fsm_core.core_network(c, mant, sparse=True)
    assert core.network.connections[0].weights.size == 4 * np.count_nonzero(mant) + 1000
    sched = fsm_sim.random_schedule(["up", "up", "door", "down"], rng, rest=(1, 3))
    run = fsm_core.run_on_core(core, sched)
    _, want = reference(core, sched)
    assert np.array_equal(run.zm, want)  # exact, whether or not N = 1,000 suffices to walk


def test_noisy_binary_weights_on_core_match_reference():
    """sgn(W) + 2 N(0,1) digitised to even mantissas: the C runtime equals numpy, and at
    N = 4,000 (where the float version walks) the walk is correct."""
    rng = np.random.default_rng(5)
    c = fsm.compile_fsm(EXAMPLE, 4000, seed=rng)
    mant = fsm_experiments.core_mantissas("binary_sigma2", c, rng)
    assert mant.dtype == np.int8 and not np.any(mant & 1) and np.abs(mant).max() <= 126
    core = fsm_core.core_network(c, mant)
    syms = fsm_experiments.random_symbols(EXAMPLE, 20, rng)
    sched = fsm_sim.random_schedule(syms, rng, rest=(1, 4))
    run = fsm_core.run_on_core(core, sched)
    _, want = reference(core, sched)
    assert np.array_equal(run.zm, want)
    assert run.correct, run.errors[:2]


def test_core_schedule_must_start_at_rest(demo):
    core, _ = demo
    with pytest.raises(ValueError, match="rest"):
        core.raster(fsm_sim.Schedule.fixed(["up"], rest=0))
    with pytest.raises(KeyError, match="unknown start"):
        core.raster(fsm_sim.Schedule.fixed(["up"]), start="nowhere")


def test_core_network_rejects_bad_mantissas():
    c = fsm.compile_fsm(EXAMPLE, 1000, seed=1)
    odd, _ = fsm.quantize_int8(c.dense())
    odd = odd.copy()
    odd[0, 1] = 3
    with pytest.raises(ValueError, match="even mantissas"):
        fsm_core.core_network(c, odd)
    neg = np.zeros((1000, 1000), np.int8)
    neg[0, 1] = -128
    with pytest.raises(ValueError, match="-128"):
        fsm_core.core_network(c, neg)


def test_events_to_schedule():
    ev = [(20_000, 60_000, "up"), (0, 5_000, "up"), (70_000, 71_000, "door")]
    s = fsm_core.events_to_schedule(ev, step=1000)
    assert s.symbols == ("up", "up", "door")
    assert s.hold == (5, 40, 2)  # the 1 ms press is held for the 2-step minimum
    assert s.rest == (1, 10, 6) and s.release == (4, 4, 4)
    with pytest.raises(ValueError, match="before the previous"):
        fsm_core.events_to_schedule([(0, 10_000, "up"), (12_000, 13_000, "up")], step=1000)


def test_event_driven_holds_of_any_length_on_core(demo):
    core, _ = demo
    # the same symbols pressed briefly or for a long time give the same walk: no skipping
    short = fsm_core.events_to_schedule([(0, 2e3, "up"), (10e3, 12e3, "up")], step=1e3)
    long = fsm_core.events_to_schedule([(0, 80e3, "up"), (100e3, 190e3, "up")], step=1e3)
    for sched in (short, long):
        run = fsm_core.run_on_core(core, sched)
        assert run.correct and run.decoded == ("floor1", "floor2"), run.errors


@pytest.mark.slow
def test_paper_demo_n10000_on_c_runtime():
    """N = 10,000, 8 states, 16 transitions, 100 random symbols with random holds, 8-bit
    (even) weights, on the C runtime: the walk is correct when decoded from the spikes."""
    rng = np.random.default_rng(0)
    c = fsm.compile_fsm(EXAMPLE, 10_000, seed=rng)
    core = fsm_core.core_network(c)
    syms = fsm_experiments.random_symbols(EXAMPLE, 100, rng)
    sched = fsm_sim.random_schedule(syms, rng, hold=(2, 6), release=(2, 6), rest=(1, 3))
    run = fsm_core.run_on_core(core, sched)
    assert run.correct, run.errors[:3]
    assert len(run.decoded) == 100 and run.decoded == run.expected
