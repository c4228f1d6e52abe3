"""Vector-symbolic hypervectors: dense bipolar (MAP) and sparse block codes.

Two representations, each a handful of pure numpy functions over plain arrays (no classes to
learn, nothing hidden); random vectors always come from an explicit ``numpy.random.Generator``.

**Dense bipolar (MAP: multiply-add-permute, Gayler 1998)**, the representation the attractor
state machines of :mod:`edgelearn.fsm` use. A hypervector is an ``int8`` array in ``{-1, +1}^N``.

- binding ``bind(a, b) = a * b`` (elementwise; self-inverse: ``bind(bind(a, b), b) == a``);
- bundling ``bundle(vs) = sgn(sum vs)``. A tie (a component ``i`` that sums to 0, possible only
  for an even number ``k`` of vectors) takes the value of vector ``i mod k`` in that component.
  The rule is deterministic, needs no generator, and shares the ties evenly among the members
  (breaking every tie towards one vector would make ``bundle([a, b]) == a``); pass ``rng`` to
  break ties by a fair coin instead;
- permutation ``permute(a, k) = roll(a, k)`` (a cyclic shift; ``permute(a, -k)`` undoes it);
- similarity ``similarity(a, b) = a . b / N``, the normalised dot product: 1 for equal vectors,
  -1 for opposite ones, ``0 +- 1/sqrt(N)`` for independent random ones.

Helpers for the state machines: :func:`sparse_ternary` (the sparse output codes of Cotteret et
al. 2024, eq. 24), :func:`stimulus` (mask vectors with a chosen fraction ``f_s`` of unmasked
components, appendix E of the same paper) and :func:`heaviside`.

**Sparse block codes (SBC)** — the sparse binary variant. A vector of ``N = blocks * block_len``
bits has exactly one active bit in each of ``blocks`` blocks; it is stored compactly as the
``int`` array of the active positions, shape ``(..., blocks)``, values in ``[0, block_len)``, and
expanded to ``{0, 1}^N`` by :func:`sbc_to_binary`. Why block codes rather than unstructured sparse
binary vectors with binding by circular shift: binding within each block by a cyclic shift
(adding positions modulo ``block_len``) is exactly invertible, keeps the code's sparsity fixed
(``1 / block_len``) and makes the result dissimilar to both operands, which binding a whole
unstructured sparse vector by one global shift does not (its inverse needs to know the shift, and
a bundle of shifted vectors loses the fixed sparsity). Operations:

- binding ``sbc_bind(a, b) = (a + b) mod L`` per block; unbinding
  ``sbc_unbind(c, b) = (c - b) mod L``;
- bundling ``sbc_bundle(vs)``: per block, the position with the most votes; a tie in block
  ``b`` goes to the tied position held by the first vector in the cyclic order starting at
  vector ``b mod k`` (again spreading ties evenly over the members; ties are the rule, not the
  exception, when a few random codes are bundled);
- permutation ``sbc_permute(a, k) = roll(a, k)`` over the blocks;
- similarity ``sbc_similarity(a, b)``: the fraction of blocks whose active positions agree, 1 for
  equal vectors and ``1/L +- small`` for independent ones. It equals the binary overlap
  ``a_bin . b_bin / blocks``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "bind",
    "bundle",
    "heaviside",
    "permute",
    "random_bipolar",
    "sbc_bind",
    "sbc_bundle",
    "sbc_permute",
    "sbc_random",
    "sbc_similarity",
    "sbc_to_binary",
    "sbc_unbind",
    "similarity",
    "sparse_ternary",
    "stimulus",
    "Codebook",
]


def _check_dim(name: str, value: int, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def _check_fraction(name: str, value: float, *, open_low: bool = True,
                    open_high: bool = True) -> float:
    v = float(value)
    lo_ok = v > 0.0 if open_low else v >= 0.0
    hi_ok = v < 1.0 if open_high else v <= 1.0
    if not (lo_ok and hi_ok):
        lo = "(0" if open_low else "[0"
        hi = "1)" if open_high else "1]"
        raise ValueError(f"{name} must be in {lo}, {hi}, got {value!r}")
    return v


# --------------------------------------------------------------------------- dense bipolar (MAP)


def random_bipolar(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``n`` independent hypervectors, each component +1 or -1 with probability 1/2.

    Returns ``int8``, shape ``(n, dim)``.
    """
    n = _check_dim("n", n, 0)
    dim = _check_dim("dim", dim)
    bits = rng.integers(0, 2, size=(n, dim), dtype=np.int8)
    return (2 * bits - 1).astype(np.int8)


