"""One-call preparation of a gel or blot image: polarity, deskew, strips, lanes, background.

Why a module of its own: every imaging assay (western blots, MSP gels, ...)
needs the same first steps before it can look at bands, in the same order and
with the same bookkeeping of what was done to the pixels. Doing them in one
place means one set of rules, and records that can name each step.

:func:`prepare_image` runs, in this order:

1. **Polarity** (:func:`~assaykit.imaging.io.normalize_polarity`): bands bright
   on dark, auto-detected or given. Saturation is judged here, in the file's
   own pixels, before any interpolation can hide it.
2. **Deskew** (:func:`~assaykit.imaging.geometry.estimate_rotation`,
   :func:`~assaykit.imaging.geometry.rotate_image`): up to ``max_angle``
   degrees. Corrections smaller than ``min_angle`` are not applied, because
   resampling blurs bands for no gain. The saturation mask is rotated with the
   image; a pixel of the straightened image counts as saturated when *any*
   saturated source pixel contributes to it (a conservative rule: saturation
   is never lost by interpolation).
3. **Strips** (:func:`~assaykit.imaging.geometry.find_strips`): membrane strips
   stacked one above another, top first; one strip when there is no gap. When
   the caller knows there are at least ``min_strips`` (a sample sheet names
   strip 2) and fewer are found, the search is repeated with a lower gap
   depth (10, 5, then 2 % of the row profile's range instead of 20 %): strong
   uneven illumination widens that range until a real gap looks shallow.
4. **Lanes** per strip (:func:`~assaykit.imaging.geometry.find_lanes`), counted
   from the left within the strip. With an expected lane count, that count is
   used for placement, and the count found *without* it is kept too, so a
   caller can flag a mismatch. With a minimum lane count (a sample sheet that
   names lane 9 says there are at least 9), fewer lanes found means that many
   are placed on the best-fitting regular grid instead. A mild smile is
   estimated per strip (:func:`~assaykit.imaging.geometry.estimate_smile`);
   it correlates neighbouring lanes' whole profiles, so it is meaningful only
   when lanes share their band pattern (replicates, ladders). With a ladder
   beside samples, follow the bands of interest themselves instead.
5. **2-D background** for band *detection*: ImageJ's rolling ball (default,
   radius 50 px) on the straightened image, scaled to a 16-bit range first so
   that the ball (whose height is in grey levels) is equally flat for 8-bit and
   16-bit images; or a border median; or none. Its :class:`BackgroundSpec`
   names the method and every parameter, for the records.

The result, :class:`PreparedImage`, holds the straightened bright-band image
(``data``, for measuring volumes), the background-subtracted one (``detect``,
for finding bands), the saturation mask, and the facts a record needs: polarity
and why, rotation, strips, lanes, background, bit depth and lossiness.

Everything it raises is an :class:`~assaykit.errors.AssaykitError` naming the
file: :class:`~assaykit.errors.ImageError` when the file cannot be read,
:class:`~assaykit.errors.AnalysisError` when no lane can be found.

This module is general: it knows nothing about any one assay.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from assaykit.errors import AnalysisError
from assaykit.imaging.background import BackgroundSpec, estimate_background
from assaykit.imaging.geometry import (
    Lane,
    LaneDetection,
    SmileModel,
    estimate_rotation,
    estimate_smile,
    find_strips,
    rotate_image,
)
from assaykit.imaging.io import LoadedImage, Polarity, load_image, normalize_polarity
from assaykit.imaging.wells import WellRow, find_comb, find_well_row

__all__ = [
    "PREPARATION_VERSION",
    "PreparedImage",
    "Strip",
    "prepare_image",
]

log = logging.getLogger(__name__)

_cv: Any = cv2  # OpenCV's stubs are stricter than OpenCV

#: Bumped when a change to this module can change what comes out of it, so that
#: plugins can put it in their own version and re-run stored work.
PREPARATION_VERSION = 3

BackgroundMethod = Literal["rolling_ball", "border_median", "none"]


@dataclass(frozen=True)
class Strip:
    """One membrane strip: its rows ``[start, stop)`` and the lanes found in it.

    ``index`` is 0 for the top strip. Lane columns are image columns; lane
    ``index`` counts from 0 at the left of this strip. ``detected_lane_count``
    is how many lanes lane finding found as peaks of the column profile (0
    when nothing stood out): on its own, or, when a count was given, with
    faint lanes accepted; lanes placed on a fitted grid are not counted.
    """

    index: int
    start: int
    stop: int
    lanes: LaneDetection
    expected_lanes: int | None
    detected_lane_count: int
    smile: SmileModel | None = None
    min_lanes: int | None = None
    #: this strip's own straightening (degrees, OpenCV sign), applied about ``pivot``
    rotation_deg: float = 0.0
    #: (x, y) in the file's pixels about which ``rotation_deg`` was applied
    pivot: tuple[float, float] = (0.0, 0.0)
    #: who placed the rows and lanes: "auto", or "given" (the lab's geometry)
    source: str = "auto"
    #: translation (px) applied after the rotation: prepared = R (file - pivot) + pivot + offset
    offset: tuple[float, float] = (0.0, 0.0)
    #: the gel's well row (``prepare_image(wells=True)``), None when not looked for or not seen
    wells: WellRow | None = None
    #: first row of the next strip's well zone when it reaches up into this strip's rows
    wells_below: int | None = None

    @property
    def rows(self) -> tuple[int, int]:
        return (self.start, self.stop)

    @property
    def height(self) -> int:
        return self.stop - self.start

    @property
    def band_rows(self) -> tuple[int, int]:
        """Rows to search for bands: the strip's rows below its well row and its glow.

        Why: the glow of a gel's wells is in every lane, loaded or empty, and
        is not a product. Without a well row these are the strip's rows.
        """
        top = self.start if self.wells is None else max(self.start, self.wells.zone[1])
        bottom = self.stop if self.wells_below is None else min(self.stop, self.wells_below)
        # well zones that would leave almost nothing are not trusted to cut the strip
        return (top, bottom) if bottom - top >= 0.5 * self.height else self.rows

    @property
    def lane_list(self) -> list[Lane]:
        return list(self.lanes.lanes)

    @property
    def lane_count_mismatch(self) -> bool:
        """True when lane finding alone disagreed with the expected count, or found fewer
        lanes than the minimum (in both cases the lanes were placed by the count given)."""
        if self.expected_lanes is not None:
            return self.detected_lane_count != self.expected_lanes
        return self.min_lanes is not None and self.detected_lane_count < self.min_lanes

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """File pixel ``(x, y)`` of point ``(x, y)`` of the prepared (straightened) image.

        Why: lanes and bands are measured on the straightened strip, but a lab
        checks them against the file it opened, and hand annotations are in
        the file's pixels.
        """
        if self.rotation_deg == 0.0:
            return (float(x - self.offset[0]), float(y - self.offset[1]))
        a = np.radians(self.rotation_deg)
        cx, cy = self.pivot
        dx, dy = x - cx - self.offset[0], y - cy - self.offset[1]
        # the strip was straightened by rotating the file by +rotation_deg (OpenCV,
        # y down); undo it
        c, s_ = np.cos(a), np.sin(a)
        return (float(cx + c * dx - s_ * dy), float(cy + s_ * dx + c * dy))

    def from_image(self, x: float, y: float) -> tuple[float, float]:
        """Point of the prepared image for file pixel ``(x, y)`` (inverse of :meth:`to_image`)."""
        a = np.radians(self.rotation_deg)
        cx, cy = self.pivot
        c, s_ = np.cos(a), np.sin(a)
        dx, dy = x - cx, y - cy
        return (
            float(cx + c * dx + s_ * dy + self.offset[0]),
            float(cy - s_ * dx + c * dy + self.offset[1]),
        )

    def lane(self, number: int) -> Lane:
        """Lane by its 1-based number from the left (as sample sheets count)."""
        lanes = self.lanes.lanes
        if not 1 <= number <= len(lanes):
            raise IndexError(f"lane {number} of strip {self.index + 1}: it has {len(lanes)} lanes")
        return lanes[number - 1]


@dataclass(frozen=True)
class PreparedImage:
    """A straightened, bright-band image with its strips, lanes and background (module docs).

    ``data``: bands bright, straightened, *not* background-subtracted (measure
    volumes here with a local baseline). ``detect``: ``data`` minus the 2-D
    background (find bands here). ``saturated``: pixels at the detector maximum,
    in the straightened frame. ``rotation_deg`` is the correction that was
    applied (OpenCV sign), 0 when none was.
    """

    path: str
    data: NDArray[np.float32]
    detect: NDArray[np.float32]
    saturated: NDArray[np.bool_]
    saturation_value: float
    polarity: Polarity
    polarity_rule: str
    rotation_deg: float
    strips: list[Strip]
    background: BackgroundSpec
    source_format: str
    bit_depth: int
    significant_bits: int | None
    lossy: bool
    notes: list[str] = field(default_factory=list)
    #: geometry findings ``(flag, severity, message)``, e.g. ``("lanes_overlap", "fail", ...)``
    findings: list[tuple[str, str, str]] = field(default_factory=list)
    #: pixels that belong to the image (False: transparent in the file), straightened frame
    valid: NDArray[np.bool_] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.data.shape[0]), int(self.data.shape[1]))

    @property
    def low_bit_depth(self) -> bool:
        """True for 8-bit (or fewer significant bits) data: few grey levels per band."""
        return self.bit_depth <= 8 or (
            self.significant_bits is not None and self.significant_bits <= 8
        )

    @property
    def saturated_fraction(self) -> float:
        return float(self.saturated.mean()) if self.saturated.size else 0.0

    def strip(self, number: int) -> Strip:
        """Strip by its 1-based number from the top (as sample sheets count)."""
        if not 1 <= number <= len(self.strips):
            raise IndexError(f"strip {number}: the image has {len(self.strips)} strip(s)")
        return self.strips[number - 1]

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary of every preparation step (for records and figure captions)."""
        return {
            "polarity": self.polarity,
            "polarity_rule": self.polarity_rule,
            "rotation_deg": round(self.rotation_deg, 4),
            "strips": [
                {
                    "rows": [s.start, s.stop],
                    "lanes": len(s.lanes.lanes),
                    "expected_lanes": s.expected_lanes,
                    "min_lanes": s.min_lanes,
                    "detected_lanes": s.detected_lane_count,
                    "lane_method": s.lanes.method,
                }
                for s in self.strips
            ],
            "background": self.background.as_dict(),
            "saturation_value": self.saturation_value,
            "bit_depth": self.bit_depth,
            "significant_bits": self.significant_bits,
            "lossy": self.lossy,
            "source_format": self.source_format,
            "preparation_version": PREPARATION_VERSION,
        }


