"""Hostile and broken inputs (issue 11, items 1 and 3-8): each is named, none is a traceback.

Truth comes from how each input was built here (which file was broken, which
path a link points to, how many pages a TIFF has), never from the code under
test. Real files, real processes, real SQLite.
"""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import assaykit
import numpy as np
import pytest
from assaykit import HostConfig, ImageError, PluginHost, SampleSheetError
from assaykit.config import build_params
from assaykit.imaging.io import load_image
from helpers.toydata import make_folder, write_counts


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assaykit.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=os.environ.copy(),
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------------------
# 1. symlinks leading out of the folder
# --------------------------------------------------------------------------------------
def test_a_listed_symlink_out_of_the_folder_is_exit_2_naming_sheet_and_row(
    toy_env: Path, tmp_path: Path
) -> None:
    outside = write_counts(tmp_path / "elsewhere" / "secret.counts", [1.0, 2.0])
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0, 2.0, 3.0])
    (folder / "link.counts").symlink_to(outside)
    (folder / "samples.csv").write_text("file\na.counts\nlink.counts\n", encoding="utf-8")
    r = cli("run", str(folder), "--out", str(tmp_path / "out"), "--assay", "toy_threshold")
    assert r.returncode == 2, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    want = "samples.csv, row 3, column 'file': 'link.counts' is a symlink that leaves the folder"
    assert want in r.stderr


def test_a_sheet_that_is_a_symlink_out_of_the_folder_is_exit_2(
    toy_env: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0, 2.0, 3.0])
    real = tmp_path / "elsewhere" / "sheet.csv"
    real.parent.mkdir()
    real.write_text("file\na.counts\n", encoding="utf-8")
    (folder / "samples.csv").symlink_to(real)
    r = cli("run", str(folder), "--out", str(tmp_path / "out"), "--assay", "toy_threshold")
    assert r.returncode == 2, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert "samples.csv" in r.stderr and "leaves the folder" in r.stderr
    # passed explicitly with --sheet, a sheet outside the folder is fine
    r = cli(
        "run", str(folder), "--out", str(tmp_path / "out2"), "--assay", "toy_threshold",
        "--sheet", str(real), "--workers", "0",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_without_a_sheet_a_symlink_out_of_the_folder_is_not_an_input(
    toy_env: Path, tmp_path: Path
) -> None:
    outside = write_counts(tmp_path / "elsewhere" / "secret.counts", [5.0, 6.0])
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0, 2.0, 3.0])
    (folder / "link.counts").symlink_to(outside)
    out = tmp_path / "out"
    r = cli("run", str(folder), "--out", str(out), "--assay", "toy_threshold", "--workers", "0")
    assert r.returncode == 0, r.stderr
    assert {row["input_path"] for row in _rows(out / "results.csv")} - {""} == {"a.counts"}


# --------------------------------------------------------------------------------------
# 3. a corrupt file is named; its neighbours are "not analysed because of it"
# --------------------------------------------------------------------------------------
def test_a_corrupt_file_is_named_and_its_neighbours_are_not_blamed(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    toy = make_folder(tmp_path / "in", 2, seed=3, corrupt=(0,))  # exp000/s0.counts is broken
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=1, host=toy_host
    )
    assert res.exit_code == 1
    errors = {r.input_path: str(r.value) for r in res.records if r.metric == "error"}
    assert set(errors) == {"exp000/s0.counts", "exp000/neg.counts", "exp000/s1.counts"}
    assert errors["exp000/s0.counts"].startswith("InputError: exp000/s0.counts: line 3")
    for good in ("exp000/neg.counts", "exp000/s1.counts"):
        assert errors[good].startswith(
            "NotAnalysed: not analysed: experiment 'exp000' failed because of exp000/s0.counts"
        ), errors[good]
    got = {(r.experiment, r.sample_id): r.value for r in res.records if r.metric == "positive_pct"}
    assert got == pytest.approx({k: v for k, v in toy.truth.items() if k[0] == "exp001"})


# --------------------------------------------------------------------------------------
# 4. multi-page TIFF
# --------------------------------------------------------------------------------------
def test_a_multi_page_tiff_is_refused_naming_its_page_count(tmp_path: Path) -> None:
    import tifffile

    rng = np.random.default_rng(0)
    stack = tmp_path / "stack.tif"
    pages = [rng.integers(0, 60000, (40, 50), dtype=np.uint16) for _ in range(3)]
    with tifffile.TiffWriter(stack) as tw:
        for p in pages:
            tw.write(p)
    with pytest.raises(ImageError, match=r"stack\.tif: TIFF has 3 pages"):
        load_image(stack)
    # one image plus a reduced-resolution preview is one image: loaded, the full page
    preview = tmp_path / "preview.tif"
    with tifffile.TiffWriter(preview) as tw:
        tw.write(pages[0])
        tw.write(pages[1][::4, ::4], subfiletype=1)
    im = load_image(preview)
    assert im.data.shape == (40, 50)
    assert np.array_equal(im.data, pages[0].astype(np.float32))


