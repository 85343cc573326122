"""assaykit.cytometry.prepare: channel resolution, data-set policy, scaled/compensated columns."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from assaykit.cytometry.cleanup import CleanupParams, auto_cleanup
from assaykit.cytometry.compensation import SpilloverMatrix, compensate
from assaykit.cytometry.events import channel_to_scale
from assaykit.cytometry.fcs import FCSMetadata, read_fcs, read_fcs_all, write_fcs
from assaykit.cytometry.prepare import (
    CHUNK_ROWS,
    auto_threshold,
    control_threshold,
    fcs_samples,
    prepare_events,
    resolve_channel,
)
from assaykit.errors import AnalysisError
from assaykit.experiment import Input
from helpers.annexin_data import chain_fcs
from synthetic import scatter_sample

ANNEXIN = (re.compile("annexin", re.I), re.compile("fitc", re.I))


def meta(channels: list[str], labels: list[str] | None = None) -> FCSMetadata:
    labs = labels if labels is not None else [""] * len(channels)
    return FCSMetadata(
        "/data/tube.fcs", "FCS3.1", 0, channels, labs, [262144.0] * len(channels), {}, None,
        10, "F", [],
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# resolve_channel
# --------------------------------------------------------------------------------------
def test_requested_name_matches_pnn_then_label_then_ignoring_case() -> None:
    m = meta(["FSC-A", "FL1-A", "FL2-A"], ["", "Annexin V", "PI"])
    assert resolve_channel(m, "FL1-A", ANNEXIN, ["FITC-A"]) == "FL1-A"
    assert resolve_channel(m, "PI", (), ()) == "FL2-A"
    assert resolve_channel(m, "fl2-a", (), ()) == "FL2-A"
    assert resolve_channel(m, "annexin v", (), ()) == "FL1-A"


def test_requested_name_not_found_names_file_channels_and_parameter() -> None:
    m = meta(["FSC-A", "FL1-A"], ["", "CD3"])
    with pytest.raises(AnalysisError) as err:
        resolve_channel(m, "FITC-A", ANNEXIN, ["FITC-A"], "Annexin V channel", param="ann")
    msg = str(err.value)
    assert "/data/tube.fcs" in msg and "'FITC-A'" in msg and "FL1-A (CD3)" in msg
    assert "'ann'" in msg


def test_requested_duplicate_name_is_ambiguous() -> None:
    m = meta(["FL1-A", "FL1-A", "FL2-A"])
    with pytest.raises(AnalysisError, match=r"ambiguous.*positions \[0, 1\]"):
        resolve_channel(m, "FL1-A", (), ())


def test_label_patterns_in_order_then_fallbacks() -> None:
    # 'annexin' outranks the generic 'FITC' label of another channel
    m = meta(["FL1-A", "FL2-A", "FL3-A"], ["CD3 FITC", "Annexin V-FITC", "PI"])
    assert resolve_channel(m, None, ANNEXIN, ["FITC-A"]) == "FL2-A"
    # no label matches: the fallback
    m2 = meta(["FSC-A", "FITC-A", "PE-A"], ["", "CD20", "CD10"])
    assert resolve_channel(m2, None, ANNEXIN, ["FITC-A"]) == "FITC-A"


def test_area_is_preferred_among_height_and_width_of_one_dye() -> None:
    m = meta(["FL7-A", "FL7-H", "FL7-W"], ["GFP/FITC-A", "GFP/FITC-H", "GFP/FITC-W"])
    assert resolve_channel(m, None, ANNEXIN, ()) == "FL7-A"


def test_two_matching_areas_are_an_error_listing_candidates() -> None:
    m = meta(["FL1-A", "FL2-A"], ["FITC", "Alexa488 FITC-like"])
    with pytest.raises(AnalysisError) as err:
        resolve_channel(m, None, ANNEXIN, ["FITC-A"], "Annexin V channel", param="x")
    assert "FL1-A (FITC)" in str(err.value) and "FL2-A (Alexa488 FITC-like)" in str(err.value)


def test_nothing_found_says_what_was_tried() -> None:
    m = meta(["FSC-A", "FL9"])
    with pytest.raises(AnalysisError) as err:
        resolve_channel(m, None, ANNEXIN, ["FITC-A"], "Annexin V channel")
    msg = str(err.value)
    assert "annexin" in msg and "FITC-A" in msg and "FL9" in msg


# --------------------------------------------------------------------------------------
# fcs_samples (the multi-data-set policy)
# --------------------------------------------------------------------------------------
def _write(path: Path, events: np.ndarray, names: list[str] | None = None) -> Path:
    write_fcs(path, events, names or [f"C{i}" for i in range(events.shape[1])])
    return path


def _inp(path: Path, sid: str = "s1") -> Input:
    return Input(path=path, relpath=path.name, kind="fcs", sample_id=sid)


def test_single_data_set_keeps_the_sample_id(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.fcs", np.ones((5, 2)))
    assert [sid for sid, _ in fcs_samples(_inp(p), read_fcs_all(p))] == ["s1"]


def test_each_data_set_is_its_own_sample(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    parts = [_write(tmp_path / f"p{k}.fcs", rng.random((10 + k, 2))) for k in range(3)]
    chained = chain_fcs(parts, tmp_path / "muse.fcs")
    ds = read_fcs_all(chained)
    got = fcs_samples(_inp(chained), ds)
    assert [sid for sid, _ in got] == ["s1", "s1#2", "s1#3"]
    assert [d.n_events for _, d in got] == [10, 11, 12]
    assert [sid for sid, _ in fcs_samples(_inp(chained), ds, "first")] == ["s1"]
    assert fcs_samples(_inp(chained), ds, "last")[0][1].n_events == 12


def test_byte_identical_data_sets_count_once(tmp_path: Path) -> None:
    p = _write(tmp_path / "p.fcs", np.arange(20.0).reshape(10, 2))
    q = _write(tmp_path / "q.fcs", np.arange(20.0).reshape(10, 2) + 1)
    chained = chain_fcs([p, p, q], tmp_path / "c.fcs")
    got = fcs_samples(_inp(chained), read_fcs_all(chained))
    assert [sid for sid, _ in got] == ["s1", "s1#2"]
    assert got[1][1].events[0, 0] == 1.0


def test_lmd_copies_of_one_acquisition_count_once_as_the_last(tmp_path: Path) -> None:
    """Beckman .lmd: an FCS 2.0 and an FCS 3.0 rendering of the same events (different values)."""
    coarse = _write(tmp_path / "a.fcs", np.floor(np.arange(40.0).reshape(20, 2) / 4))
    fine = _write(tmp_path / "b.fcs", np.arange(40.0).reshape(20, 2))
    lmd = chain_fcs([coarse, fine], tmp_path / "tube.lmd")
    got = fcs_samples(_inp(lmd), read_fcs_all(lmd))
    assert len(got) == 1 and got[0][0] == "s1"
    assert got[0][1].dataset_index == 1
    # the same chain named .fcs is two samples
    fcs = chain_fcs([coarse, fine], tmp_path / "tube.fcs")
    assert len(fcs_samples(_inp(fcs), read_fcs_all(fcs))) == 2


def test_no_data_set_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match=r"x\.fcs"):
        fcs_samples(_inp(tmp_path / "x.fcs"), [])


# --------------------------------------------------------------------------------------
# prepare_events
# --------------------------------------------------------------------------------------
CHANNELS = ["FSC-A", "FSC-H", "SSC-A", "FITC-A", "PE-A", "APC-A", "Time"]
SPILL = np.array([[1.0, 0.2, 0.01], [0.03, 1.0, 0.05], [0.0, 0.1, 1.0]])


def _sample(tmp_path: Path, n: int = 50_000, *, spill: bool = True, seed: int = 3) -> Path:
    sc = scatter_sample(n=n, seed=seed)
    rng = np.random.default_rng(seed)
    dyes = rng.lognormal(6, 1.5, (n, 3))
    fl = dyes @ SPILL + rng.normal(0, 20, (n, 3))
    ev = np.column_stack([sc.fsc_a, sc.fsc_h, sc.ssc_a, fl, np.arange(n)])
    sp = (["FITC-A", "PE-A", "APC-A"], SPILL) if spill else None
    write_fcs(tmp_path / "s.fcs", ev, CHANNELS, spillover=sp)
    return tmp_path / "s.fcs"


def test_file_compensation_equals_compensate_on_the_named_channels(tmp_path: Path) -> None:
    fcs = read_fcs(_sample(tmp_path, n=CHUNK_ROWS * 2 + 123))
    p = prepare_events(fcs, ["FITC-A", "PE-A"], cleanup=CleanupParams())
    ref = compensate(fcs.events.astype(np.float64), CHANNELS, fcs.spillover)
    assert p.compensation == "file" and p.spillover_keyword == "$SPILLOVER"
    assert p.compensated == ("FITC-A", "PE-A")
    for c in ("FITC-A", "PE-A"):
        np.testing.assert_allclose(p.column(c), ref[:, CHANNELS.index(c)], rtol=1e-9, atol=1e-6)
    # scatter is never compensated, only scaled
    np.testing.assert_array_equal(p.column("FSC-A"), fcs.events[:, 0].astype(np.float64))
    assert set(p.columns) == {"FITC-A", "PE-A", "FSC-A", "FSC-H"}


def test_given_matrix_no_matrix_and_matrix_not_covering(tmp_path: Path) -> None:
    fcs = read_fcs(_sample(tmp_path))
    given = SpilloverMatrix(("FITC-A", "PE-A"), np.array([[1.0, 0.5], [0.0, 1.0]]))
    p = prepare_events(fcs, ["FITC-A", "PE-A"], spillover_override=given, cleanup=None)
    raw = fcs.events[:, [3, 4]].astype(np.float64)
    np.testing.assert_allclose(
        np.column_stack([p.column("FITC-A"), p.column("PE-A")]), raw @ np.linalg.inv(given.matrix)
    )
    assert p.compensation == "given"
    off = prepare_events(fcs, ["FITC-A", "PE-A"], compensate=False, cleanup=None)
    assert off.compensation == "none" and off.compensated == ()
    np.testing.assert_array_equal(off.column("PE-A"), raw[:, 1])
    other = SpilloverMatrix(("SSC-A", "Time"), np.eye(2))
    p3 = prepare_events(fcs, ["FITC-A", "PE-A"], spillover_override=other, cleanup=None)
    assert p3.compensation == "none" and p3.spillover is None


def test_cleanup_fitted_on_all_events_is_auto_cleanup(tmp_path: Path) -> None:
    fcs = read_fcs(_sample(tmp_path, spill=False))
    p = prepare_events(fcs, ["FITC-A"], cleanup=CleanupParams(), fit_events=None)
    ref = auto_cleanup({c: fcs.events[:, i] for i, c in enumerate(CHANNELS)}, CleanupParams())
    assert p.cleanup is not None
    np.testing.assert_array_equal(p.cleanup.cells, ref.cells)
    np.testing.assert_array_equal(p.cleanup.singlets, ref.singlets)
    assert p.cleanup.fsc_cutoff == ref.fsc_cutoff
    np.testing.assert_array_equal(p.keep, ref.singlets)


def test_cleanup_fitted_on_a_stride_agrees_with_labels(tmp_path: Path) -> None:
    n = 200_000
    path = _sample(tmp_path, n=n, spill=False, seed=9)
    sc = scatter_sample(n=n, seed=9)
    p = prepare_events(read_fcs(path), ["FITC-A"], cleanup=CleanupParams(), fit_events=20_000)
    truth = ~sc.is_debris & ~sc.is_doublet
    agree = float(np.mean(p.keep == truth))
    assert agree > 0.98


def test_non_finite_fluorescence_is_not_kept(tmp_path: Path) -> None:
    fcs = read_fcs(_sample(tmp_path, spill=False))
    fcs.events[:10, 3] = np.nan
    fcs.events[10:20, 4] = np.inf
    p = prepare_events(fcs, ["FITC-A", "PE-A"], cleanup=None)
    assert not p.keep[:20].any() and p.keep[20:].all()
    assert p.n_kept == fcs.n_events - 20
    assert p.kept("FITC-A").size == p.n_kept


def test_integer_log_data_are_scaled_like_channel_to_scale(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ev = rng.integers(0, 1024, (3000, 3)).astype(np.float64)
    path = tmp_path / "int.fcs"
    write_fcs(
        path, ev, ["FS", "FL1 LOG", "FL2"], datatype="I", bits=16, ranges=[1024, 1024, 1024],
        keywords={"$P2E": "4,1", "$P3G": "2"},
    )  # fmt: skip
    fcs = read_fcs(path)
    p = prepare_events(fcs, ["FL1 LOG", "FL2"], cleanup=None)
    ref = channel_to_scale(fcs.events, fcs.keywords)
    np.testing.assert_allclose(p.column("FL1 LOG"), ref[:, 1])
    np.testing.assert_allclose(p.column("FL2"), ref[:, 2])
    assert p.column("FL1 LOG").max() > 1000  # 10^(4 x/1024): a log amplifier, undone


def test_missing_scatter_channel_names_file_channel_and_parameter(tmp_path: Path) -> None:
    fcs = read_fcs(_sample(tmp_path))
    with pytest.raises(AnalysisError) as err:
        prepare_events(fcs, ["FITC-A"], cleanup=CleanupParams(fsc_height="FSC-Height"))
    msg = str(err.value)
    assert "s.fcs" in msg and "'FSC-Height'" in msg and "fsc_height" in msg


def test_too_few_events_to_gate_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.fcs"
    write_fcs(path, np.random.default_rng(0).random((20, 3)) * 1000, ["FSC-A", "FSC-H", "FL1"])
    with pytest.raises(AnalysisError, match=r"tiny\.fcs: cleanup gates"):
        prepare_events(read_fcs(path), ["FL1"], cleanup=CleanupParams())


# --------------------------------------------------------------------------------------
# thresholds
# --------------------------------------------------------------------------------------
def test_control_threshold_pools_controls_and_names_them() -> None:
    a, b = np.arange(1000.0), np.arange(1000.0, 3000.0)
    th = control_threshold({"u1": a, "u2": b}, 99.0, channel="FITC-A")
    assert th.value == pytest.approx(float(np.percentile(np.r_[a, b], 99.0)))
    assert th.control == "u1,u2" and th.channel == "FITC-A" and th.method == "percentile"
    with pytest.raises(AnalysisError, match="u1"):
        control_threshold({"u1": np.arange(10.0)}, 99.0, channel="FITC-A")


def test_auto_threshold_cuts_between_two_populations() -> None:
    rng = np.random.default_rng(2)
    v = np.r_[rng.normal(100, 40, 60_000), rng.lognormal(np.log(20_000), 0.4, 40_000)]
    th = auto_threshold(v, channel="PE-A", source="samples:s1", fit_events=20_000)
    assert 400 < th.value < 8_000
    assert th.control == "samples:s1" and th.method == "density_valley"
    with pytest.raises(AnalysisError, match="samples:s1"):
        auto_threshold(rng.normal(100, 40, 5000), channel="PE-A", source="samples:s1")
