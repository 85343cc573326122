"""``rh123_efflux``: P-glycoprotein function by rhodamine-123 retention, by flow cytometry.

The science (Protocol 7 of the isotretinoin-resistance workflow): cells load
the fluorescent P-gp substrate Rh123, then efflux it. Cells with active P-gp
pump it out and stay dim; a P-gp inhibitor (verapamil, cyclosporin A) blocks
the pump and the cells stay bright. So each cell line is measured with and
without the inhibitor, and the comparison is the readout:

- ``mfi_ratio`` = MFI(with inhibitor) / MFI(without);
- ``maf`` (multidrug resistance activity factor) =
  100 × (MFI(with) − MFI(without)) / MFI(with): near 0 for a line without
  P-gp activity, approaching 100 when nearly all Rh123 is pumped out.

Tubes are paired by ``cell_line`` and the other sample-sheet conditions
(not the ``inhibitor*`` columns). A file with several data sets (kept as
samples ``<id>#2`` …) pairs data set by data set with its partner file.

MFI is the median Rh123 fluorescence of live single cells, on the linear
(compensated) scale: debris and doublets are removed by the cleanup gates,
dead cells (which lose Rh123 with their membrane potential) by a PI gate
when a viability dye was recorded, or by scatter otherwise.

QC flags: ``missing_partner_tube`` (fail, on the cell line's ``pairing``
record: no tube with, or none without, inhibitor); ``no_unstained_tube``
(fail, ``ratio_basis='mfi_minus_autofluorescence'`` without an unstained
tube); ``mfi_not_positive`` (fail, an MFI <= 0 makes no ratio);
``replicate_tubes_averaged`` (warn, several tubes on one side of a pair);
``low_event_count`` (warn, fewer live singlets than ``min_events``). A tube
that cannot be analysed (unreadable, or without a needed channel) is an error
record on its file (``AssayResult.fail_sample``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from assaykit import (
    AnalysisError,
    Assay,
    AssayResult,
    Experiment,
    Input,
    InputError,
    Metric,
    QCFlag,
    hookimpl,
    new_figure,
)
from assaykit.cytometry.fcs import FCSData
from assaykit.cytometry.figures import cleanup_panel, common_logicle, density_2d, overlay_histograms
from assaykit.cytometry.live import LiveGateParams, LiveGateResult, live_gate
from assaykit.cytometry.params import FlowPrepParams
from assaykit.cytometry.prepare import (
    Prepared,
    fcs_samples,
    flag_repairs,
    prepare_events,
    resolve_channel,
)
from pydantic import Field

from assaykit_rh123.pairing import Group, Tube, group_tubes, match_unstained

__all__ = ["Rh123Assay", "Rh123Params"]

RH123_LABELS = (r"rh(odamine)?[ _-]?123", r"fitc")
RH123_FALLBACKS = ("FITC-A", "FL1-A", "FL1-H", "B1-A", "BL1-A", "FITC-H", "FL1")
PI_LABELS = (r"(^|[^a-z])pi([^a-z]|$)", r"propidium", r"7-?aad", r"viab")
ROLES = ("sample", "unstained")
#: Pairing condition of the 2nd, 3rd … data set of a multi-data-set file.
DATASET_CONDITION = "fcs_data_set"


class Rh123Params(FlowPrepParams):
    """Settings of the ``rh123_efflux`` assay (cleanup fields: see FlowPrepParams)."""

    rh123_channel: str | None = Field(
        None,
        min_length=1,
        description=(
            "Rh123 channel ($PnN or $PnS). Default: a channel whose $PnS label mentions "
            "Rh123/rhodamine 123 or FITC, else FITC-A/FL1-A/FL1-H/B1-A/BL1-A"
        ),
    )
    pi_channel: str | None = Field(
        None,
        min_length=1,
        description=(
            "Viability-dye (PI) channel ($PnN or $PnS). Default: a channel whose $PnS "
            "label mentions PI, propidium, 7-AAD or viability"
        ),
    )
    live_gate: Literal["auto", "pi", "scatter"] = Field(
        "auto",
        description=(
            "Dead-cell exclusion: 'pi' (PI-bright events are dead; needs a PI channel), "
            "'scatter' (small-FSC events are dead), or 'auto' (PI when a PI channel is "
            "found, else scatter)"
        ),
    )
    live_n_mad: float = Field(
        4.0,
        gt=0.0,
        le=20.0,
        description=(
            "Live gate without a clear valley/second population: the main population's "
            "edge at this many robust SDs (1.4826 MAD)"
        ),
    )
    ratio_basis: Literal["mfi", "mfi_minus_autofluorescence"] = Field(
        "mfi",
        description=(
            "MFIs that mfi_ratio and maf are computed from: raw 'mfi', or "
            "'mfi_minus_autofluorescence' (needs an unstained tube per cell line)"
        ),
    )
    ignore_columns: tuple[str, ...] = Field(
        (),
        max_length=100,
        description=(
            "Sample-sheet condition columns that do not define a pair (e.g. 'tube', "
            "'notes'); inhibitor* columns and cell_line are handled already"
        ),
    )


@dataclass(eq=False)
class _Measured:
    """One tube (one data set of one input), gated and measured."""

    tube: Tube
    inp: Input
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


class Rh123Assay(Assay):
    """Rh123 MFI per tube; MFI ratio and MAF per cell line (with / without P-gp inhibitor)."""

    name = "rh123_efflux"
    version = "1.0.0"
    summary = "P-gp function by Rh123 efflux: MFI ratio and MAF with/without a P-gp inhibitor."
    input_kinds = ("fcs",)
    roles = ROLES
    control_roles = ()
    required_columns = ("cell_line",)
    Params = Rh123Params
    metrics = (
        Metric(
            "sample",
            "mfi",
            "AU",
            "float",
            "median Rh123 fluorescence of live singlet cells, linear scale "
            "($PnE/$PnG undone, compensated)",
        ),
        Metric(
            "sample", "event_count", "events", "int", "live singlet cells the MFI is taken on"
        ),
        Metric("sample", "live_pct", "%", "float", "percent of singlet cells called live"),
        Metric(
            "sample",
            "mfi_minus_autofluorescence",
            "AU",
            "float",
            "mfi minus the mfi of the matching unstained tube(s) (same cell line; the "
            "mean when several), linear scale",
        ),
        Metric(
            "sample",
            "live_gate",
            None,
            "str",
            "how dead cells were excluded: PI or scatter, valley/mixture/MAD rule, cut",
        ),
        Metric(
            "cell_line",
            "mfi_ratio",
            None,
            "float",
            "MFI with inhibitor / MFI without (MFIs of live singlets; see ratio_basis); "
            "the mean MFI of replicate tubes",
        ),
        Metric(
            "cell_line",
            "maf",
            None,
            "float",
            "multidrug resistance activity factor: 100 x (MFI with inhibitor - MFI "
            "without) / MFI with inhibitor",
        ),
        Metric(
            "cell_line",
            "pairing",
            None,
            "str",
            "which tubes were compared, or why a cell line has no ratio (missing partner)",
        ),
    )

    def analyze(self, experiment: Experiment, params: Rh123Params) -> AssayResult:
        res = AssayResult()
        measured: dict[str, _Measured] = {}
        failed: dict[str, str] = {}
        tubes: list[Tube] = []
        seen: dict[str, str] = {}
        for inp in experiment.by_role(*ROLES):
            try:
                datasets = experiment.read(inp)
            except InputError as exc:  # a corrupt tube leaves the others analysable
                failed[inp.sample_id] = str(exc)
                tubes.append(Tube(inp.sample_id, inp.role, dict(inp.conditions)))
                res.fail_sample(inp.sample_id, exc, source=inp.relpath)
                continue
            samples = fcs_samples(inp, datasets, params.datasets, strict=params.strict)
            for k, (sid, fcs) in enumerate(samples):
                if sid in seen:
                    raise AnalysisError(
                        f"{inp.path}: sample_id {sid!r} is also used by {seen[sid]}; "
                        "give every file its own sample_id"
                    )
                seen[sid] = inp.relpath
                flag_repairs(res, sid, fcs)
                conditions = dict(inp.conditions)
                if k:  # the k-th data set of a file pairs with the k-th of its partner
                    conditions[DATASET_CONDITION] = str(k + 1)
                tube = Tube(sid, inp.role, conditions)
                tubes.append(tube)
                try:
                    measured[sid] = self._measure(inp, tube, fcs, params)
                except AnalysisError as exc:
                    failed[sid] = str(exc)
                    res.fail_sample(sid, exc, source=inp.relpath)  # the host: an error record

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
            self._emit_tube(m, autofluo.get(m.tube.sample_id), params, res)
        for g in groups:
            self._emit_group(g, measured, failed, autofluo, params, res)
        if experiment.figures:
            for g in groups:
                self._group_figure(g, measured, ok_tubes, params, res)
            for m in measured.values():
                self._gate_figure(m, res)
        return res

    # -- per tube -----------------------------------------------------------------------
    def _measure(self, inp: Input, tube: Tube, fcs: FCSData, params: Rh123Params) -> _Measured:
        rh = resolve_channel(
            fcs,
            params.rh123_channel,
            [re.compile(p, re.IGNORECASE) for p in RH123_LABELS],
            RH123_FALLBACKS,
            "Rh123 channel",
            param="rh123_channel",
        )
        pi: str | None = None
        if params.live_gate != "scatter":
            if params.pi_channel is not None:
                pi = resolve_channel(fcs, params.pi_channel, what="PI channel", param="pi_channel")
            else:
                patterns = [re.compile(p, re.IGNORECASE) for p in PI_LABELS]
                labelled = any(lab and p.search(lab) for lab in fcs.labels for p in patterns)
                if labelled or params.live_gate == "pi":
                    # a label that names a viability dye is used, and an ambiguous one is
                    # an error, never a silent fall-back to the weaker scatter gate
                    pi = resolve_channel(
                        fcs, None, patterns, (), "PI (viability) channel", param="pi_channel"
                    )
            if pi == rh:
                raise AnalysisError(
                    f"{fcs.path}: the PI channel and the Rh123 channel are both {rh!r}; "
                    "set pi_channel and rh123_channel"
                )
        cleanup = params.cleanup_params()
        prep = prepare_events(
            fcs,
            [rh] if pi is None else [rh, pi],
            compensate=params.compensate,
            cleanup=cleanup,
            extra=() if pi is not None else (cleanup.fsc_area,),
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
        return _Measured(tube, inp, rh, pi, prep, lg, mfi)

    def _emit_tube(
        self, m: _Measured, af: float | None, params: Rh123Params, res: AssayResult
    ) -> None:
        sid, src = m.tube.sample_id, m.inp.relpath
        n = m.live.n_live
        flags = ["low_event_count"] if n < params.min_events else []
        res.add(sid, "sample", sid, "mfi", m.mfi, flags=flags, source=src)
        res.add(sid, "sample", sid, "event_count", n, flags=flags, source=src)
        singlets = m.prep.n_kept
        live_pct = 100.0 * n / singlets if singlets else float("nan")
        res.add(sid, "sample", sid, "live_pct", live_pct, source=src)
        res.add(sid, "sample", sid, "live_gate", _gate_text(m.live), source=src)
        if af is not None and m.tube.role == "sample":
            res.add(sid, "sample", sid, "mfi_minus_autofluorescence", m.mfi - af,
                    flags=flags, source=src)

    # -- per cell line --------------------------------------------------------------------
    def _emit_group(
        self,
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
        self,
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
        fig = new_figure(6.5, 4.2)
        ax = fig.add_subplot(111)
        rh = next(measured[t.sample_id].rh123 for t in g.tubes() if t.sample_id in measured)
        overlay_histograms(ax, series, tr, markers=markers, xlabel=f"Rh123 ({rh})")
        ax.set_title(f"Rh123 efflux — {g.label}", fontsize=10)
        fig.tight_layout()
        res.add_figure(
            "rh123_overlay",
            fig,
            sample_id=g.label,
            caption=f"{g.label}: Rh123 of live singlets with and without inhibitor; "
            "dotted lines mark the medians (MFI)",
        )

    def _gate_figure(self, m: _Measured, res: AssayResult) -> None:
        fig = new_figure(8.4, 3.8)
        ax1, ax2 = fig.subplots(1, 2)
        cl = m.prep.cleanup
        if cl is not None:
            p = cl.params
            cleanup_panel(
                ax1,
                m.prep.column(p.fsc_area),
                m.prep.column(p.fsc_height) if p.singlets else None,
                cl,
            )
        else:
            ax1.set_title("no cleanup gates")
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
        ax2.set_title(f"live {m.live.n_live}/{m.prep.n_kept} singlets", fontsize=9)
        fig.suptitle(f"{m.tube.sample_id}: cleanup and live gate", fontsize=10)
        fig.tight_layout()
        res.add_figure(
            "rh123_gates", fig, sample_id=m.tube.sample_id, caption=_gate_text(m.live)
        )


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(Rh123Assay())
