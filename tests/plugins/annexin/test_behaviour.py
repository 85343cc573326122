"""annexin_pi behaviour: boundary rule, compensation and threshold choices, QC flags, channels,
multi-data-set files, small and odd inputs, figures. Truth comes from the generator's labels
or from files built here event by event."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import assaykit
import numpy as np
import pytest
from assaykit import AnalysisError, ParamsError, PluginHost, analyze
from assaykit.cytometry.fcs import read_fcs, write_fcs
from assaykit.cytometry.gates import QuadrantGate
from assaykit_annexin.analysis import quadrant_counts
from helpers.annexin_data import QUADRANT_METRICS, Make, chain_fcs, roles

PARENT_OFF = {"debris_gate": "none", "singlet_gate": False}


def rewrite(
    src: Path,
    dst: Path,
    *,
    channels: list[str] | None = None,
    labels: list[str] | None = None,
    keep_spill: bool = True,
    events: np.ndarray | None = None,
) -> Path:
    """Write ``src``'s events again with other names, labels or events."""
    f = read_fcs(src)
    names = channels or list(f.channels)
    spill = None
    if keep_spill and f.spillover is not None:
        mapping = dict(zip(f.channels, names))
        spill = ([mapping[c] for c in f.spillover.detectors], f.spillover.matrix)
    write_fcs(
        dst,
        f.events if events is None else events,
        names,
        labels=labels if labels is not None else list(f.labels),
        spillover=spill,
    )
    return dst


def flags(res: Any) -> dict[str, list[str | None]]:
    out: dict[str, list[str | None]] = {}
    for f in res.qc_flags:
        out.setdefault(f.flag, []).append(f.sample_id)
    return out


# --------------------------------------------------------------------------------------
# quadrants and the boundary rule
# --------------------------------------------------------------------------------------
def test_quadrant_counts_equal_the_quadrant_gate_event_by_event() -> None:
    rng = np.random.default_rng(0)
    a = rng.choice([-5.0, 0.0, 99.0, 100.0, 101.0, 1e4], 5000)
    p = rng.choice([-1.0, 49.0, 50.0, 51.0, 7e3], 5000)
    keep = rng.random(5000) > 0.2
    q = QuadrantGate.cross("ann", "pi", 100.0, 50.0)
    idx, names = q.assign({"ann": a[keep], "pi": p[keep]})
    assert (idx >= 0).all()  # every finite event lands in exactly one quadrant
    by_gate = dict(zip(names, np.bincount(idx, minlength=4)))
    got = quadrant_counts(a, p, 100.0, 50.0, keep)
    assert got == {
        "viable_pct": by_gate["ann-pi-"],
        "early_apoptotic_pct": by_gate["ann+pi-"],
        "late_apoptotic_pct": by_gate["ann+pi+"],
        "necrotic_pct": by_gate["ann-pi+"],
    }
    assert sum(got.values()) == int(keep.sum())


def test_event_on_a_threshold_counts_as_positive(tmp_path: Path, host: PluginHost) -> None:
    # 400 events on a 20 x 20 grid of Annexin/PI values around the thresholds (1000, 500)
    av = np.array([900.0, 1000.0, 1100.0, 5000.0] * 5)
    pv = np.array([400.0, 500.0, 600.0, 5000.0] * 5)
    aa, pp = (g.ravel() for g in np.meshgrid(av, pv))
    n = aa.size
    fsc = np.full(n, 50_000.0)
    path = tmp_path / "grid.fcs"
    write_fcs(path, np.column_stack([fsc, fsc * 0.8, aa, pp]), ["FSC-A", "FSC-H", "FITC-A", "PE-A"])
    params = {**PARENT_OFF, "threshold_method": "fixed", "fixed_annexin_threshold": 1000.0,
              "fixed_pi_threshold": 500.0, "min_events": 1}  # fmt: skip
    res = analyze("annexin_pi", [path], params, figures=False, host=host)
    a_pos, p_pos = aa >= 1000.0, pp >= 500.0
    truth = {
        "viable_pct": ~a_pos & ~p_pos, "early_apoptotic_pct": a_pos & ~p_pos,
        "late_apoptotic_pct": a_pos & p_pos, "necrotic_pct": ~a_pos & p_pos,
    }  # fmt: skip
    for m, mask in truth.items():
        assert res.value("grid", m) == pytest.approx(100.0 * mask.sum() / n)
    assert res.value("grid", "late_apoptotic_pct") == pytest.approx(100 * 15 * 15 / 400)
    assert res.value("grid", "singlet_count") == n


