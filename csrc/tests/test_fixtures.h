/*
 * Test fixtures shared by the hosted C tests and the freestanding Cortex-M ones (tests/m4_*.c):
 * nothing of libc but memset, which the includer declares first (<string.h>, or el_memfns.h in
 * a Cortex-M image). Include in one file per program.
 */
#ifndef EL_TEST_FIXTURES_H
#define EL_TEST_FIXTURES_H

#include <stdint.h>

#include "edgelearn.h"

/* Pair STDP (tests/test_plasticity.py's STDP text):
 *   dw = 2^-1 * x1 * y0 - 2^-1 * y1 * x0
 *   x1.decay = 2048, x1.impulse = 1024, y1.decay = 2048, y1.impulse = 1024
 *   t_epoch = 1, round = floor (w_min, w_max default -128, 127)
 * Identical to edgelearn.rule.parse(STDP).microcode() (checked when this was written). */
static const uint8_t STDP[] = {
    'E', 'L', 'R', 'U',
    0x01, 0x00,             /* version 1 */
    0x01, 0x00,             /* flags: round = floor (1), no tag */
    0x01, 0x00,             /* t_epoch 1 */
    0x80, 0x7f,             /* w_min -128, w_max 127 */
    0x00, 0x08, 0x00, 0x04, /* x1: decay 2048, impulse 1024 */
    0x00, 0x00, 0x00, 0x00, /* x2 */
    0x00, 0x08, 0x00, 0x04, /* y1: decay 2048, impulse 1024 */
    0x00, 0x00, 0x00, 0x00, /* y2 */
    0x00, 0x00, 0x00, 0x00, /* y3 */
    0x01,                   /* one target */
    0x00, 0x02,             /* dw, two terms */
    0x01, 0xff, 0x02, 0x00, 0x00, 0x00, /* mant 1, exp -1, 2 factors, no gate, th 0 */
    0x01, 0x01, 0x01, 0x00,             /* (x1) */
    0x01, 0x03, 0x01, 0x00,             /* (y0) */
    0xff, 0xff, 0x02, 0x00, 0x00, 0x00, /* mant -1, exp -1, 2 factors */
    0x01, 0x04, 0x01, 0x00,             /* (y1) */
    0x01, 0x00, 0x01, 0x00,             /* (x0) */
};

/* A plastic sparse connection of 65,536 axons to 65,536 neurons holding two synapses (row 0:
 * sources 5 and 100, weights 77 and 66): its dense read-back needs n_dst * n_src = 2^32 values,
 * 0 in a 32-bit size_t. The descriptor points into *b and at @p indptr (65,537 words, filled
 * here), so neither may move while it is used. */
#define BIG_SPARSE_N 65536u

typedef struct {
    el_pop_desc_t pop;
    el_conn_desc_t conn;
    el_core_desc_t desc;
} big_sparse_t;

static void big_sparse_init(big_sparse_t *b, uint32_t *indptr)
{
    static const uint32_t indices[2] = {5, 100};
    static const int8_t w0[2] = {77, 66};
    uint32_t i;
    indptr[0] = 0;
    for (i = 1; i <= BIG_SPARSE_N; ++i) {
        indptr[i] = 2; /* row 0 holds sources 5 and 100 */
    }
    memset(b, 0, sizeof *b);
    b->pop.size = BIG_SPARSE_N;
    b->pop.vth_mant = 1;
    b->pop.refractory = 1;
    b->conn.src = EL_SRC_INPUT;
    b->conn.kind = EL_CONN_SPARSE;
    b->conn.weights = w0;
    b->conn.indptr = indptr;
    b->conn.indices = indices;
    b->conn.flags = EL_CONN_PLASTIC;
    b->conn.rule = STDP;
    b->conn.rule_len = (uint32_t)sizeof STDP;
    b->desc.n_inputs = BIG_SPARSE_N;
    b->desc.n_pops = 1;
    b->desc.pops = &b->pop;
    b->desc.n_conns = 1;
    b->desc.conns = &b->conn;
}

#endif /* EL_TEST_FIXTURES_H */
