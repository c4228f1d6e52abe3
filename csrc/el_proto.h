/**
 * @file el_proto.h
 * @brief The serial protocol's codec: COBS framing, CRC-32, frame building, a byte-at-a-time
 *        receiver and the payload layout of every message (docs/protocol.md).
 *
 * The same protocol is written in Python in edgelearn/protocol.py; both are tested with the
 * golden frames of tests/vectors/protocol_frames.json (C: csrc/tests/proto_vectors.h, generated
 * from the same script). A change here is a change there and in docs/protocol.md.
 *
 * ## Frame
 *
 * On the wire a frame is `COBS(header | payload | crc) 0x00`:
 *
 * | bytes | field   | meaning                                                          |
 * |-------|---------|------------------------------------------------------------------|
 * | 0     | version | ::EL_PROTO_VERSION                                               |
 * | 1     | type    | message type (`EL_MSG_*`)                                        |
 * | 2..3  | seq     | sequence number, u16 LE; a response repeats its request's        |
 * | 4..5  | len     | payload length, u16 LE, 0 .. ::EL_PROTO_MAX_PAYLOAD               |
 * | 6..   | payload | `len` bytes, layout per type (little-endian)                     |
 * | last 4| crc     | CRC-32/ISO-HDLC of header and payload, u32 LE (check 0xCBF43926) |
 *
 * ## Memory
 *
 * Nothing here allocates or keeps static state. ::el_rx_t is a plain struct the caller owns
 * (about 1 KiB: it holds one decoded frame); frame builders write into caller buffers and
 * report how many bytes they wrote. Payload decoders return views into the caller's payload
 * (no copies), valid as long as that buffer is.
 *
 * ## Status codes
 *
 * Every fallible call returns an ::el_proto_status_t. 0 is success; 1 .. 31 are the common codes
 * of el_status.h (same values); the protocol's own codes use the block
 * ::EL_STATUS_BLOCK_PROTO (32 .. 63). The same numbers travel in ERROR frames.
 */
#ifndef EL_PROTO_H
#define EL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "el_status.h"

#if EL_STATUS_BLOCK_PROTO != 32
#error "el_proto's status codes (EL_PROTO_E_*) assume el_status.h's protocol block starts at 32"
#endif

/* ---- sizes and limits (mirrored in edgelearn/protocol.py; tests/test_protocol.py compares) -- */

#define EL_PROTO_VERSION 1          /**< protocol version carried in byte 0 of every header */
#define EL_PROTO_HEADER_BYTES 6     /**< version, type, seq (u16), len (u16) */
#define EL_PROTO_CRC_BYTES 4        /**< CRC-32/ISO-HDLC trailer */
#define EL_PROTO_MAX_PAYLOAD 1024   /**< largest payload of any frame (see docs/protocol.md) */
/** Largest decoded frame: header + payload + CRC (1034). */
#define EL_PROTO_MAX_FRAME (EL_PROTO_HEADER_BYTES + EL_PROTO_MAX_PAYLOAD + EL_PROTO_CRC_BYTES)
/** Upper bound of the COBS encoding of @p n bytes (n + n/254 + 1). */
#define EL_PROTO_COBS_BOUND(n) ((n) + (n) / 254 + 1)
/** Wire bytes of a frame with a @p n -byte payload, at most: COBS bound plus the delimiter. */
#define EL_PROTO_WIRE_BOUND(n) \
    (EL_PROTO_COBS_BOUND(EL_PROTO_HEADER_BYTES + (n) + EL_PROTO_CRC_BYTES) + 1)
/** Largest frame on the wire, delimiter included (1040). Size transmit buffers with this. */
#define EL_PROTO_MAX_WIRE EL_PROTO_WIRE_BOUND(EL_PROTO_MAX_PAYLOAD)
#define EL_PROTO_DELIMITER 0x00     /**< frame delimiter on the wire */
#define EL_PROTO_CRC_CHECK 0xCBF43926UL /**< CRC-32/ISO-HDLC of the ASCII bytes "123456789" */
#define EL_PROTO_SEQ_UNATTRIBUTED 0 /**< seq of device errors about frames it could not trust */

/* ---- message types --------------------------------------------------------------------- */

