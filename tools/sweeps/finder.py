"""LR range tests on the set-ups of the sample sweeps, run as practitioners run them.

Each test trains the model of one sweep from the same initialisation, with the same
optimiser, batch size and batch order, while the LR grows exponentially every step, as
fastai's `Learner.lr_find` (1e-7 to 10 over 100 iterations; the LR of iteration i is
start * (end / start) ** (i / 100)) or Lightning's `Tuner.lr_find` (1e-8 to 1 over 100
steps, its `_ExponentialLR`) drives it, and stops as they stop: when the smoothed loss
exceeds four times its minimum (fastai's stop_div, Lightning's early_stop_threshold),
each library's smoothing and stopping rule reproduced. The raw loss and the LR of every
step are written through a framework logger; the sweep of the same set-up and batch size
measured the best LR by training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from tools.corpus import writers
from tools.corpus.models import build_model
from tools.corpus.runlog import Point, RunLog
from tools.corpus.train import OPTIMIZERS, Setup, _loss_fn
from tools.sweeps.generate import SWEEPS, SweepSpec

BETA = 0.98  # both recorders' smoothing
STOP_AT = 4.0  # fastai's stop_div and Lightning's early_stop_threshold


@dataclass(frozen=True)
class Protocol:
    """A library's `lr_find` defaults: its LR ramp and its stopping rule."""

    name: str
    start_lr: float
    end_lr: float
    num_it: int

    def lr(self, i: int) -> float:
        """The LR of iteration i (0-based)."""
        span = self.end_lr / self.start_lr
        if self.name == "lightning":  # _ExponentialLR: the base LR first, then (i + 1) / N
            return self.start_lr if i == 0 else self.start_lr * span ** ((i + 1) / self.num_it)
        return self.start_lr * span ** (i / self.num_it)  # fastai: SchedExp at i / num_it

    def stops(self, i: int, smooth: float, best: float) -> bool:
        """Whether the test ends after iteration i; `best` already includes `smooth` when
        the library counts it before comparing."""
        if self.name == "lightning":  # compared from its second step on
            return i >= 1 and smooth > STOP_AT * best
        return smooth > STOP_AT * best  # fastai: a NaN never compares above, the test runs on

    def smoothed(self, average: float, i: int) -> float:
        """The debiased moving average after iteration i: fastai divides by 1 - beta^(i+1);
        Lightning by 1 - beta^(global_step + 1), its global_step already i + 1."""
        return average / (1 - BETA ** (i + (2 if self.name == "lightning" else 1)))


FASTAI = Protocol("fastai", 1e-7, 10.0, 100)
LIGHTNING = Protocol("lightning", 1e-8, 1.0, 100)


@dataclass(frozen=True)
class FinderSpec:
    """A range test on the set-up of `sweep` at `batch_size` (its first by default)."""

    sweep: str
    logger: str
    protocol: Protocol = FASTAI
    batch_size: int | None = None


# Every sweep's set-up, one logger each (Keras' CSVLogger logs epochs only: W&B for the GRU);
# Lightning's protocol for the Lightning loggers. Split as their sweeps are split.
FINDERS = (
    FinderSpec("spiral-mlp-sgd", "lightning_csv", LIGHTNING),
    FinderSpec("blobs-mlp-adam", "plain_csv"),
    FinderSpec("regression-mlp-momentum", "mlflow_folder"),
    FinderSpec("images-cnn-adam", "tensorboardx"),
    FinderSpec("regression-overfit-adamw", "torch_tensorboard"),
    FinderSpec("seqreg-gru-rmsprop", "wandb_csv"),
    FinderSpec("blobs-linear-sgd", "hf_trainer"),
    FinderSpec("spiral-resnet-sgd-bs", "mlflow_sqlite", batch_size=16),
    FinderSpec("spiral-resnet-sgd-bs", "mlflow_sqlite", batch_size=128),
    FinderSpec("blobs-mlp-momentum-bs", "lightning_tensorboard", LIGHTNING, batch_size=8),
    FinderSpec("blobs-mlp-momentum-bs", "lightning_tensorboard", LIGHTNING, batch_size=64),
    FinderSpec("regression-resnet-onecycle", "hf_trainer"),
    FinderSpec("images-mixer-nadam", "mlflow_folder"),
    FinderSpec("regression-highway-amsgrad", "torch_tensorboard"),
    FinderSpec("textcls-adagrad", "plain_csv"),
    FinderSpec("spiral-deep-nesterov-bs", "lightning_csv", LIGHTNING, batch_size=16),
    FinderSpec("spiral-deep-nesterov-bs", "lightning_csv", LIGHTNING, batch_size=128),
)


