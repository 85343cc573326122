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
from dataclasses import dataclass, field
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

#: FCS keywords that may carry a spillover matrix, in order of preference.
SPILLOVER_KEYWORDS = ("$SPILLOVER", "SPILL", "$SPILL", "SPILLOVER")


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
    (Gating-ML ``matrix-inverted-already``).
    """

    detectors: tuple[str, ...]
    matrix: NDArray[np.float64]
    fluorochromes: tuple[str, ...] = ()
    id: str | None = None
    inverted: bool = False
    _comp: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        m = np.array(self.matrix, dtype=np.float64)
        object.__setattr__(self, "detectors", tuple(self.detectors))
        fl = tuple(self.fluorochromes) if self.fluorochromes else tuple(self.detectors)
        object.__setattr__(self, "fluorochromes", fl)
        if m.ndim != 2 or m.shape != (len(fl), len(self.detectors)):
            raise CompensationError(
                f"spillover matrix {self.id or ''} has shape {m.shape}, expected "
                f"{len(fl)} fluorochromes x {len(self.detectors)} detectors"
            )
        if not np.all(np.isfinite(m)):
            raise CompensationError(f"spillover matrix {self.id or ''} has non-finite values")
        if len(set(self.detectors)) != len(self.detectors):
            raise CompensationError(f"spillover matrix lists a detector twice: {self.detectors}")
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)
        if self.inverted:
            # Already the compensation matrix (``true = observed @ m``); only
            # defined here for square matrices, as in Gating-ML practice.
            if m.shape[0] != m.shape[1]:
                raise CompensationError(
                    f"inverted spillover matrix {self.id or ''} must be square, got {m.shape}"
                )
            comp = m.copy()
        else:
            if m.shape[0] == m.shape[1]:
                cond = np.linalg.cond(m)
                if not np.isfinite(cond) or cond > 1e12:
                    raise CompensationError(
                        f"spillover matrix {self.id or ''} is singular (condition {cond:.3g})"
                    )
                comp = np.linalg.inv(m)
            else:
                comp = np.linalg.pinv(m)
        comp.setflags(write=False)
        object.__setattr__(self, "_comp", comp)

    @property
    def compensation_matrix(self) -> NDArray[np.float64]:
        """``detectors x fluorochromes`` matrix ``C`` with ``true = observed @ C``."""
        return self._comp

    def unmix(self, observed: NDArray[np.float64]) -> NDArray[np.float64]:
        """Compensate an ``n x len(detectors)`` array (columns in detector order)."""
        return np.asarray(observed, dtype=np.float64) @ self._comp

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for records and parameter hashing."""
        return {
            "id": self.id,
            "detectors": list(self.detectors),
            "fluorochromes": list(self.fluorochromes),
            "matrix": self.matrix.tolist(),
        }

    @classmethod
    def coerce(cls, obj: Any) -> SpilloverMatrix:
        """Accept our own type, an FCS keyword string, or any object with
        ``channels``/``detectors`` and ``matrix``/``values`` attributes, or a
        ``(names, matrix)`` pair (the shapes FCS readers commonly return)."""
        if isinstance(obj, SpilloverMatrix):
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


def parse_spillover(text: str, *, id: str | None = None) -> SpilloverMatrix:
    """Parse an FCS ``$SPILLOVER``/``SPILL`` value: ``n,name_1..name_n,v_11,v_12..v_nn``.

    Row ``i`` holds the spill of parameter ``name_i`` into each parameter (FCS 3.1).
    """
    parts = [p.strip() for p in text.strip().strip(",").split(",")]
    try:
        n = int(float(parts[0]))
    except (ValueError, IndexError) as exc:
        raise CompensationError(
            f"spillover keyword does not start with a count: {text[:40]!r}"
        ) from exc
    if n <= 0 or len(parts) != 1 + n + n * n:
        raise CompensationError(
            f"spillover keyword declares {n} channels but holds {len(parts) - 1} fields "
            f"(expected {n + n * n})"
        )
    names = tuple(parts[1 : 1 + n])
    try:
        values = np.array([float(v) for v in parts[1 + n :]], dtype=np.float64).reshape(n, n)
    except ValueError as exc:
        raise CompensationError(f"spillover keyword has a non-numeric value: {exc}") from exc
    return SpilloverMatrix(names, values, id=id)


def spillover_from_keywords(keywords: Mapping[str, str]) -> SpilloverMatrix | None:
    """Find and parse the spillover keyword of an FCS TEXT segment, if any.

    Keyword names are matched case-insensitively. An all-zero or ``0``-sized
    keyword means "no compensation" and yields ``None``.
    """
    upper = {str(k).upper(): v for k, v in keywords.items()}
    for key in SPILLOVER_KEYWORDS:
        value = upper.get(key)
        if value is None or not str(value).strip():
            continue
        if str(value).strip().split(",")[0].strip() in ("0", "0.0"):
            return None
        return parse_spillover(str(value), id="FCS")
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
    """An estimated spillover matrix and how each row was obtained."""

    spillover: SpilloverMatrix
    method: str
    parameters: dict[str, Any]
    #: per-row diagnostics: control name, positive-event count, threshold used
    rows: tuple[dict[str, Any], ...]


