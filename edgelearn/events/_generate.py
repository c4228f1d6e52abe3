"""Generated event datasets: *glyphs* (N-MNIST-like) and *gestures* (DVS128-Gesture-like).

Both are deterministic functions of ``(seed, class_id, index)``: the class's shape or
trajectory comes from ``(seed, class_id)``, the per-sample jitter from ``(seed, class_id,
index)``, so any sample can be regenerated alone and classes never run out. Samples are made in
batches: the frames of every sample in a batch go through one :func:`simulate_batch` call.

*glyphs*: a class is 2-5 random strokes (quadratic Bezier curves) in the unit square. A sample
jitters the control points, rotates, scales, shifts and thickens the strokes (by default
little enough that one sample identifies its class: docs/events.md), draws them white on a
dark background, and views them with N-MNIST's camera motion:
three 102 ms saccades along a triangle (0,0) -> (1.75, 3.5) -> (3.5, 0) -> (0,0) pixels with
a raised-cosine velocity profile, at 34 x 34 pixels, 300 ms.

*gestures*: a hand-like shape (palm and four fingers plus a thumb, as ellipses) moves over a
dim background at 128 x 128 along a class trajectory. Families (class_id mod 8): circle,
swipe, wave, zig-zag, figure-eight, spiral, square loop, to-and-fro; direction, size, number
of cycles and handedness come from ``(seed, class_id)``. A sample jitters position, amplitude,
speed, phase, hand size and rotation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._dvs import DVSParams, simulate_batch
from ._types import Recording

# --------------------------------------------------------------------------- helpers


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in keys]))


def _blur(img: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
    """Gaussian blur over the last two axes (FFT, circular); ``sigma`` per leading item."""
    h, w = img.shape[-2:]
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), img.shape[:-2])
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    s2 = (sigma**2).reshape(*img.shape[:-2], 1, 1)
    gain = np.exp(-2 * np.pi**2 * s2 * (fx**2 + fy**2))
    return np.fft.irfft2(np.fft.rfft2(img) * gain, s=(h, w))


class _ShiftedViews:
    """Bilinear samples of a drawing at output-pixel spacing, for per-frame shifts.

    ``img`` is ``(B, Hf, Wf)`` with ``scale`` fine pixels per output pixel, already box
    filtered. ``view(ox, oy)`` returns ``(B, out_h, out_w)``: output pixel ``j`` reads the fine
    grid at ``(oy + j) * scale`` (bilinear between fine pixels). Shifts must be >= 0 and keep
    the window inside the drawing. The drawing is stored as its ``scale x scale`` polyphase
    components so every read is a contiguous slice.
    """

    def __init__(self, img: np.ndarray, out_h: int, out_w: int, scale: int):
        self.s = scale
        self.h, self.w = out_h, out_w
        self.Hf, self.Wf = img.shape[-2:]
        self.phase = [
            [np.ascontiguousarray(img[:, a::scale, b::scale]) for b in range(scale)]
            for a in range(scale)
        ]

    def _tap(self, r, c):
        s = self.s
        ph = self.phase[r % s][c % s]
        return ph[:, r // s : r // s + self.h, c // s : c // s + self.w]

    def view(self, ox: float, oy: float) -> np.ndarray:
        fx, fy = ox * self.s, oy * self.s
        c, r = int(np.floor(fx)), int(np.floor(fy))
        if (
            c < 0
            or r < 0
            or c + (self.w - 1) * self.s + 2 > self.Wf
            or r + (self.h - 1) * self.s + 2 > self.Hf
        ):
            raise ValueError("shifted window leaves the drawing")
        ax, ay = fx - c, fy - r
        v00, v01 = self._tap(r, c), self._tap(r, c + 1)
        v10, v11 = self._tap(r + 1, c), self._tap(r + 1, c + 1)
        top = v00 + (v01 - v00) * ax
        return top + (v10 + (v11 - v10) * ax - top) * ay


def _shifted_views(img, ox, oy, out_h, out_w, scale) -> np.ndarray:
    """All frames of :class:`_ShiftedViews` at once: ``(T, B, out_h, out_w)``."""
    sv = _ShiftedViews(img, out_h, out_w, scale)
    return np.stack([sv.view(float(x), float(y)) for x, y in zip(ox, oy, strict=True)])


def _box(img: np.ndarray, s: int) -> np.ndarray:
    """Mean over an ``s`` x ``s`` window starting at each fine pixel (same size, edge-padded)."""
    pad = np.pad(img, [(0, 0)] * (img.ndim - 2) + [(0, s), (0, s)], mode="edge")
    c = pad.cumsum(-1).cumsum(-2)
    c = np.pad(c, [(0, 0)] * (img.ndim - 2) + [(1, 0), (1, 0)])
    h, w = img.shape[-2:]
    return (
        c[..., s : s + h, s : s + w]
        - c[..., :h, s : s + w]
        - c[..., s : s + h, :w]
        + c[..., :h, :w]
    ) / (s * s)


def _sensor_seed(seed: int, tag: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, tag])


def _keys(class_ids, indices) -> list[tuple[int, int]]:
    """The ``(class_id, index)`` of every sample of a batch, as Python ints."""
    class_ids = [int(c) for c in class_ids]
    indices = [int(i) for i in indices]
    if len(class_ids) != len(indices):
        raise ValueError(f"class_ids and indices must have the same length, got "
                         f"{len(class_ids)} and {len(indices)}")
    if any(c < 0 for c in class_ids) or any(i < 0 for i in indices):
        raise ValueError("class ids and sample indices must be >= 0")
    return list(zip(class_ids, indices, strict=True))


def _recordings(
    frames, t: np.ndarray, cfg: GlyphConfig | GestureConfig, seed: int, tag: int, keys, fmt: str
) -> list[Recording]:
    """The sensor ``cfg.dvs`` watching ``frames(k)`` (``(B, cfg.size, cfg.size)`` intensities at
    ``t[k]`` us): one Recording a sample, its noise and its ``meta`` from ``keys[b] = (label,
    index)``, the sensor's mismatch from ``(seed, tag)``."""
    sample_seeds = [
        np.random.SeedSequence([int(seed) & 0xFFFFFFFF, tag, c & 0xFFFFFFFF, i & 0xFFFFFFFF])
        for c, i in keys
    ]
    events = simulate_batch(
        frames, t, cfg.dvs, seed=_sensor_seed(seed, tag), sample_seeds=sample_seeds
    )
    return [
        Recording(ev, cfg.size, cfg.size, fmt, {"label": c, "index": i})
        for ev, (c, i) in zip(events, keys, strict=True)
    ]


