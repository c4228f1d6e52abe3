"""``edgelearn rule check FILE``: parse and check a plasticity rule, show its microcode."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._cli_common import reading


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="rule_cmd", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="print the parsed rule, its hyperparameters and its "
                       "microcode size, or the precise error (exit status 2)")
    c.add_argument("file", type=Path, help="rule text file (docs/spec.md section 6), or the "
                   "name of a shipped rule: stdp, rstdp, error_triggered, hebbian_write")
    c.add_argument("--hex", action="store_true", help="also print the microcode bytes in hex")


def run(args: argparse.Namespace) -> int:
    from . import rule

    with reading(args.file, rule.RuleError):
        if not args.file.exists() and str(args.file) in rule.SHIPPED:
            r = rule.shipped(str(args.file))
        else:
            r = rule.load(args.file)
    code = r.microcode()
    h = r.hyper()
    print(r.text(), end="")
    print(f"# hyperparameters: coef={list(h.coef)} decay={list(h.decay)} "
          f"impulse={list(h.impulse)} gate={list(h.gate)}")
    print(f"# microcode: {len(code)} bytes, version {code[4] | code[5] << 8}")
    if args.hex:
        print(code.hex(" "))
    return 0
