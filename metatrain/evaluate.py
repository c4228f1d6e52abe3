"""Few-shot evaluation of an artifact: ``edgelearn evaluate ARTIFACT --data ... --engine ...``.

Episodes are N-way K-shot tasks from a generator (``glyphs``, ``gestures``, optionally
``glyphs:seed=0,classes=1000-1100``; by default the artifact's held-out test classes) or from
a folder of real recordings (N-MNIST layout with a label list, or ``class/file``), drawn with
:class:`edgelearn.events.EpisodeSampler`. Each episode runs as the device runs it (see
:mod:`metatrain.model`): the shots one after another with learning on and the label as third
factor, then the queries with learning off; the prediction is the readout neuron with the most
spikes. ``--engine runtime`` runs the C runtime in-process (and the twin beside it, counting
episodes whose predictions differ); ``--engine twin`` the JAX twin.

Baselines (``--baselines``), on the same episodes and the same features (spike counts of every
neuron before the readout, from the same network):

- ``handset``: the same network with the shipped ``error_triggered`` rule (hand-set
  hyperparameters) and a zero readout, learning on chip the same way;
- ``handset_init``: the same network with the meta-training's initial (hand-chosen) rule
  hyperparameters and initial readout weights, i.e. everything learned except the rule;
- ``transfer``: a softmax readout fitted by gradient descent (Adam) on the K shots' features;
- ``ncm``: nearest class mean (Euclidean) of the features.

Accuracy is the mean over episodes of the fraction of queries right, with a 95 % confidence
interval ``1.96 * std / sqrt(episodes)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgelearn.oneshot import predictions

DEFAULT_NMNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "events" \
    / "slayer-nmnist"


# --------------------------------------------------------------------------- episodes


@dataclasses.dataclass(frozen=True)
class Episodes:
    """Binned episodes, stacked: support ``(E, N*K, T, A)`` in presentation order with labels
    ``(E, N*K)``, queries ``(E, N*Q, T, A)`` with labels ``(E, N*Q)``; ``source`` describes
    where they came from."""

    S: np.ndarray
    L: np.ndarray
    Q: np.ndarray
    QL: np.ndarray
    source: dict[str, Any]


def _parse_generator(spec: str) -> tuple[str, dict[str, str]] | None:
    kind, _, rest = spec.partition(":")
    if kind not in ("glyphs", "gestures"):
        return None
    opts = {}
    for part in filter(None, rest.split(",")):
        k, eq, v = part.partition("=")
        if not eq:
            raise ValueError(f"generator option {part!r} must be key=value")
        opts[k.strip()] = v.strip()
    unknown = set(opts) - {"seed", "classes"}
    if unknown:
        raise ValueError(f"unknown generator options {sorted(unknown)} (seed, classes)")
    return kind, opts


def dataset_for(spec: str, manifest: dict[str, Any], *, workers: int = 1):
    """``(class dataset, test classes, description)`` for a ``--data`` value (a generator
    makes its samples in ``workers`` processes)."""
    from edgelearn import events

    gen = _parse_generator(spec)
    if gen is not None:
        kind, opts = gen
        mdata = manifest.get("data", {}) if isinstance(manifest, dict) else {}
        same = mdata.get("kind") == kind
        seed = int(opts.get("seed", mdata.get("generator_seed", 0) if same else 0))
        if "classes" in opts:
            a, _, b = opts["classes"].partition("-")
            try:
                classes = list(range(int(a), int(b)))
            except ValueError:
                classes = []
            if not classes:
                raise ValueError(f"generator option classes={opts['classes']!r} must be A-B "
                                 f"with integers 0 <= A < B (classes A to B-1)")
        elif same and "test_classes" in mdata:
            classes = list(range(*mdata["test_classes"]))
        else:
            classes = list(range(1000, 1100)) if kind == "glyphs" else list(range(16))
        # small batches: the simulator's frames stay in cache (gestures: 35-41 ms a sample
        # in batches of 8-32, 54 ms in batches of 128, on the 2-core VM)
        ds = events.GeneratedDataset(kind, max(classes) + 1, seed=seed, cache_size=0,
                                     batch=16, workers=workers)
        return ds, classes, {"generator": kind, "generator_seed": seed,
                             "classes": [min(classes), max(classes) + 1]}
    path = Path(spec)
    if not path.is_dir():
        raise FileNotFoundError(f"--data {spec!r} is neither a generator (glyphs, gestures) nor "
                                f"a folder")
    ds = events.open_dataset(path)
    return ds, list(ds.classes), {"folder": str(path), "dataset": type(ds).__name__,
                                  "classes": [str(c) for c in ds.classes]}


def make_episodes(art, spec: str, *, ways: int, shots: int, queries: int, episodes: int,
                  seed: int = 0, workers: int = 1, progress=None) -> Episodes:
    """Draw and bin ``episodes`` episodes for artifact ``art`` from ``spec``.

    A generator makes the samples about 256 at a time, in ``workers`` processes (the episodes
    do not depend on ``workers``). ``progress``: a rich ``Progress`` or a
    :class:`metatrain.train.LineProgress`, advanced per episode."""
    from edgelearn import events

    from . import data, model

    ds, classes, source = dataset_for(spec, art.manifest, workers=workers)
    if len(classes) < ways:
        raise ValueError(f"{spec}: {len(classes)} classes, fewer than --ways {ways}")
    small = [c for c in classes if ds.count(c) < shots + queries]
    if small:
        n = min(ds.count(c) for c in classes)
        raise ValueError(f"{spec}: some classes have only {n} samples, fewer than "
                         f"--shots + --queries = {shots + queries}")
    sampler = events.EpisodeSampler(ds, n_way=ways, k_shot=shots, n_query=queries,
                                    splits={"train": [], "val": [], "test": classes}, seed=seed)
    imap, steps = art.input_map, art.readout.steps
    out = ([], [], [], [])
    task = (progress.add_task("drawing and binning episodes", total=episodes, info="")
            if progress is not None else None)
    per_fetch = max(1, 256 // (ways * (shots + queries)))
    try:
        for a in range(0, episodes, per_fetch):
            for ep in sampler.episode_batch("test", range(a, min(a + per_fetch, episodes))):
                if not out[0]:
                    # a sensor the map does not cover (a 128 x 128 camera, a model made for
                    # 34 x 34) is fitted as the demo does, not cropped to the map's window;
                    # the JSON says so
                    w, h = ep.support[0].width, ep.support[0].height
                    imap = art.input_map.fitted(w, h)
                    if imap is not art.input_map:
                        source["input_map_fitted"] = {"sensor": [w, h], "shift": imap.shift,
                                                      "x0": imap.x0, "y0": imap.y0}
                order = model.shot_order(ep.support_labels, ways)
                S = data.bin_recordings([ep.support[j] for j in order], imap, steps)
                Q = data.bin_recordings(ep.query, imap, steps)
                for lst, x in zip(out, (S, ep.support_labels[order], Q, ep.query_labels),
                                  strict=True):
                    lst.append(x)
                if task is not None:
                    progress.advance(task)
    finally:
        if isinstance(ds, events.GeneratedDataset):
            ds.close()
    source.update(ways=ways, shots=shots, queries=queries, episodes=episodes, seed=seed)
    return Episodes(*(np.stack(x) for x in out), source=source)


# --------------------------------------------------------------------------- engines


@functools.lru_cache(maxsize=8)
def _twin_fn(topo, proto):
    import jax

    from . import model

    def one(params, s, l, q):
        state = model.learn(topo, proto, params, s, l)
        return model.query_counts(topo, proto, params, state, q)

    return jax.jit(jax.vmap(one, in_axes=(None, 0, 0, 0)))


def twin_counts(network, proto, eps: Episodes, *, chunk: int = 8) -> np.ndarray:
    """Readout spike counts ``(E, N*Q, ways)`` of every episode on the twin (in chunks of
    ``chunk`` episodes, the last one padded, so one compiled program serves every call)."""
    import jax.numpy as jnp

    from edgelearn import twin

    fn = _twin_fn(twin.topology(network), proto)
    params = twin.params_from_network(network)
    n = len(eps.S)

    def padded(x):
        pad = (-n) % chunk
        return np.concatenate([x, np.repeat(x[-1:], pad, 0)]) if pad else x

    S, L, Q = padded(eps.S), padded(eps.L), padded(eps.Q)
    outs = [np.asarray(fn(params, jnp.asarray(S[a:a + chunk], jnp.float32),
                          jnp.asarray(L[a:a + chunk]), jnp.asarray(Q[a:a + chunk], jnp.float32)))
            for a in range(0, len(S), chunk)]
    return np.concatenate(outs)[:n].astype(np.int64)


class RuntimeUnavailable(RuntimeError):
    """The C runtime cannot run this artifact's on-chip learning (yet)."""


