"""Lay out a `RunLog` on disk through each framework's own writer, as a user of it would.

Every logger calls the real library (SummaryWriter, Lightning's loggers, Keras callbacks,
`TrainerState.save_to_json`, `MlflowClient`), so the corpus holds what those libraries write,
not an imitation. Only the W&B export and the plain CSV, which no library writes, use `csv`.
Tag names vary between runs, chosen from the run name's hash among names the frameworks and
their users really use, so a corpus exercises the spellings lrdoctor must recognise.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from tools.corpus.runlog import CADENCES, RunLog

LOGGERS: tuple[str, ...] = (
    "torch_tensorboard",
    "tensorboardx",
    "lightning_csv",
    "lightning_tensorboard",
    "keras_csv",
    "keras_tensorboard",
    "hf_trainer",
    "mlflow_folder",
    "mlflow_sqlite",
    "wandb_csv",
    "plain_csv",
)

# Keras logs once per epoch; the Trainer logs the mean loss since its last log (every step
# when logging_steps=1, per epoch with logging_strategy="epoch") but never one sampled step,
# nor a smoothed loss (ema), a mean since the epoch began (running_mean) or the last
# mini-batch's loss once per epoch (last_batch: a hand-written loop's print). The other
# writers record whatever value the training loop hands them, smoothed ones included (fastai's
# TensorBoard and W&B callbacks log its smoothed loss; Lightning or a hand-written loop a
# per-epoch running mean; MLflow's Keras callback the batch-level running mean).
_CADENCES_OF = {"keras_csv": ("epoch",), "keras_tensorboard": ("epoch",)}
_CADENCES_OF["hf_trainer"] = ("step", "interval_mean", "epoch")

# (train loss, val loss, grad norm, lr) as PyTorch users name them in TensorBoard;
# the last is what transformers' TensorBoard callback writes.
TENSORBOARD_TAGS = (
    ("Loss/train", "Loss/val", "grad_norm", "lr"),
    ("train/loss", "val/loss", "train/grad_norm", "train/lr"),
    ("loss", "val_loss", "grad_norm", "learning_rate"),
    ("train/loss", "eval/loss", "train/grad_norm", "train/learning_rate"),
)
# add_scalars(main_tag, {key: value}) puts each key in a sub-folder; lrdoctor folds it back.
ADD_SCALARS_TAG = "loss"
MLFLOW_METRICS = (
    ("train_loss", "val_loss", "grad_norm", "lr"),
    ("loss", "val_loss", "grad_norm", "learning_rate"),
    ("train/loss", "val/loss", "train/grad_norm", "train/lr"),
    ("loss", "eval_loss", "grad_norm", "learning_rate"),
)
# self.log names in a LightningModule; on_step and on_epoch both True add _step / _epoch.
LIGHTNING_NAMES = (("train_loss", "val_loss"), ("train/loss", "val/loss"))
LIGHTNING_GRAD_NORM = "grad_2.0_norm_total"  # lightning.pytorch.utilities.grad_norm, 2-norm
OPTIMIZER_CLASSES = {
    "sgd": "SGD",
    "momentum": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adamax": "Adamax",
    "adadelta": "Adadelta",
    "asgd": "ASGD",
    "amsgrad": "Adam",
    "lion": "Lion",
    "rmsprop_centered": "RMSprop",
    "nadamw": "NAdam",
    "lamb": "LAMB",
    "lars": "LARS",
    "adabelief": "AdaBelief",
    "yogi": "Yogi",
    "adan": "Adan",
    "madgrad": "MADGRAD",
}
# (x axis, train loss, val loss, grad norm, lr); the second is the transformers integration.
WANDB_COLUMNS = (
    ("Step", "train/loss", "val/loss", "train/grad_norm", "train/lr"),
    ("train/global_step", "train/loss", "eval/loss", "train/grad_norm", "train/learning_rate"),
    ("Step", "loss", "val_loss", "grad_norm", "lr"),
)
PLAIN_CSV_COLUMNS = (
    ("step", "loss", "val_loss", "grad_norm", "lr"),
    ("iteration", "train_loss", "valid_loss", "grad_norm", "learning_rate"),
    ("global_step", "train/loss", "val/loss", "train/grad_norm", "train/lr"),
)
# The Trainer times its evaluations and training; a RunLog records no timings, so the
# state files carry these nominal figures in the places the Trainer puts real ones.
HF_EVAL_TIMINGS = {
    "eval_runtime": 0.05,
    "eval_samples_per_second": 5120.0,
    "eval_steps_per_second": 40.0,
}
HF_SECONDS_PER_STEP = 0.01
HF_SAVE_TOTAL_LIMIT = 2


def cadences(logger: str) -> tuple[str, ...]:
    """The RunLog cadences `logger` can record as its framework would log them."""
    if logger not in LOGGERS:
        raise ValueError(f"unknown logger {logger!r}; known: {', '.join(LOGGERS)}")
    return _CADENCES_OF.get(logger, CADENCES)


def write(logger: str, root: Path, log: RunLog) -> None:
    """Write `log` under `root` as `logger` lays out a run; runs written to one root with an
    MLflow logger accumulate in one store."""
    if log.cadence not in cadences(logger):
        raise ValueError(f"{logger} does not log {log.cadence!r} cadence runs (see cadences())")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with _quiet():
        _WRITERS[logger](root, log)


def _variant(log: RunLog, aspect: str, options: tuple):
    """One of `options`, fixed for a run name (crc32, not hash(): stable across processes)."""
    return options[zlib.crc32(f"{aspect}:{log.name}".encode()) % len(options)]


def _float32(value: float) -> float:
    """A value as a float32 tensor's `.item()` returns it (losses and norms are float32)."""
    with np.errstate(over="ignore"):
        return float(np.float32(value))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the libraries' progress logs and warnings (Lightning, MLflow, alembic, TF).

    TensorFlow's variables stay set: it reads them once, at its first import."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow (imported by Keras' and, when installed, PyTorch's TensorBoard writers)
    # announces oneDNN at import whatever the log level; only tf.summary is used here.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    names = ("lightning", "lightning.pytorch", "lightning.fabric", "mlflow", "alembic")
    names += ("tensorboardX", "tensorboardX.x2num", "transformers", "absl", "tensorflow")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _scalar_events(
    log: RunLog, tags: tuple[str, str, str, str], session: int | None = None
) -> list[tuple[str, int, float]]:
    """(tag, step, value) in logging order: each point's signals, then evals at their step;
    a resumed run's second session after its first (only `session`'s, when given)."""
    train, val, grad, lr = tags
    events = []
    for point in log.points:
        if session is not None and point.session != session:
            continue
        events.append((point.session, train, point.step, point.train_loss))
        if point.grad_norm is not None:
            events.append((point.session, grad, point.step, point.grad_norm))
        if point.lr is not None:
            events.append((point.session, lr, point.step, point.lr))
    events += [
        (evaluation.session, val, evaluation.step, evaluation.val_loss)
        for evaluation in log.evals
        if session is None or evaluation.session == session
    ]
    ordered = sorted(events, key=lambda event: (event[0], event[2]))  # stable: ties keep order
    return [(tag, step, value) for _, tag, step, value in ordered]


