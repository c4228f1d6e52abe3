"""The twin's fixed-point arithmetic: the only Python definition of wrap, saturate, decay and shift.

Every function takes and returns integer values carried in float32 (exact below ``2^24`` in
magnitude) and is exact in the forward pass; the backward pass is the documented surrogate or
straight-through estimate (``docs/spec.md`` section 8). The C runtime's counterpart is
``csrc/el_fixed.h``; both implement ``docs/spec.md`` section 1. No other module writes its own
shift, clip or rounding for quantisation.

Nothing here needs ``jax_enable_x64``: wide products are split (see :func:`dec`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import constants as C

_F = jnp.float32
_TWO24 = float(1 << 24)
_TWO23 = float(1 << 23)
#: 2^k for k in [0, 31], looked up by integer index: exact, unlike exp2 on some backends.
_POW2 = tuple(float(1 << k) for k in range(32))


def pow2(k: jax.Array) -> jax.Array:
    """``2^k`` for integer-valued ``k`` in ``[0, 31]`` (float32, exact)."""
    table = jnp.asarray(_POW2, _F)
    return table[jnp.clip(k, 0, 31).astype(jnp.int32)]


# --------------------------------------------------------------------------- straight-through


@jax.custom_jvp
def _ste(exact: jax.Array, relaxed: jax.Array) -> jax.Array:
    return exact


@_ste.defjvp
def _ste_jvp(primals, tangents):
    exact, _ = primals
    _, relaxed_dot = tangents
    return exact, relaxed_dot


def straight_through(exact: jax.Array, relaxed: jax.Array) -> jax.Array:
    """``exact`` in the forward pass, the derivative of ``relaxed`` in the backward pass."""
    return _ste(exact, relaxed)


def quantize(x: jax.Array, lo: int, hi: int) -> jax.Array:
    """Round half up (``floor(x + 1/2)``) and clip to ``[lo, hi]``; straight-through gradient.

    Used for every differentiable parameter on its way into the integer core.
    """
    x = jnp.asarray(x, _F)
    return straight_through(jnp.clip(jnp.floor(x + 0.5), lo, hi), jnp.clip(x, lo, hi))


def quantize_np(x, lo: int, hi: int) -> np.ndarray:
    """The integers :func:`quantize` gives, computed in numpy (for export, and usable where JAX
    is tracing): the same float32 ``floor(x + 1/2)``, clipped, as int64."""
    x = np.asarray(x, np.float32)
    return np.clip(np.floor(x + np.float32(0.5)), lo, hi).astype(np.int64)


def quantize_between(x: jax.Array, lo, hi) -> jax.Array:
    """:func:`quantize` with per-element integer bounds ``lo``, ``hi`` (arrays)."""
    x = jnp.asarray(x, _F)
    lo, hi = jnp.asarray(lo, _F), jnp.asarray(hi, _F)
    return straight_through(jnp.clip(jnp.floor(x + 0.5), lo, hi), jnp.clip(x, lo, hi))


# --------------------------------------------------------------------------- wrap and saturate


def _wrap24_exact(x: jax.Array) -> jax.Array:
    # Exact for |x| < 2^24 + 2^23: one conditional add/subtract of 2^24.
    return x - _TWO24 * (x >= _TWO23) + _TWO24 * (x < -_TWO23)


def wrap24(x: jax.Array) -> jax.Array:
    """24-bit two's complement wrap into ``[-2^23, 2^23 - 1]``; straight-through gradient.

    Input range: ``|x| < 2^24 + 2^23`` (the sum of two wrapped values, or of a decayed and a
    wrapped value). Exact there.
    """
    return straight_through(_wrap24_exact(x), x)


def sat24(x: jax.Array) -> jax.Array:
    """Symmetric saturation to ``[-(2^23 - 1), 2^23 - 1]``; gradient 1 inside, 0 outside.

    Exact for any float32 input whose true integer value exceeded ``2^24`` only by rounding:
    rounding is monotone and the bounds are representable.
    """
    return jnp.clip(x, -float(C.STATE_MAX), float(C.STATE_MAX))


# --------------------------------------------------------------------------- decay


@jax.custom_jvp
def dec(x: jax.Array, d: jax.Array) -> jax.Array:
    """``sign(x) * ((|x| * (4096 - d)) >> 12)``, rounding toward zero.

    Ranges: ``|x| <= 2^23``, ``d`` integer-valued in ``[0, 4096]``. The 36-bit product is split
    as ``|x| = hi * 4096 + lo`` so every intermediate stays below ``2^24`` (float32-exact).
    Gradient: the relaxation ``x * (4096 - d) / 4096``.
    """
    m = 4096.0 - d
    ax = jnp.abs(x)
    hi = jnp.floor(ax / 4096.0)
    lo = ax - hi * 4096.0
    r = hi * m + jnp.floor(lo * m / 4096.0)
    return jnp.sign(x) * r


@dec.defjvp
def _dec_jvp(primals, tangents):
    x, d = primals
    x_dot, d_dot = tangents
    return dec(x, d), x_dot * (4096.0 - d) / 4096.0 - d_dot * x / 4096.0


# --------------------------------------------------------------------------- synaptic scaling


@jax.custom_jvp
def scaled_input(acc: jax.Array, w_exp: jax.Array) -> jax.Array:
    """``wrap24(scale(acc, w_exp) * 2^6)``: spec section 4, step 1, for one connection.

    ``acc`` is the exact integer sum of weight mantissas of the sources that spiked
    (``|acc| <= 2^23``); ``w_exp`` is integer-valued in ``[-8, 7]``. A negative exponent floors.
    The scaled value can need 37 bits; only its low 24 bits are kept, so ``acc`` is reduced
    modulo ``2^(24 - s)`` before the exact left shift by ``s``. Gradient: ``2^(w_exp + 6)``.
    """
    neg = w_exp < 0
    k = jnp.where(neg, -w_exp, 0.0)
    q = jnp.floor(acc / pow2(k))  # exact: division by a power of two, then floor
    s = jnp.where(neg, float(C.WEIGHT_SHIFT), w_exp + C.WEIGHT_SHIFT)
    mod = pow2(24.0 - s)
    q = q - mod * jnp.floor(q / mod)  # q mod 2^(24-s), in [0, 2^(24-s))
    return _wrap24_exact(q * pow2(s))


@scaled_input.defjvp
def _scaled_input_jvp(primals, tangents):
    acc, w_exp = primals
    acc_dot, _ = tangents
    gain = jnp.where(w_exp < 0, 1.0 / pow2(-w_exp), pow2(jnp.maximum(w_exp, 0.0)))
    return scaled_input(acc, w_exp), acc_dot * gain * float(1 << C.WEIGHT_SHIFT)


def shr_clip(x: jax.Array, k: int, lo: int, hi: int) -> jax.Array:
    """``min(max(shr(x, k), lo), hi)`` for integer-valued ``x`` (``|x| < 2^24``, so ``x / 2^k``
    is exact in float32) and a static ``k >= 0``; gradient ``2^-k`` inside ``[lo, hi]``
    (straight through the floor), 0 outside."""
    y = x * float(2.0 ** -k)
    return straight_through(jnp.clip(jnp.floor(y), lo, hi), jnp.clip(y, lo, hi))


def mixed_truncate(w: jax.Array, mixed: jax.Array) -> jax.Array:
    """Sign-mode truncation of weight mantissas: ``floor(w / 2) * 2`` where ``mixed``.

    ``w`` integer-valued in ``[-128, 127]``, ``mixed`` 0 or 1. Straight-through gradient.
    """
    return straight_through(jnp.where(mixed > 0, jnp.floor(w / 2.0) * 2.0, w), w)


def bias_value(bias_mant: jax.Array, bias_exp: jax.Array) -> jax.Array:
    """``bias_mant * 2^bias_exp`` (exact; ``|result| <= 4096 * 128``)."""
    return bias_mant * pow2(bias_exp)


# --------------------------------------------------------------------------- spikes


@jax.custom_jvp
def spike(x: jax.Array, scale: jax.Array) -> jax.Array:
    """Heaviside ``x > 0`` (strict) as 0/1 float; fast-sigmoid surrogate gradient.

    ``d spike / d x = 1 / (scale * (1 + |x| / scale)^2)``.
    """
    return (x > 0).astype(_F)


@spike.defjvp
def _spike_jvp(primals, tangents):
    x, scale = primals
    x_dot, _ = tangents
    g = 1.0 / (scale * jnp.square(1.0 + jnp.abs(x) / scale))
    return spike(x, scale), g * x_dot


# --------------------------------------------------------------------------- PRNG (spec 5.1)

_U32 = jnp.uint32


def _lowbias32(x: jax.Array) -> jax.Array:
    x = x ^ (x >> 16)
    x = x * _U32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * _U32(0x846CA68B)
    return x ^ (x >> 16)


def _mix(x: jax.Array) -> jax.Array:
    return _lowbias32(x + _U32(0x9E3779B9))


def rand(seed: jax.Array, t: jax.Array, stream: int | jax.Array, index: jax.Array) -> jax.Array:
    """``rand(seed, t, stream, index)`` of spec 5.1: a uint32 word, all arithmetic mod 2^32."""
    def u32(x):
        return jnp.asarray(x, _U32) if isinstance(x, int) else jnp.asarray(x).astype(_U32)

    return _mix(_mix(_mix(_mix(u32(index)) ^ u32(stream)) ^ u32(t)) ^ u32(seed))


def _bits(word: jax.Array, shift: int, mask: int) -> jax.Array:
    """``(word >> shift) & mask`` as an exact float32 (``mask < 2^24``)."""
    return ((word >> shift) & _U32(mask)).astype(_F)


# --------------------------------------------------------------------------- traces (spec 5.2)


def trace_update(x: jax.Array, d: jax.Array, imp: jax.Array, spiked: jax.Array,
                 word: jax.Array) -> jax.Array:
    """One step of a trace: stochastic-rounded decay, then impulse where ``spiked``.

    ``x`` in ``[0, 127]``, ``d`` in ``[0, 4095]``, ``imp`` in ``[0, 2047]`` (Q4), ``spiked`` 0/1,
    ``word`` the PRNG word: bits 31..20 round the decay, bits 3..0 the impulse. Exact forward;
    gradient of the relaxation ``clip(x (4096 - d) / 4096 + spiked * imp / 16, 0, 127)``.
    """
    dec_x = jnp.floor((x * (4096.0 - d) + _bits(word, 20, 0xFFF)) / 4096.0)
    add = jnp.floor((imp + _bits(word, 0, 0xF)) / 16.0)
    exact = jnp.where(spiked > 0, jnp.minimum(float(C.TRACE_MAX), dec_x + add), dec_x)
    relaxed = jnp.clip(x * (4096.0 - d) / 4096.0 + spiked * imp / 16.0, 0.0, float(C.TRACE_MAX))
    return straight_through(exact, relaxed)


# --------------------------------------------------------------------------- learning (5.4)


def term_value(p: jax.Array, exp: int) -> jax.Array:
    """``T = floor(P * 2^(exp + 15))`` for an exact product ``|P| < 2^24`` (static ``exp``)."""
    k = exp + C.LEARN_FRAC_BITS
    return jnp.floor(p * float(2.0**k))


def acc_add(acc: jax.Array, t: jax.Array) -> jax.Array:
    """The learning accumulator's saturating add, ``clamp(acc + T, -2^23, 2^23)``."""
    lim = float(C.LEARN_ACC_LIMIT)
    return jnp.clip(acc + jnp.clip(t, -2 * lim, 2 * lim), -lim, lim)


def learn_round(acc: jax.Array, mode: str, word: jax.Array | None) -> jax.Array:
    """Round the accumulator (15 fraction bits) to an integer update: stochastic uses the PRNG
    word's top 15 bits; floor; nearest (half up)."""
    scale = float(1 << C.LEARN_FRAC_BITS)
    if mode == "stochastic":
        return jnp.floor((acc + _bits(word, 17, 0x7FFF)) / scale)
    if mode == "floor":
        return jnp.floor(acc / scale)
    return jnp.floor((acc + scale / 2) / scale)


def clamp(x: jax.Array, lo: float, hi: float) -> jax.Array:
    """Saturate to ``[lo, hi]`` (weights and tags); gradient 1 inside, 0 outside."""
    return jnp.clip(x, lo, hi)
