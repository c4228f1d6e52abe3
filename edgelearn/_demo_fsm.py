"""``edgelearn demo fsm``: a vector-symbolic state machine driven by event streams.

A session of gesture recordings (generated DVS events, 128 x 128; one gesture class per input
symbol of the machine, each performed for a random duration, with pauses between them) is turned
into symbol events: a symbol is *held* from the first to the last event of its gesture, and
released after it. The symbol of each gesture comes from the recording's label: an oracle
standing in for a gesture classifier (the state machine only needs ``(t_on, t_off, symbol)``
events, see :func:`edgelearn.fsm_core.events_to_schedule`). The symbol events drive the attractor
network on the numpy reference, the C runtime or the twin; the walk is printed, and a JSON report
plus a PNG (event rate, the input stimuli and the overlap of the network with every state and
edge state over time) are written to ``--report``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--machine", type=Path, default=None,
                   help="machine TOML (default: the shipped lift, edgelearn/data/fsm_example.toml)")
    p.add_argument("--symbols", type=int, default=12, help="gestures in the session")
    p.add_argument("-n", "--neurons", type=int, default=2000, help="network size N")
    p.add_argument("--engine", choices=("numpy", "runtime", "twin"), default="runtime")
    p.add_argument("--step-ms", type=float, default=10.0, help="milliseconds per network step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, default=Path("demo-report/fsm.json"),
                   help="JSON report path; a PNG is written beside it")


def session(spec, count: int, rng, *, step_us: float):
    """Gesture recordings for ``count`` symbols and their symbol events ``(t_on, t_off, sym)``.

    Symbols are drawn by :func:`edgelearn.fsm_experiments.random_symbols`; symbol ``k`` of the
    machine is gesture class ``k``; each gesture lasts 0.2 to 1.2 s, pauses 0.1 to 0.4 s.
    """
    from . import events as E
    from .fsm_experiments import random_symbols

    symbols = random_symbols(spec, count, rng)
    recs, evs = [], []
    t = int(2 * step_us)
    for k, sym in enumerate(symbols):
        dur = int(rng.uniform(0.2e6, 1.2e6))
        cfg = E.GestureConfig(duration_us=dur)
        rec = E.gesture_sample(spec.symbols.index(sym), k, seed=int(rng.integers(1 << 30)),
                               config=cfg)
        ts = rec.events["t"]
        on, off = t + int(ts[0]), t + int(ts[-1])
        recs.append((t, rec))
        evs.append((float(on), float(off), sym))
        t = off + int(rng.uniform(0.1e6, 0.4e6))
        t = max(t, off + int(6 * step_us))  # room for the release (4 steps) and a rest
    return symbols, recs, evs


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from . import fsm, fsm_core, fsm_sim
    from .cli import UsageError
    from .fsm_experiments import demo_machine

    if args.symbols < 1:
        raise UsageError("--symbols must be >= 1")
    if not args.step_ms > 0:
        raise UsageError(f"--step-ms must be > 0, got {args.step_ms:g}")
    t_start = time.perf_counter()
    try:
        spec = fsm.load_fsm(args.machine) if args.machine else demo_machine()
        compiled = fsm.compile_fsm(spec, args.neurons, seed=args.seed)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if len(spec.symbols) > 16:
        raise UsageError(f"the demo maps symbols to 16 gesture classes; the machine has "
                         f"{len(spec.symbols)} symbols")
    rng = np.random.default_rng(args.seed)
    step_us = args.step_ms * 1000.0
    print(f"generating {args.symbols} gesture recordings (symbol k = gesture class k) ...",
          flush=True)
    symbols, recs, evs = session(spec, args.symbols, rng, step_us=step_us)
    sched = fsm_core.events_to_schedule(evs, step=step_us, release=4)
    if args.engine == "numpy":
        mant, _ = fsm.quantize_int8(compiled.dense(), even=True)
        res = fsm_sim.walk(compiled, sched, weights=fsm_sim.DenseWeights.from_int8(mant))
        decoded, correct, errors = res.decoded, res.correct, res.errors
        ov_states, ov_edges = res.overlaps_states, res.overlaps_edges
        phase = res.phase
        seconds = res.stats["seconds"]
    else:
        core = fsm_core.core_network(compiled)
        cw = fsm_core.run_on_core(core, sched, engine=args.engine)
        decoded, correct, errors = cw.decoded, cw.correct, cw.errors
        ov_states, ov_edges, phase = cw.overlaps(core)
        seconds = cw.seconds
    state = spec.start
    print(f"{args.engine}: N = {compiled.n}, {sched.n_steps} steps of {args.step_ms:g} ms "
          f"({seconds:.2f} s)")
    print(f"start               {state}")
    for k, (on, off, sym) in enumerate(evs):
        nxt = spec.next_state(state, sym)
        mark = "" if decoded[k] == nxt else f"   MISMATCH (reference: {nxt})"
        arrow = "->" if spec.edge(state, sym) is not None else "=="
        print(f"{on / 1e6:6.2f}-{off / 1e6:5.2f} s {sym:<7} {state} {arrow} {decoded[k]}{mark}")
        state = nxt
    print("walk correct" if correct else f"walk INCORRECT: {errors[0]}")

    report = {
        "machine": str(args.machine or "edgelearn/data/fsm_example.toml"), "N": compiled.n,
        "engine": args.engine, "step_ms": args.step_ms, "steps": sched.n_steps,
        "symbols": [{"t_on_s": on / 1e6, "t_off_s": off / 1e6, "symbol": sym,
                     "events": int(r.events.size), "decoded": decoded[k]}
                    for k, ((on, off, sym), (_, r)) in enumerate(zip(evs, recs, strict=True))],
        "correct": bool(correct), "errors": list(errors[:5]), "seconds": round(seconds, 3),
        "wall_seconds": round(time.perf_counter() - t_start, 2),
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2))
    png = args.report.with_suffix(".png")
    _plot(png, spec, recs, evs, sched, ov_states, ov_edges, phase, step_us)
    print(f"report: {args.report}, {png}")
    return 0 if correct else 1


def _plot(path, spec, recs, evs, sched, ov_states, ov_edges, phase, step_us) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    t = (np.arange(ov_states.shape[0]) + 1) * step_us / 1e6
    fig, axes = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True,
                             gridspec_kw={"height_ratios": [1, 2.2, 1.4]})
    ax = axes[0]
    bins = np.arange(0, t[-1] + step_us / 1e6, 0.02)
    for (t0, rec), (_, _, sym) in zip(recs, evs, strict=True):
        ts = (t0 + rec.events["t"]) / 1e6
        h, _ = np.histogram(ts, bins)
        ax.plot(bins[:-1], h / 0.02 / 1e3, lw=0.8)
        ax.text(ts.mean(), 0, sym, ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("events\n(k/s)")
    ax.set_title("gesture recordings -> symbol events -> attractor state machine")
    ax = axes[1]
    for i, name in enumerate(spec.states):
        ax.plot(t, ov_states[:, i], lw=1.2, label=name)
    ax.set_ylabel("overlap with\nstates")
    ax.set_ylim(-0.3, 1.05)
    ax.legend(fontsize=7, ncol=4, loc="lower right")
    ax = axes[2]
    for j in range(ov_edges.shape[1]):
        ax.plot(t, ov_edges[:, j], lw=0.8)
    shade = {1: "tab:orange", 2: "tab:green"}
    for code, colour in shade.items():
        on = phase == code
        ax.fill_between(t, -0.3, 1.05, where=on, color=colour, alpha=0.12, step="pre",
                        label="s_a (held)" if code == 1 else "s_b (released)")
    ax.set_ylabel("overlap with\nedge states")
    ax.set_ylim(-0.3, 1.05)
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
