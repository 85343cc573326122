"""The resistance profile: per cell line, the assays' profile metrics side by side.

Why: a lab's question, "why is this line resistant?", needs the IC50, the
RARB methylation call, the protein and mRNA levels, P-gp activity and
apoptosis of each cell line in one row. Each assay declares which of its
metrics join (:class:`~assaykit.assay.ProfileMetric`); this module gathers
them from the run's result table after the store, so the profile always
reflects every stored experiment of the run, and a third-party assay joins by
declaring its own.

Cell lines are matched by the sheet's ``cell_line`` column. A record without
one counts for a cell line when it is a per-cell-line record (its sample id is
the line) or when its sample id (or, for per-target entities, the sample part
of its entity) is exactly a cell line named elsewhere in the run: a qPCR run
names its samples inside the file. Nothing is matched by similarity.

The profile's values are records too (``assay="profile"``,
``entity_type="cell_line"``, ``entity`` the cell line), joined onto the result
table so results.csv holds them; their ``experiment`` and ``input_path`` name
the source experiments and files (``;``-joined), their QC status is the worst
of their sources' and their flags the union. ``profile.csv`` adds, per value,
the source record ids, sample ids and the number of records combined.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assaykit._files import atomic_write
from assaykit._version import __version__
from assaykit.assay import ProfileMetric
from assaykit.records import (
    RECORD_FIELDS,
    SCHEMA_VERSION,
    ResultTable,
    make_record_id,
    utc_now,
)

if TYPE_CHECKING:
    from assaykit.assay import Assay

PROFILE_ASSAY = "profile"
PROFILE_CSV = "profile.csv"
PROFILE_PLUGIN = "assaykit.profile"
_RANK = {"pass": 0, "warn": 1, "fail": 2}
PROFILE_CSV_COLUMNS = (
    "cell_line",
    "column",
    "label",
    "assay",
    "metric",
    "target",
    "condition",
    "value_num",
    "value_str",
    "unit",
    "combine",
    "n_records",
    "qc_status",
    "qc_flags",
    "experiments",
    "sample_ids",
    "input_paths",
    "source_record_ids",
)


def _heading(label: str, target: str, by: Mapping[str, str]) -> str:
    head = f"{target} {label}" if target else label
    if by:
        head += " · " + ", ".join(_condition_words(k, v) for k, v in by.items())
    return head


def _condition_words(column: str, value: str) -> str:
    """A condition as a lab writes it: ``5 µM``, ``+ verapamil``, ``DMSO``."""
    if column == "dose_uM":
        return f"{value} µM"
    if column == "inhibitor":
        return f"+ {value}"
    if column == "treatment":
        return value
    return f"{column} {value}"


@dataclass
class ProfileValue:
    """One cell line's value of one profile column, with where it came from."""

    cell_line: str
    column: str
    label: str
    assay: str
    metric: str
    target: str
    by: dict[str, str]
    value_num: float | None
    value_str: str | None
    unit: str | None
    combine: str
    qc_status: str
    qc_flags: list[str]
    experiments: list[str]
    sample_ids: list[str]
    input_paths: list[str]
    input_hashes: list[str]
    source_record_ids: list[str]
    position: int = 100

    @property
    def condition(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.by.items())

    @property
    def heading(self) -> str:
        """The column heading in words: target, label and condition."""
        return _heading(self.label, self.target, self.by)


@dataclass
class Profile:
    """The run's profile: its values, in cell-line and declaration order."""

    values: list[ProfileValue] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.values)

    @property
    def cell_lines(self) -> list[str]:
        return list(dict.fromkeys(v.cell_line for v in self.values))

    @property
    def columns(self) -> list[tuple[str, str]]:
        """(column key, heading), each once, by the assays' ``position`` then first seen."""
        ordered = sorted(self.values, key=lambda v: v.position)  # stable
        return list(dict.fromkeys((v.column, v.heading) for v in ordered))

    def get(self, cell_line: str, column: str) -> ProfileValue | None:
        for v in self.values:
            if v.cell_line == cell_line and v.column == column:
                return v
        return None


def _split(v: Any) -> list[str]:
    return [x for x in str(v or "").split(";") if x]


