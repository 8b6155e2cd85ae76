"""The Hugging Face Trainer reader against output folders laid out as `transformers.Trainer`
writes them, and the real `trainer_state.json` files in the shared fixtures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lrdoctor.discovery import read_runs
from lrdoctor.readers.base import ReadError, ReadOptions
from lrdoctor.readers.hf_trainer import READER

OPTIONS = ReadOptions()
STEPS_PER_EPOCH = 40


def write_state(directory: Path, state: dict) -> Path:
    """`TrainerState.save_to_json`: sorted keys, two-space indent, a final newline."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "trainer_state.json"
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path


def trainer_state(step: int, history: list[dict], max_steps: int) -> dict:
    return {
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": step / STEPS_PER_EPOCH,
        "eval_steps": 20,
        "global_step": step,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": list(history),
        "logging_steps": 5,
        "max_steps": max_steps,
        "num_input_tokens_seen": 0,
        "num_train_epochs": 2,
        "save_steps": 20,
        "stateful_callbacks": {"TrainerControl": {"args": {"should_save": True}, "attributes": {}}},
        "total_flos": 1000.0 * step,
        "train_batch_size": 8,
        "trial_name": None,
        "trial_params": None,
    }


def training_loss(step: int) -> float:
    return 2.0 / step


def simulate_training(
    output_dir: Path, max_steps: int = 60, finish: bool = True, loss_of=training_loss
) -> list[dict]:
    """Log every 5 steps, evaluate and checkpoint every 20, write the final state at the end."""
    history: list[dict] = []
    for step in range(1, max_steps + 1):
        epoch = step / STEPS_PER_EPOCH
        if step % 5 == 0:
            history.append(
                {
                    "epoch": epoch,
                    "grad_norm": 10.0 / step,
                    "learning_rate": 1e-4 * (1 - step / max_steps),
                    "loss": loss_of(step),
                    "step": step,
                }
            )
        if step % 20 == 0:
            history.append(
                {"epoch": epoch, "eval_loss": 3.0 / step, "eval_runtime": 0.5, "step": step}
            )
            write_state(output_dir / f"checkpoint-{step}", trainer_state(step, history, max_steps))
    if finish:
        history.append(
            {
                "epoch": max_steps / STEPS_PER_EPOCH,
                "step": max_steps,
                "total_flos": 1000.0 * max_steps,
                "train_loss": 0.25,
                "train_runtime": 12.5,
                "train_samples_per_second": 38.4,
                "train_steps_per_second": 4.8,
            }
        )
        write_state(output_dir, trainer_state(max_steps, history, max_steps))
    return history


def test_finished_output_dir_is_one_claim_owning_its_checkpoints(tmp_path):
    output_dir = tmp_path / "out"
    simulate_training(output_dir)
    (output_dir / "runs").mkdir()
    (output_dir / "checkpoint-best").mkdir()

    claims = READER.claim(
        output_dir,
        ["checkpoint-20", "checkpoint-40", "checkpoint-60", "checkpoint-best", "runs"],
        ["config.json", "trainer_state.json"],
    )

    assert len(claims) == 1
    assert claims[0].path == output_dir
    assert claims[0].owned_dirs == ("checkpoint-20", "checkpoint-40", "checkpoint-60")
    assert claims[0].owned_files == ("trainer_state.json",)
    assert READER.claim(tmp_path, ["out"], []) == []


def write_trainer_tensorboard(output_dir: Path, history: list[dict]) -> None:
    """What report_to="tensorboard" adds: the same train logs under runs/<date>_<host>/."""
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(output_dir / "runs" / "Dec07_11-48-40_vm"))
    for entry in history:
        if "loss" in entry:
            writer.add_scalar("train/loss", entry["loss"], entry["step"])
    writer.close()


def test_the_trainers_tensorboard_logs_are_part_of_its_one_run(tmp_path):
    output_dir = tmp_path / "out"
    write_trainer_tensorboard(output_dir, simulate_training(output_dir))

    discovery = read_runs([tmp_path])

    assert not discovery.problems
    ((name, run_format, metadata),) = [
        (run.name, run.format, run.metadata) for run in discovery.runs
    ]
    assert (name, run_format) == ("out", "hf-trainer")
    assert metadata["tensorboard_logs"] == "runs/Dec07_11-48-40_vm"


def test_tensorboard_logs_of_a_trainer_that_saved_no_state_are_read(tmp_path):
    """A run that crashed before its first checkpoint left only its TensorBoard logs."""
    output_dir = tmp_path / "out"
    history = simulate_training(output_dir, max_steps=15, finish=False)
    write_trainer_tensorboard(output_dir, history)

    (run,) = read_runs([tmp_path]).runs

    assert (run.name, run.format) == ("out/runs/Dec07_11-48-40_vm", "tensorboard")
    assert run.curves["train/loss"].steps.tolist() == [5, 10, 15]