# --------------------------------------------------------------------------- glyphs


@dataclasses.dataclass(frozen=True)
class GlyphConfig:
    """Parameters of the glyphs dataset (defaults give N-MNIST-like statistics).

    Attributes:
        size: sensor width and height (pixels).
        glyph_px: side of the box the glyph is drawn in (pixels).
        saccade_us: duration of each of the 3 saccades (us).
        amplitude_px: saccade triangle size (pixels).
        dt_us: simulator frame interval (us).
        background, foreground: screen intensities in [0, 1].
        stroke_px: nominal stroke width (pixels, Gaussian sigma * 2).
        jitter: scale of the per-sample variation (control-point noise, rotation, scale and
            shift; 0 = every sample of a class drawn alike, apart from sensor noise).
        dvs: sensor parameters.
    """

    size: int = 34
    glyph_px: float = 24.0
    saccade_us: int = 102_000
    amplitude_px: float = 3.5
    dt_us: int = 3_000
    background: float = 0.08
    foreground: float = 0.9
    stroke_px: float = 2.2
    jitter: float = 1.0
    dvs: DVSParams = DVSParams(
        threshold_on=0.24,
        threshold_off=0.24,
        threshold_sigma=0.05,
        refractory_us=300.0,
        leak_hz=0.05,
        shot_noise_hz=0.2,
    )


