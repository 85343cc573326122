"""``tunel``: percent TUNEL-positive (apoptotic, fragmented-DNA) cells by flow cytometry.

The science (APO-DIRECT-style TUNEL by flow): TdT adds FITC-labelled dUTP to
the free 3'-OH ends of fragmented DNA, so apoptotic cells are FITC-bright.
The no-TdT tube sees the same cells without the enzyme, so its FITC signal is
autofluorescence and unspecific binding only: a high percentile of it is the
line above which a cell counts as labelled. A DNase-treated tube, in which
every cell has nicked DNA, shows that the labelling worked.

Steps per tube (every data set of a file, see ``datasets``):

1. find the FITC-dUTP channel (parameter, else ``$PnS`` label, else the usual
   FITC detector names) and, if given, the DNA-content (PI) channel;
2. scale, compensate, and apply the cleanup gates (debris, singlets);
3. threshold FITC-dUTP: the ``percentile`` of the pooled negative controls'
   singlets, or ``fixed_threshold``; without a negative control, a density
   valley of the pooled samples (or, when they are unimodal, the upper edge of
   their main population), flagged ``no_negative_control``;
4. ``tunel_positive_pct`` = percent of singlets at or above the threshold.

QC flags: ``no_negative_control``; ``positive_control_low`` (the DNase tube
below ``positive_control_min_pct``); ``low_event_count`` (fewer singlets than
``min_events``); ``negative_control_high`` (more than 1 point above the
``100 - percentile`` % the control should have above its own percentile:
ties at the cut, as in discrete or degenerate data);
``scored_by_own_threshold`` (on the percentage of a lone negative control,
which its own percentile sets by construction; with two or more controls each
is scored by the others' percentile instead). A sample that cannot be
analysed (unreadable, or without a needed channel) is an error record on its
file (``AssayResult.fail_sample``); a broken control fails the experiment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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
from assaykit.cytometry.live import mad_threshold
from assaykit.cytometry.params import FlowPrepParams
from assaykit.cytometry.prepare import (
    Prepared,
    auto_threshold,
    control_threshold,
    fcs_samples,
    flag_repairs,
    prepare_events,
    resolve_channel,
)
from assaykit.cytometry.thresholds import Threshold, fixed_threshold
from pydantic import Field

__all__ = ["TunelAssay", "TunelParams"]

FITC_LABELS = (r"tunel", r"dutp", r"apo-?direct", r"fitc")
FITC_FALLBACKS = ("FITC-A", "FL1-A", "FL1-H", "B1-A", "BL1-A", "FITC-H", "FL1")
ROLES = ("sample", "negative_control", "positive_control")


class TunelParams(FlowPrepParams):
    """Settings of the ``tunel`` assay (cleanup fields: see FlowPrepParams)."""

    fitc_channel: str | None = Field(
        None,
        min_length=1,
        description=(
            "FITC-dUTP channel ($PnN or $PnS). Default: a channel whose $PnS label "
            "mentions TUNEL, dUTP, APO-DIRECT or FITC, else FITC-A/FL1-A/FL1-H/B1-A/BL1-A"
        ),
    )
    dna_channel: str | None = Field(
        None,
        min_length=1,
        description=(
            "DNA-content (PI) channel ($PnN or $PnS); when given, the figure shows "
            "FITC-dUTP against DNA content"
        ),
    )
    percentile: float = Field(
        99.5,
        ge=50.0,
        lt=100.0,
        description=(
            "Percentile (%) of the pooled negative controls' (no TdT) singlets that sets "
            "the threshold; 100 - percentile % of the control is positive by construction"
        ),
    )
    fixed_threshold: float | None = Field(
        None,
        allow_inf_nan=False,
        description=(
            "Use this FITC-dUTP threshold (scale units, AU) instead of the negative control "
            "or the automatic one"
        ),
    )
    auto_n_mad: float = Field(
        4.0,
        gt=0.0,
        le=20.0,
        description=(
            "No negative control and unimodal samples: threshold at median + this many "
            "robust SDs (1.4826 MAD) of the samples, on a logicle axis"
        ),
    )
    positive_control_min_pct: float = Field(
        50.0,
        ge=0.0,
        le=100.0,
        description=(
            "A positive control (DNase) with fewer TUNEL-positive singlets than this (%) "
            "flags the experiment positive_control_low"
        ),
    )


@dataclass(eq=False)
class _Tube:
    """One data set of one input, prepared for gating."""

    sample_id: str
    inp: Input
    fitc: str
    dna: str | None
    prep: Prepared

    @property
    def values(self) -> np.ndarray:
        return self.prep.kept(self.fitc)


def _percent(values: np.ndarray, threshold: Threshold) -> float:
    if values.size == 0:
        return float("nan")
    return 100.0 * float(np.count_nonzero(values >= threshold.value)) / float(values.size)


def _describe(th: Threshold) -> str:
    if th.method == "percentile":
        return f"percentile {th.parameters['percentile']:g} of negative control(s) {th.control}"
    if th.method == "fixed":
        return "fixed (parameter fixed_threshold)"
    if th.method == "density_valley":
        return f"automatic: density valley of {th.control}"
    if th.method == "mad":
        return (
            f"automatic: median + {th.parameters['n_mad']:g} robust SD of {th.control} "
            "(unimodal, no valley)"
        )
    return th.method


class TunelAssay(Assay):
    """Percent TUNEL-positive singlets, with the threshold from the no-TdT control."""

    name = "tunel"
    version = "1.0.0"
    summary = "Percent TUNEL-positive (FITC-dUTP) singlet cells, threshold from the no-TdT control."
    input_kinds = ("fcs",)
    roles = ROLES
    control_roles = ("negative_control",)
    Params = TunelParams
    metrics = (
        Metric(
            "sample",
            "tunel_positive_pct",
            "%",
            "float",
            "percent of singlet cells (after debris and doublet gates) whose compensated "
            "FITC-dUTP value is at or above the experiment's threshold",
        ),
        Metric(
            "sample",
            "singlet_count",
            "events",
            "int",
            "single cells the percentage is based on (debris and doublets removed)",
        ),
        Metric("sample", "event_count", "events", "int", "events in the data set"),
        Metric(
            "experiment",
            "threshold",
            "AU",
            "float",
            "FITC-dUTP threshold on the linear scale (compensated); events >= it are positive",
        ),
        Metric(
            "experiment",
            "threshold_method",
            None,
            "str",
            "how the threshold was set: control percentile, fixed, or automatic",
        ),
    )

    def analyze(self, experiment: Experiment, params: TunelParams) -> AssayResult:
        res = AssayResult()
        tubes: dict[str, list[_Tube]] = {r: [] for r in ROLES}
        seen: dict[str, str] = {}
        for inp in experiment.by_role(*ROLES):
            try:
                datasets = experiment.read(inp)
            except InputError as exc:  # a corrupt sample file leaves the others analysable
                if inp.role != "sample":
                    raise
                res.fail_sample(inp.sample_id, exc, source=inp.relpath)
                continue
            for sid, fcs in fcs_samples(inp, datasets, params.datasets, strict=params.strict):
                if sid in seen:
                    raise AnalysisError(
                        f"{inp.path}: sample_id {sid!r} is also used by {seen[sid]}; "
                        "give every file its own sample_id"
                    )
                seen[sid] = inp.relpath
                flag_repairs(res, sid, fcs)
                try:
                    tube = self._prepare(inp, sid, fcs, params)
                except AnalysisError as exc:
                    if inp.role != "sample":  # a broken control invalidates every sample
                        raise
                    res.fail_sample(sid, exc, source=inp.relpath)  # the host: an error record
                    continue
                tubes[inp.role].append(tube)

        threshold = self._threshold(experiment, tubes, params, res)
        res.add(experiment.name, "experiment", experiment.name, "threshold", threshold.value)
        res.add(
            experiment.name, "experiment", experiment.name, "threshold_method", _describe(threshold)
        )

        negatives = tubes["negative_control"]
        neg_values = (
            np.concatenate([t.values for t in negatives]) if negatives else np.empty(0)
        )
        own_scored = self._control_thresholds(negatives, threshold, params)
        for role in ROLES:
            for t in tubes[role]:
                self._measure(t, own_scored.get(t.sample_id, (threshold, None)), params, res)
        if threshold.method == "percentile" and neg_values.size:
            # By construction 100 - percentile % of the pooled control lies above its own
            # percentile; much more means ties at the cut (discrete or degenerate data),
            # and the threshold does not separate what it should.
            own = _percent(neg_values, threshold)
            expected = 100.0 - params.percentile
            if own > expected + 1.0:
                res.flag(
                    "negative_control_high",
                    message=(
                        f"{own:.1f} % of the negative control is at or above its own "
                        f"{params.percentile:g}th percentile (expected {expected:.2g} %): "
                        "many events share the threshold value"
                    ),
                )
        for t in tubes["positive_control"]:
            pct = _percent(t.values, threshold)
            if not pct >= params.positive_control_min_pct:
                res.flag(
                    "positive_control_low",
                    message=(
                        f"positive control {t.sample_id}: {pct:.1f} % TUNEL-positive, below "
                        f"{params.positive_control_min_pct:g} %; the labelling may have failed"
                    ),
                )
        if experiment.figures:
            for role in ROLES:
                for t in tubes[role]:
                    self._figure(t, threshold, neg_values, negatives, res)
        return res

    # -- steps ----------------------------------------------------------------------------
    def _prepare(self, inp: Input, sid: str, fcs: FCSData, params: TunelParams) -> _Tube:
        fitc = resolve_channel(
            fcs,
            params.fitc_channel,
            [re.compile(p, re.IGNORECASE) for p in FITC_LABELS],
            FITC_FALLBACKS,
            "FITC-dUTP (TUNEL) channel",
            param="fitc_channel",
        )
        dna = None
        if params.dna_channel:
            dna = resolve_channel(
                fcs,
                params.dna_channel,
                what="DNA-content channel",
                param="dna_channel",
            )
        channels = [fitc] if dna is None or dna == fitc else [fitc, dna]
        prep = prepare_events(
            fcs,
            channels,
            compensate=params.compensate,
            cleanup=params.cleanup_params(),
        )
        return _Tube(sid, inp, fitc, dna, prep)

    def _threshold(
        self,
        experiment: Experiment,
        tubes: dict[str, list[_Tube]],
        params: TunelParams,
        res: AssayResult,
    ) -> Threshold:
        negatives = tubes["negative_control"]
        if not negatives:
            res.flag(
                "no_negative_control",
                message=(
                    "no negative control (no TdT) in the experiment: the threshold is "
                    + ("fixed" if params.fixed_threshold is not None else "automatic")
                ),
            )
        first = [*negatives, *tubes["sample"], *tubes["positive_control"]]
        name = first[0].fitc if first else "FITC"
        if params.fixed_threshold is not None:
            return fixed_threshold(params.fixed_threshold, channel=name, source="fixed_threshold")
        if negatives:
            return control_threshold(
                {t.sample_id: t.values for t in negatives}, params.percentile, channel=name
            )
        samples = tubes["sample"]
        if not samples:
            raise AnalysisError(
                f"experiment {experiment.name!r}: no negative control and no analyzable sample "
                "to set a threshold from; add a negative_control row or set fixed_threshold"
            )
        pooled = np.concatenate([t.values for t in samples])
        source = "samples " + ",".join(t.sample_id for t in samples)
        try:
            return auto_threshold(pooled, channel=name, source=source)
        except AnalysisError:
            return mad_threshold(
                pooled, params.auto_n_mad, control=source, channel=name, min_events=50
            )

    def _control_thresholds(
        self, negatives: list[_Tube], threshold: Threshold, params: TunelParams
    ) -> dict[str, tuple[Threshold, QCFlag | None]]:
        """The threshold each negative control is scored by, and a flag when it is its own.

        Why: a control scored by the percentile of its own events reads
        ``100 - percentile`` % whatever it holds, which is no measurement. With
        two or more controls, each is scored by the percentile of the *others*
        (leave-one-out), an honest estimate of the false-positive rate that a
        contaminated or mislabelled control fails. A lone control can only be
        scored by itself; its value is kept but flagged
        ``scored_by_own_threshold``.
        """
        out: dict[str, tuple[Threshold, QCFlag | None]] = {}
        if threshold.method != "percentile" or not negatives:
            return out
        if len(negatives) == 1:
            t = negatives[0]
            out[t.sample_id] = (threshold, QCFlag(
                "scored_by_own_threshold", "warn", t.sample_id, None,
                f"{t.sample_id} is the only negative control: it is scored by its own "
                f"{params.percentile:g}th percentile, so it reads about "
                f"{100.0 - params.percentile:.2g} % by construction, not as a measurement",
            ))
            return out
        for t in negatives:
            others = {o.sample_id: o.values for o in negatives if o is not t}
            out[t.sample_id] = (
                control_threshold(
                    others, params.percentile, channel=threshold.channel or t.fitc
                ),
                None,
            )
        return out

    def _measure(
        self,
        t: _Tube,
        scored: tuple[Threshold, QCFlag | None],
        params: TunelParams,
        res: AssayResult,
    ) -> None:
        sid = t.sample_id
        n = t.prep.n_kept
        threshold, own = scored
        flags: list[QCFlag | str] = []
        if n < params.min_events:
            flags.append("low_event_count")
        src = t.inp.relpath
        res.add(sid, "sample", sid, "tunel_positive_pct", _percent(t.values, threshold),
                flags=[*flags, *([own] if own is not None else [])], source=src)
        res.add(sid, "sample", sid, "singlet_count", n, flags=flags, source=src)
        res.add(sid, "sample", sid, "event_count", t.prep.n_events, source=src)

    def _figure(
        self,
        t: _Tube,
        threshold: Threshold,
        neg_values: np.ndarray,
        negatives: list[_Tube],
        res: AssayResult,
    ) -> None:
        values = t.values
        series: list[tuple[str, np.ndarray]] = [(t.sample_id, values)]
        if neg_values.size and t not in negatives:
            series.append(("negative control", neg_values))
        tr = common_logicle(*(v for _, v in series), np.array([threshold.value]))
        panels = 2 + (t.dna is not None)
        fig = new_figure(4.2 * panels, 3.8)
        axes = fig.subplots(1, panels)
        cl = t.prep.cleanup
        if cl is not None:
            p = cl.params
            cleanup_panel(
                axes[0],
                t.prep.column(p.fsc_area),
                t.prep.column(p.fsc_height) if p.singlets else None,
                cl,
            )
        else:
            axes[0].set_title("no cleanup gates")
        overlay_histograms(axes[1], series, tr, thresholds=[threshold], xlabel=t.fitc)
        pct = _percent(values, threshold)
        axes[1].set_title(f"{pct:.1f} % TUNEL+ of {values.size} singlets", fontsize=9)
        if t.dna is not None:
            density_2d(
                axes[2],
                t.prep.kept(t.dna),
                values,
                None,
                tr,
                thresholds_y=[threshold],
                xlabel=f"DNA content ({t.dna})",
                ylabel=f"FITC-dUTP ({t.fitc})",
            )
        fig.suptitle(f"TUNEL {t.sample_id} ({t.inp.role})", fontsize=10)
        fig.tight_layout()
        res.add_figure(
            "tunel",
            fig,
            sample_id=t.sample_id,
            caption=f"{t.sample_id}: cleanup gates; FITC-dUTP with threshold "
            f"{threshold.value:.4g} ({_describe(threshold)})",
        )


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(TunelAssay())
