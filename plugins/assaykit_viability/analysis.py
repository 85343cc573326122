"""The viability analysis: per plate file, normalise, fit per cell line, resistance factor."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from assaykit import Assay, AssayResult, Experiment, Input, QCFlag
from assaykit.errors import AssaykitError
from assaykit.plates.doseresponse import (
    CurveFit,
    PlateWell,
    edge_effect,
    fit_dose_response,
    normalise_plate,
    resistance_factor,
)


def _dose(inp: Input) -> float:
    if inp.role in ("blank", "vehicle"):
        return 0.0
    text = inp.condition("dose_uM")
    try:
        dose = float(text)
    except ValueError:
        raise ValueError(f"well {inp.well}: dose_uM {text!r} is not a number") from None
    if not dose > 0:
        raise ValueError(f"well {inp.well}: a sample well needs dose_uM > 0, got {text!r}")
    return dose


def analyze_plates(assay: Assay, experiment: Experiment, params: Any) -> AssayResult:
    """Normalise each plate to its own blanks and vehicle, then fit each cell line once.

    A line on several plates of the experiment (replicate plates) is fitted to the pooled
    % of vehicle of all its plates, as a lab pools normalised replicates in Prism; its
    wells are then named ``plate:well`` in messages. A resistant line and its parental
    line may sit on different plates.
    """
    res = AssayResult()
    pooled: dict[str, _Line] = {}
    parents: dict[str, str] = {}
    files = experiment.by_file()
    n_plates = sum(any(not i.missing for i in inputs) for inputs in files.values())
    for rel, inputs in files.items():
        present = [i for i in inputs if not i.missing]
        if not present:
            continue
        try:
            plate = experiment.read(present[0])
            values = plate.read(params.read) if params.read else plate.wells
        except (AssaykitError, ValueError, KeyError, OSError) as exc:
            for inp in present:
                res.fail_sample(inp.sample_id, f"{rel}: {exc}", source=rel)
            continue
        wells: list[PlateWell] = []
        ids: dict[str, str] = {}
        for inp in present:
            v = values.get(inp.well or "")
            try:
                if v is None or not math.isfinite(v):
                    raise ValueError(f"no reading for well {inp.well}")
                wells.append(
                    PlateWell(inp.well or "", inp.role, inp.condition("cell_line"), _dose(inp), v)
                )
            except ValueError as exc:
                res.fail_sample(inp.sample_id, f"{rel}: {exc}", source=rel)
                continue
            ids[inp.well or ""] = inp.sample_id
            if inp.condition("parental"):
                parents[inp.condition("cell_line")] = inp.condition("parental")
        try:
            norm = normalise_plate(wells)
        except AssaykitError as exc:
            for w in wells:
                res.fail_sample(ids[w.well], f"{rel}: {exc}", source=rel)
            continue
        for role in ("vehicle", "blank"):
            ws = [w for w in wells if w.role == role]
            ee = edge_effect(
                [w.well for w in ws],
                [w.signal for w in ws],
                role=role,
                rows=8 if (present[0].plate_format or 96) == 96 else 16,
                cols=12 if (present[0].plate_format or 96) == 96 else 24,
            )
            if ee.flag is not None:
                res.qc_flags.extend(_plate_flags(ee.flag, rel, list(norm), n_plates))
        for line, (dose, pct, names) in norm.items():
            for n, p in zip(names, pct, strict=True):
                res.add(ids[n], "well", n, "pct_viability", float(p), unit="%", source=rel)
            acc = pooled.setdefault(line, _Line())
            acc.add(rel, dose, pct, names, [ids[n] for n in names])
    fits: dict[str, tuple[CurveFit, list[str]]] = {}
    curves = []
    for line, acc in pooled.items():
        dose, pct = acc.arrays()
        fit = fit_dose_response(
            dose,
            pct,
            model=params.model,
            plateau_fraction=params.plateau_fraction,
            outlier_z=params.outlier_z,
            exclude_outliers=params.exclude_outliers,
            min_drop=params.min_drop,
            entity=line,
        )
        res.qc_flags.extend(_plugin_flags(fit, line, acc.well_names(), dose, pct))
        fits[line] = (fit, acc.sample_ids)
        curves.append((line, dose, pct, fit))
        _add_fit(res, line, fit, acc.sample_ids)
    if experiment.figures:
        for k in range(0, len(curves), _LINES_PER_FIGURE):
            chunk = curves[k : k + _LINES_PER_FIGURE]
            title = _figure_title(experiment.name, [pooled[c[0]] for c in chunk])
            suffix = f"_{k // _LINES_PER_FIGURE + 1}" if len(curves) > _LINES_PER_FIGURE else ""
            res.add_figure(
                "dose_response_" + title.replace("/", "_").replace(" ", "_") + suffix,
                _figure(title, chunk),
                caption=_caption(title, chunk),
            )
    for line, parental in parents.items():
        if line not in fits:
            continue
        fr, sr = fits[line]
        if (
            parental not in fits
            or not math.isfinite(fits[parental][0].ic50)
            or not math.isfinite(fr.ic50)
        ):
            res.flag(
                "parental_missing",
                entity=line,
                message=f"{line}: parental line {parental!r} has no fitted IC50",
            )
            continue
        fp, sp = fits[parental]
        rf = resistance_factor(fr, fp, (line, parental))
        if not all(math.isfinite(v) for v in (rf.factor, rf.ci_low, rf.ci_high)):
            res.flag(
                "fit_failed",
                severity="fail",
                entity=line,
                message=f"{line}: resistance factor over {parental!r} is not finite",
            )
            continue
        for metric, value in (
            ("resistance_factor", rf.factor),
            ("resistance_factor_ci_low", rf.ci_low),
            ("resistance_factor_ci_high", rf.ci_high),
        ):
            res.add(line, "cell_line", line, metric, value, from_samples=sr + sp)
    return res


#: cell lines drawn in one dose-response figure (more would crowd the legend and colours)
_LINES_PER_FIGURE = 4


class _Line:
    """One cell line's normalised wells, pooled over the plates that hold it."""

    def __init__(self) -> None:
        self.plates: list[str] = []
        self.doses: list[Any] = []
        self.pcts: list[Any] = []
        self.names: list[tuple[str, str]] = []
        self.sample_ids: list[str] = []

    def add(self, rel: str, dose: Any, pct: Any, names: list[str], sids: list[str]) -> None:
        self.plates.append(rel)
        self.doses.append(np.asarray(dose, dtype=float))
        self.pcts.append(np.asarray(pct, dtype=float))
        self.names += [(rel, n) for n in names]
        self.sample_ids += sids

    def arrays(self) -> tuple[Any, Any]:
        return np.concatenate(self.doses), np.concatenate(self.pcts)

    def well_names(self) -> list[str]:
        """Well names, ``plate:well`` when the line is on several plates."""
        if len(self.plates) == 1:
            return [n for _, n in self.names]
        return [f"{rel}:{n}" for rel, n in self.names]


