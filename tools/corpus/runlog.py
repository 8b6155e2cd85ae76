"""What a training run logged, handed from the training loop to the framework writers.

The training loop (`tools.corpus.train`) fills a `RunLog`; a writer (`tools.corpus.writers`)
lays it out on disk through one framework's own logger. The two sides agree on nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CADENCES = (
    "step",
    "interval_mean",
    "sampled",
    "epoch",
    "ema",
    "running_mean",
    "last_batch",
    "accumulated",
    "wall_clock",
    "cumulative_mean",
    "full_eval",
)
"""How logged training-loss points relate to optimiser steps:
step: every step's mini-batch loss; interval_mean: the mean over each `every` steps (the
Hugging Face Trainer, Lightning's on_epoch=False with accumulation); sampled: one step's
loss every `every` steps; epoch: the mean over each epoch (Keras, Lightning on_epoch);
ema: every `every` steps, the debiased exponential moving average of all step losses so far
(beta 0.98, fastai's smoothed loss); running_mean: every `every` steps, the mean since the
current epoch began (Keras' batch-level logs, a torchmetrics MeanMetric reset per epoch);
last_batch: once per epoch, the loss of its last mini-batch (a hand-written loop that prints
or logs loss.item() after its inner loop); accumulated: every `every` optimiser steps, that
step's loss, the mean of the losses of the micro-batches whose gradients it accumulated
(the Hugging Face Trainer and Lightning with gradient accumulation); wall_clock: the loss of
the step at which about `every` steps' worth of time had passed since the last point (a
loop that logs every so many seconds), so the logged steps are irregularly spaced;
cumulative_mean: every `every` steps, the mean of all step losses since training (or its
resumed process) began (an AverageMeter never reset, a MeanMetric never reset); full_eval:
every `every` steps, the mean loss over a fixed slice of the training set evaluated in eval
mode without gradients (a loop that logs its own train-set evaluation, not mini-batch
losses: no mini-batch noise).
Any cadence may come in two sessions (Point.session): a run stopped and resumed from an
earlier checkpoint logs the steps from the checkpoint to the stop again, in logging order."""


@dataclass
class Point:
    """One logged training point. `grad_norm` and `lr` are None when that run does not log them."""

    step: int  # optimiser steps done when logged (1-based, as frameworks count), or samples
    # seen where the loop counts its step axis in samples
    epoch: float  # epochs done, fractional within an epoch
    train_loss: float
    grad_norm: float | None = None
    lr: float | None = None
    session: int = 0  # 1 for what a run resumed from a checkpoint logged after it resumed


@dataclass
class Evaluation:
    """One validation-loss evaluation (on a fixed held-out set)."""

    step: int
    epoch: float
    val_loss: float
    session: int = 0  # as Point.session


@dataclass
class RunLog:
    """Everything one run logged, in logging order, plus its hyper-parameters."""

    name: str  # a name as a person would give the run: "gru-adamw-lr3e-3", "lucky-otter-12"
    cadence: str  # one of CADENCES
    every: int  # steps per logged point (1 for "step"; steps per epoch for "epoch")
    steps_per_epoch: int
    points: list[Point] = field(default_factory=list)
    evals: list[Evaluation] = field(default_factory=list)
    params: dict[str, str | int | float | bool] = field(default_factory=dict)
