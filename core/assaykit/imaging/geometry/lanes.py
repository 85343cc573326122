"""Geometry of gels and blots: rotation, lanes, stacked strips and smile.

All functions expect bands *bright on a dark background* (see
:func:`assaykit.imaging.io.normalize_polarity`).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from assaykit.errors import AnalysisError
from assaykit.imaging.background import profile_baseline, rolling_ball_background

__all__ = [
    "Lane",
    "LaneDetection",
    "LaneRegistration",
    "SmileModel",
    "estimate_lane_tilt",
    "estimate_rotation",
    "estimate_smile",
    "find_lanes",
    "find_strips",
    "register_lanes",
    "rotate_image",
]

log = logging.getLogger(__name__)

_cv: Any = cv2  # OpenCV's stubs are stricter than OpenCV


@dataclass(frozen=True)
class Lane:
    """A vertical lane: centre and edges in pixels (columns), and its index (0 = leftmost)."""

    index: int
    center: float
    left: float
    right: float

    @property
    def width(self) -> float:
        return self.right - self.left

    def columns(self, fraction: float = 1.0, image_width: int | None = None) -> slice:
        """Column slice of the central ``fraction`` of the lane width."""
        half = 0.5 * self.width * fraction
        c0 = int(np.floor(self.center - half + 0.5))
        c1 = int(np.floor(self.center + half + 0.5))
        c0 = max(c0, 0)
        if image_width is not None:
            c1 = min(c1, image_width)
        return slice(c0, max(c1, c0 + 1))


@dataclass(frozen=True)
class LaneDetection:
    """Detected lanes plus the evidence (profile, pitch) for QC figures."""

    lanes: list[Lane]
    pitch: float
    lane_width: float
    profile: NDArray[np.float64]
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SmileModel:
    """Per-lane vertical offsets (px, + = lower in the image) relative to the median lane.

    ``raw_offsets`` are the cross-correlation estimates (NaN for lanes without
    usable signal); ``offsets`` are those smoothed by a quadratic in the lane
    centre (the usual shape of a smile) when ``smooth`` was asked for, with
    NaNs filled from the fit.
    """

    lane_centers: list[float]
    raw_offsets: list[float]
    offsets: list[float]
    coefficients: tuple[float, ...]

    def offset_at(self, x: float) -> float:
        """Vertical offset at column ``x`` from the fitted polynomial."""
        return float(np.polyval(self.coefficients, x)) if self.coefficients else 0.0


# --------------------------------------------------------------------------------------
# Rotation
# --------------------------------------------------------------------------------------


def rotate_image(data: NDArray[Any], angle_deg: float, *, order: int = 1) -> NDArray[np.float32]:
    """Rotate about the image centre by ``angle_deg`` (OpenCV sign: + is counter-clockwise).

    Edges are filled by replication so no artificial dark wedges appear (they
    would look like background steps to the lane and band finders).
    """
    arr = np.asarray(data, dtype=np.float32)
    if angle_deg == 0:
        return arr.copy()
    h, w = arr.shape
    m = _cv.getRotationMatrix2D((w / 2.0, h / 2.0), float(angle_deg), 1.0)
    interp = cv2.INTER_LINEAR if order == 1 else cv2.INTER_CUBIC
    out = _cv.warpAffine(arr, m, (w, h), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, dtype=np.float32)


def _flatten(arr: NDArray[np.float32], radius: float | None = None) -> NDArray[np.float32]:
    """Image minus a rolling-ball background, so that illumination cannot pose as signal."""
    r = radius if radius is not None else max(8.0, min(arr.shape) / 15.0)
    return rolling_ball_background(arr, r).subtract(arr)


def estimate_rotation(
    data: NDArray[Any],
    *,
    max_angle: float = 5.0,
    max_size: int = 1000,
    flatten_radius: float | None = None,
) -> float:
    """Angle (degrees, OpenCV sign) that straightens bands and lanes (see :func:`rotate_image`).

    Why this estimator: band edges are horizontal and lane edges vertical, so
    the image gradients point along the axes. Their direction ``phi`` is
    averaged with four-fold symmetry (``0.25 * atan2(sum w sin 4phi, sum w cos
    4phi)``) weighted by the squared gradient magnitude ``w``, which makes
    horizontal and vertical edges agree instead of cancelling, and lets noise
    (isotropic) add variance but no bias. A global projection-profile search
    was rejected: bands of different lanes sit at unrelated rows, so a tilted
    projection can line up bands of different lanes and win. The image is
    flattened first (rolling-ball background removed) so illumination
    gradients do not vote. The result is clipped to ``+/- max_angle``.

    A gel that ran faster on one side (skew) tilts its band edges while its
    lanes stay vertical, and this estimator then "straightens" the bands and
    tilts the lanes; :func:`estimate_lane_tilt` looks at the lanes only.
    """
    arr = np.asarray(data, dtype=np.float32)
    if arr.ndim != 2:
        raise AnalysisError(f"rotation needs a 2-D image, got shape {arr.shape}")
    h, w = arr.shape
    scale = min(1.0, max_size / max(h, w))
    if scale < 1.0:
        arr = _cv.resize(
            arr, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA
        )
    flat = _flatten(np.ascontiguousarray(arr), flatten_radius)
    flat = _cv.GaussianBlur(flat, (0, 0), 1.0)
    gx = _cv.Sobel(flat, cv2.CV_64F, 1, 0, ksize=3)
    gy = _cv.Sobel(flat, cv2.CV_64F, 0, 1, ksize=3)
    weight = gx * gx + gy * gy
    phi = np.arctan2(gy, gx)
    s = float(np.sum(weight * np.sin(4.0 * phi)))
    c = float(np.sum(weight * np.cos(4.0 * phi)))
    if s == 0.0 and c == 0.0:
        return 0.0
    angle = float(np.degrees(0.25 * np.arctan2(s, c)))
    if abs(angle) > max_angle:
        log.warning("estimated tilt %.2f deg exceeds +/-%.1f deg; clipped", angle, max_angle)
    angle = float(np.clip(angle, -max_angle, max_angle))
    log.debug("estimated rotation correction %.3f deg", angle)
    return angle


def _lane_drift(flat: NDArray[np.float32], slabs: int, max_angle: float) -> float | None:
    """Mean column drift per row of the lane pattern (px/px), or None without evidence."""
    h = flat.shape[0]
    edges = np.linspace(0, h, slabs + 1).astype(int)
    profiles = []
    for a, b in itertools.pairwise(edges):
        p = flat[a:b].mean(axis=0).astype(np.float64)
        profiles.append(gaussian_filter1d(p, 1.0) - gaussian_filter1d(p, 15.0))
    dy = h / slabs
    max_shift = int(np.ceil(dy * np.tan(np.radians(max_angle)))) + 2
    slopes, weights = [], []
    for a, b in itertools.pairwise(profiles):
        r = _xcorr_shift(a, b, max_shift, min_corr=0.3, return_corr=True)
        if r is not None:
            slopes.append(r[0] / dy)
            weights.append(r[1])
    if len(slopes) < 3:
        return None
    return float(np.average(slopes, weights=weights))


def estimate_lane_tilt(
    data: NDArray[Any],
    *,
    slabs: int = 8,
    max_angle: float = 5.0,
    iterations: int = 2,
    max_size: int = 1000,
    flatten_radius: float | None = None,
) -> float | None:
    """Angle (degrees, OpenCV sign, as :func:`estimate_rotation`) that makes the lanes vertical.

    Why: rotation tilts lanes and bands alike, but a gel that ran faster on one
    side (skew) tilts only its bands, and the edge-based
    :func:`estimate_rotation` cannot tell the two apart. The lanes can: the
    image (flattened by a rolling ball) is cut into ``slabs`` horizontal slabs,
    the column profile of each (high-passed, so only lane-scale structure
    counts) is cross-correlated with the next one's, and the mean drift per
    row is the lanes' slope. The image is rotated by that and measured again
    (``iterations``), because bands crossing slab edges bias a single pass
    low. Returns ``None`` when fewer than 3 neighbouring slab pairs correlate
    (nothing lane-like to follow).
    """
    arr = np.asarray(data, dtype=np.float32)
    if arr.ndim != 2:
        raise AnalysisError(f"lane tilt needs a 2-D image, got shape {arr.shape}")
    h, w = arr.shape
    scale = min(1.0, max_size / max(h, w))
    if scale < 1.0:
        arr = _cv.resize(
            arr, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA
        )
    if min(arr.shape) < 4 * slabs:
        return None
    flat = _flatten(np.ascontiguousarray(arr), flatten_radius)
    angle = 0.0
    for _ in range(max(1, iterations)):
        view = flat if angle == 0.0 else rotate_image(flat, angle)
        drift = _lane_drift(view, slabs, max_angle)
        if drift is None:
            return None if angle == 0.0 else angle
        angle -= float(np.degrees(np.arctan(drift)))
        if abs(angle) > max_angle:
            return float(np.clip(angle, -max_angle, max_angle))
    return angle


# --------------------------------------------------------------------------------------
# Lanes
# --------------------------------------------------------------------------------------


def _column_profile(arr: NDArray[np.float32], rows: slice | None) -> NDArray[np.float64]:
    sub = arr if rows is None else arr[rows]
    return np.asarray(sub.mean(axis=0), dtype=np.float64)


def _half_max_edges(profile: NDArray[np.float64], peak: int) -> tuple[float, float]:
    height = profile[peak]
    half = 0.5 * height
    n = profile.size
    left = peak
    while left > 0 and profile[left - 1] > half:
        left -= 1
    right = peak
    while right < n - 1 and profile[right + 1] > half:
        right += 1
    # sub-pixel crossing points
    lx = float(left)
    if left > 0 and profile[left] != profile[left - 1]:
        lx = left - 1 + (half - profile[left - 1]) / (profile[left] - profile[left - 1])
    rx = float(right)
    if right < n - 1 and profile[right] != profile[right + 1]:
        rx = right + (profile[right] - half) / (profile[right] - profile[right + 1])
    return lx, rx


def _regular_grid(
    peaks: NDArray[np.float64], n: int, width: int, min_pitch: float, profile: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float] | None:
    """Centres of ``n`` equally spaced lanes that best explain the detected peaks.

    Candidate combs come from pairs of peaks (their distance divided by 1..n-1).
    The comb must pass close to every peak (sum of squared distances); among
    combs that do about equally well, the one whose lanes collect the most
    profile signal wins (a comb twice too fine puts lanes in the gaps).
    """
    if peaks.size < 2:
        return None
    candidates: list[tuple[float, float, NDArray[np.float64], float]] = []
    diffs = np.abs(peaks[:, None] - peaks[None, :])[np.triu_indices(peaks.size, 1)]
    xs = np.arange(profile.size, dtype=np.float64)
    for d in diffs:
        for k in range(1, n):
            pitch = d / k
            if pitch < min_pitch:
                break
            for anchor in peaks:
                for j in range(n):
                    grid = anchor - j * pitch + pitch * np.arange(n)
                    if grid[0] < 0 or grid[-1] > width:
                        continue
                    cost = float(
                        np.sum(np.min(np.abs(peaks[:, None] - grid[None, :]), axis=1) ** 2)
                    )
                    signal = float(np.sum(np.interp(grid, xs, profile)))
                    candidates.append((cost, signal, grid, pitch))
    if not candidates:
        return None
    best_cost = min(c[0] for c in candidates)
    tolerance = best_cost + 2.0 * peaks.size  # ~1.4 px rms slack per peak
    good = [c for c in candidates if c[0] <= tolerance]
    _, _, grid, pitch = max(good, key=lambda c: c[1])
    return grid, pitch


def find_lanes(
    data: NDArray[Any],
    expected_lanes: int | None = None,
    *,
    rows: slice | None = None,
    smooth: float | None = None,
    min_separation: float | None = None,
    rel_prominence: float = 0.12,
    background_radius: float | None = None,
    min_snr: float = 6.0,
    comb: bool = False,
) -> LaneDetection:
    """Find lanes from the background-corrected, smoothed column profile.

    The image is first flattened by a rolling-ball background (radius
    ``background_radius``, default 1/15 of the smaller side) so uneven
    illumination cannot pose as lanes; the baseline left under the column
    profile is its lower convex hull. Peaks of the profile are lanes: a peak
    must stand out by ``rel_prominence`` of the strongest and by ``min_snr``
    times the profile noise. Each lane's edges are where the profile falls to
    half of its height above the baseline, and all lanes get the median of
    those widths (lanes of one comb are equally wide). With
    ``expected_lanes``: weak peaks (above the noise test only) count too, the
    strongest that many peaks are kept if more were found; if fewer, the
    lanes are placed on the regular grid (one comb, equal pitch) that best
    fits the peaks found, so empty lanes are still returned.

    ``comb=True`` (with ``expected_lanes``): the lanes are always placed on the
    regular grid (one comb, equal pitch) fitted to the *strong* peaks only,
    each centre then moved to a significant peak within 15 % of the pitch if
    there is one. Why: on a gel whose sample lanes are mostly empty (MSP, a
    failed PCR), the strong peaks are the ladders and a few bright lanes,
    while weak peaks include noise and streaks at the gel's edges; picking
    the strongest ``expected_lanes`` of all peaks can then take an edge
    streak for a lane, but the comb through the strong lanes cannot.
    """
    arr = np.asarray(data, dtype=np.float32)
    if arr.ndim != 2:
        raise AnalysisError(f"lane finding needs a 2-D image, got shape {arr.shape}")
    _h, w = arr.shape
    raw = _column_profile(_flatten(arr, background_radius), rows)
    sigma = smooth if smooth is not None else max(2.0, w / 250.0)
    prof = gaussian_filter1d(raw, sigma, mode="nearest")
    base, _ = profile_baseline(prof, "hull")
    corr = prof - base
    # pixel-to-pixel noise of the column profile, scaled to the smoothed profile
    raw_noise = 1.4826 * float(np.median(np.abs(np.diff(raw)))) / np.sqrt(2)
    noise = raw_noise / np.sqrt(2.0 * np.sqrt(np.pi) * sigma) + 1e-12
    sep = min_separation if min_separation is not None else max(5.0, w / 60.0)
    if expected_lanes:
        sep = min(sep, 0.5 * w / expected_lanes)
    peaks, props = find_peaks(corr, distance=max(1, int(sep)), prominence=1e-12)
    prominences = props["prominences"]
    if peaks.size:
        strong = prominences >= max(rel_prominence * float(prominences.max()), min_snr * noise)
        significant = prominences >= min_snr * noise
        if comb and expected_lanes:
            return _comb_lanes(
                corr,
                peaks[strong],
                peaks[significant],
                expected_lanes,
                w,
                sep,
                {
                    "smooth": sigma,
                    "rel_prominence": rel_prominence,
                    "expected_lanes": expected_lanes,
                    "background_radius": background_radius,
                    "comb": True,
                },
            )
        if expected_lanes and strong.sum() < expected_lanes:
            # weak lanes (one faint band) are real when the caller says they exist
            strong = significant
        peaks, prominences = peaks[strong], prominences[strong]
    method = "column-profile peaks"
    if expected_lanes and peaks.size > expected_lanes:
        order = np.argsort(prominences)[::-1][:expected_lanes]
        peaks = np.sort(peaks[order])
        method += f", strongest {expected_lanes}"
    widths = []
    centres = []
    for p in peaks:
        lx, rx = _half_max_edges(corr, int(p))
        widths.append(rx - lx)
        centres.append(0.5 * (lx + rx))
    centres_arr = np.asarray(centres, dtype=np.float64)
    lane_width = float(np.median(widths)) if widths else 0.0
    pitch = float(np.median(np.diff(centres_arr))) if centres_arr.size > 1 else float(w)
    if expected_lanes and centres_arr.size < expected_lanes:
        grid = _regular_grid(centres_arr, expected_lanes, w, max(lane_width, sep), corr)
        if grid is None:
            # Nothing to anchor a comb to: divide the image evenly.
            pitch = w / expected_lanes
            centres_arr = pitch * (np.arange(expected_lanes) + 0.5)
            method = f"even split into {expected_lanes} (no lanes detected)"
        else:
            centres_arr, pitch = grid
            method = f"regular grid of {expected_lanes} fitted to {len(centres)} detected lanes"
        if lane_width <= 0:
            lane_width = 0.6 * pitch
    if centres_arr.size > 1:
        lane_width = min(lane_width, 0.95 * float(np.min(np.diff(centres_arr))))
    lanes = [
        Lane(i, float(c), float(max(0.0, c - lane_width / 2)), float(min(w, c + lane_width / 2)))
        for i, c in enumerate(centres_arr)
    ]
    if not lanes:
        raise AnalysisError("no lanes found: the column profile has no significant peak")
    return LaneDetection(
        lanes,
        pitch,
        lane_width,
        corr,
        method,
        {
            "smooth": sigma,
            "rel_prominence": rel_prominence,
            "expected_lanes": expected_lanes,
            "background_radius": background_radius,
        },
    )


def _grid_from_spacing(
    peaks: NDArray[np.float64], n: int, width: int, profile: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float] | None:
    """A regular comb of ``n`` lanes from many (weak) peaks.

    The comb's pitch (within +/-20 % of the median peak spacing, each spacing
    divided by the whole number of pitches it spans, as an empty lane makes a
    double one) and offset are those that bring the peaks closest to a tooth,
    each peak's squared distance capped at a quarter pitch squared so that a
    stray peak (an edge, a streak) cannot pull the comb. Weak peaks sit a few
    px off their lane centres, so the comb is then fine-tuned (+/-2 % pitch,
    +/-20 % of a pitch in offset) to collect the most signal of the profile
    smoothed over a lane width: bright lanes (a ladder) pin it.
    """
    if peaks.size < 3:
        return None
    d = np.diff(peaks)
    d = d[d > 0]
    if d.size == 0:
        return None
    p0 = float(np.median(d))
    k = np.maximum(1, np.round(d / p0))
    p0 = float(np.median(d / k))
    pitches = p0 * np.linspace(0.8, 1.2, 161)
    pitches = pitches[pitches * (n - 1) <= width]
    if pitches.size == 0:
        return None
    cap = (0.25 * p0) ** 2
    best: tuple[float, float, float] | None = None
    for pitch in pitches:
        offsets = np.arange(0.0, width - pitch * (n - 1) + 1e-9, 0.5)
        idx = np.clip(np.round((peaks[None, :] - offsets[:, None]) / pitch), 0, n - 1)
        dist2 = (peaks[None, :] - (offsets[:, None] + idx * pitch)) ** 2
        cost = np.minimum(dist2, cap).sum(axis=1)
        j = int(np.argmin(cost))
        if best is None or cost[j] < best[0]:
            best = (float(cost[j]), float(pitch), float(offsets[j]))
    if best is None:
        return None
    _, pitch, offset = best
    xs = np.arange(profile.size, dtype=np.float64)
    box = max(3, round(0.6 * pitch))
    smooth = np.convolve(np.clip(profile, 0.0, None), np.ones(box) / box, mode="same")
    fine_p = pitch * np.linspace(0.98, 1.02, 41)
    fine_o = offset + np.arange(-0.2 * pitch, 0.2 * pitch + 0.25, 0.25)
    teeth = np.arange(n, dtype=np.float64)
    pos = fine_o[None, :, None] + fine_p[:, None, None] * teeth[None, None, :]
    inside = (pos[..., 0] >= 0) & (pos[..., -1] <= width)
    score = np.where(inside, np.interp(pos, xs, smooth).sum(axis=-1), -np.inf)
    ip, io = (int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))
    if not np.isfinite(score[ip, io]):
        return offset + pitch * teeth, pitch
    return fine_o[io] + fine_p[ip] * teeth, float(fine_p[ip])


def _comb_lanes(
    corr: NDArray[np.float64],
    strong: NDArray[np.intp],
    significant: NDArray[np.intp],
    n: int,
    width: int,
    sep: float,
    params: dict[str, Any],
) -> LaneDetection:
    """``n`` lanes on the regular grid through the strong peaks (see ``find_lanes(comb=True)``)."""
    widths, centres = [], []
    for p in strong:
        lx, rx = _half_max_edges(corr, int(p))
        widths.append(rx - lx)
        centres.append(0.5 * (lx + rx))
    centres_arr = np.asarray(sorted(centres), dtype=np.float64)
    lane_width = float(np.median(widths)) if widths else 0.0
    grid = _regular_grid(centres_arr, n, width, max(lane_width, sep), corr)
    anchors = f"{len(centres)} strong lanes"
    if grid is None and significant.size >= 3:
        # one strong lane (a single ladder) or none: the weak lanes set the comb
        grid = _grid_from_spacing(np.sort(significant).astype(np.float64), n, width, corr)
        anchors = f"{significant.size} weak lanes (fewer than 2 strong)"
    if grid is None:
        pitch = width / n
        positions = pitch * (np.arange(n) + 0.5)
        method = f"even split into {n} (fewer than 2 strong lanes)"
    else:
        positions, pitch = grid
        positions = positions.copy()
        moved = 0
        xs = np.arange(corr.size, dtype=np.float64)
        half = 0.5 * (lane_width if lane_width > 0 else 0.6 * pitch)
        for i, c in enumerate(positions):
            # only lanes with a strong peak are centred on their own signal; a weak
            # lane's peak is less exact than the comb through all of them
            if not np.any(np.abs(strong - c) <= 0.15 * pitch):
                continue
            # centroid of the lane's own signal (mean shift), not its half-maximum
            # centre: a weak lane's half maximum can spread over its neighbours
            x = float(c)
            for _ in range(10):
                sel = np.abs(xs - x) <= half
                wts = np.clip(corr[sel], 0.0, None)
                if wts.sum() <= 0:
                    break
                x_new = float(np.sum(wts * xs[sel]) / wts.sum())
                if abs(x_new - x) < 0.05:
                    x = x_new
                    break
                x = x_new
            if abs(x - c) <= 0.15 * pitch:
                positions[i] = x
                moved += 1
        method = f"comb of {n} fitted to {anchors}, {moved} on their own peak"
    if lane_width <= 0:
        lane_width = 0.6 * pitch
    lane_width = min(lane_width, 0.95 * float(pitch))
    half = lane_width / 2
    lanes = [
        Lane(i, float(c), float(max(0.0, c - half)), float(min(width, c + half)))
        for i, c in enumerate(positions)
    ]
    return LaneDetection(lanes, float(pitch), lane_width, corr, method, params)


# --------------------------------------------------------------------------------------
# Strips
# --------------------------------------------------------------------------------------


def find_strips(
    data: NDArray[Any],
    *,
    min_gap: int = 6,
    max_gap_fraction: float = 0.15,
    min_strip: int = 30,
    min_contrast_sigma: float = 8.0,
    min_depth_fraction: float = 0.2,
) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of membrane strips stacked one above another.

    Why the 10th percentile of each row: it sees the membrane (or the gap) even
    on rows crossed by bands. A gap is a dip of that row profile narrower than
    ``max_gap_fraction`` of the image height: the dip depth is the grey
    closing of the profile (length = the largest gap) minus the profile, so a
    smooth illumination gradient, which a closing does not change, is never
    mistaken for a gap (nor is a dip at the image edge, which is not bounded
    by membrane on both sides). Rows deeper than both ``min_contrast_sigma`` times the
    profile noise and ``min_depth_fraction`` of the profile's range form gaps
    of at least ``min_gap`` rows; the strips are the runs between gaps of at
    least ``min_strip`` rows. Gaps are darker than the membrane (bands bright).
    Without a gap, the whole image is one strip.
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    arr = np.asarray(data, dtype=np.float32)
    h = arr.shape[0]
    whole = [(0, h)]
    prof = np.percentile(arr, 10, axis=1).astype(np.float64)
    prof_s = gaussian_filter1d(prof, 1.0, mode="nearest")
    noise = 1.4826 * float(np.median(np.abs(np.diff(prof)))) / np.sqrt(2) + 1e-9
    length = max(3, int(max_gap_fraction * h)) | 1
    # Closing with -inf outside the image: a dip touching an image edge is not
    # bounded by membrane on both sides, so it is not a gap.
    dil = maximum_filter1d(prof_s, length, mode="constant", cval=-np.inf)
    clo = minimum_filter1d(dil, length, mode="constant", cval=-np.inf)
    depth = clo - prof_s
    span = float(np.ptp(prof_s))
    gap = depth > max(min_contrast_sigma * noise, min_depth_fraction * span)
    runs: list[tuple[int, int, bool]] = []
    start = 0
    for i in range(1, h + 1):
        if i == h or gap[i] != gap[start]:
            runs.append((start, i, bool(gap[start])))
            start = i
    # short gaps are not gaps
    cleaned = [(a, b, g and (b - a) >= min_gap) for a, b, g in runs]
    strips: list[tuple[int, int]] = []
    cur: list[int] | None = None
    for a, b, g in cleaned:
        if g:
            if cur is not None:
                strips.append((cur[0], cur[1]))
                cur = None
        elif cur is None:
            cur = [a, b]
        else:
            cur[1] = b
    if cur is not None:
        strips.append((cur[0], cur[1]))
    strips = [s for s in strips if s[1] - s[0] >= min_strip]
    if len(strips) < 2:
        return whole
    return [(int(a), int(b)) for a, b in strips]


# --------------------------------------------------------------------------------------
# Smile
# --------------------------------------------------------------------------------------


def _lane_profile(arr: NDArray[np.float32], lane: Lane, fraction: float) -> NDArray[np.float64]:
    cols = lane.columns(fraction, arr.shape[1])
    prof = arr[:, cols].mean(axis=1).astype(np.float64)
    base, _ = profile_baseline(prof, "minima", window=25, smooth=1.0)
    return prof - base


def _xcorr_shift(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    max_shift: int,
    *,
    min_corr: float = 0.3,
    return_corr: bool = False,
) -> Any:
    """Shift s (px) such that b(y) ~ a(y - s); None if flat or poorly correlated.

    With ``return_corr``, returns ``(shift, correlation)``.
    """
    if np.std(a) <= 0 or np.std(b) <= 0:
        return None
    a0 = (a - a.mean()) / a.std()
    b0 = (b - b.mean()) / b.std()
    n = a0.size
    shifts = np.arange(-max_shift, max_shift + 1)
    cc = np.empty(shifts.size)
    for k, s in enumerate(shifts):
        if s >= 0:
            cc[k] = np.dot(a0[: n - s], b0[s:]) / (n - s)
        else:
            cc[k] = np.dot(a0[-s:], b0[: n + s]) / (n + s)
    i = int(np.argmax(cc))
    if cc[i] < min_corr:
        return None
    shift = float(shifts[i])
    if 0 < i < shifts.size - 1:
        y0, y1, y2 = cc[i - 1], cc[i], cc[i + 1]
        denom = y0 - 2 * y1 + y2
        if denom < 0:
            shift += 0.5 * (y0 - y2) / denom
    return (shift, float(cc[i])) if return_corr else shift


def estimate_smile(
    data: NDArray[Any],
    lanes: list[Lane],
    *,
    max_shift: int = 25,
    fraction: float = 0.5,
    smooth: bool = True,
) -> SmileModel:
    """Per-lane vertical shift of the band pattern, by cross-correlating lane profiles.

    Adjacent lanes are compared (neighbours on one blot share most bands), the
    pairwise shifts are chained, and the offsets are made relative to their
    median. With ``smooth``, a quadratic in the lane centre is fitted (least
    squares) and used for every lane, because a smile is a smooth curve and a
    single lane's estimate is noisy.
    """
    arr = np.asarray(data, dtype=np.float32)
    centres = [ln.center for ln in lanes]
    if len(lanes) < 2:
        return SmileModel(centres, [0.0] * len(lanes), [0.0] * len(lanes), ())
    profiles = [_lane_profile(arr, ln, fraction) for ln in lanes]
    raw = [0.0]
    ok = [True]
    for i in range(1, len(lanes)):
        # compare with the nearest previous lane that had a usable estimate
        s = None
        for j in range(i - 1, -1, -1):
            if not ok[j]:
                continue
            s = _xcorr_shift(profiles[j], profiles[i], max_shift)
            if s is not None:
                raw.append(raw[j] + s)
                break
        if s is None:
            raw.append(float("nan"))
            ok.append(False)
        else:
            ok.append(True)
    raw_arr = np.asarray(raw, dtype=np.float64)
    raw_arr -= np.nanmedian(raw_arr)
    good = np.isfinite(raw_arr)
    coeffs: tuple[float, ...] = ()
    out = raw_arr.copy()
    if smooth and good.sum() >= 3:
        deg = 2 if good.sum() >= 4 else 1
        x = np.asarray(centres)
        c = np.polyfit(x[good], raw_arr[good], deg)
        coeffs = tuple(float(v) for v in c)
        out = np.polyval(c, x)
        shift = float(np.median(out))
        out = out - shift
        coeffs = (*coeffs[:-1], coeffs[-1] - shift)
    else:
        out = np.where(good, raw_arr, 0.0)
    return SmileModel(centres, [float(v) for v in raw_arr], [float(v) for v in out], coeffs)


@dataclass(frozen=True)
class LaneRegistration:
    """Maps rows of one lane onto a reference lane: ``row = scale * row_ref + shift``.

    Why a scale too: lanes of one gel often run slightly different distances
    (heat, salt), so the offset between lanes grows down the gel; a constant
    shift cannot follow that.
    """

    lane: int
    reference: int
    scale: float
    shift: float
    correlation: float

    def to_reference(self, row: float) -> float:
        """Row in the reference lane's frame."""
        return (row - self.shift) / self.scale


