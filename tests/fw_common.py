"""Shared pieces of the firmware tests (test_device*.py, test_firmware*.py): small artifacts,
event samples, and the in-process reference of an on-device one-shot learning session."""

from __future__ import annotations

import dataclasses

import numpy as np

from edgelearn import INPUT, Connection, Network, Population, artifact, rule, runtime

N_CLASSES = 4
STEPS = 30  # timesteps per sample


def oneshot_artifact(seed: int = 0, *, plastic: bool = True) -> artifact.Artifact:
    """input 4x4x2 -> hidden (fixed) -> out (plastic, dense), plus input -> out (plastic,
    sparse): one neuron per class in `out`, the error-triggered rule."""
    rng = np.random.default_rng(seed)
    pops = (Population("hidden", 24, du=2000, dv=400, vth_mant=60,
                       bias_mant=rng.integers(-3, 4, 24)),
            Population("out", N_CLASSES, du=1200, dv=600, vth_mant=30, refractory=2))
    r = rule.shipped("error_triggered") if plastic else None
    keep = rng.random((N_CLASSES, 32)) < 0.3
    conns = (Connection(INPUT, "hidden", rng.integers(-60, 60, (24, 32)), w_exp=0),
             Connection("hidden", "out", rng.integers(-10, 30, (N_CLASSES, 24)), w_exp=0,
                        rule=r),
             Connection(INPUT, "out", rng.integers(-20, 40, int(keep.sum())),
                        indptr=np.concatenate([[0], np.cumsum(keep.sum(1))]),
                        indices=np.nonzero(keep)[1], rule=r))
    net = Network(32, pops, conns, seed=1000 + seed)
    return artifact.Artifact(net, artifact.InputMap(4, 4, 2), artifact.Readout(1, 120, -10, STEPS),
                             {"kind": "firmware-test"})