def test_finished_run_reads_every_logged_key_as_a_curve(tmp_path):
    output_dir = tmp_path / "runs" / "out"
    simulate_training(output_dir)

    (run,) = READER.read(output_dir, tmp_path, OPTIONS)

    assert run.name == "runs/out"
    assert run.format == "hf-trainer"
    assert run.source == str(output_dir / "trainer_state.json")
    assert run.points == {
        "epoch": 12,
        "grad_norm": 12,
        "learning_rate": 12,
        "loss": 12,
        "eval_loss": 3,
        "eval_runtime": 3,
    }
    assert run.curves["loss"].steps.tolist() == list(range(5, 61, 5))
    assert run.curves["loss"].values.tolist() == [2.0 / step for step in range(5, 61, 5)]
    assert run.curves["eval_loss"].steps.tolist() == [20, 40, 60]
    assert run.curves["epoch"].values[-1] == 1.5
    assert np.isnan(run.curves["loss"].wall_times).all()
    assert dict(run.params) == {
        "train_batch_size": "8",
        "logging_steps": "5",
        "eval_steps": "20",
        "save_steps": "20",
        "max_steps": "60",
        "num_train_epochs": "2",
    }
    assert run.metadata["trainer_state"] == "trainer_state.json"
    assert run.metadata["train_loss"] == "0.25"
    assert run.metadata["train_runtime"] == "12.5"
    assert run.metadata["global_step"] == "60"
    assert "train_loss" not in run.curves and "train_runtime" not in run.curves
    assert run.warnings == ()


def test_nan_and_inf_in_the_json_are_kept(tmp_path):
    def diverging(step: int) -> float:
        return {45: math.inf, 50: math.nan, 55: math.nan}.get(step, 1.0)

    simulate_training(tmp_path / "out", loss_of=diverging)

    (run,) = READER.read(tmp_path / "out", tmp_path, OPTIONS)

    assert "NaN" in (tmp_path / "out" / "trainer_state.json").read_text()
    loss = run.curves["loss"]
    assert len(loss) == 12
    assert loss.values[loss.steps.tolist().index(45)] == math.inf
    assert np.isnan(loss.values[-3:-1]).all() and loss.values[-1] == 1.0
    assert run.warnings == ()


def test_killed_run_reads_the_latest_checkpoint(tmp_path):
    output_dir = tmp_path / "out"
    simulate_training(output_dir, max_steps=105, finish=False)

    claims = READER.claim(output_dir, sorted(p.name for p in output_dir.iterdir()), [])
    (run,) = READER.read(output_dir, tmp_path, OPTIONS)

    assert claims[0].owned_dirs == (
        "checkpoint-100",
        "checkpoint-20",
        "checkpoint-40",
        "checkpoint-60",
        "checkpoint-80",
    )
    assert claims[0].owned_files == ()
    assert run.source == str(output_dir / "checkpoint-100" / "trainer_state.json")
    assert run.metadata["trainer_state"] == "checkpoint-100/trainer_state.json"
    assert run.curves["loss"].steps[-1] == 100
    assert len(run.curves["loss"]) == 20
    assert "train_loss" not in run.metadata
    assert run.warnings == ()


def test_checkpoint_of_another_run_is_reported(tmp_path):
    output_dir = tmp_path / "out"
    simulate_training(output_dir)
    other = tmp_path / "other"
    simulate_training(other, max_steps=20, finish=False, loss_of=lambda step: 9.0)
    (other / "checkpoint-20" / "trainer_state.json").replace(
        output_dir / "checkpoint-20" / "trainer_state.json"
    )

    (run,) = READER.read(output_dir, tmp_path, OPTIONS)

    assert run.metadata["trainer_state"] == "trainer_state.json"
    assert run.warnings == (
        "checkpoint-20/trainer_state.json is not a prefix of trainer_state.json: the folder "
        "may hold checkpoints of another run",
    )


