"""Helpers shared by the subcommand modules (``edgelearn/_cli_*.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from .cli import UsageError


@contextlib.contextmanager
def reading(path: Path, errors: type[Exception] | tuple[type[Exception], ...]) -> Iterator[None]:
    """Read the user's file ``path`` inside this block: a missing file, or one rejected with one
    of ``errors`` (whose message names the file and the problem), becomes a one-line
    :class:`UsageError` (exit status 2) instead of a traceback."""
    try:
        yield
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except errors as e:
        raise UsageError(str(e)) from None
