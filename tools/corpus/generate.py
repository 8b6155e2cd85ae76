"""Generate the corpus: plan candidates, train them and their fixes, check, keep, write, label.

Phase one trains each candidate and its counterfactual in worker processes and checks the
label; phase two writes the first N passing candidates per split and verdict (in index
order, so the result does not depend on which worker finished first) through the
framework writers; phase three reads the output back with lrdoctor and keys labels.json by
the names lrdoctor lists.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from tools.corpus.checks import RULES, is_healthy, measure, passes
from tools.corpus.data import hetero_bayes_nll, known_floor
from tools.corpus.recipes import SPLITS, VERDICTS, Candidate, candidate
from tools.corpus.runlog import RunLog
from tools.corpus.scrub import scrub
from tools.corpus.train import LogPlan, Result, to_runlog, train

LOGGERS = {
    "dev": ("torch_tensorboard", "lightning_csv", "mlflow_folder", "hf_trainer", "plain_csv"),
    "heldout": (
        "tensorboardx",
        "lightning_tensorboard",
        "keras_csv",
        "keras_tensorboard",
        "mlflow_sqlite",
        "wandb_csv",
    ),
    "fresh": (
        "plain_csv",
        "torch_tensorboard",
        "mlflow_sqlite",
        "keras_csv",
        "lightning_csv",
        "wandb_csv",
        "tensorboardx",
        "mlflow_folder",
        "keras_tensorboard",
        "lightning_tensorboard",
    ),
    "fresh2": (
        "wandb_csv",
        "mlflow_folder",
        "keras_tensorboard",
        "tensorboardx",
        "plain_csv",
        "lightning_tensorboard",
        "mlflow_sqlite",
        "torch_tensorboard",
        "keras_csv",
        "lightning_csv",
    ),
    "fresh3": (
        "mlflow_sqlite",
        "lightning_csv",
        "plain_csv",
        "keras_tensorboard",
        "tensorboardx",
        "wandb_csv",
        "lightning_tensorboard",
        "mlflow_folder",
        "keras_csv",
        "torch_tensorboard",
    ),
    "fresh4": (
        "tensorboardx",
        "keras_csv",
        "wandb_csv",
        "hf_trainer",
        "mlflow_folder",
        "lightning_tensorboard",
        "plain_csv",
        "keras_tensorboard",
        "mlflow_sqlite",
        "torch_tensorboard",
        "lightning_csv",
    ),
    "fresh5": (
        "mlflow_folder",
        "plain_csv",
        "lightning_tensorboard",
        "torch_tensorboard",
        "keras_tensorboard",
        "wandb_csv",
        "hf_trainer",
        "tensorboardx",
        "lightning_csv",
        "mlflow_sqlite",
        "keras_csv",
    ),
    "fresh6": (
        "keras_tensorboard",
        "wandb_csv",
        "torch_tensorboard",
        "mlflow_sqlite",
        "lightning_csv",
        "hf_trainer",
        "keras_csv",
        "plain_csv",
        "tensorboardx",
        "lightning_tensorboard",
        "mlflow_folder",
    ),
}
LOGGERS["schedules"] = LOGGERS["dev"]  # dev's loggers and cadences (_cadence_options)
# Cadences per logger in each split: dev logs every step, interval means or epoch means;
# held-out logs one sampled step every k, or epoch means for the Keras loggers; fresh logs
# a smoothed loss (ema) or a running mean since the epoch began, the STEP_ONLY labels steps
# or samples, and the Keras loggers epoch means; fresh2 logs the last mini-batch's loss once
# per epoch (last_batch: a hand-written loop's print), the STEP_ONLY labels steps or samples,
# and the Keras loggers epoch means. A fresh2 run of fewer than 10 epochs (too few points
# for last_batch) is logged sampled, as a loop that prints every k steps. fresh3 logs a run
# with gradient accumulation once per optimiser step or every k (accumulated: the mean of
# its micro-batch losses), other runs as interval means or samples (the STEP_ONLY labels:
# steps or samples), the Keras loggers epoch means; where the loop picks the step
# (SAMPLES_AXIS), half of the runs count it in samples seen. fresh4 logs by wall-clock
# interval (the step reached when so many seconds have passed: irregularly spaced steps),
# interval means or samples, every step or by wall clock where the label needs steps, the
# Trainer interval means, the Keras loggers epoch means; where the loop logs by hand
# (SAMPLES_AXIS) a run with gradient accumulation logs its last micro-batch's loss divided by
# the accumulation factor (the loss it called backward on) for two runs in three, and other
# runs log a reduction="sum" loss (the batch size times the mean, val loss alike) for two
# in five. fresh5 logs fastai's debiased EMA of the loss (beta 0.98), interval means,
# samples or the mean since training began (a meter never reset), every step or samples
# where the label needs steps, the Trainer interval means,
# the Keras loggers epoch means; a run stopped and resumed from an earlier checkpoint (one in
# four) logs the steps between twice where its logger keeps both (TensorBoard: a second
# events file; MLflow: a longer history; a CSV the loop appends to), the resumed run's
# points after the stop only in a W&B export (W&B ignores steps below its last), and the
# final run only in the Trainer, Keras and Lightning (their history restored from the
# checkpoint); where the loop logs by hand (SAMPLES_AXIS) a denoiser's loss is summed over
# its pixels and a graph network's over its nodes (per image, per graph) for two runs in five.
# fresh6 logs, for half of the runs that do not need steps, the loop's own evaluation of
# the training slice every k steps (full_eval: the mean loss over a fixed slice of the
# training set in eval mode without gradients, no mini-batch noise), else interval means or
# samples; every step or samples where the label needs steps; the Trainer interval means
# (steps), the Keras loggers epoch means. Its runs train under bf16 autocast one in four.
DEV_CADENCES = {
    "torch_tensorboard": ("step", "interval_mean"),
    "lightning_csv": ("step", "epoch"),
    "mlflow_folder": ("interval_mean", "epoch"),
    "hf_trainer": ("interval_mean",),
    "plain_csv": ("step", "interval_mean", "epoch"),
}
HELDOUT_CADENCES = {"keras_csv": ("epoch",), "keras_tensorboard": ("epoch",)}
STEP_ONLY = ("minibatch_noise", "exploding_gradients")
SAMPLES_AXIS = (
    "torch_tensorboard",
    "tensorboardx",
    "mlflow_folder",
    "mlflow_sqlite",
    "wandb_csv",
    "plain_csv",
)
KERAS = ("keras_csv", "keras_tensorboard")
MAX_POINTS = {"mlflow_folder": 200, "mlflow_sqlite": 100, "hf_trainer": 120}  # bytes on disk
MAX_STEP_POINTS = 1000  # longer runs log interval means or samples, unless the label needs steps
NICE = (1, 2, 5, 10, 20, 25, 50, 100)
MAX_CANDIDATES_RATIO = 3  # give up on a split and verdict after this many candidates per run
RATIO_FOR = {"exploding_gradients": 5}  # spikes that recover sit next to NaN: lower pass rate
# The fresh split's bounces sit between convergence and blow-up (about 1 in 5 passed); its
# crawls from raw units pass about 1 in 4 (8 of 45 before tanh nets were left out)
FRESH_RATIO_FOR = {"oscillating": 6, "poor_feature_scaling": 5}
# fresh2's pass rates are low where only highway nets serve: plain highway nets spike and
# recover or go NaN, adaptive bounces spike the gradient norm, raw-unit runs often reach the
# floor. The seed-7 generation kept 15 of 48 (exploding), 15 of 74 (scaling), 14 of 90
# (oscillating: the limit), 15 of 44 (diverging), 15 of 48 (overfitting).
FRESH2_RATIO_FOR = {
    "exploding_gradients": 8,
    "poor_feature_scaling": 6,
    "oscillating": 6,
    "diverging": 5,
    "overfitting": 5,
}
# fresh3's pass rates are low where the edge is narrow: an Elman RNN spikes 20x only just
# below the LR where it goes NaN, bounces under Nesterov 0.99 or AdamW sit between settling
# and spiking, tabular nets at 10-100x blow up or stall. The seed-11 generation (2499 s on
# 2 workers) trained 374 candidates and kept 16 of 24 healthy, 23 of 64 diverging, 10 of 90
# oscillating (the limit: 7 of 47 Elman, 3 of 43 tabular), 16 of 22 too slow, 17 of 26
# minibatch noise, 16 of 64 exploding, 25 of 58 feature scaling, 16 of 26 overfitting.
FRESH3_RATIO_FOR = {
    "exploding_gradients": 8,
    "poor_feature_scaling": 8,
    "oscillating": 6,
    "diverging": 5,
    "overfitting": 5,
}
# fresh4's pass rates: Lion or centered RMSprop blow up VAEs and taggers more often than
# ViTs (LayerNorm); a ViT bounces at 3-10x its LR only now and then. The seed-13 generation
# (3849 s on 2 workers, on a machine shared with other jobs) trained 257 candidates and kept
# 15 of 20 healthy, 15 of 63 diverging, 15 of 61 oscillating (1 of 33 ViTs), 15 of 18 too
# slow, 15 of 30 minibatch noise, 15 of 21 overfitting, and none of 15 exploding or 15
# feature scaling (stopped as hopeless): the clipped taggers spiked too, or a one-step spike
# was not in the sampled log; raw-unit taggers stalled at 0.4-0.9 of the gap, no crawl.
FRESH4_RATIO_FOR = {
    "exploding_gradients": 5,
    "poor_feature_scaling": 6,
    "oscillating": 8,
    "diverging": 5,
    "overfitting": 5,
}
# fresh5's pass rates: a deep plain Poisson MLP's spikes sit next to NaN (its exp link), and
# its fix clipped at 1 often ends above the unclipped run's low or is too noisy to be
# healthy; an oscillating GCN, denoiser or Poisson model bounces only now and then. The
# seed-17 generation (1160 s on 2 workers, on a machine shared with other jobs) trained
# 319 candidates and kept 15 of 19 healthy, 15 of 28 diverging, 15 of 77 oscillating, 15 of
# 16 too slow, 15 of 25 minibatch noise, 9 of 90 exploding (the limit), 15 of 39 feature
# scaling, 15 of 25 overfitting.
FRESH5_RATIO_FOR = {
    "exploding_gradients": 6,
    "poor_feature_scaling": 6,
    "oscillating": 8,
    "diverging": 5,
    "overfitting": 5,
}
# fresh6's pass rates: a deep plain heteroscedastic MLP's jumps sit between too small (its
# clipped fix's own NLL jumps under 10x) and its fix's jumping too; an oscillating
# recommender bounces or climbs; a heteroscedastic GLM from raw units never moves its
# log-variance's intercept (no crawl, 0 of 15: stopped as hopeless). The seed-19 generation
# (716 s wall, 688 s training, on 2 workers on a machine shared with another generation)
# trained 234 candidates and kept 15 of 18 healthy, 15 of 20 diverging, 15 of 35
# oscillating, 15 of 18 too slow, 15 of 25 minibatch noise, 15 of 45 exploding, 0 of 15
# feature scaling, 15 of 35 overfitting (105 runs). A first seed-19 generation with the
# exploding recipe at LR 0.026-0.078 and noise sd 0.1-0.4 (limit 8) kept 13 of its 120.
FRESH6_RATIO_FOR = {
    "exploding_gradients": 10,
    "poor_feature_scaling": 6,
    "oscillating": 6,
    "diverging": 5,
    "overfitting": 5,
}
RELOGGING = ("torch_tensorboard", "tensorboardx", "plain_csv", "mlflow_folder", "mlflow_sqlite")
ADJECTIVES = ("brave", "calm", "eager", "gentle", "jolly", "lively", "proud", "witty", "bold")
NOUNS = ("otter", "falcon", "maple", "comet", "river", "badger", "lynx", "cedar", "heron")


@dataclass
class Checked:
    """One candidate's outcome, returned from a worker."""

    split: str
    label: str
    index: int
    candidate: Candidate
    logger: str
    plan: LogPlan
    log: RunLog
    passed: bool
    measures: dict
    fix_measures: dict
    fix_healthy: bool
    seconds: float
    resumed: dict | None = None  # a restarted run's checkpoint and stop steps


