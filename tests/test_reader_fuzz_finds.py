"""What the long fuzz script (benchmarks/fuzz.py) found in the readers, one test per find: a
damaged trainer_state.json loses the entries the damage touches, not the file; a SQLite file
with a damaged schema is passed over, not an exception out of discovery; a short Lightning
log with one damaged step keeps its step column; a stray quote in a CSV costs its own line,
not the lines after it."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from lrdoctor.discovery import find_sources
from lrdoctor.readers import csv_logs, hf_trainer, mlflow
from lrdoctor.readers.base import ReadError, ReadOptions

STEPS = list(range(5, 61, 5))


def save_trainer_state(directory: Path) -> Path:
    """A state as transformers' `TrainerState.save_to_json` writes it (indent 2, sorted keys):
    `loss` and `learning_rate` every 5 steps to 60."""
    history = [{"learning_rate": 1e-4, "loss": 2.0 / step, "step": step} for step in STEPS]
    state = {"global_step": 60, "log_history": history, "max_steps": 60}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "trainer_state.json"
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path


def damage(path: Path, old: bytes, new: bytes) -> int:
    """Replace the one `old` in the file with `new`; the line number of the damage."""
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    return data[: data.index(old)].count(b"\n") + 1


def read_loss_steps(path: Path, tmp_path: Path) -> tuple[list[int], tuple[str, ...]]:
    (run,) = hf_trainer.READER.read(path.parent, tmp_path, ReadOptions())
    return run.curves["loss"].steps.tolist(), run.warnings


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"loss": 0.08,', b'"loss": 0.0.8'),  # a number made invalid
        (b'"loss": 0.08,', b'"loss": 0.08"'),  # an opened string
        (b'"loss": 0.08,', b'"loss": 0\xff08,'),  # a byte that is not UTF-8
        (b'"step": 25\n', b'"step": 25\n"step": 25\n'),  # a line written twice
    ],
    ids=["number", "quote", "not-utf-8", "line-twice"],
)
def test_a_damaged_trainer_state_entry_costs_that_entry(tmp_path, old, new):
    path = save_trainer_state(tmp_path / "out")
    line = damage(path, old, new)

    steps, warnings = read_loss_steps(path, tmp_path)

    assert steps == [step for step in STEPS if step != 25]
    assert warnings[0].startswith(f"{path}: ")
    assert warnings[0].endswith("; log_history read entry by entry")
    entry_line = line - 2 if new.count(b"step") < 2 else line - 3
    assert warnings[1] == (
        "trainer_state.json: 1 log_history entry skipped: not valid JSON "
        f"(first at line {entry_line})"
    )


def test_a_closing_bracket_in_place_of_an_entry_does_not_end_the_history(tmp_path):
    """Fuzz case: an entry's opening brace became `]`; the entries after it are still read."""
    path = save_trainer_state(tmp_path / "out")
    data = path.read_bytes()
    opening = data.index(b'    {\n      "learning_rate": 0.0001,\n      "loss": 0.08,')
    path.write_bytes(data[:opening] + b"    ]" + data[opening + 5 :])

    steps, _ = read_loss_steps(path, tmp_path)

    assert steps == [step for step in STEPS if step != 25]


def test_top_level_settings_of_a_damaged_state_are_kept(tmp_path):
    path = save_trainer_state(tmp_path / "out")
    damage(path, b'"loss": 0.08,', b'"loss": 0.0.8')

    (run,) = hf_trainer.READER.read(path.parent, tmp_path, ReadOptions())

    assert run.metadata["global_step"] == "60"
    assert run.params["max_steps"] == "60"


def test_a_state_with_no_entry_left_is_unreadable(tmp_path):
    path = save_trainer_state(tmp_path / "out")
    path.write_bytes(path.read_bytes()[:60])

    with pytest.raises(ReadError, match="invalid JSON at line"):
        hf_trainer.READER.read(path.parent, tmp_path, ReadOptions())


def test_sqlite_file_whose_damaged_schema_gives_an_undecodable_error_is_passed_over(tmp_path):
    """Fuzz case: SQLite's message about a damaged schema quoted bytes that are not UTF-8,
    and Python's UnicodeDecodeError escaped discovery."""
    database = tmp_path / "runs.db"
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("CREATE TABLE metrics (key TEXT)")
        connection.execute("CREATE INDEX index_metrics_key ON metrics (key)")
        connection.commit()
    damage(database, b"ON metrics", b"ON\xa0metrics")  # one flipped bit: a space became 0xa0

    assert not mlflow.is_mlflow_sqlite(database)
    sources, _ = find_sources([str(tmp_path)])
    assert sources == []


def test_a_short_lightning_log_with_one_damaged_step_keeps_its_step_column(tmp_path):
    """Fuzz case: in a 37-row log, one step cell damaged ("71" -> "7E") left the step column
    under 99% filled, and the epoch became the x axis: 78 of 108 points were lost."""
    rows = ["epoch,step,train_loss"] + [f"{step // 10},{step},{1.0 / step!r}" for step in STEPS]
    rows[5] = rows[5].replace(",25,", ",2E,")
    log = tmp_path / "metrics.csv"
    log.write_text("\n".join(rows) + "\n")

    (run,) = csv_logs.READER.read(log, tmp_path, ReadOptions())

    assert run.metadata["step_column"] == "step"
    assert run.curves["train_loss"].steps.tolist() == [step for step in STEPS if step != 25]


W_AND_B_HEADER = '"train/global_step","run-1 - train/loss","run-1 - eval/loss"'


def wandb_export(tmp_path: Path, damaged_row: str) -> Path:
    """A W&B chart export (every cell quoted) with its fifth row replaced by `damaged_row`."""
    rows = [W_AND_B_HEADER] + [f'"{step}","{1.0 / step!r}",""' for step in STEPS]
    rows[5] = damaged_row
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    "damaged_row",
    [
        '"25","0.08","{,"",""',  # fuzz case: the quote left open ran into the next row
        '"25","0.08","',  # a quote left open to the end of the file
    ],
    ids=["to-the-next-row", "to-the-end"],
)
def test_a_stray_quote_in_a_csv_costs_at_most_its_own_line(tmp_path, damaged_row):
    """The row with the stray quote, read alone, still has its three fields here."""
    path = wandb_export(tmp_path, damaged_row)

    (run,) = csv_logs.READER.read(path, tmp_path, ReadOptions())

    assert run.curves["train/loss"].steps.tolist() == STEPS
    assert not any("skipped:" in warning for warning in run.warnings)


def test_a_stray_quote_on_a_line_of_another_width_costs_that_line(tmp_path):
    """The row cut short inside a quoted cell: it is lost, the row after it is not."""
    path = wandb_export(tmp_path, '"25","0.08')

    (run,) = csv_logs.READER.read(path, tmp_path, ReadOptions())

    assert run.curves["train/loss"].steps.tolist() == [step for step in STEPS if step != 25]
    assert "export.csv: 1 row skipped: a number of fields other than the header's 3 " in (
        run.warnings[0]
    )
