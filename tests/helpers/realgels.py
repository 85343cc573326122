"""Hand annotations of the real gel images, the person-drawn band masks, and a geometry scorer.

Why: the imaging geometry (strips, lanes, band presence) must be judged
against truth that our code did not produce. ``tests/data/real_gels/annotations.json``
was made by eye (see its ``_about`` entry for how and for the conventions);
the GelGenie gels also carry masks drawn by a person. This module loads both
and scores a :class:`~assaykit.imaging.pipeline.PreparedImage` against them,
so that tests and ``bench/real_geometry.py`` use one definition of "right".

Annotation coordinates are file pixels. A lane is the line
``x(y) = lanes[i] + lane_slope * (y - lanes_y)``; strip rows are ``[start, stop)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

REPO_ROOT = Path(__file__).resolve().parents[2]
ANNOTATIONS = REPO_ROOT / "tests" / "data" / "real_gels" / "annotations.json"

#: mask components smaller than this (pixels) are specks of the drawing, not bands
MIN_COMPONENT_AREA = 20

POLARITIES = ("light_bands_on_dark", "dark_bands_on_light")

Box = tuple[int, int, int, int]
Annotation = Mapping[str, Any]


def shared_data_root() -> Path:
    """The shared reference data folder: ``ASSAYKIT_SHARED_DATA``, else ``../shared/data``.

    The same rule as ``shared_data_dir()`` in ``tests/conftest.py`` (repeated
    here because a conftest module cannot be imported from a plain script such
    as the bench).
    """
    env = os.environ.get("ASSAYKIT_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


class AnnotationError(ValueError):
    """The annotation file is malformed; the message names the file, the entry and the field."""


def _need(cond: bool, path: Path, where: str, what: str) -> None:
    if not cond:
        raise AnnotationError(f"{path}: {where}: expected {what}")


def _check_lane_numbers(path: Path, where: str, field: str, value: Any, n: int) -> None:
    _need(
        isinstance(value, list) and all(isinstance(v, int) and 1 <= v <= n for v in value),
        path,
        f"{where}, field {field!r}",
        f"a list of 1-based lane numbers between 1 and {n}, got {value!r}",
    )


def _validate(path: Path, key: str, entry: Any) -> None:
    """Shape checks only (types, required fields); the test module checks the content."""
    _need(isinstance(entry, dict), path, key, "an object")
    _need(entry.get("polarity") in POLARITIES, path, f"{key}, field 'polarity'", str(POLARITIES))
    _need(
        isinstance(entry.get("tilt_deg"), int | float),
        path,
        f"{key}, field 'tilt_deg'",
        "a number (degrees)",
    )
    _need(isinstance(entry.get("notes"), str), path, f"{key}, field 'notes'", "a string")
    strips = entry.get("strips")
    _need(isinstance(strips, list) and len(strips) > 0, path, f"{key}, field 'strips'", "a list")
    for k, s in enumerate(strips):
        where = f"{key}, strip {k + 1}"
        _need(isinstance(s, dict), path, where, "an object")
        rows = s.get("rows")
        _need(
            isinstance(rows, list) and len(rows) == 2 and all(isinstance(v, int) for v in rows),
            path,
            f"{where}, field 'rows'",
            "[start, stop] integer rows",
        )
        lanes = s.get("lanes")
        _need(
            isinstance(lanes, list)
            and len(lanes) > 0
            and all(isinstance(v, int | float) for v in lanes),
            path,
            f"{where}, field 'lanes'",
            "a non-empty list of lane centre x",
        )
        for f in ("lanes_y", "lane_slope"):
            _need(isinstance(s.get(f), int | float), path, f"{where}, field {f!r}", "a number")
        wr = s.get("wells_row")
        _need(wr is None or isinstance(wr, int | float), path, f"{where}, 'wells_row'", "y or null")
        for f in ("ladder_lanes", "lanes_with_bands", "faint_band_lanes"):
            _check_lane_numbers(path, where, f, s.get(f), len(lanes))
    for box in entry.get("mask_exclude", []):
        _need(
            isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) for v in box),
            path,
            f"{key}, field 'mask_exclude'",
            "boxes [x0, y0, x1, y1]",
        )


def load_annotations(path: Path | None = None, *, include_about: bool = False) -> dict[str, Any]:
    """Image annotations keyed by path relative to :func:`shared_data_root` (``_about`` left out
    unless asked for). Raises :class:`AnnotationError` naming the entry and field on bad input."""
    path = ANNOTATIONS if path is None else Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot read the annotations: {exc}") from None
    _need(isinstance(raw, dict), path, "top level", "an object keyed by image path")
    out: dict[str, Any] = {}
    for key, entry in raw.items():
        if key.startswith("_"):
            if include_about:
                out[key] = entry
            continue
        _validate(path, key, entry)
        out[key] = entry
    return out


def mask_path_for(key: str, root: Path | None = None) -> Path | None:
    """The person-drawn band mask beside an annotated image, or None when it has none."""
    image = (shared_data_root() if root is None else root) / key
    mask = image.with_name(image.stem + "_mask.png")
    return mask if mask.is_file() else None


@dataclass(frozen=True)
class MaskComponent:
    """One connected white region of a mask: box ``[x0, x1) x [y0, y1)``, area, centroid."""

    box: Box
    area: int
    cx: float
    cy: float


def _read_mask(mask: Path | str | NDArray[Any]) -> NDArray[np.bool_]:
    arr: Any
    if isinstance(mask, np.ndarray):
        arr = mask
    else:
        arr = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise FileNotFoundError(f"{mask}: cannot read the mask image")
    if arr.ndim == 3:
        arr = arr[..., 0]
    return np.asarray(arr) > 0


def mask_components(
    mask: Path | str | NDArray[Any], min_area: int = MIN_COMPONENT_AREA
) -> list[MaskComponent]:
    """8-connected components of the mask with at least ``min_area`` pixels, top to bottom."""
    m = _read_mask(mask).astype(np.uint8)
    n, _lab, stats, cents = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, a = (int(v) for v in stats[i])
        if a < min_area:
            continue
        out.append(MaskComponent((x, y, x + w, y + h), a, float(cents[i][0]), float(cents[i][1])))
    out.sort(key=lambda c: (c.cy, c.cx))
    return out


def mask_band_boxes(
    mask_path: Path | str | NDArray[Any], min_area: int = MIN_COMPONENT_AREA
) -> list[Box]:
    """Boxes ``(x0, y0, x1, y1)`` (half-open, like slices) of the mask's band components."""
    return [c.box for c in mask_components(mask_path, min_area)]


