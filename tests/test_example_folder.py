"""The README's main job: `assaykit run fixtures/example-folder` works and matches the truth.

Each part of the example folder was written by its assay's seeded generator,
whose ``expected.csv`` holds the true answers from the generator's labels.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "fixtures" / "example-folder"


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _check_annexin(results: list[dict[str, str]], expected: list[dict[str, str]]) -> int:
    """Every tube, controls included: quadrant percentages within 1.5 points of the
    generator's labels, singlet count within 3 % and event count exact."""
    got = {
        (r["sample_id"], r["metric"]): float(r["value_num"])
        for r in results
        if r["assay"] == "annexin_pi" and r["value_num"]
    }
    n = 0
    for row in expected:
        sid = row["sample_id"]
        for metric in ("viable_pct", "early_apoptotic_pct", "late_apoptotic_pct", "necrotic_pct"):
            assert got[(sid, metric)] == pytest.approx(float(row[metric]), abs=1.5), (sid, metric)
            n += 1
        singlets = float(row["singlet_cells"])
        assert got[(sid, "singlet_count")] == pytest.approx(singlets, rel=0.03), sid
        assert got[(sid, "event_count")] == float(row["n_events"]), sid
        n += 2
    assert {row["role"] for row in expected} >= {"unstained", "annexin_only", "pi_only", "sample"}
    return n


def _check_msp(results: list[dict[str, str]], expected: list[dict[str, str]]) -> int:
    """Calls, band sizes (8 %), band volumes (10 %, 25 % when faint) and the
    methylation index (0.03, 0.10 when faint) against the generator's rendering."""
    got = {
        (r["sample_id"], r["metric"]): r
        for r in results
        if r["assay"] == "msp_gel" and r["entity_type"] == "sample"
    }
    n = 0
    for row in expected:
        sid, faint = row["sample_id"], row["faint"] == "yes"
        assert got[(sid, "call")]["value_str"] == row["call"], sid
        n += 1
        for k in ("m", "u"):
            vol = float(got[(sid, f"{k}_band_volume")]["value_num"])
            if row[f"{k}_present"] == "yes":
                bp = float(got[(sid, f"{k}_band_bp")]["value_num"])
                assert bp == pytest.approx(float(row[f"{k}_bp"]), rel=0.08), (sid, k)
                assert vol == pytest.approx(
                    float(row[f"{k}_volume"]), rel=0.25 if faint else 0.10
                ), (sid, k)
                n += 2
            else:
                assert (sid, f"{k}_band_bp") not in got, (sid, k)
                assert vol == 0.0, (sid, k)
                n += 1
        if row["methylation_index"]:
            mi = float(got[(sid, "methylation_index")]["value_num"])
            assert mi == pytest.approx(
                float(row["methylation_index"]), abs=0.10 if faint else 0.03
            ), sid
            n += 1
        else:  # a failed call has no index
            assert (sid, "methylation_index") not in got or not got[
                (sid, "methylation_index")
            ]["value_num"], sid
    return n


def _check_generic(assay: str) -> Callable[[list[dict[str, str]], list[dict[str, str]]], int]:
    """expected.csv rows (experiment, sample_id, entity, metric, expected, abs_tol, rel_tol)."""

    def check(results: list[dict[str, str]], expected: list[dict[str, str]]) -> int:
        got = {
            (r["experiment"], r["sample_id"], r["entity"], r["metric"]): r
            for r in results
            if r["assay"] == assay
        }
        for want in expected:
            row = got[(want["experiment"], want["sample_id"], want["entity"], want["metric"])]
            value, truth = float(row["value_num"]), float(want["expected"])
            tol = max(float(want["abs_tol"]), float(want["rel_tol"]) * abs(truth))
            assert abs(value - truth) <= tol, (want, value)
        return len(expected)

    return check


def _check_western(results: list[dict[str, str]], expected: list[dict[str, str]]) -> int:
    """expected.csv rows (experiment, sample_id, target, metric, value, compare, tolerance)."""
    got = {
        (r["experiment"], r["sample_id"], r["entity"].rsplit(":", 1)[-1], r["metric"]): r
        for r in results
        if r["assay"] == "western_blot"
    }
    for want in expected:
        row = got[(want["experiment"], want["sample_id"], want["target"], want["metric"])]
        assert row["qc_status"] == want["qc_status"], (want, row["qc_flags"])
        if want["compare"] == "equal":
            assert row["value_str"] == want["value"]
        elif want["compare"] == "rel":
            assert float(row["value_num"]) == pytest.approx(
                float(want["value"]), rel=float(want["tolerance"])
            )
        elif want["compare"] == "abs":
            assert float(row["value_num"]) == pytest.approx(
                float(want["value"]), abs=float(want["tolerance"])
            )
        else:
            assert want["compare"] == "below"
            assert float(row["value_num"]) < float(want["value"])
    return len(expected)


CHECKS: dict[str, Callable[[list[dict[str, str]], list[dict[str, str]]], int]] = {
    "annexin_pi": _check_annexin,
    "msp_gel": _check_msp,
    "qpcr": _check_generic("qpcr"),
    "rh123_efflux": _check_generic("rh123_efflux"),
    "tunel": _check_generic("tunel"),
    "viability": _check_generic("viability"),
    "western_blot": _check_western,
}


@pytest.fixture(scope="module")
def run_output(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("example-out")
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(FOLDER), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ.copy(),
    )
    return proc, out


def test_example_folder_runs_clean(
    run_output: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, out = run_output
    assert proc.returncode == 0, proc.stderr
    for name in ("results.csv", "results.jsonl", "report.html", "run.json", "assaykit.sqlite"):
        assert (out / name).is_file()
    assert not [r for r in _csv(out / "results.csv") if r["metric"] == "error"]


def test_every_part_has_a_check_and_matches_its_truth(
    run_output: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = run_output
    results = _csv(out / "results.csv")
    parts = sorted(p.name for p in FOLDER.iterdir() if p.is_dir())
    assert parts == sorted(CHECKS), "every assay part of the example folder needs a check here"
    assert {r["assay"] for r in results} == set(CHECKS)
    for part, check in CHECKS.items():
        assert check(results, _csv(FOLDER / part / "expected.csv")) > 0