# --------------------------------------------------------------------------------------
# 5. unknown names: named, with the nearest valid one
# --------------------------------------------------------------------------------------
def test_unknown_nested_parameter_names_the_nearest_valid_one() -> None:
    host = PluginHost(HostConfig(autoload=False, load=("msp",)))
    params = host.get_assay("msp_gel").Params
    with pytest.raises(assaykit.ParamsError) as ei:
        build_params(params, {"geometry": {"gel.tif": {"strip": 2}}}, where="t", assay="msp_gel")
    assert "unknown parameter 'strip' for msp_gel.geometry.gel.tif; did you mean 'strips'?" in str(
        ei.value
    )


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        (
            "file,sampel_id\na.counts,x\n",
            "samples.csv, row 1, column 'sampel_id': not a known column; did you mean "
            "'sample_id'?",
        ),
        (
            "file,Sample ID\na.counts,x\n",
            "samples.csv, row 1, column 'Sample ID': not a known column; did you mean "
            "'sample_id'?",
        ),
        (
            "file,role\na.counts,negative_contrl\n",
            "samples.csv, row 2, column 'role': unknown role 'negative_contrl' for assay "
            "'toy_threshold'; did you mean 'negative_control'?",
        ),
        (
            "file,assay\na.counts,toy_treshold\n",
            "samples.csv, row 2, column 'assay': unknown assay 'toy_treshold'; did you mean "
            "'toy_threshold'?",
        ),
    ],
)
def test_sheet_typos_name_the_nearest_valid_name(
    toy_host: PluginHost, tmp_path: Path, sheet: str, message: str
) -> None:
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0, 2.0])
    (folder / "samples.csv").write_text(sheet, encoding="utf-8")
    with pytest.raises(SampleSheetError) as ei:
        assaykit.run(folder, tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)
    assert message in str(ei.value)


def test_condition_columns_near_but_not_a_fixed_name_stay_conditions(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0, 2.0])
    (folder / "samples.csv").write_text(
        "file,sample_type,experiment_date,cell_line\na.counts,tumour,2026-01-02,HL-60\n",
        encoding="utf-8",
    )
    res = assaykit.run(folder, tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)
    assert res.exit_code == 0
    row = next(res.table.dicts())
    assert (row["sample_type"], row["experiment_date"]) == ("tumour", "2026-01-02")


# --------------------------------------------------------------------------------------
# 6. a missing listed file is named on the terminal
# --------------------------------------------------------------------------------------
def test_a_missing_file_is_named_with_its_row(toy_env: Path, tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 1, seed=4)
    (tmp_path / "in" / "exp000" / "s1.counts").unlink()  # row 4 of the sheet
    r = cli(
        "run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--assay", "toy_threshold",
        "--workers", "0",
    )  # fmt: skip
    assert r.returncode == 1
    assert (
        "FAILED toy_threshold/exp000: MissingInputError: exp000/s1.counts (sheet row 4) "
        "does not exist"
    ) in r.stderr


# --------------------------------------------------------------------------------------
# 7. outputs respect the umask
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_outputs_respect_the_umask(toy_host: PluginHost, tmp_path: Path, mask: int) -> None:
    make_folder(tmp_path / "in", 1, seed=5)
    old = os.umask(mask)
    try:
        assaykit.run(tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=1,
                     host=toy_host)  # fmt: skip
    finally:
        os.umask(old)
    out = tmp_path / "out"
    files = [out / n for n in ("results.csv", "results.jsonl", "run.json", "report.html")]
    files += sorted((out / "figures").rglob("*.png"))
    if (out / "results.parquet").exists():
        files.append(out / "results.parquet")
    assert len(files) >= 6  # the four above and at least two histograms
    want = 0o666 & ~mask
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: want for f in files}


# --------------------------------------------------------------------------------------
# 8. assaykit.run from a plain script
# --------------------------------------------------------------------------------------
def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "analyse.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=os.environ.copy(),
    )


def test_a_script_without_the_main_guard_fails_at_once_with_one_sentence(
    toy_env: Path, tmp_path: Path
) -> None:
    make_folder(tmp_path / "in", 3, seed=6)
    r = _script(
        tmp_path,
        """
        import assaykit

        result = assaykit.run("in", out="results/", assay="toy_threshold", workers=2)
        print("exit", result.exit_code)
        """,
    )
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "exit" not in r.stdout
    assert "WorkerCrash" not in r.stderr
    assert r.stderr.count("Traceback") == 1  # the script's own, not one per worker
    assert 'put the call under `if __name__ == "__main__":`' in r.stderr.splitlines()[-1]
    # the README's form works
    r = _script(
        tmp_path,
        """
        import assaykit

        if __name__ == "__main__":
            result = assaykit.run("in", out="results2/", assay="toy_threshold", workers=2)
            print("exit", result.exit_code, len(result.experiments))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "exit 0 3"
