"""Lane profiles, band finding and band volumes.

The input is an image with bands bright on dark whose 2-D background has
already been subtracted (see :mod:`assaykit.imaging.background`); a 1-D
baseline under each lane profile then removes what the 2-D method left
(the rolling ball sits on the noise minima, so a small positive offset always
remains). Both steps are named and recorded on every :class:`Band`.

Definitions (they go into records, so they are fixed here)
----------------------------------------------------------
Lane profile
    For each row, the **sum** across the lane's volume columns (the detected
    lane width widened by ``margin`` of it on each side, so soft band edges
    are not cut) of the background-subtracted pixels. A sum, not a mean, so
    that the area under the profile is the band volume.
Noise
    ``1.4826 * MAD(diff(profile)) / sqrt(2)``: robust to bands, which are
    smooth and may fill most of a ladder lane. It does not see the slow wander
    a 2-D background leaves (coherent across the lane width), which is why the
    default ``min_snr`` is 8 rather than the textbook 3-5.
Band
    A peak of the (Gaussian, ``smooth`` px) smoothed profile with prominence
    at least ``min_snr`` times the noise. Its rows run from where the
    profile above the baseline falls to ``edge_fraction`` of the peak height
    (or to the noise level, if higher), or to the valley between it and a
    neighbouring peak, whichever comes first.
Volume (AU)
    Sum over the band's rows of (profile - baseline), i.e. the sum of pixel
    values minus background over the band rectangle. The default baseline is a
    straight line between the band's own edges (see :func:`find_bands`).
Saturated
    True when any pixel of the band rectangle is at the detector maximum in
    the *raw* image (before background subtraction); ``saturated_fraction``
    is the fraction of such pixels in the rectangle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from assaykit.errors import AnalysisError
from assaykit.imaging.background import BackgroundSpec, profile_baseline
from assaykit.imaging.geometry import Lane

__all__ = [
    "Band",
    "LaneProfile",
    "edge_baseline",
    "find_bands",
    "lane_profile",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaneProfile:
    """A lane's vertical profile, its baseline and where it came from."""

    lane: Lane
    row_start: int
    col_start: int
    col_stop: int
    signal: NDArray[np.float64]
    baseline: NDArray[np.float64]
    baseline_spec: BackgroundSpec
    noise: float

    @property
    def corrected(self) -> NDArray[np.float64]:
        return self.signal - self.baseline

    @property
    def rows(self) -> NDArray[np.float64]:
        """Absolute image row of every profile sample."""
        return np.arange(self.signal.size, dtype=np.float64) + self.row_start


@dataclass(frozen=True)
class Band:
    """One band: where it is, how much signal it holds, and how it was measured."""

    lane: int
    row: float
    centroid: float
    top: int
    bottom: int
    left: int
    right: int
    volume: float
    peak_height: float
    prominence: float
    snr: float
    saturated: bool
    saturated_fraction: float
    background: dict[str, Any] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_record(self) -> dict[str, Any]:
        """Flat dict with units in the key names, for tables and records."""
        return {
            "lane": self.lane,
            "row_px": self.row,
            "centroid_px": self.centroid,
            "top_px": self.top,
            "bottom_px": self.bottom,
            "left_px": self.left,
            "right_px": self.right,
            "volume_au": self.volume,
            "peak_height_au": self.peak_height,
            "snr": self.snr,
            "saturated": self.saturated,
            "saturated_fraction": self.saturated_fraction,
            "background": self.background,
        }


def _volume_columns(lane: Lane, margin: float, width: int) -> tuple[int, int]:
    c0 = int(np.floor(lane.left - margin * lane.width))
    c1 = int(np.ceil(lane.right + margin * lane.width))
    return max(0, c0), min(width, max(c1, c0 + 1))


