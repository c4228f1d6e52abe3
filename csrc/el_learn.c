/**
 * @file el_learn.c
 * @brief The plasticity processor: microcode loader, traces, the learning epoch (el_learn.h).
 *
 * Arithmetic (stochastic rounding, term shifts, the saturating accumulator, clamps) goes
 * through el_fixed.h; the order of operations follows docs/spec.md 5.2-5.4 and the twin's
 * edgelearn/plasticity.py::update.
 */
#include "el_learn.h"

#include <stdbool.h>

#include "el_fixed.h"
#include "el_port.h"

/* ---- microcode reader: never reads past len ------------------------------------------------- */

typedef struct el_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
} el_rd_t;

static bool el_rd_take(el_rd_t *r, size_t n, const uint8_t **at)
{
    if (r->pos > r->len || n > r->len - r->pos) {
        return false;
    }
    *at = r->p + r->pos;
    r->pos += n;
    return true;
}

static bool el_rd_u8(el_rd_t *r, uint8_t *v)
{
    const uint8_t *a;
    if (!el_rd_take(r, 1u, &a)) {
        return false;
    }
    *v = a[0];
    return true;
}

static bool el_rd_u16(el_rd_t *r, uint16_t *v)
{
    const uint8_t *a;
    if (!el_rd_take(r, 2u, &a)) {
        return false;
    }
    *v = (uint16_t)(a[0] | (a[1] << 8));
    return true;
}

static int32_t el_s8(uint8_t v)
{
    return v >= 128u ? (int32_t)v - 256 : (int32_t)v;
}

static int32_t el_s16(uint16_t v)
{
    return v >= 32768u ? (int32_t)v - 65536 : (int32_t)v;
}

/* Largest magnitude of a variable (spec 6: x0, y0 in [0, 1]; traces [0, 127]; r, w, e). */
static uint32_t el_var_max(uint8_t var)
{
    switch (var) {
    case EL_VAR_X0:
    case EL_VAR_Y0: return 1u;
    case EL_VAR_R:
    case EL_VAR_W:
    case EL_VAR_E: return 128u;
    default: return (uint32_t)EL_TRACE_MAX;
    }
}

/* |cnst| + sum |k| * max|var|: < 2^25, exact in uint32. */
static uint32_t el_factor_bound(const el_rule_factor_t *f)
{
    uint32_t b = (uint32_t)(f->cnst < 0 ? -(int32_t)f->cnst : f->cnst);
    uint32_t q;
    for (q = 0; q < f->n_items; ++q) {
        const int32_t k = f->k[q];
        b += (uint32_t)(k < 0 ? -k : k) * el_var_max(f->var[q]);
    }
    return b;
}

/* |mant| * prod(bounds), saturated at 2^24 (the compiler's width check). */
static uint32_t el_term_bound(const el_rule_term_t *t)
{
    uint64_t b = (uint64_t)(t->mant < 0 ? -(int32_t)t->mant : t->mant);
    uint32_t q;
    for (q = 0; q < t->n_factors; ++q) {
        b *= el_factor_bound(&t->f[q]);
        if (b >= (uint64_t)EL_PRODUCT_LIMIT) {
            b = (uint64_t)EL_PRODUCT_LIMIT; /* stays >= 2^24 unless a later factor is 0 */
        }
    }
    return (uint32_t)b;
}

static el_status_t el_rd_factor(el_rd_t *r, el_rule_factor_t *f, bool has_tag)
{
    uint8_t n;
    uint8_t q;
    bool have_const = false;
    el_memset(f, 0u, sizeof *f);
    if (!el_rd_u8(r, &n)) {
        return EL_ERR_RULE_TRUNCATED;
    }
    if (n > EL_RULE_MAX_ITEMS) {
        return EL_ERR_RULE_FIELD;
    }
    for (q = 0; q < n; ++q) {
        uint8_t var;
        uint16_t k;
        if (!el_rd_u8(r, &var) || !el_rd_u16(r, &k)) {
            return EL_ERR_RULE_TRUNCATED;
        }
        if (var == EL_VAR_CONST) {
            if (have_const) {
                return EL_ERR_RULE_FIELD;
            }
            have_const = true;
            f->cnst = (int16_t)el_s16(k);
        } else if (var < EL_N_VARS) {
            if (var == EL_VAR_E && !has_tag) {
                return EL_ERR_RULE_FIELD;
            }
            f->var[f->n_items] = var;
            f->k[f->n_items] = (int16_t)el_s16(k);
            f->n_items = (uint8_t)(f->n_items + 1u);
        } else {
            return EL_ERR_RULE_FIELD;
        }
    }
    return EL_OK;
}

