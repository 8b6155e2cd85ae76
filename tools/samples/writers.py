"""Write a logged run the way each framework's own logger lays it out on disk.

TensorBoard files hold the events torch's `SummaryWriter` writes, MLflow stores from the real
`mlflow` client; the CSV and JSON layouts follow the files those frameworks write (see the
real examples under the shared fixtures). Wall times follow a simulated clock (a fixed
start plus a fixed time per step), so reruns write the same CSV and JSON bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from tools.samples.logview import GRAD_NORM, LR, TRAIN_LOSS, VAL_LOSS, LogPlan, Series
from tools.samples.training import Recipe

FORMATS = (
    "tensorboard",
    "keras_tensorboard",
    "mlflow",
    "lightning_csv",
    "keras_csv",
    "wide_csv",
    "long_csv",
    "wandb_csv",
    "hf_trainer_state",
)

TENSORBOARD_TAGS = (
    {TRAIN_LOSS: "train/loss", VAL_LOSS: "val/loss", GRAD_NORM: "train/grad_norm", LR: "train/lr"},
    {TRAIN_LOSS: "Loss/train", VAL_LOSS: "Loss/val", GRAD_NORM: "grad_norm", LR: "learning_rate"},
    {TRAIN_LOSS: "loss", VAL_LOSS: "val_loss", GRAD_NORM: "grad_norm", LR: "lr"},
    {
        TRAIN_LOSS: "training_loss",
        VAL_LOSS: "validation_loss",
        GRAD_NORM: "gradient_norm",
        LR: "lr",
    },
)
MLFLOW_METRICS = (
    {TRAIN_LOSS: "train_loss", VAL_LOSS: "val_loss", GRAD_NORM: "grad_norm", LR: "learning_rate"},
    {TRAIN_LOSS: "loss", VAL_LOSS: "val_loss", GRAD_NORM: "grad_norm", LR: "lr"},
    {TRAIN_LOSS: "loss", VAL_LOSS: "eval_loss", GRAD_NORM: "grad_norm", LR: "learning_rate"},
)
LIGHTNING_COLUMNS = (
    {TRAIN_LOSS: "train_loss", VAL_LOSS: "val_loss", GRAD_NORM: "grad_2.0_norm_total"},
    {TRAIN_LOSS: "train/loss", VAL_LOSS: "val/loss", GRAD_NORM: "grad_2.0_norm_total"},
)
WIDE_COLUMNS = (
    {TRAIN_LOSS: "loss", VAL_LOSS: "val_loss", GRAD_NORM: "grad_norm", LR: "lr"},
    {TRAIN_LOSS: "train_loss", VAL_LOSS: "valid_loss", GRAD_NORM: "gnorm", LR: "learning_rate"},
)
LONG_METRICS = {TRAIN_LOSS: "train_loss", VAL_LOSS: "val_loss", GRAD_NORM: "grad_norm", LR: "lr"}
OPTIMIZER_CLASS = {"sgd": "SGD", "momentum": "SGD", "adam": "Adam"}


@dataclass(frozen=True)
class LoggedRun:
    """A run as a logger saw it: what to write, where, and the simulated clock."""

    plan: LogPlan
    view: dict[str, Series]
    recipe: Recipe
    steps_done: int
    start_time: float
    seconds_per_step: float

    def wall_times(self, steps: np.ndarray) -> np.ndarray:
        if self.plan.cadence == "epoch":
            steps = (steps + 1) * self.recipe.steps_per_epoch
        return self.start_time + steps * self.seconds_per_step

    @property
    def end_time(self) -> float:
        return self.start_time + self.steps_done * self.seconds_per_step + 2.0

    def params(self) -> dict[str, str]:
        """The hyper-parameters a user would log: lr, batch size, optimiser and friends."""
        recipe = self.recipe
        values = {
            "lr": recipe.lr,
            "batch_size": recipe.batch_size,
            "optimizer": recipe.optimizer,
            "epochs": recipe.epochs,
            "scheduler": recipe.schedule,
        }
        if recipe.optimizer == "momentum":
            values["momentum"] = 0.9
        if recipe.clip is not None:
            values["gradient_clip_val"] = recipe.clip
        return {key: str(value) for key, value in values.items()}


def _float_text(value: float) -> str:
    """A logged float as Python prints it after a float32 round trip (as frameworks log).

    Past float32's range that is inf, as in a framework whose loss tensor is float32.
    """
    with np.errstate(over="ignore"):
        return repr(float(np.float32(value)))


def _csv_text(rows: Iterable[Iterable], line_end: str, quote_all: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, lineterminator=line_end, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    writer.writerows(rows)
    return buffer.getvalue()


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _tensorboard_scalars(
    directory: Path, series: dict[str, Series], run: LoggedRun, name: str
) -> None:
    """Scalar events as torch's and tensorboardX's `add_scalar` record them, written with
    tensorboard's own record writer (tensorboard is a dependency of lrdoctor; tensorboardX
    is only a test extra), straight to a stable name instead of one with the host name."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / name, "wb") as handle:
        writer = RecordWriter(handle)
        start = Event(wall_time=run.start_time, file_version="brain.Event:2")
        writer.write(start.SerializeToString())
        for tag, points in series.items():
            for step, value, wall in zip(
                points.steps, points.values, run.wall_times(points.steps), strict=True
            ):
                scalar = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
                event = Event(wall_time=float(wall), step=int(step), summary=scalar)
                writer.write(event.SerializeToString())


