"""Train each sample sweep over its LR grid, write it through one framework's logger, and
record the ground truth: the LR (per batch size) with the best validation loss at the budget.

The training loop, models, data and writers are tools.corpus's; only the sweep plans, the
on-disk layout of a sweep and the truth file are made here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.corpus import writers
from tools.corpus.data import TaskSpec
from tools.corpus.models import ModelSpec
from tools.corpus.scrub import scrub
from tools.corpus.train import LogPlan, Result, Setup, to_runlog, train

HALF_DECADES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0)


def grid(low: float, points: int) -> tuple[float, ...]:
    """`points` LRs of the 1-3-10 log grid from `low` up."""
    start = HALF_DECADES.index(low)
    return HALF_DECADES[start : start + points]


@dataclass(frozen=True)
class SweepSpec:
    """One sweep: a set-up trained at every LR of `lrs` (and every batch size), one logger.

    `naming` says where a reader can find each run's LR: `params` (MLflow params, TensorBoard
    hparams, `hparams.yaml`), `name` (only the run's name, no LR curve logged), `curve` (only
    the logged LR curve: Trainer output dirs named `trial-<i>`). `decoy` adds one run with
    this other optimiser at the middle LR: it belongs to no sweep.
    """

    name: str
    split: str
    logger: str
    task: TaskSpec
    model: ModelSpec
    optimizer: str
    lrs: tuple[float, ...]
    batch_sizes: tuple[int, ...] = (32,)
    steps: int = 600
    cadence: str = "interval_mean"
    every: int = 5
    naming: str = "params"
    decoy: str | None = None
    seed: int = 0
    schedule: str = "constant"  # tools.corpus.train schedules: the LR swept is the peak


SWEEPS = (
    SweepSpec(
        "spiral-mlp-sgd",
        "dev",
        "mlflow_folder",
        TaskSpec("spiral", classes=3, dim=2, seed=1),
        ModelSpec("mlp", 32, 2, "relu"),
        "sgd",
        grid(1e-3, 8),
    ),
    SweepSpec(
        "blobs-mlp-adam",
        "dev",
        "tensorboardx",
        TaskSpec("blobs", classes=10, dim=6, label_noise=0.05, seed=2),
        ModelSpec("mlp", 64, 2, "tanh"),
        "adam",
        grid(1e-4, 7),
        steps=500,
        every=4,
        decoy="sgd",
    ),
    SweepSpec(
        "regression-mlp-momentum",
        "dev",
        "lightning_csv",
        TaskSpec("regression", dim=8, teacher="mlp", seed=3),
        ModelSpec("mlp", 64, 2, "relu"),
        "momentum",
        grid(1e-4, 7),
    ),
    SweepSpec(
        "images-cnn-adam",
        "dev",
        "hf_trainer",
        TaskSpec("images", classes=4, dim=8, noise=0.2, seed=4),
        ModelSpec("cnn"),
        "adam",
        grid(1e-4, 7),
        steps=500,
        every=10,
        naming="curve",
    ),
    SweepSpec(
        "regression-overfit-adamw",
        "dev",
        "plain_csv",
        TaskSpec("regression", dim=16, teacher="mlp", n_train=96, noise=0.3, seed=5),
        ModelSpec("mlp", 128, 3, "relu"),
        "adamw",
        grid(1e-4, 6),
        steps=800,
        naming="name",
        decoy="sgd",
    ),
    SweepSpec(
        "seqreg-gru-rmsprop",
        "dev",
        "keras_csv",
        TaskSpec("seqreg", dim=4, seq_len=16, n_train=512, seed=6),
        ModelSpec("gru", 32, 1),
        "rmsprop",
        grid(1e-4, 7),
        steps=480,
        cadence="epoch",
        naming="name",
    ),
    SweepSpec(
        "blobs-linear-sgd",
        "dev",
        "wandb_csv",
        TaskSpec("blobs", classes=8, dim=12, seed=7),
        ModelSpec("linear"),
        "sgd",
        grid(1e-3, 8),
        steps=400,
        every=4,
        naming="name",
    ),
    SweepSpec(
        "spiral-resnet-sgd-bs",
        "dev",
        "mlflow_sqlite",
        TaskSpec("spiral", classes=4, dim=2, n_train=1024, seed=8),
        ModelSpec("resnet_mlp", 32, 2, "relu", "layer"),
        "sgd",
        grid(1e-3, 8),
        batch_sizes=(16, 128),
        every=5,
    ),
    SweepSpec(
        "blobs-mlp-momentum-bs",
        "dev",
        "lightning_tensorboard",
        TaskSpec("blobs", classes=5, dim=8, n_train=1024, seed=9),
        ModelSpec("mlp", 32, 2, "relu"),
        "momentum",
        grid(1e-3, 6),
        batch_sizes=(8, 64),
        every=5,
    ),
    SweepSpec(
        "regression-resnet-onecycle",
        "dev",
        "hf_trainer",
        TaskSpec("regression", dim=10, teacher="mlp", noise=0.1, seed=10),
        ModelSpec("resnet_mlp", 32, 2, "gelu", "layer"),
        "adamw",
        grid(1e-4, 7),
        every=10,
        naming="curve",
        schedule="onecycle",
    ),
    # Held out: families and optimisers no dev sweep has; evaluated once, never tuned on.
    SweepSpec(
        "images-mixer-nadam",
        "heldout",
        "mlflow_folder",
        TaskSpec("images", classes=4, dim=8, n_train=1024, noise=0.2, seed=11),
        ModelSpec("mixer", 24, 1, "gelu"),
        "nadam",
        grid(1e-4, 7),
        steps=500,
        every=5,
    ),
    SweepSpec(
        "regression-highway-amsgrad",
        "heldout",
        "torch_tensorboard",
        TaskSpec("regression", dim=12, teacher="mlp", seed=12),
        ModelSpec("highway", 32, 3, "tanh", "layer"),
        "amsgrad",
        grid(1e-4, 7),
    ),
    SweepSpec(
        "textcls-adagrad",
        "heldout",
        "hf_trainer",
        TaskSpec(
            "textcls", classes=3, n_train=1024, seq_len=32, text="shutil+tarfile+logging", seed=13
        ),
        ModelSpec("textcls", 32, 0),
        "adagrad",
        grid(1e-3, 8),
        steps=500,
        every=10,
        naming="curve",
    ),
    SweepSpec(
        "spiral-deep-nesterov-bs",
        "heldout",
        "lightning_csv",
        TaskSpec("spiral", classes=3, dim=2, n_train=1024, seed=14),
        ModelSpec("deep_mlp", 24, 6, "tanh"),
        "nesterov",
        grid(1e-3, 6),
        batch_sizes=(16, 128),
    ),
)


def _run_name(spec: SweepSpec, lr: float, batch_size: int, index: int, optimizer: str) -> str:
    """A name as users give sweep runs; `name` sweeps carry the LR nowhere else."""
    extra = f"_bs{batch_size}" if len(spec.batch_sizes) > 1 else ""
    if optimizer != spec.optimizer:
        extra += f"_{optimizer}"
    if spec.naming == "curve":
        return f"trial-{index}"
    if spec.logger in ("wandb_csv", "plain_csv"):
        return f"{spec.name}-lr{lr:.0e}{extra}"
    return f"lr_{lr:g}{extra}"


def _params(spec: SweepSpec, lr: float, batch_size: int, optimizer: str, steps: int) -> dict:
    # `task` names the MLflow experiment the corpus writer puts the run in: one per sweep.
    return {
        "task": spec.name,
        "model": spec.model.family,
        "optimizer": optimizer,
        "lr": lr,
        "batch_size": batch_size,
        "max_steps": steps,
    }


def _write(spec: SweepSpec, root: Path, log, version: int) -> None:
    """Lightning sweeps are versions of one logger name, as re-running a script makes them."""
    if spec.logger in ("lightning_csv", "lightning_tensorboard"):
        from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

        logger = CSVLogger if spec.logger == "lightning_csv" else TensorBoardLogger
        with writers._quiet():
            writers._write_lightning(logger(root, name=spec.name, version=version), log)
    else:
        writers.write(spec.logger, root, log)


def _best_val(result: Result) -> tuple[float, float]:
    """(best, final) validation loss; a run whose weights broke counts as infinitely bad."""
    val = np.where(np.isfinite(result.val), result.val, np.inf)
    return float(val.min()), float(val[-1]) if not result.abandoned else math.inf


def _sweep(spec: SweepSpec, out: Path) -> list[dict]:
    root = out / spec.split / spec.name
    truths, version = [], 0
    for batch_size in spec.batch_sizes:
        rows = []
        for lr in spec.lrs:
            setup = Setup(
                spec.task,
                spec.model,
                spec.optimizer,
                lr,
                batch_size,
                spec.steps,
                schedule=spec.schedule,
                seed=spec.seed,
            )
            result = train(setup)
            name = _run_name(spec, lr, batch_size, version, spec.optimizer)
            plan = LogPlan(spec.logger, spec.cadence, spec.every, True, spec.naming != "name", True)
            params = _params(spec, lr, batch_size, spec.optimizer, result.planned_steps)
            _write(spec, root, to_runlog(result, plan, name, params), version)
            version += 1
            best, final = _best_val(result)
            rows.append(
                {
                    "lr": lr,
                    "run": name,
                    "best_val_loss": best,
                    "final_val_loss": final,
                    "abandoned": result.abandoned,
                }
            )
            print(f"{spec.name} bs={batch_size} lr={lr:g}: best val {best:.4g}", flush=True)
        finite = [row for row in rows if math.isfinite(row["best_val_loss"])]
        best_lr = min(finite, key=lambda row: row["best_val_loss"])["lr"] if finite else None
        truths.append(
            {
                "sweep": spec.name,
                "split": spec.split,
                "path": f"{spec.split}/{spec.name}",
                "logger": spec.logger,
                "naming": spec.naming,
                "family": spec.model.family,
                "optimizer": spec.optimizer,
                "task": spec.task.kind,
                "steps": spec.steps,
                "schedule": spec.schedule,
                "group": {"batch_size": batch_size} if len(spec.batch_sizes) > 1 else {},
                "lrs": list(spec.lrs),
                "best_lr": best_lr,
                "runs": [{k: _json(v) for k, v in row.items()} for row in rows],
            }
        )
    decoys = []
    if spec.decoy:
        lr, batch_size = spec.lrs[len(spec.lrs) // 2], spec.batch_sizes[0]
        setup = Setup(
            spec.task, spec.model, spec.decoy, lr, batch_size, spec.steps, spec.schedule, seed=1
        )
        result = train(setup)
        name = _run_name(spec, lr, batch_size, version, spec.decoy)
        plan = LogPlan(spec.logger, spec.cadence, spec.every, True, spec.naming != "name", True)
        params = _params(spec, lr, batch_size, spec.decoy, result.planned_steps)
        _write(spec, root, to_runlog(result, plan, name, params), version)
        decoys.append(name)
    for truth in truths:
        truth["decoys"] = decoys
    return truths


def _best_lr(truths: list[dict], finder: dict) -> float | None:
    """The measured best LR of the sweep (and batch size) a range test shares a set-up with."""
    group = {key: str(value) for key, value in finder["group"].items()}
    return next(
        truth["best_lr"]
        for truth in truths
        if truth["sweep"] == finder["sweep"]
        and {key: str(value) for key, value in truth["group"].items()} == group
    )


def _json(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def generate(
    out: str | Path, only: list[str] | None = None, finders: bool = False, reseed: int = 0
) -> None:
    """Train and write the sweeps named in `only` (all by default) and, with `finders`, the
    LR range tests (their seed moved by `reseed`); truth.json keeps the entries of whatever
    was not regenerated."""
    out = Path(out)
    truth_file = out / "truth.json"
    known = json.loads(truth_file.read_text()) if truth_file.is_file() else {}
    found_finders = known.get("finders", [])
    if finders:
        from tools.sweeps.finder import generate_finders

        found_finders = generate_finders(out, reseed)
    known = known.get("sweeps", [])
    chosen = [spec for spec in SWEEPS if only is None or spec.name in only]
    names = {spec.name for spec in chosen}
    truths = [entry for entry in known if entry["sweep"] not in names]
    for spec in chosen:
        truths.extend(_sweep(spec, out))
    order = [spec.name for spec in SWEEPS]
    truths.sort(key=lambda entry: (order.index(entry["sweep"]), str(entry["group"])))
    document = {
        "schema": 1,
        "about": "Ground truth of the sample LR sweeps: for each sweep (and batch size), the "
        "LR whose run reached the lowest validation loss within the budget (a run whose "
        "weights went NaN counts as infinitely bad); for each LR range test, the best LR "
        "of the sweep of its set-up. Made by python -m tools.sweeps.",
        "sweeps": truths,
        "finders": [entry | {"best_lr": _best_lr(truths, entry)} for entry in found_finders],
    }
    truth_file.write_text(json.dumps(document, indent=1) + "\n")
    print(f"machine paths made relative in {scrub(out)} files", flush=True)
