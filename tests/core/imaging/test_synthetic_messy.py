"""The generator's real-instrument defects keep its truth exact.

Why: the messy cases are only worth anything if their labels are right. Every
check here compares the generator's truth with what the pixels say, measured
independently (noise-free renders, pixel sums, column profiles, line fits),
or with inputs the test chose itself.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from assaykit.imaging.io import load_image
from assaykit.imaging.synthetic import (
    HANDWRITING_WORDS,
    PAGERULER_KDA,
    make_blot,
    make_gel,
    rgba_opaque_mask,
    to_rgba_png_array,
)
from helpers.messy_blots import CASES, CASES_BY_NAME, render_case, write_case
from helpers.westerndata import make_case
from numpy.typing import NDArray

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# sha256 of images made by make_blot/make_gel *before* the defects were added
# (commit 540119c); the defaults must still give exactly these pixels.
BEFORE: dict[str, tuple[dict[str, Any], str]] = {
    "default": ({}, "f1e3b4c9350271e69bda9991e6c1477876868615b68f94ec9254cc4affc95a6c"),
    "8bit_inv": (
        {"bit_depth": 8, "invert": True, "illumination": 40.0},
        "a20c604d40edf1fca416e08b2f2e101c63b2574214704926319a5223a7698253",
    ),
    "rot_smile_strips": (
        {
            "n_strips": 2, "rotation_deg": 2.5, "smile_px": 6, "skew_px": 2,
            "illumination": 1500, "haze_volume": 1e5,
        },
        "ca08a083807a48031c3f5a437792c14cc27251f86cf6d391e4a61012794fb9a5",
    ),
    "peak": (
        {"peak_scale": 70000, "n_lanes": 9},
        "9b2fab17b993e309957ef4f1776042b157bd576c5086793338a4cf4370dac882",
    ),
}  # fmt: skip
GEL_BEFORE = "9812bce415793517bf890ca5b88a3c446603446ab179e3713103ce60842aed50"


def _sha(a: NDArray[Any]) -> str:
    return hashlib.sha256(a.tobytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_default_images_are_bit_identical_to_before(name: str) -> None:
    kw, want = BEFORE[name]
    assert _sha(make_blot(3, **kw).image) == want


def test_default_gel_is_bit_identical_to_before() -> None:
    g = make_gel(5, samples={1: [(500, 3e4)], 2: [(1000, 2e4, 4.0)]}, primer_dimer={1: 1e4})
    assert _sha(g.image) == GEL_BEFORE


# ----------------------------------------------------------------------------------------
# geometry computed by the test itself, from the inputs it chose


def _strip_frame(
    shape: tuple[int, int],
    strip_rows: tuple[int, int],
    global_deg: float,
    strip_deg: float,
    membrane_x: tuple[float, float],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(u, v) of every image pixel in a strip's straight frame, and the 3x3 forward map,
    from the documented rule: rotate about the strip's centre, then about the image's."""
    h, w = shape
    g = np.vstack([cv2.getRotationMatrix2D((w / 2.0, h / 2.0), global_deg, 1.0), [0, 0, 1]])
    pivot = ((membrane_x[0] + membrane_x[1]) / 2.0, (strip_rows[0] + strip_rows[1]) / 2.0)
    s = np.vstack([cv2.getRotationMatrix2D(pivot, strip_deg, 1.0), [0, 0, 1]])
    fwd = g @ s
    inv = np.linalg.inv(fwd)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
    v = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
    return u, v, fwd


TB = [[(0.45, v)] for v in np.linspace(0.5e6, 2.5e6, 10)]
LB = [[(0.55, v)] for v in np.linspace(1.6e6, 2.4e6, 10)]
BASE: dict[str, Any] = {
    "height": 640, "width": 980, "n_lanes": 10, "n_strips": 2, "strip_bands": [TB, LB],
    "background": 1200.0, "noise_sigma": 0.0, "strip_gap": 50, "float_output": True,
}  # fmt: skip
ZERO = [[[(0.45, 0.0)] for _ in range(10)], [[(0.55, 0.0)] for _ in range(10)]]


