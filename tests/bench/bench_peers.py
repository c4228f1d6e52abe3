"""The same work on a peer: W1 (1,000 inputs dense to 1,000 LIF neurons, 10 % input spikes per
step) on nengo-loihi's emulator (nengo-loihi 1.1.0, numpy), on Lava's bit-accurate LIF and
Dense model code (lava-nc 0.10.0 through tests/lava_ref.py, without Lava's runtime) and on
edgelearn's C runtime (one thread) and twin (JAX, batch 1), with the spike counts compared (all
are bit-identical on this behaviour, docs/spec.md section 9). Fewer steps than bench_core's W1
(the emulator is slow), the same steps on every engine.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from w1_runtime import w1

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: nengo_ref, lava_ref

STEPS = 200


def _timed(fn, repeats: int):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, min(times)


def main(out_dir: Path | None = None) -> dict:
    import jax

    from edgelearn import runtime, twin

    net, raster = w1(T=STEPS)
    events = int(raster[:-1].sum()) * net.n_neurons
    try:
        from nengo_ref import emulate
    except ImportError as e:  # nengo-loihi is a dev dependency; say so rather than fail
        print(f"nengo-loihi not installed ({e}); pip install -e '.[dev]'")
        return {"skipped": str(e)}
    counts_nl, t_nl = _timed(lambda: emulate(net, raster, record=False), 2)
    core = runtime.Core(net)

    def c_run():
        core.reset()
        return core.run(raster).s.sum(0)

    counts_c, t_c = _timed(c_run, 5)
    twin.simulate(net, inputs=raster).spikes.block_until_ready()  # compile

    def twin_run():
        return np.asarray(twin.simulate(net, inputs=raster).spikes).sum(0)

    counts_tw, t_tw = _timed(twin_run, 3)
    same = bool(np.array_equal(counts_nl, counts_c) and np.array_equal(counts_c, counts_tw))
    rows = [("nengo-loihi emulator", t_nl)]
    import lava_ref

    lava_same = None
    if lava_ref.available() is None:
        # Lava's bit-accurate LIF + Dense model code alone (its Magma runtime, which passes
        # the messages between processes, cannot run on Python 3.11: a lower bound on Lava).
        # Its LIF has no refractory period: W1 with refractory 1 (the same work otherwise),
        # its counts checked against the C runtime on that network.
        net1 = dataclasses.replace(net, populations=tuple(
            dataclasses.replace(p, refractory=1) for p in net.populations))
        counts_lava, t_lava = _timed(lambda: lava_ref.run(net1, raster)[0].sum(0), 2)
        lava_same = bool(np.array_equal(counts_lava, runtime.Core(net1).run(raster).s.sum(0)))
        rows.append(("Lava bit-accurate models, no runtime *", t_lava))
    else:
        print(f"Lava not timed: {lava_ref.available()}")
    rows += [("edgelearn C runtime, 1 thread", t_c),
             (f"edgelearn twin ({jax.default_backend()}, batch 1)", t_tw)]
    print(f"W1, {STEPS} steps, {events:.3g} synaptic events; spike counts equal on "
          f"nengo-loihi, C and twin: {same}")
    if lava_same is not None:
        print(f"  * W1 with refractory 1 (Lava's LIF has no refractory period); its spike "
              f"counts equal the C runtime's there: {lava_same}")
    for name, t in rows:
        print(f"  {name:38s} {t * 1e3:9.1f} ms  {events / t:10.3g} events/s  "
              f"{t_nl / t:7.1f}x nengo-loihi")
    return {"workload": "W1", "steps": STEPS, "events": events, "spike_counts_equal": same,
            "lava_spike_counts_equal_refractory_1": lava_same,
            "output_spikes": int(counts_c.sum()),
            "engines": {name: {"seconds_best": t, "events_per_s": events / t,
                               "speedup_vs_nengo_loihi": t_nl / t} for name, t in rows}}
