"""Finite-state machines embedded in attractor networks (Cotteret et al., Neural Computation 2024).

A machine is a set of transitions ``source --symbol--> target`` (optionally with an output symbol)
and a start state. :func:`compile_fsm` turns it into the weights of an attractor network of ``N``
bipolar neurons in one shot, no training:

    W = (1/N) sum_states x x^T + (1/N) sum_edges E,
    E = e_r e^T + H(s_a) o (e - x)(x o s_a)^T + H(s_b) o (y - e)(e o s_b)^T,  diag(W) = 0,

for an edge ``x --sigma--> y``: ``x, y`` the node hypervectors of source and target, ``e`` a fresh
*edge state* (an intermediate attractor, one per edge), ``s_a, s_b`` the two stimulus
hypervectors of the input symbol ``sigma`` (every symbol has its own pair), ``H`` the Heaviside
step, ``o`` the elementwise product and ``e_r = e o (1 - H(r o r)) + r`` the edge state carrying
the edge's sparse ternary output code ``r`` (``e_r = e`` for an edge without output). Input acts
by masking: while ``s`` is presented, ``z <- sgn(W (z o H(s)))`` (``sgn(0) = +1``); with no
input, ``z <- sgn(W z)``. Presenting ``s_a`` moves the network from ``x`` to ``e`` and holds it
there however long ``s_a`` lasts (``e`` has no ``s_a`` edge); presenting ``s_b`` then moves it on
to ``y`` and holds it there. That two-stage handshake is what keeps a held symbol from skipping
states (``x -> y -> z`` on one long press) or oscillating along a bidirectional edge. A symbol
with no edge from the current state leaves the network where it is (the masked state still
projects onto its own attractor). Simulation lives in :mod:`edgelearn.fsm_sim`.

Weights are kept scaled by ``N`` (``N * W``), which is integer-valued for the default balanced
stimuli, so the ideal matrix is exact in float32 and quantises losslessly to 8 bits whenever
``max |N W| <= 127`` (always true for the paper's 8-state, 16-edge machine: the bound is
``N_Z + N_E + 4 N_E = 88``). :func:`quantize_int8`, :func:`binarize`, :func:`add_weight_noise` and
:func:`sparsify` produce the paper's non-ideal matrices.

Machines are written in TOML (:func:`load_fsm`)::

    start = "idle"
    transitions = [
      { from = "idle", input = "go",   to = "run" },
      { from = "run",  input = "stop", to = "idle", output = "halted" },
    ]

States and symbols are inferred (an optional ``states = [...]`` declares them, isolated states
included); a symbol with no edge from the current state leaves the machine where it is.
"""

from __future__ import annotations

import dataclasses
import fractions
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from . import constants as C
from . import vsa

__all__ = [
    "CAPACITY_BETA",
    "CAPACITY_FRACTION",
    "CompiledFSM",
    "FSMSpec",
    "Transition",
    "add_weight_noise",
    "binarize",
    "capacity_load",
    "compile_fsm",
    "fsm_from_dict",
    "load_fsm",
    "max_states_for",
    "quantize_int8",
    "sparsify",
]

#: The paper's dense capacity bound ``N_Z + BETA * N_E < FRACTION * N`` (Cotteret et al. 2024,
#: eq. 30, fitted by SVM over random machines; ``BETA = 2.2 +- 0.1``).
CAPACITY_BETA = 2.2
CAPACITY_FRACTION = 0.10

_NAME = re.compile(r"[A-Za-z0-9_.:+\-]+")  # the whole name (fullmatch: no trailing newline)
_TOP_FIELDS = ("start", "states", "transitions")
_EDGE_FIELDS = ("from", "input", "to", "output")


# --------------------------------------------------------------------------- the machine


@dataclasses.dataclass(frozen=True)
class Transition:
    """One edge ``source --symbol--> target`` with an optional output symbol."""

    source: str
    symbol: str
    target: str
    output: str | None = None

    def __str__(self) -> str:
        out = f" / {self.output}" if self.output is not None else ""
        return f"{self.source} --{self.symbol}--> {self.target}{out}"


