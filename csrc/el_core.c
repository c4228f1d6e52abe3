/**
 * @file el_core.c
 * @brief Networks of LIF compartments: descriptor checks, packing, the event-driven timestep.
 *
 * Layout of the caller's block (see el_core.h): the ::el_core header, the population and
 * connection tables, then (starting at the first ::EL_CORE_ARRAY_ALIGN-aligned address) the
 * arrays, each aligned to ::EL_CORE_ARRAY_ALIGN. el_core_bytes() and el_core_init() share one
 * layout routine, so they cannot disagree.
 */
#include "el_core.h"

#include <stdbool.h>

#include "el_fixed.h"
#include "el_learn.h"
#include "el_port.h"

/** Marks an initialised core (ASCII "ELC1"). */
#define EL_CORE_MAGIC 0x454C4331u

/** Packed population. */
typedef struct el_pop {
    uint32_t size;        /* neurons */
    uint32_t offset;      /* first neuron in the concatenated order */
    int32_t du1;          /* du + 1, the current decay actually applied */
    int32_t dv;
    int32_t vth;          /* vth_mant << EL_VTH_SHIFT */
    int32_t refractory;
    int32_t *bias;        /* size values: bias_mant * 2^bias_exp */
    uint32_t *spk;        /* local indices of the neurons that spiked at the last step */
    uint32_t n_spk;
    uint32_t conn_first;  /* incoming connections: in_conns[conn_first .. +conn_count) */
    uint32_t conn_count;
    int32_t third_src;    /* computed third factor: source population, else -1 (spec 5.3) */
    int32_t third_shift;
} el_pop_t;

/** Packed connection (weights source-major, see el_core.h). */
typedef struct el_conn {
    int32_t src;          /* EL_SRC_INPUT or population index */
    uint32_t dst;
    int32_t kind;
    int32_t w_exp;
    uint32_t flags;
    uint32_t n_src;
    uint32_t n_dst;
    uint32_t stride;      /* dense: padded row length (>= n_dst); sparse: n_dst */
    uint32_t nnz;         /* sparse: stored weights */
    int8_t *w;            /* dense: n_src * stride; sparse: nnz, CSC order */
    uint32_t *colptr;     /* sparse: n_src + 1 */
    uint32_t *rowidx;     /* sparse: nnz destinations */
    int32_t *acc;         /* stride accumulators of this step's summed mantissas */
    uint32_t active;      /* 1 when a source spiked at t-1 (acc is valid), else 0 */
    el_plastic_t *pl;     /* plastic: the plasticity processor's state (el_learn.h); else NULL */
} el_conn_t;

struct el_core {
    uint32_t magic;
    uint32_t n_inputs;
    uint32_t n_pops;
    uint32_t n_conns;
    uint32_t n_neurons;
    uint32_t n_in_events;  /* input spikes recorded at the last step */
    uint64_t t;
    el_pop_t *pops;
    el_conn_t *conns;
    uint16_t *in_conns;    /* connection indices grouped by destination population */
    int32_t *u;
    int32_t *v;
    int32_t *r;            /* refractory counts, [0, EL_REFRACT_MAX - 1] */
    uint8_t *s;            /* spikes of the last step */
    uint32_t *in_events;   /* input axons that spiked at the last step */
    uint32_t *a;           /* scratch: a population's summed input, mod 2^32 */
    int8_t *third;         /* third factor r per neuron (plasticity, spec 5.3) */
    int32_t *learn_scratch; /* shared scratch of the learning epochs */
    uint32_t seed;         /* PRNG seed (spec 5.1) */
    uint32_t learn;        /* learning switch (spec 5.4) */
};

/* ---- layout ------------------------------------------------------------------------------ */

typedef struct el_cursor {
    size_t off;
    bool ok;
} el_cursor_t;

/* Reserve count * size bytes aligned to align (a power of two); returns the offset. */
static size_t el_carve(el_cursor_t *c, size_t count, size_t size, size_t align)
{
    size_t start;
    size_t n;
    if (!c->ok) {
        return 0;
    }
    if (c->off > SIZE_MAX - (align - 1u)) {
        c->ok = false;
        return 0;
    }
    start = (c->off + (align - 1u)) & ~(align - 1u);
    if (size != 0u && count > SIZE_MAX / size) {
        c->ok = false;
        return 0;
    }
    n = count * size;
    if (start > SIZE_MAX - n) {
        c->ok = false;
        return 0;
    }
    c->off = start + n;
    return start;
}

static uint32_t el_round_up(uint32_t n, uint32_t m)
{
    return (n + (m - 1u)) / m * m;
}

static uint32_t el_src_size(const el_core_desc_t *d, int32_t src)
{
    return src == EL_SRC_INPUT ? d->n_inputs : d->pops[src].size;
}

/* ---- descriptor checks --------------------------------------------------------------------- */

static bool el_in(int32_t x, int32_t lo, int32_t hi)
{
    return x >= lo && x <= hi;
}

