"""Benchmark: event-file read throughput (events/s), next to maintained reader packages.

Reads the real EVT 3.0, EVT 2.0 and AEDAT4 recordings in ../shared/data/events (and a larger
synthetic EVT 3.0 file written by edgelearn) with edgelearn and, where they are installed, with
``expelliarmus`` (EVT 2.0/3.0) and ``aedat`` (AEDAT4), in the same process. Also times glyph
generation (samples/s), which meta-training leans on. Prints a table and writes
``<out>/events.json``.

    python tests/bench/bench_events.py --out bench-results
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edgelearn import events as E  # noqa: E402

DATA = ROOT / ".." / "shared" / "data" / "events"


def _best(fn, repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` calls, and the number of events the call returned."""
    best, n = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t0)
    return best, n


def _expelliarmus(encoding):
    try:
        import expelliarmus
    except ImportError:
        return None
    w = expelliarmus.Wizard(encoding=encoding)
    return lambda p: len(w.read(str(p)))


def _aedat():
    try:
        import aedat
    except ImportError:
        return None

    def read(p):
        n = 0
        for packet in aedat.Decoder(str(p)):
            if "events" in packet:
                n += len(packet["events"])
        return n

    return read


def _synthetic_evt3(path: pathlib.Path, n: int = 3_000_000) -> pathlib.Path:
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 10_000_000, n))
    ev = E.make_events(t, rng.integers(0, 1280, n), rng.integers(0, 720, n), rng.integers(0, 2, n))
    return E.write(path, E.Recording(ev, 1280, 720), format="evt3")


def _summary(recs) -> dict:
    n = np.array([len(r) for r in recs])
    on = np.array([int(r.events["p"].sum()) for r in recs])
    ratio = on / np.maximum(n - on, 1)
    dur = np.array([r.duration_us for r in recs]) / 1e3
    q = lambda a: [float(np.median(a)), float(a.min()), float(a.max())]  # noqa: E731
    return {"samples": len(recs), "events": q(n), "on_off_ratio": q(ratio), "duration_ms": q(dur)}


def compare_glyphs_to_nmnist() -> dict | None:
    """Events per sample, ON/OFF ratio and duration: 50 generated glyphs (10 classes x 5,
    seed 0) against the 50 real N-MNIST samples in slayer-nmnist (median, min, max)."""
    folder = DATA / "slayer-nmnist"
    if not folder.is_dir():
        return None
    real = [E.read(p) for p in sorted(folder.glob("*.bs2"))]
    gen = E.glyph_batch(
        [c for c in range(10) for _ in range(5)], [i for _ in range(10) for i in range(5)], seed=0
    )
    table = {"glyphs": _summary(gen), "nmnist": _summary(real)}
    print(
        "\n| | samples | events/sample median (min-max) | ON/OFF median (min-max) "
        "| duration ms median (min-max) |"
    )
    print("|---|---|---|---|---|")
    for name, label in (("glyphs", "generated glyphs (seed 0)"), ("nmnist", "N-MNIST (SLAYER)")):
        r = table[name]
        e, o, d = r["events"], r["on_off_ratio"], r["duration_ms"]
        print(
            f"| {label} | {r['samples']} | {e[0]:.0f} ({e[1]:.0f}-{e[2]:.0f}) | "
            f"{o[0]:.3f} ({o[1]:.3f}-{o[2]:.3f}) | {d[0]:.1f} ({d[1]:.1f}-{d[2]:.1f}) |"
        )
    return table


def _nearest_centroid_accuracy(dataset, splits, episodes: int, seed: int) -> float:
    """5-way 1-shot accuracy of cosine nearest-centroid on per-saccade event counts."""
    amap = E.AddressMap.dense(34, 34)
    sampler = E.EpisodeSampler(dataset, n_way=5, k_shot=1, n_query=3, splits=splits, seed=seed)

    def feats(recs):
        f = np.stack(
            [E.bin_events(r, amap, dt_us=110_000, n_steps=3, counts=True).ravel() for r in recs]
        ).astype(float)
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-9)

    hits = total = 0
    for i in range(episodes):
        ep = sampler.episode("train", i)
        fs, fq = feats(ep.support), feats(ep.query)
        cent = np.stack([fs[ep.support_labels == j].mean(0) for j in range(5)])
        cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-9)
        hits += int((np.argmax(fq @ cent.T, 1) == ep.query_labels).sum())
        total += len(ep.query_labels)
    return hits / total


