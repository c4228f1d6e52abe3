"""State machines in attractor networks: parsing, compiling, dynamics, robustness, CLI."""

import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgelearn import fsm, fsm_experiments, fsm_sim
from edgelearn.cli import main as cli_main
from edgelearn.fsm import Transition

EXAMPLE = fsm_experiments.demo_machine()


def write(tmp_path, text, name="m.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


# --------------------------------------------------------------------------- parsing


def test_example_machine_inferred_names():
    assert EXAMPLE.start == "ground"
    assert len(EXAMPLE.states) == 8 and len(EXAMPLE.transitions) == 16
    assert EXAMPLE.states[:4] == ("ground", "floor1", "floor2", "floor3")
    assert EXAMPLE.symbols == ("up", "down", "door", "alarm", "key", "reset")
    assert EXAMPLE.outputs == ("chime", "siren")


def test_reference_semantics():
    run = EXAMPLE.run(["up", "up", "key", "up", "up", "door", "door", "down"])
    assert run == ["floor1", "floor2", "floor2", "floor3", "floor3", "floor3_open", "floor3",
                   "floor2"]
    assert EXAMPLE.next_state("ground", "reset") == "ground"  # no edge: stay
    assert EXAMPLE.edge("ground", "reset") is None


def test_minimal_toml(tmp_path):
    p = write(tmp_path, """
        start = "idle"
        transitions = [
          { from = "idle", input = "go", to = "run" },
          { from = "run", input = "stop", to = "idle", output = "halted" },
          { from = "run", input = "go", to = "run" },
        ]
    """)
    spec = fsm.load_fsm(p)
    assert spec.states == ("idle", "run") and spec.symbols == ("go", "stop")
    assert spec.transitions[1] == Transition("run", "stop", "idle", "halted")
    assert fsm.fsm_from_dict(spec.to_dict()) == spec  # round trip


@pytest.mark.parametrize("body, message", [
    ('start = "a"\ntransitions = []\nfoo = 1',
     r"m.toml: unknown field 'foo' \(allowed: start, states, transitions\)"),
    ('transitions = [{ from = "a", input = "x", to = "b" }]', r"m.toml: missing field 'start'"),
    ('start = "a"', r"m.toml: missing field 'transitions'"),
    ('start = "a"\ntransitions = [{ from = "a", input = "x", to = "b", weight = 2 }]',
     r"m.toml: transitions\[0\]: unknown field 'weight' \(allowed: from, input, to, output\)"),
    ('start = "a"\ntransitions = [{ from = "a", to = "b" }]',
     r"m.toml: transitions\[0\]: missing field 'input'"),
    ('start = "a"\ntransitions = [{ from = "a", input = "x", to = "b" },\n'
     '{ from = "b", input = "y", to = "a" },\n{ from = "a", input = "x", to = "b" }]',
     r"m.toml: duplicate edge a --x--> b \(transitions\[0\] and transitions\[2\]\)"),
    ('start = "a"\ntransitions = [{ from = "a", input = "x", to = "b" },\n'
     '{ from = "a", input = "x", to = "c" }]',
     r"m.toml: non-deterministic edges from 'a' on 'x': transitions\[0\] goes to 'b', "
     r"transitions\[1\] to 'c'"),
    ('start = "z"\ntransitions = [{ from = "a", input = "x", to = "b" }]',
     r"m.toml: start state 'z' appears in no transition"),
    ('start = "a"\ntransitions = [{ from = "a", input = "x y", to = "b" }]',
     r"m.toml: transitions\[0\].input: 'x y' is not a valid name"),
    ('start = "a\\n"\ntransitions = [{ from = "a\\n", input = "x", to = "a" }]',
     r"m.toml: start: 'a\\n' is not a valid name"),  # a trailing newline is not a name
    ('start = "a"\ntransitions = [{ from = "a", input = 3, to = "b" }]',
     r"m.toml: transitions\[0\].input: expected a string, got int 3"),
    ('start = "a"\nstates = ["a"]\ntransitions = [{ from = "a", input = "x", to = "b" }]',
     r"m.toml: transitions\[0\].to: state 'b' is not declared in states"),
    ('start = "a"\ntransitions = [{ from = "a", input = "x", to = "b" }',
     r"m.toml: invalid TOML"),
])
def test_parse_errors_name_file_field_and_edge(tmp_path, body, message):
    p = write(tmp_path, body)
    with pytest.raises(ValueError, match=message):
        fsm.load_fsm(p)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="nope.toml: cannot read"):
        fsm.load_fsm(tmp_path / "nope.toml")


