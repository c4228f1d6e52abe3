"""The core against Lava's bit-accurate LIF and Dense process models (lava-nc 0.10.0, run from
its own source by tests/lava_ref.py): on random networks in the behaviour both define the same
way (docs/spec.md section 9), u, v and the spikes agree bit for bit at every step: the decays
(Lava's ``du + 1`` offset), 24-bit u wrap-around, v saturation, biases with exponents,
threshold ``<< 6``, reset, the one-step Dense latency, mixed-sign weight truncation and positive
and negative weight exponents (the summed input shifted, floored).
"""

from __future__ import annotations

import lava_ref  # tests/ is on sys.path, as for nengo_ref
import numpy as np
import pytest
from core_shapes import SHAPES

from edgelearn import INPUT, Connection, Network, Population, runtime

_why = lava_ref.available()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

STEPS = 150

def random_case(seed: int, wrap: bool):
    """A network in the shared behaviour: no refractory period beyond the reset step (Lava's
    bit-accurate LIF has none), inputs per step well inside 24 bits. ``wrap``: no biases,
    strong inputs and slow current decay, so u wraps around."""
    rng = np.random.default_rng(seed)
    n_in, sizes, shape = SHAPES[seed % len(SHAPES)]
    pops = []
    for k, n in enumerate(sizes):
        du = int(rng.choice([0, 1, int(rng.integers(0, 200))])) if wrap else \
            int(rng.choice([4095, int(rng.integers(0, 4096))]))
        pops.append(Population(
            f"p{k}", n, du=du, dv=int(rng.choice([0, 4095, int(rng.integers(0, 4096))])),
            vth_mant=int(rng.choice([0, 1, int(rng.integers(0, 3000)), 2**17 - 1])),
            bias_mant=0 if wrap else rng.integers(-4096, 4096, n) * (rng.random(n) < 0.6),
            bias_exp=int(rng.integers(0, 8)), refractory=1))
    conns = []
    for src, dst in shape:
        n_src = n_in if src < 0 else sizes[src]
        w = rng.integers(-128, 128, (sizes[dst], n_src))
        kind = rng.integers(3)
        if kind == 1:
            w = np.abs(w).clip(0, 127)  # excitatory: no truncation
        elif kind == 2:
            w = -np.abs(w)  # inhibitory
        e = int(rng.integers(0, 6)) if wrap else int(rng.integers(-4, 3))
        conns.append(Connection(INPUT if src < 0 else f"p{src}", f"p{dst}", w, w_exp=e))
    raster = rng.random((STEPS, n_in)) < rng.choice([0.05, 0.2, 0.5, 1.0])
    return Network(n_in, tuple(pops), tuple(conns)), raster


@pytest.mark.parametrize("wrap", [False, True], ids=["biases", "wrap"])
@pytest.mark.parametrize("seed", range(30))
def test_core_equals_lava_bit_accurate_models(seed, wrap):
    net, raster = random_case(seed, wrap)
    s, u, v = lava_ref.run(net, raster)
    ours = runtime.simulate(net, raster, probe=True)
    for name, a, b in (("u", ours.u, u), ("v", ours.v, v), ("spikes", ours.s, s)):
        a = np.asarray(a, np.int64)
        b = np.asarray(b, np.int64)
        if not np.array_equal(a, b):
            t, i = np.argwhere(a != b)[0]
            raise AssertionError(f"{name} differs first at step {t + 1}, neuron {i}: "
                                 f"ours {a[t, i]}, Lava {b[t, i]}")
    assert np.abs(u).max() > 0  # the case is not idle


def test_the_cases_spike_wrap_saturate_and_use_every_weight_kind():
    # what the comparison above covers, so that it cannot pass on idle networks
    spiking = wrapped = saturated = truncated = negative_exp = 0
    for seed in range(30):
        for wrap in (False, True):
            net, raster = random_case(seed, wrap)
            s, u, v = lava_ref.run(net, raster)
            spiking += bool(s.any())
            wrapped += bool((np.abs(np.diff(u, axis=0)) > 2**23).any())  # a jump: a wrap
            saturated += bool((np.abs(v) == 2**23 - 1).any())
            truncated += any(c.mixed for c in net.connections)
            negative_exp += any(c.w_exp < 0 for c in net.connections)
    assert spiking >= 40 and truncated >= 30 and negative_exp >= 15
    assert wrapped >= 10 and saturated >= 5, (wrapped, saturated)


def test_where_lava_differs_a_current_of_exactly_2_to_the_23():
    # Outside the shared behaviour (docs/spec.md section 9): Lava's u wrap keeps +2^23 and
    # turns -2^23 into +2^23 (one past the 24-bit range), where the core wraps two's
    # complement: 16 inputs of 64 * 2^(6 + 7) = 2^23 in one step, no current decay left.
    # Pinned so that a change on either side shows.
    for sign in (1, -1):
        net = Network(16, (Population("p0", 1, du=4095, dv=4095, vth_mant=2**17 - 1),),
                      (Connection(INPUT, "p0", sign * np.full((1, 16), 64), w_exp=7),))
        raster = np.ones((3, 16), bool)
        s, u, v = lava_ref.run(net, raster)
        ours = runtime.simulate(net, raster, probe=True)
        assert np.asarray(ours.u)[1:, 0].tolist() == [-(2**23)] * 2
        assert u[1:, 0].tolist() == [2**23] * 2
        # so Lava's v saturates high and spikes, ours low and does not
        assert s[1:, 0].all() and not np.asarray(ours.s)[:, 0].any()
