/*
 * What the C test programs share (the test programs of csrc/tests and of firmware_sim/tests,
 * which are built with -I csrc/tests): counted checks, the small deterministic generators their random
 * inputs come from, and exact-size heap copies. Header only: every test program is one
 * translation unit that includes it once, so the counters below are that program's.
 *
 * A generator takes its state by pointer: each test keeps its own seed, so its sequence is
 * independent of the others (and of the order of the calls in this header).
 */
#ifndef EL_TEST_UTIL_H
#define EL_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counted checks -------------------------------------------------------------------------- */

static int test_failures = 0;
static int test_checks = 0;
/** What the test is doing, printed in brackets after a failed check ("" prints nothing). */
static const char *test_ctx = "";

static inline void test_check_(int ok, const char *file, int line, const char *cond)
{
    ++test_checks;
    if (!ok) {
        ++test_failures;
        fprintf(stderr, "%s:%d: CHECK failed: %s%s%s%s\n", file, line, cond,
                *test_ctx ? " [" : "", test_ctx, *test_ctx ? "]" : "");
    }
}

static inline void test_check_eq_(long long a, long long b, const char *file, int line,
                                  const char *a_text, const char *b_text)
{
    ++test_checks;
    if (a != b) {
        ++test_failures;
        fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld%s%s%s\n", file, line, a_text, a,
                b_text, b, *test_ctx ? " [" : "", test_ctx, *test_ctx ? "]" : "");
    }
}

/** Count a check; a false @p cond counts as a failure and is printed with its place. */
#define CHECK(cond) test_check_((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
/** As CHECK(a == b), both compared (and printed) as long long; @p a is evaluated first. */
#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        long long a_ = (long long)(a);                                     \
        long long b_ = (long long)(b);                                     \
        test_check_eq_(a_, b_, __FILE__, __LINE__, #a, #b);                \
    } while (0)

/* ---- deterministic generators ------------------------------------------------------------- */

/** 32-bit LCG (Numerical Recipes' constants); returns the state's top 24 bits. */
static inline uint32_t lcg(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/** Marsaglia's xorshift64 (13, 7, 17); returns the new state (never 0 from a non-zero seed). */
static inline uint64_t xorshift64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/** xorshift64* (12, 25, 27; Vigna's multiplier); the high bits are the good ones. */
static inline uint64_t xorshift64s(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/** Uniform enough in [0, n) for n >= 1, from xorshift64s's top 53 bits. */
static inline uint64_t xorshift64s_below(uint64_t *s, uint64_t n)
{
    return (xorshift64s(s) >> 11) % n;
}

/* ---- memory ---------------------------------------------------------------------------------- */

/** A heap copy of exactly @p n bytes (1 when n is 0), so that ASan sees any read past the end. */
static inline uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *q = (uint8_t *)malloc(n ? n : 1);
    if (n) {
        memcpy(q, p, n);
    }
    return q;
}

#endif /* EL_TEST_UTIL_H */