def runtime_counts(network, proto, eps: Episodes, *, progress=None) -> np.ndarray:
    """Readout spike counts ``(E, N*Q, ways)`` of every episode on the C runtime, driven as
    the device is: per episode a fresh core (initial weights); per shot the neurons reset,
    the third factor written, the sample run with learning on; then learning off and each
    query run after a neuron reset."""
    from edgelearn import runtime

    need = ("reset_neurons", "set_learning")
    try:
        core = runtime.Core(network)
    except NotImplementedError as e:
        raise RuntimeUnavailable(str(e)) from None
    missing = [m for m in need if not hasattr(core, m)]
    if missing:
        raise RuntimeUnavailable(f"edgelearn.runtime.Core lacks {', '.join(missing)}")
    n = network.n_neurons
    o, w = proto.out_offset, proto.ways
    out = np.zeros(eps.QL.shape + (w,), np.int64)
    task = (progress.add_task("episodes on the C runtime", total=len(eps.S), info="")
            if progress is not None else None)
    for e in range(len(eps.S)):
        core = runtime.Core(network)
        core.set_learning(True)
        for s, lab in zip(eps.S[e], eps.L[e], strict=True):
            core.reset_neurons()
            third = np.zeros((proto.steps, n), np.int8)
            third[:, o:o + w] = proto.r_neg
            third[:, o + int(lab)] = proto.r_pos
            core.run(s.astype(bool), third=third)
        core.set_learning(False)
        for j, q in enumerate(eps.Q[e]):
            core.reset_neurons()
            res = core.run(q.astype(bool))
            out[e, j] = res.s[:, o:o + w].sum(0)
        if task is not None:
            progress.advance(task)
    return out


