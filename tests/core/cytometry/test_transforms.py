"""Transforms: reference values, exact inverses, monotonicity, and gating invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from assaykit.cytometry.gates import Dimension, RangeGate
from assaykit.cytometry.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
    Transform,
    TransformError,
    hyperlog,
    logicle,
    logicle_inverse,
)
from hypothesis import given, settings
from hypothesis import strategies as st

X = np.array([-1000.0, -10.0, 0.0, 1.0, 10.0, 100.0, 1000.0, 9999.0, 262144.0])

# Reference values computed with flowutils 1.2.2 (the C implementation of
# Moore & Parks 2012 used by FlowKit), an implementation independent of ours.
LOGICLE_REF = {
    (10000, 0.5, 4.5, 0): [-0.5552111897123125, -0.08827358847776162, 0.1111111111111111,
                           0.14027945993337287, 0.31049581069998383, 0.5521366992628653,
                           0.7774334119345347, 0.9999903445743227, 1.3152694724798402],
    (10000, 1, 4, 0.5): [-0.10182013417637403, 0.31444588072846696, 0.3333333333333333,
                         0.3352250541532175, 0.35222078593819967, 0.49548960117130614,
                         0.7684868008430407, 0.9999902302238493, 1.3164294711440103],
    (262144, 0.5, 4.5, 0): [-0.23211535395017646, 0.099917946544774, 0.1111111111111111,
                            0.11223153214918431, 0.12230427567744821, 0.21318108753019682,
                            0.45433757617239867, 0.6838229120390373, 1.0],
}
HYPERLOG_REF = {
    (10000, 1, 4.5, 0): [-0.3269263479497604, 0.16796205625418364, 0.2222222222222222,
                         0.22796307436315413, 0.2764823881902608, 0.511151436999418,
                         0.7713707923942048, 0.9999902581339785, 1.3162076368700135],
    (262144, 0.5, 4.5, 1): [0.0044072190755823915, 0.2647786629704697, 0.2727272727272727,
                            0.27353208053928924, 0.2806758824840757, 0.3421524262877849,
                            0.541047326378963, 0.7390596630049394, 1.0],
}


@pytest.mark.parametrize("params", list(LOGICLE_REF))
def test_logicle_matches_reference_implementation(params: tuple[float, ...]) -> None:
    t, w, m, a = params
    np.testing.assert_allclose(logicle(X, t, w, m, a), LOGICLE_REF[params], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("params", list(HYPERLOG_REF))
def test_hyperlog_matches_reference_implementation(params: tuple[float, ...]) -> None:
    t, w, m, a = params
    np.testing.assert_allclose(
        hyperlog(X, t, w, m, a), HYPERLOG_REF[params], rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("cls", [LogicleTransform, HyperlogTransform])
@pytest.mark.parametrize(
    "t,w,m,a", [(10000, 0.5, 4.5, 0), (10000, 1, 4, 0.5), (262144, 1.5, 4.5, -1), (1000, 2, 4, 0)]
)
def test_biexponential_anchor_points(cls: type, t: float, w: float, m: float, a: float) -> None:
    """Definition: zero maps to x1 = (W + A)/(M + A), T maps to 1 (Gating-ML 2.0)."""
    tr = cls(t, w, m, a)
    x1 = (w + a) / (m + a)
    assert tr.apply(np.array([0.0]))[0] == pytest.approx(x1, abs=1e-15)
    assert tr.apply(np.array([t]))[0] == pytest.approx(1.0, rel=1e-14)
    assert tr.inverse(np.array([1.0]))[0] == pytest.approx(t, rel=1e-13)
    assert tr.inverse(np.array([x1]))[0] == 0.0


def test_logicle_w0_is_pure_log_above_zero() -> None:
    """With W=0, A=0, logicle(x) -> log10(x/T)/M + 1 for large x (Parks 2006)."""
    tr = LogicleTransform(10000, 0, 4, 0)
    x = np.array([100.0, 1000.0, 5000.0])
    np.testing.assert_allclose(tr.apply(x), np.log10(x / 10000) / 4 + 1, atol=1e-4)


@pytest.mark.parametrize(
    "tr",
    [
        LogicleTransform(),
        LogicleTransform(10000, 2, 4, 0),
        LogicleTransform(262144, 1.5, 4.5, -1),
        HyperlogTransform(10000, 1, 4.5, 0),
        HyperlogTransform(262144, 0.5, 4.5, 1),
        AsinhTransform(10000, 4, 1),
    ],
)
def test_forward_inverse_round_trip_to_1e9(tr: Transform) -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [rng.normal(0, 2000, 20000), rng.lognormal(8, 2, 20000), -rng.lognormal(5, 2, 2000)]
    )
    back = tr.inverse(tr.apply(x))
    big = np.abs(x) > 1.0
    np.testing.assert_allclose(back[big], x[big], rtol=1e-9)
    np.testing.assert_allclose(back[~big], x[~big], atol=1e-9)
    y = np.linspace(-0.2, 1.2, 3001)
    np.testing.assert_allclose(tr.apply(tr.inverse(y)), y, atol=1e-12)


@pytest.mark.parametrize(
    "tr",
    [LogicleTransform(), HyperlogTransform(), AsinhTransform(), LinearTransform(1000, 10)],
)
def test_strictly_increasing(tr: Transform) -> None:
    x = np.sort(np.random.default_rng(1).normal(0, 5000, 10000))
    x = np.unique(x)
    assert np.all(np.diff(tr.apply(x)) > 0)


def test_closed_forms() -> None:
    x = np.array([-50.0, 0.0, 1.0, 500.0, 10000.0])
    ln10 = math.log(10)
    expect_asinh = (np.arcsinh(x * math.sinh(4 * ln10) / 10000) + 1 * ln10) / (5 * ln10)
    np.testing.assert_allclose(AsinhTransform(10000, 4, 1).apply(x), expect_asinh, rtol=1e-14)
    np.testing.assert_allclose(LinearTransform(10000, 500).apply(x), (x + 500) / 10500)
    flog = LogTransform(10000, 5).apply(x)
    assert np.isnan(flog[0]) and np.isnan(flog[1])
    np.testing.assert_allclose(flog[2:], np.log10(x[2:] / 10000) / 5 + 1)


def test_nan_and_inf_pass_through() -> None:
    y = LogicleTransform().apply(np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(y[0]) and y[1] == np.inf and y[2] == -np.inf


def test_shapes_preserved() -> None:
    x = np.arange(12, dtype=float).reshape(3, 4) * 100
    assert LogicleTransform().apply(x).shape == (3, 4)
    assert logicle_inverse(LogicleTransform().apply(x)).shape == (3, 4)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: LogicleTransform(0, 0.5, 4.5, 0),
        lambda: LogicleTransform(10000, 3, 4.5, 0),
        lambda: LogicleTransform(10000, 0.5, 4.5, 5),
        lambda: HyperlogTransform(10000, 0, 4.5, 0),
        lambda: AsinhTransform(10000, 0, 0),
        lambda: LogTransform(-1, 4),
    ],
)
def test_invalid_parameters_raise(bad: object) -> None:
    with pytest.raises(TransformError):
        bad()  # type: ignore[operator]


TRANSFORMS = [
    LogicleTransform(10000, 0.5, 4.5, 0),
    LogicleTransform(262144, 1, 4.5, 0.5),
    HyperlogTransform(10000, 1, 4.5, 0),
    AsinhTransform(10000, 4, 1),
    LinearTransform(10000, 500),
]


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(0, len(TRANSFORMS) - 1),
    lo=st.floats(0.05, 0.6),
    width=st.floats(0.01, 0.4),
    seed=st.integers(0, 2**32 - 1),
)
def test_gating_on_scale_equals_gating_in_raw_space(
    k: int, lo: float, width: float, seed: int
) -> None:
    """A range gate on the scale selects the same events as the raw gate
    [inverse(lo), inverse(hi)), except events within rounding of a bound."""
    tr = TRANSFORMS[k]
    hi = lo + width
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 300, 2000), rng.lognormal(6, 2, 3000)])
    scaled = RangeGate(Dimension("v", tr), lo, hi)
    raw_lo, raw_hi = tr.inverse(np.array([lo, hi]))
    raw = RangeGate("v", float(raw_lo), float(raw_hi))
    a = scaled.contains({"v": x})
    b = raw.contains({"v": x})
    near = (np.abs(x - raw_lo) <= 1e-9 * max(1.0, abs(raw_lo))) | (
        np.abs(x - raw_hi) <= 1e-9 * max(1.0, abs(raw_hi))
    )
    assert np.array_equal(a[~near], b[~near])
