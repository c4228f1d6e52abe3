/*
 * Unit tests of el_fixed.h and el_core: exact integer answers worked out by hand (the comments
 * give the arithmetic). Built and run under ASan + UBSan by `make -C csrc test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgelearn.h"
#include "test_util.h"

#define BIG_VTH EL_VTH_MANT_MAX

/* ---- a tiny harness: one population fed by the input port ------------------------------ */

typedef struct layer {
    el_pop_desc_t pop;
    el_conn_desc_t conn;
    el_core_desc_t desc;
    void *mem;
    el_core_t *core;
} layer_t;

static void pop_defaults(el_pop_desc_t *p, uint32_t size)
{
    memset(p, 0, sizeof *p);
    p->size = size;
    p->vth_mant = BIG_VTH;
    p->refractory = 1;
}

static el_core_t *build(const el_core_desc_t *d, void **mem)
{
    size_t bytes = 0;
    el_core_t *core = NULL;
    el_status_t st = el_core_bytes(d, &bytes);
    CHECK_EQ(st, EL_OK);
    *mem = malloc(bytes);
    st = el_core_init(d, *mem, bytes, &core);
    CHECK_EQ(st, EL_OK);
    return core;
}

/* n_in axons densely to `size` neurons with weights w (row-major, size x n_in). */
static void layer_init(layer_t *L, uint32_t n_in, uint32_t size, const int8_t *w, int32_t w_exp)
{
    pop_defaults(&L->pop, size);
    memset(&L->conn, 0, sizeof L->conn);
    L->conn.src = EL_SRC_INPUT;
    L->conn.dst = 0;
    L->conn.kind = EL_CONN_DENSE;
    L->conn.w_exp = w_exp;
    L->conn.weights = w;
    L->desc.n_inputs = n_in;
    L->desc.n_pops = 1;
    L->desc.pops = &L->pop;
    L->desc.n_conns = n_in > 0 ? 1u : 0u;
    L->desc.conns = n_in > 0 ? &L->conn : NULL;
    L->mem = NULL;
    L->core = NULL;
}

static void layer_build(layer_t *L)
{
    L->core = build(&L->desc, &L->mem);
}

static void layer_free(layer_t *L)
{
    free(L->mem);
    L->mem = NULL;
}

/* ---- el_fixed.h ----------------------------------------------------------------------- */

static void test_fixed(void)
{
    /* shr floors: -3 / 2 = -1.5 -> -2; -1 >> k stays -1; -4 / 4 = -1 exactly */
    CHECK_EQ(el_shr32(-3, 1), -2);
    CHECK_EQ(el_shr32(3, 1), 1);
    CHECK_EQ(el_shr32(-1, 5), -1);
    CHECK_EQ(el_shr32(-4, 2), -1);
    CHECK_EQ(el_shr32(-5, 2), -2);
    CHECK_EQ(el_shr32(0, 31), 0);
    CHECK_EQ(el_shr32(INT32_MIN, 31), -1);
    CHECK_EQ(el_shr32(INT32_MIN, 0), INT32_MIN);
    CHECK_EQ(el_shr32(INT32_MAX, 31), 0);
    CHECK_EQ(el_shr32(-8388608, 23), -1);
    CHECK_EQ(el_shr64(-3, 1), -2);
    CHECK_EQ(el_shr64(INT64_MIN, 63), -1);
    CHECK_EQ(el_shr64(-((int64_t)1 << 40) - 1, 40), -2);
    /* wrap24 */
    CHECK_EQ(el_wrap24(0), 0);
    CHECK_EQ(el_wrap24(8388607), 8388607);
    CHECK_EQ(el_wrap24(8388608), -8388608);
    CHECK_EQ(el_wrap24(-8388609), 8388607);
    CHECK_EQ(el_wrap24(16777216), 0);
    CHECK_EQ(el_wrap24(9363456), -7413760);
    CHECK_EQ(el_wrap24(-1), -1);
    CHECK_EQ(el_wrap24(((int64_t)1 << 40) + 5), 5);
    CHECK_EQ(el_wrap24_u32(0xFFFFFFFFu), -1);
    CHECK_EQ(el_wrap24_u32(0x00800000u), -8388608);
    /* sat24 is symmetric: -2^23 saturates to -(2^23 - 1) */
    CHECK_EQ(el_sat24(-8388608), -8388607);
    CHECK_EQ(el_sat24(8388608), 8388607);
    CHECK_EQ(el_sat24(-8388607), -8388607);
    CHECK_EQ(el_sat24(12345), 12345);
    CHECK_EQ(el_sat24(INT32_MIN), -8388607);
    /* dec rounds toward zero */
    CHECK_EQ(el_dec(640, 2048), 320);
    CHECK_EQ(el_dec(-640, 2048), -320);
    CHECK_EQ(el_dec(640, 1), 639);     /* 640 * 4095 / 4096 = 639.84 -> 639 */
    CHECK_EQ(el_dec(-640, 1), -639);
    CHECK_EQ(el_dec(3, 2048), 1);      /* 1.5 -> 1 */
    CHECK_EQ(el_dec(-3, 2048), -1);    /* -1.5 -> -1 (not -2) */
    CHECK_EQ(el_dec(4095, 4095), 0);   /* 4095 / 4096 -> 0 */
    CHECK_EQ(el_dec(123, 0), 123);
    CHECK_EQ(el_dec(123, 4096), 0);
    CHECK_EQ(el_dec(-8388608, 1), -8386560); /* 2^23 - 2^23/4096 = 8388608 - 2048 */
    CHECK_EQ(el_dec(8388607, 0), 8388607);
    /* scale */
    CHECK_EQ(el_scale(-3, -1), -2);
    CHECK_EQ(el_scale(3, -1), 1);
    CHECK_EQ(el_scale(-1, -8), -1);
    CHECK_EQ(el_scale(8388608, 7), (int64_t)1 << 30);
    CHECK_EQ(el_scale(-5, 2), -20);
    CHECK_EQ(el_wrap24_u32(el_scale_mod32(8388608, 7, 6)), 0);  /* 2^36 mod 2^24 */
    CHECK_EQ(el_wrap24_u32(el_scale_mod32(-3, -1, 6)), -128);
    CHECK_EQ(el_wrap24_u32(el_scale_mod32(1143, 7, 6)), -7413760); /* 9 * 127 * 2^13 wraps */
}

