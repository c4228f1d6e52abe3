"""The one-shot learner: a spiking feature extractor and a plastic readout, on the twin.

Network (every layer is a population of the core, every weight an int8 mantissa)::

    input port (binned events) --dense--> hidden LIF --plastic (three-factor rule)--> out (ways)

Meta-parameters ``theta`` (a dict PyTree of float32 leaves, see :func:`init_theta`):

- ``w_in`` ``(H, n_inputs)``: input -> hidden mantissas (the feature extractor);
- ``hid``: hidden population ``du, dv, vth_mant`` (scalars) and ``bias_mant`` ``(H,)``;
- ``out``: readout population ``du, dv, vth_mant, bias_mant`` (scalars: classes are arbitrary
  in each episode, so the readout is tied across its neurons);
- ``w0`` ``(H,)``: the readout's initial weight row, the same for every output neuron;
- ``hyper``: the rule's :class:`edgelearn.plasticity.HyperParams` (coefficient mantissas, trace
  decays and impulses, gate thresholds);
- ``beta``: the loss's inverse temperature (not deployed).

Inner loop (on-chip learning, exactly as the device runs it; :func:`episode_logits`): the
``N*K`` shots go through the network one after another (round-robin over classes), the neurons
reset between samples (:func:`edgelearn.twin.reset_neurons`) while the plastic weights, tags and
traces carry over; during a shot the labelled class's output neuron holds third factor
``r_pos``, the others ``r_neg``. Then learning is switched off (spec 5.4) and each query runs
from the learned state; the prediction is the output neuron with the most spikes (ties to the
lowest index). Query order cannot matter with learning off (no neuron reads traces, time or
the third factor), so queries run in parallel.

Loss: cross-entropy of ``beta * spike_count`` over the ``N`` output neurons of each query
(spike counts through the surrogate gradient of spec section 8).

``order = "first"`` (first-order): every shot's weight change is differentiated as if the
plastic state it starts from were a constant: ``w_k = w_{k-1} + D_k(sg(state_{k-1}), theta)``.
The identity path from ``w0`` to the learned weights and each shot's own dependence on the
rule's hyperparameters and the network remain; the Jacobians of one shot's learning with
respect to the weights and traces left by earlier shots are dropped. ``"full"`` keeps them.
``remat=True`` wraps each shot in ``jax.checkpoint``: the backward pass recomputes a shot's
100-step forward instead of storing it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from edgelearn import INPUT, Connection, Network, Population, fixed, plasticity, rule, twin
from edgelearn import artifact as art_mod
from edgelearn import constants as C

_F = jnp.float32


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Static structure and initial values of the learner (all integers as deployed)."""

    n_inputs: int = 578
    hidden: int = 128
    ways: int = 5
    steps: int = 60  # timesteps per sample
    hid_du: int = 1024
    hid_dv: int = 512
    hid_vth: int = 160
    hid_w_exp: int = 0
    hid_refractory: int = 1
    w_init_std: float = 30.0
    out_du: int = 4095
    out_dv: int = 0
    out_vth: int = 2000
    out_w_exp: int = 0
    out_refractory: int = 1
    # hidden neurons after the ``hidden`` feature neurons that get no input and the largest
    # bias: constant sources into the plastic readout, from which the rule can learn a
    # per-class bias (not features: excluded from ``hidden_counts``)
    bias_units: int = 0
    w0_init: float = -3.0
    rule: str = ("dw = 4 * 2^-14 * x1 * (r - y1) when |r - y1| > 8\n"
                 "x1.decay = 205\nx1.impulse = 128\ny1.decay = 41\ny1.impulse = 64\n"
                 "t_epoch = 10\n")
    r_pos: int = 64
    r_neg: int = 0
    beta: float = 1.0
    seed: int = 1  # the network's PRNG seed (stochastic rounding)

    @property
    def n_hidden(self) -> int:
        """Neurons of the hidden population: the features, then the bias units."""
        return self.hidden + self.bias_units

    @property
    def parsed_rule(self) -> rule.Rule:
        return rule.parse(self.rule, source="model.rule")


