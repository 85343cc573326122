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

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assaykit.cytometry._density import hist2d
from assaykit.cytometry.cleanup import CleanupResult, draw_cleanup_gates
from assaykit.cytometry.events import EventData, as_event_source
from assaykit.cytometry.thresholds import Threshold, auto_logicle, biexponential_ticks
from assaykit.cytometry.transforms import Transform

__all__ = [
    "SERIES_COLORS",
    "cleanup_figure",
    "cleanup_panel",
    "common_logicle",
    "density_2d",
    "hist2d",
    "overlay_histograms",
    "reused_figure",
]

#: Colours of successive series (colour-blind safe, after Okabe & Ito).
SERIES_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_THRESHOLD_COLOR = "crimson"
#: Scatter plots of the cleanup gates draw at most this many events (an even stride):
#: a density image of 10^5 events looks the same as one of 10^6.
PLOT_EVENTS = 100_000


class _Skeleton:
    """A Figure and its axes, kept between samples, and what a fresh one held.

    Why: creating a Figure with its axes, and the ticks the first draw of
    each axis creates, is a good part of a small QC figure's cost. Every
    artist a drawing adds is removed on reuse, and every axes property the
    figure helpers set is put back to what a fresh figure has.
    """

    def __init__(self, width: float, height: float, ncols: int,
                 adjust: Mapping[str, float]) -> None:
        from assaykit.assay import new_figure

        self.fig = new_figure(width, height)
        self.axes = list(np.atleast_1d(self.fig.subplots(1, ncols)))
        self.fig.subplots_adjust(**adjust)
        self._fig_base = {id(a) for a in self.fig.get_children()}
        self._base = [{id(a) for a in ax.get_children()} for ax in self.axes]
        self._lims = [(ax.get_xlim(), ax.get_ylim()) for ax in self.axes]
        self._label_props = [
            (ax.xaxis.label.get_fontsize(), ax.yaxis.label.get_fontsize()) for ax in self.axes
        ]

    def reset(self) -> None:
        from matplotlib.ticker import AutoLocator, NullFormatter, NullLocator, ScalarFormatter

        fig = self.fig
        for a in list(fig.get_children()):
            if id(a) not in self._fig_base:
                a.remove()
        if getattr(fig, "_suptitle", None) is not None and fig._suptitle not in fig.texts:
            fig._suptitle = None
        for ax, base, (xl, yl), (fx, fy) in zip(self.axes, self._base, self._lims,
                                                 self._label_props):
            if ax.legend_ is not None:
                ax.legend_.remove()
            for a in list(ax.get_children()):
                if id(a) not in base:
                    a.remove()
            for t in (ax.title, ax._left_title, ax._right_title):
                t.set_text("")
            ax.set_title("")
            ax.set_xlabel("", fontsize=fx)
            ax.set_ylabel("", fontsize=fy)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(AutoLocator())
                axis.set_major_formatter(ScalarFormatter())
                axis.set_minor_locator(NullLocator())
                axis.set_minor_formatter(NullFormatter())
                axis.isDefault_majloc = axis.isDefault_majfmt = True
                axis.isDefault_minloc = axis.isDefault_minfmt = True
            ax.set_axis_on()
            ax.set_aspect("auto")
            ax.relim()
            ax.set_xlim(*xl, auto=True)
            ax.set_ylim(*yl, auto=True)
            ax.ignore_existing_data_limits = True


_SKELETONS = threading.local()


def reused_figure(
    kind: str,
    width: float,
    height: float,
    ncols: int = 1,
    adjust: Mapping[str, float] | None = None,
) -> tuple[Any, list[Any]]:
    """A Figure of ``ncols`` axes in one row, reused for every sample of a figure kind.

    Why: QC figures are the bulk of a batch's run time and the Figure and
    axes set-up is a good part of each. The figure comes back empty, as
    :func:`assaykit.new_figure` plus ``subplots`` plus ``subplots_adjust``
    would make it; it is kept per thread and per ``(kind, size, ncols,
    adjust)``, so render it (e.g. through ``AssayResult.add_figure``)
    before asking for the same kind again, and never hand it to a caller
    who keeps it.
    """
    adj = dict(adjust or {})
    key = (kind, float(width), float(height), int(ncols), tuple(sorted(adj.items())))
    cache: dict[tuple[Any, ...], _Skeleton] | None = getattr(_SKELETONS, "cache", None)
    if cache is None:
        cache = _SKELETONS.cache = {}
    sk = cache.get(key)
    if sk is None:
        sk = cache[key] = _Skeleton(width, height, ncols, adj)
    else:
        sk.reset()
    return sk.fig, list(sk.axes)


