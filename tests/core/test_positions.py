"""Positions inside a file: sheet rows name a sample of a multi-sample file that is not a
plate well (a data set number, a run's sample name), through a real sheet, store and
results.csv. The file's values are written by the test; the assay reads them back."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import assaykit
import pytest
from assaykit import (
    Assay,
    AssayResult,
    Experiment,
    HostConfig,
    Input,
    Metric,
    Params,
    PluginHost,
    SampleSheetError,
    hookimpl,
)
from assaykit.sheet import parse_sheet

VALUES = {"1": 11.5, "2": 22.5, "sample:Kidney": 33.5}


class _ByPosition(Assay):
    name = "by_position"
    version = "0.1.0"
    summary = "One value per position of a 'position,value' table."
    input_kinds = ("table",)
    roles = ("sample",)
    Params = Params
    metrics = (Metric("sample", "value", "AU", "float", "the value at the row's position"),)

    def analyze(self, experiment: Experiment, params: Params) -> AssayResult:
        res = AssayResult()
        for rel, inputs in experiment.by_file().items():
            table = experiment.read(inputs[0])
            cells = {row[0]: float(row[1]) for row in table.rows}
            for inp in inputs:
                res.add(inp.sample_id, "sample", inp.sample_id, "value",
                        cells[inp.position or ""], source=rel)  # fmt: skip
        return res


class _Plugin:
    @hookimpl
    def assaykit_register_assays(self, register: Callable[[Assay], None]) -> None:
        register(_ByPosition())


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(HostConfig(autoload=False), extra=[_Plugin()])


def _folder(tmp_path: Path, sheet: str) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "run.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["position", "value"])
        w.writerows([k, f"{v:g}"] for k, v in VALUES.items())
    (folder / "samples.csv").write_text(sheet, encoding="utf-8")
    return folder


def test_one_file_listed_once_per_position_keeps_the_position_in_records(
    host: PluginHost, tmp_path: Path
) -> None:
    sheet = "file,assay,position,tissue\n" + "".join(
        f"run.csv,by_position,{p},t{n}\n" for n, p in enumerate(VALUES)
    )
    folder = _folder(tmp_path, sheet)
    rows = parse_sheet(folder / "samples.csv", folder, host, default_assay=None)
    assert [(r.position, r.sample_id) for r in rows] == [
        ("1", "run_1"), ("2", "run_2"), ("sample:Kidney", "run_sample_Kidney")
    ]  # fmt: skip
    res = assaykit.run(folder, tmp_path / "out", workers=0, host=host)
    assert res.exit_code == 0
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as fh:
        got = {(r["position"], r["tissue"], r["input_path"]): float(r["value_num"])
               for r in csv.DictReader(fh)}  # fmt: skip
    assert got == {(p, f"t{n}", "run.csv"): v for n, (p, v) in enumerate(VALUES.items())}
    assert Input.from_path(folder / "run.csv", position="2").position == "2"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "run.csv,by_position,2,\nrun.csv,by_position,2,\n",
            "samples.csv, row 3, column 'position': 'run.csv' position '2' is already listed "
            "for experiment 'by_position' on row 2",
        ),
        (
            "run.csv,by_position,2,A1\n",
            "samples.csv, row 2, column 'position': the row gives both well 'A1' and position '2'",
        ),
    ],
)
def test_position_errors_name_the_sheet_row_and_column(
    host: PluginHost, tmp_path: Path, body: str, expected: str
) -> None:
    folder = _folder(tmp_path, "file,assay,position,well\n" + body)
    with pytest.raises(SampleSheetError) as err:
        parse_sheet(folder / "samples.csv", folder, host, default_assay=None)
    assert any(expected in p for p in err.value.problems), err.value.problems


class _Unreadable(_ByPosition):
    name = "unreadable_run"

    def analyze(self, experiment: Experiment, params: Params) -> AssayResult:
        res = AssayResult()
        for rel, inputs in experiment.by_file().items():
            for inp in inputs:
                res.fail_sample(inp.sample_id, f"{experiment.folder}/{rel}: truncated", source=rel)
        return res


class _UnreadablePlugin:
    @hookimpl
    def assaykit_register_assays(self, register: Callable[[Assay], None]) -> None:
        register(_Unreadable())


def test_a_file_that_fails_every_sample_is_one_error_record_per_sample_and_one_reason(
    tmp_path: Path,
) -> None:
    host = PluginHost(HostConfig(autoload=False), extra=[_UnreadablePlugin()])
    sheet = "file,assay,position\n" + "".join(f"run.csv,unreadable_run,{p}\n" for p in VALUES)
    folder = _folder(tmp_path, sheet)
    res = assaykit.run(folder, tmp_path / "out", workers=0, host=host)
    assert res.exit_code == 1
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as fh:
        got = sorted((r["position"], r["metric"], r["value_str"]) for r in csv.DictReader(fh))
    assert got == sorted((p, "error", "AnalysisError: run.csv: truncated") for p in VALUES)
    (failed,) = res.failed
    assert failed.error == (
        "3 sample(s) could not be analysed: run.csv: AnalysisError: run.csv: truncated (3 samples)"
    )
