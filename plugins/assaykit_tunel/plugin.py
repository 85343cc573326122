"""``tunel``: percent TUNEL-positive (apoptotic, fragmented-DNA) cells by flow cytometry.

The science (APO-DIRECT-style TUNEL by flow): TdT adds FITC-labelled dUTP to
the free 3'-OH ends of fragmented DNA, so apoptotic cells are FITC-bright.
The no-TdT tube sees the same cells without the enzyme, so its FITC signal is
autofluorescence and unspecific binding only: a high percentile of it is the
line above which a cell counts as labelled. A DNase-treated tube, in which
every cell has nicked DNA, shows that the labelling worked.

Steps per tube (every data set of a file, see ``datasets``), the reading,
cleanup and failure rules being the flow layer's (:mod:`assaykit.cytometry.flow`):

1. find the FITC-dUTP channel (parameter, else ``$PnS`` label, else the usual
   FITC detector names) and, if given, the DNA-content (PI) channel;
2. scale, compensate, and apply the cleanup gates (debris, singlets);
3. threshold FITC-dUTP: the ``percentile`` of the pooled negative controls'
   singlets, or ``fixed_threshold``; without a negative control, a density
   valley of the pooled samples (or, when they are unimodal, the upper edge of
   their main population), flagged ``no_negative_control``;
4. ``tunel_positive_pct`` = percent of singlets at or above the threshold.

A sample that cannot be analysed (unreadable, or without a needed channel) is
an error record on its file; a broken control fails the experiment.
"""

from __future__ import annotations

from collections.abc import Callable

from assaykit import Assay, AssayResult, Experiment, Metric, hookimpl
from assaykit.assay import Flag, ProfileMetric, Summary, SummaryColumn
from assaykit.cytometry.params import FITC_FALLBACKS, FLOW_FLAGS, ControlThresholdParams
from assaykit.vocabulary import THRESHOLD_SOURCE_CODES, shared_metric
from pydantic import Field

__all__ = ["TunelAssay", "TunelParams"]

ROLES = ("sample", "negative_control", "positive_control")
FITC_HINT = "/".join(FITC_FALLBACKS)


class TunelParams(ControlThresholdParams):
    """Settings of the ``tunel`` assay (shared flow fields: see ControlThresholdParams)."""

    fitc_channel: str | None = Field(
        None,
        min_length=1,
        description=(
            "FITC-dUTP channel ($PnN or $PnS). Default: a channel whose $PnS label "
            f"mentions TUNEL, dUTP, APO-DIRECT or FITC, else {FITC_HINT}"
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


class TunelAssay(Assay):
    """Percent TUNEL-positive singlets, with the threshold from the no-TdT control."""

    name = "tunel"
    version = "1.1.0"
    summary = "Percent TUNEL-positive (FITC-dUTP) singlet cells, threshold from the no-TdT control."
    input_kinds = ("fcs",)
    roles = ROLES
    control_roles = ("negative_control",)
    Params = TunelParams
    figure_titles = (
        ("tunel", "TUNEL signal and the positive threshold"),
        ("cleanup", "Debris and doublets removed before counting"),
    )
    summaries = (
        Summary(
            "sample",
            (
                SummaryColumn("tunel_positive_pct", "TUNEL-positive %"),
                SummaryColumn("singlet_count", "singlets"),
                SummaryColumn("threshold_source", "threshold from", "experiment"),
            ),
            "TUNEL: DNA fragmentation",
            ("treatment", "dose_uM"),
        ),
    )
    profile = (
        ProfileMetric("tunel_positive_pct", "TUNEL-positive %", by=("dose_uM",), position=70),
    )
    metrics = (
        Metric(
            "sample",
            "tunel_positive_pct",
            "%",
            "float",
            "percent of singlet cells (after debris and doublet gates) whose compensated "
            "FITC-dUTP value is at or above the experiment's threshold",
        ),
        shared_metric(
            "singlet_count", "sample", "Here: finite FITC-dUTP (and DNA-content) values."
        ),
        shared_metric("event_count", "sample"),
        Metric(
            "experiment", "threshold", "AU", "float",
            "FITC-dUTP positivity threshold on the compensated linear scale (channel units); "
            "an event at or above it is positive",
        ),
        shared_metric("threshold_method", "experiment"),
        Metric(
            "experiment", "threshold_source", None, "str",
            f"What set the threshold, as a code: {THRESHOLD_SOURCE_CODES}.",
        ),
    )
    flags = (
        *FLOW_FLAGS,
        Flag(
            "no_negative_control",
            "warn",
            "The experiment has no negative control (no TdT): the threshold is automatic "
            "(or fixed_threshold), not a control percentile.",
        ),
        Flag(
            "negative_control_high",
            "warn",
            "More than 1 point above the 100 - percentile % of the pooled negative control "
            "lies at or above its own percentile: many events share the threshold value "
            "(discrete or degenerate data), so the threshold does not separate.",
        ),
        Flag(
            "positive_control_low",
            "warn",
            "A positive control (DNase) has fewer TUNEL-positive singlets than "
            "positive_control_min_pct: the labelling may have failed.",
        ),
        Flag(
            "scored_by_own_threshold",
            "warn",
            "On the percentage of a lone negative control, which its own percentile sets "
            "by construction (with two or more controls each is scored by the others').",
        ),
    )

    def analyze(self, experiment: Experiment, params: TunelParams) -> AssayResult:
        from assaykit_tunel.analysis import analyze_experiment

        return analyze_experiment(experiment, params)


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(TunelAssay())