def lane_x(strip: Mapping[str, Any], lane: int, y: float) -> float:
    """x of 1-based ``lane`` of an annotated strip at row ``y`` (file pixels)."""
    return float(strip["lanes"][lane - 1]) + float(strip["lane_slope"]) * (
        y - float(strip["lanes_y"])
    )


def pitch(strip: Mapping[str, Any]) -> float:
    """Median spacing of the strip's annotated lanes (inf for a single lane)."""
    lanes = strip["lanes"]
    return float(np.median(np.diff(lanes))) if len(lanes) > 1 else float("inf")


def strip_of_row(annotation: Annotation, y: float) -> int | None:
    """1-based number of the annotated strip whose rows hold ``y``, or None."""
    for k, s in enumerate(annotation["strips"]):
        if s["rows"][0] <= y < s["rows"][1]:
            return k + 1
    return None


def excluded(annotation: Annotation, comp: MaskComponent) -> bool:
    """True when the component's centroid lies in one of the annotation's ``mask_exclude`` boxes."""
    return any(
        x0 <= comp.cx <= x1 and y0 <= comp.cy <= y1
        for x0, y0, x1, y1 in annotation.get("mask_exclude", [])
    )


def nearest_lane(strip: Mapping[str, Any], x: float, y: float) -> tuple[int, float]:
    """(1-based lane, signed distance x - lane x) of the lane nearest to point (x, y)."""
    d = [x - lane_x(strip, i + 1, y) for i in range(len(strip["lanes"]))]
    k = int(np.argmin(np.abs(d)))
    return k + 1, float(d[k])


