"""The C event decoders (EVT 2.0, EVT 3.0, AEDAT4) against the numpy reference decoders.

Same events, same ``skipped`` count, same error (message, file and byte) for every input:
generated word streams that exercise each state register (time bases with wraps, rows, vector
bases, words before any time base, unknown types, events outside the sensor), damaged copies of
real and own recordings, and every chunk size, for both ``read`` (one growing buffer) and
chunked iteration.
"""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import struct
import subprocess
from unittest import mock

import numpy as np
import pytest
from events_common import damaged, random_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelearn import events as E
from edgelearn.events import _decoders as D
from edgelearn.events import _io

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "events"
C_FORMATS = ("evt2", "evt3", "aedat4")
SRC = ROOT / "edgelearn" / "events" / "_decode.c"
STRICT = ["-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow", "-Werror"]


def test_the_c_decoders_are_built_and_in_use():
    # a missing build would silently fall back to numpy: the package installs them
    assert set(D.C_DECODERS) == set(C_FORMATS)
    for fmt in C_FORMATS:
        assert _io._DECODERS[fmt] is D.C_DECODERS[fmt]
        assert issubclass(D.C_DECODERS[fmt], _io._REFERENCE_DECODERS[fmt])


@contextlib.contextmanager
def _reference():
    with mock.patch.dict(_io._DECODERS, _io._REFERENCE_DECODERS):
        yield


def _outcome(fn):
    """What a read gives: ('ok', event bytes, width, height, skipped) for a recording,
    ('ok', event bytes) for chunks, or ('error', message, offset)."""
    try:
        rec = fn()
    except E.EventFormatError as e:
        return ("error", str(e), e.offset)
    if isinstance(rec, list):  # chunked: the chunks' concatenation (chunk sizes may differ)
        return ("ok", b"".join(c.tobytes() for c in rec))
    return ("ok", rec.events.tobytes(), rec.width, rec.height, rec.meta.get("skipped", 0))


def _same_both_ways(path, chunk_bytes):
    def whole():
        return E.open_events(path, chunk_bytes=chunk_bytes).read()

    def chunked():
        return list(E.iter_chunks(path, chunk_bytes=chunk_bytes))

    for fn in (whole, chunked):
        got = _outcome(fn)
        with _reference():
            want = _outcome(fn)
        assert got == want, (fn.__name__, chunk_bytes, got[:2], want[:2])
    return got


# --------------------------------------------------------------------------- generated streams


def _header(tmp_path, fmt, width, height) -> bytes:
    """The header our writer gives a ``width`` x ``height`` EVT file (then the words follow)."""
    p = tmp_path / f"h_{fmt}.raw"
    E.write(p, E.Recording(np.empty(0, E.EVENT_DTYPE), width, height), format=fmt)
    f = E.open_events(p)
    return p.read_bytes()[: f.data_offset]


# EVT 3.0 word types, weighted toward the ones that carry state; 0x1/0x7/... are invalid
_EVT3_TYPES = [0x0, 0x2, 0x2, 0x3, 0x4, 0x4, 0x5, 0x6, 0x6, 0x8, 0xA, 0xE, 0xF]
_EVT3_BAD = [0x1, 0x7, 0x9, 0xB, 0xC, 0xD]


def _coordinate(top):
    """Mostly below 16 (inside every sensor drawn), about one in 40 anywhere up to ``top``."""
    return st.integers(0, 39).flatmap(
        lambda k: st.integers(0, top) if k == 0 else st.integers(0, 15)
    )


@st.composite
def evt3_words(draw):
    n = draw(st.integers(0, 400))
    bad = draw(st.booleans()) and draw(st.integers(0, 20)) == 0  # rarely an unknown type
    words = []
    for _ in range(n):
        typ = draw(st.sampled_from(_EVT3_TYPES))
        if typ == 0x8:  # time-high: small steps, sometimes back (a wrap)
            pay = draw(st.one_of(st.integers(0, 0xFFF), st.sampled_from([0, 1, 0xFFE, 0xFFF])))
        elif typ in (0x0, 0x2, 0x3):  # most coordinates fit a small sensor
            pay = draw(_coordinate(0xFFF))
        else:
            pay = draw(st.integers(0, 0xFFF))
        words.append((typ << 12) | pay)
    if bad and words:
        i = draw(st.integers(0, len(words) - 1))
        words[i] = (draw(st.sampled_from(_EVT3_BAD)) << 12) | (words[i] & 0xFFF)
    return struct.pack(f"<{len(words)}H", *words)


