"""The experiments of Cotteret et al. (Neural Computation 2024), reproduced in numpy.

Functions shared by the tests (small ``N``) and by the benchmark scripts (the paper's sizes):

- :func:`robustness_case`: the paper's demonstration (``N = 10,000``, 8 states, 16 transitions,
  a random input sequence of at least 100 symbols with random hold times) under one of the
  weight/update conditions in :data:`CASES`: ideal, 8-bit, 1-bit + Gaussian noise (sigma 2 and 5),
  98 % zero weights, asynchronous updates (p = 0.1).
- :func:`capacity_study`: for each ``N``, the largest machine (``C`` states, ``C`` edges, one unique
  symbol per edge: the paper's worst case) that walks correctly, next to the dense bound
  ``N_Z + 2.2 N_E < 0.10 N``.

The machine of the demonstration is :func:`demo_machine` (``edgelearn/data/fsm_example.toml``:
8 states, 16 transitions with self-loops, bidirectional and state-dependent edges, and outputs).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from importlib import resources

import numpy as np

from . import fsm as _fsm
from .fsm import CompiledFSM, FSMSpec, Transition
from .fsm_sim import DenseWeights, LowRankWeights, Schedule, WalkResult, random_schedule, walk

__all__ = [
    "CASES",
    "CapacityRow",
    "CaseResult",
    "capacity_at",
    "capacity_study",
    "core_mantissas",
    "demo_machine",
    "random_machine",
    "random_symbols",
    "robustness_case",
    "valid_walk",
]

#: name -> description of the weight/update condition.
CASES = {
    "ideal": "ideal weights N W (exact, low rank), synchronous",
    "int8": "8-bit signed mantissas with a power-of-two scale, synchronous",
    "int8_even": "8-bit mantissas restricted to even values (the core's mixed-sign mode), sync",
    "binary_sigma2": "1-bit weights sgn(W) + Gaussian noise sigma = 2 (0 dB), synchronous",
    "binary_sigma5": "1-bit weights sgn(W) + Gaussian noise sigma = 5 (-0.8 dB), synchronous",
    "sparse98": "ternary weights, 98 % zeros (largest |W| kept), synchronous",
    "async_p0.1": "ideal weights, each neuron updates with probability 0.1 per step",
    "async_input20": "ideal weights, each neuron sees every input change after its own random "
                     "delay of 0 to 20 steps (asynchronous input), synchronous updates",
}


def demo_machine() -> FSMSpec:
    """The shipped example machine (8 states, 16 transitions, 6 symbols, 2 outputs)."""
    ref = resources.files("edgelearn") / "data" / "fsm_example.toml"
    with resources.as_file(ref) as path:
        return _fsm.load_fsm(path)


def random_machine(n_states: int, n_edges: int, rng: np.random.Generator, *,
                   n_symbols: int | None = None) -> FSMSpec:
    """A random deterministic machine: a ring ``q0 -> q1 -> ... -> q0`` plus random extra edges.

    With ``n_symbols=None`` every edge gets its own symbol (the paper's worst case for capacity);
    otherwise symbols are drawn from ``n_symbols`` so that no state has two edges on one symbol.
    Self-loops may occur among the extra edges.
    """
    if n_states < 1 or n_edges < n_states:
        raise ValueError(f"need n_states >= 1 and n_edges >= n_states, got {n_states}, {n_edges}")
    if n_symbols is not None and n_edges > n_states * n_symbols:
        raise ValueError(f"{n_edges} edges cannot be deterministic with {n_states} states and "
                         f"{n_symbols} symbols")
    states = [f"q{i}" for i in range(n_states)]
    pairs = [(i, (i + 1) % n_states) for i in range(n_states)]
    used = set(pairs)
    while len(pairs) < n_edges:
        a, b = (int(x) for x in rng.integers(0, n_states, size=2))
        if n_symbols is None and (a, b) in used:
            continue
        pairs.append((a, b))
        used.add((a, b))
    edges = []
    taken: dict[int, set[int]] = {i: set() for i in range(n_states)}
    for k, (a, b) in enumerate(pairs):
        if n_symbols is None:
            sym = f"s{k}"
        else:
            free = [s for s in range(n_symbols) if s not in taken[a]]
            if not free:  # this source is full: retarget the edge from another state
                return random_machine(n_states, n_edges, rng, n_symbols=n_symbols)
            s = int(rng.choice(free))
            taken[a].add(s)
            sym = f"s{s}"
        edges.append(Transition(states[a], sym, states[b]))
    return FSMSpec.build(states[0], edges, states=states, where="random machine")


def random_symbols(spec: FSMSpec, count: int, rng: np.random.Generator, *,
                   valid_fraction: float = 0.75, start: str | None = None) -> list[str]:
    """``count`` input symbols: with probability ``valid_fraction`` one with an edge from the
    current (reference) state, otherwise any symbol of the machine (often one that is ignored)."""
    state = spec.start if start is None else start
    out = []
    for _ in range(count):
        valid = [t.symbol for t in spec.transitions if t.source == state]
        if valid and rng.random() < valid_fraction:
            s = valid[int(rng.integers(len(valid)))]
        else:
            s = spec.symbols[int(rng.integers(len(spec.symbols)))]
        out.append(s)
        state = spec.next_state(state, s)
    return out


def valid_walk(spec: FSMSpec, length: int, rng: np.random.Generator) -> list[str]:
    """A random walk of ``length`` valid symbols from the start state (every symbol moves)."""
    return random_symbols(spec, length, rng, valid_fraction=1.0)


# --------------------------------------------------------------------------- robustness


@dataclasses.dataclass(frozen=True, eq=False)
class CaseResult:
    """One robustness run: the condition, its walk, and figures for a report."""

    case: str
    n: int
    n_states: int
    n_edges: int
    n_symbols: int
    walk: WalkResult
    build_seconds: float
    weight_info: dict

    @property
    def correct(self) -> bool:
        return self.walk.correct

    def summary(self) -> dict:
        w = self.walk
        return {"case": self.case, "N": self.n, "states": self.n_states, "edges": self.n_edges,
                "symbols": self.n_symbols, "steps": w.stats["steps"], "correct": w.correct,
                "transitions_taken": sum(o is not None for o in _moves(w)),
                "min_overlap": round(w.min_margin(), 4),
                "build_s": round(self.build_seconds, 2), "walk_s": round(w.stats["seconds"], 2),
                **self.weight_info}


def _moves(w: WalkResult) -> list[str | None]:
    prev = None
    out = []
    for s in w.expected:
        out.append(s if s != prev else None)
        prev = s
    return out


def weights_for(case: str, fsm: CompiledFSM, rng: np.random.Generator
                ) -> tuple[DenseWeights | LowRankWeights, dict]:
    """The weight operator for ``case`` (a key of :data:`CASES`) and facts about it."""
    if case in ("ideal", "async_p0.1", "async_input20"):
        return LowRankWeights.ideal(fsm), {"weights": "ideal (low rank)"}
    wt = fsm.dense(transposed=True)  # elementwise transforms commute with the transpose
    info: dict = {"max_abs_NW": float(np.max(np.abs(wt)))}
    if case in ("int8", "int8_even"):
        mant, exp = _fsm.quantize_int8(wt, even=case == "int8_even")
        info.update(weights=case, w_exp=exp,
                    exact=bool(exp == 0 and np.array_equal(mant.astype(np.float32), wt)))
        del wt
        op = DenseWeights.from_int8(mant.T, exp)
    elif case.startswith("binary_sigma"):
        sigma = float(case.removeprefix("binary_sigma"))
        w1 = _fsm.binarize(wt)
        del wt
        w1 = _fsm.add_weight_noise(w1, sigma, rng)
        info.update(weights=f"sgn(W) + {sigma:g} N(0,1)")
        op = DenseWeights(w1.T)
    elif case.startswith("sparse"):
        zf = float(case.removeprefix("sparse")) / 100.0
        ws = _fsm.sparsify(wt, zf, rng)
        del wt
        info.update(weights=f"ternary, {100 * zf:g} % zeros",
                    zero_fraction=float(np.mean(ws == 0)))
        op = DenseWeights(ws.T)
    else:
        raise ValueError(f"unknown case {case!r}; known: {', '.join(CASES)}")
    return op, info


def core_mantissas(case: str, fsm: CompiledFSM, rng: np.random.Generator) -> np.ndarray:
    """Even int8 mantissas for :func:`edgelearn.fsm_core.core_network` under ``case``:

    - ``"int8"``: ``N W`` itself (exact for the demonstration machine);
    - ``"binary_sigma2"`` / ``"binary_sigma5"``: the noisy 1-bit matrix ``sgn(W) + sigma chi``
      on a grid of 0.4 (``2 round(2.5 w)``, clipped to ``[-126, 126]``): the analog noise must
      be digitised somehow on the core; this grid keeps every row sum within the exponent range;
    - ``"sparse98"``: ``2 sgn(W)`` on the largest 2 % of ``|W|`` (use ``sparse=True``).
    """
    w = fsm.dense()
    if case == "int8":
        mant, _ = _fsm.quantize_int8(w, even=True)
        return mant
    if case.startswith("binary_sigma"):
        sigma = float(case.removeprefix("binary_sigma"))
        noisy = _fsm.add_weight_noise(_fsm.binarize(w), sigma, rng)
        del w
        return (2 * np.clip(np.round(2.5 * noisy), -63, 63)).astype(np.int8)
    if case == "sparse98":
        return (2 * _fsm.sparsify(w, 0.98, rng)).astype(np.int8)
    raise ValueError(f"no core mantissas for case {case!r} (int8, binary_sigma2, "
                     f"binary_sigma5, sparse98)")


def robustness_case(case: str, *, n: int = 10_000, n_inputs: int = 100, seed: int = 0,
                    spec: FSMSpec | None = None, hold: tuple[int, int] | None = None
                    ) -> CaseResult:
    """Run the paper's demonstration under ``case`` (see :data:`CASES`).

    The machine (default :func:`demo_machine`) is compiled for ``n`` neurons; ``n_inputs``
    symbols are drawn by :func:`random_symbols`; hold, release and rest times are random
    (synchronous: hold and release 2..12 steps, rest 0..6; asynchronous p = 0.1: hold and
    release 40..80, rest 0..20 — the paper used 40; asynchronous input: 30..40 and 0..10).
    Everything is seeded by ``seed``.
    """
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; known: {', '.join(CASES)}")
    spec = demo_machine() if spec is None else spec
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    fsm = _fsm.compile_fsm(spec, n, seed=rng)
    op, info = weights_for(case, fsm, rng)
    build = time.perf_counter() - t0
    symbols = random_symbols(spec, n_inputs, rng)
    if case == "async_p0.1":
        lo_hi = hold or (40, 80)
        sched = random_schedule(symbols, rng, hold=lo_hi, release=lo_hi, rest=(0, 20),
                                final_rest=20)
        result = walk(fsm, sched, weights=op, update_prob=0.1, rng=rng)
    elif case == "async_input20":
        lo_hi = hold or (30, 40)
        sched = random_schedule(symbols, rng, hold=lo_hi, release=lo_hi, rest=(0, 10),
                                final_rest=20)
        result = walk(fsm, sched, weights=op, rng=rng, input_jitter=20)
    else:
        lo_hi = hold or (2, 12)
        sched = random_schedule(symbols, rng, hold=lo_hi, release=lo_hi, rest=(0, 6))
        result = walk(fsm, sched, weights=op)
    return CaseResult(case, n, len(spec.states), len(spec.transitions), n_inputs, result,
                      build, info)


# --------------------------------------------------------------------------- capacity


@dataclasses.dataclass(frozen=True)
class CapacityRow:
    """The largest machine found to walk correctly for ``n`` neurons (``C`` states = ``C`` edges).

    ``capacity``: largest ``C`` with success rate >= 1/2 over ``trials`` random machines (searched
    by bisection, assuming success falls with ``C``); ``bound``: the largest ``C`` inside the
    paper's dense bound ``C + 2.2 C < 0.10 N``; ``tested``: ``{C: successes}``.
    """

    n: int
    capacity: int
    bound: int
    trials: int
    tested: dict
    seconds: float
    criterion: str = "strict"

    @property
    def ratio(self) -> float:
        return self.capacity / self.n


def _walk_ok(n: int, c: int, seed: int, length: int, phase_steps: int, criterion: str) -> bool:
    rng = np.random.default_rng(seed)
    spec = random_machine(c, c, rng)
    fsm = _fsm.compile_fsm(spec, n, seed=rng, check_capacity=False)
    start = spec.states[int(rng.integers(len(spec.states)))]
    symbols = random_symbols(spec, length, rng, valid_fraction=1.0, start=start)
    sched = Schedule.fixed(symbols, hold=phase_steps, release=phase_steps, rest=phase_steps)
    return walk(fsm, sched, start=start, criterion=criterion).correct


def largest_passing(ok, guess: int) -> int:
    """Largest ``c >= 1`` with ``ok(c)``, assuming ``ok`` passes up to a point and fails
    beyond it; 0 when ``ok(1)`` fails. Doubles ``guess`` while it passes, then bisects."""
    lo, top = 1, guess
    if not ok(lo):
        return 0
    while ok(top):  # widen if even the guess passes
        lo, top = top, 2 * top
    while top - lo > 1:
        mid = (lo + top) // 2
        if ok(mid):
            lo = mid
        else:
            top = mid
    return lo


def capacity_at(n: int, *, trials: int = 3, seed: int = 0, length: int = 6,
                phase_steps: int = 10, hi: int | None = None,
                criterion: str = "strict") -> CapacityRow:
    """Bisection for the largest ``C`` (``C`` states, ``C`` unique-symbol edges) that walks
    correctly in at least half of ``trials`` random machines, with the ideal weights (as in the
    paper's capacity study: a random valid walk of ``length`` symbols, ``phase_steps`` per phase).
    ``criterion``: ``"strict"`` (every phase, edge states included) or ``"paper"`` (overlap > 0.5
    with the expected node in each no-input phase); see :func:`edgelearn.fsm_sim.walk`.
    """
    t0 = time.perf_counter()
    bound = _fsm.max_states_for(n)
    tested: dict[int, int] = {}

    def ok(c: int) -> bool:
        if c not in tested:
            tested[c] = sum(_walk_ok(n, c, seed + 1000 * c + t, length, phase_steps, criterion)
                            for t in range(trials))
        return 2 * tested[c] >= trials

    lo = largest_passing(ok, hi or max(4, 2 * bound))
    return CapacityRow(n, lo, bound, trials, dict(sorted(tested.items())),
                       time.perf_counter() - t0, criterion)


def capacity_study(ns: Sequence[int] = (1000, 2000, 5000, 10_000), **kwargs) -> list[CapacityRow]:
    """:func:`capacity_at` for each ``N``."""
    return [capacity_at(n, **kwargs) for n in ns]