def _sessions(log: RunLog) -> list[int]:
    """The logging sessions of a run: [0], or [0, 1] for a run resumed from a checkpoint."""
    return sorted({p.session for p in log.points} | {e.session for e in log.evals}) or [0]


def _write_summary_writer(writer_class: Callable, directory: Path, log: RunLog) -> None:
    """PyTorch-style SummaryWriter use: add_scalar per point, or add_scalars for the two
    losses; add_hparams with the final losses for some runs."""
    tags = _variant(log, "tensorboard", TENSORBOARD_TAGS)
    use_add_scalars = _variant(log, "add_scalars", (False, True, False))
    sessions, writer = _sessions(log), None
    for session in sessions:  # a resumed run opens a new writer: a second events file
        if writer is not None:
            writer.close()
            time.sleep(1.05)  # event file names carry the second they were opened in
        writer = writer_class(str(directory))
        only = session if len(sessions) > 1 else None
        for tag, step, value in _scalar_events(log, tags, only):
            if use_add_scalars and tag in tags[:2]:
                key = "train" if tag == tags[0] else "val"
                writer.add_scalars(ADD_SCALARS_TAG, {key: value}, step)
            else:
                writer.add_scalar(tag, value, step)
    if log.params and _variant(log, "hparams", (True, False)):
        # PyTorch's docs name the metrics `hparam/...`; users also reuse their curves' tags.
        keys = _variant(log, "hparam_keys", (("hparam/train_loss", "hparam/val_loss"), tags))
        final = {keys[0]: log.points[-1].train_loss} if log.points else {}
        if log.evals:
            final[keys[1]] = log.evals[-1].val_loss
        writer.add_hparams(dict(log.params), final)
    writer.close()


