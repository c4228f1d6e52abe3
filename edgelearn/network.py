"""Network description shared by the twin and the C runtime.

A :class:`Network` is immutable and holds integers only (numpy arrays and ints): it is what gets
deployed. The twin derives its differentiable float parameters from it with
:func:`edgelearn.twin.params_from_network`; the C runtime loads it through
:mod:`edgelearn.runtime`. The semantics are in ``docs/spec.md`` sections 3 and 4.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np

from . import constants as C
from .rule import Rule

INPUT = "input"  #: the name of the input port when used as a connection source


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} = {v} is out of range [{lo}, {hi}]")
    return v


def _check_int_array(name: str, value: object, lo: int, hi: int, shape: tuple[int, ...] | None,
                     dtype: type) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "b" or arr.size == 0:
            arr = arr.astype(np.int64)
        elif arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or \
                not np.all(arr == np.round(arr)):
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
    if arr.size:
        # range first, on the values as given: a float like 1e20 must not wrap in a cast
        mn, mx = arr.min(), arr.max()
        if mn < lo or mx > hi:
            bad = mn if mn < lo else mx
            shown = int(bad) if arr.dtype.kind in "iu" else f"{float(bad):g}"
            raise ValueError(f"{name} holds {shown}, out of range [{lo}, {hi}]")
    return np.ascontiguousarray(arr.astype(dtype))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


@dataclasses.dataclass(frozen=True, eq=False)
class Population:
    """A group of compartments sharing ``du, dv, vth_mant, bias_exp, refractory``.

    ``bias_mant`` is per neuron (an int broadcasts). Ranges: ``docs/spec.md`` section 3.

    Third factor (spec 5.3): written by the host (``third_from=None``, the default), or computed
    by designated neurons: ``third_from`` names a population of the same size (this one
    included) and after every step neuron ``i`` takes ``r_i = clamp(shr(u_i, third_shift),
    -128, 127)`` from neuron ``i`` of that population; ``third_shift`` in ``[0, 23]``.
    """

    name: str
    size: int
    du: int = 0
    dv: int = 0
    vth_mant: int = 1
    bias_mant: np.ndarray | int = 0
    bias_exp: int = 0
    refractory: int = 1
    third_from: str | None = None
    third_shift: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name == INPUT:
            raise ValueError(f"population name must be a non-empty string other than "
                             f"{INPUT!r}, got {self.name!r}")
        size = _check_int(f"{self.name}.size", self.size, 1, C.MAX_NEURONS)
        object.__setattr__(self, "size", size)
        for field, lo, hi in (("du", 0, C.DECAY_MAX), ("dv", 0, C.DECAY_MAX),
                              ("vth_mant", 0, C.VTH_MANT_MAX), ("bias_exp", 0, C.BIAS_EXP_MAX),
                              ("refractory", 1, C.REFRACT_MAX)):
            object.__setattr__(self, field, _check_int(f"{self.name}.{field}",
                                                       getattr(self, field), lo, hi))
        bias = np.asarray(self.bias_mant)
        if bias.shape not in ((), (1,), (size,)):
            raise ValueError(f"{self.name}.bias_mant has shape {bias.shape}, expected () (one "
                             f"value for every neuron) or ({size},)")
        bias = np.broadcast_to(bias, (size,))
        bias = _check_int_array(f"{self.name}.bias_mant", bias, C.BIAS_MANT_MIN,
                                C.BIAS_MANT_MAX, (size,), np.int32)
        object.__setattr__(self, "bias_mant", _frozen(bias))
        if self.third_from is not None and (not isinstance(self.third_from, str) or
                                            not self.third_from or self.third_from == INPUT):
            raise ValueError(f"{self.name}.third_from must be None (the host writes the third "
                             f"factor) or the name of a population, got {self.third_from!r}")
        shift = _check_int(f"{self.name}.third_shift", self.third_shift, 0, C.THIRD_SHIFT_MAX)
        if self.third_from is None and shift != 0:
            raise ValueError(f"{self.name}.third_shift = {shift} needs third_from (a population "
                             f"whose u computes the third factor); the host writes it otherwise")
        object.__setattr__(self, "third_shift", shift)


@dataclasses.dataclass(frozen=True, eq=False)
class Connection:
    """Weights from ``src`` (a population name or :data:`INPUT`) to population ``dst``.

    Dense: ``weights`` is ``(N_dst, N_src)`` int8. Sparse: ``weights`` holds the stored values
    (int8) in CSR order with ``indptr`` (``N_dst + 1``) and ``indices`` (source of each value,
    sorted and unique within a row). ``mixed=None`` applies Lava's rule (both signs present).
    ``rule`` makes the connection plastic (``docs/spec.md`` section 5): its weights then become
    state that the plasticity processor updates.
    """

    src: str
    dst: str
    weights: np.ndarray
    w_exp: int = 0
    mixed: bool | None = None
    indptr: np.ndarray | None = None
    indices: np.ndarray | None = None
    rule: Rule | None = None

    @property
    def plastic(self) -> bool:
        return self.rule is not None

    @property
    def sparse(self) -> bool:
        return self.indptr is not None

    @property
    def kind(self) -> Literal["dense", "sparse"]:
        return "sparse" if self.sparse else "dense"

    def dense_weights(self, n_dst: int, n_src: int) -> np.ndarray:
        """The ``(n_dst, n_src)`` int8 mantissa matrix (zeros where a sparse one stores none)."""
        if not self.sparse:
            return self.weights
        out = np.zeros((n_dst, n_src), np.int8)
        rows = np.repeat(np.arange(n_dst), np.diff(self.indptr))
        out[rows, self.indices] = self.weights
        return out

    def effective_weights(self, n_dst: int, n_src: int) -> np.ndarray:
        """Mantissas after the sign-mode truncation ``w'`` (spec section 3), as int32."""
        w = self.dense_weights(n_dst, n_src).astype(np.int32)
        return (w >> 1) << 1 if self.mixed else w


