"""Annexin V-FITC / PI apoptosis quadrants: the ``annexin_pi`` assay.

What it measures (Protocol 3 of the isotretinoin workflow): among singlet
cells, the percent that are viable (Annexin V−/PI−), early apoptotic
(Annexin V+/PI−), late apoptotic (Annexin V+/PI+) and necrotic
(Annexin V−/PI+).

How, per experiment (the unit of analysis, so controls sit beside samples):

1. **Read** every file; a multi-data-set file gives one sample per data set
   (:func:`assaykit.cytometry.prepare.fcs_samples`: ``sid``, ``sid#2`` …;
   the FCS 2.0/3.0 copies of one acquisition in a Beckman ``.lmd`` count once).
2. **Channels**: the ``annexin_channel``/``pi_channel`` parameters, else the
   ``$PnS`` labels (``annexin`` before ``FITC``; ``PI`` before
   ``propidium``), else ``FITC-A`` and ``PE-A``. An ambiguous label is an
   error naming the file and the candidates.
3. **Compensation** (``compensation="auto"``): the files' own
   ``$SPILLOVER``/``$SPILL``/``SPILL`` when every file carries one covering
   both channels (applied to those channels only); otherwise a spillover
   matrix estimated from the ``annexin_only`` and ``pi_only`` controls
   (robust regression, unstained as the negative reference; flag
   ``compensation_estimated``); otherwise each file's own matrix if any and
   none elsewhere (flag ``no_compensation``).
4. **Cleanup**: debris (FSC-A density valley) and doublets (FSC-H/FSC-A
   band), :func:`assaykit.cytometry.cleanup.auto_cleanup` rules. The parent
   population of every percentage is the resulting singlet cells.
5. **Thresholds**, on the compensated linear scale, one pair per experiment:
   ``threshold_method="controls"``: the ``threshold_percentile`` (99.5) of
   the compensated singlets of the fluorescence-minus-one control — the
   Annexin threshold from ``pi_only``, the PI threshold from
   ``annexin_only`` — falling back to ``unstained`` (or the other way round
   with ``threshold_control="unstained"``); with no usable control, the
   automatic method (flag ``threshold_auto``). ``"auto"``: the density
   valley of the pooled samples on a logicle axis. ``"fixed"``: the
   ``annexin_threshold``/``pi_threshold`` parameters.
6. **Quadrants**: an event with ``annexin >= annexin_threshold`` is Annexin
   V-positive, with ``pi >= pi_threshold`` PI-positive; so every singlet
   event lands in exactly one quadrant, and one equal to a threshold counts
   as positive (the Gating-ML half-open rule of
   :class:`assaykit.cytometry.gates.QuadrantGate`).

QC flags: ``compensation_estimated``, ``no_compensation``,
``low_event_count`` (fewer singlets than ``min_events``), ``threshold_auto``;
the host adds ``no_controls`` when the experiment has no control at all. A
tube with too few events to gate is an error record on its file
(``AssayResult.fail_sample``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from assaykit import Assay, AssayResult, Experiment, Metric, Params, hookimpl
from assaykit.cytometry.params import strict_field
from pydantic import Field, model_validator

from assaykit_annexin import __version__

CONTROL_ROLES = ("unstained", "annexin_only", "pi_only")

_PCT_OF = (
    "percent of singlet cells (debris and doublets excluded; events with a non-finite "
    "Annexin V or PI value excluded)"
)
_RULE = (
    "quadrants split at the experiment's annexin_threshold and pi_threshold on the "
    "compensated linear scale; a value equal to a threshold counts as positive"
)


class AnnexinParams(Params):
    """Parameters of ``annexin_pi``. The JSON Schema of this model is its documentation."""

    annexin_channel: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description=(
            "Annexin V (FITC) channel, by $PnN name or $PnS label. Unset: the channel whose "
            "label matches 'annexin' (then 'FITC'), else FITC-A."
        ),
    )
    pi_channel: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description=(
            "Propidium iodide channel, by $PnN name or $PnS label. Unset: the channel whose "
            "label matches 'PI' (then 'propidium'), else PE-A."
        ),
    )
    compensation: Literal["auto", "file", "estimate", "none"] = Field(
        "auto",
        description=(
            "'auto': the files' own spillover keyword ($SPILLOVER/$SPILL/SPILL) when every file "
            "has one covering both channels; else one matrix estimated from the annexin_only and "
            "pi_only controls, for every file; else each file's own where it has one and none "
            "elsewhere. 'file': the files' own only (an error when a file has none covering both "
            "channels). 'estimate': always estimate from the single-stain controls. 'none': no "
            "compensation."
        ),
    )
    threshold_method: Literal["controls", "auto", "fixed"] = Field(
        "controls",
        description=(
            "'controls': a percentile of the compensated singlets of the negative controls "
            "(automatic when there are none); 'auto': the density valley of the pooled samples "
            "on a logicle axis; 'fixed': annexin_threshold and pi_threshold."
        ),
    )
    threshold_control: Literal["single_stain", "unstained"] = Field(
        "single_stain",
        description=(
            "Which control sets a threshold with threshold_method='controls'. 'single_stain': "
            "the fluorescence-minus-one tube (Annexin threshold from pi_only, PI threshold from "
            "annexin_only), else unstained. 'unstained': unstained, else the single stain."
        ),
    )
    threshold_percentile: float = Field(
        99.5,
        ge=50.0,
        lt=100.0,
        description=(
            "Percentile (%) of the control's compensated singlet values used as the threshold; "
            "100 minus it is the percent of the control called positive."
        ),
    )
    annexin_threshold: float | None = Field(
        None,
        ge=-1e6,
        le=1e9,
        description="Fixed Annexin V threshold, compensated linear scale (channel units).",
    )
    pi_threshold: float | None = Field(
        None,
        ge=-1e6,
        le=1e9,
        description="Fixed PI threshold, compensated linear scale (channel units).",
    )
    min_events: int = Field(
        1000,
        ge=1,
        le=1_000_000_000,
        description="A sample with fewer singlet cells than this is flagged low_event_count.",
    )
    strict: bool = strict_field()
    datasets: Literal["all", "first", "last"] = Field(
        "all",
        description=(
            "Files with several data sets: 'all' makes each its own sample (sid, sid#2, ...; "
            "the FCS 2.0/3.0 copies of one .lmd acquisition count once, the last is used); "
            "'first'/'last' analyse only that one."
        ),
    )
    fsc_area: str = Field(
        "FSC-A", min_length=1, max_length=200, description="Forward-scatter area channel."
    )
    fsc_height: str = Field(
        "FSC-H",
        min_length=1,
        max_length=200,
        description="Forward-scatter height channel (singlet gate).",
    )
    ssc_area: str = Field(
        "SSC-A",
        min_length=1,
        max_length=200,
        description="Side-scatter area channel (drawn on the cleanup figure only).",
    )
    debris: Literal["valley", "fixed", "none"] = Field(
        "valley",
        description=(
            "Debris gate on FSC-A: 'valley' (leftmost density valley), 'fixed' (debris_cutoff) "
            "or 'none'."
        ),
    )
    debris_cutoff: float | None = Field(
        None, ge=0.0, le=1e9, description="FSC-A cutoff (channel units) when debris='fixed'."
    )
    singlets: bool = Field(
        True,
        description=(
            "Gate singlets on FSC-H/FSC-A. Off: the parent population is the debris-excluded "
            "cells."
        ),
    )
    singlet_band_mad: float = Field(
        4.0,
        gt=0.0,
        le=50.0,
        description="Half-width of the singlet FSC-H/FSC-A band, in robust SDs (1.4826 MAD).",
    )
    fit_events: int = Field(
        10_000,
        ge=1_000,
        le=1_000_000_000,
        description=(
            "Gate boundaries (debris valley, singlet band, automatic thresholds) are fitted on "
            "at most this many events, taken at an even stride, then applied to all events."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> AnnexinParams:
        if self.threshold_method == "fixed" and (
            self.annexin_threshold is None or self.pi_threshold is None
        ):
            raise ValueError(
                "threshold_method='fixed' needs both annexin_threshold and pi_threshold"
            )
        if self.debris == "fixed" and self.debris_cutoff is None:
            raise ValueError("debris='fixed' needs debris_cutoff")
        return self


class AnnexinPI(Assay):
    """The ``annexin_pi`` assay (see the module docstring for the method)."""

    name = "annexin_pi"
    version = __version__
    summary = (
        "Annexin V-FITC/PI apoptosis quadrants: viable, early apoptotic, late apoptotic and "
        "necrotic percent of singlet cells."
    )
    input_kinds = ("fcs",)
    roles = ("sample", *CONTROL_ROLES)
    control_roles = CONTROL_ROLES
    Params = AnnexinParams
    metrics = (
        Metric(
            "sample", "viable_pct", "%", "float",
            f"Annexin V-negative, PI-negative (viable) cells, {_PCT_OF}; {_RULE}.",
        ),
        Metric(
            "sample", "early_apoptotic_pct", "%", "float",
            f"Annexin V-positive, PI-negative (early apoptotic) cells, {_PCT_OF}; {_RULE}.",
        ),
        Metric(
            "sample", "late_apoptotic_pct", "%", "float",
            f"Annexin V-positive, PI-positive (late apoptotic) cells, {_PCT_OF}; {_RULE}.",
        ),
        Metric(
            "sample", "necrotic_pct", "%", "float",
            f"Annexin V-negative, PI-positive (necrotic) cells, {_PCT_OF}; {_RULE}.",
        ),
        Metric(
            "sample", "singlet_count", "events", "int",
            "Number of singlet cells: events passing the debris and singlet gates with finite "
            "Annexin V and PI values; the parent population of the four percentages.",
        ),
        Metric(
            "sample", "event_count", "events", "int",
            "Number of events in the data set, before any gate.",
        ),
        Metric(
            "sample", "compensation", None, "str",
            "Compensation applied to this data set's Annexin V and PI channels: "
            "'file:<keyword>' (its own spillover keyword), 'estimated' (from the single-stain "
            "controls) or 'none'.",
        ),
        Metric(
            "experiment", "annexin_threshold", "AU", "float",
            "Annexin V positivity threshold on the compensated linear scale (channel units); "
            "events >= it are Annexin V-positive.",
        ),
        Metric(
            "experiment", "pi_threshold", "AU", "float",
            "PI positivity threshold on the compensated linear scale (channel units); "
            "events >= it are PI-positive.",
        ),
        Metric(
            "experiment", "annexin_threshold_method", None, "str",
            "How annexin_threshold was set: 'percentile:<q>' of a control's compensated "
            "singlets, 'density_valley' of the pooled samples, or 'fixed'.",
        ),
        Metric(
            "experiment", "pi_threshold_method", None, "str",
            "How pi_threshold was set: 'percentile:<q>' of a control's compensated singlets, "
            "'density_valley' of the pooled samples, or 'fixed'.",
        ),
        Metric(
            "experiment", "annexin_threshold_source", None, "str",
            "What set annexin_threshold: '<role>:<sample ids>' of the control(s), "
            "'samples:<sample ids>' for an automatic threshold, or 'parameter'.",
        ),
        Metric(
            "experiment", "pi_threshold_source", None, "str",
            "What set pi_threshold: '<role>:<sample ids>' of the control(s), "
            "'samples:<sample ids>' for an automatic threshold, or 'parameter'.",
        ),
        Metric(
            "experiment", "compensation", None, "str",
            "Compensation of the experiment: 'file' (each file's own spillover keyword), "
            "'estimated' (one matrix from the single-stain controls, for every file), "
            "'mixed' (some files had their own, some none) or 'none'.",
        ),
        Metric(
            "experiment", "spillover_annexin_into_pi", None, "float",
            "Spillover applied: fraction of the Annexin V dye's signal seen in the PI channel "
            "(from the estimated or, when all files share one, the files' matrix).",
        ),
        Metric(
            "experiment", "spillover_pi_into_annexin", None, "float",
            "Spillover applied: fraction of the PI dye's signal seen in the Annexin V channel.",
        ),
        Metric(
            "experiment", "annexin_channel", None, "str",
            "The $PnN name(s) of the Annexin V channel, comma-separated when files differ.",
        ),
        Metric(
            "experiment", "pi_channel", None, "str",
            "The $PnN name(s) of the PI channel, comma-separated when files differ.",
        ),
    )

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        from assaykit_annexin.analysis import analyze_experiment

        return analyze_experiment(experiment, params)


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(AnnexinPI())