el_status_t el_rule_load(const uint8_t *code, size_t len, el_rule_t *out)
{
    el_rule_t R;
    el_rd_t r;
    uint16_t version;
    uint16_t flags;
    uint8_t wmin;
    uint8_t wmax;
    uint8_t n_targets;
    uint32_t q;
    uint32_t tg;
    uint32_t n_all = 0;
    const uint8_t *magic;
    if (code == NULL || out == NULL) {
        return EL_ERR_NULL;
    }
    el_memset(&R, 0u, sizeof R);
    r.p = code;
    r.len = len;
    r.pos = 0;
    if (!el_rd_take(&r, 4u, &magic)) {
        return len == 0u ? EL_ERR_RULE_MAGIC : EL_ERR_RULE_TRUNCATED;
    }
    if (magic[0] != 'E' || magic[1] != 'L' || magic[2] != 'R' || magic[3] != 'U') {
        return EL_ERR_RULE_MAGIC;
    }
    if (!el_rd_u16(&r, &version)) {
        return EL_ERR_RULE_TRUNCATED;
    }
    if (version != EL_RULE_VERSION) {
        return EL_ERR_RULE_VERSION;
    }
    if (!el_rd_u16(&r, &flags) || !el_rd_u16(&r, &R.t_epoch) || !el_rd_u8(&r, &wmin) ||
        !el_rd_u8(&r, &wmax)) {
        return EL_ERR_RULE_TRUNCATED;
    }
    if ((flags & ~7u) != 0u || (flags & 3u) == 3u || R.t_epoch < 1u ||
        el_s8(wmin) > el_s8(wmax)) {
        return EL_ERR_RULE_FIELD;
    }
    R.rounding = (uint8_t)(flags & 3u);
    R.has_tag = (uint8_t)((flags >> 2) & 1u);
    R.w_min = (int8_t)el_s8(wmin);
    R.w_max = (int8_t)el_s8(wmax);
    for (q = 0; q < EL_N_TRACES; ++q) {
        if (!el_rd_u16(&r, &R.decay[q]) || !el_rd_u16(&r, &R.impulse[q])) {
            return EL_ERR_RULE_TRUNCATED;
        }
        if (R.decay[q] > EL_DECAY_MAX || R.impulse[q] > EL_IMPULSE_MAX) {
            return EL_ERR_RULE_FIELD;
        }
    }
    if (!el_rd_u8(&r, &n_targets)) {
        return EL_ERR_RULE_TRUNCATED;
    }
    if (n_targets != 1u + R.has_tag) {
        return EL_ERR_RULE_FIELD;
    }
    for (tg = 0; tg < n_targets; ++tg) {
        uint8_t id;
        uint8_t n_terms;
        uint32_t k;
        if (!el_rd_u8(&r, &id) || !el_rd_u8(&r, &n_terms)) {
            return EL_ERR_RULE_TRUNCATED;
        }
        if (id != tg || n_terms < 1u || n_terms > EL_RULE_MAX_TERMS) {
            return EL_ERR_RULE_FIELD;
        }
        R.n_terms[tg] = n_terms;
        for (k = 0; k < n_terms; ++k) {
            el_rule_term_t *t = &R.term[n_all++];
            uint8_t mant;
            uint8_t ex;
            uint16_t th;
            el_status_t st;
            uint32_t f;
            if (!el_rd_u8(&r, &mant) || !el_rd_u8(&r, &ex) || !el_rd_u8(&r, &t->n_factors) ||
                !el_rd_u8(&r, &t->gated) || !el_rd_u16(&r, &th)) {
                return EL_ERR_RULE_TRUNCATED;
            }
            t->mant = (int8_t)el_s8(mant);
            t->exp = (int8_t)el_s8(ex);
            t->gate_th = th;
            if (t->exp < EL_COEF_EXP_MIN || t->exp > EL_COEF_EXP_MAX ||
                t->n_factors > EL_RULE_MAX_FACTORS || t->gated > 1u || th > 32767u ||
                (t->gated == 0u && th != 0u)) {
                return EL_ERR_RULE_FIELD;
            }
            if (t->gated) {
                st = el_rd_factor(&r, &t->gate, R.has_tag != 0u);
                if (st != EL_OK) {
                    return st;
                }
                if (el_factor_bound(&t->gate) >= (uint32_t)EL_PRODUCT_LIMIT) {
                    return EL_ERR_RULE_WIDTH;
                }
            }
            for (f = 0; f < t->n_factors; ++f) {
                st = el_rd_factor(&r, &t->f[f], R.has_tag != 0u);
                if (st != EL_OK) {
                    return st;
                }
            }
            if (el_term_bound(t) >= (uint32_t)EL_PRODUCT_LIMIT) {
                return EL_ERR_RULE_WIDTH;
            }
        }
    }
    if (r.pos != len) {
        return EL_ERR_RULE_TRAILING;
    }
    *out = R;
    return EL_OK;
}

el_status_t el_rule_check(const uint8_t *code, size_t len)
{
    el_rule_t tmp;
    return el_rule_load(code, len, &tmp);
}

static bool el_factor_eq(const el_rule_factor_t *a, const el_rule_factor_t *b)
{
    uint32_t q;
    if (a->n_items != b->n_items || a->cnst != b->cnst) {
        return false;
    }
    for (q = 0; q < a->n_items; ++q) {
        if (a->k[q] != b->k[q] || a->var[q] != b->var[q]) {
            return false;
        }
    }
    return true;
}

