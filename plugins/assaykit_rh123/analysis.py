"""The ``rh123_efflux`` analysis of one experiment (the method is described in ``plugin.py``).

Kept apart from the declarations so that listing plugins never imports the
numerical stack; reading, cleanup and the failure rule are the flow layer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from assaykit import AnalysisError, AssayResult, Experiment, Input, QCFlag, raster_figure
from assaykit.cytometry.figures import (
    common_logicle,
    density_2d,
    overlay_histograms,
)
from assaykit.cytometry.flow import (
    FlowSample,
    add_cleanup_figure,
    figure_channels,
    flag_low_events,
    read_samples,
)
from assaykit.cytometry.live import LiveGateParams, LiveGateResult, live_gate
from assaykit.cytometry.params import FITC_FALLBACKS
from assaykit.cytometry.prepare import Prepared, prepare_events, resolve_channel

from assaykit_rh123.pairing import Group, Tube, group_tubes, match_unstained
from assaykit_rh123.plugin import ROLES, Rh123Params

RH123_LABELS = [re.compile(p, re.IGNORECASE) for p in (r"rh(odamine)?[ _-]?123", r"fitc")]
PI_LABELS = [
    re.compile(p, re.IGNORECASE)
    for p in (r"(^|[^a-z])pi([^a-z]|$)", r"propidium", r"7-?aad", r"viab")
]
#: Pairing condition of the 2nd, 3rd … data set of a multi-data-set file.
DATASET_CONDITION = "fcs_data_set"


@dataclass(eq=False)
class _Measured:
    """One tube (one data set of one input), gated and measured."""

    tube: Tube
    sample: FlowSample
    rh123: str
    pi: str | None
    prep: Prepared
    live: LiveGateResult
    mfi: float

    @property
    def values(self) -> np.ndarray:
        return self.prep.column(self.rh123)[self.live.live]


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else float("nan")


def _gate_text(lg: LiveGateResult) -> str:
    if lg.threshold is None:
        return f"{lg.method}: {lg.rule} ({lg.n_considered} events kept)"
    op = "<" if lg.method == "pi" else ">="
    slope = float(lg.details.get("spill_slope", 0.0))
    if lg.method == "pi" and slope > 0:
        return (
            f"pi ({lg.rule}, along the spill): {lg.channel} - {slope:.3g} x "
            f"{lg.details['spill_from']} < {lg.threshold.value:.4g}"
        )
    return f"{lg.method} ({lg.rule}): {lg.channel} {op} {lg.threshold.value:.4g}"


def analyze_experiment(experiment: Experiment, params: Rh123Params) -> AssayResult:
    res = AssayResult()
    figures = experiment.figures
    read = read_samples(
        experiment, params, res, lambda s: _measure(s, params, figures), roles=ROLES
    )
    measured = {m.tube.sample_id: m for m in read.prepared()}
    failed = {f.sample_id: f.message for f in read.failed}
    tubes = [
        measured[sid].tube if sid in measured else _tube(sid, inp, k)
        for inp, sid, k in read.order
    ]
    groups = group_tubes(tubes, params.ignore_columns)
    autofluo: dict[str, float] = {}
    ok_tubes = [t for t in tubes if t.sample_id in measured]
    for g in groups:
        unst = [
            measured[u.sample_id] for u in match_unstained(g, ok_tubes, params.ignore_columns)
        ]
        if unst:
            af = float(np.mean([u.mfi for u in unst]))
            for t in g.tubes():
                autofluo[t.sample_id] = af
    for m in measured.values():
        _emit_tube(m, autofluo.get(m.tube.sample_id), params, res)
    for g in groups:
        _emit_group(g, measured, failed, autofluo, params, res)
    if figures:
        for g in groups:
            _group_figure(g, measured, ok_tubes, params, res)
        for m in measured.values():
            _gate_figure(m, res)
            add_cleanup_figure(res, m.tube.sample_id, m.prep)
    return res


def _tube(sid: str, inp: Input, k: int) -> Tube:
    """The pairing view of a sample: its sheet conditions, plus the data-set number."""
    conditions = dict(inp.conditions)
    if k:  # the k-th data set of a file pairs with the k-th of its partner
        conditions[DATASET_CONDITION] = str(k + 1)
    return Tube(sid, inp.role, conditions)


# -- per tube -----------------------------------------------------------------------
def _measure(s: FlowSample, params: Rh123Params, figures: bool) -> _Measured:
    fcs = s.fcs
    rh = resolve_channel(
        fcs, params.rh123_channel, RH123_LABELS, FITC_FALLBACKS, "Rh123 channel",
        param="rh123_channel",
    )
    pi: str | None = None
    if params.live_gate != "scatter":
        if params.pi_channel is not None:
            pi = resolve_channel(fcs, params.pi_channel, what="PI channel", param="pi_channel")
        else:
            labelled = any(lab and p.search(lab) for lab in fcs.labels for p in PI_LABELS)
            if labelled or params.live_gate == "pi":
                # a label that names a viability dye is used, and an ambiguous one is
                # an error, never a silent fall-back to the weaker scatter gate
                pi = resolve_channel(
                    fcs, None, PI_LABELS, (), "PI (viability) channel", param="pi_channel"
                )
        if pi == rh:
            raise AnalysisError(
                f"{fcs.path}: the PI channel and the Rh123 channel are both {rh!r}; "
                "set pi_channel and rh123_channel"
            )
    cleanup = params.cleanup_params()
    extra = figure_channels(params, fcs, figures)
    if pi is None:
        extra.append(cleanup.fsc_area)
    prep = prepare_events(
        fcs,
        [rh] if pi is None else [rh, pi],
        compensate=params.compensate,
        cleanup=cleanup,
        extra=extra,
        fit_events=params.fit_events,
    )
    lg = live_gate(
        prep.columns,
        pi_channel=pi,
        within=prep.keep,
        params=LiveGateParams(fsc_area=cleanup.fsc_area, n_mad=params.live_n_mad),
        # bright Rh123 spills into the PI detector (uncompensated when the file has
        # no $SPILLOVER): the live gate follows the spill, not a vertical PI cut
        spill_from=rh if pi is not None else None,
    )
    mfi = _median(prep.column(rh)[lg.live])
    return _Measured(_tube(s.sample_id, s.inp, s.index), s, rh, pi, prep, lg, mfi)


def _emit_tube(m: _Measured, af: float | None, params: Rh123Params, res: AssayResult) -> None:
    sid, src = m.tube.sample_id, m.sample.source
    n = m.live.n_live
    flag_low_events(res, sid, n, params, "live singlet cells")
    res.add(sid, "sample", sid, "mfi", m.mfi, source=src)
    res.add(sid, "sample", sid, "event_count", m.prep.n_events, source=src)
    singlets = m.prep.n_kept
    res.add(sid, "sample", sid, "singlet_count", singlets, source=src)
    res.add(sid, "sample", sid, "live_singlet_count", n, source=src)
    live_pct = 100.0 * n / singlets if singlets else float("nan")
    res.add(sid, "sample", sid, "live_pct", live_pct, source=src)
    res.add(sid, "sample", sid, "live_gate", _gate_text(m.live), source=src)
    if af is not None and m.tube.role == "sample":
        res.add(sid, "sample", sid, "mfi_minus_autofluorescence", m.mfi - af, source=src)


# -- per cell line --------------------------------------------------------------------
def _emit_group(
    g: Group,
    measured: dict[str, _Measured],
    failed: dict[str, str],
    autofluo: dict[str, float],
    params: Rh123Params,
    res: AssayResult,
) -> None:
    label = g.label
    untreated = [t for t in g.untreated if t.sample_id in measured]
    treated: dict[str, list[Tube]] = {}
    for inh, ts in g.treated.items():
        ok = [t for t in ts if t.sample_id in measured]
        if ok:
            treated[inh] = ok

    def fail(entity: str, flag: str, message: str) -> None:
        res.add(label, "cell_line", entity, "pairing", f"error: {message}",
                flags=[QCFlag(flag, "fail", label, entity, message)])

    names = ", ".join(
        f"{t.sample_id} ("
        + ("no inhibitor" if t in g.untreated else "inhibitor")
        + (", failed" if t.sample_id in failed else "")
        + ")"
        for t in g.tubes()
    )
    if not untreated:
        fail(label, "missing_partner_tube",
             f"cell line {label!r} has no tube without inhibitor (tubes: {names}); "
             "add one, or check the inhibitor and condition columns")
        return
    if not treated:
        fail(label, "missing_partner_tube",
             f"cell line {label!r} has no tube with an inhibitor (tubes: {names}); "
             "add one, or check the inhibitor and condition columns")
        return
    use_af = params.ratio_basis == "mfi_minus_autofluorescence"
    if use_af and untreated[0].sample_id not in autofluo:
        fail(label, "no_unstained_tube",
             f"ratio_basis='mfi_minus_autofluorescence' but cell line {label!r} has no "
             "unstained tube")
        return

    def level(ts: list[Tube]) -> float:
        vals = [measured[t.sample_id].mfi for t in ts]
        mean = float(np.mean(vals))
        return mean - autofluo[ts[0].sample_id] if use_af else mean

    without = level(untreated)
    for inh, ts in treated.items():
        entity = f"{label} + {inh}"
        flags: list[QCFlag | str] = []
        if len(ts) > 1 or len(untreated) > 1:
            flags.append("replicate_tubes_averaged")
        with_ = level(ts)
        ratio = with_ / without if without > 0 else float("nan")
        maf = 100.0 * (with_ - without) / with_ if with_ > 0 else float("nan")
        if not (without > 0 and with_ > 0):
            flags.append(QCFlag(
                "mfi_not_positive", "fail", label, entity,
                f"MFI without {without:.4g}, with {with_:.4g}: a ratio needs both > 0",
            ))
        res.add(label, "cell_line", entity, "mfi_ratio", ratio, flags=flags)
        res.add(label, "cell_line", entity, "maf", maf, flags=flags)
        pairs = (
            "without: " + ",".join(t.sample_id for t in untreated)
            + f"; with {inh}: " + ",".join(t.sample_id for t in ts)
        )
        res.add(label, "cell_line", entity, "pairing", pairs, flags=flags)

# -- figures ---------------------------------------------------------------------------
def _group_figure(
    g: Group,
    measured: dict[str, _Measured],
    tubes: list[Tube],
    params: Rh123Params,
    res: AssayResult,
) -> None:
    series: list[tuple[str, np.ndarray]] = []
    markers: list[tuple[str, float]] = []

    def add(name: str, ts: list[Tube]) -> None:
        vals = np.concatenate([measured[t.sample_id].values for t in ts])
        series.append((name, vals))
        markers.append((f"median {name}", _median(vals)))

    untreated = [t for t in g.untreated if t.sample_id in measured]
    if untreated:
        add("no inhibitor", untreated)
    for inh, ts in g.treated.items():
        ok = [t for t in ts if t.sample_id in measured]
        if ok:
            add(inh, ok)
    unst = match_unstained(g, tubes, params.ignore_columns)
    if unst:
        add("unstained", unst)
    if not series:
        return
    tr = common_logicle(*(v for _, v in series))
    # fixed margins, drawn straight to pixels (assaykit.raster)
    fig, (ax,) = raster_figure(6.5, 4.2, 1, {"left": 0.11, "right": 0.97, "bottom": 0.12,
                                             "top": 0.92})
    rh = next(measured[t.sample_id].rh123 for t in g.tubes() if t.sample_id in measured)
    overlay_histograms(ax, series, tr, markers=markers, xlabel=f"Rh123 ({rh})")
    ax.set_title(f"Rh123 efflux — {g.label}", fontsize=10, y=1.0)
    res.add_figure(
        "rh123_overlay",
        fig,
        sample_id=g.label,
        caption=f"{g.label}: how much Rh123 the live cells keep with and without the P-gp "
        "inhibitor (a shift to the right with the inhibitor means P-gp was pumping the dye "
        "out). Method: Rh123 of live singlets on a logicle scale; dotted lines mark the "
        "medians (MFI).",
    )


def _gate_figure(m: _Measured, res: AssayResult) -> None:
    """The live gate of one tube (its cleanup gates are the flow layer's cleanup figure)."""
    # fixed margins, drawn straight to pixels (assaykit.raster)
    fig, (ax2,) = raster_figure(4.6, 3.8, 1,
                                {"left": 0.17, "right": 0.96, "bottom": 0.13, "top": 0.84})
    keep = m.prep.keep
    th = [] if m.live.threshold is None else [m.live.threshold]
    rh_all = m.prep.column(m.rh123)[keep]
    if m.pi is not None:
        pi_all = m.prep.column(m.pi)[keep]
        slope = float(m.live.details.get("spill_slope", 0.0))
        tx, ty = common_logicle(pi_all), common_logicle(rh_all)
        density_2d(ax2, pi_all, rh_all, tx, ty, thresholds_x=[] if slope > 0 else th,
                   xlabel=f"PI ({m.pi})", ylabel=f"Rh123 ({m.rh123})")
        if slope > 0 and m.live.threshold is not None and rh_all.size:
            # the gate along the spill: PI = cut + slope * Rh123, drawn on the same axes
            rh_line = np.linspace(float(np.nanmin(rh_all)), float(np.nanmax(rh_all)), 200)
            pi_line = m.live.threshold.value + slope * rh_line
            ax2.plot(tx.apply(pi_line), ty.apply(rh_line), color="#d62728", ls="--", lw=1.2,
                     label=f"live gate (spill slope {slope:.3g})")
    else:
        fsc = m.live.channel or "FSC-A"
        density_2d(ax2, m.prep.column(fsc)[keep], rh_all, None, common_logicle(rh_all),
                   thresholds_x=th, xlabel=f"{fsc} (scatter live gate)",
                   ylabel=f"Rh123 ({m.rh123})")
    ax2.set_title(f"live {m.live.n_live}/{m.prep.n_kept} singlets", fontsize=9, y=1.0)
    fig.suptitle(f"{m.tube.sample_id}: live gate", fontsize=10)
    res.add_figure(
        "rh123_gates", fig, sample_id=m.tube.sample_id,
        caption=f"{m.tube.sample_id}: which cells count as alive (dead cells take up PI and "
        f"are left out of the Rh123 median). Method: {_gate_text(m.live)}.",
    )


