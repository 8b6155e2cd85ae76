"""The training loop: what a recipe does, step by step, and everything it measured.

Each step records the loss of the minibatch it trained on, the global L2 norm of that
minibatch's gradient before any clipping, and the learning rate it used; each evaluation
records the validation loss and the loss over the whole training set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tools.samples.models import (
    MLP,
    OPTIMIZERS,
    VanillaRNN,
    clip_by_global_norm,
    global_norm,
)
from tools.samples.tasks import (
    Dataset,
    TaskSpec,
    feature_scales,
    make_dataset,
    scale_features,
    standardise,
)


@dataclass(frozen=True)
class ModelSpec:
    """`kind` is linear, logistic, mlp (one hidden layer), deep_mlp or rnn."""

    kind: str
    hidden: tuple[int, ...] = ()
    activation: str = "tanh"
    init_gain: float = 1.0


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run; `dataclasses.replace` makes its counterfactuals."""

    task: TaskSpec
    model: ModelSpec
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    schedule: str = "constant"
    warmup_fraction: float = 0.0
    clip: float | None = None
    scaling: tuple[float, float] | None = None
    standardised: bool = False
    seed: int = 0
    shuffle: bool = True
    stop_on_nan: bool = False
    plateau_patience: int = 3

    def describe(self) -> dict:
        """The recipe as plain JSON-ready values, for labels.json."""
        return {
            "model": self.model.kind,
            "hidden": list(self.model.hidden),
            "activation": self.model.activation,
            "init_gain": self.model.init_gain,
            "task": self.task.family,
            "features": self.task.features,
            "n_train": self.task.n_train,
            "seq_len": self.task.seq_len,
            "data_seed": self.task.data_seed,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "steps": self.epochs * self.steps_per_epoch,
            "schedule": self.schedule,
            "warmup_fraction": self.warmup_fraction,
            "clip": self.clip,
            "scaling": list(self.scaling) if self.scaling else None,
            "standardised": self.standardised,
            "shuffle": self.shuffle,
            "stop_on_nan": self.stop_on_nan,
            "seed": self.seed,
        }

    @property
    def steps_per_epoch(self) -> int:
        return self.task.n_train // self.batch_size


@dataclass
class TrainingResult:
    """Per-step and per-evaluation measurements of one run (steps count updates from 0).

    Evaluation step 0 is the untrained model; evaluation step s follows s updates.
    """

    recipe: Recipe
    loss: np.ndarray
    grad_norm: np.ndarray
    lr: np.ndarray
    eval_steps: np.ndarray
    val_loss: np.ndarray
    train_loss_full: np.ndarray
    stopped_at: int | None = None

    @property
    def steps(self) -> int:
        return int(self.loss.size)

    def epoch_mean_loss(self) -> np.ndarray:
        """The mean minibatch loss of each complete epoch: Keras's per-epoch `loss`."""
        per_epoch = self.recipe.steps_per_epoch
        whole = self.loss.size // per_epoch
        means = self.loss[: whole * per_epoch].reshape(whole, per_epoch).mean(axis=1)
        if self.loss.size % per_epoch:
            means = np.append(means, self.loss[whole * per_epoch :].mean())
        return means


def prepare_data(recipe: Recipe) -> Dataset:
    """The recipe's data set in the units the model sees: scaled, standardised or as drawn."""
    data = make_dataset(recipe.task)
    if recipe.scaling:
        low, high = recipe.scaling
        data = scale_features(
            data, feature_scales(recipe.task.features, low, high, recipe.task.data_seed)
        )
    if recipe.standardised:
        data = standardise(data)
    return data


def build_model(recipe: Recipe, rng: np.random.Generator):
    spec, task = recipe.model, recipe.task
    if spec.kind == "rnn":
        return VanillaRNN(
            task.features,
            spec.hidden[0],
            task.outputs,
            rng,
            recurrent_gain=spec.init_gain,
            activation=spec.activation,
        )
    loss = "ce" if task.family in ("softmax_classification", "rings") else "mse"
    outputs = task.outputs
    sizes = [task.features, *spec.hidden, outputs]
    gain = 1.0 if spec.kind in ("linear", "logistic") else spec.init_gain
    return MLP(sizes, loss, rng, activation=spec.activation, init_gain=gain)