def _finite(values: ArrayLike) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def common_logicle(*values: ArrayLike) -> Transform:
    """One logicle axis fitted to several series, so overlaid histograms share a scale."""
    parts = [_finite(v) for v in values]
    parts = [p for p in parts if p.size]
    allv = np.concatenate(parts) if parts else np.zeros(1)
    return auto_logicle(allv)


def _to_scale(values: ArrayLike, transform: Transform | None) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v if transform is None else np.asarray(transform.display(v), dtype=np.float64)


def _to_data(values: ArrayLike, transform: Transform | None) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v if transform is None else np.asarray(transform.inverse(v), dtype=np.float64)


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


def _range(
    series: Sequence[NDArray[np.float64]], transform: Transform | None
) -> tuple[float, float]:
    """Axis limits in scale units: the 0.05–99.95 % range of the data, padded by 3 %.

    The percentiles are taken in data units and then transformed: the
    transforms are increasing, so this is the same range without transforming
    every event.
    """
    nonempty = [s for s in series if s.size]
    if not nonempty:
        return 0.0, 1.0
    allv = np.concatenate(nonempty)
    lo, hi = (float(q) for q in _to_scale(np.percentile(allv, [0.05, 99.95]), transform))
    pad = 0.03 * ((hi - lo) or 1.0)
    return lo - pad, hi + pad


