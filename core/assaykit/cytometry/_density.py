"""Binned kernel density estimates and valley finding, shared by cleanup and thresholds.

Why binned: an exact KDE is O(n·grid); binning the events then smoothing the
histogram with a Gaussian is O(n + grid log grid) and, at 512+ bins, differs
from the exact estimate by far less than the bandwidth — a million events
take a few milliseconds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks


@dataclass(frozen=True)
class Density:
    """A density on an evenly spaced grid (``grid`` are bin centres)."""

    grid: NDArray[np.float64]
    density: NDArray[np.float64]
    bandwidth: float


def binned_kde(
    values: NDArray[np.float64],
    lo: float,
    hi: float,
    bins: int = 512,
    bandwidth: float | None = None,
) -> Density:
    """Gaussian KDE of ``values`` on ``[lo, hi]`` via a smoothed histogram.

    ``bandwidth`` is in data units; by default Scott's rule on a robust spread
    (IQR/1.349), which keeps bimodal data from over-smoothing.
    """
    v = values[np.isfinite(values)]
    if hi <= lo:
        hi = lo + 1.0
    width = (hi - lo) / bins
    if bandwidth is None:
        q75, q25 = np.percentile(v, [75, 25]) if v.size else (1.0, 0.0)
        sigma = min(float(np.std(v)) if v.size else 1.0, float(q75 - q25) / 1.349 or np.inf)
        if not np.isfinite(sigma) or sigma <= 0:
            sigma = hi - lo
        bandwidth = 1.06 * sigma * max(v.size, 1) ** (-1 / 5)
    idx = np.floor((v - lo) / width).astype(np.intp)
    idx = idx[(idx >= 0) & (idx < bins)]
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    sig_bins = max(bandwidth / width, 0.5)
    smooth = gaussian_filter1d(counts, sig_bins, mode="constant")
    total = smooth.sum() * width
    dens = smooth / total if total > 0 else smooth
    grid = np.asarray(lo + (np.arange(bins) + 0.5) * width, dtype=np.float64)
    return Density(grid, np.asarray(dens, dtype=np.float64), float(bandwidth))


@dataclass(frozen=True)
class Valley:
    """The valley between two peaks: positions (grid units) and depth ratio."""

    position: float
    left_peak: float
    right_peak: float
    #: valley density / the lower of the two peak densities (0 = empty gap, 1 = no dip)
    depth_ratio: float


def valleys(d: Density, min_prominence: float = 0.05) -> list[Valley]:
    """All valleys between consecutive significant peaks, left to right.

    A peak is significant when its prominence is at least ``min_prominence``
    times the highest density. The density is padded with zeros so a maximum
    at the edge of the grid (debris piled against zero) counts as a peak.
    """
    dens = np.concatenate([[0.0], d.density, [0.0]])
    peaks, _ = find_peaks(dens, prominence=min_prominence * float(dens.max() or 1.0))
    peaks = peaks - 1
    out: list[Valley] = []
    for left, right in itertools.pairwise(peaks):
        seg = d.density[left : right + 1]
        k = left + int(np.argmin(seg))
        lower = min(d.density[left], d.density[right])
        ratio = float(d.density[k] / lower) if lower > 0 else 1.0
        out.append(Valley(float(d.grid[k]), float(d.grid[left]), float(d.grid[right]), ratio))
    return out


def peak_positions(d: Density, min_prominence: float = 0.05) -> NDArray[np.float64]:
    """Grid positions of significant peaks, highest first."""
    dens = np.concatenate([[0.0], d.density, [0.0]])
    peaks, _ = find_peaks(dens, prominence=min_prominence * float(dens.max() or 1.0))
    peaks = peaks - 1
    order = np.argsort(-d.density[peaks])
    return np.asarray(d.grid[peaks[order]], dtype=np.float64)


def hist2d(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    bins: int,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
) -> NDArray[np.float64]:
    """``np.histogram2d(x, y, bins, range=[xrange, yrange])[0]`` for evenly spaced bins.

    Why our own: numpy finds every event's bin by binary search (~15 ms for
    50,000 events); on even bins the bin is one multiplication (~1 ms), and
    every density figure bins its events. Same rules as numpy: the last bin
    holds its right edge, events outside the range or NaN are not counted.
    """
    n = int(bins)
    (x0, x1), (y0, y1) = xrange, yrange
    with np.errstate(invalid="ignore"):
        fx = (np.asarray(x, dtype=np.float64) - x0) * (n / ((x1 - x0) or 1.0))
        fy = (np.asarray(y, dtype=np.float64) - y0) * (n / ((y1 - y0) or 1.0))
        ok = (fx >= 0) & (fx <= n) & (fy >= 0) & (fy <= n)
    ix = np.minimum(fx[ok].astype(np.intp), n - 1)
    iy = np.minimum(fy[ok].astype(np.intp), n - 1)
    return np.bincount(ix * n + iy, minlength=n * n).reshape(n, n).astype(np.float64)
