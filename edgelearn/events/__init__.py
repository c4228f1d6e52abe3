"""Event-camera data: file formats, streaming, transforms, a DVS simulator, datasets, episodes.

numpy only (no JAX, no compiled runtime). The one event representation is a structured array
of dtype :data:`EVENT_DTYPE` (fields ``t`` int64 us, ``x``, ``y`` uint16, ``p`` uint8) held with
its sensor size in a :class:`Recording`. See ``docs/events.md``.

- Files: :func:`read`, :func:`write`, :func:`open_events` / :func:`iter_chunks` (chunked),
  :func:`detect_format`; every malformed file raises :class:`EventFormatError`.
- Sources: :class:`PacedSource` (real-time replay, injectable clock), :class:`LiveCamera`.
- Transforms: :func:`crop`, :func:`downsample`, :func:`split_polarity`, :func:`denoise`,
  :class:`AddressMap` + :func:`bin_events` / :func:`bin_batch` (to core input rasters).
- Simulation: :class:`DVSParams`, :class:`DVSSimulator`, :func:`simulate`,
  :func:`simulate_batch`; generators :func:`glyph_batch`, :func:`gesture_batch`.
- Datasets: :func:`glyphs`, :func:`gestures`, :class:`FolderDataset`, :class:`FileListDataset`,
  :class:`NMNISTFolder`, :class:`DVSGestureFolder`, :func:`open_dataset`; episodes
  :class:`EpisodeSampler`.
"""

from ._datasets import (
    ClassDataset,
    DVSGestureFolder,
    Episode,
    EpisodeSampler,
    FileListDataset,
    FolderDataset,
    GeneratedDataset,
    NMNISTFolder,
    gestures,
    glyphs,
    open_dataset,
    write_generated,
)
from ._dvs import DVSParams, DVSSimulator, simulate, simulate_batch
from ._generate import (
    GESTURE_FAMILIES,
    GestureConfig,
    GlyphConfig,
    gesture_batch,
    gesture_sample,
    gesture_trajectory,
    glyph_batch,
    glyph_sample,
    glyph_strokes,
    saccade_batch,
    saccade_path,
)
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
)
from ._stream import (
    EventSource,
    LiveCamera,
    LiveCameraUnavailable,
    ManualClock,
    PacedSource,
    SystemClock,
)
from ._transforms import (
    AddressMap,
    bin_batch,
    bin_events,
    bin_stream,
    crop,
    denoise,
    downsample,
    rebase,
    split_polarity,
    time_window,
    to_frames,
)
from ._types import EVENT_DTYPE, EventFormatError, Recording, empty_events, make_events
from ._writers import write

__all__ = [
    "EVENT_DTYPE",
    "FORMATS",
    "GESTURE_FAMILIES",
    "LABEL_DTYPE",
    "AddressMap",
    "ClassDataset",
    "DVSGestureFolder",
    "DVSParams",
    "DVSSimulator",
    "Episode",
    "EpisodeSampler",
    "EventFile",
    "EventFormatError",
    "EventSource",
    "FileListDataset",
    "FolderDataset",
    "GeneratedDataset",
    "GestureConfig",
    "GlyphConfig",
    "LiveCamera",
    "LiveCameraUnavailable",
    "ManualClock",
    "NMNISTFolder",
    "PacedSource",
    "Recording",
    "SystemClock",
    "bin_batch",
    "bin_events",
    "bin_stream",
    "crop",
    "denoise",
    "detect_format",
    "downsample",
    "empty_events",
    "gesture_batch",
    "gesture_sample",
    "gesture_trajectory",
    "gestures",
    "glyph_batch",
    "glyph_sample",
    "glyph_strokes",
    "glyphs",
    "iter_chunks",
    "make_events",
    "open_dataset",
    "open_events",
    "read",
    "read_gesture_labels",
    "rebase",
    "saccade_batch",
    "saccade_path",
    "simulate",
    "simulate_batch",
    "split_by_labels",
    "split_polarity",
    "time_window",
    "to_frames",
    "write",
    "write_generated",
]
