"""What the imaging layer found in one image: a JSON-able description and one figure.

Why a module of its own: a lab checks an image *before* it runs a batch with
it, and tests compare the geometry with hand annotations. Both need the same
facts (polarity and the rule that chose it, rotation, strips, lanes, bands,
geometry findings) in both coordinate frames: the straightened frame the
measurements are made in, and the file's own pixels that a person sees and
annotates. :func:`describe_geometry` collects them once;
:func:`geometry_figure` draws exactly that description, so the figure and the
JSON can never disagree.

Frames
------
``rows``, ``center``, ``left``, ``right``, ``box``: the prepared
(straightened) image, :attr:`PreparedImage.data`. ``*_in_file``: the file's
pixels, through :meth:`Strip.to_image` (each strip carries its own rotation):

- a strip's ``rows_in_file`` span the rows its four mapped corners cover
  (clipped to the file), ``outline_in_file`` lists those corners (top-left, top-right, bottom-right,
  bottom-left);
- a lane's ``center_in_file`` / ``left_in_file`` / ``right_in_file`` are the
  file columns of those lines at the strip's middle row, ``outline_in_file``
  its four mapped corners;
- a band's ``box_in_file`` is the bounding box ``[left, top, right, bottom]``
  of its mapped corners (``outline_in_file``: the corners).

Boxes are half-open (``right``/``bottom`` exclusive), as numpy slices are.

This module imports only the imaging layer and the contract types; it loads
no host module (batch, store, sheet, CLI).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assaykit.assay import new_figure
from assaykit.errors import AssaykitError
from assaykit.imaging.bands import find_bands
from assaykit.imaging.io import load_image
from assaykit.imaging.pipeline import PreparedImage, Strip

__all__ = ["GEOMETRY_SCHEMA", "describe_geometry", "geometry_figure"]

#: Names the layout of :func:`describe_geometry`'s dict; bumped when a key changes meaning.
GEOMETRY_SCHEMA = "assaykit.geometry/1"

#: Smallest text on the figure, in pixels at the saved size (readable on a screen).
MIN_TEXT_PX = 10.0

_Point = list[float]

#: Overlay colours (the legend on the figure names them).
_COLOURS = {
    "strip": "#ffee00",
    "lane": "#33ddff",
    "band": "#ffaa00",
    "saturated band": "#ff3030",
    "wells": "#ff44ff",
}


def _r(v: float) -> float:
    return round(float(v), 2)


def _corners(strip: Strip, left: float, top: float, right: float, bottom: float) -> list[_Point]:
    pts = [(left, top), (right, top), (right, bottom), (left, bottom)]
    return [[_r(c) for c in strip.to_image(x, y)] for x, y in pts]


def _bbox(outline: list[_Point]) -> list[float]:
    xs, ys = [p[0] for p in outline], [p[1] for p in outline]
    return [min(xs), min(ys), max(xs), max(ys)]


def _band_entry(strip: Strip, band: Any) -> dict[str, Any]:
    outline = _corners(strip, band.left, band.top, band.right, band.bottom)
    return {
        "box": [int(band.left), int(band.top), int(band.right), int(band.bottom)],
        "box_in_file": _bbox(outline),
        "outline_in_file": outline,
        "row": _r(band.row),
        "row_in_file": _r(strip.to_image(0.5 * (band.left + band.right), band.row)[1]),
        "snr": _r(band.snr),
        "volume": _r(band.volume),
        "saturated": bool(band.saturated),
    }


def describe_geometry(prepared: PreparedImage, *, bands: bool = True) -> dict[str, Any]:
    """A JSON-able dict of the geometry of ``prepared`` (layout in the module docs).

    Bands are found per lane with :func:`~assaykit.imaging.bands.find_bands`'s
    defaults, on the background-subtracted image, so the figure shows what an
    assay would start from. A lane whose bands cannot be found gets an empty
    list and a note, not an error: this is a diagnostic view.
    """
    p = prepared
    prep = p.describe()
    notes = [str(n) for n in p.notes]
    strips_out: list[dict[str, Any]] = []
    for s in p.strips:
        width = float(p.shape[1])
        mid = 0.5 * (s.start + s.stop)
        outline = _corners(s, 0.0, s.start, width, s.stop)
        lanes_out: list[dict[str, Any]] = []
        neighbours = s.lane_list
        for lane in neighbours:
            found: list[dict[str, Any]] = []
            if bands:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        got = find_bands(
                            p.data,
                            lane,
                            detect_image=p.detect,
                            saturated=p.saturated,
                            rows=s.band_rows,
                            neighbours=neighbours,
                        )
                    found = [_band_entry(s, b) for b in got]
                except AssaykitError as exc:
                    notes.append(f"strip {s.index + 1}, lane {lane.index + 1}: no bands: {exc}")
            lanes_out.append(
                {
                    "number": lane.index + 1,
                    "center": _r(lane.center),
                    "left": _r(lane.left),
                    "right": _r(lane.right),
                    "width": _r(lane.width),
                    "center_in_file": _r(s.to_image(lane.center, mid)[0]),
                    "left_in_file": _r(s.to_image(lane.left, mid)[0]),
                    "right_in_file": _r(s.to_image(lane.right, mid)[0]),
                    "outline_in_file": _corners(s, lane.left, s.start, lane.right, s.stop),
                    "bands": found,
                }
            )
        ys = [pt[1] for pt in outline]
        strips_out.append(
            {
                "number": s.index + 1,
                "rows": [int(s.start), int(s.stop)],
                "well_row": None
                if s.wells is None
                else {
                    "hole": list(s.wells.hole),
                    "zone": list(s.wells.zone),
                    "outline_in_file": _corners(
                        s, 0.0, float(s.wells.zone[0]), width, float(s.wells.zone[1])
                    ),
                },
                "rows_in_file": [_r(max(0.0, min(ys))), _r(min(float(p.shape[0]), max(ys)))],
                "outline_in_file": outline,
                "rotation_deg": round(float(s.rotation_deg), 4),
                "pivot": [_r(s.pivot[0]), _r(s.pivot[1])],
                "source": str(s.source),
                "lane_method": str(s.lanes.method),
                "lane_pitch": _r(s.lanes.pitch),
                "detected_lanes": int(s.detected_lane_count),
                "expected_lanes": s.expected_lanes,
                "lanes": lanes_out,
            }
        )
    findings = [
        {"flag": str(f[0]), "severity": str(f[1]), "message": str(f[2])} for f in p.findings
    ]
    return {
        "schema": GEOMETRY_SCHEMA,
        "file": str(p.path),
        "shape": [int(p.shape[0]), int(p.shape[1])],
        "polarity": str(p.polarity),
        "polarity_rule": str(p.polarity_rule),
        "bit_depth": int(p.bit_depth),
        "significant_bits": prep.get("significant_bits"),
        "lossy": bool(p.lossy),
        "source_format": prep.get("source_format"),
        "saturated_fraction": round(float(np.mean(p.saturated)) if p.saturated.size else 0.0, 6),
        "rotation_deg": round(float(p.rotation_deg), 4),
        "strips": strips_out,
        "findings": findings,
        "notes": notes,
        "methods": {
            "preparation_version": prep.get("preparation_version"),
            "background": prep.get("background"),
            "lanes": [s["lane_method"] for s in strips_out],
            "bands": "assaykit.imaging.bands.find_bands defaults on the background-subtracted "
            "image; volumes on the straightened image",
        },
    }


# --------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------


def _file_pixels(prepared: PreparedImage) -> NDArray[np.float32] | None:
    """The file's own pixels (its polarity and orientation), or None when unreadable."""
    try:
        loaded = load_image(prepared.path)
    except (AssaykitError, OSError):
        return None
    if loaded.shape != prepared.shape:
        return None
    return loaded.data