static el_status_t el_check_pop(const el_core_desc_t *d, const el_pop_desc_t *p)
{
    uint32_t i;
    if (p->size < 1u || p->size > (uint32_t)EL_MAX_NEURONS || !el_in(p->du, 0, EL_DECAY_MAX) ||
        !el_in(p->dv, 0, EL_DECAY_MAX) || !el_in(p->vth_mant, 0, EL_VTH_MANT_MAX) ||
        !el_in(p->bias_exp, 0, EL_BIAS_EXP_MAX) || !el_in(p->refractory, 1, EL_REFRACT_MAX)) {
        return EL_ERR_RANGE;
    }
    if ((p->flags & ~EL_POP_FLAGS_SUPPORTED) != 0u) {
        return EL_ERR_UNSUPPORTED;
    }
    if ((p->flags & EL_POP_THIRD_COMPUTED) != 0u) {
        if (!el_in(p->third_src, 0, (int32_t)d->n_pops - 1) ||
            d->pops[p->third_src].size != p->size ||
            !el_in(p->third_shift, 0, EL_THIRD_SHIFT_MAX)) {
            return EL_ERR_RANGE;
        }
    } else if (p->third_src != 0 || p->third_shift != 0) {
        return EL_ERR_RANGE;
    }
    if (p->bias_mant != NULL) {
        for (i = 0; i < p->size; ++i) {
            if (!el_in(p->bias_mant[i], EL_BIAS_MANT_MIN, EL_BIAS_MANT_MAX)) {
                return EL_ERR_RANGE;
            }
        }
    }
    return EL_OK;
}

static el_status_t el_check_conn(const el_core_desc_t *d, const el_conn_desc_t *c)
{
    uint32_t n_src;
    uint32_t n_dst;
    uint32_t i;
    uint32_t k;
    if (c->src != EL_SRC_INPUT && (c->src < 0 || (uint32_t)c->src >= d->n_pops)) {
        return EL_ERR_RANGE;
    }
    if (c->dst < 0 || (uint32_t)c->dst >= d->n_pops) {
        return EL_ERR_RANGE;
    }
    if (!el_in(c->w_exp, EL_WEIGHT_EXP_MIN, EL_WEIGHT_EXP_MAX)) {
        return EL_ERR_RANGE;
    }
    if ((c->flags & ~(uint32_t)(EL_CONN_MIXED | EL_CONN_PLASTIC | EL_CONN_GRADED)) != 0u) {
        return EL_ERR_RANGE;
    }
    if ((c->flags & ~(uint32_t)EL_CONN_FLAGS_SUPPORTED) != 0u) {
        return EL_ERR_UNSUPPORTED;
    }
    n_src = el_src_size(d, c->src);
    n_dst = d->pops[c->dst].size;
    if (n_src > (uint32_t)EL_MAX_FANIN) {
        return EL_ERR_RANGE;
    }
    if ((c->flags & EL_CONN_PLASTIC) != 0u) {
        el_status_t st;
        if (c->rule == NULL) {
            return EL_ERR_NULL;
        }
        st = el_rule_check(c->rule, c->rule_len);
        if (st != EL_OK) {
            return st;
        }
    }
    if (c->kind == EL_CONN_DENSE) {
        if (c->weights == NULL && n_src != 0u) {
            return EL_ERR_NULL;
        }
        return EL_OK;
    }
    if (c->kind != EL_CONN_SPARSE) {
        return EL_ERR_RANGE;
    }
    if (c->indptr == NULL) {
        return EL_ERR_NULL;
    }
    if (c->indptr[0] != 0u) {
        return EL_ERR_FORMAT;
    }
    for (i = 0; i < n_dst; ++i) {
        if (c->indptr[i + 1u] < c->indptr[i]) {
            return EL_ERR_FORMAT;
        }
    }
    if ((uint64_t)c->indptr[n_dst] > (uint64_t)n_dst * n_src) {
        return EL_ERR_FORMAT;
    }
    if (c->indptr[n_dst] == 0u) {
        return EL_OK;
    }
    if (c->indices == NULL || c->weights == NULL) {
        return EL_ERR_NULL;
    }
    for (i = 0; i < n_dst; ++i) {
        for (k = c->indptr[i]; k < c->indptr[i + 1u]; ++k) {
            if (c->indices[k] >= n_src ||
                (k > c->indptr[i] && c->indices[k] <= c->indices[k - 1u])) {
                return EL_ERR_FORMAT;
            }
        }
    }
    return EL_OK;
}

static el_status_t el_check(const el_core_desc_t *d)
{
    uint32_t k;
    el_status_t st;
    if (d->n_inputs > (uint32_t)EL_MAX_FANIN || d->n_pops < 1u ||
        d->n_pops > (uint32_t)EL_MAX_POPULATIONS || d->n_conns > (uint32_t)EL_MAX_CONNECTIONS) {
        return EL_ERR_RANGE;
    }
    if (d->pops == NULL || (d->n_conns != 0u && d->conns == NULL)) {
        return EL_ERR_NULL;
    }
    for (k = 0; k < d->n_pops; ++k) {
        st = el_check_pop(d, &d->pops[k]);
        if (st != EL_OK) {
            return st;
        }
    }
    for (k = 0; k < d->n_conns; ++k) {
        st = el_check_conn(d, &d->conns[k]);
        if (st != EL_OK) {
            return st;
        }
    }
    return EL_OK;
}

/* ---- layout (shared by el_core_bytes and el_core_init) ------------------------------------- */

/* Offsets of everything inside the block. Header offsets are from the block start; array
 * offsets are from the first EL_CORE_ARRAY_ALIGN-aligned address after the header. */
typedef struct el_layout {
    size_t pops;
    size_t conns;
    size_t in_conns;
    size_t header_end;
    size_t u, v, bias, r, s, spk, in_events, a, third, learn_scratch;
    size_t data_end;
    size_t total;
} el_layout_t;