def counts_for(network, proto, eps: Episodes, engine: str, *,
               progress=None) -> tuple[np.ndarray, dict]:
    """Counts on ``engine`` (``runtime`` also runs the twin and compares predictions)."""
    info: dict[str, Any] = {"engine": engine}
    if engine == "twin":
        return twin_counts(network, proto, eps), info
    c = runtime_counts(network, proto, eps, progress=progress)
    t = twin_counts(network, proto, eps)
    pc, pt = predictions(c), predictions(t)
    info["episodes_c_ne_twin"] = int(np.sum(np.any(pc != pt, axis=-1)))
    info["counts_equal"] = bool(np.array_equal(c, t))
    return c, info


# --------------------------------------------------------------------------- baselines


def handset_network(network, proto):
    """The same network with the shipped hand-set ``error_triggered`` rule and a zero
    readout (no meta-training of the rule or of the readout's initial weights)."""
    from edgelearn import rule
    from edgelearn.network import Connection, Network

    conns = list(network.connections)
    c = conns[proto.plastic]
    conns[proto.plastic] = Connection(c.src, c.dst, np.zeros_like(c.dense_weights(
        network.size_of(c.dst), network.size_of(c.src))), c.w_exp, c.mixed,
        rule=rule.shipped("error_triggered"))
    return Network(network.n_inputs, network.populations, tuple(conns), seed=network.seed)


def handset_init_network(art, proto):
    """The same network with the meta-training's *initial* rule hyperparameters and readout
    weights (from the manifest's config: hand-chosen, before any meta-training), or ``None``
    when the manifest does not say."""
    from edgelearn import rule
    from edgelearn.network import Connection, Network

    mcfg = art.manifest.get("config", {}).get("model") if isinstance(art.manifest, dict) else None
    if not isinstance(mcfg, dict) or "rule" not in mcfg:
        return None
    network = art.network
    conns = list(network.connections)
    c = conns[proto.plastic]
    shape = (network.size_of(c.dst), network.size_of(c.src))
    w0 = int(np.clip(np.floor(float(mcfg.get("w0_init", 0.0)) + 0.5), -128, 127))
    conns[proto.plastic] = Connection(c.src, c.dst, np.full(shape, w0, np.int8), c.w_exp,
                                      c.mixed, rule=rule.parse(mcfg["rule"]))
    return Network(network.n_inputs, network.populations, tuple(conns), seed=network.seed)


