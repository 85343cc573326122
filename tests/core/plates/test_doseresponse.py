"""Dose-response science (assaykit.plates.doseresponse) against truth from outside our fit.

- the generator's known IC50 over 20 seeded plates (clean, noisy, outlier well, edge
  effect, partial curves: IC50 above the top dose);
- R's own 4PL, ``nls(y ~ SSfpl(log10(dose), A, B, xmid, scal))``, on the same data
  (``tests/data/doseresponse/ssfpl_reference.csv``, made by ``bench/r/ssfpl_reference.R``
  with the R version named in its header; R is not needed to run this file).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from assaykit.errors import AnalysisError
from assaykit.plates.doseresponse import (
    DOSE_RESPONSE_FLAGS,
    CurveFit,
    blank_subtract,
    edge_effect,
    fit_dose_response,
    logistic4,
    normalise_plate,
    parse_well,
    percent_of_vehicle,
    resistance_factor,
)
from assaykit.plates.synthetic import KINDS, SyntheticPlate, make_plate

DATA = Path(__file__).resolve().parents[2] / "data" / "doseresponse"
N_PLATES = 20
#: worst |relative IC50 error| vs the generator's truth allowed, by plate kind; the
#: measured worst values (printed by test_ic50_against_truth) are well inside
TOLERANCE = {"clean": 0.15, "outlier": 0.15, "edge": 0.15, "partial": 0.20, "noisy": 0.35}
#: our 4PL against R's SSfpl on the same wells: relative difference allowed (measured ~4e-6)
R_TOLERANCE = 1e-4


def _plates() -> list[SyntheticPlate]:
    return [make_plate(seed, KINDS[seed % len(KINDS)]) for seed in range(N_PLATES)]


def _fits(plate: SyntheticPlate) -> dict[str, CurveFit]:
    return {
        line: fit_dose_response(d, y, entity=line)
        for line, (d, y, _w) in normalise_plate(plate.wells).items()
    }


@pytest.fixture(scope="module")
def fitted() -> list[tuple[SyntheticPlate, dict[str, CurveFit]]]:
    return [(p, _fits(p)) for p in _plates()]


# --------------------------------------------------------------------------------------
# against the generator's truth
# --------------------------------------------------------------------------------------
def test_ic50_against_truth(fitted, capsys) -> None:
    worst: dict[str, tuple[float, str]] = {}
    covered = total = 0
    for plate, fits in fitted:
        for line, fit in fits.items():
            true = plate.truth[line].ic50
            err = abs(fit.ic50 / true - 1)
            if err > worst.get(plate.kind, (-1.0, ""))[0]:
                worst[plate.kind] = (err, f"seed {plate.seed} {line} {fit.model}")
            covered += fit.ic50_ci_low <= true <= fit.ic50_ci_high
            total += 1
    with capsys.disabled():
        print(
            "\nworst |IC50 error| vs truth by kind:",
            {k: f"{v[0]:.3f} ({v[1]})" for k, v in sorted(worst.items())},
            f"95% CI covers truth in {covered}/{total}",
        )
    assert set(worst) == set(KINDS)
    for kind, (err, where) in worst.items():
        assert err <= TOLERANCE[kind], f"{kind}: {err:.3f} at {where}"
    # a 95 % CI should cover the truth most of the time (bias from edge/outliers aside)
    assert covered >= 0.8 * total


def test_hill_and_resistance_factor_against_truth(fitted) -> None:
    for plate, fits in fitted:
        if plate.kind in ("clean", "outlier"):
            for line, fit in fits.items():
                assert fit.hill == pytest.approx(plate.truth[line].hill, rel=0.25), (
                    plate.seed,
                    line,
                )
        rf = resistance_factor(fits["resistant"], fits["parental"])
        true = plate.true_resistance_factor
        assert rf.ci_low < rf.factor < rf.ci_high
        if plate.kind != "noisy":
            assert rf.factor == pytest.approx(true, rel=0.2), plate.seed
        assert rf.log10_factor_se == pytest.approx(
            math.hypot(fits["resistant"].log10_ic50_se, fits["parental"].log10_ic50_se)
        )


def test_partial_curves_fall_back_to_bottom_fixed_at_zero(fitted) -> None:
    for plate, fits in fitted:
        if plate.kind != "partial":
            continue
        fit = fits["resistant"]  # true IC50 above the top dose
        assert fit.model == "3PL-bottom0"
        assert fit.bottom == 0.0 and math.isnan(fit.bottom_se)
        assert not fit.bottom_reached
        assert {"ic50_outside_range", "no_plateau"} <= set(fit.flag_names)
        # forcing the 4PL on the same wells is what the fallback avoids: it is further off
        d, y, _ = normalise_plate(plate.wells)["resistant"]
        forced = fit_dose_response(d, y, model="4PL")
        true = plate.truth["resistant"].ic50
        assert forced.model == "4PL"
        assert abs(math.log(forced.ic50 / true)) > abs(math.log(fit.ic50 / true)), plate.seed


def _curve(ic50: float, hill: float, top: float, bottom: float, seed: int = 1):
    """Six 3-fold doses x 3 wells on the 4PL with 2 % noise (truth from the formula)."""
    rng = np.random.default_rng(seed)
    dose = np.repeat(30.0 / 3.0 ** np.arange(6), 3)
    y = logistic4(np.log10(dose), top, bottom, math.log10(ic50), hill)
    return dose, y + rng.normal(0, 2.0, dose.size)


def test_top_not_reached_falls_back_to_top_fixed_at_100() -> None:
    dose, y = _curve(ic50=0.15, hill=1.0, top=100.0, bottom=5.0)  # lowest dose 0.12
    fit = fit_dose_response(dose, y)
    assert fit.model == "3PL-top100" and fit.top == 100.0 and math.isnan(fit.top_se)
    assert not fit.top_reached and fit.bottom_reached
    assert "no_plateau" in fit.flag_names and "ic50_outside_range" not in fit.flag_names
    assert fit.ic50 == pytest.approx(0.15, rel=0.15)


def test_neither_plateau_reached_fixes_both() -> None:
    dose, y = _curve(ic50=1.0, hill=0.35, top=100.0, bottom=0.0)  # shallow: no plateau
    fit = fit_dose_response(dose, y)
    assert fit.model == "2PL" and (fit.top, fit.bottom) == (100.0, 0.0)
    assert fit.ic50 == pytest.approx(1.0, rel=0.25)
    assert fit.dof == dose.size - 2


def test_full_curve_keeps_the_4pl_and_the_model_can_be_forced() -> None:
    dose, y = _curve(ic50=2.0, hill=1.5, top=98.0, bottom=6.0)  # plateaus on 2 doses each
    fit = fit_dose_response(dose, y)
    assert fit.model == "4PL" and fit.flags == ()
    assert fit.ic50 == pytest.approx(2.0, rel=0.05)
    assert fit.ic50_ci_low < 2.0 < fit.ic50_ci_high
    forced = fit_dose_response(dose, y, model="3PL-bottom0")
    assert forced.model == "3PL-bottom0" and forced.bottom == 0.0


@pytest.mark.parametrize("shape", ["flat", "rising"])
def test_no_inhibition_gives_no_curve(shape: str) -> None:
    dose = np.repeat(30.0 / 3.0 ** np.arange(6), 3)
    noise = np.random.default_rng(3).normal(0, 2.0, dose.size)
    y = (100.0 if shape == "flat" else 60 + 10 * np.log10(dose)) + noise
    fit = fit_dose_response(dose, y, entity="SH-SY5Y")
    assert fit.model == "none" and math.isnan(fit.ic50) and math.isnan(fit.hill)
    assert fit.flag_names == ("no_inhibition",)
    assert fit.flags[0].severity == "fail" and fit.flags[0].entity == "SH-SY5Y"
    assert "above 30" in fit.flags[0].message


def test_clean_curves_raise_no_flags(fitted) -> None:
    for plate, fits in fitted:
        if plate.kind != "clean":
            continue
        for line, fit in fits.items():
            assert fit.flags == (), (plate.seed, line, fit.flags)
            assert fit.r_squared > 0.97
        veh = [w for w in plate.wells if w.role == "vehicle"]
        assert not edge_effect([w.well for w in veh], [w.signal for w in veh]).flagged


def test_the_outlier_well_is_found_and_left_out(fitted) -> None:
    for plate, fits in fitted:
        if plate.kind != "outlier":
            continue
        d, y, wells = normalise_plate(plate.wells)["parental"]
        fit = fits["parental"]
        assert [wells[i] for i in fit.outliers] == [plate.outlier_well]
        assert fit.excluded == fit.outliers and fit.n_wells == int((d > 0).sum()) - 1
        assert "replicate_outlier" in fit.flag_names
        assert plate.outlier_well in "".join(wells[i] for i in fit.outliers)
        kept = fit_dose_response(d, y, exclude_outliers=False)
        assert kept.outliers == fit.outliers and kept.excluded == ()
        assert kept.residual_sd > fit.residual_sd


def test_edge_effect_is_flagged_on_evaporated_plates_only(fitted) -> None:
    for plate, _ in fitted:
        veh = [w for w in plate.wells if w.role == "vehicle"]
        e = edge_effect([w.well for w in veh], [w.signal for w in veh], entity="plate")
        assert e.testable and e.n_outer == 4 and e.n_inner == 12
        assert e.flagged is (plate.kind == "edge"), (plate.seed, plate.kind, e)
        if e.flagged:
            assert e.flag is not None and e.flag.flag == "edge_effect"
            assert e.relative_difference == pytest.approx(plate.edge, abs=0.08)
    blanks = [w for w in fitted[0][0].wells if w.role == "blank"]  # all on the outer ring
    e = edge_effect([w.well for w in blanks], [w.signal for w in blanks], role="blank")
    assert not e.testable and not e.flagged and e.n_inner == 0


def test_every_raised_flag_is_declared(fitted) -> None:
    declared = {f.name: f.severity for f in DOSE_RESPONSE_FLAGS}
    for _, fits in fitted:
        for fit in fits.values():
            for f in fit.flags:
                assert f.flag in declared and f.severity == declared[f.flag]


# --------------------------------------------------------------------------------------
# against R's SSfpl on the same wells
# --------------------------------------------------------------------------------------
def _read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def test_4pl_matches_r_ssfpl(capsys) -> None:
    header = (DATA / "ssfpl_reference.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# made by bench/r/ssfpl_reference.R with R version")
    wells: dict[str, list[tuple[float, float]]] = {}
    for row in _read("ssfpl_data.csv"):
        wells.setdefault(row["curve"], []).append(
            (float(row["dose_uM"]), float(row["response_pct"]))
        )
    worst = {"ic50": 0.0, "hill": 0.0, "se": 0.0}
    compared = 0
    for ref in _read("ssfpl_reference.csv"):
        if ref["converged"] != "TRUE":
            continue  # R's Gauss-Newton gave up (the partial curves); nothing to compare
        d, y = np.array(wells[ref["curve"]]).T
        fit = fit_dose_response(d, y, model="4PL", exclude_outliers=False)
        a, b = float(ref["A"]), float(ref["B"])
        assert fit.top == pytest.approx(max(a, b), rel=R_TOLERANCE, abs=1e-3)
        assert fit.bottom == pytest.approx(min(a, b), rel=R_TOLERANCE, abs=1e-3)
        for key, ours, theirs in (
            ("ic50", fit.ic50, float(ref["ic50"])),
            ("hill", fit.hill, float(ref["hill"])),
            ("se", fit.log10_ic50_se, float(ref["xmid_se"])),
        ):
            worst[key] = max(worst[key], abs(ours / theirs - 1))
        # our CI uses t(n - 4); R's confint.default the normal quantile: same SE, wider t
        z = (float(ref["xmid_ci_high"]) - float(ref["xmid"])) / float(ref["xmid_se"])
        assert z == pytest.approx(1.959964, abs=1e-5)
        assert fit.dof == int(ref["df"])
        assert fit.residual_sd == pytest.approx(float(ref["sigma"]), rel=R_TOLERANCE)
        compared += 1
    with capsys.disabled():
        print(
            f"\nvs R SSfpl over {compared} curves, worst relative difference:",
            {k: f"{v:.1e}" for k, v in worst.items()},
        )
    assert compared >= 30
    assert max(worst.values()) <= R_TOLERANCE


def test_the_r_input_is_what_the_generator_makes() -> None:
    """The stored CSV R fitted is the generator's output today (else regenerate both)."""
    rows = _read("ssfpl_data.csv")
    by_curve: dict[str, list[float]] = {}
    for row in rows:
        by_curve.setdefault(row["curve"], []).append(float(row["response_pct"]))
    for plate in _plates()[:3]:
        for line, (d, y, _) in normalise_plate(plate.wells).items():
            assert by_curve[f"{plate.seed}-{line}"] == pytest.approx(list(y[d > 0]), rel=1e-12)