_SUPER = 4  # fine pixels per sensor pixel when drawing a gesture
_GSUPER = 2  # ... and a glyph (sub-pixel motion is bilinear between fine pixels)


def glyph_strokes(class_id: int, seed: int = 0) -> np.ndarray:
    """The class's strokes: ``(n_strokes, 3, 2)`` quadratic Bezier control points in [0, 1]^2.

    2-5 strokes with control points anywhere in the box; deterministic in
    ``(seed, class_id)``. (One stroke, or strokes crowded into the middle, make classes that
    the per-sample jitter turns into one another: with 1-5 strokes in [0.1, 0.9]^2 even a
    convolutional prototypical network trained on 400 classes told held-out classes apart in
    only 83 % of 5-way 1-shot episodes at jitter 1.75.)
    """
    r = _rng(seed, 0x6C79, class_id)
    n = int(r.integers(2, 6))
    pts = r.uniform(0.0, 1.0, size=(n, 3, 2))
    # chain some strokes (pen continues from the previous end) so glyphs look written
    chain = r.random(n) < 0.5
    for i in range(1, n):
        if chain[i]:
            pts[i, 0] = pts[i - 1, 2]
    return pts


def _glyph_images(keys, seed: int, cfg: GlyphConfig) -> np.ndarray:
    """Fine-resolution drawings ``(B, Hf, Wf)`` of the ``(class_id, index)`` samples ``keys``,
    with the saccade margin included."""
    B = len(keys)
    margin = int(np.ceil(cfg.amplitude_px)) + 2
    n_fine = (cfg.size + 2 * margin) * _GSUPER
    npts = 24
    u = np.linspace(0, 1, npts)[:, None]
    bern = np.stack([(1 - u) ** 2, 2 * u * (1 - u), u**2])  # (3, npts, 1)
    img = np.zeros((B, n_fine, n_fine))
    sig = np.empty(B)
    for b, (c, i) in enumerate(keys):
        r = _rng(seed, 0x6A74, c, i)
        ctrl = glyph_strokes(c, seed)
        j = cfg.jitter
        ctrl = ctrl + r.normal(0, 0.03 * j, size=ctrl.shape)
        ang = np.deg2rad(r.uniform(-12, 12) * j)
        sc = 1 + (r.uniform(0.85, 1.1) - 1) * j
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) * sc
        ctrl = (ctrl - 0.5) @ rot.T + r.normal(0, 0.03 * j, 2)
        curve = np.einsum("knd,skd->snd", np.broadcast_to(bern, (3, npts, 1)), ctrl)
        # dense points along each stroke (4 per fine pixel of length)
        pts = curve.reshape(-1, npts, 2)
        seg = np.diff(pts, axis=1)
        lens = np.linalg.norm(seg, axis=-1) * cfg.glyph_px * _GSUPER
        reps = np.maximum(1, np.ceil(lens * 2)).astype(np.int64).ravel()
        a = np.repeat(pts[:, :-1].reshape(-1, 2), reps, axis=0)
        d = np.repeat(seg.reshape(-1, 2), reps, axis=0)
        f = (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)) / np.repeat(
            reps, reps
        )
        p = a + d * f[:, None]
        centre = (cfg.size / 2 + margin - cfg.amplitude_px * np.array([0.5, 1 / 3])) * _GSUPER
        fine = centre + p * cfg.glyph_px * _GSUPER
        ix = np.clip(np.round(fine[:, 0]).astype(np.int64), 0, n_fine - 1)
        iy = np.clip(np.round(fine[:, 1]).astype(np.int64), 0, n_fine - 1)
        img[b, iy, ix] = 1.0
        sig[b] = cfg.stroke_px * _GSUPER / 2 * r.uniform(0.8, 1.25)
    img = _blur(img, sig)
    img = np.clip(img / np.maximum(img.max(axis=(1, 2), keepdims=True), 1e-9) * 1.6, 0, 1)
    return _box(img, _GSUPER)


