"""Shared pieces of the event tests (test_events_*.py)."""

from __future__ import annotations

import numpy as np

from edgelearn import events as E


def random_events(seed: int, n: int, t_max: int, width: int, height: int) -> np.ndarray:
    """``n`` events sorted by time: times in ``[0, t_max)`` us, addresses on a ``width`` x
    ``height`` sensor, both polarities, all uniform and deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    return E.make_events(
        np.sort(rng.integers(0, t_max, n)),
        rng.integers(0, width, n),
        rng.integers(0, height, n),
        rng.integers(0, 2, n),
    )


def damaged(data, blob: bytes) -> bytes:
    """A damaged copy of a file's bytes, drawn with hypothesis ``data``: truncated, a few bits
    flipped, replaced by random bytes, or a prefix spliced to random bytes."""
    from hypothesis import strategies as st

    b = bytearray(blob)
    kind = data.draw(st.sampled_from(["truncate", "flip", "random", "splice"]))
    if kind == "truncate":
        b = b[: data.draw(st.integers(0, len(b)))]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 12))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "random":
        b = bytearray(data.draw(st.binary(min_size=0, max_size=600)))
    else:
        keep = data.draw(st.integers(0, min(len(b), 400)))
        b = b[:keep] + bytearray(data.draw(st.binary(min_size=0, max_size=600)))
    return bytes(b)
