"""Sizing bands on a whole gel: ladder quality, smile from shared bands, per-lane calibration.

Why a module of its own: :mod:`assaykit.imaging.ladder` turns one ladder lane
into a calibration; a gel needs more than that. Sample lanes sit between
ladder lanes, the gel may smile (bands bend down towards both edges), and a
lane may run a little further than its neighbours. This module combines the
pieces, for any assay that sizes DNA bands (MSP, genotyping PCR, ...).

Smile from tracks
-----------------
Ladders in the two outer lanes see the same offset under a symmetric smile, so
interpolating between them cannot correct it (it only corrects a linear skew).
But a gel usually carries the *same molecule in many lanes*: each ladder size
in every ladder lane, the same PCR product in every lane of one primer pair,
the primer-dimer front. A **track** is one such molecule: its row in each
lane where it was found. :func:`fit_track_smile` fits, by robust (Huber) least
squares, ``row(track j, lane at x) = r_j + s(x)``: one free row per track
plus one smooth curve ``s`` (a polynomial in ``x`` without constant term,
degree 2 by default) shared by all tracks. The curve is the smile (and skew);
subtracting it from every row, ladder rows included, puts all lanes in one
frame. A track contributes only where it was seen in two lanes or more; a
band assigned to the wrong track is down-weighted by the Huber loss.

Leave-one-out quality
---------------------
A piecewise ladder is exact at its bands, so its residuals are leave-one-out
ones; at the two end bands leaving one out means *extrapolating*, which
measures the gel's curvature, not the fit (on a real 1 kb Plus gel the 100 bp
end band comes out 40 % off this way while every interior band is within a
few %). :func:`ladder_quality` therefore reports, for ``"piecewise"`` fits,
R² and the largest residual over the interior bands only; for polynomial fits,
over all bands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from assaykit.errors import AnalysisError
from assaykit.imaging.geometry import LaneRegistration, SmileModel
from assaykit.imaging.ladder import LadderFit, MultiLaneCalibration, fit_ladder

__all__ = [
    "GelSizer",
    "LadderQuality",
    "fit_track_smile",
    "ladder_quality",
    "shift_ladder",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LadderQuality:
    """R² (in log10 bp) and the largest residual of a ladder fit (see module docs)."""

    r_squared: float
    max_residual_bp: float
    max_residual_fraction: float
    n_bands: int
    interior_only: bool


def ladder_quality(fit: LadderFit) -> LadderQuality:
    """Quality of a ladder fit; interior bands only for piecewise fits (module docs)."""
    sizes = np.asarray(fit.sizes, dtype=np.float64)
    resid = np.asarray(fit.residuals_bp, dtype=np.float64)
    interior = fit.model == "piecewise" and sizes.size >= 5
    if interior:
        order = np.argsort(fit.positions)
        keep = order[1:-1]
        sizes, resid = sizes[keep], resid[keep]
    y = np.log10(sizes)
    fitted = np.log10(np.clip(sizes + resid, 1e-9, None))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - fitted) ** 2)) / ss_tot if ss_tot > 0 else 0.0
    k = int(np.argmax(np.abs(resid))) if resid.size else 0
    return LadderQuality(
        r_squared=r2,
        max_residual_bp=float(abs(resid[k])) if resid.size else 0.0,
        max_residual_fraction=float(np.max(np.abs(resid) / sizes)) if resid.size else 0.0,
        n_bands=int(fit.sizes.size),
        interior_only=interior,
    )


def fit_track_smile(
    tracks: Sequence[Mapping[float, float]],
    *,
    degree: int = 2,
    huber_k: float = 1.5,
    min_scale: float = 0.5,
    max_iter: int = 25,
) -> SmileModel | None:
    """Fit one smooth vertical offset ``s(x)`` shared by all tracks (see module docs).

    ``tracks[j]`` maps a lane centre (px) to the row (px) where molecule ``j``
    was found in that lane. Returns ``None`` when the tracks cannot determine
    even a linear term (fewer than two lanes per track, or a single lane
    position in all). The degree is lowered when the lane positions cannot
    support it. ``huber_k`` is the Huber threshold in units of the robust
    residual scale (at least ``min_scale`` px).

    The returned :class:`~assaykit.imaging.geometry.SmileModel` has one entry
    per distinct lane position: ``raw_offsets`` are what the tracks say at that
    lane (median residual plus the curve), ``offsets`` the fitted curve, and
    ``coefficients`` are for ``numpy.polyval`` in image columns, with the
    constant chosen so that the median lane's offset is 0.
    """
    used = [
        {float(x): float(r) for x, r in t.items() if np.isfinite(r)} for t in tracks if len(t) >= 2
    ]
    used = [t for t in used if len(t) >= 2]
    if not used:
        return None
    xs_all = sorted({x for t in used for x in t})
    if len(xs_all) < 2:
        return None
    mid = 0.5 * (xs_all[0] + xs_all[-1])
    half = max(0.5 * (xs_all[-1] - xs_all[0]), 1.0)
    obs: list[tuple[int, float, float]] = [
        (j, x, r) for j, t in enumerate(used) for x, r in t.items()
    ]
    n_t = len(used)
    u = np.array([(x - mid) / half for _, x, _ in obs])
    y = np.array([r for _, _, r in obs])
    onehot = np.zeros((len(obs), n_t))
    onehot[np.arange(len(obs)), [j for j, _, _ in obs]] = 1.0
    deg = max(1, int(degree))
    design = None
    while deg >= 1:
        cand = np.hstack([onehot, np.stack([u**k for k in range(1, deg + 1)], axis=1)])
        if np.linalg.matrix_rank(cand) == cand.shape[1] and len(obs) > cand.shape[1]:
            design = cand
            break
        deg -= 1
    if design is None:
        return None
    w = np.ones(len(obs))
    beta = np.zeros(design.shape[1])
    for _ in range(max_iter):
        sw = np.sqrt(w)
        beta_new, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
        resid = y - design @ beta_new
        scale = max(min_scale, 1.4826 * float(np.median(np.abs(resid))))
        a = np.abs(resid) / (huber_k * scale)
        w = np.where(a <= 1.0, 1.0, 1.0 / np.maximum(a, 1e-12))
        if np.allclose(beta_new, beta, atol=1e-4):
            beta = beta_new
            break
        beta = beta_new
    curve_c = beta[n_t:]  # coefficients of u, u^2, ...

    def curve(x: NDArray[np.float64]) -> NDArray[np.float64]:
        uu = (np.asarray(x, dtype=np.float64) - mid) / half
        return np.asarray(sum(c * uu ** (k + 1) for k, c in enumerate(curve_c)), np.float64)

    xs = np.asarray(xs_all)
    fitted = curve(xs)
    shift = float(np.median(fitted))
    resid = y - design @ beta
    raw = []
    for x in xs_all:
        sel = [i for i, (_, xo, _) in enumerate(obs) if xo == x]
        raw.append(float(np.median(resid[sel]) + curve(np.array([x]))[0] - shift))
    # polynomial in raw x: sum c_k ((x - mid)/half)^k - shift
    poly = np.poly1d([0.0])
    base = np.poly1d([1.0 / half, -mid / half])
    for k, c in enumerate(curve_c):
        poly = poly + c * base ** (k + 1)
    poly = poly - shift
    return SmileModel(
        lane_centers=[float(x) for x in xs_all],
        raw_offsets=raw,
        offsets=[float(v) for v in fitted - shift],
        coefficients=tuple(float(v) for v in poly.coefficients),
    )


def shift_ladder(fit: LadderFit, offset: float) -> LadderFit:
    """The same matched ladder with every band row moved by ``-offset`` px, refitted.

    Used to put a ladder lane into the smile-corrected frame.
    """
    if offset == 0.0:
        return fit
    refit = fit_ladder(
        [float(p) - offset for p in fit.positions],
        [float(v) for v in fit.sizes],
        model=fit.model,
        match=False,
    )
    return LadderFit(
        model=refit.model,
        positions=refit.positions,
        sizes=refit.sizes,
        coefficients=refit.coefficients,
        r_squared=refit.r_squared,
        max_residual_bp=refit.max_residual_bp,
        max_residual_fraction=refit.max_residual_fraction,
        residuals_bp=refit.residuals_bp,
        match=fit.match,
        params=dict(fit.params),
    )


@dataclass
class GelSizer:
    """Row -> bp for any lane of a gel: smile correction, then ladder interpolation.

    ``ladders`` maps each ladder lane's centre (px) to its fit on *raw* rows.
    ``smile`` (optional) is subtracted from every row, ladder rows included,
    before calibrating. ``registrations`` maps a lane centre to (ladder centre,
    registration onto that ladder lane); such a lane is sized with that
    ladder alone, after mapping its rows into the ladder lane's frame.
    Otherwise a lane at ``x`` is sized with
    :class:`~assaykit.imaging.ladder.MultiLaneCalibration` (linear
    interpolation between the ladder lanes around it).
    """

    ladders: dict[float, LadderFit]
    smile: SmileModel | None = None
    registrations: dict[float, tuple[float, LaneRegistration]] = field(default_factory=dict)
    _corrected: dict[float, LadderFit] = field(default_factory=dict, init=False, repr=False)
    _cache: dict[float, LadderFit] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.ladders:
            raise AnalysisError("no ladder lane to size bands with")
        self._corrected = {
            x: shift_ladder(f, self.offset_at(x)) for x, f in sorted(self.ladders.items())
        }

    def offset_at(self, x: float) -> float:
        """Smile offset (px) at column ``x``; 0 without a smile model."""
        return self.smile.offset_at(x) if self.smile is not None else 0.0

    def corrected_ladders(self) -> dict[float, LadderFit]:
        """The ladder fits in the smile-corrected frame, by lane centre."""
        return dict(self._corrected)

    def fit_for(self, x: float) -> LadderFit:
        """The calibration (smile-corrected frame) for a lane centred at ``x``."""
        key = round(float(x), 3)
        if key not in self._cache:
            self._cache[key] = MultiLaneCalibration(self._corrected).fit_for(float(x))
        return self._cache[key]

    def size_at(self, x: float, row: float) -> float:
        """Size (bp) of a band at ``row`` in the lane centred at ``x``."""
        reg = self.registrations.get(round(float(x), 3))
        if reg is not None:
            ladder_x, r = reg
            ref_row = r.to_reference(row)
            return self._corrected[ladder_x].size_at(ref_row - self.offset_at(ladder_x))
        return self.fit_for(x).size_at(row - self.offset_at(x))

    def sizes_at(
        self, x: float, rows: Sequence[float] | NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Sizes (bp) at many rows of the lane centred at ``x`` (e.g. to shade a size window)."""
        r = np.asarray(rows, dtype=np.float64)
        reg = self.registrations.get(round(float(x), 3))
        if reg is not None:
            ladder_x, rg = reg
            ref = (r - rg.shift) / rg.scale
            return self._corrected[ladder_x].sizes_at(ref - self.offset_at(ladder_x))
        return self.fit_for(x).sizes_at(r - self.offset_at(x))

    def register(self, x: float, ladder_x: float, registration: LaneRegistration) -> None:
        """Size the lane at ``x`` through ``registration`` onto the ladder lane at ``ladder_x``."""
        if ladder_x not in self._corrected:
            raise AnalysisError(f"no ladder lane at x={ladder_x:.1f} to register onto")
        self.registrations[round(float(x), 3)] = (ladder_x, registration)