def _torch_tensorboard(root: Path, log: RunLog) -> None:
    from torch.utils.tensorboard import SummaryWriter

    _write_summary_writer(SummaryWriter, root / "runs" / log.name, log)


def _tensorboardx(root: Path, log: RunLog) -> None:
    from tensorboardX import SummaryWriter

    _write_summary_writer(SummaryWriter, root / log.name, log)


def _lightning_rows(log: RunLog) -> list[tuple[int, dict[str, float | int]]]:
    """(step, metrics) for each `log_metrics` call a Lightning fit would make.

    Lightning logs with step = optimiser steps done minus one (`_batches_that_stepped` before
    its increment), so a point after step s is logged at s - 1. A run logging every step
    with on_step and on_epoch both set gets `<name>_step` and the epoch mean `<name>_epoch`;
    any other cadence logs under the plain name. LearningRateMonitor logs `lr-<Optimizer>`
    at batch start in a row of its own; training-hook rows and validation rows carry `epoch`.
    """
    train, val = _variant(log, "lightning", LIGHTNING_NAMES)
    both = log.cadence == "step"
    optimizer = str(log.params.get("optimizer", "sgd"))
    lr_name = "lr-" + OPTIMIZER_CLASSES.get(optimizer.lower(), optimizer)
    rows: list[tuple[int, int, dict[str, float | int]]] = []
    epoch_losses: dict[int, list[tuple[int, float]]] = {}
    for point in log.points:
        epoch = (point.step - 1) // log.steps_per_epoch
        if point.lr is not None:
            rows.append((point.step - 1, 0, {lr_name: point.lr}))
        metrics: dict[str, float | int] = {
            f"{train}_step" if both else train: _float32(point.train_loss)
        }
        if point.grad_norm is not None:
            metrics[LIGHTNING_GRAD_NORM] = _float32(point.grad_norm)
        metrics["epoch"] = epoch
        rows.append((point.step - 1, 1, metrics))
        epoch_losses.setdefault(epoch, []).append((point.step, point.train_loss))
    for evaluation in log.evals:
        epoch = (evaluation.step - 1) // log.steps_per_epoch
        rows.append((evaluation.step - 1, 2, {val: _float32(evaluation.val_loss), "epoch": epoch}))
    if both:
        for epoch, losses in epoch_losses.items():
            mean = _float32(float(np.mean([loss for _, loss in losses])))
            rows.append((losses[-1][0] - 1, 3, {f"{train}_epoch": mean, "epoch": epoch}))
    return [(step, metrics) for step, _, metrics in sorted(rows, key=lambda row: row[:2])]


def _write_lightning(logger, log: RunLog) -> None:
    if log.params:
        logger.log_hyperparams(dict(log.params))
    for step, metrics in _lightning_rows(log):
        logger.log_metrics(metrics, step=step)
    logger.save()
    logger.finalize("success")


def _lightning_csv(root: Path, log: RunLog) -> None:
    from lightning.pytorch.loggers import CSVLogger

    _write_lightning(CSVLogger(root / "lightning_logs", name=log.name, version=0), log)


def _lightning_tensorboard(root: Path, log: RunLog) -> None:
    from lightning.pytorch.loggers import TensorBoardLogger

    _write_lightning(TensorBoardLogger(root / "lightning_logs", name=log.name, version=0), log)


