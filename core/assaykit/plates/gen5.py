"""BioTek (Agilent) Gen5 text exports.

Layout, from real Gen5 3.12/3.15 exports (the example files of Benchling's
allotropy, MIT licence; see fixtures/plates/README.md): key/value lines
(``Software Version``, ``Plate Number``, ``Date``, ``Time``, ``Reader Type:``,
``Reader Serial Number:``), a ``Procedure Details`` section (``Wavelengths:
570, 630``), then sections, each a title line (``Layout``, ``Results`` or a
data set's name) over a tab-separated grid: a header row ``\\t1\\t2 ... 12``,
a row letter in the first cell, and the data set's label after the last
column (``570``, ``abs450:450``, ``Read 1:570``). Several data sets of one
row follow on lines whose first cell is empty. Data sets are named by that
label, row by row (Gen5 does not keep one order of labels in every row).
"""

from __future__ import annotations

import re
from pathlib import Path

from assaykit.errors import InputError
from assaykit.plates.grid import Rows, find_headers, no_grid_error, row_cells, split_rows
from assaykit.plates.model import (
    FORMAT_OF_COLUMNS,
    FORMATS,
    ROW_LETTERS,
    PlateRead,
    build_plate_read,
    uses_decimal_comma,
)

_KEYS = {
    "software version": "software_version",
    "plate number": "plate",
    "date": "date",
    "time": "time",
    "reader type": "instrument",
    "reader serial number": "serial_number",
    "reading type": "reading_type",
    "plate type": "plate_type",
    "experiment file path": "experiment_file",
    "protocol file path": "protocol_file",
}
#: section titles whose grid is not a measurement
_NOT_DATA = {"layout", "well ids", "well id"}
_WAVELENGTHS = re.compile(r"^wavelengths?\s*:\s*(.+)$", re.IGNORECASE)


def sniff_gen5(head: bytes) -> float | None:
    """2.0 for the head of a Gen5 export (``Software Version`` and ``Plate Number``)."""
    text = head.decode("utf-8", errors="replace")
    lines = [ln.strip() for ln in text.splitlines()[:60]]
    has_version = any(ln.startswith("Software Version\t") for ln in lines)
    has_plate = any(
        ln.startswith(("Plate Number\t", "Reader Type:", "Reader Serial Number:")) for ln in lines
    )
    return 2.0 if has_version and has_plate else None


def _metadata(rows: Rows, end: int) -> dict[str, str]:
    meta: dict[str, str] = {"software": "Gen5"}
    wavelengths: list[str] = []
    for row in rows[:end]:
        cells = [c.strip() for c in row]
        texts = [c for c in cells if c]
        if not texts:
            continue
        key = texts[0].rstrip(":").strip().lower()
        if key in _KEYS and len(texts) > 1 and _KEYS[key] not in meta:
            meta[_KEYS[key]] = " ".join(texts[1:])[:200]
        for t in texts:
            m = _WAVELENGTHS.match(t)
            if m:
                wavelengths.extend(w.strip() for w in m.group(1).split(",") if w.strip())
    if "date" in meta and "time" in meta:
        meta["read_time"] = f"{meta['date']} {meta['time']}"
    if wavelengths:
        meta["wavelength"] = ", ".join(dict.fromkeys(wavelengths))
    return meta


def _title(rows: Rows, line: int) -> str:
    for j in range(line - 1, max(-1, line - 3), -1):
        texts = [c.strip() for c in rows[j] if c.strip()]
        if texts:
            return texts[0]
    return ""


def read_gen5_text(path: str | Path, text: str) -> PlateRead:
    rows = split_rows(text, "\t")
    headers, near = find_headers(rows)
    if not headers:
        raise no_grid_error(path, near, "a Gen5 'Results' section: ")
    formats = {FORMAT_OF_COLUMNS[h.columns] for h in headers}
    if len(formats) > 1:
        raise InputError(path, "the export holds both 96-well and 384-well grids")
    plate_format = formats.pop()
    n_rows = FORMATS[plate_format][0]
    cells_by_read: dict[str, dict[str, str]] = {}
    for h in headers:
        title = _title(rows, h.line)
        if title.lower() in _NOT_DATA:
            continue
        letter_index = -1
        i = h.line + 1
        while i < len(rows):
            row = rows[i]
            if not any(c.strip() for c in row):
                break
            first = row[h.first - 1].strip() if len(row) >= h.first else ""
            if first:
                expected = ROW_LETTERS[letter_index + 1] if letter_index + 1 < n_rows else None
                if first.upper() != expected:
                    if expected is None or len(first) != 1 or not first.isalpha():
                        break  # the grid is over
                    raise InputError(
                        path,
                        f"the Gen5 grid {title!r} has no row {expected} (line {i + 1} "
                        f"starts with {first!r})",
                    )
                letter_index += 1
            elif letter_index < 0:
                break
            letter = ROW_LETTERS[letter_index]
            values = row_cells(path, row, h, letter, i + 1, f"the Gen5 grid {title!r}")
            label = row[h.first + h.columns].strip() if len(row) > h.first + h.columns else ""
            name = label or title or f"read {len(cells_by_read) + 1}"
            grid = cells_by_read.setdefault(name, {})
            for c, cell in enumerate(values):
                well = f"{letter}{c + 1}"
                if well in grid:
                    raise InputError(
                        path, f"well {well} of data set {name!r} is given twice (line {i + 1})"
                    )
                grid[well] = cell
            i += 1
        if 0 <= letter_index < n_rows - 1:
            raise InputError(
                path,
                f"the Gen5 grid {title!r} stops after row {ROW_LETTERS[letter_index]}; "
                f"row {ROW_LETTERS[letter_index + 1]} is missing "
                f"(a {plate_format}-well plate has rows A–{ROW_LETTERS[n_rows - 1]})",
            )
    if not cells_by_read:
        raise no_grid_error(path, near, "a Gen5 'Results' section: ")
    wells_needed = n_rows * FORMATS[plate_format][1]
    for name, grid in cells_by_read.items():
        if len(grid) != wells_needed:
            have = {w[0] for w in grid}
            missing = [r for r in ROW_LETTERS[:n_rows] if r not in have]
            raise InputError(
                path,
                f"data set {name!r} has no values for row {missing[0] if missing else '?'}; "
                f"a {plate_format}-well plate needs all rows",
            )
    all_cells = [c for g in cells_by_read.values() for c in g.values()]
    decimal_comma = uses_decimal_comma(all_cells, "\t")
    meta = _metadata(rows, headers[0].line)
    return build_plate_read(path, plate_format, cells_by_read, "gen5", meta, decimal_comma)
