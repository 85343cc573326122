"""Geometry on real gels against hand annotations (tests/data/real_gels/annotations.json).

The annotations were made by eye (with the GelGenie band masks as help), not by
our code. Given what a lab's sheet gives (the lane count per strip and the
strip count), every image must have its strips found, and its lane centres
within a quarter pitch of the annotated ones and its band presence at least
at the floors below. The floors are a little under what the geometry of this
commit measures (bench/real_geometry.py prints the full table), so any
regression fails; raise them when the geometry improves.

Band presence is read below each strip's well row (``prepare_image(wells=True)``,
as ``msp_gel`` does): before the well row was found, the glow of the wells
made every lane "hold a band", which raised the recall of some gels by luck
(Pair_1_Wk10 80 % -> 50 %, whose loaded lanes hold faint bands only) and
lowered the precision of all (pooled 70 % -> 76 %).
"""

from __future__ import annotations

from typing import Any

import pytest
from assaykit.errors import AssaykitError
from helpers.realgels import load_annotations, prepare_for, score_image, shared_data_root

ANNOTATIONS = {k: v for k, v in load_annotations().items() if not k.startswith("_")}

#: key -> (lane-centre match fraction, band recall, band precision) floors
FLOORS: dict[str, tuple[float, float, float]] = {
    "gels-gelgenie-labelled/Pair_10and11_Wk10_GelRed.jpg": (0.95, 0.95, 0.75),
    "gels-gelgenie-labelled/Pair_10and11_Wk9_GelRed.jpg": (0.95, 0.95, 0.6),
    "gels-gelgenie-labelled/Pair_12_Wk9_GelRed.jpg": (0.25, 0.5, 0.95),
    "gels-gelgenie-labelled/Pair_1_Wk10_GelRed.jpg": (0.85, 0.45, 0.7),
    "gels-gelgenie-labelled/Pair_1_Wk9_GelRed.jpg": (0.85, 0.95, 0.95),
    "gels-gelgenie-labelled/Pair_2and3_Wk10_GelRed.jpg": (0.9, 0.85, 0.55),
    "gels-gelgenie-labelled/Pair_2and3_Wk9_GelRed.jpg": (0.85, 0.95, 0.6),
    "gels-gelgenie-labelled/Pair_4and5_Wk10_GelRed.jpg": (0.45, 0.25, 0.95),
    "gels-gelgenie-labelled/Pair_4and5_Wk9_GelRed.jpg": (0.65, 0.45, 0.4),
    "gels-gelgenie-labelled/Pair_6and7_Wk10_GelRed.jpg": (0.75, 0.95, 0.6),
    "gels-gelgenie-labelled/Pair_8and9_Wk10_GelRed.jpg": (0.7, 0.35, 0.55),
    "gels-gelgenie-labelled/Pair_8and9_Wk9_GelRed.jpg": (0.95, 0.95, 0.5),
    "gels-gelgenie/ladder_reference_gel.tif": (0.85, 0.45, 0.35),
    "gels-gelgenie/overheated_ref.tif": (0.35, 0.95, 0.6),
    "gels-other/gelquant_sds_page.png": (0.7, 0.85, 0.95),
    "gels-other/digest_gel_1.jpg": (0.95, 0.85, 0.95),
    "gels-other/digest_gel_2.jpg": (0.95, 0.95, 0.95),
    "gels-other/digest_gel_3.jpg": (0.95, 0.95, 0.85),
}


@pytest.fixture(scope="module")
def prepared_images() -> dict[str, Any]:
    return {key: prepare_for(key, ann, given_count=True) for key, ann in ANNOTATIONS.items()}


@pytest.fixture(scope="module")
def scores(prepared_images: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    root = shared_data_root()
    for key, ann in ANNOTATIONS.items():
        mask = root / key.replace(".jpg", "_mask.png")
        out[key] = score_image(ann, prepared_images[key], mask=mask if mask.exists() else None)
    return out


def test_well_rows_against_the_annotation(prepared_images: dict[str, Any]) -> None:
    """The comb's well row is found where the annotator saw it (within 15 px).

    21 of the 24 annotated well rows lying on a found strip are found at this
    commit; the misses are one overheated gel and two rows found as weak
    (fewer than 60 % of lanes darker than their gaps) in the strip's body.
    """
    found = annotated = 0
    misses: list[str] = []
    for key, ann in ANNOTATIONS.items():
        prepared = prepared_images[key]
        for k, strip in enumerate(prepared.strips):
            y = ann["strips"][k].get("wells_row") if k < len(ann["strips"]) else None
            if y is None:
                continue
            annotated += 1
            wy = strip.from_image(prepared.shape[1] / 2, y)[1]
            w = strip.wells
            if w is not None and w.hole[0] - 15 <= wy <= w.hole[1] + 15:
                found += 1
            else:
                misses.append(f"{key} strip {k + 1}: wells at {wy:.0f}, found {w}")
    assert annotated == 24
    assert found >= 20, misses


def test_every_annotated_image_has_a_floor() -> None:
    assert set(FLOORS) == set(ANNOTATIONS)


@pytest.mark.parametrize("key", sorted(ANNOTATIONS))
def test_strips_lanes_and_bands_against_the_annotation(
    scores: dict[str, dict[str, Any]], key: str
) -> None:
    s = scores[key]
    lane_floor, recall_floor, precision_floor = FLOORS[key]
    assert s["strips_found"] == s["strips_annotated"]
    assert s["strips_unassigned"] == 0
    for strip in s["strips"]:
        # the lane invariants hold on real images: no lane of zero width, none doubled
        assert strip["lanes_found"] == strip["lanes_annotated"]
        assert strip["lanes_degenerate"] == 0
    assert s["match_fraction"] >= lane_floor
    assert s["band_recall"] is not None and s["band_recall"] >= recall_floor
    assert s["band_precision"] is not None and s["band_precision"] >= precision_floor


def test_free_mode_on_gels_takes_the_lane_count_from_the_comb() -> None:
    """Nothing given (no lane or strip count): lanes from each gel's comb where its wells show.

    At this commit 154 of 352 annotated lane centres are matched (44 %; 86 before
    the comb was read). Most of what is left is strips: without a strip count a
    comb's row of wells or a gel's edge is taken as a strip of its own.
    """
    matched = total = 0
    for key, ann in ANNOTATIONS.items():
        try:
            prepared = prepare_for(key, ann, given_count=False)
        except AssaykitError:
            total += sum(len(s["lanes"]) for s in ann["strips"])
            continue  # one gel: "no lanes found" naming the file and strip
        s = score_image(ann, prepared, band_finder=None)
        matched += s["lanes_matched"]
        total += s["lanes_annotated"]
    assert total == 382
    assert matched >= 140, matched


def test_pooled_figures(scores: dict[str, dict[str, Any]]) -> None:
    lanes = sum(s["lanes_annotated"] for s in scores.values())
    matched = sum(s["lanes_matched"] for s in scores.values())
    assert matched / lanes >= 0.85  # 89 % measured at this commit
    masks = [s["mask_recall"] for s in scores.values() if s.get("mask_recall") is not None]
    # lanes holding mask bands that we find bands in (74 % measured; the wells no longer help)
    assert sum(masks) / len(masks) >= 0.7
