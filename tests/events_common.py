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
