"""The ``qpcr`` plugin on the cases a lab meets beside the clean run.

Truth: the QuantStudio export's own ``CT``/``Ct Mean``/``Ct SD`` columns, read here with
the csv module (not with our reader); the constructed RDML file, as plain XML, for its
zipped form; the seeded generator's fold changes and the wells a test removed; the
viability generator's IC50s for the routing check.
"""

from __future__ import annotations

import csv
import math
import shutil
import zipfile
from pathlib import Path
from typing import Any

import assaykit
import assaykit_qpcr.analysis as qpcr_analysis
import pytest
from assaykit import AnalysisResult, HostConfig, PluginHost
from assaykit.qpcr.synthetic import synthetic_run
from assaykit.qpcr.wells import Well
from assaykit.testing import experiment_from_folder, experiments_from_folder
from helpers.qpcr_data import write_quantstudio

DATA = Path(__file__).resolve().parents[2] / "data" / "qpcr"
QS = DATA / "quantstudio7_results_excerpt.txt"
RDML = DATA / "constructed_run.rdml.xml"
CFX = DATA / "cfxmaestro_cq_results_excerpt.csv"


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost(HostConfig(autoload=False, modules=("assaykit_qpcr.plugin",)))


def _qs_table(path: Path) -> list[dict[str, str]]:
    """The [Results] rows of a QuantStudio export, by the csv module alone."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("[Results]") + 1
    body = [ln for ln in lines[start:] if ln.strip()]
    return list(csv.DictReader(body, delimiter="\t"))


def _run(folder: Path, file: str, host: PluginHost, refs: str, cal: str,
         params: dict[str, Any] | None = None, figures: bool = False) -> AnalysisResult:
    rows = [{"file": file, "assay": "qpcr", "reference_genes": refs, "calibrator": cal}]
    exp = experiment_from_folder(folder, rows, host=host, figures=figures)
    assert exp.inputs[0].kind == "qpcr"
    return assaykit.analyze("qpcr", exp, params or {}, host=host)


def _values(res: AnalysisResult, metric: str) -> dict[str, float | None]:
    return {r.entity: r.value_num for r in res.records if r.metric == metric}


def _synthetic_folder(folder: Path, wells: list[Well]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_quantstudio(wells, folder / "run1.txt")
    return folder


# (a) ---------------------------------------------------------------------------------


def test_quantstudio_cq_mean_and_sd_equal_the_exports_own_columns(
    tmp_path: Path, host: PluginHost
) -> None:
    """Per unknown sample|target, cq_mean/cq_sd equal the file's Ct Mean/Ct SD (the file
    prints 3 decimals from unrounded CT's, ours average the printed CT's: within 1e-3)."""
    table = _qs_table(QS)
    want = {
        f"{r['Sample Name']}|{r['Target Name']}": (float(r["Ct Mean"]), float(r["Ct SD"]))
        for r in table
        if r["Task"] == "UNKNOWN"
    }
    assert len(want) == 2
    shutil.copy(QS, tmp_path / "qs.txt")
    res = _run(tmp_path, "qs.txt", host, "3'UTR", "5000018696625")
    mean, sd = _values(res, "cq_mean"), _values(res, "cq_sd")
    assert set(mean) == set(want)
    for ent, (m, s) in want.items():
        assert abs(mean[ent] - m) <= 1e-3, (ent, mean[ent], m)  # type: ignore[operator]
        assert abs(sd[ent] - s) <= 1e-3, (ent, sd[ent], s)  # type: ignore[operator]


# (f) ---------------------------------------------------------------------------------


def test_per_well_cq_records_equal_the_exports_ct_column(
    tmp_path: Path, host: PluginHost
) -> None:
    table = _qs_table(QS)
    want = {f"{r['Well Position']}|{r['Target Name']}": float(r["CT"]) for r in table}
    assert len(want) == 12
    shutil.copy(QS, tmp_path / "qs.txt")
    res = _run(tmp_path, "qs.txt", host, "3'UTR", "5000018696625")
    wells = [r for r in res.records if r.entity_type == "well"]
    assert {r.metric for r in wells} == {"cq"} and {r.unit for r in wells} == {"cycles"}
    assert {r.entity: r.value_num for r in wells} == want


def test_an_undetected_well_has_a_cq_record_without_a_number(
    tmp_path: Path, host: PluginHost
) -> None:
    wells, truth = synthetic_run(1)
    folder = _synthetic_folder(tmp_path / "run", wells)
    res = _run(folder, "run1.txt", host, "GAPDH;ACTB", "vehicle")
    by = {r.entity: r for r in res.records if r.entity_type == "well"}
    assert len(by) == len(wells)  # every reaction of the file
    gone = next(w for w in wells if w.well == truth.undetected_well)
    rec = by[f"{gone.well}|{gone.target}"]
    assert rec.value_num is None and rec.value_str is None
    assert "undetected_replicate" in rec.qc_flags
    for w in wells:
        if w.cq is not None:
            # the export prints 3 decimals (write_quantstudio)
            assert abs(by[f"{w.well}|{w.target}"].value_num - w.cq) <= 5e-4  # type: ignore[operator]


# (b) ---------------------------------------------------------------------------------


def test_zipped_rdml_gives_the_same_values_as_the_plain_xml(
    tmp_path: Path, host: PluginHost
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(RDML, plain / "run.rdml.xml")
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "run.rdml", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(RDML, "rdml_data.xml")
    a = _run(plain, "run.rdml.xml", host, "GAPDH", "vehicle")
    b = _run(zipped, "run.rdml", host, "GAPDH", "vehicle")
    cq_a, cq_b = _values(a, "cq_mean"), _values(b, "cq_mean")
    assert cq_a and cq_a == cq_b
    assert _values(a, "cq") == _values(b, "cq")
    assert _values(a, "fold_change") == _values(b, "fold_change")
    # hand arithmetic on the file's Cq's (tests/data/qpcr/README.md): treated CYP26A1 2^3.1
    assert _values(b, "fold_change")["treated|CYP26A1"] == pytest.approx(2**3.1)


# (c) ---------------------------------------------------------------------------------


def test_one_reference_gene(tmp_path: Path, host: PluginHost) -> None:
    """A run designed with GAPDH alone: fold changes vs the generator's truth (same
    tolerance reasoning as test_fold_changes_match_truth: ≤ 0.35 log2 with the curve)."""
    worst = 0.0
    for seed in (1, 2, 3):
        wells, truth = synthetic_run(seed, references=("GAPDH",))
        folder = _synthetic_folder(tmp_path / f"s{seed}", wells)
        res = _run(folder, "run1.txt", host, "GAPDH", "vehicle")
        fold = _values(res, "fold_change")
        want = {f"{s}|{t}": f for t, by in truth.fold.items() for s, f in by.items()}
        assert set(fold) == set(want)
        for ent, f in want.items():
            worst = max(worst, abs(math.log2(fold[ent]) - math.log2(f)))  # type: ignore[arg-type]
        assert not any(f.flag == "not_quantified" for f in res.qc_flags)
    assert worst < 0.35, worst


# (d) ---------------------------------------------------------------------------------


def _undetect(wells: list[Well], sample: str, target: str) -> list[Well]:
    return [
        Well(w.well, w.sample, w.target, None, w.role, w.quantity, w.excluded)
        if (w.sample, w.target) == (sample, target)
        else w
        for w in wells
    ]


def test_sample_with_undetected_reference_is_not_quantified_fail(
    tmp_path: Path, host: PluginHost
) -> None:
    wells, truth = synthetic_run(1)
    wells = _undetect(wells, "resistant", "GAPDH")
    folder = _synthetic_folder(tmp_path / "run", wells)
    res = _run(folder, "run1.txt", host, "GAPDH;ACTB", "vehicle")
    fold = _values(res, "fold_change")
    nq = {f.entity: f for f in res.qc_flags if f.flag == "not_quantified"}
    for t in truth.fold:
        ent = f"resistant|{t}"
        assert ent not in fold
        assert not any(r.entity == ent and r.metric in ("delta_ct", "delta_delta_ct")
                       for r in res.records)
        assert nq[ent].severity == "fail"
        assert "GAPDH" in nq[ent].message and "ACTB" not in nq[ent].message
        cq = next(r for r in res.records if r.entity == ent and r.metric == "cq_mean")
        assert cq.qc_status == "fail" and "not_quantified" in cq.qc_flags
        assert f"isotretinoin|{t}" in fold  # the other samples are still quantified
    assert set(nq) == {f"resistant|{t}" for t in truth.fold}  # reference genes: no flag


def test_calibrator_reference_or_target_undetected_is_not_quantified_fail(
    tmp_path: Path, host: PluginHost
) -> None:
    wells, truth = synthetic_run(2)
    res = _run(_synthetic_folder(tmp_path / "cal", _undetect(wells, "vehicle", "ACTB")),
               "run1.txt", host, "GAPDH;ACTB", "vehicle")
    assert not _values(res, "fold_change")
    nq = [f for f in res.qc_flags if f.flag == "not_quantified"]
    samples = {s for by in truth.fold.values() for s in by}
    assert {f.entity for f in nq} == {f"{s}|{t}" for t in truth.fold for s in samples}
    assert all(f.severity == "fail" and "ACTB" in f.message for f in nq)

    res = _run(_synthetic_folder(tmp_path / "tgt", _undetect(wells, "isotretinoin", "RARB")),
               "run1.txt", host, "GAPDH;ACTB", "vehicle")
    assert "isotretinoin|RARB" not in _values(res, "fold_change")
    nq = [f for f in res.qc_flags if f.flag == "not_quantified"]
    assert [(f.entity, f.severity) for f in nq] == [("isotretinoin|RARB", "fail")]
    assert "isotretinoin|CYP26A1" in _values(res, "fold_change")


# (e) ---------------------------------------------------------------------------------


def test_viability_grid_beside_qpcr_exports_goes_to_viability(tmp_path: Path) -> None:
    """A plate grid CSV, a CFX Cq CSV and a QuantStudio text export in one folder, one
    sheet: the grid is read by viability's plate reader (IC50 vs the generator's truth),
    the two runs by the qPCR reader."""
    from assaykit.plates.synthetic import make_plate
    from helpers.viability_data import sheet_rows, write_grid

    both = PluginHost(HostConfig(autoload=False, modules=(
        "assaykit_qpcr.plugin", "assaykit_viability.plugin")))
    folder = tmp_path / "in"
    folder.mkdir()
    plate = make_plate(11, "clean")
    write_grid(folder / "mtt.csv", plate)
    shutil.copy(CFX, folder / "cfx.csv")
    wells, _ = synthetic_run(1)
    write_quantstudio(wells, folder / "run1.txt")
    keys = ["file", "assay", "experiment", "well", "role", "cell_line", "dose_uM", "parental",
            "reference_genes", "calibrator"]
    rows = [dict(zip(keys, [name, assay, "mtt", well, role, line, dose, parental, "", ""],
                     strict=True))
            for name, well, assay, role, line, dose, parental in sheet_rows(plate, "mtt.csv")]
    rows.append(dict(zip(keys, ["cfx.csv", "qpcr", "cfx", "", "sample", "", "", "", "VIC",
                                "M3905 R Ctx"], strict=True)))
    rows.append(dict(zip(keys, ["run1.txt", "qpcr", "qs", "", "sample", "", "", "",
                                "GAPDH;ACTB", "vehicle"], strict=True)))
    exps = {e.name: e for e in experiments_from_folder(folder, rows, host=both)}
    assert set(exps) == {"mtt", "cfx", "qs"}
    assert {i.kind for i in exps["mtt"].inputs} == {"plate"}
    assert {i.kind for i in exps["cfx"].inputs} == {"qpcr"}
    assert {i.kind for i in exps["qs"].inputs} == {"qpcr"}
    assert both.reader_for(folder / "mtt.csv").kind == "plate"  # type: ignore[union-attr]
    via = assaykit.analyze("viability", exps["mtt"], host=both)
    ic50 = {r.entity: r.value_num for r in via.records if r.metric == "ic50_uM"}
    assert set(ic50) == {"parental", "resistant"}
    for line, value in ic50.items():
        assert abs(value / plate.truth[line].ic50 - 1) < 0.3, (line, value)  # type: ignore[operator]
    for name in ("cfx", "qs"):
        q = assaykit.analyze("qpcr", exps[name], host=both)
        assert _values(q, "fold_change")
        assert not [r for r in q.records if r.metric == "error"]


# (g) ---------------------------------------------------------------------------------


def test_bar_figure_is_log2_with_legible_text_and_error_bars(
    tmp_path: Path, host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bars from 1 to each fold change on a log2 axis, the fold interval drawn over each,
    every text >= 10 px (the figure is a RasterFigure: its drawn rectangles, lines and
    texts are read back; the truth is the records)."""
    import math

    from assaykit import RasterFigure

    made: list[tuple[str, Any]] = []
    real = qpcr_analysis.bar_figure

    def keep(target: str, rows: Any, calibrator: str) -> Any:
        fig = real(target, rows, calibrator)
        made.append((target, fig))
        return fig

    monkeypatch.setattr(qpcr_analysis, "bar_figure", keep)
    wells, truth = synthetic_run(1)
    folder = _synthetic_folder(tmp_path / "run", wells)
    res = _run(folder, "run1.txt", host, "GAPDH;ACTB", "vehicle", figures=True)
    assert sorted(t for t, _ in made) == sorted(truth.fold)
    fold = _values(res, "fold_change")
    low, high = _values(res, "fold_change_low"), _values(res, "fold_change_high")
    for target, fig in made:
        assert isinstance(fig, RasterFigure)
        ax = fig.axes[0]
        assert ax.get_ylabel() == "fold change vs vehicle (log2 scale)"
        assert fig.height_px >= 400
        fig.to_array()
        assert fig.text_log and min(px for _, px in fig.text_log) >= 10
        # tick labels in fold units at powers of two: label k sits at log2 = k
        yt = ax.get_yticks()
        assert yt and [f"{2.0 ** k:g}" for k in yt] == ax.get_yticklabels_text()
        names = [n.replace("\n", " ") for n in ax.get_xticklabels_text()]
        bars = ax.drawn("rect")
        lines = ax.drawn("line")
        ylo, yhi = ax.get_ylim()
        assert len(bars) == len(names)
        for i, (name, bar) in enumerate(zip(names, bars, strict=True)):
            ent = f"{name}|{target}"
            assert bar["y"] == 0.0  # from fold 1
            assert bar["y"] + bar["h"] == pytest.approx(math.log2(fold[ent]))
            assert ylo < math.log2(low[ent]) and math.log2(high[ent]) < yhi
            # the vertical error bar of this bar spans exactly the fold interval
            ebar = [ln for ln in lines if list(ln["x"]) == [i, i]]
            assert len(ebar) == 1
            assert list(ebar[0]["y"]) == pytest.approx([math.log2(low[ent]),
                                                        math.log2(high[ent])])


