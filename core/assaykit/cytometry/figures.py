"""QC figure helpers shared by flow plugins: overlaid histograms and 2-D density plots.

Why here and not in each plugin: a reader of the HTML report should see the
same axes, scales, colours and marker conventions in every flow assay, so the
drawing lives in one place. Every helper draws on a matplotlib ``Axes`` the
caller owns (from :func:`assaykit.new_figure`), never through pyplot, so it
is safe in worker processes.

Axes are biexponential (logicle) by default, in scale units, labelled in
data units with :func:`~assaykit.cytometry.thresholds.biexponential_ticks`,
so compensated negatives stay visible and bright events stay log-like.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assaykit.cytometry.cleanup import CleanupResult, draw_cleanup_gates
from assaykit.cytometry.thresholds import Threshold, auto_logicle, biexponential_ticks
from assaykit.cytometry.transforms import Transform

__all__ = [
    "SERIES_COLORS",
    "cleanup_panel",
    "common_logicle",
    "density_2d",
    "overlay_histograms",
]

#: Colours of successive series (colour-blind safe, after Okabe & Ito).
SERIES_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_THRESHOLD_COLOR = "crimson"


def _finite(values: ArrayLike) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def common_logicle(*values: ArrayLike) -> Transform:
    """One logicle axis fitted to several series, so overlaid histograms share a scale."""
    parts = [_finite(v) for v in values]
    parts = [p for p in parts if p.size]
    allv = np.concatenate(parts) if parts else np.zeros(1)
    return auto_logicle(allv)


def _scale(values: ArrayLike, transform: Transform | None) -> NDArray[np.float64]:
    v = _finite(values)
    if transform is None:
        return v
    y = transform.apply(v)
    return y[np.isfinite(y)]


def _axis(ax: Any, transform: Transform | None, lo: float, hi: float, which: str = "x") -> None:
    if transform is None:
        return
    ticks, labels = biexponential_ticks(transform, lo, hi)
    if which == "x":
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels)
    else:
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels)


def _range(series: Sequence[NDArray[np.float64]]) -> tuple[float, float]:
    nonempty = [s for s in series if s.size]
    if not nonempty:
        return 0.0, 1.0
    allv = np.concatenate(nonempty)
    lo, hi = (float(q) for q in np.percentile(allv, [0.05, 99.95]))
    pad = 0.03 * ((hi - lo) or 1.0)
    return lo - pad, hi + pad


def overlay_histograms(
    ax: Any,
    series: Sequence[tuple[str, ArrayLike]],
    transform: Transform | None = None,
    *,
    thresholds: Iterable[Threshold] = (),
    markers: Sequence[tuple[str, float]] = (),
    bins: int = 200,
    range: tuple[float, float] | None = None,
    normalize: bool = True,
    xlabel: str = "",
) -> Any:
    """Overlaid step histograms of several ``(label, values)`` series on one axis.

    ``transform`` is the axis (e.g. :func:`common_logicle` of the series);
    ``None`` is linear. ``normalize`` scales each series to unit area, so
    tubes with different event counts compare by shape. ``markers`` are
    ``(label, value)`` vertical lines in data units, drawn in the colour of
    the series with the same position in ``series`` (e.g. medians);
    ``thresholds`` are dashed red lines. Returns ``ax``.
    """
    scaled = [_scale(v, transform) for _, v in series]
    lo, hi = range if range is not None else _range(scaled)
    edges = np.linspace(lo, hi, bins + 1)
    for k, ((label, _), y) in enumerate(zip(series, scaled)):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
        if not y.size:
            continue
        counts, _ = np.histogram(y, bins=edges)
        h = counts / (counts.sum() * (edges[1] - edges[0])) if normalize else counts
        ax.stairs(h, edges, color=color, lw=1.3, label=f"{label} (n={y.size})")
        ax.stairs(h, edges, color=color, alpha=0.12, fill=True)
    for k, (label, value) in enumerate(markers):
        if not np.isfinite(value):
            continue
        pos = value if transform is None else float(transform.apply(np.array([value]))[0])
        ax.axvline(pos, color=SERIES_COLORS[k % len(SERIES_COLORS)], ls=":", lw=1.5,
                   label=f"{label} {value:.4g}")
    for th in thresholds:
        pos = th.value if transform is None else float(transform.apply(np.array([th.value]))[0])
        ax.axvline(pos, color=_THRESHOLD_COLOR, ls="--", lw=1.3,
                   label=f"threshold {th.value:.4g} ({th.method})")
    ax.set_xlim(lo, hi)
    _axis(ax, transform, lo, hi, "x")
    ax.set_ylabel("density" if normalize else "events")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return ax


def density_2d(
    ax: Any,
    x: ArrayLike,
    y: ArrayLike,
    transform_x: Transform | None = None,
    transform_y: Transform | None = None,
    *,
    thresholds_x: Iterable[Threshold] = (),
    thresholds_y: Iterable[Threshold] = (),
    bins: int = 150,
    xlabel: str = "",
    ylabel: str = "",
) -> Any:
    """A 2-D event density (log colour) of ``x`` against ``y``, with threshold lines.

    Each axis has its own optional transform (``None`` is linear). Returns ``ax``.
    """
    from matplotlib.colors import LogNorm

    xv = np.asarray(x, dtype=np.float64).ravel()
    yv = np.asarray(y, dtype=np.float64).ravel()
    ok = np.isfinite(xv) & np.isfinite(yv)
    xs = xv[ok] if transform_x is None else transform_x.apply(xv[ok])
    ys = yv[ok] if transform_y is None else transform_y.apply(yv[ok])
    ok2 = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok2], ys[ok2]
    xr = _range([xs])
    yr = _range([ys])
    if xs.size:
        ax.hist2d(xs, ys, bins=bins, range=[xr, yr], norm=LogNorm(), cmap="viridis")
    for th in thresholds_x:
        pos = th.value if transform_x is None else float(transform_x.apply(np.array([th.value]))[0])
        ax.axvline(pos, color=_THRESHOLD_COLOR, ls="--", lw=1.2,
                   label=f"threshold {th.value:.4g}")
    for th in thresholds_y:
        pos = th.value if transform_y is None else float(transform_y.apply(np.array([th.value]))[0])
        ax.axhline(pos, color=_THRESHOLD_COLOR, ls="--", lw=1.2,
                   label=f"threshold {th.value:.4g}")
    ax.set_xlim(*xr)
    ax.set_ylim(*yr)
    _axis(ax, transform_x, xr[0], xr[1], "x")
    _axis(ax, transform_y, yr[0], yr[1], "y")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    return ax


def cleanup_panel(
    ax: Any,
    fsc_area: ArrayLike,
    fsc_height: ArrayLike | None,
    result: CleanupResult,
    *,
    bins: int = 150,
) -> Any:
    """The cleanup gates on one axes: FSC-A against FSC-H with the singlet band and
    the debris cutoff (FSC-A histogram when there is no height channel). Returns ``ax``."""
    from matplotlib.colors import LogNorm

    a = np.asarray(fsc_area, dtype=np.float64)
    p = result.params
    if fsc_height is None or result.ratio_low is None:
        histogram = [("events", a)]
        overlay_histograms(ax, histogram, None, normalize=False, xlabel=p.fsc_area)
    else:
        h = np.asarray(fsc_height, dtype=np.float64)
        ok = np.isfinite(a) & np.isfinite(h)
        if ok.any():
            xr = np.percentile(a[ok], [0.1, 99.9])
            yr = np.percentile(h[ok], [0.1, 99.9])
            ax.hist2d(a[ok], h[ok], bins=bins, range=[xr, yr], norm=LogNorm(), cmap="viridis")
        ax.set_xlabel(p.fsc_area)
        ax.set_ylabel(p.fsc_height)
        draw_cleanup_gates(ax, result, "singlets")
    draw_cleanup_gates(ax, result, "debris")
    ax.ticklabel_format(style="sci", scilimits=(-3, 3), useMathText=True)
    n = int(result.cells.size)
    ax.set_title(f"singlets {int(result.singlets.sum())}/{n} events", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    return ax
