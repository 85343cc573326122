"""Display/gating scales for cytometry data, parameterized as in Gating-ML 2.0.

Why these and why this parameterization: gates exported by lab software
(FlowJo, Cytobank, FlowKit, …) are written in Gating-ML 2.0 terms, so a gate
vertex at ``0.37`` on a ``logicle(T=10000, W=0.5, M=4.5, A=0)`` axis must mean
exactly what it meant in the software that drew it. Every transform maps data
units to a "scale" where the top of the data range ``T`` lands on 1.

All transforms are strictly increasing, so gating on the scale and gating on
the raw values (with bounds mapped through :meth:`Transform.inverse`) select
the same events. They are vectorized over NumPy arrays and keep NaN as NaN.

Transforms provided (Gating-ML 2.0, section 6):

* :class:`LinearTransform` (``flin``): ``(x + A) / (T + A)``
* :class:`LogTransform` (``flog``): ``log10(x / T) / M + 1`` (NaN for ``x <= 0``)
* :class:`AsinhTransform` (``fasinh``):
  ``(asinh(x · sinh(M ln10) / T) + A ln10) / ((M + A) ln10)``
* :class:`LogicleTransform` (``logicle``): root of the biexponential
  ``B(y) = a e^{by} − c e^{−dy} + f`` (Parks, Roederer & Moore 2006;
  Moore & Parks 2012), reflected about the zero point ``x1``.
* :class:`HyperlogTransform` (``hyperlog``): root of
  ``EH(y) = a e^{by} + c y − f`` (Bagwell 2005), reflected about ``x1``.

The biexponential inverses are closed form. The forward directions solve the
inverse with vectorized Halley iterations written in the offset ``t = y − x1``
and ``expm1``; that form has no cancellation near zero, so results agree with
the exact inverse to a few ulp (far better than the 1e-9 relative bar).
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assaykit.errors import ConfigError

__all__ = [
    "AsinhTransform",
    "HyperlogTransform",
    "LinearTransform",
    "LogTransform",
    "LogicleTransform",
    "Transform",
    "TransformError",
    "asinh_scale",
    "hyperlog",
    "hyperlog_inverse",
    "logicle",
    "logicle_inverse",
]

logger = logging.getLogger(__name__)

LN10 = math.log(10.0)
_MAX_ITER = 60
_TABLE = 4096  # grid intervals of the root table (initial guesses of the solve)


class TransformError(ConfigError):
    """A transform was given parameters outside its valid domain."""


def _as_float_array(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


class Transform(ABC):
    """A strictly increasing map from data units to a display/gating scale."""

    #: Gating-ML element name (``flin``, ``flog``, ``fasinh``, ``logicle``, ``hyperlog``).
    kind: str = "transform"

    @abstractmethod
    def apply(self, x: ArrayLike) -> NDArray[np.float64]:
        """Map data values to the scale (vectorized; NaN stays NaN)."""

    @abstractmethod
    def inverse(self, y: ArrayLike) -> NDArray[np.float64]:
        """Map scale values back to data units (vectorized)."""

    def __call__(self, x: ArrayLike) -> NDArray[np.float64]:
        return self.apply(x)

    def display(self, x: ArrayLike) -> NDArray[np.float64]:
        """:meth:`apply` to within 1e-9 scale units, for drawing events (never for gating).

        Why: figures transform every shown event again, and an exact
        biexponential solve is most of a figure's cost; a pixel is 1e-3 of the
        scale. Exact transforms return :meth:`apply`.
        """
        return self.apply(x)

    def params(self) -> dict[str, Any]:
        """Parameters as a plain dict (for records, figures and hashing)."""
        return {"kind": self.kind}


@dataclass(frozen=True)
class LinearTransform(Transform):
    """Gating-ML ``flin``: ``(x + A) / (T + A)``.

    Why: lets a linear axis be written on the same 0..1 footing as the others.
    """

    t: float = 262144.0
    a: float = 0.0
    kind: str = field(default="flin", init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.t > 0:
            raise TransformError(f"flin: T must be > 0, got {self.t}")
        if not (0 <= self.a <= self.t):
            raise TransformError(f"flin: A must satisfy 0 <= A <= T, got A={self.a}")

    def apply(self, x: ArrayLike) -> NDArray[np.float64]:
        return (_as_float_array(x) + self.a) / (self.t + self.a)

    def inverse(self, y: ArrayLike) -> NDArray[np.float64]:
        return _as_float_array(y) * (self.t + self.a) - self.a

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "T": self.t, "A": self.a}


@dataclass(frozen=True)
class LogTransform(Transform):
    """Gating-ML ``flog``: ``log10(x / T) / M + 1``; undefined (NaN) for ``x <= 0``.

    Why NaN rather than clipping: an event with a non-positive value has no place
    on a log axis, and a NaN is never inside any gate, which matches the
    Gating-ML reference results.
    """

    t: float = 262144.0
    m: float = 4.5
    kind: str = field(default="flog", init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.t > 0 or not self.m > 0:
            raise TransformError(f"flog: T and M must be > 0, got T={self.t}, M={self.m}")

    def apply(self, x: ArrayLike) -> NDArray[np.float64]:
        x = _as_float_array(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log10(x / self.t) / self.m + 1.0
        return np.where(x > 0, out, np.nan)

    def inverse(self, y: ArrayLike) -> NDArray[np.float64]:
        y = _as_float_array(y)
        return self.t * np.power(10.0, (y - 1.0) * self.m)

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "T": self.t, "M": self.m}


@dataclass(frozen=True)
class AsinhTransform(Transform):
    """Gating-ML ``fasinh``: ``(asinh(x sinh(M ln10) / T) + A ln10) / ((M + A) ln10)``.

    Why: a simple biexponential-like axis (linear near zero, log above) with a
    closed-form inverse; common in mass and spectral cytometry.
    """

    t: float = 262144.0
    m: float = 4.5
    a: float = 0.0
    kind: str = field(default="fasinh", init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.t > 0 or not self.m > 0:
            raise TransformError(f"fasinh: T and M must be > 0, got T={self.t}, M={self.m}")
        if not (0 <= self.a <= self.m):
            raise TransformError(f"fasinh: A must satisfy 0 <= A <= M, got A={self.a}")

    def apply(self, x: ArrayLike) -> NDArray[np.float64]:
        x = _as_float_array(x)
        pre = math.sinh(self.m * LN10) / self.t
        return (np.arcsinh(x * pre) + self.a * LN10) / ((self.m + self.a) * LN10)

    def inverse(self, y: ArrayLike) -> NDArray[np.float64]:
        y = _as_float_array(y)
        pre = math.sinh(self.m * LN10) / self.t
        return np.sinh(y * (self.m + self.a) * LN10 - self.a * LN10) / pre

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "T": self.t, "M": self.m, "A": self.a}


def asinh_scale(
    x: ArrayLike, t: float = 262144.0, m: float = 4.5, a: float = 0.0
) -> NDArray[np.float64]:
    """Functional form of :class:`AsinhTransform`."""
    return AsinhTransform(t, m, a).apply(x)


def _solve_logicle_d(b: float, w: float) -> float:
    """Find ``d`` with ``2 (ln d − ln b) + w (b + d) = 0`` on ``(0, b]`` (Moore & Parks 2012).

    Why bisection+Newton in scalars: it runs once per transform, and a bracketed
    root is guaranteed because the left side is increasing in ``d``.
    """
    if w == 0:
        return b
    lo, hi = 0.0, b

    def g(d: float) -> float:
        return 2.0 * (math.log(d) - math.log(b)) + w * (b + d)

    d = 0.5 * (lo + hi)
    for _ in range(200):
        val = g(d)
        if val < 0:
            lo = d
        else:
            hi = d
        deriv = 2.0 / d + w
        nd = d - val / deriv
        if not (lo < nd < hi):
            nd = 0.5 * (lo + hi)
        if abs(nd - d) <= 2.0 * b * np.finfo(float).eps:
            return nd
        d = nd
    return d


class _Biexponential(Transform):
    """Shared machinery: an odd function about ``x1`` written as ``value(t)``, t = y − x1.

    Subclasses provide ``_value(t)`` (data value for offset ``t >= 0``) and its
    first and second derivatives; the forward transform solves ``_value(t) = |x|``
    with Halley's method, vectorized over all events.
    """

    x1: float
    _b: float
    _p: float

    def _value(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _derivs(
        self, t: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        raise NotImplementedError

    def _slope0(self) -> float:
        raise NotImplementedError

    def _bound(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        # The value function is convex for s >= 0 and lies above both its tangent
        # at 0 and P·expm1(b s), so the smaller of those two roots over-estimates
        # the true root and Newton/Halley then descend onto it monotonically.
        lin = v / self._slope0()
        logb = np.log1p(v / self._p) / self._b
        return np.maximum(np.minimum(lin, logb), 0.0)

    @cached_property
    def _table(self) -> tuple[float, NDArray[np.float64]]:
        """Roots on a uniform grid of u = log1p(v / P) / b, up to 100 x the top of scale.

        Why: interpolated in u (one log1p and an index, no search), the root is
        within ~1e-7 of the truth, so the Halley loop of :meth:`_solve` needs two
        steps instead of four to six: transforms are most of a figure's cost.
        """
        top = float(np.log1p(100.0 * max(float(self._value(np.array([1.0]))[0]), 1.0)
                             / self._p) / self._b)
        v = self._p * np.expm1(self._b * np.linspace(0.0, top, _TABLE + 1))
        return top, self._halley(self._bound(v), v)

    def _initial(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        top, roots = self._table
        u = np.log1p(v / self._p) * (_TABLE / (self._b * top))
        inside = u < _TABLE
        i = np.minimum(u, _TABLE - 1).astype(np.intp)
        frac = u - i
        guess = roots[i] + frac * (roots[i + 1] - roots[i])
        if not inside.all():  # beyond the table: the bound (rare, far off scale)
            guess = np.where(inside, guess, self._bound(v))
        return np.asarray(guess, dtype=np.float64)

    def inverse(self, y: ArrayLike) -> NDArray[np.float64]:
        y = _as_float_array(y)
        t = y - self.x1
        return np.sign(t) * self._value(np.abs(t))

    def apply(self, x: ArrayLike) -> NDArray[np.float64]:
        x = _as_float_array(x)
        shape = x.shape
        flat = x.ravel()
        out = np.full(flat.shape, np.nan)
        finite = np.isfinite(flat)
        out[np.isposinf(flat)] = np.inf
        out[np.isneginf(flat)] = -np.inf
        idx = np.flatnonzero(finite)
        if idx.size:
            v = np.abs(flat[idx])
            t = self._solve(v)
            out[idx] = self.x1 + np.sign(flat[idx]) * t
        return out.reshape(shape)

    def _solve(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._halley(self._initial(v), v)

    def display(self, x: ArrayLike) -> NDArray[np.float64]:
        """The table's guess and one Halley step (cubic: 1e-6 becomes far below 1e-9)."""
        x = _as_float_array(x)
        v = np.abs(x)
        with np.errstate(invalid="ignore"):
            t = self._initial(np.where(np.isfinite(v), v, 0.0))
            t = t - self._step(t, v)
        out = self.x1 + np.sign(x) * np.maximum(t, 0.0)
        out[np.isinf(x)] = x[np.isinf(x)]
        out[np.isnan(x)] = np.nan
        return np.asarray(out, dtype=np.float64)

    def _step(self, t: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        """One Halley correction at ``t``; the guard falls back to Newton where it is large."""
        g = self._value(t) - v
        d1, d2 = self._derivs(t)
        denom = d1 * (1.0 - g * d2 / (2.0 * d1 * d1))
        return np.asarray(g / np.where(np.abs(denom) > 0.5 * d1, denom, d1))

    def _halley(self, t: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        # Iterate on the whole vector (cheaper than re-indexing for the few
        # Halley steps needed), until every step is at rounding level.
        eps = np.finfo(float).eps
        for _ in range(_MAX_ITER):
            delta = self._step(t, v)
            tn = t - delta
            t = np.where(tn < 0, 0.5 * t, tn)
            if np.all(np.abs(delta) <= 4.0 * eps * np.maximum(1.0, np.abs(t))):
                break
        else:
            logger.debug("biexponential solve hit the iteration cap")
        return t


@dataclass(frozen=True)
class LogicleTransform(_Biexponential):
    """Gating-ML 2.0 ``logicle(x, T, W, M, A)`` (Parks et al. 2006; Moore & Parks 2012).

    Why logicle: it shows compensated data, which spread around and below zero,
    without the pile-up a log axis makes, while staying log-like for bright
    events. ``T`` is the top of scale, ``M`` the decades at full scale, ``W``
    the decades of near-linear width, ``A`` extra negative decades.
    """

    t: float = 262144.0
    w: float = 0.5
    m: float = 4.5
    a: float = 0.0
    kind: str = field(default="logicle", init=False, repr=False)
    x1: float = field(default=0.0, init=False, repr=False, compare=False)
    _b: float = field(default=0.0, init=False, repr=False, compare=False)
    _d: float = field(default=0.0, init=False, repr=False, compare=False)
    _p: float = field(default=0.0, init=False, repr=False, compare=False)
    _n: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t, w, m, a = self.t, self.w, self.m, self.a
        if not t > 0:
            raise TransformError(f"logicle: T must be > 0, got {t}")
        if not m > 0:
            raise TransformError(f"logicle: M must be > 0, got {m}")
        if not (0 <= w <= m / 2):
            raise TransformError(f"logicle: W must satisfy 0 <= W <= M/2, got W={w}, M={m}")
        if not (-w <= a <= m - 2 * w):
            raise TransformError(f"logicle: A must satisfy -W <= A <= M - 2W, got A={a}")
        ww = w / (m + a)
        x2 = a / (m + a)
        x1 = x2 + ww
        x0 = x2 + 2 * ww
        b = (m + a) * LN10
        d = _solve_logicle_d(b, ww)
        c_a = math.exp(x0 * (b + d))
        mf_a = math.exp(b * x1) - c_a / math.exp(d * x1)
        aa = t / ((math.exp(b) - mf_a) - c_a / math.exp(d))
        c = c_a * aa
        # Offsets around x1: B(x1 + s) = P expm1(b s) − N expm1(−d s).
        p = aa * math.exp(b * x1)
        n = c * math.exp(-d * x1)
        object.__setattr__(self, "x1", x1)
        object.__setattr__(self, "_b", b)
        object.__setattr__(self, "_d", d)
        object.__setattr__(self, "_p", p)
        object.__setattr__(self, "_n", n)

    def _value(self, s: NDArray[np.float64]) -> NDArray[np.float64]:
        b, d, p, n = self._b, self._d, self._p, self._n
        return np.asarray(p * np.expm1(b * s) - n * np.expm1(-d * s))

    def _derivs(
        self, s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        b, d, p, n = self._b, self._d, self._p, self._n
        pe = p * np.exp(b * s)
        ne = n * np.exp(-d * s)
        return b * pe + d * ne, b * b * pe - d * d * ne

    def _slope0(self) -> float:
        return float(self._p * self._b + self._n * self._d)


    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "T": self.t, "W": self.w, "M": self.m, "A": self.a}


@dataclass(frozen=True)
class HyperlogTransform(_Biexponential):
    """Gating-ML 2.0 ``hyperlog(x, T, W, M, A)`` (Bagwell 2005).

    Why: some lab software (e.g. exports from Verity/WinList) uses hyperlog;
    supporting it lets their gates be read unchanged.
    """

    t: float = 262144.0
    w: float = 0.5
    m: float = 4.5
    a: float = 0.0
    kind: str = field(default="hyperlog", init=False, repr=False)
    x1: float = field(default=0.0, init=False, repr=False, compare=False)
    _b: float = field(default=0.0, init=False, repr=False, compare=False)
    _c: float = field(default=0.0, init=False, repr=False, compare=False)
    _p: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t, w, m, a = self.t, self.w, self.m, self.a
        if not t > 0:
            raise TransformError(f"hyperlog: T must be > 0, got {t}")
        if not m > 0:
            raise TransformError(f"hyperlog: M must be > 0, got {m}")
        if not (0 < w <= m / 2):
            raise TransformError(f"hyperlog: W must satisfy 0 < W <= M/2, got W={w}, M={m}")
        if not (-w <= a <= m - 2 * w):
            raise TransformError(f"hyperlog: A must satisfy -W <= A <= M - 2W, got A={a}")
        ww = w / (m + a)
        x2 = a / (m + a)
        x1 = x2 + ww
        x0 = x2 + 2 * ww
        b = (m + a) * LN10
        e0 = math.exp(b * x0)
        c_a = e0 / ww
        f_a = math.exp(b * x1) + c_a * x1
        aa = t / (math.exp(b) + c_a - f_a)
        c = c_a * aa
        # EH(x1 + s) = P expm1(b s) + c s.
        p = aa * math.exp(b * x1)
        object.__setattr__(self, "x1", x1)
        object.__setattr__(self, "_b", b)
        object.__setattr__(self, "_c", c)
        object.__setattr__(self, "_p", p)

    def _value(self, s: NDArray[np.float64]) -> NDArray[np.float64]:
        b, c, p = self._b, self._c, self._p
        return np.asarray(p * np.expm1(b * s) + c * s)

    def _derivs(
        self, s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        b, c, p = self._b, self._c, self._p
        pe = p * np.exp(b * s)
        return b * pe + c, b * b * pe

    def _slope0(self) -> float:
        return float(self._p * self._b + self._c)


    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "T": self.t, "W": self.w, "M": self.m, "A": self.a}


def logicle(
    x: ArrayLike, t: float = 262144.0, w: float = 0.5, m: float = 4.5, a: float = 0.0
) -> NDArray[np.float64]:
    """Functional form of :meth:`LogicleTransform.apply`."""
    return LogicleTransform(t, w, m, a).apply(x)


def logicle_inverse(
    y: ArrayLike, t: float = 262144.0, w: float = 0.5, m: float = 4.5, a: float = 0.0
) -> NDArray[np.float64]:
    """Functional form of :meth:`LogicleTransform.inverse`."""
    return LogicleTransform(t, w, m, a).inverse(y)


def hyperlog(
    x: ArrayLike, t: float = 262144.0, w: float = 0.5, m: float = 4.5, a: float = 0.0
) -> NDArray[np.float64]:
    """Functional form of :meth:`HyperlogTransform.apply`."""
    return HyperlogTransform(t, w, m, a).apply(x)


def hyperlog_inverse(
    y: ArrayLike, t: float = 262144.0, w: float = 0.5, m: float = 4.5, a: float = 0.0
) -> NDArray[np.float64]:
    """Functional form of :meth:`HyperlogTransform.inverse`."""
    return HyperlogTransform(t, w, m, a).inverse(y)