/** A response's type is its request's type | ::EL_MSG_RESPONSE. ERROR answers any request. */
#define EL_MSG_RESPONSE 0x80
#define EL_MSG_PING 0x01
#define EL_MSG_INFO 0x02
#define EL_MSG_RESET 0x03
#define EL_MSG_LOAD_BEGIN 0x10
#define EL_MSG_LOAD_CHUNK 0x11
#define EL_MSG_LOAD_COMMIT 0x12
#define EL_MSG_RULE 0x20
#define EL_MSG_EVENTS 0x30
#define EL_MSG_RUN 0x31
#define EL_MSG_LABEL 0x32
#define EL_MSG_REWARD 0x33
#define EL_MSG_LEARN 0x34
#define EL_MSG_READ 0x40
#define EL_MSG_SAVE 0x50
#define EL_MSG_RESTORE 0x51
#define EL_MSG_ERROR 0xFF

/* ---- field sizes and values ------------------------------------------------------------ */

#define EL_MSG_INFO_RESP_BYTES 44
#define EL_MSG_RESET_BYTES 4
#define EL_MSG_LOAD_BEGIN_BYTES 12
#define EL_MSG_LOAD_BEGIN_RESP_BYTES 8
#define EL_MSG_LOAD_CHUNK_HEAD_BYTES 4 /**< offset; then 1 .. MAX_PAYLOAD - 4 data bytes */
#define EL_MSG_LOAD_CHUNK_MAX_DATA (EL_PROTO_MAX_PAYLOAD - EL_MSG_LOAD_CHUNK_HEAD_BYTES)
#define EL_MSG_LOAD_CHUNK_RESP_BYTES 4
#define EL_MSG_LOAD_COMMIT_RESP_BYTES 8
#define EL_MSG_RULE_HEAD_BYTES 4       /**< count, reserved; then count entries */
#define EL_MSG_RULE_ENTRY_BYTES 6      /**< u16 id, i32 value */
#define EL_MSG_RULE_MAX_ENTRIES \
    ((EL_PROTO_MAX_PAYLOAD - EL_MSG_RULE_HEAD_BYTES) / EL_MSG_RULE_ENTRY_BYTES)
#define EL_MSG_RULE_RESP_BYTES 4
#define EL_MSG_EVENTS_HEAD_BYTES 4     /**< count, reserved; then count events */
#define EL_MSG_EVENT_BYTES 8           /**< u32 t, u32 addr */
#define EL_MSG_EVENTS_MAX \
    ((EL_PROTO_MAX_PAYLOAD - EL_MSG_EVENTS_HEAD_BYTES) / EL_MSG_EVENT_BYTES)
#define EL_MSG_EVENTS_RESP_BYTES 12
#define EL_MSG_RUN_BYTES 4
#define EL_MSG_RUN_RESP_BYTES 16
#define EL_MSG_THIRD_BYTES 8           /**< LABEL and REWARD: u16 population, reserved, i32 */
#define EL_MSG_LEARN_BYTES 4
#define EL_MSG_LEARN_RESP_BYTES 4
#define EL_MSG_READ_BYTES 12
#define EL_MSG_READ_RESP_HEAD_BYTES 16
#define EL_MSG_READ_MAX_DATA (EL_PROTO_MAX_PAYLOAD - EL_MSG_READ_RESP_HEAD_BYTES)
#define EL_MSG_SLOT_RESP_BYTES 8       /**< SAVE and RESTORE responses */
#define EL_MSG_ERROR_BYTES 8

/** INFO capability bits. */
#define EL_CAP_LOAD 0x01u
#define EL_CAP_LEARN 0x02u
#define EL_CAP_FLASH 0x04u
#define EL_CAP_READ_WEIGHTS 0x08u
#define EL_CAP_RULE 0x10u
#define EL_CAP_LABEL 0x20u
#define EL_CAP_REWARD 0x40u
/** the core computes third factors from designated neurons (docs/spec.md 5.3) */
#define EL_CAP_COMPUTED_THIRD 0x80u

/** RESET modes. */
#define EL_RESET_STATE 0 /**< clear neuron state, traces, queue, step, counters; keep the model */
#define EL_RESET_MODEL 1 /**< also unload the model (RAM only; flash is untouched) */

/** READ selectors and flags. */
#define EL_READ_SPIKES 1     /**< u32 spike count per neuron of population `index` */
#define EL_READ_PREDICTION 2 /**< i32: predicted class of population `index` (-1: none) */
#define EL_READ_WEIGHTS 3    /**< i8 weight mantissas of connection `index`, row-major */
#define EL_READ_FLAG_CLEAR 0x01u /**< SPIKES: zero the counters after reading them */

