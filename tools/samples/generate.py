"""Generate the labelled sample logs: plan, train, check, keep or drop, then write.

Every candidate run is trained for real, logged through the logging plan of the format it
will be written in, and checked against its intended label (with its counterfactual fix
where the label names a cause). Only runs that pass are written; failures are listed in
labels.json as dropped, with the numbers that failed them.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tools.samples import writers
from tools.samples.checks import (
    MIN_LOGGED_POINTS,
    RULES,
    RUN_SHOWS,
    Measures,
    attainable_floor,
    is_healthy,
    measure,
    passes,
)
from tools.samples.logview import LogPlan, logged_view
from tools.samples.recipes import SPLITS, VERDICTS, Candidate, Split, candidates
from tools.samples.training import Recipe, TrainingResult, train
from tools.samples.writers import FORMATS, LoggedRun

TARGET_RUNS = {"dev": 24, "heldout": 20}
EPOCH_FORMATS = ("keras_tensorboard", "keras_csv")
STEP_ONLY_VERDICTS = ("minibatch_noise", "exploding_gradients")
SPLIT_START = {
    "dev": datetime(2024, 3, 4, 9, tzinfo=timezone.utc),
    "heldout": datetime(2025, 2, 10, 9, tzinfo=timezone.utc),
}
SECONDS_PER_STEP = {
    "linear": 0.004,
    "logistic": 0.005,
    "mlp": 0.011,
    "deep_mlp": 0.035,
    "rnn": 0.09,
}
NICE_INTERVALS = (1, 2, 5, 10, 20, 25, 50, 100, 200)
ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fancy",
    "gentle",
    "jolly",
    "lively",
    "proud",
    "silly",
    "witty",
    "bold",
    "crisp",
)
NOUNS = (
    "otter",
    "falcon",
    "maple",
    "comet",
    "river",
    "badger",
    "lynx",
    "cedar",
    "heron",
    "quartz",
    "ember",
    "fjord",
)


@dataclass(frozen=True)
class Planned:
    """A candidate and the logging plan it will be checked and written with."""

    split: str
    index: int
    candidate: Candidate
    plan: LogPlan


@dataclass
class Outcome:
    planned: Planned
    result: TrainingResult
    measures: Measures
    fix_measures: Measures | None
    passed: bool


def _nice_interval(steps: int, target_points: float) -> int:
    wanted = steps / target_points
    return min(NICE_INTERVALS, key=lambda every: abs(math.log(every / max(wanted, 1e-9))))


def _epoch_cadence_ok(recipe: Recipe) -> bool:
    return 10 <= recipe.epochs <= 60


def choose_format(label: str, index: int, recipe: Recipe) -> str:
    """Cycle through the formats (offset per verdict), skipping those that cannot show the label.

    A per-epoch mean hides minibatch noise, and it hides a one-step gradient explosion in the
    first epoch; per-epoch formats also need a run of 10 to 60 epochs.
    """
    start = (index + 2 * VERDICTS.index(label)) % len(FORMATS)
    rotation = [FORMATS[(start + shift) % len(FORMATS)] for shift in range(len(FORMATS))]
    epoch_ok = _epoch_cadence_ok(recipe) and label not in STEP_ONLY_VERDICTS
    return next(fmt for fmt in rotation if fmt not in EPOCH_FORMATS or epoch_ok)


def make_plan(fmt: str, label: str, recipe: Recipe, rng: np.random.Generator) -> LogPlan:
    """The logger habits of `fmt` for this run: which cadence, which series, which tag style."""
    steps = recipe.epochs * recipe.steps_per_epoch
    every = _nice_interval(steps, rng.uniform(150, 450))

    def coin(probability: float) -> bool:
        return bool(rng.random() < probability)

    style = int(rng.integers(0, 4))
    if fmt == "tensorboard":
        return LogPlan(
            fmt, "", "sample", every, grad_norm=coin(0.6), lr=coin(0.5), val=coin(0.7), style=style
        )
    if fmt == "keras_tensorboard":
        return LogPlan(fmt, "", "epoch", 1, lr=coin(0.3), val=coin(0.8), style=style)
    if fmt == "mlflow":
        style %= 3
        if style == 1 and not (_epoch_cadence_ok(recipe) and label not in STEP_ONLY_VERDICTS):
            style = 0
        cadence = ("sample", "epoch", "mean")[style]
        return LogPlan(
            fmt,
            "",
            cadence,
            1 if cadence == "epoch" else every,
            grad_norm=cadence != "epoch" and coin(0.6),
            lr=coin(0.5),
            val=coin(0.7),
            style=style,
        )
    if fmt == "lightning_csv":
        every = min((10, 20, 50), key=lambda n: abs(math.log(n * 250 / max(steps, 1))))
        every = every if steps / every >= 40 else max(1, _nice_interval(steps, 200))
        return LogPlan(
            fmt,
            "",
            "lightning",
            every,
            grad_norm=coin(0.6),
            lr=coin(0.6),
            val=coin(0.8),
            style=style % 2,
        )
    if fmt == "keras_csv":
        return LogPlan(fmt, "", "epoch", 1, lr=coin(0.6), val=coin(0.8), style=style % 2)
    if fmt == "wide_csv":
        if _epoch_cadence_ok(recipe) and label not in STEP_ONLY_VERDICTS and coin(0.2):
            return LogPlan(fmt, "", "epoch", 1, lr=coin(0.5), val=coin(0.6), style=style % 2)
        return LogPlan(
            fmt,
            "",
            "sample",
            every,
            grad_norm=coin(0.6),
            lr=coin(0.5),
            val=coin(0.6),
            style=style % 2,
        )
    if fmt == "long_csv":
        return LogPlan(fmt, "", "sample", every, grad_norm=coin(0.6), lr=coin(0.4), val=coin(0.6))
    if fmt == "wandb_csv":
        return LogPlan(fmt, "", "sample", every, val=False, style=style % 2)
    if fmt == "hf_trainer_state":
        old_format = coin(0.3)
        return LogPlan(
            fmt,
            "",
            "mean",
            max(every, 2),
            grad_norm=not old_format and coin(0.8),
            lr=True,
            val=coin(0.6),
            style=int(old_format),
        )
    raise ValueError(f"unknown format {fmt!r}")


def plan_candidates(split: Split, label: str, start: int, count: int) -> list[Planned]:
    planned = []
    for offset, candidate in enumerate(candidates(split, label, start, count)):
        index = start + offset
        rng = np.random.default_rng([split.seed, VERDICTS.index(label), index, 7])
        fmt = choose_format(label, index, candidate.recipe)
        plan = make_plan(fmt, label, candidate.recipe, rng)
        planned.append(Planned(split.name, index, candidate, plan))
    return planned


def _floor_key(recipe: Recipe) -> tuple:
    return (recipe.task, recipe.model)


def evaluate(planned: Planned, floor: float) -> Outcome:
    """Train the candidate, measure it as logged, and apply the label check.

    The counterfactual fix is trained only when the run itself shows the failure: a run
    that does not cannot pass whatever the fix does.
    """
    candidate = planned.candidate
    result = train(candidate.recipe)
    measures = measure(result, logged_view(result, planned.plan), floor)
    fix_measures = None
    if candidate.fix is not None and RUN_SHOWS[candidate.label](measures):
        fixed = train(candidate.fix)
        fix_plan = planned.plan
        if fix_plan.cadence != "epoch":
            fixed_steps = candidate.fix.epochs * candidate.fix.steps_per_epoch
            fix_plan = replace(
                fix_plan,
                every=max(1, round(planned.plan.every * fixed_steps / max(result.steps, 1))),
            )
        fix_measures = measure(fixed, logged_view(fixed, fix_plan), floor)
    passed = passes(candidate.label, measures, fix_measures)
    return Outcome(planned, result, measures, fix_measures, passed)


def _evaluate_job(job: tuple[Planned, float]) -> Outcome:
    return evaluate(*job)


def _floor_job(recipe: Recipe) -> tuple[tuple, float]:
    return _floor_key(recipe), attainable_floor(recipe)


class Generator:
    """Runs the candidate rounds for both splits and keeps the first runs that pass."""

    def __init__(self, workers: int, targets: dict[str, int], progress: Callable[[str], None]):
        self.workers = workers
        self.targets = targets
        self.progress = progress
        self.floors: dict[tuple, float] = {}

    def _run(self, pool, planned: list[Planned]) -> list[Outcome]:
        missing = {}
        for item in planned:
            key = _floor_key(item.candidate.recipe)
            if key not in self.floors:
                missing.setdefault(key, item.candidate.recipe)
        for key, floor in pool.map(_floor_job, list(missing.values())):
            self.floors[key] = floor
        jobs = [(item, self.floors[_floor_key(item.candidate.recipe)]) for item in planned]
        return list(pool.map(_evaluate_job, jobs, chunksize=1))

    def run(self) -> dict[str, dict[str, list[Outcome]]]:
        """For each split and verdict, every outcome evaluated, in candidate order."""
        outcomes = {name: {label: [] for label in VERDICTS} for name in self.targets}
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            batch = [
                item
                for name, target in self.targets.items()
                for label in VERDICTS
                for item in plan_candidates(SPLITS[name], label, 0, target + 4)
            ]
            for round_number in range(6):
                started = time.monotonic()
                for outcome in self._run(pool, batch):
                    outcomes[outcome.planned.split][outcome.planned.candidate.label].append(outcome)
                self.progress(
                    f"round {round_number + 1}: {len(batch)} candidates "
                    f"in {time.monotonic() - started:.0f}s"
                )
                batch = []
                for name, target in self.targets.items():
                    for label in VERDICTS:
                        tried = outcomes[name][label]
                        shortfall = target - sum(outcome.passed for outcome in tried)
                        if shortfall > 0:
                            batch.extend(
                                plan_candidates(SPLITS[name], label, len(tried), 2 * shortfall + 2)
                            )
                if not batch:
                    break
        return outcomes


def _stamp(moment: float, pattern: str) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime(pattern)


def _friendly_name(rng: np.random.Generator) -> str:
    """An adjective-noun pair, like the names MLflow and W&B give runs."""
    adjective = ADJECTIVES[int(rng.integers(0, len(ADJECTIVES)))]
    noun = NOUNS[int(rng.integers(0, len(NOUNS)))]
    return f"{adjective}-{noun}"


def run_name(planned: Planned, ordinal: int, start_time: float, rng: np.random.Generator) -> str:
    """A plausible name for the format: never the label, always unique within the split."""
    fmt, recipe = planned.plan.format, planned.candidate.recipe
    prefix = planned.split
    token = f"{int(rng.integers(0, 16**4)):04x}"
    if fmt == "tensorboard":
        if ordinal % 2:
            return f"{prefix}/runs/{_stamp(start_time, '%b%d_%H-%M-%S')}_gpu-node{ordinal % 4 + 1}"
        return f"{prefix}/tb/sweep-{ordinal // 6 + 1:02d}/run-{ordinal % 6}"
    if fmt == "keras_tensorboard":
        return f"{prefix}/logs/fit/{_stamp(start_time, '%Y%m%d-%H%M%S')}"
    if fmt == "mlflow":
        if ordinal % 2:
            return f"{_friendly_name(rng)}-{int(rng.integers(10, 999))}"
        return f"{recipe.optimizer}-{token}"
    if fmt == "lightning_csv":
        return f"{prefix}/lightning_logs/version_{ordinal}"
    if fmt == "keras_csv":
        return f"{prefix}/keras/exp-{ordinal + 1:02d}/training.log"
    if fmt == "wide_csv":
        return f"{prefix}/csv/train_log_{ordinal + 1:03d}.csv"
    if fmt == "long_csv":
        return f"{prefix}/exports/{_stamp(start_time, '%Y-%m-%d')}_{token}_metrics.csv"
    if fmt == "wandb_csv":
        stamp = _stamp(start_time, "%Y-%m-%dT%H_%M_%S")
        return f"{prefix}/wandb_export/wandb_export_{stamp}.{token[:3]}+00_00.csv"
    if fmt == "hf_trainer_state":
        steps = recipe.epochs * recipe.steps_per_epoch
        if ordinal % 2:
            return f"{prefix}/hf/results-{ordinal + 1}"
        return f"{prefix}/hf/finetune-{token}/checkpoint-{steps}"
    raise ValueError(fmt)


def _json_number(value: float):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _changed_fields(recipe: Recipe, fix: Recipe) -> dict:
    before, after = recipe.describe(), fix.describe()
    return {key: value for key, value in after.items() if before[key] != value}


def _check_record(outcome: Outcome) -> dict:
    """The check's verdict and numbers; the rule text is in the top-level `rules`."""
    candidate = outcome.planned.candidate
    record = {"passed": outcome.passed, "measures": outcome.measures.as_dict()}
    if candidate.fix is not None:
        record["fix"] = {
            "change": candidate.fix_change,
            "changed": _changed_fields(candidate.recipe, candidate.fix),
        }
        if outcome.fix_measures is None:
            record["fix"]["not_run"] = "the run itself does not show the failure"
        else:
            record["fix"]["healthy"] = is_healthy(outcome.fix_measures)
            record["fix"]["measures"] = outcome.fix_measures.as_dict()
    return record


