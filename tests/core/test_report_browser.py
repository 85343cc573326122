"""The example folder's report, opened from disk in a real headless Chromium.

Debian's ``chromium`` driven through Playwright (the ``test`` extra; never
``playwright install``: the system browser is used). Skipped, with the reason,
only where the browser or Playwright is absent.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "fixtures" / "example-folder"
CHROMIUM = os.environ.get("ASSAYKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
RANK = {"pass": 0, "warn": 1, "fail": 2}

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install '.[test]')"
)
if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"no chromium at {CHROMIUM} (apt-get install chromium, or set ASSAYKIT_CHROMIUM)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-browser")
    proc = subprocess.run(
        [sys.executable, "-m", "assaykit.cli", "run", str(FOLDER), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def records(report: Path) -> list[dict[str, str]]:
    with (report / "results.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, report: Path) -> Iterator[tuple[Any, list[str]]]:
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    pg.goto((report / "report.html").as_uri())
    pg.wait_for_load_state("load")
    yield pg, errors
    pg.close()


def test_loads_without_errors_and_every_figure_loads(page: tuple[Any, list[str]]) -> None:
    pg, errors = page
    imgs = pg.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
    assert len(imgs) >= 30, "the example folder draws about 30 figures"
    assert [i for i in imgs if not (i[1] and i[2] > 0)] == []
    assert errors == []


def _value(rec: dict[str, str]) -> str:
    return rec["value_str"] if rec["value_num"] == "" else rec["value_num"]


def _same(shown: str, stored: str) -> bool:
    try:
        return math.isclose(float(shown), float(stored), rel_tol=1e-12, abs_tol=0)
    except ValueError:
        return shown == stored


def test_summary_tables_hold_the_records_values(
    page: tuple[Any, list[str]], records: list[dict[str, str]]
) -> None:
    pg, _ = page
    tables = pg.evaluate(
        """Array.from(document.querySelectorAll('table.summary')).map(t => ({
             assay: t.dataset.assay, et: t.dataset.entityType,
             rows: Array.from(t.tBodies[0].rows).map(r => ({
               exp: r.dataset.experiment, sample: r.dataset.sample, entity: r.dataset.entity,
               qc: r.querySelector('td.qc .badge').textContent,
               qcColor: getComputedStyle(r.querySelector('td.qc .badge')).backgroundColor,
               cells: Array.from(r.querySelectorAll('td[data-metric]')).map(c => ({
                 metric: c.dataset.metric, et: c.dataset.et, v: c.dataset.v || '',
                 text: c.textContent}))}))}))"""
    )
    assays = {r["assay"] for r in records} - {"profile"}  # the profile has its own section
    assert {t["assay"] for t in tables} == assays, "every assay has a summary table"
    colours: dict[str, set[str]] = {}
    for t in tables:
        shown: set[tuple[str, ...]] = set()
        own_metrics: set[str] = set()
        for row in t["rows"]:
            worst = "pass"
            for c in row["cells"]:
                same_exp = [
                    r
                    for r in records
                    if r["assay"] == t["assay"]
                    and r["experiment"] == row["exp"]
                    and r["entity_type"] == c["et"]
                    and r["metric"] == c["metric"]
                ]
                if c["et"] == t["et"]:
                    own_metrics.add(c["metric"])
                    match = [
                        r
                        for r in same_exp
                        if r["sample_id"] == row["sample"] and r["entity"] == row["entity"]
                    ]
                else:  # context: this sample's record, else the experiment's only one
                    match = [r for r in same_exp if r["sample_id"] == row["sample"]] or (
                        same_exp if len(same_exp) == 1 else []
                    )
                if not match:
                    assert c["v"] == "" and c["text"] == "", (t["assay"], row, c)
                    continue
                assert len(match) == 1, (t["assay"], row, c)
                rec = match[0]
                assert _same(c["v"], _value(rec)), (t["assay"], row, c, _value(rec))
                head = c["text"].split(" [")[0]
                if rec["value_num"] != "":  # the shown number rounds the stored one
                    assert math.isclose(float(head), float(rec["value_num"]), rel_tol=5e-4)
                else:
                    assert head == rec["value_str"]
                if c["et"] == t["et"]:
                    shown.add((row["exp"], row["sample"], row["entity"], c["metric"]))
                worst = max(worst, rec["qc_status"], key=RANK.__getitem__)
            assert row["qc"] == max(worst, row["qc"], key=RANK.__getitem__), (
                "the row's QC is at least as bad as any value it shows"
            )
            colours.setdefault(row["qc"], set()).add(row["qcColor"])
        # every record of a shown metric is in the table: none is left out
        expected = {
            (r["experiment"], r["sample_id"], r["entity"], r["metric"])
            for r in records
            if r["assay"] == t["assay"]
            and r["entity_type"] == t["et"]
            and r["metric"] in own_metrics
        }
        assert shown == expected, t["assay"]
    # QC as colour as well as text: each status has one colour, and they differ
    assert all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == len(colours) >= 2


def test_filter_box_filters_the_long_table(
    page: tuple[Any, list[str]], records: list[dict[str, str]]
) -> None:
    pg, _ = page
    long_rows = "#long-table tbody tr"
    assert not pg.locator(long_rows).first.is_visible(), "the long table starts collapsed"
    pg.locator("#records > summary").click()
    assert pg.locator(long_rows).count() == len(records)
    pg.fill("#filter", "viable_pct")
    want = sum(1 for r in records if r["metric"] == "viable_pct")
    visible = pg.evaluate(
        f"Array.from(document.querySelectorAll('{long_rows}')).filter(r => !r.hidden)"
        ".map(r => r.textContent)"
    )
    assert len(visible) == want > 0
    assert all("viable_pct" in v for v in visible)
    pg.fill("#filter", "tunel iso_5uM")
    want = sum(1 for r in records if r["assay"] == "tunel" and r["sample_id"] == "iso_5uM")
    # and the profile's record made from that tube (its input path names it)
    want += sum(1 for r in records if r["assay"] == "profile"
                and r["metric"].startswith("tunel.") and "iso_5uM" in r["input_path"])
    assert pg.locator(f"{long_rows}:not([hidden])").count() == want > 0
    pg.fill("#filter", "")
    assert pg.locator(f"{long_rows}:not([hidden])").count() == len(records)


def _column(pg: Any, table: str, header: str) -> list[str]:
    return pg.evaluate(
        """([table, header]) => {
             const t = document.querySelector(table);
             const ths = Array.from(t.tHead.rows[0].cells);
             const i = ths.findIndex(th => th.textContent.trim() === header);
             return Array.from(t.tBodies[0].rows).map(r => r.cells[i].dataset.v || '');
           }""",
        [table, header],
    )


def test_clicking_a_header_sorts(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    table = "table.summary[data-assay='annexin_pi']"
    before = [float(v) for v in _column(pg, table, "viable %")]
    assert before != sorted(before), "the example's sample order is not already sorted"
    pg.locator(f"{table} th", has_text="viable %").click()
    assert [float(v) for v in _column(pg, table, "viable %")] == sorted(before)
    pg.locator(f"{table} th", has_text="viable %").click()
    assert [float(v) for v in _column(pg, table, "viable %")] == sorted(before, reverse=True)
    pg.locator("#records > summary").click()
    pg.locator("#long-table th", has_text="value_num").click()
    nums = [float(v) for v in _column(pg, "#long-table", "value_num") if v]
    assert len(nums) > 100 and nums == sorted(nums)


_SMALL_TEXT = """() => {
  const small = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walk.nextNode())) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest('script, style')) continue;
    if (el.getClientRects().length === 0) continue;          // not rendered (closed <details>)
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none') continue;
    const px = parseFloat(cs.fontSize);
    if (px < 10) small.push([el.tagName, px, n.textContent.trim().slice(0, 40)]);
  }
  return small;
}"""


def test_no_visible_text_under_10_px(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    assert pg.evaluate(_SMALL_TEXT) == []
    # and with every <details> open: the long table and each figure's method
    pg.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    n_rendered = pg.evaluate(
        "Array.from(document.querySelectorAll('#long-table td')).filter("
        "td => td.getClientRects().length).length"
    )
    assert n_rendered > 1000
    assert pg.evaluate(_SMALL_TEXT) == []


def test_clicking_a_thumbnail_opens_the_figure_at_native_size(
    page: tuple[Any, list[str]],
) -> None:
    pg, errors = page
    fig = pg.locator("figure.thumb").nth(0)
    thumb = fig.evaluate(
        "f => { const i = f.querySelector('img'); "
        "return [i.getBoundingClientRect().width, i.naturalWidth]; }"
    )
    assert thumb[0] < thumb[1], "the grid shows a thumbnail smaller than the figure"
    fig.locator("a.open").click()
    state = fig.evaluate(
        """f => { const i = f.querySelector('img'), r = i.getBoundingClientRect();
                  return {target: f.matches(':target'), pos: getComputedStyle(f).position,
                          w: r.width, nat: i.naturalWidth, top: r.top, left: r.left,
                          close: f.querySelector('a.close').getClientRects().length > 0}; }"""
    )
    assert state["target"] and state["pos"] == "fixed" and state["close"]
    assert state["w"] == state["nat"], "the opened figure is shown at its native size"
    assert 0 <= state["top"] < 1000 and 0 <= state["left"] < 1400, "and in view"
    assert pg.evaluate(_SMALL_TEXT) == []
    pg.keyboard.press("Escape")
    assert not fig.evaluate("f => f.matches(':target')")
    assert fig.evaluate("f => getComputedStyle(f).position") != "fixed"
    assert errors == []


def test_resistance_profile_comes_first_and_holds_profile_csv(
    page: tuple[Any, list[str]], report: Path
) -> None:
    """The profile section is the first section, its figure is loaded and shown at (nearly)
    its own size, and its wide table shows every profile.csv value in its cell line's row
    and its column, with the value's QC status as colour class and text."""
    pg, errors = page
    first = pg.evaluate("document.querySelector('h2').textContent")
    assert first == "Resistance profile"
    img = pg.evaluate(
        "(() => { const i = document.querySelector('#resistance-profile img'); "
        "return [i.complete, i.naturalWidth, i.getBoundingClientRect().width]; })()"
    )
    assert img[0] and img[1] > 0
    assert img[2] >= 0.85 * img[1], "the profile figure is not shrunk below readable size"
    table = pg.evaluate(
        """(() => { const t = document.querySelector('#profile-table');
             const heads = Array.from(t.tHead.rows[0].cells).map(c => c.textContent);
             return {heads, rows: Array.from(t.tBodies[0].rows).map(r =>
               Array.from(r.cells).map(c => ({text: c.textContent, cls: c.className,
                                               v: c.dataset.v || ''})))}; })()"""
    )
    heads = table["heads"]  # measure, assay, then one column per cell line
    assert heads[:2] == ["measure", "assay"]
    by_measure = {r[0]["text"]: r for r in table["rows"]}
    with (report / "profile.csv").open(newline="", encoding="utf-8") as fh:
        prof = list(csv.DictReader(fh))
    assert len(prof) > 20
    for p in prof:
        cell = by_measure[p["label"]][heads.index(p["cell_line"])]
        if p["value_num"]:
            assert math.isclose(float(cell["v"]), float(p["value_num"]), rel_tol=1e-12)
            assert math.isclose(float(cell["text"].split()[0]), float(p["value_num"]),
                                rel_tol=5e-3)
        else:
            assert cell["text"].startswith(p["value_str"] or "no value")
        assert cell["cls"] == f"qc-{p['qc_status']}"
        if p["qc_status"] != "pass":
            assert f"({p['qc_status']})" in cell["text"]
    assert errors == []
