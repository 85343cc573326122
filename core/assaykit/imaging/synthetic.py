"""Seeded synthetic gels and blots with known truth.

Why a library module: tests here and the western-blot/MSP plugins' examples need
images whose band volumes, positions, lanes and strips are *known*, so that the
analysis can be checked against independent labels rather than its own output.

Bands are rendered analytically (no resampling): each pixel is mapped back into
the straight, un-rotated frame, where a band is a flat-topped lane-wide stripe
with soft (error-function) edges across the lane and a Gaussian profile down the
lane. Its volume (sum of pixel values above the background, in AU) is therefore
known exactly: ``volume = amplitude * lane_width * sigma * sqrt(2 pi)``.

Conventions of the truth dictionary
-----------------------------------
- ``rotation_deg``: the image content is rotated by this angle (OpenCV sign,
  counter-clockwise on screen is positive); straightening means rotating by the
  negative of it.
- ``bands[i]["row"]`` is the band centre in the straight frame;
  ``row_observed`` adds the smile offset at the lane centre (what a per-lane
  profile sees in an un-rotated image).
- Everything is rendered as bright bands on a dark background, then quantised
  to the bit depth (clipping at the maximum = saturation) and finally inverted
  when ``invert=True`` (film-like, dark bands on light).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.special import erf

__all__ = [
    "NEB_1KB_PLUS_MASS_NG",
    "SyntheticImage",
    "make_blot",
    "make_gel",
]

#: Approximate relative masses (ng per µg) of the NEB 1 kb Plus ladder bands, largest
#: first (3.0 and 1.5 kb as in GelGenie's note: 120 and 57).
#: Used only to give synthetic ladder bands realistic relative intensities.
NEB_1KB_PLUS_MASS_NG: dict[int, float] = {
    10000: 40.0, 8000: 40.0, 6000: 48.0, 5000: 40.0, 4000: 32.0, 3000: 120.0,
    2000: 40.0, 1500: 57.0, 1200: 45.0, 1000: 122.0, 900: 34.0, 800: 31.0,
    700: 27.0, 600: 23.0, 500: 124.0, 400: 49.0, 300: 37.0, 200: 32.0, 100: 61.0,
}  # fmt: skip


@dataclass
class SyntheticImage:
    """A generated image and its truth labels (see module docs for conventions)."""

    image: NDArray[Any]
    truth: dict[str, Any] = field(default_factory=dict)


def _smooth_field(rng: np.random.Generator, h: int, w: int) -> NDArray[np.float64]:
    """A smooth, unit-amplitude illumination pattern: an off-centre blob plus a gradient."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    sx, sy = rng.uniform(0.4, 0.7) * w, rng.uniform(0.4, 0.7) * h
    blob = np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2) / 2.0)
    gx, gy = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)
    grad = gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    f = blob + grad
    f -= f.min()
    return f / max(float(f.max()), 1e-9)


