"""Lanes from a fitted grid, not from valleys.

Why a grid: lanes come from one comb, so they are (nearly) evenly spaced and
equally wide. Real blots break every valley-based lane finder: a loading
control (GAPDH, actin) is one continuous bright row with no valley between
lanes, empty lanes leave no peak, and pen marks, specks or a membrane edge
make peaks that are not lanes. A grid of ``n`` boxes fitted to the whole
column profile uses all of it at once: touching bands fix the grid by the
row's two ends, separated bands by their peaks, empty lanes are carried by
their neighbours, and a stray peak costs little because it moves no box.

The model (:func:`fit_lane_grid`): the column profile ``P(x)`` over the
allowed span ``[lo, hi)`` (the membrane) is a flat level ``b`` outside the
lanes plus, for lane ``i``, a box of width ``w = f * pitch`` centred at
``offset + i * pitch`` with its own height ``a_i >= 0``. For every
(pitch, offset, f) the heights and ``b`` have closed-form least-squares
values, and the residual is computed from prefix sums in O(n), so the whole
grid space is searched exhaustively (coarse, then fine), never by a local
optimiser that a stray peak could trap. Each lane with signal is then moved
by at most a small shift (a lane bent by the gel) to its own best box, never
past the middle of the gap to its neighbours.

Invariants (checked by :func:`check_lanes`, and by the tests): lanes are in
order, never overlap, have positive width and lie inside the span.

Without a lane count, the pitch comes from the profile's autocorrelation and
the count from the span it explains (:func:`estimate_lane_count`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LaneGrid",
    "check_lanes",
    "estimate_lane_count",
    "estimate_pitch",
    "fit_lane_grid",
    "grid_from_centres",
]

#: Lane widths tried, as a fraction of the pitch (1.0 = touching lanes).
WIDTH_FRACTIONS: tuple[float, ...] = (0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.0)


@dataclass(frozen=True)
class LaneGrid:
    """A fitted lane grid: centres (after the per-lane shift), common width and fit quality.

    ``r2`` is the fraction of the profile's variance over the span that the
    grid model explains; ``amplitudes`` the box heights above the level
    between lanes (0 for an empty lane); ``shifts`` how far each lane moved
    off the regular grid (px).
    """

    centers: NDArray[np.float64]
    pitch: float
    offset: float
    width: float
    r2: float
    amplitudes: NDArray[np.float64]
    shifts: NDArray[np.float64]
    span: tuple[float, float]
    method: str

    @property
    def n(self) -> int:
        return int(self.centers.size)

    def edges(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(left, right) of every lane: the common width about each centre, clipped to the span
        and, where shifted lanes came closer, to the midpoint between them."""
        half = 0.5 * self.width
        left = self.centers - half
        right = self.centers + half
        if self.n > 1:
            mid = 0.5 * (self.centers[1:] + self.centers[:-1])
            right[:-1] = np.minimum(right[:-1], mid)
            left[1:] = np.maximum(left[1:], mid)
        return np.maximum(left, self.span[0]), np.minimum(right, self.span[1])