def mask_band_lanes(
    annotation: Annotation,
    mask: Path | str | NDArray[Any] | Sequence[MaskComponent],
    min_area: int = MIN_COMPONENT_AREA,
) -> dict[int, set[int]]:
    """Strip number -> lanes holding at least one mask band (nearest lane centre of its strip).

    Components outside every strip's rows, or in ``mask_exclude``, are ignored
    here (the tests report them separately).
    """
    comps = (
        list(mask)
        if isinstance(mask, Sequence) and not isinstance(mask, str)
        else mask_components(mask, min_area)
    )
    out: dict[int, set[int]] = {k + 1: set() for k in range(len(annotation["strips"]))}
    for c in comps:
        if c.area < min_area or excluded(annotation, c):
            continue
        k = strip_of_row(annotation, c.cy)
        if k is None:
            continue
        lane, _ = nearest_lane(annotation["strips"][k - 1], c.cx, c.cy)
        out[k].add(lane)
    return out


def lanes_with_mask_bands(
    annotation: Annotation,
    mask: Path | str | NDArray[Any] | Sequence[MaskComponent],
    strip: int = 1,
) -> set[int]:
    """1-based lanes of annotated ``strip`` (1 = top) that hold a mask component >= 20 px."""
    return mask_band_lanes(annotation, mask).get(strip, set())


# -- scoring a prepared image ------------------------------------------------------------------

BandFinder = Callable[[Any, Any, Any], bool]
"""``(prepared, strip, lane) -> True`` when the lane holds at least one band."""


def has_band(prepared: Any, strip: Any, lane: Any) -> bool:
    """The pipeline's own answer: :func:`assaykit.imaging.bands.find_bands` finds a band."""
    from assaykit.imaging.bands import find_bands

    bands = find_bands(
        prepared.data,
        lane,
        detect_image=prepared.detect,
        saturated=prepared.saturated,
        rows=strip.band_rows,
        neighbours=strip.lane_list,
    )
    return len(bands) > 0


def _file_rows(strip: Any, width: int) -> tuple[float, float]:
    """A found strip's rows in file pixels, taken at the image's middle column."""
    x = width / 2.0
    y0 = strip.to_image(x, strip.start)[1]
    y1 = strip.to_image(x, strip.stop)[1]
    return (min(y0, y1), max(y0, y1))


def _found_lane_x(strip: Any, center: float, y_file: float) -> float:
    """File x of a found lane (prepared column ``center``) where it crosses file row ``y_file``.

    The prepared-to-file map is affine, so the prepared row that lands on
    ``y_file`` is found from two evaluations.
    """
    ya = strip.to_image(center, 0.0)[1]
    yb = strip.to_image(center, 1000.0)[1]
    slope = (yb - ya) / 1000.0
    yp = (y_file - ya) / slope if abs(slope) > 1e-9 else y_file
    return float(strip.to_image(center, yp)[0])


