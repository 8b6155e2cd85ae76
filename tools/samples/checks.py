"""Label checks: a run keeps its intended label only if its outcome shows the failure.

Each check compares measured numbers with fixed limits and, where the label names a cause
that a fix would remove (noise, exploding gradients, unscaled features, an LR too high or
too low), also requires that the same run with the fix applied is healthy. The measures
come from two places: the clean full-training-set loss at each evaluation (is the run
really where the label says?) and the points the logger wrote (can a reader see it?).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.optimize import minimize

from tools.samples.logview import GRAD_NORM, TRAIN_LOSS, Series
from tools.samples.training import Recipe, TrainingResult, prepare_data, train

MIN_LOGGED_POINTS = 10
HEALTHY_MAX_GAP = 0.10
HEALTHY_MAX_LATE_GAIN = 0.05
HEALTHY_MAX_NOISE = 0.12
HEALTHY_MAX_LOSS_SPIKE = 3.0
HEALTHY_MAX_GRAD_SPIKE = 10.0
HEALTHY_MAX_LATE_FALL = 0.05
LR_LOWERED_LATE = 0.9
DIVERGING_MIN_GROWTH = 10.0
OSCILLATING_MIN_EXCESS_RATIO = 3.0
OSCILLATING_MIN_BOUNCE = 0.03
TOO_SLOW_MIN_GAP = 0.30
TOO_SLOW_MIN_LATE_GAIN = 0.03
TOO_SLOW_MAX_NOISE = 0.25
NOISE_MIN_NOISE = 0.25
NOISE_MIN_LOG_NOISE = 0.7
HEALTHY_MAX_LOG_NOISE = 0.5
NOISE_MIN_NOISE_RATIO = 2.5
NOISE_MAX_GAP = 0.60
EXPLODING_MIN_GRAD_SPIKE = 20.0
EXPLODING_MIN_LOGGED_GRAD_SPIKE = 10.0
EXPLODING_MIN_LOGGED_LOSS_SPIKE = 5.0
SCALING_MIN_EXCESS_RATIO = 10.0
SCALING_MIN_EARLY_SHARE = 0.6
SCALING_MIN_LATE_PROGRESS = 0.1
SCALING_MIN_LATE_FALL = 0.1


@dataclass(frozen=True)
class Measures:
    """Numbers one run is judged by; losses relative to `initial - floor` unless named."""

    finite: bool
    logged_finite: bool
    points: int
    initial: float
    final: float
    floor: float
    gap_end: float
    late_gain: float
    late_progress: float
    late_fall: float
    lr_lowered_late: bool
    early_share: float
    noise: float
    log_noise: float
    bounce: float
    loss_spike: float
    growth: float
    peak: float
    grad_spike: float
    logged_grad_spike: float

    def as_dict(self) -> dict:
        return {key: _rounded(value) for key, value in asdict(self).items()}


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.4g}") if np.isfinite(value) else str(value)
    return value


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling median with edge padding, so the result has the input's length."""
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    return np.median(sliding_window_view(padded, 2 * half + 1), axis=1)


