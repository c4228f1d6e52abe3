"""DVS simulator, glyph and gesture generators, datasets and episodes."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from edgelearn import events as E

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "events"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real recordings not found at {DATA} (../shared/data is absent)"
)

QUIET = E.DVSParams(
    threshold_sigma=0.0, leak_hz=0.0, shot_noise_hz=0.0, refractory_us=0.0, reference_jitter=0.0
)


def test_ramp_gives_floor_of_log_contrast_over_threshold_events():
    # one pixel, intensity 0.1 -> 1.0: ln(1.01 / 0.11) = 2.217 -> floor(2.217 / 0.25) = 8 ON
    frames = np.linspace(0.1, 1.0, 11)[:, None, None]
    rec = E.simulate(frames, np.arange(11) * 100, QUIET)
    assert len(rec) == 8 and rec.events["p"].tolist() == [1] * 8
    assert np.all(np.diff(rec.events["t"]) > 0) and rec.events["t"][-1] <= 1000
    # and back down: 8 OFF events
    frames = np.linspace(1.0, 0.1, 11)[:, None, None]
    rec = E.simulate(frames, np.arange(11) * 100, QUIET)
    assert rec.events["p"].tolist() == [0] * 8


def test_refractory_period_drops_close_events():
    frames = np.linspace(0.1, 1.0, 11)[:, None, None]
    free = E.simulate(frames, np.arange(11) * 100, QUIET).events["t"]
    dead = E.simulate(
        frames,
        np.arange(11) * 100,
        E.DVSParams(
            threshold_sigma=0.0,
            leak_hz=0.0,
            shot_noise_hz=0.0,
            refractory_us=150.0,
            reference_jitter=0.0,
        ),
    ).events["t"]
    assert len(dead) < len(free)
    assert np.all(np.diff(dead) >= 150)
    assert set(dead) <= set(free)


def test_leak_and_shot_noise_rates():
    frames = np.full((101, 8, 8), 0.5)
    times = np.arange(101) * 10_000  # 1 s
    leak = E.simulate(frames, times, E.DVSParams(leak_hz=5.0, shot_noise_hz=0.0)).events
    assert set(leak["p"].tolist()) == {1}
    assert 0.7 * 320 <= len(leak) <= 1.3 * 320
    noise = E.simulate(frames, times, E.DVSParams(leak_hz=0.0, shot_noise_hz=5.0)).events
    assert 200 <= len(noise) <= 450
    assert 0.3 < noise["p"].mean() < 0.7


def test_threshold_mismatch_spreads_counts():
    frames = np.linspace(0.1, 1.0, 11)[:, None, None] * np.ones((1, 16, 16))
    rec = E.simulate(
        frames,
        np.arange(11) * 100,
        E.DVSParams(threshold_sigma=0.2, leak_hz=0.0, shot_noise_hz=0.0, refractory_us=0.0),
    )
    per_pixel = np.bincount(rec.events["y"].astype(int) * 16 + rec.events["x"], minlength=256)
    assert per_pixel.min() < per_pixel.max()


def test_scene_function_and_streaming_feed_agree():
    def scene(t):
        img = np.full((6, 6), 0.1)
        img[:, int(t // 10_000) % 6] = 0.9
        return img

    rec = E.simulate(scene, duration_us=60_000, dt_us=2_000, params=QUIET)
    assert len(rec) > 0 and rec.sensor_size == (6, 6)
    sim = E.DVSSimulator((6, 6), QUIET)
    out = [sim.feed(scene(float(t)), t) for t in range(0, 60_001, 2_000)]
    assert sum(len(o[0]) for o in out) == len(rec)


def test_glyphs_deterministic_batch_independent_and_n_mnist_like():
    a = E.glyph_sample(5, 3, seed=11)
    b = E.glyph_batch([7, 5, 2], [0, 3, 9], seed=11)[1]
    assert np.array_equal(a.events, b.events)
    assert a.sensor_size == (34, 34)
    assert not np.array_equal(a.events, E.glyph_sample(5, 4, seed=11).events)  # jitter
    assert not np.array_equal(a.events, E.glyph_sample(5, 3, seed=12).events)
    recs = E.glyph_batch(list(range(8)) * 2, list(range(16)), seed=0)
    n = np.array([len(r) for r in recs])
    assert 1500 < np.median(n) < 7000  # N-MNIST: 1,665 .. 6,464 (median 4,134)
    on = np.mean([r.events["p"].mean() for r in recs])
    assert 0.4 < on < 0.6
    dur = np.median([r.duration_us for r in recs])
    assert 280_000 < dur < 320_000
    # three saccades: the event rate dips between them (as in N-MNIST)
    t = np.concatenate([r.events["t"] for r in recs])
    h = np.bincount(t // 10_000, minlength=31)[:31]
    assert h[10] < 0.3 * h[5] and h[20] < 0.3 * h[15]


def test_glyph_classes_differ_more_than_samples():
    am = E.AddressMap.dense(34, 34, polarity="merge")
    recs = E.glyph_batch([0, 0, 1, 1], [0, 1, 0, 1], seed=4)
    img = [E.bin_events(r, am, dt_us=400_000, n_steps=1)[0].astype(float) for r in recs]

    def d(i, j):
        return np.abs(img[i] - img[j]).sum()

    assert d(0, 1) < d(0, 2) and d(2, 3) < d(1, 3)


def test_gestures_are_128_and_move_along_their_class_path():
    tr = E.gesture_trajectory(0)
    assert tr["family"] == "circle"
    cfg = E.GestureConfig(duration_us=300_000, dt_us=10_000)
    a = E.gesture_batch([0, 1], [0, 0], seed=2, config=cfg)
    assert all(r.sensor_size == (128, 128) for r in a)
    assert all(len(r) > 1000 for r in a)
    b = E.gesture_sample(1, 0, seed=2, config=cfg)
    assert np.array_equal(a[1].events, b.events)
    assert len(E.GESTURE_FAMILIES) == 8


def test_generated_dataset_and_episodes_reproducible_and_disjoint():
    ds = E.glyphs(30, samples_per_class=20, seed=1)
    s1 = E.EpisodeSampler(ds, n_way=3, k_shot=2, n_query=2, seed=5)
    s2 = E.EpisodeSampler(
        E.glyphs(30, samples_per_class=20, seed=1), n_way=3, k_shot=2, n_query=2, seed=5
    )
    tr, va, te = (set(s1.split_classes[k]) for k in ("train", "val", "test"))
    assert not (tr & va or tr & te or va & te) and len(tr | va | te) == 30
    e1, e2 = s1.episode("train", 4), s2.episode("train", 4)
    assert e1.classes == e2.classes and set(e1.classes) <= tr
    assert np.array_equal(e1.query_labels, e2.query_labels)
    assert all(np.array_equal(a.events, b.events) for a, b in zip(e1.query, e2.query, strict=True))
    assert e1.support_labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert sorted(e1.query_labels.tolist()) == [0, 0, 1, 1, 2, 2]
    for j, c in enumerate(e1.classes):
        assert all(
            r.meta["label"] == c
            for r, lab in zip(e1.support, e1.support_labels, strict=True)
            if lab == j
        )
    # support and query samples of a class are distinct
    keys = [(r.meta["label"], r.meta["index"]) for r in e1.support + e1.query]
    assert len(set(keys)) == len(keys)
    assert set(s1.episode("test", 0).classes) <= te
    sx, qx = e1.rasters(E.AddressMap.dense(34, 34), dt_us=1000, n_steps=320)
    assert sx.shape == (6, 320, 2312) and qx.shape == (6, 320, 2312) and sx.any()


def test_episode_sampler_validation():
    ds = E.glyphs(6, samples_per_class=3)
    with pytest.raises(ValueError, match="fewer than"):
        E.EpisodeSampler(ds, n_way=2, k_shot=2, n_query=2)
    s = E.EpisodeSampler(
        ds, n_way=2, k_shot=1, n_query=1, splits={"train": [0, 1, 2], "val": [3], "test": [4, 5]}
    )
    assert not s.available("val")
    with pytest.raises(ValueError, match="fewer than n_way"):
        s.episode("val", 0)
    with pytest.raises(ValueError, match="shares"):
        E.EpisodeSampler(ds, n_way=1, k_shot=1, splits={"train": [0, 1], "val": [1]})



@pytest.mark.parametrize("make", [E.glyph_batch, E.gesture_batch])
def test_generator_batches_refuse_mismatched_keys(make):
    assert make([], []) == []
    with pytest.raises(ValueError, match="same length, got 0 and 1"):
        make([], [1])
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        make([1, 2], [0])
    with pytest.raises(ValueError, match=">= 0"):
        make([-1], [0])

@needs_data
def test_nmnist_folder_dataset_and_episodes():
    ds = E.NMNISTFolder(DATA / "slayer-nmnist")
    assert ds.classes == tuple(range(10)) and all(ds.count(c) == 5 for c in ds.classes)
    assert ds.get(5, 0).meta["path"].endswith("/1.bs2")  # sample 1 is a 5
    s = E.EpisodeSampler(
        ds,
        n_way=5,
        k_shot=1,
        n_query=2,
        splits={"train": list(range(5)), "val": [], "test": list(range(5, 10))},
    )
    ep = s.episode("test", 0)
    assert set(ep.classes) == set(range(5, 10)) and len(ep.query) == 10
    assert E.open_dataset(DATA / "slayer-nmnist").classes == ds.classes


def test_folder_and_dvs_gesture_layouts(tmp_path):
    root = E.write_generated(tmp_path / "gl", "glyphs", 3, 2, seed=1)
    ds = E.open_dataset(root)
    assert isinstance(ds, E.FolderDataset) and ds.classes == ("0", "1", "2")
    assert np.array_equal(ds.get("1", 1).events, E.glyph_sample(1, 1, seed=1).events)
    # DVS Gesture: users 1-23 train, 24-29 test; one sample per CSV row
    t = np.arange(0, 2_000_000, 500)
    ev = E.make_events(t, t % 128, (t // 128) % 128, (t // 500) % 2)
    (tmp_path / "g").mkdir()
    for user in (1, 24):
        E.write(tmp_path / "g" / f"user{user:02d}_led.aedat", E.Recording(ev, 128, 128))
        (tmp_path / "g" / f"user{user:02d}_led_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n2,0,500000\n5,600000,1900000\n"
        )
    train = E.DVSGestureFolder(tmp_path / "g", split="train")
    test = E.DVSGestureFolder(tmp_path / "g", split="test")
    assert train.classes == (2, 5) and train.count(2) == 1 and test.count(5) == 1
    seg = train.get(5, 0)
    assert seg.events["t"].min() >= 600000 and seg.events["t"].max() < 1900000
    assert len(E.open_dataset(tmp_path / "g")) == 4


def test_episode_batch_rasters_match_single_episodes():
    s = E.EpisodeSampler(
        E.glyphs(20, samples_per_class=10, seed=2), n_way=2, k_shot=1, n_query=2, seed=3
    )
    amap = E.AddressMap.pooled(34, 34, 2)
    sx, sy, qx, qy = s.rasters("train", [0, 1], amap, dt_us=5000, n_steps=64)
    assert sx.shape == (2, 2, 64, amap.n_axons) and qx.shape == (2, 4, 64, amap.n_axons)
    assert sy.dtype == np.int32 and sy.tolist() == [[0, 1], [0, 1]]
    ex, eq = s.episode("train", 1).rasters(amap, dt_us=5000, n_steps=64)
    assert np.array_equal(sx[1], ex) and np.array_equal(qx[1], eq)
    assert qy[1].tolist() == s.episode("train", 1).query_labels.tolist()


def test_generated_dataset_disk_cache(tmp_path):
    a = E.glyphs(5, seed=9, cache_dir=tmp_path)
    first = a.get_many([(1, 2), (3, 4)])
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.npy"))
    assert len(files) == 2 and files[0].startswith("glyphs-seed9-")
    b = E.glyphs(5, seed=9, cache_dir=tmp_path)
    b._make = None  # a second run must not simulate
    again = b.get_many([(3, 4), (1, 2)])
    assert np.array_equal(again[1].events, first[0].events)
    assert again[0].meta == {"label": 3, "index": 4} and again[0].sensor_size == (34, 34)


@needs_data
def test_glyph_statistics_track_real_n_mnist():
    real = [E.read(p) for p in sorted((DATA / "slayer-nmnist").glob("*.bs2"))]
    gen = E.glyph_batch([c for c in range(10) for _ in range(5)], list(range(5)) * 10, seed=0)

    def stats(recs):
        n = np.array([len(r) for r in recs])
        on = np.array([int(r.events["p"].sum()) for r in recs])
        return np.median(n), np.median(on / (n - on)), np.median([r.duration_us for r in recs])

    (n_r, ratio_r, dur_r), (n_g, ratio_g, dur_g) = stats(real), stats(gen)
    assert abs(n_g / n_r - 1) < 0.2
    assert abs(ratio_g - ratio_r) < 0.06
    assert abs(dur_g / dur_r - 1) < 0.05


def test_saccade_batch_turns_static_images_into_n_mnist_like_events():
    img = np.zeros((2, 34, 34))
    img[0, 8:26, 15:19] = 1.0  # a bar
    img[1, 10:24, 10:24] = 1.0  # a square ring
    img[1, 13:21, 13:21] = 0.0
    recs = E.saccade_batch(img, labels=[7, 3], seed=1)
    assert [r.meta["label"] for r in recs] == [7, 3]
    assert all(r.sensor_size == (34, 34) and len(r) > 500 for r in recs)
    # events lie on the edges: the blank corners stay (nearly) silent
    assert all(np.mean((r.events["x"] < 5) & (r.events["y"] < 5)) < 0.02 for r in recs)
    again = E.saccade_batch(img[1:], labels=[3], seed=1)[0]
    assert len(again) > 0
    with pytest.raises(ValueError, match="shape"):
        E.saccade_batch(np.zeros((1, 28, 28)))


def test_generated_dataset_worker_processes_give_the_same_samples():
    pairs = [(c, i) for c in range(4) for i in range(3)]
    serial = E.glyphs(4, seed=5, batch=4).get_many(pairs)
    par = E.glyphs(4, seed=5, batch=4, workers=2)
    try:
        got = par.get_many(pairs)
    finally:
        par.close()
    assert all(np.array_equal(a.events, b.events) for a, b in zip(serial, got, strict=True))
    assert got[5].meta == {"label": 1, "index": 2}
