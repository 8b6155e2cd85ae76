"""Data sets made with numpy, each paired with the model family that learns it.

Nothing is downloaded: every data set is drawn from a seeded generator, so a recipe names
its data completely by (family, sizes, seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """A data set: `family` picks the generator; sizes and `data_seed` fix its contents."""

    family: str
    features: int
    n_train: int
    n_val: int
    outputs: int = 1
    noise: float = 0.1
    seq_len: int = 0
    data_seed: int = 0


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def _correlated_gaussian(rng: np.random.Generator, count: int, features: int) -> np.ndarray:
    """Unit-scale features with mild correlations, like real tabular inputs after z-scoring."""
    mixing = np.eye(features) + 0.3 * rng.normal(size=(features, features)) / np.sqrt(features)
    x = rng.normal(size=(count, features)) @ mixing
    return x / x.std(axis=0)


def _linear_regression(spec: TaskSpec, rng: np.random.Generator, count: int):
    x = _correlated_gaussian(rng, count, spec.features)
    weights = np.random.default_rng(spec.data_seed + 7).normal(size=(spec.features, 1))
    y = x @ weights / np.sqrt(spec.features) + spec.noise * rng.normal(size=(count, 1))
    return x, y


def _softmax_classification(spec: TaskSpec, rng: np.random.Generator, count: int):
    """Classes drawn from a linear softmax teacher, so some label noise is irreducible."""
    x = _correlated_gaussian(rng, count, spec.features)
    weights = np.random.default_rng(spec.data_seed + 7).normal(size=(spec.features, spec.outputs))
    logits = x @ weights * (3.0 / np.sqrt(spec.features))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = (probs.cumsum(axis=1) > rng.random((count, 1))).argmax(axis=1)
    return x, labels


def _teacher_regression(spec: TaskSpec, rng: np.random.Generator, count: int):
    """Targets from a random one-hidden-layer tanh teacher plus noise."""
    teacher_rng = np.random.default_rng(spec.data_seed + 11)
    hidden = 2 * spec.features
    w1 = teacher_rng.normal(size=(spec.features, hidden)) * (1.5 / np.sqrt(spec.features))
    w2 = teacher_rng.normal(size=(hidden, spec.outputs)) / np.sqrt(hidden)
    x = _correlated_gaussian(rng, count, spec.features)
    y = np.tanh(x @ w1) @ w2
    y = y / np.std(np.tanh(_correlated_gaussian(teacher_rng, 4096, spec.features) @ w1) @ w2)
    return x, y + spec.noise * rng.normal(size=y.shape)


def _rings(spec: TaskSpec, rng: np.random.Generator, count: int):
    """Concentric noisy rings in a random 2-D plane of the feature space: not linearly separable."""
    labels = rng.integers(0, spec.outputs, size=count)
    radius = 1.0 + labels + spec.noise * rng.normal(size=count)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=count)
    plane = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    basis, _ = np.linalg.qr(
        np.random.default_rng(spec.data_seed + 13).normal(size=(spec.features, 2))
    )
    x = plane @ basis.T / spec.outputs + 0.1 * rng.normal(size=(count, spec.features))
    return x / x.std(axis=0), labels


def _sequence_filter(spec: TaskSpec, rng: np.random.Generator, count: int):
    """Each output step is a slowly leaking sum of past inputs: long memory for a recurrent net.

    Remembering over many steps needs recurrent weights near the edge of stability, where
    backpropagation through a long sequence can blow up.
    """
    filter_rng = np.random.default_rng(spec.data_seed + 17)
    mixing = filter_rng.normal(size=(spec.features, spec.outputs)) / np.sqrt(spec.features)
    x = 0.3 * rng.normal(size=(count, spec.seq_len, spec.features))
    y = np.zeros((count, spec.seq_len, spec.outputs))
    state = np.zeros((count, spec.outputs))
    for t in range(spec.seq_len):
        state = 0.97 * state + x[:, t] @ mixing
        y[:, t] = state
    y /= 0.3 * np.linalg.norm(mixing, axis=0) / np.sqrt(1.0 - 0.97**2)
    return x, y + spec.noise * rng.normal(size=y.shape)


GENERATORS = {
    "linear_regression": _linear_regression,
    "softmax_classification": _softmax_classification,
    "teacher_regression": _teacher_regression,
    "rings": _rings,
    "sequence_filter": _sequence_filter,
}


def make_dataset(spec: TaskSpec) -> Dataset:
    """Draw the training and validation sets of `spec` (same distribution, disjoint draws)."""
    generate = GENERATORS[spec.family]
    x_train, y_train = generate(spec, np.random.default_rng([spec.data_seed, 1]), spec.n_train)
    x_val, y_val = generate(spec, np.random.default_rng([spec.data_seed, 2]), spec.n_val)
    return Dataset(x_train, y_train, x_val, y_val)


def feature_scales(features: int, low: float, high: float, seed: int) -> np.ndarray:
    """Per-feature factors spread log-uniformly from `low` to `high` (raw units, no scaling)."""
    exponents = np.linspace(np.log10(low), np.log10(high), features)
    return 10.0 ** np.random.default_rng(seed).permutation(exponents)


def scale_features(data: Dataset, scales: np.ndarray) -> Dataset:
    """The same data in unscaled units: column j multiplied by `scales[j]`."""
    return Dataset(data.x_train * scales, data.y_train, data.x_val * scales, data.y_val)


def standardise(data: Dataset) -> Dataset:
    """Z-score every feature with training-set statistics, the fix for unscaled inputs."""
    axes = tuple(range(data.x_train.ndim - 1))
    mean = data.x_train.mean(axis=axes)
    std = data.x_train.std(axis=axes)
    return Dataset((data.x_train - mean) / std, data.y_train, (data.x_val - mean) / std, data.y_val)
