"""The hand annotations of the real gels, and the scorer that uses them.

``tests/data/real_gels/annotations.json`` was made by eye (its ``_about``
entry says how). These tests hold it to what can be checked without our
imaging code: its own consistency, the image files it describes, the
person-drawn GelGenie masks (every drawn band must sit on an annotated lane
that is marked as holding bands), and the pixels (lanes marked as holding
bands carry more signal than lanes marked empty). The scorer in
``helpers.realgels`` is then checked on prepared images built from the
annotation itself, where the right score is known.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import tifffile
from assaykit.imaging.background import BackgroundSpec
from assaykit.imaging.geometry import Lane, LaneDetection
from assaykit.imaging.pipeline import PreparedImage, Strip
from helpers.realgels import (
    AnnotationError,
    MaskComponent,
    excluded,
    lane_x,
    lanes_with_mask_bands,
    load_annotations,
    mask_band_boxes,
    mask_band_lanes,
    mask_components,
    mask_path_for,
    nearest_lane,
    pitch,
    score_image,
    shared_data_root,
    strip_of_row,
)
from scipy.ndimage import gaussian_filter1d

ANN = load_annotations()
KEYS = sorted(ANN)
LABELLED = [k for k in KEYS if k.startswith("gels-gelgenie-labelled/")]


def _image(shared_data: Path, key: str) -> np.ndarray:
    """Grey pixels read straight from the file (not through assaykit)."""
    path = shared_data / key
    arr: Any
    if path.suffix == ".tif":
        arr = tifffile.imread(path)
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    arr = arr.astype(np.float32)
    return arr[..., :3].mean(axis=-1) if arr.ndim == 3 else arr


# -- the annotation file itself --------------------------------------------------------------


def test_every_real_gel_image_is_annotated(shared_data: Path) -> None:
    images = {
        p.relative_to(shared_data).as_posix()
        for folder in ("gels-gelgenie", "gels-gelgenie-labelled", "gels-other")
        for p in (shared_data / folder).iterdir()
        if p.suffix in (".jpg", ".png", ".tif") and not p.stem.endswith("_mask")
    }
    assert set(KEYS) == images
    assert len(LABELLED) == 12
    assert all(mask_path_for(k, shared_data) is not None for k in LABELLED)


def test_about_says_how_and_the_conventions() -> None:
    about = load_annotations(include_about=True)["_about"]
    assert "by eye" in about["how"] and "mask" in about["how"]
    for field in ("strips", "lanes", "lane_slope", "lanes_with_bands", "faint_band_lanes"):
        assert field in about["conventions"]


def test_malformed_annotations_name_the_file_entry_and_field(tmp_path: Path) -> None:
    entry = json.loads(json.dumps(ANN[KEYS[0]]))
    entry["strips"][0]["lanes_with_bands"] = [0, 2]
    bad = tmp_path / "annotations.json"
    bad.write_text(json.dumps({KEYS[0]: entry}), encoding="utf-8")
    with pytest.raises(AnnotationError) as err:
        load_annotations(bad)
    msg = str(err.value)
    assert str(bad) in msg and KEYS[0] in msg and "strip 1" in msg and "lanes_with_bands" in msg
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(AnnotationError, match="cannot read"):
        load_annotations(bad)


def test_shared_data_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAYKIT_SHARED_DATA", "/somewhere/else")
    assert shared_data_root() == Path("/somewhere/else")
    monkeypatch.delenv("ASSAYKIT_SHARED_DATA")
    assert shared_data_root() == Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.mark.parametrize("key", KEYS)
def test_strips_and_lanes_are_consistent_with_the_image(shared_data: Path, key: str) -> None:
    a = ANN[key]
    h, w = _image(shared_data, key).shape
    assert abs(a["tilt_deg"]) <= 5
    prev_stop = 0
    for s in a["strips"]:
        r0, r1 = s["rows"]
        assert 0 <= r0 < r1 <= h
        assert r0 >= prev_stop, "strips overlap or are not top first"
        prev_stop = r1
        assert r1 - r0 >= 200, "a gel row this short is a typo"
        assert r0 <= s["lanes_y"] < r1
        if s["wells_row"] is not None:
            assert r0 <= s["wells_row"] < r0 + 40, "the strip starts at its wells"
        lanes = s["lanes"]
        assert all(b > a_ for a_, b in itertools.pairwise(lanes)), "lanes not strictly increasing"
        for y in (r0, r1 - 1):
            xs = [lane_x(s, i + 1, y) for i in range(len(lanes))]
            assert xs[0] >= 0 and xs[-1] < w
        gaps = np.diff(lanes)
        p = pitch(s)
        assert gaps.min() >= 0.6 * p and gaps.max() <= 1.5 * p, f"irregular lane spacing {gaps}"
        assert abs(s["lane_slope"]) <= np.tan(np.radians(5))


@pytest.mark.parametrize("key", KEYS)
def test_lane_sets_are_consistent(key: str) -> None:
    for s in ANN[key]["strips"]:
        bands, faint, ladder = (
            set(s["lanes_with_bands"]),
            set(s["faint_band_lanes"]),
            set(s["ladder_lanes"]),
        )
        assert not bands & faint
        assert ladder <= bands
        assert len(s["lanes_with_bands"]) == len(bands)


@pytest.mark.parametrize("key", KEYS)
def test_polarity_matches_the_pixels(shared_data: Path, key: str) -> None:
    # a gel photograph is mostly background: its median says which way round it is
    median = float(np.median(_image(shared_data, key)))
    if ANN[key]["polarity"] == "light_bands_on_dark":
        assert median < 128
    else:
        assert median > 128


def _lane_signal(g: np.ndarray, s: dict[str, Any]) -> list[float]:
    """Peak of each lane's row profile (central 40 % of the pitch) of the top-hat image."""
    th = cv2.morphologyEx(g, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (61, 61)))
    r0, r1 = s["rows"]
    y0 = r0 if s["wells_row"] is None else int(s["wells_row"]) + 25  # well glow
    y1 = r1 - 15  # gel edge glow
    half = 0.2 * pitch(s)
    out = []
    for i in range(len(s["lanes"])):
        prof = []
        for y in range(y0, y1):
            x = lane_x(s, i + 1, y)
            c0, c1 = max(0, round(x - half)), max(1, round(x + half) + 1)
            prof.append(float(th[y, c0:c1].mean()))
        out.append(float(gaussian_filter1d(np.array(prof), 3).max()))
    return out


