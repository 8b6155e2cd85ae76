"""`audit --format csv|github|summary` on real sample runs, plus one whose file name tries to
break each format (a newline, a comma, a colon, a percent sign, a pipe)."""

import csv
import io
import json
import shutil

import pytest
from click.testing import CliRunner
from sample_runs import SAMPLE_LOGS

from lrdoctor.cli import main

FOLDER = SAMPLE_LOGS / "dev" / "plain_csv"
HOSTILE = "evil%0A,name:|x\n::error::injected.csv"


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Twelve plain-CSV sample runs of several verdicts, and a copy of one under a hostile name."""
    folder = tmp_path_factory.mktemp("logs")
    for path in sorted(FOLDER.glob("*.csv"))[:12]:
        shutil.copy(path, folder / path.name)
    shutil.copy(sorted(FOLDER.glob("*.csv"))[0], folder / HOSTILE)
    return folder


def _audit(logs, *options, env=None):
    result = CliRunner(env=env).invoke(main, ["audit", str(logs), *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def as_json(logs):
    return {run["source"]: run for run in json.loads(_audit(logs, "--format", "json"))["runs"]}


def test_csv_has_a_row_per_run_with_its_diagnosis_and_top_finding(logs, as_json):
    rows = list(csv.DictReader(io.StringIO(_audit(logs, "--format", "csv"))))
    assert len(rows) == len(as_json) == 13
    assert {"diagnosis", "confidence", "rule", "message", "remedy"} <= set(rows[0])
    for row in rows:
        entry = as_json[row["source"]]
        assert row["diagnosis"] == entry["diagnosis"] and row["name"] == entry["name"]
        top = entry["findings"][0] if entry["findings"] else None
        assert row["rule"] == (top["rule"] if top else "")
        assert row["remedy"] == (top["remedies"][0] if top else "")
        assert row["findings"].split() == [f["rule"] for f in entry["findings"]]
        assert row["params"] == "; ".join(f"{k}={v}" for k, v in entry["params"].items())
    assert len({row["diagnosis"] for row in rows}) >= 3
    assert any(row["name"] == HOSTILE for row in rows)  # the name survives quoting intact


def test_csv_per_finding_has_a_row_per_finding_and_one_for_a_run_without(logs, as_json):
    rows = list(csv.DictReader(io.StringIO(_audit(logs, "--format", "csv", "--per-finding"))))
    expected = sum(max(1, len(entry["findings"])) for entry in as_json.values())
    assert len(rows) == expected > len(as_json)  # some runs have several findings
    for source, entry in as_json.items():
        mine = [row for row in rows if row["source"] == source]
        assert [row["rule"] for row in mine] == ([f["rule"] for f in entry["findings"]] or [""])
        for row, finding in zip(mine, entry["findings"], strict=False):
            assert row["message"] == finding["message"]
            assert row["remedy"] == finding["remedies"][0]
            assert row["diagnosis"] == entry["diagnosis"]
    refused = CliRunner().invoke(main, ["audit", str(logs), "--per-finding"])
    assert refused.exit_code == 2 and "--per-finding goes with --format csv" in refused.output


def test_github_annotations_name_each_flagged_run_and_cannot_be_forged(logs, as_json, tmp_path):
    summary_file = tmp_path / "summary.md"
    summary_file.write_text("earlier step\n")
    out = _audit(logs, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary_file)})
    lines = out.splitlines()
    flagged = [e for e in as_json.values() if e["diagnosis"] != "healthy"]
    assert len(lines) == len(flagged) > 0
    assert all(line.startswith(("::error file=", "::warning file=")) for line in lines)
    for entry in flagged:
        assert any(f"is {entry['diagnosis']}" in line for line in lines), entry["name"]
    hostile = [line for line in lines if "evil" in line]
    assert len(hostile) == 1  # its newline did not start a second, forged command
    assert "%0A" in hostile[0] and "%2C" in hostile[0] and "%3A" in hostile[0]
    summary = summary_file.read_text()
    assert summary.startswith("earlier step\n## lrdoctor audit")  # appended, not replaced
    assert f"{len(as_json)} runs: " in summary
    assert summary.count("\n| ") == len(flagged) + 1  # a header row and one row per run
    assert "evil%0A,name:\\|x\\n::error::injected.csv" in summary


def test_github_without_a_step_summary_prints_the_table_after_the_annotations(logs):
    out = _audit(logs, "--format", "github", env={"GITHUB_STEP_SUMMARY": ""})
    annotations, table = out.split("\n\n## lrdoctor audit\n")
    assert annotations.startswith("::") and "| run | verdict |" in table


def test_summary_fits_ten_lines_worst_first(logs, as_json):
    lines = _audit(logs, "--format", "summary").splitlines()
    assert 2 <= len(lines) <= 10
    counts = lines[0].split(": ", 2)[2].split(", ")
    assert sum(int(part.split()[0]) for part in counts) == len(as_json)
    flagged = [e for e in as_json.values() if e["diagnosis"] != "healthy"]
    listed = [line for line in lines[1:] if line.startswith("- ")]
    assert len(listed) == min(len(flagged), 9 if len(flagged) <= 9 else 8)
    assert all("fix: " in line for line in listed if "(" in line)
    if len(flagged) > 9:
        assert lines[-1] == f"... and {len(flagged) - 8} more flagged runs"
    severities = [line.split(": ", 1)[1].split(" ")[0] for line in listed]
    order = ["diverging", "exploding_gradients", "oscillating", "poor_feature_scaling"]
    ranks = [order.index(v) if v in order else len(order) for v in severities]
    assert ranks == sorted(ranks)


def test_jsonl_is_the_json_report_a_run_per_line(logs, as_json, tmp_path):
    printed = _audit(logs, "--format", "jsonl").splitlines()
    written = tmp_path / "runs.jsonl"
    _audit(logs, "--format", "jsonl", "-o", str(written))
    for lines in (printed, written.read_text().splitlines()):
        entries = [json.loads(line) for line in lines]
        assert len(entries) == len(as_json)
        assert {e["source"]: e for e in entries} == as_json
    assert all("\n" not in line for line in printed)  # the hostile name is escaped by JSON
