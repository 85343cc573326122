"""Vectorized gates on named dimensions, with Gating-ML 2.0 semantics.

Every gate answers ``contains(data) -> bool mask`` over all events at once.
``data`` is an :class:`~assaykit.cytometry.events.EventFrame` (channels plus
compensation) or a plain ``{name: array}`` mapping. Each
:class:`Dimension` names a channel and optionally a transform (gate
coordinates are then on that scale) and a compensation reference.

Boundary rules (identical to Gating-ML 2.0, so exported gates mean the same):

* ranges and rectangles are half-open: ``min <= x < max``; a missing bound is
  unbounded;
* thresholds: ``x >= value`` is "above", ``x < value`` is "below";
* quadrants: each divider splits its axis into half-open intervals
  ``[d_k, d_{k+1})``, so an event exactly on a divider goes to the upper/right
  side and every event with finite values lands in exactly one quadrant;
* polygons: even-odd (crossing number) rule, with the half-open crossing test
  (an edge counts when ``y_i <= y < y_j`` or ``y_j <= y < y_i``). Points on a
  left/bottom edge are in, points on a right/top edge are out, so two polygons
  that share an edge never both claim a point;
* ellipsoids: ``(x − μ)ᵀ C⁻¹ (x − μ) <= D`` (covariance + distance-square);
* NaN (e.g. a non-positive value on a log axis) is in no gate.

A gate may have a ``parent``: :meth:`Gate.membership` is the gate's own
region intersected with its ancestors'. Boolean gates combine their operands'
*memberships*, as Gating-ML requires.
"""

from __future__ import annotations

import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assaykit.cytometry.events import EventData, EventSource, as_event_source
from assaykit.cytometry.transforms import Transform
from assaykit.errors import ConfigError

__all__ = [
    "BooleanGate",
    "Dimension",
    "Divider",
    "EllipsoidGate",
    "Gate",
    "GateError",
    "GateOperand",
    "PolygonGate",
    "Quadrant",
    "QuadrantGate",
    "RangeGate",
    "RatioDimension",
    "RectangleGate",
    "ThresholdGate",
    "describe",
    "points_in_polygon",
]

logger = logging.getLogger(__name__)

Mask = NDArray[np.bool_]
Cache = dict[int, Mask]


class GateError(ConfigError):
    """A gate definition is impossible (wrong shapes, unknown operator, …)."""


@dataclass(frozen=True)
class Dimension:
    """A named event column, optionally compensated and transformed.

    ``compensation``: ``None``/``"uncompensated"``, ``"FCS"`` (the file's own
    spillover) or the id of a matrix known to the :class:`EventFrame`.
    ``transform``: gate coordinates on this dimension are on this scale.
    """

    name: str
    transform: Transform | None = None
    compensation: str | None = None

    def raw(self, source: EventSource) -> NDArray[np.float64]:
        """Compensated but untransformed values."""
        return source.column(self.name, self.compensation)

    def values(self, source: EventSource) -> NDArray[np.float64]:
        """Values in gate coordinates (compensated, then transformed)."""
        raw = self.raw(source)
        return raw if self.transform is None else self.transform.apply(raw)

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class RatioDimension(Dimension):
    """Gating-ML ``fratio``: ``A · (x₁ − B) / (x₂ − C)`` of two channels.

    ``name`` is the derived dimension's id; ``transform`` (if any) is applied
    to the ratio. Division by zero gives ±inf/NaN, which no bounded gate holds.
    """

    numerator: str = ""
    denominator: str = ""
    a: float = 1.0
    b: float = 0.0
    c: float = 0.0

    def raw(self, source: EventSource) -> NDArray[np.float64]:
        x1 = source.column(self.numerator, self.compensation)
        x2 = source.column(self.denominator, self.compensation)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.a * (x1 - self.b) / (x2 - self.c), dtype=np.float64)


def _as_dimension(d: Dimension | str) -> Dimension:
    return d if isinstance(d, Dimension) else Dimension(str(d))


