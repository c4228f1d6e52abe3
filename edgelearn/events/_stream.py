"""Event sources with one interface: a paced replay of a recording, and a live camera.

A source has ``width``, ``height`` and iterates event arrays (dtype :data:`EVENT_DTYPE`) in
time order; ``close()`` (or leaving a ``with`` block) releases it. A consumer written against
this interface runs unchanged on a recording replayed in real time and on a camera.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Iterator

import numpy as np

from ._io import EventFile
from ._types import EVENT_DTYPE, Recording, concat_events


class SystemClock:
    """Wall clock: ``now()`` in seconds (monotonic) and ``sleep(seconds)``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when slept on: paced replays run instantly in tests while
    their schedule stays checkable (``sleeps`` records every wait)."""

    def __init__(self, start: float = 0.0):
        self.t = float(start)
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.t += seconds


class EventSource:
    """Base class of event sources (iterate event arrays; ``width``, ``height``)."""

    width: int
    height: int

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PacedSource(EventSource):
    """Replay events at their recorded rate times ``speed``.

    Args:
        source: a :class:`Recording`, a path (read in chunks, bounded memory), or an iterable of
            time-sorted event arrays (then give ``width`` and ``height``).
        speed: replay speed factor (2.0 = twice real time); must be > 0.
        slice_us: events are released in slices of this much recording time; each slice is
            yielded once the clock reaches its end time.
        clock: an object with ``now()`` (seconds) and ``sleep(seconds)``; default wall clock.

    Slice ``k`` covers recording times ``[t0 + k*slice_us, t0 + (k+1)*slice_us)`` and is
    yielded no earlier than ``start + (k+1)*slice_us / speed / 1e6`` on the clock (never
    early; late if the consumer is slow, without dropping events). Empty slices are skipped.
    """

    def __init__(
        self,
        source,
        *,
        speed: float = 1.0,
        slice_us: int = 10_000,
        clock=None,
        width: int | None = None,
        height: int | None = None,
        chunk_bytes: int = 1 << 20,
    ):
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if slice_us <= 0:
            raise ValueError(f"slice_us must be > 0, got {slice_us}")
        self.speed = float(speed)
        self.slice_us = int(slice_us)
        self.clock = clock or SystemClock()
        if isinstance(source, Recording):
            self._chunks: Iterable[np.ndarray] = [source.events]
            self.width, self.height = source.width, source.height
        elif isinstance(source, str | bytes) or hasattr(source, "__fspath__"):
            f = EventFile(source, chunk_bytes=chunk_bytes)
            if f.width is None:  # size only known from the events: read once to find it
                rec = f.read()
                self._chunks = [rec.events]
                self.width, self.height = rec.width, rec.height
            else:
                self._chunks = f
                self.width, self.height = f.width, f.height
        else:
            if width is None or height is None:
                raise ValueError("an iterable source needs width and height")
            self._chunks = source
            self.width, self.height = int(width), int(height)

    def __iter__(self) -> Iterator[np.ndarray]:
        start = self.clock.now()
        t0 = None
        pending = np.empty(0, dtype=EVENT_DTYPE)
        for chunk in self._chunks:
            if not len(chunk):
                continue
            if t0 is None:
                t0 = int(chunk["t"][0])
            pending = concat_events((pending, chunk)) if len(pending) else chunk
            # release every slice that is complete (the chunk reaches past its end)
            last_t = int(pending["t"][-1])
            done_k = (last_t - t0) // self.slice_us  # slices before this one are complete
            yield from self._release(pending, t0, done_k, start)
            cut = np.searchsorted(pending["t"], t0 + done_k * self.slice_us)
            pending = pending[cut:]
        if t0 is not None and len(pending):
            last_k = (int(pending["t"][-1]) - t0) // self.slice_us + 1
            yield from self._release(pending, t0, last_k, start)

    def _release(self, ev, t0, upto_k, start):
        if not len(ev) or upto_k <= 0:
            return
        k = (ev["t"] - t0) // self.slice_us
        bounds = np.searchsorted(k, np.arange(k[0], upto_k + 1))
        for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            if a == b:
                continue
            slice_k = int(k[0]) + j
            due = start + (slice_k + 1) * self.slice_us / self.speed / 1e6
            wait = due - self.clock.now()
            if wait > 0:
                self.clock.sleep(wait)
            yield ev[a:b]


class LiveCameraUnavailable(RuntimeError):
    """No supported camera driver package is installed (or no camera was found)."""


#: Driver packages tried by :class:`LiveCamera`, in order (module name, pip name).
DRIVERS = (("neuromorphic_drivers", "neuromorphic-drivers"), ("dv_processing", "dv-processing"))


def _to_events(arr) -> np.ndarray:
    """Convert a driver's structured array (fields t|timestamp, x, y, on|p|polarity)."""
    names = arr.dtype.names or ()
    tf = "t" if "t" in names else "timestamp"
    pf = next(f for f in ("p", "on", "polarity") if f in names)
    ev = np.empty(len(arr), dtype=EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = arr[tf], arr["x"], arr["y"], arr[pf] != 0
    return ev


class LiveCamera(EventSource):
    """A connected event camera, through a maintained driver package if one is installed.

    Tries ``neuromorphic_drivers`` (Prophesee EVK4, iniVation DVXplorer / DAVIS346), then
    iniVation's ``dv_processing``. Neither is a dependency of edgelearn; without them the
    constructor raises :class:`LiveCameraUnavailable` saying what to install.
    """

    def __init__(self, *, driver: str | None = None):
        names = [d for d in DRIVERS if driver is None or d[0] == driver]
        if not names:
            raise ValueError(f"driver must be one of {[d[0] for d in DRIVERS]}, got {driver!r}")
        errors = []
        for mod_name, pip_name in names:
            try:
                mod = importlib.import_module(mod_name)
            except ImportError:
                errors.append(f"{mod_name} not installed (pip install {pip_name})")
                continue
            try:
                self._open(mod_name, mod)
                return
            except Exception as e:  # the driver's own errors: no device, permissions, ...
                errors.append(f"{mod_name}: {e}")
        raise LiveCameraUnavailable("no event camera available: " + "; ".join(errors))

    _ND_SIZES = {
        "evk4": (1280, 720),
        "evk3": (1280, 720),
        "dvxplorer": (640, 480),
        "davis346": (346, 260),
        "triton": (1280, 720),
    }

    def _open(self, name, mod):
        self.driver = name
        if name == "neuromorphic_drivers":
            # `with nd.open() as device: for status, packet in device: packet["dvs_events"]`
            dev = mod.open()
            self._dev = dev.__enter__()
            size = None
            props = getattr(self._dev, "properties", None)
            if callable(props):
                pr = props()
                size = (int(getattr(pr, "width", 0)), int(getattr(pr, "height", 0)))
            if not size or 0 in size:
                label = str(getattr(self._dev, "name", type(self._dev).__name__)).lower()
                size = next((v for k, v in self._ND_SIZES.items() if k in label), None)
            if size is None:
                raise LiveCameraUnavailable(f"unknown sensor size for device {label!r}")
            self.width, self.height = size
        else:
            cam = mod.io.camera.open() if hasattr(mod.io, "camera") else mod.io.CameraCapture()
            res = cam.getEventResolution()
            if res is None:
                raise LiveCameraUnavailable("the camera has no event output")
            self._dev = cam
            self.width, self.height = int(res[0]), int(res[1])

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.driver == "neuromorphic_drivers":
            for _status, packet in self._dev:
                for key in ("dvs_events", "polarity_events"):
                    arr = packet[key] if key in packet else None
                    if arr is not None and len(arr):
                        yield _to_events(arr)
        else:
            while self._dev.isRunning():
                batch = self._dev.getNextEventBatch()
                if batch is not None and batch.size():
                    yield _to_events(batch.numpy())

    def close(self) -> None:
        dev = getattr(self, "_dev", None)
        if dev is not None and self.driver == "neuromorphic_drivers":
            dev.__exit__(None, None, None)
        self._dev = None
