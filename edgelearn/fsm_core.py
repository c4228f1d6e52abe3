"""Attractor state machines on the core: the bipolar dynamics as spiking compartments.

The same :class:`edgelearn.network.Network` runs on the JAX twin and on the C runtime, and both
reproduce the numpy sign dynamics of :mod:`edgelearn.fsm_sim` exactly (not approximately): every
spike is the sign decision of one bipolar neuron. How (``docs/spec.md`` sections 3-4):

**Neurons.** One population ``fsm`` of ``2 N + 1`` compartments: ``P_i`` (``i < N``) spikes
when component ``i`` is ``+1``, ``M_i`` when it is ``-1``, neither when it is masked; ``B`` spikes
on every step (it only provides a constant). ``du = dv = 4095`` (nothing carries over but a
residue, see below), ``vth_mant = 0``, refractory 1; bias ``+32`` on ``P`` and ``M`` (the
half-step that turns the strict ``v > 0`` into ``>= 0``), ``4095`` on ``B``.

**One recurrent connection** ``fsm -> fsm`` with mantissas ``[[W, -W, 0], [-W, W, -2], 0]``
(rows ``P``, ``M``, ``B``; columns ``P``, ``M``, ``B``) where ``W`` are the machine's even int8
mantissas (:func:`edgelearn.fsm.quantize_int8` with ``even=True``; the core's mixed-sign mode
keeps even mantissas unchanged). With the spikes of the previous step encoding ``z o m`` as
``P - M``, a ``P`` row accumulates exactly ``h = W (z o m)`` and an ``M`` row ``-h - 2``. The
exponent ``w_exp = -k`` floors: ``f = floor(acc / 2^k)``, so

    P_i spikes  <=>  64 floor(h / 2^k) + 32 > 0  <=>  h >= 0      (sgn(0) = +1, as in numpy)
    M_i spikes  <=>  64 floor((-h - 2) / 2^k) + 32 > 0  <=>  h <= -2  <=>  h < 0  (h is even).

Both are exact for any ``k``; ``k`` is chosen so that every potential stays below
``32 * 4096`` in magnitude, which makes the voltage residue ``dec(v, 4095) = trunc(v / 4096)``
of a neuron that did not spike smaller than the half-step 32, so it can never change a decision.
(Keeping ``B`` inside the recurrent connection matters: the ``-2`` must be summed before the
floor.)

**Input = masking.** Input axon ``a_j`` / ``b_j`` is stimulus ``s_a`` / ``s_b`` of symbol ``j``: it
inhibits ``P_i`` and ``M_i`` of every masked component (``s_i <= 0``) with ``-128 * 2^(6 + e)``,
more than any recurrent excitation, so masked components are silent: exactly ``z o H(s)``. Cue
axon ``c_x`` puts the network into node state ``x`` (it inhibits the wrong neuron of each pair and
excites the right one). Timing, with the core's one-step latency: raster row ``r`` (axons that
spike at step ``r + 1``) holds the cue at ``r = 0`` and the mask ``m_r`` of reference step ``r``
after that; the spikes of core step ``t`` equal ``z_(t-2) o m_(t-2)`` of the numpy reference
(which starts from ``z_0 = x`` and must begin with a no-input step: ``m_0 = 1``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np

from . import constants as C
from .fsm import CompiledFSM, quantize_int8
from .fsm_sim import PHASE_A, PHASE_B, PHASE_REST, Schedule, expected_targets
from .network import INPUT, Connection, Network, Population

__all__ = ["CoreFSM", "CoreWalk", "core_network", "decode_spikes", "events_to_schedule",
           "run_on_core"]

_UNIT = 1 << C.WEIGHT_SHIFT  # one unit of scaled synaptic input (64)
_HALF = _UNIT // 2  # bias of P and M: the half-step (32)
_RESIDUE_LIMIT = _HALF << C.DECAY_BITS  # |v| < this leaves dec(v, 4095) = trunc(v/4096) < 32
_INHIBIT = C.WEIGHT_MIN  # mask / cue inhibition mantissa (-128)
_EXCITE = C.WEIGHT_MAX - 1  # cue excitation mantissa (126: even, kept by mixed-sign mode)


@dataclasses.dataclass(frozen=True, eq=False)
class CoreFSM:
    """A compiled machine laid out on the core (:func:`core_network`).

    ``network``: one population ``fsm`` (``2 N + 1`` neurons) and two connections (recurrent,
    input). ``mant``: the ``(N, N)`` even int8 mantissas ``W``. ``w_exp``/``in_exp``: exponents of
    the recurrent and the input connection. Input axons: ``axon_a[j]``, ``axon_b[j]`` for symbol
    ``j`` (``fsm.spec.symbols`` order), ``axon_cue[i]`` for node state ``i``.
    """

    network: Network
    fsm: CompiledFSM
    mant: np.ndarray
    w_exp: int
    in_exp: int
    axon_a: np.ndarray
    axon_b: np.ndarray
    axon_cue: np.ndarray

    @property
    def n(self) -> int:
        return self.fsm.n

    def program(self, schedule: Schedule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per reference step: ``(mask_axon (T,) int, phase (T,), symbol (T,))``; ``-1``: no input.

        The same phase program :func:`edgelearn.fsm_sim.walk` runs.
        """
        axon, phase, sym = [], [], []
        for k, s in enumerate(schedule.symbols):
            j = self.fsm.symbol_index(s)
            for ax, ph, steps in ((-1, PHASE_REST, schedule.rest[k]),
                                  (int(self.axon_a[j]), PHASE_A, schedule.hold[k]),
                                  (int(self.axon_b[j]), PHASE_B, schedule.release[k])):
                axon += [ax] * steps
                phase += [ph] * steps
                sym += [k] * steps
        axon += [-1] * schedule.final_rest
        phase += [PHASE_REST] * schedule.final_rest
        sym += [-1] * schedule.final_rest
        return (np.asarray(axon, np.int64), np.asarray(phase, np.int8),
                np.asarray(sym, np.int32))

    def raster(self, schedule: Schedule, start: str | None = None) -> np.ndarray:
        """The input raster for ``schedule`` from node state ``start`` (default: the machine's).

        Shape ``(T + 2, n_inputs)`` bool for a schedule of ``T`` steps; requires
        ``schedule.rest[0] >= 1`` (the reference's first step must be input-free, ``m_0 = 1``).
        Core step ``t`` then carries reference state ``z_(t-2) o m_(t-2)``.
        """
        if not schedule.symbols or schedule.rest[0] < 1:
            raise ValueError("a core schedule must start with at least one rest step "
                             "(rest[0] >= 1): the cue step is input-free")
        spec = self.fsm.spec
        state = spec.start if start is None else start
        if state not in spec.states:
            raise KeyError(f"unknown start state {state!r}")
        axon, _, _ = self.program(schedule)
        t = axon.size
        r = np.zeros((t + 2, self.network.n_inputs), bool)
        r[0, self.axon_cue[spec.states.index(state)]] = True
        rows = np.flatnonzero(axon >= 0)
        r[rows, axon[rows]] = True  # row tau: the mask of reference step tau (tau >= 1)
        return r


