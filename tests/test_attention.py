"""In-context attention computed by plasticity (issue 8): the token programs, the key/value
writes, twin == C runtime, the model reads its context (label swap), the artifact, gradients,
and the demo end to end."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from edgelearn import _attention_data as D
from edgelearn import _attention_train as TR
from edgelearn import attention as A

pytestmark = pytest.mark.xdist_group("attention")


@pytest.fixture(scope="module")
def model():
    return A.load_default()


@pytest.fixture(scope="module")
def episodes():
    pool = D.glyph_pool(D.HELDOUT_BASE + 500, 8, 2)
    return D.sample_episodes(pool, 3, seed=7)


def _sub(ep, b):
    return dataclasses.replace(ep, ctx=ep.ctx[b:b + 1], ctx_labels=ep.ctx_labels[b:b + 1],
                               query=ep.query[b:b + 1], query_labels=ep.query_labels[b:b + 1],
                               classes=ep.classes[b:b + 1])


def test_context_program_places_addresses_mode_and_third_factors(model):
    lay = A.layout(model, 3, 4)
    px = np.zeros((2, model.n_steps, lay.n_pixels), bool)
    px[0, 0, 5] = px[1, 3, 7] = True
    raster, third = A.context_program(lay, px, np.array([3, 1]), t_token=model.t_token,
                                      slots=np.array([2, 0]))
    assert raster.shape == (2, model.t_token, lay.n_inputs)
    assert raster[0, 0, 5] and raster[1, 3, 7] and raster[:, :, :lay.n_pixels].sum() == 2
    assert raster[0, :, lay.addr_axon(2)].all() and not raster[0, :, lay.addr_axon(0)].any()
    assert raster[1, :, lay.addr_axon(0)].all() and raster[:, :, lay.mode_axon].all()
    go = raster[:, :, lay.go_axon]
    assert not go[:, :model.n_steps].any() and go[:, model.n_steps:].all()
    assert (third[0, :, lay.slot0 + 2] == A.R_KEY).all() and (third[0, :, lay.out0 + 3] ==
                                                               A.R_VALUE).all()
    assert np.count_nonzero(third) == 2 * 2 * model.t_token
    # a negative label or slot would index from the end (another neuron, a pixel axon):
    # refused, as are too many or too few labels
    for labels, slots in (([-1, 0], None), ([0, 1], [-1, 0]), ([0], None), ([4, 0], None),
                          ([0, 1], [0, 3])):
        with pytest.raises(ValueError, match="out of range|need 2 labels"):
            A.context_program(lay, px, np.array(labels), t_token=model.t_token,
                              slots=None if slots is None else np.array(slots))
    # duplicate slots (the second key overwrites the first), a token length other than the
    # model's (its rules write at that epoch: a shorter token wrote nothing, all queries -> 0),
    # pixels of another width (one column was broadcast to every pixel axon)
    with pytest.raises(ValueError, match="share a slot"):
        A.context_program(lay, px, np.array([0, 1]), t_token=model.t_token,
                          slots=np.array([1, 1]))
    with pytest.raises(ValueError, match="this model's tokens are"):
        A.context_program(lay, px, np.array([0, 1]), t_token=model.t_token - 8)
    with pytest.raises(ValueError, match="pixels must have shape"):
        A.context_program(lay, px[:, :, :1], np.array([0, 1]), t_token=model.t_token)
    with pytest.raises(ValueError, match="pixels must have shape"):
        A.query_raster(lay, px[:, :, :1], t_token=model.t_token, ramp_steps=model.ramp_steps)
    with pytest.raises(ValueError, match="ramp_steps must be >= 0"):
        A.query_raster(lay, px, t_token=model.t_token, ramp_steps=-5)
    with pytest.raises(ValueError, match="n_slots must be an integer"):
        A.layout(model, 2.5, 4)
    net = A.build_network(model, 3, 4)
    with pytest.raises(ValueError, match="is not this network's"):
        A.run_c(net, A.layout(model, 4, 4), raster, third, raster)
    with pytest.raises(ValueError, match="third-factor programs"):
        A.run_c(net, lay, raster, third[:1], raster)
    q = A.query_raster(lay, px, t_token=model.t_token, ramp_steps=model.ramp_steps)
    go = q[0, :, lay.go_axon]
    assert go[model.n_steps:model.n_steps + model.ramp_steps].all() and go.sum() == \
        model.ramp_steps
    assert not q[:, :, lay.n_pixels:lay.go_axon].any()


def test_network_rules_and_epoch(model):
    net = A.build_network(model, 5, 5)
    assert net.plastic == (A.C_KEY, A.C_VALUE)
    key, value = (net.connections[k].rule for k in net.plastic)
    assert key.t_epoch == value.t_epoch == model.t_token
    assert key.rounding == value.rounding == "floor"
    assert [p.name for p in net.populations] == list(A.POPS)


def test_writes_are_slot_and_label_addressed_and_c_equals_twin(model, episodes):
    net = A.build_network(model, 5, 5)
    for b in range(2):
        lay, cr, ct, qr = TR.episode_programs(model, _sub(episodes, b), 5)
        tw = A.run_twin(net, lay, cr[0], ct[0], qr[0], record=True)
        c = A.run_c(net, lay, cr[0], ct[0], qr[0], record=True)
        np.testing.assert_array_equal(tw.keys, c.keys)
        np.testing.assert_array_equal(tw.values, c.values)
        np.testing.assert_array_equal(tw.counts, c.counts)
        labels = episodes.ctx_labels[b]
        for k in range(5):
            # after token k: rows 0..k of the keys written (non-negative), the rest still 0
            assert tw.keys[k, k].sum() > 0 and (tw.keys[k, k + 1:] == 0).all()
            assert (tw.keys[k] >= 0).all() and (tw.keys[k] <= 127).all()
            expect = np.zeros((5, 5), int)
            expect[labels[:k + 1], np.arange(k + 1)] = A.R_VALUE
            np.testing.assert_array_equal(tw.values[k], expect)
        # a key row is never touched again by later tokens
        np.testing.assert_array_equal(tw.keys[0, 0], tw.keys[-1, 0])


def test_swapping_two_labels_in_the_context_swaps_the_predictions(model, episodes):
    """The model reads its context: give class A's example the label of class B and vice
    versa, and every query that was answered A is answered B (and B -> A)."""
    net = A.build_network(model, 5, 5)
    checked = 0
    for b in range(3):
        ep = _sub(episodes, b)
        lay, cr, ct, qr = TR.episode_programs(model, ep, 5)
        before = A.run_c(net, lay, cr[0], ct[0], qr[0])
        a_, b_ = 0, 1
        lab = ep.ctx_labels[0].copy()
        ia, ib = np.flatnonzero(lab == a_)[0], np.flatnonzero(lab == b_)[0]
        lab[ia], lab[ib] = b_, a_
        cr2, ct2 = A.context_program(lay, ep.ctx[0], lab, t_token=model.t_token)
        after = A.run_c(net, lay, cr2, ct2, qr[0])
        swap = np.arange(5)
        swap[[a_, b_]] = [b_, a_]
        # the same slots win; only the labels their values point to change
        np.testing.assert_array_equal(before.slot_counts, after.slot_counts)
        # (a tie, two slots crossing in the same ramp step, goes to the lowest label, which a
        # swap can change: compare the queries with one winner)
        clear = (before.counts == before.counts.max(-1, keepdims=True)).sum(-1) == 1
        np.testing.assert_array_equal(after.pred[clear], swap[before.pred[clear]])
        checked += int(np.isin(before.pred[clear], [a_, b_]).sum())
    assert checked > 0


def test_artifact_round_trip_runs_the_same_on_c(model, episodes, tmp_path):
    from edgelearn import artifact

    art = A.to_artifact(model, 5, 5, metrics={"note": "test"})
    path = tmp_path / "incontext.elm"
    artifact.save(path, art)
    net, lay, m2 = A.from_artifact(artifact.load(path))
    assert m2.to_dict() == model.to_dict()
    lay0, cr, ct, qr = TR.episode_programs(model, _sub(episodes, 0), 5)
    assert lay == lay0
    a = A.run_c(A.build_network(model, 5, 5), lay, cr[0], ct[0], qr[0])
    b = A.run_c(net, lay, cr[0], ct[0], qr[0])
    np.testing.assert_array_equal(a.counts, b.counts)



def test_link_artifact_with_label_third_factors_equals_c(model, episodes):
    """The link artifact's scaled key rule with LABEL's R_VALUE on the slot writes the same
    memories as the network's with R_KEY (no device needed)."""
    net = A.build_network(model, 5, 5)
    link = A.link_artifact(model, 5, 5)
    assert link.manifest["incontext"]["r_key"] == A.R_VALUE
    lay, cr, ct, qr = TR.episode_programs(model, _sub(episodes, 1), 5)
    _, ct2 = A.context_program(lay, episodes.ctx[1], episodes.ctx_labels[1],
                               t_token=model.t_token, r_key=A.R_VALUE)
    a = A.run_c(net, lay, cr[0], ct[0], qr[0], record=True)
    b = A.run_c(link.network, lay, cr[0], ct2, qr[0], record=True)
    for x, y in ((a.counts, b.counts), (a.keys, b.keys), (a.values, b.values)):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def emulator():
    launcher = pytest.importorskip("firmware_sim.launcher")
    try:
        launcher.csrc_dir()
    except launcher.FirmwareError as e:  # an installed package without the C sources
        pytest.skip(str(e))
    with launcher.start("host", "tcp") as emu:
        yield emu


