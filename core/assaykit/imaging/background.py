"""Background estimation for gel and blot images.

Every method here is a *named* method with recorded parameters: the result of
:func:`estimate_background` carries a :class:`BackgroundSpec` whose ``method`` and
``params`` go verbatim into the result records, because a band volume means
nothing unless one can say which background was taken away.

Methods
-------
``rolling_ball``
    ImageJ's "Subtract Background..." rolling ball (``ij/plugin/filter/
    BackgroundSubtracter.java``, the Sternberg/Castle-Keller algorithm as rewritten
    by M. Schmid for ImageJ 1.39f+). It is reproduced step by step: optional 3x3
    mean pre-smoothing, shrinking by a radius-dependent factor (1, 2, 4 or 8) with a
    block *minimum*, rolling ImageJ's trimmed ball patch (a grey-level opening with
    a non-flat, ball-shaped structuring element whose heights are in grey levels),
    and ImageJ's bilinear enlargement (with linear extrapolation at the edges).
    The opening is computed exactly, but fast: the ball's values depend only on the
    distance from its centre, so the non-flat erosion is the minimum over "rings"
    of equal height of (flat erosion by the ring - ring height). The flat erosions
    run in OpenCV on cache-sized strips in two threads.
``border_median``
    A constant: the median of a frame of pixels at the image border. For images
    whose background is flat and band-free at the edges.
``profile_baseline`` (per lane, see :func:`profile_baseline`)
    Image Studio-like 1-D baseline under a lane profile: straight lines between
    local minima (``"minima"``), or the lower convex hull (``"hull"``).
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from assaykit.errors import AnalysisError

__all__ = [
    "BackgroundResult",
    "BackgroundSpec",
    "RollingBall",
    "border_median_background",
    "estimate_background",
    "imagej_subtract",
    "profile_baseline",
    "rolling_ball_background",
]

log = logging.getLogger(__name__)

# OpenCV's stubs do not know that scalars and float32 arrays are fine here.
_cv: Any = cv2

FloatArray = NDArray[np.floating[Any]]

_INF = float("inf")


@dataclass(frozen=True)
class BackgroundSpec:
    """Name and parameters of a background method, as recorded in result records."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON and record fields (``background_method``/``_params``)."""
        return {"method": self.method, "params": dict(self.params)}


@dataclass(frozen=True)
class BackgroundResult:
    """A full-resolution background estimate and how it was made."""

    background: NDArray[np.float32]
    spec: BackgroundSpec

    def subtract(self, image: NDArray[Any]) -> NDArray[np.float32]:
        """``image - background`` in float32, without clipping.

        Why no clipping: clipping at zero biases the integrated volume of weak
        bands upwards (the negative half of the noise is thrown away).
        """
        return np.asarray(image, dtype=np.float32) - self.background


# --------------------------------------------------------------------------------------
# ImageJ rolling ball
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollingBall:
    """ImageJ's ball patch for a given radius: shrink factor, half width and heights.

    ImageJ shrinks the image before rolling and trims the ball to a square patch
    of its top; both depend on the radius exactly as below.
    """

    radius: float
    shrink_factor: int
    half_width: int
    heights: NDArray[np.float32]

    @classmethod
    def for_radius(cls, radius: float) -> RollingBall:
        if not radius > 0 or not math.isfinite(radius):
            raise AnalysisError(f"rolling ball radius must be a positive number, got {radius!r}")
        if radius <= 10:
            shrink, trim_percent = 1, 24
        elif radius <= 30:
            shrink, trim_percent = 2, 24
        elif radius <= 100:
            shrink, trim_percent = 4, 32
        else:
            shrink, trim_percent = 8, 40
        small_radius = max(radius / shrink, 1.0)
        x_trim = int(trim_percent * small_radius) // 100
        half = math.floor(small_radius - x_trim + 0.5)  # Java Math.round
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
        t = small_radius * small_radius - (xx * xx + yy * yy)
        heights = np.where(t > 0, np.sqrt(np.maximum(t, 0.0)), 0.0).astype(np.float32)
        return cls(float(radius), shrink, half, heights)

    def rings(self) -> list[tuple[float, NDArray[np.uint8]]]:
        """(height, flat kernel) for every distinct patch height, highest first."""
        levels = np.unique(self.heights)[::-1]
        return [(float(lv), (self.heights == lv).astype(np.uint8)) for lv in levels]


