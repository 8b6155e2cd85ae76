"""Damage stays local: logs written by the real writers (MLflow's client, transformers'
TrainerState, Lightning's CSVLogger, pandas, tensorboardX), then one line, entry, row or record
damaged. Each costs its own point, counted in one warning naming the file and the problem;
steps outside int64 are dropped, never wrapped around."""

from __future__ import annotations

import math
import sqlite3
import struct
import warnings
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from tensorboardX import SummaryWriter

from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.readers import csv_logs, hf_trainer, mlflow, tensorboard
from lrdoctor.readers.base import ReadOptions

OPTIONS = ReadOptions()
BASE_MS = 1_700_000_000_000
RUN_NAMES = ("run-a", "run-b", "run-c", "run-d")
STEPS = 10
BEYOND_INT64 = 2**64


def by_name(runs) -> dict:
    return {run.name: run for run in runs}


# MLflow ----------------------------------------------------------------------------------------


def log_runs(client: MlflowClient) -> dict[str, str]:
    """RUN_NAMES in one experiment, each with `loss` at steps 0..STEPS-1; run ids by name."""
    experiment = client.create_experiment("damage")
    run_ids = {}
    for name in RUN_NAMES:
        run_id = client.create_run(experiment, start_time=BASE_MS, run_name=name).info.run_id
        points = [Metric("loss", 1.0 / (step + 1), BASE_MS + step, step) for step in range(STEPS)]
        client.log_batch(run_id, metrics=points)
        client.set_terminated(run_id)
        run_ids[name] = run_id
    return run_ids


def test_mlflow_metric_lines_past_int64_cost_those_lines_not_the_store(tmp_path, monkeypatch):
    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_ids = log_runs(MlflowClient(store.as_uri()))
    (metric_file,) = store.glob(f"*/{run_ids['run-b']}/metrics/loss")
    lines = metric_file.read_text().splitlines()
    lines[3] = f"{BASE_MS + 3} 0.25 {BEYOND_INT64}"
    lines[5] = f"{BEYOND_INT64} 0.1666 5"
    lines[7] = f"{BASE_MS + 7} 0.125 {-(2**63) - 1}"
    lines.append(f"{BASE_MS + 10} 0.05 {2**63 - 1}")  # the largest step: kept
    metric_file.write_text("\n".join(lines) + "\n")

    runs = by_name(mlflow.READER.read(store, tmp_path, OPTIONS))

    assert set(runs) == set(RUN_NAMES)
    damaged = runs["run-b"]
    assert damaged.curves["loss"].steps.tolist() == [0, 1, 2, 4, 6, 8, 9, 2**63 - 1]
    assert damaged.warnings == (
        f"{metric_file.relative_to(store).as_posix()}: 3 lines skipped: step out of range "
        "(2, first at line 4), timestamp out of range (1, first at line 6)",
    )
    for name in set(RUN_NAMES) - {"run-b"}:
        assert runs[name].warnings == ()
        assert runs[name].curves["loss"].steps.tolist() == list(range(STEPS))


def test_mlflow_sqlite_rows_past_int64_cost_those_points_not_the_store(tmp_path):
    database = tmp_path / "mlflow.db"
    run_ids = log_runs(MlflowClient(f"sqlite:///{database.as_posix()}"))
    with closing(sqlite3.connect(database)) as connection, connection:
        for column, step in (("step", 2), ("timestamp", 6)):
            connection.execute(
                f"UPDATE metrics SET {column} = ? WHERE run_uuid = ? AND step = ?",
                (float(BEYOND_INT64), run_ids["run-c"], step),
            )

    runs = by_name(mlflow.READER.read(database, tmp_path, OPTIONS))

    assert set(runs) == set(RUN_NAMES)
    assert runs["run-c"].curves["loss"].steps.tolist() == [0, 1, 3, 4, 5, 7, 8, 9]
    assert runs["run-c"].warnings == (
        "metric 'loss': 2 points skipped: step out of range (1), timestamp out of range (1)",
    )
    assert runs["run-a"].curves["loss"].steps.tolist() == list(range(STEPS))


# transformers and lightning are the corpus tools' extras (tools/corpus/requirements.txt), not
# the test extras: lightning pulls in torch. Their writers' tests skip where they are absent.
WRITER_EXTRA = "written by a framework of tools/corpus/requirements.txt"


# Hugging Face trainer_state.json ---------------------------------------------------------------