def _keras_epochs(log: RunLog) -> Iterator[tuple[int, dict[str, float]]]:
    """(epoch index, logs) as `Model.fit` hands them to callbacks at each epoch's end: the
    epoch-mean `loss`, `val_loss` when validation ran then, and the `learning_rate` a
    scheduler callback adds. Keras has no gradient-norm log, so grad norms are not written."""
    val_at = {evaluation.step: evaluation.val_loss for evaluation in log.evals}
    for point in log.points:
        logs = {"loss": _float32(point.train_loss)}
        if point.step in val_at:
            logs["val_loss"] = _float32(val_at[point.step])
        if point.lr is not None:
            logs["learning_rate"] = _float32(point.lr)
        yield math.ceil(point.step / log.steps_per_epoch) - 1, logs


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    return keras


def _keras_csv(root: Path, log: RunLog) -> None:
    keras = _keras()
    directory = root / log.name
    directory.mkdir(parents=True, exist_ok=True)
    callback = keras.callbacks.CSVLogger(str(directory / "training.log"))
    callback.on_train_begin()
    for epoch, logs in _keras_epochs(log):
        callback.on_epoch_end(epoch, logs)
    callback.on_train_end()


def _keras_tensorboard(root: Path, log: RunLog) -> None:
    """Drive the TensorBoard callback as `Model.fit` does, validation included.

    The callback reads the learning rate and step count from the model's optimizer, so a
    one-unit model stands in, its optimizer's rate and iterations set each epoch as training
    would. Keras always logs a rate; a run that logged none gets a model without an
    optimizer, which keeps the callback from logging one the run never had (and with it
    `evaluation_loss_vs_iterations`, which needs the iterations).
    """
    keras = _keras()
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    if any(point.lr is not None for point in log.points):
        model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
    else:
        model.optimizer = None
    callback = keras.callbacks.TensorBoard(str(root / log.name), write_graph=False)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, logs in _keras_epochs(log):
        callback.on_epoch_begin(epoch)
        if model.optimizer is not None:
            model.optimizer.learning_rate = logs["learning_rate"]
            model.optimizer.iterations.assign((epoch + 1) * log.steps_per_epoch)
        if "val_loss" in logs:
            callback.on_test_begin()
            callback.on_test_end({"loss": logs["val_loss"]})
        callback.on_epoch_end(epoch, logs)
    callback.on_train_end()


def _hf_history(log: RunLog) -> list[dict[str, float | int]]:
    """`log_history` as Trainer.log appends it: train logs (`loss` the mean since the last
    log, then `grad_norm`, `learning_rate`), each evaluation after the train log of its step,
    and the end-of-training summary last."""
    entries: list[tuple[int, int, dict[str, float | int]]] = []
    for point in log.points:
        entry: dict[str, float | int] = {"loss": point.train_loss}
        if point.grad_norm is not None:
            entry["grad_norm"] = _float32(point.grad_norm)
        if point.lr is not None:
            entry["learning_rate"] = point.lr
        entries.append((point.step, 0, {**entry, "epoch": point.epoch, "step": point.step}))
    for evaluation in log.evals:
        entry = {"eval_loss": evaluation.val_loss, **HF_EVAL_TIMINGS, "epoch": evaluation.epoch}
        entries.append((evaluation.step, 1, {**entry, "step": evaluation.step}))
    return [entry for _, _, entry in sorted(entries, key=lambda item: item[:2])]


def _hf_summary(log: RunLog, last_step: int, epoch: float) -> dict[str, float | int]:
    """The summary `_finalize_training` logs; `train_loss` is the mean over all steps."""
    logged, previous, total = 0, 0, 0.0
    for point in log.points:
        total += point.train_loss * (point.step - previous)
        logged, previous = logged + (point.step - previous), point.step
    runtime = round(last_step * HF_SECONDS_PER_STEP, 4)
    batch_size = int(log.params.get("batch_size", 1))
    return {
        "train_runtime": runtime,
        "train_samples_per_second": round(last_step * batch_size / runtime, 3),
        "train_steps_per_second": round(last_step / runtime, 3),
        "total_flos": 0.0,
        "train_loss": total / max(logged, 1),
        "epoch": epoch,
        "step": last_step,
    }


