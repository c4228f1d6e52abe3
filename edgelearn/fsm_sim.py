"""Reference dynamics of the attractor state machines (numpy), and a walker that drives symbols.

The network state ``z`` is a bipolar vector. One step with input mask ``m = H(s)`` (all ones with
no input) is

    h = W (z o m),    z'_i = sgn(h_i)  (sgn(0) = +1)

for every neuron (synchronous), or for each neuron independently with probability ``p`` while
the others keep their state (asynchronous, ``update_prob = p``).

Driving a symbol (the input protocol of Cotteret et al. 2024, and how event streams map onto it):
a symbol event held for ``h`` steps presents ``s_a`` for those ``h`` steps; its release presents
``s_b`` for ``r`` steps; then no input for ``q`` steps before the next symbol. Any ``h, r, q`` work
as long as each of ``h`` and ``r`` reaches the minimum the dynamics need to settle (2 steps
synchronously: the first step moves only the unmasked half of the neurons, the second the rest;
about 40 steps at ``p = 0.1``); holding longer changes nothing, which the tests check.

Weights are linear operators (:class:`DenseWeights` for any matrix, :class:`LowRankWeights` for the
ideal ``N W = U V^T - diag(d)``, exact and O(N R) per step). The simulator keeps ``h`` up to date
incrementally: when few components of ``z o m`` change it adds only those columns, so a network
resting in an attractor costs nothing per step. For integer-valued weights (ideal balanced
stimuli, int8, 1-bit, ternary) every sum is exact.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np

from .fsm import CompiledFSM, FSMSpec

__all__ = [
    "DenseWeights",
    "LowRankWeights",
    "Schedule",
    "WalkResult",
    "decode",
    "expected_targets",
    "random_schedule",
    "sign",
    "walk",
]

PHASE_REST, PHASE_A, PHASE_B = 0, 1, 2
_PHASE_NAMES = {PHASE_REST: "rest", PHASE_A: "a", PHASE_B: "b"}


def sign(h: np.ndarray) -> np.ndarray:
    """``sgn`` with ``sgn(0) = +1``, as ``int8``."""
    return np.where(h >= 0, 1, -1).astype(np.int8)


class DenseWeights:
    """A dense ``(N, N)`` weight matrix (any scale). Stored transposed (float32) for column access.

    ``DenseWeights.from_int8(mant, exp)`` keeps the matrix at mantissa scale: the power-of-two
    scale does not change any sign.
    """

    def __init__(self, w: np.ndarray) -> None:
        w = np.asarray(w)
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ValueError(f"weights must be a square matrix, got shape {w.shape}")
        self.n = int(w.shape[0])
        self._wt = np.ascontiguousarray(w.T, dtype=np.float32)  # row j = column j of W

    @classmethod
    def from_int8(cls, mant: np.ndarray, exp: int = 0) -> DenseWeights:
        del exp  # a positive power-of-two scale: no effect on sgn
        return cls(np.asarray(mant, dtype=np.float32))

    def matvec(self, v: np.ndarray) -> np.ndarray:
        return (v.astype(np.float32) @ self._wt).astype(np.float64)

    def cols_matvec(self, idx: np.ndarray, dv: np.ndarray) -> np.ndarray:
        return (dv.astype(np.float32) @ self._wt[idx]).astype(np.float64)


class LowRankWeights:
    """``W = U V^T - diag(d)`` (the ideal compiled weights, from :meth:`CompiledFSM.factors`)."""

    def __init__(self, u: np.ndarray, v: np.ndarray, d: np.ndarray) -> None:
        self._u = np.asarray(u, dtype=np.float64)
        self._v = np.asarray(v, dtype=np.float64)
        self._d = np.asarray(d, dtype=np.float64)
        self.n = int(self._u.shape[0])

    @classmethod
    def ideal(cls, fsm: CompiledFSM) -> LowRankWeights:
        return cls(*fsm.factors())

    def matvec(self, v: np.ndarray) -> np.ndarray:
        v = v.astype(np.float64)
        return self._u @ (self._v.T @ v) - self._d * v

    def cols_matvec(self, idx: np.ndarray, dv: np.ndarray) -> np.ndarray:
        dv = dv.astype(np.float64)
        out = self._u @ (self._v[idx].T @ dv)
        out[idx] -= self._d[idx] * dv
        return out


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Per symbol: ``rest`` steps without input, then ``hold`` steps of ``s_a``, then ``release``
    steps of ``s_b``; ``final_rest`` steps without input at the end."""

    symbols: tuple[str, ...]
    hold: tuple[int, ...]
    release: tuple[int, ...]
    rest: tuple[int, ...]
    final_rest: int = 2

    def __post_init__(self) -> None:
        k = len(self.symbols)
        for name in ("hold", "release", "rest"):
            vals = getattr(self, name)
            if len(vals) != k:
                raise ValueError(f"schedule: {name} has {len(vals)} entries for {k} symbols")
            if any(int(x) < 0 for x in vals):
                raise ValueError(f"schedule: {name} durations must be >= 0")

    @classmethod
    def fixed(cls, symbols: Sequence[str], *, hold: int = 4, release: int = 4, rest: int = 2,
              final_rest: int = 2) -> Schedule:
        k = len(symbols)
        return cls(tuple(symbols), (hold,) * k, (release,) * k, (rest,) * k, final_rest)

    @property
    def n_steps(self) -> int:
        return sum(self.hold) + sum(self.release) + sum(self.rest) + self.final_rest