def _recipe_record(outcome: Outcome) -> dict:
    record = outcome.planned.candidate.recipe.describe()
    record["steps_run"] = outcome.result.steps
    return {key: _json_number(value) for key, value in record.items()}


def _logging_record(plan: LogPlan) -> dict:
    """The logger habits of `plan`; its format and name are recorded beside them."""
    return {key: value for key, value in asdict(plan).items() if key not in ("format", "name")}


def write_all(
    outcomes: dict[str, dict[str, list[Outcome]]], out_dir: Path, targets: dict[str, int]
) -> dict:
    """Write the kept runs in their formats and return the labels.json document."""
    runs: dict[str, dict] = {}
    dropped: list[dict] = []
    counts: dict[str, dict] = {}
    for split_name, by_label in outcomes.items():
        kept: list[Outcome] = []
        for label in VERDICTS:
            tried = by_label[label]
            passing = [outcome for outcome in tried if outcome.passed]
            kept.extend(passing[: targets[split_name]])
            dropped.extend(
                {
                    "split": split_name,
                    "label": label,
                    "candidate": outcome.planned.index,
                    "format": outcome.planned.plan.format,
                    "recipe": _recipe_record(outcome),
                    "check": _check_record(outcome),
                }
                for outcome in tried
                if not outcome.passed
            )
            counts[f"{split_name}/{label}"] = {
                "candidates": len(tried),
                "passed": len(passing),
                "kept": min(len(passing), targets[split_name]),
                "dropped": len(tried) - len(passing),
                "passed_not_needed": max(0, len(passing) - targets[split_name]),
            }
        kept.sort(
            key=lambda outcome: (
                VERDICTS.index(outcome.planned.candidate.label),
                outcome.planned.index,
            )
        )
        order = np.random.default_rng([SPLITS[split_name].seed, 99]).permutation(len(kept))
        ordinals: Counter = Counter()
        mlflow_runs: list[tuple[LoggedRun, str]] = []
        base = SPLIT_START[split_name].timestamp()
        for written, position in enumerate(order):
            outcome = kept[int(position)]
            planned = outcome.planned
            fmt = planned.plan.format
            rng = np.random.default_rng([SPLITS[split_name].seed, 5, int(position)])
            # Runs of a split start 1.5 h apart: its names never depend on another split.
            start_time = base + 5400.0 * written + float(rng.integers(0, 3000))
            name = run_name(planned, ordinals[fmt], start_time, rng)
            while name in runs:
                name = run_name(planned, ordinals[fmt], start_time, rng)
            ordinals[fmt] += 1
            plan = replace(planned.plan, name=name)
            recipe = planned.candidate.recipe
            logged = LoggedRun(
                plan=plan,
                view=logged_view(outcome.result, plan),
                recipe=recipe,
                steps_done=outcome.result.steps,
                start_time=start_time,
                seconds_per_step=SECONDS_PER_STEP[recipe.model.kind] * recipe.batch_size / 32,
            )
            location = name
            key = name  # the run's name as lrdoctor lists it
            if fmt == "mlflow":
                experiment = ("tabular-baselines", "hparam-sweep", "sequence-models")[
                    ordinals[fmt] % 3
                ]
                mlflow_runs.append((logged, experiment))
                location = f"{split_name}/mlruns (experiment {experiment!r})"
            elif fmt == "wandb_csv":
                display = f"{_friendly_name(rng)}-{ordinals[fmt]}"
                writers.write_wandb_csv(out_dir, logged, display)
                key = f"{name}/{display}"
            else:
                getattr(writers, f"write_{fmt}")(out_dir, logged)
            if fmt == "hf_trainer_state" and "/checkpoint-" in name:
                key = name.rsplit("/checkpoint-", 1)[0]  # the Trainer output dir is the run
            runs[key] = {
                "label": planned.candidate.label,
                "split": split_name,
                "format": fmt,
                "location": location,
                "logging": _logging_record(plan),
                "recipe": _recipe_record(outcome),
                "check": _check_record(outcome),
            }
        if mlflow_runs:
            writers.write_mlflow_store(out_dir / split_name / "mlruns", mlflow_runs)
    return {
        "schema": 1,
        "description": (
            "Labelled training logs from real numpy training runs; see tools/samples. "
            "Keys are run names as lrdoctor lists them for this folder: paths relative to "
            "it, or the MLflow run name for runs in an mlruns store."
        ),
        "verdicts": list(VERDICTS),
        "rules": RULES,
        "common_rule": (
            f"every kept run has at least {MIN_LOGGED_POINTS} logged training-loss points"
        ),
        "counts": counts,
        "runs": dict(sorted(runs.items())),
        "dropped": dropped,
    }


