"""Named measurements of curves: what rules reason about.

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

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage, optimize, signal, stats

from lrdoctor.model import Curve

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
    and the features measured across two signals (`ACROSS`).

    Train-loss rules see the val-loss curve's features under the prefix. The val loss is
    measured on a fixed set, so it is free of mini-batch noise: when parameters bounce (an
    LR too high) it bounces too, and when it still falls at the end the model was still
    learning rather than memorising the training set.
    """
    val_names = {VAL_PREFIX + name for name in FEATURES if "val_loss" in FEATURES[name].signals}
    has_names = {HAS_PREFIX + role for role in OPTIONAL_SIGNALS}
    return set(FEATURES) | val_names | has_names | set(ACROSS)


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
        return bool(self.clean.size) and bool(np.all(self.clean > 0))

    @cached_property
    def level(self) -> np.ndarray:
        """The curve on the scale progress is judged on: log10 when positive, else raw."""
        return np.log10(self.clean) if self.positive else self.clean.astype(float)

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
    def residual_scale(self) -> float:
        """Robust standard deviation of the residual (MAD x 1.4826)."""
        return float(stats.median_abs_deviation(self.residual, scale="normal"))

    def head(self, fraction: float, minimum: int = 3) -> np.ndarray:
        count = max(minimum, int(round(self.clean.size * fraction)))
        return self.level[:count]

    def tail(self, fraction: float, minimum: int = 3) -> np.ndarray:
        count = max(minimum, int(round(self.clean.size * fraction)))
        return self.level[-count:]

    def untransform(self, level: float) -> float:
        return float(10**level) if self.positive else float(level)


def _needs_points(function: Callable) -> Callable:
    """Features return None when the curve has too few measurable points."""

    def guarded(prepared: Prepared) -> Value:
        return function(prepared) if prepared.measurable else None

    guarded.__name__ = function.__name__
    guarded.__doc__ = function.__doc__
    return guarded


# --- extent -------------------------------------------------------------------------------


@feature(*SIGNALS)
def points(c: Prepared) -> int:
    """Number of logged points, finite or not."""
    return int(c.values.size)


@feature(*SIGNALS)
def first_step(c: Prepared) -> int | None:
    """First logged step."""
    return int(c.steps[0]) if c.steps.size else None


@feature(*SIGNALS)
def last_step(c: Prepared) -> int | None:
    """Last logged step."""
    return int(c.steps[-1]) if c.steps.size else None


@feature(*SIGNALS)
def nonfinite_step(c: Prepared) -> int | None:
    """Step of the first NaN or inf value: where the run numerically broke, if it did."""
    index = c.first_nonfinite_index
    return None if index is None else int(c.steps[index])


@feature(*SIGNALS)
def nonfinite_share(c: Prepared) -> float | None:
    """Share of logged points that are NaN or inf."""
    return float(np.mean(~np.isfinite(c.values))) if c.values.size else None


# --- levels and progress ----------------------------------------------------------------


@feature(*LOSS_SIGNALS)
@_needs_points
def initial_loss(c: Prepared) -> float:
    """Median of the first 5% of finite values: the starting level, robust to one bad point."""
    return c.untransform(float(np.median(c.head(0.05))))


@feature(*LOSS_SIGNALS)
@_needs_points
def final_loss(c: Prepared) -> float:
    """Median of the last 10% of finite values: where the run ended up."""
    return c.untransform(float(np.median(c.tail(0.10))))


@feature(*LOSS_SIGNALS)
@_needs_points
def best_loss(c: Prepared) -> float:
    """Lowest point of the smoothed curve."""
    return c.untransform(float(np.min(c.trend)))


@feature(*LOSS_SIGNALS)
@_needs_points
def growth(c: Prepared) -> float | None:
    """Final level over initial level (positive losses): above 1 means the loss went up."""
    if not c.positive:
        return None
    return float(10 ** (np.median(c.tail(0.10)) - np.median(c.head(0.05))))


@feature(*LOSS_SIGNALS)
@_needs_points
def peak_growth(c: Prepared) -> float | None:
    """Highest smoothed level over the initial level: a blow-up even if the run recovered."""
    if not c.positive:
        return None
    return float(10 ** (np.max(c.trend) - np.median(c.head(0.05))))


@feature(*LOSS_SIGNALS)
@_needs_points
def rebound(c: Prepared) -> float | None:
    """Final level over the best smoothed level: how far the loss climbed back from its best."""
    if not c.positive:
        return None
    return float(10 ** (np.median(c.tail(0.10)) - np.min(c.trend)))