def _nice_every(steps: int, points: float) -> int:
    wanted = max(steps / points, 1.0)
    return min(NICE, key=lambda n: abs(math.log(n / wanted)))


def _cadence_options(split: str, logger: str, label: str, accumulating: bool) -> tuple[str, ...]:
    if split in ("dev", "schedules"):
        return DEV_CADENCES[logger]
    if split == "heldout":
        return HELDOUT_CADENCES.get(logger, ("sampled",))
    if logger in KERAS:
        return ("epoch",)
    if split == "fresh2":
        return ("step", "sampled") if label in STEP_ONLY else ("last_batch",)
    if split == "fresh3":
        if accumulating:
            return ("accumulated",)
        return ("step", "sampled") if label in STEP_ONLY else ("interval_mean", "sampled")
    if split == "fresh4":
        if logger == "hf_trainer":
            return ("step",) if label in STEP_ONLY else ("interval_mean",)
        if label in STEP_ONLY:
            return ("step", "wall_clock")
        return ("wall_clock", "wall_clock", "interval_mean", "sampled")
    if split == "fresh5":
        if logger == "hf_trainer":
            return ("step",) if label in STEP_ONLY else ("interval_mean",)
        if label in STEP_ONLY:  # a one-step spike is seldom in a sampled log
            return ("step", "step", "sampled")
        return ("ema", "interval_mean", "sampled", "cumulative_mean")
    if split == "fresh6":
        if logger == "hf_trainer":
            return ("step",) if label in STEP_ONLY else ("interval_mean",)
        if label in STEP_ONLY:
            return ("step", "step", "sampled")
        return ("full_eval", "full_eval", "interval_mean", "sampled")
    return ("step", "sampled") if label in STEP_ONLY else ("ema", "running_mean")


