"""``read_plate``: any supported plate-reader export -> :class:`PlateRead`.

The format is chosen by content: each format's ``sniff(head)`` scores the
file's first bytes (``None`` = not mine, higher = more specific), as the
host's readers do, and the best wins; the generic grid is the fallback.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

from assaykit.errors import InputError
from assaykit.plates.gen5 import read_gen5_text, sniff_gen5
from assaykit.plates.grid import (
    find_headers,
    no_grid_error,
    parse_grid_rows,
    read_grid_text,
    sniff_grid,
)
from assaykit.plates.model import PlateRead
from assaykit.plates.softmax import read_softmax_text, sniff_softmax
from assaykit.readers import decode_text

#: a plate export is small; anything larger is not one
MAX_PLATE_BYTES = 32 * 1024 * 1024
#: the most an xlsx may unpack to, and the most cells of a sheet looked at
MAX_XLSX_UNPACKED = 128 * 1024 * 1024
MAX_SHEET_ROWS = 5000
MAX_SHEET_COLUMNS = 400
SNIFF_BYTES = 64 * 1024

TextReader = Callable[[Path, str], PlateRead]

#: text formats: name -> (sniff, read)
TEXT_FORMATS: dict[str, tuple[Callable[[bytes], float | None], TextReader]] = {
    "gen5": (sniff_gen5, read_gen5_text),
    "softmax_pro": (sniff_softmax, read_softmax_text),
    "generic_grid": (sniff_grid, read_grid_text),
}


def sniff_xlsx(head: bytes) -> float | None:
    """0.5 for a zip container (an xlsx); which grid it holds is known only on reading."""
    return 0.5 if head.startswith(b"PK\x03\x04") else None


def sniff(head: bytes) -> dict[str, float]:
    """Every format that claims ``head``, with its score."""
    scores = {}
    for name, (sniffer, _) in TEXT_FORMATS.items():
        score = sniffer(head)
        if score is not None:
            scores[name] = score
    x = sniff_xlsx(head)
    if x is not None:
        scores["xlsx"] = x
    return scores


def read_plate(path: str | Path) -> PlateRead:
    """Read a plate export: generic CSV/TSV/XLSX grid, Gen5 text or SoftMax Pro text.

    Raises InputError naming the file and what was expected for a file with no
    plate grid, a grid with a row or column missing, or a file too large.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PLATE_BYTES:
            raise InputError(
                path, f"file is {size} bytes; a plate export is at most {MAX_PLATE_BYTES}"
            )
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from None
    if sniff_xlsx(head) is not None or path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode Text" export: UTF-16 with a byte-order mark
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(path, "text starts with a UTF-16 mark but is not UTF-16") from None
        head = text[:SNIFF_BYTES].encode("utf-8")
    elif b"\x00" in raw[:SNIFF_BYTES]:
        raise InputError(path, "binary content; expected a text or xlsx plate export")
    else:
        text = decode_text(raw, path)
    scores = sniff(head)
    ranked = sorted((n for n in scores if n in TEXT_FORMATS), key=lambda n: scores[n], reverse=True)
    name = ranked[0] if ranked else "generic_grid"
    reader = TEXT_FORMATS[name][1]
    if name == "generic_grid":
        default = "\t" if path.suffix.lower() == ".tsv" else ","
        return read_grid_text(path, text, default)
    return reader(path, text)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def read_xlsx(path: Path) -> PlateRead:
    """The first sheet of an xlsx that holds a plate grid (openpyxl, read-only mode)."""
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(path, f"not a readable xlsx workbook ({exc})") from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise InputError(
            path, f"the workbook unpacks to {unpacked} bytes; the limit is {MAX_XLSX_UNPACKED}"
        )
    import openpyxl  # only an xlsx needs it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken workbook
        raise InputError(
            path, f"not a readable xlsx workbook ({type(exc).__name__}: {exc})"
        ) from None
    near: list[str] = []
    try:
        for ws in wb.worksheets:
            rows: list[list[str]] = []
            for k, values in enumerate(ws.iter_rows(max_col=MAX_SHEET_COLUMNS, values_only=True)):
                if k >= MAX_SHEET_ROWS:
                    break
                rows.append([_cell_text(v) for v in values])
            headers, sheet_near = find_headers(rows)
            near.extend(f"sheet {ws.title!r}: {n}" for n in sheet_near)
            if headers:
                plate = parse_grid_rows(path, rows, headers, "xlsx")
                plate.metadata["sheet"] = ws.title
                return plate
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"cannot read the workbook ({type(exc).__name__}: {exc})") from None
    finally:
        wb.close()
    raise no_grid_error(path, near, "on one of the sheets ")
