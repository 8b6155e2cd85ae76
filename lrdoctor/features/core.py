"""The feature registry and the prepared curve every feature reads.

Features measure and never decide. Each is a plain function registered under its name with a
docstring saying what it measures and why a rule would care; `measure(...)` computes every
feature of a signal once, and all rules share the result. A feature that cannot be measured
(too few points, a negative loss where a ratio is needed) is `None`, and a rule comparing
with `None` does not fire.

Loss curves are judged in log space when they are positive: a drop from 1.0 to 0.1 and one
from 0.01 to 0.001 are the same progress to an optimiser, and multiplicative noise becomes
additive.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from scipy import ndimage, signal, stats

from lrdoctor.model import Curve, Run
from lrdoctor.roles import adaptive_optimizer, batch_size

LOSS_SIGNALS = ("train_loss", "val_loss")
SIGNALS = ("train_loss", "val_loss", "grad_norm", "lr")
MIN_POINTS = 8

Value = float | int | bool | None


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    signals: tuple[str, ...]
    doc: str
    function: Callable


FEATURES: dict[str, FeatureSpec] = {}


def _registrar(registry: dict[str, FeatureSpec], signals: tuple[str, ...]) -> Callable:
    def register(function: Callable) -> Callable:
        doc = " ".join((function.__doc__ or "").split())
        registry[function.__name__] = FeatureSpec(function.__name__, signals, doc, function)
        return function

    return register


def feature(*signals: str) -> Callable:
    """Register a measurement for the given signals under the function's name."""
    return _registrar(FEATURES, signals)


VAL_PREFIX = "val_"
HAS_PREFIX = "has_"
OPTIONAL_SIGNALS = ("val_loss", "grad_norm", "lr")


def known_features() -> set[str]:
    """Every name a condition may use: each feature, each val-loss feature as `val_<name>`,
    `has_val_loss`, `has_grad_norm`, `has_lr` (that curve was logged, long enough to
    measure), so a rule can say what to do when a curve is absent rather than stay unknown,
    the features measured across two signals (`ACROSS`) and the run's `RUN_FACTS`.

    Train-loss rules see the val-loss curve's features under the prefix. The val loss is
    measured on a fixed set, so it is free of mini-batch noise: when parameters bounce (an
    LR too high) it bounces too, and when it still falls at the end the model was still
    learning rather than memorising the training set.
    """
    val_names = {VAL_PREFIX + name for name in FEATURES if "val_loss" in FEATURES[name].signals}
    has_names = {HAS_PREFIX + role for role in OPTIONAL_SIGNALS}
    return set(FEATURES) | val_names | has_names | set(ACROSS) | set(RUN_FACTS)


def run_facts(run: Run) -> dict[str, Value]:
    """What the run's params say about its set-up, for every signal's rules (None when not
    recorded): a curve alone cannot tell a tiny batch's scatter from an LR's bounce; the batch
    size can. Likewise a crawl along badly scaled features from a slow fit: an optimiser that
    scales each weight's step by its own gradients (`adaptive_optimizer`, known where
    `has_optimizer`) is blind to the scale of the inputs."""
    adaptive = adaptive_optimizer(run)
    return {
        "batch_size": batch_size(run),
        "adaptive_optimizer": adaptive,
        "has_optimizer": adaptive is not None,
    }


RUN_FACTS = ("batch_size", "adaptive_optimizer", "has_optimizer")


# Class counts whose chance-level cross-entropy ln(K) can be told apart from its neighbours at
# a gap of a few tenths of a percent: up to 40 classes, plus the common 100 and 1000.
CHANCE_CLASSES = np.array([*range(2, 41), 100, 1000])