@st.composite
def evt2_words(draw):
    n = draw(st.integers(0, 300))
    words = []
    for _ in range(n):
        typ = draw(st.sampled_from([0x0, 0x1, 0x1, 0x8, 0xA, 0xE, 0xF]))
        if typ == 0x8:
            pay = draw(st.one_of(st.integers(0, 0x0FFFFFFF), st.sampled_from([0, 0x0FFFFFFF])))
        else:
            x = draw(_coordinate(0x7FF))
            y = draw(_coordinate(0x7FF))
            pay = (draw(st.integers(0, 63)) << 22) | (x << 11) | y
        words.append((typ << 28) | pay)
    if words and draw(st.integers(0, 20)) == 0:
        i = draw(st.integers(0, len(words) - 1))
        words[i] = (draw(st.sampled_from([0x2, 0x7, 0x9, 0xB])) << 28) | (words[i] & 0x0FFFFFFF)
    return struct.pack(f"<{len(words)}I", *words)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fmt=st.sampled_from(["evt3", "evt2"]),
    data=st.data(),
    size=st.sampled_from([(40, 40), (33, 17), (2048, 2048), (1280, 720)]),
    chunk=st.sampled_from([64, 66, 100, 256, 4096]),
    tail=st.integers(0, 3),
)
def test_generated_word_streams_decode_identically(tmp_path, fmt, data, size, chunk, tail):
    words = data.draw(evt3_words() if fmt == "evt3" else evt2_words())
    path = tmp_path / "s.raw"
    # tail: 1-3 stray bytes make a truncated file (the same error both ways)
    path.write_bytes(_header(tmp_path, fmt, *size) + words + b"\x00" * tail)
    _same_both_ways(path, chunk)


def test_evt3_vectors_wraps_and_held_time_decode_as_documented(tmp_path):
    # one stream with every register: a vector run across a chunk boundary, a TIME_LOW that
    # steps back (held), a 24-bit wrap of TIME_HIGH and words before any time base (skipped)
    w = [
        0x2005,  # ADDR_X before any row or time: skipped
        0x0003,  # y = 3
        0x8FFF,  # time high 0xFFF
        0x6010,  # low 0x10 -> t = 0xFFF010
        0x2801,  # ON event x = 1
        0x6008,  # low steps back: held at 0xFFF010
        0x3804,  # vector base x = 4, ON
        0x4FFF,  # 12 events x = 4..15
        0x5081,  # x = 16 and 23; base -> 24
        0x8000,  # time high wraps: 2**24
        0x2002,  # OFF event x = 2 at t = 2**24
    ]
    path = tmp_path / "v.raw"
    path.write_bytes(_header(tmp_path, "evt3", 64, 8) + struct.pack(f"<{len(w)}H", *w))
    for chunk in (64, 1 << 18):
        rec = E.open_events(path, chunk_bytes=chunk).read()
        assert rec.meta["skipped"] == 1
        x = [1] + list(range(4, 16)) + [16, 23, 2]
        assert rec.events["x"].tolist() == x
        assert rec.events["t"].tolist() == [0xFFF010] * 15 + [1 << 24]
        assert rec.events["p"].tolist() == [1] * 15 + [0]
        assert set(rec.events["y"].tolist()) == {3}
        _same_both_ways(path, chunk)


