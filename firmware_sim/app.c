/* The firmware application (app.h): a dispatcher of docs/protocol.md over the C runtime. */
#include "app.h"

#include "el_port.h"
#include "flash_slots.h"

/* READ sends u32 counters as they lie in memory: the wire is little-endian, like both targets. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the firmware assumes a little-endian target"
#endif

#define EL_APP_CAPS                                                                          \
    (EL_CAP_LOAD | EL_CAP_LEARN | EL_CAP_READ_WEIGHTS | EL_CAP_RULE | EL_CAP_LABEL |        \
     EL_CAP_REWARD | EL_CAP_COMPUTED_THIRD)

/* A handler's outcome: OK with `len` payload bytes in app->payload, or an error + detail. */
typedef struct outcome {
    int status;
    uint32_t detail;
    size_t len;
} outcome_t;

static outcome_t ok(size_t len)
{
    outcome_t o;
    o.status = 0;
    o.detail = 0;
    o.len = len;
    return o;
}

static outcome_t fail(int status, uint32_t detail)
{
    outcome_t o;
    o.status = status;
    o.detail = detail;
    o.len = 0;
    return o;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1u) / a * a;
}

/* ---- model ----------------------------------------------------------------------------- */

static uint32_t pop_offset(const el_app_t *app, uint32_t pop)
{
    uint32_t k, off = 0;
    for (k = 0; k < pop && k < app->art.desc.n_pops; ++k) {
        off += app->art.pops[k].size;
    }
    return off;
}

static uint32_t conn_n_src(const el_artifact_t *a, uint32_t k)
{
    const el_conn_desc_t *c = &a->conns[k];
    return c->src == EL_SRC_INPUT ? a->desc.n_inputs : a->pops[c->src].size;
}

static uint32_t conn_n_dst(const el_artifact_t *a, uint32_t k)
{
    return a->pops[a->conns[k].dst].size;
}

static void clear_state(el_app_t *app)
{
    app->q_head = 0;
    app->q_count = 0;
    app->q_last_t = 0;
    if (app->core != NULL) {
        (void)el_core_reset(app->core);
        el_memset(app->counts, 0, (size_t)app->n_neurons * sizeof(uint32_t));
        el_memset(app->third, 0, app->n_neurons);
    }
}

/* Make the image in buffer `idx` (len bytes at offset 0) the running model: move it so its
 * payload is 4-aligned, parse, size and build the core. On error nothing changes unless the
 * core's init fails after the checks passed (then no model is loaded). Returns 0 or the status
 * of the ERROR frame, with its detail in *detail: the artifact reader's status (96 .. 127); a
 * network the core refuses (el_core_bytes: a field out of range, CSR, rule microcode) is
 * EL_ART_E_NETWORK with the core's el_status_t as detail; E_TOO_BIG (detail 0) when the core
 * and the per-neuron arrays do not fit the arena. */
static int install(el_app_t *app, int idx, uint32_t len, uint32_t *detail)
{
    uint8_t *buf = app->mem.image[idx];
    uint32_t off = 0, shift, i, n_neurons;
    size_t core_bytes = 0, counts_at, in_at, third_at, scratch_at;
    uint64_t need, max_mat = 0; /* 64-bit: a sparse n_src x n_dst can pass 2^32 on a 32-bit MCU */
    el_status_t cs;
    el_core_t *core = NULL;
    int st;
    *detail = 0;
    if ((size_t)len + 8u > app->mem.image_bytes) {
        return EL_PROTO_E_TOO_BIG;
    }
    st = el_artifact_payload_offset(buf, len, &off);
    if (st != EL_ART_OK) {
        return st;
    }
    shift = (4u - (off & 3u)) & 3u;
    for (i = len; i > 0; --i) { /* move up by shift (overlapping) */
        buf[i - 1u + shift] = buf[i - 1u];
    }
    buf += shift;
    /* app->art is overwritten by the parse; on any error below it is parsed back from the
     * running image (unchanged, and resealed after every in-place edit) */
    st = el_artifact_parse(buf, len, &app->art);
    if (st != EL_ART_OK) {
        /* the running model's description was overwritten: re-parse it (it is unchanged) */
        if (app->core != NULL) {
            (void)el_artifact_parse(app->img, app->img_len, &app->art);
        }
        return st;
    }
    cs = el_core_bytes(&app->art.desc, &core_bytes);
    n_neurons = 0;
    for (i = 0; i < app->art.desc.n_pops; ++i) {
        n_neurons += app->art.pops[i].size;
    }
    for (i = 0; i < app->art.desc.n_conns; ++i) {
        uint64_t m = (uint64_t)conn_n_src(&app->art, i) * conn_n_dst(&app->art, i) +
                     app->art.nnz[i] + app->art.rule_len[i];
        if (m > max_mat) {
            max_mat = m;
        }
    }
    counts_at = align_up(core_bytes, 8);
    in_at = counts_at + (size_t)n_neurons * 4u;
    third_at = in_at + app->art.desc.n_inputs;
    scratch_at = align_up(third_at + n_neurons, 8);
    need = (uint64_t)scratch_at + max_mat;
    if (cs != EL_OK || need > app->mem.arena_bytes) {
        if (app->core != NULL) {
            (void)el_artifact_parse(app->img, app->img_len, &app->art);
        }
        if (cs != EL_OK) {
            *detail = (uint32_t)cs;
            return EL_ART_E_NETWORK;
        }
        return EL_PROTO_E_TOO_BIG;
    }
    app->core = NULL;
    cs = el_core_init(&app->art.desc, app->mem.arena, core_bytes, &core);
    if (cs != EL_OK) {
        *detail = (uint32_t)cs;
        return EL_ART_E_NETWORK;
    }
    app->core = core;
    app->active = idx;
    app->img = buf;
    app->img_len = len;
    app->n_neurons = n_neurons;
    app->n_inputs = app->art.desc.n_inputs;
    app->counts = (uint32_t *)(void *)(app->mem.arena + counts_at);
    app->in_spikes = app->mem.arena + in_at;
    app->third = (int8_t *)(void *)(app->mem.arena + third_at);
    app->scratch = app->mem.arena + scratch_at;
    app->scratch_bytes = app->mem.arena_bytes - scratch_at;
    app->out_pop = app->art.has_readout ? app->art.readout.population : app->art.desc.n_pops - 1u;
    app->learning = 0;
    (void)el_core_set_learning(core, 0);
    el_memset(app->in_spikes, 0, app->n_inputs);
    clear_state(app);
    return 0;
}

