"""``edgelearn emulator``: build and serve the firmware on a pty or a loopback TCP port, print
the URL to connect to, and serve until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve a pseudo-terminal")
    where.add_argument("--tcp", metavar="127.0.0.1:PORT", default=None,
                       help="serve a loopback TCP port (the default, on a free port)")
    parser.add_argument("--target", choices=("host", "qemu"), default="host",
                        help="host emulator, or the Cortex-M4 firmware under qemu-system-arm")
    parser.add_argument("--flash", metavar="FILE", default=None,
                        help="host target: keep the emulated flash in FILE (saved models survive "
                             "restarts); default: a temporary file")


def run(args: argparse.Namespace) -> int:
    from edgelearn.cli import UsageError

    from .launcher import Emulator, FirmwareError

    port = 0
    if args.tcp is not None:
        host, _, p = args.tcp.rpartition(":")
        if host != "127.0.0.1" or not p.isdigit() or not 0 <= int(p) <= 65535:
            raise UsageError(f"--tcp must be 127.0.0.1:PORT (loopback only), got {args.tcp!r}")
        port = int(p)
    if args.flash is not None and args.target != "host":
        raise UsageError("--flash applies to --target host (QEMU's flash is a RAM region)")
    emu = Emulator(args.target, "pty" if args.pty else "tcp", port=port, flash=args.flash)
    stop: list[int] = []
    try:
        url = emu.start()
        # from here on Ctrl-C and SIGTERM only ask the loop below to stop
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        print(url, flush=True)
        print(f"serving the {args.target} firmware; connect with: edgelearn device info --port "
              f"{url} (Ctrl-C stops)", file=sys.stderr, flush=True)
        while not stop and emu.proc is not None and emu.proc.poll() is None:
            time.sleep(0.1)
        if not stop:
            # the firmware went away on its own (a crash, a kill): say so, exit 1
            rc = emu.proc.returncode if emu.proc is not None else None
            how = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exit status {rc}"
            print(f"edgelearn emulator: the {args.target} firmware stopped ({how})",
                  file=sys.stderr)
            return 1
    except FirmwareError as e:
        print(f"edgelearn emulator: {e}", file=sys.stderr)
        return 1
    finally:
        emu.stop()
    return 0
