"""The ``tunel`` plugin against experiments whose answers come from the simulator's labels."""

from __future__ import annotations

import filecmp
import math
import shutil
import struct
from pathlib import Path
from types import ModuleType

import assaykit
import numpy as np
import pytest
from assaykit import PluginHost, Record
from assaykit.cytometry.fcs import write_fcs
from assaykit.testing import assert_conforms, check_bad_params
from helpers import fixturegen

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "fixtures" / "tunel"


def _example_tubes() -> dict[Path, str]:
    d = EXAMPLE / "tunel_controls"
    return {d / "no_tdt.fcs": "negative_control", d / "iso_5uM.fcs": "sample"}


def _by(records: list[Record], metric: str) -> dict[tuple[str, str], Record]:
    return {(r.experiment, r.sample_id): r for r in records if r.metric == metric}


def _run(folder: Path, out: Path, host: PluginHost, **kw: object) -> assaykit.RunResult:
    return assaykit.run(folder, out, workers=0, report=False, host=host, **kw)  # type: ignore[arg-type]


def _write_params(folder: Path, **params: object) -> None:
    lines = ["[params.tunel]"]
    for k, v in params.items():
        lines.append(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"')
    (folder / "assaykit.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# the example folder
# --------------------------------------------------------------------------------------
def test_example_folder_matches_expected(tmp_path: Path, host: PluginHost) -> None:
    result = _run(EXAMPLE, tmp_path / "out", host)
    assert result.exit_code == 0
    got = {(r.experiment, r.sample_id, r.entity, r.metric): r for r in result.records}
    expected = fixturegen.read_expected(EXAMPLE / "expected.csv")
    assert len(expected) == 13  # no truth row for the lone control's own-percentile value
    for row in expected:
        rec = got[(row["experiment"], row["sample_id"], row["entity"], row["metric"])]
        assert rec.value_num is not None
        assert fixturegen.within(row, rec.value_num), (row, rec.value_num)


def test_example_folder_is_what_the_generator_makes(tmp_path: Path, gen: ModuleType) -> None:
    gen.write_folder(tmp_path, gen.EXAMPLE)
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    kept = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*") if p.is_file())
    assert made == kept
    for rel in made:
        assert filecmp.cmp(tmp_path / rel, EXAMPLE / rel, shallow=False), rel
    total = sum((EXAMPLE / rel).stat().st_size for rel in kept)
    assert total < 2_000_000


def test_example_folder_flags_and_threshold_sources(tmp_path: Path, host: PluginHost) -> None:
    records = _run(EXAMPLE, tmp_path / "out", host).records
    method = _by(records, "threshold_method")
    source = _by(records, "threshold_source")
    assert method[("tunel_controls", "tunel_controls")].value == "percentile:99.5"
    assert source[("tunel_controls", "tunel_controls")].value == "negative_control:no_tdt"
    auto = method[("tunel_no_control", "tunel_no_control")].value
    assert auto == "density_valley" or str(auto).startswith("mad:"), auto
    assert str(source[("tunel_no_control", "tunel_no_control")].value).startswith("samples:")
    for r in records:
        if r.assay == "profile":  # per-cell-line values pooled over both experiments
            continue
        if r.experiment == "tunel_no_control":
            assert "no_negative_control" in r.qc_flags and r.qc_status == "warn"
        elif r.sample_id == "no_tdt" and r.metric == "tunel_positive_pct":
            # the lone control is scored by its own percentile: the record must say so
            assert r.qc_flags == ("scored_by_own_threshold",) and r.qc_status == "warn"
        else:
            assert r.qc_flags == () and r.qc_status == "pass"
    # by construction, 100 - 99.5 % of the control's own singlets are above its percentile
    neg = _by(records, "tunel_positive_pct")[("tunel_controls", "no_tdt")].value_num
    assert neg == pytest.approx(0.5, abs=0.02)
    expected = fixturegen.read_expected(EXAMPLE / "expected.csv")
    assert not any(r["sample_id"] == "no_tdt" and r["metric"] == "tunel_positive_pct"
                   for r in expected)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_each_negative_control_is_scored_by_the_other_controls(
    tmp_path: Path, host: PluginHost, gen: ModuleType, seed: int
) -> None:
    """Two no-TdT tubes, one of them holding labelled cells (a mixed-up tube).

    Scored by its own percentile each would read 0.5 % whatever it holds; scored
    by the other control (leave-one-out) each reads its true labelled fraction.
    """
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": [
        gen.TunelSpec("neg", "negative_control", 0.2),
        gen.TunelSpec("mixed", "sample", 0.10),  # relabelled a negative control below
        gen.TunelSpec("clean2", "negative_control", 0.2),
        gen.TunelSpec("s", "sample", 0.3),
    ]}, seed=seed)
    sheet = folder / "samples.csv"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace(
        "exp,mixed,sample", "exp,mixed,negative_control"), encoding="utf-8")
    records = _run(folder, tmp_path / "out", host, figures=False).records
    got = _by(records, "tunel_positive_pct")
    truth = {r["sample_id"]: r for r in expected if r["metric"] == "tunel_positive_pct"}
    assert float(truth["mixed"]["expected"]) > 8.0 and float(truth["neg"]["expected"]) == 0.0
    for sid in ("neg", "mixed", "clean2"):
        assert "scored_by_own_threshold" not in got[("exp", sid)].qc_flags
        assert fixturegen.within(truth[sid], got[("exp", sid)].value_num), (
            sid, got[("exp", sid)].value_num, truth[sid]["expected"])


