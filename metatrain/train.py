"""Meta-training: feature pre-training, the outer loop, checkpoints, validation, the artifact.

A run folder holds::

    config.toml          the config as given (plus run.json: seeds, devices, versions)
    metrics.jsonl        one JSON object per logged step (phase, step, loss, acc, ...)
    checkpoints/         pretrain.pkl, last.pkl (theta + optimizer state + step + the time
                         spent): --resume
    model.elm            the deployable artifact
    report.json          held-out evaluation: meta-trained vs baselines, accuracy vs shots
    learning_curve.png, shots.png

Every random choice derives from ``config.seed`` (parameter init, episode order) and
``data.generator_seed`` (the samples); episode ``i`` of a split is a function of
``(seed, split, i)``, so a resumed run sees the same episodes as an uninterrupted one. On
``--resume``, ``metrics.jsonl`` is cut back to the records the checkpoints cover (the resumed
run writes the others again), and the timings add up the time each checkpoint carries
(:class:`Clock`): a resumed run's folder and report differ from an uninterrupted run's in their
timings only.

Scale: episodes of an outer step are sharded over a 1-D device mesh (axis ``"ep"``) with
``NamedSharding``; the parameters are replicated and XLA inserts the gradient all-reduce.
``dist.distributed = true`` calls ``jax.distributed.initialize`` first (one process per host;
each process feeds its own slice of the episode batch). The first process alone writes the run
folder and makes the report; the others get its checkpoints by broadcast, so ``--resume`` needs
the folder only where the first process runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from edgelearn import constants as C
from edgelearn._version import __version__
from edgelearn.artifact import Artifact, Readout, save

from . import data, model
from .config import Config, check_nmnist

# --------------------------------------------------------------------------- helpers


def source_version() -> str:
    """``git describe`` of the source tree (with ``-dirty``), or the package version."""
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root,
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return f"{__version__}+{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


def peak_rss_mb() -> float:
    """This process's peak resident memory (MiB): Linux's ``VmHWM``, the high-water mark of
    this program since it started. ``ru_maxrss`` (the fallback elsewhere) is not that on
    Linux: a process started by a larger one (a benchmark runner, a test worker) inherits the
    parent's high-water mark through fork and exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


_PHASES = ("data_s", "pretrain_s", "metatrain_s")


class Clock:
    """The run's compute time by phase, across ``--resume``.

    :meth:`spent` (saved in every checkpoint) is the time of the work a checkpoint holds: what
    the checkpoint this process continues from had spent (:meth:`carry`) plus this process's
    own time, per phase (``data_s``, ``pretrain_s``, ``metatrain_s``) and in all (``wall_s``),
    the largest peak RSS, and ``processes``, how many processes did that work. Work done after
    a process's last checkpoint, lost with it, is not counted."""

    def __init__(self) -> None:
        self.t_start = time.time()
        self.base = self.zero()
        self.own = dict.fromkeys(_PHASES, 0.0)
        self.phase: str | None = None
        self.t_phase = 0.0

    @staticmethod
    def zero() -> dict[str, Any]:
        """What a fresh run has spent (also the template of a checkpoint's ``spent``)."""
        return {**dict.fromkeys((*_PHASES, "wall_s", "peak_rss_mb"), 0.0), "processes": 0}

    @classmethod
    def started(cls, phase: str) -> Clock:
        clock = cls()
        clock.start(phase)
        return clock

    def start(self, phase: str) -> None:
        self.phase, self.t_phase = phase, time.time()

    def stop(self) -> None:
        if self.phase is not None:
            self.own[self.phase] += time.time() - self.t_phase
        self.phase = None

    def carry(self, spent: dict[str, Any]) -> None:
        """Continue from a checkpoint that had ``spent`` this (replacing what an earlier
        checkpoint of this process carried: a later checkpoint includes it)."""
        self.base = {k: float(spent[k]) for k in self.zero()}
        self.base["processes"] = int(spent["processes"])

    def phase_s(self) -> float:
        """Seconds spent in the running phase, over all processes (``time_s`` of a record)."""
        assert self.phase is not None
        return self.base[self.phase] + self.own[self.phase] + time.time() - self.t_phase

    def spent(self) -> dict[str, Any]:
        now = time.time()
        out = {k: self.base[k] + self.own[k] + (now - self.t_phase if k == self.phase else 0.0)
               for k in _PHASES}
        return {**out, "wall_s": self.base["wall_s"] + now - self.t_start,
                "peak_rss_mb": max(self.base["peak_rss_mb"], peak_rss_mb()),
                "processes": self.base["processes"] + 1}

    def timing(self) -> dict[str, Any]:
        """The report's timings: the run's total, ``resumed`` = how many earlier processes'
        work (resumed from their checkpoints) it includes."""
        sp = self.spent()
        return {**{k: round(sp[k], 1) for k in _PHASES}, "train_wall_s": round(sp["wall_s"], 1),
                "peak_rss_mb": round(sp["peak_rss_mb"], 1), "resumed": sp["processes"] - 1}


