"""Plate-reader exports: real Gen5 and SoftMax Pro files and generic grids, read right.

Expected values are read by eye from the fixture files (fixtures/plates) or
written by the test itself; none is produced by the code under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from assaykit.errors import InputError
from assaykit.plates import (
    PlateRead,
    read_plate,
    sniff,
    sniff_gen5,
    sniff_grid,
    sniff_softmax,
    sniff_xlsx,
)

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "plates"
ROWS96 = "ABCDEFGH"
ROWS384 = "ABCDEFGHIJKLMNOP"


def _grid_lines(rows: str, cols: int, value, delim: str = ",", corner: str = "") -> list[str]:
    lines = [delim.join([corner, *[str(c) for c in range(1, cols + 1)]])]
    for r, letter in enumerate(rows):
        lines.append(delim.join([letter, *[value(r, c) for c in range(1, cols + 1)]]))
    return lines


# ------------------------------------------------------------------ real instrument files
def test_gen5_overflow_and_missed_cells_become_none_with_a_note() -> None:
    plate = read_plate(FIX / "gen5_abs450_overflow.txt")
    assert plate.source_format == "gen5"
    assert plate.plate_format == 96
    assert plate.read_names == ["abs450:450"]
    w = plate.wells
    assert len(w) == 96
    assert w["A1"] == 2.100 and w["A7"] == 2.270 and w["A9"] == 2.320 and w["H12"] == 2.500
    assert w["D11"] == 2.420 and w["G1"] == 2.200
    for well in ("A8", "B7", "C6", "D5", "E4", "F3", "G2", "H1"):  # OVRFLW
        assert w[well] is None
    for well in ("D12", "E11", "F10", "G9", "H8"):  # MISSED
        assert w[well] is None
    text = " ".join(plate.deviations)
    assert "OVRFLW" in text and "8 well" in text and "MISSED" in text and "5 well" in text
    m = plate.metadata
    assert m["instrument"] == "Synergy H1"
    assert m["software"] == "Gen5" and m["software_version"] == "3.12.08"
    assert m["read_time"] == "4/11/2024 5:27:15 PM"
    assert m["wavelength"] == "450"


def test_gen5_two_reads_in_one_grid_follow_each_rows_labels() -> None:
    plate = read_plate(FIX / "gen5_two_wavelengths.txt")
    assert plate.source_format == "gen5"
    assert set(plate.reads) == {"280", "325"}
    r280, r325 = plate.reads["280"], plate.reads["325"]
    assert r280["A1"] == 1.8012 and r325["A1"] == 0.9066
    # row B lists 325 first, then 280
    assert r325["B1"] == 1.6629 and r280["B1"] == 1.0033
    assert r325["B10"] == 2.9471 and r280["B10"] == 2.0605
    assert r280["H12"] == 0.0517 and r325["H12"] == 0.0407
    assert all(v is not None for v in r280.values()) and not plate.deviations
    assert plate.metadata["instrument"] == "Epoch"
    assert plate.metadata["wavelength"] == "280, 325"


def test_softmax_plate_format_three_wavelengths_and_reduced() -> None:
    plate = read_plate(FIX / "softmax_abs_endpoint_3reads.txt")
    assert plate.source_format == "softmax_pro"
    assert plate.read_names == ["426", "426 (2)", "426 (3)", "reduced"]
    a, b, c = plate.reads["426"], plate.reads["426 (2)"], plate.reads["426 (3)"]
    assert (a["A1"], b["A1"], c["A1"]) == (0.01, 0.02, 0.03)
    assert (a["B1"], b["B1"], c["B1"]) == (0.13, 0.26, 0.39)
    assert (a["H12"], b["H12"], c["H12"]) == (0.96, 1.92, 2.88)
    assert plate.reads["reduced"]["E6"] == 0.54
    assert plate.metadata["temperature_C"] == "35"
    assert plate.metadata["read_mode"] == "Absorbance"


def test_softmax_decimal_comma_export() -> None:
    plate = read_plate(FIX / "softmax_decimal_comma_450_650.txt")
    assert plate.read_names == ["450", "650"]
    r450, r650 = plate.reads["450"], plate.reads["650"]
    assert r450["A1"] == 2.6173 and r450["A12"] == 0.0338
    assert r450["H1"] == pytest.approx(-0.000299999999999995, abs=0)
    assert r650["A1"] == -0.01435
    assert r650["B3"] == pytest.approx(-4.99999999999945e-05, rel=1e-15)
    assert r650["H12"] == -0.01305
    assert plate.metadata["decimal_mark"] == ","


def test_bmg_mars_384_csv_through_the_generic_grid() -> None:
    plate = read_plate(FIX / "bmg_mars_abs_384.csv")
    assert plate.source_format == "generic_grid"
    assert plate.plate_format == 384 and len(plate.wells) == 384
    assert plate.read_names == ["484"]
    w = plate.wells
    assert w["A1"] == 0.031 and w["A7"] == 0.032 and w["A18"] == 0.032 and w["A24"] == 0.033
    assert w["C1"] == 2.368 and w["C6"] == 2.412 and w["I7"] == 0.07
    assert w["P1"] == 0.032 and w["P24"] == 0.032 and w["O18"] == 0.03
    assert w["A8"] is None and w["J1"] is None and w["N24"] is None and w["C7"] is None
    n_values = sum(v is not None for v in w.values())
    assert n_values == 4 * 14 + 6 * 6 + 7  # rows A, B, O, P: 7 + 7; C-H: 6; I: 7
    assert any("empty" in d and str(384 - n_values) in d for d in plate.deviations)
    m = plate.metadata
    assert m["Test name"] == "472 ABS 384 QC" and m["Date"] == "03/03/2016"
    assert m["Time"] == "16:54:03" and m["ID1"] == "472-0016"


def test_a_read_is_found_by_its_wavelength() -> None:
    plate = read_plate(FIX / "gen5_abs450_overflow.txt")
    assert plate.read("450") is plate.reads["abs450:450"]
    with pytest.raises(KeyError, match="no read matches '570'"):
        plate.read("570")


def test_gen5_384_wells_with_two_labelled_reads(tmp_path: Path) -> None:
    # the Gen5 layout of the fixtures, at 384 wells, two data sets per row
    lines = ["Software Version\t3.15.15", "", "Plate Number\tPlate 1", "Reader Type:\tSynergy H1"]
    lines += ["Results", "\t" + "\t".join(str(c) for c in range(1, 25))]
    for r, letter in enumerate(ROWS384):
        lines.append(
            letter + "".join(f"\t{r + c / 100:.2f}" for c in range(1, 25)) + "\tRead 1:570"
        )
        lines.append("".join(f"\t{r / 10:.1f}" for _ in range(24)) + "\tRead 2:630")
    p = tmp_path / "gen5_384.txt"
    p.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    plate = read_plate(p)
    assert plate.source_format == "gen5" and plate.plate_format == 384
    assert plate.read_names == ["Read 1:570", "Read 2:630"]
    assert plate.read("570")["P24"] == 15.24 and plate.read("630")["P24"] == 1.5
    assert plate.read("570")["A1"] == 0.01 and plate.read("630")["C5"] == 0.2


def test_sniffers_recognise_their_own_formats_only() -> None:
    gen5 = (FIX / "gen5_abs450_overflow.txt").read_bytes()
    smp = (FIX / "softmax_abs_endpoint_3reads.txt").read_bytes()
    assert sniff_gen5(gen5) == 2.0 and sniff_softmax(gen5) is None
    assert sniff_softmax(smp) == 2.0 and sniff_gen5(smp) is None
    assert sniff_grid(b"x,y\n1,2\n") is None
    assert sniff(b"\x00\xff\xfe garbage \x89PNG") == {}
    assert sniff_xlsx(b"PK\x03\x04rest") == 0.5
    csv_head = "\n".join(_grid_lines(ROWS96, 12, lambda r, c: "1")).encode()
    assert sniff_grid(csv_head) == 1.0


# ------------------------------------------------------------------ generic grids
def test_metadata_lines_above_the_grid_never_become_the_header(tmp_path: Path) -> None:
    lines = [
        "Instrument,Acme Reader 3000",
        "Date,2026-11-30",
        "Cycle,1,2,3,4",  # numbers, but not a grid header
        "Wavelength: 570",
        "",
        *_grid_lines(ROWS96, 12, lambda r, c: f"{r * 12 + c}.25"),
    ]
    p = tmp_path / "plate.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plate = read_plate(p)
    assert plate.source_format == "generic_grid"
    assert plate.read_names == ["570"]
    w = plate.wells
    assert len(w) == 96 and set(w) == {f"{r}{c}" for r in ROWS96 for c in range(1, 13)}
    assert w["A1"] == 1.25 and w["A12"] == 12.25 and w["B1"] == 13.25 and w["H12"] == 96.25
    assert plate.metadata["Instrument"] == "Acme Reader 3000"
    assert plate.metadata["Date"] == "2026-11-30"


def test_384_well_tsv(tmp_path: Path) -> None:
    p = tmp_path / "plate384.tsv"
    p.write_text(
        "Plate: P1\n" + "\n".join(_grid_lines(ROWS384, 24, lambda r, c: str(r * 100 + c), "\t")),
        encoding="utf-8",
    )
    plate = read_plate(p)
    assert plate.plate_format == 384 and len(plate.wells) == 384
    assert plate.wells["A1"] == 1 and plate.wells["A24"] == 24
    assert plate.wells["P1"] == 1501 and plate.wells["P24"] == 1524


def test_two_reads_in_one_csv_named_by_corner_and_title(tmp_path: Path) -> None:
    lines = [
        "MTT assay",
        *_grid_lines(ROWS96, 12, lambda r, c: "0.9", corner="570"),
        "",
        "Wavelength: 630",
        *_grid_lines(ROWS96, 12, lambda r, c: "0.05"),
    ]
    p = tmp_path / "mtt.csv"
    p.write_text("\n".join(lines), encoding="utf-8")
    plate = read_plate(p)
    assert plate.read_names == ["570", "630"]
    assert plate.reads["570"]["C3"] == 0.9 and plate.reads["630"]["C3"] == 0.05


@pytest.mark.parametrize(("delim", "suffix"), [(";", ".csv"), ("\t", ".tsv")])
def test_semicolon_or_tab_and_decimal_comma_european_excel(
    tmp_path: Path, delim: str, suffix: str
) -> None:
    lines = [
        f"Gerät{delim}Infinite 200",
        f"Wellenlänge{delim}570",
        *_grid_lines(ROWS96, 12, lambda r, c: f"0,{r}{c:02d}", delim),
    ]
    p = tmp_path / f"eu{suffix}"
    p.write_bytes("\r\n".join(lines).encode("cp1252"))
    plate = read_plate(p)
    assert plate.wells["A1"] == 0.001 and plate.wells["C7"] == 0.207 and plate.wells["H12"] == 0.712
    assert plate.metadata["Gerät"] == "Infinite 200"
    assert plate.metadata["decimal_mark"] == ","


def test_excel_unicode_text_export_utf16(tmp_path: Path) -> None:
    lines = ["Wavelength\t595", *_grid_lines(ROWS96, 12, lambda r, c: f"{c}.{r}", "\t")]
    p = tmp_path / "unicode.txt"
    p.write_bytes("\r\n".join(lines).encode("utf-16"))  # BOM + UTF-16LE, as Excel saves it
    plate = read_plate(p)
    assert plate.wells["A1"] == 1.0 and plate.wells["H12"] == 12.7
    assert plate.metadata["Wavelength"] == "595"


def test_overflow_words_in_a_generic_grid(tmp_path: Path) -> None:
    def value(r: int, c: int) -> str:
        return {(0, 1): "OVER", (1, 2): "Overflow", (2, 3): "n/a", (3, 4): ""}.get((r, c), "1.5")

    p = tmp_path / "ov.csv"
    p.write_text("\n".join(_grid_lines(ROWS96, 12, value)), encoding="utf-8")
    plate = read_plate(p)
    w = plate.wells
    assert w["A1"] is None and w["B2"] is None and w["C3"] is None and w["D4"] is None
    assert w["A2"] == 1.5
    text = "\n".join(plate.deviations)
    assert "'OVER'" in text and "'Overflow'" in text and "above the reader's range" in text
    assert "'n/a'" in text and "empty" in text


def test_xlsx_written_with_openpyxl(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Results"
    ws.append(["Reader", "Synergy"])
    ws.append(["Wavelength", 570])
    ws.append([])
    ws.append([None, *range(1, 13)])
    for r, letter in enumerate(ROWS96):
        row: list[object] = [letter, *[r + c / 100 for c in range(1, 13)]]
        if letter == "E":
            row[5] = "OVRFLW"
        ws.append(row)
    p = tmp_path / "plate.xlsx"
    wb.save(p)
    plate = read_plate(p)
    assert plate.source_format == "generic_grid" and plate.metadata["sheet"] == "Results"
    assert plate.wells["A1"] == 0.01 and plate.wells["H12"] == 7.12 and plate.wells["E5"] is None
    assert plate.metadata["Reader"] == "Synergy"
    assert any("OVRFLW" in d for d in plate.deviations)


# ------------------------------------------------------------------ bad input
def test_no_grid_names_the_file_and_what_was_expected(tmp_path: Path) -> None:
    p = tmp_path / "notes.csv"
    p.write_text("sample,value\nx,1\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_plate(p)
    assert str(p) in str(exc.value) and "1–12" in str(exc.value) and "A–H" in str(exc.value)


def test_eleven_columns_is_refused_with_the_near_miss(tmp_path: Path) -> None:
    p = tmp_path / "eleven.csv"
    p.write_text("\n".join(_grid_lines(ROWS96, 11, lambda r, c: "1")), encoding="utf-8")
    with pytest.raises(InputError, match="1–11"):
        read_plate(p)


@pytest.mark.parametrize(("rows", "missing"), [("ABCDEFG", "H"), ("ABDEFGH", "C")])
def test_a_missing_row_is_refused_naming_the_row(tmp_path: Path, rows: str, missing: str) -> None:
    p = tmp_path / "rows.csv"
    p.write_text("\n".join(_grid_lines(rows, 12, lambda r, c: "1")), encoding="utf-8")
    with pytest.raises(InputError, match=f"no row {missing}"):
        read_plate(p)


def test_a_short_row_is_refused_naming_the_row(tmp_path: Path) -> None:
    lines = _grid_lines(ROWS96, 12, lambda r, c: "1")
    lines[4] = "D," + ",".join(["1"] * 10)
    p = tmp_path / "short.csv"
    p.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match="row D"):
        read_plate(p)


def test_gen5_with_a_row_deleted_is_refused(tmp_path: Path) -> None:
    text = (FIX / "gen5_abs450_overflow.txt").read_text(encoding="utf-8")
    cut = "\n".join(ln for ln in text.split("\n") if not ln.startswith("E\t"))
    p = tmp_path / "gen5_cut.txt"
    p.write_text(cut, encoding="utf-8")
    with pytest.raises(InputError, match="row E"):
        read_plate(p)


def test_softmax_claimed_sizes_are_not_trusted(tmp_path: Path) -> None:
    text = (FIX / "softmax_abs_endpoint_3reads.txt").read_text(encoding="cp1252")
    # the header claims 10^9 columns and 10^12 wells; the grid itself is 8 x 12
    text = text.replace("\t1\t12\t96\t1\t8\t", "\t1\t1000000000\t1000000000000\t1\t99999999\t")
    p = tmp_path / "claims.txt"
    p.write_text(text, encoding="cp1252")
    plate = read_plate(p)
    assert plate.plate_format == 96 and len(plate.reads["426"]) == 96


def test_softmax_kinetic_and_time_format_are_refused_by_name(tmp_path: Path) -> None:
    text = (FIX / "softmax_abs_endpoint_3reads.txt").read_text(encoding="cp1252")
    p = tmp_path / "kin.txt"
    p.write_text(text.replace("PlateFormat\tEndpoint", "PlateFormat\tKinetic"), encoding="cp1252")
    with pytest.raises(InputError, match="Kinetic read"):
        read_plate(p)
    p.write_text(text.replace("PlateFormat\tEndpoint", "TimeFormat\tEndpoint"), encoding="cp1252")
    with pytest.raises(InputError, match="TimeFormat"):
        read_plate(p)


def test_broken_xlsx_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.xlsx"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(InputError, match="xlsx"):
        read_plate(p)


@pytest.mark.parametrize(
    "name",
    [
        "gen5_abs450_overflow.txt",
        "gen5_two_wavelengths.txt",
        "softmax_abs_endpoint_3reads.txt",
        "softmax_decimal_comma_450_650.txt",
        "bmg_mars_abs_384.csv",
    ],
)
def test_truncated_exports_never_raise_anything_but_input_error(tmp_path: Path, name: str) -> None:
    data = (FIX / name).read_bytes()
    p = tmp_path / name
    for cut in range(0, len(data), max(1, len(data) // 60)):
        p.write_bytes(data[:cut])
        try:
            result = read_plate(p)
        except InputError as exc:
            assert str(p) in str(exc)
        else:
            assert isinstance(result, PlateRead) and len(result.wells) in (96, 384)


def test_plate_reader_outranks_nothing_but_plate_files(tmp_path: Path) -> None:
    from assaykit.plates.reader import PlateReader
    from assaykit.readers import SNIFF_BYTES, TableReader

    reader = PlateReader()
    gen5 = FIX / "gen5_abs450_overflow.txt"
    assert reader.sniff(gen5, gen5.read_bytes()[:SNIFF_BYTES]) == 2.0
    bmg = FIX / "bmg_mars_abs_384.csv"
    score = reader.sniff(bmg, bmg.read_bytes()[:SNIFF_BYTES])
    assert score is not None and score > (TableReader().sniff(bmg, b"") or 0.0)
    other = tmp_path / "samples.csv"
    other.write_text("sample,value\nx,1\n", encoding="utf-8")
    assert reader.sniff(other, other.read_bytes()) is None
    assert reader.read(gen5).plate_format == 96
    assert reader.metadata(gen5) == {
        "instrument": "Synergy H1",
        "acquired_at": "4/11/2024 5:27:15 PM",
    }
    rows = reader.conformance(gen5)
    assert rows is not None and len(rows) == 2 and "OVRFLW" in rows[0]["message"]
