"""Figures drawn straight to pixels (assaykit.raster) show what matplotlib shows.

Truth: matplotlib (an independent implementation) drawing the same helper on
the same figure size and margins — the density image, threshold lines and
tick positions must land on the same pixels; Pillow (an independent PNG
decoder) for the encoder; the points-to-pixels rule (pt x 100 / 72) for
text sizes.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from assaykit import RasterFigure, raster_figure, render_png
from assaykit.cytometry.figures import density_2d
from assaykit.cytometry.thresholds import auto_logicle, fixed_threshold
from assaykit.raster import encode_png
from PIL import Image

ADJUST = {"left": 0.15, "right": 0.95, "bottom": 0.15, "top": 0.88}


def _events(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(150, 90, 30_000), rng.lognormal(8.5, 0.4, 8_000)]
    y = np.r_[rng.normal(80, 70, 30_000), rng.lognormal(7.5, 0.6, 8_000)]
    return x, y


def _mpl(width: float, height: float) -> tuple[object, object]:
    from assaykit import new_figure

    fig = new_figure(width, height)
    ax = fig.add_subplot(111)
    fig.subplots_adjust(**ADJUST)
    return fig, ax


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _mpl_box(fig: object, ax: object) -> tuple[int, int, int, int]:
    """The axes' pixel box (x0, y0, x1, y1; y down) as matplotlib renders it at 100 dpi."""
    fig.canvas.draw()  # type: ignore[attr-defined]
    bb = ax.get_window_extent()  # type: ignore[attr-defined]
    height = fig.bbox.height  # type: ignore[attr-defined]
    return (round(bb.x0), round(height - bb.y1), round(bb.x1), round(height - bb.y0))


def test_density_image_lands_on_the_same_pixels_as_matplotlib() -> None:
    x, y = _events()
    tx, ty = auto_logicle(x), auto_logicle(y)
    rfig, (rax,) = raster_figure(5.0, 4.5, 1, ADJUST)
    mfig, max_ = _mpl(5.0, 4.5)
    for ax in (rax, max_):
        density_2d(ax, x, y, tx, ty)
        ax.set_axis_off()
    r = rfig.to_array()
    m = _decode(render_png(mfig))
    assert r.shape == m.shape
    x0, y0, x1, y1 = rax.box
    assert (x0, y0, x1, y1) == pytest.approx(_mpl_box(mfig, max_), abs=1)
    # the inside of the plot box, 2 px in from the edges (matplotlib snaps image edges)
    rin = r[y0 + 2:y1 - 2, x0 + 2:x1 - 2].astype(int)
    min_ = m[y0 + 2:y1 - 2, x0 + 2:x1 - 2].astype(int)
    painted = (min_ != 255).any(axis=-1)
    assert painted.mean() > 0.1  # the comparison is about a real image, not white on white
    differs = np.abs(rin - min_).max(axis=-1) > 40
    assert differs.mean() < 0.02, f"{differs.mean():.1%} of the plot's pixels differ"


def _pair(x_th: list[object], y_th: list[object]) -> tuple[np.ndarray, np.ndarray, tuple]:
    x, y = _events(4)
    tx, ty = auto_logicle(x), auto_logicle(y)
    rfig, (rax,) = raster_figure(5.0, 4.5, 1, ADJUST)
    mfig, max_ = _mpl(5.0, 4.5)
    for ax in (rax, max_):
        density_2d(ax, x[:0], y[:0], tx, ty, thresholds_x=x_th, thresholds_y=y_th)
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_xticks([0.2, 0.5, 0.8])
        ax.set_yticks([0.25, 0.75])
    return rfig.to_array().astype(int), _decode(render_png(mfig)).astype(int), rax.box


