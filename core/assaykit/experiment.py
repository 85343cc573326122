"""Experiments: the unit of analysis.

An experiment is not a file: it is a set of inputs (sample-sheet rows) that
are analyzed together, so that controls sit beside the samples they set
thresholds for. One row is one :class:`Input`: a file, optionally one lane of
it, with a role, a sample id and free condition columns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assaykit.errors import InputError, MissingInputError, PluginError

if TYPE_CHECKING:
    from assaykit.readers import Reader

_HASH_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Stream a file through sha256 (1 MiB at a time, never the whole file in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Input:
    """One sample-sheet row: a file (or one lane of it) with its role and conditions.

    ``relpath`` is the path relative to the batch folder, with ``/`` separators;
    it is what records carry, so results do not depend on where the folder
    was mounted. ``sha256`` is ``None`` when the file is missing. ``reader``
    is the key of the reader the host chose for the file (``plugin:Class``;
    empty: the reader of ``kind``); ``unreadable`` says why no reader was
    chosen when two claim the file equally (the batch reports it as an error).
    """

    path: Path
    relpath: str
    kind: str
    role: str = "sample"
    sample_id: str = ""
    lane: int | None = None
    sha256: str | None = None
    conditions: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str | None] = field(default_factory=dict)
    row: int | None = None
    reader: str = ""
    unreadable: str = ""

    @property
    def missing(self) -> bool:
        return self.sha256 is None

    def condition(self, name: str, default: str = "") -> str:
        """A condition cell of this row (case-insensitive column name)."""
        if name in self.conditions:
            return self.conditions[name]
        low = name.lower()
        for k, v in self.conditions.items():
            if k.lower() == low:
                return v
        return default

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        *,
        kind: str = "",
        role: str = "sample",
        sample_id: str | None = None,
        lane: int | None = None,
        conditions: Mapping[str, str] | None = None,
        root: str | Path | None = None,
    ) -> Input:
        """Build an input for in-memory analysis (``assaykit.analyze``); hashes the file."""
        p = Path(path)
        if not p.is_file():
            raise MissingInputError(p, "file does not exist")
        rel = p.name
        if root is not None:
            try:
                rel = p.resolve().relative_to(Path(root).resolve()).as_posix()
            except ValueError:
                rel = p.name
        sid = sample_id if sample_id else p.stem
        return cls(
            path=p.resolve(),
            relpath=rel,
            kind=kind,
            role=role,
            sample_id=sid,
            lane=lane,
            sha256=sha256_file(p),
            conditions=dict(conditions or {}),
        )


@dataclass
class Experiment:
    """A named group of inputs analyzed together by one assay.

    ``has_sheet`` is False when roles were not given by a sample sheet (every
    file its own experiment); assays then use automatic thresholds.
    ``figures`` tells the assay whether to draw QC figures at all.
    """

    name: str
    assay: str
    inputs: list[Input]
    folder: Path | None = None
    has_sheet: bool = True
    figures: bool = True
    _readers: dict[str, Reader] = field(default_factory=dict, repr=False, compare=False)
    _readers_by_key: dict[str, Reader] = field(default_factory=dict, repr=False, compare=False)

    # -- selection ---------------------------------------------------------------------
    def by_role(self, *roles: str) -> list[Input]:
        """Inputs whose role is one of ``roles``, in sheet order (missing files excluded)."""
        return [i for i in self.inputs if i.role in roles and not i.missing]

    @property
    def samples(self) -> list[Input]:
        return self.by_role("sample")

    @property
    def present(self) -> list[Input]:
        return [i for i in self.inputs if not i.missing]

    @property
    def files(self) -> list[Path]:
        """Unique existing files, in first-seen order (a gel file has one row per lane)."""
        seen: dict[Path, None] = {}
        for i in self.present:
            seen.setdefault(i.path, None)
        return list(seen)

    # -- reading -----------------------------------------------------------------------
    def read(self, inp: Input | Path | str) -> Any:
        """Read an input through the reader the host chose for it (else the one of its kind).

        Plugins read files only through this, so that one reader serves every
        assay and the conformance kit can run the assay in memory.
        """
        if isinstance(inp, Input):
            found = inp
        else:
            path = Path(inp)
            match = [i for i in self.inputs if i.path == path.resolve() or i.path == path]
            if not match:
                raise InputError(path, "not an input of this experiment")
            found = match[0]
        path, kind = found.path, found.kind
        if found.unreadable:
            raise InputError(path, found.unreadable)
        if not path.is_file():
            raise MissingInputError(path, "file does not exist")
        reader = self._readers_by_key.get(found.reader) if found.reader else None
        if reader is None:
            reader = self._readers.get(kind)
        if reader is None:
            raise PluginError(
                f"{path}: no reader registered for input kind {kind!r} "
                f"(known kinds: {', '.join(sorted(self._readers)) or 'none'})"
            )
        return reader.read(path)

    def with_readers(
        self, readers: Mapping[str, Reader], by_key: Mapping[str, Reader] | None = None
    ) -> Experiment:
        """Attach readers by kind, and (``PluginHost.readers_by_key()``) by reader key."""
        self._readers = dict(readers)
        if by_key is not None:
            self._readers_by_key = dict(by_key)
        return self

    # -- identity ----------------------------------------------------------------------
    def input_hashes(self) -> list[str]:
        """Sorted content hashes of the experiment's files (``missing`` for absent ones)."""
        return sorted({i.sha256 or f"missing:{i.relpath}" for i in self.inputs})

    def fingerprint_rows(self) -> list[list[Any]]:
        """Everything about the inputs that can change a result: content, role, ids, lane,
        conditions, and a plugin's reader when one reads the file (the built-in
        readers are implied by the kind, so their fingerprints stay as they were)."""
        return [
            [
                i.relpath,
                i.sha256,
                i.kind,
                i.role,
                i.sample_id,
                i.lane,
                sorted(i.conditions.items()),
            ]
            + ([i.reader] if i.reader and not i.reader.startswith("assaykit.builtin:") else [])
            for i in self.inputs
        ]