def _cadence(split: str, logger: str, label: str, result: Result, rng) -> str | None:
    epochs = result.planned_steps // result.steps_per_epoch
    options = _cadence_options(split, logger, label, result.setup.accumulation > 1)
    most = MAX_POINTS.get(logger, MAX_STEP_POINTS)
    usable = [
        c
        for c in options
        if (c != "epoch" or 10 <= epochs <= 30)
        and (c != "last_batch" or 10 <= epochs <= most)
        and (c != "full_eval" or result.probe is not None)
    ]
    if result.planned_steps > MAX_STEP_POINTS and label not in STEP_ONLY:  # keep files small
        usable = [c for c in usable if c != "step"] or usable
    if label in STEP_ONLY:  # means over an interval or an epoch hide both
        usable = [c for c in usable if c in ("step", "sampled", "accumulated", "wall_clock")]
    return usable[int(rng.integers(len(usable)))] if usable else None


def choose_plan(split: str, label: str, index: int, result: Result, rng) -> LogPlan:
    """The logger (rotating per verdict) and its habits: cadence, interval, series logged."""
    loggers = LOGGERS[split]
    start = (index + 3 * VERDICTS.index(label)) % len(loggers)
    for shift in range(len(loggers)):
        logger = loggers[(start + shift) % len(loggers)]
        cadence = _cadence(split, logger, label, result, rng)
        if cadence:
            break
    if cadence is None and split == "fresh2":  # too few epochs for last_batch anywhere
        logger = next(name for name in loggers[start:] + loggers if name not in KERAS)
        cadence = "sampled"
    steps = result.planned_steps
    target = rng.uniform(100, 300) if label not in STEP_ONLY else rng.uniform(200, 600)
    every = 1 if cadence == "step" else max(2, _nice_every(steps, target))
    if cadence == "accumulated":  # per optimiser step, unless that is too many points
        every = _nice_every(steps, target)
    if cadence == "last_batch":
        every = result.steps_per_epoch
    if cadence == "full_eval":  # as often as the loop evaluates
        every = result.setup.probe_every
    limit = MAX_POINTS.get(logger)
    while limit and cadence not in ("epoch", "last_batch") and steps / every > limit:
        every = NICE[NICE.index(every) + 1] if every in NICE[:-1] else every * 2
        if cadence == "full_eval":  # a multiple of the evaluations' interval
            every = math.ceil(every / result.setup.probe_every) * result.setup.probe_every
    epoch = cadence == "epoch"
    coin = rng.random
    plan = LogPlan(
        logger=logger,
        cadence=cadence,
        every=every,
        grad_norm=not epoch and coin() < (0.8 if label == "exploding_gradients" else 0.5),
        lr=logger == "hf_trainer" or coin() < 0.5,
        val=label == "overfitting" or coin() < 0.6,
    )
    if split == "fresh3" and logger in SAMPLES_AXIS and coin() < 0.5:
        setup = result.setup
        plan = replace(plan, step_size=setup.batch_size * setup.accumulation)
    if split == "fresh4" and logger in SAMPLES_AXIS:
        setup = result.setup
        if setup.accumulation > 1 and coin() < 2 / 3:
            plan = replace(plan, loss_scale=1 / setup.accumulation, last_micro=True)
        elif coin() < 0.4:
            plan = replace(plan, loss_scale=float(setup.batch_size),
                           val_scale=float(setup.batch_size))  # fmt: skip
    if split == "fresh5":
        if result.lost is not None:
            relog = "both" if logger in RELOGGING else ""
            plan = replace(plan, relog="monotonic" if logger == "wandb_csv" else relog)
        family, task = result.setup.model.family, result.setup.task
        if logger in SAMPLES_AXIS and family in ("denoiser", "gcn") and coin() < 0.4:
            per = task.dim**2 if family == "denoiser" else task.seq_len  # pixels, nodes
            plan = replace(plan, loss_scale=float(per), val_scale=float(per))
    return plan