# 6: NTC / no-RT flags scoped ----------------------------------------------------------


def _flags_by_entity(res: AnalysisResult, flag: str) -> set[str]:
    return {r.entity for r in res.records if flag in r.qc_flags}


def test_control_flags_mark_only_the_records_that_use_the_suspect_cq(
    tmp_path: Path, host: PluginHost
) -> None:
    """The generator contaminates the NTC of its first target (CYP26A1) and gives the
    calibrator's no-RT of that target a Cq 2 cycles after vehicle: both touch CYP26A1 in
    every sample (each fold change uses the calibrator's Cq), not RARB or ABCB1."""
    wells, truth = synthetic_run(1)
    ntc = next(w for w in wells if w.well == truth.ntc_well)
    assert ntc.target == "CYP26A1"
    res = _run(_synthetic_folder(tmp_path / "a", wells), "run1.txt", host, "GAPDH;ACTB",
               "vehicle")
    samples = {s for by in truth.fold.values() for s in by}
    cyp = {f"{s}|CYP26A1" for s in samples}
    st = {r.entity for r in res.records if r.entity_type == "sample_target"}
    for flag in ("ntc_amplified", "nrt_close"):
        marked = _flags_by_entity(res, flag)
        assert marked & st == cyp, (flag, marked & st)
        assert "CYP26A1" in marked  # its standard curve
    assert f"{ntc.well}|CYP26A1" in _flags_by_entity(res, "ntc_amplified")
    nrt = next(w for w in wells if w.sample == truth.nrt_sample and w.cq is not None)
    assert f"{nrt.well}|{nrt.target}" in _flags_by_entity(res, "nrt_close")
    other_wells = {f"{w.well}|{w.target}" for w in wells if w.target != "CYP26A1"}
    assert not (_flags_by_entity(res, "ntc_amplified") & other_wells)


def test_reference_ntc_marks_every_target_and_a_sample_nrt_marks_that_sample(
    tmp_path: Path, host: PluginHost
) -> None:
    wells, _ = synthetic_run(3)
    wells = [
        Well(w.well, w.sample, w.target, 31.0, w.role) if w.role == "ntc" and w.target == "GAPDH"
        else Well(w.well, w.sample, w.target, None, w.role) if w.role == "ntc"
        else w
        for w in wells
    ]
    iso = [w.cq for w in wells if (w.sample, w.target) == ("isotretinoin", "RARB")]
    wells = [w for w in wells if w.role != "nrt"]
    wells.append(Well("P1", "isotretinoin -RT", "RARB", min(c for c in iso if c) + 1.0, "nrt"))
    res = _run(_synthetic_folder(tmp_path / "b", wells), "run1.txt", host, "GAPDH;ACTB",
               "vehicle")
    st = {r.entity for r in res.records if r.entity_type == "sample_target"}
    assert _flags_by_entity(res, "ntc_amplified") & st == st  # a reference gene: all of them
    assert _flags_by_entity(res, "nrt_close") & st == {"isotretinoin|RARB"}
    assert "P1|RARB" in _flags_by_entity(res, "nrt_close")
