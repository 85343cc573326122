"""Smile: per-lane vertical offsets of the band pattern, and lane-to-lane registration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assaykit.imaging.background import profile_baseline
from assaykit.imaging.geometry._xcorr import _xcorr_shift
from assaykit.imaging.geometry.lanes import Lane


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


def _lane_profile(arr: NDArray[np.float32], lane: Lane, fraction: float) -> NDArray[np.float64]:
    cols = lane.columns(fraction, arr.shape[1])
    prof = arr[:, cols].mean(axis=1).astype(np.float64)
    base, _ = profile_baseline(prof, "minima", window=25, smooth=1.0)
    return prof - base


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
