"""File readers: how the host knows which files are inputs, and how assays load them.

A reader claims file suffixes for one input kind, and may sniff a file's
first bytes to say how sure it is that the file is its format. The scan
stage ranks the readers that claim a file (see :meth:`assaykit.PluginHost.choose_reader`) and
gives the input the winner; an assay loads an input with
``experiment.read(input)``, which calls that reader.
"""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from assaykit.errors import InputError

#: How many bytes of a file's start the host reads for :meth:`Reader.sniff` (never more).
SNIFF_BYTES = 8192
#: The score of a reader that matched the suffix and did not look at the content.
SUFFIX_ONLY = 0.0


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

    def sniff(self, path: Path, head: bytes) -> float | None:
        """How sure this reader is that ``path`` is its format, from ``head``.

        ``head`` is the file's first :data:`SNIFF_BYTES` bytes (fewer for a
        short file; never the whole of a large one). Return ``None`` for "not
        mine", or a score: higher is more specific. The default,
        :data:`SUFFIX_ONLY` (``0.0``), means "the suffix matched, the content
        was not looked at"; a reader that recognizes a header line returns
        a positive score (``1.0`` by convention, more for a stricter test).
        It must be cheap and must not raise for a file of another format; if
        it does raise, the host skips this reader for that file and says so.
        """
        return SUFFIX_ONLY

    @property
    def sniffs(self) -> bool:
        """Whether this reader looks at the content (overrides :meth:`sniff`)."""
        return type(self).sniff is not Reader.sniff

    def matched_suffix(self, name: str) -> str | None:
        """The longest of this reader's suffixes that ends the file name, else None.

        Suffixes match whole parts of ``Path(name).suffixes``: ``.plate.csv``
        matches ``x.plate.csv`` (and ``x.1.plate.csv``) but not ``xplate.csv``.
        """
        return match_suffix(name, self.suffixes)

    def claims(self, path: Path) -> bool:
        return self.matched_suffix(path.name) is not None


def file_suffixes(name: str) -> list[str]:
    """Every multi-part suffix ending a file name, longest first, lower-case.

    ``"Run 1.Plate.CSV"`` gives ``[".plate.csv", ".csv"]``.
    """
    parts = Path(name).suffixes
    return ["".join(parts[i:]).lower() for i in range(len(parts))]


def match_suffix(name: str, suffixes: tuple[str, ...] | list[str]) -> str | None:
    """The longest of ``suffixes`` that ends ``name`` as whole suffix parts."""
    claimed = set(suffixes)
    return next((s for s in file_suffixes(name) if s in claimed), None)


def suffix_problem(suffix: object) -> str | None:
    """Why a reader's suffix is refused, or None: ``.csv`` and ``.plate.csv`` are fine."""
    if not isinstance(suffix, str):
        return f"{suffix!r} is not a string"
    if suffix != suffix.lower():
        return f"{suffix!r} must be lower case"
    parts = suffix.split(".")
    if not suffix.startswith(".") or any(not p for p in parts[1:]):
        return f"{suffix!r} must be '.ext' or '.part.ext' (a dot before each non-empty part)"
    if any(c in suffix for c in "/\\ \t"):
        return f"{suffix!r} must not contain a path separator or white space"
    if file_suffixes("x" + suffix) and file_suffixes("x" + suffix)[0] != suffix:
        return f"{suffix!r} is not what Path.suffixes reads from a file name ending in it"
    return None


def read_head(path: Path, size: int = SNIFF_BYTES) -> bytes | None:
    """The first ``size`` bytes of a file, or None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return None


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

    It does not sniff: it claims every ``.csv``/``.tsv`` at the lowest
    specificity (:data:`SUFFIX_ONLY`), so a plugin's reader that recognizes
    its own CSV export (or claims a longer suffix such as ``.plate.csv``)
    takes those files and every other CSV stays here.
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
