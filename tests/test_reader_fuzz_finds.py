"""What the long fuzz script (benchmarks/fuzz.py) found in the readers, one test per find: a
damaged trainer_state.json loses the entries the damage touches, not the file; a SQLite file
with a damaged schema is passed over, not an exception out of discovery."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from lrdoctor.discovery import find_sources
from lrdoctor.readers import hf_trainer, mlflow
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