def random_schedule(symbols: Sequence[str], rng: np.random.Generator, *,
                    hold: tuple[int, int] = (2, 12), release: tuple[int, int] = (2, 12),
                    rest: tuple[int, int] = (0, 6), final_rest: int = 2) -> Schedule:
    """Hold, release and rest durations drawn uniformly from the inclusive ranges given."""
    k = len(symbols)

    def draw(lo_hi: tuple[int, int]) -> tuple[int, ...]:
        lo, hi = lo_hi
        return tuple(int(x) for x in rng.integers(lo, hi + 1, size=k))

    return Schedule(tuple(symbols), draw(hold), draw(release), draw(rest), final_rest)


@dataclasses.dataclass(frozen=True, eq=False)
class WalkResult:
    """The outcome of :func:`walk`.

    Per symbol ``k``: ``expected[k]`` (the reference machine's state after it), ``decoded[k]``
    (the node attractor nearest the network at the end of its release phase, or None when no
    overlap exceeds 0.5), ``expected_output[k]`` / ``decoded_output[k]`` (the edge output seen at
    the end of the hold phase). ``correct``: every phase ended in the expected attractor (node,
    or edge state during the hold of a valid symbol) with overlap > 0.5 and no output mismatch.
    ``first_error``: the symbol index of the first failure (None when correct).

    Per step ``t`` (``n_steps`` rows, the state *after* the step): ``overlaps_states (T, N_Z)``,
    ``overlaps_edges (T, N_E)``, ``overlaps_outputs (T, N_R)`` (normalised dot products; an
    output is present at about ``f_r``), ``phase (T,)`` (0 rest, 1 s_a, 2 s_b) and
    ``step_symbol (T,)`` (symbol index, -1 for the final rest). ``stats``: steps, full and
    incremental matrix products, wall time. ``trajectory``/``masks``: with ``record=True``, the
    state after each step and the mask applied during it, ``(T, N)`` int8.
    """

    symbols: tuple[str, ...]
    expected: tuple[str, ...]
    decoded: tuple[str | None, ...]
    expected_output: tuple[str | None, ...]
    decoded_output: tuple[str | None, ...]
    correct: bool
    first_error: int | None
    errors: tuple[str, ...]
    overlaps_states: np.ndarray
    overlaps_edges: np.ndarray
    overlaps_outputs: np.ndarray
    phase: np.ndarray
    step_symbol: np.ndarray
    final_state: np.ndarray
    stats: dict
    trajectory: np.ndarray | None = None
    masks: np.ndarray | None = None

    def min_margin(self) -> float:
        """Smallest end-of-phase overlap with the expected attractor (1.0 is a perfect recall)."""
        return float(self.stats["min_overlap"])


