"""Runs trained for real inside a test, logged as a logger would, for tests that need one
particular run rather than one of the committed samples."""

from __future__ import annotations

from tools.samples.logview import LogPlan, logged_view
from tools.samples.recipes import SPLITS
from tools.samples.tasks import TaskSpec
from tools.samples.training import Recipe, train
from tools.samples.writers import LoggedRun

START_TIME = 1.7e9  # wall-clock seconds of the first step
SECONDS_PER_STEP = 0.01


def logged_run(recipe: Recipe, plan: LogPlan) -> LoggedRun:
    """Train `recipe` and keep what `plan` would have logged, ready for a writer."""
    result = train(recipe)
    view = logged_view(result, plan)
    return LoggedRun(plan, view, recipe, result.steps, START_TIME, SECONDS_PER_STEP)


def dev_task(data_seed: int) -> TaskSpec:
    """The development split's task drawn with `data_seed` (as in labels.json's recipes)."""
    return next(
        task
        for setting in SPLITS["dev"].settings
        for task in setting.tasks.values()
        if task.data_seed == data_seed
    )
