"""The ``rh123_efflux`` plugin against experiments whose answers come from simulator labels."""

from __future__ import annotations

import filecmp
import math
from pathlib import Path
from types import ModuleType

import assaykit
import numpy as np
import pytest
from assaykit import PluginHost, Record
from assaykit.cytometry.fcs import read_fcs, write_fcs
from assaykit.testing import assert_conforms, check_bad_params
from helpers import fixturegen

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "fixtures" / "rh123_efflux"


def _run(folder: Path, out: Path, host: PluginHost, **kw: object) -> assaykit.RunResult:
    return assaykit.run(folder, out, workers=0, report=False, host=host, **kw)  # type: ignore[arg-type]


def _index(records: list[Record]) -> dict[tuple[str, str, str], Record]:
    return {(r.sample_id, r.entity, r.metric): r for r in records}


def _write_params(folder: Path, **params: object) -> None:
    lines = ["[params.rh123_efflux]"]
    for k, v in params.items():
        lines.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v!r}")
    (folder / "assaykit.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _check_expected(
    expected: list[dict[str, str]], records: list[Record]
) -> dict[str, list[float]]:
    """Assert every expected row; return the errors per metric (relative for MFI/ratio)."""
    got = _index(records)
    errors: dict[str, list[float]] = {}
    for row in expected:
        rec = got[(row["sample_id"], row["entity"], row["metric"])]
        assert rec.value_num is not None, rec
        assert fixturegen.within(row, rec.value_num), (row, rec.value_num)
        want = float(row["expected"])
        err = rec.value_num - want if row["metric"] == "maf" else rec.value_num / want - 1
        errors.setdefault(row["metric"], []).append(err)
    return errors


# --------------------------------------------------------------------------------------
# the example folder
# --------------------------------------------------------------------------------------
def test_example_folder_matches_expected(tmp_path: Path, host: PluginHost) -> None:
    result = _run(EXAMPLE, tmp_path / "out", host)
    assert result.exit_code == 0
    expected = fixturegen.read_expected(EXAMPLE / "expected.csv")
    errors = _check_expected(expected, result.records)
    assert {k: len(v) for k, v in errors.items()} == {
        "mfi": 8, "mfi_minus_autofluorescence": 4, "mfi_ratio": 3, "maf": 3
    }
    assert all(r.qc_status == "pass" for r in result.records)
    figures = sorted(p.name for p in (tmp_path / "out" / "figures").rglob("*.png"))
    assert sum("overlay" in n for n in figures) == 3
    assert sum("gates" in n for n in figures) == 8
    assert sum("cleanup" in n for n in figures) == 8  # the flow layer's cleanup figure


def test_example_folder_is_what_the_generator_makes(tmp_path: Path, gen: ModuleType) -> None:
    gen.write_folder(tmp_path, gen.EXAMPLE)
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    kept = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*") if p.is_file())
    assert made == kept
    for rel in made:
        assert filecmp.cmp(tmp_path / rel, EXAMPLE / rel, shallow=False), rel
    assert sum((EXAMPLE / rel).stat().st_size for rel in kept) < 2_000_000


def test_example_records_say_how_dead_cells_were_excluded(
    tmp_path: Path, host: PluginHost
) -> None:
    got = _index(_run(EXAMPLE, tmp_path / "out", host, figures=False).records)
    assert str(got[("par_none", "par_none", "live_gate")].value).startswith("pi (valley): PI-A <")
    assert str(got[("k_none", "k_none", "live_gate")].value).startswith(
        "scatter (mixture): FSC-A >="
    )
    assert got[("SH-SY5Y", "SH-SY5Y + verapamil", "pairing")].value == (
        "without: par_none; with verapamil: par_vera"
    )