/* Connection k's weight mantissas in the artifact's order (dense row-major, or CSR order) into
 * app->scratch; plastic ones as learned (full mantissas). Returns the count or -1. */
static long conn_weights(el_app_t *app, uint32_t k)
{
    const el_artifact_t *a = &app->art;
    uint32_t n_src = conn_n_src(a, k), n_dst = conn_n_dst(a, k), nnz = a->nnz[k];
    uint8_t *out = app->scratch;
    if (!(a->conns[k].flags & EL_CONN_PLASTIC)) {
        el_memcpy(out, app->img + a->weights_offset[k], nnz);
        return (long)nnz;
    }
    /* the core checks n_dst * n_src against the room given (install sized the scratch for it) */
    if (a->conns[k].kind == EL_CONN_DENSE) {
        if (el_core_read_plastic(app->core, k, (int8_t *)(void *)out, NULL, app->scratch_bytes) !=
            EL_OK) {
            return -1;
        }
        return (long)nnz;
    } else {
        int8_t *dense = (int8_t *)(void *)(out + nnz);
        uint32_t i, q;
        if (nnz > app->scratch_bytes ||
            el_core_read_plastic(app->core, k, dense, NULL, app->scratch_bytes - nnz) != EL_OK) {
            return -1;
        }
        for (i = 0; i < n_dst; ++i) {
            for (q = a->conns[k].indptr[i]; q < a->conns[k].indptr[i + 1u]; ++q) {
                out[q] = (uint8_t)dense[(size_t)i * n_src + a->conns[k].indices[q]];
            }
        }
        return (long)nnz;
    }
}

/* ---- rule hyperparameters (RULE) ------------------------------------------------------------ */
/* Numbering (docs/protocol.md, RULE): the plastic connections in order; for each, its rule's
 * hyperparameters as edgelearn.rule.Hyper lists them: coef (one per term, dw then de), decay
 * (x1 x2 y1 y2 y3), impulse (same order), gate (one per gated term). */

#define HYP_COEF 0
#define HYP_DECAY 1
#define HYP_IMPULSE 2
#define HYP_GATE 3
#define MAX_TERMS (2 * EL_RULE_MAX_TERMS)

typedef struct hyper_map {
    uint32_t term_at[MAX_TERMS]; /* byte offset of each term header in the microcode */
    uint8_t gated[MAX_TERMS];
    uint32_t n_terms, n_gates;
} hyper_map_t;

/* Walk validated microcode; 0 on success, -1 if it does not look like rule microcode. */
static int hyper_scan(const uint8_t *code, uint32_t len, hyper_map_t *m)
{
    uint32_t pos = EL_RULE_HEADER_BYTES, t, n_targets, tt;
    m->n_terms = 0;
    m->n_gates = 0;
    if (len < EL_RULE_HEADER_BYTES) {
        return -1;
    }
    n_targets = code[EL_RULE_HEADER_BYTES - 1u];
    for (tt = 0; tt < n_targets; ++tt) {
        uint32_t n_terms;
        if (pos + 2u > len) {
            return -1;
        }
        n_terms = code[pos + 1u];
        pos += 2u;
        for (t = 0; t < n_terms; ++t) {
            uint32_t n_factors, f;
            uint8_t gated;
            if (pos + 6u > len || m->n_terms >= MAX_TERMS) {
                return -1;
            }
            n_factors = code[pos + 2u];
            gated = code[pos + 3u];
            m->term_at[m->n_terms] = pos;
            m->gated[m->n_terms] = gated;
            m->n_terms++;
            m->n_gates += gated ? 1u : 0u;
            pos += 6u;
            for (f = 0; f < n_factors + (gated ? 1u : 0u); ++f) {
                if (pos + 1u > len) {
                    return -1;
                }
                pos += 1u + 3u * code[pos];
            }
        }
    }
    return pos <= len ? 0 : -1;
}

