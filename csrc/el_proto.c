/**
 * @file el_proto.c
 * @brief The serial protocol's codec (el_proto.h, docs/protocol.md). Freestanding: no libc.
 */
#include "el_proto.h"
#include "el_port.h"

/* The common codes of el_proto_status_t are el_status_t's (compile-time check). */
typedef char el_proto_same_codes_[(EL_PROTO_ERR_NULL == (int)EL_ERR_NULL &&
                                   EL_PROTO_ERR_RANGE == (int)EL_ERR_RANGE &&
                                   EL_PROTO_ERR_SIZE == (int)EL_ERR_SIZE &&
                                   EL_PROTO_ERR_UNSUPPORTED == (int)EL_ERR_UNSUPPORTED &&
                                   EL_PROTO_ERR_STATE == (int)EL_ERR_STATE &&
                                   EL_PROTO_E_COBS == EL_STATUS_BLOCK_PROTO)
                                      ? 1
                                      : -1];

/* ---- little-endian field access ---------------------------------------------------------- */

/* Two's complement reinterpretation without implementation-defined conversions. */
static int32_t get_i32(const uint8_t *p)
{
    uint32_t u = el_get_u32(p);
    if (u <= 0x7FFFFFFFUL) {
        return (int32_t)u;
    }
    return (int32_t)(u - 0x80000000UL) - (int32_t)0x7FFFFFFF - 1;
}

static void put_i32(uint8_t *p, int32_t v)
{
    el_put_u32(p, (uint32_t)v); /* conversion to unsigned is modular: well defined */
}

static bool all_zero(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

static void zero(uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        p[i] = 0;
    }
}

/* ---- CRC-32/ISO-HDLC, nibble table (64 bytes of flash) ------------------------------------ */

static const uint32_t crc_nibble[16] = {
    0x00000000UL, 0x1DB71064UL, 0x3B6E20C8UL, 0x26D930ACUL, 0x76DC4190UL, 0x6B6B51F4UL,
    0x4DB26158UL, 0x5005713CUL, 0xEDB88320UL, 0xF00F9344UL, 0xD6D6A3E8UL, 0xCB61B38CUL,
    0x9B64C2B0UL, 0x86D3D2D4UL, 0xA00AE278UL, 0xBDBDF21CUL};

uint32_t el_crc32(uint32_t crc, const uint8_t *data, size_t n)
{
    size_t i;
    uint32_t c = ~crc;
    if (data == NULL) {
        return crc;
    }
    for (i = 0; i < n; ++i) {
        c ^= data[i];
        c = (c >> 4) ^ crc_nibble[c & 0x0Fu];
        c = (c >> 4) ^ crc_nibble[c & 0x0Fu];
    }
    return ~c;
}

/* ---- COBS ---------------------------------------------------------------------------------- */

/* Streaming encoder: bytes go in one at a time, so a frame needs no scratch copy. */
typedef struct cobs_enc {
    uint8_t *dst;
    size_t cap;
    size_t pos;      /* next free output byte */
    size_t code_pos; /* where the open block's code byte goes */
    uint8_t code;    /* 1 + data bytes in the open block; 0: no block open (after a full one) */
    bool overflow;
} cobs_enc_t;

static void enc_init(cobs_enc_t *e, uint8_t *dst, size_t cap)
{
    e->dst = dst;
    e->cap = cap;
    e->code_pos = 0;
    e->pos = 1;
    e->code = 1;
    e->overflow = cap < 1;
}

static void enc_out(cobs_enc_t *e, size_t at, uint8_t b)
{
    if (at < e->cap) {
        e->dst[at] = b;
    } else {
        e->overflow = true;
    }
}

static void enc_put(cobs_enc_t *e, uint8_t b)
{
    if (e->code == 0) { /* open a block lazily after a full one */
        e->code_pos = e->pos++;
        e->code = 1;
    }
    if (b == 0) {
        enc_out(e, e->code_pos, e->code);
        e->code_pos = e->pos++;
        e->code = 1;
        return;
    }
    enc_out(e, e->pos++, b);
    e->code++;
    if (e->code == 0xFF) {
        enc_out(e, e->code_pos, 0xFF);
        e->code = 0;
    }
}

static void enc_put_n(cobs_enc_t *e, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        enc_put(e, p[i]);
    }
}

/* Close the open block; returns the encoded length. */
static size_t enc_finish(cobs_enc_t *e)
{
    if (e->code != 0) {
        enc_out(e, e->code_pos, e->code);
    }
    return e->pos;
}

