"""ΔΔCt / Pfaffl arithmetic, standard curves and QC against hand-derived values and the
QuantStudio export's own slope → efficiency."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from assaykit.errors import AnalysisError
from assaykit.qpcr.analysis import (
    fit_standard_curve,
    qc_findings,
    relative_expression,
    replicates,
    standard_curve,
)
from assaykit.qpcr.wells import Well, read_quantstudio, read_rdml

DATA = Path(__file__).resolve().parents[2] / "data" / "qpcr"


def test_efficiency_from_slope_matches_quantstudio_export() -> None:
    # the export states Slope -3.196 and Efficiency 105.533 (%); the slope is rounded to
    # 3 decimals, which moves the efficiency by ±0.023 %, so it agrees to 1 decimal: 105.5
    wells = read_quantstudio(DATA / "quantstudio7_results_excerpt.txt")
    slope, intercept = -3.196, 41.924  # the export's Slope and Y-Intercept columns
    q = [1e8, 1e7, 1e6]
    curve = fit_standard_curve(q, [intercept + slope * math.log10(x) for x in q])
    assert curve.slope == pytest.approx(slope) and curve.intercept == pytest.approx(intercept)
    assert f"{curve.efficiency_percent:.1f}" == "105.5"
    assert {w.quantity for w in wells if w.role == "standard"} == {1e8, 1e7}


def test_standard_curve_perfect_doubling() -> None:
    q = [1e1, 1e2, 1e3, 1e4]
    cq = [30 - math.log2(x) for x in q]
    c = fit_standard_curve(q, cq)
    assert c.amplification == pytest.approx(2.0)
    assert c.efficiency_percent == pytest.approx(100.0)
    assert c.r2 == pytest.approx(1.0)


def test_standard_curve_from_rdml_ignores_excluded() -> None:
    wells = read_rdml(DATA / "constructed_run.rdml.xml")
    with pytest.raises(AnalysisError):  # only one usable standard left after <excl>
        standard_curve(wells, "CYP26A1")


def _w(sample: str, target: str, *cqs: float) -> list[Well]:
    return [Well(f"X{i}", sample, target, c) for i, c in enumerate(cqs)]


def test_livak_single_reference_by_hand() -> None:
    wells = (
        _w("ctl", "T", 30.0, 30.2, 29.8)
        + _w("ctl", "R", 20.0, 20.0, 20.0)
        + _w("trt", "T", 27.0, 27.1, 26.9)
        + _w("trt", "R", 20.0, 20.1, 19.9)
    )
    e = relative_expression(replicates(wells), "T", ["R"], "trt", "ctl")
    # ΔCt ctl = 10, trt = 7 → ΔΔCt = −3 → 8-fold
    assert e.method == "livak"
    assert e.ddct == pytest.approx(-3.0)
    assert e.fold == pytest.approx(8.0)
    sd = math.sqrt(0.1**2 + 0.1**2)
    assert e.sd_log2 == pytest.approx(sd)
    assert e.fold_low == pytest.approx(2 ** (3 - sd)) and e.fold_high == pytest.approx(
        2 ** (3 + sd)
    )


def test_several_references_use_mean_cq() -> None:
    wells = (
        _w("ctl", "T", 30.0)
        + _w("ctl", "R1", 20.0)
        + _w("ctl", "R2", 24.0)
        + _w("trt", "T", 28.0)
        + _w("trt", "R1", 21.0)
        + _w("trt", "R2", 24.0)
    )
    e = relative_expression(replicates(wells), "T", ["R1", "R2"], "trt", "ctl")
    # ref mean ctl 22, trt 22.5; ΔCt ctl 8, trt 5.5 → ΔΔCt −2.5
    assert e.ddct == pytest.approx(-2.5)


def test_pfaffl_ratio_by_hand() -> None:
    wells = (
        _w("ctl", "T", 25.0) + _w("ctl", "R", 20.0) + _w("trt", "T", 23.0) + _w("trt", "R", 21.0)
    )
    e = relative_expression(
        replicates(wells), "T", ["R"], "trt", "ctl", efficiencies={"T": 1.9, "R": 2.05}
    )
    assert e.method == "pfaffl"
    assert e.fold == pytest.approx(1.9**2 / 2.05**-1)


def test_calibrator_error_optional() -> None:
    wells = (
        _w("ctl", "T", 30.0, 30.4)
        + _w("ctl", "R", 20.0, 20.0)
        + _w("trt", "T", 27.0, 27.0)
        + _w("trt", "R", 20.0, 20.0)
    )
    reps = replicates(wells)
    assert relative_expression(reps, "T", ["R"], "trt", "ctl").sd_log2 == 0.0
    with_cal = relative_expression(reps, "T", ["R"], "trt", "ctl", include_calibrator=True)
    assert with_cal.sd_log2 == pytest.approx(reps[("ctl", "T")].sd)


def test_missing_gene_is_an_analysis_error() -> None:
    with pytest.raises(AnalysisError):
        relative_expression(replicates(_w("ctl", "T", 30.0)), "T", ["R"], "trt", "ctl")


def test_qc_ntc_and_nrt() -> None:
    wells = [
        Well("A1", "NTC", "T", 33.0, role="ntc"),
        Well("A2", "NTC", "R", 38.0, role="ntc"),
        Well("A3", "NTC", "R", None, role="ntc"),
        Well("B1", "ctl", "T", 25.0),
        Well("B2", "ctl -RT", "T", 27.0, role="nrt"),
        Well("B3", "ctl -RT", "R", 39.0, role="nrt"),
        Well("B4", "ctl", "R", 20.0),
    ]
    f = qc_findings(wells, ntc_cutoff=35, nrt_min_gap=5, nrt_pairs={"ctl -RT": "ctl"})
    assert [(x.code, x.well) for x in f] == [("ntc_amplified", "A1"), ("nrt_close", "B2")]


def test_qc_on_rdml_fixture() -> None:
    f = qc_findings(
        read_rdml(DATA / "constructed_run.rdml.xml"), nrt_pairs={"vehicle -RT": "vehicle"}
    )
    assert f == []  # NTCs undetected; no-RT 36.5 is 8.3 cycles after 28.2
