"""W1 on both engines: 1,000 LIF neurons dense from 1,000 inputs, 10 % input spike probability
per step, 1,000 steps (~1e8 synaptic events). Synaptic events/s for the C runtime (one thread),
the twin at batch 1 and batch 64, and a roofline reference measured in the same run: the
machine's int8 streaming read bandwidth (one weight byte per synaptic event), both for a 1 MiB
buffer (W1's weight matrix, cache-resident) and for a 256 MiB one (DRAM).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from w1_runtime import measure as measure_c
from w1_runtime import w1


def _best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def stream_int8_bytes_per_s(n_bytes: int, repeats: int = 5) -> float:
    buf = np.random.default_rng(0).integers(-128, 128, n_bytes, dtype=np.int8)
    words = buf.view(np.uint64)
    reps = max(1, (256 << 20) // n_bytes)

    def run():
        for _ in range(reps):
            np.bitwise_xor.reduce(words)

    return n_bytes * reps / _best(run, repeats)


def twin_events_per_s(batch: int, repeats: int = 3) -> dict:
    import jax
    import jax.numpy as jnp

    from edgelearn import twin

    net, raster = w1()
    events = int(raster[:-1].sum()) * net.n_neurons * batch
    params = twin.params_from_network(net)
    r = jnp.asarray(np.broadcast_to(raster, (batch,) + raster.shape) if batch > 1 else raster)

    def run():
        twin.simulate(net, params, inputs=r).spikes.block_until_ready()

    best = _best(run, repeats)
    return {"engine": "twin", "batch": batch, "events": events, "seconds_best": best,
            "events_per_s": events / best, "backend": jax.default_backend()}


def main(out_dir: Path | None = None) -> dict:
    roof_l2 = stream_int8_bytes_per_s(1 << 20)
    roof_dram = stream_int8_bytes_per_s(256 << 20)
    rows = [dict(measure_c(repeats=7), batch=1)]
    rows += [twin_events_per_s(1), twin_events_per_s(64)]
    print(f"roofline: int8 streaming read {roof_l2:.3g} B/s (1 MiB, cache) / "
          f"{roof_dram:.3g} B/s (256 MiB, DRAM) -> events/s limits at 1 byte per event")
    print(f"{'engine':<10} {'batch':>5} {'events/s':>10} {'of cache roof':>14} "
          f"{'of DRAM roof':>13}")
    for r in rows:
        r["fraction_of_cache_roofline"] = r["events_per_s"] / roof_l2
        r["fraction_of_dram_roofline"] = r["events_per_s"] / roof_dram
        print(f"{r['engine']:<10} {r['batch']:>5} {r['events_per_s']:>10.3g} "
              f"{r['fraction_of_cache_roofline']:>14.2f} {r['fraction_of_dram_roofline']:>13.2f}")
    return {"workload": "W1", "roofline_int8_stream_bytes_per_s": {"1MiB": roof_l2,
                                                                  "256MiB": roof_dram},
            "results": rows, "goals": {"c_runtime": 2e9, "twin_batch1": 1e9}}


if __name__ == "__main__":
    main()
