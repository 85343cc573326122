"""viability: MTT / CCK-8 / resazurin plates -> IC50, Hill slope and resistance factor.

Declarations only (listing plugins imports this module): the analysis, with numpy,
scipy and matplotlib, lives in :mod:`assaykit_viability.analysis`, imported inside
``analyze``. Written against the public API plus the science layer ``assaykit.plates``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assaykit import Assay, AssayResult, Experiment, Flag, Metric, Params, hookimpl
from assaykit.assay import ProfileMetric, Summary, SummaryColumn
from assaykit.plates.reader import PlateReader
from assaykit.readers import Reader
from pydantic import Field

# the names of assaykit.plates.doseresponse.DOSE_RESPONSE_FLAGS, restated here so that
# listing plugins does not import scipy; a test checks that both lists agree
_DR_FLAGS: tuple[Flag, ...] = (
    Flag(
        "ic50_outside_range",
        "warn",
        "The fitted IC50 lies outside the tested non-zero "
        "doses: an extrapolation, not a measured value.",
    ),
    Flag(
        "no_plateau",
        "warn",
        "The fitted curve does not reach its top (lowest dose) or "
        "bottom (highest dose) plateau; the model metric says what was fixed (3PL).",
    ),
    Flag(
        "replicate_outlier",
        "warn",
        "A well's residual from the fit has a modified "
        "z-score above outlier_z; it is named and left out of the fit unless "
        "exclude_outliers is false.",
    ),
    Flag(
        "edge_effect",
        "warn",
        "Outer-ring wells of a control role (vehicle, blank) "
        "differ from its inner wells (Mann-Whitney p < 0.01 and > 10 % of the median).",
    ),
    Flag(
        "no_inhibition",
        "fail",
        "The median response falls by less than min_drop (% of "
        "vehicle) from the lowest to the highest dose: no curve, no IC50.",
    ),
    Flag(
        "fit_failed",
        "fail",
        "No dose-response model could be fitted to the cell line's wells, or the fit gave "
        "a non-finite IC50, CI, Hill slope, R² or resistance factor: no number is reported.",
    ),
)
VIABILITY_FLAGS: tuple[Flag, ...] = (
    *_DR_FLAGS,
    Flag(
        "parental_missing",
        "warn",
        "A cell line names a parental line that has no "
        "fitted IC50 on the plate: no resistance factor.",
    ),
)

_IC50 = "relative IC50 (dose halfway between the fitted top and bottom), µM"


class ViabilityParams(Params):
    model: str = Field(
        "auto",
        description="dose-response model: 'auto' (4PL, 3PL fallback when a plateau is "
        "not reached) or one of 4PL, 3PL-bottom0, 3PL-top100, 2PL",
    )
    read: str = Field(
        "", description="name of the read of a multi-read export to use; '' = the first"
    )
    plateau_fraction: float = Field(
        0.2, gt=0, lt=0.5, description="plateau rule: fraction of the span (unitless)"
    )
    outlier_z: float = Field(
        3.5, gt=0, description="modified z-score above which a well is an outlier"
    )
    exclude_outliers: bool = Field(True, description="leave replicate outliers out of the fit")
    min_drop: float = Field(
        20.0, ge=0, description="minimum fall of response from lowest to highest dose, % of vehicle"
    )


class Viability(Assay):
    name = "viability"
    version = "0.2.0"
    summary = (
        "MTT/CCK-8/resazurin viability plates: blank subtraction, % of vehicle, 4PL fit "
        "per cell line (IC50 with 95 % CI, Hill slope, R²) and resistance factor."
    )
    input_kinds = ("plate",)
    roles = ("sample", "blank", "vehicle")
    control_roles = ("blank", "vehicle")
    required_columns = ("cell_line",)
    Params = ViabilityParams
    flags = VIABILITY_FLAGS
    figure_titles = (
        ("dose_response", "Dose-response curves and IC50 per cell line"),
    )
    summaries = (
        Summary(
            "cell_line",
            (
                SummaryColumn(
                    "ic50_uM", "IC50 µM [95 % CI]", low="ic50_ci_low_uM", high="ic50_ci_high_uM"
                ),
                SummaryColumn(
                    "resistance_factor",
                    "resistance factor [95 % CI]",
                    low="resistance_factor_ci_low",
                    high="resistance_factor_ci_high",
                ),
                SummaryColumn("r_squared", "R²"),
                SummaryColumn("n_wells", "wells"),
            ),
            "Viability: IC50 and resistance factor per cell line",
        ),
    )
    profile = (
        ProfileMetric("ic50_uM", "IC50 (MTT)", entity_type="cell_line", roles=None, position=10),
        ProfileMetric(
            "resistance_factor", "resistance factor (IC50 / parental)", entity_type="cell_line",
            roles=None, position=11,
        ),
    )
    metrics = (
        Metric(
            "well",
            "pct_viability",
            "%",
            "float",
            "blank-subtracted signal of the well, percent of the mean blank-subtracted "
            "signal of its cell line's vehicle wells (blank wells: not reported)",
        ),
        Metric("cell_line", "ic50_uM", "µM", "float", _IC50),
        Metric(
            "cell_line",
            "ic50_ci_low_uM",
            "µM",
            "float",
            "lower bound of the 95 % CI of the IC50 (delta method on log10 IC50, t)",
        ),
        Metric(
            "cell_line",
            "ic50_ci_high_uM",
            "µM",
            "float",
            "upper bound of the 95 % CI of the IC50 (delta method on log10 IC50, t)",
        ),
        Metric(
            "cell_line",
            "hill_slope",
            None,
            "float",
            "Hill slope, positive for a response falling with dose (Prism: -HillSlope)",
        ),
        Metric("cell_line", "r_squared", None, "float", "1 - SS_res/SS_tot over the wells fitted"),
        Metric("cell_line", "top", "%", "float", "low-dose plateau, % of vehicle (100 if fixed)"),
        Metric("cell_line", "bottom", "%", "float", "high-dose plateau, % of vehicle (0 if fixed)"),
        Metric(
            "cell_line",
            "model",
            None,
            "str",
            "model fitted: 4PL, 3PL-bottom0, 3PL-top100, 2PL or none",
        ),
        Metric("cell_line", "n_wells", None, "int", "wells fitted (after outlier exclusion)"),
        Metric(
            "cell_line",
            "resistance_factor",
            None,
            "float",
            "IC50 of the line over the IC50 of its parental line (sheet column parental)",
        ),
        Metric(
            "cell_line",
            "resistance_factor_ci_low",
            None,
            "float",
            "lower bound of the 95 % CI of the resistance factor (log scale, Welch t)",
        ),
        Metric(
            "cell_line",
            "resistance_factor_ci_high",
            None,
            "float",
            "upper bound of the 95 % CI of the resistance factor (log scale, Welch t)",
        ),
    )

    def analyze(self, experiment: Experiment, params: Any) -> AssayResult:
        from assaykit_viability.analysis import analyze_plates

        return analyze_plates(self, experiment, params)


@hookimpl
def assaykit_register_assays(register: Callable[[Assay], None]) -> None:
    register(Viability())


@hookimpl
def assaykit_register_readers(register: Callable[[Reader], None]) -> None:
    register(PlateReader())
