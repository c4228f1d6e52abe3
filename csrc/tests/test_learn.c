/*
 * Unit tests of the plasticity processor (el_learn, el_fixed.h's learning helpers, el_core's
 * plastic connections): exact integer answers worked out by hand (the comments give the
 * arithmetic), PRNG golden words, and malformed microcode (every truncation, every bit flip,
 * random bytes: only statuses, never a read past the buffer -- ASan watches every load from an
 * exactly sized heap copy). Built and run under ASan + UBSan by `make -C csrc test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgelearn.h"
#include "test_fixtures.h" /* STDP, big_sparse_init */
#include "test_util.h"

/* ---- rule microcode, written out by hand ------------------------------------------------- */

/* A three-factor rule: dw = 2^-4 * x1 * r, x1.impulse = 1024, round = floor. */
static const uint8_t THIRD[] = {
    'E', 'L', 'R', 'U', 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x80, 0x7f,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01,
    0x01, 0xfc, 0x02, 0x00, 0x00, 0x00, /* mant 1, exp -4, 2 factors */
    0x01, 0x01, 0x01, 0x00,             /* (x1) */
    0x01, 0x07, 0x01, 0x00,             /* (r) */
};

/* A rule with a tag, a gate, a constant and every rounding field exercised by the fuzz:
 *   dw = 3 * 2^-6 * r * e when |r - y1| > 8
 *   de = 2^-3 * (x1 - 16) * y0 - 2^-3 * e
 *   t_epoch = 2, w_min = -20, w_max = 40, round = stochastic */
static const uint8_t TAGGED[] = {
    'E', 'L', 'R', 'U', 0x01, 0x00, 0x04, 0x00, 0x02, 0x00, 0xec, 0x28,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02,
    0x00, 0x01,                                     /* dw, one term */
    0x03, 0xfa, 0x02, 0x01, 0x08, 0x00,             /* mant 3, exp -6, 2 factors, gate > 8 */
    0x02, 0x07, 0x01, 0x00, 0x04, 0xff, 0xff,       /* gate: (r - y1) */
    0x01, 0x07, 0x01, 0x00,                         /* (r) */
    0x01, 0x09, 0x01, 0x00,                         /* (e) */
    0x01, 0x02,                                     /* de, two terms */
    0x01, 0xfd, 0x02, 0x00, 0x00, 0x00,             /* mant 1, exp -3 */
    0x02, 0x01, 0x01, 0x00, 0xff, 0xf0, 0xff,       /* (x1 - 16) */
    0x01, 0x03, 0x01, 0x00,                         /* (y0) */
    0xff, 0xfd, 0x01, 0x00, 0x00, 0x00,             /* mant -1, exp -3, 1 factor */
    0x01, 0x09, 0x01, 0x00,                         /* (e) */
};

/* Load from an exactly sized heap copy, so ASan catches any read past the end. */
static el_status_t load_copy(const uint8_t *code, size_t len, el_rule_t *rule)
{
    uint8_t *copy = dup_bytes(code, len);
    el_status_t st = el_rule_load(copy, len, rule);
    free(copy);
    return st;
}

/* ---- PRNG and fixed-point helpers ------------------------------------------------------- */

static void test_prng_golden(void)
{
    /* rand = mix(mix(mix(mix(index) ^ stream) ^ t) ^ seed), mix(x) = lowbias32(x + 0x9E3779B9),
     * worked with Python integers from the formula of docs/spec.md 5.1 (and equal to
     * edgelearn.fixed.rand): */
    CHECK_EQ(el_mix32(0u), 0x01fce552u);
    CHECK_EQ(el_rand(0u, 0u, 0u, 0u), 3150628639u);
    CHECK_EQ(el_rand(1u, 2u, 3u, 4u), 3303128040u);
    CHECK_EQ(el_rand(0xFFFFFFFFu, 65535u, 255u, 1000000000u), 1648712992u);
    CHECK_EQ(el_rand(7u, 3u, 5u, 9u), 3229682389u);
    /* reproducible, and different indices give different words */
    CHECK_EQ(el_rand(7u, 3u, 5u, 9u), el_rand(7u, 3u, 5u, 9u));
    CHECK(el_rand(7u, 3u, 5u, 9u) != el_rand(7u, 3u, 5u, 10u));
}