def schedule_factor(recipe: Recipe, step: int, total: int) -> float:
    """The multiplier of the base LR at `step` for every schedule except the plateau one."""
    warmup = int(recipe.warmup_fraction * total)
    if warmup and step < warmup:
        return (step + 1) / warmup
    kind = recipe.schedule
    progress = (step - warmup) / max(1, total - warmup)
    if kind in ("constant", "warmup", "plateau"):
        return 1.0
    if kind == "step":
        return 0.1 ** (int(progress >= 0.5) + int(progress >= 0.75))
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if kind == "linear":
        return 1.0 - progress
    if kind == "onecycle":
        # PyTorch OneCycleLR defaults: 30% cosine ramp from lr/25, then anneal to lr/25e4.
        peak_at = 0.3 * total
        if step <= peak_at:
            start = 1.0 / 25.0
            return start + (1.0 - start) * 0.5 * (1.0 - math.cos(math.pi * step / peak_at))
        end = 1.0 / 25e4
        fraction = (step - peak_at) / (total - peak_at)
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * fraction))
    raise ValueError(f"unknown schedule {kind!r}")


@dataclass
class _PlateauScheduler:
    """ReduceLROnPlateau: cut the LR tenfold after `patience` evaluations without a 0.1% gain."""

    patience: int
    scale: float = 1.0
    best: float = np.inf
    waited: int = 0

    def update(self, val_loss: float) -> None:
        if val_loss < self.best * (1.0 - 1e-3):
            self.best, self.waited = val_loss, 0
            return
        self.waited += 1
        if self.waited > self.patience:
            self.scale *= 0.1
            self.waited = 0


def evaluation_interval(recipe: Recipe) -> int:
    """Steps between evaluations: every epoch (at most ~60 times), or ~20 times a short run."""
    per_epoch = recipe.steps_per_epoch
    if recipe.epochs >= 10:
        return per_epoch * max(1, math.ceil(recipe.epochs / 60))
    return max(1, (recipe.epochs * per_epoch) // 20)


def train(recipe: Recipe) -> TrainingResult:
    """Train the recipe's model for real and return what each step and evaluation measured."""
    data = prepare_data(recipe)
    rng = np.random.default_rng([recipe.seed, 3])
    model = build_model(recipe, rng)
    optimizer = OPTIMIZERS[recipe.optimizer]()
    plateau = _PlateauScheduler(recipe.plateau_patience)
    per_epoch = recipe.steps_per_epoch
    total = recipe.epochs * per_epoch
    eval_every = evaluation_interval(recipe)
    losses, norms, rates = (np.full(total, np.nan) for _ in range(3))
    eval_steps: list[int] = []
    val_losses: list[float] = []
    train_losses: list[float] = []

    def evaluate(step: int) -> None:
        eval_steps.append(step)
        val_losses.append(model.loss(data.x_val, data.y_val))
        train_losses.append(model.loss(data.x_train, data.y_train))
        if recipe.schedule == "plateau" and step:
            plateau.update(val_losses[-1])

    stopped_at = None
    with np.errstate(all="ignore"):
        evaluate(0)
        for step in range(total):
            index = step % per_epoch
            if index == 0:
                order = rng.permutation(recipe.task.n_train) if recipe.shuffle else None
            lr = recipe.lr * plateau.scale * schedule_factor(recipe, step, total)
            rows = slice(index * recipe.batch_size, (index + 1) * recipe.batch_size)
            picked = order[rows] if order is not None else np.arange(recipe.task.n_train)[rows]
            loss, grads = model.loss_and_grads(data.x_train[picked], data.y_train[picked])
            norm = global_norm(grads)
            losses[step], norms[step], rates[step] = loss, norm, lr
            if recipe.stop_on_nan and not np.isfinite(loss):
                stopped_at = step
                break
            if recipe.clip is not None:
                grads = clip_by_global_norm(grads, recipe.clip, norm)
            optimizer.step(model.params, grads, lr)
            if (step + 1) % eval_every == 0 or step + 1 == total:
                evaluate(step + 1)
    end = total if stopped_at is None else stopped_at + 1
    return TrainingResult(
        recipe=recipe,
        loss=losses[:end],
        grad_norm=norms[:end],
        lr=rates[:end],
        eval_steps=np.asarray(eval_steps, dtype=np.int64),
        val_loss=np.asarray(val_losses),
        train_loss_full=np.asarray(train_losses),
        stopped_at=stopped_at,
    )
