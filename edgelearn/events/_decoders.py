"""Binary decoders, one class per format, all with the same chunked interface.

A decoder is created from the parsed header and then fed the data section in chunks:
``decode(buf, base, final) -> (events, consumed)`` decodes every complete unit (word, record or
packet) at the start of ``buf`` (whose first byte is at file offset ``base``), returns the events
and how many bytes it used; the caller keeps the rest and prepends it to the next chunk. State
that crosses units (current time base, row, vector base) lives on the decoder. With
``final=True`` leftover bytes are a truncated file and raise :class:`EventFormatError`.

The decoders here are vectorised with numpy: a stateful word stream is decoded by
forward-filling each state register over the word indices (the running count of setter words
indexes a table of their values, slot 0 holding the value carried from the previous chunk).

After ``decode``, ``offsets()`` gives the file offset of each returned event's word, record or
packet (used to name the byte of an event that falls outside the sensor).

The formats of large recordings (EVT 2.0, EVT 3.0, AEDAT4) are also decoded in C
(``_decode.c``, one pass, a switch per word): :data:`C_DECODERS` maps those formats to
subclasses that give the same events, the same ``skipped`` count and the same errors (the
numpy classes are the reference that ``tests/test_events_c.py`` holds them to). They check
the sensor size themselves (``checks_sensor``) and can write a whole file into one growing
buffer (``decode_into``), which is how :meth:`EventFile.read` uses them.
"""

from __future__ import annotations

import sys

import numpy as np

from ._types import EVENT_DTYPE, EventFormatError, concat_events

try:  # the package is installed with its C extensions; a bare source tree decodes in numpy
    from ._el_decode import ffi as _ffi
    from ._el_decode import lib as _lib
except ImportError:  # pragma: no cover - exercised only without the build
    _ffi = _lib = None

_EMPTY = np.empty(0, dtype=EVENT_DTYPE)
_ITEM = EVENT_DTYPE.itemsize  # 13 packed bytes


def _pack(t, x, y, p) -> np.ndarray:
    ev = np.empty(len(t), dtype=EVENT_DTYPE)
    ev["t"] = t
    ev["x"] = x
    ev["y"] = y
    ev["p"] = p
    return ev


def _unwrap(vals: np.ndarray, bits: int, last: int) -> np.ndarray:
    """Readings ``vals`` (int64, each in ``[0, 2**bits)``) of a ``bits``-bit counter made
    monotonic: a reading more than half the range below the one before it is a wrap (adds
    ``2**bits``). ``last`` is the full (unwrapped) reading before ``vals[0]``, -1 if none."""
    if not vals.size:
        return vals
    prev = np.concatenate(([last & ((1 << bits) - 1) if last >= 0 else vals[0]], vals[:-1]))
    wraps = np.cumsum(vals < prev - (1 << (bits - 1)))
    start = (last >> bits) if last >= 0 else 0
    return vals + ((start + wraps) << bits)


class Decoder:
    """Base class: subclasses set ``unit`` (fixed record size, or 0 for packet formats)."""

    format = "?"
    unit = 1

    #: True where decode() itself rejects events outside ``sensor`` (the C decoders).
    checks_sensor = False

    def __init__(self, path, header: dict, file_size: int | None = None):
        self.path = path
        self.header = header
        self.file_size = file_size
        self.skipped = 0  # events dropped for a documented reason (before sync, invalid flag)
        self.offsets = None  # set by decode(): () -> file offset of each event just returned
        self.sensor = None  # (width, height) for decoders that check it, None: no check

    def error(self, offset: int | None, message: str) -> EventFormatError:
        return EventFormatError(self.path, offset, message)

    def _split(self, buf, base: int, final: bool) -> tuple[memoryview, int]:
        n = len(buf) // self.unit * self.unit
        if final and n != len(buf):
            raise self.error(
                base + n,
                f"truncated {self.format} data: {len(buf) - n} trailing byte(s), "
                f"records are {self.unit} bytes",
            )
        return memoryview(buf)[:n], n

    def decode(self, buf, base: int, final: bool) -> tuple[np.ndarray, int]:
        raise NotImplementedError


# --------------------------------------------------------------------------- Prophesee EVT 2.0