def test_declared_isolated_state(tmp_path):
    p = write(tmp_path, """
        start = "off"
        states = ["off", "a", "b"]
        transitions = [{ from = "a", input = "x", to = "b" }]
    """)
    spec = fsm.load_fsm(p)
    assert spec.states == ("off", "a", "b")
    assert spec.run(["x"]) == ["off"]


# --------------------------------------------------------------------------- compiling


def test_machine_too_large_for_n():
    with pytest.raises(ValueError, match=r"machine too large for N = 400: 8 states \+ 2.2 x 16 "
                                         r"transitions = 43.2 >= 0.1 x N = 40 .* use N >= 433"):
        fsm.compile_fsm(EXAMPLE, 400)
    fsm.compile_fsm(EXAMPLE, 400, check_capacity=False)  # allowed when asked
    assert fsm.max_states_for(10_000) == 312  # C + 2.2 C < 1000


def test_capacity_bound_is_exact():
    # in floats 14 + 2.2 * 1 < 0.1 * 162 was False (16.200000000000003 >= 16.2): N = 162 was
    # refused while the message said "use N >= 162"; the bound is now in exact rationals
    m = fsm.FSMSpec.build("s0", [Transition("s0", "x", "s1")],
                               states=[f"s{i}" for i in range(14)])
    with pytest.raises(ValueError, match="use N >= 163"):
        fsm._check_capacity(m, 162, "m")
    fsm._check_capacity(m, 163, "m")
    # max_states_for: C states and C edges fit, C + 1 do not (it was one too high at N = 96)
    for n in (96, 192, 384, 736, 1000, 4000):
        c = fsm.max_states_for(n)
        assert c + 2.2 * c < 0.1 * n + 1e-9 and not (c + 1) * 32 < n


def test_compile_shapes_and_integer_weights():
    c = fsm.compile_fsm(EXAMPLE, 1000, seed=3)
    assert c.states.shape == (8, 1000) and c.edges.shape == (16, 1000)
    assert c.stim_a.shape == (6, 1000) and c.outputs.shape == (2, 1000)
    assert np.count_nonzero(c.outputs, axis=1).tolist() == [100, 100]  # at least 100
    assert fsm.compile_fsm(EXAMPLE, 10_000, seed=0).outputs[0].nonzero()[0].size == 200
    w = c.dense()
    assert np.all(np.diag(w) == 0)
    assert np.array_equal(w, np.round(w))  # integer-valued N W
    assert np.abs(w).max() <= 8 + 16 + 4 * 16  # N_Z + N_E + 4 N_E
    u, v, d = c.factors()
    assert u.shape == (1000, c.rank) and c.rank == 8 + 3 * 16
    x = np.random.default_rng(0).standard_normal(1000)
    lr = fsm_sim.LowRankWeights(u, v, d)
    assert np.allclose(lr.matvec(x), w.astype(np.float64) @ x)
    assert np.array_equal(fsm.compile_fsm(EXAMPLE, 1000, seed=3).dense(), w)  # seeded
    assert not np.array_equal(fsm.compile_fsm(EXAMPLE, 1000, seed=4).dense(), w)
    assert np.array_equal(c.dense(transposed=True), w.T)