/* Per-connection array offsets are computed on the fly (same order in both passes). */
static el_status_t el_plan(const el_core_desc_t *d, el_layout_t *L, el_core_t *core,
                           uint8_t *data)
{
    el_cursor_t h = {0u, true};
    el_cursor_t a = {0u, true};
    const size_t al = EL_CORE_ARRAY_ALIGN;
    uint32_t n = 0;
    uint32_t max_stride = 0;
    size_t max_scratch = 0;
    uint32_t k;
    (void)el_carve(&h, 1u, sizeof(el_core_t), sizeof(uint64_t));
    L->pops = el_carve(&h, d->n_pops, sizeof(el_pop_t), sizeof(void *));
    L->conns = el_carve(&h, d->n_conns, sizeof(el_conn_t), sizeof(void *));
    L->in_conns = el_carve(&h, d->n_conns, sizeof(uint16_t), sizeof(uint16_t));
    L->header_end = h.off;
    for (k = 0; k < d->n_pops; ++k) {
        n += d->pops[k].size; /* <= 64 * 2^20: no overflow */
        if (el_round_up(d->pops[k].size, EL_CORE_ROW_ALIGN) > max_stride) {
            max_stride = el_round_up(d->pops[k].size, EL_CORE_ROW_ALIGN);
        }
    }
    L->u = el_carve(&a, n, sizeof(int32_t), al);
    L->v = el_carve(&a, n, sizeof(int32_t), al);
    L->bias = el_carve(&a, n, sizeof(int32_t), al);
    L->r = el_carve(&a, n, sizeof(int32_t), al);
    L->s = el_carve(&a, n, sizeof(uint8_t), al);
    L->spk = el_carve(&a, n, sizeof(uint32_t), al);
    L->in_events = el_carve(&a, d->n_inputs, sizeof(uint32_t), al);
    L->a = el_carve(&a, max_stride, sizeof(uint32_t), al);
    L->third = el_carve(&a, n, sizeof(int8_t), al);
    for (k = 0; k < d->n_conns; ++k) {
        const el_conn_desc_t *cd = &d->conns[k];
        const uint32_t n_src = el_src_size(d, cd->src);
        const uint32_t n_dst = d->pops[cd->dst].size;
        const bool dense = cd->kind == EL_CONN_DENSE;
        const uint32_t stride = dense ? el_round_up(n_dst, EL_CORE_ROW_ALIGN) : n_dst;
        const uint32_t nnz = dense ? 0u : cd->indptr[n_dst];
        const size_t acc = el_carve(&a, stride, sizeof(int32_t), al);
        size_t w = 0;
        size_t colptr = 0;
        size_t rowidx = 0;
        size_t pl = 0;
        if (dense) {
            if (n_src != 0u && (size_t)stride > SIZE_MAX / n_src) {
                return EL_ERR_SIZE;
            }
            w = el_carve(&a, (size_t)n_src * stride, sizeof(int8_t), al);
        } else {
            colptr = el_carve(&a, (size_t)n_src + 1u, sizeof(uint32_t), al);
            rowidx = el_carve(&a, nnz, sizeof(uint32_t), al);
            w = el_carve(&a, nnz, sizeof(int8_t), al);
        }
        if ((cd->flags & EL_CONN_PLASTIC) != 0u) {
            /* the plasticity processor's state, and the largest scratch any rule needs */
            el_rule_t rule;
            el_plastic_geom_t g;
            size_t pb = 0;
            el_status_t st = el_rule_load(cd->rule, cd->rule_len, &rule);
            g.n_src = n_src;
            g.n_dst = n_dst;
            g.stride = dense ? stride : 0u;
            g.nnz = nnz;
            g.colptr = NULL; /* sizing needs only the geometry */
            g.rowidx = NULL;
            g.conn = k;
            g.mixed = (cd->flags & EL_CONN_MIXED) != 0u ? 1u : 0u;
            if (st == EL_OK) {
                st = el_plastic_bytes(&g, &pb);
            }
            if (st != EL_OK) {
                return st;
            }
            pl = el_carve(&a, pb, 1u, al);
            if (el_plastic_scratch_bytes(&rule, &g) > max_scratch) {
                max_scratch = el_plastic_scratch_bytes(&rule, &g);
            }
        }
        if (core != NULL) {
            el_conn_t *c = &core->conns[k];
            c->src = cd->src;
            c->dst = (uint32_t)cd->dst;
            c->kind = cd->kind;
            c->w_exp = cd->w_exp;
            c->flags = cd->flags;
            c->n_src = n_src;
            c->n_dst = n_dst;
            c->stride = stride;
            c->nnz = nnz;
            c->acc = (int32_t *)(void *)(data + acc);
            c->w = (int8_t *)(void *)(data + w);
            c->colptr = dense ? NULL : (uint32_t *)(void *)(data + colptr);
            c->rowidx = dense ? NULL : (uint32_t *)(void *)(data + rowidx);
            c->active = 0u;
            c->pl = (cd->flags & EL_CONN_PLASTIC) != 0u ? (el_plastic_t *)(void *)(data + pl) :
                                                         NULL;
        }
    }
    L->learn_scratch = el_carve(&a, max_scratch, 1u, al);
    if (!h.ok || !a.ok || a.off > SIZE_MAX - (al - 1u) - h.off) {
        return EL_ERR_SIZE;
    }
    L->data_end = a.off;
    L->total = h.off + (al - 1u) + a.off;
    return EL_OK;
}

el_status_t el_core_bytes(const el_core_desc_t *desc, size_t *bytes)
{
    el_layout_t L;
    el_status_t st;
    if (desc == NULL || bytes == NULL) {
        return EL_ERR_NULL;
    }
    st = el_check(desc);
    if (st != EL_OK) {
        return st;
    }
    st = el_plan(desc, &L, NULL, NULL);
    if (st != EL_OK) {
        return st;
    }
    *bytes = L.total;
    return EL_OK;
}

/* ---- packing ------------------------------------------------------------------------------- */

static int8_t el_effective(int8_t w, uint32_t flags)
{
    /* mixed-sign mode drops the lowest mantissa bit by flooring: shr(w, 1) * 2 */
    return (flags & EL_CONN_MIXED) != 0u ? (int8_t)(el_shr32(w, 1u) * 2) : w;
}

