"""Real instrument files (shared_data/fcs-instruments) through annexin_pi.

None of these files is an Annexin V/PI experiment. Each readable one is gated
at its channels' medians and its four percentages must equal a plain numpy
gate on the same values (scaled by the FCS rules written out here); the
Gating-ML compliance file must give the ISAC truth files' quadrant shares;
the unreadable ones must give one FCSError naming the file.
Channels are given by parameters (folder ``assaykit.toml``), one batch per
file, because each instrument names its detectors differently.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import assaykit
import numpy as np
import pytest
from assaykit import PluginHost

#: relative path -> annexin_pi parameters
FILES: dict[str, dict[str, Any]] = {
    "Cytek_xP5/Cytek_xP5.fcs": {
        "annexin_channel": "FL1", "pi_channel": "FL2", "fsc_area": "FSC", "singlet_gate": False,
        "ssc_area": "SSC",
    },
    "FACSCaliburHTS/Sample_Well_A02.fcs": {
        "annexin_channel": "FL1-H", "pi_channel": "FL2-H", "fsc_area": "FSC-H",
        "singlet_gate": False, "ssc_area": "SSC-H",
    },
    "FACS_Diva/facs_diva_test.fcs": {
        "annexin_channel": "FITC-A", "pi_channel": "PE-A", "singlet_gate": False,
    },
    "Fortessa/FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs": {
        "annexin_channel": "FITC-A", "pi_channel": "PE-Texas Red-A",
    },
    "GuavaMuse/Guava Muse.fcs": {
        "annexin_channel": "YEL-HLin", "pi_channel": "RED-HLin", "fsc_area": "FSC-HLin",
        "singlet_gate": False,
    },
    "HTS_BD_LSR-II/HTS_BD_LSR_II_Mixed_Specimen_001_D6_D06.fcs": {
        "annexin_channel": "FITC-A", "pi_channel": "PE-TxRed YG-A",
    },
    "MiltenyiBiotec/FCS2.0/EY_2013-07-19_PBS_FCS_2.0_Custom_Without_Add_Well_A1.001.fcs": {
        "annexin_channel": "B1-A", "pi_channel": "Y2-A",
    },
    "MiltenyiBiotec/FCS3.0/FCS3.0_Custom_Compatible.fcs": {
        "annexin_channel": "B1-A", "pi_channel": "Y2-A",
    },
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs": {
        "annexin_channel": "B1-A", "pi_channel": "Y2-A",
    },
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Add_Well_A1.001.fcs": {
        "annexin_channel": "FL7-A", "pi_channel": "FL4-A",
    },
    "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Without_Add_Well_A1.001.fcs": {
        "annexin_channel": "FL7-A", "pi_channel": "FL4-A",
    },
    "MiltenyiBiotec/FCS3.1/SG_2014-09-26_Duplicate_Names.fcs": {
        "annexin_channel": "FL7-A", "pi_channel": "FL7-H",
    },
    "cyflow_cube_8/cyflow_cube_8.fcs": {
        "annexin_channel": "FL1", "pi_channel": "FL2", "fsc_area": "FSC", "singlet_gate": False,
        "ssc_area": "SSC", "min_events": 100,
    },
    "fake_bitmask_error/fcs1_cleaned.lmd": {
        "annexin_channel": "FL1 INT LOG", "pi_channel": "FL2 INT LOG",
        "fsc_area": "FS INT LIN", "singlet_gate": False, "ssc_area": "SS INT LIN",
    },
    "fake_large_fcs/fake_large_fcs.fcs": {
        "annexin_channel": "FITC-A", "pi_channel": "PE-Texas Red-A",
    },
    "corrupted/corrupted.fcs": {"annexin_channel": "FL1", "pi_channel": "FL2"},
    "cytek-nl-2000/sample_header.fcs": {"annexin_channel": "FL1", "pi_channel": "FL2"},
}  # fmt: skip
#: files the FCS reader refuses (a 10-byte file; a HEADER+TEXT without its DATA)
UNREADABLE = {"corrupted/corrupted.fcs", "cytek-nl-2000/sample_header.fcs"}
#: thresholds pinned so that every readable file goes through the whole gating path
FIXED = {"threshold_method": "fixed", "fixed_annexin_threshold": 1000.0,
         "fixed_pi_threshold": 1000.0}  # fmt: skip

#: error types that are clear, typed errors (assaykit.AssaykitError subclasses)
TYPED = {
    name
    for name in dir(assaykit)
    if isinstance(getattr(assaykit, name), type)
    and issubclass(getattr(assaykit, name), assaykit.AssaykitError)
} | {"CompensationError", "GateError", "TransformError"}


def _toml(params: dict[str, Any]) -> str:
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace('"', '\\"') + '"'
        return repr(v)

    body = "\n".join(f"{k} = {val(v)}" for k, v in params.items())
    return f'default_assay = "annexin_pi"\n\n[params.annexin_pi]\n{body}\n'


def test_the_list_covers_every_instrument_file(shared_data: Path) -> None:
    root = shared_data / "fcs-instruments"
    found = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in (".fcs", ".lmd")
    }
    assert found == set(FILES)


def _scale(x: np.ndarray, kw: dict[str, str], n: int, datatype: str) -> np.ndarray:
    """Channel to scale values by the FCS 3.1 rules, written out again here (independent
    of assaykit's ``channel_to_scale``): log amplifier ``10^(f1 x / R) f2``, integer gain."""
    f1, _, f2 = kw.get(f"$P{n}E", "0,0").partition(",")
    if float(f1 or 0) > 0:
        offset = float(f2 or 0) or 1.0  # f2 = 0 (FCS 2.0 habit) means 1
        return offset * 10 ** (float(f1) * x / float(kw[f"$P{n}R"]))
    gain = float(kw.get(f"$P{n}G", "0") or 0)
    return x / gain if datatype == "I" and gain != 0.0 else x


def _independent_quadrants(path: Path, a_name: str, p_name: str) -> list[dict[str, float]]:
    """Per data set: thresholds at the channels' medians and the four quadrant percentages,
    by plain numpy on the file's values (no assaykit gate, transform or cleanup code)."""
    from assaykit.cytometry.fcs import read_fcs_all

    out = []
    for d in read_fcs_all(path):
        chans = list(d.channels)
        cols = []
        for name in (a_name, p_name):
            k = chans.index(name) if chans.count(name) == 1 else (d.labels.index(name))
            cols.append(_scale(d.events[:, k].astype(np.float64), d.keywords, k + 1, d.datatype))
        a, p = cols
        ok = np.isfinite(a) & np.isfinite(p)
        a, p = a[ok], p[ok]
        ta, tp = float(np.median(a)), float(np.median(p))
        ap, pp = a >= ta, p >= tp
        pct = {
            "viable_pct": ~ap & ~pp, "early_apoptotic_pct": ap & ~pp,
            "late_apoptotic_pct": ap & pp, "necrotic_pct": ~ap & pp,
        }  # fmt: skip
        out.append({"ta": ta, "tp": tp, "n": float(a.size),
                    **{m: 100.0 * float(v.mean()) for m, v in pct.items()}})
    return out


READABLE = sorted(set(FILES) - UNREADABLE)
#: cleanup gates and compensation off, so that the parent population is every event
PLAIN = {"debris_gate": "none", "singlet_gate": False, "compensate": False,
         "threshold_method": "fixed"}  # fmt: skip


@pytest.mark.parametrize("rel", READABLE)
def test_real_file_quadrants_equal_an_independent_numpy_gate(
    rel: str, shared_data: Path, host: PluginHost
) -> None:
    """Each real file, thresholds at its channels' medians: the four percentages and the
    parent count equal those of a numpy gate on the same values, data set by data set."""
    src = shared_data / "fcs-instruments" / rel
    params = {**FILES[rel], **PLAIN}
    truth = _independent_quadrants(src, params["annexin_channel"], params["pi_channel"])
    for k, t in enumerate(truth):
        res = assaykit.analyze(
            "annexin_pi", [src],
            {**params, "fixed_annexin_threshold": t["ta"], "fixed_pi_threshold": t["tp"],
             "datasets": "all", "min_events": 1},
            figures=False, host=host,
        )  # fmt: skip
        ids = sorted({r.sample_id for r in res.records if r.metric == "viable_pct"},
                     key=lambda s: (len(s), s))
        assert len(ids) == len(truth), (rel, ids)
        got = {r.metric: r.value_num for r in res.records if r.sample_id == ids[k]}
        assert got["singlet_count"] == t["n"], rel
        for m in ("viable_pct", "early_apoptotic_pct", "late_apoptotic_pct", "necrotic_pct"):
            assert got[m] == pytest.approx(t[m], abs=1e-9), (rel, k, m)
    # the median split makes the quadrants informative (not all events in one), so a
    # wrong side of a threshold or a lost event changes a percentage
    assert any(t["viable_pct"] < 99.0 for t in truth), rel


@pytest.mark.parametrize("rel", sorted(UNREADABLE))
def test_unreadable_file_is_one_fcs_error_naming_it(
    rel: str, shared_data: Path, tmp_path: Path, host: PluginHost
) -> None:
    src = shared_data / "fcs-instruments" / rel
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    (folder / "assaykit.toml").write_text(_toml({**FILES[rel], **FIXED}), encoding="utf-8")
    result = assaykit.run(folder, tmp_path / "out", workers=0, host=host, report=False)
    assert result.exit_code == 1
    errors = [r.value_str or "" for r in result.records if r.metric == "error"]
    assert len(errors) == 1 and errors[0].startswith("FCSError") and src.name in errors[0]


#: Gating-ML 2.0 compliance set: Quadrant1 divides FL2-H at 12.14748 and FL4-H at 14.22417
QUADRANT1 = {"FL2N-FL4N": "viable_pct", "FL2P-FL4N": "early_apoptotic_pct",
             "FL2P-FL4P": "late_apoptotic_pct", "FL2N-FL4P": "necrotic_pct"}  # fmt: skip


def test_quadrants_equal_the_gating_ml_truth_event_for_event(
    shared_data: Path, host: PluginHost
) -> None:
    """data1.fcs (a real FACSCalibur file) with FL2-H as Annexin V and FL4-H as PI, the
    thresholds at Quadrant1's dividers: each percentage is the ISAC truth file's share."""
    g = shared_data / "gatingml2-set1"
    params = {"annexin_channel": "FL2-H", "pi_channel": "FL4-H", "fsc_area": "FSC-H",
              "ssc_area": "SSC-H", **PLAIN, "fixed_annexin_threshold": 12.14748,
              "fixed_pi_threshold": 14.22417}  # fmt: skip
    res = assaykit.analyze("annexin_pi", [g / "data1.fcs"], params, figures=False, host=host)
    got = {r.metric: r.value_num for r in res.records}
    assert got["singlet_count"] == 13_367
    for quadrant, metric in QUADRANT1.items():
        member = np.loadtxt(g / "truth" / f"Results_{quadrant}.txt")
        assert member.size == 13_367
        assert got[metric] == pytest.approx(100.0 * member.mean(), abs=1e-9), quadrant


def test_multi_data_set_file_gives_one_sample_per_data_set(
    shared_data: Path, tmp_path: Path, host: PluginHost
) -> None:
    src = shared_data / "fcs-instruments" / "GuavaMuse" / "Guava Muse.fcs"
    params = {**FILES["GuavaMuse/Guava Muse.fcs"], **FIXED}
    res = assaykit.analyze("annexin_pi", [src], params, figures=False, host=host)
    counts = {r.sample_id: r.value_num for r in res.records if r.metric == "event_count"}
    assert counts == {
        "Guava Muse": 108, "Guava Muse#2": 50081, "Guava Muse#3": 111496, "Guava Muse#4": 50037,
    }  # fmt: skip
    # every data set's records point at the one file
    assert {r.input_path for r in res.records if r.entity_type == "sample"} == {src.name}
    low = [f for f in res.qc_flags if f.flag == "low_event_count"]
    assert [f.sample_id for f in low] == ["Guava Muse"]  # 108 events < min_events


def test_whole_folder_through_the_cli_never_exits_3(shared_data: Path, tmp_path: Path) -> None:
    """Default parameters (channels from labels or FITC-A/PE-A), every file its own experiment."""
    folder = tmp_path / "in"
    shutil.copytree(shared_data / "fcs-instruments", folder)
    out = tmp_path / "out"
    env = {**os.environ, "ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "ASSAYKIT_PLUGINS": "annexin"}
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(folder), "--out", str(out),
         "--assay", "annexin_pi", "--no-figures", "--workers", "2"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    paths = {r["input_path"] for r in rows}
    assert {Path(rel).as_posix() for rel in FILES} <= paths
    for r in rows:
        if r["metric"] == "error":
            assert r["value_str"].split(":", 1)[0] in TYPED, r["value_str"]


@pytest.mark.parametrize(
    "rel",
    [
        "MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs",  # off-by-one offsets
        "FACSCaliburHTS/Sample_Well_A02.fcs",  # non-UTF-8 TEXT
        "fake_bitmask_error/fcs1_cleaned.lmd",  # bits above $PnR masked
    ],
)
def test_a_reader_repair_is_recorded_never_silent(
    rel: str, shared_data: Path, tmp_path: Path, host: PluginHost
) -> None:
    import json
    import sqlite3

    from assaykit.cytometry.fcs import read_fcs_all

    src = shared_data / "fcs-instruments" / rel
    warnings = [w for d in read_fcs_all(src) for w in d.warnings]
    assert warnings, "this file needs a repair"
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    (folder / "assaykit.toml").write_text(_toml({**FILES[rel], **FIXED}), encoding="utf-8")
    out = tmp_path / "out"
    result = assaykit.run(folder, out, workers=0, host=host)
    sample = [r for r in result.records if r.entity_type == "sample"]
    assert sample and all("fcs_repaired" in r.qc_flags for r in sample)
    assert all(r.qc_status in ("warn", "fail") for r in sample)
    # the reader's own words are kept: in the store, run.json and the report
    con = sqlite3.connect(out / "assaykit.sqlite")
    msgs = [m for (m,) in con.execute("SELECT message FROM qc_findings WHERE flag='fcs_repaired'")]
    con.close()
    assert msgs == ["; ".join(warnings)]
    run = json.loads((out / "run.json").read_text())
    found = [f for e in run["experiments"] for f in e["qc_findings"] if f["flag"] == "fcs_repaired"]
    assert found[0]["message"] == msgs[0] and found[0]["severity"] == "warn"
    assert warnings[0][:40] in (out / "report.html").read_text()
