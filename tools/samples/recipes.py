"""The catalogue: for each verdict, recipes that induce it by its cause, and the fix to try.

Development and held-out runs use different settings: data sets (sizes, features, noise,
seeds) and model widths. Each split has several settings, so thresholds tuned on development
runs must already hold across tasks, and held-out runs meet new tasks, not just new seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from tools.samples.tasks import TaskSpec, make_dataset
from tools.samples.training import ModelSpec, Recipe

# The verdicts this numpy generator makes; their order seeds it, so keep it.
VERDICTS = (
    "healthy",
    "diverging",
    "oscillating",
    "too_slow",
    "minibatch_noise",
    "exploding_gradients",
    "poor_feature_scaling",
)
SCHEDULES = ("constant", "warmup", "step", "cosine", "linear", "onecycle", "plateau")


@dataclass(frozen=True)
class Setting:
    """One family of data sets and model widths; candidates draw theirs from their split."""

    tasks: dict[str, TaskSpec]
    mlp_hidden: int
    deep_hidden: tuple[int, ...]
    rnn_hidden: int


@dataclass(frozen=True)
class Split:
    """A split's seed and settings; the held-out split shares no setting with development."""

    name: str
    seed: int
    settings: tuple[Setting, ...]


SPLITS = {
    "dev": Split(
        name="dev",
        seed=11,
        settings=(
            Setting(
                tasks={
                    "linear": TaskSpec("linear_regression", 16, 2048, 512, data_seed=101),
                    "logistic": TaskSpec(
                        "softmax_classification", 12, 2048, 512, outputs=3, data_seed=102
                    ),
                    "teacher": TaskSpec("teacher_regression", 10, 2048, 512, data_seed=103),
                    "rings": TaskSpec("rings", 8, 2048, 512, outputs=3, noise=0.1, data_seed=104),
                    "sequence": TaskSpec(
                        "sequence_filter", 2, 512, 128, noise=0.02, seq_len=60, data_seed=105
                    ),
                },
                mlp_hidden=64,
                deep_hidden=(32,) * 10,
                rnn_hidden=16,
            ),
            Setting(
                tasks={
                    "linear": TaskSpec(
                        "linear_regression", 24, 3072, 768, noise=0.05, data_seed=201
                    ),
                    "logistic": TaskSpec(
                        "softmax_classification", 20, 3072, 768, outputs=4, data_seed=202
                    ),
                    "teacher": TaskSpec(
                        "teacher_regression", 14, 3072, 768, noise=0.05, data_seed=203
                    ),
                    "rings": TaskSpec("rings", 12, 3072, 768, outputs=2, noise=0.15, data_seed=204),
                    "sequence": TaskSpec(
                        "sequence_filter", 3, 384, 128, noise=0.02, seq_len=90, data_seed=205
                    ),
                },
                mlp_hidden=96,
                deep_hidden=(24,) * 14,
                rnn_hidden=24,
            ),
            Setting(
                tasks={
                    "linear": TaskSpec("linear_regression", 8, 1024, 256, noise=0.3, data_seed=501),
                    "logistic": TaskSpec(
                        "softmax_classification", 16, 4096, 1024, outputs=6, data_seed=502
                    ),
                    "teacher": TaskSpec(
                        "teacher_regression", 12, 2048, 512, noise=0.2, data_seed=503
                    ),
                    "rings": TaskSpec("rings", 10, 2048, 512, outputs=5, noise=0.05, data_seed=504),
                    "sequence": TaskSpec(
                        "sequence_filter", 3, 512, 128, noise=0.04, seq_len=70, data_seed=505
                    ),
                },
                mlp_hidden=32,
                deep_hidden=(48,) * 6,
                rnn_hidden=12,
            ),
            Setting(
                tasks={
                    "linear": TaskSpec(
                        "linear_regression", 40, 6144, 1024, noise=0.02, data_seed=601
                    ),
                    "logistic": TaskSpec(
                        "softmax_classification", 6, 1024, 256, outputs=2, data_seed=602
                    ),
                    "teacher": TaskSpec(
                        "teacher_regression", 8, 1024, 256, noise=0.02, data_seed=603
                    ),
                    "rings": TaskSpec("rings", 20, 3072, 768, outputs=3, noise=0.15, data_seed=604),
                    "sequence": TaskSpec(
                        "sequence_filter", 2, 320, 96, noise=0.01, seq_len=80, data_seed=605
                    ),
                },
                mlp_hidden=160,
                deep_hidden=(20,) * 12,
                rnn_hidden=32,
            ),
            Setting(
                tasks={
                    "linear": TaskSpec(
                        "linear_regression", 32, 4096, 1024, noise=0.2, data_seed=301
                    ),
                    "logistic": TaskSpec(
                        "softmax_classification", 28, 4096, 1024, outputs=5, data_seed=302
                    ),
                    "teacher": TaskSpec(
                        "teacher_regression", 6, 1536, 512, noise=0.15, data_seed=303
                    ),
                    "rings": TaskSpec("rings", 16, 4096, 1024, outputs=4, noise=0.1, data_seed=304),
                    "sequence": TaskSpec(
                        "sequence_filter", 4, 448, 128, noise=0.03, seq_len=75, data_seed=305
                    ),
                },
                mlp_hidden=48,
                deep_hidden=(40,) * 8,
                rnn_hidden=20,
            ),
            Setting(
                tasks={
                    "linear": TaskSpec(
                        "linear_regression", 10, 1536, 512, noise=0.08, data_seed=401
                    ),
                    "logistic": TaskSpec(
                        "softmax_classification", 8, 1536, 512, outputs=3, data_seed=402
                    ),
                    "teacher": TaskSpec(
                        "teacher_regression", 20, 4096, 1024, noise=0.08, data_seed=403
                    ),
                    "rings": TaskSpec("rings", 6, 1536, 512, outputs=3, noise=0.2, data_seed=404),
                    "sequence": TaskSpec(
                        "sequence_filter", 2, 640, 128, noise=0.01, seq_len=50, data_seed=405
                    ),
                },
                mlp_hidden=128,
                deep_hidden=(28,) * 12,
                rnn_hidden=28,
            ),
        ),
    ),
    "heldout": Split(
        name="heldout",
        seed=59,
        settings=(
            Setting(
                tasks={
                    "linear": TaskSpec(
                        "linear_regression", 20, 2560, 640, noise=0.12, data_seed=701
                    ),
                    "logistic": TaskSpec(
                        "softmax_classification", 24, 2560, 640, outputs=3, data_seed=702
                    ),
                    "teacher": TaskSpec(
                        "teacher_regression", 16, 2560, 640, noise=0.1, data_seed=703
                    ),
                    "rings": TaskSpec("rings", 14, 2560, 640, outputs=3, noise=0.12, data_seed=704),
                    "sequence": TaskSpec(
                        "sequence_filter", 3, 416, 128, noise=0.02, seq_len=65, data_seed=705
                    ),
                },
                mlp_hidden=80,
                deep_hidden=(36,) * 9,
                rnn_hidden=18,
            ),
            Setting(
                tasks={
                    "linear": TaskSpec(
                        "linear_regression", 12, 5120, 1024, noise=0.25, data_seed=801
                    ),
                    "logistic": TaskSpec(
                        "softmax_classification", 10, 5120, 1024, outputs=4, data_seed=802
                    ),
                    "teacher": TaskSpec(
                        "teacher_regression", 18, 1280, 320, noise=0.06, data_seed=803
                    ),
                    "rings": TaskSpec("rings", 9, 1280, 320, outputs=2, noise=0.08, data_seed=804),
                    "sequence": TaskSpec(
                        "sequence_filter", 2, 576, 128, noise=0.015, seq_len=85, data_seed=805
                    ),
                },
                mlp_hidden=112,
                deep_hidden=(30,) * 11,
                rnn_hidden=22,
            ),
        ),
    ),
}