class Evt2Decoder(Decoder):
    """Prophesee EVT 2.0: 32-bit little-endian words, type in bits 31-28.

    CD_OFF (0x0) / CD_ON (0x1): timestamp bits 5-0 in bits 27-22, x in 21-11, y in 10-0.
    EVT_TIME_HIGH (0x8): timestamp bits 33-6 in bits 27-0. A time-high value more than half its
    range below the previous one is a wrap of the 34-bit counter (adds 2**34 us).
    EXT_TRIGGER (0xA), OTHERS (0xE) and CONTINUED (0xF) carry no CD event. CD words before the
    first TIME_HIGH have no time base and are skipped (counted in ``skipped``).
    """

    format = "evt2"
    unit = 4
    _VALID = np.array([0x0, 0x1, 0x8, 0xA, 0xE, 0xF], dtype=np.uint32)

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self.high = -1  # full time-high (with wraps), -1 before the first TIME_HIGH

    def decode(self, buf, base, final):
        view, n = self._split(buf, base, final)
        if n == 0:
            return _EMPTY, 0
        w = np.frombuffer(view, dtype="<u4")
        typ = w >> 28
        bad = ~np.isin(typ, self._VALID)
        if bad.any():
            i = int(np.argmax(bad))
            raise self.error(base + 4 * i, f"unknown EVT 2.0 word type 0x{int(typ[i]):X}")
        th_mask = typ == 0x8
        th = (w[th_mask] & 0x0FFFFFFF).astype(np.int64)
        th_full = _unwrap(th, 28, self.high)
        cd_mask = typ <= 1
        # time-high of each CD word: the running count of TIME_HIGH words indexes their values
        # (slot 0: the value carried from the previous chunk, -1 before the first one)
        rank = np.cumsum(th_mask)[cd_mask]
        high = np.concatenate(([self.high], th_full))[rank]
        if th.size:
            self.high = int(th_full[-1])
        wc = w[cd_mask]
        keep = high >= 0
        if not keep.all():
            self.skipped += int(np.count_nonzero(~keep))
            wc, high = wc[keep], high[keep]
        t = (high << 6) | ((wc >> 22) & 0x3F).astype(np.int64)
        ev = _pack(t, (wc >> 11) & 0x7FF, wc & 0x7FF, wc >> 28)
        self.offsets = lambda: base + 4 * np.flatnonzero(cd_mask)[keep]
        return ev, n


# --------------------------------------------------------------------------- Prophesee EVT 3.0


