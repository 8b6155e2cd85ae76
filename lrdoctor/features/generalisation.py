"""Features across the training and validation loss: how well the model generalises.

Validation curves are often short (one evaluation per epoch, 5-30 points), so the features of
the validation loss's rise are measured from `MIN_EVALS` evaluations on, below the `MIN_POINTS`
the other loss features need; the rules decide how many evaluations after the best suffice.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats

from lrdoctor.features.core import MIN_POINTS, Prepared, across, feature

MIN_EVALS = 3
"""Fewest evaluations with a best and a later one to compare it with: a rise needs three."""


@across("train_loss", "val_loss")
def val_gap(train: Prepared, val: Prepared) -> float | None:
    """Final val loss over final train loss in decades (log10): the generalisation gap.

    Near 0 the model does as well on unseen data as on its training data; 0.3 means the val
    loss ends twice the training loss (memorising). Negative values are common with dropout
    or when the training loss is averaged over an epoch the model improved during.
    """
    if not (train.positive and val.positive):
        return None
    return val.end_level - train.end_level


def _smoothed(c: Prepared) -> np.ndarray | None:
    """The level under a running median: the usual window, or 3 points on a short curve.

    A rise is measured from the smoothed minimum, so one lucky evaluation does not make
    one; on a short curve the usual window (5 points or more) would flatten the minimum.
    """
    if c.clean.size < MIN_EVALS:
        return None
    size = c.window if c.clean.size >= MIN_POINTS else 3
    return ndimage.median_filter(c.level, size=size, mode="nearest")


def _best_index(c: Prepared) -> int | None:
    """The lowest logged evaluation: the checkpoint worth keeping, as a best-only saver keeps."""
    return None if c.clean.size < MIN_EVALS else int(np.argmin(c.level))


@feature("val_loss")
def best_eval_step(c: Prepared) -> int | None:
    """Step of the lowest validation loss logged: where training should have stopped."""
    index = _best_index(c)
    return None if index is None else int(c.clean_steps[index])


@feature("val_loss")
def best_eval_loss(c: Prepared) -> float | None:
    """The validation loss logged at `best_eval_step`: the value a checkpoint there would have."""
    index = _best_index(c)
    return None if index is None else float(c.clean[index])


@feature("val_loss")
def best_eval_share(c: Prepared) -> float | None:
    """Share of the run (in steps) done when the validation loss was at its best.

    Near 1 the best came at the end, and whatever follows it is too short to be a trend.
    """
    index = _best_index(c)
    return None if index is None else float(c.progress_axis[index])


@feature("val_loss")
def evals_after_best(c: Prepared) -> int | None:
    """Evaluations logged after `best_eval_step`: how much evidence a rise after the best has."""
    index = _best_index(c)
    return None if index is None else int(c.clean.size - 1 - index)


@feature("val_loss")
def eval_rise(c: Prepared) -> float | None:
    """Decades the validation loss ended above its smoothed best (log10, positive losses).

    The end is the median of the last tenth of the evaluations (the last one on a short
    curve); the best is smoothed, so one lucky evaluation does not make a rise.
    """
    smoothed = _smoothed(c)
    if smoothed is None or not c.positive:
        return None
    end = float(np.median(c.level[-max(1, round(c.clean.size * 0.10)) :]))
    return end - float(np.min(smoothed))


@feature("val_loss")
def eval_rise_z(c: Prepared) -> float | None:
    """Mann-Kendall z-score of the validation loss from its best evaluation to the end.

    Above about 2 the climb after the best is steady (a significant trend at about 5%), the
    signature of overfitting; evaluations that merely scatter around a level stay near 0.
    """
    index = _best_index(c)
    if index is None or c.clean.size - index < 2:
        return None
    after = c.level[index:]
    n = after.size
    tau = stats.kendalltau(np.arange(n), after).statistic
    spread = np.sqrt(2.0 * (2 * n + 5) / (9.0 * n * (n - 1)))
    return None if np.isnan(tau) else float(tau / spread)


@across("train_loss", "val_loss")
def train_fall_after_val_best(train: Prepared, val: Prepared) -> float | None:
    """Decades the training loss fell after the validation loss's best step.

    Positive while the model kept fitting its training set after it stopped generalising
    better: memorising. The start is the smoothed training loss at that step; the end the
    median of its last tenth, so neither is a ratio against a best at the float floor.
    """
    index = _best_index(val)
    if index is None or not train.positive:
        return None
    at_best = float(np.interp(val.clean_steps[index], train.clean_steps, train.trend))
    return at_best - train.end_level
