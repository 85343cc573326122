"""Every code snippet of CONTRIBUTING.md (and README.md) runs, as a lab would run it.

CONTRIBUTING.md's tutorial is one plugin: each ```python block starts with
``# file: PATH`` and the blocks of one file, in order, are that file. The test
writes them into a fresh folder, registers the plugin module with the host
(it is not installed), and runs the tutorial's own tests, which call the
conformance kit. A block without a ``# file:`` line must run on its own.
The ``assaykit new-plugin`` template is held to the same rules.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import assaykit
import pytest
from assaykit import HostConfig, PluginError, PluginHost, hookspecs
from assaykit.config import build_params
from assaykit.scaffold import create_plugin

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.S | re.M)
FILE = re.compile(r"\A# file: (\S+)\n")
PLUGIN = "assaykit_my_assay.plugin"
HEAVY = ("scipy", "skimage", "cv2", "matplotlib", "pandas")


def python_blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def assemble(blocks: list[str]) -> tuple[dict[str, str], list[str]]:
    """The files the blocks make (blocks of one file joined in order), and the loose blocks."""
    files: dict[str, list[str]] = {}
    loose: list[str] = []
    for b in blocks:
        m = FILE.match(b)
        if m:
            files.setdefault(m.group(1), []).append(b[m.end():])
        else:
            loose.append(b)
    return {f: "\n\n".join(parts) for f, parts in files.items()}, loose


def write_lab(root: Path, files: dict[str, str]) -> Path:
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body, encoding="utf-8")
    for d in {(root / rel).parent for rel in files}:  # a package needs its __init__.py
        if d != root and d.name != "tests" and not (d / "__init__.py").exists():
            (d / "__init__.py").write_text("")
    return root


def _env(*paths: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*map(str, paths), *sys.path]),
        "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD": "1",  # only the plugin under test
    }


def _pytest(cwd: Path, tests: Path, module: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "assaykit.testing_fixtures", "--assaykit-module", module, str(tests)],
        capture_output=True, text=True, env=_env(*paths), cwd=cwd, timeout=300,
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files, _ = assemble(python_blocks(REPO / "CONTRIBUTING.md"))
    return write_lab(tmp_path_factory.mktemp("lab"), files)


@pytest.fixture
def lab_on_path(lab: Path) -> Iterator[Path]:
    sys.path.insert(0, str(lab))
    yield lab
    sys.path.remove(str(lab))
    for mod in [m for m in sys.modules if m.startswith("assaykit_my_assay")]:
        del sys.modules[mod]


def test_every_python_block_is_part_of_the_tutorial_or_runs_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, loose = assemble(python_blocks(REPO / "CONTRIBUTING.md"))
    assert set(files) == {
        "assaykit_my_assay/plugin.py", "assaykit_my_assay/analysis.py", "tests/test_my_assay.py"
    }
    for rel, body in files.items():
        compile(body, rel, "exec")
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(loose):
        exec(compile(code, f"CONTRIBUTING.md loose block {i}", "exec"), {"__name__": "snippet"})


def test_tutorial_plugin_declares_its_flags_and_api_version_and_imports_nothing_heavy(
    lab: Path,
) -> None:
    probe = textwrap.dedent(
        f"""
        import json, sys
        import assaykit
        before = set(sys.modules)
        import {PLUGIN} as p
        heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in {HEAVY!r})
        a = p.MyAssay()
        print(json.dumps({{"api": p.ASSAYKIT_API_VERSION, "heavy": heavy,
                          "flags": [f.name for f in a.flags]}}))
        """
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       env=_env(lab), timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["api"] == hookspecs.HOOK_API_VERSION
    assert got["heavy"] == []
    assert got["flags"] == ["low_value_count", "small_control"]


def test_tutorial_tests_pass_with_the_conformance_kit(lab: Path) -> None:
    first = _pytest(lab, lab / "tests", PLUGIN, lab)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 passed, 1 skipped" in first.stdout  # the reference figure was written
    assert (lab / "tests" / "reference" / "s1_histogram.png").is_file()
    again = _pytest(lab, lab / "tests", PLUGIN, lab)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "4 passed" in again.stdout  # ... and now compared by content


def test_tutorial_plugin_runs_a_batch(lab_on_path: Path, tmp_path: Path) -> None:
    host = PluginHost(HostConfig(autoload=False, modules=(PLUGIN,)))
    folder = tmp_path / "plate"
    folder.mkdir()
    (folder / "ctrl.csv").write_text("value\n" + "".join(f"{v}\n" for v in range(100)))
    (folder / "a.csv").write_text("value\n" + "".join(f"{v}\n" for v in [0] * 6 + [999] * 2))
    (folder / "b.csv").write_text("value\nnot-a-number\n")
    (folder / "samples.csv").write_text(
        "file,assay,role\nctrl.csv,my_assay,negative_control\na.csv,my_assay,\nb.csv,my_assay,\n"
    )
    res = assaykit.run(folder, tmp_path / "out", workers=0, host=host)
    assert res.exit_code == 1  # b.csv failed, under the one failure rule
    by = {(r.sample_id, r.metric): r for r in res.records}
    assert by[("a", "positive_pct")].value == 25.0
    assert by[("a", "positive_pct")].qc_flags == ("low_value_count",)
    assert "non-number" in str(by[("b", "error")].value_str)
    assert list((tmp_path / "out").rglob("*.png"))


def test_new_plugin_template_passes_its_own_tests_without_installing(tmp_path: Path) -> None:
    pkg = create_plugin("tmpl_demo", tmp_path)
    text = (pkg / "src" / "assaykit_tmpl_demo" / "plugin.py").read_text()
    assert f"ASSAYKIT_API_VERSION = {hookspecs.HOOK_API_VERSION}" in text
    r = _pytest(pkg, pkg / "tests", "assaykit_tmpl_demo.plugin", pkg / "src")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout


# -- README.md ------------------------------------------------------------------------------


@pytest.mark.slow
def test_readme_python_snippet_runs(tmp_path: Path) -> None:
    (code,) = python_blocks(REPO / "README.md")
    compile(code, "README.md", "exec")
    # what it calls exists, with those arguments, and its params are valid parameters
    assert 'assaykit.run("plate_folder", out="results/")' in code
    inspect.signature(assaykit.run).bind("plate_folder", out="results/")
    m = re.search(r'assaykit\.analyze\("(\w+)", \[.*?\], (\{.*?\}),\s*figures=False\)', code, re.S)
    assert m, "the README's analyze() call changed; update this test"
    assay, params = m.group(1), json.loads(m.group(2))
    inspect.signature(assaykit.analyze).bind(assay, ["tube1.fcs"], params, figures=False)
    from assaykit._docgen import builtin_assays

    (decl,) = [a for a in builtin_assays() if a.name == assay]
    build_params(decl.Params, params, where="README.md", assay=assay)
    # and it runs, on a folder and two tubes as a lab has them
    try:
        PluginHost(HostConfig(autoload=True))
    except PluginError as exc:  # pragma: no cover - another plugin breaks the host
        pytest.skip(f"the installed plugins do not load, so no run can: {exc}")
    fixture = REPO / "fixtures" / "annexin_pi"
    shutil.copytree(fixture, tmp_path / "plate_folder")
    shutil.copy(fixture / "vehicle.fcs", tmp_path / "tube1.fcs")
    shutil.copy(fixture / "iso_20uM.fcs", tmp_path / "tube2.fcs")
    script = tmp_path / "script.py"
    script.write_text(code + "\n    print(result.exit_code, len(one.records))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD", None)
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    exit_code, n = r.stdout.split()
    assert exit_code == "0" and int(n) > 0
    assert (tmp_path / "results" / "results.csv").is_file()
