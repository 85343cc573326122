"""Readers by content: several readers may claim one suffix, and the most specific wins.

A lab's plate-export plugin claims ``.csv`` beside the host's built-in table
reader and recognizes its own files by their first line (``##BLOCKS=``, as a
SoftMax Pro text export starts); a ``.plate.csv`` reader wins by the longer
suffix. The plugins are real distributions installed with pip, so the CLI
finds them through their entry points as a lab's installation would.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import assaykit
import pytest
from assaykit import (
    Assay,
    AssayResult,
    Experiment,
    HostConfig,
    Metric,
    Params,
    PluginHost,
    Reader,
    hookimpl,
)
from assaykit.errors import PluginCompatibilityWarning
from assaykit.readers import SNIFF_BYTES, TableReader, file_suffixes, match_suffix
from helpers.packages import pip_install_target, write_package

PLATES = '''
"""A lab's plate-export plugin: it claims .csv next to the host's table reader."""
from assaykit import Assay, AssayResult, Metric, Params, Reader, hookimpl

HEADER = b"##BLOCKS="


class Read:
    def __init__(self, by):
        self.by = by


class PlateExportReader(Reader):
    kind = "table"
    suffixes = (".csv",)
    name = "plate export (SoftMax text)"

    def sniff(self, path, head):
        return 1.0 if head.startswith(HEADER) else None

    def read(self, path):
        return Read("plate export")


class PlateMapReader(Reader):
    kind = "table"
    suffixes = (".plate.csv",)
    name = "plate map"

    def read(self, path):
        return Read("plate map")


class WhichReader(Assay):
    name = "which_reader"
    version = "0.1.0"
    summary = "Names the reader that read each file."
    input_kinds = ("table",)
    roles = ("sample",)
    Params = Params
    metrics = (Metric("sample", "read_by", None, "str", "which reader read the file"),)

    def analyze(self, experiment, params):
        res = AssayResult()
        for inp in experiment.samples:
            got = experiment.read(inp)
            by = getattr(got, "by", type(got).__name__)
            res.add(inp.sample_id, "sample", inp.sample_id, "read_by", by)
        return res


@hookimpl
def assaykit_register_assays(register):
    register(WhichReader())


@hookimpl
def assaykit_register_readers(register):
    register(PlateExportReader())
    register(PlateMapReader())
'''

TWIN = '''
"""Another lab's reader for the very same export, equally sure of it."""
from assaykit import Reader, hookimpl


class TwinExportReader(Reader):
    kind = "table"
    suffixes = (".csv",)
    name = "twin export reader"

    def sniff(self, path, head):
        return 1.0 if head.startswith(b"##BLOCKS=") else None

    def read(self, path):
        raise AssertionError("a conflicted file must never be read")


@hookimpl
def assaykit_register_readers(register):
    register(TwinExportReader())