def expected_targets(spec: FSMSpec, symbols: Sequence[str], start: str
                     ) -> tuple[list[tuple[str, int]], list[str], list[str | None]]:
    """The reference walk: the attractor expected at the end of every phase (per symbol: rest,
    hold, release; then the final rest) as ``("state", i)`` or ``("edge", k)``, the state after
    each symbol and the output of each symbol's edge (None: no edge or no output)."""
    sidx = {s: i for i, s in enumerate(spec.states)}
    state = start
    expected_states: list[str] = []
    expected_outputs: list[str | None] = []
    targets: list[tuple[str, int]] = []
    for s in symbols:
        e = spec.edge(state, s)
        targets.append(("state", sidx[state]))
        if e is None:
            targets.append(("state", sidx[state]))
            expected_outputs.append(None)
        else:
            targets.append(("edge", e))
            expected_outputs.append(spec.transitions[e].output)
            state = spec.transitions[e].target
        targets.append(("state", sidx[state]))
        expected_states.append(state)
    targets.append(("state", sidx[state]))
    return targets, expected_states, expected_outputs


def decode(fsm: CompiledFSM, z: np.ndarray) -> tuple[str | None, float]:
    """The node state nearest ``z`` and its overlap; None when no overlap exceeds 0.5."""
    sims = fsm.states.astype(np.float32) @ np.asarray(z, np.float32) / fsm.n
    i = int(np.argmax(sims))
    return (fsm.spec.states[i] if sims[i] > 0.5 else None), float(sims[i])