@dataclasses.dataclass(frozen=True)
class FSMSpec:
    """A deterministic machine: ``start``, ``transitions`` and the names they use.

    ``states`` lists the start state first, then states in order of first appearance (declared
    states first when ``states`` was given); ``symbols`` and ``outputs`` in order of first
    appearance. Build one with :meth:`build` (checks everything) or :func:`load_fsm`.
    """

    start: str
    transitions: tuple[Transition, ...]
    states: tuple[str, ...]
    symbols: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def build(cls, start: str, transitions: Iterable[Transition | Sequence[str]], *,
              states: Sequence[str] | None = None, where: str = "machine") -> FSMSpec:
        """Check and build a machine. ``where`` prefixes every error message (e.g. a file name).

        Raises ``ValueError`` for a bad name, a duplicate edge, or two edges leaving one state on
        one symbol towards different targets (non-deterministic).
        """
        _check_name(f"{where}: start", start)
        edges: list[Transition] = []
        for k, t in enumerate(transitions):
            if not isinstance(t, Transition):
                t = Transition(*t)
            w = f"{where}: transitions[{k}]"
            _check_name(f"{w}.from", t.source)
            _check_name(f"{w}.input", t.symbol)
            _check_name(f"{w}.to", t.target)
            if t.output is not None:
                _check_name(f"{w}.output", t.output)
            edges.append(t)
        seen: dict[tuple[str, str], int] = {}
        for k, t in enumerate(edges):
            key = (t.source, t.symbol)
            if key in seen:
                j = seen[key]
                other = edges[j]
                if other.target == t.target:
                    raise ValueError(f"{where}: duplicate edge {t.source} --{t.symbol}--> "
                                     f"{t.target} (transitions[{j}] and transitions[{k}])")
                raise ValueError(f"{where}: non-deterministic edges from {t.source!r} on "
                                 f"{t.symbol!r}: transitions[{j}] goes to {other.target!r}, "
                                 f"transitions[{k}] to {t.target!r}")
            seen[key] = k
        names: list[str] = []
        if states is not None:
            for k, s in enumerate(states):
                _check_name(f"{where}: states[{k}]", s)
                if s in names:
                    raise ValueError(f"{where}: states[{k}]: state {s!r} declared twice")
                names.append(s)
            if start not in names:
                raise ValueError(f"{where}: start state {start!r} is not among the declared "
                                 f"states {names}")
            for k, t in enumerate(edges):
                for field, s in (("from", t.source), ("to", t.target)):
                    if s not in names:
                        raise ValueError(f"{where}: transitions[{k}].{field}: state {s!r} is "
                                         f"not declared in states")
        else:
            if not any(start in (t.source, t.target) for t in edges):
                raise ValueError(f"{where}: start state {start!r} appears in no transition "
                                 f"(declare it in states = [...] if it is meant to be isolated)")
            for t in edges:
                for s in (t.source, t.target):
                    if s not in names:
                        names.append(s)
        ordered = [start] + [s for s in names if s != start]
        symbols: list[str] = []
        outputs: list[str] = []
        for t in edges:
            if t.symbol not in symbols:
                symbols.append(t.symbol)
            if t.output is not None and t.output not in outputs:
                outputs.append(t.output)
        return cls(start, tuple(edges), tuple(ordered), tuple(symbols), tuple(outputs))

    def edge(self, state: str, symbol: str) -> int | None:
        """Index of the edge leaving ``state`` on ``symbol``, or None (the symbol is ignored)."""
        for k, t in enumerate(self.transitions):
            if t.source == state and t.symbol == symbol:
                return k
        return None

    def next_state(self, state: str, symbol: str) -> str:
        """The reference semantics: the edge's target, or ``state`` itself when there is none."""
        k = self.edge(state, symbol)
        return state if k is None else self.transitions[k].target

    def run(self, symbols: Iterable[str], start: str | None = None) -> list[str]:
        """States after each symbol, from ``start`` (default: the machine's start state)."""
        state = self.start if start is None else start
        out = []
        for s in symbols:
            state = self.next_state(state, s)
            out.append(state)
        return out

    def to_dict(self) -> dict:
        """The TOML structure (``from``/``input``/``to``/``output``), for round trips."""
        edges = []
        for t in self.transitions:
            d = {"from": t.source, "input": t.symbol, "to": t.target}
            if t.output is not None:
                d["output"] = t.output
            edges.append(d)
        return {"start": self.start, "states": list(self.states), "transitions": edges}


