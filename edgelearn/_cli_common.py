"""Helpers shared by the subcommand modules (``edgelearn/_cli_*.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from .cli import UsageError


def npz_output(path: Path) -> Path:
    """The file ``numpy.savez(path)`` writes (it appends ``.npz`` to any other name), so that a
    command names the file it really wrote; a directory is refused (numpy would write
    ``DIR.npz`` beside it)."""
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; name the output file")
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


@contextlib.contextmanager
def reading(path: Path, errors: type[Exception] | tuple[type[Exception], ...]) -> Iterator[None]:
    """Read the user's file ``path`` inside this block: a missing file, or one rejected with one
    of ``errors`` (whose message names the file and the problem), becomes a one-line
    :class:`UsageError` (exit status 2) instead of a traceback."""
    try:
        yield
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not a text file (byte {e.start} is not UTF-8)") from None
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror or e}") from None
    except errors as e:
        raise UsageError(str(e)) from None
