"""Molecular Devices SoftMax Pro text exports (``.txt``, export version 1.3, Plate format).

Layout, from real SoftMax Pro exports (the example files of Benchling's
allotropy, MIT licence; see fixtures/plates/README.md): a first line
``##BLOCKS= n``; blocks, each ended by ``~End``, of kind ``Note:``,
``Group:`` or ``Plate:``. A Plate block's first line holds, tab-separated,
``Plate:``, the plate's name, the export version, the format
(``PlateFormat`` or ``TimeFormat``), the read type (``Endpoint``,
``Kinetic``...), the read mode (``Absorbance``, ``Fluorescence``,
``Luminescence``), and further on the number of wavelengths and their list
(``570 630``). Then a column line ``\\tTemperature(¡C)\\t1 ... 12\\t\\t1 ... 12``:
one run of column numbers per wavelength, side by side, a blank cell between
them; then one line per plate row (A first, the temperature in the first data
line only). A second grid after a blank line is the reduced data.

The geometry is taken from the column numbers and the lines, never from the
sizes the header claims. Only Endpoint reads in Plate format are read.
"""

from __future__ import annotations

from pathlib import Path

from assaykit.errors import InputError
from assaykit.plates.grid import Rows, column_runs, split_rows
from assaykit.plates.model import (
    FORMAT_OF_COLUMNS,
    FORMATS,
    ROW_LETTERS,
    PlateRead,
    build_plate_read,
    uses_decimal_comma,
)


def sniff_softmax(head: bytes) -> float | None:
    """2.0 when the export starts with SoftMax Pro's ``##BLOCKS=`` line."""
    return 2.0 if head.lstrip(b"\xef\xbb\xbf \r\n").startswith(b"##BLOCKS=") else None


def _blank(row: list[str]) -> bool:
    return not any(c.strip() for c in row)


def _is_end(row: list[str]) -> bool:
    return bool(row) and row[0].strip() == "~End"


def _grids(
    path: str | Path, rows: Rows, i: int, plate: str, what: str
) -> tuple[list[tuple[int, int]], list[list[str]], int]:
    """The column runs on line ``i`` and the data lines under it; the next line index."""
    runs = [(s, n) for s, n in column_runs(rows[i]) if n >= 1]
    widths = {n for _, n in runs}
    if not runs or len(widths) != 1 or widths.pop() not in FORMAT_OF_COLUMNS:
        raise InputError(
            path,
            f"plate {plate!r}: the {what} column line (line {i + 1}) does not number the "
            "columns 1–12 or 1–24 for each wavelength",
        )
    n_cols = runs[0][1]
    n_rows = FORMATS[FORMAT_OF_COLUMNS[n_cols]][0]
    data: list[list[str]] = []
    j = i + 1
    while j < len(rows) and not _blank(rows[j]) and not _is_end(rows[j]) and len(data) < n_rows:
        data.append(rows[j])
        j += 1
    if len(data) < n_rows:
        raise InputError(
            path,
            f"plate {plate!r}: the {what} grid under line {i + 1} has {len(data)} row(s); "
            f"row {ROW_LETTERS[len(data)]} is missing (a {FORMAT_OF_COLUMNS[n_cols]}-well "
            f"plate has rows A–{ROW_LETTERS[n_rows - 1]})",
        )
    for r, row in enumerate(data):
        last = max(s + n for s, n in runs)
        if len(row) < last:
            raise InputError(
                path,
                f"plate {plate!r}: row {ROW_LETTERS[r]} of the {what} grid (line {i + 2 + r}) "
                f"has {len(row)} cells; the column line needs {last}",
            )
    return runs, data, j


