/*
 * The runtime's size checks on a 32-bit size_t: built for Cortex-M4 and run under QEMU
 * (mps2-an386) by `make -C csrc qemu` (part of `make -C csrc test`; skipped, saying so, without
 * arm-none-eabi-gcc or qemu-system-arm). Freestanding, like the firmware: its own vector table,
 * start-up and mem* functions; output and exit status through Arm semihosting.
 *
 * A sparse connection of 65,536 axons to 65,536 neurons holding two synapses needs a dense
 * read-back of n_dst * n_src = 2^32 values: 0 in a 32-bit size_t. The buffer checks of
 * el_core_read_weights and el_core_read_plastic (el_plastic_read) form that product in 64 bits
 * and refuse a 16-value buffer with EL_ERR_SIZE, writing nothing (a wrapped product let them
 * write the synapse of source 100 at out[100], past the buffer). el_core_run and
 * el_core_run_third refuse a raster of n_steps * n_inputs bytes past SIZE_MAX before any step.
 */
#include <stddef.h>
#include <stdint.h>

#include "el_memfns.h" /* memcpy & co: this image has no libc */

#include "edgelearn.h"
#include "test_fixtures.h" /* STDP, big_sparse_init */

/* ---- semihosting (QEMU: -semihosting-config enable=on) -------------------------------------- */

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u /* exit status 0; any other reason: 1 */
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

static void semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

static void put(const char *s)
{
    semihost(SYS_WRITE0, s);
}

static void put_u32(uint32_t v)
{
    char b[12];
    int i = 11;
    b[i] = '\0';
    do {
        b[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    put(b + i);
}

static void finish(int ok)
{
    semihost(SYS_EXIT,
             (const void *)(uintptr_t)(ok ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}

/* ---- start-up ------------------------------------------------------------------------------ */

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

void Fault_Handler(void)
{
    put("m4_sizes: FAULT\n");
    finish(0);
}

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    finish(main() == 0);
}

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) static const vector_t vectors[16] = {
    (vector_t)(uintptr_t)&_estack, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler,
    Fault_Handler,
};


/* ---- checks -------------------------------------------------------------------------------- */

static int failures = 0;
static int checks = 0;

static void check_eq(uint32_t got, uint32_t want, const char *what)
{
    ++checks;
    if (got != want) {
        ++failures;
        put("m4_sizes: FAILED ");
        put(what);
        put(": ");
        put_u32(got);
        put(", expected ");
        put_u32(want);
        put("\n");
    }
}

#define N BIG_SPARSE_N

__attribute__((section(".psram"), aligned(64))) static uint8_t arena[12u << 20];
static uint32_t indptr[N + 1u];
static int8_t w64k[N];     /* the 1 x 65,536 dense weights of the raster test (zeros) */
static uint8_t raster[2u * N];
static int8_t third[2];
/* the 16-value buffer and what lies after it: a wrapped check wrote out[100] */
static struct {
    int8_t out[16];
    int8_t after[240];
} g;

static void fill(void)
{
    uint32_t i;
    for (i = 0; i < sizeof g.out; ++i) {
        g.out[i] = 0x5A;
    }
    for (i = 0; i < sizeof g.after; ++i) {
        g.after[i] = 0x5A;
    }
}

static uint32_t untouched(void)
{
    uint32_t i, n = 0;
    for (i = 0; i < sizeof g.out; ++i) {
        n += g.out[i] == 0x5A;
    }
    for (i = 0; i < sizeof g.after; ++i) {
        n += g.after[i] == 0x5A;
    }
    return n;
}

int main(void)
{
    big_sparse_t big;
    el_core_t *core = NULL;
    size_t bytes = 0;
    check_eq((uint32_t)sizeof(size_t), 4u, "sizeof(size_t)");
    big_sparse_init(&big, indptr);
    check_eq((uint32_t)el_core_bytes(&big.desc, &bytes), EL_OK,
             "el_core_bytes (65536 x 65536)");
    check_eq(bytes <= sizeof arena, 1u, "the core fits the arena");
    check_eq((uint32_t)el_core_init(&big.desc, arena, sizeof arena, &core), EL_OK, "el_core_init");
    if (core != NULL) {
        fill();
        check_eq((uint32_t)el_core_read_weights(core, 0, g.out, sizeof g.out), EL_ERR_SIZE,
                 "el_core_read_weights, 16 values");
        check_eq(untouched(), 256u, "bytes untouched after el_core_read_weights");
        fill();
        check_eq((uint32_t)el_core_read_plastic(core, 0, g.out, NULL, sizeof g.out), EL_ERR_SIZE,
                 "el_core_read_plastic (w), 16 values");
        check_eq(untouched(), 256u, "bytes untouched after el_core_read_plastic (w)");
        fill();
        check_eq((uint32_t)el_core_read_plastic(core, 0, NULL, g.out, sizeof g.out), EL_ERR_SIZE,
                 "el_core_read_plastic (e), 16 values");
        check_eq(untouched(), 256u, "bytes untouched after el_core_read_plastic (e)");
    }
    /* 65,536 axons -> 1 neuron: 65,536 steps of raster are 2^32 bytes (0 in size_t) */
    big.pop.size = 1;
    big.conn.kind = EL_CONN_DENSE;
    big.conn.weights = w64k;
    big.conn.indptr = NULL;
    big.conn.indices = NULL;
    big.conn.flags = 0;
    big.conn.rule = NULL;
    big.conn.rule_len = 0;
    core = NULL;
    check_eq((uint32_t)el_core_init(&big.desc, arena, sizeof arena, &core), EL_OK,
             "el_core_init (65536 x 1)");
    if (core != NULL) {
        check_eq((uint32_t)el_core_run(core, raster, N, NULL, NULL, NULL), EL_ERR_SIZE,
                 "el_core_run, 65536 steps of 65536 inputs");
        check_eq((uint32_t)el_core_run_third(core, raster, third, N, NULL, NULL, NULL),
                 EL_ERR_SIZE, "el_core_run_third, 65536 steps of 65536 inputs");
        check_eq((uint32_t)el_core_time(core), 0u, "no step taken");
        check_eq((uint32_t)el_core_run(core, raster, 2u, NULL, NULL, NULL), EL_OK,
                 "el_core_run, 2 steps");
        check_eq((uint32_t)el_core_time(core), 2u, "two steps taken");
    }
    put("m4_sizes: ");
    put_u32((uint32_t)checks);
    put(" checks, ");
    put_u32((uint32_t)failures);
    put(" failures\n");
    return failures == 0 ? 0 : 1;
}
