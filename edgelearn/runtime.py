"""The C runtime (``csrc/``) in-process, through cffi: the only module that touches ``lib``.

A :class:`Core` loads an :class:`edgelearn.network.Network` into caller-owned memory (one block
sized by ``el_core_bytes``; the C side packs the weights source-major into it) and runs the
timestep of ``docs/spec.md`` section 4 bit for bit like the JAX twin.

Conventions (as in the twin and the CLI's layer cases):

- neurons are the populations concatenated in network order;
- ``raster`` is ``(T, n_inputs)`` bool: row ``k-1`` holds the axons that spike at step ``k``
  (they enter ``u`` at step ``k+1``);
- outputs are ``(T, n_neurons)``: row ``k-1`` is the state after step ``k`` (``u`` including that
  step's input, ``v`` after reset).

Plastic connections (``docs/spec.md`` section 5) run in C too (``csrc/el_learn.h``): the
network's seed and each rule's microcode go into the core; :meth:`Core.run` takes the host's
third-factor schedule; :meth:`Core.weights`, :meth:`Core.tags` and :meth:`Core.traces` read the
learned state; :meth:`Core.set_hyper` replaces a rule's hyperparameters in place.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import constants as C
from ._el_runtime import ffi, lib
from .network import INPUT, Network, check_host_third
from .rule import Hyper, Rule

__all__ = ["Core", "RunResult", "RuntimeStatusError", "constants", "rand", "rule_status",
           "simulate", "status_name"]


class RuntimeStatusError(RuntimeError):
    """A C call returned a status other than ``EL_OK``.

    ``func`` is the C function, ``status`` the code and ``name`` its enumerator's name."""

    def __init__(self, func: str, status: int) -> None:
        self.func = func
        self.status = int(status)
        self.name = status_name(status)
        super().__init__(f"{func} failed with {self.name} ({self.status})")


class RunResult(NamedTuple):
    """Outputs of :meth:`Core.run`: ``s`` ``(T, n_neurons)`` bool; ``u``, ``v`` ``(T, n_neurons)``
    int32 when probed, else ``None``."""

    s: np.ndarray
    u: np.ndarray | None
    v: np.ndarray | None


def status_name(status: int) -> str:
    """The C enumerator's name of a status code, e.g. ``"EL_ERR_RANGE"``."""
    return ffi.string(lib.el_status_name(int(status))).decode("ascii")


def _check(func: str, status: int) -> None:
    if status != lib.EL_OK:
        raise RuntimeStatusError(func, status)


def constants() -> dict[str, int]:
    """Every core constant of ``csrc/el_config.h``, read from C, by name without ``EL_``.

    The list comes from C's own table (``el_config_at``); each value is also checked against
    the ``EL_*`` macro that cffi compiled in (``csrc/cdef/core.h``).
    """
    out: dict[str, int] = {}
    value = ffi.new("int32_t *")
    for i in range(lib.el_config_count()):
        name = ffi.string(lib.el_config_at(i, value)).decode("ascii")
        macro = getattr(lib, "EL_" + name, None)
        if macro != int(value[0]):
            raise RuntimeError(f"EL_{name}: el_config table says {int(value[0])}, the cdef macro "
                               f"says {macro} (is it missing from csrc/cdef/core.h?)")
        out[name] = int(value[0])
    return out