def decode_spikes(spikes: np.ndarray, n: int) -> np.ndarray:
    """``z o m`` from core spikes ``(T, 2 N + 1)``: ``P - M`` as ``int8`` ``(T, N)``."""
    s = np.asarray(spikes)
    return (s[..., :n].astype(np.int8) - s[..., n:2 * n].astype(np.int8))


def _choose_exponents(h_bound: int) -> tuple[int, int]:
    """Smallest ``k`` (recurrent ``w_exp = -k``) and input exponent ``e`` such that masked
    neurons are silenced and every potential stays below the residue limit."""
    for k in range(0, -C.WEIGHT_EXP_MIN + 1):
        f_max = -(-h_bound // (1 << k))  # ceil
        need = _UNIT * f_max + _HALF  # inhibition that silences the strongest excitation
        for e in range(0, C.WEIGHT_EXP_MAX + 1):
            inhib = -_INHIBIT * _UNIT * (1 << e)
            if inhib >= need + 1 and need + inhib < _RESIDUE_LIMIT:
                return k, e
    raise ValueError(f"recurrent input bound {h_bound} is too large for the core: no exponent "
                     f"pair keeps potentials below {_RESIDUE_LIMIT}; use smaller mantissas "
                     f"(quantize N W with a larger exponent, e.g. halve them) or a larger N")


def core_network(fsm: CompiledFSM, mant: np.ndarray | None = None, *,
                 sparse: bool = False) -> CoreFSM:
    """Lay ``fsm`` out on the core (see the module docstring for the construction).

    ``mant``: even int8 mantissas of ``N W`` (default ``quantize_int8(fsm.dense(), even=True)``;
    exact whenever ``N_Z + N_E`` is even, because every entry of ``N W`` is then even).
    ``sparse=True`` stores the recurrent connection in CSR form (only the non-zero mantissas:
    worth it for sparsified weights, e.g. ``2 * sparsify(W, 0.98)``); the dynamics are the same.
    Raises ``ValueError`` for odd mantissas, ``-128`` (``-W`` must fit) or an oversized network.
    """
    n = fsm.n
    if mant is None:
        mant, _ = quantize_int8(fsm.dense(), even=True)
    mant = np.asarray(mant)
    if mant.shape != (n, n) or mant.dtype != np.int8:
        raise ValueError(f"mant must be int8 of shape ({n}, {n}), got {mant.dtype} {mant.shape}")
    if np.any(mant & 1):
        raise ValueError("core_network needs even mantissas (quantize_int8(..., even=True)): "
                         "the core's mixed-sign mode drops the lowest bit")
    if np.any(mant == C.WEIGHT_MIN):
        raise ValueError(f"mantissa {C.WEIGHT_MIN} cannot be negated into int8; quantize to "
                         f"[-126, 126]")
    size = 2 * n + 1
    if size > C.MAX_FANIN:
        raise ValueError(f"2 N + 1 = {size} neurons exceed the core's fan-in limit "
                         f"{C.MAX_FANIN}: N <= {(C.MAX_FANIN - 1) // 2}")
    row_abs = np.abs(mant.astype(np.int32)).sum(axis=1)
    h_bound = int(2 * row_abs.max()) + 2
    k, e = _choose_exponents(h_bound)

    if sparse:
        rec = _sparse_recurrent(mant, -k)
    else:
        w = np.zeros((size, size), np.int8)
        w[:n, :n] = mant
        w[:n, n:2 * n] = -mant
        w[n:2 * n, :n] = -mant
        w[n:2 * n, n:2 * n] = mant
        w[n:2 * n, 2 * n] = -2
        rec = Connection("fsm", "fsm", w, w_exp=-k)
    bias = np.full(size, _HALF, np.int32)
    bias[2 * n] = C.BIAS_MANT_MAX
    pop = Population("fsm", size, du=C.DECAY_MAX, dv=C.DECAY_MAX, vth_mant=0, bias_mant=bias,
                     bias_exp=0, refractory=1)

    n_sym = len(fsm.spec.symbols)
    n_states = len(fsm.spec.states)
    axon_a = np.arange(n_sym)
    axon_b = n_sym + np.arange(n_sym)
    axon_cue = 2 * n_sym + np.arange(n_states)
    n_in = 2 * n_sym + n_states
    w_in = np.zeros((size, n_in), np.int8)
    for j in range(n_sym):
        for ax, stim in ((axon_a[j], fsm.stim_a[j]), (axon_b[j], fsm.stim_b[j])):
            masked = np.asarray(stim) <= 0
            w_in[:n, ax] = np.where(masked, _INHIBIT, 0)
            w_in[n:2 * n, ax] = np.where(masked, _INHIBIT, 0)
    for i in range(n_states):
        x = fsm.states[i]
        w_in[:n, axon_cue[i]] = np.where(x > 0, _EXCITE, _INHIBIT)
        w_in[n:2 * n, axon_cue[i]] = np.where(x < 0, _EXCITE, _INHIBIT)
    net = Network(n_in, (pop,), (rec, Connection(INPUT, "fsm", w_in, w_exp=e)))
    mant = mant.copy()
    mant.setflags(write=False)
    return CoreFSM(net, fsm, mant, -k, e, axon_a, axon_b, axon_cue)


def _sparse_recurrent(mant: np.ndarray, w_exp: int) -> Connection:
    """The recurrent connection ``[[W, -W, 0], [-W, W, -2], 0]`` in CSR form (non-zeros only)."""
    n = mant.shape[0]
    rows, cols = np.nonzero(mant)
    vals = mant[rows, cols].astype(np.int8)
    neg = (-vals.astype(np.int16)).astype(np.int8)
    bias_rows = np.arange(n, 2 * n)
    r = np.concatenate([rows, rows, rows + n, rows + n, bias_rows])
    c = np.concatenate([cols, cols + n, cols, cols + n, np.full(n, 2 * n)])
    v = np.concatenate([vals, neg, neg, vals, np.full(n, -2, np.int8)])
    order = np.lexsort((c, r))
    r, c, v = r[order], c[order], v[order]
    indptr = np.zeros(2 * n + 2, np.int64)
    np.cumsum(np.bincount(r, minlength=2 * n + 1), out=indptr[1:])
    return Connection("fsm", "fsm", v, w_exp=w_exp, indptr=indptr, indices=c)


# --------------------------------------------------------------------------- running


@dataclasses.dataclass(frozen=True, eq=False)
class CoreWalk:
    """A walk run on the core (:func:`run_on_core`).

    ``spikes`` ``(T + 2, 2 N + 1)`` bool as the engine returned them; ``zm`` ``(T, N)`` int8 the
    decoded reference-step states ``z_tau o m_tau`` (``tau = 0 .. T-1``) and ``final`` the state
    after the last step. ``decoded``: the node state after each symbol (end of its release phase;
    overlaps are taken over the unmasked components), ``decoded_output``: the edge output seen
    at the end of each hold (None: none), ``correct``: every phase ended in the expected attractor
    with overlap > 0.5 and every output matched (:func:`edgelearn.fsm_sim.walk`'s strict
    criterion). ``engine``, ``seconds`` (the engine's run only) and ``steps_per_second``.
    """

    engine: str
    spikes: np.ndarray
    zm: np.ndarray
    final: np.ndarray
    expected: tuple[str, ...]
    decoded: tuple[str | None, ...]
    correct: bool
    errors: tuple[str, ...]
    seconds: float
    expected_output: tuple[str | None, ...] = ()
    decoded_output: tuple[str | None, ...] = ()
    masks: np.ndarray | None = None
    phase: np.ndarray | None = None

    def overlaps(self, core: CoreFSM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per reference step ``tau = 1 .. T``: the overlap of the state with every node state
        ``(T, N_Z)`` and edge state ``(T, N_E)``, over the components visible in the spikes
        (the unmasked ones), and the phase code ``(T,)`` (0 rest, 1 hold, 2 release)."""
        n = core.n
        z = np.concatenate([self.zm[1:], self.final[None]]).astype(np.float32)
        vis = np.concatenate([self.masks[1:], np.ones((1, n), np.int8)]).sum(axis=1)
        readout = np.concatenate([core.fsm.states, core.fsm.edge_out]).astype(np.float32)
        ov = (z @ readout.T) / np.maximum(vis, 1)[:, None].astype(np.float32)
        nz = len(core.fsm.spec.states)
        return ov[:, :nz], ov[:, nz:], self.phase

    @property
    def steps_per_second(self) -> float:
        return self.spikes.shape[0] / self.seconds if self.seconds > 0 else float("inf")


def run_on_core(core: CoreFSM, schedule: Schedule, *,
                engine: Literal["runtime", "twin"] = "runtime",
                start: str | None = None) -> CoreWalk:
    """Run ``schedule`` on the C runtime (default) or the JAX twin and judge the walk.

    The raster is :meth:`CoreFSM.raster`; the network is deployed as is (nothing here simulates
    the dynamics).
    """
    raster = core.raster(schedule, start)
    if engine == "runtime":
        from . import runtime

        c = runtime.Core(core.network)
        t0 = time.perf_counter()
        spikes = c.run(raster).s
        seconds = time.perf_counter() - t0
    elif engine == "twin":
        from . import twin

        t0 = time.perf_counter()
        spikes = np.asarray(twin.simulate(core.network, inputs=raster).spikes) > 0
        seconds = time.perf_counter() - t0
    else:
        raise ValueError(f"engine must be 'runtime' or 'twin', got {engine!r}")
    n = core.n
    all_zm = decode_spikes(spikes, n)
    zm, final = all_zm[1:-1], all_zm[-1]
    spec = core.fsm.spec
    state = spec.start if start is None else start
    targets, expected, expected_out = expected_targets(spec, schedule.symbols, state)
    outs = core.fsm.outputs.astype(np.float32)
    # phase ends (reference step index of the last step of each phase; phases may be empty)
    axon, phase_codes, _ = core.program(schedule)
    lengths = []
    for k in range(len(schedule.symbols)):
        lengths += [schedule.rest[k], schedule.hold[k], schedule.release[k]]
    lengths.append(schedule.final_rest)
    readout = np.concatenate([core.fsm.states, core.fsm.edge_out]).astype(np.float32)
    masks = np.ones((len(axon), n), np.int8)
    for ax_, stim in ((core.axon_a, core.fsm.stim_a), (core.axon_b, core.fsm.stim_b)):
        for j, ax in enumerate(ax_):
            rows = axon == ax
            if np.any(rows):
                masks[rows] = (np.asarray(stim[j]) > 0)
    nz = len(spec.states)
    names = list(spec.states) + [f"edge[{i}]" for i in range(len(spec.transitions))]
    errors: list[str] = []
    decoded: list[str | None] = []
    decoded_out: list[str | None] = []
    t_end = 0  # z after the phase = state carried into the next reference step
    for j, ((kind, idx), length) in enumerate(zip(targets, lengths, strict=True)):
        t_end += length
        # z_(t_end) o m_(t_end): what the next step transmits; the last one is ``final``
        if t_end < len(zm):
            z, m = zm[t_end].astype(np.float32), masks[t_end].astype(np.float32)
        else:
            z, m = final.astype(np.float32), np.ones(n, np.float32)
        visible = max(float(m.sum()), 1.0)
        ov = readout @ z / visible
        want = idx if kind == "state" else nz + idx
        best = int(np.argmax(ov))
        k = j // 3
        if j % 3 == 1 and k < len(schedule.symbols):
            # fraction of each output code's visible components that the network carries
            seen = outs @ z / np.maximum(np.abs(outs) @ m, 1.0)
            best_out = int(np.argmax(seen)) if seen.size else -1
            got = spec.outputs[best_out] if seen.size and seen[best_out] > 0.5 else None
            decoded_out.append(got)
            if got != expected_out[k]:
                errors.append(f"symbol {k}: output {got!r}, expected {expected_out[k]!r}")
        if j % 3 == 2 and k < len(schedule.symbols):
            sb = int(np.argmax(ov[:nz]))
            decoded.append(spec.states[sb] if ov[sb] > 0.5 else None)
        if best != want or ov[want] <= 0.5:
            errors.append(f"phase {j} (symbol {k}): nearest {names[best]} ({ov[best]:.3f}), "
                          f"expected {names[want]} ({ov[want]:.3f})")
    return CoreWalk(engine, spikes, zm, final, tuple(expected), tuple(decoded), not errors,
                    tuple(errors), seconds, tuple(expected_out), tuple(decoded_out), masks,
                    phase_codes)


def events_to_schedule(events: Sequence[tuple[float, float, str]], *, step: float,
                       release: int = 4, min_hold: int = 2, final_rest: int = 2) -> Schedule:
    """Symbol events ``(t_on, t_off, symbol)`` (any time unit, e.g. microseconds) to a schedule.

    Each event presses ``symbol`` from ``t_on`` to ``t_off``: ``s_a`` for
    ``max(min_hold, round((t_off - t_on) / step))`` steps, then ``s_b`` for ``release`` steps on
    its release, then no input until the next onset (at least one step). Events are taken in
    onset order and must not overlap (a classifier emits one symbol at a time).
    """
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step!r}")
    evs = sorted(events, key=lambda e: e[0])
    symbols, hold, rel, rest = [], [], [], []
    t_free = None  # time (in steps) at which the previous release ended
    for k, (on, off, sym) in enumerate(evs):
        if off < on:
            raise ValueError(f"event {k} ({sym!r}): t_off {off} < t_on {on}")
        on_s = int(round(on / step))
        if t_free is not None and on_s < t_free:
            raise ValueError(f"event {k} ({sym!r}) starts at step {on_s}, before the previous "
                             f"symbol's release ends (step {t_free})")
        h = max(min_hold, int(round((off - on) / step)))
        gap = max(1, on_s - (t_free if t_free is not None else 0))
        symbols.append(sym)
        hold.append(h)
        rel.append(release)
        rest.append(gap)
        t_free = (t_free or 0) + gap + h + release
    return Schedule(tuple(symbols), tuple(hold), tuple(rel), tuple(rest), final_rest)
