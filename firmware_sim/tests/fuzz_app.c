/* Fuzz of the firmware's dispatcher (app.c) under ASan + UBSan: EL_FUZZ_ITERS (default 10^6)
 * random and mutated frames, deterministic (EL_FUZZ_SEED), each pushed through el_app_input()
 * exactly as the UART delivers it.
 *
 * Inputs mix: CRC-valid frames of every request type with well-formed payloads near the model's
 * real ranges (so the handlers run: EVENTS, RUN, LABEL, READ, RULE, SAVE/RESTORE, LOAD of a
 * real artifact...), CRC-valid frames with random payloads (any length, any type, seq 0,
 * repeated seqs), the same mutated after framing (bit flips, truncation, inserted bytes and
 * delimiters), and raw noise. A valid plastic artifact is loaded at the start and again every
 * few thousand inputs, so most requests meet a model.
 *
 * Oracles, checked after every input: everything the app sends decodes as valid frames; every
 * CRC-valid request frame is answered by exactly one frame (its response or an ERROR) with its
 * seq; a retransmission is answered with the same bytes; and at the end the device still
 * answers INFO and RUN with a model loaded. No crash, no sanitizer report, no hang (RUN is
 * bounded by max_run_steps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "artifact_vectors.h" /* csrc/tests: images written by edgelearn.artifact */
#include "ram_flash.h"
#include "test_util.h"        /* csrc/tests: the generator */

#define IMG (64u * 1024u)
#define FLASH (2u * (IMG + 64u))

static uint8_t g_arena[1u << 20] __attribute__((aligned(64)));
static uint8_t g_image[2][IMG] __attribute__((aligned(8)));
static el_event_t g_queue[256];
static uint8_t g_flash[FLASH];
static el_ram_flash_t g_ram_flash = {g_flash, sizeof g_flash};
static el_app_t g_app;
static el_rx_t g_host_rx; /* decodes what the device sends */
static unsigned long g_out_frames, g_out_errors;
static el_proto_frame_t g_last_out;
static uint8_t g_last_payload[EL_PROTO_MAX_PAYLOAD];
static uint8_t g_out_bytes[4 * EL_PROTO_MAX_WIRE];
static size_t g_out_len;

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rnd(void)
{
    return xorshift64s(&rng_state);
}
static uint32_t below(uint32_t n)
{
    return (uint32_t)xorshift64s_below(&rng_state, n);
}

