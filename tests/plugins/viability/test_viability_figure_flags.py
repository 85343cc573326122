"""Viability 0.2: the figure's confidence band, outlier flags naming the well, a Gen5
plate through the plugin, and edge-effect plates fitted as the library fits them."""

from __future__ import annotations

from pathlib import Path

import assaykit
import numpy as np
import pytest
from assaykit import PluginHost
from assaykit.plates.doseresponse import fit_dose_response, normalise_plate
from assaykit.plates.synthetic import make_plate
from assaykit.testing import experiment_from_folder
from helpers.viability_data import write_gen5, write_plate_folder


@pytest.mark.parametrize("kind", ["clean", "partial"])
def test_band_covariance_reproduces_the_fit_standard_errors(kind: str) -> None:
    from assaykit_viability.analysis import confidence_band, fit_covariance

    plate = make_plate(10, kind)
    for line, (d, y, _w) in normalise_plate(plate.wells).items():
        fit = fit_dose_response(d, y, entity=line)
        names, cov = fit_covariance(fit, d, y)
        se = dict(zip(names, np.sqrt(np.diag(cov)), strict=True))
        assert se["log10_ic50"] == pytest.approx(fit.log10_ic50_se, rel=1e-4)
        assert se["hill"] == pytest.approx(fit.hill_se, rel=1e-4)
        xs = np.logspace(-2, 2.5, 30)
        lo, hi = confidence_band(fit, d, y, xs)
        mid = fit.predict(xs)
        assert np.all(lo < mid) and np.all(mid < hi)


def test_outlier_flag_names_the_well_and_the_caption_names_the_band(
    host: PluginHost, tmp_path: Path
) -> None:
    plate = make_plate(8, "outlier")
    exp = experiment_from_folder(write_plate_folder(tmp_path, plate), host=host, figures=True)
    res = assaykit.analyze("viability", exp, host=host)
    msgs = [f.message for f in res.qc_flags if f.flag == "replicate_outlier"]
    assert any(f"well {plate.outlier_well} " in m for m in msgs), msgs
    cap = res.figures[0].caption
    assert "95 % confidence band" in cap and "confidence interval" in cap


@pytest.mark.parametrize("seed", range(100, 105))
def test_edge_plates_through_the_plugin_equal_the_library_fit(
    host: PluginHost, tmp_path: Path, seed: int
) -> None:
    plate = make_plate(seed, "edge")
    direct = {
        line: fit_dose_response(d, y, entity=line).ic50
        for line, (d, y, _w) in normalise_plate(plate.wells).items()
    }
    res = assaykit.analyze(
        "viability",
        experiment_from_folder(write_plate_folder(tmp_path, plate), host=host),
        host=host,
    )
    ic50 = {r.entity: r.value_num for r in res.records if r.metric == "ic50_uM"}
    for line, value in direct.items():
        assert ic50[line] == pytest.approx(value, rel=1e-4), line


def test_a_gen5_export_gives_the_ic50_of_the_grid(host: PluginHost, tmp_path: Path) -> None:
    plate = make_plate(3, "clean")
    folder = write_plate_folder(tmp_path, plate, name="plate1.txt", digits=3)
    write_gen5(folder / "plate1.txt", plate)
    res = assaykit.analyze("viability", experiment_from_folder(folder, host=host), host=host)
    ic50 = {r.entity: r.value_num for r in res.records if r.metric == "ic50_uM"}
    for line, truth in plate.truth.items():
        assert abs(ic50[line] / truth.ic50 - 1) < 0.30, (line, ic50[line], truth.ic50)