class Evt3Decoder(Decoder):
    """Prophesee EVT 3.0: 16-bit little-endian words, type in bits 15-12.

    ======  ============  ==================================================================
    type    name          payload
    ======  ============  ==================================================================
    0x0     EVT_ADDR_Y    y in bits 10-0 (bit 11: system type, ignored)
    0x2     EVT_ADDR_X    polarity bit 11, x bits 10-0: one CD event at (x, current y)
    0x3     VECT_BASE_X   polarity bit 11, x bits 10-0: base of the following vectors
    0x4     VECT_12       12-bit mask: events at base+i for each set bit i; base += 12
    0x5     VECT_8        8-bit mask: likewise; base += 8
    0x6     TIME_LOW      timestamp bits 11-0
    0x8     TIME_HIGH     timestamp bits 23-12
    0xA     EXT_TRIGGER   (not a CD event)
    0xE/0xF OTHERS/CONT.  (not a CD event)
    ======  ============  ==================================================================

    The timestamp of an event is ``overflow * 2**24 + high * 4096 + low`` with the most recent
    TIME_HIGH and TIME_LOW words (a TIME_HIGH resets low to 0), so it always lies inside the
    4096-us window its TIME_HIGH word allows; a TIME_LOW that steps back in time is held at the
    latest time (as faery and evlib do), so timestamps never decrease. A TIME_HIGH more than
    half its range (2048) below the previous one is a wrap of the 24-bit counter and adds
    2**24 us. Events before the first TIME_HIGH or ADDR_Y have no time
    base or row and are skipped (``skipped``). Other types (0x1, 0x7, 0x9, 0xB-0xD) are errors.
    """

    format = "evt3"
    unit = 2
    _VALID = np.zeros(16, dtype=bool)
    _VALID[[0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8, 0xA, 0xE, 0xF]] = True
    _BITS = np.arange(12, dtype=np.uint16)

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self.y = -1
        self.low = 0
        self.high = -1  # full time-high with wraps (units of 4096 us)
        self.base_x = 0
        self.vpol = 0
        self.tmax = -1

    def decode(self, buf, base, final):
        view, n = self._split(buf, base, final)
        if n == 0:
            return _EMPTY, 0
        w = np.frombuffer(view, dtype="<u2")
        typ = (w >> 12).astype(np.uint8)
        bad = ~self._VALID[typ]
        if bad.any():
            i = int(np.argmax(bad))
            raise self.error(base + 2 * i, f"unknown EVT 3.0 word type 0x{int(typ[i]):X}")

        # Each state register is forward-filled with the "rank" trick: cumsum of the setter
        # mask gives, at every word, how many setters came before it (0: use the carried value).

        # -- time: TIME_HIGH (with wraps) and TIME_LOW words, made monotonic
        tmask = (typ == 0x6) | (typ == 0x8)
        tw = np.flatnonzero(tmask)
        is_th = typ[tw] == 0x8
        tpay = (w[tw] & 0x0FFF).astype(np.int64)
        th_vals = tpay[is_th]
        th_full = _unwrap(th_vals, 12, self.high)
        hrank = np.cumsum(is_th)
        high_tw = np.concatenate(([self.high], th_full))[hrank]  # [0] = carried
        # a TIME_HIGH starts a new 4096-us window at low = 0 until the next TIME_LOW
        low_tw = np.where(is_th, 0, tpay)
        comp = np.where(high_tw >= 0, (high_tw << 12) | low_tw, -1)
        # a TIME_LOW that steps back is held at the latest time (never decreasing)
        tvals = np.maximum.accumulate(np.concatenate(([self.tmax], comp)))  # [0] = carried

        # -- rows that emit events: ADDR_X (1 event) and vectors (a bit mask)
        emit = (typ == 0x2) | (typ == 0x4) | (typ == 0x5)
        rows = np.flatnonzero(emit)
        rtyp = typ[rows]
        rpay = w[rows] & 0x0FFF
        is_vec = rtyp != 0x2
        trank = np.cumsum(tmask, dtype=np.int32)[rows]  # index into tvals
        ymask = typ == 0x0
        yv = np.concatenate(([self.y], (w[ymask] & 0x7FF).astype(np.int64)))
        yrank = np.cumsum(ymask, dtype=np.int32)[rows]

        # -- vector base: VECT_BASE_X sets it, each VECT_12 / VECT_8 advances it by 12 / 8
        vsel = np.flatnonzero((typ >= 0x3) & (typ <= 0x5))
        vt = typ[vsel]
        vwidth = np.where(vt == 0x4, 12, np.where(vt == 0x5, 8, 0))
        vis_base = vt == 0x3
        vbx = np.concatenate(([self.base_x], (w[vsel][vis_base] & 0x7FF).astype(np.int64)))
        vbp = np.concatenate(([self.vpol], (w[vsel][vis_base] >> 11).astype(np.int64) & 1))
        brank = np.cumsum(vis_base)
        excl = np.cumsum(vwidth) - vwidth
        # widths consumed since the last base (or since the chunk start for the carried base)
        base_pos = np.flatnonzero(vis_base)
        excl_at_base = np.concatenate(([0], excl[base_pos]))
        vbase = vbx[brank] + excl - excl_at_base[brank]
        vpol = vbp[brank]
        if vsel.size:
            self.base_x = int(vbase[-1] + vwidth[-1])
            self.vpol = int(vpol[-1])
        vec_rows_in_vsel = np.flatnonzero(vwidth > 0)  # vector words among vsel, in order

        # -- events per row and their order (word order, then bit order)
        counts = np.ones(rows.size, dtype=np.int64)
        vmask = rpay[is_vec].astype(np.int64)
        vmask = np.where(rtyp[is_vec] == 0x5, vmask & 0xFF, vmask)
        bits = ((vmask[:, None] >> np.arange(12)) & 1).astype(bool)
        counts[is_vec] = bits.sum(axis=1)
        starts = np.cumsum(counts) - counts
        total = int(counts.sum())
        x = np.empty(total, dtype=np.int64)
        p = np.empty(total, dtype=np.int64)
        ax = ~is_vec
        x[starts[ax]] = rpay[ax] & 0x7FF
        p[starts[ax]] = (rpay[ax] >> 11) & 1
        r, b = np.nonzero(bits)
        if r.size:
            vstarts = starts[is_vec]
            j = np.arange(r.size) - (np.cumsum(counts[is_vec]) - counts[is_vec])[r]
            pos = vstarts[r] + j
            x[pos] = vbase[vec_rows_in_vsel][r] + b
            p[pos] = vpol[vec_rows_in_vsel][r]
        row_of = np.repeat(np.arange(rows.size), counts)
        t = tvals[trank[row_of]]
        y = yv[yrank[row_of]]
        keep = (t >= 0) & (y >= 0)
        wi = rows[row_of]
        if not keep.all():
            self.skipped += int(np.count_nonzero(~keep))
            t, x, y, p, wi = t[keep], x[keep], y[keep], p[keep], wi[keep]
        ev = _pack(t, x, y, p)
        self.offsets = lambda: base + 2 * wi

        # carry state to the next chunk
        if th_vals.size:
            self.high = int(th_full[-1])
        self.tmax = int(tvals[-1])
        self.y = int(yv[-1])
        return ev, n


