"""Absent bands are 0 with ``below_detection``, never negative; no ratio at all is an error.

Truth comes from the generator's labels (``make_case``: the volumes it rendered)
and from the example folder's ``expected.csv`` (written by its generator),
never from the plugin.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from assaykit import AnalysisError, AssayResult, PluginHost
from assaykit_western.plugin import _NON_NEGATIVE
from helpers.westerndata import flags, make_case, run_case, status, values

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "fixtures" / "example-folder"
NON_NEGATIVE = (
    "band_volume", "loading_volume", "detection_limit", "normalized_ratio", "fold_change",
)  # fmt: skip

#: Lanes 3 and 7 hold (almost) nothing, lane 5 a faint band (AU, as rendered).
FAINT_VOLUMES = [1.5e6, 2.0e6, 0.0, 1.0e6, 2.0e4, 1.2e6, 1.0e3]
#: Seeded blots on which today's lane finding places all 7 lanes (the others are issue 10's
#: geometry, not this file's subject).
FAINT_CASES: dict[str, tuple[int, dict[str, Any]]] = {
    "two_strip": (0, {}),
    "separate": (0, {"layout": "separate"}),
    "film_uneven": (0, {"invert": True, "illumination": 1500.0}),
    "two_strip_seed2": (2, {}),
    "separate_seed2": (2, {"layout": "separate"}),
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assaykit.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", list(FAINT_CASES))
def test_empty_lanes_are_zero_below_detection_and_faint_bands_are_kept(
    host: PluginHost, tmp_path: Path, name: str
) -> None:
    seed, blot = FAINT_CASES[name]
    case = make_case(
        tmp_path, seed, n_lanes=7, target_volumes=FAINT_VOLUMES, n_lanes_column=True, **blot
    )
    assert case.truth["S03"].target_volume == 0.0  # the generator drew nothing there
    result = run_case(host, case)
    vol, fl = values(result, "band_volume"), flags(result, "band_volume")
    limit = values(result, "detection_limit")
    for sid in ("S03", "S07"):  # empty, and 1e3 AU: far below the noise of a band's box
        assert vol[sid] == 0.0, (sid, vol[sid])
        assert "below_detection" in fl[sid] and "weak_band" not in fl[sid]
        assert status(result, "band_volume")[sid] == "warn"  # a target below detection: warn
        assert values(result, "normalized_ratio")[sid] == 0.0
        assert values(result, "fold_change")[sid] == 0.0
        # the limit lies between what was not seen and what was (truth 1e3 and 2e4 AU)
        assert case.truth["S07"].target_volume < limit[sid] < case.truth["S05"].target_volume
    # a faint band above the limit is measured, not zeroed
    assert "below_detection" not in fl["S05"] and "S05" not in limit
    assert vol["S05"] == pytest.approx(case.truth["S05"].target_volume, rel=0.15)
    for sid in ("S01", "S02", "S04", "S06"):
        assert vol[sid] == pytest.approx(case.truth[sid].target_volume, rel=0.05)
        assert "below_detection" not in fl[sid]
    for r in result.records:
        if r.metric in NON_NEGATIVE and r.value_num is not None:
            assert r.value_num >= 0.0, (r.sample_id, r.metric, r.value_num)


def test_one_loading_band_below_detection_fails_that_sample_only(
    host: PluginHost, tmp_path: Path
) -> None:
    loading = [2.0e6, 1.8e6, 1.0, 2.2e6, 1.9e6, 2.1e6]  # S03: no loading band
    case = make_case(tmp_path, 0, loading_volumes=loading, n_lanes_column=True)
    result = run_case(host, case)
    lvol = values(result, "loading_volume")
    assert lvol["S03"] == 0.0
    assert "below_detection" in flags(result, "loading_volume")["S03"]
    assert status(result, "loading_volume")["S03"] == "fail"
    assert values(result, "normalized_ratio")["S03"] is None
    assert status(result, "normalized_ratio")["S03"] == "fail"
    assert values(result, "fold_change")["S03"] is None
    for sid in ("S01", "S02", "S04", "S05", "S06"):
        assert lvol[sid] == pytest.approx(case.truth[sid].loading_volume, rel=0.05)
        assert values(result, "normalized_ratio")[sid] == pytest.approx(
            case.truth[sid].ratio, rel=0.05
        )


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("two_strip", r"loading control ACTB: no band above detection in any lane of strip 2 of "
         r"blot\.tif"),
        # a blank image of its own may hold no lanes at all: an error naming it, too
        ("separate", r"loading control ACTB: no band above detection in any lane of loading\.tif"
         r"|loading\.tif, strip 1 \(rows 0-400\): no lanes found"),
    ],
)  # fmt: skip
def test_blank_loading_control_is_an_error(
    host: PluginHost, tmp_path: Path, layout: str, message: str
) -> None:
    case = make_case(tmp_path, 1, layout=layout, loading_volumes=[1.0] * 6)
    with pytest.raises(AnalysisError, match=message):
        run_case(host, case)


def test_no_loading_row_at_all_names_the_targets_found(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 2)
    with pytest.raises(AnalysisError) as exc:
        run_case(host, case, {"loading_target": "GAPDH"})
    text = str(exc.value)
    assert "blot.tif: loading control GAPDH: no sample-sheet row has target 'GAPDH'" in text
    assert "(targets found: ACTB, RARB)" in text


def test_blank_loading_strip_through_the_cli_is_exit_1(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_case(folder, 1, loading_volumes=[1.0] * 6)
    out = tmp_path / "out"
    proc = _cli("run", str(folder), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    rows = _csv(out / "results.csv")
    errors = [r for r in rows if r["metric"] == "error"]
    assert errors and all(r["input_path"] == "blot.tif" for r in errors)
    assert all(
        "loading control ACTB: no band above detection in any lane of strip 2 of blot.tif"
        in r["value_str"]
        for r in errors
    )
    assert not [r for r in rows if r["metric"] == "normalized_ratio"]


def test_no_sheet_stays_exit_0(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_case(folder, 3, layout="separate")
    (folder / "samples.csv").unlink()
    (folder / "loading.tif").unlink()
    out = tmp_path / "out"
    proc = _cli("run", str(folder), "--out", str(out), "--assay", "western_blot")
    assert proc.returncode == 0, proc.stderr
    rows = _csv(out / "results.csv")
    assert not [r for r in rows if r["metric"] == "error"]
    assert len([r for r in rows if r["metric"] == "band_volume"]) == 6


def test_unknown_parameter_is_exit_2_with_the_nearest_name(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_case(folder, 4)
    (folder / "assaykit.toml").write_text('[params.western_blot]\nloading_control = "GAPDH"\n')
    proc = _cli("run", str(folder), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert (
        "unknown parameter 'loading_control' for western_blot; did you mean 'loading_target'?"
        in proc.stderr
    )
    assert "assaykit.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_a_negative_value_becomes_an_error_not_a_record() -> None:
    res = AssayResult()
    res.add("S01", "band", "lane_01:RARB", "band_volume", 1.0e5, source="blot.tif")
    res.check_not_negative(_NON_NEGATIVE)  # fine
    res.add("S02", "band", "lane_02:RARB", "fold_change", -0.0025, source="blot.tif")
    with pytest.raises(AnalysisError, match=r"blot\.tif S02 lane_02:RARB fold_change = -0\.0025"):
        res.check_not_negative(_NON_NEGATIVE)
    nan = AssayResult()
    nan.add("S01", "band", "lane_01:RARB", "normalized_ratio", math.nan, source="blot.tif")
    with pytest.raises(AnalysisError, match="negative or not finite"):
        nan.check_not_negative(_NON_NEGATIVE)


def test_schema_shows_the_toml_section_and_the_sheet_columns() -> None:
    proc = _cli("schema", "western_blot")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "[params.western_blot]" in schema["description"]
    cols = schema["x-sheet-columns"]
    assert {"target", "lane", "strip", "n_lanes", "role", "sample_id"} <= set(cols)
    assert cols["n_lanes"]["aliases"] == ["lanes", "lane_count"]
    assert all(c["description"] for c in cols.values())


def test_example_folder_has_no_negative_value(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _cli("run", str(EXAMPLE), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = _csv(out / "results.csv")
    # signed by definition: rotations (counter-clockwise positive), a standard curve's
    # slope (Cq falls as quantity rises) and the qPCR differences ΔCt and ΔΔCt
    signed = {("qpcr", "slope"), ("qpcr", "delta_ct"), ("qpcr", "delta_delta_ct")}
    for r in rows:
        if (r["value_num"] and not r["metric"].endswith("_deg")
                and (r["assay"], r["metric"]) not in signed):
            assert float(r["value_num"]) >= 0.0, (r["assay"], r["sample_id"], r["metric"])
    # the generator's truth for the two silenced RARB lanes is 0 (expected.csv)
    expected = _csv(EXAMPLE / "western_blot" / "expected.csv")
    absent = {
        e["sample_id"]
        for e in expected
        if e["metric"] == "band_volume" and float(e["value"]) == 0.0
    }
    assert absent == {"R_DMSO", "R_ATRA"}
    checked = [
        r
        for r in rows
        if r["assay"] == "western_blot"
        and r["sample_id"] in absent
        and r["entity"].endswith(":RARB")
        and r["metric"] in ("band_volume", "normalized_ratio", "fold_change")
    ]
    assert len(checked) == 6
    for r in checked:
        assert float(r["value_num"]) == 0.0, (r["sample_id"], r["metric"])
        assert "below_detection" in r["qc_flags"]
