"""Atomic file writing, shared by every stage that writes into the output folder.

A utility, not a stage: it imports nothing from assaykit, so the store, the
exporters and the report can all use it without importing one another.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting, and put it straight back
    os.umask(mask)
    return mask


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` with the mode a plain ``open()`` would give it.

    Why: ``mkstemp`` creates files 0600, and the rename keeps that mode, so
    results on a shared drive would be unreadable by colleagues whatever the
    user's umask says. The final file gets ``0666 & ~umask``, like any other.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with contextlib.suppress(AttributeError, OSError):  # Windows has no fchmod
        os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


@contextmanager
def atomic_write(path: Path, mode: str = "w", **kw: Any) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it over ``path`` on success,
    so that a killed run never leaves a half-written results file."""
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


def _suppress() -> contextlib.suppress:
    return contextlib.suppress(OSError)