def robust_noise(profile: NDArray[Any]) -> float:
    """Noise sigma of a 1-D profile from the MAD of its first differences."""
    d = np.diff(np.asarray(profile, dtype=np.float64))
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def lane_profile(
    image: NDArray[Any],
    lane: Lane,
    *,
    rows: tuple[int, int] | None = None,
    margin: float = 0.15,
    baseline: Literal["minima", "hull", "none"] = "minima",
    baseline_window: int | None = None,
    neighbours: Sequence[Lane] = (),
) -> LaneProfile:
    """Profile of one lane of a background-subtracted, bright-band image (see module docs).

    ``margin`` widens the lane on both sides (fraction of its width) but never
    past the midpoint to a neighbouring lane given in ``neighbours``; a
    negative margin takes the central part only (``-0.2`` = central 60 %),
    which is less noisy for detection but misses band volume at the lane edges.
    ``baseline_window`` (rows) defaults to 3 % of the profile length, at least 8.
    """
    arr = np.asarray(image, dtype=np.float32)
    h, w = arr.shape
    r0, r1 = (0, h) if rows is None else (max(0, int(rows[0])), min(h, int(rows[1])))
    if r1 - r0 < 3:
        raise AnalysisError(f"lane {lane.index}: row range {r0}..{r1} is too short for a profile")
    c0, c1 = _volume_columns(lane, margin, w)
    for other in neighbours:
        if other.index == lane.index:
            continue
        mid = 0.5 * (other.center + lane.center)
        if other.center > lane.center:
            c1 = min(c1, int(np.floor(mid)))
        else:
            c0 = max(c0, int(np.ceil(mid)))
    signal = arr[r0:r1, c0:c1].astype(np.float64).sum(axis=1)
    if baseline == "none":
        base = np.zeros_like(signal)
        spec = BackgroundSpec("profile_none", {})
    else:
        win = baseline_window if baseline_window is not None else max(8, int(0.03 * signal.size))
        base, spec = profile_baseline(signal, baseline, window=win)
    return LaneProfile(lane, r0, c0, c1, signal, base, spec, robust_noise(signal))


def _walk(
    corr: NDArray[np.float64],
    start: int,
    step: int,
    stop_level: float,
    limit: int,
    tol: float,
    slope_fraction: float = 0.02,
) -> int:
    """From the peak at ``start``, step outwards to the band's edge.

    The edge is the first of: the value drops to ``stop_level``; below half the
    peak, the profile rises again by more than ``tol`` (a valley: the next band
    begins; the lowest point is returned); below half the peak, the drop per
    row falls under ``slope_fraction`` of the steepest drop seen on this flank
    (the band has ended on a pedestal or a slowly varying background).
    """
    i = start
    best = start
    n = corr.size
    steepest = 0.0
    half = 0.5 * corr[start]
    while True:
        j = i + step
        if j < 0 or j >= n or (step > 0 and j > limit) or (step < 0 and j < limit):
            return best
        if corr[j] <= stop_level:
            return j
        drop = corr[i] - corr[j]
        steepest = max(steepest, drop)
        if corr[j] < half:
            if corr[j] > corr[best] + tol:
                return best  # valley: the next band begins
            if drop < slope_fraction * steepest:
                return j if corr[j] <= corr[best] else best
        if corr[j] < corr[best]:
            best = j
        i = j


def edge_baseline(
    profile: NDArray[np.float64], top: int, bottom: int, k: int
) -> NDArray[np.float64]:
    """Straight line under profile rows ``top..bottom`` (inclusive) through the mean of ``k``
    rows outside each end (the ``edges_linear`` volume baseline)."""
    n = profile.size
    above = profile[max(0, top - k) : top]
    below = profile[bottom + 1 : min(n, bottom + 1 + k)]
    ys = np.arange(top, bottom + 1, dtype=np.float64)
    if above.size and below.size:
        y0, v0 = top - (above.size + 1) / 2.0, float(above.mean())
        y1, v1 = bottom + (below.size + 1) / 2.0, float(below.mean())
        return v0 + (v1 - v0) * (ys - y0) / (y1 - y0)
    if above.size or below.size:
        return np.full(ys.size, float((above if above.size else below).mean()))
    return np.zeros(ys.size)