def _cumulative(profile: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Integrals of P and P^2 from 0 to x at integer x (P piecewise constant per pixel)."""
    c1 = np.concatenate([[0.0], np.cumsum(profile)])
    c2 = np.concatenate([[0.0], np.cumsum(profile * profile)])
    return c1, c2


def _integral(c: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Integral up to fractional x, pixel k spanning [k - 0.5, k + 0.5) (its centre is k, as
    everywhere else in assaykit.imaging); linear within a pixel."""
    xs = np.clip(np.asarray(x) + 0.5, 0.0, c.size - 1.0)
    return np.asarray(np.interp(xs, np.arange(c.size, dtype=np.float64), c), dtype=np.float64)


def _residuals(
    c1: NDArray[np.float64],
    c2: NDArray[np.float64],
    lo: float,
    hi: float,
    pitch: NDArray[np.float64],
    offset: NDArray[np.float64],
    frac: float,
    n: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Least-squares residual of the box model for arrays of (pitch, offset); and the heights."""
    i = np.arange(n, dtype=np.float64)
    centres = offset[..., None] + pitch[..., None] * i
    half = 0.5 * frac * pitch[..., None]
    a = np.clip(centres - half, lo, hi)
    b = np.clip(centres + half, lo, hi)
    s_in = _integral(c1, b) - _integral(c1, a)
    q_in = _integral(c2, b) - _integral(c2, a)
    l_in = b - a
    s_tot = float(_integral(c1, np.array([hi]))[0] - _integral(c1, np.array([lo]))[0])
    q_tot = float(_integral(c2, np.array([hi]))[0] - _integral(c2, np.array([lo]))[0])
    l_out = (hi - lo) - l_in.sum(axis=-1)
    s_out = s_tot - s_in.sum(axis=-1)
    q_out = q_tot - q_in.sum(axis=-1)
    level = np.where(l_out > 1.0, s_out / np.maximum(l_out, 1e-9), 0.0)
    mean_in = s_in / np.maximum(l_in, 1e-9)
    amp = np.maximum(mean_in - level[..., None], 0.0)
    fit = level[..., None] + amp
    res_in = q_in - 2.0 * fit * s_in + fit * fit * l_in
    res_out = q_out - 2.0 * level * s_out + level * level * l_out
    return res_in.sum(axis=-1) + res_out, amp


def fit_lane_grid(
    profile: NDArray[np.floating],
    n: int,
    *,
    span: tuple[float, float] | None = None,
    min_pitch: float = 6.0,
    min_fill: float = 0.3,
    max_shift: float = 0.15,
    noise: float | None = None,
    widths: Sequence[float] = WIDTH_FRACTIONS,
    compress: bool = False,
) -> LaneGrid:
    """The grid of ``n`` lanes that best explains ``profile`` (module docs).

    ``span``: the columns lanes may occupy (default: the whole profile).
    ``min_fill``: the grid covers at least this fraction of the span (lanes of
    one comb rarely fill less of a membrane; it keeps an ``n``-lane grid from
    collapsing onto a few bright lanes). ``max_shift``: largest per-lane move
    off the grid, as a fraction of the pitch. ``noise``: profile noise; a lane
    moves only when its height is above 4 times it.
    ``compress``: fit the grid to ``sign(P) log(1 + |P| / (3 noise))``
    (heights, shifts and the returned amplitudes stay linear), so that a
    saturated lane 60 times brighter than the rest cannot decide where the
    faint lanes go.
    """
    linear = np.asarray(profile, dtype=np.float64)
    prof = linear
    if compress:
        scale = 3.0 * (noise if noise else float(np.std(linear)) / 10.0) + 1e-12
        prof = np.sign(linear) * np.log1p(np.abs(linear) / scale)
    width = prof.size
    lo, hi = (0.0, float(width)) if span is None else (float(span[0]), float(span[1]))
    lo, hi = max(0.0, lo), min(float(width), hi)
    if n < 1 or hi - lo < n * 2:
        raise ValueError(f"cannot fit {n} lanes into columns {lo:.0f}-{hi:.0f}")
    c1, c2 = _cumulative(prof)
    extent = hi - lo
    p_max = extent / n
    p_min = min(p_max, max(min_pitch, min_fill * extent / n))
    best: tuple[float, float, float, float] | None = None  # (res, pitch, offset, frac)

    per_pitch: dict[float, tuple[float, float, float]] = {}  # pitch -> (res, offset, frac)

    def search(
        pitches: NDArray[np.float64], offsets: NDArray[np.float64], fracs: Sequence[float]
    ) -> None:
        """Every (pitch, offset) pair at once, per width fraction."""
        nonlocal best
        if pitches.size == 0 or offsets.size == 0:
            return
        pp, oo = np.meshgrid(pitches, offsets, indexing="ij")
        for frac in fracs:
            ok = (oo >= lo + 0.5 * frac * pp - 1e-9) & (
                oo + (n - 1) * pp + 0.5 * frac * pp <= hi + 1e-9
            )
            if not ok.any():
                continue
            res_all = np.full(pp.shape, np.inf)
            res_all[ok], _ = _residuals(c1, c2, lo, hi, pp[ok], oo[ok], frac, n)
            jo = np.argmin(res_all, axis=1)
            for ip, jj in enumerate(jo):
                r = float(res_all[ip, jj])
                key = float(pitches[ip])
                if np.isfinite(r) and (key not in per_pitch or r < per_pitch[key][0]):
                    per_pitch[key] = (r, float(offsets[jj]), frac)
            j = int(np.argmin(res_all))
            if np.isfinite(res_all.flat[j]) and (best is None or res_all.flat[j] < best[0]):
                best = (float(res_all.flat[j]), float(pp.flat[j]), float(oo.flat[j]), frac)

    # coarse: the last lane moves by 3 px per pitch step, offsets by 1.5 px, on a membrane
    # 600 px wide; in proportion on wider ones (their lanes are as many pixels wider)
    zoom = max(1.0, extent / 600.0)
    coarse_dp = 3.0 * zoom / max(1, n - 1) if n > 1 else 3.0 * zoom
    step_o = 1.5 * zoom
    coarse_w = sorted({min(widths), *widths[1::2], max(widths)})
    search(np.arange(p_min, p_max + 1e-9, coarse_dp), np.arange(lo, hi, step_o), coarse_w)
    if best is None:
        raise ValueError(f"cannot fit {n} lanes into columns {lo:.0f}-{hi:.0f}")
    _, p0, o0, _ = best
    # Among grids that fit nearly as well (residual within 1.5 times the best), the one
    # with the lowest residual x (1 + 2 x peak misfit) wins: a box model of blob-shaped
    # bands fits a too-fine tiling (a flexible staircase) a little better than the true
    # comb, which passes through the profile's clear peaks.
    peaks = _clear_peaks(prof, lo, hi, min_pitch)
    if peaks.size >= 3:
        near = [(r, p, o, f) for p, (r, o, f) in per_pitch.items() if r <= 1.5 * best[0]]
        scored = [
            (r * (1.0 + 2.0 * _peak_misfit(peaks, p, o, n)), r, p, o, f) for r, p, o, f in near
        ]
        if scored:
            _, r, p0, o0, f0 = min(scored, key=lambda x: x[0])
            best = (r, p0, o0, f0)
    fine_dp = 0.25 / max(1, n - 1) if n > 1 else 0.25
    search(
        np.arange(
            max(p_min, p0 - 1.5 * coarse_dp), min(p_max, p0 + 1.5 * coarse_dp) + 1e-9, fine_dp
        ),
        np.arange(o0 - 2.0 * step_o, o0 + 2.0 * step_o + 1e-9, 0.25),
        widths,
    )
    res, pitch, offset, frac = best
    # Ties: empty lanes at both ends leave the grid free to slide by whole pitches at
    # (nearly) no cost; a comb is centred on its gel, so take the most centred of those.
    mid = 0.5 * (lo + hi)
    options = []
    for k in range(-3, 4):
        o = offset + k * pitch
        if o - 0.5 * frac * pitch < lo - 1e-9 or o + (n - 1 + 0.5 * frac) * pitch > hi + 1e-9:
            continue
        r_o, _ = _residuals(c1, c2, lo, hi, np.array([pitch]), np.array([o]), frac, n)
        options.append((float(r_o[0]), o))
    tied = [o for r, o in options if r <= res + 0.02 * abs(res) + 1e-9]
    if tied:
        offset = min(tied, key=lambda o: abs(o + 0.5 * (n - 1) * pitch - mid))
    l1, l2 = _cumulative(linear)
    _, amp = _residuals(l1, l2, lo, hi, np.array([pitch]), np.array([offset]), frac, n)
    amp = amp[0]
    seg = prof[int(lo) : int(np.ceil(hi))]
    ss = float(np.sum((seg - seg.mean()) ** 2)) if seg.size else 0.0
    r2 = 1.0 - res / ss if ss > 0 else 0.0
    centres = offset + pitch * np.arange(n, dtype=np.float64)
    shifts = np.zeros(n)
    if frac < 1.0 and max_shift > 0:
        shifts = _shift_lanes(linear, centres, pitch, frac, amp, max_shift, noise, lo, hi)
    return LaneGrid(
        centers=centres + shifts,
        pitch=float(pitch),
        offset=float(offset),
        width=float(frac * pitch),
        r2=float(r2),
        amplitudes=np.asarray(amp, dtype=np.float64),
        shifts=shifts,
        span=(lo, hi),
        method=f"grid of {n} lanes fitted to the column profile (pitch {pitch:.1f} px, "
        f"width {frac:.2f} of pitch, R2 {r2:.2f})",
    )


def _clear_peaks(
    prof: NDArray[np.float64], lo: float, hi: float, min_pitch: float, smooth: float = 0.0
) -> NDArray[np.float64]:
    """Positions of the profile's clear peaks on the span (prominence at least a fifth of
    the largest and 5 noise sigmas), after Gaussian smoothing by ``smooth`` px, so that a
    flat-topped lane peaks at its middle and not wherever noise tops its plateau."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import find_peaks

    a, b = int(lo), int(np.ceil(hi))
    seg = prof[a:b]
    if smooth > 0.5:
        seg = gaussian_filter1d(seg, smooth, mode="nearest")
    if seg.size < 5:
        return np.zeros(0)
    d = np.diff(seg)
    noise = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0) + 1e-12
    pk, props = find_peaks(seg, distance=max(1, int(min_pitch)), prominence=1e-12)
    if pk.size == 0:
        return np.zeros(0)
    from scipy.signal import peak_widths

    prom = props["prominences"]
    keep = prom >= max(0.2 * float(prom.max()), 5.0 * noise)
    if not keep.any():
        return np.zeros(0)
    # the middle of each peak at half its prominence: a flat-topped lane's top is noise,
    # and its highest pixel can lie anywhere on it
    _, _, left, right = peak_widths(seg, pk[keep], rel_height=0.5)
    return np.asarray(0.5 * (left + right) + a, dtype=np.float64)


