/*
 * Test helper shared by test_proto.c and test_proto_fuzz.c: decode any payload with the C
 * unpackers, flatten its fields (same order as edgelearn.protocol.Message.flat()) and pack it
 * again. A payload that unpacks must pack back to the very same bytes (the encoding is
 * canonical: reserved bytes are zero, sizes are exact).
 */
#ifndef PROTO_ANY_H
#define PROTO_ANY_H

#include <stddef.h>
#include <stdint.h>

#include "el_proto.h"

#define PA_FLAT_MAX 1100

typedef struct pa_out {
    int64_t flat[PA_FLAT_MAX];
    size_t n_flat;
    uint8_t re[EL_PROTO_MAX_PAYLOAD];
    size_t re_len;
} pa_out_t;

#define PA_PUSH(x)                               \
    do {                                         \
        if (o->n_flat < PA_FLAT_MAX) {           \
            o->flat[o->n_flat] = (int64_t)(x);   \
        }                                        \
        o->n_flat++;                             \
    } while (0)

#define PA_TRY(expr)                          \
    do {                                      \
        el_proto_status_t st_ = (expr);       \
        if (st_ != EL_PROTO_OK) {             \
            return st_;                       \
        }                                     \
    } while (0)

static el_proto_status_t pa_decode(uint8_t type, const uint8_t *p, size_t len, pa_out_t *o)
{
    size_t i;
    o->n_flat = 0;
    o->re_len = 0;
    PA_TRY(el_msg_check_len(type, len));
    switch (type) {
    case EL_MSG_PING:
    case EL_MSG_PING | EL_MSG_RESPONSE:
        for (i = 0; i < len; ++i) {
            PA_PUSH(p[i]);
            o->re[i] = p[i];
        }
        o->re_len = len;
        return EL_PROTO_OK;
    case EL_MSG_INFO:
    case EL_MSG_RESET | EL_MSG_RESPONSE:
    case EL_MSG_LOAD_COMMIT:
    case EL_MSG_LABEL | EL_MSG_RESPONSE:
    case EL_MSG_REWARD | EL_MSG_RESPONSE:
    case EL_MSG_SAVE:
    case EL_MSG_RESTORE:
        return EL_PROTO_OK; /* empty: el_msg_check_len said so */
    case EL_MSG_INFO | EL_MSG_RESPONSE: {
        el_msg_info_t m;
        PA_TRY(el_msg_info_unpack(p, len, &m));
        PA_PUSH(m.proto_version); PA_PUSH(m.fw_major); PA_PUSH(m.fw_minor); PA_PUSH(m.fw_patch);
        PA_PUSH(m.max_payload); PA_PUSH(m.rx_window); PA_PUSH(m.caps); PA_PUSH(m.event_queue);
        PA_PUSH(m.max_artifact_bytes); PA_PUSH(m.max_neurons); PA_PUSH(m.max_synapses);
        PA_PUSH(m.ram_bytes); PA_PUSH(m.max_run_steps); PA_PUSH(m.flash_slots);
        PA_PUSH(m.model_loaded); PA_PUSH(m.learning); PA_PUSH(m.step);
        return el_msg_info_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_RESET: {
        el_msg_reset_t m;
        PA_TRY(el_msg_reset_unpack(p, len, &m));
        PA_PUSH(m.mode);
        return el_msg_reset_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_LOAD_BEGIN: {
        el_msg_load_begin_t m;
        PA_TRY(el_msg_load_begin_unpack(p, len, &m));
        PA_PUSH(m.total_size); PA_PUSH(m.crc);
        return el_msg_load_begin_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_LOAD_BEGIN | EL_MSG_RESPONSE: {
        el_msg_load_begin_resp_t m;
        PA_TRY(el_msg_load_begin_resp_unpack(p, len, &m));
        PA_PUSH(m.total_size); PA_PUSH(m.chunk_max);
        return el_msg_load_begin_resp_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_LOAD_CHUNK: {
        el_msg_load_chunk_t m;
        PA_TRY(el_msg_load_chunk_unpack(p, len, &m));
        PA_PUSH(m.offset);
        for (i = 0; i < m.n; ++i) {
            PA_PUSH(m.data[i]);
        }
        return el_msg_load_chunk_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_LOAD_CHUNK | EL_MSG_RESPONSE:
    case EL_MSG_RULE | EL_MSG_RESPONSE: {
        uint32_t v;
        PA_TRY(el_msg_u32_unpack(p, len, &v));
        PA_PUSH(v);
        return el_msg_u32_pack(v, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_LOAD_COMMIT | EL_MSG_RESPONSE: {
        uint32_t a, b;
        PA_TRY(el_msg_u32x2_unpack(p, len, &a, &b));
        PA_PUSH(a); PA_PUSH(b);
        return el_msg_u32x2_pack(a, b, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_RULE: {
        el_msg_rule_t m;
        PA_TRY(el_msg_rule_unpack(p, len, &m));
        for (i = 0; i < m.count; ++i) {
            el_rule_param_t e = el_msg_rule_at(&m, i);
            PA_PUSH(e.id); PA_PUSH(e.value);
        }
        return el_msg_rule_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_EVENTS: {
        el_msg_events_t m;
        PA_TRY(el_msg_events_unpack(p, len, &m));
        for (i = 0; i < m.count; ++i) {
            el_event_t e = el_msg_events_at(&m, i);
            PA_PUSH(e.t); PA_PUSH(e.addr);
        }
        return el_msg_events_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_EVENTS | EL_MSG_RESPONSE: {
        el_msg_events_resp_t m;
        PA_TRY(el_msg_events_resp_unpack(p, len, &m));
        PA_PUSH(m.accepted); PA_PUSH(m.credits); PA_PUSH(m.queued);
        return el_msg_events_resp_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_RUN: {
        el_msg_run_t m;
        PA_TRY(el_msg_run_unpack(p, len, &m));
        PA_PUSH(m.steps);
        return el_msg_run_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_RUN | EL_MSG_RESPONSE: {
        el_msg_run_resp_t m;
        PA_TRY(el_msg_run_resp_unpack(p, len, &m));
        PA_PUSH(m.step); PA_PUSH(m.spikes); PA_PUSH(m.events_consumed); PA_PUSH(m.credits);
        return el_msg_run_resp_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_LABEL:
    case EL_MSG_REWARD: {
        el_msg_third_t m;
        PA_TRY(el_msg_third_unpack(p, len, &m));
        PA_PUSH(m.population); PA_PUSH(m.value);
        return el_msg_third_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_LEARN:
    case EL_MSG_LEARN | EL_MSG_RESPONSE: {
        el_msg_learn_t m;
        PA_TRY(el_msg_learn_unpack(p, len, &m));
        PA_PUSH(m.enable);
        return el_msg_learn_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_READ: {
        el_msg_read_t m;
        PA_TRY(el_msg_read_unpack(p, len, &m));
        PA_PUSH(m.what); PA_PUSH(m.flags); PA_PUSH(m.index); PA_PUSH(m.offset); PA_PUSH(m.count);
        return el_msg_read_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_READ | EL_MSG_RESPONSE: {
        el_msg_read_resp_t m;
        PA_TRY(el_msg_read_resp_unpack(p, len, &m));
        PA_PUSH(m.what); PA_PUSH(m.elem_size); PA_PUSH(m.index); PA_PUSH(m.offset);
        PA_PUSH(m.total); PA_PUSH(m.count);
        for (i = 0; i < m.count; ++i) {
            const uint8_t *q = m.data + i * m.elem_size;
            if (m.what == EL_READ_WEIGHTS) {
                PA_PUSH((int64_t)q[0] - (q[0] >= 128 ? 256 : 0));
            } else {
                int64_t u = (int64_t)q[0] | ((int64_t)q[1] << 8) | ((int64_t)q[2] << 16) |
                            ((int64_t)q[3] << 24);
                PA_PUSH(m.what == EL_READ_PREDICTION && u >= 0x80000000LL ? u - 0x100000000LL : u);
            }
        }
        return el_msg_read_resp_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_SAVE | EL_MSG_RESPONSE:
    case EL_MSG_RESTORE | EL_MSG_RESPONSE: {
        el_msg_slot_t m;
        PA_TRY(el_msg_slot_unpack(p, len, &m));
        PA_PUSH(m.generation); PA_PUSH(m.slot);
        return el_msg_slot_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    case EL_MSG_ERROR: {
        el_msg_error_t m;
        PA_TRY(el_msg_error_unpack(p, len, &m));
        PA_PUSH(m.status); PA_PUSH(m.request_type); PA_PUSH(m.detail);
        return el_msg_error_pack(&m, o->re, sizeof o->re, &o->re_len);
    }
    default:
        return EL_PROTO_E_TYPE; /* el_msg_check_len knows a type this switch does not */
    }
}

#endif /* PROTO_ANY_H */
