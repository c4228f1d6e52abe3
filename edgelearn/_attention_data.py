"""Tokens for the in-context model: event recordings binned to pixel-axon rasters, and 5-way
1-shot episodes with labels shuffled per episode (generated glyphs, N-MNIST recordings).

numpy only. The binning is :func:`edgelearn.events.bin_events` through the model's
:class:`edgelearn.artifact.InputMap` (the one binning implementation).
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: the pixel map of the shipped model: 34 x 34 sensor pooled 4 x 4 (shift 2) -> 9 x 9 x 2
PIXEL_MAP = {"width": 9, "height": 9, "polarities": 2, "shift": 2, "x0": 0, "y0": 0,
             "dt_us": 15_000}
N_STEPS = 20  # 20 steps of 15 ms: the 300 ms of an N-MNIST-like sample
#: generated glyph classes: meta-training uses [0, TRAIN_CLASSES), held-out tests use
#: [HELDOUT_BASE, HELDOUT_BASE + n) (never seen in training). Both at the generator's default
#: :class:`edgelearn.events.GlyphConfig` (per-sample variation ``jitter``).
TRAIN_CLASSES = 2000
HELDOUT_BASE = 1_000_000


def _address_map(pixel_map: dict):
    from .artifact import InputMap

    return InputMap(**pixel_map).address_map(34, 34)


def bin_recordings(recs, pixel_map: dict = PIXEL_MAP, n_steps: int = N_STEPS) -> np.ndarray:
    """``(B, n_steps, n_pixels)`` bool: each recording from its first event."""
    from .events import bin_batch

    return bin_batch(recs, _address_map(pixel_map), dt_us=int(pixel_map["dt_us"]),
                     n_steps=n_steps)


def glyph_pixels(class_ids, indices, *, seed: int = 0, pixel_map: dict = PIXEL_MAP,
                 n_steps: int = N_STEPS, chunk: int = 300, jitter: float | None = None
                 ) -> np.ndarray:
    """Generated glyph samples ``(class_ids[i], indices[i])`` binned: ``(B, n_steps, P)``.
    ``jitter``: the generator's per-sample variation (default: the generator's default)."""
    from .events import GlyphConfig, glyph_batch

    cfg = None if jitter is None else GlyphConfig(jitter=float(jitter))

    class_ids, indices = list(class_ids), list(indices)
    out = []
    for a in range(0, len(class_ids), chunk):
        recs = glyph_batch(class_ids[a:a + chunk], indices[a:a + chunk], seed=seed, config=cfg)
        out.append(bin_recordings(recs, pixel_map, n_steps))
    if not out:
        return np.zeros((0, n_steps, 2 * pixel_map["width"] * pixel_map["height"]), bool)
    return np.concatenate(out)


@dataclasses.dataclass(frozen=True)
class Pool:
    """Binned samples by class: ``x (n_classes, n_per_class, n_steps, P)`` bool."""

    x: np.ndarray
    classes: tuple

    @property
    def n_classes(self) -> int:
        return self.x.shape[0]


def glyph_pool(first_class: int, n_classes: int, n_per_class: int, *, seed: int = 0,
               jitter: float | None = None) -> Pool:
    cls = np.repeat(np.arange(first_class, first_class + n_classes), n_per_class)
    idx = np.tile(np.arange(n_per_class), n_classes)
    x = glyph_pixels(cls, idx, seed=seed, jitter=jitter)
    return Pool(x.reshape(n_classes, n_per_class, *x.shape[1:]),
                tuple(range(first_class, first_class + n_classes)))


def nmnist_pool(root) -> Pool:
    """The N-MNIST recordings of ``root`` (SLAYER's NMNISTsmall layout) binned by digit."""
    from .events import NMNISTFolder

    ds = NMNISTFolder(root)
    n = min(ds.count(c) for c in ds.classes)
    x = np.stack([bin_recordings([ds.get(c, i) for i in range(n)]) for c in ds.classes])
    return Pool(x, tuple(ds.classes))


@dataclasses.dataclass(frozen=True)
class Episodes:
    """A batch of N-way K-shot episodes, labels shuffled per episode.

    ``ctx (B, N*K, T, P)`` with ``ctx_labels (B, N*K)`` (context order shuffled too),
    ``query (B, Q, T, P)`` with ``query_labels (B, Q)``; ``classes (B, N)`` pool class index
    of each episode label."""

    ctx: np.ndarray
    ctx_labels: np.ndarray
    query: np.ndarray
    query_labels: np.ndarray
    classes: np.ndarray


def sample_episodes(pool: Pool, n_episodes: int, *, n_way: int = 5, k_shot: int = 1,
                    n_query: int = 1, seed: int = 0) -> Episodes:
    """``n_episodes`` episodes, deterministic in ``seed``: ``n_way`` distinct classes, a random
    label permutation, ``k_shot`` context examples and ``n_query`` queries per class."""
    rng = np.random.default_rng([seed, 0x1C7])
    n_per = pool.x.shape[1]
    ctx, ctx_l, qry, qry_l, cls = [], [], [], [], []
    for _ in range(n_episodes):
        c = rng.choice(pool.n_classes, n_way, replace=False)
        perm = rng.permutation(n_way)  # episode label of class c[j] is perm[j]
        sc, sl, qc, ql = [], [], [], []
        for j in range(n_way):
            idx = rng.choice(n_per, k_shot + n_query, replace=False)
            sc += [pool.x[c[j], i] for i in idx[:k_shot]]
            sl += [perm[j]] * k_shot
            qc += [pool.x[c[j], i] for i in idx[k_shot:]]
            ql += [perm[j]] * n_query
        o1, o2 = rng.permutation(len(sc)), rng.permutation(len(qc))
        ctx.append(np.stack(sc)[o1])
        ctx_l.append(np.asarray(sl)[o1])
        qry.append(np.stack(qc)[o2])
        qry_l.append(np.asarray(ql)[o2])
        inv = np.empty(n_way, int)
        inv[perm] = c
        cls.append(inv)
    return Episodes(np.stack(ctx), np.stack(ctx_l), np.stack(qry), np.stack(qry_l),
                    np.stack(cls))