def init_theta(cfg: ModelConfig, key: jax.Array) -> dict[str, Any]:
    """Initial meta-parameters (float32 PyTree)."""
    w_in = jax.random.normal(key, (cfg.hidden, cfg.n_inputs), _F) * cfg.w_init_std
    return {
        "w_in": jnp.clip(w_in, -127, 127),
        "hid": {"du": jnp.asarray(cfg.hid_du, _F), "dv": jnp.asarray(cfg.hid_dv, _F),
                "vth_mant": jnp.asarray(cfg.hid_vth, _F),
                "bias_mant": jnp.zeros((cfg.hidden,), _F)},
        "out": {"du": jnp.asarray(cfg.out_du, _F), "dv": jnp.asarray(cfg.out_dv, _F),
                "vth_mant": jnp.asarray(cfg.out_vth, _F), "bias_mant": jnp.asarray(0.0, _F)},
        "w0": jnp.full((cfg.n_hidden,), cfg.w0_init, _F),
        "hyper": plasticity.hyper_params(cfg.parsed_rule),
        "beta": jnp.asarray(cfg.beta, _F),
    }


@functools.lru_cache(maxsize=32)
def topology(cfg: ModelConfig) -> twin.Topology:
    """The network's structure (sizes, connections, the rule's static part) for the twin."""
    z = np.zeros(())
    theta = {"w_in": np.zeros((cfg.hidden, cfg.n_inputs)),
             "hid": {"du": z, "dv": z, "vth_mant": z, "bias_mant": np.zeros(cfg.hidden)},
             "out": {"du": z, "dv": z, "vth_mant": z, "bias_mant": z},
             "w0": np.zeros(cfg.n_hidden)}
    return twin.topology(to_network(cfg, theta, hyper=cfg.parsed_rule.hyper()))


def _q(x, lo, hi) -> np.ndarray:
    """Deployed integer of a float parameter: the twin's own rounding
    (:func:`edgelearn.fixed.quantize_np`, float32 round half up, clip), so the deployed network
    is the trained one."""
    return fixed.quantize_np(x, lo, hi)


def to_network(cfg: ModelConfig, theta: dict[str, Any], *, hyper=None) -> Network:
    """The deployable :class:`Network` (integers) for ``theta``; ``hyper`` (an
    :class:`edgelearn.rule.Hyper`) overrides the rule's hyperparameters."""
    h, o = theta["hid"], theta["out"]
    k = cfg.bias_units
    bias = np.concatenate([_q(h["bias_mant"], C.BIAS_MANT_MIN, C.BIAS_MANT_MAX),
                           np.full(k, C.BIAS_MANT_MAX, np.int64)])
    w_in = np.concatenate([_q(theta["w_in"], C.WEIGHT_MIN, C.WEIGHT_MAX),
                           np.zeros((k, cfg.n_inputs), np.int64)])
    hid = Population("hidden", cfg.n_hidden, du=int(_q(h["du"], 0, C.DECAY_MAX)),
                     dv=int(_q(h["dv"], 0, C.DECAY_MAX)),
                     vth_mant=int(_q(h["vth_mant"], 0, C.VTH_MANT_MAX)),
                     bias_mant=bias,
                     refractory=cfg.hid_refractory)
    out = Population("out", cfg.ways, du=int(_q(o["du"], 0, C.DECAY_MAX)),
                     dv=int(_q(o["dv"], 0, C.DECAY_MAX)),
                     vth_mant=int(_q(o["vth_mant"], 0, C.VTH_MANT_MAX)),
                     bias_mant=np.full(cfg.ways, _q(o["bias_mant"], C.BIAS_MANT_MIN,
                                                    C.BIAS_MANT_MAX)),
                     refractory=cfg.out_refractory)
    r = cfg.parsed_rule
    # with the rule: its terms' width limits, as the twin applied them in training (without,
    # a coefficient the twin held at its limit was exported unclipped and refused)
    r = r.with_hyper(hyper if hyper is not None else plasticity.to_hyper(theta["hyper"], r))
    w0 = np.broadcast_to(_q(theta["w0"], C.WEIGHT_MIN, C.WEIGHT_MAX), (cfg.ways, cfg.n_hidden))
    conns = (
        Connection(INPUT, "hidden", w_in,
                   w_exp=cfg.hid_w_exp, mixed=False),
        Connection("hidden", "out", np.array(w0), w_exp=cfg.out_w_exp, mixed=False, rule=r),
    )
    return Network(cfg.n_inputs, (hid, out), conns, seed=cfg.seed)