def _peak_misfit(peaks: NDArray[np.float64], pitch: float, offset: float, n: int) -> float:
    """Mean squared distance of the peaks to their nearest lane centre, in quarter pitches
    (capped at 1), so one stray peak costs at most its share."""
    idx = np.clip(np.round((peaks - offset) / pitch), 0, n - 1)
    d = np.abs(peaks - (offset + idx * pitch)) / (0.25 * pitch)
    return float(np.mean(np.minimum(d, 1.0) ** 2))


def _shift_lanes(
    prof: NDArray[np.float64],
    centres: NDArray[np.float64],
    pitch: float,
    frac: float,
    amp: NDArray[np.float64],
    max_shift: float,
    noise: float | None,
    lo: float,
    hi: float,
) -> NDArray[np.float64]:
    """Per-lane shift to the lane's own best box: at most ``max_shift`` pitch and never more
    than a quarter of the gap between lanes, so shifted lanes keep their order and never
    overlap. Lanes without signal (height under 4 x noise) stay on the grid."""
    n = centres.size
    w = frac * pitch
    gap = (1.0 - frac) * pitch
    limit = min(max_shift * pitch, 0.45 * gap)
    shifts = np.zeros(n)
    if limit < 0.25:
        return shifts
    thr = 4.0 * noise if noise is not None else 0.0
    c1, _ = _cumulative(prof)
    trial = np.arange(-limit, limit + 1e-9, 0.25)
    for i in range(n):
        if amp[i] <= thr or amp[i] <= 0:
            continue
        # the lane's box against the level of its own neighbourhood (half a gap each side)
        a = np.clip(centres[i] + trial - 0.5 * w, lo, hi)
        b = np.clip(centres[i] + trial + 0.5 * w, lo, hi)
        s = _integral(c1, b) - _integral(c1, a)
        shifts[i] = float(trial[int(np.argmax(s))]) if np.ptp(s) > 0 else 0.0
    return shifts


