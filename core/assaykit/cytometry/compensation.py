"""Spillover (compensation) matrices: parse, apply, and estimate from single stains.

Model. A fluorochrome ``i`` seen by detector ``j`` contributes ``S[i, j]`` of its
primary-detector signal, so observed detector values are ``true @ S`` (rows of
``S`` are sources, columns are detectors, and ``S[i, i_primary] = 1``). This is
the layout of the FCS 3.1 ``$SPILLOVER`` keyword and of Gating-ML 2.0
``spectrumMatrix`` (one ``spectrum`` per fluorochrome). Compensation recovers
``true = observed @ S⁻¹`` (the Moore–Penrose pseudo-inverse when there are more
detectors than fluorochromes, i.e. least-squares unmixing).

Why only the named channels are touched: scatter and time are never in the
matrix, and changing them would silently break every scatter gate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assaykit.errors import AnalysisError, ConfigError

__all__ = [
    "CompensationError",
    "SingleStainControl",
    "SpilloverEstimate",
    "SpilloverMatrix",
    "compensate",
    "estimate_spillover",
    "match_channels",
    "parse_spillover",
    "spillover_from_keywords",
]

logger = logging.getLogger(__name__)

#: FCS keywords that may carry a spillover matrix, in order of preference:
#: ``$SPILLOVER`` is FCS 3.1's; ``$SPILL`` and ``SPILL`` (BD) came before it.
SPILLOVER_KEYWORDS = ("$SPILLOVER", "$SPILL", "SPILL", "SPILLOVER")


class CompensationError(ConfigError):
    """A spillover matrix is malformed or does not fit the events' channels."""


