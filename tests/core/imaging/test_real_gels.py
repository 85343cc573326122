"""The real GelGenie gels: physical facts, no labels needed.

``ladder_reference_gel.tif`` holds the same NEB 1 kb Plus ladder in four lanes,
so: exactly 4 lanes; the same bands at the same (registered) positions in every
lane; equal relative volumes per size (CV reported); a 3.0 kb : 1.5 kb mass
ratio of about 2.1 (ImageJ 2.083, GelAnalyzer 2.04); and sizes read from a
lane-1 calibration must come back right in lanes 2-4.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from assaykit.imaging.background import rolling_ball_background
from assaykit.imaging.bands import Band, find_bands
from assaykit.imaging.geometry import (
    LaneDetection,
    LaneRegistration,
    estimate_rotation,
    find_lanes,
    register_lanes,
    rotate_image,
)
from assaykit.imaging.io import load_image, normalize_polarity
from assaykit.imaging.ladder import (
    NEB_1KB_PLUS_BP,
    NEB_1KB_PLUS_REFERENCE_BP,
    LadderFit,
    fit_ladder,
    reference_masses,
)


@dataclass
class GelResult:
    angle: float
    lanes: LaneDetection
    bands: list[list[Band]]
    fits: list[LadderFit]
    registration: list[LaneRegistration]


@pytest.fixture(scope="module")
def ladder_gel(gelgenie: Path) -> GelResult:
    img = load_image(gelgenie / "ladder_reference_gel.tif")
    norm = normalize_polarity(img)
    angle = estimate_rotation(norm.data)
    data = rotate_image(norm.data, angle)
    lanes = find_lanes(data)
    scale = 65535.0 / norm.saturation_value
    bg = rolling_ball_background(data * scale, 50.0)
    detect = bg.subtract(data * scale) / scale
    masses = reference_masses(NEB_1KB_PLUS_BP, NEB_1KB_PLUS_REFERENCE_BP)
    bands, fits = [], []
    for lane in lanes.lanes:
        # Crowded ladder lanes: ImageJ's way (rolling ball, then valley-to-valley
        # drop lines, no further baseline); see find_bands for the alternatives.
        b = find_bands(
            detect, lane, saturated=data >= norm.saturation_value, neighbours=lanes.lanes,
            background=bg.spec, volume_baseline="none",
        )  # fmt: skip
        bands.append(b)
        fits.append(
            fit_ladder(
                [x.row for x in b],
                NEB_1KB_PLUS_BP,
                volumes=[x.volume for x in b],
                masses=masses,
                model="piecewise",
            )
        )
    rows = (int(min(x.top for x in bands[0])) - 10, int(max(x.bottom for x in bands[0])) + 10)
    registration = register_lanes(detect, lanes.lanes, rows=rows)
    return GelResult(angle, lanes, bands, fits, registration)


def _sized(result: GelResult, lane: int) -> dict[float, Band]:
    fit, bands = result.fits[lane], result.bands[lane]
    assert fit.match is not None
    return {size: bands[i] for size, i in zip(fit.match.sizes, fit.match.position_index)}


def test_exactly_four_lanes(ladder_gel: GelResult) -> None:
    lanes = ladder_gel.lanes.lanes
    assert len(lanes) == 4
    pitch = np.diff([ln.center for ln in lanes])
    assert pitch.std() < 0.02 * pitch.mean()  # one comb: equal spacing
    assert abs(ladder_gel.angle) < 1.0


def test_same_bands_at_same_positions(ladder_gel: GelResult) -> None:
    per_lane = [_sized(ladder_gel, i) for i in range(4)]
    common = sorted(set.intersection(*(set(d) for d in per_lane)), reverse=True)
    # 19 sizes; 0.9, 0.8 and 0.6 kb are not resolved as separate peaks in every lane
    assert len(common) >= 16
    counts = [len(b) for b in ladder_gel.bands]
    assert max(counts) - min(counts) <= 1
    spreads = []
    for size in common:
        registered = [
            reg.to_reference(per_lane[i][size].row) for i, reg in enumerate(ladder_gel.registration)
        ]
        spreads.append(np.ptp(registered))
    print(
        "registered position spread per size (px):",
        {s: round(float(v), 2) for s, v in zip(common, spreads)},
    )
    # px, after registering each lane onto lane 1; the 0.1 kb band of lane 4 is
    # notched (visible in the image), so its peak sits ~3 px off.
    assert max(v for s, v in zip(common, spreads) if s != 100.0) < 2.0
    assert max(spreads) < 4.0
    raw = np.array([[per_lane[i][s].row for s in common] for i in range(4)])
    assert np.ptp(raw, axis=0).max() < 10.0  # px, even without registration


def test_relative_volume_cv_per_size(ladder_gel: GelResult) -> None:
    per_lane = [_sized(ladder_gel, i) for i in range(4)]
    common = sorted(set.intersection(*(set(d) for d in per_lane)), reverse=True)
    rel = np.array([[d[s].volume for s in common] for d in per_lane])
    rel /= rel.sum(axis=1, keepdims=True)
    cv = rel.std(axis=0, ddof=1) / rel.mean(axis=0)
    report = {f"{s / 1000:g} kb": round(float(c) * 100, 1) for s, c in zip(common, cv)}
    print("CV of relative band volume per size (%):", report)
    assert np.median(cv) < 0.06
    assert cv.max() < 0.15


def test_three_to_one_and_a_half_kb_ratio(ladder_gel: GelResult) -> None:
    ratios = [
        d[3000.0].volume / d[1500.0].volume for d in (_sized(ladder_gel, i) for i in range(4))
    ]
    print("3.0 kb / 1.5 kb volume ratio per lane:", [round(r, 3) for r in ratios])
    assert all(1.95 < r < 2.25 for r in ratios)
    assert 2.0 < float(np.mean(ratios)) < 2.2  # expected 120/57 = 2.1; ImageJ 2.083


def test_no_band_is_saturated(ladder_gel: GelResult) -> None:
    assert not any(b.saturated for lane in ladder_gel.bands for b in lane)  # max pixel is 216 < 255


def test_sizing_lanes_2_to_4_from_lane_1(ladder_gel: GelResult) -> None:
    calibration = ladder_gel.fits[0]
    assert calibration.match is not None
    errors: dict[float, list[float]] = {}
    for lane in (1, 2, 3):
        reg = ladder_gel.registration[lane]
        for size, band in _sized(ladder_gel, lane).items():
            predicted = calibration.size_at(reg.to_reference(band.row))
            errors.setdefault(size, []).append(predicted / size - 1.0)
    worst = {f"{s / 1000:g} kb": round(max(abs(e) for e in v) * 100, 1) for s, v in errors.items()}
    print("worst sizing error per size over lanes 2-4 (%):", worst)
    above_100 = [abs(e) for s, v in errors.items() if s >= 200 for e in v]
    assert max(above_100) < 0.05
    # 0.1 kb: at the bottom of this gel 1 px is ~3 % in size and lane 4's band is notched
    assert max(abs(e) for e in errors[100.0]) < 0.10


def test_overheated_gel_is_straight_and_its_first_ladder_found(gelgenie: Path) -> None:
    """By eye (tests/data/real_gels/annotations.json) the gel is straight, with ladders in
    lanes 1 and 3 of 8; the first ladder's lane is placed on it and holds its bands."""
    from assaykit.imaging.pipeline import prepare_image

    p = prepare_image(gelgenie / "overheated_ref.tif", expected_lanes=8)
    assert p.polarity == "light_bands_on_dark"
    assert abs(p.rotation_deg) < 1.0  # annotated tilt 0
    strip = p.strips[0]
    first = strip.lane_list[0]
    assert abs(first.center - 475.0) < 76.0 / 4  # annotated centre, pitch 76 px
    bands = find_bands(
        p.data, first, detect_image=p.detect, saturated=p.saturated, rows=strip.rows,
        neighbours=strip.lane_list,
    )  # fmt: skip
    assert len(bands) >= 10  # a 1 kb Plus ladder, smeared: most of its bands stand out


@pytest.mark.xfail(
    strict=True,
    reason="known (issue 10 note): with only 2 of 8 lanes loaded the grid is compressed "
    "onto them (pitch 31 px, truth 76 px); a comb-spans-the-gel prior is not built",
)
def test_overheated_gel_second_ladder_on_lane_3(gelgenie: Path) -> None:
    from assaykit.imaging.pipeline import prepare_image

    p = prepare_image(gelgenie / "overheated_ref.tif", expected_lanes=8)
    assert abs(p.strips[0].lane_list[2].center - 627.0) < 76.0 / 4
