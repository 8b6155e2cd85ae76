"""Which logged tag plays which part in a diagnosis: train loss, val loss, grad norm, lr.

Frameworks name the same signal in many ways (`loss`, `Loss/train`, `train_loss_step`,
`epoch_loss`, `eval_loss`, `lr-Adam`, `info/learner/default_policy/cur_lr`). Rather than a
list of every spelling, tags are split into words and judged by what the words say: a split
word (train/val) and a metric word (loss, grad+norm, lr, acc).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from lrdoctor.model import Run

ROLES = ("train_loss", "val_loss", "grad_norm", "lr", "accuracy")

_VALIDATION_WORDS = {"val", "valid", "validation", "eval", "evaluation", "dev", "test", "holdout"}
_TRAIN_WORDS = {"train", "training", "trn"}
# Words that qualify a signal without making it a different one: `train_loss_step` and
# `loss` are the same curve, `vf_loss` is a component of a total.
_NEUTRAL_WORDS = (
    _TRAIN_WORDS
    | _VALIDATION_WORDS
    | {"loss", "losses", "epoch", "step", "batch", "iter", "avg", "mean", "total", "overall"}
    | {"global", "grad", "grads", "gradient", "gradients", "norm", "norms", "lr", "learning"}
    | {"rate", "acc", "accuracy", "metrics", "scalar", "scalars", "summary", "tune", "ray"}
)
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def _words(tag: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", tag)  # camelCase -> camel Case
    return [word for word in _WORD_SPLIT.split(spaced.lower()) if word]


def _is_loss(words: set[str]) -> bool:
    return any(word == "loss" or word.endswith("loss") for word in words) or "nll" in words


def _is_grad_norm(words: set[str], tag: str) -> bool:
    compact = tag.lower().replace("_", "").replace("/", "").replace("-", "")
    has_grad = bool(words & {"grad", "grads", "gradient", "gradients"})
    return (
        (has_grad and bool(words & {"norm", "norms"}))
        or "gradnorm" in compact
        or ("global" in words and "norm" in words)
    )


def _is_lr(words: set[str]) -> bool:
    return "lr" in words or {"learning", "rate"} <= words


def _is_accuracy(words: set[str]) -> bool:
    return bool(words & {"acc", "accuracy", "top1"})


def _role_of(tag: str) -> str | None:
    words = set(_words(tag))
    if _is_grad_norm(words, tag):
        return "grad_norm"
    if _is_lr(words):
        return "lr"
    if _is_loss(words):
        return "val_loss" if words & _VALIDATION_WORDS else "train_loss"
    if _is_accuracy(words):
        return None if words & _VALIDATION_WORDS else "accuracy"
    return None


def _preference(tag: str, points: int) -> tuple:
    """Sort key among tags of one role: total/plain over components, then most points."""
    words = _words(tag)
    extra_words = {word for word in words if word not in _NEUTRAL_WORDS and not word.isdigit()}
    return (0 if "total" in words else 1, len(extra_words), -points, len(tag), tag)


def _keras_batch_twins(tags: Collection[str]) -> set[str]:
    """Keras' `batch_<metric>` tags that have an `epoch_<metric>` twin.

    With `update_freq` set, Keras' TensorBoard callback logs at each batch the running mean
    of the epoch so far, stepped by batch, beside the epoch's value stepped by epoch index,
    the axis its validation loss and learning rate are logged on. Taken as the training
    loss, the batch curve would sit on another axis than those, so its epoch twin plays it.
    """
    twins = set()
    for tag in tags:
        head, slash, last = tag.rpartition("/")
        if last.startswith("batch_") and f"{head}{slash}epoch_{last[6:]}" in tags:
            twins.add(tag)
    return twins


def assign_roles(run: Run, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each role to the run's tag that best plays it; roles with no tag are absent.

    `overrides` (role -> tag) win when the run has that tag; an override naming a tag the
    run lacks is ignored here and reported by `missing_overrides`.
    """
    candidates: dict[str, list[str]] = {}
    batch_twins = _keras_batch_twins(run.curves.keys())
    for tag in run.curves:
        if tag in batch_twins:
            continue
        role = _role_of(tag)
        if role is not None:
            candidates.setdefault(role, []).append(tag)
    points = run.points
    chosen = {
        role: min(tags, key=lambda tag: _preference(tag, points[tag]))
        for role, tags in candidates.items()
    }
    for role, tag in (overrides or {}).items():
        if tag in run.curves:
            chosen[role] = tag
    return {role: chosen[role] for role in ROLES if role in chosen}


def missing_overrides(run: Run, overrides: Mapping[str, str] | None) -> list[str]:
    """Warnings for overrides that name a tag this run does not have."""
    return [
        f"{role} tag {tag!r} given as an override is not in this run"
        for role, tag in (overrides or {}).items()
        if tag not in run.curves
    ]


def batch_size(run: Run) -> int | None:
    """The training batch size recorded in the run's params, if any."""
    for key in ("batch_size", "train_batch_size", "per_device_train_batch_size", "bs"):
        value = run.params.get(key)
        if value is None:
            continue
        try:
            return int(float(value))
        except ValueError:
            continue
    return None


OPTIMIZER_PARAMS = ("optimizer", "optimiser", "optim", "optimizer_name", "optimizer_type", "opt")
ADAPTIVE_OPTIMIZERS = (
    "adam", "amsgrad", "adagrad", "adadelta", "adafactor", "rmsprop", "lion", "lamb", "adabelief",
    "adan", "sophia", "shampoo",
)  # fmt: skip
PLAIN_OPTIMIZERS = ("sgd", "momentum", "nesterov", "lars")


def adaptive_optimizer(run: Run) -> bool | None:
    """Whether the optimiser the run's params name scales each weight's step by that weight's
    own gradient history (Adam and its kin, RMSprop, Adagrad, Adafactor, Lion's sign): True;
    False for the SGD family (momentum, Nesterov, LARS); None when no param names one of
    these. Such a step is blind to the scale of the input feature a weight multiplies."""
    for key in OPTIMIZER_PARAMS:
        value = run.params.get(key)
        if not isinstance(value, str):
            continue
        name = value.lower()
        if any(word in name for word in ADAPTIVE_OPTIMIZERS):
            return True
        if any(word in name for word in PLAIN_OPTIMIZERS):
            return False
    return None