def _contrast(img: NDArray[np.float32]) -> tuple[float, float]:
    """Display range from robust percentiles: a few hot pixels or dust must not flatten it."""
    step = max(1, int(np.sqrt(img.size / 1_000_000)))
    lo, hi = np.percentile(img[::step, ::step], [0.5, 99.7])
    if not hi > lo:
        lo, hi = float(img.min()), float(img.max()) + 1.0
    return float(lo), float(hi)


def _summary_lines(d: dict[str, Any], frame_note: str) -> list[str]:
    strips = d["strips"]
    lanes = "+".join(str(len(s["lanes"])) for s in strips)
    nb = sum(len(lane["bands"]) for s in strips for lane in s["lanes"])
    rots = sorted({s["rotation_deg"] for s in strips})
    rot = ", ".join(f"{r:+.2f}°" for r in rots) if rots else f"{d['rotation_deg']:+.2f}°"
    bits = f"{d['bit_depth']}-bit{' lossy' if d['lossy'] else ''}"
    line1 = f"{Path(d['file']).name}  ({d['shape'][1]}×{d['shape'][0]} px, {bits})"
    line2 = (
        f"{d['polarity']}  ·  rotation {rot}  ·  {len(strips)} strip(s)  ·  lanes {lanes}"
        f"  ·  {nb} band(s)  ·  {frame_note}"
    )
    if d["findings"]:
        shown = [f"{f['flag']} ({f['severity']})" for f in d["findings"][:6]]
        more = len(d["findings"]) - len(shown)
        line3 = "findings: " + ", ".join(shown) + (f" … +{more}" if more > 0 else "")
    else:
        line3 = "findings: none"
    return [line1, line2, line3]


