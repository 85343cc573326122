"""The example folder fixtures/annexin_pi runs end to end through the CLI and matches expected.csv.

expected.csv holds the generator's truth (the labels of each simulated
event), not output of the code under test.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.annexin_data import EXAMPLE, QUADRANT_METRICS, generator

TOLERANCE_PP = 1.5


def test_example_folder_is_small_and_regenerates_identically(tmp_path: Path) -> None:
    size = sum(p.stat().st_size for p in EXAMPLE.iterdir())
    assert size < 2_000_000
    gen = generator()
    gen.make_experiment(tmp_path)  # the generator's defaults made the committed folder
    for name in sorted(p.name for p in EXAMPLE.iterdir()):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name


def test_example_runs_end_to_end_via_cli(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "ASSAYKIT_PLUGINS": "annexin"}
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(EXAMPLE), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = generator().read_expected(EXAMPLE / "expected.csv")
    got = {(r["sample_id"], r["metric"]): r for r in rows}
    for sid, exp in expected.items():
        for m in QUADRANT_METRICS:
            r = got[(sid, m)]
            assert abs(float(r["value_num"]) - float(exp[m])) <= TOLERANCE_PP, (sid, m)
            assert r["qc_status"] == "pass" and r["unit"] == "%"
            assert r["input_path"] == f"{sid}.fcs" and r["input_sha256"]
        n = float(got[(sid, "singlet_count")]["value_num"])
        assert n == pytest.approx(float(exp["singlet_cells"]), rel=0.03)
    # sample-sheet condition columns are joined on
    iso = got[("iso_20uM", "viable_pct")]
    assert (iso["cell_line"], iso["treatment"], iso["dose_uM"]) == ("SH-SY5Y", "isotretinoin", "20")
    figs = out / "figures" / "annexin_pi" / "annexin_pi_example"
    names = {p.name for p in figs.iterdir()}
    for sid in expected:
        assert {f"{sid}__quadrants.png", f"{sid}__cleanup.png"} <= names
    assert "thresholds.png" in names
    assert (out / "report.html").is_file()
