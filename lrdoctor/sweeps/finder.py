"""LR range tests read from logs: a run whose LR ramps up over decades while its loss is
logged (fastai's `lr_find`, Lightning's `lr_find`, a hand-written one) gives the loss
against the LR, and the suggestions of the published algorithms.

The algorithms are those of fastai (`fastai.callback.schedule`: valley, steep, minimum)
and Lightning (`_LRFinder.suggestion`: the steepest gradient of the loss against the LR),
applied to the loss as each library's recorder would hold it.

The one suggested LR is the classic rule, an order of magnitude below the LR of the lowest
smoothed loss (fastai's `lr_min`, its suggestion with `lr_steep` until the valley became
its default in 2021, fastai PR 3377; ktrain's `lr_estimate`), held within 3x of the
valley: on the sample range tests the valley sits below the LR that trains best at a
constant LR (on 11 of the 12 dev set-ups), while the minimum on its own can sit at a spike
or at the end of a ramp that never blew up, which the valley guards against.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lrdoctor.model import Curve, Run
from lrdoctor.roles import assign_roles
from lrdoctor.sweeps.values import lr_text


@dataclass(frozen=True)
class FinderOptions:
    """How a range test's curve is read (whether a run is one is rule LRD002's to say, see
    `is_range_test`).

    min_points: LR and loss points logged during the ramp.
    beta: the smoothing of fastai's and Lightning's recorders.
    blow_up: the loss has blown up once the smoothed loss exceeds this multiple of its
        minimum (both libraries stop there: fastai's stop_div, Lightning's
        early_stop_threshold).
    within_valley: the suggestion stays within this factor of fastai's valley, less one step
        of the ramp (so that it would hold were the valley one point away).
    """

    min_points: int = 20
    beta: float = 0.98
    blow_up: float = 4.0
    within_valley: float = 3.0


@dataclass(frozen=True)
class Finder:
    """One range test: its loss-vs-LR curve and the LR each algorithm suggests."""

    name: str
    source: str
    lrs: tuple[float, ...]
    losses: tuple[float, ...]  # smoothed, up to the blow-up
    suggested_lr: float | None
    suggestions: dict[str, float | None]
    blow_up_lr: float | None
    reason: str

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "suggested_lr": _rounded(self.suggested_lr),
            "suggestions": {key: _rounded(value) for key, value in self.suggestions.items()},
            "blow_up_lr": _rounded(self.blow_up_lr),
            "reason": self.reason,
            "points": len(self.lrs),
        }


RANGE_TEST_RULE = "LRD002"


@functools.cache
def _range_test_rule() -> tuple:
    """The built-in rule LRD002 with its default options, loaded once."""
    from lrdoctor.engine import Config, load_catalogue, select_rules
    from lrdoctor.features import known_features

    catalogue = load_catalogue(known_features=known_features())
    return select_rules(catalogue, Config(select=(RANGE_TEST_RULE,)))


def is_range_test(lr: Curve) -> bool:
    """Whether the logged LR is an LR range test's ramp, as rule LRD002 judges it: the one
    definition behind the audit's verdict and the sweep reader's."""
    from lrdoctor.engine import evaluate_rules
    from lrdoctor.features.core import Prepared, measure

    return bool(evaluate_rules(_range_test_rule(), {"lr": measure(Prepared(lr), "lr")}))


def ramp(
    run: Run, options: FinderOptions | None = None, signals: Mapping[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(lrs, losses) at the steps where both were logged, when the run is a range test
    (`is_range_test`) with `min_points` of both; None for any other run."""
    options = options or FinderOptions()
    roles = assign_roles(run, signals)
    if "lr" not in roles or "train_loss" not in roles:
        return None
    lr, loss = run.curves[roles["lr"]], run.curves[roles["train_loss"]]
    good = np.isfinite(lr.values) & (lr.values > 0)
    rates, steps = lr.values[good], lr.steps[good]
    if rates.size < options.min_points or not is_range_test(lr):
        return None
    shared, at_lr, at_loss = np.intersect1d(steps, loss.steps, return_indices=True)
    if shared.size < options.min_points:
        return None
    return rates[at_lr], loss.values[at_loss]


