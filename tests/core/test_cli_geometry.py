"""``assaykit geometry``: the geometry the imaging layer finds, checked against known truth.

Truth comes from outside the code under test: the seeded synthetic blot generator's
labels (lane centres, strip rows, band rows, its own rotation matrix) and the shared
data's README (``ladder_reference_gel.tif`` has exactly 4 lanes, bright on dark).
"""

from __future__ import annotations

import ast
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import tifffile
from assaykit.cli import cli as cli_group
from assaykit.imaging.synthetic import make_blot, make_gel
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process (what a user runs; tracebacks would show here)."""
    return subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "geometry", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=os.environ.copy(),
    )


def geometry_json(*args: str) -> dict[str, Any]:
    """In-process run (fast) of ``assaykit geometry ... --json``."""
    r = CliRunner().invoke(cli_group, ["geometry", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def write_blot(path: Path, **kw: Any) -> dict[str, Any]:
    blot = make_blot(**kw)
    tifffile.imwrite(path, blot.image)
    return blot.truth


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header (independent of matplotlib)."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert blob[12:16] == b"IHDR"
    w, h = struct.unpack(">II", blob[16:24])
    assert cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED) is not None
    return int(w), int(h)


def forward(truth: dict[str, Any]) -> np.ndarray:
    """The generator's straight -> file transform (its own definition, see make_blot)."""
    h, w = truth["shape"]
    return np.asarray(cv2.getRotationMatrix2D((w / 2.0, h / 2.0), truth["rotation_deg"], 1.0))


def to_file(m: np.ndarray, x: float, y: float) -> tuple[float, float]:
    v = m @ np.array([x, y, 1.0])
    return float(v[0]), float(v[1])


# --------------------------------------------------------------------------------------
# synthetic blots with known truth
# --------------------------------------------------------------------------------------


def test_one_strip_blot_lanes_strips_and_bands_match_truth(tmp_path: Path) -> None:
    truth = write_blot(tmp_path / "blot.tif", seed=1, n_lanes=6)
    d = geometry_json(str(tmp_path / "blot.tif"))
    assert d["polarity"] == truth["polarity"] == "light_bands_on_dark"
    assert d["bit_depth"] == 16 and d["lossy"] is False
    assert len(d["strips"]) == 1
    (s,) = d["strips"]
    (t0, t1) = truth["strips"][0]
    assert abs(s["rows"][0] - t0) <= 3 and abs(s["rows"][1] - t1) <= 3
    quarter = 0.25 * truth["lane_pitch"]
    assert len(s["lanes"]) == len(truth["lanes"]) == 6
    for got, want in zip(s["lanes"], truth["lanes"]):
        assert abs(got["center"] - want["center"]) < quarter, (got, want)
        assert got["left"] < want["center"] < got["right"]
        # no rotation: both frames agree
        assert got["center_in_file"] == pytest.approx(got["center"], abs=0.01)
    # every true band is boxed in its own lane, at its own row
    for band in truth["bands"]:
        boxes = [b["box"] for b in s["lanes"][band["lane"]]["bands"]]
        assert any(top <= band["row"] < bottom for _, top, _, bottom in boxes), (band, boxes)
    assert sum(len(lane["bands"]) for lane in s["lanes"]) == len(truth["bands"])