/* ---- hand-worked network answers ------------------------------------------------------ */

static void test_impulse_response(void)
{
    /* w = 10 -> 640 enters u at step 2; du = 2047 (applied 2048), dv = 2048 halve u and v:
     * u = 0, 640, 320, 160, 80;  v = 0, 640, 640 (320+320), 480 (320+160), 320 (240+80) */
    static const int8_t w[1] = {10};
    static const int32_t want_u[5] = {0, 640, 320, 160, 80};
    static const int32_t want_v[5] = {0, 640, 640, 480, 320};
    const uint8_t one = 1;
    layer_t L;
    int k;
    layer_init(&L, 1, 1, w, 0);
    L.pop.du = 2047;
    L.pop.dv = 2048;
    layer_build(&L);
    for (k = 0; k < 5; ++k) {
        CHECK_EQ(el_core_step(L.core, k == 0 ? &one : NULL), EL_OK);
        CHECK_EQ(el_core_u(L.core)[0], want_u[k]);
        CHECK_EQ(el_core_v(L.core)[0], want_v[k]);
        CHECK_EQ(el_core_spikes(L.core)[0], 0);
    }
    CHECK_EQ(el_core_time(L.core), 5);
    /* the counter can be set, and only the counter: stepping goes on from there */
    CHECK_EQ(el_core_set_time(NULL, 1), EL_ERR_NULL);
    CHECK_EQ(el_core_set_time(L.core, 0xFFFFFFFFull), EL_OK);
    CHECK_EQ(el_core_time(L.core), 0xFFFFFFFFull);
    CHECK_EQ(el_core_u(L.core)[0], want_u[4]);
    CHECK_EQ(el_core_step(L.core, NULL), EL_OK);
    CHECK_EQ(el_core_time(L.core), 0x100000000ull);
    CHECK_EQ(el_core_reset(L.core), EL_OK);
    CHECK_EQ(el_core_time(L.core), 0);
    layer_free(&L);
}

static void test_decay_to_zero(void)
{
    /* du = 0 still decays by one part in 4096: for 0 < u <= 4096, floor(u * 4095/4096) = u - 1,
     * so u = 640 at step 2 reaches 0 at step 642 and stays there. */
    static const int8_t w[1] = {10};
    const uint8_t one = 1;
    layer_t L;
    int k;
    int ok = 1;
    layer_init(&L, 1, 1, w, 0);
    L.pop.dv = 4095;
    layer_build(&L);
    CHECK_EQ(el_core_step(L.core, &one), EL_OK);
    for (k = 2; k <= 700; ++k) {
        const int32_t want = k <= 642 ? 640 - (k - 2) : 0;
        CHECK_EQ(el_core_step(L.core, NULL), EL_OK);
        ok &= el_core_u(L.core)[0] == want;
    }
    CHECK(ok);
    CHECK_EQ(el_core_u(L.core)[0], 0);
    layer_free(&L);
}