def _edges(
    lo: float, hi: float, bins: int, transform: Transform | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bin edges evenly spaced on the axis (scale units) and the same edges in data units.

    Why both: counting events against the data-unit edges gives exactly the
    histogram of the transformed events (the transform is increasing) while
    transforming only ``bins + 1`` numbers instead of every event.
    """
    scale = np.linspace(lo, hi, bins + 1)
    data = _to_data(scale, transform)
    ok = bool(np.all(np.isfinite(data)) and np.all(np.diff(data) > 0))
    if not ok:  # a transform whose inverse is not usable here: fall back to scale space
        return scale, scale
    return scale, data


def _image2d(
    ax: Any,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    xr: tuple[float, float],
    yr: tuple[float, float],
    bins: int,
    tx: Transform | None = None,
    ty: Transform | None = None,
) -> None:
    """A 2-D event density drawn as one image (log colour), in even bins of the axes' scale.

    The events are put on the scale by :meth:`Transform.display` and binned by
    :func:`hist2d` (a multiplication an event, where data-unit edges need a
    binary search each).
    """
    from matplotlib.colors import LogNorm

    counts = hist2d(_to_scale(x, tx), _to_scale(y, ty), bins, xr, yr)
    if not counts.any():
        return
    img = np.ma.masked_equal(counts.T, 0)
    ax.imshow(img, origin="lower", extent=(xr[0], xr[1], yr[0], yr[1]), aspect="auto",
              norm=LogNorm(vmin=1, vmax=max(float(counts.max()), 1.0)), cmap="viridis",
              interpolation="nearest")


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
    finite = [_finite(v) for _, v in series]
    lo, hi = range if range is not None else _range(finite, transform)
    edges, data_edges = _edges(lo, hi, bins, transform)
    for k, ((label, _), v) in enumerate(zip(series, finite)):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
        if not v.size:
            continue
        y = v if data_edges is not edges else _to_scale(v, transform)
        counts, _ = np.histogram(y, bins=data_edges)
        total = max(int(counts.sum()), 1)
        h = counts / (total * (edges[1] - edges[0])) if normalize else counts
        ax.stairs(h, edges, color=color, lw=1.3, label=f"{label} (n={v.size})")
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
        ax.legend(fontsize=8, loc="best")
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
    xv = np.asarray(x, dtype=np.float64).ravel()
    yv = np.asarray(y, dtype=np.float64).ravel()
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    xr = _range([xv], transform_x)
    yr = _range([yv], transform_y)
    if xv.size:
        _image2d(ax, xv, yv, xr, yr, bins, transform_x, transform_y)
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
        ax.legend(fontsize=8, loc="upper left")
    return ax


def _strided(v: NDArray[np.float64], limit: int = PLOT_EVENTS) -> NDArray[np.float64]:
    return v[:: max(1, math.ceil(v.size / limit))]


def _gate_axes(
    ax: Any,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    result: CleanupResult,
    gates: Sequence[Literal["debris", "singlets"]],
    xlabel: str,
    ylabel: str,
    bins: int,
) -> None:
    """One scatter density (linear axes, 0.1–99.9 % range) with the cleanup gates drawn."""
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = _strided(x[ok]), _strided(y[ok])
    if xs.size > 1:
        xr = tuple(float(q) for q in np.percentile(xs, [0.1, 99.9]))
        yr = tuple(float(q) for q in np.percentile(ys, [0.1, 99.9]))
        if xr[1] > xr[0] and yr[1] > yr[0]:
            _image2d(ax, xs, ys, xr, yr, bins)  # type: ignore[arg-type]
            ax.set_xlim(*xr)
            ax.set_ylim(*yr)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for g in gates:
        draw_cleanup_gates(ax, result, g)
    ax.ticklabel_format(style="sci", scilimits=(-3, 3))  # no mathtext: it dominates render time
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left")


#: fixed margins of the cleanup figure: tight_layout would cost more than drawing it
_CLEANUP_ADJUST = {"left": 0.09, "right": 0.98, "bottom": 0.14, "top": 0.84, "wspace": 0.32}


def cleanup_figure(data: EventData, result: CleanupResult, title: str = "", *, bins: int = 160,
                   reuse: bool = False, raster: bool = False) -> Any:
    """The cleanup figure of every flow assay: FSC-A/SSC-A with the debris cutoff, and the
    cells' FSC-A/FSC-H with the singlet band. Returns a matplotlib Figure (Agg canvas).

    ``data`` holds the scatter columns (a ``{channel: values}`` mapping such as
    :attr:`~assaykit.cytometry.prepare.Prepared.columns`, or an EventFrame); a
    missing side-scatter channel leaves the debris panel as an FSC-A histogram.
    ``reuse=True`` draws on this thread's :func:`reused_figure` (faster; the
    figure must be rendered before the next call), for callers that render at
    once such as :func:`assaykit.cytometry.flow.add_cleanup_figure`.
    ``raster=True`` draws it straight to pixels (:mod:`assaykit.raster`, a
    few ms instead of ~90) and returns a ``RasterFigure``; what it shows is
    the same.
    """
    from assaykit.assay import new_figure

    p = result.params
    src = as_event_source(data)
    a = np.asarray(src.column(p.fsc_area), dtype=np.float64)
    if raster:
        from assaykit.raster import raster_figure

        fig, (ax1, ax2) = raster_figure(9.0, 4.0, 2, _CLEANUP_ADJUST)
    elif reuse:
        fig, (ax1, ax2) = reused_figure("cleanup", 9.0, 4.0, 2, _CLEANUP_ADJUST)
    else:
        fig = new_figure(9.0, 4.0)
        ax1, ax2 = fig.subplots(1, 2)
        fig.subplots_adjust(**_CLEANUP_ADJUST)
    try:
        ssc: NDArray[np.float64] | None = np.asarray(src.column(p.ssc_area), dtype=np.float64)
    except Exception:  # a missing SSC-A must not lose the whole figure
        ssc = None
    if ssc is None:
        overlay_histograms(ax1, [("events", _strided(a[np.isfinite(a)]))], None,
                           normalize=False, xlabel=p.fsc_area)
        draw_cleanup_gates(ax1, result, "debris")
    else:
        _gate_axes(ax1, a, ssc, result, ("debris",), p.fsc_area, p.ssc_area, bins)
    s = result.summary()
    # y=1.0 fixes the title above the axes: matplotlib's automatic title placement costs
    # a tight bounding box of every axis per draw, a good part of a figure's render time
    ax1.set_title(f"cells {s['n_cells']}/{s['n_events']} ({s['debris_method_used']})",
                  fontsize=9, y=1.0)
    if p.singlets and result.ratio_low is not None:
        h = np.asarray(src.column(p.fsc_height), dtype=np.float64)
        cells = result.cells
        _gate_axes(ax2, a[cells], h[cells], result, ("singlets",), p.fsc_area, p.fsc_height,
                   bins)
        ax2.set_title(f"singlets {s['n_singlets']}/{s['n_cells']}", fontsize=9, y=1.0)
    else:
        ax2.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def cleanup_panel(
    ax: Any,
    fsc_area: ArrayLike,
    fsc_height: ArrayLike | None,
    result: CleanupResult,
    *,
    bins: int = 150,
) -> Any:
    """The cleanup gates on one axes: FSC-A against FSC-H with the singlet band and
    the debris cutoff (FSC-A histogram when there is no height channel). Returns ``ax``.

    Drawn as the singlet panel of :func:`cleanup_figure`, for a figure that has
    room for one panel only."""
    a = np.asarray(fsc_area, dtype=np.float64)
    p = result.params
    if fsc_height is None or result.ratio_low is None:
        histogram = [("events", a)]
        overlay_histograms(ax, histogram, None, normalize=False, xlabel=p.fsc_area)
        draw_cleanup_gates(ax, result, "debris")
        ax.ticklabel_format(style="sci", scilimits=(-3, 3))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left")
    else:
        h = np.asarray(fsc_height, dtype=np.float64)
        _gate_axes(ax, a, h, result, ("singlets", "debris"), p.fsc_area, p.fsc_height, bins)
    n = int(result.cells.size)
    ax.set_title(f"singlets {int(result.singlets.sum())}/{n} events", fontsize=9, y=1.0)
    return ax
