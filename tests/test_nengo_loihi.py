"""The core against nengo-loihi's emulator (`nengo_loihi.emulator.EmulatorInterface`, the
public Loihi emulator of nengo-loihi 1.1.0): on the behaviour both define the same way
(docs/spec.md section 9), u, v and the spikes agree bit for bit on random networks,
recurrent ones, refractory periods, biases, and 24-bit wrap-around of u included.

The emulator is used as a reference only: its blocks are built directly with integer
compartment parameters and the integer synaptic input each spike adds (our effective mantissa
times ``2^(6 + w_exp)``), so what is compared is the timestep's arithmetic: the current and
voltage decays, the one-step latencies, threshold, reset, refractory count and wrap.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgelearn import INPUT, Connection, Network, Population, runtime, twin

nengo_loihi = pytest.importorskip(
    "nengo_loihi", reason="nengo-loihi is a test dependency (pip install -e '.[dev]')")

from core_shapes import SHAPES  # noqa: E402
from nengo_ref import Q_LIMIT, emulate  # noqa: E402

STEPS = 120


def random_case(seed: int, wrap: bool):
    """A network in the common behaviour: no negative weight exponent, each step's synaptic
    input below 2^21 in magnitude; with biases (``wrap`` False) u + bias stays in 24 bits
    (moderate input, du >= 100); with ``wrap`` the biases are 0 and u may wrap."""
    rng = np.random.default_rng(seed)
    n_in, sizes, shape = SHAPES[seed % len(SHAPES)]
    fan_in = [sum((n_in if s < 0 else sizes[s]) for s, d in shape if d == k)
              for k in range(len(sizes))]
    pops = []
    for k, n in enumerate(sizes):
        du = int(rng.choice([0, 1, 4095, int(rng.integers(0, 4096))])) if wrap else \
            int(rng.integers(100, 4096))
        pops.append(Population(
            f"p{k}", n, du=du, dv=int(rng.choice([0, 4095, int(rng.integers(0, 4096))])),
            vth_mant=int(rng.choice([0, 1, int(rng.integers(0, 3000)), 2**17 - 1])),
            bias_mant=0 if wrap else rng.integers(-4096, 4096, n) * (rng.random(n) < 0.6),
            bias_exp=int(rng.integers(0, 8)),
            refractory=int(rng.choice([1, 2, int(rng.integers(1, 65))]))))
    conns = []
    for src, dst in shape:
        n_src = n_in if src < 0 else sizes[src]
        # the largest exponent that keeps the step's input (all sources, all connections into
        # dst, at most 128 * 2^(6 + e) each) below 2^21, or 2^16 with biases
        limit = Q_LIMIT if wrap else 2**16
        e_max = int(np.floor(np.log2(limit / (fan_in[dst] * 128 * 64))))
        e = int(rng.integers(0, max(e_max, 0) + 1)) if e_max >= 0 else 0
        w = rng.integers(-128, 128, (sizes[dst], n_src))
        if e_max < 0:  # too many sources for full weights at e = 0: smaller mantissas
            w = w >> (-e_max)
        if rng.random() < 0.3:
            w = np.abs(w).clip(0, 127)
        conns.append(Connection(INPUT if src < 0 else f"p{src}", f"p{dst}", w, w_exp=e))
    raster = rng.random((STEPS, n_in)) < rng.choice([0.05, 0.2, 0.5, 1.0])
    return Network(n_in, tuple(pops), tuple(conns)), raster


@pytest.mark.parametrize("wrap", [False, True], ids=["biases", "wrap"])
@pytest.mark.parametrize("seed", range(40))
def test_core_equals_nengo_loihi_emulator(seed, wrap):
    net, raster = random_case(seed, wrap)
    s, u, v = emulate(net, raster)
    ours = runtime.simulate(net, raster, probe=True)
    # the case lies in the common behaviour (else the generator is wrong, not the core)
    bias = np.concatenate([np.asarray(p.bias_mant, np.int64) << p.bias_exp
                           for p in net.populations])
    assert np.abs(ours.u.astype(np.int64) + bias).max() < 2**23 or not bias.any()
    for name, a, b in (("spikes", s, ours.s), ("u", u, ours.u), ("v", v, ours.v)):
        if not np.array_equal(a, b):
            t, i = np.argwhere(a != b)[0]
            raise AssertionError(f"{name} differs first at step {t + 1}, neuron {i}: "
                                 f"nengo-loihi {a[t, i]}, edgelearn {b[t, i]}")
    if seed == 0:  # and the twin, which equals the C runtime elsewhere, on one case
        tw = twin.simulate(net, inputs=raster, probe=True)
        np.testing.assert_array_equal(np.asarray(tw.u).astype(np.int64), u)


def test_the_cases_reach_what_they_are_meant_to():
    """The generator is not vacuous: neurons spike, some of them with refractory periods; v
    saturates; and in the wrap cases u wraps (24 bits) in many of them."""
    spikes = held = sats = wrapped_cases = 0
    for seed in range(40):
        for wrap in (False, True):
            net, raster = random_case(seed, wrap)
            res = twin.simulate(net, inputs=raster, probe=True)
            s = np.asarray(res.spikes, bool)
            refr = np.concatenate([np.full(p.size, p.refractory) for p in net.populations])
            spikes += int(s.sum())
            held += int(s[:, refr > 1].sum())
            sats += int(res.stats["sat_v"])
            wrapped_cases += int(wrap and int(res.stats["wrap_u"]) > 0)
    assert spikes > 10_000 and held > 1_000 and sats > 1_000 and wrapped_cases >= 10, (
        spikes, held, sats, wrapped_cases)