def find_bands(
    image: NDArray[Any],
    lane: Lane,
    *,
    detect_image: NDArray[Any] | None = None,
    saturated: NDArray[np.bool_] | None = None,
    rows: tuple[int, int] | None = None,
    margin: float = 0.15,
    volume_baseline: Literal["edges", "minima", "hull", "none"] = "edges",
    edge_rows: int = 3,
    baseline_window: int | None = None,
    smooth: float = 1.0,
    min_snr: float = 8.0,
    rel_prominence: float = 0.0,
    min_distance: int = 3,
    edge_fraction: float = 0.01,
    background: BackgroundSpec | None = None,
    neighbours: Sequence[Lane] = (),
    min_coverage: float = 0.3,
    min_lane_contrast: float | None = 2.0,
) -> list[Band]:
    """Find and integrate the bands of one lane (definitions in the module docs).

    Bands are *found* on ``detect_image`` (default ``image``), typically the
    image after a 2-D background subtraction, whose lane profile gets a
    ``"minima"`` baseline; the band extents come from there. Volumes are
    *measured* on ``image`` with ``volume_baseline``:

    ``"edges"`` (default)
        a straight line under each band through the mean of ``edge_rows``
        profile rows just outside its top and bottom edge (valley to valley for
        touching bands). Why: on a sloping or curved background a 2-D rolling
        ball sits too high under a band (the ball rests on the uphill side), while
        a line between the band's own edges follows the slope exactly and a
        gentle curvature nearly so.
    ``"minima"``, ``"hull"``
        :func:`~assaykit.imaging.background.profile_baseline` of the lane profile.
    ``"none"``
        no baseline (use when ``image`` is already background-free).

    Two shape tests reject what is not a band (on ``detect_image``, over the
    band's rows): ``min_coverage``, the participation ratio
    ``(sum c)^2 / (n sum c^2)`` of the per-column sums ``c`` across the lane
    (1 for a band spanning the lane evenly, ~1/n for a speck of dust); and
    ``min_lane_contrast``, the ratio of the band's excess over the rows just
    beside it in the lane to the same excess in the gaps beside the lane
    (wells, gel edges and streaks cross the gaps too; bands do not).
    ``None``/0 turn a test off.

    ``saturated`` is the raw image's saturation mask; ``background`` the 2-D
    method applied to ``detect_image`` (or to ``image``), recorded on each
    band together with the volume baseline. Bands are returned top to bottom.
    """
    arr = np.asarray(image, dtype=np.float32)
    det_arr = arr if detect_image is None else np.asarray(detect_image, dtype=np.float32)
    if det_arr.shape != arr.shape:
        raise AnalysisError(f"detect_image shape {det_arr.shape} differs from image {arr.shape}")
    prof = lane_profile(
        det_arr,
        lane,
        rows=rows,
        margin=margin,
        baseline="minima",
        baseline_window=baseline_window,
        neighbours=neighbours,
    )
    corr = prof.corrected
    sm = gaussian_filter1d(corr, smooth, mode="nearest") if smooth > 0 else corr
    noise = max(prof.noise, 1e-12)
    peaks, props = find_peaks(sm, prominence=min_snr * noise, distance=max(1, int(min_distance)))
    if peaks.size and rel_prominence > 0:
        keep = props["prominences"] >= rel_prominence * props["prominences"].max()
        peaks = peaks[keep]
        props = {k: v[keep] for k, v in props.items()}
    if detect_image is None and volume_baseline != "edges":
        vol_signal, vol_base, vol_spec = prof.signal, prof.baseline, prof.baseline_spec
        if volume_baseline != "minima":
            vol_base, vol_spec = _profile_base(prof.signal, volume_baseline, baseline_window)
    else:
        vol_signal = (
            arr[prof.row_start : prof.row_start + prof.signal.size, prof.col_start : prof.col_stop]
            .astype(np.float64)
            .sum(axis=1)
        )
        if volume_baseline == "edges":
            vol_base = np.zeros_like(vol_signal)
            vol_spec = BackgroundSpec("band_edges_linear", {"edge_rows": int(edge_rows)})
        else:
            vol_base, vol_spec = _profile_base(vol_signal, volume_baseline, baseline_window)
    bg_info: dict[str, Any] = {
        "image": (background or BackgroundSpec("none", {})).as_dict(),
        "detection_profile": prof.baseline_spec.as_dict(),
        "volume": vol_spec.as_dict(),
    }
    gap_cols = _gap_columns(lane, neighbours, det_arr.shape[1], prof.col_start, prof.col_stop)
    bands: list[Band] = []
    for k, p in enumerate(peaks):
        p = int(p)
        height = float(sm[p])
        # Stop at edge_fraction of the height, but not below the noise: walking
        # further would end the band on a noise dip and bias its baseline low.
        stop_level = max(edge_fraction * height, noise)
        left_limit = int(peaks[k - 1]) if k > 0 else 0
        right_limit = int(peaks[k + 1]) if k + 1 < peaks.size else sm.size - 1
        top = _walk(sm, p, -1, stop_level, left_limit, noise)
        bottom = _walk(sm, p, +1, stop_level, right_limit, noise)
        r_top, r_bottom = prof.row_start + top, prof.row_start + bottom + 1
        block = det_arr[r_top:r_bottom, prof.col_start : prof.col_stop]
        if min_coverage:
            cols = np.clip(block.sum(axis=0, dtype=np.float64), 0, None)
            denom = cols.size * float(np.sum(cols * cols))
            coverage = float(cols.sum() ** 2 / denom) if denom > 0 else 0.0
            if coverage < min_coverage:
                log.debug("lane %d row %d: coverage %.2f, not a band", lane.index, p, coverage)
                continue
        if min_lane_contrast and gap_cols:
            inside = _excess(det_arr, r_top, r_bottom, prof.col_start, prof.col_stop, edge_rows)
            outside = float(
                np.mean(
                    [_excess(det_arr, r_top, r_bottom, c0, c1, edge_rows) for c0, c1 in gap_cols]
                )
            )
            if outside > 0 and inside < min_lane_contrast * outside:
                log.debug(
                    "lane %d row %d: lane/gap excess %.2f, not a band",
                    lane.index,
                    p,
                    inside / outside,
                )
                continue
        if volume_baseline == "edges":
            base = edge_baseline(vol_signal, top, bottom, max(1, int(edge_rows)))
        else:
            base = vol_base[top : bottom + 1]
        vals = vol_signal[top : bottom + 1] - base
        volume = float(vals.sum())
        weights = np.clip(corr[top : bottom + 1], 0, None)
        idx = np.arange(top, bottom + 1, dtype=np.float64)
        centroid = float((weights * idx).sum() / weights.sum()) if weights.sum() > 0 else float(p)
        row = float(p)
        if 0 < p < sm.size - 1:
            y0, y1, y2 = sm[p - 1], sm[p], sm[p + 1]
            denom = y0 - 2 * y1 + y2
            if denom < 0:
                row += float(0.5 * (y0 - y2) / denom)
        sat = False
        sat_frac = 0.0
        if saturated is not None:
            box = saturated[r_top:r_bottom, prof.col_start : prof.col_stop]
            if box.size:
                n_sat = int(np.count_nonzero(box))
                sat, sat_frac = n_sat > 0, n_sat / box.size
        bands.append(
            Band(
                lane=lane.index,
                row=row + prof.row_start,
                centroid=centroid + prof.row_start,
                top=r_top,
                bottom=r_bottom,
                left=prof.col_start,
                right=prof.col_stop,
                volume=volume,
                peak_height=height,
                prominence=float(props["prominences"][k]),
                snr=height / noise,
                saturated=sat,
                saturated_fraction=sat_frac,
                background=bg_info,
            )
        )
    return bands