def saccade_path(cfg: GlyphConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame times (us) and camera offsets ``(t, dx, dy)`` in pixels for the 3 saccades."""
    t = np.arange(0, 3 * cfg.saccade_us + 1, cfg.dt_us, dtype=np.int64)
    a = cfg.amplitude_px
    verts = np.array([[0, 0], [a / 2, a], [a, 0], [0, 0]], dtype=np.float64)
    seg = np.minimum(t // cfg.saccade_us, 2)
    tau = (t - seg * cfg.saccade_us) / cfg.saccade_us
    s = (1 - np.cos(np.pi * tau)) / 2
    pos = verts[seg] + (verts[seg + 1] - verts[seg]) * s[:, None]
    return t, pos[:, 0], pos[:, 1]


def _saccade_events(img, cfg: GlyphConfig, seed: int, keys, fmt: str) -> list[Recording]:
    """Events of drawings ``img`` (``(B, Hf, Wf)`` fine grid, box filtered, margin included)
    viewed through the three saccades."""
    margin = int(np.ceil(cfg.amplitude_px)) + 2
    t, dx, dy = saccade_path(cfg)
    # the camera moves by (dx, dy): the scene moves by (-dx, -dy) on the sensor
    sv = _ShiftedViews(img.astype(np.float32), cfg.size, cfg.size, _GSUPER)
    lo, gain = np.float32(cfg.background), np.float32(cfg.foreground - cfg.background)

    def frames(k):
        return lo + gain * sv.view(margin + dx[k], margin + dy[k])

    return _recordings(frames, t, cfg, seed, 0x5D, keys, fmt)


def glyph_batch(
    class_ids, indices, *, seed: int = 0, config: GlyphConfig | None = None
) -> list[Recording]:
    """Glyph samples for ``(class_ids[i], indices[i])``: a list of 34 x 34 Recordings."""
    cfg = config or GlyphConfig()
    keys = _keys(class_ids, indices)
    if not keys:
        return []
    return _saccade_events(_glyph_images(keys, seed, cfg), cfg, seed, keys, "glyphs")


def saccade_batch(
    images: np.ndarray, *, labels=None, seed: int = 0, config: GlyphConfig | None = None
) -> list[Recording]:
    """Any static images through N-MNIST-style saccades (how N-MNIST was made from MNIST).

    ``images``: ``(B, size, size)`` intensities in [0, 1] at the sensor resolution
    (``config.size``, 34 by default; 1 = the foreground brightness). ``labels``: optional ``B``
    integers stored in each recording's ``meta["label"]``. Deterministic in ``seed`` and each
    image's position in the batch.
    """
    cfg = config or GlyphConfig()
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (cfg.size, cfg.size):
        raise ValueError(f"images must have shape (B, {cfg.size}, {cfg.size}), got {images.shape}")
    margin = int(np.ceil(cfg.amplitude_px)) + 2
    fine = np.repeat(np.repeat(np.clip(images, 0, 1), _GSUPER, axis=1), _GSUPER, axis=2)
    pad = margin * _GSUPER
    fine = np.pad(fine, [(0, 0), (pad, pad), (pad, pad)])
    # centre the saccade triangle on the image, as for glyphs
    shift = np.round(cfg.amplitude_px * np.array([0.5, 1 / 3]) * _GSUPER).astype(int)
    fine = np.roll(fine, (-shift[1], -shift[0]), axis=(1, 2))
    labels = list(range(len(images))) if labels is None else [int(v) for v in labels]
    keys = list(zip(labels, range(len(images)), strict=True))
    return _saccade_events(_box(fine, _GSUPER), cfg, seed, keys, "saccades")


def glyph_sample(
    class_id: int, index: int, *, seed: int = 0, config: GlyphConfig | None = None
) -> Recording:
    """One glyph sample (same events as in a batch of one)."""
    return glyph_batch([class_id], [index], seed=seed, config=config)[0]


# --------------------------------------------------------------------------- gestures


@dataclasses.dataclass(frozen=True)
class GestureConfig:
    """Parameters of the gestures dataset.

    Attributes:
        size: sensor width and height (pixels).
        duration_us: length of one sample (us).
        dt_us: simulator frame interval (us).
        hand_px: palm height (pixels).
        background, foreground: intensities of the scene and of the hand.
        dvs: sensor parameters.
    """

    size: int = 128
    duration_us: int = 1_000_000
    dt_us: int = 5_000
    hand_px: float = 16.0
    background: float = 0.15
    foreground: float = 0.8
    dvs: DVSParams = DVSParams(
        threshold_on=0.3,
        threshold_off=0.3,
        threshold_sigma=0.05,
        refractory_us=500.0,
        leak_hz=0.05,
        shot_noise_hz=0.1,
    )


GESTURE_FAMILIES = ("circle", "swipe", "wave", "zigzag", "figure8", "spiral", "square", "push")


def gesture_trajectory(class_id: int, seed: int = 0) -> dict:
    """Parameters of a class's trajectory (family, direction, amplitude, cycles, sense)."""
    r = _rng(seed, 0x6765, class_id)
    fam = GESTURE_FAMILIES[class_id % len(GESTURE_FAMILIES)]
    return {
        "family": fam,
        "angle": float(r.uniform(0, 2 * np.pi)),
        "amplitude": float(r.uniform(0.18, 0.32)),  # fraction of the sensor
        "cycles": float(r.choice([1.0, 1.5, 2.0, 3.0])),
        "sense": float(r.choice([-1.0, 1.0])),
        "aspect": float(r.uniform(0.4, 1.0)),
    }


def _path(tr: dict, u: np.ndarray) -> np.ndarray:
    """Unit-amplitude path ``(T, 2)`` for phase ``u`` in [0, 1]."""
    c, s, a = tr["cycles"], tr["sense"], tr["aspect"]
    w = 2 * np.pi * c * u
    fam = tr["family"]
    if fam == "circle":
        p = np.stack([np.cos(w), s * a * np.sin(w)], -1)
    elif fam == "swipe":
        x = 2 * ((c * u) % 1.0) - 1
        p = np.stack([x, 0.15 * s * np.sin(np.pi * (c * u % 1.0))], -1)
    elif fam == "wave":
        p = np.stack([2 * u - 1, s * a * np.sin(w)], -1)
    elif fam == "zigzag":
        tri = 2 * np.abs(2 * ((c * u) % 1.0) - 1) - 1
        p = np.stack([2 * u - 1, s * a * tri], -1)
    elif fam == "figure8":
        p = np.stack([np.sin(w), s * a * np.sin(2 * w)], -1)
    elif fam == "spiral":
        r = 0.2 + 0.8 * u
        p = np.stack([r * np.cos(w), s * r * np.sin(w)], -1)
    elif fam == "square":
        q = (c * u * 4) % 4
        k = np.floor(q)
        f = q - k
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=np.float64)
        corners[:, 1] *= s * a
        ki = k.astype(np.int64)
        p = corners[ki] + (corners[ki + 1] - corners[ki]) * f[:, None]
    else:  # push: to and fro along the direction
        p = np.stack([np.sin(w), 0.1 * s * np.cos(w)], -1)
    ang = tr["angle"]
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    return p @ rot.T