class Prepared:
    """One curve with the derived arrays every feature needs, computed once on demand."""

    def __init__(self, curve: Curve):
        self.curve = curve
        self.steps = curve.steps
        self.values = curve.values

    @cached_property
    def first_nonfinite_index(self) -> int | None:
        bad = np.flatnonzero(~np.isfinite(self.values))
        return int(bad[0]) if bad.size else None

    @cached_property
    def clean_steps(self) -> np.ndarray:
        """Steps before the first NaN/inf: the part of the run that can be measured."""
        return self.steps[: self.first_nonfinite_index]

    @cached_property
    def clean(self) -> np.ndarray:
        return self.values[: self.first_nonfinite_index]

    @property
    def measurable(self) -> bool:
        return self.clean.size >= MIN_POINTS

    @cached_property
    def positive(self) -> bool:
        """No negative value and some above zero: a loss that log space can judge.

        A cross-entropy at the float32 floor logs exact zeros now and then; they are read as
        the smallest positive value the curve holds rather than sending the run to raw units.
        """
        return bool(np.any(self.clean > 0)) and bool(np.all(self.clean >= 0))

    @cached_property
    def level(self) -> np.ndarray:
        """The curve on the scale progress is judged on: log10 when positive, else raw."""
        if not self.positive:
            return self.clean.astype(float)
        return np.log10(np.maximum(self.clean, np.min(self.clean[self.clean > 0])))

    @cached_property
    def progress_axis(self) -> np.ndarray:
        """Steps rescaled to 0..1 over the measured part, so slopes are per training budget."""
        steps = self.clean_steps.astype(float)
        span = steps[-1] - steps[0] if steps.size > 1 else 1.0
        return (steps - steps[0]) / (span or 1.0)

    @cached_property
    def window(self) -> int:
        """Odd smoothing window: about a twentieth of the curve, at least 5 points."""
        size = max(5, self.clean.size // 20)
        return size + 1 - size % 2

    @cached_property
    def trend(self) -> np.ndarray:
        """Running median of the level: robust to spikes, follows real drops."""
        return ndimage.median_filter(self.level, size=self.window, mode="nearest")

    @cached_property
    def residual(self) -> np.ndarray:
        return self.level - self.trend

    @cached_property
    def level_tau(self) -> float:
        """Mann-Kendall tau of the level against step, shared by the trend features."""
        return float(stats.kendalltau(self.progress_axis, self.level).statistic)

    @cached_property
    def late_start(self) -> int:
        """Index where the late window (the last 30%) begins."""
        return int(self.level.size * 0.7)

    @cached_property
    def level_slope(self) -> float:
        """Theil-Sen slope of the level over the whole run, per whole run."""
        return theil_sen(self.progress_axis, self.level)

    @cached_property
    def late_level_slope(self) -> float:
        """Theil-Sen slope of the level over the late window, per whole run."""
        return theil_sen(self.progress_axis[self.late_start :], self.level[self.late_start :])

    @cached_property
    def residual_spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """Periodogram (frequencies, power) of the residual, shared by the cycle features."""
        return signal.periodogram(self.residual, detrend="linear")

    @cached_property
    def residual_scale(self) -> float:
        """Robust standard deviation of the residual (MAD x 1.4826)."""
        return robust_spread(self.residual)

    @cached_property
    def linear_trend(self) -> np.ndarray:
        """Running median in the loss's own units: for shares of the drop, not ratios."""
        return ndimage.median_filter(self.clean.astype(float), size=self.window, mode="nearest")

    @cached_property
    def start_level(self) -> float:
        """Median of the first 5% of the level: where the run started, robust to one point."""
        return float(np.median(self.head(0.05)))

    @cached_property
    def end_level(self) -> float:
        """Median of the last 10% of the level: where the run ended up."""
        return float(np.median(self.tail(0.10)))

    @cached_property
    def jump_values(self) -> np.ndarray:
        """The finite loss in its own units, exact zeros read as in `level`: what jumps and
        spikes are measured on."""
        return np.power(10.0, self.level) if self.positive else self.clean.astype(float)

    @cached_property
    def recent(self) -> np.ndarray:
        """`recent_level` of `jump_values`: the level each point is compared with."""
        return recent_level(self.jump_values)

    @cached_property
    def first_level(self) -> float:
        """Median of the first 1% of the level (3 to 20 points): where training began. On a
        long run the first 5% can already sit at the floor the loss reached early."""
        return float(np.median(self.level[: int(np.clip(self.level.size // 100, 3, 20))]))

    @cached_property
    def chance_fit(self) -> tuple[float, int] | None:
        """(gap, K): the chance level ln(K) nearest the second half's median loss, and the
        larger relative distance from it of that median and of the first three points'."""
        if self.clean.size < 3:
            return None
        start = float(np.median(self.clean[:3]))
        late = float(np.median(self.clean[self.clean.size // 2 :]))
        if late <= 0:
            return None
        chance = np.log(CHANCE_CLASSES)
        best = int(np.argmin(np.abs(late / chance - 1)))
        gap = max(abs(late / chance[best] - 1), abs(start / chance[best] - 1))
        return float(gap), int(CHANCE_CLASSES[best])

    @cached_property
    def drop_range(self) -> float | None:
        """First minus best loss in the loss's own units: the progress the run made.

        Rises, spikes and scatter measured as shares of it stay meaningful when the best loss
        sits at the floating-point floor, where ratios against the best explode.
        """
        span = self.untransform(self.first_level) - self.untransform(float(np.min(self.trend)))
        return span if span > 0 else None

    def head(self, fraction: float, minimum: int = 3) -> np.ndarray:
        """The level over the first `fraction` of the run: of its points, or `minimum` if
        more, but never past that fraction of the steps (a coarse log's third point may lie
        well into the run, after the fast early drop)."""
        count = max(minimum, int(round(self.clean.size * fraction)))
        within = int(np.searchsorted(self.progress_axis, fraction, side="right"))
        return self.level[: max(1, min(count, within))]

    def tail(self, fraction: float, minimum: int = 3) -> np.ndarray:
        """The level over the last `fraction` of the run, bounded as `head` is."""
        count = max(minimum, int(round(self.clean.size * fraction)))
        within = self.clean.size - int(np.searchsorted(self.progress_axis, 1 - fraction))
        return self.level[-max(1, min(count, within)) :]

    def untransform(self, level: float) -> float:
        return float(10**level) if self.positive else float(level)


NORMAL_MAD = 0.6744897501960817  # scipy.special.ndtri(0.75): the MAD of a unit normal


def robust_spread(values: np.ndarray) -> float:
    """MAD x 1.4826, as `scipy.stats.median_abs_deviation(values, scale="normal")` gives it
    on a finite curve, without the per-call cost of scipy's argument handling."""
    return float(np.median(np.abs(values - np.median(values))) / NORMAL_MAD)


THEIL_SEN_POINTS = 400


@lru_cache(maxsize=16)
def _point_pairs(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, j), i < j, of `count` points: built once per curve length (most thinned
    curves have 400 points)."""
    return np.triu_indices(count, 1)


def theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    """Median slope over all pairs of points with distinct x: `scipy.stats.theilslopes`'s
    slope, from each pair once rather than from both orders, and without the sort,
    intercept and confidence interval it also computes.

    Theil-Sen is quadratic in points; over 400 an evenly thinned curve gives the same slope.
    """
    if x.size > THEIL_SEN_POINTS:
        keep = np.linspace(0, x.size - 1, THEIL_SEN_POINTS).astype(int)
        x, y = x[keep], y[keep]
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    first, second = _point_pairs(x.size)
    dx = x[second] - x[first]
    distinct = dx != 0
    if not distinct.any():
        return float("nan")
    return float(np.median((y[second] - y[first])[distinct] / dx[distinct]))


def recent_level(values: np.ndarray, width: int = 21) -> np.ndarray:
    """Median of the `width` values logged before each point (the first point: itself).

    A jump is judged against where the curve just was, not against a window that also
    holds the jump and what follows it.
    """
    values = np.asarray(values, dtype=float)
    if not values.size:
        return values
    trailing = ndimage.median_filter(values, size=width, origin=(width - 1) // 2, mode="nearest")
    return np.concatenate([values[:1], trailing[:-1]])


def needs_points(function: Callable) -> Callable:
    """Features return None when the curve has too few measurable points."""

    def guarded(prepared: Prepared) -> Value:
        return function(prepared) if prepared.measurable else None

    guarded.__name__ = function.__name__
    guarded.__doc__ = function.__doc__
    return guarded


ACROSS: dict[str, FeatureSpec] = {}


def across(*signals: str) -> Callable:
    """Register a measurement of two or more signals of one run (all must be measurable)."""
    return _registrar(ACROSS, signals)


@contextmanager
def quiet_numerics() -> Iterator[None]:
    """Silence numpy and scipy arithmetic warnings while features are measured: a degenerate
    curve (every step but one far away, a constant loss) yields NaN or None features, which
    the rules read as "not measurable"; the warnings would only reach the user's terminal."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def measure(prepared: Prepared, signal_role: str) -> dict[str, Value]:
    """Every feature registered for `signal_role`, measured on one prepared curve."""
    with quiet_numerics():
        return {
            name: spec.function(prepared)
            for name, spec in FEATURES.items()
            if signal_role in spec.signals
        }


def measure_across(prepared: dict[str, Prepared]) -> dict[str, Value]:
    """Every across-signal feature: None unless each of its signals is present and measurable."""
    with quiet_numerics():
        return {
            name: spec.function(*(prepared[role] for role in spec.signals))
            if all(role in prepared and prepared[role].measurable for role in spec.signals)
            else None
            for name, spec in ACROSS.items()
        }