# --------------------------------------------------------------------------------------
# accuracy on generated experiments
# --------------------------------------------------------------------------------------
def _sweep_specs(gen: ModuleType, with_pi: bool) -> list[object]:
    """Cell lines from no P-gp activity to strong activity, various dead fractions."""
    lines = [  # (without inhibitor, with inhibitor, dead fraction, autofluorescence)
        (20_000, 20_500, 0.05, 250.0),
        (12_000, 18_000, 0.10, 300.0),
        (4_000, 16_000, 0.15, 200.0),
        (1_500, 15_000, 0.25, 250.0),
        (800, 12_000, 0.30, 400.0),
    ]
    specs = []
    for k, (lo, hi, dead, af) in enumerate(lines):
        common = {"with_pi": with_pi, "dead_fraction": dead, "af_median": af, "n_events": 10_000}
        specs += [
            gen.Rh123Spec(f"L{k}_none", f"L{k}", lo, **common),
            gen.Rh123Spec(f"L{k}_vera", f"L{k}", hi, "verapamil", "10", **common),
            gen.Rh123Spec(f"L{k}_unst", f"L{k}", 0, role="unstained", **common),
        ]
    return specs


@pytest.mark.parametrize("with_pi", [True, False], ids=["pi", "scatter"])
@pytest.mark.parametrize("seed", [1, 2])
def test_mfi_ratio_and_maf_within_tolerance_of_truth(
    tmp_path: Path, host: PluginHost, gen: ModuleType, with_pi: bool, seed: int
) -> None:
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": _sweep_specs(gen, with_pi)}, seed=seed)
    result = _run(folder, tmp_path / "out", host, figures=False)
    assert result.exit_code == 0
    errors = _check_expected(expected, result.records)
    assert max(abs(e) for e in errors["mfi"]) <= 0.03
    assert max(abs(e) for e in errors["mfi_ratio"]) <= 0.05
    assert max(abs(e) for e in errors["maf"]) <= 2.0
    assert len(errors["mfi_ratio"]) == 5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bright_rh123_spilling_into_pi_without_spillover_keyword_keeps_mfis_within_3pct(
    tmp_path: Path, host: PluginHost, gen: ModuleType, seed: int
) -> None:
    """No $SPILLOVER and no single stains: Rh123 spills 12 % into the PI detector unseen.

    A plain PI cut then takes the brightest live cells for dead ones (the 40,000
    tube read 4-5 % low); the gate along the spill must keep every MFI within
    3 % of the simulator's truth, and say that it followed the spill.
    """
    common = {"spillover": False}
    specs = [
        gen.Rh123Spec("a_none", "A", 18_000, **common),
        gen.Rh123Spec("a_vera", "A", 19_500, "verapamil", "10", **common),
        gen.Rh123Spec("a_unst", "A", 0, role="unstained", **common),
        gen.Rh123Spec("b_none", "B", 2_500, dead_fraction=0.2, af_median=300, **common),
        gen.Rh123Spec("b_vera", "B", 14_000, "verapamil", "10", dead_fraction=0.2,
                      af_median=300, **common),
        gen.Rh123Spec("c_none", "C", 30_000, **common),
        gen.Rh123Spec("c_vera", "C", 40_000, "verapamil", "10", **common),
        gen.Rh123Spec("d_none", "D", 6_000, **common),
    ]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=seed)
    from assaykit.cytometry.fcs import read_fcs

    assert read_fcs(folder / "exp" / "c_vera.fcs").spillover is None  # the case of the issue
    result = _run(folder, tmp_path / "out", host, figures=False)
    assert result.exit_code == 0
    mfi = {r.sample_id: r.value_num for r in result.records if r.metric == "mfi"}
    rows = [r for r in expected if r["metric"] == "mfi"]
    assert len(rows) == 8
    for row in rows:
        err = mfi[row["sample_id"]] / float(row["expected"]) - 1.0  # type: ignore[operator]
        assert abs(err) <= 0.03, (row["sample_id"], err)
    gates = {r.sample_id: str(r.value) for r in result.records if r.metric == "live_gate"}
    assert "along the spill" in gates["c_vera"], gates["c_vera"]
    slope = float(gates["c_vera"].split(" - ")[1].split(" x ")[0])
    assert slope == pytest.approx(0.12, abs=0.02)  # the simulator's Rh123 -> PI spill