int el_rule_same_structure(const el_rule_t *a, const el_rule_t *b)
{
    uint32_t k;
    uint32_t f;
    if (a == NULL || b == NULL) {
        return 0;
    }
    if (a->t_epoch != b->t_epoch || a->w_min != b->w_min || a->w_max != b->w_max ||
        a->rounding != b->rounding || a->has_tag != b->has_tag ||
        a->n_terms[0] != b->n_terms[0] || a->n_terms[1] != b->n_terms[1]) {
        return 0;
    }
    for (k = 0; k < (uint32_t)a->n_terms[0] + a->n_terms[1]; ++k) {
        const el_rule_term_t *s = &a->term[k];
        const el_rule_term_t *t = &b->term[k];
        if (s->exp != t->exp || s->n_factors != t->n_factors || s->gated != t->gated) {
            return 0;
        }
        if (s->gated && !el_factor_eq(&s->gate, &t->gate)) {
            return 0;
        }
        for (f = 0; f < s->n_factors; ++f) {
            if (!el_factor_eq(&s->f[f], &t->f[f])) {
                return 0;
            }
        }
    }
    return 1;
}

/* ---- factor classes --------------------------------------------------------------------------- */

/* Which groups of variables a factor reads (items with k = 0 read nothing). */
#define EL_USES_PRE 1u
#define EL_USES_POST 2u
#define EL_USES_SYN 4u

static uint32_t el_factor_uses(const el_rule_factor_t *f)
{
    uint32_t u = 0;
    uint32_t q;
    for (q = 0; q < f->n_items; ++q) {
        if (f->k[q] == 0) {
            continue;
        }
        if (f->var[q] <= EL_VAR_X2) {
            u |= EL_USES_PRE;
        } else if (f->var[q] <= EL_VAR_R) {
            u |= EL_USES_POST;
        } else {
            u |= EL_USES_SYN;
        }
    }
    return u;
}

/* A factor is evaluated per synapse unless it reads only pre variables (then, with its constant,
 * it is a per-source value) or no pre and no synapse variables (a per-destination value). */
static bool el_factor_is_syn(const el_rule_factor_t *f)
{
    const uint32_t u = el_factor_uses(f);
    return (u & EL_USES_SYN) != 0u || u == (EL_USES_PRE | EL_USES_POST);
}

static bool el_factor_is_pre(const el_rule_factor_t *f)
{
    return el_factor_uses(f) == EL_USES_PRE;
}

static uint32_t el_n_syn(const el_rule_t *rule)
{
    uint32_t n = 0;
    uint32_t k;
    uint32_t f;
    for (k = 0; k < (uint32_t)rule->n_terms[0] + rule->n_terms[1]; ++k) {
        const el_rule_term_t *t = &rule->term[k];
        for (f = 0; f < t->n_factors; ++f) {
            n += el_factor_is_syn(&t->f[f]) ? 1u : 0u;
        }
        n += (t->gated && el_factor_is_syn(&t->gate)) ? 1u : 0u;
    }
    return n;
}

/* ---- plastic connection: memory ---------------------------------------------------------------- */

#define EL_PL_ALIGN 64u

typedef struct el_pl_layout {
    size_t w, e, x, y, x0, y0, total;
} el_pl_layout_t;

static size_t el_up(size_t n, size_t a)
{
    return (n + (a - 1u)) & ~(a - 1u);
}

static uint64_t el_up64(uint64_t n)
{
    return (n + (EL_PL_ALIGN - 1u)) & ~(uint64_t)(EL_PL_ALIGN - 1u);
}

static el_status_t el_pl_plan(const el_plastic_geom_t *g, el_pl_layout_t *L)
{
    uint64_t slots;
    uint64_t off;
    if (g->n_src > (uint32_t)EL_MAX_FANIN || g->n_dst < 1u || g->n_dst > (uint32_t)EL_MAX_NEURONS) {
        return EL_ERR_RANGE;
    }
    if (g->stride != 0u) {
        if (g->stride < g->n_dst) {
            return EL_ERR_RANGE;
        }
        slots = (uint64_t)g->n_src * g->stride;
    } else {
        slots = g->nnz;
    }
    if (slots > (uint64_t)UINT32_MAX) {
        return EL_ERR_SIZE;
    }
    off = el_up64(sizeof(el_plastic_t));
    L->w = (size_t)off;
    off = el_up64(off + slots);
    L->e = (size_t)off;
    off = el_up64(off + slots);
    L->x = (size_t)off;
    off = el_up64(off + 2u * (uint64_t)g->n_src);
    L->y = (size_t)off;
    off = el_up64(off + 3u * (uint64_t)g->n_dst);
    L->x0 = (size_t)off;
    off = el_up64(off + g->n_src);
    L->y0 = (size_t)off;
    off = el_up64(off + g->n_dst);
    if (off > (uint64_t)SIZE_MAX) {
        return EL_ERR_SIZE;
    }
    L->total = (size_t)off;
    return EL_OK;
}

