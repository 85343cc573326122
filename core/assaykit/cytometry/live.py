"""Live-cell gating and robust "upper edge of the main population" thresholds.

Why a shared live gate: every functional flow assay (Rh123 efflux, calcein,
mitochondrial dyes) must measure live cells only, because dead cells have
lost the membrane potential or pump activity being measured and would drag
the median down. Two ways to find them, chosen by what the file holds:

``pi`` (a viability dye such as propidium iodide is present)
    Dead cells have a leaky membrane and are PI-bright. On a biexponential
    (logicle) axis fitted to the data, we cut at the density valley between
    the PI-negative and PI-bright populations when the two are well
    separated; otherwise at the upper edge of the main (PI-negative)
    population, ``median + n_mad · 1.4826 · MAD`` on the same axis
    (:func:`mad_threshold`). Events with ``PI < cut`` are live.

    With ``spill_from`` (the measured dye's channel, e.g. Rh123 in FITC) the
    gate runs along the spill direction: a bright dye spills into the PI
    detector, so uncompensated live cells are the brighter in PI the more dye
    they hold, and a cut on PI alone removes the brightest live cells (3 of 8
    Rh123 MFIs 4 % low in a file without ``$SPILLOVER``). The slope ``b`` of
    PI on the dye among the live cells is fitted (Huber, iterated with the
    cut), and the cut is made on ``PI − b · dye``; with no significant slope
    (a compensated file) it is the plain PI cut.

``scatter`` (no viability dye)
    Dying cells shrink, so they form a population of lower forward scatter
    than the live cells. We fit a two-component Gaussian mixture to FSC-A
    (EM, several starts); when the smaller-FSC component is a minority and
    clearly apart from the main one (Ashman's D >= 2), the cut is where the
    two component densities cross, their weights ignored: a small dead
    population is then cut as strictly as a large one (an equal-posterior cut
    would let most of a 5 % dead population through, and dead cells bias the
    median while a few lost live cells do not). Otherwise the live gate is
    the robust lower edge of the main population,
    ``median − n_mad · 1.4826 · MAD`` of FSC-A. Events with ``FSC-A >= cut``
    are live. Scatter is a weaker criterion than a dye, and the result says
    which one was used.

Both work on the events the caller selects with ``within`` (typically the
singlets of :func:`~assaykit.cytometry.cleanup.auto_cleanup`) and return a
mask over all events, so the masks compose with ``&``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from assaykit.cytometry.compensation import _huber_slopes
from assaykit.cytometry.events import EventData, as_event_source
from assaykit.cytometry.prepare import DEFAULT_FIT_EVENTS
from assaykit.cytometry.thresholds import Threshold, auto_logicle, valley_threshold
from assaykit.cytometry.transforms import Transform
from assaykit.errors import AnalysisError

__all__ = [
    "LiveGateParams",
    "LiveGateResult",
    "live_gate",
    "mad_threshold",
    "robust_center",
]

logger = logging.getLogger(__name__)

Mask = NDArray[np.bool_]

_MAD_TO_SIGMA = 1.4826


def robust_center(
    values: ArrayLike, n_mad: float = 3.0, passes: int = 2
) -> tuple[float, float]:
    """``(median, 1.4826·MAD)`` of the main population, re-estimated ``passes`` times
    on the values within ``n_mad`` sigma, so that a minority population (dead
    cells, positives) does not widen the spread."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise AnalysisError("robust centre of an empty population")
    center = float(np.median(v))
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(v - center)))
    for _ in range(passes):
        if sigma <= 0:
            break
        inside = v[np.abs(v - center) <= n_mad * sigma]
        if inside.size < 10:
            break
        center = float(np.median(inside))
        sigma = _MAD_TO_SIGMA * float(np.median(np.abs(inside - center)))
    if sigma <= 0:
        sigma = float(np.std(v))
    return center, sigma