def _name(cand: Candidate, serial: int, rng) -> str:
    """A run name as a person would give it: descriptive or a random word pair."""
    s = cand.setup
    if rng.random() < 0.6:
        return f"{cand.family}-{s.optimizer}-lr{s.lr:.0e}-b{s.batch_size}-{serial:04d}"
    return f"{ADJECTIVES[serial % 9]}-{NOUNS[(serial // 9) % 9]}-{serial:04d}"


def _params(cand: Candidate, result: Result) -> dict:
    """Hyper-parameters as a user would log them."""
    s = cand.setup
    params = {
        "model": cand.family,
        "task": cand.task,
        "optimizer": s.optimizer,
        "lr": s.lr,
        "batch_size": s.batch_size,
        "epochs": result.planned_steps // result.steps_per_epoch,
        "max_steps": result.planned_steps,
        "lr_schedule": s.schedule,
        "weight_decay": s.weight_decay,
        "precision": s.precision,
        "seed": s.seed,
        "width": s.model.width,
        "depth": s.model.depth,
    }
    if s.schedule == "warmup":
        params["warmup_ratio"] = round(s.warmup_fraction, 3)
    if s.clip is not None:
        params["max_grad_norm"] = s.clip
    if s.model.dropout:
        params["dropout"] = s.model.dropout
    if s.accumulation > 1:
        params["gradient_accumulation_steps"] = s.accumulation
    if result.lost is not None:  # as the Trainer's argument names it
        params["resume_from_checkpoint"] = f"checkpoint-{int(result.lost['steps'][0]) - 1}"
    return params