def _hand_sprite(r: np.random.Generator, cfg: GestureConfig, n: int) -> np.ndarray:
    """Fine-resolution hand image ``(n, n)`` (values 0..1), centred, randomly rotated."""
    h = cfg.hand_px * _SUPER * r.uniform(0.85, 1.15)
    g = np.arange(n) - n / 2 + 0.5
    yy, xx = np.meshgrid(g, g, indexing="ij")
    ang = r.uniform(-0.5, 0.5)
    ca, sa = np.cos(ang), np.sin(ang)
    u = ca * xx + sa * yy
    v = -sa * xx + ca * yy

    def ell(cx, cy, rx, ry, th=0.0):
        c, s = np.cos(th), np.sin(th)
        du, dv = u - cx, v - cy
        a = (c * du + s * dv) / rx
        b = (-s * du + c * dv) / ry
        return np.clip((1.0 - (a * a + b * b)) * 4, 0, 1)

    img = ell(0, 0.15 * h, 0.4 * h, 0.5 * h)  # palm
    for k, dx in enumerate((-0.27, -0.09, 0.09, 0.27)):
        length = (0.42, 0.5, 0.47, 0.36)[k] * h
        img = np.maximum(img, ell(dx * h, -0.3 * h - length / 2, 0.08 * h, length / 2))
    img = np.maximum(img, ell(-0.48 * h, 0.1 * h, 0.09 * h, 0.25 * h, th=-0.7))  # thumb
    return img


