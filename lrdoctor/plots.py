"""Figures of runs for the HTML and Markdown reports: the curves and where each finding happens.

Plots draw what features and rules already measured; they decide nothing. Every function
builds a `matplotlib.figure.Figure` directly (Agg canvas, no pyplot), so rendering many runs
leaks no global figure state.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from lrdoctor.diagnosis import Diagnosis
from lrdoctor.engine import Finding
from lrdoctor.engine.vocabulary import VERDICT_ORDER
from lrdoctor.features import Prepared
from lrdoctor.features.core import recent_level
from lrdoctor.model import Curve, Run

VERDICT_COLOURS: dict[str, str] = {
    "healthy": "#2e7d32",
    "diverging": "#c62828",
    "oscillating": "#ef6c00",
    "too_slow": "#6a1b9a",
    "minibatch_noise": "#0277bd",
    "exploding_gradients": "#ad1457",
    "poor_feature_scaling": "#5d4037",
    "overfitting": "#00838f",
    "insufficient_data": "#757575",
    "unreadable": "#424242",
}
"""One colour per verdict, shared by the plots and the HTML badges."""

LOG_SCALE_RATIO = 30.0
"""A positive curve whose largest value is this many times its smallest gets a log axis."""

_FINDING_COLOUR = "#d84315"
_PANEL_ROLES = ("grad_norm", "lr")
EVENT_FINDINGS = {"loss-not-finite", "loss-spikes", "grad-norm-spikes"}
"""Built-in rules whose first step is an event (a NaN, a spike) rather than a window's start."""
_PANEL_TITLES = {"grad_norm": "gradient norm", "lr": "learning rate"}


THUMBNAIL_POINTS = 300
"""Points kept of each run's loss for the overview: enough for its shape, little memory."""


@dataclass(frozen=True)
class Sketch:
    """What a report needs of a run, made while the run is in memory: its full plot as PNG
    and a thumbnail run holding only the training loss, thinned, for the overview. Reports
    of many runs then hold sketches, never every run's curves."""

    png: bytes
    thumbnail: Run


def sketch(run: Run, diagnosis: Diagnosis) -> Sketch:
    """The run's plot and thumbnail (picklable: parallel audits make sketches in workers)."""
    tag = diagnosis.signals.get("train_loss")
    curves = {}
    if tag in run.curves:
        curve = run.curves[tag]
        keep = np.unique(
            np.linspace(0, len(curve) - 1, min(len(curve), THUMBNAIL_POINTS)).astype(int)
        )
        curves[tag] = Curve.from_points(tag, curve.steps[keep], curve.values[keep])
    thumbnail = Run(run.name, run.source, run.format, curves=curves)
    return Sketch(figure_png(plot_run(run, diagnosis)), thumbnail)


def sketch_runs(
    diagnoses: Sequence[Diagnosis], runs: Iterable[Run]
) -> dict[tuple[str, str], Sketch]:
    """Sketches of runs already in memory, keyed by (name, source) like the diagnoses."""
    return {
        (diagnosis.name, diagnosis.source): sketch(run, diagnosis)
        for diagnosis, run in pair_runs(diagnoses, runs)
        if run is not None
    }


def sketch_pairs(
    diagnoses: Sequence[Diagnosis], sketches: Mapping[tuple[str, str], Sketch]
) -> list[tuple[Diagnosis, Sketch | None]]:
    """Each diagnosis with its sketch, worst verdict first, as the reports list them."""
    pairs = [(d, sketches.get((d.name, d.source))) for d in diagnoses]
    return sorted(
        pairs, key=lambda p: (VERDICT_ORDER.index(p[0].verdict), -p[0].confidence, p[0].name)
    )


