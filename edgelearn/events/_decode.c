/* Event-file decoders in C: see _decode.h. One pass per chunk, a switch per word; the state
 * registers are those of the numpy reference decoders in _decoders.py. Host-side only (the
 * device runtime is csrc/); C99, also compiles as C++. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_decode.h"

/* Word types each format defines (bit t set: type t is valid). */
#define EVT2_VALID 0xC503u /* 0x0 0x1 0x8 0xA 0xE 0xF */
#define EVT3_VALID 0xC57Du /* 0x0 0x2 0x3 0x4 0x5 0x6 0x8 0xA 0xE 0xF */

/* One output record, EVENT_DTYPE's 13 packed bytes (little-endian hosts: the Python wrapper
 * uses these decoders only there), and the running maxima of x and y. */
static void put_event(uint8_t *o, int64_t t, uint16_t x, uint16_t y, uint8_t p, int64_t *max_x,
                      int64_t *max_y)
{
    if (x > *max_x)
        *max_x = x;
    if (y > *max_y)
        *max_y = y;
    memcpy(o, &t, 8);
    memcpy(o + 8, &x, 2);
    memcpy(o + 10, &y, 2);
    o[12] = p;
}

static uint32_t rd32(const uint8_t *b)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return v;
}

static uint32_t rd16(const uint8_t *b)
{
    uint16_t v;
    memcpy(&v, b, 2);
    return v;
}

/* Word type of word i (size 2 or 4 bytes, type in the top 4 bits). */
static uint32_t word_type(const uint8_t *buf, size_t i, size_t size)
{
    return size == 4 ? rd32(buf + 4 * i) >> 28 : rd16(buf + 2 * i) >> 12;
}

/* A `bits`-bit counter reading made monotonic against the previous full reading (-1: none):
 * a reading more than half the range below the previous one is a wrap. */
static int64_t unwrap(int64_t last, int64_t val, int bits)
{
    if (last < 0)
        return val;
    int64_t epoch = last / ((int64_t)1 << bits);
    int64_t prev = last % ((int64_t)1 << bits);
    if (val < prev - ((int64_t)1 << (bits - 1)))
        epoch += 1;
    return epoch * ((int64_t)1 << bits) + val;
}

static int outside(int64_t x, int64_t y, int32_t w, int32_t h)
{
    return w > 0 && (x >= w || y >= h);
}

/* Bits set in a 12-bit mask, lowest first (portable; vectors are a minority of words). */
static int popcount12(uint32_t m)
{
    int c = 0;
    for (; m; m &= m - 1)
        c++;
    return c;
}

/* Failure exit. The reference checks every word type of a chunk before it decodes any event,
 * so an unknown type anywhere from word `from` on takes precedence over the error already in
 * *err (an event outside the sensor, found at an earlier word). */
static el_dec_status fail(const uint8_t *buf, size_t from, size_t nw, size_t size,
                          uint32_t valid, size_t *used, el_dec_error *err)
{
    for (size_t i = from; i < nw; i++) {
        uint32_t typ = word_type(buf, i, size);
        if (!((valid >> typ) & 1u)) {
            err->kind = EL_DEC_UNKNOWN_TYPE;
            err->index = (int64_t)(size * i);
            err->value = typ;
            break;
        }
    }
    *used = 0;
    return (el_dec_status)err->kind;
}

static el_dec_status fail_outside(const uint8_t *buf, size_t i, size_t nw, size_t size,
                                  uint32_t valid, int64_t x, int64_t y, size_t *used,
                                  el_dec_error *err)
{
    err->kind = EL_DEC_OUTSIDE;
    err->index = (int64_t)(size * i);
    err->x = x;
    err->y = y;
    return fail(buf, i + 1, nw, size, valid, used, err);
}

/* --------------------------------------------------------------------------- EVT 2.0 */

el_dec_status el_evt2_decode(const uint8_t *buf, size_t nbytes, el_dec_state *st, uint8_t *out,
                             int64_t out_cap, int32_t width, int32_t height, int64_t *n_out,
                             size_t *used, el_dec_error *err)
{
    size_t nw = nbytes / 4;
    int64_t n = 0, high = st->high, max_x = st->max_x, max_y = st->max_y;
    size_t i = 0;
    err->kind = EL_DEC_OK;
    *n_out = 0;
    for (; i < nw && n < out_cap; i++) {
        uint32_t w = rd32(buf + 4 * i);
        uint32_t typ = w >> 28;
        if (typ <= 0x1) { /* CD_OFF / CD_ON */
            if (high < 0) {
                st->skipped++;
                continue;
            }
            uint16_t x = (uint16_t)((w >> 11) & 0x7FF), y = (uint16_t)(w & 0x7FF);
            if (outside(x, y, width, height))
                return fail_outside(buf, i, nw, 4, EVT2_VALID, x, y, used, err);
            put_event(out + 13 * n, high * 64 + (int64_t)((w >> 22) & 0x3F), x, y, (uint8_t)typ,
                      &max_x, &max_y);
            n++;
        } else if (typ == 0x8) { /* EVT_TIME_HIGH */
            high = unwrap(high, (int64_t)(w & 0x0FFFFFFF), 28);
        } else if (!((EVT2_VALID >> typ) & 1u)) {
            return fail(buf, i, nw, 4, EVT2_VALID, used, err);
        }
    }
    st->high = high;
    st->max_x = max_x;
    st->max_y = max_y;
    *used = 4 * i;
    *n_out = n;
    return EL_DEC_OK;
}

