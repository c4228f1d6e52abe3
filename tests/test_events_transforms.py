"""Transforms, binning into core input rasters, paced and live sources."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from events_common import random_events

from edgelearn import events as E


def _rec():
    #            t    x  y  p
    rows = [
        (0, 1, 1, 1),
        (10, 2, 1, 0),
        (20, 5, 5, 1),
        (1000, 2, 2, 1),
        (1500, 9, 0, 0),
        (1510, 8, 1, 1),
    ]
    t, x, y, p = zip(*rows, strict=True)
    return E.Recording(E.make_events(t, x, y, p), 10, 6)


def test_crop_shifts_and_filters():
    r = E.crop(_rec(), 1, 1, 4, 2)
    assert r.sensor_size == (4, 2)
    assert r.events[["t", "x", "y"]].tolist() == [(0, 0, 0), (10, 1, 0), (1000, 1, 1)]
    with pytest.raises(ValueError, match="crop box"):
        E.crop(_rec(), 0, 0, 0, 3)


def test_downsample_halves_coordinates_and_size():
    r = E.downsample(_rec(), 2)
    assert r.sensor_size == (5, 3)
    assert r.events["x"].tolist() == [0, 1, 2, 1, 4, 4]
    assert r.events["y"].tolist() == [0, 0, 2, 1, 0, 0]
    r = E.downsample(_rec(), (3, 4))
    assert r.sensor_size == (4, 2)


def test_split_polarity():
    on, off = E.split_polarity(_rec())
    assert on.events["t"].tolist() == [0, 20, 1000, 1510]
    assert off.events["t"].tolist() == [10, 1500]


def test_denoise_keeps_supported_events_only():
    r = E.denoise(_rec(), dt_us=100)
    # (10,2,1) has neighbour (1,1) 10 us before; (1510,8,1) has (9,0) 10 us before;
    # the rest are isolated (no neighbour within 100 us before them)
    assert r.events["t"].tolist() == [10, 1510]
    assert E.denoise(_rec(), dt_us=5).events["t"].tolist() == []
    # a big isolated-noise field: most noise goes, a moving edge stays
    rng = np.random.default_rng(0)
    n = 2000
    noise = E.make_events(
        np.sort(rng.integers(0, 1_000_000, n)), rng.integers(0, 64, n), rng.integers(0, 64, n), 1
    )
    edge_t = np.repeat(np.arange(0, 64) * 1000, 64)
    edge = E.make_events(edge_t, np.repeat(np.arange(64), 64), np.tile(np.arange(64), 64), 1)
    ev = np.concatenate([noise, edge])
    ev = ev[np.argsort(ev["t"], kind="stable")]
    out = E.denoise(E.Recording(ev, 64, 64), dt_us=1500).events
    kept_edge = np.isin(out["t"], edge_t) & (out["x"] == out["t"] // 1000)
    assert kept_edge.sum() >= 63 * 64 - 64
    assert len(out) - kept_edge.sum() < 0.2 * n


def test_address_map_dense_and_binning_exact():
    am = E.AddressMap.dense(10, 6)
    assert am.n_axons == 120
    raster = E.bin_events(_rec(), am, dt_us=500)
    assert raster.shape == (4, 120) and raster.dtype == bool
    expect = {
        (0, 60 + 1 * 10 + 1),
        (0, 1 * 10 + 2),
        (0, 60 + 5 * 10 + 5),
        (2, 60 + 2 * 10 + 2),
        (3, 0 * 10 + 9),
        (3, 60 + 1 * 10 + 8),
    }
    assert set(zip(*np.nonzero(raster), strict=True)) == expect
    # fixed window: t0 and n_steps drop what falls outside
    r2 = E.bin_events(_rec(), am, dt_us=500, t0=500, n_steps=2)
    assert r2.shape == (2, 120) and r2.sum() == 1
    counts = E.bin_events(
        _rec(), E.AddressMap.dense(10, 6, polarity="merge"), dt_us=2000, counts=True
    )
    assert counts.shape == (1, 60) and counts.sum() == 6


def test_address_map_variants():
    on = E.AddressMap.dense(4, 4, polarity="on")
    ev = E.make_events([0, 1], [1, 1], [1, 1], [1, 0])
    assert on.axons(ev).tolist() == [5, -1]
    pooled = E.AddressMap.pooled(34, 34, 2)
    assert pooled.n_axons == 2 * 17 * 17 and pooled.table.shape == (2, 34, 34)
    assert pooled.axons(E.make_events([0], [33], [33], [1])).tolist() == [17 * 17 + 16 * 17 + 16]
    with pytest.raises(ValueError, match="polarity"):
        E.AddressMap.dense(4, 4, polarity="both")
    with pytest.raises(ValueError, match="entries"):
        E.AddressMap(np.full((2, 2, 2), 5), 4)


def test_bin_batch_shapes():
    recs = [_rec(), E.crop(_rec(), 0, 0, 10, 6)]
    out = E.bin_batch(recs, E.AddressMap.dense(10, 6), dt_us=1000, n_steps=3)
    assert out.shape == (2, 3, 120)
    assert np.array_equal(out[0], out[1])


def test_to_frames_signed_counts():
    f = E.to_frames(_rec(), n_frames=2)
    assert f.shape == (2, 6, 10)
    assert f.sum() == 4 - 2


def test_paced_source_real_time_schedule():
    rec = _rec()
    clock = E.ManualClock()
    src = E.PacedSource(rec, speed=2.0, slice_us=500, clock=clock)
    got = []
    for chunk in src:
        got.append((clock.now(), chunk["t"].tolist()))
    # slices [0,500), [1000,1500), [1500,2000): due at (k+1)*500us / 2
    assert got == [(0.00025, [0, 10, 20]), (0.00075, [1000]), (0.001, [1500, 1510])]
    assert all(s > 0 for s in clock.sleeps)


def test_paced_source_streams_a_file_in_chunks(tmp_path):
    ev = random_events(1, 20_000, 2_000_000, 64, 48)
    E.write(tmp_path / "r.raw", E.Recording(ev, 64, 48))
    clock = E.ManualClock()
    src = E.PacedSource(
        tmp_path / "r.raw", speed=10.0, slice_us=100_000, clock=clock, chunk_bytes=4096
    )
    assert (src.width, src.height) == (64, 48)
    parts = list(src)
    assert np.array_equal(np.concatenate(parts), ev)
    assert len(parts) == 20
    span = (ev["t"][-1] - ev["t"][0]) / 1e6 / 10
    assert span <= clock.now() <= span + 0.011


def test_live_camera_without_driver_says_what_to_install(monkeypatch):
    import edgelearn.events._stream as S

    for mod, _ in S.DRIVERS:
        monkeypatch.setitem(sys.modules, mod, None)  # makes `import mod` fail
    with pytest.raises(E.LiveCameraUnavailable, match="pip install neuromorphic-drivers"):
        E.LiveCamera()
    assert issubclass(E.LiveCameraUnavailable, RuntimeError)


def test_live_camera_adapts_a_driver_packet_stream(monkeypatch):
    import types

    dvs = np.array(
        [(5, 1, 2, True), (9, 3, 4, False)],
        dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")],
    )

    class Device:
        name = "Prophesee EVK4"
        closed = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            Device.closed = True

        def __iter__(self):
            yield None, {"dvs_events": dvs}
            yield None, {"trigger_events": np.zeros(1)}

    fake = types.SimpleNamespace(open=Device)
    monkeypatch.setitem(sys.modules, "neuromorphic_drivers", fake)
    with E.LiveCamera(driver="neuromorphic_drivers") as cam:
        assert (cam.width, cam.height) == (1280, 720)
        chunks = list(cam)
    assert Device.closed
    assert len(chunks) == 1 and chunks[0].dtype == E.EVENT_DTYPE
    assert chunks[0][["t", "x", "y", "p"]].tolist() == [(5, 1, 2, 1), (9, 3, 4, 0)]


def test_bin_stream_equals_bin_events_on_the_whole_recording():
    ev = random_events(4, 5000, 300_000, 8, 6)
    amap = E.AddressMap.dense(8, 6)
    whole = E.bin_events(ev, amap, dt_us=1000)
    chunks = np.array_split(ev, 37)
    blocks = list(E.bin_stream(chunks, amap, dt_us=1000))
    assert len(blocks) > 1
    assert np.array_equal(np.concatenate(blocks), whole)
    # live: a paced replay feeds it slice by slice
    src = E.PacedSource(E.Recording(ev, 8, 6), speed=50.0, slice_us=20_000, clock=E.ManualClock())
    assert np.array_equal(np.concatenate(list(E.bin_stream(src, amap, dt_us=1000))), whole)


def test_unsorted_events_bin_as_sorted_ones():
    # binning, frames and rebase take the earliest event as the start, whatever the order
    rec = _rec()
    rev = rec.replace(events=rec.events[::-1].copy())
    amap = E.AddressMap.dense(rec.width, rec.height)
    np.testing.assert_array_equal(E.bin_events(rev, amap, dt_us=100),
                                  E.bin_events(rec, amap, dt_us=100))
    np.testing.assert_array_equal(E.to_frames(rev, n_frames=3), E.to_frames(rec, n_frames=3))
    assert E.rebase(rev).events["t"].min() == 0 and rev.duration_us == rec.duration_us


def test_bad_sizes_are_value_errors():
    rec = _rec()
    amap = E.AddressMap.dense(rec.width, rec.height)
    for call in (lambda: E.AddressMap.pooled(34, 34, 0), lambda: E.AddressMap.dense(-3, 34),
                 lambda: E.to_frames(rec, dt_us=0), lambda: E.to_frames(rec, dt_us=-5),
                 lambda: E.bin_events(rec, amap, dt_us=2.5),
                 lambda: E.bin_batch([rec], amap, dt_us=10, n_steps=4, align="zer")):
        with pytest.raises(ValueError):
            call()
    # an event outside the sensor is refused when the recording is made
    with pytest.raises(ValueError, match="x = 40, outside the 34 x 34 sensor"):
        E.Recording(E.make_events([0], [40], [0], [1]), 34, 34)