class Gate(ABC):
    """Base class: a region in named dimensions, plus an optional parent gate."""

    def __init__(self, id: str = "", parent: Gate | None = None) -> None:
        self.id = id
        self.parent = parent

    @property
    @abstractmethod
    def dimensions(self) -> tuple[Dimension, ...]:
        """The dimensions this gate reads (empty for boolean gates)."""

    @abstractmethod
    def _region(self, source: EventSource, cache: Cache) -> Mask:
        """The gate's own region, ignoring the parent."""

    def contains(self, data: EventData) -> Mask:
        """Bool mask of events inside this gate's own region (parent ignored)."""
        return self._region(as_event_source(data), {})

    def membership(self, data: EventData, cache: Cache | None = None) -> Mask:
        """Bool mask of events in this gate *and* all its ancestors.

        ``cache`` (keyed by ``id(gate)``) lets a caller evaluating a whole
        tree compute each gate once.
        """
        return self._membership(as_event_source(data), {} if cache is None else cache)

    def _membership(self, source: EventSource, cache: Cache) -> Mask:
        key = id(self)
        hit = cache.get(key)
        if hit is not None:
            return hit
        mask = self._region(source, cache)
        if self.parent is not None:
            mask = mask & self.parent._membership(source, cache)
        cache[key] = mask
        return mask

    def ancestors(self) -> list[Gate]:
        """Parent, grandparent, … (nearest first)."""
        out: list[Gate] = []
        g = self.parent
        while g is not None:
            if g in out or g is self:
                raise GateError(f"gate {self.id!r} has a cyclic parent chain")
            out.append(g)
            g = g.parent
        return out

    def __repr__(self) -> str:
        dims = ", ".join(d.name for d in self.dimensions)
        return f"{type(self).__name__}(id={self.id!r}, dims=[{dims}])"


def _interval_mask(v: NDArray[np.float64], lo: float | None, hi: float | None) -> Mask:
    mask = ~np.isnan(v)
    if lo is not None:
        mask &= v >= lo
    if hi is not None:
        mask &= v < hi
    return mask


class RectangleGate(Gate):
    """Axis-aligned box, half-open per dimension: ``min <= x < max``.

    ``bounds[k]`` is ``(min, max)`` for ``dimensions[k]``; either may be
    ``None`` (open side). A 1-D rectangle is a range gate.
    """

    def __init__(
        self,
        dimensions: Sequence[Dimension | str],
        bounds: Sequence[tuple[float | None, float | None]],
        id: str = "",
        parent: Gate | None = None,
    ) -> None:
        super().__init__(id, parent)
        self._dims = tuple(_as_dimension(d) for d in dimensions)
        if len(self._dims) != len(bounds) or not self._dims:
            raise GateError(f"rectangle {id!r}: need one (min, max) per dimension")
        b: list[tuple[float | None, float | None]] = []
        for lo, hi in bounds:
            lo_f = None if lo is None else float(lo)
            hi_f = None if hi is None else float(hi)
            if lo_f is None and hi_f is None:
                raise GateError(f"rectangle {id!r}: a dimension needs a min or a max")
            if lo_f is not None and hi_f is not None and hi_f < lo_f:
                raise GateError(f"rectangle {id!r}: max {hi_f} < min {lo_f}")
            b.append((lo_f, hi_f))
        self.bounds = tuple(b)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self._dims

    def _region(self, source: EventSource, cache: Cache) -> Mask:
        mask = np.ones(source.n_events, dtype=bool)
        for dim, (lo, hi) in zip(self._dims, self.bounds):
            mask &= _interval_mask(dim.values(source), lo, hi)
        return mask


class RangeGate(RectangleGate):
    """One-dimensional ``min <= x < max`` (either side may be open)."""

    def __init__(
        self,
        dimension: Dimension | str,
        min: float | None = None,
        max: float | None = None,
        id: str = "",
        parent: Gate | None = None,
    ) -> None:
        super().__init__([dimension], [(min, max)], id=id, parent=parent)