def make_blot(
    seed: int = 0,
    *,
    height: int = 480,
    width: int = 640,
    n_lanes: int = 6,
    lane_width: float | None = None,
    bands: Sequence[Sequence[tuple[float, float]]] | None = None,
    band_sigma: float = 4.0,
    edge_softness: float = 2.0,
    background: float | None = None,
    illumination: float = 0.0,
    noise_sigma: float | None = None,
    rotation_deg: float = 0.0,
    smile_px: float = 0.0,
    skew_px: float = 0.0,
    invert: bool = False,
    bit_depth: int = 16,
    peak_scale: float | None = None,
    haze_volume: float = 0.0,
    n_strips: int = 1,
    strip_gap: int = 30,
    gap_level: float | None = None,
    margin: float = 0.08,
) -> SyntheticImage:
    """Render a blot/gel image with known lanes, bands, strips and distortions.

    ``bands[lane]`` is a list of ``(row_fraction, volume)``: the row as a fraction
    of the strip height (0 top, 1 bottom) and the volume in AU. When omitted,
    each lane gets 3 bands at seeded rows with seeded volumes. With several
    strips, the same band list is used in every strip (rows relative to the
    strip). ``background`` (AU) defaults to 800 (16-bit) or 20 (8-bit) and
    ``noise_sigma`` (AU, Gaussian) to 20 or 1.5. ``peak_scale`` rescales all
    volumes so that the brightest band peak (plus background) reaches this
    value (use > the maximum to force saturation). ``smile_px`` bends bands
    down (+) or up (-) towards both edges (quadratic across the image);
    ``skew_px`` lowers them linearly from left to right (a gel running faster
    on one side). ``illumination`` is the amplitude (AU) of a smooth additive
    background pattern on top of ``background``.
    """
    rng = np.random.default_rng(seed)
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    top = 255.0 if bit_depth == 8 else 65535.0
    if background is None:
        background = 20.0 if bit_depth == 8 else 800.0
    if noise_sigma is None:
        noise_sigma = 1.5 if bit_depth == 8 else 20.0
    h, w = int(height), int(width)
    n_strips = max(1, int(n_strips))

    # --- strips (row ranges in the straight frame)
    usable = h - (n_strips - 1) * strip_gap
    strip_h = usable / n_strips
    strips = []
    for s in range(n_strips):
        r0 = s * (strip_h + strip_gap)
        strips.append((round(r0), round(r0 + strip_h)))

    # --- lanes
    x0, x1 = margin * w, (1.0 - margin) * w
    pitch = (x1 - x0) / n_lanes
    lw = float(lane_width) if lane_width is not None else 0.62 * pitch
    centres = [x0 + (i + 0.5) * pitch for i in range(n_lanes)]

    def smile(u: NDArray[np.float64] | float) -> NDArray[np.float64] | float:
        t = (np.asarray(u) - w / 2.0) / (w / 2.0)
        return smile_px * t**2 + skew_px * t

    if bands is None:
        bands = []
        for _ in range(n_lanes):
            rows = np.sort(rng.uniform(0.15, 0.8, size=3))
            while np.any(np.diff(rows) < 0.12):
                rows = np.sort(rng.uniform(0.15, 0.8, size=3))
            # peak heights 30-100 % of 5400 AU (16-bit) or of 100 grey levels (8-bit)
            peak_max = 5400.0 if bit_depth == 16 else 100.0
            vols = (
                rng.uniform(0.3, 1.0, size=3) * peak_max * lw * band_sigma * math.sqrt(2 * math.pi)
            )
            bands.append([(float(r), float(v)) for r, v in zip(rows, vols)])
    if len(bands) != n_lanes:
        raise ValueError(f"bands must have one list per lane ({n_lanes}), got {len(bands)}")

    band_list: list[dict[str, Any]] = []
    for s, (r0, r1) in enumerate(strips):
        for lane, lane_bands in enumerate(bands):
            for row_frac, vol in lane_bands:
                row = r0 + float(row_frac) * (r1 - r0)
                band_list.append(
                    {
                        "lane": lane,
                        "strip": s,
                        "row": row,
                        "volume": float(vol),
                        "sigma": band_sigma,
                    }
                )
    if haze_volume > 0:
        for s, (r0, r1) in enumerate(strips):
            for lane in range(n_lanes):
                band_list.append(
                    {
                        "lane": lane, "strip": s, "row": r0 + 0.9 * (r1 - r0),
                        "volume": float(haze_volume), "sigma": max(3.0 * band_sigma, 12.0),
                        "haze": True,
                    }
                )  # fmt: skip

    norm = lw * math.sqrt(2.0 * math.pi)
    if peak_scale is not None:
        peaks = [b["volume"] / (norm * b["sigma"]) for b in band_list if not b.get("haze")]
        if peaks:
            factor = (peak_scale - background) / max(peaks)
            for b in band_list:
                b["volume"] *= factor
    for b in band_list:
        b["amplitude"] = b["volume"] / (norm * b["sigma"])

    # --- geometry: image (x, y) -> straight frame (u, v)
    centre = (w / 2.0, h / 2.0)
    forward = cv2.getRotationMatrix2D(centre, rotation_deg, 1.0)  # straight -> image
    inverse = cv2.invertAffineTransform(forward)  # image -> straight

    # --- background in image coordinates
    gap = background * 0.35 if gap_level is None else float(gap_level)
    img = np.zeros((h, w), np.float64)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    uu = inverse[0, 0] * xx + inverse[0, 1] * yy + inverse[0, 2]
    vv = inverse[1, 0] * xx + inverse[1, 1] * yy + inverse[1, 2]
    if n_strips > 1:
        on_membrane = np.zeros((h, w), bool)
        for r0, r1 in strips:
            on_membrane |= (vv >= r0) & (vv < r1)
        img += np.where(on_membrane, background, gap)
    else:
        img += background
    if illumination:
        img += illumination * _smooth_field(rng, h, w)

    # --- bands, each evaluated on its own bounding box
    sq2 = math.sqrt(2.0)
    max_smile = abs(smile_px) + abs(skew_px) + 1.0
    for b in band_list:
        xc = centres[b["lane"]]
        xl, xr = xc - lw / 2.0, xc + lw / 2.0
        ext_u = (xl - 5 * edge_softness, xr + 5 * edge_softness)
        ext_v = (b["row"] - 6 * b["sigma"] - max_smile, b["row"] + 6 * b["sigma"] + max_smile)
        corners = np.array([[u, v, 1.0] for u in ext_u for v in ext_v])
        pts = corners @ forward.T
        c0 = max(0, int(np.floor(pts[:, 0].min())))
        c1 = min(w, int(np.ceil(pts[:, 0].max())) + 1)
        rr0 = max(0, int(np.floor(pts[:, 1].min())))
        rr1 = min(h, int(np.ceil(pts[:, 1].max())) + 1)
        if c0 >= c1 or rr0 >= rr1:
            continue
        u = uu[rr0:rr1, c0:c1]
        v = vv[rr0:rr1, c0:c1]
        gx = 0.5 * (erf((u - xl) / (sq2 * edge_softness)) - erf((u - xr) / (sq2 * edge_softness)))
        gy = np.exp(-((v - b["row"] - smile(u)) ** 2) / (2.0 * b["sigma"] ** 2))
        img[rr0:rr1, c0:c1] += b["amplitude"] * gx * gy

    for b in band_list:
        b["row_observed"] = b["row"] + float(smile(centres[b["lane"]]))
        b["peak"] = b["amplitude"]
        b["saturated"] = bool(b["amplitude"] + background + illumination > top)
        b.pop("amplitude")

    noisy = img + rng.normal(0.0, noise_sigma, img.shape) if noise_sigma > 0 else img
    quant = np.clip(np.round(noisy), 0, top)
    truth_saturated = float(np.mean(quant >= top))
    if invert:
        quant = top - quant
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    out = quant.astype(dtype)

    lanes = [
        {
            "index": i, "center": c, "left": c - lw / 2.0, "right": c + lw / 2.0, "width": lw,
            "smile_offset": float(smile(c)),
        }
        for i, c in enumerate(centres)
    ]  # fmt: skip
    truth: dict[str, Any] = {
        "seed": seed,
        "shape": (h, w),
        "bit_depth": bit_depth,
        "saturation_value": top,
        "polarity": "dark_bands_on_light" if invert else "light_bands_on_dark",
        "rotation_deg": float(rotation_deg),
        "smile_px": float(smile_px),
        "skew_px": float(skew_px),
        "lane_pitch": pitch,
        "lanes": lanes,
        "bands": [b for b in band_list if not b.get("haze")],
        "haze": [b for b in band_list if b.get("haze")],
        "strips": strips,
        "noise_sigma": float(noise_sigma),
        "background": float(background),
        "illumination": float(illumination),
        "saturated_fraction": truth_saturated,
    }
    return SyntheticImage(out, truth)


