"""One-shot learning with an artifact: the twin, the C runtime and the host emulator (and QEMU,
where installed) give the same predictions, counts and learned weights."""

import numpy as np
import pytest

from edgelearn import INPUT, Connection, Network, Population, artifact, oneshot, rule
from edgelearn.events import glyph_batch


def small_artifact(ways=3) -> artifact.Artifact:
    rng = np.random.default_rng(0)
    im = artifact.InputMap(width=17, height=17, polarities=2, shift=1, dt_us=2000)
    text = rule.shipped("error_triggered").text().replace("2^-4", "2^-7").replace(
        "y1.impulse = 512", "y1.impulse = 128")
    net = Network(im.n_axons, (
        Population("hidden", 64, du=1500, dv=800, vth_mant=30, refractory=2),
        Population("out", ways, du=4095, dv=2500, vth_mant=60)), (
        Connection(INPUT, "hidden", rng.integers(-80, 60, (64, im.n_axons)), w_exp=0),
        Connection("hidden", "out", np.zeros((ways, 64)), rule=rule.parse(text))), seed=5)
    return artifact.Artifact(net, im, artifact.Readout(1, r_pos=64, r_neg=0, steps=80),
                             {"kind": "oneshot-test"})


def episode(ways=3):
    classes = [101, 102, 103][:ways]
    shots = glyph_batch(classes, [0] * ways, seed=1)
    queries = glyph_batch(classes * 2, [1] * ways + [2] * ways, seed=1)
    return ([(r, i) for i, r in enumerate(shots)],
            [(r, i % ways) for i, r in enumerate(queries)])


def outcome(learner):
    shots, queries = episode()
    ep = oneshot.run_episode(learner, shots, queries)
    counts = [o.counts.tolist() for o in ep["queries"]]
    return ep["predictions"], counts, ep["weights"]


@pytest.fixture(scope="module")
def reference():
    return outcome(oneshot.RuntimeLearner(small_artifact()))


def test_twin_equals_c_runtime(reference):
    preds, counts, w = reference
    tp, tc, tw = outcome(oneshot.TwinLearner(small_artifact()))
    assert tp == preds and tc == counts
    np.testing.assert_array_equal(tw, w)
    assert np.abs(w).sum() > 0 and len(set(preds)) > 1  # it learned, and not one answer


def test_chunked_feeding_equals_whole_samples(reference):
    art = small_artifact()
    learner = oneshot.RuntimeLearner(art)
    shots, queries = episode()
    for rec, c in shots:
        learner.begin(c, int(rec.events["t"][0]))
        for until in range(7, art.readout.steps + 7, 7):  # ragged windows
            t_end = int(rec.events["t"][0]) + until * art.input_map.dt_us
            learner.feed(rec.events[rec.events["t"] < t_end], until)
        learner.finish()
    np.testing.assert_array_equal(learner.readout_weights(), reference[2])


@pytest.mark.parametrize("target", ["host", "qemu"])
def test_device_equals_c_runtime(reference, target):
    launcher = pytest.importorskip("firmware_sim.launcher")
    if target == "qemu" and launcher.qemu_available() is not None:
        pytest.skip(f"{launcher.qemu_available()} (CI installs them)")
    from edgelearn.device import Device

    with launcher.start(target) as emu, Device(emu.url, timeout=5.0) as dev:
        preds, counts, w = outcome(oneshot.DeviceLearner(small_artifact(), dev))
    assert preds == reference[0] and counts == reference[1]
    np.testing.assert_array_equal(w, reference[2])


def test_wilson_interval():
    lo, hi = oneshot.wilson_interval(80, 100)
    assert 0.71 < lo < 0.72 and 0.86 < hi < 0.87  # textbook values 0.711, 0.867


def test_event_order_does_not_matter(reference):
    # step 0 is at the earliest event, not at the first one in file order: the same events
    # shuffled give the same counts (they were all dropped before: counts 0, prediction 0)
    art = small_artifact()
    rng = np.random.default_rng(2)
    for make in (oneshot.RuntimeLearner, oneshot.TwinLearner):
        learner = make(art)
        shots, queries = episode()
        for rec, c in shots:
            learner.learn(rec.replace(events=rec.events[rng.permutation(len(rec))]), c)
        for (rec, _), counts in zip(queries, reference[1], strict=True):
            shuffled = rec.replace(events=rec.events[::-1])
            assert learner.predict(shuffled).counts.tolist() == counts


@pytest.mark.parametrize("target", [None, "host"])
def test_a_silent_readout_answers_none(target):
    # before any shot the readout's weights are zero: no query makes it spike, and every
    # engine says -1 ("no answer", the device's PREDICTION), which counts as wrong, not class 0
    art = small_artifact()
    _, queries = episode()
    if target is None:
        learners = [oneshot.RuntimeLearner(art), oneshot.TwinLearner(art)]
        for learner in learners:
            ep = oneshot.run_episode(learner, [], queries)
            assert ep["predictions"] == [-1] * len(queries)
            assert all(o.counts.sum() == 0 and o.confidence == 0.0 for o in ep["queries"])
            assert not any(p == c for p, c in zip(ep["predictions"], ep["labels"], strict=True))
        return
    launcher = pytest.importorskip("firmware_sim.launcher")
    from edgelearn.device import Device

    with launcher.start(target) as emu, Device(emu.url, timeout=5.0) as dev:
        learner = oneshot.DeviceLearner(art, dev)
        o = learner.predict(queries[0][0])
        assert o.prediction == -1 and dev.predict() == -1


def test_predictions_ties_and_silence():
    c = np.array([[0, 0, 0], [2, 5, 5], [1, 0, 0], [0, 0, 3]])
    assert oneshot.predictions(c).tolist() == [-1, 1, 0, 2]
    assert [oneshot.prediction(r) for r in c] == [-1, 1, 0, 2]