class ThresholdGate(Gate):
    """``x >= value`` (``direction="above"``) or ``x < value`` (``"below"``).

    Why half-open both ways: an "above" gate and its "below" twin split every
    finite event exactly once, like a quadrant divider.
    """

    def __init__(
        self,
        dimension: Dimension | str,
        value: float,
        direction: Literal["above", "below"] = "above",
        id: str = "",
        parent: Gate | None = None,
    ) -> None:
        super().__init__(id, parent)
        if direction not in ("above", "below"):
            raise GateError(f"threshold {id!r}: direction must be 'above' or 'below'")
        self.dimension = _as_dimension(dimension)
        self.value = float(value)
        self.direction = direction

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return (self.dimension,)

    def _region(self, source: EventSource, cache: Cache) -> Mask:
        v = self.dimension.values(source)
        if self.direction == "above":
            return _interval_mask(v, self.value, None)
        return _interval_mask(v, None, self.value)


@dataclass(frozen=True)
class Divider:
    """One quadrant divider: a dimension cut at one or more increasing values."""

    id: str
    dimension: Dimension
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        vals = tuple(float(v) for v in self.values)
        if not vals:
            raise GateError(f"divider {self.id!r} has no values")
        if any(b <= a for a, b in itertools.pairwise(vals)):
            raise GateError(f"divider {self.id!r}: values must increase, got {vals}")
        object.__setattr__(self, "values", vals)

    def interval(self, v: NDArray[np.float64]) -> NDArray[np.intp]:
        """Interval index per event (``[d_k, d_{k+1})`` → ``k+1``), −1 for NaN."""
        idx = np.searchsorted(np.asarray(self.values), v, side="right")
        return np.where(np.isnan(v), -1, idx)

    def interval_of(self, location: float) -> int:
        """Interval index of a Gating-ML ``location`` value."""
        return int(np.searchsorted(np.asarray(self.values), float(location), side="right"))


class Quadrant(Gate):
    """One cell of a :class:`QuadrantGate`: the required interval per divider.

    A divider that the quadrant does not mention is unconstrained (Gating-ML).
    """

    def __init__(
        self,
        id: str,
        dividers: Sequence[Divider],
        intervals: Mapping[str, int],
        parent: Gate | None = None,
    ) -> None:
        super().__init__(id, parent)
        by_id = {d.id: d for d in dividers}
        unknown = set(intervals) - set(by_id)
        if unknown:
            raise GateError(f"quadrant {id!r} refers to unknown dividers {sorted(unknown)}")
        self.intervals = {k: int(v) for k, v in intervals.items()}
        self._dividers = tuple(by_id[k] for k in self.intervals)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return tuple(d.dimension for d in self._dividers)

    def _region(self, source: EventSource, cache: Cache) -> Mask:
        mask = np.ones(source.n_events, dtype=bool)
        for div in self._dividers:
            mask &= div.interval(div.dimension.values(source)) == self.intervals[div.id]
        return mask


class QuadrantGate:
    """A set of dividers and the named quadrants they define.

    Not itself a region: use :meth:`quadrant` for one quadrant's gate, or
    :meth:`assign` to label each event with its quadrant in one pass.
    """

    def __init__(
        self,
        id: str,
        dividers: Sequence[Divider],
        quadrants: Mapping[str, Mapping[str, int]],
        parent: Gate | None = None,
    ) -> None:
        self.id = id
        self.parent = parent
        self.dividers = tuple(dividers)
        ids = [d.id for d in self.dividers]
        if len(set(ids)) != len(ids):
            raise GateError(f"quadrant gate {id!r} has duplicate divider ids {ids}")
        self.quadrants: dict[str, Quadrant] = {
            qid: Quadrant(qid, self.dividers, pos, parent=parent) for qid, pos in quadrants.items()
        }

    @classmethod
    def cross(
        cls,
        x: Dimension | str,
        y: Dimension | str,
        x_split: float,
        y_split: float,
        id: str = "Q",
        names: Sequence[str] | None = None,
        parent: Gate | None = None,
    ) -> QuadrantGate:
        """The usual 2-D quadrant at ``(x_split, y_split)``.

        Quadrants are, in order, ``x−y−``, ``x+y−``, ``x−y+``, ``x+y+``, named
        ``"<x>-<y>-"`` style by default (e.g. ``"Annexin+PI-"``) or by ``names``.
        A value equal to a split goes to the ``+`` side.
        """
        xd, yd = _as_dimension(x), _as_dimension(y)
        dx, dy = Divider("x", xd, (x_split,)), Divider("y", yd, (y_split,))
        combos = [(0, 0), (1, 0), (0, 1), (1, 1)]
        if names is None:
            sign = "-+"
            names = [f"{xd.label}{sign[i]}{yd.label}{sign[j]}" for i, j in combos]
        if len(names) != 4 or len(set(names)) != 4:
            raise GateError("a 2-D quadrant gate needs four distinct names")
        quads = {n: {"x": i, "y": j} for n, (i, j) in zip(names, combos)}
        return cls(id, [dx, dy], quads, parent=parent)

    def quadrant(self, qid: str) -> Quadrant:
        try:
            return self.quadrants[qid]
        except KeyError:
            raise GateError(
                f"quadrant gate {self.id!r} has no quadrant {qid!r}; has {sorted(self.quadrants)}"
            ) from None

    def assign(self, data: EventData) -> tuple[NDArray[np.intp], tuple[str, ...]]:
        """Quadrant index per event (−1: none) and the quadrant names.

        One pass over the data: each divider is evaluated once. The parent, if
        any, is applied (events outside it get −1).
        """
        source = as_event_source(data)
        intervals = {d.id: d.interval(d.dimension.values(source)) for d in self.dividers}
        names = tuple(self.quadrants)
        out = np.full(source.n_events, -1, dtype=np.intp)
        for k, name in enumerate(names):
            q = self.quadrants[name]
            m = np.ones(source.n_events, dtype=bool)
            for did, want in q.intervals.items():
                m &= intervals[did] == want
            out[m & (out < 0)] = k
        if self.parent is not None:
            out[~self.parent.membership(source)] = -1
        return out, names