def test_edge_term_matches_the_paper_formula():
    spec = fsm.FSMSpec.build("a", [("a", "x", "b")])
    c = fsm.compile_fsm(spec, 64, seed=0, check_capacity=False)
    xa, xb = c.states.astype(float)
    e = c.edges[0].astype(float)
    sa, sb = c.stim_a[0].astype(float), c.stim_b[0].astype(float)
    h = lambda s: (s > 0).astype(float)  # noqa: E731
    want = (np.outer(xa, xa) + np.outer(xb, xb) + np.outer(e, e)
            + np.outer(h(sa) * (e - xa), xa * sa) + np.outer(h(sb) * (xb - e), e * sb))
    np.fill_diagonal(want, 0)
    assert np.array_equal(c.dense(), want)


def test_quantize_int8_exact_small():
    w = np.array([[0.0, 300.0], [-255.0, 1.0]])
    mant, exp = fsm.quantize_int8(w)
    assert exp == 2 and mant.tolist() == [[0, 75], [-64, 0]]  # -63.75 -> -64, 0.25 -> 0
    mant, exp = fsm.quantize_int8(w, even=True)
    assert exp == 2 and mant.tolist() == [[0, 76], [-64, 0]]  # 37.5 -> 38 -> 76
    small = np.array([[0.0, -88.0], [127.0, 5.0]], np.float32)
    mant, exp = fsm.quantize_int8(small)
    assert exp == 0 and mant.tolist() == [[0, -88], [127, 5]]


def test_binarize_noise_sparsify():
    w = np.array([[0.0, -2.0], [3.0, -0.5]])
    assert fsm.binarize(w).tolist() == [[1.0, -1.0], [1.0, -1.0]]  # sgn(0) = +1
    big = np.arange(-500, 500, dtype=np.float32).reshape(10, 100)
    noisy = fsm.add_weight_noise(np.zeros((400, 400)), 2.0, np.random.default_rng(0))
    assert abs(noisy.std() - 2.0) < 0.02 and noisy.dtype == np.float32
    s = fsm.sparsify(big, 0.98, np.random.default_rng(0))
    assert np.count_nonzero(s) == 20
    assert set(big[s != 0].tolist()) == {-500, -499, -498, -497, -496, -495, -494, -493, -492,
                                         -491, 490, 491, 492, 493, 494, 495, 496, 497, 498, 499}
    assert np.array_equal(np.sign(big[s != 0]), s[s != 0])
    ties = fsm.sparsify(np.ones((50, 50)), 0.9, np.random.default_rng(1))
    assert np.count_nonzero(ties) == 250  # ties at the threshold broken at random, exact count


# --------------------------------------------------------------------------- dynamics


@pytest.fixture(scope="module")
def small():
    return fsm.compile_fsm(EXAMPLE, 2000, seed=11)


WALK = ["up", "up", "up", "up", "door", "door", "alarm", "key", "reset", "key", "door", "door",
        "down", "up", "down", "down"]


def test_walk_ideal_states_outputs(small):
    r = fsm_sim.walk(small, WALK)
    assert r.correct, r.errors
    assert list(r.decoded) == EXAMPLE.run(WALK)
    assert r.decoded_output[4] == "chime" and r.decoded_output[6] == "siren"
    assert r.decoded_output[5] is None
    assert r.overlaps_states.shape == (fsm_sim.Schedule.fixed(WALK).n_steps, 8)
    assert r.min_margin() > 0.99


def test_dense_int8_and_low_rank_agree_exactly(small):
    mant, exp = fsm.quantize_int8(small.dense())
    assert exp == 0
    sched = fsm_sim.random_schedule(WALK, np.random.default_rng(0))
    a = fsm_sim.walk(small, sched)
    b = fsm_sim.walk(small, sched, weights=fsm_sim.DenseWeights.from_int8(mant, exp))
    assert a.correct and b.correct
    assert np.array_equal(a.overlaps_states, b.overlaps_states)
    assert np.array_equal(a.final_state, b.final_state)


def test_incremental_equals_full_recompute(small):
    sched = fsm_sim.random_schedule(WALK, np.random.default_rng(1))
    a = fsm_sim.walk(small, sched, recompute_fraction=0.0)  # every step in full
    b = fsm_sim.walk(small, sched, recompute_fraction=1.0)  # always incremental
    assert np.array_equal(a.overlaps_edges, b.overlaps_edges)
    assert b.stats["full_matvecs"] == 1


