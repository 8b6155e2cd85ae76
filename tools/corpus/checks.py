"""Written label criteria: a run keeps its intended label only if its outcome shows it.

Two sources of numbers: the clean loss on a fixed slice of the training set at each
evaluation (is the run really where the label says?) and the points the logger wrote (can
a reader see it?). A label that names a cause also needs its counterfactual: the same run
with the cause removed must come out healthy (overfitting: its validation loss must not
rise). Losses are relative to `initial - floor`, where the floor is the lowest of the task's
known floor (where the data give one) and the clean losses the run and its fix reached.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tools.corpus.runlog import RunLog
from tools.corpus.train import Result

MIN_LOGGED_POINTS = 10
HEALTHY_MAX_GAP = 0.10
HEALTHY_MAX_LATE_GAIN = 0.05
HEALTHY_MAX_LATE_FALL = 0.05
HEALTHY_MAX_NOISE = 0.12
HEALTHY_MAX_LOG_NOISE = 0.5
HEALTHY_NEAR_ZERO = 0.02
HEALTHY_MAX_LOSS_SPIKE = 3.0
HEALTHY_MAX_GRAD_SPIKE = 10.0
HEALTHY_MAX_VAL_REGAIN = 0.1
LR_LOWERED_LATE = 0.9
DIVERGING_MIN_GROWTH = 10.0
DIVERGING_MIN_RISE = 3.0
OSCILLATING_MIN_EXCESS_RATIO = 3.0
OSCILLATING_MIN_BOUNCE = 0.03
TOO_SLOW_MIN_GAP = 0.30
TOO_SLOW_MAX_NOISE = 0.25
NOISE_MIN_NOISE = 0.25
NOISE_MIN_LOG_NOISE = 0.7
NOISE_MIN_NOISE_RATIO = 2.5
NOISE_MAX_GAP = 0.60
EXPLODING_MIN_GRAD_SPIKE = 20.0
EXPLODING_MIN_LOGGED_GRAD_SPIKE = 10.0
EXPLODING_MIN_LOGGED_LOSS_SPIKE = 5.0
SCALING_MIN_EXCESS_RATIO = 10.0
SCALING_MIN_EARLY_SHARE = 0.6
SCALING_MIN_LATE_PROGRESS = 0.1
SCALING_MIN_LATE_FALL = 0.1
OVERFIT_MAX_TRAIN = 0.05
OVERFIT_MIN_VAL_RISE = 2.0
OVERFIT_MAX_VAL_MIN_AT = 0.6
HELD_LR = "held_lr"  # the variant of a healthy run whose LR is never lowered


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
    rise: float
    clean_rise: float
    grad_spike: float
    logged_grad_spike: float
    val_rise: float
    val_regain: float
    val_min_at: float
    logged_val_rise: float

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


def _spike_ratio(values: np.ndarray) -> float:
    """Largest value over its local rolling median: 1 for a smooth curve, 100 for a spike."""
    values = values[np.isfinite(values)]
    if values.size < 5:
        return 1.0
    smooth = rolling_median(values, max(5, values.size // 25))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nanmax(values / np.maximum(smooth, 1e-30)))


def _log_noise(logged: np.ndarray) -> float:
    """Late spread of the logged loss around its rolling median, in natural-log units."""
    positive = np.log(np.maximum(logged, 1e-300))
    residual = positive - rolling_median(positive, max(5, logged.size // 20))
    return float(np.std(residual[logged.size // 2 :]))


def _clean_at(result: Result, fraction: float) -> float:
    nearest = int(np.argmin(np.abs(result.eval_steps - fraction * result.planned_steps)))
    return float(result.clean[nearest])


def _rise(values: np.ndarray) -> float:
    """How far the smoothed curve ends above its lowest point: 1 when it ends at its minimum."""
    if values.size < 5 or not np.isfinite(values).all():
        return np.nan
    smooth = rolling_median(values, max(3, values.size // 20))
    tail = np.median(values[-max(1, values.size // 10) :])
    return float(tail / max(smooth.min(), 1e-30))


def measure(result: Result, log: RunLog, floor: float) -> Measures:
    """Measure `result` as the logger wrote it in `log`, against `floor`."""
    logged = np.array([p.train_loss for p in log.points], dtype=float)
    finite = bool(np.isfinite(result.loss).all() and not result.abandoned)
    evals = result.clean
    initial = float(evals[0])
    complete = finite and evals.size > 1 and np.isfinite(evals).all()
    tail = evals[-max(1, evals.size // 5) :]
    final = float(np.median(tail)) if complete else np.inf
    scale = max(initial - floor, 1e-12)
    nan = float("nan")
    gap_end = (final - floor) / scale
    at75 = _clean_at(result, 0.75) if complete else nan
    late_gain = (at75 - final) / scale if complete else nan
    excess = final - floor
    late_progress = (at75 - final) / excess if complete and excess > 0 else nan
    late_fall = 1.0 - final / at75 if complete and at75 > 0 else nan
    drop = initial - final
    early = _clean_at(result, 0.1) if complete else nan
    early_share = (initial - early) / drop if complete and drop > 0 else nan
    rates = result.lr[np.isfinite(result.lr)]
    lowered = bool(
        rates.size > 1 and rates[-1] < LR_LOWERED_LATE * rates[int(0.7 * (rates.size - 1))]
    )
    noise = log_noise = loss_spike = bounce = nan
    if complete and evals.size >= 8:
        bounce = _robust_std(np.diff(evals[evals.size // 2 :])) / scale
    if np.isfinite(logged).all() and logged.size >= 10:
        residual = logged - rolling_median(logged, max(5, logged.size // 20))
        noise = _robust_std(residual[logged.size // 2 :]) / scale
        log_noise = _log_noise(logged)
        loss_spike = _spike_ratio(logged)
    growth = nan
    if logged.size:
        as_finite = np.where(np.isfinite(logged), logged, np.inf)
        with np.errstate(invalid="ignore", divide="ignore"):
            growth = float(np.median(as_finite[-max(1, logged.size // 10) :]) / logged[0])
    grads = np.array([p.grad_norm for p in log.points if p.grad_norm is not None], dtype=float)
    val = result.val
    val_rise = val_regain = val_min_at = nan
    if np.isfinite(val).all():
        val_end = float(np.median(val[-3:]))
        val_rise = val_end / max(float(val.min()), 1e-30)
        val_regain = (val_end - val.min()) / max(val[0] - val.min(), 1e-30)
        val_min_at = float(result.eval_steps[int(np.argmin(val))] / result.planned_steps)
    logged_val = np.array([e.val_loss for e in log.evals], dtype=float)
    logged_val_rise = nan
    if logged_val.size >= 3 and np.isfinite(logged_val).all():
        logged_val_rise = float(np.median(logged_val[-3:]) / max(logged_val.min(), 1e-30))
    return Measures(
        finite=finite,
        logged_finite=bool(np.isfinite(logged).all()),
        points=int(logged.size),
        initial=initial,
        final=final,
        floor=float(floor),
        gap_end=float(gap_end),
        late_gain=float(late_gain),
        late_progress=float(late_progress),
        late_fall=float(late_fall),
        lr_lowered_late=lowered,
        early_share=float(early_share),
        noise=float(noise),
        log_noise=float(log_noise),
        bounce=float(bounce),
        loss_spike=float(loss_spike),
        growth=growth,
        rise=_rise(logged),
        clean_rise=float(final / max(np.nanmin(evals), 1e-30)) if complete else nan,
        grad_spike=_spike_ratio(result.grad_norm) if finite else nan,
        logged_grad_spike=_spike_ratio(grads) if grads.size else nan,
        val_rise=val_rise,
        val_regain=float(val_regain),
        val_min_at=val_min_at,
        logged_val_rise=logged_val_rise,
    )


def is_healthy(m: Measures) -> bool:
    """Converged near the floor, flattened, no noise, spikes, divergence or rising val loss.

    Cross-entropy on separable classes (floor 0) keeps falling in log space for ever, and
    its minibatch values near zero scatter and jump by factors that a linear plot does not
    show: such runs are judged on the linear measures only.
    """
    near_zero = m.floor <= 0 and m.final <= HEALTHY_NEAR_ZERO * m.initial
    quiet_log = m.log_noise <= HEALTHY_MAX_LOG_NOISE or near_zero
    return bool(
        m.finite
        and m.gap_end <= HEALTHY_MAX_GAP
        and m.late_gain <= HEALTHY_MAX_LATE_GAIN
        and (m.late_fall <= HEALTHY_MAX_LATE_FALL or m.lr_lowered_late or near_zero)
        and m.noise <= HEALTHY_MAX_NOISE
        and quiet_log
        and (m.loss_spike <= HEALTHY_MAX_LOSS_SPIKE or near_zero)
        and m.grad_spike <= HEALTHY_MAX_GRAD_SPIKE
        and m.val_regain <= HEALTHY_MAX_VAL_REGAIN
    )


def _excess(m: Measures) -> float:
    return max(m.final - m.floor, 0.0)


def is_diverging(m: Measures, fixed: Measures) -> bool:
    """NaN/inf in the log, a 10x growth, or a lasting climb from the minimum; the fix is healthy."""
    climbed = m.rise >= DIVERGING_MIN_RISE and not m.clean_rise < DIVERGING_MIN_RISE
    shows = (not m.logged_finite) or m.growth >= DIVERGING_MIN_GROWTH or climbed
    return bool(shows and is_healthy(fixed))


def is_oscillating(m: Measures, fixed: Measures) -> bool:
    """Bounded, bouncing and settled far above the healthy run with LR/10."""
    return bool(
        m.finite
        and m.growth < DIVERGING_MIN_GROWTH
        and m.grad_spike < EXPLODING_MIN_GRAD_SPIKE
        and m.bounce >= OSCILLATING_MIN_BOUNCE
        and m.bounce >= 3.0 * fixed.bounce
        and _excess(m) >= OSCILLATING_MIN_EXCESS_RATIO * _excess(fixed)
        and is_healthy(fixed)
    )


def is_too_slow(m: Measures, fixed: Measures) -> bool:
    """Far from the floor (falling slowly or flat), calm, where the tuned run is healthy."""
    return bool(
        m.finite
        and m.gap_end >= TOO_SLOW_MIN_GAP
        and m.growth < 1.2
        and m.noise <= TOO_SLOW_MAX_NOISE
        and m.log_noise <= HEALTHY_MAX_LOG_NOISE
        and m.loss_spike <= HEALTHY_MAX_LOSS_SPIKE
        and m.grad_spike < EXPLODING_MIN_GRAD_SPIKE
        and is_healthy(fixed)
    )


def is_minibatch_noise(m: Measures, fixed: Measures) -> bool:
    """Noisy but trending down; batch 64 (same steps, same LR) is healthy and far calmer.

    No limit on gradient spikes: one example's gradient is spiky by nature, and the healthy
    batch-64 fix already rules out an explosion as the cause.
    """
    calmer = (m.noise >= NOISE_MIN_NOISE and m.noise >= NOISE_MIN_NOISE_RATIO * fixed.noise) or (
        m.log_noise >= NOISE_MIN_LOG_NOISE
        and m.log_noise >= NOISE_MIN_NOISE_RATIO * fixed.log_noise
    )
    return bool(
        m.finite
        and m.gap_end <= NOISE_MAX_GAP
        and m.growth < DIVERGING_MIN_GROWTH
        and calmer
        and is_healthy(fixed)
    )


def is_exploding_gradients(m: Measures, fixed: Measures) -> bool:
    """Gradient spikes of orders of magnitude, visible in the log; the clipped run is healthy."""
    visible = (
        m.logged_grad_spike >= EXPLODING_MIN_LOGGED_GRAD_SPIKE
        or m.loss_spike >= EXPLODING_MIN_LOGGED_LOSS_SPIKE
    )
    return bool(
        m.finite
        and m.final < m.initial
        and m.grad_spike >= EXPLODING_MIN_GRAD_SPIKE
        and visible
        and is_healthy(fixed)
    )


def is_poor_feature_scaling(m: Measures, fixed: Measures) -> bool:
    """Most of the drop early, then a visible crawl far above the standardised run (healthy)."""
    return bool(
        m.finite
        and m.early_share >= SCALING_MIN_EARLY_SHARE
        and m.late_progress >= SCALING_MIN_LATE_PROGRESS
        and m.late_fall >= SCALING_MIN_LATE_FALL
        and _excess(m) >= SCALING_MIN_EXCESS_RATIO * _excess(fixed)
        and is_healthy(fixed)
    )


def is_overfitting(m: Measures, fixed: Measures) -> bool:
    """Training loss near its floor while the logged val loss climbs; the fix's does not."""
    return bool(
        m.finite
        and m.final <= OVERFIT_MAX_TRAIN * m.initial
        and m.val_rise >= OVERFIT_MIN_VAL_RISE
        and m.logged_val_rise >= OVERFIT_MIN_VAL_RISE
        and m.val_min_at <= OVERFIT_MAX_VAL_MIN_AT
        and fixed.finite
        and fixed.val_regain <= HEALTHY_MAX_VAL_REGAIN
    )


