"""Several processes (``jax.distributed``, the multi-host path) on this machine's CPU.

Two ``edgelearn metatrain`` processes joined through a local coordinator (gloo collectives)
must train the network that one process with two forced CPU devices trains: the same episodes
are sharded the same way, only the all-reduce crosses a process boundary. Process 0 alone
writes the run folder; on ``--resume`` the other process gets the checkpoint by broadcast (its
``--out`` is an empty folder here, as on a host that does not share the file system).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from edgelearn import artifact

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
name = "two-processes"
[data]
steps = 12
train_classes = [0, 10]
val_classes = [10, 13]
test_classes = [13, 16]
samples = 4
eval_samples = 4
[episode]
ways = 3
shots = 1
queries = 2
[model]
hidden = 12
ways = 3
steps = 12
hid_vth = 150
out_vth = 60
[pretrain]
steps = 2
ways = 3
samples = 4
[meta]
batch = 4
steps = 3
val_every = 2
val_episodes = 4
checkpoint_every = 1
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metatrain(cfg: Path, out: Path, *extra: str, env: dict | None = None):
    return subprocess.Popen([sys.executable, "-m", "edgelearn", "metatrain", str(cfg), "--out",
                             str(out), "--quiet", "--no-eval", *extra], cwd=ROOT,
                            env=dict(os.environ, JAX_PLATFORMS="cpu", **(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _two_processes(cfg: Path, outs: tuple[Path, Path], *extra: str) -> None:
    port = _free_port()
    procs = [_metatrain(cfg, outs[i], "--coordinator", f"127.0.0.1:{port}",
                        "--num-processes", "2", "--process-id", str(i), *extra)
             for i in range(2)]
    try:
        res = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for i, (p, (_, err)) in enumerate(zip(procs, res, strict=True)):
        assert p.returncode == 0, f"process {i}: {err[-3000:]}"


def _meta_metrics(out: Path) -> list[tuple[float, float]]:
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["loss"], r["grad_norm"]) for r in recs if r["phase"] == "meta"]


def test_two_processes_train_what_two_devices_train(tmp_path):
    cfg = tmp_path / "two.toml"
    cfg.write_text(CONFIG)
    dist, other, ref = tmp_path / "dist", tmp_path / "other", tmp_path / "ref"
    _two_processes(cfg, (dist, other))
    assert not other.exists()  # only process 0 writes
    run = json.loads((dist / "run.json").read_text())
    assert run["processes"] == 2 and len(run["devices"]) == 2

    p = _metatrain(cfg, ref, env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]

    np.testing.assert_allclose(_meta_metrics(dist), _meta_metrics(ref), rtol=1e-5)
    a, b = artifact.load(dist / "model.elm"), artifact.load(ref / "model.elm")
    for ca, cb in zip(a.network.connections, b.network.connections, strict=True):
        assert np.array_equal(ca.weights, cb.weights)
        assert (ca.rule is None) == (cb.rule is None)
        if ca.rule is not None:
            assert ca.rule.hyper() == cb.rule.hyper()

    # resuming the finished run: process 1 has no folder, yet must start where process 0's
    # checkpoint says (step 3 of 3), or the two would disagree on the collectives and hang
    _two_processes(cfg, (dist, tmp_path / "other2"), "--resume")
    assert not (tmp_path / "other2").exists()
    after = artifact.load(dist / "model.elm")
    for ca, cb in zip(a.network.connections, after.network.connections, strict=True):
        assert np.array_equal(ca.weights, cb.weights)


def test_distributed_flags_go_together(tmp_path):
    cfg = tmp_path / "two.toml"
    cfg.write_text(CONFIG)
    for extra, msg in ((["--coordinator", "127.0.0.1:1"], "go together"),
                       (["--coordinator", "127.0.0.1:1", "--num-processes", "2",
                         "--process-id", "2"], "must be in 0 .. --num-processes - 1 = 1")):
        p = _metatrain(cfg, tmp_path / "x", *extra)
        _, err = p.communicate(timeout=120)
        assert p.returncode == 2 and msg in err, err
        assert not (tmp_path / "x").exists()

