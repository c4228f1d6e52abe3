"""Transforms on recordings, and binning events into the core's input spikes.

Every transform takes a :class:`Recording` and returns a new one (inputs are never modified).
Binning maps each event's address ``(x, y, p)`` to an input axon with an :class:`AddressMap`
and its time to a timestep of ``dt_us``, giving a ``(T, n_axons)`` boolean raster: entry
``[k, a]`` is True when axon ``a`` received at least one event in ``[t0 + k*dt, t0 + (k+1)*dt)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from ._types import Recording, concat_events, select_events


def _positive(**values) -> None:
    """Each value must be an integer > 0 (ValueError naming it otherwise)."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v <= 0:
            raise ValueError(f"{name} must be an integer > 0, got {v!r}")


def time_window(rec: Recording, t_start: int, t_end: int) -> Recording:
    """Events with ``t_start <= t < t_end`` (us); the recording must be time-sorted."""
    a, b = np.searchsorted(rec.events["t"], [t_start, t_end], side="left")
    return rec.replace(events=rec.events[a:b])


def rebase(rec: Recording) -> Recording:
    """Shift time so that the earliest event is at t = 0."""
    ev = select_events(rec.events, slice(None))
    if len(ev):
        ev["t"] -= ev["t"].min()
    return rec.replace(events=ev)


def crop(rec: Recording, x0: int, y0: int, width: int, height: int) -> Recording:
    """Keep events inside the box ``x0 <= x < x0+width``, ``y0 <= y < y0+height``; the result's
    coordinates are relative to the box and its sensor is ``width`` x ``height``."""
    if width <= 0 or height <= 0 or x0 < 0 or y0 < 0:
        raise ValueError(
            f"crop box must have x0, y0 >= 0 and a positive size, got "
            f"({x0}, {y0}, {width}, {height})"
        )
    ev = rec.events
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    m = (x >= x0) & (x < x0 + width) & (y >= y0) & (y < y0 + height)
    out = select_events(ev, m)
    out["x"] -= x0
    out["y"] -= y0
    return rec.replace(events=out, width=int(width), height=int(height))