def check_candidate(job: tuple[str, str, int, int, int]) -> Checked:
    """Train one candidate and its fix, log it as its logger would, and check its label."""
    import torch

    torch.set_num_threads(1)
    split, label, index, seed, serial = job
    start = time.perf_counter()
    cand = candidate(split, label, index, seed)
    rng = np.random.default_rng((seed, 7, VERDICTS.index(label), index, len(split)))
    result = train(cand.setup)
    fixed = train(cand.fix) if cand.fix else result
    both = np.concatenate([result.clean, fixed.clean])
    known = known_floor(cand.setup.task)
    floor = float(np.min(both[np.isfinite(both)], initial=np.inf if known is None else known))
    plan = choose_plan(split, label, index, result, rng)
    log = to_runlog(result, plan, _name(cand, serial, rng), _params(cand, result))
    # judged on the mean loss's scale: a logged scale (sum reduction, a divided loss) is a
    # habit of the logger, not of the run (the measures' noise is relative to the clean loss)
    unscaled = replace(plan, loss_scale=1.0, val_scale=1.0)
    seen = log if unscaled == plan else to_runlog(result, unscaled, log.name, log.params)
    fix_log = to_runlog(fixed, unscaled, "fix", {})
    if cand.setup.task.kind == "hetero":  # judged on a positive scale (see _positive)
        offset = HETERO_FLOOR - hetero_bayes_nll(cand.setup.task)
        result, seen, fixed, fix_log = (_positive(result, seen, offset)
                                        + _positive(fixed, fix_log, offset))  # fmt: skip
        both = np.concatenate([result.clean, fixed.clean])
        floor = float(np.min(both[np.isfinite(both)], initial=np.inf))
    m, fm = measure(result, seen, floor), measure(fixed, fix_log, floor)

    return Checked(
        split=split,
        label=label,
        index=index,
        candidate=cand,
        logger=plan.logger,
        plan=plan,
        log=log,
        passed=passes(label, m, fm, cand.variant),
        measures=m.as_dict(),
        fix_measures=fm.as_dict(),
        fix_healthy=is_healthy(fm),
        seconds=time.perf_counter() - start,
        resumed=None
        if result.lost is None
        else {
            "checkpoint_step": int(result.lost["steps"][0]) - 1,
            "stopped_at_step": int(result.lost["steps"][-1]),
        },
    )