def _spike_array(name: str, arr: object, shape: tuple[int, ...]) -> np.ndarray:
    """Validate a bool (or 0/1 integer) array of the given shape; return it C-contiguous uint8."""
    a = np.asarray(arr)
    if a.dtype.kind == "b":
        pass
    elif a.dtype.kind in "iu":
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ValueError(f"{name} must hold only 0/1 (spikes), got values in "
                             f"[{a.min()}, {a.max()}]")
    else:
        raise TypeError(f"{name} must be a bool array, got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    return np.ascontiguousarray(a, dtype=np.uint8)


class Core:
    """One network loaded into the C runtime, with its state.

    Memory: one zero-initialised block owned by this object holds the packed weights, biases,
    state and scratch (``el_core_bytes``); the descriptor arrays are only needed during init.
    """

    def __init__(self, network: Network) -> None:
        if not isinstance(network, Network):
            raise TypeError(f"network must be an edgelearn.network.Network, "
                            f"got {type(network).__name__}")
        self._network = network
        keep: list[object] = []  # keeps descriptor arrays alive until init has copied them
        pops = network.populations
        conns = network.connections
        pd = ffi.new("el_pop_desc_t[]", len(pops))
        for k, p in enumerate(pops):
            bias = np.ascontiguousarray(p.bias_mant, dtype=np.int16)
            keep.append(bias)
            pd[k].size = p.size
            pd[k].du = p.du
            pd[k].dv = p.dv
            pd[k].vth_mant = p.vth_mant
            pd[k].bias_exp = p.bias_exp
            pd[k].refractory = p.refractory
            pd[k].bias_mant = ffi.cast("const int16_t *", ffi.from_buffer(bias))
            if p.third_from is None:
                pd[k].flags = 0
            else:  # computed by designated neurons (spec 5.3)
                pd[k].flags = lib.EL_POP_THIRD_COMPUTED
                pd[k].third_src = network.index(p.third_from)
                pd[k].third_shift = p.third_shift
        cd = ffi.new("el_conn_desc_t[]", max(len(conns), 1))
        for k, c in enumerate(conns):
            cd[k].src = lib.EL_SRC_INPUT if c.src == INPUT else network.index(c.src)
            cd[k].dst = network.index(c.dst)
            cd[k].w_exp = c.w_exp
            cd[k].flags = lib.EL_CONN_MIXED if c.mixed else 0
            if c.plastic:
                code = ffi.from_buffer("uint8_t[]", c.rule.microcode())
                keep.append(code)
                cd[k].flags |= lib.EL_CONN_PLASTIC
                cd[k].rule = code
                cd[k].rule_len = len(code)
            w = np.ascontiguousarray(c.weights, dtype=np.int8)
            keep.append(w)
            cd[k].weights = ffi.cast("const int8_t *", ffi.from_buffer(w)) if w.size else ffi.NULL
            if c.sparse:
                indptr = np.ascontiguousarray(c.indptr, dtype=np.uint32)
                indices = np.ascontiguousarray(c.indices, dtype=np.uint32)
                keep += [indptr, indices]
                cd[k].kind = lib.EL_CONN_SPARSE
                cd[k].indptr = ffi.cast("const uint32_t *", ffi.from_buffer(indptr))
                cd[k].indices = (ffi.cast("const uint32_t *", ffi.from_buffer(indices))
                                 if indices.size else ffi.NULL)
            else:
                cd[k].kind = lib.EL_CONN_DENSE
                cd[k].indptr = ffi.NULL
                cd[k].indices = ffi.NULL
        desc = ffi.new("el_core_desc_t *")
        desc.n_inputs = network.n_inputs
        desc.n_pops = len(pops)
        desc.pops = pd
        desc.n_conns = len(conns)
        desc.conns = cd if conns else ffi.NULL
        desc.seed = network.seed
        nbytes = ffi.new("size_t *")
        _check("el_core_bytes", lib.el_core_bytes(desc, nbytes))
        # uint64 elements: the block is 8-byte aligned (EL_CORE_ALIGN) and zero-initialised.
        self._mem = ffi.new("uint64_t[]", (int(nbytes[0]) + 7) // 8)
        core = ffi.new("el_core_t **")
        _check("el_core_init", lib.el_core_init(desc, self._mem, nbytes[0], core))
        self._core = core[0]
        self._n = int(lib.el_core_n_neurons(self._core))
        self._computed = network.computed_third()
        self._n_in = int(lib.el_core_n_inputs(self._core))
        del keep

    @property
    def network(self) -> Network:
        return self._network

    @property
    def n_neurons(self) -> int:
        return self._n

    @property
    def n_inputs(self) -> int:
        return self._n_in

    @property
    def time(self) -> int:
        """Steps taken since construction or :meth:`reset` (or the value :attr:`time` was set
        to, plus the steps since)."""
        return int(lib.el_core_time(self._core))

    @time.setter
    def time(self, t: int) -> None:
        """Set the step counter only (``el_core_set_time``): the plasticity processor sees its
        low 32 bits (spec 4), so learning resumes where a core stopped at step ``t``."""
        t = int(t)
        if not 0 <= t < 2**64:
            raise ValueError(f"time must be in [0, 2^64), got {t}")
        _check("el_core_set_time", lib.el_core_set_time(self._core, t))

    def reset(self) -> None:
        """Start a new sample (spec 5.5): back to ``t = 0``, ``u = v = 0``, no spikes,
        refractory counts or pending input, third factors, traces, epoch bits and tags 0; the
        weights (plastic ones as learned), seed, rules and learning switch are kept. For the
        deployed weights again, make a new :class:`Core`."""
        _check("el_core_reset", lib.el_core_reset(self._core))

    #: the twin's name for the same operation (:func:`edgelearn.twin.reset_neurons`)
    reset_neurons = reset

    def _state(self, ptr: object, dtype: type) -> np.ndarray:
        size = np.dtype(dtype).itemsize * self._n
        return np.frombuffer(ffi.buffer(ptr, size), dtype=dtype).copy()

    @property
    def u(self) -> np.ndarray:
        """Current ``u``, ``(n_neurons,)`` int32 (a copy)."""
        return self._state(lib.el_core_u(self._core), np.int32)

    @property
    def v(self) -> np.ndarray:
        """Current ``v`` (after reset), ``(n_neurons,)`` int32 (a copy)."""
        return self._state(lib.el_core_v(self._core), np.int32)

    @property
    def third(self) -> np.ndarray:
        """The third factors in effect, ``(n_neurons,)`` int8 (a copy): the host's, and for
        the populations whose designated neurons compute it, the last step's (spec 5.3)."""
        return self._state(lib.el_core_third(self._core), np.int8)

    @property
    def spikes(self) -> np.ndarray:
        """Spikes of the last step, ``(n_neurons,)`` bool (a copy)."""
        return self._state(lib.el_core_spikes(self._core), np.uint8).astype(bool)

    def _conn(self, k: int, *, plastic: bool = False):
        conns = self._network.connections
        if not isinstance(k, (int, np.integer)) or not 0 <= k < len(conns):
            raise ValueError(f"k must be a connection index in [0, {len(conns) - 1}], got {k!r}")
        c = conns[int(k)]
        if plastic and not c.plastic:
            raise ValueError(f"connections[{k}] ({c.src} -> {c.dst}) is not plastic")
        return c, self._network.size_of(c.dst), self._network.size_of(c.src)

    def _plastic(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        _, n_dst, n_src = self._conn(k, plastic=True)
        w = np.zeros((n_dst, n_src), np.int8)
        e = np.zeros((n_dst, n_src), np.int8)
        if w.size:
            _check("el_core_read_plastic", lib.el_core_read_plastic(
                self._core, int(k), ffi.from_buffer("int8_t[]", w, require_writable=True),
                ffi.from_buffer("int8_t[]", e, require_writable=True), w.size))
        return w, e

    def tags(self, k: int) -> np.ndarray:
        """Plastic connection ``k``'s eligibility tags ``e``, ``(n_dst, n_src)`` int8 (zeros where
        a sparse connection stores no synapse)."""
        return self._plastic(k)[1]

    def traces(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Plastic connection ``k``'s traces: ``x`` ``(2, n_src)`` (x1, x2) and ``y``
        ``(3, n_dst)`` (y1, y2, y3), uint8 in ``[0, 127]``."""
        _, n_dst, n_src = self._conn(k, plastic=True)
        x = np.zeros((2, n_src), np.uint8)
        y = np.zeros((3, n_dst), np.uint8)
        _check("el_core_read_traces", lib.el_core_read_traces(
            self._core, int(k),
            ffi.from_buffer("uint8_t[]", x, require_writable=True) if x.size else ffi.NULL,
            ffi.from_buffer("uint8_t[]", y, require_writable=True)))
        return x, y

    def set_third(self, r: np.ndarray) -> None:
        """Write the third factor ``r`` of every neuron: ``(n_neurons,)`` integers in
        ``[-128, 127]`` (held until written again, spec 5.3); 0 for the neurons whose third
        factor designated neurons compute (they keep their computed value)."""
        a = _third_array("r", r, (self._n,), self._computed)
        _check("el_core_set_third", lib.el_core_set_third(self._core, ffi.from_buffer(
            "int8_t[]", a)))

    def set_learning(self, on: bool) -> None:
        """The core-wide learning switch (spec 5.4); on after construction."""
        _check("el_core_set_learning", lib.el_core_set_learning(self._core, 1 if on else 0))

    def set_hyper(self, k: int, hyper: Hyper) -> None:
        """Replace plastic connection ``k``'s hyperparameters (coefficient mantissas, trace
        decays and impulses, gate thresholds) without reloading: weights, tags and traces stay.
        The rule's structure is unchanged by construction (``Rule.with_hyper``)."""
        c, _, _ = self._conn(k, plastic=True)
        code = c.rule.with_hyper(hyper).microcode()
        _check("el_core_set_rule", lib.el_core_set_rule(
            self._core, int(k), ffi.from_buffer("uint8_t[]", code), len(code)))

    def set_rule(self, k: int, rule: Rule) -> None:
        """Replace plastic connection ``k``'s rule by one of the same structure (only its
        hyperparameters may differ; ``EL_ERR_RULE_STRUCTURE`` otherwise)."""
        self._conn(k, plastic=True)
        code = rule.microcode()
        _check("el_core_set_rule", lib.el_core_set_rule(
            self._core, int(k), ffi.from_buffer("uint8_t[]", code), len(code)))

    def weights(self, k: int) -> np.ndarray:
        """Connection ``k``'s weights, ``(n_dst, n_src)`` int8 (zeros where a sparse connection
        stores none): for a plastic connection its current full mantissas ``w`` (as learned,
        before the sign-mode truncation); otherwise the effective mantissas ``w'`` as stored."""
        c, _, _ = self._conn(k)
        if c.plastic:
            return self._plastic(k)[0]
        out = np.zeros((self._network.size_of(c.dst), self._network.size_of(c.src)), np.int8)
        buf = ffi.from_buffer("int8_t[]", out, require_writable=True) if out.size else ffi.NULL
        if out.size:
            _check("el_core_read_weights", lib.el_core_read_weights(self._core, int(k), buf,
                                                                    out.size))
        return out

    def step(self, in_spikes: np.ndarray) -> np.ndarray:
        """Advance one step. ``in_spikes``: ``(n_inputs,)`` bool, the axons spiking AT this step
        (they enter ``u`` at the next step). Returns this step's spikes, ``(n_neurons,)`` bool."""
        x = _spike_array("in_spikes", in_spikes, (self._n_in,))
        ptr = ffi.from_buffer("uint8_t[]", x) if x.size else ffi.NULL
        _check("el_core_step", lib.el_core_step(self._core, ptr))
        return self.spikes

    def run(self, raster: np.ndarray, *, third: np.ndarray | None = None,
            probe: bool = False) -> RunResult:
        """Run ``T`` steps from the current state; the loop is in C (``el_core_run``).

        ``raster``: ``(T, n_inputs)`` bool, row ``k-1`` = the axons spiking at step ``k``.
        Returns ``s`` ``(T, n_neurons)`` bool and, with ``probe=True``, ``u`` and ``v``
        ``(T, n_neurons)`` int32; row ``k-1`` is the state after step ``k``. ``third``
        (optional, ``(T, n_neurons)`` integers in ``[-128, 127]``): the third factor ``r`` the
        host holds at each step, written before the step (as the twin's
        ``simulate(..., third=...)``), 0 where designated neurons compute it; without it the
        host's ``r`` stays as it is. Computed third factors follow their neurons every step
        (spec 5.3).
        """
        r = np.asarray(raster)
        if r.ndim != 2:
            raise ValueError(f"raster must be 2-D (T, n_inputs), got shape {r.shape}")
        x = _spike_array("raster", r, (r.shape[0], self._n_in))
        T = x.shape[0]
        s = np.zeros((T, self._n), np.uint8)
        u = np.zeros((T, self._n), np.int32) if probe else None
        v = np.zeros((T, self._n), np.int32) if probe else None

        def buf(a: np.ndarray | None, ctype: str) -> object:
            if a is None or a.size == 0:
                return ffi.NULL
            return ffi.from_buffer(ctype, a, require_writable=True)

        raster_ptr = ffi.from_buffer("uint8_t[]", x) if x.size else ffi.NULL
        if third is None:
            _check("el_core_run", lib.el_core_run(self._core, raster_ptr, T,
                                                  buf(s, "uint8_t[]"), buf(u, "int32_t[]"),
                                                  buf(v, "int32_t[]")))
        else:
            r3 = _third_array("third", third, (T, self._n), self._computed)
            _check("el_core_run_third", lib.el_core_run_third(
                self._core, raster_ptr, ffi.from_buffer("int8_t[]", r3) if r3.size else ffi.NULL,
                T, buf(s, "uint8_t[]"), buf(u, "int32_t[]"), buf(v, "int32_t[]")))
        return RunResult(s.astype(bool), u, v)


def simulate(network: Network, raster: np.ndarray, *, third: np.ndarray | None = None,
             probe: bool = True) -> RunResult:
    """Run ``raster`` (``(T, n_inputs)`` bool) on a fresh :class:`Core` of ``network``
    (``third``: optional ``(T, n_neurons)`` third-factor schedule, see :meth:`Core.run`)."""
    return Core(network).run(raster, third=third, probe=probe)


def rand(seed: int, t: int, stream: int, index: int) -> int:
    """The C PRNG word ``rand(seed, t, stream, index)`` of spec 5.1 (``el_rand``)."""
    return int(lib.el_rand(seed & 0xFFFFFFFF, t & 0xFFFFFFFF, stream & 0xFFFFFFFF,
                           index & 0xFFFFFFFF))


def rule_status(code: bytes) -> str:
    """The C loader's verdict on rule microcode: ``"EL_OK"`` or the error's name (e.g.
    ``"EL_ERR_RULE_TRUNCATED"``); never reads past ``code``."""
    buf = ffi.from_buffer("uint8_t[]", bytes(code)) if len(code) else ffi.new("uint8_t[]", 1)
    return status_name(lib.el_rule_check(buf, len(code)))


def _third_array(name: str, arr: object, shape: tuple[int, ...],
                 computed: np.ndarray | None = None) -> np.ndarray:
    """Validate third-factor values (integers in [-128, 127], 0 where ``computed``: neurons
    whose third factor designated neurons compute); return them C-contiguous int8."""
    a = np.asarray(arr)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise TypeError(f"{name} must hold integers, got non-integral floats")
    elif a.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    if a.size and (a.min() < C.THIRD_MIN or a.max() > C.THIRD_MAX):
        raise ValueError(f"{name} holds values in [{a.min()}, {a.max()}], out of range "
                         f"[{C.THIRD_MIN}, {C.THIRD_MAX}]")
    if computed is not None:
        check_host_third(name, a, computed)
    return np.ascontiguousarray(a.astype(np.int8))
