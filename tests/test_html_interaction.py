"""The HTML report as a person uses it (Playwright driving Debian's headless Chromium): the
index sorts, filters, groups and selects; the charts draw, smooth, switch scale and overlay
runs; nothing loads from the network and a hostile file name stays text."""

import math
import shutil
from pathlib import Path

import pytest
from chromium import CHROMIUM, QUIET_FLAGS
from click.testing import CliRunner
from sample_runs import firing_run, run_path

from lrdoctor.cli import EXIT_FINDINGS, EXIT_OK, main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
# Six runs a Keras TensorBoard callback wrote, several verdicts among them.
KERAS = SAMPLES / "dev" / "keras_tensorboard"
# An LR sweep of one model with Adam (seven LRs), and one run of it with SGD.
SWEEP = SAMPLES / "sweeps" / "dev" / "blobs-mlp-adam"
# The hostile name, on a plain CSV whose loss turns NaN (an event finding to mark).
EVIL = "evil<img src=x onerror=alert(2)>.csv"


@pytest.fixture(scope="module")
def browser_log():
    """Every request the page made and every dialog it opened."""
    return {"requests": [], "dialogs": [], "errors": []}


@pytest.fixture(scope="module")
def page(tmp_path_factory, browser_log):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test extra")
    folder = tmp_path_factory.mktemp("report")
    hostile = folder / "hostile"
    hostile.mkdir()
    shutil.copyfile(run_path(firing_run("LRD101")), hostile / EVIL)
    report = folder / "report.html"
    result = CliRunner().invoke(
        main,
        ["audit", str(KERAS), str(SWEEP), str(hostile), "--format", "html", "-o", str(report)],
        catch_exceptions=False,
    )
    assert result.exit_code in (EXIT_OK, EXIT_FINDINGS), result.output
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(QUIET_FLAGS))
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.on("request", lambda request: browser_log["requests"].append(request.url))
        tab.on("pageerror", lambda error: browser_log["errors"].append(str(error)))

        def dismiss(dialog):
            browser_log["dialogs"].append(dialog.message)
            dialog.dismiss()

        tab.on("dialog", dismiss)
        tab.goto(report.as_uri())
        tab.wait_for_function("() => document.body.dataset.curvesReady === '1'")
        yield tab
        browser.close()


def rows(page, index: int) -> list[str]:
    return page.locator("#index tbody tr.run:not([hidden])").evaluate_all(
        f"rows => rows.map(r => r.cells[{index}].textContent.trim())"
    )


NAME, VERDICT, CONFIDENCE, FINAL_LOSS = 1, 3, 4, 5


def run_index(page, name_part: str) -> int:
    return page.evaluate(
        "part => lrdoctorReport.data.runs.findIndex(r => r.name.includes(part))", name_part
    )


def charts_of(page, index: int):
    """Scroll the run's section into view and wait for its charts."""
    page.locator(f"#run-{index} .charts").scroll_into_view_if_needed()
    page.wait_for_function(f"() => lrdoctorReport.charts[{index}] !== undefined")


def tensorboard_smoothing(values, weight):
    """TensorBoard's classic scalar smoothing, written from its line chart's source."""
    if all(v == values[0] for v in values):
        return list(values)
    last, count, out = 0.0, 0, []
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(value)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out.append(last / (1 if weight == 1 else 1 - weight**count))
    return out


def test_sorting_by_clicking_the_headers(page):
    page.click("th[data-sort=name]")
    names = rows(page, NAME)
    assert names == sorted(names, key=str.lower) and len(names) > 3
    page.click("th[data-sort=name]")
    assert rows(page, NAME) == sorted(names, key=str.lower, reverse=True)
    page.click("th[data-sort=confidence]")
    confidences = [float(c) for c in rows(page, CONFIDENCE)]
    assert confidences == sorted(confidences, reverse=True)
    page.click("th[data-sort=final_loss]")
    losses = [float(c) for c in rows(page, FINAL_LOSS) if c]
    assert losses == sorted(losses)


def test_filtering_by_text_and_by_verdict(page):
    everything = rows(page, VERDICT)
    page.select_option("#filter-verdict", "healthy")
    assert set(rows(page, VERDICT)) == {"healthy"}
    assert len(rows(page, VERDICT)) == everything.count("healthy")
    page.select_option("#filter-verdict", "")
    page.fill("#filter-text", "transformer")
    shown = rows(page, NAME)
    assert 0 < len(shown) < len(everything) and all("transformer" in name for name in shown)
    page.fill("#filter-text", "no run has this name")
    assert rows(page, NAME) == []
    page.fill("#filter-text", "")
    assert len(rows(page, NAME)) == len(everything)


