"""Features of a loss curve: extent, levels and progress, trend, noise and spikes."""

from __future__ import annotations

import numpy as np
from scipy import stats

from lrdoctor.features.core import (
    LOSS_SIGNALS,
    SIGNALS,
    Prepared,
    feature,
    needs_points,
    recent_level,
    robust_spread,
    theil_sen,
)

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
@needs_points
def initial_loss(c: Prepared) -> float:
    """Median of the first 5% of finite values: the starting level, robust to one bad point."""
    return c.untransform(c.start_level)


@feature(*LOSS_SIGNALS)
@needs_points
def final_loss(c: Prepared) -> float:
    """Median of the last 10% of finite values: where the run ended up."""
    return c.untransform(c.end_level)


@feature(*LOSS_SIGNALS)
@needs_points
def best_loss(c: Prepared) -> float:
    """Lowest point of the smoothed curve."""
    return c.untransform(float(np.min(c.trend)))


@feature(*LOSS_SIGNALS)
@needs_points
def growth(c: Prepared) -> float | None:
    """Final level over initial level (positive losses): above 1 means the loss went up."""
    if not c.positive:
        return None
    return float(10 ** (c.end_level - c.start_level))


@feature(*LOSS_SIGNALS)
@needs_points
def peak_growth(c: Prepared) -> float | None:
    """Highest smoothed level over the initial level: a blow-up even if the run recovered."""
    if not c.positive:
        return None
    return float(10 ** (np.max(c.trend) - c.start_level))


@feature(*LOSS_SIGNALS)
@needs_points
def rebound(c: Prepared) -> float | None:
    """Final level over the best smoothed level: how far the loss climbed back from its best."""
    if not c.positive:
        return None
    return float(10 ** (c.end_level - np.min(c.trend)))


@feature(*LOSS_SIGNALS)
@needs_points
def decades_dropped(c: Prepared) -> float | None:
    """Orders of magnitude the loss fell from its start to its end (log10 initial/final)."""
    if not c.positive:
        return None
    return c.start_level - c.end_level


@feature(*LOSS_SIGNALS)
@needs_points
def early_drop_share(c: Prepared) -> float | None:
    """Share of the whole drop achieved in the first 10% of the run.

    A well-tuned run often does most of its work early too; together with a late phase that
    still falls steadily this marks ill-conditioning (one fast direction, one slow one).
    """
    start = c.start_level
    total = start - c.end_level
    if total <= 0:
        return None
    at_tenth = float(np.interp(0.1, c.progress_axis, c.trend))
    return float(np.clip((start - at_tenth) / total, -1.0, 2.0))


# --- trend --------------------------------------------------------------------------------


@feature(*LOSS_SIGNALS)
@needs_points
def trend_tau(c: Prepared) -> float:
    """Mann-Kendall tau of the level against step: -1 a steady fall, 0 no trend, 1 a rise."""
    return c.level_tau


@feature(*LOSS_SIGNALS)
@needs_points
def trend_z(c: Prepared) -> float:
    """Mann-Kendall statistic as a z-score: below -2 the fall is significant (about 5%).

    Tau alone does not say whether a weak trend is real: -0.08 over 400 points is a steady
    fall (z about -2.3), over 20 points it is chance (z about -0.5). A run still falling
    significantly is making progress, however slowly, and is not stuck bouncing.
    """
    n = c.level.size
    spread = np.sqrt(2.0 * (2 * n + 5) / (9.0 * n * (n - 1)))
    return float(c.level_tau / spread)


@feature(*LOSS_SIGNALS)
@needs_points
def late_tau(c: Prepared) -> float:
    """Mann-Kendall tau over the last half: is the loss still going down at the end?"""
    half = c.level.size // 2
    return float(stats.kendalltau(c.progress_axis[half:], c.level[half:]).statistic)


@feature(*LOSS_SIGNALS)
@needs_points
def overall_slope(c: Prepared) -> float:
    """Theil-Sen slope of the level per whole run (decades per budget for positive losses)."""
    return c.level_slope


@feature(*LOSS_SIGNALS)
@needs_points
def late_slope(c: Prepared) -> float:
    """Theil-Sen slope of the level over the last 30%, per whole run: the pace at the end.

    Negative and comparable to the overall slope means the run was still falling steadily
    when the budget ran out; near zero means it had flattened; positive means it was rising.
    """
    return c.late_level_slope


@feature(*LOSS_SIGNALS)
@needs_points
def late_pace_share(c: Prepared) -> float | None:
    """Late slope over overall slope when both fall: near 1 means the run never slowed down.

    A run that is still falling at its average pace at the end of its budget is far from
    converged; a converged run's late pace is a small share of its average.
    """
    if c.level_slope >= 0:
        return None
    return float(c.late_level_slope / c.level_slope)