static uint32_t hyper_count(const hyper_map_t *m)
{
    return m->n_terms + 10u + m->n_gates;
}

/* Where hyperparameter `idx` of a rule lives: byte offset, kind. -1 if idx is too large. */
static int hyper_locate(const hyper_map_t *m, uint32_t idx, uint32_t *pos, int *kind)
{
    uint32_t t, g = 0;
    if (idx < m->n_terms) {
        *pos = m->term_at[idx];
        *kind = HYP_COEF;
        return 0;
    }
    idx -= m->n_terms;
    if (idx < 5u) {
        *pos = 12u + 4u * idx;
        *kind = HYP_DECAY;
        return 0;
    }
    if (idx < 10u) {
        *pos = 12u + 4u * (idx - 5u) + 2u;
        *kind = HYP_IMPULSE;
        return 0;
    }
    idx -= 10u;
    for (t = 0; t < m->n_terms; ++t) {
        if (m->gated[t]) {
            if (g == idx) {
                *pos = m->term_at[t] + 4u;
                *kind = HYP_GATE;
                return 0;
            }
            g++;
        }
    }
    return -1;
}

static int hyper_in_range(int kind, int32_t v)
{
    switch (kind) {
    case HYP_COEF: return v >= EL_COEF_MANT_MIN && v <= EL_COEF_MANT_MAX;
    case HYP_DECAY: return v >= 0 && v <= EL_DECAY_MAX;
    case HYP_IMPULSE: return v >= 0 && v <= EL_IMPULSE_MAX;
    default: return v >= 0 && v <= 32767;
    }
}

static void hyper_write(uint8_t *code, uint32_t pos, int kind, int32_t v)
{
    if (kind == HYP_COEF) {
        code[pos] = (uint8_t)(int8_t)v;
    } else {
        wr16(code + pos, (uint16_t)v);
    }
}

/* Resolve a global id to (connection, byte offset, kind). */
static int hyper_resolve(const el_app_t *app, uint32_t id, uint32_t *conn, uint32_t *pos,
                         int *kind)
{
    uint32_t k;
    for (k = 0; k < app->art.desc.n_conns; ++k) {
        hyper_map_t m;
        uint32_t n;
        if (app->art.rule_code[k] == NULL ||
            hyper_scan(app->art.rule_code[k], app->art.rule_len[k], &m) != 0) {
            continue;
        }
        n = hyper_count(&m);
        if (id < n) {
            *conn = k;
            return hyper_locate(&m, id, pos, kind);
        }
        id -= n;
    }
    return -1;
}

static outcome_t do_rule(el_app_t *app, const el_msg_rule_t *m)
{
    uint32_t i, k, applied_upto = 0;
    int kind;
    uint32_t conn, pos;
    if (app->core == NULL) {
        return fail(EL_PROTO_E_NO_MODEL, 0);
    }
    for (i = 0; i < m->count; ++i) {
        el_rule_param_t p = el_msg_rule_at(m, i);
        if (hyper_resolve(app, p.id, &conn, &pos, &kind) != 0 || !hyper_in_range(kind, p.value)) {
            return fail(EL_PROTO_ERR_RANGE, i);
        }
    }
    /* per plastic connection with entries: patch a copy, hand it to the core */
    for (k = 0; k < app->art.desc.n_conns; ++k) {
        uint32_t len = app->art.rule_len[k];
        uint32_t first = m->count; /* this connection's first entry; m->count: none */
        el_status_t st;
        if (app->art.rule_code[k] == NULL) {
            continue;
        }
        if (len > app->scratch_bytes) {
            return fail(EL_PROTO_E_TOO_BIG, k);
        }
        el_memcpy(app->scratch, app->art.rule_code[k], len);
        for (i = 0; i < m->count; ++i) {
            el_rule_param_t p = el_msg_rule_at(m, i);
            (void)hyper_resolve(app, p.id, &conn, &pos, &kind);
            if (conn == k) {
                hyper_write(app->scratch, pos, kind, p.value);
                if (first == m->count) {
                    first = i;
                }
            }
        }
        if (first == m->count) {
            continue;
        }
        st = el_core_set_rule(app->core, k, app->scratch, len);
        if (st != EL_OK) {
            /* values each in range whose combination the core refuses (a term's product can
             * reach 2^24: EL_ERR_RULE_WIDTH): ERR_RANGE naming the first entry of this
             * connection (docs/protocol.md, RULE) */
            uint32_t j;
            for (j = 0; j < applied_upto; ++j) { /* undo: the image still holds the old rules */
                if (app->art.rule_code[j] != NULL) {
                    (void)el_core_set_rule(app->core, j, app->art.rule_code[j],
                                           app->art.rule_len[j]);
                }
            }
            return fail(EL_PROTO_ERR_RANGE, first);
        }
        applied_upto = k + 1u;
    }
    /* all applied: the running image follows (so SAVE keeps them) */
    for (i = 0; i < m->count; ++i) {
        el_rule_param_t p = el_msg_rule_at(m, i);
        (void)hyper_resolve(app, p.id, &conn, &pos, &kind);
        hyper_write((uint8_t *)(uintptr_t)app->art.rule_code[conn], pos, kind, p.value);
    }
    (void)el_artifact_reseal(app->img, app->img_len);
    wr32(app->payload, m->count);
    return ok(EL_MSG_RULE_RESP_BYTES);
}