def test_each_row_in_view_draws_its_loss_in_small(page):
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_function("() => document.querySelector('#index td.spark canvas') !== null")
    drawn = page.locator("#index tbody tr.run td.spark canvas").count()
    assert drawn == page.locator("#index tbody tr.run").count()  # every row is in view


def test_grouping_by_folder(page):
    page.select_option("#group-by", "folder")
    groups = page.locator("#index tbody tr.group:not([hidden])").all_text_contents()
    assert len(groups) == 3
    assert f"{KERAS} (6 runs)" in groups and f"{SWEEP} (8 runs)" in groups
    # Each group's runs follow its header.
    layout = page.locator("#index tbody tr:not([hidden])").evaluate_all(
        "rows => rows.map(r => r.className)"
    )
    assert layout[0] == "group" and layout.count("group") == 3
    page.select_option("#group-by", "")
    assert page.locator("#index tbody tr.group").count() == 0


def test_grouping_by_lr_sweep(page):
    """The sweep the audit found (as `lrdoctor sweep` does): seven Adam runs; the SGD run,
    the Keras runs and the hostile CSV are in none."""
    page.select_option("#group-by", "sweep")
    groups = page.locator("#index tbody tr.group:not([hidden])").all_text_contents()
    assert groups == ["(not in an LR sweep) (8 runs)", "blobs-mlp-adam [optimizer=adam] (7 runs)"]
    members = page.locator("#index tbody tr:not([hidden])").evaluate_all(
        "rows => rows.slice(rows.findIndex(r => r.textContent.startsWith('blobs'))"
        ").filter(r => r.className === 'run').map(r => r.cells[1].textContent.trim())"
    )
    assert sorted(members) == sorted(
        f"lr_{lr}" for lr in ("0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1")
    )
    page.select_option("#group-by", "")


def test_a_row_links_to_its_section_and_its_charts_draw(page):
    first = page.locator("#index tbody tr.run:not([hidden]) a").first
    target = first.get_attribute("href")
    first.click()
    assert page.evaluate("location.hash") == target
    page.wait_for_function(
        f"() => lrdoctorReport.charts[{target.removeprefix('#run-')}] !== undefined"
    )
    assert page.locator(f"section{target} canvas").count() >= 1
    assert page.locator(f"section{target} h2").is_visible()
    assert in_view(page, target)


def in_view(page, selector: str) -> bool:
    """The element's top is within the window (below the sticky toolbar's height at most)."""
    return page.eval_on_selector(
        selector,
        "e => { const top = e.getBoundingClientRect().top;"
        " return top >= -2 && top < window.innerHeight / 2; }",
    )


def test_opened_at_a_run_the_page_scrolls_to_its_unpacked_section(page, browser_log):
    """`report.html#run-N`: the section is put in place after the page loaded, and the page
    still opens at it, its charts drawn."""
    index = run_index(page, "evil")
    fresh = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
    fresh.on(
        "dialog", lambda dialog: (browser_log["dialogs"].append(dialog.message), dialog.dismiss())
    )
    fresh.on("pageerror", lambda error: browser_log["errors"].append(str(error)))
    fresh.on("request", lambda request: browser_log["requests"].append(request.url))
    try:
        fresh.goto(page.url.split("#")[0] + f"#run-{index}")
        fresh.wait_for_function(f"() => lrdoctorReport.charts[{index}] !== undefined")
        assert in_view(fresh, f"#run-{index}")
        assert fresh.locator(f"#run-{index} h2").text_content() == EVIL
        assert fresh.evaluate("window.scrollY") > 0
    finally:
        fresh.close()


def test_the_smoothing_slider_changes_the_drawn_curve_exactly_as_tensorboard(page):
    index = run_index(page, "lively-otter")
    charts_of(page, index)
    page.select_option("#scale", "linear")
    read = (
        f"() => {{ const u = lrdoctorReport.charts[{index}][0].u;"
        " return {raw: u.data[1], smoothed: u.data[2], image: u.ctx.canvas.toDataURL()}; }"
    )
    before = page.evaluate(read)
    page.eval_on_selector(
        "#smoothing", "e => { e.value = '0.95'; e.dispatchEvent(new Event('input')); }"
    )
    after = page.evaluate(read)
    assert after["raw"] == before["raw"]
    assert after["smoothed"] != before["smoothed"] and after["image"] != before["image"]
    raw = [v for v in after["raw"] if v is not None]
    smoothed = [v for v in after["smoothed"] if v is not None]
    assert smoothed == pytest.approx(tensorboard_smoothing(raw, 0.95), rel=1e-12)
    # At 0 the smoothed curve is the logged one; NaN passes through and is not counted.
    assert page.evaluate("lrdoctorReport.smooth([1, 2, 3], 0)") == [1, 2, 3]
    values = [2.0, None, 1.0, 4.0, 3.0]
    assert page.evaluate("v => lrdoctorReport.smooth(v, 0.6)", values) == pytest.approx(
        tensorboard_smoothing(values, 0.6)
    )
    page.eval_on_selector(
        "#smoothing", "e => { e.value = '0.6'; e.dispatchEvent(new Event('input')); }"
    )
    page.select_option("#scale", "auto")