def known_cell_lines(table: ResultTable) -> set[str]:
    """Every cell line the run names: the sheet's ``cell_line`` values (one line only) and
    the sample ids of per-cell-line records."""
    cols = table.columns
    lines: set[str] = set()
    i_line = cols.index("cell_line") if "cell_line" in cols else None
    i_et, i_sid = cols.index("entity_type"), cols.index("sample_id")
    for r in table.rows:
        if i_line is not None:
            parts = _split(r[i_line])
            if len(parts) == 1:
                lines.add(parts[0])
        if r[i_et] == "cell_line":
            lines.add(r[i_sid])
    return lines


def _cell_line(
    rec: Mapping[str, Any], pm: ProfileMetric, known: set[str]
) -> tuple[str, str] | None:
    """(cell line, target) of a source record, or None when it names no one cell line."""
    entity = str(rec["entity"])
    target = ""
    sample_part = entity
    if pm.target_sep:
        sample_part, sep, target = entity.rpartition(pm.target_sep)
        if not sep:
            return None
    lines = _split(rec.get("cell_line"))
    if len(lines) == 1:
        return lines[0], target
    if lines:  # several lines pooled into one record: not one line's value
        return None
    for cand in (rec["sample_id"] if rec["entity_type"] == "cell_line" else None,
                 sample_part if pm.target_sep else None, rec["sample_id"]):
        if cand and cand in known:
            return str(cand), target
    return None


def _role_ok(rec: Mapping[str, Any], roles: tuple[str, ...] | None) -> bool:
    if roles is None:
        return True
    have = _split(rec.get("role"))
    return not have or all(r in roles for r in have)


def _combine(values: list[Any], how: str) -> tuple[float | None, str | None]:
    if how == "calls":
        texts = [str(v) for v in values if v is not None]
        counts: dict[str, int] = {}
        for t in texts:
            counts[t] = counts.get(t, 0) + 1
        if len(counts) == 1:
            return None, texts[0]
        return None, "; ".join(f"{k} ×{n}" for k, n in counts.items())
    nums = [float(v) for v in values]
    if not nums or not all(math.isfinite(x) for x in nums):
        return None, None
    return (statistics.median(nums) if how == "median" else statistics.fmean(nums)), None


def build_profile(table: ResultTable, assays: Mapping[str, Assay | None]) -> Profile:
    """Gather every declared profile metric of the run's records, per cell line.

    A value whose sources include a failed record, or that cannot be combined
    (a missing or non-finite number), keeps ``qc_status`` ``fail`` and no
    number, so the profile never shows a number its sources do not support.
    """
    declared = [
        (name, pm)
        for name, assay in assays.items()
        for pm in (getattr(assay, "profile", ()) if assay is not None else ())
    ]
    wanted = {(name, m) for name, pm in declared for m in pm.metrics}
    if not wanted:
        return Profile()
    known = known_cell_lines(table)
    i_assay, i_metric = table.columns.index("assay"), table.columns.index("metric")
    cols = table.columns
    by_assay: dict[str, list[dict[str, Any]]] = {}
    for row in table.rows:  # only the declared metrics' records become dicts
        if (row[i_assay], row[i_metric]) in wanted:
            by_assay.setdefault(row[i_assay], []).append(dict(zip(cols, row, strict=True)))
    Key = tuple[str, ProfileMetric, str, tuple[tuple[str, str], ...], str]
    groups: dict[Key, list[dict[str, Any]]] = {}
    for name, pm in declared:
        metrics = set(pm.metrics)
        for rec in by_assay.get(name, ()):
            if rec["entity_type"] != pm.entity_type or rec["metric"] not in metrics:
                continue
            if not _role_ok(rec, pm.roles):
                continue
            by = tuple((b, str(rec.get(b) or "")) for b in pm.by)
            if any(not v or ";" in v for _, v in by):
                continue
            ct = _cell_line(rec, pm, known)
            if ct is not None:
                groups.setdefault((name, pm, ct[0], by, ct[1]), []).append(rec)
    values = [
        _value(name, pm, line, dict(by), target, recs)
        for (name, pm, line, by, target), recs in groups.items()
    ]
    lines = sorted({v.cell_line for v in values})
    col_order = list(dict.fromkeys(v.column for v in values))
    values.sort(key=lambda v: (lines.index(v.cell_line), v.position, col_order.index(v.column)))
    return Profile(values)