def _robust_std(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size else 0.0


def _clean_at(result: TrainingResult, fraction: float) -> float:
    """The full-training-set loss at the evaluation nearest `fraction` of the planned steps."""
    total = result.recipe.epochs * result.recipe.steps_per_epoch
    nearest = int(np.argmin(np.abs(result.eval_steps - fraction * total)))
    return float(result.train_loss_full[nearest])


def _lr_lowered_late(result: TrainingResult) -> bool:
    """Whether the schedule lowered the LR during the last 30% of the run.

    A loss still falling then is the schedule's doing (a step, a cosine or linear anneal, a
    plateau cut), not a sign that the run never settled.
    """
    rates = result.lr[np.isfinite(result.lr)]
    if rates.size < 2:
        return False
    return bool(rates[-1] < LR_LOWERED_LATE * rates[int(0.7 * (rates.size - 1))])


def _spike_ratio(values: np.ndarray) -> float:
    """Largest value over its local rolling median: 1 for a smooth curve, 100 for a spike."""
    if values.size < 5:
        return 1.0
    smooth = rolling_median(values, max(5, values.size // 25))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nanmax(values / smooth))


def _log_noise(logged: np.ndarray) -> float:
    """Spread of the late logged loss around its rolling median, in natural-log units.

    Relative spread is what a log-scale plot shows: the minibatch loss of a batch of two
    scatters over orders of magnitude even when its mean has converged.
    """
    positive = np.log(np.maximum(logged, 1e-300))
    residual = positive - rolling_median(positive, max(5, logged.size // 20))
    return float(np.std(residual[logged.size // 2 :]))


def _eval_bounce(evals: np.ndarray, scale: float) -> float:
    """How much the full-training-set loss jumps between evaluations late in the run.

    Minibatch noise leaves this loss smooth; an LR that is too high makes the parameters
    themselves bounce, and this loss with them.
    """
    if evals.size < 8 or not np.isfinite(evals).all():
        return np.nan
    late = evals[evals.size // 2 :]
    return _robust_std(np.diff(late)) / scale


def measure(result: TrainingResult, view: dict[str, Series], floor: float) -> Measures:
    """Compute the measures of `result` as logged in `view`, against the task's `floor`."""
    logged = view[TRAIN_LOSS].values
    finite = bool(np.isfinite(result.loss).all() and np.isfinite(logged).all())
    initial = float(result.train_loss_full[0])
    evals = result.train_loss_full
    tail = evals[-max(1, evals.size // 5) :]
    complete = result.stopped_at is None and evals.size > 1
    final = float(np.median(tail)) if complete and np.isfinite(tail).all() else np.inf
    scale = max(initial - floor, 1e-12)
    gap_end = (final - floor) / scale
    late_gain = (_clean_at(result, 0.75) - final) / scale if complete else np.nan
    excess = final - floor
    late_progress = (
        (_clean_at(result, 0.75) - final) / excess if complete and excess > 0 else np.nan
    )
    # The loss's own relative fall, not the excess's: what a log-scale plot of it shows.
    late_fall = 1.0 - final / _clean_at(result, 0.75) if complete else np.nan
    drop = initial - final
    early_share = (initial - _clean_at(result, 0.1)) / drop if complete and drop > 0 else np.nan
    noise = log_noise = loss_spike = np.nan
    bounce = _eval_bounce(evals, scale) if complete else np.nan
    if finite and logged.size >= 10:
        window = max(5, logged.size // 20)
        residual = logged - rolling_median(logged, window)
        late_half = residual[logged.size // 2 :]
        noise = _robust_std(late_half) / scale
        log_noise = _log_noise(logged)
        loss_spike = _spike_ratio(logged)
    first_logged = logged[0] if logged.size else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        as_finite = np.where(np.isfinite(logged), logged, np.inf)
        # A run that turned NaN before its first logged point leaves nothing to compare.
        growth = peak = np.nan
        if logged.size:
            growth = float(np.median(as_finite[-max(1, logged.size // 10) :]) / first_logged)
            peak = float(np.max(as_finite) / first_logged)
    grad_spike = logged_grad_spike = np.nan
    if finite:
        grad_spike = _spike_ratio(result.grad_norm)
        if GRAD_NORM in view:
            logged_grad_spike = _spike_ratio(view[GRAD_NORM].values)
    return Measures(
        finite=finite,
        logged_finite=bool(np.isfinite(logged).all()),
        points=int(logged.size),
        initial=initial,
        final=final,
        floor=floor,
        gap_end=float(gap_end),
        late_gain=float(late_gain),
        late_progress=float(late_progress),
        late_fall=float(late_fall),
        lr_lowered_late=_lr_lowered_late(result),
        early_share=float(early_share),
        noise=float(noise),
        log_noise=float(log_noise),
        bounce=float(bounce),
        loss_spike=float(loss_spike),
        growth=growth,
        peak=peak,
        grad_spike=float(grad_spike),
        logged_grad_spike=float(logged_grad_spike),
    )


def is_healthy(m: Measures) -> bool:
    """Converged near the floor, flattened, and free of noise, spikes and divergence.

    Flattened twice over: the last quarter gains little of the initial-to-floor gap (a
    linear plot is flat) and, unless the schedule lowered the LR late, the loss itself
    falls by less than HEALTHY_MAX_LATE_FALL (a log plot is flat too). A run at a steady LR
    whose loss still falls 20% in its last quarter has not settled, whatever its gap.
    """
    return (
        m.finite
        and m.gap_end <= HEALTHY_MAX_GAP
        and m.late_gain <= HEALTHY_MAX_LATE_GAIN
        and (m.late_fall <= HEALTHY_MAX_LATE_FALL or m.lr_lowered_late)
        and m.noise <= HEALTHY_MAX_NOISE
        and m.log_noise <= HEALTHY_MAX_LOG_NOISE
        and m.loss_spike <= HEALTHY_MAX_LOSS_SPIKE
        and m.grad_spike <= HEALTHY_MAX_GRAD_SPIKE
    )


def is_diverging(m: Measures) -> bool:
    """The logged loss turns NaN/inf or ends above DIVERGING_MIN_GROWTH times its first value."""
    return (not m.logged_finite) or m.growth >= DIVERGING_MIN_GROWTH


def _excess(m: Measures) -> float:
    return max(m.final - m.floor, 0.0)


def shows_oscillation(m: Measures) -> bool:
    """Bounded (no divergence, no gradient spikes) but the clean loss bounces late in the run."""
    return (
        m.finite
        and m.growth < DIVERGING_MIN_GROWTH
        and m.bounce >= OSCILLATING_MIN_BOUNCE
        and m.grad_spike < EXPLODING_MIN_GRAD_SPIKE
    )


def is_oscillating(m: Measures, fixed: Measures) -> bool:
    """Settled far above, and bouncing far more than, the healthy run with a lower LR."""
    return (
        shows_oscillation(m)
        and _excess(m) >= OSCILLATING_MIN_EXCESS_RATIO * _excess(fixed)
        and m.bounce >= 3.0 * fixed.bounce
        and is_healthy(fixed)
    )


def shows_slow_progress(m: Measures) -> bool:
    """Stable and still falling, but far from the floor, without noise or spikes."""
    return (
        m.finite
        and m.gap_end >= TOO_SLOW_MIN_GAP
        and m.late_gain >= TOO_SLOW_MIN_LATE_GAIN
        and m.noise <= TOO_SLOW_MAX_NOISE
        and m.log_noise <= HEALTHY_MAX_LOG_NOISE
        and m.loss_spike <= HEALTHY_MAX_LOSS_SPIKE
        and m.grad_spike < EXPLODING_MIN_GRAD_SPIKE
    )


def is_too_slow(m: Measures, fixed: Measures) -> bool:
    """Slow progress, where the same budget at a well-tuned LR is healthy."""
    return shows_slow_progress(m) and is_healthy(fixed)


def shows_noise(m: Measures) -> bool:
    """Noisy (relative to the drop, or on a log scale) but trending down, without spikes."""
    return (
        m.finite
        and m.gap_end <= NOISE_MAX_GAP
        and (m.noise >= NOISE_MIN_NOISE or m.log_noise >= NOISE_MIN_LOG_NOISE)
        and m.growth < DIVERGING_MIN_GROWTH
        and m.grad_spike < EXPLODING_MIN_GRAD_SPIKE
    )


def is_minibatch_noise(m: Measures, fixed: Measures) -> bool:
    """Noise that a batch of 64 (same steps, same LR) removes: the fix is healthy and far calmer."""
    calmer = (m.noise >= NOISE_MIN_NOISE and m.noise >= NOISE_MIN_NOISE_RATIO * fixed.noise) or (
        m.log_noise >= NOISE_MIN_LOG_NOISE
        and m.log_noise >= NOISE_MIN_NOISE_RATIO * fixed.log_noise
    )
    return shows_noise(m) and calmer and is_healthy(fixed)


def shows_gradient_explosion(m: Measures) -> bool:
    """Finite, ends below its start, with a visible spike of orders of magnitude in the gradient."""
    visible = (
        m.logged_grad_spike >= EXPLODING_MIN_LOGGED_GRAD_SPIKE
        or m.loss_spike >= EXPLODING_MIN_LOGGED_LOSS_SPIKE
    )
    return m.finite and m.final < m.initial and m.grad_spike >= EXPLODING_MIN_GRAD_SPIKE and visible


def is_exploding_gradients(m: Measures, fixed: Measures) -> bool:
    """A gradient explosion that clipping removes: the clipped run is healthy."""
    return shows_gradient_explosion(m) and is_healthy(fixed)


def shows_fast_then_crawl(m: Measures) -> bool:
    """Most of the drop in the first 10% of steps, and still crawling at the end.

    The crawl: the last quarter of the run still removes a share of the loss left above
    the floor, and of the loss itself. A run whose loss fell by less than
    SCALING_MIN_LATE_FALL then looks settled on any plot: a floor its fix would beat cannot
    be read from its log, so it is not kept as a crawl.
    """
    return (
        m.finite
        and m.early_share >= SCALING_MIN_EARLY_SHARE
        and m.late_progress >= SCALING_MIN_LATE_PROGRESS
        and m.late_fall >= SCALING_MIN_LATE_FALL
    )


def is_poor_feature_scaling(m: Measures, fixed: Measures) -> bool:
    """Fast early drop, then a crawl far above what standardised features reach (healthy)."""
    return (
        shows_fast_then_crawl(m)
        and _excess(m) >= SCALING_MIN_EXCESS_RATIO * _excess(fixed)
        and is_healthy(fixed)
    )


def _softmax_regression_floor(x: np.ndarray, labels: np.ndarray, classes: int) -> float:
    """The exact minimum of the (convex) softmax-regression training loss."""
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    onehot = np.eye(classes)[labels]

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        logits = design @ flat.reshape(design.shape[1], classes)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -np.mean(np.sum(onehot * log_probs, axis=1))
        grad = design.T @ (np.exp(log_probs) - onehot) / x.shape[0]
        return float(loss), grad.ravel()

    start = np.zeros(design.shape[1] * classes)
    result = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", options={"gtol": 1e-10})
    return float(result.fun)


def reference_recipe(recipe: Recipe) -> Recipe:
    """A long, well-tuned run of the same model on the same standardised data."""
    kind = recipe.model.kind
    return replace(
        recipe,
        optimizer="adam",
        lr={"rnn": 3e-3, "deep_mlp": 1e-3}.get(kind, 3e-3),
        batch_size=32,
        epochs={"rnn": 60}.get(kind, 50),
        schedule="cosine",
        warmup_fraction=0.0,
        clip=1.0 if kind == "rnn" else None,
        scaling=None,
        standardised=True,
        seed=1000,
        shuffle=True,
        stop_on_nan=False,
    )


def attainable_floor(recipe: Recipe) -> float:
    """The lowest training loss the task allows this model: exact for linear models."""
    kind = recipe.model.kind
    data = prepare_data(replace(recipe, scaling=None, standardised=True))
    if kind == "linear":
        design = np.hstack([data.x_train, np.ones((data.x_train.shape[0], 1))])
        weights, *_ = np.linalg.lstsq(design, data.y_train, rcond=None)
        return float(np.mean((design @ weights - data.y_train) ** 2))
    if kind == "logistic":
        return _softmax_regression_floor(data.x_train, data.y_train, recipe.task.outputs)
    return float(np.nanmin(train(reference_recipe(recipe)).train_loss_full))


RULES = {
    "healthy": (
        f"finite; clean final loss within {HEALTHY_MAX_GAP:g} of the initial-to-floor gap "
        f"(gap_end); last quarter gains <= {HEALTHY_MAX_LATE_GAIN:g} (late_gain); the clean "
        f"loss falls <= {HEALTHY_MAX_LATE_FALL:g} of itself over the last quarter (late_fall) "
        "unless the schedule lowered the LR in the last 30% (lr_lowered_late); logged "
        f"noise <= {HEALTHY_MAX_NOISE:g} of the gap; logged loss spikes <= "
        f"{HEALTHY_MAX_LOSS_SPIKE:g}x the rolling median; grad norm max/median <= "
        f"{HEALTHY_MAX_GRAD_SPIKE:g} (both local: over a rolling median); "
        f"log-noise <= {HEALTHY_MAX_LOG_NOISE:g}"
    ),
    "diverging": (
        f"logged loss turns NaN/inf, or its last tenth ends >= {DIVERGING_MIN_GROWTH:g}x "
        "its first logged value (growth)"
    ),
    "oscillating": (
        f"finite, growth < {DIVERGING_MIN_GROWTH:g}; final excess over the floor >= "
        f"{OSCILLATING_MIN_EXCESS_RATIO:g}x that of the fix (lower LR); clean loss bounces "
        f"between evaluations (bounce >= {OSCILLATING_MIN_BOUNCE:g} and >= 3x the fix); "
        "the fix is healthy"
    ),
    "too_slow": (
        f"finite; clean final loss still >= {TOO_SLOW_MIN_GAP:g} of the gap (gap_end) and "
        f"still falling (late_gain >= {TOO_SLOW_MIN_LATE_GAIN:g}); logged noise <= "
        f"{TOO_SLOW_MAX_NOISE:g} and log-noise <= {HEALTHY_MAX_LOG_NOISE:g}, no spikes; "
        "the fix (well-tuned LR, same budget) is healthy"
    ),
    "minibatch_noise": (
        f"finite; trending down (gap_end <= {NOISE_MAX_GAP:g}); logged noise >= "
        f"{NOISE_MIN_NOISE:g} of the gap or log-noise >= {NOISE_MIN_LOG_NOISE:g}, and >= "
        f"{NOISE_MIN_NOISE_RATIO:g}x the fix's; the fix (batch 64, same steps and LR) is healthy"
    ),
    "exploding_gradients": (
        f"finite; ends below its initial loss; grad norm >= "
        f"{EXPLODING_MIN_GRAD_SPIKE:g}x its rolling median at some step, visible in the log "
        f"(logged grad norm max/median >= {EXPLODING_MIN_LOGGED_GRAD_SPIKE:g} or logged loss "
        f">= {EXPLODING_MIN_LOGGED_LOSS_SPIKE:g}x its rolling median); "
        "the fix (clipping) is healthy"
    ),
    "poor_feature_scaling": (
        f"finite; >= {SCALING_MIN_EARLY_SHARE:g} of the total drop happens in the first 10% "
        f"of steps (early_share); the last quarter still removes >= "
        f"{SCALING_MIN_LATE_PROGRESS:g} of the excess left over the floor (late_progress: a "
        f"crawl) and the clean loss falls >= {SCALING_MIN_LATE_FALL:g} of itself over it "
        "(late_fall: a crawl a plot shows); final excess over the floor >= "
        f"{SCALING_MIN_EXCESS_RATIO:g}x "
        "that of the fix (standardised features); the fix is healthy"
    ),
}


RUN_SHOWS = {
    "healthy": is_healthy,
    "diverging": is_diverging,
    "oscillating": shows_oscillation,
    "too_slow": shows_slow_progress,
    "minibatch_noise": shows_noise,
    "exploding_gradients": shows_gradient_explosion,
    "poor_feature_scaling": shows_fast_then_crawl,
}
WITH_FIX = {
    "oscillating": is_oscillating,
    "too_slow": is_too_slow,
    "minibatch_noise": is_minibatch_noise,
    "exploding_gradients": is_exploding_gradients,
    "poor_feature_scaling": is_poor_feature_scaling,
}


def passes(label: str, measures: Measures, fixed: Measures | None) -> bool:
    """Whether a run measured as `measures` (its fix as `fixed`) shows `label`.

    A run needs MIN_LOGGED_POINTS logged training-loss points to be a usable sample. Labels
    that name a fixable cause need the fix's measures; without them the check fails.
    """
    if measures.points < MIN_LOGGED_POINTS:
        return False
    if label not in WITH_FIX:
        return RUN_SHOWS[label](measures)
    return fixed is not None and WITH_FIX[label](measures, fixed)