def make_mesh(n_devices: int | None = None) -> Mesh:
    """A 1-D mesh (axis ``"ep"``) over the first ``n_devices`` devices (default: all); more
    than there are raises ValueError."""
    devs = jax.devices()
    if n_devices is not None:
        if n_devices > len(devs):
            hint = ("; for N CPU devices set XLA_FLAGS=--xla_force_host_platform_device_count=N"
                    if devs[0].platform == "cpu" else "")
            raise ValueError(f"--devices {n_devices}: there are only {len(devs)} "
                             f"{devs[0].platform} device(s){hint}")
        devs = devs[:n_devices]
    return Mesh(np.array(devs), ("ep",))


def _labels(theta, groups: dict[str, str]):
    return {k: jax.tree.map(lambda _, g=g: g, v) for k, v in theta.items()
            for g in [groups.get(k, "frozen")]}


def _schedule(lr: float, steps: int, warmup: int):
    if lr == 0:
        return 0.0
    warmup = max(1, min(warmup, steps))
    return optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(steps, warmup + 1),
                                              end_value=0.1 * lr)


def meta_optimizer(cfg: Config, theta) -> optax.GradientTransformation:
    m = cfg.meta
    n = m.steps

    def adam(lr):
        return optax.adam(_schedule(lr, n, m.warmup)) if lr > 0 else optax.set_to_zero()

    groups = {"w_in": "w", "hid": "neuron", "out": "out", "w0": "w0", "hyper": "hyper",
              "beta": "beta"}
    if not m.train_features:
        groups.update(w_in="frozen", hid="frozen")
    tx = optax.multi_transform({"w": adam(m.lr_w), "neuron": adam(m.lr_neuron),
                                "out": adam(m.lr_neuron), "w0": adam(m.lr_w0),
                                "hyper": adam(m.lr_hyper), "beta": adam(m.lr_beta),
                                "frozen": optax.set_to_zero()}, _labels(theta, groups))
    return optax.chain(optax.clip_by_global_norm(m.clip), tx)


def pretrain_optimizer(cfg: Config, theta) -> optax.GradientTransformation:
    p = cfg.pretrain
    groups = {"w_in": "w", "hid": "neuron"}
    return optax.multi_transform({"w": optax.adam(p.lr_w), "neuron": optax.adam(p.lr_neuron),
                                  "frozen": optax.set_to_zero()}, _labels(theta, groups))