def grid_from_centres(
    centres: Sequence[float], width: float | None, span: tuple[float, float], method: str
) -> LaneGrid:
    """A :class:`LaneGrid` from lane centres a lab gave (their common width: 0.8 of the
    smallest spacing unless given)."""
    c = np.asarray(sorted(float(x) for x in centres), dtype=np.float64)
    if c.size == 0:
        raise ValueError("no lane centres given")
    spacing = float(np.min(np.diff(c))) if c.size > 1 else float(span[1] - span[0])
    pitch = float(np.median(np.diff(c))) if c.size > 1 else spacing
    w = float(width) if width is not None else 0.8 * spacing
    return LaneGrid(
        centers=c,
        pitch=pitch,
        offset=float(c[0]),
        width=w,
        r2=float("nan"),
        amplitudes=np.full(c.size, np.nan),
        shifts=np.zeros(c.size),
        span=(float(span[0]), float(span[1])),
        method=method,
    )


def estimate_pitch(
    profile: NDArray[np.floating], *, min_pitch: float = 6.0, max_pitch: float | None = None
) -> tuple[float, float] | None:
    """Lane pitch from the autocorrelation of the high-passed column profile: (pitch, strength).

    The strength is the autocorrelation at that lag (0-1). None when no lag
    between ``min_pitch`` and ``max_pitch`` repeats the profile (strength < 0.15).
    """
    from scipy.ndimage import gaussian_filter1d

    p = np.asarray(profile, dtype=np.float64)
    if p.size < 4 * min_pitch:
        return None
    mx = max_pitch if max_pitch is not None else p.size / 2.0
    hp = p - gaussian_filter1d(p, max(3.0, mx / 2.0), mode="nearest")
    # compress heights (tanh): lanes of different loading must repeat as equals, or a
    # pattern of strong lanes every third lane wins over the lane pitch itself
    scale = float(np.percentile(np.abs(hp), 75)) + 1e-12
    hp = np.tanh(hp / scale)
    hp = hp - hp.mean()
    denom = float(np.dot(hp, hp))
    if denom <= 0:
        return None
    lags = np.arange(int(np.floor(min_pitch)), int(min(p.size - 2, np.ceil(mx))) + 1)
    ac = np.array([np.dot(hp[: p.size - k], hp[k:]) / denom for k in lags])
    if ac.size < 3:
        return None
    # first local maximum that is strong
    cand = [
        j
        for j in range(1, ac.size - 1)
        if ac[j] >= ac[j - 1] and ac[j] >= ac[j + 1] and ac[j] >= 0.15
    ]
    if not cand:
        return None
    top = max(ac[j] for j in cand)
    j = next(j for j in cand if ac[j] >= 0.5 * top)
    y0, y1, y2 = ac[j - 1], ac[j], ac[j + 1]
    d = y0 - 2 * y1 + y2
    frac = 0.5 * (y0 - y2) / d if d < 0 else 0.0
    return float(lags[j] + frac), float(y1)


