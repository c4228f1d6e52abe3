"""The plasticity processor in the twin: traces, the learning epoch, and rule hyperparameters.

Semantics: ``docs/spec.md`` section 5; rule structure: :mod:`edgelearn.rule`; arithmetic:
:mod:`edgelearn.fixed`. A plastic connection's weights live in :class:`PlasticState`, updated
every ``t_epoch`` steps by its rule. The rule's *structure* (which variables, exponents, gates)
is static; its *hyperparameters* (:class:`HyperParams`) are float PyTree leaves, quantized with
straight-through rounding, so optax can meta-train them.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C
from . import fixed
from .rule import TRACES, VARIABLES, Factor, Hyper, Rule

_F = jnp.float32
KIND = {"x1": 0, "x2": 1, "y1": 2, "y2": 3, "y3": 4, "dw": 5, "de": 6}


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["coef", "decay", "impulse", "gate"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class HyperParams:
    """Float hyperparameters of one plastic connection (shapes: ``coef (n_terms,)``,
    ``decay (5,)``, ``impulse (5,)``, ``gate (n_gates,)``; traces in the order x1 x2 y1 y2 y3).

    Deployed values: :func:`to_hyper` (round half up, clipped to the ranges of spec 5/6)."""

    coef: jax.Array
    decay: jax.Array
    impulse: jax.Array
    gate: jax.Array


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["w", "e", "x", "y", "x0", "y0"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class PlasticState:
    """``w, e``: ``(N_dst, N_src)`` weight mantissas and tags; ``x``: ``(2, N_src)`` traces
    x1, x2; ``y``: ``(3, N_dst)`` traces y1..y3; ``x0 (N_src,)``, ``y0 (N_dst,)``: spiked in
    this epoch."""

    w: jax.Array
    e: jax.Array
    x: jax.Array
    y: jax.Array
    x0: jax.Array
    y0: jax.Array


def structure(rule: Rule) -> Rule:
    """The rule with its hyperparameters zeroed: the static part, hashable for ``jit``."""
    h = rule.hyper()
    return rule.with_hyper(Hyper(coef=(0,) * len(h.coef), decay=(0,) * 5, impulse=(0,) * 5,
                                 gate=(0,) * len(h.gate)))


def hyper_params(rule: Rule) -> HyperParams:
    h = rule.hyper()
    return HyperParams(coef=jnp.asarray(h.coef, _F), decay=jnp.asarray(h.decay, _F),
                       impulse=jnp.asarray(h.impulse, _F), gate=jnp.asarray(h.gate, _F))


def _coef_limits(rule: Rule | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    if rule is None:
        return np.full(n, C.COEF_MANT_MIN), np.full(n, C.COEF_MANT_MAX)
    lim = np.array([t.mant_limit() for _, t in rule.terms])
    return np.maximum(-lim, C.COEF_MANT_MIN), np.minimum(lim, C.COEF_MANT_MAX)


def quantized(hp: HyperParams, rule: Rule | None = None) -> HyperParams:
    """Straight-through quantization of every hyperparameter to its deployed range; with the
    ``rule``, each coefficient mantissa is also kept within the width its term allows
    (:meth:`edgelearn.rule.Term.mant_limit`), so a trained value always deploys."""
    lo, hi = _coef_limits(rule, hp.coef.shape[-1])
    return HyperParams(coef=fixed.quantize_between(hp.coef, lo, hi),
                       decay=fixed.quantize(hp.decay, 0, C.DECAY_MAX),
                       impulse=fixed.quantize(hp.impulse, 0, C.IMPULSE_MAX),
                       gate=fixed.quantize(hp.gate, 0, 32767))


def to_hyper(hp: HyperParams, rule: Rule | None = None) -> Hyper:
    """The integers that get deployed for these float hyperparameters (pass the ``rule`` to
    apply its width limits, as the twin does)."""
    q = jax.tree.map(lambda a: np.asarray(a).astype(np.int64).tolist(), quantized(hp, rule))
    return Hyper(coef=tuple(q.coef), decay=tuple(q.decay), impulse=tuple(q.impulse),
                 gate=tuple(q.gate))


def init_plastic(w: jax.Array, n_src: int, n_dst: int, batch: tuple[int, ...] = ()):
    z = functools.partial(jnp.zeros, dtype=_F)
    return PlasticState(w=jnp.broadcast_to(w, batch + w.shape), e=z(batch + (n_dst, n_src)),
                        x=z(batch + (2, n_src)), y=z(batch + (3, n_dst)), x0=z(batch + (n_src,)),
                        y0=z(batch + (n_dst,)))


def _factor(f: Factor, env: dict[str, jax.Array]) -> jax.Array:
    val = jnp.asarray(float(f.const), _F)
    for k, name in f.items:
        val = val + float(k) * env[name]
    return val


def update(rule: Rule, hp: HyperParams, ps: PlasticState, *, s_src: jax.Array,
           s_dst: jax.Array, r_dst: jax.Array, seed: jax.Array, t: jax.Array, conn: int,
           mask: jax.Array | None, learn: jax.Array | bool = True) -> PlasticState:
    """Traces of step ``t``, then the learning epoch if ``t mod t_epoch == 0`` (spec 5.2-5.4).

    ``rule`` is the static structure (:func:`structure`), ``hp`` the float hyperparameters,
    ``s_src (N_src,)``/``s_dst (N_dst,)`` this step's spikes, ``r_dst (N_dst,)`` the third
    factor of the destination neurons, ``conn`` the connection's index (for PRNG streams),
    ``mask`` the stored synapses of a sparse connection (1) or ``None`` (dense); ``learn``
    the core-wide learning switch (off: traces and epochs go on, ``w`` and ``e`` stay).
    ``t`` is the step number as an unsigned 32-bit word (an int32 holding the same bits gives
    the same result): the PRNG and the epoch test both see ``t mod 2^32``.
    """
    q = quantized(hp, rule)
    n_dst, n_src = ps.w.shape[-2:]
    src_idx = jnp.arange(n_src, dtype=jnp.uint32)
    dst_idx = jnp.arange(n_dst, dtype=jnp.uint32)
    xs, ys = [], []
    for k, name in enumerate(TRACES):
        pre = k < 2
        idx, spiked = (src_idx, s_src) if pre else (dst_idx, s_dst)
        old = ps.x[..., k, :] if pre else ps.y[..., k - 2, :]
        word = fixed.rand(seed, t, 8 * conn + KIND[name], idx)
        new = fixed.trace_update(old, q.decay[k], q.impulse[k], spiked, word)
        (xs if pre else ys).append(new)
    x, y = jnp.stack(xs, -2), jnp.stack(ys, -2)
    x0 = jnp.maximum(ps.x0, s_src)
    y0 = jnp.maximum(ps.y0, s_dst)

    env = {"x0": x0[..., None, :], "x1": x[..., None, 0, :], "x2": x[..., None, 1, :],
           "y0": y0[..., :, None], "y1": y[..., 0, :, None], "y2": y[..., 1, :, None],
           "y3": y[..., 2, :, None], "r": r_dst[..., :, None], "w": ps.w, "e": ps.e}
    epoch = (jnp.asarray(t).astype(jnp.uint32) % jnp.uint32(rule.t_epoch)) == 0
    apply = jnp.logical_and(epoch, jnp.asarray(learn) > 0)

    def learn_epoch():
        return _epoch(rule, q, env, ps, seed=seed, t=t, conn=conn, mask=mask,
                      src_idx=src_idx, dst_idx=dst_idx)

    # a real branch when not batched: the rule costs nothing between epochs
    w, e = jax.lax.cond(apply, learn_epoch, lambda: (ps.w, ps.e))
    x0 = jnp.where(epoch, 0.0, x0)
    y0 = jnp.where(epoch, 0.0, y0)
    return PlasticState(w=w, e=e, x=x, y=y, x0=x0, y0=y0)


def _epoch(rule: Rule, q: HyperParams, env: dict[str, jax.Array], ps: PlasticState, *,
           seed, t, conn: int, mask, src_idx, dst_idx) -> tuple[jax.Array, jax.Array]:
    """The learning epoch (spec 5.4): every target from the old values, then clamped."""
    n_src = ps.w.shape[-1]
    syn_idx = (dst_idx[:, None] * jnp.uint32(n_src) + src_idx[None, :])
    coef_i, gate_i = 0, 0
    new = {}
    for tgt in ("dw", "de"):
        if tgt not in rule.targets:
            continue
        acc = jnp.zeros(ps.w.shape, _F)
        relaxed = jnp.zeros(ps.w.shape, _F)
        for term in rule.targets[tgt]:
            m = q.coef[coef_i]
            coef_i += 1
            prod = m
            for f in term.factors:
                prod = prod * _factor(f, env)
            if term.gate is not None:
                g = jnp.abs(_factor(term.gate, env))
                th = q.gate[gate_i]
                gate_i += 1
                open_ = fixed.spike(g - th, jnp.maximum(th, 1.0))
            else:
                open_ = 1.0
            exact_t = fixed.term_value(jax.lax.stop_gradient(prod), term.exp) * \
                jax.lax.stop_gradient(open_)
            acc = fixed.acc_add(acc, exact_t)
            relaxed = relaxed + open_ * prod * float(2.0**term.exp)
        word = (fixed.rand(seed, t, 8 * conn + KIND[tgt], syn_idx)
                if rule.rounding == "stochastic" else None)
        d_exact = fixed.learn_round(acc, rule.rounding, word)
        new[tgt] = fixed.straight_through(d_exact, relaxed)
    w = fixed.clamp(ps.w + new["dw"], float(rule.w_min), float(rule.w_max))
    e = fixed.clamp(ps.e + new["de"], float(C.TAG_MIN), float(C.TAG_MAX)) if "de" in new else ps.e
    if mask is not None:
        w = jnp.where(mask > 0, w, ps.w)
        e = jnp.where(mask > 0, e, ps.e)
    return w, e


assert set(VARIABLES) == {"x0", "x1", "x2", "y0", "y1", "y2", "y3", "r", "w", "e"}
