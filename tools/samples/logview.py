"""What a framework's logger keeps of a training run: which points, at which steps.

Frameworks do not log every step. PyTorch loops log the minibatch loss every k steps,
Lightning logs at steps k-1, 2k-1, ..., the Hugging Face Trainer logs the mean loss of the
last k steps at step k, 2k, ..., and Keras logs the mean minibatch loss of each epoch. The
label checks read the same points the writers write, so a label is only kept when the
failure is visible in what was logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.samples.training import TrainingResult

TRAIN_LOSS, VAL_LOSS, GRAD_NORM, LR = "train_loss", "val_loss", "grad_norm", "lr"


@dataclass(frozen=True)
class LogPlan:
    """How one run is logged: its format, name and logger habits.

    `cadence` is "epoch" (Keras: one point per epoch), "sample" (the minibatch loss at every
    `every`-th step, from step 0), "lightning" (steps every-1, 2*every-1, ...) or "mean" (the
    Trainer's mean over the last `every` steps, at steps every, 2*every, ...).
    """

    format: str
    name: str
    cadence: str
    every: int = 1
    grad_norm: bool = False
    lr: bool = False
    val: bool = True
    style: int = 0


@dataclass(frozen=True)
class Series:
    steps: np.ndarray
    values: np.ndarray


def _epoch_view(result: TrainingResult, plan: LogPlan) -> dict[str, Series]:
    per_epoch = result.recipe.steps_per_epoch
    means = result.epoch_mean_loss()
    epochs = np.arange(means.size)
    view = {TRAIN_LOSS: Series(epochs, means)}
    if plan.val:
        finished = result.eval_steps[1:] // per_epoch - 1
        view[VAL_LOSS] = Series(finished, result.val_loss[1:])
    if plan.lr:
        view[LR] = Series(epochs, result.lr[epochs * per_epoch])
    return view


def _logged_steps(result: TrainingResult, plan: LogPlan) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the per-step arrays, and the step numbers the logger writes for them."""
    count = result.steps
    if plan.cadence == "sample":
        index = np.arange(0, count, plan.every)
        if result.stopped_at is not None and index[-1] != count - 1:
            index = np.append(index, count - 1)
        return index, index
    if plan.cadence == "lightning":
        index = np.arange(plan.every - 1, count, plan.every)
        return index, index
    if plan.cadence == "mean":
        index = np.arange(plan.every - 1, count, plan.every)
        return index, index + 1
    raise ValueError(f"unknown cadence {plan.cadence!r}")


def logged_view(result: TrainingResult, plan: LogPlan) -> dict[str, Series]:
    """The series the logger of `plan` records for `result`, keyed by TRAIN_LOSS etc."""
    if plan.cadence == "epoch":
        return _epoch_view(result, plan)
    index, steps = _logged_steps(result, plan)
    if plan.cadence == "mean":
        windows = result.loss[: index[-1] + 1].reshape(-1, plan.every) if index.size else []
        # Python's round, as the Trainer's: numpy's overflows to inf for means above ~1e304.
        with np.errstate(over="ignore"):
            means = [float(window.mean()) for window in windows]
        losses = np.asarray([round(mean, 4) for mean in means])
    else:
        losses = result.loss[index]
    view = {TRAIN_LOSS: Series(steps, losses)}
    if plan.val:
        inside = (result.eval_steps > 0) & (result.eval_steps <= result.steps)
        eval_steps = result.eval_steps[inside]
        if plan.cadence == "lightning":
            eval_steps = eval_steps - 1
        view[VAL_LOSS] = Series(eval_steps, result.val_loss[inside])
    if plan.grad_norm:
        view[GRAD_NORM] = Series(steps, result.grad_norm[index])
    if plan.lr:
        view[LR] = Series(steps, result.lr[index])
    return view