# --------------------------------------------------------------------------- Prophesee DAT


class DatDecoder(Decoder):
    """Prophesee/Chronocam DAT (Event2D 0x00 or EventCD 0x0C, 8 bytes per event).

    uint32 timestamp (us), uint32 data: x bits 13-0, y bits 27-14, polarity bits 31-28. A
    timestamp more than 2**31 below the previous one is a wrap of the 32-bit counter.
    """

    format = "dat"
    unit = 8

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self.last = -1  # full timestamp (with wraps) of the last event, -1 before the first

    def decode(self, buf, base, final):
        view, n = self._split(buf, base, final)
        if n == 0:
            return _EMPTY, 0
        rec = np.frombuffer(view, dtype=[("ts", "<u4"), ("d", "<u4")])
        t = _unwrap(rec["ts"].astype(np.int64), 32, self.last)
        self.last = int(t[-1])
        d = rec["d"]
        pol = d >> 28
        if (pol > 1).any():
            i = int(np.argmax(pol > 1))
            raise self.error(base + 8 * i + 4, f"DAT polarity field {int(pol[i])} is not 0 or 1")
        ev = _pack(t, d & 0x3FFF, (d >> 14) & 0x3FFF, pol)
        self.offsets = lambda: base + 8 * np.arange(len(ev))
        return ev, n


# --------------------------------------------------------------------------- N-MNIST / N-Caltech


class NmnistDecoder(Decoder):
    """N-MNIST / N-Caltech101 ``.bin`` (and SLAYER's ``.bs2``): no header, 5-byte events.

    Big-endian 40 bits: x (39-32), y (31-24), polarity (bit 23, 1 = ON), timestamp (22-0, us).
    As in the datasets' own reader (Orchard's ``Read_Ndataset.m``), an event with y == 240 is a
    timestamp-overflow marker: it adds 2**13 us to every later event and is not an event itself.
    """

    format = "nmnist"
    unit = 5

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self.overflow = 0

    def decode(self, buf, base, final):
        view, n = self._split(buf, base, final)
        if n == 0:
            return _EMPTY, 0
        b = np.frombuffer(view, dtype=np.uint8).reshape(-1, 5)
        x = b[:, 0]
        y = b[:, 1]
        p = b[:, 2] >> 7
        t = (
            ((b[:, 2].astype(np.int64) & 0x7F) << 16)
            | (b[:, 3].astype(np.int64) << 8)
            | b[:, 4].astype(np.int64)
        )
        ovf = y == 240
        if ovf.any():
            add = self.overflow + np.cumsum(ovf)
            self.overflow = int(add[-1])
            t = t + (add << 13)
            keep = ~ovf
            idx = np.flatnonzero(keep)
            ev = _pack(t[keep], x[keep], y[keep], p[keep])
        else:
            ev = _pack(t + (self.overflow << 13), x, y, p)
            idx = np.arange(len(ev))
        self.offsets = lambda: base + 5 * idx
        return ev, n


# --------------------------------------------------------------------------- AEDAT 2.0 (jAER)


class Aedat2Decoder(Decoder):
    """AEDAT 2.0 (jAER): big-endian pairs ``uint32 address, uint32 timestamp (us)``.

    Address layouts (chosen from the header; DVS128 unless it names a DAVIS camera):

    * DVS128: polarity bit 0 (1 = OFF, as jAER), x bits 7-1 mirrored (x = 127 - field, as jAER),
      y bits 14-8; bit 15 set = external event (skipped).
    * DAVIS: polarity bit 11 (1 = ON), x bits 21-12, y bits 30-22; bit 31 set = APS sample and
      bit 10 set = external event (skipped).

    A timestamp more than 2**31 below the previous one is a wrap of the 32-bit counter.
    """

    format = "aedat2"
    unit = 8

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self.davis = header.get("layout") == "davis"
        self.last = -1  # full timestamp (with wraps) of the last event, -1 before the first

    def decode(self, buf, base, final):
        view, n = self._split(buf, base, final)
        if n == 0:
            return _EMPTY, 0
        rec = np.frombuffer(view, dtype=[("a", ">u4"), ("ts", ">u4")])
        a = rec["a"]
        t = _unwrap(rec["ts"].astype(np.int64), 32, self.last)
        self.last = int(t[-1])
        if self.davis:
            keep = ((a >> 31) == 0) & (((a >> 10) & 1) == 0)
            x, y, p = (a >> 12) & 0x3FF, (a >> 22) & 0x1FF, (a >> 11) & 1
        else:
            keep = ((a >> 15) & 1) == 0
            x, y, p = 127 - ((a >> 1) & 0x7F), (a >> 8) & 0x7F, 1 - (a & 1)
        idx = np.flatnonzero(keep)
        ev = _pack(t[idx], x[idx], y[idx], p[idx])
        self.offsets = lambda: base + 8 * idx
        return ev, n


