"""Reading recordings: format detection, headers, chunked streams, DVS Gesture labels.

Entry points: :func:`read`, :func:`open_events` (chunked), :func:`detect_format`. Decoding
itself lives in ``_decoders``; writers in ``_writers``.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

import numpy as np

from . import _decoders as D
from ._types import _VOID, EVENT_DTYPE, MAX_COORD, EventFormatError, Recording, make_events

#: Format names accepted by ``format=`` arguments.
FORMATS = ("aedat4", "aedat3", "aedat2", "evt2", "evt3", "dat", "nmnist", "npz", "npy")


#: Sensor sizes of known cameras, used when a header names the camera but not its size.
_KNOWN_SENSORS = [
    ("gen41", (1280, 720)),
    ("gen4", (1280, 720)),
    ("imx636", (1280, 720)),
    ("imx646", (1280, 720)),
    ("gen31", (640, 480)),
    ("gen3", (640, 480)),
    ("imx8", (1280, 720)),
    ("dvs128", (128, 128)),
    ("davis240", (240, 180)),
    ("davis346", (346, 260)),
    ("davis640", (640, 480)),
    ("dvxplorer", (640, 480)),
]

_MAX_HEADER = 1 << 20


def _known_size(text: str) -> tuple[int, int] | None:
    low = text.lower().replace("_", "").replace("-", "")
    for key, size in _KNOWN_SENSORS:
        if key in low:
            return size
    return None


def detect_format(path: str | os.PathLike, head: bytes | None = None) -> str:
    """Name of the format of ``path``, from its first bytes and its extension.

    Raises :class:`EventFormatError` when neither identifies a supported format.
    """
    path = pathlib.Path(path)
    if head is None:
        with open(path, "rb") as f:
            head = f.read(4096)
    ext = path.suffix.lower()
    if head.startswith(b"#!AER-DAT4"):
        return "aedat4"
    if head.startswith(b"#!AER-DAT3"):
        return "aedat3"
    if head.startswith(b"#!AER-DAT2") or head.startswith(b"#!AER-DAT1"):
        return "aedat2"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"
    if head.startswith(b"%"):
        text = head.decode("latin-1").lower()
        m = re.search(r"^% *evt *([0-9.]+)", text, re.M) or re.search(
            r"^% *format *evt([0-9]+)", text, re.M
        )
        if m:
            version = m.group(1)
            if version in ("2", "2.0"):
                return "evt2"
            if version in ("3", "3.0"):
                return "evt3"
            raise EventFormatError(path, 0, f"unsupported Prophesee RAW encoding EVT {version}")
        if ext == ".dat" or "event2d" in text or "eventcd" in text or "% version" in text:
            return "dat"
        if ext == ".raw":
            raise EventFormatError(path, 0, "RAW header has no `% evt` or `% format` line")
    if ext in (".bin", ".bs2"):
        return "nmnist"
    raise EventFormatError(
        path, 0, f"unrecognised event file (extension {ext!r}, first bytes {head[:12]!r})"
    )


# --------------------------------------------------------------------------- headers


#: Bytes a header line may hold (anything but control characters other than tab, CR, LF).
_TEXT_BYTES = bytes([9, 10, 13, *range(32, 127), *range(128, 256)])


def _read_lines(f, path, prefix: bytes, stop: bytes | None) -> tuple[list[str], int]:
    """Read header lines that start with ``prefix`` (up to ``stop`` inclusive).

    A "line" holding control bytes is not text: the header ends before it.
    """
    lines = []
    pos = f.tell()
    while True:
        first = f.read(len(prefix))
        if first != prefix:
            f.seek(pos)
            return lines, pos
        line = f.readline(_MAX_HEADER)
        if line.translate(None, _TEXT_BYTES):
            # control bytes: this is binary data that happens to start with the prefix byte
            f.seek(pos)
            return lines, pos
        if not line.endswith(b"\n"):
            raise EventFormatError(path, pos, "unterminated header line")
        text = (prefix + line).decode("latin-1").rstrip("\r\n")
        lines.append(text)
        pos = f.tell()
        if pos > _MAX_HEADER:
            raise EventFormatError(path, pos, "header longer than 1 MiB")
        if stop is not None and (prefix + line).rstrip(b"\r\n") == stop:
            return lines, pos


def _prophesee_header(f, path, fmt) -> tuple[dict, int]:
    lines, pos = _read_lines(f, path, b"%", b"% end")
    if not lines:
        raise EventFormatError(path, 0, f"missing `%` header of a {fmt} file")
    text = "\n".join(lines)
    header: dict = {"lines": lines}
    size = None
    m = re.search(r"^% *geometry *(\d+) *x *(\d+)", text, re.M | re.I)
    if m:
        size = (int(m.group(1)), int(m.group(2)))
    m_w = re.search(r"width[= ]*(\d+)", text, re.I)
    m_h = re.search(r"height[= ]*(\d+)", text, re.I)
    if size is None and m_w and m_h:
        size = (int(m_w.group(1)), int(m_h.group(1)))
    m = re.search(r"^% *plugin_name *(\S+)", text, re.M)
    if m:
        header["plugin"] = m.group(1)
        if size is None:
            size = _known_size(m.group(1))
    if fmt in ("evt2", "evt3"):
        m = re.search(r"^% *evt *([0-9.]+)", text, re.M | re.I) or re.search(
            r"^% *format *evt([0-9]+)", text, re.M | re.I
        )
        version = m.group(1) if m else None
        if version not in (fmt[-1], fmt[-1] + ".0"):
            raise EventFormatError(
                path, 0, f"header does not declare {fmt.upper()} (found `% evt {version}`)"
            )
    if fmt == "dat":
        tb = f.read(2)
        if len(tb) < 2:
            raise EventFormatError(path, pos, "truncated DAT header (missing type/size bytes)")
        etype, esize = tb[0], tb[1]
        if etype not in (0x00, 0x0C) or esize != 8:
            raise EventFormatError(
                path,
                pos,
                f"unsupported DAT event type 0x{etype:02X} / size {esize} "
                f"(expected Event2D 0x00 or EventCD 0x0C, 8 bytes)",
            )
        pos += 2
        header["event_type"] = etype
    if size is not None and not (0 < size[0] <= 2048 * 8 and 0 < size[1] <= 2048 * 8):
        raise EventFormatError(path, 0, f"implausible sensor size {size[0]}x{size[1]}")
    header["size"] = size
    return header, pos


def _aedat2_header(f, path) -> tuple[dict, int]:
    lines, pos = _read_lines(f, path, b"#", None)
    if not lines or not lines[0].startswith(("#!AER-DAT2", "#!AER-DAT1")):
        raise EventFormatError(path, 0, "missing `#!AER-DAT2.0` magic line")
    text = "\n".join(lines)
    size = None
    m = re.search(r"sensor *(\d+) *x *(\d+)", text, re.I)
    if m:
        size = (int(m.group(1)), int(m.group(2)))
    davis = "davis" in text.lower()
    if size is None:
        size = _known_size(text) if davis else (128, 128)
    if size is not None and not (0 < size[0] <= 1024 and 0 < size[1] <= 512):
        raise EventFormatError(path, 0, f"implausible sensor size {size[0]}x{size[1]}")
    return {"lines": lines, "layout": "davis" if davis else "dvs128", "size": size}, pos


def _aedat3_header(f, path) -> tuple[dict, int]:
    lines, pos = _read_lines(f, path, b"#", b"#!END-HEADER")
    if not lines or not lines[0].startswith("#!AER-DAT3"):
        raise EventFormatError(path, 0, "missing `#!AER-DAT3.1` magic line")
    if lines[-1] != "#!END-HEADER":
        raise EventFormatError(path, pos, "AEDAT 3.1 header without `#!END-HEADER`")
    text = "\n".join(lines)
    size = None
    m = re.search(r"^#Source[^\n]*?(\d+) *x *(\d+)", text, re.M)
    if m:
        size = (int(m.group(1)), int(m.group(2)))
    elif re.search(r"^#Source", text, re.M):
        size = _known_size(text)
    if size is not None and not (0 < size[0] <= 32768 and 0 < size[1] <= 32768):
        raise EventFormatError(path, 0, f"implausible sensor size {size[0]}x{size[1]}")
    return {"lines": lines, "size": size}, pos


def _aedat4_header(f, path, file_size) -> tuple[dict, int]:
    magic = f.readline(64)
    if magic.rstrip(b"\r\n") != b"#!AER-DAT4.0":
        raise EventFormatError(path, 0, "missing `#!AER-DAT4.0` magic line")
    start = f.tell()
    raw = f.read(4)
    if len(raw) < 4:
        raise EventFormatError(path, start, "truncated AEDAT4 header length")
    n = int.from_bytes(raw, "little", signed=True)
    if n < 8 or start + 4 + n > file_size:
        raise EventFormatError(path, start, f"AEDAT4 header length {n} does not fit the file")
    buf = memoryview(f.read(n))
    try:
        root = D.parse_flat_root(buf, b"IOHE", False)
        compression = root.scalar(0, "<i4", 0)
        table = root.scalar(1, "<i8", -1)
        info = root.vector(2)
        if info is None:
            raise IndexError("no info node")
        s, ln = info
        if s + ln > len(buf):
            raise IndexError("info node runs past the header")
        xml = bytes(buf[s : s + ln]).decode("utf-8", errors="replace")
    except IndexError as e:
        raise EventFormatError(path, start + 4, f"corrupt AEDAT4 IOHeader ({e})") from None
    if compression not in range(5):
        raise EventFormatError(path, start + 4, f"unknown AEDAT4 compression {compression}")
    data_start = start + 4 + n
    if table != -1 and not (data_start <= table <= file_size):
        raise EventFormatError(path, start + 4, f"data table position {table} outside the file")
    try:
        tree = ET.fromstring(xml)
    except ET.ParseError as e:
        raise EventFormatError(path, start + 4, f"corrupt AEDAT4 info XML ({e})") from None
    streams, event_streams, size = {}, [], None
    for node in tree.iter("node"):
        path_attr = node.get("path", "")
        if not re.fullmatch(r".*/outInfo/\d+/", path_attr):
            continue
        try:
            sid = int(node.get("name", ""))
        except ValueError:
            continue
        attrs = {a.get("key"): (a.text or "") for a in node.iter("attr")}
        streams[sid] = attrs.get("typeIdentifier", "")
        if streams[sid] == "EVTS":
            event_streams.append(sid)
            try:
                w, h = int(attrs.get("sizeX", "0")), int(attrs.get("sizeY", "0"))
            except ValueError:
                w = h = 0
            if size is None and 0 < w <= 32768 and 0 < h <= 32768:
                size = (w, h)
    if table != -1:  # the file data table must be complete: a cut file fails here
        f.seek(table)
        blob = f.read(min(file_size - table, D.MAX_PACKET))
        dec = D.Aedat4Decoder(
            path, {"event_streams": [], "compression": compression, "streams": {}}, file_size
        )
        data = dec.decompress(blob, table)
        try:
            D.parse_flat_root(data, b"FTAB", True)
        except IndexError as e:
            raise EventFormatError(path, table, f"corrupt AEDAT4 file data table ({e})") from None
    header = {
        "compression": compression,
        "data_end": None if table == -1 else table,
        "streams": streams,
        "event_streams": event_streams,
        "size": size,
        "info": xml,
    }
    return header, data_start


# --------------------------------------------------------------------------- streams

_REFERENCE_DECODERS = {
    "evt2": D.Evt2Decoder,
    "evt3": D.Evt3Decoder,
    "dat": D.DatDecoder,
    "nmnist": D.NmnistDecoder,
    "aedat2": D.Aedat2Decoder,
    "aedat3": D.Aedat3Decoder,
    "aedat4": D.Aedat4Decoder,
}
#: The decoders in use: EVT 2.0 / 3.0 and AEDAT4 in C where it is built (same results as the
#: numpy reference decoders above, checked by tests/test_events_c.py).
_DECODERS = {**_REFERENCE_DECODERS, **D.C_DECODERS}


class EventFile:
    """A recording opened for chunked reading (bounded memory).

    ``EventFile(path)`` parses the header only. ``width``/``height`` come from the header, the
    camera it names, or the format (N-MNIST: 34 x 34); they are ``None`` where only the events
    can tell (then :meth:`read` uses the largest coordinate + 1). Iterating yields event arrays
    of dtype :data:`EVENT_DTYPE`, one per chunk of at most ``chunk_bytes`` of file data (one
    packet, for packet formats, if a packet is larger). Every event is checked against the
    declared sensor size.
    """

    def __init__(self, path, *, format: str | None = None, chunk_bytes: int = 1 << 18):
        self.path = pathlib.Path(path)
        if chunk_bytes < 64:
            raise ValueError(f"chunk_bytes must be >= 64, got {chunk_bytes}")
        self.chunk_bytes = int(chunk_bytes)
        self.file_size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            head = f.read(4096)
            fmt = format or detect_format(self.path, head)
            if fmt not in FORMATS:
                raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
            self.format = fmt
            f.seek(0)
            self.header, self.data_offset = self._parse_header(f)
        size = self.header.get("size")
        self.width, self.height = size if size else (None, None)
        self.skipped = 0

    def _parse_header(self, f) -> tuple[dict, int]:
        fmt = self.format
        if fmt in ("evt2", "evt3", "dat"):
            return _prophesee_header(f, self.path, fmt)
        if fmt == "aedat2":
            return _aedat2_header(f, self.path)
        if fmt == "aedat3":
            return _aedat3_header(f, self.path)
        if fmt == "aedat4":
            return _aedat4_header(f, self.path, self.file_size)
        if fmt == "nmnist":
            return {"size": None}, 0
        return {"size": None}, 0  # npz / npy are loaded whole

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.chunks()

    def chunks(self) -> Iterator[np.ndarray]:
        """Yield event arrays chunk by chunk (never an empty one)."""
        if self.format in ("npz", "npy"):
            rec = _load_numpy(self.path, self.format)
            self.width, self.height = rec.width, rec.height
            step = max(1, self.chunk_bytes // EVENT_DTYPE.itemsize)
            for i in range(0, len(rec), step):
                yield rec.events[i : i + step]
            return
        dec = self._decoder()
        blocks = self._blocks()
        block = next(blocks, None)
        while block is not None:
            ev, used = dec.decode(*block)
            self._check(ev, dec)
            self.skipped = dec.skipped
            if len(ev):
                yield ev
            block = _send(blocks, used)

    def _decoder(self) -> D.Decoder:
        dec = _DECODERS[self.format](self.path, self.header, self.file_size)
        if self.width is not None:
            dec.sensor = (int(self.width), int(self.height))
        return dec

    def _blocks(self):
        """Generator of ``(buf, base, final)``: the data section in chunks, each with the bytes
        the decoder left over from the one before; send how many bytes of ``buf`` were used."""
        with open(self.path, "rb") as f:
            f.seek(self.data_offset)
            base = self.data_offset
            pending = b""
            want = self.chunk_bytes
            while True:
                block = f.read(want)
                final = not block
                buf = pending + block if pending else block
                if not buf:
                    break
                used = yield buf, base, final
                base += used
                pending = buf[used:]
                # a unit (packet) larger than a chunk: read as much again as is pending, so
                # the bytes re-copied while it accumulates stay linear in its size
                want = max(self.chunk_bytes, len(pending))
                if final:
                    break

    def _check(self, ev: np.ndarray, dec: D.Decoder) -> None:
        if self.width is None or not len(ev) or dec.checks_sensor:
            return
        bad = (ev["x"] >= self.width) | (ev["y"] >= self.height)
        if bad.any():
            i = int(np.argmax(bad))
            offs = dec.offsets() if dec.offsets is not None else None
            at = int(offs[i]) if offs is not None and len(offs) > i else None
            raise EventFormatError(
                self.path,
                at,
                f"event at (x={int(ev['x'][i])}, y={int(ev['y'][i])}) outside "
                f"the {self.width}x{self.height} sensor",
            )

    def _size(self, max_x: int, max_y: int) -> tuple[int, int]:
        """Sensor size: the header's, else 34 x 34 for N-MNIST files that fit, else the largest
        coordinates + 1 (1 x 1 for an empty file)."""
        if self.width is not None:
            return int(self.width), int(self.height)
        if self.format == "nmnist" and max_x < 34 and max_y < 34:
            return 34, 34
        return max(max_x, 0) + 1, max(max_y, 0) + 1

    def stats(self) -> dict:
        """:meth:`Recording.stats` computed chunk by chunk (bounded memory)."""
        n = on = 0
        t_first = t_last = None
        mx = my = -1
        for ev in self.chunks():
            n += len(ev)
            on += int(np.count_nonzero(ev["p"]))
            if t_first is None:
                t_first = int(ev["t"][0])
            t_last = int(ev["t"][-1])
            mx = max(mx, int(ev["x"].max()))
            my = max(my, int(ev["y"].max()))
        w, h = self._size(mx, my)
        return {
            "format": self.format,
            "events": n,
            "width": w,
            "height": h,
            "t_first": t_first,
            "t_last": t_last,
            "on": on,
            "off": n - on,
        }

    #: Bytes of file data per event used to size the output before reading (exact bounds for
    #: fixed-size records, typical values otherwise; the buffer grows when they are exceeded).
    _BYTES_PER_EVENT = {
        "evt2": 4,
        "dat": 8,
        "nmnist": 5,
        "aedat2": 8,
        "evt3": 2,
        "aedat3": 8,
        "aedat4": 4,
    }

    def _collect(self) -> tuple[np.ndarray, tuple[int, int] | None]:
        """Every chunk copied into one growing buffer (no list of chunks, no final concat);
        a C decoder writes straight into it. Returns the events and, from a C decoder, the
        largest x and y (None: not tracked)."""
        data = max(0, self.file_size - self.data_offset)
        cap = max(1024, data // self._BYTES_PER_EVENT[self.format] + 1)
        if hasattr(_DECODERS[self.format], "decode_into"):
            dec = self._decoder()
            sink = D.EventBuffer(cap)
            blocks = self._blocks()
            block = next(blocks, None)
            while block is not None:
                used = dec.decode_into(*block, sink)
                self.skipped = dec.skipped
                block = _send(blocks, used)
            return sink.events(), dec.max_xy
        out = np.empty(cap, dtype=_VOID)  # opaque items: byte copies, not field by field
        n = 0
        for ev in self.chunks():
            if n + len(ev) > len(out):
                grown = np.empty(max(2 * len(out), n + len(ev)), dtype=_VOID)
                grown[:n] = out[:n]
                out = grown
            out[n : n + len(ev)] = ev.view(_VOID)
            n += len(ev)
        # trim in place (realloc: no copy, and the spare memory goes back to the allocator)
        try:
            out.resize(n, refcheck=False)
        except ValueError:  # pragma: no cover - only if another view of it were alive
            out = out[:n].copy()
        return out.view(EVENT_DTYPE), None

    def read(self) -> Recording:
        """All events as one :class:`Recording`."""
        if self.format in ("npz", "npy"):
            return _load_numpy(self.path, self.format)
        events, max_xy = self._collect()
        if self.width is not None:  # every event was checked against it
            width, height = self.width, self.height
        elif max_xy is not None:  # a C decoder tracked them
            width, height = self._size(*max_xy)
        else:
            width, height = self._size(
                int(events["x"].max()) if len(events) else -1,
                int(events["y"].max()) if len(events) else -1,
            )
        meta = {k: v for k, v in self.header.items() if k not in ("size",)}
        if self.skipped:
            meta["skipped"] = self.skipped
        # every event is inside (width, height): checked against the header's size while
        # decoding, or the size was taken from the largest coordinates
        return Recording._from_reader(events, int(width), int(height), self.format, meta)


def _send(gen, value):
    """``gen.send(value)``, or None once the generator is done."""
    try:
        return gen.send(value)
    except StopIteration:
        return None


def open_events(path, *, format: str | None = None, chunk_bytes: int = 1 << 18) -> EventFile:
    """Open a recording for chunked reading; see :class:`EventFile`."""
    return EventFile(path, format=format, chunk_bytes=chunk_bytes)


def read(path, *, format: str | None = None) -> Recording:
    """Read a whole recording (any supported format, detected from magic and extension).

    Raises :class:`EventFormatError` (a ``ValueError``) for any malformed file, naming the file
    and the byte offset; ``FileNotFoundError`` if it does not exist.
    """
    return EventFile(path, format=format).read()


def iter_chunks(path, *, format: str | None = None, chunk_bytes: int = 1 << 18):
    """Iterate a recording in chunks of at most ``chunk_bytes`` of file data."""
    return EventFile(path, format=format, chunk_bytes=chunk_bytes).chunks()


# --------------------------------------------------------------------------- numpy


def _check_npy(fobj, available: int) -> None:
    """Refuse an .npy header whose array would not fit in the bytes that follow it."""
    version = np.lib.format.read_magic(fobj)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fobj)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fobj)
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > available:
        raise ValueError(f"array header declares {need} bytes, only {available} present")


def _load_numpy(path, fmt) -> Recording:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if data.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    if info.file_size > (1 << 34):
                        raise ValueError(f"member {info.filename} too large")
                    with zf.open(info) as m:
                        _check_npy(m, info.file_size)
        else:
            _check_npy(io.BytesIO(data), len(data))
        obj = np.load(io.BytesIO(data), allow_pickle=False)
        if fmt == "npz" or isinstance(obj, np.lib.npyio.NpzFile):
            with obj as z:
                if "events" in z.files:
                    ev = z["events"]
                    t, x, y, p = ev["t"], ev["x"], ev["y"], ev["p"]
                else:
                    t, x, y, p = z["t"], z["x"], z["y"], z["p"]
                size = None
                if "width" in z.files and "height" in z.files:
                    size = (int(z["width"]), int(z["height"]))
                elif "sensor_size" in z.files:
                    ss = z["sensor_size"]
                    size = (int(ss[0]), int(ss[1]))
        else:
            if obj.dtype.names is None or not {"t", "x", "y", "p"} <= set(obj.dtype.names):
                raise KeyError("array has no t, x, y, p fields")
            t, x, y, p = obj["t"], obj["x"], obj["y"], obj["p"]
            size = None
        arrays = [np.asarray(a) for a in (t, x, y, p)]
        if any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays):
            raise ValueError("t, x, y, p must be 1-D arrays of one length")
        if any(a.dtype.kind not in "iub" for a in arrays):
            raise ValueError("t, x, y, p must be integer arrays")
        for name, a in zip("xy", arrays[1:3], strict=True):
            if a.size and (a.min() < 0 or a.max() > MAX_COORD):
                raise ValueError(f"{name} outside 0..{MAX_COORD}")
        ev = make_events(*arrays)
    except EventFormatError:
        raise
    except Exception as e:  # numpy's header parser raises many types (TokenError, SyntaxError..)
        if isinstance(e, MemoryError | RecursionError):
            raise
        raise EventFormatError(path, None, f"not a valid event {fmt} file ({e})") from None
    if size is None:
        size = (int(ev["x"].max()) + 1, int(ev["y"].max()) + 1) if len(ev) else (1, 1)
    if not (0 < size[0] <= MAX_COORD + 1 and 0 < size[1] <= MAX_COORD + 1):
        raise EventFormatError(path, None, f"implausible sensor size {size}")
    if len(ev) and (ev["x"].max() >= size[0] or ev["y"].max() >= size[1]):
        raise EventFormatError(path, None, f"events outside the {size[0]}x{size[1]} sensor")
    return Recording(ev, size[0], size[1], fmt)


# --------------------------------------------------------------------------- DVS Gesture labels

LABEL_DTYPE = np.dtype([("label", "<i8"), ("t_start", "<i8"), ("t_end", "<i8")])


def read_gesture_labels(path) -> np.ndarray:
    """Read a DVS128 Gesture ``*_labels.csv`` (``class,startTime_usec,endTime_usec``).

    Returns a structured array of dtype :data:`LABEL_DTYPE` (``label``, ``t_start``,
    ``t_end`` in us, end exclusive). Raises :class:`EventFormatError` for a malformed line.
    """
    path = pathlib.Path(path)
    raw = path.read_bytes()
    rows = []
    offset = 0
    for line in raw.splitlines(keepends=True):
        text = line.decode("latin-1").strip()
        here, offset = offset, offset + len(line)
        if not text or text.lower().startswith("class"):
            continue
        parts = [s.strip() for s in text.split(",")]
        try:
            label, t0, t1 = (int(parts[0]), int(parts[1]), int(parts[2]))
        except (ValueError, IndexError):
            raise EventFormatError(path, here, f"bad label line {text[:60]!r}") from None
        if len(parts) != 3 or t1 < t0 or t0 < 0:
            raise EventFormatError(path, here, f"bad label line {text[:60]!r}")
        rows.append((label, t0, t1))
    return np.array(rows, dtype=LABEL_DTYPE)


def split_by_labels(rec: Recording, labels: np.ndarray) -> list[tuple[int, Recording]]:
    """Cut a recording into ``(label, segment)`` pairs, one per label row (``t_start <= t <
    t_end``), in the order of the rows."""
    t = rec.events["t"]
    out = []
    for row in labels:
        a, b = np.searchsorted(t, [row["t_start"], row["t_end"]], side="left")
        out.append(
            (
                int(row["label"]),
                rec.replace(events=rec.events[a:b], meta={**rec.meta, "label": int(row["label"])}),
            )
        )
    return out