def save_trainer_state(directory: Path, global_step: int = 60) -> Path:
    """A Trainer's state as `TrainerState.save_to_json` writes it: loss every 5 steps."""
    directory.mkdir(parents=True, exist_ok=True)
    history = [
        {"epoch": step / 40, "learning_rate": 1e-4, "loss": 2.0 / step, "step": step}
        for step in range(5, global_step + 1, 5)
    ]
    path = directory / "trainer_state.json"
    callbacks = pytest.importorskip("transformers.trainer_callback", reason=WRITER_EXTRA)
    state = callbacks.TrainerState(global_step=global_step, log_history=history)
    state.save_to_json(str(path))
    return path


def damage_json(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("bad_step", "problem"),
    [
        ("NaN", "step is NaN"),
        ("Infinity", "step out of range"),
        ("-Infinity", "step out of range"),
        ("1e30", "step out of range"),
        (str(BEYOND_INT64), "step out of range"),
        ("1" * 5000, "step out of range"),  # past Python's digit limit for int()
    ],
    ids=["nan", "inf", "-inf", "1e30", "2**64", "5000-digits"],
)
def test_trainer_state_entry_with_a_bad_step_costs_that_entry(tmp_path, bad_step, problem):
    path = save_trainer_state(tmp_path / "out")
    damage_json(path, '"step": 25\n', f'"step": {bad_step}\n')

    (run,) = hf_trainer.READER.read(path.parent, tmp_path, OPTIONS)

    expected_steps = [step for step in range(5, 61, 5) if step != 25]
    assert run.curves["loss"].steps.tolist() == expected_steps
    assert run.curves["loss"].values.tolist() == [2.0 / step for step in expected_steps]
    assert run.warnings == (f"trainer_state.json: 1 log_history entry skipped: {problem}",)


def test_trainer_state_with_a_non_finite_global_step_is_ranked_by_its_entries(tmp_path):
    """The latest copy is chosen by its entries' steps when its global_step is damaged."""
    output_dir = tmp_path / "out"
    save_trainer_state(output_dir / "checkpoint-20", global_step=20)
    damage_json(save_trainer_state(output_dir), '"global_step": 60', '"global_step": NaN')

    (run,) = hf_trainer.READER.read(output_dir, tmp_path, OPTIONS)

    assert run.metadata["trainer_state"] == "trainer_state.json"
    assert run.curves["loss"].steps.tolist() == list(range(5, 61, 5))
    assert run.warnings == ()


def test_trainer_state_value_too_large_for_a_float_is_infinite(tmp_path):
    """As json reads 1e400: an integer written out in full is no less infinite."""
    path = save_trainer_state(tmp_path / "out")
    damage_json(path, '"loss": 0.08,', f'"loss": {10**400},')

    (run,) = hf_trainer.READER.read(path.parent, tmp_path, OPTIONS)

    loss = run.curves["loss"]
    assert loss.values[loss.steps.tolist().index(25)] == math.inf
    assert len(loss) == 12
    assert run.warnings == ()


# CSV -------------------------------------------------------------------------------------------


