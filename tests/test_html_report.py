"""The HTML report on real sample runs, checked as a browser sees it (headless Chromium)."""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
import shutil
import subprocess
from html import escape, unescape
from pathlib import Path

import numpy as np
import pytest
from chromium import CHROMIUM, QUIET_FLAGS
from markupsafe import escape as markup
from sample_runs import (
    CASES,
    LABELS,
    firing_run,
    firing_runs_on_disk,
    healthy_run,
    read_from,
    run_path,
)

from lrdoctor.audit import audit
from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.features.core import recent_level
from lrdoctor.model import Curve, Run
from lrdoctor.plots import pair_runs, plot_overview, plot_run
from lrdoctor.reporters.curves import DISPLAY_POINTS, collect_curves, curve_runs, thin
from lrdoctor.reporters.html import PARAMS_SHOWN, folders, render_html
from lrdoctor.reporters.rules import render_page
from lrdoctor.reporters.wording import GENERAL_CHECK

# A run on which each built-in rule the corpus shows fires, and a healthy one: every verdict
# it shows, several formats, with and without grad norm, lr and val loss.
SUBSET = tuple(dict.fromkeys(firing_runs_on_disk().values())) + (healthy_run(),)
SCRIPT_NAME = "<script>document.title='PWNED'</script>"
IMAGE_NAME = "<img src=x onerror=document.body.dataset.pwned=1>"


def _injected_runs(folder: Path) -> list[Path]:
    """Real runs under hostile names: a W&B export's run name and a CSV file name."""
    folder.mkdir()
    member = next(
        name for name, entry in LABELS.items() if entry["logger"] == "wandb_csv"
    )  # "<export file>/<run display name>"
    export, display = member.rsplit("/", 1)
    wandb = folder / "wandb_export_injected.csv"
    wandb.write_text(run_path(export).read_text().replace(display, SCRIPT_NAME))
    csv = folder / f"{IMAGE_NAME}.csv"
    plain = next(name for name, entry in LABELS.items() if entry["logger"] == "plain_csv")
    shutil.copyfile(run_path(plain), csv)
    return [wandb, csv]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    paths = [run_path(part) for part in SUBSET] + _injected_runs(folder / "injected")
    result = audit(paths)
    runs = read_runs(paths).runs
    page = folder / "report.html"
    page.write_text(render_html(result, curve_runs(result.diagnoses, runs)), encoding="utf-8")
    return result, runs, page


def _chromium(page: Path, profile: Path, *arguments: str) -> str:
    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    completed = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            *QUIET_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            *arguments,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout


def _index_names(dom: str) -> list[str]:
    return [
        unescape(name) for name in re.findall(r'<td class="name"><a href="#run-\d+">(.*?)</a>', dom)
    ]


def test_the_audit_covers_every_dev_verdict_and_both_hostile_names(report):
    result, runs, _ = report
    names = {d.name for d in result.diagnoses}
    assert len(result.diagnoses) == len(SUBSET) + 2 == len(runs)
    assert set(result.by_diagnosis()) >= {
        e["label"] for e in LABELS.values() if e["split"] == "dev"
    }
    assert f"wandb_export_injected.csv/{SCRIPT_NAME}" in names
    assert f"{IMAGE_NAME}.csv" in names


PACKED = ("data", "index", "runs", "curves")
"""The page's packed blocks: its data, the index's rows, the runs' sections, the curves."""


def _block(html: str, name: str) -> str:
    return re.search(
        rf'<script type="application/gzip-base64" id="lrdoctor-{name}">(.*?)</script>', html, re.S
    ).group(1)


def _inflated(html: str, name: str) -> str:
    """A packed block of the page as the browser unpacks it: gzip-compressed text,
    base64-encoded."""
    return gzip.decompress(base64.b64decode(_block(html, name), validate=True)).decode("utf-8")


def _curves(html: str) -> list[dict | None]:
    return json.loads(_inflated(html, "curves"))


def _data(html: str) -> dict:
    return json.loads(_inflated(html, "data"))


