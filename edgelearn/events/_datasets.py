"""Class-indexed datasets (real folders and the generators) and N-way K-shot episodes.

A *class dataset* has ``classes`` (a tuple of class keys), ``count(c)`` (samples in class
``c``), ``get(c, i)`` (sample ``i`` of class ``c`` as a :class:`Recording`) and
``get_many(pairs)``. The :class:`EpisodeSampler` needs nothing else.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import pathlib
import re
from collections.abc import Iterator, Sequence

import numpy as np

from . import _generate as G
from ._io import read, read_gesture_labels
from ._transforms import AddressMap, bin_batch
from ._types import EVENT_DTYPE, EventFormatError, Recording, select_events

_EVENT_EXT = (".aedat4", ".aedat", ".raw", ".dat", ".bin", ".bs2", ".npz", ".npy")


class ClassDataset:
    """Base class: subclasses provide ``classes``, ``count`` and ``get``."""

    classes: tuple

    def count(self, c) -> int:
        raise NotImplementedError

    def get(self, c, i: int) -> Recording:
        raise NotImplementedError

    def get_many(self, pairs: Sequence[tuple]) -> list[Recording]:
        return [self.get(c, i) for c, i in pairs]

    def __len__(self) -> int:
        return sum(self.count(c) for c in self.classes)

    def items(self) -> Iterator[tuple[object, int]]:
        """Every ``(class, index)`` pair, class by class."""
        for c in self.classes:
            for i in range(self.count(c)):
                yield c, i


class FolderDataset(ClassDataset):
    """Generic layout: ``root/<class>/<file>``, one recording per file, classes sorted by name
    (numerically when every name is an integer), files sorted by name."""

    def __init__(self, root, *, extensions: Sequence[str] = _EVENT_EXT):
        self.root = pathlib.Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder {self.root} does not exist")
        dirs = [d for d in self.root.iterdir() if d.is_dir()]
        names = [d.name for d in dirs]
        key = (
            (lambda n: (0, int(n), n)) if all(n.isdigit() for n in names) else (lambda n: (1, 0, n))
        )
        self.files: dict[str, list[pathlib.Path]] = {}
        for name in sorted(names, key=key):
            fs = sorted(
                p
                for p in (self.root / name).iterdir()
                if p.is_file() and p.suffix.lower() in extensions
            )
            if fs:
                self.files[name] = fs
        self.classes = tuple(self.files)

    def count(self, c) -> int:
        return len(self.files[c])

    def get(self, c, i: int) -> Recording:
        rec = read(self.files[c][i])
        return rec.replace(meta={**rec.meta, "label": c, "path": str(self.files[c][i])})


class FileListDataset(FolderDataset):
    """Recordings named one by one. The class of a file is the digit its folder's N-MNIST label
    list gives it (a ``.bs2``/``.bin`` file beside a ``*.txt`` list, as :class:`NMNISTFolder`
    reads it), else the name of its folder (the ``class/file`` layout of
    :class:`FolderDataset`). Classes are strings, in the folder forms' order (numerically when
    all are integers), so naming every file of a folder gives that folder's episodes. A file
    its folder's label list does not name raises ``ValueError``."""

    def __init__(self, paths: Sequence):
        listed: dict = {}  # folder -> {file: digit} from its label list
        files: dict[str, list] = {}  # class -> [(sort key, file)]
        for p in dict.fromkeys(pathlib.Path(q).resolve() for q in paths):
            lists = sorted(p.parent.glob("*.txt"))
            if p.suffix.lower() in (".bs2", ".bin") and lists:
                if p.parent not in listed:
                    nm = NMNISTFolder(p.parent)
                    listed[p.parent] = {f.resolve(): c for c in nm.classes for f in nm.files[c]}
                if p not in listed[p.parent]:
                    raise ValueError(f"{p} has no label in the N-MNIST label list {lists[0]}")
                label, key = str(listed[p.parent][p]), (str(p.parent), int(p.stem))
            else:
                label, key = p.parent.name, (str(p), 0)
            files.setdefault(label, []).append((key, p))
        digits = all(c.isdigit() for c in files)
        self.root = None
        self.classes = tuple(sorted(files, key=lambda c: (int(c), c) if digits else (0, c)))
        self.files = {c: [p for _, p in sorted(files[c])] for c in self.classes}


