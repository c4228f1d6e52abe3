"""One-shot learning with a deployed artifact, the same on every engine.

A :class:`Learner` wraps one engine — the JAX twin (:class:`TwinLearner`), the in-process C
runtime (:class:`RuntimeLearner`) or a device over the serial link
(:class:`DeviceLearner`) — behind the three operations of on-chip few-shot learning, whose
semantics are fixed here once (``docs/artifact.md``, readout section):

- :meth:`Learner.learn`: a new sample starts (``docs/spec.md`` 5.5: state cleared, ``t = 0``,
  weights kept), the readout neuron of the labelled class holds third factor ``r_pos`` and the
  others ``r_neg``, learning is on, the sample's ``readout.steps`` timesteps run;
- :meth:`Learner.predict`: a new sample starts, third factor 0, learning off, the steps run;
  the prediction is the readout neuron with the most spikes (ties to the lowest index);
- :meth:`Learner.reset`: back to the artifact's weights, as deployed.

Because the twin and the C runtime are bit-exact and every engine runs the same steps, their
predictions and learned weights are identical; tests check it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Protocol

import numpy as np

from .artifact import Artifact
from .events import Recording


@dataclasses.dataclass
class Outcome:
    """What one sample did: readout spike ``counts``, ``prediction`` (queries), the engine's
    ``seconds`` for the sample and the ``events`` that went in."""

    counts: np.ndarray
    prediction: int
    seconds: float
    events: int

    @property
    def confidence(self) -> float:
        """Share of the readout's spikes on the predicted neuron (0 when silent)."""
        total = float(self.counts.sum())
        return float(self.counts[self.prediction]) / total if total else 0.0


def prediction(counts: np.ndarray) -> int:
    """Most spikes wins; ties go to the lowest index (``np.argmax`` semantics)."""
    return int(np.argmax(counts))


def to_raster(art: Artifact, rec: Recording | np.ndarray) -> np.ndarray:
    """Bin a recording into the ``(readout.steps, n_inputs)`` raster the artifact expects,
    step 0 starting at the recording's first event (the device does the same)."""
    from .events import bin_events

    if art.input_map is None or art.readout is None:
        raise ValueError("this artifact has no input map or readout: it is not a one-shot "
                         "learner (see docs/artifact.md)")
    events = rec.events if isinstance(rec, Recording) else rec
    width = int(events["x"].max()) + 1 if len(events) else 1
    height = int(events["y"].max()) + 1 if len(events) else 1
    if isinstance(rec, Recording):
        width, height = max(width, rec.width), max(height, rec.height)
    amap = art.input_map.address_map(width, height)
    return bin_events(events, amap, dt_us=art.input_map.dt_us, n_steps=art.readout.steps)


class Learner(Protocol):
    artifact: Artifact

    def learn(self, rec: Recording | np.ndarray, cls: int) -> Outcome: ...

    def predict(self, rec: Recording | np.ndarray) -> Outcome: ...

    def reset(self) -> None: ...

    def readout_weights(self) -> np.ndarray: ...


def _readout(art: Artifact) -> tuple[int, int, int]:
    """(first neuron, number of classes, index of the plastic connection into the readout)."""
    net, ro = art.network, art.readout
    pop = net.populations[ro.population]
    start = net.offsets()[pop.name]
    plastic = [k for k, c in enumerate(net.connections) if c.plastic and c.dst == pop.name]
    if len(plastic) != 1:
        raise ValueError(f"a one-shot artifact needs exactly one plastic connection into the "
                         f"readout population {pop.name!r}, found {len(plastic)}")
    return start, pop.size, plastic[0]


def third_factor(art: Artifact, cls: int | None) -> np.ndarray:
    """The per-neuron third factor for learning class ``cls`` (``None``: all zero)."""
    start, n_cls, _ = _readout(art)
    r = np.zeros(art.network.n_neurons, np.int64)
    if cls is not None:
        if not 0 <= cls < n_cls:
            raise ValueError(f"class {cls} is out of range: this readout has {n_cls} classes")
        r[start:start + n_cls] = art.readout.r_neg
        r[start + cls] = art.readout.r_pos
    return r


class RuntimeLearner:
    """The in-process C runtime."""

    def __init__(self, art: Artifact):
        from . import runtime

        self.artifact = art
        self._start, self._n, self._conn = _readout(art)
        self.core = runtime.Core(art.network)

    def reset(self) -> None:
        from . import runtime

        self.core = runtime.Core(self.artifact.network)  # the deployed weights again

    def _sample(self, rec, cls: int | None) -> Outcome:
        raster = to_raster(self.artifact, rec)
        self.core.reset_neurons()
        self.core.set_third(third_factor(self.artifact, cls))
        self.core.set_learning(cls is not None)
        t0 = time.perf_counter()
        s = self.core.run(raster).s
        dt = time.perf_counter() - t0
        counts = s[:, self._start:self._start + self._n].sum(0)
        return Outcome(counts, prediction(counts), dt, _n_events(rec))

    def learn(self, rec, cls: int) -> Outcome:
        return self._sample(rec, cls)

    def predict(self, rec) -> Outcome:
        return self._sample(rec, None)

    def readout_weights(self) -> np.ndarray:
        return self.core.weights(self._conn).astype(np.int64)


class TwinLearner:
    """The JAX twin (exact; slower per sample than C, but differentiable elsewhere)."""

    def __init__(self, art: Artifact):
        from . import twin

        self.artifact = art
        self._twin = twin
        self._start, self._n, self._conn = _readout(art)
        self.reset()

    def reset(self) -> None:
        self.state = self._twin.init_state(self.artifact.network)

    def _sample(self, rec, cls: int | None) -> Outcome:
        import jax.numpy as jnp

        raster = to_raster(self.artifact, rec)
        st = self._twin.reset_neurons(self.state)
        st = dataclasses.replace(st, r=jnp.asarray(third_factor(self.artifact, cls),
                                                  jnp.float32))
        st = self._twin.set_learning(st, cls is not None)
        t0 = time.perf_counter()
        res = self._twin.simulate(self.artifact.network, state=st, inputs=raster)
        s = np.asarray(res.spikes)
        dt = time.perf_counter() - t0
        self.state = res.final_state
        counts = s[:, self._start:self._start + self._n].sum(0).astype(np.int64)
        return Outcome(counts, prediction(counts), dt, _n_events(rec))

    def learn(self, rec, cls: int) -> Outcome:
        return self._sample(rec, cls)

    def predict(self, rec) -> Outcome:
        return self._sample(rec, None)

    def readout_weights(self) -> np.ndarray:
        return np.asarray(self.state.plastic[self._conn].w).astype(np.int64)


def _n_events(rec) -> int:
    return len(rec.events) if isinstance(rec, Recording) else len(rec)


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if total == 0:
        return (0.0, 1.0)
    p = correct / total
    d = 1 + z * z / total
    c = (p + z * z / (2 * total)) / d
    h = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def run_episode(learner: Learner, shots: list[tuple[Any, int]], queries: list[tuple[Any, int]]
                ) -> dict[str, Any]:
    """Reset, learn every shot (in order), then predict every query. Returns predictions,
    labels, per-sample outcomes and the learned readout weights."""
    learner.reset()
    learned = [learner.learn(rec, c) for rec, c in shots]
    answered = [learner.predict(rec) for rec, _ in queries]
    return {"labels": [c for _, c in queries], "predictions": [o.prediction for o in answered],
            "shots": learned, "queries": answered, "weights": learner.readout_weights()}