def features(network, proto, X: np.ndarray, *, chunk: int = 32) -> np.ndarray:
    """Spike counts of every neuron before the readout population, ``(..., F)`` (the twin,
    in fixed-size chunks so that one compiled program serves every call)."""
    import jax.numpy as jnp

    from edgelearn import twin

    flat = X.reshape((-1,) + X.shape[-2:])
    n = len(flat)
    pad = (-n) % chunk
    if pad:
        flat = np.concatenate([flat, np.zeros((pad,) + flat.shape[1:], flat.dtype)])
    outs = []
    for a in range(0, len(flat), chunk):
        res = twin.simulate(network, inputs=jnp.asarray(flat[a:a + chunk], jnp.float32))
        outs.append(np.asarray(res.spikes[..., :proto.out_offset].sum(-2)))
    return np.concatenate(outs)[:n].reshape(X.shape[:-2] + (-1,))


def ncm_predict(fs, ls, fq, ways) -> np.ndarray:
    proto = np.stack([fs[ls == c].mean(0) for c in range(ways)])
    d = ((fq[:, None, :] - proto[None]) ** 2).sum(-1)
    return d.argmin(-1)


def transfer_predict(fs, ls, fq, ways, *, steps: int = 100, lr: float = 0.1) -> np.ndarray:
    """Softmax regression on the shots' features (standardised), Adam, ``steps`` steps."""
    import jax
    import jax.numpy as jnp
    import optax

    mu, sd = fs.mean(0), fs.std(0) + 1.0
    xs, xq = (fs - mu) / sd, (fq - mu) / sd
    params = {"W": jnp.zeros((fs.shape[-1], ways)), "b": jnp.zeros(ways)}
    tx = optax.adam(lr)
    st = tx.init(params)

    def loss(p):
        logits = jnp.asarray(xs) @ p["W"] + p["b"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(ls)).mean()

    @jax.jit
    def fit(p, st):
        def body(c, _):
            p, st = c
            g = jax.grad(loss)(p)
            u, st = tx.update(g, st, p)
            return (optax.apply_updates(p, u), st), None
        return jax.lax.scan(body, (p, st), None, length=steps)[0][0]

    p = fit(params, st)
    return np.asarray(jnp.argmax(jnp.asarray(xq) @ p["W"] + p["b"], -1))


def summarize(acc: np.ndarray) -> dict[str, Any]:
    """Mean accuracy over episodes and its 95 % interval half-width ``1.96 * std / sqrt(n)``;
    ``ci95`` is None for one episode (no spread to estimate: JSON ``null``, never ``NaN``,
    which strict JSON parsers reject)."""
    acc = np.asarray(acc, np.float64)
    n = len(acc)
    ci = float(1.96 * acc.std(ddof=1) / np.sqrt(n)) if n > 1 else None
    return {"acc": float(acc.mean()), "ci95": ci, "episodes": n}


def format_ci(ci95: float | None, *, digits: int = 2) -> str:
    """``ci95`` (a fraction) as a percentage for a summary line, ``n/a`` where undefined."""
    return "n/a" if ci95 is None else f"{100 * ci95:.{digits}f}"