def _check_name(where: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
    if not _NAME.fullmatch(value):
        raise ValueError(f"{where}: {value!r} is not a valid name (letters, digits and _ . : + -; "
                         f"no spaces or commas)")


def fsm_from_dict(data: Mapping, *, where: str = "machine") -> FSMSpec:
    """Build a machine from the TOML structure (a mapping); errors name ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a table, got {type(data).__name__}")
    for key in data:
        if key not in _TOP_FIELDS:
            raise ValueError(f"{where}: unknown field {key!r} (allowed: {', '.join(_TOP_FIELDS)})")
    if "start" not in data:
        raise ValueError(f"{where}: missing field 'start'")
    if "transitions" not in data:
        raise ValueError(f"{where}: missing field 'transitions'")
    raw = data["transitions"]
    if not isinstance(raw, list):
        raise ValueError(f"{where}: transitions: expected an array of tables, got "
                         f"{type(raw).__name__}")
    edges = []
    for k, item in enumerate(raw):
        w = f"{where}: transitions[{k}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{w}: expected a table like {{ from = \"a\", input = \"x\", "
                             f"to = \"b\" }}, got {item!r}")
        for key in item:
            if key not in _EDGE_FIELDS:
                raise ValueError(f"{w}: unknown field {key!r} (allowed: "
                                 f"{', '.join(_EDGE_FIELDS)})")
        for key in ("from", "input", "to"):
            if key not in item:
                raise ValueError(f"{w}: missing field {key!r}")
        edges.append(Transition(item["from"], item["input"], item["to"], item.get("output")))
    states = data.get("states")
    if states is not None and not isinstance(states, list):
        raise ValueError(f"{where}: states: expected an array of names, got "
                         f"{type(states).__name__}")
    return FSMSpec.build(data["start"], edges, states=states, where=where)


def load_fsm(path: str | Path) -> FSMSpec:
    """Read a machine from a TOML file. ``ValueError`` names the file, the field and the edge."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: invalid TOML: {e}") from None
    return fsm_from_dict(data, where=str(path))


# --------------------------------------------------------------------------- capacity


# the bound in exact rationals: in floats 0.1 * 162 < 14 + 2.2 (16.2 vs 16.200000000000003)
# refused N = 162 for 14 states and 1 edge, and max_states_for was one too high for 102 N < 20,000
_BETA = fractions.Fraction(str(CAPACITY_BETA))
_FRACTION = fractions.Fraction(str(CAPACITY_FRACTION))


def capacity_load(n_states: int, n_edges: int) -> float:
    """``N_Z + 2.2 N_E``, the left side of the paper's dense bound (< 0.10 N)."""
    return float(n_states + _BETA * n_edges)


def max_states_for(n: int) -> int:
    """Largest ``C`` with ``C`` states and ``C`` edges inside the dense bound for ``n`` neurons."""
    return max(0, math.ceil(_FRACTION * n / (1 + _BETA)) - 1)


def _check_capacity(spec: FSMSpec, n: int, where: str) -> None:
    exact = len(spec.states) + _BETA * len(spec.transitions)
    load = float(exact)
    if exact >= _FRACTION * n:
        need = math.floor(exact / _FRACTION) + 1
        raise ValueError(
            f"{where}: machine too large for N = {n}: {len(spec.states)} states + "
            f"{CAPACITY_BETA} x {len(spec.transitions)} transitions = {load:g} >= "
            f"{CAPACITY_FRACTION} x N = {CAPACITY_FRACTION * n:g} (the dense capacity bound of "
            f"Cotteret et al. 2024, eq. 30); use N >= {need}")


