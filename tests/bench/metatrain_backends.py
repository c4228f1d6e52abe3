"""Meta-training on an accelerator: the same code's loss and gradient on JAX's default backend
(a GPU where there is one) against the CPU, and the time of one outer step on each.

Uses the shipped glyphs config's network and episode shapes with random rasters (as
``bench_metatrain.py``). Needs no C runtime, so it runs from a bare checkout:

    PYTHONPATH=. python tests/bench/metatrain_backends.py [--batch 8] [--reps 5]

Prints one JSON object: each backend's device, compile and step time, and the largest
difference between the default backend's loss / gradient and the CPU's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from metatrain import config, model, train  # noqa: E402


def random_batch(cfg, batch: int, shots: int | None = None, seed: int = 0):
    """``batch`` episodes of the config's shapes with random rasters (6 % of axons per step):
    support, its labels (round-robin), queries, their labels."""
    m, e = cfg.model, cfg.episode
    shots = e.shots if shots is None else shots
    rng = np.random.default_rng(seed)
    S = (rng.random((batch, e.ways * shots, m.steps, m.n_inputs)) < 0.06).astype(np.float32)
    Q = (rng.random((batch, e.ways * e.queries, m.steps, m.n_inputs)) < 0.06).astype(np.float32)
    L = np.tile(np.tile(np.arange(e.ways), shots), (batch, 1))
    QL = np.tile(np.repeat(np.arange(e.ways), e.queries), (batch, 1))
    return S, L, Q, QL


def time_outer_step(cfg, mesh, theta, data, reps: int) -> tuple[float, float]:
    """``(compile_s, step_s)``: the first outer step (loss, gradient, Adam; compiles) and the
    mean of the next ``reps``."""
    tx = train.meta_optimizer(cfg, theta)
    step = train.make_meta_step(cfg, tx, mesh)
    st = tx.init(theta)
    args = train.put_batch(mesh, data)
    t = time.perf_counter()
    th, st, met = step(theta, st, *args)
    jax.block_until_ready(met)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(reps):
        th, st, met = step(th, st, *args)
    jax.block_until_ready(met)
    return compile_s, (time.perf_counter() - t) / reps


def run(cfg, device, batch: int, reps: int) -> dict:
    data = random_batch(cfg, batch)
    with jax.default_device(device):
        mesh = jax.sharding.Mesh(np.array([device]), ("ep",))
        theta = model.init_theta(cfg.model, jax.random.PRNGKey(0))
        # excitatory input and readout so that every layer spikes and every gradient flows
        theta["w_in"] = jax.numpy.abs(theta["w_in"])
        theta["w0"] = theta["w0"] + 20.0
        grad = train.make_grad_fn(cfg, mesh)
        (loss, _), g = grad(theta, *train.put_batch(mesh, data))
        g = jax.tree.map(np.asarray, g)
        compile_s, step_s = time_outer_step(cfg, mesh, theta, data, reps)
    return {"device": str(device), "platform": device.platform, "compile_s": round(compile_s, 2),
            "step_s": round(step_s, 4), "loss": float(loss), "grad": g}


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "metatrain" / "configs" / "glyphs.toml"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    cfg, _ = config.load(a.config)
    default, cpu = jax.devices()[0], jax.devices("cpu")[0]
    rows = [run(cfg, default, a.batch, a.reps)]
    if default.platform != "cpu":
        rows.append(run(cfg, cpu, a.batch, a.reps))
    ref = rows[-1]
    worst_abs, worst_rel = 0.0, 0.0
    for x, y in zip(jax.tree.leaves(rows[0]["grad"]), jax.tree.leaves(ref["grad"]), strict=True):
        d = np.abs(x - y)
        worst_abs = max(worst_abs, float(d.max()) if d.size else 0.0)
        scale = float(np.abs(y).max()) if y.size else 0.0
        if scale:
            worst_rel = max(worst_rel, float(d.max()) / scale)
    out = {"config": a.config, "batch": a.batch, "jax": jax.__version__,
           "backends": [{k: v for k, v in r.items() if k != "grad"} for r in rows],
           "loss_abs_diff": abs(rows[0]["loss"] - ref["loss"]),
           "grad_max_abs_diff": worst_abs, "grad_max_diff_over_leaf_max": worst_rel}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