def _hf_trainer(root: Path, log: RunLog) -> None:
    """The Trainer's output folder: the last `HF_SAVE_TOTAL_LIMIT` checkpoints (saved at each
    evaluation, or each epoch without evaluations, and at the last step), each with the state
    as saved then; for some runs the final state `trainer.save_state()` writes, and for some
    the TensorBoard logs of report_to="tensorboard"."""
    from transformers import TrainerControl, TrainerState

    output_dir = root / log.name
    history = _hf_history(log)
    last = max([p.step for p in log.points] + [e.step for e in log.evals], default=0)
    if log.evals:
        saves = sorted({evaluation.step for evaluation in log.evals} | {last})
    else:
        saves = sorted(set(range(log.steps_per_epoch, last, log.steps_per_epoch)) | {last})
    intervals = np.diff([0] + sorted({evaluation.step for evaluation in log.evals}))
    eval_steps = int(intervals[0]) if intervals.size else log.every
    batch_size = log.params.get("batch_size")

    def state(step: int, entries: list[dict]) -> TrainerState:
        control = TrainerControl(should_save=True, should_training_stop=step == last)
        return TrainerState(
            epoch=max([entry["epoch"] for entry in entries], default=0.0),
            global_step=step,
            max_steps=last,
            logging_steps=log.every,
            eval_steps=eval_steps,
            save_steps=eval_steps,
            train_batch_size=None if batch_size is None else int(batch_size),
            num_train_epochs=math.ceil(last / log.steps_per_epoch),
            log_history=entries,
            stateful_callbacks=[control],
        )

    for step in saves[-HF_SAVE_TOTAL_LIMIT:]:
        checkpoint = output_dir / f"checkpoint-{step}"
        checkpoint.mkdir(parents=True, exist_ok=True)
        entries = [entry for entry in history if entry["step"] <= step]
        state(step, entries).save_to_json(str(checkpoint / "trainer_state.json"))
    final = state(last, history)
    history.append(_hf_summary(log, last, final.epoch))  # final.log_history is `history`
    if _variant(log, "save_state", (True, False)):
        final.save_to_json(str(output_dir / "trainer_state.json"))
    if _variant(log, "report_to", (False, True, True)):
        _hf_tensorboard(output_dir, final, log)


