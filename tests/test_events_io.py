"""Event file formats: real recordings, lossless round trips, chunked reads, bad input."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
from events_common import damaged, random_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelearn import events as E
from edgelearn.events import _decoders as D

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "events"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real recordings not found at {DATA} (../shared/data is absent)"
)

# (file, format, events, width, height, t_first, t_last, x range, y range) from each PROVENANCE.md
REAL = [
    (
        "tonic/sample.aedat4",
        "aedat4",
        111_954,
        320,
        240,
        1605537493718345,
        1605537494308262,
        (0, 319),
        (0, 239),
    ),
    ("tonic/sample_nmnist.bin", "nmnist", 4_325, 34, 34, 654, 311175, (0, 33), (0, 33)),
    ("tonic/sample_ncars.dat", "dat", 2_009, 78, 42, 0, 99952, (0, 77), (0, 41)),
    ("faery/evt2.raw", "evt2", 521_252, 640, 480, 913716224, 913812095, (0, 639), (0, 479)),
    (
        "expelliarmus/evt2_sample.raw",
        "evt2",
        539_481,
        640,
        480,
        1317888,
        1367888,
        (60, 599),
        (18, 475),
    ),
    (
        "expelliarmus/evt3_sample.raw",
        "evt3",
        219_596,
        1280,
        720,
        11718656,
        11727467,
        (0, 1279),
        (0, 719),
    ),
]


@needs_data
@pytest.mark.parametrize("name,fmt,n,w,h,t0,t1,xr,yr", REAL, ids=[r[0] for r in REAL])
def test_real_recordings_match_provenance(name, fmt, n, w, h, t0, t1, xr, yr):
    rec = E.read(DATA / name)
    ev = rec.events
    assert rec.format == fmt
    assert len(rec) == n
    assert (rec.width, rec.height) == (w, h)
    assert (int(ev["t"][0]), int(ev["t"][-1])) == (t0, t1)
    assert (int(ev["x"].min()), int(ev["x"].max())) == xr
    assert (int(ev["y"].min()), int(ev["y"].max())) == yr
    assert set(np.unique(ev["p"])) == {0, 1}
    assert np.all(np.diff(ev["t"]) >= 0)


@needs_data
def test_evt3_timestamps_stay_inside_their_time_high_window():
    # TIME_HIGH words hold 2861..2863: every timestamp lies in 2861*4096 .. 2864*4096-1 us.
    # (expelliarmus 1.1.12 leaves this window from event 20121 on, ending at 11772513 us.)
    t = E.read(DATA / "expelliarmus/evt3_sample.raw").events["t"]
    assert t.min() >= 2861 * 4096 and t.max() <= 2864 * 4096 - 1
    assert t[-1] != 11772513


def _slayer_table():
    text = (DATA / "slayer-nmnist" / "PROVENANCE.md").read_text()
    rows = re.findall(
        r"^\| `(\d+)\.bs2` \|[^|]*\|[^|]*\| (\d) \| \d+ \| (\d+) \| ([0-9.]+) \|", text, re.M
    )
    return [(int(i), int(c), int(n), float(d)) for i, c, n, d in rows]


@needs_data
def test_slayer_nmnist_samples_match_provenance():
    table = _slayer_table()
    assert len(table) == 50
    labels = dict(
        (int(a), int(b))
        for a, b in (
            line.split()
            for line in (DATA / "slayer-nmnist/train1K.txt").read_text().splitlines()
            if line and not line.startswith("#")
        )
    )
    for sid, digit, n, dur in table:
        rec = E.read(DATA / "slayer-nmnist" / f"{sid}.bs2")
        assert len(rec) == n, sid
        assert (rec.width, rec.height) == (34, 34)
        assert abs(rec.duration_us / 1e6 - dur) <= 0.0006, sid
        assert labels[sid] == digit


@needs_data
@pytest.mark.parametrize("name", [r[0] for r in REAL])
def test_chunked_reading_equals_whole_read(name):
    whole = E.read(DATA / name).events
    f = E.open_events(DATA / name, chunk_bytes=4099)
    parts = list(f)
    assert len(parts) > 1 or DATA.joinpath(name).stat().st_size <= 4099 * 2
    assert max(len(p) for p in parts) <= max(4099 * 8, 20_000)  # bounded per chunk
    assert np.array_equal(np.concatenate(parts), whole)
    assert E.open_events(DATA / name, chunk_bytes=4099).stats() == E.read(DATA / name).stats()


# --------------------------------------------------------------------------- round trips

# format, extension, max width, max height, timestamp strategy
WRITERS = [
    ("evt2", ".raw", 2048, 2048),
    ("evt3", ".raw", 2048, 2048),
    ("dat", ".dat", 16384, 16384),
    ("nmnist", ".bin", 256, 240),
    ("aedat2", ".aedat", 128, 128),
    ("aedat2", ".aedat", 1024, 512),
    ("aedat3", ".aedat", 32768, 32768),
    ("aedat4", ".aedat4", 32768, 32768),
    ("npz", ".npz", 65536, 65536),
]

_T_LIMIT = {"nmnist": 1 << 23, "evt3": 1 << 30}


@st.composite
def recordings(draw, fmt, wmax, hmax):
    w = draw(st.integers(1, wmax))
    h = draw(st.integers(1, hmax))
    if fmt == "nmnist":  # the .bin format stores no sensor size: it reads back as 34 x 34
        w = h = 34
    n = draw(st.integers(0, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1, 64, 4096, 1 << 20, 1 << 31]))
    gaps = rng.integers(0, scale, n)
    t0 = draw(st.integers(0, 1 << 20))
    t = t0 + np.cumsum(gaps)
    limit = _T_LIMIT.get(fmt)
    if limit is not None:
        t = t % limit
        t.sort()
    if fmt in ("dat", "aedat2"):
        t = t0 + np.cumsum(np.minimum(gaps, (1 << 31) - 1))
    ev = E.make_events(t, rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n))
    return E.Recording(ev, w, h)


@pytest.mark.parametrize("fmt,ext,wmax,hmax", WRITERS, ids=[f"{w[0]}-{w[2]}" for w in WRITERS])
def test_write_then_read_is_lossless(tmp_path, fmt, ext, wmax, hmax):
    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(recordings(fmt, wmax, hmax))
    def check(rec):
        path = tmp_path / f"rec{ext}"
        E.write(path, rec, format=fmt)
        back = E.read(path)
        assert back.format == fmt
        assert np.array_equal(back.events, rec.events)
        assert (back.width, back.height) == (rec.width, rec.height)

    check()


def test_npy_round_trip_keeps_events(tmp_path):
    ev = E.make_events([1, 5, 9], [0, 3, 2], [4, 0, 1], [1, 0, 1])
    E.write(tmp_path / "a.npy", E.Recording(ev, 4, 5))
    back = E.read(tmp_path / "a.npy")
    assert np.array_equal(back.events, ev) and back.sensor_size == (4, 5)


@needs_data
@pytest.mark.parametrize(
    "name",
    [
        "tonic/sample.aedat4",
        "expelliarmus/evt3_sample.raw",
        "faery/evt2.raw",
        "tonic/sample_ncars.dat",
    ],
)
def test_real_recording_survives_conversion(tmp_path, name):
    rec = E.read(DATA / name)
    rebased = rec.replace(events=rec.events.copy())
    rebased.events["t"] -= rec.events["t"][0]
    for fmt, ext in [("evt2", ".raw"), ("evt3", ".raw"), ("aedat4", ".aedat4"), ("npz", ".npz")]:
        if fmt.startswith("evt") and max(rec.sensor_size) > 2048:
            continue
        E.write(tmp_path / f"c{ext}", rebased, format=fmt)
        back = E.read(tmp_path / f"c{ext}")
        assert np.array_equal(back.events, rebased.events), fmt
        assert back.sensor_size == rec.sensor_size


def test_writers_reject_what_the_format_cannot_hold(tmp_path):
    ev = E.make_events([5, 3], [0, 1], [0, 1], [1, 0])
    with pytest.raises(ValueError, match="time-sorted"):
        E.write(tmp_path / "a.raw", E.Recording(ev, 10, 10))
    ev = E.make_events([1 << 24], [0], [0], [1])
    with pytest.raises(ValueError, match="2\\*\\*23"):
        E.write(tmp_path / "a.bin", E.Recording(ev, 34, 34))
    ev = E.make_events([0], [3000], [0], [1])
    with pytest.raises(ValueError, match="2048"):
        E.write(tmp_path / "a.raw", E.Recording(ev, 3001, 10))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_dat_and_aedat2_timestamps_wrap_at_32_bits_across_chunks():
    # raw timestamps 2^32 - 10, 2^32 - 5, 3, 8, 2^31 + 2 (a jump up, not a wrap), 1 (another
    # wrap), one 8-byte record per chunk: the counter's wraps carry from chunk to chunk
    raw = [2**32 - 10, 2**32 - 5, 3, 8, 2**31 + 2, 1]
    expect = [2**32 - 10, 2**32 - 5, 2**32 + 3, 2**32 + 8, 2**32 + 2**31 + 2, 2**33 + 1]
    dat = np.zeros(len(raw), [("ts", "<u4"), ("d", "<u4")])
    dat["ts"] = raw
    aedat2 = np.zeros(len(raw), [("a", ">u4"), ("ts", ">u4")])
    aedat2["ts"] = raw
    for dec, data in ((D.DatDecoder(None, {}), dat), (D.Aedat2Decoder(None, {}), aedat2)):
        ev = _decode_in_chunks(dec, data.tobytes(), 8)
        assert ev["t"].tolist() == expect, type(dec).__name__


# --------------------------------------------------------------------------- bad input


def _own_files(tmp_path):
    ev = random_events(7, 200, 1 << 22, 128, 128)
    rec = E.Recording(ev, 128, 128)
    out = {}
    for fmt, ext in [
        ("aedat3", ".aedat"),
        ("aedat2", ".aedat"),
        ("aedat4", ".aedat4"),
        ("npz", ".npz"),
        ("npy", ".npy"),
        ("evt3", ".raw"),
        ("evt2", ".raw"),
        ("dat", ".dat"),
        ("nmnist", ".bin"),
    ]:
        p = tmp_path / f"own_{fmt}{ext}"
        E.write(p, rec.replace(events=ev) if fmt != "nmnist" else rec, format=fmt)
        out[fmt] = p.read_bytes()
    return out


def _sources(tmp_path):
    src = {
        k: (
            v,
            {
                "aedat2": ".aedat",
                "aedat3": ".aedat",
                "aedat4": ".aedat4",
                "npz": ".npz",
                "npy": ".npy",
                "evt3": ".raw",
                "evt2": ".raw",
                "dat": ".dat",
                "nmnist": ".bin",
            }[k],
        )
        for k, v in _own_files(tmp_path).items()
    }
    if DATA.is_dir():
        src["real_aedat4"] = ((DATA / "tonic/sample.aedat4").read_bytes(), ".aedat4")
        src["real_evt3"] = ((DATA / "expelliarmus/evt3_sample.raw").read_bytes()[:60_000], ".raw")
        src["real_evt2"] = ((DATA / "faery/evt2.raw").read_bytes()[:60_000], ".raw")
        src["real_dat"] = ((DATA / "tonic/sample_ncars.dat").read_bytes(), ".dat")
        src["real_bin"] = ((DATA / "tonic/sample_nmnist.bin").read_bytes(), ".bin")
    return src


def _read_only_documented_errors(path):
    try:
        rec = E.read(path)
    except E.EventFormatError as e:
        assert str(path) in str(e)
        return None
    assert rec.events.dtype == E.EVENT_DTYPE
    if len(rec):
        assert rec.events["x"].max() < rec.width and rec.events["y"].max() < rec.height
    return rec


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return _sources(tmp_path_factory.mktemp("src"))


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_files_raise_only_the_documented_error(tmp_path, sources, data):
    name = data.draw(st.sampled_from(sorted(sources)))
    blob, ext = sources[name]
    path = tmp_path / f"fuzz{ext}"
    path.write_bytes(damaged(data, blob))
    _read_only_documented_errors(path)


@pytest.mark.parametrize("fmt", ["aedat3", "aedat4", "dat", "nmnist", "evt2", "evt3", "aedat2"])
def test_truncation_inside_a_record_names_file_and_offset(tmp_path, sources, fmt):
    blob, ext = sources[fmt]
    cut = len(blob) - 3  # inside the last record / packet
    path = tmp_path / f"cut{ext}"
    path.write_bytes(blob[:cut])
    with pytest.raises(E.EventFormatError) as info:
        E.read(path)
    assert str(path) in str(info.value)
    assert info.value.offset is not None and 0 <= info.value.offset <= cut
    assert "byte" in str(info.value)


@needs_data
def test_truncated_real_aedat4_fails_even_at_a_packet_boundary(tmp_path):
    blob = (DATA / "tonic/sample.aedat4").read_bytes()
    path = tmp_path / "cut.aedat4"
    path.write_bytes(blob[:10291])  # exactly after the first packet
    with pytest.raises(E.EventFormatError, match="data table"):
        E.read(path)


def test_wrong_magic_and_unknown_words(tmp_path):
    p = tmp_path / "x.aedat4"
    p.write_bytes(b"#!AER-DAT4.1\r\n" + bytes(40))
    with pytest.raises(E.EventFormatError, match="byte 0"):
        E.read(p)
    p = tmp_path / "x.raw"
    p.write_bytes(b"% evt 3.0\n% end\n" + np.array([0x8001, 0x6001, 0x1000], "<u2").tobytes())
    with pytest.raises(E.EventFormatError, match="word type 0x1") as info:
        E.read(p)
    assert info.value.offset == 16 + 4
    p = tmp_path / "x.xyz"
    p.write_bytes(b"hello")
    with pytest.raises(E.EventFormatError, match="unrecognised"):
        E.read(p)
    assert issubclass(E.EventFormatError, ValueError)


def test_evt3_vectors_and_time_wrap(tmp_path):
    # hand-made stream: y=5, t=4096*4095+10, vector base x=100 pol 1, VECT_12 bits 0 and 11,
    # VECT_8 bit 1 -> x=100, 111, 113; then TIME_HIGH wraps to 0 (+2**24 us): ADDR_X x=7 pol 0
    words = [
        0x8FFF,
        0x6000 | 10,
        0x0005,
        0x3000 | (1 << 11) | 100,
        0x4000 | 0x801,
        0x5002,
        0x8000,
        0x6003,
        0x2007,
    ]
    p = tmp_path / "v.raw"
    p.write_bytes(b"% evt 3.0\n% geometry 200x10\n% end\n" + np.array(words, "<u2").tobytes())
    ev = E.read(p).events
    assert ev["x"].tolist() == [100, 111, 113, 7]
    assert ev["y"].tolist() == [5, 5, 5, 5]
    assert ev["p"].tolist() == [1, 1, 1, 0]
    assert ev["t"].tolist() == [4095 * 4096 + 10] * 3 + [(1 << 24) + 3]


def test_aedat3_dvs_gesture_labels(tmp_path):
    t = np.arange(0, 3_000_000, 100)
    n = len(t)
    ev = E.make_events(t, np.arange(n) % 128, (np.arange(n) // 128) % 128, np.arange(n) % 2)
    E.write(tmp_path / "user01_fluorescent.aedat", E.Recording(ev, 128, 128))
    (tmp_path / "user01_fluorescent_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n1,100000,900000\n3,1000000,2500000\n"
    )
    rec = E.read(tmp_path / "user01_fluorescent.aedat")
    assert rec.sensor_size == (128, 128) and rec.format == "aedat3"
    labels = E.read_gesture_labels(tmp_path / "user01_fluorescent_labels.csv")
    segs = E.split_by_labels(rec, labels)
    assert [s[0] for s in segs] == [1, 3]
    assert len(segs[0][1]) == (900000 - 100000) // 100
    assert segs[1][1].events["t"].min() >= 1000000


def test_unsupported_raw_encodings_are_named(tmp_path):
    for line in (b"% evt 2.1\n", b"% format EVT21;height=720;width=1280\n", b"% evt 4.0\n"):
        p = tmp_path / "x.raw"
        p.write_bytes(line + b"% end\n" + bytes(16))
        with pytest.raises(E.EventFormatError, match="unsupported Prophesee RAW encoding"):
            E.read(p)
    p.write_bytes(b"% format EVT3;height=10;width=20\n% end\n" + bytes(4))
    assert E.read(p).sensor_size == (20, 10)


def _compat_recording():
    return E.Recording(random_events(3, 5000, 5_000_000, 640, 480), 640, 480)


def test_own_aedat4_reads_in_the_aedat_package(tmp_path):
    aedat = pytest.importorskip("aedat", reason="aedat (a maintained AEDAT4 reader) not installed")
    rec = _compat_recording()
    E.write(tmp_path / "x.aedat4", rec)
    dec = aedat.Decoder(str(tmp_path / "x.aedat4"))
    assert dec.id_to_stream()[0] == {"type": "events", "width": 640, "height": 480}
    got = np.concatenate([p["events"] for p in dec if "events" in p])
    for ours, theirs in (("t", "t"), ("x", "x"), ("y", "y"), ("p", "on")):
        assert np.array_equal(got[theirs].astype(np.int64), rec.events[ours].astype(np.int64))


@pytest.mark.parametrize("fmt,ext", [("evt2", ".raw"), ("dat", ".dat")])
def test_own_prophesee_files_read_in_expelliarmus(tmp_path, fmt, ext):
    expelliarmus = pytest.importorskip("expelliarmus", reason="expelliarmus not installed")
    rec = _compat_recording()
    E.write(tmp_path / f"x{ext}", rec, format=fmt)
    got = expelliarmus.Wizard(encoding=fmt).read(str(tmp_path / f"x{ext}"))
    for k in "txyp":
        assert np.array_equal(got[k].astype(np.int64), rec.events[k].astype(np.int64))


def test_packets_larger_than_a_chunk(tmp_path):
    n = 50_000
    ev = E.make_events(np.arange(n) * 3, np.arange(n) % 300, np.arange(n) % 200, np.arange(n) % 2)
    rec = E.Recording(ev, 300, 200)
    for name, fmt in (("big.aedat", "aedat3"), ("big.aedat4", "aedat4")):
        E.write(tmp_path / name, rec, format=fmt)
        parts = list(E.iter_chunks(tmp_path / name, chunk_bytes=64))
        assert np.array_equal(np.concatenate(parts), ev)


def test_data_starting_with_the_header_byte_is_not_swallowed(tmp_path):
    # EVT 3.0 data whose first word's low byte is '%' (0x25): the header has no `% end`
    words = [0x8025, 0x6003, 0x0002, 0x2001]  # TIME_HIGH 0x025, TIME_LOW 3, y=2, x=1 OFF
    p = tmp_path / "w.raw"
    p.write_bytes(b"% evt 3.0\n% geometry 4x4\n" + np.array(words, "<u2").tobytes())
    ev = E.read(p).events
    assert ev[["t", "x", "y", "p"]].tolist() == [(0x25 * 4096 + 3, 1, 2, 0)]


# --------------------------------------------------------------------------- EVT differential


def _reference_evt3(words):
    """Word-by-word EVT 3.0 decoder written straight from the format description."""
    out = []
    y = high = -1
    low = base = vpol = 0
    tmax = -1
    wraps = 0
    for w in words:
        typ, pay = w >> 12, w & 0xFFF
        if typ == 0x8:
            if high >= 0 and pay < (high & 0xFFF) - 2048:
                wraps += 1
            high = (wraps << 12) | pay
            low = 0
        elif typ == 0x6:
            low = pay
        elif typ == 0x0:
            y = pay & 0x7FF
        elif typ == 0x3:
            base, vpol = pay & 0x7FF, pay >> 11
        if typ in (0x8, 0x6) and high >= 0:
            tmax = max(tmax, (high << 12) | low)
        if typ == 0x2 and tmax >= 0 and y >= 0:
            out.append((tmax, pay & 0x7FF, y, pay >> 11))
        elif typ in (0x4, 0x5):
            nbits = 12 if typ == 0x4 else 8
            for b in range(nbits):
                if pay >> b & 1 and tmax >= 0 and y >= 0:
                    out.append((tmax, base + b, y, vpol))
            base += nbits
    return out


_EVT3_TYPES = [0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8, 0xA, 0xE, 0xF]


def _decode_in_chunks(dec: D.Decoder, data: bytes, chunk: int) -> np.ndarray:
    """Feed ``data`` to ``dec`` in arbitrary chunks (odd sizes split a word; a chunk too short
    for a whole word grows by a byte) and join the events."""
    parts, pos = [], 0
    while pos < len(data):
        ev, used = dec.decode(data[pos : pos + chunk], pos, False)
        parts.append(ev)
        pos += used
        chunk = chunk + 1 if used == 0 else chunk
    return np.concatenate(parts) if parts else np.empty(0, E.EVENT_DTYPE)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_EVT3_TYPES), st.integers(0, 0xFFF)), min_size=0, max_size=400
    ),
    st.integers(2, 64),
)
def test_evt3_decoder_matches_a_word_by_word_reference(words, chunk):
    words = [(t << 12) | p for t, p in words]
    ev = _decode_in_chunks(D.Evt3Decoder(None, {}), np.array(words, dtype="<u2").tobytes(), chunk)
    assert ev[["t", "x", "y", "p"]].tolist() == _reference_evt3(words)


def _reference_evt2(words):
    out = []
    high = -1
    wraps = 0
    for w in words:
        typ = w >> 28
        if typ == 0x8:
            v = w & 0x0FFFFFFF
            if high >= 0 and v < (high & 0x0FFFFFFF) - (1 << 27):
                wraps += 1
            high = (wraps << 28) | v
        elif typ in (0, 1) and high >= 0:
            out.append(((high << 6) | (w >> 22 & 0x3F), w >> 11 & 0x7FF, w & 0x7FF, typ))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0x0, 0x1, 0x8, 0xA, 0xE, 0xF]), st.integers(0, 0x0FFFFFFF)),
        max_size=300,
    ),
    st.integers(4, 64),
)
def test_evt2_decoder_matches_a_word_by_word_reference(words, chunk):
    words = [(t << 28) | p for t, p in words]
    ev = _decode_in_chunks(D.Evt2Decoder(None, {}), np.array(words, dtype="<u4").tobytes(), chunk)
    assert ev[["t", "x", "y", "p"]].tolist() == _reference_evt2(words)
