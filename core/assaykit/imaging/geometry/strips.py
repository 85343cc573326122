"""Strips: membrane strips stacked one above another, found by the gaps between them."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d


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