el_status_t el_plastic_bytes(const el_plastic_geom_t *g, size_t *bytes)
{
    el_pl_layout_t L;
    el_status_t st;
    if (g == NULL || bytes == NULL) {
        return EL_ERR_NULL;
    }
    st = el_pl_plan(g, &L);
    if (st == EL_OK) {
        *bytes = L.total;
    }
    return st;
}

size_t el_plastic_scratch_bytes(const el_rule_t *rule, const el_plastic_geom_t *g)
{
    const size_t ns = el_up(g->n_src, 16u);
    const size_t nd = el_up(g->n_dst, 16u);
    const size_t n_vec = (size_t)rule->n_terms[0] + rule->n_terms[1] + el_n_syn(rule);
    return (n_vec * (ns + nd) + 3u * nd) * sizeof(int32_t);
}

static void el_pl_zero(el_plastic_t *p)
{
    el_memset(p->e, 0u, p->n_slots);
    el_memset(p->x, 0u, 2u * (size_t)p->n_src);
    el_memset(p->y, 0u, 3u * (size_t)p->n_dst);
    el_memset(p->x0, 0u, p->n_src);
    el_memset(p->y0, 0u, p->n_dst);
}

el_status_t el_plastic_init(const el_plastic_geom_t *g, const el_rule_t *rule, const int8_t *w,
                            int8_t *w_eff, void *mem, size_t bytes, el_plastic_t **out)
{
    el_pl_layout_t L;
    el_status_t st;
    el_plastic_t *p;
    uint8_t *base = (uint8_t *)mem;
    if (out != NULL) {
        *out = NULL;
    }
    if (g == NULL || rule == NULL || mem == NULL || out == NULL) {
        return EL_ERR_NULL;
    }
    if (((uintptr_t)mem & 7u) != 0u) {
        return EL_ERR_ALIGN;
    }
    st = el_pl_plan(g, &L);
    if (st != EL_OK) {
        return st;
    }
    if (bytes < L.total) {
        return EL_ERR_SIZE;
    }
    p = (el_plastic_t *)mem;
    el_memset(p, 0u, sizeof *p);
    p->rule = *rule;
    p->n_src = g->n_src;
    p->n_dst = g->n_dst;
    p->stride = g->stride;
    p->n_slots = g->stride != 0u ? g->n_src * g->stride : g->nnz;
    p->stream = 8u * g->conn;
    p->mixed = g->mixed != 0u ? 1u : 0u;
    p->colptr = g->stride != 0u ? NULL : g->colptr;
    p->rowidx = g->stride != 0u ? NULL : g->rowidx;
    if (g->stride == 0u && (g->colptr == NULL || (g->nnz != 0u && g->rowidx == NULL))) {
        return EL_ERR_NULL;
    }
    p->w = (int8_t *)(void *)(base + L.w);
    p->w_eff = w_eff;
    p->e = (int8_t *)(void *)(base + L.e);
    p->x = base + L.x;
    p->y = base + L.y;
    p->x0 = base + L.x0;
    p->y0 = base + L.y0;
    if (p->n_slots != 0u) {
        if (w_eff == NULL) {
            return EL_ERR_NULL;
        }
        if (w != NULL) {
            el_memcpy(p->w, w, p->n_slots);
        } else {
            el_memset(p->w, 0u, p->n_slots);
        }
    }
    el_pl_zero(p);
    el_plastic_sync(p);
    *out = p;
    return EL_OK;
}

void el_plastic_sync(el_plastic_t *p)
{
    uint32_t s;
    p->in_range = 1u;
    for (s = 0; s < p->n_slots; ++s) {
        if (p->w[s] < p->rule.w_min || p->w[s] > p->rule.w_max) {
            p->in_range = 0u;
        }
        p->w_eff[s] = p->mixed ? (int8_t)el_mixed_trunc(p->w[s]) : p->w[s];
    }
}

void el_plastic_reset(el_plastic_t *p)
{
    el_pl_zero(p);
}

el_status_t el_plastic_set_rule(el_plastic_t *p, const el_rule_t *rule)
{
    if (p == NULL || rule == NULL) {
        return EL_ERR_NULL;
    }
    if (!el_rule_same_structure(&p->rule, rule)) {
        return EL_ERR_RULE_STRUCTURE;
    }
    p->rule = *rule;
    return EL_OK;
}