# --------------------------------------------------------------------------- AEDAT 3.1 (cAER)

_A3_HEADER = np.dtype(
    [
        ("type", "<i2"),
        ("source", "<i2"),
        ("size", "<i4"),
        ("tsoffset", "<i4"),
        ("tsoverflow", "<i4"),
        ("capacity", "<i4"),
        ("number", "<i4"),
        ("valid", "<i4"),
    ]
)


class Aedat3Decoder(Decoder):
    """AEDAT 3.1 (cAER / DVS128 Gesture): packets of a 28-byte header then events.

    Header (little-endian): int16 eventType, int16 eventSource, int32 eventSize, int32
    eventTSOffset, int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber, int32
    eventValid; then ``eventCapacity * eventSize`` bytes. Polarity events (type 1, 8 bytes):
    uint32 data (bit 0 valid, bit 1 polarity, y bits 16-2, x bits 31-17), int32 timestamp;
    ``t = eventTSOverflow << 31 | timestamp``. Packets of other types are skipped whole.
    """

    format = "aedat3"
    unit = 0

    def decode(self, buf, base, final):
        mv = memoryview(buf)
        pos = 0
        out = []
        offs = []
        n = len(mv)
        while n - pos >= 28:
            h = np.frombuffer(mv[pos : pos + 28], dtype=_A3_HEADER)[0]
            size, cap, num, valid = int(h["size"]), int(h["capacity"]), int(h["number"]), int(h[7])
            etype = int(h["type"])
            if size <= 0 or cap < 0 or not (0 <= valid <= num <= cap) or size * cap > (1 << 30):
                raise self.error(
                    base + pos,
                    f"corrupt AEDAT 3.1 packet header (eventSize={size}, eventCapacity={cap}, "
                    f"eventNumber={num}, eventValid={valid})",
                )
            if etype == 1 and size != 8:
                raise self.error(base + pos, f"polarity packet with eventSize {size}, expected 8")
            if etype < 0 or h["tsoffset"] < 0 or h["tsoverflow"] < 0:
                raise self.error(base + pos, "corrupt AEDAT 3.1 packet header (negative field)")
            total = 28 + size * cap
            end_in_file = base + pos + total
            if self.file_size is not None and end_in_file > self.file_size:
                raise self.error(
                    base + pos,
                    f"truncated AEDAT 3.1 packet: needs {total} bytes, file ends "
                    f"{self.file_size - base - pos} bytes after its start",
                )
            if n - pos < total:
                break
            if etype == 1 and num:
                rec = np.frombuffer(
                    mv[pos + 28 : pos + 28 + 8 * num], dtype=[("d", "<u4"), ("ts", "<i4")]
                )
                d = rec["d"]
                ok = np.flatnonzero(d & 1)
                if (rec["ts"][ok] < 0).any():
                    i = int(ok[np.argmax(rec["ts"][ok] < 0)])
                    raise self.error(base + pos + 28 + 8 * i + 4, "negative event timestamp")
                self.skipped += num - ok.size
                d = d[ok]
                t = (np.int64(h["tsoverflow"]) << 31) | rec["ts"][ok].astype(np.int64)
                out.append(_pack(t, (d >> 17) & 0x7FFF, (d >> 2) & 0x7FFF, (d >> 1) & 1))
                offs.append(base + pos + 28 + 8 * ok)
            pos += total
        if final and pos != n:
            raise self.error(base + pos, f"truncated AEDAT 3.1 packet header ({n - pos} bytes)")
        ev = concat_events(out)
        self.offsets = lambda: np.concatenate(offs) if offs else np.empty(0, np.int64)
        return ev, pos


# --------------------------------------------------------------------------- AEDAT 4.0 (DV)


