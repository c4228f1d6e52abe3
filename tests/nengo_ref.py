"""Our networks on nengo-loihi's emulator (nengo-loihi 1.1.0), the reference that
tests/test_nengo_loihi.py holds the core to and that ``make bench`` (bench_peers.py) times:
blocks built directly with our integer compartment parameters and the integer synaptic input
each spike adds (our effective mantissa times ``2^(6 + w_exp)``). See docs/spec.md section 9
for the behaviour the two share."""

from __future__ import annotations

import warnings

import numpy as np

from edgelearn import INPUT, Network

with warnings.catch_warnings():  # it warns that it was not tested with nengo 4
    warnings.simplefilter("ignore")
    from nengo_loihi.block import Axon, LoihiBlock, Synapse
    from nengo_loihi.builder import Model
    from nengo_loihi.emulator import EmulatorInterface
    from nengo_loihi.inputs import SpikeInput

V_LIMIT = 2**23 - 1
Q_LIMIT = 2**21  # nengo-loihi wraps a step's synaptic input at 22 bits (Q_BITS = 21)


def build(net: Network, raster: np.ndarray) -> Model:
    """A nengo-loihi model of ``net`` with ``raster`` (row t = the input AT step t + 1) as its
    spike input."""
    model = Model()
    blocks = {}
    for p in net.populations:
        b = LoihiBlock(p.size, label=p.name)
        c = b.compartment
        c.decay_u = np.full(p.size, p.du, np.int32)
        c.decay_v = np.full(p.size, p.dv, np.int32)
        c.scale_u = c.scale_v = False
        c.vth = np.full(p.size, p.vth_mant << 6, np.int32)
        c.bias = (np.asarray(p.bias_mant, np.int64) << p.bias_exp).astype(np.int32)
        c.refract_delay = np.full(p.size, p.refractory, np.int32)
        c.vmin, c.vmax = -V_LIMIT, V_LIMIT  # our sat24 is symmetric
        model.add_block(b)
        blocks[p.name] = b
    inp = SpikeInput(net.n_inputs)
    model.add_input(inp)
    for t, row in enumerate(raster):
        if row.any():
            inp.add_spikes(t + 1, list(np.nonzero(row)[0]))
    for c in net.connections:
        if c.w_exp < 0:
            raise ValueError("a negative weight exponent is outside the shared behaviour")
        n_src, n_dst = net.size_of(c.src), net.size_of(c.dst)
        w = c.effective_weights(n_dst, n_src).astype(np.int64) << (6 + c.w_exp)
        syn = Synapse(n_src)
        syn._set_weights_indices([w[:, j].astype(np.int32) for j in range(n_src)],
                                 weight_dtype=np.int32)
        blocks[c.dst].add_synapse(syn)
        ax = Axon(n_src)
        ax.target = syn
        (inp if c.src == INPUT else blocks[c.src]).add_axon(ax)
    return model


def emulate(net: Network, raster: np.ndarray, *, record: bool = True):
    """Run ``net`` on nengo-loihi's emulator: spikes, u and v after every step (``record``),
    else the spike count of every neuron."""
    model = build(net, raster)
    s, u, v = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with EmulatorInterface(model, seed=0) as sim:
            if not record:
                sim.run_steps(len(raster))
                return sim.compartment.spike_count.copy()
            for _ in range(len(raster)):
                sim.step()
                s.append(sim.compartment.spiked.copy())
                u.append(sim.compartment.current.copy())
                v.append(sim.compartment.voltage.copy())
    return np.array(s), np.array(u, np.int64), np.array(v, np.int64)