def test_other_condition_columns_define_pairs_and_inhibitor_columns_do_not(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    S = gen.Rh123Spec
    specs = [
        S("d1_none", "R", 2_000, conditions=(("day", "1"),)),
        S("d1_vera", "R", 12_000, "verapamil", "10", conditions=(("day", "1"),)),
        S("d1_csa", "R", 9_000, "cyclosporin A", "5", conditions=(("day", "1"),)),
        S("d2_none", "R", 3_000, conditions=(("day", "2"),)),
        S("d2_vera", "R", 12_000, "verapamil", "20", conditions=(("day", "2"),)),
    ]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=3)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    _check_expected(expected, records)
    ratios = sorted(r.entity for r in records if r.metric == "mfi_ratio")
    assert ratios == ["R (day=1) + cyclosporin A", "R (day=1) + verapamil",
                      "R (day=2) + verapamil"]


def test_ignore_columns_keeps_bookkeeping_columns_out_of_the_pairing(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    S = gen.Rh123Spec
    specs = [S("n", "R", 2_000, conditions=(("tube", "A1"),)),
             S("v", "R", 12_000, "verapamil", conditions=(("tube", "A2"),))]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=12)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    # a column that differs on every tube splits the pair: each side misses its partner
    assert {r.sample_id for r in records if "missing_partner_tube" in r.qc_flags} == {
        "R (tube=A1)", "R (tube=A2)"
    }
    _write_params(folder, ignore_columns=["tube"])
    records = _run(folder, tmp_path / "out2", host, figures=False).records
    mfi = {r["sample_id"]: float(r["expected"]) for r in expected if r["metric"] == "mfi"}
    ratio = _index(records)[("R", "R + verapamil", "mfi_ratio")].value_num
    assert ratio == pytest.approx(mfi["v"] / mfi["n"], rel=0.05)


def test_replicate_tubes_are_averaged_and_flagged(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    S = gen.Rh123Spec
    specs = [S("a1", "R", 2_000), S("a2", "R", 2_300), S("b1", "R", 12_000, "verapamil")]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=4)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    _check_expected(expected, records)
    ratio = _index(records)[("R", "R + verapamil", "mfi_ratio")]
    assert ratio.qc_flags == ("replicate_tubes_averaged",) and ratio.qc_status == "warn"


def test_missing_partner_tube_is_a_failed_record_for_that_cell_line_only(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    S = gen.Rh123Spec
    specs = [
        S("ok_none", "OK", 2_000), S("ok_vera", "OK", 10_000, "verapamil"),
        S("lone_vera", "LONE", 10_000, "verapamil"),
        S("solo_none", "SOLO", 3_000, inhibitor="none"),
    ]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=5)
    result = _run(folder, tmp_path / "out", host, figures=False)
    assert result.exit_code == 0
    _check_expected(expected, result.records)
    got = _index(result.records)
    for line, missing in (("LONE", "no tube without inhibitor"),
                          ("SOLO", "no tube with an inhibitor")):
        rec = got[(line, line, "pairing")]
        assert rec.qc_status == "fail" and rec.qc_flags == ("missing_partner_tube",)
        assert str(rec.value).startswith("error: ") and missing in str(rec.value)
        assert not any(r.sample_id == line and r.metric in ("mfi_ratio", "maf")
                       for r in result.records)
    assert got[("OK", "OK + verapamil", "mfi_ratio")].qc_status == "pass"
    # the lone tubes are still measured
    assert got[("lone_vera", "lone_vera", "mfi")].qc_status == "pass"