def geometry_figure(
    prepared: PreparedImage,
    description: dict[str, Any] | None = None,
    *,
    image: NDArray[Any] | None = None,
    dpi: int = 100,
) -> Any:
    """One Agg figure of the image with strips, lanes and band boxes drawn on it.

    The image is shown in the **file's** orientation and polarity (``image``,
    or the file re-read from ``prepared.path``), with every outline mapped
    back through :meth:`Strip.to_image`: what a person checks is the file they
    opened, and hand annotations are in its pixels. When the file cannot be
    read again (a prepared image from memory), the straightened bright-band
    image is shown instead and the title says so. The figure is sized so that
    lane numbers are at least :data:`MIN_TEXT_PX` pixels tall when saved at
    ``dpi``; save it with :func:`~assaykit.assay.render_png` at that ``dpi``.
    """
    from matplotlib import patheffects
    from matplotlib.collections import PolyCollection

    d = description if description is not None else describe_geometry(prepared)
    h, w = prepared.shape
    in_file = True
    img: NDArray[Any] | None = image if image is not None else _file_pixels(prepared)
    if img is None or tuple(np.shape(img)[:2]) != (h, w):
        img, in_file = prepared.data, False
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3:
        img = img.mean(axis=2)
    frame_note = "file pixels" if in_file else "straightened frame (file not re-readable)"

    # pixel budget: image ~1200 px wide, wider when lanes would get too narrow to label
    pitches = [s["lane_pitch"] for s in d["strips"] if s["lane_pitch"] > 0]
    min_pitch = min(pitches) if pitches else float(w)
    img_px = float(np.clip(max(1200.0, 22.0 * w / max(min_pitch, 1.0)), 600.0, 2400.0))
    img_px = min(img_px, 1500.0 * w / h) if h > w else img_px  # tall images: cap the height
    margin_frac = 0.07  # a left margin in data units for strip labels
    scale = img_px / w  # display px per file px
    font_pt = 72.0 / dpi  # points per display px
    text_px = float(np.clip(0.45 * min_pitch * scale, 12.0, 18.0))
    small_px = max(MIN_TEXT_PX + 2, 12.0)
    title_px = 3 * (small_px + 8) + 10
    fig_w_px = img_px * (1 + margin_frac) + 20
    fig_h_px = img_px * h / w + title_px + 20
    fig = new_figure(fig_w_px / dpi, fig_h_px / dpi)
    fig.set_dpi(dpi)  # so that text extents measured below are in saved pixels
    ax = fig.add_axes(
        (
            10 / fig_w_px,
            10 / fig_h_px,
            (fig_w_px - 20) / fig_w_px,
            (fig_h_px - title_px - 20) / fig_h_px,
        )
    )
    lo, hi = _contrast(img)
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="antialiased", aspect="equal")
    ax.set_xlim(-margin_frac * w, w)
    ax.set_ylim(h, 0)
    ax.set_facecolor("#202020")
    ax.set_xticks([])
    ax.set_yticks([])
    stroke = [patheffects.withStroke(linewidth=2.5, foreground="black")]

    def view(item: dict[str, Any], frame_box: list[float]) -> Any:
        """The outline to draw: in the file's pixels, or the box in the straightened frame."""
        if in_file:
            return item["outline_in_file"]
        x0, y0, x1, y1 = frame_box
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]

    strip_polys: list[Any] = []
    lane_polys: list[Any] = []
    band_polys: list[Any] = []
    sat_polys: list[Any] = []
    well_polys: list[Any] = []
    for s in d["strips"]:
        r0, r1 = s["rows"]
        strip_polys.append(view(s, [0, r0, w, r1]))
        if s.get("well_row"):
            z0, z1 = s["well_row"]["zone"]
            well_polys.append(view(s["well_row"], [0, z0, w, z1]))
        for lane in s["lanes"]:
            lane_polys.append(view(lane, [lane["left"], r0, lane["right"], r1]))
            for b in lane["bands"]:
                poly = view(b, list(b["box"]))
                (sat_polys if b["saturated"] else band_polys).append(poly)
    # one collection per kind (fast); a thin dark stroke keeps the colours visible on light gels
    for polys, colour, lw, style in (
        (lane_polys, _COLOURS["lane"], 0.9, "-"),
        (band_polys, _COLOURS["band"], 1.0, "-"),
        (sat_polys, _COLOURS["saturated band"], 1.4, "-"),
        (strip_polys, _COLOURS["strip"], 1.8, "--"),
        (well_polys, _COLOURS["wells"], 1.2, ":"),
    ):
        if polys:
            coll = PolyCollection(
                polys, closed=True, facecolors="none", edgecolors=colour, linewidths=lw,
                linestyles=style,
            )  # fmt: skip
            coll.set_path_effects(
                [patheffects.Stroke(linewidth=lw + 1.2, foreground="black", alpha=0.6),
                 patheffects.Normal()]
            )  # fmt: skip
            ax.add_collection(coll)

    for s in d["strips"]:
        r0, r1 = s["rows"]
        top = s["rows_in_file"][0] if in_file else r0
        bottom = s["rows_in_file"][1] if in_file else r1
        ax.text(
            -0.5 * margin_frac * w, 0.5 * (top + bottom),
            f"S{s['number']}\n{s['rotation_deg']:+.2f}°",
            ha="center", va="center", color=_COLOURS["strip"], fontsize=small_px * font_pt,
            fontweight="bold", path_effects=stroke,
        )  # fmt: skip
        last_x: list[float] = []  # right end (display px) of the last label on each level
        for lane in s["lanes"]:
            if in_file:
                (tlx, tly), (trx, try_) = lane["outline_in_file"][0], lane["outline_in_file"][1]
                x, y = 0.5 * (tlx + trx), max(0.0, 0.5 * (tly + try_))  # stay on the image
            else:
                x, y = lane["center"], r0
            # overlapping lanes would print their numbers on top of each other: stagger them
            label = str(lane["number"])
            half = 0.33 * text_px * len(label) + 2.0
            xd = x * scale
            level = next((k for k, end in enumerate(last_x) if xd - half > end), len(last_x))
            level = min(level, 3)
            if level == len(last_x):
                last_x.append(xd + half)
            else:
                last_x[level] = xd + half
            ax.text(
                x, y + (2.0 + level * (text_px + 2)) / scale, label, ha="center", va="top",
                color=_COLOURS["lane"], fontsize=text_px * font_pt, fontweight="bold",
                path_effects=stroke,
            )  # fmt: skip

    lines = _summary_lines(d, frame_note)
    y = fig_h_px - 8
    for i, line in enumerate(lines):
        fig.text(
            10 / fig_w_px, y / fig_h_px, line, ha="left", va="top",
            fontsize=(small_px + (2 if i == 0 else 0)) * font_pt,
            fontweight="bold" if i == 0 else "normal",
            color="#b00000" if (i == 2 and d["findings"]) else "black",
        )  # fmt: skip
        y -= small_px + 8
    # legend, right-aligned on the first title line, each name in its colour
    renderer = fig.canvas.get_renderer()
    x = fig_w_px - 10.0
    for name in reversed(list(_COLOURS)):
        t = fig.text(
            x / fig_w_px, (fig_h_px - 8) / fig_h_px, name, ha="right", va="top",
            color=_COLOURS[name], fontsize=small_px * font_pt, fontweight="bold",
            path_effects=stroke,
        )  # fmt: skip
        x -= float(t.get_window_extent(renderer).width) + 14.0
    return fig
