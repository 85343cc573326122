"""qPCR readers on real instrument exports (excerpts, see tests/data/qpcr/README.md).

The QuantStudio export's own replicate statistics (``Ct Mean``/``Ct SD``) are truth
from outside: our replicate mean and SD over the same wells must reproduce them to
the digits exported. The CFX Maestro excerpt sets no replicate groups (its Cq Mean
is each well's Cq), so it checks the reader and the empty-Target multiplex case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from assaykit.errors import InputError
from assaykit.qpcr.analysis import replicate_group, replicates
from assaykit.qpcr.wells import parse_cq, read_cfx, read_quantstudio, read_rdml, read_wells, sniff

DATA = Path(__file__).resolve().parents[2] / "data" / "qpcr"
QS = DATA / "quantstudio7_results_excerpt.txt"
CFX = DATA / "cfxmaestro_cq_results_excerpt.csv"
RDML = DATA / "constructed_run.rdml.xml"


def _column(path: Path, name: str, sep: str, header_line: int) -> dict[str, str]:
    """Well -> the instrument's own value of column ``name`` (read independently of our reader)."""
    lines = path.read_text().splitlines()[header_line:]
    head = lines[0].split(sep)
    iw = head.index("Well Position") if "Well Position" in head else head.index("Well")
    return {ln.split(sep)[iw]: ln.split(sep)[head.index(name)] for ln in lines[1:] if ln.strip()}


def test_sniff_tells_the_three_formats_apart() -> None:
    assert sniff(QS.read_bytes()[:4096]) == "quantstudio"
    assert sniff(CFX.read_bytes()[:4096]) == "cfx"
    assert sniff(RDML.read_bytes()[:4096]) == "rdml"
    assert sniff(b"Well,Value\nA1,3\n") is None


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    return buf.getvalue()


def test_sniff_is_strict_about_zips_and_quantstudio_lines() -> None:
    """A zip is RDML by its member name rdml_data.xml (in the local header) or an .rdml
    file name; an xlsx or other zip is not. QuantStudio needs a `* key = value` line or
    a `[Results]` line, not merely a leading `*` or the word somewhere."""
    rdml_zip = _zip({"rdml_data.xml": RDML.read_bytes()})
    assert sniff(rdml_zip[:8192]) == "rdml"
    other = _zip({"run.xml": RDML.read_bytes()})
    assert sniff(other[:8192]) is None
    assert sniff(other[:8192], "run.rdml") == "rdml"
    assert sniff(other[:8192], "RUN.RDML") == "rdml"
    xlsx = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    assert sniff(xlsx[:8192], "plate.xlsx") is None
    assert sniff(b"* Experiment Name = x\nWell\tCT\n") == "quantstudio"
    assert sniff(b"Well\tCT\n[Results]\r\nA1\t20\n") == "quantstudio"
    assert sniff(b"*note: plate 1\nA,1,2\n") is None
    assert sniff(b"comment,see [Results] tab\nA,1\n") is None
    assert sniff(b",1,2,3\nA,0.5,0.6,0.7\nB,0.5,0.6,0.7\n") is None  # a plate grid


def test_quantstudio_wells_roles_quantities() -> None:
    wells = read_quantstudio(QS)
    assert len(wells) == 12
    a1 = wells[0]
    assert (a1.well, a1.sample, a1.target, a1.cq, a1.role) == (
        "A1",
        "Standard 1 (1e8)",
        "3'UTR",
        16.484,
        "standard",
    )
    assert a1.quantity == 100_000_000.0
    assert {w.role for w in wells} == {"standard", "unknown"}
    assert read_wells(QS) == wells


def test_quantstudio_replicate_mean_sd_match_the_instrument() -> None:
    wells = read_quantstudio(QS)
    mean = _column(QS, "Ct Mean", "\t", 18)
    sd = _column(QS, "Ct SD", "\t", 18)
    groups = replicates(wells, max_dev=99)  # the instrument excludes nothing
    checked = 0
    for w in wells:
        r = groups[(w.sample, w.target)]
        assert f"{r.mean:.3f}" == mean[w.well]
        assert f"{r.sd:.3f}" == sd[w.well]
        checked += 1
    assert checked == 12