@feature(*LOSS_SIGNALS)
@_needs_points
def decades_dropped(c: Prepared) -> float | None:
    """Orders of magnitude the loss fell from its start to its end (log10 initial/final)."""
    if not c.positive:
        return None
    return float(np.median(c.head(0.05)) - np.median(c.tail(0.10)))


@feature(*LOSS_SIGNALS)
@_needs_points
def early_drop_share(c: Prepared) -> float | None:
    """Share of the whole drop achieved in the first 10% of the run.

    A well-tuned run often does most of its work early too; together with a late phase that
    still falls steadily this marks ill-conditioning (one fast direction, one slow one).
    """
    start = float(np.median(c.head(0.05)))
    end = float(np.median(c.tail(0.10)))
    total = start - end
    if total <= 0:
        return None
    at_tenth = float(np.interp(0.1, c.progress_axis, c.trend))
    return float(np.clip((start - at_tenth) / total, -1.0, 2.0))


# --- trend --------------------------------------------------------------------------------


def _theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    if x.size > 400:  # Theil-Sen is quadratic in points; a thinned curve gives the same slope
        keep = np.linspace(0, x.size - 1, 400).astype(int)
        x, y = x[keep], y[keep]
    return float(stats.theilslopes(y, x).slope)


@feature(*LOSS_SIGNALS)
@_needs_points
def trend_tau(c: Prepared) -> float:
    """Mann-Kendall tau of the level against step: -1 a steady fall, 0 no trend, 1 a rise."""
    return float(stats.kendalltau(c.progress_axis, c.level).statistic)


@feature(*LOSS_SIGNALS)
@_needs_points
def trend_z(c: Prepared) -> float:
    """Mann-Kendall statistic as a z-score: below -2 the fall is significant (about 5%).

    Tau alone does not say whether a weak trend is real: -0.08 over 400 points is a steady
    fall (z about -2.3), over 20 points it is chance (z about -0.5). A run still falling
    significantly is making progress, however slowly, and is not stuck bouncing.
    """
    n = c.level.size
    spread = np.sqrt(2.0 * (2 * n + 5) / (9.0 * n * (n - 1)))
    return float(stats.kendalltau(c.progress_axis, c.level).statistic / spread)


@feature(*LOSS_SIGNALS)
@_needs_points
def late_tau(c: Prepared) -> float:
    """Mann-Kendall tau over the last half: is the loss still going down at the end?"""
    half = c.level.size // 2
    return float(stats.kendalltau(c.progress_axis[half:], c.level[half:]).statistic)


@feature(*LOSS_SIGNALS)
@_needs_points
def overall_slope(c: Prepared) -> float:
    """Theil-Sen slope of the level per whole run (decades per budget for positive losses)."""
    return _theil_sen(c.progress_axis, c.level)


@feature(*LOSS_SIGNALS)
@_needs_points
def late_slope(c: Prepared) -> float:
    """Theil-Sen slope of the level over the last 30%, per whole run: the pace at the end.

    Negative and comparable to the overall slope means the run was still falling steadily
    when the budget ran out; near zero means it had flattened; positive means it was rising.
    """
    start = int(c.level.size * 0.7)
    return _theil_sen(c.progress_axis[start:], c.level[start:])


@feature(*LOSS_SIGNALS)
@_needs_points
def late_pace_share(c: Prepared) -> float | None:
    """Late slope over overall slope when both fall: near 1 means the run never slowed down.

    A run that is still falling at its average pace at the end of its budget is far from
    converged; a converged run's late pace is a small share of its average.
    """
    overall = _theil_sen(c.progress_axis, c.level)
    start = int(c.level.size * 0.7)
    late = _theil_sen(c.progress_axis[start:], c.level[start:])
    if overall >= 0:
        return None
    return float(late / overall)


def _late_decay_fit(c: Prepared) -> tuple[float, float, float] | None:
    """Fit level(t) = floor + a*exp(-k t) to the smoothed loss over the second half.

    The fitted floor is where the run was heading; how far the end still is from it tells
    a converged run from one still crawling along a slow direction.
    """
    if not c.positive:
        return None
    late = c.progress_axis >= 0.5
    x = (c.progress_axis[late] - 0.5) * 2
    y = 10 ** c.trend[late]
    if y.size < 5:
        return None
    start = (max(float(y[0] - y[-1]), 1e-12), 2.0, float(y[-1]))
    bounds = ([0.0, 0.0, 0.0], [np.inf, 200.0, np.inf])
    try:
        with np.errstate(all="ignore"):
            (amplitude, rate, floor), _ = optimize.curve_fit(
                lambda t, a, k, f: f + a * np.exp(-k * t),
                x,
                y,
                p0=start,
                bounds=bounds,
                maxfev=2000,
            )
    except (RuntimeError, ValueError):
        return None
    return float(amplitude), float(rate), float(floor)


