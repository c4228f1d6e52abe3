"""``edgelearn demo oneshot``: a device learns new classes from one example each, live.

With no arguments: build and start the host emulator (the firmware on a local TCP port), deploy
the shipped artifact meta-trained on gestures over the serial protocol, and stream the project's
own generated gesture recordings (classes the artifact never saw) at their real pace: for each
episode, one labelled example per class is learned on the device, then query recordings are
classified live. ``--recordings`` streams real labelled files instead (an N-MNIST folder, a DVS
Gesture folder, a ``class/file`` folder, or files named one by one:
:class:`edgelearn.events.FileListDataset`). A JSON report and PNG figures go to ``--report``.

Top-level imports stay light: everything heavy is imported in :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# meta-trained on generated glyphs (34 x 34, N-MNIST-like): for recorded files
DEFAULT_ARTIFACT = Path(__file__).parent / "data" / "oneshot_default.elm"
# meta-trained on generated gestures (128 x 128, 1 s): for generated gestures and a live camera
GESTURES_ARTIFACT = Path(__file__).parent / "data" / "oneshot_gestures.elm"
WINDOW_STEPS = 10  # steps streamed between two refreshes of the live view


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recordings", nargs="+", type=Path, metavar="DIR|FILE",
                   help="real labelled recordings: a folder (N-MNIST, DVS Gesture or "
                   "class/file layout) or files, each of the class its folder's N-MNIST label "
                   "list gives it, else of its folder's name; default: generated gestures")
    p.add_argument("--port", default=None, metavar="URL|inproc",
                   help="a running device (pty path, socket://127.0.0.1:PORT, /dev/ttyUSB0) or "
                   "'inproc' for the in-process C runtime; default: start the emulator")
    p.add_argument("--target", choices=("host", "qemu"), default="host",
                   help="emulator to start when --port is not given: the host build or the "
                   "Cortex-M firmware under qemu-system-arm (default host)")
    p.add_argument("--artifact", type=Path, default=None,
                   help="the one-shot learner to deploy (default: the shipped one meta-trained "
                   "on gestures for generated gestures and --camera, the one meta-trained on "
                   "glyphs for --recordings)")
    p.add_argument("--ways", type=int, default=5, help="classes per episode (default 5)")
    p.add_argument("--shots", type=int, default=1, help="examples per class (default 1)")
    p.add_argument("--queries", type=int, default=2, help="queries per class (default 2)")
    p.add_argument("--episodes", type=int, default=None,
                   help="episodes (default: 20 with --headless, else 2)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="playback speed relative to real time in the live view (default 1.0; "
                   "--headless never waits)")
    p.add_argument("--seed", type=int, default=0, help="episode sampling seed (default 0)")
    p.add_argument("--headless", action="store_true",
                   help="no live view: print one line per episode, write the report")
    p.add_argument("--interactive", action="store_true",
                   help="stream recordings (or a live camera) continuously; press n to learn the "
                   "one on screen as a new class, 0-9 to add it to that class, q to quit")
    p.add_argument("--camera", action="store_true",
                   help="with --interactive: read a live event camera (needs a driver package)")
    p.add_argument("--report", type=Path, default=Path("demo-report/oneshot.json"),
                   help="JSON report; PNG figures are written beside it "
                   "(default demo-report/oneshot.json)")


# --------------------------------------------------------------------------- set-up


def _check(args) -> None:
    from .cli import UsageError

    for name in ("ways", "shots"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.queries < 1:
        raise UsageError(f"--queries must be >= 1, got {args.queries}")
    if args.episodes is not None and args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if not args.speed > 0:
        raise UsageError(f"--speed must be > 0, got {args.speed}")
    if args.camera and not args.interactive:
        raise UsageError("--camera needs --interactive")
    for r in args.recordings or ():
        if not r.exists():
            raise UsageError(f"--recordings: {r} does not exist")


def artifact_path(args) -> Path:
    """``--artifact``, else the shipped model for the kind of input (see its ``--help``)."""
    if args.artifact is not None:
        return args.artifact
    return DEFAULT_ARTIFACT if args.recordings else GESTURES_ARTIFACT


def load_artifact(path: Path):
    from . import artifact
    from .cli import UsageError

    if not path.exists():
        raise UsageError(f"artifact {path} not found; make one with `edgelearn metatrain "
                         f"metatrain/configs/glyphs.toml --out runs/glyphs` (docs/metatrain.md)")
    try:
        art = artifact.load(path)
    except artifact.ArtifactError as e:
        raise UsageError(str(e)) from None
    if art.readout is None or art.input_map is None:
        raise UsageError(f"{path} is not a one-shot learner (no readout or input map)")
    return art


def fit_input_map(art, width: int, height: int):
    """The artifact with its input map fitted to a ``width x height`` sensor
    (:meth:`edgelearn.artifact.InputMap.fitted`); the network is unchanged."""
    import dataclasses

    m = art.input_map.fitted(width, height)
    return art if m is art.input_map else dataclasses.replace(art, input_map=m)


def dataset(args):
    """(class dataset, sensor (w, h), a name) for the episodes."""
    from . import events
    from .cli import UsageError

    if args.recordings:
        if len(args.recordings) == 1 and args.recordings[0].is_dir():
            try:
                ds = events.open_dataset(args.recordings[0])
            except (events.EventFormatError, FileNotFoundError) as e:
                raise UsageError(f"--recordings: {e}") from None
            name = str(args.recordings[0])
        else:
            if not all(p.is_file() for p in args.recordings):
                raise UsageError("--recordings takes one folder, or files (no folders)")
            try:
                ds = events.FileListDataset(args.recordings)
            except (ValueError, FileNotFoundError) as e:  # a file its label list lacks
                raise UsageError(f"--recordings: {e}") from None
            n = sum(map(ds.count, ds.classes))
            name = f"{n} file{'s' * (n != 1)}"
        if not ds.classes:
            raise UsageError(f"--recordings: no recordings found in {name}")
        try:
            first = ds.get(ds.classes[0], 0)
        except events.EventFormatError as e:
            raise UsageError(f"--recordings: {e}") from None
        return ds, (first.width, first.height), name
    # classes generated with a seed of their own: trajectories the artifact never saw
    ds = events.gestures(n_classes=max(8, args.ways), samples_per_class=args.shots +
                         args.queries + 2, seed=1000 + args.seed)
    return ds, ds.sensor_size, f"generated gestures (seed {1000 + args.seed})"


def check_episodes(args, ds, name: str) -> None:
    """Enough classes for ``--ways`` and samples in each for ``--shots`` + ``--queries``."""
    from .cli import UsageError

    k = len(ds.classes)
    if k < args.ways:
        shown = ", ".join(map(str, ds.classes[:10])) + (", ..." if k > 10 else "")
        raise UsageError(f"--recordings: {k} class{'es' * (k != 1)} ({shown}) in {name}, "
                         f"fewer than --ways {args.ways}")
    need = args.shots + args.queries
    n = min(ds.count(c) for c in ds.classes)
    if n < need:
        raise UsageError(f"--recordings: some classes in {name} have only {n} "
                         f"sample{'s' * (n != 1)}, fewer than --shots + --queries = {need}")


def open_learner(args, art, stack):
    """The engine to drive and a short description; the emulator is stopped by ``stack``."""
    from . import oneshot

    if args.port == "inproc":
        return oneshot.RuntimeLearner(art), "in-process C runtime", None
    from .device import Device

    url = args.port
    what = f"device at {url}"
    if url is None:
        from firmware_sim import launcher

        if args.target == "qemu" and launcher.qemu_available() is not None:
            from .cli import UsageError

            raise UsageError(f"--target qemu: {launcher.qemu_available()} "
                             "(apt-get install qemu-system-arm gcc-arm-none-eabi)")
        emu = stack.enter_context(launcher.start(args.target))
        url = emu.url
        what = f"{args.target} firmware emulator at {url}"
    dev = stack.enter_context(Device(url, timeout=5.0))
    return oneshot.DeviceLearner(art, dev), what, dev


# --------------------------------------------------------------------------- the live view


class View:
    """The terminal view (rich): status, thumbnail, readout activity, queries, link stats."""

    def __init__(self, live: bool, ways: int, classes_text: str, engine: str):
        from rich.console import Console

        self.console = Console()
        self.live = None
        self.ways, self.engine, self.classes_text = ways, engine, classes_text
        self.status = "starting"
        self.frame = None
        self.counts = [0] * ways
        self.rows: list[tuple] = []
        self.correct = self.total = 0
        self.link = {"events": 0, "seconds": 0.0, "bytes": 0}
        self.learned: list[str] = []
        if live:
            from rich.live import Live

            self.live = Live(self.render(), console=self.console, refresh_per_second=12,
                             transient=False)
            self.live.start()

    def close(self) -> None:
        if self.live is not None:
            self.live.update(self.render())
            self.live.stop()

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self.render(), refresh=True)

    def render(self):
        from rich.layout import Layout
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        lay = Layout()
        lay.split_column(Layout(name="top", size=3), Layout(name="mid", size=18),
                         Layout(name="bottom"))
        lay["top"].update(Panel(Text(self.status, style="bold"), title="edgelearn one-shot "
                                f"demo ({self.engine})"))
        lay["mid"].split_row(Layout(name="thumb"), Layout(name="act"), Layout(name="link"))
        lay["mid"]["thumb"].update(Panel(self._thumbnail(), title="events (ON green, OFF red)"))
        act = Table.grid(padding=(0, 1))
        peak = max(max(self.counts), 1)
        for j, c in enumerate(self.counts):
            bar = "#" * int(20 * c / peak)
            label = self.learned[j] if j < len(self.learned) else f"class {j}"
            act.add_row(f"{label[:12]:>12}", Text(bar, style="cyan"), str(c))
        lay["mid"]["act"].update(Panel(act, title="output neurons (spikes)"))
        lk = self.link
        rate = lk["events"] / lk["seconds"] if lk["seconds"] else 0.0
        acc = f"{self.correct}/{self.total} = {self.correct / self.total:.0%}" if self.total \
            else "-"
        info = Table.grid(padding=(0, 1))
        info.add_row("events in", f"{lk['events']:,}")
        info.add_row("device time", f"{lk['seconds']:.2f} s")
        info.add_row("events/s", f"{rate:,.0f}")
        info.add_row("bytes on link", f"{lk['bytes']:,}")
        info.add_row("accuracy", acc)
        info.add_row("classes", self.classes_text[:28])
        lay["mid"]["link"].update(Panel(info, title="link and score"))
        q = Table("#", "true", "predicted", "confidence", "", "running acc.", expand=True)
        for row in self.rows[-12:]:
            q.add_row(*row)
        lay["bottom"].update(Panel(q, title="queries"))
        return lay

    def _thumbnail(self):
        from rich.text import Text

        t = Text()
        if self.frame is None:
            return t
        f = self.frame
        h, w = f.shape
        sy, sx = max(1, h // 14), max(1, w // 28)
        for y in range(0, h - sy + 1, sy):
            for x in range(0, w - sx + 1, sx):
                v = f[y:y + sy, x:x + sx].sum()
                t.append("#" if v > 0 else ("o" if v < 0 else " "),
                         style="green" if v > 0 else "red")
            t.append("\n")
        return t


def _frame(events, width, height):
    import numpy as np

    f = np.zeros((height, width), np.int32)
    if len(events):
        np.add.at(f, (events["y"].astype(np.intp), events["x"].astype(np.intp)),
                  np.where(events["p"] > 0, 1, -1))
    return f


# --------------------------------------------------------------------------- one sample


def stream_sample(learner, rec, cls, view: View, *, pace: float | None, label: str):
    """Stream one recording window by window (paced at ``pace`` x real time when given),
    updating the view; returns the :class:`edgelearn.oneshot.Outcome`."""
    import numpy as np

    art = learner.artifact
    ev = rec.events
    if len(ev) > 1 and np.any(np.diff(ev["t"].astype(np.int64)) < 0):
        ev = np.sort(ev, order="t", kind="stable")  # windows are cut by time below
    t0 = int(ev["t"][0]) if len(ev) else 0
    steps, dt = art.readout.steps, art.input_map.dt_us
    ev = ev[ev["t"] < t0 + steps * dt]
    learner.begin(cls, t0)
    wall0 = time.perf_counter()
    lo = 0
    for until in range(WINDOW_STEPS, steps + WINDOW_STEPS, WINDOW_STEPS):
        until = min(until, steps)
        hi = int(np.searchsorted(ev["t"], t0 + until * dt, side="left"))
        counts = learner.feed(ev[lo:hi], until)
        view.counts = [int(c) for c in counts]
        view.frame = _frame(ev[max(0, hi - 2000):hi], rec.width, rec.height)
        view.status = f"{label}  [{until * dt / 1e3:.0f} / {steps * dt / 1e3:.0f} ms]"
        lo = hi
        if pace:
            wait = wall0 + until * dt / 1e6 / pace - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        view.refresh()
    return learner.finish()


# --------------------------------------------------------------------------- the demo


def run(args: argparse.Namespace) -> int:
    import contextlib

    import numpy as np

    from . import events, oneshot
    from .cli import UsageError

    _check(args)
    if args.interactive:
        return run_interactive(args)
    n_episodes = args.episodes or (20 if args.headless else 2)
    args.artifact = artifact_path(args)
    art = load_artifact(args.artifact)
    ds, (sw, sh), data_name = dataset(args)
    if args.recordings:
        check_episodes(args, ds, data_name)
    art = fit_input_map(art, sw, sh)
    n_cls = art.network.populations[art.readout.population].size
    if args.ways > n_cls:
        raise UsageError(f"--ways {args.ways}: this artifact's readout has {n_cls} neurons")
    sampler = events.EpisodeSampler(ds, n_way=args.ways, k_shot=args.shots,
                                    n_query=args.queries, splits={"test": list(ds.classes)},
                                    seed=args.seed)
    pace = None if args.headless else args.speed
    examples = "one example" if args.shots == 1 else f"{args.shots} examples"
    report = {"artifact": str(args.artifact), "data": data_name, "ways": args.ways,
              "shots": args.shots, "queries_per_class": args.queries, "episodes": [],
              "engine": None}
    # rows: true class; columns: predicted class, the last one "none" (a silent readout)
    confusion = np.zeros((args.ways, args.ways + 1), np.int64)
    timeline, shot_frames = [], []
    with contextlib.ExitStack() as stack:
        learner, engine, dev = open_learner(args, art, stack)
        report["engine"] = engine
        view = View(not args.headless, args.ways, "", engine)
        stack.callback(view.close)
        bytes0 = _link_bytes(learner, dev)

        def _episode(e):
            ep = sampler.episode("test", e)
            names = [str(c) for c in ep.classes]
            view.learned, view.classes_text = [], ", ".join(names)
            learner.reset()
            shots = []
            for rec, lab in zip(ep.support, ep.support_labels, strict=True):
                lab = int(lab)
                view.learned = names[:lab + 1] if len(view.learned) <= lab else view.learned
                o = stream_sample(learner, rec, lab, view, pace=pace,
                                  label=f"episode {e + 1}/{n_episodes}: learning class "
                                  f"{names[lab]} from {examples}")
                _account(view, o, learner, dev, bytes0)
                shots.append({"class": names[lab], "device_s": o.seconds, "events": o.events})
                timeline.append({"episode": e, "kind": "shot", "label": lab,
                                 "weight_norm": float(np.abs(learner.readout_weights()).sum())})
                if e == 0:
                    shot_frames.append((names[lab], _frame(rec.events, rec.width, rec.height)))
            answers = []
            for k, (rec, lab) in enumerate(zip(ep.query, ep.query_labels, strict=True)):
                lab = int(lab)
                o = stream_sample(learner, rec, None, view, pace=pace,
                                  label=f"episode {e + 1}/{n_episodes}: query {k + 1}/"
                                  f"{len(ep.query)}")
                _account(view, o, learner, dev, bytes0)
                ok = o.prediction == lab
                view.correct += ok
                view.total += 1
                confusion[lab, o.prediction] += 1  # -1 (silent): the "none" column
                view.rows.append((str(view.total), names[lab], _name(names, o.prediction),
                                  f"{o.confidence:.0%}", "[green]right" if ok else "[red]wrong",
                                  f"{view.correct / view.total:.0%}"))
                view.refresh()
                answers.append({"label": lab, "prediction": o.prediction,
                                "counts": o.counts.tolist(), "confidence": o.confidence,
                                "device_s": o.seconds, "events": o.events})
                timeline.append({"episode": e, "kind": "query", "label": lab, "correct": ok})
            acc = float(np.mean([a["label"] == a["prediction"] for a in answers]))
            report["episodes"].append({"classes": names, "shots": shots, "queries": answers,
                                       "accuracy": acc})
            if args.headless:
                print(f"episode {e + 1}/{n_episodes}: accuracy {acc:.0%} "
                      f"(running {view.correct}/{view.total})", flush=True)
        stopped = None
        for e in range(n_episodes):
            # an episode counts whole or not at all: a recording that cannot be read or ^C
            # stops the demo, and the report keeps the episodes completed before it
            kept = (view.correct, view.total, confusion.copy(), len(timeline))
            try:
                _episode(e)
            except (events.EventFormatError, KeyboardInterrupt) as err:
                view.correct, view.total, confusion[:], _ = kept
                del timeline[kept[3]:]
                stopped = err
                break
        link = dict(view.link)
    done = len(report["episodes"])
    if done == 0 and stopped is not None:
        if isinstance(stopped, KeyboardInterrupt):
            raise stopped
        raise UsageError(f"--recordings: {stopped}")
    lo, hi = oneshot.wilson_interval(view.correct, view.total)
    samples = [s for ep in report["episodes"] for s in ep["shots"] + ep["queries"]]
    report.update({
        "accuracy": view.correct / view.total, "ci95": [lo, hi], "correct": view.correct,
        "total": view.total, "confusion": confusion.tolist(),
        "device_s_per_sample": float(np.mean([s["device_s"] for s in samples])),
        "events_per_s": link["events"] / link["seconds"] if link["seconds"] else None,
        "bytes_over_link": link["bytes"], "timeline": timeline,
        "stopped": None if stopped is None else
        ("interrupted" if isinstance(stopped, KeyboardInterrupt) else str(stopped)),
    })
    write_report(args.report, report, shot_frames)
    view.console.print(f"{args.ways}-way {args.shots}-shot accuracy over {done} "
                       f"episode{'s' * (done != 1)} "
                       f"({view.total} queries): {report['accuracy']:.1%} "
                       f"(95 % CI {lo:.1%} - {hi:.1%}); report: {args.report}")
    if isinstance(stopped, KeyboardInterrupt):
        print(f"interrupted in episode {done + 1} of {n_episodes}; the report keeps the "
              f"{done} completed before it", file=sys.stderr)
        return 130
    if stopped is not None:
        raise UsageError(f"--recordings: {stopped}; stopped in episode {done + 1} of "
                         f"{n_episodes}, the report keeps the {done} completed before it")
    return 0


def _name(names, pred: int, unknown: str = "none") -> str:
    """The class a prediction names; ``unknown`` for -1 (a silent readout) or a neuron no
    class has been taught to yet."""
    return names[pred] if 0 <= pred < len(names) else unknown


def _link_bytes(learner, dev) -> int:
    if dev is None:
        return 0
    return int(dev.stats.get("bytes_out", 0) + dev.stats.get("bytes_in", 0))


def _account(view: View, o, learner, dev, bytes0: int) -> None:
    view.link["events"] += o.events
    view.link["seconds"] += o.seconds
    view.link["bytes"] = _link_bytes(learner, dev) - bytes0


def write_report(path: Path, report: dict, shot_frames) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.with_suffix("")
    figs = {}
    if shot_frames:
        n = len(shot_frames)
        fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.4), squeeze=False)
        for ax, (name, f) in zip(axes[0], shot_frames, strict=True):
            lim = max(1, np.abs(f).max())
            ax.imshow(f, cmap="RdYlGn", vmin=-lim, vmax=lim)
            ax.set_title(f"shot: {name}", fontsize=8)
            ax.axis("off")
        fig.tight_layout()
        figs["shots"] = f"{stem.name}_shots.png"
        fig.savefig(path.parent / figs["shots"], dpi=100)
        plt.close(fig)
    cm = np.asarray(report["confusion"])
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(cm.shape[1]), [str(j) for j in range(cm.shape[0])] + ["none"],
                  fontsize=7)
    ax.set(xlabel="predicted (episode class)", ylabel="true", title=f"confusion, acc "
           f"{report['accuracy']:.0%}")
    fig.tight_layout()
    figs["confusion"] = f"{stem.name}_confusion.png"
    fig.savefig(path.parent / figs["confusion"], dpi=100)
    plt.close(fig)
    tl = report["timeline"]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    xs = np.arange(len(tl))
    norms = [t.get("weight_norm", np.nan) for t in tl]
    ax.plot(xs, norms, "o-", ms=3, label="readout |w| after each shot")
    ax2 = ax.twinx()
    q = [(i, t["correct"]) for i, t in enumerate(tl) if t["kind"] == "query"]
    if q:
        qi, qc = zip(*q, strict=True)
        ax2.scatter(qi, qc, c=["g" if c else "r" for c in qc], s=12, label="query right/wrong")
    ax.set(xlabel="sample", ylabel="sum |w|", title="learning timeline")
    ax2.set_yticks([0, 1], ["wrong", "right"])
    fig.tight_layout()
    figs["timeline"] = f"{stem.name}_timeline.png"
    fig.savefig(path.parent / figs["timeline"], dpi=100)
    plt.close(fig)
    report["figures"] = figs
    path.write_text(json.dumps(report, indent=1))


# --------------------------------------------------------------------------- interactive


def run_interactive(args) -> int:
    """Recordings (or a camera) stream continuously; keys teach the device new classes."""
    import contextlib
    import queue
    import sys
    import threading

    from . import events
    from .cli import UsageError

    args.artifact = artifact_path(args)
    art = load_artifact(args.artifact)
    n_cls = art.network.populations[art.readout.population].size
    if args.camera:
        try:
            cam = events.LiveCamera()
        except events.LiveCameraUnavailable as e:
            raise UsageError(f"--camera: {e}") from None
        sensor = (cam.width, cam.height)
        source = _camera_samples(cam, art)
    else:
        ds, sensor, _ = dataset(args)
        source = _dataset_samples(ds, args.seed)
    art = fit_input_map(art, *sensor)
    keys: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_keys, args=(keys,), daemon=True).start()
    with contextlib.ExitStack() as stack:
        learner, engine, dev = open_learner(args, art, stack)
        view = View(not args.headless, n_cls, "press n: new class, 0-9: add, q: quit", engine)
        stack.callback(view.close)
        learner.reset()
        learned = 0
        for rec, truth in source:
            o = stream_sample(learner, rec, None, view, pace=args.speed,
                              label=f"watching (true: {truth}); classes learned: {learned}")
            view.rows.append((str(len(view.rows) + 1), str(truth),
                              _name(view.learned, o.prediction, "?"), f"{o.confidence:.0%}",
                              "", ""))
            key = None
            while not keys.empty():
                key = keys.get()
            if key == "q":
                break
            target = learned if key == "n" and learned < n_cls else (
                int(key) if key and key.isdigit() and int(key) < learned else None)
            if target is not None:
                if target == learned:
                    learned += 1
                    view.learned.append(str(truth))
                stream_sample(learner, rec, target, view, pace=None,
                              label=f"learning class {target} from this example")
            view.refresh()
    print("bye", file=sys.stderr)
    return 0


def _dataset_samples(ds, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    pairs = list(ds.items())
    while True:
        c, i = pairs[int(rng.integers(len(pairs)))]
        yield ds.get(c, i), c


def _camera_samples(cam, art):
    """Cut the camera's event stream into sample windows of ``readout.steps`` timesteps."""
    import numpy as np

    from .events import Recording

    window = art.readout.steps * art.input_map.dt_us
    pending: list[np.ndarray] = []
    for chunk in cam:
        if len(chunk):
            pending.append(chunk)
        ev = np.concatenate(pending) if pending else chunk
        if len(ev) and int(ev["t"][-1]) - int(ev["t"][0]) >= window:
            cut = int(np.searchsorted(ev["t"], int(ev["t"][0]) + window))
            yield Recording(ev[:cut], cam.width, cam.height, "camera"), "camera"
            pending = [ev[cut:]]


def _read_keys(q) -> None:
    import sys
    import termios
    import tty

    if not sys.stdin.isatty():
        return
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        while True:
            q.put(sys.stdin.read(1))
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