/* ---- handlers --------------------------------------------------------------------------- */

static uint32_t credits(const el_app_t *app)
{
    return app->mem.queue_cap - app->q_count;
}

static outcome_t do_info(el_app_t *app)
{
    el_msg_info_t m;
    size_t len = 0;
    el_memset(&m, 0, sizeof m);
    m.proto_version = EL_PROTO_VERSION;
    m.fw_major = EL_FW_VERSION_MAJOR;
    m.fw_minor = EL_FW_VERSION_MINOR;
    m.fw_patch = EL_FW_VERSION_PATCH;
    m.max_payload = EL_PROTO_MAX_PAYLOAD;
    m.rx_window = 1;
    m.caps = EL_APP_CAPS | (el_slots_capacity(app->hal) ? EL_CAP_FLASH : 0u);
    m.event_queue = app->mem.queue_cap;
    m.max_artifact_bytes = (uint32_t)(app->mem.image_bytes - 8u);
    m.max_neurons = (uint32_t)(app->mem.arena_bytes / 32u);
    m.max_synapses = (uint32_t)app->mem.arena_bytes;
    m.ram_bytes = (uint32_t)app->mem.arena_bytes;
    m.max_run_steps = app->mem.max_run_steps;
    m.flash_slots = el_slots_capacity(app->hal) ? 2u : 0u;
    m.model_loaded = app->core != NULL;
    m.learning = (uint8_t)(app->core != NULL && app->learning);
    m.step = app->core != NULL ? (uint32_t)el_core_time(app->core) : 0u;
    (void)el_msg_info_pack(&m, app->payload, sizeof app->payload, &len);
    return ok(len);
}

static outcome_t do_reset(el_app_t *app, const el_proto_frame_t *f)
{
    el_msg_reset_t m;
    int st = el_msg_reset_unpack(f->payload, f->len, &m);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    app->loading = 0;
    clear_state(app);
    if (m.mode == EL_RESET_MODEL) {
        app->core = NULL;
    }
    return ok(0);
}

static outcome_t do_load_begin(el_app_t *app, const el_proto_frame_t *f)
{
    el_msg_load_begin_t m;
    el_msg_load_begin_resp_t r;
    size_t len = 0;
    int st = el_msg_load_begin_unpack(f->payload, f->len, &m);
    uint32_t max = (uint32_t)(app->mem.image_bytes - 8u);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    if (m.total_size > max) {
        return fail(EL_PROTO_E_TOO_BIG, max);
    }
    app->loading = 1;
    app->load_total = m.total_size;
    app->load_crc = m.crc;
    app->load_got = 0;
    r.total_size = m.total_size;
    r.chunk_max = EL_MSG_LOAD_CHUNK_MAX_DATA;
    (void)el_msg_load_begin_resp_pack(&r, app->payload, sizeof app->payload, &len);
    return ok(len);
}

static int staging(const el_app_t *app)
{
    return app->core != NULL ? 1 - app->active : 0;
}

static outcome_t do_load_chunk(el_app_t *app, const el_proto_frame_t *f)
{
    el_msg_load_chunk_t m;
    size_t len = 0;
    int st = el_msg_load_chunk_unpack(f->payload, f->len, &m);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    if (!app->loading) {
        return fail(EL_PROTO_ERR_STATE, 0);
    }
    if (m.offset != app->load_got) {
        return fail(EL_PROTO_E_OFFSET, app->load_got);
    }
    if ((uint64_t)m.offset + m.n > app->load_total) {
        return fail(EL_PROTO_ERR_RANGE, 0);
    }
    el_memcpy(app->mem.image[staging(app)] + m.offset, m.data, m.n);
    app->load_got += m.n;
    (void)el_msg_u32_pack(app->load_got, app->payload, sizeof app->payload, &len);
    return ok(len);
}

