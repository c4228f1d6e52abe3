"""Event-camera data: file formats, streaming, transforms, a DVS simulator, datasets, episodes.

numpy only (no JAX, no compiled runtime). The one event representation is a structured array
of dtype :data:`EVENT_DTYPE` (fields ``t`` int64 us, ``x``, ``y``, ``p``) held with its sensor
size in a :class:`Recording`. See ``docs/events.md``.
"""

from ._io import (
    FORMATS,
    LABEL_DTYPE,
    EventFile,
    detect_format,
    iter_chunks,
    open_events,
    read,
    read_gesture_labels,
    split_by_labels,
    write,
)
from ._types import EVENT_DTYPE, EventFormatError, Recording, empty_events, make_events

__all__ = [
    "EVENT_DTYPE",
    "FORMATS",
    "LABEL_DTYPE",
    "EventFile",
    "EventFormatError",
    "Recording",
    "detect_format",
    "empty_events",
    "iter_chunks",
    "make_events",
    "open_events",
    "read",
    "read_gesture_labels",
    "split_by_labels",
    "write",
]