static void test_learning_helpers(void)
{
    /* decay x = 37, d = 1000: 37 * 3096 = 114552; (114552 + 0) >> 12 = 27 and
     * (114552 + 4095) >> 12 = 28 (E = 27.97) */
    CHECK_EQ(el_trace_decay(37, 1000, 0x000FFFFFu), 27);
    CHECK_EQ(el_trace_decay(37, 1000, 0xFFF00000u), 28);
    CHECK_EQ(el_trace_decay(127, 0, 0xFFFFFFFFu), 127); /* d = 0 keeps x exactly */
    CHECK_EQ(el_trace_decay(127, 4095, 0u), 0);           /* 127 * 1 >> 12 */
    CHECK_EQ(el_trace_decay(127, 4095, 0xFFFFFFFFu), 1);  /* (127 + 4095) >> 12 */
    /* impulse 23/16 = 1.4375: (23 + 0) >> 4 = 1, (23 + 15) >> 4 = 2; 2047 -> 127 or 128 */
    CHECK_EQ(el_trace_impulse(23, 0u), 1);
    CHECK_EQ(el_trace_impulse(23, 15u), 2);
    CHECK_EQ(el_trace_impulse(2047, 0u), 127);
    CHECK_EQ(el_trace_impulse(2047, 1u), 128);
    /* T = floor(P * 2^k): -3 * 2^-1 = -1.5 -> -2; 1000 * 2^22 clamps to 2^24; -5 * 2^3 = -40 */
    CHECK_EQ(el_learn_term(-3, -1), -2);
    CHECK_EQ(el_learn_term(3, -1), 1);
    CHECK_EQ(el_learn_term(1000, 22), 16777216);
    CHECK_EQ(el_learn_term(-1000, 22), -16777216);
    CHECK_EQ(el_learn_term(-5, 3), -40);
    CHECK_EQ(el_learn_term(16777215, 0), 16777215);
    CHECK_EQ(el_learn_term(-16777215, -9), -32768); /* floor(-32767.998) */
    /* saturating accumulator: clamp(acc + T, -2^23, 2^23) */
    CHECK_EQ(el_learn_acc_add(8388603, 100), 8388608);
    CHECK_EQ(el_learn_acc_add(-8388608, -16777216), -8388608);
    CHECK_EQ(el_learn_acc_add(8388608, -16777216), -8388608);
    CHECK_EQ(el_learn_acc_add(5, -7), -2);
    /* rounding with 15 fraction bits */
    CHECK_EQ(el_learn_round_stochastic(-1, 0u), -1);              /* floor(-1/2^15) */
    CHECK_EQ(el_learn_round_stochastic(-1, 0xFFFE0000u), 0);      /* (-1 + 32767) >> 15 */
    CHECK_EQ(el_learn_round_stochastic(8388608, 0xFFFFFFFFu), 256);
    CHECK_EQ(el_learn_round_fixed(16384, 1), 1);                  /* 0.5 rounds up */
    CHECK_EQ(el_learn_round_fixed(-16384, 1), 0);                 /* -0.5 rounds up to 0 */
    CHECK_EQ(el_learn_round_fixed(-16385, 1), -1);
    CHECK_EQ(el_learn_round_fixed(-1, 0), -1);
    CHECK_EQ(el_learn_round_fixed(32767, 0), 0);
    CHECK_EQ(el_mixed_trunc(-3), -4);
    CHECK_EQ(el_mixed_trunc(3), 2);
    CHECK_EQ(el_mixed_trunc(-128), -128);
    CHECK_EQ(el_mixed_trunc(127), 126);
}

