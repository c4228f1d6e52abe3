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

from .artifact import Artifact, check_label_readout
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


def predictions(counts) -> np.ndarray:
    """Per row of spike counts ``(..., classes)``: the class with the most spikes, ties to the
    lowest index, ``-1`` where the readout stayed silent (no answer, as the device's
    PREDICTION says; it counts as wrong)."""
    counts = np.asarray(counts)
    return np.where(counts.max(-1) > 0, np.argmax(counts, -1), -1)


def prediction(counts: np.ndarray) -> int:
    """:func:`predictions` of one sample's counts."""
    return int(predictions(counts))


class Learner(Protocol):
    """One engine. A sample is ``begin(cls, t0_us)``, any number of ``feed(events, until)``
    (events sorted by time, ``until`` the absolute step the sample has reached, at most
    ``readout.steps``), then ``finish()``; :meth:`learn` and :meth:`predict` do all three."""

    artifact: Artifact

    def begin(self, cls: int | None, t0_us: int) -> None: ...

    def feed(self, events: np.ndarray, until: int) -> np.ndarray: ...

    def finish(self) -> Outcome: ...

    def reset(self) -> None: ...

    def readout_weights(self) -> np.ndarray: ...


def _readout(art: Artifact) -> tuple[int, int, int]:
    """(first neuron, number of classes, index of the plastic connection into the readout)."""
    if art.input_map is None or art.readout is None:
        raise ValueError("this artifact has no input map or readout: it is not a one-shot "
                         "learner (see docs/artifact.md)")
    net, ro = art.network, art.readout
    check_label_readout(art)
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


class _Samples:
    """What every engine shares: finishing a sample, and whole-sample learn/predict."""

    def finish(self) -> Outcome:
        if self._step < self.artifact.readout.steps:
            self.feed(np.zeros(0, _EVENT_DTYPE()), self.artifact.readout.steps)
        return Outcome(self._counts.copy(), prediction(self._counts), self._seconds,
                       self._events)

    def learn(self, rec, cls: int) -> Outcome:
        return _whole(self, rec, cls)

    def predict(self, rec) -> Outcome:
        return _whole(self, rec, None)


class _Base(_Samples):
    """Host-side binning for the in-process engines: events -> raster rows, chunk by chunk
    (identical to binning the whole sample at once)."""

    def __init__(self, art: Artifact):
        self.artifact = art
        self._start, self._n, self._conn = _readout(art)
        self._amap = None
        self._cls: int | None = None

    def _rows(self, events: np.ndarray, until: int) -> np.ndarray:
        from .events import bin_events

        m = self.artifact.input_map
        if self._amap is None or (len(events) and (
                int(events["x"].max()) >= self._amap.width or
                int(events["y"].max()) >= self._amap.height)):
            w = m.x0 + (m.width << m.shift)
            h = m.y0 + (m.height << m.shift)
            if len(events):
                w = max(w, int(events["x"].max()) + 1)
                h = max(h, int(events["y"].max()) + 1)
            self._amap = m.address_map(w, h)
        rows = bin_events(events, self._amap, dt_us=m.dt_us, n_steps=until, t0=self._t0)
        out = rows[self._step:until]
        self._step = until
        return out

    def begin(self, cls: int | None, t0_us: int) -> None:
        self._cls, self._t0, self._step = cls, int(t0_us), 0
        self._counts = np.zeros(self._n, np.int64)
        self._seconds = 0.0
        self._events = 0
        self._begin()

    def feed(self, events: np.ndarray, until: int) -> np.ndarray:
        until = min(int(until), self.artifact.readout.steps)
        if until <= self._step:
            return self._counts.copy()
        rows = self._rows(events, until)
        self._events += len(events)
        t0 = time.perf_counter()
        s = self._run(rows)
        self._seconds += time.perf_counter() - t0
        self._counts += s[:, self._start:self._start + self._n].sum(0).astype(np.int64)
        return self._counts.copy()


