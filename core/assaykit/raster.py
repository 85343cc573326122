"""QC figures drawn straight to pixels: a small, fixed-layout plotting canvas.

Why not matplotlib for these: a batch draws the same few plot kinds (event
densities, histograms, gel and blot panels) hundreds of times, and in
matplotlib the text layout, tick machinery and artist tree cost 40–350 ms a
figure, most of a run's time (issue 14). Here a figure is a numpy RGB array:
images are indexed into place, lines are drawn anti-aliased by OpenCV, text
is FreeType-rendered by Pillow in matplotlib's own DejaVu Sans (each string
rendered once per process and cached), and the PNG is encoded once. A
figure costs a few milliseconds.

The axes understand the subset of matplotlib's ``Axes`` API that the figure
helpers use (``imshow``, ``plot``, ``stairs``, ``fill_between``,
``axvline``/``axhline``, ``text`` in data or axes coordinates, ticks,
labels, titles, ``legend``), so one helper can draw on either; anything
else raises ``AttributeError`` rather than being ignored. Sizes follow
matplotlib at 100 dpi: a 10 pt font is 13.9 px, a 1.2 pt line 1.7 px.
Layout is fixed by the caller (``subplots_adjust`` fractions), never
computed from the text.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["RasterAxes", "RasterFigure", "Rectangle", "encode_png", "raster_figure", "text_mask",
           "wrap_text"]

DPI = 100
_PT = DPI / 72.0
_TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")
_MATH10 = re.compile(r"^(-?)\$10\^\{(-?\d+)\}\$$")
_RGB = tuple[int, int, int]


# -- colours and text ------------------------------------------------------------------------
@lru_cache(maxsize=512)
def _rgb(color: Any) -> _RGB:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return round(r * 255), round(g * 255), round(b * 255)


@lru_cache(maxsize=16)
def _lut(name: str) -> NDArray[np.uint8]:
    """A colormap as a 256 x 3 uint8 table (matplotlib's own colours)."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    return np.asarray(np.round(cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255), dtype=np.uint8)


def _indices(x: NDArray[Any], bad: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Normalised values (0-1) to colormap indices 0-255; bad pixels (NaN) to 0."""
    y = np.multiply(x, 256.0, dtype=np.float32)
    if bad.any():
        y[bad] = 0.0
    np.clip(y, 0.0, 255.0, out=y)
    return y.astype(np.uint8)


def _colour(idx: NDArray[np.uint8], cmap: str) -> NDArray[np.uint8]:
    """Colormap indices (0-255) to RGB through OpenCV's table lookup (SIMD, no gather).

    A grey colormap is looked up on one channel and then copied to three: a
    2-megapixel gel costs a third of the three-channel lookup.
    """
    import cv2

    lut = _lut(cmap)
    idx = np.ascontiguousarray(idx)
    if np.array_equal(lut[:, 0], lut[:, 1]) and np.array_equal(lut[:, 0], lut[:, 2]):
        grey = cv2.LUT(idx, np.ascontiguousarray(lut[:, 0]))
        return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), dtype=np.uint8)
    three = cv2.cvtColor(idx, cv2.COLOR_GRAY2RGB)
    return np.asarray(cv2.LUT(three, lut.reshape(256, 1, 3)), dtype=np.uint8)


@lru_cache(maxsize=8)
def _font(px: int, bold: bool = False) -> Any:
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), px)


def _px(size_pt: float) -> int:
    return max(1, round(size_pt * _PT))


def _line_mask(text: str, px: int, bold: bool) -> NDArray[np.uint8]:
    """One line of text as an alpha mask, ascender to descender high (one baseline for all)."""
    from PIL import Image, ImageDraw

    m = _MATH10.match(text)
    if m:  # a decade tick label: "10" with the exponent raised and smaller
        base = _line_mask(("\u2212" if m.group(1) else "") + "10", px, bold)
        exp = _line_mask(m.group(2).replace("-", "\u2212"), max(1, int(px * 0.7)), bold)
        out = np.zeros((base.shape[0], base.shape[1] + exp.shape[1] + 1), dtype=np.uint8)
        out[:, : base.shape[1]] = base
        h = min(exp.shape[0], out.shape[0])
        out[:h, base.shape[1] + 1:] = np.maximum(out[:h, base.shape[1] + 1:], exp[:h])
        return out
    font = _font(px, bold)
    ascent, descent = font.getmetrics()
    width = max(1, math.ceil(font.getlength(text)) + 1)
    im = Image.new("L", (width, ascent + descent))
    ImageDraw.Draw(im).text((0, 0), text, font=font, fill=255, anchor="la")
    return np.asarray(im)


@lru_cache(maxsize=4096)
def text_mask(text: str, size_pt: float, rotation: int = 0, bold: bool = False,
              align: str = "left", linespacing: float = 1.2) -> NDArray[np.uint8]:
    """``text`` (lines split at newlines) as an alpha mask; ``rotation`` 0 or 90 degrees."""
    px = _px(size_pt)
    lines = [_line_mask(t, px, bold) for t in text.split("\n")]
    step = max(1, round(linespacing * px))
    width = max(m.shape[1] for m in lines)
    height = step * (len(lines) - 1) + lines[-1].shape[0]
    out = np.zeros((height, width), dtype=np.uint8)
    for k, m in enumerate(lines):
        x = {"left": 0, "center": (width - m.shape[1]) // 2, "right": width - m.shape[1]}[align]
        y = k * step
        out[y:y + m.shape[0], x:x + m.shape[1]] = np.maximum(out[y:y + m.shape[0],
                                                                 x:x + m.shape[1]], m)
    if rotation == 90:
        out = np.ascontiguousarray(np.rot90(out))
    out.setflags(write=False)
    return out


def wrap_text(text: str, room: float, size: float) -> str:
    """``text`` broken at spaces into lines at most ``room`` px wide at ``size`` pt (a
    single longer word keeps its own line): tick labels never run into each other."""
    out: list[str] = []
    for part in text.split("\n"):
        line = ""
        for word in part.split(" "):
            trial = f"{line} {word}" if line else word
            if line and text_mask(trial, size).shape[1] > room:
                out.append(line)
                line = word
            else:
                line = trial
        out.append(line)
    return "\n".join(out)


def _blend(canvas: NDArray[np.uint8], mask: NDArray[Any], x: int, y: int, color: _RGB,
           alpha: float = 1.0) -> None:
    """Paint ``color`` through ``mask`` (0–255) with its top-left corner at (x, y), clipped."""
    h, w = mask.shape
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    import cv2

    a = mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32) * np.float32(alpha / 255.0)
    region = canvas[y0:y1, x0:x1]
    solid = np.empty_like(region)
    solid[...] = color
    # one C pass (OpenCV) instead of four numpy passes: fills cover whole plot areas
    canvas[y0:y1, x0:x1] = cv2.blendLinear(solid, np.ascontiguousarray(region), a, 1.0 - a)


def _mix(region: NDArray[np.uint8], layer: NDArray[np.uint8], alpha: float) -> None:
    """``layer`` (a drawn-on copy of ``region``) mixed into ``region`` with ``alpha``.

    Why: drawing opaque on a copy and mixing is two uint8 SIMD passes, where a
    float coverage mask costs four numpy passes over the same box.
    """
    import cv2

    if alpha >= 1.0:
        region[...] = layer
    else:
        region[...] = cv2.addWeighted(layer, float(alpha), region, 1.0 - float(alpha), 0.0)


def fill_rect(canvas: NDArray[np.uint8], x0: float, y0: float, x1: float, y1: float,
              color: Any, alpha: float = 1.0) -> None:
    """An axis-aligned filled rectangle (pixel edges rounded), blended with ``alpha``."""
    import cv2

    H, W = canvas.shape[:2]
    xa, xb = sorted((round(x0), round(x1)))
    ya, yb = sorted((round(y0), round(y1)))
    xa, ya, xb, yb = max(xa, 0), max(ya, 0), min(xb, W), min(yb, H)
    if xa >= xb or ya >= yb:
        return
    region = canvas[ya:yb, xa:xb]
    solid = np.empty_like(region)
    solid[...] = _rgb(color) if not isinstance(color, tuple) or len(color) != 3 or max(
        color) > 1 else tuple(round(c * 255) for c in color)
    region[...] = cv2.addWeighted(solid, float(alpha), region, 1.0 - float(alpha), 0.0)


def _anchor(w: int, h: int, x: float, y: float, ha: str, va: str) -> tuple[int, int]:
    left = x - {"left": 0.0, "center": w / 2.0, "right": float(w)}[ha]
    top = y - {"top": 0.0, "center": h / 2.0, "center_baseline": h / 2.0, "baseline": h * 0.76,
               "bottom": float(h)}[va]
    return round(left), round(top)


def draw_text(canvas: NDArray[np.uint8], text: str, x: float, y: float, *, size: float = 10.0,
              color: Any = "black", ha: str = "left", va: str = "baseline", rotation: int = 0,
              bold: bool = False, box: Mapping[str, Any] | None = None,
              linespacing: float = 1.2, log: list[tuple[str, int]] | None = None,
              ) -> tuple[int, int, int, int]:
    """Draw ``text`` anchored at pixel (x, y); return its box (x0, y0, x1, y1).

    ``log`` collects (text, font size in px) of what was drawn, for tests of
    readability (every text >= 10 px at native size).
    """
    if not text or not text.strip():
        return (int(x), int(y), int(x), int(y))
    if log is not None:
        log.append((text, _px(size)))
    mask = text_mask(text, float(size), 90 if rotation == 90 else 0, bold, ha, float(linespacing))
    h, w = mask.shape
    left, top = _anchor(w, h, x, y, ha, va)
    if box is not None:
        pad = round(float(box.get("pad", 0.3)) * _px(size))
        fc = box.get("facecolor", box.get("fc", "white"))
        if fc not in (None, "none"):
            bm = np.full((h + 2 * pad, w + 2 * pad), 255, dtype=np.uint8)
            _blend(canvas, bm, left - pad, top - pad, _rgb(fc), float(box.get("alpha", 1.0)))
    _blend(canvas, mask, left, top, _rgb(color))
    return left, top, left + w, top + h


# -- lines -----------------------------------------------------------------------------------
_DASHES = {"--": (3.7, 1.6), "dashed": (3.7, 1.6), ":": (1.0, 1.65), "dotted": (1.0, 1.65),
           "-.": (6.4, 1.6, 1.0, 1.6), "dashdot": (6.4, 1.6, 1.0, 1.6)}


def _dashed(points: NDArray[np.float64], pattern: Sequence[float]) -> list[NDArray[np.float64]]:
    """Split a polyline (pixels) into its dash segments (``pattern`` in pixels, on/off).

    Vectorised: a dotted rectangle round every gel band has hundreds of dashes.
    """
    seg = np.diff(points, axis=0)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
    total = float(cum[-1])
    period = float(sum(pattern))
    if total <= 0 or period <= 0:
        return []
    offs = np.concatenate([[0.0], np.cumsum(pattern)])[:-1]
    on_off, on_len = offs[0::2], np.asarray(pattern[0::2], dtype=np.float64)
    n = int(total // period) + 1
    starts = (np.arange(n)[:, None] * period + on_off[None, :]).ravel()
    ends = np.minimum(starts + np.tile(on_len, n), total)
    keep = starts < total
    starts, ends = starts[keep], ends[keep]
    inner = cum[1:-1]
    j = np.searchsorted(starts, inner, side="right") - 1
    inside = (j >= 0) & (inner < ends[np.maximum(j, 0)])
    ids = np.concatenate([np.arange(starts.size), j[inside], np.arange(starts.size)])
    ts = np.concatenate([starts, inner[inside], ends])
    order = np.lexsort((ts, ids))
    ids, ts = ids[order], ts[order]
    xy = np.column_stack([np.interp(ts, cum, points[:, 0]), np.interp(ts, cum, points[:, 1])])
    bounds = [0, *(np.flatnonzero(np.diff(ids)) + 1).tolist(), len(xy)]
    # slices, not np.split: that costs ~20 us a piece, and a dotted box has hundreds
    return [xy[a:b] for a, b in itertools.pairwise(bounds) if b - a >= 2]


def _box(pts: NDArray[np.float64], shape: tuple[int, ...], margin: float
         ) -> tuple[int, int, int, int] | None:
    """The pixel rectangle (clipped to ``shape``) that holds ``pts`` widened by ``margin``."""
    x0 = max(math.floor(float(pts[:, 0].min()) - margin), 0)
    y0 = max(math.floor(float(pts[:, 1].min()) - margin), 0)
    x1 = min(math.ceil(float(pts[:, 0].max()) + margin) + 1, shape[1])
    y1 = min(math.ceil(float(pts[:, 1].max()) + margin) + 1, shape[0])
    return None if x0 >= x1 or y0 >= y1 else (x0, y0, x1, y1)


def _fixed(pts: NDArray[np.float64], dx: int = 0, dy: int = 0) -> NDArray[np.int32]:
    """Points in OpenCV's fixed point (4 fractional bits), shifted by (dx, dy) px."""
    # our coordinates put pixel edges at integers; OpenCV puts pixel centres there
    q = np.round((pts - np.array([dx + 0.5, dy + 0.5], dtype=np.float64)) * 16)
    return np.asarray(q, dtype=np.int32).reshape(-1, 1, 2)


def _fixed_parts(parts: list[NDArray[np.float64]], dx: int = 0, dy: int = 0
                 ) -> list[NDArray[np.int32]]:
    """:func:`_fixed` of many polylines at once (dashes: hundreds per rectangle)."""
    if len(parts) == 1:
        return [_fixed(parts[0], dx, dy)]
    allp = _fixed(np.concatenate(parts), dx, dy)
    ends = np.cumsum([len(p) for p in parts]).tolist()
    return [allp[a:b] for a, b in zip([0, *ends[:-1]], ends)]


def _clean(points: Any) -> NDArray[np.float64]:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    return np.clip(pts, -1e5, 1e5)


def draw_polyline(canvas: NDArray[np.uint8], points: Any, color: Any, lw: float = 1.5,
                  ls: str = "-", alpha: float = 1.0) -> None:
    """An anti-aliased polyline through pixel ``points`` (n x 2, x then y), ``lw`` in points."""
    import cv2

    pts = _clean(points)
    if len(pts) < 2:
        return
    # OpenCV's anti-aliased line of thickness t covers about t + 1 pixels: floor, not round
    thick = max(1, int(lw * _PT))
    pattern = _DASHES.get(ls)
    if pattern is None:
        parts = [pts]
    else:  # the round caps of OpenCV's thick lines add thick/2 to each end of a dash
        cap = (thick - 1) / 2.0
        pat = [p * lw * _PT + (-2 * cap if k % 2 == 0 else 2 * cap) for k, p in enumerate(pattern)]
        parts = _dashed(pts, [max(p, 0.5) for p in pat])
    parts = [p for p in parts if len(p) >= 2]
    if not parts:
        return
    col = _rgb(color)
    if alpha >= 1.0:
        cv2.polylines(canvas, _fixed_parts(parts), False, col, thick, cv2.LINE_AA, 4)
        return
    box = _box(np.concatenate(parts), canvas.shape, thick + 2)
    if box is None:
        return
    x0, y0, x1, y1 = box
    region = canvas[y0:y1, x0:x1]
    layer = region.copy()
    cv2.polylines(layer, _fixed_parts(parts, x0, y0), False, col, thick, cv2.LINE_AA, 4)
    _mix(region, layer, alpha)


def fill_polygon(canvas: NDArray[np.uint8], points: Any, color: Any, alpha: float = 1.0) -> None:
    """A filled polygon (pixel points), blended with ``alpha``."""
    import cv2

    pts = _clean(points)
    if len(pts) < 3:
        return
    box = _box(pts, canvas.shape, 2)
    if box is None:
        return
    x0, y0, x1, y1 = box
    region = canvas[y0:y1, x0:x1]
    if alpha >= 1.0:
        cv2.fillPoly(region, [_fixed(pts, x0, y0)], _rgb(color), cv2.LINE_AA, 4)
        return
    layer = region.copy()
    cv2.fillPoly(layer, [_fixed(pts, x0, y0)], _rgb(color), cv2.LINE_AA, 4)
    _mix(region, layer, alpha)


def draw_rect_outline(canvas: NDArray[np.uint8], x0: float, y0: float, x1: float, y1: float,
                      color: Any, lw: float = 1.0, ls: str = "-", alpha: float = 1.0) -> None:
    """An axis-aligned rectangle's outline in whole pixels, ``lw`` points thick.

    Why not anti-aliased lines: matplotlib snaps axis-aligned edges to the pixel
    grid too, and four thin strips cost a few microseconds where an outline
    drawn and blended through OpenCV costs ~0.5 ms (a gel figure has a hundred
    lane and band boxes). Dashes follow :data:`_DASHES`, restarting at each side.
    """
    H, W = canvas.shape[:2]
    t = max(1, int(lw * _PT))
    xa, xb = sorted((float(x0), float(x1)))
    ya, yb = sorted((float(y0), float(y1)))
    rgb = _rgb(color)
    col = np.asarray(rgb, dtype=np.float32)
    pattern = _DASHES.get(ls)
    solid = pattern is None and alpha >= 1.0

    def on(n: int) -> NDArray[np.float32]:
        if pattern is None or n <= 0:
            return np.ones(max(n, 0), dtype=np.float32)
        pat = [max(1.0, p * lw * _PT) for p in pattern]
        edges = np.concatenate([[0.0], np.cumsum(pat)])
        pos = np.arange(n) % edges[-1]
        m = np.zeros(n, dtype=bool)
        for k in range(0, len(pat), 2):
            m |= (pos >= edges[k]) & (pos < edges[k + 1])
        return m.astype(np.float32)

    def paint(r0: int, c0: int, weight: NDArray[np.float32]) -> None:
        """Blend ``weight`` (rows x cols, its top-left at r0, c0) in, clipped to the canvas."""
        ra, ca = max(r0, 0), max(c0, 0)
        rb, cb = min(r0 + weight.shape[0], H), min(c0 + weight.shape[1], W)
        if ra >= rb or ca >= cb:
            return
        w = weight[ra - r0:rb - r0, ca - c0:cb - c0] * np.float32(alpha)
        region = canvas[ra:rb, ca:cb].astype(np.float32)
        canvas[ra:rb, ca:cb] = np.asarray(region + (col - region) * w[..., None] + 0.5,
                                          dtype=np.uint8)

    left, right = round(xa - t / 2), round(xb - t / 2)
    top, bottom = round(ya - t / 2), round(yb - t / 2)
    if solid:  # four assignments, no weights
        for r0, r1, c0, c1 in ((top, top + t, left, right + t),
                               (bottom, bottom + t, left, right + t),
                               (top, bottom + t, left, left + t),
                               (top, bottom + t, right, right + t)):
            ra, rb, ca, cb = max(r0, 0), min(r1, H), max(c0, 0), min(c1, W)
            if ra < rb and ca < cb:
                canvas[ra:rb, ca:cb] = rgb
        return
    # the dash phase is counted from each side's start, also where it is clipped
    horiz = np.broadcast_to(on(right + t - left)[None, :], (t, right + t - left))
    paint(top, left, horiz)
    paint(bottom, left, horiz)
    n = bottom - top - t
    if n > 0:
        vert = np.broadcast_to(on(n)[:, None], (n, t))
        paint(top + t, left, vert)
        paint(top + t, right, vert)


def draw_markers(canvas: NDArray[np.uint8], xs: Any, ys: Any, marker: str = "o",
                 size: float = 36.0, face: Any = "C0", edge: Any = None, lw: float = 1.0,
                 alpha: float = 1.0) -> None:
    """Markers at pixel points: "o" circle, "D" diamond, "s" square (filled with ``face``,
    outlined with ``edge``), "X"/"x" cross (drawn in ``edge``, or ``face``). ``size`` is
    matplotlib's ``s``, the marker's area in pt²."""
    import cv2

    pts = _clean(np.column_stack([np.asarray(xs, float).ravel(), np.asarray(ys, float).ravel()]))
    if not len(pts):
        return
    r = max(1.0, math.sqrt(float(size)) / 2.0 * _PT)
    thick = max(1, int(lw * _PT))
    box = _box(pts, canvas.shape, r + thick + 2)
    if box is None:
        return
    x0, y0, x1, y1 = box
    layer = canvas[y0:y1, x0:x1].copy()
    shift = 4  # OpenCV's fixed-point sub-pixel bits
    for px, py in pts - (x0, y0):
        c = (round(px * 16), round(py * 16))
        if marker in ("X", "x"):
            col = _rgb(edge if edge not in (None, "none") else face)
            d = r * 0.8
            for sx in (-1, 1):
                cv2.line(layer, (round((px - d) * 16), round((py - sx * d) * 16)),
                         (round((px + d) * 16), round((py + sx * d) * 16)), col,
                         thick + (1 if marker == "X" else 0), cv2.LINE_AA, shift)
            continue
        if marker == "D":
            poly = np.array([[px, py - r], [px + r, py], [px, py + r], [px - r, py]])
        elif marker == "s":
            poly = np.array([[px - r, py - r], [px + r, py - r], [px + r, py + r],
                             [px - r, py + r]])
        else:
            poly = None
        if face not in (None, "none"):
            if poly is None:
                cv2.circle(layer, c, round(r * 16), _rgb(face), -1, cv2.LINE_AA, shift)
            else:
                cv2.fillPoly(layer, [np.round(poly * 16).astype(np.int32)], _rgb(face),
                             cv2.LINE_AA, shift)
        if edge not in (None, "none"):
            if poly is None:
                cv2.circle(layer, c, round(r * 16), _rgb(edge), thick, cv2.LINE_AA, shift)
            else:
                cv2.polylines(layer, [np.round(poly * 16).astype(np.int32)], True, _rgb(edge),
                              thick, cv2.LINE_AA, shift)
    _mix(canvas[y0:y1, x0:x1], layer, alpha)


# -- ticks -----------------------------------------------------------------------------------
def _auto_ticks(lo: float, hi: float, length_px: int, per_tick: float,
                most: int | None = None) -> list[float]:
    """matplotlib's AutoLocator: at most one tick per ``per_tick`` label sizes of axis."""
    from matplotlib.ticker import MaxNLocator

    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return []
    nbins = max(1, min(most or 9, int(length_px / _PT / (10.0 * per_tick))))
    ticks = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    eps = 1e-9 * (hi - lo)
    return [float(t) for t in ticks if lo - eps <= t <= hi + eps]


def _tick_labels(ticks: Sequence[float], scilimits: tuple[int, int]) -> tuple[list[str], str]:
    """Plain labels with the fewest decimals that tell the ticks apart, and an offset text
    (``1e5``) when the largest lies outside ``10**scilimits``, like ScalarFormatter."""
    if not ticks:
        return [], ""
    big = max(abs(t) for t in ticks)
    exp = math.floor(math.log10(big)) if big > 0 else 0
    offset = ""
    scale = 1.0
    if big > 0 and not (scilimits[0] <= exp < scilimits[1] + 1):
        scale = 10.0 ** exp
        offset = f"1e{exp}"
    vals = [t / scale for t in ticks]
    span = max(abs(v) for v in vals) or 1.0
    dec = next((d for d in range(7)
                if all(abs(round(v, d) - v) <= 1e-9 * span for v in vals)), 6)
    labels = [f"{v:.{dec}f}".replace("-", "\u2212") for v in vals]
    labels = ["0" if lab.strip("\u22120.") == "" else lab for lab in labels]
    return labels, offset


# -- axes ------------------------------------------------------------------------------------
@lru_cache(maxsize=512)
def _rgba(color: Any, alpha: float | None) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return tuple(float(c) for c in to_rgba(color, alpha))  # type: ignore[return-value]


class Rectangle:
    """A rectangle for :meth:`RasterAxes.add_patch`, with matplotlib's arguments.

    Why not matplotlib's: its artist machinery costs ~0.2 ms a rectangle, and a
    gel figure draws a hundred. The colour rules are matplotlib's: ``color``
    sets both; a filled rectangle has no edge unless given one; an unfilled one
    has a black edge; ``alpha`` applies to face and edge.
    """

    def __init__(self, xy: tuple[float, float], width: float, height: float, *,
                 fill: bool = True, color: Any = None, facecolor: Any = None,
                 edgecolor: Any = None, linewidth: float | None = None,
                 linestyle: str = "-", alpha: float | None = None, **kw: Any) -> None:
        fc = kw.pop("fc", facecolor)
        ec = kw.pop("ec", edgecolor)
        lw = kw.pop("lw", linewidth)
        ls = kw.pop("ls", linestyle)
        if kw:
            raise TypeError(f"Rectangle: unsupported argument(s) {sorted(kw)}")
        if color is not None:
            fc = color if fc is None else fc
            ec = color if ec is None else ec
        self._xy = (float(xy[0]), float(xy[1]))
        self._w, self._h = float(width), float(height)
        self._fill = bool(fill)
        self._fc = _rgba("C0" if fc is None else fc, alpha) if fill else (0.0, 0.0, 0.0, 0.0)
        if ec is None:
            ec = "none" if fill else "black"
        self._ec = (0.0, 0.0, 0.0, 0.0) if ec == "none" else _rgba(ec, alpha)
        self._lw = 1.0 if lw is None else float(lw)
        self._ls = str(ls)

    def get_xy(self) -> tuple[float, float]:
        return self._xy

    def get_width(self) -> float:
        return self._w

    def get_height(self) -> float:
        return self._h

    def get_fill(self) -> bool:
        return self._fill

    def get_facecolor(self) -> tuple[float, float, float, float]:
        return self._fc

    def get_edgecolor(self) -> tuple[float, float, float, float]:
        return self._ec

    def get_linewidth(self) -> float:
        return self._lw

    def get_linestyle(self) -> str:
        return self._ls


class _Transform:
    """A marker for ``transform=ax.transAxes`` (coordinates 0–1 of the axes box)."""


@dataclass
class _Op:
    z: float
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


class RasterAxes:
    """One plot box of a :class:`RasterFigure`; a matplotlib-like subset (see the module)."""

    def __init__(self, fig: RasterFigure, place: tuple[Any, ...]) -> None:
        self.figure = fig
        #: ("rect", l, b, w, h) in figure fractions, or ("grid", nrows, ncols, index)
        self._place = place
        self.transAxes = _Transform()
        self.transData = None
        self._ops: list[_Op] = []
        self._xlim: tuple[float, float] | None = None
        self._ylim: tuple[float, float] | None = None
        self._xdata: list[float] = []
        self._ydata: list[float] = []
        self._ysticky0 = False
        self._ticks: dict[str, list[float] | None] = {"x": None, "y": None}
        self._ticklabels: dict[str, list[str] | None] = {"x": None, "y": None}
        self._labels = {"x": "", "y": ""}
        self._title = ("", 9.0)
        self._title_loc = "center"
        self._legend: dict[str, Any] | None = None
        self._handles: list[tuple[str, dict[str, Any]]] = []
        self._scilimits = (-5, 6)
        self._axis_on = True
        self._cycle = 0
        self._fill_cycle = 0
        self._ticksize = 10.0
        self._labelsize = 10.0
        self._nbins: int | None = None
        self.legend_ = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 in figure pixels, y down; the frame lies just outside it."""
        return self.figure._box(self._place)

    # data extent -------------------------------------------------------------------------
    def _extend(self, xs: Any, ys: Any) -> None:
        x = np.asarray(xs, dtype=np.float64).ravel()
        y = np.asarray(ys, dtype=np.float64).ravel()
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if x.size:
            self._xdata += [float(x.min()), float(x.max())]
        if y.size:
            self._ydata += [float(y.min()), float(y.max())]

    @staticmethod
    def _auto(data: list[float], sticky0: bool = False) -> tuple[float, float]:
        if not data:
            return 0.0, 1.0
        lo, hi = min(data), max(data)
        if hi <= lo:
            return lo - 0.5, hi + 0.5
        pad = 0.05 * (hi - lo)
        return (lo if sticky0 and lo == 0 else lo - pad), hi + pad

    def get_xlim(self) -> tuple[float, float]:
        return self._xlim if self._xlim is not None else self._auto(self._xdata)

    def get_ylim(self) -> tuple[float, float]:
        return self._ylim if self._ylim is not None else self._auto(self._ydata, self._ysticky0)

    def set_xlim(self, left: Any, right: float | None = None, **_: Any) -> None:
        lo, hi = left if right is None else (left, right)
        self._xlim = (float(lo), float(hi))

    def set_ylim(self, bottom: Any, top: float | None = None, **_: Any) -> None:
        lo, hi = bottom if top is None else (bottom, top)
        self._ylim = (float(lo), float(hi))

    # labels and ticks --------------------------------------------------------------------
    def set_xticks(self, ticks: Sequence[float]) -> None:
        self._ticks["x"] = [float(t) for t in ticks]
        self._ticklabels["x"] = None

    def set_yticks(self, ticks: Sequence[float]) -> None:
        self._ticks["y"] = [float(t) for t in ticks]
        self._ticklabels["y"] = None

    def set_xticklabels(self, labels: Sequence[str], **_: Any) -> None:
        self._ticklabels["x"] = [str(s) for s in labels]

    def set_yticklabels(self, labels: Sequence[str], **_: Any) -> None:
        self._ticklabels["y"] = [str(s) for s in labels]

    def set_xlabel(self, text: str, fontsize: float | None = None, **_: Any) -> None:
        self._labels["x"] = str(text)
        if fontsize is not None:
            self._labelsize = float(fontsize)

    def set_ylabel(self, text: str, fontsize: float | None = None, **_: Any) -> None:
        self._labels["y"] = str(text)
        if fontsize is not None:
            self._labelsize = float(fontsize)

    def set_title(self, text: str, fontsize: float = 12.0, loc: str = "center",
                  **_: Any) -> None:
        self._title = (str(text), float(fontsize))
        self._title_loc = loc if loc in ("left", "center", "right") else "center"

    def ticklabel_format(self, style: str = "", scilimits: tuple[int, int] | None = None,
                         **_: Any) -> None:
        if scilimits is not None:
            self._scilimits = (int(scilimits[0]), int(scilimits[1]))

    def set_axis_off(self) -> None:
        self._axis_on = False

    def tick_params(self, labelsize: float | None = None, **_: Any) -> None:
        if labelsize is not None:
            self._ticksize = float(labelsize)

    def locator_params(self, nbins: int | None = None, **_: Any) -> None:
        self._nbins = None if nbins is None else int(nbins)

    def add_patch(self, patch: Any) -> None:
        """A matplotlib ``Rectangle`` (outline and/or fill), drawn in data coordinates."""
        x, y = patch.get_xy()
        w, h = patch.get_width(), patch.get_height()
        fc = patch.get_facecolor()
        ec = patch.get_edgecolor()
        xs = [float(x), float(x) + float(w)]
        ys = [float(y), float(y) + float(h)]
        if all(math.isfinite(v) for v in (*xs, *ys)):  # plain floats: a gel has a hundred
            self._xdata += [min(xs), max(xs)]
            self._ydata += [min(ys), max(ys)]
        self._add(1, "rect", x=float(x), y=float(y), w=float(w), h=float(h),
                  fc=tuple(float(c) for c in fc) if patch.get_fill() else None,
                  ec=tuple(float(c) for c in ec), lw=float(patch.get_linewidth()),
                  ls=str(patch.get_linestyle()))

    # artists -----------------------------------------------------------------------------
    def _color(self, color: Any) -> Any:
        if color is None:
            color = _TAB10[self._cycle % len(_TAB10)]
            self._cycle += 1
        return color

    def _add(self, z: float, kind: str, label: str | None = None, **args: Any) -> None:
        self._ops.append(_Op(z, kind, args))
        if label and not str(label).startswith("_"):
            self._handles.append((str(label), args))

    def imshow(self, img: Any, *, origin: str = "upper", extent: Sequence[float] | None = None,
               norm: Any = None, cmap: str = "viridis", vmin: float | None = None,
               vmax: float | None = None, interpolation: str = "nearest", **_: Any) -> None:
        """An image in data coordinates; masked or NaN pixels are left transparent."""
        arr = np.ma.asarray(img)
        h, w = arr.shape[:2]
        left, r, b, t = (extent if extent is not None else (-0.5, w - 0.5, h - 0.5, -0.5))
        if extent is None and origin == "lower":
            b, t = t, b
        self._add(0, "image", img=arr, extent=(float(left), float(r), float(b), float(t)),
                  origin=origin, norm=norm, cmap=cmap, vmin=vmin, vmax=vmax,
                  interpolation=interpolation)
        if self._xlim is None:
            self._xlim = (float(left), float(r))
        if self._ylim is None:
            self._ylim = (float(b), float(t))

    def plot(self, x: Any, y: Any, color: Any = None, lw: float = 1.5, ls: str = "-",
             label: str | None = None, alpha: float = 1.0, **kw: Any) -> None:
        color = self._color(kw.get("c", color))
        lw = float(kw.get("linewidth", lw))
        ls = str(kw.get("linestyle", ls))
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = np.asarray(y, dtype=np.float64).ravel()
        self._extend(xs, ys)
        self._add(2, "line", label, x=xs, y=ys, color=color, lw=lw, ls=ls, alpha=alpha)

    def stairs(self, values: Any, edges: Any, color: Any = None, lw: float = 1.5,
               label: str | None = None, alpha: float = 1.0, fill: bool = False,
               **_: Any) -> None:
        h = np.asarray(values, dtype=np.float64)
        e = np.asarray(edges, dtype=np.float64)
        xs = np.repeat(e, 2)[1:-1]
        ys = np.repeat(h, 2)
        self._extend(e, np.concatenate([ys, [0.0]]))
        self._ysticky0 = True
        color = self._color(color)
        if fill:
            px = np.concatenate([[xs[0]], xs, [xs[-1]]])
            py = np.concatenate([[0.0], ys, [0.0]])
            self._add(1, "fill", label, x=px, y=py, color=color, alpha=alpha)
        else:
            self._add(2, "line", label, x=xs, y=ys, color=color, lw=lw, ls="-", alpha=alpha)

    def scatter(self, x: Any, y: Any, s: float = 36.0, color: Any = None, marker: str = "o",
                alpha: float = 1.0, facecolor: Any = None, edgecolor: Any = None,
                linewidths: float = 1.0, label: str | None = None, zorder: float = 2.5,
                **_: Any) -> None:
        """Markers (see :func:`draw_markers`); ``color`` fills, ``facecolor``/``edgecolor``
        override it (``"none"`` for an open marker)."""
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = np.asarray(y, dtype=np.float64).ravel()
        self._extend(xs, ys)
        face = facecolor if facecolor is not None else self._color(color)
        self._add(float(zorder), "markers", label, x=xs, y=ys, marker=marker, size=float(s),
                  face=face, edge=edgecolor, mlw=float(linewidths), alpha=float(alpha),
                  color=edgecolor if face in (None, "none") else face)

    def fill_between(self, x: Any, y1: Any, y2: Any = 0.0, color: Any = None, alpha: float = 1.0,
                     **_: Any) -> None:
        xs = np.asarray(x, dtype=np.float64).ravel()
        a = np.broadcast_to(np.asarray(y1, dtype=np.float64), xs.shape)
        b = np.broadcast_to(np.asarray(y2, dtype=np.float64), xs.shape)
        if color is None:
            color = _TAB10[self._fill_cycle % len(_TAB10)]
            self._fill_cycle += 1
        self._extend(xs, np.concatenate([a, b]))
        self._add(1, "fill", None, x=np.concatenate([xs, xs[::-1]]),
                  y=np.concatenate([a, b[::-1]]), color=color, alpha=alpha)

    def axvline(self, x: float, color: Any = None, lw: float = 1.5, ls: str = "-",
                label: str | None = None, **_: Any) -> None:
        self._add(2, "vline", label, v=float(x), color=self._color(color), lw=lw, ls=ls)

    def axhline(self, y: float, color: Any = None, lw: float = 1.5, ls: str = "-",
                label: str | None = None, **_: Any) -> None:
        self._add(2, "hline", label, v=float(y), color=self._color(color), lw=lw, ls=ls)

    def text(self, x: float, y: float, s: str, transform: Any = None, ha: str = "left",
             va: str = "baseline", fontsize: float = 10.0, color: Any = "black",
             bbox: Mapping[str, Any] | None = None, rotation: float = 0, **kw: Any) -> None:
        ha = str(kw.get("horizontalalignment", ha))
        va = str(kw.get("verticalalignment", va))
        weight = kw.get("fontweight", kw.get("weight"))
        self._add(3, "text", x=float(x), y=float(y), s=str(s), axes=transform is self.transAxes,
                  ha=ha, va=va, size=float(fontsize), color=color, bbox=bbox,
                  rotation=int(rotation), bold=weight == "bold",
                  linespacing=float(kw.get("linespacing", 1.2)))

    def drawn(self, kind: str) -> list[dict[str, Any]]:
        """What was drawn of one ``kind`` ("rect", "line", "text", ...), in call order.

        Why: tests and audits check a figure's content (a bar's top, a line's
        position) without reading pixels; the dicts are the call's arguments.
        """
        return [dict(op.args) for op in self._ops if op.kind == kind]

    def get_ylabel(self) -> str:
        return self._labels["y"]

    def get_xticklabels_text(self) -> list[str]:
        """The x tick labels as set (``set_xticklabels``), or [] when automatic."""
        return list(self._ticklabels["x"] or [])

    def get_yticks(self) -> list[float]:
        """The y ticks as set (``set_yticks``), or [] when automatic."""
        return list(self._ticks["y"] or [])

    def get_yticklabels_text(self) -> list[str]:
        """The y tick labels as set (``set_yticklabels``), or [] when automatic."""
        return list(self._ticklabels["y"] or [])

    def get_legend_handles_labels(self) -> tuple[list[dict[str, Any]], list[str]]:
        return [a for _, a in self._handles], [lab for lab, _ in self._handles]

    def legend(self, fontsize: float = 10.0, loc: str = "best", **_: Any) -> None:
        self._legend = {"size": float(fontsize), "loc": str(loc)}

    # drawing -----------------------------------------------------------------------------
    def _mapper(self) -> tuple[Any, Any]:
        x0, y0, x1, y1 = self.box
        (a, b), (c, d) = self.get_xlim(), self.get_ylim()
        w, h = x1 - x0, y1 - y0
        sx = w / (b - a) if b != a else 0.0
        sy = h / (d - c) if d != c else 0.0

        def fx(v: Any) -> Any:
            return (np.asarray(v, dtype=np.float64) - a) * sx

        def fy(v: Any) -> Any:
            return h - (np.asarray(v, dtype=np.float64) - c) * sy

        return fx, fy

    def _render_image(self, area: NDArray[np.uint8], op: _Op) -> None:
        """Resample the image to the plot's pixels first, then colour only those.

        Why that order: a gel of 1500 x 1100 px shown at about its size costs
        the colour mapping once per shown pixel, and a 160-bin density costs it
        160 x 160 times plus an index gather.
        """
        import cv2

        arr: np.ma.MaskedArray = op.args["img"]
        fx, fy = self._mapper()
        left, r, b, t = op.args["extent"]
        h, w = arr.shape[:2]
        H, W = area.shape[:2]
        # pixel centres of the plot area in data units, then in image rows / columns
        (a, bx), (c, d) = self.get_xlim(), self.get_ylim()
        cx = a + (np.arange(W) + 0.5) * (bx - a) / W
        cy = d - (np.arange(H) + 0.5) * (d - c) / H
        col = np.floor((cx - left) / (r - left) * w).astype(np.int64)
        lower = op.args["origin"] == "lower"
        if t == b:
            return
        frac = (cy - b) / (t - b) if lower else (t - cy) / (t - b)
        row = np.floor(frac * h).astype(np.int64)
        okc = np.flatnonzero((col >= 0) & (col < w))
        okr = np.flatnonzero((row >= 0) & (row < h))
        if not okc.size or not okr.size:
            return
        r0, r1, c0, c1 = int(okr[0]), int(okr[-1]) + 1, int(okc[0]), int(okc[-1]) + 1
        data = np.ma.getdata(arr)
        mask = np.asarray(np.ma.getmaskarray(arr), dtype=bool)
        if mask.ndim == 3:
            mask = np.asarray(mask.any(axis=-1))
        if data.ndim == 2:
            mask = np.asarray(mask | ~np.isfinite(data))
        if op.args["interpolation"] != "nearest" and (h > H or w > W):
            # downsampling: average the image over each shown pixel (matplotlib's
            # 'antialiased'), at the size the whole image would have on screen
            x_lo, x_hi = float(fx(left)), float(fx(r))
            ys = fy([b, t])
            y_top, y_bot = float(np.min(ys)), float(np.max(ys))
            size = (max(1, round(abs(x_hi - x_lo))), max(1, round(y_bot - y_top)))
            src = np.where(mask[..., None] if data.ndim == 3 else mask, 0, data)
            src = np.ascontiguousarray(src if not lower else src[::-1], dtype=np.float32)
            small = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
            mk = np.ascontiguousarray((mask if not lower else mask[::-1]).astype(np.uint8))
            smallbad = cv2.resize(mk, size, interpolation=cv2.INTER_NEAREST).astype(bool)
            rr = np.clip(np.arange(r0, r1) - round(y_top), 0, size[1] - 1)
            cc = np.clip(np.arange(c0, c1) - round(min(x_lo, x_hi)), 0, size[0] - 1)
            vals = small.take(rr, axis=0).take(cc, axis=1)
            bad = smallbad.take(rr, axis=0).take(cc, axis=1)
        else:
            ri = np.clip(row[r0:r1], 0, h - 1)
            ci = np.clip(col[c0:c1], 0, w - 1)
            if data.ndim == 2 and h * w < ri.size * ci.size:
                # enlarged (a 160-bin density on 400 px): colour the bins, then gather
                src = data if data.dtype == np.float32 else np.asarray(data, dtype=np.float64)
                x, bad = self._normalise(src, mask, op, data,
                                         mask)
                idx = _indices(x, bad)
                shown = idx.take(ri, axis=0).take(ci, axis=1)  # 1 byte a pixel to gather
                self._put(area[r0:r1, c0:c1], _colour(shown, str(op.args["cmap"])),
                          bad.take(ri, axis=0).take(ci, axis=1))
                return
            vals = data.take(ri, axis=0).take(ci, axis=1)
            bad = mask.take(ri, axis=0).take(ci, axis=1)
        alpha: NDArray[np.float64] | None = None
        if vals.ndim == 3:  # RGB(A) already, floats 0-1 or uint8
            scale = 255.0 if data.dtype.kind == "f" else 1.0
            rgb8 = np.asarray(np.clip(np.asarray(vals[..., :3], np.float64) * scale, 0, 255),
                              dtype=np.uint8)
            if vals.shape[2] == 4:
                alpha = np.asarray(vals[..., 3], dtype=np.float64) * (scale / 255.0)
                bad = bad | (alpha <= 0)
        else:
            x, bad = self._normalise(np.asarray(vals, dtype=np.float64), bad, op, data, mask)
            idx = _indices(x, bad)
            rgb8 = _colour(np.ascontiguousarray(idx), str(op.args["cmap"]))
        target = area[r0:r1, c0:c1]
        if alpha is None:
            self._put(target, rgb8, bad)
            return
        keep = ~bad
        al = alpha[keep][:, None]
        target[keep] = np.asarray(target[keep] * (1 - al) + rgb8[keep] * al + 0.5, dtype=np.uint8)

    @staticmethod
    def _put(target: NDArray[np.uint8], rgb8: NDArray[np.uint8], bad: NDArray[np.bool_]) -> None:
        """Opaque pixels into the plot area; ``bad`` ones (masked, NaN) stay transparent."""
        if not bad.any():
            target[...] = rgb8
        else:
            np.copyto(target, rgb8, where=~bad[..., None])

    @staticmethod
    def _normalise(v: NDArray[np.float64], bad: NDArray[np.bool_], op: _Op,
                   data: NDArray[Any], mask: NDArray[np.bool_]
                   ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Shown values to 0–1 as the image's norm does (limits from the whole image)."""
        norm = op.args["norm"]
        kind = type(norm).__name__ if norm is not None else ""

        def limits() -> tuple[float, float]:
            lo = getattr(norm, "vmin", None) if norm is not None else op.args["vmin"]
            hi = getattr(norm, "vmax", None) if norm is not None else op.args["vmax"]
            if lo is None or hi is None:
                good = np.asarray(data, dtype=np.float64)[~mask]
                if kind == "LogNorm":
                    good = good[good > 0]
                lo = float(good.min()) if lo is None and good.size else (lo or 0.0)
                hi = float(good.max()) if hi is None and good.size else (hi or 1.0)
            return float(lo), float(hi)

        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "LogNorm":
                lo, hi = limits()
                bad = bad | ~(v > 0)
                x = (np.log(np.where(v > 0, v, lo)) - math.log(lo)) / (
                    (math.log(hi) - math.log(lo)) or 1.0)
            elif kind == "PowerNorm":  # matplotlib: negatives to 0, then ** gamma
                lo, hi = limits()
                g = float(norm.gamma)
                base = np.subtract(v, np.float32(lo), dtype=np.float32)  # in place from here
                np.maximum(base, 0, out=base)
                base *= np.float32(1.0 / ((hi - lo) or 1.0))
                x = np.sqrt(base, out=base) if g == 0.5 else np.power(base, np.float32(g))
            elif norm is not None and kind != "Normalize":  # any other matplotlib norm
                x = np.ma.filled(np.ma.asarray(norm(np.ma.masked_array(v, bad)),
                                               dtype=np.float64), np.nan)
                bad = bad | ~np.isfinite(x)
            else:
                lo, hi = limits()
                x = (v - lo) / ((hi - lo) or 1.0)
        return x, bad

    def _render(self, canvas: NDArray[np.uint8]) -> None:
        x0, y0, x1, y1 = self.box
        area = canvas[y0:y1, x0:x1]  # drawn in place (OpenCV draws on views)
        area[...] = 255  # the axes' white background covers what earlier axes overflowed
        fx, fy = self._mapper()
        H, W = area.shape[:2]
        for op in sorted(self._ops, key=lambda o: o.z):  # stable: call order within a z
            k, a = op.kind, op.args
            if k == "image":
                self._render_image(area, op)
            elif k == "line":
                draw_polyline(area, np.column_stack([fx(a["x"]), fy(a["y"])]), a["color"],
                              a["lw"], a["ls"], a["alpha"])
            elif k == "fill":
                fill_polygon(area, np.column_stack([fx(a["x"]), fy(a["y"])]), a["color"],
                             a["alpha"])
            elif k == "markers":
                draw_markers(area, fx(a["x"]), fy(a["y"]), a["marker"], a["size"], a["face"],
                             a["edge"], a["mlw"], a["alpha"])
            elif k == "rect":
                xs = fx([a["x"], a["x"] + a["w"]])
                ys = fy([a["y"], a["y"] + a["h"]])
                if a["fc"] is not None and a["fc"][3] > 0:
                    fill_rect(area, xs[0], ys[0], xs[1], ys[1], a["fc"][:3], a["fc"][3])
                if a["ec"][3] > 0 and a["lw"] > 0:
                    draw_rect_outline(area, xs[0], ys[0], xs[1], ys[1], a["ec"][:3], a["lw"],
                                      a["ls"], min(a["ec"][3], 1.0))
            elif k == "vline":
                p = float(fx(a["v"]))
                draw_polyline(area, np.array([[p, 0.0], [p, H]]), a["color"], a["lw"], a["ls"])
            elif k == "hline":
                p = float(fy(a["v"]))
                draw_polyline(area, np.array([[0.0, p], [W, p]]), a["color"], a["lw"], a["ls"])
        # text may overflow the plot area (as in matplotlib): drawn on the figure after
        for op in self._ops:
            if op.kind != "text":
                continue
            a = op.args
            if a["axes"]:
                px, py = x0 + a["x"] * W, y0 + (1.0 - a["y"]) * H
            else:
                px, py = x0 + float(fx(a["x"])), y0 + float(fy(a["y"]))
            self.figure._text(canvas, a["s"], px, py, size=a["size"], color=a["color"],
                              ha=a["ha"], va=a["va"], rotation=90 if a["rotation"] == 90 else 0,
                              bold=a["bold"], box=a["bbox"], linespacing=a["linespacing"])
        if self._legend is not None and self._handles:
            self._render_legend(canvas)
        if self._axis_on:
            self._render_frame(canvas)
        title, size = self._title
        if title:
            loc = self._title_loc
            tx = {"left": x0, "center": (x0 + x1) / 2, "right": x1}[loc]
            self.figure._text(canvas, title, tx, y0 - 1 - 6 * _PT, size=size, ha=loc,
                              va="bottom")

    def _render_frame(self, canvas: NDArray[np.uint8]) -> None:
        x0, y0, x1, y1 = self.box
        k = (0, 0, 0)
        canvas[y0 - 1, x0 - 1:x1 + 1] = k
        canvas[y1, x0 - 1:x1 + 1] = k
        canvas[y0 - 1:y1 + 1, x0 - 1] = k
        canvas[y0 - 1:y1 + 1, x1] = k
        tick = round(3.5 * _PT)
        pad = 3.5 * _PT
        ts = self._ticksize
        fx, fy = self._mapper()
        bottom = float(y1 + 1 + tick + pad)
        # x axis
        xlo, xhi = sorted(self.get_xlim())
        xt = self._ticks["x"]
        if xt is None:
            xt = _auto_ticks(xlo, xhi, x1 - x0, 3.0 * ts / 10.0, self._nbins)
        xl = self._ticklabels["x"]
        offset = ""
        if xl is None:
            xl, offset = _tick_labels(xt, self._scilimits)
        label_bottom = float(y1 + 1 + tick)
        for t, lab in zip(xt, xl):
            p = x0 + float(fx(t))
            if not (x0 - 1.5 <= p <= x1 + 0.5):
                continue
            c = round(min(max(p, x0), x1 - 1))
            canvas[y1 + 1:y1 + 1 + tick, c] = k
            box = self.figure._text(canvas, lab, p, bottom, size=ts, ha="center", va="top")
            label_bottom = max(label_bottom, float(box[3]))
        if offset:
            self.figure._text(canvas, offset, x1, label_bottom + 2, size=ts, ha="right", va="top")
        if self._labels["x"]:
            self.figure._text(canvas, self._labels["x"], (x0 + x1) / 2, label_bottom + 4 * _PT,
                              size=self._labelsize, ha="center", va="top")
        # y axis
        ylo, yhi = sorted(self.get_ylim())
        yt = self._ticks["y"]
        if yt is None:
            yt = _auto_ticks(ylo, yhi, y1 - y0, 2.0 * ts / 10.0, self._nbins)
        yl = self._ticklabels["y"]
        yoffset = ""
        if yl is None:
            yl, yoffset = _tick_labels(yt, self._scilimits)
        right = float(x0 - 1 - tick - pad)
        label_left = float(x0 - 1 - tick)
        for t, lab in zip(yt, yl):
            p = y0 + float(fy(t))
            if not (y0 - 1.5 <= p <= y1 + 0.5):
                continue
            r = round(min(max(p, y0), y1 - 1))
            canvas[r, x0 - 1 - tick:x0 - 1] = k
            box = self.figure._text(canvas, lab, right, p, size=ts, ha="right", va="center")
            label_left = min(label_left, float(box[0]))
        if yoffset:
            self.figure._text(canvas, yoffset, x0 - 1, y0 - 3, size=ts, ha="left", va="bottom")
        if self._labels["y"]:
            self.figure._text(canvas, self._labels["y"], label_left - 4 * _PT, (y0 + y1) / 2,
                              size=self._labelsize, ha="right", va="center", rotation=90)

    def _render_legend(self, canvas: NDArray[np.uint8]) -> None:
        assert self._legend is not None
        size = self._legend["size"]
        px = _px(size)
        rows = [(lab, a) for lab, a in self._handles]
        masks = [text_mask(lab, size) for lab, _ in rows]
        self.figure.text_log.extend((lab, px) for lab, _ in rows)
        handle = 2 * px
        gap = int(0.8 * px)
        pad = int(0.4 * px)
        step = round(1.25 * px)
        w = handle + gap + max(m.shape[1] for m in masks) + 2 * pad
        h = step * len(rows) + 2 * pad
        x0, y0, x1, y1 = self.box
        loc = self._legend["loc"]
        if loc == "best":
            loc = self._best_corner(w, h)
        margin = int(0.5 * px)
        lx = x0 + margin if "left" in loc else x1 - margin - w
        ly = y0 + margin if "upper" in loc else y1 - margin - h
        bg = np.full((h, w), 255, dtype=np.uint8)
        _blend(canvas, bg, lx, ly, (255, 255, 255), 0.8)
        edge = np.asarray((204, 204, 204), dtype=np.uint8)
        cl = canvas[max(ly, 0):ly + h, max(lx, 0):lx + w]
        cl[0, :] = edge
        cl[-1, :] = edge
        cl[:, 0] = edge
        cl[:, -1] = edge
        for k, ((_, a), m) in enumerate(zip(rows, masks)):
            cy = ly + pad + k * step + step / 2
            hx0, hx1 = lx + pad, lx + pad + handle
            if "marker" in a:
                draw_markers(canvas, [(hx0 + hx1) / 2], [cy], a["marker"], a["size"],
                             a["face"], a["edge"], a["mlw"], max(a["alpha"], 0.5))
            elif "lw" in a:
                draw_polyline(canvas, np.array([[hx0, cy], [hx1, cy]]), a["color"], a["lw"],
                              a.get("ls", "-"))
            else:
                fill_polygon(canvas, np.array([[hx0, cy - px / 3], [hx1, cy - px / 3],
                                               [hx1, cy + px / 3], [hx0, cy + px / 3]]),
                             a["color"], max(float(a.get("alpha", 1.0)), 0.3))
            _blend(canvas, m, hx1 + gap, round(cy - m.shape[0] / 2), (0, 0, 0))

    def _best_corner(self, w: int, h: int) -> str:
        """The upper corner whose box covers the fewest drawn line points."""
        fx, fy = self._mapper()
        x0, y0, x1, y1 = self.box
        W, _H = x1 - x0, y1 - y0
        score = {"upper right": 0, "upper left": 0}
        for op in self._ops:
            if op.kind not in ("line", "fill", "markers"):
                continue
            xs, ys = fx(op.args["x"]), fy(op.args["y"])
            score["upper left"] += int(np.sum((xs < w + 10) & (ys < h + 10)))
            score["upper right"] += int(np.sum((xs > W - w - 10) & (ys < h + 10)))
        return min(("upper right", "upper left"), key=lambda k: score[k])


class RasterFigure:
    """A figure ``width`` x ``height`` inches at 100 dpi, rendered by :meth:`to_png`."""

    def __init__(self, width: float, height: float) -> None:
        self.width_px = round(width * DPI)
        self.height_px = round(height * DPI)
        self.axes: list[RasterAxes] = []
        self._adjust = {"left": 0.125, "right": 0.9, "bottom": 0.11, "top": 0.88,
                        "wspace": 0.2, "hspace": 0.2}
        self._suptitle: dict[str, Any] | None = None
        self._texts: list[dict[str, Any]] = []
        #: (text, font size in px) of every text drawn by the last render
        self.text_log: list[tuple[str, int]] = []
        self._scanlines: NDArray[np.uint8] = np.zeros((0, 1), dtype=np.uint8)

    def subplots_adjust(self, **kw: float) -> None:
        """Grid margins and gaps as figure fractions, as in matplotlib; may come last."""
        self._adjust.update({k: float(v) for k, v in kw.items() if v is not None})

    def subplots(self, nrows: int = 1, ncols: int = 1,
                 adjust: Mapping[str, float] | None = None) -> list[RasterAxes]:
        """``nrows`` x ``ncols`` axes (row by row), placed like ``subplots_adjust``."""
        self.subplots_adjust(**dict(adjust or {}))
        self.axes = [RasterAxes(self, ("grid", nrows, ncols, k))
                     for k in range(nrows * ncols)]
        return list(self.axes)

    def add_subplot(self, nrows: int = 1, ncols: int = 1, index: int = 1) -> RasterAxes:
        """Axes number ``index`` (from 1) of an ``nrows`` x ``ncols`` grid."""
        if isinstance(nrows, int) and nrows > 100 and ncols == 1 and index == 1:
            nrows, ncols, index = nrows // 100, (nrows // 10) % 10, nrows % 10  # 111
        ax = RasterAxes(self, ("grid", nrows, ncols, index - 1))
        self.axes.append(ax)
        return ax

    def add_axes(self, rect: Sequence[float]) -> RasterAxes:
        """Axes at (left, bottom, width, height) in figure fractions."""
        ax = RasterAxes(self, ("rect", *(float(v) for v in rect)))
        self.axes.append(ax)
        return ax

    def _box(self, place: tuple[Any, ...]) -> tuple[int, int, int, int]:
        W, H = self.width_px, self.height_px
        if place[0] == "rect":
            _, left, b, w, h = place
            return (round(left * W), round((1 - b - h) * H), round((left + w) * W),
                    round((1 - b) * H))
        _, nrows, ncols, k = place
        a = self._adjust
        w = (a["right"] - a["left"]) * W / (ncols + a["wspace"] * (ncols - 1))
        h = (a["top"] - a["bottom"]) * H / (nrows + a["hspace"] * (nrows - 1))
        r, c = divmod(k, ncols)
        x0 = a["left"] * W + c * w * (1 + a["wspace"])
        y0 = (1 - a["top"]) * H + r * h * (1 + a["hspace"])
        return round(x0), round(y0), round(x0 + w), round(y0 + h)

    def suptitle(self, text: str, fontsize: float = 12.0, color: Any = "black",
                 y: float = 0.98, x: float = 0.5, ha: str = "center", **_: Any) -> None:
        self._suptitle = {"s": str(text), "size": float(fontsize), "color": color,
                          "y": float(y), "x": float(x), "ha": ha}

    def get_suptitle(self) -> str:
        return "" if self._suptitle is None else str(self._suptitle["s"])

    def text(self, x: float, y: float, s: str, ha: str = "left", va: str = "baseline",
             fontsize: float = 10.0, color: Any = "black", **_: Any) -> None:
        """Text at figure coordinates (0–1, y up)."""
        self._texts.append({"x": x, "y": y, "s": s, "ha": ha, "va": va, "size": fontsize,
                            "color": color})

    def _text(self, canvas: NDArray[np.uint8], text: str, x: float, y: float,
              **kw: Any) -> tuple[int, int, int, int]:
        return draw_text(canvas, text, x, y, log=self.text_log, **kw)

    def to_array(self) -> NDArray[np.uint8]:
        """The figure as an RGB array (height x width x 3, uint8).

        The array is a view into the rows of the PNG's scanlines (each row led by
        its filter byte), so :meth:`to_png` compresses it without a copy.
        """
        self.text_log = []
        raw = np.empty((self.height_px, self.width_px * 3 + 1), dtype=np.uint8)
        raw[:, 0] = 0  # PNG filter type None for every row
        canvas = raw[:, 1:].reshape(self.height_px, self.width_px, 3)
        canvas[...] = 255
        self._scanlines = raw
        for ax in self.axes:
            ax._render(canvas)
        st = self._suptitle
        if st and st["s"]:
            self._text(canvas, st["s"], st["x"] * self.width_px, (1 - st["y"]) * self.height_px,
                       size=st["size"], color=st["color"], ha=st["ha"], va="top")
        for t in self._texts:
            self._text(canvas, t["s"], t["x"] * self.width_px, (1 - t["y"]) * self.height_px,
                       size=t["size"], color=t["color"], ha=t["ha"], va=t["va"])
        return canvas

    def to_png(self) -> bytes:
        """The figure as PNG bytes."""
        self.to_array()
        return _png(self._scanlines, self.width_px, self.height_px)


def _deflate() -> Any:
    """zlib-ng's drop-in zlib when installed (a dependency), else the standard library's."""
    try:
        from zlib_ng import zlib_ng

        return zlib_ng
    except ImportError:  # pragma: no cover - zlib-ng has wheels for every supported platform
        import zlib

        return zlib


def encode_png(rgb: NDArray[np.uint8], level: int = 1) -> bytes:
    """An RGB array as a PNG (8-bit truecolour, no row filter, deflate ``level``).

    Why our own: libpng's adaptive row filters take twice the time of the
    compression itself on these flat-colour plots and make the files larger;
    and zlib-ng's level 1 is ~3x faster than zlib's (files ~15 % larger).
    """
    h, w = rgb.shape[:2]
    raw = np.empty((h, w * 3 + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter type None for every row
    raw[:, 1:] = np.ascontiguousarray(rgb[..., :3]).reshape(h, w * 3)
    return _png(raw, w, h, level)


def _png(raw: NDArray[np.uint8], w: int, h: int, level: int = 1) -> bytes:
    """PNG bytes from scanlines ``raw`` (h x (3w + 1): a filter byte, then RGB)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", _deflate().compress(np.ascontiguousarray(raw).data, level))
            + chunk(b"IEND", b""))


def raster_figure(
    width: float, height: float, ncols: int = 1, adjust: Mapping[str, float] | None = None
) -> tuple[RasterFigure, list[RasterAxes]]:
    """A :class:`RasterFigure` of ``width`` x ``height`` inches with ``ncols`` axes in a row.

    ``adjust`` are matplotlib's ``subplots_adjust`` fractions. Hand the
    figure to ``AssayResult.add_figure`` like a matplotlib one.
    """
    fig = RasterFigure(width, height)
    return fig, fig.subplots(1, ncols, adjust)
