"""Write a generated viability plate as a lab's folder: generic-grid CSV + sample sheet."""

from __future__ import annotations

import csv
from pathlib import Path

from assaykit.plates.synthetic import SyntheticPlate

GEN5_TEMPLATE = Path(__file__).resolve().parents[2] / "fixtures" / "plates"
GEN5_TEMPLATE = GEN5_TEMPLATE / "gen5_abs450_overflow.txt"


def write_gen5(path: Path, plate: SyntheticPlate, digits: int = 3) -> None:
    """The plate as a BioTek Gen5 text export: the real Gen5 3.12 file's metadata and
    procedure lines (fixtures/plates, allotropy's example) above its ``Results`` grid,
    tab-separated, CRLF, the read's label after column 12, values at Gen5's 3 decimals."""
    head = GEN5_TEMPLATE.read_text(encoding="utf-8").splitlines()
    head = head[: head.index("Results") + 1]
    by = {w.well: w for w in plate.wells}
    lines = [*head, "\t" + "\t".join(str(c) for c in range(1, 13))]
    for r in "ABCDEFGH":
        vals = "\t".join(f"{by[f'{r}{c}'].signal:.{digits}f}" for c in range(1, 13))
        lines.append(f"{r}\t{vals}\tabs450:450")
    path.write_bytes(("\r\n".join([*lines, ""])).encode("utf-8"))


def write_grid(path: Path, plate: SyntheticPlate, digits: int = 5) -> None:
    """The plate as a generic 8 x 12 grid CSV (header row 1..12, row letters first)."""
    by = {w.well: w for w in plate.wells}
    lines = ["," + ",".join(str(c) for c in range(1, 13))]
    for r in "ABCDEFGH":
        lines.append(r + "," + ",".join(f"{by[f'{r}{c}'].signal:.{digits}f}" for c in range(1, 13)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def sheet_rows(plate: SyntheticPlate, name: str, suffix: str = "") -> list[list[str]]:
    """One sheet row per well: file, well, assay, role, cell_line, dose_uM, parental;
    cell lines (and their parental) get ``suffix`` so plates can share one sheet."""
    rows = []
    for well in plate.wells:
        line = well.cell_line + suffix if well.cell_line else "medium"
        parental = plate.truth[well.cell_line].parental if well.cell_line else ""
        parental = parental + suffix if parental else ""
        dose = f"{well.dose:.10g}" if well.role == "sample" else "0"
        rows.append([name, well.well, "viability", well.role, line, dose, parental])
    return rows


SHEET_HEADER = ["file", "well", "assay", "role", "cell_line", "dose_uM", "parental"]


def write_plate_folder(
    folder: Path, plate: SyntheticPlate, name: str = "plate1.csv", digits: int = 5
) -> Path:
    """The plate as a generic-grid CSV export plus a one-row-per-well sample sheet."""
    folder.mkdir(parents=True, exist_ok=True)
    write_grid(folder / name, plate, digits)
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(SHEET_HEADER)
        for well in plate.wells:
            line = well.cell_line or "medium"
            parental = plate.truth[well.cell_line].parental if well.cell_line else ""
            dose = f"{well.dose:.6g}" if well.role == "sample" else "0"
            w.writerow([name, well.well, "viability", well.role, line, dose, parental])
    return folder
