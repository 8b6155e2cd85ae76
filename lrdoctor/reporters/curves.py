"""Each run's curves as data for the interactive HTML report, thinned for display.

`collect_curves` runs in the audit's workers while the run is in memory (see
`lrdoctor.audit(..., collect=...)`): the rules have already judged every point, and what is
kept is what a chart of a few hundred pixels can show. A long curve keeps its first and last
point, the lowest and highest point of each of `DISPLAY_POINTS / 2` buckets, and both ends of
every stretch of NaN or inf, so spikes and gaps survive thinning and a curve never looks
calmer than it was.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lrdoctor.diagnosis import Diagnosis
from lrdoctor.model import Curve, Run

DISPLAY_POINTS = 2000
"""Points a curve keeps at most for display (plus the ends of its NaN/inf stretches)."""

SIGNIFICANT_DIGITS = 4
"""Digits a displayed value keeps: enough to read a hover value (0.1234), and the page of
sample_logs stays under 6 MB (964 runs: 6.0 MB with 5 digits, 5.5 MB with 4)."""

CHART_ROLES = ("train_loss", "val_loss", "grad_norm", "lr")
"""The signals the report draws, in the order of its charts."""


@dataclass(frozen=True)
class DisplayCurve:
    """One thinned curve: `steps[i]`, `values[i]` (None where the value was not finite, its
    kind in `nonfinite`), and how many points the logged curve had."""

    tag: str
    steps: tuple[int, ...]
    values: tuple[float | None, ...]
    nonfinite: Mapping[int, str]
    """Index into `steps` -> "nan", "inf" or "-inf"."""
    points: int

    def to_dict(self) -> dict:
        """Compact JSON: steps as differences from the previous step (the first from 0)."""
        deltas = np.diff(np.asarray(self.steps, dtype=np.int64), prepend=0).tolist()
        data = {"tag": self.tag, "dx": deltas, "y": list(self.values), "points": self.points}
        if self.nonfinite:
            data["nonfinite"] = [[index, kind] for index, kind in self.nonfinite.items()]
        return data


@dataclass(frozen=True)
class RunCurves:
    """What the HTML report keeps of a run: its display curves by role, its loss's last
    logged value and its lowest finite one over every logged point, and its MLflow
    experiment (for grouping)."""

    curves: Mapping[str, DisplayCurve]
    final_loss: float | None = None
    best_loss: float | None = None
    experiment: str = ""


def _on_a_line(steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Points a straight line through their two neighbours draws anyway (a constant or
    linearly warming LR, a plateau): dropping them changes no pixel of the chart."""
    on_line = np.zeros(len(values), dtype=bool)
    if len(values) < 3:
        return on_line
    x = steps.astype(np.float64)
    before, here, after = values[:-2], values[1:-1], values[2:]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        between = before + (after - before) * (x[1:-1] - x[:-2]) / (x[2:] - x[:-2])
        tolerance = 1e-9 * np.maximum(np.abs(before), np.abs(after))
        finite = np.isfinite(before) & np.isfinite(here) & np.isfinite(after)
        on_line[1:-1] = finite & (np.abs(here - between) <= tolerance)
    return on_line


def thin(steps: np.ndarray, values: np.ndarray, points: int = DISPLAY_POINTS) -> np.ndarray:
    """Indices of the points kept for display. Points on the straight line between their
    neighbours go first (the chart is the same without them); then, when more than `points`
    are left, the first and last, the lowest and highest finite point of each of
    `points // 2` buckets, and the first and last point of every stretch of NaN, of inf and
    of -inf."""
    kept = np.flatnonzero(~_on_a_line(steps, values))
    if len(kept) <= points:
        return kept
    return kept[_extremes(values[kept], points)]


def _extremes(values: np.ndarray, points: int) -> np.ndarray:
    count = len(values)
    finite = np.isfinite(values)
    keep = np.zeros(count, dtype=bool)
    keep[[0, -1]] = True
    # 0 finite, 1 NaN, 2 inf, 3 -inf: each stretch of one kind keeps both its ends.
    kind = np.select([np.isnan(values), values == np.inf, values == -np.inf], [1, 2, 3], 0)
    bad = kind > 0
    keep |= bad & (kind != np.r_[0, kind[:-1]])
    keep |= bad & (kind != np.r_[kind[1:], 0])
    buckets = max(1, points // 2)
    size = math.ceil(count / buckets)
    padded = buckets * size
    low = np.full(padded, np.inf)
    high = np.full(padded, -np.inf)
    low[:count] = np.where(finite, values, np.inf)
    high[:count] = np.where(finite, values, -np.inf)
    starts = np.arange(buckets) * size
    lowest = starts + low.reshape(buckets, size).argmin(axis=1)
    highest = starts + high.reshape(buckets, size).argmax(axis=1)
    for chosen in (lowest, highest):
        chosen = chosen[chosen < count]
        keep[chosen[finite[chosen]]] = True
    return np.flatnonzero(keep)


def _rounded(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def display_curve(curve: Curve, points: int = DISPLAY_POINTS) -> DisplayCurve:
    """The curve thinned for display (see `thin`), values rounded to `SIGNIFICANT_DIGITS`."""
    kept = thin(curve.steps, curve.values, points)
    values: list[float | None] = []
    nonfinite: dict[int, str] = {}
    for index, value in enumerate(curve.values[kept].tolist()):
        if math.isfinite(value):
            values.append(_rounded(value))
        else:
            values.append(None)
            nonfinite[index] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return DisplayCurve(
        curve.tag, tuple(curve.steps[kept].tolist()), tuple(values), nonfinite, len(curve)
    )


def _final_and_best(curve: Curve | None) -> tuple[float | None, float | None]:
    """The last logged value (NaN or inf if the run ended so) and the lowest finite one."""
    if curve is None or not len(curve):
        return None, None
    finite = curve.values[np.isfinite(curve.values)]
    return float(curve.values[-1]), (float(finite.min()) if finite.size else None)


def collect_curves(run: Run, diagnosis: Diagnosis) -> RunCurves:
    """The run's charted curves, thinned, with its final and best loss (picklable: parallel
    audits make these in their workers, where the whole run is in memory)."""
    curves = {
        role: display_curve(run.curves[diagnosis.signals[role]])
        for role in CHART_ROLES
        if diagnosis.signals.get(role) in run.curves
    }
    loss = run.curves.get(diagnosis.signals.get("train_loss", "")) or run.curves.get(
        diagnosis.signals.get("val_loss", "")
    )
    final, best = _final_and_best(loss)
    return RunCurves(curves, final, best, run.metadata.get("experiment_name", ""))


def curve_runs(
    diagnoses: Sequence[Diagnosis], runs: Iterable[Run]
) -> dict[tuple[str, str], RunCurves]:
    """`collect_curves` of runs already in memory, keyed by (name, source) like an audit's
    `collected`."""
    by_key = {(run.name, run.source): run for run in runs}
    return {
        (d.name, d.source): collect_curves(by_key[(d.name, d.source)], d)
        for d in diagnoses
        if (d.name, d.source) in by_key
    }