@dataclasses.dataclass(frozen=True, eq=False)
class Network:
    """An input port of ``n_inputs`` axons, populations, and connections between them.

    ``seed`` (32-bit unsigned) drives the counter-based PRNG of stochastic rounding.
    """

    n_inputs: int
    populations: tuple[Population, ...]
    connections: tuple[Connection, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        n_in = _check_int("n_inputs", self.n_inputs, 0, C.MAX_FANIN)
        object.__setattr__(self, "n_inputs", n_in)
        object.__setattr__(self, "seed", _check_int("seed", self.seed, 0, 2**32 - 1))
        pops = tuple(self.populations)
        conns = tuple(self.connections)
        if not 1 <= len(pops) <= C.MAX_POPULATIONS:
            raise ValueError(f"a network needs 1 to {C.MAX_POPULATIONS} populations, "
                             f"got {len(pops)}")
        if len(conns) > C.MAX_CONNECTIONS:
            raise ValueError(f"a network holds at most {C.MAX_CONNECTIONS} connections, "
                             f"got {len(conns)}")
        names = [p.name for p in pops]
        if len(set(names)) != len(names):
            raise ValueError(f"population names must be unique, got {names}")
        sizes = {p.name: p.size for p in pops}
        for p in pops:
            if p.third_from is not None and sizes.get(p.third_from) != p.size:
                raise ValueError(
                    f"{p.name}.third_from = {p.third_from!r}: " + (
                        f"no such population; known: {names}" if p.third_from not in sizes else
                        f"it has {sizes[p.third_from]} neurons, {p.name} has {p.size} (the "
                        f"third factor of neuron i comes from its neuron i)"))
        sizes[INPUT] = n_in
        checked = []
        for k, c in enumerate(conns):
            checked.append(_check_connection(k, c, sizes))
        object.__setattr__(self, "populations", pops)
        object.__setattr__(self, "connections", tuple(checked))

    def size_of(self, name: str) -> int:
        if name == INPUT:
            return self.n_inputs
        return self.populations[self.index(name)].size

    def index(self, name: str) -> int:
        for i, p in enumerate(self.populations):
            if p.name == name:
                return i
        raise KeyError(f"no population named {name!r}")

    @property
    def plastic(self) -> tuple[int, ...]:
        """Indices of the plastic connections."""
        return tuple(k for k, c in enumerate(self.connections) if c.plastic)

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations)

    def computed_third(self) -> np.ndarray:
        """``(n_neurons,)`` bool: True for the neurons whose third factor designated neurons
        compute (spec 5.3); the host may write only 0 there."""
        return np.concatenate([np.full(p.size, p.third_from is not None)
                               for p in self.populations])

    def offsets(self) -> dict[str, int]:
        """Start of each population in the concatenated neuron vector."""
        out, k = {}, 0
        for p in self.populations:
            out[p.name] = k
            k += p.size
        return out


