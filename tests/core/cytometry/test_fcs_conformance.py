"""Instrument defects the reader repairs, each recorded as a deviation, or refused when strict.

The files are built byte by byte (``tests/helpers/fcsbytes.py``) to reproduce
what the instruments write, with known events, because the shared data holds
no Beckman Coulter FC500 ``.LMD``, Cyan, Partec or Accuri C6 file. Every
decoded value is compared with the integers the test put into the bytes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from assaykit.cytometry.fcs import Deviation, read_fcs, read_fcs_all, read_fcs_metadata, write_fcs
from assaykit.errors import FCSError
from click.testing import CliRunner
from helpers.fcsbytes import Dataset, fcs_file, int_keywords

NAMES = ["FS", "SS", "FL1", "TIME"]


def _truth(seed: int, n: int = 400) -> np.ndarray:
    """Integer events below 1024 ($PnR), with a TIME channel that only increases."""
    rng = np.random.default_rng(seed)
    ev = rng.integers(0, 1024, (n, len(NAMES))).astype(np.uint16)
    ev[:, 3] = np.sort(rng.integers(0, 1024, n))
    return ev


def _dev(devs: list[Deviation], field_part: str) -> Deviation:
    hits = [d for d in devs if field_part in d.field]
    assert hits, [d.field for d in devs]
    return hits[0]


# -- issue 11 item 9: Beckman Coulter FC500 .LMD, $PnB=10 in 16-bit words ---------------


def _fc500_lmd(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """An FC500 listmode file: an FCS 2.0 data set, then an FCS 3.0 one, both $PnB/10/.

    Each value is a 16-bit little-endian word whose upper 6 bits carry
    instrument flags (random here), as the FC500 writes them.
    """
    rng = np.random.default_rng(90)
    t2, t3 = _truth(91), _truth(92)
    flags2 = rng.integers(0, 64, t2.shape).astype(np.uint16) << np.uint16(10)
    flags3 = rng.integers(0, 64, t3.shape).astype(np.uint16) << np.uint16(10)
    ds2 = Dataset(
        int_keywords(NAMES, len(t2), bits=10, version="FCS2.0"),
        (t2 | flags2).astype("<u2").tobytes(),
        version="FCS2.0",
    )
    ds3 = Dataset(int_keywords(NAMES, len(t3), bits=10), (t3 | flags3).astype("<u2").tobytes())
    path = tmp_path / "FC500_tube.LMD"
    path.write_bytes(fcs_file(ds2, ds3))
    return path, t2, t3


def test_fc500_lmd_10_bit_values_in_16_bit_words_are_read_in_every_data_set(
    tmp_path: Path,
) -> None:
    path, t2, t3 = _fc500_lmd(tmp_path)
    first, second = read_fcs_all(path)
    assert (first.version, second.version) == ("FCS2.0", "FCS3.0")
    np.testing.assert_array_equal(first.events, t2)
    np.testing.assert_array_equal(second.events, t3)
    for ds in (first, second):
        dev = _dev(ds.conformance, "$P1B")
        assert "$P1B=10" in dev.found and "16-bit words masked" in dev.repair
        assert dev.dataset_index == ds.dataset_index
        assert dev.message in ds.warnings
        # The flag bits above bit 10 were cleared: recorded as well.
        assert any("bits above the mask" in d.found for d in ds.conformance)


def test_truly_bit_packed_10_bit_data_is_refused(tmp_path: Path) -> None:
    # 4 channels × 10 bits = 5 bytes per event: packed, not in words.
    packed = bytes(5 * 10)
    path = tmp_path / "packed.fcs"
    path.write_bytes(fcs_file(Dataset(int_keywords(NAMES, 10, bits=10), packed)))
    with pytest.raises(FCSError) as err:
        read_fcs(path)
    assert "bit-packed DATA is not supported" in err.value.reason
    assert err.value.path == str(path)


# -- issue 11 item 10: Beckman Coulter Cyan, HEADER and TEXT offsets 46 bytes apart --------


def test_cyan_offsets_46_bytes_apart_header_right(tmp_path: Path) -> None:
    """HEADER points at the true events right after TEXT; TEXT says 46 bytes later.

    The file holds 46 more bytes after the events, so both segments fit
    $TOT × 8 bytes. Read from TEXT's offset, TIME would fall 3 words into the
    wrong channel and decrease; the HEADER segment starts right after TEXT.
    """
    truth = _truth(10)
    ds = Dataset(
        int_keywords(NAMES, len(truth), extra=[("$CYT", "Cyan")]),
        truth.astype("<u2").tobytes(),
        tail=bytes(46),
        text_data_shift=46,
    )
    path = tmp_path / "cyan.fcs"
    path.write_bytes(fcs_file(ds))
    data = read_fcs(path)
    np.testing.assert_array_equal(data.events, truth)
    dev = _dev(data.conformance, "HEADER DATA offsets")
    assert dev.repair.startswith("used HEADER")
    assert "TIME decreases 0 times from HEADER" in dev.repair
    assert "HEADER starts right after TEXT" in dev.repair


def test_cyan_offsets_46_bytes_apart_text_right(tmp_path: Path) -> None:
    """Now TEXT is right and HEADER points 46 blank bytes too early: values within
    $PnR and the monotonic TIME channel both say TEXT (the blanks read as
    0x2020 = 8224 > $PnR 1024)."""
    truth = _truth(11)
    raw = truth.astype("<u2").tobytes()
    probe = fcs_file(Dataset(int_keywords(NAMES, len(truth)), raw, gap=b" " * 46))
    begin, end = int(probe[26:34]), int(probe[34:42])
    ds = Dataset(
        int_keywords(NAMES, len(truth)), raw, gap=b" " * 46, header={2: begin - 46, 3: end - 46}
    )
    path = tmp_path / "cyan2.fcs"
    path.write_bytes(fcs_file(ds))
    data = read_fcs(path)
    np.testing.assert_array_equal(data.events, truth)
    dev = _dev(data.conformance, "HEADER DATA offsets")
    assert dev.repair.startswith("used TEXT $BEGINDATA/$ENDDATA")
    assert "values outside $PnR" in dev.repair and "TIME decreases" in dev.repair


def test_cyan_offsets_without_any_evidence_are_refused(tmp_path: Path) -> None:
    """Every value 0x2020 (two blanks, within $PnR 16384), no time channel: both
    segments decode alike and both start after TEXT with only blanks between.
    Nothing can decide, so the reader refuses."""
    ev = np.full((40, 4), 0x2020, dtype=np.uint16)
    names = ["A", "B", "C", "D"]
    raw = ev.astype("<u2").tobytes()
    keys = int_keywords(names, 40, ranges=16384)
    probe = fcs_file(Dataset(keys, raw))
    begin, end = int(probe[26:34]), int(probe[34:42])
    ds = Dataset(keys, raw, tail=raw[:32], header={2: begin + 32, 3: end + 32})
    path = tmp_path / "flat.fcs"
    path.write_bytes(fcs_file(ds))
    with pytest.raises(FCSError) as err:
        read_fcs(path)
    assert "nothing in the bytes tells them apart" in err.value.reason
    assert "refusing to guess" in err.value.reason


# -- issue 11 item 11: repairs that used to be silent -------------------------------------


def test_partec_blanks_before_datatype_are_stripped_and_recorded(tmp_path: Path) -> None:
    truth = _truth(12)
    pairs = [(" $DATATYPE" if k == "$DATATYPE" else k, v) for k, v in int_keywords(NAMES, 400)]
    path = tmp_path / "partec.fcs"
    path.write_bytes(fcs_file(Dataset(pairs, truth.astype("<u2").tobytes())))
    data = read_fcs(path)
    np.testing.assert_array_equal(data.events, truth)
    assert data.keywords["$DATATYPE"] == "I"
    assert any("' $DATATYPE'" in w for w in data.warnings)  # was silent
    dev = _dev(data.conformance, "$DATATYPE")
    assert dev.found == "' $DATATYPE'" and dev.repair == "stripped the blanks"


def test_accuri_text_ending_in_two_delimiters(tmp_path: Path) -> None:
    truth = _truth(13)
    pairs = int_keywords(NAMES, 400, extra=[("#ACQUISITION", "1567")])
    path = tmp_path / "accuri.fcs"
    path.write_bytes(fcs_file(Dataset(pairs, truth.astype("<u2").tobytes(), text_suffix=b"/")))
    data = read_fcs(path)
    assert data.keywords["#ACQUISITION"] == "1567"  # was '1567/'
    np.testing.assert_array_equal(data.events, truth)
    dev = _dev(data.conformance, "TEXT end")
    assert "'1567'" in dev.repair and "'1567//'" in dev.found


def test_value_ending_in_an_escaped_delimiter_is_not_a_stray_one(tmp_path: Path) -> None:
    """'a//' + the final '/' is the value 'a/' (odd run of three): no repair."""
    truth = _truth(14)
    pairs = int_keywords(NAMES, 400, extra=[("#NOTE", "a//")])
    path = tmp_path / "escaped.fcs"
    path.write_bytes(fcs_file(Dataset(pairs, truth.astype("<u2").tobytes())))
    data = read_fcs(path)
    assert data.keywords["#NOTE"] == "a/"
    assert data.conformance == [] and data.warnings == []


# -- issue 11 item 12: strict, the CLI report, store / run.json / report.html -------------


@pytest.mark.parametrize(
    ("make", "field", "expected"),
    [
        ("lmd", "$P1B", "expected 8, 16, 24, 32 or 64"),
        ("cyan", "HEADER DATA offsets", "expected the same offsets in both"),
        ("partec", "$DATATYPE", "expected keyword names without surrounding blanks"),
        ("accuri", "TEXT end", "expected one final delimiter '/'"),
    ],
)
def test_strict_refuses_naming_file_field_and_expectation(
    tmp_path: Path, make: str, field: str, expected: str
) -> None:
    path = _defective(tmp_path, make)
    read_fcs_all(path)  # lenient: reads
    for reader in (read_fcs_all, read_fcs, read_fcs_metadata):
        with pytest.raises(FCSError) as err:
            reader(path, strict=True)  # type: ignore[operator]
        assert err.value.path == str(path)
        assert f"{field}" in err.value.reason and expected in err.value.reason, err.value.reason
        assert "strict mode refuses" in err.value.reason


def _defective(tmp_path: Path, make: str) -> Path:
    truth = _truth(15)
    raw = truth.astype("<u2").tobytes()
    if make == "lmd":
        return _fc500_lmd(tmp_path)[0]
    if make == "cyan":
        ds = Dataset(int_keywords(NAMES, 400), raw, tail=bytes(46), text_data_shift=46)
    elif make == "partec":
        pairs = [(" $DATATYPE" if k == "$DATATYPE" else k, v) for k, v in int_keywords(NAMES, 400)]
        ds = Dataset(pairs, raw)
    else:
        ds = Dataset(int_keywords(NAMES, 400, extra=[("#A", "1567")]), raw, text_suffix=b"/")
    path = tmp_path / f"{make}.fcs"
    path.write_bytes(fcs_file(ds))
    return path


def test_cli_fcs_reports_each_deviation_and_its_repair(tmp_path: Path) -> None:
    from assaykit.cli import cli

    path, _, _ = _fc500_lmd(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["fcs", str(path)])
    assert res.exit_code == 0, res.output
    assert "2 data set(s)" in res.output and "deviation(s), repaired" in res.output
    assert "data set 0: FCS2.0" in res.output and "data set 1: FCS3.0" in res.output
    assert "- $P1B, $P2B, $P3B, $P4B: found $P1B=10" in res.output
    assert "repair:   read 16-bit words masked to $PnB bits" in res.output

    res = runner.invoke(cli, ["fcs", "--json", str(path)])
    assert res.exit_code == 0
    report = json.loads(res.output)
    assert report["conforms"] is False
    assert [d["dataset"] for d in report["datasets"]] == [0, 1]
    assert [d["n_events"] for d in report["datasets"]] == [400, 400]
    fields = {dev["field"] for dev in report["datasets"][1]["deviations"]}
    assert "$P1B, $P2B, $P3B, $P4B" in fields
    assert all(dev["dataset"] == 1 for dev in report["datasets"][1]["deviations"])

    res = runner.invoke(cli, ["fcs", "--strict", str(path)])
    assert res.exit_code == 1 and str(path) in res.output and "$P1B" in res.output

    clean = tmp_path / "clean.fcs"
    write_fcs(clean, np.ones((5, 2)), ["A", "B"])
    res = runner.invoke(cli, ["fcs", "--json", str(clean)])
    assert res.exit_code == 0 and json.loads(res.output)["conforms"] is True

    junk = tmp_path / "junk.fcs"
    junk.write_bytes(b"not an fcs file at all" * 4)
    res = runner.invoke(cli, ["fcs", str(junk)])
    assert res.exit_code == 1 and str(junk) in res.output and "Traceback" not in res.output


def test_batch_keeps_conformance_in_store_run_json_and_report(tmp_path: Path) -> None:
    from assaykit.batch import RunOptions, run_batch

    folder = tmp_path / "in"
    folder.mkdir()
    lmd, _, _ = _fc500_lmd(folder)
    clean = folder / "clean.fcs"
    write_fcs(clean, np.ones((5, 2)), ["FSC-A", "FSC-H"])
    out = tmp_path / "out"
    run_batch(RunOptions(folder, out, assay="tunel", workers=0, figures=False))

    run = json.loads((out / "run.json").read_text())
    by_path = {i["path"]: i for i in run["inputs"]}
    assert by_path["clean.fcs"]["conformance"] == []
    devs = by_path[lmd.name]["conformance"]
    assert {d["dataset"] for d in devs} == {0, 1}
    assert any(d["field"].startswith("$P1B") and "16-bit" in d["repair"] for d in devs)

    con = sqlite3.connect(out / "assaykit.sqlite")
    rows = con.execute("SELECT dataset, field, repair FROM conformance ORDER BY seq").fetchall()
    assert len(rows) == len(devs) and rows[0][1] == devs[0]["field"]
    assert con.execute("SELECT COUNT(*) FROM conformance_checked").fetchone()[0] == 2

    html = (out / "report.html").read_text()
    assert "File conformance" in html and "$P1B, $P2B, $P3B, $P4B" in html
    assert 'clean.fcs</td><td colspan="6">conforms' in html


def test_strict_assay_parameter_refuses_the_file(tmp_path: Path) -> None:
    from assaykit.batch import RunOptions, run_batch

    folder = tmp_path / "in"
    folder.mkdir()
    lmd, _, _ = _fc500_lmd(folder)
    (folder / "assaykit.toml").write_text("[params.tunel]\nstrict = true\n")
    out = tmp_path / "out"
    result = run_batch(RunOptions(folder, out, assay="tunel", workers=0, figures=False))
    assert result.exit_code == 1
    errors = [r for r in result.records if r.metric == "error"]
    assert errors, [r.metric for r in result.records]
    text = " ".join(str(r.value_str) for r in errors)
    assert lmd.name in text and "$P1B" in text and "expected 8, 16, 24, 32 or 64" in text
