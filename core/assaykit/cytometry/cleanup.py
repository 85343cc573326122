"""Automatic cleanup gates: debris exclusion (FSC-A) and singlets (FSC-H vs FSC-A).

Why automatic: every flow assay in assaykit starts with the same two gates,
and a lab that runs a folder with no hand-drawn gates still needs them, drawn
the same way every time, and drawn on the QC figure so a person can check.

Debris (``debris_method="valley"``)
    Debris and dead-cell fragments are the smallest particles, so they form
    the lowest-FSC population. We estimate the FSC-A density (binned Gaussian
    KDE on the 0.1–99.5 % range), find the significant peaks, and put the
    cutoff at the density minimum of the *leftmost* valley whose depth is at
    most ``valley_depth`` of the lower flanking peak. Leftmost, because the
    next valley up is usually cells vs. doublets. If no such valley exists,
    nothing is called debris and ``debris_method_used`` says so
    (``"none_found"``). ``debris_method="fixed"`` uses ``debris_cutoff``.
    Events with ``FSC-A >= cutoff`` are kept (``SSC-A`` is drawn for context).

Singlets
    A single cell passing the laser gives a pulse whose height is a stable
    fraction of its area; two cells stuck together give about twice the area
    at about the same height. So among kept events with ``FSC-A > 0`` we take
    ``r = FSC-H / FSC-A``, estimate its centre (median) and spread
    (1.4826 · MAD), re-estimate them once on the events inside the band (so
    doublets do not widen it), and keep ``center − n_mad_low·σ <= r <=
    center + n_mad_high·σ``. In the FSC-A/FSC-H plane the band is two lines
    through the origin, which :func:`draw_cleanup_gates` draws.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from assaykit.cytometry._density import Density, binned_kde, valleys
from assaykit.cytometry.events import EventData, as_event_source
from assaykit.errors import AnalysisError

__all__ = [
    "CleanupParams",
    "CleanupResult",
    "auto_cleanup",
    "debris_cutoff",
    "draw_cleanup_gates",
    "plot_cleanup",
    "singlet_band",
]

logger = logging.getLogger(__name__)

Mask = NDArray[np.bool_]


class CleanupParams(BaseModel):
    """Parameters of :func:`auto_cleanup`; every field can be overridden."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fsc_area: str = Field(default="FSC-A", description="forward-scatter area channel")
    ssc_area: str = Field(default="SSC-A", description="side-scatter area channel (for figures)")
    fsc_height: str = Field(default="FSC-H", description="forward-scatter height channel")
    debris_method: Literal["valley", "fixed", "none"] = "valley"
    debris_cutoff: float | None = Field(
        default=None, description="FSC-A cutoff in data units when debris_method='fixed'"
    )
    kde_bins: int = Field(default=512, ge=64, le=8192)
    kde_bandwidth: float | None = Field(
        default=None, gt=0, description="KDE bandwidth, fraction of the FSC-A range; None: Scott"
    )
    min_prominence: float = Field(
        default=0.05, gt=0, lt=1, description="peak prominence, fraction of the highest density"
    )
    valley_depth: float = Field(
        default=0.7, gt=0, le=1, description="a valley dips below this fraction of its lower peak"
    )
    singlets: bool = True
    n_mad_low: float = Field(default=4.0, gt=0, description="band width below centre, σ")
    n_mad_high: float = Field(default=4.0, gt=0, description="band width above centre, σ")
    min_events: int = Field(default=100, ge=1)


@dataclass(frozen=True)
class CleanupResult:
    """Masks and the exact boundaries used, so a figure can draw them.

    ``cells``: not debris. ``singlets``: not debris *and* inside the ratio
    band. ``ratio_low``/``ratio_high`` are FSC-H/FSC-A slopes of the band
    lines (``None`` when singlet gating was off).
    """

    cells: Mask
    singlets: Mask
    fsc_cutoff: float | None
    debris_method_used: str
    ratio_center: float | None
    ratio_sigma: float | None
    ratio_low: float | None
    ratio_high: float | None
    params: CleanupParams
    density: Density | None = None

    @property
    def keep(self) -> Mask:
        """Events passing both cleanup gates."""
        return self.singlets

    def summary(self) -> dict[str, Any]:
        """Counts, fractions and boundaries, JSON-friendly (for records/QC)."""
        n = int(self.cells.size)
        return {
            "n_events": n,
            "n_cells": int(self.cells.sum()),
            "n_singlets": int(self.singlets.sum()),
            "fraction_debris": float(1 - self.cells.mean()) if n else 0.0,
            "fraction_singlets_of_cells": float(self.singlets.sum() / max(self.cells.sum(), 1)),
            "fsc_cutoff": self.fsc_cutoff,
            "debris_method_used": self.debris_method_used,
            "ratio_center": self.ratio_center,
            "ratio_low": self.ratio_low,
            "ratio_high": self.ratio_high,
            "params": self.params.model_dump(),
        }


