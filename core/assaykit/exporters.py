"""Exporters write the run's result table to files (CSV, JSON Lines, Parquet ...).

The host's own exporters are registered through the same
``assaykit_register_exporters`` hook that a plugin uses.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from assaykit.records import RECORD_FIELDS


@dataclass
class ResultTable:
    """Records in long format with the sample-sheet condition columns joined on.

    ``columns`` is the record fields in schema order, then the condition
    columns in sorted order. ``rows`` are tuples in that column order;
    ``qc_flags`` is a list of strings.
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]

    @property
    def condition_columns(self) -> list[str]:
        return self.columns[len(RECORD_FIELDS) :]

    def dicts(self) -> Iterator[dict[str, Any]]:
        cols = self.columns
        for r in self.rows:
            yield dict(zip(cols, r))

    def __len__(self) -> int:
        return len(self.rows)

    def to_pandas(self) -> Any:
        """A pandas DataFrame (pandas is optional; ImportError names the extra to install)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on environment
            raise ImportError("to_pandas() needs pandas: pip install 'assaykit[pandas]'") from exc
        return pd.DataFrame.from_records(self.rows, columns=self.columns)


class Exporter(ABC):
    """Base class of an exporter. See ``assaykit_register_exporters`` for the contract."""

    name: ClassVar[str]
    #: One line on what it writes, shown by ``assaykit plugins``.
    summary: ClassVar[str] = ""

    def available(self) -> bool:
        """False when an optional dependency is missing; the exporter is then skipped."""
        return True

    @abstractmethod
    def export(self, table: ResultTable, out_dir: Path) -> list[Path]:
        """Write the table inside ``out_dir`` atomically; return the paths written."""


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


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Neutralize a text cell that a spreadsheet would run as a formula.

    Excel, LibreOffice and Google Sheets evaluate cells starting with ``=``,
    ``+``, ``-`` or ``@`` (and tab/CR). Such a cell gets a leading ``'`` (the
    OWASP recommendation), unless it is a plain number such as ``-1.5``,
    which is data, not a formula.
    """
    if text and text.startswith(_FORMULA_PREFIXES):
        try:
            float(text)
            return text
        except ValueError:
            return "'" + text
    return text


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return spreadsheet_safe(";".join(str(v) for v in value))
    return spreadsheet_safe(str(value))


class CSVExporter(Exporter):
    """``results.csv``: one row per record, condition columns last, formula-safe text."""

    name = "csv"
    summary = "results.csv (spreadsheet-safe; qc_flags joined with ';')"

    def export(self, table: ResultTable, out_dir: Path) -> list[Path]:
        path = out_dir / "results.csv"
        with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([spreadsheet_safe(c) for c in table.columns])
            for row in table.rows:
                w.writerow([_csv_cell(v) for v in row])
        return [path]


class JSONLExporter(Exporter):
    """``results.jsonl``: one JSON object per record, condition columns as extra keys."""

    name = "jsonl"
    summary = "results.jsonl (one JSON object per record)"

    def export(self, table: ResultTable, out_dir: Path) -> list[Path]:
        path = out_dir / "results.jsonl"
        with atomic_write(path, "w", encoding="utf-8") as fh:
            for d in table.dicts():
                fh.write(json.dumps(d, ensure_ascii=False, allow_nan=False, default=list))
                fh.write("\n")
        return [path]


class ParquetExporter(Exporter):
    """``results.parquet`` with typed columns, when pyarrow is installed."""

    name = "parquet"
    summary = "results.parquet (needs pyarrow: pip install 'assaykit[parquet]')"

    def available(self) -> bool:
        try:
            import pyarrow
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            return False
        return True

    def export(self, table: ResultTable, out_dir: Path) -> list[Path]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols: dict[str, list[Any]] = {c: [] for c in table.columns}
        for row in table.rows:
            for c, v in zip(table.columns, row):
                cols[c].append(v)
        types: dict[str, Any] = {c: pa.string() for c in table.columns}
        types["value_num"] = pa.float64()
        types["qc_flags"] = pa.list_(pa.string())
        pa_table = pa.Table.from_arrays(
            [pa.array(cols[c], type=types[c]) for c in table.columns], names=table.columns
        )
        path = out_dir / "results.parquet"
        fd, tmp = _temp_beside(path)
        os.close(fd)
        try:
            pq.write_table(pa_table, tmp)
            os.replace(tmp, path)
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
        return [path]


BUILTIN_EXPORTERS: Sequence[type[Exporter]] = (CSVExporter, JSONLExporter, ParquetExporter)