def _sections(html: str) -> dict[str, str]:
    """Each run's section by name, as the script assembles it: the shell in the page (id,
    name, charts' placeholder) with the packed text before and after the charts."""
    shells = re.findall(
        r'<section class="run" id="run-(\d+)"><h2>(.*?)</h2>\n(.*?)</section>', html, re.S
    )
    texts = _inflated(html, "runs").split("<!--run-->")[1:]
    assert len(texts) == len(shells)
    sections = {}
    for (_, name, charts), text in zip(shells, texts, strict=True):
        before, after = text.split("<!--charts-->")
        sections[unescape(name)] = f"<h2>{name}</h2>{before}{charts}{after}"
    return sections


def test_the_browser_lists_every_run_unpacks_the_curves_and_runs_no_injected_code(report, tmp_path):
    result, _, page = report
    dom = _chromium(page, tmp_path / "profile", "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert f'data-index-rows="{len(result.diagnoses)}"' in body
    # The curves were unpacked (charts are drawn as their sections scroll into view:
    # tests/test_html_interaction.py).
    assert 'data-runs-ready="1"' in body and 'data-curves-ready="1"' in body
    assert "data-curves-error" not in body and "data-runs-error" not in body
    assert "data-pwned" not in body
    # The unpacked rows and sections hold the hostile names as text, never as elements.
    assert "<img" not in dom and "<script>document" not in dom
    sections = re.findall(r'<section class="run" id="run-(\d+)"', dom)
    assert sorted(map(int, sections)) == list(range(len(result.diagnoses)))
    assert f"<title>lrdoctor audit: {len(result.diagnoses)} runs</title>" in dom
    assert sorted(_index_names(dom)) == sorted(d.name for d in result.diagnoses)
    assert escape(SCRIPT_NAME, quote=False) in dom and escape(IMAGE_NAME, quote=False) in dom


def test_every_string_from_the_logs_is_escaped_and_nothing_is_fetched(report):
    _, _, page = report
    html = page.read_text(encoding="utf-8")
    assert SCRIPT_NAME not in html and IMAGE_NAME not in html
    # The packed data, index rows, sections and curves, uPlot and the report's own script.
    assert html.count("<script") == 6
    # The rows and sections the script puts in place hold the names escaped, and only so.
    rows, texts = _inflated(html, "index"), _inflated(html, "runs")
    for markup_text in (rows, texts):
        assert SCRIPT_NAME not in markup_text and IMAGE_NAME not in markup_text
        assert "<img" not in markup_text and "<script" not in markup_text
    assert markup(SCRIPT_NAME) in rows and markup(IMAGE_NAME) in rows
    assert markup(IMAGE_NAME) in texts  # the CSV's path, under its name
    sections = _sections(html)
    assert {f"wandb_export_injected.csv/{SCRIPT_NAME}", f"{IMAGE_NAME}.csv"} <= set(sections)
    assert f"<h2>{markup(IMAGE_NAME)}.csv</h2>" in sections[f"{IMAGE_NAME}.csv"]
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "<link" not in html and "@import" not in html and "<img" not in html
    assert "default-src 'none'" in unescape(html)  # the page's CSP forbids every fetch


def test_the_packed_blocks_are_base64_and_the_data_is_json(report):
    result, _, page = report
    html = page.read_text(encoding="utf-8")
    for name in PACKED:  # no markup character can end the <script> early
        assert re.fullmatch(r"[A-Za-z0-9+/]*=*", _block(html, name)), name
    data = _data(html)
    listed = {run["name"]: run for run in data["runs"]}
    for diagnosis in result.diagnoses:
        assert listed[diagnosis.name]["diagnosis"] == diagnosis.verdict
        assert listed[diagnosis.name]["confidence"] == round(diagnosis.confidence, 3)


def test_the_page_carries_each_runs_curves_as_data(report):
    """Every charted signal of every readable run, in the index's order, each point as logged
    (to 4 significant digits), NaN and inf named."""
    result, runs, page = report
    html = page.read_text(encoding="utf-8")
    names = [run["name"] for run in _data(html)["runs"]]
    packed = dict(zip(names, _curves(html), strict=True))
    for diagnosis, run in pair_runs(result.diagnoses, runs):
        curves = packed[diagnosis.name]
        charted = {
            r for r in ("train_loss", "val_loss", "grad_norm", "lr") if r in diagnosis.signals
        }
        assert set(curves) == charted
        for role, data in curves.items():
            curve = run.curves[diagnosis.signals[role]]
            steps = np.cumsum(data["dx"])
            assert data["tag"] == curve.tag and data["points"] == len(curve)
            kept = np.searchsorted(curve.steps, steps)
            assert np.array_equal(curve.steps[kept], steps)
            logged = curve.values[kept]
            finite = np.isfinite(logged)
            shown = np.array([np.nan if v is None else v for v in data["y"]])
            assert np.allclose(shown[finite], logged[finite], rtol=1e-3)
            named = dict(data.get("nonfinite", []))
            assert sorted(named) == np.flatnonzero(~finite).tolist()


def test_each_run_section_has_its_chart_findings_remedies_and_rule_pages(report):
    result, _, page = report
    html = page.read_text(encoding="utf-8")
    by_name = _sections(html)
    assert len(by_name) == len(result.diagnoses)
    for diagnosis in result.diagnoses:
        section = by_name[diagnosis.name]
        assert '<div class="charts" data-run="' in section
        for finding in diagnosis.to_dict()["findings"]:
            assert markup(finding["message"]) in section
            remedies = re.search(
                rf"{finding['rule']} {finding['name']}</strong>.*?<ol>(.*?)</ol>", section, re.S
            ).group(1)
            assert re.findall(r"<li>(.*?)</li>", remedies) == [
                markup(text + GENERAL_CHECK[basis])
                for text, basis in zip(finding["remedies"], finding["remedy_basis"], strict=True)
            ]
            for name in finding["evidence"]:
                assert f"<tr><td>{markup(name)}</td>" in section
            assert f'<a href="#rule-{finding["rule"]}">' in section
    fired = {f.code for d in result.diagnoses for f in d.findings}
    assert set(firing_runs_on_disk()) <= fired
    catalogue = {rule.code: rule for rule in Doctor().catalogue}
    # Each rule page once, after the runs.
    for code in fired:
        summary = f"<summary>rule page: {code} {catalogue[code].name}</summary>"
        assert html.count(summary) == 1
        assert markup(render_page(catalogue[code])) in html


def test_the_index_shows_losses_verdict_confidence_and_the_top_finding(report):
    result, runs, page = report
    html = page.read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr class="run" data-index="\d+">(.*?)</tr>', _inflated(html, "index"), re.S
    )
    assert len(rows) == len(result.diagnoses)
    by_name = {unescape(re.search(r'<a href="#run-\d+">(.*?)</a>', r).group(1)): r for r in rows}
    for diagnosis, run in pair_runs(result.diagnoses, runs):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", by_name[diagnosis.name], re.S)
        assert diagnosis.verdict in cells[3] and cells[4] == f"{diagnosis.confidence:.2f}"
        loss = run.curves[diagnosis.signals["train_loss"]].values
        assert cells[5] == f"{loss[-1]:.4g}"  # as it ended, NaN included
        assert cells[6] == f"{loss[np.isfinite(loss)].min():.4g}"
        if diagnosis.findings:
            top = diagnosis.findings[0]
            assert f"<b>{top.code} {markup(top.name)}</b>" in cells[8]
            assert markup(top.message) in cells[8]