def _figure_title(experiment: str, lines: list[_Line]) -> str:
    plates = list(dict.fromkeys(p for line in lines for p in line.plates))
    return plates[0] if len(plates) == 1 else f"{experiment} ({len(plates)} plates pooled)"


def _plate_flags(flag: QCFlag, rel: str, lines: list[str], n_plates: int) -> list[QCFlag]:
    """A plate-level flag named by its file; scoped to the plate's cell lines when the
    experiment holds several plates (unscoped it would mark every plate's records)."""
    message = f"{rel}: {flag.message}"
    if n_plates <= 1:
        return [QCFlag(flag.flag, flag.severity, entity=flag.entity, message=message)]
    return [QCFlag(flag.flag, flag.severity, entity=line, message=message) for line in lines]


def _plugin_flags(fit: CurveFit, line: str, names: list[str], dose: Any, pct: Any) -> list[QCFlag]:
    """The fit's flags, with replicate outliers named by their well, and a fail flag for
    a curve that was fitted but has no finite IC50 or CI (a wrong number is never a pass)."""
    flags = [f for f in fit.flags if f.flag != "replicate_outlier"]
    what = "left out of the fit" if fit.excluded else "kept in the fit"
    for i, z in zip(fit.outliers, fit.outlier_z, strict=True):
        flags.append(
            QCFlag(
                "replicate_outlier",
                "warn",
                entity=line,
                message=f"{line}: well {names[i]} (dose {float(dose[i]):g} µM, "
                f"{float(pct[i]):.4g} % of vehicle) has modified z {z:+.2f}; {what}",
            )
        )
    numbers = (fit.ic50, fit.ic50_ci_low, fit.ic50_ci_high, fit.hill, fit.r_squared)
    if fit.model != "none" and not all(math.isfinite(v) for v in numbers):
        flags.append(
            QCFlag(
                "fit_failed",
                "fail",
                entity=line,
                message=f"{line}: the {fit.model} fit gave a non-finite IC50, CI, Hill slope or R²",
            )
        )
    return flags