el_status_t el_plastic_read(const el_plastic_t *p, int8_t *w, int8_t *e, size_t len)
{
    /* in 64 bits: n_src * n_dst reaches 2^36 and would wrap a 32-bit size_t (Cortex-M) */
    const uint64_t n64 = (uint64_t)p->n_src * p->n_dst;
    size_t n;
    uint32_t i;
    uint32_t j;
    uint32_t k;
    if (n64 > (uint64_t)len) {
        return EL_ERR_SIZE;
    }
    n = (size_t)n64; /* <= len: fits size_t, and so does every index below */
    if (w != NULL) {
        el_memset(w, 0u, n);
    }
    if (e != NULL) {
        el_memset(e, 0u, n);
    }
    for (j = 0; j < p->n_src; ++j) {
        if (p->colptr == NULL) {
            for (i = 0; i < p->n_dst; ++i) {
                const size_t s = (size_t)j * p->stride + i;
                if (w != NULL) {
                    w[(size_t)i * p->n_src + j] = p->w[s];
                }
                if (e != NULL) {
                    e[(size_t)i * p->n_src + j] = p->e[s];
                }
            }
        } else {
            for (k = p->colptr[j]; k < p->colptr[j + 1u]; ++k) {
                if (w != NULL) {
                    w[(size_t)p->rowidx[k] * p->n_src + j] = p->w[k];
                }
                if (e != NULL) {
                    e[(size_t)p->rowidx[k] * p->n_src + j] = p->e[k];
                }
            }
        }
    }
    return EL_OK;
}

/* ---- traces (spec 5.2) --------------------------------------------------------------------- */

/* One trace kind over n values: decay every value, then the impulse where spiked. */
static void el_trace_kind(uint8_t *x, uint32_t n, int32_t d, int32_t imp, const uint32_t *spk,
                          uint32_t n_spk, uint32_t seed, uint32_t t, uint32_t stream)
{
    uint32_t q;
    if (d == 0 && imp == 0) {
        return; /* (x * 4096 + r) >> 12 == x and (0 + r) >> 4 == 0: nothing moves */
    }
    if (d != 0) {
        for (q = 0; q < n; ++q) {
            x[q] = (uint8_t)el_trace_decay(x[q], d, el_rand(seed, t, stream, q));
        }
    }
    if (imp != 0) {
        for (q = 0; q < n_spk; ++q) {
            const uint32_t j = spk[q];
            const int32_t add = el_trace_impulse(imp, el_rand(seed, t, stream, j));
            x[j] = (uint8_t)el_clamp32((int32_t)x[j] + add, 0, EL_TRACE_MAX);
        }
    }
}

/* ---- the learning epoch (spec 5.4) ----------------------------------------------------------- */

/* A factor evaluated per synapse: P[j] + Q[i] + kw * w + ke * e. */
typedef struct el_synf {
    const int32_t *P;
    const int32_t *Q;
    int32_t kw;
    int32_t ke;
} el_synf_t;

/* The per-epoch plan of one term. */
typedef struct el_tplan {
    const int32_t *A;   /* per source: product of the source-only factors (0 where a
                           source-only gate is closed) */
    const int32_t *B;   /* per destination: mant * destination-only factors (0 where closed) */
    el_synf_t f[EL_RULE_MAX_FACTORS];
    el_synf_t g;        /* the gate when it is evaluated per synapse */
    int32_t th;
    int shift;          /* exp + 15 */
    uint8_t n_f;
    uint8_t syn_gate;
    uint8_t skip;       /* the term is identically 0 (mant 0, a factor or gate always 0) */
} el_tplan_t;

/* Value at source j of the pre items of f (x0, x1, x2). */
static int32_t el_pre_sum(const el_plastic_t *p, const el_rule_factor_t *f, uint32_t j)
{
    int32_t v = 0;
    uint32_t q;
    for (q = 0; q < f->n_items; ++q) {
        const uint8_t var = f->var[q];
        int32_t x;
        if (var > EL_VAR_X2) {
            continue;
        }
        x = var == EL_VAR_X0 ? p->x0[j] : p->x[(size_t)(var - EL_VAR_X1) * p->n_src + j];
        v += f->k[q] * x;
    }
    return v;
}

/* Value at neuron i of the constant and the post items of f (y0..y3, r). */
static int32_t el_post_sum(const el_plastic_t *p, const el_rule_factor_t *f, uint32_t i,
                           const int8_t *r_dst)
{
    int32_t v = f->cnst;
    uint32_t q;
    for (q = 0; q < f->n_items; ++q) {
        const uint8_t var = f->var[q];
        int32_t y;
        if (var < EL_VAR_Y0 || var > EL_VAR_R) {
            continue;
        }
        y = var == EL_VAR_Y0 ? p->y0[i] :
            (var == EL_VAR_R ? r_dst[i] : p->y[(size_t)(var - EL_VAR_Y1) * p->n_dst + i]);
        v += f->k[q] * y;
    }
    return v;
}

static void el_syn_coefs(const el_rule_factor_t *f, el_synf_t *s)
{
    uint32_t q;
    s->kw = 0;
    s->ke = 0;
    for (q = 0; q < f->n_items; ++q) {
        if (f->var[q] == EL_VAR_W) {
            s->kw += f->k[q];
        } else if (f->var[q] == EL_VAR_E) {
            s->ke += f->k[q];
        }
    }
}

static int32_t el_abs32(int32_t x)
{
    return x < 0 ? -x : x;
}