def project(theta):
    """Keep every parameter inside (half a unit beyond) its deployed integer range."""
    t = dict(theta)
    lim = (C.WEIGHT_MIN - 0.49, C.WEIGHT_MAX + 0.49)
    t["w_in"] = jnp.clip(t["w_in"], *lim)
    t["w0"] = jnp.clip(t["w0"], *lim)
    for pop in ("hid", "out"):
        p = dict(t[pop])
        p["du"] = jnp.clip(p["du"], 0.0, C.DECAY_MAX)
        p["dv"] = jnp.clip(p["dv"], 0.0, C.DECAY_MAX)
        p["vth_mant"] = jnp.clip(p["vth_mant"], 1.0, C.VTH_MANT_MAX)
        p["bias_mant"] = jnp.clip(p["bias_mant"], C.BIAS_MANT_MIN, C.BIAS_MANT_MAX)
        t[pop] = p
    h = t["hyper"]
    t["hyper"] = dataclasses.replace(
        h, coef=jnp.clip(h.coef, C.COEF_MANT_MIN, C.COEF_MANT_MAX),
        decay=jnp.clip(h.decay, 0.0, C.DECAY_MAX), impulse=jnp.clip(h.impulse, 0.0,
                                                                   C.IMPULSE_MAX),
        gate=jnp.clip(h.gate, 0.0, 32767.0))
    t["beta"] = jnp.clip(t["beta"], 1e-3, 10.0)
    return t


# --------------------------------------------------------------------------- steps


def batch_loss(mcfg: model.ModelConfig, theta, S, L, Q, QL, *, order: str, remat: bool):
    """Mean query loss and accuracy over a batch of episodes (leading axis)."""
    fn = jax.vmap(lambda s, l, q, ql: model.episode_loss(mcfg, theta, s, l, q, ql, order=order,
                                                         remat=remat))
    loss, acc = fn(S, L, Q, QL)
    return jnp.mean(loss), jnp.mean(acc)


def make_meta_step(cfg: Config, tx: optax.GradientTransformation, mesh: Mesh):
    """The jitted outer step, episodes sharded over ``mesh`` axis ``"ep"``."""
    repl, shard = NamedSharding(mesh, P()), NamedSharding(mesh, P("ep"))
    order, remat = cfg.meta.order, cfg.meta.remat

    def step(theta, opt_state, S, L, Q, QL):
        (loss, acc), g = jax.value_and_grad(
            lambda th: batch_loss(cfg.model, th, S, L, Q, QL, order=order, remat=remat),
            has_aux=True)(theta)
        updates, opt_state = tx.update(g, opt_state, theta)
        theta = project(optax.apply_updates(theta, updates))
        return theta, opt_state, {"loss": loss, "acc": acc,
                                  "grad_norm": optax.tree_utils.tree_norm(g)}

    return jax.jit(step, in_shardings=(repl, repl, shard, shard, shard, shard),
                   out_shardings=(repl, repl, repl))


def make_grad_fn(cfg: Config, mesh: Mesh):
    """Loss, accuracy and gradient of one batch, sharded over ``mesh`` (for tests and the
    memory benchmark)."""
    repl, shard = NamedSharding(mesh, P()), NamedSharding(mesh, P("ep"))

    def f(theta, S, L, Q, QL):
        return jax.value_and_grad(
            lambda th: batch_loss(cfg.model, th, S, L, Q, QL, order=cfg.meta.order,
                                  remat=cfg.meta.remat), has_aux=True)(theta)

    return jax.jit(f, in_shardings=(repl, shard, shard, shard, shard), out_shardings=repl)


def put_batch(mesh: Mesh, arrays):
    """Host arrays (this process's slice of the batch) -> globally sharded jax Arrays."""
    shard = NamedSharding(mesh, P("ep"))
    return tuple(jax.make_array_from_process_local_data(shard, np.asarray(a)) for a in arrays)


