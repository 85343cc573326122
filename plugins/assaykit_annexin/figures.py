"""QC figures of ``annexin_pi``: quadrants and the thresholds' controls (the cleanup
figure is the flow layer's, :func:`assaykit.cytometry.flow.add_cleanup_figure`).

Drawn on :func:`assaykit.new_figure` canvases (never pyplot's global state),
and only when ``experiment.figures`` is true. Density plots draw at most
:data:`PLOT_EVENTS` events taken at an even stride — a 2-D histogram of
10^5 events looks the same as one of 10^6 and the logicle transform of every
event would dominate the run time. The percentages printed on a figure are
always those of every event, the same numbers as the records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from assaykit import AssayResult
from assaykit.cytometry.figures import hist2d
from assaykit.cytometry.flow import add_cleanup_figure
from assaykit.cytometry.thresholds import (
    Threshold,
    auto_logicle,
    biexponential_ticks,
    density_plot,
)
from assaykit.cytometry.transforms import Transform
from assaykit.raster import raster_figure
from numpy.typing import NDArray

if TYPE_CHECKING:
    from assaykit_annexin.analysis import ChannelThreshold, Unit

PLOT_EVENTS = 100_000
#: events per role behind a threshold figure's density curves: a KDE of 512 bins
#: at 0.01 bandwidth is smooth from ~10,000 events, and each is transformed to draw
DENSITY_EVENTS = 12_000
#: fixed margins of the quadrant figure (tight_layout would cost as much as drawing it)
_QUADRANT_ADJUST = {"left": 0.15, "right": 0.97, "bottom": 0.11, "top": 0.93}
_LABELS = {
    "viable_pct": "viable",
    "early_apoptotic_pct": "early apoptotic",
    "late_apoptotic_pct": "late apoptotic",
    "necrotic_pct": "necrotic",
}


@dataclass(frozen=True)
class AxisTransforms:
    """One logicle axis per channel, shared by every figure of the experiment."""

    annexin: Transform
    pi: Transform


def _strided(v: NDArray[np.float64], limit: int = PLOT_EVENTS) -> NDArray[np.float64]:
    return v[:: max(1, math.ceil(v.size / limit))]


def _pool(units: Sequence[Unit], which: str, limit: int = PLOT_EVENTS) -> NDArray[np.float64]:
    parts = [
        _strided(u.prep.kept(getattr(u, which)), limit // max(len(units), 1) + 1)
        for u in units
        if u.prep is not None and u.prep.n_kept > 0
    ]
    return np.concatenate(parts) if parts else np.zeros(1)


def axis_transforms(units: Sequence[Unit]) -> AxisTransforms:
    """Logicle axes fitted to the pooled singlets of the experiment (same axes on every plot)."""
    return AxisTransforms(auto_logicle(_pool(units, "annexin")), auto_logicle(_pool(units, "pi")))


def _range(y: NDArray[np.float64], mark: float) -> tuple[float, float]:
    y = y[np.isfinite(y)]
    lo, hi = (float(q) for q in np.percentile(y, [0.05, 99.95])) if y.size else (0.0, 1.0)
    lo, hi = min(lo, mark), max(hi, mark)
    pad = 0.05 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _axis(ax: Any, which: str, tr: Transform, rng: tuple[float, float]) -> None:
    ticks, labels = biexponential_ticks(tr, *rng)
    if which == "x":
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels)
        ax.set_xlim(*rng)
    else:
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels)
        ax.set_ylim(*rng)


def draw_unit(
    res: AssayResult,
    u: Unit,
    axes: AxisTransforms,
    th_a: Threshold,
    th_p: Threshold,
    pct: dict[str, float],
    n: int,
) -> None:
    """The quadrant density plot and the cleanup-gates figure of one data set."""
    from matplotlib.colors import LogNorm

    p = u.prep
    assert p is not None
    x = axes.annexin.display(_strided(p.kept(u.annexin)))
    y = axes.pi.display(_strided(p.kept(u.pi)))
    tx = float(axes.annexin.apply(np.array([th_a.value]))[0])
    ty = float(axes.pi.apply(np.array([th_p.value]))[0])
    xr, yr = _range(x, tx), _range(y, ty)
    # drawn straight to pixels (assaykit.raster): a few ms instead of ~50 in matplotlib
    fig, (ax,) = raster_figure(5.4, 4.8, 1, _QUADRANT_ADJUST)
    if x.size:
        # binned once and drawn as one image: a 160x160 pcolormesh (hist2d) costs ~4x
        counts = hist2d(x, y, 160, xr, yr)
        if counts.any():
            ax.imshow(np.ma.masked_less(counts.T, 1), origin="lower", aspect="auto",
                      extent=(xr[0], xr[1], yr[0], yr[1]), interpolation="nearest",
                      norm=LogNorm(vmin=1, vmax=float(counts.max())), cmap="viridis")
    ax.axvline(tx, color="crimson", lw=1.2)
    ax.axhline(ty, color="crimson", lw=1.2)
    _axis(ax, "x", axes.annexin, xr)
    _axis(ax, "y", axes.pi, yr)
    corners = {
        "viable_pct": (0.02, 0.02, "left", "bottom"),
        "early_apoptotic_pct": (0.98, 0.02, "right", "bottom"),
        "late_apoptotic_pct": (0.98, 0.98, "right", "top"),
        "necrotic_pct": (0.02, 0.98, "left", "top"),
    }
    for m, (cx, cy, ha, va) in corners.items():
        val = pct.get(m, math.nan)
        text = f"{_LABELS[m]}\n{val:.1f}%" if math.isfinite(val) else f"{_LABELS[m]}\n–"
        ax.text(cx, cy, text, transform=ax.transAxes, ha=ha, va=va, fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"})
    ax.set_xlabel(f"Annexin V ({u.annexin}), compensated, logicle")
    ax.set_ylabel(f"PI ({u.pi}), compensated, logicle")
    ax.set_title(f"{u.sample_id} ({u.role}): {n} singlet cells", fontsize=9, y=1.0)
    res.add_figure(
        "quadrants",
        fig,
        sample_id=u.sample_id,
        caption=(
            f"Annexin V vs PI of singlet cells; thresholds {th_a.value:.4g} (Annexin V) and "
            f"{th_p.value:.4g} (PI), compensated linear scale; percent of singlet cells."
        ),
    )
    add_cleanup_figure(res, u.sample_id, p)


def draw_thresholds(
    res: AssayResult,
    experiment: str,
    units: Sequence[Unit],
    axes: AxisTransforms,
    th_a: ChannelThreshold,
    th_p: ChannelThreshold,
) -> None:
    """Each channel's density for every role, with the threshold and what set it."""
    # fixed margins, drawn straight to pixels (assaykit.raster)
    fig, panels = raster_figure(10.0, 4.0, 2, {"left": 0.06, "right": 0.985, "bottom": 0.13,
                                               "top": 0.91, "wspace": 0.2})
    for ax, which, tr, th, name in (
        (panels[0], "annexin", axes.annexin, th_a, "Annexin V"),
        (panels[1], "pi", axes.pi, th_p, "PI"),
    ):
        series, labels = [], []
        for role in ("unstained", "annexin_only", "pi_only", "sample"):
            group = [u for u in units if u.role == role]
            v = _pool(group, which, DENSITY_EVENTS) if group else np.empty(0)
            if group and v.size > 1:
                series.append(v)
                labels.append("samples (pooled)" if role == "sample" else role)
        if series:
            mark = float(tr.apply(np.array([th.threshold.value]))[0])
            scaled = [tr.display(v) for v in series]  # once: for the range and the curves
            rng = _range(np.concatenate(scaled), mark)
            density_plot(ax, scaled, tr, [th.threshold], labels=labels, range=rng,
                         prescaled=True)
        ax.set_xlabel(f"{name}, compensated, logicle")
        ax.set_title(f"{name}: {th.method} from {th.source}", fontsize=9, y=1.0)
    res.add_figure(
        "thresholds",
        fig,
        sample_id=None,
        caption=f"Thresholds of experiment {experiment}: densities by role, threshold lines.",
    )
