"""What the command line says about bad input: status 2 when nothing could be read, reports
written into missing folders, names from the logs escaped, each run listed once however the
paths overlap, and every reader warning in every report format. Logs are written by the
real writers (tensorboardX, MLflow's client, transformers' TrainerState) and then damaged."""

from __future__ import annotations

import csv
import html
import json
import math
import os
import re
import socket
from pathlib import Path

import jsonschema
import markupsafe
import pytest
from click.testing import CliRunner

import lrdoctor
from lrdoctor.cli import EXIT_INPUT_ERROR, EXIT_OK, main
from lrdoctor.discovery import read_runs

SCHEMA = json.loads((Path(lrdoctor.__file__).parent / "schemas" / "audit.schema.json").read_text())
STEPS = 200


def loss(step: int) -> float:
    return 2.0 * math.exp(-step / 50) + 0.1


def write_csv(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss"])
        writer.writerows([step, loss(step)] for step in range(STEPS))
    return path


def write_tensorboard(run_dir: Path, scalars: bool = True) -> Path:
    """The run's event file, written by tensorboardX's SummaryWriter."""
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(run_dir)) as writer:
        if scalars:
            for step in range(STEPS):
                writer.add_scalar("train/loss", loss(step), step)
        else:
            writer.add_text("notes", "a run that logged no scalar", 0)
    (event_file,) = run_dir.glob("events.out.tfevents.*")
    return event_file


def write_mlflow(store: Path, monkeypatch, runs: int = 3) -> list[Path]:
    """A folder store written by MLflow's client; the folder of each run."""
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=store.as_uri())
    experiment = client.create_experiment("sweep")
    folders = []
    for index in range(runs):
        run_id = client.create_run(experiment, run_name=f"lr-{index}").info.run_id
        for step in range(0, STEPS, 4):
            client.log_metric(run_id, "train_loss", loss(step), step=step)
        client.set_terminated(run_id)
        folders.append(store / experiment / run_id)
    return folders


def write_trainer(output_dir: Path) -> None:
    """A Trainer output folder: a checkpoint, the final state and its TensorBoard logs."""
    from tensorboardX import SummaryWriter

    callbacks = pytest.importorskip(
        "transformers.trainer_callback", reason="transformers is a corpus-tools extra"
    )
    TrainerState = callbacks.TrainerState  # noqa: N806 (the class, under its own name)

    history = [{"loss": loss(step), "step": step} for step in range(5, STEPS + 1, 5)]
    for step in (100, STEPS):
        folder = output_dir if step == STEPS else output_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True, exist_ok=True)
        logged = [entry for entry in history if entry["step"] <= step]
        state = TrainerState(global_step=step, max_steps=STEPS, log_history=logged)
        state.save_to_json(str(folder / "trainer_state.json"))
    with SummaryWriter(str(output_dir / "runs" / "Dec07_11-48-40_vm")) as writer:
        for entry in history:
            writer.add_scalar("train/loss", entry["loss"], entry["step"])


