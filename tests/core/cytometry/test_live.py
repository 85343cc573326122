"""Live-cell gate and MAD thresholds on generated events whose labels are known."""

from __future__ import annotations

import numpy as np
import pytest
from assaykit.cytometry.cleanup import CleanupResult, auto_cleanup
from assaykit.cytometry.live import LiveGateParams, live_gate, mad_threshold, robust_center
from assaykit.cytometry.params import FlowPrepParams
from assaykit.cytometry.transforms import LinearTransform
from assaykit.errors import AnalysisError
from numpy.typing import NDArray
from pydantic import ValidationError


def _cells(
    n: int, dead_fraction: float, seed: int, pi: bool = True
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.bool_]]:
    """Live and dead cells: dead ones are PI-bright (PI channel) and smaller (FSC-A)."""
    rng = np.random.default_rng(seed)
    dead = rng.random(n) < dead_fraction
    fsc = rng.normal(80_000, 12_000, n) * np.where(dead, 0.6, 1.0)
    data = {"FSC-A": fsc, "FSC-H": 0.8 * fsc * (1 + rng.normal(0, 0.02, n))}
    if pi:
        data["PI"] = np.where(dead, rng.lognormal(np.log(30_000), 0.5, n),
                              rng.lognormal(np.log(150), 0.4, n)) + rng.normal(0, 30, n)
    return data, dead


@pytest.mark.parametrize("dead_fraction", [0.03, 0.15, 0.4])
def test_pi_gate_separates_dead_cells(dead_fraction: float) -> None:
    data, dead = _cells(20_000, dead_fraction, seed=1)
    res = live_gate(data, pi_channel="PI")
    assert res.method == "pi" and res.rule == "valley"
    assert res.threshold is not None and 500 < res.threshold.value < 10_000
    assert np.mean(res.live[~dead]) > 0.995  # live cells kept
    assert np.mean(res.live[dead]) < 0.005  # dead cells excluded
    assert res.summary()["n_live"] == res.n_live


def test_pi_gate_without_dead_cells_keeps_nearly_all() -> None:
    data, _ = _cells(20_000, 0.0, seed=2)
    res = live_gate(data, pi_channel="PI")
    assert res.rule == "mad"
    assert res.n_live / 20_000 > 0.995


@pytest.mark.parametrize("dead_fraction", [0.05, 0.12, 0.3])
def test_scatter_gate_finds_the_small_population(dead_fraction: float) -> None:
    data, dead = _cells(20_000, dead_fraction, seed=3, pi=False)
    res = live_gate(data)
    assert res.method == "scatter" and res.rule == "mixture"
    # overlapping populations: the cut where the two densities cross drops about as
    # large a tail of the live cells as it keeps of the dead ones, whatever their share
    assert np.mean(res.live[dead]) < 0.10
    assert np.mean(res.live[~dead]) > 0.90


def test_scatter_gate_on_one_population_keeps_nearly_all() -> None:
    data, _ = _cells(20_000, 0.0, seed=4, pi=False)
    res = live_gate(data)
    assert res.rule == "mad" and res.n_live / 20_000 > 0.995


def test_within_restricts_estimate_and_result() -> None:
    data, dead = _cells(10_000, 0.2, seed=5)
    within = np.arange(10_000) % 2 == 0
    res = live_gate(data, pi_channel="PI", within=within)
    assert not res.live[~within].any()
    assert res.n_considered == within.sum()
    assert np.mean(res.live[within & dead]) < 0.01


def test_too_few_events_keeps_all_and_says_so() -> None:
    data, _ = _cells(30, 0.5, seed=6)
    res = live_gate(data, pi_channel="PI")
    assert res.method == "none" and res.threshold is None and res.n_live == 30


def test_bad_within_mask_is_an_analysis_error() -> None:
    data, _ = _cells(100, 0.1, seed=7)
    with pytest.raises(AnalysisError, match="within mask"):
        live_gate(data, pi_channel="PI", within=np.ones(5, bool))


def test_robust_center_ignores_a_minority_population() -> None:
    rng = np.random.default_rng(8)
    v = np.r_[rng.normal(100, 10, 9000), rng.normal(300, 10, 1000)]
    center, sigma = robust_center(v)
    assert center == pytest.approx(100, abs=1)
    assert sigma == pytest.approx(10, rel=0.05)


def test_mad_threshold_on_a_linear_axis_is_center_plus_n_sigma() -> None:
    rng = np.random.default_rng(9)
    v = rng.normal(1000, 50, 50_000)
    upper = mad_threshold(v, 4.0, LinearTransform(t=10_000))
    assert upper.value == pytest.approx(1200, abs=5)
    assert upper.method == "mad" and upper.parameters["side"] == "upper"
    lower = mad_threshold(v, 3.0, side="lower")
    assert lower.value == pytest.approx(850, abs=5)
    with pytest.raises(AnalysisError, match="only 3"):
        mad_threshold([1.0, 2.0, 3.0])


def test_live_gate_params_are_bounded() -> None:
    with pytest.raises(ValidationError):
        LiveGateParams(n_mad=0)


def test_flow_prep_params_build_cleanup_params_and_check_the_fixed_cutoff() -> None:
    p = FlowPrepParams(fsc_area="FSC-H", singlet_gate=False, debris_gate="fixed",
                       debris_cutoff=5000.0)
    c = p.cleanup_params()
    assert (c.fsc_area, c.singlets, c.debris_method, c.debris_cutoff) == (
        "FSC-H", False, "fixed", 5000.0
    )
    with pytest.raises(ValidationError, match="debris_cutoff"):
        FlowPrepParams(debris_gate="fixed")
    schema = FlowPrepParams.model_json_schema()
    assert all(prop.get("description") for prop in schema["properties"].values())


def test_live_gate_composes_with_cleanup() -> None:
    data, dead = _cells(20_000, 0.1, seed=10)
    cl: CleanupResult = auto_cleanup(data)
    res = live_gate(data, pi_channel="PI", within=cl.singlets)
    assert not (res.live & ~cl.singlets).any()
    assert np.mean(res.live[dead]) < 0.005


def test_a_constant_population_is_all_live_and_all_below_a_mad_threshold() -> None:
    """Degenerate real files exist (every event identical): nothing is cut through them."""
    data = {"PI": np.full(500, 11.8), "FSC-A": np.full(500, 264.0)}
    assert live_gate(data, pi_channel="PI").n_live == 500
    assert live_gate(data).n_live == 500
    th = mad_threshold(np.full(500, 11.8))
    assert th.value > 11.8 and th.value == pytest.approx(11.8, rel=1e-3)