@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
def test_an_unknown_type_later_in_a_chunk_wins_over_an_event_outside_the_sensor(tmp_path, fmt):
    # the reference checks a chunk's word types before its events: the C decoder, which meets
    # the outside event first, must still name the unknown word; in separate chunks, the
    # outside event comes first
    if fmt == "evt3":  # row 1, time 4096, x = 48 on a 40-wide sensor, 40 fillers, type 0x7
        words = struct.pack("<43H", 0x0001, 0x8001, 0x2030, *([0xE000] * 39), 0x7000)
        outside_at, bad_at = 4, 84
    else:  # time-high, x = 48 event, 40 fillers, type 0x7
        words = struct.pack("<42I", 0x80000001, 48 << 11, *([0xE0000000] * 39), 0x70000000)
        outside_at, bad_at = 4, 164
    path = tmp_path / "b.raw"
    head = _header(tmp_path, fmt, 40, 40)
    path.write_bytes(head + words)
    got = _same_both_ways(path, 1 << 18)
    assert got[0] == "error" and "unknown" in got[1] and got[2] == len(head) + bad_at
    got = _same_both_ways(path, 64)
    assert got[0] == "error" and "outside" in got[1] and got[2] == len(head) + outside_at


def _aedat4_with(tmp_path, packets, payloads=()) -> pathlib.Path:
    """A 320 x 240 AEDAT4 file of LZ4 event packets, each given as (t, x, y, on) tuples that
    may be corrupt (negative coordinates), which our writer would refuse; then ``payloads``,
    packets given as their compressed bytes."""
    import lz4.frame

    from edgelearn.events import _writers as W

    p = tmp_path / "a.aedat4"
    E.write(p, E.Recording(np.empty(0, E.EVENT_DTYPE), 320, 240))
    blob = p.read_bytes()
    compressed = []
    for events in packets:
        body = bytearray(W._flat_event_packet(np.zeros(len(events), E.EVENT_DTYPE)))
        at = len(body) - 16 * len(events)
        for k, (t, x, y, on) in enumerate(events):
            struct.pack_into("<qhhB", body, at + 16 * k, t, x, y, on)
        compressed.append(lz4.frame.compress(bytes(body)))
    for payload in [*compressed, *payloads]:
        blob += struct.pack("<ii", 0, len(payload)) + payload
    p.write_bytes(blob)
    return p


def test_aedat4_a_corrupt_event_in_the_chunk_wins_over_one_outside_the_sensor(tmp_path):
    # the reference checks every packet's fields while decoding a chunk and the sensor after:
    # an event outside the sensor (y = 749) before a negative coordinate, in one packet or in
    # two packets of one chunk, is reported as the corrupt packet; chunks of one packet each
    # report the outside event first
    one = _aedat4_with(tmp_path, [[(1, 5, 749, 1), (2, -3, 4, 0)]])
    got = _same_both_ways(one, 1 << 18)
    assert got[0] == "error" and "negative coordinate" in got[1]
    two = _aedat4_with(tmp_path, [[(1, 5, 749, 1), (2, 3, 4, 0)], [(3, -3, 4, 0)]])
    got = _same_both_ways(two, 1 << 18)
    assert got[0] == "error" and "negative coordinate" in got[1]
    got = _same_both_ways(two, 64)
    assert got[0] == "error" and "outside the 320x240 sensor" in got[1]


