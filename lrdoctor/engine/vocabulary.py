"""The fixed words rule files and configuration may use, in one place so both agree."""

from __future__ import annotations

SEVERITIES: tuple[str, ...] = ("info", "warning", "error")
"""Ordered from least to most severe; `--fail-on` compares against this order."""

LABELS: tuple[str, ...] = (
    "diverging",
    "oscillating",
    "too_slow",
    "minibatch_noise",
    "exploding_gradients",
    "poor_feature_scaling",
    "insufficient_data",
)
"""Verdicts a rule may give; `healthy` is what a run gets when no rule fires."""

RULE_SIGNALS: tuple[str, ...] = ("train_loss", "val_loss", "grad_norm", "lr")
"""Signals a rule may read its features from."""

SIGNAL_ROLES: tuple[str, ...] = RULE_SIGNALS + ("accuracy",)
"""Roles a configuration may map to a logged tag in `[signals]`."""

REMEDY_KINDS: tuple[str, ...] = (
    "data",
    "gradients",
    "batch",
    "smoothing",
    "schedule",
    "other",
    "lr",
)
"""What a remedy changes, in the order reports show remedies: causes other than the LR first."""


def severity_rank(severity: str) -> int:
    """Position of `severity` in `SEVERITIES`, for "at or above" comparisons."""
    return SEVERITIES.index(severity)