static void test_threshold_and_bias_firing(void)
{
    /* dv = 0 keeps v; bias 100 << 2 = 400 per step; threshold 30 << 6 = 1920:
     * v = 400, 800, 1200, 1600, 2000 > 1920 -> spikes at steps 5, 10, 15, 20 (period 5).
     * With refractory 3: v held 0 at steps 6, 7; spikes at 5, 12, 19 (period 5 + 2). */
    static const int16_t bias[1] = {100};
    el_pop_desc_t pop;
    el_core_desc_t d;
    void *mem;
    el_core_t *core;
    uint8_t s[20];
    int32_t v[20];
    int k;
    pop_defaults(&pop, 1);
    pop.dv = 0;
    pop.vth_mant = 30;
    pop.bias_mant = bias;
    pop.bias_exp = 2;
    memset(&d, 0, sizeof d);
    d.n_pops = 1;
    d.pops = &pop;
    core = build(&d, &mem);
    CHECK_EQ(el_core_run(core, NULL, 20, s, NULL, v), EL_OK);
    for (k = 0; k < 20; ++k) {
        CHECK_EQ(s[k], (k + 1) % 5 == 0);
    }
    CHECK_EQ(v[0], 400);
    CHECK_EQ(v[3], 1600);
    CHECK_EQ(v[4], 0);
    free(mem);

    pop.refractory = 3;
    core = build(&d, &mem);
    CHECK_EQ(el_core_run(core, NULL, 20, s, NULL, v), EL_OK);
    for (k = 0; k < 20; ++k) {
        CHECK_EQ(s[k], k == 4 || k == 11 || k == 18);
    }
    CHECK_EQ(v[5], 0);  /* step 6: held */
    CHECK_EQ(v[6], 0);  /* step 7: held */
    CHECK_EQ(v[7], 400); /* step 8: integrating again */
    free(mem);

    /* strict threshold: dv = 4095 makes v* = bias; 640 == vth does not spike, 641 does */
    pop.refractory = 1;
    pop.dv = 4095;
    pop.vth_mant = 10;
    pop.bias_exp = 0;
    {
        static const int16_t b640[1] = {640};
        static const int16_t b641[1] = {641};
        pop.bias_mant = b640;
        core = build(&d, &mem);
        CHECK_EQ(el_core_run(core, NULL, 3, s, NULL, v), EL_OK);
        CHECK_EQ(s[0] + s[1] + s[2], 0);
        CHECK_EQ(v[2], 640);
        free(mem);
        pop.bias_mant = b641;
        core = build(&d, &mem);
        CHECK_EQ(el_core_run(core, NULL, 3, s, NULL, v), EL_OK);
        CHECK_EQ(s[0] + s[1] + s[2], 3);
        CHECK_EQ(v[2], 0);
        free(mem);
    }
}

static void test_wrap_and_saturation(void)
{
    /* 8 axons of 127 at w_exp 7: 1016 * 2^13 = 8,323,072 (fits); 9 axons: 9,363,456 wraps to
     * -7,413,760. With du = 0 and 8 axons twice: 8,321,040 + 8,323,072 = 16,644,112 wraps to
     * -133,104. */
    int8_t w[9];
    uint8_t in[3 * 9];
    int32_t u[3];
    int32_t v[3];
    uint8_t s[3];
    layer_t L;
    memset(w, 127, sizeof w);
    memset(in, 0, sizeof in);
    memset(in, 1, 8);        /* step 1: axons 0..7 */
    memset(in + 9, 1, 9);    /* step 2: axons 0..8 */
    layer_init(&L, 9, 1, w, 7);
    L.pop.du = 4095;
    L.pop.dv = 4095;
    layer_build(&L);
    CHECK_EQ(el_core_run(L.core, in, 3, NULL, u, NULL), EL_OK);
    CHECK_EQ(u[1], 8323072);
    CHECK_EQ(u[2], -7413760);
    layer_free(&L);

    memset(in, 0, sizeof in);
    memset(in, 1, 8);
    memset(in + 9, 1, 8);
    layer_init(&L, 9, 1, w, 7);
    L.pop.dv = 4095;
    layer_build(&L);
    CHECK_EQ(el_core_run(L.core, in, 3, NULL, u, NULL), EL_OK);
    CHECK_EQ(u[1], 8323072);
    CHECK_EQ(u[2], -133104);
    layer_free(&L);

    /* 8 axons of -128: u = -2^23 exactly; v = sat24(-2^23) = -(2^23 - 1); next step
     * u = -8,386,560 and v stays saturated at -8,388,607 (du = dv = 0). */
    memset(w, 0x80, sizeof w); /* -128 */
    memset(in, 0, sizeof in);
    memset(in, 1, 8);
    layer_init(&L, 9, 1, w, 7);
    layer_build(&L);
    CHECK_EQ(el_core_run(L.core, in, 3, s, u, v), EL_OK);
    CHECK_EQ(u[1], -8388608);
    CHECK_EQ(v[1], -8388607);
    CHECK_EQ(u[2], -8386560);
    CHECK_EQ(v[2], -8388607);
    CHECK_EQ(s[0] + s[1] + s[2], 0);
    layer_free(&L);
}