def bind(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAP binding: the elementwise product ``a * b`` (shapes broadcast). Self-inverse."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"bind: dimensions differ ({a.shape[-1]} vs {b.shape[-1]})")
    return a * b


def bundle(vectors: np.ndarray | Sequence[np.ndarray], *,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """MAP bundling (superposition): ``sgn(sum_k v_k)`` over the first axis.

    A tie (zero sum) in component ``i`` takes vector ``i mod k``'s component, or a fair coin from
    ``rng`` when given. Returns ``int8``, shape ``(dim,)``.
    """
    vs = np.asarray(vectors)
    if vs.ndim != 2 or vs.shape[0] == 0:
        raise ValueError(f"bundle needs a non-empty (k, dim) stack of vectors, got shape "
                         f"{vs.shape}")
    total = vs.astype(np.int64).sum(axis=0)
    out = np.sign(total).astype(np.int8)
    ties = out == 0
    if np.any(ties):
        if rng is None:
            cols = np.flatnonzero(ties)
            pick = vs[cols % vs.shape[0], cols]
            out[cols] = np.where(pick >= 0, 1, -1)
        else:
            out[ties] = (2 * rng.integers(0, 2, size=int(ties.sum())) - 1).astype(np.int8)
    return out


def permute(a: np.ndarray, k: int = 1) -> np.ndarray:
    """MAP permutation: a cyclic shift of the last axis by ``k`` (``permute(a, -k)`` inverts it)."""
    return np.roll(np.asarray(a), int(k), axis=-1)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Normalised dot product ``a . b / N`` over the last axis (broadcasts; float64)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"similarity: dimensions differ ({a.shape[-1]} vs {b.shape[-1]})")
    n = a.shape[-1]
    out = np.einsum("...i,...i->...", a.astype(np.float64), b.astype(np.float64)) / n
    return float(out) if np.ndim(out) == 0 else out


def heaviside(s: np.ndarray) -> np.ndarray:
    """``H(s)``: 1 where ``s > 0``, else 0 (``int8``). Masks with ``z * H(s)``."""
    return (np.asarray(s) > 0).astype(np.int8)


def sparse_ternary(rng: np.random.Generator, n: int, dim: int, n_active: int) -> np.ndarray:
    """``n`` sparse ternary vectors in ``{-1, 0, +1}^dim``, each with exactly ``n_active``
    non-zero components (positions uniform without replacement, signs fair). ``int8``."""
    n = _check_dim("n", n, 0)
    dim = _check_dim("dim", dim)
    n_active = _check_dim("n_active", n_active, 0)
    if n_active > dim:
        raise ValueError(f"n_active = {n_active} exceeds dim = {dim}")
    out = np.zeros((n, dim), dtype=np.int8)
    for k in range(n):
        pos = rng.choice(dim, size=n_active, replace=False)
        out[k, pos] = 2 * rng.integers(0, 2, size=n_active, dtype=np.int8) - 1
    return out


def stimulus(rng: np.random.Generator, n: int, dim: int, f_s: float = 0.5) -> np.ndarray:
    """``n`` stimulus (mask) vectors whose fraction ``f_s`` of components is positive.

    Component values: ``+1`` with probability ``f_s``, ``-f_s / (1 - f_s)`` otherwise, so that
    every component has mean 0 (Cotteret et al. 2024, appendix E; the negative components are the
    masked ones). ``f_s = 0.5`` gives ordinary bipolar vectors (``int8``); other values give
    ``float32`` (``f_s = 0.75`` gives -3, still an integer).
    """
    n = _check_dim("n", n, 0)
    dim = _check_dim("dim", dim)
    f_s = _check_fraction("f_s", f_s)
    pos = rng.random((n, dim)) < f_s
    if f_s == 0.5:
        return np.where(pos, 1, -1).astype(np.int8)
    return np.where(pos, 1.0, -f_s / (1.0 - f_s)).astype(np.float32)


class Codebook:
    """Named hypervectors: ``names`` in order and ``vectors[i]`` for ``names[i]``.

    Immutable: ``vectors`` is read-only. Build one with :meth:`random` (seeded) or from arrays.
    """

    def __init__(self, names: Sequence[str], vectors: np.ndarray) -> None:
        names = tuple(str(n) for n in names)
        vectors = np.array(vectors, copy=True)
        if vectors.ndim != 2 or vectors.shape[0] != len(names):
            raise ValueError(f"Codebook: {len(names)} names but vectors of shape {vectors.shape}")
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"Codebook: duplicate name {dup!r}")
        vectors.setflags(write=False)
        self.names = names
        self.vectors = vectors
        self._index = {n: i for i, n in enumerate(names)}

    @classmethod
    def random(cls, names: Sequence[str], dim: int, rng: np.random.Generator) -> Codebook:
        """Independent random bipolar vectors, one per name."""
        return cls(names, random_bipolar(rng, len(names), dim))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.vectors[self._index[name]]
        except KeyError:
            raise KeyError(f"no vector named {name!r} in this codebook") from None

    def similarities(self, v: np.ndarray) -> np.ndarray:
        """Similarity of ``v`` (shape ``(..., dim)``) to every entry: shape ``(..., len(self))``."""
        v = np.asarray(v, dtype=np.float64)
        return v @ self.vectors.T.astype(np.float64) / self.dim

    def cleanup(self, v: np.ndarray) -> tuple[str, float]:
        """The most similar entry and its similarity (ties: the earliest name)."""
        sims = self.similarities(v)
        i = int(np.argmax(sims))
        return self.names[i], float(sims[i])