def _nonflat_strip(
    padded: NDArray[np.float32],
    rings: list[tuple[float, NDArray[np.uint8]]],
    r: int,
    i0: int,
    i1: int,
    out: NDArray[np.float32],
    erode: bool,
) -> None:
    sub = padded[i0 : i1 + 2 * r]
    tmp = np.empty_like(sub)
    res: NDArray[np.float32] | None = None
    for level, kernel in rings:
        if erode:
            _cv.erode(sub, kernel, dst=tmp, borderType=cv2.BORDER_CONSTANT, borderValue=_INF)
            _cv.subtract(tmp, level, dst=tmp)
            if res is None:
                res = tmp.copy()
            else:
                _cv.min(res, tmp, dst=res)
        else:
            _cv.dilate(sub, kernel, dst=tmp, borderType=cv2.BORDER_CONSTANT, borderValue=-_INF)
            _cv.add(tmp, level, dst=tmp)
            if res is None:
                res = tmp.copy()
            else:
                _cv.max(res, tmp, dst=res)
    assert res is not None
    out[i0:i1] = res[r : r + (i1 - i0)]


def _nonflat(
    image: NDArray[np.float32], ball: RollingBall, erode: bool, pool: ThreadPoolExecutor | None
) -> NDArray[np.float32]:
    """Grey erosion (or dilation) by the ball patch; out-of-image points are ignored."""
    r = ball.half_width
    fill = _INF if erode else -_INF
    # Rows outside the image must not count: pad them with +/-inf. Columns are
    # handled by OpenCV's constant border.
    padded = _cv.copyMakeBorder(image, r, r, 0, 0, cv2.BORDER_CONSTANT, value=fill)
    height = image.shape[0]
    out = np.empty_like(image)
    rings = ball.rings()
    strip = 128
    jobs = [(i, min(i + strip, height)) for i in range(0, height, strip)]
    if pool is None or len(jobs) == 1:
        for i0, i1 in jobs:
            _nonflat_strip(padded, rings, r, i0, i1, out, erode)
    else:
        list(pool.map(lambda j: _nonflat_strip(padded, rings, r, j[0], j[1], out, erode), jobs))
    return out


