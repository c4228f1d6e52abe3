"""Hypervector algebra: exact small answers, then statistical properties at realistic sizes."""

import numpy as np
import pytest

from edgelearn import vsa

A = np.array([1, -1, 1, -1], np.int8)
B = np.array([1, 1, -1, -1], np.int8)


# --------------------------------------------------------------------------- dense bipolar


def test_bind_exact_and_self_inverse():
    assert vsa.bind(A, B).tolist() == [1, -1, -1, 1]
    assert np.array_equal(vsa.bind(vsa.bind(A, B), B), A)
    with pytest.raises(ValueError, match="dimensions differ"):
        vsa.bind(A, np.ones(3, np.int8))


def test_similarity_exact():
    assert vsa.similarity(A, A) == 1.0
    assert vsa.similarity(A, -A) == -1.0
    assert vsa.similarity(A, B) == 0.0
    assert vsa.similarity(np.array([1, 1, 1, -1]), np.ones(4)) == 0.5
    # broadcasting over a stack
    assert vsa.similarity(np.stack([A, B]), A).tolist() == [1.0, 0.0]


def test_bundle_majority_and_tie_rule():
    c = np.array([1, 1, 1, 1], np.int8)
    assert vsa.bundle([A, B, c]).tolist() == [1, 1, 1, -1]
    # even count: a tie in component i takes vector (i mod k)'s component
    assert vsa.bundle([A, B]).tolist() == [1, 1, 1, -1]  # sums [2, 0, 0, -2]: B[1], A[2]
    assert vsa.bundle([B, A]).tolist() == [1, -1, -1, -1]  # A[1], B[2]
    # with a generator ties are coin flips (and only ties change)
    out = vsa.bundle([A, -A], rng=np.random.default_rng(0))
    assert set(out.tolist()) <= {-1, 1}
    # two random vectors: the bundle keeps about 3/4 agreement with each
    a2, b2 = vsa.random_bipolar(np.random.default_rng(9), 2, 10_000)
    s2 = vsa.bundle([a2, b2])
    assert abs(vsa.similarity(s2, a2) - 0.5) < 0.05 and abs(vsa.similarity(s2, b2) - 0.5) < 0.05
    with pytest.raises(ValueError, match="non-empty"):
        vsa.bundle(np.zeros((0, 4), np.int8))


def test_permute_exact_and_inverse():
    assert vsa.permute(np.array([1, 2, 3, 4]), 1).tolist() == [4, 1, 2, 3]
    assert np.array_equal(vsa.permute(vsa.permute(A, 3), -3), A)


def test_heaviside():
    assert vsa.heaviside(np.array([-2.0, 0.0, 0.5, 1.0])).tolist() == [0, 0, 1, 1]


def test_random_bipolar_seeded_and_pseudo_orthogonal():
    a = vsa.random_bipolar(np.random.default_rng(7), 20, 10_000)
    b = vsa.random_bipolar(np.random.default_rng(7), 20, 10_000)
    assert a.dtype == np.int8 and a.shape == (20, 10_000)
    assert np.array_equal(a, b)
    assert set(np.unique(a).tolist()) == {-1, 1}
    sims = vsa.similarity(a[:, None, :], a[None, :, :])
    off = sims[~np.eye(20, dtype=bool)]
    assert np.all(np.abs(off) < 5 / np.sqrt(10_000))
    assert np.allclose(np.diag(sims), 1.0)


def test_binding_dissimilar_bundle_similar():
    rng = np.random.default_rng(1)
    a, b, c = vsa.random_bipolar(rng, 3, 10_000)
    ab = vsa.bind(a, b)
    assert abs(vsa.similarity(ab, a)) < 0.05 and abs(vsa.similarity(ab, b)) < 0.05
    s = vsa.bundle([a, b, c])
    for v in (a, b, c):  # a majority of 3 agrees with each member 3/4 of the time
        assert abs(vsa.similarity(s, v) - 0.5) < 0.05