def sample_events(cls: int, t0: int, rng: np.random.Generator, *, n_inputs: int = 32,
                  steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Events (t, addr) of one sample of class `cls` starting at step t0: the class's 8 axons
    fire with probability 0.35 per step, the others 0.02."""
    proto = np.random.default_rng(100 + cls).choice(n_inputs, 8, replace=False)
    p = np.full(n_inputs, 0.02)
    p[proto] = 0.35
    hits = rng.random((steps, n_inputs)) < p
    t, a = np.nonzero(hits)
    return (t + t0).astype(np.uint32), a.astype(np.uint32)


@dataclasses.dataclass
class Session:
    """One session: the training samples (label, events) then the test samples."""

    train: list[tuple[int, np.ndarray, np.ndarray]]
    test: list[tuple[int, np.ndarray, np.ndarray]]


def make_session(seed: int = 0, n_test: int = 8) -> Session:
    rng = np.random.default_rng(seed)
    t = 0
    train, test = [], []
    for c in range(N_CLASSES):
        ev = sample_events(c, t, rng)
        train.append((c, *ev))
        t += STEPS
    for _ in range(n_test):
        c = int(rng.integers(N_CLASSES))
        ev = sample_events(c, t, rng)
        test.append((c, *ev))
        t += STEPS
    return Session(train, test)


@dataclasses.dataclass
class Outcome:
    predictions: list[int]
    counts: list[np.ndarray]           # readout counts of each test sample
    weights: dict[int, np.ndarray]     # plastic connections: values in the artifact's order
    step: int


def artifact_order(art: artifact.Artifact, k: int, dense: np.ndarray) -> np.ndarray:
    """A (n_dst, n_src) matrix as the device reads it: dense as is, sparse in CSR order."""
    c = art.network.connections[k]
    if not c.sparse:
        return dense
    rows = np.repeat(np.arange(len(c.indptr) - 1), np.diff(c.indptr))
    return dense[rows, np.asarray(c.indices)]


def reference(art: artifact.Artifact, s: Session) -> Outcome:
    """The session on the in-process C runtime, as the firmware runs it."""
    net = art.network
    core = runtime.Core(net)
    core.set_learning(False)  # LOAD_COMMIT leaves learning off
    lo = sum(p.size for p in net.populations[:art.readout.population])
    size = net.populations[art.readout.population].size
    n = core.n_neurons
    third = np.zeros(n, np.int64)

    def raster(t: np.ndarray, a: np.ndarray) -> np.ndarray:
        x = np.zeros((STEPS, net.n_inputs), bool)
        x[t - core.time, a] = True
        return x

    core.set_learning(True)
    for c, t, a in s.train:
        third[lo:lo + size] = art.readout.r_neg
        third[lo + c] = art.readout.r_pos
        core.set_third(third)
        core.run(raster(t, a))
    third[:] = 0
    core.set_third(third)
    core.set_learning(False)
    preds, counts = [], []
    for _, t, a in s.test:
        spikes = core.run(raster(t, a)).s[:, lo:lo + size].sum(0).astype(np.uint32)
        counts.append(spikes)
        preds.append(int(np.argmax(spikes)) if spikes.max() > 0 else -1)
    weights = {k: artifact_order(art, k, core.weights(k))
               for k, c in enumerate(net.connections) if c.plastic}
    return Outcome(preds, counts, weights, core.time)


def on_device(dev, art: artifact.Artifact, s: Session) -> Outcome:
    """The same session over the link (dev: an open edgelearn.device.Device)."""
    dev.load(artifact.to_bytes(art))
    dev.learn(True)
    for k, (c, t, a) in enumerate(s.train):
        dev.label(c)
        r = dev.stream(t, a, (k + 1) * STEPS)
        assert r.consumed == r.sent == len(t)
    dev.label(-1)
    dev.learn(False)
    preds, counts = [], []
    for j, (_, t, a) in enumerate(s.test):
        dev.read_counts(clear=True)
        r = dev.stream(t, a, (len(s.train) + j + 1) * STEPS)
        assert r.consumed == r.sent == len(t)
        counts.append(dev.read_counts())
        preds.append(dev.predict())
    weights = {k: np.asarray(dev.read_weights(k)).reshape(-1)
               for k, c in enumerate(art.network.connections) if c.plastic}
    return Outcome(preds, counts, weights, dev.info().step)


def assert_same(a: Outcome, b: Outcome) -> None:
    assert a.step == b.step
    assert a.predictions == b.predictions
    for x, y in zip(a.counts, b.counts, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.weights.keys() == b.weights.keys()
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k].reshape(-1), b.weights[k].reshape(-1))


# ---- learning with no host in the loop: a third factor computed by error neurons (spec 5.3)

ERR_FEATURES = 24  # feature axons 0..23; label axons 24, 25, 26 (one per class)
ERR_CLASSES = 3
ERR_RULE = """dw = 2^-10 * x1 * r
t_epoch = 5
x1.decay = 600
x1.impulse = 640
w_min = -40
w_max = 100
"""


def error_network(shift: int = 7, label_w: int = 60) -> Network:
    """``out`` (one neuron per class) learns from the feature axons by ``dw ~ x1 * r``; its
    third factor is computed by ``err``, neurons that never spike and whose u sums the label
    spikes (+``label_w``) and ``out``'s spikes (-``label_w``): r = shr(u_err, shift), the
    error of a delta rule, with no host write."""
    n_in = ERR_FEATURES + ERR_CLASSES
    keep = np.zeros((ERR_CLASSES, n_in), bool)
    keep[:, :ERR_FEATURES] = True  # out learns from the features only, not from the labels
    label = np.zeros((ERR_CLASSES, n_in), np.int64)
    label[np.arange(ERR_CLASSES), ERR_FEATURES + np.arange(ERR_CLASSES)] = label_w
    pops = (Population("out", ERR_CLASSES, du=1000, dv=800, vth_mant=400, refractory=2,
                       third_from="err", third_shift=shift),
            Population("err", ERR_CLASSES, du=800, vth_mant=(1 << 17) - 1))
    conns = (Connection(INPUT, "out", np.zeros(int(keep.sum()), np.int64),
                        indptr=np.concatenate([[0], np.cumsum(keep.sum(1))]),
                        indices=np.nonzero(keep)[1], rule=rule.parse(ERR_RULE)),
             Connection(INPUT, "err", label),
             Connection("out", "err", -label_w * np.eye(ERR_CLASSES, dtype=np.int64)))
    return Network(n_in, pops, conns, seed=7)


def error_sample(cls: int, rng: np.random.Generator, *, label: bool) -> np.ndarray:
    """A (STEPS, 27) raster of class ``cls``: its 8 feature axons fire with probability 0.5 per
    step, the other features 0.03; with ``label``, its label axon fires every 4th step (the
    target rate of ``out``'s neuron)."""
    n_in = ERR_FEATURES + ERR_CLASSES
    proto = np.random.default_rng(100 + cls).choice(ERR_FEATURES, 8, replace=False)
    p = np.full(n_in, 0.03)
    p[ERR_FEATURES:] = 0.0
    p[proto] = 0.5
    x = rng.random((STEPS, n_in)) < p
    if label:
        x[::4, ERR_FEATURES + cls] = True
    return x


def error_session(seed: int, *, label: bool = True, n_train: int = 3, n_test: int = 10):
    """(train classes, train rasters, test classes, test rasters): ``n_train`` labelled samples
    per class in a shuffled order, then ``n_test`` unlabelled ones per class."""
    rng = np.random.default_rng(seed)
    train = [c for c in range(ERR_CLASSES) for _ in range(n_train)]
    rng.shuffle(train)
    test = [c for c in range(ERR_CLASSES) for _ in range(n_test)]
    return (train, [error_sample(c, rng, label=label) for c in train],
            test, [error_sample(c, rng, label=False) for c in test])
