"""The ``tunel`` analysis of one experiment (the method is described in ``plugin.py``).

Kept apart from the declarations so that listing plugins never imports the
numerical stack; reading, cleanup and the failure rule are the flow layer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from assaykit import AnalysisError, AssayResult, Experiment, QCFlag, raster_figure
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
    threshold_method_code,
)
from assaykit.cytometry.live import mad_threshold
from assaykit.cytometry.params import FITC_FALLBACKS
from assaykit.cytometry.prepare import (
    Prepared,
    auto_threshold,
    control_threshold,
    prepare_events,
    resolve_channel,
)
from assaykit.cytometry.thresholds import Threshold, fixed_threshold

from assaykit_tunel.plugin import ROLES, TunelParams

FITC_LABELS = [re.compile(p, re.IGNORECASE) for p in (r"tunel", r"dutp", r"apo-?direct", r"fitc")]
CONTROLS = ("negative_control", "positive_control")


@dataclass(eq=False)
class _Tube:
    """One data set of one input, prepared for gating."""

    sample: FlowSample
    fitc: str
    dna: str | None
    prep: Prepared

    @property
    def sample_id(self) -> str:
        return self.sample.sample_id

    @property
    def values(self) -> np.ndarray:
        return self.prep.kept(self.fitc)


def _percent(values: np.ndarray, threshold: Threshold) -> float:
    if values.size == 0:
        return float("nan")
    return 100.0 * float(np.count_nonzero(values >= threshold.value)) / float(values.size)


def analyze_experiment(experiment: Experiment, params: TunelParams) -> AssayResult:
    res = AssayResult()
    figures = experiment.figures
    read = read_samples(
        experiment, params, res, lambda s: _prepare(s, params, figures), roles=ROLES,
        fatal_roles=CONTROLS,
    )
    if not read.ok:  # every sample is an error record already; nothing to threshold
        return res
    tubes: dict[str, list[_Tube]] = {r: [] for r in ROLES}
    for t in read.prepared():
        tubes[t.sample.role].append(t)

    threshold, source = _threshold(experiment, tubes, params, res)
    exp = experiment.name
    res.add(exp, "experiment", exp, "threshold", threshold.value)
    res.add(exp, "experiment", exp, "threshold_method", threshold_method_code(threshold))
    res.add(exp, "experiment", exp, "threshold_source", source)

    negatives = tubes["negative_control"]
    neg_values = np.concatenate([t.values for t in negatives]) if negatives else np.empty(0)
    own_scored = _control_thresholds(negatives, threshold, params)
    for role in ROLES:
        for t in tubes[role]:
            _measure(t, own_scored.get(t.sample_id, (threshold, None)), params, res)
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
    if figures:
        for role in ROLES:
            for t in tubes[role]:
                _figure(t, threshold, neg_values, negatives, res)
                add_cleanup_figure(res, t.sample_id, t.prep)
    return res


def _prepare(s: FlowSample, params: TunelParams, figures: bool) -> _Tube:
    fcs = s.fcs
    fitc = resolve_channel(
        fcs, params.fitc_channel, FITC_LABELS, FITC_FALLBACKS, "FITC-dUTP (TUNEL) channel",
        param="fitc_channel",
    )
    dna = None
    if params.dna_channel:
        dna = resolve_channel(
            fcs, params.dna_channel, what="DNA-content channel", param="dna_channel"
        )
    channels = [fitc] if dna is None or dna == fitc else [fitc, dna]
    prep = prepare_events(
        fcs,
        channels,
        compensate=params.compensate,
        cleanup=params.cleanup_params(),
        extra=figure_channels(params, fcs, figures),
        fit_events=params.fit_events,
    )
    return _Tube(s, fitc, dna, prep)


def _threshold(
    experiment: Experiment, tubes: dict[str, list[_Tube]], params: TunelParams, res: AssayResult
) -> tuple[Threshold, str]:
    """The experiment's FITC-dUTP threshold and its ``threshold_source`` code."""
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
        source = "parameter:fixed_threshold"
        return fixed_threshold(params.fixed_threshold, channel=name, source=source), source
    if negatives:
        th = control_threshold(
            {t.sample_id: t.values for t in negatives}, params.percentile, channel=name
        )
        return th, f"negative_control:{th.control}"
    samples = tubes["sample"]
    if not samples:
        raise AnalysisError(
            f"experiment {experiment.name!r}: no negative control and no analyzable sample "
            "to set a threshold from; add a negative_control row or set fixed_threshold"
        )
    pooled = np.concatenate([t.values for t in samples])
    source = "samples:" + ",".join(t.sample_id for t in samples)
    try:
        th = auto_threshold(pooled, channel=name, source=source, fit_events=params.fit_events)
    except AnalysisError:
        th = mad_threshold(pooled, params.auto_n_mad, control=source, channel=name, min_events=50)
    return th, source