el_proto_status_t el_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                 size_t *out_len)
{
    cobs_enc_t e;
    size_t used;
    if ((src == NULL && n != 0) || dst == NULL || out_len == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    enc_init(&e, dst, cap);
    enc_put_n(&e, src, n);
    used = enc_finish(&e);
    if (e.overflow) {
        return EL_PROTO_ERR_SIZE;
    }
    *out_len = used;
    return EL_PROTO_OK;
}

el_proto_status_t el_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                 size_t *out_len)
{
    size_t i = 0;
    size_t o = 0;
    if ((src == NULL && n != 0) || (dst == NULL && cap != 0) || out_len == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    while (i < n) {
        unsigned code = src[i++];
        unsigned k;
        if (code == 0) {
            return EL_PROTO_E_COBS;
        }
        for (k = 1; k < code; ++k) {
            if (i >= n || src[i] == 0) {
                return EL_PROTO_E_COBS;
            }
            if (o >= cap) {
                return EL_PROTO_ERR_SIZE;
            }
            dst[o++] = src[i++];
        }
        if (code < 0xFFu && i < n) {
            if (o >= cap) {
                return EL_PROTO_ERR_SIZE;
            }
            dst[o++] = 0;
        }
    }
    *out_len = o;
    return EL_PROTO_OK;
}

/* ---- message types and payload sizes -------------------------------------------------------- */

/* Allowed payload length of a type: min <= len <= max and (len - min) % step == 0. */
typedef struct len_rule {
    uint8_t type;
    uint16_t min;
    uint16_t max;
    uint16_t step;
} len_rule_t;

#define R_ EL_MSG_RESPONSE
static const len_rule_t len_rules[] = {
    {EL_MSG_PING, 0, EL_PROTO_MAX_PAYLOAD, 1},
    {EL_MSG_PING | R_, 0, EL_PROTO_MAX_PAYLOAD, 1},
    {EL_MSG_INFO, 0, 0, 1},
    {EL_MSG_INFO | R_, EL_MSG_INFO_RESP_BYTES, EL_MSG_INFO_RESP_BYTES, 1},
    {EL_MSG_RESET, EL_MSG_RESET_BYTES, EL_MSG_RESET_BYTES, 1},
    {EL_MSG_RESET | R_, 0, 0, 1},
    {EL_MSG_LOAD_BEGIN, EL_MSG_LOAD_BEGIN_BYTES, EL_MSG_LOAD_BEGIN_BYTES, 1},
    {EL_MSG_LOAD_BEGIN | R_, EL_MSG_LOAD_BEGIN_RESP_BYTES, EL_MSG_LOAD_BEGIN_RESP_BYTES, 1},
    {EL_MSG_LOAD_CHUNK, EL_MSG_LOAD_CHUNK_HEAD_BYTES + 1, EL_PROTO_MAX_PAYLOAD, 1},
    {EL_MSG_LOAD_CHUNK | R_, EL_MSG_LOAD_CHUNK_RESP_BYTES, EL_MSG_LOAD_CHUNK_RESP_BYTES, 1},
    {EL_MSG_LOAD_COMMIT, 0, 0, 1},
    {EL_MSG_LOAD_COMMIT | R_, EL_MSG_LOAD_COMMIT_RESP_BYTES, EL_MSG_LOAD_COMMIT_RESP_BYTES, 1},
    {EL_MSG_RULE, EL_MSG_RULE_HEAD_BYTES + EL_MSG_RULE_ENTRY_BYTES,
     EL_MSG_RULE_HEAD_BYTES + EL_MSG_RULE_ENTRY_BYTES * EL_MSG_RULE_MAX_ENTRIES,
     EL_MSG_RULE_ENTRY_BYTES},
    {EL_MSG_RULE | R_, EL_MSG_RULE_RESP_BYTES, EL_MSG_RULE_RESP_BYTES, 1},
    {EL_MSG_EVENTS, EL_MSG_EVENTS_HEAD_BYTES,
     EL_MSG_EVENTS_HEAD_BYTES + EL_MSG_EVENT_BYTES * EL_MSG_EVENTS_MAX, EL_MSG_EVENT_BYTES},
    {EL_MSG_EVENTS | R_, EL_MSG_EVENTS_RESP_BYTES, EL_MSG_EVENTS_RESP_BYTES, 1},
    {EL_MSG_RUN, EL_MSG_RUN_BYTES, EL_MSG_RUN_BYTES, 1},
    {EL_MSG_RUN | R_, EL_MSG_RUN_RESP_BYTES, EL_MSG_RUN_RESP_BYTES, 1},
    {EL_MSG_LABEL, EL_MSG_THIRD_BYTES, EL_MSG_THIRD_BYTES, 1},
    {EL_MSG_LABEL | R_, 0, 0, 1},
    {EL_MSG_REWARD, EL_MSG_THIRD_BYTES, EL_MSG_THIRD_BYTES, 1},
    {EL_MSG_REWARD | R_, 0, 0, 1},
    {EL_MSG_LEARN, EL_MSG_LEARN_BYTES, EL_MSG_LEARN_BYTES, 1},
    {EL_MSG_LEARN | R_, EL_MSG_LEARN_RESP_BYTES, EL_MSG_LEARN_RESP_BYTES, 1},
    {EL_MSG_READ, EL_MSG_READ_BYTES, EL_MSG_READ_BYTES, 1},
    {EL_MSG_READ | R_, EL_MSG_READ_RESP_HEAD_BYTES + 1, EL_PROTO_MAX_PAYLOAD, 1},
    {EL_MSG_SAVE, 0, 0, 1},
    {EL_MSG_SAVE | R_, EL_MSG_SLOT_RESP_BYTES, EL_MSG_SLOT_RESP_BYTES, 1},
    {EL_MSG_RESTORE, 0, 0, 1},
    {EL_MSG_RESTORE | R_, EL_MSG_SLOT_RESP_BYTES, EL_MSG_SLOT_RESP_BYTES, 1},
    {EL_MSG_ERROR, EL_MSG_ERROR_BYTES, EL_MSG_ERROR_BYTES, 1},
};
#undef R_

static const len_rule_t *find_rule(uint8_t type)
{
    size_t i;
    for (i = 0; i < sizeof len_rules / sizeof len_rules[0]; ++i) {
        if (len_rules[i].type == type) {
            return &len_rules[i];
        }
    }
    return NULL;
}

bool el_msg_type_known(uint8_t type)
{
    return find_rule(type) != NULL;
}

el_proto_status_t el_msg_check_len(uint8_t type, size_t len)
{
    const len_rule_t *r = find_rule(type);
    if (r == NULL) {
        return EL_PROTO_E_TYPE;
    }
    if (len < r->min || len > r->max || (len - r->min) % r->step != 0) {
        return EL_PROTO_E_PAYLOAD;
    }
    return EL_PROTO_OK;
}

/* ---- frames -------------------------------------------------------------------------------- */

el_proto_status_t el_frame_build(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len,
                                 uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t head[EL_PROTO_HEADER_BYTES];
    uint8_t tail[EL_PROTO_CRC_BYTES];
    cobs_enc_t e;
    size_t used;
    if ((payload == NULL && len != 0) || out == NULL || out_len == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    if (len > EL_PROTO_MAX_PAYLOAD) {
        return EL_PROTO_E_LENGTH;
    }
    head[0] = EL_PROTO_VERSION;
    head[1] = type;
    el_put_u16(head + 2, seq);
    el_put_u16(head + 4, (uint16_t)len);
    el_put_u32(tail, el_crc32(el_crc32(0, head, sizeof head), payload, len));
    enc_init(&e, out, cap);
    enc_put_n(&e, head, sizeof head);
    enc_put_n(&e, payload, len);
    enc_put_n(&e, tail, sizeof tail);
    used = enc_finish(&e);
    enc_out(&e, used, EL_PROTO_DELIMITER);
    if (e.overflow) {
        return EL_PROTO_ERR_SIZE;
    }
    *out_len = used + 1;
    return EL_PROTO_OK;
}

/* ---- receiver ------------------------------------------------------------------------------ */

enum { RX_IDLE = 0, RX_FRAME = 1, RX_DISCARD = 2 };

static void rx_restart(el_rx_t *rx)
{
    rx->n = 0;
    rx->state = RX_IDLE;
    rx->remaining = 0;
    rx->zero_pending = 0;
}

el_proto_status_t el_rx_init(el_rx_t *rx)
{
    if (rx == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    rx_restart(rx);
    rx->frame_n = 0;
    rx->header_ok = 0;
    rx->frames = 0;
    rx->errors = 0;
    return EL_PROTO_OK;
}

static el_proto_status_t rx_fail(el_rx_t *rx, el_proto_status_t st)
{
    rx->errors++;
    return st;
}

/* Append one decoded byte; false when the frame would exceed EL_PROTO_MAX_FRAME. */
static bool rx_append(el_rx_t *rx, uint8_t b)
{
    if (rx->n >= EL_PROTO_MAX_FRAME) {
        return false;
    }
    rx->buf[rx->n++] = b;
    return true;
}

static el_proto_status_t rx_end(el_rx_t *rx, bool *ready)
{
    uint8_t state = rx->state;
    uint16_t n = rx->n;
    uint8_t remaining = rx->remaining;
    uint32_t crc;
    rx_restart(rx);
    if (state != RX_FRAME) { /* empty frame, or the end of a discarded one: nothing to say */
        return EL_PROTO_OK;
    }
    rx->frame_n = n;
    rx->header_ok = 0;
    if (remaining != 0) {
        return rx_fail(rx, EL_PROTO_E_COBS);
    }
    if (n < EL_PROTO_HEADER_BYTES + EL_PROTO_CRC_BYTES) {
        return rx_fail(rx, EL_PROTO_E_SHORT);
    }
    crc = el_crc32(0, rx->buf, (size_t)n - EL_PROTO_CRC_BYTES);
    if (crc != el_get_u32(rx->buf + n - EL_PROTO_CRC_BYTES)) {
        return rx_fail(rx, EL_PROTO_E_CRC);
    }
    rx->header_ok = 1;
    if (rx->buf[0] != EL_PROTO_VERSION) {
        return rx_fail(rx, EL_PROTO_E_VERSION);
    }
    if ((size_t)el_get_u16(rx->buf + 4) + EL_PROTO_HEADER_BYTES + EL_PROTO_CRC_BYTES != n) {
        return rx_fail(rx, EL_PROTO_E_LENGTH);
    }
    if (!el_msg_type_known(rx->buf[1])) {
        return rx_fail(rx, EL_PROTO_E_TYPE);
    }
    rx->frames++;
    *ready = true;
    return EL_PROTO_OK;
}

el_proto_status_t el_rx_push(el_rx_t *rx, uint8_t byte, bool *ready)
{
    if (rx == NULL || ready == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    *ready = false;
    if (byte == EL_PROTO_DELIMITER) {
        return rx_end(rx, ready);
    }
    if (rx->state == RX_DISCARD) {
        return EL_PROTO_OK;
    }
    if (rx->state == RX_IDLE) {
        rx->state = RX_FRAME;
        rx->header_ok = 0; /* the previous frame's view is gone from here on */
    }
    if (rx->remaining == 0) { /* a code byte */
        if (rx->zero_pending && !rx_append(rx, 0)) {
            rx->state = RX_DISCARD;
            return rx_fail(rx, EL_PROTO_E_OVERSIZE);
        }
        rx->remaining = (uint8_t)(byte - 1u);
        rx->zero_pending = (uint8_t)(byte != 0xFFu);
        return EL_PROTO_OK;
    }
    if (!rx_append(rx, byte)) {
        rx->state = RX_DISCARD;
        return rx_fail(rx, EL_PROTO_E_OVERSIZE);
    }
    rx->remaining--;
    return EL_PROTO_OK;
}

el_proto_status_t el_rx_frame(const el_rx_t *rx, el_proto_frame_t *frame)
{
    const uint8_t *b;
    uint16_t n;
    if (rx == NULL || frame == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    if (!rx->header_ok) {
        return EL_PROTO_ERR_STATE;
    }
    b = rx->buf;
    n = rx->frame_n;
    frame->version = b[0];
    frame->type = b[1];
    frame->seq = el_get_u16(b + 2);
    frame->crc = el_get_u32(b + n - EL_PROTO_CRC_BYTES);
    if ((size_t)el_get_u16(b + 4) + EL_PROTO_HEADER_BYTES + EL_PROTO_CRC_BYTES == n &&
        b[0] == EL_PROTO_VERSION) {
        frame->len = el_get_u16(b + 4);
        frame->payload = frame->len != 0 ? b + EL_PROTO_HEADER_BYTES : NULL;
    } else {
        frame->len = 0;
        frame->payload = NULL;
    }
    return EL_PROTO_OK;
}

el_proto_status_t el_rx_feed(el_rx_t *rx, const uint8_t *data, size_t n, size_t *consumed,
                             bool *ready)
{
    size_t i;
    el_proto_status_t st = EL_PROTO_OK;
    if (rx == NULL || (data == NULL && n != 0) || consumed == NULL || ready == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    *ready = false;
    for (i = 0; i < n; ++i) {
        st = el_rx_push(rx, data[i], ready);
        if (st != EL_PROTO_OK || *ready) {
            *consumed = i + 1;
            return st;
        }
    }
    *consumed = n;
    return st;
}

el_proto_status_t el_frame_build_error(uint16_t seq, uint8_t request_type, int status,
                                       uint32_t detail, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    uint8_t payload[EL_MSG_ERROR_BYTES];
    el_msg_error_t m;
    size_t n;
    if (status <= 0 || status > 0xFFFF) {
        return EL_PROTO_ERR_RANGE;
    }
    m.status = (uint16_t)status;
    m.request_type = request_type;
    m.detail = detail;
    (void)el_msg_error_pack(&m, payload, sizeof payload, &n);
    return el_frame_build(EL_MSG_ERROR, seq, payload, n, out, cap, out_len);
}

el_proto_status_t el_rx_error_reply(const el_rx_t *rx, el_proto_status_t rx_status, uint8_t *out,
                                    size_t cap, size_t *out_len)
{
    el_proto_frame_t f;
    if (rx == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    switch (rx_status) {
    case EL_PROTO_E_COBS:
    case EL_PROTO_E_CRC:
    case EL_PROTO_E_SHORT:
    case EL_PROTO_E_OVERSIZE:
        return el_frame_build_error(EL_PROTO_SEQ_UNATTRIBUTED, 0, (int)rx_status, 0, out, cap,
                                    out_len);
    case EL_PROTO_E_VERSION:
    case EL_PROTO_E_LENGTH:
    case EL_PROTO_E_TYPE:
        if (el_rx_frame(rx, &f) != EL_PROTO_OK) {
            return EL_PROTO_ERR_STATE;
        }
        return el_frame_build_error(f.seq, f.type, (int)rx_status,
                                    rx_status == EL_PROTO_E_VERSION ? EL_PROTO_VERSION : 0u, out,
                                    cap, out_len);
    default:
        return EL_PROTO_ERR_RANGE;
    }
}

void el_dedup_init(el_proto_dedup_t *d)
{
    if (d != NULL) {
        d->crc = 0;
        d->seq = 0;
        d->type = 0;
        d->valid = 0;
    }
}

bool el_dedup_is_repeat(const el_proto_dedup_t *d, const el_proto_frame_t *req)
{
    return d != NULL && req != NULL && d->valid && req->seq != EL_PROTO_SEQ_UNATTRIBUTED &&
           d->seq == req->seq && d->type == req->type && d->crc == req->crc;
}

void el_dedup_remember(el_proto_dedup_t *d, const el_proto_frame_t *req)
{
    if (d == NULL || req == NULL || req->seq == EL_PROTO_SEQ_UNATTRIBUTED) {
        return;
    }
    d->crc = req->crc;
    d->seq = req->seq;
    d->type = req->type;
    d->valid = 1;
}

const char *el_proto_status_name(int status)
{
    const char *name = NULL;
    switch (status) { /* the common codes, under this unit's aliases */
    case EL_PROTO_OK: return "EL_PROTO_OK";
    case EL_PROTO_ERR_NULL: return "EL_PROTO_ERR_NULL";
    case EL_PROTO_ERR_RANGE: return "EL_PROTO_ERR_RANGE";
    case EL_PROTO_ERR_SIZE: return "EL_PROTO_ERR_SIZE";
    case EL_PROTO_ERR_UNSUPPORTED: return "EL_PROTO_ERR_UNSUPPORTED";
    case EL_PROTO_ERR_STATE: return "EL_PROTO_ERR_STATE";
    default: break;
    }
    if (status >= EL_STATUS_BLOCK_PROTO && status < EL_STATUS_BLOCK_PROTO + EL_STATUS_BLOCK_SIZE) {
        name = el_status_lookup(status); /* EL_PROTO_E_*: el_status.c names them */
    }
    return name != NULL ? name : "EL_PROTO_UNKNOWN";
}

/* ---- payloads ------------------------------------------------------------------------------ */

/* Common prologue of packers: arguments and room for exactly `need` bytes. */
static el_proto_status_t pack_begin(const void *m, uint8_t *buf, size_t cap, size_t *len,
                                    size_t need)
{
    if (m == NULL || buf == NULL || len == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    if (cap < need) {
        return EL_PROTO_ERR_SIZE;
    }
    zero(buf, need);
    *len = need;
    return EL_PROTO_OK;
}

/* Common prologue of fixed-size unpackers. */
static el_proto_status_t unpack_begin(const uint8_t *p, size_t len, const void *m, size_t need)
{
    if ((p == NULL && len != 0) || m == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    return len == need ? EL_PROTO_OK : EL_PROTO_E_PAYLOAD;
}

#define TRY(expr)                         \
    do {                                  \
        el_proto_status_t st_ = (expr);   \
        if (st_ != EL_PROTO_OK) {         \
            return st_;                   \
        }                                 \
    } while (0)

/* INFO response: 4 x u8 | u16 max_payload | u16 rx_window | 7 x u32 | 3 x u8, u8 reserved |
 * u32 step */
el_proto_status_t el_msg_info_pack(const el_msg_info_t *m, uint8_t *buf, size_t cap,
                                   size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_INFO_RESP_BYTES));
    buf[0] = m->proto_version;
    buf[1] = m->fw_major;
    buf[2] = m->fw_minor;
    buf[3] = m->fw_patch;
    el_put_u16(buf + 4, m->max_payload);
    el_put_u16(buf + 6, m->rx_window);
    el_put_u32(buf + 8, m->caps);
    el_put_u32(buf + 12, m->event_queue);
    el_put_u32(buf + 16, m->max_artifact_bytes);
    el_put_u32(buf + 20, m->max_neurons);
    el_put_u32(buf + 24, m->max_synapses);
    el_put_u32(buf + 28, m->ram_bytes);
    el_put_u32(buf + 32, m->max_run_steps);
    buf[36] = m->flash_slots;
    buf[37] = m->model_loaded;
    buf[38] = m->learning;
    el_put_u32(buf + 40, m->step);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_info_unpack(const uint8_t *p, size_t len, el_msg_info_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_INFO_RESP_BYTES));
    if (p[39] != 0) {
        return EL_PROTO_E_PAYLOAD;
    }
    if (p[37] > 1 || p[38] > 1) {
        return EL_PROTO_ERR_RANGE;
    }
    m->proto_version = p[0];
    m->fw_major = p[1];
    m->fw_minor = p[2];
    m->fw_patch = p[3];
    m->max_payload = el_get_u16(p + 4);
    m->rx_window = el_get_u16(p + 6);
    m->caps = el_get_u32(p + 8);
    m->event_queue = el_get_u32(p + 12);
    m->max_artifact_bytes = el_get_u32(p + 16);
    m->max_neurons = el_get_u32(p + 20);
    m->max_synapses = el_get_u32(p + 24);
    m->ram_bytes = el_get_u32(p + 28);
    m->max_run_steps = el_get_u32(p + 32);
    m->flash_slots = p[36];
    m->model_loaded = p[37];
    m->learning = p[38];
    m->step = el_get_u32(p + 40);
    return EL_PROTO_OK;
}

/* RESET: u8 mode | 3 reserved */
el_proto_status_t el_msg_reset_pack(const el_msg_reset_t *m, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_RESET_BYTES));
    buf[0] = m->mode;
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_reset_unpack(const uint8_t *p, size_t len, el_msg_reset_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_RESET_BYTES));
    if (!all_zero(p + 1, 3)) {
        return EL_PROTO_E_PAYLOAD;
    }
    if (p[0] != EL_RESET_STATE && p[0] != EL_RESET_MODEL) {
        return EL_PROTO_ERR_RANGE;
    }
    m->mode = p[0];
    return EL_PROTO_OK;
}

/* LOAD_BEGIN: u32 total_size | u32 crc | u32 flags (0) */
el_proto_status_t el_msg_load_begin_pack(const el_msg_load_begin_t *m, uint8_t *buf, size_t cap,
                                         size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_LOAD_BEGIN_BYTES));
    el_put_u32(buf, m->total_size);
    el_put_u32(buf + 4, m->crc);
    el_put_u32(buf + 8, m->flags);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_load_begin_unpack(const uint8_t *p, size_t len, el_msg_load_begin_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_LOAD_BEGIN_BYTES));
    if (!all_zero(p + 8, 4)) {
        return EL_PROTO_E_PAYLOAD;
    }
    if (el_get_u32(p) == 0) {
        return EL_PROTO_ERR_RANGE;
    }
    m->total_size = el_get_u32(p);
    m->crc = el_get_u32(p + 4);
    m->flags = 0;
    return EL_PROTO_OK;
}