def _red(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Red pixels of the plot box, the legend's corner (upper left) blanked."""
    x0, y0, x1, y1 = box
    a = img[y0 + 3:y1 - 3, x0 + 3:x1 - 3]
    red = (a[..., 0] > 150) & (a[..., 1] < 120) & (a[..., 2] < 150)
    red[: (y1 - y0) // 4, : (x1 - x0) // 2] = False
    return red


def test_threshold_lines_and_ticks_at_matplotlibs_positions() -> None:
    r, m, box = _pair([fixed_threshold(2000.0)], [])
    x0, y0, x1, y1 = box
    col_r = np.average(np.arange(r.shape[1] - 0)[x0 + 3:x1 - 3], weights=_red(r, box).sum(0))
    col_m = np.average(np.arange(m.shape[1] - 0)[x0 + 3:x1 - 3], weights=_red(m, box).sum(0))
    assert col_r == pytest.approx(col_m, abs=1.0)

    r2, m2, _ = _pair([], [fixed_threshold(500.0)])
    row_r = np.average(np.arange(r2.shape[0])[y0 + 3:y1 - 3], weights=_red(r2, box).sum(1))
    row_m = np.average(np.arange(m2.shape[0])[y0 + 3:y1 - 3], weights=_red(m2, box).sum(1))
    assert row_r == pytest.approx(row_m, abs=1.0)

    # tick marks: dark pixels in the 2 px just below the bottom spine
    def tick_cols(img: np.ndarray) -> list[float]:
        dark = (img[y1 + 2:y1 + 4, x0 + 2:x1 - 2].max(axis=-1) < 100).any(axis=0)
        idx = np.flatnonzero(dark)
        groups = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
        return [float(g.mean()) + x0 + 2 for g in groups if g.size]

    assert len(tick_cols(r)) == 3
    assert tick_cols(r) == pytest.approx(tick_cols(m), abs=1.0)


def test_markers_land_where_matplotlib_puts_them() -> None:
    """Scatter markers (filled circles, open crosses, diamonds) centred on matplotlib's
    pixel for the same data, and of about its size."""
    from assaykit.raster import RasterFigure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pts = [(1.0, 2.0, "o", 16.0), (3.0, 7.0, "X", 70.0), (6.0, 4.0, "D", 64.0)]
    adjust = {"left": 0.1, "right": 0.95, "bottom": 0.12, "top": 0.9}
    centres: dict[str, list[tuple[float, float]]] = {}
    for kind in ("raster", "mpl"):
        fig: Any = RasterFigure(4.0, 3.0) if kind == "raster" else Figure((4.0, 3.0), dpi=100)
        if kind == "mpl":
            FigureCanvasAgg(fig)
        fig.subplots_adjust(**adjust)
        ax = fig.add_subplot(1, 1, 1)
        for x, y, mk, s in pts:
            if mk == "X":
                ax.scatter([x], [y], s=s, marker=mk, facecolor="none", edgecolor="red")
            else:
                ax.scatter([x], [y], s=s, marker=mk, color="red")
        ax.set_xlim(0, 8)
        ax.set_ylim(0, 10)
        if kind == "raster":
            img = fig.to_array()
        else:
            fig.canvas.draw()
            img = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        red = (img[..., 0] > 150) & (img[..., 1] < 120) & (img[..., 2] < 120)
        got = []
        for x, y, _, _ in pts:  # the red blob nearest each point's expected place
            ys, xs = np.nonzero(red)
            cx, cy = 400 * (0.1 + 0.85 * x / 8), 300 * (1 - 0.12 - 0.78 * y / 10)
            near = (np.abs(xs - cx) < 15) & (np.abs(ys - cy) < 15)
            assert near.sum() > 5, (kind, x, y)
            got.append((float(xs[near].mean()), float(ys[near].mean()), int(near.sum())))
        centres[kind] = got  # type: ignore[assignment]
    for (rx, ry, rn), (mx, my, mn) in zip(centres["raster"], centres["mpl"]):  # type: ignore[misc]
        assert rx == pytest.approx(mx, abs=1.0) and ry == pytest.approx(my, abs=1.0)
        assert 0.5 < rn / mn < 2.0  # about the same ink


@pytest.mark.parametrize("kw", [
    {"fill": False, "ec": "tab:cyan", "lw": 0.8, "alpha": 0.8},
    {"fill": True, "fc": "#ff7f7f", "alpha": 0.18, "ec": "none"},
    {"fill": False, "ec": "orange", "lw": 1.0, "ls": "--"},
    {"fill": False, "ec": "0.6", "lw": 0.6, "ls": ":"},
    {"facecolor": "#4c72b0", "edgecolor": "none"},
    {"color": "crimson"},
    {"fill": False},
    {},
])
def test_raster_rectangle_draws_what_matplotlibs_rectangle_draws(kw: dict[str, Any]) -> None:
    """assaykit.raster.Rectangle follows matplotlib's colour rules (defaults, color,
    alpha on face and edge, unfilled = black edge): the same pixels on the same axes."""
    from assaykit.raster import Rectangle
    from matplotlib.patches import Rectangle as MplRectangle

    images = []
    for cls in (Rectangle, MplRectangle):
        fig, (ax,) = raster_figure(2.0, 2.0, 1, {"left": 0.1, "right": 0.9, "bottom": 0.1,
                                                 "top": 0.9})
        ax.imshow(np.full((4, 4), 0.5), cmap="gray", vmin=0, vmax=1, extent=(0, 10, 0, 10))
        ax.add_patch(cls((2.0, 3.0), 5.0, 4.0, **kw))
        ax.set_axis_off()
        images.append(fig.to_array())
    assert not np.array_equal(images[0], np.full_like(images[0], images[0][100, 100]))
    np.testing.assert_array_equal(images[0], images[1])
    with pytest.raises(TypeError):
        Rectangle((0, 0), 1, 1, hatch="//")


@pytest.mark.parametrize("ls", ["-", "--", ":"])
def test_rectangle_outline_on_matplotlibs_pixels(ls: str) -> None:
    """Box outlines (drawn as whole-pixel strips) sit where matplotlib's snapped edges
    sit, within a pixel; dashed and dotted ones have gaps; boxes off the canvas clip."""
    from assaykit.raster import RasterFigure, Rectangle, draw_rect_outline
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle as MplRectangle

    edges = {}
    for kind in ("raster", "mpl"):
        fig: Any = RasterFigure(3.0, 3.0) if kind == "raster" else Figure((3.0, 3.0), dpi=100)
        if kind == "mpl":
            FigureCanvasAgg(fig)
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        cls = Rectangle if kind == "raster" else MplRectangle
        ax.add_patch(cls((2.2, 3.1), 5.3, 4.4, fill=False, ec="red", lw=1.0, ls=ls))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 10)
        ax.set_axis_off()
        if kind == "raster":
            img = fig.to_array()
        else:
            fig.canvas.draw()
            img = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        red = (img[..., 0] > 200) & (img[..., 1] < 160)
        cols = np.flatnonzero(red.sum(axis=0) > 20)  # the two vertical sides
        rows = np.flatnonzero(red.sum(axis=1) > 20)  # the two horizontal sides
        edges[kind] = (cols.min(), cols.max(), rows.min(), rows.max())
        if ls != "-":  # a dashed side is not one unbroken run
            side = red[int(rows.min()), int(cols.min()) + 3:int(cols.max()) - 3]
            assert 0 < side.mean() < 0.9, (kind, side.mean())
    assert np.allclose(edges["raster"], edges["mpl"], atol=1.0), edges
    canvas = np.full((40, 40, 3), 255, np.uint8)
    for box in [(-10, -10, 70, 70), (30, 30, 90, 90), (-30, 5, -5, 20), (5, 5, 5.2, 5.1)]:
        draw_rect_outline(canvas, *box, "red", 1.2, ls, 0.7)
    assert (canvas[..., 1] < 255).any()


def test_png_decodes_to_the_drawn_pixels() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_decode(encode_png(rgb)), rgb)
    fig, (ax,) = raster_figure(3.0, 2.0)
    ax.plot([0, 1, 2], [0, 1, 0], color="tab:blue")
    np.testing.assert_array_equal(_decode(fig.to_png()), fig.to_array())
    assert _decode(render_png(fig)).shape == (200, 300, 3)