def write_tensorboard(root: Path, run: LoggedRun) -> None:
    """A PyTorch-style run directory: one event file, one tag per series."""
    tags = TENSORBOARD_TAGS[run.plan.style % len(TENSORBOARD_TAGS)]
    series = {tags[key]: points for key, points in run.view.items()}
    directory = root / run.plan.name
    stamp = int(run.start_time)
    _tensorboard_scalars(
        directory, series, run, f"events.out.tfevents.{stamp}.gpu-node{run.plan.style}"
    )


def write_keras_tensorboard(root: Path, run: LoggedRun) -> None:
    """The Keras TensorBoard callback's layout: train/ and validation/ with `epoch_loss`."""
    directory = root / run.plan.name
    stamp = int(run.start_time)
    train = {"epoch_loss": run.view[TRAIN_LOSS]}
    if LR in run.view:
        train["epoch_learning_rate"] = run.view[LR]
    _tensorboard_scalars(
        directory / "train", train, run, f"events.out.tfevents.{stamp}.workstation.4242.0.v2"
    )
    if VAL_LOSS in run.view:
        validation = {"epoch_loss": run.view[VAL_LOSS]}
        _tensorboard_scalars(
            directory / "validation",
            validation,
            run,
            f"events.out.tfevents.{stamp + 7}.workstation.4242.1.v2",
        )


