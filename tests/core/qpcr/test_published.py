"""The comparative-Ct (2^-ΔΔCt) worked example of Applied Biosystems User Bulletin #2,
reproduced to the digits it is published with.

Source of every expected number below: vignette ``qpcr_analysis.Rmd`` of the R package
pcr (MahShaaban/pcr), Table 1 "Relative quantification using comparative (ΔΔCT) method
(separate tubes)", which transcribes the bulletin (see tests/data/qpcr/README.md).
Convention of the bulletin (and our default): SD of ΔCt = sqrt(s_target² + s_ref²);
the calibrator's ΔCt is a constant, so SD of ΔΔCt = SD of ΔCt; the fold range is
2^-(ΔΔCt ± SD).
"""

from __future__ import annotations

import csv
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from assaykit.qpcr.analysis import relative_expression, replicates
from assaykit.qpcr.wells import Well

DATA = (
    Path(__file__).resolve().parents[2] / "data" / "qpcr" / "abi_ub2_cmyc_gapdh_separate_tubes.csv"
)

#: Table 1, published: tissue -> (c-myc mean, sd, GAPDH mean, sd, ΔCt, sd, ΔΔCt, sd, fold, lo, hi)
PUBLISHED = {
    "brain": (
        "30.49",
        "0.15",
        "23.63",
        "0.09",
        "6.86",
        "0.17",
        "0.00",
        "0.17",
        "1.0",
        "0.9",
        "1.1",
    ),
    "kidney": (
        "27.03",
        "0.06",
        "22.66",
        "0.08",
        "4.37",
        "0.10",
        "-2.50",
        "0.10",
        "5.6",
        "5.3",
        "6.0",
    ),
}


def _r(x: float, digits: int) -> str:
    """Round half up, as a table printed by hand does (23.625 -> 23.63; the binary float
    23.624999… would print 23.62)."""
    q = Decimal(1).scaleb(-digits)
    return str(Decimal(repr(round(x, 9))).quantize(q, rounding=ROUND_HALF_UP) + 0)


def _wells() -> list[Well]:
    out = []
    with DATA.open() as f:
        for i, row in enumerate(csv.DictReader(f)):
            # separate tubes: target and reference are different wells
            out.append(Well(f"T{i}", row["tissue"], "c-myc", float(row["c_myc"])))
            out.append(Well(f"R{i}", row["tissue"], "GAPDH", float(row["GAPDH"])))
    return out


@pytest.mark.parametrize("tissue", ["brain", "kidney"])
def test_bulletin_table_1(tissue: str) -> None:
    reps = replicates(_wells())  # 6 replicates each; none is > 0.5 cycles from its median
    t, r = reps[(tissue, "c-myc")], reps[(tissue, "GAPDH")]
    assert not t.outliers and not r.outliers
    e = relative_expression(reps, "c-myc", ["GAPDH"], tissue, "brain")
    d_ct = t.mean - r.mean  # type: ignore[operator]
    ours = (
        _r(t.mean, 2),
        _r(t.sd, 2),
        _r(r.mean, 2),
        _r(r.sd, 2),
        _r(d_ct, 2),
        _r(math.hypot(t.sd, r.sd), 2),  # type: ignore[arg-type]
        _r(e.ddct + 0.0, 2),
        _r(e.sd_log2, 2),
        _r(e.fold, 1),
        _r(e.fold_low, 1),
        _r(e.fold_high, 1),
    )
    assert ours == PUBLISHED[tissue]