def test_text_sizes_follow_points_at_100_dpi() -> None:
    fig, (ax,) = raster_figure(4.0, 3.0)
    ax.set_title("title", fontsize=9)
    ax.text(0.5, 0.5, "eight", fontsize=8, transform=ax.transAxes)
    ax.set_xlabel("x label")
    fig.suptitle("sup", fontsize=12)
    fig.to_array()
    sizes = dict(fig.text_log)
    assert sizes["title"] == round(9 * 100 / 72)
    assert sizes["eight"] == round(8 * 100 / 72)
    assert sizes["x label"] == round(10 * 100 / 72)
    assert sizes["sup"] == round(12 * 100 / 72)
    # and the glyphs are that large: a capital is ~0.73 em of DejaVu Sans
    big = RasterFigure(2.0, 1.0)
    big.text(0.1, 0.5, "HHH", fontsize=20, va="center")
    arr = big.to_array()
    ink = np.flatnonzero((arr.min(axis=-1) < 128).any(axis=1))
    assert ink.size == pytest.approx(0.73 * 20 * 100 / 72, abs=2)


def test_dashed_line_has_gaps_and_a_solid_one_has_none() -> None:
    fig, (ax,) = raster_figure(4.0, 1.0, 1, {"left": 0.0, "right": 1.0, "bottom": 0.0,
                                              "top": 1.0})
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axhline(0.25, color="black", lw=1.2, ls="--")
    ax.axhline(0.75, color="black", lw=1.2, ls="-")
    arr = fig.to_array().min(axis=-1)
    dashed = (arr[70:80] < 128).any(axis=0)[10:-10]
    solid = (arr[20:30] < 128).any(axis=0)[10:-10]
    assert solid.all()
    gaps = np.count_nonzero(np.diff(dashed.astype(int)) == 1)
    # matplotlib's "--" at 1.2 pt: 3.7 on + 1.6 off, times the width = 8.8 px a period
    assert gaps == pytest.approx(380 / (5.3 * 1.2 * 100 / 72), rel=0.15)


def test_unsupported_axes_call_is_an_error_not_silence() -> None:
    _, (ax,) = raster_figure(3.0, 2.0)
    with pytest.raises(AttributeError):
        ax.pie([1, 2])  # type: ignore[attr-defined]


def test_flow_gel_and_blot_figures_of_the_example_folder_are_raster_with_readable_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    import assaykit
    from helpers.figure_text import MIN_PX, capture_figures

    seen = capture_figures(monkeypatch)
    root = Path(__file__).resolve().parents[2] / "fixtures" / "example-folder"
    res = assaykit.run(root, Path(str(tmp_path)) / "out", workers=0, figures=True)
    assert res.exit_code == 0
    kinds = {"cleanup", "quadrants", "thresholds", "tunel", "rh123_gates", "rh123_overlay",
             "gel", "blot", "profiles", "fold_change"}
    assert kinds <= {name.split(":")[0] for name, _, _ in seen}
    assert any(name.startswith("dose_response") for name, _, _ in seen)
    for name, fig, _ in seen:  # every figure of a run, matplotlib none
        assert isinstance(fig, RasterFigure), name
        fig.to_array()
        assert fig.text_log, name
        small = [(t, px) for t, px in fig.text_log if px < MIN_PX]
        assert not small, (name, small)
