"""Discovery over a folder mixing every format, written by the real writers; bad inputs."""

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrdoctor.cli import EXIT_INPUT_ERROR, EXIT_OK, main
from lrdoctor.discovery import Problem, Unreadable, find_sources, iter_read, read_runs
from lrdoctor.model import Run

LOSSES = [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8, 0.78, 0.77, 0.76]


def write_tensorboard(run_dir: Path) -> None:
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(run_dir)) as writer:
        for step, loss in enumerate(LOSSES):
            writer.add_scalar("train/loss", loss, step)
            writer.add_scalars("Loss", {"val": loss * 1.1}, step)


def write_keras_tensorboard(log_dir: Path) -> None:
    from tensorboardX import SummaryWriter

    for split, scale in (("train", 1.0), ("validation", 1.2)):
        with SummaryWriter(str(log_dir / split)) as writer:
            for epoch, loss in enumerate(LOSSES):
                writer.add_scalar("epoch_loss", loss * scale, epoch)


def write_mlflow(store: Path, monkeypatch) -> str:
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=store.as_uri())
    experiment = client.create_experiment("mixed")
    run = client.create_run(experiment, run_name="mlflow-folder-run")
    client.log_param(run.info.run_id, "lr", "0.01")
    for step, loss in enumerate(LOSSES):
        client.log_metric(run.info.run_id, "train_loss", loss, step=step)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def write_mlflow_sqlite(db: Path) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}")
    run = client.create_run("0", run_name="mlflow-sqlite-run")
    for step, loss in enumerate(LOSSES):
        client.log_metric(run.info.run_id, "loss", loss, step=step)
    client.set_terminated(run.info.run_id)


