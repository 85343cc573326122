"""Rotation, lanes, strips and smile against the generator's truth."""

from __future__ import annotations

import numpy as np
import pytest
from assaykit.errors import AnalysisError
from assaykit.imaging.geometry import (
    estimate_rotation,
    estimate_smile,
    find_lanes,
    find_strips,
    register_lanes,
    rotate_image,
)
from assaykit.imaging.io import normalize_polarity
from assaykit.imaging.synthetic import make_blot


def _norm(syn):  # type: ignore[no-untyped-def]
    return normalize_polarity(
        syn.image.astype(np.float32), saturation_value=syn.truth["saturation_value"]
    ).data


@pytest.mark.parametrize("angle", [-4.5, -2.0, -0.7, 0.0, 1.2, 3.0, 5.0])
def test_rotation_recovered(angle: float) -> None:
    syn = make_blot(21, rotation_deg=angle, illumination=1500)
    est = estimate_rotation(_norm(syn))
    assert est == pytest.approx(-angle, abs=0.15)


def test_rotation_of_inverted_8bit_smiling_gel() -> None:
    syn = make_blot(22, rotation_deg=2.5, invert=True, bit_depth=8, smile_px=5)
    assert estimate_rotation(_norm(syn)) == pytest.approx(-2.5, abs=0.2)


def test_rotate_then_lanes_are_vertical_again() -> None:
    syn = make_blot(23, rotation_deg=-3.0, n_lanes=5)
    data = _norm(syn)
    straight = rotate_image(data, estimate_rotation(data))
    det = find_lanes(straight, expected_lanes=5)
    truth = [ln["center"] for ln in syn.truth["lanes"]]
    np.testing.assert_allclose([ln.center for ln in det.lanes], truth, atol=2.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"illumination": 2500},
        {"invert": True, "illumination": 2000},
        {"bit_depth": 8},
        {"n_lanes": 10},
        {"n_lanes": 2},
    ],
)
def test_lane_count_centres_and_width(kwargs: dict) -> None:
    syn = make_blot(24, **kwargs)
    det = find_lanes(_norm(syn))
    truth = syn.truth["lanes"]
    assert len(det.lanes) == len(truth)
    np.testing.assert_allclose(
        [ln.center for ln in det.lanes], [t["center"] for t in truth], atol=1.5
    )
    assert det.lane_width == pytest.approx(truth[0]["width"], rel=0.08)
    assert [ln.index for ln in det.lanes] == list(range(len(truth)))


def test_expected_lane_count_recovers_empty_lanes() -> None:
    bands = [[(0.4, 2.0e6)] if i not in (1, 4, 5) else [] for i in range(8)]
    syn = make_blot(25, n_lanes=8, bands=bands)
    det = find_lanes(_norm(syn), expected_lanes=8)
    assert len(det.lanes) == 8 and "regular grid" in det.method
    np.testing.assert_allclose(
        [ln.center for ln in det.lanes], [t["center"] for t in syn.truth["lanes"]], atol=2.0
    )


def test_expected_lane_count_keeps_strongest() -> None:
    syn = make_blot(26, n_lanes=6)
    det = find_lanes(_norm(syn), expected_lanes=4)
    assert len(det.lanes) == 4


def test_no_lanes_is_an_analysis_error() -> None:
    flat = np.random.default_rng(0).normal(100, 1, (100, 120)).astype(np.float32)
    with pytest.raises(AnalysisError):
        find_lanes(flat, rel_prominence=0.99, min_separation=1000)


@pytest.mark.parametrize(("n_strips", "illumination"), [(2, 0.0), (3, 1500.0), (4, 0.0)])
def test_strips_found(n_strips: int, illumination: float) -> None:
    syn = make_blot(27, height=640, n_strips=n_strips, illumination=illumination)
    strips = find_strips(_norm(syn))
    assert len(strips) == n_strips
    for (a, b), (ta, tb) in zip(strips, syn.truth["strips"]):
        assert abs(a - ta) <= 2 and abs(b - tb) <= 2


def test_single_strip_with_strong_illumination_is_one_strip() -> None:
    syn = make_blot(28, illumination=5000)
    assert find_strips(_norm(syn)) == [(0, syn.truth["shape"][0])]


def test_smile_offsets_follow_truth() -> None:
    n = 7
    syn = make_blot(29, n_lanes=n, smile_px=10, bands=[[(0.3, 2.0e6), (0.65, 1.5e6)]] * n)
    data = _norm(syn)
    det = find_lanes(data, expected_lanes=n)
    smile = estimate_smile(data, det.lanes)
    truth = np.array([t["smile_offset"] for t in syn.truth["lanes"]])
    truth -= np.median(truth)
    np.testing.assert_allclose(smile.offsets, truth, atol=0.6)
    assert smile.offset_at(det.lanes[0].center) == pytest.approx(smile.offsets[0], abs=1e-6)


def test_register_lanes_recovers_scale_and_shift() -> None:
    rng = np.random.default_rng(3)
    h, w = 400, 300
    rows_ref = np.array([60, 110, 150, 230, 300.0])
    img = rng.normal(10, 1, (h, w)).astype(np.float32)
    yy = np.arange(h)[:, None]
    scale, shift = 0.97, 6.0
    for _lane, (x0, s, t) in enumerate([(30, 1.0, 0.0), (170, scale, shift)]):
        for r in rows_ref:
            img[:, x0 : x0 + 80] += (500 * np.exp(-((yy - (s * r + t)) ** 2) / 8.0)).astype(
                np.float32
            )
    det = find_lanes(img, expected_lanes=2)
    regs = register_lanes(img, det.lanes)
    assert regs[1].scale == pytest.approx(scale, abs=0.004)
    assert regs[1].to_reference(scale * 230 + shift) == pytest.approx(230, abs=0.7)