def test_non_finite_events_are_outside_the_parent(tmp_path: Path, host: PluginHost) -> None:
    n = 1000
    ev = np.column_stack([np.full(n, 5e4), np.full(n, 4e4), np.full(n, 10.0), np.full(n, 10.0)])
    ev[:100, 2] = np.nan
    ev[100:150, 3] = np.inf  # +inf PI is finite-ness-excluded, not "very positive"
    path = tmp_path / "nan.fcs"
    write_fcs(path, ev, ["FSC-A", "FSC-H", "FITC-A", "PE-A"])
    params = {**PARENT_OFF, "threshold_method": "fixed", "fixed_annexin_threshold": 100.0,
              "fixed_pi_threshold": 100.0, "min_events": 1}  # fmt: skip
    res = analyze("annexin_pi", [path], params, figures=False, host=host)
    assert res.value("nan", "singlet_count") == 850
    assert res.value("nan", "viable_pct") == 100.0
    assert res.value("nan", "event_count") == 1000


# --------------------------------------------------------------------------------------
# compensation
# --------------------------------------------------------------------------------------
def test_estimated_spillover_is_close_to_the_truth(make: Make, gen: ModuleType, host: Any) -> None:
    folder, truths = make(spillover=False)
    res = analyze("annexin_pi", roles(folder, truths), figures=False, host=host)
    exp = res.experiment.name
    assert res.value(exp, "compensation") == "estimated"
    s_ap, s_pa = gen.TRUE_SPILL[0, 1], gen.TRUE_SPILL[1, 0]
    assert res.value(exp, "spillover_annexin_into_pi") == pytest.approx(s_ap, abs=0.01)
    assert res.value(exp, "spillover_pi_into_annexin") == pytest.approx(s_pa, abs=0.01)
    f = flags(res)
    assert f["compensation_estimated"] == [None]
    assert "no_compensation" not in f
    assert res.value("vehicle", "compensation") == "estimated"


def test_estimate_can_be_asked_for_even_when_files_carry_one(make: Make, host: Any) -> None:
    folder, truths = make(spillover=True)
    res = analyze("annexin_pi", roles(folder, truths), {"spillover_source": "estimate"},
                  figures=False, host=host)  # fmt: skip
    assert res.value(res.experiment.name, "compensation") == "estimated"
    assert "compensation_estimated" in flags(res)


def test_file_mode_without_keyword_and_estimate_without_single_stains_fail(
    make: Make, gen: ModuleType, host: Any
) -> None:
    folder, truths = make(spillover=False)
    with pytest.raises(AnalysisError, match=r"spillover_source='file'.*vehicle\.fcs"):
        analyze("annexin_pi", roles(folder, truths), {"spillover_source": "file"},
                figures=False, host=host)  # fmt: skip
    tubes = [t for t in gen.default_tubes() if t.role in ("sample", "unstained")]
    folder2, truths2 = make("two", spillover=True, tubes=tubes)
    with pytest.raises(AnalysisError, match="annexin_only and a pi_only"):
        analyze("annexin_pi", roles(folder2, truths2), {"spillover_source": "estimate"},
                figures=False, host=host)  # fmt: skip


def test_no_compensation_is_flagged(make: Make, gen: ModuleType, host: Any) -> None:
    tubes = [t for t in gen.default_tubes() if t.role in ("sample", "unstained")]
    folder, truths = make(spillover=False, tubes=tubes)
    res = analyze("annexin_pi", roles(folder, truths), figures=False, host=host)
    assert res.value(res.experiment.name, "compensation") == "none"
    assert flags(res)["no_compensation"] == [None]
    assert {r.value for r in res.records if r.metric == "compensation"} == {"none"}
    asked = analyze("annexin_pi", roles(folder, truths), {"compensate": False},
                    figures=False, host=host)  # fmt: skip
    assert "no_compensation" in flags(asked)


def test_mixed_files_flag_only_the_uncompensated_ones(
    make: Make, gen: ModuleType, host: Any, tmp_path: Path
) -> None:
    tubes = [t for t in gen.default_tubes() if t.role in ("sample", "unstained")]
    folder, truths = make(spillover=True, tubes=tubes)
    rewrite(folder / "vehicle.fcs", folder / "vehicle_nospill.fcs", keep_spill=False)
    (folder / "vehicle.fcs").unlink()
    (folder / "vehicle_nospill.fcs").rename(folder / "vehicle.fcs")
    res = analyze("annexin_pi", roles(folder, truths), figures=False, host=host)
    assert res.value(res.experiment.name, "compensation") == "mixed"
    assert flags(res)["no_compensation"] == ["vehicle"]
    assert res.value("vehicle", "compensation") == "none"
    assert res.value("iso_5uM", "compensation") == "file:$SPILLOVER"