def dead_server() -> str:
    """An http:// URI where nothing listens: a port just freed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_cli(*args: str):
    return CliRunner().invoke(main, [*args], catch_exceptions=False)


def audit_json(*args: str) -> tuple[int, dict]:
    result = run_cli("audit", *args, "--format", "json", "--jobs", "1")
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    return result.exit_code, document


def snapshot(folder: Path) -> dict:
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


# -- 1. nothing read: status 2 ------------------------------------------------------------


def zero_byte_event_file(tmp_path: Path) -> tuple[str, str]:
    """A run folder whose event file is empty; the reason names the file."""
    event_file = write_tensorboard(tmp_path / "run")
    os.truncate(event_file, 0)
    return str(tmp_path / "run"), event_file.name


def unanswered_server(tmp_path: Path) -> tuple[str, str]:
    return dead_server(), "no MLflow tracking server answers there"


@pytest.mark.parametrize(
    "make", [zero_byte_event_file, unanswered_server], ids=["zero-byte-file", "dead-server"]
)
def test_nothing_read_is_status_2_whatever_fail_on(tmp_path, make):
    given, reason = make(tmp_path)
    for command in ("audit", "diagnose"):
        result = run_cli(command, given, "--fail-on", "info", "--timeout", "2", "--jobs", "1")
        assert result.exit_code == EXIT_INPUT_ERROR, (command, result.stdout)
        assert f"nothing could be read from {given}" in result.stderr
        assert "unreadable" in result.stdout and reason in result.stdout
        assert "Traceback" not in result.stdout + result.stderr
    status, document = audit_json(given, "--fail-on", "info", "--timeout", "2")
    assert status == EXIT_INPUT_ERROR
    (entry,) = document["runs"]
    assert entry["diagnosis"] == "unreadable"
    assert any(reason in warning for warning in entry["warnings"])


def test_a_run_without_one_data_point_is_unreadable_with_its_readers_warning(tmp_path):
    write_tensorboard(tmp_path / "notes-only", scalars=False)
    (run,) = read_runs([tmp_path]).runs
    assert run.warnings and run.total_points == 0

    status, document = audit_json(str(tmp_path))

    assert status == EXIT_INPUT_ERROR
    (entry,) = document["runs"]
    assert (entry["name"], entry["format"], entry["diagnosis"]) == (
        "notes-only",
        "tensorboard",
        "unreadable",
    )
    assert entry["warnings"] == ["no data points", *run.warnings]


def test_one_readable_run_is_enough_for_status_0(tmp_path):
    zero_byte_event_file(tmp_path)
    write_csv(tmp_path / "good.csv")

    status, document = audit_json(str(tmp_path), "--fail-on", "info")

    assert status == EXIT_OK
    verdicts = {entry["name"]: entry["diagnosis"] for entry in document["runs"]}
    assert verdicts == {"run": "unreadable", "good.csv": "healthy"}


# -- 5. --output into a missing folder -----------------------------------------------------


@pytest.mark.parametrize("output_format", ["json", "markdown"])
def test_output_into_a_missing_folder_creates_it(tmp_path, output_format):
    logs = tmp_path / "logs"
    write_csv(logs / "good.csv")
    before = snapshot(logs)
    report = tmp_path / "reports" / "2024" / f"audit.{output_format}"

    result = run_cli("audit", str(logs), "--format", output_format, "-o", str(report))

    assert result.exit_code == EXIT_OK, result.stderr
    assert "good.csv" in report.read_text()
    if output_format == "markdown":
        assert (report.parent / "audit-plots").is_dir()
    assert snapshot(logs) == before


def test_output_under_a_file_is_one_line_and_status_2(tmp_path):
    write_csv(tmp_path / "logs" / "good.csv")
    (tmp_path / "taken").write_text("a file, not a folder\n")
    report = tmp_path / "taken" / "audit.json"

    result = run_cli("audit", str(tmp_path / "logs"), "--format", "json", "-o", str(report))

    assert result.exit_code == EXIT_INPUT_ERROR
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot write the report to {report}: {report.parent} is a file, not a folder"
    ]
    assert result.stdout == ""


# -- 6. control characters in names --------------------------------------------------------

HOSTILE = {
    "bad\x1b[31mred\nname.csv": ("csv", r"bad\x1b[31mred\nname.csv"),
    "tb\x07run\r\u202eevil": ("tensorboard", r"tb\x07run\r\u202eevil"),
}
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f\u202e]")


def test_control_characters_in_names_are_escaped(tmp_path):
    logs = tmp_path / "logs"
    csv_name, tb_name = HOSTILE
    write_csv(logs / csv_name)
    write_tensorboard(logs / tb_name)
    shown_names = {shown for _, shown in HOSTILE.values()}

    table = run_cli("audit", str(logs), "--jobs", "1")
    inventory = run_cli("runs", str(logs))
    full = run_cli("diagnose", str(logs), "--jobs", "1")
    for result in (table, inventory, full):
        assert result.exit_code == EXIT_OK
        assert not RAW_CONTROL.search(result.stdout)
        starts = [line.split("  ")[0] for line in result.stdout.splitlines()]
        assert shown_names <= set(starts)
    rows = {line.split()[0]: line.split()[1:3] for line in table.stdout.splitlines()[1:3]}
    assert rows == {shown: [fmt, "healthy"] for fmt, shown in HOSTILE.values()}
    assert len(table.stdout.strip().splitlines()) == 1 + 2 + 2  # header, runs, blank, summary

    missing = run_cli("runs", str(logs), str(tmp_path / "gone\x1b[2J"))
    assert r"gone\x1b[2J: no such file or folder" in missing.stderr
    assert not RAW_CONTROL.search(missing.stderr)

    _, document = audit_json(str(logs))
    assert {entry["name"] for entry in document["runs"]} == set(HOSTILE)  # JSON keeps them

    report = tmp_path / "post-mortem.md"
    run_cli("audit", str(logs), "--format", "markdown", "-o", str(report), "--jobs", "1")
    text = report.read_text()
    assert not RAW_CONTROL.search(text)
    table_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table_rows) == 2 + 2  # header, separator and one line per run
    for shown in shown_names:
        markdown = shown.replace("\\", "\\\\").replace("[", "\\[")
        assert any(line.startswith(f"| {markdown} | healthy |") for line in table_rows)


# -- 7. overlapping paths ------------------------------------------------------------------


@pytest.fixture
def logs(tmp_path, monkeypatch) -> Path:
    """One folder with each kind of source that owns more than its own path."""
    root = tmp_path / "logs"
    write_csv(root / "csv" / "a.csv")
    write_trainer(root / "hf" / "out")
    write_tensorboard(root / "tb" / "run-1")
    write_mlflow(root / "mlruns", monkeypatch, runs=2)
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    return root


def identities(document: dict) -> list[str]:
    """Each listed run by what it is: the MLflow run id, or the file it was read from."""
    return sorted(
        entry["source"].split("#")[1]
        if "#" in entry["source"]
        else os.path.realpath(entry["source"])
        for entry in document["runs"]
    )


def test_each_run_is_listed_once_however_the_paths_overlap(logs):
    _, alone = audit_json(str(logs))
    expected = identities(alone)
    assert len(expected) == len(set(expected)) == 5  # csv, trainer, tensorboard, two MLflow
    run_folder = next((logs / "mlruns").glob("*/*/meta.yaml")).parent
    (event_file,) = (logs / "tb" / "run-1").glob("events.out.tfevents.*")
    overlapping = [
        [logs / "hf", logs],
        [logs, logs / "hf" / "out" / "checkpoint-100", logs / "hf" / "out" / "runs"],
        [run_folder.parent, run_folder, logs],
        [event_file, logs / "tb", logs],
        [logs, logs.parent / "alias", f"{logs}{os.sep}.", logs],
        [logs / "csv" / "a.csv", logs / "csv", logs],
    ]
    for paths in overlapping:
        _, document = audit_json(*map(str, paths))
        assert identities(document) == expected, paths
    # The first path that leads to a run names it.
    _, hf_first = audit_json(str(logs / "hf"), str(logs))
    assert "out" in {entry["name"] for entry in hf_first["runs"]}

    inventory = run_cli("runs", str(logs / "tb"), str(logs), "--format", "json")
    names = [run["name"] for run in json.loads(inventory.stdout)["runs"]]
    assert len(names) == len(set(names)) == 5


# -- 8. reader warnings in every report ----------------------------------------------------


def markdown_text(text: str) -> str:
    """How a Markdown report writes log text: HTML-escaped, Markdown punctuation escaped."""
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", html.escape(text, quote=False))


def reports(logs: Path, tmp_path: Path) -> dict[str, str]:
    """The audit of `logs` in every format, each as its text."""
    texts = {"text": run_cli("audit", str(logs), "--jobs", "1").stdout}
    texts["json"] = run_cli("audit", str(logs), "--format", "json", "--jobs", "1").stdout
    for output_format in ("markdown", "html"):
        out = tmp_path / "reports" / f"audit.{output_format}"
        run_cli("audit", str(logs), "--format", output_format, "-o", str(out), "--jobs", "1")
        texts[output_format] = out.read_text()
    return texts


def assert_in_every_report(texts: dict[str, str], run_name: str, warning: str) -> None:
    one_line = warning.replace("\n", r"\n")  # a YAML error quoted by the reader has newlines
    assert f"    warning: {one_line}" in texts["text"].splitlines()
    (entry,) = [e for e in json.loads(texts["json"])["runs"] if e["name"] == run_name]
    assert warning in entry["warnings"]
    assert f"> warning: {markdown_text(one_line)}" in texts["markdown"].splitlines()
    assert f'<p class="warning">{markupsafe.escape(warning)}</p>' in texts["html"]


def test_reader_warnings_travel_with_their_run_into_every_report(tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    event_file = write_tensorboard(logs / "tb" / "truncated")
    os.truncate(event_file, event_file.stat().st_size - 5)
    broken, *_ = write_mlflow(logs / "mlruns", monkeypatch)
    (broken / "meta.yaml").write_bytes(b"\x00\xff")
    warned = {run.name: run.warnings for run in read_runs([logs]).runs}
    assert set(warned) == {"tb/truncated", "lr-1", "lr-2"}
    assert all(warned.values())  # the readers' own words, which every report must carry
    before = snapshot(logs)

    texts = reports(logs, tmp_path)

    for name, warnings in warned.items():
        for warning in warnings:
            assert_in_every_report(texts, name, warning)
    assert snapshot(logs) == before


def test_an_mlflow_run_without_meta_yaml_is_named_in_every_report(tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    lost, *_ = write_mlflow(logs / "mlruns", monkeypatch)
    (lost / "meta.yaml").unlink()
    reason = f"{lost.parent.name}/{lost.name}/: no meta.yaml, run not read"

    texts = reports(logs, tmp_path)

    verdicts = {entry["name"]: entry["diagnosis"] for entry in json.loads(texts["json"])["runs"]}
    assert verdicts == {lost.name: "unreadable", "lr-1": "healthy", "lr-2": "healthy"}
    assert_in_every_report(texts, lost.name, reason)
    rows = [line.split()[:3] for line in texts["text"].splitlines()]
    assert [lost.name, "mlflow", "unreadable"] in rows


def test_json_report_lists_paths_that_hold_no_run(tmp_path):
    write_csv(tmp_path / "good.csv")
    missing = tmp_path / "never-written"

    status, document = audit_json(str(tmp_path / "good.csv"), str(missing))

    assert status == EXIT_OK
    assert document["problems"] == [{"source": str(missing), "message": "no such file or folder"}]