def _band_signal(kw: dict[str, Any]) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Band pixels only: the render minus the same render with every volume 0."""
    full = make_blot(11, **kw)
    empty = make_blot(11, **{**kw, "strip_bands": ZERO, "ladder_volume": 0.0})
    return full.image - empty.image, full.truth


@pytest.mark.parametrize(
    "extra",
    [
        {"band_shape": "rounded", "band_smile_px": 4.0, "smile_px": 5.0},
        {"band_shape": "rounded", "strip_rotation_deg": [2.0, -1.0], "rotation_deg": 0.7,
         "pitch_jitter": 0.2, "width_jitter": 0.15, "membrane_inset": (30, 20, 30, 20)},
        {"band_shape": "flat", "band_smile_px": -3.0, "strip_rotation_deg": [0.0, 1.5]},
    ],
    ids=["rounded_smiling", "rounded_two_tilts_uneven", "flat_frowning_tilted"],
)  # fmt: skip
def test_band_volumes_are_exact_pixel_sums(extra: dict[str, Any]) -> None:
    """Sum of pixels above background over each band's lane = the volume the test asked for."""
    kw = {**BASE, **extra}
    sig, truth = _band_signal(kw)
    assert float(sig.min()) > -1e-9
    lanes = truth["lanes"]
    inset = extra.get("membrane_inset", (0, 0, 0, 0))
    membrane_x = (float(inset[0]), float(kw["width"] - inset[2]))
    wanted = {(0, i): TB[i][0][1] for i in range(10)} | {(1, i): LB[i][0][1] for i in range(10)}
    for s, rows in enumerate(truth["strips"]):
        strip_deg = extra.get("strip_rotation_deg", [0.0, 0.0])[s]
        u, v, fwd = _strip_frame(
            sig.shape, rows, extra.get("rotation_deg", 0.0), strip_deg, membrane_x
        )
        np.testing.assert_allclose(np.array(truth["strip_transforms"][s]), fwd[:2], atol=1e-9)
        centres = [ln["center"] for ln in lanes]
        mids = [-1e9] + [(a + b) / 2 for a, b in itertools.pairwise(centres)] + [1e9]
        for i in range(10):
            region = (u >= mids[i]) & (u < mids[i + 1]) & (v >= rows[0] - 5) & (v < rows[1] + 5)
            got = float(sig[region].sum())
            assert got == pytest.approx(wanted[(s, i)], rel=1e-6), (s, i)
            band = next(b for b in truth["bands"] if b["strip"] == s and b["lane"] == i)
            assert band["volume"] == pytest.approx(wanted[(s, i)], rel=1e-12)


def test_uneven_exposure_volumes_are_what_the_pixels_hold() -> None:
    kw = {**BASE, "exposure_gradient": 0.6}
    sig, truth = _band_signal(kw)
    flat_sig, _ = _band_signal(BASE)
    centres = [ln["center"] for ln in truth["lanes"]]
    mids = [-1e9] + [(a + b) / 2 for a, b in itertools.pairwise(centres)] + [1e9]
    xx = np.arange(sig.shape[1])[None, :]
    ratios = []
    for b in truth["bands"]:
        r0, r1 = truth["strips"][b["strip"]]
        region = np.zeros(sig.shape, bool)
        region[r0:r1] = (xx >= mids[b["lane"]]) & (xx < mids[b["lane"] + 1])
        assert float(sig[region].sum()) == pytest.approx(b["volume"], rel=1e-9)
        assert b["volume_loaded"] == pytest.approx(float(flat_sig[region].sum()), rel=1e-6)
        ratios.append(b["volume"] / b["volume_loaded"])
    lo, hi = truth["exposure_gain"]
    assert max(ratios) / min(ratios) > 1.2  # the exposure really is uneven across bands
    assert lo <= min(ratios) and max(ratios) <= hi


