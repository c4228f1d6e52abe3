"""Meta-training: the inner loop's device semantics, gradients (full / first-order / remat),
configs, and the end-to-end smoke run through the CLI (run folder, resume, artifact, evaluate).

The 2-device check lives in tests/test_metatrain_sharding.py (it needs its own process).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgelearn import artifact, twin
from metatrain import config, data, model

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "metatrain" / "configs" / "smoke.toml"

TINY = model.ModelConfig(n_inputs=578, hidden=12, ways=3, steps=12, hid_vth=150, out_vth=60)


def tiny_episode(seed=0, shots=1, queries=2):
    rng = np.random.default_rng(seed)
    n = TINY.ways
    S = (rng.random((n * shots, TINY.steps, TINY.n_inputs)) < 0.08).astype(np.float32)
    Q = (rng.random((n * queries, TINY.steps, TINY.n_inputs)) < 0.08).astype(np.float32)
    L = np.tile(np.arange(n), shots)
    QL = np.repeat(np.arange(n), queries)
    return S, L, Q, QL


def tiny_theta(seed=0):
    th = model.init_theta(TINY, jax.random.PRNGKey(seed))
    th["w_in"] = jnp.abs(th["w_in"])  # excitatory: the hidden layer is active on random input
    th["w0"] = th["w0"] + 20.0
    return th


def test_learning_happens_in_shots_only_and_queries_leave_weights():
    th = tiny_theta()
    S, L, Q, _ = tiny_episode()
    topo, proto = model.topology(TINY), model.Protocol.of(TINY)
    params = model.to_params(TINY, th)
    st = model.learn(topo, proto, params, S, L)
    w0 = np.asarray(params.conns[1].w)
    w = np.asarray(st.plastic[1].w)
    assert not np.array_equal(w, w0), "the shots must change the readout weights"
    assert np.array_equal(w, np.round(w)), "weights stay integers"
    # queries run with learning off: weights unchanged after a query
    q_state = twin.set_learning(twin.reset_neurons(st), False)
    res = twin.simulate(topo, params, q_state, Q[0])
    assert np.array_equal(np.asarray(res.final_state.plastic[1].w), w)
    # and the query counts are those of model.query_counts
    counts = model.query_counts(topo, proto, params, st, Q)
    o = proto.out_offset
    assert np.array_equal(np.asarray(counts[0]), np.asarray(res.spikes[:, o:o + TINY.ways].sum(0)))


def test_inner_loop_matches_sample_by_sample_protocol():
    # the scan over shots equals driving the twin by hand, one sample at a time
    th = tiny_theta(1)
    S, L, _, _ = tiny_episode(1)
    net = model.to_network(TINY, jax.tree.map(np.asarray, th))
    params = twin.params_from_network(net)
    topo, proto = twin.topology(net), model.Protocol.of(TINY)
    st = twin.init_state(net)
    for s, lab in zip(S, L, strict=True):
        st = twin.reset_neurons(st)
        st = twin.simulate(net, params, st, s, third=model.third_factor(
            proto, topo.n_neurons, lab)).final_state
    ref = model.learn(topo, proto, params, S, L)
    assert np.array_equal(np.asarray(ref.plastic[1].w), np.asarray(st.plastic[1].w))
    assert int(ref.t) == int(st.t) == TINY.steps  # each sample starts at t = 0 (spec 5.5)


def test_shot_order_is_round_robin():
    assert model.shot_order(np.array([0, 0, 1, 1, 2, 2]), 3).tolist() == [0, 2, 4, 1, 3, 5]


def _grads(order, remat):
    th = tiny_theta(2)
    S, L, Q, QL = tiny_episode(2, shots=2)

    def f(t):
        return model.episode_loss(TINY, t, S, L, Q, QL, order=order, remat=remat)[0]

    return jax.jit(jax.grad(f))(th)


def test_gradients_full_first_order_and_remat():
    full = _grads("full", False)
    first = _grads("first", False)
    remat = _grads("full", True)
    for g in (full, first):
        leaves = jax.tree.leaves(g)
        assert all(np.all(np.isfinite(np.asarray(x))) for x in leaves)
        assert float(jnp.abs(g["hyper"].coef).sum()) > 0, "the rule's coefficient gets a gradient"
        assert float(jnp.abs(g["w0"]).sum()) > 0
    # remat recomputes the same forward: same gradients up to float reassociation
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(remat), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    # first order drops cross-shot Jacobians: a different gradient
    assert not np.allclose(np.asarray(full["hyper"].coef), np.asarray(first["hyper"].coef),
                           rtol=1e-3, atol=0)


def test_export_is_the_quantised_theta():
    th = tiny_theta(3)
    net = model.to_network(TINY, jax.tree.map(np.asarray, th))
    a = twin.params_from_network(net)
    b = model.to_params(TINY, th)
    S, L, Q, _ = tiny_episode(3)
    topo, proto = model.topology(TINY), model.Protocol.of(TINY)
    ca = model.query_counts(topo, proto, a, model.learn(topo, proto, a, S, L), Q)
    cb = model.query_counts(topo, proto, b, model.learn(topo, proto, b, S, L), Q)
    assert np.array_equal(np.asarray(ca), np.asarray(cb))


def test_bias_units_are_constant_sources_into_the_readout():
    cfg = dataclasses.replace(TINY, bias_units=2)
    th = model.init_theta(cfg, jax.random.PRNGKey(4))
    th["w_in"] = jnp.abs(th["w_in"])
    th["w0"] = th["w0"] + 20.0
    assert th["w_in"].shape == (12, 578) and th["w0"].shape == (14,)
    net = model.to_network(cfg, jax.tree.map(np.asarray, th))
    hid = net.populations[0]
    assert hid.size == 14 and net.connections[1].weights.shape == (3, 14)
    assert not net.connections[0].weights[12:].any()  # no input into the bias units
    S, L, Q, _ = tiny_episode(4)
    spikes = np.asarray(twin.simulate(net, inputs=jnp.asarray(Q)).spikes)
    counts = spikes[..., 12:14].sum(-2)
    assert counts.min() > 0 and (counts == counts[0, 0]).all()  # same rate, whatever the input
    assert model.hidden_counts(cfg, th, Q).shape == (len(Q), 12)  # features only
    # the deployed network and the differentiable parameters compute the same episode
    a, b = twin.params_from_network(net), model.to_params(cfg, th)
    topo, proto = model.topology(cfg), model.Protocol.of(cfg)
    assert proto.out_offset == 14
    ca = model.query_counts(topo, proto, a, model.learn(topo, proto, a, S, L), Q)
    cb = model.query_counts(topo, proto, b, model.learn(topo, proto, b, S, L), Q)
    assert np.array_equal(np.asarray(ca), np.asarray(cb))
    # the readout learns a weight from the bias units
    st = model.learn(topo, proto, b, S, L)
    w = np.asarray(st.plastic[proto.plastic].w)
    assert (w[:, 12:] != np.asarray(th["w0"])[12:]).any()


@pytest.mark.parametrize("metric", ["euclid", "dot"])
def test_pretrain_step_lowers_the_prototype_loss(metric):
    from metatrain import train

    cfg = config.from_dict({
        "data": {"steps": 12, "train_classes": [0, 10], "val_classes": [10, 13],
                 "test_classes": [13, 16], "samples": 4},
        "episode": {"ways": 3, "shots": 1, "queries": 2},
        "model": {"hidden": 12, "ways": 3, "steps": 12, "hid_vth": 150, "out_vth": 60},
        "pretrain": {"ways": 3, "samples": 4, "metric": metric, "lr_w": 2.0}})
    th = model.init_theta(cfg.model, jax.random.PRNGKey(5))  # signed: rates vary by input
    # three classes, each a fixed random pattern with its own noise per sample
    rng = np.random.default_rng(5)
    base = rng.random((3, 1, 12, 578)) < 0.1
    x = (base ^ (rng.random((3, 4, 12, 578)) < 0.05)).reshape(12, 12, 578).astype(np.float32)
    tx = train.pretrain_optimizer(cfg, th)
    step = train.make_pretrain_step(cfg, tx)
    st = tx.init(th)
    losses = []
    for _ in range(15):
        th, st, m = step(th, st, jnp.asarray(x))
        losses.append(float(m["loss"]))
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="unknown key 'bogus'"):
        config.from_dict({"meta": {"bogus": 1}})
    with pytest.raises(ValueError, match="order"):
        config.from_dict({"meta": {"order": "second"}})
    with pytest.raises(ValueError, match="bias_units must be >= 0"):
        config.from_dict({"model": {"bias_units": -1}})
    with pytest.raises(ValueError, match="pretrain.metric"):
        config.from_dict({"pretrain": {"metric": "cosine"}})
    with pytest.raises(ValueError, match="disjoint"):
        config.from_dict({"data": {"train_classes": [0, 50], "val_classes": [40, 60]}})
    # every split holds enough classes and samples for its episodes, checked before any work
    with pytest.raises(ValueError, match=r"val_classes = \[10, 12\) holds 2 classes, fewer "
                                         r"than episode.ways = 3"):
        config.from_dict({"data": {"train_classes": [0, 10], "val_classes": [10, 12]},
                          "episode": {"ways": 3}, "model": {"ways": 3},
                          "pretrain": {"ways": 3}})
    with pytest.raises(ValueError, match="fewer than pretrain.ways = 16"):
        config.from_dict({"data": {"train_classes": [0, 10]}})
    with pytest.raises(ValueError, match="pretrain.samples"):
        config.from_dict({"data": {"samples": 6}, "pretrain": {"samples": 8}})
    with pytest.raises(ValueError, match="eval_samples = 3"):
        config.from_dict({"data": {"eval_samples": 3}})
    with pytest.raises(ValueError, match="train_shots must be integers >= 1"):
        config.from_dict({"meta": {"train_shots": [1, 0]}})
    with pytest.raises(ValueError, match=r"data.samples = 8 must be >= shots \+ episode.queries"
                                         r" = 4 \+ 5"):
        config.from_dict({"meta": {"train_shots": [1, 4]}, "episode": {"queries": 5},
                          "data": {"samples": 8}})
    cfg, _ = config.load(SMOKE)
    assert cfg.episode.ways == cfg.model.ways


@pytest.mark.parametrize("raw, msg", [
    ({"model": {"hidden": -4}}, "model.hidden must be >= 1, got -4"),
    ({"meta": {"batch": 0}}, "meta.batch must be >= 1, got 0"),
    ({"meta": {"val_every": 0}}, "meta.val_every must be >= 1, got 0"),
    ({"meta": {"checkpoint_every": -1}}, "meta.checkpoint_every must be >= 1, got -1"),
    ({"meta": {"lr_w": -0.1}}, "meta.lr_w must be >= 0, got -0.1"),
    ({"meta": {"clip": 0}}, "meta.clip must be > 0, got 0.0"),
    ({"meta": {"warmup": -1}}, "meta.warmup must be >= 0, got -1"),
    ({"pretrain": {"samples": 1}}, "pretrain.samples must be >= 2, got 1"),
    ({"pretrain": {"steps": -1}}, "pretrain.steps must be >= 0, got -1"),
    ({"episode": {"shots": 0}}, "episode.shots must be >= 1, got 0"),
    ({"data": {"dt_us": 0}}, "data.dt_us must be >= 1, got 0"),
    ({"data": {"train_classes": [0]}}, r"data.train_classes must be \[start, stop\], two "
                                       r"integers, got \[0\]"),
    ({"data": {"train_classes": 5}}, "data.train_classes must be a list, got 5"),
    ({"data": {"kind": "nmnist"}}, "data.kind must be 'glyphs' or 'gestures'"),
    ({"model": {"hid_du": 5000}}, r"model.hid_du must be in \[0, 4095\], got 5000"),
    ({"model": {"out_refractory": 0}}, r"model.out_refractory must be in \[1, 64\], got 0"),
    ({"model": {"r_pos": 200}}, r"model.r_pos must be in \[-128, 127\], got 200"),
    ({"model": {"beta": float("nan")}}, "model.beta must be finite, got nan"),
    ({"model": {"n_inputs": 100}}, "model.n_inputs = 100 must equal the glyphs input map's "
                                   "578 axons"),
    ({"model": {"rule": "dw ="}}, "model.rule"),
    ({"eval": {"episodes": 0}}, "eval.episodes must be >= 1, got 0"),
    ({"eval": {"transfer_lr": 0.0}}, "eval.transfer_lr must be > 0, got 0.0"),
    ({"eval": {"engine": "c"}}, "eval.engine must be 'runtime' or 'twin'"),
    ({"eval": {"shots_curve": [1, 0]}}, r"eval.shots_curve must be integers >= 1, got \[1, 0\]"),
    ({"dist": {"coordinator": "h:1"}}, "dist.process_id = -1 must be in 0 .. "
                                       "dist.num_processes - 1 = -1"),
    ({"seed": -1}, "seed must be >= 0, got -1"),
    ({"seed": "0"}, "seed must be int, got '0'"),
])
def test_config_ranges_are_checked_up_front(raw, msg):
    # every count, size, step count and rate is checked before any work, naming key and value
    # (model.hidden = -4 was a JAX traceback, meta.batch = 0 "not enough values to unpack")
    with pytest.raises(ValueError, match=msg):
        config.from_dict(raw)


def test_summarize_one_episode_is_valid_json():
    # one episode has no interval: null in the JSON (NaN is not JSON), "n/a" in the summary
    from metatrain import evaluate as ev

    one = ev.summarize(np.array([0.5]))
    assert one == {"acc": 0.5, "ci95": None, "episodes": 1}
    json.dumps(one, allow_nan=False)
    assert ev.format_ci(None) == "n/a" and ev.format_ci(0.01234) == "1.23"
    assert ev.summarize(np.array([0.0, 1.0]))["ci95"] == pytest.approx(0.98)  # 1.96 * 0.5


def test_check_out_never_overwrites_a_run(tmp_path, capsys):
    from metatrain import train

    train.check_out(tmp_path / "new", resume=False)  # missing or empty: a fresh run
    train.check_out(tmp_path, resume=False)
    assert capsys.readouterr().err == ""
    # --resume where there is nothing to resume: a fresh run, saying so
    train.check_out(tmp_path / "new", resume=True)
    train.check_out(tmp_path, resume=True)
    assert capsys.readouterr().err.count("nothing to resume") == 2
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("")
    with pytest.raises(ValueError, match="already holds a run: pass --resume"):
        train.check_out(run, resume=False)
    train.check_out(run, resume=True)
    (tmp_path / "other" / "x").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"is not empty \(x\); choose another --out"):
        train.check_out(tmp_path / "other", resume=False)
    with pytest.raises(ValueError, match="holds no run"):
        train.check_out(tmp_path / "other", resume=True)
    with pytest.raises(ValueError, match="is a file"):
        train.check_out(run / "config.toml", resume=True)


def test_metatrain_cli_refuses_before_any_work(tmp_path, capsys):
    # bad paths and device counts are refused up front (exit 2), not after training
    from edgelearn.cli import main

    def refused(*args):
        assert main(["metatrain", *args]) == 2
        return capsys.readouterr().err

    assert "is a directory, not a TOML file" in refused(str(tmp_path), "--out", str(tmp_path))
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("old")
    (run / "metrics.jsonl").write_text("{}\n")
    err = refused(str(SMOKE), "--out", str(run))
    assert "already holds a run: pass --resume" in err
    assert (run / "metrics.jsonl").read_text() == "{}\n"  # the old run is untouched
    n, platform = len(jax.devices()), jax.devices()[0].platform
    err = refused(str(SMOKE), "--out", str(tmp_path / "a"), "--devices", str(n + 1))
    assert f"--devices {n + 1}: there are only {n} {platform} device(s)" in err
    if platform == "cpu":
        assert "XLA_FLAGS=--xla_force_host_platform_device_count=N" in err
    err = refused(str(SMOKE), "--out", str(tmp_path / "b"), "--artifact",
                  str(tmp_path / "nonexist" / "m.elm"))
    assert f"folder {tmp_path / 'nonexist'} does not exist" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()





def test_line_progress_eta_follows_the_recent_pace(monkeypatch):
    # the first step compiles (100 s here), the others take 1 s: after the first line the ETA
    # is the remaining steps at 1 s each, not at the average that includes the compilation
    import io

    from metatrain import train

    clock = [0.0]
    monkeypatch.setattr(train.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    p = train.LineProgress(stream=out)
    a = p.add_task("meta-training", total=10)
    for step in range(10):
        clock[0] += 100.0 if step == 0 else 1.0
        p.advance(a)
    lines = out.getvalue().splitlines()
    assert lines[0] == "meta-training 1/10 (10%) 0:01:40 elapsed, eta 0:15:00"
    assert lines[1] == "meta-training 2/10 (20%) 0:01:41 elapsed, eta 0:00:08"
    assert lines[5] == "meta-training 6/10 (60%) 0:01:45 elapsed, eta 0:00:04"

def test_mixed_shot_training_cycles_the_shot_counts(tmp_path, monkeypatch):
    # meta.train_shots: outer step i trains on episodes of train_shots[i % len] shots per
    # class (one compiled step per count); validation keeps episode.shots
    from metatrain import train

    cfg = config.from_dict({
        "data": {"steps": 12, "train_classes": [0, 10], "val_classes": [10, 13],
                 "test_classes": [13, 16], "samples": 4, "eval_samples": 3},
        "episode": {"ways": 3, "shots": 1, "queries": 2},
        "model": {"hidden": 12, "ways": 3, "steps": 12, "hid_vth": 150, "out_vth": 60},
        "pretrain": {"ways": 3, "steps": 0},
        "meta": {"batch": 2, "steps": 5, "train_shots": [1, 2], "val_every": 5,
                 "val_episodes": 2}})
    seen = []
    real = data.episode_batch

    def spy(pool, seed, split, start, n, ways, shots, queries):
        out = real(pool, seed, split, start, n, ways, shots, queries)
        seen.append((split, shots, out[0].shape[1]))
        return out

    monkeypatch.setattr(data, "episode_batch", spy)
    pools = train.build_pools(cfg)
    run = train.Run(tmp_path, cfg, "", resume=False, quiet=True)
    theta = model.init_theta(cfg.model, jax.random.PRNGKey(0))
    with run.progress() as progress:
        theta = train.metatrain(cfg, run, theta, pools, progress, train.make_mesh(1))
    assert [s for s in seen if s[0] == "train"] == [("train", k, 3 * k) for k in (1, 2, 1, 2, 1)]
    assert [s for s in seen if s[0] == "val"] == [("val", 1, 3)]
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in recs if r["phase"] == "meta")


def test_evaluate_fits_the_input_map_to_a_larger_sensor():
    # the shipped artifact's map is made for 34 x 34; generated gestures are 128 x 128: the
    # episodes are binned through the fitted map (as the demo does), not cropped to 17 x 17
    # pixels of the corner, and the result says so
    from metatrain import evaluate as ev

    art = artifact.load(ROOT / "edgelearn" / "data" / "oneshot_default.elm")
    eps = ev.make_episodes(art, "gestures:classes=0-2", ways=2, shots=1, queries=1, episodes=1)
    assert eps.source["input_map_fitted"] == {"sensor": [128, 128], "shift": 3, "x0": 0, "y0": 0}
    cropped = data.bin_recordings(ev.dataset_for("gestures:classes=0-2", art.manifest)[0]
                                  .get_many([(0, 0)]), art.input_map, art.readout.steps)
    assert eps.S.sum() > 4 * cropped.sum()  # most of the hand's events were outside the window
    glyph = ev.make_episodes(art, "glyphs:classes=0-2", ways=2, shots=1, queries=1, episodes=1)
    assert "input_map_fitted" not in glyph.source

def test_line_progress_for_logs():
    # where stderr is not a terminal (a batch job's log) progress is plain lines: one at each
    # tenth, one at completion, with the task's info; a resumed task counts from where it was
    import io

    from metatrain.train import LineProgress

    out = io.StringIO()
    p = LineProgress(stream=out)
    a = p.add_task("meta-training", total=20, completed=4, info="")
    for k in range(16):
        p.update(a, info=f"loss {k}")
        p.advance(a)
    lines = out.getvalue().splitlines()
    assert len(lines) == 8  # 6/20 .. 20/20 cross the tenths 3 .. 10
    assert lines[0].startswith("meta-training 6/20 (30%) 0:00:00 elapsed, eta ")
    assert lines[-1].startswith("meta-training 20/20 (100%)") and lines[-1].endswith("| loss 15")
    p.advance(a)  # past the total: nothing more
    assert len(out.getvalue().splitlines()) == 8

def test_episode_sampling_is_seeded_and_disjoint():
    imap = data.input_map_for("glyphs", dt_us=10000)
    pool = data.RasterPool.build("glyphs", range(6), 3, imap, 10, seed=0)
    a = data.episode_batch(pool, 0, "train", 5, 2, 3, 1, 2)
    b = data.episode_batch(pool, 0, "train", 5, 2, 3, 1, 2)
    c = data.episode_batch(pool, 1, "train", 5, 2, 3, 1, 2)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert a[0].shape == (2, 3, 10, 578) and a[2].shape == (2, 6, 10, 578)


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "edgelearn", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    r = _cli("metatrain", str(SMOKE), "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    (out.parent / "stderr.txt").write_text(r.stderr)  # stderr is a pipe here, as in a batch log
    return out


def test_smoke_run_folder(smoke_run):
    out = smoke_run
    for name in ("config.toml", "run.json", "metrics.jsonl", "model.elm", "report.json",
                 "learning_curve.png", "shots.png", "checkpoints/last.pkl"):
        assert (out / name).exists(), name
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    phases = {r["phase"] for r in recs}
    assert {"pretrain", "meta", "val", "timing"} <= phases
    rep = json.loads((out / "report.json").read_text())
    for m in ("metatrained", "handset", "transfer", "ncm"):
        assert 0.0 <= rep["test"][m]["acc"] <= 1.0
    art = artifact.load(out / "model.elm")
    assert art.readout is not None and art.input_map.n_axons == art.network.n_inputs
    assert art.manifest["kind"] == "oneshot"
    assert art.manifest["config"]["name"] == "smoke"
    assert "source_version" in art.manifest and "metrics" in art.manifest
    assert art.network.connections[1].plastic
    # the manifest names the data as the config does, never by this machine's paths
    assert str(ROOT) not in json.dumps(art.manifest)
    # progress as plain lines (stderr is a pipe), and a line per finished report evaluation
    log = (out.parent / "stderr.txt").read_text()
    assert "meta-training 6/6 (100%)" in log and "\x1b[" not in log
    assert "report: held-out glyphs, 6 episodes on the runtime: meta-trained rule" in log
    nm = rep["nmnist"]
    if "skipped" not in nm:
        assert nm["source"]["folder"] == "../shared/data/events/slayer-nmnist"
        assert nm["episodes_c_ne_twin"] == 0


def test_smoke_resume_continues_from_checkpoint(smoke_run, tmp_path):
    # resuming a finished run trains nothing more and gives the same artifact's network
    import shutil

    out = tmp_path / "resumed"
    shutil.copytree(smoke_run, out)
    before = artifact.load(out / "model.elm").network
    r = _cli("metatrain", str(SMOKE), "--out", str(out), "--quiet", "--resume", "--no-eval")
    assert r.returncode == 0, r.stderr[-3000:]
    after = artifact.load(out / "model.elm").network
    for c0, c1 in zip(before.connections, after.connections, strict=True):
        assert np.array_equal(c0.weights, c1.weights)
    assert c1.rule.hyper() == c0.rule.hyper()


def test_evaluate_cli_twin(smoke_run):
    r = _cli("evaluate", str(smoke_run / "model.elm"), "--data",
             "glyphs:seed=7,classes=1000-1006", "--ways", "5", "--shots", "1", "--queries", "1",
             "--episodes", "2", "--seed", "3", "--engine", "twin")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)  # stdout is the JSON alone: progress went to stderr
    assert res["engine"] == "twin" and res["metatrained"]["episodes"] == 2
    # the generator's seed and the episode sampling seed are both kept
    assert res["source"]["generator_seed"] == 7 and res["source"]["seed"] == 3
    assert "drawing and binning episodes 2/2 (100%)" in r.stderr


def test_evaluate_cli_bad_input(tmp_path):
    r = _cli("evaluate", str(tmp_path / "missing.elm"))
    assert r.returncode == 2 and "error" in r.stderr
    shipped = str(ROOT / "edgelearn" / "data" / "oneshot_default.elm")
    for bad in ("glyphs:classes=5-3", "glyphs:classes=abc"):
        r = _cli("evaluate", shipped, "--data", bad, "--episodes", "1")
        assert r.returncode == 2 and "must be A-B with integers" in r.stderr, r.stderr
    r = _cli("evaluate", shipped, "--workers", "0")
    assert r.returncode == 2 and "--workers must be >= 1" in r.stderr, r.stderr
    for ways in ("0", "-3"):  # 0 was the readout's size (5) silently
        r = _cli("evaluate", shipped, "--ways", ways)
        assert r.returncode == 2 and "--ways must be >= 1" in r.stderr, r.stderr


def test_evaluate_cli_one_episode_is_strict_json(tmp_path):
    # one episode: no confidence interval; stdout and --json stay valid (strict) JSON
    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))

    shipped = str(ROOT / "edgelearn" / "data" / "oneshot_default.elm")
    r = _cli("evaluate", shipped, "--data", "glyphs:classes=0-5", "--shots", "1", "--queries",
             "1", "--episodes", "1", "--engine", "twin", "--quiet", "--json",
             str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert strict(r.stdout)["metatrained"]["ci95"] is None
    assert strict((tmp_path / "r.json").read_text())["metatrained"]["ci95"] is None
    assert "% +- n/a" in r.stderr


def test_evaluate_episodes_do_not_depend_on_workers():
    # generated samples made in worker processes, fetched several episodes at a time, give
    # the same episodes as one process making them one episode at a time
    from edgelearn import events
    from metatrain import evaluate as ev

    art = artifact.load(ROOT / "edgelearn" / "data" / "oneshot_default.elm")
    kw = dict(ways=3, shots=2, queries=2, episodes=5, seed=4)
    one = ev.make_episodes(art, "glyphs:seed=5,classes=10-20", workers=1, **kw)
    two = ev.make_episodes(art, "glyphs:seed=5,classes=10-20", workers=2, **kw)
    for a, b in zip((one.S, one.L, one.Q, one.QL), (two.S, two.L, two.Q, two.QL), strict=True):
        assert a.shape[0] == 5 and np.array_equal(a, b)
    ds = events.GeneratedDataset("glyphs", 20, seed=5)
    sampler = events.EpisodeSampler(ds, n_way=3, k_shot=2, n_query=2, seed=4,
                                    splits={"train": [], "val": [], "test": list(range(10, 20))})
    for i, ep in zip(range(2, 5), sampler.episode_batch("test", range(2, 5)), strict=True):
        single = sampler.episode("test", i)
        assert ep.classes == single.classes
        assert np.array_equal(ep.query_labels, single.query_labels)
        for r0, r1 in zip(ep.support + ep.query, single.support + single.query, strict=True):
            assert np.array_equal(r0.events, r1.events)


def test_c_runtime_predictions_equal_twin(smoke_run):
    from metatrain import evaluate as ev

    art = artifact.load(smoke_run / "model.elm")
    proto = model.Protocol.of_artifact(art)
    eps = ev.make_episodes(art, "glyphs", ways=5, shots=1, queries=1, episodes=2)
    try:
        c = ev.runtime_counts(art.network, proto, eps)
    except ev.RuntimeUnavailable as e:
        pytest.skip(f"C runtime without on-chip learning: {e}")
    t = ev.twin_counts(art.network, proto, eps)
    assert np.array_equal(c, t)
    assert dataclasses.is_dataclass(art.readout)


NMNIST = ROOT.parent / "shared" / "data" / "events" / "slayer-nmnist"


@pytest.mark.skipif(not NMNIST.is_dir(), reason="N-MNIST sample recordings not present")
def test_evaluate_cli_real_nmnist_folder(smoke_run):
    r = _cli("evaluate", str(smoke_run / "model.elm"), "--data", str(NMNIST), "--shots", "1",
             "--queries", "4", "--episodes", "2", "--engine", "runtime")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["source"]["dataset"] == "NMNISTFolder"
    assert res["episodes_c_ne_twin"] == 0 and res["counts_equal"]
    # 5 recordings per digit: 1 shot + 5 queries is refused with a clear error
    r = _cli("evaluate", str(smoke_run / "model.elm"), "--data", str(NMNIST), "--queries", "5",
             "--episodes", "1", "--engine", "twin")
    assert r.returncode == 2 and "samples" in r.stderr


_KILLED = """
import os, sys
from metatrain import train
phase, step = sys.argv[1], int(sys.argv[2])
log = train.Run.log
def killed(self, **rec):  # the process dies right after logging (phase, step)
    log(self, **rec)
    if rec.get("phase") == phase and rec.get("step") == step:
        os._exit(137)
