"""A DVS simulator: intensity frames (or a scene function) in, events out.

Model (per pixel, in the spirit of v2e / ESIM):

* The pixel tracks log intensity ``L = ln(I + eps)``, linearly interpolated between frames.
* It holds a reference level ``R``. Each time ``L - R`` reaches ``+C_on`` an ON event fires and
  ``R += C_on``; each time ``R - L`` reaches ``C_off`` an OFF event fires and ``R -= C_off``.
  Event times are the crossing times of the interpolated ``L``.
* Thresholds have per-pixel mismatch: ``C = C_nominal * (1 + sigma * N(0, 1))``, floored at
  ``0.2 * C_nominal``, drawn once per simulator from its seed.
* Refractory period: a crossing less than ``refractory_us`` after the pixel's previous event
  is not emitted (the reference still moves, so that change is lost, as on a real sensor).
* Leak events: ``R`` drifts down by ``C_on * leak_hz`` per second (rate with per-pixel
  mismatch), so a static pixel emits ON events at about ``leak_hz``.
* Shot noise: independent Poisson events at ``shot_noise_hz`` per pixel, random polarity.

Pixels may carry a leading batch axis (``B`` independent sensors simulated together): that is
how the dataset generators make many samples per numpy call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ._types import EVENT_DTYPE, Recording


@dataclasses.dataclass(frozen=True)
class DVSParams:
    """Sensor parameters (all per pixel).

    Attributes:
        threshold_on, threshold_off: nominal contrast thresholds (log-intensity units).
        threshold_sigma: relative per-pixel mismatch of the thresholds (std).
        refractory_us: dead time after an event, microseconds.
        leak_hz: leak-event rate of a static pixel (ON events), Hz; 0 disables.
        leak_sigma: relative per-pixel mismatch of the leak rate (std).
        shot_noise_hz: rate of random noise events per pixel, Hz; 0 disables.
        eps: offset in ``ln(I + eps)``; intensities are in [0, 1].
        max_events_per_step: cap on events one pixel can emit between two frames.
        reference_jitter: the first frame sets each pixel's reference at a uniformly random
            point of this fraction of its non-firing band ``(L - C_on, L + C_off)``; 0 starts
            every reference exactly at ``L``.
    """

    threshold_on: float = 0.25
    threshold_off: float = 0.25
    threshold_sigma: float = 0.03
    refractory_us: float = 100.0
    leak_hz: float = 0.1
    leak_sigma: float = 0.1
    shot_noise_hz: float = 0.1
    eps: float = 1e-2
    max_events_per_step: int = 64
    reference_jitter: float = 1.0

    def __post_init__(self):
        for name in ("threshold_on", "threshold_off"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DVSParams.{name} must be > 0, got {getattr(self, name)}")
        for name in ("threshold_sigma", "refractory_us", "leak_hz", "leak_sigma", "shot_noise_hz"):
            if getattr(self, name) < 0:
                raise ValueError(f"DVSParams.{name} must be >= 0, got {getattr(self, name)}")
        if not self.eps > 0:
            raise ValueError(f"DVSParams.eps must be > 0, got {self.eps}")
        if not 0 <= self.reference_jitter <= 1:
            raise ValueError("DVSParams.reference_jitter must be in [0, 1]")
        if self.max_events_per_step < 1:
            raise ValueError("DVSParams.max_events_per_step must be >= 1")


class DVSSimulator:
    """Stateful simulator for ``shape = (..., height, width)`` pixels.

    ``feed(frame, t_us)`` advances to time ``t_us`` (int, increasing) with the new intensity
    frame and returns the events since the previous frame as flat arrays ``(t, pixel, p)``
    sorted by time, ``pixel`` indexing ``np.prod(shape)`` in C order. The first frame only
    sets the reference. :func:`simulate` wraps this for whole videos.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        params: DVSParams | None = None,
        *,
        seed: int | np.random.SeedSequence = 0,
        sample_seeds=None,
    ):
        self.shape = tuple(int(s) for s in shape)
        self.params = params or DVSParams()
        self.rng = np.random.default_rng(seed)
        pr = self.params
        # mismatch belongs to the sensor (the trailing height x width), shared by a batch
        sensor = self.shape[-2:] if len(self.shape) >= 2 else self.shape
        reps = int(np.prod(self.shape)) // int(np.prod(sensor))
        floor = 0.2

        def draw(scale, sigma):
            v = scale * np.maximum(floor, 1 + sigma * self.rng.standard_normal(sensor))
            return np.tile(v.reshape(-1), reps)

        self.c_on = draw(pr.threshold_on, pr.threshold_sigma)
        self.c_off = draw(pr.threshold_off, pr.threshold_sigma)
        self.leak = (
            np.maximum(0.0, draw(pr.leak_hz, pr.leak_sigma))
            if pr.leak_hz > 0
            else np.zeros(int(np.prod(self.shape)))
        )
        # the initial reference (hence the leak's phase) differs per recording
        self.sample_rngs = None
        if sample_seeds is not None:
            if len(sample_seeds) != self.shape[0]:
                raise ValueError("sample_seeds needs one seed per batch item")
            self.sample_rngs = [np.random.default_rng(s) for s in sample_seeds]
            n = int(np.prod(self.shape[1:]))
            self.leak_phase = np.concatenate([r.random(n) for r in self.sample_rngs])
        else:
            self.leak_phase = self.rng.random(int(np.prod(self.shape)))
        self.leak_step = self.c_on * self.leak  # reference drift per second
        self.ref: np.ndarray | None = None
        self.prev_l: np.ndarray | None = None
        self.t_prev: int | None = None
        self.last_t = np.full(int(np.prod(self.shape)), -np.inf)

    def feed(self, frame: np.ndarray, t_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pr = self.params
        frame = np.asarray(frame)
        if frame.shape != self.shape:
            raise ValueError(f"frame shape {frame.shape} != simulator shape {self.shape}")
        L = np.log(np.maximum(frame.reshape(-1), 0.0) + pr.eps).astype(np.float64)
        if self.ref is None:
            # the reference starts anywhere in (a fraction of) the non-firing band
            # -C_off < L - R < C_on, so recordings do not all start in step
            u = (self.leak_phase - 0.5) * pr.reference_jitter + 0.5
            self.ref = (
                L + (1 - u) * self.c_off * pr.reference_jitter - u * self.c_on * pr.reference_jitter
            )
            self.prev_l, self.t_prev = L, int(t_us)
            return _empty3()
        t_us = int(t_us)
        dt = t_us - self.t_prev
        if dt <= 0:
            raise ValueError(f"frame times must increase: {t_us} after {self.t_prev}")
        if pr.leak_hz > 0:
            self.ref -= self.leak_step * (dt * 1e-6)
        ts, pix, pol = [], [], []
        d_all = L - self.ref
        for sign, c in ((1, self.c_on), (-1, self.c_off)):
            # only pixels past a threshold do any more work
            cand = np.flatnonzero(d_all >= c) if sign > 0 else np.flatnonzero(d_all <= -c)
            if cand.size == 0:
                continue
            cc = c[cand]
            diff = sign * d_all[cand]
            n_all = np.floor(diff / cc)
            n = np.minimum(n_all, pr.max_events_per_step).astype(np.int64)
            r0 = self.ref[cand]
            # the reference moves by every crossing, emitted or not (cap: it catches up)
            self.ref[cand] = r0 + sign * n_all * cc
            # crossing k (1..n) is where L, interpolated linearly over the step, reaches
            # r0 + sign*k*cc: at fraction (k*cc - lp) / span of the step
            lp = sign * (self.prev_l[cand] - r0)
            span = sign * (L[cand] - self.prev_l[cand])
            span = np.where(span > 1e-12, span, 1e-12)
            t1 = self.t_prev + np.clip((cc - lp) / span, 0, 1) * dt
            s = np.clip(cc / span, 0, 1) * dt  # spacing between successive crossings
            R = pr.refractory_us
            if R > 0:
                last = self.last_t[cand]
                k0 = np.where(t1 >= last + R, 1, 1 + np.ceil((last + R - t1) / np.maximum(s, 1e-9)))
                m = np.maximum(1, np.ceil(R / np.maximum(s, 1e-9)))
                k0 = np.minimum(k0, n + 1).astype(np.int64)
                m = m.astype(np.int64)
                nk = np.where(k0 <= n, (n - k0) // m + 1, 0)
            else:
                k0 = np.ones_like(n)
                m = np.ones_like(n)
                nk = n
            if nk.sum() == 0:
                continue
            rep = np.repeat(np.arange(cand.size), nk)
            j = np.arange(rep.size) - np.repeat(np.cumsum(nk) - nk, nk)
            k = k0[rep] + j * m[rep]
            t = np.minimum(t1[rep] + (k - 1) * s[rep], t_us)
            ts.append(t)
            pix.append(cand[rep])
            pol.append(np.full(rep.size, 1 if sign > 0 else 0, dtype=np.uint8))
            has = nk > 0
            last_k = k0 + (nk - 1) * m
            self.last_t[cand[has]] = np.minimum(t1[has] + (last_k[has] - 1) * s[has], t_us)
        if pr.shot_noise_hz > 0 and self.sample_rngs is None:
            lam = pr.shot_noise_hz * dt * 1e-6 * L.size
            k = self.rng.poisson(lam)
            if k:
                ts.append(self.t_prev + self.rng.random(k) * dt)
                pix.append(self.rng.integers(0, L.size, k))
                pol.append(self.rng.integers(0, 2, k).astype(np.uint8))
        self.prev_l, self.t_prev = L, t_us
        if not ts:
            return _empty3()
        t = np.concatenate(ts)
        order = np.argsort(t, kind="stable")
        return (
            np.floor(t[order]).astype(np.int64),
            np.concatenate(pix)[order],
            np.concatenate(pol)[order],
        )


def _empty3():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint8)


def simulate_batch(
    frames: np.ndarray,
    times_us: np.ndarray,
    params: DVSParams | None = None,
    *,
    seed=0,
    sample_seeds=None,
) -> list[np.ndarray]:
    """Simulate ``B`` sensors at once.

    Args:
        frames: ``(T, B, height, width)`` intensities in [0, 1], or a function ``k -> (B,
            height, width)`` giving frame ``k`` (so the whole video never sits in memory).
        times_us: ``(T,)`` increasing frame times (us); events fall in ``[times[0], times[-1]]``.
        params: sensor parameters.
        seed: seed of the sensor's threshold and leak mismatch (one sensor for the batch).
        sample_seeds: ``B`` seeds (ints or SeedSequences) for each recording's own randomness
            (leak phase, shot noise), so a sample does not depend on the rest of its batch.

    Returns:
        ``B`` event arrays (dtype :data:`EVENT_DTYPE`), time-sorted.
    """
    times = np.asarray(times_us, dtype=np.int64)
    if callable(frames):
        get = frames
        T = times.shape[0]
        B, H, W = np.shape(get(0))
    else:
        frames = np.asarray(frames)
        if frames.ndim != 4:
            raise ValueError(f"frames must be (T, B, height, width), got shape {frames.shape}")
        T, B, H, W = frames.shape
        get = frames.__getitem__
    if times.shape != (T,):
        raise ValueError(f"times_us must have shape ({T},), got {times.shape}")
    if sample_seeds is None:
        sample_seeds = [np.random.SeedSequence([0x5EED, i]) for i in range(B)]
    sim = DVSSimulator((B, H, W), params, seed=seed, sample_seeds=sample_seeds)
    parts = [sim.feed(get(i), int(times[i])) for i in range(T)]
    pr = sim.params
    if pr.shot_noise_hz > 0 and T > 1:  # per-sample Poisson noise over the whole clip
        span = int(times[-1] - times[0])
        for b, r in enumerate(sim.sample_rngs):
            k = r.poisson(pr.shot_noise_hz * span * 1e-6 * H * W)
            tn = np.sort(times[0] + np.floor(r.random(k) * span).astype(np.int64))
            parts.append(
                (tn, b * H * W + r.integers(0, H * W, k), r.integers(0, 2, k).astype(np.uint8))
            )
    t = np.concatenate([p[0] for p in parts])
    pix = np.concatenate([p[1] for p in parts])
    pol = np.concatenate([p[2] for p in parts])
    b = pix // (H * W)
    order = np.lexsort((t, b))  # by sample, then time (stable)
    t, pix, pol, b = t[order], pix[order], pol[order], b[order]
    bounds = np.searchsorted(b, np.arange(B + 1))
    out = []
    for i in range(B):
        s = slice(bounds[i], bounds[i + 1])
        ev = np.empty(bounds[i + 1] - bounds[i], dtype=EVENT_DTYPE)
        local = pix[s] % (H * W)
        ev["t"], ev["x"], ev["y"], ev["p"] = t[s], local % W, local // W, pol[s]
        out.append(ev)
    return out


def simulate(
    frames: np.ndarray | Callable[[float], np.ndarray],
    times_us=None,
    params: DVSParams | None = None,
    *,
    duration_us: int | None = None,
    dt_us: int = 1000,
    seed=0,
) -> Recording:
    """Events of one sensor watching a video.

    ``frames`` is either a ``(T, height, width)`` array of intensities in [0, 1] with
    ``times_us`` ``(T,)``, or a scene function ``f(t_us) -> (height, width)`` sampled every
    ``dt_us`` from 0 to ``duration_us``. Returns a time-sorted :class:`Recording`.
    """
    if callable(frames):
        if duration_us is None:
            raise ValueError("a scene function needs duration_us")
        times_us = np.arange(0, duration_us + 1, dt_us, dtype=np.int64)
        frames = np.stack([np.asarray(frames(float(t)), dtype=np.float64) for t in times_us])
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"frames must be (T, height, width), got shape {frames.shape}")
    if times_us is None:
        raise ValueError("frames need times_us")
    ev = simulate_batch(frames[:, None], times_us, params, seed=seed)[0]
    return Recording(ev, int(frames.shape[2]), int(frames.shape[1]), "dvs-sim")