def _rect_mask(truth: dict[str, Any], shape: tuple[int, int], margin: float = 0.0) -> NDArray:
    """Pixels inside any band's integration rectangle, mapped with the strip transforms."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    mask = np.zeros(shape, bool)
    for b in truth["bands"]:
        f = np.vstack([np.array(truth["strip_transforms"][b["strip"]]), [0, 0, 1]])
        inv = np.linalg.inv(f)
        u = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
        v = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
        l_, t_, r_, b_ = b["rect"]
        mask |= (u >= l_ - margin) & (u <= r_ + margin) & (v >= t_ - margin) & (v <= b_ + margin)
    return mask


MARKS: dict[str, Any] = {
    "pen_marks": True, "lane_numbers": True, "handwriting": 4, "specks": 40,
    "crop_rectangle": 2,
}  # fmt: skip


@pytest.mark.parametrize("invert", [False, True])
def test_marks_never_touch_band_rectangles(invert: bool) -> None:
    kw = {
        **BASE, "ladder_side": "left", "n_lanes": 9, "strip_bands": [TB[:9], LB[:9]],
        "strip_rotation_deg": [2.0, 0.0], "membrane_inset": (30, 20, 30, 20),
        "band_shape": "rounded", "invert": invert, "mottle": 50.0,
    }  # fmt: skip
    plain = make_blot(5, **kw)
    marked = make_blot(5, **kw, **MARKS)
    diff = marked.image - plain.image
    truth = marked.truth
    rect = _rect_mask(truth, diff.shape)
    changed = diff != 0
    assert truth["marks_clipped_px"] == 0 and truth["marks_skipped"] == []
    assert not changed[rect].any()  # not one band pixel moved
    assert changed.sum() > 2000  # and marks were really drawn
    kinds = {m["kind"] for m in truth["marks"]}
    assert kinds == {"pen", "lane_number", "handwriting", "speck", "crop_rectangle"}
    # every changed pixel lies inside a mark's box (+1 px for antialiasing / interpolation)
    boxes = np.zeros(diff.shape, bool)
    for m in truth["marks"]:
        x0, y0, x1, y1 = m["box"]
        ys = slice(max(0, math.floor(y0) - 1), math.ceil(y1) + 2)
        boxes[ys, max(0, math.floor(x0) - 1) : math.ceil(x1) + 2] = True
    assert not (changed & ~boxes).any()
    # the same holds for the noisy, quantised files: noise is untouched by the marks
    a = make_blot(5, **{**kw, "float_output": False, "noise_sigma": 35.0})
    b = make_blot(5, **{**kw, "float_output": False, "noise_sigma": 35.0}, **MARKS)
    np.testing.assert_array_equal(a.image[rect], b.image[rect])
    assert [x["volume"] for x in a.truth["bands"]] == [x["volume"] for x in b.truth["bands"]]


def test_per_strip_rotation_is_what_the_pixels_show() -> None:
    """Fit a line through each strip's band centroids: its angle is that strip's own tilt."""
    kw = {**BASE, "strip_rotation_deg": [2.0, 0.0], "membrane_inset": (20, 12, 20, 12)}
    sig, truth = _band_signal(kw)
    assert truth["strip_rotation_deg"] == [2.0, 0.0]
    rows = np.arange(sig.shape[0], dtype=np.float64)
    angles = []
    for s, lanes in enumerate(truth["strip_lanes"]):
        r0, r1 = truth["strips"][s]
        xs, ys = [], []
        for ln in lanes:
            x = round(ln["center"])
            col = sig[:, x - 3 : x + 4].sum(axis=1)
            col[: max(0, r0 - 30)] = 0.0
            col[r1 + 30 :] = 0.0
            y = float((col * rows).sum() / col.sum())
            assert y == pytest.approx(ln["y"], abs=0.3)  # truth lane point is on the band
            xs.append(float(x))
            ys.append(y)
        slope = np.polyfit(xs, ys, 1)[0]
        angles.append(math.degrees(math.atan(-slope)))  # y is down; CCW positive
    assert angles[0] == pytest.approx(2.0, abs=0.05)
    assert angles[1] == pytest.approx(0.0, abs=0.05)


def _lane_centroids(profile: NDArray[np.float64], lanes: list[dict[str, Any]]) -> list[float]:
    centres = [ln["center"] for ln in lanes]
    mids = [0.0] + [(a + b) / 2 for a, b in itertools.pairwise(centres)] + [float(profile.size)]
    x = np.arange(profile.size, dtype=np.float64)
    out = []
    for i in range(len(lanes)):
        m = (x >= mids[i]) & (x < mids[i + 1])
        out.append(float((profile[m] * x[m]).sum() / profile[m].sum()))
    return out


def test_uneven_lanes_truth_matches_column_profile() -> None:
    kw = {**BASE, "pitch_jitter": 0.25, "width_jitter": 0.2}
    sig, truth = _band_signal(kw)
    r0, r1 = truth["strips"][0]
    prof = sig[r0:r1].sum(axis=0)
    lanes = truth["lanes"]
    for got, ln in zip(_lane_centroids(prof, lanes), lanes):
        assert got == pytest.approx(ln["center"], abs=0.05)
    for ln in lanes:  # half-maximum width of each lane's plateau = its truth width
        x0, x1 = round(ln["left"]) - 8, round(ln["right"]) + 9
        seg = prof[x0:x1]
        above = np.nonzero(seg >= seg.max() / 2)[0]
        assert above[-1] - above[0] + 1 == pytest.approx(ln["width"], abs=1.5)
    gaps = np.diff([ln["center"] for ln in lanes])
    assert gaps.std() / gaps.mean() > 0.04  # really uneven (even lanes: 0)
    widths = [ln["width"] for ln in lanes]
    assert max(widths) / min(widths) > 1.15


def test_rotated_strip_lane_truth_in_image_pixels() -> None:
    kw = {**BASE, "strip_rotation_deg": [-2.5, 1.0], "pitch_jitter": 0.2}
    sig, truth = _band_signal(kw)
    for lanes in truth["strip_lanes"]:
        for ln in lanes:
            y = round(ln["y"])
            x0, x1 = math.floor(ln["left"]) - 6, math.ceil(ln["right"]) + 7
            seg = sig[y - 1 : y + 2, x0:x1].sum(axis=0)
            x = np.arange(x0, x1, dtype=np.float64)
            assert float((seg * x).sum() / seg.sum()) == pytest.approx(ln["center"], abs=0.6)
            assert ln["left"] < ln["center"] < ln["right"]


def test_touching_row_has_no_valley_between_lanes() -> None:
    equal = [[[(0.45, 1.0e6)] for _ in range(10)], [[(0.55, 2.0e6)] for _ in range(10)]]
    kw = {**BASE, "strip_bands": equal, "strip_band_width": [None, 1.0], "pitch_jitter": 0.15}
    sig, truth = _band_signal(kw)
    lanes = truth["lanes"]
    lo, hi = round(lanes[0]["center"]), round(lanes[-1]["center"])
    for s, frac in ((0, 0.45), (1, 0.55)):
        r0, r1 = truth["strips"][s]
        row = sig[round(r0 + frac * (r1 - r0))]
        between = row[lo:hi]
        if s == 1:  # loading row: one continuous bright row, no dip where two lanes meet
            bands = sorted((b for b in truth["bands"] if b["strip"] == 1), key=lambda b: b["lane"])
            for a, b in itertools.pairwise(bands):
                assert a["right"] == pytest.approx(b["left"])  # they touch
                plateau = min(
                    row[round(lanes[a["lane"]]["center"])], row[round(lanes[b["lane"]]["center"])]
                )
                seam = row[math.floor(a["right"]) - 1 : math.ceil(a["right"]) + 2]
                assert seam.min() > 0.97 * plateau
            assert between.min() > 0.5 * between.max()
        else:  # target row: separated bands, background between them
            mids = [round((a["right"] + b["left"]) / 2) for a, b in itertools.pairwise(lanes)]
            assert max(row[m] for m in mids) < 0.01 * row.max()
    loading = [b for b in truth["bands"] if b["strip"] == 1]
    assert all(b["volume"] == 2.0e6 for b in loading)
    assert float(sig[truth["strips"][1][0] : truth["strips"][1][1]].sum()) == pytest.approx(2.0e7)


def test_pen_marks_sit_at_ladder_rows_outside_the_lanes() -> None:
    kw = {**BASE, "ladder_side": "left", "n_lanes": 9, "strip_bands": [TB[:9], LB[:9]]}
    plain = make_blot(2, **kw)
    marked = make_blot(2, **kw, pen_marks="dark")
    diff = marked.image - plain.image
    lanes = marked.truth["lanes"]
    assert marked.truth["ladder_lanes"] == [0] and lanes[0]["ladder"]
    pens = [m for m in marked.truth["marks"] if m["kind"] == "pen"]
    for s in (0, 1):
        ladder_rows = [b["row"] for b in marked.truth["bands"] if b["strip"] == s and b["ladder"]]
        mine = [m for m in pens if m["strip"] == s]
        left = [m for m in mine if m["box"][2] < lanes[0]["left"]]
        right = [m for m in mine if m["box"][0] > lanes[-1]["right"]]
        assert len(left) + len(right) == len(mine)  # all outside the lanes
        assert len(left) >= len(ladder_rows) - 2 and len(right) >= len(ladder_rows) - 2
        for m in mine:
            cy = (m["box"][1] + m["box"][3]) / 2
            assert min(abs(cy - r) for r in ladder_rows) < 4.0
            x0, y0, x1, y1 = (round(c) for c in m["box"])
            assert diff[y0:y1, x0:x1].min() < -0.3 * 1200.0  # dark ink


def test_lane_numbers_above_the_bands_centred_on_lanes() -> None:
    kw = {**BASE, "ladder_side": "right", "n_lanes": 9, "strip_bands": [TB[:9], LB[:9]]}
    syn = make_blot(4, **kw, lane_numbers=True)
    nums = [m for m in syn.truth["marks"] if m["kind"] == "lane_number"]
    assert [m["text"] for m in nums] == [str(i) for i in range(1, 10)] + ["M"]
    for m, ln in zip(nums, syn.truth["lanes"]):
        assert (m["box"][0] + m["box"][2]) / 2 == pytest.approx(ln["center"], abs=4.0)
        band_top = min(b["rect"][1] for b in syn.truth["bands"] if b["lane"] == ln["index"])
        assert m["strip"] == 0 and m["box"][3] < band_top
        assert m["box"][3] - m["box"][1] >= (9 if m["text"] != "M" else 6)  # legible
    below = make_blot(4, **kw, lane_numbers="below")
    nb = [m for m in below.truth["marks"] if m["kind"] == "lane_number"]
    # no room under the ladder's 10 kDa band: "M" is left out, and the truth says so
    assert [m["text"] for m in nb] == [str(i) for i in range(1, 10)]
    assert all(m["strip"] == 1 for m in nb)
    assert below.truth["marks_skipped"] == ["lane number M: no room"]
    for m, ln in zip(nb, below.truth["lanes"]):
        own = [b for b in below.truth["bands"] if b["strip"] == 1 and b["lane"] == ln["index"]]
        bottom = max(b["rect"][3] for b in own)
        assert m["box"][1] > bottom


def test_handwriting_and_specks() -> None:
    plain = make_blot(9, **BASE)
    syn = make_blot(9, **BASE, handwriting=4, specks=40)
    words = [m for m in syn.truth["marks"] if m["kind"] == "handwriting"]
    specks = [m for m in syn.truth["marks"] if m["kind"] == "speck"]
    assert len(words) == 4 and all(m["text"] in HANDWRITING_WORDS for m in words)
    assert len(specks) == 40
    only_specks = make_blot(9, **BASE, specks=40).image - plain.image
    n, _ = cv2.connectedComponents((only_specks != 0).astype(np.uint8), connectivity=8)
    assert n - 1 == 40  # forty separate dots
    for m in specks:
        x0, y0, x1, y1 = m["box"]
        assert x1 - x0 <= 6 and y1 - y0 <= 6
        patch = syn.image[int(y0) : int(y1), int(x0) : int(x1)]
        if m["bright"]:
            assert patch.max() > 1200 + 0.4 * (65535 - 1200)
        else:
            assert patch.min() < 0.35 * 1200


def test_membrane_inset_edges_are_sharp() -> None:
    kw = {**BASE, "n_strips": 1, "strip_bands": None, "bands": [[(0.5, 1e6)]] * 10}
    syn = make_blot(1, **kw, membrane_inset=(50, 30, 60, 40), off_membrane_level=250.0)
    img, (h, w) = syn.image, syn.image.shape
    assert syn.truth["membrane_box"] == (50.0, 30.0, float(w - 60), float(h - 40))
    row = img[60]  # a row without bands
    assert row[49] == 250.0 and row[50] == 1200.0  # a one-pixel edge
    assert row[w - 61] == 1200.0 and row[w - 60] == 250.0
    assert img[29, 300] == 250.0 and img[30, 300] == 1200.0
    lanes = syn.truth["lanes"]
    assert lanes[0]["left"] > 50 and lanes[-1]["right"] < w - 60


def test_ladder_lanes_and_sizes() -> None:
    for side, idx in (("left", 0), ("right", 6)):
        syn = make_blot(3, n_lanes=6, ladder_side=side, noise_sigma=0.0)
        assert syn.truth["ladder_lanes"] == [idx] and len(syn.truth["lanes"]) == 7
        lad = [b for b in syn.truth["bands"] if b["ladder"]]
        assert [b["kda"] for b in lad] == list(PAGERULER_KDA) and all(b["lane"] == idx for b in lad)
        rows = [b["row"] for b in lad]
        assert rows == sorted(rows)  # larger proteins run less far
        v70 = next(b["volume"] for b in lad if b["kda"] == 70.0)
        assert v70 == pytest.approx(2 * lad[0]["volume"])
        samples = {b["lane"] for b in syn.truth["bands"] if not b["ladder"]}
        assert samples == set(range(7)) - {idx}


def test_rgba_export_corners() -> None:
    img = make_blot(2, bit_depth=8, height=200, width=300).image
    r = 30
    rgba = to_rgba_png_array(img, r)
    assert rgba.shape == (200, 300, 4) and rgba.dtype == np.uint8
    for y, x in ((0, 0), (0, 299), (199, 0), (199, 299), (r // 4, r // 4), (199 - r // 4, 299)):
        assert rgba[y, x, 3] == 0 and not rgba[y, x, :3].any()
    for y, x in ((r, r), (0, 150), (100, 0), (100, 150), (199, 150)):
        assert rgba[y, x, 3] == 255
        assert list(rgba[y, x, :3]) == [255 - img[y, x]] * 3  # dark bands on light
    assert rgba_opaque_mask((200, 300), r).sum() == (rgba[..., 3] == 255).sum()
    # the cut corner area is (4 - pi) r^2 for round corners, 2 r^2 for 45-degree cuts
    assert (rgba[..., 3] == 0).sum() == pytest.approx((4 - math.pi) * r * r, rel=0.05)
    cut = to_rgba_png_array(img, r, corners="cut", invert=False)
    assert (cut[..., 3] == 0).sum() == pytest.approx(2 * r * r, rel=0.08)
    assert cut[100, 150, 0] == img[100, 150]
    with pytest.raises(ValueError, match="uint8"):
        to_rgba_png_array(img.astype(np.uint16), r)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="band_shape"):
        make_blot(1, band_shape="wavy")
    with pytest.raises(ValueError, match="lane_centres"):
        make_blot(1, n_lanes=3, lane_centres=[10.0, 20.0])
    with pytest.raises(ValueError, match="strip_rotation_deg"):
        make_blot(1, n_strips=2, strip_rotation_deg=[1.0])
    with pytest.raises(ValueError, match="ladder_side"):
        make_blot(1, ladder_side="top")


# ----------------------------------------------------------------------------------------
# the named hard cases

REQUIRED = {
    "touching_loading_row", "uneven_pitch", "rounded_smiling", "two_membranes_two_tilts",
    "pen_marks_edges", "lane_numbers", "handwriting", "membrane_edges", "specks_40",
    "uneven_exposure", "crop_rectangle", "ladder_left", "ladder_right",
    "rgba_corners_dark_on_light", "everything",
}  # fmt: skip


def test_case_list_is_complete() -> None:
    assert set(CASES_BY_NAME) >= REQUIRED
    assert len({c.seed for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_plausible_and_written_as_a_lab_would(case: Any, tmp_path: Path) -> None:
    folder = tmp_path / case.name
    truth = write_case(case, folder)
    syn = render_case(case).synthetic.truth
    assert syn["marks_clipped_px"] == 0
    with open(folder / "samples.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"file", "experiment", "sample_id", "role", "lane", "target", "strip", "n_lanes"} <= set(
        rows[0]
    )
    for strip, n in case.lanes_per_strip.items():
        assert 9 <= n <= 12
        mine = [r for r in rows if r["strip"] == str(strip)]
        assert all(r["n_lanes"] == str(n) and 1 <= int(r["lane"]) <= n for r in mine)
        assert len({r["lane"] for r in mine}) == len(mine)  # one row per lane
    assert any(r["role"] == "reference" for r in rows)
    assert sum(r["role"] == "ladder" for r in rows) == (2 if case.has_ladder else 0)
    loaded = load_image(folder / case.filename)
    assert loaded.bit_depth == (16 if case.fmt == "tiff16" else 8)
    # truth: one target and one loading row per sample, ratio = target / loading
    sids = sorted({r["sample_id"] for r in rows if r["role"] in ("sample", "reference")})
    assert len(sids) == case.n_lanes
    noise = syn["noise_sigma"]
    for sid in sids:
        t, ld = truth[(sid, case.target)], truth[(sid, case.loading_target)]
        assert t.ratio == pytest.approx(t.volume / ld.volume)
        assert t.lane == ld.lane and not t.saturated and not ld.saturated
        row = next(r for r in rows if r["sample_id"] == sid and r["target"] == case.target)
        assert int(row["lane"]) == t.lane and int(row["strip"]) == case.target_strip
    # band SNR like a real blot: the weakest target 10-60 x the noise, loading bands >= 50 x
    chosen = {t.volume for t in truth.values()}  # the bands of interest (not a decoy)
    tpk = [b["peak"] for b in syn["bands"] if b["strip"] == 0 and b["volume"] in chosen]
    lpk = [b["peak"] for b in syn["bands"] if b["strip"] == 1 and b["volume"] in chosen]
    assert len(tpk) == len(lpk) == case.n_lanes
    assert 10 <= min(tpk) / noise <= 60 and min(lpk) / noise >= 50
    assert max(lpk) + syn["background"] < syn["saturation_value"]
    toml_path = folder / "assaykit.toml"
    if case.band_window or case.loading_target != "ACTB":
        params = tomllib.loads(toml_path.read_text())["params"]["western_blot"]
        if case.band_window:
            assert params["row_window"] == {case.target: list(case.band_window)}
        if case.loading_target != "ACTB":
            assert params["loading_target"] == case.loading_target
    else:
        assert not toml_path.exists()
    if case.fmt == "rgba_png":
        px = cv2.imread(str(folder / case.filename), cv2.IMREAD_UNCHANGED)
        assert px is not None
        assert px.shape[2] == 4 and px[0, 0, 3] == 0 and not px[0, 0, :3].any()


def test_make_case_passes_ladder_side_through(tmp_path: Path) -> None:
    case = make_case(tmp_path, 3, n_lanes=6, ladder_side="left", n_lanes_column=True)
    syn = case.images["blot.tif"]
    assert syn.truth["ladder_lanes"] == [0] and len(syn.truth["lanes"]) == 7
    ladder_rows = [r for r in case.rows if r["role"] == "ladder"]
    assert [r["lane"] for r in ladder_rows] == ["1", "1"]
    assert all(r["n_lanes"] == "7" for r in case.rows)
    s1 = next(r for r in case.rows if r["sample_id"] == "S01")
    assert s1["lane"] == "2" and case.truth["S01"].lane == 2
    band = next(b for b in syn.truth["bands"] if b["lane"] == 1 and b["strip"] == 0)
    assert case.truth["S01"].target_volume == band["volume"]
