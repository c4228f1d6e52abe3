"""Episode data for meta-training: class splits, binned raster pools, seeded episodes.

Samples come from :mod:`edgelearn.events` (the glyph / gesture generators, or any class dataset
such as real N-MNIST recordings) and are binned to core input rasters with the artifact's
:class:`edgelearn.artifact.InputMap` (through :func:`edgelearn.events.bin_events`, the one
binning implementation). For speed, meta-training bins each class's first ``samples`` samples
once into a :class:`RasterPool` (bit-packed) and draws episodes from it; an episode is a
deterministic function of ``(seed, split, index)``.

Class splits are explicit, disjoint ranges of generator class ids (``train``, ``val``,
``test``), stored in the artifact's manifest so that evaluation knows which classes were never
seen in meta-training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from edgelearn.artifact import InputMap
from edgelearn.events import _generate as G
from edgelearn.events._transforms import bin_events

SPLITS = ("train", "val", "test")


def input_map_for(kind: str, *, dt_us: int) -> InputMap:
    """The input map of a data kind: 34 x 34 glyphs / N-MNIST pooled by 2 (17 x 17 x 2 = 578
    axons); 128 x 128 gestures pooled by 8 onto the same grid (16 x 16 of its 17 x 17 used)."""
    if kind in ("glyphs", "nmnist"):
        return InputMap(17, 17, 2, shift=1, dt_us=dt_us)
    if kind == "gestures":
        return InputMap(17, 17, 2, shift=3, x0=0, y0=0, dt_us=dt_us)
    raise ValueError(f"unknown data kind {kind!r} (glyphs, gestures, nmnist)")


def bin_recordings(recs: Sequence, imap: InputMap, n_steps: int) -> np.ndarray:
    """Recordings -> ``(B, n_steps, n_axons)`` bool rasters (step 0 at each first event)."""
    out = np.zeros((len(recs), n_steps, imap.n_axons), bool)
    maps: dict = {}
    for i, r in enumerate(recs):
        key = (r.width, r.height)
        if key not in maps:
            maps[key] = imap.address_map(r.width, r.height)
        out[i] = bin_events(r, maps[key], dt_us=imap.dt_us, n_steps=n_steps)
    return out


def generate(kind: str, class_ids: Sequence[int], indices: Sequence[int], *, seed: int):
    if kind == "glyphs":
        return G.glyph_batch(class_ids, indices, seed=seed)
    if kind == "gestures":
        return G.gesture_batch(class_ids, indices, seed=seed)
    raise ValueError(f"unknown generator {kind!r} (glyphs, gestures)")


@dataclasses.dataclass
class RasterPool:
    """``samples`` binned samples of each of ``classes``: bits ``(C, S, T, ceil(A/8))``."""

    classes: tuple[int, ...]
    bits: np.ndarray
    n_axons: int

    @classmethod
    def build(cls, kind: str, classes: Sequence[int], samples: int, imap: InputMap,
              n_steps: int, *, seed: int, batch: int = 256, progress=None) -> RasterPool:
        classes = tuple(int(c) for c in classes)
        pairs = [(c, i) for c in classes for i in range(samples)]
        rows = []
        for a in range(0, len(pairs), batch):
            chunk = pairs[a:a + batch]
            recs = generate(kind, [c for c, _ in chunk], [i for _, i in chunk], seed=seed)
            rows.append(np.packbits(bin_recordings(recs, imap, n_steps), axis=-1))
            if progress is not None:
                progress(len(chunk))
        bits = np.concatenate(rows).reshape(len(classes), samples, n_steps, -1)
        return cls(classes, bits, imap.n_axons)

    @property
    def samples(self) -> int:
        return self.bits.shape[1]

    def get(self, ci: np.ndarray, si: np.ndarray) -> np.ndarray:
        """Rasters of (class position, sample) pairs, float32 ``(..., T, A)``."""
        b = self.bits[ci, si]
        return np.unpackbits(b, axis=-1, count=self.n_axons).astype(np.float32)


def sample_episode(pool: RasterPool, rng: np.random.Generator, ways: int, shots: int,
                   queries: int):
    """One episode from a pool: support in presentation order (round-robin over classes),
    labels, queries (shuffled) and their labels."""
    cls = rng.choice(len(pool.classes), ways, replace=False)
    idx = np.stack([rng.choice(pool.samples, shots + queries, replace=False) for _ in cls])
    s_ci = np.tile(cls, shots)                     # round-robin: k-th shot of every class
    s_si = idx[:, :shots].T.reshape(-1)
    s_lab = np.tile(np.arange(ways), shots)
    q_ci = np.repeat(cls, queries)
    q_si = idx[:, shots:].reshape(-1)
    q_lab = np.repeat(np.arange(ways), queries)
    perm = rng.permutation(len(q_lab))
    return (pool.get(s_ci, s_si), s_lab, pool.get(q_ci[perm], q_si[perm]), q_lab[perm])


def episode_batch(pool: RasterPool, seed: int, split: str, start: int, count: int, ways: int,
                  shots: int, queries: int):
    """``count`` episodes ``start .. start+count-1`` of a split, stacked on a leading axis."""
    eps = [sample_episode(pool, np.random.default_rng([seed, SPLITS.index(split), start + i]),
                          ways, shots, queries) for i in range(count)]
    return tuple(np.stack(x) for x in zip(*eps, strict=True))
