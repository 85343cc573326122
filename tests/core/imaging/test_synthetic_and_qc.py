"""The generator's own promises (its truth must be right for the other tests to mean
anything) and the QC figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from assaykit.imaging.bands import find_bands, lane_profile
from assaykit.imaging.geometry import find_lanes
from assaykit.imaging.qc import figure_to_png, plot_lane_profiles, plot_lanes_and_bands
from assaykit.imaging.synthetic import make_blot, make_gel


def test_seeded_and_reproducible() -> None:
    a, b = make_blot(42), make_blot(42)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.truth["bands"] == b.truth["bands"]
    assert not np.array_equal(make_blot(43).image, a.image)


def test_volume_truth_is_the_pixel_sum() -> None:
    """Noise-free, background-free, unquantised check of the analytic volume."""
    syn = make_blot(1, n_lanes=2, bands=[[(0.5, 1.0e6)], []], background=0.0, noise_sigma=0.0)
    total = float(syn.image.astype(np.float64).sum())
    assert total == pytest.approx(1.0e6, rel=0.002)  # only rounding to integers differs


def test_dtypes_inversion_and_saturation_truth() -> None:
    s8 = make_blot(2, bit_depth=8)
    assert s8.image.dtype == np.uint8 and s8.truth["saturation_value"] == 255
    inv = make_blot(2, bit_depth=8, invert=True)
    np.testing.assert_array_equal(inv.image, 255 - s8.image)
    sat = make_blot(3, peak_scale=70000.0)
    assert any(b["saturated"] for b in sat.truth["bands"]) and sat.truth["saturated_fraction"] > 0
    assert (sat.image == 65535).any()


def test_gel_truth_has_sizes() -> None:
    g = make_gel(1, samples={1: [(700.0, 1.0e4)]})
    ladder = [b for b in g.truth["bands"] if b["ladder"]]
    assert [b["bp"] for b in ladder] == sorted((b["bp"] for b in ladder), reverse=True)
    rows = [b["row"] for b in ladder]
    assert rows == sorted(rows)  # larger fragments migrate less
    assert math.isclose(next(b["bp"] for b in g.truth["bands"] if b["lane"] == 1), 700.0)


def test_qc_figures_render_to_png() -> None:
    syn = make_blot(4, n_lanes=3, peak_scale=70000.0)
    img = syn.image.astype(np.float32)
    det = find_lanes(img, expected_lanes=3)
    sat = img >= 65535
    bands = [find_bands(img, ln, saturated=sat, neighbours=det.lanes) for ln in det.lanes]
    fig = plot_lanes_and_bands(
        img, det.lanes, [b for lane in bands for b in lane], saturated=sat, title="QC"
    )
    png = figure_to_png(fig)
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    profiles = [lane_profile(img, ln, neighbours=det.lanes) for ln in det.lanes]
    png2 = figure_to_png(plot_lane_profiles(profiles, bands, title="profiles"))
    assert png2.startswith(b"\x89PNG")


def test_strip_bands_give_each_strip_its_own_bands() -> None:
    syn = make_blot(
        44, n_lanes=2, n_strips=2, height=400,
        strip_bands=[[[(0.5, 1.0e6)], []], [[], [(0.3, 2.0e6)]]],
    )  # fmt: skip
    got = [(b["strip"], b["lane"], b["volume"]) for b in syn.truth["bands"]]
    assert got == [(0, 0, 1.0e6), (1, 1, 2.0e6)]
    (a0, a1), (b0, b1) = syn.truth["strips"]
    assert a0 < syn.truth["bands"][0]["row"] < a1 and b0 < syn.truth["bands"][1]["row"] < b1
    with pytest.raises(ValueError, match="strip_bands"):
        make_blot(44, n_lanes=2, n_strips=2, strip_bands=[[[], []]])
