"""``edgelearn inspect FILE``: show a model artifact (.elm): header, manifest, network."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._cli_common import reading


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="artifact (.elm)")
    p.add_argument("--json", action="store_true", help="print the whole manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from . import artifact

    with reading(args.file, artifact.ArtifactError):
        art = artifact.load(args.file)
    m = art.manifest
    if args.json:
        print(json.dumps(m, indent=2, sort_keys=True))
        return 0
    size = args.file.stat().st_size
    print(f"{args.file}: edgelearn artifact, format {m.get('format_version')}, {size} bytes, "
          f"checksums ok")
    for key in ("kind", "created", "edgelearn_version", "source_version", "source", "config"):
        if key in m:
            print(f"  {key}: {m[key]}")
    net = art.network
    print(f"  network: {net.n_inputs} inputs, {net.n_neurons} neurons, seed {net.seed}")
    for p in net.populations:
        print(f"    population {p.name}: {p.size} neurons, du={p.du} dv={p.dv} "
              f"vth_mant={p.vth_mant} bias_exp={p.bias_exp} refractory={p.refractory}"
              + ("" if p.third_from is None else
                 f", third factor = clamp(u of {p.third_from} >> {p.third_shift})"))
    for c in net.connections:
        print(f"    {c.src} -> {c.dst}: {c.kind}, {c.weights.size} synapses, w_exp={c.w_exp}"
              f"{', mixed' if c.mixed else ''}{', plastic' if c.plastic else ''}")
        if c.plastic:
            for line in c.rule.text().splitlines():
                print(f"      | {line}")
    if art.input_map:
        print(f"  input map: {art.input_map}")
    if art.readout:
        print(f"  readout: {art.readout}")
    if "metrics" in m:
        print(f"  metrics: {json.dumps(m['metrics'])}")
    return 0
