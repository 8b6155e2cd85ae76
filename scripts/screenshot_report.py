"""Render the HTML report of `sample_logs/` and screenshot it into `docs/report.png`.

Run from anywhere: `python scripts/screenshot_report.py`. Needs headless Chromium
(Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lrdoctor.audit import audit
from lrdoctor.discovery import read_runs
from lrdoctor.plots import sketch_runs
from lrdoctor.reporters.html import render_html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from chromium import CHROMIUM, QUIET_FLAGS  # noqa: E402 - the browser exactly as tests start it

WINDOW = "1280,900"


def screenshot(page: Path, png: Path) -> None:
    """A headless Chromium screenshot of `page`, after its scripts ran, with no network."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                *QUIET_FLAGS,
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                f"--window-size={WINDOW}",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> int:
    if not CHROMIUM.exists():
        print(f"headless Chromium not found at {CHROMIUM}", file=sys.stderr)
        return 2
    # Relative paths keep this machine's folders out of the report.
    os.chdir(ROOT)
    samples = [Path("sample_logs")]
    result = audit(samples)
    html = render_html(result, sketch_runs(result.diagnoses, read_runs(samples).runs))
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