static void test_mixed_and_negative_exponent(void)
{
    /* mixed: 3 -> 2, -3 -> -4; w_exp = -1 floors the sum: (2) -> 1 -> 64; (-4) -> -2 -> -128 */
    static const int8_t w[2] = {3, -3};
    int8_t back[2];
    uint8_t in[3 * 2] = {1, 0, 0, 1, 0, 0};
    int32_t u[3];
    layer_t L;
    layer_init(&L, 2, 1, w, -1);
    L.conn.flags = EL_CONN_MIXED;
    L.pop.du = 4095;
    layer_build(&L);
    CHECK_EQ(el_core_read_weights(L.core, 0, back, 2), EL_OK);
    CHECK_EQ(back[0], 2);
    CHECK_EQ(back[1], -4);
    CHECK_EQ(el_core_run(L.core, in, 3, NULL, u, NULL), EL_OK);
    CHECK_EQ(u[1], 64);
    CHECK_EQ(u[2], -128);
    layer_free(&L);
    /* not mixed, -3 at w_exp -1: floor(-1.5) = -2 -> -128 */
    layer_init(&L, 2, 1, w, -1);
    L.pop.du = 4095;
    layer_build(&L);
    CHECK_EQ(el_core_run(L.core, in, 3, NULL, u, NULL), EL_OK);
    CHECK_EQ(u[1], 64);   /* floor(3 / 2) = 1 */
    CHECK_EQ(u[2], -128); /* floor(-3 / 2) = -2 */
    layer_free(&L);
}

static void test_recurrent(void)
{
    /* input -> a (10 -> 640), a -> a (5 -> 320); du = dv = 4095, bias 400, vth 640:
     * step 2: u = 640, v* = 1040 spike; step 3..: u = 320, v* = 720 spike (self-sustaining) */
    static const int16_t bias[1] = {400};
    static const int8_t wff[1] = {10};
    static const int8_t wrec[1] = {5};
    el_pop_desc_t pop;
    el_conn_desc_t c[2];
    el_core_desc_t d;
    const uint8_t in[6] = {1, 0, 0, 0, 0, 0};
    uint8_t s[6];
    int32_t u[6];
    void *mem;
    el_core_t *core;
    int k;
    pop_defaults(&pop, 1);
    pop.du = 4095;
    pop.dv = 4095;
    pop.vth_mant = 10;
    pop.bias_mant = bias;
    memset(c, 0, sizeof c);
    c[0].src = EL_SRC_INPUT;
    c[0].weights = wff;
    c[1].src = 0;
    c[1].weights = wrec;
    memset(&d, 0, sizeof d);
    d.n_inputs = 1;
    d.n_pops = 1;
    d.pops = &pop;
    d.n_conns = 2;
    d.conns = c;
    core = build(&d, &mem);
    CHECK_EQ(el_core_run(core, in, 6, s, u, NULL), EL_OK);
    CHECK_EQ(s[0], 0);
    CHECK_EQ(u[1], 640);
    for (k = 1; k < 6; ++k) {
        CHECK_EQ(s[k], 1);
    }
    for (k = 2; k < 6; ++k) {
        CHECK_EQ(u[k], 320);
    }
    free(mem);
}