def _value(
    assay: str, pm: ProfileMetric, line: str, by: dict[str, str], target: str,
    recs: list[dict[str, Any]],
) -> ProfileValue:
    status = max((str(r["qc_status"]) for r in recs), key=lambda s: _RANK.get(s, 2))
    flags = list(dict.fromkeys(f for r in recs for f in (r["qc_flags"] or [])))
    if len(pm.metrics) > 1:  # a sum of parts per source entity
        parts: dict[tuple[str, str], dict[str, Any]] = {}
        for r in recs:
            parts.setdefault((r["experiment"], r["entity"]), {})[r["metric"]] = r["value_num"]
        raw: list[Any] = [
            sum(p[m] for m in pm.metrics)
            if all(p.get(m) is not None for m in pm.metrics)
            else math.nan
            for p in parts.values()
        ]
    else:
        raw = [r["value_str"] if pm.combine == "calls" else r["value_num"] for r in recs]
        raw = [math.nan if v is None and pm.combine != "calls" else v for v in raw]
    num, text = _combine(raw, pm.combine)
    n_sources = len({(r["experiment"], r["entity"]) for r in recs})
    if status == "fail" or (num is None and text is None):
        status, num = "fail", None
        if "profile_not_combined" not in flags and text is None:
            flags.append("profile_not_combined")
    units = {r["unit"] for r in recs}
    column = ".".join((assay, pm.key)) + (f"[{target}]" if target else "")
    if by:
        column += "@" + ",".join(f"{k}={v}" for k, v in by.items())
    return ProfileValue(
        cell_line=line,
        column=column,
        label=pm.label,
        assay=assay,
        metric=pm.key,
        target=target,
        by=by,
        value_num=num,
        value_str=text,
        unit=units.pop() if len(units) == 1 else None,
        combine=pm.combine if n_sources > 1 else "single",
        qc_status=status,
        qc_flags=flags,
        experiments=list(dict.fromkeys(str(r["experiment"]) for r in recs)),
        sample_ids=list(dict.fromkeys(str(r["sample_id"]) for r in recs)),
        input_paths=list(dict.fromkeys(p for r in recs for p in _split(r["input_path"]))),
        input_hashes=sorted({h for r in recs for h in _split(r["input_sha256"])}),
        source_record_ids=[str(r["record_id"]) for r in recs],
        position=pm.position,
    )


def profile_table(profile: Profile, table: ResultTable, run_id: str) -> ResultTable:
    """``table`` with the profile's values appended as records (``assay="profile"``).

    Their condition columns say which cell line, target and condition the value is of.
    """
    if not profile:
        return table
    extra = [c for v in profile.values for c in ("cell_line", "target", *v.by)]
    conds = list(table.condition_columns)
    for c in dict.fromkeys(extra):
        if c not in conds:
            conds.append(c)
    conds_sorted = sorted(conds)
    columns = [*RECORD_FIELDS, *conds_sorted]
    n = len(RECORD_FIELDS)
    old_idx = [table.columns.index(c) if c in table.columns else None for c in conds_sorted]
    rows = [(*r[:n], *(r[i] if i is not None else None for i in old_idx)) for r in table.rows]
    now = utc_now()
    for v in profile.values:
        rec = {
            "schema_version": SCHEMA_VERSION,
            "record_id": make_record_id(
                assay=PROFILE_ASSAY,
                experiment=";".join(v.experiments),
                input_hashes=v.source_record_ids,
                sample_id=v.cell_line,
                entity_type="cell_line",
                entity=v.cell_line,
                metric=v.column,
                params_sha="",
            ),
            "run_id": run_id,
            "assay": PROFILE_ASSAY,
            "plugin": PROFILE_PLUGIN,
            "plugin_version": __version__,
            "assaykit_version": __version__,
            "experiment": ";".join(v.experiments),
            "sample_id": v.cell_line,
            "entity_type": "cell_line",
            "entity": v.cell_line,
            "metric": v.column,
            "value_num": v.value_num,
            "value_str": v.value_str,
            "unit": v.unit,
            "input_path": ";".join(v.input_paths),
            "input_sha256": ";".join(v.input_hashes),
            "instrument": None,
            "acquired_at": None,
            "params_sha256": "",
            "processed_at": now,
            "qc_status": v.qc_status,
            "qc_flags": list(v.qc_flags),
        }
        cond = {"cell_line": v.cell_line, "target": v.target or None, **v.by}
        rows.append(
            (*(rec[f] for f in RECORD_FIELDS), *(cond.get(c) for c in conds_sorted))
        )
    return ResultTable(columns=columns, rows=rows)


