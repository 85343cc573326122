"""The imaging-assay layer: one parameter base, one flag table and band selection.

Why one layer: ``western_blot`` and ``msp_gel`` run the same image pipeline
(:func:`assaykit.imaging.pipeline.prepare_image`), the same band finder and
the same volume baselines (:mod:`assaykit.imaging.volume`), so a lab must set
the same thing with the same parameter name in both, and read the same flag
for the same finding. :class:`ImagingParams` holds the parameters of that
shared pipeline (polarity, background, SNR, lanes, geometry, volume
baseline); :data:`IMAGING_FLAGS` declares the flags the shared code raises
(source flags, saturation, detection, lane count) once, and each imaging
assay includes them in its ``flags``.

This module is imported by the plugins' declaration modules when plugins are
listed, so it stays light: pydantic, numpy and the contract modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
from pydantic import Field

from assaykit.assay import Flag, Params, deprecated_parameter
from assaykit.errors import InputError
from assaykit.experiment import Input
from assaykit.imaging.given import ImageGeometry

__all__ = [
    "BAND_ROW_FLAGS",
    "GEOMETRY_FLAGS",
    "IMAGING_FLAGS",
    "LANE_COUNT_COLUMNS",
    "VOLUME_BASELINES",
    "ImagingParams",
    "VolumeBaseline",
    "band_candidates",
    "select_band",
    "sheet_lane_count",
    "whole_number",
]

#: The volume baselines (:func:`assaykit.imaging.volume.integration_baseline`).
VolumeBaseline = Literal["edges_quadratic", "edges_linear", "minima", "hull"]
VOLUME_BASELINES: tuple[str, ...] = ("edges_quadratic", "edges_linear", "minima", "hull")

VOLUME_BASELINE_DOC = (
    "Baseline under a band's lane profile for its volume: 'edges_quadratic' a parabola "
    "through the profile rows on both sides of the band (baseline_rows x the band's height "
    "on each side, never into a neighbouring band; follows uneven illumination); "
    "'edges_linear' a straight line through edge_rows rows just above and below the band; "
    "'minima' lines between local minima of the lane profile; 'hull' its lower convex hull."
)

#: Sample-sheet columns that give a lane count (the first is the name; the others aliases).
LANE_COUNT_COLUMNS: tuple[str, ...] = ("n_lanes", "lanes", "lane_count")


class ImagingParams(Params):
    """Parameters of the shared image pipeline, the same in every imaging assay.

    Subclasses add their own science and may change a default (``volume_baseline``)
    but not a name or a meaning.
    """

    polarity: Literal["auto", "light_bands_on_dark", "dark_bands_on_light"] = Field(
        "auto",
        description="Polarity of the image files: 'auto' detects it (border and intensity "
        "tails); film scans, inverted gel scans and many exports are 'dark_bands_on_light'.",
    )
    rolling_ball_radius: float = Field(
        50.0,
        ge=1.0,
        le=2000.0,
        description="Radius (px) of ImageJ's rolling ball subtracted before band detection; "
        "larger than half a band's height and half a lane's width.",
    )
    min_snr: float = Field(
        8.0,
        ge=2.0,
        le=1000.0,
        description="A band is a lane-profile peak at least this many times the profile noise "
        "(robust sigma of first differences) above the lane baseline.",
    )
    n_lanes: int | None = Field(
        None,
        ge=1,
        le=200,
        description="Lane count of every image (of every strip); a sample-sheet column "
        "'n_lanes' (aliases 'lanes', 'lane_count') overrides it per image (strip). Without "
        "either, the highest lane the sheet names is a minimum and lane finding decides.",
    )
    lane_margin: float = Field(
        0.15,
        ge=-0.4,
        le=0.5,
        description="Widen each lane by this fraction of its width on each side for band "
        "finding and volumes (never past the midpoint to the next lane).",
    )
    volume_baseline: VolumeBaseline = Field("edges_quadratic", description=VOLUME_BASELINE_DOC)
    baseline_rows: float = Field(
        1.0,
        ge=0.2,
        le=5.0,
        description="For 'edges_quadratic': rows used on each side of a band, as a multiple of "
        "the band's height (never into a neighbouring band).",
    )
    edge_rows: int = Field(
        3,
        ge=1,
        le=50,
        description="Rows averaged at each band edge for the 'edges_linear' baseline (and the "
        "fallback of 'edges_quadratic' when a side has fewer clean rows).",
    )
    geometry: dict[str, ImageGeometry] = Field(
        default_factory=dict,
        description="What the lab says about an image, in the file's pixels, keyed by the "
        "file's path relative to the folder (or its name): 'strips' (rows [top, bottom] of "
        "each membrane or gel row, top first), 'lane_span' (first and last lane centre x per "
        "strip; the count from n_lanes), 'lanes' (every lane centre x per strip), "
        "'band_rows' (per target or '*', rows [top, bottom] of its band). What is given wins "
        "over detection; see assaykit.imaging.given.",
    )

    @classmethod
    def upgrade_settings(cls, data: dict[str, Any]) -> dict[str, Any]:
        data = super().upgrade_settings(data)
        if data.get("volume_baseline") == "edges":
            deprecated_parameter(
                cls,
                "volume_baseline = 'edges'",
                "volume_baseline = 'edges_linear'",
                "the same straight baseline, renamed beside 'edges_quadratic'",
            )
            data["volume_baseline"] = "edges_linear"
        return data


def whole_number(inp: Input, column: str, value: str) -> int | None:
    """A sample-sheet cell as a whole number from 1 (None when empty); InputError otherwise."""
    value = value.strip()
    if not value:
        return None
    try:
        f = float(value)
    except ValueError:
        f = float("nan")
    if not (np.isfinite(f) and f.is_integer() and f >= 1):
        where = f"sample sheet row {inp.row}, " if inp.row else ""
        raise InputError(
            inp.relpath, f"{where}column {column!r}: {value!r} is not a whole number from 1"
        )
    return int(f)


def sheet_lane_count(inp: Input) -> int | None:
    """The lane count a sample-sheet row gives (column ``n_lanes`` or an alias), or None."""
    for col in LANE_COUNT_COLUMNS:
        n = whole_number(inp, col, inp.condition(col))
        if n is not None:
            return n
    return None


# --------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------

#: Flags raised by the shared imaging code, the same name and meaning in every imaging
#: assay; each assay's ``flags`` includes them.
IMAGING_FLAGS: tuple[Flag, ...] = (
    Flag(
        "lossy_source",
        "warn",
        "The image file is lossy-compressed (JPEG): compression alters pixel values, so band "
        "volumes are approximate; export TIFF from the imager.",
    ),
    Flag(
        "low_bit_depth",
        "warn",
        "The image has 8 or fewer significant bits: few grey levels, so faint bands and "
        "saturation are coarse.",
    ),
    Flag(
        "saturated",
        "fail",
        "Pixels of a band's rectangle are at the detector maximum (judged on the file's own "
        "pixels): its volume is a lower bound. Fail where the assay's result is the volume "
        "(western_blot: the volume, ratio and fold change); warn where it is a presence call "
        "(msp_gel).",
    ),
    Flag(
        "below_detection",
        "fail",
        "The band is absent, or its baseline-subtracted volume is not above its detection "
        "limit (or not above 0): its volume is reported as 0, never negative. Warn; fail "
        "where the assay's result cannot be given without the band (a western_blot loading "
        "control: no ratio).",
    ),
    Flag(
        "lane_count_mismatch",
        "warn",
        "Lane finding alone disagrees with the lane count used (n_lanes, or the lanes the "
        "sample sheet names): a different number of lanes, or lane-like signal beyond the "
        "lanes placed; the lanes were placed on a grid of the count used.",
    ),
)

#: Geometry findings of :func:`assaykit.imaging.pipeline.prepare_image` (all fail: the box
#: integrated may not hold the band), for the assays that report them.
GEOMETRY_FLAGS: tuple[Flag, ...] = (
    Flag(
        "strip_not_found",
        "fail",
        "Fewer membrane strips were found than the sample sheet names; the message names the "
        "file and the strips found.",
    ),
    Flag(
        "lane_grid_poor",
        "fail",
        "The fitted lane grid explains little of the strip's column profile: lanes may be "
        "misplaced.",
    ),
    Flag(
        "lanes_overlap",
        "fail",
        "The lanes break the grid's invariants (order, overlap, width, on the membrane).",
    ),
    Flag(
        "lane_grids_disagree",
        "fail",
        "Two strips holding the same samples in the same lanes have lane pitches more than "
        "10 % apart: one strip's lanes are misplaced (both strips fail).",
    ),
)

#: Findings on a band row across lanes and on a band's box
#: (:mod:`assaykit.imaging.membrane`), all fail: the box integrated may not hold the band.
BAND_ROW_FLAGS: tuple[Flag, ...] = (
    Flag(
        "band_row_ambiguous",
        "fail",
        "Another band row, clear of the chosen one, is in nearly as many lanes with at least "
        "half its volume: which one is the target is a guess (give row_window, mw_window_kda "
        "or geometry band_rows).",
    ),
    Flag(
        "band_rows_scattered",
        "fail",
        "The chosen bands' rows scatter by more than 2 px (or 10 % of their height) RMS about "
        "one smooth row: they are not one band row (marks, misplaced lanes).",
    ),
    Flag(
        "band_at_strip_edge",
        "fail",
        "The band's rows reach the first or last row of its strip: it may be cut off and its "
        "baseline is one-sided.",
    ),
    Flag(
        "band_cut_by_lane",
        "fail",
        "The band goes on past one side of its box and not the other: the lane is off the band.",
    ),
)


# --------------------------------------------------------------------------------------
# Band selection
# --------------------------------------------------------------------------------------


class BandLike(Protocol):
    """Anything with a peak ``row`` and a ``volume`` (a Band, a sized band)."""

    @property
    def row(self) -> float: ...

    @property
    def volume(self) -> float: ...


B = TypeVar("B", bound=BandLike)


def band_candidates(
    bands: Sequence[B],
    *,
    row_window: tuple[float, float] | None = None,
    size_window: tuple[float, float] | None = None,
    size_of: Callable[[B], float | None] | None = None,
) -> list[B]:
    """The bands inside ``row_window`` (peak rows) and ``size_window`` (``size_of(band)``,
    e.g. kDa or bp from a ladder calibration; a band of unknown size, None, is left out),
    in their order."""
    pool = list(bands)
    if row_window is not None:
        lo, hi = sorted(row_window)
        pool = [b for b in pool if lo <= b.row <= hi]
    if size_window is not None:
        if size_of is None:
            raise ValueError("size_window needs size_of (a calibration: band -> size)")
        lo, hi = sorted(size_window)
        sized = [(b, size_of(b)) for b in pool]
        pool = [b for b, s in sized if s is not None and lo <= s <= hi]
    return pool


def select_band(
    bands: Sequence[B],
    strategy: Literal["strongest", "nearest"] = "strongest",
    *,
    row_window: tuple[float, float] | None = None,
    size_window: tuple[float, float] | None = None,
    size_of: Callable[[B], float | None] | None = None,
    target_row: float | None = None,
    max_distance: float | None = None,
) -> B | None:
    """Choose the band of interest, or None if no band qualifies.

    Of the :func:`band_candidates` (``row_window``, ``size_window``), ``"strongest"``
    takes the largest volume and ``"nearest"`` the band closest to ``target_row``
    (within ``max_distance`` rows of it, if given). Ties: the first in ``bands``.
    Why one function: every imaging assay picks its band of interest by these rules
    (a western target's band, an MSP product), so they are written once.
    """
    pool = band_candidates(bands, row_window=row_window, size_window=size_window, size_of=size_of)
    if strategy == "nearest":
        if target_row is None:
            raise ValueError("strategy 'nearest' needs target_row")
        if max_distance is not None:
            pool = [b for b in pool if abs(b.row - target_row) <= max_distance]
        return min(pool, key=lambda b: abs(b.row - target_row)) if pool else None
    if strategy == "strongest":
        return max(pool, key=lambda b: b.volume) if pool else None
    raise ValueError(f"unknown band selection {strategy!r}; expected 'strongest' or 'nearest'")