@pytest.mark.parametrize("invert", [False, True])
def test_gel_well_row_is_found_and_never_a_band(tmp_path: Path, invert: bool) -> None:
    """--gel: the glowing well row the generator drew is found, and no band is boxed there."""
    gel = make_gel(
        5, n_lanes=6, samples={1: [(300.0, 20000.0)], 3: [(500.0, 15000.0)]}, wells=True,
        invert=invert,
    )  # fmt: skip
    tifffile.imwrite(tmp_path / "gel.tif", gel.image)
    top, bottom = gel.truth["wells"]
    glow_end = gel.truth["well_glow_rows"][1]
    with_gel = geometry_json(str(tmp_path / "gel.tif"), "--lanes", "6", "--gel")
    (s,) = with_gel["strips"]
    hole = s["well_row"]["hole"]
    assert abs(hole[0] - top) <= 3 and abs(hole[1] - bottom) <= 3, (hole, top, bottom)
    boxes = [(lane["number"], b["box"]) for lane in s["lanes"] for b in lane["bands"]]
    assert [(n, box) for n, box in boxes if box[1] < glow_end] == []
    # the empty lanes hold nothing; the loaded lanes hold their bands (lane 1: the ladder)
    per_lane = {lane["number"]: len(lane["bands"]) for lane in s["lanes"]}
    assert per_lane[3] == per_lane[5] == per_lane[6] == 0
    assert per_lane[2] >= 1 and per_lane[4] >= 1
    # without --gel the same glow is boxed as a band in every lane: the option matters
    plain = geometry_json(str(tmp_path / "gel.tif"), "--lanes", "6")
    (p,) = plain["strips"]
    assert p["well_row"] is None
    in_wells = {
        lane["number"] for lane in p["lanes"] for b in lane["bands"] if b["box"][1] < glow_end
    }
    assert len(in_wells) >= 5


def test_gel_without_a_lane_count_takes_its_lanes_from_the_comb(tmp_path: Path) -> None:
    """--gel, no --lanes: the empty lanes at the gel's right edge are placed from their wells."""
    gel = make_gel(
        8, n_lanes=7, samples={1: [(300.0, 20000.0)], 2: [(500.0, 15000.0)]}, wells=True
    )  # lanes 4-7 (1-based) are empty: only their wells show them
    tifffile.imwrite(tmp_path / "gel.tif", gel.image)
    quarter = 0.25 * gel.truth["lane_pitch"]
    (s,) = geometry_json(str(tmp_path / "gel.tif"), "--gel")["strips"]
    assert len(s["lanes"]) == 7
    for got, want in zip(s["lanes"], gel.truth["lanes"]):
        assert abs(got["center"] - want["center"]) < quarter, (got["center"], want["center"])
    # without the comb only the lanes with signal are seen
    (plain,) = geometry_json(str(tmp_path / "gel.tif"))["strips"]
    assert len(plain["lanes"]) < 7


def test_two_strip_rotated_blot_in_both_frames(tmp_path: Path) -> None:
    truth = write_blot(
        tmp_path / "two.tif", seed=5, n_strips=2, n_lanes=7, rotation_deg=-3.0, height=800,
        width=800,
    )  # fmt: skip
    d = geometry_json(str(tmp_path / "two.tif"))
    assert len(d["strips"]) == 2
    m = forward(truth)
    quarter = 0.25 * truth["lane_pitch"]
    # straightening undoes the generator's rotation
    assert d["rotation_deg"] == pytest.approx(-truth["rotation_deg"], abs=0.2)
    for s, (t0, t1) in zip(d["strips"], truth["strips"]):
        assert abs(s["rows"][0] - t0) <= 5 and abs(s["rows"][1] - t1) <= 5, (s["rows"], t0, t1)
        # the strip's corners, mapped by the generator's own matrix, span these file rows
        ys = [to_file(m, x, y)[1] for x in (0, truth["shape"][1]) for y in (t0, t1)]
        want_rows = [max(0.0, min(ys)), min(float(truth["shape"][0]), max(ys))]
        assert s["rows_in_file"] == pytest.approx(want_rows, abs=6)
        mid = 0.5 * (t0 + t1)
        assert len(s["lanes"]) == 7
        for got, want in zip(s["lanes"], truth["lanes"]):
            assert abs(got["center"] - want["center"]) < quarter
            # file frame: where the generator drew the lane centre at the strip's middle row
            # (the rotation moves it by ~10 px here, so this checks the mapping's sign)
            x_file, _ = to_file(m, want["center"], mid)
            assert abs(got["center_in_file"] - x_file) < 3.0, (got["center_in_file"], x_file)
            assert abs(got["center_in_file"] - got["center"]) > 5.0
    # bands: each true band's centre, mapped into the file, falls inside a reported file box
    for band in truth["bands"]:
        lane = d["strips"][band["strip"]]["lanes"][band["lane"]]
        x, y = to_file(m, truth["lanes"][band["lane"]]["center"], band["row"])
        assert any(
            b["box_in_file"][0] <= x <= b["box_in_file"][2]
            and b["box_in_file"][1] <= y <= b["box_in_file"][3]
            for b in lane["bands"]
        ), (band, [b["box_in_file"] for b in lane["bands"]])


