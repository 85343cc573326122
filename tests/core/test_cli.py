"""The command line: exit codes, schemas, and no tracebacks on user input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
from assaykit.records import RECORD_FIELDS
from helpers.toydata import make_folder, write_counts


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assaykit.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=os.environ.copy(),
    )


def test_exit_codes(toy_env: Path, tmp_path: Path) -> None:
    make_folder(tmp_path / "good", 2, seed=1)
    r = cli(
        "run",
        str(tmp_path / "good"),
        "--out",
        str(tmp_path / "o1"),
        "--assay",
        "toy_threshold",
        "--workers",
        "1",
    )
    assert r.returncode == 0, r.stderr
    assert "2 experiment(s): 2 ok, 0 failed" in r.stdout
    make_folder(tmp_path / "bad", 2, seed=1, corrupt=(1,))
    r = cli("run", str(tmp_path / "bad"), "--out", str(tmp_path / "o2"), "--assay", "toy_threshold")
    assert r.returncode == 1
    assert "FAILED toy_threshold/exp001: InputError: exp001/s0.counts: line 3" in r.stderr
    # usage errors: exit 2, a message, never a traceback
    cases = [
        ("run", str(tmp_path / "nope"), "--out", str(tmp_path / "o3")),
        ("run", str(tmp_path / "good"), "--out", str(tmp_path / "o3"), "--assay", "zzz"),
        ("run", str(tmp_path / "good"), "--out", str(tmp_path / "o3"), "--workers", "-1"),
        ("run", str(tmp_path / "good")),  # --out missing (click usage error)
        ("schema", "zzz"),
        (
            "run",
            str(tmp_path / "good"),
            "--out",
            str(tmp_path / "o3"),
            "--assay",
            "toy_threshold",
            "--export",
            "xlsx",
        ),
    ]
    for args in cases:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.strip()


def test_bad_sheet_is_exit_2_with_row_and_column(toy_env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0])
    (folder / "samples.csv").write_text("file,role\na.counts,boss\n")
    r = cli("run", str(folder), "--out", str(tmp_path / "out"), "--assay", "toy_threshold")
    assert r.returncode == 2
    assert "samples.csv, row 2, column 'role': unknown role 'boss'" in r.stderr
    assert "Traceback" not in r.stderr


def test_schema_commands(toy_env: Path) -> None:
    r = cli("schema", "records")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert list(schema["properties"]) == list(RECORD_FIELDS)
    assert set(schema["required"]) == set(RECORD_FIELDS)
    r = cli("schema", "toy_threshold")
    assert r.returncode == 0
    params = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(params)
    assert params["properties"]["percentile"]["maximum"] == 100.0
    assert "threshold" in params["properties"]["percentile"]["description"]


def test_version_and_help() -> None:
    r = cli("--version")
    assert r.returncode == 0 and "assaykit" in r.stdout
    r = cli("run", "--help")
    assert r.returncode == 0 and "--fail-fast" in r.stdout and "--workers" in r.stdout


def test_progress_bar_on_a_terminal_and_plain_lines_otherwise(
    toy_env: Path, tmp_path: Path
) -> None:
    import pty
    import select

    make_folder(tmp_path / "in", 3, seed=2)
    args = [sys.executable, "-m", "assaykit.cli", "run", str(tmp_path / "in"), "--assay",
            "toy_threshold", "--workers", "0"]
    plain = subprocess.run([*args, "--out", str(tmp_path / "o1")], capture_output=True, text=True,
                           timeout=300)
    assert plain.returncode == 0
    assert "[3/3] done toy_threshold/exp002" in plain.stderr
    assert "\x1b[" not in plain.stderr  # no terminal control codes in logs

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([*args, "--out", str(tmp_path / "o2")], stdout=subprocess.PIPE,
                            stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(60)
    os.close(master)
    tty = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "experiments" in tty and "3/3" in tty and "\x1b[" in tty
    assert "[3/3] done" not in tty


def test_an_old_style_assaykit_toml_runs_and_each_old_name_is_one_warning_line(
    tmp_path: Path,
) -> None:
    """A lab's assaykit.toml from before the names were harmonised still runs (issue 12).

    Each old name is one plain ``warning:`` line on stderr that names the file,
    the assay and the new name; the results equal those of the new-style file.
    """
    import shutil

    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "annexin_pi"
    styles = {
        "old": 'threshold_percentile = 99.5\ndebris = "valley"\nsinglets = true\n',
        "new": 'percentile = 99.5\ndebris_gate = "valley"\nsinglet_gate = true\n',
    }
    results = {}
    for style, body in styles.items():
        folder = tmp_path / style
        shutil.copytree(fixtures, folder)
        (folder / "assaykit.toml").write_text("[params.annexin_pi]\n" + body, encoding="utf-8")
        r = cli("run", str(folder), "--out", str(tmp_path / f"out-{style}"), "--no-figures")
        assert r.returncode == 0, r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
        if style == "old":
            for old, new in (
                ("threshold_percentile", "percentile"),
                ("debris", "debris_gate"),
                ("singlets", "singlet_gate"),
            ):
                assert any(
                    "assaykit.toml" in ln
                    and "annexin_pi" in ln
                    and f"{old!r} is deprecated, use {new!r}" in ln
                    for ln in lines
                ), r.stderr
            assert len(lines) == 3, r.stderr
            assert "Traceback" not in r.stderr and "py.warnings" not in r.stderr
        else:
            assert lines == [], r.stderr
        with (tmp_path / f"out-{style}" / "results.csv").open(encoding="utf-8") as fh:
            # run ids and timestamps differ between runs; values, params hash and QC must not
            keep = ("sample_id", "entity", "metric", "value_num", "value_str", "params_sha256",
                    "qc_status", "qc_flags")  # fmt: skip
            results[style] = sorted(tuple(row[k] for k in keep) for row in csv.DictReader(fh))
    assert len(results["new"]) > 20
    assert results["old"] == results["new"]