def read_finder(
    run: Run, options: FinderOptions | None = None, signals: Mapping[str, str] | None = None
) -> Finder | None:
    """The range test in `run`, or None when the run is not one."""
    options = options or FinderOptions()
    found = ramp(run, options, signals)
    if found is None:
        return None
    all_lrs, raw = found
    smooth, stopped = recorded(raw, options, "fastai")
    lrs = all_lrs[: smooth.size]
    broken = ~np.isfinite(smooth)
    cut = int(np.argmax(broken)) if broken.any() else smooth.size
    blow_up_lr = float(lrs[min(cut, smooth.size - 1)]) if stopped or broken.any() else None
    # fastai suggests from recorder[num_it//10:-5], then drops everything from the first NaN
    start, stop = planned_iterations(run, all_lrs, smooth.size, stopped) // 10, smooth.size - 5
    fastai_lrs, fastai_losses = lrs[start:stop], smooth[start:stop]
    nan = np.isnan(fastai_losses)
    if nan.any():
        fastai_lrs, fastai_losses = fastai_lrs[: np.argmax(nan)], fastai_losses[: np.argmax(nan)]
    lightning_losses, _ = recorded(raw, options, "lightning")
    lightning_lrs = all_lrs[: lightning_losses.size]
    suggestions = {
        "valley": _pick(valley, fastai_lrs, fastai_losses),
        "steep": _pick(steep, fastai_lrs, fastai_losses),
        "minimum": _pick(minimum, fastai_lrs, fastai_losses),
        "lightning": _pick(steepest_gradient, lightning_lrs[10:-1], lightning_losses[10:-1]),
    }
    # within 3x of the valley even were it one point of the ramp away (or rounded for JSON)
    step = (all_lrs[-1] / all_lrs[0]) ** (1 / (all_lrs.size - 1))
    band = options.within_valley / max(float(step), 1.001)
    suggested = suggest(suggestions["valley"], suggestions["minimum"], band)
    lrs, smooth = lrs[:cut], smooth[:cut]
    if suggested is None:
        reason = "too few points before the loss blew up to suggest an LR"
    else:
        low_at, high_at = valley_span(fastai_losses)
        low, high = float(fastai_lrs[low_at]), float(fastai_lrs[high_at])
        reason = _why(suggested, suggestions, band) + (
            f"; fastai's valley: the loss falls along its longest valley from {_lr(low)} to "
            f"{_lr(high)} ({_num(fastai_losses[low_at])} to {_num(fastai_losses[high_at])}), "
            f"{_lr(suggestions['valley'])} half-way down it (steepest "
            f"{_lr(suggestions['steep'])}, Lightning {_lr(suggestions['lightning'])})"
        )
        reason += (
            f"; the loss blows up at {_lr(blow_up_lr)}"
            if blow_up_lr is not None
            else f"; the loss had not blown up by {_lr(float(lrs[-1]))}"
        )
    return Finder(
        run.name,
        run.source,
        tuple(map(float, lrs)),
        tuple(map(float, smooth)),
        suggested,
        suggestions,
        blow_up_lr,
        reason,
    )


def suggest(valley: float | None, minimum: float | None, within: float) -> float | None:
    """fastai's minimum/10 (an order of magnitude below the lowest loss), kept within
    `within` times the valley; the valley alone when there is no minimum."""
    if valley is None or minimum is None:
        return valley
    return min(max(minimum, valley / within), valley * within)


def _why(suggested: float, suggestions: dict[str, float | None], within: float) -> str:
    valley, minimum = suggestions["valley"], suggestions["minimum"]
    if minimum is None:
        return f"{_lr(suggested)}, fastai's valley"
    rule = (
        f"fastai's minimum/10 ({_lr(minimum)}, an order of magnitude below the lowest "
        f"smoothed loss at {_lr(minimum * 10)})"
    )
    spare = "3x less a step of the ramp"
    if suggested == minimum:
        ratio = max(minimum, valley) / min(minimum, valley)
        return (
            f"{_lr(suggested)}: {rule}, {ratio:.2g}x from fastai's valley {_lr(valley)} "
            f"(kept within {within:.2g}x: {spare})"
        )
    if suggested < minimum:
        bound = f"capped at {within:.2g}x fastai's valley {_lr(valley)}"
    else:
        bound = f"raised to fastai's valley {_lr(valley)} / {within:.2g}"
    return f"{_lr(suggested)}: {rule} {bound} ({spare})"