static void test_sparse_equals_dense(void)
{
    enum { N_IN = 37, N = 23, T = 50 };
    static int8_t w[N * N_IN];
    static int8_t vals[N * N_IN];
    static uint32_t indptr[N + 1];
    static uint32_t indices[N * N_IN];
    static uint8_t in[T * N_IN];
    static uint8_t s1[T * N], s2[T * N];
    static int32_t u1[T * N], u2[T * N], v1[T * N], v2[T * N];
    static int8_t back1[N * N_IN], back2[N * N_IN];
    el_pop_desc_t pop;
    el_conn_desc_t c;
    el_core_desc_t d;
    void *m1;
    void *m2;
    el_core_t *a;
    el_core_t *b;
    uint32_t x = 12345u;
    uint32_t i;
    uint32_t j;
    uint32_t nnz = 0;
    indptr[0] = 0;
    for (i = 0; i < N; ++i) {
        for (j = 0; j < N_IN; ++j) {
            const int8_t wij = (lcg(&x) % 3u == 0u) ? (int8_t)((int)(lcg(&x) % 256u) - 128) : 0;
            w[i * N_IN + j] = wij;
            if (wij != 0) {
                vals[nnz] = wij;
                indices[nnz] = j;
                ++nnz;
            }
        }
        indptr[i + 1] = nnz;
    }
    for (i = 0; i < T * N_IN; ++i) {
        in[i] = (uint8_t)(lcg(&x) % 4u == 0u);
    }
    pop_defaults(&pop, N);
    pop.du = 300;
    pop.dv = 100;
    pop.vth_mant = 40;
    pop.refractory = 2;
    memset(&c, 0, sizeof c);
    c.src = EL_SRC_INPUT;
    c.w_exp = 1;
    c.flags = EL_CONN_MIXED;
    c.weights = w;
    memset(&d, 0, sizeof d);
    d.n_inputs = N_IN;
    d.n_pops = 1;
    d.pops = &pop;
    d.n_conns = 1;
    d.conns = &c;
    a = build(&d, &m1);
    c.kind = EL_CONN_SPARSE;
    c.weights = vals;
    c.indptr = indptr;
    c.indices = indices;
    b = build(&d, &m2);
    CHECK_EQ(el_core_run(a, in, T, s1, u1, v1), EL_OK);
    CHECK_EQ(el_core_run(b, in, T, s2, u2, v2), EL_OK);
    CHECK(memcmp(s1, s2, sizeof s1) == 0);
    CHECK(memcmp(u1, u2, sizeof u1) == 0);
    CHECK(memcmp(v1, v2, sizeof v1) == 0);
    CHECK_EQ(el_core_read_weights(a, 0, back1, sizeof back1), EL_OK);
    CHECK_EQ(el_core_read_weights(b, 0, back2, sizeof back2), EL_OK);
    CHECK(memcmp(back1, back2, sizeof back1) == 0);
    {
        int spikes = 0;
        for (i = 0; i < T * N; ++i) {
            spikes += s1[i];
        }
        CHECK(spikes > 0);
    }
    /* reset gives the same run again */
    CHECK_EQ(el_core_reset(b), EL_OK);
    CHECK_EQ(el_core_time(b), 0);
    CHECK_EQ(el_core_run(b, in, T, s2, u2, v2), EL_OK);
    CHECK(memcmp(u1, u2, sizeof u1) == 0);
    free(m1);
    free(m2);
}

static void test_step_events(void)
{
    /* the event-list entry point gives the same states as the byte-vector one */
    enum { N_IN = 20, N = 9, T = 30 };
    static int8_t w[N * N_IN];
    static uint8_t in[N_IN];
    static uint32_t axons[N_IN];
    void *m1;
    void *m2;
    layer_t L;
    el_core_t *b;
    uint32_t x = 99u;
    uint32_t i;
    int t;
    int same = 1;
    for (i = 0; i < N * N_IN; ++i) {
        w[i] = (int8_t)((int)(lcg(&x) % 256u) - 128);
    }
    layer_init(&L, N_IN, N, w, 0);
    L.pop.du = 1000;
    L.pop.dv = 500;
    L.pop.vth_mant = 30;
    L.pop.refractory = 3;
    layer_build(&L);
    m1 = L.mem;
    b = build(&L.desc, &m2);
    for (t = 0; t < T; ++t) {
        uint32_t n = 0;
        for (i = 0; i < N_IN; ++i) {
            in[i] = (uint8_t)(lcg(&x) % 3u == 0u);
            if (in[i]) {
                axons[n++] = i;
            }
        }
        CHECK_EQ(el_core_step(L.core, in), EL_OK);
        CHECK_EQ(el_core_step_events(b, axons, n), EL_OK);
        same &= memcmp(el_core_u(L.core), el_core_u(b), N * sizeof(int32_t)) == 0;
        same &= memcmp(el_core_v(L.core), el_core_v(b), N * sizeof(int32_t)) == 0;
        same &= memcmp(el_core_spikes(L.core), el_core_spikes(b), N) == 0;
    }
    CHECK(same);
    /* errors leave the core unchanged */
    axons[0] = 3;
    axons[1] = 3;
    CHECK_EQ(el_core_step_events(b, axons, 2), EL_ERR_FORMAT);
    axons[1] = N_IN;
    CHECK_EQ(el_core_step_events(b, axons, 2), EL_ERR_RANGE);
    CHECK_EQ(el_core_step_events(b, NULL, 1), EL_ERR_NULL);
    CHECK_EQ(el_core_step_events(b, NULL, 0), EL_OK);
    CHECK_EQ(el_core_time(b), T + 1);
    free(m1);
    free(m2);
}

