/**
 * @file el_config.h
 * @brief The core's constants (docs/spec.md section 2) and the build's compile-option checks.
 *
 * Every constant of edgelearn/constants.py exists here once, with the same name and an `EL_`
 * prefix, as a plain integer `#define` (cffi reads the values from C). tests/test_constants.py
 * compares the two sides in both directions through ::el_config_count / ::el_config_at.
 *
 * When you add a constant: add it to edgelearn/constants.py, add the `#define` below, add it to
 * ::EL_CONFIG_CONSTANTS, and add a `#define EL_NAME ...` line to cdef/core.h.
 */
#ifndef EL_CONFIG_H
#define EL_CONFIG_H

#include <limits.h>
#include <stdint.h>

/* ---- compile-option block: what the runtime assumes of the compiler and target ------------ */

#if !defined(__cplusplus) && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L)
#error "edgelearn needs a C99 (or later) compiler, or C++"
#endif
#if CHAR_BIT != 8
#error "edgelearn needs 8-bit bytes"
#endif
#if INT_MAX < 2147483647
#error "edgelearn needs int of at least 32 bits (state arithmetic is done in int32 promotions)"
#endif
#if (-1 & 3) != 3
#error "edgelearn needs two's complement integers (el_fixed.h relies on ~x = -x - 1)"
#endif
#if !defined(INT8_MAX) || !defined(INT16_MAX) || !defined(INT32_MAX) || !defined(INT64_MAX)
#error "edgelearn needs the exact-width types int8_t .. int64_t"
#endif

/* ---- the core's constants (docs/spec.md section 2; mirror of edgelearn/constants.py) ------- */
/* EL_CONFIG_BEGIN (tests/test_constants.py reads the #defines between these two markers) */
#define EL_STATE_BITS 24
#define EL_STATE_MIN (-8388608)          /* -2^23: wrap24 range, lower end */
#define EL_STATE_MAX 8388607             /* 2^23 - 1: wrap24 / sat24 upper end (sat is symmetric) */
#define EL_DECAY_BITS 12
#define EL_DECAY_MAX 4095
#define EL_VTH_MANT_MAX 131071           /* 2^17 - 1 */
#define EL_VTH_SHIFT 6
#define EL_BIAS_MANT_MIN (-4096)
#define EL_BIAS_MANT_MAX 4095
#define EL_BIAS_EXP_MAX 7
#define EL_WEIGHT_BITS 8
#define EL_WEIGHT_MIN (-128)
#define EL_WEIGHT_MAX 127
#define EL_WEIGHT_EXP_MIN (-8)
#define EL_WEIGHT_EXP_MAX 7
#define EL_WEIGHT_SHIFT 6
#define EL_REFRACT_MAX 64
#define EL_MAX_FANIN 65536               /* 2^16 */
#define EL_MAX_NEURONS 1048576           /* 2^20, per population */
#define EL_MAX_POPULATIONS 64
#define EL_MAX_CONNECTIONS 256
/* plasticity (docs/spec.md section 5) */
#define EL_TRACE_BITS 7
#define EL_TRACE_MAX 127                 /* 2^7 - 1 */
#define EL_IMPULSE_FRAC_BITS 4
#define EL_IMPULSE_MAX 2047
#define EL_THIRD_MIN (-128)
#define EL_THIRD_MAX 127
#define EL_THIRD_SHIFT_MAX 23            /* computed third factor: shr(u, 0..23) */
#define EL_TAG_MIN (-128)
#define EL_TAG_MAX 127
#define EL_LEARN_FRAC_BITS 15
#define EL_LEARN_ACC_LIMIT 8388608       /* 2^23 */
#define EL_PRODUCT_LIMIT 16777216        /* 2^24 */
#define EL_COEF_MANT_MIN (-128)
#define EL_COEF_MANT_MAX 127
#define EL_COEF_EXP_MIN (-24)
#define EL_COEF_EXP_MAX 7
#define EL_T_EPOCH_MAX 65535
#define EL_RULE_VERSION 1
#define EL_RULE_MAX_TERMS 16
#define EL_RULE_MAX_FACTORS 4
#define EL_RULE_MAX_ITEMS 4
/* EL_CONFIG_END */

