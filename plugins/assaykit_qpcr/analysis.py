"""The ``qpcr`` analysis: wells of one run file → per (sample, target) values and flags.

Imported inside ``Qpcr.analyze`` only (it imports matplotlib for the figures).
"""

from __future__ import annotations

import re
from typing import Any

from assaykit import AnalysisError, AssayResult, Experiment, Input, QCFlag
from assaykit.qpcr.analysis import (
    Finding,
    StandardCurve,
    qc_findings,
    relative_expression,
    replicates,
    standard_curve,
)
from assaykit.qpcr.wells import Well

_NRT_SUFFIX = re.compile(r"[\s_\-]*(-RT|NRT|no[\s_\-]?RT|RT-)$", re.IGNORECASE)
ST = "sample_target"


def entity(sample: str, target: str) -> str:
    """The record entity of one (sample, target): ``sample|target``."""
    return f"{sample}|{target}"


def _setting(inp: Input, name: str, default: str) -> str:
    return inp.condition(name).strip() or default.strip()


def _nrt_pairs(wells: list[Well]) -> dict[str, str]:
    unknowns = {w.sample for w in wells if w.role == "unknown"}
    out: dict[str, str] = {}
    for w in wells:
        if w.role == "nrt":
            base = _NRT_SUFFIX.sub("", w.sample).strip()
            if base in unknowns:
                out[w.sample] = base
    return out


def analyze_experiment(experiment: Experiment, params: Any) -> AssayResult:
    res = AssayResult()
    present = experiment.present
    if not present:
        raise AnalysisError(f"experiment {experiment.name!r}: no run file present")
    for inp in present:
        analyze_run(experiment, inp, params, res)
    return res