/* ---- status codes ---------------------------------------------------------------------- */

/** Status of a protocol call, and the status field of an ERROR frame. */
typedef enum el_proto_status {
    EL_PROTO_OK = 0,                     /**< success */
    EL_PROTO_ERR_NULL = 1,               /**< = EL_ERR_NULL: a required pointer is NULL */
    EL_PROTO_ERR_RANGE = 2,              /**< = EL_ERR_RANGE: a field is out of its range */
    EL_PROTO_ERR_SIZE = 3,               /**< = EL_ERR_SIZE: a caller buffer is too small */
    EL_PROTO_ERR_UNSUPPORTED = 5,        /**< = EL_ERR_UNSUPPORTED: capability not present */
    EL_PROTO_ERR_STATE = 6,              /**< = EL_ERR_STATE: not allowed in this state */
    EL_PROTO_E_COBS = 32,                /**< a frame ended inside a COBS block */
    EL_PROTO_E_CRC = 33,                 /**< CRC mismatch */
    EL_PROTO_E_SHORT = 34,               /**< decoded frame shorter than header + CRC */
    EL_PROTO_E_OVERSIZE = 35,            /**< frame longer than EL_PROTO_MAX_FRAME; discarded */
    EL_PROTO_E_LENGTH = 36,              /**< header length disagrees with the frame / limit */
    EL_PROTO_E_VERSION = 37,             /**< unknown protocol version */
    EL_PROTO_E_TYPE = 38,                /**< unknown message type (or wrong direction) */
    EL_PROTO_E_PAYLOAD = 39,             /**< payload size or reserved bytes wrong for the type */
    EL_PROTO_E_SEQ = 40,                 /**< sequence number 0 in a request */
    EL_PROTO_E_BUSY = 41,                /**< backpressure: nothing done, retry later */
    EL_PROTO_E_OFFSET = 42,              /**< LOAD_CHUNK offset is not the next expected byte */
    EL_PROTO_E_ARTIFACT_CRC = 43,        /**< LOAD_COMMIT: artifact CRC mismatch */
    EL_PROTO_E_INCOMPLETE = 44,          /**< LOAD_COMMIT before all bytes arrived */
    EL_PROTO_E_TOO_BIG = 45,             /**< artifact larger than the device can hold */
    EL_PROTO_E_NO_MODEL = 46,            /**< the request needs a loaded model */
    EL_PROTO_E_FLASH = 47,               /**< flash write/verify failed */
    EL_PROTO_E_NO_SAVE = 48              /**< RESTORE: no valid saved model in flash */
} el_proto_status_t;

/* ---- CRC and COBS ---------------------------------------------------------------------- */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief CRC-32/ISO-HDLC (zlib's crc32: reflected, poly 0x04C11DB7, init and xorout 0xFFFFFFFF).
 *
 * Chains like zlib: `c = el_crc32(0, a, na); c = el_crc32(c, b, nb);` equals the CRC of a|b.
 * @param crc  0 to start, or the result of a previous call
 * @param data bytes (may be NULL only when @p n is 0)
 * @param n    number of bytes
 * @return the CRC; el_crc32(0, "123456789", 9) == ::EL_PROTO_CRC_CHECK
 */
uint32_t el_crc32(uint32_t crc, const uint8_t *data, size_t n);

/**
 * @brief COBS-encode @p n bytes (no delimiter is written).
 *
 * Canonical form: a final full block (code 0xFF) is not followed by an extra 0x01 code.
 * @param dst     receives at most EL_PROTO_COBS_BOUND(n) bytes
 * @param out_len receives the number of bytes written
 * @return ::EL_PROTO_OK, ::EL_PROTO_ERR_NULL, ::EL_PROTO_ERR_SIZE (@p cap too small)
 */
el_proto_status_t el_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                 size_t *out_len);

/**
 * @brief Decode one COBS block sequence (without its delimiter).
 *
 * Accepts the canonical form and the variant with a trailing 0x01 after a final full block.
 * @return ::EL_PROTO_OK, ::EL_PROTO_ERR_NULL, ::EL_PROTO_E_COBS (a 0x00 inside, or a block
 *         running past the end), ::EL_PROTO_ERR_SIZE (decoded data exceeds @p cap)
 */
