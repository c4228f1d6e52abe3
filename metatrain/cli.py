"""``edgelearn metatrain CONFIG.toml --out RUN_DIR`` (also ``python -m metatrain``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML config (see metatrain/configs/)")
    p.add_argument("--out", required=True, help="run folder (created)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the run folder's checkpoints")
    p.add_argument("--devices", type=int, default=None,
                   help="use the first N devices (default: all; episodes are sharded over them)")
    p.add_argument("--no-eval", action="store_true", help="skip the final held-out report")
    p.add_argument("--artifact", default=None,
                   help="also copy the final artifact to this path (e.g. "
                        "edgelearn/data/oneshot_default.elm)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from edgelearn.cli import UsageError

    from . import config, train

    path = Path(args.config)
    if not path.is_file():
        raise UsageError(f"config {args.config} does not exist")
    try:
        cfg, text = config.load(path)
    except (ValueError, OSError) as e:
        raise UsageError(f"{args.config}: {e}") from None
    if args.devices is not None and args.devices < 1:
        raise UsageError("--devices must be >= 1")
    try:
        train.run(cfg, text, Path(args.out), resume=args.resume, quiet=args.quiet,
                  devices=args.devices, evaluate=not args.no_eval)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.artifact:
        import shutil

        shutil.copyfile(Path(args.out) / "model.elm", args.artifact)
    return 0