# --------------------------------------------------------------------------------------
# thresholds
# --------------------------------------------------------------------------------------
def test_threshold_control_choice_is_recorded(make: Make, host: Any) -> None:
    folder, truths = make()
    res = analyze("annexin_pi", roles(folder, truths), {"threshold_control": "unstained"},
                  figures=False, host=host)  # fmt: skip
    exp = res.experiment.name
    assert res.value(exp, "annexin_threshold_source") == "unstained:unstained"
    assert res.value(exp, "pi_threshold_source") == "unstained:unstained"
    assert res.value(exp, "annexin_threshold_method") == "percentile:99.5"
    assert "threshold_auto" not in flags(res)


def test_missing_fmo_control_falls_back_to_unstained_then_auto(
    make: Make, gen: ModuleType, host: Any
) -> None:
    tubes = [t for t in gen.default_tubes() if t.role != "pi_only"]
    folder, truths = make(tubes=tubes)
    res = analyze("annexin_pi", roles(folder, truths), figures=False, host=host)
    exp = res.experiment.name
    assert res.value(exp, "annexin_threshold_source") == "unstained:unstained"
    assert res.value(exp, "pi_threshold_source") == "annexin_only:annexin_only"
    tubes2 = [t for t in gen.default_tubes() if t.role in ("sample", "annexin_only")]
    folder2, truths2 = make("b", tubes=tubes2)
    res2 = analyze("annexin_pi", roles(folder2, truths2), figures=False, host=host)
    exp2 = res2.experiment.name
    assert res2.value(exp2, "annexin_threshold_method") == "density_valley"
    assert res2.value(exp2, "annexin_threshold_source") == (
        "samples:vehicle,iso_1uM,iso_5uM,iso_20uM"
    )
    assert res2.value(exp2, "pi_threshold_source") == "annexin_only:annexin_only"
    auto = [f for f in res2.qc_flags if f.flag == "threshold_auto"]
    assert len(auto) == 1 and "pi_only or unstained" in auto[0].message
    assert "no_controls" not in flags(res2)


def test_fixed_thresholds(make: Make, host: Any) -> None:
    folder, truths = make()
    params = {"threshold_method": "fixed", "fixed_annexin_threshold": 800.0,
              "fixed_pi_threshold": 600.0}  # fmt: skip
    res = analyze("annexin_pi", roles(folder, truths), params, figures=False, host=host)
    exp = res.experiment.name
    assert res.value(exp, "annexin_threshold") == 800.0
    assert res.value(exp, "pi_threshold") == 600.0
    assert res.value(exp, "annexin_threshold_method") == "fixed"
    assert res.value(exp, "pi_threshold_source") == "parameter:fixed_pi_threshold"
    assert res.value(exp, "annexin_threshold_source") == "parameter:fixed_annexin_threshold"


def test_automatic_threshold_on_one_population_is_a_clear_error(
    make: Make, gen: ModuleType, host: Any
) -> None:
    tubes = [gen.Tube("healthy", "sample", (1.0, 0.0, 0.0, 0.0))]
    folder, truths = make(tubes=tubes)
    with pytest.raises(AnalysisError) as err:
        analyze("annexin_pi", roles(folder, truths), figures=False, host=host)
    msg = str(err.value)
    assert "healthy.fcs" in msg and "one population" in msg and "threshold_method='fixed'" in msg


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"percentile": 150}, "percentile"),
        ({"threshold_method": "fixed", "fixed_annexin_threshold": 5.0}, "pi_threshold"),
        ({"debris_gate": "fixed"}, "debris_cutoff"),
        ({"min_events": 0}, "min_events"),
        ({"annexin_chanel": "FL1-A"}, "annexin_chanel"),
        ({"spillover_source": "spill"}, "spillover_source"),
    ],
)
def test_bad_params_name_the_field(
    bad: dict[str, Any], field: str, make: Make, gen: ModuleType, host: Any
) -> None:
    folder, truths = make(n_events=2000, tubes=gen.default_tubes()[3:4])
    with pytest.raises(ParamsError, match=field):
        analyze("annexin_pi", roles(folder, truths), bad, figures=False, host=host)


def test_params_schema_documents_every_field(host: PluginHost) -> None:
    schema = host.get_assay("annexin_pi").Params.model_json_schema()
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    assert schema["properties"]["percentile"]["exclusiveMaximum"] == 100.0
    assert schema["properties"]["percentile"]["minimum"] == 50.0