static void test_errors(void)
{
    static const int8_t w[4] = {1, 2, 3, 4};
    static const uint32_t bad_indptr[3] = {0, 2, 1};
    static const uint32_t indptr[3] = {0, 2, 2};
    static const uint32_t unsorted[2] = {1, 0};
    layer_t L;
    size_t bytes = 0;
    el_core_t *core = NULL;
    uint64_t small[4];
    void *mem;
    int8_t out[4];
    layer_init(&L, 2, 2, w, 0);
    CHECK_EQ(el_core_bytes(NULL, &bytes), EL_ERR_NULL);
    CHECK_EQ(el_core_bytes(&L.desc, NULL), EL_ERR_NULL);
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_OK);
    CHECK(bytes > 0);
    CHECK_EQ(el_core_init(&L.desc, small, sizeof small, &core), EL_ERR_SIZE);
    CHECK(core == NULL);
    mem = malloc(bytes + 8);
    CHECK_EQ(el_core_init(&L.desc, (char *)mem + 1, bytes, &core), EL_ERR_ALIGN);
    CHECK_EQ(el_core_init(&L.desc, mem, bytes, NULL), EL_ERR_NULL);
    /* an uninitialised block is not a core */
    memset(mem, 0, bytes);
    CHECK_EQ(el_core_step((el_core_t *)mem, NULL), EL_ERR_STATE);
    CHECK_EQ(el_core_step(NULL, NULL), EL_ERR_NULL);
    CHECK_EQ(el_core_reset(NULL), EL_ERR_NULL);
    CHECK(el_core_u((el_core_t *)mem) == NULL);
    CHECK_EQ(el_core_n_neurons(NULL), 0);
    /* ranges */
    L.pop.du = 4096;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.pop.du = 0;
    L.pop.refractory = 0;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.pop.refractory = 65;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.pop.refractory = 1;
    L.conn.w_exp = 8;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.conn.w_exp = -8;
    L.conn.dst = 1;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.conn.dst = 0;
    L.conn.src = 3;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.conn.src = EL_SRC_INPUT;
    L.conn.flags = EL_CONN_PLASTIC; /* plastic without rule microcode */
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_NULL);
    L.conn.flags = EL_CONN_GRADED;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_UNSUPPORTED);
    L.conn.flags = 0x80u;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.conn.flags = 0;
    L.conn.weights = NULL;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_NULL);
    L.conn.weights = w;
    {
        static const int16_t bias[2] = {0, 4096};
        L.pop.bias_mant = bias;
        CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
        L.pop.bias_mant = NULL;
    }
    /* CSR structure */
    L.conn.kind = EL_CONN_SPARSE;
    L.conn.indptr = bad_indptr;
    L.conn.indices = unsorted;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_FORMAT);
    L.conn.indptr = indptr;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_FORMAT); /* row 0 indices 1, 0 unsorted */
    L.conn.kind = 7;
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_ERR_RANGE);
    L.conn.kind = EL_CONN_DENSE;
    /* a valid core: read_weights checks */
    CHECK_EQ(el_core_bytes(&L.desc, &bytes), EL_OK);
    CHECK_EQ(el_core_init(&L.desc, mem, bytes, &core), EL_OK);
    CHECK_EQ(el_core_read_weights(core, 1, out, 4), EL_ERR_RANGE);
    CHECK_EQ(el_core_read_weights(core, 0, out, 3), EL_ERR_SIZE);
    CHECK_EQ(el_core_read_weights(core, 0, out, 4), EL_OK);
    CHECK_EQ(out[0], 1);
    CHECK_EQ(out[1], 2);
    CHECK_EQ(out[2], 3);
    CHECK_EQ(out[3], 4);
    CHECK_EQ(el_core_pop_offset(core, 0), 0);
    CHECK_EQ(el_core_pop_offset(core, 1), -1);
    free(mem);
    /* status names */
    CHECK(strcmp(el_status_name(EL_ERR_FORMAT), "EL_ERR_FORMAT") == 0);
    CHECK(strcmp(el_status_name(1000), "EL_ERR_UNKNOWN") == 0);
    CHECK(strcmp(el_status_name(-1), "EL_ERR_UNKNOWN") == 0);
    CHECK(strcmp(el_status_name(EL_ERR_RULE_STRUCTURE), "EL_ERR_RULE_STRUCTURE") == 0);
    CHECK(strcmp(el_status_name(EL_PROTO_E_NO_SAVE), "EL_PROTO_E_NO_SAVE") == 0);
    CHECK(strcmp(el_status_name(EL_ART_E_MAGIC), "EL_ART_E_MAGIC") == 0);
    CHECK(el_status_lookup(EL_ERR_FORMAT + 1) == NULL && el_status_lookup(EL_OK) != NULL);
    /* config table */
    {
        int32_t value = 0;
        CHECK(el_config_count() > 20);
        CHECK(strcmp(el_config_at(0, &value), "STATE_BITS") == 0);
        CHECK_EQ(value, 24);
        CHECK(el_config_at(-1, NULL) == NULL);
        CHECK(el_config_at(el_config_count(), NULL) == NULL);
    }
}