class _FlatTable:
    """Just enough of the FlatBuffers wire format to read a table's scalar/vector fields.

    Every offset is bounds-checked; a bad one raises ``IndexError`` which callers turn into an
    :class:`EventFormatError` naming the packet.
    """

    def __init__(self, buf: memoryview, pos: int):
        self.buf = buf
        self.pos = pos
        vt = pos - self._i32(pos)
        vt_len = self._u16(vt)
        if vt_len < 4 or vt_len % 2:
            raise IndexError("bad vtable")
        self.vt = vt
        self.nfields = (vt_len - 4) // 2

    def _check(self, pos, n):
        if pos < 0 or pos + n > len(self.buf):
            raise IndexError(f"offset {pos} out of range")

    def _u16(self, pos):
        self._check(pos, 2)
        return int.from_bytes(self.buf[pos : pos + 2], "little")

    def _i32(self, pos):
        self._check(pos, 4)
        return int.from_bytes(self.buf[pos : pos + 4], "little", signed=True)

    def field(self, i) -> int | None:
        if i >= self.nfields:
            return None
        off = self._u16(self.vt + 4 + 2 * i)
        return self.pos + off if off else None

    def scalar(self, i, fmt: str, default):
        pos = self.field(i)
        if pos is None:
            return default
        size = np.dtype(fmt).itemsize
        self._check(pos, size)
        return np.frombuffer(self.buf[pos : pos + size], dtype=fmt)[0].item()

    def vector(self, i) -> tuple[int, int] | None:
        """``(start, length)`` of a vector (or string) field."""
        pos = self.field(i)
        if pos is None:
            return None
        start = pos + self._i32(pos)
        n = self._i32(start)
        if n < 0:
            raise IndexError("negative vector length")
        return start + 4, n


def parse_flat_root(buf: memoryview, ident: bytes | None, size_prefixed: bool) -> _FlatTable:
    off = 4 if size_prefixed else 0
    if size_prefixed:
        if len(buf) < 4 or int.from_bytes(buf[:4], "little") != len(buf) - 4:
            raise IndexError("size prefix does not match the data")
    if len(buf) < off + 8:
        raise IndexError("too short for a FlatBuffer")
    if ident is not None and bytes(buf[off + 4 : off + 8]) != ident:
        raise IndexError(f"identifier {bytes(buf[off + 4 : off + 8])!r} is not {ident!r}")
    root = off + int.from_bytes(buf[off : off + 4], "little")
    return _FlatTable(buf, root)


