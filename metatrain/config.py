"""Meta-training configuration: a TOML file -> frozen dataclasses (every field has a default).

See ``metatrain/configs/*.toml`` and ``docs/metatrain.md`` for the meaning of each field.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any

from edgelearn import constants as C
from edgelearn.artifact import U32_MAX

from .model import ModelConfig


@dataclasses.dataclass(frozen=True)
class DataConfig:
    kind: str = "glyphs"              # generator: glyphs | gestures
    generator_seed: int = 0           # the generator's seed (class shapes and samples)
    train_classes: tuple[int, int] = (0, 200)    # [start, stop) generator class ids
    val_classes: tuple[int, int] = (200, 240)
    test_classes: tuple[int, int] = (1000, 1100)  # never seen in meta-training
    samples: int = 20                 # samples binned per meta-train class
    eval_samples: int = 11            # samples per val/test class (>= shots + queries)
    dt_us: int = 5000                 # timestep length
    steps: int = 60                   # timesteps per sample


@dataclasses.dataclass(frozen=True)
class EpisodeConfig:
    ways: int = 5
    shots: int = 1
    queries: int = 5                  # per class, meta-training episodes


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Supervised feature pre-training on the meta-train classes (prototype loss on hidden
    spike counts, through the twin). ``steps = 0`` skips it."""

    steps: int = 300
    ways: int = 16
    samples: int = 4                  # per class and batch: 2 prototypes + 2 queries
    lr_w: float = 0.5                 # Adam step, weight mantissa units
    lr_neuron: float = 2.0            # Adam step for decays, thresholds, biases
    # score of a query against a class prototype: "euclid" = -squared distance (prototypical
    # networks), "dot" = dot product, what the on-chip readout computes (its learned weight
    # row is roughly the shot's features)
    metric: str = "euclid"


@dataclasses.dataclass(frozen=True)
class MetaConfig:
    steps: int = 200
    batch: int = 8                    # episodes per outer step (split over devices)
    order: str = "full"               # full | first
    remat: bool = False               # jax.checkpoint each shot of the inner loop
    train_features: bool = True       # fine-tune the extractor in the outer loop
    # shots per class of the training episodes, cycled over the outer steps (step i uses
    # train_shots[i % len]); empty = episode.shots. A mix teaches the rule that a second shot
    # of a class must not undo the first; validation and the report use episode.shots.
    train_shots: tuple[int, ...] = ()
    lr_w: float = 0.1                 # Adam steps per parameter group (their own units)
    lr_neuron: float = 5.0
    lr_hyper: float = 0.5
    lr_w0: float = 0.5
    lr_beta: float = 0.01
    warmup: int = 10                  # linear warm-up, then cosine decay to 10 %
    clip: float = 10.0                # global gradient-norm clip
    val_every: int = 50
    val_episodes: int = 40
    checkpoint_every: int = 50


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    episodes: int = 200
    queries: int = 10
    shots_curve: tuple[int, ...] = (1, 2, 3, 5)
    curve_episodes: int = 50
    baselines: bool = True
    engine: str = "runtime"           # runtime (C, falls back to twin if it cannot) | twin
    transfer_steps: int = 100
    transfer_lr: float = 0.1
    nmnist: str = ""                  # N-MNIST folder (relative to the repository root) for a
    nmnist_queries: int = 4           # second held-out test; skipped when empty or missing


@dataclasses.dataclass(frozen=True)
class DistConfig:
    distributed: bool = False         # call jax.distributed.initialize() (multi-host)
    coordinator: str = ""             # passed through when set; else JAX's auto-detection
    num_processes: int = 0
    process_id: int = -1


@dataclasses.dataclass(frozen=True)
class Config:
    name: str = "run"
    seed: int = 0
    data: DataConfig = DataConfig()
    episode: EpisodeConfig = EpisodeConfig()
    model: ModelConfig = ModelConfig()
    pretrain: PretrainConfig = PretrainConfig()
    meta: MetaConfig = MetaConfig()
    eval: EvalConfig = EvalConfig()
    dist: DistConfig = DistConfig()

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {"data": DataConfig, "episode": EpisodeConfig, "model": ModelConfig,
             "pretrain": PretrainConfig, "meta": MetaConfig, "eval": EvalConfig,
             "dist": DistConfig}