def test_codebook_cleanup():
    rng = np.random.default_rng(2)
    cb = vsa.Codebook.random(["x", "y", "z"], 2000, rng)
    noisy = cb["y"].copy()
    flip = rng.choice(2000, 600, replace=False)  # 30 % of the components flipped
    noisy[flip] *= -1
    name, sim = cb.cleanup(noisy)
    assert name == "y" and abs(sim - 0.4) < 1e-9
    assert "x" in cb and len(cb) == 3 and cb.dim == 2000
    with pytest.raises(KeyError, match="no vector named"):
        cb["w"]
    with pytest.raises(ValueError, match="duplicate name"):
        vsa.Codebook(["a", "a"], np.ones((2, 4)))
    with pytest.raises(ValueError):
        cb.vectors[0, 0] = 5  # read-only


def test_sparse_ternary_exact_count():
    r = vsa.sparse_ternary(np.random.default_rng(3), 5, 1000, 20)
    assert r.dtype == np.int8
    assert np.count_nonzero(r, axis=1).tolist() == [20] * 5
    assert set(np.unique(r).tolist()) == {-1, 0, 1}


def test_stimulus_balanced_and_biased():
    s = vsa.stimulus(np.random.default_rng(4), 2, 10_000)
    assert s.dtype == np.int8 and set(np.unique(s).tolist()) == {-1, 1}
    t = vsa.stimulus(np.random.default_rng(4), 2, 100_000, f_s=0.75)
    assert set(np.unique(t).tolist()) == {-3.0, 1.0}  # -f/(1-f) = -3
    assert abs(np.mean(t > 0) - 0.75) < 0.01
    assert abs(float(np.mean(t))) < 0.02  # zero mean by construction
    with pytest.raises(ValueError, match="f_s"):
        vsa.stimulus(np.random.default_rng(0), 1, 10, f_s=1.0)


# --------------------------------------------------------------------------- sparse block codes


def test_sbc_bind_unbind_exact():
    a = np.array([0, 3, 7])
    b = np.array([5, 6, 1])
    c = vsa.sbc_bind(a, b, 8)
    assert c.tolist() == [5, 1, 0]
    assert vsa.sbc_unbind(c, b, 8).tolist() == a.tolist()
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        vsa.sbc_bind(np.array([8]), np.array([0]), 8)


def test_sbc_bundle_votes_and_ties():
    vs = np.array([[1, 2, 3], [1, 4, 5], [0, 4, 6]])
    # block 0: 1 twice; block 1: 4 twice; block 2: a three-way tie -> vector 2 mod 3 = 2: 6
    assert vsa.sbc_bundle(vs, 8).tolist() == [1, 4, 6]
    # a two-way tie in block 1 (cyclic order from vector 1): vector 1's position wins
    assert vsa.sbc_bundle(np.array([[0, 0], [1, 1]]), 4).tolist() == [0, 1]


def test_sbc_similarity_and_binary_expansion():
    a = np.array([0, 3, 7, 2])
    b = np.array([0, 3, 1, 5])
    assert vsa.sbc_similarity(a, b) == 0.5
    ab, bb = vsa.sbc_to_binary(a, 8), vsa.sbc_to_binary(b, 8)
    assert ab.shape == (32,) and ab.sum() == 4
    assert ab[[0, 8 + 3, 16 + 7, 24 + 2]].tolist() == [1, 1, 1, 1]
    assert int(ab @ bb) / 4 == vsa.sbc_similarity(a, b)
    assert vsa.sbc_permute(a, 1).tolist() == [2, 0, 3, 7]


def test_sbc_random_properties():
    rng = np.random.default_rng(5)
    x, y = vsa.sbc_random(rng, 2, 1000, 16)
    assert abs(vsa.sbc_similarity(x, y) - 1 / 16) < 0.04
    xy = vsa.sbc_bind(x, y, 16)
    assert vsa.sbc_similarity(xy, x) < 0.15 and vsa.sbc_similarity(xy, y) < 0.15
    z = vsa.sbc_random(rng, 1, 1000, 16)[0]
    s = vsa.sbc_bundle(np.stack([x, y, z]), 16)
    for v in (x, y, z):  # ties spread evenly: each member keeps about a third of the blocks
        assert 0.25 < vsa.sbc_similarity(s, v) < 0.45