FIT_POINTS = 400
MAX_DECAY_RATE = 200.0
DECAY_RATES = np.concatenate([[0.0], np.geomspace(1e-4, MAX_DECAY_RATE, 96)])


def _late_floor(c: Prepared) -> float | None:
    """Floor of the least-squares fit level(t) = floor + a*exp(-k t) (a, floor >= 0,
    0 <= k <= 200) to the smoothed loss over the second half, t running 0..1 over it.

    The fitted floor is where the run was heading; how far the end still is from it tells
    a converged run from one still crawling along a slow direction. For a given rate k the
    best amplitude and floor have a closed form, so the rate is scanned on a grid and the
    grid refined around the best: the best fit over all rates in well under a millisecond,
    where an iterative fit took several and could stop in a local optimum. Over 400 points,
    an evenly thinned copy of the smoothed curve is fitted.
    """
    if not c.positive:
        return None
    late = c.progress_axis >= 0.5
    x = (c.progress_axis[late] - 0.5) * 2
    y = 10 ** c.trend[late]
    if y.size < 5:
        return None
    if y.size > FIT_POINTS:
        keep = np.linspace(0, y.size - 1, FIT_POINTS).astype(int)
        x, y = x[keep], y[keep]
    rates = DECAY_RATES
    for _ in range(4):
        floors, errors = _best_floors(x, y, rates)
        best = int(np.argmin(errors))
        below, above = rates[max(best - 1, 0)], rates[min(best + 1, rates.size - 1)]
        rates = np.linspace(below, above, 17)
    return float(floors[best])


