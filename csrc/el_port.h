/**
 * @file el_port.h
 * @brief Platform hooks: the only place the runtime reaches for memory-copy primitives.
 *
 * The runtime units are freestanding (no <string.h>, <stdio.h>, <stdlib.h>): they include only
 * <stdint.h>, <stddef.h>, <stdbool.h>, <limits.h>. A port may define EL_PORT_MEMSET /
 * EL_PORT_MEMCPY before including this header to use its own (e.g. DMA-backed) routines;
 * otherwise plain byte loops are used (compilers turn them into the platform's fastest copy when
 * hosted).
 */
#ifndef EL_PORT_H
#define EL_PORT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__cplusplus)
#define EL_RESTRICT __restrict
#else
#define EL_RESTRICT restrict
#endif

/**
 * EL_VECTOR_CLONES marks the few hot loops (synaptic accumulation, compartment update). When the
 * build defines EL_TARGET_CLONES (edgelearn/_ffi_build.py does, for GCC/Clang on x86-64 ELF
 * hosts) they are compiled twice, for AVX2 and for the baseline ISA, and the loader picks one
 * at run time (GNU ifunc). Results are the same integers either way; only speed differs.
 * Elsewhere (Cortex-M, MSVC, the sanitizer tests) it expands to nothing.
 */
#if defined(EL_TARGET_CLONES) && !defined(EL_FREESTANDING) && defined(__x86_64__) && \
    defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define EL_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EL_VECTOR_CLONES
#endif

/** Set @p n bytes at @p dst to @p value (0 .. 255). @p dst may be NULL only when @p n is 0. */
static inline void el_memset(void *dst, uint8_t value, size_t n)
{
#if defined(EL_PORT_MEMSET)
    EL_PORT_MEMSET(dst, value, n);
#else
    uint8_t *d = (uint8_t *)dst;
    size_t i;
    for (i = 0; i < n; ++i) {
        d[i] = value;
    }
#endif
}

/** Copy @p n bytes from @p src to @p dst (no overlap). Either may be NULL only when @p n is 0. */
static inline void el_memcpy(void *EL_RESTRICT dst, const void *EL_RESTRICT src, size_t n)
{
#if defined(EL_PORT_MEMCPY)
    EL_PORT_MEMCPY(dst, src, n);
#else
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    size_t i;
    for (i = 0; i < n; ++i) {
        d[i] = s[i];
    }
#endif
}

/* ---- little-endian fields (artifacts, frames, flash records): the only definitions ---------- */

/** The little-endian uint16 at @p p. */
static inline uint16_t el_get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] | ((unsigned)p[1] << 8));
}

/** The little-endian uint32 at @p p. */
static inline uint32_t el_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/** Store @p v at @p p, little-endian. */
static inline void el_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

/** Store @p v at @p p, little-endian. */
static inline void el_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

#endif /* EL_PORT_H */
