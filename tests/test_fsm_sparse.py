"""The sparse binary variant of the attractor state machines (top-k dynamics)."""

import numpy as np
import pytest

from edgelearn import fsm, fsm_experiments, fsm_sim, fsm_sparse

EXAMPLE = fsm_experiments.demo_machine()
WALK = ["up", "up", "up", "up", "door", "door", "alarm", "key", "reset", "key", "door", "door",
        "down", "up", "down", "down"]


def test_topk_exact_with_ties():
    h = np.array([3.0, 1.0, 3.0, 2.0, 3.0])
    assert fsm_sparse.topk(h, 2).tolist() == [1, 0, 1, 0, 0]  # ties: lower index first
    assert fsm_sparse.topk(h, 4).tolist() == [1, 0, 1, 1, 1]


def test_compile_sparse_codes():
    sf = fsm_sparse.compile_sparse_fsm(EXAMPLE, 1000, f=0.05, seed=0)
    assert sf.k == 50 and sf.states.sum(axis=1).tolist() == [50] * 8
    assert sf.edges.shape == (16, 1000) and set(np.unique(sf.stim_a).tolist()) == {-1, 1}
    u, v = sf.factors()
    assert u.shape == (1000, 8 + 3 * 16)
    with pytest.raises(ValueError, match="coding level"):
        fsm_sparse.compile_sparse_fsm(EXAMPLE, 1000, f=0.7)


def test_sparse_walk_example():
    sf = fsm_sparse.compile_sparse_fsm(EXAMPLE, 2000, f=0.05, seed=1)
    ok, decoded, errors = fsm_sparse.sparse_walk(sf, WALK)
    assert ok, errors
    assert decoded == EXAMPLE.run(WALK)


def test_sparse_hold_never_skips():
    sf = fsm_sparse.compile_sparse_fsm(EXAMPLE, 2000, f=0.05, seed=2)
    ok, decoded, _ = fsm_sparse.sparse_walk(
        sf, fsm_sim.Schedule.fixed(["up", "door", "door"], hold=40, release=40, rest=3),
        start="floor2")
    assert ok and decoded == ["floor3", "floor3_open", "floor3"]


def test_sparse_beats_dense_capacity_at_same_n():
    """At N = 2,000 a machine of 60 states and 60 edges is beyond the dense network's
    measured capacity (about 46) but walks in the sparse variant (f = 0.05; capacity about 150)."""
    rng = np.random.default_rng(0)
    spec = fsm_experiments.random_machine(60, 60, rng)
    start = spec.states[3]
    syms = fsm_experiments.random_symbols(spec, 6, rng, valid_fraction=1.0, start=start)
    sched = fsm_sim.Schedule.fixed(syms, hold=10, release=10, rest=10)
    dense = fsm.compile_fsm(spec, 2000, seed=1, check_capacity=False)
    assert not fsm_sim.walk(dense, sched, start=start).correct
    sf = fsm_sparse.compile_sparse_fsm(spec, 2000, f=0.05, seed=1)
    ok, _, errors = fsm_sparse.sparse_walk(sf, sched, start=start)
    assert ok, errors