def is_healthy_at_held_lr(m: Measures, higher: Measures) -> bool:
    """Healthy at an LR held to the end (constant, or warmed up to it): such a run still creeps
    down when it stops, so the late-fall test gives way to the counterfactual that shows a
    tuned LR: the same run at 3x the LR ends no lower by more than the late-gain share of the
    gap (a held LR that is too small would be beaten)."""
    gap = m.initial - m.floor
    beaten = higher.finite and m.final - higher.final > HEALTHY_MAX_LATE_GAIN * gap
    return is_healthy(replace(m, late_fall=0.0)) and not beaten


CHECKS = {
    "healthy": lambda m, _longer: is_healthy(m),  # the longer run only sets the floor
    "diverging": is_diverging,
    "oscillating": is_oscillating,
    "too_slow": is_too_slow,
    "minibatch_noise": is_minibatch_noise,
    "exploding_gradients": is_exploding_gradients,
    "poor_feature_scaling": is_poor_feature_scaling,
    "overfitting": is_overfitting,
}


def passes(label: str, m: Measures, fixed: Measures, variant: str = "") -> bool:
    """Whether a run measured as `m`, with counterfactual `fixed`, shows `label`."""
    check = is_healthy_at_held_lr if variant == HELD_LR else CHECKS[label]
    return m.points >= MIN_LOGGED_POINTS and check(m, fixed)


