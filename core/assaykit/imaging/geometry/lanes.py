"""Lanes: where they are, from the background-corrected column profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from assaykit.errors import AnalysisError
from assaykit.imaging.background import profile_baseline
from assaykit.imaging.geometry.deskew import _flatten


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
