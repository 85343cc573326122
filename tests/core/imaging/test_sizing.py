"""Whole-gel sizing helpers: smile from tracks, ladder quality, lane tilt, comb lanes, gel truth.

Truth comes from the synthetic generator's labels (rows, bp, lane centres,
smile offsets), never from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from assaykit.imaging.bands import find_bands
from assaykit.imaging.geometry import (
    LaneRegistration,
    estimate_lane_tilt,
    estimate_rotation,
    find_lanes,
)
from assaykit.imaging.ladder import fit_ladder
from assaykit.imaging.sizing import GelSizer, fit_track_smile, ladder_quality
from assaykit.imaging.synthetic import SyntheticImage, make_blot, make_gel

SIZES = [1000.0, 900.0, 800.0, 700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0]


def _smile(x: float) -> float:
    return 2e-4 * (x - 400.0) ** 2 + 0.01 * x


def test_track_smile_recovers_a_quadratic_despite_an_outlier() -> None:
    rng = np.random.default_rng(0)
    xs = [50.0, 150.0, 250.0, 350.0, 450.0, 550.0, 650.0, 750.0]
    tracks = []
    for base in (100.0, 300.0, 420.0):
        tracks.append({x: base + _smile(x) + rng.normal(0, 0.3) for x in xs})
    tracks[1][350.0] += 25.0  # a band taken for the wrong molecule
    model = fit_track_smile(tracks)
    assert model is not None
    true = np.array([_smile(x) for x in xs])
    fitted = np.array([model.offset_at(x) for x in xs])
    # offsets are defined up to a constant
    assert np.ptp((fitted - fitted.mean()) - (true - true.mean())) < 1.0
    assert model.lane_centers == xs


def test_track_smile_needs_two_lanes_per_track_and_lowers_its_degree() -> None:
    assert fit_track_smile([{10.0: 5.0}, {20.0: 7.0}]) is None
    assert fit_track_smile([]) is None
    two = fit_track_smile([{0.0: 10.0, 100.0: 12.0}, {0.0: 50.0, 100.0: 52.0}, {0.0: 80.0}])
    assert two is not None and len(two.coefficients) == 2  # only a slope from two positions
    assert two.offset_at(100.0) - two.offset_at(0.0) == pytest.approx(2.0, abs=1e-6)


def _gel_with_smile(smile_px: float, seed: int = 3) -> SyntheticImage:
    samples = {lane: [(250.0, 20000.0)] for lane in range(1, 8)}
    return make_gel(
        seed,
        width=720,
        height=560,
        n_lanes=9,
        ladder_sizes=SIZES,
        ladder_lanes=(0, 8),
        samples=samples,
        top_fraction=0.08,
        bottom_fraction=0.72,
        smile_px=smile_px,
    )


def test_smile_from_shared_bands_corrects_what_two_edge_ladders_cannot() -> None:
    syn = _gel_with_smile(16.0)
    img = syn.image.astype(np.float32)
    det = find_lanes(img, expected_lanes=9, comb=True)
    lanes = det.lanes
    fits = {}
    for k in (0, 8):
        rows = [b.row for b in find_bands(img, lanes[k], neighbours=lanes)]
        fits[lanes[k].center] = fit_ladder(rows, SIZES, model="piecewise")
    product_rows = {
        lanes[k].center: find_bands(img, lanes[k], neighbours=lanes)[0].row for k in range(1, 8)
    }
    ladder_tracks = [
        {x: float(f.positions[np.argmin(np.abs(f.sizes - s))]) for x, f in fits.items()}
        for s in SIZES
    ]
    plain = GelSizer(dict(fits))
    corrected = GelSizer(dict(fits), fit_track_smile([*ladder_tracks, product_rows]))
    err_plain = max(abs(plain.size_at(x, r) / 250.0 - 1) for x, r in product_rows.items())
    err_corr = max(abs(corrected.size_at(x, r) / 250.0 - 1) for x, r in product_rows.items())
    assert err_plain > 0.04  # the middle lanes run ~10 px higher than the ladders
    assert err_corr < 0.015


def test_gel_sizer_registration_and_vector_sizes() -> None:
    syn = _gel_with_smile(0.0)
    img = syn.image.astype(np.float32)
    lanes = find_lanes(img, expected_lanes=9, comb=True).lanes
    rows = [b.row for b in find_bands(img, lanes[0], neighbours=lanes)]
    fit = fit_ladder(rows, SIZES, model="piecewise")
    sizer = GelSizer({lanes[0].center: fit})
    x = lanes[4].center
    grid = np.array([100.0, 200.0, 300.0])
    assert np.allclose(sizer.sizes_at(x, grid), [sizer.size_at(x, r) for r in grid])
    shifted = LaneRegistration(lane=4, reference=0, scale=1.0, shift=10.0, correlation=0.99)
    sizer.register(x, lanes[0].center, shifted)
    # a registered lane's row r is row r - 10 of the ladder lane
    assert sizer.size_at(x, 210.0) == pytest.approx(fit.size_at(200.0))
    assert sizer.sizes_at(x, [210.0])[0] == pytest.approx(fit.size_at(200.0))


def test_ladder_quality_uses_interior_bands_for_piecewise() -> None:
    rows = [50, 70, 92, 117, 145, 178, 217, 265, 330, 440]  # bends strongly at the bottom
    piecewise = fit_ladder(rows, SIZES, model="piecewise", match=False)
    q = ladder_quality(piecewise)
    assert q.interior_only and q.n_bands == 10
    interior = np.abs(piecewise.residuals_bp / piecewise.sizes)[1:-1]
    assert q.max_residual_fraction == pytest.approx(float(interior.max()))
    assert q.max_residual_fraction < piecewise.max_residual_fraction  # the ends extrapolate
    cubic = fit_ladder(rows, SIZES, model="cubic", match=False)
    qc = ladder_quality(cubic)
    assert not qc.interior_only
    assert qc.max_residual_bp == pytest.approx(cubic.max_residual_bp)


@pytest.mark.parametrize("angle", [-3.0, -1.0, 0.0, 2.0])
def test_lane_tilt_recovers_rotation(angle: float) -> None:
    syn = make_blot(40, n_lanes=8, rotation_deg=angle, illumination=1500)
    est = estimate_lane_tilt(syn.image.astype(np.float32))
    assert est == pytest.approx(-angle, abs=0.15)


def test_lane_tilt_is_not_fooled_by_skew_where_band_edges_are() -> None:
    """A gel that ran faster on one side tilts its bands, not its lanes."""
    skewed = make_gel(
        3, width=720, height=560, n_lanes=9, ladder_sizes=SIZES, ladder_lanes=(0, 8),
        samples={lane: [(250.0, 20000.0)] for lane in range(1, 8)},
        top_fraction=0.08, bottom_fraction=0.72, skew_px=12.0,
    )  # fmt: skip
    assert skewed.truth["rotation_deg"] == 0.0 and skewed.truth["skew_px"] == 12.0
    img = skewed.image.astype(np.float32)
    assert abs(estimate_rotation(img)) > 1.0  # the band edges say "rotated"
    assert abs(estimate_lane_tilt(img) or 0.0) < 0.2  # the lanes say "straight"


def test_lane_tilt_without_lanes_is_none() -> None:
    flat = np.random.default_rng(1).normal(100, 2, (300, 400)).astype(np.float32)
    assert estimate_lane_tilt(flat) is None


def test_comb_places_mostly_empty_lanes() -> None:
    """Ladders at both edges, a faint haze in some lanes, nothing in others."""
    syn = make_gel(
        7, width=800, height=500, n_lanes=16, ladder_sizes=SIZES, ladder_lanes=(0, 15),
        samples={3: [(300.0, 4000.0)], 9: [(300.0, 4000.0)]},
        primer_dimer={k: 2500.0 for k in (2, 3, 5, 9, 12)},
        top_fraction=0.08, bottom_fraction=0.7, illumination=20.0,
    )  # fmt: skip
    img = syn.image.astype(np.float32)
    truth = [ln["center"] for ln in syn.truth["lanes"]]
    det = find_lanes(img, expected_lanes=16, comb=True)
    assert len(det.lanes) == 16
    assert max(abs(a.center - b) for a, b in zip(det.lanes, truth)) < 2.0
    assert det.params["comb"] is True
    assert min(ln.width for ln in det.lanes) > 0.4 * det.pitch


def test_make_gel_primer_dimer_masses_and_sigma_in_truth() -> None:
    syn = make_gel(
        1, n_lanes=3, ladder_sizes=SIZES, ladder_masses=[1.0] * 5 + [2.0] + [1.0] * 4,
        samples={1: [(150.0, 9000.0, 6.0)]}, primer_dimer={1: 5000.0, 2: 5000.0},
        top_fraction=0.08, bottom_fraction=0.7,
    )  # fmt: skip
    bands = syn.truth["bands"]
    dimers = [b for b in bands if b["primer_dimer"]]
    assert sorted(b["lane"] for b in dimers) == [1, 2]
    assert all(b["bp"] == 45.0 and b["sigma"] == 9.0 and not b["ladder"] for b in dimers)
    product = next(b for b in bands if b["lane"] == 1 and b["bp"] == 150.0)
    assert product["sigma"] == 6.0
    ladder = {b["bp"]: b["volume"] for b in bands if b["ladder"]}
    assert ladder[500.0] == pytest.approx(2 * ladder[400.0])
    # 45 bp runs below the 100 bp band
    assert min(b["row"] for b in dimers) > max(b["row"] for b in bands if b["ladder"])
    with pytest.raises(ValueError, match="ladder_masses"):
        make_gel(1, ladder_sizes=SIZES, ladder_masses=[1.0, 2.0])