el_proto_status_t el_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                 size_t *out_len);

/* ---- frames ---------------------------------------------------------------------------- */

/** A decoded frame: header fields and a view of the payload (inside the receiver's buffer). */
typedef struct el_proto_frame {
    uint8_t version;
    uint8_t type;
    uint16_t seq;
    uint16_t len;            /**< payload bytes */
    uint32_t crc;            /**< the frame's CRC (a retransmission has the same seq and crc) */
    const uint8_t *payload;  /**< @p len bytes; NULL when len is 0 */
} el_proto_frame_t;

/**
 * @brief Build a complete wire frame: COBS(header | payload | CRC) followed by 0x00.
 *
 * @param type    any byte (unknown types are the receiver's to reject)
 * @param seq     sequence number (0 is reserved for unattributed device errors)
 * @param payload @p len bytes (may be NULL only when @p len is 0)
 * @param len     0 .. ::EL_PROTO_MAX_PAYLOAD
 * @param out     receives at most EL_PROTO_WIRE_BOUND(len) bytes (::EL_PROTO_MAX_WIRE always
 *                suffices)
 * @param out_len receives the number of bytes written, delimiter included
 * @return ::EL_PROTO_OK, ::EL_PROTO_ERR_NULL, ::EL_PROTO_E_LENGTH, ::EL_PROTO_ERR_SIZE
 */
el_proto_status_t el_frame_build(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len,
                                 uint8_t *out, size_t cap, size_t *out_len);

/**
 * @brief Whether @p type is a type of this protocol version (request, response or ERROR).
 */
bool el_msg_type_known(uint8_t type);

/**
 * @brief Whether @p len is an allowed payload length for @p type (docs/protocol.md, "Messages").
 * @return ::EL_PROTO_OK, ::EL_PROTO_E_TYPE (unknown type), ::EL_PROTO_E_PAYLOAD (bad length)
 */
el_proto_status_t el_msg_check_len(uint8_t type, size_t len);

/* ---- receiver -------------------------------------------------------------------------- */

/** Receiver state (one decoded frame plus a few counters). Treat fields as private. */
typedef struct el_rx {
    uint8_t buf[EL_PROTO_MAX_FRAME]; /**< decoded bytes of the frame being received */
    uint16_t n;                      /**< decoded bytes so far */
    uint16_t frame_n;                /**< decoded bytes of the last completed frame */
    uint8_t state;                   /**< idle, in a frame, discarding until 0x00 */
    uint8_t remaining;               /**< data bytes left in the current COBS block */
    uint8_t zero_pending;            /**< the current block ends in a (non-final) zero */
    uint8_t header_ok;               /**< the last completed frame passed its CRC */
    uint32_t frames;                 /**< good frames received */
    uint32_t errors;                 /**< frames rejected (each error status counts once) */
} el_rx_t;

/** Reset @p rx to wait for a new frame; counters are zeroed. */
el_proto_status_t el_rx_init(el_rx_t *rx);

/**
 * @brief Push one received byte.
 *
 * A frame completes at its 0x00 delimiter. Then *ready is true and el_rx_frame() gives it; it
 * stays valid until the next push. On any error the frame so far is dropped and the receiver
 * resynchronises by itself: it waits for the next 0x00 (after ::EL_PROTO_E_OVERSIZE) or starts
 * afresh (after the other errors); each error is reported once. Empty frames (0x00 0x00) are
 * ignored silently, so a sender may emit 0x00 at any time to flush a partial frame.
 *
 * Checks at the delimiter, in this order: COBS block complete (::EL_PROTO_E_COBS), at least
 * header + CRC (::EL_PROTO_E_SHORT), CRC (::EL_PROTO_E_CRC), version (::EL_PROTO_E_VERSION),
 * length field (::EL_PROTO_E_LENGTH), type known (::EL_PROTO_E_TYPE). The payload's size for
 * the type is left to el_msg_check_len() (the dispatcher answers it with an ERROR frame).
 * ::EL_PROTO_E_OVERSIZE is reported at the byte that overflows.
 *
 * @param ready receives true when a good frame completed with this byte
 * @return ::EL_PROTO_OK (also when a frame is ready), ::EL_PROTO_ERR_NULL, or one of the
 *         framing errors above (then *ready is false)
 */
