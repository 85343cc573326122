"""Reused figure skeletons: drawing A then B gives B's pixels exactly, nothing of A left.

Truth: the same figure of B drawn on a fresh Figure (``reuse=False``, or a
skeleton of a key never used before).
"""

from __future__ import annotations

import io

import numpy as np
from assaykit import render_png
from assaykit.cytometry.cleanup import auto_cleanup
from assaykit.cytometry.figures import cleanup_figure, density_2d, reused_figure
from assaykit.cytometry.thresholds import fixed_threshold
from PIL import Image


def _events(seed: int, n: int, ssc: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = np.r_[rng.normal(80_000 + 9_000 * seed, 10_000, n), 3_000 + rng.gamma(2.0, 4_000, n // 6)]
    cols = {"FSC-A": a, "FSC-H": 0.8 * a * (1 + rng.normal(0, 0.02, a.size))}
    if ssc:
        cols["SSC-A"] = 0.6 * a * (1 + rng.normal(0, 0.2, a.size))
    return cols


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_cleanup_figure_reused_after_other_sample_equals_fresh() -> None:
    a_cols, b_cols = _events(1, 6000), _events(2, 3000)
    ra, rb = auto_cleanup(a_cols), auto_cleanup(b_cols)
    fresh = _pixels(render_png(cleanup_figure(b_cols, rb, title="B")))
    render_png(cleanup_figure(a_cols, ra, title="sample A", reuse=True))
    fig = cleanup_figure(b_cols, rb, title="B", reuse=True)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [
        ax.get_title() for ax in fig.axes]
    assert not any("sample A" in t for t in texts)
    assert fig.get_suptitle() == "B"
    np.testing.assert_array_equal(_pixels(render_png(fig)), fresh)


def test_cleanup_without_singlets_after_full_figure_equals_fresh() -> None:
    """A switches the second panel on with gates and a legend; B has it off."""
    a_cols, b_cols = _events(1, 5000), _events(3, 4000)
    ra = auto_cleanup(a_cols)
    rb = auto_cleanup(b_cols, {"singlets": False})
    fresh = _pixels(render_png(cleanup_figure(b_cols, rb, title="B")))
    render_png(cleanup_figure(a_cols, ra, title="A", reuse=True))
    fig = cleanup_figure(b_cols, rb, title="B", reuse=True)
    assert fig.axes[1].get_legend() is None and not fig.axes[1].lines
    np.testing.assert_array_equal(_pixels(render_png(fig)), fresh)


def test_density_on_reused_axes_has_no_artist_of_the_previous_sample() -> None:
    rng = np.random.default_rng(5)
    adjust = {"left": 0.15, "right": 0.97, "bottom": 0.12, "top": 0.9}
    fig, (ax,) = reused_figure("test_density", 4.0, 3.5, 1, adjust)
    density_2d(ax, rng.normal(5, 1, 4000), rng.normal(2, 1, 4000),
               thresholds_x=[fixed_threshold(5.0)], xlabel="A x", ylabel="A y")
    ax.text(0.5, 0.5, "only in A", transform=ax.transAxes)
    ax.set_title("A")
    render_png(fig)
    xb, yb = rng.normal(-3, 2, 3000), rng.normal(10, 3, 3000)
    fig2, (ax2,) = reused_figure("test_density", 4.0, 3.5, 1, adjust)
    assert fig2 is fig and ax2 is ax
    assert not ax2.texts and not ax2.lines and not ax2.images and ax2.get_legend() is None
    assert ax2.get_title() == "" and ax2.get_xlabel() == ""
    density_2d(ax2, xb, yb, xlabel="B x", ylabel="B y")
    got = _pixels(render_png(fig2))
    fresh_fig, (fresh_ax,) = reused_figure("test_density_fresh", 4.0, 3.5, 1, adjust)
    density_2d(fresh_ax, xb, yb, xlabel="B x", ylabel="B y")
    np.testing.assert_array_equal(got, _pixels(render_png(fresh_fig)))