/* Stochastic rounding is unbiased: 2e5 draws of the C PRNG. Each outcome is Bernoulli(p) on
 * top of the floor, so the mean's standard deviation is sqrt(p (1 - p) / n); allow 5 of them
 * (checked in integers: (sum - n p)^2 < 25 n p (1 - p), p = num / den). */
static void check_unbiased(long long sum, long long n, long long num, long long den)
{
    /* (sum * den - n * num)^2 < 25 * n * num * (den - num), all scaled by den^2 */
    const double dev = (double)sum * (double)den - (double)n * (double)num;
    CHECK(dev * dev < 25.0 * (double)n * (double)num * (double)(den - num));
}

static void test_rounding_unbiased(void)
{
    const long long n = 200000;
    long long sum_decay = 0;
    long long sum_imp = 0;
    long long sum_acc = 0;
    long long t;
    for (t = 1; t <= n; ++t) {
        const uint32_t word = el_rand(1u, (uint32_t)t, EL_KIND_DW, 0u);
        sum_decay += el_trace_decay(37, 1000, word);  /* E = 37 * 3096 / 4096 = 27 + 3000/4096 */
        sum_imp += el_trace_impulse(23, word);        /* E = 23 / 16 = 1 + 7/16 */
        sum_acc += el_learn_round_stochastic(12345, word); /* E = 12345 / 32768 */
    }
    check_unbiased(sum_decay - 27 * n, n, 37 * 3096 - 27 * 4096, 4096);
    check_unbiased(sum_imp - n, n, 7, 16);
    check_unbiased(sum_acc, n, 12345, 32768);
}

/* ---- the loader ------------------------------------------------------------------------- */

static void test_loader(void)
{
    el_rule_t r;
    uint8_t buf[sizeof TAGGED + 1];
    CHECK_EQ(load_copy(STDP, sizeof STDP, &r), EL_OK);
    CHECK_EQ(r.t_epoch, 1);
    CHECK_EQ(r.rounding, EL_ROUND_FLOOR);
    CHECK_EQ(r.n_terms[0], 2);
    CHECK_EQ(r.n_terms[1], 0);
    CHECK_EQ(r.decay[0], 2048);
    CHECK_EQ(r.impulse[2], 1024);
    CHECK_EQ(r.term[1].mant, -1);
    CHECK_EQ(r.term[1].f[0].var[0], EL_VAR_Y1);
    CHECK_EQ(load_copy(TAGGED, sizeof TAGGED, &r), EL_OK);
    CHECK_EQ(r.has_tag, 1);
    CHECK_EQ(r.w_min, -20);
    CHECK_EQ(r.w_max, 40);
    CHECK_EQ(r.term[0].gated, 1);
    CHECK_EQ(r.term[0].gate_th, 8);
    CHECK_EQ(r.term[0].gate.k[1], -1);
    CHECK_EQ(r.term[1].f[0].cnst, -16);
    CHECK_EQ(el_rule_load(NULL, 3u, &r), EL_ERR_NULL);
    CHECK_EQ(el_rule_load(STDP, sizeof STDP, NULL), EL_ERR_NULL);
    /* one field at a time */
    memcpy(buf, STDP, sizeof STDP);
    buf[0] = 'X';
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_MAGIC);
    memcpy(buf, STDP, sizeof STDP);
    buf[4] = 2; /* version 2 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_VERSION);
    memcpy(buf, STDP, sizeof STDP);
    buf[6] = 3; /* rounding mode 3 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[8] = 0; /* t_epoch 0 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[10] = 5; /* w_min 5 > w_max -1 */
    buf[11] = 0xff;
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[13] = 0x10; /* x1 decay 4096 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[15] = 0x08; /* x1 impulse 2048 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[33] = 1; /* first target is de */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[36] = 8; /* exponent 8 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[42] = 10; /* variable id 10 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[42] = EL_VAR_E; /* e without a de target */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_FIELD);
    memcpy(buf, STDP, sizeof STDP);
    buf[43] = 0x00; /* x1 coefficient 0x8000 = -32768: 128 * 32768*127 * 1 >= 2^24 */
    buf[44] = 0x80;
    buf[35] = 0x80; /* mant -128 */
    CHECK_EQ(load_copy(buf, sizeof STDP, &r), EL_ERR_RULE_WIDTH);
    memcpy(buf, STDP, sizeof STDP);
    buf[sizeof STDP] = 0;
    CHECK_EQ(load_copy(buf, sizeof STDP + 1u, &r), EL_ERR_RULE_TRAILING);
    CHECK_EQ(load_copy(STDP, 0u, &r), EL_ERR_RULE_MAGIC);
}