el_proto_status_t el_rx_push(el_rx_t *rx, uint8_t byte, bool *ready);

/**
 * @brief The last completed frame's header and payload.
 *
 * Valid after a push that set *ready, and also after ::EL_PROTO_E_VERSION, ::EL_PROTO_E_LENGTH
 * and ::EL_PROTO_E_TYPE (the CRC was good, so seq and type can be trusted for the ERROR reply;
 * after E_VERSION and E_LENGTH payload is NULL and len 0).
 * @return ::EL_PROTO_OK, ::EL_PROTO_ERR_NULL, ::EL_PROTO_ERR_STATE (no trusted header)
 */
el_proto_status_t el_rx_frame(const el_rx_t *rx, el_proto_frame_t *frame);

/**
 * @brief Push bytes until one of them completes a frame or reports an error.
 *
 * For DMA or FIFO buffers: loop `while (n) { st = el_rx_feed(rx, p, n, &used, &ready);
 * p += used; n -= used; handle st / ready; }`. Same semantics as el_rx_push() byte by byte.
 * @param consumed receives the bytes taken (the last one is the one that completed or failed)
 * @return as el_rx_push() for the last byte taken
 */
el_proto_status_t el_rx_feed(el_rx_t *rx, const uint8_t *data, size_t n, size_t *consumed,
                             bool *ready);

/**
 * @brief What the device answers to a frame the receiver rejected with @p rx_status.
 *
 * Builds the ERROR frame of docs/protocol.md section 1: with the frame's seq and type when its
 * header is trusted (E_VERSION, E_LENGTH, E_TYPE), else unattributed (seq 0, type 0). For
 * E_VERSION the detail is ::EL_PROTO_VERSION.
 * @return as el_frame_build(); ::EL_PROTO_ERR_RANGE if @p rx_status is not a receiver error
 */
el_proto_status_t el_rx_error_reply(const el_rx_t *rx, el_proto_status_t rx_status, uint8_t *out,
                                    size_t cap, size_t *out_len);

/**
 * @brief Build a complete ERROR frame (header, payload, CRC, COBS, delimiter).
 * @param status        the status to report (>= 1)
 * @param request_type  type of the request it answers (0 when unattributed)
 * @param detail        per status (docs/protocol.md section 5), else 0
 * @return as el_frame_build(); ::EL_PROTO_ERR_RANGE when @p status is 0 or above 0xFFFF
 */
el_proto_status_t el_frame_build_error(uint16_t seq, uint8_t request_type, int status,
                                       uint32_t detail, uint8_t *out, size_t cap,
                                       size_t *out_len);

/* ---- retransmissions ------------------------------------------------------------------- */

/**
 * The device's memory of the last request it answered (docs/protocol.md section 2). A request
 * with the same seq, type and crc is a retransmission: answer it with the cached response bytes
 * (keep them, e.g. in the transmit buffer) without executing it again.
 */
typedef struct el_proto_dedup {
    uint32_t crc;
    uint16_t seq;
    uint8_t type;
    uint8_t valid;
} el_proto_dedup_t;

/** Forget any request (at boot, or when the cached response bytes are gone). */
void el_dedup_init(el_proto_dedup_t *d);

/** Whether @p req repeats the remembered request. Never true for seq 0. */
bool el_dedup_is_repeat(const el_proto_dedup_t *d, const el_proto_frame_t *req);

/** Remember @p req as answered (after its response was built; not for seq 0). */
void el_dedup_remember(el_proto_dedup_t *d, const el_proto_frame_t *req);

/** Name of a protocol status, e.g. "EL_PROTO_E_CRC" ("EL_PROTO_UNKNOWN" otherwise). */
const char *el_proto_status_name(int status);

/* ---- payloads ---------------------------------------------------------------------------- */
/*
 * Each message with fields has a struct, `el_msg_X_pack(const *m, buf, cap, *len)` and
 * `el_msg_X_unpack(payload, len, *m)`. Packers write little-endian and zero every reserved
 * byte; unpackers check the exact size, that reserved bytes are zero (::EL_PROTO_E_PAYLOAD)
 * and documented ranges (::EL_PROTO_ERR_RANGE). Messages with empty payloads (INFO, LOAD_COMMIT,
 * SAVE, RESTORE requests; RESET, LABEL, REWARD responses) need only el_msg_check_len(); PING
 * and its response carry raw bytes.
 */

