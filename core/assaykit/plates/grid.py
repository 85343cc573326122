"""The generic plate grid: column numbers 1–12 (or 1–24) across, row letters down.

What a plate reader's "matrix" export and a hand-made spreadsheet have in
common. The header of a grid is the row of column numbers, found by its
content, so metadata lines above the grid (instrument, date, wavelength) are
never taken for the header; they become ``metadata``. Several grids in one
file are several reads, each named from its corner cell or the line above it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from assaykit.errors import InputError
from assaykit.plates.model import (
    FORMAT_OF_COLUMNS,
    FORMATS,
    ROW_LETTERS,
    PlateRead,
    build_plate_read,
    uses_decimal_comma,
)

Rows = list[list[str]]

#: the delimiters tried, in order; the first that shows a grid wins
DELIMITERS = ("\t", ";", ",")
#: corner cells that are not the name of a read
_ANONYMOUS_CORNERS = {"", "<>", "well", "wells", "row", "rows", "#"}
_WAVELENGTH_NAME = re.compile(
    r"^(?:read\s*\d+\s*[:\-]\s*|wavelength\s*[:=]?\s*|abs(?:orbance)?\s*[:@]?\s*)?(\d{3,4})(?:\s*nm)?$",
    re.IGNORECASE,
)
#: BMG MARS titles a grid "Raw Data (484)"
_RAW_DATA_NAME = re.compile(r"^raw\s+data\s*\((\d{3,4})(?:\s*nm)?\)$", re.IGNORECASE)
MAX_METADATA = 60


@dataclass
class Header:
    """A row of column numbers: where it is and how wide."""

    line: int  # index in rows
    first: int  # cell index of column 1
    columns: int  # 12 or 24


def split_rows(text: str, delimiter: str) -> Rows:
    try:
        return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as exc:  # pragma: no cover - csv.reader rarely refuses text
        raise InputError("<text>", f"malformed delimited text: {exc}") from None


def column_runs(row: list[str]) -> list[tuple[int, int]]:
    """Every run ``1, 2, 3, ...`` in a row of cells, as (index of "1", length)."""
    runs = []
    i = 0
    cells = [c.strip() for c in row]
    while i < len(cells):
        if cells[i] == "1":
            n = 1
            while i + n < len(cells) and cells[i + n] == str(n + 1):
                n += 1
            runs.append((i, n))
            i += n
        else:
            i += 1
    return runs


def find_headers(rows: Rows) -> tuple[list[Header], list[str]]:
    """Grid headers (a run of exactly 12 or 24 column numbers with a cell before it),
    and a note for each near miss (a run 1..k of 6 or more that is not 12 or 24)."""
    headers: list[Header] = []
    near: list[str] = []
    skip_to = 0
    for i, row in enumerate(rows):
        if i < skip_to:
            continue  # inside a grid already found: its rows are data
        for first, n in column_runs(row):
            if first == 0:
                continue  # no room for the row letters
            if n in FORMAT_OF_COLUMNS:
                if _cell(rows[i + 1] if i + 1 < len(rows) else [], first - 1).upper() != "A":
                    near.append(f"line {i + 1} numbers the columns 1–{n} but row A does not follow")
                    continue
                headers.append(Header(i, first, n))
                skip_to = i + 1 + FORMATS[FORMAT_OF_COLUMNS[n]][0]
                break
            if n >= 6:
                near.append(
                    f"line {i + 1} numbers the columns 1–{n}; a 96-well grid needs 1–12 "
                    "and a 384-well grid 1–24"
                )
    return headers, near


def _cell(row: list[str], i: int) -> str:
    return row[i].strip() if 0 <= i < len(row) else ""


def read_name(rows: Rows, header: Header, used: set[str], lowest: int) -> str:
    """A read's name: the corner cell of its grid, else the nearest line above it."""
    corner = _cell(rows[header.line], header.first - 1)
    label = corner if corner.lower() not in _ANONYMOUS_CORNERS else ""
    if not label:
        for j in range(header.line - 1, max(lowest, header.line - 3) - 1, -1):
            texts = [c.strip() for c in rows[j] if c.strip()]
            if texts:
                label = " ".join(texts).rstrip(":")
                break
    m = _WAVELENGTH_NAME.match(label) or _RAW_DATA_NAME.match(label)
    name = m.group(1) if m else label or f"read {len(used) + 1}"
    base, k = name, 2
    while name in used:
        name, k = f"{base} ({k})", k + 1
    used.add(name)
    return name


