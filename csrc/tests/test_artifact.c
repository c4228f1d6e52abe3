/* Tests of the artifact reader (el_artifact.h) on images written by edgelearn.artifact
 * (artifact_vectors.h, made by tests/vectors/make_artifact_image.py): the parse is exact, every
 * truncation and bit flip is refused with a status, and resealed random mutations (valid CRCs,
 * broken structure) never make the reader or the core read out of bounds (ASan + UBSan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgelearn.h"
#include "el_artifact.h"
#include "artifact_vectors.h"
#include "test_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    return (uint32_t)(xorshift64(&rng_state) >> 11);
}

/* A heap copy that ends exactly at the end of its allocation (so ASan sees any overread),
 * placed so that the payload is 4-aligned (malloc returns 16-aligned blocks). */
static uint8_t *placed(const uint8_t *src, size_t len, uint8_t **block)
{
    uint32_t off = 32;
    size_t shift;
    if (len >= 16) {
        off = (uint32_t)32 + ((uint32_t)src[12] | ((uint32_t)src[13] << 8) |
                              ((uint32_t)src[14] << 16) | ((uint32_t)src[15] << 24));
    }
    shift = (size_t)((4u - (off & 3u)) & 3u);
    *block = (uint8_t *)malloc(len + shift ? len + shift : 1);
    memcpy(*block + shift, src, len);
    return *block + shift;
}

static el_artifact_status_t parse_copy(const uint8_t *src, size_t len, el_artifact_t *a)
{
    uint8_t *block;
    uint8_t *img = placed(src, len, &block);
    el_artifact_status_t st = el_artifact_parse(img, len, a);
    free(block);
    return st;
}

static void test_exact(void)
{
    el_artifact_t *a = (el_artifact_t *)malloc(sizeof *a);
    uint8_t *block;
    uint8_t *img = placed(k_art_static, sizeof k_art_static, &block);
    size_t bytes = 0;
    CHECK(el_artifact_parse(img, sizeof k_art_static, a) == EL_ART_OK);
    CHECK(a->desc.n_inputs == 8 && a->desc.n_pops == 2 && a->desc.n_conns == 3);
    CHECK(a->seed == 1234);
    CHECK(a->pops[0].size == 6 && a->pops[0].du == 100 && a->pops[0].dv == 200 &&
          a->pops[0].vth_mant == 40);
    CHECK(a->pops[1].size == 3 && a->pops[1].du == 4095 && a->pops[1].refractory == 3);
    CHECK(a->conns[0].src == EL_SRC_INPUT && a->conns[0].dst == 0 && a->conns[0].w_exp == -2 &&
          a->conns[0].kind == EL_CONN_DENSE && a->nnz[0] == 48);
    CHECK(a->conns[1].kind == EL_CONN_SPARSE && a->conns[1].src == 0 && a->conns[1].dst == 0);
    CHECK(a->conns[2].src == 0 && a->conns[2].dst == 1 && a->conns[2].w_exp == 3 && a->n_plastic == 0);
    CHECK(a->has_input_map && a->input_map.width == 2 && a->input_map.height == 2 &&
          a->input_map.polarities == 2 && a->input_map.shift == 4 && a->input_map.dt_us == 1000);
    CHECK(a->has_readout && a->readout.population == 1 && a->readout.r_pos == 50 &&
          a->readout.r_neg == -3);
    CHECK(a->total_len == sizeof k_art_static);
    CHECK(el_core_bytes(&a->desc, &bytes) == EL_OK && bytes > 0);
    /* misaligned payload */
    {
        uint8_t *mis = (uint8_t *)malloc(sizeof k_art_static + 8);
        size_t s;
        uint32_t mlen = a->manifest_len;
        for (s = 0; s < 4; ++s) {
            memcpy(mis + s, k_art_static, sizeof k_art_static);
            if (((uintptr_t)(mis + s) + 32 + mlen) & 3u) {
                CHECK(el_artifact_parse(mis + s, sizeof k_art_static, a) == EL_ART_E_ALIGN);
            }
        }
        free(mis);
    }
    free(block);
    img = placed(k_art_plastic, sizeof k_art_plastic, &block);
    CHECK(el_artifact_parse(img, sizeof k_art_plastic, a) == EL_ART_OK);
    CHECK(a->n_plastic == 1 && a->rule_code[2] != NULL && a->rule_len[2] > 4 &&
          memcmp(a->rule_code[2], "ELRU", 4) == 0 && (a->conns[2].flags & EL_CONN_PLASTIC));
    free(block);
    CHECK(el_artifact_parse(NULL, 10, a) == EL_ART_ERR_NULL);
    CHECK(strcmp(el_artifact_status_name(EL_ART_E_CRC), "EL_ART_E_CRC") == 0);
    free(a);
}

/* Every artifact status has its enumerator's name, the same from el_status_name(), which a host
 * uses for any status (an ERROR frame of a failed LOAD_COMMIT passes these through). */
