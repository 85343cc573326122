"""The example folder end to end through the CLI, and the conformance kit."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from assaykit import PluginHost
from assaykit.testing import assert_conforms
from helpers.westerndata import make_case

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "fixtures" / "western_blot"


def _matches(row: dict[str, str], want: dict[str, str]) -> str | None:
    """Why a result row does not match an expected.csv row (None when it does)."""
    how, tol = want["compare"], want["tolerance"]
    if row["qc_status"] != want["qc_status"]:
        return f"qc_status {row['qc_status']} ({row['qc_flags']}), expected {want['qc_status']}"
    if how == "equal":
        return None if row["value_str"] == want["value"] else f"value {row['value_str']}"
    got, exp = float(row["value_num"]), float(want["value"])
    ok = {
        "rel": lambda: abs(got / exp - 1.0) <= float(tol),
        "abs": lambda: abs(got - exp) <= float(tol),
        "below": lambda: got < exp,
    }[how]()
    return None if ok else f"value {got:.6g}, expected {how} {exp:.6g} (tolerance {tol})"


def test_example_folder_through_the_cli(tmp_path: Path) -> None:
    assert sum(p.stat().st_size for p in EXAMPLE.iterdir()) < 2_000_000
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(EXAMPLE), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        results = list(csv.DictReader(fh))
    with open(EXAMPLE / "expected.csv", newline="", encoding="utf-8") as fh:
        expected = list(csv.DictReader(fh))
    assert len(expected) == 60
    index = {
        (r["experiment"], r["sample_id"], r["entity"].rsplit(":", 1)[-1], r["metric"]): r
        for r in results
    }
    problems = []
    for want in expected:
        key = (want["experiment"], want["sample_id"], want["target"], want["metric"])
        row = index.get(key)
        why = "missing" if row is None else _matches(row, want)
        if why:
            problems.append(f"{key}: {why}")
    assert not problems, "\n".join(problems)
    assert not [r for r in results if r["metric"] == "error"]
    # the conditions of the sheet are joined on, and figures and the report exist
    assert {r["cell_line"] for r in results if r["sample_id"] == "R_DAC"} == {"SH-SY5Y-R"}
    assert len(list((out / "figures").rglob("*.png"))) == 6  # 3 images x 2
    assert (out / "report.html").is_file()


def test_conformance_kit(host: PluginHost, tmp_path: Path) -> None:
    case = make_case(tmp_path / "good", 51, rotation_deg=1.5)
    corrupt = tmp_path / "bad" / "corrupt.tif"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"II*\x00" + bytes(range(200)))
    no_target = make_case(tmp_path / "no_target", 52)
    for r in no_target.rows:
        r.pop("target")
    report = assert_conforms(
        "western_blot",
        case.experiment(),
        bad=[[corrupt], no_target.experiment()],
        bad_params={"rolling_ball_radius": -5.0},
        host=host,
    )
    metrics = {r.metric for r in report.records}
    assert {"band_volume", "loading_volume", "normalized_ratio", "fold_change"} <= metrics
    assert {"saturated", "background"} <= metrics