/* Every truncation, every single-bit flip, and random mutations of the valid blobs: only
 * statuses come back; a blob that loads is internally consistent. */
static void test_loader_fuzz(void)
{
    static const struct {
        const uint8_t *p;
        size_t n;
    } blobs[] = {{STDP, sizeof STDP}, {THIRD, sizeof THIRD}, {TAGGED, sizeof TAGGED}};
    size_t b;
    size_t len;
    size_t bit;
    uint32_t seed = 12345u;
    unsigned ok = 0;
    unsigned refused = 0;
    int it;
    el_rule_t r;
    uint8_t buf[256];
    memset(buf, 0, sizeof buf); /* the "stale bytes" a cut may extend into: the same every run */
    for (b = 0; b < 3u; ++b) {
        for (len = 0; len < blobs[b].n; ++len) {
            el_status_t st = load_copy(blobs[b].p, len, &r);
            CHECK_EQ(st, len == 0u ? EL_ERR_RULE_MAGIC : EL_ERR_RULE_TRUNCATED);
        }
        for (bit = 0; bit < 8u * blobs[b].n; ++bit) {
            el_status_t st;
            memcpy(buf, blobs[b].p, blobs[b].n);
            buf[bit / 8u] = (uint8_t)(buf[bit / 8u] ^ (1u << (bit % 8u)));
            st = load_copy(buf, blobs[b].n, &r);
            if (st == EL_OK) {
                ++ok;
                CHECK(r.t_epoch >= 1u && r.w_min <= r.w_max && r.n_terms[0] >= 1u);
            } else {
                ++refused;
                CHECK(st >= EL_ERR_RULE_MAGIC && st <= EL_ERR_RULE_TRAILING);
            }
        }
    }
    for (it = 0; it < 100000; ++it) {
        const size_t k = lcg(&seed) % 3u;
        size_t n = blobs[k].n;
        int m;
        el_status_t st;
        memcpy(buf, blobs[k].p, n);
        for (m = 0; m < 1 + (int)(lcg(&seed) % 6u); ++m) {
            buf[lcg(&seed) % n] = (uint8_t)lcg(&seed);
        }
        if (lcg(&seed) % 4u == 0u) {
            n = lcg(&seed) % (n + 8u); /* cut short or extend with stale bytes */
        }
        st = load_copy(buf, n, &r);
        CHECK(st == EL_OK || (st >= EL_ERR_RULE_MAGIC && st <= EL_ERR_RULE_TRAILING));
        if (st == EL_OK) {
            ++ok;
        } else {
            ++refused;
        }
    }
    printf("test_learn: microcode fuzz: %u loaded, %u refused\n", ok, refused);
}

/* ---- the core with a plastic connection ------------------------------------------------- */

typedef struct net {
    el_pop_desc_t pop;
    el_conn_desc_t conns[2];
    el_core_desc_t desc;
    void *mem;
    el_core_t *core;
} net_t;

