"""Seeded synthetic gels and blots with known truth.

Why a library module: tests here and the western-blot/MSP plugins' examples need
images whose band volumes, positions, lanes and strips are *known*, so that the
analysis can be checked against independent labels rather than its own output.

Bands are rendered analytically (no resampling): each pixel is mapped back into
the straight, un-rotated frame, where a band is a flat-topped lane-wide stripe
with soft (error-function) edges across the lane and a Gaussian profile down the
lane. Its volume (sum of pixel values above the background, in AU) is therefore
known exactly: ``volume = amplitude * lane_width * sigma * sqrt(2 pi)``.
Rounded (lens-shaped) and smiling bands are normalised on their rendered
pixels instead, so their volume is exact too. Optional real-instrument
defects (uneven lanes, per-strip tilt, membrane edges, ladder, pen marks,
handwriting, dust, uneven exposure, crop rectangle) are described in
:func:`make_blot`; marks never touch a band's integration rectangle.

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

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.special import erf

__all__ = [
    "HANDWRITING_WORDS",
    "NEB_1KB_PLUS_MASS_NG",
    "PAGERULER_KDA",
    "ROUNDED_WIDTH",
    "SyntheticImage",
    "make_blot",
    "make_gel",
    "rgba_opaque_mask",
    "to_rgba_png_array",
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


#: PageRuler prestained protein ladder (kDa), largest first: the default ``ladder_side`` lane.
PAGERULER_KDA: tuple[float, ...] = (180.0, 130.0, 100.0, 70.0, 55.0, 40.0, 35.0, 25.0, 15.0, 10.0)

#: What people write on membranes and films (used by ``handwriting``).
HANDWRITING_WORDS: tuple[str, ...] = (
    "RARB 1:1000", "ACTB", "GAPDH 1:5000", "SH-SY5Y", "30 s", "exp 3", "12/03", "P-gp",
    "ECL", "RA 10uM", "#2", "1h RT", "DAC", "ctrl",
)  # fmt: skip

#: A rounded band spans this fraction of its lane (real bands are narrower than the well).
ROUNDED_WIDTH = 0.85

# Each optional defect draws from its own random stream, so that switching one on or off
# never moves another (and never touches the stream the default image is made from).
_STREAMS = {
    "pitch": 1, "width": 2, "mottle": 3, "exposure": 4, "pen": 5, "numbers": 6,
    "hand": 7, "specks": 8, "crop": 9,
}  # fmt: skip


def _stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([abs(int(seed)), _STREAMS[name]])


def _rot3(centre: tuple[float, float], angle_deg: float) -> NDArray[np.float64]:
    m = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _apply(m: NDArray[np.float64], u: float, v: float) -> tuple[float, float]:
    return (
        float(m[0, 0] * u + m[0, 1] * v + m[0, 2]),
        float(m[1, 0] * u + m[1, 1] * v + m[1, 2]),
    )


def _box_of(points: Sequence[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _overlaps(
    a: tuple[float, float, float, float], b: Sequence[float], margin: float = 0.0
) -> bool:
    return not (
        a[2] < b[0] - margin or a[0] > b[2] + margin or a[3] < b[1] - margin or a[1] > b[3] + margin
    )


def _ink(polarity: str, invert: bool, background: float, top: float) -> float:
    """Additive level (AU, in the light-bands-on-dark frame) of ink that looks ``polarity``
    ("dark" or "bright") in the *final* image, film or not."""
    darker_render = (polarity == "dark") != invert  # ink lowers the rendered value
    return -0.7 * background if darker_render else min(6.0 * background, 0.5 * (top - background))


def make_blot(
    seed: int = 0,
    *,
    height: int = 480,
    width: int = 640,
    n_lanes: int = 6,
    lane_width: float | None = None,
    bands: Sequence[Sequence[tuple[float, ...]]] | None = None,
    strip_bands: Sequence[Sequence[Sequence[tuple[float, ...]]]] | None = None,
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
    lane_centres: Sequence[float] | None = None,
    pitch_jitter: float = 0.0,
    lane_widths: Sequence[float] | None = None,
    width_jitter: float = 0.0,
    strip_band_width: Sequence[float | None] | None = None,
    band_shape: str = "flat",
    band_smile_px: float = 0.0,
    strip_heights: Sequence[float] | None = None,
    strip_rotation_deg: Sequence[float] | None = None,
    membrane_inset: float | Sequence[float] | None = None,
    off_membrane_level: float | None = None,
    mottle: float = 0.0,
    exposure_gradient: float = 0.0,
    ladder_side: str | None = None,
    ladder_kda: Sequence[float] = PAGERULER_KDA,
    ladder_volume: float | None = None,
    ladder_rows: tuple[float, float] = (0.1, 0.92),
    pen_marks: bool | str = False,
    lane_numbers: bool | str = False,
    handwriting: int = 0,
    mark_polarity: str = "dark",
    specks: int = 0,
    crop_rectangle: bool | int = False,
    float_output: bool = False,
) -> SyntheticImage:
    """Render a blot/gel image with known lanes, bands, strips and distortions.

    ``bands[lane]`` is a list of ``(row_fraction, volume)``: the row as a fraction
    of the strip height (0 top, 1 bottom) and the volume in AU; an optional third
    item is that band's own Gaussian sigma (px), for diffuse bands. When omitted,
    each lane gets 3 bands at seeded rows with seeded volumes. With several
    strips, the same band list is used in every strip (rows relative to the
    strip), unless ``strip_bands[s]`` gives strip ``s`` its own lists (e.g. a
    target above a loading control). ``background`` (AU) defaults to 800 (16-bit) or 20 (8-bit) and
    ``noise_sigma`` (AU, Gaussian) to 20 or 1.5. ``peak_scale`` rescales all
    volumes so that the brightest band peak (plus background) reaches this
    value (use > the maximum to force saturation). ``smile_px`` bends bands
    down (+) or up (-) towards both edges (quadratic across the image);
    ``skew_px`` lowers them linearly from left to right (a gel running faster
    on one side). ``illumination`` is the amplitude (AU) of a smooth additive
    background pattern on top of ``background``.

    Real-instrument defects (all off by default; with every one off the image is
    bit-identical to what this function always made). Why: an analysis that only
    ever sees even lanes, flat bands and one tilt passes its tests and fails on
    real blots. Each defect draws from its own seeded stream.

    - Lanes: ``lane_centres`` (px, straight frame, one per lane incl. a ladder
      lane) or ``pitch_jitter`` (fraction of the pitch, seeded uneven spacing);
      ``lane_widths`` (px per lane) or ``width_jitter`` (fraction).
    - Bands: ``band_shape="rounded"`` gives lens-shaped bands, ``ROUNDED_WIDTH``
      of the lane wide, brighter and thicker in the centre, with rounded ends;
      their volume is normalised on the rendered pixels, so it stays exact (so
      is a smiling flat band's; other flat bands keep the analytic form).
      ``band_smile_px`` lifts each band's ends by that many px (a smiling band).
      ``strip_band_width[s]`` (fraction of the local lane pitch, e.g. 1.0) makes
      the bands of strip ``s`` touch across lanes (a loading-control row).
    - Strips/membranes: ``strip_heights`` (relative), ``strip_rotation_deg``
      (one angle per strip, applied about that strip's own centre after the
      global ``rotation_deg``), ``membrane_inset`` (px, one value or
      ``(left, top, right, bottom)``: membranes narrower than the image, with a
      sharp edge and ``off_membrane_level`` outside, default the gap level).
    - Background: ``mottle`` (AU, std of a blotchy membrane texture),
      ``exposure_gradient`` (fractional, multiplicative: uneven exposure of
      membrane *and* bands; band volumes in the truth are then the exposed ones,
      ``volume_loaded`` keeps the requested ones).
    - ``ladder_side`` ("left"/"right"): adds a prestained-ladder lane at that side
      (``ladder_kda`` from ``ladder_rows[0]`` to ``ladder_rows[1]`` of the strip,
      linear in log kDa, 70 kDa twice as bright), in every strip. The lane is an
      extra lane: ``bands`` still lists the sample lanes, and truth lane indices
      count image lanes from the left (the ladder included).
    - Marks, never inside a band's integration rectangle (lane width x band
      rows +/- 3 sigma, ``truth bands[i]["rect"]``) so volumes stay exact:
      ``pen_marks`` (True/"dark"/"bright": short strokes at the ladder rows, or
      seeded rows, at both membrane edges outside the lanes), ``lane_numbers``
      (True/"above"/"below": "M", "1", "2", ... written above the top strip's or
      below the bottom strip's bands), ``handwriting`` (that many words above or
      below band areas), all in ``mark_polarity`` ink ("dark"/"bright" in the
      final image), ``specks`` (that many dust specks, very bright or dark,
      anywhere outside band rectangles), ``crop_rectangle`` (True or a line
      width 1-3 px: a drawn rectangle around the membrane, black or, with
      ``mark_polarity="bright"``, white).
    - ``float_output=True`` returns the float64 image before noise, quantisation
      and inversion (for checking volumes exactly).

    Extra truth (every call): per band ``left``/``right``/``width`` (its extent),
    ``rect`` (its integration rectangle, straight frame of its strip),
    ``rect_image`` (its corners in image px), ``center_image``,
    ``volume_rendered`` (sum of its rendered pixels), ``ladder``; per lane
    ``ladder``; ``strip_lanes[s][i]`` (lane centre/left/right in image px at the
    strip's band row), ``strip_rotation_deg``, ``strip_pivots``,
    ``strip_transforms`` (straight -> image, 2x3), ``membranes`` and
    ``membrane_box`` (image px), ``marks`` (kind, strip, image ``box``),
    ``marks_clipped_px`` (ink removed by the band-rectangle guard; 0 when
    placement worked), ``ladder_lanes``.
    """
    rng = np.random.default_rng(seed)
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if band_shape not in ("flat", "rounded"):
        raise ValueError(f"band_shape must be 'flat' or 'rounded', got {band_shape!r}")
    if ladder_side not in (None, "left", "right"):
        raise ValueError(f"ladder_side must be 'left', 'right' or None, got {ladder_side!r}")
    if mark_polarity not in ("dark", "bright"):
        raise ValueError(f"mark_polarity must be 'dark' or 'bright', got {mark_polarity!r}")
    if pen_marks not in (False, True, "dark", "bright"):
        raise ValueError(f"pen_marks must be a bool, 'dark' or 'bright', got {pen_marks!r}")
    if lane_numbers not in (False, True, "above", "below"):
        raise ValueError(f"lane_numbers must be a bool, 'above' or 'below', got {lane_numbers!r}")
    for name, val in (("pitch_jitter", pitch_jitter), ("width_jitter", width_jitter)):
        if not 0.0 <= val < 0.6:
            raise ValueError(f"{name} must be in [0, 0.6), got {val}")
    if specks < 0 or handwriting < 0:
        raise ValueError("specks and handwriting must be counts >= 0")
    top = 255.0 if bit_depth == 8 else 65535.0
    if background is None:
        background = 20.0 if bit_depth == 8 else 800.0
    if noise_sigma is None:
        noise_sigma = 1.5 if bit_depth == 8 else 20.0
    h, w = int(height), int(width)
    n_strips = max(1, int(n_strips))
    legacy = (
        lane_centres is None and pitch_jitter == 0 and lane_widths is None and width_jitter == 0
        and strip_band_width is None and band_shape == "flat" and band_smile_px == 0
        and strip_heights is None and strip_rotation_deg is None and membrane_inset is None
        and mottle == 0 and exposure_gradient == 0 and ladder_side is None and not pen_marks
        and not lane_numbers and handwriting == 0 and specks == 0 and not crop_rectangle
    )  # fmt: skip

    # --- membrane extent (straight frame)
    if membrane_inset is None:
        inset = (0.0, 0.0, 0.0, 0.0)
    elif isinstance(membrane_inset, (int, float)):
        inset = (float(membrane_inset),) * 4
    else:
        if len(membrane_inset) != 4:
            raise ValueError("membrane_inset must be one number or (left, top, right, bottom)")
        inset = tuple(float(v) for v in membrane_inset)  # type: ignore[assignment]
    if min(inset) < 0 or inset[0] + inset[2] > 0.8 * w or inset[1] + inset[3] > 0.8 * h:
        raise ValueError(f"membrane_inset {inset} must be >= 0 and leave 20 % of the image")
    mx0, mx1 = inset[0], w - inset[2]
    my0, my1 = inset[1], h - inset[3]

    # --- strips (row ranges in the straight frame)
    strips = []
    if strip_heights is None and membrane_inset is None:
        usable = h - (n_strips - 1) * strip_gap
        strip_h = usable / n_strips
        for s in range(n_strips):
            r0 = s * (strip_h + strip_gap)
            strips.append((round(r0), round(r0 + strip_h)))
    else:
        fr = [1.0] * n_strips if strip_heights is None else [float(f) for f in strip_heights]
        if len(fr) != n_strips or min(fr) <= 0:
            raise ValueError(f"strip_heights must be {n_strips} positive numbers, got {fr}")
        room = (my1 - my0) - (n_strips - 1) * strip_gap
        pos = my0
        for f in fr:
            hs = room * f / sum(fr)
            strips.append((round(pos), round(pos + hs)))
            pos += hs + strip_gap

    # --- lanes
    total = n_lanes + (1 if ladder_side else 0)
    ladder_lane = None if ladder_side is None else (0 if ladder_side == "left" else total - 1)
    shift = 1 if ladder_side == "left" else 0
    x0, x1 = mx0 + margin * (mx1 - mx0), mx0 + (1.0 - margin) * (mx1 - mx0)
    pitch = (x1 - x0) / total
    lw = float(lane_width) if lane_width is not None else 0.62 * pitch
    if lane_centres is not None:
        centres = [float(c) for c in lane_centres]
        if len(centres) != total or any(b <= a for a, b in itertools.pairwise(centres)):
            raise ValueError(f"lane_centres must be {total} increasing positions (px)")
    elif pitch_jitter > 0:
        pitches = pitch * (1.0 + pitch_jitter * _stream(seed, "pitch").uniform(-1, 1, total))
        pitches *= (x1 - x0) / pitches.sum()
        edges = x0 + np.concatenate([[0.0], np.cumsum(pitches)])
        centres = [float(c) for c in (edges[:-1] + edges[1:]) / 2.0]
    else:
        centres = [x0 + (i + 0.5) * pitch for i in range(total)]
    if lane_widths is not None:
        widths = [float(v) for v in lane_widths]
        if len(widths) != total or min(widths) <= 0:
            raise ValueError(f"lane_widths must be {total} positive widths (px)")
    elif width_jitter > 0:
        jit = 1.0 + width_jitter * _stream(seed, "width").uniform(-1, 1, total)
        widths = [float(lw * j) for j in jit]
    else:
        widths = [lw] * total

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
    per_strip = [bands] * n_strips
    if strip_bands is not None:
        if len(strip_bands) != n_strips or any(len(sb) != n_lanes for sb in strip_bands):
            raise ValueError(f"strip_bands must have {n_strips} lists of {n_lanes} lane lists")
        per_strip = list(strip_bands)
    if strip_band_width is not None and len(strip_band_width) != n_strips:
        raise ValueError(f"strip_band_width must have one value (or None) per strip ({n_strips})")
    if strip_rotation_deg is not None and len(strip_rotation_deg) != n_strips:
        raise ValueError(f"strip_rotation_deg must have one angle per strip ({n_strips})")

    band_list: list[dict[str, Any]] = []
    for s, (r0, r1) in enumerate(strips):
        for lane, lane_bands in enumerate(per_strip[s]):
            for item in lane_bands:
                row_frac, vol = item[0], item[1]
                row = r0 + float(row_frac) * (r1 - r0)
                band_list.append(
                    {
                        "lane": lane + shift,
                        "strip": s,
                        "row": row,
                        "volume": float(vol),
                        "sigma": float(item[2]) if len(item) > 2 else band_sigma,
                    }
                )
    if haze_volume > 0:
        for s, (r0, r1) in enumerate(strips):
            for lane in range(n_lanes):
                band_list.append(
                    {
                        "lane": lane + shift, "strip": s, "row": r0 + 0.9 * (r1 - r0),
                        "volume": float(haze_volume), "sigma": max(3.0 * band_sigma, 12.0),
                        "haze": True,
                    }
                )  # fmt: skip
    if ladder_lane is not None:
        sample_vols = [b["volume"] for b in band_list if not b.get("haze") and b["volume"] > 0]
        if ladder_volume is None:
            base = 0.35 * float(np.median(sample_vols)) if sample_vols else 0.0
            ladder_volume = base or (5.0e5 if bit_depth == 16 else 1.0e4)
        kda = sorted((float(k) for k in ladder_kda), reverse=True)
        lmax, lmin = math.log10(kda[0]), math.log10(kda[-1])
        for s, (r0, r1) in enumerate(strips):
            for k in kda:
                f = (lmax - math.log10(k)) / (lmax - lmin) if lmax > lmin else 0.5
                frac = ladder_rows[0] + (ladder_rows[1] - ladder_rows[0]) * f
                band_list.append(
                    {
                        "lane": ladder_lane, "strip": s, "row": r0 + frac * (r1 - r0),
                        "volume": float(ladder_volume) * (2.0 if k == 70.0 else 1.0),
                        "sigma": 0.7 * band_sigma, "ladder": True, "kda": k,
                    }
                )  # fmt: skip

    # --- band extents (straight frame)
    for b in band_list:
        i, c = b["lane"], centres[b["lane"]]
        f_touch = None if strip_band_width is None else strip_band_width[b["strip"]]
        if f_touch is not None and i != ladder_lane:
            lg = c - centres[i - 1] if i > 0 else (centres[1] - c if total > 1 else widths[i])
            rg = centres[i + 1] - c if i < total - 1 else lg
            b["left"], b["right"] = c - f_touch * lg / 2.0, c + f_touch * rg / 2.0
            b["width"] = b["right"] - b["left"]
        elif band_shape == "rounded":
            b["width"] = widths[i] * ROUNDED_WIDTH
            b["left"], b["right"] = c - b["width"] / 2.0, c + b["width"] / 2.0
        else:
            b["width"] = widths[i]
            b["left"], b["right"] = c - widths[i] / 2.0, c + widths[i] / 2.0

    # --- geometry: image (x, y) -> straight frame (u, v), one transform per strip
    centre = (w / 2.0, h / 2.0)
    forward = cv2.getRotationMatrix2D(centre, rotation_deg, 1.0)  # straight -> image
    inverse = cv2.invertAffineTransform(forward)  # image -> straight
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    uu = inverse[0, 0] * xx + inverse[0, 1] * yy + inverse[0, 2]
    vv = inverse[1, 0] * xx + inverse[1, 1] * yy + inverse[1, 2]
    fwd_s: list[NDArray[Any]] = []
    geo: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
    strip_angles: list[float] = []
    for s, (r0, r1) in enumerate(strips):
        a_s = 0.0 if strip_rotation_deg is None else float(strip_rotation_deg[s])
        strip_angles.append(float(rotation_deg) + a_s)
        if a_s == 0.0:
            fwd_s.append(forward)
            geo.append((uu, vv))
            continue
        full = _rot3(centre, rotation_deg) @ _rot3(((mx0 + mx1) / 2.0, (r0 + r1) / 2.0), a_s)
        f2 = full[:2]
        inv = cv2.invertAffineTransform(f2)
        fwd_s.append(f2)
        geo.append(
            (
                inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2],
                inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2],
            )
        )

    # --- background in image coordinates
    gap = background * 0.35 if gap_level is None else float(gap_level)
    off = gap if off_membrane_level is None else float(off_membrane_level)
    img = np.zeros((h, w), np.float64)
    owner = np.full((h, w), -1, np.int16)  # which strip's membrane a pixel is on
    for s in reversed(range(n_strips)):  # the upper strip wins where tilted strips meet
        us, vs = geo[s]
        r0, r1 = strips[s]
        m = (vs >= r0) & (vs < r1)
        if membrane_inset is not None:
            m &= (us >= mx0) & (us < mx1)
        owner[m] = s
    if strip_rotation_deg is not None or membrane_inset is not None:
        img += np.where(owner >= 0, background, off)
    elif n_strips > 1:
        on_membrane = np.zeros((h, w), bool)
        for r0, r1 in strips:
            on_membrane |= (vv >= r0) & (vv < r1)
        img += np.where(on_membrane, background, gap)
    else:
        owner[:] = 0
        img += background
    if illumination:
        img += illumination * _smooth_field(rng, h, w)
    if mottle:
        mr = _stream(seed, "mottle")
        fine = cv2.GaussianBlur(mr.normal(size=(h, w)), (0, 0), 4.0)
        coarse = cv2.GaussianBlur(mr.normal(size=(h, w)), (0, 0), 22.0)
        tex = 0.6 * fine / max(float(fine.std()), 1e-12)
        tex += 0.8 * coarse / max(float(coarse.std()), 1e-12)
        img += float(mottle) * tex / 1.0 * (owner >= 0)

    # --- bands: unit fields on their own bounding boxes
    sq2 = math.sqrt(2.0)
    max_smile = abs(smile_px) + abs(skew_px) + 1.0
    bsm = float(band_smile_px)
    for b in band_list:
        us, vs = geo[b["strip"]]
        xl, xr = b["left"], b["right"]
        soft = edge_softness
        if band_shape == "rounded":
            soft = max(edge_softness, 0.08 * b["width"])
        ext_u = (xl - 5 * soft, xr + 5 * soft)
        ext_v = (
            b["row"] - 6 * b["sigma"] - max_smile - abs(bsm),
            b["row"] + 6 * b["sigma"] + max_smile + abs(bsm),
        )
        corners = np.array([[u, v, 1.0] for u in ext_u for v in ext_v])
        pts = corners @ fwd_s[b["strip"]].T
        c0 = max(0, int(np.floor(pts[:, 0].min())))
        c1 = min(w, int(np.ceil(pts[:, 0].max())) + 1)
        rr0 = max(0, int(np.floor(pts[:, 1].min())))
        rr1 = min(h, int(np.ceil(pts[:, 1].max())) + 1)
        b["_box"] = None
        if c0 >= c1 or rr0 >= rr1:
            continue
        u = us[rr0:rr1, c0:c1]
        v = vs[rr0:rr1, c0:c1]
        if band_shape == "flat":
            gx = 0.5 * (erf((u - xl) / (sq2 * soft)) - erf((u - xr) / (sq2 * soft)))
            if bsm:
                t2 = np.clip((u - (xl + xr) / 2.0) / ((xr - xl) / 2.0), -1.0, 1.0) ** 2
                gy = np.exp(-((v - b["row"] - smile(u) + bsm * t2) ** 2) / (2.0 * b["sigma"] ** 2))
            else:
                gy = np.exp(-((v - b["row"] - smile(u)) ** 2) / (2.0 * b["sigma"] ** 2))
            if not bsm:  # analytic, as this generator always did
                b["_denom"] = b["width"] * math.sqrt(2.0 * math.pi) * b["sigma"]
                b["_fmax"] = 1.0
            else:  # on the rendered pixels: exact even where a tilt meets the kinked smile
                unit = gx * gy
                b["_denom"] = float(unit.sum())
                b["_fmax"] = float(unit.max())
        else:
            t2 = np.clip((u - (xl + xr) / 2.0) / ((xr - xl) / 2.0), -1.0, 1.0) ** 2
            gx = 0.5 * (erf((u - xl) / (sq2 * soft)) - erf((u - xr) / (sq2 * soft)))
            gx = gx * (1.0 - 0.35 * t2)
            sig = b["sigma"] * (1.0 - 0.45 * t2)
            gy = np.exp(-((v - b["row"] - smile(u) + bsm * t2) ** 2) / (2.0 * sig**2))
            unit = gx * gy
            b["_denom"] = float(unit.sum())
            b["_fmax"] = float(unit.max())
        b["_box"] = (rr0, rr1, c0, c1)
        b["_g"] = (gx, gy)

    rendered = [b for b in band_list if b["_box"] is not None and b["_denom"] > 0]
    if peak_scale is not None:
        if legacy:
            norm = lw * math.sqrt(2.0 * math.pi)
            peaks = [b["volume"] / (norm * b["sigma"]) for b in band_list if not b.get("haze")]
        else:
            peaks = [b["volume"] / b["_denom"] * b["_fmax"] for b in rendered if not b.get("haze")]
        if peaks:
            factor = (peak_scale - background) / max(peaks)
            for b in band_list:
                b["volume"] *= factor
    if legacy:
        norm = lw * math.sqrt(2.0 * math.pi)
        for b in band_list:
            b["amplitude"] = b["volume"] / (norm * b["sigma"])
    else:
        for b in band_list:
            ok = b["_box"] is not None and b["_denom"] > 0
            b["amplitude"] = b["volume"] / b["_denom"] if ok else 0.0
    for b in rendered:
        rr0, rr1, c0, c1 = b["_box"]
        gx, gy = b["_g"]
        contrib = b["amplitude"] * gx * gy
        img[rr0:rr1, c0:c1] += contrib
        b["_contrib"] = contrib

    # --- band integration rectangles (straight frame of their strip)
    for b in band_list:
        lane_l = centres[b["lane"]] - widths[b["lane"]] / 2.0
        lane_r = centres[b["lane"]] + widths[b["lane"]] / 2.0
        left, right = min(lane_l, b["left"]), max(lane_r, b["right"])
        us_ = np.linspace(left, right, 33)
        sm = np.asarray(smile(us_), dtype=np.float64)
        lo = b["row"] + float(sm.min()) - 3.0 * b["sigma"] - max(bsm, 0.0)
        hi = b["row"] + float(sm.max()) + 3.0 * b["sigma"] + max(-bsm, 0.0)
        b["rect"] = (float(left), float(lo), float(right), float(hi))
        f2 = fwd_s[b["strip"]]
        b["rect_image"] = [
            _apply(f2, p, q) for p, q in ((left, lo), (right, lo), (right, hi), (left, hi))
        ]
        b["center_image"] = _apply(
            f2, centres[b["lane"]], b["row"] + float(smile(centres[b["lane"]]))
        )
        b["ladder"] = bool(b.get("ladder", False))
    measured = [b for b in band_list if not b.get("haze")]

    # --- marks on the membrane (drawn in each strip's straight frame, so they tilt with it)
    marks: list[dict[str, Any]] = []
    skipped: list[str] = []
    clipped = 0
    want_ink = bool(pen_marks) or bool(lane_numbers) or handwriting > 0
    if want_ink:
        canvases = [np.zeros((h, w), np.float32) for _ in strips]
        rects = {s: [b["rect"] for b in measured if b["strip"] == s] for s in range(n_strips)}
        ink = _ink(mark_polarity, invert, background, top)

        def draw(
            s: int,
            kind: str,
            level: float,
            painter: Any,
            box: tuple[float, ...],
            text: str | None = None,
        ) -> None:
            bx0, by0 = max(0, int(box[0]) - 3), max(0, int(box[1]) - 3)
            bx1, by1 = min(w, math.ceil(box[2]) + 4), min(h, math.ceil(box[3]) + 4)
            if bx0 >= bx1 or by0 >= by1:
                return
            patch = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
            painter(patch, bx0, by0)
            ys, xs = np.nonzero(patch)
            if xs.size == 0:
                return
            canvases[s][by0:by1, bx0:bx1] += level * patch.astype(np.float32) / 255.0
            sbox = (bx0 + xs.min(), by0 + ys.min(), bx0 + xs.max() + 1.0, by0 + ys.max() + 1.0)
            corners_img = [
                _apply(fwd_s[s], p, q) for p in (sbox[0], sbox[2]) for q in (sbox[1], sbox[3])
            ]
            mark: dict[str, Any] = {
                "kind": kind, "strip": s, "box_strip": tuple(float(v) for v in sbox),
                "box": _box_of(corners_img),
            }  # fmt: skip
            if text is not None:
                mark["text"] = text
            marks.append(mark)

        def free(s: int, box: tuple[float, float, float, float], gap_px: float) -> bool:
            others = [m["box_strip"] for m in marks if m["strip"] == s]
            return not any(_overlaps(box, r, gap_px) for r in rects[s]) and not any(
                _overlaps(box, o, 2.0) for o in others
            )

        def local_zones(s: int, xa: float, xb: float) -> list[tuple[float, float]]:
            """Free rows of strip ``s`` above and below the bands that overlap columns
            ``[xa, xb]`` (one range when none do)."""
            r0, r1 = strips[s]
            over = [r for r in rects[s] if not (r[2] < xa - 3.0 or r[0] > xb + 3.0)]
            if not over:
                return [(r0 + 3.0, r1 - 3.0)]
            return [
                (r0 + 3.0, min(r[1] for r in over) - 4.0),
                (max(r[3] for r in over) + 4.0, r1 - 3.0),
            ]

        if pen_marks:
            pr = _stream(seed, "pen")
            pol = mark_polarity if pen_marks is True else str(pen_marks)
            level0 = _ink(pol, invert, background, top)
            for s, (r0, r1) in enumerate(strips):
                lad = sorted(
                    b["row"] for b in measured if b["strip"] == s and b["lane"] == ladder_lane
                )
                rows_s = lad or sorted(r0 + f * (r1 - r0) for f in pr.uniform(0.15, 0.85, 4))
                first = [b["rect"] for b in measured if b["strip"] == s and b["lane"] == 0]
                last = [b["rect"] for b in measured if b["strip"] == s and b["lane"] == total - 1]
                left_edge = min([centres[0] - widths[0] / 2.0] + [r[0] for r in first])
                right_edge = max([centres[-1] + widths[-1] / 2.0] + [r[2] for r in last])
                for row in rows_s:
                    for side in ("left", "right"):
                        length = pr.uniform(10.0, 24.0)
                        thick = int(pr.integers(2, 4))
                        if side == "left":
                            xe = left_edge - 5.0 - thick
                            xs_ = max(mx0 + 2.0, xe - length)
                        else:
                            xs_ = right_edge + 5.0 + thick
                            xe = min(mx1 - 2.0, xs_ + length)
                        if xe - xs_ < 5.0:
                            continue
                        ya = row + float(smile(xs_)) + pr.uniform(-1.0, 1.0)
                        yb = ya + pr.uniform(-2.5, 2.5)
                        box = (xs_ - thick, min(ya, yb) - thick, xe + thick, max(ya, yb) + thick)
                        if not free(s, box, 3.0):
                            skipped.append(f"pen strip {s} row {row:.0f} {side}")
                            continue
                        lv = level0 * pr.uniform(0.6, 1.0)

                        def pen(
                            p: NDArray[Any],
                            ox: int,
                            oy: int,
                            a: tuple[float, ...] = (xs_, ya, xe, yb),
                            t: int = thick,
                        ) -> None:
                            cv2.line(
                                p,
                                (round(a[0] - ox), round(a[1] - oy)),
                                (round(a[2] - ox), round(a[3] - oy)),
                                255,
                                t,
                                cv2.LINE_AA,
                            )

                        draw(s, "pen", lv, pen, box)

        font = cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC
        base_h = cv2.getTextSize("0", font, 1.0, 1)[0][1]
        if lane_numbers:
            nr = _stream(seed, "numbers")
            above = lane_numbers in (True, "above")
            s = 0 if above else n_strips - 1
            size = nr.uniform(13.0, 20.0)  # digit height (px)
            n_sample = 0
            for i, c in enumerate(centres):
                if i == ladder_lane:
                    label = "M"
                else:
                    n_sample += 1
                    label = str(n_sample)
                zs = local_zones(s, c - widths[i] / 2.0, c + widths[i] / 2.0)
                z0, z1 = zs[0] if above else zs[-1]
                th = min(size, z1 - z0 - 5.0)
                if th < 7.0:
                    skipped.append(f"lane number {label}: no room")
                    continue
                scale = th / base_h
                thick = 1 if th < 12 else 2
                (tw, tht), _ = cv2.getTextSize(label, font, scale, thick)
                x_l = c - tw / 2.0 + nr.uniform(-2.0, 2.0)
                if above:  # near the top edge of the membrane, as people write them
                    y_b = min(z1 - thick - 1.0, z0 + tht + thick + nr.uniform(1.0, 6.0))
                else:
                    y_b = max(z0 + tht + thick + 1.0, z1 - thick - nr.uniform(1.0, 6.0))
                box = (x_l - thick, y_b - tht - thick, x_l + tw + thick, y_b + thick)
                if not free(s, box, 3.0):
                    skipped.append(f"lane number {label}: would touch a band or a mark")
                    continue

                def num(
                    p: NDArray[Any],
                    ox: int,
                    oy: int,
                    t: str = label,
                    x: float = x_l,
                    y: float = y_b,
                    sc: float = scale,
                    k: int = thick,
                ) -> None:
                    cv2.putText(p, t, (round(x - ox), round(y - oy)), font, sc, 255, k, cv2.LINE_AA)

                draw(s, "lane_number", ink, num, box, label)

        if handwriting:
            hr = _stream(seed, "hand")
            sfont = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX | cv2.FONT_ITALIC
            (_, sh), sb = cv2.getTextSize("Ag", sfont, 1.0, 1)
            for _ in range(int(handwriting)):
                word = str(hr.choice(HANDWRITING_WORDS))
                size = hr.uniform(14.0, 24.0)  # cap-to-descender height (px)
                thick = int(hr.integers(1, 3))
                scale = size / (sh + sb)
                (tw, tht), basel = cv2.getTextSize(word, sfont, scale, thick)
                placed = False
                for _try in range(80):
                    if tw > (mx1 - mx0) - 8:
                        break
                    s = int(hr.integers(0, n_strips))
                    x_l = hr.uniform(mx0 + 4.0, mx1 - 4.0 - tw)
                    zs = [
                        z for z in local_zones(s, x_l, x_l + tw)
                        if z[1] - z[0] >= tht + basel + 2 * thick + 2
                    ]  # fmt: skip
                    if not zs:
                        continue
                    z0, z1 = zs[int(hr.integers(0, len(zs)))]
                    y_b = hr.uniform(z0 + tht + thick + 1, z1 - basel - thick - 1)
                    box = (x_l - thick, y_b - tht - thick, x_l + tw + thick, y_b + basel + thick)
                    if not free(s, box, 4.0):
                        continue

                    def hand(
                        p: NDArray[Any],
                        ox: int,
                        oy: int,
                        t: str = word,
                        x: float = x_l,
                        y: float = y_b,
                        sc: float = scale,
                        k: int = thick,
                    ) -> None:
                        cv2.putText(
                            p, t, (round(x - ox), round(y - oy)), sfont, sc, 255, k, cv2.LINE_AA
                        )

                    draw(s, "handwriting", ink * hr.uniform(0.7, 1.0), hand, box, word)
                    placed = True
                    break
                if not placed:
                    skipped.append(f"handwriting {word!r}: no room")

        # guard: no ink within 2 px of a band rectangle (placement should already ensure it)
        for s in range(n_strips):
            cv = canvases[s]
            for r in rects[s]:
                a0, a1 = max(0, math.floor(r[1]) - 2), min(h, math.ceil(r[3]) + 3)
                b0, b1 = max(0, math.floor(r[0]) - 2), min(w, math.ceil(r[2]) + 3)
                if a0 < a1 and b0 < b1:
                    clipped += int(np.count_nonzero(cv[a0:a1, b0:b1]))
                    cv[a0:a1, b0:b1] = 0.0
            if not cv.any():
                continue
            us, vs = geo[s]
            mapped = cv2.remap(cv, us.astype(np.float32), vs.astype(np.float32), cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)  # fmt: skip
            img += mapped.astype(np.float64) * (owner == s)

    # --- uneven exposure: multiplies membrane and bands alike
    gain: NDArray[np.float64] | None = None
    if exposure_gradient:
        er = _stream(seed, "exposure")
        th_ = er.uniform(0.0, 2.0 * math.pi)
        ramp = (xx / w - 0.5) * math.cos(th_) + (yy / h - 0.5) * math.sin(th_)
        ramp /= max(float(np.abs(ramp).max()), 1e-12)
        rad2 = ((xx - er.uniform(0.3, 0.7) * w) / w) ** 2 + (
            (yy - er.uniform(0.3, 0.7) * h) / h
        ) ** 2
        gain = 1.0 + float(exposure_gradient) * (0.5 * ramp - 0.6 * (rad2 - rad2.mean()))
        gain = np.clip(gain, 0.05, None)
        img *= gain
    for b in band_list:
        if not legacy and "_contrib" in b:  # before specks: only the band and its background
            rr0, rr1, c0, c1 = b["_box"]
            core = b["_contrib"] > 0.011 * max(float(b["_contrib"].max()), 1e-300)  # ~3 sigma
            b["saturated"] = bool(np.any(img[rr0:rr1, c0:c1][core] >= top))
        if "_contrib" in b:
            rr0, rr1, c0, c1 = b["_box"]
            g = gain[rr0:rr1, c0:c1] if gain is not None else 1.0
            b["volume_rendered"] = float(np.sum(b["_contrib"] * g))
        else:
            b["volume_rendered"] = 0.0
        if gain is not None:
            b["volume_loaded"] = b["volume"]
            b["volume"] = b["volume_rendered"]

    # --- image-frame defects: dust specks and a drawn crop rectangle (replace pixels)
    forbidden: NDArray[np.bool_] | None = None
    if specks or crop_rectangle:
        forbidden = np.zeros((h, w), bool)
        for b in measured:
            l_, t_, r_, b_ = b["rect"]
            pts2 = np.array(b["rect_image"])
            cc0, cc1 = max(0, int(pts2[:, 0].min()) - 4), min(w, int(pts2[:, 0].max()) + 5)
            rw0, rw1 = max(0, int(pts2[:, 1].min()) - 4), min(h, int(pts2[:, 1].max()) + 5)
            if cc0 >= cc1 or rw0 >= rw1:
                continue
            us, vs = geo[b["strip"]]
            u = us[rw0:rw1, cc0:cc1]
            v = vs[rw0:rw1, cc0:cc1]
            forbidden[rw0:rw1, cc0:cc1] |= (
                (u >= l_ - 2) & (u <= r_ + 2) & (v >= t_ - 2) & (v <= b_ + 2)
            )
    out_bg = background if not invert else top - background

    def render_level(out_value: float) -> float:
        return out_value if not invert else top - out_value

    if specks:
        sr = _stream(seed, "specks")
        assert forbidden is not None
        occupied = forbidden.copy()
        n_done, tries = 0, 0
        while n_done < specks and tries < 300 * specks:
            tries += 1
            cx_, cy_ = sr.uniform(6, w - 7), sr.uniform(6, h - 7)
            rad = sr.uniform(0.6, 2.4)
            a0, a1 = int(cy_ - rad - 2), int(cy_ + rad + 3)
            b0, b1 = int(cx_ - rad - 2), int(cx_ + rad + 3)
            if occupied[max(0, a0 - 1) : a1 + 1, max(0, b0 - 1) : b1 + 1].any():
                continue
            bright = bool(sr.random() < 0.5)
            if bright:  # well above the local background of the final image, up to saturation
                out_v = out_bg + sr.uniform(0.5, 1.0) * (top - out_bg)
            else:
                out_v = sr.uniform(0.0, 0.3) * out_bg
            py, px = np.mgrid[a0:a1, b0:b1]
            alpha = np.clip(rad + 0.5 - np.hypot(px - cx_, py - cy_), 0.0, 1.0)
            img[a0:a1, b0:b1] = img[a0:a1, b0:b1] * (1 - alpha) + render_level(out_v) * alpha
            occupied[a0:a1, b0:b1] = True
            ys, xs = np.nonzero(alpha)
            marks.append(
                {
                    "kind": "speck", "strip": None, "bright": bright,
                    "box": (float(b0 + xs.min()), float(a0 + ys.min()),
                            float(b0 + xs.max() + 1), float(a0 + ys.max() + 1)),
                }
            )  # fmt: skip
            n_done += 1
        if n_done < specks:
            skipped.append(f"specks: placed {n_done} of {specks}")

    membranes: list[dict[str, Any]] = []
    for s, (r0, r1) in enumerate(strips):
        cs = [_apply(fwd_s[s], p, q) for p, q in ((mx0, r0), (mx1, r0), (mx1, r1), (mx0, r1))]
        bx = _box_of(cs)
        clip_box = (max(0.0, bx[0]), max(0.0, bx[1]), min(float(w), bx[2]), min(float(h), bx[3]))
        membranes.append({"strip": s, "corners": cs, "box": clip_box})
    mbox = (
        min(m["box"][0] for m in membranes), min(m["box"][1] for m in membranes),
        max(m["box"][2] for m in membranes), max(m["box"][3] for m in membranes),
    )  # fmt: skip

    if crop_rectangle:
        cr = _stream(seed, "crop")
        assert forbidden is not None
        thick = int(crop_rectangle) if crop_rectangle is not True else int(cr.integers(1, 4))
        if not 1 <= thick <= 3:
            raise ValueError(f"crop_rectangle line width must be 1-3 px, got {crop_rectangle}")
        whole = mbox[0] <= 1 and mbox[1] <= 1 and mbox[2] >= w - 1 and mbox[3] >= h - 1
        pad = 4.0 if whole else -cr.uniform(4.0, 10.0)  # inside the image, or around the membrane
        bx0 = int(np.clip(mbox[0] + pad, 1, w - 2))
        by0 = int(np.clip(mbox[1] + pad, 1, h - 2))
        bx1 = int(np.clip(mbox[2] - pad, 1, w - 2))
        by1 = int(np.clip(mbox[3] - pad, 1, h - 2))
        mask = np.zeros((h, w), np.uint8)
        cv2.rectangle(mask, (bx0, by0), (bx1, by1), 255, thick, cv2.LINE_8)
        hit = (mask > 0) & forbidden
        clipped += int(np.count_nonzero(hit))
        mask[hit] = 0
        out_v = top * cr.uniform(0.85, 1.0) if mark_polarity == "bright" else 0.0
        img = np.where(mask > 0, render_level(out_v), img)
        lo_ = (thick - 1) // 2 + (thick - 1) % 2
        cbox = (float(bx0 - lo_), float(by0 - lo_), float(bx1 + lo_ + 1), float(by1 + lo_ + 1))
        marks.append({"kind": "crop_rectangle", "strip": None, "width_px": thick, "box": cbox})

    for b in band_list:
        b["row_observed"] = b["row"] + float(smile(centres[b["lane"]]))
        b["peak"] = b["amplitude"] * b.get("_fmax", 1.0) if not legacy else b["amplitude"]
        if legacy:
            b["saturated"] = bool(b["amplitude"] + background + illumination > top)
        else:
            b.setdefault("saturated", False)
        for key in ("amplitude", "_box", "_g", "_denom", "_fmax", "_contrib"):
            b.pop(key, None)

    if float_output:
        out: NDArray[Any] = img.copy()
        truth_saturated = float(np.mean(img >= top))
    else:
        noisy = img + rng.normal(0.0, noise_sigma, img.shape) if noise_sigma > 0 else img
        quant = np.clip(np.round(noisy), 0, top)
        truth_saturated = float(np.mean(quant >= top))
        if invert:
            quant = top - quant
        dtype = np.uint8 if bit_depth == 8 else np.uint16
        out = quant.astype(dtype)

    lanes = [
        {
            "index": i, "center": c, "left": c - widths[i] / 2.0, "right": c + widths[i] / 2.0,
            "width": widths[i], "smile_offset": float(smile(c)), "ladder": i == ladder_lane,
        }
        for i, c in enumerate(centres)
    ]  # fmt: skip
    strip_lanes = []
    for s, (r0, r1) in enumerate(strips):
        own = [b["row"] for b in measured if b["strip"] == s and not b["ladder"]]
        vref = float(np.mean(own)) if own else (r0 + r1) / 2.0
        row_lanes = []
        for ln in lanes:
            cx, cy = _apply(fwd_s[s], ln["center"], vref + float(smile(ln["center"])))
            lx, _ = _apply(fwd_s[s], ln["left"], vref + float(smile(ln["left"])))
            rx, _ = _apply(fwd_s[s], ln["right"], vref + float(smile(ln["right"])))
            row_lanes.append(
                {"index": ln["index"], "center": cx, "left": lx, "right": rx, "y": cy,
                 "row": vref, "ladder": ln["ladder"]}
            )  # fmt: skip
        strip_lanes.append(row_lanes)
    pivots = []
    for s, f2 in enumerate(fwd_s):
        a_ = f2[:, :2]
        r0, r1 = strips[s]
        if abs(strip_angles[s]) > 1e-12:
            p = np.linalg.solve(np.eye(2) - a_, f2[:, 2])
            pivots.append((float(p[0]), float(p[1])))
        else:
            pivots.append(_apply(f2, (mx0 + mx1) / 2.0, (r0 + r1) / 2.0))
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
        "band_shape": band_shape,
        "strip_lanes": strip_lanes,
        "strip_rotation_deg": strip_angles,
        "strip_pivots": pivots,
        "strip_transforms": [f2.tolist() for f2 in fwd_s],
        "membranes": membranes,
        "membrane_box": mbox,
        "off_membrane_level": float(off),
        "marks": marks,
        "marks_skipped": skipped,
        "marks_clipped_px": clipped,
        "ladder_side": ladder_side,
        "ladder_lanes": [] if ladder_lane is None else [ladder_lane],
        "exposure_gain": None if gain is None else (float(gain.min()), float(gain.max())),
    }
    return SyntheticImage(out, truth)


def to_rgba_png_array(
    image8: NDArray[Any],
    corner_radius: int,
    *,
    invert: bool = True,
    corners: str = "round",
) -> NDArray[np.uint8]:
    """An 8-bit grey image as the RGBA PNG some imager software exports: grey in R=G=B,
    optionally inverted (dark bands on light), and the corners cut away (alpha 0, RGB
    black under them), ``corners="round"`` (radius) or ``"cut"`` (45-degree chamfers).

    Why: such exports are common and their transparent corners are black in RGB, so a
    reader that drops alpha sees four black (after inversion: bright) corners.
    """
    if image8.dtype != np.uint8 or image8.ndim != 2:
        raise ValueError(f"image8 must be a 2-D uint8 image, got {image8.dtype} {image8.shape}")
    if corners not in ("round", "cut"):
        raise ValueError(f"corners must be 'round' or 'cut', got {corners!r}")
    h, w = image8.shape
    r = int(corner_radius)
    if r < 0 or 2 * r > min(h, w):
        raise ValueError(f"corner_radius {r} must be in [0, {min(h, w) // 2}]")
    grey = 255 - image8 if invert else image8
    opaque = rgba_opaque_mask((h, w), r, corners=corners)
    out = np.zeros((h, w, 4), np.uint8)
    out[..., :3] = np.where(opaque, grey, 0)[..., None]
    out[..., 3] = np.where(opaque, 255, 0)
    return out


def rgba_opaque_mask(
    shape: tuple[int, int], corner_radius: int, *, corners: str = "round"
) -> NDArray[np.bool_]:
    """True where :func:`to_rgba_png_array` keeps a pixel (outside the cut corners)."""
    h, w = shape
    r = float(corner_radius)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    dx = np.maximum(0.0, np.maximum(r - xx, xx - (w - r)))
    dy = np.maximum(0.0, np.maximum(r - yy, yy - (h - r)))
    if corners == "round":
        return np.asarray(dx**2 + dy**2 <= r**2 + 1e-9)
    return np.asarray(dx + dy <= r + 1e-9)


def make_gel(
    seed: int = 0,
    *,
    height: int = 700,
    width: int = 560,
    ladder_sizes: Sequence[float] = tuple(NEB_1KB_PLUS_MASS_NG),
    ladder_lanes: Sequence[int] = (0,),
    samples: dict[int, Sequence[tuple[float, ...]]] | None = None,
    n_lanes: int = 4,
    top_fraction: float = 0.12,
    bottom_fraction: float = 0.88,
    curvature: float = 0.08,
    ladder_total_volume: float = 400000.0,
    ladder_masses: Sequence[float] | None = None,
    primer_dimer: Mapping[int, float] | None = None,
    primer_dimer_bp: float = 45.0,
    primer_dimer_sigma: float = 9.0,
    wells: bool = False,
    **blot_kwargs: Any,
) -> SyntheticImage:
    """An agarose gel with ladder lanes and sample bands given in bp.

    Migration follows ``f = (log10(max) - log10(bp)) / (log10(max) - log10(min))``,
    bent by ``curvature`` (``row_fraction = top + (bottom - top) * (f + c f (1-f))``),
    so that a straight line in log10(bp) is not exact, as on real gels. The
    truth gets ``bp`` for every band and ``migration_model`` for checking sizing.
    ``samples[lane]`` is a list of ``(bp, volume)`` or ``(bp, volume, sigma_px)``.

    ``ladder_masses`` gives the relative mass of each ladder size (same order as
    ``ladder_sizes``; default: the NEB 1 kb Plus masses where a size matches,
    else 50). ``primer_dimer[lane]`` adds a diffuse haze of that volume (AU) at
    ``primer_dimer_bp`` with sigma ``primer_dimer_sigma`` px, as unused primers
    leave at the bottom of PCR lanes; its truth band has ``primer_dimer=True``.
    Sizes below the smallest ladder band extrapolate the migration model, so
    choose ``bottom_fraction`` to leave room for them on the gel.

    ``wells=True`` draws the comb's well row above the bands, as stained gels
    show it: in every lane, loaded or empty, a hole darker than the gel with a
    bright rim and a glow fading below it (unrotated gels only). The truth
    gets ``wells`` (the hole's rows) and ``well_glow_rows``: nothing there is
    a band.
    """
    sizes = sorted((float(s) for s in ladder_sizes), reverse=True)
    lmax, lmin = math.log10(sizes[0]), math.log10(sizes[-1])

    def row_fraction(bp: float) -> float:
        f = (lmax - math.log10(bp)) / (lmax - lmin)
        return top_fraction + (bottom_fraction - top_fraction) * (f + curvature * f * (1 - f))

    if ladder_masses is not None:
        if len(ladder_masses) != len(sizes):
            raise ValueError(
                f"ladder_masses has {len(ladder_masses)} values for {len(sizes)} ladder sizes"
            )
        by_size = dict(zip((float(s) for s in ladder_sizes), (float(m) for m in ladder_masses)))
        masses = [by_size[s] for s in sizes]
    else:
        masses = [NEB_1KB_PLUS_MASS_NG.get(round(s), 50.0) for s in sizes]
    scale = ladder_total_volume / sum(masses)
    lane_bands: list[list[tuple[float, ...]]] = [[] for _ in range(n_lanes)]
    bp_of: dict[tuple[int, int], float] = {}
    dimer_of: set[tuple[int, int]] = set()
    for lane in ladder_lanes:
        for s, m in zip(sizes, masses):
            bp_of[(lane, len(lane_bands[lane]))] = s
            lane_bands[lane].append((row_fraction(s), m * scale))
    for lane, items in (samples or {}).items():
        for item in items:
            bp, vol = float(item[0]), float(item[1])
            bp_of[(lane, len(lane_bands[lane]))] = bp
            extra: tuple[float, ...] = tuple(float(v) for v in item[2:3])
            lane_bands[lane].append((row_fraction(bp), vol, *extra))
    for lane, vol in (primer_dimer or {}).items():
        if vol > 0:
            key = (lane, len(lane_bands[lane]))
            bp_of[key] = float(primer_dimer_bp)
            dimer_of.add(key)
            lane_bands[lane].append(
                (row_fraction(float(primer_dimer_bp)), float(vol), float(primer_dimer_sigma))
            )
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
        band["ladder"] = band["lane"] in ladder_lanes and (band["lane"], k) not in dimer_of
        band["primer_dimer"] = (band["lane"], k) in dimer_of
    if wells:
        _draw_wells(result, top_fraction)
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


def _draw_wells(result: SyntheticImage, top_fraction: float) -> None:
    """Draw a well row (hole, rim, glow) in every lane of an unrotated gel (see make_gel)."""
    t = result.truth
    if t["rotation_deg"] or t.get("skew_px"):
        raise ValueError("make_gel(wells=True) draws wells on unrotated, unskewed gels only")
    img = np.asarray(result.image, dtype=np.float64)
    h = img.shape[0]
    top = float(t["saturation_value"])
    bg = float(t["background"])
    hh = max(6, round(0.022 * h))
    y0 = max(3, round(0.3 * top_fraction * h) - hh // 2)
    y1 = y0 + hh
    glow_len = max(10, round(1.2 * hh))
    bright = np.zeros_like(img)  # signal added in the band-bright frame
    for ln in t["lanes"]:
        half = 0.42 * float(ln["width"])
        a, b = round(ln["center"] - half), round(ln["center"] + half)
        bright[y0 - 2 : y1 + 2, a - 2 : b + 2] += 0.8 * bg + 10.0  # rim
        bright[y0:y1, a:b] = -0.65 * bg  # the hole: darker than the gel
        yy = np.arange(y1 + 2, min(h, y1 + 2 + glow_len))
        bright[yy, a:b] += (0.5 * bg + 6.0) * np.exp(-(yy - y1 - 2) / (0.4 * glow_len))[:, None]
    if t["polarity"] == "dark_bands_on_light":
        img = img - bright
    else:
        img = img + bright
    result.image = np.clip(np.round(img), 0, top).astype(result.image.dtype)
    t["wells"] = [y0, y1]
    t["well_glow_rows"] = [y0 - 2, min(h, y1 + 2 + glow_len)]
