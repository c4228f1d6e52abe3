"""In-context attention computed by plasticity (after Finkbeiner & Neftci 2024), on the core.

A key/value memory whose synapses the plasticity processor writes as the context streams in,
read by each query through those same synapses. Design and figures: ``docs/attention.md``.

Network (every layer a population of the core; neurons are integrate-and-fire counters,
``du = 4095``, ``dv = 0``)::

    input port: [ pixel axons P | slot address axons S | mode axon | go axon ]
    pixels --dense W (trained)-->  proj (H)                   the token encoder
    proj   --KEY (plastic, S x H)--> slot (S)                 keys:   written w <- x1, slot by r
    addr, mode --sparse, fixed-->  slot                       write-mode gating of the slots
    go     --sparse, fixed-->  slot                           the read-out ramp
    go     --(-128)-->  proj                                  silences the encoder after events
    slot   --(-inhibition)-->  slot                           winner-take-all
    slot   --VALUE (plastic, L x S)--> out (L)                values: written w += r x0, label by r

Write (a context token = an example and its label): the example's events stream into the
pixel axons for ``n_steps`` steps (then the go axon silences the encoder to the token's end),
the address axon of slot ``n`` and the mode axon spike at every step. The mode axon holds
every slot below threshold except the addressed one, which spikes every step. The third
factor selects what is written at the learning epoch that ends the token (``t_epoch`` = token
length):

- ``r = R_KEY`` on slot ``n`` (0 elsewhere): ``KEY_RULE`` ``dw = 2^-4 * r * (x1 - w)`` sets row
  ``n`` of the key memory to the proj neurons' pre-synaptic traces ``x1`` (the token's code);
- ``r = R_VALUE`` on the label's out neuron: ``VALUE_RULE`` ``dw = r * x0`` writes ``R_VALUE``
  into the synapse from slot ``n`` (the only slot that spiked, ``x0 = 1``) to that neuron.

Read (a query): learning off, no address or mode spikes; the query's proj spikes reach every
slot through the keys, and each slot neuron (no leak, a threshold above any score) integrates
its attention score ``key . query spike counts`` exactly in ``v``. Then the go axon ramps every
slot up by the same amount per step for ``ramp_steps`` steps: the slot with the highest score
crosses threshold first and silences the others through strong lateral inhibition (a spiking
hard-max: time-to-first-spike of the scores). Its spike reaches the label neurons through the
values; the prediction is the out neuron with the most spikes over the token (ties, i.e. two
slots crossing in the same ramp step, to the lowest index).

Before every token the host starts a new sample (spec 5.5: the twin's ``reset_neurons``, the C
runtime's ``Core.reset``): time back to 0, compartments, traces, epoch bits, tags and third
factors clear; the memories (the plastic weights) stay. So each token's epoch is its last step.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from . import constants as C
from . import rule as _rule
from .network import INPUT, Connection, Network, Population

#: steps after the ramp: go -> slot -> out takes 2 more steps.
DRAIN = 2
#: third factor on the addressed slot during a key write (with coefficient 2^-4: w <- x1).
R_KEY = 16
#: third factor on the label's out neuron during a value write: the value mantissa written.
R_VALUE = 64
#: the address / mode connection's mantissas and exponent (write-mode gating of the slots).
ADDR_W, MODE_W, GATE_EXP = 126, -100, 7
#: the go axon's weight onto every proj neuron: it silences the encoder after a token's events
#: (proj neurons with a positive bias would otherwise keep firing into the keys and scores).
GO_PROJ_W = -128

KEY_RULE = """# key write, slot-addressed by the third factor: w <- x1 on the slot whose r = 16
dw = 2^-4 * r * (x1 - w)
x1.decay = {decay}
x1.impulse = {impulse}
t_epoch = {t_epoch}
round = floor
"""

VALUE_RULE = """# value write: out neuron with r = 64 (the label) gets r from the slot that spiked
dw = r * x0
t_epoch = {t_epoch}
round = floor
"""

POPS = ("proj", "slot", "out")
#: connection order of :func:`build_network`
C_PIX, C_GATE, C_KEY, C_VALUE, C_INHIB, C_GO = range(6)


@dataclasses.dataclass(frozen=True, eq=False)
class AttentionModel:
    """The deployed integers of the in-context model (shapes: ``w_proj (H, P)`` int8,
    ``proj_bias (H,)``). ``pixel_map`` is the :class:`edgelearn.artifact.InputMap` fields of
    the pixel axons (events -> axons -> ``dt_us`` steps). Every field has the core's range."""

    w_proj: np.ndarray
    proj_bias: np.ndarray
    proj_vth: int
    proj_bias_exp: int
    proj_exp: int
    key_exp: int
    key_coef: int
    key_decay: int
    key_impulse: int
    slot_vth: int
    slot_bias: int
    inhib_w: int
    inhib_exp: int
    value_exp: int
    out_vth: int
    n_steps: int
    pixel_map: dict[str, int]
    go_w: int = 0
    go_exp: int = 0
    ramp_steps: int = 0

    @property
    def n_pixels(self) -> int:
        return int(self.w_proj.shape[1])

    @property
    def n_hidden(self) -> int:
        return int(self.w_proj.shape[0])

    @property
    def t_token(self) -> int:
        """Steps per token (events, ramp, drain); also the rules' ``t_epoch``."""
        return self.n_steps + self.ramp_steps + DRAIN

    def rules(self) -> tuple[_rule.Rule, _rule.Rule]:
        key = _rule.parse(KEY_RULE.format(decay=self.key_decay, impulse=self.key_impulse,
                                          t_epoch=self.t_token))
        key = key.with_hyper(dataclasses.replace(key.hyper(), coef=(int(self.key_coef),)))
        return key, _rule.parse(VALUE_RULE.format(t_epoch=self.t_token))

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["w_proj"] = self.w_proj.astype(int).tolist()
        d["proj_bias"] = self.proj_bias.astype(int).tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttentionModel:
        d = dict(d)
        d["w_proj"] = np.asarray(d["w_proj"], np.int8)
        d["proj_bias"] = np.asarray(d["proj_bias"], np.int32)
        return cls(**{k: (int(v) if isinstance(v, (int, np.integer)) else v)
                      for k, v in d.items()})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> AttentionModel:
        return cls.from_dict(json.loads(Path(path).read_text()))