static void el_pack_conn(el_conn_t *c, const el_conn_desc_t *cd)
{
    uint32_t i;
    uint32_t j;
    uint32_t k;
    if (c->kind == EL_CONN_DENSE) {
        el_memset(c->w, 0u, (size_t)c->n_src * c->stride);
        for (i = 0; i < c->n_dst; ++i) {
            const int8_t *row = cd->weights + (size_t)i * c->n_src;
            for (j = 0; j < c->n_src; ++j) {
                c->w[(size_t)j * c->stride + i] = el_effective(row[j], c->flags);
            }
        }
        return;
    }
    /* CSR (rows = destinations) -> CSC (columns = sources): count, prefix-sum, place. Rows are
     * visited in ascending order, so each column's destinations come out ascending. */
    el_memset(c->colptr, 0u, ((size_t)c->n_src + 1u) * sizeof(uint32_t));
    for (k = 0; k < c->nnz; ++k) {
        c->colptr[cd->indices[k] + 1u] += 1u;
    }
    for (j = 0; j < c->n_src; ++j) {
        c->colptr[j + 1u] += c->colptr[j];
    }
    for (i = 0; i < c->n_dst; ++i) {
        for (k = cd->indptr[i]; k < cd->indptr[i + 1u]; ++k) {
            const uint32_t pos = c->colptr[cd->indices[k]]++;
            c->rowidx[pos] = i;
            c->w[pos] = el_effective(cd->weights[k], c->flags);
        }
    }
    /* colptr[j] now holds the old colptr[j + 1]: shift back. */
    for (j = c->n_src; j > 0u; --j) {
        c->colptr[j] = c->colptr[j - 1u];
    }
    c->colptr[0] = 0u;
}

/* Build a plastic connection's state in the memory el_plan reserved at c->pl: the packed w' are
 * already in c->w; the full mantissas are packed by the same routine with the sign mode off. */
static el_status_t el_init_plastic(el_conn_t *c, const el_conn_desc_t *cd, uint32_t k)
{
    el_rule_t rule;
    el_plastic_geom_t g;
    el_conn_t full = *c;
    size_t pb = 0;
    el_status_t st = el_rule_load(cd->rule, cd->rule_len, &rule);
    void *mem = c->pl;
    g.n_src = c->n_src;
    g.n_dst = c->n_dst;
    g.stride = c->kind == EL_CONN_DENSE ? c->stride : 0u;
    g.nnz = c->nnz;
    g.colptr = c->colptr;
    g.rowidx = c->rowidx;
    g.conn = k;
    g.mixed = (c->flags & EL_CONN_MIXED) != 0u ? 1u : 0u;
    if (st == EL_OK) {
        st = el_plastic_bytes(&g, &pb);
    }
    if (st == EL_OK) {
        st = el_plastic_init(&g, &rule, NULL, c->w, mem, pb, &c->pl);
    }
    if (st != EL_OK) {
        return st;
    }
    full.w = c->pl->w;
    full.flags &= ~(uint32_t)EL_CONN_MIXED;
    el_pack_conn(&full, cd);
    el_plastic_sync(c->pl);
    return EL_OK;
}

static bool el_core_ok(const el_core_t *core)
{
    return core != NULL && core->magic == EL_CORE_MAGIC;
}

