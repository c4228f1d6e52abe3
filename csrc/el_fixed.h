/**
 * @file el_fixed.h
 * @brief The only definitions of the core's fixed-point primitives (docs/spec.md section 1).
 *
 * No other unit writes its own wrap, saturate, decay or signed shift: they call these. Every
 * helper is exact integer arithmetic, defined for the documented input ranges, and portable: no
 * right shift of a negative value (implementation-defined in C99) and no signed overflow.
 * The runtime may use 64-bit integers (the JAX twin splits the 36-bit product instead).
 */
#ifndef EL_FIXED_H
#define EL_FIXED_H

#include <stdint.h>

#include "el_config.h"

/** Mask of the low EL_STATE_BITS bits. */
#define EL_STATE_MASK 0xFFFFFFu
/** 2^(EL_STATE_BITS - 1), the sign bit of a 24-bit value. */
#define EL_STATE_SIGN 0x800000u

#if EL_STATE_BITS != 24
#error "el_fixed.h's masks assume EL_STATE_BITS == 24"
#endif

/**
 * @brief floor(x / 2^k) for a signed 32-bit value: an arithmetic right shift, pinned.
 * @param x any int32_t
 * @param k shift in [0, 31]
 * @return floor(x / 2^k), in [-2^(31-k), 2^(31-k) - 1]. Rounds toward minus infinity
 *         (el_shr32(-3, 1) == -2). Uses floor(x/2^k) = -1 - floor((-1-x)/2^k) for x < 0,
 *         so only non-negative values are shifted (~x = -1-x needs two's complement, checked
 *         in el_config.h).
 */
static inline int32_t el_shr32(int32_t x, unsigned k)
{
    return x >= 0 ? (int32_t)(x >> k) : (int32_t)~((~x) >> k);
}

/**
 * @brief floor(x / 2^k) for a signed 64-bit value (see el_shr32).
 * @param x any int64_t
 * @param k shift in [0, 63]
 * @return floor(x / 2^k); rounds toward minus infinity.
 */
static inline int64_t el_shr64(int64_t x, unsigned k)
{
    return x >= 0 ? (int64_t)(x >> k) : (int64_t)~((~x) >> k);
}

/**
 * @brief wrap24 of a value given modulo 2^32: the unique y in [-2^23, 2^23 - 1] with
 *        y == m (mod 2^24).
 * @param m any uint32_t (read as the low 32 bits of a two's complement integer)
 * @return y in [EL_STATE_MIN, EL_STATE_MAX]. Only the low 24 bits of @p m matter.
 */
static inline int32_t el_wrap24_u32(uint32_t m)
{
    return (int32_t)((m & EL_STATE_MASK) ^ EL_STATE_SIGN) - (int32_t)EL_STATE_SIGN;
}

/**
 * @brief wrap24(x): 24-bit two's complement wrap (docs/spec.md section 1).
 * @param x any int64_t
 * @return the unique y in [-2^23, 2^23 - 1] with y == x (mod 2^24).
 */
static inline int32_t el_wrap24(int64_t x)
{
    return el_wrap24_u32((uint32_t)((uint64_t)x & EL_STATE_MASK));
}

/**
 * @brief sat24(x) = min(max(x, -(2^23 - 1)), 2^23 - 1): symmetric 24-bit saturation.
 * @param x any int32_t
 * @return a value in [-EL_STATE_MAX, EL_STATE_MAX] (note: -2^23 is never produced).
 */
static inline int32_t el_sat24(int32_t x)
{
    return x > EL_STATE_MAX ? EL_STATE_MAX : (x < -EL_STATE_MAX ? -EL_STATE_MAX : x);
}

/**
 * @brief dec(x, d) = sign(x) * ((|x| * (4096 - d)) >> 12): multiplicative decay, rounding
 *        toward zero.
 * @param x value with |x| <= 2^23 (any 24-bit state)
 * @param d decay in [0, 4096] (4096 clears; 0 keeps x)
 * @return a value with |result| <= |x| and the sign of x (or 0).
 *
 * The 36-bit product is split like the twin does (|x| = hi * 4096 + lo, lo < 4096):
 * (|x| * m) >> 12 == hi * m + ((lo * m) >> 12), each part below 2^24, so everything stays in
 * 32-bit unsigned arithmetic, without branches on data (the neuron loop vectorises).
 */
static inline int32_t el_dec(int32_t x, int32_t d)
{
    const uint32_t ax = x < 0 ? (uint32_t)0 - (uint32_t)x : (uint32_t)x;
    const uint32_t m = (uint32_t)(4096 - d);
    const uint32_t mag = (ax >> EL_DECAY_BITS) * m + (((ax & 0xFFFu) * m) >> EL_DECAY_BITS);
    return x < 0 ? -(int32_t)mag : (int32_t)mag;
}

/**
 * @brief scale(x, e) = x * 2^e for e >= 0, floor(x / 2^-e) for e < 0.
 * @param x any int32_t
 * @param e exponent in [-31, 31]
 * @return the exact value (|x| * 2^31 fits int64_t); negative exponents round toward minus
 *         infinity.
 */
static inline int64_t el_scale(int32_t x, int e)
{
    return e >= 0 ? (int64_t)x * ((int64_t)1 << e) : (int64_t)el_shr32(x, (unsigned)-e);
}

/**
 * @brief scale(x, e) * 2^shift, modulo 2^32 (for sums that are wrapped to 24 bits afterwards).
 * @param x     any int32_t (a connection's summed mantissas, |x| <= 2^23)
 * @param e     exponent in [-31, 31]
 * @param shift extra left shift in [0, 31], with e + shift in [0, 31] when e >= 0
 * @return the low 32 bits of scale(x, e) * 2^shift as uint32_t; el_wrap24_u32 of the result
 *         (or of a uint32_t sum of such results) equals wrap24 of the exact value.
 */
static inline uint32_t el_scale_mod32(int32_t x, int e, unsigned shift)
{
    const uint32_t m = e >= 0 ? (uint32_t)x << (unsigned)e : (uint32_t)el_shr32(x, (unsigned)-e);
    return m << shift;
}

#endif /* EL_FIXED_H */
