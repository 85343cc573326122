"""Plate maps: a plate's layout drawn as grids in a CSV, expanded into sample-sheet rows.

A lab draws a plate as it sits on the bench: 8 rows by 12 columns (96 wells)
or 16 by 24 (384). A plate map is a CSV of such grids, one per sheet column::

    # assaykit plate map            <- '#' lines are comments
    file,plates/plate1.csv          <- settings: "column,value" lines, before the grids
    assay,viability
    cell_line,A549
    [sample_id]                     <- a grid: the column it fills, in brackets,
    ,1,2,3,4,5,6,7,8,9,10,11,12     <- then the column numbers 1..12 (or 1..24),
    A,s1,s2,s3,...                  <- then one line per row letter A..H (or A..P)
    ...
    [dose_uM]
    ,1,2,3,4,5,6,7,8,9,10,11,12
    A,0,0.01,0.1,...

- A grid's name is the column its cells fill: ``sample_id``, ``role``,
  ``experiment`` or a condition column (``dose_uM``, ``cell_line``...).
  ``file``, ``well``, ``position``, ``lane``, ``plate_map`` and ``plate_format`` cannot be grids.
- A map with one grid and no ``[name]`` line is a ``[sample_id]`` grid.
- The wells used are those with a sample id in the ``[sample_id]`` grid; with
  no such grid, those with a value in some grid (their sample ids are then
  ``<file stem>_<well>``). Other grids may cover the whole plate. Row lines
  may be left out (an empty plate row).
- Every grid of one map has the same size, and that size is the plate format.

It is used either as the sample sheet itself (``--sheet plate_map.csv``; it
then needs a ``file`` line), or from a sample-sheet row's ``plate_map`` column,
whose other cells apply to every well (see :mod:`assaykit.sheet`). The
delimiter is ``,``, ``;`` or tab, read from the first line that has one.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from assaykit.errors import InputError, SampleSheetError
from assaykit.experiment import PLATE_FORMATS
from assaykit.readers import decode_text

#: Columns that locate a row or name a map: never filled by a grid.
NOT_A_GRID = ("file", "well", "position", "lane", "plate_map", "plate_format")
_SECTION = re.compile(r"^\[\s*([^\[\]]*?)\s*\]$")
_MAX_MAP_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class MapCell:
    """One value of a plate map, and where it is (for error messages)."""

    value: str
    where: str


@dataclass
class PlateMap:
    """A parsed plate map: its settings, its plate format, and each used well's cells."""

    path: str
    plate_format: int
    settings: dict[str, MapCell] = field(default_factory=dict)
    #: used wells in plate order (A1, A2, ... B1 ...) -> grid name -> cell
    wells: dict[str, dict[str, MapCell]] = field(default_factory=dict)
    #: the map's line of each used well (in its first grid with a value there)
    lines: dict[str, int] = field(default_factory=dict)
    grids: list[str] = field(default_factory=list)


def _delimiter(text: str) -> str:
    for line in text.splitlines():
        counts = {d: line.count(d) for d in (",", ";", "\t")}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            return best
    return ","


def _rows(text: str, label: str) -> list[tuple[int, list[str]]]:
    try:
        raw = list(csv.reader(io.StringIO(text), delimiter=_delimiter(text)))
    except csv.Error as exc:
        raise SampleSheetError([f"{label}: malformed CSV: {exc}"]) from None
    out = []
    for n, cells in enumerate(raw, start=1):
        cells = [c.strip().lstrip("\ufeff").strip() for c in cells]
        while cells and not cells[-1]:
            cells.pop()
        if cells and not cells[0].startswith("#"):
            out.append((n, cells))
    return out


def _is_grid_header(cells: list[str]) -> bool:
    return len(cells) > 1 and not cells[0] and cells[1] == "1"


def is_plate_map(text: str) -> bool:
    """True when ``text`` is a plate map: it has a ``[name]`` line or starts with a grid."""
    try:
        rows = _rows(text, "")
    except SampleSheetError:
        return False
    if rows and _is_grid_header(rows[0][1]):
        return True
    return any(len(c) == 1 and _SECTION.match(c[0]) for _, c in rows)