def _xxh32(data: bytes, seed: int = 0) -> int:
    """xxHash32 (the LZ4 frame header's checksum), for crafting a valid header below."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    i, n = 0, len(data)
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed & m, (seed - p1) & m]
        while i + 16 <= n:
            for k in range(4):
                lane = int.from_bytes(data[i + 4 * k : i + 4 * k + 4], "little")
                v[k] = (rotl((v[k] + lane * p2) & m, 13) * p1) & m
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = (rotl((h + int.from_bytes(data[i : i + 4], "little") * p3) & m, 17) * p4) & m
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    return h ^ (h >> 16)


def test_aedat4_packet_declaring_a_huge_size_is_a_corrupt_packet(tmp_path):
    # an LZ4 frame whose header claims 64 GiB of content (checksum valid): the one-call
    # decoder would try to allocate that (MemoryError, an empty reason); the bounded one
    # names the frame's error
    import lz4.frame

    frame = bytearray(lz4.frame.compress(b"\x00" * 64, store_size=True))
    assert lz4.frame.get_frame_info(bytes(frame))["content_size"] == 64
    frame[6:14] = struct.pack("<Q", 1 << 36)
    frame[14] = (_xxh32(bytes(frame[4:14])) >> 8) & 0xFF
    assert lz4.frame.get_frame_info(bytes(frame))["content_size"] == 1 << 36
    p = _aedat4_with(tmp_path, [], payloads=[bytes(frame)])
    got = _same_both_ways(p, 1 << 18)
    assert got[0] == "error" and "corrupt compressed packet (LZ4" in got[1]


# --------------------------------------------------------------------------- damaged files


def _blobs(tmp_path):
    ev = random_events(11, 3000, 1 << 24, 320, 240)
    rec = E.Recording(ev, 320, 240)
    out = {}
    for fmt, ext in (("evt3", ".raw"), ("evt2", ".raw"), ("aedat4", ".aedat4")):
        p = tmp_path / f"own_{fmt}{ext}"
        E.write(p, rec, format=fmt)
        out[fmt] = (p.read_bytes(), ext)
    if DATA.is_dir():
        out["real_evt3"] = ((DATA / "expelliarmus/evt3_sample.raw").read_bytes()[:80_000], ".raw")
        out["real_evt2"] = ((DATA / "faery/evt2.raw").read_bytes()[:80_000], ".raw")
        out["real_aedat4"] = ((DATA / "tonic/sample.aedat4").read_bytes(), ".aedat4")
    return out


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    return _blobs(tmp_path_factory.mktemp("blobs"))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_recordings_give_the_same_result_in_c_and_numpy(tmp_path, blobs, data):
    name = data.draw(st.sampled_from(sorted(blobs)))
    blob, ext = blobs[name]
    path = tmp_path / f"d{ext}"
    path.write_bytes(damaged(data, blob))
    _same_both_ways(path, data.draw(st.sampled_from([64, 1000, 1 << 18])))


@pytest.mark.skipif(not DATA.is_dir(), reason=f"real recordings not found at {DATA}")
@pytest.mark.parametrize(
    "rel",
    [
        "faery/evt2.raw",
        "expelliarmus/evt2_sample.raw",
        "expelliarmus/evt3_sample.raw",
        "tonic/sample.aedat4",
    ],
)
def test_whole_real_recordings_decode_identically(rel):
    got = _same_both_ways(DATA / rel, 1 << 18)
    assert got[0] == "ok" and len(got[1]) > 0


def test_event_buffer_grows_and_gives_back_exactly_what_was_written():
    buf = D.EventBuffer(1)
    ev = random_events(3, 1000, 1 << 20, 64, 64)
    raw = np.frombuffer(ev.tobytes(), np.uint8)
    for a in range(0, 1000, 7):
        k = min(7, 1000 - a)
        buf.reserve(k)
        n = buf.n * 13
        buf.raw[n : n + 13 * k] = raw[13 * a : 13 * (a + k)]
        buf.n += k
    out = buf.events()
    assert out.dtype == E.EVENT_DTYPE and out.tobytes() == ev.tobytes()


# --------------------------------------------------------------------------- the C itself


@pytest.mark.parametrize("compiler", ["gcc -std=c99", "g++ -x c++"])
def test_decoder_c_compiles_warning_free_as_c99_and_cpp(tmp_path, compiler):
    cc = compiler.split()
    if shutil.which(cc[0]) is None:
        pytest.skip(f"{cc[0]} not installed")
    r = subprocess.run(
        [*cc, *STRICT, "-O2", "-c", str(SRC), "-o", str(tmp_path / "d.o")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_decoders_under_address_and_undefined_behaviour_sanitizers(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    exe = tmp_path / "decode_fuzz"
    r = subprocess.run(
        ["gcc", "-std=c99", *STRICT, "-g", "-O1", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", f"-I{SRC.parent}", str(ROOT / "tests/c/decode_fuzz.c"),
         str(SRC), "-o", str(exe)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    args = []
    if DATA.is_dir():  # whole real recordings in random pieces, exact-size output buffers
        for rel, fmt in (("faery/evt2.raw", "evt2"), ("expelliarmus/evt3_sample.raw", "evt3")):
            f = E.open_events(DATA / rel)
            args.append(f"{fmt}:{f.data_offset}:{f.width}:{f.height}:{DATA / rel}")
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no finding" in r.stdout
    for a in args:  # every event of the file came out, as Python reads it
        path = a.split(":", 4)[4]
        assert f"{path}: {len(E.read(path))} events" in r.stdout