def test_one_step_by_hand():
    """From x under s_a, one synchronous step gives e on unmasked neurons, x on masked ones."""
    spec = fsm.FSMSpec.build("a", [("a", "x", "b")])
    c = fsm.compile_fsm(spec, 4000, seed=5, check_capacity=False)
    w = fsm_sim.LowRankWeights.ideal(c)
    xa, e = c.states[0], c.edges[0]
    m = c.mask("x", "a")
    z1 = fsm_sim.sign(w.matvec(xa * m))
    assert np.array_equal(z1[m == 1], e[m == 1])
    assert np.mean(z1[m == 0] == xa[m == 0]) > 0.99
    z2 = fsm_sim.sign(w.matvec(z1 * m))
    assert np.mean(z2 == e) > 0.99


@pytest.mark.parametrize("hold", [2, 3, 50])
def test_holding_a_symbol_never_skips(small, hold):
    """'up' from ground, held for any time: exactly one move (ground -> floor1), never floor2."""
    sched = fsm_sim.Schedule.fixed(["up"], hold=hold, release=hold, rest=1)
    r = fsm_sim.walk(small, sched)
    assert r.correct and r.decoded == ("floor1",)
    floor2 = EXAMPLE.states.index("floor2")
    assert r.overlaps_states[:, floor2].max() < 0.2


def test_bidirectional_edge_does_not_oscillate(small):
    sched = fsm_sim.Schedule.fixed(["door"] * 3, hold=40, release=40, rest=5)
    r = fsm_sim.walk(small, sched)
    assert r.correct and r.decoded == ("ground_open", "ground", "ground_open")
    # during each hold the network sits in the edge state, then in one node per release
    i_open = EXAMPLE.states.index("ground_open")
    first_release = (r.phase == 2) & (r.step_symbol == 0)
    assert np.all(r.overlaps_states[first_release][1:, i_open] > 0.99)


def test_ignored_symbol_leaves_state(small):
    r = fsm_sim.walk(small, fsm_sim.Schedule.fixed(["key", "reset", "alarm"], hold=10))
    assert r.correct and r.decoded == ("ground", "ground", "ground")
    assert r.overlaps_states[:, 0].min() > 0.99  # never left 'ground'
    # a self-loop, by contrast, passes through its edge state and comes back
    loop = fsm_sim.walk(small, fsm_sim.Schedule.fixed(["down"], hold=10))
    assert loop.correct and loop.decoded == ("ground",)
    k = EXAMPLE.edge("ground", "down")
    assert loop.overlaps_edges[:, k].max() > 0.99 and loop.overlaps_states[:, 0].min() < 0.1


def test_asynchronous_updates_small(small):
    rng = np.random.default_rng(2)
    sched = fsm_sim.random_schedule(WALK[:8], rng, hold=(40, 60), release=(40, 60),
                                    rest=(0, 10), final_rest=20)
    r = fsm_sim.walk(small, sched, update_prob=0.1, rng=rng)
    assert r.correct, r.errors
    with pytest.raises(ValueError, match="explicit rng"):
        fsm_sim.walk(small, WALK, update_prob=0.5)


def test_asynchronous_input_small(small):
    """Each neuron switches to a new input after its own delay of 0..5 steps (paper app. C)."""
    rng = np.random.default_rng(3)
    sched = fsm_sim.Schedule.fixed(WALK, hold=8, release=8, rest=8)
    r = fsm_sim.walk(small, sched, rng=rng, input_jitter=5, record=True)
    assert r.correct, r.errors
    assert 0 < r.masks[sched.rest[0]].sum() < 2000  # partly switched on the first input step
    with pytest.raises(ValueError, match="explicit rng"):
        fsm_sim.walk(small, WALK, input_jitter=2)


def test_biased_stimuli_mask_fewer_neurons():
    """f_s = 0.75 (a quarter of the neurons masked, negative components -3; appendix E)."""
    c = fsm.compile_fsm(EXAMPLE, 2000, seed=1, f_s=0.75)
    assert np.mean(c.stim_a > 0) == pytest.approx(0.75, abs=0.02)
    assert set(np.unique(c.stim_a).tolist()) == {-3.0, 1.0}
    r = fsm_sim.walk(c, fsm_sim.random_schedule(WALK, np.random.default_rng(1)))
    assert r.correct, r.errors