def test_a_diverging_run_is_plotted_on_a_log_scale_with_its_first_nan_marked(report):
    result, runs, _ = report
    diagnosis, run = next(
        (d, r)
        for d, r in pair_runs(result.diagnoses, runs)
        if read_from(d.source, firing_run("LRD101"))
    )
    nan_finding = next(f for f in diagnosis.findings if f.name == "loss-not-finite")
    figure = plot_run(run, diagnosis)
    loss_axes, *panels = figure.axes  # the loss, then grad norm and lr where logged
    logged = [role for role in ("grad_norm", "lr") if role in diagnosis.signals]
    assert [axes.get_ylabel().removesuffix(" (log)") for axes in panels] == [
        {"grad_norm": "gradient norm", "lr": "learning rate"}[role] for role in logged
    ]
    # Billions of times its start: drawn in decades, the finite points as logged.
    assert loss_axes.get_ylabel() == "loss (log)"
    train = run.curves[diagnosis.signals["train_loss"]]
    finite = np.isfinite(train.values)
    plotted = loss_axes.get_lines()[0]
    assert np.array_equal(plotted.get_xdata(), train.steps[finite])
    assert np.allclose(plotted.get_ydata(), np.log10(train.values[finite]))
    labels = loss_axes.get_legend_handles_labels()[1]
    assert f"LRD101 loss-not-finite (step {nan_finding.steps[0]})" in labels
    marks = [line for line in loss_axes.get_lines() if line.get_label().startswith("LRD101")]
    assert list(marks[0].get_xdata()) == [nan_finding.steps[0]] * 2