train.Run.log = killed
from edgelearn.cli import main
sys.exit(main(["metatrain", *sys.argv[3:]]))
"""


def _records(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_resume_after_kills_leaves_the_metrics_of_an_uninterrupted_run(smoke_run, tmp_path):
    # killed in pre-training (no checkpoint yet), then between two meta checkpoints (after
    # logging step 5, before last.pkl at step 6): metrics.jsonl held the re-run steps twice,
    # with time_s going backwards, and the timings were the last process's alone
    out = tmp_path / "killed"
    args = [str(SMOKE), "--out", str(out), "--quiet", "--no-eval"]
    for phase, step in (("pretrain", 0), ("meta", 5)):
        r = subprocess.run([sys.executable, "-c", _KILLED, phase, str(step), *args,
                            *(["--resume"] if out.exists() else [])],
                           cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert r.returncode == 137, r.stderr[-3000:]
    killed = _records(out)
    assert killed[-1]["phase"] == "meta" and killed[-1]["step"] == 5
    r = _cli("metatrain", *args, "--resume")
    assert r.returncode == 0, r.stderr[-3000:]

    def untimed(recs):
        return [{k: v for k, v in x.items() if k != "time_s"} for x in recs
                if x["phase"] != "timing"]

    got, ref = _records(out), _records(smoke_run)
    assert untimed(got) == untimed(ref)
    assert [x["phase"] for x in got].count("timing") == 1 and got[-1]["phase"] == "timing"
    for phases in (("pretrain",), ("meta", "val")):  # one clock per phase, across processes
        t = [x["time_s"] for x in got if x["phase"] in phases]
        assert t == sorted(t), phases
    # the timings add up the processes whose work the checkpoints kept: pre-training ran in
    # the second process, whose time the resumed run carries
    timing = got[-1]
    rep = json.loads((out / "report.json").read_text())["timing"]
    assert {k: v for k, v in timing.items() if k != "phase"} == rep
    assert artifact.load(out / "model.elm").manifest["metrics"]["timing"] == rep
    assert rep["resumed"] == 1 and json.loads((smoke_run / "report.json").read_text())[
        "timing"]["resumed"] == 0
    pre = max(x["time_s"] for x in got if x["phase"] == "pretrain")
    meta = max(x["time_s"] for x in got if x["phase"] in ("meta", "val"))
    assert rep["pretrain_s"] >= round(pre, 1) > 0 and rep["metatrain_s"] >= round(meta, 1)
    assert rep["train_wall_s"] >= rep["data_s"] + rep["pretrain_s"] + rep["metatrain_s"] - 0.2
    # and the network is the uninterrupted run's
    a, b = artifact.load(smoke_run / "model.elm").network, artifact.load(out / "model.elm").network
    for c0, c1 in zip(a.connections, b.connections, strict=True):
        assert np.array_equal(c0.weights, c1.weights)


def test_resume_trims_metrics_to_the_checkpoints(tmp_path, capsys):
    # what the checkpoints cover stays; the rest (written again by the resumed run, or cut
    # short by the kill) goes, and the file is replaced whole, not rewritten in place
    import pickle

    from metatrain import train

    cfg, text = config.load(SMOKE)
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "config.toml").write_text(text)
    recs = [dict(phase="pretrain", step=0), dict(phase="pretrain", step=3),
            dict(phase="meta", step=0), dict(phase="val", step=2), dict(phase="meta", step=5),
            dict(phase="val", step=5), dict(phase="timing", data_s=1.0)]
    lines = "".join(json.dumps(x) + "\n" for x in recs) + '{"phase": "me'
    (out / "metrics.jsonl").write_text(lines)

    def resumed():
        train.Run(out, cfg, text, resume=True, quiet=False).metrics.close()
        return [(x["phase"], x.get("step")) for x in _records(out)]

    # and it says on stderr where the run goes on from (it restarted in silence)
    assert resumed() == []  # no checkpoint: pre-training and meta-training run again
    assert "holds no checkpoint yet" in capsys.readouterr().err
    (out / "metrics.jsonl").write_text(lines)
    (out / "checkpoints" / "pretrain.pkl").write_bytes(b"")
    assert resumed() == [("pretrain", 0), ("pretrain", 3)]
    assert "pre-training is done" in capsys.readouterr().err
    (out / "metrics.jsonl").write_text(lines)
    with open(out / "checkpoints" / "last.pkl", "wb") as f:
        pickle.dump({"step": 3}, f)
    assert resumed() == [("pretrain", 0), ("pretrain", 3), ("meta", 0), ("val", 2)]
    assert f"goes on from step 3 of {cfg.meta.steps}" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.toml",
                                                      "metrics.jsonl"]


def test_artifact_copy_is_atomic(tmp_path, monkeypatch):
    # --artifact was written in place: a kill mid-copy left a truncated file (the shipped
    # edgelearn/data/oneshot_default.elm); now the old file stays until the new one is whole
    import shutil

    from metatrain import train

    cfg, text = config.load(SMOKE)
    for phase in ("pretrain", "metatrain"):  # the copy, not the training, is under test
        monkeypatch.setattr(train, phase, lambda cfg, run, theta, *a, **k: theta)
    monkeypatch.setattr(train, "build_pools", lambda cfg, progress=None: {"train": None})
    dest = tmp_path / "ship"
    dest.mkdir()
    shipped = dest / "oneshot.elm"
    shipped.write_bytes(b"the old artifact")

    class Killed(BaseException):
        pass

    copy = shutil.copyfile

    def killed_mid_copy(src, dst, *a, **k):
        Path(dst).write_bytes(Path(src).read_bytes()[:64])
        raise Killed

    monkeypatch.setattr(shutil, "copyfile", killed_mid_copy)
    with pytest.raises(Killed):
        train.run(cfg, text, tmp_path / "a", quiet=True, evaluate=False, artifact=shipped)
    assert shipped.read_bytes() == b"the old artifact"
    assert [p.name for p in dest.iterdir()] == ["oneshot.elm"]
    monkeypatch.setattr(shutil, "copyfile", copy)
    train.run(cfg, text, tmp_path / "b", quiet=True, evaluate=False, artifact=shipped)
    assert shipped.read_bytes() == (tmp_path / "b" / "model.elm").read_bytes()
    assert [p.name for p in dest.iterdir()] == ["oneshot.elm"]
    artifact.load(shipped)


@pytest.mark.parametrize("raw, msg", [
    # export's range, at load rather than after training
    ({"data": {"dt_us": 5_000_000_000}}, "data.dt_us must be <= 4294967295"),
    ({"meta": {"lr_w": True}}, "meta.lr_w must be float, got True"),  # was 1.0
    ({"model": {"beta": False}}, "model.beta must be float, got False"),
    # ignored, silently, before
    ({"dist": {"num_processes": 3, "process_id": 7}},
     r"dist.num_processes = 3, dist.process_id = 7: \[dist\] is used only with "
     r"dist.distributed = true"),
    ({"dist": {"distributed": True, "num_processes": 3, "process_id": 7}},
     "dist.num_processes = 3 and dist.process_id = 7 are used only with dist.coordinator"),
])
def test_config_refuses_what_failed_or_was_ignored_after_loading(raw, msg):
    with pytest.raises(ValueError, match=msg):
        config.from_dict(raw)
    config.from_dict({"dist": {"distributed": True}})  # JAX's auto-detection: still fine
    config.from_dict({"dist": {"distributed": True, "coordinator": "h:1", "num_processes": 2,
                               "process_id": 1}})


@pytest.mark.skipif(not NMNIST.is_dir(), reason="N-MNIST sample recordings not present")
def test_metatrain_refuses_too_few_nmnist_recordings_before_any_work(tmp_path, capsys):
    # 5 recordings per digit: 1 shot + 5 queries failed after training (model.elm written,
    # no report.json), naming evaluate's --shots + --queries; now refused up front
    from edgelearn.cli import main

    cfg = tmp_path / "nq.toml"
    cfg.write_text(SMOKE.read_text().replace("nmnist_queries = 4", "nmnist_queries = 5"))
    assert "nmnist_queries = 5" in cfg.read_text()
    assert main(["metatrain", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert ("some classes hold only 5 recordings, fewer than episode.shots + "
            "eval.nmnist_queries = 1 + 5") in err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_peak_memory_is_the_process_own_not_its_parents():
    # ru_maxrss of a child started from a large process reports the parent's high-water mark
    # (Linux carries it through fork and exec): the run's manifest and the benchmark would
    # show the test worker's or the bench runner's memory. peak_rss_mb reads VmHWM.
    hold = np.ones(600 * 2**20 // 8)  # 600 MiB, touched
    code = ("import resource; from metatrain.train import peak_rss_mb; "
            "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    own, inherited = float(out[0]), float(out[1])
    assert hold.sum() > 0 and inherited > 600 and own < 500
