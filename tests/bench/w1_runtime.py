"""W1 on the C runtime (one thread): 1,000 inputs dense to 1,000 LIF neurons, 10 % input spike
probability per step, 1,000 steps (~1e8 synaptic events). Prints events/s, writes JSON with --out.

Synaptic events are counted as delivered: each input spike of steps 1 .. T-1 reaches 1,000
synapses at the next step (the last step's spikes are never delivered).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgelearn.network import layer
from edgelearn.runtime import Core


def w1(seed: int = 0, n_in: int = 1000, n: int = 1000, T: int = 1000, p: float = 0.1):
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, (n, n_in), dtype=np.int64).astype(np.int8)
    net = layer(n_in, n, w=w, du=512, dv=256, vth_mant=2000, w_exp=0, refractory=2)
    raster = rng.random((T, n_in)) < p
    return net, raster


def measure(repeats: int = 7, probe: bool = False) -> dict:
    net, raster = w1()
    core = Core(net)
    events = int(raster[:-1].sum()) * net.n_neurons
    times = []
    for _ in range(repeats):
        core.reset()
        t0 = time.perf_counter()
        res = core.run(raster, probe=probe)
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"workload": "W1", "engine": "c-runtime", "threads": 1, "events": events,
            "seconds_best": best, "seconds_median": float(np.median(times)),
            "events_per_s": events / best, "probe": probe,
            "output_spikes": int(res.s.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--probe", action="store_true", help="also record u and v every step")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    r = measure(args.repeats, args.probe)
    print(f"W1 C runtime: {r['events']:.3g} events in {r['seconds_best'] * 1e3:.1f} ms "
          f"(best of {args.repeats}) = {r['events_per_s']:.3g} events/s")
    if args.out:
        args.out.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