static void test_status_names(void)
{
    int s;
    for (s = EL_ART_E_MAGIC; s <= EL_ART_E_ALIGN; ++s) {
        CHECK(strncmp(el_artifact_status_name(s), "EL_ART_E_", 9) == 0);
        CHECK(strcmp(el_status_name(s), el_artifact_status_name(s)) == 0);
    }
    CHECK(strcmp(el_status_name(EL_ART_E_CRC), "EL_ART_E_CRC") == 0);
    CHECK(strcmp(el_status_name(EL_ART_E_ALIGN), "EL_ART_E_ALIGN") == 0);
    CHECK(strcmp(el_artifact_status_name(EL_ART_OK), "EL_ART_OK") == 0);
    CHECK(strcmp(el_artifact_status_name(EL_ART_ERR_NULL), "EL_ERR_NULL") == 0);
    CHECK(strcmp(el_artifact_status_name(EL_ART_E_ALIGN + 1), "EL_ART_UNKNOWN") == 0);
    CHECK(strcmp(el_status_name(EL_ART_E_ALIGN + 1), "EL_ERR_UNKNOWN") == 0);
    CHECK(strcmp(el_artifact_status_name(EL_ERR_RANGE), "EL_ART_UNKNOWN") == 0); /* not its own */
    CHECK(strcmp(el_artifact_status_name(EL_PROTO_E_CRC), "EL_ART_UNKNOWN") == 0);
    CHECK(strcmp(el_artifact_status_name(-1), "EL_ART_UNKNOWN") == 0);
}

static void test_truncations_and_flips(void)
{
    el_artifact_t *a = (el_artifact_t *)malloc(sizeof *a);
    size_t n, bit;
    unsigned long refused = 0;
    for (n = 0; n < sizeof k_art_static; ++n) {
        el_artifact_status_t st = parse_copy(k_art_static, n, a);
        CHECK(st != EL_ART_OK);
        refused++;
    }
    {
        uint8_t *buf = (uint8_t *)malloc(sizeof k_art_static);
        for (bit = 0; bit < 8 * sizeof k_art_static; ++bit) {
            memcpy(buf, k_art_static, sizeof k_art_static);
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            CHECK(parse_copy(buf, sizeof k_art_static, a) != EL_ART_OK);
            refused++;
        }
        free(buf);
    }
    printf("artifact: %lu truncations and bit flips refused\n", refused);
    free(a);
}

/* Mutate the payload, reseal both CRCs, parse; when it parses, the core's checks and init run
 * on the pointers it returned (ASan catches any read outside the image). */
static void test_resealed_mutations(void)
{
    el_artifact_t *a = (el_artifact_t *)malloc(sizeof *a);
    const unsigned char *srcs[2] = {k_art_static, k_art_plastic};
    size_t lens[2] = {sizeof k_art_static, sizeof k_art_plastic};
    unsigned long ok = 0, bad = 0, inits = 0;
    int it;
    for (it = 0; it < 20000; ++it) {
        int which = (int)(rnd() & 1u);
        size_t len = lens[which], k, nmut = 1 + rnd() % 4;
        uint8_t *block;
        uint8_t *img = placed(srcs[which], len, &block);
        uint32_t pay = (uint32_t)(32 + (img[12] | (img[13] << 8)));
        el_artifact_status_t st;
        for (k = 0; k < nmut; ++k) {
            size_t pos = pay + rnd() % (len - pay);
            uint32_t r = rnd();
            if (r & 1u) {
                img[pos] ^= (uint8_t)(1u << ((r >> 1) % 8));
            } else {
                img[pos] = (uint8_t)(r >> 8);
            }
        }
        CHECK(el_artifact_reseal(img, len) == EL_ART_OK);
        st = el_artifact_parse(img, len, a);
        if (st == EL_ART_OK) {
            size_t bytes = 0;
            ok++;
            if (el_core_bytes(&a->desc, &bytes) == EL_OK && bytes < (64u << 20)) {
                void *mem = malloc(bytes);
                el_core_t *core = NULL;
                if (mem && el_core_init(&a->desc, mem, bytes, &core) == EL_OK) {
                    int s;
                    inits++;
                    for (s = 0; s < 5; ++s) {
                        CHECK(el_core_step(core, NULL) == EL_OK);
                    }
                }
                free(mem);
            }
        } else {
            bad++;
        }
        free(block);
    }
    printf("artifact: 20000 resealed mutations: %lu parsed (%lu ran), %lu refused\n", ok, inits, bad);
    free(a);
}

int main(void)
{
    test_exact();
    test_truncations_and_flips();
    test_resealed_mutations();
    test_status_names();
    if (test_failures) {
        fprintf(stderr, "test_artifact: %d failures\n", test_failures);
        return 1;
    }
    printf("test_artifact: ok\n");
    return 0;
}
