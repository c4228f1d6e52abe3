"""``edgelearn deploy ARTIFACT --port URL`` and
``edgelearn device {info,ping,save,restore,reset} --port URL``:
send an artifact to a device and look at it, over :class:`edgelearn.device.Device`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _seconds(text: str) -> float:
    """``--timeout``: a positive number of seconds (argparse turns the error into exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def _port(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, metavar="URL",
                        help="pty path, /dev/ttyUSB0 or socket://127.0.0.1:PORT")
    parser.add_argument("--timeout", type=_seconds, default=1.0,
                        help="seconds to wait for each answer before resending (default 1)")


def _open(args: argparse.Namespace):
    from .device import Device

    return Device(args.port, timeout=args.timeout, open_timeout=max(1.0, 2 * args.timeout))


def add_deploy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", type=Path, help="model artifact (.elm)")
    _port(parser)
    parser.add_argument("--save", action="store_true", help="also SAVE it to the device's flash")
    parser.add_argument("--learn", action="store_true", help="switch on-device learning on")


def run_deploy(args: argparse.Namespace) -> int:
    from .artifact import ArtifactError, load
    from .cli import UsageError
    from .protocol import ProtocolError

    try:
        load(args.artifact)
    except (OSError, ArtifactError) as e:
        raise UsageError(str(e)) from None
    data = args.artifact.read_bytes()

    def progress(sent: int, total: int) -> None:
        print(f"\r{sent}/{total} bytes", end="", file=sys.stderr, flush=True)

    try:
        with _open(args) as dev:
            limit = dev.info().max_artifact_bytes
            if len(data) > limit:
                # the device would refuse LOAD_BEGIN with E_TOO_BIG; say it in plain words
                print(f"edgelearn deploy: {args.artifact} is {len(data):,} bytes; this device "
                      f"accepts artifacts of at most {limit:,} bytes (device info; "
                      f"docs/firmware.md)", file=sys.stderr)
                return 1
            r = dev.load(data, progress=progress)
            print(file=sys.stderr)
            print(f"loaded {args.artifact} ({r.total_size} bytes, crc {r.crc:#010x})")
            if args.learn:
                dev.learn(True)
                print("learning on")
            if args.save:
                gen, slot = dev.save()
                print(f"saved: generation {gen}, slot {slot}")
    except ProtocolError as e:
        print(f"edgelearn deploy: {e}", file=sys.stderr)
        return 1
    return 0


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("info", "ping", "save", "restore", "reset"),
                        help="info: versions, limits, state; ping: round trip; save / restore: "
                             "the model in flash; reset: clear the state (keep the model)")
    _port(parser)


def run_device(args: argparse.Namespace) -> int:
    from .protocol import ProtocolError

    try:
        with _open(args) as dev:
            if args.action == "ping":
                rtt = min(dev.ping(b"x" * 64) for _ in range(10))
                print(f"round trip {rtt * 1e3:.3f} ms")
                return 0
            if args.action in ("save", "restore"):
                gen, slot = dev.save() if args.action == "save" else dev.restore()
                print(f"{args.action}d: generation {gen}, slot {slot}")
                return 0
            if args.action == "reset":
                dev.reset()
                print("state cleared")
                return 0
            info = dev.info()
    except ProtocolError as e:
        print(f"edgelearn device: {e}", file=sys.stderr)
        return 1
    caps = [n for n, bit in (("load", 1), ("learn", 2), ("flash", 4), ("read_weights", 8),
                             ("rule", 16), ("label", 32), ("reward", 64)) if info.caps & bit]
    print(f"firmware {info.fw_major}.{info.fw_minor}.{info.fw_patch}, protocol "
          f"{info.proto_version}")
    print(f"capabilities: {', '.join(caps)}")
    print(f"limits: payload {info.max_payload} B, event queue {info.event_queue}, artifact "
          f"{info.max_artifact_bytes} B, runtime memory {info.ram_bytes} B, run "
          f"{info.max_run_steps} steps, flash slots {info.flash_slots}")
    print(f"state: model {'loaded' if info.model_loaded else 'none'}, learning "
          f"{'on' if info.learning else 'off'}, step {info.step}")
    return 0
