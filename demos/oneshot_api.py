"""One-shot learning through the public API, top to bottom (no live view).

Loads a one-shot artifact, samples 5-way 1-shot episodes from real N-MNIST recordings (or
generated glyphs), learns each episode's classes from one example on the in-process C runtime
and on the JAX twin, and checks that both engines give the same predictions.

    python demos/oneshot_api.py [--artifact FILE] [--data DIR] [--episodes N] [--fast]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edgelearn import artifact, events, oneshot

HERE = Path(__file__).resolve().parent
DEFAULT_ARTIFACT = HERE.parent / "edgelearn" / "data" / "oneshot_default.elm"
NMNIST = HERE.parents[1] / "shared" / "data" / "events" / "slayer-nmnist"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    ap.add_argument("--data", type=Path, default=NMNIST if NMNIST.exists() else None,
                    help="a recordings folder (default: the shared N-MNIST samples, else "
                    "generated glyphs)")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--fast", action="store_true", help="2 episodes, 3 ways (for tests)")
    args = ap.parse_args(argv)
    art = artifact.load(args.artifact)
    ways, n_ep = (3, 2) if args.fast else (5, args.episodes)
    if args.data is not None:
        ds = events.open_dataset(args.data)
    else:
        ds = events.glyphs(n_classes=20, samples_per_class=4, seed=7)
    sampler = events.EpisodeSampler(ds, n_way=ways, k_shot=1, n_query=2,
                                    splits={"test": list(ds.classes)}, seed=0)
    c_runtime, twin = oneshot.RuntimeLearner(art), oneshot.TwinLearner(art)
    correct = total = 0
    for e in range(n_ep):
        ep = sampler.episode("test", e)
        shots = list(zip(ep.support, ep.support_labels.tolist(), strict=True))
        queries = list(zip(ep.query, ep.query_labels.tolist(), strict=True))
        a = oneshot.run_episode(c_runtime, shots, queries)
        b = oneshot.run_episode(twin, shots, queries)
        assert a["predictions"] == b["predictions"], "C runtime and twin disagree"
        assert np.array_equal(a["weights"], b["weights"])
        correct += sum(p == q for p, q in zip(a["predictions"], a["labels"], strict=True))
        total += len(queries)
        print(f"episode {e + 1}: classes {list(ep.classes)}, predictions {a['predictions']}, "
              f"labels {a['labels']} (C runtime == twin)")
    lo, hi = oneshot.wilson_interval(correct, total)
    print(f"{ways}-way 1-shot accuracy {correct / total:.1%} (95 % CI {lo:.1%} - {hi:.1%})")
    return {"correct": correct, "total": total}


if __name__ == "__main__":
    main()
