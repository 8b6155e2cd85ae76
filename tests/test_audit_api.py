"""`lrdoctor.audit` is the one audit loop: its callbacks, what it collects per run, and the
CLI giving what the library gives."""

import importlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import lrdoctor
from lrdoctor.cli import EXIT_OK, main

PLAIN_CSV = Path(__file__).resolve().parents[1] / "sample_logs" / "dev" / "plain_csv"
RUNS = 8
"""Runs of one logger, enough for two worker processes, few enough to keep the tests fast."""


def points_logged(run, diagnosis):
    """A `collect` the workers can run: what the run logged, with the verdict it got."""
    return run.total_points, diagnosis.verdict


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plain_csv")
    for path in sorted(PLAIN_CSV.glob("*.csv"))[:RUNS]:
        shutil.copy(path, folder)
    return folder


@pytest.fixture(scope="module")
def watched(logs):
    """An audit in two processes, with every callback recorded."""
    seen, progress = [], []
    result = lrdoctor.audit(
        logs,
        jobs=2,
        on_progress=lambda done, total: progress.append((done, total)),
        on_diagnosis=seen.append,
        collect=points_logged,
    )
    return result, seen, progress


def test_on_diagnosis_sees_every_run_once_in_report_order(watched):
    result, seen, _ = watched
    assert len(result.diagnoses) == RUNS
    assert seen == list(result.diagnoses)


def test_on_progress_counts_every_source_up_to_the_total(watched):
    _, _, progress = watched
    assert progress == [(done, RUNS) for done in range(1, RUNS + 1)]


def test_collected_values_come_back_keyed_by_run(watched, logs):
    result, _, _ = watched
    runs = {(run.name, run.source): run for run in lrdoctor.read_runs([logs]).runs}
    expected = {
        (d.name, d.source): (runs[(d.name, d.source)].total_points, d.verdict)
        for d in result.diagnoses
    }
    assert result.collected == expected


def test_an_audit_without_collect_keeps_nothing_but_its_rules(logs):
    result = lrdoctor.audit(sorted(logs.glob("*.csv"))[:1])
    assert result.collected == {}
    (diagnosis,) = result.diagnoses
    rules = {rule.code for rule in result.catalogue}
    assert "LRD101" in rules and {finding.code for finding in diagnosis.findings} <= rules


def test_the_command_prints_the_library_json(logs, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no lrdoctor.toml of the checkout's own
    printed = CliRunner().invoke(
        main, ["audit", str(logs), "--format", "json", "--jobs", "2"], catch_exceptions=False
    )
    assert printed.exit_code == EXIT_OK
    assert printed.stdout == lrdoctor.audit(str(logs), jobs=1).to_json() + "\n"


def test_the_overview_of_an_audit_that_kept_sketches_reads_no_run_again(logs, monkeypatch):
    from lrdoctor.plots import sketch

    result = lrdoctor.audit(sorted(logs.glob("*.csv"))[:3], collect=sketch)

    def no_reading(*_):
        raise AssertionError("the runs were read again")

    monkeypatch.setattr(importlib.import_module("lrdoctor.audit"), "read_runs", no_reading)
    overview = result.plot()
    assert [axes.get_title() for axes in overview.axes] == [d.name for d in result.diagnoses]
    assert all(axes.get_lines() for axes in overview.axes)
