"""Write a generated viability plate as a lab's folder: generic-grid CSV + sample sheet."""

from __future__ import annotations

import csv
from pathlib import Path

from assaykit.plates.synthetic import SyntheticPlate


def write_plate_folder(folder: Path, plate: SyntheticPlate, name: str = "plate1.csv") -> Path:
    """The plate as a generic-grid CSV export plus a one-row-per-well sample sheet."""
    folder.mkdir(parents=True, exist_ok=True)
    by = {w.well: w for w in plate.wells}
    lines = ["," + ",".join(str(c) for c in range(1, 13))]
    for r in "ABCDEFGH":
        lines.append(r + "," + ",".join(f"{by[f'{r}{c}'].signal:.5f}" for c in range(1, 13)))
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "well", "assay", "role", "cell_line", "dose_uM", "parental"])
        for well in plate.wells:
            line = well.cell_line or "medium"
            parental = plate.truth[well.cell_line].parental if well.cell_line else ""
            dose = f"{well.dose:.6g}" if well.role == "sample" else "0"
            w.writerow([name, well.well, "viability", well.role, line, dose, parental])
    return folder
