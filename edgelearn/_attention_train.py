"""Training the in-context model: a float model meta-trained on episodes, its conversion to the
core's integers, and fine-tuning of those integers in the twin (surrogate gradients reaching
the token projection, the neuron thresholds and the key-write rule's hyperparameters).

The four variants of the paper (``docs/attention.md``):

- **float**: :func:`float_logits`, rates instead of spikes, real-valued weights;
- **quantized**: :func:`quantized_predict`, the same equations in integers with the deployed
  mantissas (int8 projection, integer keys written like the rule writes them), no spikes;
- **twin** / **C**: the spiking core, :func:`edgelearn.attention.run_twin` / ``run_c``.

``python -m edgelearn._attention_train --out edgelearn/data/incontext_model.json`` retrains
(about 1.5 minutes on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from . import attention as A
from . import constants as C

# --------------------------------------------------------------------------- float model


def float_init(key, n_hidden: int, n_pixels: int) -> dict:
    import jax
    import jax.numpy as jnp

    return {"W": jax.random.normal(key, (n_hidden, n_pixels)) * 0.3,
            "b": jnp.zeros((n_hidden,)), "g": jnp.asarray(20.0), "beta": jnp.asarray(4.0)}


def float_codes(p: dict, pixels, n_steps: int):
    """Rates ``rho = clip(W x + b, 0, 1)`` of the proj neurons for axon rates ``x`` (mean of
    the raster over time); counts ``h = n_steps rho``; key ``clip(g h, 0, 127)``."""
    import jax.numpy as jnp

    x = jnp.mean(pixels.astype(jnp.float32), axis=-2)
    rho = jnp.clip(x @ p["W"].T + p["b"], 0.0, 1.0)
    h = n_steps * rho
    return h, jnp.clip(p["g"] * h, 0.0, 127.0)


def float_logits(p: dict, ctx, ctx_labels, query, n_labels: int, n_steps: int):
    """Label log-probabilities ``(..., Q, L)``: softmax attention of the query counts over the
    context keys, then the one-hot values of the context labels."""
    import jax
    import jax.numpy as jnp

    _, k = float_codes(p, ctx, n_steps)            # (..., N, H)
    h, _ = float_codes(p, query, n_steps)          # (..., Q, H)
    score = jnp.einsum("...qh,...nh->...qn", h, k) / (127.0 * n_steps)
    att = jax.nn.softmax(p["beta"] * score, axis=-1)
    onehot = jax.nn.one_hot(ctx_labels, n_labels)  # (..., N, L)
    prob = jnp.einsum("...qn,...nl->...ql", att, onehot)
    return jnp.log(prob + 1e-9)


def train_float(pool, *, n_hidden: int = 64, steps: int = 3000, batch: int = 64,
                n_way: int = 5, lr: float = 3e-3, seed: int = 0, log=print) -> dict:
    import jax
    import jax.numpy as jnp
    import optax

    from ._attention_data import sample_episodes

    n_steps, n_pix = pool.x.shape[-2:]
    p = float_init(jax.random.PRNGKey(seed), n_hidden, n_pix)
    opt = optax.adam(lr)
    st = opt.init(p)

    def loss(p, ctx, cl, q, ql):
        lp = float_logits(p, ctx, cl, q, n_way, n_steps)
        nll = -jnp.take_along_axis(lp, ql[..., None], -1).mean()
        return nll, jnp.mean(jnp.argmax(lp, -1) == ql)

    @jax.jit
    def update(p, st, ctx, cl, q, ql):
        (l, a), g = jax.value_and_grad(loss, has_aux=True)(p, ctx, cl, q, ql)
        u, st = opt.update(g, st)
        return optax.apply_updates(p, u), st, l, a

    t0 = time.time()
    for i in range(steps):
        ep = sample_episodes(pool, batch, n_way=n_way, seed=seed * 100003 + i)
        p, st, l, a = update(p, st, ep.ctx, ep.ctx_labels, ep.query, ep.query_labels)
        if i % 500 == 0 or i == steps - 1:
            log(f"float step {i}: loss {float(l):.3f} acc {float(a):.3f} "
                f"({time.time() - t0:.0f} s)")
    return p


def float_predict(p: dict, ep, n_labels: int) -> np.ndarray:
    n_steps = ep.ctx.shape[-2]
    return np.asarray(np.argmax(float_logits(p, ep.ctx, ep.ctx_labels, ep.query, n_labels,
                                             n_steps), -1))


# --------------------------------------------------------------------------- integers


def _pow2_fit(x: float, lo: int, hi: int, emin: int, emax: int) -> tuple[int, int]:
    """``(mant, exp)`` with ``mant * 2^exp ~ x``, ``mant`` in range, largest precision."""
    for e in range(emin, emax + 1):
        m = int(np.floor(x / 2.0**e + 0.5))
        if lo <= m <= hi:
            return m, e
    return int(np.clip(np.floor(x / 2.0**emax + 0.5), lo, hi)), emax


def to_model(p: dict, *, n_steps: int, pixel_map: dict, slot_vth: int = C.VTH_MANT_MAX,
             inhib_w: int = 127, ramp_steps: int = 16) -> A.AttentionModel:
    """Integers for the float parameters: ``W x + b`` in threshold units becomes mantissas
    ``W * vth`` (exponent 0: per-step input ``64 * vth * W s``, threshold ``64 * vth``)."""
    W = np.asarray(p["W"], np.float64)
    b = np.asarray(p["b"], np.float64)
    vth = int(np.clip(np.floor(127.0 / max(np.abs(W).max(), 1e-6)), 1, C.VTH_MANT_MAX))
    w_int = np.clip(np.floor(W * vth + 0.5), -128, 127).astype(np.int8)
    bias_full = b * vth * 64.0
    bexp = 0
    while np.abs(bias_full).max() / 2**bexp > C.BIAS_MANT_MAX and bexp < C.BIAS_EXP_MAX:
        bexp += 1
    bias = np.clip(np.floor(bias_full / 2**bexp + 0.5), C.BIAS_MANT_MIN,
                   C.BIAS_MANT_MAX).astype(np.int32)
    impulse = int(np.clip(np.floor(float(p["g"]) * 16 + 0.5), 0, C.IMPULSE_MAX))
    return A.AttentionModel(
        w_proj=w_int, proj_bias=bias, proj_vth=vth, proj_bias_exp=bexp, proj_exp=0,
        key_exp=-6, key_coef=1, key_decay=0, key_impulse=impulse, slot_vth=int(slot_vth),
        slot_bias=0, inhib_w=int(inhib_w), inhib_exp=7, value_exp=0, out_vth=32,
        n_steps=int(n_steps), pixel_map=dict(pixel_map), go_w=0, go_exp=0,
        ramp_steps=int(ramp_steps))


def calibrate(m: A.AttentionModel, pool, *, n_episodes: int = 96, seed: int = 3,
              n_way: int = 5) -> A.AttentionModel:
    """Slot threshold and ramp from the twin's own scores: with the ramp off, the slots'
    potentials after the query's events are the attention scores; the threshold sits just
    above the highest top score seen, and the ramp covers the range of top scores in
    ``ramp_steps`` equal steps."""
    from ._attention_data import sample_episodes

    m0 = dataclasses.replace(m, slot_vth=C.VTH_MANT_MAX, go_w=0)
    ep = sample_episodes(pool, n_episodes, n_way=n_way, seed=seed)
    v = twin_scores(m0, ep, n_way)                              # (B, Q, S)
    top = v.max(-1).ravel()
    hi, lo = np.percentile(top, 99.5) * 1.05, np.percentile(top, 0.5) * 0.95
    vth = int(np.clip(np.ceil(hi / 64), 1, C.VTH_MANT_MAX))
    g = (vth * 64 - lo) / max(1, m.ramp_steps)
    go_w, go_exp = _pow2_fit(g / 64.0, 1, 127, -8, 7)
    return dataclasses.replace(m, slot_vth=vth, go_w=go_w, go_exp=go_exp)


def quantized_scores(m: A.AttentionModel, ctx: np.ndarray, query: np.ndarray):
    """The quantized (non-spiking) model in integers: proj counts ``floor(T * clip(W' x +
    bias, 0, thr) / thr)`` from the deployed mantissas (``W'`` after the sign-mode truncation),
    keys ``min(127, count * impulse // 16)`` written like the rule writes them (``w <- x1``),
    scores ``key . count`` (int64). Returns ``(..., Q, N)``."""
    w = m.w_proj.astype(np.int64)
    if np.any(w < 0) and np.any(w > 0):
        w = (w >> 1) << 1
    thr = 64 * m.proj_vth

    def counts(px):
        s = px.astype(np.int64).sum(-2)                      # axon spike counts (..., P)
        drive = 64 * (s @ w.T) * 2**m.proj_exp + m.n_steps * (
            m.proj_bias.astype(np.int64) << m.proj_bias_exp)
        return np.clip(drive, 0, m.n_steps * thr) // thr     # (..., H) in [0, T]

    k = np.minimum(127, (counts(ctx) * m.key_impulse) // 16)
    return np.einsum("...qh,...nh->...qn", counts(query), k)


def quantized_predict(m: A.AttentionModel, ep, n_labels: int) -> np.ndarray:
    sc = quantized_scores(m, ep.ctx, ep.query)
    best = np.argmax(sc, -1)                                 # (..., Q) slot with top score
    return np.take_along_axis(ep.ctx_labels, best.reshape(best.shape[0], -1), -1).reshape(
        best.shape)


# --------------------------------------------------------------------------- twin


def episode_programs(m: A.AttentionModel, ep, n_labels: int):
    """Context and query rasters for a batch of episodes (numpy)."""
    n_ctx = ep.ctx.shape[1]
    lay = A.layout(m, n_ctx, n_labels)
    cr, ct = zip(*[A.context_program(lay, ep.ctx[b], ep.ctx_labels[b], t_token=m.t_token)
                   for b in range(ep.ctx.shape[0])], strict=True)
    qr = np.stack([A.query_raster(lay, ep.query[b], t_token=m.t_token, ramp_steps=m.ramp_steps)
                   for b in range(ep.ctx.shape[0])])
    return lay, np.stack(cr), np.stack(ct), qr


def twin_counts_fn(net, lay: A.Layout, n_steps: int):
    """A jittable ``f(params, ctx_raster, ctx_third, q_raster) -> (out counts (Q, L),
    slot potentials (Q, S))`` of one episode on the twin (differentiable in ``params``); the
    potentials are the slots' ``v`` one step after the last proj input arrived (the scores,
    plus the ramp's first increment)."""
    import jax.numpy as jnp

    from . import twin

    topo = twin.topology(net)
    n_steps = int(n_steps)

    def f(params, ctx_r, ctx_t, q_r):
        st = twin.init_state(topo, params, seed=net.seed)
        for k in range(ctx_r.shape[0]):
            st = twin.reset_neurons(st)
            st = twin.simulate(topo, params, st, ctx_r[k], third=ctx_t[k]).final_state
        st = twin.set_learning(twin.reset_neurons(st), False)
        res = twin.simulate(topo, params, st, q_r, probe=True)
        out = jnp.sum(res.spikes[..., lay.out0:lay.out0 + lay.n_labels], axis=-2)
        v = res.v[..., n_steps + 1, lay.slot0:lay.slot0 + lay.n_slots]
        return out, v

    return f


def params_to_model(m: A.AttentionModel, params) -> A.AttentionModel:
    """The deployed integers of trained twin ``params`` (the same rounding as the twin's)."""
    from . import plasticity

    q = lambda x, lo, hi: int(np.clip(np.floor(float(x) + 0.5), lo, hi))  # noqa: E731
    pp, ps = params.pops[0], params.pops[1]
    w = np.clip(np.floor(np.asarray(params.conns[A.C_PIX].w)[:, :m.n_pixels] + 0.5), -128, 127)
    bias = np.clip(np.floor(np.asarray(pp.bias_mant) + 0.5), C.BIAS_MANT_MIN, C.BIAS_MANT_MAX)
    hy = plasticity.to_hyper(params.conns[A.C_KEY].hyper, m.rules()[0])  # its width limits
    return dataclasses.replace(
        m, w_proj=w.astype(np.int8), proj_bias=bias.astype(np.int32),
        proj_vth=q(pp.vth_mant, 0, C.VTH_MANT_MAX), slot_vth=q(ps.vth_mant, 0, C.VTH_MANT_MAX),
        slot_bias=q(np.asarray(ps.bias_mant).mean(), C.BIAS_MANT_MIN, C.BIAS_MANT_MAX),
        key_coef=int(hy.coef[0]), key_decay=int(hy.decay[0]), key_impulse=int(hy.impulse[0]))


def finetune_twin(m: A.AttentionModel, pool, *, steps: int = 200, batch: int = 16,
                  n_way: int = 5, lr: float = 0.1, beta: float = 40.0, seed: int = 1,
                  loss_kind: str = "softmax", margin: float = 2.0,
                  log=print) -> A.AttentionModel:
    """Surrogate-gradient training of the deployed integers in the twin, on whole episodes
    (context written by the plasticity processor, queries read through it). Loss: softmax
    cross-entropy of the slots' potentials after the query (``beta * v / threshold``) against
    the slot(s) holding the query's label. Trained: the projection mantissas and biases, the
    proj threshold and the key-write rule's hyperparameters (coefficient, x1 decay and
    impulse); the slot threshold and ramp are re-calibrated afterwards."""
    import jax
    import jax.numpy as jnp
    import optax

    from . import twin
    from ._attention_data import sample_episodes

    # The loss reads the scores before the ramp, where the lateral inhibition plays no part;
    # through the surrogate its 2^20-sized weights would make a loop of gain >> 1 over the
    # steps (exploding gradients), so the training network leaves it (and the ramp) out.
    net = A.build_network(dataclasses.replace(m, inhib_w=0, go_w=0), n_way, n_way)
    lay = A.layout(m, n_way, n_way)
    params = twin.params_from_network(net)
    f = twin_counts_fn(net, lay, m.n_steps)
    thr = 64.0 * m.slot_vth
    ramp = max(1.0, m.go_w * 2.0 ** (m.go_exp + 6))  # one ramp increment of v

    def trainable(p):
        return {"w": p.conns[A.C_PIX].w, "bias": p.pops[0].bias_mant,
                "vth_p": p.pops[0].vth_mant, "hyper": p.conns[A.C_KEY].hyper}

    def merge(p, t):
        pops = list(p.pops)
        pops[0] = dataclasses.replace(pops[0], bias_mant=t["bias"], vth_mant=t["vth_p"])
        conns = list(p.conns)
        conns[A.C_PIX] = dataclasses.replace(conns[A.C_PIX], w=t["w"])
        conns[A.C_KEY] = dataclasses.replace(conns[A.C_KEY], hyper=t["hyper"])
        return dataclasses.replace(p, pops=tuple(pops), conns=tuple(conns))

    theta = trainable(params)
    # per-leaf learning rates in the leaves' own integer units
    scale = {"w": 1.0, "bias": 20.0, "vth_p": 1.0,
             "hyper": 1.0}
    opt = optax.adam(lr)
    st = opt.init(theta)

    def loss(theta, cr, ct, qr, cl, ql):
        t = _unscale(theta, scale)
        p = merge(params, t)
        _, v = jax.vmap(f, (None, 0, 0, 0))(p, cr, ct, qr)        # (B, Q, S)
        hit = cl[:, None, :] == ql[:, :, None]                     # (B, Q, S) slot has label
        if loss_kind == "margin":
            # the race's hard-max: the right slot ahead of the best wrong one by `margin`
            # ramp increments
            right = jnp.max(jnp.where(hit, v, -1e9), -1)
            wrong = jnp.max(jnp.where(hit, -1e9, v), -1)
            nll = jnp.mean(jax.nn.relu(margin - (right - wrong) / ramp))
        else:
            lp = jax.nn.log_softmax(beta * v / thr, -1)
            nll = -jnp.mean(jax.nn.logsumexp(jnp.where(hit, lp, -1e9), -1))
        best = jnp.take_along_axis(cl, jnp.argmax(v, -1), -1)
        return nll, jnp.mean(best == ql)

    theta = _unscale(theta, {k: 1.0 / v for k, v in scale.items()})
    st = opt.init(theta)

    @jax.jit
    def update(theta, st, cr, ct, qr, cl, ql):
        (l, a), g = jax.value_and_grad(loss, has_aux=True)(theta, cr, ct, qr, cl, ql)
        u, st = opt.update(g, st)
        return optax.apply_updates(theta, u), st, l, a

    t0 = time.time()
    for i in range(steps):
        ep = sample_episodes(pool, batch, n_way=n_way, n_query=1, seed=seed * 7919 + i)
        _, cr, ct, qr = episode_programs(m, ep, n_way)
        theta, st, l, a = update(theta, st, cr, ct.astype(np.float32), qr, ep.ctx_labels,
                                 ep.query_labels)
        if i % 20 == 0 or i == steps - 1:
            log(f"twin step {i}: loss {float(l):.3f} acc {float(a):.3f} "
                f"({time.time() - t0:.0f} s)")
    return dataclasses.replace(params_to_model(m, merge(params, _unscale(theta, scale))),
                               inhib_w=m.inhib_w, go_w=m.go_w)


def _unscale(theta: dict, scale: dict) -> dict:
    """Each leaf times its scale (the optimiser works in units of ``1 / scale``)."""
    import jax

    return {k: jax.tree.map(lambda x, s=scale[k]: x * s, v) for k, v in theta.items()}


def twin_predict(m: A.AttentionModel, ep, n_labels: int, *, chunk: int = 64):
    """Twin predictions ``(B, Q)`` and out counts ``(B, Q, L)`` for a batch of episodes."""
    import jax

    from . import twin

    n_ctx = ep.ctx.shape[1]
    net = A.build_network(m, n_ctx, n_labels)
    lay = A.layout(m, n_ctx, n_labels)
    params = twin.params_from_network(net)
    f = jax.jit(jax.vmap(twin_counts_fn(net, lay, m.n_steps), (None, 0, 0, 0)))
    outs, pots = [], []
    for a in range(0, ep.ctx.shape[0], chunk):
        sub = dataclasses.replace(ep, ctx=ep.ctx[a:a + chunk],
                                  ctx_labels=ep.ctx_labels[a:a + chunk],
                                  query=ep.query[a:a + chunk],
                                  query_labels=ep.query_labels[a:a + chunk],
                                  classes=ep.classes[a:a + chunk])
        _, cr, ct, qr = episode_programs(m, sub, n_labels)
        o, v = f(params, cr, ct.astype(np.float32), qr)
        outs.append(np.asarray(o).astype(np.int32))
        pots.append(np.asarray(v).astype(np.int64))
    counts = np.concatenate(outs)
    return A.predict(counts), counts, np.concatenate(pots)


def twin_scores(m: A.AttentionModel, ep, n_labels: int) -> np.ndarray:
    """The slots' potentials after each query's events ``(B, Q, S)`` on the twin."""
    return twin_predict(m, ep, n_labels)[2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(A.default_model_path()))
    ap.add_argument("--train-pool", help=".npy of packed bits (n_classes, n, T, P), else generated")
    ap.add_argument("--float-steps", type=int, default=3000)
    ap.add_argument("--twin-steps", type=int, default=0,
                    help="twin fine-tuning steps (0: the shipped model's recipe)")
    ap.add_argument("--twin-lr", type=float, default=0.1)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--float-params", help="start from these float params (.npz), skip float")
    args = ap.parse_args(argv)
    from pathlib import Path

    from ._attention_data import PIXEL_MAP, TRAIN_CLASSES, Pool, glyph_pool

    if args.train_pool:
        x = np.unpackbits(np.load(args.train_pool), axis=-1)
        x = x[..., :2 * PIXEL_MAP["width"] * PIXEL_MAP["height"]].astype(bool)
        pool = Pool(x, tuple(range(x.shape[0])))
    else:
        pool = glyph_pool(0, TRAIN_CLASSES, 6)
    out = Path(args.out)
    if args.float_params:
        with np.load(args.float_params) as z:
            p = {k: z[k] for k in z.files}
    else:
        p = train_float(pool, n_hidden=args.hidden, steps=args.float_steps)
        np.savez(out.with_name("incontext_float.npz"), **{k: np.asarray(v) for k, v in p.items()})
    m = calibrate(to_model(p, n_steps=pool.x.shape[2], pixel_map=PIXEL_MAP), pool)
    print(f"converted: proj_vth {m.proj_vth}, impulse {m.key_impulse}, slot_vth {m.slot_vth}, "
          f"ramp {m.go_w} * 2^{m.go_exp}", flush=True)
    if args.twin_steps:
        m = finetune_twin(m, pool, steps=args.twin_steps, lr=args.twin_lr)
        m = calibrate(m, pool)
    m.save(out)
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