/** INFO response. */
typedef struct el_msg_info {
    uint8_t proto_version;
    uint8_t fw_major, fw_minor, fw_patch;
    uint16_t max_payload;         /**< largest payload the device accepts (<= MAX_PAYLOAD) */
    uint16_t rx_window;           /**< requests the host may have in flight (1) */
    uint32_t caps;                /**< EL_CAP_* bits */
    uint32_t event_queue;         /**< event queue capacity (events) */
    uint32_t max_artifact_bytes;  /**< largest artifact LOAD accepts */
    uint32_t max_neurons;
    uint32_t max_synapses;
    uint32_t ram_bytes;           /**< runtime memory for the model */
    uint32_t max_run_steps;       /**< largest RUN */
    uint8_t flash_slots;
    uint8_t model_loaded;         /**< 0 / 1 */
    uint8_t learning;             /**< 0 / 1 */
    uint32_t step;                /**< current timestep */
} el_msg_info_t;

/** RESET request. */
typedef struct el_msg_reset {
    uint8_t mode; /**< EL_RESET_STATE or EL_RESET_MODEL */
} el_msg_reset_t;

/** LOAD_BEGIN request. */
typedef struct el_msg_load_begin {
    uint32_t total_size; /**< artifact bytes, >= 1 */
    uint32_t crc;        /**< el_crc32(0, artifact, total_size) */
    uint32_t flags;      /**< 0 */
} el_msg_load_begin_t;

/** LOAD_BEGIN response. */
typedef struct el_msg_load_begin_resp {
    uint32_t total_size;
    uint16_t chunk_max; /**< data bytes per LOAD_CHUNK the device accepts, 1 .. CHUNK_MAX_DATA */
} el_msg_load_begin_resp_t;

/** LOAD_CHUNK request (a view: data points into the payload). */
typedef struct el_msg_load_chunk {
    uint32_t offset;
    uint16_t n;          /**< 1 .. EL_MSG_LOAD_CHUNK_MAX_DATA */
    const uint8_t *data;
} el_msg_load_chunk_t;

/** One RULE entry: hyperparameter id (the artifact's numbering) and its new value. */
typedef struct el_rule_param {
    uint16_t id;
    int32_t value;
} el_rule_param_t;

/** RULE request (a view). */
typedef struct el_msg_rule {
    uint16_t count;      /**< 1 .. EL_MSG_RULE_MAX_ENTRIES */
    const uint8_t *raw;  /**< count entries of EL_MSG_RULE_ENTRY_BYTES */
} el_msg_rule_t;

/** One address event: absolute timestep and input address. */
typedef struct el_event {
    uint32_t t;
    uint32_t addr;
} el_event_t;

/** EVENTS request (a view). Timestamps are non-decreasing within a batch. */
typedef struct el_msg_events {
    uint16_t count;      /**< 0 .. EL_MSG_EVENTS_MAX */
    const uint8_t *raw;  /**< count events of EL_MSG_EVENT_BYTES */
} el_msg_events_t;

/** EVENTS response. */
typedef struct el_msg_events_resp {
    uint16_t accepted; /**< events taken (always the whole batch) */
    uint32_t credits;  /**< free event-queue slots after this batch */
    uint32_t queued;   /**< events waiting in the queue */
} el_msg_events_resp_t;

/** RUN request. */
typedef struct el_msg_run {
    uint32_t steps; /**< >= 1 (the device bounds it by INFO.max_run_steps) */
} el_msg_run_t;

/** RUN response. */
typedef struct el_msg_run_resp {
    uint32_t step;            /**< timestep after the run */
    uint32_t spikes;          /**< spikes of the output population during the run */
    uint32_t events_consumed; /**< queued events fed to the network during the run */
    uint32_t credits;         /**< free event-queue slots after the run */
} el_msg_run_resp_t;

/** LABEL and REWARD requests (the third factor). */
typedef struct el_msg_third {
    uint16_t population;
    int32_t value; /**< LABEL: class index, -1 clears; REWARD: the reward */
} el_msg_third_t;

/** LEARN request and response (enable, or the previous setting). */
typedef struct el_msg_learn {
    uint8_t enable; /**< 0 / 1 */
} el_msg_learn_t;

