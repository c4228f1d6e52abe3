"""``edgelearn demo [NAME]``: the live demos.

``oneshot`` (one-shot learning on a device), ``incontext`` (attention computed by plasticity),
``fsm`` (a vector-symbolic state machine) and ``core`` (the twin and the C runtime side by side,
learning an association with the error-triggered rule). Each demo lives in its own module
(:data:`DEMOS`), whose top level imports nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from pathlib import Path

#: demo name -> (module, one-line help)
DEMOS: dict[str, tuple[str, str]] = {
    "oneshot": ("edgelearn._demo_oneshot", "a device learns new classes from one example each, "
                "live on event recordings"),
    "incontext": ("edgelearn._demo_incontext", "in-context few-shot learning: attention "
                  "computed by plasticity"),
    "fsm": ("edgelearn._demo_fsm", "a vector-symbolic state machine driven by event streams"),
    "core": ("edgelearn._demo_core", "twin and C runtime side by side: bit-exact dynamics and "
             "on-chip learning of an association"),
}


def _available() -> list[str]:
    return [n for n, (m, _) in DEMOS.items() if importlib.util.find_spec(m) is not None]


def default_demo() -> str:
    names = _available()
    return "oneshot" if "oneshot" in names else "core"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="demo", metavar="DEMO")
    for name in _available():
        module, help_ = DEMOS[name]
        sp = sub.add_parser(name, help=help_, description=help_)
        mod = importlib.import_module(module)  # demo modules import heavy things lazily
        mod.add_arguments(sp)
        sp.set_defaults(_demo_run=mod.run)
    p.epilog = f"With no DEMO, runs '{default_demo()}'."


def check_report(path: Path | None) -> None:
    """Fail before a demo runs, not after, when its ``--report`` cannot be written: the nearest
    existing folder above it must take a new file (a temporary one, removed at once), or the
    file itself, if there, must open for appending. Nothing is left behind."""
    import tempfile

    from .cli import UsageError

    if path is None:
        return
    above = next(p for p in path.parents if p.exists())  # "/" or "." at the latest
    if not above.is_dir():
        raise UsageError(f"--report {path}: {above} is not a folder")
    if path.is_dir():
        raise UsageError(f"--report {path}: is a folder")
    try:
        if path.exists():
            path.open("a").close()
        else:
            tempfile.TemporaryFile(dir=above).close()
    except OSError as e:
        raise UsageError(f"--report {path}: cannot write in {above} ({e.strerror or e})") \
            from None


def run(args: argparse.Namespace) -> int:
    if getattr(args, "_demo_run", None) is None:
        # no demo named: run the default with its own defaults
        name = default_demo()
        mod = importlib.import_module(DEMOS[name][0])
        p = argparse.ArgumentParser(prog=f"edgelearn demo {name}")
        mod.add_arguments(p)
        args = p.parse_args([])
        check_report(args.report)
        return int(mod.run(args) or 0)
    check_report(getattr(args, "report", None))
    return int(args._demo_run(args) or 0)