def walk(fsm: CompiledFSM, schedule: Schedule | Sequence[str], *,
         weights: DenseWeights | LowRankWeights | None = None, update_prob: float = 1.0,
         rng: np.random.Generator | None = None, start: str | None = None,
         z0: np.ndarray | None = None, recompute_fraction: float = 0.125,
         criterion: str = "strict", record: bool = False,
         input_jitter: int = 0) -> WalkResult:
    """Drive ``fsm`` with a schedule of symbols and check the walk against the reference machine.

    - ``schedule``: a :class:`Schedule`, or a list of symbols (then ``Schedule.fixed``).
    - ``weights``: the operator to run (default: the ideal weights, exactly, low rank).
    - ``update_prob``: probability that a neuron updates on a step (1.0: synchronous); the
      asynchronous draws come from ``rng`` (required when ``update_prob < 1``).
    - ``start``/``z0``: initial node state (default the machine's start) or an explicit vector.
    - ``recompute_fraction``: above this fraction of changed inputs a step recomputes
      ``W (z o m)`` in full instead of incrementally (a speed knob; results are the same up to
      float rounding for non-integer weights).

    - ``criterion``: ``"strict"`` (default) judges the end of every phase: the nearest
      attractor (nodes and edge states) must be the expected one with overlap > 0.5, and edge
      outputs must match; ``"paper"`` judges only the no-input phases, by overlap > 0.5 with the
      expected node (the pass criterion of the paper's capacity study).

    - ``input_jitter``: asynchronous input (the paper's appendix C): at every change of input,
      each neuron switches to the new mask only after its own delay, uniform in
      ``0 .. input_jitter`` steps (drawn from ``rng``); phases are judged at their nominal ends.
    - ``record``: also keep the state after every step (``WalkResult.trajectory``, ``(T, N)``
      int8) and the mask applied at every step (``WalkResult.masks``, ``(T, N)`` int8).

    A symbol the machine does not know raises ``KeyError``.
    """
    if criterion not in ("strict", "paper"):
        raise ValueError(f"criterion must be 'strict' or 'paper', got {criterion!r}")
    if not isinstance(schedule, Schedule):
        schedule = Schedule.fixed(list(schedule))
    p = float(update_prob)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"update_prob must be in (0, 1], got {update_prob!r}")
    if p < 1.0 and rng is None:
        raise ValueError("asynchronous updates (update_prob < 1) need an explicit rng")
    jitter = int(input_jitter)
    if jitter < 0:
        raise ValueError(f"input_jitter must be >= 0, got {input_jitter!r}")
    if jitter and rng is None:
        raise ValueError("asynchronous input (input_jitter > 0) needs an explicit rng")
    spec = fsm.spec
    sym_idx = [fsm.symbol_index(s) for s in schedule.symbols]  # KeyError for unknown symbols
    op = LowRankWeights.ideal(fsm) if weights is None else weights
    n = fsm.n
    if op.n != n:
        raise ValueError(f"weights are for {op.n} neurons, the machine has {n}")
    t0 = time.perf_counter()

    masks_a = (np.asarray(fsm.stim_a) > 0).astype(np.int8)
    masks_b = (np.asarray(fsm.stim_b) > 0).astype(np.int8)
    ones = np.ones(n, np.int8)

    # the phase program: (mask, phase code, symbol index, steps)
    program: list[tuple[np.ndarray, int, int, int]] = []
    for k, si in enumerate(sym_idx):
        program.append((ones, PHASE_REST, k, schedule.rest[k]))
        program.append((masks_a[si], PHASE_A, k, schedule.hold[k]))
        program.append((masks_b[si], PHASE_B, k, schedule.release[k]))
    program.append((ones, PHASE_REST, -1, schedule.final_rest))
    n_steps = schedule.n_steps

    # expected attractor at the end of each phase: ("state", i) or ("edge", k)
    sidx = {s: i for i, s in enumerate(spec.states)}
    state = spec.start if start is None else start
    if state not in sidx:
        raise KeyError(f"unknown start state {state!r}")
    if z0 is None:
        z = fsm.states[sidx[state]].astype(np.int8).copy()
    else:
        z = np.where(np.asarray(z0) >= 0, 1, -1).astype(np.int8)
    targets, expected_states, expected_outputs = expected_targets(spec, schedule.symbols, state)

    readout = np.concatenate([fsm.states, fsm.edge_out, fsm.outputs]).astype(np.float32)
    nz, ne = len(spec.states), len(spec.transitions)
    overlaps = np.zeros((n_steps, readout.shape[0]), np.float32)
    phase = np.zeros(n_steps, np.int8)
    step_symbol = np.zeros(n_steps, np.int32)

    traj = np.zeros((n_steps, n), np.int8) if record else None
    mask_log = np.zeros((n_steps, n), np.int8) if record else None
    n_full = n_inc = 0
    v = None
    h = None
    t = 0
    limit = int(recompute_fraction * n)
    end_overlap = []  # per phase: (overlap row or None)
    current = ones  # the mask each neuron applies now (differs from the nominal one while
    switch_at = None  # a jittered change is under way: neuron i switches at switch_at[i])
    for mask, ph, k, steps in program:
        if jitter and steps:
            start_mask = current
            switch_at = rng.integers(0, jitter + 1, size=n)
            step_in_phase = 0
        for _ in range(steps):
            if jitter:
                current = np.where(switch_at <= step_in_phase, mask, start_mask).astype(np.int8)
                step_in_phase += 1
            else:
                current = mask
            v_new = (z * current).astype(np.int8)
            if h is None:
                h = op.matvec(v_new)
                n_full += 1
            else:
                changed = np.flatnonzero(v_new != v)
                if changed.size > limit:
                    h = op.matvec(v_new)
                    n_full += 1
                elif changed.size:
                    h = h + op.cols_matvec(changed, (v_new[changed] - v[changed]))
                    n_inc += 1
            v = v_new
            z_next = sign(h)
            if p < 1.0:
                upd = rng.random(n) < p
                z_next = np.where(upd, z_next, z).astype(np.int8)
            z = z_next
            if record:
                traj[t] = z
                mask_log[t] = current
            overlaps[t] = readout @ z.astype(np.float32) / n
            phase[t] = ph
            step_symbol[t] = k
            t += 1
        end_overlap.append(overlaps[t - 1].copy() if steps else
                           (readout @ z.astype(np.float32) / n))

    # judge every phase end
    errors: list[str] = []
    first_error = None
    min_overlap = 1.0
    decoded, decoded_out = [], []
    f_out = np.count_nonzero(fsm.outputs, axis=1) / n if len(spec.outputs) else np.zeros(0)
    for j, (kind, idx) in enumerate(targets):
        row = end_overlap[j]
        attract = row[: nz + ne]
        want = idx if kind == "state" else nz + idx
        best = int(np.argmax(attract))
        if criterion == "strict" or j % 3 == 0:
            min_overlap = min(min_overlap, float(attract[want]))
        k = j // 3
        phase_name = _PHASE_NAMES[(PHASE_REST, PHASE_A, PHASE_B)[j % 3]] if k < len(sym_idx) \
            else "final rest"
        if j % 3 == 2 and k < len(sym_idx):
            s_best = int(np.argmax(row[:nz]))
            decoded.append(spec.states[s_best] if row[s_best] > 0.5 else None)
        if criterion == "paper":
            if j % 3 == 0 and attract[want] <= 0.5:
                where = f"symbol {k}" if k < len(sym_idx) else "end"
                errors.append(f"{where}, end of rest: overlap with {spec.states[idx]} "
                              f"{attract[want]:.3f} <= 0.5")
                if first_error is None:
                    first_error = min(k, len(sym_idx) - 1) if sym_idx else 0
            if j % 3 == 1 and k < len(sym_idx):
                decoded_out.append(None)
            continue
        if j % 3 == 1 and k < len(sym_idx):
            out_row = row[nz + ne:]
            if out_row.size and np.max(out_row / f_out) > 0.5:
                decoded_out.append(spec.outputs[int(np.argmax(out_row / f_out))])
            else:
                decoded_out.append(None)
            if decoded_out[-1] != expected_outputs[k]:
                errors.append(f"symbol {k} ({schedule.symbols[k]!r}): output "
                              f"{decoded_out[-1]!r}, expected {expected_outputs[k]!r}")
                first_error = k if first_error is None else first_error
        if best != want or attract[want] <= 0.5:
            names = list(spec.states) + [f"edge[{i}]" for i in range(ne)]
            where = f"symbol {k} ({schedule.symbols[k]!r})" if k < len(sym_idx) else "end"
            errors.append(f"{where}, end of {phase_name}: nearest attractor {names[best]} "
                          f"({attract[best]:.3f}), expected {names[want]} ({attract[want]:.3f})")
            if first_error is None:
                first_error = min(k, len(sym_idx) - 1) if sym_idx else 0
    stats = {"steps": n_steps, "full_matvecs": n_full, "incremental_matvecs": n_inc,
             "seconds": time.perf_counter() - t0, "min_overlap": min_overlap,
             "update_prob": p}
    return WalkResult(
        symbols=tuple(schedule.symbols), expected=tuple(expected_states),
        decoded=tuple(decoded), expected_output=tuple(expected_outputs),
        decoded_output=tuple(decoded_out), correct=not errors, first_error=first_error,
        errors=tuple(errors), overlaps_states=overlaps[:, :nz],
        overlaps_edges=overlaps[:, nz:nz + ne], overlaps_outputs=overlaps[:, nz + ne:],
        phase=phase, step_symbol=step_symbol, final_state=z, stats=stats, trajectory=traj,
        masks=mask_log)