# --------------------------------------------------------------------------------------
# accuracy on generated experiments
# --------------------------------------------------------------------------------------
FRACTIONS = (0.0, 0.01, 0.03, 0.08, 0.15, 0.25, 0.4, 0.6, 0.8, 0.95)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_positive_pct_within_1_5_points_of_truth(
    tmp_path: Path, host: PluginHost, gen: ModuleType, seed: int
) -> None:
    specs = [gen.TunelSpec("neg", "negative_control", 0.3, n_events=10_000),
             gen.TunelSpec("pos", "positive_control", 0.97, n_events=10_000)]
    specs += [gen.TunelSpec(f"s{k}", "sample", f, n_events=10_000)
              for k, f in enumerate(FRACTIONS)]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=seed)
    result = _run(folder, tmp_path / "out", host, figures=False)
    assert result.exit_code == 0
    got = {(r.sample_id, r.metric): r.value_num for r in result.records}
    errors = []
    for row in expected:
        value = got[(row["sample_id"], row["metric"])]
        assert value is not None
        if row["metric"] == "tunel_positive_pct":
            errors.append(value - float(row["expected"]))
        assert fixturegen.within(row, value), (row, value)
    assert len(errors) == len(FRACTIONS) + 1  # the lone negative control has no truth row
    assert max(abs(e) for e in errors) <= 1.5


def test_without_negative_control_threshold_is_automatic_and_flagged(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    specs = [gen.TunelSpec(f"s{k}", "sample", f) for k, f in enumerate((0.05, 0.3, 0.6))]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=7)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    got = _by(records, "tunel_positive_pct")
    for row in expected:
        if row["metric"] == "tunel_positive_pct":
            assert fixturegen.within(row, got[("exp", row["sample_id"])].value_num)
    assert all("no_negative_control" in r.qc_flags for r in records)
    assert _by(records, "threshold_method")[("exp", "exp")].value == "density_valley"
    assert _by(records, "threshold_source")[("exp", "exp")].value == "samples:s0,s1,s2"


def test_unimodal_samples_without_control_use_the_upper_edge_of_the_negatives(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    specs = [gen.TunelSpec("a", "sample", 0.0), gen.TunelSpec("b", "sample", 0.0)]
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": specs}, seed=8)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    assert _by(records, "threshold_method")[("exp", "exp")].value == "mad:4"
    for sid in ("a", "b"):  # truth: no labelled cell at all
        assert _by(records, "tunel_positive_pct")[("exp", sid)].value_num <= 1.5


def test_fixed_threshold_replaces_control_and_auto(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    specs = [gen.TunelSpec("s", "sample", 0.3)]
    expected = gen.write_folder(folder, {"exp": specs}, seed=9)
    _write_params(folder, fixed_threshold=1000.0)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    assert _by(records, "threshold")[("exp", "exp")].value_num == 1000.0
    assert "fixed" in str(_by(records, "threshold_method")[("exp", "exp")].value)
    assert all("no_negative_control" in r.qc_flags for r in records)
    truth = next(r for r in expected if r["metric"] == "tunel_positive_pct")
    assert fixturegen.within(truth, _by(records, "tunel_positive_pct")[("exp", "s")].value_num)


@pytest.mark.parametrize("percentile", [95.0, 98.0, 99.9])
def test_percentile_is_the_documented_false_positive_rate_on_the_control(
    tmp_path: Path, host: PluginHost, gen: ModuleType, percentile: float
) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.2),
                                      gen.TunelSpec("s", "sample", 0.2)]}, seed=10)
    _write_params(folder, percentile=percentile)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    own = _by(records, "tunel_positive_pct")[("exp", "neg")].value_num
    assert own == pytest.approx(100.0 - percentile, abs=0.05)


