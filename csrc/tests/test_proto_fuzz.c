/*
 * Deterministic, bounded fuzzing of the protocol receiver and payload decoders (el_proto),
 * built and run under ASan + UBSan by `make -C csrc test`.
 *
 * Inputs (default 1,000,000; EL_FUZZ_ITERS and EL_FUZZ_SEED override) are drawn by a fixed-seed
 * xorshift64* generator, one of:
 *  - structured: a frame with a correct CRC around a seed payload (the golden vectors) whose
 *    bytes, type, seq, version or length field were mutated; checked against an oracle (the
 *    receiver must report exactly the frame, or exactly the expected E_VERSION / E_LENGTH /
 *    E_TYPE error);
 *  - mutated: a valid wire frame with bit flips, byte overwrites (zeros included), insertions,
 *    deletions, truncation, duplication or splicing with another frame;
 *  - random: noise of varying length and zero density, sometimes far longer than a frame.
 * All bytes go through ONE receiver, as on a link, and every complete frame goes to the payload
 * decoders (a payload that decodes must re-encode to the same bytes). After every input a known
 * good frame is sent, with a 0x00 flush first (it must arrive) or without (then the one after it
 * must arrive): the receiver always resynchronises, whatever came before.
 *
 * The firmware dispatcher plugs in at on_frame() / on_error(): it gets exactly what the device's
 * main loop would get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "el_proto.h"
#include "proto_any.h"
#include "proto_vectors.h"
#include "test_util.h"

#define BUF_CAP 8192

static int failures = 0;

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            ++failures;                                                                \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s (input %lu)\n", __FILE__, __LINE__, \
                    #cond, (unsigned long)g.iter);                                     \
            if (failures > 20) {                                                       \
                exit(1);                                                               \
            }                                                                          \
        }                                                                              \
    } while (0)

/* ---- PRNG: xorshift64* ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    return xorshift64s(&rng_state);
}

static size_t below(size_t n) /* uniform enough in [0, n) for n >= 1 */
{
    return (size_t)xorshift64s_below(&rng_state, n);
}

static uint8_t rbyte(void)
{
    return (uint8_t)(rnd() >> 56);
}

/* ---- the link: one receiver, a sink for frames and errors ------------------------------- */

typedef struct fuzz_state {
    el_rx_t rx;
    unsigned long iter;
    unsigned long bytes;
    unsigned long frames;
    unsigned long errors[64];
    unsigned long decoded_ok;
    pa_out_t pa;
    /* the last event, for oracles */
    int last_status;      /* 0: frame */
    el_proto_frame_t last;
    int events;
} fuzz_state_t;

static fuzz_state_t g;

static void on_frame(const el_proto_frame_t *f)
{
    el_proto_status_t st;
    g.frames++;
    REQUIRE(f->version == EL_PROTO_VERSION);
    REQUIRE(el_msg_type_known(f->type));
    REQUIRE(f->len <= EL_PROTO_MAX_PAYLOAD);
    /* the payload decoders (the dispatcher's first step) */
    st = pa_decode(f->type, f->payload, f->len, &g.pa);
    REQUIRE(el_msg_validate(f->type, f->payload, f->len) == st);
    if (st == EL_PROTO_OK) {
        g.decoded_ok++;
        REQUIRE(g.pa.re_len == f->len);
        REQUIRE(f->len == 0 || memcmp(g.pa.re, f->payload, f->len) == 0);
    } else {
        REQUIRE(st == EL_PROTO_E_PAYLOAD || st == EL_PROTO_ERR_RANGE);
    }
}

static void on_error(el_proto_status_t st)
{
    uint8_t reply[EL_PROTO_WIRE_BOUND(EL_MSG_ERROR_BYTES)];
    size_t n = 0;
    /* the device's answer to the rejected frame */
    REQUIRE(el_rx_error_reply(&g.rx, st, reply, sizeof reply, &n) == EL_PROTO_OK);
    REQUIRE(n >= EL_PROTO_HEADER_BYTES + EL_MSG_ERROR_BYTES + EL_PROTO_CRC_BYTES + 2);
    REQUIRE(st == EL_PROTO_E_COBS || st == EL_PROTO_E_CRC || st == EL_PROTO_E_SHORT ||
            st == EL_PROTO_E_OVERSIZE || st == EL_PROTO_E_LENGTH || st == EL_PROTO_E_VERSION ||
            st == EL_PROTO_E_TYPE);
    g.errors[st & 63]++;
}

static void feed(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        bool ready;
        el_proto_status_t st = el_rx_push(&g.rx, p[i], &ready);
        g.bytes++;
        if (ready) {
            REQUIRE(st == EL_PROTO_OK);
            REQUIRE(el_rx_frame(&g.rx, &g.last) == EL_PROTO_OK);
            g.last_status = 0;
            g.events++;
            on_frame(&g.last);
        } else if (st != EL_PROTO_OK) {
            g.last_status = (int)st;
            g.events++;
            if (el_rx_frame(&g.rx, &g.last) != EL_PROTO_OK) {
                g.last.seq = 0xFFFF;
                g.last.type = 0;
            }
            on_error(st);
        }
        REQUIRE(g.rx.n <= EL_PROTO_MAX_FRAME);
    }
}