def test_the_overview_has_one_small_plot_per_run_coloured_by_verdict(report):
    result, runs, _ = report
    pairs = pair_runs(result.diagnoses, runs)
    figure = plot_overview(pairs)
    assert len(figure.axes) == len(pairs)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles[0] in (pairs[0][0].name, "…" + pairs[0][0].name[-27:])


def test_spikes_are_marked_where_they_are(report):
    if not CASES["LRD502"]["fires"]:
        pytest.skip("sample_logs/ has no run LRD502 fires on (NOT_IN_CORPUS, test_rule_cases.py)")
    result, runs, _ = report
    pairs = pair_runs(result.diagnoses, runs)
    diagnosis, run = next((d, r) for d, r in pairs if read_from(d.source, firing_run("LRD502")))
    spikes = next(f for f in diagnosis.findings if f.name == "loss-spikes")
    loss_axes = plot_run(run, diagnosis).axes[0]
    markers = next(c for c in loss_axes.collections if c.get_label() == "LRD502 spikes")
    marked_steps = markers.get_offsets()[:, 0]
    loss = run.curves[diagnosis.signals["train_loss"]]
    ratio = loss.values[1:] / recent_level(loss.values)[1:]
    jumped = loss.steps[1:][ratio > spikes.parameters["min_jump_ratio"]]
    assert len(marked_steps) >= 1 and list(marked_steps) == list(jumped)


def test_an_oscillating_window_is_shaded(shared_fixtures):
    """A real DNABERT-2 fine-tune whose evaluations bounce (LRD202): the corpus has no
    oscillating dev run."""
    (run,) = read_runs([shared_fixtures / "wild2" / "hf" / "shashankbommana_dnabert2"]).runs
    diagnosis = Doctor().diagnose(run)
    oscillation = next(f for f in diagnosis.findings if f.name == "val-loss-bounces")
    loss_axes = plot_run(run, diagnosis).axes[0]
    window = next(p for p in loss_axes.patches if p.get_label() == "LRD202 val-loss-bounces")
    assert (window.get_x(), window.get_x() + window.get_width()) == oscillation.steps


def test_the_index_shows_each_runs_hyper_parameters(report):
    """A column names each run's params, escaped, whole on hover, so a sweep's runs differ."""
    result, _, page = report
    html = page.read_text(encoding="utf-8")
    cells = re.findall(r'<td class="params" title="([^"]*)">([^<]*)</td>', _inflated(html, "index"))
    assert len(cells) == len(result.diagnoses)
    with_params = [d for d in result.diagnoses if d.params]
    assert with_params, "no run of the subset logs its hyper-parameters"
    for diagnosis in with_params:
        whole = ", ".join(f"{key}={value}" for key, value in diagnosis.params.items())
        assert any(unescape(title) == whole for title, _ in cells), diagnosis.name
    assert all(len(unescape(shown)) <= PARAMS_SHOWN for _, shown in cells)