def _add_fit(res: AssayResult, line: str, fit: CurveFit, sids: list[str]) -> None:
    for metric, value, unit in (
        ("ic50_uM", fit.ic50, "µM"),
        ("ic50_ci_low_uM", fit.ic50_ci_low, "µM"),
        ("ic50_ci_high_uM", fit.ic50_ci_high, "µM"),
        ("hill_slope", fit.hill, None),
        ("r_squared", fit.r_squared, None),
        ("top", fit.top, "%"),
        ("bottom", fit.bottom, "%"),
    ):
        if math.isfinite(value):  # a curve that was not fitted has no numbers
            res.add(line, "cell_line", line, metric, float(value), unit=unit, from_samples=sids)
    res.add(line, "cell_line", line, "model", fit.model, from_samples=sids)
    res.add(line, "cell_line", line, "n_wells", fit.n_wells, from_samples=sids)


def fit_covariance(fit: CurveFit, dose: Any, pct: Any) -> tuple[list[str], Any]:
    """The asymptotic covariance ``s² (JᵀJ)⁻¹`` of the fitted parameters of ``fit``.

    Recomputed from the wells the fit used (``dose > 0``, not in ``fit.excluded``) at the
    fitted parameters, with ``s = fit.residual_sd``: the same estimate the library's SEs
    come from. Parameters are ``log10_ic50``, ``hill`` and whichever of ``top``/``bottom``
    the model fitted (a fixed one has a NaN SE). Returns (names, covariance matrix).
    """
    from assaykit.plates.doseresponse import logistic4

    d, y = np.asarray(dose, dtype=float), np.asarray(pct, dtype=float)
    keep = (d > 0) & np.isfinite(y)
    keep[list(fit.excluded)] = False
    x = np.log10(d[keep])
    names = ["log10_ic50", "hill"] + [
        n for n, se in (("top", fit.top_se), ("bottom", fit.bottom_se)) if math.isfinite(se)
    ]
    jac = _jacobian(fit, x, names, logistic4)
    cov = fit.residual_sd**2 * np.linalg.pinv(jac.T @ jac)
    return names, cov


def _jacobian(fit: CurveFit, x: Any, names: list[str], f: Any) -> Any:
    p0 = {"top": fit.top, "bottom": fit.bottom, "log10_ic50": fit.log10_ic50, "hill": fit.hill}
    cols = []
    for n in names:
        h = 1e-6 * max(1.0, abs(p0[n]))
        up, dn = dict(p0), dict(p0)
        up[n] += h
        dn[n] -= h
        cols.append(
            (
                f(x, up["top"], up["bottom"], up["log10_ic50"], up["hill"])
                - f(x, dn["top"], dn["bottom"], dn["log10_ic50"], dn["hill"])
            )
            / (2 * h)
        )
    return np.column_stack(cols)


def confidence_band(fit: CurveFit, dose: Any, pct: Any, at: Any) -> tuple[Any, Any]:
    """Pointwise 95 % confidence band of the fitted mean curve at doses ``at`` (µM).

    Delta method: ``var ŷ(x) = g(x)ᵀ C g(x)`` with ``g`` the gradient of the curve in the
    fitted parameters and ``C`` from :func:`fit_covariance`; ``ŷ ± t(0.975, dof)·√var``.
    """
    from assaykit.plates.doseresponse import logistic4
    from scipy import stats

    names, cov = fit_covariance(fit, dose, pct)
    xs = np.log10(np.asarray(at, dtype=float))
    g = _jacobian(fit, xs, names, logistic4)
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g, cov, g), 0.0))
    tq = float(stats.t.ppf(0.975, fit.dof)) if fit.dof > 0 else math.nan
    mid = fit.predict(at)
    return mid - tq * se, mid + tq * se