/* LOAD_BEGIN response: u32 total_size | u16 chunk_max | u16 reserved */
el_proto_status_t el_msg_load_begin_resp_pack(const el_msg_load_begin_resp_t *m, uint8_t *buf,
                                              size_t cap, size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_LOAD_BEGIN_RESP_BYTES));
    el_put_u32(buf, m->total_size);
    el_put_u16(buf + 4, m->chunk_max);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_load_begin_resp_unpack(const uint8_t *p, size_t len,
                                                el_msg_load_begin_resp_t *m)
{
    uint16_t chunk;
    TRY(unpack_begin(p, len, m, EL_MSG_LOAD_BEGIN_RESP_BYTES));
    if (!all_zero(p + 6, 2)) {
        return EL_PROTO_E_PAYLOAD;
    }
    chunk = el_get_u16(p + 4);
    if (chunk == 0 || chunk > EL_MSG_LOAD_CHUNK_MAX_DATA) {
        return EL_PROTO_ERR_RANGE;
    }
    m->total_size = el_get_u32(p);
    m->chunk_max = chunk;
    return EL_PROTO_OK;
}

/* LOAD_CHUNK: u32 offset | data (1 .. MAX_PAYLOAD - 4 bytes) */
el_proto_status_t el_msg_load_chunk_pack(const el_msg_load_chunk_t *m, uint8_t *buf, size_t cap,
                                         size_t *len)
{
    size_t i;
    if (m != NULL && (m->n == 0 || m->n > EL_MSG_LOAD_CHUNK_MAX_DATA)) {
        return EL_PROTO_ERR_RANGE;
    }
    if (m != NULL && m->data == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    TRY(pack_begin(m, buf, cap, len, (size_t)EL_MSG_LOAD_CHUNK_HEAD_BYTES + (m ? m->n : 0u)));
    el_put_u32(buf, m->offset);
    for (i = 0; i < m->n; ++i) {
        buf[EL_MSG_LOAD_CHUNK_HEAD_BYTES + i] = m->data[i];
    }
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_load_chunk_unpack(const uint8_t *p, size_t len, el_msg_load_chunk_t *m)
{
    if ((p == NULL && len != 0) || m == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    if (el_msg_check_len(EL_MSG_LOAD_CHUNK, len) != EL_PROTO_OK) {
        return EL_PROTO_E_PAYLOAD;
    }
    m->offset = el_get_u32(p);
    m->n = (uint16_t)(len - EL_MSG_LOAD_CHUNK_HEAD_BYTES);
    m->data = p + EL_MSG_LOAD_CHUNK_HEAD_BYTES;
    return EL_PROTO_OK;
}

/* RULE: u16 count | u16 reserved | count x (u16 id, i32 value) */
el_proto_status_t el_msg_rule_pack_list(const el_rule_param_t *e, size_t count, uint8_t *buf,
                                        size_t cap, size_t *len)
{
    size_t i;
    if (count == 0 || count > EL_MSG_RULE_MAX_ENTRIES) {
        return EL_PROTO_ERR_RANGE;
    }
    TRY(pack_begin(e, buf, cap, len,
                   EL_MSG_RULE_HEAD_BYTES + count * (size_t)EL_MSG_RULE_ENTRY_BYTES));
    el_put_u16(buf, (uint16_t)count);
    for (i = 0; i < count; ++i) {
        uint8_t *q = buf + EL_MSG_RULE_HEAD_BYTES + i * EL_MSG_RULE_ENTRY_BYTES;
        el_put_u16(q, e[i].id);
        put_i32(q + 2, e[i].value);
    }
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_rule_pack(const el_msg_rule_t *m, uint8_t *buf, size_t cap, size_t *len)
{
    size_t i, n;
    if (m != NULL && (m->count == 0 || m->count > EL_MSG_RULE_MAX_ENTRIES)) {
        return EL_PROTO_ERR_RANGE;
    }
    if (m != NULL && m->raw == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    n = m != NULL ? (size_t)m->count * EL_MSG_RULE_ENTRY_BYTES : 0u;
    TRY(pack_begin(m, buf, cap, len, EL_MSG_RULE_HEAD_BYTES + n));
    el_put_u16(buf, m->count);
    for (i = 0; i < n; ++i) {
        buf[EL_MSG_RULE_HEAD_BYTES + i] = m->raw[i];
    }
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_rule_unpack(const uint8_t *p, size_t len, el_msg_rule_t *m)
{
    if ((p == NULL && len != 0) || m == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    if (el_msg_check_len(EL_MSG_RULE, len) != EL_PROTO_OK || !all_zero(p + 2, 2) ||
        (size_t)el_get_u16(p) * EL_MSG_RULE_ENTRY_BYTES + EL_MSG_RULE_HEAD_BYTES != len) {
        return EL_PROTO_E_PAYLOAD;
    }
    m->count = el_get_u16(p);
    m->raw = p + EL_MSG_RULE_HEAD_BYTES;
    return EL_PROTO_OK;
}

el_rule_param_t el_msg_rule_at(const el_msg_rule_t *m, size_t i)
{
    el_rule_param_t r;
    const uint8_t *q = m->raw + i * EL_MSG_RULE_ENTRY_BYTES;
    r.id = el_get_u16(q);
    r.value = get_i32(q + 2);
    return r;
}

/* EVENTS: u16 count | u16 reserved | count x (u32 t, u32 addr), t non-decreasing */
el_proto_status_t el_msg_events_pack_list(const el_event_t *ev, size_t count, uint8_t *buf,
                                          size_t cap, size_t *len)
{
    size_t i;
    if (count > EL_MSG_EVENTS_MAX) {
        return EL_PROTO_ERR_RANGE;
    }
    if (ev == NULL && count != 0) {
        return EL_PROTO_ERR_NULL;
    }
    for (i = 1; i < count; ++i) {
        if (ev[i].t < ev[i - 1].t) {
            return EL_PROTO_ERR_RANGE;
        }
    }
    TRY(pack_begin(buf, buf, cap, len, EL_MSG_EVENTS_HEAD_BYTES + count * EL_MSG_EVENT_BYTES));
    el_put_u16(buf, (uint16_t)count);
    for (i = 0; i < count; ++i) {
        uint8_t *q = buf + EL_MSG_EVENTS_HEAD_BYTES + i * EL_MSG_EVENT_BYTES;
        el_put_u32(q, ev[i].t);
        el_put_u32(q + 4, ev[i].addr);
    }
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_events_pack(const el_msg_events_t *m, uint8_t *buf, size_t cap,
                                     size_t *len)
{
    size_t i, n;
    if (m != NULL && m->count > EL_MSG_EVENTS_MAX) {
        return EL_PROTO_ERR_RANGE;
    }
    if (m != NULL && m->raw == NULL && m->count != 0) {
        return EL_PROTO_ERR_NULL;
    }
    n = m != NULL ? (size_t)m->count * EL_MSG_EVENT_BYTES : 0u;
    for (i = 1; m != NULL && i < m->count; ++i) {
        if (el_msg_events_at(m, i).t < el_msg_events_at(m, i - 1).t) {
            return EL_PROTO_ERR_RANGE;
        }
    }
    TRY(pack_begin(m, buf, cap, len, EL_MSG_EVENTS_HEAD_BYTES + n));
    el_put_u16(buf, m->count);
    for (i = 0; i < n; ++i) {
        buf[EL_MSG_EVENTS_HEAD_BYTES + i] = m->raw[i];
    }
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_events_unpack(const uint8_t *p, size_t len, el_msg_events_t *m)
{
    el_msg_events_t v;
    size_t i;
    if ((p == NULL && len != 0) || m == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    if (el_msg_check_len(EL_MSG_EVENTS, len) != EL_PROTO_OK || !all_zero(p + 2, 2) ||
        (size_t)el_get_u16(p) * EL_MSG_EVENT_BYTES + EL_MSG_EVENTS_HEAD_BYTES != len) {
        return EL_PROTO_E_PAYLOAD;
    }
    v.count = el_get_u16(p);
    v.raw = p + EL_MSG_EVENTS_HEAD_BYTES;
    *m = v; /* the view, also on ERR_RANGE: a caller can name the event out of order */
    for (i = 1; i < v.count; ++i) {
        if (el_msg_events_at(&v, i).t < el_msg_events_at(&v, i - 1).t) {
            return EL_PROTO_ERR_RANGE;
        }
    }
    return EL_PROTO_OK;
}

el_event_t el_msg_events_at(const el_msg_events_t *m, size_t i)
{
    el_event_t e;
    const uint8_t *q = m->raw + i * EL_MSG_EVENT_BYTES;
    e.t = el_get_u32(q);
    e.addr = el_get_u32(q + 4);
    return e;
}

/* EVENTS response: u16 accepted | u16 reserved | u32 credits | u32 queued */
el_proto_status_t el_msg_events_resp_pack(const el_msg_events_resp_t *m, uint8_t *buf,
                                          size_t cap, size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_EVENTS_RESP_BYTES));
    el_put_u16(buf, m->accepted);
    el_put_u32(buf + 4, m->credits);
    el_put_u32(buf + 8, m->queued);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_events_resp_unpack(const uint8_t *p, size_t len,
                                            el_msg_events_resp_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_EVENTS_RESP_BYTES));
    if (!all_zero(p + 2, 2)) {
        return EL_PROTO_E_PAYLOAD;
    }
    m->accepted = el_get_u16(p);
    m->credits = el_get_u32(p + 4);
    m->queued = el_get_u32(p + 8);
    return EL_PROTO_OK;
}

/* RUN: u32 steps (>= 1) */
el_proto_status_t el_msg_run_pack(const el_msg_run_t *m, uint8_t *buf, size_t cap, size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_RUN_BYTES));
    el_put_u32(buf, m->steps);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_run_unpack(const uint8_t *p, size_t len, el_msg_run_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_RUN_BYTES));
    if (el_get_u32(p) == 0) {
        return EL_PROTO_ERR_RANGE;
    }
    m->steps = el_get_u32(p);
    return EL_PROTO_OK;
}

/* RUN response: u32 step | u32 spikes | u32 events_consumed | u32 credits */
el_proto_status_t el_msg_run_resp_pack(const el_msg_run_resp_t *m, uint8_t *buf, size_t cap,
                                       size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_RUN_RESP_BYTES));
    el_put_u32(buf, m->step);
    el_put_u32(buf + 4, m->spikes);
    el_put_u32(buf + 8, m->events_consumed);
    el_put_u32(buf + 12, m->credits);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_run_resp_unpack(const uint8_t *p, size_t len, el_msg_run_resp_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_RUN_RESP_BYTES));
    m->step = el_get_u32(p);
    m->spikes = el_get_u32(p + 4);
    m->events_consumed = el_get_u32(p + 8);
    m->credits = el_get_u32(p + 12);
    return EL_PROTO_OK;
}

/* LABEL, REWARD: u16 population | u16 reserved | i32 value */
el_proto_status_t el_msg_third_pack(const el_msg_third_t *m, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_THIRD_BYTES));
    el_put_u16(buf, m->population);
    put_i32(buf + 4, m->value);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_third_unpack(const uint8_t *p, size_t len, el_msg_third_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_THIRD_BYTES));
    if (!all_zero(p + 2, 2)) {
        return EL_PROTO_E_PAYLOAD;
    }
    m->population = el_get_u16(p);
    m->value = get_i32(p + 4);
    return EL_PROTO_OK;
}