static outcome_t do_load_commit(el_app_t *app)
{
    uint32_t crc, detail = 0;
    size_t len = 0;
    int st, idx = staging(app);
    if (!app->loading) {
        return fail(EL_PROTO_ERR_STATE, 0);
    }
    if (app->load_got < app->load_total) {
        return fail(EL_PROTO_E_INCOMPLETE, app->load_got);
    }
    app->loading = 0;
    crc = el_crc32(0, app->mem.image[idx], app->load_total);
    if (crc != app->load_crc) {
        return fail(EL_PROTO_E_ARTIFACT_CRC, crc);
    }
    st = install(app, idx, app->load_total, &detail);
    if (st != 0) {
        return fail(st, detail);
    }
    (void)el_msg_u32x2_pack(app->load_total, crc, app->payload, sizeof app->payload, &len);
    return ok(len);
}

static outcome_t do_events(el_app_t *app, const el_proto_frame_t *f)
{
    el_msg_events_t m;
    el_msg_events_resp_t r;
    size_t len = 0, i;
    uint64_t now;
    uint32_t prev;
    int st = el_msg_events_unpack(f->payload, f->len, &m);
    if (st != EL_PROTO_OK && st != EL_PROTO_ERR_RANGE) {
        return fail(st, 0);
    } /* ERR_RANGE: a timestamp decreases inside the batch; the loop below names the event
       * (ERR_RANGE's detail, docs/protocol.md section 3) */
    if (app->core == NULL) {
        return fail(EL_PROTO_E_NO_MODEL, 0);
    }
    now = el_core_time(app->core);
    prev = app->q_count > 0 ? app->q_last_t : 0u; /* no event may come before this one */
    for (i = 0; i < m.count; ++i) {
        el_event_t e = el_msg_events_at(&m, i);
        if ((uint64_t)e.t < now || e.t < prev || e.addr >= app->n_inputs) {
            return fail(EL_PROTO_ERR_RANGE, (uint32_t)i);
        }
        prev = e.t;
    }
    if (st != EL_PROTO_OK) { /* cannot happen: the loop found the decrease the codec saw */
        return fail(st, 0);
    }
    if (m.count > credits(app)) {
        return fail(EL_PROTO_E_BUSY, credits(app));
    }
    for (i = 0; i < m.count; ++i) {
        uint32_t at = (app->q_head + app->q_count) % app->mem.queue_cap;
        app->mem.queue[at] = el_msg_events_at(&m, i);
        app->q_last_t = app->mem.queue[at].t;
        app->q_count++;
    }
    r.accepted = m.count;
    r.credits = credits(app);
    r.queued = app->q_count;
    (void)el_msg_events_resp_pack(&r, app->payload, sizeof app->payload, &len);
    return ok(len);
}

static outcome_t do_run(el_app_t *app, const el_proto_frame_t *f)
{
    el_msg_run_t m;
    el_msg_run_resp_t r;
    size_t len = 0;
    uint32_t s, i, spikes = 0, consumed = 0, lo, hi;
    int st = el_msg_run_unpack(f->payload, f->len, &m);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    if (app->core == NULL) {
        return fail(EL_PROTO_E_NO_MODEL, 0);
    }
    if (m.steps > app->mem.max_run_steps) {
        return fail(EL_PROTO_ERR_RANGE, app->mem.max_run_steps);
    }
    lo = pop_offset(app, app->out_pop);
    hi = lo + app->art.pops[app->out_pop].size;
    for (s = 0; s < m.steps; ++s) {
        uint64_t now = el_core_time(app->core);
        const uint8_t *spk;
        uint32_t first = app->q_head, n_in = 0;
        while (app->q_count > 0 && (uint64_t)app->mem.queue[app->q_head].t == now) {
            app->in_spikes[app->mem.queue[app->q_head].addr] = 1;
            app->q_head = (app->q_head + 1u) % app->mem.queue_cap;
            app->q_count--;
            n_in++;
        }
        if (el_core_step(app->core, app->in_spikes) != EL_OK) {
            return fail(EL_PROTO_ERR_STATE, s);
        }
        for (i = 0; i < n_in; ++i) { /* clear only what was set */
            app->in_spikes[app->mem.queue[(first + i) % app->mem.queue_cap].addr] = 0;
        }
        consumed += n_in;
        spk = el_core_spikes(app->core);
        for (i = 0; i < app->n_neurons; ++i) {
            app->counts[i] += spk[i];
        }
        for (i = lo; i < hi; ++i) {
            spikes += spk[i];
        }
    }
    if (app->q_count == 0) {
        app->q_head = 0;
    }
    r.step = (uint32_t)el_core_time(app->core);
    r.spikes = spikes;
    r.events_consumed = consumed;
    r.credits = credits(app);
    (void)el_msg_run_resp_pack(&r, app->payload, sizeof app->payload, &len);
    return ok(len);
}