def read_softmax_text(path: str | Path, text: str) -> PlateRead:
    rows = split_rows(text, "\t")
    if not rows or not rows[0] or not rows[0][0].lstrip("\ufeff").startswith("##BLOCKS="):
        raise InputError(path, "not a SoftMax Pro export: expected a first line '##BLOCKS= n'")
    plates: list[tuple[str, dict[str, str], dict[str, dict[str, str]], int]] = []
    meta: dict[str, str] = {"software": "SoftMax Pro", "instrument": "Molecular Devices"}
    i = 1
    while i < len(rows):
        row = rows[i]
        first = row[0].strip() if row else ""
        if first.startswith("Original Filename:"):
            meta["original_file"] = first[:200]
        if first != "Plate:":
            i += 1
            continue
        fields = [c.strip() for c in row]
        name = fields[1] if len(fields) > 1 else f"Plate{len(plates) + 1}"
        export_format = fields[3] if len(fields) > 3 else ""
        read_type = fields[4] if len(fields) > 4 else ""
        read_mode = fields[5] if len(fields) > 5 else ""
        if export_format != "PlateFormat":
            raise InputError(
                path,
                f"plate {name!r} is exported in {export_format or 'an unknown'} format; "
                "only SoftMax Pro's Plate format is read (export the plate section as 'Plate')",
            )
        if read_type != "Endpoint":
            raise InputError(
                path,
                f"plate {name!r} is a {read_type or 'unknown'} read; only Endpoint reads are read",
            )
        wl_index = 16 if read_mode == "Fluorescence" else 15
        wavelengths = fields[wl_index].split() if len(fields) > wl_index else []
        if i + 1 >= len(rows):
            raise InputError(path, f"plate {name!r} has no data after its header line")
        runs, data, j = _grids(path, rows, i + 1, name, "raw")
        if wavelengths and len(wavelengths) != len(runs):
            raise InputError(
                path,
                f"plate {name!r} lists {len(wavelengths)} wavelength(s) ({' '.join(wavelengths)}) "
                f"but its column line has {len(runs)} grid(s)",
            )
        cells: dict[str, dict[str, str]] = {}
        used: set[str] = set()
        for k, (start, n) in enumerate(runs):
            label = wavelengths[k] if wavelengths else f"read {k + 1}"
            base, m = label, 2
            while label in used:
                label, m = f"{base} ({m})", m + 1
            used.add(label)
            cells[label] = {
                f"{ROW_LETTERS[r]}{c + 1}": data[r][start + c]
                for r in range(len(data))
                for c in range(n)
            }
        info = {"read_mode": read_mode, "read_type": read_type}
        temperature = data[0][1].strip() if len(data[0]) > 1 else ""
        if temperature:
            info["temperature_C"] = temperature
        # the reduced grid, when there is one, follows after a blank line
        while j < len(rows) and _blank(rows[j]):
            j += 1
        if j < len(rows) and not _is_end(rows[j]) and column_runs(rows[j]):
            rruns, rdata, j = _grids(path, rows, j, name, "reduced")
            start, n = rruns[0]
            cells["reduced"] = {
                f"{ROW_LETTERS[r]}{c + 1}": rdata[r][start + c]
                for r in range(len(rdata))
                for c in range(n)
            }
        plates.append((name, info, cells, FORMAT_OF_COLUMNS[runs[0][1]]))
        i = j
    if not plates:
        raise InputError(
            path,
            "the SoftMax Pro export has no 'Plate:' block; expected plate data in Plate format",
        )
    formats = {p[3] for p in plates}
    if len(formats) > 1:
        raise InputError(path, "the export holds both 96-well and 384-well plates")
    all_cells = [c for p in plates for g in p[2].values() for c in g.values()]
    decimal_comma = uses_decimal_comma(all_cells, "\t")
    grids: dict[str, dict[str, str]] = {}
    reduced = set()
    for name, _info, cells, _fmt in plates:
        for label, grid in cells.items():
            key = label if len(plates) == 1 else f"{name}:{label}"
            grids[key] = grid
            if label == "reduced":
                reduced.add(key)
    meta["plate"] = ", ".join(p[0] for p in plates)
    meta.update(plates[0][1])
    raw_labels = [lbl for lbl in plates[0][2] if lbl != "reduced"]
    meta["wavelength"] = ", ".join(raw_labels)
    # an empty reduced well is a well the protocol did not reduce, not a repair
    return build_plate_read(
        path, formats.pop(), grids, "softmax_pro", meta, decimal_comma, frozenset(reduced)
    )
