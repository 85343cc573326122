"""qPCR readers on real instrument exports (excerpts, see tests/data/qpcr/README.md).

The instruments' own replicate statistics in those files (QuantStudio ``Ct Mean``/
``Ct SD``, CFX ``Cq Mean``/``Cq Std. Dev``) are truth from outside: our replicate
mean and SD over the same wells must reproduce them to the digits exported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from assaykit.errors import InputError
from assaykit.qpcr.analysis import replicate_group, replicates
from assaykit.qpcr.wells import parse_cq, read_cfx, read_quantstudio, read_rdml, read_wells, sniff

DATA = Path(__file__).resolve().parents[2] / "data" / "qpcr"
QS = DATA / "quantstudio7_results_excerpt.txt"
CFX = DATA / "cfx96_cq_results_excerpt.csv"
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
    assert wells[0].sample == "270" and wells[0].role == "unknown" and wells[0].quantity is None
    mean = _column(CFX, "Cq Mean", ",", 0)
    sd = _column(CFX, "Cq Std. Dev", ",", 0)
    groups = replicates(wells, max_dev=99)
    for w in wells:
        r = groups[(w.sample, w.target)]
        key = f"{w.well[0]}{int(w.well[1:]):02d}"
        assert r.mean == pytest.approx(float(mean[key]), abs=1e-12)
        assert r.sd == pytest.approx(float(sd[key]), abs=1e-12)


def test_cfx_outlier_replicate_is_excluded_and_flagged() -> None:
    # sample 316: 23.95, 24.14 and 38.89 — the CFX averages all three (28.99 ± 8.57)
    g = replicates(read_cfx(CFX))[("316", "Cg_GAPDH_205_F-355_R (SR IDs: 1172/3)")]
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