def estimate_lane_count(
    profile: NDArray[np.floating],
    *,
    span: tuple[float, float] | None = None,
    min_pitch: float = 6.0,
    max_lanes: int = 40,
) -> tuple[int, float] | None:
    """Lane count without being told: the pitch from :func:`estimate_pitch`, then the count
    (among those the pitch allows) whose grid fits best with a penalty per lane (BIC).
    Returns (count, autocorrelation strength) or None when the profile does not repeat."""
    prof = np.asarray(profile, dtype=np.float64)
    lo, hi = (0, prof.size) if span is None else (int(span[0]), int(np.ceil(span[1])))
    seg = prof[lo:hi]
    est = estimate_pitch(seg, min_pitch=min_pitch, max_pitch=seg.size / 2.0)
    if est is None:
        return None
    pitch, strength = est
    n_max = int(min(max_lanes, np.floor(seg.size / pitch)))
    if n_max < 2:
        return None
    best: tuple[float, int] | None = None
    m = seg.size
    ss = float(np.sum((seg - seg.mean()) ** 2)) + 1e-12
    for n in range(2, n_max + 1):
        p_n = min(seg.size / n, pitch * 1.1)
        if p_n < 0.85 * pitch:
            continue
        try:
            g = fit_lane_grid(prof, n, span=(lo, hi), min_pitch=max(min_pitch, 0.9 * pitch))
        except ValueError:
            continue
        if abs(g.pitch - pitch) > 0.12 * pitch:
            continue
        rss = max(ss * (1.0 - g.r2), 1e-12)
        bic = m * np.log(rss / m) + (n + 3) * np.log(m)
        if best is None or bic < best[0]:
            best = (float(bic), n)
    if best is None:
        return None
    return best[1], strength


def check_lanes(
    lefts: Sequence[float],
    centres: Sequence[float],
    rights: Sequence[float],
    span: tuple[float, float],
) -> list[str]:
    """Violations of the lane invariants (in order, no overlap, positive width, on the span)."""
    out: list[str] = []
    n = len(centres)
    for i in range(n):
        if not rights[i] > lefts[i]:
            out.append(f"lane {i + 1} has width {rights[i] - lefts[i]:.1f} px")
        if not lefts[i] <= centres[i] <= rights[i]:
            out.append(f"lane {i + 1}: centre {centres[i]:.1f} outside its edges")
        if lefts[i] < span[0] - 0.5 or rights[i] > span[1] + 0.5:
            out.append(
                f"lane {i + 1} ({lefts[i]:.0f}-{rights[i]:.0f}) is off the membrane "
                f"(columns {span[0]:.0f}-{span[1]:.0f})"
            )
        if i and not centres[i] > centres[i - 1]:
            out.append(f"lanes {i} and {i + 1} are out of order or at one x")
        if i and lefts[i] < rights[i - 1] - 0.5:
            out.append(f"lanes {i} and {i + 1} overlap by {rights[i - 1] - lefts[i]:.1f} px")
    return out


