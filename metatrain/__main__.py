"""``python -m metatrain CONFIG.toml --out RUN_DIR``."""

import argparse
import sys

from edgelearn.cli import UsageError

from . import cli


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m metatrain",
                                description="meta-train a plasticity rule from a TOML config")
    cli.add_arguments(p)
    args = p.parse_args(argv)
    try:
        return cli.run(args)
    except UsageError as e:
        print(f"metatrain: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
