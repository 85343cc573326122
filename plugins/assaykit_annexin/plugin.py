"""Annexin V-FITC / PI apoptosis quadrants: the ``annexin_pi`` assay.

What it measures (Protocol 3 of the isotretinoin workflow): among singlet
cells, the percent that are viable (Annexin V−/PI−), early apoptotic
(Annexin V+/PI−), late apoptotic (Annexin V+/PI+) and necrotic
(Annexin V−/PI+).

How, per experiment (the unit of analysis, so controls sit beside samples):

1. **Read** every file with the flow layer (:func:`assaykit.cytometry.flow.read_samples`);
   a multi-data-set file gives one sample per data set (``sid``, ``sid#2`` …;
   the FCS 2.0/3.0 copies of one acquisition in a Beckman ``.lmd`` count once).
2. **Channels**: the ``annexin_channel``/``pi_channel`` parameters, else the
   ``$PnS`` labels (``annexin`` before ``FITC``; ``PI`` before
   ``propidium``), else the flow layer's FITC detector names and ``PE-A``. An ambiguous label is an
   error naming the file and the candidates.
3. **Compensation** (``compensate=true``, ``spillover_source="auto"``): the files' own
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
   ``threshold_method="controls"``: the ``percentile`` (99.5) of
   the compensated singlets of the fluorescence-minus-one control — the
   Annexin threshold from ``pi_only``, the PI threshold from
   ``annexin_only`` — falling back to ``unstained`` (or the other way round
   with ``threshold_control="unstained"``); with no usable control, the
   automatic method (flag ``threshold_auto``). ``"auto"``: the density
   valley of the pooled samples on a logicle axis. ``"fixed"``: the
   ``fixed_annexin_threshold``/``fixed_pi_threshold`` parameters.
6. **Quadrants**: an event with ``annexin >= annexin_threshold`` is Annexin
   V-positive, with ``pi >= pi_threshold`` PI-positive; so every singlet
   event lands in exactly one quadrant, and one equal to a threshold counts
   as positive (the Gating-ML half-open rule of
   :class:`assaykit.cytometry.gates.QuadrantGate`).

QC flags are declared in :attr:`AnnexinPI.flags`; the host adds
``no_controls`` when the experiment has no control at all. A sample that
cannot be analysed (unreadable, a missing channel, too few events to gate) is
an error record on its file; a control that cannot be fails the experiment.

Parameters renamed in 1.1.0 still work for one release, with a
``ParamsDeprecationWarning`` naming the new name: ``threshold_percentile`` →
``percentile``, ``debris`` → ``debris_gate``, ``singlets`` → ``singlet_gate``,
``annexin_threshold``/``pi_threshold`` → ``fixed_annexin_threshold``/
``fixed_pi_threshold``, and ``compensation`` → ``compensate`` (``"none"``)
plus ``spillover_source`` (``"auto"``/``"file"``/``"estimate"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from assaykit import Assay, AssayResult, Experiment, Metric, hookimpl
from assaykit.assay import Flag, ProfileMetric, Summary, SummaryColumn, deprecated_parameter
from assaykit.cytometry.params import FLOW_FLAGS, ControlThresholdParams
from assaykit.vocabulary import THRESHOLD_METHOD_CODES, THRESHOLD_SOURCE_CODES, shared_metric
from pydantic import Field, model_validator

from assaykit_annexin import __version__

CONTROL_ROLES = ("unstained", "annexin_only", "pi_only")
SPILLOVER_SOURCES = ("auto", "file", "estimate")

_PCT_OF = (
    "percent of singlet cells (debris and doublets excluded; events with a non-finite "
    "Annexin V or PI value excluded)"
)
_RULE = (
    "quadrants split at the experiment's annexin_threshold and pi_threshold on the "
    "compensated linear scale; a value equal to a threshold counts as positive"
)


class AnnexinParams(ControlThresholdParams):
    """Parameters of ``annexin_pi`` (shared flow fields: see ControlThresholdParams).

    The JSON Schema of this model is its documentation.
    """

    renamed: ClassVar[dict[str, str]] = {
        "threshold_percentile": "percentile",
        "debris": "debris_gate",
        "singlets": "singlet_gate",
        "annexin_threshold": "fixed_annexin_threshold",
        "pi_threshold": "fixed_pi_threshold",
    }

    annexin_channel: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description=(
            "Annexin V (FITC) channel, by $PnN name or $PnS label. Unset: the channel whose "
            "label matches 'annexin' (then 'FITC'), else the usual FITC detector names "
            "(FITC-A, FL1-A, ...)."
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
    spillover_source: Literal["auto", "file", "estimate"] = Field(
        "auto",
        description=(
            "Where the spillover matrix comes from when compensate=true. 'auto': the files' "
            "own spillover keyword ($SPILLOVER/$SPILL/SPILL) when every file has one covering "
            "both channels; else one matrix estimated from the annexin_only and pi_only "
            "controls, for every file; else each file's own where it has one and none "
            "elsewhere. 'file': the files' own only (an error when a file has none covering "
            "both channels). 'estimate': always estimate from the single-stain controls."
        ),
    )
    threshold_method: Literal["controls", "auto", "fixed"] = Field(
        "controls",
        description=(
            "'controls': the percentile of the compensated singlets of the negative controls "
            "(automatic when there are none); 'auto': the density valley of the pooled samples "
            "on a logicle axis; 'fixed': fixed_annexin_threshold and fixed_pi_threshold."
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
    fixed_annexin_threshold: float | None = Field(
        None,
        ge=-1e6,
        le=1e9,
        description=(
            "Annexin V threshold with threshold_method='fixed', compensated linear scale "
            "(channel units)."
        ),
    )
    fixed_pi_threshold: float | None = Field(
        None,
        ge=-1e6,
        le=1e9,
        description=(
            "PI threshold with threshold_method='fixed', compensated linear scale (channel "
            "units)."
        ),
    )

    @classmethod
    def upgrade_settings(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The renamed fields, and the old ``compensation`` choice split in two fields."""
        data = super().upgrade_settings(data)
        if "compensation" not in data:
            return data
        old = data["compensation"]
        if old not in (*SPILLOVER_SOURCES, "none"):
            raise ValueError(
                f"compensation={old!r} is not one of 'auto', 'file', 'estimate', 'none'; "
                "compensation is deprecated: use compensate and spillover_source"
            )
        new = "compensate" if old == "none" else "spillover_source"
        if new in data:
            raise ValueError(f"parameter 'compensation' is the old name of {new!r}; give only "
                             f"{new!r}")
        del data["compensation"]
        if old == "none":
            deprecated_parameter(cls, "compensation", "compensate",
                                 "compensation='none' is compensate=false")
            data["compensate"] = False
        else:
            deprecated_parameter(cls, "compensation", "spillover_source",
                                 f"compensation={old!r} is spillover_source={old!r}")
            data["spillover_source"] = old
        return data

    @model_validator(mode="after")
    def _fixed_needs_both(self) -> AnnexinParams:
        if self.threshold_method == "fixed" and (
            self.fixed_annexin_threshold is None or self.fixed_pi_threshold is None
        ):
            raise ValueError(
                "threshold_method='fixed' needs both fixed_annexin_threshold and "
                "fixed_pi_threshold"
            )
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
    figure_titles = (
        ("quadrants", "Annexin V vs PI: viable, early/late apoptotic and necrotic cells"),
        ("cleanup", "Debris and doublets removed before counting"),
        ("thresholds", "Where the Annexin V and PI thresholds come from"),
    )
    summaries = (
        Summary(
            "sample",
            (
                SummaryColumn("viable_pct", "viable %"),
                SummaryColumn("early_apoptotic_pct", "early apoptotic %"),
                SummaryColumn("late_apoptotic_pct", "late apoptotic %"),
                SummaryColumn("necrotic_pct", "necrotic %"),
                SummaryColumn("singlet_count", "singlets"),
                SummaryColumn("annexin_threshold_source", "Annexin V threshold from", "experiment"),
                SummaryColumn("pi_threshold_source", "PI threshold from", "experiment"),
            ),
            "Annexin V / PI: cells per quadrant",
            ("cell_line", "treatment", "dose_uM"),
        ),
    )
    profile = (
        ProfileMetric(
            ("early_apoptotic_pct", "late_apoptotic_pct"),
            "apoptotic % (Annexin V+, early + late)",
            by=("dose_uM",), position=60,
        ),
    )
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
        shared_metric(
            "singlet_count", "sample",
            "Here: finite Annexin V and PI values; the parent population of the four "
            "percentages.",
        ),
        shared_metric("event_count", "sample"),
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
            f"How annexin_threshold was set, as a code: {THRESHOLD_METHOD_CODES}.",
        ),
        Metric(
            "experiment", "pi_threshold_method", None, "str",
            f"How pi_threshold was set, as a code: {THRESHOLD_METHOD_CODES}.",
        ),
        Metric(
            "experiment", "annexin_threshold_source", None, "str",
            f"What set annexin_threshold, as a code: {THRESHOLD_SOURCE_CODES}.",
        ),
        Metric(
            "experiment", "pi_threshold_source", None, "str",
            f"What set pi_threshold, as a code: {THRESHOLD_SOURCE_CODES}.",
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

    flags = (
        *FLOW_FLAGS,
        Flag(
            "compensation_estimated",
            "warn",
            "The spillover matrix was estimated from the annexin_only and pi_only controls "
            "(robust regression) because the files carry none (or spillover_source="
            "'estimate'); the message says from which tubes and any uncertain term.",
        ),
        Flag(
            "no_compensation",
            "warn",
            "No compensation was applied to the sample (compensate=false, or no spillover "
            "keyword and no single-stain controls to estimate one).",
        ),
        Flag(
            "threshold_auto",
            "warn",
            "A threshold was set automatically (density valley of the pooled samples) "
            "because no usable control was present, or threshold_method='auto'.",
        ),
    )

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        from assaykit_annexin.analysis import analyze_experiment

        return analyze_experiment(experiment, params)


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(AnnexinPI())
