"""The end-of-run report: held-out evaluation with baselines, accuracy against shots, plots."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import evaluate as ev
from .config import Config, nmnist_folder


def final_report(cfg: Config, art, out: Path, *, quiet: bool = False) -> dict[str, Any]:
    e, E = cfg.episode, cfg.eval
    res: dict[str, Any] = {}
    workers = min(os.cpu_count() or 1, 8)  # processes making generated samples

    def said(what: str, t0: float, r: dict[str, Any]) -> None:
        """One line per finished evaluation (the report takes minutes; no bar to watch)."""
        if not quiet:
            m = r["metatrained"]
            print(f"report: {what}: meta-trained rule {100 * m['acc']:.1f} +- "
                  f"{ev.format_ci(m['ci95'], digits=1)} % ({time.monotonic() - t0:.0f} s)",
                  file=sys.stderr, flush=True)

    t0 = time.monotonic()
    eps = ev.make_episodes(art, cfg.data.kind, ways=e.ways, shots=e.shots, queries=E.queries,
                           episodes=E.episodes, seed=cfg.seed, workers=workers)
    res["test"] = ev.evaluate(art, eps, engine=E.engine, baselines=E.baselines,
                              transfer_steps=E.transfer_steps, transfer_lr=E.transfer_lr)
    said(f"held-out {cfg.data.kind}, {E.episodes} episodes on the {res['test']['engine']}"
         + (" (C runtime unavailable)" if "fallback" in res["test"] else ""), t0, res["test"])
    path = nmnist_folder(cfg)
    if path is not None:
        if path.is_dir():
            t0 = time.monotonic()
            eps_n = ev.make_episodes(art, str(path), ways=e.ways, shots=e.shots,
                                     queries=E.nmnist_queries, episodes=E.episodes,
                                     seed=cfg.seed)
            res["nmnist"] = ev.evaluate(art, eps_n, engine=E.engine, baselines=E.baselines,
                                        transfer_steps=E.transfer_steps,
                                        transfer_lr=E.transfer_lr)
            # the folder as the config names it (relative to the project root), not this
            # machine's absolute path: the report goes into the artifact's manifest
            res["nmnist"]["source"]["folder"] = E.nmnist
            said(f"N-MNIST ({E.nmnist}), {E.episodes} episodes", t0, res["nmnist"])
        else:
            res["nmnist"] = {"skipped": f"{E.nmnist} not found"}
    curve = []
    for k in E.shots_curve:
        t0 = time.monotonic()
        eps_k = ev.make_episodes(art, cfg.data.kind, ways=e.ways, shots=k, queries=E.queries,
                                 episodes=E.curve_episodes, seed=cfg.seed + 1,
                                 workers=workers)
        r = ev.evaluate(art, eps_k, engine="twin", baselines=E.baselines,
                        transfer_steps=E.transfer_steps, transfer_lr=E.transfer_lr)
        curve.append({"shots": k, **{m: r[m] for m in ("metatrained", "handset", "transfer",
                                                       "ncm") if m in r}})
        said(f"{k} shot(s), {E.curve_episodes} episodes on the twin", t0, r)
    res["shots_curve"] = curve
    plots(out, curve)
    return res


def plots(out: Path, curve: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
            if line.strip()]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for phase, key, a in (("pretrain", "loss", ax[0]), ("meta", "loss", ax[0]),
                          ("meta", "acc", ax[1]), ("val", "val_acc", ax[1])):
        xs = [r["step"] for r in recs if r.get("phase") == phase and key in r]
        ys = [r[key] for r in recs if r.get("phase") == phase and key in r]
        if xs:
            a.plot(xs, ys, label=f"{phase} {key}", marker="o" if phase == "val" else None)
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("loss")
    ax[0].legend()
    ax[1].set_xlabel("meta step")
    ax[1].set_ylabel("accuracy")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=100)
    plt.close(fig)
    if curve:
        fig, a = plt.subplots(figsize=(5, 4))
        shots = [c["shots"] for c in curve]
        for m in ("metatrained", "handset", "transfer", "ncm"):
            if m in curve[0]:
                y = np.array([c[m]["acc"] for c in curve])
                # no bar where the interval is undefined (ci95 None: one episode)
                err = np.array([np.nan if c[m]["ci95"] is None else c[m]["ci95"]
                                for c in curve])
                a.errorbar(shots, y, yerr=err, label=m, marker="o", capsize=3)
        a.set_xlabel("shots per class")
        a.set_ylabel("held-out accuracy")
        a.legend()
        fig.tight_layout()
        fig.savefig(out / "shots.png", dpi=100)
        plt.close(fig)
