"""Bad sheets, bad images and bad parameters: typed errors that name the file, never a traceback."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from assaykit import AssaykitError, InputError, ParamsError, PluginHost, analyze
from helpers.msp_data import EXAMPLE, experiment

Edit = Callable[[list[dict[str, str]]], list[dict[str, str]]]


def _copy_example(tmp_path: Path) -> Path:
    folder = tmp_path / "gel"
    shutil.copytree(EXAMPLE, folder)
    return folder


def _edit_sheet(folder: Path, edit: Edit) -> None:
    path = folder / "samples.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows = edit(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _error(folder: Path, host: PluginHost, params: Mapping[str, Any] | None = None) -> str:
    with pytest.raises(AssaykitError) as info:
        analyze("msp_gel", experiment(folder, host), params, figures=False, host=host)
    assert isinstance(info.value, InputError)
    assert "gel.tif" in str(info.value)
    return str(info.value)


def _drop_lane(n: int) -> Edit:
    return lambda rows: [r for r in rows if r["lane"] != str(n)]


def _set(lane: int, **cells: str) -> Edit:
    def edit(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for r in rows:
            if r["lane"] == str(lane):
                r.update(cells)
        return rows

    return edit


def _sheet_row_of_lane() -> dict[int, int]:
    """Spreadsheet row (header = row 1) of each lane in the example sheet, read from the file."""
    with open(EXAMPLE / "samples.csv", newline="", encoding="utf-8") as fh:
        return {int(r["lane"]): n for n, r in enumerate(csv.DictReader(fh), start=2)}


#: (edit, message, lanes whose rows the message must name; None: a problem of no one row)
@pytest.mark.parametrize(
    ("edit", "message", "lanes"),
    [
        (_drop_lane(3), "needs exactly one M lane and one U lane", {2}),
        (_set(3, role="M"), "needs exactly one M lane and one U lane", {2, 3}),
        (_set(3, sample_id=""), "needs exactly one M lane and one U lane", {2}),
        (_set(2, control="positive"), "column 'control': 'positive'", {2}),
        (_set(3, control="unmethylated"), "is marked as methylated and unmethylated", {2, 3}),
        (_set(1, control="water"), "a ladder lane cannot be a water control", {1}),
        (_set(1, role="blank"), None, None),  # one ladder left: still fine
        (
            lambda rows: [r for r in rows if r["role"] != "ladder"],
            "no lane has role 'ladder'",
            None,
        ),
        (_set(1, ladder_bp="1000;500;x"), "column 'ladder_bp'", {1}),
        (_set(1, ladder_bp="1000;500;100"), "at least 4 distinct sizes", {1}),
        (_set(4, m_product_bp="abc"), "column 'm_product_bp'", {4}),
        (_set(4, m_product_bp="150"), "different m_product_bp values", {4, 5}),
        (
            lambda rows: [{**r, "m_product_bp": ""} for r in rows],
            "no expected product size; set the parameter m_product_bp",
            None,  # every row lacks it: the parameter is the fix
        ),
    ],
)
def test_sheet_problems_name_the_file_and_the_row(
    edit: Edit, message: str | None, lanes: set[int] | None, tmp_path: Path, host: PluginHost
) -> None:
    folder = _copy_example(tmp_path)
    _edit_sheet(folder, edit)
    if message is None:
        res = analyze("msp_gel", experiment(folder, host), figures=False, host=host)
        assert {r.metric for r in res.records} >= {"call", "ladder_r2"}
        return
    text = _error(folder, host)
    assert message in text
    named = {int(n) for n in re.findall(r"sheet row (\d+)", text)}
    row_of = _sheet_row_of_lane()
    # dropping lane 3 moves no earlier row: rows of lanes before it keep their numbers
    assert named == ({row_of[lane] for lane in lanes} if lanes else set()), text


def test_product_sizes_from_parameters_when_the_sheet_has_none(
    tmp_path: Path, host: PluginHost
) -> None:
    folder = _copy_example(tmp_path)
    _edit_sheet(folder, lambda rows: [{**r, "m_product_bp": "", "u_product_bp": ""} for r in rows])
    res = analyze(
        "msp_gel",
        experiment(folder, host),
        {"m_product_bp": 146, "u_product_bp": 154},
        figures=False,
        host=host,
    )
    calls = {r.sample_id: r.value_str for r in res.records if r.metric == "call"}
    assert calls["parental"] == "unmethylated" and calls["resistant"] == "partially_methylated"


def test_ladder_cell_overrides_the_parameter(tmp_path: Path, host: PluginHost) -> None:
    """A wrong ladder parameter is harmless when the ladder rows name their own sizes."""
    folder = _copy_example(tmp_path)
    wrong = {"ladder_bp": [3000, 2000, 1500, 1000, 750, 500, 250]}
    res = analyze("msp_gel", experiment(folder, host), wrong, figures=False, host=host)
    assert (next(r for r in res.records if r.metric == "ladder_r2").value_num or 0) > 0.999
    _edit_sheet(folder, lambda rows: [{**r, "ladder_bp": ""} for r in rows])
    message = _error(folder, host, wrong)
    assert "cannot calibrate" in message and "ladder_bp" in message


def test_lanes_out_of_range_and_one_image_per_gel(tmp_path: Path, host: PluginHost) -> None:
    folder = _copy_example(tmp_path)
    assert "n_lanes is 10" in _error(folder, host, {"n_lanes": 10})
    shutil.copy(folder / "gel.tif", folder / "other.tif")
    _edit_sheet(folder, _set(17, file="other.tif"))
    assert "one gel image is one experiment" in _error(folder, host)


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "blank", "text", "tiny"])
def test_bad_images(kind: str, tmp_path: Path, host: PluginHost) -> None:
    folder = _copy_example(tmp_path)
    path = folder / "gel.tif"
    if kind == "corrupt":
        path.write_bytes(b"II*\x00" + os.urandom(2000))
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:20000])
    elif kind == "blank":  # a readable image with nothing on it: no ladder to calibrate
        tifffile.imwrite(path, np.full((400, 700), 12, np.uint8))
    elif kind == "tiny":
        tifffile.imwrite(path, tifffile.imread(EXAMPLE / "gel.tif")[:3])
    else:
        path.write_text("not an image")
    message = _error(folder, host)
    if kind == "blank":
        assert "ladder" in message and "lanes placed at a pitch" in message
    if kind == "tiny":
        assert "too small for a gel of 18 lanes" in message


def test_no_sample_sheet_is_a_clear_error(host: PluginHost) -> None:
    with pytest.raises(InputError, match="needs a sample sheet"):
        analyze("msp_gel", EXAMPLE / "gel.tif", figures=False, host=host)


@pytest.mark.parametrize(
    "bad",
    [
        {"size_tolerance": 5},
        {"min_snr": 0},
        {"ladder_bp": [100, 200]},
        {"ladder_bp": [100, 200, 300, -5]},
        {"m_product_bp": -1},
        {"polarity": "sideways"},
        {"no_such_parameter": 1},
    ],
)
def test_bad_params_name_the_field(bad: dict[str, object], host: PluginHost) -> None:
    with pytest.raises(ParamsError) as info:
        analyze("msp_gel", experiment(EXAMPLE, host), bad, figures=False, host=host)
    assert next(iter(bad)) in str(info.value)


def test_cli_bad_input_is_an_error_record_not_a_traceback(tmp_path: Path) -> None:
    folder = _copy_example(tmp_path)
    _edit_sheet(folder, _drop_lane(3))
    out = tmp_path / "out"
    env = {**os.environ, "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "ASSAYKIT_PLUGINS": "msp"}
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(folder), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    errors = [r for r in rows if r["metric"] == "error"]
    assert errors and all(r["qc_status"] == "fail" for r in errors)
    assert any("needs exactly one M lane and one U lane" in r["value_str"] for r in errors)