@dataclass(frozen=True)
class Candidate:
    """A run planned to show `label`, and the counterfactual run that applies the fix."""

    label: str
    recipe: Recipe
    fix: Recipe | None
    fix_change: str


def _jitter(rng: np.random.Generator, low: float, high: float) -> float:
    """A factor drawn log-uniformly between `low` and `high`."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _lr(value: float) -> float:
    """An LR as a person would type it: two significant digits."""
    return float(f"{value:.2g}")


def _model(setting: Setting, kind: str, activation: str = "tanh", gain: float = 1.0) -> ModelSpec:
    if kind == "mlp":
        return ModelSpec("mlp", (setting.mlp_hidden,), activation, gain)
    if kind == "deep_mlp":
        return ModelSpec("deep_mlp", setting.deep_hidden, activation, gain)
    if kind == "rnn":
        return ModelSpec("rnn", (setting.rnn_hidden,), activation, gain)
    return ModelSpec(kind)


# Well-tuned LRs found by sweeping each (model, data, optimiser) on the development data.
TUNED_LR = {
    ("linear", "sgd"): 0.05,
    ("linear", "momentum"): 0.005,
    ("linear", "adam"): 0.02,
    ("logistic", "sgd"): 0.3,
    ("logistic", "momentum"): 0.03,
    ("logistic", "adam"): 0.01,
    ("mlp", "sgd"): 0.05,
    ("rnn", "sgd"): 0.05,
    ("mlp", "momentum"): 0.02,
    ("mlp", "adam"): 3e-3,
    ("deep_mlp", "sgd"): 0.02,
    ("deep_mlp", "momentum"): 0.004,
    ("deep_mlp", "adam"): 1e-3,
    ("rnn", "adam"): 3e-3,
    ("rnn", "momentum"): 0.01,
}
TASK_OF_MODEL = {
    "linear": "linear",
    "logistic": "logistic",
    "deep_mlp": "teacher",
    "rnn": "sequence",
}


def _base(
    setting: Setting,
    rng: np.random.Generator,
    kind: str,
    optimizer: str,
    *,
    task: str | None = None,
    activation: str = "tanh",
    batch_sizes: tuple[int, ...] = (32, 64),
    epochs: tuple[int, ...] = (20, 30, 40),
) -> Recipe:
    """A well-tuned recipe for this model and optimiser, with random seed, batch and budget."""
    task_name = task or TASK_OF_MODEL[kind]
    spec = setting.tasks[task_name]
    return Recipe(
        task=spec,
        model=_model(setting, kind, activation),
        optimizer=optimizer,
        lr=_lr(TUNED_LR[(kind, optimizer)] * _jitter(rng, 0.7, 1.4)),
        batch_size=int(rng.choice(batch_sizes)),
        epochs=int(rng.choice(epochs)),
        seed=int(rng.integers(1, 10_000)),
    )


def healthy(setting: Setting, rng: np.random.Generator, index: int) -> Candidate:
    """Tuned LR with each common schedule; some Adam runs on small data (per-epoch sawtooth)."""
    schedule = SCHEDULES[index % len(SCHEDULES)]
    families = [
        ("linear", "sgd", None),
        ("logistic", "sgd", None),
        ("logistic", "momentum", None),
        ("mlp", "adam", "teacher"),
        ("mlp", "momentum", "teacher"),
        ("mlp", "adam", "rings"),
        ("deep_mlp", "adam", None),
        ("rnn", "adam", None),
        ("linear", "adam", None),
        ("irnn", "sgd", None),
    ]
    kind, optimizer, task = families[(index // len(SCHEDULES) + index) % len(families)]
    if kind == "irnn":
        # The exploding-gradient recipe with its fix (clipping) applied: a healthy ReLU RNN.
        clipped = exploding_gradients(setting, rng, index).fix
        return Candidate("healthy", replace(clipped, schedule=schedule), None, "")
    batches = (64, 128) if kind == "logistic" else (32, 64)
    recipe = _base(setting, rng, kind, optimizer, task=task, batch_sizes=batches)
    warmup = 0.05 if schedule in ("warmup", "cosine", "linear") and rng.random() < 0.7 else 0.0
    if schedule == "warmup":
        warmup = 0.1
    recipe = replace(recipe, schedule=schedule, warmup_fraction=warmup)
    if kind == "rnn":
        recipe = replace(recipe, clip=1.0, epochs=int(rng.choice([30, 40])))
    if schedule == "plateau":
        recipe = replace(recipe, epochs=40, plateau_patience=2)
    if index % 5 == 4 and kind in ("mlp", "deep_mlp"):
        # Small data, many epochs, Adam: memorisation makes the per-epoch sawtooth.
        small = replace(recipe.task, n_train=256)
        recipe = replace(
            recipe,
            task=small,
            optimizer="adam",
            lr=_lr(3e-3),
            batch_size=32,
            epochs=60,
            shuffle=bool(rng.random() < 0.5),
        )
    return Candidate("healthy", recipe, None, "")


def diverging(setting: Setting, rng: np.random.Generator, index: int) -> Candidate:
    """LR far too high (5-100x tuned, 300x+ for softmax regression), some after a warm-up."""
    families = [
        ("linear", "sgd", 20, 60),
        ("mlp", "sgd", 10, 40),
        ("deep_mlp", "sgd", 5, 20),
        ("linear", "momentum", 30, 100),
        ("mlp", "momentum", 10, 40),
        ("deep_mlp", "momentum", 5, 20),
        ("logistic", "sgd", 300, 1000),
    ]
    kind, optimizer, low, high = families[index % len(families)]
    activation = "relu" if kind in ("mlp", "deep_mlp") else "tanh"
    recipe = _base(
        setting,
        rng,
        kind,
        optimizer,
        task="teacher" if kind == "mlp" else None,
        activation=activation,
    )
    recipe = replace(recipe, lr=_lr(recipe.lr * _jitter(rng, low, high)))
    if index % 3 == 1:
        recipe = replace(
            recipe,
            schedule="warmup",
            warmup_fraction=float(rng.uniform(0.1, 0.3)),
            lr=_lr(recipe.lr * 2),
        )
    if index % 4 == 3:
        recipe = replace(recipe, stop_on_nan=True)
    return Candidate("diverging", recipe, None, "")


def oscillating(setting: Setting, rng: np.random.Generator, index: int) -> Candidate:
    """LR moderately too high: the loss bounces at a high level instead of settling."""
    families = [
        ("mlp", "adam", "teacher", "tanh", 30, 100, 3.0),
        ("logistic", "sgd", None, "tanh", 40, 100, 10.0),
        ("mlp", "sgd", "rings", "tanh", 40, 80, 5.0),
        ("deep_mlp", "adam", None, "tanh", 10, 40, 3.0),
        ("mlp", "adam", "teacher", "tanh", 30, 100, 3.0),
        ("logistic", "sgd", None, "tanh", 40, 100, 10.0),
    ]
    kind, optimizer, task, activation, low, high, fix_factor = families[index % len(families)]
    recipe = _base(
        setting,
        rng,
        kind,
        optimizer,
        task=task,
        activation=activation,
        batch_sizes=(256, 512) if kind == "logistic" else (32, 64),
    )
    recipe = replace(recipe, lr=_lr(recipe.lr * _jitter(rng, low, high)))
    fix = replace(recipe, lr=_lr(recipe.lr / fix_factor))
    return Candidate("oscillating", recipe, fix, f"lr/{fix_factor:g}")


def too_slow(setting: Setting, rng: np.random.Generator, index: int) -> Candidate:
    """LR far too low (1/50 to 1/1000 of tuned): stable, still falling, far from done."""
    families = [
        ("linear", "sgd", None, 300, 1000),
        ("logistic", "sgd", None, 300, 1000),
        ("mlp", "adam", "teacher", 80, 300),
        ("mlp", "momentum", "teacher", 1000, 3000),
        ("deep_mlp", "adam", None, 80, 250),
        ("rnn", "adam", None, 20, 60),
        ("linear", "momentum", None, 100, 400),
    ]
    kind, optimizer, task, low, high = families[index % len(families)]
    batches = (64, 128) if kind == "logistic" else (32, 64)
    tuned = _base(
        setting, rng, kind, optimizer, task=task, batch_sizes=batches, epochs=(10, 20, 30)
    )
    if kind == "rnn":
        tuned = replace(tuned, clip=1.0, epochs=20)
    slow = replace(tuned, lr=_lr(tuned.lr / _jitter(rng, low, high)))
    return Candidate("too_slow", slow, tuned, f"lr x{tuned.lr / slow.lr:.3g}")


def minibatch_noise(setting: Setting, rng: np.random.Generator, index: int) -> Candidate:
    """Batch size 1-4 at a sensible LR; the fix is batch 64 for the same steps and LR."""
    families = [
        ("logistic", "sgd", None),
        ("linear", "sgd", None),
        ("mlp", "adam", "teacher"),
        ("mlp", "sgd", "teacher"),
        ("logistic", "adam", None),
        ("mlp", "momentum", "teacher"),
    ]
    kind, optimizer, task = families[index % len(families)]
    recipe = _base(setting, rng, kind, optimizer, task=task)
    batch = int(rng.choice([1, 2, 4]))
    steps = int(rng.choice([1000, 1500, 2000]))
    epochs = max(1, round(steps * batch / recipe.task.n_train))
    recipe = replace(
        recipe, batch_size=batch, lr=_lr(recipe.lr * _jitter(rng, 0.2, 0.5)), epochs=epochs
    )
    steps = recipe.epochs * recipe.steps_per_epoch
    fixed_epochs = int(np.ceil(steps / (recipe.task.n_train // 64)))
    fix = replace(recipe, batch_size=64, epochs=fixed_epochs)
    return Candidate("minibatch_noise", recipe, fix, "batch_size 64, same steps and LR")


def exploding_gradients(setting: Setting, rng: np.random.Generator, index: int) -> Candidate:
    """No gradient clipping on a ReLU RNN over long sequences; the fix clips the global norm.

    The RNN is identity-initialised (IRNN, Le et al. 2015): its states are unbounded, so
    backpropagation through a long sequence multiplies the gradient by orders of magnitude,
    and the resulting update throws the loss up by orders of magnitude too.
    """
    task = setting.tasks["sequence"]
    optimizer = ("sgd", "momentum")[index % 2]
    # The blow-up grows geometrically with sequence length; scale the LR down for long ones.
    base = {"sgd": 0.002, "momentum": 0.0012}[optimizer] * (60 / task.seq_len) ** 2
    recipe = Recipe(
        task=task,
        model=_model(setting, "rnn", "relu", 1.0),
        optimizer=optimizer,
        lr=_lr(base * _jitter(rng, 0.7, 1.4)),
        batch_size=32,
        epochs=int(rng.choice([20, 25, 30])),
        schedule=str(rng.choice(["constant", "linear", "step", "cosine"])),
        seed=int(rng.integers(1, 10_000)),
    )
    clip = float(rng.choice([2.0, 5.0, 10.0]))
    return Candidate(
        "exploding_gradients", recipe, replace(recipe, clip=clip), f"clip grad norm {clip:g}"
    )


def stable_lr_for_raw_features(recipe: Recipe, fraction: float) -> float:
    """The LR a practitioner lands on for unscaled data: a fraction of 1 / (largest curvature).

    For squared error the curvature along feature j is 2 var(x_j); the largest raw feature
    sets the largest LR that does not blow up, which starves the small features.
    """
    scaled = make_dataset(recipe.task).x_train.std(axis=0)
    low, high = recipe.scaling
    largest = float(np.max(scaled)) * high
    curvature = (
        2.0 * largest**2 if recipe.task.family != "softmax_classification" else 0.5 * largest**2
    )
    return _lr(fraction / curvature)


def poor_feature_scaling(setting: Setting, rng: np.random.Generator, index: int) -> Candidate:
    """Raw features spanning 1e-2..1e3; the LR the largest feature allows crawls on the rest."""
    families = [
        ("linear", "sgd", None, "tanh"),
        ("logistic", "sgd", None, "tanh"),
        ("linear", "momentum", None, "tanh"),
        ("mlp", "sgd", "teacher", "relu"),
        ("logistic", "momentum", None, "tanh"),
    ]
    kind, optimizer, task, activation = families[index % len(families)]
    batches = (64, 128) if kind == "logistic" else (32, 64)
    tuned = _base(
        setting, rng, kind, optimizer, task=task, activation=activation, batch_sizes=batches
    )
    high = float(rng.choice([1e2, 3e2, 1e3]))
    raw = replace(tuned, scaling=(1e-2, high))
    fraction = _jitter(rng, 0.2, 0.6) * (0.1 if optimizer == "momentum" else 1.0)
    if kind == "mlp":
        fraction *= 0.1
    if kind == "logistic":
        fraction *= 10.0
    raw = replace(raw, lr=stable_lr_for_raw_features(raw, fraction))
    fix = replace(tuned, scaling=(1e-2, high), standardised=True)
    return Candidate("poor_feature_scaling", raw, fix, "standardised features")


FAMILIES: dict[str, Callable[[Setting, np.random.Generator, int], Candidate]] = {
    "healthy": healthy,
    "diverging": diverging,
    "oscillating": oscillating,
    "too_slow": too_slow,
    "minibatch_noise": minibatch_noise,
    "exploding_gradients": exploding_gradients,
    "poor_feature_scaling": poor_feature_scaling,
}


def candidates(split: Split, label: str, start: int, count: int) -> Iterator[Candidate]:
    """Candidates `start` .. `start + count - 1` for `label`: the same list on every call."""
    make = FAMILIES[label]
    for index in range(start, start + count):
        rng = np.random.default_rng([split.seed, VERDICTS.index(label), index])
        # A setting drawn at random, so every recipe family and schedule (chosen by index)
        # meets every setting rather than the ones its index happens to align with.
        chooser = np.random.default_rng([split.seed, VERDICTS.index(label), index, 3])
        setting = split.settings[int(chooser.integers(len(split.settings)))]
        yield make(setting, rng, index)