el_status_t el_core_reset(el_core_t *core)
{
    uint32_t k;
    if (core == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    el_memset(core->u, 0u, (size_t)core->n_neurons * sizeof(int32_t));
    el_memset(core->v, 0u, (size_t)core->n_neurons * sizeof(int32_t));
    el_memset(core->r, 0u, (size_t)core->n_neurons * sizeof(int32_t));
    el_memset(core->s, 0u, core->n_neurons);
    for (k = 0; k < core->n_pops; ++k) {
        core->pops[k].n_spk = 0u;
    }
    for (k = 0; k < core->n_conns; ++k) {
        core->conns[k].active = 0u;
        if (core->conns[k].pl != NULL) {
            el_plastic_reset(core->conns[k].pl);
        }
    }
    el_memset(core->third, 0u, core->n_neurons);
    core->n_in_events = 0u;
    core->t = 0u;
    return EL_OK;
}

el_status_t el_core_init(const el_core_desc_t *desc, void *mem, size_t bytes, el_core_t **core)
{
    el_layout_t L;
    el_status_t st;
    el_core_t *c;
    uint8_t *base = (uint8_t *)mem;
    uint8_t *data;
    uint32_t k;
    uint32_t i;
    uint32_t n = 0;
    uint32_t m = 0;
    if (core != NULL) {
        *core = NULL;
    }
    if (desc == NULL || mem == NULL || core == NULL) {
        return EL_ERR_NULL;
    }
    if (((uintptr_t)mem & (uintptr_t)(EL_CORE_ALIGN - 1)) != 0u) {
        return EL_ERR_ALIGN;
    }
    st = el_check(desc);
    if (st != EL_OK) {
        return st;
    }
    st = el_plan(desc, &L, NULL, NULL);
    if (st != EL_OK) {
        return st;
    }
    if (bytes < L.total) {
        return EL_ERR_SIZE;
    }
    c = (el_core_t *)mem;
    el_memset(c, 0u, sizeof *c);
    c->pops = (el_pop_t *)(void *)(base + L.pops);
    c->conns = (el_conn_t *)(void *)(base + L.conns);
    c->in_conns = (uint16_t *)(void *)(base + L.in_conns);
    {
        const uintptr_t end = (uintptr_t)(base + L.header_end);
        const uintptr_t al = (uintptr_t)EL_CORE_ARRAY_ALIGN;
        data = base + L.header_end + (size_t)(((al - (end & (al - 1u))) & (al - 1u)));
    }
    c->n_inputs = desc->n_inputs;
    c->n_pops = desc->n_pops;
    c->n_conns = desc->n_conns;
    c->u = (int32_t *)(void *)(data + L.u);
    c->v = (int32_t *)(void *)(data + L.v);
    c->r = (int32_t *)(void *)(data + L.r);
    c->s = data + L.s;
    c->in_events = (uint32_t *)(void *)(data + L.in_events);
    c->a = (uint32_t *)(void *)(data + L.a);
    c->third = (int8_t *)(void *)(data + L.third);
    c->learn_scratch = (int32_t *)(void *)(data + L.learn_scratch);
    c->seed = desc->seed;
    c->learn = 1u;
    for (k = 0; k < desc->n_pops; ++k) {
        const el_pop_desc_t *pd = &desc->pops[k];
        el_pop_t *p = &c->pops[k];
        p->size = pd->size;
        p->offset = n;
        p->du1 = pd->du + 1;
        p->dv = pd->dv;
        p->vth = pd->vth_mant * (1 << EL_VTH_SHIFT);
        p->refractory = pd->refractory;
        p->bias = (int32_t *)(void *)(data + L.bias) + n;
        p->spk = (uint32_t *)(void *)(data + L.spk) + n;
        p->n_spk = 0u;
        p->third_src = (pd->flags & EL_POP_THIRD_COMPUTED) != 0u ? pd->third_src : -1;
        p->third_shift = pd->third_shift;
        for (i = 0; i < pd->size; ++i) {
            p->bias[i] =
                pd->bias_mant == NULL ? 0 : (int32_t)pd->bias_mant[i] * (1 << pd->bias_exp);
        }
        /* incoming connections, in descriptor order */
        p->conn_first = m;
        for (i = 0; i < desc->n_conns; ++i) {
            if ((uint32_t)desc->conns[i].dst == k) {
                c->in_conns[m++] = (uint16_t)i;
            }
        }
        p->conn_count = m - p->conn_first;
        n += pd->size;
    }
    c->n_neurons = n;
    st = el_plan(desc, &L, c, data);
    if (st != EL_OK) {
        return st;
    }
    for (k = 0; k < desc->n_conns; ++k) {
        el_pack_conn(&c->conns[k], &desc->conns[k]);
        if (c->conns[k].pl != NULL) {
            st = el_init_plastic(&c->conns[k], &desc->conns[k], k);
            if (st != EL_OK) {
                return st;
            }
        }
    }
    c->magic = EL_CORE_MAGIC;
    (void)el_core_reset(c);
    *core = c;
    return EL_OK;
}

/* ---- the timestep -------------------------------------------------------------------------- */

/* acc[0..n) += w[0..n): one source's packed dense row. */
EL_VECTOR_CLONES
static void el_add_row(int32_t *EL_RESTRICT acc, const int8_t *EL_RESTRICT w, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; ++i) {
        acc[i] += w[i];
    }
}

/* acc[0..n) += w0 + w1 + w2 + w3: four rows at once, summed in int16 (|sum| <= 512) and
 * widened once, so the int32 accumulators are loaded and stored once per four events. */
EL_VECTOR_CLONES
static void el_add_rows4(int32_t *EL_RESTRICT acc, const int8_t *EL_RESTRICT w0,
                         const int8_t *EL_RESTRICT w1, const int8_t *EL_RESTRICT w2,
                         const int8_t *EL_RESTRICT w3, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; ++i) {
        acc[i] += (int16_t)((int16_t)(w0[i] + w1[i]) + (int16_t)(w2[i] + w3[i]));
    }
}

/* acc[0..n) += w0 + ... + w7: eight rows at once, summed in int16 (|sum| <= 1024) and
 * widened once, so the int32 accumulators are loaded and stored once per eight events. */
EL_VECTOR_CLONES
static void el_add_rows8(int32_t *EL_RESTRICT acc, const int8_t *const *EL_RESTRICT w,
                         uint32_t n)
{
    const int8_t *EL_RESTRICT w0 = w[0];
    const int8_t *EL_RESTRICT w1 = w[1];
    const int8_t *EL_RESTRICT w2 = w[2];
    const int8_t *EL_RESTRICT w3 = w[3];
    const int8_t *EL_RESTRICT w4 = w[4];
    const int8_t *EL_RESTRICT w5 = w[5];
    const int8_t *EL_RESTRICT w6 = w[6];
    const int8_t *EL_RESTRICT w7 = w[7];
    uint32_t i;
    for (i = 0; i < n; ++i) {
        const int16_t s01 = (int16_t)(w0[i] + w1[i]);
        const int16_t s23 = (int16_t)(w2[i] + w3[i]);
        const int16_t s45 = (int16_t)(w4[i] + w5[i]);
        const int16_t s67 = (int16_t)(w6[i] + w7[i]);
        acc[i] += (int16_t)((int16_t)(s01 + s23) + (int16_t)(s45 + s67));
    }
}

