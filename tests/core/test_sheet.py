"""Sample sheets and assaykit.toml: defaults, and errors that name file, row and column."""

from __future__ import annotations

import os
from pathlib import Path

import assaykit
import pytest
from assaykit import ParamsError, PluginHost, SampleSheetError
from assaykit.config import load_config
from assaykit.sheet import parse_sheet, plan
from helpers.toydata import write_counts


def _folder(tmp_path: Path, sheet: str, files: tuple[str, ...] = ("a.counts", "b.counts")) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for f in files:
        write_counts(folder / f, [1.0, 2.0, 3.0])
    (folder / "samples.csv").write_text(sheet, encoding="utf-8")
    return folder


def test_defaults_one_experiment_per_assay_stem_and_role(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    folder = _folder(
        tmp_path, "file,assay,treatment\na.counts,toy_threshold,DMSO\nb.counts,,ATRA\n"
    )
    rows = parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    assert [(r.experiment, r.sample_id, r.role, r.lane) for r in rows] == [
        ("toy_threshold", "a", "sample", None),
        ("toy_threshold", "b", "sample", None),
    ]
    assert rows[1].conditions == {"treatment": "ATRA"}
    assert rows[0].row == 2 and rows[1].row == 3


def test_lane_rows_get_lane_sample_ids(toy_host: PluginHost, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "file,lane\na.counts,1\na.counts,2\n", ("a.counts",))
    rows = parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    assert [(r.sample_id, r.lane) for r in rows] == [("a_lane1", 1), ("a_lane2", 2)]


def test_same_lane_on_two_strips_of_one_file(toy_host: PluginHost, tmp_path: Path) -> None:
    """Stacked membrane strips: the same file and lane once per strip, never twice per strip."""
    sheet = "file,lane,strip,sample_id\na.counts,1,1,s1\na.counts,1,2,s1\n"
    folder = _folder(tmp_path, sheet, ("a.counts",))
    rows = parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    assert [(r.lane, r.conditions["strip"]) for r in rows] == [(1, "1"), (1, "2")]
    (folder / "samples.csv").write_text(sheet + "a.counts,1,2,s2\n", encoding="utf-8")
    with pytest.raises(SampleSheetError, match=r"row 4, column 'file': 'a.counts' lane 1 strip 2"):
        parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        (
            "file,role\na.counts,contrl\n",
            "samples.csv, row 2, column 'role': unknown role 'contrl' for assay 'toy_threshold'; "
            "expected one of: sample, negative_control, positive_control",
        ),
        (
            "file,assay\na.counts,annexin_typo\n",
            "samples.csv, row 2, column 'assay': unknown assay 'annexin_typo'",
        ),
        (
            "file,lane\na.counts,two\n",
            "samples.csv, row 2, column 'lane': 'two' is not a lane number",
        ),
        ("file,lane\na.counts,0\n", "row 2, column 'lane': '0' is not a lane number"),
        ("file\n/etc/passwd\n", "row 2, column 'file': '/etc/passwd' is absolute"),
        ("file\nC:\\data\\a.counts\n", "row 2, column 'file': 'C:/data/a.counts' is absolute"),
        (
            "file\n../outside.counts\n",
            "row 2, column 'file': '../outside.counts' leaves the folder",
        ),
        ("file\nsub/../../x.counts\n", "leaves the folder"),
        (
            "file\na.counts\nb.counts\na.counts\n",
            "row 4, column 'file': 'a.counts' is already listed for experiment "
            "'toy_threshold' on row 2",
        ),
        ("file\nnotes.txt\n", "row 2, column 'file': 'notes.txt' is an unknown file type"),
        (
            "file\na.csv\n",
            "row 2, column 'file': 'a.csv' is a 'table' file; assay 'toy_threshold' reads .counts",
        ),
        ("sample_id,role\nx,sample\n", "row 1, column 'file': missing"),
        ("file,file\na.counts,b.counts\n", "row 1: duplicate column(s) file"),
        ("file,role\n", "no rows"),
    ],
)
def test_errors_name_file_row_and_column(
    toy_host: PluginHost, tmp_path: Path, sheet: str, message: str
) -> None:
    folder = _folder(tmp_path, sheet)
    with pytest.raises(SampleSheetError) as exc:
        parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    assert message in str(exc.value)
    assert str(folder / "samples.csv") in str(exc.value)


def test_every_problem_is_reported_at_once(toy_host: PluginHost, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "file,role,lane\na.counts,bogus,1\n../b.counts,sample,x\n")
    with pytest.raises(SampleSheetError) as exc:
        parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    assert len(exc.value.problems) == 2
    assert "row 2, column 'role'" in exc.value.problems[0]
    assert "row 3, column 'file'" in exc.value.problems[1]


def test_symlink_leaving_the_folder_is_refused(toy_host: PluginHost, tmp_path: Path) -> None:
    outside = write_counts(tmp_path / "secret.counts", [1.0])
    folder = _folder(tmp_path, "file\nlink.counts\n", ())
    os.symlink(outside, folder / "link.counts")
    with pytest.raises(SampleSheetError, match="is a symlink that leaves the folder"):
        parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")