def test_dark_bands_on_light_and_lane_options(tmp_path: Path) -> None:
    truth = write_blot(tmp_path / "inv.tif", seed=4, n_lanes=5, invert=True)
    d = geometry_json(str(tmp_path / "inv.tif"))
    assert d["polarity"] == "dark_bands_on_light" and d["polarity_rule"].startswith("auto")
    d = geometry_json(str(tmp_path / "inv.tif"), "--polarity", "dark_bands_on_light")
    assert d["polarity_rule"] == "given by caller"
    centres = [lane["center"] for lane in d["strips"][0]["lanes"]]
    assert len(centres) == 5
    assert np.allclose(centres, [t["center"] for t in truth["lanes"]], atol=0.25 * 107)
    # per-strip lane counts, as a comma list or a repeated option
    write_blot(tmp_path / "two.tif", seed=2, n_strips=2, n_lanes=8, height=600, width=800)
    d = geometry_json(str(tmp_path / "two.tif"), "--lanes", "8,auto")
    assert [s["expected_lanes"] for s in d["strips"]] == [8, None]
    d = geometry_json(str(tmp_path / "two.tif"), "--lanes", "8", "--lanes", "8", "--strips", "2")
    assert [s["expected_lanes"] for s in d["strips"]] == [8, 8]
    assert [len(s["lanes"]) for s in d["strips"]] == [8, 8]


# --------------------------------------------------------------------------------------
# a real gel, the schema and the figure
# --------------------------------------------------------------------------------------

TOP_KEYS = {
    "schema", "file", "shape", "polarity", "polarity_rule", "bit_depth", "significant_bits",
    "lossy", "source_format", "saturated_fraction", "rotation_deg", "strips", "findings",
    "notes", "methods",
}  # fmt: skip
STRIP_KEYS = {
    "number", "rows", "well_row", "rows_in_file", "outline_in_file", "rotation_deg", "pivot",
    "source",
    "lane_method", "lane_pitch", "detected_lanes", "expected_lanes", "lanes",
}  # fmt: skip
LANE_KEYS = {
    "number", "center", "left", "right", "width", "center_in_file", "left_in_file",
    "right_in_file", "outline_in_file", "bands",
}  # fmt: skip
BAND_KEYS = {
    "box", "box_in_file", "outline_in_file", "row", "row_in_file", "snr", "volume", "saturated",
}  # fmt: skip


def test_real_gel_has_four_lanes_and_a_stable_schema(shared_data: Path, tmp_path: Path) -> None:
    gel = shared_data / "gels-gelgenie" / "ladder_reference_gel.tif"
    r = run_cli(str(gel), "--json", "--out", str(tmp_path / "fig.png"))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) == TOP_KEYS
    assert d["schema"] == "assaykit.geometry/1"
    assert d["file"] == str(gel) and d["shape"] == [1024, 1360]
    assert d["polarity"] == "light_bands_on_dark"  # the data README: bright bands on dark
    assert d["bit_depth"] == 8 and d["source_format"] == "tiff"
    assert set(d["methods"]) >= {"background", "lanes", "bands", "preparation_version"}
    lanes = [lane for s in d["strips"] for lane in s["lanes"]]
    assert len(lanes) == 4  # the data README: exactly four lanes
    for s in d["strips"]:
        assert set(s) == STRIP_KEYS
        assert len(s["outline_in_file"]) == 4 and s["source"] in ("auto", "given")
        for lane in s["lanes"]:
            assert set(lane) == LANE_KEYS
            assert lane["left"] < lane["center"] < lane["right"]
            assert lane["bands"], "every ladder lane holds bands"
            for b in lane["bands"]:
                assert set(b) == BAND_KEYS
                left, top, right, bottom = b["box"]
                assert left < right and top < bottom and b["snr"] > 0
    for f in d["findings"]:
        assert set(f) == {"flag", "severity", "message"}
    w, h = png_size(tmp_path / "fig.png")
    assert 900 <= w <= 2600 and 700 <= h <= 2600
    assert (tmp_path / "fig.png").stat().st_size > 50_000  # a photograph, not an empty canvas