def default_model_path() -> Path:
    """The shipped trained model (``edgelearn/data/incontext_model.json``)."""
    return Path(__file__).resolve().parent / "data" / "incontext_model.json"


def load_default() -> AttentionModel:
    return AttentionModel.load(default_model_path())


# --------------------------------------------------------------------------- the network


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where things are: input axons ``[0, P)`` pixels, ``P + n`` the address of slot ``n``,
    ``P + S`` the mode axon, ``P + S + 1`` the go axon; neurons: ``proj``, ``slot``, ``out``
    concatenated."""

    n_pixels: int
    n_hidden: int
    n_slots: int
    n_labels: int
    #: the model's token length (its rules' learning epoch): a token of another length writes
    #: nothing, so the token programs refuse it; None: not checked
    t_token: int | None = None

    @property
    def n_inputs(self) -> int:
        return self.n_pixels + self.n_slots + 2

    @property
    def mode_axon(self) -> int:
        return self.n_pixels + self.n_slots

    @property
    def go_axon(self) -> int:
        return self.n_pixels + self.n_slots + 1

    def addr_axon(self, n: int) -> int:
        return self.n_pixels + n

    @property
    def n_neurons(self) -> int:
        return self.n_hidden + self.n_slots + self.n_labels

    @property
    def slot0(self) -> int:
        return self.n_hidden

    @property
    def out0(self) -> int:
        return self.n_hidden + self.n_slots


def layout(model: AttentionModel, n_slots: int, n_labels: int) -> Layout:
    for name, v in (("n_slots", n_slots), ("n_labels", n_labels)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    return Layout(model.n_pixels, model.n_hidden, int(n_slots), int(n_labels), model.t_token)


def _check_token(lay: Layout, pixels: np.ndarray, t_token: int) -> None:
    """The pixels' last axis is the layout's pixel count; ``t_token`` the model's."""
    if pixels.ndim != 3 or pixels.shape[2] != lay.n_pixels:
        raise ValueError(f"pixels must have shape (N, steps, {lay.n_pixels}), got "
                         f"{pixels.shape}")
    if lay.t_token is not None and t_token != lay.t_token:
        raise ValueError(f"t_token = {t_token}, but this model's tokens are {lay.t_token} "
                         f"steps (its rules write at that epoch; another length writes nothing)")