def test_walk_errors(small):
    with pytest.raises(KeyError, match="unknown symbol 'fly'"):
        fsm_sim.walk(small, ["up", "fly"])
    with pytest.raises(ValueError, match="update_prob"):
        fsm_sim.walk(small, ["up"], update_prob=0.0)


def test_walk_detects_a_broken_network(small):
    """The checker is not vacuous: a machine compiled with other vectors fails the walk."""
    other = fsm.compile_fsm(EXAMPLE, 2000, seed=12)
    mant, exp = fsm.quantize_int8(other.dense())
    r = fsm_sim.walk(small, WALK[:3], weights=fsm_sim.DenseWeights.from_int8(mant, exp))
    assert not r.correct and r.first_error == 0


def test_npz_round_trip(tmp_path, small):
    mant, exp = fsm.quantize_int8(small.dense())
    fsm.save_npz(tmp_path / "m.npz", small, mant, exp)
    c2, m2, e2 = fsm.load_npz(tmp_path / "m.npz")
    assert c2.spec == small.spec and e2 == exp and np.array_equal(m2, mant)
    assert np.array_equal(c2.edge_out, small.edge_out) and c2.seed == 11
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad.npz: not a readable .npz"):
        fsm.load_npz(tmp_path / "bad.npz")


# --------------------------------------------------------------------------- the paper's cases


def test_binary_weights_with_noise_sigma2_small_n():
    r = fsm_experiments.robustness_case("binary_sigma2", n=4000, n_inputs=40, seed=1)
    assert r.correct, r.walk.errors


def test_async_case_small_n():
    r = fsm_experiments.robustness_case("async_p0.1", n=2000, n_inputs=30, seed=1)
    assert r.correct, r.walk.errors


def test_paper_demo_int8_100_symbols():
    """The paper's demonstration with 8-bit weights (lossless: max |N W| <= 88): 8 states, 16
    transitions, 100 random symbols with random hold times. N = 2,000 here to keep the suite
    fast; N = 10,000 runs on the C runtime in test_fsm_core.py and in tests/bench/bench_fsm.py."""
    r = fsm_experiments.robustness_case("int8", n=2000, n_inputs=100, seed=0)
    assert r.weight_info["exact"] and r.weight_info["w_exp"] == 0
    assert r.correct, r.walk.errors
    assert len(r.walk.symbols) >= 100 and r.walk.min_margin() > 0.99


def test_int8_is_lossless():
    """max |N W| <= N_Z + N_E + 4 N_E = 88 whatever N is, so 8 bits hold the demo exactly."""
    c = fsm.compile_fsm(EXAMPLE, 3000, seed=0)
    w = c.dense()
    mant, exp = fsm.quantize_int8(w)
    assert exp == 0 and np.abs(w).max() <= 88 and np.array_equal(mant, w.astype(np.int8))
    even, exp2 = fsm.quantize_int8(w, even=True)  # N_Z + N_E = 24 is even: every entry is even
    assert exp2 == 0 and np.array_equal(even, mant)


def test_random_machine_deterministic_and_valid():
    rng = np.random.default_rng(0)
    m = fsm_experiments.random_machine(10, 25, rng, n_symbols=4)
    assert len(m.states) == 10 and len(m.transitions) == 25
    m2 = fsm_experiments.random_machine(10, 25, np.random.default_rng(0), n_symbols=4)
    assert m == m2
    u = fsm_experiments.random_machine(5, 5, rng)
    assert [t.symbol for t in u.transitions] == ["s0", "s1", "s2", "s3", "s4"]


def test_capacity_small_n_below_bound():
    row = fsm_experiments.capacity_at(500, trials=3)
    assert 5 <= row.capacity <= row.bound == fsm.max_states_for(500)


# --------------------------------------------------------------------------- CLI


