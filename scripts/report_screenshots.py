"""Screenshots of a report.html as a biologist sees it, for looking at (not a test).

    python scripts/report_screenshots.py out/report.html shots/ [SELECTOR]

SELECTOR picks the thumbnail to open (default the first), for example
'figure.thumb:has-text("Western blot")'.

Writes 1_top.png (resistance profile), 2_summary.png, 3_figures.png (the
thumbnail grid), 4_opened.png (the first thumbnail matching the selector,
opened) and 5_filtered.png (the long table filtered). Uses Debian's
chromium through Playwright (the test extra), as tests/core/test_report_browser.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    from playwright.sync_api import sync_playwright

    report = Path(argv[0]).resolve()
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    selector = argv[2] if len(argv) > 2 else "figure.thumb"
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(out / "1_top.png"))
        for name, anchor in (("2_summary.png", "#summary"), ("3_figures.png", "#figures")):
            page.evaluate(f"document.querySelector('{anchor}').scrollIntoView()")
            page.screenshot(path=str(out / name))
        if page.locator(selector).count() == 0:
            print(f"no thumbnail matches {selector!r} (try 'figure.thumb:has-text(\"MSP gel\")')")
            browser.close()
            return 2
        fig = page.locator(selector).first
        fig.scroll_into_view_if_needed()
        fig.locator("a.open").click()
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "4_opened.png"))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.locator("#records > summary").click()
        page.fill("#filter", "annexin viable_pct")
        page.wait_for_timeout(300)
        page.evaluate("document.querySelector('#all-records').scrollIntoView()")
        page.screenshot(path=str(out / "5_filtered.png"))
        print(f"page height {page.evaluate('document.body.scrollHeight')} px; "
              f"console errors: {errors or 'none'}; screenshots in {out}")
        browser.close()
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