def membrane_span(
    data: NDArray[np.floating], valid: NDArray[np.bool_] | None = None, *, step: float = 0.3
) -> tuple[int, int]:
    """Columns ``[lo, hi)`` of the membrane (or gel) in a strip: lanes never lie outside.

    Why: images show what is beside the membrane too (the imager's tray, a
    tissue, a dark surround, the transparent corners of an export), and its
    edge is as sharp as a lane. The columns' lower quartiles (over rows, so
    bands do not count) are followed outwards from the centre, each against the median of
    the 15 columns just inside it, so a smooth illumination gradient is
    followed; the membrane ends where three columns in a row jump away from
    that level by more than ``step`` of it (and by more than 6 noise sigmas
    of the column medians). Mostly transparent columns are outside.
    """
    arr = np.asarray(data, dtype=np.float64)
    w = arr.shape[1]
    step_rows = max(1, arr.shape[0] // 400)  # 400 rows say as much as 3000, at a tenth the cost
    arr = arr[::step_rows]
    if valid is not None:
        valid = valid[::step_rows]
    # the lower quartile of each column: a ladder lane full of bands raises a column's
    # median, and dark rows above or below a gel pull its 10th percentile down to the
    # surround; bands rarely cover three rows in four, nor the surround one in four
    if valid is not None and not valid.all():
        with np.errstate(all="ignore"):
            med = np.nanpercentile(np.where(valid, arr, np.nan), 25, axis=0)
        med = np.where(valid.mean(axis=0) > 0.5, med, np.nan)
    else:
        med = np.percentile(arr, 25, axis=0)
    fin = np.isfinite(med)
    if fin.sum() < 16:
        return 0, w
    d = np.diff(med[fin])
    noise = 1.4826 * float(np.median(np.abs(d - np.median(d)))) + 1e-9
    centre = w // 2
    if not fin[centre]:
        cands = np.flatnonzero(fin)
        centre = int(cands[np.argmin(np.abs(cands - centre))])

    # the median of the 15 columns just inside each column, for both directions at once
    from scipy.ndimage import median_filter

    filled = np.interp(np.arange(w), np.flatnonzero(fin), med[fin])
    m15 = median_filter(filled, size=15, mode="nearest")
    inner_right = np.concatenate([np.full(8, m15[0]), m15[:-8]])  # columns x-15..x-1
    inner_left = np.concatenate([m15[8:], np.full(8, m15[-1])])  # columns x+1..x+15

    def walk(direction: int) -> int:
        x = centre
        out = 0
        while 0 <= x + direction < w:
            nxt = x + direction
            ref = float(inner_right[nxt] if direction > 0 else inner_left[nxt])
            thr = max(6.0 * noise, step * abs(ref))
            if not np.isfinite(med[nxt]) or abs(med[nxt] - ref) > thr:
                out += 1
                if out >= 3:
                    return nxt - direction * 2
            else:
                out = 0
            x = nxt
        return x + direction  # one past the image edge

    # each walk returns the first column outside the membrane
    lo = walk(-1) + 1
    hi = walk(+1)
    if hi - lo < 0.3 * w:
        return 0, w
    return int(lo), int(hi)


def _half_max_width(
    grid: LaneGrid, prof: NDArray[np.float64], strong: NDArray[np.bool_], noise: float
) -> LaneGrid:
    """The grid with its lane width set to the median half-maximum width of its lanes with
    signal (each within its own pitch), when at least two have signal. Why: the box fit
    knows the width only coarsely (a few fractions of the pitch), while volumes need the
    lane's own width; touching lanes come out a full pitch wide, as they are."""
    import dataclasses

    if int(np.sum(strong)) < 2:
        return grid
    widths = []
    base = float(np.percentile(prof[int(grid.span[0]) : int(np.ceil(grid.span[1]))], 10))
    for c, ok in zip(grid.centers, strong):
        if not ok:
            continue
        a = max(0, int(np.floor(c - 0.5 * grid.pitch)))
        b = min(prof.size, int(np.ceil(c + 0.5 * grid.pitch)) + 1)
        seg = prof[a:b] - base
        if seg.size < 3 or seg.max() <= 20.0 * noise:
            continue  # too weak for its width to mean anything
        k = int(np.argmax(seg))
        half = 0.5 * seg[k]
        left = k
        while left > 0 and seg[left - 1] > half:
            left -= 1
        right = k
        while right < seg.size - 1 and seg[right + 1] > half:
            right += 1
        widths.append(right - left + 1)
    if len(widths) < 2:
        return grid
    width = float(np.clip(np.median(widths), 0.3 * grid.pitch, grid.pitch))
    return dataclasses.replace(grid, width=width)


def _comb_through_peaks(
    prof: NDArray[np.float64], lo: int, hi: int, peaks: Sequence[float]
) -> tuple[int, float, float] | None:
    """``(count, span start, span end)`` of an evenly spaced comb through the lanes a strip
    shows, when they are its teeth with teeth missing between them (empty lanes).

    The pitch is the autocorrelation's repeat (:func:`estimate_pitch`) or the largest
    fraction of it that every spacing is a multiple of, refined by the spacings; every
    peak must lie within a fifth of a pitch of a tooth. Only the teeth
    between the outermost peaks are added: lanes beyond them cannot be told from the
    membrane around them. None when there is nothing to add or the peaks are not a comb.
    """
    pk = np.sort(np.asarray(peaks, dtype=np.float64))
    if pk.size < 3:
        return None
    est = estimate_pitch(prof[lo:hi], min_pitch=6.0, max_pitch=(hi - lo) / 3.0)
    if est is None or est[1] < 0.25:
        return None
    d = np.diff(pk)
    # the repeat can be a pattern of several lanes (two loaded, one empty): the pitch is
    # the largest fraction of it that every spacing between lanes is a multiple of
    pitch = 0.0
    for m in range(1, 7):
        p_m = est[0] / m
        k = np.round(d / p_m)
        if np.all(k >= 1) and np.all(np.abs(d - k * p_m) <= 0.2 * p_m):
            pitch = float(np.sum(d) / np.sum(k))
            break
    if pitch <= 0:
        return None
    k = np.round(d / pitch)
    n = int(np.sum(k)) + 1
    if n <= pk.size or n > 60:
        return None
    teeth = pk[0] + pitch * np.arange(n)
    if np.max(np.min(np.abs(pk[:, None] - teeth[None, :]), axis=1)) > 0.2 * pitch:
        return None
    a = max(float(lo), pk[0] - 0.5 * pitch)
    b = min(float(hi), pk[-1] + 0.5 * pitch)
    return n, a, b


def _free_lanes(data: NDArray[np.floating], lo: int, hi: int) -> list[Any] | None:
    """Lanes the strip shows by itself: significant peaks of the column profile on the
    membrane (:func:`assaykit.imaging.geometry.find_lanes`)."""
    from assaykit.errors import AnalysisError
    from assaykit.imaging.geometry import find_lanes

    sub = np.asarray(data, dtype=np.float32)
    if hi - lo < 8:
        return None
    try:
        found = find_lanes(sub).lanes
    except AnalysisError:
        return None
    inside = [ln for ln in found if lo <= ln.center < hi]
    return inside or None


@dataclass(frozen=True)
class LanePlacement:
    """Lanes of one strip, how they were placed, and what went wrong (geometry findings).

    ``detected`` is the lane count the strip shows by itself (the grid count
    from the profile's periodicity, else the lanes with signal), 0 when it
    shows none; ``findings`` are ``(flag, severity, message)``.
    """

    grid: LaneGrid
    detected: int
    span: tuple[int, int]
    profile: NDArray[np.float64]
    findings: list[tuple[str, str, str]]


def column_profile(
    detect: NDArray[np.floating], valid: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """Mean over rows of the background-subtracted strip (transparent pixels left out)."""
    arr = np.asarray(detect, dtype=np.float64)
    if valid is None or valid.all():
        return np.asarray(arr.mean(axis=0), dtype=np.float64)
    cnt = valid.sum(axis=0)
    tot = np.where(valid, arr, 0.0).sum(axis=0)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)


#: Below this R2 a fitted grid explains too little of the column profile to be trusted.
MIN_GRID_R2 = 0.35


def place_lanes(
    detect: NDArray[np.floating],
    data: NDArray[np.floating],
    *,
    expected: int | None = None,
    minimum: int | None = None,
    centers: Sequence[float] | None = None,
    first_last: tuple[float, float] | None = None,
    valid: NDArray[np.bool_] | None = None,
    where: str = "strip",
) -> LanePlacement:
    """Lanes of one strip: given by the lab (``centers``, or ``first_last`` centre with a
    count), or a grid fitted to the column profile inside the membrane (module docs).

    Raises ValueError when nothing can be placed (no count, and the profile does not
    repeat); the caller turns it into an error naming the file and strip.
    """
    lo, hi = membrane_span(data, valid)
    prof = column_profile(detect, valid)
    from assaykit.imaging.bands import robust_noise

    noise = robust_noise(prof)
    findings: list[tuple[str, str, str]] = []
    free_lanes = _free_lanes(data, lo, hi) if expected is None else None
    free = (len(free_lanes), 1.0) if free_lanes else None
    if centers is not None:
        grid = grid_from_centres(centers, None, (0.0, float(prof.size)), "lane centres given")
        detected = grid.n  # the lab's lanes: nothing to compare the count with
    else:
        n = expected
        if n is None and first_last is None:
            n = max(free[0] if free else 0, minimum or 0) or None
        if first_last is not None:
            if not n:
                raise ValueError(f"{where}: a lane span needs the lane count")
            c = np.linspace(first_last[0], first_last[1], n)
            grid = grid_from_centres(list(c), None, (0.0, float(prof.size)), "lane span given")
            detected = grid.n
        elif (
            expected is None
            and first_last is None
            and free_lanes
            and (comb := _comb_through_peaks(prof, lo, hi, [ln.center for ln in free_lanes]))
            is not None
            and comb[0] >= (minimum or 0)
        ):
            # no count given: the comb through the strip's lanes, with the empty lanes
            # between them (never beyond the outermost lanes with signal)
            n_comb, a, b = comb
            grid = fit_lane_grid(prof, n_comb, span=(a, b), noise=noise, compress=True)
            detected = len(free_lanes)
        elif expected is None and free_lanes and len(free_lanes) >= (minimum or 0):
            # no count given and the strip shows its lanes: they are where its peaks are
            # (they need not be evenly spaced: a lab may skip wells)
            grid = grid_from_centres(
                [ln.center for ln in free_lanes],
                float(np.median([ln.width for ln in free_lanes])),
                (float(lo), float(hi)),
                "column-profile peaks",
            )
            detected = len(free_lanes)
        elif n is None:
            raise ValueError(
                f"{where}: no lanes found; the column profile has no significant peak "
                "(give the lane count, n_lanes, or the lanes)"
            )
        else:
            if hi - lo < 2 * n:
                lo, hi = 0, prof.size
            grid = fit_lane_grid(prof, n, span=(lo, hi), noise=noise, compress=True)
            # lanes with signal: box mean above the profile's floor (10th percentile on the
            # membrane; the mean between lanes is raised by a bright lane's tails)
            floor = float(np.percentile(prof[lo:hi], 10))
            half = 0.5 * grid.width
            box_mean = np.array(
                [
                    float(np.mean(prof[max(0, round(c - half)) : max(round(c - half) + 1,
                                                                     round(c + half))]))
                    for c in grid.centers
                ]
            )  # fmt: skip
            strong_lanes = box_mean - floor > 4.0 * noise
            strong = int(np.sum(strong_lanes))
            detected = strong
            grid = _half_max_width(grid, prof, strong_lanes, noise)
            if not grid.r2 >= MIN_GRID_R2 and strong < n:
                findings.append(
                    (
                        "lane_grid_poor",
                        "fail",
                        f"{where}: a grid of {n} lanes explains only {max(grid.r2, 0):.0%} of "
                        f"the column profile ({strong} lanes with signal); the lanes may be "
                        "misplaced: give the lane span or centres",
                    )
                )
    left, right = grid.edges()
    problems = check_lanes(list(left), list(grid.centers), list(right), (0.0, float(prof.size)))
    if problems:
        findings.append(("lanes_overlap", "fail", f"{where}: " + "; ".join(problems)))
    return LanePlacement(grid, int(detected), (int(lo), int(hi)), prof, findings)
