"""Band volumes over a lane profile: baselines, detection limits, background structure.

Shared by the imaging assays (``western_blot``, ``msp_gel``): the volume of a band is
measured on the straightened image *without* the 2-D background, as the sum over the
band rectangle of pixel values minus a baseline under the band's lane profile
(parameter ``volume_baseline`` of :class:`~assaykit.imaging.assay.ImagingParams`):

``edges_quadratic``
    a least-squares parabola through the profile rows on both sides of the band (as
    many rows on each side as the band is tall, ``baseline_rows`` times; never into a
    neighbouring band). Why: a rolling ball sits too high on a sloping background, a
    straight line between the band edges cuts a curved one (uneven illumination), and
    the wider windows average the noise. With fewer clean rows on a side than
    ``edge_rows`` or half the window, the straight line below is used.
``edges_linear``
    a straight line through up to ``edge_rows`` clean rows on each side (touching
    bands: the row just past the valley); :func:`assaykit.imaging.bands.edge_baseline`.
``minima``, ``hull``
    :func:`assaykit.imaging.background.profile_baseline` of the lane profile.

Every reported volume is then compared with its detection limit
(:func:`detection_limit`); one not above it is an absent band, volume 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from assaykit.imaging.assay import ImagingParams
from assaykit.imaging.background import profile_baseline
from assaykit.imaging.bands import Band, edge_baseline, lane_profile, robust_noise
from assaykit.imaging.geometry import Lane
from assaykit.imaging.pipeline import PreparedImage, Strip

__all__ = [
    "DETECTION_SIGMAS",
    "STRUCTURE_MARGIN",
    "STRUCTURE_TOLERANCE",
    "background_structure",
    "background_text",
    "barriers",
    "baseline_share",
    "detection_limit",
    "integrate_rows",
    "integration_baseline",
    "judged",
    "remeasure",
    "volume_spec",
    "with_structure",
]


def background_text(prepared: PreparedImage, params: ImagingParams) -> str:
    """One line naming the 2-D background and the volume baseline, with every parameter
    (the shared ``background`` metric)."""
    p = prepared.background.params
    bg = ", ".join(f"{k}={v}" for k, v in p.items())
    if params.volume_baseline == "edges_quadratic":
        vol = (
            f"band_edges_quadratic(rows each side={params.baseline_rows:g} x band height, "
            f"stopping at neighbouring bands; band_edges_linear(edge_rows={params.edge_rows}) "
            f"when fewer than {params.edge_rows} rows)"
        )
    elif params.volume_baseline == "edges_linear":
        vol = f"band_edges_linear(edge_rows={params.edge_rows})"
    else:
        vol = f"profile_{params.volume_baseline}(window=3% of strip height, at least 8 rows)"
    return (
        f"volume baseline: {vol} on the image without 2-D background; "
        f"band detection on: {prepared.background.method}({bg})"
    )


def _quadratic(
    signal: NDArray[np.float64], top: int, bottom: int, above: int, below: int, k: int
) -> NDArray[np.float64] | None:
    """Parabola fitted to rows ``above..top-1`` and ``bottom+1..below-1``, evaluated under
    the band; None when a side has fewer than ``k`` rows."""
    idx = np.r_[above:top, bottom + 1 : below]
    if top - above < k or below - bottom - 1 < k:
        return None
    centre = 0.5 * (top + bottom)
    coef = np.polyfit(idx - centre, signal[idx], 2)
    return np.asarray(np.polyval(coef, np.arange(top, bottom + 1) - centre), dtype=np.float64)


#: A neighbouring band in the lane limits a band's baseline rows only when its volume is at
#: least this share of the band's (as find_bands measured both).
BARRIER_SHARE = 0.1


def barriers(band: Band, others: Sequence[Band]) -> list[Band]:
    """The other bands of the lane that a band's baseline rows must stop at.

    Why not all of them: on a mottled membrane band detection also finds bumps of the
    background (2-4 % of a target band) right beside it; stopping the baseline there left
    one clean row on a side and a straight-line baseline 7.6 % off
    (tests/helpers/messy_blots.py ``ladder_left``). A bump that small, inside the fitted
    rows, moves the quadratic baseline by about 1 % of the band. A band without a
    volume of its own (integrated where the others sit) stops at every neighbour.
    """
    if not band.volume > 0:
        return list(others)
    return [o for o in others if o.volume >= BARRIER_SHARE * band.volume]


def integration_baseline(
    prepared: PreparedImage,
    strip: Strip,
    band: Band,
    params: ImagingParams,
    others: Sequence[Band] = (),
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Rows, lane profile and the baseline under one band, exactly as integrated.

    ``others`` are the other bands of the lane: the quadratic baseline's rows
    stop at their edges. Why one function: the volume and the QC figure's
    shaded area both come from here, so that what a person sees is the number
    reported.
    """
    r0, r1 = strip.rows
    cols = slice(band.left, band.right)
    signal = prepared.data[r0:r1, cols].astype(np.float64).sum(axis=1)
    t, b = band.top - r0, band.bottom - r0 - 1
    base: NDArray[np.float64] | None = None
    if params.volume_baseline in ("edges_quadratic", "edges_linear"):
        k = max(params.edge_rows, round(params.baseline_rows * (b - t + 1)))
        above, below = max(0, t - k), min(signal.size, b + 1 + k)
        for o in barriers(band, others):  # clean rows only: stop at neighbouring bands
            if o.bottom <= band.top:
                above = max(above, o.bottom - r0)
            elif o.top >= band.bottom:
                below = min(below, o.top - r0)
        n_above, n_below = t - above, below - b - 1
        if params.volume_baseline == "edges_quadratic":
            need = max(params.edge_rows, k // 2)
            if n_above >= need and n_below >= need:
                base = _quadratic(signal, t, b, above, below, 1)
        if base is None:
            # a straight line through up to edge_rows clean rows on each side; touching
            # bands (valley to valley) get the row just past the valley
            have = [n for n, edge in ((n_above, t), (n_below, signal.size - 1 - b)) if edge > 0]
            kk = max(1, min([params.edge_rows, *have]))
            base = edge_baseline(signal, t, b, kk)
    else:
        win = max(8, int(0.03 * signal.size))
        method: Literal["minima", "hull"] = (
            "minima" if params.volume_baseline == "minima" else "hull"
        )
        full, _ = profile_baseline(signal, method, window=win)
        base = full[t : b + 1]
    rows = np.arange(band.top, band.bottom, dtype=np.float64)
    return rows, signal[t : b + 1], base


def volume_spec(params: ImagingParams) -> dict[str, Any]:
    """The volume baseline as recorded on every band (``Band.background["volume"]``)."""
    method = {
        "edges_quadratic": "band_edges_quadratic",
        "edges_linear": "band_edges_linear",
        "minima": "profile_minima",
        "hull": "profile_hull",
    }[params.volume_baseline]
    p: dict[str, Any] = {"edge_rows": params.edge_rows}
    if params.volume_baseline == "edges_quadratic":
        p["baseline_rows"] = params.baseline_rows
    return {"method": method, "params": p}


def remeasure(
    prepared: PreparedImage,
    strip: Strip,
    band: Band,
    others: Sequence[Band],
    params: ImagingParams,
    extent: tuple[float, float] | None = None,
) -> Band:
    """The band with its volume from :func:`integration_baseline` (the plugin's baseline).

    ``extent`` ``(above, below)``: rows the band reaches above and below its
    peak in the other lanes of its target. The band's rows are widened to at
    least that (never into a neighbouring band or out of the strip). Why: in a
    weak band the edge walk stops early, in the noise, and the tails it leaves
    out (several % of a faint band) are then also fitted as baseline.
    """
    top, bottom = band.top, band.bottom
    if extent is not None:
        lo, hi = strip.start, strip.stop
        for o in barriers(band, others):
            if o.bottom <= band.top:
                lo = max(lo, o.bottom)
            elif o.top >= band.bottom:
                hi = min(hi, o.top)
        top = max(lo, min(top, int(np.floor(band.row - extent[0]))))
        bottom = min(hi, max(bottom, int(np.ceil(band.row + extent[1])) + 1))
    box = prepared.saturated[top:bottom, band.left : band.right]
    n_sat = int(np.count_nonzero(box))
    widened = dataclasses.replace(
        band,
        top=top,
        bottom=bottom,
        saturated=n_sat > 0,
        saturated_fraction=n_sat / box.size if box.size else 0.0,
    )
    _, sig, base = integration_baseline(prepared, strip, widened, params, others)
    info = dict(band.background)
    info["volume"] = volume_spec(params)
    band = dataclasses.replace(widened, background=info)
    return with_structure(
        judged(prepared, strip, band, sig - base, params), prepared, strip, others, params
    )


#: Multiple of the noise of a band's integrated volume that a volume must exceed to count
#: as a band (a 3-sigma limit of detection, as in IUPAC's LOD).
DETECTION_SIGMAS = 3.0


def baseline_share(rows: int, params: ImagingParams) -> float:
    """``g``: the white-noise variance of the baseline summed under a band of ``rows`` rows,
    as a multiple of that of the band rows themselves (``rows x noise**2``).

    The baseline is fitted to profile rows beside the band, so their noise
    enters the volume too: for the default quadratic through as many rows as
    the band on each side ``g`` is about 2 (the volume's noise is then
    ``sqrt(3)`` times that of the band rows alone), for a straight line through
    the means of ``edge_rows`` rows ``rows / (2 x edge_rows)``. Computed for
    the baseline's nominal rows (not cut short by neighbouring bands).
    """
    n = max(1, rows)
    if params.volume_baseline == "edges_quadratic":
        k, deg = max(params.edge_rows, round(params.baseline_rows * n)), 2
    else:  # 'edges_linear'; 'minima' and 'hull' are approximated by it
        k, deg = params.edge_rows, 1
    centre = 0.5 * (n - 1)
    fit_rows = np.r_[-k:0, n : n + k].astype(np.float64) - centre
    under = np.arange(n, dtype=np.float64) - centre
    weights = (np.vander(under, deg + 1) @ np.linalg.pinv(np.vander(fit_rows, deg + 1))).sum(0)
    return float(np.sum(weights**2) / n)


def detection_limit(
    prepared: PreparedImage, strip: Strip, band: Band, params: ImagingParams
) -> tuple[float, float, float]:
    """``(limit, noise, g)``: the detection limit (AU) of a volume over ``band``'s rectangle.

    ``limit = 3 x noise x sqrt(rows x (1 + g))``. ``noise`` is that of the
    lane profile through the band's columns (each row the sum of its pixels;
    1.4826 MAD of row-to-row differences / sqrt 2, over the whole strip, so
    the bands themselves hardly count); ``rows`` the band's height; ``g``
    the baseline's share (:func:`baseline_share`). A volume is the sum of
    ``rows`` profile values minus the baseline under them, so its noise is
    ``noise x sqrt(rows x (1 + g))``. Without the baseline term (the same as
    3 x the column-mean noise x sqrt(rows) x cols) empty generated lanes
    measured up to 1.5 limits. Why from the profile and not a fixed number:
    the limit follows the exposure, the bit depth and the band's size.
    """
    r0, r1 = strip.rows
    prof = prepared.data[r0:r1, band.left : band.right].astype(np.float64).sum(axis=1)
    noise = robust_noise(prof)
    rows = max(1, band.bottom - band.top)
    g = baseline_share(rows, params)
    return DETECTION_SIGMAS * noise * float(np.sqrt(rows * (1.0 + g))), noise, g


def judged(
    prepared: PreparedImage,
    strip: Strip,
    band: Band,
    net: NDArray[np.float64],
    params: ImagingParams,
) -> Band:
    """``band`` with its volume from the baseline-subtracted profile ``net``, or 0 when that
    is not above the detection limit (recorded in ``background["detection"]``)."""
    measured = float(np.sum(net))
    limit, noise, g = detection_limit(prepared, strip, band, params)
    below = not (measured > limit and measured > 0)
    info = dict(band.background)
    info["detection"] = {
        "limit_au": limit,
        "noise_au": noise,
        "rows": band.bottom - band.top,
        "baseline_share": g,
        "sigmas": DETECTION_SIGMAS,
        "measured_au": measured,
        "below": below,
    }
    return dataclasses.replace(band, volume=0.0 if below else measured, background=info)


def integrate_rows(
    prepared: PreparedImage,
    strip: Strip,
    lane: Lane,
    top: int,
    bottom: int,
    params: ImagingParams,
    bg_info: dict[str, Any],
    others: Sequence[Band],
) -> Band:
    """A 'band' over given rows (no peak was found there): volume, SNR and saturation.

    Its volume is 0 unless it is above the detection limit (:func:`detection_limit`)."""
    r0, r1 = strip.rows
    det = lane_profile(
        prepared.detect,
        lane,
        rows=(r0, r1),
        margin=params.lane_margin,
        baseline="minima",
        neighbours=strip.lane_list,
    )
    n = det.signal.size
    t = int(np.clip(top - r0, 0, n - 2))
    b = int(np.clip(bottom - r0 - 1, t + 1, n - 1))
    probe = Band(
        lane=lane.index, row=0.0, centroid=0.0, top=r0 + t, bottom=r0 + b + 1,
        left=det.col_start, right=det.col_stop, volume=0.0, peak_height=0.0, prominence=0.0,
        snr=0.0, saturated=False, saturated_fraction=0.0, background=bg_info,
    )  # fmt: skip
    _, sig, base = integration_baseline(prepared, strip, probe, params, others)
    corr = det.corrected[t : b + 1]
    k = int(np.argmax(corr))
    peak = float(corr[k])
    noise = max(det.noise, 1e-12)
    box = prepared.saturated[r0 + t : r0 + b + 1, det.col_start : det.col_stop]
    n_sat = int(np.count_nonzero(box))
    band = Band(
        lane=lane.index,
        row=float(r0 + t + k),
        centroid=float(r0 + 0.5 * (t + b)),
        top=r0 + t,
        bottom=r0 + b + 1,
        left=det.col_start,
        right=det.col_stop,
        volume=0.0,
        peak_height=peak,
        prominence=0.0,
        snr=peak / noise,
        saturated=n_sat > 0,
        saturated_fraction=n_sat / box.size if box.size else 0.0,
        background=bg_info,
    )
    return with_structure(
        judged(prepared, strip, band, sig - base, params), prepared, strip, others, params
    )


#: The baseline under a band can be off by this many times the background structure
#: measured beside it (:func:`background_structure`); the worst seen on the messy
#: generated blots (tests/helpers/messy_blots.py) was 6.6 times, at 1.2 % of the volume.
STRUCTURE_MARGIN = 5.0
#: Volumes whose ``STRUCTURE_MARGIN x`` structure exceeds this share of them fail QC.
STRUCTURE_TOLERANCE = 0.05


def background_structure(
    prepared: PreparedImage,
    strip: Strip,
    band: Band,
    params: ImagingParams,
    others: Sequence[Band] = (),
) -> float | None:
    """AU: how far the background beside a band departs from the volume baseline's model,
    summed over the band's rows (None when too few rows are fitted to tell).

    The quadratic baseline is fitted to the lane-profile rows above and below the band
    (:func:`integration_baseline`); its residual there beyond the profile's white noise,
    ``sqrt(max(0, rms**2 - noise**2))`` per row, times the band's rows, is background
    the model does not follow (membrane mottle, a glow, a stain at the band's scale).
    Why: such structure shifts the baseline under the band by the same order or more,
    while the white-noise detection limit and SNR do not see it; on the messy generated
    blots bands 0.6-1.4 million AU came out 6-14 % off with an SNR of 130-500.
    """
    r0, r1 = strip.rows
    signal = prepared.data[r0:r1, band.left : band.right].astype(np.float64).sum(axis=1)
    t, b = band.top - r0, band.bottom - r0 - 1
    k = max(params.edge_rows, round(params.baseline_rows * (b - t + 1)))
    above, below = max(0, t - k), min(signal.size, b + 1 + k)
    for o in barriers(band, others):
        if o.bottom <= band.top:
            above = max(above, o.bottom - r0)
        elif o.top >= band.bottom:
            below = min(below, o.top - r0)
    idx = np.r_[above:t, b + 1 : below]
    if idx.size < 8 or t - above < 3 or below - b - 1 < 3:
        return None
    centre = 0.5 * (t + b)
    coef = np.polyfit(idx - centre, signal[idx], 2)
    res = signal[idx] - np.polyval(coef, idx - centre)
    rms2 = float(np.sum(res**2)) / (idx.size - 3)
    noise = robust_noise(signal)
    return float(np.sqrt(max(0.0, rms2 - noise**2))) * (b - t + 1)


def with_structure(
    band: Band, prepared: PreparedImage, strip: Strip, others: Sequence[Band], params: ImagingParams
) -> Band:
    """``band`` with :func:`background_structure` in ``background["detection"]``."""
    d = band.background.get("detection")
    if not isinstance(d, dict):
        return band
    info = dict(band.background)
    info["detection"] = {
        **d,
        "structure_au": background_structure(prepared, strip, band, params, others),
    }
    return dataclasses.replace(band, background=info)


def measure_volume(
    prepared: PreparedImage,
    strip: Strip,
    band: Band,
    others: Sequence[Band],
    params: ImagingParams,
) -> Band:
    """``band`` with its volume over its own rows from :func:`integration_baseline`
    (``params.volume_baseline``), recorded in ``background["volume"]``; no detection
    limit is applied (that is :func:`remeasure`)."""
    _, sig, base = integration_baseline(prepared, strip, band, params, others)
    info = {**band.background, "volume": volume_spec(params)}
    return dataclasses.replace(band, volume=float(np.sum(sig - base)), background=info)
