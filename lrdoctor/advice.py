"""Concrete values for remedies, taken from what the run itself logged.

A remedy says "lower the peak LR from 3e-2 to 3e-3..1e-2" only when the run's LR is known
(params or a logged lr curve); "clip at ~1.0" only when a gradient norm was logged. Anything
the logs cannot support stays None, and the remedy falls back to words without numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from lrdoctor.features import Value
from lrdoctor.model import Curve, Run

_LR_PARAM_KEYS = (
    "lr",
    "learning_rate",
    "learning-rate",
    "opt_learning_rate",
    "optimizer.lr",
    "optim.lr",
    "base_lr",
    "max_lr",
    "peak_lr",
)


def _round_figure(value: float) -> float:
    """Two significant figures: advice is a starting point, not a false precision."""
    if value <= 0 or not math.isfinite(value):
        return value
    exponent = math.floor(math.log10(value))
    return round(value, 1 - exponent)


def _power_of_two_at_least(value: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(1.0, value))))


def run_learning_rate(run: Run, features: Mapping[str, Mapping[str, Value]]) -> float | None:
    """The peak learning rate: a logged lr curve wins over a param (it shows what was used)."""
    logged = features.get("lr", {}).get("lr_peak")
    if logged is not None and math.isfinite(logged) and logged > 0:
        return float(logged)
    for key in _LR_PARAM_KEYS:
        text = run.params.get(key)
        if text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            continue
        if math.isfinite(value) and value > 0:
            return value
    return None


def _lr_values(lr: float | None) -> dict[str, Value]:
    """The learning rate a remedy quotes and the multiples it suggests."""
    return {
        "lr": lr,
        "lr_div10": None if lr is None else _round_figure(lr / 10),
        "lr_div3": None if lr is None else _round_figure(lr / 3),
        "lr_div2": None if lr is None else _round_figure(lr / 2),
        "lr_x3": None if lr is None else _round_figure(lr * 3),
        "lr_x10": None if lr is None else _round_figure(lr * 10),
    }


def advise_at(
    advice: Mapping[str, Value], lr_curve: Curve | None, steps: tuple[int, int] | None
) -> dict[str, Value]:
    """The run's advice with the learning rate in effect where a finding happened.

    A schedule can decay the LR a thousandfold: a finding at step 9,000 of a cosine run
    concerns the LR logged there, not the peak. The quoted value is the largest LR logged
    over the finding's steps (the largest step the optimiser took in that window), or the
    last LR logged before them; the peak stays available as `lr_peak`.
    """
    if lr_curve is None or steps is None:
        return dict(advice)
    finite = np.isfinite(lr_curve.values) & (lr_curve.values > 0)
    curve_steps, values = lr_curve.steps[finite], lr_curve.values[finite]
    inside = (curve_steps >= steps[0]) & (curve_steps <= steps[1])
    if inside.any():
        lr = float(np.max(values[inside]))
    else:
        before = np.flatnonzero(curve_steps <= steps[0])
        if not before.size:
            return dict(advice)
        lr = float(values[before[-1]])
    return {**advice, **_lr_values(lr)}


def advise(run: Run, features: Mapping[str, Mapping[str, Value]]) -> dict[str, Value]:
    """Named values remedy texts may use (see `rules/README.md`, `needs`)."""
    lr = run_learning_rate(run, features)
    grad = features.get("grad_norm", {})
    loss = features.get("train_loss", {})
    batch = loss.get("batch_size")
    last_step = loss.get("last_step")
    p90_norm = grad.get("grad_norm_p90")
    return {
        **_lr_values(lr),
        "lr_peak": lr,
        "clip_at": None if p90_norm is None else _round_figure(p90_norm),
        "batch_size": batch,
        "batch_suggest": None if batch is None else max(32, _power_of_two_at_least(batch * 16)),
        "warmup_steps": None
        if not last_step
        else int(_round_figure(max(10.0, float(last_step) * 0.05))),
    }