/* Two axons -> one neuron (du = dv = 4095: u and v hold only this step's input, vth 64).
 * Connection 0: drive, dense [0, 127] (127 * 64 = 8128 > 64: axon 1 makes the neuron spike
 * one step later). Connection 1: plastic, dense [0, 0] or sparse (both stored), rule `code`. */
static void net_build(net_t *N, const uint8_t *code, size_t len, int sparse)
{
    static const int8_t drive[2] = {0, 127};
    static const int8_t zero[2] = {0, 0};
    static const uint32_t indptr[2] = {0, 2};
    static const uint32_t indices[2] = {0, 1};
    size_t bytes = 0;
    memset(N, 0, sizeof *N);
    N->pop.size = 1;
    N->pop.du = 4095;
    N->pop.dv = 4095;
    N->pop.vth_mant = 1;
    N->pop.refractory = 1;
    N->conns[0].src = EL_SRC_INPUT;
    N->conns[0].kind = EL_CONN_DENSE;
    N->conns[0].weights = drive;
    N->conns[1].src = EL_SRC_INPUT;
    N->conns[1].kind = sparse ? EL_CONN_SPARSE : EL_CONN_DENSE;
    N->conns[1].weights = zero;
    N->conns[1].indptr = sparse ? indptr : NULL;
    N->conns[1].indices = sparse ? indices : NULL;
    N->conns[1].flags = EL_CONN_PLASTIC;
    N->conns[1].rule = code;
    N->conns[1].rule_len = (uint32_t)len;
    N->desc.n_inputs = 2;
    N->desc.n_pops = 1;
    N->desc.pops = &N->pop;
    N->desc.n_conns = 2;
    N->desc.conns = N->conns;
    N->desc.seed = 42;
    CHECK_EQ(el_core_bytes(&N->desc, &bytes), EL_OK);
    N->mem = malloc(bytes);
    CHECK_EQ(el_core_init(&N->desc, N->mem, bytes, &N->core), EL_OK);
}

/* Steps 1..steps with axon 0 spiking at pre_step and axon 1 at drive_step. */
static void net_run(net_t *N, int pre_step, int drive_step, int steps)
{
    int t;
    for (t = 1; t <= steps; ++t) {
        uint8_t in[2];
        in[0] = (uint8_t)(t == pre_step);
        in[1] = (uint8_t)(t == drive_step);
        CHECK_EQ(el_core_step(N->core, in), EL_OK);
    }
}