/* Build the plans of every term: the per-source / per-destination vectors in scratch. */
static void el_plan_terms(const el_plastic_t *p, const int8_t *r_dst, int32_t *scratch,
                          el_tplan_t *plan)
{
    const el_rule_t *R = &p->rule;
    const uint32_t ns = (uint32_t)el_up(p->n_src, 16u);
    const uint32_t nd = (uint32_t)el_up(p->n_dst, 16u);
    const uint32_t n_terms = (uint32_t)R->n_terms[0] + R->n_terms[1];
    int32_t *cur = scratch;
    uint32_t k;
    for (k = 0; k < n_terms; ++k) {
        const el_rule_term_t *t = &R->term[k];
        el_tplan_t *pl = &plan[k];
        int32_t *A = cur;
        int32_t *B = cur + ns;
        uint32_t f;
        uint32_t j;
        uint32_t i;
        cur += ns + nd;
        pl->A = A;
        pl->B = B;
        pl->n_f = 0;
        pl->syn_gate = 0;
        pl->th = t->gate_th;
        pl->shift = t->exp + EL_LEARN_FRAC_BITS;
        pl->skip = t->mant == 0 ? 1u : 0u;
        for (f = 0; f < t->n_factors; ++f) {
            if (t->f[f].cnst == 0 && el_factor_uses(&t->f[f]) == 0u) {
                pl->skip = 1u; /* a factor that is always 0 */
            }
        }
        if (t->gated && t->gate.cnst == 0 && el_factor_uses(&t->gate) == 0u) {
            pl->skip = 1u; /* |0| > th never holds */
        }
        for (j = 0; j < p->n_src; ++j) {
            A[j] = 1;
        }
        for (i = 0; i < p->n_dst; ++i) {
            B[i] = t->mant;
        }
        /* Factors the compiler bounds keep every partial product below 2^24 (no term that can
         * reach 2^24 is loaded, and skipped terms are never multiplied out). */
        for (f = 0; f < t->n_factors && !pl->skip; ++f) {
            const el_rule_factor_t *fa = &t->f[f];
            if (el_factor_is_syn(fa)) {
                el_synf_t *s = &pl->f[pl->n_f++];
                int32_t *P = cur;
                int32_t *Q = cur + ns;
                cur += ns + nd;
                for (j = 0; j < p->n_src; ++j) {
                    P[j] = el_pre_sum(p, fa, j);
                }
                for (i = 0; i < p->n_dst; ++i) {
                    Q[i] = el_post_sum(p, fa, i, r_dst);
                }
                s->P = P;
                s->Q = Q;
                el_syn_coefs(fa, s);
            } else if (el_factor_is_pre(fa)) {
                for (j = 0; j < p->n_src; ++j) {
                    A[j] *= fa->cnst + el_pre_sum(p, fa, j);
                }
            } else {
                for (i = 0; i < p->n_dst; ++i) {
                    B[i] *= el_post_sum(p, fa, i, r_dst);
                }
            }
        }
        if (pl->skip) {
            continue;
        }
        if (t->gated) {
            const el_rule_factor_t *ga = &t->gate;
            const int32_t th = t->gate_th;
            if (el_factor_is_syn(ga)) {
                int32_t *P = cur;
                int32_t *Q = cur + ns;
                cur += ns + nd;
                for (j = 0; j < p->n_src; ++j) {
                    P[j] = el_pre_sum(p, ga, j);
                }
                for (i = 0; i < p->n_dst; ++i) {
                    Q[i] = el_post_sum(p, ga, i, r_dst);
                }
                pl->g.P = P;
                pl->g.Q = Q;
                el_syn_coefs(ga, &pl->g);
                pl->syn_gate = 1u;
            } else if (el_factor_is_pre(ga)) {
                for (j = 0; j < p->n_src; ++j) {
                    if (el_abs32(ga->cnst + el_pre_sum(p, ga, j)) <= th) {
                        A[j] = 0;
                    }
                }
            } else {
                for (i = 0; i < p->n_dst; ++i) {
                    if (el_abs32(el_post_sum(p, ga, i, r_dst)) <= th) {
                        B[i] = 0;
                    }
                }
            }
        }
    }
}

/* acc[s] = acc_add(acc[s], term(a * B[i], k)) over a dense column. */
EL_VECTOR_CLONES
static void el_k_simple(int32_t *EL_RESTRICT acc, const int32_t *EL_RESTRICT B, int32_t a,
                        int k, uint32_t n)
{
    uint32_t s;
    if (k >= 0) {
        for (s = 0; s < n; ++s) {
            acc[s] = el_learn_acc_add(acc[s], el_learn_term(a * B[s], k));
        }
    } else {
        for (s = 0; s < n; ++s) {
            acc[s] = el_learn_acc_add(acc[s], el_learn_term(a * B[s], k));
        }
    }
}