def to_params(cfg: ModelConfig, theta: dict[str, Any]) -> twin.Params:
    """The twin's :class:`Params` for ``theta`` (differentiable)."""
    h, o = theta["hid"], theta["out"]
    one = jnp.asarray(1.0, _F)
    k = cfg.bias_units
    bias = jnp.concatenate([h["bias_mant"], jnp.full((k,), float(C.BIAS_MANT_MAX), _F)])
    w_in = jnp.concatenate([theta["w_in"], jnp.zeros((k, cfg.n_inputs), _F)])
    hid = twin.PopParams(du=h["du"], dv=h["dv"], vth_mant=h["vth_mant"],
                         bias_mant=bias, bias_exp=jnp.asarray(0.0, _F),
                         refractory=one * cfg.hid_refractory)
    out = twin.PopParams(du=o["du"], dv=o["dv"], vth_mant=o["vth_mant"],
                         bias_mant=jnp.broadcast_to(o["bias_mant"], (cfg.ways,)),
                         bias_exp=jnp.asarray(0.0, _F), refractory=one * cfg.out_refractory)
    c_in = twin.ConnParams(w=w_in, w_exp=one * cfg.hid_w_exp, mixed=0.0 * one)
    c_out = twin.ConnParams(w=jnp.broadcast_to(theta["w0"], (cfg.ways, cfg.n_hidden)),
                            w_exp=one * cfg.out_w_exp, mixed=0.0 * one, hyper=theta["hyper"])
    return twin.Params((hid, out), (c_in, c_out))


