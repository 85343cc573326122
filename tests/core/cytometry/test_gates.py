"""Gates: boundary rules, partitions, boolean logic, parents, and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from assaykit.cytometry.compensation import SpilloverMatrix
from assaykit.cytometry.events import EventFrame
from assaykit.cytometry.gates import (
    BooleanGate,
    Dimension,
    EllipsoidGate,
    GateError,
    GateOperand,
    PolygonGate,
    QuadrantGate,
    RangeGate,
    RectangleGate,
    ThresholdGate,
    describe,
)
from assaykit.cytometry.transforms import LogicleTransform
from assaykit.errors import ConfigError
from hypothesis import given, settings
from hypothesis import strategies as st


def test_range_is_half_open() -> None:
    v = np.array([0.9, 1.0, 1.5, 2.0, np.nan])
    assert RangeGate("x", 1.0, 2.0).contains({"x": v}).tolist() == [False, True, True, False, False]
    assert RangeGate("x", None, 2.0).contains({"x": v}).tolist() == [True, True, True, False, False]
    assert RangeGate("x", 1.0).contains({"x": v}).tolist() == [False, True, True, True, False]


def test_threshold_above_and_below_split_every_finite_event_once() -> None:
    v = np.array([-1.0, 0.0, 5.0, 5.0, 7.0, np.nan])
    above = ThresholdGate("x", 5.0).contains({"x": v})
    below = ThresholdGate("x", 5.0, "below").contains({"x": v})
    assert above.tolist() == [False, False, True, True, True, False]
    assert not (above & below).any()
    assert (above | below).tolist() == [True] * 5 + [False]


def test_rectangle_needs_all_dimensions() -> None:
    data = {"a": np.array([1.0, 1.0, 3.0]), "b": np.array([1.0, 5.0, 1.0])}
    g = RectangleGate(["a", "b"], [(0, 2), (0, 2)])
    assert g.contains(data).tolist() == [True, False, False]
    with pytest.raises(GateError):
        RectangleGate(["a"], [(2, 1)])
    with pytest.raises(GateError):
        RectangleGate(["a"], [(None, None)])


def test_quadrant_boundary_goes_to_upper_right() -> None:
    x = np.array([0.0, 10.0, 10.0, 0.0, 20.0, np.nan])
    y = np.array([0.0, 0.0, 5.0, 5.0, 9.0, 1.0])
    q = QuadrantGate.cross("x", "y", 10.0, 5.0, names=["--", "+-", "-+", "++"])
    labels, names = q.assign({"x": x, "y": y})
    assert [names[k] if k >= 0 else None for k in labels] == ["--", "+-", "++", "-+", "++", None]
    assert q.quadrant("++").contains({"x": x, "y": y}).tolist() == [
        False, False, True, False, True, False,
    ]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), xs=st.floats(-100, 100), ys=st.floats(-100, 100))
def test_quadrants_partition_finite_events(seed: int, xs: float, ys: float) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 50, 2000))  # rounding puts many events exactly on dividers
    y = np.round(rng.normal(0, 50, 2000))
    x[:5], y[5:10] = xs, ys
    q = QuadrantGate.cross("x", "y", xs, ys)
    data = {"x": x, "y": y}
    masks = [q.quadrant(n).contains(data) for n in q.quadrants]
    assert np.array_equal(np.sum(masks, axis=0), np.ones(2000, dtype=int))
    labels, _ = q.assign(data)
    for k, m in enumerate(masks):
        assert np.array_equal(labels == k, m)


def test_default_quadrant_names() -> None:
    q = QuadrantGate.cross("Annexin", "PI", 1.0, 1.0)
    assert list(q.quadrants) == ["Annexin-PI-", "Annexin+PI-", "Annexin-PI+", "Annexin+PI+"]


def test_polygon_even_odd_and_edges() -> None:
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    g = PolygonGate("x", "y", square)
    x = np.array([5.0, 0.0, 10.0, 5.0, 5.0, 15.0, np.nan])
    y = np.array([5.0, 5.0, 5.0, 0.0, 10.0, 5.0, 5.0])
    # left and bottom edges in; right and top edges out (half-open crossing test)
    assert g.contains({"x": x, "y": y}).tolist() == [True, True, False, True, False, False, False]


def test_polygon_self_intersecting_uses_even_odd() -> None:
    # A pentagram: the central pentagon is crossed twice -> outside under even-odd.
    ang = np.deg2rad(90 + 144 * np.arange(5))
    star = np.column_stack([np.cos(ang), np.sin(ang)]) * 10
    g = PolygonGate("x", "y", star)
    tip = star[0] * 0.8
    data = {"x": np.array([0.0, tip[0]]), "y": np.array([0.0, tip[1]])}
    assert g.contains(data).tolist() == [False, True]


def test_polygon_matches_matplotlib_path_away_from_edges() -> None:
    from matplotlib.path import Path as MplPath

    rng = np.random.default_rng(3)
    verts = rng.uniform(0, 100, (9, 2))
    pts = rng.uniform(0, 100, (20000, 2))
    ours = PolygonGate("x", "y", verts).contains({"x": pts[:, 0], "y": pts[:, 1]})
    theirs = MplPath(np.vstack([verts, verts[:1]]), closed=True).contains_points(pts)
    # matplotlib fills with the non-zero rule; compare on a simple (convex hull) polygon instead
    from scipy.spatial import ConvexHull

    hull = verts[ConvexHull(verts).vertices]
    ours = PolygonGate("x", "y", hull).contains({"x": pts[:, 0], "y": pts[:, 1]})
    theirs = MplPath(np.vstack([hull, hull[:1]]), closed=True).contains_points(pts)
    assert (ours != theirs).sum() == 0


def test_ellipse_from_axes_matches_geometry() -> None:
    g = EllipsoidGate.from_axes("x", "y", (5.0, 5.0), (4.0, 1.0), 30.0)
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 10, 20000), rng.uniform(0, 10, 20000)
    th = np.deg2rad(30.0)
    u = (x - 5) * np.cos(th) + (y - 5) * np.sin(th)
    v = -(x - 5) * np.sin(th) + (y - 5) * np.cos(th)
    expect = (u / 4) ** 2 + (v / 1) ** 2 <= 1
    assert np.array_equal(g.contains({"x": x, "y": y}), expect)


def test_boolean_and_or_not_complement_and_parents() -> None:
    v = np.arange(10.0)
    data = {"x": v}
    low = RangeGate("x", None, 5.0, id="low")
    even_ids = RangeGate("x", 2.0, 8.0, id="mid")
    both = BooleanGate("and", [low, even_ids], id="both")
    either = BooleanGate("or", [low, even_ids])
    not_low = BooleanGate("not", [low])
    and_not = BooleanGate("and", [GateOperand(low, complement=True), even_ids])
    assert np.flatnonzero(both.contains(data)).tolist() == [2, 3, 4]
    assert np.flatnonzero(either.contains(data)).tolist() == list(range(8))
    assert np.flatnonzero(not_low.contains(data)).tolist() == [5, 6, 7, 8, 9]
    assert np.flatnonzero(and_not.contains(data)).tolist() == [5, 6, 7]
    child = RangeGate("x", 4.0, id="child", parent=low)
    assert np.flatnonzero(child.contains(data)).tolist() == [4, 5, 6, 7, 8, 9]
    assert np.flatnonzero(child.membership(data)).tolist() == [4]
    assert describe(child)["parent"] == "low"
    with pytest.raises(GateError):
        BooleanGate("not", [low, child])
    with pytest.raises(GateError):
        BooleanGate("xor", [low, child])  # type: ignore[arg-type]


def test_transformed_and_compensated_dimension() -> None:
    rng = np.random.default_rng(5)
    spill = np.array([[1.0, 0.3], [0.0, 1.0]])
    true = np.column_stack([rng.lognormal(8, 1, 5000), rng.normal(0, 50, 5000)])
    frame = EventFrame(true @ spill, ["A", "B"], spillover=SpilloverMatrix(("A", "B"), spill))
    tr = LogicleTransform(262144, 0.5, 4.5, 0)
    g = RangeGate(Dimension("B", tr, "FCS"), None, 0.3)
    # Compensated B is ~N(0, 50) for everyone: below logicle 0.3 (about 250).
    assert g.contains(frame).mean() > 0.99
    raw = RangeGate(Dimension("B", tr), None, 0.3)
    assert raw.contains(frame).mean() < 0.5
    with pytest.raises(ConfigError, match="carry no spillover"):
        g.contains({"B": true[:, 1]})


def test_one_million_event_pass_is_fast() -> None:
    """Compensation + quadrant + cleanup on 1e6 events stays well under a second."""
    from assaykit.cytometry.cleanup import auto_cleanup
    from synthetic import scatter_sample

    n = 1_000_000
    s = scatter_sample(n=n, seed=9)
    rng = np.random.default_rng(9)
    spill = np.array([[1.0, 0.12], [0.03, 1.0]])
    fl = np.column_stack([rng.lognormal(6, 1.5, n), rng.lognormal(6, 1.5, n)]) @ spill
    events = np.column_stack([s.fsc_a, s.fsc_h, s.ssc_a, fl])
    channels = ["FSC-A", "FSC-H", "SSC-A", "FITC-A", "PE-A"]
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        frame = EventFrame(events, channels, spillover=SpilloverMatrix(("FITC-A", "PE-A"), spill))
        clean = auto_cleanup(frame)
        q = QuadrantGate.cross(Dimension("FITC-A", None, "FCS"), Dimension("PE-A", None, "FCS"),
                               500.0, 500.0)
        labels, _ = q.assign(frame)
        counts = np.bincount(labels[clean.keep] + 1, minlength=5)
        best = min(best, time.perf_counter() - t0)
    assert counts.sum() == clean.keep.sum()
    assert best < 1.0, f"1e6-event pass took {best:.3f}s"
