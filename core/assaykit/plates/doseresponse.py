"""Dose-response science for viability plates (MTT, CCK-8, resazurin): normalise, fit, QC.

What a lab does in a spreadsheet and GraphPad Prism, with every choice written down:

1. **Blank subtraction** (:func:`blank_subtract`): the mean signal of the medium-only
   wells is subtracted from every well.
2. **% of vehicle** (:func:`percent_of_vehicle`): 100 × blank-corrected signal / the mean
   blank-corrected signal of the vehicle (dose 0) wells of the same cell line.
3. **Fit** (:func:`fit_dose_response`): a four-parameter logistic on ``x = log10(dose)``,
   fitted by unweighted least squares to every well (not to the replicate means)::

       y = bottom + (top - bottom) / (1 + 10 ** ((x - log10_ic50) * hill))

   ``top`` is the low-dose plateau, ``bottom`` the high-dose plateau, and ``hill`` is
   positive for a response that falls with dose (GraphPad's ``HillSlope`` is ``-hill``).
   The IC50 is the *relative* IC50: the dose halfway between ``top`` and ``bottom``.
   Relation to R's ``SSfpl(x, A, B, xmid, scal)`` = ``A + (B - A) / (1 + exp((xmid - x) /
   scal))``: ``log10_ic50 = xmid``, ``{top, bottom} = {A, B}`` and
   ``hill = sign(A - B) / (scal * ln 10)``.

   *Starting values* follow ``SSfpl``'s idea: the model is linear in ``top`` and
   ``bottom`` once ``log10_ic50`` and ``hill`` are fixed, so a grid over those two
   (IC50 from one decade below to one decade above the tested doses, hill 0.3 to 5)
   is searched with ``top``/``bottom`` solved exactly by linear least squares; the best
   grid point starts ``scipy.optimize.least_squares`` (trust-region reflective; hill kept
   in :data:`HILL_BOUNDS`, log10 IC50 within 3 decades of the tested range).

   *Three-parameter fallback* (``model="auto"``, the default): the 4PL is kept when the
   data show both plateaus, a plateau being *two* doses on it: the fitted curve at the
   second-highest dose has fallen at least ``1 - plateau_fraction`` (default 80 %) of
   the way from top to bottom, and at the second-lowest dose at most ``plateau_fraction``.
   (One dose is not enough: a 4PL bends a steep Hill slope onto any last point and
   "reaches" a bottom that is not there.) When the bottom plateau is not reached, or the
   4PL does not converge, the fit is redone with ``bottom`` fixed at 0
   (``"3PL-bottom0"``: blank-subtracted % of vehicle reaches 0 when every cell is dead).
   When the top plateau is not reached, ``top`` is fixed at 100 (``"3PL-top100"``: the
   vehicle defines 100 %). When neither is reached both are fixed (``"2PL"``). The
   chosen model is ``CurveFit.model``; ``model=`` forces one.

4. **IC50 confidence interval**: the delta (Wald) method on ``log10_ic50``: the
   asymptotic covariance ``s² (JᵀJ)⁻¹`` of the least-squares parameters (``s²`` = residual
   sum of squares / (n - p)), with a Student t quantile on n - p degrees of freedom, then
   back-transformed: ``10 ** (log10_ic50 ± t·SE)``. This is GraphPad's "asymptotic CI" and
   the same SE as R's ``vcov(nls)``; R's ``confint.default`` uses the normal quantile.
   The interval is therefore asymmetric on the dose scale and never crosses zero.
5. **QC findings** (the names are :data:`DOSE_RESPONSE_FLAGS`):

   - ``ic50_outside_range``: the IC50 is below the lowest or above the highest tested
     (non-zero) dose: it is an extrapolation.
   - ``no_plateau``: the top or the bottom plateau is not reached (the rule above), also
     when the fallback fixed it: the fixed value is an assumption, not a measurement.
   - ``replicate_outlier``: a well whose residual from the fit, standardised as
     ``r / (|fit| + 10)`` (MTT noise grows with the signal), has a modified z-score
     (Iglewicz & Hoaglin 1993: ``0.6745 · (s - median s) / MAD``, pooled over every well
     of the curve so that it works with duplicates) above ``outlier_z`` (3.5) and is off
     the curve by at least ``outlier_min_delta`` (5 % of vehicle). By default
     such wells (at most one per dose, at most 10 % of the wells) are left out and the
     curve refitted; the excluded wells are listed.
   - ``edge_effect`` (:func:`edge_effect`): the outer-ring wells (row A, the last row,
     column 1 and the last column) of a role (vehicle, or blank) differ from the inner
     wells of that role: two-sided Mann-Whitney U test p < 0.01 *and* a difference of
     medians above 10 % of the inner median (evaporation raises outer wells); needs at
     least 3 wells on each side.
   - ``no_inhibition``: the median response at the highest dose is less than ``min_drop``
     (20 % of vehicle) below that at the lowest dose: no curve is fitted.
   - ``fit_failed``: no model converged with finite standard errors.

6. **Resistance factor** (:func:`resistance_factor`): ``IC50_resistant / IC50_parental``,
   its SE on the log10 scale ``sqrt(SE_r² + SE_p²)`` (independent fits), the 95 % CI with
   a t quantile on Welch-Satterthwaite degrees of freedom, back-transformed.

Everything here is plain arrays and dataclasses (a science layer: it imports only the
contract modules), so the ``viability`` plugin and its tests stand on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from assaykit.assay import Flag, QCFlag
from assaykit.errors import AnalysisError

__all__ = [
    "DOSE_RESPONSE_FLAGS",
    "MODELS",
    "CurveFit",
    "EdgeEffect",
    "PlateWell",
    "ResistanceFactor",
    "blank_subtract",
    "edge_effect",
    "fit_dose_response",
    "logistic4",
    "normalise_plate",
    "parse_well",
    "percent_of_vehicle",
    "resistance_factor",
]

#: the models :func:`fit_dose_response` can fit; ``"auto"`` picks one of them
MODELS = ("4PL", "3PL-bottom0", "3PL-top100", "2PL")

DOSE_RESPONSE_FLAGS: tuple[Flag, ...] = (
    Flag(
        "ic50_outside_range",
        "warn",
        "The fitted IC50 lies below the lowest or above the highest tested non-zero dose: "
        "it is an extrapolation of the curve, not a measured value.",
    ),
    Flag(
        "no_plateau",
        "warn",
        "The fitted curve does not reach its top plateau at the lowest dose or its bottom "
        "plateau at the highest dose (within plateau_fraction of the span); the model "
        "column says whether top or bottom was fixed instead (3PL fallback).",
    ),
    Flag(
        "replicate_outlier",
        "warn",
        "A well's residual from the fit has a modified z-score above outlier_z (pooled "
        "median/MAD of the curve's residuals); it is named, and left out of the fit unless "
        "exclude_outliers=false.",
    ),
    Flag(
        "edge_effect",
        "warn",
        "Outer-ring wells of a control role differ from its inner wells (two-sided "
        "Mann-Whitney p < 0.01 and > 10 % difference of medians), e.g. evaporation.",
    ),
    Flag(
        "no_inhibition",
        "fail",
        "The median response falls by less than min_drop (% of vehicle) from the lowest to "
        "the highest dose (or rises): no curve is fitted and the IC50 is not estimable.",
    ),
    Flag(
        "fit_failed",
        "fail",
        "No dose-response model could be fitted to the cell line's wells.",
    ),
)

_LN10 = math.log(10.0)
#: the Hill slope is kept in these bounds: > 0 makes ``top`` the low-dose plateau, so the
#: parametrisation is unique (a rising curve is fitted with ``top < bottom``)
HILL_BOUNDS = (0.05, 20.0)
#: the scale added to |fit| when residuals are standardised for the outlier rule (% points)
OUTLIER_SCALE_OFFSET = 10.0


def _pow10(v: float) -> float:
    """10 ** v, inf (or 0) instead of an overflow error, NaN stays NaN."""
    if math.isnan(v):
        return math.nan
    return math.inf if v > 300 else 0.0 if v < -300 else 10.0**v


# --------------------------------------------------------------------------------------
# wells and normalisation
# --------------------------------------------------------------------------------------
_WELL = re.compile(r"^\s*([A-Pa-p])\s*0*([1-9][0-9]?)\s*$")


def parse_well(name: str, rows: int = 8, cols: int = 12) -> tuple[int, int]:
    """``"B3"``/``"b03"`` -> (1, 2): zero-based row and column on a ``rows`` × ``cols`` plate."""
    m = _WELL.match(name)
    if not m:
        raise AnalysisError(f"well {name!r}: expected a row letter and a column number, e.g. B3")
    r, c = ord(m.group(1).upper()) - ord("A"), int(m.group(2)) - 1
    if r >= rows or c >= cols:
        raise AnalysisError(f"well {name!r} is outside a {rows}x{cols} plate")
    return r, c


@dataclass(frozen=True)
class PlateWell:
    """One well of a plate: position, role, cell line, dose and raw signal (absorbance)."""

    well: str
    role: str  # "blank" (medium only), "vehicle" (dose 0) or "sample"
    cell_line: str
    dose: float  # µM; 0 for blank and vehicle
    signal: float


def _finite(values: ArrayLike, what: str) -> NDArray[np.float64]:
    a = np.asarray(values, dtype=float).ravel()
    if a.size == 0 or not np.isfinite(a).any():
        raise AnalysisError(f"{what}: no finite value")
    return a


def blank_subtract(signal: ArrayLike, blanks: ArrayLike) -> NDArray[np.float64]:
    """``signal`` minus the mean of the finite ``blanks`` (medium-only wells)."""
    b = _finite(blanks, "blank wells")
    return np.asarray(signal, dtype=float) - float(np.nanmean(b))


def percent_of_vehicle(corrected: ArrayLike, vehicle: ArrayLike) -> NDArray[np.float64]:
    """100 × ``corrected`` / mean of the (blank-corrected) ``vehicle`` wells."""
    v = float(np.nanmean(_finite(vehicle, "vehicle wells")))
    if not v > 0:
        raise AnalysisError(
            f"vehicle wells: mean blank-corrected signal is {v:.4g}; it must be above 0 "
            "(are blank and vehicle roles swapped?)"
        )
    return 100.0 * np.asarray(corrected, dtype=float) / v


# --------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------
def logistic4(
    x: ArrayLike, top: float, bottom: float, log10_ic50: float, hill: float
) -> NDArray[np.float64]:
    """The 4PL on ``x = log10(dose)`` (see the module docstring for the convention)."""
    z = np.clip((np.asarray(x, dtype=float) - log10_ic50) * hill, -300.0, 300.0)
    return np.asarray(bottom + (top - bottom) / (1.0 + 10.0**z), dtype=float)


@dataclass(frozen=True)
class CurveFit:
    """A fitted dose-response curve: every number, what it is, and how it was obtained."""

    #: "4PL", "3PL-bottom0" (bottom fixed 0), "3PL-top100" (top fixed 100), "2PL" (both
    #: fixed), or "none" (no curve: see the no_inhibition / fit_failed flag)
    model: str
    ic50: float  #: relative IC50, dose units (µM): halfway between top and bottom
    ic50_ci_low: float  #: 95 % CI (delta method on log10 IC50, t on dof), dose units
    ic50_ci_high: float
    log10_ic50: float
    log10_ic50_se: float  #: asymptotic SE of log10 IC50 (sqrt of s²(JᵀJ)⁻¹ diagonal)
    hill: float  #: Hill slope, > 0 when the response falls with dose (Prism: -HillSlope)
    hill_se: float  #: NaN when fixed (never: hill is always fitted)
    top: float  #: low-dose plateau, % of vehicle (100 when fixed)
    top_se: float  #: NaN when fixed
    bottom: float  #: high-dose plateau, % of vehicle (0 when fixed)
    bottom_se: float  #: NaN when fixed
    r_squared: float  #: 1 - SS_res / SS_tot over the wells used
    residual_sd: float  #: sqrt(SS_res / dof), % of vehicle
    n_wells: int  #: wells used in the fit (after outlier exclusion)
    n_doses: int  #: distinct non-zero doses used
    dof: int  #: n_wells - fitted parameters
    dose_min: float  #: lowest tested non-zero dose
    dose_max: float  #: highest tested dose
    top_reached: bool  #: the 2 lowest doses are within plateau_fraction of the span of top
    bottom_reached: bool  #: the 2 highest doses are within plateau_fraction of span of bottom
    excluded: tuple[int, ...] = ()  #: indices (into the input arrays) left out as outliers
    outliers: tuple[int, ...] = ()  #: indices flagged as replicate outliers
    outlier_z: tuple[float, ...] = ()  #: their modified z-scores
    flags: tuple[QCFlag, ...] = field(default=())  #: QC findings (names in DOSE_RESPONSE_FLAGS)

    @property
    def flag_names(self) -> tuple[str, ...]:
        return tuple(f.flag for f in self.flags)

    def predict(self, dose: ArrayLike) -> NDArray[np.float64]:
        """The fitted response (% of vehicle) at ``dose``."""
        with np.errstate(divide="ignore"):
            x = np.log10(np.asarray(dose, dtype=float))
        return logistic4(x, self.top, self.bottom, self.log10_ic50, self.hill)


@dataclass(frozen=True)
class _Raw:
    params: dict[str, float]
    se: dict[str, float]
    sse: float
    dof: int
    ok: bool


_FIXED = {
    "4PL": {},
    "3PL-bottom0": {"bottom": 0.0},
    "3PL-top100": {"top": 100.0},
    "2PL": {"top": 100.0, "bottom": 0.0},
}


def _start(x: NDArray[np.float64], y: NDArray[np.float64], fixed: dict[str, float]) -> list[float]:
    """SSfpl-like start: grid over (log10_ic50, hill), top/bottom by linear least squares."""
    lo, hi = float(x.min()), float(x.max())
    best: tuple[float, list[float]] = (math.inf, [])
    for m in np.linspace(lo - 1.0, hi + 1.0, 41):
        for h in (0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0):
            g = 1.0 / (1.0 + 10.0 ** np.clip((x - m) * h, -300, 300))  # weight of top
            top = fixed.get("top")
            bottom = fixed.get("bottom")
            if top is None and bottom is None:
                a = np.column_stack([g, 1.0 - g])
                coef, *_ = np.linalg.lstsq(a, y, rcond=None)
                top, bottom = float(coef[0]), float(coef[1])
            elif top is None:
                assert bottom is not None
                d = g @ g
                top = float(g @ (y - bottom * (1 - g)) / d) if d > 0 else 100.0
            elif bottom is None:
                d = (1 - g) @ (1 - g)
                bottom = float((1 - g) @ (y - top * g) / d) if d > 0 else 0.0
            sse = float(np.sum((y - (bottom + (top - bottom) * g)) ** 2))
            if sse < best[0]:
                p = [m, h] + [v for k, v in (("top", top), ("bottom", bottom)) if k not in fixed]
                best = (sse, p)
    return best[1]


def _fit(x: NDArray[np.float64], y: NDArray[np.float64], model: str) -> _Raw:
    fixed = _FIXED[model]
    free = ["log10_ic50", "hill"] + [k for k in ("top", "bottom") if k not in fixed]

    def unpack(p: NDArray[np.float64]) -> dict[str, float]:
        d = dict(fixed)
        d.update(zip(free, (float(v) for v in p), strict=True))
        return d

    def resid(p: NDArray[np.float64]) -> NDArray[np.float64]:
        d = unpack(p)
        return logistic4(x, d["top"], d["bottom"], d["log10_ic50"], d["hill"]) - y

    p0 = np.asarray(_start(x, y, fixed), dtype=float)
    span = float(x.max() - x.min())
    lb = np.full(len(free), -np.inf)
    ub = np.full(len(free), np.inf)
    lb[0], ub[0] = x.min() - max(3.0, span), x.max() + max(3.0, span)  # IC50 within ±3 decades
    lb[1], ub[1] = HILL_BOUNDS
    p0 = np.clip(p0, lb + 1e-9, ub - 1e-9)
    sol = optimize.least_squares(
        resid,
        p0,
        bounds=(lb, ub),
        method="trf",
        x_scale="jac",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=4000,
    )
    dof = len(y) - len(free)
    sse = float(np.sum(sol.fun**2))
    se = {k: math.nan for k in ("log10_ic50", "hill", "top", "bottom")}
    ok = bool(sol.success) and dof > 0
    if ok:
        jac = sol.jac
        try:
            cov = np.linalg.inv(jac.T @ jac) * (sse / dof)
            diag = np.diag(cov)
            if not np.all(np.isfinite(diag)) or np.any(diag < 0):
                raise np.linalg.LinAlgError("singular")
            se.update({k: float(math.sqrt(v)) for k, v in zip(free, diag, strict=True)})
        except np.linalg.LinAlgError:
            ok = False
    return _Raw(unpack(sol.x), se, sse, dof, ok)


def _reached(raw: _Raw, x: NDArray[np.float64], plateau_fraction: float) -> tuple[bool, bool]:
    """(top reached, bottom reached): a plateau needs the two lowest (highest) doses on it."""
    p = raw.params

    # fraction of the way from bottom to top the curve still is at x: 1/(1+10^((x-m)h))
    def frac(at: float) -> float:
        return float(1.0 / (1.0 + 10.0 ** np.clip((at - p["log10_ic50"]) * p["hill"], -300, 300)))

    u = np.unique(x)
    lo, hi = (u[1], u[-2]) if u.size >= 2 else (u[0], u[-1])
    return 1.0 - frac(float(lo)) <= plateau_fraction, frac(float(hi)) <= plateau_fraction


def _modified_z(r: NDArray[np.float64]) -> NDArray[np.float64]:
    med = float(np.median(r))
    mad = float(np.median(np.abs(r - med)))
    if mad <= 0:
        return np.zeros_like(r)
    return np.asarray(0.6745 * (r - med) / mad, dtype=float)


def _no_fit(x: NDArray[np.float64], y: NDArray[np.float64], flag: QCFlag) -> CurveFit:
    """The result when no curve is reported: NaN numbers, the reason as the flag."""
    nan = math.nan
    return CurveFit(
        "none",
        *((nan,) * 13),  # every number of the fit
        int(y.size),
        int(np.unique(x).size),
        0,
        float(10 ** x.min()),
        float(10 ** x.max()),
        False,
        False,
        flags=(flag,),
    )


def _check_input(dose: ArrayLike, response: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    d = np.asarray(dose, dtype=float).ravel()
    y = np.asarray(response, dtype=float).ravel()
    if d.shape != y.shape:
        raise AnalysisError(f"dose ({d.size} values) and response ({y.size}) differ in length")
    if np.any(d[np.isfinite(d)] < 0):
        raise AnalysisError(f"negative dose {float(np.nanmin(d)):g}: doses must be >= 0")
    keep = np.isfinite(d) & np.isfinite(y) & (d > 0)
    if not keep.any():
        raise AnalysisError("no well with a finite response at a non-zero dose (all NaN?)")
    n_doses = np.unique(d[keep]).size
    if n_doses < 4:
        raise AnalysisError(
            f"{n_doses} distinct non-zero dose(s) with a finite response: a dose-response "
            "fit needs at least 4"
        )
    return d, y, keep


def fit_dose_response(
    dose: ArrayLike,
    response: ArrayLike,
    *,
    model: str = "auto",
    plateau_fraction: float = 0.2,
    outlier_z: float = 3.5,
    exclude_outliers: bool = True,
    outlier_min_delta: float = 5.0,
    min_drop: float = 20.0,
    entity: str | None = None,
) -> CurveFit:
    """Fit a dose-response curve to per-well ``response`` (% of vehicle) at ``dose`` (µM).

    Wells with dose 0 (vehicle) or a non-finite value are not part of the fit (the
    vehicle defines 100 %). ``model`` is ``"auto"`` (4PL with the 3PL fallbacks of the
    module docstring) or one of :data:`MODELS`. ``entity`` (the cell line) scopes the
    QC flags. A curve whose median response falls by less than ``min_drop`` (% of
    vehicle) from the lowest to the highest dose is not fitted: model ``"none"``, NaN
    numbers and the ``no_inhibition`` flag (likewise ``fit_failed`` when no model
    converges). Raises :class:`~assaykit.errors.AnalysisError` on unusable input.
    """
    if model != "auto" and model not in MODELS:
        raise AnalysisError(f"model {model!r}: expected 'auto' or one of {', '.join(MODELS)}")
    d, y, keep = _check_input(dose, response)
    idx_all = np.flatnonzero(keep)
    x_all = np.log10(d[idx_all])
    y_all = y[idx_all]
    who = f"{entity}: " if entity else ""
    u = np.unique(x_all)
    drop = float(np.median(y_all[x_all == u[0]]) - np.median(y_all[x_all == u[-1]]))
    if not drop >= min_drop:
        return _no_fit(
            x_all,
            y_all,
            QCFlag(
                "no_inhibition",
                "fail",
                entity=entity,
                message=(
                    f"{who}the response falls by {drop:.3g} % of vehicle from the lowest to the "
                    f"highest dose (less than {min_drop:g}): IC50 not estimable, above "
                    f"{10 ** u[-1]:.4g} if the line responds at all"
                ),
            ),
        )

    def choose(x: NDArray[np.float64], yy: NDArray[np.float64]) -> tuple[str, _Raw]:
        if model != "auto":
            return model, _fit(x, yy, model)
        raw4 = _fit(x, yy, "4PL")
        top_ok, bottom_ok = _reached(raw4, x, plateau_fraction)
        if raw4.ok and top_ok and bottom_ok:
            return "4PL", raw4
        if raw4.ok and not bottom_ok and top_ok:
            name = "3PL-bottom0"
        elif raw4.ok and not top_ok and bottom_ok:
            name = "3PL-top100"
        elif raw4.ok:
            name = "2PL"
        else:  # 4PL did not converge: fix what the data do not show, judged by a 3PL
            raw3 = _fit(x, yy, "3PL-bottom0")
            t3, _ = _reached(raw3, x, plateau_fraction)
            name = "3PL-bottom0" if (raw3.ok and t3) else "2PL"
        return name, _fit(x, yy, name)

    name, raw = choose(x_all, y_all)
    used = np.ones(idx_all.size, dtype=bool)
    outliers: list[int] = []
    zs: list[float] = []
    if raw.ok:
        p = raw.params
        fitted = logistic4(x_all, p["top"], p["bottom"], p["log10_ic50"], p["hill"])
        r = y_all - fitted
        # MTT noise grows with the signal: standardise by |fit| + 10 % before the robust z
        z = _modified_z(r / (np.abs(fitted) + OUTLIER_SCALE_OFFSET))
        order = np.argsort(-np.abs(z))
        cap = max(1, idx_all.size // 10)
        seen_doses: set[float] = set()
        for i in order:
            if abs(z[i]) <= outlier_z or len(outliers) >= cap:
                break
            if abs(r[i]) < outlier_min_delta:
                continue
            if x_all[i] in seen_doses:
                continue
            seen_doses.add(float(x_all[i]))
            outliers.append(int(idx_all[i]))
            zs.append(float(z[i]))
            used[i] = False
        if outliers and exclude_outliers:
            name, raw = choose(x_all[used], y_all[used])
        else:
            used[:] = True
    x, yy = x_all[used], y_all[used]
    flags: list[QCFlag] = []
    if not raw.ok:
        return _no_fit(
            x,
            yy,
            QCFlag(
                "fit_failed",
                "fail",
                entity=entity,
                message=(f"{who}no model converged with finite standard errors"),
            ),
        )
    p, se = raw.params, raw.se
    top_ok, bottom_ok = _reached(raw, x, plateau_fraction)
    m, m_se = p["log10_ic50"], se["log10_ic50"]
    tq = float(stats.t.ppf(0.975, raw.dof)) if raw.dof > 0 else math.nan
    ss_tot = float(np.sum((yy - yy.mean()) ** 2))
    dmin, dmax = float(10 ** x.min()), float(10 ** x.max())
    fit = CurveFit(
        model=name,
        ic50=_pow10(m),
        ic50_ci_low=_pow10(m - tq * m_se),
        ic50_ci_high=_pow10(m + tq * m_se),
        log10_ic50=m,
        log10_ic50_se=m_se,
        hill=p["hill"],
        hill_se=se["hill"],
        top=p["top"],
        top_se=se["top"],
        bottom=p["bottom"],
        bottom_se=se["bottom"],
        r_squared=1.0 - raw.sse / ss_tot if ss_tot > 0 else math.nan,
        residual_sd=math.sqrt(raw.sse / raw.dof) if raw.dof > 0 else math.nan,
        n_wells=int(yy.size),
        n_doses=int(np.unique(x).size),
        dof=raw.dof,
        dose_min=dmin,
        dose_max=dmax,
        top_reached=top_ok,
        bottom_reached=bottom_ok,
        excluded=tuple(outliers) if exclude_outliers else (),
        outliers=tuple(outliers),
        outlier_z=tuple(zs),
    )
    if raw.ok:
        if not dmin <= fit.ic50 <= dmax:
            flags.append(
                QCFlag(
                    "ic50_outside_range",
                    "warn",
                    entity=entity,
                    message=(
                        f"{who}IC50 {fit.ic50:.4g} is outside the tested doses "
                        f"{dmin:.4g}-{dmax:.4g}"
                    ),
                )
            )
        if not (top_ok and bottom_ok):
            which = " and ".join(
                w
                for w, ok in (("top (lowest dose)", top_ok), ("bottom (highest dose)", bottom_ok))
                if not ok
            )
            flags.append(
                QCFlag(
                    "no_plateau",
                    "warn",
                    entity=entity,
                    message=(f"{who}the curve does not reach its {which} plateau; model {name}"),
                )
            )
    for i, zi in zip(outliers, zs, strict=True):
        what = "left out of the fit" if exclude_outliers else "kept in the fit"
        flags.append(
            QCFlag(
                "replicate_outlier",
                "warn",
                entity=entity,
                message=(
                    f"{who}well #{i} (dose {d[i]:g}, response {y[i]:.4g}) has modified z "
                    f"{zi:+.2f} > {outlier_z:g}; {what}"
                ),
            )
        )
    return replace(fit, flags=tuple(flags))


# --------------------------------------------------------------------------------------
# edge effect
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EdgeEffect:
    """Outer-ring versus inner wells of one role (values as given, e.g. raw signal)."""

    role: str
    n_outer: int
    n_inner: int
    median_outer: float
    median_inner: float
    relative_difference: float  #: (median_outer - median_inner) / |median_inner|
    p_value: float  #: two-sided Mann-Whitney U; NaN when not testable
    testable: bool  #: at least ``min_wells`` finite wells on each side
    flagged: bool  #: testable, p < alpha and |relative_difference| > min_difference
    flag: QCFlag | None = None


def edge_effect(
    wells: Sequence[str],
    values: ArrayLike,
    *,
    role: str = "vehicle",
    rows: int = 8,
    cols: int = 12,
    alpha: float = 0.01,
    min_difference: float = 0.10,
    min_wells: int = 3,
    entity: str | None = None,
) -> EdgeEffect:
    """Test outer-ring against inner ``wells`` of one control ``role`` (see module docstring)."""
    v = np.asarray(values, dtype=float).ravel()
    if len(wells) != v.size:
        raise AnalysisError(f"{len(wells)} wells but {v.size} values")
    pos = [parse_well(w, rows, cols) for w in wells]
    outer = np.array([r in (0, rows - 1) or c in (0, cols - 1) for r, c in pos], dtype=bool)
    fin = np.isfinite(v)
    a, b = v[outer & fin], v[~outer & fin]
    testable = a.size >= min_wells and b.size >= min_wells
    mo = float(np.median(a)) if a.size else math.nan
    mi = float(np.median(b)) if b.size else math.nan
    rel = (mo - mi) / abs(mi) if b.size and mi != 0 else math.nan
    p = math.nan
    if testable:
        p = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    flagged = bool(testable and p < alpha and abs(rel) > min_difference)
    flag = None
    if flagged:
        flag = QCFlag(
            "edge_effect",
            "warn",
            entity=entity,
            message=(
                f"{role} wells: outer-ring median {mo:.4g} vs inner {mi:.4g} ({rel:+.1%}, "
                f"Mann-Whitney p={p:.2g}, {a.size} outer / {b.size} inner wells)"
            ),
        )
    return EdgeEffect(role, int(a.size), int(b.size), mo, mi, rel, p, testable, flagged, flag)


# --------------------------------------------------------------------------------------
# resistance factor
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResistanceFactor:
    """IC50 of a resistant line over its parental line, with a 95 % CI (log scale)."""

    resistant: str
    parental: str
    factor: float  #: IC50_resistant / IC50_parental
    log10_factor: float
    log10_factor_se: float  #: sqrt(SE_r² + SE_p²) of the two log10 IC50s
    dof: float  #: Welch-Satterthwaite degrees of freedom
    ci_low: float  #: 10 ** (log10_factor ∓ t·SE)
    ci_high: float


def resistance_factor(
    resistant: CurveFit, parental: CurveFit, names: tuple[str, str] = ("resistant", "parental")
) -> ResistanceFactor:
    """The resistance factor of ``resistant`` over ``parental`` (independent fits)."""
    sr, sp = resistant.log10_ic50_se, parental.log10_ic50_se
    lf = resistant.log10_ic50 - parental.log10_ic50
    se = math.sqrt(sr**2 + sp**2)
    a, b = sr**2, sp**2
    denom = (a**2 / resistant.dof if resistant.dof > 0 else math.inf) + (
        b**2 / parental.dof if parental.dof > 0 else math.inf
    )
    dof = (a + b) ** 2 / denom if denom > 0 else math.nan
    tq = float(stats.t.ppf(0.975, dof)) if dof > 0 else math.nan
    return ResistanceFactor(
        names[0], names[1], _pow10(lf), lf, se, dof, _pow10(lf - tq * se), _pow10(lf + tq * se)
    )


def normalise_plate(
    wells: Sequence[PlateWell],
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64], list[str]]]:
    """Per cell line: (dose, % of vehicle, well names) of its vehicle and sample wells.

    Blanks are the plate's ``blank`` wells (their cell line is ignored: medium only);
    the vehicle is the line's own ``vehicle`` wells.
    """
    blanks = [w.signal for w in wells if w.role == "blank"]
    if not blanks:
        raise AnalysisError("the plate has no blank (medium-only) well")
    bad = sorted({w.role for w in wells} - {"blank", "vehicle", "sample"})
    if bad:
        raise AnalysisError(f"unknown well role(s) {bad}: expected blank, vehicle or sample")
    out = {}
    for line in dict.fromkeys(w.cell_line for w in wells if w.role != "blank"):
        ws = [w for w in wells if w.cell_line == line and w.role != "blank"]
        veh = [w.signal for w in ws if w.role == "vehicle"]
        if not veh:
            raise AnalysisError(f"cell line {line!r} has no vehicle (dose 0) well")
        corr = blank_subtract([w.signal for w in ws], blanks)
        pct = percent_of_vehicle(corr, blank_subtract(veh, blanks))
        out[line] = (
            np.array([0.0 if w.role == "vehicle" else w.dose for w in ws]),
            pct,
            [w.well for w in ws],
        )
    return out