def _build(cls, raw: dict[str, Any], where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kw = {}
    for k, v in raw.items():
        if k not in fields:
            raise ValueError(f"{where}: unknown key {k!r}; known: {sorted(fields)}")
        default = getattr(cls(), k)
        if isinstance(default, tuple):
            if not isinstance(v, list):
                raise ValueError(f"{where}.{k} must be a list, got {v!r}")
            v = tuple(v)
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise ValueError(f"{where}.{k} must be true or false, got {v!r}")
        elif isinstance(default, float) and type(v) is int:  # (a bool is an int: refused)
            v = float(v)
        elif type(default) is not type(v):
            raise ValueError(f"{where}.{k} must be {type(default).__name__}, got {v!r}")
        kw[k] = v
    return cls(**kw)


def from_dict(raw: dict[str, Any]) -> Config:
    top = {}
    for k, v in raw.items():
        if k in _SECTIONS:
            if not isinstance(v, dict):
                raise ValueError(f"[{k}] must be a table")
            top[k] = _build(_SECTIONS[k], v, k)
        elif k in ("name", "seed"):
            if type(v) is not type(getattr(Config(), k)):
                raise ValueError(f"{k} must be {type(getattr(Config(), k)).__name__}, "
                                 f"got {v!r}")
            top[k] = v
        else:
            raise ValueError(f"unknown top-level key {k!r}; known: name, seed, "
                             f"{', '.join(_SECTIONS)}")
    cfg = Config(**top)
    check(cfg)
    return cfg


# Every number that counts, sizes, divides, indexes or seeds something, with its allowed range
# (lowest, highest; None: no bound), checked before any work; the network's fields take the
# core's ranges (docs/spec.md section 3), as edgelearn.Population and Connection check them.
_RANGES: tuple[tuple[str, str, int, int | None], ...] = (
    ("data", "generator_seed", 0, None), ("data", "samples", 1, None),
    ("data", "eval_samples", 1, None), ("data", "dt_us", 1, None), ("data", "steps", 1, None),
    ("episode", "ways", 1, None), ("episode", "shots", 1, None),
    ("episode", "queries", 1, None),
    ("model", "n_inputs", 1, None), ("model", "hidden", 1, None),
    ("model", "bias_units", 0, None), ("model", "w_init_std", 0, None),
    ("model", "hid_du", 0, C.DECAY_MAX), ("model", "hid_dv", 0, C.DECAY_MAX),
    ("model", "hid_vth", 0, C.VTH_MANT_MAX),
    ("model", "hid_w_exp", C.WEIGHT_EXP_MIN, C.WEIGHT_EXP_MAX),
    ("model", "hid_refractory", 1, C.REFRACT_MAX),
    ("model", "out_du", 0, C.DECAY_MAX), ("model", "out_dv", 0, C.DECAY_MAX),
    ("model", "out_vth", 0, C.VTH_MANT_MAX),
    ("model", "out_w_exp", C.WEIGHT_EXP_MIN, C.WEIGHT_EXP_MAX),
    ("model", "out_refractory", 1, C.REFRACT_MAX),
    ("model", "r_pos", C.THIRD_MIN, C.THIRD_MAX), ("model", "r_neg", C.THIRD_MIN, C.THIRD_MAX),
    ("model", "seed", 0, 2**32 - 1),
    ("pretrain", "steps", 0, None), ("pretrain", "ways", 1, None),
    ("pretrain", "samples", 2, None),  # at least one prototype and one query per class
    ("pretrain", "lr_w", 0, None), ("pretrain", "lr_neuron", 0, None),
    ("meta", "steps", 0, None), ("meta", "batch", 1, None), ("meta", "lr_w", 0, None),
    ("meta", "lr_neuron", 0, None), ("meta", "lr_hyper", 0, None), ("meta", "lr_w0", 0, None),
    ("meta", "lr_beta", 0, None), ("meta", "warmup", 0, None), ("meta", "val_every", 1, None),
    ("meta", "val_episodes", 1, None), ("meta", "checkpoint_every", 1, None),
    ("eval", "episodes", 1, None), ("eval", "queries", 1, None),
    ("eval", "curve_episodes", 1, None), ("eval", "transfer_steps", 1, None),
    ("eval", "nmnist_queries", 1, None),
    ("dist", "num_processes", 0, None), ("dist", "process_id", -1, None),
)
# numbers the artifact stores as unsigned 32-bit fields (the input map's dt_us, the readout's
# steps): a larger one trains for hours and then fails to export
_U32 = (("data", "dt_us"), ("data", "steps"))
# floats that must be > 0 (a zero clip or temperature silently stops learning)
_POSITIVE = (("model", "beta"), ("meta", "clip"), ("eval", "transfer_lr"))


def _check_ranges(cfg: Config) -> None:
    if cfg.seed < 0:
        raise ValueError(f"seed must be >= 0, got {cfg.seed}")
    for sec in _SECTIONS:
        for f in dataclasses.fields(_SECTIONS[sec]):
            v = getattr(getattr(cfg, sec), f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{sec}.{f.name} must be finite, got {v}")
    for sec, key, lo, hi in _RANGES:
        v = getattr(getattr(cfg, sec), key)
        if v < lo or (hi is not None and v > hi):
            allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise ValueError(f"{sec}.{key} must be {allowed}, got {v}")
    for sec, key in _U32:
        if getattr(getattr(cfg, sec), key) > U32_MAX:
            raise ValueError(f"{sec}.{key} must be <= {U32_MAX} (a 32-bit field of the "
                             f"artifact), got {getattr(getattr(cfg, sec), key)}")
    for sec, key in _POSITIVE:
        if not getattr(getattr(cfg, sec), key) > 0:
            raise ValueError(f"{sec}.{key} must be > 0, got {getattr(getattr(cfg, sec), key)}")


def _check_dist(dist: DistConfig) -> None:
    """Refuse [dist] keys that the run would ignore: without ``coordinator`` JAX's cluster
    auto-detection finds the process count and index (``num_processes``/``process_id`` are not
    passed), and without ``distributed = true`` nothing of [dist] is used."""
    default = DistConfig()
    given = [f"dist.{k} = {getattr(dist, k)!r}" for k in ("coordinator", "num_processes",
                                                          "process_id")
             if getattr(dist, k) != getattr(default, k)]
    if given and not dist.distributed:
        raise ValueError(f"{', '.join(given)}: [dist] is used only with dist.distributed = "
                         f"true (it would be ignored); set it or remove these keys")
    if not dist.coordinator and (dist.num_processes, dist.process_id) != (
            default.num_processes, default.process_id):
        raise ValueError(f"dist.num_processes = {dist.num_processes} and dist.process_id = "
                         f"{dist.process_id} are used only with dist.coordinator (without it, "
                         f"JAX's cluster auto-detection finds them): set dist.coordinator or "
                         f"remove them")


def nmnist_folder(cfg: Config) -> Path | None:
    """``eval.nmnist`` as a path (relative to the repository root), or None when unset."""
    if not cfg.eval.nmnist:
        return None
    path = Path(cfg.eval.nmnist)
    return path if path.is_absolute() else Path(__file__).resolve().parent.parent / path


def check_nmnist(cfg: Config) -> None:
    """Where the ``eval.nmnist`` folder exists (the report's second held-out test), it must
    hold ``episode.ways`` classes of ``episode.shots + eval.nmnist_queries`` recordings each
    (ValueError naming the keys). Checked before any work, not after training."""
    path = nmnist_folder(cfg)
    if path is None or not path.is_dir():
        return  # the report skips it and says so
    from edgelearn import events

    e, q = cfg.episode, cfg.eval.nmnist_queries
    try:
        ds = events.open_dataset(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"eval.nmnist = {cfg.eval.nmnist!r}: {err}") from None
    classes = list(ds.classes)
    if len(classes) < e.ways:
        raise ValueError(f"eval.nmnist = {cfg.eval.nmnist!r} holds {len(classes)} classes, "
                         f"fewer than episode.ways = {e.ways}")
    least = min(ds.count(c) for c in classes)
    if least < e.shots + q:
        raise ValueError(f"eval.nmnist = {cfg.eval.nmnist!r}: some classes hold only {least} "
                         f"recordings, fewer than episode.shots + eval.nmnist_queries = "
                         f"{e.shots} + {q}; lower eval.nmnist_queries or set eval.nmnist = \"\"")


def check(cfg: Config) -> None:
    _check_ranges(cfg)
    e, d, m = cfg.episode, cfg.data, cfg.meta
    if d.kind not in ("glyphs", "gestures"):
        raise ValueError(f"data.kind must be 'glyphs' or 'gestures', got {d.kind!r}")
    if cfg.model.ways != e.ways:
        raise ValueError(f"model.ways = {cfg.model.ways} must equal episode.ways = {e.ways}")
    if cfg.model.steps != d.steps:
        raise ValueError(f"model.steps = {cfg.model.steps} must equal data.steps = {d.steps}")
    if m.order not in ("full", "first"):
        raise ValueError(f"meta.order must be 'full' or 'first', got {m.order!r}")
    from .data import input_map_for

    n_axons = input_map_for(d.kind, dt_us=d.dt_us).n_axons
    if cfg.model.n_inputs != n_axons:
        raise ValueError(f"model.n_inputs = {cfg.model.n_inputs} must equal the {d.kind} input "
                         f"map's {n_axons} axons")
    if cfg.model.n_hidden > C.MAX_FANIN:
        raise ValueError(f"model.hidden + model.bias_units = {cfg.model.n_hidden} exceeds the "
                         f"readout's MAX_FANIN = {C.MAX_FANIN}")
    cfg.model.parsed_rule.hyper()  # a rule that does not parse raises RuleError (a ValueError)
    if cfg.eval.engine not in ("runtime", "twin"):
        raise ValueError(f"eval.engine must be 'runtime' or 'twin', got {cfg.eval.engine!r}")
    if cfg.dist.coordinator and not 0 <= cfg.dist.process_id < cfg.dist.num_processes:
        raise ValueError(f"dist.process_id = {cfg.dist.process_id} must be in 0 .. "
                         f"dist.num_processes - 1 = {cfg.dist.num_processes - 1} where "
                         f"dist.coordinator is set")
    _check_dist(cfg.dist)
    if cfg.pretrain.metric not in ("euclid", "dot"):
        raise ValueError(f"pretrain.metric must be 'euclid' or 'dot', got {cfg.pretrain.metric!r}")
    for name in ("train_classes", "val_classes", "test_classes"):
        span = getattr(d, name)
        if len(span) != 2 or any(type(x) is not int for x in span):
            raise ValueError(f"data.{name} must be [start, stop], two integers, got {list(span)}")
        a, b = span
        if not 0 <= a < b:
            raise ValueError(f"data.{name} must be [start, stop) with 0 <= start < stop")
    spans = sorted([d.train_classes, d.val_classes, d.test_classes])
    if any(spans[i][1] > spans[i + 1][0] for i in range(2)):
        raise ValueError("data.train_classes, val_classes and test_classes must be disjoint")
    p = cfg.pretrain
    for name, need, why in (("train_classes", e.ways, "episode.ways"),
                            ("train_classes", p.ways if p.steps > 0 else 0, "pretrain.ways"),
                            ("val_classes", e.ways, "episode.ways"),
                            ("test_classes", e.ways, "episode.ways")):
        a, b = getattr(d, name)
        if b - a < need:
            raise ValueError(f"data.{name} = [{a}, {b}) holds {b - a} classes, fewer than "
                             f"{why} = {need}")
    for key, shots in (("meta.train_shots", m.train_shots),
                       ("eval.shots_curve", cfg.eval.shots_curve)):
        if any(type(k) is not int or k < 1 for k in shots):
            raise ValueError(f"{key} must be integers >= 1, got {list(shots)}")
    most = max((e.shots, *m.train_shots))
    if d.samples < most + e.queries:
        raise ValueError(f"data.samples = {d.samples} must be >= shots + episode.queries = "
                         f"{most} + {e.queries} (the most shots of episode.shots and "
                         f"meta.train_shots)")
    if p.steps > 0 and d.samples < p.samples:
        raise ValueError(f"data.samples = {d.samples} must be >= pretrain.samples = "
                         f"{p.samples}")
    if d.eval_samples < e.shots + e.queries:
        raise ValueError(f"data.eval_samples = {d.eval_samples} must be >= episode.shots + "
                         f"episode.queries = {e.shots + e.queries} (validation episodes)")


def load(path: str | Path) -> tuple[Config, str]:
    """Parse a TOML config; returns the config and the file's text."""
    text = Path(path).read_text()
    return from_dict(tomllib.loads(text)), text
