"""The twin's fixed-point arithmetic: the only Python definition of wrap, saturate, decay and shift.

Every function takes and returns integer values carried in float32 (exact below ``2^24`` in
magnitude) and is exact in the forward pass; the backward pass is the documented surrogate or
straight-through estimate (``docs/spec.md`` section 6). The C runtime's counterpart is
``csrc/el_fixed.h``; both implement ``docs/spec.md`` section 1. No other module writes its own
shift, clip or rounding for quantisation.

Nothing here needs ``jax_enable_x64``: wide products are split (see :func:`dec`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

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
