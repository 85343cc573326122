"""The shortcuts figures take (issue 14) give what the exact routines give.

Truth is independent of the code under test: numpy's ``histogram2d`` for the
binning, and the exact Halley solve started from the convex bound (the old
initial guess, not the table) for the biexponential transforms.
"""

from __future__ import annotations

import numpy as np
import pytest
from assaykit.cytometry.figures import hist2d
from assaykit.cytometry.transforms import HyperlogTransform, LogicleTransform

TRANSFORMS = [
    LogicleTransform(),
    LogicleTransform(t=10_000, w=1.5, m=4.0, a=0.5),
    LogicleTransform(w=0.0),
    LogicleTransform(w=2.0),
    LogicleTransform(t=1_000, w=0.01, m=3.0, a=1.0),
    HyperlogTransform(),
    HyperlogTransform(t=1_000, w=0.01, m=3.0),
]


def _values() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.concatenate([
        np.linspace(-3e4, 3e4, 20_001), np.geomspace(1e-3, 1e8, 20_001),
        -np.geomspace(1e-3, 1e8, 2_001), rng.normal(0, 300, 5_000),
        rng.lognormal(8, 1.5, 5_000), [0.0, 1e-300, -1e-300, 1e12, -1e12],
    ])


@pytest.mark.parametrize("tr", TRANSFORMS, ids=lambda t: f"{t.kind}-{t.w}-{t.t}")
def test_exact_apply_matches_solve_from_the_bound(tr: LogicleTransform) -> None:
    x = _values()
    v = np.abs(x)
    truth = tr.x1 + np.sign(x) * tr._halley(tr._bound(v), v)
    got = tr.apply(x)
    np.testing.assert_allclose(got, truth, rtol=0, atol=1e-14)
    np.testing.assert_allclose(tr.inverse(got), x, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("tr", TRANSFORMS, ids=lambda t: f"{t.kind}-{t.w}-{t.t}")
def test_display_is_within_1e9_of_apply_and_keeps_nan_and_inf(tr: LogicleTransform) -> None:
    x = np.concatenate([_values(), [np.nan, np.inf, -np.inf]])
    exact, shown = tr.apply(x), tr.display(x)
    fin = np.isfinite(exact)
    assert np.abs(shown[fin] - exact[fin]).max() <= 1e-9
    assert np.isnan(shown[-3]) and shown[-2] == np.inf and shown[-1] == -np.inf


def test_hist2d_counts_like_numpy_including_edges_outside_and_nan() -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    x = np.concatenate([rng.normal(0.5, 0.3, n), [0.0, 1.0, 1.0, -0.1, 1.1, np.nan, 0.5]])
    y = np.concatenate([rng.normal(0.4, 0.2, n), [0.0, 1.0, 0.5, 0.5, 0.5, 0.5, np.nan]])
    # bins of width 1/160 and 1/64: edges are exact binary fractions, so both
    # implementations must agree on events that lie exactly on an edge
    for bins in (160, 64):
        want, _, _ = np.histogram2d(x, y, bins=bins, range=[(0.0, 1.0), (0.0, 1.0)])
        got = hist2d(x, y, bins, (0.0, 1.0), (0.0, 1.0))
        assert got.shape == want.shape
        assert np.array_equal(got, want), np.argwhere(got != want)[:5]
    want, _, _ = np.histogram2d(x, y, bins=100, range=[(-0.2, 1.3), (0.1, 0.9)])
    got = hist2d(x, y, 100, (-0.2, 1.3), (0.1, 0.9))
    # uneven edges: an event within rounding of an edge may land in the neighbour bin
    assert got.sum() == want.sum()
    assert np.abs(got - want).sum() <= 4