def _roll_ball(small: NDArray[np.float32], ball: RollingBall) -> NDArray[np.float32]:
    """ImageJ ``rollBall``: the ball centre visits every position within ``r`` of the image.

    The ball height at each centre is the erosion (with +inf outside the image);
    the background is the dilation of those heights. Centres outside the image
    count, so the eroded map is computed on an image padded by ``r`` and the
    dilation is cropped back.
    """
    r = ball.half_width
    padded = _cv.copyMakeBorder(small, r, r, r, r, cv2.BORDER_CONSTANT, value=_INF)
    workers = min(4, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(workers) if workers > 1 and small.size > 65536 else None
    try:
        heights = _nonflat(padded, ball, erode=True, pool=pool)
        background = _nonflat(heights, ball, erode=False, pool=pool)
    finally:
        if pool is not None:
            pool.shutdown()
    return np.ascontiguousarray(background[r:-r, r:-r]) if r > 0 else background


def _shrink(image: NDArray[np.float32], factor: int) -> NDArray[np.float32]:
    """ImageJ ``shrinkImage``: each small pixel is the minimum of its factor x factor block."""
    _h, _w = image.shape
    kernel = np.ones((factor, factor), np.uint8)
    eroded = _cv.erode(
        image, kernel, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT, borderValue=_INF
    )
    return np.ascontiguousarray(eroded[::factor, ::factor])


def _interpolation_arrays(
    length: int, small_length: int, factor: int
) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """ImageJ ``makeInterpolationArrays``: left index and its weight (may be outside [0, 1])."""
    i = np.arange(length)
    num = i - factor // 2
    idx = np.where(num >= 0, num // factor, -((-num) // factor))  # Java truncating division
    idx = np.minimum(idx, small_length - 2)
    distance = (i + 0.5) / factor - (idx + 0.5)
    return idx.astype(np.intp), (1.0 - distance).astype(np.float32)


def _enlarge(
    small: NDArray[np.float32], height: int, width: int, factor: int
) -> NDArray[np.float32]:
    """ImageJ ``enlargeImage``: bilinear interpolation, linear extrapolation at the edges.

    OpenCV's INTER_LINEAR uses the same pixel-centre mapping, so it does the bulk;
    only the edge rows and columns where ImageJ extrapolates (OpenCV clamps) are
    recomputed with ImageJ's weights.
    """
    sh, sw = small.shape
    if sh < 2 or sw < 2:  # ImageJ needs two small pixels per axis; replicate.
        small = _cv.copyMakeBorder(
            small, 0, max(0, 2 - sh), 0, max(0, 2 - sw), cv2.BORDER_REPLICATE
        )
        sh, sw = small.shape
    full = _cv.resize(small, (sw * factor, sh * factor), interpolation=cv2.INTER_LINEAR)
    full = np.ascontiguousarray(full[:height, :width])
    xi, xw = _interpolation_arrays(width, sw, factor)
    yi, yw = _interpolation_arrays(height, sh, factor)
    bad_x = np.nonzero((xw > 1.0) | (xw < 0.0) | (xi == sw - 2))[0]
    bad_y = np.nonzero((yw > 1.0) | (yw < 0.0) | (yi == sh - 2))[0]
    if bad_x.size:
        cols = small[:, xi[bad_x]] * xw[bad_x] + small[:, xi[bad_x] + 1] * (1.0 - xw[bad_x])
        full[:, bad_x] = cols[yi] * yw[:, None] + cols[yi + 1] * (1.0 - yw[:, None])
    if bad_y.size:
        rows0 = small[yi[bad_y]][:, xi] * xw + small[yi[bad_y]][:, xi + 1] * (1.0 - xw)
        rows1 = small[yi[bad_y] + 1][:, xi] * xw + small[yi[bad_y] + 1][:, xi + 1] * (1.0 - xw)
        wy = yw[bad_y][:, None]
        full[bad_y] = rows0 * wy + rows1 * (1.0 - wy)
    return full


def rolling_ball_background(
    image: NDArray[Any],
    radius: float = 50.0,
    *,
    light_background: bool = False,
    presmooth: bool = True,
) -> BackgroundResult:
    """ImageJ-compatible rolling-ball background of a 2-D image.

    Parameters mirror ImageJ's dialog: ``radius`` ("Rolling ball radius", pixels),
    ``light_background`` ("Light background": the background is a ceiling above
    dark objects) and ``presmooth`` (the inverse of "Disable smoothing").
    Returns the float background at full resolution; subtract it yourself
    (:meth:`BackgroundResult.subtract`) or use :func:`imagej_subtract` for
    ImageJ's rounded integer output.
    """
    arr = np.asarray(image)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise AnalysisError(f"rolling ball needs a non-empty 2-D image, got shape {arr.shape}")
    ball = RollingBall.for_radius(radius)
    if presmooth:
        src = arr if arr.dtype in (np.uint8, np.uint16, np.float32) else arr.astype(np.float32)
        fp = _cv.boxFilter(src, cv2.CV_32F, (3, 3), normalize=True, borderType=cv2.BORDER_REPLICATE)
    else:
        fp = arr.astype(np.float32, copy=True)
    if light_background:
        np.negative(fp, out=fp)
    height, width = fp.shape
    factor = ball.shrink_factor
    if factor > 1:
        small = _shrink(fp, factor)
        rolled = _roll_ball(small, ball)
        background = _enlarge(rolled, height, width, factor)
    else:
        background = _roll_ball(fp, ball)
    if light_background:
        np.negative(background, out=background)
    spec = BackgroundSpec(
        "rolling_ball",
        {
            "radius": float(radius),
            "light_background": bool(light_background),
            "presmooth": bool(presmooth),
            "shrink_factor": factor,
            "implementation": "imagej-1.53-compatible",
        },
    )
    return BackgroundResult(background.astype(np.float32, copy=False), spec)


def imagej_subtract(
    image: NDArray[Any], background: NDArray[Any], *, light_background: bool = False
) -> NDArray[Any]:
    """ImageJ's integer output: ``clip(round(image - background) [+ max if light])``.

    Why: to compare pixel by pixel with ImageJ, the rounding (value + 0.5, then
    truncation) and the offset for light backgrounds must be the same.
    """
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        top = 255.0
    elif arr.dtype == np.uint16:
        top = 65535.0
    else:
        return arr.astype(np.float32) - np.asarray(background, dtype=np.float32)
    offset = top + 0.5 if light_background else 0.5
    value = arr.astype(np.float32) - np.asarray(background, dtype=np.float32) + np.float32(offset)
    np.clip(value, 0.0, top, out=value)
    return value.astype(arr.dtype)


# --------------------------------------------------------------------------------------
# Simple constant background
# --------------------------------------------------------------------------------------


def border_median_background(image: NDArray[Any], border: int = 10) -> BackgroundResult:
    """Constant background: the median of a ``border``-pixel frame around the image."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 2:
        raise AnalysisError(f"border median needs a 2-D image, got shape {arr.shape}")
    b = int(max(1, min(border, arr.shape[0] // 2, arr.shape[1] // 2)))
    frame = np.concatenate(
        [arr[:b].ravel(), arr[-b:].ravel(), arr[b:-b, :b].ravel(), arr[b:-b, -b:].ravel()]
    )
    value = float(np.median(frame)) if frame.size else 0.0
    spec = BackgroundSpec("border_median", {"border": b, "value": value})
    return BackgroundResult(np.full(arr.shape, value, np.float32), spec)


def estimate_background(
    image: NDArray[Any],
    method: Literal["rolling_ball", "border_median", "none"] = "rolling_ball",
    **params: Any,
) -> BackgroundResult:
    """Dispatch to a named 2-D background method; ``params`` are the method's keywords."""
    if method == "rolling_ball":
        return rolling_ball_background(image, **params)
    if method == "border_median":
        return border_median_background(image, **params)
    if method == "none":
        arr = np.asarray(image)
        return BackgroundResult(np.zeros(arr.shape, np.float32), BackgroundSpec("none", {}))
    raise AnalysisError(
        f"unknown background method {method!r}; expected 'rolling_ball', 'border_median' or 'none'"
    )


# --------------------------------------------------------------------------------------
# 1-D baselines under lane profiles
# --------------------------------------------------------------------------------------


def _lower_hull(y: NDArray[np.float64]) -> NDArray[np.intp]:
    """Indices of the lower convex hull of the points (i, y[i]) (monotone chain)."""
    hull: list[int] = []
    for i in range(y.size):
        while len(hull) >= 2:
            i0, i1 = hull[-2], hull[-1]
            # cross product <= 0 means i1 is not below the chord i0 -> i
            if (i1 - i0) * (y[i] - y[i0]) - (y[i1] - y[i0]) * (i - i0) <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull, dtype=np.intp)


def profile_baseline(
    profile: NDArray[Any],
    method: Literal["minima", "hull"] = "minima",
    *,
    window: int = 15,
    smooth: float = 1.0,
) -> tuple[NDArray[np.float64], BackgroundSpec]:
    """Baseline under a 1-D lane profile, Image Studio style.

    ``"hull"``: the lower convex hull of the profile: never above the data, no
    parameters, but cuts under a concave (bright-centre) background.
    ``"minima"``: straight lines between local minima, where a local minimum is
    the lowest point within ``window`` samples on both sides (of the profile
    smoothed with a Gaussian of ``smooth`` samples, so single noisy pixels do not
    pull the line down); the line is then lowered wherever the profile dips
    below it, so the baseline stays under the data. It follows curved
    backgrounds better than the hull.
    """
    from scipy.ndimage import gaussian_filter1d, minimum_filter1d

    y = np.asarray(profile, dtype=np.float64)
    n = y.size
    if n == 0:
        return y.copy(), BackgroundSpec(f"profile_{method}", {})
    if method == "hull":
        idx = _lower_hull(y)
        base = np.interp(np.arange(n), idx, y[idx])
        return base, BackgroundSpec("profile_hull", {})
    if method != "minima":
        raise AnalysisError(f"unknown profile baseline {method!r}; expected 'minima' or 'hull'")
    w = max(1, int(window))
    ys = gaussian_filter1d(y, smooth, mode="nearest") if smooth > 0 else y
    local_min = minimum_filter1d(ys, size=2 * w + 1, mode="nearest")
    anchors = np.nonzero(ys <= local_min)[0]
    anchors = np.union1d(anchors, [0, n - 1])
    base = np.interp(np.arange(n), anchors, ys[anchors])
    base = np.minimum(base, ys)
    return base, BackgroundSpec("profile_minima", {"window": w, "smooth": float(smooth)})