def _excess(arr: NDArray[np.float32], r0: int, r1: int, c0: int, c1: int, k: int) -> float:
    """Mean of rows r0..r1 over columns c0..c1, above the mean of ``k`` rows beside them."""
    inner = arr[r0:r1, c0:c1]
    edges = np.concatenate(
        [
            arr[max(0, r0 - k) : r0, c0:c1].ravel(),
            arr[r1 : min(arr.shape[0], r1 + k), c0:c1].ravel(),
        ]
    )
    if inner.size == 0:
        return 0.0
    return float(inner.mean() - (edges.mean() if edges.size else 0.0))


def _gap_columns(
    lane: Lane, neighbours: Sequence[Lane], width: int, c0: int, c1: int
) -> list[tuple[int, int]]:
    """Column ranges of the gaps beside a lane (between it and its neighbours)."""
    others = sorted((o for o in neighbours if o.index != lane.index), key=lambda o: o.center)
    left = [o for o in others if o.center < lane.center]
    right = [o for o in others if o.center > lane.center]
    half = max(2, int(0.25 * lane.width))
    gaps: list[tuple[int, int]] = []
    lo = int(np.ceil(left[-1].right)) if left else c0 - half
    if lo < c0:
        a, b = max(0, max(lo, c0 - half)), c0
        if b - a >= 2:
            gaps.append((a, b))
    hi = int(np.floor(right[0].left)) if right else c1 + half
    if hi > c1:
        a, b = c1, min(width, min(hi, c1 + half))
        if b - a >= 2:
            gaps.append((a, b))
    return gaps


def _profile_base(
    signal: NDArray[np.float64], method: str, window: int | None
) -> tuple[NDArray[np.float64], BackgroundSpec]:
    if method == "none":
        return np.zeros_like(signal), BackgroundSpec("profile_none", {})
    if method not in ("minima", "hull"):
        raise AnalysisError(
            f"unknown volume baseline {method!r}; expected 'edges', 'minima', 'hull' or 'none'"
        )
    win = window if window is not None else max(8, int(0.03 * signal.size))
    return profile_baseline(signal, method, window=win)  # type: ignore[arg-type]
