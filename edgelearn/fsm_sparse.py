"""The sparse binary variant of the attractor state machines (Cotteret et al. 2024, section III-C).

States are sparse binary vectors ``x in {0, 1}^N`` with exactly ``K = f N`` ones (an N-of-M code),
stimuli stay dense bipolar masks. With ``a' = a - f 1``:

    W = sum_states x' x'^T + sum_edges [ e' e'^T + (e - x)(x' o s_a)^T + (y - e)(e' o s_b)^T ]

and the dynamics keep exactly ``K`` neurons active (top-k, the paper's adaptive threshold):

    z <- topk_K( W (z o H(s)) )      (ties: the lower neuron index wins)

The overlap ``z . x / N`` of the network with a stored state is ``f`` when they are equal and about
``f^2`` for unrelated states; a phase is judged correct when the expected attractor is the nearest
and its overlap exceeds ``(f + f^2) / 2`` (the paper's criterion). Capacity scales much better
than the dense variant (the paper reports ``C ~ N^1.9`` at the best ``f``); outputs are not
embedded (the paper leaves them open for this variant). The ideal weights are applied exactly in
low-rank form; there is no core mapping for this variant yet.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import vsa
from .fsm import FSMSpec
from .fsm_sim import Schedule, expected_targets

__all__ = ["SparseFSM", "compile_sparse_fsm", "sparse_capacity_at", "sparse_walk", "topk"]


@dataclasses.dataclass(frozen=True, eq=False)
class SparseFSM:
    """Hypervectors of a sparse machine: ``states (N_Z, N)`` and ``edges (N_E, N)`` binary
    ``int8`` with ``k`` ones each, ``stim_a, stim_b (N_S, N)`` bipolar ``int8``."""

    spec: FSMSpec
    n: int
    k: int
    states: np.ndarray
    edges: np.ndarray
    stim_a: np.ndarray
    stim_b: np.ndarray

    @property
    def f(self) -> float:
        return self.k / self.n

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(U, V)`` with ``W = U V^T`` (float64; the diagonal is kept, as in eq. 26)."""
        spec, f = self.spec, self.f
        nz, ne = len(spec.states), len(spec.transitions)
        u = np.empty((self.n, nz + 3 * ne))
        v = np.empty_like(u)
        x = self.states.astype(np.float64)
        u[:, :nz] = (x - f).T
        v[:, :nz] = (x - f).T
        sidx = {s: i for i, s in enumerate(spec.states)}
        yidx = {s: i for i, s in enumerate(spec.symbols)}
        for j, t in enumerate(spec.transitions):
            xs, ys = x[sidx[t.source]], x[sidx[t.target]]
            e = self.edges[j].astype(np.float64)
            sa = self.stim_a[yidx[t.symbol]].astype(np.float64)
            sb = self.stim_b[yidx[t.symbol]].astype(np.float64)
            c = nz + 3 * j
            u[:, c], v[:, c] = e - f, e - f
            u[:, c + 1], v[:, c + 1] = e - xs, (xs - f) * sa
            u[:, c + 2], v[:, c + 2] = ys - e, (e - f) * sb
        return u, v


def _sparse_binary(rng: np.random.Generator, count: int, n: int, k: int) -> np.ndarray:
    out = np.zeros((count, n), np.int8)
    for i in range(count):
        out[i, rng.choice(n, size=k, replace=False)] = 1
    return out


def compile_sparse_fsm(spec: FSMSpec, n: int, *, f: float = 0.1,
                       seed: int | np.random.Generator = 0) -> SparseFSM:
    """Draw the sparse hypervectors (``K = round(f N)`` ones each) and bipolar stimuli."""
    if not 0.0 < f < 0.5:
        raise ValueError(f"coding level f must be in (0, 0.5), got {f!r}")
    k = int(round(f * n))
    if k < 1:
        raise ValueError(f"f N = {f * n:g} < 1: no active neuron per state")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    nz, ne, ns = len(spec.states), len(spec.transitions), len(spec.symbols)
    arrays = (_sparse_binary(rng, nz, n, k), _sparse_binary(rng, ne, n, k),
              vsa.stimulus(rng, ns, n), vsa.stimulus(rng, ns, n))
    for a in arrays:
        a.setflags(write=False)
    return SparseFSM(spec, n, k, *arrays)


