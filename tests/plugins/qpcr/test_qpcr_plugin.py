"""The ``qpcr`` plugin through the public API, as a lab would use it.

Truth comes from the seeded generator :func:`assaykit.qpcr.synthetic.synthetic_run`
(its known fold changes and efficiencies), written as a QuantStudio "Results" text
export, and from the Applied Biosystems User Bulletin #2 worked example
(tests/data/qpcr/README.md).
"""

from __future__ import annotations

import csv
import math
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import assaykit
import pytest
from assaykit import AnalysisResult, HostConfig, PluginHost
from assaykit.qpcr.synthetic import Truth, synthetic_run
from assaykit.qpcr.wells import Well
from assaykit.testing import assert_conforms, experiment_from_folder
from helpers.qpcr_data import write_quantstudio

DATA = Path(__file__).resolve().parents[2] / "data" / "qpcr"


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(HostConfig(autoload=False, modules=("assaykit_qpcr.plugin",)))


def make_run(
    folder: Path, seed: int = 1, *, standards: bool = True
) -> tuple[list[dict[str, str]], Truth]:
    wells, truth = synthetic_run(seed)
    if not standards:
        wells = [w for w in wells if w.role != "standard"]
    folder.mkdir(parents=True, exist_ok=True)
    write_quantstudio(wells, folder / "run1.txt")
    rows = [{"file": "run1.txt", "assay": "qpcr", "reference_genes": "GAPDH;ACTB",
             "calibrator": "vehicle"}]
    return rows, truth


def _r(x: float, digits: int) -> str:
    """Round half up, as a table printed by hand does."""
    q = Decimal(1).scaleb(-digits)
    return str(Decimal(repr(round(x, 9))).quantize(q, rounding=ROUND_HALF_UP) + 0)


def values(result: AnalysisResult) -> dict[tuple[str, str], float]:
    return {(r.entity, r.metric): r.value_num for r in result.records if r.value_num is not None}


def test_conforms(tmp_path: Path, host: PluginHost) -> None:
    rows, _ = make_run(tmp_path / "run")
    exp = experiment_from_folder(tmp_path / "run", rows, host=host, figures=True)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run1.txt").write_text("* Experiment Name = x\n\n[Results]\nWell\tfoo\n1\tA1\n")
    bad_exp = experiment_from_folder(bad, rows, host=host)
    report = assert_conforms("qpcr", exp, bad=[bad_exp], bad_params={"max_dev": -1}, host=host)
    metrics = {r.metric for r in report.records}
    assert {"fold_change", "delta_delta_ct", "efficiency", "r_squared", "cq_sd"} <= metrics


@pytest.mark.parametrize("standards", [True, False])
def test_fold_changes_match_truth(tmp_path: Path, host: PluginHost, standards: bool) -> None:
    """Worst error of log2 fold change vs the generator's truth over 5 seeds.

    Tolerance: noise is 0.08 cycles per replicate (3 replicates), so the ΔΔCt of a
    target over two references has SD ≈ 0.08·sqrt(1/3·(1+1/2)·2) ≈ 0.08; 0.35 in
    log2 is > 4 SD. Without the standard curve, Livak assumes E = 2 while the
    generator's E is 1.85–2.0, so its error grows with |ΔCq|: tolerance 1.2 log2.
    """
    worst = 0.0
    for seed in range(1, 6):
        rows, truth = make_run(tmp_path / f"s{seed}", seed, standards=standards)
        exp = experiment_from_folder(tmp_path / f"s{seed}", rows, host=host)
        res = assaykit.analyze("qpcr", exp, host=host)
        got = values(res)
        methods = {r.value_str for r in res.records if r.metric == "method"}
        assert methods == ({"pfaffl"} if standards else {"livak"})
        for target, by_sample in truth.fold.items():
            for sample, fold in by_sample.items():
                fc = got[(f"{sample}|{target}", "fold_change")]
                worst = max(worst, abs(math.log2(fc) - math.log2(fold)))
                lo = got[(f"{sample}|{target}", "fold_change_low")]
                hi = got[(f"{sample}|{target}", "fold_change_high")]
                assert lo <= fc <= hi
        if standards:
            for gene, amp in truth.amplification.items():
                eff = got[(gene, "efficiency")]
                assert abs(eff - (amp - 1) * 100) < 3.0
                assert got[(gene, "r_squared")] > 0.99
    assert worst < (0.35 if standards else 1.2), worst


def test_flags_from_the_run(tmp_path: Path, host: PluginHost) -> None:
    rows, truth = make_run(tmp_path / "run")
    exp = experiment_from_folder(tmp_path / "run", rows, host=host)
    res = assaykit.analyze("qpcr", exp, host=host)
    raised = {f.flag: f.message for f in res.qc_flags}
    assert truth.ntc_well in raised["ntc_amplified"]
    assert "nrt_close" in raised
    assert truth.outlier_well in raised["replicate_outlier"]


def test_figure_per_gene(tmp_path: Path, host: PluginHost) -> None:
    rows, truth = make_run(tmp_path / "run")
    exp = experiment_from_folder(tmp_path / "run", rows, host=host, figures=True)
    res = assaykit.analyze("qpcr", exp, host=host)
    figs = res.figures
    assert sorted(f.name.rsplit(":", 1)[1] for f in figs) == sorted(truth.fold)
    assert all(f.png.startswith(b"\x89PNG") and "fold change" in f.caption for f in figs)