def build_network(model: AttentionModel, n_slots: int, n_labels: int, *,
                  seed: int = 0) -> Network:
    """The core network for ``n_slots`` context tokens and ``n_labels`` classes (module doc)."""
    lay = layout(model, n_slots, n_labels)
    H, P, S, L = lay.n_hidden, lay.n_pixels, lay.n_slots, lay.n_labels
    key_rule, value_rule = model.rules()
    w_pix = np.zeros((H, lay.n_inputs), np.int8)
    w_pix[:, :P] = model.w_proj
    w_pix[:, lay.go_axon] = GO_PROJ_W
    # slot n: its address axon and the mode axon (sparse CSR, sorted indices)
    indptr = np.arange(0, 2 * S + 1, 2, dtype=np.int32)
    indices = np.stack([P + np.arange(S), np.full(S, lay.mode_axon)], 1).ravel()
    gate_w = np.tile(np.asarray([ADDR_W, MODE_W], np.int8), S)
    pops = (
        Population("proj", H, du=C.DECAY_MAX, dv=0, vth_mant=model.proj_vth,
                   bias_mant=model.proj_bias, bias_exp=model.proj_bias_exp),
        Population("slot", S, du=C.DECAY_MAX, dv=0, vth_mant=model.slot_vth,
                   bias_mant=model.slot_bias),
        Population("out", L, du=C.DECAY_MAX, dv=0, vth_mant=model.out_vth),
    )
    inhib = np.full((S, S), -abs(int(model.inhib_w)), np.int8)
    np.fill_diagonal(inhib, 0)
    conns = (
        Connection(INPUT, "proj", w_pix, model.proj_exp),
        Connection(INPUT, "slot", gate_w, GATE_EXP, mixed=True, indptr=indptr, indices=indices),
        Connection("proj", "slot", np.zeros((S, H), np.int8), model.key_exp, mixed=False,
                   rule=key_rule),
        Connection("slot", "out", np.zeros((L, S), np.int8), model.value_exp, mixed=False,
                   rule=value_rule),
        Connection("slot", "slot", inhib, model.inhib_exp, mixed=False),
        Connection(INPUT, "slot", np.full(S, model.go_w, np.int8), model.go_exp, mixed=False,
                   indptr=np.arange(S + 1, dtype=np.int32),
                   indices=np.full(S, lay.go_axon, np.int32)),
    )
    return Network(lay.n_inputs, pops, conns, seed=seed)


# --------------------------------------------------------------------------- token programs


