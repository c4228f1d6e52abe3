"""The one event representation: a numpy structured array plus the sensor size.

Field names follow tonic: ``t`` (int64 microseconds), ``x``, ``y`` (uint16 pixel column and
row, 0 at the top-left) and ``p`` (uint8 polarity, 1 = ON = brighter, 0 = OFF).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

#: Structured dtype of every event array in this package (packed, 13 bytes per event).
EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])

#: Largest coordinate any supported format can carry (x, y are stored as uint16).
MAX_COORD = 65535


class EventFormatError(ValueError):
    """A file that is not a valid recording of the format it claims to be.

    Raised for wrong magic numbers, truncated files, corrupt packets, unknown word types and
    coordinates outside the declared sensor. The message names the file and the byte offset of
    the problem; both are also attributes (``path``, ``offset``; ``offset`` is ``None`` where no
    single offset applies).
    """

    def __init__(self, path: str | os.PathLike | None, offset: int | None, message: str):
        self.path = None if path is None else os.fspath(path)
        self.offset = offset
        self.reason = message
        where = self.path or "<buffer>"
        if offset is not None:
            where = f"{where} at byte {offset}"
        super().__init__(f"{where}: {message}")


def make_events(t, x, y, p) -> np.ndarray:
    """Build an event array from four equal-length sequences.

    ``t`` in microseconds (int64), ``x``/``y`` non-negative pixel indices (< 65536), ``p`` 0/1
    (any non-zero value is ON). Returns a fresh array of dtype :data:`EVENT_DTYPE`.
    """
    t = np.asarray(t)
    n = t.shape[0] if t.ndim else 0
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = t
    ev["x"] = x
    ev["y"] = y
    ev["p"] = np.asarray(p) != 0
    return ev


#: The same bytes as one opaque item: numpy copies, concatenates and indexes these ~50x faster
#: than the structured dtype (whose copies go field by field).
_VOID = np.dtype((np.void, EVENT_DTYPE.itemsize))


def concat_events(parts) -> np.ndarray:
    """Concatenate event arrays (fast path for :data:`EVENT_DTYPE`)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.empty(0, dtype=EVENT_DTYPE)
    return np.concatenate([p.view(_VOID) for p in parts]).view(EVENT_DTYPE)


def select_events(events: np.ndarray, index) -> np.ndarray:
    """``events[index]`` (a boolean mask, integer indices or a slice) as a fresh array, fast."""
    out = events.view(_VOID)[index]
    return (out.copy() if isinstance(index, slice) else out).view(EVENT_DTYPE)


def empty_events(n: int = 0) -> np.ndarray:
    """An uninitialised event array of length ``n``."""
    return np.empty(n, dtype=EVENT_DTYPE)


@dataclasses.dataclass(frozen=True, eq=False)
class Recording:
    """Events and the sensor they came from.

    Attributes:
        events: structured array of dtype :data:`EVENT_DTYPE`, shape ``(N,)``, in file order
            (time-sorted for every camera format read here).
        width, height: sensor size in pixels; every event has ``x < width`` and ``y < height``.
        format: name of the format the events were read from (``"evt3"``, ``"aedat4"``, ...,
            ``"memory"`` for recordings made in memory).
        meta: format-specific extras (header fields, labels); never needed to use the events.
    """

    events: np.ndarray
    width: int
    height: int
    format: str = "memory"
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self._check_fields()
        if len(self.events):
            for axis, size in (("x", self.width), ("y", self.height)):
                top = int(self.events[axis].max())
                if top >= size:
                    raise ValueError(f"Recording: an event has {axis} = {top}, outside the "
                                     f"{self.width} x {self.height} sensor")

    @classmethod
    def _from_reader(cls, events, width, height, format, meta) -> Recording:
        """A recording from a file reader, which has already held every event to the sensor
        size while decoding: the fields are checked, the pass over the events is skipped
        (for a large file it cost as much as decoding it)."""
        rec = object.__new__(cls)
        for name, value in zip(
            ("events", "width", "height", "format", "meta"),
            (events, width, height, format, meta),
            strict=True,
        ):
            object.__setattr__(rec, name, value)
        rec._check_fields()
        return rec

    def _check_fields(self) -> None:
        if not isinstance(self.events, np.ndarray) or self.events.dtype != EVENT_DTYPE:
            raise TypeError("Recording.events must be a numpy array of dtype EVENT_DTYPE")
        if self.events.ndim != 1:
            raise ValueError(f"Recording.events must be 1-D, got shape {self.events.shape}")
        for name in ("width", "height"):
            v = getattr(self, name)
            if not (isinstance(v, int | np.integer) and 0 < int(v) <= MAX_COORD + 1):
                raise ValueError(f"Recording.{name} must be an int in 1..65536, got {v!r}")

    @property
    def sensor_size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return (int(self.width), int(self.height))

    def __len__(self) -> int:
        return int(self.events.shape[0])

    @property
    def duration_us(self) -> int:
        """Latest minus earliest event time in microseconds (0 for fewer than two events)."""
        if len(self) < 2:
            return 0
        return int(self.events["t"].max() - self.events["t"].min())

    def stats(self) -> dict:
        """Summary used by ``edgelearn events info``: counts, size and time span."""
        ev = self.events
        on = int(np.count_nonzero(ev["p"]))
        return {
            "format": self.format,
            "events": len(self),
            "width": int(self.width),
            "height": int(self.height),
            "t_first": int(ev["t"][0]) if len(self) else None,
            "t_last": int(ev["t"][-1]) if len(self) else None,
            "on": on,
            "off": len(self) - on,
        }

    def replace(self, **changes) -> Recording:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)