@pytest.mark.parametrize("key", KEYS)
def test_lanes_with_bands_carry_more_signal_than_empty_lanes(shared_data: Path, key: str) -> None:
    g = _image(shared_data, key)
    if ANN[key]["polarity"] == "dark_bands_on_light":
        g = g.max() - g
    for k, s in enumerate(ANN[key]["strips"]):
        sig = _lane_signal(g, s)
        pos = [sig[i - 1] for i in s["lanes_with_bands"]]
        empty = [
            sig[i]
            for i in range(len(sig))
            if i + 1 not in s["lanes_with_bands"] and i + 1 not in s["faint_band_lanes"]
        ]
        if len(empty) < 2 or not pos:
            continue
        floor = float(np.median(empty))
        weak = [n for n, v in zip(s["lanes_with_bands"], pos) if v < 1.4 * floor]
        assert not weak, f"strip {k + 1}: lanes {weak} marked with bands look empty"
        loaded = max(2.5 * floor, 0.5 * min(pos))
        strong = [
            i + 1
            for i, v in enumerate(sig)
            if v > loaded and i + 1 not in s["lanes_with_bands"] + s["faint_band_lanes"]
        ]
        assert not strong, f"strip {k + 1}: lanes {strong} marked empty look loaded"


# -- against the person-drawn masks ----------------------------------------------------------


@pytest.mark.parametrize("key", LABELLED)
def test_every_mask_band_sits_on_an_annotated_lane(shared_data: Path, key: str) -> None:
    a = ANN[key]
    mask = mask_path_for(key, shared_data)
    assert mask is not None
    comps = mask_components(mask)
    assert len(comps) >= 10
    for c in comps:
        if excluded(a, c):
            continue
        k = strip_of_row(a, c.cy)
        assert k is not None, f"mask band at {c.box} is outside every strip"
        s = a["strips"][k - 1]
        _, y0, _, y1 = c.box
        assert s["rows"][0] <= y0 and y1 <= s["rows"][1], f"band {c.box} crosses strip edge"
        lane, dx = nearest_lane(s, c.cx, c.cy)
        assert abs(dx) <= pitch(s) / 2, f"band {c.box}: {dx:.1f} px from lane {lane}"