def test_device_over_the_link_equals_c_runtime(model, episodes, emulator):
    """Three held-out glyph episodes on the host emulator over the serial protocol (LOAD,
    RESET STATE, LEARN, LABEL, EVENTS, RUN, READ): out and slot spike counts, predictions and
    both memories after every context token equal the in-process C runtime's."""
    from edgelearn import artifact
    from edgelearn.device import Device

    elm = artifact.to_bytes(A.link_artifact(model, 5, 5))
    lay, cr, ct, qr = TR.episode_programs(model, episodes, 5)
    net = A.build_network(model, 5, 5)
    with Device(emulator.url, timeout=5.0) as dev:
        for b in range(cr.shape[0]):
            ref = A.run_c(net, lay, cr[b], ct[b], qr[b], record=True)
            got = A.run_device(dev, lay, episodes.ctx_labels[b], cr[b], qr[b], load=elm,
                               record=True)
            np.testing.assert_array_equal(got.counts, ref.counts)
            np.testing.assert_array_equal(got.slot_counts, ref.slot_counts)
            np.testing.assert_array_equal(got.pred, ref.pred)
            np.testing.assert_array_equal(got.keys, ref.keys)
            np.testing.assert_array_equal(got.values, ref.values)
            assert ref.counts.sum() > 0


