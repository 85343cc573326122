"""Thresholds from controls, automatic valleys, fixed values; and QC plot helpers."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from assaykit.cytometry.thresholds import (
    Threshold,
    auto_logicle,
    biexponential_ticks,
    density_plot,
    fixed_threshold,
    histogram_plot,
    percentile_threshold,
    valley_threshold,
)
from assaykit.cytometry.transforms import AsinhTransform, LogicleTransform
from assaykit.errors import AnalysisError, ConfigError
from matplotlib.figure import Figure


def _bimodal(seed: int, n_neg: int = 30_000, n_pos: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Compensated-like negatives (spread around 0) and lognormal positives."""
    rng = np.random.default_rng(seed)
    neg = rng.normal(0, 150, n_neg)
    pos = rng.lognormal(np.log(5000), 0.5, n_pos)
    labels = np.r_[np.zeros(n_neg, bool), np.ones(n_pos, bool)]
    return np.concatenate([neg, pos]), labels


def test_percentile_threshold_records_its_control() -> None:
    rng = np.random.default_rng(0)
    unstained = rng.normal(100, 20, 100_000)
    th = percentile_threshold(unstained, 99.5, control="unstained.fcs", channel="FITC-A")
    # the exact quantile of N(100, 20) at 0.995 is 100 + 2.5758*20
    assert th.value == pytest.approx(100 + 2.5758 * 20, abs=0.7)
    assert th.method == "percentile"
    assert th.control == "unstained.fcs" and th.channel == "FITC-A"
    assert th.parameters["percentile"] == 99.5
    assert th.positive(unstained).mean() == pytest.approx(0.005, abs=0.001)
    assert th.to_dict()["control"] == "unstained.fcs"


def test_percentile_threshold_validation() -> None:
    with pytest.raises(ConfigError):
        percentile_threshold(np.arange(1000.0), 100)
    with pytest.raises(AnalysisError, match="need at least"):
        percentile_threshold(np.arange(10.0), 99)


@pytest.mark.parametrize("seed", range(4))
def test_valley_threshold_separates_known_populations(seed: int) -> None:
    v, labels = _bimodal(seed)
    th = valley_threshold(v, channel="PE-A")
    assert th.method == "density_valley"
    assert th.parameters["transform"]["kind"] == "logicle"
    misclassified = float(np.mean((v >= th.value) != labels))
    assert misclassified < 0.002, misclassified
    # the cut is between the populations, far from both modes
    assert 500 < th.value < 2500


def test_valley_threshold_with_asinh_axis() -> None:
    v, labels = _bimodal(7)
    th = valley_threshold(v, AsinhTransform(262144, 4.5, 0))
    assert np.mean((v >= th.value) != labels) < 0.005


def test_valley_threshold_refuses_unimodal() -> None:
    rng = np.random.default_rng(1)
    with pytest.raises(AnalysisError, match="one population"):
        valley_threshold(rng.normal(0, 150, 20_000))


def test_fixed_threshold_and_gate() -> None:
    th = fixed_threshold(1000.0, channel="FITC-A", source="assaykit.toml")
    assert th.method == "fixed" and th.control == "assaykit.toml"
    gate = th.gate()
    data = {"FITC-A": np.array([999.0, 1000.0, 5000.0])}
    assert gate.contains(data).tolist() == [False, True, True]
    with pytest.raises(ConfigError):
        fixed_threshold(float("nan"))
    with pytest.raises(ConfigError):
        Threshold(1.0, "fixed").gate()


def test_auto_logicle_width_from_negatives() -> None:
    rng = np.random.default_rng(2)
    v = np.concatenate([rng.normal(0, 200, 10_000), rng.lognormal(9, 1, 10_000)])
    tr = auto_logicle(v, t=262144)
    r = abs(np.percentile(v[v < 0], 5))
    assert tr.w == pytest.approx((4.5 - np.log10(262144 / r)) / 2)
    assert auto_logicle(np.abs(v) + 1, t=262144).w == 0.0


def test_biexponential_ticks_are_decades() -> None:
    tr = LogicleTransform(262144, 0.5, 4.5, 0)
    ticks, labels = biexponential_ticks(tr, 0.0, 1.0)
    assert "0" in labels and "$10^{5}$" in labels
    assert ticks == sorted(ticks)


def test_plots_render(tmp_path: Path) -> None:
    v, _ = _bimodal(3)
    th = valley_threshold(v)
    tr = LogicleTransform(float(np.max(v)), 1.0, 4.5, 0)
    fig = Figure(figsize=(8, 3))
    ax1, ax2 = fig.subplots(1, 2)
    density_plot(ax1, [v[:30_000], v], tr, [th], labels=["control", "sample"])
    histogram_plot(ax2, v, tr, [th])
    assert len(ax1.get_lines()) == 3  # two curves + threshold
    assert ax2.get_xticklabels()
    out = tmp_path / "density.png"
    fig.savefig(out)
    assert out.stat().st_size > 10_000
