"""Shared QC figure helpers: what they draw (lines, limits, labels), on Agg, without pyplot."""

from __future__ import annotations

import numpy as np
import pytest
from assaykit import new_figure, render_png
from assaykit.cytometry.cleanup import auto_cleanup
from assaykit.cytometry.figures import (
    SERIES_COLORS,
    cleanup_panel,
    common_logicle,
    density_2d,
    overlay_histograms,
)
from assaykit.cytometry.thresholds import fixed_threshold


def _labels(ax: object) -> list[str]:
    return list(ax.get_legend_handles_labels()[1])  # type: ignore[attr-defined]


def test_overlay_histograms_draws_series_markers_and_thresholds() -> None:
    rng = np.random.default_rng(0)
    a = rng.lognormal(np.log(500), 0.4, 5000)
    b = rng.lognormal(np.log(5000), 0.4, 2000)
    tr = common_logicle(a, b)
    fig = new_figure()
    ax = fig.add_subplot(111)
    th = fixed_threshold(1500.0)
    overlay_histograms(ax, [("neg", a), ("pos", b)], tr, thresholds=[th],
                       markers=[("median neg", float(np.median(a))),
                                ("median pos", float(np.median(b)))], xlabel="FITC-A")
    labels = _labels(ax)
    assert labels[:2] == ["neg (n=5000)", "pos (n=2000)"]
    assert any(lab.startswith("median neg 4") or lab.startswith("median neg 5") for lab in labels)
    assert "threshold 1500 (fixed)" in labels
    # marker lines are drawn at the medians' logicle positions, in the series colours
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert [ln.get_color() for ln in vlines] == list(SERIES_COLORS[:2])
    assert vlines[1].get_xdata()[0] == pytest.approx(tr.apply(np.array([np.median(b)]))[0])
    lo, hi = ax.get_xlim()
    assert lo < tr.apply(np.array([np.median(a)]))[0] < tr.apply(np.array([np.median(b)]))[0] < hi
    assert ax.get_xlabel() == "FITC-A"
    assert render_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_overlay_histograms_normalizes_each_series_to_unit_area() -> None:
    rng = np.random.default_rng(1)
    fig = new_figure()
    ax = fig.add_subplot(111)
    overlay_histograms(ax, [("a", rng.normal(0, 1, 1000)), ("b", rng.normal(3, 1, 10_000))],
                       None, bins=50)
    for patch in ax.patches[::2]:  # one outline and one filled stairs per series
        edges = patch.get_path().vertices[:, 0]
        heights = patch.get_path().vertices[:, 1]
        assert heights.max() > 0
        assert np.ptp(edges) > 0
    assert ax.get_ylabel() == "density"


def test_density_2d_draws_thresholds_on_both_axes() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(50_000, 5_000, 3000)
    y = rng.lognormal(6, 1, 3000)
    fig = new_figure()
    ax = fig.add_subplot(111)
    ty = common_logicle(y)
    density_2d(ax, x, y, None, ty, thresholds_x=[fixed_threshold(45_000.0)],
               thresholds_y=[fixed_threshold(1000.0)], xlabel="DNA", ylabel="FITC")
    lines = ax.get_lines()
    assert lines[0].get_xdata()[0] == 45_000.0
    assert lines[1].get_ydata()[0] == pytest.approx(ty.apply(np.array([1000.0]))[0])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("DNA", "FITC")
    assert ax.images or ax.collections


def test_cleanup_panel_draws_the_singlet_band_and_debris_cutoff() -> None:
    rng = np.random.default_rng(3)
    a = np.r_[rng.normal(80_000, 10_000, 5000), 3_000 + rng.gamma(2.0, 4_000, 800)]
    h = 0.8 * a * (1 + rng.normal(0, 0.02, a.size))
    res = auto_cleanup({"FSC-A": a, "FSC-H": h})
    fig = new_figure()
    ax = fig.add_subplot(111)
    cleanup_panel(ax, a, h, res)
    labels = _labels(ax)
    assert any(lab.startswith("singlet band") for lab in labels)
    assert any(lab.startswith("debris cutoff") for lab in labels)
    assert ax.get_title().startswith(f"singlets {int(res.singlets.sum())}/")
    ax2 = new_figure().add_subplot(111)
    no_singlets = auto_cleanup({"FSC-A": a}, {"singlets": False})
    cleanup_panel(ax2, a, None, no_singlets)
    assert not any(lab.startswith("singlet band") for lab in _labels(ax2))