def downsample(rec: Recording, factor: int | tuple[int, int]) -> Recording:
    """Spatial downsampling: pixel ``(x, y)`` becomes ``(x // fx, y // fy)``; the sensor becomes
    ``ceil(width / fx)`` x ``ceil(height / fy)``. Every event is kept."""
    fx, fy = (factor, factor) if np.isscalar(factor) else factor
    fx, fy = int(fx), int(fy)
    if fx < 1 or fy < 1:
        raise ValueError(f"downsample factor must be >= 1, got {factor!r}")
    out = select_events(rec.events, slice(None))
    out["x"] //= fx
    out["y"] //= fy
    return rec.replace(events=out, width=-(-rec.width // fx), height=-(-rec.height // fy))


def split_polarity(rec: Recording) -> tuple[Recording, Recording]:
    """``(on, off)``: the ON events and the OFF events as two recordings."""
    on = rec.events["p"] != 0
    return (
        rec.replace(events=select_events(rec.events, on)),
        rec.replace(events=select_events(rec.events, ~on)),
    )


def denoise(rec: Recording, dt_us: int = 5000, *, radius: int = 1) -> Recording:
    """Background-activity filter: keep an event only if another pixel within ``radius``
    (Chebyshev distance, the pixel itself excluded) had an event at most ``dt_us`` earlier.

    Isolated events (shot noise, leak) have no such support and are removed. Events are taken
    in file order; "earlier" means earlier in that order with ``t_e - t_s <= dt_us``.
    """
    if dt_us < 0 or radius < 1:
        raise ValueError(f"denoise needs dt_us >= 0 and radius >= 1, got {dt_us}, {radius}")
    ev = rec.events
    n = len(ev)
    if n == 0:
        return rec
    w, h = rec.width, rec.height
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    t = ev["t"]
    pix = y * w + x
    order = np.lexsort((np.arange(n), pix))  # by pixel, then by event index
    key = pix[order] * n + order
    t_sorted = t[order]
    idx = np.arange(n, dtype=np.int64)
    keep = np.zeros(n, dtype=bool)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx == 0 and dy == 0:
                continue
            qx, qy = x + dx, y + dy
            ok = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
            q = qy * w + qx
            pos = np.searchsorted(key, np.where(ok, q, 0) * n + idx) - 1
            posc = np.maximum(pos, 0)
            found = ok & (pos >= 0) & (key[posc] // n == q)
            keep |= found & (t - t_sorted[posc] <= dt_us)
    return rec.replace(events=select_events(ev, keep))


@dataclasses.dataclass(frozen=True, eq=False)
class AddressMap:
    """Address mapping ``(x, y, p) -> input axon`` for one sensor size.

    ``table`` has shape ``(2, height, width)`` (polarity OFF = 0, ON = 1) and holds the axon of
    each address, or -1 for addresses that are dropped. ``n_axons`` is the number of input
    axons (every table entry is < n_axons).
    """

    table: np.ndarray
    n_axons: int

    def __post_init__(self):
        tab = np.asarray(self.table)
        if tab.ndim != 3 or tab.shape[0] != 2:
            raise ValueError(
                f"AddressMap.table must have shape (2, height, width), got {tab.shape}"
            )
        if tab.size and (tab.min() < -1 or tab.max() >= self.n_axons):
            raise ValueError(f"AddressMap.table entries must be in -1..{self.n_axons - 1}")

    @property
    def width(self) -> int:
        return int(self.table.shape[2])

    @property
    def height(self) -> int:
        return int(self.table.shape[1])

    @classmethod
    def dense(cls, width: int, height: int, *, polarity: str = "split") -> AddressMap:
        _positive(width=width, height=height)
        """Row-major pixel order. ``polarity``: ``"split"`` (axon ``(p*H + y)*W + x``, 2*W*H
        axons), ``"merge"`` (``y*W + x``, both polarities to one axon), ``"on"`` or ``"off"``
        (only that polarity, ``y*W + x``)."""
        base = np.arange(width * height, dtype=np.int32).reshape(height, width)
        if polarity == "split":
            return cls(np.stack([base, base + width * height]), 2 * width * height)
        if polarity == "merge":
            return cls(np.stack([base, base]), width * height)
        if polarity in ("on", "off"):
            drop = np.full_like(base, -1)
            tab = np.stack([drop, base]) if polarity == "on" else np.stack([base, drop])
            return cls(tab, width * height)
        raise ValueError(f"polarity must be split, merge, on or off, got {polarity!r}")

    @classmethod
    def pooled(cls, width: int, height: int, factor: int, *, polarity: str = "split") -> AddressMap:
        """Like :meth:`dense` on a grid downsampled by ``factor`` (``factor`` x ``factor``
        pixel blocks share an axon): fewer axons for small cores."""
        _positive(width=width, height=height, factor=factor)
        gw, gh = -(-width // factor), -(-height // factor)
        coarse = cls.dense(gw, gh, polarity=polarity)
        ys = np.arange(height) // factor
        xs = np.arange(width) // factor
        return cls(coarse.table[:, ys][:, :, xs], coarse.n_axons)

    def axons(self, events: np.ndarray) -> np.ndarray:
        """Axon index of each event (-1 where dropped or outside the map)."""
        x = events["x"].astype(np.intp)
        y = events["y"].astype(np.intp)
        inside = (x < self.width) & (y < self.height)
        out = np.full(len(events), -1, dtype=np.int64)
        p = (events["p"] != 0).astype(np.intp)
        out[inside] = self.table[p[inside], y[inside], x[inside]]
        return out


def bin_events(
    rec: Recording | np.ndarray,
    address_map: AddressMap,
    *,
    dt_us: int,
    n_steps: int | None = None,
    t0: int | None = None,
    counts: bool = False,
) -> np.ndarray:
    """Bin events into per-timestep input spikes.

    Args:
        rec: a Recording (or a bare event array).
        address_map: the ``(x, y, p) -> axon`` mapping.
        dt_us: timestep length in microseconds.
        n_steps: number of timesteps T; by default enough to hold the last event.
        t0: time of the start of step 0 (default: the earliest event's time; the events need
            not be time-sorted).
        counts: return event counts (uint16, saturating) instead of booleans.

    Returns:
        ``(T, n_axons)`` bool array (or uint16 counts). Events before ``t0``, at or after
        ``t0 + T*dt_us``, or mapped to -1 are dropped.
    """
    ev = rec.events if isinstance(rec, Recording) else rec
    _positive(dt_us=dt_us)
    if t0 is None:
        t0 = int(ev["t"].min()) if len(ev) else 0
    if n_steps is None:
        n_steps = int((int(ev["t"].max()) - t0) // dt_us + 1) if len(ev) else 0
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    step = (ev["t"] - t0) // dt_us
    ax = address_map.axons(ev)
    m = (step >= 0) & (step < n_steps) & (ax >= 0)
    flat = step[m] * address_map.n_axons + ax[m]
    size = n_steps * address_map.n_axons
    if counts:
        c = np.bincount(flat, minlength=size)
        return np.minimum(c, 65535).astype(np.uint16).reshape(n_steps, address_map.n_axons)
    out = np.zeros(size, dtype=bool)
    out[flat] = True
    return out.reshape(n_steps, address_map.n_axons)


def bin_batch(
    recs, address_map: AddressMap, *, dt_us: int, n_steps: int, align: str = "first"
) -> np.ndarray:
    """Bin several recordings to one ``(B, T, n_axons)`` bool array.

    ``align="first"`` starts each sample's step 0 at its own first event; ``"zero"`` at t = 0.
    """
    if align not in ("first", "zero"):
        raise ValueError(f"align must be 'first' or 'zero', got {align!r}")
    out = np.zeros((len(recs), n_steps, address_map.n_axons), dtype=bool)
    for i, r in enumerate(recs):
        t0 = None if align == "first" else 0
        out[i] = bin_events(r, address_map, dt_us=dt_us, n_steps=n_steps, t0=t0)
    return out


def bin_stream(
    chunks, address_map: AddressMap, *, dt_us: int, t0: int | None = None
) -> Iterator[np.ndarray]:
    """Bin a live stream of time-sorted event arrays into input spikes as time advances.

    ``chunks`` is any iterable of event arrays (a :class:`PacedSource`, a
    :class:`LiveCamera`, :func:`iter_chunks`). Yields ``(k, n_axons)`` bool blocks of the
    timesteps completed so far (step ``j`` covers ``[t0 + j*dt, t0 + (j+1)*dt)``; ``t0``
    defaults to the first event's time); the last, partial step is yielded when the stream
    ends. Concatenating the blocks equals :func:`bin_events` on the whole recording.
    """
    if dt_us <= 0:
        raise ValueError(f"dt_us must be > 0, got {dt_us}")
    done = 0  # steps already yielded
    pending: list[np.ndarray] = []
    for ev in chunks:
        if not len(ev):
            continue
        if t0 is None:
            t0 = int(ev["t"][0])
        pending.append(ev)
        complete = (int(ev["t"][-1]) - t0) // dt_us  # steps before this one are complete
        if complete > done:
            cur = concat_events(pending)
            cut = np.searchsorted(cur["t"], t0 + complete * dt_us)
            yield bin_events(
                cur[:cut],
                address_map,
                dt_us=dt_us,
                n_steps=complete - done,
                t0=t0 + done * dt_us,
            )
            pending = [cur[cut:]]
            done = complete
    rest = concat_events(pending) if pending else None
    if rest is not None and len(rest):
        last = (int(rest["t"][-1]) - t0) // dt_us + 1
        yield bin_events(rest, address_map, dt_us=dt_us, n_steps=last - done, t0=t0 + done * dt_us)


def to_frames(
    rec: Recording, *, dt_us: int | None = None, n_frames: int | None = None
) -> np.ndarray:
    """Signed event counts per frame: ``(F, height, width)`` int32 (ON minus OFF).

    Give ``dt_us`` or ``n_frames`` (default: 1 frame with every event).
    """
    ev = rec.events
    if not len(ev):
        return np.zeros((n_frames or 1, rec.height, rec.width), dtype=np.int32)
    if dt_us is not None:
        _positive(dt_us=dt_us)
    if n_frames is not None:
        _positive(n_frames=n_frames)
    t0, t1 = int(ev["t"].min()), int(ev["t"].max())  # the events need not be time-sorted
    if dt_us is None:
        n_frames = n_frames or 1
        dt_us = max(1, -(-(t1 - t0 + 1) // n_frames))
    n_frames = n_frames or int((t1 - t0) // dt_us + 1)
    f = np.minimum((ev["t"] - t0) // dt_us, n_frames - 1)
    sign = np.where(ev["p"] != 0, 1, -1)
    flat = (f * rec.height + ev["y"].astype(np.int64)) * rec.width + ev["x"]
    out = np.bincount(flat, weights=sign, minlength=n_frames * rec.height * rec.width)
    return out.astype(np.int32).reshape(n_frames, rec.height, rec.width)
