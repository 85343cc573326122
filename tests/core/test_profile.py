"""The resistance profile's rules on hand-made records, whose answers are plain arithmetic.

What is checked: replicates are averaged (or their median taken) per cell line and
condition; calls are counted; a failed source gives a failed value with no number; a
control role and a pooled cell line stay out; a sample id counts for a cell line only
when it is exactly that line's name; a lab's own assay joins by declaring a
ProfileMetric; declarations that name unknown metrics are refused. The end-to-end
check against the generators' truth is in tests/test_example_folder.py.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from assaykit import Assay, AssayResult, Metric, ProfileMetric
from assaykit.assay import declaration_problems
from assaykit.profile import build_profile, profile_figure, profile_table, write_profile_csv
from assaykit.records import RECORD_FIELDS, ResultTable

CONDS = ["cell_line", "dose_uM", "role", "treatment"]


def _row(assay: str, sample: str, metric: str, value: float | str | None, *,
         entity_type: str = "sample", entity: str | None = None, status: str = "pass",
         flags: tuple[str, ...] = (), exp: str = "e1", **cond: str) -> tuple[Any, ...]:
    rec: dict[str, Any] = {f: "" for f in RECORD_FIELDS}
    rec.update(
        assay=assay, experiment=exp, sample_id=sample, entity_type=entity_type,
        entity=entity or sample, metric=metric,
        value_num=value if isinstance(value, float) else None,
        value_str=value if isinstance(value, str) else None,
        unit="%" if metric.endswith("pct") else None, qc_status=status, qc_flags=list(flags),
        record_id=f"{assay}:{exp}:{sample}:{entity}:{metric}", input_path=f"{exp}/{sample}.fcs",
        input_sha256=f"h-{sample}",
    )
    return (*(rec[f] for f in RECORD_FIELDS), *(cond.get(c) for c in CONDS))


def _table(*rows: tuple[Any, ...]) -> ResultTable:
    return ResultTable(columns=[*RECORD_FIELDS, *CONDS], rows=list(rows))


class Apoptosis(Assay):
    name = "apo"
    version = "1"
    input_kinds = ("fcs",)
    metrics = (
        Metric("sample", "early_pct", "%", "float", "early"),
        Metric("sample", "late_pct", "%", "float", "late"),
        Metric("sample", "call", None, "str", "call"),
    )
    profile = (
        ProfileMetric(("early_pct", "late_pct"), "apoptotic %", by=("dose_uM",)),
        ProfileMetric("call", "call", combine="calls"),
    )

    def analyze(self, experiment: Any, params: Any) -> AssayResult:  # pragma: no cover
        raise NotImplementedError


class Median(Apoptosis):
    name = "apo_median"
    profile = (ProfileMetric("early_pct", "early %", combine="median"),)


def test_replicates_average_per_line_and_dose_and_parts_sum() -> None:
    t = _table(
        _row("apo", "a1", "early_pct", 10.0, cell_line="L1", dose_uM="5", role="sample"),
        _row("apo", "a1", "late_pct", 4.0, cell_line="L1", dose_uM="5", role="sample"),
        _row("apo", "a2", "early_pct", 20.0, cell_line="L1", dose_uM="5", role="sample"),
        _row("apo", "a2", "late_pct", 6.0, cell_line="L1", dose_uM="5", role="sample"),
        _row("apo", "b1", "early_pct", 1.0, cell_line="L1", dose_uM="0", role="sample"),
        _row("apo", "b1", "late_pct", 1.0, cell_line="L1", dose_uM="0", role="sample"),
        # a control tube of the same line, and a tube without a dose: neither counts
        _row("apo", "ctl", "early_pct", 99.0, cell_line="L1", dose_uM="5", role="unstained"),
        _row("apo", "ctl", "late_pct", 99.0, cell_line="L1", dose_uM="5", role="unstained"),
        _row("apo", "nd", "early_pct", 50.0, cell_line="L1", dose_uM="", role="sample"),
        _row("apo", "nd", "late_pct", 50.0, cell_line="L1", dose_uM="", role="sample"),
    )
    p = build_profile(t, {"apo": Apoptosis()})
    v5 = p.get("L1", "apo.early_pct+late_pct@dose_uM=5")
    v0 = p.get("L1", "apo.early_pct+late_pct@dose_uM=0")
    assert v5 is not None and v0 is not None
    assert v5.value_num == pytest.approx(((10 + 4) + (20 + 6)) / 2)
    assert v5.combine == "mean" and v5.sample_ids == ["a1", "a2"]
    assert v0.value_num == pytest.approx(2.0) and v0.combine == "single"
    assert v5.unit == "%" and v5.heading == "apoptotic % · 5 µM"
    assert len(p.values) == 2


def test_median_and_calls_and_failed_sources() -> None:
    t = _table(
        _row("apo_median", "a", "early_pct", 1.0, cell_line="L", role="sample"),
        _row("apo_median", "b", "early_pct", 2.0, cell_line="L", role="sample"),
        _row("apo_median", "c", "early_pct", 30.0, cell_line="L", role="sample"),
        _row("apo", "a", "call", "methylated", cell_line="L", role="sample"),
        _row("apo", "b", "call", "methylated", cell_line="L", role="sample"),
        _row("apo", "c", "call", "unmethylated", cell_line="L", role="sample",
             status="warn", flags=("faint",)),
        _row("apo", "d", "call", "methylated", cell_line="M", role="sample"),
        _row("apo_median", "f", "early_pct", 5.0, cell_line="F", role="sample",
             status="fail", flags=("gate_failed",)),
        _row("apo_median", "g", "early_pct", 7.0, cell_line="F", role="sample"),
    )
    p = build_profile(t, {"apo": Apoptosis(), "apo_median": Median()})
    med = p.get("L", "apo_median.early_pct")
    assert med is not None and med.value_num == 2.0
    calls = p.get("L", "apo.call")
    assert calls is not None and calls.value_num is None
    assert calls.value_str == "methylated ×2; unmethylated ×1"
    assert calls.qc_status == "warn" and calls.qc_flags == ["faint"]
    one = p.get("M", "apo.call")
    assert one is not None and one.value_str == "methylated"
    # a failed source: the value is failed and carries no number (never a mean marked pass)
    failed = p.get("F", "apo_median.early_pct")
    assert failed is not None and failed.qc_status == "fail" and failed.value_num is None
    assert "gate_failed" in failed.qc_flags


def test_cell_line_matching_is_exact_and_pooled_lines_stay_out() -> None:
    qpcr = type("Q", (Apoptosis,), {
        "name": "q",
        "metrics": (Metric("sample_target", "fold", None, "float", "fold"),),
        "profile": (ProfileMetric("fold", "fold", entity_type="sample_target",
                                  target_sep="|", roles=None),),
    })()
    t = _table(
        # cell lines named by the sheet elsewhere in the run
        _row("apo", "x", "call", "methylated", cell_line="SH-SY5Y", role="sample"),
        _row("apo", "y", "call", "methylated", cell_line="SH-SY5Y-R", role="sample"),
        # qPCR names samples inside the file: only an exact name counts
        _row("q", "run1", "fold", 1.0, entity_type="sample_target", entity="SH-SY5Y|ABCB1"),
        _row("q", "run1", "fold", 12.0, entity_type="sample_target",
             entity="SH-SY5Y-R|ABCB1"),
        _row("q", "run1", "fold", 3.0, entity_type="sample_target",
             entity="SH-SY5Y +iso 5uM|ABCB1"),
        _row("q", "run1", "fold", 9.0, entity_type="sample_target", entity="sh-sy5y-r|ABCB1"),
        # a record pooled over two lines is no one line's value
        _row("apo", "z", "call", "unmethylated", cell_line="SH-SY5Y;SH-SY5Y-R", role="sample"),
    )
    p = build_profile(t, {"apo": Apoptosis(), "q": qpcr})
    got = {(v.cell_line, v.column): v.value_num for v in p.values if v.assay == "q"}
    assert got == {("SH-SY5Y", "q.fold[ABCB1]"): 1.0, ("SH-SY5Y-R", "q.fold[ABCB1]"): 12.0}
    calls = {(v.cell_line, v.value_str) for v in p.values if v.assay == "apo"}
    assert calls == {("SH-SY5Y", "methylated"), ("SH-SY5Y-R", "methylated")}


def test_profile_records_csv_and_figure(tmp_path: Path) -> None:
    t = _table(
        _row("apo", "a1", "early_pct", 10.0, cell_line="L1", dose_uM="5", role="sample"),
        _row("apo", "a1", "late_pct", 4.0, cell_line="L1", dose_uM="5", role="sample"),
        _row("apo", "b1", "call", "methylated", cell_line="L2", role="sample"),
    )
    p = build_profile(t, {"apo": Apoptosis()})
    joined = profile_table(p, t, "run-1")
    prof = [r for r in joined.dicts() if r["assay"] == "profile"]
    assert len(joined) == len(t) + 2 and len(prof) == 2
    first = next(r for r in prof if r["sample_id"] == "L1")
    assert first["entity_type"] == "cell_line" and first["entity"] == "L1"
    assert first["value_num"] == pytest.approx(14.0) and first["dose_uM"] == "5"
    assert first["experiment"] == "e1" and first["input_path"] == "e1/a1.fcs"
    assert first["run_id"] == "run-1"
    write_profile_csv(p, tmp_path / "profile.csv")
    with open(tmp_path / "profile.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["cell_line"] for r in rows] == ["L1", "L2"]
    assert rows[0]["source_record_ids"].split(";") == [
        "apo:e1:a1:None:early_pct", "apo:e1:a1:None:late_pct"]
    fig = profile_figure(p)
    fig.to_array()  # a RasterFigure: its log holds every text drawn, at its px size
    texts = [t for t, _ in fig.text_log]
    assert "14" in texts  # the bar's value is written on it
    assert any("no value: L2" in s for s in texts)  # an absent bar is named, not a zero
    assert any(s.endswith("L1") for s in texts) and any(s.endswith("L2") for s in texts)
    bars = [b for ax in fig.axes for b in ax.drawn("rect")]
    assert [b["h"] for b in bars] == [pytest.approx(14.0)]  # one bar, as tall as the value
    assert min(px for _, px in fig.text_log) >= 10  # ≥ 10 px at the figure's own size


def test_declarations_are_checked() -> None:
    class Bad(Apoptosis):
        name = "bad"
        profile = (
            ProfileMetric("nope", "x"),
            ProfileMetric("call", "y", combine="sum"),
            ProfileMetric(("call", "early_pct"), "z", combine="calls"),
        )

    problems = declaration_problems(Bad())
    assert any("('sample', 'nope') is not among the declared metrics" in p for p in problems)
    assert any("combine must be one of" in p for p in problems)
    assert any("calls cannot be summed" in p for p in problems)
    assert not [p for p in declaration_problems(Apoptosis()) if "profile" in p]
