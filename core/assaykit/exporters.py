"""Exporters write the run's result table to files (CSV, JSON Lines, Parquet ...).

The host's own exporters are registered through the same
``assaykit_register_exporters`` hook that a plugin uses. The interface they
implement (:class:`Exporter`) and the table they get (:class:`ResultTable`)
are part of the contract and live in :mod:`assaykit.records`; they are
re-exported here.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assaykit._files import _suppress, _temp_beside, atomic_write
from assaykit.records import Exporter, ResultTable

__all__ = [
    "BUILTIN_EXPORTERS",
    "CSVExporter",
    "Exporter",
    "JSONLExporter",
    "ParquetExporter",
    "ResultTable",
    "atomic_write",
    "spreadsheet_safe",
]


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
