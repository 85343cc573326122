"""Band volumes, positions and saturation against the generator's truth."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from assaykit.imaging.assay import select_band
from assaykit.imaging.background import rolling_ball_background
from assaykit.imaging.bands import Band, find_bands, lane_profile
from assaykit.imaging.geometry import estimate_rotation, find_lanes, find_strips, rotate_image
from assaykit.imaging.io import normalize_polarity
from assaykit.imaging.synthetic import SyntheticImage, make_blot


def _measure(syn: SyntheticImage, radius: float = 50.0) -> list[tuple[dict[str, Any], Band | None]]:
    """Full pipeline: polarity, deskew, strips, lanes, rolling ball for detection, volumes."""
    norm = normalize_polarity(
        syn.image.astype(np.float32), saturation_value=syn.truth["saturation_value"]
    )
    data = norm.data
    data = rotate_image(data, estimate_rotation(data))
    saturated = data >= norm.saturation_value
    det = find_lanes(data, expected_lanes=len(syn.truth["lanes"]))
    scale = 65535.0 / norm.saturation_value  # make the ball flat relative to band heights
    bg = rolling_ball_background(data * scale, radius)
    detect = bg.subtract(data * scale) / scale
    pairs: list[tuple[dict[str, Any], Band | None]] = []
    strips = find_strips(data)
    for s, (r0, r1) in enumerate(strips):
        for lane in det.lanes:
            bands = find_bands(
                data, lane, detect_image=detect, saturated=saturated, rows=(r0, r1),
                neighbours=det.lanes, background=bg.spec,
            )  # fmt: skip
            for t in syn.truth["bands"]:
                if t["lane"] != lane.index or t["strip"] != s:
                    continue
                best = min(bands, key=lambda b: abs(b.row - t["row_observed"]), default=None)
                if best is not None and abs(best.row - t["row_observed"]) > 4:
                    best = None
                pairs.append((t, best))
    return pairs


SCENARIOS = {
    "plain": {},
    "rotated": {"rotation_deg": 3.5},
    "rotated_negative": {"rotation_deg": -4.0},
    "smiling": {"smile_px": 9},
    "inverted_film": {"invert": True},
    "uneven_illumination": {"illumination": 2000},
    "everything": {"invert": True, "illumination": 1500, "rotation_deg": -2.5, "smile_px": 6},
    "8bit": {"bit_depth": 8},
    "8bit_inverted_uneven": {"bit_depth": 8, "invert": True, "illumination": 40},
    "primer_dimer_haze": {"haze_volume": 1.5e6},
    "two_strips": {"n_strips": 2, "height": 640},
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_band_volumes_within_5_percent(name: str) -> None:
    errors = []
    for seed in (1, 2):
        syn = make_blot(seed, **SCENARIOS[name])
        for truth, band in _measure(syn):
            assert band is not None, (
                f"{name}: band at row {truth['row_observed']:.0f} lane {truth['lane']} missed"
            )
            errors.append(band.volume / truth["volume"] - 1.0)
            assert abs(band.row - truth["row_observed"]) < 1.5
            assert not band.saturated
    errors_arr = np.abs(np.array(errors))
    assert errors_arr.max() < 0.05, f"{name}: worst volume error {errors_arr.max():.1%}"


def test_relative_volumes_between_lanes() -> None:
    """What a western blot reports: ratios between lanes, here known exactly."""
    vols = [1.0e6, 2.0e6, 4.0e6, 0.5e6]
    syn = make_blot(
        5, n_lanes=4, bands=[[(0.5, v)] for v in vols], illumination=1500, rotation_deg=1.5
    )
    measured = [band.volume for _, band in _measure(syn) if band is not None]
    ratios = np.array(measured) / measured[0]
    np.testing.assert_allclose(ratios, np.array(vols) / vols[0], rtol=0.03)


def test_saturation_flagged_only_on_saturated_bands() -> None:
    bands = [[(0.3, 1.0e6), (0.7, 9.0e6)] for _ in range(4)]
    syn = make_blot(6, n_lanes=4, bands=bands, peak_scale=80000.0)  # strongest peak beyond 65535
    pairs = _measure(syn)
    for truth, band in pairs:
        assert band is not None
        assert band.saturated == truth["saturated"]
        if truth["saturated"]:
            assert 0.0 < band.saturated_fraction < 1.0
            assert band.volume < truth["volume"]  # clipped signal is lost
        else:
            assert band.saturated_fraction == 0.0
    assert any(t["saturated"] for t, _ in pairs) and not all(t["saturated"] for t, _ in pairs)


def test_saturation_on_inverted_8bit_film() -> None:
    syn = make_blot(
        7, n_lanes=3, bit_depth=8, invert=True, bands=[[(0.5, 1.0e5)]] * 3, peak_scale=400.0
    )
    for truth, band in _measure(syn):
        assert truth["saturated"] and band is not None and band.saturated


def test_records_name_the_background() -> None:
    syn = make_blot(8, n_lanes=3)
    _, band = _measure(syn)[0]
    assert band is not None
    rec = band.as_record()
    assert rec["background"]["image"]["method"] == "rolling_ball"
    assert rec["background"]["image"]["params"]["radius"] == 50.0
    assert rec["background"]["volume"]["method"] == "band_edges_linear"
    assert rec["volume_au"] == band.volume


def test_dust_and_wells_are_not_bands() -> None:
    syn = make_blot(9, n_lanes=4, bands=[[(0.5, 2.0e6)]] * 4, noise_sigma=10)
    img = syn.image.astype(np.float32)
    det = find_lanes(img, expected_lanes=4)
    lane = det.lanes[1]
    img[100:104, int(lane.center) : int(lane.center) + 3] += 20000  # a speck of dust in the lane
    img[40:46, :] += 3000  # a well line across the whole gel
    bands = find_bands(
        img, lane, detect_image=rolling_ball_background(img, 50).subtract(img), neighbours=det.lanes
    )
    rows = [round(b.row) for b in bands]
    assert len(bands) == 1 and abs(rows[0] - syn.truth["bands"][1]["row"]) < 2


def test_select_band() -> None:
    syn = make_blot(10, n_lanes=1, bands=[[(0.2, 1.0e6), (0.5, 3.0e6), (0.8, 2.0e6)]])
    img = syn.image.astype(np.float32)
    det = find_lanes(img, expected_lanes=1)
    bands = find_bands(img, det.lanes[0])
    rows = [t["row"] for t in syn.truth["bands"]]
    strongest = select_band(bands)
    assert strongest is not None and abs(strongest.row - rows[1]) < 1.5
    lower = select_band(bands, row_window=(rows[1] + 20, rows[2] + 20))
    assert lower is not None and abs(lower.row - rows[2]) < 1.5
    sized = select_band(bands, size_window=(50, 70), size_of=lambda b: b.row / 4.0)
    assert sized is not None and 50 <= sized.row / 4.0 <= 70
    assert select_band(bands, row_window=(0, 5)) is None
    nearest = select_band(bands, "nearest", target_row=rows[0] + 3)
    assert nearest is not None and abs(nearest.row - rows[0]) < 1.5


def test_lane_profile_sum_equals_image_sum() -> None:
    syn = make_blot(11, n_lanes=3)
    img = syn.image.astype(np.float32)
    det = find_lanes(img, expected_lanes=3)
    prof = lane_profile(img, det.lanes[0], baseline="none")
    assert prof.signal.sum() == pytest.approx(
        float(img[:, prof.col_start : prof.col_stop].sum()), rel=1e-6
    )
