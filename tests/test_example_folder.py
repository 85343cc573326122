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
    # "profile" holds the per-cell-line resistance profile, derived from the assays' records
    assert {r["assay"] for r in results} == {*CHECKS, "profile"}
    for part, check in CHECKS.items():
        assert check(results, _csv(FOLDER / part / "expected.csv")) > 0


def _truth(part: str, sample: str, metric: str, entity: str | None = None) -> dict[str, str]:
    rows = [
        r for r in _csv(FOLDER / part / "expected.csv")
        if r["sample_id"] == sample and r["metric"] == metric
        and (entity is None or r.get("entity", r.get("target")) == entity)
    ]
    assert len(rows) == 1, (part, sample, metric, entity)
    return rows[0]


def _close(got: str, row: dict[str, str]) -> bool:
    want = float(row["expected"])
    return abs(float(got) - want) <= max(float(row["abs_tol"]), float(row["rel_tol"]) * abs(want))


def test_resistance_profile_matches_the_generators_truth(
    run_output: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """profile.csv, per cell line, against each part's expected.csv (the generators' labels,
    not our records): IC50, resistance factor, MSP calls, western fold change per treatment,
    Rh123 MAF, TUNEL % per dose, Annexin V+ % (early + late) per dose and qPCR folds; every
    value names the experiment and the records it came from, and those records exist."""
    _, out = run_output
    prof = {(r["cell_line"], r["column"]): r for r in _csv(out / "profile.csv")}
    results = {r["record_id"]: r for r in _csv(out / "results.csv")}

    def val(line: str, column: str) -> dict[str, str]:
        assert (line, column) in prof, (line, column, sorted(prof))
        return prof[(line, column)]

    for line in ("SH-SY5Y", "SH-SY5Y-R"):
        assert _close(val(line, "viability.ic50_uM")["value_num"],
                      _truth("viability", line, "ic50_uM"))
        assert _close(val(line, "rh123_efflux.maf")["value_num"],
                      _truth("rh123_efflux", line, "maf"))
    assert _close(val("SH-SY5Y-R", "viability.resistance_factor")["value_num"],
                  _truth("viability", "SH-SY5Y-R", "resistance_factor"))
    assert ("SH-SY5Y", "viability.resistance_factor") not in prof  # the parental has none

    # MSP: one call per sample of the line, counted (the generator's calls per cell line)
    msp = _csv(FOLDER / "msp_gel" / "expected.csv")
    sheet = {r["sample_id"]: r for r in _csv(FOLDER / "samples.csv") if r["assay"] == "msp_gel"}
    for line in ("SH-SY5Y", "SH-SY5Y-R"):
        calls = [r["call"] for r in msp if sheet[r["sample_id"]]["cell_line"] == line]
        got = val(line, "msp_gel.call")["value_str"]
        if len(set(calls)) == 1:
            assert got == calls[0]
        else:
            for c in set(calls):
                assert f"{c} ×{calls.count(c)}" in got, (line, got, calls)

    # western: fold change of RARB per (cell line, treatment) = the generator's per sample
    wsheet = {r["sample_id"]: r for r in _csv(FOLDER / "samples.csv")
              if r["assay"] == "western_blot" and r["role"] in ("sample", "reference")}
    for row in _csv(FOLDER / "western_blot" / "expected.csv"):
        if row["metric"] != "fold_change" or row["sample_id"] not in wsheet:
            continue
        s = wsheet[row["sample_id"]]
        got = float(val(s["cell_line"],
                        f"western_blot.fold_change[RARB]@treatment={s['treatment']}")["value_num"])
        want, tol = float(row["value"]), float(row["tolerance"])
        assert abs(got - want) <= (tol * want if row["compare"] == "rel" else tol), row

    # TUNEL and Annexin: the sample tubes of SH-SY5Y, one per dose
    tsheet = {r["sample_id"]: r for r in _csv(FOLDER / "samples.csv") if r["assay"] == "tunel"}
    for sid in ("untreated", "iso_5uM", "iso_10uM"):
        dose = tsheet[sid]["dose_uM"]
        assert _close(val("SH-SY5Y", f"tunel.tunel_positive_pct@dose_uM={dose}")["value_num"],
                      _truth("tunel", sid, "tunel_positive_pct"))
    asheet = {r["sample_id"]: r for r in _csv(FOLDER / "samples.csv")
              if r["assay"] == "annexin_pi"}
    n_doses = 0
    for row in _csv(FOLDER / "annexin_pi" / "expected.csv"):
        if row["role"] != "sample":
            continue
        dose = asheet[row["sample_id"]]["dose_uM"]
        got = float(val("SH-SY5Y", "annexin_pi.early_apoptotic_pct+late_apoptotic_pct"
                        f"@dose_uM={dose}")["value_num"])
        assert got == pytest.approx(
            float(row["early_apoptotic_pct"]) + float(row["late_apoptotic_pct"]), abs=3.0)
        n_doses += 1
    assert n_doses == 4
    # controls (no dose, or a control role) never enter the profile
    assert not [k for k in prof if k[1].startswith("tunel.") and k[1].endswith("=")]

    # qPCR: only samples named exactly as a cell line; "SH-SY5Y +iso 5uM" is not matched
    for gene in ("CYP26A1", "RARB", "ABCB1"):
        assert _close(val("SH-SY5Y-R", f"qpcr.fold_change[{gene}]")["value_num"],
                      _truth("qpcr", "qpcr_run1", "fold_change", f"SH-SY5Y-R|{gene}"))
        assert float(val("SH-SY5Y", f"qpcr.fold_change[{gene}]")["value_num"]) == 1.0
    assert not [k for k in prof if "iso" in k[0]]

    # traceability: every value's source records are in results.csv, of its experiment
    for r in prof.values():
        ids = r["source_record_ids"].split(";")
        assert ids and len(ids) == int(r["n_records"])
        for i in ids:
            src = results[i]
            assert src["experiment"] in r["experiments"].split(";")
            assert src["assay"] == r["assay"]
    # and the profile's records are in results.csv, one per cell line and column
    recs = [r for r in results.values() if r["assay"] == "profile"]
    assert {(r["sample_id"], r["metric"]) for r in recs} == set(prof)
    assert {r["entity_type"] for r in recs} == {"cell_line"}