def grid_rows(path: str | Path, rows: Rows, header: Header) -> list[list[str]]:
    """The data cells of one grid, row A first; refuses a grid with a row or column missing."""
    n_rows = FORMATS[FORMAT_OF_COLUMNS[header.columns]][0]
    wells = FORMAT_OF_COLUMNS[header.columns]
    out: list[list[str]] = []
    for r in range(n_rows):
        letter = ROW_LETTERS[r]
        i = header.line + 1 + r
        found = _cell(rows[i], header.first - 1) if i < len(rows) else ""
        if found.upper() != letter:
            got = f"found {found!r} there" if found else "the grid ends there"
            raise InputError(
                path,
                f"the plate grid under line {header.line + 1} has no row {letter} "
                f"(line {i + 1}: {got}); a {wells}-well grid needs rows "
                f"A–{ROW_LETTERS[n_rows - 1]}",
            )
        row = rows[i]
        out.append(row_cells(path, row, header, letter, i + 1, "the plate grid"))
    return out


def row_cells(
    path: str | Path, row: list[str], header: Header, letter: str, line: int, grid: str
) -> list[str]:
    """The cells of one grid row under ``header``; refuses a row with a column missing."""
    cells = row[header.first : header.first + header.columns]
    if len(cells) < header.columns:
        raise InputError(
            path,
            f"row {letter} of {grid} (line {line}) stops after column "
            f"{len(cells)}; the grid has {header.columns} columns",
        )
    return cells


def metadata_above(rows: Rows, end: int) -> dict[str, str]:
    """``key: value`` (or key in one cell, value in the next) lines above the first grid."""
    meta: dict[str, str] = {}
    for row in rows[:end]:
        texts = [c.strip() for c in row if c.strip()]
        if not texts or len(meta) >= MAX_METADATA:
            continue
        if all(": " in t or t.endswith(":") for t in texts):
            # "Test name: X,Date: 03/03/2016,Time: 16:54:03" (BMG MARS): one pair per cell
            for t in texts:
                key, _, value = t.partition(":")
                key = key.strip()[:80]
                if key and key not in meta and len(meta) < MAX_METADATA:
                    meta[key] = value.strip()[:200]
            continue
        if len(texts) >= 2:
            key = texts[0].rstrip(":").strip()[:80]
            if key and key not in meta:
                meta[key] = " ".join(texts[1:])[:200]
    return meta


def pick_delimiter(text: str, default: str = ",") -> tuple[str, Rows, list[Header], list[str]]:
    """The delimiter that shows a plate grid, with the rows and headers it gives."""
    near_all: list[str] = []
    for d in DELIMITERS:
        if d not in text:
            continue
        rows = split_rows(text, d)
        headers, near = find_headers(rows)
        if headers:
            return d, rows, headers, near
        near_all.extend(near)
    return default, split_rows(text, default), [], near_all


def no_grid_error(path: str | Path, near: list[str], what: str = "") -> InputError:
    hint = f" ({near[0]})" if near else ""
    return InputError(
        path,
        f"no plate grid found{hint}; expected {what or ''}a row of column numbers 1–12 "
        "(96-well) or 1–24 (384-well) with the row letters A–H or A–P down the side",
    )


def parse_grid_rows(
    path: str | Path, rows: Rows, headers: list[Header], delimiter: str
) -> PlateRead:
    """A PlateRead from rows in which ``headers`` were found (generic grid)."""
    formats = {FORMAT_OF_COLUMNS[h.columns] for h in headers}
    if len(formats) > 1:
        raise InputError(
            path, "the file holds both 96-well and 384-well grids; expected one format"
        )
    plate_format = formats.pop()
    blocks = [(h, grid_rows(path, rows, h)) for h in headers]
    decimal_comma = uses_decimal_comma([c for _, b in blocks for r in b for c in r], delimiter)
    used: set[str] = set()
    grids: dict[str, dict[str, str]] = {}
    lowest = 0
    for h, block in blocks:
        name = read_name(rows, h, used, lowest)
        lowest = h.line + len(block) + 1
        grids[name] = {
            f"{ROW_LETTERS[r]}{c + 1}": cell
            for r, cells in enumerate(block)
            for c, cell in enumerate(cells)
        }
    meta = metadata_above(rows, headers[0].line)
    named = [n for n in grids if n.isdigit()]
    if named:
        meta.setdefault("wavelength", ", ".join(named))
    return build_plate_read(path, plate_format, grids, "generic_grid", meta, decimal_comma)


def read_grid_text(path: str | Path, text: str, default_delimiter: str = ",") -> PlateRead:
    delimiter, rows, headers, near = pick_delimiter(text, default_delimiter)
    if not headers:
        raise no_grid_error(path, near)
    return parse_grid_rows(path, rows, headers, delimiter)


def sniff_grid(head: bytes) -> float | None:
    """1.0 when the first bytes show a plate grid's row of column numbers, else None."""
    text = head.decode("utf-8", errors="replace")
    # the last line of a head may be cut: drop it
    if "\n" in text:
        text = text.rsplit("\n", 1)[0]
    for d in DELIMITERS:
        if d in text:
            try:
                rows = split_rows(text, d)
            except InputError:
                continue
            if find_headers(rows)[0]:
                return 1.0
    return None