def test_a_long_curve_is_thinned_to_its_extremes_and_keeps_every_nan_stretch():
    rng = np.random.default_rng(0)
    steps = np.arange(200_000) * 2
    values = np.exp(-steps / 1e5) + rng.normal(0, 0.01, steps.size)
    values[70_001] = 50.0  # a spike between two buckets' extremes
    values[123_456] = -3.0
    values[150_000:150_500] = np.nan  # a stretch that went NaN
    values[150_200:150_210] = np.inf  # inside it, ten points of inf
    values[160_000] = np.inf
    kept = thin(steps, values)
    assert len(kept) <= DISPLAY_POINTS + 8
    ends = {0, steps.size - 1, 70_001, 123_456, 160_000}
    assert ends | {150_000, 150_199, 150_200, 150_209, 150_210, 150_499} <= set(kept)
    # Each bucket's lowest and highest finite point: the drawn envelope is the logged one.
    size = -(-steps.size // (DISPLAY_POINTS // 2))
    for start in range(0, steps.size, size):
        bucket = values[start : start + size]
        if np.isfinite(bucket).any():
            assert start + np.nanargmin(np.where(np.isfinite(bucket), bucket, np.nan)) in kept
            assert start + np.nanargmax(np.where(np.isfinite(bucket), bucket, np.nan)) in kept
    short = np.array([1.0, np.nan, 3.0])
    assert thin(np.arange(3), short).tolist() == [0, 1, 2]


def test_points_on_a_straight_line_are_left_out_as_the_chart_is_the_same():
    """A constant LR, then a linear decay: only the corners are needed to draw it."""
    steps = np.arange(10_000)
    lr = np.where(steps < 5_000, 1e-3, 1e-3 * (10_000 - steps) / 5_000)
    assert thin(steps, lr).tolist() == [0, 5_000, 9_999]


def test_the_findings_use_every_point_while_the_page_keeps_a_few(tmp_path):
    """A 50,000-step run that goes NaN near its end: the diagnosis sees the NaN step itself;
    the display keeps about DISPLAY_POINTS points, the NaN among them."""
    steps = np.arange(50_000)
    loss = 2.0 * np.exp(-steps / 20_000) + 0.05 * np.sin(steps)
    loss[49_990:] = np.nan
    run = Run("long", "long.csv", "plain-csv", {"loss": Curve.from_points("loss", steps, loss)})
    diagnosis = Doctor().diagnose(run)
    nan = next(f for f in diagnosis.findings if f.name == "loss-not-finite")
    assert nan.steps[0] == 49_990
    collected = collect_curves(run, diagnosis)
    shown = collected.curves["train_loss"]
    assert shown.points == 50_000 and len(shown.steps) <= DISPLAY_POINTS + 4
    assert 49_990 in shown.steps and shown.values[shown.steps.index(49_990)] is None
    assert math.isnan(collected.final_loss) and collected.best_loss == np.nanmin(loss)


def test_runs_are_grouped_by_the_nearest_folder_holding_other_runs_too():
    entries = [
        {
            "name": "lightning_logs/a/version_0",
            "format": "lightning-csv",
            "source": "logs/lightning/lightning_logs/a/version_0/metrics.csv",
        },
        {
            "name": "lightning_logs/b/version_0",
            "format": "lightning-csv",
            "source": "logs/lightning/lightning_logs/b/version_0/metrics.csv",
        },
        {"name": "x.csv", "format": "plain-csv", "source": "logs/csv/x.csv"},
        {"name": "y.csv", "format": "plain-csv", "source": "logs/csv/y.csv"},
        {"name": "run-7", "format": "mlflow", "source": "mlruns#run=7"},
        {"name": "run-8", "format": "mlflow", "source": "mlruns#run=8"},
    ]
    assert folders(entries) == [
        "logs/lightning/lightning_logs",
        "logs/lightning/lightning_logs",
        "logs/csv",
        "logs/csv",
        "mlruns",
        "mlruns",
    ]
