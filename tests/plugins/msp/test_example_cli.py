"""The example folder fixtures/msp_gel runs end to end through the CLI and matches expected.csv.

expected.csv holds the generator's truth (which lanes it gave a product, at
which size), not output of the code under test.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.msp_data import EXAMPLE, generator


def test_example_folder_is_small_and_regenerates_identically(tmp_path: Path) -> None:
    size = sum(p.stat().st_size for p in EXAMPLE.iterdir())
    assert size < 2_000_000
    gen = generator()
    gen.write_case(tmp_path, gen.example_case())  # the generator's defaults made the folder
    for name in sorted(p.name for p in EXAMPLE.iterdir()):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name


def test_example_runs_end_to_end_via_cli(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "ASSAYKIT_PLUGINS": "msp"}
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
    assert not [r for r in rows if r["metric"] == "error"]
    got = {(r["sample_id"], r["metric"]): r for r in rows if r["entity_type"] == "sample"}
    expected = generator().read_expected(EXAMPLE / "expected.csv")
    for sid, exp in expected.items():
        call = got[(sid, "call")]
        assert call["value_str"] == exp["call"], sid
        assert call["input_path"] == "gel.tif" and call["input_sha256"]
        # an 8-bit source is flagged (warn); nothing else is wrong with this gel
        assert call["qc_flags"] == "low_bit_depth" and call["qc_status"] == "warn"
        for k in ("m", "u"):
            if exp[f"{k}_present"] == "yes":
                bp = float(got[(sid, f"{k}_band_bp")]["value_num"])
                assert bp == pytest.approx(float(exp[f"{k}_bp"]), rel=0.08)
                assert got[(sid, f"{k}_band_bp")]["unit"] == "bp"
            else:
                assert (sid, f"{k}_band_bp") not in got
                assert float(got[(sid, f"{k}_band_volume")]["value_num"]) == 0.0
        if exp["methylation_index"]:
            mi = float(got[(sid, "methylation_index")]["value_num"])
            tol = 0.10 if exp["faint"] == "yes" else 0.03
            assert mi == pytest.approx(float(exp["methylation_index"]), abs=tol)
    # sample-sheet condition columns are joined on
    assert got[("parental", "call")]["cell_line"] == "SH-SY5Y"
    assert got[("ctrl_methylated", "call")]["control"] == "methylated"
    gel = {r["metric"]: r for r in rows if r["entity_type"] == "gel"}
    assert gel["controls"]["value_str"] == "pass"
    assert "rolling_ball" in gel["background"]["value_str"]
    assert "radius=50.0" in gel["background"]["value_str"]
    fig = out / "figures" / "msp_gel" / "msp_gel_example" / "gel.png"
    assert fig.is_file() and fig.stat().st_size > 10_000
    assert (out / "report.html").is_file()