# --------------------------------------------------------------------------------------
# samples: small, odd, many data sets
# --------------------------------------------------------------------------------------
def test_low_event_counts_flag_only_that_sample(
    make: Make, gen: ModuleType, host: Any, tmp_path: Path
) -> None:
    folder, truths = make()
    tiny = gen.write_tube(folder / "tiny.fcs", gen.default_tubes()[5], n_events=600, seed=3)
    crumbs = gen.write_tube(folder / "crumbs.fcs", gen.default_tubes()[5], n_events=40, seed=4)
    files = {**roles(folder, truths), folder / tiny.file: "sample", folder / crumbs.file: "sample"}
    res = analyze("annexin_pi", files, figures=False, host=host)
    low = {f.sample_id: f.severity for f in res.qc_flags if f.flag == "low_event_count"}
    assert low == {"tiny": "warn", "crumbs": "fail"}
    assert res.value("tiny", "viable_pct") is not None
    # too few events to gate: not measured, and an error record on its file (the host's rule)
    assert not [r for r in res.records if r.sample_id == "crumbs" and r.metric == "viable_pct"]
    err = [r for r in res.records if r.sample_id == "crumbs" and r.metric == "error"]
    assert [(r.entity, r.qc_status) for r in err] == [("crumbs.fcs", "fail")]
    assert "40 events, too few to gate" in str(err[0].value)
    assert res.value("crumbs", "event_count") == 40
    statuses = {r.sample_id: r.qc_status for r in res.records if r.metric == "viable_pct"}
    assert statuses["tiny"] == "warn"
    assert statuses["iso_5uM"] == "pass"


def test_channels_from_labels_under_other_names(make: Make, host: Any) -> None:
    folder, truths = make()
    names = ["FSC-A", "FSC-H", "SSC-A", "FL1-A", "FL3-A", "Time"]
    for t in truths:
        p = folder / t.file
        rewrite(p, p.with_suffix(".tmp"), channels=names)
        p.with_suffix(".tmp").replace(p)
    res = analyze("annexin_pi", roles(folder, truths), figures=False, host=host)
    exp = res.experiment.name
    assert (res.value(exp, "annexin_channel"), res.value(exp, "pi_channel")) == ("FL1-A", "FL3-A")
    assert res.value(exp, "compensation") == "file"


def test_ambiguous_or_identical_channels_are_errors(tmp_path: Path, host: Any) -> None:
    src = tmp_path / "s.fcs"
    rng = np.random.default_rng(0)
    ev = np.abs(rng.normal(1e4, 1e3, (3000, 5)))
    write_fcs(src, ev, ["FSC-A", "FSC-H", "FL1-A", "FL2-A", "FL3-A"],
              labels=["", "", "Annexin V", "Annexin V Pacific Blue", "PI"])  # fmt: skip
    # a sample: the flow layer's failure rule, an error record naming the file and channels
    res = analyze("annexin_pi", [src], figures=False, host=host)
    err = [r.value_str or "" for r in res.records if r.metric == "error"]
    assert len(err) == 1 and all(s in err[0] for s in ("s.fcs", "FL1-A", "FL2-A")), err
    assert [r.metric for r in res.records] == ["error"]
    res = analyze("annexin_pi", [src], {"annexin_channel": "PI"}, figures=False, host=host)
    assert ["both 'FL3-A'" in (r.value_str or "") for r in res.records] == [True]
    # a control: it would change every sample's threshold, so the experiment fails
    with pytest.raises(AnalysisError, match="both 'FL3-A'"):
        analyze("annexin_pi", {src: "pi_only"}, {"annexin_channel": "PI"}, figures=False,
                host=host)  # fmt: skip


def test_every_data_set_of_a_chained_file_is_a_sample(make: Make, host: Any) -> None:
    folder, truths = make()
    by = {t.sample_id: t for t in truths}
    chained = chain_fcs([folder / "vehicle.fcs", folder / "iso_20uM.fcs"], folder / "plate.fcs")
    files = {folder / t.file: t.role for t in truths if t.role != "sample"}
    files[chained] = "sample"
    res = analyze("annexin_pi", files, figures=False, host=host)
    for sid, truth in (("plate", by["vehicle"]), ("plate#2", by["iso_20uM"])):
        for m in QUADRANT_METRICS:
            assert abs(res.value(sid, m) - truth.pct[m]) <= 1.5
    assert {r.input_path for r in res.records if r.sample_id.startswith("plate")} == {"plate.fcs"}
    # as a Beckman .lmd of two equal-sized renderings, the same chain is one acquisition
    lmd = chain_fcs([folder / "vehicle.fcs", folder / "vehicle.fcs"], folder / "tube.lmd")
    res2 = analyze("annexin_pi", {**files, lmd: "sample"}, figures=False, host=host)
    assert not any(r.sample_id.startswith("tube#") for r in res2.records)


