"""Writers: every format the readers know, losslessly (``read(write(rec))`` gives ``rec``).

Each encoder checks that the recording fits its format (coordinate widths, clock ranges,
time order where the clock needs it) and raises ``ValueError`` naming the limit otherwise.
"""

from __future__ import annotations

import io
import os
import pathlib
import struct

import numpy as np

from . import _decoders as D
from ._io import FORMATS
from ._types import Recording


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


def _evt_header(rec: Recording, version: int) -> str:
    """The ASCII header of a Prophesee RAW file (EVT 2.0 or 3.0)."""
    return (
        f"% evt {version}.0\n% format EVT{version};height={rec.height};width={rec.width}\n"
        f"% geometry {rec.width}x{rec.height}\n% integrator_name edgelearn\n% end\n"
    )


def _encode_evt2(rec: Recording) -> bytes:
    ev = rec.events
    _check_sorted(ev, "EVT 2.0")
    _require(rec.width <= 2048 and rec.height <= 2048, "EVT 2.0 holds x, y < 2048")
    header = _evt_header(rec, 2)
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
    header = _evt_header(rec, 3)
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
        names = ", ".join(sorted(set(_WRITE_EXT.values()) | {"evt3", "aedat2"}))
        raise ValueError(
            f"{path}: cannot tell the format from extension {path.suffix!r}; name it "
            f"(format= here, --to on the command line): {names}"
        )
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
