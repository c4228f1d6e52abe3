"""``edgelearn fsm compile|run``: vector-symbolic state machines in attractor networks.

``edgelearn fsm compile FSM.toml -o fsm.elm`` compiles a plain-text machine into an attractor
network on the core, saved as a model artifact (``docs/artifact.md``) whose manifest keeps the
machine's text, N and the seed (the hypervectors are regenerated from them, and the weights
checked, on load); ``-o fsm.npz`` writes the int8 weights and hypervectors instead
(:func:`edgelearn.fsm.save_npz` documents its keys).

``edgelearn fsm run FILE --symbols a,b,b,c`` drives the network (FILE: a compiled ``.elm`` or
``.npz``, or a ``.toml`` compiled on the fly) with the symbols, on the numpy reference dynamics
(or ``--engine runtime|twin``, the core), and prints the
walk: the state the network settles in after each symbol, the reference machine's state, and
outputs. Exit status 0 when the network's walk matches the reference, 1 when it does not, 2 on
bad input.
"""

from __future__ import annotations

import argparse
import math
import sys
import zipfile
from pathlib import Path

import numpy as np

from ._cli_common import npz_output
from .cli import UsageError

#: the host emulator's largest artifact: its 4 MiB image (``IMAGE_BYTES`` in
#: firmware_sim/hal_posix.c) less the 8 bytes app.c keeps, as ``device info`` reports it; only
#: for the note below (``deploy`` asks the device itself)
EMULATOR_MAX_ARTIFACT = (4 << 20) - 8

_COMPILE_HELP = (
    "compile FSM.toml into an attractor network: an .elm artifact (the network on the core; "
    "dense, (2N+1)^2 bytes of weights: a device takes it when it fits its max_artifact_bytes) "
    "or an .npz of the weights and hypervectors")
_RUN_HELP = ("drive a compiled (.elm or .npz) or plain-text (.toml) machine with symbols; print "
             "the walk")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="fsm_command", metavar="ACTION")
    c = sub.add_parser("compile", help=_COMPILE_HELP, description=_COMPILE_HELP + ". TOML: "
                       "start = \"idle\" and transitions = [{ from = \"idle\", input = \"go\", "
                       "to = \"run\" }, ...] with an optional output = \"...\" per transition "
                       "and an optional states = [...]; see docs/vsa.md and "
                       "edgelearn/data/fsm_example.toml.")
    c.add_argument("machine", type=Path, help="the machine, TOML")
    c.add_argument("-o", "--out", type=Path, required=True,
                   help="output: .elm (artifact for the runtime and devices) or .npz")
    _network_options(c)
    c.add_argument("--even", action="store_true",
                   help="even int8 mantissas only (what the core's mixed-sign mode keeps)")

    r = sub.add_parser("run", help=_RUN_HELP, description=_RUN_HELP + ".")
    r.add_argument("file", type=Path,
                   help="compiled .elm or .npz (from 'fsm compile') or a .toml machine")
    r.add_argument("--symbols", required=True,
                   help="comma-separated input symbols, e.g. up,up,door")
    r.add_argument("--hold", type=int, default=4, help="steps each symbol is held: s_a (default 4)")
    r.add_argument("--release", type=int, default=4,
                   help="steps of s_b after each release (default 4)")
    r.add_argument("--rest", type=int, default=2,
                   help="steps without input before each symbol (default 2)")
    r.add_argument("--overlaps", action="store_true",
                   help="also print, per step, the overlap with every state (numpy engine)")
    r.add_argument("--engine", choices=("numpy", "runtime", "twin"), default="numpy",
                   help="numpy: the reference sign dynamics (default); runtime: the network "
                        "deployed as spiking compartments on the C runtime; twin: the same on "
                        "the JAX twin (both need --rest >= 1)")
    _network_options(r, for_run=True)


def _network_options(p: argparse.ArgumentParser, for_run: bool = False) -> None:
    extra = " (only when FILE is a .toml)" if for_run else ""
    p.add_argument("-n", "--neurons", type=int, default=None,
                   help="network size N; default: 4 x the paper's dense bound, rounded up to "
                        "1000, at least 1000" + extra)
    p.add_argument("--seed", type=_seed, default=0, help="seed of the hypervectors" + extra)


