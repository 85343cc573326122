"""Band of interest (strongest, row or molecular-weight window), weak bands, lane counts,
source flags, the records naming the background, figures, and runs without a sheet."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from assaykit import AnalysisError, PluginHost, analyze
from helpers.westerndata import errors, flags, kda_row, make_case, run_case, status, values

PAGERULER = (180.0, 130.0, 100.0, 70.0, 55.0, 40.0, 35.0, 25.0, 15.0, 10.0)


def _two_band_case(tmp_path: Path, truth_row: float, **kwargs: object):  # type: ignore[no-untyped-def]
    """Each target lane: a strong band at 0.3 and a weaker one at 0.62 of the strip."""
    rng = np.random.default_rng(31)
    bands = [
        [(0.3, float(rng.uniform(3e6, 4e6))), (0.62, float(rng.uniform(0.5e6, 1.5e6)))]
        for _ in range(6)
    ]
    return make_case(tmp_path, 31, target_bands=bands, truth_row=truth_row, **kwargs)


def _worst(case, result) -> float:  # type: ignore[no-untyped-def]
    return max(abs(v) for e in errors(case, result).values() for v in e.values())


def test_strongest_band_by_default(host: PluginHost, tmp_path: Path) -> None:
    case = _two_band_case(tmp_path, truth_row=0.3)
    assert _worst(case, run_case(host, case)) < 0.05


@pytest.mark.parametrize("selection", ["consensus", "strongest"])
def test_row_window_picks_the_lower_band(host: PluginHost, tmp_path: Path, selection: str) -> None:
    case = _two_band_case(tmp_path, truth_row=0.62)
    params = {"row_window": {"RARB": [0.5, 0.8]}, "band_selection": selection}
    result = run_case(host, case, params)
    assert _worst(case, result) < 0.05
    # the loading control has no window: still its strongest band
    assert all("weak_band" not in f for f in flags(result, "loading_volume").values())


def test_molecular_weight_window_with_a_ladder_lane(host: PluginHost, tmp_path: Path) -> None:
    rng = np.random.default_rng(32)
    bands = [
        [
            (kda_row(100.0), float(rng.uniform(3e6, 4e6))),
            (kda_row(50.0), float(rng.uniform(0.5e6, 1.5e6))),
        ]
        for _ in range(5)
    ]
    case = make_case(
        tmp_path, 32, n_lanes=5, target_bands=bands, truth_row=kda_row(50.0), ladder_kda=PAGERULER
    )
    params = {"mw_window_kda": {"RARB": [42, 60]}, "ladder_kda": list(PAGERULER)}
    result = run_case(host, case, params)
    assert _worst(case, result) < 0.05
    assert not any("mw_window_unavailable" in f for f in flags(result, "band_volume").values())
    # no ladder fitted -> the window cannot be honoured: fail, never a silent other band
    no_ladder = make_case(tmp_path / "noladder", 32, n_lanes=5, target_bands=bands)
    res2 = run_case(host, no_ladder, params)
    assert set(status(res2, "band_volume").values()) == {"fail"}
    assert all("mw_window_unavailable" in f for f in flags(res2, "band_volume").values())


def test_absent_band_is_zero_and_below_detection(host: PluginHost, tmp_path: Path) -> None:
    vols = [1.5e6, 2.0e6, 0.0, 1.0e6, 2.5e6, 1.2e6]  # S03: RARB silenced
    case = make_case(tmp_path, 33, target_volumes=vols)
    result = run_case(host, case)
    assert values(result, "band_volume")["S03"] == 0.0
    assert "below_detection" in flags(result, "band_volume")["S03"]
    assert values(result, "fold_change")["S03"] == 0.0
    for s in case.truth:
        if s != "S03":
            assert not {"weak_band", "below_detection"} & set(flags(result, "band_volume")[s])


def test_blank_lane_and_lane_count(host: PluginHost, tmp_path: Path) -> None:
    """An empty lane is still a lane: with n_lanes the others keep their numbers."""
    case = make_case(tmp_path, 34, n_lanes=7, blank_lanes=(4,), n_lanes_column=True)
    result = run_case(host, case)
    assert _worst(case, result) < 0.05
    assert all("lane_count_mismatch" in f for f in flags(result, "band_volume").values())
    assert all(s == "warn" for s in status(result, "band_volume").values())
    counts = {r.entity: r.value for r in result.records if r.metric == "lanes_detected"}
    assert set(counts.values()) == {6.0}
    assert not [r for r in result.records if r.sample_id.startswith("blank")]


def test_jpeg_and_8bit_sources_are_flagged(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 35, layout="separate", bit_depth=8)
    for name in ("target", "loading"):
        img = cv2.imread(str(tmp_path / f"{name}.tif"), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(tmp_path / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    for r in case.rows:
        r["file"] = r["file"].replace(".tif", ".jpg")
    result = run_case(host, case)
    for metric in ("band_volume", "loading_volume", "normalized_ratio"):
        for fl in flags(result, metric).values():
            assert "lossy_source" in fl and "low_bit_depth" in fl
    assert _worst(case, result) < 0.05  # quality 95 JPEG still measures well here


def test_records_name_the_background_method_and_parameters(
    host: PluginHost, tmp_path: Path
) -> None:
    case = make_case(tmp_path, 36, rotation_deg=2.0)
    result = run_case(host, case, {"rolling_ball_radius": 40.0, "edge_rows": 4})
    bg = [r for r in result.records if r.metric == "background"]
    assert len(bg) == 1 and bg[0].entity == "blot.tif"
    text = bg[0].value_str or ""
    assert "rolling_ball(radius=40.0" in text and "band_edges_quadratic" in text
    assert "edge_rows=4" in text
    rot = [r.value for r in result.records if r.metric == "rotation_deg"]
    assert rot == [pytest.approx(-2.0, abs=0.2)]
    polarity = [r.value_str for r in result.records if r.metric == "polarity"]
    assert polarity and polarity[0].startswith("light_bands_on_dark")


def test_polarity_given_by_parameter(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 37, invert=True)
    result = run_case(host, case, {"polarity": "dark_bands_on_light"})
    assert _worst(case, result) < 0.05
    # the wrong polarity never gives numbers within 5 %: wrong ones, or (when no loading
    # band is above detection) an error naming the loading control
    try:
        wrong = run_case(host, case, {"polarity": "light_bands_on_dark"})
    except AnalysisError as exc:
        assert "loading control ACTB: no band above detection" in str(exc)
        return
    assert _worst(case, wrong) > 0.05 or any(
        math.isnan(v) for e in errors(case, wrong).values() for v in e.values()
    )


def test_figures_show_every_number(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 38)
    result = run_case(host, case, figures=True)
    names = [f.name for f in result.figures]
    assert names == ["blot:blot.tif", "profiles:blot.tif"]
    for f in result.figures:
        assert f.png.startswith(b"\x89PNG") and len(f.png) > 10_000
        assert "rolling_ball" in f.caption and "band_edges_quadratic" in f.caption
    assert run_case(host, case, figures=False).figures == []


def test_no_sample_sheet_reports_every_lane(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 39, layout="separate")
    result = analyze("western_blot", [tmp_path / "target.tif"], figures=False, host=host)
    vols = {r.sample_id: r.value for r in result.records if r.metric == "band_volume"}
    assert sorted(vols) == [f"target_lane{i}" for i in range(1, 7)]
    for t in case.truth.values():
        assert vols[f"target_lane{t.lane}"] == pytest.approx(t.target_volume, rel=0.05)
    assert all("no_loading_control" in r.qc_flags for r in result.records)
    assert not [r for r in result.records if r.metric in ("normalized_ratio", "fold_change")]


def test_lane_count_mismatch_is_scoped_to_its_strip(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 40, n_lanes_column=True)
    for r in case.rows:
        if r["strip"] == "2":
            r["n_lanes"] = "7"  # wrong for the bottom strip only
    result = run_case(host, case)
    assert not any("lane_count_mismatch" in f for f in flags(result, "band_volume").values())
    assert all("lane_count_mismatch" in f for f in flags(result, "loading_volume").values())
    strips = {r.entity: r.qc_flags for r in result.records if r.metric == "lanes_detected"}
    assert strips == {"blot.tif:strip_1": (), "blot.tif:strip_2": ("lane_count_mismatch",)}