/* --------------------------------------------------------------------------- EVT 3.0 */

el_dec_status el_evt3_decode(const uint8_t *buf, size_t nbytes, el_dec_state *st, uint8_t *out,
                             int64_t out_cap, int32_t width, int32_t height, int64_t *n_out,
                             size_t *used, el_dec_error *err)
{
    size_t nw = nbytes / 2;
    int64_t n = 0;
    int64_t high = st->high, tmax = st->tmax, y = st->y, base_x = st->base_x, vpol = st->vpol;
    int64_t skipped = st->skipped, max_x = st->max_x, max_y = st->max_y;
    size_t i = 0;
    err->kind = EL_DEC_OK;
    *n_out = 0;
    for (; i < nw && n + EL_DEC_MAX_PER_WORD <= out_cap; i++) {
        uint32_t w = rd16(buf + 2 * i);
        uint32_t pay = w & 0x0FFF;
        switch (w >> 12) {
        case 0x0: /* EVT_ADDR_Y (bit 11: system type, ignored) */
            y = w & 0x7FF;
            break;
        case 0x2: { /* EVT_ADDR_X: one event at (x, y) */
            if (tmax < 0 || y < 0) {
                skipped++;
                break;
            }
            int64_t x = w & 0x7FF;
            if (outside(x, y, width, height))
                return fail_outside(buf, i, nw, 2, EVT3_VALID, x, y, used, err);
            put_event(out + 13 * n, tmax, (uint16_t)x, (uint16_t)y, (uint8_t)((w >> 11) & 1),
                      &max_x, &max_y);
            n++;
            break;
        }
        case 0x3: /* VECT_BASE_X */
            base_x = w & 0x7FF;
            vpol = (w >> 11) & 1;
            break;
        case 0x4:   /* VECT_12 */
        case 0x5: { /* VECT_8 */
            int bits = (w >> 12) == 0x4 ? 12 : 8;
            uint32_t mask = bits == 12 ? pay : (pay & 0xFF);
            if (tmax < 0 || y < 0) {
                skipped += popcount12(mask);
            } else {
                for (int b = 0; mask; b++, mask >>= 1) {
                    if (!(mask & 1u))
                        continue;
                    /* x is stored as uint16 (wrapping, as the reference's cast does) */
                    uint16_t x = (uint16_t)(base_x + b);
                    if (outside(x, y, width, height))
                        return fail_outside(buf, i, nw, 2, EVT3_VALID, x, y, used, err);
                    put_event(out + 13 * n, tmax, x, (uint16_t)y, (uint8_t)vpol, &max_x, &max_y);
                    n++;
                }
            }
            base_x += bits;
            break;
        }
        case 0x6: /* TIME_LOW: a step back in time is held at the latest time */
            if (high >= 0 && high * 4096 + pay > tmax)
                tmax = high * 4096 + pay;
            break;
        case 0x8: /* TIME_HIGH: a new 4096-us window at low = 0 */
            high = unwrap(high, pay, 12);
            if (high * 4096 > tmax)
                tmax = high * 4096;
            break;
        case 0xA: /* EXT_TRIGGER, OTHERS, CONTINUED: no CD event */
        case 0xE:
        case 0xF:
            break;
        default:
            return fail(buf, i, nw, 2, EVT3_VALID, used, err);
        }
    }
    st->high = high;
    st->tmax = tmax;
    st->y = y;
    st->base_x = base_x;
    st->vpol = vpol;
    st->skipped = skipped;
    st->max_x = max_x;
    st->max_y = max_y;
    *used = 2 * i;
    *n_out = n;
    return EL_DEC_OK;
}

/* --------------------------------------------------------------------------- AEDAT 4.0 */

el_dec_status el_aedat4_unpack(const uint8_t *vec, int64_t count, el_dec_state *st,
                               uint8_t *out, int32_t width, int32_t height, el_dec_error *err)
{
    /* The reference checks every event's fields before the sensor: a bad field anywhere in
     * the vector is reported even after an event outside the sensor. */
    int64_t max_x = st->max_x, max_y = st->max_y;
    el_dec_status status = EL_DEC_OK;
    err->kind = EL_DEC_OK;
    for (int64_t i = 0; i < count; i++) {
        const uint8_t *e = vec + 16 * i;
        int64_t t;
        int16_t x, y;
        memcpy(&t, e, 8);
        memcpy(&x, e + 8, 2);
        memcpy(&y, e + 10, 2);
        uint8_t on = e[12];
        if (x < 0 || y < 0 || on > 1) {
            err->kind = EL_DEC_BAD_FIELD;
            err->index = i;
            err->value = x < 0 ? x : (y < 0 ? y : on);
            return EL_DEC_BAD_FIELD;
        }
        if (status != EL_DEC_OK)
            continue;
        if (outside(x, y, width, height)) {
            status = EL_DEC_OUTSIDE;
            err->kind = EL_DEC_OUTSIDE;
            err->index = i;
            err->x = x;
            err->y = y;
            continue;
        }
        put_event(out + 13 * i, t, (uint16_t)x, (uint16_t)y, on, &max_x, &max_y);
    }
    st->max_x = max_x;
    st->max_y = max_y;
    return status;
}