def test_cli_compile_and_run(tmp_path, capsys):
    out = tmp_path / "lift.npz"
    toml = str(fsm_experiments.resources.files("edgelearn") / "data" / "fsm_example.toml")
    assert cli_main(["fsm", "compile", toml, "-o", str(out), "-n", "1000"]) == 0
    assert "8 states, 16 transitions" in capsys.readouterr().out
    assert cli_main(["fsm", "run", str(out), "--symbols", "up,up,key,door"]) == 0
    text = capsys.readouterr().out
    assert "up       ground -> floor1" in text and "key      floor2 == floor2" in text
    assert "walk correct" in text
    assert cli_main(["fsm", "run", toml, "-n", "1000", "--symbols", "door",
                     "--overlaps"]) == 0
    assert "[chime]" in capsys.readouterr().out


def test_cli_run_on_the_c_runtime(tmp_path, capsys):
    out = tmp_path / "lift.npz"
    toml = str(fsm_experiments.resources.files("edgelearn") / "data" / "fsm_example.toml")
    assert cli_main(["fsm", "compile", toml, "-o", str(out), "-n", "1000"]) == 0
    capsys.readouterr()
    assert cli_main(["fsm", "run", str(out), "--symbols", "up,door,up,up,door",
                     "--engine", "runtime"]) == 0
    text = capsys.readouterr().out
    assert "runtime: 2001 compartments" in text and "door     floor3 -> floor3_open" in text
    assert cli_main(["fsm", "run", str(out), "--symbols", "up", "--engine", "runtime",
                     "--rest", "0"]) == 2
    assert "--rest >= 1" in capsys.readouterr().err


def test_cli_errors_one_line_exit_2(tmp_path, capsys):
    bad = write(tmp_path, 'start = "a"\ntransitions = [{ from = "a", input = "x", to = "b" },\n'
                          '{ from = "a", input = "x", to = "c" }]')
    assert cli_main(["fsm", "compile", str(bad), "-o", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "non-deterministic edges from 'a' on 'x'" in err
    assert cli_main(["fsm", "run", str(tmp_path / "none.npz"), "--symbols", "x"]) == 2
    assert "no such file" in capsys.readouterr().err
    ok = write(tmp_path, 'start = "a"\ntransitions = [{ from = "a", input = "x", to = "b" }]',
               "ok.toml")
    assert cli_main(["fsm", "run", str(ok), "--symbols", "x,y"]) == 2
    assert "unknown symbol 'y'" in capsys.readouterr().err


def test_demo_fsm_from_gesture_recordings(tmp_path, capsys):
    report = tmp_path / "fsm.json"
    assert cli_main(["demo", "fsm", "--symbols", "3", "-n", "1000", "--report",
                     str(report)]) == 0
    out = capsys.readouterr().out
    assert "walk correct" in out and "runtime: N = 1000" in out
    import json

    data = json.loads(report.read_text())
    assert data["correct"] and len(data["symbols"]) == 3
    assert all(s["events"] > 0 and s["t_off_s"] > s["t_on_s"] for s in data["symbols"])
    assert report.with_suffix(".png").stat().st_size > 10_000


def test_cli_compiles_an_elm_artifact_that_runs_on_the_core(tmp_path, capsys):
    from edgelearn.cli import main

    example = Path(__file__).resolve().parents[1] / "edgelearn" / "data" / "fsm_example.toml"
    out = tmp_path / "fsm.elm"
    assert main(["fsm", "compile", str(example), "-o", str(out), "-n", "1000"]) == 0
    assert main(["inspect", str(out)]) == 0
    assert "kind: fsm" in capsys.readouterr().out
    assert main(["fsm", "run", str(out), "--symbols", "up,up,down", "--engine", "runtime"]) == 0
    assert "walk correct" in capsys.readouterr().out
    bad = bytearray(out.read_bytes())
    bad[-3] ^= 1
    (tmp_path / "bad.elm").write_bytes(bytes(bad))
    assert main(["fsm", "run", str(tmp_path / "bad.elm"), "--symbols", "up"]) == 2
    assert "checksum" in capsys.readouterr().err
