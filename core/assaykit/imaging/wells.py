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


#: a comb's well is at least this share of the well row's 90th-percentile hole depth (edge
#: wells are often shallower: the comb sits unevenly, and the gel's edge lifts)
COMB_DEPTH = 0.15


@dataclass(frozen=True)
class Comb:
    """A comb's wells found without lanes: the hole rows, the pitch and each well's centre."""

    hole: tuple[int, int]
    pitch: float
    centres: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.centres)


def _hole_rows(q: NDArray[np.float64], h: int) -> tuple[tuple[int, int] | None, float]:
    """The run of rows whose lower quartile dips below the rows around it, and the noise."""
    around = np.array([np.median(q[max(0, i - 25) : i + 26]) for i in range(q.size)])
    dip = around - q
    d = np.diff(q)
    sigma = float(1.4826 * np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0)
    if sigma <= 0:
        sigma = float(np.percentile(np.abs(d), 90)) / (1.645 * np.sqrt(2.0)) or 1.0
    is_hole = uniform_filter1d(dip, 3) > 4.0 * sigma
    best: tuple[int, int] | None = None
    best_score = 0.0
    i, n = 0, is_hole.size
    while i < n:
        if not is_hole[i]:
            i += 1
            continue
        j = i
        while j < n and is_hole[j]:
            j += 1
        score = float(dip[i:j].sum())
        # a run at the block's top or bottom is the image's (or the window's) edge
        if i > 0 and j < n and 3 <= j - i <= 0.25 * h and score > best_score:
            best, best_score = (i, j), score
        i = j
    return best, sigma


def find_comb(
    data: NDArray[np.floating],
    rows: tuple[int, int],
    span: tuple[int, int],
    *,
    look_above: int | None = None,
    min_wells: int = 3,
) -> Comb | None:
    """The comb's wells of the strip at ``rows``, found without lanes; or None.

    Why: without a lane count, lanes are only seen where they hold signal, so
    a gel's empty lanes, often at its edges, are invisible in the lanes, but
    never in the wells: every lane has its well. The well row is the run of
    rows whose lower quartile over the gel's columns ``span`` dips below the
    rows around it; there each column's hole depth (the gel just above and
    below minus the hole) repeats with the comb's pitch (autocorrelation), and
    the wells are the longest unbroken run of pitch steps, at the best phase,
    that are deep.
    """
    r0, r1 = rows
    h = r1 - r0
    lo, hi = span
    if h < 40 or hi - lo < 60:
        return None
    above = int(0.25 * h) if look_above is None else int(look_above)
    s0, s1 = max(0, r0 - above), min(data.shape[0], r0 + int(0.5 * h))
    block = np.asarray(data[s0:s1, lo:hi], dtype=np.float64)
    if block.shape[0] < 10:
        return None
    run, sigma = _hole_rows(np.percentile(block, 25, axis=1), h)
    if run is None:
        return None
    a, b = run
    rim = max(3, round(0.3 * (b - a)))
    ref_rows = [*range(max(0, a - rim - 8), max(0, a - rim))]
    ref_rows += [*range(min(block.shape[0], b + rim), min(block.shape[0], b + rim + 8))]
    if len(ref_rows) < 4:
        return None
    depth = np.median(block[ref_rows], axis=0) - np.median(block[a:b], axis=0)
    depth = uniform_filter1d(depth, 3)
    full = float(np.percentile(depth, 90))
    if full < 6.0 * sigma:
        return None
    # pitch: the first clear peak of the depth profile's autocorrelation
    z = depth - depth.mean()
    ac = np.correlate(z, z, mode="full")[z.size - 1 :]
    if ac[0] <= 0:
        return None
    ac = ac / ac[0]
    lag = None
    for k in range(6, min(ac.size - 1, z.size // 3)):
        if ac[k] >= ac[k - 1] and ac[k] >= ac[k + 1] and ac[k] > 0.25:
            lag = k
            break
    if lag is None:
        return None
    # refine the pitch to a fraction of a pixel (parabola through the peak)
    y0, y1, y2 = ac[lag - 1], ac[lag], ac[lag + 1]
    den = y0 - 2 * y1 + y2
    pitch = float(lag + (0.5 * (y0 - y2) / den if den < 0 else 0.0))
    # phase: the offset whose comb of pitch steps collects the most depth
    best_phase, best_sum = 0.0, -np.inf
    for phase in np.arange(0.0, pitch, 0.5):
        idx = np.round(np.arange(phase, depth.size, pitch)).astype(int)
        idx = idx[idx < depth.size]
        tot = float(depth[idx].sum())
        if tot > best_sum:
            best_phase, best_sum = float(phase), tot
    centres = np.arange(best_phase, depth.size, pitch)
    half = max(1, round(pitch / 6))
    deep = np.array(
        [float(np.median(depth[max(0, round(c) - half) : round(c) + half + 1])) for c in centres]
    )
    is_well = deep > COMB_DEPTH * full
    # the wells: the longest unbroken run of deep steps (a comb has no missing tooth)
    best_run: tuple[int, int] = (0, 0)
    i = 0
    while i < is_well.size:
        if not is_well[i]:
            i += 1
            continue
        j = i
        while j < is_well.size and is_well[j]:
            j += 1
        if j - i > best_run[1] - best_run[0]:
            best_run = (i, j)
        i = j

    if best_run[1] - best_run[0] < min_wells:
        return None
    chosen = centres[best_run[0] : best_run[1]]
    return Comb((s0 + a, s0 + b), pitch, tuple(float(lo + c) for c in chosen))