def register_lanes(
    data: NDArray[Any],
    lanes: list[Lane],
    *,
    reference: int = 0,
    rows: tuple[int, int] | None = None,
    max_shift: int = 25,
    max_stretch: float = 0.05,
    stretch_step: float = 0.001,
    fraction: float = 0.5,
) -> list[LaneRegistration]:
    """Register every lane's vertical profile onto the reference lane's (scale and shift).

    For each trial scale, the profile of the lane is resampled into the
    reference frame and the best integer shift is found by normalised
    cross-correlation, refined by a parabola; the scale with the highest
    correlation wins. Meaningful when lanes share bands (identical ladders,
    the same protein across a blot).
    """
    arr = np.asarray(data, dtype=np.float32)
    h = arr.shape[0]
    r0, r1 = (0, h) if rows is None else (max(0, rows[0]), min(h, rows[1]))
    profiles = [_lane_profile(arr[r0:r1], ln, fraction) for ln in lanes]
    ref = profiles[reference]
    y = np.arange(ref.size, dtype=np.float64)
    out: list[LaneRegistration] = []
    for i, prof in enumerate(profiles):
        if i == reference:
            out.append(LaneRegistration(lanes[i].index, lanes[reference].index, 1.0, 0.0, 1.0))
            continue
        best = (-np.inf, 1.0, 0.0)
        for scale in np.arange(1.0 - max_stretch, 1.0 + max_stretch + 1e-12, stretch_step):
            # lane row = scale * ref_row (+ shift): resample the lane at scale * y
            resampled = np.interp(scale * y, y, prof, left=0.0, right=0.0)
            s = _xcorr_shift(ref, resampled, max_shift, min_corr=-1.0, return_corr=True)
            if s is None:
                continue
            shift, corr = s
            if corr > best[0]:
                best = (corr, float(scale), float(shift))
        corr, scale, shift = best
        # resampled(y) = prof(scale*y) ~ ref(y - shift')  =>  lane row = scale * (ref_row + shift')
        out.append(
            LaneRegistration(
                lanes[i].index,
                lanes[reference].index,
                scale,
                scale * shift + r0 * (1.0 - scale),
                float(corr),
            )
        )
    return out
