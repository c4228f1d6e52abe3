"""Run every benchmark script (``tests/bench/bench_*.py``): each prints its figures and returns a
dict, written as ``OUT/<name>.json``; a summary goes to ``OUT/summary.json``.

    python tests/bench/run.py --out bench-results [--only core,events]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-results"))
    ap.add_argument("--only", default="", help="comma-separated names (bench_<name>.py); "
                    "make bench ONLY=a,b passes it")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    known = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    if only - set(known):
        ap.error(f"--only: no benchmark named {', '.join(sorted(only - set(known)))} "
                 f"(known: {', '.join(known)})")
    sys.path.insert(0, str(HERE))
    summary = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                           "python": platform.python_version()}, "results": {}}
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        print(f"\n=== {name} ({script.name})", flush=True)
        spec = importlib.util.spec_from_file_location(f"bench_{name}", script)
        mod = importlib.util.module_from_spec(spec)
        t0 = time.perf_counter()
        try:
            spec.loader.exec_module(mod)
            result = mod.main(args.out)
        except Exception:  # a failing benchmark is reported, the others still run
            traceback.print_exc()
            failed.append(name)
            continue
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        summary["results"][name] = {"seconds": round(time.perf_counter() - t0, 1),
                                    "json": f"{name}.json"}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nresults in {args.out}/" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