/* LEARN request and response: u8 enable / previous (0, 1) | 3 reserved */
el_proto_status_t el_msg_learn_pack(const el_msg_learn_t *m, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_LEARN_BYTES));
    buf[0] = m->enable;
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_learn_unpack(const uint8_t *p, size_t len, el_msg_learn_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_LEARN_BYTES));
    if (!all_zero(p + 1, 3)) {
        return EL_PROTO_E_PAYLOAD;
    }
    if (p[0] > 1) {
        return EL_PROTO_ERR_RANGE;
    }
    m->enable = p[0];
    return EL_PROTO_OK;
}

/* READ: u8 what | u8 flags | u16 index | u32 offset | u16 count | u16 reserved */
el_proto_status_t el_msg_read_pack(const el_msg_read_t *m, uint8_t *buf, size_t cap, size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_READ_BYTES));
    buf[0] = m->what;
    buf[1] = m->flags;
    el_put_u16(buf + 2, m->index);
    el_put_u32(buf + 4, m->offset);
    el_put_u16(buf + 8, m->count);
    return EL_PROTO_OK;
}

static uint8_t read_elem_size(uint8_t what)
{
    switch (what) {
    case EL_READ_SPIKES: return 4;
    case EL_READ_PREDICTION: return 4;
    case EL_READ_WEIGHTS: return 1;
    default: return 0;
    }
}