def make_gel(
    seed: int = 0,
    *,
    height: int = 700,
    width: int = 560,
    ladder_sizes: Sequence[float] = tuple(NEB_1KB_PLUS_MASS_NG),
    ladder_lanes: Sequence[int] = (0,),
    samples: dict[int, Sequence[tuple[float, float]]] | None = None,
    n_lanes: int = 4,
    top_fraction: float = 0.12,
    bottom_fraction: float = 0.88,
    curvature: float = 0.08,
    ladder_total_volume: float = 400000.0,
    **blot_kwargs: Any,
) -> SyntheticImage:
    """An agarose gel with ladder lanes and sample bands given in bp.

    Migration follows ``f = (log10(max) - log10(bp)) / (log10(max) - log10(min))``,
    bent by ``curvature`` (``row_fraction = top + (bottom - top) * (f + c f (1-f))``),
    so that a straight line in log10(bp) is not exact, as on real gels. The
    truth gets ``bp`` for every band and ``migration_model`` for checking sizing.
    ``samples[lane]`` is a list of ``(bp, volume)``.
    """
    sizes = sorted((float(s) for s in ladder_sizes), reverse=True)
    lmax, lmin = math.log10(sizes[0]), math.log10(sizes[-1])

    def row_fraction(bp: float) -> float:
        f = (lmax - math.log10(bp)) / (lmax - lmin)
        return top_fraction + (bottom_fraction - top_fraction) * (f + curvature * f * (1 - f))

    masses = [NEB_1KB_PLUS_MASS_NG.get(round(s), 50.0) for s in sizes]
    scale = ladder_total_volume / sum(masses)
    lane_bands: list[list[tuple[float, float]]] = [[] for _ in range(n_lanes)]
    bp_of: dict[tuple[int, int], float] = {}
    for lane in ladder_lanes:
        for s, m in zip(sizes, masses):
            bp_of[(lane, len(lane_bands[lane]))] = s
            lane_bands[lane].append((row_fraction(s), m * scale))
    for lane, items in (samples or {}).items():
        for bp, vol in items:
            bp_of[(lane, len(lane_bands[lane]))] = float(bp)
            lane_bands[lane].append((row_fraction(float(bp)), float(vol)))
    blot_kwargs.setdefault("bit_depth", 8)
    blot_kwargs.setdefault("background", 12.0)
    blot_kwargs.setdefault("noise_sigma", 1.5)
    blot_kwargs.setdefault("band_sigma", 2.5)
    result = make_blot(
        seed, height=height, width=width, n_lanes=n_lanes, bands=lane_bands, **blot_kwargs
    )
    counters: dict[int, int] = {}
    for band in result.truth["bands"]:
        k = counters.get(band["lane"], 0)
        counters[band["lane"]] = k + 1
        band["bp"] = bp_of.get((band["lane"], k))
        band["ladder"] = band["lane"] in ladder_lanes
    result.truth["ladder_lanes"] = list(ladder_lanes)
    result.truth["ladder_sizes"] = sizes
    result.truth["migration_model"] = {
        "top_fraction": top_fraction,
        "bottom_fraction": bottom_fraction,
        "curvature": curvature,
        "log10_max": lmax,
        "log10_min": lmin,
    }
    return result