/* The general term over one column: gathers through idx when sparse (idx != NULL). */
EL_VECTOR_CLONES
static void el_k_general(int32_t *EL_RESTRICT acc, int32_t *EL_RESTRICT prod,
                         const el_tplan_t *pl, uint32_t j, const int8_t *w, const int8_t *e,
                         const uint32_t *idx, uint32_t n)
{
    const int32_t a = pl->A[j];
    uint32_t s;
    uint32_t f;
    if (idx == NULL) {
        for (s = 0; s < n; ++s) {
            prod[s] = a * pl->B[s];
        }
    } else {
        for (s = 0; s < n; ++s) {
            prod[s] = a * pl->B[idx[s]];
        }
    }
    for (f = 0; f < pl->n_f; ++f) {
        const el_synf_t *sf = &pl->f[f];
        const int32_t pj = sf->P[j];
        if (idx == NULL) {
            for (s = 0; s < n; ++s) {
                prod[s] *= pj + sf->Q[s] + sf->kw * w[s] + sf->ke * e[s];
            }
        } else {
            for (s = 0; s < n; ++s) {
                prod[s] *= pj + sf->Q[idx[s]] + sf->kw * w[s] + sf->ke * e[s];
            }
        }
    }
    if (pl->syn_gate) {
        const el_synf_t *g = &pl->g;
        const int32_t pj = g->P[j];
        for (s = 0; s < n; ++s) {
            const int32_t q = idx == NULL ? g->Q[s] : g->Q[idx[s]];
            const int32_t gv = pj + q + g->kw * w[s] + g->ke * e[s];
            prod[s] = el_abs32(gv) > pl->th ? prod[s] : 0;
        }
    }
    if (pl->shift >= 0) {
        for (s = 0; s < n; ++s) {
            acc[s] = el_learn_acc_add(acc[s], el_learn_term(prod[s], pl->shift));
        }
    } else {
        for (s = 0; s < n; ++s) {
            acc[s] = el_learn_acc_add(acc[s], el_learn_term(prod[s], pl->shift));
        }
    }
}

/* Round acc[0..n) in place to the integer update (stochastic: PRNG per synapse). The PRNG
 * (eight 32-bit multiplies per word) dominates an epoch with stochastic rounding, so where the
 * build uses target clones this kernel also gets an AVX-512 version. */
#if defined(EL_TARGET_CLONES) && !defined(EL_FREESTANDING) && defined(__x86_64__) && \
    defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void el_k_round(int32_t *EL_RESTRICT acc, uint32_t n, int mode, uint32_t seed, uint32_t t,
                       uint32_t stream, uint32_t n_src, uint32_t j, const uint32_t *idx)
{
    uint32_t s;
    if (mode == EL_ROUND_STOCHASTIC) {
        if (idx == NULL) {
            /* Blocks of 16: where every accumulator of a block is a multiple of 2^15 (typically
             * 0: a closed gate, a silent neuron), (acc + r) >> 15 == acc >> 15 for every
             * r < 2^15, so the PRNG words are not needed there. */
            uint32_t s0 = 0;
            for (; s0 + 16u <= n; s0 += 16u) {
                int32_t *EL_RESTRICT a = acc + s0;
                uint32_t frac = 0;
                for (s = 0; s < 16u; ++s) {
                    frac |= (uint32_t)a[s] & 0x7FFFu;
                }
                if (frac == 0u) {
                    for (s = 0; s < 16u; ++s) {
                        a[s] = el_learn_round_fixed(a[s], 0);
                    }
                } else {
                    for (s = 0; s < 16u; ++s) {
                        a[s] = el_learn_round_stochastic(
                            a[s], el_rand(seed, t, stream, (s0 + s) * n_src + j));
                    }
                }
            }
            for (s = s0; s < n; ++s) {
                acc[s] = el_learn_round_stochastic(acc[s], el_rand(seed, t, stream, s * n_src + j));
            }
        } else {
            for (s = 0; s < n; ++s) {
                acc[s] = el_learn_round_stochastic(acc[s],
                                                   el_rand(seed, t, stream, idx[s] * n_src + j));
            }
        }
    } else {
        const int nearest = mode == EL_ROUND_NEAREST;
        for (s = 0; s < n; ++s) {
            acc[s] = el_learn_round_fixed(acc[s], nearest);
        }
    }
}

/* w, w_eff (and e) of one column after the updates dw (and de). */
EL_VECTOR_CLONES
static void el_k_apply(int8_t *EL_RESTRICT w, int8_t *EL_RESTRICT w_eff, int8_t *EL_RESTRICT e,
                       const int32_t *EL_RESTRICT dw, const int32_t *EL_RESTRICT de, uint32_t n,
                       int32_t lo, int32_t hi, int mixed)
{
    uint32_t s;
    if (dw != NULL) {
        if (mixed) {
            for (s = 0; s < n; ++s) {
                const int32_t v = el_clamp32(w[s] + dw[s], lo, hi);
                w[s] = (int8_t)v;
                w_eff[s] = (int8_t)el_mixed_trunc(v);
            }
        } else {
            for (s = 0; s < n; ++s) {
                const int32_t v = el_clamp32(w[s] + dw[s], lo, hi);
                w[s] = (int8_t)v;
                w_eff[s] = (int8_t)v;
            }
        }
    } else {
        for (s = 0; s < n; ++s) {
            const int32_t v = el_clamp32(w[s], lo, hi);
            w[s] = (int8_t)v;
            w_eff[s] = (int8_t)(mixed ? el_mixed_trunc(v) : v);
        }
    }
    if (de != NULL) {
        for (s = 0; s < n; ++s) {
            e[s] = (int8_t)el_clamp32(e[s] + de[s], EL_TAG_MIN, EL_TAG_MAX);
        }
    }
}

