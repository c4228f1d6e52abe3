"""The JAX digital twin of the core: exact integer forward, surrogate backward.

One entry function, :func:`simulate`, runs a pure :func:`step` under ``lax.scan``. Parameters
(:class:`Params`) and state (:class:`State`) are PyTrees passed in and returned; the network's
structure (sizes and who connects to whom) is a hashable :class:`Topology`, so networks that
differ only in their integer values share one compiled program.

Semantics: ``docs/spec.md`` section 4; arithmetic: :mod:`edgelearn.fixed` (the only place).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import fixed, plasticity
from .network import INPUT, Network, check_host_third
from .plasticity import HyperParams, PlasticState
from .rule import Rule

_F = jnp.float32
_HI = jax.lax.Precision.HIGHEST  # never let an accelerator round the integer matmuls (TF32/bf16)


# --------------------------------------------------------------------------- PyTrees


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["du", "dv", "vth_mant", "bias_mant", "bias_exp", "refractory"],
                   meta_fields=[])
@dataclasses.dataclass(frozen=True)
class PopParams:
    """One population's parameters as float32 (integer-valued when deployed).

    Shapes: scalars ``()`` except ``bias_mant`` ``(size,)``. The twin quantizes each to its
    integer range with straight-through rounding (spec section 8), so they can be trained.
    """

    du: jax.Array
    dv: jax.Array
    vth_mant: jax.Array
    bias_mant: jax.Array
    bias_exp: jax.Array
    refractory: jax.Array


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["w", "w_exp", "mixed", "hyper", "mask"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class ConnParams:
    """One connection: mantissas ``w`` ``(N_dst, N_src)`` float32 (zeros where sparse stores
    none), exponent ``w_exp`` and sign mode ``mixed`` (0/1) as float32 scalars. A plastic
    connection adds its rule's ``hyper`` parameters and, when sparse, the ``mask`` of stored
    synapses (1.0); ``w`` is then the initial weight."""

    w: jax.Array
    w_exp: jax.Array
    mixed: jax.Array
    hyper: HyperParams | None = None
    mask: jax.Array | None = None


@functools.partial(jax.tree_util.register_dataclass, data_fields=["pops", "conns"],
                   meta_fields=[])
@dataclasses.dataclass(frozen=True)
class Params:
    pops: tuple[PopParams, ...]
    conns: tuple[ConnParams, ...]


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["u", "v", "ref", "s", "s_in", "r", "t", "seed", "learn",
                                "plastic"],
                   meta_fields=[])
@dataclasses.dataclass(frozen=True)
class State:
    """Core state after step ``t``: ``u, v, ref, s, r`` are ``(n_neurons,)`` (populations
    concatenated; ``s`` the spikes of step ``t``, ``r`` the third factor), ``s_in``
    ``(n_inputs,)`` the input spikes of step ``t`` (both delivered at ``t + 1``), ``t`` uint32
    (the step number mod 2^32: after step 2^32 - 1 it reads 0, as in the C runtime, spec 4),
    ``seed`` uint32, ``learn`` the learning switch (float 1/0, spec 5.4), ``plastic``: a
    :class:`PlasticState` per connection (``None`` where not plastic)."""

    u: jax.Array
    v: jax.Array
    ref: jax.Array
    s: jax.Array
    s_in: jax.Array
    r: jax.Array
    t: jax.Array
    seed: jax.Array
    learn: jax.Array
    plastic: tuple[PlasticState | None, ...]


@dataclasses.dataclass(frozen=True)
class Topology:
    """Hashable structure of a network: sizes, and per connection its source (``-1`` = input
    port), destination and the static structure of its rule (``None`` if not plastic);
    ``thirds``: per population whose third factor designated neurons compute (spec 5.3),
    ``(population, source population, shift)``."""

    n_inputs: int
    sizes: tuple[int, ...]
    conns: tuple[tuple[int, int, Rule | None], ...]
    thirds: tuple[tuple[int, int, int], ...] = ()

    def computed_third(self) -> np.ndarray:
        """``(n_neurons,)`` bool: the neurons whose third factor is computed, not written."""
        mask = np.zeros(self.n_neurons, bool)
        for dst, _, _ in self.thirds:
            mask[self.offsets[dst]:self.offsets[dst] + self.sizes[dst]] = True
        return mask

    @property
    def n_neurons(self) -> int:
        return sum(self.sizes)

    @property
    def offsets(self) -> tuple[int, ...]:
        return tuple(int(x) for x in np.cumsum((0,) + self.sizes[:-1]))

    def n_src(self, src: int) -> int:
        return self.n_inputs if src < 0 else self.sizes[src]


class SimResult(NamedTuple):
    """What :func:`simulate` returns.

    ``spikes``: ``(T, n_neurons)`` float32 0/1 (row ``k-1`` = step ``k``); ``u``, ``v``: same
    shape when probed, else ``None``; ``final_state``; ``stats``: counts of 24-bit wraps of
    ``u`` and saturations of ``v`` over the run (int32 scalars).
    """

    spikes: jax.Array
    u: jax.Array | None
    v: jax.Array | None
    final_state: State
    stats: dict[str, jax.Array]


# --------------------------------------------------------------------------- input checks


def _concrete(x: object) -> np.ndarray | None:
    """``x`` as a numpy array when its values are known now; ``None`` when it is traced
    (under ``jit``, ``grad`` or ``vmap``), where only its shape can be checked."""
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return np.asarray(x)
    except jax.errors.TracerArrayConversionError:  # e.g. a list holding tracers
        return None


def _numeric_kind(name: str, a: np.ndarray) -> str:
    """``"b"``, ``"i"`` or ``"f"`` for the dtypes the twin takes (bool, integers, floats)."""
    if a.dtype == np.bool_:
        return "b"
    if jnp.issubdtype(a.dtype, jnp.integer):
        return "i"
    if jnp.issubdtype(a.dtype, jnp.floating):
        return "f"
    raise TypeError(f"{name} must be a bool, integer or float array, got dtype {a.dtype}")


def _check_raster(name: str, a: np.ndarray) -> None:
    """Spikes only: bool, or integers / floats equal to 0 or 1 (as the C runtime's
    ``_spike_array``, which also takes no NaN, no 2, no -1, no 0.5)."""
    if _numeric_kind(name, a) == "b" or a.size == 0:
        return
    bad = ~((a == 0) | (a == 1))
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold only spikes (bool, or 0/1), got {a[at]} at index "
                         f"{at} ({int(bad.sum())} such values)")


def _check_third(name: str, a: np.ndarray) -> None:
    """Integers in ``[THIRD_MIN, THIRD_MAX]`` (as the C runtime's ``_third_array``); integral
    floats are taken, nothing is clipped."""
    kind = _numeric_kind(name, a)
    if kind == "f" and a.size:
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must hold integers, got {a[at]} at index {at}")
    if kind != "b" and a.size:
        mn, mx = a.min(), a.max()
        if mn < C.THIRD_MIN or mx > C.THIRD_MAX:
            raise ValueError(f"{name} holds values in [{mn}, {mx}], out of range "
                             f"[{C.THIRD_MIN}, {C.THIRD_MAX}]")


def _check_seed(seed: object) -> object:
    """A 32-bit unsigned seed: an integer (Python, numpy or an integer array scalar), or a
    traced one, which is taken as it is."""
    a = _concrete(seed)
    if a is None:
        return seed
    if isinstance(seed, (bool, np.bool_)) or a.shape != () or not jnp.issubdtype(
            a.dtype, jnp.integer):
        raise TypeError(f"seed must be an integer in [0, 2^32 - 1], got {seed!r}")
    if not 0 <= int(a) <= 2**32 - 1:
        raise ValueError(f"seed = {int(a)} is out of range [0, 2^32 - 1]")
    return int(a)


# --------------------------------------------------------------------------- construction


def topology(network: Network) -> Topology:
    idx = {p.name: i for i, p in enumerate(network.populations)}
    idx[INPUT] = -1
    return Topology(network.n_inputs, tuple(p.size for p in network.populations),
                    tuple((idx[c.src], idx[c.dst],
                           None if c.rule is None else plasticity.structure(c.rule))
                          for c in network.connections),
                    tuple((k, idx[p.third_from], p.third_shift)
                          for k, p in enumerate(network.populations) if p.third_from is not None))


def params_from_network(network: Network) -> Params:
    """The network's integers as a float32 :class:`Params` PyTree."""
    pops = tuple(
        PopParams(du=jnp.asarray(p.du, _F), dv=jnp.asarray(p.dv, _F),
                  vth_mant=jnp.asarray(p.vth_mant, _F), bias_mant=jnp.asarray(p.bias_mant, _F),
                  bias_exp=jnp.asarray(p.bias_exp, _F), refractory=jnp.asarray(p.refractory, _F))
        for p in network.populations)
    conns = []
    for c in network.connections:
        n_dst, n_src = network.size_of(c.dst), network.size_of(c.src)
        hyper = mask = None
        if c.rule is not None:
            hyper = plasticity.hyper_params(c.rule)
            if c.sparse:
                m = np.zeros((n_dst, n_src), np.float32)
                m[np.repeat(np.arange(n_dst), np.diff(c.indptr)), c.indices] = 1.0
                mask = jnp.asarray(m)
        conns.append(ConnParams(w=jnp.asarray(c.dense_weights(n_dst, n_src), _F),
                                w_exp=jnp.asarray(c.w_exp, _F),
                                mixed=jnp.asarray(float(c.mixed), _F), hyper=hyper, mask=mask))
    return Params(pops, tuple(conns))


def init_state(network: Network | Topology, params: Params | None = None, *,
               seed: int | None = None) -> State:
    """The state at ``t = 0``: everything zero, plastic weights from ``params`` (by default the
    network's own). ``seed`` defaults to the network's."""
    if isinstance(network, Network):
        topo = topology(network)
        params = params_from_network(network) if params is None else params
        seed = network.seed if seed is None else seed
    else:
        topo = network
        if params is None and any(rule is not None for _, _, rule in topo.conns):
            raise TypeError("init_state() of a Topology with plastic connections needs params")
    seed = 0 if seed is None else _check_seed(seed)
    n = topo.n_neurons
    z = jnp.zeros((n,), _F)
    plastic = tuple(
        None if rule is None else plasticity.init_plastic(
            fixed.quantize(cp.w, C.WEIGHT_MIN, C.WEIGHT_MAX), topo.n_src(src), topo.sizes[dst])
        for (src, dst, rule), cp in zip(topo.conns, params.conns if params else
                                        (None,) * len(topo.conns), strict=True))
    return State(u=z, v=z, ref=z, s=z, s_in=jnp.zeros((topo.n_inputs,), _F), r=z,
                 t=jnp.asarray(0, jnp.uint32), seed=jnp.asarray(seed, jnp.uint32),
                 learn=jnp.asarray(1.0, _F), plastic=plastic)


def reset_neurons(state: State) -> State:
    """Start a new sample, exactly as the C runtime's ``el_core_reset`` and the device's RESET
    STATE do (spec 5.5): back to ``t = 0`` with compartments, pending spikes, refractory counts,
    third factors and every plastic connection's traces, epoch bits and tags cleared; the
    weights (as learned), the seed and the learning switch are kept."""
    z = jnp.zeros_like(state.u)
    plastic = tuple(None if p is None else dataclasses.replace(
        p, e=jnp.zeros_like(p.e), x=jnp.zeros_like(p.x), y=jnp.zeros_like(p.y),
        x0=jnp.zeros_like(p.x0), y0=jnp.zeros_like(p.y0)) for p in state.plastic)
    return dataclasses.replace(state, u=z, v=z, ref=z, s=z, r=jnp.zeros_like(state.r),
                               s_in=jnp.zeros_like(state.s_in), t=jnp.zeros_like(state.t),
                               plastic=plastic)


def set_learning(state: State, on: bool | jax.Array) -> State:
    """Turn the learning switch on or off (spec 5.4)."""
    return dataclasses.replace(state, learn=jnp.asarray(on, _F) * jnp.ones_like(state.learn))


# --------------------------------------------------------------------------- the timestep


def _quantized(p: PopParams) -> dict[str, jax.Array]:
    return dict(
        du=fixed.quantize(p.du, 0, C.DECAY_MAX),
        dv=fixed.quantize(p.dv, 0, C.DECAY_MAX),
        vth=fixed.quantize(p.vth_mant, 0, C.VTH_MANT_MAX) * float(1 << C.VTH_SHIFT),
        bias=fixed.bias_value(fixed.quantize(p.bias_mant, C.BIAS_MANT_MIN, C.BIAS_MANT_MAX),
                              fixed.quantize(p.bias_exp, 0, C.BIAS_EXP_MAX)),
        refractory=jax.lax.stop_gradient(fixed.quantize(p.refractory, 1, C.REFRACT_MAX)),
    )


def _effective_weights(c: ConnParams) -> jax.Array:
    w = fixed.quantize(c.w, C.WEIGHT_MIN, C.WEIGHT_MAX)
    return fixed.mixed_truncate(w, c.mixed)


def _compartments(q: dict[str, jax.Array], u: jax.Array, v: jax.Array, ref: jax.Array,
                  a: jax.Array):
    """Steps 2-5 of spec section 4 for one population, given its synaptic input ``a``."""
    raw = fixed.dec(u, q["du"] + 1.0) + a
    u_new = fixed.wrap24(raw)
    v_star = fixed.sat24(fixed.dec(v, q["dv"]) + u_new + q["bias"])
    in_ref = ref > 0
    th = q["vth"]
    s = fixed.spike(v_star - th, jnp.maximum(th, 64.0)) * (1.0 - in_ref)
    v_new = jnp.where(in_ref, 0.0, v_star * (1.0 - s))
    ref_new = jax.lax.stop_gradient(jnp.where(in_ref, ref - 1.0, s * (q["refractory"] - 1.0)))
    flags = (raw != u_new, jnp.abs(v_star) >= C.STATE_MAX)
    return u_new, v_new, ref_new, s, flags


def step(topo: Topology, params: Params, state: State, s_in: jax.Array,
         input_acc: tuple[jax.Array | None, ...] | None = None,
         r_write: jax.Array | None = None):
    """One timestep of one sample (spec sections 4 and 5). ``s_in``: ``(n_inputs,)`` inputs
    spiking at this step; ``r_write``: ``(n_neurons,)`` third factor the host writes before
    this step (``None``: unchanged); its entries for computed third factors (spec 5.3) are
    replaced by the values this step computes.

    ``input_acc`` optionally gives, per non-plastic connection from the input port, the
    already computed ``acc`` of this step (``simulate`` precomputes them for the whole run as one
    matrix product); ``None`` entries are computed here. Returns ``(new_state, stats)``.
    Shapes are always checked; concrete values as :func:`simulate` checks them.
    """
    if jnp.shape(s_in) != (topo.n_inputs,):
        raise ValueError(f"s_in must have shape ({topo.n_inputs},), got {jnp.shape(s_in)}")
    concrete = _concrete(s_in)
    if concrete is not None:
        _check_raster("s_in", concrete)
    if r_write is not None:
        if jnp.shape(r_write) != (topo.n_neurons,):
            raise ValueError(f"r_write must have shape ({topo.n_neurons},), "
                             f"got {jnp.shape(r_write)}")
        concrete = _concrete(r_write)
        if concrete is not None:
            _check_third("r_write", concrete)
            check_host_third("r_write", concrete, topo.computed_third())
    offs = topo.offsets
    t = state.t + jnp.uint32(1)  # wraps to 0 after 2^32 - 1 (spec 4)
    r = state.r if r_write is None else r_write
    quant = [_quantized(p) for p in params.pops]
    a = [jnp.zeros((n,), _F) for n in topo.sizes]

    def src_spikes(src: int, st: State) -> jax.Array:
        return st.s_in if src < 0 else st.s[offs[src]:offs[src] + topo.sizes[src]]

    for k, ((src, dst, rule), cp) in enumerate(zip(topo.conns, params.conns, strict=True)):
        pre = input_acc[k] if input_acc is not None else None
        if pre is None:
            w = _effective_weights(cp) if rule is None else fixed.mixed_truncate(
                state.plastic[k].w, cp.mixed)
            pre = jnp.matmul(w, src_spikes(src, state), precision=_HI)
        a[dst] = fixed.wrap24(a[dst] + fixed.scaled_input(pre, cp.w_exp))
    outs = [_compartments(quant[i], state.u[offs[i]:offs[i] + n], state.v[offs[i]:offs[i] + n],
                          state.ref[offs[i]:offs[i] + n], a[i])
            for i, n in enumerate(topo.sizes)]
    u, v, ref, s = (jnp.concatenate(x, axis=-1) for x in list(zip(*outs, strict=True))[:4])
    for dst, src, shift in topo.thirds:  # computed by designated neurons (spec 5.3)
        r = r.at[offs[dst]:offs[dst] + topo.sizes[dst]].set(
            fixed.shr_clip(u[offs[src]:offs[src] + topo.sizes[src]], shift, C.THIRD_MIN,
                           C.THIRD_MAX))
    stats = {
        "wrap_u": sum(jnp.sum(o[4][0], dtype=jnp.int32) for o in outs),
        "sat_v": sum(jnp.sum(o[4][1], dtype=jnp.int32) for o in outs),
    }
    new = State(u=u, v=v, ref=ref, s=s, s_in=jnp.asarray(s_in, _F), r=r, t=t, seed=state.seed,
                learn=state.learn, plastic=state.plastic)
    plastic = tuple(
        None if rule is None else plasticity.update(
            rule, cp.hyper, state.plastic[k], s_src=src_spikes(src, new),
            s_dst=src_spikes(dst, new), r_dst=r[offs[dst]:offs[dst] + topo.sizes[dst]],
            seed=state.seed, t=t, conn=k, mask=cp.mask, learn=state.learn)
        for k, ((src, dst, rule), cp) in enumerate(zip(topo.conns, params.conns, strict=True)))
    return dataclasses.replace(new, plastic=plastic), stats


@functools.partial(jax.jit, static_argnames=("topo", "probe"))
def _simulate(topo: Topology, params: Params, state: State, raster: jax.Array,
              third: jax.Array | None, probe: bool):
    raster = raster.astype(_F)
    # Spikes enter u one step later: the input seen at step t is the raster row of step t-1,
    # the first one coming from the state. The accumulations of every non-plastic connection
    # from the input port are one matrix product for the whole run (the input is known in
    # advance); recurrent and plastic ones are computed per step.
    delayed = jnp.concatenate([state.s_in[None, :], raster[:-1, :]], axis=0)
    pre = tuple(
        jnp.matmul(delayed, _effective_weights(cp).T, precision=_HI)
        if src < 0 and rule is None else None
        for (src, _, rule), cp in zip(topo.conns, params.conns, strict=True))

    def body(st, x):
        s_in_t, pre_t, r_t = x
        st2, stats = step(topo, params, st, s_in_t, pre_t, r_t)
        ys = (st2.s, st2.u if probe else None, st2.v if probe else None, stats)
        return st2, ys

    final, (s, u, v, stats) = jax.lax.scan(body, state, (raster, pre, third))
    stats = {k: jnp.sum(x, axis=0) for k, x in stats.items()}
    return SimResult(s, u, v, final, stats)


def simulate(network: Network | Topology, params: Params | None = None,
             state: State | None = None, inputs: jax.Array | np.ndarray | None = None, *,
             third: jax.Array | np.ndarray | None = None, probe: bool = False) -> SimResult:
    """Run the core for ``T`` steps: ``inputs`` is the raster ``(T, n_inputs)`` (bool or 0/1),
    row ``k-1`` holding the input axons that spike at step ``k`` (they enter ``u`` at ``k+1``).

    ``third`` (optional, ``(T, n_neurons)``): the third factor ``r`` the host holds at each step
    (written before the step), integers in ``[-128, 127]``, 0 for the neurons whose third
    factor designated neurons compute (spec 5.3). Concrete ``inputs`` and ``third``
    are refused as the C runtime refuses them (``ValueError`` for a value other than 0/1 in the
    raster, a non-integer or out-of-range third factor, or a wrong shape; ``TypeError`` for a
    dtype other than bool, integer or float); traced ones (under ``jit``/``grad``) are checked
    by shape only, a traced ``third`` clipped to its range. ``params`` defaults to the
    network's own integers, ``state`` to the zero state. Leading batch dimensions of
    ``inputs``/``third`` are mapped with ``vmap`` (params and state shared, state broadcast).
    Pure and ``jit``-compiled; differentiable with respect to every float in ``params`` (spec
    section 8).
    """
    if inputs is None:
        raise TypeError("simulate() needs inputs: a (T, n_inputs) spike raster")
    if isinstance(network, Network):
        topo = topology(network)
        if params is None:
            params = params_from_network(network)
    else:
        topo = network
        if params is None:
            raise TypeError("simulate() with a Topology needs params")
    # Concrete inputs (numpy, or jax arrays outside a trace) are checked as the C runtime
    # checks them; traced ones (meta-training under jit/grad) only by shape.
    concrete = _concrete(inputs)
    if concrete is not None:
        _check_raster("inputs", concrete)
    raster = jnp.asarray(inputs)
    if raster.ndim < 2 or raster.shape[-1] != topo.n_inputs:
        raise ValueError(f"inputs must have shape (T, {topo.n_inputs}), got {raster.shape}")
    if raster.shape[-2] < 1:
        raise ValueError("inputs must hold at least one step")
    if third is not None:
        concrete = _concrete(third)
        if concrete is not None:
            _check_third("third", concrete)
        third = jnp.asarray(third, _F)
        if third.shape != raster.shape[:-1] + (topo.n_neurons,):
            raise ValueError(f"third must have shape {raster.shape[:-1] + (topo.n_neurons,)}, "
                             f"got {third.shape}")
        if concrete is not None:
            check_host_third("third", np.asarray(concrete), topo.computed_third())
        third = fixed.quantize(third, C.THIRD_MIN, C.THIRD_MAX)  # traced values: clipped
    if state is None:
        state = init_state(network, params)
    fn = functools.partial(_simulate, topo, probe=probe)
    batch = raster.ndim - 2
    if batch == 0:
        return fn(params, state, raster, third)
    state_axes = 0 if state.u.ndim > 1 else None
    for _ in range(batch):
        fn = jax.vmap(fn, in_axes=(None, state_axes, 0, None if third is None else 0))
    return fn(params, state, raster, third)