def write_rows(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    """One folder holding each format once (plus noise that must not become a run)."""
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("mixed")
    write_tensorboard(root / "tb" / "run-a")
    write_keras_tensorboard(root / "keras" / "fit-1")
    write_mlflow(root / "mlruns", monkeypatch)
    write_mlflow_sqlite(root / "tracking" / "store.db")
    monkeypatch.undo()
    write_rows(
        root / "lightning_logs" / "version_0" / "metrics.csv",
        ["epoch", "step", "train_loss", "val_loss"],
        [[0, step, loss, ""] for step, loss in enumerate(LOSSES)] + [[0, 9, "", 0.9]],
    )
    write_rows(
        root / "keras-csv" / "training.log",
        ["epoch", "loss", "val_loss"],
        [[epoch, loss, loss * 1.1] for epoch, loss in enumerate(LOSSES)],
    )
    write_rows(root / "plain.csv", ["step", "loss"], [[s, loss] for s, loss in enumerate(LOSSES)])
    write_rows(
        root / "long.csv",
        ["metric", "step", "value"],
        [["loss", s, loss] for s, loss in enumerate(LOSSES)],
    )
    write_rows(
        root / "wandb.csv",
        ["Step", "brisk-sun-1 - train/loss", "brisk-sun-1 - train/loss__MIN"],
        [[s, loss, loss] for s, loss in enumerate(LOSSES)],
    )
    state = {
        "global_step": 10,
        "train_batch_size": 8,
        "log_history": [{"loss": loss, "step": s + 1} for s, loss in enumerate(LOSSES)],
    }
    hf = root / "hf-out"
    hf.mkdir()
    (hf / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    (root / "notes.txt").write_text("not a log\n")
    (root / "tb" / "loop").symlink_to(root, target_is_directory=True)
    return root


EXPECTED_RUNS = {
    ("tb/run-a", "tensorboard"),
    ("keras/fit-1", "tensorboard"),
    ("mlflow-folder-run", "mlflow"),
    ("mlflow-sqlite-run", "mlflow"),
    ("lightning_logs/version_0", "lightning-csv"),
    ("keras-csv/training.log", "keras-csv"),
    ("plain.csv", "csv"),
    ("long.csv", "long-csv"),
    ("wandb.csv/brisk-sun-1", "wandb-csv"),
    ("hf-out", "hf-trainer"),
}


def test_every_run_of_every_format_is_found_exactly_once(mixed_folder):
    found = read_runs([mixed_folder])
    listed = [(run.name, run.format) for run in found.runs]
    assert sorted(listed) == sorted(EXPECTED_RUNS)
    for run in found.runs:
        loss_like = [tag for tag in run.curves if "loss" in tag.lower()]
        assert loss_like, run.name
        assert len(run.curves[loss_like[0]]) >= 9, run.name


def test_symlink_loop_is_a_warning_not_a_crash(mixed_folder):
    sources, problems = find_sources([mixed_folder])
    assert [p.message for p in problems if p.source.endswith("loop")] == [
        "symbolic link loop (points to a parent); skipped"
    ]
    assert len(sources) == len({s.location for s in sources})


def test_merged_sub_folders_give_their_roles(mixed_folder):
    runs = {run.name: run for run in read_runs([mixed_folder]).runs}
    assert set(runs["keras/fit-1"].curves) == {"train/epoch_loss", "validation/epoch_loss"}
    assert runs["keras/fit-1"].curves["validation/epoch_loss"].values[0] == pytest.approx(2.4)
    assert set(runs["tb/run-a"].curves) == {"train/loss", "Loss/val"}


def test_runs_json_lists_signals_points_and_warnings(mixed_folder):
    result = CliRunner().invoke(
        main, ["runs", str(mixed_folder), "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == EXIT_OK
    document = json.loads(result.stdout)
    by_name = {entry["name"]: entry for entry in document["runs"]}
    assert set(by_name) == {name for name, _ in EXPECTED_RUNS}
    keras = by_name["keras/fit-1"]
    assert keras["signals"] == {
        "train_loss": "train/epoch_loss",
        "val_loss": "validation/epoch_loss",
    }
    assert keras["points"] == {"train/epoch_loss": 10, "validation/epoch_loss": 10}
    assert by_name["hf-out"]["signals"] == {"train_loss": "loss"}
    assert set(by_name["mlflow-folder-run"]) == {
        "name",
        "source",
        "format",
        "signals",
        "points",
        "warnings",
    }
    assert "#" in by_name["mlflow-folder-run"]["source"]


def test_runs_text_table_and_loss_tag_override(mixed_folder):
    result = CliRunner().invoke(
        main,
        ["runs", str(mixed_folder / "tb"), "--loss-tag", "Loss/val"],
        catch_exceptions=False,
    )
    assert result.exit_code == EXIT_OK
    header, line = result.stdout.splitlines()[:2]
    assert header.split() == [
        "RUN",
        "FORMAT",
        "POINTS",
        "TRAIN_LOSS",
        "VAL_LOSS",
        "GRAD_NORM",
        "LR",
    ]
    assert line.split()[:5] == ["run-a", "tensorboard", "20", "Loss/val", "(10)"]
    assert result.stdout.strip().endswith("1 run: 1 tensorboard")


def test_format_in_forces_a_reader(tmp_path):
    log = tmp_path / "history.txt"
    write_rows(log, ["step", "loss"], [[s, loss] for s, loss in enumerate(LOSSES)])
    runner = CliRunner()
    refused = runner.invoke(main, ["runs", str(log)], catch_exceptions=False)
    assert refused.exit_code == EXIT_INPUT_ERROR
    assert "not a log format lrdoctor can read" in refused.stderr
    forced = runner.invoke(main, ["runs", str(log), "--format-in", "csv", "--format", "json"])
    assert forced.exit_code == EXIT_OK, forced.stderr
    assert json.loads(forced.stdout)["runs"][0]["points"] == {"loss": 10}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "no training runs found in this folder"),
        (lambda p: None, "no such file or folder"),
        (lambda p: write_rows(p / "a.csv", ["step", "name"], [[0, "x"]]), "no numeric column"),
        (lambda p: (p / "b.csv").parent.mkdir() or (p / "b.csv").write_text(""), "empty"),
    ],
    ids=["empty-folder", "missing-path", "csv-without-numbers", "empty-csv"],
)
def test_nothing_readable_is_a_clear_error_with_status_2(tmp_path, make, message):
    target = tmp_path / "input"
    make(target)
    result = CliRunner().invoke(main, ["runs", str(target)], catch_exceptions=False)
    assert result.exit_code == EXIT_INPUT_ERROR
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "nothing could be read" in result.stderr


def test_unreachable_tracking_server_names_the_uri():
    result = CliRunner().invoke(
        main, ["runs", "http://127.0.0.1:9", "--timeout", "2"], catch_exceptions=False
    )
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_bad_source_does_not_hide_the_good_ones(tmp_path):
    write_rows(tmp_path / "good.csv", ["step", "loss"], [[s, v] for s, v in enumerate(LOSSES)])
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00garbage")
    result = CliRunner().invoke(main, ["runs", str(tmp_path), "--format", "json"])
    assert result.exit_code == EXIT_OK
    listed = {run["name"]: run for run in json.loads(result.stdout)["runs"]}
    assert list(listed) == ["good.csv", "bad.csv"]  # the bad one listed where it would be
    assert listed["good.csv"]["points"] == {"loss": len(LOSSES)}
    assert listed["bad.csv"]["format"] == "unreadable" and listed["bad.csv"]["warnings"]
    assert "bad.csv" in json.loads(result.stdout)["problems"][0]["source"]
    text = CliRunner().invoke(main, ["runs", str(tmp_path)]).stdout
    assert "\nbad.csv   unreadable  0 " in text and "1 csv, 1 unreadable" in text


def test_sources_are_read_one_at_a_time_and_each_run_can_be_let_go(tmp_path):
    """`iter_read` yields walk problems first, then each source's runs as it is read (an
    `Unreadable` where it cannot be), holding nothing: `lrdoctor runs` summarises each run and
    drops it. `read_runs` is the same items collected."""
    write_rows(tmp_path / "a.csv", ["step", "loss"], [[s, v] for s, v in enumerate(LOSSES)])
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\x00garbage")
    write_rows(tmp_path / "c.csv", ["step", "loss"], [[s, v] for s, v in enumerate(LOSSES[:5])])
    missing = tmp_path / "missing"
    items = iter_read([tmp_path, missing])
    first = next(items)
    assert isinstance(first, Problem) and not isinstance(first, Unreadable)  # the walk's
    assert str(missing) in first.source
    rest = list(items)
    assert [type(item) for item in rest] == [Run, Unreadable, Run]
    assert [item.points for item in rest if isinstance(item, Run)] == [{"loss": 10}, {"loss": 5}]
    assert "b.csv" in rest[1].source
    discovery = read_runs([tmp_path, missing])
    assert [run.name for run in discovery.runs] == ["a.csv", "c.csv"]
    assert [p.source for p in discovery.unreadable] == [rest[1].source]
    assert discovery.problems == (first, *discovery.unreadable)


def test_reading_never_writes_to_the_logs(mixed_folder):
    def snapshot():
        return {
            path: (path.stat().st_size, path.stat().st_mtime_ns)
            for path in mixed_folder.rglob("*")
            if path.is_file() and "loop" not in path.parts
        }

    before = snapshot()
    read_runs([mixed_folder])
    assert snapshot() == before


def test_mlflow_sqlite_is_recognised_by_its_tables_not_its_name(tmp_path):
    write_mlflow_sqlite(tmp_path / "store.db")
    renamed = tmp_path / "experiments.bin"
    os.replace(tmp_path / "store.db", renamed)
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("create table things (x int)")
    other.commit()
    other.close()
    found = read_runs([tmp_path])
    assert [run.name for run in found.runs] == ["mlflow-sqlite-run"]


def test_a_data_table_beside_the_logs_is_not_a_run(tmp_path):
    write_rows(tmp_path / "good.csv", ["step", "loss"], [[s, v] for s, v in enumerate(LOSSES)])
    write_rows(tmp_path / "iris.csv", ["sepal_length", "species"], [[5.1, "setosa"]])
    found = read_runs([tmp_path])
    assert [run.name for run in found.runs] == ["good.csv"]
    assert found.problems == ()
    direct = CliRunner().invoke(main, ["runs", str(tmp_path / "iris.csv")])
    assert direct.exit_code == EXIT_INPUT_ERROR
    assert "not a log format lrdoctor can read" in direct.stderr