def test_zero_event_sample_is_not_a_traceback(make: Make, host: Any, tmp_path: Path) -> None:
    folder, truths = make()
    empty = tmp_path / "empty.fcs"
    write_fcs(empty, np.zeros((0, 6)), ["FSC-A", "FSC-H", "SSC-A", "FITC-A", "PE-A", "Time"])
    res = analyze("annexin_pi", {**roles(folder, truths), empty: "sample"}, figures=False,
                  host=host)  # fmt: skip
    assert res.value("empty", "event_count") == 0
    assert not [r for r in res.records if r.sample_id == "empty" and r.metric == "viable_pct"]
    assert [(r.entity, r.qc_status) for r in res.records
            if r.sample_id == "empty" and r.metric == "error"] == [("empty.fcs", "fail")]
    # an empty control cannot set a threshold: the experiment fails, naming the file
    with pytest.raises(AnalysisError, match=r"empty\.fcs"):
        analyze("annexin_pi", {**roles(folder, truths), empty: "pi_only"}, figures=False,
                host=host)  # fmt: skip


def test_a_corrupt_sample_fails_alone_and_a_corrupt_control_fails_the_experiment(
    make: Make, host: Any, tmp_path: Path
) -> None:
    """The flow layer's one failure rule, as in tunel and rh123_efflux."""
    folder, truths = make()
    corrupt = tmp_path / "corrupt.fcs"
    corrupt.write_bytes(b"FCS3.1    garbage")
    res = analyze("annexin_pi", {**roles(folder, truths), corrupt: "sample"}, figures=False,
                  host=host)  # fmt: skip
    err = [r for r in res.records if r.metric == "error"]
    assert [(r.sample_id, r.entity, r.qc_status) for r in err] == [
        ("corrupt", "corrupt.fcs", "fail")
    ]
    assert str(err[0].value_str).startswith("FCSError")
    for t in truths:  # the others are measured as without it
        for m in QUADRANT_METRICS:
            assert abs(res.value(t.sample_id, m) - t.pct[m]) <= 1.5
    with pytest.raises(assaykit.AssaykitError, match=r"corrupt\.fcs"):
        analyze("annexin_pi", {**roles(folder, truths), corrupt: "pi_only"}, figures=False,
                host=host)  # fmt: skip


# --------------------------------------------------------------------------------------
# figures and folders
# --------------------------------------------------------------------------------------
def test_figures_are_drawn_only_when_asked(make: Make, host: Any) -> None:
    folder, truths = make(n_events=5_000)
    files = roles(folder, truths)
    on = analyze("annexin_pi", files, host=host)
    names = {(f.sample_id, f.name) for f in on.figures}
    for t in truths:
        assert {(t.sample_id, "quadrants"), (t.sample_id, "cleanup")} <= names
    assert (None, "thresholds") in names
    assert all(f.png.startswith(b"\x89PNG") for f in on.figures)
    off = analyze("annexin_pi", files, figures=False, host=host)
    assert off.figures == []
    assert [r.value for r in on.records] == [r.value for r in off.records]


def test_folder_without_sheet_runs_each_file_alone(
    make: Make, gen: ModuleType, host: Any, tmp_path: Path
) -> None:
    """No sheet: every file is its own experiment with automatic thresholds. A file whose
    channels hold one population (the vehicle: 4 % Annexin V-positive) cannot set one and
    fails alone, with a clear error; the others are measured."""
    folder, truths = make(tubes=gen.without_controls(gen.default_tubes()))
    (folder / "expected.csv").unlink()
    result = assaykit.run(folder, tmp_path / "out", assay="annexin_pi", workers=0, host=host,
                          figures=False, report=False)  # fmt: skip
    assert result.exit_code == 1
    recs = result.records
    assert {r.experiment for r in recs} == {t.sample_id for t in truths}
    errors = [r for r in recs if r.metric == "error"]
    assert [(r.experiment, (r.value_str or "").split(":")[0]) for r in errors] == [
        ("vehicle", "AnalysisError")
    ]
    assert "vehicle.fcs" in (errors[0].value_str or "")
    for t in truths[1:]:
        got = {r.metric: r for r in recs if r.sample_id == t.sample_id}
        assert {"no_controls", "threshold_auto"} <= set(got["viable_pct"].qc_flags)
        for m in QUADRANT_METRICS:
            assert abs((got[m].value_num or 0.0) - t.pct[m]) <= 1.5