def _hf_tensorboard(output_dir: Path, state, log: RunLog) -> None:
    """report_to="tensorboard": transformers' TensorBoardCallback given each log_history
    entry as Trainer.log hands it over; it writes under output_dir/runs/<date>_<host>/."""
    from transformers import TrainerControl, TrainingArguments
    from transformers.integrations import TensorBoardCallback

    args = TrainingArguments(
        str(output_dir),
        report_to=["tensorboard"],
        use_cpu=True,
        max_steps=state.max_steps,
        logging_steps=log.every,
        per_device_train_batch_size=state.train_batch_size or 8,
    )
    callback, control = TensorBoardCallback(), TrainerControl()
    history, state.log_history = state.log_history, []
    callback.on_train_begin(args, state, control)
    for entry in history:
        state.global_step = entry["step"]
        logs = {key: value for key, value in entry.items() if key != "step"}
        callback.on_log(args, state, control, logs=logs)
    callback.on_train_end(args, state, control)


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def _write_mlflow(tracking_uri: str, log: RunLog) -> None:
    """One run through MlflowClient, in an experiment named after its task (else the run
    name's first word), as users group runs; metrics in log_batch calls of 1000 points."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_name = str(log.params.get("task") or log.name.split("-")[0] or log.name)
    experiment = client.get_experiment_by_name(experiment_name)
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment(experiment_name)
    )
    run_id = client.create_run(experiment_id, run_name=log.name).info.run_id
    start_ms = int(time.time() * 1000)
    names = _variant(log, "mlflow", MLFLOW_METRICS)
    metrics, offset = [], 0
    for session in _sessions(log):  # a resumed run logs on, later in time, from its checkpoint
        only = session if session or len(_sessions(log)) > 1 else None
        events = _scalar_events(log, names, only)
        metrics += [Metric(tag, float(value), start_ms + offset + step, step)
                    for tag, step, value in events]  # fmt: skip
        offset += max((step for _, step, _ in events), default=0) + 1
    params = [Param(key, str(value)) for key, value in log.params.items()]
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start : start + 100])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    client.set_terminated(run_id)


def _mlflow_folder(root: Path, log: RunLog) -> None:
    # MLflow 3 refuses folder stores unless this is set; users of existing stores set it.
    with _environment("MLFLOW_ALLOW_FILE_STORE", "true"):
        _write_mlflow((root / "mlruns").resolve().as_uri(), log)


def _mlflow_sqlite(root: Path, log: RunLog) -> None:
    _write_mlflow(f"sqlite:///{(root / 'mlflow.db').resolve().as_posix()}", log)


def _write_table(path: Path, header: list[str], rows: list[list[str]], quote_all: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        writer = csv.writer(handle, lineterminator="\n", quoting=quoting)
        writer.writerow(header)
        writer.writerows(rows)


def _wide(events: list[tuple[str, int, float]], columns: list[str]) -> list[list[str]]:
    """One row per logged step; a cell is empty where its signal was not logged."""
    by_step: dict[int, dict[str, float]] = {}
    for tag, step, value in events:
        by_step.setdefault(step, {})[tag] = value
    return [
        [str(step)] + [repr(float(cells[c])) if c in cells else "" for c in columns]
        for step, cells in sorted(by_step.items())
    ]


def _logged_columns(log: RunLog, names: tuple[str, str, str, str]) -> list[str]:
    """The columns of signals this run logged, in the order train, val, grad norm, lr."""
    present = (
        bool(log.points),
        bool(log.evals),
        any(point.grad_norm is not None for point in log.points),
        any(point.lr is not None for point in log.points),
    )
    return [name for name, logged in zip(names, present, strict=True) if logged]


def _wandb_csv(root: Path, log: RunLog) -> None:
    """A W&B line-plot export (Download CSV): the x axis, then per metric `<run> - <metric>`
    with its `__MIN` and `__MAX` bands, every cell quoted."""
    axis, *names = _variant(log, "wandb", WANDB_COLUMNS)
    columns = _logged_columns(log, tuple(names))
    header = [axis]
    for column in columns:
        header += [f"{log.name} - {column}{suffix}" for suffix in ("", "__MIN", "__MAX")]
    rows = [
        [step] + [cell for value in values for cell in (value, value, value)]
        for step, *values in _session_rows(log, tuple(names), columns)
    ]
    _write_table(root / f"wandb_export_{log.name}.csv", header, rows, quote_all=True)


def _plain_csv(root: Path, log: RunLog) -> None:
    """A table a hand-written loop appends to: a step column, then the logged signals."""
    step, *names = _variant(log, "plain", PLAIN_CSV_COLUMNS)
    columns = _logged_columns(log, tuple(names))
    rows = _session_rows(log, tuple(names), columns)
    _write_table(root / f"{log.name}.csv", [step, *columns], rows, quote_all=False)


def _session_rows(log: RunLog, names: tuple, columns: list[str]) -> list[list[str]]:
    """The wide rows of each logging session in turn: a resumed run's loop appends to its
    table, so the steps it trained twice appear twice, in logging order."""
    sessions = _sessions(log)
    if len(sessions) == 1:
        return _wide(_scalar_events(log, names), columns)
    return [row for s in sessions for row in _wide(_scalar_events(log, names, s), columns)]


_WRITERS: dict[str, Callable[[Path, RunLog], None]] = {
    "torch_tensorboard": _torch_tensorboard,
    "tensorboardx": _tensorboardx,
    "lightning_csv": _lightning_csv,
    "lightning_tensorboard": _lightning_tensorboard,
    "keras_csv": _keras_csv,
    "keras_tensorboard": _keras_tensorboard,
    "hf_trainer": _hf_trainer,
    "mlflow_folder": _mlflow_folder,
    "mlflow_sqlite": _mlflow_sqlite,
    "wandb_csv": _wandb_csv,
    "plain_csv": _plain_csv,
}