# --------------------------------------------------------------------------------------
# helpers and bad input
# --------------------------------------------------------------------------------------
def test_normalisation_helpers() -> None:
    corr = blank_subtract([1.06, 0.56, 0.06], [0.05, 0.07])
    assert corr == pytest.approx([1.0, 0.5, 0.0])
    assert percent_of_vehicle(corr, [0.9, 1.1]) == pytest.approx([100.0, 50.0, 0.0])
    with pytest.raises(AnalysisError, match="above 0"):
        percent_of_vehicle([0.2], [-0.01, 0.0])
    with pytest.raises(AnalysisError, match="blank wells: no finite value"):
        blank_subtract([1.0], [float("nan")])
    assert parse_well("b03") == (1, 2) and parse_well("H12") == (7, 11)
    with pytest.raises(AnalysisError, match="outside a 8x12 plate"):
        parse_well("I1")


def test_logistic_convention() -> None:
    # top at low dose, bottom at high dose, halfway at the IC50, steeper with hill
    x = np.log10([1e-6, 2.0, 1e6])
    assert logistic4(x, 100, 10, math.log10(2.0), 1.3) == pytest.approx([100, 55, 10], abs=1e-4)


DOSES = np.repeat([0.1, 0.3, 1, 3, 10, 30], 3)


@pytest.mark.parametrize(
    ("dose", "response", "match"),
    [
        (DOSES, np.full(DOSES.size, np.nan), "all NaN"),
        (np.full(8, 5.0), np.linspace(100, 10, 8), "1 distinct non-zero dose"),
        (np.r_[-1.0, DOSES[1:]], np.linspace(100, 0, DOSES.size), "negative dose -1"),
        (DOSES, np.ones(3), "differ in length"),
    ],
)
def test_bad_input_gives_a_clear_analysis_error(dose, response, match) -> None:
    with pytest.raises(AnalysisError, match=match):
        fit_dose_response(dose, response)


def test_bad_model_and_bad_plate() -> None:
    with pytest.raises(AnalysisError, match="model '5PL'"):
        fit_dose_response(DOSES, np.linspace(100, 0, DOSES.size), model="5PL")
    plate = make_plate(0)
    no_blank = [w for w in plate.wells if w.role != "blank"]
    with pytest.raises(AnalysisError, match="no blank"):
        normalise_plate(no_blank)
    no_vehicle = [w for w in plate.wells if w.role != "vehicle"]
    with pytest.raises(AnalysisError, match="no vehicle"):
        normalise_plate(no_vehicle)