static outcome_t do_third(el_app_t *app, const el_proto_frame_t *f, int is_label)
{
    el_msg_third_t m;
    uint32_t lo, size, i;
    int computed, pass;
    int st = el_msg_third_unpack(f->payload, f->len, &m);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    if (app->core == NULL) {
        return fail(EL_PROTO_E_NO_MODEL, 0);
    }
    if (m.population >= app->art.desc.n_pops) {
        return fail(EL_PROTO_ERR_RANGE, 0);
    }
    lo = pop_offset(app, m.population);
    size = app->art.pops[m.population].size;
    if (is_label) {
        if (m.value < -1 || (m.value >= 0 && (uint32_t)m.value >= size)) {
            return fail(EL_PROTO_ERR_RANGE, 0);
        }
        if (!app->art.has_readout && m.value >= 0) {
            return fail(EL_PROTO_ERR_STATE, 0);
        }
    } else if (m.value < EL_THIRD_MIN || m.value > EL_THIRD_MAX) {
        return fail(EL_PROTO_ERR_RANGE, 0);
    }
    /* a population whose neurons compute its third factor (spec 5.3) takes only zeros, as
     * el_core_set_third: nothing is written unless every value is 0 */
    computed = (app->art.pops[m.population].flags & EL_POP_THIRD_COMPUTED) != 0u;
    for (pass = computed ? 0 : 1; pass < 2; ++pass) {
        for (i = 0; i < size; ++i) {
            const int32_t r = !is_label ? m.value
                              : m.value < 0 ? 0
                              : (uint32_t)m.value == i ? app->art.readout.r_pos
                                                       : app->art.readout.r_neg;
            if (pass == 0) {
                if (r != 0) {
                    return fail(EL_PROTO_ERR_STATE, 0);
                }
            } else {
                app->third[lo + i] = (int8_t)r;
            }
        }
    }
    if (el_core_set_third(app->core, app->third) != EL_OK) {
        return fail(EL_PROTO_ERR_STATE, 0);
    }
    return ok(0);
}

static outcome_t do_learn(el_app_t *app, const el_proto_frame_t *f)
{
    el_msg_learn_t m;
    uint8_t prev;
    int st = el_msg_learn_unpack(f->payload, f->len, &m);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    if (app->core == NULL) {
        return fail(EL_PROTO_E_NO_MODEL, 0);
    }
    prev = (uint8_t)app->learning;
    if (el_core_set_learning(app->core, m.enable) != EL_OK) {
        return fail(EL_PROTO_ERR_STATE, 0);
    }
    app->learning = m.enable;
    el_memset(app->payload, 0, EL_MSG_LEARN_RESP_BYTES);
    app->payload[0] = prev;
    return ok(EL_MSG_LEARN_RESP_BYTES);
}

static outcome_t do_read(el_app_t *app, const el_proto_frame_t *f)
{
    el_msg_read_t m;
    el_msg_read_resp_t r;
    size_t len = 0;
    uint32_t total, n, fit, i;
    const uint8_t *data;
    uint8_t tmp[4];
    int st = el_msg_read_unpack(f->payload, f->len, &m);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    if (app->core == NULL) {
        return fail(EL_PROTO_E_NO_MODEL, 0);
    }
    r.what = m.what;
    r.index = m.index;
    r.offset = m.offset;
    if (m.what == EL_READ_WEIGHTS) {
        long got;
        if (m.index >= app->art.desc.n_conns) {
            return fail(EL_PROTO_ERR_RANGE, 0);
        }
        total = app->art.nnz[m.index];
        r.elem_size = 1;
        if (m.offset >= total) {
            return fail(EL_PROTO_ERR_RANGE, 0);
        }
        got = conn_weights(app, m.index);
        if (got < 0) {
            return fail(EL_PROTO_ERR_STATE, 0);
        }
        data = app->scratch + m.offset;
    } else {
        uint32_t lo;
        if (m.index >= app->art.desc.n_pops) {
            return fail(EL_PROTO_ERR_RANGE, 0);
        }
        lo = pop_offset(app, m.index);
        r.elem_size = 4;
        if (m.what == EL_READ_PREDICTION) {
            uint32_t best = 0, size = app->art.pops[m.index].size;
            int32_t cls = -1;
            total = 1;
            if (m.offset >= total) {
                return fail(EL_PROTO_ERR_RANGE, 0);
            }
            for (i = 0; i < size; ++i) {
                if (app->counts[lo + i] > best) {
                    best = app->counts[lo + i];
                    cls = (int32_t)i;
                }
            }
            wr32(tmp, (uint32_t)cls);
            data = tmp;
        } else {
            total = app->art.pops[m.index].size;
            if (m.offset >= total) {
                return fail(EL_PROTO_ERR_RANGE, 0);
            }
            data = (const uint8_t *)(app->counts + lo + m.offset);
        }
    }
    fit = (uint32_t)(EL_MSG_READ_MAX_DATA / r.elem_size);
    n = total - m.offset;
    if (n > m.count) {
        n = m.count;
    }
    if (n > fit) {
        n = fit;
    }
    r.total = total;
    r.count = (uint16_t)n;
    r.data = data;
    /* counts are u32 in host order; the wire is little-endian like both targets */
    st = el_msg_read_resp_pack(&r, app->payload, sizeof app->payload, &len);
    if (st != EL_PROTO_OK) {
        return fail(st, 0);
    }
    if (m.what == EL_READ_SPIKES && (m.flags & EL_READ_FLAG_CLEAR)) {
        el_memset(app->counts + pop_offset(app, m.index), 0,
                  (size_t)app->art.pops[m.index].size * 4u);
    }
    return ok(len);
}