def finder_name(spec: SweepSpec, finder: FinderSpec) -> str:
    """<sweep>-lr-find, with -bs<size> for sweeps over batch size."""
    size = f"-bs{finder.batch_size}" if len(spec.batch_sizes) > 1 else ""
    return f"{spec.name}{size}-lr-find"


def range_test(spec: SweepSpec, finder: FinderSpec) -> tuple[RunLog, bool]:
    """Train `spec`'s model from its initialisation under the protocol's LR ramp; the log,
    and whether the stop rule ended it."""
    protocol = finder.protocol
    torch.manual_seed(spec.seed)  # as tools.corpus.train.train seeds, builds and shuffles
    data = Setup(spec.task, spec.model, spec.optimizer, seed=spec.seed).data
    inputs = data.x_train.shape[-1] if data.loss != "lm" else 0
    model = build_model(
        spec.model, inputs, data.outputs, data.vocab, spec.task.seq_len, data.categorical
    )
    cls, extra = OPTIMIZERS[spec.optimizer]
    opt = cls(model.parameters(), **{"lr": protocol.start_lr, "weight_decay": 0.0} | extra)
    loss_fn = _loss_fn(data.loss)
    n = data.x_train.shape[0]
    batch = finder.batch_size or spec.batch_sizes[0]
    per_epoch = n // batch  # drop_last, as the sweep's runs
    gen = torch.Generator().manual_seed(spec.seed + 99)
    points, average, best = [], 0.0, math.inf
    for i in range(protocol.num_it):
        if i % per_epoch == 0:
            order = torch.randperm(n, generator=gen)
        lr = protocol.lr(i)
        for group in opt.param_groups:
            group["lr"] = lr
        index = order[(i % per_epoch) * batch : (i % per_epoch + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(data.x_train[index]), data.y_train[index])
        loss.backward()
        opt.step()
        value = float(loss.detach())
        points.append(Point(i + 1, round((i + 1) / per_epoch, 6), value, lr=lr))
        average = BETA * average + (1 - BETA) * value
        smooth = protocol.smoothed(average, i)
        if protocol.name == "fastai":  # LRFinder.after_batch: best first, then the check
            best = min(best, smooth)
            stop = protocol.stops(i, smooth, best)
        else:  # _LRCallback: the check, then best (always at its first step)
            stop = protocol.stops(i, smooth, best)
            best = smooth if i == 0 or smooth < best else best
        if stop:
            break
    params = {
        "task": finder_name(spec, finder),
        "model": spec.model.family,
        "optimizer": spec.optimizer,
        "batch_size": batch,
        "lr_find": protocol.name,
        "start_lr": protocol.start_lr,
        "end_lr": protocol.end_lr,
        "num_it": protocol.num_it,
    }
    return RunLog(finder_name(spec, finder), "step", 1, per_epoch, points, [], params), stop


def generate_finders(out: Path, reseed: int = 0) -> list[dict]:
    """Write every range test under OUT/finders/<sweep>/; their truth entries (without the
    best LR, which the sweeps' truth gives). `reseed` moves the seed of the initialisation
    and batch order away from the sweep's, to measure how much a test varies with it."""
    specs = {spec.name: spec for spec in SWEEPS}
    truths = []
    for finder in FINDERS:
        spec = replace(specs[finder.sweep], seed=specs[finder.sweep].seed + reseed)
        log, stopped = range_test(spec, finder)
        writers.write(finder.logger, out / "finders" / spec.name, log)
        print(f"{log.name}: {len(log.points)} steps, last lr {log.points[-1].lr:.3g}", flush=True)
        protocol = finder.protocol
        truths.append(
            {
                "finder": log.name,
                "path": f"finders/{spec.name}",
                "sweep": spec.name,
                "split": spec.split,
                "group": {"batch_size": log.params["batch_size"]}
                if len(spec.batch_sizes) > 1
                else {},
                "logger": finder.logger,
                "protocol": protocol.name,
                "start_lr": protocol.start_lr,
                "end_lr": protocol.end_lr,
                "num_it": protocol.num_it,
                "steps": len(log.points),
                "stopped": stopped,
            }
        )
    return truths
