"""The plugin-testing kit: host and experiment fixtures, figures compared by content."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import assaykit
import pytest
from assaykit import Experiment, FigureData, Params, PluginHost, UsageError
from assaykit.api import AnalysisResult
from assaykit.experiment import sha256_file
from assaykit.scaffold import create_plugin
from assaykit.testing import (
    assert_figures_match,
    check_deterministic,
    experiment_from_folder,
    experiments_from_folder,
    figure_difference,
)
from PIL import Image, PngImagePlugin

pytest_plugins = ["assaykit.testing_fixtures"]

REPO = Path(__file__).resolve().parents[2]
DEMO = "kitdemo"
DEMO_MODULE = f"assaykit_{DEMO}.plugin"


@pytest.fixture(scope="module")
def demo_src(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `assaykit new-plugin` template as a lab gets it, importable but not installed."""
    src = create_plugin(DEMO, tmp_path_factory.mktemp("scaffold")) / "src"
    sys.path.insert(0, str(src))
    yield src
    sys.path.remove(str(src))
    for mod in [m for m in sys.modules if m.startswith(f"assaykit_{DEMO}")]:
        del sys.modules[mod]


@pytest.fixture
def demo_host(
    demo_src: Path, assaykit_host_factory: Callable[..., PluginHost]
) -> PluginHost:
    return assaykit_host_factory(modules=[DEMO_MODULE], autoload=False)


def _values(path: Path, values: list[float]) -> Path:
    path.write_text("value\n" + "\n".join(str(v) for v in values) + "\n")
    return path


@pytest.fixture
def plate(tmp_path: Path) -> Path:
    folder = tmp_path / "plate"
    (folder / "day1").mkdir(parents=True)
    _values(folder / "day1" / "ctrl.csv", list(range(100)))
    _values(folder / "day1" / "s1.csv", [0.0] * 70 + [500.0] * 30)
    _values(folder / "s2.csv", [0.0] * 90 + [500.0] * 10)
    (folder / "notes.txt").write_text("not an input")
    (folder / "samples.csv").write_text(
        "file,assay,role,sample_id,cell_line\n"
        f"day1/ctrl.csv,{DEMO},negative_control,ctrl,HL60\n"
        f"day1/s1.csv,{DEMO},sample,treated,HL60\n"
        f"s2.csv,{DEMO},,,K562\n"
    )
    return folder


# -- the host fixture ------------------------------------------------------------------------


def test_host_factory_registers_a_plugin_module_that_is_not_installed(
    demo_host: PluginHost,
) -> None:
    assert DEMO in demo_host.assays
    assert demo_host.assay_plugin(DEMO) == DEMO_MODULE
    assert not [p for p in demo_host.plugins.values() if p.assays and p.name != DEMO_MODULE]