def check_host_third(name: str, values: np.ndarray, computed: np.ndarray) -> None:
    """Refuse (``ValueError``, naming the first index) host third factors ``values`` (last axis:
    neurons) that are not 0 where ``computed`` (:meth:`Network.computed_third`): designated
    neurons compute those (spec 5.3). The twin and the C runtime's binding both use it."""
    if computed.any() and np.any(values[..., computed] != 0):
        at = tuple(int(i) for i in np.argwhere((values != 0) & computed)[0])
        raise ValueError(f"{name} holds {values[at]} at index {at}, a neuron whose third factor "
                         f"designated neurons compute (spec 5.3): the host may write only 0 "
                         f"there")


def _check_connection(k: int, c: Connection, sizes: dict[str, int]) -> Connection:
    where = f"connections[{k}] ({c.src} -> {c.dst})"
    if c.src not in sizes:
        raise ValueError(f"{where}: unknown source {c.src!r}; known: {sorted(sizes)}")
    if c.dst not in sizes or c.dst == INPUT:
        raise ValueError(f"{where}: unknown destination population {c.dst!r}")
    n_dst, n_src = sizes[c.dst], sizes[c.src]
    if n_src > C.MAX_FANIN:
        raise ValueError(f"{where}: {n_src} sources exceed MAX_FANIN = {C.MAX_FANIN}")
    w_exp = _check_int(f"{where}.w_exp", c.w_exp, C.WEIGHT_EXP_MIN, C.WEIGHT_EXP_MAX)
    if c.indptr is None:
        if c.indices is not None:
            raise ValueError(f"{where}: indices given without indptr")
        w = _check_int_array(f"{where}.weights", c.weights, C.WEIGHT_MIN, C.WEIGHT_MAX,
                             (n_dst, n_src), np.int8)
        indptr = indices = None
    else:
        if c.indices is None:
            raise ValueError(f"{where}: indptr given without indices")
        indptr = _check_int_array(f"{where}.indptr", c.indptr, 0, n_dst * n_src,
                                  (n_dst + 1,), np.int32)
        nnz = int(indptr[-1])
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError(f"{where}: indptr must start at 0 and never decrease")
        indices = _check_int_array(f"{where}.indices", c.indices, 0, max(n_src - 1, 0),
                                   (nnz,), np.int32)
        w = _check_int_array(f"{where}.weights", c.weights, C.WEIGHT_MIN, C.WEIGHT_MAX,
                             (nnz,), np.int8)
        for i in range(n_dst):
            row = indices[indptr[i]:indptr[i + 1]]
            if row.size > 1 and np.any(np.diff(row) <= 0):
                raise ValueError(f"{where}: indices of row {i} must be sorted and unique")
        indptr, indices = _frozen(indptr), _frozen(indices)
    mixed = c.mixed
    if mixed is None:
        mixed = bool(np.any(w < 0) and np.any(w > 0))
    elif not isinstance(mixed, (bool, np.bool_)):
        raise TypeError(f"{where}.mixed must be True, False or None (Lava's rule), "
                        f"got {mixed!r}")
    if c.rule is not None:
        if not isinstance(c.rule, Rule):
            raise TypeError(f"{where}.rule must be an edgelearn.rule.Rule (use "
                            f"rule.parse(text)), got {type(c.rule).__name__}")
        try:  # the twin must accept exactly the rules the C loader accepts
            c.rule.check()
        except ValueError as e:
            raise ValueError(f"{where}.rule: {e}") from None
    return Connection(c.src, c.dst, _frozen(w), w_exp, bool(mixed), indptr, indices, c.rule)


def layer(n_inputs: int, size: int, *, w: np.ndarray, du: int = 0, dv: int = 0,
          vth_mant: int = 1, bias_mant: int | Sequence[int] | np.ndarray = 0, bias_exp: int = 0,
          w_exp: int = 0, refractory: int = 1, mixed: bool | None = None) -> Network:
    """A one-layer network: ``n_inputs`` axons densely connected to ``size`` neurons."""
    pop = Population("layer", size, du=du, dv=dv, vth_mant=vth_mant,
                     bias_mant=np.asarray(bias_mant), bias_exp=bias_exp, refractory=refractory)
    return Network(n_inputs, (pop,), (Connection(INPUT, "layer", w, w_exp, mixed),))
