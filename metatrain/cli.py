"""``edgelearn metatrain CONFIG.toml --out RUN_DIR`` (also ``python -m metatrain``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML config (see metatrain/configs/)")
    p.add_argument("--out", required=True,
                   help="run folder (created; must be missing or empty without --resume)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the run folder's checkpoints (a missing or empty folder: "
                        "start a fresh run, saying so)")
    p.add_argument("--devices", type=int, default=None,
                   help="use the first N devices (default: all; episodes are sharded over them)")
    p.add_argument("--no-eval", action="store_true", help="skip the final held-out report")
    p.add_argument("--artifact", default=None,
                   help="also copy the final artifact to this path (e.g. "
                        "edgelearn/data/oneshot_default.elm)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("several processes (jax.distributed; override the config's [dist])")
    g.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                   help="address of process 0's coordinator service (the same for every "
                        "process)")
    g.add_argument("--num-processes", type=int, default=None, metavar="N",
                   help="how many processes take part")
    g.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="this process's index, 0 .. N-1 (0 writes the run folder)")


def run(args: argparse.Namespace) -> int:
    from edgelearn.cli import UsageError

    from . import config, train

    path = Path(args.config)
    if path.is_dir():
        raise UsageError(f"config {args.config} is a directory, not a TOML file")
    if not path.is_file():
        raise UsageError(f"config {args.config} does not exist")
    try:
        cfg, text = config.load(path)
    except (ValueError, OSError) as e:
        raise UsageError(f"{args.config}: {e}") from None
    if args.devices is not None and args.devices < 1:
        raise UsageError("--devices must be >= 1")
    dist = (args.coordinator, args.num_processes, args.process_id)
    if any(v is not None for v in dist):
        if any(v is None for v in dist):
            raise UsageError("--coordinator, --num-processes and --process-id go together")
        if args.num_processes < 1 or not 0 <= args.process_id < args.num_processes:
            raise UsageError(f"--process-id {args.process_id} must be in 0 .. "
                             f"--num-processes - 1 = {args.num_processes - 1}")
        import dataclasses

        cfg = dataclasses.replace(cfg, dist=dataclasses.replace(
            cfg.dist, distributed=True, coordinator=args.coordinator,
            num_processes=args.num_processes, process_id=args.process_id))
    # the run folder, --devices and --artifact are checked by train.run before any work (where
    # the process that writes them is known: process 0 of a multi-process run)
    try:
        train.run(cfg, text, Path(args.out), resume=args.resume, quiet=args.quiet,
                  devices=args.devices, evaluate=not args.no_eval,
                  artifact=Path(args.artifact) if args.artifact else None)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return 0
