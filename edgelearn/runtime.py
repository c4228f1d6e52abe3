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
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._el_runtime import ffi, lib
from .network import INPUT, Network

__all__ = ["Core", "RunResult", "RuntimeStatusError", "constants", "simulate", "status_name"]


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
            pd[k].flags = 0
        cd = ffi.new("el_conn_desc_t[]", max(len(conns), 1))
        for k, c in enumerate(conns):
            cd[k].src = lib.EL_SRC_INPUT if c.src == INPUT else network.index(c.src)
            cd[k].dst = network.index(c.dst)
            cd[k].w_exp = c.w_exp
            if getattr(c, "plastic", False):
                raise NotImplementedError(
                    f"connections[{k}] ({c.src} -> {c.dst}) is plastic; this C runtime does not "
                    f"run the plasticity processor yet (the C core reserves EL_CONN_PLASTIC)")
            cd[k].flags = lib.EL_CONN_MIXED if c.mixed else 0
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
        nbytes = ffi.new("size_t *")
        _check("el_core_bytes", lib.el_core_bytes(desc, nbytes))
        # uint64 elements: the block is 8-byte aligned (EL_CORE_ALIGN) and zero-initialised.
        self._mem = ffi.new("uint64_t[]", (int(nbytes[0]) + 7) // 8)
        core = ffi.new("el_core_t **")
        _check("el_core_init", lib.el_core_init(desc, self._mem, nbytes[0], core))
        self._core = core[0]
        self._n = int(lib.el_core_n_neurons(self._core))
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
        """Steps taken since construction or :meth:`reset`."""
        return int(lib.el_core_time(self._core))

    def reset(self) -> None:
        """Back to ``t = 0``: ``u = v = 0``, no spikes, no refractory counts, no pending input."""
        _check("el_core_reset", lib.el_core_reset(self._core))

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
    def spikes(self) -> np.ndarray:
        """Spikes of the last step, ``(n_neurons,)`` bool (a copy)."""
        return self._state(lib.el_core_spikes(self._core), np.uint8).astype(bool)

    def weights(self, k: int) -> np.ndarray:
        """Connection ``k``'s effective mantissas ``w'`` as stored in C: ``(n_dst, n_src)`` int8
        (zeros where a sparse connection stores none)."""
        conns = self._network.connections
        if not isinstance(k, (int, np.integer)) or not 0 <= k < len(conns):
            raise ValueError(f"k must be a connection index in [0, {len(conns) - 1}], got {k!r}")
        c = conns[int(k)]
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

    def run(self, raster: np.ndarray, *, probe: bool = False) -> RunResult:
        """Run ``T`` steps from the current state; the loop is in C (``el_core_run``).

        ``raster``: ``(T, n_inputs)`` bool, row ``k-1`` = the axons spiking at step ``k``.
        Returns ``s`` ``(T, n_neurons)`` bool and, with ``probe=True``, ``u`` and ``v``
        ``(T, n_neurons)`` int32; row ``k-1`` is the state after step ``k``.
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
        _check("el_core_run", lib.el_core_run(self._core, raster_ptr, T, buf(s, "uint8_t[]"),
                                              buf(u, "int32_t[]"), buf(v, "int32_t[]")))
        return RunResult(s.astype(bool), u, v)


def simulate(network: Network, raster: np.ndarray, *, probe: bool = True) -> RunResult:
    """Run ``raster`` (``(T, n_inputs)`` bool) on a fresh :class:`Core` of ``network``."""
    return Core(network).run(raster, probe=probe)
