"""Many samples per file: sheet rows name wells of a plate file, plate maps drawn as grids.

The plate files are real CSV grids read by the host's table reader; the assay is the
third-party ``toy_plate`` plugin under tests/core/thirdparty, loaded by module name;
runs go through ``assaykit.run`` into a real SQLite store and a real results.csv.
Expected readings come from the formula that wrote the plate, never from the code.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import assaykit
import pytest
from assaykit import HostConfig, Input, PluginHost, SampleSheetError
from assaykit.experiment import normalize_well, plate_format_of
from assaykit.sheet import parse_sheet
from assaykit.testing import experiment_from_folder

TOYPLATE_SRC = Path(__file__).resolve().parent / "thirdparty" / "assaykit-toyplate" / "src"
ROWS96, COLS96 = "ABCDEFGH", range(1, 13)


def reading(row: str, col: int) -> float:
    """What the plate reader wrote into a well: distinct for every well."""
    return (ord(row) - ord("A") + 1) * 100 + col + 0.5


def write_plate(path: Path, rows: str = ROWS96, cols: range = COLS96) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["," + ",".join(str(c) for c in cols)]
    lines += [r + "," + ",".join(f"{reading(r, c):g}" for c in cols) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def grid(
    name: str | None, cell: Callable[[str, int], str], rows: str = ROWS96, cols: range = COLS96
) -> str:
    head = f"[{name}]\n" if name else ""
    lines = ["," + ",".join(str(c) for c in cols)]
    lines += [r + "," + ",".join(cell(r, c) for c in cols) for r in rows]
    return head + "\n".join(lines) + "\n"


def results(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def plate_host(activate_site: Callable[[Path], None]) -> PluginHost:
    activate_site(TOYPLATE_SRC)
    return PluginHost(HostConfig(autoload=False, modules=("assaykit_toyplate.plugin",)))


def _parse(folder: Path, host: PluginHost, sheet: str = "samples.csv") -> list:
    return parse_sheet(folder / sheet, folder, host, default_assay="toy_plate")


# -- a 96-well plate through a whole run -------------------------------------------------------


def _dose(r: str, c: int) -> str:
    return "0" if c == 1 else f"{10 ** (c - 6):g}"


def test_a_96_well_sheet_runs_one_record_per_well_with_file_well_and_conditions(
    plate_host: PluginHost, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_plate(folder / "plates" / "plate1.csv")
    spelled = {0: "{r}{c}", 1: "{rl}{c}", 2: "{r}{c:02d}"}  # A1, a1, A01: one well
    body = []
    for n, (r, c) in enumerate((r, c) for r in ROWS96 for c in COLS96):
        well = spelled[n % 3].format(r=r, rl=r.lower(), c=c)
        group = "A549" if r in "ABCD" else "A549R"
        role = "blank" if c == 12 else "sample"
        body.append(["plates/plate1.csv", well, role, group, _dose(r, c), "48h"])
    write_csv(folder / "samples.csv", ["file", "well", "role", "group", "dose_uM", "time"], body)

    res = assaykit.run(folder, tmp_path / "out", assay="toy_plate", workers=0, host=plate_host)
    assert res.exit_code == 0, [s.error for s in res.experiments]
    rows = results(tmp_path / "out")
    signal = [d for d in rows if d["metric"] == "signal"]
    assert len(signal) == 96
    by_well = {d["well"]: d for d in signal}
    assert sorted(by_well) == sorted(f"{r}{c}" for r in ROWS96 for c in COLS96)
    for d in signal:
        r, c = d["well"][0], int(d["well"][1:])
        assert d["input_path"] == "plates/plate1.csv" and d["input_sha256"]
        assert float(d["value_num"]) == reading(r, c)
        assert d["sample_id"] == f"plate1_{r}{c}" and d["entity"] == f"{r}{c}"
        assert (d["dose_uM"], d["time"]) == (_dose(r, c), "48h")
        assert d["group"] == ("A549" if r in "ABCD" else "A549R")
    # a per-group value from 44 wells keeps their file and the conditions they share
    means = {d["sample_id"]: d for d in rows if d["metric"] == "mean_signal"}
    assert set(means) == {"A549", "A549R"}
    for group, letters in (("A549", "ABCD"), ("A549R", "EFGH")):
        d = means[group]
        assert d["input_path"] == "plates/plate1.csv" and d["input_sha256"]
        assert (d["group"], d["time"]) == (group, "48h")
        assert d["dose_uM"] == "" and d["well"] == ""  # the wells differ in both
        want = [reading(r, c) for r in letters for c in range(1, 12)]
        assert float(d["value_num"]) == pytest.approx(sum(want) / len(want))

    # unchanged: skipped; one well's sample moved: the experiment runs again
    again = assaykit.run(folder, tmp_path / "out", assay="toy_plate", workers=0, host=plate_host)
    assert [s.ran for s in again.experiments] == [False]
    body[0][1], body[1][1] = body[1][1], body[0][1]
    write_csv(folder / "samples.csv", ["file", "well", "role", "group", "dose_uM", "time"], body)
    moved = assaykit.run(folder, tmp_path / "out", assay="toy_plate", workers=0, host=plate_host)
    assert [s.ran for s in moved.experiments] == [True]


def test_a_plate_map_given_as_the_sheet(plate_host: PluginHost, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_plate(folder / "plate1.csv")
    text = "# assaykit plate map\nfile,plate1.csv\nassay,toy_plate\ncell_line,A549\n\n"
    # columns 11 and 12 stay empty in every grid: those wells are not samples
    text += grid("sample_id", lambda r, c: f"s{r}{c}" if c <= 10 else "")
    text += grid("dose_uM", lambda r, c: _dose(r, c) if c <= 10 else "")
    text += grid("role", lambda r, c: "blank" if c == 10 else "")
    map_path = folder / "map.csv"
    map_path.write_text(text, encoding="utf-8")

    res = assaykit.run(folder, tmp_path / "out", sheet=map_path, workers=1, host=plate_host)
    assert res.exit_code == 0, [s.error for s in res.experiments]
    assert res.ignored == []  # the map is the sheet, not an unused file
    signal = [d for d in results(tmp_path / "out") if d["metric"] == "signal"]
    assert len(signal) == 80
    for d in signal:
        r, c = d["well"][0], int(d["well"][1:])
        assert d["sample_id"] == f"s{r}{c}" and d["input_path"] == "plate1.csv"
        assert (d["cell_line"], d["dose_uM"]) == ("A549", _dose(r, c))
        assert float(d["value_num"]) == reading(r, c)
    rows = _parse(folder, plate_host, "map.csv")
    assert {r.role for r in rows if r.well and r.well.endswith("10")} == {"blank"}
    assert {r.plate_format for r in rows} == {96}


def test_a_plate_map_column_of_a_sheet_row_and_a_384_well_plate(
    plate_host: PluginHost, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    rows384, cols384 = "ABCDEFGHIJKLMNOP", range(1, 25)
    write_plate(folder / "p384.csv", rows384, cols384)
    write_plate(folder / "p96.csv")
    # rows A..C and P only; a bare grid (no [name] line) is the sample ids
    (folder / "maps").mkdir()
    (folder / "maps" / "p384.csv").write_text(
        grid(None, lambda r, c: f"x{r}{c}", "ABCP", cols384), encoding="utf-8"
    )
    (folder / "maps" / "p96.csv").write_text(
        grid("sample_id", lambda r, c: f"y{r}{c}" if r == "H" else "")
        + grid("group", lambda r, c: "late" if c > 6 else ""),
        encoding="utf-8",
    )
    write_csv(
        folder / "samples.csv",
        ["file", "plate_map", "experiment", "group", "operator"],
        [
            ["p384.csv", "maps/p384.csv", "big", "", "ana"],
            ["p96.csv", "maps/p96.csv", "small", "early", "ben"],
        ],
    )
    rows = _parse(folder, plate_host)
    big = [r for r in rows if r.experiment == "big"]
    assert len(big) == 4 * 24 and {r.plate_format for r in big} == {384}
    assert big[-1].well == "P24" and big[-1].sample_id == "xP24"
    small = [r for r in rows if r.experiment == "small"]
    # grid cells win over the row's cell; an empty grid cell keeps the row's value
    assert [(r.well, r.conditions["group"]) for r in small][5:8] == [
        ("H6", "early"),
        ("H7", "late"),
        ("H8", "late"),
    ]
    assert {r.conditions["operator"] for r in small} == {"ben"}

    res = assaykit.run(folder, tmp_path / "out", assay="toy_plate", workers=0, host=plate_host)
    assert res.exit_code == 0 and res.ignored == []  # the maps are used, not ignored
    signal = [d for d in results(tmp_path / "out") if d["metric"] == "signal"]
    assert len(signal) == 96 + 12
    for d in signal:
        r, c = d["well"][0], int(d["well"][1:])
        assert float(d["value_num"]) == reading(r, c)
        assert d["input_path"] == ("p384.csv" if d["experiment"] == "big" else "p96.csv")


def test_the_experiment_gives_a_plugin_its_files_and_wells(
    plate_host: PluginHost, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_plate(folder / "a.csv")
    write_plate(folder / "b.csv")
    write_csv(
        folder / "samples.csv",
        ["file", "well"],
        [["a.csv", "B3"], ["b.csv", "h12"], ["a.csv", "A1"]],
    )
    exp = experiment_from_folder(folder, assay="toy_plate", host=plate_host)
    assert {k: [i.well for i in v] for k, v in exp.by_file().items()} == {
        "a.csv": ["B3", "A1"],
        "b.csv": ["H12"],
    }
    wells = exp.wells("a.csv")
    assert list(wells) == ["B3", "A1"] and wells["B3"].well_position == (1, 2)
    assert exp.wells(exp.inputs[1]) == {"H12": exp.inputs[1]}
    assert exp.inputs[0].plate_format == 96
    inp = Input.from_path(folder / "a.csv", well="c07")
    assert (inp.well, inp.sample_id, inp.plate_format) == ("C7", "a_C7", 96)
    assert [normalize_well(w) for w in ("a1", "A01", " p 24 ")] == ["A1", "A1", "P24"]
    assert plate_format_of(["A1", "H12"]) == 96 and plate_format_of(["A1", "I1"]) == 384


# -- what a lab gets wrong, each named by sheet, row and column -------------------------------


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (
            ["file", "well", "plate_format"],
            [["p.csv", "A1", "96"], ["p.csv", "I1", "96"]],
            "samples.csv, row 3, column 'well': 'I1' is not a well of a 96-well plate (A1 to H12)",
        ),
        (
            ["file", "well"],
            [["p.csv", "Q1"]],
            "samples.csv, row 2, column 'well': 'Q1' is not a well of a 384-well plate (A1 to P24)",
        ),
        (["file", "well"], [["p.csv", "A25"]], "row 2, column 'well': 'A25' is not a well"),
        (["file", "well"], [["p.csv", "1A"]], "row 2, column 'well': '1A' is not a well name"),
        (
            ["file", "well"],
            [["p.csv", "A1"], ["p.csv", "B2"], ["p.csv", "a01"]],
            "samples.csv, row 4, column 'well': 'p.csv' well A1 is already listed for "
            "experiment 'toy_plate' on row 2",
        ),
        (
            ["file", "well"],
            [["p.csv", "A1"], ["p.csv", ""]],
            "samples.csv, row 3, column 'well': 'p.csv' has no well here but has wells on row 2",
        ),
        (
            ["file", "well", "lane"],
            [["p.csv", "A1", "2"]],
            "row 2, column 'well': the row gives both lane 2 and well 'A1'",
        ),
        (
            ["file", "well", "plate_format"],
            [["p.csv", "A1", "96"], ["p.csv", "A2", "384"]],
            "row 3, column 'plate_format': 'p.csv' is a 384-well plate here but a 96-well "
            "plate on row 2",
        ),
        (
            ["file", "well", "plate_format"],
            [["p.csv", "A1", "48"]],
            "row 2, column 'plate_format': '48' is not a plate format; expected 96 or 384",
        ),
        (
            ["file", "well", "plate_format"],
            [["p.csv", "A1", ""], ["p.csv", "I13", "96"], ["p.csv", "H12", ""]],
            "row 3, column 'well': 'I13' is not a well of a 96-well plate",
        ),
        (
            ["file", "plate_map"],
            [["p.csv", "nomap.csv"]],
            "samples.csv, row 2, column 'plate_map': plate map 'nomap.csv' not found",
        ),
        (
            ["file", "plate_map"],
            [["p.csv", "../map.csv"]],
            "samples.csv, row 2, column 'plate_map': '../map.csv' leaves the folder",
        ),
    ],
)
def test_sheet_well_errors_name_sheet_row_and_column(
    plate_host: PluginHost, tmp_path: Path, header: list[str], rows: list[list[str]], message: str
) -> None:
    folder = tmp_path / "in"
    write_plate(folder / "p.csv")
    write_csv(folder / "samples.csv", header, rows)
    with pytest.raises(SampleSheetError) as err:
        _parse(folder, plate_host)
    assert any(message in p for p in err.value.problems), err.value.problems


def test_the_same_well_of_one_plate_may_serve_two_experiments(
    plate_host: PluginHost, tmp_path: Path
) -> None:
    """Blank wells shared by two cell lines' experiments are one plate's wells, not twins."""
    folder = tmp_path / "in"
    write_plate(folder / "p.csv")
    write_csv(
        folder / "samples.csv",
        ["file", "well", "experiment", "role"],
        [
            ["p.csv", "H12", "A549", "blank"],
            ["p.csv", "H12", "A549R", "blank"],
            ["p.csv", "A1", "A549", ""],
            ["p.csv", "E1", "A549R", ""],
        ],
    )
    assert [(r.experiment, r.well) for r in _parse(folder, plate_host)] == [
        ("A549", "H12"),
        ("A549R", "H12"),
        ("A549", "A1"),
        ("A549R", "E1"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "file,p.csv\n[sample_id]\n,1,2,3,4,5,6,7,8,9,10,11\nA,s1\n",
            "map.csv, row 3: grid [sample_id] has columns",
        ),
        (
            "file,p.csv\n" + grid("sample_id", lambda r, c: "s", "AI"),
            "map.csv, row 5, column 1: 'I' is not a row of a 96-well plate; expected a letter "
            "A to H",
        ),
        (
            "file,p.csv\n" + grid("file", lambda r, c: "x"),
            "map.csv, row 2: [file] cannot be a grid",
        ),
        (
            "file,p.csv\n" + grid("role", lambda r, c: "sampel" if (r, c) == ("B", 3) else ""),
            "map.csv, row 5, column 4 (grid [role], well B3): unknown role 'sampel'",
        ),
        (
            "file,p.csv\n"
            + grid("sample_id", lambda r, c: "s")
            + grid("Sample_ID", lambda r, c: "t"),
            "grid [Sample_ID] is given twice",
        ),
        (
            "file,p.csv\n"
            + grid("sample_id", lambda r, c: "s")
            + grid("dose", lambda r, c: "1", "AB", range(1, 25)),
            "every grid of a plate map has the same size",
        ),
        (grid("sample_id", lambda r, c: "s"), "needs a 'file,<path>' line"),
    ],
)
def test_plate_map_errors_name_map_row_and_column(
    plate_host: PluginHost, tmp_path: Path, text: str, message: str
) -> None:
    folder = tmp_path / "in"
    write_plate(folder / "p.csv")
    (folder / "map.csv").write_text(text, encoding="utf-8")
    with pytest.raises(SampleSheetError) as err:
        _parse(folder, plate_host, "map.csv")
    assert any(message in p for p in err.value.problems), err.value.problems


def test_a_map_written_for_another_plate_is_refused(plate_host: PluginHost, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_plate(folder / "p.csv")
    write_plate(folder / "q.csv")
    (folder / "map.csv").write_text("file,q.csv\n" + grid("sample_id", lambda r, c: "s"))
    write_csv(folder / "samples.csv", ["file", "plate_map", "well"], [["p.csv", "map.csv", ""]])
    with pytest.raises(
        SampleSheetError,
        match=r"map.csv, row 1, column 2: the plate map is for "
        r"'q.csv', but .*samples.csv, row 2, column 'file' names 'p.csv'",
    ):
        _parse(folder, plate_host)
    write_csv(folder / "samples.csv", ["file", "plate_map", "well"], [["q.csv", "map.csv", "A1"]])
    with pytest.raises(SampleSheetError, match=r"row 2, column 'well': the row names a plate map"):
        _parse(folder, plate_host)
    (folder / "map.csv").write_text("file,q.csv\nassay,toy_plate\n")
    write_csv(folder / "samples.csv", ["file", "plate_map"], [["q.csv", "map.csv"]])
    with pytest.raises(SampleSheetError, match=r"map.csv: no grid; expected a \[name\] line"):
        _parse(folder, plate_host)


# -- records of values that come from many wells ----------------------------------------------


def _plate_experiment(folder: Path, host: PluginHost) -> assaykit.Experiment:
    write_plate(folder / "a.csv")
    write_csv(
        folder / "samples.csv",
        ["file", "well", "group", "medium"],
        [
            ["a.csv", "A1", "g1", "RPMI"],
            ["a.csv", "A2", "g1", "RPMI"],
            ["a.csv", "B1", "g2", "RPMI"],
        ],
    )
    return experiment_from_folder(folder, assay="toy_plate", host=host)


def test_in_memory_analysis_keeps_wells_and_the_shared_conditions_of_aggregates(
    plate_host: PluginHost, tmp_path: Path
) -> None:
    exp = _plate_experiment(tmp_path / "in", plate_host)
    res = assaykit.analyze("toy_plate", exp, host=plate_host)
    rows = {(d["sample_id"], d["metric"]): d for d in res.table().dicts()}
    assert rows[("a_A2", "signal")]["well"] == "A2"
    assert rows[("a_A2", "signal")]["value_num"] == reading("A", 2)
    g1 = rows[("g1", "mean_signal")]
    assert (g1["input_path"], g1["group"], g1["medium"], g1["well"]) == ("a.csv", "g1", "RPMI", "")
    assert g1["value_num"] == pytest.approx((reading("A", 1) + reading("A", 2)) / 2)
    assert rows[("g2", "n_wells")]["well"] == "B1"  # one well: it is what they share


def test_a_plate_wide_value_names_the_plate_and_unknown_wells_are_a_plugin_error(
    plate_host: PluginHost, tmp_path: Path
) -> None:
    from assaykit import AssayResult, PluginError
    from assaykit.records import RecordContext, complete_records

    exp = _plate_experiment(tmp_path / "in", plate_host)
    assay = plate_host.get_assay("toy_plate")
    ctx = RecordContext("run", "toy_plate", "toyplate", assay.version, "p" * 64, "now")
    res = AssayResult()
    res.add("whole plate", "group", "all", "n_wells", 3)  # no row and no from_samples
    (rec,) = complete_records(assay, exp, res, ctx)
    assert rec.input_path == "a.csv" and rec.input_sha256 == exp.inputs[0].sha256
    bad = AssayResult()
    bad.add("g1", "group", "g1", "n_wells", 2, from_samples=["a_A1", "a_Z9"])
    with pytest.raises(PluginError, match=r"from_samples \['a_Z9'\], which are not sample ids"):
        complete_records(assay, exp, bad, ctx)


def test_the_cli_runs_a_plate_map_given_with_sheet(
    tmp_path: Path, activate_site: Callable[[Path], None]
) -> None:
    """``assaykit run FOLDER --sheet plate_map.csv``, the plugin pip-installed as a lab's."""
    import os
    import shutil
    import subprocess
    import sys

    from helpers.packages import pip_install_target

    shutil.copytree(TOYPLATE_SRC.parent, tmp_path / "src")
    activate_site(pip_install_target(tmp_path / "src", tmp_path / "site"))
    folder = tmp_path / "in"
    write_plate(folder / "plate1.csv")
    text = "file,plate1.csv\nassay,toy_plate\n" + grid("sample_id", lambda r, c: f"s{r}{c}")
    (tmp_path / "map.csv").write_text(text, encoding="utf-8")
    env = {**os.environ, "ASSAYKIT_PLUGINS": "toyplate"}
    env.pop("ASSAYKIT_BLOCK_PLUGINS", None)
    args = [
        "run",
        str(folder),
        "--out",
        str(tmp_path / "out"),
        "--sheet",
        str(tmp_path / "map.csv"),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    signal = [d for d in results(tmp_path / "out") if d["metric"] == "signal"]
    assert sorted((d["well"], d["sample_id"]) for d in signal) == sorted(
        (f"{r}{c}", f"s{r}{c}") for r in ROWS96 for c in COLS96
    )