def glyph_difficulty() -> dict | None:
    """How hard 5-way 1-shot episodes are: generated glyphs vs the real N-MNIST subset."""
    folder = DATA / "slayer-nmnist"
    if not folder.is_dir():
        return None
    nm = E.NMNISTFolder(folder)
    real = float(
        np.mean(
            [_nearest_centroid_accuracy(nm, {"train": list(nm.classes)}, 100, s) for s in range(3)]
        )
    )
    gen = _nearest_centroid_accuracy(E.glyphs(100, samples_per_class=20, seed=0), (1, 0, 0), 100, 0)
    print(f"5-way 1-shot nearest-centroid accuracy: glyphs {gen:.3f}, N-MNIST {real:.3f}")
    return {"glyphs": gen, "nmnist": real}


def main(out_dir: pathlib.Path) -> dict:
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    notes = []
    exp3, exp2, aed = _expelliarmus("evt3"), _expelliarmus("evt2"), _aedat()
    if exp3 is None:
        notes.append("expelliarmus not installed (pip install expelliarmus): no EVT reference")
    if aed is None:
        notes.append("aedat not installed (pip install aedat): no AEDAT4 reference")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        if DATA.is_dir():
            files += [
                ("evt3", DATA / "expelliarmus/evt3_sample.raw", exp3),
                ("evt2", DATA / "faery/evt2.raw", exp2),
                ("aedat4", DATA / "tonic/sample.aedat4", aed),
            ]
        else:
            notes.append(f"{DATA} absent: real recordings skipped")
        synth = _synthetic_evt3(pathlib.Path(tmp) / "synthetic_evt3.raw")
        files.append(("evt3", synth, exp3))
        rec4 = E.read(synth)
        synth4 = E.write(pathlib.Path(tmp) / "synthetic.aedat4", rec4)
        files.append(("aedat4", synth4, aed))
        for fmt, path, ref in files:
            size = path.stat().st_size
            repeat = 5 if size < 5_000_000 else 3
            dt, n = _best(lambda p=path: len(E.read(p)), repeat)
            row = {
                "format": fmt,
                "file": path.name,
                "bytes": size,
                "events": n,
                "edgelearn_s": dt,
                "edgelearn_events_per_s": n / dt,
            }
            dtc, nc = _best(
                lambda p=path: sum(len(c) for c in E.iter_chunks(p, chunk_bytes=1 << 20)), repeat
            )
            row["edgelearn_chunked_events_per_s"] = nc / dtc
            if ref is not None:
                try:
                    rdt, rn = _best(lambda p=path, f=ref: f(p), repeat)
                    row.update(
                        reference=("expelliarmus" if fmt.startswith("evt") else "aedat"),
                        reference_events=rn,
                        reference_s=rdt,
                        reference_events_per_s=rn / rdt,
                    )
                except Exception as e:  # a third-party reader failing is a result, not a crash
                    row.update(reference_error=f"{type(e).__name__}: {e}")
            rows.append(row)
    # generation throughput (meta-training needs many samples)
    E.glyph_batch([0], [0])
    t0 = time.perf_counter()
    recs = E.glyph_batch(list(range(64)) * 2, list(range(128)), seed=1)
    gdt = time.perf_counter() - t0
    t0 = time.perf_counter()
    E.gesture_batch(list(range(8)), [0] * 8, seed=1)
    hdt = time.perf_counter() - t0
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "reads": rows,
        "glyphs_per_s": len(recs) / gdt,
        "gestures_per_s": 8 / hdt,
        "notes": notes,
    }
    result["glyphs_vs_nmnist"] = compare_glyphs_to_nmnist()
    result["one_shot_difficulty"] = glyph_difficulty()
    print(f"event-file reads ({result['machine']['processor']}, {os.cpu_count()} cpus)")
    print(
        f"{'format':7} {'file':22} {'events':>9} {'edgelearn ev/s':>15} {'chunked ev/s':>13} "
        f"{'reference':>13} {'ref ev/s':>12}"
    )
    for r in rows:
        ref = r.get("reference", "-")
        rate = f"{r['reference_events_per_s']:.3g}" if "reference_events_per_s" in r else "-"
        if "reference_error" in r:
            ref, rate = "error", r["reference_error"][:30]
        print(
            f"{r['format']:7} {r['file'][:22]:22} {r['events']:>9} "
            f"{r['edgelearn_events_per_s']:>15.3g} {r['edgelearn_chunked_events_per_s']:>13.3g} "
            f"{ref:>13} {rate:>12}"
        )
    print(
        f"glyph generation: {result['glyphs_per_s']:.0f} samples/s; "
        f"gestures: {result['gestures_per_s']:.1f} samples/s"
    )
    for n in notes:
        print("note:", n)
    (out_dir / "events.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench-results"))
    main(ap.parse_args().out)
