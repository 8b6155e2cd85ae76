"""Each corpus writer, fed a run really trained with torch, must be read back by lrdoctor as
one run per run written, with every role on the right tag and the train loss as logged."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lrdoctor import assign_roles, read_runs

torch = pytest.importorskip("torch", reason="the corpus writers' runs are trained with torch")

from tools.corpus import writers  # noqa: E402
from tools.corpus.runlog import Evaluation, Point, RunLog  # noqa: E402

STEPS_PER_EPOCH = 20
EPOCHS = 10
# What each logger needs beyond torch (and tensorboard, a dependency of lrdoctor itself).
NEEDS = {
    "tensorboardx": ("tensorboardX",),
    "lightning_csv": ("lightning",),
    "lightning_tensorboard": ("lightning",),
    "keras_csv": ("keras",),
    "keras_tensorboard": ("keras", "tensorflow"),
    "hf_trainer": ("transformers", "accelerate"),
}
# How each logger numbers a point logged after optimiser step s (1-based in a RunLog).
LIGHTNING_STEP_OFFSET = -1  # Lightning logs _batches_that_stepped before its increment


def _needs(logger: str) -> None:
    for module in NEEDS.get(logger, ()):
        pytest.importorskip(module, reason=f"{logger} writes through {module}")


def _trained_steps() -> dict[str, list[float]]:
    """A tiny MLP trained on a fixed regression task: per-step loss, grad norm and lr, and
    the validation loss after each epoch."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(STEPS_PER_EPOCH * 16 + 64, 4, generator=generator)
    targets = inputs @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(
        inputs.shape[0], generator=generator
    )
    train_x, train_y = inputs[:-64], targets[:-64]
    val_x, val_y = inputs[-64:], targets[-64:]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, STEPS_PER_EPOCH * EPOCHS)
    record: dict[str, list[float]] = {"loss": [], "grad_norm": [], "lr": [], "val_loss": []}
    for epoch in range(EPOCHS):
        for batch in range(STEPS_PER_EPOCH):
            rows = slice(batch * 16, (batch + 1) * 16)
            loss = torch.nn.functional.mse_loss(model(train_x[rows]).squeeze(1), train_y[rows])
            optimizer.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            record["lr"].append(schedule.get_last_lr()[0])
            optimizer.step()
            schedule.step()
            record["loss"].append(loss.item())
            record["grad_norm"].append(norm.item())
        with torch.no_grad():
            val = torch.nn.functional.mse_loss(model(val_x).squeeze(1), val_y).item()
        record["val_loss"].append(val)
        assert epoch == len(record["val_loss"]) - 1
    return record


@pytest.fixture(scope="module")
def trained() -> dict[str, list[float]]:
    return _trained_steps()


def _run_log(
    record: dict[str, list[float]], name: str, cadence: str, every: int, signals: bool = True
) -> RunLog:
    """What a trainer logging at `cadence` would have handed the writers."""
    total = len(record["loss"])
    if cadence == "epoch":
        every = STEPS_PER_EPOCH
    ends = range(every, total + 1, every)
    points = []
    for end in ends:
        window = record["loss"][end - every : end]
        loss = window[-1] if cadence in ("step", "sampled") else float(np.mean(window))
        points.append(
            Point(
                step=end,
                epoch=end / STEPS_PER_EPOCH,
                train_loss=loss,
                grad_norm=record["grad_norm"][end - 1] if signals else None,
                lr=record["lr"][end - 1] if signals else None,
            )
        )
    evals = [
        Evaluation(step=(epoch + 1) * STEPS_PER_EPOCH, epoch=epoch + 1.0, val_loss=value)
        for epoch, value in enumerate(record["val_loss"])
    ]
    params = {"task": "regression", "lr": 0.05, "batch_size": 16, "optimizer": "sgd"}
    return RunLog(name, cadence, every, STEPS_PER_EPOCH, points, evals, params)


def _cadence_for(logger: str) -> tuple[str, int]:
    cadences = writers.cadences(logger)
    return ("interval_mean", 5) if "interval_mean" in cadences else ("epoch", STEPS_PER_EPOCH)


# Names whose hashes pick different variants: TensorBoard tag sets 0, 1 and 3, add_scalars or
# not, add_hparams with metrics named like the logged tags, both Lightning and three W&B
# namings, a Trainer folder with and without its final trainer_state.json.
RUN_NAMES = ("mlp-sgd-lr1e-2", "mlp-sgd-warm", "gru-adamw-lr3e-3", "lucky-otter-12")