def test_host_fixture_takes_modules_from_the_command_line_and_ini(
    demo_src: Path, tmp_path: Path
) -> None:
    tests = tmp_path / "labtests"
    tests.mkdir()
    (tests / "test_lab.py").write_text(
        textwrap.dedent(
            f"""
            def test_host(assaykit_host):
                assert "{DEMO}" in assaykit_host.assays

            def test_experiment(assaykit_experiment, tmp_path):
                (tmp_path / "a.csv").write_text("value\\n1\\n2\\n")
                exp = assaykit_experiment(tmp_path, assay="{DEMO}")
                assert [i.relpath for i in exp.inputs] == ["a.csv"]
            """
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(demo_src), *sys.path]),
        "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    base += ["-p", "assaykit.testing_fixtures", str(tests)]
    r = subprocess.run(
        [*base, "--assaykit-module", DEMO_MODULE],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
    (tmp_path / "pytest.ini").write_text(f"[pytest]\nassaykit_modules = {DEMO_MODULE}\n")
    r = subprocess.run(base, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    (tmp_path / "pytest.ini").unlink()
    r = subprocess.run(base, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 1 and "unknown assay" in r.stdout  # without the module: no assay


# -- experiments as a batch builds them -----------------------------------------------------


def test_experiment_fixture_builds_what_the_batch_runner_analyses(
    plate: Path,
    demo_host: PluginHost,
    assaykit_experiment: Callable[..., Experiment],
    tmp_path: Path,
) -> None:
    exp = assaykit_experiment(plate, host=demo_host)
    assert (exp.name, exp.assay, exp.has_sheet, exp.folder) == (DEMO, DEMO, True, plate.resolve())
    got = [(i.relpath, i.role, i.sample_id, i.kind, i.row) for i in exp.inputs]
    assert got == [
        ("day1/ctrl.csv", "negative_control", "ctrl", "table", 2),
        ("day1/s1.csv", "sample", "treated", "table", 3),
        ("s2.csv", "sample", "s2", "table", 4),
    ]
    assert [i.sha256 for i in exp.inputs] == [sha256_file(i.path) for i in exp.inputs]
    assert [i.condition("cell_line") for i in exp.inputs] == ["HL60", "HL60", "K562"]
    # the same values as `assaykit run` on the folder
    res = assaykit.analyze(DEMO, exp, host=demo_host)
    batch = assaykit.run(plate, tmp_path / "out", workers=0, report=False, host=demo_host)
    assert batch.exit_code == 0

    def key(rs: list[assaykit.Record]) -> list[tuple[object, ...]]:
        return sorted(
            (r.record_id, r.experiment, r.input_path, r.input_sha256, r.sample_id, r.entity,
             r.metric, r.value, r.qc_status, r.qc_flags)
            for r in rs
        )

    assert key(res.records) == key(batch.records)
    assert res.value("treated", "positive_pct") == 30.0


def test_experiment_from_sheet_rows_equals_from_the_sheet_file(
    plate: Path, demo_host: PluginHost
) -> None:
    rows = [
        {"file": "day1/ctrl.csv", "assay": DEMO, "role": "negative_control",
         "sample_id": "ctrl", "cell_line": "HL60"},
        {"file": "day1/s1.csv", "assay": DEMO, "role": "sample",
         "sample_id": "treated", "cell_line": "HL60"},
        {"file": "s2.csv", "assay": DEMO, "cell_line": "K562"},
    ]
    a = experiment_from_folder(plate, rows, host=demo_host)
    b = experiment_from_folder(plate, plate / "samples.csv", host=demo_host)
    assert a.inputs == b.inputs


def test_experiments_without_a_sheet_are_one_per_file(plate: Path, demo_host: PluginHost) -> None:
    (plate / "samples.csv").unlink()
    exps = experiments_from_folder(plate, assay=DEMO, host=demo_host)
    assert [(e.name, e.has_sheet, len(e.inputs)) for e in exps] == [
        ("day1/ctrl", False, 1), ("day1/s1", False, 1), ("s2", False, 1)
    ]
    with pytest.raises(UsageError, match="expected one experiment in all, found 3"):
        experiment_from_folder(plate, assay=DEMO, host=demo_host)
    one = experiment_from_folder(plate, assay=DEMO, name="s2", host=demo_host)
    assert one.read(one.inputs[0]).column("value")[:2] == ["0.0", "0.0"]


# -- figures --------------------------------------------------------------------------------


def _plot(ys: list[float], size: tuple[float, float] = (4, 3)) -> bytes:
    fig = assaykit.new_figure(*size)
    ax = fig.add_subplot(111)
    ax.plot(range(len(ys)), ys, color="C0")
    ax.set_title("threshold")
    return assaykit.render_png(fig)


def _reencode(png: bytes) -> bytes:
    """The same pixels, written with another compression level and extra metadata."""
    with Image.open(io.BytesIO(png)) as im:
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", "another writer")
        info.add_text("Comment", "re-encoded")
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=9, pnginfo=info)
    return buf.getvalue()


def test_figures_differing_only_in_metadata_and_compression_match(tmp_path: Path) -> None:
    png = _plot([1, 3, 2, 5])
    other = _reencode(png)
    assert other != png  # the bytes differ ...
    d = assert_figures_match(png, other)  # ... what they show does not
    assert (d.mean_abs, d.differing_fraction) == (0.0, 0.0)
    path = tmp_path / "f.png"
    path.write_bytes(other)
    assert_figures_match(FigureData("f", png), path)


def test_figures_with_different_content_do_not_match() -> None:
    png = _plot([1, 3, 2, 5])
    with pytest.raises(AssertionError, match="figures differ: mean absolute difference"):
        assert_figures_match(png, _plot([1, 3, 2, 9]))
    with pytest.raises(AssertionError, match="differ in size"):
        assert_figures_match(png, _plot([1, 3, 2, 5], size=(5, 3)))
    with pytest.raises(AssertionError, match="not a decodable image"):
        assert_figures_match(png, b"not a png")


def test_figure_tolerance_ignores_a_stray_pixel_unless_asked_not_to() -> None:
    png = _plot([1, 3, 2, 5])
    with Image.open(io.BytesIO(png)) as im:
        im = im.convert("RGBA")
        im.putpixel((5, 5), (0, 0, 0, 255))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
    d = figure_difference(png, buf.getvalue())
    assert 0 < d.differing_fraction < 1e-4 and d.max_abs == 255
    assert_figures_match(png, buf.getvalue())
    with pytest.raises(AssertionError, match="of pixels differ"):
        assert_figures_match(png, buf.getvalue(), max_differing_fraction=0.0)


def test_conformance_kit_compares_figures_by_content() -> None:
    exp = Experiment("e", "a", [])

    def result(png: bytes) -> AnalysisResult:
        return AnalysisResult(exp, [], [], [FigureData("hist", png, "s1")], Params())

    png = _plot([1, 3, 2, 5])
    assert check_deterministic(result(png), result(_reencode(png))) == []
    problems = check_deterministic(result(png), result(_plot([5, 3, 2, 1])))
    assert len(problems) == 1 and "draws figure 'hist' (sample s1) differently" in problems[0]