class NMNISTFolder(ClassDataset):
    """N-MNIST as SLAYER ships it: ``<id>.bs2`` (or ``.bin``) files and a label list
    (``train1K.txt``: a header line, then ``<id> <class>`` lines). Only listed files that exist
    are used. Classes are the digits present, ascending."""

    def __init__(self, root, *, labels: str | None = None):
        self.root = pathlib.Path(root)
        if labels is None:
            cands = sorted(self.root.glob("*.txt"))
            if not cands:
                raise FileNotFoundError(f"no label list (*.txt) in {self.root}")
            labels = cands[0].name
        by_class: dict[int, list[pathlib.Path]] = collections.defaultdict(list)
        for line in (self.root / labels).read_text().splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[0].isdigit():
                continue
            for ext in (".bs2", ".bin"):
                p = self.root / f"{parts[0]}{ext}"
                if p.exists():
                    by_class[int(parts[1])].append(p)
                    break
        self.files = {c: sorted(v, key=lambda p: int(p.stem)) for c, v in sorted(by_class.items())}
        self.classes = tuple(self.files)

    def count(self, c) -> int:
        return len(self.files[c])

    def get(self, c, i: int) -> Recording:
        rec = read(self.files[c][i], format="nmnist")
        return rec.replace(meta={"label": c, "path": str(self.files[c][i])})


class DVSGestureFolder(ClassDataset):
    """DVS128 Gesture layout: ``userNN_<lighting>.aedat`` (AEDAT 3.1) with
    ``userNN_<lighting>_labels.csv``; ``trials_to_train.txt`` / ``trials_to_test.txt`` list the
    files of each split (if absent: users 1-23 train, 24-29 test, as in the dataset). A sample
    is one labelled segment; classes are the CSV's class numbers (1-11)."""

    def __init__(self, root, *, split: str = "train"):
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be train, test or all, got {split!r}")
        self.root = pathlib.Path(root)
        files = sorted(self.root.glob("user*.aedat"))
        listed = {}
        for s in ("train", "test"):
            lf = self.root / f"trials_to_{s}.txt"
            if lf.exists():
                listed[s] = {ln.strip() for ln in lf.read_text().splitlines() if ln.strip()}

        def in_split(p: pathlib.Path) -> bool:
            if split == "all":
                return True
            if split in listed:
                return p.name in listed[split]
            m = re.match(r"user(\d+)", p.name)
            user = int(m.group(1)) if m else 0
            return (user <= 23) == (split == "train")

        self.segments: dict[int, list[tuple[pathlib.Path, int, int]]] = collections.defaultdict(
            list
        )
        for p in files:
            if not in_split(p):
                continue
            csv = p.with_name(p.stem + "_labels.csv")
            if not csv.exists():
                continue
            for row in read_gesture_labels(csv):
                self.segments[int(row["label"])].append((p, int(row["t_start"]), int(row["t_end"])))
        self.segments = dict(sorted(self.segments.items()))
        self.classes = tuple(self.segments)
        self._last: tuple[pathlib.Path, Recording] | None = None

    def count(self, c) -> int:
        return len(self.segments[c])

    def get(self, c, i: int) -> Recording:
        path, t0, t1 = self.segments[c][i]
        if self._last is None or self._last[0] != path:
            self._last = (path, read(path))
        rec = self._last[1]
        a, b = np.searchsorted(rec.events["t"], [t0, t1])
        return rec.replace(
            events=select_events(rec.events, slice(a, b)),
            meta={"label": c, "path": str(path), "t_start": t0, "t_end": t1},
        )


