"""State machines in attractor networks (issue 9): the demonstration on the C runtime at
N = 10,000 (steps per second, bytes of state), the paper's robustness cases and the capacity
table on the numpy reference dynamics.

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


def core_run(n: int, n_inputs: int = 100, seed: int = 0, case: str = "int8") -> dict:
    """The demonstration deployed on the C runtime: 2 N + 1 compartments, one recurrent
    connection (see edgelearn.fsm_core); steps per second of el_core_run and its memory.
    ``case``: the weights (edgelearn.fsm_experiments.core_mantissas); ``sparse98`` in CSR."""
    import numpy as np

    from edgelearn import fsm, fsm_core, fsm_sim, runtime

    rng = np.random.default_rng(seed)
    spec = X.demo_machine()
    compiled = fsm.compile_fsm(spec, n, seed=rng)
    mant = X.core_mantissas(case, compiled, rng)
    core = fsm_core.core_network(compiled, mant, sparse=case == "sparse98")
    del mant
    syms = X.random_symbols(spec, n_inputs, rng)
    sched = fsm_sim.random_schedule(syms, rng, rest=(1, 6))
    raster = core.raster(sched)
    c = runtime.Core(core.network)
    block = int(runtime.ffi.sizeof(c._mem))
    size = core.network.populations[0].size
    rec = core.network.connections[0]
    weights = (rec.weights.size + (rec.indices.size * 4 + rec.indptr.size * 4 if rec.sparse
                                   else 0) + size * core.network.n_inputs)
    best = float("inf")
    for _ in range(2):
        c.reset()
        t0 = time.perf_counter()
        s = c.run(raster).s
        best = min(best, time.perf_counter() - t0)
    zm = fsm_core.decode_spikes(s, n)
    run = fsm_core.run_on_core(core, sched)  # judged walk (also checks the spikes decode)
    assert np.array_equal(fsm_core.decode_spikes(run.spikes, n), zm)
    out = {"N": n, "weights": case + (", CSR" if case == "sparse98" else ", dense"),
           "compartments": size, "symbols": n_inputs, "steps": int(raster.shape[0]),
           "correct": run.correct, "seconds_best": round(best, 3),
           "steps_per_s": round(raster.shape[0] / best, 1), "core_bytes": block,
           "weight_bytes": weights, "state_and_other_bytes": block - weights,
           "recurrent_w_exp": core.w_exp, "input_w_exp": core.in_exp}
    print(f"C runtime, N = {n} ({size} compartments, {out['weights']}): {out['steps']} steps, "
          f"{'correct' if run.correct else 'INCORRECT'} walk of {n_inputs} symbols, "
          f"{out['steps_per_s']:.0f} steps/s; core memory {block / 1e6:.1f} MB "
          f"({weights / 1e6:.1f} MB weights and indices, {(block - weights) / 1e3:.1f} kB "
          f"state and descriptors)", flush=True)
    return out


def measure(fast: bool = False) -> dict:
    core = [core_run(2000 if fast else 10_000)]
    if not fast:
        core.append(core_run(10_000, case="binary_sigma2"))
        core.append(core_run(10_000, case="sparse98"))
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
    return {"core": core, "robustness": robust, "capacity": capacity, "fast": fast}


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