def write_profile_csv(profile: Profile, path: Path) -> Path:
    """``profile.csv``: one row per cell line and profile column, with its sources."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(PROFILE_CSV_COLUMNS)
        for v in profile.values:
            w.writerow(
                [
                    v.cell_line,
                    v.column,
                    v.heading,
                    v.assay,
                    v.metric,
                    v.target,
                    v.condition,
                    "" if v.value_num is None else repr(v.value_num),
                    v.value_str or "",
                    v.unit or "",
                    v.combine,
                    len(v.source_record_ids),
                    v.qc_status,
                    ";".join(v.qc_flags),
                    ";".join(v.experiments),
                    ";".join(v.sample_ids),
                    ";".join(v.input_paths),
                    ";".join(v.source_record_ids),
                ]
            )
    return path


def report_rows(profile: Profile) -> tuple[list[str], list[list[dict[str, str]]]]:
    """The report's table: one row per profile column (what was measured), one column per
    cell line, so the lines sit side by side; each cell has its text, QC class, the exact
    value to sort by and, on hover, the experiments, record count and flags behind it."""
    lines = profile.cell_lines
    heads = ["measure", "assay", *lines]
    out: list[list[dict[str, str]]] = []
    for key, heading in profile.columns:
        row = [
            {"text": heading, "cls": "", "value": "", "title": key},
            {"text": key.split(".", 1)[0], "cls": "", "value": "", "title": ""},
        ]
        for line in lines:
            v = profile.get(line, key)
            if v is None:
                row.append({"text": "—", "cls": "", "value": "", "title": "not measured"})
                continue
            text = _fmt(v.value_num) if v.value_num is not None else (v.value_str or "no value")
            if v.unit and v.value_num is not None:
                text += f" {v.unit}"
            if v.qc_status != "pass":
                text += f" ({v.qc_status})"
            row.append(
                {
                    "text": text,
                    "cls": f"qc-{v.qc_status}",
                    "value": "" if v.value_num is None else repr(v.value_num),
                    "title": (
                        f"{'; '.join(v.experiments)} · {len(v.source_record_ids)} record(s)"
                        + (f" · flags: {', '.join(v.qc_flags)}" if v.qc_flags else "")
                    ),
                }
            )
        out.append(row)
    return heads, out


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.0f}"


def profile_figure(profile: Profile) -> Any:
    """Small multiples: one panel per profile metric (and target), one bar per cell line
    (grouped by condition where the metric has one), text values (calls) written out.
    Each bar carries its value and any QC status other than pass; a cell line with no
    value in a panel is named ("no value: …"), so an absent bar is never read as zero.
    Drawn straight to pixels (:class:`assaykit.raster.RasterFigure`): ~20 ms, where
    matplotlib took ~500 ms with its import."""
    from assaykit.raster import RasterFigure, Rectangle, text_mask, wrap_text

    panels: dict[tuple[str, str], list[ProfileValue]] = {}
    for v in sorted(profile.values, key=lambda v: v.position):  # stable: declaration order
        panels.setdefault((f"{v.assay}.{v.metric}", v.target), []).append(v)
    lines = profile.cell_lines
    colors = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
    ncol = min(4, max(1, len(panels)))
    nrow = math.ceil(len(panels) / ncol)
    w, h = 3.5 * ncol, 2.9 * nrow + 0.7
    fig = RasterFigure(w, h)
    fig.subplots_adjust(left=0.05, right=0.99, top=1 - 0.75 / h, bottom=0.75 / h,
                        wspace=0.3, hspace=0.8)
    for k, ((_, target), vals) in enumerate(panels.items()):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        v0 = vals[0]
        ax.set_title(f"{target} {v0.label}" if target else v0.label, fontsize=10, loc="left")
        ax.tick_params(labelsize=9)
        missing = [x for x in lines if all(v.cell_line != x for v in vals)]
        if all(v.value_num is None for v in vals) and any(v.value_str for v in vals):
            ax.set_axis_off()
            y = 0.95
            for line in lines:
                got = next((v for v in vals if v.cell_line == line), None)
                text = (got.value_str or "no value") if got else "not measured"
                calls = text.split("; ")
                ax.text(0.0, y, f"{line}:", fontsize=10, weight="bold", transform=ax.transAxes,
                        va="top")
                for c in calls:
                    y -= 0.13
                    ax.text(0.05, y, c.replace("_", " "), fontsize=10, transform=ax.transAxes,
                            va="top")
                y -= 0.17
            continue
        conds = list(dict.fromkeys(v.condition for v in vals))
        grouped = conds != [""]
        width = 0.8 / max(1, len(lines)) if grouped else 0.7
        tops = [0.0]
        for j, c in enumerate(conds):
            for i, line in enumerate(lines):
                got = next((v for v in vals if v.cell_line == line and v.condition == c), None)
                x = (j - 0.4 + width * (i + 0.5)) if grouped else float(i)
                if got is None:
                    continue
                if got.value_num is None:
                    ax.text(x, 0, "no value", rotation=90, fontsize=9, ha="center",
                            va="bottom")
                    continue
                bw = width * 0.95
                ax.add_patch(Rectangle((x - bw / 2, 0.0), bw, got.value_num,
                                       facecolor=colors[i % len(colors)], edgecolor="none"))
                tops.append(got.value_num)
                label = _fmt(got.value_num)
                if got.qc_status != "pass":
                    label += f"\n{got.qc_status}"
                ax.text(x, got.value_num, label, fontsize=9, ha="center", va="bottom",
                        linespacing=0.9)
        if grouped:
            labels = [
                "\n".join(_condition_words(k2, x2) for k2, x2 in
                           next(v for v in vals if v.condition == c).by.items())
                for c in conds
            ]
            ax.set_xticks(list(range(len(conds))))
            x0, _, x1, _ = ax.box
            room = (x1 - x0) / len(conds) - 8  # px per condition, less a gap
            ax.set_xticklabels([wrap_text(s, room, 9.0) for s in labels])
            ax.set_xlim(-0.5, len(conds) - 0.5)
        else:
            ax.set_xticks(list(range(len(lines))))
            ax.set_xticklabels(lines)
            ax.set_xlim(-0.5, len(lines) - 0.5)
        if missing:
            ax.text(0.98, 0.97, "no value: " + ", ".join(missing), fontsize=9,
                    ha="right", va="top", transform=ax.transAxes, color="0.35")
        lo, hi = min(tops), max(tops)
        pad = 0.3 * ((hi - lo) or 1.0)  # room above the bars for their labels
        ax.set_ylim(lo - (pad if lo < 0 else 0.0), hi + pad)
        if v0.unit:
            ax.set_ylabel(v0.unit, fontsize=9)
    # the legend: a coloured square and the cell line, right-aligned at the top
    x = 0.99 * fig.width_px
    for i, line in reversed(list(enumerate(lines))):
        entry = f"\u25a0 {line}"
        fig.text(x / fig.width_px, 1 - 0.12 / h, entry, ha="right", va="top", fontsize=10,
                 color=colors[i % len(colors)])
        x -= text_mask(entry, 10.0).shape[1] + 24  # px: the entry and a gap
    fig.suptitle("Resistance profile per cell line", fontsize=12, x=0.01, ha="left",
                 y=1 - 0.1 / h)
    return fig


__all__: Sequence[str] = (
    "Profile",
    "ProfileValue",
    "build_profile",
    "profile_figure",
    "profile_table",
    "report_rows",
    "write_profile_csv",
)