/** READ request. */
typedef struct el_msg_read {
    uint8_t what;    /**< EL_READ_* */
    uint8_t flags;   /**< EL_READ_FLAG_* */
    uint16_t index;  /**< population (SPIKES, PREDICTION) or connection (WEIGHTS) */
    uint32_t offset; /**< first element */
    uint16_t count;  /**< elements wanted, >= 1 */
} el_msg_read_t;

/** READ response (a view). */
typedef struct el_msg_read_resp {
    uint8_t what;
    uint8_t elem_size;   /**< 4 (SPIKES, PREDICTION) or 1 (WEIGHTS) */
    uint16_t index;
    uint32_t offset;
    uint32_t total;      /**< elements available in all */
    uint16_t count;      /**< elements in this response */
    const uint8_t *data; /**< count * elem_size bytes */
} el_msg_read_resp_t;

/** SAVE and RESTORE responses. */
typedef struct el_msg_slot {
    uint32_t generation; /**< save counter of the slot (grows with each SAVE) */
    uint8_t slot;        /**< flash slot written / read */
} el_msg_slot_t;

/** ERROR frame. */
typedef struct el_msg_error {
    uint16_t status;      /**< an ::el_proto_status_t or another el_status_t value */
    uint8_t request_type; /**< type of the offending request (0 when unattributed) */
    uint32_t detail;      /**< per status: expected offset, free credits, ... (else 0) */
} el_msg_error_t;

/*
 * Packers: `el_msg_X_pack(m, buf, cap, len)` writes the payload of @p m into @p buf (at most
 * @p cap bytes; *len receives its size) and returns ::EL_PROTO_OK, ::EL_PROTO_ERR_NULL,
 * ::EL_PROTO_ERR_SIZE or (list payloads) ::EL_PROTO_ERR_RANGE.
 * Unpackers: `el_msg_X_unpack(payload, len, m)` returns ::EL_PROTO_OK, ::EL_PROTO_ERR_NULL,
 * ::EL_PROTO_E_PAYLOAD (size, reserved bytes) or ::EL_PROTO_ERR_RANGE (field ranges).
 */