HETERO_FLOOR = 1.0


def _positive(result: Result, log: RunLog, offset: float) -> tuple[Result, RunLog]:
    """A Gaussian NLL goes negative, and the checks' ratio measures (late fall, growth, spike
    and rise ratios, log-noise) assume a positive loss: fresh6's heteroscedastic runs are
    judged on their losses plus `offset`, which puts the data's own Bayes NLL (the true mean
    and variance's) at HETERO_FLOOR, 1 nat (the written log keeps the real losses)."""
    shifted = replace(result, loss=result.loss + offset, clean=result.clean + offset,
                      val=result.val + offset)  # fmt: skip
    points = [replace(p, train_loss=p.train_loss + offset) for p in log.points]
    evals = [replace(e, val_loss=e.val_loss + offset) for e in log.evals]
    return shifted, replace(log, points=points, evals=evals)


def write_runs(job: tuple[str, Path, list[RunLog]]) -> None:
    """Write the runs of one logger and split, in order: MLflow stores are shared per root."""
    from tools.corpus import writers

    logger, root, logs = job
    for log in logs:
        writers.write(logger, root, log)


def _first_reason(label: str, m: dict, fm: dict) -> str:
    """A compact reason for a drop: the measures a reader needs to see why."""
    keys = ("gap_end", "late_fall", "noise", "log_noise", "bounce", "loss_spike", "growth",
            "rise", "grad_spike", "val_rise")  # fmt: skip
    run = " ".join(f"{k}={m[k]}" for k in keys)
    fix_keys = ("gap_end", "late_fall", "noise", "loss_spike", "grad_spike", "val_regain")
    fix = " ".join(f"{k}={fm[k]}" for k in fix_keys)
    return f"{run}; fix: {fix}"