def _expected_for(expected: Any, k: int) -> Any:
    if expected is None:
        return None
    if isinstance(expected, (int, float)):
        return expected
    return expected[k] if k < len(expected) else None


def _rotate_mask(mask: NDArray[np.bool_], angle: float) -> NDArray[np.bool_]:
    if angle == 0 or not mask.any():
        return mask.copy() if angle == 0 else np.zeros_like(mask)
    return rotate_image(mask.astype(np.float32), angle) > 0.0


def _warp(
    arr: NDArray[Any], matrix: NDArray[np.float64], *, nearest: bool = False
) -> NDArray[np.float32]:
    h, w = arr.shape
    out = _cv.warpAffine(
        np.asarray(arr, dtype=np.float32),
        matrix,
        (w, h),
        flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(out, dtype=np.float32)


def _strip_matrix(
    angle: float, pivot: tuple[float, float], offset: tuple[float, float]
) -> NDArray[np.float64]:
    """File -> prepared frame: rotate by ``angle`` about ``pivot``, then move by ``offset``."""
    m = np.asarray(_cv.getRotationMatrix2D(pivot, float(angle), 1.0), dtype=np.float64)
    m[:, 2] += np.asarray(offset, dtype=np.float64)
    return m


def _rolling_ball_detect(
    data: NDArray[np.float32], sat_value: float, radius: float
) -> tuple[NDArray[np.float32], BackgroundSpec]:
    """ImageJ's rolling ball on ``data`` scaled to a 16-bit range (module docs, step 5)."""
    scale = 65535.0 / sat_value if np.isfinite(sat_value) and sat_value > 0 else 1.0
    scaled = data * np.float32(scale) if scale != 1.0 else data
    bg = estimate_background(scaled, "rolling_ball", radius=float(radius))
    detect = bg.subtract(scaled)
    if scale != 1.0:
        detect /= np.float32(scale)
    params = dict(bg.spec.params)
    params["intensity_scale"] = float(scale)
    return detect, BackgroundSpec(bg.spec.method, params)


def _clean(data: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``data`` with the masked pixels filled from their surroundings (OpenCV Telea)."""
    if not mask.any():
        return data
    out = _cv.inpaint(
        np.ascontiguousarray(data, dtype=np.float32), mask.astype(np.uint8), 3, cv2.INPAINT_TELEA
    )
    return np.asarray(out, dtype=np.float32)


def _has_bands(detect: NDArray[np.float32]) -> bool:
    """True when some rows of a strip stand out as bands (robust row statistics); the rows
    at its two ends are left out, where a membrane's edge leaves a rim."""
    cut = max(3, detect.shape[0] // 10)
    detect = detect[cut:-cut]
    if detect.shape[0] < 8:
        return False
    med = float(np.median(detect))
    noise = 1.4826 * float(np.median(np.abs(detect - med))) + 1e-9
    # a band covers at least 1 % of a strip's pixels, well above the noise
    return bool(float(np.percentile(detect, 99)) > med + 10.0 * noise)


def _trusted_rotation(
    data: NDArray[np.float32], max_angle: float, notes: list[str], what: str
) -> float:
    """The deskew angle, or 0 when the estimate lies beyond ``max_angle``.

    Why not clip: a blot is rarely laid more than a few degrees off, and an
    estimate beyond the limit means the edges that voted were not lanes and
    bands (wells, a tissue beside the gel, handwriting); straightening by the
    clipped limit would tilt a straight image by that much.
    """
    raw = estimate_rotation(data, max_angle=90.0)
    if abs(raw) > max_angle:
        notes.append(
            f"rotation of {what} not corrected: the estimate {raw:+.2f} deg is beyond "
            f"max_angle {max_angle:g} deg (edges other than lanes and bands voted)"
        )
        return 0.0
    return raw


def _keep_deepest_gaps(
    data: NDArray[np.float32], ranges: list[tuple[int, int]], n: int
) -> list[tuple[int, int]]:
    """Merge strips across their shallowest gaps until ``n`` strips remain.

    A gap's depth is how far its rows' 10th percentile (what
    :func:`~assaykit.imaging.geometry.find_strips` looks at) falls below the
    lower of the two strips beside it, so a real cut between membranes wins
    over a dip in a glow.
    """
    prof = np.percentile(data, 10, axis=1)
    out = list(ranges)
    while len(out) > n:
        depths = []
        for (a0, a1), (b0, b1) in itertools.pairwise(out):
            gap = prof[a1:b0] if b0 > a1 else prof[a1 - 1 : a1 + 1]
            side = min(float(np.median(prof[a0:a1])), float(np.median(prof[b0:b1])))
            depths.append(side - float(gap.min()))
        k = int(np.argmin(depths))
        out[k : k + 2] = [(out[k][0], out[k + 1][1])]
    return out


def split_at_quiet_rows(
    detect: NDArray[np.float32], n: int, *, min_strip: int = 30
) -> list[tuple[int, int]] | None:
    """``n`` strips cut at the widest runs of rows without band signal.

    Why: two gel rows cast in one slab (two combs) have no dark gap between
    them; what separates them is a band of rows with no bands in any lane
    (below the first row's fastest band and above the second row's wells).
    Rows count as quiet when their 90th-percentile signal is within 6 robust
    sigmas (1.4826 MAD over rows) of its median over rows. Returns
    None when fewer than ``n - 1`` quiet runs lie between signal.
    """
    h = detect.shape[0]
    if n < 2 or h < n * min_strip:
        return None
    row = np.percentile(detect, 90, axis=1).astype(np.float64)
    row = np.convolve(row, np.ones(5) / 5.0, mode="same")
    base = float(np.median(row))
    spread = 1.4826 * float(np.median(np.abs(row - base))) + 1e-9
    busy = row > base + 6.0 * spread
    idx = np.flatnonzero(busy)
    if idx.size == 0:
        return None
    first, last = int(idx[0]), int(idx[-1]) + 1
    runs: list[tuple[int, int]] = []
    start = None
    for y in range(first, last):
        if not busy[y] and start is None:
            start = y
        elif busy[y] and start is not None:
            runs.append((start, y))
            start = None
    runs = [r for r in runs if r[1] - r[0] >= 4]
    if len(runs) < n - 1:
        return None
    cuts = sorted(sorted(runs, key=lambda r: r[1] - r[0], reverse=True)[: n - 1])
    edges = [0]
    for a, b in cuts:
        edges += [a, b]
    edges.append(h)
    out = [(edges[2 * i], edges[2 * i + 1]) for i in range(n)]
    if any(b - a < min_strip for a, b in out):
        return None
    return out


def prepare_image(
    image: LoadedImage | str | os.PathLike[str],
    *,
    polarity: Polarity | Literal["auto"] = "auto",
    deskew: bool = True,
    rotation_deg: float | None = None,
    max_angle: float = 5.0,
    min_angle: float = 0.05,
    strips: bool | Sequence[tuple[int, int]] = True,
    min_strips: int | None = None,
    expected_strips: int | None = None,
    expected_lanes: int | Sequence[int | None] | None = None,
    min_lanes: int | Sequence[int | None] | None = None,
    background: BackgroundMethod = "rolling_ball",
    background_radius: float = 50.0,
    smile: bool = True,
    saturation_value: float | None = None,
    lane_kwargs: dict[str, Any] | None = None,
    lane_centers: Sequence[Sequence[float] | None] | None = None,
    lane_span: Sequence[tuple[float, float] | None] | None = None,
    strip_deskew: bool = True,
    remove_marks: bool = True,
    wells: bool = False,
) -> PreparedImage:
    """Load (if given a path) and prepare one image; see the module docs for the steps.

    Parameters
    ----------
    polarity
        The *file's* polarity, or ``"auto"``.
    deskew, rotation_deg, max_angle, min_angle
        Straighten by the estimated angle (clipped to ``max_angle`` degrees),
        or by ``rotation_deg`` when given (OpenCV sign, the correction to
        apply). Corrections below ``min_angle`` degrees are skipped.
    strips
        ``True``: find stacked strips; ``False``: the whole image is one strip;
        or explicit row ranges ``[(start, stop), ...]``, top first.
    min_strips
        With ``strips=True``: at least this many strips are expected (see the
        module docs); fewer found is not an error here, the caller decides.
    expected_strips
        With ``strips=True``: exactly this many (implies ``min_strips``); more
        found are merged across their shallowest gaps.
    expected_lanes
        Lane count for every strip (an int) or per strip, top first (``None``
        entries: find freely).
    min_lanes
        At least this many lanes (same forms); used where no expected count
        is given.
    background, background_radius
        2-D background subtracted for ``detect`` (radius in pixels of the
        straightened image, for the rolling ball).
    smile
        Estimate a smile per strip (it costs a few cross-correlations).
    saturation_value
        Override the detector maximum inferred by the loader.
    lane_kwargs
        Ignored (kept for callers of the valley-based lane finder it replaced).
    lane_centers, lane_span
        Per strip, top first: every lane centre, or the first and last lane
        centre (with the lane count from ``expected_lanes``), in the file's
        pixels. What a lab gives wins over detection.
    strip_deskew
        Straighten each strip by its own tilt (membranes are laid down one by one).
    remove_marks
        Mask pen strokes, handwriting and specks (:mod:`assaykit.imaging.marks`)
        before deskewing and lane finding.
    wells
        Look for each strip's comb well row (agarose gels,
        :mod:`assaykit.imaging.wells`); :attr:`Strip.band_rows` then leaves it
        out. Off for blots: a burnt-out band is also darker than its gaps.
    """
    loaded = image if isinstance(image, LoadedImage) else load_image(image)
    path = loaded.path
    norm = normalize_polarity(loaded, polarity, saturation_value=saturation_value)
    sat_value = norm.saturation_value
    data = norm.data
    saturated = norm.saturated_mask()
    notes: list[str] = []

    valid0 = getattr(norm, "valid", None)
    if valid0 is None:
        valid0 = getattr(loaded, "valid", None)
    findings: list[tuple[str, str, str]] = []
    h, w = (int(v) for v in data.shape)

    # -- marks (pen strokes, handwriting, specks): masked before anything measures geometry
    from assaykit.imaging.marks import find_marks

    clean = data
    if remove_marks and min(data.shape) >= 32:
        quick, _ = _rolling_ball_detect(data, sat_value, background_radius)
        marks0 = find_marks(quick, valid=valid0)
        if marks0.count:
            clean = _clean(data, marks0.mask)

    # -- the membrane's columns: what lies beside it (a tissue, the tray) must not vote
    from assaykit.imaging.lanegrid import membrane_span

    c_lo, c_hi = membrane_span(clean, valid0) if min(data.shape) >= 32 else (0, w)

    # -- deskew (the whole image; each strip is refined below)
    angle = 0.0
    if rotation_deg is not None:
        angle = float(rotation_deg)
    elif deskew and min(data.shape) >= 16:
        try:
            angle = _trusted_rotation(clean[:, c_lo:c_hi], max_angle, notes, "the image")
        except AnalysisError as exc:
            notes.append(f"rotation not estimated: {exc}")
            angle = 0.0
    if abs(angle) < min_angle:
        angle = 0.0
    centre = (w / 2.0, h / 2.0)
    glob = _strip_matrix(angle, centre, (0.0, 0.0))
    src_data, src_sat, src_clean = data, saturated, clean
    if angle != 0.0:
        data = rotate_image(data, angle)
        clean = rotate_image(clean, angle) if clean is not src_data else data
        saturated = _rotate_mask(saturated, angle)
    valid = None
    if valid0 is not None:
        valid = _warp(valid0.astype(np.float32), glob, nearest=True) > 0.5 if angle else valid0

    # -- strips
    ranges: list[tuple[int, int]]
    given_strips = not isinstance(strips, bool)
    if expected_strips is not None:
        min_strips = max(min_strips or 0, expected_strips)
    if strips is True:
        # the gaps are judged on the file's pixels: filling marks (wells glow like specks)
        # must not fill a gap
        on = data[:, c_lo:c_hi]
        quick_on: NDArray[np.float32] | None = None
        ranges = find_strips(on)
        if min_strips is not None and len(ranges) < min_strips and angle != 0.0:
            # a narrow gap between membranes of different tilt is straight in neither
            # frame; in the file's own frame it is at least not smeared by resampling
            unrotated = find_strips(src_data[:, c_lo:c_hi])
            if len(unrotated) > len(ranges):
                notes.append("strips found on the file's pixels (before deskewing)")
                ranges = unrotated
        if expected_strips is not None and len(ranges) > expected_strips:
            ranges = _keep_deepest_gaps(on, ranges, expected_strips)
        if min_strips is not None and len(ranges) < min_strips:
            for depth in (0.1, 0.05, 0.02):
                retry = find_strips(on, min_depth_fraction=depth)
                if len(retry) >= min_strips:
                    if quick_on is None:
                        quick_on, _ = _rolling_ball_detect(on, sat_value, background_radius)
                    kept = _keep_deepest_gaps(on, retry, min_strips)
                    if not all(_has_bands(quick_on[a:b]) for a, b in kept):
                        continue
                    # a lowered threshold is a guess: keep only the deepest gaps needed
                    retry = _keep_deepest_gaps(on, retry, min_strips)
                    notes.append(
                        f"{len(retry)} strips found with a gap depth of {depth:.0%} of the row "
                        f"profile range ({len(ranges)} at the default 20 %)"
                    )
                    ranges = retry
                    break
        quick_g = None
        if min_strips is not None and len(ranges) >= 2:
            # a strip without any band is no membrane (a dark edge row was taken for a gap)
            quick_g, _ = _rolling_ball_detect(on, sat_value, background_radius)
            if not all(_has_bands(quick_g[a:b]) for a, b in ranges):
                alt = split_at_quiet_rows(quick_g, len(ranges))
                if alt is not None and all(_has_bands(quick_g[a:b]) for a, b in alt):
                    notes.append(
                        f"strips {ranges} rejected (one holds no band); cut at rows without "
                        "bands instead"
                    )
                    ranges = alt
        if min_strips is not None and 1 == len(ranges) < min_strips:
            # one slab without any dark gap (two combs in one agarose gel)
            if quick_g is None:
                quick_g, _ = _rolling_ball_detect(on, sat_value, background_radius)
            split = split_at_quiet_rows(quick_g, min_strips)
            if split is not None and not all(_has_bands(quick_g[a:b]) for a, b in split):
                split = None  # a cut that leaves a strip without bands finds no membrane
            if split is not None:
                notes.append(
                    f"{len(split)} strips cut at rows without bands (no dark gap between them)"
                )
                ranges = split
        if min_strips is not None and len(ranges) < min_strips:
            findings.append(
                (
                    "strip_not_found",
                    "fail",
                    f"{path}: {min_strips} strips expected, {len(ranges)} found (rows "
                    + ", ".join(f"{a}-{b}" for a, b in ranges)
                    + ")",
                )
            )
    elif strips is False:
        ranges = [(0, h)]
    else:
        ranges = [(max(0, int(a)), min(h, int(b))) for a, b in strips]
        bad = [r for r in ranges if r[1] - r[0] < 3]
        if bad:
            raise AnalysisError(f"{path}: strip rows {bad} are empty or outside the image")

    # -- each strip straightened by its own tilt (membranes are laid down one by one)
    strip_geom: list[tuple[float, tuple[float, float], tuple[float, float]]] = []
    if strip_deskew and deskew and rotation_deg is None and len(ranges) > 1:
        comp_data, comp_sat, comp_clean = data.copy(), saturated.copy(), clean.copy()
        comp_valid = valid.copy() if valid is not None else None
        inv = _cv.invertAffineTransform(glob)
        for r0, r1 in ranges:
            crop = clean[r0:r1, c_lo:c_hi]
            delta = 0.0
            if crop.shape[0] >= 24:
                try:
                    delta = _trusted_rotation(crop, max_angle, notes, f"strip rows {r0}-{r1}")
                except AnalysisError:
                    delta = 0.0
            total = angle + delta
            c_g = (w / 2.0, 0.5 * (r0 + r1))
            c_o = tuple(float(v) for v in inv @ np.array([c_g[0], c_g[1], 1.0]))
            if abs(delta) < min_angle or abs(total) > max_angle:
                strip_geom.append((angle, centre, (0.0, 0.0)))
                continue
            off = (c_g[0] - c_o[0], c_g[1] - c_o[1])
            m = _strip_matrix(total, (c_o[0], c_o[1]), off)
            comp_data[r0:r1] = _warp(src_data, m)[r0:r1]
            comp_clean[r0:r1] = _warp(src_clean, m)[r0:r1]
            comp_sat[r0:r1] = (_warp(src_sat.astype(np.float32), m) > 0.0)[r0:r1]
            if comp_valid is not None and valid0 is not None:
                comp_valid[r0:r1] = (_warp(valid0.astype(np.float32), m, nearest=True) > 0.5)[r0:r1]
            strip_geom.append((total, (c_o[0], c_o[1]), off))
        data, saturated, clean, valid = comp_data, comp_sat, comp_clean, comp_valid
    else:
        strip_geom = [(angle, centre, (0.0, 0.0)) for _ in ranges]

    # -- 2-D background (for detection)
    if background == "rolling_ball":
        detect, spec = _rolling_ball_detect(data, sat_value, background_radius)
    elif background in ("border_median", "none"):
        bg = estimate_background(data, background)
        detect, spec = bg.subtract(data), bg.spec
    else:
        raise AnalysisError(
            f"{path}: unknown background method {background!r}; "
            "expected 'rolling_ball', 'border_median' or 'none'"
        )
    if valid is not None:
        detect = np.where(valid, detect, np.float32(0.0)).astype(np.float32)
        saturated = saturated & valid  # transparent pixels are never signal

    # -- marks on the straightened image: masked for lanes and bands, and recorded
    marks_mask = np.zeros(data.shape, bool)
    if remove_marks and min(data.shape) >= 32:
        marks = find_marks(detect, valid=valid)
        if marks.count:
            marks_mask = marks.mask
            detect = np.where(marks_mask, np.float32(0.0), detect).astype(np.float32)
            data = _clean(data, marks_mask)
            notes.append(
                f"marks masked before lanes and bands ({marks.summary()}): "
                + "; ".join(
                    f"{k} at x {x0}-{x1}, y {y0}-{y1}" for k, x0, y0, x1, y1 in marks.boxes[:12]
                )
                + (" ..." if marks.count > 12 else "")
            )

    # -- lanes per strip
    from assaykit.imaging.lanegrid import membrane_span, place_lanes

    out_strips: list[Strip] = []
    for k, (r0, r1) in enumerate(ranges):
        want = _expected_for(expected_lanes, k)
        at_least = _expected_for(min_lanes, k)
        rot, pivot, off = strip_geom[k]
        m = _strip_matrix(rot, pivot, off)
        given_c = _expected_for(lane_centers, k)
        given_s = _expected_for(lane_span, k)
        ymid = 0.5 * (r0 + r1)

        def to_prepared(x: float, m: NDArray[np.float64] = m, y: float = ymid) -> float:
            # x of the file's point (x, row) in the prepared frame; the lab's lane positions
            # are in the file's pixels, taken at the strip's middle row
            yo = float((_cv.invertAffineTransform(m) @ np.array([x, y, 1.0]))[1])
            return float(m[0, 0] * x + m[0, 1] * yo + m[0, 2])

        centres_p = [to_prepared(float(x)) for x in given_c] if given_c else None
        span_p = (to_prepared(given_s[0]), to_prepared(given_s[1])) if given_s else None
        sub_valid = valid[r0:r1] if valid is not None else None
        fit_n = want
        comb = (
            find_comb(data, (r0, r1), membrane_span(clean[r0:r1], sub_valid))
            if wells and want is None and not centres_p and not span_p
            else None
        )
        if comb is not None and comb.count >= max(3, at_least or 0):
            # no count: a gel's comb shows every lane, loaded or empty, as a well
            fit_n = comb.count
            notes.append(
                f"strip {k + 1}: no lane count given; {comb.count} lanes from the comb's "
                f"{comb.count} wells (rows {comb.hole[0]}-{comb.hole[1]}, pitch "
                f"{comb.pitch:.1f} px)"
            )
        try:
            placed = place_lanes(
                detect[r0:r1],
                clean[r0:r1],
                expected=fit_n,
                minimum=at_least,
                centers=centres_p,
                first_last=span_p,
                valid=sub_valid,
                where=f"{path}, strip {k + 1} (rows {r0}-{r1})",
            )
        except ValueError as exc:
            raise AnalysisError(str(exc)) from None
        g = placed.grid
        left, right = g.edges()
        lanes_ = [
            Lane(i, float(c), float(a), float(b))
            for i, (c, a, b) in enumerate(zip(g.centers, left, right))
        ]
        det = LaneDetection(
            lanes_,
            float(g.pitch),
            float(g.width),
            placed.profile,
            g.method,
            {"span": list(placed.span), "r2": round(float(g.r2), 4) if np.isfinite(g.r2) else None},
        )
        findings.extend(placed.findings)
        model: SmileModel | None = None
        if smile and len(det.lanes) >= 2:
            try:
                model = estimate_smile(data[r0:r1], det.lanes)
            except (AnalysisError, ValueError, np.linalg.LinAlgError) as exc:
                notes.append(f"strip {k + 1}: smile not estimated: {exc}")
        src = "given" if (given_c or given_s or given_strips) else "auto"
        well = find_well_row(data, (r0, r1), lanes_) if wells else None
        if well is not None and well.zone[1] > r0:
            notes.append(f"strip {k + 1}: {well.describe()}")
        out_strips.append(
            Strip(
                k, r0, r1, det, want, placed.detected, model, at_least, rot, pivot, src, off, well
            )
        )
    for k in range(len(out_strips) - 1):
        nxt = out_strips[k + 1].wells
        if nxt is not None and nxt.zone[0] < out_strips[k].stop:
            out_strips[k] = dataclasses.replace(out_strips[k], wells_below=nxt.zone[0])
    log.debug(
        "prepared %s: polarity %s, rotation %.3f deg, %d strip(s), lanes %s",
        path,
        norm.polarity,
        angle,
        len(out_strips),
        [len(s.lanes.lanes) for s in out_strips],
    )
    return PreparedImage(
        path=path,
        data=np.ascontiguousarray(data, dtype=np.float32),
        detect=np.ascontiguousarray(detect, dtype=np.float32),
        saturated=saturated,
        saturation_value=float(sat_value),
        polarity=norm.polarity,
        polarity_rule=norm.polarity_rule,
        rotation_deg=float(angle),
        strips=out_strips,
        background=spec,
        source_format=loaded.source_format,
        bit_depth=int(loaded.bit_depth),
        significant_bits=loaded.significant_bits,
        lossy=bool(loaded.lossy),
        notes=notes,
        findings=findings,
        valid=valid,
    )
