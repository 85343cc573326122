"""File readers: how the host knows which files are inputs, and how assays load them.

A reader claims file suffixes for one input kind. The scan stage uses the
suffixes to classify a folder's files; an assay loads an input with
``experiment.read(input)``, which calls the reader of the input's kind.
"""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from assaykit.errors import InputError


class Reader(ABC):
    """Base class of a file reader. See ``assaykit_register_readers`` for the contract."""

    #: The input kind this reader produces (``"fcs"``, ``"image"``, ``"table"`` ...).
    kind: ClassVar[str]
    #: Lower-case suffixes it claims, with the dot.
    suffixes: ClassVar[tuple[str, ...]]
    #: A short human name, shown by ``assaykit plugins``.
    name: ClassVar[str] = ""

    @abstractmethod
    def read(self, path: Path) -> Any:
        """Load the file; raise InputError naming the file and the reason on bad input."""

    def metadata(self, path: Path) -> dict[str, str | None]:
        """Cheap metadata (``instrument``, ``acquired_at``); never loads the whole file."""
        return {}

    def conformance(self, path: Path) -> list[dict[str, Any]] | None:
        """Each deviation of the file from its format's standard, and the repair made.

        A list of dicts with the keys of ``assaykit.store.CONFORMANCE_FIELDS``
        (``dataset``, ``field``, ``rule``, ``found``, ``expected``, ``repair``,
        ``message``); ``[]`` for a conforming file and ``None`` (the default)
        when this reader does not check. The batch keeps the answer in the
        store, ``run.json`` and the report. Raise InputError when the file
        cannot be read at all (the analysis then reports it).
        """
        return None

    def claims(self, path: Path) -> bool:
        return path.suffix.lower() in self.suffixes


class Table:
    """A small text table: header names and rows of strings, as read from CSV/TSV."""

    def __init__(self, path: Path, columns: list[str], rows: list[list[str]]) -> None:
        self.path = path
        self.columns = columns
        self.rows = rows

    def column(self, name: str) -> list[str]:
        try:
            idx = self.columns.index(name)
        except ValueError:
            raise InputError(
                self.path, f"column {name!r} not found; columns are {self.columns}"
            ) from None
        return [r[idx] if idx < len(r) else "" for r in self.rows]


MAX_TABLE_BYTES = 256 * 1024 * 1024


class TableReader(Reader):
    """CSV/TSV tables (plate-reader exports, qPCR Ct tables).

    The delimiter (``,``, ``;`` or tab) is read from the header line, because
    European Excel writes ``;``. Text is decoded as UTF-8 (with or without BOM), then
    cp1252 as Excel on Windows writes it.
    """

    kind = "table"
    suffixes = (".csv", ".tsv")
    name = "CSV/TSV table"

    def read(self, path: Path) -> Table:
        try:
            size = path.stat().st_size
            if size > MAX_TABLE_BYTES:
                raise InputError(path, f"table is {size} bytes; the limit is {MAX_TABLE_BYTES}")
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(path, f"cannot read file: {exc.strerror or exc}") from None
        text = decode_text(raw, path)
        default = "\t" if path.suffix.lower() == ".tsv" else ","
        delim = header_delimiter(text, default)
        try:
            rows = [
                r
                for r in csv.reader(io.StringIO(text), delimiter=delim)
                if any(c.strip() for c in r)
            ]
        except csv.Error as exc:
            raise InputError(path, f"malformed CSV: {exc}") from None
        if not rows:
            raise InputError(path, "table is empty; expected a header row")
        header = [c.strip() for c in rows[0]]
        return Table(path, header, [[c.strip() for c in r] for r in rows[1:]])


def header_delimiter(text: str, default: str = ",") -> str:
    """The delimiter of a spreadsheet export, from its header line: ``,``, ``;`` or tab.

    European Excel writes ``;``. Counting in the header is enough (and,
    unlike ``csv.Sniffer``, costs nothing on a one-column file).
    """
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else default


def decode_text(raw: bytes, path: Path) -> str:
    """Decode spreadsheet text: UTF-8 (BOM allowed), else cp1252, else refuse."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(path, "text is neither UTF-8 nor Windows-1252") from None
