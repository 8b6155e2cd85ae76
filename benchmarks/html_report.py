"""The interactive HTML report against its budget (issue 11, point 3), a script, not a test:
`sample_logs` under 6 MB and 30 s; about 2,000 runs under 40 MB, opening in Chromium in under
5 s. For each audit it prints the report's size, the wall time and peak memory of
`lrdoctor audit --format html` beside the text audit of the same runs, where the bytes are
(each packed block, base64, and the rest of the page), and what headless Chromium
(Playwright) takes to open it: the load event, the index and sections unpacked and in place,
the curves unpacked, and the first chart drawn when the page is opened at a run
(`report.html#run-0`). The sample_logs report also holds a CSV named
`evil<img src=x onerror=alert(2)>.csv`, and is checked against the issue's acceptance: the
smoothing slider and the overlay work, hyper-parameters are shown, the name stays text (no
<img>, no onerror attribute, no dialog) and nothing loads from the network.

    python benchmarks/html_report.py [--runs 2000] [--skip-text]

The 2,000 runs are `sample_logs` given twice and then its first dev folders once more, each
under its own name (copies made of hard links in a temporary folder, as discovery does not
walk a folder twice through symbolic links), so every run is read again.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from _measure import load_line, lrdoctor_command, measure

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"
sys.path.insert(0, str(ROOT / "tests"))
from chromium import CHROMIUM, QUIET_FLAGS  # noqa: E402 - the browser as the tests start it

MIB = 1024 * 1024
HOSTILE = "evil<img src=x onerror=alert(2)>.csv"
"""The issue's hostile file name, given to a copy of a sample CSV beside sample_logs."""


def many_runs(folder: Path, runs: int) -> list[str]:
    """Copies in `folder` of sample_logs, then of its dev folders, until `runs` runs or just
    over; their paths relative to `folder`."""
    from lrdoctor.discovery import read_runs

    labels = json.loads((SAMPLES / "labels.json").read_text())["runs"]
    per_copy = len(read_runs([SAMPLES]).runs)
    paths, total, copy = [], 0, 0
    while total + per_copy <= runs:
        copy += 1
        _copy(SAMPLES, folder / f"copy-{copy}")
        paths.append(f"copy-{copy}")
        total += per_copy
    copy += 1
    rest = folder / f"copy-{copy}"
    rest.mkdir()
    for sub in sorted((SAMPLES / "dev").iterdir()):
        if total >= runs:
            break
        count = sum(1 for name in labels if name.startswith(f"dev/{sub.name}/"))
        if sub.is_dir() and count:
            _copy(sub, rest / sub.name)
            paths.append(f"copy-{copy}/{sub.name}")
            total += count
    return paths


def _copy(source: Path, target: Path) -> None:
    """A copy of a folder whose files are hard links (a plain copy across file systems)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)


def open_times(page: Path) -> dict[str, float]:
    """Milliseconds from navigation to: the load event, the curves unpacked, and (opened at
    its first run) that run's charts drawn."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(QUIET_FLAGS))
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.goto(page.as_uri(), timeout=120_000)
        tab.wait_for_function("() => document.body.dataset.curvesReady === '1'", timeout=120_000)
        times = tab.evaluate(
            "() => ({load: performance.getEntriesByType('navigation')[0].loadEventEnd,"
            " runs: Number(document.body.dataset.runsReadyMs), curves: performance.now()})"
        )
        fresh = browser.new_page(viewport={"width": 1280, "height": 900})
        fresh.goto(page.as_uri() + "#run-0", timeout=120_000)
        fresh.wait_for_function("() => document.body.dataset.chartsDrawn > 0", timeout=120_000)
        times["first_chart"] = float(fresh.evaluate("() => document.body.dataset.firstChartMs"))
        browser.close()
    return times