/* Phase 1 for one connection: sum the packed rows of the sources that spiked at t-1. */
static void el_accumulate(el_conn_t *c, const uint32_t *events, uint32_t n_events)
{
    uint32_t e = 0;
    int32_t *EL_RESTRICT acc = c->acc;
    if (n_events == 0u) {
        c->active = 0u;
        return;
    }
    c->active = 1u;
    el_memset(acc, 0u, (size_t)c->stride * sizeof(int32_t));
    if (c->kind == EL_CONN_DENSE) {
        const int8_t *w = c->w;
        const size_t st = c->stride;
        for (; e + 8u <= n_events; e += 8u) {
            const int8_t *rows[8];
            uint32_t q;
            for (q = 0; q < 8u; ++q) {
                rows[q] = w + events[e + q] * st;
            }
            el_add_rows8(acc, rows, c->stride);
        }
        for (; e + 4u <= n_events; e += 4u) {
            el_add_rows4(acc, w + events[e] * st, w + events[e + 1u] * st,
                         w + events[e + 2u] * st, w + events[e + 3u] * st, c->stride);
        }
        for (; e < n_events; ++e) {
            el_add_row(acc, w + events[e] * st, c->stride);
        }
    } else {
        for (e = 0; e < n_events; ++e) {
            const uint32_t j = events[e];
            const uint32_t end = c->colptr[j + 1u];
            uint32_t k;
            for (k = c->colptr[j]; k < end; ++k) {
                acc[c->rowidx[k]] += c->w[k];
            }
        }
    }
}

/* a[0..n) (+)= scale(acc, e) * 2^6 modulo 2^32 (wrapped to 24 bits by the caller). The
 * branch on e is hoisted out of the loops so that each loop vectorises. */
EL_VECTOR_CLONES
static void el_scale_input(uint32_t *EL_RESTRICT a, const int32_t *EL_RESTRICT acc, uint32_t n,
                           int e, bool add)
{
    uint32_t i;
    if (e >= 0) {
        if (add) {
            for (i = 0; i < n; ++i) {
                a[i] += el_scale_mod32(acc[i], e, EL_WEIGHT_SHIFT);
            }
        } else {
            for (i = 0; i < n; ++i) {
                a[i] = el_scale_mod32(acc[i], e, EL_WEIGHT_SHIFT);
            }
        }
    } else {
        if (add) {
            for (i = 0; i < n; ++i) {
                a[i] += el_scale_mod32(acc[i], e, EL_WEIGHT_SHIFT);
            }
        } else {
            for (i = 0; i < n; ++i) {
                a[i] = el_scale_mod32(acc[i], e, EL_WEIGHT_SHIFT);
            }
        }
    }
}

/* Compartment parameters shared by a population. */
typedef struct el_params {
    int32_t du1;
    int32_t dv;
    int32_t vth;
    int32_t hold;
} el_params_t;

/* Spec section 4, steps 2-5, for n neurons with summed input a (mod 2^32). Branch-free so that
 * it vectorises: the spike decision is data, not control flow. Returns nothing; s gets 0/1. */
EL_VECTOR_CLONES
static void el_compartments(int32_t *EL_RESTRICT u, int32_t *EL_RESTRICT v,
                            int32_t *EL_RESTRICT r, uint8_t *EL_RESTRICT s,
                            const uint32_t *EL_RESTRICT a, const int32_t *EL_RESTRICT bias,
                            uint32_t n, el_params_t prm)
{
    uint32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t un = el_wrap24_u32((uint32_t)el_dec(u[i], prm.du1) + a[i]);
        const int32_t vs = el_sat24(el_dec(v[i], prm.dv) + un + bias[i]);
        const int32_t ri = r[i];
        const int32_t fire = (ri == 0) & (vs > prm.vth); /* bitwise: no branch */
        u[i] = un;
        v[i] = ((ri != 0) | fire) != 0 ? 0 : vs;
        r[i] = ri != 0 ? ri - 1 : fire * prm.hold;
        s[i] = (uint8_t)fire;
    }
}

/* Indices of the non-zero s[0..n) into spk; returns their count. */
static uint32_t el_compact(uint32_t *EL_RESTRICT spk, const uint8_t *EL_RESTRICT s, uint32_t n)
{
    uint32_t i;
    uint32_t m = 0;
    for (i = 0; i < n; ++i) {
        spk[m] = i;
        m += s[i];
    }
    return m;
}

/* Spec section 4, steps 1 (combining the connections' sums) to 5, for one population. */
static void el_update_pop(el_core_t *core, el_pop_t *p)
{
    el_params_t prm;
    uint32_t k;
    bool first = true;
    prm.du1 = p->du1;
    prm.dv = p->dv;
    prm.vth = p->vth;
    prm.hold = p->refractory - 1;
    /* a = sum_c wrap24(scale(acc_c, w_exp_c) * 2^6), formed modulo 2^32 and wrapped later */
    for (k = 0; k < p->conn_count; ++k) {
        const el_conn_t *c = &core->conns[core->in_conns[p->conn_first + k]];
        if (c->active) {
            el_scale_input(core->a, c->acc, p->size, c->w_exp, !first);
            first = false;
        }
    }
    if (first) {
        el_memset(core->a, 0u, (size_t)p->size * sizeof(uint32_t));
    }
    el_compartments(core->u + p->offset, core->v + p->offset, core->r + p->offset,
                    core->s + p->offset, core->a, p->bias, p->size, prm);
    p->n_spk = el_compact(p->spk, core->s + p->offset, p->size);
}

/* One step. This step's input spikes come either as n_inputs bytes (in_spikes) or as an
 * ascending list of axons (axons, n_axons); both NULL means none. */
