"""Render the HTML report of `sample_logs/` and screenshot it into `docs/report.png`.

Run from anywhere: `python scripts/screenshot_report.py`. Needs headless Chromium (Debian:
`apt-get install chromium`) and Playwright (a test extra): the picture shows the index with
a few runs selected and overlaid, as a person would use the page.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from lrdoctor.audit import audit
from lrdoctor.reporters.curves import collect_curves
from lrdoctor.reporters.html import render_html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from chromium import CHROMIUM, QUIET_FLAGS  # noqa: E402 - the browser exactly as tests start it

WINDOW = {"width": 1280, "height": 900}
OVERLAID = "sweeps/dev/blobs-mlp-adam/lr_"
"""The runs overlaid in the picture: an LR sweep of one model."""


def screenshot(page: Path, png: Path) -> None:
    """A screenshot of `page` with the runs named by `OVERLAID` selected and overlaid."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(QUIET_FLAGS))
        tab = browser.new_page(viewport=WINDOW)
        tab.goto(page.as_uri())
        tab.wait_for_function("() => document.body.dataset.curvesReady === '1'")
        tab.fill("#filter-text", OVERLAID)
        picks = tab.locator("#index tbody tr.run:not([hidden]) input.pick")
        for index in range(min(picks.count(), 8)):
            picks.nth(index).check()
        tab.fill("#filter-text", "")
        tab.click("#overlay-button")
        tab.evaluate("() => window.scrollTo(0, 0)")
        tab.screenshot(path=str(png))
        browser.close()


def main() -> int:
    if not CHROMIUM.exists():
        print(f"headless Chromium not found at {CHROMIUM}", file=sys.stderr)
        return 2
    # Relative paths keep this machine's folders out of the report.
    os.chdir(ROOT)
    result = audit([Path("sample_logs")], jobs=os.cpu_count() or 1, collect=collect_curves)
    html = render_html(result, result.collected, result.catalogue)
    out = ROOT / "docs" / "report.png"
    out.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        screenshot(page, out)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
