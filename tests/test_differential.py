"""Twin vs C runtime: zero mismatches in u, v and spikes (and, with plasticity, in traces and
weights) over many random networks, extreme parameters included.

Networks come in a few fixed shape buckets so the twin compiles once per bucket; hypothesis
draws the integer values (weights, exponents, decays, thresholds, biases, refractory periods,
sign modes, sparsity patterns, input rasters), biased towards the extremes of every range.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelearn import INPUT, Connection, Network, Population
from edgelearn import constants as C
from edgelearn import runtime, twin

STEPS = 100

# (n_inputs, population sizes, connections as (src, dst, sparse)); src -1 = input port
BUCKETS = {
    "layer": (12, (9,), ((-1, 0, False),)),
    "sparse_layer": (16, (7,), ((-1, 0, True),)),
    "recurrent": (6, (10,), ((-1, 0, False), (0, 0, False))),
    "two_pops": (10, (8, 5), ((-1, 0, False), (0, 0, True), (0, 1, False), (-1, 1, True),
                              (1, 0, False))),
}


def _pick(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A value in [lo, hi], a third of the time one of the extremes."""
    if rng.random() < 0.33:
        return int(rng.choice([lo, hi, lo + 1, hi - 1]))
    return int(rng.integers(lo, hi + 1))


def random_network(bucket: str, rng: np.random.Generator) -> tuple[Network, np.ndarray]:
    n_in, sizes, conns = BUCKETS[bucket]
    pops = []
    for i, n in enumerate(sizes):
        if rng.random() < 0.2:
            bias = rng.choice([C.BIAS_MANT_MIN, C.BIAS_MANT_MAX, 0], size=n)
        else:
            bias = rng.integers(-300, 300, size=n) * (rng.random() < 0.5)
        pops.append(Population(
            f"p{i}", n, du=_pick(rng, 0, C.DECAY_MAX), dv=_pick(rng, 0, C.DECAY_MAX),
            vth_mant=_pick(rng, 0, C.VTH_MANT_MAX) if rng.random() < 0.3 else
            int(rng.integers(0, 2000)),
            bias_mant=bias, bias_exp=_pick(rng, 0, C.BIAS_EXP_MAX),
            refractory=_pick(rng, 1, C.REFRACT_MAX) if rng.random() < 0.5 else 1))
    cs = []
    for src, dst, sparse in conns:
        n_src = n_in if src < 0 else sizes[src]
        n_dst = sizes[dst]
        if rng.random() < 0.25:
            w = rng.choice([C.WEIGHT_MIN, C.WEIGHT_MAX, -1, 1, 0], size=(n_dst, n_src))
        else:
            w = rng.integers(C.WEIGHT_MIN, C.WEIGHT_MAX + 1, size=(n_dst, n_src))
            if rng.random() < 0.3:
                w = np.minimum(np.abs(w), C.WEIGHT_MAX)  # single-sign: not mixed (Lava)
        w_exp = _pick(rng, C.WEIGHT_EXP_MIN, C.WEIGHT_EXP_MAX)
        mixed = None if rng.random() < 0.7 else bool(rng.random() < 0.5)
        name_src = INPUT if src < 0 else f"p{src}"
        if sparse:
            keep = rng.random((n_dst, n_src)) < rng.uniform(0.0, 0.8)
            indptr = np.concatenate([[0], np.cumsum(keep.sum(1))])
            rows, cols = np.nonzero(keep)
            cs.append(Connection(name_src, f"p{dst}", w[rows, cols], w_exp, mixed,
                                 indptr=indptr, indices=cols))
        else:
            cs.append(Connection(name_src, f"p{dst}", w, w_exp, mixed))
    raster = rng.random((STEPS, n_in)) < rng.choice([0.02, 0.1, 0.3, 0.7, 1.0])
    return Network(n_in, tuple(pops), tuple(cs)), raster


def assert_same(net: Network, raster: np.ndarray) -> None:
    tw = twin.simulate(net, inputs=raster, probe=True)
    rt = runtime.simulate(net, raster, probe=True)
    for name, a, b in (("s", np.asarray(tw.spikes, bool), rt.s),
                       ("u", np.asarray(tw.u).astype(np.int64), rt.u),
                       ("v", np.asarray(tw.v).astype(np.int64), rt.v)):
        if not np.array_equal(a, b):
            t, i = np.argwhere(a != b)[0]
            raise AssertionError(f"{name} differs first at step {t + 1}, neuron {i}: "
                                 f"twin {a[t, i]}, C {b[t, i]}")


# 4 buckets x 260 examples = 1,040 random networks of 100 steps each.
@pytest.mark.parametrize("bucket", sorted(BUCKETS))
@settings(max_examples=260, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_twin_equals_c_runtime_on_random_networks(bucket, seed):
    net, raster = random_network(bucket, np.random.default_rng(seed))
    assert_same(net, raster)


def test_extremes_saturate_and_wrap_identically():
    # every weight at +127 (or -128) with the largest exponent, 63 inputs spiking every step:
    # the scaled input wraps (63 * 127 * 2^13 wraps to -1564672, 63 * -128 * 2^13 to
    # 2^20), u wraps as it integrates that, and v saturates, identically in both engines.
    for w in (C.WEIGHT_MAX, C.WEIGHT_MIN):
        net = Network(63, (Population("p", 4, du=0, dv=0, vth_mant=C.VTH_MANT_MAX,
                                      bias_mant=C.BIAS_MANT_MAX, bias_exp=C.BIAS_EXP_MAX),),
                      (Connection(INPUT, "p", np.full((4, 63), w), C.WEIGHT_EXP_MAX),))
        raster = np.ones((STEPS, 63), bool)
        assert_same(net, raster)
        res = twin.simulate(net, inputs=raster)
        assert int(res.stats["wrap_u"]) > 0 and int(res.stats["sat_v"]) > 0
