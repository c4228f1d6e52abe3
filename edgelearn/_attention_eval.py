"""The four variants of the in-context model side by side on the same episodes: float model,
quantized model, twin, C runtime (``docs/attention.md``).

    python -m edgelearn._attention_eval [--episodes 500] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from . import _attention_train as TR
from . import attention as A

NMNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "events" / "slayer-nmnist"


def float_params_path() -> Path:
    return A.default_model_path().with_name("incontext_float.npz")


def load_float(path: Path | None = None) -> dict | None:
    path = float_params_path() if path is None else path
    if not path.exists():
        return None
    import jax.numpy as jnp

    with np.load(path) as z:
        return {k: jnp.asarray(z[k]) for k in z.files}


def ci95(per_episode: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % confidence interval (normal approximation over episodes, the independent
    units) of per-episode accuracies."""
    a = np.asarray(per_episode, np.float64)
    m = float(a.mean())
    h = 1.96 * float(a.std(ddof=1)) / np.sqrt(len(a)) if len(a) > 1 else 0.0
    return m, max(0.0, m - h), min(1.0, m + h)


def run_c_batch(model: A.AttentionModel, ep, n_labels: int):
    """C runtime predictions ``(B, Q)`` and out counts ``(B, Q, L)``; seconds per episode."""
    n_ctx = ep.ctx.shape[1]
    net = A.build_network(model, n_ctx, n_labels)
    lay, cr, ct, qr = TR.episode_programs(model, ep, n_labels)
    counts = []
    t0 = time.perf_counter()
    for b in range(cr.shape[0]):
        counts.append(A.run_c(net, lay, cr[b], ct[b], qr[b]).counts)
    dt = (time.perf_counter() - t0) / max(1, cr.shape[0])
    counts = np.stack(counts)
    return A.predict(counts), counts, dt


def evaluate(model: A.AttentionModel, ep, *, n_labels: int = 5, float_params: dict | None = None,
             engines=("float", "quantized", "twin", "c")) -> dict:
    """Accuracy (mean and 95 % CI over episodes) of each variant on the episodes ``ep``, and
    whether the C runtime's predictions and spike counts equal the twin's on every episode."""
    out: dict = {"episodes": int(ep.ctx.shape[0]), "queries_per_episode": int(ep.query.shape[1])}
    preds = {}
    if "float" in engines and float_params is not None:
        preds["float"] = TR.float_predict(float_params, ep, n_labels)
    if "quantized" in engines:
        preds["quantized"] = TR.quantized_predict(model, ep, n_labels)
    counts = {}
    if "twin" in engines:
        t0 = time.perf_counter()
        preds["twin"], counts["twin"], _ = TR.twin_predict(model, ep, n_labels)
        out["twin_seconds"] = round(time.perf_counter() - t0, 2)
    if "c" in engines:
        preds["c"], counts["c"], dt = run_c_batch(model, ep, n_labels)
        out["c_seconds_per_episode"] = dt
    for k, p in preds.items():
        m, lo, hi = ci95((p == ep.query_labels).mean(-1))
        out[k] = {"accuracy": m, "ci95": [lo, hi]}
    if "twin" in counts and "c" in counts:
        same = np.all(counts["twin"] == counts["c"], axis=(1, 2))
        out["c_equals_twin_episodes"] = int(same.sum())
        out["c_equals_twin_all"] = bool(same.all())
        out["c_pred_equals_twin_all"] = bool(np.array_equal(preds["twin"], preds["c"]))
    return out


def table(results: dict[str, dict]) -> str:
    """A Markdown table: one row per data set, one column per variant."""
    cols = ["float", "quantized", "twin", "c"]
    lines = ["| episodes | " + " | ".join(cols) + " | C == twin |",
             "|---|" + "---|" * (len(cols) + 1)]
    for name, r in results.items():
        cells = []
        for c in cols:
            if c in r:
                a, (lo, hi) = r[c]["accuracy"], r[c]["ci95"]
                cells.append(f"{100 * a:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]")
            else:
                cells.append("-")
        eq = (f"{r['c_equals_twin_episodes']}/{r['episodes']}"
              if "c_equals_twin_episodes" in r else "-")
        lines.append(f"| {name} ({r['episodes']} x {r['queries_per_episode']} queries) | "
                     + " | ".join(cells) + f" | {eq} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=A.default_model_path(),
                    help="the float model is read from incontext_float.npz beside it")
    ap.add_argument("--episodes", type=int, default=500)
    ap.add_argument("--heldout-classes", type=int, default=200)
    ap.add_argument("--nmnist", type=Path, default=NMNIST_ROOT)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error(f"--episodes must be >= 1, got {args.episodes}")
    if args.heldout_classes < 5:
        ap.error(f"--heldout-classes must be >= 5 (5-way episodes), got {args.heldout_classes}")
    from . import _attention_data as D

    model = A.AttentionModel.load(args.model)
    fp = load_float(args.model.with_name("incontext_float.npz"))
    results = {}
    name = f"held-out glyphs, {args.heldout_classes} classes"
    pool = D.glyph_pool(D.HELDOUT_BASE, args.heldout_classes, 6)
    ep = D.sample_episodes(pool, args.episodes, seed=2024)
    results[name] = evaluate(model, ep, float_params=fp)
    print(name, json.dumps(results[name]), flush=True)
    if args.nmnist.exists():
        ep = D.sample_episodes(D.nmnist_pool(args.nmnist), args.episodes, seed=2024)
        results["N-MNIST (slayer-nmnist, 50 recordings)"] = evaluate(model, ep, float_params=fp)
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