static void el_step(el_core_t *core, const uint8_t *in_spikes, const uint32_t *axons,
                    uint32_t n_axons)
{
    uint32_t k;
    uint32_t j;
    uint32_t n_in = 0;
    /* 1. synaptic input from the spikes of t-1 (inputs and neurons) */
    for (k = 0; k < core->n_conns; ++k) {
        el_conn_t *c = &core->conns[k];
        if (c->src == EL_SRC_INPUT) {
            el_accumulate(c, core->in_events, core->n_in_events);
        } else {
            const el_pop_t *sp = &core->pops[c->src];
            el_accumulate(c, sp->spk, sp->n_spk);
        }
    }
    /* 2-5. compartments (overwrites the populations' spike lists with step t's) */
    for (k = 0; k < core->n_pops; ++k) {
        el_update_pop(core, &core->pops[k]);
    }
    /* this step's input spikes enter u at t + 1 */
    if (in_spikes != NULL) {
        for (j = 0; j < core->n_inputs; ++j) {
            core->in_events[n_in] = j;
            n_in += in_spikes[j] != 0u ? 1u : 0u;
        }
    } else if (axons != NULL) {
        el_memcpy(core->in_events, axons, (size_t)n_axons * sizeof(uint32_t));
        n_in = n_axons;
    }
    core->n_in_events = n_in;
    core->t += 1u;
    /* third factors computed by designated neurons, from this step's u (spec 5.3) */
    for (k = 0; k < core->n_pops; ++k) {
        const el_pop_t *p = &core->pops[k];
        if (p->third_src >= 0) {
            const int32_t *u = core->u + core->pops[p->third_src].offset;
            int8_t *r = core->third + p->offset;
            for (j = 0; j < p->size; ++j) {
                r[j] = (int8_t)el_clamp32(el_shr32(u[j], (unsigned)p->third_shift),
                                          EL_THIRD_MIN, EL_THIRD_MAX);
            }
        }
    }
    /* plasticity (spec 5.2-5.4): traces with this step's spikes, then the learning epoch */
    for (k = 0; k < core->n_conns; ++k) {
        el_conn_t *c = &core->conns[k];
        if (c->pl != NULL) {
            const el_pop_t *dp = &core->pops[c->dst];
            const uint32_t *src_spk = c->src == EL_SRC_INPUT ? core->in_events :
                                                               core->pops[c->src].spk;
            const uint32_t n_src_spk = c->src == EL_SRC_INPUT ? core->n_in_events :
                                                                core->pops[c->src].n_spk;
            el_plastic_step(c->pl, src_spk, n_src_spk, dp->spk, dp->n_spk,
                            core->third + dp->offset, core->seed, (uint32_t)core->t,
                            (int)core->learn, core->learn_scratch);
        }
    }
}