class GeneratedDataset(ClassDataset):
    """The glyph or gesture generator as a class dataset.

    ``kind``: ``"glyphs"`` or ``"gestures"``; classes ``0 .. n_classes-1``; each class has
    ``samples_per_class`` samples (any index is valid; this just bounds episode sampling).
    Samples are deterministic in ``(seed, class, index)``, made in vectorised batches of up to
    ``batch`` and kept in an LRU cache of ``cache_size`` recordings. With ``cache_dir``, every
    sample made is also saved there (one ``.npy`` per sample, in a folder named after the kind,
    seed and a digest of the config) and later runs load it instead of simulating again.
    ``workers > 1`` makes big requests in that many worker processes (spawned, numpy only).
    """

    def __init__(
        self,
        kind: str = "glyphs",
        n_classes: int = 100,
        *,
        samples_per_class: int = 1000,
        seed: int = 0,
        config=None,
        cache_size: int = 4096,
        batch: int = 128,
        cache_dir=None,
        workers: int = 1,
    ):
        if kind not in ("glyphs", "gestures"):
            raise ValueError(f"kind must be glyphs or gestures, got {kind!r}")
        if n_classes < 1 or samples_per_class < 1:
            raise ValueError("n_classes and samples_per_class must be >= 1")
        self.kind = kind
        self.classes = tuple(range(int(n_classes)))
        self.samples_per_class = int(samples_per_class)
        self.seed = int(seed)
        self.config = config
        self.cache_size = int(cache_size)
        self.batch = int(batch)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._make = G.glyph_batch if kind == "glyphs" else G.gesture_batch
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self._pool = None
        self.cache_dir = None
        if cache_dir is not None:
            cfg = self.config or (G.GlyphConfig() if kind == "glyphs" else G.GestureConfig())
            digest = hashlib.sha256(repr(cfg).encode()).hexdigest()[:12]
            self.cache_dir = pathlib.Path(cache_dir) / f"{kind}-seed{self.seed}-{digest}"

    def _generate(self, chunks):
        """Recordings for each chunk of ``(class, index)`` pairs, in worker processes when
        ``workers > 1`` and there is more than one chunk (same results either way)."""
        if self.workers == 1 or len(chunks) < 2:
            for chunk in chunks:
                yield self._make(
                    [c for c, _ in chunk],
                    [i for _, i in chunk],
                    seed=self.seed,
                    config=self.config,
                )
            return
        if self._pool is None:
            import concurrent.futures
            import multiprocessing

            # spawn, not fork: the parent may hold JAX or other threads
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        jobs = [
            self._pool.submit(
                _make_events,
                self.kind,
                [c for c, _ in ch],
                [i for _, i in ch],
                self.seed,
                self.config,
            )
            for ch in chunks
        ]
        w, h = self.sensor_size
        for chunk, job in zip(chunks, jobs, strict=True):
            yield [
                Recording(ev, w, h, self.kind, {"label": c, "index": i})
                for ev, (c, i) in zip(job.result(), chunk, strict=True)
            ]

    def close(self) -> None:
        """Stop the worker processes (if any)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _disk(self, c: int, i: int) -> pathlib.Path:
        return self.cache_dir / str(c) / f"{i}.npy"

    def _load(self, c: int, i: int) -> Recording | None:
        if self.cache_dir is None:
            return None
        try:
            ev = np.load(self._disk(c, i), allow_pickle=False)
        except (OSError, ValueError):
            return None
        if ev.dtype != EVENT_DTYPE or ev.ndim != 1:
            return None
        w, h = self.sensor_size
        return Recording(ev, w, h, self.kind, {"label": c, "index": i})

    def _save(self, c: int, i: int, rec: Recording) -> None:
        path = self._disk(c, i)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.part")
        with open(tmp, "wb") as f:
            np.save(f, rec.events, allow_pickle=False)
        os.replace(tmp, path)

    @property
    def sensor_size(self) -> tuple[int, int]:
        cfg = self.config or (G.GlyphConfig() if self.kind == "glyphs" else G.GestureConfig())
        return (cfg.size, cfg.size)

    def count(self, c) -> int:
        return self.samples_per_class

    def get(self, c, i: int) -> Recording:
        return self.get_many([(c, i)])[0]

    def get_many(self, pairs: Sequence[tuple]) -> list[Recording]:
        pairs = [(int(c), int(i)) for c, i in pairs]
        for c, _ in pairs:
            if c not in range(len(self.classes)):
                raise KeyError(f"class {c} not in 0..{len(self.classes) - 1}")
        missing = list(dict.fromkeys(p for p in pairs if p not in self._cache))
        if self.cache_dir is not None:
            todo = []
            for key in missing:
                rec = self._load(*key)
                if rec is None:
                    todo.append(key)
                else:
                    self._cache[key] = rec
            missing = todo
        chunks = [missing[a : a + self.batch] for a in range(0, len(missing), self.batch)]
        for chunk, recs in zip(chunks, self._generate(chunks), strict=True):
            for key, rec in zip(chunk, recs, strict=True):
                self._cache[key] = rec
                if self.cache_dir is not None:
                    self._save(*key, rec)
        out = []
        for p in pairs:
            rec = self._cache[p]
            self._cache.move_to_end(p)
            out.append(rec)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out


def _make_events(kind, class_ids, indices, seed, config) -> list[np.ndarray]:
    """Worker-process entry: the events of a batch of generated samples."""
    make = G.glyph_batch if kind == "glyphs" else G.gesture_batch
    return [r.events for r in make(class_ids, indices, seed=seed, config=config)]


def glyphs(n_classes: int = 100, **kw) -> GeneratedDataset:
    """The generated glyphs dataset (34 x 34, N-MNIST-like); see :class:`GeneratedDataset`."""
    return GeneratedDataset("glyphs", n_classes, **kw)


def gestures(n_classes: int = 16, **kw) -> GeneratedDataset:
    """The generated gestures dataset (128 x 128); see :class:`GeneratedDataset`."""
    return GeneratedDataset("gestures", n_classes, **kw)


def open_dataset(root) -> ClassDataset:
    """Open a dataset folder, recognising its layout: a generated folder or any
    ``class/file`` tree (:class:`FolderDataset`), DVS Gesture (``user*.aedat`` + CSVs, all
    splits), or N-MNIST with a label list (:class:`NMNISTFolder`)."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    if any(root.glob("user*_labels.csv")):
        return DVSGestureFolder(root, split="all")
    if any(d.is_dir() for d in root.iterdir()):
        return FolderDataset(root)
    if any(root.glob("*.txt")) and (any(root.glob("*.bs2")) or any(root.glob("*.bin"))):
        return NMNISTFolder(root)
    raise EventFormatError(root, None, "no recognised dataset layout")