def test_demo_over_the_link(tmp_path, emulator):
    from edgelearn import cli

    out = tmp_path / "r.json"
    args = ["demo", "incontext", "--headless", "--episodes", "1", "--way", "3", "--report"]
    assert cli.main(args + [str(out), "--port", emulator.url]) == 0
    assert cli.main(args + [str(tmp_path / "c.json")]) == 0
    dev, c = json.loads(out.read_text()), json.loads((tmp_path / "c.json").read_text())
    assert dev["engine"] == "device"
    assert [q["counts"] for q in dev["episodes"][0]["queries"]] == \
        [q["counts"] for q in c["episodes"][0]["queries"]]
    assert dev["episodes"][0]["keys"] == c["episodes"][0]["keys"]


def test_gradients_reach_the_projection_and_the_write_rule():
    import jax
    import jax.numpy as jnp

    from edgelearn import twin

    rng = np.random.default_rng(0)
    P, H, T = 12, 6, 5
    m = A.AttentionModel(
        w_proj=rng.integers(-60, 60, (H, P)).astype(np.int8), proj_bias=np.zeros(H, np.int32),
        proj_vth=40, proj_bias_exp=0, proj_exp=0, key_exp=-6, key_coef=1, key_decay=0,
        key_impulse=400, slot_vth=2000, slot_bias=0, inhib_w=0, inhib_exp=0, value_exp=0,
        out_vth=32, n_steps=T, pixel_map={}, go_w=0, go_exp=0, ramp_steps=2)
    net = A.build_network(m, 2, 2)
    lay = A.layout(m, 2, 2)
    px = rng.random((2, T, P)) < 0.5
    cr, ct = A.context_program(lay, px, np.array([1, 0]), t_token=m.t_token)
    qr = A.query_raster(lay, px, t_token=m.t_token, ramp_steps=m.ramp_steps)
    f = TR.twin_counts_fn(net, lay, T)
    params = twin.params_from_network(net)

    def loss(p):
        _, v = f(p, jnp.asarray(cr), jnp.asarray(ct, jnp.float32), jnp.asarray(qr))
        return jnp.sum(v * jnp.asarray([[1.0, -1.0], [-1.0, 1.0]])) / 1e4

    g = jax.grad(loss)(params)
    gw = np.asarray(g.conns[A.C_PIX].w)[:, :P]
    gh = g.conns[A.C_KEY].hyper
    assert np.all(np.isfinite(gw)) and np.abs(gw).sum() > 0
    assert np.isfinite(float(gh.coef[0])) and float(gh.coef[0]) != 0
    assert np.isfinite(float(gh.impulse[0])) and float(gh.impulse[0]) != 0


def test_demo_headless_report(tmp_path):
    from edgelearn import cli

    out = tmp_path / "r.json"
    rc = cli.main(["demo", "incontext", "--headless", "--episodes", "1", "--way", "3",
                   "--report", str(out)])
    assert rc == 0
    rep = json.loads(out.read_text())
    assert rep["engine"] == "c" and len(rep["episodes"]) == 1
    assert len(rep["episodes"][0]["keys"]) == 3 and len(rep["episodes"][0]["queries"]) == 3
    assert out.with_suffix(".png").stat().st_size > 0
