"""The comb's well row of an agarose gel: found, so that its glow is never a band.

Why: a stained gel's wells are holes in the gel with bright rims, and DNA or
dye that stays in or just below the well glows. On a lane profile that glow
looks like a band near the top of every lane, loaded or empty, so without
this every empty lane of a real gel "holds a band". The decisive sign is the
hole itself: in the band-bright frame a well is *darker* than the gel between
two wells, in most lanes at the same rows, which no band can be (a band only
adds signal to its lane). So the well row is the run of rows near a strip's
top where most lanes are darker than their gaps; the rows from its rim to a
glow allowance below it are then left out of band finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter1d

from assaykit.imaging.geometry import Lane

#: fraction of the lanes that must be darker than their gaps for a row to be a well row ...
MIN_LANE_FRACTION = 0.5
#: ... and this fraction when the rows lie in the strip's body rather than at its top
STRONG_LANE_FRACTION = 0.6
#: how far past the hole the glow may reach, in hole heights (at least GLOW_MIN_PX)
GLOW_HEIGHTS = 1.2
GLOW_MIN_PX = 12
#: a hole is darker than its gaps by this many noise units (robust sigma of the contrast)
HOLE_SIGMA = 3.0


@dataclass(frozen=True)
class WellRow:
    """Rows (prepared frame, half-open) of the comb's holes and of the zone left out of bands."""

    hole: tuple[int, int]
    zone: tuple[int, int]
    lanes_dark: int
    lanes: int

    def describe(self) -> str:
        return (
            f"well row at rows {self.hole[0]}-{self.hole[1]} ({self.lanes_dark} of {self.lanes} "
            f"lanes darker than the gel between them); rows {self.zone[0]}-{self.zone[1]} "
            "(wells and their glow) are not searched for bands"
        )


def _columns(
    lanes: Sequence[Lane], width: int
) -> tuple[list[NDArray[np.intp]], list[NDArray[np.intp]]]:
    """Centre columns of each lane, and the columns of the gel between it and its neighbours."""
    centres: list[NDArray[np.intp]] = []
    gaps: list[NDArray[np.intp]] = []
    for i, ln in enumerate(lanes):
        half = max(1.0, 0.25 * (ln.right - ln.left))
        c = np.arange(round(ln.center - half), round(ln.center + half) + 1)
        centres.append(c[(c >= 0) & (c < width)])
        g: list[int] = []
        for j in (i - 1, i + 1):
            if 0 <= j < len(lanes):
                a, b = sorted((ln, lanes[j]), key=lambda q: q.center)
                lo, hi = a.right, b.left
                if hi - lo < 2:  # touching lanes: the gel between them is the boundary column
                    mid = 0.5 * (a.center + b.center)
                    lo, hi = mid - 1, mid + 1
                g.extend(range(int(np.ceil(lo)), int(np.floor(hi)) + 1))
        ga = np.array(sorted(set(g)), dtype=np.intp)
        gaps.append(ga[(ga >= 0) & (ga < width)])
    return centres, gaps


def find_well_row(
    data: NDArray[np.floating],
    rows: tuple[int, int],
    lanes: Sequence[Lane],
    *,
    look_above: int | None = None,
) -> WellRow | None:
    """The well row of the strip at ``rows`` of band-bright ``data``, or None when there is none.

    The search covers the top 30 % of the strip and ``look_above`` rows above
    it (default 15 % of its height: strips found from gaps often start just
    under the wells). At least three lanes are needed.
    """
    r0, r1 = rows
    h = r1 - r0
    if len(lanes) < 3 or h < 40:
        return None
    above = int(0.25 * h) if look_above is None else int(look_above)
    s0, s1 = max(0, r0 - above), min(data.shape[0], r0 + int(0.5 * h))
    if s1 - s0 < 6:
        return None
    centres, gaps = _columns(lanes, data.shape[1])
    if any(c.size == 0 or g.size == 0 for c, g in zip(centres, gaps)):
        return None
    # contrast lane - gap per row, for the search rows and for the strip's lower rows (noise)
    ref0 = r0 + int(0.4 * h)
    block = np.asarray(data[s0:s1], dtype=np.float64)
    ref = np.asarray(data[ref0:r1], dtype=np.float64)
    con = np.empty((s1 - s0, len(lanes)))
    con_ref = np.empty((r1 - ref0, len(lanes)))
    for k, (c, g) in enumerate(zip(centres, gaps)):
        con[:, k] = np.median(block[:, c], axis=1) - np.median(block[:, g], axis=1)
        con_ref[:, k] = np.median(ref[:, c], axis=1) - np.median(ref[:, g], axis=1)
    con = uniform_filter1d(con, 3, axis=0)
    # noise: the row-to-row scatter of the lower rows' contrast (bands there add slow trends only)
    d = np.diff(con_ref, axis=0)
    dev = np.abs(d - np.median(d))
    sigma = float(1.4826 * np.median(dev)) / np.sqrt(2.0)
    if sigma <= 0:  # quantised (8-bit) medians: most differences are 0; use the upper tail
        sigma = float(np.percentile(dev, 90)) / (1.645 * np.sqrt(2.0))
    if not np.isfinite(sigma) or sigma <= 0:
        return None
    dark = (con < -HOLE_SIGMA * sigma).sum(axis=1)
    is_hole = dark >= MIN_LANE_FRACTION * len(lanes)
    # candidate runs of well rows; the one with the most dark lanes wins (ties: the longer)
    runs: list[tuple[int, int]] = []
    i, n = 0, len(is_hole)
    while i < n:
        if is_hole[i]:
            j = i
            while j < n and is_hole[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    runs = [(a, b) for a, b in runs if 2 <= b - a <= 0.25 * h]
    if not runs:
        return None
    a, b = max(runs, key=lambda r: (int(dark[r[0] : r[1]].max()), r[1] - r[0]))
    frac = float(dark[a:b].max()) / len(lanes)
    # a well row is the strip's top structure: in the strip's body a clear majority is needed
    if frac < STRONG_LANE_FRACTION and s0 + a > r0 + 0.45 * h:
        return None
    hole = (s0 + a, s0 + b)
    hh = b - a
    rim = max(3, round(0.3 * hh))
    zone = (
        max(0, hole[0] - rim),
        min(data.shape[0], hole[1] + max(GLOW_MIN_PX, int(GLOW_HEIGHTS * hh))),
    )
    return WellRow(hole, zone, int(dark[a:b].max()), len(lanes))
