/* Sanitizer fuzz of the event decoders (edgelearn/events/_decode.c), built and run by
 * tests/test_events_c.py with -fsanitize=address,undefined: random word streams (biased to
 * valid types) and any EVT files named on the command line, each decoded in random pieces into
 * output buffers of random, exact sizes (so a write past the end is caught), with the contract
 * checked after every call. Exit status 0: no finding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "_decode.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Du) >> 32);
}

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #c);          \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

static long n_events, n_calls, n_fail[4];

/* Decode data in random pieces; sensor w x h (w = -1: a random one). */
static void decode_all(const uint8_t *data, size_t len, int evt3, int32_t w, int32_t h)
{
    size_t unit = evt3 ? 2 : 4, pos = 0;
    el_dec_state st = {-1, -1, -1, 0, 0, 0, -1, -1};
    if (w < 0) {
        w = (int32_t)(rnd() % 3 == 0 ? 0 : 1 + rnd() % 2048);
        h = (int32_t)(1 + rnd() % 2048);
    }
    while (pos + unit <= len) {
        size_t piece = unit * (1 + rnd() % 64);
        if (piece > len - pos)
            piece = (len - pos) / unit * unit;
        int64_t cap = (int64_t)(rnd() % 40);
        uint8_t *out = (uint8_t *)malloc(cap ? (size_t)(13 * cap) : 1);
        int64_t n = -1;
        size_t used = 99999;
        el_dec_error err;
        el_dec_status s = evt3 ? el_evt3_decode(data + pos, piece, &st, out, cap, w, h, &n, &used, &err)
                               : el_evt2_decode(data + pos, piece, &st, out, cap, w, h, &n, &used, &err);
        free(out);
        n_calls++;
        if (s != EL_DEC_OK) {
            CHECK(s == EL_DEC_UNKNOWN_TYPE || s == EL_DEC_OUTSIDE);
            n_fail[s]++;
            CHECK(err.index >= 0 && (size_t)err.index < piece && err.index % (int64_t)unit == 0);
            return;
        }
        CHECK(n >= 0 && n <= cap && used <= piece && used % unit == 0);
        n_events += n;
        CHECK(used > 0 || cap < (evt3 ? EL_DEC_MAX_PER_WORD : 1));
        if (used == 0)
            continue; /* output too small for one more word: a larger one next time */
        pos += used;
    }
}

static void aedat4_all(const uint8_t *data, size_t len)
{
    int64_t count = (int64_t)(len / 16);
    uint8_t *out = (uint8_t *)malloc(count ? (size_t)(13 * count) : 1);
    el_dec_state st = {-1, -1, -1, 0, 0, 0, -1, -1};
    el_dec_error err;
    el_dec_status s = el_aedat4_unpack(data, count, &st, out, (int32_t)(rnd() % 700), 480, &err);
    CHECK(s == EL_DEC_OK || (err.index >= 0 && err.index < count));
    free(out);
}

int main(int argc, char **argv)
{
    static const uint32_t t3[] = {0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8, 0xA, 0xE, 0xF, 0x7};
    static const uint32_t t2[] = {0x0, 0x1, 0x8, 0xA, 0xE, 0xF, 0x3};
    for (int k = 0; k < 3000; k++) {
        size_t words = rnd() % 600;
        uint8_t *buf = (uint8_t *)malloc(4 * words + 1);
        int evt3 = k % 2;
        for (size_t i = 0; i < words; i++) {
            uint32_t r = rnd();
            if (evt3) {
                uint16_t v = (uint16_t)((t3[r % (k % 7 ? 10 : 11)] << 12) | (rnd() & 0xFFF));
                memcpy(buf + 2 * i, &v, 2);
            } else {
                uint32_t v = (t2[r % (k % 5 ? 6 : 7)] << 28) | (rnd() & 0x0FFFFFFF);
                memcpy(buf + 4 * i, &v, 4);
            }
        }
        decode_all(buf, evt3 ? 2 * words : 4 * words, evt3, -1, 0);
        aedat4_all(buf, 4 * words);
        free(buf);
    }
    /* EVT files: FORMAT:DATA_OFFSET:WIDTH:HEIGHT:PATH, decoded whole (in random pieces) */
    for (int a = 1; a < argc; a++) {
        char fmt[8];
        long data_off, fw, fh;
        int at = 0;
        CHECK(sscanf(argv[a], "%7[^:]:%ld:%ld:%ld:%n", fmt, &data_off, &fw, &fh, &at) == 4);
        FILE *f = fopen(argv[a] + at, "rb");
        CHECK(f != NULL);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = (uint8_t *)malloc((size_t)size + 1);
        CHECK(fread(buf, 1, (size_t)size, f) == (size_t)size);
        fclose(f);
        CHECK(data_off <= size);
        long before = n_events;
        decode_all(buf + data_off, (size_t)(size - data_off), strcmp(fmt, "evt3") == 0,
                   (int32_t)fw, (int32_t)fh);
        printf("%s: %ld events\n", argv[a] + at, n_events - before);
        free(buf);
    }
    printf("decode fuzz: no finding (%ld calls, %ld events, %ld unknown-type and %ld outside "
           "failures)\n",
           n_calls, n_events, n_fail[EL_DEC_UNKNOWN_TYPE], n_fail[EL_DEC_OUTSIDE]);
    return 0;
}