static outcome_t slot_reply(el_app_t *app, uint32_t generation, int slot)
{
    el_msg_slot_t s;
    size_t len = 0;
    s.generation = generation;
    s.slot = (uint8_t)slot;
    (void)el_msg_slot_pack(&s, app->payload, sizeof app->payload, &len);
    return ok(len);
}

static outcome_t do_save(el_app_t *app)
{
    uint32_t k, gen = 0;
    int slot = -1;
    if (!el_slots_capacity(app->hal)) {
        return fail(EL_PROTO_ERR_UNSUPPORTED, 0);
    }
    if (app->core == NULL) {
        return fail(EL_PROTO_E_NO_MODEL, 0);
    }
    for (k = 0; k < app->art.desc.n_conns; ++k) { /* learned weights into the image */
        if (app->art.conns[k].flags & EL_CONN_PLASTIC) {
            long n = conn_weights(app, k);
            if (n < 0) {
                return fail(EL_PROTO_ERR_STATE, k);
            }
            el_memcpy(app->img + app->art.weights_offset[k], app->scratch, (size_t)n);
        }
    }
    (void)el_artifact_reseal(app->img, app->img_len);
    app->loading = 0; /* the staging buffer verifies the write */
    if (el_slots_save(app->hal, app->img, app->img_len, app->mem.image[1 - app->active],
                      (uint32_t)app->mem.image_bytes, &slot, &gen) != 0) {
        return fail(EL_PROTO_E_FLASH, 0);
    }
    app->generation = gen;
    return slot_reply(app, gen, slot);
}

/* Load the newest saved model; 0, or a status. The slots are probed and read into the LOAD
 * staging buffer, so an unfinished LOAD is aborted first, whatever the outcome (docs/firmware.md:
 * a LOAD_COMMIT after a failed RESTORE answers ERR_STATE, not a commit of overwritten data). */
static int restore(el_app_t *app, uint32_t *gen, int *slot_out, uint32_t *detail)
{
    el_slot_info_t info;
    int idx = staging(app), slot, st;
    *detail = 0;
    app->loading = 0;
    slot = el_slots_newest(app->hal, app->mem.image[idx], (uint32_t)app->mem.image_bytes - 8u,
                           &info);
    if (slot < 0) {
        return EL_PROTO_E_NO_SAVE;
    }
    if (el_slots_read(app->hal, slot, app->mem.image[idx], info.length) != 0) {
        return EL_PROTO_E_FLASH;
    }
    st = install(app, idx, info.length, detail);
    if (st != 0) {
        return st;
    }
    app->generation = info.generation;
    *gen = info.generation;
    *slot_out = slot;
    return 0;
}

static outcome_t do_restore(el_app_t *app)
{
    uint32_t gen = 0, detail = 0;
    int slot = -1, st;
    if (!el_slots_capacity(app->hal)) {
        return fail(EL_PROTO_ERR_UNSUPPORTED, 0);
    }
    st = restore(app, &gen, &slot, &detail);
    if (st != 0) {
        return fail(st, detail);
    }
    return slot_reply(app, gen, slot);
}

static outcome_t execute(el_app_t *app, const el_proto_frame_t *f)
{
    switch (f->type) {
    case EL_MSG_PING:
        el_memcpy(app->payload, f->payload, f->len);
        return ok(f->len);
    case EL_MSG_INFO: return do_info(app);
    case EL_MSG_RESET: return do_reset(app, f);
    case EL_MSG_LOAD_BEGIN: return do_load_begin(app, f);
    case EL_MSG_LOAD_CHUNK: return do_load_chunk(app, f);
    case EL_MSG_LOAD_COMMIT: return do_load_commit(app);
    case EL_MSG_RULE: {
        el_msg_rule_t m;
        int st = el_msg_rule_unpack(f->payload, f->len, &m);
        if (st != EL_PROTO_OK) {
            return fail(st, 0);
        }
        return do_rule(app, &m);
    }
    case EL_MSG_EVENTS: return do_events(app, f);
    case EL_MSG_RUN: return do_run(app, f);
    case EL_MSG_LABEL: return do_third(app, f, 1);
    case EL_MSG_REWARD: return do_third(app, f, 0);
    case EL_MSG_LEARN: return do_learn(app, f);
    case EL_MSG_READ: return do_read(app, f);
    case EL_MSG_SAVE: return do_save(app);
    case EL_MSG_RESTORE: return do_restore(app);
    default: return fail(EL_PROTO_E_TYPE, 0);
    }
}

