"""State machines in attractor networks (issue 9): the paper's robustness cases at N = 10,000 and
the capacity table, on the numpy reference dynamics.

    python tests/bench/bench_fsm.py [--fast] [--out fsm.json]

Robustness: the demonstration machine (8 states, 16 transitions) driven by 100 random symbols
with random hold times under each condition of ``edgelearn.fsm_experiments.CASES``. Capacity: for
N in {1000, 2000, 5000, 10000}, the largest C (C states, C unique-symbol edges) whose random walk
succeeds in at least half of the trials, against the paper's dense bound N_Z + 2.2 N_E < 0.10 N.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edgelearn import fsm_experiments as X


def measure(fast: bool = False) -> dict:
    n = 4000 if fast else 10_000
    cases = ["int8", "async_p0.1"] if fast else list(X.CASES)
    robust = []
    for case in cases:
        t0 = time.perf_counter()
        r = X.robustness_case(case, n=n, n_inputs=100, seed=0)
        s = r.summary()
        s["seconds"] = round(time.perf_counter() - t0, 2)
        robust.append(s)
        print(f"{case:<14} N={n} {s['symbols']} symbols, {s['steps']} steps: "
              f"{'correct' if s['correct'] else 'INCORRECT'} walk, "
              f"min overlap {s['min_overlap']:.3f}, {s['seconds']:.1f} s", flush=True)
    ns = (1000, 2000) if fast else (1000, 2000, 5000, 10_000)
    trials = 3 if fast else 5
    capacity = []
    print(f"\n{'N':>6} {'C measured':>10} {'C/N':>7} {'bound C':>8} {'measured/bound':>14}")
    for n_ in ns:
        row = X.capacity_at(n_, trials=trials)
        capacity.append({"N": n_, "capacity": row.capacity, "ratio": round(row.ratio, 4),
                         "bound": row.bound, "trials": trials,
                         "tested": {str(k): v for k, v in row.tested.items()},
                         "seconds": round(row.seconds, 1)})
        print(f"{n_:>6} {row.capacity:>10} {row.ratio:>7.4f} {row.bound:>8} "
              f"{row.capacity / row.bound:>14.2f}", flush=True)
    return {"robustness": robust, "capacity": capacity, "fast": fast}


def main(out: Path | None = None) -> dict:
    result = measure(fast=False)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="smaller N, fewer cases (about 20 s)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    res = measure(fast=args.fast)
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