# --------------------------------------------------------------------------- sparse block codes


def sbc_random(rng: np.random.Generator, n: int, blocks: int, block_len: int) -> np.ndarray:
    """``n`` random sparse block codes: shape ``(n, blocks)``, positions in ``[0, block_len)``."""
    n = _check_dim("n", n, 0)
    blocks = _check_dim("blocks", blocks)
    block_len = _check_dim("block_len", block_len, 2)
    return rng.integers(0, block_len, size=(n, blocks), dtype=np.int32)


def _check_sbc(a: np.ndarray, block_len: int) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"a sparse block code holds integer positions, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() >= block_len):
        raise ValueError(f"sparse block code positions must be in [0, {block_len})")
    return a


def sbc_bind(a: np.ndarray, b: np.ndarray, block_len: int) -> np.ndarray:
    """Bind two block codes: per block, positions add modulo ``block_len`` (a cyclic shift)."""
    a = _check_sbc(a, block_len)
    b = _check_sbc(b, block_len)
    return ((a.astype(np.int64) + b) % block_len).astype(np.int32)


def sbc_unbind(c: np.ndarray, b: np.ndarray, block_len: int) -> np.ndarray:
    """Inverse of :func:`sbc_bind`: ``sbc_unbind(sbc_bind(a, b), b) == a``."""
    c = _check_sbc(c, block_len)
    b = _check_sbc(b, block_len)
    return ((c.astype(np.int64) - b) % block_len).astype(np.int32)


def sbc_permute(a: np.ndarray, k: int = 1) -> np.ndarray:
    """Permute a block code: a cyclic shift of the blocks by ``k``."""
    return np.roll(np.asarray(a), int(k), axis=-1)


def sbc_bundle(vectors: np.ndarray, block_len: int) -> np.ndarray:
    """Bundle block codes: per block, the position with the most votes.

    A tie in block ``b`` goes to the tied position of the first vector in the cyclic order that
    starts at vector ``b mod k``.

    ``vectors`` has shape ``(k, blocks)``; returns shape ``(blocks,)``.
    """
    vs = _check_sbc(np.asarray(vectors), block_len)
    if vs.ndim != 2 or vs.shape[0] == 0:
        raise ValueError(f"sbc_bundle needs a non-empty (k, blocks) stack, got shape {vs.shape}")
    k, blocks = vs.shape
    counts = np.zeros((blocks, block_len), dtype=np.int64)
    np.add.at(counts, (np.broadcast_to(np.arange(blocks), (k, blocks)), vs), 1)
    # rank of the earliest vector holding each position, in the cyclic order from b mod k
    first = np.full((blocks, block_len), k, dtype=np.int64)
    order = (np.arange(k)[:, None] - np.arange(blocks)[None, :]) % k
    np.minimum.at(first, (np.broadcast_to(np.arange(blocks), (k, blocks)), vs), order)
    key = counts * (k + 1) - first  # more votes first, then the earliest in cyclic order
    return np.argmax(key, axis=1).astype(np.int32)


def sbc_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Fraction of blocks in which ``a`` and ``b`` agree (last axis; broadcasts)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"sbc_similarity: block counts differ ({a.shape[-1]} vs {b.shape[-1]})")
    out = np.mean(a == b, axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def sbc_to_binary(a: np.ndarray, block_len: int) -> np.ndarray:
    """Expand block codes ``(..., blocks)`` to binary vectors ``(..., blocks * block_len)``."""
    a = _check_sbc(a, block_len)
    blocks = a.shape[-1]
    out = np.zeros(a.shape[:-1] + (blocks, block_len), dtype=np.int8)
    np.put_along_axis(out, a[..., None].astype(np.int64), 1, axis=-1)
    return out.reshape(a.shape[:-1] + (blocks * block_len,))
