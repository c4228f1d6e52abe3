"""The cost of learning: W1 (1,000 inputs dense to 1,000 LIF neurons, 10 % input spike
probability) with its 1,000 x 1,000 connection made a plastic readout, at ``t_epoch`` 1 and 10.

Synapse updates are counted as (learning epochs) x (stored synapses): every synapse is visited
by the rule at every epoch. Two figures per engine and rule:

- ``updates_per_s``: updates / wall time of the whole run (compartments, delivery, traces and
  epochs together);
- ``epoch_updates_per_s`` (C only): updates / (time with learning on - time of the same run with
  the learning switch off), i.e. the learning epochs' own cost;
- ``updates_per_cpu_s`` (C only): updates / the process's CPU time for the whole run (steadier
  than wall time on a shared machine).

Rules: the shipped error-triggered three-factor rule (``x1 * (r - y1)`` gated by ``|r - y1|``,
stochastic rounding; r = 64 on a random half of the neurons, 0 elsewhere) and pair STDP
(``x1 * y0 - y1 * x0``, stochastic rounding). The C runtime runs one thread; the twin runs
``simulate`` (jit) on the default JAX backend, fewer steps.

    python tests/bench/bench_learn.py [--steps 1000] [--twin-steps 100]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgelearn import INPUT, Connection, Network, Population, rule
from edgelearn.runtime import Core

RULES = ("error_triggered", "stdp")


def network(rule_name: str, t_epoch: int, seed: int = 0, n_in: int = 1000, n: int = 1000):
    rng = np.random.default_rng(seed)
    text = rule.shipped(rule_name).text().replace("t_epoch = ", "t_epoch_old = ")
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("t_epoch_old"))
    r = rule.parse(text + f"\nt_epoch = {t_epoch}\n")
    w = rng.integers(-128, 128, (n, n_in), dtype=np.int64).astype(np.int8)
    pop = Population("out", n, du=512, dv=256, vth_mant=2000, refractory=2)
    return Network(n_in, (pop,), (Connection(INPUT, "out", w, 0, rule=r),), seed=seed + 1)


def workload(steps: int, seed: int = 0, n_in: int = 1000, n: int = 1000, p: float = 0.1):
    rng = np.random.default_rng(seed + 100)
    raster = rng.random((steps, n_in)) < p
    third = np.repeat(np.where(rng.random((1, n)) < 0.5, 64, 0), steps, 0)
    return raster, third


def measure_c(rule_name: str, t_epoch: int, steps: int, repeats: int = 3) -> dict:
    net = network(rule_name, t_epoch)
    raster, third = workload(steps)
    core = Core(net)
    n_syn = net.n_neurons * net.n_inputs
    epochs = steps // t_epoch
    times, cpu = {}, {}
    for on in (True, False):
        best = best_cpu = float("inf")
        for _ in range(repeats):
            core = Core(net)  # fresh weights each time
            core.set_learning(on)
            t0, c0 = time.perf_counter(), time.process_time()
            core.run(raster, third=third)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        times[on], cpu[on] = best, best_cpu
    updates = epochs * n_syn
    return {"engine": "c-runtime", "rule": rule_name, "t_epoch": t_epoch, "steps": steps,
            "synapses": n_syn, "updates": updates, "seconds_learning_on": times[True],
            "seconds_learning_off": times[False], "updates_per_s": updates / times[True],
            "epoch_updates_per_s": updates / max(times[True] - times[False], 1e-9),
            "cpu_seconds_learning_on": cpu[True], "updates_per_cpu_s": updates / cpu[True]}


def measure_twin(rule_name: str, t_epoch: int, steps: int, repeats: int = 2) -> dict:
    import jax

    from edgelearn import twin

    net = network(rule_name, t_epoch)
    raster, third = workload(steps)
    params = twin.params_from_network(net)

    def run():
        res = twin.simulate(net, params, inputs=raster, third=third)
        res.final_state.plastic[0].w.block_until_ready()

    run()  # compile
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    n_syn = net.n_neurons * net.n_inputs
    updates = (steps // t_epoch) * n_syn
    return {"engine": "twin", "rule": rule_name, "t_epoch": t_epoch, "steps": steps,
            "synapses": n_syn, "updates": updates, "seconds": best,
            "updates_per_s": updates / best, "backend": jax.default_backend()}


def main(out_dir: Path | None = None, steps: int = 1000, twin_steps: int = 100,
         twin: bool = True) -> dict:
    rows = []
    for name in RULES:
        for t_epoch in (1, 10):
            rows.append(measure_c(name, t_epoch, steps))
            if twin:
                rows.append(measure_twin(name, t_epoch, twin_steps))
    print(f"{'engine':<10} {'rule':<16} {'t_epoch':>7} {'steps':>5} {'updates/s':>10} "
          f"{'epoch-only updates/s':>21} {'updates/cpu-s':>14}")
    for r in rows:
        epoch_only = r.get("epoch_updates_per_s")
        per_cpu = r.get("updates_per_cpu_s")
        print(f"{r['engine']:<10} {r['rule']:<16} {r['t_epoch']:>7} {r['steps']:>5} "
              f"{r['updates_per_s']:>10.3g} "
              f"{'' if epoch_only is None else format(epoch_only, '.3g'):>21} "
              f"{'' if per_cpu is None else format(per_cpu, '.3g'):>14}")
    return {"workload": "W1 with a plastic 1000x1000 readout", "results": rows}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--twin-steps", type=int, default=100)
    ap.add_argument("--no-twin", action="store_true")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    result = main(steps=a.steps, twin_steps=a.twin_steps, twin=not a.no_twin)
    if a.out:
        a.out.write_text(json.dumps(result, indent=2))