def shot_order(labels: np.ndarray, ways: int) -> np.ndarray:
    """Indices of the support samples in presentation order: round-robin over classes
    (class 0's first shot, class 1's first shot, ..., class 0's second shot, ...)."""
    labels = np.asarray(labels)
    per = [np.flatnonzero(labels == c) for c in range(ways)]
    k = max(len(p) for p in per)
    return np.array([p[i] for i in range(k) for p in per if i < len(p)], np.int64)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How the host drives the core for one-shot learning (hashable, static under ``jit``):
    the readout population starts at neuron ``out_offset`` and has ``ways`` neurons, connection
    ``plastic`` is the learning one, a sample lasts ``steps``, the labelled neuron's third factor
    is ``r_pos`` and the others' ``r_neg``; ``seed`` is the network's PRNG seed."""

    out_offset: int
    ways: int
    steps: int
    r_pos: int
    r_neg: int
    seed: int
    plastic: int

    @classmethod
    def of(cls, cfg: ModelConfig) -> Protocol:
        return cls(cfg.n_hidden, cfg.ways, cfg.steps, cfg.r_pos, cfg.r_neg, cfg.seed, 1)

    @classmethod
    def of_artifact(cls, art) -> Protocol:
        net, ro = art.network, art.readout
        if ro is None:
            raise ValueError("the artifact has no readout section")
        art_mod.check_label_readout(art)
        name = net.populations[ro.population].name
        plastic = [k for k, c in enumerate(net.connections) if c.plastic and c.dst == name]
        if len(plastic) != 1:
            raise ValueError(f"the readout population {name!r} needs exactly one plastic "
                             f"connection into it, found {len(plastic)}")
        return cls(net.offsets()[name], net.populations[ro.population].size, ro.steps,
                   ro.r_pos, ro.r_neg, net.seed, plastic[0])


def third_factor(proto: Protocol, n_neurons: int, label) -> jax.Array:
    """``(steps, n_neurons)``: ``r_pos`` on the labelled class's readout neuron, ``r_neg`` on
    the other readout neurons, 0 elsewhere."""
    r_out = jnp.where(jnp.arange(proto.ways) == label, float(proto.r_pos), float(proto.r_neg))
    r = jnp.zeros((n_neurons,), _F).at[proto.out_offset:proto.out_offset + proto.ways].set(r_out)
    return jnp.broadcast_to(r, (proto.steps, n_neurons))


def learn(topo: twin.Topology, proto: Protocol, params: twin.Params, support: jax.Array,
          labels: jax.Array, *, order: str = "full", remat: bool = False) -> twin.State:
    """The inner loop: present ``support`` ``(S, T, n_inputs)`` (already in presentation
    order) with ``labels`` ``(S,)`` from the zero state, and return the state after learning
    (learning still on)."""
    if order not in ("full", "first"):
        raise ValueError(f"order must be 'full' or 'first', got {order!r}")
    state = twin.init_state(topo, params, seed=proto.seed)
    k = proto.plastic

    def one(st: twin.State, xs):
        raster, label = xs
        st = twin.reset_neurons(st)
        st_in = st
        if order == "first":
            st_in = dataclasses.replace(st, plastic=jax.lax.stop_gradient(st.plastic))
        res = twin.simulate(topo, params, st_in, raster,
                            third=third_factor(proto, topo.n_neurons, label))
        new = res.final_state
        if order == "first":
            ps_new, ps_old = new.plastic[k], st.plastic[k]
            w = ps_old.w + (ps_new.w - jax.lax.stop_gradient(ps_old.w))
            plastic = tuple(dataclasses.replace(ps_new, w=w) if j == k else p
                            for j, p in enumerate(new.plastic))
            new = dataclasses.replace(new, plastic=plastic)
        return new, None

    if remat:
        one = jax.checkpoint(one)
    state, _ = jax.lax.scan(one, state, (jnp.asarray(support), jnp.asarray(labels)))
    return state


def query_counts(topo: twin.Topology, proto: Protocol, params: twin.Params, state: twin.State,
                 query: jax.Array) -> jax.Array:
    """Readout spike counts ``(Q, ways)`` of each query ``(Q, T, n_inputs)``, learning off,
    each from ``state`` with the neurons reset."""
    st = twin.set_learning(twin.reset_neurons(state), False)
    res = twin.simulate(topo, params, st, query)
    o = proto.out_offset
    return jnp.sum(res.spikes[..., o:o + proto.ways], axis=-2)


def episode_counts(cfg: ModelConfig, theta, support, labels, query, *, order="full",
                   remat=False) -> jax.Array:
    params = to_params(cfg, theta)
    topo, proto = topology(cfg), Protocol.of(cfg)
    state = learn(topo, proto, params, support, labels, order=order, remat=remat)
    return query_counts(topo, proto, params, state, query)


def predict(counts: jax.Array) -> jax.Array:
    """Argmax of spike counts, ties to the lowest index (``jnp.argmax`` returns the first),
    ``-1`` where the readout stayed silent (as ``edgelearn.oneshot.predictions``)."""
    return jnp.where(counts.max(-1) > 0, jnp.argmax(counts, axis=-1), -1)


def episode_loss(cfg: ModelConfig, theta, support, labels, query, query_labels, *,
                 order="full", remat=False):
    """``(loss, accuracy)`` of one episode."""
    counts = episode_counts(cfg, theta, support, labels, query, order=order, remat=remat)
    logits = theta["beta"] * counts
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, query_labels[:, None], axis=-1)[:, 0]
    acc = jnp.mean(predict(counts) == query_labels)
    return jnp.mean(nll), acc


def hidden_counts(cfg: ModelConfig, theta, x: jax.Array) -> jax.Array:
    """Hidden spike counts ``(B, H)`` of samples ``x`` ``(B, T, n_inputs)`` (the features the
    baselines and the supervised pre-training use)."""
    params = to_params(cfg, theta)
    topo = topology(cfg)
    res = twin.simulate(topo, params, twin.init_state(topo, params, seed=cfg.seed), x)
    return jnp.sum(res.spikes[..., :cfg.hidden], axis=-2)