@pytest.mark.parametrize("key", LABELLED)
def test_mask_exclusions_are_few_small_and_used(shared_data: Path, key: str) -> None:
    a = ANN[key]
    comps = mask_components(mask_path_for(key, shared_data))  # type: ignore[arg-type]
    out = [c for c in comps if excluded(a, c)]
    assert len(out) == len(a.get("mask_exclude", []))
    assert all(c.area < 100 for c in out)


@pytest.mark.parametrize("key", LABELLED)
def test_mask_band_lanes_are_annotated_as_holding_bands(shared_data: Path, key: str) -> None:
    a = ANN[key]
    mask = mask_path_for(key, shared_data)
    assert mask is not None
    per_strip = mask_band_lanes(a, mask)
    for k, s in enumerate(a["strips"]):
        ml = lanes_with_mask_bands(a, mask, strip=k + 1)
        assert ml == per_strip[k + 1]
        assert ml, f"strip {k + 1}: the mask marks no band at all"
        assert ml <= set(s["lanes_with_bands"])
        assert set(s["ladder_lanes"]) <= ml, "every ladder is drawn in the masks"


@pytest.mark.parametrize("key", LABELLED)
def test_lane_centres_follow_the_mask_bands(shared_data: Path, key: str) -> None:
    a = ANN[key]
    comps = mask_components(mask_path_for(key, shared_data))  # type: ignore[arg-type]
    for k, s in enumerate(a["strips"]):
        by_lane: dict[int, list[tuple[float, int]]] = {}
        for c in comps:
            if strip_of_row(a, c.cy) == k + 1 and not excluded(a, c):
                lane, dx = nearest_lane(s, c.cx, c.cy)
                by_lane.setdefault(lane, []).append((dx, c.area))
        for lane, v in by_lane.items():
            dx = np.average([d for d, _ in v], weights=[w for _, w in v])
            assert abs(dx) <= 3.0, f"strip {k + 1} lane {lane}: bands centred {dx:.1f} px off"


# -- the helpers on inputs with a known answer -----------------------------------------------


def test_mask_band_boxes_drop_specks_and_give_half_open_boxes() -> None:
    m = np.zeros((60, 80), np.uint8)
    m[10:20, 5:25] = 255
    m[40:44, 50:70] = 255
    m[2:5, 70:73] = 255  # 9 px speck
    assert mask_band_boxes(m) == [(5, 10, 25, 20), (50, 40, 70, 44)]
    assert len(mask_band_boxes(m, min_area=1)) == 3


def test_lanes_with_mask_bands_follow_a_slanted_lane() -> None:
    ann = {
        "strips": [
            {"rows": [0, 100], "lanes": [20.0, 50.0, 80.0], "lanes_y": 50, "lane_slope": 0.2},
            {"rows": [100, 200], "lanes": [20.0, 50.0, 80.0], "lanes_y": 150, "lane_slope": 0.0},
        ]
    }
    m = np.zeros((200, 110), np.uint8)
    m[88:92, 54:64] = 255  # x 59 at y 90: lane 2 of strip 1 runs at x 58 there, lane 3 at 88
    m[140:146, 15:25] = 255  # strip 2, lane 1
    m[150:152, 79:81] = 255  # 4 px: ignored
    assert lanes_with_mask_bands(ann, m, strip=1) == {2}
    assert lanes_with_mask_bands(ann, m, strip=2) == {1}
    assert mask_band_lanes(ann, [MaskComponent((0, 0, 1, 1), 30, 79.0, 20.0)]) == {1: {3}, 2: set()}