def gesture_batch(
    class_ids, indices, *, seed: int = 0, config: GestureConfig | None = None
) -> list[Recording]:
    """Gesture samples for ``(class_ids[i], indices[i])``: 128 x 128 Recordings."""
    cfg = config or GestureConfig()
    keys = _keys(class_ids, indices)
    if not keys:
        return []
    S = cfg.size
    t = np.arange(0, cfg.duration_us + 1, cfg.dt_us, dtype=np.int64)
    T = len(t)
    n_sprite = int(np.ceil(cfg.hand_px * 2.2)) * _SUPER
    n_sprite += n_sprite % 2
    B = len(keys)
    placed = []  # per sample: window corners (T,) and the sprite views (T, m+2, m+2)
    for c, i in keys:
        r = _rng(seed, 0x6773, c, i)
        tr = gesture_trajectory(c, seed)
        tr = {**tr, "angle": tr["angle"] + r.normal(0, 0.1)}
        speed = r.uniform(0.85, 1.15)
        phase = r.uniform(-0.03, 0.03)
        u = np.clip(np.linspace(0, 1, T) * speed + phase, 0, 1)
        amp = tr["amplitude"] * r.uniform(0.85, 1.15) * S
        centre = S / 2 + r.normal(0, 0.05 * S, 2)
        pos = centre + _path(tr, u) * amp  # (T, 2) hand centre in pixels
        pad = 2 * _SUPER
        sprite = _box(np.pad(_hand_sprite(r, cfg, n_sprite), pad)[None], _SUPER)[0]
        m = n_sprite // _SUPER  # sprite side in output pixels
        # top-left output pixel of the sprite per frame, and the fractional remainder
        tl = pos - m / 2
        x0 = np.floor(tl[:, 0]).astype(np.int64)
        y0 = np.floor(tl[:, 1]).astype(np.int64)
        # window of m + 2 output pixels from (y0 - 1, x0 - 1); in the padded sprite, its
        # pixel j starts at j + 1 - frac (output-pixel units)
        views = _shifted_views(
            sprite[None], 1 - (tl[:, 0] - x0), 1 - (tl[:, 1] - y0), m + 2, m + 2, _SUPER
        )[:, 0]
        placed.append((y0 - 1, x0 - 1, views.astype(np.float32)))
    lo, gain = np.float32(cfg.background), np.float32(cfg.foreground - cfg.background)

    def frames(k):  # frame k of every sample, built on demand (the video never sits in memory)
        out = np.full((B, S, S), lo, dtype=np.float32)
        for b, (ys_all, xs_all, views) in enumerate(placed):
            ys, xs = int(ys_all[k]), int(xs_all[k])
            span = views.shape[1]
            a0, a1 = max(ys, 0), min(ys + span, S)
            b0, b1 = max(xs, 0), min(xs + span, S)
            if a0 < a1 and b0 < b1:
                out[b, a0:a1, b0:b1] = lo + gain * views[k, a0 - ys : a1 - ys, b0 - xs : b1 - xs]
        return out

    return _recordings(frames, t, cfg, seed, 0x6E, keys, "gestures")


def gesture_sample(
    class_id: int, index: int, *, seed: int = 0, config: GestureConfig | None = None
) -> Recording:
    """One gesture sample."""
    return gesture_batch([class_id], [index], seed=seed, config=config)[0]
