"""Bad input is a typed error that names the file and the field, never a traceback."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from assaykit import AnalysisError, ImageError, InputError, ParamsError, PluginHost, analyze
from helpers.westerndata import WesternCase, make_case, run_case


def _set(case: WesternCase, **cells: str) -> None:
    for r in case.rows:
        r.update(cells)


def _drop(case: WesternCase, column: str) -> None:
    for r in case.rows:
        r.pop(column, None)


CASES: dict[str, tuple[Callable[[WesternCase], None], type[Exception], str]] = {
    "lane beyond n_lanes": (
        lambda c: c.rows[2].update(lane="9", n_lanes="6"),
        InputError,
        r"blot\.tif: sample sheet row 4, column 'lane': lane 9 is out of range",
    ),
    "absurd lane": (
        lambda c: c.rows[2].update(lane="400"),
        InputError,
        r"blot\.tif: sample sheet row 4, column 'lane': lane 400 is out of range",
    ),
    "missing target column": (
        lambda c: _drop(c, "target"),
        InputError,
        r"blot\.tif: sample sheet row 2, column 'target': missing or empty",
    ),
    "strip out of range": (
        lambda c: c.rows[3].update(strip="3"),
        InputError,
        r"blot\.tif: sample sheet row 5, column 'strip': strip 3 is out of range; the image "
        r"holds 2 strip\(s\)",
    ),
    "strip not a number": (
        lambda c: c.rows[1].update(strip="bottom"),
        InputError,
        r"blot\.tif: sample sheet row 3, column 'strip': 'bottom' is not a whole number",
    ),
    "n_lanes not a number": (
        lambda c: _set(c, n_lanes="six"),
        InputError,
        r"column 'n_lanes': 'six' is not a whole number",
    ),
    "n_lanes disagree": (
        lambda c: (_set(c, n_lanes="6"), c.rows[4].update(n_lanes="7")),
        InputError,
        r"blot\.tif: sample sheet row 6, column 'n_lanes': 7 disagrees with 6",
    ),
    "two rows for one sample and target": (
        lambda c: c.rows[2].update(sample_id="S01"),
        InputError,
        r"sample sheet row 4, column 'sample_id': sample 'S01' already has a RARB row",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sheet_errors_name_file_row_and_column(host: PluginHost, tmp_path: Path, name: str) -> None:
    edit, exc_type, pattern = CASES[name]
    case = make_case(tmp_path, 41)
    edit(case)
    with pytest.raises(exc_type, match=pattern):
        run_case(host, case)


def test_lane_empty_on_a_multi_lane_image(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 42, layout="separate")
    exp = case.experiment()
    exp.inputs[0] = dataclasses.replace(exp.inputs[0], lane=None)
    with pytest.raises(InputError, match=r"target\.tif: sample sheet row 2, column 'lane': empty"):
        analyze("western_blot", exp, host=host)


def test_unreadable_and_blank_images(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 43, layout="separate")
    (tmp_path / "loading.tif").write_bytes(b"II*\x00" + b"\x00" * 64)
    with pytest.raises(ImageError, match=r"loading\.tif"):
        run_case(host, case)
    tifffile.imwrite(tmp_path / "loading.tif", np.full((300, 400), 900, np.uint16))
    with pytest.raises(AnalysisError, match=r"loading\.tif.*no lanes"):
        run_case(host, case)


def test_bad_params_name_the_field(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path, 44)
    for bad, field in (
        ({"rolling_ball_radius": -3}, "rolling_ball_radius"),
        ({"row_window": {"RARB": [0.7, 0.2]}}, "row_window"),
        ({"polarity": "sideways"}, "polarity"),
        ({"loading_targt": "GAPDH"}, "loading_targt"),
    ):
        with pytest.raises(ParamsError, match=re.escape(field)):
            run_case(host, case, bad)


def test_cli_reports_errors_as_records_without_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    case = make_case(folder, 45)
    case.rows[1]["strip"] = "3"
    case.write_sheet()
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(folder), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    results = (out / "results.csv").read_text()
    assert "column 'strip': strip 3 is out of range" in results