def points_in_polygon(
    x: NDArray[np.float64], y: NDArray[np.float64], vertices: NDArray[np.float64]
) -> Mask:
    """Even-odd rule with the half-open crossing test (see module docstring).

    Loops over the (few) edges and vectorizes over the (many) points.
    """
    inside = np.zeros(x.shape, dtype=bool)
    vx, vy = vertices[:, 0], vertices[:, 1]
    n = len(vertices)
    for i in range(n):
        xi, yi = vx[i], vy[i]
        xj, yj = vx[i - 1], vy[i - 1]
        if yi == yj:
            continue  # a horizontal edge never crosses a horizontal ray
        crosses = (yi <= y) != (yj <= y)
        # x coordinate of the edge at height y; the point is left of it → crossing
        xe = xi + (y - yi) * (xj - xi) / (yj - yi)
        inside ^= crosses & (x < xe)
    return inside & ~(np.isnan(x) | np.isnan(y))


class PolygonGate(Gate):
    """2-D polygon (closed automatically), even-odd rule."""

    def __init__(
        self,
        x: Dimension | str,
        y: Dimension | str,
        vertices: ArrayLike,
        id: str = "",
        parent: Gate | None = None,
    ) -> None:
        super().__init__(id, parent)
        self.x = _as_dimension(x)
        self.y = _as_dimension(y)
        v = np.asarray(vertices, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise GateError(f"polygon {id!r}: need at least 3 (x, y) vertices, got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise GateError(f"polygon {id!r}: vertices must be finite")
        self.vertices = v

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return (self.x, self.y)

    def _region(self, source: EventSource, cache: Cache) -> Mask:
        return points_in_polygon(self.x.values(source), self.y.values(source), self.vertices)


class EllipsoidGate(Gate):
    """Gating-ML ellipsoid: ``(x − μ)ᵀ C⁻¹ (x − μ) <= D`` in any number of dimensions.

    ``covariance`` is used exactly as given (Gating-ML does not require it to
    be symmetric); it must be invertible.
    """

    def __init__(
        self,
        dimensions: Sequence[Dimension | str],
        mean: ArrayLike,
        covariance: ArrayLike,
        distance_square: float,
        id: str = "",
        parent: Gate | None = None,
    ) -> None:
        super().__init__(id, parent)
        self._dims = tuple(_as_dimension(d) for d in dimensions)
        k = len(self._dims)
        mu = np.asarray(mean, dtype=np.float64)
        cov = np.asarray(covariance, dtype=np.float64)
        if k < 2 or mu.shape != (k,) or cov.shape != (k, k):
            raise GateError(
                f"ellipsoid {id!r}: {k} dimensions need a mean of {k} and a {k}x{k} covariance"
            )
        if not distance_square > 0:
            raise GateError(f"ellipsoid {id!r}: distance-square must be > 0")
        try:
            self.inverse_covariance = np.linalg.inv(cov)
        except np.linalg.LinAlgError:
            raise GateError(f"ellipsoid {id!r}: covariance matrix is singular") from None
        self.mean = mu
        self.covariance = cov
        self.distance_square = float(distance_square)

    @classmethod
    def from_axes(
        cls,
        x: Dimension | str,
        y: Dimension | str,
        center: tuple[float, float],
        half_axes: tuple[float, float],
        angle_deg: float = 0.0,
        id: str = "",
        parent: Gate | None = None,
    ) -> EllipsoidGate:
        """A 2-D ellipse from its centre, half-axes and rotation (degrees)."""
        th = np.deg2rad(angle_deg)
        r = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        cov = r @ np.diag(np.square(half_axes)) @ r.T
        return cls([x, y], center, cov, 1.0, id=id, parent=parent)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self._dims

    def _region(self, source: EventSource, cache: Cache) -> Mask:
        pts = np.column_stack([d.values(source) for d in self._dims]) - self.mean
        d2 = np.einsum("ij,jk,ik->i", pts, self.inverse_covariance, pts)
        return np.asarray(d2 <= self.distance_square) & ~np.isnan(d2)


@dataclass(frozen=True)
class GateOperand:
    """A boolean-gate operand: a gate, optionally used as its complement."""

    gate: Gate
    complement: bool = False


class BooleanGate(Gate):
    """``and``/``or`` of two or more gates, or ``not`` of one.

    Operands contribute their full *membership* (own region and ancestors),
    and any operand may be complemented (Gating-ML ``use-as-complement``).
    """

    def __init__(
        self,
        op: Literal["and", "or", "not"],
        operands: Iterable[Gate | GateOperand],
        id: str = "",
        parent: Gate | None = None,
    ) -> None:
        super().__init__(id, parent)
        ops = [o if isinstance(o, GateOperand) else GateOperand(o) for o in operands]
        if op not in ("and", "or", "not"):
            raise GateError(f"boolean gate {id!r}: unknown operator {op!r}")
        if op == "not" and len(ops) != 1:
            raise GateError(f"boolean gate {id!r}: 'not' takes exactly one operand")
        if op != "not" and len(ops) < 2:
            raise GateError(f"boolean gate {id!r}: {op!r} needs at least two operands")
        self.op = op
        self.operands = tuple(ops)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return ()

    def _region(self, source: EventSource, cache: Cache) -> Mask:
        masks = []
        for o in self.operands:
            m = o.gate._membership(source, cache)
            masks.append(~m if o.complement else m)
        if self.op == "not":
            return ~masks[0]
        if self.op == "and":
            return np.logical_and.reduce(masks)
        return np.logical_or.reduce(masks)


def describe(gate: Gate) -> dict[str, Any]:
    """A JSON-friendly description of a gate (for records and figures)."""
    out: dict[str, Any] = {
        "id": gate.id,
        "type": type(gate).__name__,
        "parent": gate.parent.id if gate.parent is not None else None,
        "dimensions": [
            {
                "name": d.name,
                "compensation": d.compensation,
                "transform": d.transform.params() if d.transform is not None else None,
            }
            for d in gate.dimensions
        ],
    }
    if isinstance(gate, RectangleGate):
        out["bounds"] = [list(b) for b in gate.bounds]
    elif isinstance(gate, ThresholdGate):
        out["value"], out["direction"] = gate.value, gate.direction
    elif isinstance(gate, PolygonGate):
        out["vertices"] = gate.vertices.tolist()
    elif isinstance(gate, EllipsoidGate):
        out["mean"] = gate.mean.tolist()
        out["covariance"] = gate.covariance.tolist()
        out["distance_square"] = gate.distance_square
    elif isinstance(gate, Quadrant):
        out["intervals"] = dict(gate.intervals)
    elif isinstance(gate, BooleanGate):
        out["op"] = gate.op
        out["operands"] = [{"id": o.gate.id, "complement": o.complement} for o in gate.operands]
    return out