def mad_threshold(
    values: ArrayLike,
    n_mad: float = 4.0,
    transform: Transform | None = None,
    *,
    side: Literal["upper", "lower"] = "upper",
    control: str | None = None,
    channel: str | None = None,
    min_events: int = 50,
) -> Threshold:
    """The upper (or lower) edge of the main population: ``centre ± n_mad·σ``.

    ``centre`` and ``σ`` come from :func:`robust_center` on ``transform``'s
    axis (default: :func:`~assaykit.cytometry.thresholds.auto_logicle` of the
    values for ``side="upper"``, linear for ``"lower"``), and the cut is
    mapped back to data units. Why: when a sample has one dominant negative
    population and no control, "clearly above the negatives" is the only
    defensible automatic cut; it assumes the main population *is* negative.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < min_events:
        raise AnalysisError(
            f"{channel or 'values'}: only {v.size} finite events for a MAD threshold; "
            f"need {min_events}"
        )
    tr = transform if transform is not None else (auto_logicle(v) if side == "upper" else None)
    y = v if tr is None else tr.apply(v)
    center, sigma = robust_center(y)
    if not sigma > 0:  # a constant population: cut just outside it, never through it
        sigma = 1e-6 * max(abs(center), 1.0)
    y_cut = center + n_mad * sigma if side == "upper" else center - n_mad * sigma
    value = y_cut if tr is None else float(tr.inverse(np.array([y_cut]))[0])
    return Threshold(
        float(value),
        "mad",
        {
            "n_mad": n_mad,
            "side": side,
            "center_scale": center,
            "sigma_scale": sigma,
            "transform": None if tr is None else tr.params(),
            "n_events": int(v.size),
        },
        control=control,
        channel=channel,
    )


class LiveGateParams(BaseModel):
    """Settings of :func:`live_gate`; every field can be overridden."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fsc_area: str = Field(default="FSC-A", description="forward-scatter area channel")
    n_mad: float = Field(
        default=4.0,
        gt=0,
        le=20,
        description="width of the main population's robust band, in sigma (1.4826·MAD)",
    )
    min_separation: float = Field(
        default=0.12,
        gt=0,
        lt=1,
        description=(
            "PI mode: the two PI peaks must be this far apart on the logicle axis "
            "(0..1 spans M=4.5 decades) for the valley to be used"
        ),
    )
    min_mixture_separation: float = Field(
        default=2.0,
        gt=0,
        le=20,
        description=(
            "scatter mode: the two FSC-A mixture components must be this many pooled "
            "standard deviations apart (Ashman's D) to call the smaller one dying cells"
        ),
    )
    min_dead_weight: float = Field(
        default=0.01,
        ge=0,
        lt=0.5,
        description="scatter mode: the smaller-FSC component must hold at least this fraction",
    )
    min_prominence: float = Field(
        default=0.02, gt=0, lt=1, description="peak prominence, fraction of the highest density"
    )
    min_events: int = Field(default=50, ge=1, description="fewer events than this: keep all")
    fit_events: int | None = Field(
        default=DEFAULT_FIT_EVENTS,
        ge=1000,
        description=(
            "the cut is estimated on at most this many events, an even stride through "
            "them, then applied to all (None: all); as for the cleanup gates"
        ),
    )