def test_broken_checkpoint_is_a_warning_when_the_final_state_reads(tmp_path):
    output_dir = tmp_path / "out"
    simulate_training(output_dir)
    broken = output_dir / "checkpoint-40" / "trainer_state.json"
    broken.write_text(broken.read_text()[:100])

    (run,) = READER.read(output_dir, tmp_path, OPTIONS)

    assert len(run.curves["loss"]) == 12
    assert len(run.warnings) == 1
    assert run.warnings[0].startswith(f"{broken}: invalid JSON at line ")
    assert run.warnings[0].endswith("; ignored")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{\n  "global_step": 5,\n  "log_history": [\n', "invalid JSON at line 4 column 1"),
        ('{"global_step": 5}', "no log_history list: not a Trainer state"),
        ('[{"loss": 1.0, "step": 1}]', "no log_history list: not a Trainer state"),
        ('{"log_history": {"loss": 1.0}}', "no log_history list: not a Trainer state"),
    ],
)
def test_unreadable_state_raises_read_error_naming_the_file(tmp_path, text, problem):
    state = tmp_path / "out" / "trainer_state.json"
    state.parent.mkdir()
    state.write_text(text)

    with pytest.raises(ReadError) as raised:
        READER.read(state.parent, tmp_path, OPTIONS)

    assert raised.value.source == str(state)
    assert raised.value.problem.startswith(problem)


def test_a_state_file_given_directly(tmp_path):
    simulate_training(tmp_path / "my-finetune")
    state = tmp_path / "my-finetune" / "trainer_state.json"

    (run,) = READER.read(state, state.parent, OPTIONS)

    assert READER.can_read(state)
    assert READER.can_read(tmp_path / "my-finetune")
    assert not READER.can_read(tmp_path)
    assert run.name == "my-finetune"
    assert run.source == str(state)
    assert len(run.curves["loss"]) == 12


def test_empty_history_and_entries_without_step(tmp_path):
    empty = write_state(tmp_path / "empty", trainer_state(0, [], 100))
    stepless = write_state(
        tmp_path / "stepless",
        trainer_state(10, [{"loss": 1.0, "step": 5}, {"loss": 0.5}, {"loss": 0.4, "step": 10}], 10),
    )

    (empty_run,) = READER.read(empty, tmp_path, OPTIONS)
    (stepless_run,) = READER.read(stepless, tmp_path, OPTIONS)

    assert empty_run.curves == {}
    assert empty_run.warnings == (
        "log_history is empty: the Trainer saved state before logging anything",
    )
    assert stepless_run.curves["loss"].steps.tolist() == [5, 10]
    assert stepless_run.warnings == ("trainer_state.json: 1 log_history entry skipped: no step",)


# The real files in ../shared/fixtures/hf, checked against hf/PROVENANCE.md.


def test_real_qwen_trainer_state(shared_fixtures):
    root = shared_fixtures / "hf"
    (run,) = READER.read(root / "qwen05_verifier_new_format", root, OPTIONS)

    assert run.name == "qwen05_verifier_new_format"
    loss, grad_norm, lr = (run.curves[t] for t in ("loss", "grad_norm", "learning_rate"))
    assert loss.steps.tolist() == grad_norm.steps.tolist() == list(range(5, 121, 5))
    assert round(loss.values[0], 3) == 1.285 and round(loss.values[-1], 3) == 0.025
    assert round(grad_norm.values[0], 1) == 33.4 and round(grad_norm.values[-1], 1) == 7.0
    assert int(lr.values.argmax()) == 1 and np.all(np.diff(lr.values[1:]) < 0)
    eval_loss = run.curves["eval_loss"]
    assert eval_loss.steps.tolist() == [20, 40, 60, 80, 100, 120]
    assert eval_loss.values[-1] == 0.049445949494838715
    assert set(run.curves) == {
        "epoch",
        "grad_norm",
        "learning_rate",
        "loss",
        "eval_loss",
        "eval_runtime",
        "eval_samples_per_second",
        "eval_steps_per_second",
    }
    assert run.params["train_batch_size"] == "8"
    assert run.params["logging_steps"] == "5"
    assert run.metadata["train_loss"] == "0.11913943774998188"
    assert run.warnings == ()


def test_real_whisper_trainer_state(shared_fixtures):
    root = shared_fixtures / "hf"
    (run,) = READER.read(root / "whisper_large_v2_old_format", root, OPTIONS)

    loss = run.curves["loss"]
    assert (len(loss), loss.steps[0], loss.steps[-1]) == (200, 25, 5000)
    assert loss.values[0] == 0.3048
    assert set(loss.values[-80:]) == {0.0001, 0.0002} and loss.values[-100:].max() == 0.0003
    assert "grad_norm" not in run.curves
    eval_loss = run.curves["eval_loss"]
    assert eval_loss.steps.tolist() == [1000, 2000, 3000, 4000, 5000]
    assert round(eval_loss.values[0], 3) == 0.321 and round(eval_loss.values[-1], 3) == 0.420
    assert len(run.curves["eval_wer"]) == 5
    assert run.curves["epoch"].values[-1] == 38.17
    assert run.metadata["epoch"] == "38.16793893129771"
    assert dict(run.params) == {"max_steps": "5000", "num_train_epochs": "39"}
    assert run.warnings == ()