def debris_cutoff(
    fsc_a: ArrayLike, params: CleanupParams | None = None
) -> tuple[float | None, str, Density | None]:
    """FSC-A debris cutoff (data units), the method used, and the density.

    See the module docstring for the rule.
    """
    p = params or CleanupParams()
    if p.debris_method == "none":
        return None, "none", None
    if p.debris_method == "fixed":
        if p.debris_cutoff is None:
            raise AnalysisError("debris_method='fixed' needs debris_cutoff")
        return float(p.debris_cutoff), "fixed", None
    x = np.asarray(fsc_a, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < p.min_events:
        raise AnalysisError(f"only {x.size} events with finite {p.fsc_area}; need {p.min_events}")
    lo, hi = (float(v) for v in np.percentile(x, [0.1, 99.5]))
    bw = None if p.kde_bandwidth is None else p.kde_bandwidth * (hi - lo)
    dens = binned_kde(x, lo, hi, p.kde_bins, bw)
    for v in valleys(dens, p.min_prominence):
        if v.depth_ratio <= p.valley_depth:
            return v.position, "valley", dens
    logger.info("no debris valley on %s; keeping all events", p.fsc_area)
    return None, "none_found", dens


def singlet_band(
    fsc_a: ArrayLike, fsc_h: ArrayLike, params: CleanupParams | None = None
) -> tuple[float, float, float, float]:
    """``(center, sigma, low, high)`` of the FSC-H/FSC-A ratio band (robust, 2 passes)."""
    p = params or CleanupParams()
    a = np.asarray(fsc_a, dtype=np.float64)
    h = np.asarray(fsc_h, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(h) & (a > 0)
    if ok.sum() < p.min_events:
        raise AnalysisError(f"only {int(ok.sum())} events with {p.fsc_area} > 0 for singlets")
    r = h[ok] / a[ok]
    center = float(np.median(r))
    sigma = 1.4826 * float(np.median(np.abs(r - center)))
    for _ in range(2):
        inside = r[(r >= center - p.n_mad_low * sigma) & (r <= center + p.n_mad_high * sigma)]
        if inside.size < p.min_events or sigma <= 0:
            break
        center = float(np.median(inside))
        sigma = 1.4826 * float(np.median(np.abs(inside - center)))
    if sigma <= 0:
        sigma = float(np.std(r)) or abs(center) * 1e-3
    return center, sigma, center - p.n_mad_low * sigma, center + p.n_mad_high * sigma


def auto_cleanup(data: EventData, params: CleanupParams | Mapping[str, Any] | None = None
                 ) -> CleanupResult:
    """Debris and singlet gates for one sample, with the boundaries used.

    ``data`` is an :class:`~assaykit.cytometry.events.EventFrame` or a
    ``{channel: array}`` mapping holding ``fsc_area`` and ``fsc_height``.
    """
    p = params if isinstance(params, CleanupParams) else CleanupParams(**(params or {}))
    src = as_event_source(data)
    a = src.column(p.fsc_area)
    cutoff, used, dens = debris_cutoff(a, p)
    cells = np.isfinite(a) if cutoff is None else (a >= cutoff)
    if not p.singlets:
        return CleanupResult(cells, cells.copy(), cutoff, used, None, None, None, None, p, dens)
    h = src.column(p.fsc_height)
    center, sigma, lo, hi = singlet_band(a[cells], h[cells], p)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = h / a
    singlets = cells & (a > 0) & (r >= lo) & (r <= hi)
    return CleanupResult(cells, singlets, cutoff, used, center, sigma, lo, hi, p, dens)


def draw_cleanup_gates(
    ax: Any,
    result: CleanupResult,
    panel: Literal["debris", "singlets"] = "debris",
    color: str = "crimson",
) -> None:
    """Draw the cleanup boundaries on a matplotlib Axes.

    ``panel="debris"``: a vertical line at the FSC-A cutoff (x axis FSC-A).
    ``panel="singlets"``: the two band lines ``FSC-H = r·FSC-A`` (x FSC-A,
    y FSC-H), over the current x limits.
    """
    if panel == "debris":
        if result.fsc_cutoff is not None:
            ax.axvline(result.fsc_cutoff, color=color, lw=1.2, ls="--",
                       label=f"debris cutoff {result.fsc_cutoff:.4g}")
        return
    if result.ratio_low is None or result.ratio_high is None:
        return
    x0, x1 = ax.get_xlim()
    xs = np.array([max(x0, 0.0), x1])
    ax.plot(xs, result.ratio_low * xs, color=color, lw=1.2, ls="--",
            label=f"singlet band {result.ratio_low:.3f}–{result.ratio_high:.3f}")
    ax.plot(xs, result.ratio_high * xs, color=color, lw=1.2, ls="--")
    ax.set_xlim(x0, x1)


def plot_cleanup(data: EventData, result: CleanupResult, title: str = "") -> Any:
    """A two-panel QC figure (FSC-A/SSC-A with the debris cutoff; FSC-A/FSC-H
    with the singlet band). Returns a matplotlib Figure (Agg, never shown).

    The same figure as every flow assay's: :func:`assaykit.cytometry.figures.cleanup_figure`.
    """
    from assaykit.cytometry.figures import cleanup_figure

    return cleanup_figure(data, result, title)