def test_excel_exports_semicolons_bom_and_cp1252(toy_host: PluginHost, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "", ("a.counts",))
    (folder / "samples.csv").write_bytes("\ufefffile;traitement\na.counts;rétinoïde\n".encode())
    rows = parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    assert rows[0].conditions == {"traitement": "rétinoïde"}
    (folder / "samples.csv").write_bytes(
        "file,traitement\na.counts,rétinoïde 5 µM\n".encode("cp1252")
    )
    rows = parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    assert rows[0].conditions == {"traitement": "rétinoïde 5 µM"}


def test_required_columns_are_checked(toy_host: PluginHost, tmp_path: Path) -> None:
    assay = toy_host.get_assay("toy_threshold")
    type(assay).required_columns = ("cell_line",)
    try:
        folder = _folder(tmp_path, "file,cell_line\na.counts,HL-60\nb.counts,\n")
        with pytest.raises(SampleSheetError, match="row 3, column 'cell_line': required"):
            parse_sheet(folder / "samples.csv", folder, toy_host, default_assay="toy_threshold")
    finally:
        type(assay).required_columns = ()


def test_toml_sets_params_and_default_assay(toy_host: PluginHost, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "file,role\na.counts,negative_control\nb.counts,sample\n")
    write_counts(folder / "a.counts", list(range(100)))
    write_counts(folder / "b.counts", [90.0] * 10 + [1.0] * 10)
    (folder / "assaykit.toml").write_text(
        'default_assay = "toy_threshold"\n[params.toy_threshold]\npercentile = 50\n'
    )
    res = assaykit.run(folder, tmp_path / "out", workers=0, host=toy_host)
    thr = next(r for r in res.records if r.metric == "threshold")
    assert thr.value_num == 49.5  # median of 0..99
    assert res.records[0].assay == "toy_threshold"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[params.toy_threshold]\npercentile = 500\n",
            "bad parameters for assay 'toy_threshold': field 'percentile': Input should be less "
            "than or equal to 100 (got 500)",
        ),
        (
            "[params.toy_threshold]\npercentil = 99\n",
            "unknown parameter 'percentil' for toy_threshold; did you mean 'percentile'?",
        ),
        ("[params.toy_threshold]\nmin_events = 'many'\n", "field 'min_events'"),
        ("default_assay = 3\n", "default_assay must be a string"),
        ("colour = 'red'\n", "unknown key(s) colour"),
        ("[params\n", "not valid TOML"),
    ],
)
def test_bad_toml_names_file_and_field(
    toy_host: PluginHost, tmp_path: Path, toml: str, message: str
) -> None:
    folder = _folder(tmp_path, "file\na.counts\n")
    (folder / "assaykit.toml").write_text(toml)
    with pytest.raises(assaykit.ConfigError) as exc:
        assaykit.run(folder, tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)
    assert message in str(exc.value)
    assert "assaykit.toml" in str(exc.value)


def test_params_for_an_uninstalled_assay_is_an_error(toy_host: PluginHost, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "file\na.counts\n")
    (folder / "assaykit.toml").write_text("[params.westren_blot]\nx = 1\n")
    with pytest.raises(assaykit.UsageError, match=r"\[params.westren_blot\] names an assay"):
        assaykit.run(folder, tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)


def test_no_sheet_and_no_assay_is_a_usage_error(toy_host: PluginHost, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0])
    with pytest.raises(assaykit.UsageError, match=r"no samples\.csv and no assay given"):
        plan(folder, toy_host, sheet=None, assay=None, default_assay=None)


def test_load_config_missing_file_is_empty(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "assaykit.toml")
    assert cfg.path is None and cfg.params == {} and cfg.default_assay is None


def test_params_error_is_a_config_error() -> None:
    assert issubclass(ParamsError, assaykit.ConfigError)
    assert issubclass(SampleSheetError, assaykit.AssaykitError)


def test_symlink_out_of_the_folder_that_no_row_lists_is_ignored(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    """Found by the fuzz campaign: walking the folder crashed (ValueError) on it."""
    folder = _folder(tmp_path, "file\na.counts\n")
    os.symlink("/etc/passwd", folder / "escape.counts")
    p = plan(folder, toy_host, sheet=folder / "samples.csv", assay=None,
             default_assay="toy_threshold")  # fmt: skip
    assert [r.file for e in p.experiments for r in e.rows] == ["a.counts"]
    assert "escape.counts" not in p.ignored  # not a file of this folder at all


def test_symlink_loop_listed_in_the_sheet_is_a_row_error(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    """Found by the fuzz campaign: resolving a symlink loop raised RuntimeError."""
    folder = _folder(tmp_path, "file\na.counts\nloop.counts\n")
    os.symlink(folder / "loop.counts", folder / "loop.counts")
    with pytest.raises(SampleSheetError) as info:
        plan(folder, toy_host, sheet=folder / "samples.csv", assay=None,
             default_assay="toy_threshold")  # fmt: skip
    (problem,) = info.value.problems
    assert problem.startswith(f"{folder / 'samples.csv'}, row 3, column 'file': 'loop.counts'")
    assert "cannot be resolved" in problem and "loop" in problem.lower()