def write_generated(
    root,
    kind: str,
    n_classes: int,
    samples_per_class: int,
    *,
    seed: int = 0,
    fmt: str = "npz",
    config=None,
) -> pathlib.Path:
    """Write a generated dataset as ``root/<class>/<index>.<ext>`` plus ``dataset.json``.
    ``root`` must be new or empty: a folder already holding files would mix old samples with
    the new ones (a reader of the folder sees every class folder), so it raises
    ``FileExistsError``."""
    from ._writers import write

    ext = {
        "npz": ".npz",
        "evt2": ".raw",
        "evt3": ".raw",
        "aedat4": ".aedat4",
        "aedat3": ".aedat",
        "nmnist": ".bin",
        "dat": ".dat",
    }.get(fmt)
    if ext is None:
        raise ValueError(f"unsupported dataset file format {fmt!r}")
    root = pathlib.Path(root)
    if root.is_dir() and any(root.iterdir()):
        raise FileExistsError(
            f"{root} already holds files; write a generated dataset into a new or empty folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    ds = GeneratedDataset(
        kind, n_classes, samples_per_class=samples_per_class, seed=seed, config=config, cache_size=0
    )
    for c in ds.classes:
        (root / str(c)).mkdir(exist_ok=True)
        recs = ds.get_many([(c, i) for i in range(samples_per_class)])
        for i, rec in enumerate(recs):
            write(root / str(c) / f"{i}{ext}", rec, format=fmt)
    meta = {
        "kind": kind,
        "classes": n_classes,
        "samples_per_class": samples_per_class,
        "seed": seed,
        "format": fmt,
        "sensor_size": list(ds.sensor_size),
        "config": None if config is None else repr(config),
    }
    (root / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return root


# --------------------------------------------------------------------------- episodes


@dataclasses.dataclass(frozen=True, eq=False)
class Episode:
    """One N-way K-shot task.

    Attributes:
        classes: the N dataset classes; episode label ``j`` is ``classes[j]``.
        support: N*K recordings, class by class (labels 0,0,..,1,1,..).
        support_labels: ``(N*K,)`` int64 episode labels.
        query: N*Q recordings, shuffled.
        query_labels: ``(N*Q,)`` int64 episode labels.
    """

    classes: tuple
    support: list[Recording]
    support_labels: np.ndarray
    query: list[Recording]
    query_labels: np.ndarray

    def rasters(
        self, address_map: AddressMap, *, dt_us: int, n_steps: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Support and query binned to ``(N*K, T, n_axons)`` and ``(N*Q, T, n_axons)`` bool
        arrays (each sample's step 0 at its first event)."""
        return (
            bin_batch(self.support, address_map, dt_us=dt_us, n_steps=n_steps),
            bin_batch(self.query, address_map, dt_us=dt_us, n_steps=n_steps),
        )


_SPLITS = ("train", "val", "test")


class EpisodeSampler:
    """N-way K-shot episodes with disjoint meta-train / meta-val / meta-test classes.

    Args:
        dataset: a class dataset.
        n_way, k_shot, n_query: classes per episode, support and query samples per class.
        splits: class fractions ``(train, val, test)`` (classes shuffled by ``seed`` then cut
            in that order), or a dict ``{"train": [...], "val": [...], "test": [...]}`` of
            explicit class lists (must be disjoint).
        seed: everything (the class split, every episode) is a function of it.

    ``episode(split, index)`` is deterministic in ``(seed, split, index)``; within an episode
    the N classes and each class's K + Q samples are distinct.
    """

    def __init__(
        self,
        dataset: ClassDataset,
        *,
        n_way: int,
        k_shot: int,
        n_query: int = 1,
        splits=(0.6, 0.2, 0.2),
        seed: int = 0,
    ):
        if n_way < 1 or k_shot < 1 or n_query < 0:
            raise ValueError(
                f"need n_way >= 1, k_shot >= 1, n_query >= 0; got {n_way}, {k_shot}, {n_query}"
            )
        self.dataset = dataset
        self.n_way, self.k_shot, self.n_query = int(n_way), int(k_shot), int(n_query)
        self.seed = int(seed)
        classes = list(dataset.classes)
        if isinstance(splits, dict):
            parts = {s: list(splits.get(s, [])) for s in _SPLITS}
            seen: set = set()
            for s in _SPLITS:
                unknown = [c for c in parts[s] if c not in classes]
                if unknown:
                    raise ValueError(f"split {s!r} names classes not in the dataset: {unknown}")
                if seen & set(parts[s]):
                    raise ValueError(f"split {s!r} shares classes with another split")
                seen |= set(parts[s])
        else:
            fr = np.asarray(splits, dtype=np.float64)
            if fr.shape != (3,) or (fr < 0).any() or fr.sum() <= 0:
                raise ValueError(f"splits must be 3 non-negative fractions, got {splits!r}")
            order = np.random.default_rng([self.seed, 0x5E]).permutation(len(classes))
            cuts = np.round(np.cumsum(fr / fr.sum()) * len(classes)).astype(int)
            bounds = [0, *cuts]
            parts = {
                s: [classes[j] for j in order[bounds[k] : bounds[k + 1]]]
                for k, s in enumerate(_SPLITS)
            }
        self.split_classes = {s: tuple(parts[s]) for s in _SPLITS}
        need = self.k_shot + self.n_query
        for s in _SPLITS:
            small = [c for c in self.split_classes[s] if dataset.count(c) < need]
            if small:
                raise ValueError(
                    f"classes {small[:5]} of split {s!r} have fewer than "
                    f"k_shot + n_query = {need} samples"
                )

    def available(self, split: str) -> bool:
        """Whether ``split`` has at least ``n_way`` classes."""
        return len(self.split_classes[split]) >= self.n_way

    def _plan(self, split: str, index: int):
        """``(classes, support pairs, query pairs, support labels, query labels)``."""
        if split not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
        pool = self.split_classes[split]
        if len(pool) < self.n_way:
            raise ValueError(
                f"split {split!r} has {len(pool)} classes, fewer than n_way = {self.n_way}"
            )
        rng = np.random.default_rng([self.seed, _SPLITS.index(split), int(index)])
        chosen = [pool[j] for j in rng.choice(len(pool), self.n_way, replace=False)]
        need = self.k_shot + self.n_query
        sup, qry = [], []
        for c in chosen:
            idx = rng.choice(self.dataset.count(c), need, replace=False)
            sup += [(c, int(i)) for i in idx[: self.k_shot]]
            qry += [(c, int(i)) for i in idx[self.k_shot :]]
        s_lab = np.repeat(np.arange(self.n_way), self.k_shot)
        q_lab = np.repeat(np.arange(self.n_way), self.n_query)
        perm = rng.permutation(len(qry))
        return tuple(chosen), sup, [qry[j] for j in perm], s_lab, q_lab[perm]

    def episode(self, split: str, index: int) -> Episode:
        """Episode ``index`` of ``split`` (a pure function of the seed, split and index)."""
        return self.episode_batch(split, [index])[0]

    def episode_batch(self, split: str, indices: Sequence[int]) -> list[Episode]:
        """Episodes ``indices`` of ``split``, each equal to ``episode(split, i)``, with all
        their samples fetched in one ``get_many`` call (a generated dataset makes them in big
        batches, in its worker processes where it has them)."""
        plans = [self._plan(split, int(i)) for i in indices]
        recs = iter(self.dataset.get_many([p for plan in plans for p in plan[1] + plan[2]]))
        return [
            Episode(
                classes, [next(recs) for _ in sup], s_lab, [next(recs) for _ in qry], q_lab
            )
            for classes, sup, qry, s_lab, q_lab in plans
        ]

    def rasters(
        self,
        split: str,
        indices: Sequence[int],
        address_map: AddressMap,
        *,
        dt_us: int,
        n_steps: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A batch of episodes as arrays, for ``vmap`` over episodes.

        Returns ``(support_x, support_y, query_x, query_y)`` with shapes ``(E, N*K, T, A)``
        bool, ``(E, N*K)`` int32, ``(E, N*Q, T, A)`` bool, ``(E, N*Q)`` int32, for the
        episodes ``indices`` of ``split`` (``E = len(indices)``, ``A = n_axons``). All samples
        are fetched in one ``get_many`` call, so generated datasets make them in big batches.
        """
        plans = [self._plan(split, int(i)) for i in indices]
        pairs = [p for plan in plans for p in plan[1] + plan[2]]
        recs = iter(self.dataset.get_many(pairs))
        nk, nq = self.n_way * self.k_shot, self.n_way * self.n_query
        A = address_map.n_axons
        sx = np.zeros((len(plans), nk, n_steps, A), dtype=bool)
        qx = np.zeros((len(plans), nq, n_steps, A), dtype=bool)
        sy = np.zeros((len(plans), nk), dtype=np.int32)
        qy = np.zeros((len(plans), nq), dtype=np.int32)
        for e, (_, sup, qry, s_lab, q_lab) in enumerate(plans):
            sup_recs = [next(recs) for _ in sup]
            qry_recs = [next(recs) for _ in qry]
            sx[e] = bin_batch(sup_recs, address_map, dt_us=dt_us, n_steps=n_steps)
            qx[e] = bin_batch(qry_recs, address_map, dt_us=dt_us, n_steps=n_steps)
            sy[e], qy[e] = s_lab, q_lab
        return sx, sy, qx, qy

    def episodes(self, split: str, start: int = 0) -> Iterator[Episode]:
        """Episodes ``start, start+1, ...`` of a split (endless)."""
        i = start
        while True:
            yield self.episode(split, i)
            i += 1