def _logs(plan: LogPlan) -> dict:
    """Which series the run logged, and how fresh4's and fresh5's loops scaled them (only
    where they did)."""
    logs = {"grad_norm": plan.grad_norm, "lr": plan.lr, "val": plan.val}
    if plan.loss_scale != 1.0 or plan.val_scale != 1.0:
        logs |= {"train_loss_scale": plan.loss_scale, "val_loss_scale": plan.val_scale}
    if plan.last_micro:
        logs["train_loss"] = "last micro-batch's, divided by the accumulation steps"
    return logs


def _entry(c: Checked, fmt: str) -> dict:
    cand, s = c.candidate, c.candidate.setup
    recipe = asdict(s)
    recipe["variant"] = cand.variant
    entry = {
        "label": c.label,
        "split": c.split,
        "format": fmt,
        "logger": c.logger,
        "family": cand.family,
        "task": cand.task,
        "optimizer": s.optimizer,
        "schedule": s.schedule,
        "cadence": c.plan.cadence,
        "step_axis": "samples" if c.plan.step_size > 1 else "optimiser steps",
        "batch_size": s.batch_size,
        "lr": s.lr,
        "precision": s.precision,
        "logs": _logs(c.plan),
        "recipe": recipe,
        "check": {
            "passed": True,
            "measures": c.measures,
            "fix": {"change": cand.change, "healthy": c.fix_healthy, "measures": c.fix_measures},
        },
    }
    if c.resumed is not None:  # where a fresh5 run stopped and resumed, and what its log kept
        kept = {"both": "both attempts at the steps between, in logging order",
                "monotonic": "the first attempt to the stop, the resumed run after it",
                "": "the resumed run only (history restored from the checkpoint)"}  # fmt: skip
        entry["resumed"] = c.resumed | {"logged": kept[c.plan.relog]}
    return entry


def generate(
    out: Path,
    splits: list[str],
    per_verdict: dict[str, int],
    seed: int,
    jobs: int,
    verdicts: tuple[str, ...] = VERDICTS,
):
    """Run the three phases into `out` for `verdicts`; print progress; return the labels dict."""
    out.mkdir(parents=True, exist_ok=True)
    outcomes: dict[tuple[str, str], list[Checked]] = {}

    def wave(pool, wanted: dict[tuple[str, str], range]) -> None:
        batch = []
        for (split, label), indices in wanted.items():
            for index in indices:
                number = (1 + list(SPLITS).index(split)) * 5000 + index * 8 + VERDICTS.index(label)
                batch.append((split, label, index, seed, number))
        for checked in pool.map(check_candidate, batch, chunksize=1):
            outcomes.setdefault((checked.split, checked.label), []).append(checked)
            mark = "kept" if checked.passed else "drop"
            print(f"{checked.split:8} {checked.label:21} #{checked.index:<3} {mark} "
                  f"{checked.candidate.family:12} {checked.seconds:5.1f}s", flush=True)  # fmt: skip

    start = time.perf_counter()
    keys = [(split, label) for split in splits for label in VERDICTS if label in verdicts]
    with ProcessPoolExecutor(jobs) as pool:
        wave(pool, {key: range(per_verdict[key[0]]) for key in keys})
        while True:
            wanted = {}
            for split, label in keys:
                done = outcomes.get((split, label), [])
                need = per_verdict[split] - sum(c.passed for c in done)
                tried = len(done)
                ratios = RATIO_FOR | FRESH_RATIO_FOR if split == "fresh" else RATIO_FOR
                if split == "fresh2":
                    ratios = RATIO_FOR | FRESH2_RATIO_FOR
                if split == "fresh3":
                    ratios = RATIO_FOR | FRESH3_RATIO_FOR
                if split == "fresh4":
                    ratios = RATIO_FOR | FRESH4_RATIO_FOR
                if split == "fresh5":
                    ratios = RATIO_FOR | FRESH5_RATIO_FOR
                if split == "fresh6":
                    ratios = RATIO_FOR | FRESH6_RATIO_FOR
                limit = ratios.get(label, MAX_CANDIDATES_RATIO) * per_verdict[split]
                hopeless = tried >= per_verdict[split] and not any(c.passed for c in done)
                if need > 0 and tried < limit and not hopeless:
                    rate = max(sum(c.passed for c in done) / max(tried, 1), 0.25)
                    extra = min(limit - tried, math.ceil(need / rate) + 1)
                    wanted[(split, label)] = range(tried, tried + extra)
            if not wanted:
                break
            wave(pool, wanted)
        print(f"trained and checked in {time.perf_counter() - start:.0f}s", flush=True)
        kept, counts, dropped = [], {}, []
        for split, label in keys:
            ordered = sorted(outcomes.get((split, label), []), key=lambda c: c.index)
            chosen, considered = [], []
            for c in ordered:
                if len(chosen) == per_verdict[split]:
                    break
                considered.append(c)
                if c.passed:
                    chosen.append(c)
            kept += chosen
            failed = [c for c in considered if not c.passed]
            counts[f"{split}/{label}"] = {
                "candidates": len(considered),
                "kept": len(chosen),
                "dropped": len(failed),
            }
            dropped += [
                {
                    "split": split,
                    "label": label,
                    "family": c.candidate.family,
                    "variant": c.candidate.variant,
                    "reason": _first_reason(label, c.measures, c.fix_measures),
                }
                for c in failed
            ]
        groups: dict[tuple[str, str], list[RunLog]] = {}
        for c in kept:
            groups.setdefault((c.split, c.logger), []).append(c.log)
        writes = [(logger, out / split / logger, logs) for (split, logger), logs in groups.items()]
        list(pool.map(write_runs, writes))
    print(f"written in {time.perf_counter() - start:.0f}s", flush=True)
    print(f"machine paths made relative in {scrub(out)} files", flush=True)
    return _label(out, kept, counts, dropped)


