"""The FCS reader against real instrument files and an independent reading of them.

Truth: ``reference-fcsparser.json`` (fcsparser 0.2.8 under numpy 1.26) gives,
per file, the event count, column names, the first three rows and the
per-channel medians. Where we differ from fcsparser the test says which
rule of the FCS standard decides, and why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from assaykit.cytometry.fcs import FCSData, read_fcs, read_fcs_all, read_fcs_metadata
from assaykit.errors import FCSError, InputError

REFERENCE_NAME = "reference-fcsparser.json"


def _reference(shared: Path) -> dict[str, Any]:
    with open(shared / "fcs-instruments" / REFERENCE_NAME, encoding="utf-8") as fh:
        return dict(json.load(fh)["files"])


@pytest.fixture(scope="module")
def instruments(shared_data: Path) -> Path:
    return shared_data / "fcs-instruments"


@pytest.fixture(scope="module")
def reference(shared_data: Path) -> dict[str, Any]:
    return _reference(shared_data)


# Every file in the reference, grouped by what fcsparser did with it.
READABLE = [
    "Cytek_xP5/Cytek_xP5.fcs",
    "FACSCaliburHTS/Sample_Well_A02.fcs",
    "FACS_Diva/facs_diva_test.fcs",
    "Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs",
    "GuavaMuse/Guava Muse.fcs",
    "HTS_BD_LSR-II/HTS_BD_LSR_II_Mixed_Specimen_001_D6_D06.fcs",
    "MiltenyiBiotec/FCS2.0/EY_2013-07-19_PBS_FCS_2.0_Custom_Without_Add_Well_A1.001.fcs",
    "MiltenyiBiotec/FCS3.0/FCS3.0_Custom_Compatible.fcs",
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Add_Well_A1.001.fcs",
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Without_Add_Well_A1.001.fcs",
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs",
    "MiltenyiBiotec/FCS3.1/SG_2014-09-26_Duplicate_Names.fcs",
    "cyflow_cube_8/cyflow_cube_8.fcs",
    "fake_bitmask_error/fcs1_cleaned.lmd",
    "fake_large_fcs/fake_large_fcs.fcs",
]
UNREADABLE = ["corrupted/corrupted.fcs", "cytek-nl-2000/sample_header.fcs"]


def test_reference_covers_exactly_these_files(reference: dict[str, Any]) -> None:
    assert sorted(reference) == sorted(READABLE + UNREADABLE)
    assert all(reference[name]["ok"] for name in READABLE)
    assert not any(reference[name]["ok"] for name in UNREADABLE)


def _fcsparser_names(data: FCSData) -> list[str]:
    """fcsparser's default column names: $PnS, falling back to $PnN when $PnS is absent.

    Not a disagreement about the file: FCS 3.1 makes $PnN the required short
    name and $PnS an optional label, so our ``channels`` are $PnN and labels
    are $PnS. fcsparser's default ``channel_naming='$PnS'`` picks the label.
    """
    return [label or name for name, label in zip(data.channels, data.labels)]


@pytest.mark.parametrize("name", READABLE)
def test_events_match_fcsparser(name: str, instruments: Path, reference: dict[str, Any]) -> None:
    ref = reference[name]
    data = read_fcs(instruments / name)
    assert data.events.shape == (ref["n_events"], ref["n_params"])
    assert data.n_events == ref["n_events"] == data.events.shape[0]
    assert _fcsparser_names(data) == ref["channels"]
    assert ("FCS" + data.version[3:]) == ref["fcs_version"]
    assert data.instrument == (ref["cyt"].strip() if ref["cyt"] else None)
    # Bit-exact: the same bytes decoded the same way must give the same numbers.
    np.testing.assert_array_equal(data.events[:3].astype(np.float64), np.array(ref["first_rows"]))
    medians = np.median(data.events.astype(np.float64), axis=0)
    np.testing.assert_allclose(medians, ref["medians"], rtol=1e-12, atol=0)
    assert data.events.dtype.isnative
    assert data.events.flags.writeable


@pytest.mark.parametrize("name", READABLE)
def test_metadata_matches_fcsparser(
    name: str, instruments: Path, reference: dict[str, Any]
) -> None:
    """The HEADER/TEXT-only reader against the independent reading (no events read)."""
    ref = reference[name]
    meta = read_fcs_metadata(instruments / name)
    assert meta.n_events == ref["n_events"]
    assert meta.n_channels == ref["n_params"]
    assert [s or n for n, s in zip(meta.channels, meta.labels)] == ref["channels"]
    assert ("FCS" + meta.version[3:]) == ref["fcs_version"]
    assert meta.instrument == (ref["cyt"].strip() if ref["cyt"] else None)


def _raw_text(blob: bytes, start: int, end: int) -> dict[str, str]:
    """TEXT as FCS 3.1 §3.2.7 defines it: first byte the delimiter, doubled = escaped."""
    raw = blob[start : end + 1].rstrip(b" \x00\r\n")
    delim = raw[:1]
    body = raw[1:].replace(delim + delim, b"\x00ESC\x00")
    items = [t.replace(b"\x00ESC\x00", delim) for t in body.split(delim)]
    if items and items[-1] == b"":
        items.pop()
    return {
        items[i].strip().decode("latin-1").upper(): items[i + 1].decode("latin-1")
        for i in range(0, len(items) - 1, 2)
    }


def _raw_decode(path: Path) -> np.ndarray:
    """Decode the first data set's events straight from the standard, in plain numpy.

    An implementation independent of the reader: HEADER offsets (bytes 10-57),
    $BEGINDATA when the HEADER gives 0, $TOT × bytes per event from the start
    offset, $BYTEORD, and for $DATATYPE/I/ each value assembled from its bytes
    and masked with 2**ceil(log2($PnR)) - 1 (FCS 3.1 $PnR).
    """
    blob = path.read_bytes()
    head = [int(blob[10 + 8 * i : 18 + 8 * i].strip() or 0) for i in range(4)]
    kw = _raw_text(blob, head[0], head[1])
    start = head[2] or int(kw["$BEGINDATA"].strip())
    par, tot = int(kw["$PAR"]), int(kw["$TOT"])
    little = kw["$BYTEORD"].strip().startswith("1")
    dt = kw["$DATATYPE"].strip().upper()
    if dt in ("F", "D"):
        size = 4 if dt == "F" else 8
        dtype = np.dtype(f"{'<' if little else '>'}f{size}")
        return np.frombuffer(blob, dtype, tot * par, start).reshape(tot, par).astype(np.float64)
    assert dt == "I"
    widths = [int(kw[f"$P{n}B"]) // 8 for n in range(1, par + 1)]
    rows = np.frombuffer(blob, np.uint8, tot * sum(widths), start).reshape(tot, sum(widths))
    out = np.empty((tot, par), dtype=np.float64)
    col = 0
    for j, w in enumerate(widths):
        cells = rows[:, col : col + w].astype(np.uint64)
        order = range(w) if little else range(w - 1, -1, -1)
        value = sum(cells[:, k] << np.uint64(8 * i) for i, k in enumerate(order))
        top = float(kw[f"$P{j + 1}R"])
        mask = (1 << int(np.ceil(np.log2(top)))) - 1
        out[:, j] = value & np.uint64(mask)
        col += w
    return out


@pytest.mark.parametrize("name", READABLE)
def test_events_match_a_raw_decoding_from_the_standard(name: str, instruments: Path) -> None:
    data = read_fcs(instruments / name)
    np.testing.assert_array_equal(data.events.astype(np.float64), _raw_decode(instruments / name))


def test_corrupted_file_raises_a_clear_error(instruments: Path) -> None:
    path = instruments / "corrupted/corrupted.fcs"
    for reader in (read_fcs, read_fcs_metadata, read_fcs_all):
        with pytest.raises(FCSError) as err:
            reader(path)  # type: ignore[operator]
        assert isinstance(err.value, InputError)
        assert err.value.path == str(path)
        assert "shorter than the 58-byte FCS HEADER" in err.value.reason


def test_header_only_file_refuses_events_but_gives_metadata(instruments: Path) -> None:
    """cytek-nl-2000/sample_header.fcs keeps HEADER+TEXT of a 20,000-event Aurora file.

    fcsparser refuses the whole file. We refuse the events too (the DATA
    segment, bytes 5912-2165911, is not in the 3931-byte file), but the TEXT
    is intact, so the metadata can still describe it. The TEXT lacks its
    final delimiter (FCS 3.0 §3.2.6: a value is enclosed by delimiters);
    that is recorded.
    """
    path = instruments / "cytek-nl-2000/sample_header.fcs"
    with pytest.raises(FCSError) as err:
        read_fcs(path)
    assert "$TOT=20000" in err.value.reason
    assert "3931 bytes" in err.value.reason
    meta = read_fcs_metadata(path)
    assert meta.version == "FCS3.1"
    assert meta.n_events == 20000
    assert meta.n_channels == 27
    assert meta.instrument == "Aurora"
    assert meta.acquired_at == "2020-07-22T18:39:40"
    assert any("does not end with its delimiter" in w for w in meta.warnings)
    assert any(w.startswith("events cannot be read") for w in meta.warnings)


def test_guava_muse_holds_four_data_sets(instruments: Path, reference: dict[str, Any]) -> None:
    """$NEXTDATA is relative to the current data set (FCS 3.0 $NEXTDATA)."""
    path = instruments / "GuavaMuse/Guava Muse.fcs"
    every = read_fcs_all(path)
    assert [d.dataset_index for d in every] == [0, 1, 2, 3]
    # $TOT of each data set, and the number of events each DATA segment holds.
    assert [d.n_events for d in every] == [108, 50081, 111496, 50037]
    for d in every:
        assert d.n_events == int(d.keywords["$TOT"])
        assert d.channels == every[0].channels
        assert np.all(np.isfinite(d.events))
        assert not any("further data sets" in w for w in d.warnings)
    # Data set 0 is what fcsparser read.
    ref = reference["GuavaMuse/Guava Muse.fcs"]
    np.testing.assert_array_equal(every[0].events[:3], np.array(ref["first_rows"], np.float32))
    # Reading one data set by index gives the same events.
    for k in (1, 3, -1):
        one = read_fcs(path, dataset=k)
        np.testing.assert_array_equal(one.events, every[k].events)
        assert one.dataset_index == every[k].dataset_index
    assert read_fcs_metadata(path, dataset=2).n_events == 111496
    # read_fcs on a multi-data-set file says what it left out.
    assert any("further data sets" in w for w in read_fcs(path).warnings)
    with pytest.raises(FCSError, match="holds only 4"):
        read_fcs(path, dataset=4)


def test_macsquant_31_off_by_one_offsets_are_repaired_with_warnings(instruments: Path) -> None:
    """MACSQuant writes end offsets one past the last byte.

    FCS 3.0 Table 1: the HEADER holds the "offset to last byte" of each
    segment. Here $ENDDATA - $BEGINDATA + 1 = $TOT × 76 + 1, and the TEXT
    "ends" on a space after its final delimiter. flowio refuses these files
    unless told to ignore offsets; fcsparser reads $TOT events from the
    start offset. We do the same as fcsparser but record both repairs.
    """
    path = instruments / "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs"
    data = read_fcs(path)
    assert data.events.shape == (10000, 19)
    assert any("one past the last byte" in w and "887605" in w for w in data.warnings)
    assert any(w.startswith("TEXT end offset 2406") for w in data.warnings)
    # Its supplemental TEXT (bytes 2722-127220) was merged in.
    assert "@MB_P1_BASE" in data.keywords
    assert (
        "@MB_P1_BASE"
        not in read_fcs(
            instruments / "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Without_Add_Well"
            "_A1.001.fcs"
        ).keywords
    )


def test_macsquant_truncated_spillover_is_refused_not_guessed(instruments: Path) -> None:
    """MACSQuant writes $SPILLOVER/6,FL2-A,…,FL7-H/ with no matrix values.

    FCS 3.1 $SPILLOVER is n, then n parameter names, then n² values. With
    no values there is no matrix; we return None and say so. (fcsparser does
    not interpret spillover at all.)
    """
    data = read_fcs_metadata(
        instruments / "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Add_Well_A1.001.fcs"
    )
    assert data.keywords["$SPILLOVER"] == "6,FL2-A,FL2-H,FL4-A,FL4-H,FL7-A,FL7-H"
    assert data.spillover is None
    assert any("1 + n + n² = 43" in w for w in data.warnings)


def test_bd_spill_keyword(instruments: Path) -> None:
    data = read_fcs_metadata(instruments / "FACS_Diva/facs_diva_test.fcs")
    spill = data.spillover
    assert spill is not None
    assert spill.keyword == "SPILL"
    assert spill.detectors == (
        "FITC-A", "PE-A", "PerCP-A", "PE-Cy7-A", "PacificBlue-A", "APC-A", "Alexa700-A",
        "APC-Cy7-A",
    )  # fmt: skip
    assert spill.matrix.shape == (8, 8)
    np.testing.assert_array_equal(np.diag(spill.matrix), np.ones(8))
    # Row 0 as written in the keyword value, row-major.
    assert spill.matrix[0, 1] == pytest.approx(0.1839411109727794, rel=0, abs=0)
    assert all(c in data.channels for c in spill.detectors)
    fortessa = read_fcs_metadata(
        instruments / "Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs"
    ).spillover
    assert fortessa is not None
    assert fortessa.matrix[0, 2] == pytest.approx(0.15999999430400005, rel=0, abs=0)


def test_cytek_xp5_24_bit_integers(instruments: Path) -> None:
    """24-bit big-endian integers (flowio drops them; numpy has no 3-byte dtype)."""
    path = instruments / "Cytek_xP5/Cytek_xP5.fcs"
    data = read_fcs(path)
    assert data.keywords["$P1B"] == "24" and data.keywords["$BYTEORD"] == "4,3,2,1"
    # Independent decode of the first event: 8 values × 3 bytes, most significant first.
    raw = path.read_bytes()[4096 : 4096 + 24]
    first = [int.from_bytes(raw[i : i + 3], "big") for i in range(0, 24, 3)]
    masks = [32767] + [1023] * 7  # $P1R/30000/ -> next power of two 32768, minus 1
    np.testing.assert_array_equal(data.events[0], [v & m for v, m in zip(first, masks)])
    assert data.events.dtype == np.float32  # every mask fits in 24 bits
    assert data.events[:, 1:].max() <= 1023
    assert data.ranges[0] == 30000.0


def test_fake_bitmask_values_are_masked_by_pnr(instruments: Path) -> None:
    """Every stored value is 16912 (0x4210) under $PnB/16/ $PnR/1024/.

    FCS 3.0 §3.3: "$P1B/16/ $P1R/1024/ specifies a 16-bit field … and a range
    … from 0 to 1023 … Implementors should use a bit mask when reading these
    list mode parameter values". 0x4210 & 0x3FF = 528, which is also what
    fcsparser returns; we additionally report how many values were masked.
    """
    data = read_fcs(instruments / "fake_bitmask_error/fcs1_cleaned.lmd")
    assert data.version == "FCS2.0" and data.keywords["$BYTEORD"] == "1,2"
    assert np.all(data.events == 528)
    assert any("masked" in w and "FS INT LIN: 50000" in w for w in data.warnings)


def test_fake_large_fcs_takes_data_offsets_from_text(instruments: Path) -> None:
    """HEADER DATA offsets left blank: FCS 3.0 §3.1.1 says use $BEGINDATA/$ENDDATA."""
    path = instruments / "fake_large_fcs/fake_large_fcs.fcs"
    assert path.read_bytes()[26:42] == b" " * 16
    data = read_fcs(path)
    twin = read_fcs(instruments / "Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs")
    np.testing.assert_array_equal(data.events, twin.events)
    assert data.warnings == []  # following the standard is not a repair


def test_cyflow_mixed_widths_and_zip_in_place_of_supplemental_text(instruments: Path) -> None:
    data = read_fcs(instruments / "cyflow_cube_8/cyflow_cube_8.fcs")
    assert [data.keywords[f"$P{n}B"] for n in range(1, 11)] == ["16"] * 8 + ["32", "8"]
    # $P9R/2147483647/ needs 31 bits, more than float32 holds exactly.
    assert data.events.dtype == np.float64
    assert any("PK" in w and "not a TEXT segment" in w for w in data.warnings)
    assert data.acquired_at == "2017-11-02T09:42:05"


def test_escaped_delimiters_and_repeated_keywords(instruments: Path) -> None:
    """SG_2014-09-26_Duplicate_Names.fcs writes $VOL twice and escapes '/' as '//'."""
    path = instruments / "MiltenyiBiotec/FCS3.1/SG_2014-09-26_Duplicate_Names.fcs"
    text = path.read_bytes()[256:1931]
    assert text.count(b"/$VOL/20083/") == 2
    assert b"/$P4F/561////10 nm/" in text
    data = read_fcs(path)
    assert data.keywords["$VOL"] == "20083"  # same value twice: nothing to warn about
    assert not any("$VOL" in w for w in data.warnings)
    assert data.keywords["$P4F"] == "561//10 nm"  # FCS 3.0 §3.2.7: '//' stands for '/'
    assert data.labels[7:] == ["GFP/FITC-A", "GFP/FITC-H"]
    assert data.channel_index("GFP/FITC-A") == 7 == data.channel_index("FL7-A")


def test_non_utf8_text_falls_back_to_latin1(instruments: Path) -> None:
    """FACSCalibur (Mac OS) wrote CREATOR as b"CellQuest Pro\\xaa 5.2.1" (0xAA is '™' in MacRoman).

    FCS 2.0 TEXT should be ASCII, so no rule names the encoding. fcsparser
    decodes UTF-8 with errors="ignore" and silently drops the byte; we decode
    latin-1, which keeps every byte recoverable (value.encode("latin-1")),
    and record a warning.
    """
    data = read_fcs_metadata(instruments / "FACSCaliburHTS/Sample_Well_A02.fcs")
    raw = (instruments / "FACSCaliburHTS/Sample_Well_A02.fcs").read_bytes()[256:2610]
    start = raw.index(b"\\CREATOR\\") + 9
    creator = raw[start : raw.index(b"\\", start)]
    assert data.keywords["CREATOR"] == creator.decode("latin-1")
    assert any("not valid UTF-8 (CREATOR)" in w for w in data.warnings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("MiltenyiBiotec/FCS3.1/SG_2014-09-26_Duplicate_Names.fcs", "2014-09-26T13:40:19"),
        ("fake_bitmask_error/fcs1_cleaned.lmd", "2012-04-24T12:49:28"),  # dd-mmm-yy
        ("GuavaMuse/Guava Muse.fcs", "2022-01-12T11:30:22"),  # trailing blank in $DATE
        ("Cytek_xP5/Cytek_xP5.fcs", "2015-03-02T13:22:33"),
    ],
)
def test_acquired_at(name: str, expected: str, instruments: Path) -> None:
    assert read_fcs_metadata(instruments / name).acquired_at == expected


def test_clean_files_have_no_warnings(instruments: Path) -> None:
    for name in (
        "FACS_Diva/facs_diva_test.fcs",
        "Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs",
        "HTS_BD_LSR-II/HTS_BD_LSR_II_Mixed_Specimen_001_D6_D06.fcs",
        "MiltenyiBiotec/FCS3.0/FCS3.0_Custom_Compatible.fcs",
        "Cytek_xP5/Cytek_xP5.fcs",
    ):
        assert read_fcs(instruments / name).warnings == [], name