def evaluate(art, eps: Episodes, *, engine: str = "runtime", baselines: bool = False,
             transfer_steps: int = 100, transfer_lr: float = 0.1,
             progress=None) -> dict[str, Any]:
    """Accuracy of the artifact (and the baselines) on ``eps`` (``progress`` as for
    :func:`make_episodes`, advanced per episode on the C runtime)."""
    from . import model

    proto = model.Protocol.of_artifact(art)
    ways = proto.ways
    if eps.L.max() >= ways:
        raise ValueError(f"episodes have {eps.L.max() + 1} ways, the readout has {ways}")
    t0 = time.time()
    fallback = None
    try:
        counts, info = counts_for(art.network, proto, eps, engine, progress=progress)
    except RuntimeUnavailable as e:
        fallback = f"C runtime unavailable ({e}); ran the twin"
        counts, info = counts_for(art.network, proto, eps, "twin")
    res: dict[str, Any] = {"source": eps.source, **info}
    if fallback:
        res["fallback"] = fallback
    res["metatrained"] = summarize((predictions(counts) == eps.QL).mean(-1))
    res["metatrained"]["seconds"] = round(time.time() - t0, 1)
    if baselines:
        hs = handset_network(art.network, proto)
        hc, _ = counts_for(hs, proto, eps, "twin" if fallback else engine)
        res["handset"] = summarize((predictions(hc) == eps.QL).mean(-1))
        hi = handset_init_network(art, proto)
        if hi is not None:
            hic, _ = counts_for(hi, proto, eps, "twin" if fallback else engine)
            res["handset_init"] = summarize((predictions(hic) == eps.QL).mean(-1))
        fS = features(art.network, proto, eps.S)
        fQ = features(art.network, proto, eps.Q)
        ncm = [np.mean(ncm_predict(fS[e], eps.L[e], fQ[e], ways) == eps.QL[e])
               for e in range(len(eps.S))]
        tr = [np.mean(transfer_predict(fS[e], eps.L[e], fQ[e], ways, steps=transfer_steps,
                                       lr=transfer_lr) == eps.QL[e])
              for e in range(len(eps.S))]
        res["transfer"] = summarize(tr)
        res["ncm"] = summarize(ncm)
    return res


# --------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifact", help="model artifact (.elm)")
    p.add_argument("--data", default=None,
                   help="generator (glyphs, gestures, glyphs:seed=S,classes=A-B: classes A to "
                        "B-1) or a folder of recordings (N-MNIST layout or class/file); "
                        "default: the artifact's "
                        "held-out classes of its generator")
    p.add_argument("--ways", type=int, default=None, help="default: the readout's size")
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--queries", type=int, default=10, help="queries per class")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0, help="episode sampling seed")
    p.add_argument("--engine", choices=("runtime", "twin"), default="runtime")
    p.add_argument("--baselines", action="store_true",
                   help="also the hand-set rule, transfer learning and nearest class mean")
    p.add_argument("--json", default=None, help="also write the result to this file")
    p.add_argument("--workers", type=int, default=None,
                   help="processes making generated samples (default: the CPU count, at "
                        "most 8; results do not depend on it)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from edgelearn.artifact import ArtifactError, load
    from edgelearn.cli import UsageError

    try:
        art = load(args.artifact)
    except (OSError, ArtifactError) as e:
        raise UsageError(str(e)) from None
    if art.readout is None or art.input_map is None:
        raise UsageError(f"{args.artifact}: needs a readout and an input map section")
    for name in ("ways", "shots", "queries", "episodes", "workers"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1")
    if args.json and (Path(args.json).is_dir() or not Path(args.json).parent.is_dir()):
        # before minutes of episodes, not after
        raise UsageError(f"--json {args.json}: " + ("is a folder; name the file"
                                                    if Path(args.json).is_dir()
                                                    else "its folder does not exist"))
    workers = args.workers or min(os.cpu_count() or 1, 8)
    ways = args.ways if args.ways is not None else \
        art.network.populations[art.readout.population].size
    spec = args.data or art.manifest.get("data", {}).get("kind", "glyphs")
    from .train import progress_display

    try:
        with progress_display(quiet=args.quiet) as progress:
            eps = make_episodes(art, spec, ways=ways, shots=args.shots, queries=args.queries,
                                episodes=args.episodes, seed=args.seed, workers=workers,
                                progress=progress)
            res = evaluate(art, eps, engine=args.engine, baselines=args.baselines,
                           progress=progress)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    res["artifact"] = str(args.artifact)
    lines = [f"{ways}-way {args.shots}-shot, {args.episodes} episodes x {ways * args.queries} "
             f"queries, engine {res['engine']}" + (f" ({res['fallback']})" if "fallback" in res
                                                  else "")]
    for k in ("metatrained", "handset", "handset_init", "transfer", "ncm"):
        if k in res:
            lines.append(f"  {k:12s} {100 * res[k]['acc']:6.2f} % +- {format_ci(res[k]['ci95'])}")
    if "episodes_c_ne_twin" in res:
        lines.append(f"  episodes where C predictions differ from the twin: "
                     f"{res['episodes_c_ne_twin']}")
    print("\n".join(lines), file=sys.stderr)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0
