"""Positive/negative thresholds: from controls, automatic, or fixed; plus QC plots.

Why three kinds. A threshold set by a control (unstained, no-TdT, isotype) is
the defensible one and is used whenever the sample sheet names a control.
Without controls the assay must still run (DESIGN: "thresholds are
automatic"), so a density valley stands in. A lab may also pin a number.
Every threshold carries its method, parameters and the control that set it,
so a record can say where its cut came from.

Methods
    ``percentile``: the ``q``-th percentile (default 99.5) of the control's
    values, ideally compensated and already cleaned of debris/doublets —
    by construction ``100 − q`` % of the control is called positive.
    ``density_valley``: transform the values to a biexponential scale
    (logicle by default, parameters estimated from the data), estimate the
    density (binned Gaussian KDE), take the two highest significant peaks,
    and cut at the density minimum between them. Working on the
    biexponential axis matters: on a linear axis the negative population is
    a spike at zero and the valley is not where a person would draw it.
    ``fixed``: a given value.

The threshold ``value`` is always in data units; events with
``value >= threshold`` are positive (the same half-open rule as
:class:`~assaykit.cytometry.gates.ThresholdGate`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assaykit.cytometry._density import binned_kde, peak_positions
from assaykit.cytometry.gates import Dimension, ThresholdGate
from assaykit.cytometry.transforms import LogicleTransform, Transform
from assaykit.errors import AnalysisError, ConfigError

__all__ = [
    "Threshold",
    "auto_logicle",
    "biexponential_ticks",
    "density_plot",
    "fixed_threshold",
    "histogram_plot",
    "percentile_threshold",
    "valley_threshold",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Threshold:
    """A threshold, how it was made, and which control (sample id/file) set it."""

    value: float
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    control: str | None = None
    channel: str | None = None

    def gate(
        self, dimension: Dimension | str | None = None, id: str = ""
    ) -> ThresholdGate:
        """A :class:`ThresholdGate` selecting events ``>= value`` (raw data units)."""
        dim = dimension if dimension is not None else self.channel
        if dim is None:
            raise ConfigError("threshold has no channel; pass the dimension to gate on")
        if isinstance(dim, Dimension) and dim.transform is not None:
            raise ConfigError(
                "Threshold.value is in data units; gate on an untransformed dimension"
            )
        return ThresholdGate(dim, self.value, "above", id=id or f"{self.channel or dim}+")

    def positive(self, values: ArrayLike) -> NDArray[np.bool_]:
        """``values >= value`` (NaN is never positive)."""
        v = np.asarray(values, dtype=np.float64)
        return np.asarray(v >= self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "method": self.method,
            "parameters": dict(self.parameters),
            "control": self.control,
            "channel": self.channel,
        }


def _finite(values: ArrayLike, what: str, min_events: int) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < min_events:
        raise AnalysisError(f"{what}: {v.size} finite events, need at least {min_events}")
    return v


def percentile_threshold(
    control_values: ArrayLike,
    percentile: float = 99.5,
    *,
    control: str | None = None,
    channel: str | None = None,
    min_events: int = 200,
) -> Threshold:
    """The ``percentile``-th percentile of a negative control's values.

    Why a high percentile rather than mean + k·SD: compensated negatives are
    skewed and heavy-tailed, and a percentile states directly the false-
    positive rate accepted on the control (0.5 % at 99.5).
    """
    if not (50.0 <= percentile < 100.0):
        raise ConfigError(f"percentile must be in [50, 100), got {percentile}")
    v = _finite(control_values, f"control {control or ''}".strip(), min_events)
    value = float(np.percentile(v, percentile))
    return Threshold(
        value,
        "percentile",
        {"percentile": percentile, "n_control_events": int(v.size)},
        control=control,
        channel=channel,
    )


def fixed_threshold(
    value: float, *, channel: str | None = None, source: str | None = "user"
) -> Threshold:
    """A threshold given by the lab (``source`` names where it came from)."""
    if not math.isfinite(value):
        raise ConfigError(f"fixed threshold must be finite, got {value}")
    return Threshold(float(value), "fixed", {}, control=source, channel=channel)


def auto_logicle(
    values: ArrayLike, t: float | None = None, m: float = 4.5, negative_percentile: float = 5.0
) -> LogicleTransform:
    """Logicle parameters fitted to the data (Parks et al. 2006, "W from negatives").

    ``T`` is given, or else the larger of the data maximum and 262144 (the top
    of common 18-bit instruments; a small ``T`` from a dim sample would stretch
    the linear zone over most of the axis and split one population in two).
    ``W = (M − log10(T / |r|)) / 2`` where ``r`` is the ``negative_percentile``-th
    percentile of the negative values, so the negative spread fits in the
    linear zone. No negatives: ``W = 0``.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    top = float(t) if t is not None else max(float(v.max()) if v.size else 0.0, 262144.0)
    top = max(top, 1.0)
    neg = v[v < 0]
    w = 0.0
    if neg.size:
        r = abs(float(np.percentile(neg, negative_percentile)))
        if r > 0:
            w = (m - math.log10(top / r)) / 2.0
    w = min(max(w, 0.0), m / 2.0)
    return LogicleTransform(top, w, m, 0.0)