/* ---- sizes near SIZE_MAX ------------------------------------------------------------------ */

/* A sparse connection of 65,536 axons to 65,536 neurons holding two weights: n_dst * n_src is
 * 2^32 (0 in a 32-bit size_t: tests/m4_sizes.c shows the wrap on Cortex-M). A buffer of 16
 * values is refused and left untouched. Then el_core_run / el_core_run_third with a raster of
 * n_steps * n_inputs > SIZE_MAX bytes: EL_ERR_SIZE before any step (they used to step on,
 * reading past the raster). */
static void test_size_limits(void)
{
    static const int8_t w[2] = {77, 66};
    static const uint32_t indices[2] = {5, 100};
    uint32_t *indptr = (uint32_t *)malloc((65536u + 1u) * sizeof(uint32_t));
    struct {
        int8_t out[16];
        int8_t canary[16];
    } buf;
    layer_t L;
    uint32_t i;
    uint8_t raster[2 * 64];
    int8_t third[2];
    size_t too_many;
    test_ctx = "size limits";
    indptr[0] = 0;
    for (i = 1; i <= 65536u; ++i) {
        indptr[i] = 2; /* row 0 holds sources 5 and 100 */
    }
    layer_init(&L, 65536u, 65536u, w, 0);
    L.conn.kind = EL_CONN_SPARSE;
    L.conn.indptr = indptr;
    L.conn.indices = indices;
    layer_build(&L);
    memset(&buf, 0x5A, sizeof buf);
    CHECK_EQ(el_core_read_weights(L.core, 0, buf.out, sizeof buf.out), EL_ERR_SIZE);
    for (i = 0; i < sizeof buf.out; ++i) {
        CHECK_EQ(buf.out[i], 0x5A); /* nothing written */
    }
    layer_free(&L);
    free(indptr);
    /* 64 axons, 1 neuron: the outputs' n_steps * 4 fit, the raster's n_steps * 64 do not */
    {
        static int8_t w64[64];
        layer_init(&L, 64u, 1u, w64, 0);
        layer_build(&L);
        memset(raster, 0, sizeof raster);
        memset(third, 0, sizeof third);
        too_many = SIZE_MAX / 64u + 1u;
        CHECK_EQ(el_core_run(L.core, raster, too_many, NULL, NULL, NULL), EL_ERR_SIZE);
        CHECK_EQ(el_core_run_third(L.core, raster, third, too_many, NULL, NULL, NULL),
                 EL_ERR_SIZE);
        CHECK_EQ(el_core_time(L.core), 0); /* no step taken */
        CHECK_EQ(el_core_run(L.core, raster, 2, NULL, NULL, NULL), EL_OK); /* the limit's edge */
        CHECK_EQ(el_core_run_third(L.core, raster, third, 2, NULL, NULL, NULL), EL_OK);
        CHECK_EQ(el_core_time(L.core), 4);
        layer_free(&L);
    }
    test_ctx = "";
}

/* Third factors computed by designated neurons (spec 5.3). Population 1 ("err", never spikes,
 * du = 4095: u holds only this step's input) takes from axon 0 weight 3 and from axon 1 weight
 * -5, so u = 3 * 64 = 192 and -5 * 64 = -320 one step after the axons spike. Population 0
 * takes its r from population 1: shift 2 gives 48 and -80; shift 9 gives 0 and floor(-320/512)
 * = -1; shift 0 clamps to 127 and -128. */
