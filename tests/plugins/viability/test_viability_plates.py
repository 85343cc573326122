"""Several plates in one experiment: a resistant line and its parental line on different
plates, and one line on replicate plates, pooled into one fit.

Truth: the generator's IC50s; and the identity that splitting one plate's wells over two
copies of its file changes no well's % of vehicle, so every number must equal the
one-file analysis exactly (and duplicating a plate leaves a least-squares fit unchanged).
"""

from __future__ import annotations

import csv
from pathlib import Path

import assaykit
from assaykit import PluginHost
from assaykit.plates.synthetic import make_plate
from assaykit.testing import experiment_from_folder
from helpers.viability_data import SHEET_HEADER, sheet_rows, write_grid


def _run(host: PluginHost, folder: Path, rows: list[list[str]]) -> assaykit.AnalysisResult:
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(SHEET_HEADER)
        w.writerows(rows)
    return assaykit.analyze("viability", experiment_from_folder(folder, host=host), host=host)


def _by(res: assaykit.AnalysisResult, metric: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in res.records:
        if r.metric == metric:
            out.setdefault(r.entity, []).append(r.value_num)
    return out


def test_parental_on_another_plate_gives_the_same_resistance_factor(
    host: PluginHost, tmp_path: Path
) -> None:
    plate = make_plate(5, "clean")
    one = tmp_path / "one"
    one.mkdir()
    write_grid(one / "plate.csv", plate)
    single = _run(host, one, sheet_rows(plate, "plate.csv"))
    two = tmp_path / "two"
    two.mkdir()
    write_grid(two / "p1.csv", plate)
    write_grid(two / "p2.csv", plate)
    rows = []
    for row in sheet_rows(plate, "p1.csv"):
        if row[4] in ("parental", "medium"):
            rows.append(row)
    for row in sheet_rows(plate, "p2.csv"):
        if row[4] in ("resistant", "medium"):
            rows.append(row)
    split = _run(host, two, rows)
    rf_one, rf_two = _by(single, "resistance_factor"), _by(split, "resistance_factor")
    assert list(rf_two) == ["resistant"] and len(rf_two["resistant"]) == 1
    assert abs(rf_two["resistant"][0] / rf_one["resistant"][0] - 1) < 1e-9
    true_rf = plate.true_resistance_factor
    assert abs(rf_two["resistant"][0] / true_rf - 1) < 0.45, (rf_two, true_rf)
    assert "parental_missing" not in {f.flag for f in split.qc_flags}
    # each line's IC50 keeps its own plate; the factor, from two plates, claims neither
    paths = {r.entity: r.input_path for r in split.records if r.metric == "ic50_uM"}
    assert paths == {"parental": "p1.csv", "resistant": "p2.csv"}
    rec = next(r for r in split.records if r.metric == "resistance_factor")
    assert rec.input_path == ""


def test_replicate_plates_are_pooled_into_one_fit_per_line(
    host: PluginHost, tmp_path: Path
) -> None:
    plate = make_plate(6, "clean")
    one = tmp_path / "one"
    one.mkdir()
    write_grid(one / "plate.csv", plate)
    single = _run(host, one, sheet_rows(plate, "plate.csv"))
    two = tmp_path / "two"
    two.mkdir()
    write_grid(two / "rep1.csv", plate)
    write_grid(two / "rep2.csv", plate)
    pooled = _run(host, two, sheet_rows(plate, "rep1.csv") + sheet_rows(plate, "rep2.csv"))
    ic_one, ic_two = _by(single, "ic50_uM"), _by(pooled, "ic50_uM")
    assert sorted(ic_two) == ["parental", "resistant"]
    for line, values in ic_two.items():
        assert len(values) == 1, (line, values)  # one record per line, not one per plate
        assert abs(values[0] / ic_one[line][0] - 1) < 1e-6, (line, values, ic_one[line])
        assert abs(values[0] / plate.truth[line].ic50 - 1) < 0.30
    n_one, n_two = _by(single, "n_wells"), _by(pooled, "n_wells")
    assert n_two["parental"] == [2 * n_one["parental"][0]]
    # every well keeps its own % of vehicle, once per plate file
    assert len([r for r in pooled.records if r.metric == "pct_viability"]) == 2 * len(
        [r for r in single.records if r.metric == "pct_viability"]
    )