@pytest.mark.parametrize("logger", writers.LOGGERS)
def test_each_writer_is_read_back_with_every_role_and_the_logged_train_loss(
    logger: str, tmp_path: Path, trained: dict[str, list[float]]
) -> None:
    _needs(logger)
    cadence, every = _cadence_for(logger)
    logs = [_run_log(trained, name, cadence, every) for name in RUN_NAMES]
    for log in logs:
        writers.write(logger, tmp_path, log)

    discovery = read_runs([tmp_path])

    assert not discovery.problems
    assert len(discovery.runs) == len(logs), [run.name for run in discovery.runs]
    for log in logs:
        (run,) = [run for run in discovery.runs if log.name in run.name]
        roles = assign_roles(run)
        expected_roles = {"train_loss", "val_loss", "lr"}
        if not logger.startswith("keras"):  # Keras logs no gradient norm
            expected_roles.add("grad_norm")
        assert set(roles) == expected_roles, roles
        _assert_train_loss(logger, run.curves[roles["train_loss"]], log)
        _assert_role_values(logger, run, roles, log)
        _assert_params(logger, run, log)


def _expected_steps(logger: str, steps: list[int], steps_per_epoch: int) -> list[int]:
    if logger.startswith("lightning"):
        return [step + LIGHTNING_STEP_OFFSET for step in steps]
    if logger.startswith("keras"):
        return [math.ceil(step / steps_per_epoch) - 1 for step in steps]
    return steps


def _tolerance(logger: str) -> float:
    """TensorBoard stores float32; Lightning and Keras log float32 tensors' values."""
    exact = ("hf_trainer", "mlflow_folder", "mlflow_sqlite", "wandb_csv", "plain_csv")
    return 0.0 if logger in exact else 1e-7


def _assert_train_loss(logger: str, curve, log: RunLog) -> None:
    steps = [point.step for point in log.points]
    assert curve.steps.tolist() == _expected_steps(logger, steps, log.steps_per_epoch)
    np.testing.assert_allclose(
        curve.values, [point.train_loss for point in log.points], rtol=_tolerance(logger)
    )


def _assert_role_values(logger: str, run, roles: dict[str, str], log: RunLog) -> None:
    """val loss, lr (and grad norm) carry the logged values at the logged steps."""
    val = run.curves[roles["val_loss"]]
    eval_steps = [evaluation.step for evaluation in log.evals]
    assert val.steps.tolist() == _expected_steps(logger, eval_steps, log.steps_per_epoch)
    np.testing.assert_allclose(val.values, [e.val_loss for e in log.evals], rtol=_tolerance(logger))
    lr = run.curves[roles["lr"]]
    np.testing.assert_allclose(lr.values, [p.lr for p in log.points], rtol=_tolerance(logger))
    if "grad_norm" in roles:
        np.testing.assert_allclose(
            run.curves[roles["grad_norm"]].values,
            [point.grad_norm for point in log.points],
            rtol=max(_tolerance(logger), 1e-7),
        )


def _assert_params(logger: str, run, log: RunLog) -> None:
    """Formats that carry hyper-parameters give them back (TensorBoard only for some runs)."""
    if logger.startswith(("lightning", "mlflow")):
        assert run.params["lr"] == "0.05" and run.params["optimizer"] == "sgd"
    if logger.startswith("mlflow"):  # every run in the experiment named after the task
        assert run.metadata["experiment_name"] == "regression"
    elif logger == "hf_trainer":
        assert run.params["train_batch_size"] == "16"


@pytest.mark.parametrize("logger", ["lightning_csv", "lightning_tensorboard"])
def test_lightning_step_and_epoch_tags_leave_the_per_step_curve_as_train_loss(
    logger: str, tmp_path: Path, trained: dict[str, list[float]]
) -> None:
    """on_step and on_epoch both set: `<name>_step` every step beside `<name>_epoch`."""
    _needs(logger)
    log = _run_log(trained, "gru-adamw-lr3e-3", "step", 1)  # logs as train/loss
    writers.write(logger, tmp_path, log)

    (run,) = read_runs([tmp_path]).runs
    roles = assign_roles(run)

    assert roles["train_loss"] == "train/loss_step"
    assert len(run.curves["train/loss_epoch"]) == EPOCHS
    _assert_train_loss(logger, run.curves[roles["train_loss"]], log)
    assert roles["lr"] == "lr-SGD" and roles["grad_norm"] == "grad_2.0_norm_total"


@pytest.mark.parametrize(
    ("logger", "pattern"),
    [
        ("lightning_csv", "**/*.*"),
        ("keras_csv", "**/*.*"),
        ("hf_trainer", "**/trainer_state.json"),
        ("wandb_csv", "*.csv"),
        ("plain_csv", "*.csv"),
    ],
)
def test_text_logs_are_the_same_bytes_when_written_again(
    logger: str, pattern: str, tmp_path: Path, trained: dict[str, list[float]]
) -> None:
    """A corpus rebuilt from the same runs differs only where wall clocks are written."""
    _needs(logger)
    cadence, every = _cadence_for(logger)
    for root in ("first", "second"):
        for name in RUN_NAMES:
            writers.write(logger, tmp_path / root, _run_log(trained, name, cadence, every))

    def contents(root: Path) -> dict[str, bytes]:
        return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.glob(pattern)}

    first = contents(tmp_path / "first")
    assert len(first) >= len(RUN_NAMES)
    assert contents(tmp_path / "second") == first