def test_ratio_basis_can_subtract_autofluorescence(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    S = gen.Rh123Spec
    specs = [S("n", "R", 1_000, af_median=600), S("v", "R", 5_000, "verapamil", af_median=600),
             S("u", "R", 0, role="unstained", af_median=600),
             S("n2", "NOUNST", 1_000), S("v2", "NOUNST", 5_000, "verapamil")]
    folder = tmp_path / "in"
    expected = gen.write_folder(folder, {"exp": specs}, seed=6)
    _write_params(folder, ratio_basis="mfi_minus_autofluorescence")
    records = _run(folder, tmp_path / "out", host, figures=False).records
    got = _index(records)
    truth = {(r["sample_id"], r["metric"]): float(r["expected"]) for r in expected}
    corrected = truth[("v", "mfi_minus_autofluorescence")] / truth[
        ("n", "mfi_minus_autofluorescence")]
    assert got[("R", "R + verapamil", "mfi_ratio")].value_num == pytest.approx(corrected, rel=0.05)
    assert abs(truth[("R", "mfi_ratio")] - corrected) > 0.5  # the basis matters here
    rec = got[("NOUNST", "NOUNST", "pairing")]
    assert rec.qc_flags == ("no_unstained_tube",) and rec.qc_status == "fail"


def test_live_gate_modes(tmp_path: Path, host: PluginHost, gen: ModuleType) -> None:
    S = gen.Rh123Spec
    folder = tmp_path / "in"
    expected = gen.write_folder(
        folder, {"exp": [S("n", "R", 2_000), S("v", "R", 12_000, "verapamil")]}, seed=7
    )
    _write_params(folder, live_gate="scatter")
    records = _run(folder, tmp_path / "out", host, figures=False).records
    _check_expected(expected, records)  # dead cells are also smaller: scatter works here too
    assert str(_index(records)[("n", "n", "live_gate")].value).startswith("scatter")
    # asking for PI where no PI was recorded: each tube is a clear failure, no crash
    folder2 = tmp_path / "in2"
    gen.write_folder(folder2, {"exp": [S("n", "R", 2_000, with_pi=False),
                                       S("v", "R", 12_000, "verapamil", with_pi=False)]}, seed=8)
    _write_params(folder2, live_gate="pi")
    result = _run(folder2, tmp_path / "out2", host, figures=False)
    assert result.exit_code == 1  # the host's one failure rule: error records, exit 1
    failures = [r for r in result.records if r.metric == "error"]
    assert len(failures) == 2
    assert all("PI (viability) channel" in str(r.value) and "pi_channel" in str(r.value)
               and r.qc_status == "fail" and r.entity == r.input_path for r in failures)
    assert {r.sample_id for r in failures} == {"n", "v"}
    pairing = _index(result.records)[("R", "R", "pairing")]
    assert pairing.qc_status == "fail" and "failed" in str(pairing.value)


def test_low_event_count_flags_only_that_tube(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    S = gen.Rh123Spec
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [S("n", "R", 2_000, n_events=900),
                                      S("v", "R", 12_000, "verapamil")]}, seed=9)
    records = _run(folder, tmp_path / "out", host, figures=False).records
    flagged = {(r.sample_id, r.metric) for r in records if "low_event_count" in r.qc_flags}
    # the flow layer's rule: the flag is on every record of that tube, and only of it
    assert flagged == {(r.sample_id, r.metric) for r in records if r.sample_id == "n"}
    assert ("n", "mfi") in flagged


def test_event_count_is_every_event_and_live_singlets_have_their_own_name(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    """event_count means one thing in every flow assay: the data set's events, before any
    gate; the live singlet cells the MFI is taken on are live_singlet_count."""
    S = gen.Rh123Spec
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [S("n", "R", 2_000, n_events=5_000, dead_fraction=0.2),
                                      S("v", "R", 12_000, "verapamil")]}, seed=9)
    got = _index(_run(folder, tmp_path / "out", host, figures=False).records)
    read = read_fcs(folder / "exp" / "n.fcs")
    assert got[("n", "n", "event_count")].value_num == read.n_events
    live = got[("n", "n", "live_singlet_count")].value_num
    singlets = got[("n", "n", "singlet_count")].value_num
    assert live is not None and singlets is not None
    assert live < singlets < read.n_events
    assert got[("n", "n", "live_pct")].value_num == pytest.approx(100.0 * live / singlets)