el_status_t el_core_step(el_core_t *core, const uint8_t *in_spikes)
{
    if (core == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    el_step(core, in_spikes, NULL, 0u);
    return EL_OK;
}

el_status_t el_core_step_events(el_core_t *core, const uint32_t *axons, uint32_t n_axons)
{
    uint32_t k;
    if (core == NULL || (axons == NULL && n_axons != 0u)) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    if (n_axons > core->n_inputs) {
        return EL_ERR_RANGE;
    }
    for (k = 0; k < n_axons; ++k) {
        if (axons[k] >= core->n_inputs) {
            return EL_ERR_RANGE;
        }
        if (k > 0u && axons[k] <= axons[k - 1u]) {
            return EL_ERR_FORMAT;
        }
    }
    el_step(core, NULL, n_axons != 0u ? axons : NULL, n_axons);
    return EL_OK;
}

el_status_t el_core_run(el_core_t *core, const uint8_t *raster, size_t n_steps, uint8_t *out_s,
                        int32_t *out_u, int32_t *out_v)
{
    size_t k;
    const size_t n = core == NULL ? 0u : core->n_neurons;
    if (core == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    if (n != 0u && n_steps > SIZE_MAX / sizeof(int32_t) / n) {
        return EL_ERR_SIZE;
    }
    if (raster != NULL && core->n_inputs != 0u && n_steps > SIZE_MAX / core->n_inputs) {
        return EL_ERR_SIZE; /* the raster's n_steps * n_inputs bytes overflow size_t */
    }
    for (k = 0; k < n_steps; ++k) {
        el_step(core, raster == NULL ? NULL : raster + k * core->n_inputs, NULL, 0u);
        if (out_s != NULL) {
            el_memcpy(out_s + k * n, core->s, n);
        }
        if (out_u != NULL) {
            el_memcpy(out_u + k * n, core->u, n * sizeof(int32_t));
        }
        if (out_v != NULL) {
            el_memcpy(out_v + k * n, core->v, n * sizeof(int32_t));
        }
    }
    return EL_OK;
}

/* ---- accessors ----------------------------------------------------------------------------- */

uint32_t el_core_n_neurons(const el_core_t *core)
{
    return el_core_ok(core) ? core->n_neurons : 0u;
}

uint32_t el_core_n_inputs(const el_core_t *core)
{
    return el_core_ok(core) ? core->n_inputs : 0u;
}

uint64_t el_core_time(const el_core_t *core)
{
    return el_core_ok(core) ? core->t : 0u;
}

el_status_t el_core_set_time(el_core_t *core, uint64_t t)
{
    if (core == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    core->t = t;
    return EL_OK;
}

int64_t el_core_pop_offset(const el_core_t *core, uint32_t pop)
{
    return el_core_ok(core) && pop < core->n_pops ? (int64_t)core->pops[pop].offset : -1;
}

const uint8_t *el_core_spikes(const el_core_t *core)
{
    return el_core_ok(core) ? core->s : NULL;
}

const int32_t *el_core_u(const el_core_t *core)
{
    return el_core_ok(core) ? core->u : NULL;
}

const int32_t *el_core_v(const el_core_t *core)
{
    return el_core_ok(core) ? core->v : NULL;
}

const int8_t *el_core_third(const el_core_t *core)
{
    return el_core_ok(core) ? core->third : NULL;
}

el_status_t el_core_read_weights(const el_core_t *core, uint32_t conn, int8_t *out, size_t len)
{
    const el_conn_t *c;
    uint32_t i;
    uint32_t j;
    uint32_t k;
    if (core == NULL || out == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    if (conn >= core->n_conns) {
        return EL_ERR_RANGE;
    }
    c = &core->conns[conn];
    /* in 64 bits: n_dst * n_src reaches 2^36 and would wrap a 32-bit size_t (Cortex-M) */
    if ((uint64_t)c->n_dst * c->n_src > (uint64_t)len) {
        return EL_ERR_SIZE;
    }
    el_memset(out, 0u, (size_t)c->n_dst * c->n_src); /* <= len: fits size_t */
    for (j = 0; j < c->n_src; ++j) {
        if (c->kind == EL_CONN_DENSE) {
            for (i = 0; i < c->n_dst; ++i) {
                out[(size_t)i * c->n_src + j] = c->w[(size_t)j * c->stride + i];
            }
        } else {
            for (k = c->colptr[j]; k < c->colptr[j + 1u]; ++k) {
                out[(size_t)c->rowidx[k] * c->n_src + j] = c->w[k];
            }
        }
    }
    return EL_OK;
}

/* ---- plasticity ------------------------------------------------------------------------------ */

/* True when @p r (n_neurons values) holds 0 for every computed third factor (spec 5.3). */
static bool el_third_writable(const el_core_t *core, const int8_t *r)
{
    uint32_t k;
    uint32_t i;
    for (k = 0; k < core->n_pops; ++k) {
        const el_pop_t *p = &core->pops[k];
        if (p->third_src >= 0) {
            for (i = 0; i < p->size; ++i) {
                if (r[p->offset + i] != 0) {
                    return false;
                }
            }
        }
    }
    return true;
}

/* Write the host's third factors; computed ones keep their value. */
static void el_write_third(el_core_t *core, const int8_t *r)
{
    uint32_t k;
    for (k = 0; k < core->n_pops; ++k) {
        const el_pop_t *p = &core->pops[k];
        if (p->third_src < 0) {
            el_memcpy(core->third + p->offset, r + p->offset, p->size);
        }
    }
}

el_status_t el_core_set_third(el_core_t *core, const int8_t *r)
{
    if (core == NULL || r == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    if (!el_third_writable(core, r)) {
        return EL_ERR_RANGE;
    }
    el_write_third(core, r);
    return EL_OK;
}

el_status_t el_core_set_learning(el_core_t *core, int on)
{
    if (core == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    core->learn = on != 0 ? 1u : 0u;
    return EL_OK;
}

static el_status_t el_plastic_conn(const el_core_t *core, uint32_t conn, el_plastic_t **pl)
{
    if (core == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    if (conn >= core->n_conns || core->conns[conn].pl == NULL) {
        return EL_ERR_RANGE;
    }
    *pl = core->conns[conn].pl;
    return EL_OK;
}

el_status_t el_core_set_rule(el_core_t *core, uint32_t conn, const uint8_t *code, size_t len)
{
    el_plastic_t *pl = NULL;
    el_rule_t rule;
    el_status_t st = el_plastic_conn(core, conn, &pl);
    if (st != EL_OK) {
        return st;
    }
    if (code == NULL) {
        return EL_ERR_NULL;
    }
    st = el_rule_load(code, len, &rule);
    if (st != EL_OK) {
        return st;
    }
    return el_plastic_set_rule(pl, &rule);
}

el_status_t el_core_read_plastic(const el_core_t *core, uint32_t conn, int8_t *w, int8_t *e,
                                 size_t len)
{
    el_plastic_t *pl = NULL;
    el_status_t st = el_plastic_conn(core, conn, &pl);
    if (st != EL_OK) {
        return st;
    }
    if (w == NULL && e == NULL) {
        return EL_ERR_NULL;
    }
    return el_plastic_read(pl, w, e, len);
}

el_status_t el_core_read_traces(const el_core_t *core, uint32_t conn, uint8_t *x, uint8_t *y)
{
    el_plastic_t *pl = NULL;
    el_status_t st = el_plastic_conn(core, conn, &pl);
    if (st != EL_OK) {
        return st;
    }
    if (x == NULL && y == NULL) {
        return EL_ERR_NULL;
    }
    if (x != NULL) {
        el_memcpy(x, pl->x, 2u * (size_t)pl->n_src);
    }
    if (y != NULL) {
        el_memcpy(y, pl->y, 3u * (size_t)pl->n_dst);
    }
    return EL_OK;
}

el_status_t el_core_run_third(el_core_t *core, const uint8_t *raster, const int8_t *third,
                              size_t n_steps, uint8_t *out_s, int32_t *out_u, int32_t *out_v)
{
    size_t k;
    size_t n;
    el_status_t st;
    if (third == NULL) {
        return el_core_run(core, raster, n_steps, out_s, out_u, out_v);
    }
    if (core == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_core_ok(core)) {
        return EL_ERR_STATE;
    }
    n = core->n_neurons;
    if (n != 0u && n_steps > SIZE_MAX / sizeof(int32_t) / n) {
        return EL_ERR_SIZE;
    }
    if (raster != NULL && core->n_inputs != 0u && n_steps > SIZE_MAX / core->n_inputs) {
        return EL_ERR_SIZE; /* checked before any step: el_core_run sees one row at a time */
    }
    for (k = 0; k < n_steps; ++k) {
        if (!el_third_writable(core, third + k * n)) {
            return EL_ERR_RANGE;
        }
    }
    for (k = 0; k < n_steps; ++k) {
        el_write_third(core, third + k * n);
        st = el_core_run(core, raster == NULL ? NULL : raster + k * core->n_inputs, 1u,
                         out_s == NULL ? NULL : out_s + k * n,
                         out_u == NULL ? NULL : out_u + k * n,
                         out_v == NULL ? NULL : out_v + k * n);
        if (st != EL_OK) {
            return st;
        }
    }
    return EL_OK;
}
