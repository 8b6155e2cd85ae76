"""The HTML report on real sample runs, checked as a browser sees it (headless Chromium)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html import escape, unescape
from pathlib import Path

import numpy as np
import pytest
from chromium import CHROMIUM, QUIET_FLAGS
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
from lrdoctor.plots import pair_runs, plot_overview, plot_run, sketch_runs
from lrdoctor.reporters.html import PARAMS_SHOWN, render_html
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
    page.write_text(render_html(result, sketch_runs(result.diagnoses, runs)), encoding="utf-8")
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


def test_the_browser_lists_every_run_loads_every_plot_and_runs_no_injected_code(report, tmp_path):
    result, _, page = report
    dom = _chromium(page, tmp_path / "profile", "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert f'data-index-rows="{len(result.diagnoses)}"' in body
    # One plot per run plus the overview, each decoded by the browser.
    assert f'data-images-loaded="{len(result.diagnoses) + 1}"' in body
    assert "data-pwned" not in body
    assert f"<title>lrdoctor audit: {len(result.diagnoses)} runs</title>" in dom
    assert sorted(_index_names(dom)) == sorted(d.name for d in result.diagnoses)
    assert escape(SCRIPT_NAME, quote=False) in dom and escape(IMAGE_NAME, quote=False) in dom


def test_every_string_from_the_logs_is_escaped_and_nothing_is_fetched(report):
    _, _, page = report
    html = page.read_text(encoding="utf-8")
    assert SCRIPT_NAME not in html and IMAGE_NAME not in html
    assert html.count("<script") == 2  # the JSON data block and the report's own script
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "<link" not in html and "@import" not in html
    assert all(
        src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', html)
    )


def test_the_script_data_is_json_with_markup_characters_escaped(report):
    result, _, page = report
    html = page.read_text(encoding="utf-8")
    block = re.search(
        r'<script type="application/json" id="lrdoctor-data">(.*?)</script>', html, re.S
    ).group(1)
    assert "<" not in block and ">" not in block and "&" not in block
    data = json.loads(block)
    listed = {run["name"]: run for run in data["runs"]}
    for diagnosis in result.diagnoses:
        assert listed[diagnosis.name]["diagnosis"] == diagnosis.verdict
        assert listed[diagnosis.name]["confidence"] == round(diagnosis.confidence, 3)


def test_each_run_section_has_its_plot_findings_remedies_and_rule_pages(report):
    result, _, page = report
    html = page.read_text(encoding="utf-8")
    sections = re.findall(r'<section class="run" id="run-\d+">(.*?)</section>', html, re.S)
    assert len(sections) == len(result.diagnoses)
    by_name = {unescape(re.search(r"<h2>(.*?)</h2>", s).group(1)): s for s in sections}
    rules = {}
    for diagnosis in result.diagnoses:
        section = by_name[diagnosis.name]
        png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', section).group(1))
        assert png.startswith(b"\x89PNG")
        for finding in diagnosis.to_dict()["findings"]:
            assert escape(finding["message"]) in section
            remedies = re.search(
                rf"{finding['rule']} {finding['name']}</strong>.*?<ol>(.*?)</ol>", section, re.S
            ).group(1)
            assert re.findall(r"<li>(.*?)</li>", remedies) == [
                escape(text + GENERAL_CHECK[basis])
                for text, basis in zip(finding["remedies"], finding["remedy_basis"], strict=True)
            ]
            for name in finding["evidence"]:
                assert f"<tr><td>{escape(name)}</td>" in section
        for finding in diagnosis.findings:
            rules[finding.code] = section
    fired = {f.code for d in result.diagnoses for f in d.findings}
    assert set(firing_runs_on_disk()) <= fired
    catalogue = {rule.code: rule for rule in Doctor().catalogue}
    for code, section in rules.items():
        assert f"<summary>rule page: {code} {catalogue[code].name}</summary>" in section
        assert escape(render_page(catalogue[code])) in section


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
    cells = re.findall(r'<td class="params" title="([^"]*)">([^<]*)</td>', html)
    assert len(cells) == len(result.diagnoses)
    with_params = [d for d in result.diagnoses if d.params]
    assert with_params, "no run of the subset logs its hyper-parameters"
    for diagnosis in with_params:
        whole = ", ".join(f"{key}={value}" for key, value in diagnosis.params.items())
        assert any(unescape(title) == whole for title, _ in cells), diagnosis.name
    assert all(len(unescape(shown)) <= PARAMS_SHOWN for _, shown in cells)
