"""Build and start the firmware: the host emulator (a pty or a 127.0.0.1 TCP port) or the
Cortex-M image under ``qemu-system-arm -M mps2-an386`` (UART0 on a TCP port or a pty).

::

    with launcher.start(target="host", transport="tcp") as emu:
        with Device(emu.url) as dev:
            ...

Builds go to a cache directory (``$EDGELEARN_FW_CACHE``, else ``<venv>/.cache/edgelearn-fw``
when the interpreter runs in a writable virtual environment, else
``~/.cache/edgelearn/fw``), one folder per hash of the sources, never into the package. The
sources are this package's C files plus the runtime's ``csrc/`` of the edgelearn checkout.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QEMU = "qemu-system-arm"
ARM_CC = "arm-none-eabi-gcc"

__all__ = ["Emulator", "FirmwareError", "build", "csrc_dir", "qemu_available", "start"]


class FirmwareError(RuntimeError):
    """The firmware could not be built or started (the message says why)."""


def csrc_dir() -> Path:
    """The C runtime's sources: ``$EDGELEARN_CSRC``, else ``csrc/`` next to this package (a
    checkout), else the copy installed with it (``firmware_sim/csrc``, a link in the checkout)."""
    env = os.environ.get("EDGELEARN_CSRC")
    for cand in ([Path(env)] if env else []) + [HERE.parent / "csrc", HERE / "csrc"]:
        if (cand / "el_core.c").is_file():
            return cand
    raise FirmwareError("the firmware needs the C runtime's sources (csrc/ of an edgelearn "
                        "checkout); set EDGELEARN_CSRC to their folder")


def qemu_available() -> str | None:
    """None if QEMU and the Arm compiler are installed, else what is missing."""
    missing = [t for t in (QEMU, ARM_CC) if shutil.which(t) is None]
    return None if not missing else " and ".join(missing) + " not found"


def _cache_root() -> Path:
    env = os.environ.get("EDGELEARN_FW_CACHE")
    if env:
        return Path(env)
    if sys.prefix != sys.base_prefix and os.access(sys.prefix, os.W_OK):
        return Path(sys.prefix) / ".cache" / "edgelearn-fw"
    return Path.home() / ".cache" / "edgelearn" / "fw"


def _sources() -> list[Path]:
    files = [p for p in sorted(HERE.iterdir()) if p.suffix in (".c", ".h", ".ld")
             or p.name == "Makefile"]
    tests = HERE / "tests"
    if tests.is_dir():
        files += sorted(tests.glob("*.c"))
    return files + sorted(p for p in csrc_dir().iterdir() if p.suffix in (".c", ".h")) + sorted(
        p for name in ("artifact_vectors.h", "test_util.h")  # what firmware tests include
        for p in (csrc_dir() / "tests").glob(name))


def build(target: str = "host", *, fuzz: bool = False, tool: str | None = None) -> Path:
    """Build the firmware for ``target`` (``host`` or ``qemu``) if needed; return the binary.

    ``tool`` builds one of the sanitized host test programs instead: ``"fuzz_app"`` (the
    dispatcher fuzzer; also ``fuzz=True``) or ``"test_flash"`` (power cuts during SAVE)."""
    if fuzz:
        tool = "fuzz_app"
    if tool is not None and tool not in ("fuzz_app", "test_flash"):
        raise ValueError(f"unknown tool {tool!r}")
    h = hashlib.sha256()
    for p in _sources():
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    out = _cache_root() / h.hexdigest()[:16]
    name = tool or ("edgelearn_fw.elf" if target == "qemu" else "edgelearn_fw")
    binary = out / name
    if binary.is_file():
        return binary
    if target == "qemu" and shutil.which(ARM_CC) is None:
        raise FirmwareError(f"{ARM_CC} not found: install gcc-arm-none-eabi to build the "
                            "Cortex-M firmware")
    out.mkdir(parents=True, exist_ok=True)
    _prune(out.parent, keep=out)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers build once
        if binary.is_file():
            return binary
        rule = f"{out}/{name}"
        cmd = ["make", "--no-print-directory", f"-j{min(os.cpu_count() or 1, 4)}", "-C", str(HERE),
               f"BUILD={out}",
               f"CSRC={csrc_dir()}", rule]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not binary.is_file():
            raise FirmwareError(f"building the {target} firmware failed:\n{r.stdout}{r.stderr}")
    return binary


def _prune(root: Path, *, keep: Path, n: int = 6) -> None:
    """Remove all but the ``n`` most recently used build folders (sources change often)."""
    dirs = sorted((d for d in root.iterdir() if d.is_dir() and d != keep),
                  key=lambda d: d.stat().st_mtime, reverse=True)
    for d in dirs[n - 1:]:
        with contextlib.suppress(OSError):
            with open(d / ".lock", "w") as lock:  # not while another process builds there
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(d)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """A running firmware process. ``url`` is what :class:`edgelearn.device.Device` opens."""

    def __init__(self, target: str = "host", transport: str = "tcp", *, port: int = 0,
                 flash: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                 ready_timeout: float = 20.0) -> None:
        if target not in ("host", "qemu"):
            raise ValueError(f"target must be 'host' or 'qemu', got {target!r}")
        if transport not in ("tcp", "pty"):
            raise ValueError(f"transport must be 'tcp' or 'pty', got {transport!r}")
        self.target, self.transport, self.port = target, transport, int(port)
        self.flash = None if flash is None else Path(flash)
        self.env = env
        self.ready_timeout = ready_timeout
        self.url: str | None = None
        self.proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def start(self) -> str:
        """Build if needed, start, wait until the firmware answers; return the URL."""
        binary = build(self.target)
        env = dict(os.environ, **(self.env or {}))
        if self.target == "host":
            if self.flash is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="edgelearn-fw-")
                self.flash = Path(self._tmp.name) / "flash.bin"
            where = (["--pty"] if self.transport == "pty"
                     else ["--tcp", f"127.0.0.1:{self.port}"])
            cmd = [str(binary), *where, "--flash", str(self.flash)]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=env, text=True)
            line = self._read_line(self.proc.stdout, lambda s: s.startswith("READY "))
            self.url = line.split(None, 1)[1].strip()
        else:
            if shutil.which(QEMU) is None:
                raise FirmwareError(f"{QEMU} not found: install qemu-system-arm")
            if self.transport == "tcp":
                port = self.port or _free_port()
                serial_arg = f"tcp:127.0.0.1:{port},server=on,wait=off,nodelay=on"
            else:
                serial_arg = "pty"
            cmd = [QEMU, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-kernel",
                   str(binary), "-serial", serial_arg]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         env=env, text=True)
            if self.transport == "tcp":
                self.url = f"socket://127.0.0.1:{port}"
            else:
                line = self._read_line(self.proc.stdout, lambda s: "/dev/pts/" in s)
                self.url = re.search(r"(/dev/pts/\d+)", line).group(1)  # type: ignore[union-attr]
        self._wait_answering()
        return self.url

    def _read_line(self, stream, accept) -> str:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                rest = stream.read() if stream else ""
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise FirmwareError(f"the {self.target} firmware exited with "
                                    f"{self.proc.returncode}: {rest}{err}")
            ready, _, _ = select.select([stream], [], [], 0.1)
            if ready:
                line = stream.readline()
                if accept(line):
                    return line
        self.stop()
        raise FirmwareError(f"the {self.target} firmware did not start in {self.ready_timeout} s")

    def _wait_answering(self) -> None:
        from edgelearn.device import Device, LinkError

        deadline = time.monotonic() + self.ready_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise FirmwareError(f"the {self.target} firmware exited with "
                                    f"{self.proc.returncode}")
            try:
                with Device(self.url, timeout=0.5, retries=2, open_timeout=0.5) as dev:  # type: ignore[arg-type]
                    dev.ping()
                return
            except (LinkError, OSError, Exception) as e:  # noqa: BLE001 - any failure: retry
                last = e
                time.sleep(0.05)
        self.stop()
        raise FirmwareError(f"the {self.target} firmware does not answer at {self.url}: {last}")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop the process (SIGTERM, then SIGKILL) and remove temporary files."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            rc = self.proc.returncode
            for s in (self.proc.stdout, self.proc.stderr):
                if s is not None:
                    with contextlib.suppress(Exception):
                        s.close()
            self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return rc

    def __enter__(self) -> Emulator:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(target: str = "host", transport: str = "tcp", **kw) -> Emulator:
    """Start an :class:`Emulator` (see its arguments) and return it, running."""
    emu = Emulator(target, transport, **kw)
    emu.start()
    return emu