def test_summary_and_default_figure_name(shared_data: Path, tmp_path: Path) -> None:
    gel = shared_data / "gels-other" / "gelquant_sds_page.png"
    r = run_cli(str(gel), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fig = tmp_path / "gelquant_sds_page.geometry.png"
    assert f"figure: {fig.name}" in r.stdout
    assert "polarity: dark_bands_on_light" in r.stdout  # Coomassie: dark bands on light
    assert "strip 1:" in r.stdout and "findings:" in r.stdout
    w, h = png_size(fig)
    assert h > w  # the scan is portrait (601x974); the figure keeps its orientation
    # --json alone writes no figure
    fig.unlink()
    r = run_cli(str(gel), "--json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["shape"] == [974, 601]
    assert not fig.exists()


# --------------------------------------------------------------------------------------
# bad input: exit 2, the file named, never a traceback
# --------------------------------------------------------------------------------------


def test_bad_input_exits_2_naming_the_file(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.tif").write_text("not an image\n")
    jpg = (shared_data / "gels-gelgenie-labelled" / "Pair_12_Wk9_GelRed.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpg[: len(jpg) // 3])
    tifffile.imwrite(tmp_path / "tiny.tif", np.zeros((8, 8), np.uint16))
    tifffile.imwrite(tmp_path / "flat.tif", np.full((120, 160), 500, np.uint16))
    ok = tmp_path / "ok.tif"
    write_blot(ok, seed=1)
    cases = [
        ([str(tmp_path / "missing.tif")], "missing.tif", "not found"),
        ([str(tmp_path / "notes.tif")], "notes.tif", "not TIFF, PNG or JPEG"),
        ([str(tmp_path / "cut.jpg")], "cut.jpg", "truncated"),
        ([str(tmp_path / "tiny.tif")], "tiny.tif", "at least 32x32"),
        ([str(tmp_path / "flat.tif")], "flat.tif", "no lanes found"),
        ([str(ok), "--lanes", "0"], "--lanes", "lane count >= 1"),
        ([str(ok), "--out", str(tmp_path / "no" / "dir" / "f.png")], "f.png", "cannot write"),
    ]
    for args, named, expected in cases:
        r = run_cli(*args)
        out = r.stdout + r.stderr
        assert r.returncode == 2, (args, out)
        assert named in r.stderr and expected in r.stderr, (args, r.stderr)
        assert "Traceback" not in out, out
        errors = [ln for ln in r.stderr.splitlines() if ln.lower().startswith("error")]
        assert len(errors) == 1 and expected in errors[0], r.stderr  # one line says it all


def test_overview_module_imports_no_host_module() -> None:
    """The science layer must not reach up into the host (DESIGN: direction of dependencies)."""
    src = (REPO / "core" / "assaykit" / "imaging" / "overview.py").read_text(encoding="utf-8")
    host = {"batch", "store", "sheet", "cli", "api", "report", "plugins", "exporters", "progress"}
    for node in ast.walk(ast.parse(src)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            assert not (parts[0] == "assaykit" and len(parts) > 1 and parts[1] in host), name