'''

EXPORT = "##BLOCKS= 1\nPlate:\tPlate1\t1.3\tPlateFormat\tEndpoint\tAbsorbance\n1\t0.25\t0.5\n"
ORDINARY = "well,od\nA1,0.25\nA2,0.5\n"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sniff")
    out = {}
    for key, dist, mod, body in (
        ("plates", "assaykit-plates", "assaykit_plates", PLATES),
        ("twin", "assaykit-twin", "assaykit_twin", TWIN),
    ):
        src = write_package(root / "src", dist, mod, body, entry_name=key)
        out[key] = pip_install_target(src, root / key)
    return out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assaykit.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )


def _folder(root: Path) -> Path:
    root.mkdir()
    (root / "export.csv").write_text(EXPORT)
    (root / "plain.csv").write_text(ORDINARY)
    (root / "layout.plate.csv").write_text(EXPORT)  # the longer suffix wins over the sniff
    return root


def _results(out: Path) -> dict[str, tuple[str, str]]:
    with (out / "results.csv").open(encoding="utf-8") as fh:
        return {r["input_path"]: (r["metric"], r["value_str"]) for r in csv.DictReader(fh)}


def test_a_csv_plugin_reader_lives_beside_the_builtin_one(
    sites: dict[str, Path], activate_site: Callable[[Path], None], tmp_path: Path
) -> None:
    activate_site(sites["plates"])
    host = PluginHost(HostConfig(autoload=False, load=("plates",)))
    folder = _folder(tmp_path / "in")
    assert type(host.reader_for(folder / "export.csv")).__name__ == "PlateExportReader"
    assert isinstance(host.reader_for(folder / "plain.csv"), TableReader)
    assert type(host.reader_for(folder / "layout.plate.csv")).__name__ == "PlateMapReader"
    # in memory too: each input keeps the reader chosen for it, though both are "table"
    got = assaykit.analyze("which_reader", [folder / "export.csv", folder / "plain.csv"],
                           figures=False, host=host)  # fmt: skip
    assert sorted((r.input_path, r.value) for r in got.records) == [
        ("export.csv", "plate export"),
        ("plain.csv", "Table"),
    ]
    # `assaykit plugins` works and says which reader reads what
    r = _cli("-p", "plates", "plugins")
    assert r.returncode == 0, r.stderr
    csv_line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith(".csv:"))
    assert "plate export (SoftMax text) [table] from plates (sniffs content)" in csv_line
    assert "CSV/TSV table [table] from assaykit.builtin (suffix only)" in csv_line
    assert any(ln.strip().startswith(".plate.csv: plate map") for ln in r.stdout.splitlines())
    r = _cli("-p", "plates", "plugins", "--json")
    plates = next(p for p in json.loads(r.stdout) if p["name"] == "plates")
    export = next(x for x in plates["readers"] if x["name"].startswith("plate export"))
    assert export["sniffs"] is True
    assert export["shares"] == {".csv": ["assaykit.builtin:TableReader"]}
    # a run sends each file to its reader
    r = _cli("-p", "plates", "run", str(folder), "--assay", "which_reader", "--out",
             str(tmp_path / "out"), "--workers", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert _results(tmp_path / "out") == {
        "export.csv": ("read_by", "plate export"),
        "plain.csv": ("read_by", "Table"),
        "layout.plate.csv": ("read_by", "plate map"),
    }


def test_two_plugins_claiming_one_file_equally_is_an_error_record_naming_both(
    sites: dict[str, Path], activate_site: Callable[[Path], None], tmp_path: Path
) -> None:
    activate_site(sites["plates"])
    activate_site(sites["twin"])
    folder = _folder(tmp_path / "in")
    r = _cli("-p", "plates", "-p", "twin", "plugins")
    assert r.returncode == 0, r.stderr
    r = _cli("-p", "plates", "-p", "twin", "run", str(folder), "--assay", "which_reader",
             "--out", str(tmp_path / "out"), "--workers", "1")  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    res = _results(tmp_path / "out")
    metric, message = res["export.csv"]
    assert metric == "error" and message.startswith("ReaderConflict: export.csv: readers")
    assert "'plate export (SoftMax text)' (plugin 'plates')" in message
    assert "'twin export reader' (plugin 'twin')" in message
    assert "--block-plugin" in message
    # the other files are analysed as if the twin were not there
    assert res["plain.csv"] == ("read_by", "Table")
    assert res["layout.plate.csv"] == ("read_by", "plate map")
    # in one experiment of a sheet, the conflicted file fails alone; the others are analysed
    sheet = tmp_path / "samples.csv"
    sheet.write_text("file,assay,experiment\nexport.csv,which_reader,one\nplain.csv,which_reader,one\n")
    r = _cli("-p", "plates", "-p", "twin", "run", str(folder), "--sheet", str(sheet),
             "--out", str(tmp_path / "o1"), "--workers", "1")  # fmt: skip
    assert r.returncode == 1 and "ReaderConflict" in r.stderr, r.stderr
    res = _results(tmp_path / "o1")
    assert res["export.csv"][0] == "error" and "'twin export reader'" in res["export.csv"][1]
    assert res["plain.csv"] == ("read_by", "Table")
    # blocking one of them is the way out
    blocked = ("-p", "plates", "-p", "twin", "--block-plugin", "twin")
    r = _cli(*blocked, "run", str(folder), "--assay", "which_reader",
             "--out", str(tmp_path / "o2"), "--workers", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert _results(tmp_path / "o2")["export.csv"] == ("read_by", "plate export")


class _RaisingSniff(Reader):
    kind = "table"
    suffixes = (".csv",)
    name = "fragile reader"

    def sniff(self, path: Path, head: bytes) -> float | None:
        raise ValueError("cannot parse")

    def read(self, path: Path) -> object:
        raise AssertionError("never chosen")


class _FragilePlugin:
    @hookimpl
    def assaykit_register_readers(self, register: Callable[[Reader], None]) -> None:
        register(_RaisingSniff())


def test_a_reader_whose_sniff_raises_is_skipped_for_that_file_with_a_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = PluginHost(HostConfig(autoload=False), extra=[_FragilePlugin()])
    f = tmp_path / "a.csv"
    f.write_text(ORDINARY)
    with caplog.at_level(logging.WARNING, logger="assaykit"):
        choice = host.choose_reader(f)
    assert isinstance(choice.reader, TableReader) and not choice.conflict
    assert choice.skipped == (
        "'fragile reader' (plugin '_FragilePlugin') skipped for a.csv: "
        "sniff raised ValueError: cannot parse",
    )
    assert "fragile reader" in caplog.text and "ValueError" in caplog.text


class _BadSuffix(Reader):
    kind = "table"
    suffixes = ("plate.csv",)  # no leading dot

    def read(self, path: Path) -> object:
        return None


class _Unused(Assay):
    name = "broken_plugin_assay"
    version = "0.1.0"
    summary = "An assay of a plugin whose reader registration is broken."
    input_kinds = ("table",)
    roles = ("sample",)
    Params = Params
    metrics = (Metric("sample", "n", None, "int", "a count"),)

    def analyze(self, experiment: Experiment, params: Params) -> AssayResult:
        return AssayResult()


class _BrokenPlugin:
    @hookimpl
    def assaykit_register_assays(self, register: Callable[[Assay], None]) -> None:
        register(_Unused())

    @hookimpl
    def assaykit_register_readers(self, register: Callable[[Reader], None]) -> None:
        register(_BadSuffix())


class _RaisingHook:
    @hookimpl
    def assaykit_register_readers(self, register: Callable[[Reader], None]) -> None:
        raise RuntimeError("needs a licence server")


@pytest.mark.parametrize(
    ("plugin", "reason"),
    [
        (_BrokenPlugin(), "suffix 'plate.csv' must be '.ext' or '.part.ext'"),
        (_RaisingHook(), "assaykit_register_readers raised RuntimeError: needs a licence server"),
    ],
)
def test_a_broken_reader_registration_skips_the_plugin_with_a_warning(
    plugin: object, reason: str
) -> None:
    with pytest.warns(PluginCompatibilityWarning, match="skipped"):
        host = PluginHost(HostConfig(autoload=False), extra=[plugin])
    info = host.plugins[type(plugin).__name__]
    assert info.status == "failed" and reason in info.reason
    assert "broken_plugin_assay" not in host.assays and info.assays == []
    assert info.readers == [] and {type(r) for r in host.readers} == {
        type(r) for r in PluginHost(HostConfig(autoload=False)).readers
    }
    entry = next(p for p in host.describe() if p["name"] == type(plugin).__name__)
    assert entry["status"] == "failed"


def test_multi_part_suffixes_match_whole_parts_of_the_name() -> None:
    assert file_suffixes("Run 2.Plate.CSV") == [".plate.csv", ".csv"]
    assert match_suffix("x.plate.csv", (".csv", ".plate.csv")) == ".plate.csv"
    assert match_suffix("xplate.csv", (".plate.csv",)) is None
    assert match_suffix("x.1.plate.csv", (".plate.csv",)) == ".plate.csv"


class _HeadLength(Reader):
    kind = "table"
    suffixes = (".csv",)
    seen: ClassVar[list[int]] = []

    def sniff(self, path: Path, head: bytes) -> float | None:
        self.seen.append(len(head))
        return None

    def read(self, path: Path) -> object:
        return None


class _HeadPlugin:
    @hookimpl
    def assaykit_register_readers(self, register: Callable[[Reader], None]) -> None:
        register(_HeadLength())


def test_sniffing_reads_only_the_first_bytes(tmp_path: Path) -> None:
    host = PluginHost(HostConfig(autoload=False), extra=[_HeadPlugin()])
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" + b"1,2\n" * 500_000)  # 2 MB
    assert isinstance(host.reader_for(big), TableReader)  # the sniffer said "not mine"
    assert _HeadLength.seen == [SNIFF_BYTES] and SNIFF_BYTES <= 64 * 1024


def test_a_lab_csv_reader_beside_the_shipped_plate_and_qpcr_csv_readers(
    sites: dict[str, Path], activate_site: Callable[[Path], None], tmp_path: Path
) -> None:
    """Four readers claim .csv (the lab's, viability's plate reader, qpcr's run reader and
    the built-in table); `assaykit plugins` lists all four, and one run of a folder with a
    generic plate grid, a real Bio-Rad CFX Cq export and the lab's files sends each file to
    its own reader. The fold change is checked against the CFX file's own Cq column."""
    from assaykit.plates.synthetic import make_plate
    from helpers.viability_data import sheet_rows, write_grid

    activate_site(sites["plates"])
    load = ("-p", "plates", "-p", "viability", "-p", "qpcr")
    r = _cli(*load, "plugins")
    assert r.returncode == 0, r.stderr
    csv_line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith(".csv:"))
    for reader in (
        "plate export (SoftMax text) [table] from plates (sniffs content)",
        "plate-reader export (grid, Gen5, SoftMax Pro) [plate] from viability (sniffs content)",
        "qPCR run (RDML, QuantStudio Results, CFX Cq Results) [qpcr] from qpcr (sniffs content)",
        "CSV/TSV table [table] from assaykit.builtin (suffix only)",
    ):
        assert reader in csv_line, (reader, csv_line)
    folder = _folder(tmp_path / "in")
    plate = make_plate(11, "clean")
    write_grid(folder / "mtt.csv", plate)
    qpcr_data = Path(__file__).resolve().parents[1] / "data" / "qpcr"
    cfx_src = qpcr_data / "cfxmaestro_cq_results_excerpt.csv"
    (folder / "cfx.csv").write_bytes(cfx_src.read_bytes())
    sheet = tmp_path / "samples.csv"
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "assay", "experiment", "well", "role", "cell_line", "dose_uM",
                    "parental", "reference_genes", "calibrator"])  # fmt: skip
        for f in ("export.csv", "plain.csv", "layout.plate.csv"):
            w.writerow([f, "which_reader", "lab", "", "sample", "", "", "", "", ""])
        for name, well, assay, role, line, dose, parental in sheet_rows(plate, "mtt.csv"):
            w.writerow([name, assay, "mtt", well, role, line, dose, parental, "", ""])
        w.writerow(["cfx.csv", "qpcr", "run", "", "sample", "", "", "", "VIC", "M3905 R Ctx"])
    out = tmp_path / "out"
    r = _cli(*load, "run", str(folder), "--sheet", str(sheet), "--out", str(out),
             "--workers", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    with (out / "results.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    read_by = {x["input_path"]: x["value_str"] for x in rows if x["metric"] == "read_by"}
    assert read_by == {
        "export.csv": "plate export",
        "plain.csv": "Table",
        "layout.plate.csv": "plate map",
    }
    ic50 = {x["entity"]: float(x["value_num"]) for x in rows if x["metric"] == "ic50_uM"}
    assert set(ic50) == {"parental", "resistant"}
    for line, value in ic50.items():
        assert abs(value / plate.truth[line].ic50 - 1) < 0.3, (line, value)
    # ΔΔCt from the CFX file's own Cq column, read here with the csv module
    with cfx_src.open(encoding="utf-8") as fh:
        cq: dict[tuple[str, str], list[float]] = {}
        for x in csv.DictReader(fh):
            cq.setdefault((x["Sample"], x["Fluor"]), []).append(float(x["Cq"]))

    def mean(k: tuple[str, str]) -> float:
        return sum(cq[k]) / len(cq[k])

    cal = mean(("M3905 R Ctx", "FAM")) - mean(("M3905 R Ctx", "VIC"))
    want = 2 ** -((mean(("M4354 R Ctx", "FAM")) - mean(("M4354 R Ctx", "VIC"))) - cal)
    fold = {x["entity"]: float(x["value_num"]) for x in rows if x["metric"] == "fold_change"}
    assert abs(fold["M4354 R Ctx|FAM"] / want - 1) < 1e-9, (fold, want)
    assert not [x for x in rows if x["metric"] == "error"]