static void test_computed_third(void)
{
    static const int8_t w[4] = {3, 0, 0, -5};
    static const uint8_t both[2] = {1, 1};
    static const struct { int32_t shift, r0, r1; } cases[3] = {{2, 48, -80}, {9, 0, -1},
                                                               {0, 127, -128}};
    el_pop_desc_t pops[2];
    el_conn_desc_t conn;
    el_core_desc_t d;
    void *mem;
    el_core_t *core;
    size_t bytes;
    int8_t r[4] = {0, 0, 0, 0};
    int8_t third_rows[2 * 4];
    int k;
    pop_defaults(&pops[0], 2);
    pop_defaults(&pops[1], 2);
    pops[1].du = 4095;
    memset(&conn, 0, sizeof conn);
    conn.src = EL_SRC_INPUT;
    conn.dst = 1;
    conn.kind = EL_CONN_DENSE;
    conn.flags = 0u; /* not mixed: the mantissas as they are */
    conn.weights = w;
    memset(&d, 0, sizeof d);
    d.n_inputs = 2;
    d.n_pops = 2;
    d.pops = pops;
    d.n_conns = 1;
    d.conns = &conn;
    pops[0].flags = EL_POP_THIRD_COMPUTED;
    pops[0].third_src = 1;
    for (k = 0; k < 3; ++k) {
        pops[0].third_shift = cases[k].shift;
        core = build(&d, &mem);
        CHECK_EQ(el_core_third(core)[0], 0);
        CHECK_EQ(el_core_step(core, both), EL_OK);
        CHECK_EQ(el_core_third(core)[0], 0); /* the spikes enter u at the next step */
        CHECK_EQ(el_core_step(core, NULL), EL_OK);
        CHECK_EQ(el_core_u(core)[2], 192);
        CHECK_EQ(el_core_u(core)[3], -320);
        CHECK_EQ(el_core_third(core)[0], cases[k].r0);
        CHECK_EQ(el_core_third(core)[1], cases[k].r1);
        CHECK_EQ(el_core_third(core)[2], 0); /* err's own third factor is the host's */
        free(mem);
    }
    /* the host writes err's, not out's: a non-zero value for out is refused, nothing written */
    r[2] = 7;
    r[0] = 1;
    CHECK_EQ(el_core_set_third(core = build(&d, &mem), r), EL_ERR_RANGE);
    CHECK_EQ(el_core_third(core)[2], 0);
    r[0] = 0;
    CHECK_EQ(el_core_set_third(core, r), EL_OK);
    CHECK_EQ(el_core_third(core)[2], 7);
    memset(third_rows, 0, sizeof third_rows);
    third_rows[4 + 1] = -3; /* row 1, neuron 1 (out): refused before any step */
    CHECK_EQ(el_core_run_third(core, NULL, third_rows, 2, NULL, NULL, NULL), EL_ERR_RANGE);
    CHECK_EQ(el_core_time(core), 0u);
    third_rows[4 + 1] = 0;
    CHECK_EQ(el_core_run_third(core, NULL, third_rows, 2, NULL, NULL, NULL), EL_OK);
    CHECK_EQ(el_core_time(core), 2u);
    free(mem);
    /* descriptor checks */
    pops[0].third_shift = EL_THIRD_SHIFT_MAX + 1;
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_ERR_RANGE);
    pops[0].third_shift = EL_THIRD_SHIFT_MAX;
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_OK);
    pops[0].third_src = 2; /* no population 2 */
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_ERR_RANGE);
    pops[0].third_src = -1;
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_ERR_RANGE);
    pops[0].third_src = 0; /* itself: allowed */
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_OK);
    pops[1].size = 3; /* another size */
    pops[0].third_src = 1;
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_ERR_RANGE);
    pops[1].size = 2;
    pops[0].flags = EL_POP_THIRD_COMPUTED | 2u; /* a reserved bit */
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_ERR_UNSUPPORTED);
    pops[0].flags = 0u; /* no flag: source and shift must be 0 */
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_ERR_RANGE);
    pops[0].third_src = 0;
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_ERR_RANGE);
    pops[0].third_shift = 0;
    CHECK_EQ(el_core_bytes(&d, &bytes), EL_OK);
}

int main(void)
{
    test_fixed();
    test_impulse_response();
    test_decay_to_zero();
    test_threshold_and_bias_firing();
    test_wrap_and_saturation();
    test_mixed_and_negative_exponent();
    test_recurrent();
    test_sparse_equals_dense();
    test_step_events();
    test_errors();
    test_size_limits();
    test_computed_third();
    printf("test_core: %d checks, %d failures\n", test_checks, test_failures);
    return test_failures == 0 ? 0 : 1;
}
