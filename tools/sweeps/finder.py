"""LR range tests on the set-ups of some sample sweeps: the LR grows exponentially every
step, as in fastai's and Lightning's `lr_find`, and training stops once the smoothed loss
exceeds four times its minimum (their stop_div / early_stop_threshold). The run is written
through a framework logger; the sweep of the same set-up measured the best LR by training.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from tools.corpus import writers
from tools.corpus.models import build_model
from tools.corpus.runlog import Point, RunLog
from tools.corpus.train import OPTIMIZERS, Setup, _loss_fn
from tools.sweeps.generate import SWEEPS, SweepSpec

BETA = 0.98  # the recorders' smoothing
STOP_AT = 4.0


@dataclass(frozen=True)
class FinderSpec:
    """A range test over `lr_min`..`lr_max` in `steps` steps on the set-up of `sweep`."""

    sweep: str
    logger: str
    lr_min: float = 1e-6
    lr_max: float = 10.0
    steps: int = 200


FINDERS = (
    FinderSpec("spiral-mlp-sgd", "lightning_csv"),
    FinderSpec("images-cnn-adam", "tensorboardx"),
    FinderSpec("blobs-mlp-adam", "plain_csv"),
)


def range_test(spec: SweepSpec, finder: FinderSpec) -> RunLog:
    """Train `spec`'s model from its initialisation with the LR ramped up exponentially."""
    setup = Setup(spec.task, spec.model, spec.optimizer, finder.lr_min, spec.batch_sizes[0],
                  seed=spec.seed)  # fmt: skip
    torch.manual_seed(setup.seed)
    data = setup.data
    inputs = data.x_train.shape[-1] if data.loss != "lm" else 0
    model = build_model(setup.model, inputs, data.outputs, data.vocab, setup.task.seq_len)
    cls, extra = OPTIMIZERS[setup.optimizer]
    opt = cls(model.parameters(), lr=finder.lr_min, **extra)
    loss_fn = _loss_fn(data.loss)
    n, batch = data.x_train.shape[0], setup.batch_size
    per_epoch = n // batch
    gen = torch.Generator().manual_seed(setup.seed + 99)
    ratio = (finder.lr_max / finder.lr_min) ** (1 / (finder.steps - 1))
    points, average, best = [], 0.0, math.inf
    order = torch.randperm(n, generator=gen)
    for step in range(finder.steps):
        if step and step % per_epoch == 0:
            order = torch.randperm(n, generator=gen)
        lr = finder.lr_min * ratio**step
        for group in opt.param_groups:
            group["lr"] = lr
        first = (step % per_epoch) * batch
        index = order[first : first + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(data.x_train[index]), data.y_train[index])
        loss.backward()
        opt.step()
        value = float(loss.detach())
        points.append(Point(step + 1, round((step + 1) / per_epoch, 6), value, lr=lr))
        average = BETA * average + (1 - BETA) * value
        smooth = average / (1 - BETA ** (step + 1))
        best = min(best, smooth)
        if not math.isfinite(smooth) or smooth > STOP_AT * best:
            break
    params = {"task": f"{spec.name}-lr-find", "model": spec.model.family,
              "optimizer": spec.optimizer, "batch_size": batch, "lr_find": "exponential",
              "lr_min": finder.lr_min, "lr_max": finder.lr_max}  # fmt: skip
    return RunLog(f"{spec.name}-lr-find", "step", 1, per_epoch, points, [], params)


def generate_finders(out: Path) -> list[dict]:
    """Write every range test under OUT/finders/<sweep>/; their truth entries."""
    specs = {spec.name: spec for spec in SWEEPS}
    truths = []
    for finder in FINDERS:
        spec = specs[finder.sweep]
        log = range_test(spec, finder)
        writers.write(finder.logger, out / "finders" / finder.sweep, log)
        print(f"{log.name}: {len(log.points)} steps, last lr {log.points[-1].lr:.3g}", flush=True)
        truths.append({"finder": log.name, "path": f"finders/{finder.sweep}", **asdict(finder)})
    return truths