def _huber_slope(
    x: NDArray[np.float64], y: NDArray[np.float64], n_iter: int = 30, k: float = 1.345
) -> tuple[float, float]:
    """Robust straight-line fit ``y ≈ a + b x`` by Huber IRLS; returns ``(b, a)``.

    Why Huber and not least squares: single-stain controls carry doublets,
    saturated and spurious bright events that drag an OLS slope.
    """
    w = np.ones_like(x)
    b = a = 0.0
    for _ in range(n_iter):
        sw = w.sum()
        mx = float((w * x).sum() / sw)
        my = float((w * y).sum() / sw)
        dx = x - mx
        sxx = float((w * dx * dx).sum())
        if sxx <= 0:
            raise AnalysisError("single-stain positives have no spread on the primary detector")
        nb = float((w * dx * (y - my)).sum() / sxx)
        na = my - nb * mx
        r = y - (na + nb * x)
        mad = float(np.median(np.abs(r - np.median(r)))) * 1.4826
        scale = mad if mad > 0 else float(np.std(r)) or 1.0
        u = np.abs(r) / (k * scale)
        w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-12))
        if abs(nb - b) <= 1e-10 * max(1.0, abs(nb)) and abs(na - a) <= 1e-10 * max(1.0, abs(na)):
            b, a = nb, na
            break
        b, a = nb, na
    return b, a


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
    saturation: float | None = None,
) -> SpilloverEstimate:
    """Estimate a spillover matrix from single-stain controls.

    Method (documented so a lab can reproduce it):

    1. Negative reference for control ``i``: the unstained control if given,
       otherwise the ``negative_fraction`` dimmest events of the control itself
       on its primary detector.
    2. Positive events: primary-detector value above the ``positive_percentile``
       of the negative reference (and below ``saturation`` if given). At
       least ``min_positive`` are required.
    3. ``method="regression"`` (default): for each other detector ``j``, a
       robust (Huber IRLS) straight-line fit of detector ``j`` on the primary
       over the positives *and* the negative reference; the slope is
       ``S[i, j]``. The intercept absorbs autofluorescence, which is the same
       in both populations, so no explicit background subtraction is needed.
       ``method="median"``: ``S[i, j] = (med⁺_j − med⁻_j) / (med⁺_p − med⁻_p)``
       (the classic median-difference estimate, i.e. positives minus unstained).
    4. ``S[i, primary] = 1``.

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
    n = len(controls)
    s = np.eye(n)
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
        if unst is not None:
            neg = unst[:, idx]
        else:
            cut = np.quantile(p, negative_fraction)
            neg = sub[p <= cut]
        thr = float(np.percentile(neg[:, i], positive_percentile))
        pos_mask = p > thr
        if saturation is not None:
            pos_mask &= np.all(sub < saturation, axis=1)
        pos = sub[pos_mask]
        if pos.shape[0] < min_positive:
            raise AnalysisError(
                f"control {ctrl.name or ctrl.primary}: only {pos.shape[0]} events above the "
                f"negative {positive_percentile}th percentile ({thr:.4g}); need {min_positive}"
            )
        for j in range(n):
            if j == i:
                continue
            if method == "median":
                dp = float(np.median(pos[:, i]) - np.median(neg[:, i]))
                s[i, j] = (float(np.median(pos[:, j])) - float(np.median(neg[:, j]))) / dp
            else:
                x = np.concatenate([pos[:, i], neg[:, i]])
                y = np.concatenate([pos[:, j], neg[:, j]])
                s[i, j] = _huber_slope(x, y)[0]
        rows.append(
            {
                "control": ctrl.name,
                "primary": ctrl.primary,
                "n_positive": int(pos.shape[0]),
                "positive_threshold": thr,
                "negative_source": "unstained" if unst is not None else "dim events of control",
            }
        )
        logger.debug("spillover row %s from %d positives", ctrl.primary, pos.shape[0])
    params: dict[str, Any] = {
        "method": method,
        "positive_percentile": positive_percentile,
        "negative_fraction": negative_fraction,
        "min_positive": min_positive,
        "saturation": saturation,
    }
    if not math.isfinite(float(np.abs(s).sum())):
        raise AnalysisError("estimated spillover has non-finite values")
    matrix = SpilloverMatrix(tuple(primaries), s, id="estimated")
    return SpilloverEstimate(matrix, method, params, tuple(rows))
