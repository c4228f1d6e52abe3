"""The ``edgelearn`` command line.

Each subcommand lives in its own module, imported only when that subcommand runs (so
``edgelearn --help`` and ``edgelearn events info`` never import JAX). A subcommand module
provides ``add_arguments(parser)`` and ``run(args) -> int``.

Exit status: 0 on success, 2 on bad input (one line on stderr naming the problem), 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from ._version import __version__

#: name -> (module, one-line help). Modules are imported lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("edgelearn._cli_sim", "run a layer case (.npz) on the twin or the C runtime"),
    "rule": ("edgelearn._cli_rule", "check a plasticity rule and show its microcode"),
    "events": ("edgelearn.events.cli", "read, show, convert and generate event recordings"),
    "inspect": ("edgelearn._cli_inspect", "show a model artifact (.elm)"),
    "metatrain": ("metatrain.cli", "meta-train a plasticity rule from a TOML config"),
    "evaluate": ("metatrain.evaluate", "few-shot accuracy of an artifact on episodes"),
    "emulator": ("firmware_sim.cli", "serve the firmware emulator on a pty or TCP port"),
    "deploy": ("edgelearn._cli_device", "send an artifact to a device"),
    "device": ("edgelearn._cli_device", "talk to a device (info, ping)"),
    "fsm": ("edgelearn._cli_fsm", "compile and run vector-symbolic state machines"),
    "demo": ("edgelearn._cli_demo", "live demos: oneshot, incontext, fsm, core"),
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgelearn",
        description="On-chip learning for neuromorphic edge hardware: meta-train on a bit-exact "
        "twin, deploy to a portable C runtime.",
    )
    parser.add_argument("--version", action="version", version=f"edgelearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        if not _available(name):
            continue
        p = sub.add_parser(name, help=help_, description=help_)
        if name == selected:
            mod = importlib.import_module(module)
            adder = getattr(mod, f"add_{name}_arguments", None) or mod.add_arguments
            adder(p)
            runner = getattr(mod, f"run_{name}", None) or mod.run
            p.set_defaults(_run=runner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(selected if selected in COMMANDS else None)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0 if not argv else 2
    try:
        return int(args._run(args) or 0)
    except UsageError as e:
        print(f"edgelearn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`edgelearn inspect X | head`): stop quietly; point
        # stdout at /dev/null so the interpreter's final flush does not fail again
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        # a path the user gave that cannot be read or written (an output folder that does not
        # exist, a directory given for a file): one line naming the path, not a traceback
        if e.filename is None:
            raise
        print(f"edgelearn {args.command}: error: {e.strerror or e}: {e.filename}",
              file=sys.stderr)
        return 2
    except Exception as e:
        # a link that cannot be opened or that stops answering (--port, edgelearn device):
        # one line naming the port, not a traceback; the device module is loaded only by the
        # commands that talk to one
        dev = sys.modules.get(f"{__package__}.device")
        if dev is not None and isinstance(e, (dev.LinkError, dev.DeviceTimeout)):
            print(f"edgelearn {args.command}: error: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
