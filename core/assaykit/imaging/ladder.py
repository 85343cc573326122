"""Size ladders: match detected ladder bands to nominal sizes, fit, and size bands.

Model
-----
Migration distance (the band row, px) is smooth and monotone in log10(size);
``log10(bp)`` is fitted as a function of migration by least squares with a
polynomial of degree 1 (``"linear"``) or 3 (``"cubic"``, default; agarose
gels bend the semi-log line at both ends), or interpolated piecewise-linearly
between neighbouring ladder bands (``"piecewise"``; exact at the ladder bands,
so its reported residuals are leave-one-out residuals). R² is computed in
log10(bp); the largest residual is reported in bp (and as a fraction).

Matching
--------
Detection may miss a faint ladder band or add an extra one (dust, a smear).
Every monotone assignment that drops up to ``max_missing`` sizes and up to
``max_extra`` detected bands is tried; each is scored by the R² of a cubic
(quadratic below 8 bands) fit of migration against log10(size) minus
``penalty`` per dropped size or band; the best wins. A cubic because real
agarose gels give an S-shaped semi-log curve: on the reference gel a quadratic
preferred a wrong assignment (two sizes dropped at the bottom instead of two
unresolved ones in the middle) that the cubic rejects. Geometry alone can be
fooled when bands are missing at one end rather than in the middle (both give
smooth curves), so when band ``volumes`` and expected relative ``masses`` are
given, ``mass_weight`` times the correlation of log volume with log mass is
added: the bright reference bands must land on bright bands.

Several ladder lanes
--------------------
With ladders in more than one lane, the migration of each ladder size is
interpolated linearly across the ladder lanes (by lane centre; constant
beyond the outermost ladders), so a lane between two ladders gets its own
calibration: this corrects smile and skew.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from assaykit.errors import AnalysisError

__all__ = [
    "NEB_1KB_PLUS_BP",
    "NEB_1KB_PLUS_REFERENCE_BP",
    "LadderFit",
    "LadderMatch",
    "MultiLaneCalibration",
    "fit_ladder",
    "match_ladder",
    "reference_masses",
]

log = logging.getLogger(__name__)

#: NEB 1 kb Plus DNA Ladder (N3200; Quick-Load Purple N0550), nominal sizes in bp.
NEB_1KB_PLUS_BP: tuple[int, ...] = (
    10000, 8000, 6000, 5000, 4000, 3000, 2000, 1500, 1200, 1000,
    900, 800, 700, 600, 500, 400, 300, 200, 100,
)  # fmt: skip

#: Its high-intensity reference bands (brighter than their neighbours on the gel).
NEB_1KB_PLUS_REFERENCE_BP: tuple[int, ...] = (3000, 1000, 500)

Model = Literal["cubic", "linear", "piecewise"]


def reference_masses(
    sizes: Sequence[float], reference: Sequence[float], ratio: float = 2.0
) -> tuple[float, ...]:
    """Relative masses when only the reference (bright) bands are known: ``ratio`` vs 1."""
    ref = {round(float(r), 6) for r in reference}
    return tuple(ratio if round(float(s), 6) in ref else 1.0 for s in sizes)


@dataclass(frozen=True)
class LadderMatch:
    """Which detected band (by index into the positions given) has which size."""

    positions: tuple[float, ...]
    sizes: tuple[float, ...]
    position_index: tuple[int, ...]
    missing_sizes: tuple[float, ...]
    extra_positions: tuple[float, ...]
    score: float


@dataclass(frozen=True)
class LadderFit:
    """A calibration from migration (row, px) to size (bp), with its quality."""

    model: Model
    positions: NDArray[np.float64]
    sizes: NDArray[np.float64]
    coefficients: tuple[float, ...]
    r_squared: float
    max_residual_bp: float
    max_residual_fraction: float
    residuals_bp: NDArray[np.float64]
    match: LadderMatch | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def log10_size(self, position: float | NDArray[Any]) -> NDArray[np.float64]:
        x = np.asarray(position, dtype=np.float64)
        if self.model == "piecewise":
            order = np.argsort(self.positions)
            xs, ys = self.positions[order], np.log10(self.sizes[order])
            # linear extrapolation from the end segments
            inside = np.interp(x, xs, ys)
            lo = ys[0] + (x - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0])
            hi = ys[-1] + (x - xs[-1]) * (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            return np.asarray(np.where(x < xs[0], lo, np.where(x > xs[-1], hi, inside)), np.float64)
        return np.asarray(np.polyval(self.coefficients, x), dtype=np.float64)

    def size_at(self, position: float) -> float:
        """Size (bp) of a band at migration ``position`` (px)."""
        return float(10.0 ** self.log10_size(position))

    def sizes_at(self, positions: Sequence[float] | NDArray[Any]) -> NDArray[np.float64]:
        return np.asarray(10.0 ** self.log10_size(np.asarray(positions, dtype=np.float64)))


def match_ladder(
    positions: Sequence[float],
    sizes: Sequence[float],
    *,
    max_missing: int = 3,
    max_extra: int = 2,
    penalty: float = 0.002,
    volumes: Sequence[float] | None = None,
    masses: Sequence[float] | None = None,
    mass_weight: float = 0.02,
) -> LadderMatch:
    """Assign ladder sizes to detected band positions (see module docs).

    ``positions`` are band rows (any order); larger sizes migrate less, so the
    largest size goes to the smallest row. Raises :class:`AnalysisError` when
    no assignment with at least 4 bands exists.
    """
    raw_pos = np.asarray(positions, dtype=np.float64)
    order = np.argsort(raw_pos)
    pos = raw_pos[order]
    size_order = np.argsort(-np.asarray(sizes, dtype=np.float64))
    sz = np.asarray(sizes, dtype=np.float64)[size_order]
    n_p, n_s = pos.size, sz.size
    use_mass = volumes is not None and masses is not None
    if use_mass:
        assert volumes is not None and masses is not None
        if len(volumes) != n_p or len(masses) != n_s:
            raise AnalysisError(
                f"ladder: {len(volumes)} volumes for {n_p} bands, "
                f"{len(masses)} masses for {n_s} sizes"
            )
        log_vol = np.log(np.clip(np.asarray(volumes, dtype=np.float64)[order], 1e-12, None))
        log_mass = np.log(np.clip(np.asarray(masses, dtype=np.float64)[size_order], 1e-12, None))
    best: tuple[float, tuple[int, ...], tuple[int, ...]] | None = None
    for n_extra in range(0, min(max_extra, n_p) + 1):
        n_keep = n_p - n_extra
        n_missing = n_s - n_keep
        if n_missing < 0 or n_missing > max_missing or n_keep < 4:
            continue
        # All kept-position subsets at once: one column per subset.
        keep_ps = list(itertools.combinations(range(n_p), n_keep))
        xp = pos[np.asarray(keep_ps)].T  # (n_keep, n_subsets)
        xc = xp - xp.mean(axis=0)
        ss_tot = np.sum(xc * xc, axis=0)
        if use_mass:
            lv = log_vol[np.asarray(keep_ps)].T
            lv = lv - lv.mean(axis=0)
            lv_norm = np.sqrt(np.sum(lv * lv, axis=0))
        deg = 3 if n_keep >= 8 else 2
        for keep_s in itertools.combinations(range(n_s), n_keep):
            ys = np.log10(sz[list(keep_s)])
            design = np.vander(ys, deg + 1)
            q, _ = np.linalg.qr(design)
            resid = xp - q @ (q.T @ xp)
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = np.where(ss_tot > 0, 1.0 - np.sum(resid * resid, axis=0) / ss_tot, -np.inf)
            score = r2 - penalty * (n_extra + n_missing)
            if use_mass:
                lm = log_mass[list(keep_s)]
                lm = lm - lm.mean()
                denom = lv_norm * float(np.sqrt(np.sum(lm * lm)))
                with np.errstate(divide="ignore", invalid="ignore"):
                    corr = np.where(denom > 0, (lm @ lv) / denom, 0.0)
                score = score + mass_weight * corr
            k = int(np.argmax(score))
            if best is None or score[k] > best[0]:
                best = (float(score[k]), keep_ps[k], keep_s)
    if best is None:
        raise AnalysisError(
            f"ladder: {n_p} bands cannot be matched to {n_s} sizes with at most "
            f"{max_missing} missing and {max_extra} extra bands"
        )
    best_score, keep_p, keep_s = best
    missing = tuple(float(sz[i]) for i in range(n_s) if i not in keep_s)
    extra = tuple(float(pos[i]) for i in range(n_p) if i not in keep_p)
    return LadderMatch(
        positions=tuple(float(pos[i]) for i in keep_p),
        sizes=tuple(float(sz[i]) for i in keep_s),
        position_index=tuple(int(order[i]) for i in keep_p),
        missing_sizes=missing,
        extra_positions=extra,
        score=float(best_score),
    )


def _fit(
    x: NDArray[np.float64], y: NDArray[np.float64], model: Model
) -> tuple[tuple[float, ...], NDArray[np.float64]]:
    """Coefficients and fitted log10 sizes (leave-one-out for piecewise)."""
    if model == "linear":
        c = np.polyfit(x, y, 1)
        return tuple(float(v) for v in c), np.asarray(np.polyval(c, x), dtype=np.float64)
    if model == "cubic":
        if x.size < 5:
            raise AnalysisError(f"ladder: a cubic fit needs at least 5 bands, got {x.size}")
        c = np.polyfit(x, y, 3)
        return tuple(float(v) for v in c), np.asarray(np.polyval(c, x), dtype=np.float64)
    if model == "piecewise":
        order = np.argsort(x)
        xs, ys = x[order], y[order]
        loo = np.empty_like(ys)
        for i in range(xs.size):
            xi = np.delete(xs, i)
            yi = np.delete(ys, i)
            if 0 < i < xs.size - 1:
                loo[i] = np.interp(xs[i], xi, yi)
            else:  # extrapolate from the nearest segment
                j0, j1 = (0, 1) if i == 0 else (-2, -1)
                loo[i] = yi[j0] + (xs[i] - xi[j0]) * (yi[j1] - yi[j0]) / (xi[j1] - xi[j0])
        fitted = np.empty_like(loo)
        fitted[order] = loo
        return (), fitted
    raise AnalysisError(
        f"unknown ladder model {model!r}; expected 'cubic', 'linear' or 'piecewise'"
    )


def fit_ladder(
    positions: Sequence[float],
    sizes: Sequence[float],
    *,
    model: Model = "cubic",
    match: bool = True,
    max_missing: int = 3,
    max_extra: int = 2,
    volumes: Sequence[float] | None = None,
    masses: Sequence[float] | None = None,
) -> LadderFit:
    """Fit a ladder. With ``match``, first assign sizes with :func:`match_ladder`.

    Without ``match``, ``positions`` and ``sizes`` must be paired already.
    """
    m: LadderMatch | None = None
    if match:
        m = match_ladder(
            positions,
            sizes,
            max_missing=max_missing,
            max_extra=max_extra,
            volumes=volumes,
            masses=masses,
        )
        x = np.asarray(m.positions, dtype=np.float64)
        s = np.asarray(m.sizes, dtype=np.float64)
    else:
        x = np.asarray(positions, dtype=np.float64)
        s = np.asarray(sizes, dtype=np.float64)
        if x.size != s.size:
            raise AnalysisError(f"ladder: {x.size} positions but {s.size} sizes")
    if x.size < 3:
        raise AnalysisError(f"ladder: at least 3 matched bands are needed, got {x.size}")
    y = np.log10(s)
    coeffs, fitted = _fit(x, y, model)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - fitted) ** 2)) / ss_tot if ss_tot > 0 else 0.0
    resid_bp = 10.0**fitted - s
    k = int(np.argmax(np.abs(resid_bp)))
    return LadderFit(
        model=model,
        positions=x,
        sizes=s,
        coefficients=coeffs,
        r_squared=r2,
        max_residual_bp=float(abs(resid_bp[k])),
        max_residual_fraction=float(np.max(np.abs(resid_bp) / s)),
        residuals_bp=resid_bp,
        match=m,
        params={"model": model, "max_missing": max_missing, "max_extra": max_extra},
    )


@dataclass(frozen=True)
class MultiLaneCalibration:
    """Ladder fits of several lanes, combined into a per-lane calibration.

    ``ladders`` maps each ladder lane's centre (px) to its fit. For a lane at
    ``x``, each size's migration is interpolated linearly between the ladder
    lanes (constant beyond the outermost ones), using the sizes all ladders
    share, and refitted with the ladders' model.
    """

    ladders: dict[float, LadderFit]

    def fit_for(self, x: float) -> LadderFit:
        if not self.ladders:
            raise AnalysisError("no ladder lanes to calibrate from")
        xs = sorted(self.ladders)
        if len(xs) == 1:
            return self.ladders[xs[0]]
        common = set.intersection(*(set(np.round(f.sizes, 6)) for f in self.ladders.values()))
        sizes = sorted(common, reverse=True)
        if len(sizes) < 4:
            raise AnalysisError(f"ladder lanes share only {len(sizes)} matched sizes; need 4")
        positions = []
        for size in sizes:
            per_lane = []
            for lx in xs:
                f = self.ladders[lx]
                i = int(np.argmin(np.abs(f.sizes - size)))
                per_lane.append(f.positions[i])
            positions.append(float(np.interp(x, xs, per_lane)))
        model = self.ladders[xs[0]].model
        return fit_ladder(positions, sizes, model=model, match=False)

    def size_at(self, x: float, position: float) -> float:
        """Size (bp) of a band at row ``position`` in the lane centred at ``x``."""
        return self.fit_for(x).size_at(position)

    def size_or_nearest(self, x: float, position: float) -> float:
        """:meth:`size_at`, or, when the ladders cannot be combined (they share fewer than
        4 matched sizes), the size from the fit of the ladder lane nearest ``x``."""
        try:
            return self.size_at(x, position)
        except AnalysisError:
            if not self.ladders:
                raise
            nearest = min(self.ladders, key=lambda lx: abs(lx - x))
            return self.ladders[nearest].size_at(position)