def test_cfx_wells_and_instrument_statistics() -> None:
    wells = read_cfx(CFX)
    assert [w.well for w in wells[:3]] == ["A1", "A2", "A3"]
    w0 = wells[0]
    assert (w0.sample, w0.role, w0.quantity) == ("M3905 R Ctx", "unknown", None)
    # the export's own Cq column, as printed in the file (the instrument's numbers)
    assert w0.cq == 21.1877528266099 and wells[4].cq == 27.1921587687227
    # Target is empty in this FAM/VIC multiplex run: the dye names the target, so the
    # two targets of well A01 stay apart instead of being averaged as replicates
    assert {w.target for w in wells} == {"FAM", "VIC"}
    groups = replicates(wells, max_dev=99)
    fam = groups[("M3905 R Ctx", "FAM")]
    assert fam.mean == pytest.approx((21.1877528266099 + 21.1025534163483) / 2, abs=1e-12)
    vic = groups[("M3905 R Ctx", "VIC")]
    assert vic.mean == pytest.approx((21.1590717001335 + 21.0520703748196) / 2, abs=1e-12)
    # with no replicate grouping set in CFX, its Cq Mean is the well's own Cq
    mean = _column(CFX, "Cq Mean", ",", 0)
    assert all(mean[f"{w.well[0]}{int(w.well[1:]):02d}"] for w in wells)


def test_cfx_outlier_replicate_is_excluded_and_flagged(tmp_path: Path) -> None:
    # three replicates, one far off (values written here, in the CFX layout)
    header = CFX.read_text(encoding="utf-8").splitlines()[0]
    rows = [
        ",F04,SYBR,GAPDH,Unkn-22,316,,23.9492575650857,,,NaN,NaN,NaN,NaN,60,",
        ",F05,SYBR,GAPDH,Unkn-22,316,,24.1418315771331,,,NaN,NaN,NaN,NaN,60,",
        ",F06,SYBR,GAPDH,Unkn-22,316,,38.8856376385066,,,NaN,NaN,NaN,NaN,60,",
    ]
    f = tmp_path / "cfx.csv"
    f.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    g = replicates(read_cfx(f))[("316", "GAPDH")]
    assert g.outlier_wells == ("F6",)
    assert g.mean == pytest.approx((23.9492575650857 + 24.1418315771331) / 2)


def test_rdml_samples_targets_roles_and_not_detected() -> None:
    wells = read_rdml(RDML)
    by = {w.well: w for w in wells}
    assert by["A1"].sample == "vehicle" and by["A1"].target == "CYP26A1" and by["A1"].cq == 28.10
    assert by["B1"].target == "GAPDH"  # react 13 on an 8x12 plate
    assert by["C1"].role == "ntc" and by["C1"].cq is None  # <cq>-1</cq>
    assert by["C2"].cq is None  # no <cq> at all
    assert by["C3"].role == "nrt"
    assert by["D1"].role == "standard" and by["D1"].quantity == 1000.0
    assert by["D2"].excluded


def test_rdml_zipped(tmp_path: Path) -> None:
    import zipfile

    p = tmp_path / "run.rdml"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("rdml_data.xml", RDML.read_bytes())
    assert read_wells(p) == read_rdml(RDML)


def test_rdml_with_entities_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.rdml"
    p.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "x">]><rdml>&a;</rdml>')
    with pytest.raises(InputError):
        read_rdml(p)


@pytest.mark.parametrize("text", ["Undetermined", "N/A", "NaN", "", "-1", " undetermined "])
def test_not_detected_spellings(text: str) -> None:
    assert parse_cq(text) is None


def test_quantstudio_undetermined_and_ntc(tmp_path: Path) -> None:
    p = tmp_path / "qs.txt"
    p.write_text(
        "* Instrument Type = QuantStudio(TM) 5 System\n\n[Results]\n"
        "Well\tWell Position\tOmit\tSample Name\tTarget Name\tTask\tCT\tQuantity\n"
        "1\tA1\tfalse\tNTC\tGAPDH\tNTC\tUndetermined\t\n"
        "2\tA2\ttrue\tS1\tGAPDH\tUNKNOWN\t20.5\t\n"
    )
    a1, a2 = read_wells(p)
    assert a1.role == "ntc" and not a1.detected
    assert a2.excluded and a2.cq == 20.5


def test_garbage_cq_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "cfx.csv"
    p.write_text("Well,Fluor,Target,Content,Sample,Cq\nA01,SYBR,G,Unkn,S,twelve\n")
    with pytest.raises(InputError):
        read_wells(p)


def test_replicate_rule_keeps_two_when_three_disagree() -> None:
    from assaykit.qpcr.wells import Well

    r = replicate_group(
        [Well("A1", "s", "t", 20.0), Well("A2", "s", "t", 21.0), Well("A3", "s", "t", 22.0)]
    )
    assert r.disagree and r.n == 3 and not r.outliers
