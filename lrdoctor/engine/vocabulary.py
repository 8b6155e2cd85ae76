"""The fixed words rule files and configuration may use, in one place so both agree."""

from __future__ import annotations

SEVERITIES: tuple[str, ...] = ("info", "warning", "error")
"""Ordered from least to most severe; `--fail-on` compares against this order."""

FAILURES: tuple[str, ...] = (
    "diverging",
    "oscillating",
    "too_slow",
    "minibatch_noise",
    "exploding_gradients",
    "poor_feature_scaling",
    "overfitting",
)
"""The failures lrdoctor diagnoses: the public vocabulary of verdicts besides `healthy`.

All but the last are training dynamics; `overfitting` is a failure to generalise, given
only when the dynamics look healthy."""

LABELLED_VERDICTS: tuple[str, ...] = ("healthy", *FAILURES)
"""Verdicts labelled logs carry and accuracy is measured over."""

LABELS: tuple[str, ...] = (*FAILURES, "insufficient_data")
"""Verdicts a rule may give; `healthy` is what a run gets when no rule fires."""

VERDICTS: tuple[str, ...] = ("healthy", *FAILURES, "insufficient_data", "unreadable")
"""Every verdict a run can get, including runs that cannot be judged."""

VERDICT_ORDER: tuple[str, ...] = (
    "diverging",
    "exploding_gradients",
    "oscillating",
    "poor_feature_scaling",
    "minibatch_noise",
    "too_slow",
    "overfitting",
    "unreadable",
    "insufficient_data",
    "healthy",
)
"""Worst first: the order reports list runs in."""

RULE_SIGNALS: tuple[str, ...] = ("train_loss", "val_loss", "grad_norm", "lr")
"""Signals a rule may read its features from."""

SIGNAL_ROLES: tuple[str, ...] = RULE_SIGNALS + ("accuracy",)
"""Roles a configuration may map to a logged tag in `[signals]`."""

REMEDY_KINDS: tuple[str, ...] = (
    "data",
    "stopping",
    "regularisation",
    "gradients",
    "batch",
    "smoothing",
    "schedule",
    "other",
    "lr",
)


def remedies_in_order(remedies):
    """The order every report shows remedies in: by kind as `REMEDY_KINDS` lists them (causes
    other than the learning rate first), the file's order kept within a kind."""
    return sorted(remedies, key=lambda remedy: REMEDY_KINDS.index(remedy.kind))


"""What a remedy changes, in the order reports show remedies: causes other than the LR first.

Broken inputs (`data`) come first, then what overfitting needs: keep the best checkpoint and
stop early (`stopping`), then `regularisation`, which includes training on more data.
"""


def severity_rank(severity: str) -> int:
    """Position of `severity` in `SEVERITIES`, for "at or above" comparisons."""
    return SEVERITIES.index(severity)