def _label(out: Path, kept: list[Checked], counts: dict, dropped: list) -> dict:
    """Key each kept run by the name lrdoctor lists it under."""
    from lrdoctor import read_runs

    discovery = read_runs([out])
    runs, unmatched = {}, []
    for c in kept:
        root = f"{c.split}/{c.logger}/"  # sources are relative to `out` (MLflow: store#run)
        found = [
            r
            for r in discovery.runs
            if root in Path(r.source).as_posix() + "/"
            and (c.log.name in r.name or c.log.name in r.source)
        ]
        if not found:
            unmatched.append(c.log.name)
        for run in found:
            runs[run.name] = _entry(c, run.format)
    labels = {
        "schema": 2,
        "description": (
            "Real PyTorch training runs on CPU, logged through the frameworks' own writers. "
            "Each failure is caused by its set-up and kept only if it passes the written "
            "criteria in `rules` and its counterfactual fix (check.fix) behaves as stated. "
            "Held-out and fresh differ from dev and from each other in kind: model families, "
            "optimisers, loggers, cadences."
        ),
        "verdicts": list(VERDICTS),
        "rules": RULES,
        "counts": counts,
        "runs": dict(sorted(runs.items())),
        "dropped": dropped,
    }
    if unmatched or discovery.problems:
        labels["problems"] = {
            "unmatched": unmatched,
            "read": [str(p) for p in discovery.problems],
        }
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    total = Counter(entry["label"] for entry in runs.values())
    print(f"labels.json: {len(runs)} runs {dict(total)}; unmatched {len(unmatched)}", flush=True)
    return labels


def main_args(
    out: str,
    split: str,
    jobs: int,
    per_verdict: int | None,
    seed: int,
    verdicts: tuple[str, ...] = VERDICTS,
) -> None:
    splits = ["dev", "heldout"] if split == "all" else [split]
    counts = {
        "dev": per_verdict or 40,
        "heldout": per_verdict or 20,
        "fresh": per_verdict or 15,
        "fresh2": per_verdict or 15,
        "fresh3": per_verdict or 15,
        "fresh4": per_verdict or 15,
        "fresh5": per_verdict or 15,
        "fresh6": per_verdict or 15,
        "schedules": per_verdict or 15,
    }
    jobs = max(1, min(jobs, os.cpu_count() or 1, 2))
    generate(Path(out), splits, counts, seed, jobs, verdicts)
