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
from assaykit.records import ResultTable, utc_now
from assaykit.store import QCFinding, StoredFigure

if TYPE_CHECKING:
    from assaykit.execute import ExperimentStatus

MAX_REPORT_ROWS = 20_000
_SHOWN = (
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
    if v is None:
        return {"text": "", "cls": ""}
    if col == "qc_status":
        return {"text": str(v), "cls": str(v) if v in ("pass", "warn", "fail") else ""}
    if isinstance(v, float):
        return {"text": f"{v:.6g}", "cls": "num"}
    if isinstance(v, list | tuple):
        return {"text": ", ".join(map(str, v)), "cls": ""}
    return {"text": str(v), "cls": ""}


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
) -> Path:
    """Render the report. ``conformance`` maps an input path to its deviations
    from its format's standard (``Reader.conformance``); files without any are
    listed as conforming, so a reader sees which files were checked."""
    cols = [c for c in _SHOWN if c in table.columns] + table.condition_columns
    idx = [table.columns.index(c) for c in cols]
    rows = [[_cell(table.columns[i], r[i]) for i in idx] for r in table.rows[:MAX_REPORT_ROWS]]
    by_exp: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in figures:
        try:
            data = (out / f.path).read_bytes()
        except OSError:
            continue
        by_exp.setdefault((f.assay, f.experiment), []).append(
            {
                "name": f.name,
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