@feature(*LOSS_SIGNALS)
@_needs_points
def projected_remaining(c: Prepared) -> float | None:
    """Share of the final loss the run was still on course to remove (exponential fit).

    Near 0: the loss had reached the floor it was heading for. Large: the loss was still
    decaying towards a much lower floor when the budget ended (a crawl, or too small a step).
    """
    fit = _late_decay_fit(c)
    if fit is None:
        return None
    end = float(10 ** c.trend[-1])
    return float(np.clip((end - fit[2]) / end, -1.0, 1.0)) if end > 0 else None


@feature(*LOSS_SIGNALS)
@_needs_points
def late_loglog_slope(c: Prepared) -> float | None:
    """Decades of loss lost per decade of steps over the second half (Theil-Sen, log-log).

    A well-conditioned run converges exponentially and ends flat (near 0). Ill-conditioned
    problems decay like a power law, a sum of exponentials with widely spread rates, so the
    loss still falls a fixed share per doubling of steps at the end (for example -0.8).
    """
    if not c.positive:
        return None
    steps = c.clean_steps.astype(float)
    # Time counts from when the loss started falling (a tenth of its drop), not from step 0:
    # a warm-up holds the loss up early, which would make any later fall look like a crawl.
    drop = c.trend[0] - c.trend.min()
    started = int(np.argmax(c.trend <= c.trend[0] - 0.1 * drop)) if drop > 0 else 0
    origin = steps[max(started - 1, 0)]
    offset = max(steps[1] - steps[0] if steps.size > 1 else 1.0, 1.0)
    elapsed = np.log10(np.maximum(steps - origin, 0.0) + offset)
    half = max(c.level.size // 2, started + 1)
    if c.level.size - half < 5:
        return None
    return _theil_sen(elapsed[half:], c.trend[half:])


@feature(*LOSS_SIGNALS)
@_needs_points
def late_start_step(c: Prepared) -> int:
    """First step of the late window (last 30%) that late-phase features look at."""
    return int(c.clean_steps[int(c.clean_steps.size * 0.7)])


# --- noise, zig-zag, spikes ----------------------------------------------------------------


@feature(*LOSS_SIGNALS)
@_needs_points
def noise(c: Prepared) -> float:
    """Robust spread of the point-to-point residual around the running median.

    In log space this is relative noise: 0.1 means points scatter about 25% around the trend.
    """
    return c.residual_scale


@feature(*LOSS_SIGNALS)
@_needs_points
def noise_to_drop(c: Prepared) -> float | None:
    """Residual noise over the total drop in level: noisy relative to the progress made."""
    drop = float(np.median(c.head(0.05)) - np.median(c.tail(0.10)))
    if drop <= 0:
        return None
    return c.residual_scale / drop


def _lag1_autocorrelation(values: np.ndarray) -> float | None:
    centred = values - values.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0:
        return None
    return float(np.dot(centred[1:], centred[:-1]) / denominator)


@feature(*LOSS_SIGNALS)
@_needs_points
def residual_acf1(c: Prepared) -> float | None:
    """Lag-1 autocorrelation of the residual: about -1 for a period-2 zig-zag (overshoot).

    Mini-batch noise leaves an uncorrelated residual (near 0, a little negative from the
    smoothing); an optimiser bouncing across a valley alternates sign step after step, or,
    with momentum or Adam, drifts to one side for several logged points (clearly positive).
    """
    return _lag1_autocorrelation(c.residual)


@feature(*LOSS_SIGNALS)
@_needs_points
def late_residual_acf1(c: Prepared) -> float | None:
    """Lag-1 autocorrelation of the residual over the last half: zig-zag that never settles."""
    return _lag1_autocorrelation(c.residual[c.residual.size // 2 :])


@feature(*LOSS_SIGNALS)
@_needs_points
def late_noise(c: Prepared) -> float:
    """Robust spread of the residual over the last 30% (log space for positive losses)."""
    late = c.residual[int(c.residual.size * 0.7) :]
    return float(stats.median_abs_deviation(late, scale="normal"))


@feature(*LOSS_SIGNALS)
@_needs_points
def late_range(c: Prepared) -> float:
    """Spread between the 10th and 90th percentile of the level over the last 30%.

    A settled run moves little at the end; one that bounces between good and bad values
    keeps a wide range.
    """
    late = c.level[int(c.level.size * 0.7) :]
    return float(np.percentile(late, 90) - np.percentile(late, 10))


def _spikes(c: Prepared, limit: float) -> np.ndarray:
    scale = c.residual_scale or float(np.std(c.residual)) or 1.0
    return np.flatnonzero(c.residual / scale > limit)


@feature(*LOSS_SIGNALS)
@_needs_points
def spike_count(c: Prepared) -> int:
    """Points more than 8 robust deviations above the running median: sudden loss jumps."""
    return int(_spikes(c, 8.0).size)


@feature(*LOSS_SIGNALS)
@_needs_points
def max_spike_z(c: Prepared) -> float:
    """Largest upward residual in robust deviations."""
    scale = c.residual_scale or float(np.std(c.residual)) or 1.0
    return float(np.max(c.residual) / scale)


@feature(*LOSS_SIGNALS)
@_needs_points
def max_spike_decades(c: Prepared) -> float | None:
    """Largest jump above the running median in orders of magnitude (positive losses).

    1.0 means one point was ten times the surrounding level: beyond any mini-batch noise.
    """
    return float(np.max(c.residual)) if c.positive else None


@feature(*LOSS_SIGNALS)
@_needs_points
def first_spike_step(c: Prepared) -> int | None:
    """Step of the first loss spike, if any."""
    spikes = _spikes(c, 8.0)
    return int(c.clean_steps[spikes[0]]) if spikes.size else None


@feature(*LOSS_SIGNALS)
@_needs_points
def dominant_period(c: Prepared) -> float | None:
    """Period, in points, of the strongest cycle in the residual (periodogram peak)."""
    frequencies, power = signal.periodogram(c.residual, detrend="linear")
    if power[1:].sum() == 0:
        return None
    peak = 1 + int(np.argmax(power[1:]))
    return float(1.0 / frequencies[peak])


@feature(*LOSS_SIGNALS)
@_needs_points
def dominant_power_share(c: Prepared) -> float | None:
    """Share of residual variance in the strongest cycle: high for a clean oscillation."""
    frequencies, power = signal.periodogram(c.residual, detrend="linear")
    total = power[1:].sum()
    if total == 0:
        return None
    return float(power[1:].max() / total)


# --- gradient norm ------------------------------------------------------------------------


def _grad_ratio(c: Prepared) -> np.ndarray:
    median = np.median(c.clean)
    return c.clean / median if median > 0 else np.full(c.clean.shape, np.nan)


def _grad_local_ratio(c: Prepared) -> np.ndarray:
    """Each gradient norm over the running median of the 21 points around it (NaN where 0)."""
    local = ndimage.median_filter(c.clean, size=21, mode="nearest")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(local > 0, c.clean / local, np.nan)


@feature("grad_norm")
@_needs_points
def grad_norm_median(c: Prepared) -> float:
    """Median logged gradient norm: the typical size of an update's gradient."""
    return float(np.median(c.clean))


@feature("grad_norm")
@_needs_points
def grad_norm_p90(c: Prepared) -> float:
    """90th percentile of the gradient norm: a clip value that leaves most steps untouched."""
    return float(np.percentile(c.clean, 90))


@feature("grad_norm")
@_needs_points
def grad_spike_ratio(c: Prepared) -> float | None:
    """Largest gradient norm over the median: 100 means a step 100x larger than typical."""
    ratio = _grad_ratio(c)
    return None if np.isnan(ratio).all() else float(np.nanmax(ratio))


@feature("grad_norm")
@_needs_points
def grad_local_spike_ratio(c: Prepared) -> float | None:
    """Largest gradient norm over the running median around it (window of 21 points).

    Gradient norms shrink as training converges, so the early norms of a healthy run can be
    tens of times the overall median; an explosion is a jump above the *local* level.
    """
    ratio = _grad_local_ratio(c)
    return None if np.isnan(ratio).all() else float(np.nanmax(ratio))


@feature("grad_norm")
@_needs_points
def grad_spike_count(c: Prepared) -> int:
    """Points where the gradient norm exceeds 10x its median."""
    return int(np.sum(_grad_ratio(c) > 10))


@feature("grad_norm")
@_needs_points
def first_grad_spike_step(c: Prepared) -> int | None:
    """Step of the first gradient norm above 10x its median."""
    spikes = np.flatnonzero(_grad_ratio(c) > 10)
    return int(c.clean_steps[spikes[0]]) if spikes.size else None


@feature("grad_norm")
@_needs_points
def grad_norm_growth(c: Prepared) -> float | None:
    """Median of the last 10% over median of the first 10%: steady growth of gradients."""
    head = np.median(c.clean[: max(3, c.clean.size // 10)])
    tail = np.median(c.clean[-max(3, c.clean.size // 10) :])
    return float(tail / head) if head > 0 else None


# --- learning rate ------------------------------------------------------------------------


@feature("lr")
def lr_initial(c: Prepared) -> float | None:
    """First logged learning rate."""
    return float(c.clean[0]) if c.clean.size else None


@feature("lr")
def lr_peak(c: Prepared) -> float | None:
    """Largest logged learning rate (the peak after any warm-up)."""
    return float(np.max(c.clean)) if c.clean.size else None


@feature("lr")
def lr_final(c: Prepared) -> float | None:
    """Last logged learning rate."""
    return float(c.clean[-1]) if c.clean.size else None


@feature("lr")
def lr_warmup_steps(c: Prepared) -> int | None:
    """Steps from the first logged point to the peak learning rate (0 without warm-up)."""
    if not c.clean.size:
        return None
    return int(c.clean_steps[int(np.argmax(c.clean))] - c.clean_steps[0])


@feature("lr")
def lr_drops(c: Prepared) -> int | None:
    """Number of sudden learning-rate cuts (by 2x or more between two logged points)."""
    if c.clean.size < 2:
        return None
    previous, current = c.clean[:-1], c.clean[1:]
    return int(np.sum((current > 0) & (previous / np.where(current > 0, current, 1) >= 2)))


# --- across signals: two curves of one run -------------------------------------------------

ACROSS: dict[str, FeatureSpec] = {}


def across(*signals: str) -> Callable:
    """Register a measurement of two or more signals of one run (all must be measurable)."""
    return _registrar(ACROSS, signals)


@across("train_loss", "val_loss")
def val_gap(train: Prepared, val: Prepared) -> float | None:
    """Final val loss over final train loss in decades (log10): the generalisation gap.

    Near 0 the model does as well on unseen data as on its training data; 0.3 means the val
    loss ends twice the training loss (memorising). Negative values are common with dropout
    or when the training loss is averaged over an epoch the model improved during.
    """
    if not (train.positive and val.positive):
        return None
    return float(np.median(val.tail(0.10)) - np.median(train.tail(0.10)))


@across("train_loss", "grad_norm")
def spike_coincidence(loss: Prepared, grad: Prepared) -> float | None:
    """Share of gradient-norm spikes (10x their local median) met by a loss spike.

    A spike in the gradient norm that throws the loss up at the same step is an update that
    blew up, not a noisy measurement: clipping would have bounded it. The loss spike must be
    at the loss point nearest the gradient spike or one of its neighbours.
    """
    spikes = np.flatnonzero(_grad_local_ratio(grad) > 10)
    if not spikes.size or loss.clean_steps.size < 2:
        return None
    loss_spikes = np.zeros(loss.clean.size + 2, dtype=bool)
    loss_spikes[_spikes(loss, 8.0) + 1] = True
    nearest = np.searchsorted(loss.clean_steps, grad.clean_steps[spikes])
    nearest = np.clip(nearest, 0, loss.clean.size - 1) + 1
    met = loss_spikes[nearest - 1] | loss_spikes[nearest] | loss_spikes[nearest + 1]
    return float(np.mean(met))


def measure(prepared: Prepared, signal_role: str) -> dict[str, Value]:
    """Every feature registered for `signal_role`, measured on one prepared curve."""
    return {
        name: spec.function(prepared)
        for name, spec in FEATURES.items()
        if signal_role in spec.signals
    }


def measure_across(prepared: dict[str, Prepared]) -> dict[str, Value]:
    """Every across-signal feature: None unless each of its signals is present and measurable."""
    return {
        name: spec.function(*(prepared[role] for role in spec.signals))
        if all(role in prepared and prepared[role].measurable for role in spec.signals)
        else None
        for name, spec in ACROSS.items()
    }
