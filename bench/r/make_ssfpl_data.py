"""Write the 20 seeded synthetic plates' curves (% of vehicle per well) for R's SSfpl.

    PYTHONPATH=core python bench/r/make_ssfpl_data.py  # writes ssfpl_data.csv
    Rscript bench/r/ssfpl_reference.R                 # writes ssfpl_reference.csv

(both in tests/data/doseresponse/, run from the repository root).

Plate ``seed`` is ``make_plate(seed, KINDS[seed % 5])``; each plate has a parental and a
resistant line, so 40 curves. Only sample wells (dose > 0) are written: R fits those.
The truth columns are the generator's, for the record (R never sees them).
"""

from __future__ import annotations

import csv
from pathlib import Path

from assaykit.plates.doseresponse import normalise_plate
from assaykit.plates.synthetic import KINDS, make_plate

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "doseresponse" / "ssfpl_data.csv"
N_PLATES = 20


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "curve",
                "seed",
                "kind",
                "cell_line",
                "well",
                "dose_uM",
                "response_pct",
                "true_ic50",
                "true_hill",
                "true_top",
                "true_bottom",
            ]
        )
        for seed in range(N_PLATES):
            plate = make_plate(seed, KINDS[seed % len(KINDS)])
            for line, (dose, pct, wells) in normalise_plate(plate.wells).items():
                t = plate.truth[line]
                for d, y, name in zip(dose, pct, wells, strict=True):
                    if d > 0:
                        w.writerow(
                            [
                                f"{seed}-{line}",
                                seed,
                                plate.kind,
                                line,
                                name,
                                repr(float(d)),
                                repr(float(y)),
                                repr(t.ic50),
                                repr(t.hill),
                                repr(t.top),
                                repr(t.bottom),
                            ]
                        )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