def _figure(rel: str, curves: list[tuple[str, Any, Any, CurveFit]]) -> Any:
    """Dose-response of each cell line: wells, fit, its 95 % band and the IC50 with its CI.

    Drawn straight to pixels (:class:`assaykit.RasterFigure`) on a log10(dose)
    axis labelled in µM: ~15 ms, where matplotlib took ~140 ms (and its import).
    """
    from assaykit import RasterFigure

    fig = RasterFigure(6.4, 4.6)
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.13, top=0.93)
    ax = fig.add_subplot(1, 1, 1)
    marked = False
    lx_all: list[float] = []
    for k, (line, dose, pct, fit) in enumerate(curves):
        color = _TAB10[k % len(_TAB10)]
        d, y = np.asarray(dose, dtype=float), np.asarray(pct, dtype=float)
        on = d > 0
        out = np.zeros(d.size, dtype=bool)
        out[list(fit.outliers)] = True
        lx_all += [float(v) for v in np.log10(d[on])]
        ax.scatter(np.log10(d[on & ~out]), y[on & ~out], s=16, color=color, alpha=0.75)
        if out.any():
            ax.scatter(np.log10(d[out]), y[out], s=70, marker="X", facecolor="none",
                       edgecolor="black", linewidths=1.2, zorder=5,
                       label=None if marked else "replicate outlier")
            marked = True
        if math.isfinite(fit.ic50) and on.any():
            lo_x = min(d[on].min(), fit.ic50)
            hi_x = max(d[on].max(), fit.ic50)
            xs = np.logspace(math.log10(lo_x) - 0.3, math.log10(hi_x) + 0.3, 120)
            ax.plot(np.log10(xs), fit.predict(xs), color=color, lw=1.6,
                    label=f"{line}: IC50 {fit.ic50:.3g} µM ({fit.model})")
            try:
                band_lo, band_hi = confidence_band(fit, d, y, xs)
                ax.fill_between(np.log10(xs), band_lo, band_hi, color=color, alpha=0.2)
            except (np.linalg.LinAlgError, ValueError):
                pass
            half = float(fit.predict([fit.ic50])[0])
            lo_ci, hi_ci = fit.ic50_ci_low, fit.ic50_ci_high
            if all(math.isfinite(v) and v > 0 for v in (lo_ci, hi_ci)):
                a, b = math.log10(lo_ci), math.log10(hi_ci)
                ax.plot([a, b], [half, half], color=color, lw=1.4)
                for v in (a, b):  # caps
                    ax.plot([v, v], [half - 2.5, half + 2.5], color=color, lw=1.4)
                ax.scatter([math.log10(fit.ic50)], [half], s=64, marker="D", color=color,
                           edgecolor="black", zorder=6)
        else:
            ax.plot([], [], color=color, label=f"{line}: no fit ({fit.model})")
    if lx_all:
        lo, hi = min(lx_all) - 0.35, max(lx_all) + 0.35
        ax.set_xlim(lo, hi)
        ticks = [float(t) for t in range(math.ceil(lo), math.floor(hi) + 1)]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"$10^{{{int(t)}}}$" for t in ticks])
    ax.set_xlabel("dose (µM, log scale)", fontsize=10)
    ax.set_ylabel("viability (% of vehicle)", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.axhline(100, color="0.6", lw=0.6, ls="--")
    ax.axhline(0, color="0.6", lw=0.6, ls="--")
    ax.set_title(rel, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig


_TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")


def _caption(rel: str, curves: list[tuple[str, Any, Any, CurveFit]]) -> str:
    parts = [
        f"{line} IC50 {f.ic50:.3g} µM (95 % CI {f.ic50_ci_low:.3g}-{f.ic50_ci_high:.3g}), "
        f"{f.model}, R² {f.r_squared:.3f}"
        + (f", {len(f.outliers)} outlier well(s)" if f.outliers else "")
        for line, _, _, f in curves
    ]
    return (
        f"{rel}: viability (% of vehicle, blank-subtracted) of each treated well against "
        "dose (log axis; vehicle wells define 100 % and are not drawn). Line: "
        "four-parameter logistic fit per cell line (or the reduced model named); shaded "
        "band: 95 % confidence band of the fitted curve (delta method on the fit's "
        "covariance); diamond with bar: IC50 with its 95 % confidence interval; crosses: "
        "replicate outliers (left out of the fit unless exclude_outliers is false). "
        + "; ".join(parts)
        + "."
    )