# --------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------
def _tube_file(path: Path, channels: list[str], labels: list[str], dye: float, seed: int) -> float:
    sim = fixturegen.load("tunel_rh123_sim")
    tube = sim.rh123_tube(np.random.default_rng(seed), 8000, dye)
    rename = dict(zip(tube.channels, channels))
    write_fcs(path, tube.events.astype(np.float32), channels, labels=labels,
              spillover=([rename[c] for c in tube.spill_channels], tube.spill))
    return float(sim.rh123_truth(tube))


def test_rh123_and_pi_channels_from_labels_then_parameters(
    tmp_path: Path, host: PluginHost
) -> None:
    names = ["FS-A", "FS-H", "SS-A", "Det1", "Det4", "Time"]
    n, v = tmp_path / "n.fcs", tmp_path / "v.fcs"
    conds = {"n": {"cell_line": "R", "inhibitor": ""},
             "v": {"cell_line": "R", "inhibitor": "verapamil"}}
    scatter = {"fsc_area": "FS-A", "fsc_height": "FS-H"}

    def analyze(labels: list[str], params: dict[str, object]) -> tuple[assaykit.AnalysisResult,
                                                                        float, float]:
        tn = _tube_file(n, names, labels, 2_000, 1)
        tv = _tube_file(v, names, labels, 12_000, 2)
        exp = assaykit.make_experiment("rh123_efflux", [n, v], host=host, conditions=conds)
        return assaykit.analyze("rh123_efflux", exp, params, figures=False, host=host), tn, tv

    res, tn, tv = analyze(["", "", "", "Rhodamine 123", "Propidium iodide", ""], scatter)
    assert res.value("n", "mfi") == pytest.approx(tn, rel=0.03)
    assert res.value("R", "mfi_ratio") == pytest.approx(tv / tn, rel=0.05)
    assert str(res.value("n", "live_gate")).startswith("pi")
    res, tn, tv = analyze([""] * 6, {**scatter, "rh123_channel": "Det1", "pi_channel": "Det4"})
    assert res.value("v", "mfi") == pytest.approx(tv, rel=0.03)
    res, _, _ = analyze([""] * 6, scatter)
    assert [r.metric for r in res.records if r.sample_id == "n"] == ["error"]
    assert "rh123_channel" in str(res.value("n", "error"))


def test_an_ambiguous_viability_label_is_an_error_not_a_silent_scatter_gate(
    tmp_path: Path, host: PluginHost
) -> None:
    rng = np.random.default_rng(3)
    fsc = rng.normal(80_000, 8_000, 2000)
    events = np.column_stack([fsc, 0.8 * fsc, rng.normal(5e4, 5e3, 2000),
                              rng.lognormal(8, 0.4, 2000), rng.lognormal(5, 0.4, 2000),
                              rng.lognormal(5, 0.4, 2000)])
    path = tmp_path / "t.fcs"
    write_fcs(path, events, ["FSC-A", "FSC-H", "SSC-A", "FL1", "FL3", "FL4"],
              labels=["", "", "", "Rh123", "PI", "PI"])
    res = assaykit.analyze("rh123_efflux", [path], figures=False, host=host)
    failure = str(res.value("t", "error"))
    assert "ambiguous" in failure and "pi_channel" in failure and "t.fcs" in failure
    res = assaykit.analyze("rh123_efflux", [path], {"pi_channel": "FL3"}, figures=False,
                           host=host)
    assert str(res.value("t", "live_gate")).startswith("pi")


