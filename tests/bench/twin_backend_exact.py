"""Is the twin bit-exact with the C runtime on an accelerator too?

The C runtime defines the chip's arithmetic; the twin must equal it wherever JAX runs it, a
GPU included (meta-training is what runs there). An accelerator machine may have JAX but no C
compiler or cffi, so the check is split in two:

    python tests/bench/twin_backend_exact.py prepare DIR   # here: cases + the C runtime's outputs
    PYTHONPATH=. python tests/bench/twin_backend_exact.py check DIR   # there: the twin, compared

``prepare`` writes, per case, the network as an artifact (``.elm``), its input raster, the
host's third factors and what the C runtime made of them (spikes, u and v; with plasticity the
final weights, tags and traces): random networks from ``tests/test_differential.py``'s
generators (static, plastic, computed third factors) and one-shot episodes of the shipped glyph
artifact (readout spike counts after on-chip learning). ``check`` runs the twin on JAX's
default backend and prints one JSON object: the backend's device, the cases, the mismatches
(each named by case and quantity). It exits 1 on any mismatch. ``check`` needs only numpy, jax
and this checkout (no C runtime, no pyserial).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def prepare(out: Path, *, n_static: int, n_plastic: int, n_computed: int,
            episodes: int) -> dict:
    from edgelearn import artifact, runtime
    from edgelearn.artifact import Artifact
    from metatrain import evaluate, model
    from tests import test_differential as D

    out.mkdir(parents=True, exist_ok=True)
    cases = []

    def save(name, net, arrays):
        artifact.save(out / f"{name}.elm", Artifact(network=net))
        np.savez_compressed(out / f"{name}.npz", **arrays)
        cases.append(name)

    buckets = sorted(D.BUCKETS)
    for i in range(n_static):
        net, raster = D.random_network(buckets[i % len(buckets)], np.random.default_rng(i))
        rt = runtime.simulate(net, raster, probe=True)
        save(f"static{i:04d}", net, {"raster": raster, "s": rt.s, "u": rt.u, "v": rt.v})

    pl = sorted(D.PL_BUCKETS)

    def plastic_case(name, net, raster, third):
        core = runtime.Core(net)
        rt = core.run(raster, third=third)
        arrays = {"raster": raster, "third": third, "s": rt.s}
        for k in net.plastic:
            x, y = core.traces(k)
            arrays.update({f"w{k}": core.weights(k), f"e{k}": core.tags(k), f"x{k}": x,
                           f"y{k}": y})
        save(name, net, arrays)

    for i in range(n_plastic):
        pool = i % D.PL_RULES_PER_BUCKET
        net, raster, third = D.random_plastic_network(
            pl[(i // D.PL_RULES_PER_BUCKET) % len(pl)], pool, np.random.default_rng(10_000 + i))
        plastic_case(f"plastic{i:04d}", net, raster, third)

    for i in range(n_computed):
        pool = i % D.PL_RULES_PER_BUCKET
        net, raster, third = D.random_computed_third_network(pool,
                                                             np.random.default_rng(20_000 + i))
        plastic_case(f"computed{i:04d}", net, raster, third)

    if episodes:
        art = artifact.load(ROOT / "edgelearn" / "data" / "oneshot_default.elm")
        proto = model.Protocol.of_artifact(art)
        spec = art.manifest.get("data", {}).get("kind", "glyphs")
        eps = evaluate.make_episodes(art, spec, ways=proto.ways, shots=1, queries=10,
                                     episodes=episodes, seed=0)
        counts = evaluate.runtime_counts(art.network, proto, eps)
        artifact.save(out / "oneshot.elm", art)
        np.savez_compressed(out / "oneshot.npz", S=eps.S, L=eps.L, Q=eps.Q, QL=eps.QL,
                            counts=counts)
        cases.append("oneshot")
    (out / "cases.json").write_text(json.dumps(cases) + "\n")
    return {"cases": len(cases), "folder": str(out)}


def check(folder: Path) -> dict:
    import jax

    from edgelearn import artifact, twin
    from metatrain import evaluate, model

    cases = json.loads((folder / "cases.json").read_text())
    bad: list[str] = []
    t0 = time.perf_counter()

    def same(case, name, a, b):
        a, b = np.asarray(a).astype(np.int64), np.asarray(b).astype(np.int64)
        if not np.array_equal(a, b):
            idx = tuple(int(i) for i in np.argwhere(a != b)[0])
            bad.append(f"{case}: {name}{list(idx)} twin {a[idx]}, C {b[idx]}")

    for case in cases:
        art = artifact.load(folder / f"{case}.elm")
        z = np.load(folder / f"{case}.npz")
        if case == "oneshot":
            proto = model.Protocol.of_artifact(art)
            eps = evaluate.Episodes(z["S"], z["L"], z["Q"], z["QL"], source={})
            same(case, "counts", evaluate.twin_counts(art.network, proto, eps), z["counts"])
        elif "third" in z:
            tw = twin.simulate(art.network, inputs=z["raster"], third=z["third"])
            same(case, "s", np.asarray(tw.spikes, bool), z["s"])
            for k in art.network.plastic:
                ps = tw.final_state.plastic[k]
                for q in "wexy":
                    same(case, f"{q}{k}", getattr(ps, q), z[f"{q}{k}"])
        else:
            tw = twin.simulate(art.network, inputs=z["raster"], probe=True)
            same(case, "s", np.asarray(tw.spikes, bool), z["s"])
            same(case, "u", tw.u, z["u"])
            same(case, "v", tw.v, z["v"])
    dev = jax.devices()[0]
    return {"backend": jax.default_backend(), "device": str(dev.device_kind),
            "jax": jax.__version__, "cases": len(cases), "mismatches": len(bad),
            "first_mismatches": bad[:10], "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="write the cases and the C runtime's outputs")
    pp.add_argument("folder", type=Path)
    pp.add_argument("--static", type=int, default=200, help="random static networks")
    pp.add_argument("--plastic", type=int, default=120, help="random plastic networks")
    pp.add_argument("--computed", type=int, default=45,
                    help="random networks with a computed third factor")
    pp.add_argument("--episodes", type=int, default=40,
                    help="one-shot glyph episodes of the shipped artifact (0: none)")
    pc = sub.add_parser("check", help="run the twin on JAX's default backend and compare")
    pc.add_argument("folder", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "prepare":
        res = prepare(args.folder, n_static=args.static, n_plastic=args.plastic,
                      n_computed=args.computed, episodes=args.episodes)
    else:
        if not (args.folder / "cases.json").is_file():
            p.error(f"{args.folder}: no cases.json (run 'prepare' first)")
        res = check(args.folder)
    print(json.dumps(res, indent=1))
    return 1 if res.get("mismatches") else 0


if __name__ == "__main__":
    sys.exit(main())