def test_positive_control_low_is_flagged_below_the_configured_percentage(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.1),
                                      gen.TunelSpec("pos", "positive_control", 0.35),
                                      gen.TunelSpec("s", "sample", 0.2)]}, seed=11)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    assert all("positive_control_low" in r.qc_flags for r in records)
    _write_params(folder, positive_control_min_pct=20.0)
    records = _run(folder, tmp_path / "out2", host, figures=False).records
    assert not any("positive_control_low" in r.qc_flags for r in records)


def test_ties_at_the_control_threshold_are_flagged(tmp_path: Path, host: PluginHost) -> None:
    """Coarse integer data: the percentile lands on a value shared by many control events."""
    rng = np.random.default_rng(17)
    names = ["FSC-A", "FSC-H", "SSC-A", "FITC-A"]
    paths = []
    for name, fitc in (("neg", rng.integers(0, 4, 5000)), ("s", rng.integers(0, 40, 5000))):
        fsc = rng.normal(80_000, 5_000, 5000)
        events = np.column_stack([fsc, 0.8 * fsc, rng.normal(50_000, 5_000, 5000), fitc])
        write_fcs(tmp_path / f"{name}.fcs", events, names)
        paths.append(tmp_path / f"{name}.fcs")
    res = assaykit.analyze("tunel", {paths[0]: "negative_control", paths[1]: "sample"},
                           {"debris_gate": "none"}, figures=False, host=host)
    assert res.value("neg", "tunel_positive_pct") > 20  # a quarter of the control sits at 3
    assert all("negative_control_high" in r.qc_flags for r in res.records)
    assert not any(f.flag == "negative_control_high" for f in assaykit.analyze(
        "tunel", _example_tubes(), figures=False, host=host).qc_flags)


def test_low_event_count_flags_only_that_sample(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.1),
                                      gen.TunelSpec("small", "sample", 0.3, n_events=700),
                                      gen.TunelSpec("big", "sample", 0.3)]}, seed=12)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    for r in records:
        low = "low_event_count" in r.qc_flags
        assert low == (r.sample_id == "small"), r  # the flow layer's rule: the whole sample


# --------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------
def _tube_file(
    gen: ModuleType, path: Path, channels: list[str], labels: list[str], seed: int,
    fraction: float = 0.3, tdt: bool = True,
) -> float:
    """A simulated tube written under other channel names; returns the true TUNEL+ %."""
    sim = fixturegen.load("tunel_rh123_sim")
    tube = sim.tunel_tube(np.random.default_rng(seed), 8000, fraction, tdt=tdt)
    rename = dict(zip(tube.channels, channels))
    write_fcs(path, tube.events.astype(np.float32), channels, labels=labels,
              spillover=([rename[c] for c in tube.spill_channels], tube.spill))
    return float(sim.tunel_truth(tube)[0])


