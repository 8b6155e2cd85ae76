"""Read finished learning-rate sweeps from logs and recommend the LR, with the reasons.

Runs that share everything but the LR form a sweep. Each LR is judged from its run's
diagnosis plus its own measures (stable, mostly monotonic, loss at a common step budget, the
validation loss); the recommendation is the largest LR that is stable and mostly monotonic,
re-checked on the validation loss. Every threshold that decides something is a field of
`SweepOptions`, documented there (and in docs/sweeps.md).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from lrdoctor import __version__
from lrdoctor.diagnosis import Diagnosis, Doctor
from lrdoctor.discovery import Problem, read_runs
from lrdoctor.engine import Config
from lrdoctor.model import Curve, Run
from lrdoctor.readers import ReadOptions
from lrdoctor.sweeps.finder import Finder, read_finder
from lrdoctor.sweeps.grouping import (
    SweepOptions,
    grid_points,
    group_sweeps,
    sweep_member,
)
from lrdoctor.sweeps.values import lr_text, positive_number

SCHEMA = "lrdoctor.sweep/1"
# Verdicts of a cause other than the LR: a sweep whose runs show them cannot be read.
# In the order single-run remedies take them: data, then gradients, then the batch.
CONFOUNDERS = ("poor_feature_scaling", "exploding_gradients", "minibatch_noise")


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep, judged: its diagnosis plus the measures a sweep compares."""

    name: str
    source: str
    lr: float
    lr_from: str  # params, curve or name
    verdict: str
    confidence: float
    stable: bool
    monotonic: bool
    trend: float | None  # Kendall tau of the smoothed train loss against the step
    rebound: float | None  # largest climb above the running minimum, share of the drop
    swing: float | None  # spread of the loss around its smoothed level, decades
    diverged_at: int | None  # first step with a NaN or inf loss
    final_loss: float | None  # train loss at the common budget
    best_loss: float | None
    best_val_loss: float | None
    best_val_step: int | None
    final_val_loss: float | None
    last_step: int
    why_not: str = ""  # why it is not stable and mostly monotonic, with numbers
    remedy: str = ""  # the diagnosis' first remedy
    # (steps, loss) up to the first NaN, for plots; not part of the JSON report
    curve: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def usable(self) -> bool:
        return self.stable and self.monotonic

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "lr": self.lr,
            "lr_from": self.lr_from,
            "verdict": self.verdict,
            "confidence": round(self.confidence, 3),
            "stable": self.stable,
            "monotonic": self.monotonic,
            "trend": _rounded(self.trend),
            "rebound": _rounded(self.rebound),
            "swing": _rounded(self.swing),
            "diverged_at": self.diverged_at,
            "final_loss": _rounded(self.final_loss, 6),
            "best_loss": _rounded(self.best_loss, 6),
            "best_val_loss": _rounded(self.best_val_loss, 6),
            "best_val_step": self.best_val_step,
            "final_val_loss": _rounded(self.final_val_loss, 6),
            "last_step": self.last_step,
        }


@dataclass(frozen=True)
class Sweep:
    """A group of runs that differ only in the swept parameter, and what it recommends."""

    name: str
    source: str
    swept: str
    group: dict[str, str]
    runs: tuple[SweepRun, ...]
    budget_step: int
    score: str  # what the recheck compares: val_loss or train_loss
    recommended_lr: float | None
    recommended_range: tuple[float, float] | None
    edge: tuple[float | None, float | None]
    reasons: tuple[str, ...]
    readable: bool = True
    extend: dict | None = None  # {"direction": "up"/"down", "factor": 10.0}

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "swept": self.swept,
            "group": dict(self.group),
            "runs": [run.to_dict() for run in self.runs],
            "recommended_lr": self.recommended_lr,
            "recommended_range": list(self.recommended_range) if self.recommended_range else None,
            "edge": list(self.edge),
            "reasons": list(self.reasons),
            "readable": self.readable,
            "extend": self.extend,
            "budget_step": self.budget_step,
            "score": self.score,
        }