def _overlap(a: tuple[float, float], b: Sequence[float]) -> float:
    return max(0.0, min(a[1], float(b[1])) - max(a[0], float(b[0])))


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def score_image(
    annotation: Annotation,
    prepared: Any,
    *,
    mask: Path | str | NDArray[Any] | None = None,
    band_finder: BandFinder | None = has_band,
) -> dict[str, Any]:
    """Score a prepared image's strips, lanes and band presence against the hand annotation.

    Each found strip is assigned to the annotated strip its rows overlap most
    (file pixels); an annotated strip is compared with the found strip that
    overlaps it most. Each annotated lane is matched to the nearest found lane
    of that strip at the annotation's ``lanes_y``; it counts as matched when
    within a quarter of the annotated pitch. Band presence (``band_finder``,
    None to skip) is read on the matched found lane: truth is
    ``lanes_with_bands`` (faint lanes are left out of both counts), and, with
    a mask, the lanes holding mask bands (recall only: the mask misses bands).
    """
    width = int(prepared.shape[1])
    found_rows = [_file_rows(s, width) for s in prepared.strips]
    owner: list[int | None] = []
    for fr in found_rows:
        ov = [_overlap(fr, s["rows"]) for s in annotation["strips"]]
        owner.append(int(np.argmax(ov)) if max(ov, default=0.0) > 0 else None)
    mask_lanes = mask_band_lanes(annotation, mask) if mask is not None else None

    strips_out: list[dict[str, Any]] = []
    tot = {"lanes": 0, "matched": 0, "tp": 0, "fp": 0, "fn": 0, "mask": 0, "mask_hit": 0}
    for k, s in enumerate(annotation["strips"]):
        mine = [j for j, o in enumerate(owner) if o == k]
        best = max(mine, key=lambda j: _overlap(found_rows[j], s["rows"]), default=None)
        n_ann = len(s["lanes"])
        row: dict[str, Any] = {
            "strip": k + 1,
            "rows_annotated": list(s["rows"]),
            "found_strip": None if best is None else best + 1,
            "rows_found": None if best is None else [round(v, 1) for v in found_rows[best]],
            "found_strips_here": len(mine),
            "lanes_annotated": n_ann,
            "lanes_found": 0,
            "lanes_degenerate": 0,
            "lanes_matched": 0,
            "match_fraction": 0.0,
            "median_abs_dx": None,
        }
        tot["lanes"] += n_ann
        positives = set(s["lanes_with_bands"])
        faint = set(s["faint_band_lanes"])
        predicted: set[int] = set()
        errors: list[str] = []
        if best is not None:
            fs = prepared.strips[best]
            lanes = fs.lane_list
            row["lanes_found"] = len(lanes)
            # zero-width lanes, or lanes on top of their left neighbour: placed, not found
            row["lanes_degenerate"] = sum(
                ln.right - ln.left < 2 or (i > 0 and ln.center - lanes[i - 1].center < 2)
                for i, ln in enumerate(lanes)
            )
            y = float(s["lanes_y"])
            fx = [_found_lane_x(fs, ln.center, y) for ln in lanes]
            tol = pitch(s) / 4.0
            dxs: list[float] = []
            for i in range(n_ann):
                if not fx:
                    break
                ax = lane_x(s, i + 1, y)
                j = int(np.argmin([abs(v - ax) for v in fx]))
                if abs(fx[j] - ax) > tol:
                    continue
                dxs.append(abs(fx[j] - ax))
                if band_finder is not None:
                    try:
                        if band_finder(prepared, fs, lanes[j]):
                            predicted.add(i + 1)
                    except Exception as exc:  # a crash on one lane is a result, not a stop
                        errors.append(f"lane {i + 1}: {type(exc).__name__}: {exc}")
            row["lanes_matched"] = len(dxs)
            row["match_fraction"] = len(dxs) / n_ann
            row["median_abs_dx"] = round(float(np.median(dxs)), 1) if dxs else None
        tot["matched"] += row["lanes_matched"]
        if band_finder is not None:
            judged = predicted - faint
            tp = len(judged & positives)
            fp = len(judged - positives)
            fn = len(positives - predicted)
            row["bands"] = {
                "predicted": sorted(predicted),
                "truth": sorted(positives),
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "recall": _ratio(tp, tp + fn),
                "precision": _ratio(tp, tp + fp),
                "errors": errors,
            }
            tot["tp"] += tp
            tot["fp"] += fp
            tot["fn"] += fn
            if mask_lanes is not None:
                ml = mask_lanes.get(k + 1, set())
                hit = len(ml & predicted)
                row["bands"]["mask_lanes"] = sorted(ml)
                row["bands"]["mask_recall"] = _ratio(hit, len(ml))
                tot["mask"] += len(ml)
                tot["mask_hit"] += hit
        strips_out.append(row)
    result: dict[str, Any] = {
        "strips_annotated": len(annotation["strips"]),
        "strips_found": len(prepared.strips),
        "strips_unassigned": sum(o is None for o in owner),
        "lanes_annotated": tot["lanes"],
        "lanes_matched": tot["matched"],
        "match_fraction": tot["matched"] / tot["lanes"] if tot["lanes"] else 0.0,
        "strips": strips_out,
    }
    if band_finder is not None:
        result["band_recall"] = _ratio(tot["tp"], tot["tp"] + tot["fn"])
        result["band_precision"] = _ratio(tot["tp"], tot["tp"] + tot["fp"])
        if mask_lanes is not None:
            result["mask_recall"] = _ratio(tot["mask_hit"], tot["mask"])
    return result


def prepare_for(
    key: str, annotation: Annotation, *, given_count: bool, root: Path | None = None
) -> Any:
    """Run :func:`~assaykit.imaging.pipeline.prepare_image` on an annotated image.

    ``given_count``: pass the annotated lane count per strip and the strip
    count, as a lab with a sample sheet would; otherwise nothing is given.
    """
    from assaykit.imaging.pipeline import prepare_image

    path = (shared_data_root() if root is None else root) / key
    if given_count:
        strips = annotation["strips"]
        return prepare_image(
            path,
            expected_lanes=[len(s["lanes"]) for s in strips],
            expected_strips=len(strips),
            wells=True,
        )
    return prepare_image(path, wells=True)
