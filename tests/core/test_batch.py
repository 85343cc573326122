"""The batch runner end to end, with a real third-party plugin, real processes and SQLite."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import assaykit
import pytest
from assaykit import PluginHost
from helpers.toydata import make_folder, write_counts

GOOD_RECORDS_PER_EXPERIMENT = 2 + 5 * 2  # threshold + source, then 5 metrics x 2 samples


def _cli(*args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assaykit.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or os.environ.copy(),
        **kw,  # type: ignore[arg-type]
    )


def _store_counts(db: Path) -> tuple[int, int]:
    if not db.exists():
        return 0, 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            n_exp = con.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]
            n_rec = con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0, 0
    return n_exp, n_rec


def _check_store(db: Path, toy, n_experiments: int) -> None:  # type: ignore[no-untyped-def]
    con = sqlite3.connect(db)
    try:
        exps = dict(con.execute("SELECT experiment, status FROM experiments").fetchall())
        assert len(exps) == n_experiments
        for exp in toy.experiments:
            n = con.execute("SELECT COUNT(*) FROM records WHERE experiment=?", (exp,)).fetchone()[0]
            if exp in toy.corrupt:
                assert exps[exp] == "failed"
                errs = con.execute(
                    "SELECT COUNT(*) FROM records WHERE experiment=? AND metric='error' "
                    "AND qc_status='fail'",
                    (exp,),
                ).fetchone()[0]
                assert errs == 3 == n  # one error row per input file of the experiment
            else:
                assert exps[exp] == "done"
                assert n == GOOD_RECORDS_PER_EXPERIMENT
        dup = con.execute(
            "SELECT COUNT(*) FROM (SELECT experiment, sample_id, entity, metric, COUNT(*) c "
            "FROM records GROUP BY 1, 2, 3, 4 HAVING c > 1)"
        ).fetchone()[0]
        assert dup == 0
        values = con.execute(
            "SELECT experiment, sample_id, value_num FROM records WHERE metric='positive_pct'"
        ).fetchall()
        expected = {k: v for k, v in toy.truth.items() if k[0] not in toy.corrupt}
        assert len(values) == len(expected) == len(toy.truth) - 1
        for exp, sid, v in values:
            assert v == pytest.approx(toy.truth[(exp, sid)], abs=1e-9)
    finally:
        con.close()


@pytest.mark.slow
def test_batch_of_60_with_corrupt_input_survives_sigkill_and_resumes(
    toy_env: Path, tmp_path: Path
) -> None:
    n = 60
    toy = make_folder(tmp_path / "in", n, seed=7, corrupt=(17,))
    (tmp_path / "in" / "assaykit.toml").write_text(
        'default_assay = "toy_threshold"\n[params.toy_threshold]\ndelay_s = 0.15\n'
    )
    out = tmp_path / "out"
    db = out / "assaykit.sqlite"
    args = ("run", str(tmp_path / "in"), "--out", str(out), "--workers", "2")

    # 1) start, then SIGKILL the whole process group halfway through
    proc = _cli(*args, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and _store_counts(db)[0] < n // 3:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    done_before, _ = _store_counts(db)
    assert n // 3 <= done_before < n, "the kill must land halfway"
    # every experiment in the store is complete: none half-written
    con = sqlite3.connect(db)
    for (exp,) in con.execute("SELECT experiment FROM experiments").fetchall():
        k = con.execute("SELECT COUNT(*) FROM records WHERE experiment=?", (exp,)).fetchone()[0]
        assert k in (GOOD_RECORDS_PER_EXPERIMENT, 3)
    con.close()

    # 2) run again: finishes, exit code 1 for the corrupt input, nothing lost or doubled
    proc = _cli(*args)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    _check_store(db, toy, n)
    run2 = json.loads((out / "run.json").read_text())
    assert run2["summary"]["ran"] == n - done_before
    assert run2["summary"]["skipped"] == done_before
    assert run2["summary"]["failed"] == 1

    # 3) a third run skips every experiment
    proc = _cli(*args)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    run3 = json.loads((out / "run.json").read_text())
    assert run3["summary"]["ran"] == 0 and run3["summary"]["skipped"] == n
    _check_store(db, toy, n)
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == (n - 1) * GOOD_RECORDS_PER_EXPERIMENT + 3


def test_exports_carry_the_same_rows_with_conditions(toy_host: PluginHost, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    toy = make_folder(tmp_path / "in", 3, seed=1)
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host
    )
    assert res.exit_code == 0
    out = tmp_path / "out"
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    jsonl = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    parquet = pq.read_table(out / "results.parquet").to_pylist()
    con = sqlite3.connect(out / "assaykit.sqlite")
    sql_ids = [r[0] for r in con.execute("SELECT record_id FROM records ORDER BY experiment, seq")]
    con.close()
    ids = [r["record_id"] for r in csv_rows]
    assert ids == [r["record_id"] for r in jsonl] == [r["record_id"] for r in parquet] == sql_ids
    assert len(ids) == len(set(ids)) == 3 * GOOD_RECORDS_PER_EXPERIMENT
    # the same values in every format; conditions joined on every row
    for c, j, p in zip(csv_rows, jsonl, parquet):
        assert c["metric"] == j["metric"] == p["metric"]
        if j["value_num"] is not None:
            assert float(c["value_num"]) == j["value_num"] == p["value_num"]
        assert c["cell_line"] == j["cell_line"] == p["cell_line"] == "HL-60"
        assert c["qc_flags"] == ";".join(j["qc_flags"])
    by_sample = {
        (r["experiment"], r["sample_id"]): r for r in jsonl if r["metric"] == "positive_pct"
    }
    for (exp, sid), truth in toy.truth.items():
        assert by_sample[(exp, sid)]["value_num"] == pytest.approx(truth, abs=1e-9)
        assert by_sample[(exp, sid)]["dose_uM"] == str(int(sid[-1]) * 10)
        assert by_sample[(exp, sid)]["instrument"] == "ToyCyte 3000"
        assert by_sample[(exp, sid)]["acquired_at"] == "2026-01-02T03:04:05"
    # the pandas view of the API result matches
    df = res.to_pandas()
    assert list(df["record_id"]) == ids
    assert {r.record_id for r in res.records} == set(ids)


def test_record_ids_are_stable_and_change_with_params(toy_host: PluginHost, tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 2, seed=3)
    a = assaykit.run(
        tmp_path / "in", tmp_path / "o1", assay="toy_threshold", workers=0, host=toy_host
    )
    b = assaykit.run(
        tmp_path / "in", tmp_path / "o2", assay="toy_threshold", workers=0, host=toy_host
    )
    assert [r.record_id for r in a.records] == [r.record_id for r in b.records]
    assert a.run_id != b.run_id
    (tmp_path / "in" / "assaykit.toml").write_text("[params.toy_threshold]\npercentile = 95\n")
    c = assaykit.run(
        tmp_path / "in", tmp_path / "o1", assay="toy_threshold", workers=0, host=toy_host
    )
    assert not set(r.record_id for r in c.records) & set(r.record_id for r in a.records)
    assert all(e.ran for e in c.experiments), "changed params must re-run every experiment"


def test_changed_input_reruns_only_its_experiment(toy_host: PluginHost, tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 4, seed=3)
    assaykit.run(tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)
    f = tmp_path / "in" / "exp002" / "s1.counts"
    write_counts(f, [1.0] * 10 + [1000.0] * 30)
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host
    )
    ran = [e.experiment for e in res.experiments if e.ran]
    assert ran == ["exp002"]
    rec = [r for r in res.records if r.sample_id == "exp002_s1" and r.metric == "positive_pct"]
    assert rec[0].value_num == 75.0
    assert "low_event_count" not in rec[0].qc_flags


def test_fail_fast_stops_after_first_failure(toy_host: PluginHost, tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 5, seed=2, corrupt=(0,))
    res = assaykit.run(
        tmp_path / "in",
        tmp_path / "out",
        assay="toy_threshold",
        fail_fast=True,
        workers=0,
        host=toy_host,
    )
    assert res.exit_code == 1
    statuses = [e.status for e in res.experiments]
    assert statuses[0] == "failed"
    assert statuses[1:] == ["cancelled"] * 4
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["summary"]["failed"] == 5


def test_a_crashing_worker_fails_only_its_experiment(toy_env: Path, tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 6, seed=4)
    (tmp_path / "in" / "assaykit.toml").write_text(
        '[params.toy_threshold]\nhard_exit_on = "exp003_s1"\n'
    )
    host = PluginHost(assaykit.HostConfig(autoload=False, load=("toycount",)))
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=2, host=host
    )
    assert res.exit_code == 1
    st = {e.experiment: e for e in res.experiments}
    assert st["exp003"].status == "crashed"
    assert "worker process died (exit code 3)" in (st["exp003"].error or "")
    assert all(st[f"exp00{i}"].status == "done" for i in (0, 1, 2, 4, 5))
    errs = [r for r in res.records if r.metric == "error"]
    assert {r.experiment for r in errs} == {"exp003"}
    assert all(r.value_str and r.value_str.startswith("WorkerCrash") for r in errs)
    # a crash is not a result: the next run tries it again
    res2 = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=2, host=host
    )
    assert [e.experiment for e in res2.experiments if e.ran] == ["exp003"]


@pytest.mark.parametrize("workers", [0, 1])
def test_timeout_stops_a_hung_analysis(toy_env: Path, tmp_path: Path, workers: int) -> None:
    make_folder(tmp_path / "in", 3, seed=4)
    (tmp_path / "in" / "assaykit.toml").write_text(
        '[params.toy_threshold]\nhang_on = "exp001_s0"\n'
    )
    host = PluginHost(assaykit.HostConfig(autoload=False, load=("toycount",)))
    t0 = time.monotonic()
    res = assaykit.run(
        tmp_path / "in",
        tmp_path / "out",
        assay="toy_threshold",
        workers=workers,
        timeout=3.0,
        host=host,
    )
    assert time.monotonic() - t0 < 45
    st = {e.experiment: e for e in res.experiments}
    assert st["exp001"].status in ("failed", "crashed")
    assert "TimeoutError" in (st["exp001"].error or "")
    assert st["exp000"].status == st["exp002"].status == "done"


def test_folder_without_sheet_runs_every_file_as_its_own_experiment(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    write_counts(folder / "a.counts", [1.0, 2.0, 3.0, 1000.0])
    write_counts(folder / "sub" / "b.counts", [1.0] * 30)
    (folder / "notes.txt").write_text("not an input")
    res = assaykit.run(folder, tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)
    assert res.exit_code == 0
    assert sorted(e.experiment for e in res.experiments) == ["a", "sub/b"]
    assert res.ignored == ["notes.txt"]
    for r in res.records:
        assert "no_controls" in r.qc_flags and "threshold_auto" in r.qc_flags
        assert r.qc_status == "warn"
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["ignored_files"] == ["notes.txt"]
    # flag names are on the records; their scope and message are kept beside them
    findings = {f["flag"]: f for e in run["experiments"] for f in e["qc_findings"]}
    assert findings["threshold_auto"]["message"] == "no negative control: median + 3 MAD of samples"
    assert findings["no_controls"]["severity"] == "warn"
    assert findings["no_controls"]["sample_id"] is None  # experiment-wide
    con = sqlite3.connect(tmp_path / "out" / "assaykit.sqlite")
    n = con.execute("SELECT COUNT(*) FROM qc_findings WHERE flag='threshold_auto'").fetchone()[0]
    con.close()
    assert n == 2  # one per experiment
    assert "median + 3 MAD of samples" in (tmp_path / "out" / "report.html").read_text()


def test_sheet_lists_inputs_and_other_files_are_ignored(
    toy_host: PluginHost, tmp_path: Path
) -> None:
    toy = make_folder(tmp_path / "in", 2, seed=5)
    write_counts(tmp_path / "in" / "stray.counts", [1.0])
    (tmp_path / "in" / "readme.md").write_text("x")
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host
    )
    assert res.ignored == ["readme.md", "stray.counts"]
    assert {r.sample_id for r in res.records if r.metric == "positive_pct"} == {
        sid for _, sid in toy.truth
    }


def test_missing_listed_file_is_an_error_record(toy_host: PluginHost, tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 2, seed=6)
    (tmp_path / "in" / "exp001" / "s1.counts").unlink()
    res = assaykit.run(
        tmp_path / "in", tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host
    )
    assert res.exit_code == 1
    errs = [r for r in res.records if r.metric == "error"]
    assert len(errs) == 1
    assert errs[0].input_path == "exp001/s1.counts" and errs[0].input_sha256 == ""
    assert errs[0].value_str == "MissingInputError: exp001/s1.counts: file does not exist"
    # the rest of that experiment still ran
    assert any(r.sample_id == "exp001_s0" and r.metric == "positive_pct" for r in res.records)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert {"path": "exp001/s1.counts", "sha256": None, "missing": True} in run["inputs"]


def test_report_and_figures(toy_host: PluginHost, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_counts(folder / "ctrl.counts", list(range(100)))
    write_counts(folder / "evil.counts", [1.0] * 50 + [500.0] * 50)
    (folder / "samples.csv").write_text(
        "file,sample_id,role,treatment\n"
        "ctrl.counts,ctrl,negative_control,none\n"
        'evil.counts,<script>alert(1)</script>,sample,"=HYPERLINK(""http://x"")"\n'
    )
    res = assaykit.run(folder, tmp_path / "out", assay="toy_threshold", workers=0, host=toy_host)
    assert res.exit_code == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("data:image/png;base64,") == 1  # one sample, one histogram
    assert "http://" not in html.replace("http://x", "")  # self-contained: no external links
    figs = list((tmp_path / "out" / "figures").rglob("*.png"))
    assert len(figs) == 1 and figs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the formula in a condition cell is neutralized in the CSV
    text = (tmp_path / "out" / "results.csv").read_text()
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text


def test_two_runs_cannot_share_an_output_folder(toy_host: PluginHost, tmp_path: Path) -> None:
    import fcntl

    make_folder(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".assaykit.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(assaykit.UsageError, match="another assaykit run"):
            assaykit.run(tmp_path / "in", out, assay="toy_threshold", workers=0, host=toy_host)