README = """# Sample training logs (generated; do not edit by hand)

Every run here comes from training a small numpy model for real (`tools/samples`), with
a failure induced by its cause, and was kept only after a check confirmed the outcome.
`labels.json` gives, for each run: its verdict, split, format, the full recipe (model,
optimiser, lr, batch size, schedule, feature scaling, clipping, seed, steps), how it was
logged, and the check with its numbers (and the counterfactual fix where the verdict names
a cause). Candidates that failed their check are listed under `dropped`.

- `dev/`: thresholds may be tuned on these runs; six settings of data sets and model widths.
- `heldout/`: two other settings (data sets, feature counts, sizes, model widths) and other
  seeds; never tune on it.

Regenerate with `python -m tools.samples sample_logs`.
"""


def generate(
    out_dir: Path,
    workers: int = 2,
    targets: dict[str, int] | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    """Regenerate every sample run under `out_dir` and write `out_dir/labels.json`."""
    targets = targets or TARGET_RUNS
    started = time.monotonic()
    outcomes = Generator(workers, targets, progress).run()
    document = write_all(outcomes, out_dir, targets)
    (out_dir / "labels.json").write_text(
        json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )
    (out_dir / "README.md").write_text(README, encoding="utf-8")
    progress(f"wrote {len(document['runs'])} runs in {time.monotonic() - started:.0f}s")
    return document