def _control_thresholds(
    negatives: list[_Tube], threshold: Threshold, params: TunelParams
) -> dict[str, tuple[Threshold, QCFlag | None]]:
    """The threshold each negative control is scored by, and a flag when it is its own.

    Why: a control scored by the percentile of its own events reads
    ``100 - percentile`` % whatever it holds, which is no measurement. With
    two or more controls, each is scored by the percentile of the *others*
    (leave-one-out), an honest estimate of the false-positive rate that a
    contaminated or mislabelled control fails. A lone control can only be
    scored by itself; its value is kept but flagged ``scored_by_own_threshold``.
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
            control_threshold(others, params.percentile, channel=threshold.channel or t.fitc),
            None,
        )
    return out


def _measure(
    t: _Tube, scored: tuple[Threshold, QCFlag | None], params: TunelParams, res: AssayResult
) -> None:
    sid, src = t.sample_id, t.sample.source
    n = t.prep.n_kept
    threshold, own = scored
    flag_low_events(res, sid, n, params)
    res.add(sid, "sample", sid, "tunel_positive_pct", _percent(t.values, threshold),
            flags=[own] if own is not None else [], source=src)
    res.add(sid, "sample", sid, "singlet_count", n, source=src)
    res.add(sid, "sample", sid, "event_count", t.prep.n_events, source=src)


def _figure(
    t: _Tube, threshold: Threshold, neg_values: np.ndarray, negatives: list[_Tube],
    res: AssayResult,
) -> None:
    values = t.values
    series: list[tuple[str, np.ndarray]] = [(t.sample_id, values)]
    if neg_values.size and t not in negatives:
        series.append(("negative control", neg_values))
    tr = common_logicle(*(v for _, v in series), np.array([threshold.value]))
    panels = 1 + (t.dna is not None)
    # fixed margins, drawn straight to pixels (assaykit.raster: a few ms, not ~40)
    adjust = {"left": 0.15 / panels, "right": 0.97, "bottom": 0.14, "top": 0.84, "wspace": 0.3}
    fig, axes = raster_figure(4.2 * panels, 3.8, panels, adjust)
    overlay_histograms(axes[0], series, tr, thresholds=[threshold], xlabel=t.fitc)
    pct = _percent(values, threshold)
    axes[0].set_title(f"{pct:.1f} % TUNEL+ of {values.size} singlets", fontsize=9, y=1.0)
    if t.dna is not None:
        density_2d(
            axes[1], t.prep.kept(t.dna), values, None, tr, thresholds_y=[threshold],
            xlabel=f"DNA content ({t.dna})", ylabel=f"FITC-dUTP ({t.fitc})",
        )
    fig.suptitle(f"TUNEL {t.sample_id} ({t.sample.role})", fontsize=10)
    res.add_figure(
        "tunel",
        fig,
        sample_id=t.sample_id,
        caption=f"{t.sample_id}: cells with fragmented DNA (TUNEL-positive) lie beyond "
        f"the threshold line, set from {threshold.control}. Method: FITC-dUTP of singlets, "
        f"threshold {threshold.value:.4g} ({threshold_method_code(threshold)}).",
    )