_A4_EVENT = np.dtype(
    {
        "names": ["t", "x", "y", "on"],
        "formats": ["<i8", "<i2", "<i2", "u1"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)

#: Largest decompressed AEDAT4 packet accepted (bytes).
MAX_PACKET = 1 << 28

#: An LZ4 sequence expands at most about 255-fold (a run length grows by 255 bytes per byte).
_LZ4_MAX_RATIO = 256

def _lz4_size(payload) -> int:
    """The content size an LZ4 frame's header declares (0: none); past any limit if the header
    cannot be read (the bounded decoder then names the problem)."""
    import lz4.frame

    try:
        return int(lz4.frame.get_frame_info(payload)["content_size"])
    except Exception:  # lz4 raises RuntimeError and others for a bad header
        return MAX_PACKET + 1


#: AEDAT4 ``CompressionType`` enum values.
A4_NONE, A4_LZ4, A4_LZ4_HIGH, A4_ZSTD, A4_ZSTD_HIGH = range(5)


class Aedat4Decoder(Decoder):
    """AEDAT 4.0 (iniVation DV): packets ``[int32 stream id][int32 size][payload]``.

    The payload is the (LZ4-frame or Zstd compressed, or raw) size-prefixed FlatBuffer of the
    stream's type; for the event stream (``typeIdentifier`` ``EVTS``) it is an ``EventPacket``
    whose field 0 is a vector of 16-byte ``Event`` structs ``{int64 t, int16 x, int16 y, bool
    on}``. Packets of other streams are skipped; decoding stops at the file data table.
    """

    format = "aedat4"
    unit = 0

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self.event_streams = set(header["event_streams"])
        self.compression = header["compression"]
        self.data_end = header.get("data_end")  # absolute offset of the data table (or None)

    def decompress(self, payload, offset):
        c = self.compression
        try:
            if c == A4_NONE:
                return memoryview(payload)
            if c in (A4_LZ4, A4_LZ4_HIGH):
                import lz4.frame

                if len(payload) * _LZ4_MAX_RATIO <= MAX_PACKET and _lz4_size(payload) <= MAX_PACKET:
                    # cannot expand past MAX_PACKET, and declares no more (the one-call decoder
                    # allocates what the frame declares): it is safe, twice as fast as the
                    # bounded streaming one, and rejects an incomplete frame
                    return memoryview(lz4.frame.decompress(payload))
                d = lz4.frame.LZ4FrameDecompressor()
                out = d.decompress(bytes(payload), max_length=MAX_PACKET)
                if not d.eof:
                    raise ValueError("incomplete LZ4 frame or packet over 256 MiB")
                return memoryview(out)
            import zstandard  # optional: only for Zstd-compressed recordings

            return memoryview(
                zstandard.ZstdDecompressor().decompress(bytes(payload), max_output_size=MAX_PACKET)
            )
        except ImportError as e:
            raise self.error(offset, "Zstd-compressed AEDAT4 needs the 'zstandard' package") from e
        except Exception as e:  # lz4/zstd raise their own types (RuntimeError, ZstdError, ...)
            raise self.error(offset, f"corrupt compressed packet ({e})") from None

    def decode(self, buf, base, final):
        out = []
        offs = []

        def emit(data, start, count, at):
            e = np.frombuffer(data[start : start + 16 * count], dtype=_A4_EVENT)
            if (e["x"] < 0).any() or (e["y"] < 0).any() or (e["on"] > 1).any():
                raise self.error(at, "corrupt event packet (negative coordinate)")
            out.append(_pack(e["t"], e["x"], e["y"], e["on"]))
            offs.append(np.full(count, at, dtype=np.int64))

        consumed = self._packets(buf, base, final, emit)
        ev = concat_events(out)
        self.offsets = lambda: np.concatenate(offs) if offs else np.empty(0, np.int64)
        return ev, consumed

    def _packets(self, buf, base, final, emit) -> int:
        """Walk the whole packets at the start of ``buf``, calling ``emit(data, start, count,
        offset)`` for each event vector (decompressed ``data``, its ``count`` events at byte
        ``start``, the packet's file ``offset``); return the bytes consumed."""
        mv = memoryview(buf)
        n = len(mv)
        if self.data_end is not None:
            n = max(0, min(n, self.data_end - base))
        pos = 0
        while n - pos >= 8:
            sid = int.from_bytes(mv[pos : pos + 4], "little", signed=True)
            size = int.from_bytes(mv[pos + 4 : pos + 8], "little", signed=True)
            at = base + pos
            if size < 0 or sid < 0:
                raise self.error(at, f"corrupt packet header (stream {sid}, size {size})")
            limit = self.data_end if self.data_end is not None else self.file_size
            if limit is not None and at + 8 + size > limit:
                raise self.error(
                    at, f"truncated packet: {size} bytes declared, {limit - at - 8} left"
                )
            if n - pos < 8 + size:
                break
            if sid in self.event_streams:
                data = self.decompress(mv[pos + 8 : pos + 8 + size], at)
                try:
                    root = parse_flat_root(data, b"EVTS", True)
                    vec = root.vector(0)
                    if vec is None:
                        start, count = 0, 0
                    else:
                        start, count = vec
                        if start + 16 * count > len(data):
                            raise IndexError("event vector runs past the packet")
                except IndexError as e:
                    raise self.error(at, f"corrupt event packet ({e})") from None
                if count:
                    emit(data, start, count, at)
            elif sid not in self.header["streams"]:
                raise self.error(at, f"packet for undeclared stream id {sid}")
            pos += 8 + size
        consumed = pos
        if self.data_end is not None and base + pos >= self.data_end:
            consumed = len(mv)  # the data table and anything after it are not events
        elif final and pos != len(mv):
            raise self.error(base + pos, f"truncated packet header ({len(mv) - pos} bytes)")
        return consumed


# --------------------------------------------------------------------------- C decoders


class EventBuffer:
    """A growing buffer of packed events (:data:`EVENT_DTYPE` bytes) that the C decoders
    write into: ``reserve(k)`` makes room for ``k`` more, ``events()`` returns the ``n``
    written so far as an event array (shrunk in place, so no spare memory is kept)."""

    def __init__(self, capacity: int):
        self.raw = np.empty(_ITEM * max(int(capacity), 64), dtype=np.uint8)
        self.n = 0

    def reserve(self, k: int) -> None:
        need = _ITEM * (self.n + k)
        if need > len(self.raw):
            grown = np.empty(max(2 * len(self.raw), need), dtype=np.uint8)
            grown[: _ITEM * self.n] = self.raw[: _ITEM * self.n]
            self.raw = grown

    def space(self) -> int:
        return len(self.raw) // _ITEM - self.n

    def pointer(self):
        return _ffi.from_buffer("uint8_t[]", self.raw, require_writable=True) + _ITEM * self.n

    def events(self) -> np.ndarray:
        raw = self.raw
        if len(raw) > _ITEM * self.n:
            try:  # realloc in place: no copy, and the tail goes back to the allocator
                raw.resize(_ITEM * self.n, refcheck=False)
            except ValueError:  # pragma: no cover - a view of it is held elsewhere
                raw = raw[: _ITEM * self.n].copy()
        self.raw = np.empty(0, dtype=np.uint8)
        return raw.view(EVENT_DTYPE)


class _CDecoder:
    """Mixin for a numpy reference decoder (the next base class): ``decode`` through C."""

    checks_sensor = True

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self._st = _ffi.new(
            "el_dec_state *", {"high": -1, "tmax": -1, "y": -1, "max_x": -1, "max_y": -1}
        )
        self._err = _ffi.new("el_dec_error *")

    @property
    def max_xy(self) -> tuple[int, int]:
        """The largest x and y decoded so far (-1 before any event)."""
        return int(self._st.max_x), int(self._st.max_y)

    def _limits(self) -> tuple[int, int]:
        return self.sensor if self.sensor is not None else (0, 0)

    def _outside(self, offset: int, x: int, y: int) -> EventFormatError:
        w, h = self.sensor
        return self.error(offset, f"event at (x={x}, y={y}) outside the {w}x{h} sensor")

    def decode(self, buf, base, final):
        sink = EventBuffer(len(buf) // self.bytes_per_event + 1)
        used = self.decode_into(buf, base, final, sink)
        self.offsets = None
        return sink.events(), used


class _CWordDecoder(_CDecoder):
    """A stream of fixed-size words with state carried between calls (EVT 2.0 / 3.0)."""

    _fn = ""
    _name = ""
    bytes_per_event = 2

    def __init__(self, path, header, file_size=None):
        super().__init__(path, header, file_size)
        self._used = _ffi.new("size_t *")
        self._got = _ffi.new("int64_t *")

    def decode_into(self, buf, base: int, final: bool, sink: EventBuffer) -> int:
        """Decode every whole word of ``buf`` (file offset ``base``) into ``sink``; return the
        bytes used (``final``: trailing bytes are a truncated file, as in ``decode``)."""
        view, n = self._split(buf, base, final)
        if n == 0:
            return 0
        fn = getattr(_lib, self._fn)
        src = _ffi.from_buffer("uint8_t[]", view)
        w, h = self._limits()
        st, err, used, got = self._st, self._err, self._used, self._got
        pos = 0
        while pos < n:
            if sink.space() < _lib.EL_DEC_MAX_PER_WORD:
                sink.reserve(max((n - pos) // self.bytes_per_event, _lib.EL_DEC_MAX_PER_WORD))
            status = fn(src + pos, n - pos, st, sink.pointer(), sink.space(), w, h, got, used, err)
            if status != _lib.EL_DEC_OK:
                at = base + pos + err.index
                self.skipped = st.skipped
                if status == _lib.EL_DEC_UNKNOWN_TYPE:
                    raise self.error(at, f"unknown {self._name} word type 0x{err.value:X}")
                raise self._outside(at, err.x, err.y)
            sink.n += got[0]
            pos += used[0]
        self.skipped = st.skipped
        return n


class CEvt2Decoder(_CWordDecoder, Evt2Decoder):
    __doc__ = Evt2Decoder.__doc__
    _fn = "el_evt2_decode"
    _name = "EVT 2.0"
    bytes_per_event = 4


class CEvt3Decoder(_CWordDecoder, Evt3Decoder):
    __doc__ = Evt3Decoder.__doc__
    _fn = "el_evt3_decode"
    _name = "EVT 3.0"
    bytes_per_event = 2


class CAedat4Decoder(_CDecoder, Aedat4Decoder):
    __doc__ = Aedat4Decoder.__doc__
    bytes_per_event = 4
    _outside_error = None  # the chunk's first event outside the sensor, raised at its end

    def _unpack(self, data, start, count, at, sink):
        sink.reserve(count)
        w, h = self._limits()
        vec = _ffi.from_buffer("uint8_t[]", data)
        err = self._err
        status = _lib.el_aedat4_unpack(vec + start, count, self._st, sink.pointer(), w, h, err)
        if status == _lib.EL_DEC_OUTSIDE:
            # raised once the whole chunk is decoded: as in the reference, which checks the
            # sensor after decoding, a corrupt packet later in the chunk is the error reported
            if self._outside_error is None:
                self._outside_error = self._outside(at, err.x, err.y)
        elif status != _lib.EL_DEC_OK:  # the reference's words, also for a bad 'on' byte
            raise self.error(at, "corrupt event packet (negative coordinate)")
        sink.n += count

    def decode_into(self, buf, base: int, final: bool, sink: EventBuffer) -> int:
        """As ``decode``, writing the events into ``sink``; returns the bytes used."""
        self._outside_error = None
        used = self._packets(buf, base, final, lambda *a: self._unpack(*a, sink))
        if self._outside_error is not None:
            raise self._outside_error
        return used


#: The formats decoded in C, where the extension is built (little-endian hosts: the C code
#: writes the events' bytes as they lie in memory).
C_DECODERS = (
    {"evt2": CEvt2Decoder, "evt3": CEvt3Decoder, "aedat4": CAedat4Decoder}
    if _lib is not None and sys.byteorder == "little"
    else {}
)