def write_lightning_log(save_dir: Path, steps: int) -> Path:
    loggers = pytest.importorskip("lightning.pytorch.loggers", reason=WRITER_EXTRA)
    logger = loggers.CSVLogger(str(save_dir), name="run", version=0)
    for step in range(steps):
        logger.log_metrics({"epoch": step // 50, "train_loss": 1.0 / (step + 1)}, step=step)
    logger.save()
    return Path(logger.log_dir) / "metrics.csv"


def test_csv_steps_past_int64_cost_their_rows_and_no_numpy_warning(tmp_path):
    """The reported case: 200 rows, half with oversized steps, had collapsed to 2 points
    (every one wrapped to -2**63) with numpy's cast warning on stderr."""
    path = write_lightning_log(tmp_path, 200)
    header, *rows = path.read_text().splitlines()
    assert header == "epoch,step,train_loss"
    for index in range(0, 200, 2):
        epoch, step, loss = rows[index].split(",")
        rows[index] = f"{epoch},{10**20 + int(step)},{loss}"
    path.write_text("\n".join([header, *rows]) + "\n")

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        (run,) = read_runs([tmp_path]).runs
        Doctor().diagnose(run)

    loss = run.curves["train_loss"]
    assert loss.steps.tolist() == list(range(1, 200, 2))
    assert loss.values.tolist() == [1.0 / (step + 1) for step in range(1, 200, 2)]
    assert run.warnings == ("metrics.csv: 100 rows skipped: step out of range",)


def test_csv_infinite_step_costs_its_row_not_the_step_column(tmp_path):
    """One `inf` step used to disqualify the whole step column: the epoch became the x axis."""
    path = write_lightning_log(tmp_path, 120)
    text = path.read_text()
    assert text.count("\n1,70,") == 1
    path.write_text(text.replace("\n1,70,", "\n1,inf,"))

    (run,) = csv_logs.READER.read(path, tmp_path, OPTIONS)

    assert run.metadata["step_column"] == "step"
    assert run.curves["train_loss"].steps.tolist() == [step for step in range(120) if step != 70]
    assert run.warnings[-1] == "metrics.csv: 1 row skipped: step out of range"


def test_long_csv_rows_with_nan_infinite_or_oversized_steps_are_counted_once(tmp_path):
    path = tmp_path / "scalars.csv"
    points = pd.DataFrame({"tag": "loss", "step": range(10), "value": np.linspace(1, 0.1, 10)})
    points.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("loss,2,", "loss,nan,")
    lines[5] = lines[5].replace("loss,4,", "loss,-inf,")
    lines[7] = lines[7].replace("loss,6,", "loss,1e30,")
    path.write_text("\n".join(lines) + "\n")

    (run,) = csv_logs.READER.read(path, tmp_path, OPTIONS)

    assert run.curves["loss"].steps.tolist() == [0, 1, 3, 5, 7, 8, 9]
    assert run.warnings == ("scalars.csv: 3 rows skipped: step is NaN (1), step out of range (2)",)


# TensorBoard -----------------------------------------------------------------------------------


def write_scalars(directory: Path, steps: list[int]) -> Path:
    writer = SummaryWriter(str(directory))
    for index, step in enumerate(steps):
        writer.add_scalar("loss", 1.0 / (index + 1), step, walltime=1000.0 + index)
    writer.close()
    (path,) = directory.glob("*tfevents*")
    return path


def record_offsets(data: bytes) -> list[int]:
    """Where each TFRecord starts, walked independently of the reader."""
    offsets, offset = [], 0
    while offset < len(data):
        offsets.append(offset)
        offset += 16 + struct.unpack_from("<Q", data, offset)[0]
    return offsets


def test_event_file_with_a_damaged_first_length_loses_only_that_record(tmp_path):
    """The first record (the file version) used to take the whole file with it."""
    path = write_scalars(tmp_path, list(range(20)))
    data = bytearray(path.read_bytes())
    first_length = record_offsets(bytes(data))[1]
    data[2] ^= 0x10
    path.write_bytes(bytes(data))

    (run,) = tensorboard.READER.read(tmp_path, tmp_path, OPTIONS)

    assert run.curves["loss"].steps.tolist() == list(range(20))
    assert run.warnings == (
        f"{path.name}: 1 damaged stretch(es) skipped: length checksum mismatch, "
        f"{first_length} bytes (first: record 0 at byte 0)",
    )


def test_event_file_damaged_mid_way_and_zero_filled_at_the_end_keeps_every_other_point(
    tmp_path,
):
    """A crash can leave preallocated zeros after the last record."""
    path = write_scalars(tmp_path, list(range(30)))
    data = bytearray(path.read_bytes())
    offsets = record_offsets(bytes(data))
    data[offsets[11] + 8] ^= 0x01  # the length checksum of the point at step 10
    data += bytes(4096)
    path.write_bytes(bytes(data))

    (run,) = tensorboard.READER.read(tmp_path, tmp_path, OPTIONS)

    assert run.curves["loss"].steps.tolist() == [step for step in range(30) if step != 10]
    record_bytes = offsets[12] - offsets[11]
    assert run.warnings == (
        f"{path.name}: 2 damaged stretch(es) skipped: length checksum mismatch, "
        f"{record_bytes + 4096} bytes (first: record 11 at byte {offsets[11]})",
    )


def test_event_file_cut_inside_its_last_record_loses_only_that_record(tmp_path):
    path = write_scalars(tmp_path, list(range(15)))
    data = path.read_bytes()
    path.write_bytes(data[: record_offsets(data)[-1] + 20])

    (run,) = tensorboard.READER.read(tmp_path, tmp_path, OPTIONS)

    assert run.curves["loss"].steps.tolist() == list(range(14))
    (warning,) = run.warnings
    assert warning.startswith(f"{path.name}: last record truncated at byte ")


def test_event_steps_at_the_ends_of_int64_are_kept_exactly(tmp_path):
    write_scalars(tmp_path, [-(2**63), 0, 2**63 - 1])

    (run,) = tensorboard.READER.read(tmp_path, tmp_path, OPTIONS)

    assert run.curves["loss"].steps.tolist() == [-(2**63), 0, 2**63 - 1]
    assert run.warnings == ()