def write_lightning_csv(root: Path, run: LoggedRun) -> None:
    """Lightning CSVLogger: sparse rows (one per log call), sorted header, plus hparams.yaml."""
    columns = dict(LIGHTNING_COLUMNS[run.plan.style % len(LIGHTNING_COLUMNS)])
    columns[LR] = f"lr-{OPTIMIZER_CLASS[run.recipe.optimizer]}"
    per_epoch = run.recipe.steps_per_epoch
    rows: list[tuple[int, int, dict[str, str]]] = []
    train = run.view[TRAIN_LOSS]
    for position, (step, value) in enumerate(zip(train.steps, train.values, strict=True)):
        step = int(step)
        if LR in run.view:
            rows.append(
                (
                    step,
                    0,
                    {"step": str(step), columns[LR]: _float_text(run.view[LR].values[position])},
                )
            )
        row = {
            "epoch": str(step // per_epoch),
            "step": str(step),
            columns[TRAIN_LOSS]: _float_text(value),
        }
        if GRAD_NORM in run.view:
            row[columns[GRAD_NORM]] = _float_text(run.view[GRAD_NORM].values[position])
        rows.append((step, 1, row))
    if VAL_LOSS in run.view:
        for step, value in zip(run.view[VAL_LOSS].steps, run.view[VAL_LOSS].values, strict=True):
            step = int(step)
            epoch = (step + 1) // per_epoch - 1
            rows.append(
                (
                    step,
                    2,
                    {"epoch": str(epoch), "step": str(step), columns[VAL_LOSS]: _float_text(value)},
                )
            )
    rows.sort(key=lambda item: (item[0], item[1]))
    header = sorted({key for _, _, row in rows for key in row})
    table = [header] + [[row.get(key, "") for key in header] for _, _, row in rows]
    directory = root / run.plan.name
    _write_text(
        directory / "metrics.csv", _csv_text(table, "\r\n" if run.plan.style == 0 else "\n")
    )
    hparams = {key: yaml.safe_load(value) for key, value in run.params().items()}
    _write_text(directory / "hparams.yaml", yaml.safe_dump(hparams, sort_keys=True))


def write_keras_csv(root: Path, run: LoggedRun) -> None:
    """Keras CSVLogger's `training.log`: epoch then sorted metric names, CRLF line ends."""
    lr_name = "lr" if run.plan.style % 2 == 0 else "learning_rate"
    names = {TRAIN_LOSS: "loss", VAL_LOSS: "val_loss", LR: lr_name}
    columns = sorted(names[key] for key in run.view)
    by_name = {
        names[key]: dict(zip(points.steps.tolist(), points.values, strict=True))
        for key, points in run.view.items()
    }
    epochs = run.view[TRAIN_LOSS].steps.tolist()
    table = [["epoch", *columns]]
    for epoch in epochs:
        table.append(
            [str(epoch)]
            + [
                _float_text(by_name[name][epoch]) if epoch in by_name[name] else ""
                for name in columns
            ]
        )
    _write_text(root / run.plan.name, _csv_text(table, "\r\n"))


def write_wide_csv(root: Path, run: LoggedRun) -> None:
    """A hand-rolled training loop's CSV: one row per logged step, one column per metric."""
    names = WIDE_COLUMNS[run.plan.style % len(WIDE_COLUMNS)]
    index_name = "epoch" if run.plan.cadence == "epoch" else "step"
    keys = [key for key in (TRAIN_LOSS, VAL_LOSS, LR, GRAD_NORM) if key in run.view]
    by_key = {
        key: dict(zip(run.view[key].steps.tolist(), run.view[key].values, strict=True))
        for key in keys
    }
    steps = sorted(set().union(*(points.keys() for points in by_key.values())))
    table = [[index_name] + [names[key] for key in keys]]
    for step in steps:
        table.append(
            [str(step)]
            + [repr(float(by_key[key][step])) if step in by_key[key] else "" for key in keys]
        )
    _write_text(root / run.plan.name, _csv_text(table, "\n"))


def write_long_csv(root: Path, run: LoggedRun) -> None:
    """A tidy export: one row per (metric, step, value)."""
    table = [["metric", "step", "value"]]
    for key in (TRAIN_LOSS, VAL_LOSS, LR, GRAD_NORM):
        if key in run.view:
            points = run.view[key]
            table.extend(
                [LONG_METRICS[key], str(int(step)), repr(float(value))]
                for step, value in zip(points.steps, points.values, strict=True)
            )
    _write_text(root / run.plan.name, _csv_text(table, "\n"))


def write_wandb_csv(root: Path, run: LoggedRun, display_name: str) -> None:
    """A W&B chart export: Step, then the run's value with its __MIN and __MAX columns."""
    metric = "train/loss" if run.plan.style % 2 == 0 else "loss"
    column = f"{display_name} - {metric}"
    table = [["Step", column, f"{column}__MIN", f"{column}__MAX"]]
    points = run.view[TRAIN_LOSS]
    for step, value in zip(points.steps, points.values, strict=True):
        text = repr(float(value))
        table.append([str(int(step)), text, text, text])
    _write_text(root / run.plan.name, _csv_text(table, "\n", quote_all=True))


def _hf_epoch(step: int, per_epoch: int, old_format: bool) -> float:
    epoch = step / per_epoch
    return round(epoch, 2) if old_format else epoch


def write_hf_trainer_state(root: Path, run: LoggedRun) -> None:
    """The Trainer's `trainer_state.json`, as `TrainerState.save_to_json` writes it."""
    old_format = run.plan.style % 2 == 1
    recipe = run.recipe
    per_epoch = recipe.steps_per_epoch
    history: list[dict] = []
    train = run.view[TRAIN_LOSS]
    for position, (step, loss) in enumerate(zip(train.steps, train.values, strict=True)):
        entry = {
            "epoch": _hf_epoch(int(step), per_epoch, old_format),
            "learning_rate": float(run.view[LR].values[position]),
            "loss": float(loss),
            "step": int(step),
        }
        if GRAD_NORM in run.view and not old_format:
            entry["grad_norm"] = float(run.view[GRAD_NORM].values[position])
        history.append(entry)
    if VAL_LOSS in run.view:
        eval_seconds = 0.4 + 0.0002 * recipe.task.n_val
        for step, value in zip(run.view[VAL_LOSS].steps, run.view[VAL_LOSS].values, strict=True):
            history.append(
                {
                    "epoch": _hf_epoch(int(step), per_epoch, old_format),
                    "eval_loss": float(value),
                    "eval_runtime": round(eval_seconds, 4),
                    "eval_samples_per_second": round(recipe.task.n_val / eval_seconds, 3),
                    "eval_steps_per_second": round(
                        recipe.task.n_val / recipe.batch_size / eval_seconds, 3
                    ),
                    "step": int(step),
                }
            )
    history.sort(key=lambda entry: (entry["step"], "eval_loss" in entry))
    runtime = run.steps_done * run.seconds_per_step
    total_steps = run.steps_done
    history.append(
        {
            "epoch": _hf_epoch(total_steps, per_epoch, old_format),
            "step": total_steps,
            "total_flos": float(total_steps * recipe.batch_size * 1000),
            "train_loss": float(np.mean(train.values)),
            "train_runtime": round(runtime, 4),
            "train_samples_per_second": round(total_steps * recipe.batch_size / runtime, 3),
            "train_steps_per_second": round(total_steps / runtime, 3),
        }
    )
    state = {
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": total_steps / per_epoch,
        "global_step": total_steps,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "max_steps": recipe.epochs * per_epoch,
        "num_train_epochs": recipe.epochs,
        "total_flos": float(total_steps * recipe.batch_size * 1000),
        "train_batch_size": recipe.batch_size,
        "trial_name": None,
        "trial_params": None,
    }
    if not old_format:
        state.update(
            {
                "best_global_step": None,
                "eval_steps": per_epoch,
                "logging_steps": run.plan.every,
                "num_input_tokens_seen": 0,
                "save_steps": 500,
                "stateful_callbacks": {
                    "TrainerControl": {
                        "args": {
                            "should_epoch_stop": False,
                            "should_evaluate": False,
                            "should_log": False,
                            "should_save": True,
                            "should_training_stop": True,
                        },
                        "attributes": {},
                    }
                },
            }
        )
    _write_text(
        root / run.plan.name / "trainer_state.json",
        json.dumps(state, indent=2, sort_keys=True) + "\n",
    )


def write_mlflow_store(store: Path, runs: list[tuple[LoggedRun, str]]) -> None:
    """Log each (run, experiment name) through the real MLflow client into a file store.

    MLflow records absolute artifact paths; they are rewritten to the store-relative form
    (`./mlruns/<id>`) so no path of the generating machine ends up in the committed files.
    """
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    store.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    experiments: dict[str, str] = {}
    for run, experiment in runs:
        if experiment not in experiments:
            experiments[experiment] = client.create_experiment(experiment)
        names = MLFLOW_METRICS[run.plan.style % len(MLFLOW_METRICS)]
        created = client.create_run(
            experiments[experiment], start_time=int(run.start_time * 1000), run_name=run.plan.name
        )
        metrics = [
            Metric(names[key], float(value), int(wall * 1000), int(step))
            for key, points in run.view.items()
            for step, value, wall in zip(
                points.steps, points.values, run.wall_times(points.steps), strict=True
            )
        ]
        for start in range(0, len(metrics), 1000):
            client.log_batch(created.info.run_id, metrics=metrics[start : start + 1000])
        client.log_batch(created.info.run_id, params=[Param(k, v) for k, v in run.params().items()])
        client.set_terminated(created.info.run_id, "FINISHED", end_time=int(run.end_time * 1000))
    absolute = store.resolve().as_uri()
    for meta in store.rglob("meta.yaml"):
        text = meta.read_text(encoding="utf-8")
        relative = text.replace(absolute, "./mlruns").replace(str(store.resolve()), "./mlruns")
        if relative != text:
            meta.write_text(relative, encoding="utf-8")
