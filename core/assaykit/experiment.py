"""Experiments: the unit of analysis.

An experiment is not a file: it is a set of inputs (sample-sheet rows) that
are analyzed together, so that controls sit beside the samples they set
thresholds for. One row is one :class:`Input`: a file, optionally one lane or
one well of it, with a role, a sample id and free condition columns.

Plates: one file may hold 96 or 384 samples, one per well. Wells are named
``A1`` … ``H12`` (96) or ``A1`` … ``P24`` (384); :func:`normalize_well` turns
``a1`` or ``A01`` into ``A1`` and :func:`well_position` into 0-based
(row, column). :meth:`Experiment.wells` gives one file's wells and their inputs.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assaykit.errors import InputError, MissingInputError, PluginError

if TYPE_CHECKING:
    from assaykit.readers import Reader

_HASH_CHUNK = 1 << 20

#: Plate formats: wells -> (rows, columns). 96 = A1..H12, 384 = A1..P24.
PLATE_FORMATS: dict[int, tuple[int, int]] = {96: (8, 12), 384: (16, 24)}
_WELL = re.compile(r"^\s*([A-Za-z])\s*0*([0-9]{1,3})\s*$")


def normalize_well(text: str, plate: int | None = None) -> str:
    """The canonical name of a well: ``a1``, ``A01`` and ``A 1`` are ``A1``.

    Raises ValueError (with the reason) when ``text`` is not a well of a
    ``plate``-well plate (96 or 384; None accepts any well of a 384-well plate).
    """
    if plate is not None and plate not in PLATE_FORMATS:
        raise ValueError(f"plate format {plate!r}; expected 96 or 384")
    m = _WELL.match(text)
    size = plate or 384
    nrows, ncols = PLATE_FORMATS[size]
    last = f"{chr(ord('A') + nrows - 1)}{ncols}"
    if m is None:
        raise ValueError(
            f"{text!r} is not a well name; expected a row letter and a column number, A1 to {last}"
        )
    row, col = m.group(1).upper(), int(m.group(2))
    if ord(row) - ord("A") >= nrows or not 1 <= col <= ncols:
        raise ValueError(f"{text!r} is not a well of a {size}-well plate (A1 to {last})")
    return f"{row}{col}"


def well_position(well: str) -> tuple[int, int]:
    """0-based (row, column) of a well: ``A1`` is (0, 0), ``H12`` is (7, 11)."""
    name = normalize_well(well)
    return ord(name[0]) - ord("A"), int(name[1:]) - 1


def plate_format_of(wells: Iterable[str]) -> int:
    """The smallest plate format (96 or 384) that holds every one of ``wells``."""
    for size, (nrows, ncols) in PLATE_FORMATS.items():
        if all(r < nrows and c < ncols for r, c in map(well_position, wells)):
            return size
    raise ValueError("wells beyond P24; the largest plate format is 384")


#: (path, size, mtime_ns, inode, dev) -> sha256, for files not modified in the last 2 s
_HASHES: OrderedDict[tuple[str, int, int, int, int], str] = OrderedDict()
_HASHES_MAX = 4096
_HASHES_LOCK = threading.Lock()
#: a file modified less than this long ago may still be written to: never cached
_SETTLE_NS = 2_000_000_000


def sha256_file_cached(path: Path) -> str:
    """sha256 of a file, remembered per process by (path, size, mtime_ns, inode, dev).

    Why: ``assaykit.analyze`` on the same files again (a notebook loop, a
    parameter scan) hashed every input afresh. A file modified less than 2 s
    ago is hashed and not remembered (a write in the same mtime tick would
    otherwise go unseen); at most 4096 entries are kept (least recently used out).
    """
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    with _HASHES_LOCK:
        hit = _HASHES.get(key)
        if hit is not None:
            _HASHES.move_to_end(key)
            return hit
    digest = sha256_file(path)
    if time.time_ns() - st.st_mtime_ns >= _SETTLE_NS:
        with _HASHES_LOCK:
            _HASHES[key] = digest
            while len(_HASHES) > _HASHES_MAX:
                _HASHES.popitem(last=False)
    return digest


def sha256_file(path: Path) -> str:
    """Stream a file through sha256 (1 MiB at a time, never the whole file in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Input:
    """One sample-sheet row: a file (or one lane or well of it) with its role and conditions.

    ``relpath`` is the path relative to the batch folder, with ``/`` separators;
    it is what records carry, so results do not depend on where the folder
    was mounted. ``sha256`` is ``None`` when the file is missing. ``reader``
    is the key of the reader the host chose for the file (``plugin:Class``;
    empty: the reader of ``kind``); ``unreadable`` says why no reader was
    chosen when two claim the file equally (the batch reports it as an error).
    ``well`` is the row's well (``A1`` … ``P24``, normalised) when the file is
    a plate, and ``plate_format`` that plate's size (96 or 384); both are
    ``None`` for a row that is a whole file. ``position`` is a position inside
    the file that is not a well (the sheet's free-text ``position`` column: a
    data set number, ``sample:Kidney``), ``None`` when not given; a row has a
    well or a position, never both.
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
    well: str | None = None
    plate_format: int | None = None
    position: str | None = None

    @property
    def missing(self) -> bool:
        return self.sha256 is None

    @property
    def well_position(self) -> tuple[int, int] | None:
        """0-based (row, column) of the well (``B3`` is (1, 2)); None without a well."""
        return well_position(self.well) if self.well is not None else None

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
        well: str | None = None,
        plate_format: int | None = None,
        position: str | None = None,
    ) -> Input:
        """Build an input for in-memory analysis (``assaykit.analyze``); hashes the file.

        ``well`` (normalised: ``a01`` is ``A1``) makes it one well of a plate file;
        ``plate_format`` (96 or 384) is then checked, or is the smallest that holds it.
        ``position`` is a position inside the file that is not a well (free text).
        """
        if well is not None and position is not None:
            raise InputError(Path(path), "give a well or a position inside the file, not both")
        p = Path(path)
        if not p.is_file():
            raise MissingInputError(p, "file does not exist")
        rel = p.name
        if root is not None:
            try:
                rel = p.resolve().relative_to(Path(root).resolve()).as_posix()
            except ValueError:
                rel = p.name
        if well is not None:
            try:
                well = normalize_well(well, plate_format)
                plate_format = plate_format or plate_format_of([well])
            except ValueError as exc:
                raise InputError(p, str(exc)) from None
        sid = sample_id if sample_id else (p.stem if well is None else f"{p.stem}_{well}")
        return cls(
            path=p.resolve(),
            relpath=rel,
            kind=kind,
            role=role,
            sample_id=sid,
            lane=lane,
            sha256=sha256_file_cached(p),
            conditions=dict(conditions or {}),
            well=well,
            plate_format=plate_format if well is not None else None,
            position=position,
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

    def by_file(self) -> dict[str, list[Input]]:
        """Inputs grouped by file (relative path), files and inputs in sheet order.

        A plate file has one input per well: read the file once per group,
        then take each input's value at its :attr:`Input.well`.
        """
        out: dict[str, list[Input]] = {}
        for i in self.inputs:
            out.setdefault(i.relpath, []).append(i)
        return out

    def wells(self, file: Input | Path | str) -> dict[str, Input]:
        """One plate file's inputs by well name (``{"A1": input, ...}``), in sheet order.

        ``file`` is an input of that file, its path, or its relative path.
        Inputs without a well are left out; a file that is not an input of this
        experiment raises InputError.
        """
        if isinstance(file, Input):
            rel = file.relpath
        else:
            text = str(file)
            match = [i for i in self.inputs if text in (i.relpath, str(i.path))]
            if not match and Path(text).exists():
                res = Path(text).resolve()
                match = [i for i in self.inputs if i.path == res]
            if not match:
                raise InputError(Path(text), "not an input of this experiment")
            rel = match[0].relpath
        return {i.well: i for i in self.inputs if i.relpath == rel and i.well is not None}

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
        well, conditions, and a plugin's reader when one reads the file. Used, with the
        params hash and assay version, to skip unchanged work. (The built-in readers are
        implied by the kind, and the well is appended only when there is one, so that
        the fingerprints of experiments without either stay as they were.)"""
        rows: list[list[Any]] = []
        for i in self.inputs:
            row: list[Any] = [
                i.relpath,
                i.sha256,
                i.kind,
                i.role,
                i.sample_id,
                i.lane,
                sorted(i.conditions.items()),
            ]
            if i.reader and not i.reader.startswith("assaykit.builtin:"):
                row.append(i.reader)
            if i.well is not None:
                row += [i.well, i.plate_format]
            if i.position is not None:
                row += ["position", i.position]
            rows.append(row)
        return rows
