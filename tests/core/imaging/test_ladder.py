"""Ladder matching, fitting and sizing against synthetic gels with known bp."""

from __future__ import annotations

import numpy as np
import pytest
from assaykit.errors import AnalysisError
from assaykit.imaging.background import rolling_ball_background
from assaykit.imaging.bands import find_bands
from assaykit.imaging.geometry import find_lanes
from assaykit.imaging.ladder import (
    NEB_1KB_PLUS_BP,
    NEB_1KB_PLUS_REFERENCE_BP,
    MultiLaneCalibration,
    fit_ladder,
    match_ladder,
    reference_masses,
)
from assaykit.imaging.synthetic import make_gel

SIZES = [float(s) for s in NEB_1KB_PLUS_BP]


def _true_rows(syn, lane: int) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    return [(b["row_observed"], b["bp"]) for b in syn.truth["bands"] if b["lane"] == lane]


def test_match_with_all_bands() -> None:
    syn = make_gel(1)
    rows = [r for r, _ in _true_rows(syn, 0)]
    m = match_ladder(rows, SIZES)
    assert m.sizes == tuple(sorted(SIZES, reverse=True))
    assert m.missing_sizes == () and m.extra_positions == ()


@pytest.mark.parametrize("drop", [[3], [0], [18], [10, 11]])
def test_match_with_missing_bands(drop: list[int]) -> None:
    syn = make_gel(2)
    truth = _true_rows(syn, 0)
    kept = [t for i, t in enumerate(truth) if i not in drop]
    m = match_ladder([r for r, _ in kept], SIZES)
    assigned = dict(zip(m.positions, m.sizes))
    for r, bp in kept:
        assert assigned[r] == bp
    assert sorted(m.missing_sizes) == sorted(truth[i][1] for i in drop)


def test_match_with_an_extra_band_and_shuffled_input() -> None:
    syn = make_gel(3)
    truth = _true_rows(syn, 0)
    rows = [r for r, _ in truth]
    extra = (rows[5] + rows[6]) / 2 + 1.0
    shuffled = [*rows[::-1], extra]
    m = match_ladder(shuffled, SIZES)
    assert m.extra_positions == (extra,)
    for idx, size in zip(m.position_index, m.sizes):
        assert dict((r, bp) for r, bp in truth)[shuffled[idx]] == size


def test_reference_brightness_resolves_end_ambiguity() -> None:
    """Two sizes missing at the bottom vs two in the middle: intensity decides."""
    syn = make_gel(4)
    truth = _true_rows(syn, 0)
    vols = {b["bp"]: b["volume"] for b in syn.truth["bands"] if b["lane"] == 0}
    kept = [t for t in truth if t[1] not in (900.0, 600.0)]
    masses = reference_masses(SIZES, NEB_1KB_PLUS_REFERENCE_BP)
    m = match_ladder(
        [r for r, _ in kept], SIZES, volumes=[vols[bp] for _, bp in kept], masses=masses
    )
    assert sorted(m.missing_sizes) == [600.0, 900.0]


def test_too_few_bands_raise() -> None:
    with pytest.raises(AnalysisError):
        match_ladder([10.0, 20.0, 30.0], SIZES)


@pytest.mark.parametrize("model", ["cubic", "piecewise", "linear"])
def test_fit_quality_and_sizing_of_samples(model: str) -> None:
    samples = {
        1: [(750.0, 20000.0)],
        2: [(2500.0, 30000.0), (300.0, 15000.0)],
        3: [(1350.0, 25000.0)],
    }
    syn = make_gel(5, samples=samples, n_lanes=4, curvature=0.05)
    img = syn.image.astype(np.float32)
    det = find_lanes(img, expected_lanes=4)
    detect = rolling_ball_background(img * 257.0, 30).subtract(img * 257.0) / 257.0
    ladder_bands = find_bands(img, det.lanes[0], detect_image=detect, neighbours=det.lanes)
    fit = fit_ladder([b.row for b in ladder_bands], SIZES, model=model)  # type: ignore[arg-type]
    assert fit.match is not None and len(fit.match.sizes) >= 17
    if model != "linear":
        assert fit.r_squared > 0.999
        assert fit.max_residual_fraction < 0.05
    for lane, items in samples.items():
        bands = find_bands(img, det.lanes[lane], detect_image=detect, neighbours=det.lanes)
        for bp, _ in items:
            truth_row = next(
                b["row_observed"] for b in syn.truth["bands"] if b["lane"] == lane and b["bp"] == bp
            )
            band = min(bands, key=lambda b: abs(b.row - truth_row))
            if model != "linear":
                assert fit.size_at(band.row) == pytest.approx(bp, rel=0.05)
    if model == "linear":  # the semi-log line is bent: linear is measurably worse
        assert fit.max_residual_fraction > 0.05


def test_two_ladders_correct_a_skew() -> None:
    """Ladders in the outer lanes; the gel ran faster on the right; interpolating fixes it.

    (A symmetric smile cannot be corrected by ladders at both edges: both see the
    same offset. That is what estimate_smile/register_lanes are for.)
    """
    samples = {1: [(1200.0, 30000.0)], 2: [(1200.0, 30000.0)], 3: [(1200.0, 30000.0)]}
    syn = make_gel(6, samples=samples, n_lanes=5, ladder_lanes=(0, 4), skew_px=10.0, width=700)
    img = syn.image.astype(np.float32)
    det = find_lanes(img, expected_lanes=5)
    fits = {}
    for lane in (0, 4):
        bands = find_bands(img, det.lanes[lane], neighbours=det.lanes)
        fits[det.lanes[lane].center] = fit_ladder([b.row for b in bands], SIZES, model="piecewise")
    multi = MultiLaneCalibration(fits)
    single = fits[det.lanes[0].center]
    for lane in (1, 2, 3):
        band = find_bands(img, det.lanes[lane], neighbours=det.lanes)[0]
        corrected = multi.size_at(det.lanes[lane].center, band.row)
        assert corrected == pytest.approx(1200.0, rel=0.03)
    # with only the left ladder, the right-hand lanes are sized measurably worse
    far = find_bands(img, det.lanes[3], neighbours=det.lanes)[0]
    assert abs(single.size_at(far.row) / 1200 - 1) > 0.05


def test_ladders_sharing_too_few_sizes_fall_back_to_the_nearest() -> None:
    """Two ladders of different kits cannot be interpolated: the nearest one sizes a lane."""
    left = fit_ladder([100.0, 150.0, 200.0, 250.0, 300.0], [1000, 800, 600, 400, 200])
    right = fit_ladder([110.0, 160.0, 210.0, 260.0, 310.0], [900, 700, 500, 300, 100])
    multi = MultiLaneCalibration({50.0: left, 450.0: right})
    with pytest.raises(AnalysisError, match="share only"):
        multi.size_at(100.0, 200.0)
    assert multi.size_or_nearest(100.0, 200.0) == pytest.approx(left.size_at(200.0))
    assert multi.size_or_nearest(400.0, 200.0) == pytest.approx(right.size_at(200.0))