/** INFO response. */
el_proto_status_t el_msg_info_pack(const el_msg_info_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_info_unpack(const uint8_t *payload, size_t len, el_msg_info_t *m);
/** RESET request. */
el_proto_status_t el_msg_reset_pack(const el_msg_reset_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_reset_unpack(const uint8_t *payload, size_t len, el_msg_reset_t *m);
/** LOAD_BEGIN request. */
el_proto_status_t el_msg_load_begin_pack(const el_msg_load_begin_t *m, uint8_t *buf, size_t cap,
                                         size_t *len);
el_proto_status_t el_msg_load_begin_unpack(const uint8_t *payload, size_t len,
                                           el_msg_load_begin_t *m);
/** LOAD_BEGIN response. */
el_proto_status_t el_msg_load_begin_resp_pack(const el_msg_load_begin_resp_t *m, uint8_t *buf,
                                              size_t cap, size_t *len);
el_proto_status_t el_msg_load_begin_resp_unpack(const uint8_t *payload, size_t len,
                                                el_msg_load_begin_resp_t *m);
/** LOAD_CHUNK request (unpack: a view of the data). */
el_proto_status_t el_msg_load_chunk_pack(const el_msg_load_chunk_t *m, uint8_t *buf, size_t cap,
                                         size_t *len);
el_proto_status_t el_msg_load_chunk_unpack(const uint8_t *payload, size_t len,
                                           el_msg_load_chunk_t *m);
/** RULE request, from/to a view (see also el_msg_rule_pack_list). */
el_proto_status_t el_msg_rule_pack(const el_msg_rule_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_rule_unpack(const uint8_t *payload, size_t len, el_msg_rule_t *m);
/** EVENTS request, from/to a view (see also el_msg_events_pack_list). Unpack answers
 *  EL_PROTO_ERR_RANGE for a timestamp lower than the one before it, with @p m set (the shape is
 *  valid), so that the caller can name the event; any other error leaves @p m as it was. */
el_proto_status_t el_msg_events_pack(const el_msg_events_t *m, uint8_t *buf, size_t cap,
                                     size_t *len);
el_proto_status_t el_msg_events_unpack(const uint8_t *payload, size_t len, el_msg_events_t *m);
/** EVENTS response. */
el_proto_status_t el_msg_events_resp_pack(const el_msg_events_resp_t *m, uint8_t *buf, size_t cap,
                                          size_t *len);
el_proto_status_t el_msg_events_resp_unpack(const uint8_t *payload, size_t len,
                                            el_msg_events_resp_t *m);
/** RUN request. */
el_proto_status_t el_msg_run_pack(const el_msg_run_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_run_unpack(const uint8_t *payload, size_t len, el_msg_run_t *m);
/** RUN response. */
el_proto_status_t el_msg_run_resp_pack(const el_msg_run_resp_t *m, uint8_t *buf, size_t cap,
                                       size_t *len);
el_proto_status_t el_msg_run_resp_unpack(const uint8_t *payload, size_t len, el_msg_run_resp_t *m);
/** LABEL and REWARD requests. */
el_proto_status_t el_msg_third_pack(const el_msg_third_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_third_unpack(const uint8_t *payload, size_t len, el_msg_third_t *m);
/** LEARN request and response. */
el_proto_status_t el_msg_learn_pack(const el_msg_learn_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_learn_unpack(const uint8_t *payload, size_t len, el_msg_learn_t *m);
/** READ request. */
el_proto_status_t el_msg_read_pack(const el_msg_read_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_read_unpack(const uint8_t *payload, size_t len, el_msg_read_t *m);
/** READ response (unpack: a view of the data). */
el_proto_status_t el_msg_read_resp_pack(const el_msg_read_resp_t *m, uint8_t *buf, size_t cap,
                                        size_t *len);
el_proto_status_t el_msg_read_resp_unpack(const uint8_t *payload, size_t len,
                                          el_msg_read_resp_t *m);
/** SAVE and RESTORE responses. */
el_proto_status_t el_msg_slot_pack(const el_msg_slot_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_slot_unpack(const uint8_t *payload, size_t len, el_msg_slot_t *m);
/** ERROR payload. */
el_proto_status_t el_msg_error_pack(const el_msg_error_t *m, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_error_unpack(const uint8_t *payload, size_t len, el_msg_error_t *m);

/**
 * @brief Check a payload completely for its type: size (el_msg_check_len()), reserved bytes and
 *        field ranges, by running the type's unpacker. A dispatcher may call it first and answer
 *        any failure with an ERROR frame carrying the returned status.
 * @return ::EL_PROTO_OK, ::EL_PROTO_E_TYPE, ::EL_PROTO_E_PAYLOAD, ::EL_PROTO_ERR_RANGE,
 *         ::EL_PROTO_ERR_NULL
 */
el_proto_status_t el_msg_validate(uint8_t type, const uint8_t *payload, size_t len);

/** Responses of one or two u32 fields share these helpers: LOAD_CHUNK (next offset), RULE
 *  (entries applied) and LOAD_COMMIT (total size, artifact crc). */
el_proto_status_t el_msg_u32_pack(uint32_t value, uint8_t *buf, size_t cap, size_t *len);
el_proto_status_t el_msg_u32_unpack(const uint8_t *payload, size_t len, uint32_t *value);
el_proto_status_t el_msg_u32x2_pack(uint32_t a, uint32_t b, uint8_t *buf, size_t cap,
                                    size_t *len);
el_proto_status_t el_msg_u32x2_unpack(const uint8_t *payload, size_t len, uint32_t *a,
                                      uint32_t *b);

/** Pack @p count events (1 .. EL_MSG_EVENTS_MAX; 0 allowed: a credit query) into an EVENTS
 *  payload; ::EL_PROTO_ERR_RANGE if timestamps decrease. */
el_proto_status_t el_msg_events_pack_list(const el_event_t *ev, size_t count, uint8_t *buf,
                                          size_t cap, size_t *len);
/** The @p i -th event of an unpacked EVENTS view (i < m->count). */
el_event_t el_msg_events_at(const el_msg_events_t *m, size_t i);

/** Pack @p count RULE entries (1 .. EL_MSG_RULE_MAX_ENTRIES) into a RULE payload. */
el_proto_status_t el_msg_rule_pack_list(const el_rule_param_t *p, size_t count, uint8_t *buf,
                                        size_t cap, size_t *len);
/** The @p i -th entry of an unpacked RULE view (i < m->count). */
el_rule_param_t el_msg_rule_at(const el_msg_rule_t *m, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* EL_PROTO_H */
