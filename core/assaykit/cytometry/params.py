"""Parameter fields every flow plugin exposes for the shared preparation steps.

Why a base model: the scatter channels, the cleanup gates, compensation, the
multi-data-set policy and the low-event limit mean the same thing in every
flow assay, so a lab sets them the same way in ``assaykit.toml`` whatever the
assay, and their documentation is written once. A plugin subclasses
:class:`FlowPrepParams` and adds its own fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from assaykit.assay import Params
from assaykit.cytometry.cleanup import CleanupParams

__all__ = ["FlowPrepParams"]


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


class FlowPrepParams(Params):
    """Scatter channels, cleanup gates, compensation and data-set policy (shared fields)."""

    fsc_area: str = Field(
        "FSC-A",
        min_length=1,
        description=(
            "Forward-scatter channel ($PnN or $PnS) for the debris gate; use the height "
            "channel (e.g. 'FSC-H') on instruments without pulse area"
        ),
    )
    fsc_height: str = Field(
        "FSC-H",
        min_length=1,
        description="Forward-scatter height channel for the singlet gate (FSC-H/FSC-A ratio)",
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
        allow_inf_nan=False,
        description=(
            "fsc_area cutoff (scale units) when debris_gate='fixed'; events below it are debris"
        ),
    )
    singlet_gate: bool = Field(
        True,
        description=(
            "Keep only singlets (FSC-H/FSC-A within the robust band); turn off for "
            "instruments that record no pulse area"
        ),
    )
    compensate: bool = Field(
        True, description="Apply the file's spillover matrix ($SPILLOVER/$SPILL) when present"
    )
    datasets: Literal["all", "first", "last"] = Field(
        "all",
        description=(
            "Files with several data sets ($NEXTDATA): 'all' makes each its own sample "
            "('<sample_id>#<k>'), or use only the 'first' or 'last'"
        ),
    )
    strict: bool = strict_field()
    min_events: int = Field(
        1000,
        ge=1,
        le=100_000_000,
        description="Fewer gated events than this (events) flags the sample low_event_count",
    )

    @model_validator(mode="after")
    def _fixed_needs_cutoff(self) -> FlowPrepParams:
        if self.debris_gate == "fixed" and self.debris_cutoff is None:
            raise ValueError("debris_gate='fixed' needs debris_cutoff (scale units)")
        return self

    def cleanup_params(self) -> CleanupParams:
        """The :class:`CleanupParams` these fields describe."""
        return CleanupParams(
            fsc_area=self.fsc_area,
            fsc_height=self.fsc_height,
            debris_method=self.debris_gate,
            debris_cutoff=self.debris_cutoff,
            singlets=self.singlet_gate,
        )