@dataclass(frozen=True)
class SpilloverMatrix:
    """A spillover matrix and the names that tie it to event channels.

    ``matrix[i, j]``: fraction of fluorochrome ``i``'s signal seen in detector
    ``j``. ``detectors`` name the columns (FCS ``$PnN``, or ``$PnS`` as a
    fallback). ``fluorochromes`` name the compensated outputs; by default they
    are the detectors themselves (the FCS convention, square matrix). Gating-ML
    ``spectrumMatrix`` may give other names (``FITC`` for detector ``FL1-H``).
    ``inverted=True`` means ``matrix`` already is the compensation matrix
    (Gating-ML ``matrix-inverted-already``). ``keyword`` is the FCS keyword
    the matrix was read from (``$SPILLOVER``, ``$SPILL``, ``SPILL``), if any.

    A shape that does not fit the names, or a value that is not finite, is
    always refused. A matrix that cannot compensate (a detector named twice,
    a singular matrix) is refused too, unless ``check=False``: then it is kept
    with its :attr:`problem`, and compensating with it raises. The FCS reader
    builds a file's own matrix so, because a file is still readable when its
    spillover keyword is unusable; the analysis that needs it fails, naming it.
    """

    detectors: tuple[str, ...]
    matrix: NDArray[np.float64]
    fluorochromes: tuple[str, ...] = ()
    id: str | None = None
    inverted: bool = False
    keyword: str | None = None
    check: InitVar[bool] = True
    #: (compensation matrix, problem), computed at once when checked, else on first use
    _state: tuple[NDArray[np.float64], str | None] | None = field(
        init=False, default=None, repr=False, compare=False
    )

    def __post_init__(self, check: bool) -> None:
        m = np.array(self.matrix, dtype=np.float64)
        object.__setattr__(self, "detectors", tuple(self.detectors))
        fl = tuple(self.fluorochromes) if self.fluorochromes else tuple(self.detectors)
        object.__setattr__(self, "fluorochromes", fl)
        name = self._name()
        if m.ndim != 2 or m.shape != (len(fl), len(self.detectors)):
            raise CompensationError(
                f"spillover matrix{name} has shape {m.shape}, expected "
                f"{len(fl)} fluorochromes x {len(self.detectors)} detectors"
            )
        if not np.all(np.isfinite(m)):
            raise CompensationError(f"spillover matrix{name} has non-finite values")
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)
        if check:
            problem = self._resolved()[1]
            if problem is not None:
                raise CompensationError(problem)

    def _resolved(self) -> tuple[NDArray[np.float64], str | None]:
        if self._state is None:
            state = _compensation_matrix(self.matrix, self.detectors, self.inverted, self._name())
            object.__setattr__(self, "_state", state)
            return state
        return self._state

    def _name(self) -> str:
        """`` id`` or `` keyword`` for messages ("" for neither)."""
        name = self.id or self.keyword
        return f" {name}" if name else ""

    @property
    def problem(self) -> str | None:
        """Why this matrix cannot compensate, or None (only with ``check=False``)."""
        return self._resolved()[1]

    @property
    def compensation_matrix(self) -> NDArray[np.float64]:
        """``detectors x fluorochromes`` matrix ``C`` with ``true = observed @ C``."""
        comp, problem = self._resolved()
        if problem is not None:
            raise CompensationError(problem)
        return comp

    def unmix(self, observed: NDArray[np.float64]) -> NDArray[np.float64]:
        """Compensate an ``n x len(detectors)`` array (columns in detector order)."""
        return np.asarray(observed, dtype=np.float64) @ self.compensation_matrix

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for records and parameter hashing."""
        return {
            "id": self.id,
            "detectors": list(self.detectors),
            "fluorochromes": list(self.fluorochromes),
            "matrix": self.matrix.tolist(),
        }

    def to_keyword_value(self) -> str:
        """Format as the FCS 3.1 ``$SPILLOVER`` value ``n,name1,…,namen,f11,f12,…,fnn``."""
        if self.inverted or self.fluorochromes != self.detectors:
            raise CompensationError(
                f"spillover matrix{self._name()} is not a square matrix "
                "whose rows are its detectors; $SPILLOVER cannot hold it"
            )
        for name in self.detectors:
            if not name or "," in name:
                raise CompensationError(
                    f"spillover channel name {name!r} is empty or contains a comma"
                )
        values = [repr(float(v)) for v in self.matrix.ravel()]
        return ",".join([str(len(self.detectors)), *self.detectors, *values])

    @classmethod
    def coerce(cls, obj: Any) -> SpilloverMatrix:
        """Accept our own type, an FCS keyword string, or any object with
        ``channels``/``detectors`` and ``matrix``/``values`` attributes, or a
        ``(names, matrix)`` pair (the shapes FCS readers commonly return).

        A matrix that cannot compensate (its :attr:`problem`) raises."""
        if isinstance(obj, SpilloverMatrix):
            if obj.problem is not None:
                raise CompensationError(obj.problem)
            return obj
        if isinstance(obj, str):
            return parse_spillover(obj)
        if isinstance(obj, tuple) and len(obj) == 2:
            names, mat = obj
            return cls(tuple(str(n) for n in names), np.asarray(mat, dtype=np.float64))
        names = getattr(obj, "detectors", None) or getattr(obj, "channels", None)
        mat = getattr(obj, "matrix", None)
        if mat is None:
            mat = getattr(obj, "values", None)
        if names is not None and mat is not None:
            return cls(tuple(str(n) for n in names), np.asarray(mat, dtype=np.float64))
        raise CompensationError(f"cannot interpret {type(obj).__name__} as a spillover matrix")


def _compensation_matrix(
    m: NDArray[np.float64], detectors: tuple[str, ...], inverted: bool, name: str
) -> tuple[NDArray[np.float64], str | None]:
    """The compensation matrix of a spillover matrix, or why there is none."""
    none = np.zeros((0, 0))
    if len(set(detectors)) != len(detectors):
        return none, f"spillover matrix{name} lists a detector twice: {detectors}"
    if inverted:
        # Already the compensation matrix (``true = observed @ m``); only
        # defined here for square matrices, as in Gating-ML practice.
        if m.shape[0] != m.shape[1]:
            return none, f"inverted spillover matrix{name} must be square, got {m.shape}"
        comp = m.copy()
    elif m.shape[0] == m.shape[1]:
        cond = np.linalg.cond(m)
        if not np.isfinite(cond) or cond > 1e12:
            return none, f"spillover matrix{name} is singular (condition {cond:.3g})"
        comp = np.linalg.inv(m)
    else:
        comp = np.linalg.pinv(m)
    comp.setflags(write=False)
    return comp, None


def parse_spillover(
    text: str,
    *,
    id: str | None = None,
    keyword: str | None = None,
    source: str | None = None,
    check: bool = True,
) -> SpilloverMatrix:
    """Parse an FCS ``$SPILLOVER``/``SPILL`` value: ``n,name_1..name_n,v_11,v_12..v_nn``.

    Row ``i`` holds the spill of parameter ``name_i`` into each parameter
    (FCS 3.1). Blanks around items and trailing commas are ignored. A
    malformed value raises :class:`CompensationError` naming ``source`` (the
    file) and ``keyword``; so does a count of 0, which means "no matrix"
    (:func:`spillover_from_keywords` returns None for it). ``check`` as in
    :class:`SpilloverMatrix`.
    """
    sm = _parse_spillover(text, id, keyword, source, check)
    if sm is None:
        where = f"{source}: " if source else ""
        raise CompensationError(f"{where}{keyword or 'spillover keyword'} declares 0 channels")
    return sm


def _parse_spillover(
    text: str, id: str | None, keyword: str | None, source: str | None, check: bool
) -> SpilloverMatrix | None:
    where = f"{source}: " if source else ""
    key = keyword or "spillover keyword"
    items = [t.strip() for t in text.split(",")]
    while items and not items[-1]:
        items.pop()
    first = items[0] if items else ""
    try:
        n = int(first)
    except ValueError:
        raise CompensationError(
            f"{where}{key} does not start with a channel count ({first[:20]!r})"
        ) from None
    if n == 0:
        return None
    expected = 1 + n + n * n if n > 0 else -1
    if len(items) != expected:
        raise CompensationError(
            f"{where}{key} declares {n} channels, so 1 + n + n² = {expected} comma-separated "
            f"items are expected, but it has {len(items)}"
        )
    names = tuple(items[1 : n + 1])
    try:
        values = np.array([float(v) for v in items[n + 1 :]], dtype=np.float64)
    except ValueError as exc:
        raise CompensationError(f"{where}{key} holds a non-numeric matrix value ({exc})") from None
    if not np.all(np.isfinite(values)):
        raise CompensationError(f"{where}{key} holds NaN or infinite values")
    try:
        return SpilloverMatrix(names, values.reshape(n, n), id=id, keyword=keyword, check=check)
    except CompensationError as exc:
        if not where:
            raise
        raise CompensationError(f"{where}{exc}") from None


def spillover_from_keywords(
    keywords: Mapping[str, str],
    *,
    id: str | None = "FCS",
    source: str | None = None,
    check: bool = True,
) -> SpilloverMatrix | None:
    """Find and parse the spillover keyword of an FCS TEXT segment, if any.

    Keyword names are matched case-insensitively, in the order of
    :data:`SPILLOVER_KEYWORDS`. A missing keyword or a count of 0 means "no
    compensation" and yields ``None``; a malformed one raises
    :class:`CompensationError` naming ``source`` and the keyword.
    """
    upper = {str(k).upper(): v for k, v in keywords.items()}
    for key in SPILLOVER_KEYWORDS:
        value = upper.get(key)
        if value is None or not str(value).strip():
            continue
        return _parse_spillover(str(value), id, key, source, check)
    return None


def match_channels(
    names: Sequence[str],
    channels: Sequence[str],
    labels: Sequence[str | None] | None = None,
) -> list[int]:
    """Column index of each of ``names``, by ``$PnN`` first, then ``$PnS``.

    Why the fallback: some instruments write the fluorochrome (``$PnS``) into
    ``$SPILLOVER`` instead of the detector name. An ambiguous or missing
    match is an error that names the channel, never a silent guess.
    """
    chan = [str(c) for c in channels]
    labs = [("" if lab is None else str(lab)) for lab in (labels or [None] * len(chan))]
    out: list[int] = []
    for name in names:
        hits = [i for i, c in enumerate(chan) if c == name]
        if not hits:
            hits = [i for i, c in enumerate(labs) if c and c == name]
        if not hits:
            stripped = name.strip().lower()
            hits = [i for i, c in enumerate(chan) if c.strip().lower() == stripped]
        if len(hits) != 1:
            why = "not found" if not hits else f"matches {len(hits)} channels"
            raise CompensationError(
                f"spillover channel {name!r} {why} among channels {chan}"
            )
        out.append(hits[0])
    return out


def compensate(
    events: ArrayLike,
    channels: Sequence[str],
    spillover: SpilloverMatrix | str | Any,
    labels: Sequence[str | None] | None = None,
) -> NDArray[np.float64]:
    """Return a new ``events`` array with the spillover's channels compensated.

    Only the matrix's detector columns change; every other column is copied
    as is. For a non-square (spectral) matrix, the first ``n_fluorochromes``
    detector columns receive the unmixed abundances, in fluorochrome order,
    and the rest are left unchanged; use :meth:`SpilloverMatrix.unmix` to get
    the abundances directly.
    """
    sm = SpilloverMatrix.coerce(spillover)
    arr = np.array(events, dtype=np.float64, copy=True)
    if arr.ndim != 2 or arr.shape[1] != len(channels):
        raise CompensationError(
            f"events have shape {arr.shape}, expected (n_events, {len(channels)})"
        )
    idx = match_channels(sm.detectors, channels, labels)
    comp = sm.unmix(arr[:, idx])
    arr[:, idx[: comp.shape[1]]] = comp
    return arr


# --------------------------------------------------------------------------- #
# Estimation from single-stain controls
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class SingleStainControl:
    """One single-stain control: its events and the detector its dye is read in.

    ``name`` is the sample id or file that the control came from; it travels
    into :class:`SpilloverEstimate` so a record can say which file set which row.
    """

    events: NDArray[np.float64]
    primary: str
    name: str = ""


@dataclass(frozen=True)
class SpilloverEstimate:
    """An estimated spillover matrix, the uncertainty of each term, and how each row was got.

    ``uncertainty[i, j]`` is the standard error of ``spillover.matrix[i, j]``
    (0 on the primary detector, which is 1 by definition). Why: a term from a
    dim control can be off by more than the spill it corrects; a lab (and a
    test) must be able to tell a small term from an unknown one.
    """

    spillover: SpilloverMatrix
    method: str
    parameters: dict[str, Any]
    #: per-row diagnostics: control name, positive-event count, threshold used,
    #: ``severity`` ("pass" or "warn") and ``flags`` (e.g. ``few_positive_events``)
    rows: tuple[dict[str, Any], ...]
    uncertainty: NDArray[np.float64] = field(
        default_factory=lambda: np.zeros((0, 0)), compare=False
    )

    @property
    def warnings(self) -> list[str]:
        """One sentence per control whose row should not be trusted as is."""
        return [m for r in self.rows for m in r.get("messages", ())]


def _huber_slopes(
    x: NDArray[np.float64], y: NDArray[np.float64], n_iter: int = 50, k: float = 1.345
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Robust straight-line fits ``y[:, j] ≈ a_j + b_j x`` by Huber IRLS, all columns at once.

    Returns ``(b, se_b)``: the slopes and their sandwich (heteroscedasticity-
    robust) standard errors. Why Huber and not least squares: single-stain
    controls carry doublets, saturated and spurious bright events that drag an
    OLS slope. Why the sandwich: cytometer noise grows with the signal, so the
    residuals are not of one size, and the textbook standard error would be
    too small at the bright end that sets the slope. Why the residual scale is
    re-estimated only in the first iterations: the medians it needs are most
    of the cost, and the scale has settled by then.
    """
    n = x.shape[0]
    yt = np.ascontiguousarray(y.T)  # m x n: reductions run along contiguous rows
    m = yt.shape[0]
    w = np.ones((m, n))
    b = np.full(m, np.inf)
    dx = np.zeros((m, n))
    r = np.zeros((m, n))
    sxx = np.ones(m)
    scale = np.ones(m)
    se = np.zeros(m)
    for it in range(n_iter):
        sw = w.sum(axis=1)
        mx = (w @ x) / sw
        my = (w * yt).sum(axis=1) / sw
        dx = x[None, :] - mx[:, None]
        wdx = w * dx
        sxx = (wdx * dx).sum(axis=1)
        if np.any(sxx <= 0):
            raise AnalysisError("single-stain positives have no spread on the primary detector")
        nb = (wdx * yt).sum(axis=1) / sxx
        r = yt - my[:, None] - nb[:, None] * dx
        if it < 3:
            rs = r[:, :: max(1, n // 5000)]  # the scale needs no more than ~5,000 residuals
            mad = np.median(np.abs(rs - np.median(rs, axis=1, keepdims=True)), axis=1) * 1.4826
            scale = np.where(mad > 0, mad, np.std(r, axis=1))
            scale = np.where(scale > 0, scale, 1.0)
        u = np.abs(r) / (k * scale[:, None])
        w = np.minimum(1.0, 1.0 / np.maximum(u, 1e-12))
        se = np.sqrt(((wdx * r) ** 2).sum(axis=1)) / sxx * math.sqrt(n / max(n - 2, 1))
        # converged when no slope moves by 1 % of its own standard error (or 1e-9)
        done = bool(np.all(np.abs(nb - b) <= np.maximum(0.01 * se, 1e-9)))
        b = nb
        if done and it >= 3:
            break
    return b, se


#: Percentiles of the unstained control tried, in turn, for the positive gate (100: its maximum).
_GATE_PERCENTILES = (99.9, 99.95, 99.98, 99.99, 100.0)


def _positive_threshold(
    primary: NDArray[np.float64],
    negative: NDArray[np.float64],
    percentile: float,
    max_contamination: float | None,
) -> tuple[float, float | None]:
    """The positive gate on the primary detector, and the negatives' expected share above it.

    Why the share: the fraction of the unstained control above the gate,
    divided by the fraction of the single stain above it, is the part of the
    "positives" that are unstained cells (their autofluorescence, correlated
    across detectors, biases the slope). ``max_contamination=None`` (no
    unstained control) keeps the plain percentile.
    """
    neg = np.sort(negative)
    thr = float(np.percentile(neg, percentile))
    if max_contamination is None or neg.size == 0:
        return thr, None
    p = np.sort(primary)

    def share(t: float) -> float:
        above = p.size - int(np.searchsorted(p, t, side="right"))
        q = (neg.size - int(np.searchsorted(neg, t, side="right"))) / neg.size
        return q / (above / p.size) if above else math.inf

    c = share(thr)
    for pc in (x for x in _GATE_PERCENTILES if x > percentile):
        if c <= max_contamination:
            break
        thr = float(np.percentile(neg, pc))
        c = share(thr)
    return thr, float(c)


def _median_se(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Standard error of column medians (normal approximation, 1.2533 * robust SD / sqrt n)."""
    mad = np.median(np.abs(v - np.median(v, axis=0)), axis=0) * 1.4826
    return np.asarray(1.2533 * mad / math.sqrt(max(v.shape[0], 1)), dtype=np.float64)


def estimate_spillover(
    controls: Sequence[SingleStainControl],
    channels: Sequence[str],
    unstained: ArrayLike | None = None,
    *,
    labels: Sequence[str | None] | None = None,
    method: Literal["regression", "median"] = "regression",
    positive_percentile: float = 99.5,
    negative_fraction: float = 0.25,
    min_positive: int = 50,
    warn_positive: int = 500,
    max_uncertainty: float = 0.01,
    max_contamination: float = 0.01,
    fit_events: int | None = 10_000,
    saturation: float | None = None,
) -> SpilloverEstimate:
    """Estimate a spillover matrix from single-stain controls.

    Method (documented so a lab can reproduce it):

    1. Negative reference for control ``i``: the unstained control if given,
       otherwise the ``negative_fraction`` dimmest events of the control itself
       on its primary detector.
    2. Positive events: primary-detector value above the ``positive_percentile``
       of the negative reference (and below ``saturation`` if given), as
       AutoSpill and FlowJo gate them. With an unstained control the gate is
       raised (through its 99.9, 99.95, 99.98, 99.99th percentiles and its
       maximum) until the unstained events expected above it are at most
       ``max_contamination`` of the events there: for a dim control the
       99.5th percentile lets in as many autofluorescence-bright unstained
       cells as a sixth of its positives, and they alone set a wrong slope.
       Fewer than ``min_positive`` positives is an AnalysisError (no estimate).
    3. ``method="regression"`` (default): for each other detector ``j``, a
       robust (Huber IRLS) straight-line fit of detector ``j`` on the primary
       over the *positive events only*; the slope is ``S[i, j]``. Why not the
       negatives too: the unstained cells' autofluorescence is correlated
       across detectors, and a cloud of them at the low end pulls the slope
       towards the autofluorescence's own spectrum (a dim 7-AAD control gave
       7AAD->FITC 0.075 where the truth was below 0.017). The intercept absorbs
       the positives' autofluorescence. At most ``fit_events`` positives
       (an even stride) enter the fit: more would cost time and change a term
       by far less than its standard error (which is computed on what was fitted).
       ``method="median"``: ``S[i, j] = (med⁺_j − med⁻_j) / (med⁺_p − med⁻_p)``
       (the classic median-difference estimate, i.e. positives minus negatives).
    4. ``S[i, primary] = 1``; ``uncertainty[i, j]`` its standard error
       (sandwich for the regression, propagated median errors for the median).
    5. A row with fewer than ``warn_positive`` positives, or a term whose
       standard error exceeds ``max_uncertainty``, gets ``severity="warn"``
       and a flag in :attr:`SpilloverEstimate.rows` saying so.

    ``channels`` names the columns of every events array; the matrix rows and
    columns are the controls' primary detectors, in the order given.
    """
    if not controls:
        raise ConfigError("estimate_spillover needs at least one single-stain control")
    primaries = [c.primary for c in controls]
    if len(set(primaries)) != len(primaries):
        raise ConfigError(f"two controls share a primary detector: {primaries}")
    idx = match_channels(primaries, channels, labels)
    unst = None if unstained is None else np.asarray(unstained, dtype=np.float64)
    unst_sub = None if unst is None else unst[:, idx]
    n = len(controls)
    s = np.eye(n)
    se = np.zeros((n, n))
    rows: list[dict[str, Any]] = []
    for i, ctrl in enumerate(controls):
        ev = np.asarray(ctrl.events, dtype=np.float64)
        if ev.ndim != 2 or ev.shape[1] != len(channels):
            raise ConfigError(
                f"control {ctrl.name or ctrl.primary}: events shape {ev.shape} does not "
                f"match {len(channels)} channels"
            )
        sub = ev[:, idx]
        p = sub[:, i]
        if unst_sub is not None:
            neg = unst_sub
        else:
            cut = np.quantile(p, negative_fraction)
            neg = sub[p <= cut]
        thr, contamination = _positive_threshold(
            p, neg[:, i], positive_percentile, max_contamination if unst is not None else None
        )
        pos_mask = p > thr
        if saturation is not None:
            pos_mask &= np.all(sub < saturation, axis=1)
        pos = sub[pos_mask]
        name = ctrl.name or ctrl.primary
        if pos.shape[0] < min_positive:
            raise AnalysisError(
                f"control {name}: only {pos.shape[0]} events above the "
                f"negative {positive_percentile}th percentile ({thr:.4g}); need {min_positive}"
            )
        others = [j for j in range(n) if j != i]
        if others:
            if method == "median":
                dp = float(np.median(pos[:, i]) - np.median(neg[:, i]))
                if not dp > 0:
                    raise AnalysisError(
                        f"control {name}: positives are no brighter than the negatives "
                        f"on {ctrl.primary}"
                    )
                num = np.median(pos[:, others], axis=0) - np.median(neg[:, others], axis=0)
                s[i, others] = num / dp
                se_num = np.hypot(_median_se(pos[:, others]), _median_se(neg[:, others]))
                se_dp = float(np.hypot(_median_se(pos[:, [i]]), _median_se(neg[:, [i]]))[0])
                se[i, others] = np.hypot(se_num, s[i, others] * se_dp) / dp
            else:
                fit = pos[:: max(1, -(-pos.shape[0] // fit_events))] if fit_events else pos
                b, b_se = _huber_slopes(fit[:, i], fit[:, others])
                s[i, others] = b
                se[i, others] = b_se
        flags: list[str] = []
        messages: list[str] = []
        if pos.shape[0] < warn_positive:
            flags.append("few_positive_events")
            messages.append(
                f"control {name}: only {pos.shape[0]} positive events (fewer than "
                f"{warn_positive}); its spillover row is uncertain"
            )
        worst = float(se[i].max()) if n > 1 else 0.0
        if not worst <= max_uncertainty:
            flags.append("uncertain_spillover")
            messages.append(
                f"control {name}: a spillover term has standard error {worst:.3g} "
                f"(more than {max_uncertainty:g})"
            )
        rows.append(
            {
                "control": ctrl.name,
                "primary": ctrl.primary,
                "n_positive": int(pos.shape[0]),
                "positive_threshold": thr,
                "expected_contamination": contamination,
                "negative_source": "unstained" if unst is not None else "dim events of control",
                "severity": "warn" if flags else "pass",
                "flags": tuple(flags),
                "messages": tuple(messages),
                "uncertainty": {primaries[j]: float(se[i, j]) for j in others},
            }
        )
        logger.debug("spillover row %s from %d positives", ctrl.primary, pos.shape[0])
    params: dict[str, Any] = {
        "method": method,
        "positive_percentile": positive_percentile,
        "negative_fraction": negative_fraction,
        "min_positive": min_positive,
        "warn_positive": warn_positive,
        "max_uncertainty": max_uncertainty,
        "max_contamination": max_contamination,
        "fit_events": fit_events,
        "saturation": saturation,
    }
    if not math.isfinite(float(np.abs(s).sum())):
        raise AnalysisError("estimated spillover has non-finite values")
    matrix = SpilloverMatrix(tuple(primaries), s, id="estimated")
    se.setflags(write=False)
    return SpilloverEstimate(matrix, method, params, tuple(rows), se)