def make_pretrain_step(cfg: Config, tx):
    mcfg, p = cfg.model, cfg.pretrain
    n_sup = p.samples // 2

    def loss_fn(theta, x):
        h = model.hidden_counts(mcfg, theta, x).reshape(p.ways, p.samples, -1) / 10.0
        proto = h[:, :n_sup].mean(1)
        q = h[:, n_sup:].reshape(-1, h.shape[-1])
        if p.metric == "dot":
            logits = (q @ proto.T) * (4.0 / mcfg.hidden)
        else:
            logits = -jnp.sum((q[:, None] - proto[None]) ** 2, -1) * (4.0 / mcfg.hidden)
        y = jnp.repeat(jnp.arange(p.ways), p.samples - n_sup)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, {"acc": jnp.mean(jnp.argmax(logits, -1) == y),
                      "rate": jnp.mean(h) * 10.0 / mcfg.steps}

    @jax.jit
    def step(theta, opt_state, x):
        (loss, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(theta, x)
        updates, opt_state = tx.update(g, opt_state, theta)
        return project(optax.apply_updates(theta, updates)), opt_state, {"loss": loss, **aux}

    return step


def make_eval_fn(cfg: Config):
    mcfg = cfg.model

    @jax.jit
    def acc(theta, S, L, Q, QL):
        counts = jax.vmap(lambda s, l, q: model.episode_counts(mcfg, theta, s, l, q))(S, L, Q)
        return jnp.mean(model.predict(counts) == QL, axis=-1)

    return acc


# --------------------------------------------------------------------------- the run


def check_out(out: Path, *, resume: bool) -> None:
    """Refuse a run folder that would lose a run or mix two (ValueError). Without ``resume``
    it must be missing or empty. With ``resume`` it must hold a run (``config.toml``), or be
    missing or empty: then there is nothing to resume, and the run starts fresh and says so
    on stderr (rather than refusing: a batch job that always passes ``--resume``, to survive
    preemption, then works on its first start too)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a run folder")
    held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    is_run = (out / "config.toml").is_file()
    listing = f"{', '.join(held[:3])}{', ...' if len(held) > 3 else ''}"
    if resume and not is_run and held:
        raise ValueError(f"--resume: {out} holds no run (no config.toml) but is not empty "
                         f"({listing}); choose another --out")
    if not resume and is_run:
        raise ValueError(f"--out {out} already holds a run: pass --resume to continue it, or "
                         f"choose another --out")
    if not resume and held:
        raise ValueError(f"--out {out} is not empty ({listing}); choose another --out")
    if resume and not is_run:
        print(f"--resume: nothing to resume in {out} (missing or empty); starting a fresh run",
              file=sys.stderr, flush=True)


def check_artifact(path: Path) -> None:
    """Refuse an ``--artifact`` path that could not be written (before the run, not after)."""
    folder = path.parent
    if path.is_dir():
        raise ValueError(f"--artifact {path} is a folder; name the file (e.g. {path}/model.elm)")
    if not folder.is_dir():
        raise ValueError(f"--artifact {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists()
                                                    and not os.access(path, os.W_OK)):
        raise ValueError(f"--artifact {path}: not writable")


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary file beside ``dst``, then rename: a kill
    mid-copy leaves ``dst`` as it was (at worst a stray ``.tmp`` file), never truncated."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Run:
    """A run folder: metrics, checkpoints, progress."""

    def __init__(self, out: Path, cfg: Config, cfg_text: str, *, resume: bool, quiet: bool,
                 writer: bool = True):
        """``writer = False`` (every process but the first of a multi-process run): the folder
        is neither read nor written here; checkpoints come from the writer (``sync_ckpt``).
        The folder is checked first (:func:`check_out`): a run is never overwritten."""
        self.out, self.cfg, self.quiet, self.writer = out, cfg, quiet or not writer, writer
        self.metrics = None
        if not writer:
            return
        check_out(out, resume=resume)
        if (out / "config.toml").exists() and (out / "config.toml").read_text() != cfg_text:
            raise ValueError(f"--resume: {out / 'config.toml'} differs from the config given")
        # the step last.pkl reached, read once (None: no meta-training checkpoint)
        last = self.load_ckpt("last.pkl") if resume else None
        meta_done = None if last is None else int(last["step"])
        if resume and (out / "config.toml").exists() and not self.quiet:
            print(f"--resume: {self._resume_point(meta_done)}", file=sys.stderr, flush=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.toml").write_text(cfg_text)
        (out / "checkpoints").mkdir(exist_ok=True)
        if resume:
            self._trim_metrics(meta_done or 0)
        self.metrics = open(out / "metrics.jsonl", "a")

    def _resume_point(self, meta_done: int | None) -> str:
        """Where a resumed run goes on from, in words (its checkpoints)."""
        ck = self.out / "checkpoints"
        if meta_done is not None:
            return (f"meta-training goes on from step {meta_done} of {self.cfg.meta.steps} "
                    f"({ck / 'last.pkl'})")
        if (ck / "pretrain.pkl").exists():
            return f"pre-training is done ({ck / 'pretrain.pkl'}); meta-training starts at step 0"
        return (f"{self.out} holds no checkpoint yet (the run stopped before the end of "
                f"pre-training, which is checkpointed once, at its end): starting from the "
                f"beginning")

    def _trim_metrics(self, meta_done: int) -> None:
        """Cut ``metrics.jsonl`` back to what the checkpoints cover, so that the resumed run
        leaves it as an uninterrupted run would: the pre-training records only where
        ``pretrain.pkl`` is (it is saved at the end of pre-training), the meta and val records
        of the steps before ``last.pkl``'s step, no timing record (written at the end) and no
        line cut short by a kill (``meta_done``: ``last.pkl``'s step, 0 without it). Written
        atomically (temporary file, then rename)."""
        path = self.out / "metrics.jsonl"
        if not path.exists():
            return
        pre_done = (self.out / "checkpoints" / "pretrain.pkl").exists()
        keep = []
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            phase, step = rec.get("phase"), rec.get("step")
            if (phase == "pretrain" and pre_done) or (
                    phase in ("meta", "val") and isinstance(step, int) and step < meta_done):
                keep.append(line + "\n")
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            f.writelines(keep)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    def log(self, **rec: Any) -> None:
        if self.metrics is None:
            return
        rec = {k: (float(v) if hasattr(v, "dtype") else v) for k, v in rec.items()}
        self.metrics.write(json.dumps(rec) + "\n")
        self.metrics.flush()

    def save_ckpt(self, name: str, obj: Any) -> None:
        if not self.writer:
            return
        path = self.out / "checkpoints" / name
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(jax.tree.map(np.asarray, obj), f)
        tmp.replace(path)

    def load_ckpt(self, name: str) -> Any | None:
        path = self.out / "checkpoints" / name
        if not self.writer or not path.exists():
            return None
        with open(path, "rb") as f:
            return pickle.load(f)

    def sync_ckpt(self, name: str, template: Any) -> Any | None:
        """Checkpoint ``name`` as the writer reads it, on every process (``template``: the
        pytree structure it has; None where the writer has no such checkpoint)."""
        ck = self.load_ckpt(name)
        if ck is not None and isinstance(template, dict):
            # a checkpoint from before a key was added (``spent``): the template's value
            ck = {k: ck.get(k, v) for k, v in template.items()}
        if jax.process_count() == 1:
            return ck
        from jax.experimental import multihost_utils as mh

        if not int(mh.broadcast_one_to_all(np.int32(ck is not None))):
            return None
        return mh.broadcast_one_to_all(ck if ck is not None else template)

    def progress(self):
        return progress_display(quiet=self.quiet)


def progress_display(*, quiet: bool = False):
    """Progress on stderr: a live bar on a terminal; where stderr is a file or a pipe (a batch
    job's log), :class:`LineProgress` instead: plain lines, not a bar squeezed to 80 columns.
    Either way stdout stays free for results (``edgelearn evaluate`` prints JSON there)."""
    if not quiet and not sys.stderr.isatty():
        return LineProgress()
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"), disable=quiet, transient=False,
                    console=Console(stderr=True))


class LineProgress:
    """The part of rich's ``Progress`` the run uses, as one line per task on stderr at every
    tenth of its total, at least every ``every_s`` seconds, and when it completes:
    ``meta-training 150/500 (30%) 0:01:02 elapsed, eta 0:02:25 | val acc 0.952``. The ETA
    uses the pace since the previous line (compilation makes the first steps slow)."""

    def __init__(self, every_s: float = 60.0, stream=None):
        self.every_s, self.stream, self.tasks = every_s, stream or sys.stderr, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description: str, total: int, completed: int = 0, info: str = "") -> int:
        now = time.monotonic()
        self.tasks.append(dict(desc=description, total=max(int(total), 1), done=int(completed),
                               last_done=int(completed), info=info, t0=now, last_t=now,
                               last_tenth=10 * int(completed) // max(int(total), 1)))
        return len(self.tasks) - 1

    def update(self, task: int, info: str | None = None, **_: Any) -> None:
        if info is not None:
            self.tasks[task]["info"] = info

    def advance(self, task: int, n: int = 1) -> None:
        t = self.tasks[task]
        was_done = t["done"] >= t["total"]
        t["done"] += int(n)
        now, tenth = time.monotonic(), 10 * min(t["done"], t["total"]) // t["total"]
        finished = t["done"] >= t["total"] and not was_done
        if finished or tenth > t["last_tenth"] or now - t["last_t"] >= self.every_s:
            self._print(t, now)
            t["last_t"], t["last_done"], t["last_tenth"] = now, min(t["done"], t["total"]), tenth

    def _print(self, t: dict, now: float) -> None:
        """The line; ``last_t`` / ``last_done`` are still those of the previous line."""
        def hms(s: float) -> str:
            s = int(round(s))
            return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"

        elapsed, done, total = now - t["t0"], min(t["done"], t["total"]), t["total"]
        span = now - t["last_t"]
        rate = (done - t["last_done"]) / span if span > 0 else 0.0
        eta = hms((total - done) / rate) if rate > 0 else "?"
        info = f" | {t['info']}" if t["info"] else ""
        print(f"{t['desc']} {done}/{total} ({100 * done // total}%) {hms(elapsed)} elapsed, "
              f"eta {eta}{info}", file=self.stream, flush=True)


def build_pools(cfg: Config, progress=None) -> dict[str, data.RasterPool]:
    d = cfg.data
    imap = data.input_map_for(d.kind, dt_us=d.dt_us)
    total = (d.train_classes[1] - d.train_classes[0]) * d.samples + (
        d.val_classes[1] - d.val_classes[0]) * d.eval_samples
    task = progress.add_task("binning samples", total=total, info="") if progress else None

    def tick(n):
        if progress:
            progress.advance(task, n)

    pools = {
        "train": data.RasterPool.build(d.kind, range(*d.train_classes), d.samples, imap,
                                       d.steps, seed=d.generator_seed, progress=tick),
        "val": data.RasterPool.build(d.kind, range(*d.val_classes), d.eval_samples, imap,
                                     d.steps, seed=d.generator_seed, progress=tick),
    }
    return pools


def pretrain(cfg: Config, run: Run, theta, pool: data.RasterPool, progress,
             clock: Clock | None = None):
    """Feature pre-training (``clock``: the run's, its ``pretrain_s`` phase started; None: a
    fresh one)."""
    p = cfg.pretrain
    clock = clock or Clock.started("pretrain_s")
    ck = run.sync_ckpt("pretrain.pkl", {"theta": theta, "spent": Clock.zero()})
    if ck is not None:
        clock.carry(ck["spent"])
        return jax.tree.map(jnp.asarray, ck["theta"])
    if p.steps <= 0:
        return theta
    tx = pretrain_optimizer(cfg, theta)
    opt_state = tx.init(theta)
    step = make_pretrain_step(cfg, tx)
    task = progress.add_task("pre-training features", total=p.steps, info="")
    for i in range(p.steps):
        rng = np.random.default_rng([cfg.seed, 0xF7, i])
        ci = np.repeat(rng.choice(len(pool.classes), p.ways, replace=False), p.samples)
        si = np.concatenate([rng.choice(pool.samples, p.samples, replace=False)
                             for _ in range(p.ways)])
        theta, opt_state, m = step(theta, opt_state, jnp.asarray(pool.get(ci, si)))
        if i % 10 == 0 or i == p.steps - 1:
            m = {k: float(v) for k, v in m.items()}
            run.log(phase="pretrain", step=i, time_s=clock.phase_s(), **m)
            progress.update(task, info=f"loss {m['loss']:.3f} acc {m['acc']:.2f} "
                                       f"rate {m['rate']:.2f}")
        progress.advance(task)
    run.save_ckpt("pretrain.pkl", {"theta": theta, "spent": clock.spent()})
    return theta


def validate(cfg: Config, eval_fn, theta, pool: data.RasterPool, n: int) -> float:
    e = cfg.episode
    accs = []
    for a in range(0, n, 16):
        S, L, Q, QL = data.episode_batch(pool, cfg.seed, "val", a, min(16, n - a), e.ways,
                                         e.shots, e.queries)
        accs.append(np.asarray(eval_fn(theta, S, L, Q, QL)))
    return float(np.mean(np.concatenate(accs)))


def _check_batch(cfg: Config, mesh: Mesh) -> None:
    n_dev = mesh.devices.size
    if cfg.meta.batch % n_dev:
        raise ValueError(f"meta.batch = {cfg.meta.batch} must be a multiple of the {n_dev} "
                         f"devices")


def metatrain(cfg: Config, run: Run, theta, pools, progress, mesh: Mesh,
              clock: Clock | None = None):
    """The outer loop (``clock``: the run's, its ``metatrain_s`` phase started; None: a fresh
    one)."""
    m, e = cfg.meta, cfg.episode
    clock = clock or Clock.started("metatrain_s")
    _check_batch(cfg, mesh)
    tx = meta_optimizer(cfg, theta)
    opt_state = tx.init(theta)
    start = 0
    ck = run.sync_ckpt("last.pkl", {"theta": theta, "opt_state": opt_state,
                                    "step": np.int32(0), "spent": Clock.zero()})
    if ck is not None:
        clock.carry(ck["spent"])
        theta = jax.tree.map(jnp.asarray, ck["theta"])
        opt_state = jax.tree.map(jnp.asarray, ck["opt_state"])
        start = int(ck["step"])
    step = make_meta_step(cfg, tx, mesh)
    eval_fn = make_eval_fn(cfg)
    n_proc, pid = jax.process_count(), jax.process_index()
    local = m.batch // n_proc
    task = progress.add_task("meta-training", total=m.steps, completed=start, info="")
    shots = m.train_shots or (e.shots,)
    for i in range(start, m.steps):
        # one compiled step per shot count (the inner loop's length is static)
        S, L, Q, QL = data.episode_batch(pools["train"], cfg.seed, "train",
                                         i * m.batch + pid * local, local, e.ways,
                                         shots[i % len(shots)], e.queries)
        theta, opt_state, met = step(theta, opt_state, *put_batch(mesh, (S, L, Q, QL)))
        if i % 5 == 0 or i == m.steps - 1:
            met = {k: float(v) for k, v in met.items()}
            run.log(phase="meta", step=i, time_s=clock.phase_s(), **met)
            progress.update(task, info=f"loss {met['loss']:.3f} acc {met['acc']:.2f}")
        if (i + 1) % m.val_every == 0 or i == m.steps - 1:
            va = validate(cfg, eval_fn, theta, pools["val"], m.val_episodes)
            run.log(phase="val", step=i, val_acc=va, time_s=clock.phase_s())
            progress.update(task, info=f"val acc {va:.3f}")
        if (i + 1) % m.checkpoint_every == 0 or i == m.steps - 1:
            run.save_ckpt("last.pkl", {"theta": theta, "opt_state": opt_state, "step": i + 1,
                                       "spent": clock.spent()})
        progress.advance(task)
    return theta


def export(cfg: Config, theta, metrics: dict[str, Any]) -> Artifact:
    """The deployable artifact for ``theta``."""
    d = cfg.data
    net = model.to_network(cfg.model, jax.tree.map(np.asarray, theta))
    imap = data.input_map_for(d.kind, dt_us=d.dt_us)
    ro = Readout(population=1, r_pos=cfg.model.r_pos, r_neg=cfg.model.r_neg,
                 steps=cfg.model.steps)
    manifest = {
        "kind": "oneshot",
        "config": cfg.as_dict(),
        "data": {"kind": d.kind, "generator_seed": d.generator_seed,
                 "train_classes": list(d.train_classes), "val_classes": list(d.val_classes),
                 "test_classes": list(d.test_classes), "dt_us": d.dt_us, "steps": d.steps},
        "episode": dataclasses.asdict(cfg.episode),
        "metrics": metrics,
        "source_version": source_version(),
    }
    return Artifact(net, input_map=imap, readout=ro, manifest=manifest)


def run(cfg: Config, cfg_text: str, out: Path, *, resume: bool = False, quiet: bool = False,
        devices: int | None = None, evaluate: bool = True,
        artifact: Path | None = None) -> dict[str, Any]:
    """Run a whole experiment into ``out``; returns the summary (also in ``report.json``).
    ``artifact``: also copy the final ``model.elm`` there. Bad devices, run folder or artifact
    path raise ValueError before any work (on every process of a multi-process run)."""
    if cfg.dist.distributed:
        kw = {}
        if cfg.dist.coordinator:
            kw = dict(coordinator_address=cfg.dist.coordinator,
                      num_processes=cfg.dist.num_processes, process_id=cfg.dist.process_id)
        jax.distributed.initialize(**kw)
    clock = Clock()
    # several processes: the first one writes the run folder, the others only compute
    writer = jax.process_index() == 0
    mesh = make_mesh(devices)
    _check_batch(cfg, mesh)
    refused = None
    try:
        own = artifact is not None and Path(artifact).resolve() == (out / "model.elm").resolve()
        if writer and artifact is not None and not own:  # (the run folder is made below)
            check_artifact(artifact)
        if writer and evaluate:
            check_nmnist(cfg)  # the report's N-MNIST test, where its folder is
        r = Run(out, cfg, cfg_text, resume=resume, quiet=quiet, writer=writer)
    except ValueError as e:
        refused = str(e)
    if jax.process_count() > 1:
        # the writer alone checks the paths; the others must stop with it, not wait for it in
        # the first collective
        from jax.experimental import multihost_utils as mh

        if int(mh.broadcast_one_to_all(np.int32(refused is not None))) and refused is None:
            refused = "process 0 refused its run folder or --artifact (its error says why)"
    if refused is not None:
        raise ValueError(refused)
    info = {"seed": cfg.seed, "generator_seed": cfg.data.generator_seed,
            "devices": [str(d) for d in mesh.devices.flat], "processes": jax.process_count(),
            "jax": jax.__version__, "source_version": source_version()}
    if writer:
        (out / "run.json").write_text(json.dumps(info, indent=1) + "\n")
    theta = model.init_theta(cfg.model, jax.random.PRNGKey(cfg.seed))
    with r.progress() as progress:
        clock.start("data_s")
        pools = build_pools(cfg, progress)
        clock.stop()
        clock.start("pretrain_s")
        theta = pretrain(cfg, r, theta, pools["train"], progress, clock)
        clock.stop()
        clock.start("metatrain_s")
        theta = metatrain(cfg, r, theta, pools, progress, mesh, clock)
        clock.stop()
    # the run's totals over every process that did its work (``resumed``: how many before this)
    timing = clock.timing()
    r.log(phase="timing", **timing)
    summary: dict[str, Any] = {"timing": timing}
    if not writer:
        return summary
    art = export(cfg, theta, {"timing": timing})
    save(out / "model.elm", art)
    if evaluate:
        from . import report
        summary.update(report.final_report(cfg, art, out, quiet=quiet))
        art = export(cfg, theta, summary)
        save(out / "model.elm", art)
    summary["total_wall_s"] = round(clock.spent()["wall_s"], 1)
    (out / "report.json").write_text(json.dumps(summary, indent=1) + "\n")
    if artifact is not None and Path(artifact).resolve() != (out / "model.elm").resolve():
        copy_atomic(out / "model.elm", Path(artifact))  # (--artifact RUN/model.elm: it is there)
    if not quiet:
        print(json.dumps(summary, indent=1), file=sys.stderr)
    return summary