def valley_threshold(
    values: ArrayLike,
    transform: Transform | None = None,
    *,
    bins: int = 512,
    bandwidth: float | None = 0.02,
    min_prominence: float = 0.05,
    control: str | None = None,
    channel: str | None = None,
    min_events: int = 200,
) -> Threshold:
    """Density minimum between the two main modes on a biexponential axis.

    ``transform``: the axis (default :func:`auto_logicle` of the values).
    ``bandwidth``: KDE bandwidth in scale units (the scale is about 0..1);
    ``None`` uses Scott's rule. Raises :class:`AnalysisError` when the data
    are not bimodal, so the caller can fall back explicitly.
    """
    v = _finite(values, f"valley threshold {channel or ''}".strip(), min_events)
    tr = transform if transform is not None else auto_logicle(v)
    y = tr.apply(v)
    y = y[np.isfinite(y)]
    lo, hi = (float(q) for q in np.percentile(y, [0.1, 99.9]))
    pad = 0.05 * (hi - lo)
    dens = binned_kde(y, lo - pad, hi + pad, bins, bandwidth)
    peaks = peak_positions(dens, min_prominence)
    if peaks.size < 2:
        raise AnalysisError(
            f"valley threshold {channel or ''}: one population only, no valley to cut at"
        )
    left, right = sorted(peaks[:2])
    seg = (dens.grid >= left) & (dens.grid <= right)
    k = int(np.argmin(np.where(seg, dens.density, np.inf)))
    y_cut = float(dens.grid[k])
    value = float(tr.inverse(np.array([y_cut]))[0])
    frac_pos = float(np.mean(v >= value))
    return Threshold(
        value,
        "density_valley",
        {
            "transform": tr.params(),
            "scale_value": y_cut,
            "bandwidth": dens.bandwidth,
            "bins": bins,
            "min_prominence": min_prominence,
            "peaks_scale": [float(left), float(right)],
            "fraction_positive": frac_pos,
        },
        control=control,
        channel=channel,
    )


# --------------------------------------------------------------------------- #
# QC plots on biexponential axes
# --------------------------------------------------------------------------- #


def biexponential_ticks(
    transform: Transform, lo: float, hi: float
) -> tuple[list[float], list[str]]:
    """Tick positions (scale units) and labels (data units) at 0 and ±10^k.

    Only decades whose scale positions lie in ``[lo, hi]`` and are not crowded
    (at least 8 % of the axis apart) are returned.
    """
    # Zero first, then decades from the largest down, so crowding drops the
    # small decades next to zero rather than zero itself.
    cands = [0.0] + [s * 10.0**k for k in range(7, 0, -1) for s in (1.0, -1.0)]
    pos = transform.apply(np.asarray(cands))
    min_gap = 0.08 * (hi - lo)
    ticks: list[tuple[float, str]] = []
    for value, p in zip(cands, pos):
        if not np.isfinite(p) or not (lo <= p <= hi):
            continue
        if any(abs(p - q) < min_gap for q, _ in ticks):
            continue
        if value == 0:
            label = "0"
        else:
            k = round(math.log10(abs(value)))
            label = f"{'-' if value < 0 else ''}$10^{{{k}}}$"
        ticks.append((float(p), label))
    ticks.sort()
    return [t[0] for t in ticks], [t[1] for t in ticks]


