"""Real gels (GelGenie, shared data) through the western plugin, checked against what
the eye sees (tests/data/real_gels/annotations.json): the ladder gel's four loaded
lanes hold the same ladder, so their strongest band has one volume and one row."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from assaykit import PluginHost, analyze

GELS = ("ladder_reference_gel.tif", "overheated_ref.tif")


@pytest.fixture(scope="module")
def gels(shared_data: Path) -> Path:
    path = shared_data / "gels-gelgenie"
    if not path.is_dir():
        pytest.fail(f"{path} is missing from the shared data")
    return path


@pytest.mark.parametrize("name", GELS)
def test_no_sheet_gives_records(host: PluginHost, gels: Path, name: str) -> None:
    result = analyze("western_blot", [gels / name], host=host)
    volumes = [r for r in result.records if r.metric == "band_volume"]
    assert volumes and all(r.sample_id.startswith(Path(name).stem) for r in volumes)
    assert [f.name for f in result.figures] == [f"blot:{name}", f"profiles:{name}"]
    if name == "ladder_reference_gel.tif":
        # four lanes of the same ladder: the strongest band (3 kb) in every lane, same volume
        assert len(volumes) == 4
        vals = np.array([r.value for r in volumes], dtype=float)
        assert np.all(vals > 0)
        cv = vals.std(ddof=1) / vals.mean()
        print(f"3 kb band volume per lane {np.round(vals).tolist()}, CV {cv:.1%}")
        assert cv < 0.10
        rows = [r.value for r in result.records if r.metric == "band_row"]
        assert np.ptp(rows) < 10  # px: one band row across the gel


def test_gel_with_a_sheet_through_the_cli(gels: Path, tmp_path: Path) -> None:
    """The four ladder lanes (1, 3, 5, 7 of 8 wells) named with n_lanes, but no
    loading-control row: no sample can have a ratio, so the experiment fails loudly (exit 1,
    an error record naming the loading control), not silently with exit 0."""
    import csv

    folder = tmp_path / "gels"
    folder.mkdir()
    shutil.copy(gels / "ladder_reference_gel.tif", folder / "ladder_reference_gel.tif")
    rows = "".join(
        f"ladder_reference_gel.tif,western_blot,ref,{lane},L{lane},"
        f"{'reference' if lane == 1 else 'sample'},kb3,8\n"
        for lane in (1, 3, 5, 7)
    )
    (folder / "samples.csv").write_text(
        "file,assay,experiment,lane,sample_id,role,target,n_lanes\n" + rows, encoding="utf-8"
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(folder), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr
    with (out / "results.csv").open(encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    errors = [r for r in records if r["metric"] == "error"]
    assert errors and all("ACTB" in (r["value_str"] or "") for r in errors)
    assert all(r["experiment"] == "ref" for r in errors)