def test_fitc_channel_from_labels_then_from_parameters(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    names = ["FS-A", "FS-H", "SS-A", "Det3", "Det5", "Time"]
    labelled = ["", "", "", "TUNEL (APO-DIRECT)", "DNA", ""]
    neg = tmp_path / "neg.fcs"
    s = tmp_path / "s.fcs"
    _tube_file(gen, neg, names, labelled, 1, tdt=False)
    truth = _tube_file(gen, s, names, labelled, 2)
    files = {neg: "negative_control", s: "sample"}
    scatter = {"fsc_area": "FS-A", "fsc_height": "FS-H"}
    res = assaykit.analyze("tunel", files, scatter, figures=False, host=host)
    assert abs(res.value("s", "tunel_positive_pct") - truth) <= 1.5
    # no label says what Det3 holds, and it is no usual FITC name: the parameter must
    plain = ["", "", "", "", "", ""]
    _tube_file(gen, neg, names, plain, 1, tdt=False)
    truth = _tube_file(gen, s, names, plain, 2)
    with pytest.raises(assaykit.AnalysisError, match=r"neg\.fcs.*fitc_channel"):
        assaykit.analyze("tunel", files, scatter, figures=False, host=host)
    res = assaykit.analyze(
        "tunel", files, {**scatter, "fitc_channel": "Det3"}, figures=False, host=host
    )
    assert abs(res.value("s", "tunel_positive_pct") - truth) <= 1.5


def test_a_sample_without_the_channel_is_a_failure_record_not_a_crash(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.1),
                                      gen.TunelSpec("good", "sample", 0.2)]}, seed=13)
    names = ["FSC-A", "FSC-H", "SSC-A", "X1", "X2", "Time"]
    _tube_file(gen, folder / "exp" / "odd.fcs", names, [""] * 6, 3)
    with open(folder / "samples.csv", "a", encoding="utf-8") as fh:
        fh.write("exp/odd.fcs,tunel,exp,odd,sample,,\n")
    result = _run(folder, tmp_path / "out", host, figures=False)
    assert result.exit_code == 1  # the host's one failure rule: an error record, exit 1
    odd = [r for r in result.records if r.sample_id == "odd"]
    assert [r.metric for r in odd] == ["error"]
    assert odd[0].qc_status == "fail" and odd[0].entity == "exp/odd.fcs"
    assert "odd.fcs" in str(odd[0].value) and "fitc_channel" in str(odd[0].value)
    good = _by(result.records, "tunel_positive_pct")[("exp", "good")]
    assert good.qc_status == "pass"


def test_a_corrupt_sample_file_fails_alone_and_the_others_are_measured(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.1),
                                                 gen.TunelSpec("good", "sample", 0.3),
                                                 gen.TunelSpec("bad", "sample", 0.2)]}, seed=14)
    bad = folder / "exp" / "bad.fcs"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # truncated mid-DATA
    result = _run(folder, tmp_path / "out", host, figures=False)
    assert result.exit_code == 1
    errors = [r for r in result.records if r.metric == "error"]
    got = [(r.sample_id, r.entity, r.qc_status) for r in errors]
    assert got == [("bad", "exp/bad.fcs", "fail")]
    assert str(errors[0].value).startswith("FCSError: exp/bad.fcs: ")
    truth = next(r for r in expected if r["sample_id"] == "good"
                 and r["metric"] == "tunel_positive_pct")
    good = _by(result.records, "tunel_positive_pct")[("exp", "good")]
    assert fixturegen.within(truth, good.value_num), (truth, good.value_num)


def test_broken_negative_control_fails_the_experiment_with_its_file_named(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    names = ["FSC-A", "FSC-H", "SSC-A", "X1", "X2", "Time"]
    neg = tmp_path / "neg.fcs"
    _tube_file(gen, neg, names, [""] * 6, 4, tdt=False)
    s = tmp_path / "s.fcs"
    _tube_file(gen, s, ["FSC-A", "FSC-H", "SSC-A", "FITC-A", "PI-A", "Time"], [""] * 6, 5)
    with pytest.raises(assaykit.AnalysisError, match=r"neg\.fcs"):
        assaykit.analyze("tunel", {neg: "negative_control", s: "sample"}, host=host)


def test_dna_channel_adds_the_fitc_against_dna_panel(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.1),
                                      gen.TunelSpec("s", "sample", 0.3)]}, seed=14)
    files = {folder / "exp" / "neg.fcs": "negative_control", folder / "exp" / "s.fcs": "sample"}

    def widths(params: dict[str, object]) -> list[int]:
        res = assaykit.analyze("tunel", files, params, host=host)
        tunel = [f for f in res.figures if f.name == "tunel"]
        assert [f.sample_id for f in tunel] == ["s", "neg"]
        cleanup = [f.sample_id for f in res.figures if f.name == "cleanup"]
        assert cleanup == ["s", "neg"]  # the flow layer's one cleanup figure
        return [struct.unpack(">I", f.png[16:20])[0] for f in tunel]

    two = widths({})
    three = widths({"dna_channel": "PI"})
    assert all(t > 1.4 * w for t, w in zip(three, two))