RULES = {
    "healthy": (
        f"finite; clean final loss within {HEALTHY_MAX_GAP:g} of the initial-to-floor gap "
        "(gap_end; floor: the lowest of the task's known floor (0 for separable classes, the "
        "noise variance for regression) and the clean losses of the run and its fix; for "
        "text, the fix is the run at 1.5x steps); last quarter gains <= "
        f"{HEALTHY_MAX_LATE_GAIN:g} of the gap (late_gain); "
        f"the clean loss falls <= {HEALTHY_MAX_LATE_FALL:g} of itself over the last quarter "
        "(late_fall) unless the schedule lowered the LR in the last 30%; logged noise <= "
        f"{HEALTHY_MAX_NOISE:g} of the gap; log-noise <= {HEALTHY_MAX_LOG_NOISE:g}; logged "
        f"loss spikes <= {HEALTHY_MAX_LOSS_SPIKE:g}x and grad-norm spikes <= "
        f"{HEALTHY_MAX_GRAD_SPIKE:g}x their rolling median; late_fall, log-noise and loss "
        "spikes are waived when the floor is 0 (separable classes) and the clean loss ended "
        f"<= {HEALTHY_NEAR_ZERO:g}x its start (cross-entropy near zero); val loss regains <= "
        f"{HEALTHY_MAX_VAL_REGAIN:g} of its drop after its minimum (val_regain)"
    ),
    "healthy_held_lr": (
        "a healthy run whose LR is held to the end (constant, or warmed up to it; variant "
        f"{HELD_LR}): the healthy criteria without late_fall, and its fix, the same run at 3x "
        f"the LR, ends no lower by more than {HEALTHY_MAX_LATE_GAIN:g} of the gap"
    ),
    "diverging": (
        "the logged loss turns NaN/inf, or its last tenth ends >= "
        f"{DIVERGING_MIN_GROWTH:g}x its first logged value (growth), or it ends >= "
        f"{DIVERGING_MIN_RISE:g}x the minimum of its rolling median and so does the clean "
        "loss (rise, clean_rise); the fix (tuned LR) is healthy"
    ),
    "oscillating": (
        f"finite, growth < {DIVERGING_MIN_GROWTH:g}, no gradient spikes; the clean loss "
        f"bounces between late evaluations (bounce >= {OSCILLATING_MIN_BOUNCE:g} of the gap "
        f"and >= 3x the fix's); final excess over the floor >= {OSCILLATING_MIN_EXCESS_RATIO:g}x "
        "the fix's; the fix (LR/10) is healthy"
    ),
    "too_slow": (
        f"finite; clean final loss still >= {TOO_SLOW_MIN_GAP:g} of the gap (gap_end), "
        "falling slowly or flat, never rising (growth < 1.2); logged noise <= "
        f"{TOO_SLOW_MAX_NOISE:g}, log-noise <= {HEALTHY_MAX_LOG_NOISE:g}, no spikes; the fix "
        "(tuned LR or unfrozen, same budget) is healthy"
    ),
    "minibatch_noise": (
        f"finite; trending down (gap_end <= {NOISE_MAX_GAP:g}); logged noise >= "
        f"{NOISE_MIN_NOISE:g} of the gap or log-noise >= {NOISE_MIN_LOG_NOISE:g}, and >= "
        f"{NOISE_MIN_NOISE_RATIO:g}x the fix's; the fix (batch 64, same steps and LR) is healthy"
    ),
    "exploding_gradients": (
        "finite; ends below its initial loss; per-step grad norm >= "
        f"{EXPLODING_MIN_GRAD_SPIKE:g}x its rolling median at some step, visible in the log "
        f"(logged grad norm max/median >= {EXPLODING_MIN_LOGGED_GRAD_SPIKE:g} or logged loss "
        f">= {EXPLODING_MIN_LOGGED_LOSS_SPIKE:g}x its rolling median); the fix "
        "(clip_grad_norm_) is healthy"
    ),
    "poor_feature_scaling": (
        f"finite; >= {SCALING_MIN_EARLY_SHARE:g} of the drop in the first 10% of steps; the "
        f"last quarter still removes >= {SCALING_MIN_LATE_PROGRESS:g} of the excess over the "
        f"floor and >= {SCALING_MIN_LATE_FALL:g} of the loss itself (a visible crawl); final "
        f"excess >= {SCALING_MIN_EXCESS_RATIO:g}x the fix's; the fix (standardised inputs) is "
        "healthy"
    ),
    "overfitting": (
        f"finite; clean training loss ends <= {OVERFIT_MAX_TRAIN:g}x its start; val loss "
        f"ends >= {OVERFIT_MIN_VAL_RISE:g}x its minimum, both measured and as logged, the "
        f"minimum within the first {OVERFIT_MAX_VAL_MIN_AT:g} of the run; the fix (10x data, "
        f"or weight decay and dropout) regains <= {HEALTHY_MAX_VAL_REGAIN:g} of its val drop"
    ),
}
