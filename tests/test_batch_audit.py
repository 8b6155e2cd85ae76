"""Batch audits: parallel results equal serial ones, colour and progress only on a terminal,
and the library API a notebook uses."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import lrdoctor
from lrdoctor.cli import EXIT_INPUT_ERROR, EXIT_OK, main

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"
LABELS = json.loads((SAMPLE_LOGS / "labels.json").read_text())["runs"]
# Runs of one logger each, audited instead of the whole corpus to keep the suite fast: a
# plain CSV per run, and the runs a Keras TensorBoard callback wrote.
PLAIN_CSV = SAMPLE_LOGS / "dev" / "plain_csv"
KERAS = SAMPLE_LOGS / "dev" / "keras_tensorboard"
# One store or export holding many runs each: MLflow's SQLite store and W&B exports.
SHARED_STORES = ("mlflow_sqlite", "wandb_csv", "keras_tensorboard")


def test_two_processes_give_the_same_json_as_one():
    """Loggers whose one store or file holds many runs: the SQLite store, W&B exports."""
    runner = CliRunner()
    folders = [  # dev's own stores, then each folded-in generation's (dev/<generation>/)
        str(folder)
        for logger in SHARED_STORES
        for folder in [SAMPLE_LOGS / "dev" / logger, *sorted(SAMPLE_LOGS.glob(f"dev/*/{logger}"))]
    ]
    outputs = []
    for jobs in ("1", "2"):
        result = runner.invoke(
            main, ["audit", *folders, "--format", "json", "--jobs", jobs], catch_exceptions=False
        )
        assert result.exit_code == EXIT_OK
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    expected = [name for name, entry in LABELS.items() if entry["logger"] in SHARED_STORES]
    expected = [n for n in expected if LABELS[n]["split"] == "dev"]
    assert len(json.loads(outputs[0])["runs"]) == len(expected)


def test_colour_only_when_wanted(monkeypatch):
    runner = CliRunner()
    folder = str(PLAIN_CSV)
    piped = runner.invoke(main, ["audit", folder, "--jobs", "1"])
    assert "\x1b[" not in piped.stdout
    terminal = runner.invoke(main, ["audit", folder, "--jobs", "1"], color=True)
    assert "\x1b[31m" in terminal.stdout  # failures in red
    monkeypatch.setenv("NO_COLOR", "1")
    no_color = runner.invoke(main, ["audit", folder, "--jobs", "1"], color=True)
    assert "\x1b[" not in no_color.stdout
    assert no_color.stdout == piped.stdout


def test_no_progress_bar_when_stderr_is_not_a_terminal():
    result = CliRunner().invoke(main, ["audit", str(PLAIN_CSV), "--jobs", "2"])
    assert result.exit_code == EXIT_OK
    assert "auditing" not in result.stderr


def test_report_file_has_no_colour(tmp_path):
    out = tmp_path / "audit.txt"
    CliRunner().invoke(main, ["audit", str(PLAIN_CSV), "-o", str(out)], color=True)
    text = out.read_text()
    assert "\x1b[" not in text and text.startswith("RUN")


def test_library_audit_converts_to_a_frame_and_json():
    result = lrdoctor.audit(PLAIN_CSV, jobs=2)
    frame = result.to_frame()
    assert len(frame) == len(result.diagnoses)
    assert {"name", "diagnosis", "confidence", "rule", "train_loss_tag"} <= set(frame.columns)
    by_name = frame.set_index("name")
    for diagnosis in result.diagnoses:
        assert by_name.loc[diagnosis.name, "diagnosis"] == diagnosis.verdict
    assert json.loads(result.to_json()) == result.to_dict()


def test_notebook_view_escapes_names_from_the_logs(tmp_path):
    real = next(n for n, e in LABELS.items() if e["label"] == "diverging" and n.endswith(".csv"))
    hostile = tmp_path / "<b onmouseover=alert(1)>run.csv"
    shutil.copy(SAMPLE_LOGS / real, hostile)
    (diagnosis,) = lrdoctor.audit(tmp_path).diagnoses
    html = diagnosis._repr_html_()
    assert "<b onmouseover" not in html
    assert "&lt;b onmouseover=alert(1)&gt;run.csv" in html
    assert f"<b>{diagnosis.verdict}</b>, confidence {diagnosis.confidence:.2f}" in html


def test_html_and_markdown_from_the_command_line(tmp_path):
    folder = KERAS
    runner = CliRunner()
    page = tmp_path / "report.html"
    result = runner.invoke(
        main, ["audit", str(folder), "--format", "html", "-o", str(page)], catch_exceptions=False
    )
    assert result.exit_code == EXIT_OK
    html = page.read_text()
    names = {d.name for d in lrdoctor.audit(folder).diagnoses}
    assert all(name in html for name in names)
    assert html.count('<div class="charts" data-run=') >= len(names)  # each run's charts

    missing = runner.invoke(main, ["audit", str(folder), "--format", "markdown"])
    assert missing.exit_code == EXIT_INPUT_ERROR
    assert "needs --output" in missing.stderr
    post_mortem = tmp_path / "pm.md"
    runner.invoke(main, ["audit", str(folder), "--format", "markdown", "-o", str(post_mortem)])
    text = post_mortem.read_text()
    linked = [line for line in text.splitlines() if line.startswith("![")]
    assert len(linked) == len(names) + 1  # one plot per run and the overview
    for line in linked:
        assert (tmp_path / line.split("](")[1].rstrip(")")).is_file()


def test_library_plots_an_overview_and_one_run():
    folder = KERAS
    result = lrdoctor.audit(folder)
    overview = result.plot()
    assert len(overview.axes) == len(result.diagnoses)
    name = result.diagnoses[0].name
    (run,) = [r for r in lrdoctor.read_runs([folder]).runs if r.name == name]
    loss = run.curves[result.diagnoses[0].signals["train_loss"]]
    figure = result.plot(name)
    plotted = [line.get_xdata() for line in figure.axes[0].get_lines()]
    assert any(len(x) == len(loss) and list(x) == list(loss.steps) for x in plotted)
    with pytest.raises(KeyError):
        result.plot("no-such-run")
