"""The viability plugin on generated plates: conformance, IC50 against the generator's
truth, resistance factor, and a broken plate file as an error record.

Truth comes from assaykit.plates.synthetic.make_plate's parameters, never from the fit.
"""

from __future__ import annotations

import math
from pathlib import Path

import assaykit
import pytest
from assaykit import PluginHost
from assaykit.plates.doseresponse import DOSE_RESPONSE_FLAGS
from assaykit.plates.synthetic import make_plate
from assaykit.testing import assert_conforms, experiment_from_folder
from helpers.viability_data import write_plate_folder

# clean plates: 4 replicates per dose, 4 % CV. Stated tolerance: the IC50 within 30 % of
# the generator's true IC50 (measured once over seeds 100-119: worst 14.5 % parental,
# 26.2 % resistant, whose IC50 sits near the top dose; the 95 % CI covered the truth in
# 37/40 lines).
IC50_REL_TOL = 0.30


def _values(records: list, metric: str) -> dict[str, float]:
    return {r.entity: r.value_num for r in records if r.metric == metric}


def test_conforms_on_a_generated_plate(host: PluginHost, tmp_path: Path) -> None:
    folder = write_plate_folder(tmp_path / "good", make_plate(1, "clean"))
    good = experiment_from_folder(folder, host=host, figures=True)
    bad_folder = write_plate_folder(tmp_path / "bad", make_plate(2, "clean"))
    # a plate grid whose wells hold no reading (a broken export): every well is unreadable
    broken = ["," + ",".join(str(c) for c in range(1, 13))]
    broken += [r + "," + ",".join(["OVRFLW"] * 12) for r in "ABCDEFGH"]
    (bad_folder / "plate1.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    bad = experiment_from_folder(bad_folder, host=host)
    report = assert_conforms("viability", good, bad=[bad], host=host)
    metrics = {r.metric for r in report.records}
    assert {
        "ic50_uM",
        "ic50_ci_low_uM",
        "ic50_ci_high_uM",
        "hill_slope",
        "r_squared",
        "model",
        "top",
        "bottom",
        "pct_viability",
        "resistance_factor",
    } <= metrics


def test_declared_flags_restate_the_science_layer(host: PluginHost) -> None:
    assay = host.get_assay("viability")
    declared = {f.name: f.severity for f in assay.flags}
    for f in DOSE_RESPONSE_FLAGS:
        assert declared.get(f.name) == f.severity, f.name


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_ic50_and_resistance_factor_against_the_generator(
    host: PluginHost, tmp_path: Path, seed: int
) -> None:
    plate = make_plate(seed, "clean")
    folder = write_plate_folder(tmp_path, plate)
    res = assaykit.analyze("viability", experiment_from_folder(folder, host=host), host=host)
    ic50 = _values(res.records, "ic50_uM")
    lo, hi = _values(res.records, "ic50_ci_low_uM"), _values(res.records, "ic50_ci_high_uM")
    for line, truth in plate.truth.items():
        assert abs(ic50[line] / truth.ic50 - 1) < IC50_REL_TOL, (line, ic50[line], truth.ic50)
        assert lo[line] < ic50[line] < hi[line]
    rf = _values(res.records, "resistance_factor")["resistant"]
    assert abs(math.log(rf / plate.true_resistance_factor)) < math.log(1 + 2 * IC50_REL_TOL)
    assert "parental" not in _values(res.records, "resistance_factor")
    # per-line records keep their provenance: the plate file they were computed from
    rec = next(r for r in res.records if r.metric == "ic50_uM" and r.entity == "parental")
    assert rec.input_path.endswith("plate1.csv") and rec.input_sha256


def test_pct_viability_of_a_well_is_blank_subtracted_percent_of_vehicle(
    host: PluginHost, tmp_path: Path
) -> None:
    plate = make_plate(6, "clean")
    folder = write_plate_folder(tmp_path, plate)
    res = assaykit.analyze("viability", experiment_from_folder(folder, host=host), host=host)
    sig = {w.well: round(w.signal, 5) for w in plate.wells}  # as written to the CSV
    blank = sum(sig[w.well] for w in plate.wells if w.role == "blank") / 16
    veh = [
        sig[w.well] - blank
        for w in plate.wells
        if w.role == "vehicle" and w.cell_line == "parental"
    ]
    expected = 100 * (sig["B5"] - blank) / (sum(veh) / len(veh))
    got = next(r.value_num for r in res.records if r.metric == "pct_viability" and r.entity == "B5")
    assert got == pytest.approx(expected, rel=1e-9)


def test_a_plate_file_with_a_bad_well_gives_error_records_not_a_crash(
    host: PluginHost, tmp_path: Path
) -> None:
    folder = write_plate_folder(tmp_path, make_plate(7, "clean"))
    text = (folder / "plate1.csv").read_text(encoding="utf-8").splitlines()
    text[2] = "B," + ",".join(["n/a", *text[2].split(",")[2:]])  # well B1 unreadable
    (folder / "plate1.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    res = assaykit.analyze("viability", experiment_from_folder(folder, host=host), host=host)
    errors = [r for r in res.records if r.metric == "error"]
    assert errors and all("plate1.csv" in (r.value_str or "") + r.entity for r in errors)
    assert any("B1" in (r.value_str or "") for r in errors)
    assert "parental" in _values(res.records, "ic50_uM")  # the rest of the plate is analysed


def test_messy_plates_raise_the_declared_flags_and_one_captioned_figure(
    host: PluginHost, tmp_path: Path
) -> None:
    out = make_plate(8, "outlier")
    res = assaykit.analyze(
        "viability",
        experiment_from_folder(write_plate_folder(tmp_path / "o", out), host=host, figures=True),
        host=host,
    )
    flags = {f.flag for f in res.qc_flags}
    assert "replicate_outlier" in flags, flags
    assert len(res.figures) == 1 and "IC50" in res.figures[0].caption
    assert res.figures[0].png.startswith(b"\x89PNG")
    edge = make_plate(9, "edge")
    res = assaykit.analyze(
        "viability",
        experiment_from_folder(write_plate_folder(tmp_path / "e", edge), host=host),
        host=host,
    )
    assert "edge_effect" in {f.flag for f in res.qc_flags}
    partial = make_plate(10, "partial")
    res = assaykit.analyze(
        "viability",
        experiment_from_folder(write_plate_folder(tmp_path / "p", partial), host=host),
        host=host,
    )
    models = {r.entity: r.value_str for r in res.records if r.metric == "model"}
    assert models["resistant"] != "4PL"  # bottom never reached: the 3PL fallback, recorded
    assert any(f.flag == "no_plateau" and f.entity == "resistant" for f in res.qc_flags)


def test_a_batch_run_writes_per_line_results_with_file_and_conditions(
    host: PluginHost, tmp_path: Path
) -> None:
    import csv

    folder = write_plate_folder(tmp_path / "lab", make_plate(12, "clean"))
    res = assaykit.run(folder, tmp_path / "out", assay="viability", workers=0, host=host)
    assert res.exit_code == 0, [s.error for s in res.experiments]
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ic50 = [r for r in rows if r["metric"] == "ic50_uM"]
    assert sorted(r["entity"] for r in ic50) == ["parental", "resistant"]
    assert all(r["input_path"].endswith("plate1.csv") for r in ic50)
    assert sum(r["metric"] == "pct_viability" for r in rows) == 80  # 64 sample + 16 vehicle
    rf = [r for r in rows if r["metric"] == "resistance_factor"]
    assert [r["entity"] for r in rf] == ["resistant"]


def test_a_parental_line_not_on_the_plate_is_flagged_not_paired(
    host: PluginHost, tmp_path: Path
) -> None:
    folder = write_plate_folder(tmp_path, make_plate(13, "clean"))
    head, *rows = (folder / "samples.csv").read_text(encoding="utf-8").splitlines()
    rows = [r[: -len(",parental")] + ",ghost" if r.endswith(",parental") else r for r in rows]
    (folder / "samples.csv").write_text("\n".join([head, *rows]) + "\n", "utf-8")
    res = assaykit.analyze("viability", experiment_from_folder(folder, host=host), host=host)
    assert not _values(res.records, "resistance_factor")
    assert any(f.flag == "parental_missing" and f.entity == "resistant" for f in res.qc_flags)


@pytest.mark.parametrize("kind", ["clean", "outlier", "partial"])
def test_the_plugin_gives_the_fit_of_the_wells_it_was_given(
    host: PluginHost, tmp_path: Path, kind: str
) -> None:
    """Through the file, the sheet and the plugin, each line's IC50 is the library's fit
    of the generator's own in-memory wells: nothing between the plate and the fit (grid
    CSV round trip, well mapping, blank and vehicle normalisation) moves it."""
    from assaykit.plates.doseresponse import fit_dose_response, normalise_plate

    plate = make_plate(7, kind)
    direct = {
        line: fit_dose_response(d, y, entity=line).ic50
        for line, (d, y, _w) in normalise_plate(plate.wells).items()
    }
    folder = write_plate_folder(tmp_path, plate)
    res = assaykit.analyze("viability", experiment_from_folder(folder, host=host), host=host)
    ic50 = _values(res.records, "ic50_uM")
    assert set(ic50) == set(direct)
    for line, value in direct.items():
        assert ic50[line] == pytest.approx(value, rel=1e-3), line
