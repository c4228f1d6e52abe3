"""Reading and writing recordings: format detection, headers, chunked streams, writers.

Entry points: :func:`read`, :func:`open_events` (chunked), :func:`write`, :func:`detect_format`.
Decoding itself lives in ``_decoders``; encoders are at the bottom of this file.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

import numpy as np

from . import _decoders as D
from ._types import EVENT_DTYPE, MAX_COORD, EventFormatError, Recording, make_events

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

_DECODERS = {
    "evt2": D.Evt2Decoder,
    "evt3": D.Evt3Decoder,
    "dat": D.DatDecoder,
    "nmnist": D.NmnistDecoder,
    "aedat2": D.Aedat2Decoder,
    "aedat3": D.Aedat3Decoder,
    "aedat4": D.Aedat4Decoder,
}


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
        dec = _DECODERS[self.format](self.path, self.header, self.file_size)
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
                ev, used = dec.decode(buf, base, final)
                self._check(ev, dec)
                self.skipped = dec.skipped
                if len(ev):
                    yield ev
                base += used
                pending = buf[used:]
                # a unit (packet) larger than a chunk: read as much again as is pending, so
                # the bytes re-copied while it accumulates stay linear in its size
                want = max(self.chunk_bytes, len(pending))
                if final:
                    break

    def _check(self, ev: np.ndarray, dec: D.Decoder) -> None:
        if self.width is None or not len(ev):
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

    def read(self) -> Recording:
        """All events as one :class:`Recording`."""
        if self.format in ("npz", "npy"):
            return _load_numpy(self.path, self.format)
        parts = list(self.chunks())  # chunk by chunk: cache-friendly, and as fast as one pass
        events = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
        width, height = self.width, self.height
        if width is None:
            if self.format == "nmnist" and (
                not len(events) or (events["x"].max() < 34 and events["y"].max() < 34)
            ):
                width = height = 34
            else:
                width = int(events["x"].max()) + 1 if len(events) else 1
                height = int(events["y"].max()) + 1 if len(events) else 1
        meta = {k: v for k, v in self.header.items() if k not in ("size",)}
        if self.skipped:
            meta["skipped"] = self.skipped
        return Recording(events, int(width), int(height), self.format, meta)


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


# --------------------------------------------------------------------------- writers


def _require(cond, message):
    if not cond:
        raise ValueError(message)


def _check_sorted(ev, fmt):
    t = ev["t"]
    if not len(t):
        return
    _require(t[0] >= 0, f"{fmt} cannot store negative timestamps (t[0]={t[0]})")
    _require(
        not len(t) or bool(np.all(t[1:] >= t[:-1])),
        f"{fmt} needs time-sorted events (sort with np.argsort(ev['t'], kind='stable'))",
    )


def _ramp(values: np.ndarray, step: int, max_extra: int, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Insert intermediate time-base values so that no jump (from 0) exceeds ``step``.

    Returns ``(all_values, owner)`` where ``owner[k]`` is the index in ``values`` that value
    ``k`` precedes (intermediates belong to the next real value).
    """
    prev = np.concatenate(([0], values[:-1]))
    gaps = values - prev
    extra = np.maximum(0, -(-gaps // step) - 1)
    total_extra = int(extra.sum())
    _require(
        total_extra <= max_extra,
        f"{fmt}: timestamps too far apart or too large to encode (shift them to start "
        "near 0, e.g. `edgelearn events convert --rebase`)",
    )
    if total_extra == 0:
        return values, np.arange(len(values))
    owner = np.repeat(np.arange(len(values)), extra + 1)
    # k-th inserted value before `values[i]` is prev[i] + (k+1)*step
    k = np.arange(len(owner)) - np.repeat(np.cumsum(extra + 1) - (extra + 1), extra + 1)
    vals = np.where(
        k < np.repeat(extra, extra + 1),
        np.repeat(prev, extra + 1) + (k + 1) * step,
        np.repeat(values, extra + 1),
    )
    return vals, owner


def _write_bytes(path, chunks):
    tmp = pathlib.Path(str(path) + ".part")
    with open(tmp, "wb") as f:
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def _encode_evt2(rec: Recording) -> bytes:
    ev = rec.events
    _check_sorted(ev, "EVT 2.0")
    _require(rec.width <= 2048 and rec.height <= 2048, "EVT 2.0 holds x, y < 2048")
    header = (
        f"% evt 2.0\n% format EVT2;height={rec.height};width={rec.width}\n"
        f"% geometry {rec.width}x{rec.height}\n% integrator_name edgelearn\n% end\n"
    )
    if not len(ev):
        return header.encode()
    t = ev["t"]
    high = t >> 6
    change = np.concatenate(([True], high[1:] != high[:-1]))
    th_vals, owner = _ramp(high[change], 1 << 26, 1 << 22, "EVT 2.0")
    ev_group = np.cumsum(change) - 1
    # order: every TIME_HIGH of group g, then the events of group g
    n_th = len(th_vals)
    key_group = np.concatenate((owner, ev_group))
    key_kind = np.concatenate((np.zeros(n_th, np.int8), np.ones(len(ev), np.int8)))
    words = np.concatenate(
        (
            (np.uint32(0x8) << 28) | (th_vals & 0x0FFFFFFF).astype(np.uint32),
            (ev["p"].astype(np.uint32) << 28)
            | ((t & 0x3F).astype(np.uint32) << 22)
            | (ev["x"].astype(np.uint32) << 11)
            | ev["y"].astype(np.uint32),
        )
    )
    order = np.lexsort((key_kind, key_group))
    return header.encode() + words[order].astype("<u4").tobytes()


def _encode_evt3(rec: Recording) -> bytes:
    ev = rec.events
    _check_sorted(ev, "EVT 3.0")
    _require(rec.width <= 2048 and rec.height <= 2048, "EVT 3.0 holds x, y < 2048")
    header = (
        f"% evt 3.0\n% format EVT3;height={rec.height};width={rec.width}\n"
        f"% geometry {rec.width}x{rec.height}\n% integrator_name edgelearn\n% end\n"
    )
    n = len(ev)
    if not n:
        return header.encode()
    t = ev["t"]
    high = t >> 12
    hchange = np.concatenate(([True], high[1:] != high[:-1]))
    th_vals, owner = _ramp(high[hchange], 2047, 1 << 22, "EVT 3.0")
    ev_group = np.cumsum(hchange) - 1
    first_of_group = np.flatnonzero(hchange)
    th_event = first_of_group[owner]  # event each TIME_HIGH precedes
    tl = np.concatenate(([True], t[1:] != t[:-1]))
    ay = np.concatenate(([True], ev["y"][1:] != ev["y"][:-1]))
    idx = np.arange(n)
    ev_idx = np.concatenate((th_event, idx[tl], idx[ay], idx))
    sub = np.concatenate(
        (
            np.zeros(len(th_vals), np.int8),
            np.full(int(tl.sum()), 1, np.int8),
            np.full(int(ay.sum()), 2, np.int8),
            np.full(n, 3, np.int8),
        )
    )
    words = np.concatenate(
        (
            (0x8 << 12) | (th_vals & 0xFFF),
            (0x6 << 12) | (t[tl] & 0xFFF),
            (0x0 << 12) | ev["y"][ay].astype(np.int64),
            (0x2 << 12) | (ev["p"].astype(np.int64) << 11) | ev["x"].astype(np.int64),
        )
    )
    del ev_group
    order = np.lexsort((sub, ev_idx))
    return header.encode() + words[order].astype("<u2").tobytes()


def _wrap32(ev, fmt):
    _check_sorted(ev, fmt)
    t = ev["t"]
    if len(t):
        _require(t[0] < (1 << 32), f"{fmt}: first timestamp must be < 2**32 us")
        _require(bool(np.all(np.diff(t) < (1 << 31))), f"{fmt}: a gap >= 2**31 us between events")
    return (t & 0xFFFFFFFF).astype(np.uint32)


def _encode_dat(rec: Recording) -> bytes:
    ev = rec.events
    _require(rec.width <= 16384 and rec.height <= 16384, "DAT holds x, y < 16384")
    ts = _wrap32(ev, "DAT")
    header = (
        f"% Data file containing Event2D events.\n% Version 2\n% Width {rec.width}\n"
        f"% Height {rec.height}\n% end\n"
    ).encode() + bytes([0x00, 0x08])
    rec_ = np.empty(len(ev), dtype=[("ts", "<u4"), ("d", "<u4")])
    rec_["ts"] = ts
    rec_["d"] = (
        ev["x"].astype(np.uint32)
        | (ev["y"].astype(np.uint32) << 14)
        | (ev["p"].astype(np.uint32) << 28)
    )
    return header + rec_.tobytes()


def _encode_nmnist(rec: Recording) -> bytes:
    ev = rec.events
    t = ev["t"]
    _require(rec.width <= 256 and rec.height <= 240, "N-MNIST .bin holds x < 256, y < 240")
    _require(
        not len(t) or (t.min() >= 0 and t.max() < (1 << 23)),
        "N-MNIST .bin holds timestamps 0 .. 2**23-1 us",
    )
    b = np.empty((len(ev), 5), dtype=np.uint8)
    b[:, 0] = ev["x"]
    b[:, 1] = ev["y"]
    b[:, 2] = (ev["p"].astype(np.int64) << 7) | (t >> 16)
    b[:, 3] = (t >> 8) & 0xFF
    b[:, 4] = t & 0xFF
    return b.tobytes()


def _encode_aedat2(rec: Recording) -> bytes:
    ev = rec.events
    ts = _wrap32(ev, "AEDAT 2.0")
    dvs128 = rec.width <= 128 and rec.height <= 128
    if dvs128:
        a = (
            ((127 - ev["x"].astype(np.uint32)) << 1)
            | (ev["y"].astype(np.uint32) << 8)
            | (1 - ev["p"].astype(np.uint32))
        )
        cam = "DVS128"
    else:
        _require(rec.width <= 1024 and rec.height <= 512, "AEDAT 2.0 (DAVIS) holds x<1024, y<512")
        a = (
            (ev["x"].astype(np.uint32) << 12)
            | (ev["y"].astype(np.uint32) << 22)
            | (ev["p"].astype(np.uint32) << 11)
        )
        cam = "DAVIS"
    header = (
        f"#!AER-DAT2.0\r\n# This is a raw AE data file created by edgelearn\r\n"
        f"# camera {cam} sensor {rec.width}x{rec.height}\r\n"
    ).encode()
    r = np.empty(len(ev), dtype=[("a", ">u4"), ("ts", ">u4")])
    r["a"] = a
    r["ts"] = ts
    return header + r.tobytes()


def _encode_aedat3(rec: Recording, packet_events: int = 8192) -> bytes:
    ev = rec.events
    t = ev["t"]
    _require(not len(t) or t.min() >= 0, "AEDAT 3.1 cannot store negative timestamps")
    _require(rec.width <= 32768 and rec.height <= 32768, "AEDAT 3.1 holds x, y < 32768")
    src = (
        "DVS128" if (rec.width, rec.height) == (128, 128) else f"edgelearn {rec.width}x{rec.height}"
    )
    out = [f"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: {src}\r\n#!END-HEADER\r\n".encode()]
    ovf = t >> 31
    # split into packets: at most packet_events, one overflow value each
    cuts = np.flatnonzero(np.diff(ovf)) + 1
    bounds = np.unique(np.concatenate(([0], cuts, np.arange(0, len(ev), packet_events), [len(ev)])))
    data = (
        (ev["x"].astype(np.uint32) << 17)
        | (ev["y"].astype(np.uint32) << 2)
        | (ev["p"].astype(np.uint32) << 1)
        | np.uint32(1)
    )
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        k = int(b - a)
        if not k:
            continue
        head = np.zeros(1, dtype=D._A3_HEADER)
        head["type"], head["source"], head["size"] = 1, 1, 8
        head["tsoffset"], head["tsoverflow"] = 4, int(ovf[a])
        head["capacity"] = head["number"] = head["valid"] = k
        body = np.empty(k, dtype=[("d", "<u4"), ("ts", "<i4")])
        body["d"] = data[a:b]
        body["ts"] = t[a:b] & 0x7FFFFFFF
        out += [head.tobytes(), body.tobytes()]
    return b"".join(out)


def _flat_ioheader(compression: int, table: int, info: str) -> bytes:
    s = info.encode()
    vt = struct.pack("<HHHHH", 10, 20, 4, 8, 16)
    buf = bytearray(struct.pack("<I", 24) + b"IOHE" + vt)
    buf += b"\x00" * (24 - len(buf))
    buf += struct.pack("<iiqI", 24 - 8, compression, table, 4)
    buf += struct.pack("<I", len(s)) + s + b"\x00"
    buf += b"\x00" * (-len(buf) % 4)
    return bytes(buf)


def _flat_event_packet(ev: np.ndarray) -> bytes:
    body = bytearray(struct.pack("<I", 16) + b"EVTS" + struct.pack("<HHH", 6, 8, 4))
    body += b"\x00" * (16 - len(body))
    body += struct.pack("<iI", 16 - 8, 28 - 20)
    body += b"\x00" * (28 - len(body))
    body += struct.pack("<I", len(ev))
    e = np.zeros(len(ev), dtype=D._A4_EVENT)
    e["t"], e["x"], e["y"], e["on"] = ev["t"], ev["x"], ev["y"], ev["p"]
    body += e.tobytes()
    return struct.pack("<I", len(body)) + bytes(body)


def _encode_aedat4(rec: Recording, packet_events: int = 4096) -> bytes:
    import lz4.frame

    _require(rec.width <= 32768 and rec.height <= 32768, "AEDAT4 holds x, y < 32768")
    info = (
        '<dv version="2.0">\n    <node name="outInfo" path="/mainloop/Recorder/outInfo/">\n'
        '        <node name="0" path="/mainloop/Recorder/outInfo/0/">\n'
        '            <attr key="compression" type="string">LZ4</attr>\n'
        '            <attr key="typeIdentifier" type="string">EVTS</attr>\n'
        '            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">\n'
        f'                <attr key="sizeX" type="int">{rec.width}</attr>\n'
        f'                <attr key="sizeY" type="int">{rec.height}</attr>\n'
        '                <attr key="source" type="string">edgelearn</attr>\n'
        '                <attr key="tsOffset" type="long">0</attr>\n'
        "            </node>\n        </node>\n    </node>\n</dv>\n"
    )
    head = _flat_ioheader(D.A4_LZ4, -1, info)
    out = [b"#!AER-DAT4.0\r\n", struct.pack("<i", len(head)), head]
    ev = rec.events
    for a in range(0, len(ev), packet_events):
        payload = lz4.frame.compress(_flat_event_packet(ev[a : a + packet_events]))
        out += [struct.pack("<ii", 0, len(payload)), payload]
    return b"".join(out)


_ENCODERS = {
    "evt2": _encode_evt2,
    "evt3": _encode_evt3,
    "dat": _encode_dat,
    "nmnist": _encode_nmnist,
    "aedat2": _encode_aedat2,
    "aedat3": _encode_aedat3,
    "aedat4": _encode_aedat4,
}

_WRITE_EXT = {
    ".raw": "evt2",
    ".dat": "dat",
    ".bin": "nmnist",
    ".bs2": "nmnist",
    ".aedat": "aedat3",
    ".aedat4": "aedat4",
    ".npz": "npz",
    ".npy": "npy",
}


def write(path, rec: Recording, *, format: str | None = None) -> pathlib.Path:
    """Write ``rec`` to ``path`` losslessly (read(path) gives back the same events and size).

    ``format`` defaults from the extension: ``.npz``, ``.npy``, ``.raw`` (EVT 2.0; pass
    ``format="evt3"`` for EVT 3.0), ``.dat``, ``.bin``/``.bs2`` (N-MNIST), ``.aedat`` (AEDAT
    3.1; ``format="aedat2"`` for 2.0), ``.aedat4``. Raises ``ValueError`` when the events do not
    fit the format (coordinates too large, negative or unsorted timestamps where the format
    needs them sorted). The file is written to ``path.part`` and renamed, so a failed write
    never leaves a partial file under ``path``.
    """
    path = pathlib.Path(path)
    if not isinstance(rec, Recording):
        raise TypeError(f"write() needs a Recording, got {type(rec).__name__}")
    fmt = format or _WRITE_EXT.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format from extension {path.suffix!r}; pass format=")
    ev = rec.events
    if len(ev):
        _require(
            int(ev["x"].max()) < rec.width and int(ev["y"].max()) < rec.height,
            f"events outside the recording's {rec.width}x{rec.height} sensor",
        )
    if fmt == "npz":
        buf = io.BytesIO()
        np.savez(
            buf,
            t=ev["t"],
            x=ev["x"],
            y=ev["y"],
            p=ev["p"],
            width=np.int64(rec.width),
            height=np.int64(rec.height),
        )
        _write_bytes(path, [buf.getvalue()])
    elif fmt == "npy":
        buf = io.BytesIO()
        np.save(buf, ev, allow_pickle=False)
        _write_bytes(path, [buf.getvalue()])
    elif fmt in _ENCODERS:
        _write_bytes(path, [_ENCODERS[fmt](rec)])
    else:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return path


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
