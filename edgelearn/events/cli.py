"""``edgelearn events``: inspect, render, convert and generate event recordings.

edgelearn events info FILE               JSON: format, events, width, height, t_first, ...
edgelearn events show FILE -o out.png    ON/OFF frames as a PNG
edgelearn events convert IN OUT         any readable format -> any writable one
edgelearn events generate glyphs|gestures OUT [--classes N] [--samples K] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from ..cli import UsageError

#: formats ``generate --to`` writes (``write_generated``: one file per sample, by extension)
GENERATE_FORMATS = ("npz", "evt2", "evt3", "dat", "nmnist", "aedat3", "aedat4")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="events_command", metavar="ACTION", required=True)

    p = sub.add_parser("info", help="print a recording's summary as JSON")
    p.add_argument("file", type=pathlib.Path)
    p.add_argument("--format", help="force the input format (default: detect)")

    p = sub.add_parser("show", help="render a recording's events as frames (PNG)")
    p.add_argument("file", type=pathlib.Path)
    p.add_argument("-o", "--output", type=pathlib.Path, required=True, help="PNG to write")
    p.add_argument("--frames", type=int, default=6, help="number of frames (default 6)")
    p.add_argument("--format", help="force the input format (default: detect)")

    p = sub.add_parser("convert", help="convert between formats (by extension or --to)")
    p.add_argument("input", type=pathlib.Path)
    p.add_argument("output", type=pathlib.Path)
    p.add_argument("--from", dest="from_format", help="force the input format")
    p.add_argument(
        "--to",
        dest="to_format",
        help="output format: npz, npy, evt2, evt3, dat, nmnist, aedat2, aedat3, aedat4",
    )
    p.add_argument(
        "--rebase",
        action="store_true",
        help="shift time so the first event is at 0 (for formats with short clocks)",
    )

    p = sub.add_parser("generate", help="write a generated dataset folder (class/index files)")
    p.add_argument("kind", choices=["glyphs", "gestures"])
    p.add_argument("output", type=pathlib.Path)
    p.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    p.add_argument("--samples", type=int, default=10, help="samples per class (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--to",
        dest="to_format",
        default="npz",
        choices=GENERATE_FORMATS,
        help="file format of the samples: %(choices)s (default npz)",
    )


def _read(path, fmt):
    from . import read

    return _guard(path, lambda: read(path, format=fmt))


def _guard(path, fn):
    """Run ``fn``, turning bad input into a one-line :class:`UsageError`."""
    from .._cli_common import reading
    from . import EventFormatError

    with reading(path, (EventFormatError, ValueError)):  # ValueError: a bad --format
        return fn()


def _info(args) -> int:
    from . import open_events

    # chunk by chunk: info on a recording of any size in bounded memory
    print(json.dumps(_guard(args.file, lambda: open_events(args.file, format=args.format).stats())))
    return 0


def _show(args) -> int:
    if args.frames < 1 or args.frames > 64:
        raise UsageError(f"--frames must be in 1..64, got {args.frames}")
    rec = _read(args.file, args.format)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from . import to_frames

    frames = to_frames(rec, n_frames=args.frames)
    n = frames.shape[0]
    cols = min(n, 6)
    rows = -(-n // cols)
    scale = 2.4 * max(0.6, min(1.6, rec.width / rec.height))
    fig, axes = plt.subplots(rows, cols, figsize=(scale * cols, 2.4 * rows), squeeze=False)
    span = (rec.duration_us or 1) / n
    lim = max(1, int(np.percentile(np.abs(frames[frames != 0]), 99))) if frames.any() else 1
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(frames[k], cmap="bwr", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"{k * span / 1e3:.1f}-{(k + 1) * span / 1e3:.1f} ms", fontsize=8)
    fig.suptitle(
        f"{args.file.name}: {len(rec)} events, {rec.width}x{rec.height} (red ON, blue OFF)",
        fontsize=9,
    )
    fig.tight_layout()
    out = args.output if args.output.suffix else args.output.with_suffix(".png")
    try:
        fig.savefig(out, dpi=100)
    except OSError as e:
        raise UsageError(f"{out}: {e.strerror or e}") from None
    except ValueError as e:  # an image format matplotlib does not write ("s.jpgx")
        raise UsageError(f"{out}: {e}") from None
    finally:
        plt.close(fig)
    print(f"wrote {out}")
    return 0


def _convert(args) -> int:
    from . import rebase, write

    rec = _read(args.input, args.from_format)
    if args.rebase:
        rec = rebase(rec)
    try:
        write(args.output, rec, format=args.to_format)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"{args.output}: {e.strerror or e}") from None
    print(f"wrote {args.output} ({len(rec)} events)")
    return 0


def _generate(args) -> int:
    from . import write_generated

    if args.classes < 1 or args.samples < 1:
        raise UsageError("--classes and --samples must be >= 1")
    try:
        root = write_generated(
            args.output, args.kind, args.classes, args.samples, seed=args.seed, fmt=args.to_format
        )
    except (ValueError, FileExistsError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"{args.output}: {e.strerror or e}") from None
    print(
        f"wrote {args.classes} classes x {args.samples} {args.kind} samples to {root}",
        file=sys.stdout,
    )
    return 0


def run(args) -> int:
    return {"info": _info, "show": _show, "convert": _convert, "generate": _generate}[
        args.events_command
    ](args)
