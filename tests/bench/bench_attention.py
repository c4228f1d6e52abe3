"""In-context attention (issue 8): cost per context token on the C runtime for contexts of 10 to
1,000 tokens, and the four variants' accuracy on a few held-out episodes.

    python tests/bench/bench_attention.py [--out attention.json] [--fast]

Per context length N (one slot per context token, 10 labels): the context is written token by
token on the C runtime (a neuron reset, then one token of steps with the third factor selecting
the slot and the label; the learning epoch at the token's last step writes). Figures:

- synapse writes per token: synapses whose weight changed (one key row, one value entry) and
  synapses the plasticity processor visits at the token's epoch (every stored synapse of both
  plastic connections: S*H + L*S);
- bytes of state: the C core's whole memory block (``el_core_bytes``) and the plastic memories
  alone (weight mantissas, effective copies and tags: 3 bytes per plastic synapse);
- time in C: wall time per context token (write) and per query (read), best of 3.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgelearn import _attention_data as D
from edgelearn import attention as A
from edgelearn import runtime


def _core_bytes(core: runtime.Core) -> int:
    return int(runtime.ffi.sizeof(core._mem))


def cost_at(model: A.AttentionModel, n_ctx: int, pixels: np.ndarray, n_labels: int = 10,
            repeats: int = 3) -> dict:
    net = A.build_network(model, n_ctx, n_labels)
    lay = A.layout(model, n_ctx, n_labels)
    idx = np.arange(n_ctx) % len(pixels)
    labels = np.arange(n_ctx) % n_labels
    cr, ct = A.context_program(lay, pixels[idx], labels, t_token=model.t_token)
    qr = A.query_raster(lay, pixels[:5], t_token=model.t_token, ramp_steps=model.ramp_steps)
    best_w, best_q, changed = np.inf, np.inf, []
    for rep in range(repeats):
        core = runtime.Core(net)
        core.set_learning(True)
        t_w = 0.0
        for k in range(n_ctx):
            if rep == 0:
                before = (core.weights(A.C_KEY), core.weights(A.C_VALUE))
            t0 = time.perf_counter()
            core.reset_neurons()
            core.run(cr[k], third=ct[k])
            t_w += time.perf_counter() - t0
            if rep == 0:
                changed.append(int((core.weights(A.C_KEY) != before[0]).sum()
                                   + (core.weights(A.C_VALUE) != before[1]).sum()))
        core.set_learning(False)
        t0 = time.perf_counter()
        for q in range(qr.shape[0]):
            core.reset_neurons()
            core.run(qr[q])
        best_q = min(best_q, (time.perf_counter() - t0) / qr.shape[0])
        best_w = min(best_w, t_w / n_ctx)
    H, S, L = lay.n_hidden, lay.n_slots, lay.n_labels
    plastic_syn = S * H + L * S
    return {
        "context_tokens": n_ctx, "steps_per_token": model.t_token,
        "synapses_changed_per_token": float(np.mean(changed)),
        "synapses_visited_per_token": plastic_syn,
        "plastic_memory_bytes": 3 * plastic_syn,
        "core_state_bytes": _core_bytes(core),
        "lateral_inhibition_bytes": S * S,
        "c_seconds_per_context_token": best_w,
        "c_seconds_per_query": best_q,
    }


def measure(fast: bool = False) -> dict:
    model = A.load_default()
    pixels = D.glyph_pixels(np.repeat(np.arange(D.HELDOUT_BASE, D.HELDOUT_BASE + 25), 2),
                            np.tile(np.arange(2), 25))
    ns = (10, 30, 100) if fast else (10, 30, 100, 300, 1000)
    rows = []
    print(f"{'N':>5} {'changed/tok':>11} {'visited/tok':>11} {'plastic B':>10} "
          f"{'core B':>10} {'us/token':>9} {'us/query':>9}")
    for n in ns:
        r = cost_at(model, n, pixels, repeats=2 if n >= 300 else 3)
        rows.append(r)
        print(f"{n:>5} {r['synapses_changed_per_token']:>11.1f} "
              f"{r['synapses_visited_per_token']:>11} {r['plastic_memory_bytes']:>10} "
              f"{r['core_state_bytes']:>10} {1e6 * r['c_seconds_per_context_token']:>9.1f} "
              f"{1e6 * r['c_seconds_per_query']:>9.1f}", flush=True)
    # growth exponents between the smallest and largest N (log-log slope)
    a, b = rows[0], rows[-1]
    span = np.log(b["context_tokens"] / a["context_tokens"])
    growth = {k: float(np.log(b[k] / a[k]) / span) for k in (
        "c_seconds_per_context_token", "c_seconds_per_query", "core_state_bytes",
        "plastic_memory_bytes")}
    print("log-log slope from N =", a["context_tokens"], "to", b["context_tokens"], ":",
          {k: round(v, 2) for k, v in growth.items()})
    return {"rows": rows, "growth_exponent": growth, "model": str(A.default_model_path())}


def main(out: Path | None = None) -> dict:
    return measure(fast=False)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    res = measure(fast=args.fast)
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
