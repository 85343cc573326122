"""QC figures: lane and band boxes over the image, and lane profiles with baselines.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot,
no global state, no display needed) and returned to the caller, who decides
where they go (the batch layer writes them; ``analyze`` never does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assaykit.imaging.bands import Band, LaneProfile
from assaykit.imaging.geometry import Lane

__all__ = ["figure_to_png", "plot_lane_profiles", "plot_lanes_and_bands"]


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_lanes_and_bands(
    image: NDArray[Any],
    lanes: Sequence[Lane],
    bands: Sequence[Band] = (),
    *,
    title: str | None = None,
    strips: Sequence[tuple[int, int]] = (),
    saturated: NDArray[np.bool_] | None = None,
    labels: dict[int, str] | None = None,
    raster: bool = False,
    width: float = 8.0,
) -> Any:
    """The image (bands bright) with lane outlines, band rectangles and saturated pixels in red.

    ``raster=True`` returns an :class:`assaykit.raster.RasterFigure` (same
    drawing, a few ms instead of ~150 ms; for the figures of every batch
    image); the default is a matplotlib Figure (``assaykit geometry``, and
    callers that add matplotlib artists of their own). ``width`` is in inches
    at 100 dpi: callers with many labelled lanes widen it so labels do not collide.
    """

    arr = np.asarray(image, dtype=np.float32)
    h, w = arr.shape
    height = width * h / max(w, 1) + 0.6
    Rectangle: Any
    if raster:
        from assaykit.raster import RasterFigure, Rectangle

        fig: Any = RasterFigure(width, height)
        # the image fills the width; 0.6 in above it hold the title (no tight_layout)
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - 0.6 / height))
    else:
        from matplotlib.patches import Rectangle

        fig = _figure(width, height)
        ax = fig.add_subplot(1, 1, 1)
    lo, hi = np.percentile(arr, [1.0, 99.8])
    ax.imshow(
        arr, cmap="gray", vmin=float(lo), vmax=float(max(hi, lo + 1e-6)), interpolation="nearest"
    )
    if saturated is not None and saturated.any():
        overlay = np.zeros((h, w, 4), np.float32)
        overlay[saturated] = (1.0, 0.0, 0.0, 0.8)
        ax.imshow(overlay, interpolation="nearest")
    for r0, r1 in strips:
        ax.axhline(r0, color="tab:orange", lw=0.8, ls="--")
        ax.axhline(r1, color="tab:orange", lw=0.8, ls="--")
    for lane in lanes:
        ax.add_patch(
            Rectangle((lane.left, 0), lane.width, h - 1, fill=False, ec="tab:cyan", lw=0.8)
        )
        name = labels.get(lane.index, str(lane.index + 1)) if labels else str(lane.index + 1)
        ax.text(lane.center, 2, name, color="tab:cyan", ha="center", va="top", fontsize=8)
    for b in bands:
        color = "red" if b.saturated else "yellow"
        ax.add_patch(
            Rectangle(
                (b.left, b.top), b.right - b.left, b.bottom - b.top, fill=False, ec=color, lw=0.7
            )
        )
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, y=1.0)
    if not raster:
        fig.tight_layout()
    return fig


def plot_lane_profiles(
    profiles: Sequence[LaneProfile],
    bands: Sequence[Sequence[Band]] = (),
    *,
    title: str | None = None,
    ncols: int = 2,
) -> Any:
    """One panel per lane: profile, baseline, and each band's integrated area shaded."""
    n = max(1, len(profiles))
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig = _figure(5.0 * ncols, 2.4 * nrows + 0.4)
    for i, prof in enumerate(profiles):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        rows = prof.rows
        ax.plot(rows, prof.signal, color="black", lw=0.8, label="profile")
        ax.plot(rows, prof.baseline, color="tab:blue", lw=0.8, ls="--", label="baseline")
        lane_bands = bands[i] if i < len(bands) else ()
        for b in lane_bands:
            sel = (rows >= b.top) & (rows < b.bottom)
            if not sel.any():
                continue
            y = prof.signal[sel]
            if b.background.get("volume", {}).get("method") == "band_edges_linear":
                # straight line between the band edges (approximately what was integrated)
                base = np.linspace(y[0], y[-1], y.size) if y.size > 1 else y
            else:
                base = prof.baseline[sel]
            ax.fill_between(
                rows[sel], base, y, color="red" if b.saturated else "tab:orange", alpha=0.4
            )
            ax.axvline(b.row, color="tab:red", lw=0.5)
        ax.set_title(f"lane {prof.lane.index + 1}", fontsize=10, y=1.0)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("row (px)", fontsize=9)
        ax.set_ylabel("sum across lane (AU)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def figure_to_png(fig: Any) -> bytes:
    """PNG bytes of a figure, so callers can store or embed it without touching disk."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
