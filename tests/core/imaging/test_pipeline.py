"""prepare_image: polarity, deskew, saturation carried through rotation, strips, lanes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from assaykit.errors import AnalysisError, ImageError
from assaykit.imaging.io import load_image
from assaykit.imaging.pipeline import PreparedImage, prepare_image
from assaykit.imaging.synthetic import SyntheticImage, make_blot


def _write(tmp_path: Path, syn: SyntheticImage, name: str = "blot.tif") -> Path:
    path = tmp_path / name
    tifffile.imwrite(path, syn.image)
    return path


def _centres(p: PreparedImage, strip: int = 0) -> list[float]:
    return [ln.center for ln in p.strips[strip].lanes.lanes]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"rotation_deg": 3.5},
        {"rotation_deg": -4.5, "illumination": 1500},
        {"invert": True, "bit_depth": 8, "smile_px": 6},
    ],
)
def test_polarity_rotation_and_lanes(tmp_path: Path, kwargs: dict) -> None:
    syn = make_blot(31, **kwargs)
    p = prepare_image(_write(tmp_path, syn))
    assert p.polarity == syn.truth["polarity"]
    # a smile biases the gradient-based angle a little (0.23 deg here)
    assert p.rotation_deg == pytest.approx(-syn.truth["rotation_deg"], abs=0.3)
    assert len(p.strips) == 1 and p.strips[0].rows == (0, syn.truth["shape"][0])
    np.testing.assert_allclose(_centres(p), [t["center"] for t in syn.truth["lanes"]], atol=2.5)
    assert p.low_bit_depth == (syn.truth["bit_depth"] == 8)
    assert not p.lossy and p.source_format == "tiff"
    # bands bright after normalisation: the band rows are above the background
    band = syn.truth["bands"][0]
    lane = p.strips[0].lanes.lanes[band["lane"]]
    col = int(lane.center)
    row = round(band["row_observed"])
    assert p.detect[row, col] > 10 * syn.truth["noise_sigma"]


def test_saturation_mask_survives_rotation(tmp_path: Path) -> None:
    bands = [[(0.3, 1.0e6), (0.7, 9.0e6)] for _ in range(4)]
    syn = make_blot(32, n_lanes=4, bands=bands, peak_scale=80000.0, rotation_deg=3.0)
    p = prepare_image(_write(tmp_path, syn))
    assert p.rotation_deg == pytest.approx(-3.0, abs=0.2)
    raw_sat = int(np.count_nonzero(syn.image >= 65535))
    assert raw_sat > 0
    # conservative: never fewer saturated pixels after rotation than before
    assert int(np.count_nonzero(p.saturated)) >= raw_sat
    for t in syn.truth["bands"]:
        lane = p.strips[0].lanes.lanes[t["lane"]]
        row = round(t["row_observed"])
        box = p.saturated[row - 3 : row + 4, int(lane.left) : int(lane.right)]
        assert bool(box.any()) == t["saturated"]


def test_two_strips_with_lane_counts(tmp_path: Path) -> None:
    syn = make_blot(33, n_strips=2, height=640, n_lanes=6)
    p = prepare_image(_write(tmp_path, syn), expected_lanes=[6, None])
    assert len(p.strips) == 2
    for s, (a, b) in zip(p.strips, syn.truth["strips"]):
        assert abs(s.start - a) <= 2 and abs(s.stop - b) <= 2
        assert len(s.lanes.lanes) == 6 and not s.lane_count_mismatch
    assert p.strips[0].expected_lanes == 6 and p.strips[1].expected_lanes is None
    assert p.strip(2).lane(1).index == 0
    with pytest.raises(IndexError):
        p.strip(3)
    with pytest.raises(IndexError):
        p.strip(1).lane(7)


def test_expected_lanes_is_used_and_mismatch_reported(tmp_path: Path) -> None:
    bands = [[(0.4, 2.0e6)] if i not in (1, 4) else [] for i in range(7)]
    syn = make_blot(34, n_lanes=7, bands=bands)
    path = _write(tmp_path, syn)
    free = prepare_image(path)
    assert free.strips[0].detected_lane_count == 5
    fixed = prepare_image(path, expected_lanes=7)
    s = fixed.strips[0]
    assert len(s.lanes.lanes) == 7 and s.detected_lane_count == 5 and s.lane_count_mismatch
    np.testing.assert_allclose(_centres(fixed), [t["center"] for t in syn.truth["lanes"]], atol=2.5)
    at_least = prepare_image(path, min_lanes=7).strips[0]
    assert len(at_least.lanes.lanes) == 7 and at_least.lane_count_mismatch
    assert at_least.expected_lanes is None and at_least.min_lanes == 7
    enough = prepare_image(path, min_lanes=4).strips[0]
    assert len(enough.lanes.lanes) == 5 and not enough.lane_count_mismatch


def test_given_polarity_rotation_strips_and_background(tmp_path: Path) -> None:
    syn = make_blot(35, invert=True)
    img = load_image(_write(tmp_path, syn))
    p = prepare_image(
        img,
        polarity="dark_bands_on_light",
        rotation_deg=0.0,
        strips=[(0, 240), (240, 480)],
        background="none",
    )
    assert p.polarity_rule == "given by caller" and p.rotation_deg == 0.0
    assert [s.rows for s in p.strips] == [(0, 240), (240, 480)]
    assert p.background.method == "none"
    np.testing.assert_array_equal(p.detect, p.data)
    desc = p.describe()
    assert desc["background"]["method"] == "none" and len(desc["strips"]) == 2


def test_rolling_ball_spec_names_radius_and_scale(tmp_path: Path) -> None:
    syn = make_blot(36, bit_depth=8)
    p = prepare_image(_write(tmp_path, syn), background_radius=30.0)
    assert p.background.method == "rolling_ball"
    assert p.background.params["radius"] == 30.0
    assert p.background.params["intensity_scale"] == pytest.approx(65535.0 / 255.0)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 20)
    with pytest.raises(ImageError, match=r"broken\.tif"):
        prepare_image(bad)
    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, np.full((80, 120), 1000, np.uint16))
    with pytest.raises(AnalysisError, match=r"flat.tif.*no lanes"):
        prepare_image(flat)
    with pytest.raises(AnalysisError, match="strip rows"):
        prepare_image(_write(tmp_path, make_blot(37)), strips=[(0, 1)])


def test_min_strips_finds_a_shallow_gap_under_strong_illumination(tmp_path: Path) -> None:
    syn = make_blot(40, n_strips=2, height=640, illumination=5000.0)
    path = _write(tmp_path, syn)
    assert len(prepare_image(path).strips) == 1  # the gap is shallow next to the glow
    p = prepare_image(path, min_strips=2)
    assert len(p.strips) == 2 and any("gap depth" in n for n in p.notes)
    for s, (a, b) in zip(p.strips, syn.truth["strips"]):
        assert abs(s.start - a) <= 3 and abs(s.stop - b) <= 3


def test_faint_lanes_beside_a_saturated_one_count_as_found(tmp_path: Path) -> None:
    vols = [1.0e6, 2.0e6, 60.0e6, 1.5e6, 0.8e6, 1.2e6]
    syn = make_blot(39, n_lanes=6, bands=[[(0.5, v)] for v in vols], rotation_deg=3.0)
    path = _write(tmp_path, syn)
    assert prepare_image(path).strips[0].detected_lane_count < 6  # one lane outshines the rest
    s = prepare_image(path, min_lanes=6).strips[0]
    assert len(s.lanes.lanes) == 6 and s.detected_lane_count == 6 and not s.lane_count_mismatch
    np.testing.assert_allclose(
        [ln.center for ln in s.lanes.lanes], [t["center"] for t in syn.truth["lanes"]], atol=2.5
    )