def pair_runs(
    diagnoses: Sequence[Diagnosis], runs: Iterable[Run]
) -> list[tuple[Diagnosis, Run | None]]:
    """Each diagnosis with the run it judged (matched by name and source); None if unreadable."""
    by_key = {(run.name, run.source): run for run in runs}
    return [(d, by_key.get((d.name, d.source))) for d in diagnoses]


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _finite(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(curve.values)
    return curve.steps[keep], curve.values[keep]


def is_log_scale(curve: Curve) -> bool:
    """Whether a curve is drawn in decades: positive and spanning `LOG_SCALE_RATIO` or more."""
    _, values = _finite(curve)
    return bool(values.size) and values.min() > 0 and values.max() / values.min() >= LOG_SCALE_RATIO


def _on_scale(values: np.ndarray, log: bool) -> np.ndarray:
    """Values as drawn: log10 on a log axis (non-positive values are left out), else as logged.

    Log axes are drawn as log10 values on a linear axis with 10^k tick labels: matplotlib's
    own log scale overflows on a diverged loss near the float limit (1e306 is real data).
    """
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(values), np.nan)


def _set_scale(axes: Axes, log: bool, label: str) -> None:
    if label:
        axes.set_ylabel(f"{label} (log)" if log else label)
    if log:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"$10^{{{value:g}}}$"))


def _draw_curve(axes: Axes, curve: Curve, log: bool, label: str, colour: str, **style) -> None:
    steps, values = _finite(curve)
    axes.plot(steps, _on_scale(values, log), color=colour, label=label, **style)


def _draw_trend(axes: Axes, curve: Curve, log: bool) -> None:
    """The running median the features judge the loss by (kept in log10 when positive)."""
    prepared = Prepared(curve)
    if not prepared.measurable:
        return
    if prepared.positive:
        trend = prepared.trend if log else 10**prepared.trend
    else:
        trend = _on_scale(prepared.trend, log)
    axes.plot(prepared.clean_steps, trend, color="black", linewidth=1.4, label="smoothed")


def _draw_spikes(axes: Axes, curve: Curve, finding: Finding, log: bool) -> None:
    """Loss points above the recent level by more than the rule's own limit (LRD502)."""
    limit = finding.parameters.get("min_jump_ratio")
    prepared = Prepared(curve)
    if limit is None or not (prepared.measurable and prepared.positive):
        return
    values = np.power(10.0, prepared.level)
    spikes = values > float(limit) * recent_level(values)
    spikes[0] = False
    axes.scatter(
        prepared.clean_steps[spikes],
        _on_scale(prepared.clean[spikes], log),
        marker="v",
        s=36,
        color=_FINDING_COLOUR,
        zorder=5,
        label=f"{finding.code} spikes",
    )


def _draw_finding(
    axes: Axes, finding: Finding, curve: Curve | None, log: bool, first_step: int
) -> None:
    """An event finding as a line at its step; a finding over part of the run as a shaded window.

    Findings that cover the whole run (a crawl, a steady divergence) have no place to point
    at: the title names them.
    """
    if finding.steps is None:
        return
    start, end = finding.steps
    label = f"{finding.code} {finding.name}"
    if finding.name in EVENT_FINDINGS:
        axes.axvline(
            start,
            color=_FINDING_COLOUR,
            linestyle="--",
            linewidth=1.2,
            label=f"{label} (step {start})",
        )
        if curve is not None and finding.name == "loss-spikes":
            _draw_spikes(axes, curve, finding, log)
    elif start > first_step:
        axes.axvspan(start, end, color=_FINDING_COLOUR, alpha=0.12, label=label)


def _draw_lr_drops(axes: Axes, curve: Curve) -> None:
    """Schedule cuts (2x or more between two logged points), the steps `lr_drops` counts."""
    steps, values = _finite(curve)
    if values.size < 2:
        return
    drops = (values[1:] > 0) & (values[:-1] >= 2 * values[1:])
    for step in steps[1:][drops]:
        axes.axvline(step, color="#546e7a", linestyle=":", linewidth=1.0)