def _scaled(values: ArrayLike, transform: Transform | None) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64).ravel()
    y = v if transform is None else transform.display(v)
    return y[np.isfinite(y)]


def histogram_plot(
    ax: Any,
    values: ArrayLike,
    transform: Transform | None = None,
    thresholds: Iterable[Threshold] = (),
    *,
    bins: int = 256,
    label: str | None = None,
    color: str | None = None,
    range: tuple[float, float] | None = None,
) -> Any:
    """Histogram of ``values`` on ``transform``'s axis, with threshold lines.

    The x axis is in scale units, labelled in data units (``0``, ``10^k``), so
    compensated negatives are visible. Returns ``ax``.
    """
    y = _scaled(values, transform)
    rng = range or ((float(y.min()), float(y.max())) if y.size else (0.0, 1.0))
    ax.hist(y, bins=bins, range=rng, histtype="stepfilled", alpha=0.45, color=color, label=label)
    _decorate(ax, transform, thresholds, rng)
    return ax


def density_plot(
    ax: Any,
    values: ArrayLike | Sequence[ArrayLike],
    transform: Transform | None = None,
    thresholds: Iterable[Threshold] = (),
    *,
    labels: Sequence[str] | None = None,
    bins: int = 512,
    bandwidth: float | None = 0.01,
    range: tuple[float, float] | None = None,
    prescaled: bool = False,
) -> Any:
    """Overlayed KDE curves (e.g. control vs. sample) on a biexponential axis.

    ``values`` is one array or a list of arrays; ``bandwidth`` is in scale
    units. Threshold lines are drawn at their scale positions. ``prescaled``:
    the values are already on ``transform``'s scale (a caller that needed them
    there for its range need not transform them twice). Returns ``ax``.
    """
    if isinstance(values, np.ndarray) and values.ndim == 1:
        series: list[ArrayLike] = [values]
    elif isinstance(values, (list, tuple)) and values and np.ndim(values[0]) == 0:
        series = [np.asarray(values)]
    else:
        series = list(values)  # type: ignore[arg-type]
    scaled = [_scaled(v, None if prescaled else transform) for v in series]
    allv = np.concatenate([s for s in scaled if s.size]) if any(s.size for s in scaled) else None
    if range is None:
        range = (
            (float(np.percentile(allv, 0.05)), float(np.percentile(allv, 99.95)))
            if allv is not None
            else (0.0, 1.0)
        )
    lo, hi = range
    for k, y in enumerate(scaled):
        if not y.size:
            continue
        d = binned_kde(y, lo, hi, bins, bandwidth)
        lab = labels[k] if labels and k < len(labels) else None
        ax.plot(d.grid, d.density, lw=1.3, label=lab)
        ax.fill_between(d.grid, d.density, alpha=0.15)
    _decorate(ax, transform, thresholds, (lo, hi))
    ax.set_ylabel("density")
    return ax


def _decorate(
    ax: Any, transform: Transform | None, thresholds: Iterable[Threshold], rng: tuple[float, float]
) -> None:
    colors = ("crimson", "black", "darkorange", "purple")
    for k, th in enumerate(thresholds):
        pos = th.value if transform is None else float(transform.apply(np.array([th.value]))[0])
        ax.axvline(pos, color=colors[k % len(colors)], ls="--", lw=1.2,
                   label=f"{th.method} {th.value:.4g}" + (f" ({th.control})" if th.control else ""))
    if transform is not None:
        ticks, labels = biexponential_ticks(transform, rng[0], rng[1])
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels)
    ax.set_xlim(*rng)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
