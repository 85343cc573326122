"""The self-contained HTML report: the results table and every QC figure in one file.

Figures are embedded as base64 PNG so the page can be mailed or archived on
its own. Every user-supplied string (sample ids, conditions, file names,
error messages) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from assaykit._files import atomic_write
from assaykit._version import __version__
from assaykit.assay import Summary, SummaryColumn
from assaykit.profile import PROFILE_ASSAY
from assaykit.records import ResultTable, utc_now
from assaykit.store import QCFinding, StoredFigure

if TYPE_CHECKING:
    from assaykit.assay import Assay
    from assaykit.execute import ExperimentStatus
    from assaykit.profile import Profile

MAX_REPORT_ROWS = 20_000
_SHOWN = (
    "assay",
    "experiment",
    "sample_id",
    "entity_type",
    "entity",
    "metric",
    "value_num",
    "value_str",
    "unit",
    "qc_status",
    "qc_flags",
    "input_path",
)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("assaykit", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _cell(col: str, v: Any) -> dict[str, str]:
    """A long-table cell: its text, CSS class and (numbers) the exact value to sort by."""
    if v is None:
        return {"text": "", "cls": "", "value": ""}
    if col == "qc_status":
        cls = f"qc qc-{v}" if v in ("pass", "warn", "fail") else ""
        return {"text": str(v), "cls": cls, "value": ""}
    if isinstance(v, float):
        return {"text": f"{v:.6g}", "cls": "num", "value": repr(v)}
    if isinstance(v, bool):
        return {"text": str(v), "cls": "", "value": ""}
    if isinstance(v, int):
        return {"text": str(v), "cls": "num", "value": str(v)}
    if isinstance(v, list | tuple):
        return {"text": ", ".join(map(str, v)), "cls": "", "value": ""}
    return {"text": str(v), "cls": "", "value": ""}


_RANK = {"pass": 0, "warn": 1, "fail": 2}


def _fmt(v: Any) -> str:
    """A value as a lab writes it: 4 significant digits, whole numbers up to 10⁹ in full."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.0f}" if 1e4 <= abs(v) < 1e9 else f"{v:.4g}"
    return str(v)


def _value(rec: Mapping[str, Any]) -> Any:
    """What a record says: its number, or its text when it has no number (a call, a source)."""
    v = rec.get("value_num")
    return rec.get("value_str") if v is None else v


#: the samples (files) an assay could not analyse: every assay's summary shows them
_FAILED = Summary(
    "file", (SummaryColumn("error", "why it could not be analysed"),), "could not be analysed"
)


def _fallback_summaries(assay: Assay | None, recs: Sequence[Mapping[str, Any]]) -> list[Summary]:
    """One table per entity type, every metric a column: for an assay that declares none."""
    order: dict[str, dict[str, None]] = {}
    for m in getattr(assay, "metrics", ()):
        order.setdefault(m.entity_type, {})[m.metric] = None
    for r in recs:
        if r["metric"] != "error":
            order.setdefault(r["entity_type"], {})[r["metric"]] = None
    seen = {(r["entity_type"], r["metric"]) for r in recs}
    return [
        Summary(et, tuple(SummaryColumn(m) for m in ms if (et, m) in seen), f"{et} (all metrics)")
        for et, ms in order.items()
        if any((et, m) in seen for m in ms)
    ]


def summary_tables(
    table: ResultTable, assays: Mapping[str, Assay | None] | None = None
) -> list[dict[str, Any]]:
    """The per-assay summary tables the report shows first, as plain data.

    Each assay's declared :class:`~assaykit.assay.Summary` tables (or, when it
    declares none, a pivot of all its metrics per entity type): one row per
    (experiment, sample, entity) of the table's entity type, one cell per
    column, and the row's QC status, the worst of the records it shows.
    """
    by_assay: dict[str, list[dict[str, Any]]] = {}
    for r in table.dicts():
        if r["assay"] != PROFILE_ASSAY:  # the profile has its own section at the top
            by_assay.setdefault(r["assay"], []).append(r)
    out: list[dict[str, Any]] = []
    for name, recs in by_assay.items():
        assay = (assays or {}).get(name)
        decl = tuple(getattr(assay, "summaries", ())) or tuple(_fallback_summaries(assay, recs))
        index: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
        per_exp: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for r in recs:
            index[(r["experiment"], r["sample_id"], r["entity_type"], r["entity"], r["metric"])] = r
            per_exp.setdefault((r["experiment"], r["entity_type"], r["metric"]), []).append(r)
        if any(r["metric"] == "error" for r in recs):  # failed samples are never left out
            decl += (_FAILED,)
        for s in decl:
            out.append(_one_summary(name, s, recs, index, per_exp))
    return [t for t in out if t["rows"]]