/* ---- input generators -------------------------------------------------------------------- */

static uint8_t buf[BUF_CAP];
static uint8_t tmp[BUF_CAP];

static const pv_frame_t *seed(void)
{
    return &pv_frames[below(PV_COUNT(pv_frames))];
}

/* A frame with a correct CRC around a mutated seed; returns its wire length. Sets the
 * oracle's expectation. */
static size_t gen_structured(int *expect_status, uint16_t *expect_seq, uint8_t *expect_type,
                             size_t *expect_len)
{
    const pv_frame_t *s = seed();
    uint8_t raw[EL_PROTO_MAX_FRAME + 64];
    size_t plen = s->payload_len, i, n = 0;
    uint8_t version = EL_PROTO_VERSION, type = s->type;
    uint16_t seq = (uint16_t)rnd(), lenfield;
    uint32_t crc;
    if (plen) {
        memcpy(raw + EL_PROTO_HEADER_BYTES, s->payload, plen);
    }
    switch (below(8)) {
    case 0: /* a few payload bytes changed */
        for (i = 0; plen && i < 1 + below(4); ++i) {
            raw[EL_PROTO_HEADER_BYTES + below(plen)] = (below(4) == 0) ? 0 : rbyte();
        }
        break;
    case 1: /* payload length changed (shorter or longer, random tail) */
        plen = below(EL_PROTO_MAX_PAYLOAD + 1) >> below(10);
        for (i = s->payload_len; i < plen; ++i) {
            raw[EL_PROTO_HEADER_BYTES + i] = rbyte();
        }
        break;
    case 2: type = rbyte(); break;
    case 3: type = (uint8_t)(type ^ EL_MSG_RESPONSE); break;
    case 4: version = rbyte(); break;
    default: break; /* unchanged payload, only a new seq */
    }
    lenfield = (uint16_t)plen;
    if (below(10) == 0) {
        lenfield = (uint16_t)rnd();
    }
    raw[0] = version;
    raw[1] = type;
    raw[2] = (uint8_t)(seq & 0xFFu);
    raw[3] = (uint8_t)(seq >> 8);
    raw[4] = (uint8_t)(lenfield & 0xFFu);
    raw[5] = (uint8_t)(lenfield >> 8);
    crc = el_crc32(0, raw, EL_PROTO_HEADER_BYTES + plen);
    for (i = 0; i < 4; ++i) {
        raw[EL_PROTO_HEADER_BYTES + plen + i] = (uint8_t)(crc >> (8 * i));
    }
    buf[n++] = 0; /* flush: the receiver starts this frame idle */
    if (el_cobs_encode(raw, EL_PROTO_HEADER_BYTES + plen + 4, buf + n, BUF_CAP - n - 1, &i) !=
        EL_PROTO_OK) {
        return 0;
    }
    n += i;
    buf[n++] = 0;
    *expect_seq = seq;
    *expect_type = type;
    *expect_len = plen;
    if (version != EL_PROTO_VERSION) {
        *expect_status = EL_PROTO_E_VERSION;
    } else if (lenfield != plen) {
        *expect_status = EL_PROTO_E_LENGTH;
    } else if (!el_msg_type_known(type)) {
        *expect_status = EL_PROTO_E_TYPE;
    } else {
        *expect_status = 0;
    }
    return n;
}

static size_t gen_mutated(void)
{
    const pv_frame_t *s = seed();
    size_t n = s->wire_len, k, i, a, b;
    memcpy(buf, s->wire, n);
    k = 1 + below(4);
    while (k--) {
        switch (below(8)) {
        case 0: /* bit flips */
            for (i = 0; i < 1 + below(8); ++i) {
                buf[below(n)] ^= (uint8_t)(1u << below(8));
            }
            break;
        case 1: /* overwrite, zeros likely */
            buf[below(n)] = below(3) == 0 ? 0 : rbyte();
            break;
        case 2: /* insert */
            if (n + 8 < BUF_CAP) {
                a = below(n + 1);
                b = 1 + below(8);
                memmove(buf + a + b, buf + a, n - a);
                for (i = 0; i < b; ++i) {
                    buf[a + i] = rbyte();
                }
                n += b;
            }
            break;
        case 3: /* delete a range */
            a = below(n);
            b = 1 + below(n - a);
            memmove(buf + a, buf + a + b, n - a - b);
            n -= b;
            break;
        case 4: /* truncate */
            n = below(n) + 1;
            break;
        case 5: /* duplicate a range */
            a = below(n);
            b = 1 + below(n - a);
            if (n + b < BUF_CAP) {
                memcpy(tmp, buf + a, b);
                memmove(buf + a + 2 * b, buf + a + b, n - a - b);
                memcpy(buf + a + b, tmp, b);
                n += b;
            }
            break;
        case 6: { /* splice with another frame */
            const pv_frame_t *t = seed();
            a = below(n);
            b = below(t->wire_len);
            if (a + t->wire_len - b < BUF_CAP) {
                memcpy(buf + a, t->wire + b, t->wire_len - b);
                n = a + t->wire_len - b;
            }
            break;
        }
        default: /* drop the delimiter */
            if (n > 1) {
                n--;
            }
            break;
        }
        if (n == 0) {
            buf[n++] = rbyte();
        }
    }
    return n;
}