/** X-macro over every constant above, by name without the prefix (for ::el_config_at). */
#define EL_CONFIG_CONSTANTS(X) \
    X(STATE_BITS)              \
    X(STATE_MIN)               \
    X(STATE_MAX)               \
    X(DECAY_BITS)              \
    X(DECAY_MAX)               \
    X(VTH_MANT_MAX)            \
    X(VTH_SHIFT)               \
    X(BIAS_MANT_MIN)           \
    X(BIAS_MANT_MAX)           \
    X(BIAS_EXP_MAX)            \
    X(WEIGHT_BITS)             \
    X(WEIGHT_MIN)              \
    X(WEIGHT_MAX)              \
    X(WEIGHT_EXP_MIN)          \
    X(WEIGHT_EXP_MAX)          \
    X(WEIGHT_SHIFT)            \
    X(REFRACT_MAX)             \
    X(MAX_FANIN)               \
    X(MAX_NEURONS)             \
    X(MAX_POPULATIONS)         \
    X(MAX_CONNECTIONS)         \
    X(TRACE_BITS)              \
    X(TRACE_MAX)               \
    X(IMPULSE_FRAC_BITS)       \
    X(IMPULSE_MAX)             \
    X(THIRD_MIN)               \
    X(THIRD_MAX)               \
    X(THIRD_SHIFT_MAX)         \
    X(TAG_MIN)                 \
    X(TAG_MAX)                 \
    X(LEARN_FRAC_BITS)         \
    X(LEARN_ACC_LIMIT)         \
    X(PRODUCT_LIMIT)           \
    X(COEF_MANT_MIN)           \
    X(COEF_MANT_MAX)           \
    X(COEF_EXP_MIN)            \
    X(COEF_EXP_MAX)            \
    X(T_EPOCH_MAX)             \
    X(RULE_VERSION)            \
    X(RULE_MAX_TERMS)          \
    X(RULE_MAX_FACTORS)        \
    X(RULE_MAX_ITEMS)

/* Consistency of the constants with one another (cheap, compile time). */
#if EL_STATE_MAX != (1L << (EL_STATE_BITS - 1)) - 1 || EL_STATE_MIN != -EL_STATE_MAX - 1
#error "EL_STATE_MIN/MAX disagree with EL_STATE_BITS"
#endif
#if EL_TRACE_MAX != (1 << EL_TRACE_BITS) - 1
#error "EL_TRACE_MAX disagrees with EL_TRACE_BITS"
#endif
#if EL_DECAY_MAX != (1 << EL_DECAY_BITS) - 1
#error "EL_DECAY_MAX disagrees with EL_DECAY_BITS"
#endif
#if EL_WEIGHT_MAX != (1 << (EL_WEIGHT_BITS - 1)) - 1 || EL_WEIGHT_MIN != -EL_WEIGHT_MAX - 1
#error "EL_WEIGHT_MIN/MAX disagree with EL_WEIGHT_BITS"
#endif
#if -(EL_WEIGHT_MIN) * EL_MAX_FANIN > (1L << (EL_STATE_BITS - 1))
#error "EL_MAX_FANIN lets a connection's summed mantissas exceed 2^23 in magnitude"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Number of constants in ::EL_CONFIG_CONSTANTS.
 * @return the count (>= 1); never fails.
 */
int el_config_count(void);

/**
 * @brief The @p i-th constant of ::EL_CONFIG_CONSTANTS.
 * @param i     index in [0, el_config_count() - 1]
 * @param value receives the value (may be NULL)
 * @return the name without the `EL_` prefix, or NULL when @p i is out of range.
 */
const char *el_config_at(int i, int32_t *value);

#ifdef __cplusplus
}
#endif

#endif /* EL_CONFIG_H */