def acceptance(page: Path) -> str:
    """The issue's acceptance checks in Chromium: the smoothing slider changes a drawn curve,
    two selected runs overlay, every run has a hyper-parameter cell, the hostile name is
    text, and the page requests nothing but itself and opens no dialog."""
    from playwright.sync_api import sync_playwright

    requests, dialogs = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(QUIET_FLAGS))
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.on("request", lambda request: requests.append(request.url))
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        tab.goto(page.as_uri() + "#run-0", timeout=120_000)
        tab.wait_for_function("() => lrdoctorReport.charts[0] !== undefined", timeout=120_000)
        at_run = tab.evaluate("() => document.getElementById('run-0').getBoundingClientRect().top")
        read = "() => JSON.stringify(lrdoctorReport.charts[0][0].u.data[2])"
        before = tab.evaluate(read)
        tab.eval_on_selector(
            "#smoothing", "e => { e.value = '0.95'; e.dispatchEvent(new Event('input')); }"
        )
        slider = tab.evaluate(read) != before
        picks = tab.locator("#index tbody tr.run input.pick")
        picks.nth(0).check()
        picks.nth(1).check()
        tab.click("#overlay-button")
        overlaid = tab.evaluate(
            "() => lrdoctorReport.overlay.u.data.slice(1)"
            ".filter(ys => ys.some(v => v != null)).length"
        )
        params = tab.locator("#index tbody tr.run td.params").count()
        rows = tab.locator("#index tbody tr.run").count()
        hostile = tab.locator("#index td.name", has_text=HOSTILE).count()
        live = tab.locator("img").count() + tab.locator("[onerror]").count()
        browser.close()
    others = [url for url in requests if not url.startswith("file:")]
    return (
        f"slider changes the curve: {slider}; overlay draws {overlaid} of 2 runs; "
        f"hyper-parameter cells {params} of {rows} rows; hostile name shown as text "
        f"{hostile} time(s), {live} live img/onerror elements, {len(dialogs)} dialogs; "
        f"opened at #run-0, its section's top at y={at_run:.0f} px of the window; "
        f"requests {len(requests)} "
        f"({len(others)} not the page's own file)"
    )


def where_the_bytes_are(html: str) -> str:
    """Each packed block's size in the page (base64) and what it unpacks to, and the rest."""
    parts, rest = [], len(html.encode("utf-8"))
    for name in ("data", "index", "runs", "curves"):
        found = re.search(
            rf'<script type="application/gzip-base64" id="lrdoctor-{name}">(.*?)</script>',
            html,
            re.S,
        )
        if found is None:
            continue
        block = found.group(1)
        unpacked = len(gzip.decompress(base64.b64decode(block)))
        parts.append(f"{name} {len(block) / 1e6:.2f} MB ({unpacked / 1e6:.2f} unpacked)")
        rest -= len(block)
    return ", ".join(parts) + f", the rest {rest / 1e6:.2f} MB"


def audit_figures(label: str, paths: list[str], out: Path, text: bool, check: bool = False) -> None:
    html = measure(lrdoctor_command("audit", *paths, "--format", "html", "-o", str(out)))
    runs = re.search(r"<title>lrdoctor audit: (\d+) runs</title>", out.read_text()).group(1)
    print(f"{label}: {runs} runs")
    size = out.stat().st_size
    print(f"  html report   {size / 1e6:6.2f} MB ({size / MIB:.2f} MiB)")
    print(f"  bytes         {where_the_bytes_are(out.read_text(encoding='utf-8'))}")
    print(
        f"  html audit    {html.seconds:6.1f} s wall {html.cpu_seconds:6.1f} s CPU"
        f"  peak RSS {html.peak_mib:5.0f} MiB"
    )
    if text:
        plain = measure(lrdoctor_command("audit", *paths))
        print(
            f"  text audit    {plain.seconds:6.1f} s wall {plain.cpu_seconds:6.1f} s CPU"
            f"  peak RSS {plain.peak_mib:5.0f} MiB"
        )
    times = open_times(out)
    print(
        f"  Chromium      load event {times['load'] / 1000:5.2f} s, index and runs in place "
        f"{times['runs'] / 1000:5.2f} s, curves unpacked "
        f"{times['curves'] / 1000:5.2f} s; opened at a run: first chart "
        f"{times['first_chart'] / 1000:5.2f} s"
    )
    if check:
        print(f"  acceptance    {acceptance(out)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--skip-text", action="store_true", help="no text audit to compare")
    arguments = parser.parse_args()
    print(f"before: {load_line()}")
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # relative paths: the report names no machine folder
        (Path(folder) / "sample_logs").symlink_to(SAMPLES)
        hostile = Path(folder) / "hostile"
        hostile.mkdir()
        shutil.copyfile(next((SAMPLES / "dev" / "plain_csv").glob("*.csv")), hostile / HOSTILE)
        audit_figures(
            "sample_logs and a hostile name",
            ["sample_logs", "hostile"],
            Path(folder) / "samples.html",
            not arguments.skip_text,
            check=True,
        )
        paths = many_runs(Path(folder), arguments.runs)
        audit_figures(
            f"about {arguments.runs} runs ({', '.join(paths)})",
            paths,
            Path(folder) / "many.html",
            not arguments.skip_text,
        )
    print(f"after:  {load_line()}")


if __name__ == "__main__":
    main()
