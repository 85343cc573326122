"""The report's summary tables (declared per assay, or a pivot when none is declared),
its figure titles and the resistance-profile slot, rendered without a browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from assaykit import Assay, AssayResult, Experiment, Metric, Summary, SummaryColumn
from assaykit.assay import declaration_problems
from assaykit.execute import ExperimentStatus
from assaykit.profile import Profile, ProfileValue
from assaykit.records import RECORD_FIELDS, ResultTable
from assaykit.report import summary_tables, write_report
from assaykit.store import StoredFigure

PNG = (  # a 1x1 white PNG
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
    b"\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


class _Base(Assay):
    version = "1"
    summary = "a toy"
    input_kinds = ("table",)
    metrics = (
        Metric("sample", "live_pct", "%"),
        Metric("sample", "call", None, "str"),
        Metric("sample", "ic50", "µM"),
        Metric("sample", "ic50_low", "µM"),
        Metric("sample", "ic50_high", "µM"),
        Metric("experiment", "threshold_source", None, "str"),
    )

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        raise NotImplementedError


class Declared(_Base):
    name = "declared"
    figure_titles: ClassVar[tuple[tuple[str, str], ...]] = (("dens", "Cell density"),)
    summaries = (
        Summary(
            "sample",
            (
                SummaryColumn("live_pct", "live cells %"),
                SummaryColumn("ic50", "IC50 [CI]", low="ic50_low", high="ic50_high"),
                SummaryColumn("threshold_source", "threshold from", "experiment"),
            ),
            "Toy: live cells",
            ("dose",),
        ),
    )


class Plain(_Base):
    name = "plain"


def _table(rows: list[dict[str, Any]]) -> ResultTable:
    cols = [*RECORD_FIELDS, "dose"]
    base = {c: None for c in cols}
    return ResultTable(cols, [tuple({**base, **r}.get(c) for c in cols) for r in rows])


def _rec(assay: str, sample: str, metric: str, value: Any, **kw: Any) -> dict[str, Any]:
    num = value if isinstance(value, float) else None
    return {
        "assay": assay,
        "experiment": "e1",
        "sample_id": sample,
        "entity_type": "sample",
        "entity": sample,
        "metric": metric,
        "value_num": num,
        "value_str": None if num is not None else value,
        "qc_status": "pass",
        "qc_flags": [],
        **kw,
    }


ROWS = [
    _rec("declared", "a", "live_pct", 91.23456, dose="0"),
    _rec("declared", "a", "ic50", 1.5, dose="0"),
    _rec("declared", "a", "ic50_low", 1.25, dose="0"),
    _rec("declared", "a", "ic50_high", 1.75, dose="0"),
    _rec("declared", "b", "live_pct", 40.0, dose="5", qc_status="warn", qc_flags=["few_cells"]),
    _rec("declared", "b", "call", "dead", dose="5"),
    _rec("declared", "e1", "threshold_source", "ctrl:neg", entity_type="experiment", entity="e1"),
    _rec("plain", "x", "live_pct", 12.0),
    _rec("plain", "x", "call", "alive"),
]


def test_declared_summary_rows_columns_context_ci_and_qc() -> None:
    (t,) = [
        t
        for t in summary_tables(_table(ROWS), {"declared": Declared()})
        if t["assay"] == "declared"
    ]
    assert t["title"] == "Toy: live cells"
    assert t["columns"] == ["live cells %", "IC50 [CI]", "threshold from"]
    assert [(r["sample_id"], r["conditions"]) for r in t["rows"]] == [("a", ["0"]), ("b", ["5"])]
    a, b = t["rows"]
    assert [c["text"] for c in a["cells"]] == ["91.23", "1.5 [1.25, 1.75]", "ctrl:neg"]
    assert a["cells"][0]["value"] == repr(91.23456)  # exact value kept for sorting and tests
    assert [c["text"] for c in b["cells"]] == ["40", "", "ctrl:neg"]  # no IC50 for b
    assert (a["status"], b["status"], b["flags"]) == ("pass", "warn", ["few_cells"])
    assert "call" not in t["metrics"], "only the declared columns"


def test_an_assay_declaring_no_summary_gets_a_pivot_of_its_metrics() -> None:
    for assays in ({"plain": Plain()}, {}):  # declared nothing, or not installed at all
        (t,) = [t for t in summary_tables(_table(ROWS), assays) if t["assay"] == "plain"]
        assert t["metrics"] == ["live_pct", "call"]
        assert [c["text"] for c in t["rows"][0]["cells"]] == ["12", "alive"]


def test_a_summary_column_must_name_a_declared_metric() -> None:
    class Bad(Declared):
        name = "bad"
        summaries = (Summary("sample", (SummaryColumn("viable_pct"),)),)

    assert any("viable_pct" in p for p in declaration_problems(Bad()))
    assert declaration_problems(Declared()) == []


def _write(tmp_path: Path, **kw: Any) -> str:
    (tmp_path / "figures").mkdir(exist_ok=True)
    (tmp_path / "figures" / "f.png").write_bytes(PNG)
    fig = StoredFigure("declared", "e1", "density:a.csv", "a", "figures/f.png", "kde(bw=0.3)")
    write_report(
        tmp_path / "report.html",
        run_id="r1",
        table=_table(ROWS),
        experiments=[ExperimentStatus("declared", "e1", "done", True, 0.1)],
        figures=[fig],
        findings=[],
        out=tmp_path,
        ignored=[],
        assays={"declared": Declared()},
        **kw,
    )
    return (tmp_path / "report.html").read_text(encoding="utf-8")


def test_figures_have_titles_in_words_and_the_method_one_click_away(tmp_path: Path) -> None:
    html = _write(tmp_path)
    cap = re.search(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert cap is not None
    assert "Cell density" in cap.group(1) and "a · a.csv" in cap.group(1)
    assert "<details><summary>method</summary>kde(bw=0.3)</details>" in cap.group(1)


def test_resistance_profile_slot_renders_only_when_given_rows(tmp_path: Path) -> None:
    assert 'id="resistance-profile"' not in _write(tmp_path)
    def value(line: str, column: str, label: str, num: float | None, text: str | None,
              status: str) -> ProfileValue:
        return ProfileValue(
            cell_line=line, column=column, label=label, assay=column.split(".")[0],
            metric=column.split(".")[1], target="", by={}, value_num=num, value_str=text,
            unit=None, combine="single", qc_status=status, qc_flags=[], experiments=["e"],
            sample_ids=[line], input_paths=["f"], input_hashes=["h"], source_record_ids=["r"],
        )

    prof = Profile([
        value("SH-SY5Y", "viability.ic50_uM", "IC50", 0.73, None, "pass"),
        value("SH-SY5Y-R", "viability.ic50_uM", "IC50", 2.79, None, "pass"),
        value("SH-SY5Y-R", "msp_gel.call", "MSP call", None, "<b>methylated</b>", "warn"),
    ])
    html = _write(tmp_path, profile=prof, profile_figure=PNG)
    section = html[html.index('id="resistance-profile"') : html.index('<h2 id="summary">')]
    assert "<th>measure</th><th>assay</th><th>SH-SY5Y</th><th>SH-SY5Y-R</th>" in section
    assert "SH-SY5Y-R" in section and "2.79" in section
    assert "&lt;b&gt;methylated&lt;/b&gt; (warn)" in section  # escaped like every value
    assert "—" in section  # the parental line has no MSP value: a dash, not an empty cell
    assert section.count("data:image/png;base64,") == 1
    assert html.index('id="resistance-profile"') < html.index('id="summary"'), "at the top"


def test_numbers_read_as_a_lab_writes_them() -> None:
    from assaykit.report import _fmt

    assert [_fmt(v) for v in (18429.14, 249.813, 0.000123456, 3.2e10, 7, None)] == [
        "18429",
        "249.8",
        "0.0001235",
        "3.2e+10",
        "7",
        "",
    ]


def test_samples_that_could_not_be_analysed_are_in_the_summary() -> None:
    failed = _rec(
        "declared",
        "c",
        "error",
        "FCSError: truncated",
        entity_type="file",
        entity="c.fcs",
        qc_status="fail",
        qc_flags=["error"],
    )
    tables = summary_tables(_table([*ROWS, failed]), {"declared": Declared()})
    (t,) = [t for t in tables if t["entity_type"] == "file"]
    assert t["title"] == "declared: could not be analysed"
    ((row),) = t["rows"]
    assert (row["entity"], row["cells"][0]["text"], row["status"]) == (
        "c.fcs",
        "FCSError: truncated",
        "fail",
    )
