"""File access: an open FCS file whose bounded reads raise FCSError instead of returning short."""

from __future__ import annotations

import io
import logging
import mmap
import os
import sys
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from assaykit.errors import FCSError

_LOG = logging.getLogger(__name__)


StrPath = Union[str, "os.PathLike[str]"]


class _Source:
    """An open FCS file: bounded reads that raise FCSError instead of returning short."""

    def __init__(self, path: StrPath, strict: bool = False) -> None:
        self.path = str(path)
        self.strict = bool(strict)
        try:
            self.file: io.BufferedReader = open(path, "rb")  # noqa: SIM115 - see close()
        except OSError as exc:
            raise FCSError(self.path, f"cannot open file: {exc.strerror or exc}") from exc
        try:
            self.size = os.fstat(self.file.fileno()).st_size
        except OSError as exc:
            self.file.close()
            raise FCSError(self.path, f"cannot stat file: {exc.strerror or exc}") from exc
        self._map: mmap.mmap | None = None

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        # The map stays alive through the arrays that view it; dropping our
        # reference lets it close when the last array goes away.
        self._map = None

    def fail(self, reason: str) -> FCSError:
        return FCSError(self.path, reason)

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.fail(
                f"{what} needs bytes {offset}..{offset + length - 1} but the file has only "
                f"{self.size} bytes (truncated?)"
            )
        try:
            self.file.seek(offset)
            data = self.file.read(length)
        except OSError as exc:
            raise self.fail(f"cannot read {what}: {exc}") from exc
        if len(data) != length:
            raise self.fail(f"file ended while reading {what}")
        return data

    def read_into(self, offset: int, length: int, what: str) -> npt.NDArray[np.uint8]:
        """Read straight into a new numpy buffer: one copy, like ``np.fromfile``."""
        if offset < 0 or offset + length > self.size:
            raise self.fail(f"{what} extends beyond the end of the file ({self.size} bytes)")
        buf = np.empty(length, dtype=np.uint8)
        view = buf.data
        done = 0
        try:
            self.file.seek(offset)
            while done < length:
                n = self.file.readinto(view[done:])
                if not n:
                    break
                done += n
        except OSError as exc:
            raise self.fail(f"cannot read {what}: {exc}") from exc
        if done != length:
            raise self.fail(f"file ended while reading {what} ({done} of {length} bytes)")
        return buf

    def mapped(self) -> mmap.mmap | None:
        """A private (copy-on-write) map of the whole file, or None if mapping fails."""
        if self._map is None:
            kwargs: dict[str, Any] = {"access": mmap.ACCESS_COPY}
            if sys.version_info >= (3, 13):
                kwargs["trackfd"] = False  # do not hold a descriptor per live array
            try:
                self._map = mmap.mmap(self.file.fileno(), 0, **kwargs)
            except (OSError, ValueError) as exc:
                _LOG.debug("mmap of %s failed (%s); reading instead", self.path, exc)
                return None
        return self._map


def _open(path: StrPath, strict: bool = False) -> _Source:
    return _Source(path, strict)
