"""Data-parallel meta-training: episodes sharded over 2 forced CPU devices give the loss and
gradient of the 1-device run (within float tolerance).

Runs in a subprocess: the device count is fixed when JAX starts
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import dataclasses, jax, jax.numpy as jnp, numpy as np
    from metatrain import config, model, train
    assert len(jax.devices()) == 2, jax.devices()
    cfg = config.from_dict({
        "data": {"steps": 12, "train_classes": [0, 10], "val_classes": [10, 13],
                 "test_classes": [13, 16], "samples": 4},
        "episode": {"ways": 3, "shots": 1, "queries": 2},
        "model": {"hidden": 12, "ways": 3, "steps": 12, "hid_vth": 150, "out_vth": 60},
        "pretrain": {"ways": 3},
        "meta": {"batch": 4, "steps": 3}})
    rng = np.random.default_rng(0)
    B, n = 4, 3
    S = (rng.random((B, n, 12, 578)) < 0.08).astype(np.float32)
    Q = (rng.random((B, 2 * n, 12, 578)) < 0.08).astype(np.float32)
    L = np.tile(np.arange(n), (B, 1))
    QL = np.tile(np.repeat(np.arange(n), 2), (B, 1))
    th = model.init_theta(cfg.model, jax.random.PRNGKey(0))
    th["w_in"] = jnp.abs(th["w_in"]); th["w0"] = th["w0"] + 20.0
    out = {}
    for nd in (1, 2):
        mesh = train.make_mesh(nd)
        f = train.make_grad_fn(cfg, mesh)
        (loss, acc), g = f(th, *train.put_batch(mesh, (S, L, Q, QL)))
        out[nd] = (float(loss), jax.tree.map(np.asarray, g))
        if nd == 2:
            shard = train.put_batch(mesh, (S,))[0]
            assert len(shard.sharding.device_set) == 2
    l1, g1 = out[1]
    l2, g2 = out[2]
    assert abs(l1 - l2) < 1e-5, (l1, l2)
    worst = 0.0
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        worst = max(worst, float(np.max(np.abs(a - b))) if a.size else 0.0)
    print("OK max |g1 - g2| =", worst)
""")


def test_two_devices_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "OK" in r.stdout
