"""What every flow assay declares the same way: its shared parameters, flags and threshold codes.

Why one base: the scatter channels, the cleanup gates, compensation, the
multi-data-set policy, the low-event limit and the control-percentile
threshold mean the same thing in every flow assay, so a lab sets them the same
way in ``assaykit.toml`` whatever the assay, and their documentation is
written once. A plugin subclasses :class:`FlowParams` (or
:class:`ControlThresholdParams` when it thresholds on negative controls) and
adds only the fields of its own science.

This module is imported by the plugins' declaration modules, so it stays light
(pydantic and the contract modules only; the cleanup model is imported when
:meth:`FlowParams.cleanup_params` is called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from assaykit.assay import Flag, Params
from assaykit.vocabulary import THRESHOLD_METHOD_CODES, THRESHOLD_SOURCE_CODES

if TYPE_CHECKING:
    from assaykit.cytometry.cleanup import CleanupParams

__all__ = [
    "FITC_FALLBACKS",
    "FLOW_FLAGS",
    "THRESHOLD_METHOD_CODES",
    "THRESHOLD_SOURCE_CODES",
    "ControlThresholdParams",
    "FlowParams",
    "FlowPrepParams",
    "strict_field",
]

#: Flags raised by the flow layer (:mod:`assaykit.cytometry.flow`) for every flow
#: assay; each flow plugin includes them in its ``flags``.
FLOW_FLAGS: tuple[Flag, ...] = (
    Flag(
        "fcs_repaired",
        "warn",
        "The FCS reader repaired a known instrument fault in the sample's file (offsets, "
        "HEADER/TEXT disagreement, TEXT encoding, masked bits); the flag's message quotes "
        "the repair. Set strict=true to refuse such files instead.",
    ),
    Flag(
        "low_event_count",
        "fail",
        "Fewer events in the sample's parent population (singlet cells; live singlet "
        "cells in rh123_efflux) than the min_events parameter: a warning, or a failure "
        "when none remain or the data set has too few events to fit the cleanup gates.",
    ),
)

#: ``$PnN`` names of the FITC (488 nm, ~530/30) detector on common instruments, tried in
#: this order by every flow assay whose dye sits there when no ``$PnS`` label names it.
FITC_FALLBACKS: tuple[str, ...] = ("FITC-A", "FL1-A", "FL1-H", "B1-A", "BL1-A", "FITC-H", "FL1")


def strict_field() -> bool:
    """The ``strict`` parameter of every flow assay (one wording, one default)."""
    return Field(
        False,
        description=(
            "Refuse an FCS file that deviates from the standard (error naming the file, the "
            "keyword and what was expected) instead of analysing it as repaired; the repairs "
            "are listed in the report's file conformance table either way"
        ),
    )


class FlowParams(Params):
    """Scatter channels, cleanup gates, compensation, data-set policy and event limits."""

    fsc_area: str = Field(
        "FSC-A",
        min_length=1,
        max_length=200,
        description=(
            "Forward-scatter channel ($PnN or $PnS) for the debris gate; use the height "
            "channel (e.g. 'FSC-H') on instruments without pulse area"
        ),
    )
    fsc_height: str = Field(
        "FSC-H",
        min_length=1,
        max_length=200,
        description="Forward-scatter height channel for the singlet gate (FSC-H/FSC-A ratio)",
    )
    ssc_area: str = Field(
        "SSC-A",
        min_length=1,
        max_length=200,
        description="Side-scatter channel, drawn on the cleanup figure only",
    )
    debris_gate: Literal["valley", "fixed", "none"] = Field(
        "valley",
        description=(
            "Debris gate on fsc_area: 'valley' (density minimum above the debris), "
            "'fixed' (debris_cutoff) or 'none'"
        ),
    )
    debris_cutoff: float | None = Field(
        None,
        ge=0,
        le=1e9,
        allow_inf_nan=False,
        description=(
            "fsc_area cutoff (scale units) when debris_gate='fixed'; events below it are debris"
        ),
    )
    singlet_gate: bool = Field(
        True,
        description=(
            "Keep only singlets (FSC-H/FSC-A within the robust band); turn off for "
            "instruments that record no pulse area. Off: the parent population is the "
            "debris-excluded cells"
        ),
    )
    singlet_band_mad: float = Field(
        4.0,
        gt=0.0,
        le=50.0,
        description="Half-width of the singlet FSC-H/FSC-A band, in robust SDs (1.4826 MAD)",
    )
    compensate: bool = Field(
        True,
        description=(
            "Compensate the fluorescence channels (with the file's spillover matrix "
            "$SPILLOVER/$SPILL when present; see the assay for other sources)"
        ),
    )
    datasets: Literal["all", "first", "last"] = Field(
        "all",
        description=(
            "Files with several data sets ($NEXTDATA): 'all' makes each its own sample "
            "('<sample_id>#<k>'; the FCS 2.0/3.0 copies of one .lmd acquisition count once, "
            "the last is used), or use only the 'first' or 'last'"
        ),
    )
    strict: bool = strict_field()
    min_events: int = Field(
        1000,
        ge=1,
        le=1_000_000_000,
        description=(
            "Fewer events than this (events) in the parent population flags the sample "
            "low_event_count"
        ),
    )
    fit_events: int = Field(
        10_000,
        ge=1_000,
        le=1_000_000_000,
        description=(
            "Gate boundaries (debris valley, singlet band, automatic thresholds) are fitted "
            "on at most this many events, taken at an even stride, then applied to all events"
        ),
    )

    @model_validator(mode="after")
    def _fixed_needs_cutoff(self) -> FlowParams:
        if self.debris_gate == "fixed" and self.debris_cutoff is None:
            raise ValueError("debris_gate='fixed' needs debris_cutoff (scale units)")
        return self

    def cleanup_params(self) -> CleanupParams:
        """The :class:`~assaykit.cytometry.cleanup.CleanupParams` these fields describe."""
        from assaykit.cytometry.cleanup import CleanupParams

        return CleanupParams(
            fsc_area=self.fsc_area,
            fsc_height=self.fsc_height,
            ssc_area=self.ssc_area,
            debris_method=self.debris_gate,
            debris_cutoff=self.debris_cutoff,
            singlets=self.singlet_gate,
            n_mad_low=self.singlet_band_mad,
            n_mad_high=self.singlet_band_mad,
        )


#: The old name of :class:`FlowParams` (kept importable).
FlowPrepParams = FlowParams


class ControlThresholdParams(FlowParams):
    """:class:`FlowParams` plus the negative-control percentile threshold."""

    percentile: float = Field(
        99.5,
        ge=50.0,
        lt=100.0,
        description=(
            "Percentile (%) of the pooled negative control's compensated singlet values used "
            "as a positivity threshold; 100 minus it is the percent of the control called "
            "positive"
        ),
    )