def analyze_run(experiment: Experiment, inp: Input, params: Any, res: AssayResult) -> None:
    rel = inp.relpath
    wells: list[Well] = experiment.read(inp)
    refs = [g.strip() for g in _setting(inp, "reference_genes", params.reference_genes).split(";")]
    refs = [g for g in refs if g]
    calibrator = _setting(inp, "calibrator", params.calibrator)
    if not refs or not calibrator:
        raise AnalysisError(
            f"{rel}: the sheet row (or the parameters) must name reference_genes "
            "(';'-separated targets) and calibrator (a sample name)"
        )
    reps = replicates(wells, max_dev=params.max_dev, min_n=params.min_n, roles=("unknown",))
    targets = sorted({t for _, t in reps})
    samples = sorted({s for s, _ in reps})
    for name, what, known in (("reference gene", refs, targets), ("calibrator", [calibrator],
                                                                   samples)):
        missing = [x for x in what if x not in known]
        if missing:
            raise AnalysisError(
                f"{rel}: {name} {', '.join(map(repr, missing))} not among the run's unknown "
                f"wells ({', '.join(known) or 'none'})"
            )
    curves: dict[str, StandardCurve] = {}
    for t in sorted({w.target for w in wells if w.role == "standard"}):
        try:
            curves[t] = standard_curve(wells, t)
        except AnalysisError:
            continue
    sid = inp.sample_id
    add_well_records(res, sid, rel, wells)
    for t, c in curves.items():
        res.add(sid, "target", t, "efficiency", c.efficiency_percent, unit="%", source=rel)
        res.add(sid, "target", t, "r_squared", c.r2, source=rel)
        res.add(sid, "target", t, "slope", c.slope, unit="cycles", source=rel)
    ref_mean = {
        s: sum(reps[(s, g)].mean for g in refs) / len(refs)  # type: ignore[misc]
        for s in samples
        if all((s, g) in reps and reps[(s, g)].mean is not None for g in refs)
    }
    figure_rows: dict[str, list[tuple[str, float, float, float]]] = {}
    for (s, t), r in sorted(reps.items()):
        ent = entity(s, t)
        if r.mean is None:
            res.flag("undetected_replicate", sample_id=sid, entity=ent,
                     message=f"{rel}: {t} not detected in any replicate of {s}")
            if t not in refs:
                res.flag("not_quantified", severity="fail", sample_id=sid, entity=ent,
                         message=f"{rel}: no fold change for {t} in {s}: {t} not detected")
            continue
        res.add(sid, ST, ent, "cq_mean", r.mean, unit="cycles", source=rel)
        res.add(sid, ST, ent, "cq_sd", r.sd, unit="cycles", source=rel)
        res.add(sid, ST, ent, "n_replicates", r.n, source=rel)
        if r.outliers:
            res.flag("replicate_outlier", sample_id=sid, entity=ent,
                     message=f"{rel}: {t} in {s}: excluded {', '.join(r.outlier_wells)} "
                     f"(Cq {', '.join(f'{x:.2f}' for x in r.outliers)})")
        if t in refs:
            continue
        if s not in ref_mean:
            missing = [g for g in refs if (s, g) not in reps or reps[(s, g)].mean is None]
            res.flag("not_quantified", severity="fail", sample_id=sid, entity=ent,
                     message=f"{rel}: no fold change for {t} in {s}: reference gene "
                     f"{', '.join(missing)} not detected in {s}")
            continue
        res.add(sid, ST, ent, "delta_ct", r.mean - ref_mean[s], unit="cycles", source=rel)
        genes = (t, *refs)
        eff = (
            {g: curves[g].amplification for g in genes}
            if params.efficiency_correction and all(g in curves for g in genes)
            else None
        )
        try:
            e = relative_expression(reps, t, refs, s, calibrator, efficiencies=eff)
        except AnalysisError as exc:
            res.flag("not_quantified", severity="fail", sample_id=sid, entity=ent,
                     message=f"{rel}: no fold change for {t} in {s}: {exc}")
            continue
        fl = list(e.flags)
        res.add(sid, ST, ent, "delta_delta_ct", e.ddct, unit="cycles", source=rel, flags=fl)
        res.add(sid, ST, ent, "fold_change", e.fold, source=rel, flags=fl)
        res.add(sid, ST, ent, "fold_change_low", e.fold_low, source=rel, flags=fl)
        res.add(sid, ST, ent, "fold_change_high", e.fold_high, source=rel, flags=fl)
        res.add(sid, ST, ent, "method", e.method, source=rel)
        figure_rows.setdefault(t, []).append((s, e.fold, e.fold_low, e.fold_high))
    pairs = _nrt_pairs(wells)
    for f in qc_findings(wells, ntc_cutoff=params.ntc_cutoff, nrt_min_gap=params.nrt_min_gap,
                         nrt_pairs=pairs):
        for ent in control_scope(f, wells, sorted(reps), refs, calibrator, pairs):
            res.flag(f.code, sample_id=sid, entity=ent, message=f"{rel}: {f.message}")
    if experiment.figures:
        for t, rows in sorted(figure_rows.items()):
            method = "Pfaffl (efficiency-corrected)" if t in curves else "2^-ΔΔCt (Livak)"
            res.add_figure(
                f"fold_change:{rel}:{t}",
                bar_figure(t, rows, calibrator),
                sample_id=sid,
                caption=(
                    f"{t} fold change relative to {calibrator} ({method}), normalised to "
                    f"{', '.join(refs)}; bars: 2^-(ΔΔCt ± SD) from the replicate SDs. "
                    f"Run {rel}."
                ),
            )


def control_scope(
    f: Finding,
    wells: list[Well],
    groups: list[tuple[str, str]],
    refs: list[str],
    calibrator: str,
    nrt_pairs: dict[str, str],
) -> list[str]:
    """The record entities an NTC / no-RT finding casts doubt on, not the whole run.

    The control's own well record, the target's standard curve, and each
    ``sample|target`` whose fold change uses the suspect Cq: an amplified NTC of
    target T, or a no-RT control of the calibrator, touches T in every sample (each
    fold change uses the calibrator's Cq); a no-RT of another sample touches T in that
    sample only. When T is a reference gene, every target of those samples is touched.
    An unpaired no-RT (compared with the target's lowest mean) touches every sample.
    """
    t = f.target
    base = nrt_pairs.get(f.sample) if f.code == "nrt_close" else None
    samples = {s for s, _ in groups}
    if base is not None and base != calibrator:
        samples = {base}
    genes = {g for _, g in groups} if t in refs else {t}
    ents = [entity(s, g) for s, g in groups if s in samples and g in genes]
    wl = [well_entity(w) for w in wells if w.well == f.well and w.target == t]
    return [*wl[:1], t, *ents]


def well_entity(w: Well) -> str:
    """The record entity of one reaction: ``well|target`` (a multiplex well has several)."""
    return f"{w.well}|{w.target}"


