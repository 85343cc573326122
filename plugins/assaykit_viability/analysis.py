"""The viability analysis: per plate file, normalise, fit per cell line, resistance factor."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from assaykit import Assay, AssayResult, Experiment, Input
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
    res = AssayResult()
    fits: dict[str, tuple[CurveFit, list[str]]] = {}
    parents: dict[str, str] = {}
    for rel, inputs in experiment.by_file().items():
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
                res.qc_flags.append(ee.flag)
        curves = []
        for line, (dose, pct, names) in norm.items():
            for n, p in zip(names, pct, strict=True):
                res.add(ids[n], "well", n, "pct_viability", float(p), unit="%", source=rel)
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
            res.qc_flags.extend(fit.flags)
            sids = [ids[n] for n in names]
            fits[line] = (fit, sids)
            curves.append((line, dose, pct, fit))
            _add_fit(res, line, fit, sids)
        if experiment.figures:
            res.add_figure(
                "dose_response_" + rel.replace("/", "_"),
                _figure(rel, curves),
                caption=_caption(rel, curves),
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
        for metric, value in (
            ("resistance_factor", rf.factor),
            ("resistance_factor_ci_low", rf.ci_low),
            ("resistance_factor_ci_high", rf.ci_high),
        ):
            res.add(line, "cell_line", line, metric, value, from_samples=sr + sp)
    return res


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


def _figure(rel: str, curves: list[tuple[str, Any, Any, CurveFit]]) -> Any:
    from assaykit.assay import new_figure

    fig = new_figure(6.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for k, (line, dose, pct, fit) in enumerate(curves):
        color = f"C{k % 10}"
        d, y = np.asarray(dose, dtype=float), np.asarray(pct, dtype=float)
        on = d > 0
        ax.scatter(d[on], y[on], s=12, color=color, alpha=0.7)
        if math.isfinite(fit.ic50) and on.any():
            xs = np.logspace(math.log10(d[on].min()) - 0.3, math.log10(d[on].max()) + 0.3, 200)
            ax.plot(
                xs,
                fit.predict(xs),
                color=color,
                label=f"{line}: IC50 {fit.ic50:.3g} µM ({fit.model})",
            )
            ax.axvline(fit.ic50, color=color, ls=":", lw=0.8)
        else:
            ax.plot([], [], color=color, label=f"{line}: no fit ({fit.model})")
    ax.set_xscale("log")
    ax.set_xlabel("dose (µM, log scale)")
    ax.set_ylabel("viability (% of vehicle)")
    ax.set_title(rel)
    ax.legend(fontsize=7)
    return fig


def _caption(rel: str, curves: list[tuple[str, Any, Any, CurveFit]]) -> str:
    parts = [
        f"{line} IC50 {f.ic50:.3g} µM (95 % CI {f.ic50_ci_low:.3g}-{f.ic50_ci_high:.3g}), "
        f"{f.model}, R² {f.r_squared:.3f}"
        for line, _, _, f in curves
    ]
    return (
        f"{rel}: viability (% of vehicle, blank-subtracted) per well against dose (log "
        "axis), with the fitted dose-response curve per cell line; dotted lines mark the "
        "IC50. " + "; ".join(parts) + "."
    )