def test_params_used_when_sheet_is_silent(tmp_path: Path, host: PluginHost) -> None:
    make_run(tmp_path / "run")
    rows = [{"file": "run1.txt", "assay": "qpcr"}]
    exp = experiment_from_folder(tmp_path / "run", rows, host=host)
    with pytest.raises(Exception, match="reference_genes"):
        assaykit.analyze("qpcr", exp, host=host)
    res = assaykit.analyze(
        "qpcr", exp, {"reference_genes": "GAPDH;ACTB", "calibrator": "vehicle"}, host=host
    )
    assert values(res)[("vehicle|RARB", "fold_change")] == pytest.approx(1.0)


def test_published_user_bulletin_2(tmp_path: Path, host: PluginHost) -> None:
    """ABI User Bulletin #2 (separate tubes), brain as calibrator, Table 1 as the vignette
    of the R package pcr transcribes it: kidney c-myc ΔCt 4.37, ΔΔCt −2.50, fold 5.6
    (range 5.3–6.0); brain ΔΔCt 0.00, fold 1.0 (0.9–1.1).
    Written as a QuantStudio export through the plugin (6 replicates per tissue and gene;
    max_dev large so no replicate is dropped,
    as in the bulletin)."""
    with open(DATA / "abi_ub2_cmyc_gapdh_separate_tubes.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    wells: list[Well] = []
    for row in table:
        for gene in ("c_myc", "GAPDH"):
            wells.append(Well(f"A{len(wells) + 1}", row["tissue"], gene, float(row[gene])))
    folder = tmp_path / "ub2"
    folder.mkdir()
    write_quantstudio(wells, folder / "ub2.txt")
    rows = [{"file": "ub2.txt", "assay": "qpcr", "reference_genes": "GAPDH",
             "calibrator": "brain"}]
    exp = experiment_from_folder(folder, rows, host=host)
    res = assaykit.analyze("qpcr", exp, {"max_dev": 10}, host=host)
    got = values(res)
    kid = [got[("kidney|c_myc", m)] for m in
           ("delta_ct", "delta_delta_ct", "fold_change", "fold_change_low", "fold_change_high")]
    assert [_r(kid[0], 2), _r(kid[1], 2), *(_r(x, 1) for x in kid[2:])] == [
        "4.37", "-2.50", "5.6", "5.3", "6.0"]
    brain = [got[("brain|c_myc", m)] for m in
             ("delta_ct", "delta_delta_ct", "fold_change", "fold_change_low", "fold_change_high")]
    assert [_r(brain[0], 2), _r(brain[1] + 0.0, 2), *(_r(x, 1) for x in brain[2:])] == [
        "6.86", "0.00", "1.0", "0.9", "1.1"]


def test_rdml_run(tmp_path: Path, host: PluginHost) -> None:
    """The constructed RDML file (tests/data/qpcr/README.md) through the plugin, against
    hand arithmetic on its Cq's: ΔCt vehicle 28.2 − 18.1 = 10.1, treated 25.1 − 18.1 =
    7.0, ΔΔCt −3.1, fold 2^3.1; its one usable standard well is not a curve (Livak)."""
    folder = tmp_path / "rdml"
    folder.mkdir()
    shutil.copy(DATA / "constructed_run.rdml.xml", folder / "run.rdml.xml")
    rows = [{"file": "run.rdml.xml", "assay": "qpcr", "reference_genes": "GAPDH",
             "calibrator": "vehicle"}]
    exp = experiment_from_folder(folder, rows, host=host)
    assert exp.inputs[0].kind == "qpcr"
    res = assaykit.analyze("qpcr", exp, host=host)
    got = values(res)
    assert got[("treated|CYP26A1", "delta_ct")] == pytest.approx(7.0)
    assert got[("treated|CYP26A1", "delta_delta_ct")] == pytest.approx(-3.1)
    assert got[("treated|CYP26A1", "fold_change")] == pytest.approx(2**3.1)
    assert not any(r.metric == "efficiency" for r in res.records)


def test_batch_run_writes_results(tmp_path: Path, host: PluginHost) -> None:
    rows, truth = make_run(tmp_path / "run")
    with open(tmp_path / "run" / "samples.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assaykit.run(tmp_path / "run", tmp_path / "out", workers=0, host=host)
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as fh:
        recs = list(csv.DictReader(fh))
    fold = {r["entity"]: float(r["value_num"]) for r in recs if r["metric"] == "fold_change"}
    assert set(fold) == {f"{s}|{t}" for t, by in truth.fold.items() for s in by}
    assert all(r["metric"] != "error" for r in recs)


def test_ordinary_csv_still_goes_to_the_table_reader(tmp_path: Path, host: PluginHost) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("sample,value\na,1\nb,2\n")
    reader = host.reader_for(plain)
    assert reader is not None and reader.kind == "table"
    cfx = DATA / "cfxmaestro_cq_results_excerpt.csv"
    qreader = host.reader_for(cfx)
    assert qreader is not None and qreader.kind == "qpcr"
    assert host.reader_for(DATA / "quantstudio7_results_excerpt.txt").kind == "qpcr"  # type: ignore[union-attr]
