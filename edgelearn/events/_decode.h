/* Host-side event-file decoders (EVT 2.0, EVT 3.0, AEDAT4 event vectors) in C, built by cffi
 * into edgelearn.events._el_decode. This file is both the C header and the cffi cdef: keep it
 * to plain declarations. The numpy decoders in _decoders.py are the reference these match,
 * event for event and error for error (tests/test_events_c.py).
 *
 * Output records are EVENT_DTYPE's 13 packed bytes: int64 t, uint16 x, uint16 y, uint8 p
 * (little-endian). A call decodes whole words from buf until the input ends or fewer than
 * EL_DEC_MAX_PER_WORD output slots are left; *used says how many bytes it consumed, and the
 * state carries every register to the next call. */

typedef struct {
    int64_t high;    /* full time-high with wraps; -1 before the first TIME_HIGH */
    int64_t tmax;    /* EVT3: latest timestamp (never decreases); -1 before a time base */
    int64_t y;       /* EVT3: current row; -1 before the first ADDR_Y */
    int64_t base_x;  /* EVT3: vector base */
    int64_t vpol;    /* EVT3: vector polarity */
    int64_t skipped; /* events dropped for lack of a time base or row */
    int64_t max_x;   /* largest x and y written so far; -1 before any event */
    int64_t max_y;
} el_dec_state;

/* What a call returns (stable codes; Python reads them from here). */
typedef enum {
    EL_DEC_OK = 0,
    EL_DEC_UNKNOWN_TYPE = 1, /* a word type the format does not define */
    EL_DEC_OUTSIDE = 2,      /* an event outside the sensor (width x height) */
    EL_DEC_BAD_FIELD = 3     /* AEDAT4: a negative coordinate or an 'on' byte other than 0/1 */
} el_dec_status;

typedef struct {
    int64_t kind;    /* the el_dec_status of the failure */
    int64_t index;   /* byte index in buf of the word (or record) at fault */
    int64_t value;   /* kind 1: the word type; kind 3: the field's value */
    int64_t x, y;    /* kind 2: the event's coordinates */
} el_dec_error;

/* Largest number of events one input word can produce (an EVT 3.0 VECT_12 word). */
#define EL_DEC_MAX_PER_WORD 12

/* Decode whole words of buf[0, nbytes) into out (room for out_cap events): *n_out events
 * written, *used bytes consumed. width/height <= 0: no sensor check. On failure *err says
 * what and where (nothing of the call's output is valid). An unknown word type anywhere in buf
 * is reported before an event outside the sensor (as by the reference, which checks the types
 * of a whole chunk before it decodes). */
el_dec_status el_evt2_decode(const uint8_t *buf, size_t nbytes, el_dec_state *st, uint8_t *out,
                             int64_t out_cap, int32_t width, int32_t height, int64_t *n_out,
                             size_t *used, el_dec_error *err);
el_dec_status el_evt3_decode(const uint8_t *buf, size_t nbytes, el_dec_state *st, uint8_t *out,
                             int64_t out_cap, int32_t width, int32_t height, int64_t *n_out,
                             size_t *used, el_dec_error *err);

/* AEDAT4 event vector: count 16-byte structs {int64 t, int16 x, int16 y, uint8 on, pad}.
 * Writes all count events (out must hold them; of st, only max_x and max_y are used), or
 * fails with EL_DEC_BAD_FIELD (value = the field; any event's, which takes precedence, as in
 * the reference) or EL_DEC_OUTSIDE (the first such event); err->index is then the event's
 * position in the vector. */
el_dec_status el_aedat4_unpack(const uint8_t *vec, int64_t count, el_dec_state *st,
                               uint8_t *out, int32_t width, int32_t height, el_dec_error *err);
