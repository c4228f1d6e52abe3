"""``edgelearn sim CASE.npz --engine twin|runtime -o OUT.npz``: run a layer case.

The case format is ``docs/spec.md`` section 7. Every problem with the case file is reported as
one line naming the key, the value and the allowed range (exit status 2).
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np

from . import constants as C
from ._cli_common import npz_output
from .cli import UsageError
from .network import Network, layer

SCALARS = {
    "du": (0, C.DECAY_MAX),
    "dv": (0, C.DECAY_MAX),
    "vth_mant": (0, C.VTH_MANT_MAX),
    "bias_mant": (C.BIAS_MANT_MIN, C.BIAS_MANT_MAX),
    "bias_exp": (0, C.BIAS_EXP_MAX),
    "w_exp": (C.WEIGHT_EXP_MIN, C.WEIGHT_EXP_MAX),
}
OPTIONAL = {"refractory": (1, C.REFRACT_MAX, 1)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("case", type=Path, help="layer case .npz (keys: du, dv, vth_mant, bias_mant, "
                   "bias_exp, w_exp, w (N x N_in int8), raster (T x N_in bool); optional "
                   "refractory, mixed) -- see docs/spec.md section 7")
    p.add_argument("--engine", choices=("twin", "runtime"), default="runtime",
                   help="twin: the JAX twin; runtime: the C runtime through cffi (default)")
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="output .npz with u, v (int32, T x N) and s (bool, T x N)")


def _scalar(case: dict, key: str, lo: int, hi: int) -> int:
    a = np.asarray(case[key])
    if a.shape != () or a.dtype.kind not in "iu":
        raise UsageError(f"case key {key!r}: expected an integer scalar in [{lo}, {hi}], "
                         f"got dtype {a.dtype} shape {a.shape}")
    v = int(a)
    if not lo <= v <= hi:
        raise UsageError(f"case key {key!r} = {v} is out of range [{lo}, {hi}]")
    return v


def load_case(path: Path) -> tuple[Network, np.ndarray]:
    """Read and check a layer case; :class:`UsageError` names the first problem found."""
    try:
        with np.load(path, allow_pickle=False) as z:
            case = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UsageError(f"{path}: not a readable .npz case ({e})") from None
    required = [*SCALARS, "w", "raster"]
    for k in required:
        if k not in case:
            raise UsageError(f"case is missing key {k!r} (required: {', '.join(required)})")
    unknown = sorted(set(case) - set(required) - set(OPTIONAL) - {"mixed"})
    if unknown:
        raise UsageError(f"case has unknown key(s) {unknown}")
    vals = {k: _scalar(case, k, lo, hi) for k, (lo, hi) in SCALARS.items()}
    for k, (lo, hi, default) in OPTIONAL.items():
        vals[k] = _scalar(case, k, lo, hi) if k in case else default
    w, raster = case["w"], case["raster"]
    if w.dtype != np.int8 or w.ndim != 2:
        raise UsageError(f"case key 'w': expected int8 (N, N_in), got {w.dtype} {w.shape}")
    if raster.dtype != np.bool_ or raster.ndim != 2:
        raise UsageError(f"case key 'raster': expected bool (T, N_in), got {raster.dtype} "
                         f"{raster.shape}")
    if raster.shape[1] != w.shape[1]:
        raise UsageError(f"case key 'raster': has {raster.shape[1]} columns but 'w' has "
                         f"N_in = {w.shape[1]}")
    if raster.shape[0] < 1 or w.shape[0] < 1:
        raise UsageError(f"case needs T >= 1 and N >= 1, got raster {raster.shape}, w {w.shape}")
    if w.shape[1] > C.MAX_FANIN or w.shape[0] > C.MAX_NEURONS:
        raise UsageError(f"case key 'w': shape {w.shape} exceeds N <= {C.MAX_NEURONS}, "
                         f"N_in <= {C.MAX_FANIN}")
    mixed = None
    if "mixed" in case:
        m = case["mixed"]
        if m.shape != () or m.dtype != np.bool_:
            raise UsageError(f"case key 'mixed': expected a bool scalar, got {m.dtype} {m.shape}")
        mixed = bool(m)
    net = layer(w.shape[1], w.shape[0], w=w, mixed=mixed, **vals)
    return net, raster


def run(args: argparse.Namespace) -> int:
    net, raster = load_case(args.case)
    if args.engine == "twin":
        from . import twin

        res = twin.simulate(net, inputs=raster, probe=True)
        u, v, s = (np.asarray(x) for x in (res.u, res.v, res.spikes))
    else:
        from . import runtime

        res = runtime.simulate(net, raster, probe=True)
        u, v, s = res.u, res.v, res.s
    out = npz_output(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, u=u.astype(np.int32), v=v.astype(np.int32), s=s.astype(bool))
    print(f"{args.engine}: {raster.shape[0]} steps, {net.n_neurons} neurons, {int(s.sum())} spikes "
          f"-> {out}")
    return 0