static size_t gen_random(void)
{
    size_t n, i;
    unsigned zero_every = (unsigned)(1u << below(10)); /* zero density 1 .. 1/512 */
    switch (below(10)) {
    case 0: n = EL_PROTO_MAX_FRAME - 8 + below(32); break; /* around the size limit */
    case 1: n = 2000 + below(BUF_CAP - 2000); break;      /* far beyond it */
    default: n = 1 + below(64); break;
    }
    for (i = 0; i < n; ++i) {
        buf[i] = below(zero_every) == 0 ? 0 : rbyte();
    }
    return n;
}

/* A known good frame, to prove the receiver resynchronised. */
static uint8_t good[64];
static size_t good_len;

static void check_resync(void)
{
    if (below(2) == 0) {
        uint8_t flush = 0;
        feed(&flush, 1);
        g.events = 0;
        feed(good, good_len);
        REQUIRE(g.events == 1 && g.last_status == 0 && g.last.seq == 0xBEEF);
    } else {
        feed(good, good_len); /* may merge with a tail of garbage: may be lost */
        g.events = 0;
        feed(good, good_len);
        REQUIRE(g.events == 1 && g.last_status == 0 && g.last.seq == 0xBEEF);
    }
}

int main(void)
{
    const char *env_iters = getenv("EL_FUZZ_ITERS");
    const char *env_seed = getenv("EL_FUZZ_SEED");
    unsigned long iters = env_iters ? strtoul(env_iters, NULL, 10) : 1000000UL;
    unsigned long kinds[3] = {0, 0, 0}, oracle_checked = 0;
    uint8_t run_payload[4] = {5, 0, 0, 0};
    clock_t t0 = clock();
    double secs;
    rng_state = env_seed ? strtoull(env_seed, NULL, 0) : 0x9E3779B97F4A7C15ULL;
    if (rng_state == 0) {
        rng_state = 1;
    }
    memset(&g, 0, sizeof g);
    el_rx_init(&g.rx);
    if (el_frame_build(EL_MSG_RUN, 0xBEEF, run_payload, 4, good, sizeof good, &good_len) !=
        EL_PROTO_OK) {
        return 1;
    }
    for (g.iter = 0; g.iter < iters; ++g.iter) {
        size_t n;
        unsigned kind = (unsigned)below(3);
        kinds[kind]++;
        if (kind == 0) {
            int expect_status = 0;
            uint16_t expect_seq = 0;
            uint8_t expect_type = 0;
            size_t expect_len = 0;
            n = gen_structured(&expect_status, &expect_seq, &expect_type, &expect_len);
            if (n == 0) {
                continue;
            }
            g.events = 0;
            feed(buf, n);
            REQUIRE(g.events == 1);
            REQUIRE(g.last_status == expect_status);
            REQUIRE(g.last.seq == expect_seq && g.last.type == expect_type);
            if (expect_status == 0) {
                REQUIRE(g.last.len == expect_len);
            }
            oracle_checked++;
        } else {
            n = kind == 1 ? gen_mutated() : gen_random();
            feed(buf, n);
        }
        check_resync();
    }
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("test_proto_fuzz: %lu inputs (%lu structured with oracle, %lu mutated, %lu random), "
           "%lu bytes, %lu frames received (%lu payloads decoded), errors: cobs %lu crc %lu "
           "short %lu oversize %lu length %lu version %lu type %lu; %.1f s; %d failures\n",
           iters, kinds[0], kinds[1], kinds[2], g.bytes, g.frames, g.decoded_ok,
           g.errors[EL_PROTO_E_COBS & 63], g.errors[EL_PROTO_E_CRC & 63],
           g.errors[EL_PROTO_E_SHORT & 63], g.errors[EL_PROTO_E_OVERSIZE & 63],
           g.errors[EL_PROTO_E_LENGTH & 63], g.errors[EL_PROTO_E_VERSION & 63],
           g.errors[EL_PROTO_E_TYPE & 63], secs, failures);
    (void)oracle_checked;
    return failures == 0 ? 0 : 1;
}