def _prepared_from(
    a: dict[str, Any], shape: tuple[int, int], shift: float = 0.0, angle: float = 0.0
) -> PreparedImage:
    """A prepared image whose strips and lanes are the annotation's own (in the prepared frame
    of a rotation by ``angle``), lanes moved by ``shift`` px."""
    h, w = shape
    pivot = (w / 2.0, h / 2.0)
    ang = np.radians(-angle)
    c, s_ = np.cos(ang), np.sin(ang)
    strips = []
    for k, st in enumerate(a["strips"]):
        y = float(st["lanes_y"])
        lanes = []
        for i in range(len(st["lanes"])):
            dx, dy = lane_x(st, i + 1, y) + shift - pivot[0], y - pivot[1]
            xp = pivot[0] + c * dx - s_ * dy  # file -> prepared: rotate back
            half = 0.4 * pitch(st) if len(st["lanes"]) > 1 else 20.0
            lanes.append(Lane(i, xp, xp - half, xp + half))
        det = LaneDetection(lanes, pitch(st), 0.8 * pitch(st), np.zeros(w), "test")
        r0, r1 = st["rows"]
        strips.append(Strip(k, r0, r1, det, None, len(lanes), None, None, angle, pivot))
    z = np.zeros(shape, np.float32)
    return PreparedImage(
        "test",
        z,
        z,
        np.zeros(shape, bool),
        255.0,
        "light_bands_on_dark",
        "given",
        angle,
        strips,
        BackgroundSpec("none"),
        "test",
        8,
        None,
        False,
    )


def _truth_finder(a: dict[str, Any]) -> Any:
    """Band finder answering from the annotation: bands exactly in lanes_with_bands."""

    def finder(prepared: PreparedImage, strip: Strip, lane: Lane) -> bool:
        return lane.index + 1 in a["strips"][strip.index]["lanes_with_bands"]

    return finder


@pytest.mark.parametrize("angle", [0.0, 2.5])
def test_score_is_perfect_for_the_annotation_itself(angle: float) -> None:
    key = "gels-gelgenie-labelled/Pair_2and3_Wk9_GelRed.jpg"
    a = ANN[key]
    p = _prepared_from(a, (1024, 1360), angle=angle)
    r = score_image(a, p, band_finder=_truth_finder(a))
    assert r["strips_found"] == r["strips_annotated"] == 2
    assert r["match_fraction"] == 1.0 and r["lanes_matched"] == 30
    assert all(s["median_abs_dx"] < 0.05 for s in r["strips"])
    assert r["band_recall"] == 1.0 and r["band_precision"] == 1.0


def test_score_counts_misplaced_lanes_and_wrong_bands() -> None:
    key = "gels-gelgenie-labelled/Pair_2and3_Wk9_GelRed.jpg"
    a = ANN[key]
    p_far = _prepared_from(a, (1024, 1360), shift=0.3 * pitch(a["strips"][0]))
    assert score_image(a, p_far, band_finder=None)["match_fraction"] == 0.0
    p_near = _prepared_from(a, (1024, 1360), shift=0.2 * pitch(a["strips"][0]))
    assert score_image(a, p_near, band_finder=None)["match_fraction"] == 1.0

    def every_lane(prepared: PreparedImage, strip: Strip, lane: Lane) -> bool:
        return True

    r = score_image(a, _prepared_from(a, (1024, 1360)), band_finder=every_lane)
    top = r["strips"][0]["bands"]
    # top strip: 7 lanes with bands, lane 3 faint (not judged), 7 empty lanes
    assert (top["tp"], top["fp"], top["fn"]) == (7, 7, 0)
    assert top["precision"] == 0.5 and top["recall"] == 1.0


def test_score_assigns_strips_by_overlap_and_reports_missing_ones() -> None:
    key = "gels-gelgenie-labelled/Pair_8and9_Wk9_GelRed.jpg"
    a = ANN[key]
    one = json.loads(json.dumps(a))
    one["strips"] = one["strips"][1:]  # the pipeline "found" only the bottom gel
    p = _prepared_from(one, (1024, 1360))
    r = score_image(a, p, band_finder=None)
    assert r["strips_found"] == 1
    assert r["strips"][0]["found_strip"] is None and r["strips"][0]["match_fraction"] == 0.0
    assert r["strips"][1]["found_strip"] == 1 and r["strips"][1]["match_fraction"] == 1.0
    assert r["match_fraction"] == 14 / 28