#define REQUIRE(c)                                                                        \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "fuzz_app: %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #c); \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static size_t h_read(void *ctx, uint8_t *buf, size_t n)
{
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

static void h_write(void *ctx, const uint8_t *buf, size_t n)
{
    size_t i;
    (void)ctx;
    if (g_out_len + n <= sizeof g_out_bytes) {
        memcpy(g_out_bytes + g_out_len, buf, n);
        g_out_len += n;
    }
    for (i = 0; i < n; ++i) {
        bool ready = false;
        el_proto_status_t st = el_rx_push(&g_host_rx, buf[i], &ready);
        REQUIRE(st == EL_PROTO_OK); /* the device only ever sends valid frames */
        if (ready) {
            REQUIRE(el_rx_frame(&g_host_rx, &g_last_out) == EL_PROTO_OK);
            REQUIRE(el_msg_check_len(g_last_out.type, g_last_out.len) == EL_PROTO_OK);
            memcpy(g_last_payload, g_last_out.payload ? g_last_out.payload : g_last_payload,
                   g_last_out.len);
            g_out_frames++;
            if (g_last_out.type == EL_MSG_ERROR) {
                g_out_errors++;
            }
        }
    }
}

static uint32_t h_now(void *ctx)
{
    (void)ctx;
    return 0;
}

static uint16_t g_seq = 1;
static unsigned long g_mutants_loaded; /* resealed mutant artifacts the device accepted */
static unsigned long g_status_hist[256]; /* answers to well-formed requests, by status */

/* Send a request (after a flushing 0x00); returns the number of frames it produced. */
static unsigned long send_frame(uint8_t type, uint16_t seq, const uint8_t *p, size_t len)
{
    uint8_t wire[EL_PROTO_MAX_WIRE], z = 0;
    size_t n = 0;
    unsigned long before;
    el_app_input(&g_app, &z, 1); /* flush whatever partial frame earlier noise left */
    g_out_len = 0;
    before = g_out_frames;
    REQUIRE(el_frame_build(type, seq, p, len, wire, sizeof wire, &n) == EL_PROTO_OK);
    el_app_input(&g_app, wire, n);
    return g_out_frames - before;
}

static void request_ok(uint8_t type, const uint8_t *p, size_t len)
{
    uint16_t seq = g_seq;
    g_seq = (uint16_t)(g_seq % 0xFFFFu + 1u);
    REQUIRE(send_frame(type, seq, p, len) == 1);
    REQUIRE(g_last_out.seq == seq);
    if (g_last_out.type != (uint8_t)(type | EL_MSG_RESPONSE)) {
        el_msg_error_t e;
        REQUIRE(el_msg_error_unpack(g_last_payload, g_last_out.len, &e) == EL_PROTO_OK);
        fprintf(stderr, "fuzz_app: request 0x%02x failed: %s (%u), detail %u\n", type,
                el_proto_status_name(e.status), e.status, e.detail);
        exit(1);
    }
}

/* LOAD an artifact: the plastic test image, or (mutant != 0) a copy with a few payload bytes
 * changed and both CRCs resealed, which LOAD_COMMIT may accept (a strange but well-formed
 * model: then the handlers run on it) or refuse with a status. */
static void load_image(int mutant)
{
    static uint8_t copy[sizeof k_art_plastic];
    const uint8_t *img = k_art_plastic;
    uint32_t total = (uint32_t)sizeof k_art_plastic, off = 0;
    uint8_t p[EL_PROTO_MAX_PAYLOAD];
    size_t len = 0;
    el_msg_load_begin_t b;
    if (mutant) {
        uint32_t pay = 32u + ((uint32_t)k_art_plastic[12] | ((uint32_t)k_art_plastic[13] << 8));
        uint32_t k, n_mut = 1u + below(3);
        memcpy(copy, k_art_plastic, sizeof copy);
        for (k = 0; k < n_mut; ++k) {
            copy[pay + below(total - pay)] ^= (uint8_t)(1u << below(8));
        }
        (void)el_artifact_reseal(copy, total);
        img = copy;
    }
    b.total_size = total;
    b.crc = el_crc32(0, img, total);
    b.flags = 0;
    REQUIRE(el_msg_load_begin_pack(&b, p, sizeof p, &len) == EL_PROTO_OK);
    request_ok(EL_MSG_LOAD_BEGIN, p, len);
    while (off < total) {
        uint32_t n = total - off < 700u ? total - off : 700u;
        el_msg_load_chunk_t c;
        c.offset = off;
        c.n = (uint16_t)n;
        c.data = img + off;
        REQUIRE(el_msg_load_chunk_pack(&c, p, sizeof p, &len) == EL_PROTO_OK);
        request_ok(EL_MSG_LOAD_CHUNK, p, len);
        off += n;
    }
    if (mutant) {
        uint16_t seq = g_seq;
        g_seq = (uint16_t)(g_seq % 0xFFFFu + 1u);
        REQUIRE(send_frame(EL_MSG_LOAD_COMMIT, seq, NULL, 0) == 1 && g_last_out.seq == seq);
        if (g_last_out.type == (EL_MSG_LOAD_COMMIT | EL_MSG_RESPONSE)) {
            g_mutants_loaded++;
        }
    } else {
        request_ok(EL_MSG_LOAD_COMMIT, NULL, 0);
    }
}

static void load_model(void)
{
    load_image(0);
}

static const uint8_t k_types[] = {EL_MSG_PING,  EL_MSG_INFO,   EL_MSG_RESET,   EL_MSG_LOAD_BEGIN,
                                  EL_MSG_LOAD_CHUNK, EL_MSG_LOAD_COMMIT, EL_MSG_RULE,
                                  EL_MSG_EVENTS, EL_MSG_RUN,   EL_MSG_LABEL,   EL_MSG_REWARD,
                                  EL_MSG_LEARN,  EL_MSG_READ,  EL_MSG_SAVE,    EL_MSG_RESTORE};

/* A well-formed payload for `type` with fields near the model's ranges. */
static size_t good_payload(uint8_t type, uint8_t *p)
{
    size_t len = 0, i;
    uint32_t now = g_app.core ? (uint32_t)el_core_time(g_app.core) : 0u;
    switch (type) {
    case EL_MSG_PING:
        len = below(4) ? below(16) : below(EL_PROTO_MAX_PAYLOAD + 1u);
        for (i = 0; i < len; ++i) {
            p[i] = (uint8_t)rnd();
        }
        return len;
    case EL_MSG_RESET: {
        el_msg_reset_t m;
        m.mode = (uint8_t)(below(20) == 0);
        (void)el_msg_reset_pack(&m, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    case EL_MSG_LOAD_BEGIN: {
        el_msg_load_begin_t m;
        m.total_size = below(3) ? (uint32_t)sizeof k_art_plastic : 1u + below(2u * IMG);
        m.crc = below(2) ? el_crc32(0, k_art_plastic, sizeof k_art_plastic) : (uint32_t)rnd();
        m.flags = 0;
        (void)el_msg_load_begin_pack(&m, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    case EL_MSG_LOAD_CHUNK: {
        el_msg_load_chunk_t m;
        uint32_t off = below(2) ? g_app.load_got : below((uint32_t)sizeof k_art_plastic);
        uint32_t n = 1u + below(600);
        if (off < sizeof k_art_plastic && off + n > sizeof k_art_plastic) {
            n = (uint32_t)sizeof k_art_plastic - off;
        }
        m.offset = off;
        m.n = (uint16_t)n;
        m.data = off + n <= sizeof k_art_plastic ? k_art_plastic + off : k_art_plastic;
        if (el_msg_load_chunk_pack(&m, p, EL_PROTO_MAX_PAYLOAD, &len) != EL_PROTO_OK) {
            return 0;
        }
        if (below(8) == 0) {
            p[4 + below(n)] ^= (uint8_t)(1u << below(8)); /* a corrupted chunk */
        }
        return len;
    }
    case EL_MSG_RULE: {
        el_rule_param_t r[8];
        size_t n = 1u + below(8);
        for (i = 0; i < n; ++i) {
            r[i].id = (uint16_t)below(40);
            r[i].value = below(4) ? (int32_t)below(64) : (int32_t)rnd();
        }
        (void)el_msg_rule_pack_list(r, n, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    case EL_MSG_EVENTS: {
        el_event_t ev[EL_MSG_EVENTS_MAX];
        size_t n = below(4) ? below(20) : below(EL_MSG_EVENTS_MAX + 1u);
        uint32_t t = now + (below(8) == 0 ? 0u : below(8)) - (below(16) == 0 ? 1u : 0u);
        for (i = 0; i < n; ++i) {
            t += below(3) == 0 ? 1u : 0u;
            ev[i].t = t;
            ev[i].addr = below(16) ? below(8) : (uint32_t)rnd();
        }
        (void)el_msg_events_pack_list(ev, n, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    case EL_MSG_RUN: {
        el_msg_run_t m;
        m.steps = below(16) ? 1u + below(16) : (uint32_t)rnd() | 1u;
        (void)el_msg_run_pack(&m, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    case EL_MSG_LABEL:
    case EL_MSG_REWARD: {
        el_msg_third_t m;
        m.population = (uint16_t)(below(8) ? 1u : below(4));
        m.value = below(8) ? (int32_t)below(5) - 1 : (int32_t)rnd();
        (void)el_msg_third_pack(&m, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    case EL_MSG_LEARN: {
        el_msg_learn_t m;
        m.enable = (uint8_t)below(2);
        (void)el_msg_learn_pack(&m, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    case EL_MSG_READ: {
        el_msg_read_t m;
        m.what = (uint8_t)(1u + below(3));
        m.flags = (uint8_t)(m.what == EL_READ_SPIKES ? below(2) : 0u);
        m.index = (uint16_t)(below(8) ? below(3) : below(0x10000u));
        m.offset = below(8) ? below(4) : (uint32_t)rnd();
        m.count = (uint16_t)(1u + below(0xFFFFu));
        (void)el_msg_read_pack(&m, p, EL_PROTO_MAX_PAYLOAD, &len);
        return len;
    }
    default: return 0; /* INFO, LOAD_COMMIT, SAVE, RESTORE: empty */
    }
}

int main(void)
{
    el_hal_t hal;
    const el_app_mem_t mem = EL_APP_MEM(g_arena, g_image, g_queue, 64);
    unsigned long iters = 1000000, it, kinds[5] = {0, 0, 0, 0, 0};
    const char *e = getenv("EL_FUZZ_ITERS");
    clock_t t0 = clock();
    if (e) {
        iters = strtoul(e, NULL, 10);
    }
    e = getenv("EL_FUZZ_SEED");
    if (e) {
        rng_state = strtoull(e, NULL, 10) | 1u;
    }
    hal.ctx = NULL;
    hal.read = h_read;
    hal.write = h_write;
    hal.now_ms = h_now;
    el_ram_flash_attach(&hal, &g_ram_flash);
    memset(g_flash, 0xFF, sizeof g_flash);
    el_rx_init(&g_host_rx);
    el_app_init(&g_app, &hal, &mem);
    load_model();
    for (it = 0; it < iters; ++it) {
        uint8_t p[EL_PROTO_MAX_PAYLOAD], wire[EL_PROTO_MAX_WIRE + 64];
        size_t len, n = 0, i;
        uint32_t kind = below(100);
        uint8_t type = k_types[below(sizeof k_types)];
        uint16_t seq;
        if (it % 2000 == 0 || g_app.core == NULL) {
            if (below(3) == 0) {
                load_image(1); /* a mutant: accepted or refused, the device goes on */
            }
            if (below(4) == 0 || g_app.core == NULL) {
                load_model();
            }
            if (below(2)) {
                uint8_t on[4] = {1, 0, 0, 0};
                request_ok(EL_MSG_LEARN, on, 4);
            }
        }
        if ((type == EL_MSG_SAVE || type == EL_MSG_RESTORE) && below(50)) {
            type = EL_MSG_RUN; /* keep flash traffic a small share */
        }
        seq = below(50) == 0 ? 0u : (below(10) == 0 ? (uint16_t)(g_seq - 1u) : g_seq);
        if (seq == g_seq) {
            g_seq = (uint16_t)(g_seq % 0xFFFFu + 1u);
        }
        g_out_len = 0;
        if (kind < 55) { /* well-formed request */
            unsigned long got;
            kinds[0]++;
            len = good_payload(type, p);
            got = send_frame(type, seq, p, len);
            REQUIRE(got == 1);
            REQUIRE(g_last_out.seq == seq);
            if (g_last_out.type == EL_MSG_ERROR) {
                el_msg_error_t er;
                REQUIRE(el_msg_error_unpack(g_last_payload, g_last_out.len, &er) == EL_PROTO_OK);
                g_status_hist[er.status & 0xFFu]++;
            } else {
                g_status_hist[0]++;
            }
            if (seq != 0 && below(20) == 0) { /* retransmission: same bytes back */
                uint8_t first[4 * EL_PROTO_MAX_WIRE];
                size_t first_len = g_out_len;
                memcpy(first, g_out_bytes, first_len);
                g_out_len = 0;
                REQUIRE(send_frame(type, seq, p, len) == 1);
                REQUIRE(g_out_len == first_len && memcmp(first, g_out_bytes, first_len) == 0);
            }
        } else if (kind < 75) { /* CRC-valid, random type / length / payload */
            kinds[1]++;
            type = below(4) ? type : (uint8_t)rnd();
            len = below(4) ? below(24) : below(EL_PROTO_MAX_PAYLOAD + 1u);
            for (i = 0; i < len; ++i) {
                p[i] = (uint8_t)rnd();
            }
            REQUIRE(send_frame(type, seq, p, len) == 1);
        } else if (kind < 95) { /* mutated after framing */
            size_t k, m;
            kinds[2]++;
            len = good_payload(type, p);
            REQUIRE(el_frame_build(type, seq, p, len, wire, sizeof wire, &n) == EL_PROTO_OK);
            m = 1u + below(4);
            for (k = 0; k < m; ++k) {
                uint32_t op = below(4);
                if (op == 0 && n > 1) {
                    wire[below((uint32_t)n)] ^= (uint8_t)(1u << below(8));
                } else if (op == 1 && n > 1) {
                    n = 1u + below((uint32_t)n - 1u); /* truncated (maybe no delimiter) */
                } else if (op == 2 && n + 1 < sizeof wire) {
                    size_t at = below((uint32_t)n + 1u);
                    memmove(wire + at + 1, wire + at, n - at);
                    wire[at] = (uint8_t)(below(3) == 0 ? 0u : rnd());
                    n++;
                } else if (n > 0) {
                    wire[below((uint32_t)n)] = 0; /* a stray delimiter */
                }
            }
            el_app_input(&g_app, wire, n);
        } else { /* noise, sometimes long enough to overflow a frame */
            kinds[3]++;
            n = below(10) ? below(64) : EL_PROTO_MAX_FRAME + below(600);
            if (n > sizeof wire) {
                n = sizeof wire;
            }
            for (i = 0; i < n; ++i) {
                wire[i] = (uint8_t)(below(8) == 0 ? 0u : rnd());
            }
            el_app_input(&g_app, wire, n);
        }
        if (below(4) == 0) { /* resynchronise the line as a host would */
            uint8_t z = 0;
            el_app_input(&g_app, &z, 1);
        }
    }
    /* still alive and well */
    {
        uint8_t z = 0, run[4] = {1, 0, 0, 0};
        el_app_input(&g_app, &z, 1);
        request_ok(EL_MSG_INFO, NULL, 0);
        if (g_app.core == NULL) {
            load_model();
        }
        request_ok(EL_MSG_RUN, run, 4);
    }
    printf("fuzz_app: %lu inputs (%lu well-formed, %lu CRC-valid random, %lu mutated, %lu noise) "
           "in %.1f s; %lu frames answered (%lu ERROR), %u requests executed, %u repeats, "
           "%u receiver errors; %lu mutant artifacts loaded\n",
           iters, kinds[0], kinds[1], kinds[2], kinds[3],
           (double)(clock() - t0) / CLOCKS_PER_SEC, g_out_frames, g_out_errors,
           g_app.stats.requests, g_app.stats.repeats, g_app.stats.rx_errors, g_mutants_loaded);
    if (getenv("EL_FUZZ_VERBOSE")) {
        for (it = 0; it < 256; ++it) {
            if (g_status_hist[it]) {
                printf("  well-formed answered %s: %lu\n",
                       it ? el_proto_status_name((int)it) : "OK", g_status_hist[it]);
            }
        }
    }
    return 0;
}
