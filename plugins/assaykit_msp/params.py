"""Parameters of ``msp_gel``. The JSON Schema of :class:`MSPParams` is its documentation."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from assaykit.imaging.assay import ImagingParams
from assaykit.imaging.given import ImageGeometry
from pydantic import Field, field_validator, model_validator

CALLS = ("methylated", "unmethylated", "partially_methylated", "failed")

#: Band kinds, for records and the figure.
PRODUCT, WEAK, DIMER, OTHER, LADDER = "product", "weak", "primer_dimer", "other", "ladder"

#: A 100 bp ladder, 100-1000 bp (e.g. GeneRuler 100 bp, NEB N3231 without its top bands).
DEFAULT_LADDER_BP: tuple[float, ...] = tuple(float(s) for s in range(1000, 0, -100))


def _check_sizes(values: tuple[float, ...], name: str) -> tuple[float, ...]:
    for v in values:
        if not math.isfinite(v) or v <= 0 or v > 100_000:
            raise ValueError(f"{name}: {v!r} is not a size in bp between 0 and 100000")
    return values


class MSPParams(ImagingParams):
    """Parameters of ``msp_gel`` (see :mod:`assaykit_msp.plugin` for the method).

    The image pipeline's parameters (polarity, rolling_ball_radius, min_snr, n_lanes,
    lane_margin, volume_baseline, baseline_rows, edge_rows, geometry) are
    :class:`assaykit.imaging.assay.ImagingParams`, the same in ``western_blot``.
    """

    #: msp_gel 0.1 names (assaykit 12): the shared imaging names replace them.
    renamed: ClassVar[dict[str, str]] = {"background_radius": "rolling_ball_radius"}

    geometry: dict[str, ImageGeometry] = Field(
        default_factory=dict,
        description="What the lab says about a gel image, in the file's pixels, keyed by the "
        "file's path relative to the folder (or its name): 'strips' (the gel row's rows "
        "[top, bottom], one entry), 'lane_span' (first and last lane centre x; the count is "
        "n_lanes or the sheet's), 'lanes' (every lane centre x). What is given wins over "
        "detection; see assaykit.imaging.given.",
    )

    ladder_bp: tuple[float, ...] = Field(
        DEFAULT_LADDER_BP,
        min_length=4,
        max_length=60,
        description=(
            "Sizes of the ladder's bands in bp (any order). A 'ladder_bp' cell on a ladder's "
            "sheet row (sizes separated by ';') overrides this for that lane. Default: a "
            "100 bp ladder, 100-1000 bp."
        ),
    )
    ladder_reference_bp: tuple[float, ...] = Field(
        (500.0,),
        max_length=20,
        description=(
            "Ladder sizes that are brighter than their neighbours (reference bands, bp); they "
            "help match detected bands to sizes when a band is missing. Empty: matching uses "
            "band positions only."
        ),
    )
    m_product_bp: float | None = Field(
        None,
        gt=0,
        le=100_000,
        description=(
            "Expected size (bp) of the methylated-primer (M) product. A sheet column "
            "'m_product_bp' overrides it per sample. Required one way or the other."
        ),
    )
    u_product_bp: float | None = Field(
        None,
        gt=0,
        le=100_000,
        description=(
            "Expected size (bp) of the unmethylated-primer (U) product. A sheet column "
            "'u_product_bp' overrides it per sample. Required one way or the other."
        ),
    )
    size_tolerance: float = Field(
        0.10,
        ge=0.01,
        le=0.5,
        description=(
            "A band is the product when its size is within this fraction of the expected "
            "size (0.10 = +/-10 %)."
        ),
    )
    primer_dimer_max_bp: float = Field(
        60.0,
        ge=0.0,
        le=1000.0,
        description=("Bands of this size (bp) or smaller are primer-dimer haze, never a product."),
    )
    ladder_model: Literal["piecewise", "cubic", "linear"] = Field(
        "piecewise",
        description=(
            "Migration -> log10(bp) model: 'piecewise' (linear between neighbouring ladder "
            "bands; exact at the bands), 'cubic' or 'linear' least squares."
        ),
    )
    max_missing_ladder_bands: int = Field(
        3, ge=0, le=10, description="Ladder sizes that may go undetected when matching."
    )
    max_extra_ladder_bands: int = Field(
        2, ge=0, le=10, description="Detected ladder-lane bands that may be left unmatched."
    )
    min_ladder_r2: float = Field(
        0.99,
        ge=0.0,
        le=1.0,
        description=(
            "ladder_fit_poor is flagged when a ladder's R² (log10 bp; interior bands for "
            "piecewise fits) is below this."
        ),
    )
    max_ladder_residual: float = Field(
        0.10,
        gt=0.0,
        le=1.0,
        description=(
            "ladder_fit_poor is flagged when a ladder band's residual exceeds this fraction of "
            "its size (leave-one-out, interior bands, for piecewise fits)."
        ),
    )
    smile_correction: bool = Field(
        True,
        description=(
            "Fit one smooth smile curve to bands shared across lanes (ladder sizes, each "
            "product) and remove it before sizing; two outer ladders alone only correct skew."
        ),
    )
    register_to_ladder: float | None = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description=(
            "A lane whose profile correlates with its nearest ladder lane at least this well "
            "(a co-loaded marker) is registered onto it and sized by that ladder alone. "
            "None turns this off."
        ),
    )

    @field_validator("ladder_bp", "ladder_reference_bp")
    @classmethod
    def _sizes(cls, v: tuple[float, ...], info: object) -> tuple[float, ...]:
        name = getattr(info, "field_name", "sizes")
        return _check_sizes(v, str(name))

    @model_validator(mode="after")
    def _distinct_ladder(self) -> MSPParams:
        if len(set(self.ladder_bp)) < 4:
            raise ValueError("ladder_bp needs at least 4 distinct sizes")
        return self