def plot_run(run: Run, diagnosis: Diagnosis) -> Figure:
    """The run's curves with each finding drawn where it happens.

    Loss axes: train loss, its smoothed curve and val loss; the first non-finite step and any
    window a finding covers mid-run are marked. Grad norm and lr get their own axes when
    logged; lr shows the schedule's drops.
    """
    signals = diagnosis.signals
    panels = [role for role in _PANEL_ROLES if role in signals and signals[role] in run.curves]
    height = 3.2 + 1.5 * len(panels)
    figure = Figure(figsize=(8.0, height))
    # Fixed margins in inches: constrained layout measured every tick label again and took
    # half of each plot's time; the labels here are short (log10 values, a few words).
    grid = figure.add_gridspec(
        1 + len(panels),
        1,
        height_ratios=[2.2] + [1.0] * len(panels),
        left=0.85 / 8.0,
        right=1 - 0.2 / 8.0,
        top=1 - 0.35 / height,
        bottom=0.5 / height,
        hspace=0.45 if panels else 0.0,
    )
    loss_axes = figure.add_subplot(grid[0])
    loss_axes.set_title(
        f"{diagnosis.verdict} ({diagnosis.confidence:.2f})",
        loc="left",
        color=VERDICT_COLOURS.get(diagnosis.verdict, "black"),
        fontsize=11,
    )
    train = run.curves.get(signals.get("train_loss", ""))
    val = run.curves.get(signals.get("val_loss", ""))
    first_step = int(train.steps[0]) if train is not None and len(train) else 0
    loss_log = any(is_log_scale(curve) for curve in (train, val) if curve is not None)
    if train is not None:
        _draw_curve(loss_axes, train, loss_log, f"train ({train.tag})", "#90a4ae", linewidth=1.0)
        _draw_trend(loss_axes, train, loss_log)
    if val is not None:
        _draw_curve(
            loss_axes, val, loss_log, f"val ({val.tag})", "#1565c0", marker=".", markersize=4
        )
    _set_scale(loss_axes, loss_log, "loss")
    axes_by_role = {"train_loss": loss_axes, "val_loss": loss_axes}
    log_by_role = {"train_loss": loss_log, "val_loss": loss_log}
    for row, role in enumerate(panels, start=1):
        axes = figure.add_subplot(grid[row], sharex=loss_axes)
        curve = run.curves[signals[role]]
        log = is_log_scale(curve)
        _draw_curve(axes, curve, log, curve.tag, "#455a64", linewidth=1.0)
        _set_scale(axes, log, _PANEL_TITLES[role])
        if role == "lr":
            _draw_lr_drops(axes, curve)
        axes_by_role[role] = axes
        log_by_role[role] = log
    for finding in diagnosis.findings:
        axes = axes_by_role.get(finding.signal, loss_axes)
        curve = run.curves.get(signals.get(finding.signal, ""))
        _draw_finding(axes, finding, curve, log_by_role.get(finding.signal, loss_log), first_step)
    loss_axes.set_title(
        ", ".join(f"{f.code} {f.name}" for f in diagnosis.findings),
        loc="right",
        color=_FINDING_COLOUR,
        fontsize=8,
    )
    for axes in figure.axes:
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="best", fontsize=7, framealpha=0.8)
    figure.axes[-1].set_xlabel("step")
    return figure


def plot_overview(pairs: Sequence[tuple[Diagnosis, Run | None]]) -> Figure:
    """Small multiples: each run's training loss, coloured by its verdict."""
    columns = min(len(pairs), max(8, math.ceil(math.sqrt(2 * len(pairs))))) or 1
    rows = max(1, math.ceil(len(pairs) / columns))
    width, height = 1.7 * columns, 1.35 * rows
    figure = Figure(figsize=(width, height))
    grid = figure.add_gridspec(
        rows,
        columns,
        left=0.05 / width,
        right=1 - 0.05 / width,
        top=1 - 0.2 / height,
        bottom=0.05 / height,
        wspace=0.08,
        hspace=0.25,
    )
    for index, (diagnosis, run) in enumerate(pairs):
        axes = figure.add_subplot(grid[index // columns, index % columns])
        colour = VERDICT_COLOURS.get(diagnosis.verdict, "black")
        curve = run.curves.get(diagnosis.signals.get("train_loss", "")) if run else None
        if curve is not None:
            log = is_log_scale(curve)
            _draw_curve(axes, curve, log, diagnosis.verdict, colour, linewidth=0.8)
        axes.set_title(_short(diagnosis.name), fontsize=6, color=colour)
        axes.tick_params(labelleft=False, labelbottom=False, length=0)
        for spine in axes.spines.values():
            spine.set_color(colour)
    return figure


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]