/* ---- the link ----------------------------------------------------------------------------- */

static void send_tx(el_app_t *app)
{
    app->hal->write(app->hal->ctx, app->tx, app->tx_len);
}

/* An ERROR with seq 0 (a request numbered 0), built in a small buffer of its own: tx is the
 * retransmission cache, and neither it nor the dedup key may change (docs/protocol.md §9), or
 * the host's resend of the cached request would be executed a second time. */
static void send_unattributed(el_app_t *app, const el_proto_frame_t *f, int status)
{
    uint8_t reply[EL_PROTO_WIRE_BOUND(EL_MSG_ERROR_BYTES)];
    size_t len = 0;
    if (el_frame_build_error(EL_PROTO_SEQ_UNATTRIBUTED, f->type, status, 0, reply, sizeof reply,
                             &len) == EL_PROTO_OK) {
        app->stats.errors_sent++;
        app->hal->write(app->hal->ctx, reply, len);
    }
}

static void handle_frame(el_app_t *app, const el_proto_frame_t *f)
{
    outcome_t o;
    int st;
    if (f->seq == EL_PROTO_SEQ_UNATTRIBUTED) {
        send_unattributed(app, f, EL_PROTO_E_SEQ);
        return;
    }
    if (el_dedup_is_repeat(&app->dedup, f)) {
        app->stats.repeats++;
        send_tx(app);
        return;
    } else if ((f->type & EL_MSG_RESPONSE) || f->type == EL_MSG_ERROR) {
        o = fail(EL_PROTO_E_TYPE, 0);
    } else if ((st = el_msg_check_len(f->type, f->len)) != EL_PROTO_OK) {
        o = fail(st, 0);
    } else {
        app->stats.requests++;
        o = execute(app, f);
    }
    if (o.status == 0) {
        st = el_frame_build((uint8_t)(f->type | EL_MSG_RESPONSE), f->seq, app->payload, o.len,
                            app->tx, sizeof app->tx, &app->tx_len);
    } else {
        st = el_frame_build_error(f->seq, f->type, o.status, o.detail, app->tx, sizeof app->tx,
                                  &app->tx_len);
        app->stats.errors_sent++;
    }
    if (st != EL_PROTO_OK) { /* cannot happen: payloads are bounded; answer anyway */
        (void)el_frame_build_error(f->seq, f->type, EL_PROTO_ERR_STATE, 0, app->tx,
                                   sizeof app->tx, &app->tx_len);
    }
    el_dedup_remember(&app->dedup, f);
    send_tx(app);
}

void el_app_input(el_app_t *app, const uint8_t *data, size_t n)
{
    while (n > 0) {
        size_t used = 0;
        bool ready = false;
        el_proto_status_t st = el_rx_feed(&app->rx, data, n, &used, &ready);
        data += used;
        n -= used;
        if (used == 0) {
            break;
        }
        if (ready) {
            el_proto_frame_t f;
            if (el_rx_frame(&app->rx, &f) == EL_PROTO_OK) {
                handle_frame(app, &f);
            }
        } else if (st != EL_PROTO_OK) {
            uint8_t reply[EL_PROTO_WIRE_BOUND(EL_MSG_ERROR_BYTES)];
            size_t len = 0;
            app->stats.rx_errors++;
            if (el_rx_error_reply(&app->rx, st, reply, sizeof reply, &len) == EL_PROTO_OK) {
                app->stats.errors_sent++;
                app->hal->write(app->hal->ctx, reply, len);
            }
        }
    }
}

void el_app_poll(el_app_t *app)
{
    uint8_t buf[256];
    size_t n = app->hal->read(app->hal->ctx, buf, sizeof buf);
    if (n > 0) {
        el_app_input(app, buf, n);
    }
}

void el_app_link_reset(el_app_t *app)
{
    (void)el_rx_init(&app->rx);
}

void el_app_init(el_app_t *app, const el_hal_t *hal, const el_app_mem_t *mem)
{
    uint32_t gen = 0, detail = 0;
    int slot = -1;
    el_memset(app, 0, sizeof *app);
    app->hal = hal;
    app->mem = *mem;
    (void)el_rx_init(&app->rx);
    el_dedup_init(&app->dedup);
    if (el_slots_capacity(hal)) {
        (void)restore(app, &gen, &slot, &detail);
    }
}