def _seed(text: str) -> int:
    """``--seed``: an integer >= 0 (numpy's seed sequences take no negative ones)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def default_neurons(n_states: int, n_edges: int) -> int:
    from . import fsm

    need = fsm.capacity_load(n_states, n_edges) / fsm.CAPACITY_FRACTION
    return max(1000, int(math.ceil(4 * need / 1000.0)) * 1000)


def _compile(path: Path, neurons: int | None, seed: int, even: bool):
    from . import fsm

    try:
        spec = fsm.load_fsm(path)
        n = (neurons if neurons is not None
             else default_neurons(len(spec.states), len(spec.transitions)))
        compiled = fsm.compile_fsm(spec, n, seed=seed, where=str(path))
    except ValueError as e:
        raise UsageError(str(e)) from None
    mant, exp = fsm.quantize_int8(compiled.dense(), even=even)
    return compiled, mant, exp


def run(args: argparse.Namespace) -> int:
    if args.fsm_command == "compile":
        return _run_compile(args)
    if args.fsm_command == "run":
        return _run_run(args)
    raise UsageError("expected an action: compile or run (see edgelearn fsm --help)")


def _run_compile(args: argparse.Namespace) -> int:
    from . import fsm

    even = args.even or args.out.suffix == ".elm"  # the core needs even mantissas
    if args.out.suffix != ".elm":
        args.out = npz_output(args.out)  # numpy appends .npz: name the file really written
    compiled, mant, exp = _compile(args.machine, args.neurons, args.seed, even)
    exact = exp == 0 and np.array_equal(mant.astype(np.float32), compiled.dense())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".elm":
        _save_elm(args, compiled, mant, exp)
    else:
        fsm.save_npz(args.out, compiled, mant, exp)
    size = args.out.stat().st_size
    if args.out.suffix == ".elm" and size > EMULATOR_MAX_ARTIFACT:
        print(f"note: {args.out} is {size:,} bytes (dense N x N weights): it runs in process "
              f"(fsm run --engine runtime), but the host emulator accepts artifacts up to "
              f"{EMULATOR_MAX_ARTIFACT:,} bytes and the Cortex-M targets less (docs/firmware.md); "
              f"a smaller -n makes it smaller", file=sys.stderr)
    spec = compiled.spec
    print(f"{args.machine}: {len(spec.states)} states, {len(spec.transitions)} transitions, "
          f"{len(spec.symbols)} symbols, {len(spec.outputs)} outputs -> N = {compiled.n} "
          f"neurons, int8 weights x 2^{exp} ({'exact' if exact else 'rounded'}), "
          f"load {fsm.capacity_load(len(spec.states), len(spec.transitions)):g} of "
          f"{fsm.CAPACITY_FRACTION * compiled.n:g} -> {args.out}")
    return 0


def _save_elm(args: argparse.Namespace, compiled, mant, exp) -> None:
    """The machine as a deployable artifact: the core network (``fsm_core``) plus a manifest
    holding the machine's text, N and the seed, from which the hypervectors that decode the
    state are regenerated (and the weights checked) when it is loaded."""
    from . import artifact, fsm_core

    try:
        core = fsm_core.core_network(compiled, mant)
    except ValueError as e:
        raise UsageError(str(e)) from None
    manifest = {"kind": "fsm", "fsm_toml": args.machine.read_text(), "neurons": compiled.n,
                "seed": args.seed, "quant_exp": int(exp), "source": str(args.machine)}
    try:
        artifact.save(args.out, artifact.Artifact(core.network, manifest=manifest))
    except ValueError as e:
        raise UsageError(f"{args.out}: {e}") from None


def _load_elm(path: Path):
    import tomllib

    from . import artifact, fsm, fsm_core

    try:
        art = artifact.load(path)
    except artifact.ArtifactError as e:
        raise UsageError(str(e)) from None
    m = art.manifest
    if m.get("kind") != "fsm" or "fsm_toml" not in m:
        raise UsageError(f"{path}: not a state-machine artifact (kind {m.get('kind')!r})")
    try:
        spec = fsm.fsm_from_dict(tomllib.loads(m["fsm_toml"]), where=f"{path}:manifest")
        compiled = fsm.compile_fsm(spec, int(m["neurons"]), seed=int(m["seed"]),
                                   where=str(path))
    except (ValueError, KeyError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"{path}: {e}") from None
    mant, exp = fsm.quantize_int8(compiled.dense(), even=True)
    rebuilt = fsm_core.core_network(compiled, mant).network
    for a, b in zip(rebuilt.connections, art.network.connections, strict=True):
        if not np.array_equal(a.weights, b.weights):
            raise UsageError(f"{path}: the weights do not match the machine in its manifest")
    return compiled, mant, exp


def _run_run(args: argparse.Namespace) -> int:
    from . import fsm, fsm_sim

    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if not symbols:
        raise UsageError("--symbols: give at least one symbol, e.g. --symbols up,up,door")
    for name in ("hold", "release"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.rest < 0:
        raise UsageError(f"--rest must be >= 0, got {args.rest}")
    if not args.file.exists():
        raise UsageError(f"{args.file}: no such file")
    if args.file.suffix == ".toml":
        compiled, mant, exp = _compile(args.file, args.neurons, args.seed, False)
    elif args.file.suffix == ".elm":
        compiled, mant, exp = _load_elm(args.file)
    else:
        try:
            compiled, mant, exp = fsm.load_npz(args.file)
        except (ValueError, zipfile.BadZipFile, KeyError) as e:
            raise UsageError(f"{args.file}: {e}") from None
    spec = compiled.spec
    unknown = [s for s in symbols if s not in spec.symbols]
    if unknown:
        raise UsageError(f"--symbols: unknown symbol {unknown[0]!r}; the machine's symbols are "
                         f"{', '.join(spec.symbols)}")
    sched = fsm_sim.Schedule.fixed(symbols, hold=args.hold, release=args.release, rest=args.rest)
    if args.engine != "numpy":
        return _run_core(args, compiled, mant, exp, sched)
    res = fsm_sim.walk(compiled, sched, weights=fsm_sim.DenseWeights.from_int8(mant, exp))
    print(f"N = {compiled.n}, int8 weights x 2^{exp}; hold {args.hold}, release {args.release}, "
          f"rest {args.rest} steps per symbol")
    state = spec.start
    print(f"start    {state}")
    for k, sym in enumerate(symbols):
        got = res.decoded[k]
        want = res.expected[k]
        out = res.decoded_output[k]
        moved = "->" if spec.edge(state, sym) is not None else "=="  # == : symbol ignored
        mark = "" if got == want else f"   MISMATCH (reference: {want})"
        out_s = f"  [{out}]" if out else ""
        print(f"{sym:<8} {state} {moved} {got if got is not None else '?'}{out_s}{mark}")
        state = want
    if args.overlaps:
        names = list(spec.states)
        print("step phase symbol " + " ".join(f"{s[:8]:>8}" for s in names))
        codes = {0: "rest", 1: "a", 2: "b"}
        for t in range(res.overlaps_states.shape[0]):
            k = int(res.step_symbol[t])
            sym = symbols[k] if k >= 0 else "-"
            row = " ".join(f"{x:8.3f}" for x in res.overlaps_states[t])
            print(f"{t + 1:4d} {codes[int(res.phase[t])]:>5} {sym[:6]:>6} {row}")
    if res.correct:
        print(f"walk correct ({len(symbols)} symbols, {res.stats['steps']} steps)")
        return 0
    print(f"walk INCORRECT: {res.errors[0]}")
    return 1


def _run_core(args: argparse.Namespace, compiled, mant, exp, sched) -> int:
    from . import fsm, fsm_core

    if args.rest < 1:
        raise UsageError("--engine runtime/twin needs --rest >= 1 (the core starts from a cue "
                         "step without input)")
    if exp != 0 or np.any(mant & 1):  # the core needs even mantissas (mixed-sign mode)
        mant, exp = fsm.quantize_int8(compiled.dense(), even=True)
    try:
        core = fsm_core.core_network(compiled, mant)
    except ValueError as e:
        raise UsageError(str(e)) from None
    run = fsm_core.run_on_core(core, sched, engine=args.engine)
    spec = compiled.spec
    print(f"{args.engine}: {core.network.populations[0].size} compartments (2 N + 1, N = "
          f"{compiled.n}), recurrent w_exp {core.w_exp}, {run.spikes.shape[0]} steps in "
          f"{run.seconds:.2f} s ({run.steps_per_second:.0f} steps/s)")
    state = spec.start
    print(f"start    {state}")
    for k, sym in enumerate(sched.symbols):
        got, want = run.decoded[k], run.expected[k]
        moved = "->" if spec.edge(state, sym) is not None else "=="
        mark = "" if got == want else f"   MISMATCH (reference: {want})"
        out = run.decoded_output[k]
        out_s = f"  [{out}]" if out else ""
        print(f"{sym:<8} {state} {moved} {got if got is not None else '?'}{out_s}{mark}")
        state = want
    if run.correct:
        print(f"walk correct ({len(sched.symbols)} symbols)")
        return 0
    print(f"walk INCORRECT: {run.errors[0]}")
    return 1