el_proto_status_t el_msg_read_unpack(const uint8_t *p, size_t len, el_msg_read_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_READ_BYTES));
    if ((p[1] & ~EL_READ_FLAG_CLEAR) != 0 || !all_zero(p + 10, 2)) {
        return EL_PROTO_E_PAYLOAD;
    }
    if (read_elem_size(p[0]) == 0 || el_get_u16(p + 8) == 0) {
        return EL_PROTO_ERR_RANGE;
    }
    m->what = p[0];
    m->flags = p[1];
    m->index = el_get_u16(p + 2);
    m->offset = el_get_u32(p + 4);
    m->count = el_get_u16(p + 8);
    return EL_PROTO_OK;
}

/* READ response: u8 what | u8 elem_size | u16 index | u32 offset | u32 total | u16 count |
 * u16 reserved | count * elem_size data bytes */
el_proto_status_t el_msg_read_resp_pack(const el_msg_read_resp_t *m, uint8_t *buf, size_t cap,
                                        size_t *len)
{
    size_t i, n;
    if (m != NULL && (read_elem_size(m->what) == 0 || m->elem_size != read_elem_size(m->what) ||
                      m->count == 0 ||
                      (size_t)m->count * m->elem_size > EL_MSG_READ_MAX_DATA)) {
        return EL_PROTO_ERR_RANGE;
    }
    if (m != NULL && m->data == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    n = m != NULL ? (size_t)m->count * m->elem_size : 0u;
    TRY(pack_begin(m, buf, cap, len, EL_MSG_READ_RESP_HEAD_BYTES + n));
    buf[0] = m->what;
    buf[1] = m->elem_size;
    el_put_u16(buf + 2, m->index);
    el_put_u32(buf + 4, m->offset);
    el_put_u32(buf + 8, m->total);
    el_put_u16(buf + 12, m->count);
    for (i = 0; i < n; ++i) {
        buf[EL_MSG_READ_RESP_HEAD_BYTES + i] = m->data[i];
    }
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_read_resp_unpack(const uint8_t *p, size_t len, el_msg_read_resp_t *m)
{
    if ((p == NULL && len != 0) || m == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    if (el_msg_check_len((uint8_t)(EL_MSG_READ | EL_MSG_RESPONSE), len) != EL_PROTO_OK ||
        !all_zero(p + 14, 2) ||
        (size_t)el_get_u16(p + 12) * p[1] + EL_MSG_READ_RESP_HEAD_BYTES != len) {
        return EL_PROTO_E_PAYLOAD;
    }
    if (read_elem_size(p[0]) == 0 || p[1] != read_elem_size(p[0])) {
        return EL_PROTO_ERR_RANGE;
    }
    m->what = p[0];
    m->elem_size = p[1];
    m->index = el_get_u16(p + 2);
    m->offset = el_get_u32(p + 4);
    m->total = el_get_u32(p + 8);
    m->count = el_get_u16(p + 12);
    m->data = p + EL_MSG_READ_RESP_HEAD_BYTES;
    return EL_PROTO_OK;
}

/* SAVE, RESTORE responses: u32 generation | u8 slot | 3 reserved */
el_proto_status_t el_msg_slot_pack(const el_msg_slot_t *m, uint8_t *buf, size_t cap, size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_SLOT_RESP_BYTES));
    el_put_u32(buf, m->generation);
    buf[4] = m->slot;
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_slot_unpack(const uint8_t *p, size_t len, el_msg_slot_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_SLOT_RESP_BYTES));
    if (!all_zero(p + 5, 3)) {
        return EL_PROTO_E_PAYLOAD;
    }
    m->generation = el_get_u32(p);
    m->slot = p[4];
    return EL_PROTO_OK;
}

