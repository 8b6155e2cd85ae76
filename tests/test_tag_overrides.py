"""Tag overrides take one path (issue 11, point 6): `--loss-tag` and the like are checked as
`[signals]` in a configuration file is, and a run lacking the named tag is warned about in
every command's output, not only in `lrdoctor runs`."""

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrdoctor.cli import EXIT_INPUT_ERROR, main
from lrdoctor.diagnosis import Doctor
from lrdoctor.engine import load_config_file, with_command_line

CSV_RUN = (
    Path(__file__).resolve().parents[1]
    / "sample_logs"
    / "dev"
    / "plain_csv"
    / ("bold-falcon-5363.csv")
)
MISSING = "train_loss tag 'nope' given as an override is not in this run"


def invoke(*args: str):
    return CliRunner().invoke(main, [*args, str(CSV_RUN)], catch_exceptions=False)


@pytest.mark.parametrize(
    "command",
    [["runs"], ["audit", "--jobs", "1"], ["diagnose", "--jobs", "1"]],
    ids=lambda command: command[0],
)
def test_a_missing_tag_is_warned_about_in_text_and_json(command):
    text = invoke(*command, "--loss-tag", "nope")
    assert f"warning: {MISSING}" in text.stdout
    document = json.loads(invoke(*command, "--loss-tag", "nope", "--format", "json").stdout)
    runs = document["runs"] if "runs" in document else [document]
    assert [run["warnings"] for run in runs] == [[MISSING]]
    # The automatic choice still plays the role, as the warning implies.
    assert runs[0]["signals"]["train_loss"] == "train_loss"


def test_a_tag_the_run_has_is_used_without_a_warning():
    result = invoke("diagnose", "--jobs", "1", "--format", "json", "--loss-tag", "learning_rate")
    run = json.loads(result.stdout)["runs"][0]
    assert run["signals"]["train_loss"] == "learning_rate"
    assert run["warnings"] == []


@pytest.mark.parametrize("command", ["runs", "audit", "diagnose", "sweep"])
@pytest.mark.parametrize("option", ["--loss-tag", "--val-loss-tag", "--grad-norm-tag", "--lr-tag"])
def test_an_empty_tag_is_refused_as_in_the_configuration_file(command, option):
    result = CliRunner().invoke(main, [command, str(CSV_RUN), option, ""])
    assert result.exit_code == EXIT_INPUT_ERROR
    assert result.stderr.strip().splitlines() == [
        f"Error: command line: {option}: expected the logged tag as text, got ''"
    ]


def test_a_configured_tag_the_run_lacks_is_warned_about_and_the_command_line_wins(
    tmp_path, monkeypatch
):
    (tmp_path / "lrdoctor.toml").write_text('[signals]\ntrain_loss = "nope"\nlr = "gone"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("diagnose", "--jobs", "1", "--format", "json")
    assert json.loads(result.stdout)["runs"][0]["warnings"] == [
        MISSING,
        "lr tag 'gone' given as an override is not in this run",
    ]
    overridden = invoke("runs", "--format", "json", "--lr-tag", "learning_rate")
    run = json.loads(overridden.stdout)["runs"][0]
    assert run["warnings"] == [MISSING]
    assert run["signals"]["lr"] == "learning_rate"


def test_a_configuration_with_tags_survives_the_trip_to_a_spawned_worker(tmp_path):
    """`--jobs` pickles the configuration where workers are spawned, not forked."""
    (tmp_path / "lrdoctor.toml").write_text(
        '[signals]\ntrain_loss = "nope"\n\n[rules.loss-explodes]\nmax_growth = 5.0\n'
    )
    config = with_command_line(load_config_file(tmp_path / "lrdoctor.toml"), signals={"lr": "x"})
    copy = pickle.loads(pickle.dumps(config))
    assert copy == config
    assert dict(copy.signals) == {"train_loss": "nope", "lr": "x"}
    explodes = next(active for active in Doctor(copy).rules if active.rule.name == "loss-explodes")
    assert explodes.options["max_growth"] == 5.0