static void test_stdp_pairs(void)
{
    int sparse;
    for (sparse = 0; sparse < 2; ++sparse) {
        net_t N;
        int8_t w[2];
        int8_t e[2];
        uint8_t x[4];
        uint8_t y[3];
        /* Causal pair. Pre (axon 0) at step 1: x1 = (0 * 2048 + r) >> 12 = 0, then
         * + (1024 + (r & 15)) >> 4 = 64, whatever r. Each later step halves it exactly
         * ((64 * 2048 + r) >> 12 = 32 for every r < 4096): 32, 16, 8 at step 4. Axon 1 spikes
         * at step 3, so the neuron spikes at step 4 (y0 = 1 at that epoch). Epochs every step:
         * t = 1: y0 = 0, y1 = 0 -> dw = 0. t = 4: term 1: P = 1 * 8 * 1, T = 8 * 2^(-1 + 15)
         * = 131072; term 2: y1 * x0 = 64 * 0 = 0; floor(131072 / 2^15) = 4. w[0] = 4.
         * Synapse 1 (axon 1, also plastic): x1 = 64 at step 3, 32 at step 4, y0 = 1 at t = 4:
         * 32 * 2^14 / 2^15 = 16. At t = 3 its x0 = 1 but y1 = 0. w = [4, 16]. */
        net_build(&N, STDP, sizeof STDP, sparse);
        net_run(&N, 1, 3, 8);
        CHECK_EQ(el_core_read_plastic(N.core, 1u, w, e, 2u), EL_OK);
        CHECK_EQ(w[0], 4);
        CHECK_EQ(w[1], 16);
        CHECK_EQ(e[0], 0);
        /* traces at step 8: x1 of axon 0: 64 at step 1 halved 7 times = 0 (64 >> 7, exact
         * halving of 1 is (2048 + r) >> 12 = 0); x1 of axon 1: 64 at 3 -> 64 >> 5 = 2;
         * y1: 64 at 4 -> 64 >> 4 = 4. */
        CHECK_EQ(el_core_read_traces(N.core, 1u, x, y), EL_OK);
        CHECK_EQ(x[0], 0);
        CHECK_EQ(x[1], 2);
        CHECK_EQ(x[2], 0);
        CHECK_EQ(y[0], 4);
        free(N.mem);

        /* Anti-causal pair: axon 1 at step 1 -> post spike at step 2: y1 = 64, 32 at step 3,
         * 16 at step 4. Pre at step 4: x0 = 1 at t = 4 -> T = -(1 * 16 * 1) * 2^14,
         * dw = floor(-262144 / 2^15) = -8. At t = 2, x1 of axon 0 is 0. */
        net_build(&N, STDP, sizeof STDP, sparse);
        net_run(&N, 4, 1, 8);
        CHECK_EQ(el_core_read_plastic(N.core, 1u, w, NULL, 2u), EL_OK);
        CHECK_EQ(w[0], -8);
        /* learning off: the same run leaves the weight, the traces still move */
        CHECK_EQ(el_core_reset(N.core), EL_OK);
        CHECK_EQ(el_core_set_learning(N.core, 0), EL_OK);
        net_run(&N, 4, 1, 4);
        CHECK_EQ(el_core_read_plastic(N.core, 1u, w, NULL, 2u), EL_OK);
        CHECK_EQ(w[0], -8);
        CHECK_EQ(el_core_read_traces(N.core, 1u, x, y), EL_OK);
        CHECK_EQ(y[0], 16);
        free(N.mem);
    }
}

static void test_third_factor_and_hyper(void)
{
    net_t N;
    int8_t w[2];
    int8_t r = 10;
    uint8_t code[sizeof THIRD];
    int t;
    /* dw = 2^-4 * x1 * r, x1.impulse = 1024 (no decay): pre at step 1 -> x1 = 64 from then
     * on; r = 10: T = 64 * 10 * 2^11 = 1310720, dw = floor(1310720 / 2^15) = 40 per epoch:
     * w = 40, 80, 120, then 160 clamps to w_max = 127. */
    net_build(&N, THIRD, sizeof THIRD, 0);
    CHECK_EQ(el_core_set_third(N.core, &r), EL_OK);
    for (t = 1; t <= 4; ++t) {
        uint8_t in[2] = {(uint8_t)(t == 1), 0};
        CHECK_EQ(el_core_step(N.core, in), EL_OK);
        CHECK_EQ(el_core_read_plastic(N.core, 1u, w, NULL, 2u), EL_OK);
        CHECK_EQ(w[0], t < 4 ? 40 * t : 127);
        CHECK_EQ(w[1], 0);
    }
    /* r = -128: dw = floor(64 * -128 * 2^11 / 2^15) = -512 -> clamps at -128 */
    r = -128;
    CHECK_EQ(el_core_set_third(N.core, &r), EL_OK);
    CHECK_EQ(el_core_step(N.core, NULL), EL_OK);
    CHECK_EQ(el_core_read_plastic(N.core, 1u, w, NULL, 2u), EL_OK);
    CHECK_EQ(w[0], -128);
    /* new hyperparameters (mantissa 1 -> -1, x1 impulse 1024 -> 512): accepted */
    memcpy(code, THIRD, sizeof THIRD);
    code[35] = 0xff;
    code[15] = 0x02;
    CHECK_EQ(el_core_set_rule(N.core, 1u, code, sizeof code), EL_OK);
    /* -1 * 64 * -128 * 2^11 / 2^15 = +512 -> 127 */
    CHECK_EQ(el_core_step(N.core, NULL), EL_OK);
    CHECK_EQ(el_core_read_plastic(N.core, 1u, w, NULL, 2u), EL_OK);
    CHECK_EQ(w[0], 127);
    /* a different structure is refused, nothing changes */
    code[36] = 0xfd; /* exponent -3 */
    CHECK_EQ(el_core_set_rule(N.core, 1u, code, sizeof code), EL_ERR_RULE_STRUCTURE);
    CHECK_EQ(el_core_set_rule(N.core, 1u, STDP, sizeof STDP), EL_ERR_RULE_STRUCTURE);
    CHECK_EQ(el_core_set_rule(N.core, 0u, THIRD, sizeof THIRD), EL_ERR_RANGE);
    CHECK_EQ(el_core_set_rule(N.core, 1u, code, 10u), EL_ERR_RULE_TRUNCATED);
    CHECK_EQ(el_core_read_plastic(N.core, 0u, w, NULL, 2u), EL_ERR_RANGE);
    CHECK_EQ(el_core_read_plastic(N.core, 1u, w, NULL, 1u), EL_ERR_SIZE);
    CHECK_EQ(el_core_set_third(N.core, NULL), EL_ERR_NULL);
    free(N.mem);
    /* a malformed rule is refused at init with its status */
    {
        net_t M;
        size_t bytes = 0;
        memset(&M, 0, sizeof M);
        net_build(&M, THIRD, sizeof THIRD, 0);
        M.conns[1].rule_len = 20u;
        CHECK_EQ(el_core_bytes(&M.desc, &bytes), EL_ERR_RULE_TRUNCATED);
        free(M.mem);
    }
}

