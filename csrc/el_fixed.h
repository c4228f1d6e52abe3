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

/* ---- plasticity (docs/spec.md section 5) ------------------------------------------------ */

/**
 * @brief Clamp to [lo, hi] (weights, tags, saturating traces).
 * @param x  any int32_t
 * @param lo lower bound, lo <= hi
 * @param hi upper bound
 * @return min(max(x, lo), hi).
 */
static inline int32_t el_clamp32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/**
 * @brief Sign-mode truncation of a weight mantissa, w' = shr(w, 1) * 2 (spec section 3).
 * @param w mantissa in [EL_WEIGHT_MIN, EL_WEIGHT_MAX]
 * @return the even value floor(w / 2) * 2, in [-128, 126] (-3 -> -4, 3 -> 2).
 */
static inline int32_t el_mixed_trunc(int32_t w)
{
    return el_shr32(w, 1u) * 2;
}

/**
 * @brief A trace's decay with stochastic rounding (spec 5.2):
 *        (x * (4096 - d) + (word >> 20)) >> 12.
 * @param x    trace in [0, EL_TRACE_MAX]
 * @param d    decay in [0, EL_DECAY_MAX]
 * @param word the PRNG word of this trace and step (its top 12 bits round)
 * @return the decayed trace in [0, x]; E[result] = x (4096 - d) / 4096 (unbiased).
 *         Everything is non-negative and below 2^20: a plain unsigned shift is exact.
 */
static inline int32_t el_trace_decay(int32_t x, int32_t d, uint32_t word)
{
    return (int32_t)(((uint32_t)x * (uint32_t)(4096 - d) + (word >> 20)) >> EL_DECAY_BITS);
}

/**
 * @brief A trace's impulse with stochastic rounding (spec 5.2): (imp + (word & 15)) >> 4.
 * @param imp  impulse in [0, EL_IMPULSE_MAX], Q4 (units of 1/16)
 * @param word the same PRNG word as the decay of this step (its low 4 bits round)
 * @return the integer added, in [0, 128]; E[result] = imp / 16. The caller saturates the sum
 *         at EL_TRACE_MAX.
 */
static inline int32_t el_trace_impulse(int32_t imp, uint32_t word)
{
    return (int32_t)(((uint32_t)imp + (word & 15u)) >> EL_IMPULSE_FRAC_BITS);
}

/**
 * @brief A learning term's value T = floor(P * 2^k), k = E + 15, clamped to [-2^24, 2^24].
 * @param p exact product, |p| < EL_PRODUCT_LIMIT (2^24)
 * @param k shift in [EL_COEF_EXP_MIN + 15, EL_COEF_EXP_MAX + 15] = [-9, 22]
 * @return floor(p * 2^k) clamped to [-2^24, 2^24]. The clamp changes nothing downstream: the
 *         accumulator (el_learn_acc_add) saturates at 2^23, so acc + T saturates exactly as with
 *         the unclamped T, and everything stays in int32. For k >= 0 the product is clamped
 *         before the shift (|p| >= 2^(24-k) <=> |p * 2^k| >= 2^24); for k < 0 it floors.
 */
static inline int32_t el_learn_term(int32_t p, int k)
{
    if (k < 0) {
        return el_shr32(p, (unsigned)-k);
    }
    {
        const int32_t lim = (int32_t)1 << (unsigned)(24 - k);
        return el_clamp32(p, -lim, lim) * ((int32_t)1 << (unsigned)k);
    }
}

/**
 * @brief The learning accumulator's saturating add, clamp(acc + t, -2^23, 2^23) (spec 5.4).
 * @param acc accumulator in [-EL_LEARN_ACC_LIMIT, EL_LEARN_ACC_LIMIT] (15 fraction bits)
 * @param t   a term value from el_learn_term, in [-2^24, 2^24]
 * @return the saturated sum in [-2^23, 2^23] (note: +2^23 is reachable, unlike sat24).
 */
static inline int32_t el_learn_acc_add(int32_t acc, int32_t t)
{
    return el_clamp32(acc + t, -EL_LEARN_ACC_LIMIT, EL_LEARN_ACC_LIMIT);
}

/** Rounding modes of a rule (the microcode's flags & 3). */
#define EL_ROUND_STOCHASTIC 0
#define EL_ROUND_FLOOR 1
#define EL_ROUND_NEAREST 2

/**
 * @brief Stochastic rounding of the accumulator: shr(acc + (word >> 17), 15).
 * @param acc  accumulator in [-2^23, 2^23] (15 fraction bits)
 * @param word the PRNG word of this synapse, step and target (its top 15 bits round)
 * @return the integer update in [-256, 256]; E[result] = acc / 2^15.
 */
static inline int32_t el_learn_round_stochastic(int32_t acc, uint32_t word)
{
    return el_shr32(acc + (int32_t)(word >> 17), EL_LEARN_FRAC_BITS);
}

/**
 * @brief Deterministic rounding of the accumulator: floor (shr(acc, 15)) or nearest, half up
 *        (shr(acc + 2^14, 15)).
 * @param acc     accumulator in [-2^23, 2^23] (15 fraction bits)
 * @param nearest 0: floor; non-zero: nearest (half up)
 * @return the integer update in [-256, 256].
 */
static inline int32_t el_learn_round_fixed(int32_t acc, int nearest)
{
    return el_shr32(acc + (nearest ? (int32_t)1 << (EL_LEARN_FRAC_BITS - 1) : 0),
                    EL_LEARN_FRAC_BITS);
}

#endif /* EL_FIXED_H */
