"""The HTML report's index really sorts and filters when a person clicks and types
(Playwright driving Debian's headless Chromium)."""

from pathlib import Path

import pytest
from chromium import CHROMIUM, QUIET_FLAGS
from click.testing import CliRunner

from lrdoctor.cli import EXIT_OK, main

# Five runs a Keras TensorBoard callback wrote, three verdicts among them.
KERAS = Path(__file__).resolve().parents[1] / "sample_logs" / "dev" / "keras_tensorboard"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test extra")
    report = tmp_path_factory.mktemp("report") / "report.html"
    result = CliRunner().invoke(
        main,
        ["audit", str(KERAS), "--format", "html", "-o", str(report)],
        catch_exceptions=False,
    )
    assert result.exit_code == EXIT_OK
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=list(QUIET_FLAGS),
        )
        tab = browser.new_page()
        tab.goto(report.as_uri())
        yield tab
        browser.close()


def column(page, index: int) -> list[str]:
    return page.locator("#index tbody tr:not([hidden])").evaluate_all(
        f"rows => rows.map(r => r.cells[{index}].textContent.trim())"
    )


def test_sorting_by_clicking_the_headers(page):
    page.click("th[data-sort=name]")
    names = column(page, 0)
    assert names == sorted(names, key=str.lower) and len(names) > 3
    page.click("th[data-sort=name]")
    assert column(page, 0) == sorted(names, key=str.lower, reverse=True)
    page.click("th[data-sort=confidence]")
    confidences = [float(c) for c in column(page, 3)]
    assert confidences == sorted(confidences, reverse=True)


def test_filtering_by_text_and_by_verdict(page):
    everything = column(page, 2)
    page.select_option("#filter-verdict", "healthy")
    assert set(column(page, 2)) == {"healthy"}
    assert len(column(page, 2)) == everything.count("healthy")
    page.select_option("#filter-verdict", "")
    page.fill("#filter-text", "transformer")
    shown = column(page, 0)
    assert 0 < len(shown) < len(everything) and all("transformer" in name for name in shown)
    page.fill("#filter-text", "no run has this name")
    assert column(page, 0) == []
    page.fill("#filter-text", "")
    assert len(column(page, 0)) == len(everything)


def test_a_row_links_to_its_section(page):
    first = page.locator("#index tbody tr:not([hidden]) a").first
    target = first.get_attribute("href")
    first.click()
    assert page.evaluate("location.hash") == target
    assert page.locator(f"section{target} img").count() == 1