def add_well_records(res: AssayResult, sid: str, rel: str, wells: list[Well]) -> None:
    """One ``cq`` record per reaction, so every Cq the export holds can be traced.

    An undetected reaction has a record with no number (never a made-up Cq); in an
    unknown or standard well it carries ``undetected_replicate``, while an
    undetected NTC or no-RT well is the expected result and is not flagged. A well
    the export marks omitted/excluded keeps its Cq and gets ``well_excluded``.
    """
    seen: dict[str, int] = {}
    for w in wells:
        ent = well_entity(w)
        seen[ent] = seen.get(ent, 0) + 1
        if seen[ent] > 1:  # the same well in a second RDML run of the file
            ent = f"{ent}#{seen[ent]}"
        flags: list[QCFlag] = []
        if w.cq is None and w.role in ("unknown", "standard"):
            flags.append(QCFlag("undetected_replicate", "warn", sid, ent,
                                f"{rel}: well {w.well} ({w.sample}, {w.target}) not detected"))
        if w.excluded:
            flags.append(QCFlag("well_excluded", "warn", sid, ent,
                                f"{rel}: well {w.well} ({w.sample}, {w.target}) is marked "
                                "excluded in the export; its Cq is not averaged"))
        res.add(sid, "well", ent, "cq", w.cq, unit="cycles", source=rel, flags=flags)


#: smallest text in the figure, in points (legible at dpi 100 in a report)
FIGURE_FONT_PT = 10.0


def bar_figure(target: str, rows: list[tuple[str, float, float, float]], calibrator: str) -> Any:
    """Fold change per sample on a log2 axis, bars drawn from 1 (the calibrator).

    Why log2: a 4-fold down-regulation (0.25) and a 4-fold up-regulation (4) are the
    same distance from 1, as ΔΔCt is; on a linear axis the former is a sliver.
    Drawn straight to pixels (:class:`assaykit.RasterFigure`, ~10 ms instead of
    ~240 ms in matplotlib): the axis is log2(fold) with ticks labelled in fold.
    Sample names wrap at spaces and widen the figure rather than overlap.
    """
    import math

    from assaykit import RasterFigure
    from assaykit.raster import Rectangle, text_mask, wrap_text

    fs = FIGURE_FONT_PT
    names = [wrap_text(r[0], 120.0, fs) for r in rows]  # px: wrapped at spaces
    widest = max((text_mask(n, fs).shape[1] for n in names), default=0)
    per_bar = max(0.9, (widest + 14) / 100.0)  # inches at 100 dpi
    n_lines = max((n.count("\n") + 1 for n in names), default=1)
    left, right, top = 0.95, 0.2, 0.45
    bottom = 0.45 + n_lines * 1.2 * fs / 72.0
    width = max(4.0, left + right + per_bar * len(rows))
    height = max(4.5, bottom + top + 2.5)
    fig = RasterFigure(width, height)
    ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width,
                       1 - (bottom + top) / height))
    lg = [(math.log2(f) if f > 0 else math.nan, math.log2(lo) if lo > 0 else math.nan,
           math.log2(hi) if hi > 0 else math.nan) for _, f, lo, hi in rows]
    for i, (y, ylo, yhi) in enumerate(lg):
        if not math.isfinite(y):
            ax.text(i, 0.0, "n/a", ha="center", va="bottom", fontsize=fs)
            continue
        ax.add_patch(Rectangle((i - 0.4, 0.0), 0.8, y, facecolor="#4c72b0", edgecolor="none"))
        if math.isfinite(ylo) and math.isfinite(yhi):  # the fold interval, with caps
            ax.plot([i, i], [ylo, yhi], color="black", lw=1.0)
            for v in (ylo, yhi):
                ax.plot([i - 0.12, i + 0.12], [v, v], color="black", lw=1.0)
    ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
    finite = [v for t in lg for v in t if math.isfinite(v)]
    lo2, hi2 = min([0.0, *finite]), max([0.0, *finite])
    span = max(hi2 - lo2, 1.0)
    ax.set_ylim(lo2 - 0.15 * span, hi2 + 0.15 * span)
    ks = list(range(math.ceil(lo2 - 0.15 * span), math.floor(hi2 + 0.15 * span) + 1))
    step = max(1, math.ceil(len(ks) / 10))
    ks = [k for k in ks if k % step == 0]
    ax.set_yticks(ks)
    ax.set_yticklabels([f"{2.0 ** k:g}" for k in ks])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_xticks(list(range(len(rows))))
    ax.set_xticklabels(names)
    ax.tick_params(labelsize=fs)
    ax.set_ylabel(f"fold change vs {calibrator} (log2 scale)", fontsize=fs)
    ax.set_title(target, fontsize=fs + 1)
    return fig