def context_program(lay: Layout, pixels: np.ndarray, labels: np.ndarray, *,
                    t_token: int, slots: np.ndarray | None = None,
                    r_key: int = R_KEY, r_value: int = R_VALUE
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Input rasters and third factors for writing a context.

    ``pixels``: ``(N, n_steps, P)`` bool, the examples; ``labels``: ``(N,)`` ints in
    ``[0, n_labels)``; ``slots``: the slot of each (default ``0 .. N-1``). Returns
    ``raster (N, t_token, n_inputs)`` bool and ``third (N, t_token, n_neurons)`` int8: token
    ``k`` runs from a neuron reset for ``t_token`` steps; its epoch (the last step) writes.
    """
    pixels = np.asarray(pixels, bool)
    _check_token(lay, pixels, t_token)
    N, T = pixels.shape[:2]
    if T + DRAIN > t_token:
        raise ValueError(f"pixels hold {T} steps; a token of {t_token} steps holds at most "
                         f"{t_token - DRAIN}")
    slots = np.arange(N) if slots is None else np.asarray(slots)
    labels = np.asarray(labels)
    if labels.shape != (N,) or slots.shape != (N,):
        raise ValueError(f"{N} examples need {N} labels and {N} slots, got shapes "
                         f"{labels.shape} and {slots.shape}")
    for name, v, n in (("label", labels, lay.n_labels), ("slot", slots, lay.n_slots)):
        if N and (not np.issubdtype(v.dtype, np.integer) or v.min() < 0 or v.max() >= n):
            raise ValueError(f"a {name} is out of range for this network: {name}s must be "
                             f"integers in [0, {n}), got {v.tolist()}")
    if len(np.unique(slots)) != N:
        raise ValueError(f"two examples share a slot (slots {slots.tolist()}): the second "
                         f"would overwrite the first's key")
    raster = np.zeros((N, t_token, lay.n_inputs), bool)
    raster[:, :T, :lay.n_pixels] = pixels
    raster[np.arange(N), :, lay.n_pixels + slots] = True
    raster[:, :, lay.mode_axon] = True
    raster[:, T:, lay.go_axon] = True  # encoder silenced after the events
    third = np.zeros((N, t_token, lay.n_neurons), np.int8)
    third[np.arange(N), :, lay.slot0 + slots] = r_key
    third[np.arange(N), :, lay.out0 + labels] = r_value
    return raster, third


def query_raster(lay: Layout, pixels: np.ndarray, *, t_token: int,
                 ramp_steps: int) -> np.ndarray:
    """``(Q, t_token, n_inputs)`` bool: the queries' events (steps ``1 .. T``), then the go
    axon for ``ramp_steps`` steps (ramping the slots, silencing the encoder); no address or
    mode spikes."""
    pixels = np.asarray(pixels, bool)
    _check_token(lay, pixels, t_token)
    if ramp_steps < 0:
        raise ValueError(f"ramp_steps must be >= 0, got {ramp_steps}")
    T = pixels.shape[1]
    if T + ramp_steps + DRAIN > t_token:
        raise ValueError(f"{T} event steps and a {ramp_steps}-step ramp do not fit a token of "
                         f"{t_token} steps")
    raster = np.zeros(pixels.shape[:1] + (t_token, lay.n_inputs), bool)
    raster[:, :T, :lay.n_pixels] = pixels
    raster[:, T:T + ramp_steps, lay.go_axon] = True
    return raster


def predict(counts: np.ndarray) -> np.ndarray:
    """Label with the most out spikes, ties to the lowest index, ``-1`` where no out neuron
    spiked: the one-shot readout's rule (:func:`edgelearn.oneshot.predictions`)."""
    from .oneshot import predictions

    return predictions(counts)


# --------------------------------------------------------------------------- engines


@dataclasses.dataclass
class EpisodeTrace:
    """What one episode did, from either engine: ``counts (Q, L)`` out spikes per query,
    ``slot_counts (Q, S)``, ``keys (N, S, H)`` / ``values (N, L, S)`` the memories after each
    context token (when recorded), ``pred (Q,)``."""

    counts: np.ndarray
    slot_counts: np.ndarray
    keys: np.ndarray | None = None
    values: np.ndarray | None = None

    @property
    def pred(self) -> np.ndarray:
        return predict(self.counts)


def _check_episode(net: Network, lay: Layout, ctx_raster, ctx_third) -> None:
    """The layout is this network's; one third-factor program per context token."""
    if (net.n_inputs, net.n_neurons) != (lay.n_inputs, lay.n_neurons):
        raise ValueError(f"the layout ({lay.n_inputs} inputs, {lay.n_neurons} neurons) is not "
                         f"this network's ({net.n_inputs} inputs, {net.n_neurons} neurons)")
    if np.shape(ctx_raster)[0] != np.shape(ctx_third)[0]:
        raise ValueError(f"{np.shape(ctx_raster)[0]} context rasters but "
                         f"{np.shape(ctx_third)[0]} third-factor programs")


def run_twin(net: Network, lay: Layout, ctx_raster: np.ndarray, ctx_third: np.ndarray,
             q_raster: np.ndarray, *, record: bool = False, params=None) -> EpisodeTrace:
    """One episode on the JAX twin (exact integers): the context token by token (a neuron
    reset before each), then learning off and every query from the written memories."""
    import jax.numpy as jnp

    from . import twin

    _check_episode(net, lay, ctx_raster, ctx_third)
    params = twin.params_from_network(net) if params is None else params
    st = twin.init_state(net, params)
    keys, values = [], []
    for k in range(ctx_raster.shape[0]):
        st = twin.reset_neurons(st)
        st = twin.simulate(net, params, st, jnp.asarray(ctx_raster[k]),
                           third=jnp.asarray(ctx_third[k], jnp.float32)).final_state
        if record:
            keys.append(np.asarray(st.plastic[C_KEY].w))
            values.append(np.asarray(st.plastic[C_VALUE].w))
    st = twin.set_learning(twin.reset_neurons(st), False)
    res = twin.simulate(net, params, st, jnp.asarray(q_raster))
    s = np.asarray(res.spikes)
    return EpisodeTrace(
        counts=s[..., lay.out0:lay.out0 + lay.n_labels].sum(-2).astype(np.int32),
        slot_counts=s[..., lay.slot0:lay.slot0 + lay.n_slots].sum(-2).astype(np.int32),
        keys=np.stack(keys).astype(np.int32) if record else None,
        values=np.stack(values).astype(np.int32) if record else None)


def run_c(net: Network, lay: Layout, ctx_raster: np.ndarray, ctx_third: np.ndarray,
          q_raster: np.ndarray, *, record: bool = False, core=None) -> EpisodeTrace:
    """One episode on the C runtime (:class:`edgelearn.runtime.Core`), the same program as
    :func:`run_twin`: the context written into the C core's plastic synapses, then queries."""
    from . import runtime

    _check_episode(net, lay, ctx_raster, ctx_third)
    core = runtime.Core(net) if core is None else core
    keys, values = [], []
    core.set_learning(True)
    for k in range(ctx_raster.shape[0]):
        core.reset_neurons()
        core.run(ctx_raster[k], third=ctx_third[k])
        if record:
            keys.append(core.weights(C_KEY))
            values.append(core.weights(C_VALUE))
    core.set_learning(False)
    counts, slots = [], []
    for q in range(q_raster.shape[0]):
        core.reset_neurons()
        s = core.run(q_raster[q]).s
        counts.append(s[:, lay.out0:lay.out0 + lay.n_labels].sum(0))
        slots.append(s[:, lay.slot0:lay.slot0 + lay.n_slots].sum(0))
    return EpisodeTrace(counts=np.asarray(counts, np.int32),
                        slot_counts=np.asarray(slots, np.int32),
                        keys=np.stack(keys).astype(np.int32) if record else None,
                        values=np.stack(values).astype(np.int32) if record else None)


# --------------------------------------------------------------------------- deployment


def to_artifact(model: AttentionModel, n_slots: int, n_labels: int, *, seed: int = 0,
                metrics: dict[str, Any] | None = None):
    """The deployable :class:`edgelearn.artifact.Artifact`: the network (both rules compiled
    into it), the readout (population ``out``, ``r_pos = R_VALUE``, one token of steps), and
    in the manifest the token layout a host needs to stream a context (``"incontext"``: pixel
    map, steps per token, address and mode axons, third-factor values, the model's integers).

    The artifact's input map is left out: the input port holds the pixel axons *and* the
    control axons (slot addresses, mode), which an address-event map does not describe; the
    pixel map is in the manifest."""
    from .artifact import Artifact, Readout

    net = build_network(model, n_slots, n_labels, seed=seed)
    lay = layout(model, n_slots, n_labels)
    manifest = {
        "kind": "incontext-attention",
        "incontext": {
            "pixel_map": dict(model.pixel_map), "n_steps": model.n_steps,
            "t_token": model.t_token, "n_pixels": lay.n_pixels, "n_slots": lay.n_slots,
            "n_labels": lay.n_labels, "addr_axon0": lay.addr_axon(0),
            "mode_axon": lay.mode_axon, "r_key": R_KEY, "r_value": R_VALUE,
            "key_connection": C_KEY, "value_connection": C_VALUE,
            "model": model.to_dict(),
        },
        "metrics": metrics or {},
    }
    return Artifact(net, None, Readout(population=2, r_pos=R_VALUE, r_neg=0,
                                       steps=model.t_token), manifest)


def from_artifact(art) -> tuple[Network, Layout, AttentionModel]:
    """Network, layout and model integers of an artifact made by :func:`to_artifact`."""
    info = art.manifest.get("incontext")
    if info is None:
        raise ValueError("not an in-context attention artifact (no 'incontext' in manifest)")
    model = AttentionModel.from_dict(info["model"])
    return art.network, layout(model, info["n_slots"], info["n_labels"]), model


# --------------------------------------------------------------------------- over the serial link


def link_artifact(model: AttentionModel, n_slots: int, n_labels: int, *, seed: int = 0,
                  metrics: dict[str, Any] | None = None):
    """The artifact to LOAD on a device for :func:`run_device`: :func:`to_artifact`'s, with the
    key rule's coefficient scaled by ``R_KEY / R_VALUE`` (``2^-4`` becomes ``2^-6``).

    Over the link the only per-neuron third factor is LABEL, which writes the readout's
    ``r_pos`` (``R_VALUE``) on one neuron of a population and ``r_neg`` (0) on the others; the
    key write's ``R_KEY`` on one slot cannot be sent. With the scaled coefficient,
    ``2^-6 * R_VALUE * (x1 - w)`` is ``2^-4 * R_KEY * (x1 - w)`` exactly (both are ``x1 - w``,
    no rounding), so a LABEL of the slot population writes the same keys and the runs agree
    bit for bit with :func:`run_c` on :func:`build_network`. ``manifest["incontext"]["r_key"]``
    says which third factor this network's key rule expects."""
    shift = int(np.log2(R_VALUE // R_KEY))
    if (R_KEY << shift) != R_VALUE:
        raise ValueError("R_VALUE / R_KEY must be a power of 2")
    art = to_artifact(model, n_slots, n_labels, seed=seed, metrics=metrics)
    net = art.network
    key = net.connections[C_KEY]
    targets = {tgt: tuple(dataclasses.replace(t, exp=t.exp - shift) for t in terms)
               for tgt, terms in key.rule.targets.items()}
    rule = dataclasses.replace(key.rule, targets=targets)
    conns = list(net.connections)
    conns[C_KEY] = dataclasses.replace(key, rule=rule)
    manifest = json.loads(json.dumps(art.manifest))
    manifest["incontext"]["r_key"] = R_VALUE
    manifest["incontext"]["link"] = ("key rule coefficient scaled by R_KEY / R_VALUE: "
                                     "LABEL(slot population, n) writes key n")
    return dataclasses.replace(art, network=dataclasses.replace(net, connections=tuple(conns)),
                               manifest=manifest)


def raster_events(raster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(t, addr)`` of a token's ``(T, n_inputs)`` raster, time-ordered (EVENTS' order)."""
    t, a = np.nonzero(np.asarray(raster, bool))
    return t.astype(np.int64), a.astype(np.int64)


def device_write(dev, raster: np.ndarray, slot: int, label: int) -> None:
    """One context token on a device: RESET STATE, LEARN 1, LABEL ``slot`` on the slot
    population (``R_VALUE`` there: the :func:`link_artifact`'s key rule), LABEL ``label`` on
    the out population, then the token's events and ``len(raster)`` steps (EVENTS and RUN with
    flow control); the epoch at the token's last step writes key and value."""
    dev.reset()
    dev.learn(True)
    dev.label(int(slot), population=1)
    dev.label(int(label), population=2)
    dev.stream(*raster_events(raster), int(np.asarray(raster).shape[0]))


def device_query(dev, raster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One query on a device: RESET STATE, LEARN 0, its events and steps, then READ SPIKES of
    the out and slot populations: ``(out counts (L,), slot counts (S,))``."""
    dev.reset()
    dev.learn(False)
    dev.stream(*raster_events(raster), int(np.asarray(raster).shape[0]))
    return (dev.read_counts(population=2).astype(np.int32),
            dev.read_counts(population=1).astype(np.int32))


def run_device(dev, lay: Layout, ctx_labels: np.ndarray, ctx_raster: np.ndarray,
               q_raster: np.ndarray, *, load: bytes | None = None,
               slots: np.ndarray | None = None, record: bool = False) -> EpisodeTrace:
    """One episode on a device (:class:`edgelearn.device.Device`) that holds a
    :func:`link_artifact` of this layout, over the serial protocol; the program of
    :func:`run_c`, message for message:

    - a context token: RESET STATE (the sample reset, weights kept), LEARN 1, LABEL
      (population ``slot``, its slot ``n``) and LABEL (population ``out``, its label), the
      token's events (pixels, address, mode, go) streamed with flow control and run for
      ``t_token`` steps; the epoch at the last step writes key and value;
    - a query: RESET STATE, LEARN 0, its events, ``t_token`` steps, then READ SPIKES of the
      ``out`` and ``slot`` populations (counts since the reset).

    ``ctx_raster`` is :func:`context_program`'s raster (its third factors are the LABELs);
    ``record`` reads both memories back after every context token (READ WEIGHTS).

    An episode starts from empty memories, as :func:`run_c`'s new ``Core`` does: the device
    keeps learned weights across RESET STATE and the value writes add up, so ``load`` (the
    bytes of the :func:`link_artifact`) is LOADed first (a fresh model, learning off). Without
    it the episode continues from the memories the device holds."""
    ctx_labels = np.asarray(ctx_labels)
    n_ctx = ctx_raster.shape[0]
    slots = np.arange(n_ctx) if slots is None else np.asarray(slots)
    if load is not None:
        dev.load(load)
    keys, values = [], []
    for k in range(n_ctx):
        device_write(dev, ctx_raster[k], int(slots[k]), int(ctx_labels[k]))
        if record:
            keys.append(dev.read_weights(C_KEY))
            values.append(dev.read_weights(C_VALUE))
    counts, slot_counts = [], []
    for q in range(q_raster.shape[0]):
        c, sc = device_query(dev, q_raster[q])
        counts.append(c)
        slot_counts.append(sc)
    return EpisodeTrace(counts=np.asarray(counts, np.int32),
                        slot_counts=np.asarray(slot_counts, np.int32),
                        keys=np.stack(keys).astype(np.int32) if record else None,
                        values=np.stack(values).astype(np.int32) if record else None)