/* ERROR: u16 status | u8 request_type | u8 reserved | u32 detail */
el_proto_status_t el_msg_error_pack(const el_msg_error_t *m, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    TRY(pack_begin(m, buf, cap, len, EL_MSG_ERROR_BYTES));
    el_put_u16(buf, m->status);
    buf[2] = m->request_type;
    el_put_u32(buf + 4, m->detail);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_error_unpack(const uint8_t *p, size_t len, el_msg_error_t *m)
{
    TRY(unpack_begin(p, len, m, EL_MSG_ERROR_BYTES));
    if (p[3] != 0) {
        return EL_PROTO_E_PAYLOAD;
    }
    if (el_get_u16(p) == 0) {
        return EL_PROTO_ERR_RANGE;
    }
    m->status = el_get_u16(p);
    m->request_type = p[2];
    m->detail = el_get_u32(p + 4);
    return EL_PROTO_OK;
}

/* One- and two-u32 responses */
el_proto_status_t el_msg_u32_pack(uint32_t value, uint8_t *buf, size_t cap, size_t *len)
{
    TRY(pack_begin(buf, buf, cap, len, 4));
    el_put_u32(buf, value);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_u32_unpack(const uint8_t *p, size_t len, uint32_t *value)
{
    TRY(unpack_begin(p, len, value, 4));
    *value = el_get_u32(p);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_u32x2_pack(uint32_t a, uint32_t b, uint8_t *buf, size_t cap,
                                    size_t *len)
{
    TRY(pack_begin(buf, buf, cap, len, 8));
    el_put_u32(buf, a);
    el_put_u32(buf + 4, b);
    return EL_PROTO_OK;
}

el_proto_status_t el_msg_u32x2_unpack(const uint8_t *p, size_t len, uint32_t *a, uint32_t *b)
{
    TRY(unpack_begin(p, len, a, 8));
    if (b == NULL) {
        return EL_PROTO_ERR_NULL;
    }
    *a = el_get_u32(p);
    *b = el_get_u32(p + 4);
    return EL_PROTO_OK;
}

/* ---- whole-payload validation ---------------------------------------------------------------- */

el_proto_status_t el_msg_validate(uint8_t type, const uint8_t *payload, size_t len)
{
    union {
        el_msg_info_t info;
        el_msg_reset_t reset;
        el_msg_load_begin_t load_begin;
        el_msg_load_begin_resp_t load_begin_resp;
        el_msg_load_chunk_t load_chunk;
        el_msg_rule_t rule;
        el_msg_events_t events;
        el_msg_events_resp_t events_resp;
        el_msg_run_t run;
        el_msg_run_resp_t run_resp;
        el_msg_third_t third;
        el_msg_learn_t learn;
        el_msg_read_t read;
        el_msg_read_resp_t read_resp;
        el_msg_slot_t slot;
        el_msg_error_t error;
        uint32_t u[2];
    } m;
    if (payload == NULL && len != 0) {
        return EL_PROTO_ERR_NULL;
    }
    TRY(el_msg_check_len(type, len));
    switch (type) {
    case EL_MSG_INFO | EL_MSG_RESPONSE: return el_msg_info_unpack(payload, len, &m.info);
    case EL_MSG_RESET: return el_msg_reset_unpack(payload, len, &m.reset);
    case EL_MSG_LOAD_BEGIN: return el_msg_load_begin_unpack(payload, len, &m.load_begin);
    case EL_MSG_LOAD_BEGIN | EL_MSG_RESPONSE:
        return el_msg_load_begin_resp_unpack(payload, len, &m.load_begin_resp);
    case EL_MSG_LOAD_CHUNK: return el_msg_load_chunk_unpack(payload, len, &m.load_chunk);
    case EL_MSG_LOAD_CHUNK | EL_MSG_RESPONSE:
    case EL_MSG_RULE | EL_MSG_RESPONSE: return el_msg_u32_unpack(payload, len, &m.u[0]);
    case EL_MSG_LOAD_COMMIT | EL_MSG_RESPONSE:
        return el_msg_u32x2_unpack(payload, len, &m.u[0], &m.u[1]);
    case EL_MSG_RULE: return el_msg_rule_unpack(payload, len, &m.rule);
    case EL_MSG_EVENTS: return el_msg_events_unpack(payload, len, &m.events);
    case EL_MSG_EVENTS | EL_MSG_RESPONSE:
        return el_msg_events_resp_unpack(payload, len, &m.events_resp);
    case EL_MSG_RUN: return el_msg_run_unpack(payload, len, &m.run);
    case EL_MSG_RUN | EL_MSG_RESPONSE: return el_msg_run_resp_unpack(payload, len, &m.run_resp);
    case EL_MSG_LABEL:
    case EL_MSG_REWARD: return el_msg_third_unpack(payload, len, &m.third);
    case EL_MSG_LEARN:
    case EL_MSG_LEARN | EL_MSG_RESPONSE: return el_msg_learn_unpack(payload, len, &m.learn);
    case EL_MSG_READ: return el_msg_read_unpack(payload, len, &m.read);
    case EL_MSG_READ | EL_MSG_RESPONSE: return el_msg_read_resp_unpack(payload, len, &m.read_resp);
    case EL_MSG_SAVE | EL_MSG_RESPONSE:
    case EL_MSG_RESTORE | EL_MSG_RESPONSE: return el_msg_slot_unpack(payload, len, &m.slot);
    case EL_MSG_ERROR: return el_msg_error_unpack(payload, len, &m.error);
    default: return EL_PROTO_OK; /* PING and the empty payloads: the size was all there is */
    }
}