def test_the_log_linear_switch(page):
    index = run_index(page, "lively-otter")  # diverged: billions of times its start
    charts_of(page, index)
    chart = f"lrdoctorReport.charts[{index}][0]"
    assert page.evaluate(f"{chart}.element.dataset.scale") == "log"
    logged = page.evaluate(f"{chart}.u.data[1]")
    page.select_option("#scale", "linear")
    assert page.evaluate(f"{chart}.element.dataset.scale") == "linear"
    linear = page.evaluate(f"{chart}.u.data[1]")
    pairs = [(a, b) for a, b in zip(logged, linear, strict=True) if a is not None]
    assert pairs and all(a == pytest.approx(math.log10(b)) for a, b in pairs)
    page.select_option("#scale", "log")
    assert page.evaluate(f"{chart}.element.dataset.scale") == "log"
    page.select_option("#scale", "auto")


def test_a_finding_is_marked_where_it_happens(page):
    """The hostile-named run's loss turns NaN: its LRD101 line is drawn at that step."""
    index = run_index(page, "evil")
    charts_of(page, index)
    marks = page.evaluate(f"lrdoctorReport.data.runs[{index}].marks")
    assert any(m["code"] == "LRD101" and m["kind"] == "event" for m in marks)
    assert int(page.locator(f"#run-{index} .chart").first.get_attribute("data-marks")) >= 1
    # Hovering a step where the loss was NaN or inf says so.
    nan_step = next(m["start"] for m in marks if m["code"] == "LRD101")
    hovered = page.evaluate(
        f"""() => {{
          const u = lrdoctorReport.charts[{index}][0].u;
          const at = u.data[1].findIndex((v, i) => v === null && u.data[0][i] >= {nan_step});
          return u.series[1].value(u, null, 1, at);
        }}"""
    )
    assert hovered in ("nan", "inf", "-inf")


def test_overlaying_two_selected_runs_draws_both(page):
    page.fill("#filter-text", "")
    picks = page.locator("#index tbody tr.run input.pick")
    picks.nth(0).check()
    picks.nth(1).check()
    names = rows(page, NAME)[:2]
    assert page.locator("#overlay-button").text_content() == "overlay selected (2)"
    page.click("#overlay-button")
    assert page.locator("#overlay").is_visible()
    series = page.evaluate("lrdoctorReport.overlay.u.series.slice(1).map(s => s.label)")
    assert sorted(series) == sorted(names)
    drawn = page.evaluate(
        "lrdoctorReport.overlay.u.data.slice(1).map(ys => ys.filter(v => v != null).length)"
    )
    assert len(drawn) == 2 and all(count > 1 for count in drawn)
    picks.nth(0).uncheck()
    picks.nth(1).uncheck()
    page.click("#overlay-close")


def test_a_hostile_name_stays_text_and_nothing_loads_from_the_network(page, browser_log):
    index = run_index(page, "evil")
    page.locator(f"#index tr.run[data-index='{index}'] input.pick").check()
    page.click("#overlay-button")
    # The name reaches the index, the section and uPlot's legend as text, never as markup.
    assert page.locator(f"#index tr.run[data-index='{index}'] td.name").text_content() == EVIL
    assert page.locator(f"#run-{index} h2").text_content() == EVIL
    assert EVIL in page.locator("#overlay-chart").text_content()
    # Nowhere a live tag: the unpacked rows and sections hold it escaped.
    assert page.locator("img").count() == 0 and page.locator("[onerror]").count() == 0
    assert page.locator("#unpacking").count() == 0
    assert browser_log["dialogs"] == [] and browser_log["errors"] == []
    page.locator(f"#index tr.run[data-index='{index}'] input.pick").uncheck()
    # The page itself is the only request of the whole session.
    assert [url for url in browser_log["requests"] if not url.startswith("file:")] == []
    assert {url.split("#")[0] for url in browser_log["requests"]} == {page.url.split("#")[0]}