/* A plastic sparse connection of 65,536 axons to 65,536 neurons with two synapses: its dense
 * read-back needs n_dst * n_src = 2^32 values (0 in a 32-bit size_t; tests/m4_sizes.c runs the
 * same on Cortex-M). 16 values are refused, nothing written; a whole plastic read of a small
 * connection through el_plastic_read's length check still works (test_third_factor_and_hyper). */
static void test_read_plastic_size(void)
{
    uint32_t *indptr = (uint32_t *)malloc((BIG_SPARSE_N + 1u) * sizeof(uint32_t));
    big_sparse_t big;
    el_core_t *core = NULL;
    void *mem;
    size_t bytes = 0;
    int8_t w[16], e[16];
    uint32_t i;
    big_sparse_init(&big, indptr);
    CHECK_EQ(el_core_bytes(&big.desc, &bytes), EL_OK);
    mem = malloc(bytes);
    CHECK_EQ(el_core_init(&big.desc, mem, bytes, &core), EL_OK);
    memset(w, 0x5A, sizeof w);
    memset(e, 0x5A, sizeof e);
    CHECK_EQ(el_core_read_plastic(core, 0u, w, e, sizeof w), EL_ERR_SIZE);
    CHECK_EQ(el_core_read_plastic(core, 0u, NULL, e, sizeof e), EL_ERR_SIZE);
    CHECK_EQ(el_core_read_weights(core, 0u, w, sizeof w), EL_ERR_SIZE);
    for (i = 0; i < 16u; ++i) {
        CHECK_EQ(w[i], 0x5A);
        CHECK_EQ(e[i], 0x5A);
    }
    free(mem);
    free(indptr);
}

int main(void)
{
    test_prng_golden();
    test_learning_helpers();
    test_rounding_unbiased();
    test_loader();
    test_loader_fuzz();
    test_stdp_pairs();
    test_third_factor_and_hyper();
    test_read_plastic_size();
    printf("test_learn: %d checks, %d failures\n", test_checks, test_failures);
    return test_failures == 0 ? 0 : 1;
}
