"""The Python API a pipeline embeds: assaykit.analyze and assaykit.run."""

from __future__ import annotations

import logging
from pathlib import Path

import assaykit
import pytest
from assaykit import PluginHost
from helpers.toydata import write_counts


def _snapshot(root: Path) -> set[tuple[str, int]]:
    return {(str(p), p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_analyze_runs_in_memory_and_writes_nothing(
    toy_host: PluginHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctrl = write_counts(tmp_path / "ctrl.counts", list(range(100)))
    s1 = write_counts(tmp_path / "s1.counts", [1.0] * 60 + [500.0] * 40)
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    res = assaykit.analyze("toy_threshold", {ctrl: "negative_control", s1: "sample"}, host=toy_host)
    assert _snapshot(tmp_path) == before
    assert capsys.readouterr() == ("", "")  # library code prints nothing
    assert res.value("s1", "positive_pct") == 40.0
    assert res.value("s1", "event_count") == 100
    assert res.value("s1", "call") == "negative"
    assert res.value("s1", "above_control") == 1.0
    assert res.value(res.experiment.name, "threshold_source") == "ctrl"
    assert [f.name for f in res.figures] == ["histogram"]
    assert res.figures[0].png.startswith(b"\x89PNG")
    r = next(r for r in res.records if r.metric == "positive_pct")
    assert (r.input_path, r.instrument, r.acquired_at) == (
        "s1.counts",
        "ToyCyte 3000",
        "2026-01-02T03:04:05",
    )
    df = res.to_pandas()
    assert len(df) == len(res.records)


def test_a_plain_list_of_paths_is_one_experiment_of_samples(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    a = write_counts(tmp_path / "a.counts", [1.0, 1.0, 1.0, 100.0])
    b = write_counts(tmp_path / "b.counts", [1.0, 1.0, 1.0, 1.0])
    res = assaykit.analyze("toy_threshold", [a, str(b)], figures=False, host=toy_host)
    assert {i.role for i in res.experiment.inputs} == {"sample"}
    assert res.figures == []
    assert "no_controls" in {f.flag for f in res.qc_flags}
    assert all("no_controls" in r.qc_flags for r in res.records)


def test_analyze_params_and_typed_errors(toy_host: PluginHost, tmp_path: Path) -> None:
    a = write_counts(tmp_path / "a.counts", [1.0, 5.0, 10.0])
    res = assaykit.analyze("toy_threshold", [a], {"fixed_threshold": 4.0}, host=toy_host)
    assert res.value("a", "positive_pct") == pytest.approx(200 / 3)
    assert res.params.fixed_threshold == 4.0  # type: ignore[attr-defined]
    with pytest.raises(assaykit.ParamsError, match="field 'percentile'"):
        assaykit.analyze("toy_threshold", [a], {"percentile": -1}, host=toy_host)
    with pytest.raises(assaykit.UnknownAssayError, match="installed assays: toy_threshold"):
        assaykit.analyze("nope", [a], host=toy_host)
    with pytest.raises(assaykit.MissingInputError, match=r"missing\.counts"):
        assaykit.analyze("toy_threshold", [tmp_path / "missing.counts"], host=toy_host)
    bad = tmp_path / "bad.counts"
    bad.write_text("1\nxyz\n")
    with pytest.raises(assaykit.InputError, match=r"bad.counts: line 2: 'xyz' is not a number"):
        assaykit.analyze("toy_threshold", [bad], host=toy_host)
    with pytest.raises(assaykit.InputError, match="not a file assay 'toy_threshold' reads"):
        assaykit.analyze("toy_threshold", [tmp_path / "x.csv"], host=toy_host)
    with pytest.raises(assaykit.UsageError, match="unknown role 'ctl'"):
        assaykit.analyze("toy_threshold", {a: "ctl"}, host=toy_host)
    # every one of them is an AssaykitError
    for exc in (
        assaykit.ParamsError,
        assaykit.UnknownAssayError,
        assaykit.InputError,
        assaykit.UsageError,
        assaykit.AnalysisError,
    ):
        assert issubclass(exc, assaykit.AssaykitError)


def test_unexpected_plugin_exception_becomes_analysis_error(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.counts"
    empty.write_text("# nothing\n")
    a = write_counts(tmp_path / "a.counts", [1.0])
    # no control and an empty sample: numpy median of nothing inside the plugin -> ValueError path
    with pytest.raises(assaykit.AssaykitError):
        assaykit.analyze("toy_threshold", [a, empty], host=toy_host)


def test_run_returns_records_and_logs_instead_of_printing(
    toy_host: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_counts(tmp_path / "in" / "a.counts", [1.0, 2.0])
    caplog.set_level(logging.INFO, logger="assaykit")
    # an in-process `assaykit` CLI call elsewhere in the session quiets assaykit.batch
    caplog.set_level(logging.INFO, logger="assaykit.batch")
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host
    )
    assert capsys.readouterr() == ("", "")
    assert any("done toy_threshold/a" in m for m in caplog.messages)
    assert res.exit_code == 0 and len(res.records) == 7
    assert isinstance(res.records[0], assaykit.Record)
    assert res.to_pandas().shape[0] == 7
