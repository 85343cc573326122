"""Rotation: estimating the tilt of bands and lanes, and straightening the image."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from assaykit.errors import AnalysisError
from assaykit.imaging.background import rolling_ball_background
from assaykit.imaging.geometry._xcorr import _xcorr_shift

log = logging.getLogger(__name__)

_cv: Any = cv2  # OpenCV's stubs are stricter than OpenCV


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
