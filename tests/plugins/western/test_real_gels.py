"""Real gels (GelGenie, shared data) through the plugin: records or clear errors.

They are agarose DNA gels, not blots, so there is no truth to compare with;
what must hold is that the plugin reads them, finds their lanes and returns
records, or typed errors naming the file, never a traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from assaykit import AssaykitError, PluginHost, analyze

GELS = ("ladder_reference_gel.tif", "overheated_ref.tif")


@pytest.fixture(scope="module")
def gels(shared_data: Path) -> Path:
    path = shared_data / "gels-gelgenie"
    if not path.is_dir():
        pytest.fail(f"{path} is missing from the shared data")
    return path


@pytest.mark.parametrize("name", GELS)
def test_no_sheet_gives_records_or_typed_errors(host: PluginHost, gels: Path, name: str) -> None:
    try:
        result = analyze("western_blot", [gels / name], host=host)
    except AssaykitError as exc:
        assert name in str(exc)
        return
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
    folder = tmp_path / "gels"
    folder.mkdir()
    for name in GELS:
        shutil.copy(gels / name, folder / name)
    (folder / "samples.csv").write_text(
        "file,assay,experiment,lane,sample_id,role,target\n"
        "ladder_reference_gel.tif,western_blot,ref,1,L1,reference,ladder3kb\n"
        "ladder_reference_gel.tif,western_blot,ref,2,L2,sample,ladder3kb\n"
        "ladder_reference_gel.tif,western_blot,ref,3,L3,sample,ladder3kb\n"
        "ladder_reference_gel.tif,western_blot,ref,9,L9,sample,ladder3kb\n"
        "overheated_ref.tif,western_blot,hot,1,H1,reference,ladder\n",
        encoding="utf-8",
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
    assert proc.returncode in (0, 1)
    results = (out / "results.csv").read_text(encoding="utf-8")
    assert "band_volume" in results or "error" in results
    for exp in ("ref", "hot"):
        assert f",{exp}," in results