@dataclass(frozen=True)
class Interplay:
    """Sweeps of one set-up at several values of a second parameter (batch size, ...)."""

    param: str
    sweeps: tuple[str, ...]
    values: tuple[str, ...]
    largest_stable_lr: tuple[float | None, ...]
    recommended_lr: tuple[float | None, ...]
    exponent: float | None  # largest stable LR ~ value ** exponent
    reason: str

    def to_dict(self) -> dict:
        return {
            "param": self.param,
            "sweeps": list(self.sweeps),
            "values": list(self.values),
            "largest_stable_lr": list(self.largest_stable_lr),
            "recommended_lr": list(self.recommended_lr),
            "exponent": _rounded(self.exponent),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SweepResult:
    """Every sweep found under the paths, how they interact, and the runs in no sweep."""

    sweeps: tuple[Sweep, ...]
    finders: tuple[Finder, ...] = ()
    interplay: tuple[Interplay, ...] = ()
    unswept: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    runs_read: int = 0

    def to_dict(self) -> dict:
        """The `lrdoctor.sweep/1` JSON contract (see `lrdoctor/schemas/sweep.schema.json`)."""
        return {
            "schema": SCHEMA,
            "lrdoctor": __version__,
            "sweeps": [sweep.to_dict() for sweep in self.sweeps],
            "finders": [finder.to_dict() for finder in self.finders],
            "interplay": [item.to_dict() for item in self.interplay],
            "unswept": list(self.unswept),
            "problems": [{"source": p.source, "message": p.message} for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


def sweep(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    by: str = "lr",
    group_by: Sequence[str] = (),
    options: SweepOptions | None = None,
    config: Config | None = None,
    read_options: ReadOptions | None = None,
    format_in: str | None = None,
) -> SweepResult:
    """Find the sweeps among the runs under `paths`, judge each LR, recommend one per sweep.

    `by` names the swept parameter, `group_by` params that split sweeps; both override
    `options`.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    options = replace(options or SweepOptions(), by=by, group_by=tuple(group_by))
    discovery = read_runs(paths, read_options, format_in)
    runs = [run for run in discovery.runs if run.total_points]
    result = read_sweeps(runs, options, Doctor(config))
    return replace(result, problems=tuple(discovery.problems), runs_read=len(discovery.runs))


def read_sweeps(runs: Sequence[Run], options: SweepOptions, doctor: Doctor) -> SweepResult:
    """Group `runs` into sweeps and read each: the library behind `sweep`, given runs.

    A run whose LR ramps up over decades is an LR range test, read as one, in no sweep."""
    signals = doctor.config.signals  # the --loss-tag/--lr-tag overrides
    members = [sweep_member(run, options.by, signals) for run in runs]
    finders = [
        read_finder(run, signals=signals)
        for run, member in zip(runs, members, strict=True)
        if member.finder
    ]
    run_of = {id(member): run for run, member in zip(runs, members, strict=True)}
    groups, unswept = group_sweeps(members, options)
    sweeps, interplay = [], []
    for container_groups, axes in groups:
        found = [
            _read(
                group.name,
                group.source,
                group.group,
                [(run_of[id(m)], m.value, m.where) for m in group.members],
                options,
                doctor,
            )
            for group in container_groups
        ]
        sweeps.extend(found)
        interplay.extend(_interplay(found, axes))
    return SweepResult(tuple(sweeps), tuple(finders), tuple(interplay), tuple(sorted(unswept)))


# -- Judging each run -------------------------------------------------------------------------


@dataclass
class _Measured:
    """A run's training loss up to its first NaN/inf, on the scale it is judged on: log10
    when every value is positive (a loss is judged by decades), else as logged."""

    steps: np.ndarray
    values: np.ndarray
    level: np.ndarray  # the values on the judged scale
    smooth: np.ndarray  # `level` smoothed
    logged: bool
    diverged_at: int | None
    broke_as: str  # "NaN" or "inf"
    val: Curve | None

    def unlevel(self, value: float) -> float:
        return float(10**value) if self.logged else float(value)


def _measure(run: Run, diagnosis: Diagnosis, options: SweepOptions) -> _Measured | None:
    tag = diagnosis.signals.get("train_loss")
    if tag is None or not len(run.curves[tag]):
        return None
    curve = run.curves[tag]
    finite = np.isfinite(curve.values)
    end = len(curve) if finite.all() else int(np.argmin(finite))
    diverged_at = None if end == len(curve) else int(curve.steps[end])
    broke_as = "NaN" if diverged_at is None or np.isnan(curve.values[end]) else "inf"
    steps, values = curve.steps[:end], curve.values[:end]
    logged = bool(values.size and (values > 0).all())
    level = np.log10(values) if logged else values.astype(float)
    smooth = _moving_average(level, max(1, round(options.smooth_share * level.size)))
    val_tag = diagnosis.signals.get("val_loss")
    val = run.curves[val_tag] if val_tag else None
    return _Measured(steps, values, level, smooth, logged, diverged_at, broke_as, val)


def _moving_average(series: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` points (fewer at the start)."""
    if series.size == 0 or window <= 1:
        return series.astype(float)
    sums = np.cumsum(np.insert(series.astype(float), 0, 0.0))
    ends = np.arange(1, series.size + 1)
    return (sums[1:] - sums[np.maximum(ends - window, 0)]) / np.minimum(ends, window)


def _judge(
    run: Run,
    lr: float,
    where: str,
    diagnosis: Diagnosis,
    measured: _Measured | None,
    budget: int,
    options: SweepOptions,
) -> SweepRun:
    findings = diagnosis.to_dict()["findings"]
    base = {
        "name": run.name,
        "source": run.source,
        "lr": lr,
        "lr_from": where,
        "verdict": diagnosis.verdict,
        "confidence": diagnosis.confidence,
        "remedy": findings[0]["remedies"][0] if findings and findings[0]["remedies"] else "",
        "diverged_at": measured.diverged_at if measured else None,
        "curve": (measured.steps, measured.values) if measured else None,
    }
    broke = (
        f"diverged at step {base['diverged_at']:,} ({measured.broke_as})"
        if (base["diverged_at"] is not None)
        else ""
    )
    if measured is None or measured.steps.size < 3:
        return SweepRun(
            **base, stable=False, monotonic=False, trend=None, rebound=None, swing=None,
            final_loss=None, best_loss=None, best_val_loss=None, best_val_step=None,
            final_val_loss=None, last_step=0,
            why_not=broke or "logged too few training-loss points to judge",
        )  # fmt: skip
    within = measured.steps <= budget
    if within.sum() < 3:
        within = np.ones(measured.steps.size, dtype=bool)
    steps, level, smooth = measured.steps[within], measured.level[within], measured.smooth[within]
    trend = _kendall_tau(smooth)
    drop = smooth[0] - smooth.min()
    climb = float(np.max(smooth - np.minimum.accumulate(smooth)))
    rebound = climb / drop if drop > 0 else (0.0 if climb == 0 else math.inf)
    tail = steps > steps[-1] - options.tail_share * max(budget, 1)
    final_loss = float(np.mean(measured.values[within][tail]))
    swing = float(2 * np.std((level - smooth)[smooth.size // 2 :])) if measured.logged else None
    start = measured.unlevel(smooth[0])
    rises = final_loss > start * (1 + options.max_rise) if start > 0 else final_loss > start
    stable = not broke and diagnosis.verdict != "diverging" and not rises
    monotonic = (
        trend <= options.max_trend
        and rebound <= options.max_rebound
        and diagnosis.verdict != "oscillating"
    )
    why_not = broke
    if not why_not and rises:
        why_not = f"diverges (loss ends at {_num(final_loss)}, above its start {_num(start)})"
    elif not why_not and not stable:
        why_not = f"is diagnosed diverging (loss ends at {_num(final_loss)})"
    elif not why_not and not monotonic:
        swing_text = f"swing {swing:.2g} decades, " if swing is not None else ""
        why_not = (
            f"oscillates ({swing_text}climbs back {rebound:.0%} of its drop, tau {trend:+.2f})"
        )
    return SweepRun(
        **base,
        **_val_measures(measured.val, budget),
        stable=bool(stable),
        monotonic=bool(monotonic),
        trend=trend,
        rebound=rebound if math.isfinite(rebound) else None,
        swing=swing,
        final_loss=final_loss if math.isfinite(final_loss) else None,
        best_loss=measured.unlevel(smooth.min()),
        last_step=int(measured.steps[-1]),
        why_not=why_not,
    )


def _val_measures(val: Curve | None, budget: int) -> dict:
    """Best validation loss and its step, and the last one, within the budget."""
    found = {"best_val_loss": None, "best_val_step": None, "final_val_loss": None}
    if val is None or not len(val):
        return found
    keep = val.steps <= max(budget, int(val.steps[0]))
    steps, values = val.steps[keep], val.values[keep]
    finite = np.isfinite(values)
    if finite.any():
        index = int(np.argmin(np.where(finite, values, np.inf)))
        found["best_val_loss"], found["best_val_step"] = float(values[index]), int(steps[index])
    if values.size and finite[-1]:
        found["final_val_loss"] = float(values[-1])
    return found


def _kendall_tau(series: np.ndarray) -> float:
    from scipy.stats import kendalltau

    if series.size < 3 or np.ptp(series) == 0:
        return 0.0
    tau = kendalltau(np.arange(series.size), series).statistic
    return float(tau) if math.isfinite(tau) else 0.0


# -- Reading a sweep --------------------------------------------------------------------------


def _read(
    name: str,
    container: str,
    group: dict[str, str],
    members: list,
    options: SweepOptions,
    doctor: Doctor,
) -> Sweep:
    diagnosed = [(run, value, where, doctor.diagnose(run)) for run, value, where in members]
    measured = [_measure(run, diagnosis, options) for run, _, _, diagnosis in diagnosed]
    ends = [int(m.steps[-1]) for m in measured if m is not None and m.steps.size]
    finished = [
        int(m.steps[-1]) for m in measured if m is not None and m.steps.size and not m.diverged_at
    ]
    budget = min(finished or ends or [0])
    runs = sorted(
        (
            _judge(run, value, where, diagnosis, m, budget, options)
            for (run, value, where, diagnosis), m in zip(diagnosed, measured, strict=True)
        ),
        key=lambda r: (r.lr, r.name),
    )
    decision = _recommend(runs, options)
    return Sweep(
        name=name,
        source=container,
        swept=options.by,
        group=group,
        runs=tuple(runs),
        budget_step=budget,
        **decision,
    )


@dataclass
class _Point:
    """All runs at one swept value, taken together (repeats with other seeds agree or not)."""

    lr: float
    runs: list[SweepRun] = field(default_factory=list)

    @property
    def stable(self) -> bool:
        return all(run.stable for run in self.runs)

    @property
    def usable(self) -> bool:
        return all(run.usable for run in self.runs)

    def score(self, kind: str) -> float:
        values = [
            (run.best_val_loss if kind == "val_loss" else run.final_loss) for run in self.runs
        ]
        values = [v for v in values if v is not None]
        return float(np.median(values)) if len(values) == len(self.runs) else math.inf

    @property
    def first(self) -> SweepRun:
        return self.runs[0]


def _recommend(runs: list[SweepRun], options: SweepOptions) -> dict:
    points: dict[float, _Point] = {}
    at = grid_points([run.lr for run in runs], options.same_lr_tolerance)
    for run in runs:
        points.setdefault(at[run.lr], _Point(at[run.lr])).runs.append(run)
    grid = sorted(points.values(), key=lambda p: p.lr)
    lrs = [p.lr for p in grid]
    ratio = _grid_ratio(lrs)
    usable = [p for p in grid if p.usable]
    # The recheck compares every LR that did not diverge, steady or not.
    finite = [p for p in grid if p.stable]
    has_val = bool(finite) and all(p.score("val_loss") < math.inf for p in finite)
    kind = "val_loss" if has_val else "train_loss"
    reasons: list[str] = []
    confounded = _confounders(runs, options)
    readable = not confounded
    if confounded:
        reasons.append(confounded)
    if not usable:
        return _nothing_usable(grid, ratio, kind, reasons, readable)
    largest = usable[-1]
    above = [p for p in grid if p.lr > largest.lr]
    for point in reversed(above[:2]):
        reasons.append(f"{lr_text(point.lr)} {point.first.why_not}")
    best = min(finite, key=lambda p: (p.score(kind), -p.lr))
    what = "val loss" if kind == "val_loss" else "train loss at the budget"
    largest_text = f"{lr_text(largest.lr)} is the largest stable LR (trend tau {_tau(largest)})"
    gap = largest.score(kind) - best.score(kind)
    if best is largest or gap <= abs(best.score(kind)) * options.val_tolerance:
        chosen = largest
        lowest = "has the lowest" if best is largest else "is within "
        lowest += "" if best is largest else f"{options.val_tolerance:.0%} of the lowest"
        reasons.append(f"{largest_text} and {lowest} {what} ({_score_text(largest, kind)})")
    else:
        chosen = best
        why = _why_worse(largest, best, kind)
        reasons.append(f"{largest_text} but {why}")
        reasons.append(
            f"{lr_text(best.lr)} has the lowest {what} of the LRs that did not diverge "
            f"({_score_text(best, kind)})"
        )
    index = lrs.index(chosen.lr)
    below = lrs[index - 1] if index > 0 else chosen.lr / ratio
    next_up = lrs[index + 1] if index + 1 < len(lrs) else chosen.lr * ratio
    extend = None
    if chosen is largest:
        low, high = chosen.lr, _round_lr(math.sqrt(chosen.lr * next_up))
    else:
        low, high = (
            _round_lr(math.sqrt(below * chosen.lr)),
            _round_lr(math.sqrt(chosen.lr * next_up)),
        )
    low, high = min(low, chosen.lr), max(high, chosen.lr)
    unstable = next((p.lr for p in above), None)
    if not above:
        factor = 100.0 if chosen.first.verdict == "too_slow" else 10.0
        extend = {"direction": "up", "factor": factor}
        reasons.append(
            f"no LR of the grid was unstable: extend it up by {factor:g}x "
            f"(to {lr_text(lrs[-1] * factor)}) to find the edge"
        )
    elif index == 0 and chosen is not largest:
        extend = {"direction": "down", "factor": 10.0}
        reasons.append(
            f"the best LR is the smallest of the grid: extend it down by 10x "
            f"(to {lr_text(lrs[0] / 10)})"
        )
    use = "use" if readable else "once that is fixed, try"
    reasons.append(f"{use} {lr_text(chosen.lr)}, refine in {lr_text(low)}..{lr_text(high)}")
    return {
        "score": kind,
        "recommended_lr": chosen.lr,
        "recommended_range": (low, high),
        "edge": (largest.lr, unstable),
        "reasons": tuple(reasons),
        "readable": readable,
        "extend": extend,
    }


def _nothing_usable(
    grid: list[_Point], ratio: float, kind: str, reasons: list[str], readable: bool
) -> dict:
    """No LR is stable and mostly monotonic: the grid sits above the edge, so go down. The
    best LR that did not diverge, if any, is the one to try meanwhile."""
    lowest = grid[0]
    factor = 100.0 if lowest.first.diverged_at is not None else 10.0
    reasons.append(
        f"no LR is both stable and mostly monotonic: even the smallest, {lr_text(lowest.lr)}, "
        f"{lowest.first.why_not}"
    )
    finite = [p for p in grid if p.stable and p.score(kind) < math.inf]
    extend = {"direction": "down", "factor": factor}
    reasons.append(
        f"extend the grid down by {factor:g}x (to {lr_text(lowest.lr / factor)}) "
        "to find the edge of stability"
    )
    decision = {"score": kind, "edge": (None, lowest.lr), "readable": readable, "extend": extend}
    if not finite:
        low, high = _round_lr(lowest.lr / factor), _round_lr(lowest.lr / ratio)
        return decision | {
            "recommended_lr": None,
            "recommended_range": (low, high),
            "reasons": tuple(reasons),
        }
    best = min(finite, key=lambda p: (p.score(kind), -p.lr))
    what = "val loss" if kind == "val_loss" else "train loss at the budget"
    low, high = _round_lr(best.lr / ratio), best.lr
    reasons.append(
        f"{lr_text(best.lr)} has the lowest {what} of the LRs that did not diverge "
        f"({_score_text(best, kind)}): try it meanwhile, or below it in "
        f"{lr_text(low)}..{lr_text(high)}"
    )
    return decision | {
        "recommended_lr": best.lr,
        "recommended_range": (low, high),
        "reasons": tuple(reasons),
    }


def _confounders(runs: list[SweepRun], options: SweepOptions) -> str:
    """Why the sweep cannot be read: a cause other than the LR shows in too many of its
    runs. Causes are named in the order single-run remedies take them, each with its fix."""
    counts = Counter(run.verdict for run in runs if run.verdict in CONFOUNDERS)
    shown = []
    for verdict in CONFOUNDERS:
        if counts[verdict] / len(runs) > options.max_confounded_share:
            remedy = next(run.remedy for run in runs if run.verdict == verdict)
            text = f"{verdict.replace('_', ' ')} in {counts[verdict]} of {len(runs)} runs"
            shown.append(f"{text} ({remedy.rstrip('.')})" if remedy else text)
    if not shown:
        return ""
    return "the sweep cannot be read until this is fixed: " + "; then ".join(shown)


def _why_worse(largest: _Point, best: _Point, kind: str) -> str:
    run = largest.first
    if kind == "val_loss" and run.best_val_loss is not None and run.final_val_loss is not None:
        if run.verdict == "overfitting" or run.final_val_loss > run.best_val_loss * 1.05:
            return (
                f"overfits (val loss {_num(run.best_val_loss)} at step {run.best_val_step:,}, "
                f"then {_num(run.final_val_loss)})"
            )
    return f"ends worse ({_score_text(largest, kind)} vs {_num(best.score(kind))})"


def _score_text(point: _Point, kind: str) -> str:
    run = point.first
    if kind == "val_loss" and run.best_val_step is not None:
        return f"{_num(point.score(kind))} at step {run.best_val_step:,}"
    return _num(point.score(kind))


def _tau(point: _Point) -> str:
    return f"{point.first.trend:+.2f}" if point.first.trend is not None else "n/a"


def _grid_ratio(lrs: list[float]) -> float:
    """The typical factor between neighbouring LRs of the grid."""
    if len(lrs) < 2:
        return 10.0
    return float(math.exp(np.median(np.diff(np.log(lrs)))))


def _round_lr(value: float) -> float:
    """To one significant digit, as LRs are written (1.7e-2 -> 2e-2)."""
    if value <= 0 or not math.isfinite(value):
        return value
    return float(f"{value:.0e}")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _rounded(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


# -- A second swept axis ----------------------------------------------------------------------


def _interplay(found: list[Sweep], axes: tuple[str, ...]) -> list[Interplay]:
    """Sweeps of one container that differ in exactly one param: how the LR edge moves."""
    result = []
    for axis in axes:
        others = [a for a in axes if a != axis]
        families: dict[tuple, list[Sweep]] = defaultdict(list)
        for item in found:
            if axis in item.group:
                families[tuple((a, item.group.get(a)) for a in others)].append(item)
        for members in families.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda s: positive_number(s.group[axis]) or 0.0)
            values = tuple(s.group[axis] for s in members)
            stable = tuple(s.edge[0] for s in members)
            exponent = _exponent(values, stable)
            parts = ", ".join(
                f"{lr_text(lr) if lr else 'none'} at {axis}={value}"
                for value, lr in zip(values, stable, strict=True)
            )
            reason = f"largest stable LR {parts}"
            if exponent is not None:
                reason += f": it scales as {axis}^{exponent:.2f}"
            result.append(
                Interplay(
                    axis,
                    tuple(s.name for s in members),
                    values,
                    stable,
                    tuple(s.recommended_lr for s in members),
                    exponent,
                    reason,
                )
            )
    return result


def _exponent(values: tuple[str, ...], lrs: tuple[float | None, ...]) -> float | None:
    pairs = [
        (math.log(positive_number(v)), math.log(lr))
        for v, lr in zip(values, lrs, strict=True)
        if lr and positive_number(v)
    ]
    if len(pairs) < 2 or len({x for x, _ in pairs}) < 2:
        return None
    x, y = np.array(pairs).T
    return float(np.polyfit(x, y, 1)[0])