# --------------------------------------------------------------------------- compilation


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledFSM:
    """A machine's hypervectors; the weights follow from them (:meth:`factors`, :meth:`dense`).

    Arrays (``N`` neurons): ``states (N_Z, N)`` node attractors in ``spec.states`` order;
    ``edges (N_E, N)`` edge states ``e`` in ``spec.transitions`` order; ``edge_out (N_E, N)``
    the stored ``e_r``; ``stim_a, stim_b (N_S, N)`` the stimuli of each symbol in
    ``spec.symbols`` order (``int8`` when ``f_s = 0.5``, else ``float32``); ``outputs (N_R, N)``
    sparse ternary output codes in ``spec.outputs`` order. All read-only.
    """

    spec: FSMSpec
    n: int
    states: np.ndarray
    edges: np.ndarray
    edge_out: np.ndarray
    stim_a: np.ndarray
    stim_b: np.ndarray
    outputs: np.ndarray
    f_s: float = 0.5
    seed: int | None = None

    @property
    def rank(self) -> int:
        """Number of rank-one terms in ``N W`` (``N_Z + 3 N_E``)."""
        return len(self.spec.states) + 3 * len(self.spec.transitions)

    def symbol_index(self, symbol: str) -> int:
        try:
            return self.spec.symbols.index(symbol)
        except ValueError:
            raise KeyError(f"unknown symbol {symbol!r}; the machine's symbols are "
                           f"{list(self.spec.symbols)}") from None

    def mask(self, symbol: str, phase: str) -> np.ndarray:
        """``H(s)`` (``int8`` 0/1) for ``phase`` ``"a"`` or ``"b"`` of ``symbol``."""
        if phase not in ("a", "b"):
            raise ValueError(f"phase must be 'a' or 'b', got {phase!r}")
        stim = self.stim_a if phase == "a" else self.stim_b
        return vsa.heaviside(stim[self.symbol_index(symbol)])

    def factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(U, V, d)`` with ``N W = U V^T - diag(d)`` (float32; ``d`` the zeroed diagonal).

        Columns: one per state (``x, x``), then per edge ``(e_r, e)``,
        ``(H(s_a) o (e - x), x o s_a)`` and ``(H(s_b) o (y - e), e o s_b)``.
        """
        spec = self.spec
        nz, ne = len(spec.states), len(spec.transitions)
        u = np.empty((self.n, nz + 3 * ne), np.float32)
        v = np.empty_like(u)
        x = self.states.astype(np.float32)
        u[:, :nz] = x.T
        v[:, :nz] = x.T
        sidx = {s: i for i, s in enumerate(spec.states)}
        yidx = {s: i for i, s in enumerate(spec.symbols)}
        for k, t in enumerate(spec.transitions):
            xs = x[sidx[t.source]]
            ys = x[sidx[t.target]]
            e = self.edges[k].astype(np.float32)
            sa = self.stim_a[yidx[t.symbol]].astype(np.float32)
            sb = self.stim_b[yidx[t.symbol]].astype(np.float32)
            c = nz + 3 * k
            u[:, c] = self.edge_out[k]
            v[:, c] = e
            u[:, c + 1] = (sa > 0) * (e - xs)
            v[:, c + 1] = xs * sa
            u[:, c + 2] = (sb > 0) * (ys - e)
            v[:, c + 2] = e * sb
        d = np.einsum("ij,ij->i", u, v, dtype=np.float32)
        return u, v, d

    def dense(self, *, transposed: bool = False) -> np.ndarray:
        """The ideal ``N W`` as a dense float32 ``(N, N)`` matrix with a zero diagonal.

        Integer-valued (and so exact in float32) for balanced stimuli (``f_s = 0.5``).
        ``transposed=True`` returns ``(N W)^T`` directly (what :class:`fsm_sim.DenseWeights`
        stores), saving a copy of an ``N x N`` matrix.
        """
        u, v, _ = self.factors()
        w = v @ u.T if transposed else u @ v.T
        np.fill_diagonal(w, 0.0)
        return w


def compile_fsm(spec: FSMSpec, n: int, *, seed: int | np.random.Generator = 0,
                f_s: float = 0.5, output_active: int | None = None,
                check_capacity: bool = True, where: str = "machine") -> CompiledFSM:
    """Draw the hypervectors of ``spec`` for ``n`` neurons (weights: :meth:`CompiledFSM.dense`).

    - ``seed``: an int or a ``numpy.random.Generator``; everything random comes from it, in a
      fixed order (states, edge states, stimuli a, stimuli b, outputs).
    - ``f_s``: fraction of unmasked neurons per stimulus (0.5: balanced bipolar, the paper's
      default; larger masks fewer neurons at some cost in capacity, appendix E).
    - ``output_active``: non-zero components per output code (default
      ``max(N // 50, min(100, N // 10))``: the paper's ``N f_r = 200`` at ``N = 10,000``, and
      never fewer than 100 for ``N >= 1000``, so that reading an output from the half of the
      neurons left visible by a mask stays reliable at small ``N``).
    - ``check_capacity``: raise ``ValueError`` when ``N_Z + 2.2 N_E >= 0.10 N``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 16 <= n <= C.MAX_FANIN:
        raise ValueError(f"{where}: N must be an integer in [16, {C.MAX_FANIN}], got {n!r}")
    n = int(n)
    if check_capacity:
        _check_capacity(spec, n, where)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    seed_value = None if isinstance(seed, np.random.Generator) else int(seed)
    nz, ne, ns, nr = (len(spec.states), len(spec.transitions), len(spec.symbols),
                      len(spec.outputs))
    states = vsa.random_bipolar(rng, nz, n)
    edges = vsa.random_bipolar(rng, ne, n)
    stim_a = vsa.stimulus(rng, ns, n, f_s)
    stim_b = vsa.stimulus(rng, ns, n, f_s)
    k_out = max(1, n // 50, min(100, n // 10)) if output_active is None else int(output_active)
    if not 0 < k_out <= n // 4:
        raise ValueError(f"{where}: output_active must be in [1, N/4 = {n // 4}], got {k_out}")
    outputs = vsa.sparse_ternary(rng, nr, n, k_out)
    edge_out = edges.copy()
    for k, t in enumerate(spec.transitions):
        if t.output is not None:
            r = outputs[spec.outputs.index(t.output)]
            edge_out[k] = np.where(r != 0, r, edges[k])  # e o (1 - H(r o r)) + r
    arrays = [states, edges, edge_out, stim_a, stim_b, outputs]
    for a in arrays:
        a.setflags(write=False)
    return CompiledFSM(spec, n, *arrays, f_s=float(f_s), seed=seed_value)


# --------------------------------------------------------------------------- non-ideal weights
#
# All take and return N W (any positive scale: sgn is scale-free). Rounding is documented per
# function; random draws come from an explicit generator.


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_int8(w: np.ndarray, *, even: bool = False) -> tuple[np.ndarray, int]:
    """8-bit signed mantissas and a power-of-two scale: ``w ~= mant * 2**exp``.

    ``exp >= 0`` is the smallest exponent for which every rounded mantissa fits the symmetric
    range ``[-127, 127]`` (``[-126, 126]`` with ``even``); rounding is half away from zero. For
    integer-valued ``w`` with ``max |w| <= 127`` this is exact (``exp = 0``). ``even=True``
    restricts mantissas to even values, which the core's mixed-sign mode keeps unchanged (spec
    section 3: it floors the lowest mantissa bit), i.e. 7 effective bits. Returns
    ``(mant int8, exp)``.
    """
    w = np.asarray(w)
    if w.dtype.kind != "f":
        w = w.astype(np.float32)
    top = float(np.max(np.abs(w))) if w.size else 0.0
    step = 2 if even else 1
    exp = 0
    # the largest magnitude decides: mant(top) <= 127 (126 when even) after rounding
    while top and _round_half_away(np.float64(top) / 2 ** exp / step) * step > C.WEIGHT_MAX:
        exp += 1
    div = 2 ** exp * step
    wi = w.astype(np.int32)
    if np.array_equal(wi, w):  # integer-valued: integer rounding, no float temporaries
        if div == 1:
            return wi.astype(np.int8), 0  # exact: integer-valued and in range
        mag = (np.abs(wi) + div // 2) // div  # half away from zero
        return (np.sign(wi) * mag * step).astype(np.int8), exp
    del wi
    scale = w.dtype.type(1.0 / div)
    mant = w * scale
    mant = np.sign(mant) * np.floor(np.abs(mant) + mant.dtype.type(0.5))
    if step != 1:
        mant *= step
    return mant.astype(np.int8), exp


def binarize(w: np.ndarray) -> np.ndarray:
    """1-bit weights ``sgn(w)`` with ``sgn(0) = +1`` (the paper's convention), ``float32``."""
    return np.where(np.asarray(w) >= 0, 1.0, -1.0).astype(np.float32)


def add_weight_noise(w: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``w + sigma * chi`` with ``chi`` i.i.d. standard normal, drawn once (float32).

    Applied to :func:`binarize` output this is the paper's eq. 28; ``sigma = 2`` is its 0 dB case.
    """
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    w = np.asarray(w, dtype=np.float32)
    noise = rng.standard_normal(w.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    noise += w
    return noise


def sparsify(w: np.ndarray, zero_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Ternary weights ``sgn(w) * H(|w| - theta)`` keeping the largest ``|w|`` (paper eq. 29).

    Exactly ``round((1 - zero_fraction) * w.size)`` entries stay non-zero; ties at the threshold
    (common: ``N W`` is integer-valued) are broken uniformly at random by ``rng``. ``float32``.
    """
    zf = float(zero_fraction)
    if not 0.0 <= zf < 1.0:
        raise ValueError(f"zero_fraction must be in [0, 1), got {zero_fraction!r}")
    w = np.asarray(w, dtype=np.float32)
    flat = np.abs(w).ravel()
    keep = int(round((1.0 - zf) * flat.size))
    out = np.zeros(flat.size, np.float32)
    if keep:
        # |w| plus a random fraction in [0, 0.5): orders by |w| for integer-valued w and breaks
        # ties at random; for general w the jitter is scaled below the smallest gap's order.
        vals = np.unique(flat)
        gap = float(np.min(np.diff(vals))) if vals.size > 1 else 1.0
        key = flat + rng.random(flat.size, dtype=np.float32) * np.float32(0.5 * gap)
        idx = np.argpartition(key, flat.size - keep)[flat.size - keep:]
        out[idx] = np.where(w.ravel()[idx] >= 0, 1.0, -1.0)
    return out.reshape(w.shape)


# --------------------------------------------------------------------------- artifact (.npz)

NPZ_FORMAT = "edgelearn-fsm-npz"
NPZ_VERSION = 1


def save_npz(path: str | Path, fsm: CompiledFSM, mant: np.ndarray, exp: int) -> None:
    """Write a compiled machine with its int8 weights (``N W ~= mant * 2**exp``) to ``.npz``.

    A stop-gap until the versioned ``.elm`` artifact exists: keys ``format``, ``version``,
    ``spec`` (JSON), ``n``, ``f_s``, ``seed``, ``w`` (int8 ``(N, N)``), ``w_exp`` and the
    hypervector arrays of :class:`CompiledFSM`.
    """
    np.savez(
        Path(path), format=np.str_(NPZ_FORMAT), version=np.int32(NPZ_VERSION),
        spec=np.str_(json.dumps(fsm.spec.to_dict())), n=np.int64(fsm.n),
        f_s=np.float64(fsm.f_s), seed=np.int64(-1 if fsm.seed is None else fsm.seed),
        w=np.asarray(mant, np.int8), w_exp=np.int32(exp), states=fsm.states, edges=fsm.edges,
        edge_out=fsm.edge_out, stim_a=fsm.stim_a, stim_b=fsm.stim_b, outputs=fsm.outputs)


def load_npz(path: str | Path) -> tuple[CompiledFSM, np.ndarray, int]:
    """Read what :func:`save_npz` wrote: ``(fsm, mant, exp)``. ``ValueError`` on a bad file."""
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    with z:
        if "format" not in z.files or str(z["format"]) != NPZ_FORMAT:
            raise ValueError(f"{path}: not a compiled state machine (no format = {NPZ_FORMAT!r})")
        version = int(z["version"])
        if version != NPZ_VERSION:
            raise ValueError(f"{path}: unsupported version {version} (this reader knows "
                             f"{NPZ_VERSION})")
        spec = fsm_from_dict(json.loads(str(z["spec"])), where=str(path))
        n = int(z["n"])
        arrays = {k: z[k] for k in ("states", "edges", "edge_out", "stim_a", "stim_b", "outputs")}
        for a in arrays.values():
            a.setflags(write=False)
        seed = int(z["seed"])
        fsm = CompiledFSM(spec, n, f_s=float(z["f_s"]), seed=None if seed < 0 else seed,
                          **arrays)
        mant = z["w"]
        if mant.shape != (n, n) or mant.dtype != np.int8:
            raise ValueError(f"{path}: w must be int8 of shape ({n}, {n}), got {mant.dtype} "
                             f"{mant.shape}")
        return fsm, mant, int(z["w_exp"])