def topk(h: np.ndarray, k: int) -> np.ndarray:
    """Binary vector with ones at the ``k`` largest entries of ``h`` (ties: lower index first)."""
    order = np.lexsort((np.arange(h.size), -h))  # by value descending, then index ascending
    z = np.zeros(h.size, np.int8)
    z[order[:k]] = 1
    return z


def sparse_walk(sfsm: SparseFSM, schedule: Schedule | list[str], *,
                start: str | None = None) -> tuple[bool, list[str | None], list[str]]:
    """Run a schedule with top-k dynamics; returns ``(correct, decoded, errors)``.

    ``decoded``: the nearest node state after each symbol's release (None below threshold);
    ``correct``: every phase ended in the expected attractor (nodes and edge states) with
    overlap above ``(f + f^2) / 2``.
    """
    if not isinstance(schedule, Schedule):
        schedule = Schedule.fixed(list(schedule))
    spec = sfsm.spec
    u, v = sfsm.factors()
    state = spec.start if start is None else start
    targets, _, _ = expected_targets(spec, schedule.symbols, state)
    z = sfsm.states[spec.states.index(state)].copy()
    ones = np.ones(sfsm.n, np.int8)
    masks_a = (sfsm.stim_a > 0).astype(np.int8)
    masks_b = (sfsm.stim_b > 0).astype(np.int8)
    phases = []
    for k, s in enumerate(schedule.symbols):
        j = spec.symbols.index(s)
        phases += [(ones, schedule.rest[k]), (masks_a[j], schedule.hold[k]),
                   (masks_b[j], schedule.release[k])]
    phases.append((ones, schedule.final_rest))
    readout = np.concatenate([sfsm.states, sfsm.edges]).astype(np.float64)
    nz = len(spec.states)
    thresh = (sfsm.f + sfsm.f ** 2) / 2
    names = list(spec.states) + [f"edge[{i}]" for i in range(len(spec.transitions))]
    errors: list[str] = []
    decoded: list[str | None] = []
    for p, ((mask, steps), (kind, idx)) in enumerate(zip(phases, targets, strict=True)):
        for _ in range(steps):
            z = topk(u @ (v.T @ (z * mask).astype(np.float64)), sfsm.k)
        ov = readout @ z / sfsm.n
        want = idx if kind == "state" else nz + idx
        best = int(np.argmax(ov))
        if p % 3 == 2 and p // 3 < len(schedule.symbols):
            sb = int(np.argmax(ov[:nz]))
            decoded.append(spec.states[sb] if ov[sb] > thresh else None)
        if best != want or ov[want] <= thresh:
            errors.append(f"phase {p} (symbol {p // 3}): nearest {names[best]} "
                          f"({ov[best]:.4f}), expected {names[want]} ({ov[want]:.4f})")
    return not errors, decoded, errors


def sparse_capacity_at(n: int, f: float, *, trials: int = 5, seed: int = 0, length: int = 6,
                       phase_steps: int = 10, hi: int | None = None) -> tuple[int, dict]:
    """Largest ``C`` (``C`` states, ``C`` unique-symbol edges, ring machines as in
    :func:`edgelearn.fsm_experiments.capacity_at`) whose random valid walk succeeds in at least
    half of ``trials``, at coding level ``f``. Returns ``(C, {C: successes})``."""
    from .fsm_experiments import largest_passing, random_machine, random_symbols

    tested: dict[int, int] = {}

    def ok(c: int) -> bool:
        if c not in tested:
            wins = 0
            for t in range(trials):
                rng = np.random.default_rng(seed + 1000 * c + t)
                spec = random_machine(c, c, rng)
                sf = compile_sparse_fsm(spec, n, f=f, seed=rng)
                start = spec.states[int(rng.integers(c))]
                syms = random_symbols(spec, length, rng, valid_fraction=1.0, start=start)
                sched = Schedule.fixed(syms, hold=phase_steps, release=phase_steps,
                                       rest=phase_steps)
                wins += sparse_walk(sf, sched, start=start)[0]
            tested[c] = wins
        return 2 * tested[c] >= trials

    return largest_passing(ok, hi or max(8, n // 10)), dict(sorted(tested.items()))