static void el_epoch(el_plastic_t *p, const int8_t *r_dst, uint32_t seed, uint32_t t,
                     int32_t *scratch)
{
    el_tplan_t plan[2 * EL_RULE_MAX_TERMS];
    const el_rule_t *R = &p->rule;
    const uint32_t nd = (uint32_t)el_up(p->n_dst, 16u);
    const uint32_t n_terms = (uint32_t)R->n_terms[0] + R->n_terms[1];
    const size_t n_vec = (size_t)n_terms + el_n_syn(R);
    int32_t *acc[2];
    int32_t *prod;
    uint32_t j;
    el_plan_terms(p, r_dst, scratch, plan);
    acc[0] = scratch + n_vec * (el_up(p->n_src, 16u) + nd);
    acc[1] = acc[0] + nd;
    prod = acc[1] + nd;
    for (j = 0; j < p->n_src; ++j) {
        const bool dense = p->colptr == NULL;
        const uint32_t base = dense ? j * p->stride : p->colptr[j];
        const uint32_t n = dense ? p->n_dst : p->colptr[j + 1u] - p->colptr[j];
        const uint32_t *idx = dense ? NULL : p->rowidx + base;
        int8_t *w = p->w + base;
        int8_t *e = p->e + base;
        bool active[2] = {false, false};
        uint32_t tg;
        uint32_t first = 0;
        if (n == 0u) {
            continue;
        }
        for (tg = 0; tg < 1u + R->has_tag; ++tg) {
            uint32_t k;
            for (k = first; k < first + R->n_terms[tg]; ++k) {
                const el_tplan_t *pl = &plan[k];
                const int32_t a = pl->skip ? 0 : pl->A[j];
                if (a == 0) {
                    continue; /* P = 0 for every synapse of this source: T = 0 */
                }
                if (!active[tg]) {
                    el_memset(acc[tg], 0u, (size_t)n * sizeof(int32_t));
                    active[tg] = true;
                }
                if (dense && pl->n_f == 0u && !pl->syn_gate) {
                    el_k_simple(acc[tg], pl->B, a, pl->shift, n);
                } else {
                    el_k_general(acc[tg], prod, pl, j, w, e, idx, n);
                }
            }
            if (active[tg]) {
                el_k_round(acc[tg], n, R->rounding, seed, t, p->stream + EL_KIND_DW + tg,
                           p->n_src, j, idx);
            }
            first += R->n_terms[tg];
        }
        /* An inactive target's accumulator is 0 at every synapse, and every rounding of 0 is 0
         * (stochastic: (0 + r) >> 15 with r < 2^15). Only the clamp of w to [w_min, w_max]
         * could still change something, until every weight is inside. */
        if (active[0] || active[1] || !p->in_range) {
            el_k_apply(w, p->w_eff + base, e, active[0] ? acc[0] : NULL,
                       active[1] ? acc[1] : NULL, n, R->w_min, R->w_max, (int)p->mixed);
        }
    }
    p->in_range = 1u;
}

void el_plastic_step(el_plastic_t *p, const uint32_t *src_spk, uint32_t n_src_spk,
                     const uint32_t *dst_spk, uint32_t n_dst_spk, const int8_t *r_dst,
                     uint32_t seed, uint32_t t, int learn, int32_t *scratch)
{
    const el_rule_t *R = &p->rule;
    uint32_t q;
    for (q = 0; q < 2u; ++q) {
        el_trace_kind(p->x + (size_t)q * p->n_src, p->n_src, R->decay[q], R->impulse[q], src_spk,
                      n_src_spk, seed, t, p->stream + EL_KIND_X1 + q);
    }
    for (q = 0; q < 3u; ++q) {
        el_trace_kind(p->y + (size_t)q * p->n_dst, p->n_dst, R->decay[2u + q],
                      R->impulse[2u + q], dst_spk, n_dst_spk, seed, t,
                      p->stream + EL_KIND_Y1 + q);
    }
    for (q = 0; q < n_src_spk; ++q) {
        p->x0[src_spk[q]] = 1u;
    }
    for (q = 0; q < n_dst_spk; ++q) {
        p->y0[dst_spk[q]] = 1u;
    }
    if (t % R->t_epoch != 0u) {
        return;
    }
    if (learn) {
        el_epoch(p, r_dst, seed, t, scratch);
    }
    el_memset(p->x0, 0u, p->n_src);
    el_memset(p->y0, 0u, p->n_dst);
}