# --------------------------------------------------------------------------------------
# the contract
# --------------------------------------------------------------------------------------
def test_conforms(tmp_path: Path, host: PluginHost, gen: ModuleType) -> None:
    S = gen.Rh123Spec
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [S("n", "R", 2_000), S("v", "R", 12_000, "verapamil"),
                                      S("u", "R", 0, role="unstained")]}, seed=10)
    d = folder / "exp"
    conds = {"n": {"cell_line": "R", "inhibitor": ""},
             "v": {"cell_line": "R", "inhibitor": "verapamil"},
             "u": {"cell_line": "R"}}
    good = assaykit.make_experiment(
        "rh123_efflux", {d / "n.fcs": "sample", d / "v.fcs": "sample", d / "u.fcs": "unstained"},
        host=host, conditions=conds,
    )
    corrupt = tmp_path / "corrupt.fcs"
    corrupt.write_bytes(b"FCS3.1    garbage")
    report = assert_conforms(
        "rh123_efflux",
        good,
        bad=[{d / "n.fcs": "sample", corrupt: "sample"}],
        bad_params={"live_n_mad": -1},
        host=host,
    )
    assert {r.metric for r in report.records} == {
        "mfi", "event_count", "singlet_count", "live_singlet_count", "live_pct", "live_gate",
        "mfi_minus_autofluorescence", "mfi_ratio", "maf", "pairing",
    }
    assay = host.get_assay("rh123_efflux")
    assert assay.required_columns == ("cell_line",)
    for bad in ({"ratio_basis": "mean"}, {"live_gate": "dye"}, {"rh123_chanel": "FL1-H"},
                {"debris_cutoff": math.nan}, {"min_events": 0}):
        assert check_bad_params(assay, bad) == [], bad


def test_sheet_without_cell_line_is_refused_naming_the_column(
    tmp_path: Path, host: PluginHost, gen: ModuleType
) -> None:
    folder = tmp_path / "in"
    gen.write_folder(folder, {"exp": [gen.Rh123Spec("n", "R", 2_000)]}, seed=11)
    sheet = (folder / "samples.csv").read_text(encoding="utf-8").replace(",R,", ",,")
    (folder / "samples.csv").write_text(sheet, encoding="utf-8")
    with pytest.raises(assaykit.SampleSheetError, match="cell_line"):
        _run(folder, tmp_path / "out", host)


# --------------------------------------------------------------------------------------
# real instrument files
# --------------------------------------------------------------------------------------
def test_real_instrument_files_give_records_or_clear_errors(
    tmp_path: Path, shared_data: Path
) -> None:
    """Every real file, channels as parameters, through the CLI: exit 0 or 1, never 3.

    Each file is both tubes of a pair (two copies, one marked verapamil), so
    the MFI ratio must be exactly 1 and the MAF exactly 0.
    """
    from helpers.realruns import run_real_files

    outcomes = run_real_files(
        tmp_path,
        shared_data,
        assay="rh123_efflux",
        sheet_rows=lambda f: [
            ("none.fcs", "sample", {"cell_line": "real", "inhibitor": "none"}),
            ("vera.fcs", "sample", {"cell_line": "real", "inhibitor": "verapamil"}),
        ],
        params=lambda f: {"rh123_channel": f.fluor, **({"pi_channel": f.red} if f.red else {}),
                          **f.prep_params()},
    )
    for f, out in outcomes:
        assert out.returncode in (0, 1), (f.relpath, out.stderr)
        assert "Traceback" not in out.stderr
        if not f.readable:
            assert out.returncode == 1 and len(out.errors) == 2
            # each unreadable tube is its own error record, naming its own file
            assert sorted(e[: len("FCSError: none.")] for e in out.errors) == [
                "FCSError: none.", "FCSError: vera."
            ]
            continue
        assert out.returncode == 0, (f.relpath, out.errors)
        mfi = {k: v for k, v in out.values.items() if k[1] == "mfi"}
        assert mfi and all(math.isfinite(v) for v in mfi.values()), f.relpath
        ratios = [r for r in out.rows if r["metric"] in ("mfi_ratio", "maf")]
        # one pair per data set (Guava Muse: 4), each exactly 1 and 0
        assert len(ratios) == len(mfi), f.relpath
        for r in ratios:
            assert float(r["value_num"]) == (1.0 if r["metric"] == "mfi_ratio" else 0.0), r
