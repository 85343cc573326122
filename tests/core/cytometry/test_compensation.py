"""Compensation: keyword parsing, applying the inverse, and estimating from single stains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from assaykit.cytometry.compensation import (
    CompensationError,
    SingleStainControl,
    SpilloverMatrix,
    compensate,
    estimate_spillover,
    match_channels,
    parse_spillover,
    spillover_from_keywords,
)
from assaykit.cytometry.events import EventFrame
from assaykit.errors import AnalysisError, ConfigError
from synthetic import PANEL_DETECTORS, PANEL_SPILL, panel_controls, spillover_sample

KNOWN = np.array([[1.0, 0.15, 0.02], [0.05, 1.0, 0.20], [0.01, 0.08, 1.0]])
DETECTORS = ["FL1-A", "FL2-A", "FL3-A"]


def test_parse_spillover_keyword() -> None:
    text = "3,FL1-A,FL2-A,FL3-A,1,0.15,0.02,0.05,1,0.2,0.01,0.08,1"
    sm = parse_spillover(text)
    assert sm.detectors == tuple(DETECTORS)
    np.testing.assert_array_equal(sm.matrix, KNOWN)


@pytest.mark.parametrize(
    "bad",
    ["", "x,FL1", "2,FL1,FL2,1,0,0", "2,FL1,FL2,1,0,a,1", "2,FL1,FL1,1,0,0,1"],
)
def test_parse_spillover_rejects_malformed(bad: str) -> None:
    with pytest.raises(CompensationError):
        parse_spillover(bad)


def test_parse_errors_name_the_file_and_the_keyword() -> None:
    with pytest.raises(CompensationError, match=r"^x\.fcs: \$SPILL declares 2 channels"):
        parse_spillover("2,A,B,1,0", keyword="$SPILL", source="x.fcs")
    with pytest.raises(CompensationError, match=r"^x\.fcs: spillover matrix \$SPILL is singular"):
        parse_spillover("2,A,B,1,1,1,1", keyword="$SPILL", source="x.fcs")
    with pytest.raises(CompensationError, match=r"^x\.fcs: SPILL does not start with a channel"):
        spillover_from_keywords({"spill": "x,A"}, source="x.fcs")
    kept = parse_spillover("2,A,B,1,1,1,1", check=False)
    assert kept.problem is not None and "singular" in kept.problem


def test_an_unusable_file_spillover_fails_the_analysis_not_the_read(tmp_path: Path) -> None:
    from assaykit.cytometry.fcs import read_fcs, write_fcs
    from assaykit.cytometry.prepare import prepare_events

    path = tmp_path / "singular.fcs"
    singular = (["FL1-A", "FL2-A"], np.ones((2, 2)))  # written as given (writers do not check)
    write_fcs(path, np.ones((5, 3)), ["FSC-A", "FL1-A", "FL2-A"], spillover=singular)
    fcs = read_fcs(path)
    with pytest.raises(AnalysisError, match=r"unusable spillover keyword.*singular"):
        prepare_events(fcs, ["FL1-A"])


def test_spillover_from_keywords_finds_variants() -> None:
    kw = {"SPILL": "2,A,B,1,0.1,0.2,1", "$P1N": "A"}
    sm = spillover_from_keywords(kw)
    assert sm is not None and sm.detectors == ("A", "B")
    assert spillover_from_keywords({"$spillover": "2,A,B,1,0,0,1"}) is not None
    assert spillover_from_keywords({"$SPILLOVER": "0"}) is None
    assert spillover_from_keywords({}) is None


def test_compensate_recovers_true_signal_and_leaves_other_channels() -> None:
    rng = np.random.default_rng(0)
    true = rng.lognormal(7, 1, (5000, 3))
    scatter = rng.normal(50000, 5000, (5000, 2))
    observed = np.column_stack([scatter[:, 0], true @ KNOWN, scatter[:, 1]])
    channels = ["FSC-A", *DETECTORS, "SSC-A"]
    before = observed.copy()
    out = compensate(observed, channels, SpilloverMatrix(tuple(DETECTORS), KNOWN))
    np.testing.assert_array_equal(observed, before)  # input untouched
    np.testing.assert_allclose(out[:, 1:4], true, rtol=1e-10)
    np.testing.assert_array_equal(out[:, [0, 4]], scatter)


def test_channel_matching_by_name_then_label() -> None:
    channels = ["FSC-A", "B1-A", "B2-A"]
    labels = ["", "FITC", "PE"]
    assert match_channels(["B2-A", "FITC"], channels, labels) == [2, 1]
    with pytest.raises(CompensationError, match="not found"):
        match_channels(["APC"], channels, labels)
    with pytest.raises(CompensationError, match="matches 2"):
        match_channels(["X"], ["X", "X"])


def test_compensate_by_label_fallback() -> None:
    rng = np.random.default_rng(1)
    true = rng.lognormal(7, 1, (1000, 3))
    channels = ["FSC-A", "B1-A", "B2-A", "B3-A"]
    labels = [None, "FITC", "PE", "PerCP"]
    ev = np.column_stack([rng.normal(size=1000), true @ KNOWN])
    sm = SpilloverMatrix(("FITC", "PE", "PerCP"), KNOWN)
    out = compensate(ev, channels, sm, labels)
    np.testing.assert_allclose(out[:, 1:], true, rtol=1e-10)


def test_singular_matrix_is_refused() -> None:
    with pytest.raises(CompensationError, match="singular"):
        SpilloverMatrix(("A", "B"), np.array([[1.0, 1.0], [1.0, 1.0]]))


def test_event_frame_fcs_reference_and_named_matrix() -> None:
    rng = np.random.default_rng(2)
    true = rng.lognormal(7, 1, (1000, 3))
    frame = EventFrame(
        true @ KNOWN,
        DETECTORS,
        spillover=SpilloverMatrix(tuple(DETECTORS), KNOWN),
        matrices={
            "dyes": SpilloverMatrix(tuple(DETECTORS), KNOWN, ("FITC", "PE", "PerCP"), id="dyes")
        },
    )
    np.testing.assert_allclose(frame.column("FL2-A", "FCS"), true[:, 1], rtol=1e-10)
    np.testing.assert_allclose(frame.column("PE", "dyes"), true[:, 1], rtol=1e-10)
    np.testing.assert_allclose(frame.column("FL2-A"), (true @ KNOWN)[:, 1])
    with pytest.raises(ConfigError, match="not defined"):
        frame.column("FL2-A", "nope")
    np.testing.assert_allclose(frame.compensated("FCS"), true, rtol=1e-10)


@pytest.mark.parametrize("method", ["regression", "median"])
@pytest.mark.parametrize("with_unstained", [True, False])
def test_estimate_spillover_recovers_known_matrix(method: str, with_unstained: bool) -> None:
    """Generated data: true dye signal -> known spillover -> autofluorescence + noise."""
    controls, unstained = spillover_sample(KNOWN, n=20_000, seed=11)
    channels = ["FSC-A", *DETECTORS]
    rng = np.random.default_rng(5)
    ctrl = [
        SingleStainControl(
            np.column_stack([rng.normal(5e4, 5e3, len(c)), c]), DETECTORS[i], f"ss{i}"
        )
        for i, c in enumerate(controls)
    ]
    unst = np.column_stack([rng.normal(5e4, 5e3, len(unstained)), unstained])
    est = estimate_spillover(
        ctrl, channels, unst if with_unstained else None, method=method  # type: ignore[arg-type]
    )
    err = np.abs(est.spillover.matrix - KNOWN).max()
    tol = 0.002 if method == "regression" else 0.01
    assert err < tol, err
    assert [r["control"] for r in est.rows] == ["ss0", "ss1", "ss2"]
    # Compensating a single stain with the estimate removes its spill.
    comp = compensate(ctrl[0].events, channels, est.spillover)
    pos = ctrl[0].events[:, 1] > 5000
    spill_left = np.median(comp[pos, 2]) - np.median(comp[~pos, 2])
    assert abs(spill_left) < 0.01 * np.median(comp[pos, 1])


def test_estimate_spillover_needs_positives() -> None:
    rng = np.random.default_rng(0)
    dim = rng.normal(0, 10, (500, 2))
    with pytest.raises(AnalysisError, match="events above"):
        estimate_spillover(
            [SingleStainControl(dim, "A"), SingleStainControl(dim, "B")],
            ["A", "B"],
            unstained=dim,
            min_positive=50,
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dim_control_with_correlated_autofluorescence_is_fitted_on_its_positives(
    seed: int,
) -> None:
    """Six single stains, 50,000 events each; the 7-AAD control has ~1,200 dim positives.

    No real single-stain panel is in the shared data (its README lists none), so
    the panel is generated with a known matrix and an unstained population whose
    autofluorescence is one factor in every detector. A fit through the negatives
    gave 7AAD->FITC 0.10 (truth 0.012); every term must now be within 4 of its
    own standard errors of the truth.
    """
    controls, unstained, dim_pos = panel_controls(seed)
    ss = [SingleStainControl(c, d, d) for c, d in zip(controls, PANEL_DETECTORS)]
    est = estimate_spillover(ss, PANEL_DETECTORS, unstained)
    m, se = est.spillover.matrix, est.uncertainty
    assert se.shape == m.shape and np.all(np.diag(se) == 0)
    off = ~np.eye(len(PANEL_DETECTORS), dtype=bool)
    assert np.all(se[off] > 0)
    z = np.abs(m - PANEL_SPILL)[off] / se[off]
    assert z.max() <= 4.0, np.round((m - PANEL_SPILL) / np.where(se > 0, se, 1), 1)
    assert abs(m[2, 0] - PANEL_SPILL[2, 0]) < 0.01  # the term the issue found 4.5x too high
    row = est.rows[2]
    gated = controls[2][:, 2] > row["positive_threshold"]
    assert row["n_positive"] == gated.sum()
    assert np.mean(~dim_pos[gated]) < 0.02  # truth: (almost) only stained cells in the gate
    assert row["expected_contamination"] <= 0.01
    assert row["uncertainty"]["FITC-A"] == se[2, 0]
    assert all(r["severity"] == "pass" for r in est.rows)


def test_too_few_positives_is_a_warning_in_the_rows_and_none_is_a_failure() -> None:
    controls, unstained, dim_pos = panel_controls(4, n=20_000, dim_fraction=0.01)
    ss = [SingleStainControl(c, d, d) for c, d in zip(controls, PANEL_DETECTORS)]
    est = estimate_spillover(ss, PANEL_DETECTORS, unstained, warn_positive=500)
    assert dim_pos.sum() < 500
    dim = est.rows[2]
    assert dim["severity"] == "warn" and "few_positive_events" in dim["flags"]
    assert any("PerCP-Cy5-5-A" in w and "positive events" in w for w in est.warnings)
    assert [r["severity"] for i, r in enumerate(est.rows) if i != 2] == ["pass"] * 5
    with pytest.raises(AnalysisError, match=r"PerCP-Cy5-5-A: only \d+ events above"):
        estimate_spillover(ss, PANEL_DETECTORS, unstained, min_positive=int(dim_pos.sum()) + 50)


def test_real_file_spillover_round_trip(shared_data: Path) -> None:
    """facs_diva_test.fcs carries $SPILLOVER: compensating and re-applying the
    spillover must give back the recorded values, touching only its channels."""
    from assaykit.cytometry.fcs import read_fcs

    f = read_fcs(shared_data / "fcs-instruments" / "FACS_Diva" / "facs_diva_test.fcs")
    frame = EventFrame.from_fcs(f)
    assert frame.spillover is not None
    sm = frame.spillover
    assert set(sm.detectors) <= set(f.channels)
    comp = frame.compensated("FCS")
    idx = match_channels(sm.detectors, frame.channels)
    others = [i for i in range(len(frame.channels)) if i not in idx]
    np.testing.assert_array_equal(comp[:, others], frame.events[:, others])
    np.testing.assert_allclose(comp[:, idx] @ sm.matrix, frame.events[:, idx], rtol=1e-9,
                               atol=1e-6)
    assert not np.allclose(comp[:, idx], frame.events[:, idx])