@dataclass(frozen=True)
class LiveGateResult:
    """The live mask (over all events), how it was made, and the cut used.

    ``method`` is ``"pi"``, ``"scatter"`` or ``"none"`` (too few events to
    gate: every event in ``within`` is kept). ``rule`` says whether the cut is
    a density valley (``"valley"``) or the robust edge of the main population
    (``"mad"``). ``threshold`` is the cut in data units on ``channel``: live
    events are below it for ``pi`` and at or above it for ``scatter``.
    """

    live: Mask
    method: Literal["pi", "scatter", "none"]
    rule: str
    threshold: Threshold | None
    channel: str | None
    n_considered: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def n_live(self) -> int:
        return int(self.live.sum())

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description for records and figure captions."""
        return {
            "method": self.method,
            "rule": self.rule,
            "channel": self.channel,
            "threshold": None if self.threshold is None else self.threshold.value,
            "n_considered": self.n_considered,
            "n_live": self.n_live,
            **self.details,
        }


def _pi_cut(v: NDArray[np.float64], p: LiveGateParams, channel: str) -> tuple[Threshold, str]:
    tr = auto_logicle(v)
    try:
        th = valley_threshold(
            v, tr, min_prominence=p.min_prominence, channel=channel, min_events=p.min_events
        )
        left, right = th.parameters["peaks_scale"]
        # the transform is monotone, so the median's position is the median position
        center = float(tr.apply(np.array([np.median(v)]))[0])
        # Accept the valley only when it separates two real populations and the
        # larger one (the live cells, usually) is not cut in half.
        if right - left >= p.min_separation and th.parameters["scale_value"] > center:
            return th, "valley"
    except AnalysisError:
        pass
    return mad_threshold(v, p.n_mad, tr, channel=channel, min_events=p.min_events), "mad"


def _em(
    x: NDArray[np.float64],
    n: NDArray[np.float64],
    w: NDArray[np.float64],
    mu: NDArray[np.float64],
    sd: NDArray[np.float64],
    iterations: int,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """EM on binned data: values ``x`` (bin centres) observed ``n`` times each."""
    total = float(n.sum())
    floor = 1e-6 * max(float(x.max() - x.min()), 1e-12)
    ll = -np.inf
    for _ in range(iterations):
        z = (x[:, None] - mu[None, :]) / sd[None, :]
        pdf = w[None, :] * np.exp(-0.5 * z * z) / sd[None, :]
        tot = np.maximum(pdf.sum(axis=1, keepdims=True), 1e-300)
        r = pdf / tot * n[:, None]
        nk = r.sum(axis=0)
        if np.any(nk < 1e-6 * total):
            return -np.inf, w, mu, sd
        w = nk / total
        mu = (r * x[:, None]).sum(axis=0) / nk
        sd = np.maximum(np.sqrt((r * (x[:, None] - mu[None, :]) ** 2).sum(axis=0) / nk), floor)
        new_ll = float((np.log(tot[:, 0]) * n).sum())
        if abs(new_ll - ll) < 1e-8 * abs(new_ll):
            ll = new_ll
            break
        ll = new_ll
    return ll, w, mu, sd


def _two_gaussians(
    v: NDArray[np.float64], iterations: int = 300, bins: int = 256
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """EM fit of a two-component 1-D Gaussian mixture: (weights, means, sds), means ascending.

    EM finds a local optimum, and a small low population is easily missed from
    a symmetric start, so it is started from several places (a small component
    in the low tail, and a balanced split) and the best likelihood wins. The
    fit runs on a ``bins``-bin histogram of the central 99.8 % of the values,
    so its cost does not grow with the event count; the bins are 1/256 of the
    range wide, far below the spread of any population worth separating.
    """
    med = float(np.median(v))
    spread = _MAD_TO_SIGMA * float(np.median(np.abs(v - med))) or float(np.std(v)) or 1.0
    lo_v, hi_v = (float(q) for q in np.percentile(v, [0.1, 99.9]))
    if hi_v <= lo_v:
        hi_v = lo_v + 1.0
    counts, edges = np.histogram(v, bins=bins, range=(lo_v, hi_v))
    keep = counts > 0
    x = ((edges[:-1] + edges[1:]) / 2)[keep]
    n = counts[keep].astype(np.float64)
    best: tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None
    best = None
    for q_low, w_low in ((2.0, 0.03), (5.0, 0.08), (10.0, 0.15), (25.0, 0.4)):
        lo = float(np.percentile(v, q_low))
        start = (
            np.array([w_low, 1 - w_low]),
            np.array([lo, med]),
            np.array([spread / 2, spread]),
        )
        fit = _em(x, n, *start, iterations)
        if best is None or fit[0] > best[0]:
            best = fit
    assert best is not None
    _, w, mu, sd = best
    order = np.argsort(mu)
    return w[order], mu[order], sd[order]


def _equal_posterior(
    w: NDArray[np.float64], mu: NDArray[np.float64], sd: NDArray[np.float64]
) -> float | None:
    """The point between the two means where both weighted densities are equal
    (pass equal weights for the crossing of the unweighted densities)."""
    (w1, w2), (m1, m2), (s1, s2) = w, mu, sd
    a = 1 / (2 * s2**2) - 1 / (2 * s1**2)
    b = m1 / s1**2 - m2 / s2**2
    c = m2**2 / (2 * s2**2) - m1**2 / (2 * s1**2) + np.log((w1 * s2) / (w2 * s1))
    # w1 N(x; m1, s1) = w2 N(x; m2, s2)  <=>  a x^2 + b x + c = 0 (a = 0: linear)
    roots = [-c / b] if abs(a) < 1e-30 else [float(r.real) for r in np.roots([a, b, c])
                                             if abs(r.imag) < 1e-9]
    inside = [float(r) for r in roots if m1 < r < m2]
    return inside[0] if inside else None


def _scatter_cut(
    v: NDArray[np.float64], p: LiveGateParams
) -> tuple[Threshold, str]:
    w, mu, sd = _two_gaussians(v)
    separation = float((mu[1] - mu[0]) / np.sqrt((sd[0] ** 2 + sd[1] ** 2) / 2))
    # A smaller-FSC minority population, clearly apart from the main one, is the dying cells.
    if separation >= p.min_mixture_separation and p.min_dead_weight <= w[0] < w[1]:
        cut = _equal_posterior(np.array([0.5, 0.5]), mu, sd)
        if cut is not None:
            return (
                Threshold(
                    cut,
                    "mixture",
                    {
                        "side": "lower",
                        "weights": [float(x) for x in w],
                        "means": [float(x) for x in mu],
                        "sds": [float(x) for x in sd],
                        "separation": separation,
                    },
                    channel=p.fsc_area,
                ),
                "mixture",
            )
    return (
        mad_threshold(
            v, p.n_mad, None, side="lower", channel=p.fsc_area, min_events=p.min_events
        ),
        "mad",
    )


def _spill_slope(
    pi: NDArray[np.float64], dye: NDArray[np.float64], p: LiveGateParams, channel: str
) -> tuple[float, float, Threshold, str]:
    """Slope of PI on the dye among the live cells, its standard error, and the cut on
    ``PI − slope · dye``. The live cells are those below the cut, so the fit and
    the cut are iterated: a plain PI cut removes the brightest live cells and
    flattens the first slope, each pass lets more of them back."""
    b, se = 0.0, 0.0
    th, rule = _pi_cut(pi, p, channel)
    for _ in range(6):
        live = (pi - b * dye) < th.value
        if int(live.sum()) < max(p.min_events, 10):
            break
        nb_arr, se_arr = _huber_slopes(dye[live], pi[live][:, None])
        nb, nse = float(nb_arr[0]), float(se_arr[0])
        if not (nb > 3.0 * nse and nb > 0):  # no significant spill: the plain PI cut
            nb, nse = 0.0, nse
        moved = abs(nb - b)
        b, se = nb, nse
        th, rule = _pi_cut(pi - b * dye, p, channel)
        if moved <= max(0.01 * abs(b), 1e-6):
            break
    return b, se, th, rule


def live_gate(
    data: EventData,
    *,
    pi_channel: str | None = None,
    within: Mask | None = None,
    params: LiveGateParams | None = None,
    spill_from: str | None = None,
) -> LiveGateResult:
    """Gate live cells by a viability dye (``pi_channel``) or, without one, by scatter.

    ``data`` is an :class:`~assaykit.cytometry.events.EventFrame` (compensated
    if the file says how) or a ``{channel: array}`` mapping. ``within``
    restricts the estimate and the result to those events (e.g. singlets).
    ``spill_from`` names the measured dye's channel, whose spill into the PI
    detector the gate then follows (PI mode only; ``details["spill_slope"]``
    says what it found). See the module docstring for the rules.
    """
    p = params or LiveGateParams()
    src = as_event_source(data)
    n = src.n_events
    base = np.ones(n, dtype=bool) if within is None else np.asarray(within, dtype=bool)
    if base.shape != (n,):
        raise AnalysisError(f"within mask has shape {base.shape}, expected ({n},)")
    channel = pi_channel if pi_channel else p.fsc_area
    x = src.column(channel)
    sel = base & np.isfinite(x)
    v = x[sel]
    if v.size < p.min_events:
        logger.info("live gate: only %d events; keeping all", v.size)
        return LiveGateResult(sel.copy(), "none", "too_few_events", None, channel, int(v.size))
    if p.fit_events is not None and v.size > p.fit_events:
        v = v[:: -(-v.size // p.fit_events)]
    details: dict[str, Any] = {}
    if pi_channel and spill_from and spill_from != pi_channel:
        d_all = src.column(spill_from)
        sel &= np.isfinite(d_all)
        d = d_all[base & np.isfinite(x) & np.isfinite(d_all)]
        v = x[base & np.isfinite(x) & np.isfinite(d_all)]
        if p.fit_events is not None and v.size > p.fit_events:
            stride = -(-v.size // p.fit_events)
            v, d = v[::stride], d[::stride]
        b, b_se, th, rule = _spill_slope(v, d, p, channel)
        live = sel & ((x - b * d_all) < th.value)
        details = {"spill_from": spill_from, "spill_slope": b, "spill_slope_se": b_se}
        method: Literal["pi", "scatter"] = "pi"
    elif pi_channel:
        th, rule = _pi_cut(v, p, channel)
        live = sel & (x < th.value)
        method = "pi"
    else:
        th, rule = _scatter_cut(v, p)
        live = sel & (x >= th.value)
        method = "scatter"
    n_sel = int(sel.sum())
    frac = float(live.sum() / max(n_sel, 1))
    return LiveGateResult(
        live, method, rule, th, channel, n_sel, {"fraction_live": frac, **details}
    )
