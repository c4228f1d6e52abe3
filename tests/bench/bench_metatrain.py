"""Meta-training cost: time of one outer step and peak memory, full vs first-order, with and
without ``jax.checkpoint`` (remat) of the inner loop's shots.

Each case runs in its own process (peak memory is per process and never goes down; it is
``metatrain.train.peak_rss_mb``, not ``ru_maxrss``, which a child inherits from this runner): the
glyphs config's network and episode shapes, random rasters, one compile then ``--reps`` timed
outer steps (loss + gradient + Adam). Prints a table and returns the figures.

    python tests/bench/bench_metatrain.py [--shots 1] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CASE = r"""
import json, sys, dataclasses
import jax
sys.path.insert(0, "tests/bench")
from metatrain import config, model, train
from metatrain_backends import random_batch, time_outer_step
cfg, _ = config.load(sys.argv[1])
order, remat = sys.argv[2], sys.argv[3] == "1"
shots, batch, reps = (int(a) for a in sys.argv[4:7])
meta = dataclasses.replace(cfg.meta, order=order, remat=remat, batch=batch)
cfg = dataclasses.replace(cfg, meta=meta)
theta = model.init_theta(cfg.model, jax.random.PRNGKey(0))
rss0 = train.peak_rss_mb()
compile_s, step_s = time_outer_step(cfg, train.make_mesh(), theta,
                                    random_batch(cfg, batch, shots), reps)
print(json.dumps({"order": order, "remat": remat, "shots": shots, "batch": batch,
                  "compile_s": round(compile_s, 2), "step_s": round(step_s, 3),
                  "peak_rss_mb": round(train.peak_rss_mb(), 1),
                  "rss_before_step_mb": round(rss0, 1)}))
"""


def run_case(cfg: Path, order: str, remat: bool, shots: int, batch: int, reps: int) -> dict:
    r = subprocess.run([sys.executable, "-c", CASE, str(cfg), order, "1" if remat else "0",
                        str(shots), str(batch), str(reps)], cwd=ROOT, capture_output=True,
                       text=True, timeout=1800)
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(out_dir=None, *, shots: int = 5, batch: int = 8, reps: int = 3,
         config: str | None = None) -> dict:
    cfg = Path(config).resolve() if config else ROOT / "metatrain" / "configs" / "glyphs.toml"
    rows = []
    for order in ("full", "first"):
        for remat in (False, True):
            rows.append(run_case(cfg, order, remat, shots, batch, reps))
            r = rows[-1]
            print(f"order={r['order']:5s} remat={int(r['remat'])} shots={r['shots']} "
                  f"batch={r['batch']}: step {r['step_s']:.3f} s, compile {r['compile_s']:.1f} s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MiB", flush=True)
    res = {"config": str(cfg), "cases": rows,
           "note": "one process per case; peak RSS = VmHWM (includes the XLA compile)"}
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--config", default=None, help="default: metatrain/configs/glyphs.toml")
    a = ap.parse_args()
    print(json.dumps(main(None, shots=a.shots, batch=a.batch, reps=a.reps, config=a.config),
                     indent=1))
