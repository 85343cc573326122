"""Lanes from a fitted grid: touching bands, empty lanes, marks, two tilted membranes,
and the lab's own geometry. Truth is the generator's (make_blot), never our output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from assaykit.imaging.lanegrid import check_lanes, fit_lane_grid, membrane_span
from assaykit.imaging.marks import find_marks
from assaykit.imaging.pipeline import prepare_image
from assaykit.imaging.synthetic import make_blot


def _write(tmp_path: Path, image: np.ndarray, name: str = "blot.tif") -> Path:
    path = tmp_path / name
    tifffile.imwrite(path, image)
    return path


def _centres(strip) -> list[float]:  # type: ignore[no-untyped-def]
    return [ln.center for ln in strip.lane_list]


def _invariants(strip, width: int) -> None:  # type: ignore[no-untyped-def]
    lanes = strip.lane_list
    problems = check_lanes(
        [ln.left for ln in lanes], [ln.center for ln in lanes], [ln.right for ln in lanes],
        (0.0, float(width)),
    )  # fmt: skip
    assert not problems, problems


@pytest.mark.parametrize("n_lanes", [6, 9, 12])
def test_touching_bands_place_every_lane(tmp_path: Path, n_lanes: int) -> None:
    """A loading-control row with no valley between lanes: the grid comes from its ends."""
    w = 700
    pitch = 0.84 * w / n_lanes
    rng = np.random.default_rng(n_lanes)
    bands = [[(0.5, float(v), 6.0)] for v in rng.uniform(2e5, 6e5, n_lanes)]
    syn = make_blot(n_lanes, width=w, n_lanes=n_lanes, lane_width=pitch, bands=bands)
    p = prepare_image(_write(tmp_path, syn.image), expected_lanes=n_lanes, deskew=False)
    s = p.strips[0]
    truth = [t["center"] for t in syn.truth["lanes"]]
    np.testing.assert_allclose(_centres(s), truth, atol=0.1 * pitch)
    _invariants(s, w)
    assert not [f for f in p.findings if f[1] == "fail"]


def test_empty_lanes_are_carried_by_their_neighbours(tmp_path: Path) -> None:
    bands = [[(0.45, 8e5)] if i not in (0, 3, 4, 8) else [] for i in range(9)]
    syn = make_blot(5, n_lanes=9, bands=bands)
    p = prepare_image(_write(tmp_path, syn.image), expected_lanes=9)
    s = p.strips[0]
    # empty lanes at both ends are extrapolated from the grid: within a tenth of the pitch
    pitch = syn.truth["lane_pitch"]
    np.testing.assert_allclose(
        _centres(s), [t["center"] for t in syn.truth["lanes"]], atol=0.1 * pitch
    )
    _invariants(s, syn.image.shape[1])
    assert s.detected_lane_count == 5 and s.lane_count_mismatch  # 5 lanes show signal


def test_grid_never_overlaps_on_noise() -> None:
    """Whatever the profile, the lanes keep their order, width and span."""
    rng = np.random.default_rng(3)
    for trial in range(20):
        prof = rng.normal(0, 1, 400) + (rng.uniform(0, 50) if trial % 2 else 0)
        prof[rng.integers(0, 400, 5)] += rng.uniform(0, 200, 5)  # spikes
        n = int(rng.integers(2, 25))
        g = fit_lane_grid(prof, n, noise=1.0, compress=True)
        left, right = g.edges()
        assert not check_lanes(list(left), list(g.centers), list(right), (0.0, 400.0))


def test_dust_and_lane_numbers_are_not_lanes_nor_tilt(tmp_path: Path) -> None:
    """Specks and digits on a straight blot: no deskew, lanes where the truth is."""
    import cv2

    syn = make_blot(11, n_lanes=6, height=480, width=640)
    img = syn.image.astype(np.float64)
    rng = np.random.default_rng(0)
    for _ in range(40):
        y, x = int(rng.integers(5, 475)), int(rng.integers(5, 635))
        cv2.circle(img, (x, y), int(rng.integers(1, 3)), 60000.0, -1)
    text = np.zeros(img.shape, np.uint8)
    for i, t in enumerate(syn.truth["lanes"]):
        cv2.putText(text, str(i + 1), (int(t["center"]) - 8, 470), cv2.FONT_HERSHEY_SIMPLEX,
                    0.8, 255, 2)  # fmt: skip
    img[text > 0] = 40000.0
    path = _write(tmp_path, np.clip(img, 0, 65535).astype(np.uint16))
    p = prepare_image(path, expected_lanes=6)
    assert abs(p.rotation_deg) < 0.3
    np.testing.assert_allclose(
        _centres(p.strips[0]), [t["center"] for t in syn.truth["lanes"]], atol=3.0
    )
    assert any("marks masked" in n for n in p.notes)


def test_find_marks_keeps_bands() -> None:
    syn = make_blot(12, n_lanes=6)
    img = syn.image.astype(np.float32) - float(syn.truth["background"])
    assert find_marks(img).count == 0
    img2 = img.copy()
    img2[100:103, 20:400] = 30000.0  # a thin pen line across the blot
    img2[19:22, 319:322] = 60000.0  # a speck between lanes 3 and 4, above the bands
    marks = find_marks(img2)
    kinds = sorted(k for k, *_ in marks.boxes)
    assert "speck" in kinds
    # no band pixel is masked: every band's peak row stays unmasked in its lane
    for b in syn.truth["bands"]:
        lane = syn.truth["lanes"][b["lane"]]
        assert not marks.mask[round(b["row"]), int(lane["center"])]


def test_membrane_span_stops_at_a_sharp_edge() -> None:
    syn = make_blot(13, n_lanes=6, noise_sigma=5.0)
    img = syn.image.astype(np.float64)
    img[:, :50] = 20000.0  # a bright tray beside the membrane
    img[:, 600:] = 50.0  # dark outside
    lo, hi = membrane_span(img)
    assert 48 <= lo <= 53 and 598 <= hi <= 602


def test_two_membranes_with_their_own_tilt(tmp_path: Path) -> None:
    """Two strips laid down separately: the lower one tilted by 2 degrees, the upper flat."""
    top = make_blot(21, n_lanes=8, height=300, width=640)
    low = make_blot(22, n_lanes=8, height=300, width=640, rotation_deg=2.0)
    gap = np.full((60, 640), 200, np.uint16)
    img = np.vstack([top.image, gap, low.image])
    p = prepare_image(_write(tmp_path, img), expected_lanes=8, min_strips=2)
    assert len(p.strips) == 2
    s1, s2 = p.strips
    assert abs(s1.rotation_deg) < 0.5 and abs(s2.rotation_deg + 2.0) < 0.5
    for s, syn in ((s1, top), (s2, low)):
        _invariants(s, 640)
        np.testing.assert_allclose(_centres(s), [t["center"] for t in syn.truth["lanes"]], atol=4.0)


def test_two_gel_rows_without_a_gap_are_cut_at_quiet_rows(tmp_path: Path) -> None:
    bands = [[(0.3, 9e5), (0.5, 6e5)] for _ in range(6)]
    syn = make_blot(23, n_lanes=6, height=600, n_strips=2, strip_gap=40, gap_level=800.0,
                    bands=bands)  # fmt: skip
    p = prepare_image(_write(tmp_path, syn.image), min_strips=2, expected_lanes=6)
    assert len(p.strips) == 2
    for s, (a, b) in zip(p.strips, syn.truth["strips"]):
        # each strip holds its own bands
        rows = [t["row"] for t in syn.truth["bands"] if a <= t["row"] < b]
        assert all(s.start <= r < s.stop for r in rows)


def test_given_lane_span_wins(tmp_path: Path) -> None:
    syn = make_blot(24, n_lanes=7)
    truth = [t["center"] for t in syn.truth["lanes"]]
    p = prepare_image(
        _write(tmp_path, syn.image), expected_lanes=7, lane_span=[(truth[0], truth[-1])]
    )
    s = p.strips[0]
    assert s.source == "given" and s.lanes.method == "lane span given"
    np.testing.assert_allclose(_centres(s), truth, atol=1.0)
    p2 = prepare_image(_write(tmp_path, syn.image, "b.tif"), lane_centers=[truth])
    np.testing.assert_allclose(_centres(p2.strips[0]), truth, atol=1.0)


def test_missing_strip_is_a_fail_finding(tmp_path: Path) -> None:
    syn = make_blot(25, n_lanes=6)
    p = prepare_image(_write(tmp_path, syn.image), min_strips=3)
    flags = [f for f in p.findings if f[0] == "strip_not_found"]
    assert flags and flags[0][1] == "fail" and "blot.tif" in flags[0][2]


def test_without_a_count_the_comb_fills_empty_lanes_between(tmp_path: Path) -> None:
    """No lane count: the pitch from the profile's repeat, the empty lanes between loaded
    ones placed; none invented beyond the outermost loaded lanes."""
    bands = [[(0.45, 8e5)] if i not in (0, 3, 6) else [] for i in range(9)]
    syn = make_blot(31, n_lanes=9, bands=bands)
    p = prepare_image(_write(tmp_path, syn.image))
    s = p.strips[0]
    truth = [t["center"] for t in syn.truth["lanes"]][1:]  # lane 1 is empty: not knowable
    assert len(s.lane_list) == 8
    np.testing.assert_allclose(_centres(s), truth, atol=0.1 * syn.truth["lane_pitch"])
    _invariants(s, syn.image.shape[1])
