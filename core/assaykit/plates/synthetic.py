"""Seeded viability plates with known truth, as messy as real ones.

A plate is 8 × 12 wells: columns 1 and 12 are blanks (medium only), columns 2 and 11
vehicle (dose 0), columns 3-10 eight doses (highest in column 3, ``dilution``-fold
steps). Rows A-D hold the parental line, rows E-H the resistant line: four replicates
per dose. The signal is an absorbance::

    OD = blank_od + (vehicle_od - blank_od) * (f(dose) / 100) * (1 + cv * e1) + sd * e2

with ``f`` the 4PL of :mod:`assaykit.plates.doseresponse` (truth: top, bottom, IC50,
Hill), ``e1, e2`` standard normal. Messes, each optional: an **outlier well** (one
sample well's OD multiplied by ``outlier_factor``: a bubble or a pipetting error), an
**edge effect** (every outer-ring well's OD raised by ``edge`` × its value:
evaporation concentrates the formazan), and **partial curves** (the resistant line's
IC50 above the top dose, so the bottom plateau is never reached).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assaykit.plates.doseresponse import PlateWell, logistic4

__all__ = ["KINDS", "LineTruth", "SyntheticPlate", "make_plate"]

#: the kinds of plate :func:`make_plate` makes
KINDS = ("clean", "noisy", "outlier", "edge", "partial")

ROWS = "ABCDEFGH"


@dataclass(frozen=True)
class LineTruth:
    """The true curve of one cell line, in % of vehicle."""

    cell_line: str
    ic50: float  #: µM, relative IC50 (halfway between top and bottom)
    hill: float  #: > 0 for a falling curve
    top: float
    bottom: float
    parental: str = ""


@dataclass(frozen=True)
class SyntheticPlate:
    seed: int
    kind: str
    wells: tuple[PlateWell, ...]
    truth: dict[str, LineTruth]
    doses: tuple[float, ...]  #: the eight non-zero doses, µM, highest first
    outlier_well: str = ""  #: the well made an outlier ("" if none)
    edge: float = 0.0  #: relative rise of every outer-ring well
    cv: float = 0.0  #: multiplicative noise
    sd: float = 0.0  #: additive noise, OD units

    @property
    def true_resistance_factor(self) -> float:
        return self.truth["resistant"].ic50 / self.truth["parental"].ic50


def make_plate(
    seed: int,
    kind: str = "clean",
    *,
    top_dose: float = 100.0,
    dilution: float = 3.0,
    blank_od: float = 0.06,
    vehicle_od: float = 1.1,
    outlier_factor: float | None = None,
    edge: float | None = None,
) -> SyntheticPlate:
    """A plate of ``kind`` (one of :data:`KINDS`) drawn from ``numpy.random.default_rng(seed)``."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {KINDS}")
    rng = np.random.default_rng(seed)
    doses = tuple(top_dose / dilution**i for i in range(8))
    lo, hi = math.log10(doses[-1]), math.log10(doses[0])
    # parental: IC50 well inside the range; resistant: 3-10x higher
    p_ic50 = 10 ** rng.uniform(lo + 1.0, lo + 0.45 * (hi - lo))
    if kind == "partial":
        r_ic50 = top_dose * rng.uniform(1.2, 2.0)  # above the top dose: bottom never reached
    else:
        r_ic50 = min(p_ic50 * rng.uniform(3.0, 10.0), 10 ** (hi - 0.75))
    truth = {
        "parental": LineTruth(
            "parental", p_ic50, rng.uniform(0.8, 2.0), rng.uniform(95, 105), rng.uniform(0, 8)
        ),
        "resistant": LineTruth(
            "resistant",
            r_ic50,
            rng.uniform(0.8, 2.0),
            rng.uniform(95, 105),
            0.0 if kind == "partial" else rng.uniform(0, 8),
            parental="parental",
        ),
    }
    cv = 0.12 if kind == "noisy" else 0.04
    sd = 0.02 if kind == "noisy" else 0.008
    edge_v = (edge if edge is not None else 0.18) if kind == "edge" else (edge or 0.0)
    wells: list[PlateWell] = []
    for r, row in enumerate(ROWS):
        t = truth["parental" if r < 4 else "resistant"]
        for c in range(1, 13):
            name = f"{row}{c}"
            if c in (1, 12):
                role, dose, frac = "blank", 0.0, 0.0
            elif c in (2, 11):
                role, dose, frac = "vehicle", 0.0, 1.0
            else:
                role, dose = "sample", doses[c - 3]
                frac = (
                    float(logistic4(math.log10(dose), t.top, t.bottom, math.log10(t.ic50), t.hill))
                    / 100.0
                )
            od = blank_od + (vehicle_od - blank_od) * frac * (1 + cv * rng.standard_normal())
            od += sd * rng.standard_normal()
            if r in (0, 7) or c in (1, 12):
                od *= 1.0 + edge_v
            wells.append(PlateWell(name, role, "" if role == "blank" else t.cell_line, dose, od))
    outlier_well = ""
    if kind == "outlier":
        # a mid-curve sample well of the parental line, inner rows, read far off
        c = int(rng.integers(4, 9))
        r = int(rng.integers(1, 4))
        i = r * 12 + (c - 1)
        w = wells[i]
        f = outlier_factor if outlier_factor is not None else float(rng.choice([0.35, 1.9]))
        wells[i] = PlateWell(w.well, w.role, w.cell_line, w.dose, w.signal * f)
        outlier_well = w.well
    return SyntheticPlate(seed, kind, tuple(wells), truth, doses, outlier_well, edge_v, cv, sd)