def _EVENT_DTYPE():
    from .events import EVENT_DTYPE

    return EVENT_DTYPE


def _whole(learner, rec, cls: int | None) -> Outcome:
    events = rec.events if isinstance(rec, Recording) else rec
    learner.begin(cls, int(events["t"].min()) if len(events) else 0)
    learner.feed(events, learner.artifact.readout.steps)
    return learner.finish()


class RuntimeLearner(_Base):
    """The in-process C runtime."""

    def __init__(self, art: Artifact):
        super().__init__(art)
        self.reset()

    def reset(self) -> None:
        from . import runtime

        self.core = runtime.Core(self.artifact.network)  # the deployed weights again

    def _begin(self) -> None:
        self.core.reset_neurons()
        self.core.set_third(third_factor(self.artifact, self._cls))
        self.core.set_learning(self._cls is not None)

    def _run(self, rows: np.ndarray) -> np.ndarray:
        return self.core.run(rows).s

    def readout_weights(self) -> np.ndarray:
        return self.core.weights(self._conn).astype(np.int64)


class TwinLearner(_Base):
    """The JAX twin (exact; slower per sample than C, but differentiable elsewhere)."""

    def __init__(self, art: Artifact):
        from . import twin

        super().__init__(art)
        self._twin = twin
        self.reset()

    def reset(self) -> None:
        self.state = self._twin.init_state(self.artifact.network)

    def _begin(self) -> None:
        import jax.numpy as jnp

        st = self._twin.reset_neurons(self.state)
        st = dataclasses.replace(st, r=jnp.asarray(third_factor(self.artifact, self._cls),
                                                  jnp.float32))
        self.state = self._twin.set_learning(st, self._cls is not None)

    def _run(self, rows: np.ndarray) -> np.ndarray:
        res = self._twin.simulate(self.artifact.network, state=self.state, inputs=rows)
        self.state = res.final_state
        return np.asarray(res.spikes)

    def readout_weights(self) -> np.ndarray:
        return np.asarray(self.state.plastic[self._conn].w).astype(np.int64)


class DeviceLearner(_Samples):
    """A device (firmware on the host emulator, QEMU or a board) over the serial link: the
    device bins the events itself (the artifact's input map) and counts the readout's spikes.
    """

    def __init__(self, art: Artifact, device, *, data: bytes | None = None,
                 progress=None):
        from .artifact import to_bytes

        self.artifact = art
        self.dev = device
        self._data = data if data is not None else to_bytes(art)
        self._progress = progress
        self._start, self._n, self._conn = _readout(art)
        self.bytes_sent = 0
        self.reset()

    def reset(self) -> None:
        self.dev.reset(model=True)
        self.dev.load(self._data, progress=self._progress)
        self.bytes_sent += len(self._data)

    def begin(self, cls: int | None, t0_us: int) -> None:
        self._cls, self._t0, self._step = cls, int(t0_us), 0
        self._seconds, self._events = 0.0, 0
        self.dev.reset()
        if cls is None:
            self.dev.third(0)
        else:
            self.dev.label(int(cls))
        self.dev.learn(cls is not None)
        self.dev.read_counts(clear=True)
        self._counts = np.zeros(self._n, np.int64)

    def feed(self, events: np.ndarray, until: int) -> np.ndarray:
        from .device import map_events

        until = min(int(until), self.artifact.readout.steps)
        if until <= self._step:
            return self._counts.copy()
        t, addr = map_events(events, self.artifact.input_map, t0_us=self._t0)
        keep = (t >= self._step) & (t < until)
        t0 = time.perf_counter()
        self.dev.stream(t[keep], addr[keep], until)
        self._counts = self.dev.read_counts().astype(np.int64)
        self._seconds += time.perf_counter() - t0
        self._events += int(keep.sum())
        self._step = until
        return self._counts.copy()

    def readout_weights(self) -> np.ndarray:
        return self.dev.read_weights(self._conn).astype(np.int64)


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
