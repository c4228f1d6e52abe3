"""``edgelearn demo incontext``: in-context few-shot learning, attention computed by plasticity.

Streams a labelled context (one example per class, labels shuffled per episode) into the C
runtime (or the twin) token by token: the plasticity processor writes each example's code into
a key row (slot-addressed by the third factor) and its label into a value column. Then the
queries stream in with learning off; each query's attention scores (the slots' membrane
potentials) and the prediction are shown. The live view shows the key and value synapses as
they are written; ``--headless`` prints a line per token instead. ``--report OUT.json`` writes
a JSON report and a PNG beside it.

``--port URL`` runs the same episodes on a device over the serial protocol
(``attention.link_artifact`` LOADed fresh for every episode; ``--port emulator`` starts the host
emulator, or the QEMU build with ``--target qemu``). A device cannot read membrane potentials,
so there each query's "scores" are the slots' spike counts (the winning slot spikes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

_SHADES = " .:-=+*#%@"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", choices=("glyphs", "nmnist"), default="glyphs",
                   help="held-out generated glyph classes, or the N-MNIST recordings")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--way", type=int, default=5, help="classes per episode (1 shot each)")
    p.add_argument("--engine", choices=("c", "twin"), default="c")
    p.add_argument("--port", default=None, metavar="URL|emulator",
                   help="run on a device over the serial link (e.g. socket://127.0.0.1:PORT, "
                   "/dev/ttyACM0); 'emulator' starts the firmware emulator; default: --engine")
    p.add_argument("--target", choices=("host", "qemu"), default="host",
                   help="emulator to start with --port emulator (default host)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.25, help="seconds per token in the live view")
    p.add_argument("--headless", action="store_true", help="no live view: print lines")
    p.add_argument("--model", type=Path, default=None, help="model JSON (default: shipped)")
    p.add_argument("--nmnist", type=Path, default=None, help="N-MNIST folder (slayer layout)")
    p.add_argument("--report", type=Path, default=None,
                   help="write a JSON report here and a PNG beside it")


def _heat(mat, vmax: float) -> list[str]:
    import numpy as np

    m = np.clip(np.asarray(mat, float) / max(vmax, 1e-9), 0, 1)
    idx = np.minimum((m * (len(_SHADES) - 1)).round().astype(int), len(_SHADES) - 1)
    return ["".join(_SHADES[i] for i in row) for row in idx]


def _pool(args):
    from . import _attention_data as D
    from . import events
    from ._attention_eval import NMNIST_ROOT
    from .cli import UsageError

    if args.data == "nmnist":
        root = args.nmnist or NMNIST_ROOT
        if not root.is_dir():
            raise UsageError(f"--nmnist {root}: no such folder")
        try:
            if not events.NMNISTFolder(root).classes:
                raise UsageError(f"--nmnist {root}: no recordings in its label list")
            pool = D.nmnist_pool(root)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(f"--nmnist {root}: {e}") from None
        if pool.n_classes < args.way:
            raise UsageError(f"--way {args.way}: {root} has {pool.n_classes} classes")
        if pool.x.shape[1] < 2:
            raise UsageError(f"--nmnist {root}: a class has fewer than 2 recordings (one "
                             "context example and one query)")
        return pool
    return D.glyph_pool(D.HELDOUT_BASE + 1000 * args.seed, max(args.way, 12), 2)


def _check(args) -> None:
    from .cli import UsageError

    for name in ("episodes", "way"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if not args.delay >= 0:
        raise UsageError(f"--delay must be >= 0, got {args.delay}")


def _model(path: Path | None):
    """The attention model at ``--model`` (default: the shipped one)."""
    from . import attention as A
    from ._cli_common import reading
    from .cli import UsageError

    path = path or A.default_model_path()
    with reading(path, ()):  # missing, a folder, unreadable
        try:
            return A.AttentionModel.load(path)
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"--model {path}: not an attention model JSON "
                             f"({type(e).__name__}: {e})") from None


class _Engine:
    """One episode on the chosen engine, token by token (the C runtime's own calls, or the
    twin's), exposing the memories after each token and the slot potentials of each query."""

    def __init__(self, kind: str, net, lay, model, dev=None, elm: bytes | None = None):
        from . import attention as A

        self.kind, self.net, self.lay, self.m, self.A = kind, net, lay, model, A
        if kind == "device":
            self.dev = dev
            dev.load(elm)  # a fresh model: empty memories
        elif kind == "c":
            from . import runtime

            self.core = runtime.Core(net)
            self.core.set_learning(True)
        else:
            from . import twin

            self.twin = twin
            self.params = twin.params_from_network(net)
            self.st = twin.init_state(net, self.params)

    def write(self, raster, third):
        import numpy as np

        A = self.A
        if self.kind == "device":
            lay = self.lay
            slot = int(np.flatnonzero(third[0, lay.slot0:lay.slot0 + lay.n_slots])[0])
            label = int(np.flatnonzero(third[0, lay.out0:lay.out0 + lay.n_labels])[0])
            A.device_write(self.dev, raster, slot, label)
            return (self.dev.read_weights(A.C_KEY).astype(int),
                    self.dev.read_weights(A.C_VALUE).astype(int))
        if self.kind == "c":
            self.core.reset_neurons()
            self.core.run(raster, third=third)
            return self.core.weights(A.C_KEY), self.core.weights(A.C_VALUE)
        import jax.numpy as jnp

        tw = self.twin
        self.st = tw.reset_neurons(self.st)
        self.st = tw.simulate(self.net, self.params, self.st, jnp.asarray(raster),
                              third=jnp.asarray(third, jnp.float32)).final_state
        return (np.asarray(self.st.plastic[A.C_KEY].w).astype(int),
                np.asarray(self.st.plastic[A.C_VALUE].w).astype(int))

    def query(self, raster):
        """Out spike counts ``(L,)`` and slot potentials ``(S,)`` after the query's events."""
        import numpy as np

        lay, T = self.lay, self.m.n_steps
        sl = slice(lay.slot0, lay.slot0 + lay.n_slots)
        ol = slice(lay.out0, lay.out0 + lay.n_labels)
        if self.kind == "device":  # no potentials over the link: the slots' spike counts
            counts, slots = self.A.device_query(self.dev, raster)
            return counts.astype(int), slots.astype(int)
        if self.kind == "c":
            self.core.set_learning(False)
            self.core.reset_neurons()
            r = self.core.run(raster, probe=True)
            return r.s[:, ol].sum(0).astype(int), r.v[T + 1, sl].astype(int)
        import jax.numpy as jnp

        tw = self.twin
        st = tw.set_learning(tw.reset_neurons(self.st), False)
        r = tw.simulate(self.net, self.params, st, jnp.asarray(raster), probe=True)
        return (np.asarray(r.spikes)[:, ol].sum(0).astype(int),
                np.asarray(r.v)[T + 1, sl].astype(int))


def _open_device(args, stack):
    """A :class:`edgelearn.device.Device` at ``--port`` (``emulator``: one started here);
    both are closed by ``stack``."""
    from .device import Device

    url = args.port
    if url == "emulator":
        from firmware_sim import launcher

        if args.target == "qemu" and launcher.qemu_available() is not None:
            from .cli import UsageError

            raise UsageError(f"--target qemu: {launcher.qemu_available()} "
                             "(apt-get install qemu-system-arm gcc-arm-none-eabi)")
        url = stack.enter_context(launcher.start(args.target)).url
    return stack.enter_context(Device(url, timeout=5.0))


def _render(ep_i, n_ep, keys, values, log, acc):
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    k_txt = "\n".join(f"slot {i:>3} {row}" for i, row in enumerate(_heat(keys, 127)))
    v_txt = "\n".join(f"label {i:>2} {row}" for i, row in enumerate(_heat(values, 64)))
    kv = Table.grid(padding=(0, 1))
    kv.add_column(no_wrap=True)
    kv.add_column(no_wrap=True)
    kv.add_row(Panel(Text(k_txt, no_wrap=True), title="keys: proj -> slot (w <- x1)"),
               Panel(Text(v_txt, no_wrap=True), title="values: slot -> label"))
    return Group(Text(f"episode {ep_i + 1}/{n_ep}   accuracy so far {acc}", style="bold"), kv,
                 Panel(Text("\n".join(log[-10:])), title="tokens"))


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from . import _attention_data as D
    from . import attention as A

    _check(args)
    model = _model(args.model)
    pool = _pool(args)
    eps = D.sample_episodes(pool, args.episodes, n_way=args.way, seed=args.seed)
    net = A.build_network(model, args.way, args.way)
    lay = A.layout(model, args.way, args.way)
    stack = contextlib.ExitStack()
    kind, dev, elm = args.engine, None, None
    if args.port is not None:
        from . import artifact

        try:
            kind, dev = "device", _open_device(args, stack)
            elm = artifact.to_bytes(A.link_artifact(model, args.way, args.way))
        except BaseException:
            stack.close()
            raise
    live = None
    if not args.headless:
        from rich.live import Live

        live = Live(refresh_per_second=8)
        live.start()
    report = {"data": args.data, "engine": kind, "way": args.way, "shot": 1,
              "model": str(args.model or A.default_model_path()), "episodes": []}
    correct = total = 0
    t0 = time.perf_counter()
    try:
        for e in range(args.episodes):
            eng = _Engine(kind, net, lay, model, dev, elm)
            cr, ct = A.context_program(lay, eps.ctx[e], eps.ctx_labels[e], t_token=model.t_token)
            qr = A.query_raster(lay, eps.query[e], t_token=model.t_token,
                                ramp_steps=model.ramp_steps)
            log, rec = [], {"context_labels": eps.ctx_labels[e].tolist(), "keys": [],
                            "values": [], "queries": []}
            keys = np.zeros((lay.n_slots, lay.n_hidden), int)
            values = np.zeros((lay.n_labels, lay.n_slots), int)
            for k in range(cr.shape[0]):
                keys, values = eng.write(cr[k], ct[k])
                rec["keys"].append(keys.tolist())
                rec["values"].append(values.tolist())
                line = (f"context {k}: label {eps.ctx_labels[e][k]} -> slot {k}, "
                        f"{int((keys[k] != 0).sum())} key synapses written "
                        f"(sum {int(keys[k].sum())}), value[{eps.ctx_labels[e][k]}, {k}] = "
                        f"{int(values[eps.ctx_labels[e][k], k])}")
                log.append(line)
                if live is not None:
                    live.update(_render(e, args.episodes, keys, values, log, f"{correct}/{total}"))
                    time.sleep(args.delay)
                else:
                    print(line, flush=True)
            for q in range(qr.shape[0]):
                counts, scores = eng.query(qr[q])
                pred, truth = int(A.predict(counts)), int(eps.query_labels[e][q])
                correct += pred == truth
                total += 1
                bars = " ".join(f"s{i}:{int(s)}" for i, s in enumerate(scores))
                line = (f"query {q}: scores {bars}; label spikes {counts.tolist()} -> {pred} "
                        f"(truth {truth}) "
                        f"{'ok' if pred == truth else 'WRONG'}")
                log.append(line)
                rec["queries"].append({"scores": scores.tolist(), "counts": counts.tolist(),
                                       "pred": pred, "truth": truth})
                if live is not None:
                    live.update(_render(e, args.episodes, keys, values, log, f"{correct}/{total}"))
                    time.sleep(args.delay)
                else:
                    print(line, flush=True)
            report["episodes"].append(rec)
    finally:
        if live is not None:
            live.stop()
        stack.close()
    report["accuracy"] = correct / max(1, total)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    print(f"accuracy {correct}/{total} = {100 * report['accuracy']:.1f} % "
          f"({kind}, {args.data}, {args.way}-way 1-shot)")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1))
        _png(report, args.report.with_suffix(".png"))
        print(f"report: {args.report} and {args.report.with_suffix('.png')}")
    return 0


def _png(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ep = report["episodes"][0]
    keys, values = np.asarray(ep["keys"][-1]), np.asarray(ep["values"][-1])
    scores = np.asarray([q["scores"] for q in ep["queries"]])
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].imshow(keys, aspect="auto", cmap="viridis")
    ax[0].set(title="keys (proj -> slot) after the context", xlabel="proj neuron", ylabel="slot")
    ax[1].imshow(values, aspect="auto", cmap="viridis")
    ax[1].set(title="values (slot -> label)", xlabel="slot", ylabel="label")
    im = ax[2].imshow(scores, aspect="auto", cmap="magma")
    what = "slot spikes" if report["engine"] == "device" else "slot v"
    ax[2].set(title=f"attention scores per query ({what})", xlabel="slot", ylabel="query")
    fig.colorbar(im, ax=ax[2])
    fig.suptitle(f"in-context {report['way']}-way 1-shot on {report['data']} "
                 f"({report['engine']}): accuracy {100 * report['accuracy']:.0f} %")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