def test_duplicate_sample_ids_are_a_clear_error(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.1),
                                      gen.TunelSpec("s", "sample", 0.3)]}, seed=15)
    shutil.copy(folder / "exp" / "s.fcs", folder / "exp" / "s2.fcs")
    with open(folder / "samples.csv", "a", encoding="utf-8") as fh:
        fh.write("exp/s2.fcs,tunel,exp,s,sample,,\n")
    result = _run(folder, tmp_path / "out", host, figures=False)
    assert result.exit_code == 1
    errors = [r for r in result.records if r.metric == "error"]
    assert errors and all("sample_id 's'" in str(r.value_str) for r in errors)


# --------------------------------------------------------------------------------------
# the contract
# --------------------------------------------------------------------------------------
def test_conforms(tmp_path: Path, host: PluginHost, gen: ModuleType) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.TunelSpec("neg", "negative_control", 0.1),
                                      gen.TunelSpec("pos", "positive_control", 0.95),
                                      gen.TunelSpec("s", "sample", 0.3)]}, seed=16)
    d = folder / "exp"
    corrupt = tmp_path / "corrupt.fcs"
    corrupt.write_bytes(b"FCS3.1    garbage")
    report = assert_conforms(
        "tunel",
        {d / "neg.fcs": "negative_control", d / "pos.fcs": "positive_control",
         d / "s.fcs": "sample"},
        bad=[{d / "neg.fcs": "negative_control", corrupt: "sample"}],
        bad_params={"percentile": 500},
        host=host,
    )
    assert {r.metric for r in report.records} == {
        "tunel_positive_pct", "singlet_count", "event_count", "threshold", "threshold_method",
        "threshold_source",
    }
    assay = host.get_assay("tunel")
    for bad in ({"positive_control_min_pct": 150}, {"debris_gate": "fixed"},
                {"fitc_chanel": "FL1-H"}, {"fixed_threshold": math.inf}):
        assert check_bad_params(assay, bad) == [], bad


# --------------------------------------------------------------------------------------
# real instrument files
# --------------------------------------------------------------------------------------
def test_real_instrument_files_give_records_or_clear_errors(
    tmp_path: Path, shared_data: Path
) -> None:
    """Every real file, with its channels as parameters, through the CLI: exit 0 or 1.

    Each file is its own negative control and sample (two copies), so the
    sample's percentage must equal the control's.
    """
    from helpers.realruns import run_real_files

    outcomes = run_real_files(
        tmp_path,
        shared_data,
        assay="tunel",
        sheet_rows=lambda f: [("neg.fcs", "negative_control", {}), ("s.fcs", "sample", {})],
        params=lambda f: {"fitc_channel": f.fluor, **({"dna_channel": f.red} if f.red else {}),
                          **f.prep_params()},
    )
    for f, out in outcomes:
        assert out.returncode in (0, 1), (f.relpath, out.stderr)
        assert "Traceback" not in out.stderr
        if not f.readable:
            assert out.returncode == 1
            # the unreadable control is named; the sample was not analysed because of it
            assert sorted(e.split(":")[0] for e in out.errors) == ["FCSError", "NotAnalysed"]
            assert all("neg." in e for e in out.errors)
            continue
        assert out.returncode == 0, (f.relpath, out.errors)
        pct = {k: v for k, v in out.values.items() if k[1] == "tunel_positive_pct"}
        assert pct, f.relpath
        n_neg = sum(1 for (sid, _) in pct if sid.startswith("neg"))
        for (sid, _), v in pct.items():
            assert 0.0 <= v <= 100.0
            twin = sid.replace("s", "neg", 1) if sid.startswith("s") else None
            # one control data set: it and its copy are scored by the same threshold; with
            # several (multi-data-set files) each control is scored by the others instead
            if n_neg == 1 and twin is not None and (twin, "tunel_positive_pct") in pct:
                assert v == pct[(twin, "tunel_positive_pct")]
        assert any(v > 0 for k, v in out.values.items() if k[1] == "singlet_count")
        # ties at the pooled controls' percentile (the degenerate .lmd: every event identical)
        vals = out.values
        negs = [k[0] for k in vals if k[0].startswith("neg") and k[1] == "singlet_count"]
        pooled = sum(vals[(n, "tunel_positive_pct")] * vals[(n, "singlet_count")] for n in negs)
        pooled /= sum(vals[(n, "singlet_count")] for n in negs)
        high = pooled > 0.5 + 1.0
        flagged = all("negative_control_high" in r["qc_flags"] for r in out.rows)
        assert high == flagged, f.relpath