def read_text(
    path: Path,
    label: str,
    max_bytes: int = _MAX_MAP_BYTES,
    limit: str = "a plate map may be at most 4 MiB",
) -> str:
    """The decoded text of a sheet or map (UTF-8 with or without BOM, else cp1252).

    A file over ``max_bytes`` is refused with ``limit`` as the reason.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SampleSheetError([f"{label}: {size} bytes; {limit}"])
        raw = path.read_bytes()
    except OSError as exc:
        raise SampleSheetError([f"{label}: cannot read: {exc.strerror or exc}"]) from None
    try:
        return decode_text(raw, path)
    except InputError as exc:
        raise SampleSheetError([str(exc)]) from None


def parse_plate_map(text: str, label: str) -> PlateMap:
    """Parse a plate map; SampleSheetError lists every problem (map, row, column)."""
    problems: list[str] = []
    settings: dict[str, MapCell] = {}
    sections: list[tuple[str, int, list[tuple[int, list[str]]]]] = []
    for n, cells in _rows(text, label):
        sec = _SECTION.match(cells[0]) if len(cells) == 1 else None
        if sec is not None:
            sections.append((sec.group(1), n, []))
        elif sections:
            sections[-1][2].append((n, cells))
        elif _is_grid_header(cells):  # a bare grid: the sample ids
            sections.append(("sample_id", n, [(n, cells)]))
        elif cells[0].startswith("["):
            problems.append(
                f"{label}, row {n}, column 1: {cells[0]!r} is not a grid name line; "
                "expected [name] alone on its line"
            )
        else:
            key = cells[0]
            if len(cells) > 2:
                problems.append(
                    f"{label}, row {n}: a setting line is 'column,value'; got {len(cells)} cells"
                )
            low = key.lower()
            if low in ("well", "lane", "plate_map"):
                problems.append(
                    f"{label}, row {n}, column 1: {key!r} cannot be set for a whole plate map"
                )
            elif any(k.lower() == low for k in settings):
                problems.append(f"{label}, row {n}, column 1: {key!r} is set twice")
            else:
                value = cells[1] if len(cells) > 1 else ""
                settings[
                    low
                    if low in ("file", "assay", "experiment", "role", "sample_id", "plate_format")
                    else key
                ] = MapCell(value, f"{label}, row {n}, column 2")
    if not sections:
        problems.append(
            f"{label}: no grid; expected a [name] line, then the column numbers "
            "1..12 (or 1..24), then one line per row letter A..H (or A..P)"
        )
        raise SampleSheetError(problems)
    formats: dict[int, str] = {}
    wells: dict[str, dict[str, MapCell]] = {}
    lines: dict[str, int] = {}
    names: list[str] = []
    for name, n, body in sections:
        low = name.lower()
        grid = low if low in ("sample_id", "role", "experiment", "assay") else name
        if not name:
            problems.append(
                f"{label}, row {n}: a grid has an empty name; expected e.g. "
                "[sample_id] or [dose_uM]"
            )
            continue
        if low in NOT_A_GRID:
            problems.append(
                f"{label}, row {n}: [{name}] cannot be a grid (one value per well); "
                + (
                    "give it as a 'file,...' line"
                    if low == "file"
                    else "the grid cells already name the wells"
                )
            )
            continue
        if any(g.lower() == low for g in names):
            problems.append(f"{label}, row {n}: grid [{name}] is given twice")
            continue
        if low in (k.lower() for k in settings):
            problems.append(f"{label}, row {n}: [{name}] is both a setting line and a grid")
            continue
        names.append(grid)
        if not body or not _is_grid_header(body[0][1]):
            got = body[0][1] if body else "nothing"
            problems.append(
                f"{label}, row {body[0][0] if body else n}: grid [{name}] must start "
                "with an empty cell then the column numbers 1..12 (96-well) or "
                f"1..24 (384-well); got {got}"
            )
            continue
        hn, header = body[0]
        ncols = len(header) - 1
        if header[1:] != [str(i) for i in range(1, ncols + 1)] or ncols not in (12, 24):
            problems.append(
                f"{label}, row {hn}: grid [{name}] has columns {header[1:]}; expected "
                "1..12 (96-well) or 1..24 (384-well)"
            )
            continue
        fmt = 96 if ncols == 12 else 384
        formats.setdefault(fmt, name)
        nrows = PLATE_FORMATS[fmt][0]
        last = chr(ord("A") + nrows - 1)
        seen_rows: dict[str, int] = {}
        for rn, cells in body[1:]:
            letter = cells[0].upper()
            if len(letter) != 1 or not "A" <= letter <= last:
                problems.append(
                    f"{label}, row {rn}, column 1: {cells[0]!r} is not a row of a "
                    f"{fmt}-well plate; expected a letter A to {last}"
                )
                continue
            if letter in seen_rows:
                problems.append(
                    f"{label}, row {rn}, column 1: row {letter} of grid [{name}] is "
                    f"already on row {seen_rows[letter]}"
                )
                continue
            seen_rows[letter] = rn
            if len(cells) > ncols + 1:
                problems.append(
                    f"{label}, row {rn}: {len(cells) - 1} cells after the row letter;"
                    f" grid [{name}] has {ncols} columns"
                )
            for j in range(1, min(len(cells), ncols + 1)):
                if cells[j]:
                    well = f"{letter}{j}"
                    wells.setdefault(well, {})[grid] = MapCell(
                        cells[j], f"{label}, row {rn}, column {j + 1} (grid [{name}], well {well})"
                    )
                    lines.setdefault(well, rn)
    if len(formats) > 1:
        a, b = (formats[f] for f in sorted(formats))
        problems.append(
            f"{label}: grid [{a}] is a 96-well grid and grid [{b}] a 384-well one; "
            "every grid of a plate map has the same size"
        )
    if problems:
        raise SampleSheetError(problems)
    fmt = next(iter(formats)) if formats else 96
    if "sample_id" in names:  # the sample ids say which wells are samples
        wells = {w: c for w, c in wells.items() if "sample_id" in c}
    ordered = dict(sorted(wells.items(), key=lambda kv: (kv[0][0], int(kv[0][1:]))))
    return PlateMap(label, fmt, settings, ordered, lines, names)