def recorded(raw: np.ndarray, options: FinderOptions, library: str) -> tuple[np.ndarray, bool]:
    """The smoothed losses `library`'s recorder keeps of the raw losses `raw`, and whether
    its stop rule ended the test: up to and including the first step whose smoothed loss
    exceeds `blow_up` times the lowest so far.

    fastai (AvgSmoothLoss, LRFinder.after_batch) debiases step t (1-based) by 1 - beta^t and
    counts the step in the minimum before comparing, so a NaN never stops it. Lightning
    (_LRCallback) debiases by 1 - beta^(t+1), its global step being already t, compares
    from its second step on, before counting the step in the minimum. fastai computes in
    float32 as PyTorch does on the CPU, Lightning in Python floats: near-ties in the loss
    order, and so the valley, depend on it."""
    with np.errstate(all="ignore"):  # a blown-up loss overflows float32, as it does in torch
        return _record(raw, options, library)


def _record(raw: np.ndarray, options: FinderOptions, library: str) -> tuple[np.ndarray, bool]:
    out = np.empty(raw.size)
    average, best = 0.0, math.inf
    f32, keep = np.float32, np.float32(1) - np.float32(options.beta)
    for i, value in enumerate(raw):
        if library == "fastai":  # float32 tensors: torch.lerp (a fused multiply-add), divided
            gap = f32(f32(average) - f32(value))
            average = f32(np.float64(average) - np.float64(gap) * np.float64(keep))
            smooth = float(f32(average / f32(1 - options.beta ** (i + 1))))
        else:  # Python floats
            average = options.beta * average + (1 - options.beta) * float(value)
            smooth = average / (1 - options.beta ** (i + 2))
        out[i] = smooth
        if library == "fastai":
            best = smooth if smooth < best else best
            stop = smooth > options.blow_up * best
        else:
            stop = i >= 1 and smooth > options.blow_up * best
            best = smooth if i == 0 or smooth < best else best
        if stop:
            return out[: i + 1], True
    return out, False


# fastai's (1e-7 to 10) and Lightning's (1e-8 to 1) default ramps both cover 8 decades
DEFAULT_DECADES = 8.0


def planned_iterations(run: Run, lrs: np.ndarray, recorded_steps: int, stopped: bool) -> int:
    """fastai's num_it, which places the start of the curve it suggests from: logged as the
    run's `num_it` (or Lightning's `num_training`); else the steps the test ran, when it ran
    to its end; else, for a test stopped early, the steps its ramp takes over the 8 decades
    of both libraries' defaults."""
    for key in ("num_it", "num_training"):
        try:
            planned = int(float(run.params.get(key, "")))
        except ValueError:
            continue
        if planned >= recorded_steps:
            return planned
    if not stopped or lrs.size < 2 or lrs[-1] <= lrs[0]:
        return recorded_steps
    per_step = math.log10(lrs[-1] / lrs[0]) / (lrs.size - 1)
    return max(recorded_steps, round(DEFAULT_DECADES / per_step))


def _pick(algorithm, lrs: np.ndarray, losses: np.ndarray) -> float | None:
    if lrs.size < 3:
        return None
    return algorithm(lrs, losses)


def valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai: the LR half-way along the longest valley of the loss (its start plus a third
    plus a sixth of its length, as fastai has it)."""
    start, end = valley_span(losses)
    sections = (end - start) / 3
    return float(lrs[start + int(sections) + int(sections / 2)])


def valley_span(losses: np.ndarray) -> tuple[int, int]:
    """fastai's longest valley: the span of the longest decreasing subsequence of the loss."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    return max_start, max_end


def steep(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai: where the loss falls fastest per unit of log LR."""
    grads = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(grads))])


def minimum(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai: a tenth of the LR at the lowest loss."""
    return float(lrs[int(np.argmin(losses))]) / 10


def steepest_gradient(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """Lightning: the most negative gradient of the loss against the LR itself."""
    finite = np.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    if losses.size < 2 or np.unique(lrs).size < lrs.size:
        return None
    return float(lrs[int(np.argmin(np.gradient(losses, lrs)))])


def _lr(value: float | None) -> str:
    return "n/a" if value is None else lr_text(value)


def _num(value: float) -> str:
    return f"{value:.3g}"


def _rounded(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(f"{value:.4g}")