def _one_summary(
    assay: str,
    s: Summary,
    recs: Sequence[dict[str, Any]],
    index: Mapping[tuple[str, str, str, str, str], dict[str, Any]],
    per_exp: Mapping[tuple[str, str, str], list[dict[str, Any]]],
) -> dict[str, Any]:
    own = {c.metric for c in s.columns if c.entity_type in (None, s.entity_type)}
    keys: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in recs:
        if r["entity_type"] == s.entity_type and r["metric"] in own:
            keys.setdefault((r["experiment"], r["sample_id"], r["entity"]), r)
    rows = []
    for (exp, sample, entity), first in keys.items():
        cells, shown = [], []
        for c in s.columns:
            et = c.entity_type or s.entity_type
            if et == s.entity_type:
                rec = index.get((exp, sample, et, entity, c.metric))
            else:  # context: the record of this sample, else the experiment's only one
                cands = per_exp.get((exp, et, c.metric), [])
                mine = [x for x in cands if x["sample_id"] == sample]
                rec = mine[0] if mine else (cands[0] if len(cands) == 1 else None)
            ci = [index.get((exp, sample, et, entity, m)) if m else None for m in (c.low, c.high)]
            shown += [x for x in (rec, *ci) if x is not None]
            v = _value(rec) if rec is not None else None
            text = _fmt(v)
            if rec is not None and any(x is not None for x in ci):
                lo, hi = (_fmt(_value(x)) if x is not None else "?" for x in ci)
                text += f" [{lo}, {hi}]"
            cells.append(
                {
                    "text": text,
                    "value": "" if v is None else repr(v) if isinstance(v, float) else str(v),
                    "cls": "num" if isinstance(v, int | float) else "",
                    "metric": c.metric,
                    "entity_type": et,
                }
            )
        status = max((x["qc_status"] for x in shown), key=lambda q: _RANK.get(q, 0), default="")
        flags = sorted({f for x in shown for f in (x.get("qc_flags") or [])})
        rows.append(
            {
                "experiment": exp,
                "sample_id": sample,
                "entity": entity,
                "conditions": [_fmt(first.get(c)) for c in s.conditions],
                "cells": cells,
                "status": status,
                "flags": flags,
            }
        )
    return {
        "assay": assay,
        "title": f"{assay}: {s.title}" if s is _FAILED else s.title or f"{assay}: {s.entity_type}",
        "entity_type": s.entity_type,
        "conditions": list(s.conditions),
        "columns": [c.heading for c in s.columns],
        "metrics": [c.metric for c in s.columns],
        "rows": rows,
        "show_entity": any(r["entity"] != r["sample_id"] for r in rows),
    }


def _figure_title(name: str, sample_id: str | None, titles: Mapping[str, str]) -> tuple[str, str]:
    """A figure's title in words and what it is of (its sample, file or gene).

    The title is the assay's declared words for the longest start of the
    name it knows (``Assay.figure_titles``), else the name's kind in words.
    """
    kind, _, rest = name.partition(":")
    best = max((k for k in titles if name.startswith(k)), key=len, default=None)
    title = titles[best] if best else kind.replace("_", " ").strip()
    of = " · ".join(x for x in (sample_id, rest) if x)
    return title, of


def _profile(profile: Profile | None, figure: bytes | None) -> dict[str, Any] | None:
    """The resistance profile section's data, or ``None`` (no section) without values."""
    if not profile:
        return None
    from assaykit.profile import report_rows

    heads, rows = report_rows(profile)
    return {
        "columns": heads,
        "rows": rows,
        "b64": base64.b64encode(figure).decode("ascii") if figure else "",
    }


def write_report(
    path: Path,
    *,
    run_id: str,
    table: ResultTable,
    experiments: Sequence[ExperimentStatus],
    figures: Sequence[StoredFigure],
    findings: Sequence[QCFinding],
    out: Path,
    ignored: Sequence[str],
    conformance: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    assays: Mapping[str, Assay | None] | None = None,
    profile: Profile | None = None,
    profile_figure: bytes | None = None,
) -> Path:
    """Render the report. ``conformance`` maps an input path to its deviations
    from its format's standard (``Reader.conformance``); files without any are
    listed as conforming, so a reader sees which files were checked.

    ``assays`` (name to plugin) supplies each assay's declared summary tables.
    ``profile`` (:func:`assaykit.profile.build_profile`) and ``profile_figure``
    (PNG bytes) fill the "Resistance profile" section at the top: one row per
    cell line, each cell's QC as colour and text, its sources on hover; without
    values the section is absent."""
    cols = [c for c in _SHOWN if c in table.columns] + table.condition_columns
    idx = [table.columns.index(c) for c in cols]
    rows = [[_cell(table.columns[i], r[i]) for i in idx] for r in table.rows[:MAX_REPORT_ROWS]]
    by_exp: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in figures:
        title, of = _figure_title(
            f.name, f.sample_id, dict(getattr((assays or {}).get(f.assay), "figure_titles", ()))
        )
        try:
            data = (out / f.path).read_bytes()
        except OSError:
            continue
        by_exp.setdefault((f.assay, f.experiment), []).append(
            {
                "name": f.name,
                "title": title,
                "of": of,
                "sample_id": f.sample_id,
                "caption": f.caption,
                "b64": base64.b64encode(data).decode("ascii"),
            }
        )
    exps = [
        {
            "assay": e.assay,
            "experiment": e.experiment,
            "status": e.status,
            "ran": e.ran,
            "duration_s": e.duration_s,
            "error": e.error,
            "anchor": f"exp-{n}",
            "n": n,
            "figures": by_exp.get((e.assay, e.experiment), []),
            "findings": [f for f in findings if (f.assay, f.experiment) == (e.assay, e.experiment)],
        }
        for n, e in enumerate(experiments)
    ]
    html = (
        _env()
        .get_template("report.html.j2")
        .render(
            run_id=run_id,
            version=__version__,
            generated_at=utc_now(),
            n_experiments=len(experiments),
            n_done=sum(1 for e in experiments if e.status == "done"),
            n_failed=sum(1 for e in experiments if e.status != "done"),
            n_records=len(table),
            experiments=exps,
            summaries=summary_tables(table, assays),
            profile=_profile(profile, profile_figure),
            columns=cols,
            rows=rows,
            truncated=len(table) > MAX_REPORT_ROWS,
            ignored=list(ignored),
            conformance=[
                {"path": p, "deviations": list(devs)} for p, devs in (conformance or {}).items()
            ],
        )
    )
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(html)
    return path
