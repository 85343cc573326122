"""What a plate read is, and how one cell of an export becomes a number.

Shared by the generic grid finder and the vendor readers: the well names, the
two plate formats, the numeric rules (decimal point or decimal comma, never
``nan``/``inf``) and the words instruments write for an overflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: row letters of a 384-well plate; a 96-well plate uses the first eight
ROW_LETTERS = "ABCDEFGHIJKLMNOP"
#: wells -> (rows, columns)
FORMATS: dict[int, tuple[int, int]] = {96: (8, 12), 384: (16, 24)}
#: columns -> wells
FORMAT_OF_COLUMNS = {cols: wells for wells, (_, cols) in FORMATS.items()}

#: what readers write for a signal above the detector's range (lower case)
OVERFLOW_WORDS = frozenset({"ovrflw", "overflow", "over", "sat", "saturated", "oor>", ">"})

_DOT_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_COMMA_NUMBER = re.compile(r"^[+-]?\d+,\d+(?:[eE][+-]?\d+)?$")
_HAS_DOT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")

Wells = dict[str, "float | None"]


@dataclass
class PlateRead:
    """One plate as read from an instrument export.

    ``reads`` holds one grid per read or wavelength (``"570"`` and ``"630"``
    for MTT with a reference wavelength), each a dict well -> value; ``None``
    is a well with no usable number (empty, overflow, a text cell), and each
    such repair is listed in ``deviations``. ``wells`` is the first read.
    """

    path: str
    plate_format: int
    reads: dict[str, dict[str, float | None]]
    source_format: str
    metadata: dict[str, str] = field(default_factory=dict)
    deviations: list[str] = field(default_factory=list)

    @property
    def wells(self) -> dict[str, float | None]:
        return next(iter(self.reads.values()))

    @property
    def read_names(self) -> list[str]:
        return list(self.reads)

    def read(self, name: str) -> dict[str, float | None]:
        """One read by its name, or by its wavelength when that is unambiguous.

        ``read("570")`` finds the read named ``570``, else the one read whose
        name ends in ``:570`` (Gen5 labels a read ``Read 1:570`` or ``abs:570``).
        """
        if name in self.reads:
            return self.reads[name]
        matches = [k for k in self.reads if k.rsplit(":", 1)[-1].strip() == name]
        if len(matches) == 1:
            return self.reads[matches[0]]
        why = f"{len(matches)} reads match" if matches else "no read matches"
        raise KeyError(f"{self.path}: {why} {name!r}; the reads are {self.read_names}")


def well_names(plate_format: int) -> list[str]:
    rows, cols = FORMATS[plate_format]
    return [f"{ROW_LETTERS[r]}{c}" for r in range(rows) for c in range(1, cols + 1)]


def uses_decimal_comma(cells: list[str], delimiter: str) -> bool:
    """Whether the numbers of an export are written with a decimal comma.

    Only when the delimiter is not a comma, some cell reads ``0,52`` and no cell
    reads ``0.52`` (European Excel and SoftMax Pro on a European Windows).
    """
    if delimiter == ",":
        return False
    comma = dot = False
    for cell in cells:
        c = cell.strip()
        if _COMMA_NUMBER.match(c):
            comma = True
        elif _HAS_DOT_DECIMAL.match(c):
            dot = True
    return comma and not dot


def parse_cell(cell: object, decimal_comma: bool) -> tuple[float | None, str | None]:
    """(value, what was wrong) for one well's cell; value is None when not a number.

    The second item is ``None`` for a number, ``""`` for an empty cell and the
    cell's text otherwise (``"OVRFLW"``, ``"MISSED"``).
    """
    if isinstance(cell, bool):
        return None, str(cell)
    if isinstance(cell, (int, float)):
        value = float(cell)
        if value != value or value in (float("inf"), float("-inf")):
            return None, str(cell)
        return value, None
    text = "" if cell is None else str(cell).strip()
    if not text:
        return None, ""
    candidate = text
    if decimal_comma and _COMMA_NUMBER.match(candidate):
        candidate = candidate.replace(",", ".")
    if _DOT_NUMBER.match(candidate):
        return float(candidate), None
    return None, text


class DeviationLog:
    """Collects repaired cells per read and word, then words them for a report."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, str], list[str]] = {}

    def add(self, read: str, well: str, text: str) -> None:
        self._cells.setdefault((read, text), []).append(well)

    def messages(self) -> list[str]:
        out = []
        for (read, text), wells in self._cells.items():
            shown = ", ".join(wells[:8]) + (f" and {len(wells) - 8} more" if len(wells) > 8 else "")
            n = len(wells)
            if not text:
                what = f"{n} empty well(s) ({shown}) read as no value"
            elif text.lower() in OVERFLOW_WORDS:
                what = (
                    f"{n} well(s) marked {text!r} (signal above the reader's range: "
                    f"{shown}) read as no value"
                )
            else:
                what = f"{n} well(s) with the non-numeric text {text!r} ({shown}) read as no value"
            out.append(f"read {read!r}: {what}")
        return out


def build_plate_read(
    path: object,
    plate_format: int,
    grids: dict[str, dict[str, str]],
    source_format: str,
    metadata: dict[str, str],
    decimal_comma: bool,
    quiet_empty: frozenset[str] = frozenset(),
) -> PlateRead:
    """The PlateRead of each read's cells (read name -> well -> cell text).

    Every cell that is not a number reads as no value and is worded as a
    deviation, except an empty cell of a read named in ``quiet_empty``.
    """
    log = DeviationLog()
    reads: dict[str, dict[str, float | None]] = {}
    for name, grid in grids.items():
        wells: dict[str, float | None] = {}
        for well, cell in grid.items():
            value, problem = parse_cell(cell, decimal_comma)
            wells[well] = value
            if problem is not None and not (problem == "" and name in quiet_empty):
                log.add(name, well, problem)
        reads[name] = wells
    if decimal_comma:
        metadata["decimal_mark"] = ","
    return PlateRead(
        path=str(path),
        plate_format=plate_format,
        reads=reads,
        source_format=source_format,
        metadata=metadata,
        deviations=log.messages(),
    )