def _best_floors(x: np.ndarray, y: np.ndarray, rates: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each rate k: the floor of the best fit f + a*exp(-k x) with a, f >= 0, and its
    squared error. The optimum is the unconstrained least-squares line in exp(-k x) when
    both are non-negative, else the better of the two edges a = 0 and f = 0."""
    decays = np.exp(-np.outer(rates, x))
    mean_decay = decays.mean(axis=1)
    centred = decays - mean_decay[:, np.newaxis]
    spread = np.einsum("ij,ij->i", centred, centred)
    slope = np.divide(centred @ (y - y.mean()), spread, out=np.zeros_like(spread), where=spread > 0)
    edge_amplitude = decays @ y / np.einsum("ij,ij->i", decays, decays)
    candidates = (  # (amplitude, floor) per rate
        (slope, y.mean() - slope * mean_decay),
        (np.zeros_like(rates), np.full_like(rates, y.mean())),
        (edge_amplitude, np.zeros_like(rates)),
    )
    floors = np.zeros_like(rates)
    errors = np.full_like(rates, np.inf)
    for amplitude, floor in candidates:
        residual = y - floor[:, np.newaxis] - amplitude[:, np.newaxis] * decays
        error = np.einsum("ij,ij->i", residual, residual)
        better = (amplitude >= 0) & (floor >= 0) & (error < errors)
        floors = np.where(better, floor, floors)
        errors = np.where(better, error, errors)
    return floors, errors


@feature(*LOSS_SIGNALS)
@needs_points
def projected_remaining(c: Prepared) -> float | None:
    """Share of the final loss the run was still on course to remove (exponential fit).

    Near 0: the loss had reached the floor it was heading for. Large: the loss was still
    decaying towards a much lower floor when the budget ended (a crawl, or too small a step).
    """
    floor = _late_floor(c)
    if floor is None:
        return None
    end = float(10 ** c.trend[-1])
    return float(np.clip((end - floor) / end, -1.0, 1.0)) if end > 0 else None


@feature(*LOSS_SIGNALS)
@needs_points
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
    return theil_sen(elapsed[half:], c.trend[half:])


@feature(*LOSS_SIGNALS)
@needs_points
def late_start_step(c: Prepared) -> int:
    """First step of the late window (last 30%) that late-phase features look at."""
    return int(c.clean_steps[c.late_start])


# --- noise, zig-zag, spikes ----------------------------------------------------------------


@feature(*LOSS_SIGNALS)
@needs_points
def noise(c: Prepared) -> float:
    """Robust spread of the point-to-point residual around the running median.

    In log space this is relative noise: 0.1 means points scatter about 25% around the trend.
    """
    return c.residual_scale


@feature(*LOSS_SIGNALS)
@needs_points
def noise_to_drop(c: Prepared) -> float | None:
    """Residual noise over the total drop in level: noisy relative to the progress made."""
    drop = c.start_level - c.end_level
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
@needs_points
def residual_acf1(c: Prepared) -> float | None:
    """Lag-1 autocorrelation of the residual: about -1 for a period-2 zig-zag (overshoot).

    Mini-batch noise leaves an uncorrelated residual (near 0, a little negative from the
    smoothing); an optimiser bouncing across a valley alternates sign step after step, or,
    with momentum or Adam, drifts to one side for several logged points (clearly positive).
    """
    return _lag1_autocorrelation(c.residual)


@feature(*LOSS_SIGNALS)
@needs_points
def late_residual_acf1(c: Prepared) -> float | None:
    """Lag-1 autocorrelation of the residual over the last half: zig-zag that never settles."""
    return _lag1_autocorrelation(c.residual[c.residual.size // 2 :])


@feature(*LOSS_SIGNALS)
@needs_points
def late_noise(c: Prepared) -> float:
    """Robust spread of the residual over the last 30% (log space for positive losses)."""
    late = c.residual[c.late_start :]
    return robust_spread(late)


@feature(*LOSS_SIGNALS)
@needs_points
def late_range(c: Prepared) -> float:
    """Spread between the 10th and 90th percentile of the level over the last 30%.

    A settled run moves little at the end; one that bounces between good and bad values
    keeps a wide range.
    """
    late = c.level[c.late_start :]
    return float(np.percentile(late, 90) - np.percentile(late, 10))


def spike_indices(c: Prepared, limit: float) -> np.ndarray:
    scale = c.residual_scale or float(np.std(c.residual)) or 1.0
    return np.flatnonzero(c.residual / scale > limit)


@feature(*LOSS_SIGNALS)
@needs_points
def spike_count(c: Prepared) -> int:
    """Points more than 8 robust deviations above the running median: sudden loss jumps."""
    return int(spike_indices(c, 8.0).size)


@feature(*LOSS_SIGNALS)
@needs_points
def max_spike_z(c: Prepared) -> float:
    """Largest upward residual in robust deviations."""
    scale = c.residual_scale or float(np.std(c.residual)) or 1.0
    return float(np.max(c.residual) / scale)


@feature(*LOSS_SIGNALS)
@needs_points
def max_spike_decades(c: Prepared) -> float | None:
    """Largest jump above the running median in orders of magnitude (positive losses).

    1.0 means one point was ten times the surrounding level: beyond any mini-batch noise.
    """
    return float(np.max(c.residual)) if c.positive else None


@feature(*LOSS_SIGNALS)
@needs_points
def first_spike_step(c: Prepared) -> int | None:
    """Step of the first loss spike, if any."""
    spikes = spike_indices(c, 8.0)
    return int(c.clean_steps[spikes[0]]) if spikes.size else None


@feature(*LOSS_SIGNALS)
@needs_points
def dominant_period(c: Prepared) -> float | None:
    """Period, in points, of the strongest cycle in the residual (periodogram peak)."""
    frequencies, power = c.residual_spectrum
    if power[1:].sum() == 0:
        return None
    peak = 1 + int(np.argmax(power[1:]))
    return float(1.0 / frequencies[peak])


@feature(*LOSS_SIGNALS)
@needs_points
def dominant_power_share(c: Prepared) -> float | None:
    """Share of residual variance in the strongest cycle: high for a clean oscillation."""
    power = c.residual_spectrum[1]
    total = power[1:].sum()
    if total == 0:
        return None
    return float(power[1:].max() / total)


# --- scale-free shapes: shares of the progress made, local jumps, short curves ------------


@feature(*LOSS_SIGNALS)
@needs_points
def rebound_share(c: Prepared) -> float | None:
    """How far the loss climbed back from its best, as a share of the drop it had made.

    0 means it ended at its best, 1 back where it started. Unlike `rebound` (a ratio against
    the best), it stays near 0 when the loss reached the floating-point floor and jitters.
    """
    if c.drop_range is None:
        return None
    best = c.untransform(float(np.min(c.trend)))
    return float((c.untransform(c.end_level) - best) / c.drop_range)


@feature(*LOSS_SIGNALS)
@needs_points
def best_drop(c: Prepared) -> float | None:
    """Orders of magnitude from the first few points to the best smoothed level: did the
    run ever learn? The start is the median of the first 1% (3 to 20 points): on a long run
    the first 5% can already sit at the floor the loss reached within a few hundred steps.
    """
    if not c.positive:
        return None
    return float(c.first_level - np.min(c.trend))


@feature(*LOSS_SIGNALS)
@needs_points
def rise_z(c: Prepared) -> float | None:
    """Mann-Kendall z of the loss after its smoothed minimum: above 3 it rises steadily.

    A loss that reached its best early and then went up point after point is leaving the
    minimum (diverging slowly); one that jitters around its best has no trend.
    """
    after = c.level[int(np.argmin(c.trend)) :]
    n = after.size
    if n < 5:
        return None
    spread = np.sqrt(2.0 * (2 * n + 5) / (9.0 * n * (n - 1)))
    tau = stats.kendalltau(np.arange(n), after).statistic
    return None if np.isnan(tau) else float(tau / spread)


@feature(*LOSS_SIGNALS)
@needs_points
def relative_range(c: Prepared) -> float | None:
    """(max - min) over the median of the finite loss: 0 for a loss frozen at one value."""
    middle = float(np.median(np.abs(c.clean)))
    if middle == 0:
        return None
    return float((np.max(c.clean) - np.min(c.clean)) / middle)


@feature(*LOSS_SIGNALS)
@needs_points
def scatter_share(c: Prepared) -> float | None:
    """Robust spread of the loss around its running median over the second half, as a
    share of the drop the run made (the loss's own units).

    Mini-batch noise is large against the progress made; a classification loss falling
    towards zero scatters by orders of magnitude in log space, yet by a tiny share of its
    drop, so this does not grow without bound as the loss nears zero.
    """
    if c.drop_range is None:
        return None
    half = c.clean.size // 2
    residual = c.clean[half:] - c.linear_trend[half:]
    return robust_spread(residual) / c.drop_range


def _jumps(c: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """The finite loss from its second point on (exact zeros read as the smallest positive
    value, as in `level`), and the recent level before each point (computed once a curve)."""
    return c.jump_values[1:], c.recent[1:]


@feature(*LOSS_SIGNALS)
@needs_points
def jump_ratio(c: Prepared) -> float | None:
    """Largest loss over the median of the points just before it: a 10 is a tenfold jump."""
    if not c.positive:
        return None
    values, recent = _jumps(c)
    return float(np.max(values / recent))


@feature(*LOSS_SIGNALS)
@needs_points
def held_jump_share(c: Prepared) -> float | None:
    """Largest rise above the recent level that the next two points keep too (the lowest of
    the three counts), as a share of the drop the run made.

    One unlucky batch gives one high point; an update that threw the weights away leaves
    the loss high for several points while it recovers.
    """
    if c.drop_range is None:
        return None
    values, recent = _jumps(c)
    held = np.minimum(np.minimum(values[:-2], values[1:-1]), values[2:]) - recent[:-2]
    return float(np.max(held) / c.drop_range) if held.size else None


@feature(*LOSS_SIGNALS)
def short_growth(c: Prepared) -> float | None:
    """Last finite loss over the lowest finite loss before it, for curves of any length.

    A short curve cannot be smoothed, but a jump of a hundredfold at its end is unambiguous.
    """
    finite = c.clean  # every loss before the first NaN/inf
    if finite.size < 2 or np.any(finite <= 0):
        return None
    return float(finite[-1] / np.min(finite[:-1]))


@feature(*LOSS_SIGNALS)
def short_spike(c: Prepared) -> float | None:
    """Highest finite loss before the last point over the median of the (up to 21) points
    before it, for curves of any length: on a few points, an isolated jump of a thousandfold
    that the curve then leaves again is the trace of one exploding step."""
    finite = c.clean
    if finite.size < 3 or np.any(finite <= 0):
        return None
    # The median of the points before each one; on a long curve only the last 21 of them, so
    # the feature stays linear in the curve's length.
    return float(np.max(finite[1:-1] / recent_level(finite)[1:-1]))


@feature(*LOSS_SIGNALS)
def rising_share(c: Prepared) -> float | None:
    """Share of successive finite losses that are higher than the one before: 1.0 for a loss
    that rose at every log, which a handful of points can show even when a trend cannot."""
    if c.clean.size < 3:
        return None
    return float(np.mean(np.diff(c.clean) > 0))


@feature(*LOSS_SIGNALS)
def chance_gap(c: Prepared) -> float | None:
    """How far the loss sits from ln(K), the cross-entropy of a uniform guess over K classes,
    at its start and over its second half (Prepared.chance_fit): near 0, the model began at
    chance and still predicts the class prior."""
    return None if c.chance_fit is None else c.chance_fit[0]


@feature(*LOSS_SIGNALS)
def chance_classes(c: Prepared) -> int | None:
    """The K whose chance level ln(K) is nearest the loss (see chance_gap)."""
    return None if c.chance_fit is None else c.chance_fit[1]
