"""Figures of LR sweeps and range tests for the Markdown and HTML sweep reports.

They draw what the sweep reading measured and decided; they decide nothing. Figures are
built directly on an Agg canvas (no pyplot), as `lrdoctor.plots` does.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from lrdoctor.sweep import Sweep
from lrdoctor.sweeps.finder import Finder
from lrdoctor.sweeps.values import lr_text

_CHOSEN = "#c62828"


def plot_sweep(sweep: Sweep) -> Figure:
    """Left: every run's training loss, coloured by log LR, the recommended one thick.
    Right: loss at the budget and best val loss against the LR, the recommendation and its
    range marked, unstable LRs crossed."""
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    curves, summary = figure.subplots(1, 2)
    lrs = [run.lr for run in sweep.runs]
    norm = LogNorm(min(lrs), max(lrs)) if min(lrs) < max(lrs) else None
    cmap = colormaps["viridis"]
    for run in sweep.runs:
        if run.curve is None or not run.curve[0].size:
            continue
        steps, loss = run.curve
        colour = cmap(norm(run.lr)) if norm else cmap(0.5)
        chosen = run.lr == sweep.recommended_lr
        curves.plot(
            steps,
            loss,
            color=colour,
            linewidth=2.4 if chosen else 1.0,
            label=lr_text(run.lr) + (" (chosen)" if chosen else ""),
        )
    curves.set_yscale("log")
    starts = [run.curve[1][0] for run in sweep.runs if run.curve is not None and run.curve[1].size]
    lows = [run.best_loss for run in sweep.runs if run.best_loss and run.best_loss > 0]
    if starts and lows and min(starts) > 0:
        # A diverging run climbs by many decades before its NaN; show the useful range.
        curves.set_ylim(min(lows) / 2, 10 * float(np.median(starts)))
    curves.set_xlabel("step")
    curves.set_ylabel("training loss")
    curves.legend(fontsize=7, ncols=2)
    finals = [(run.lr, run.final_loss) for run in sweep.runs if run.final_loss]
    vals = [(run.lr, run.best_val_loss) for run in sweep.runs if run.best_val_loss]
    if finals:
        summary.plot(*zip(*finals, strict=True), "o-", color="#1565c0", label="loss at budget")
    if vals:
        summary.plot(*zip(*vals, strict=True), "s--", color="#6a1b9a", label="best val loss")
    for run in sweep.runs:
        if not run.stable:
            summary.axvline(run.lr, color="#9e9e9e", linestyle=":", linewidth=1)
            summary.plot([run.lr], [_top(finals + vals)], "x", color="#9e9e9e")
    if sweep.recommended_lr is not None:
        low, high = sweep.recommended_range
        summary.axvspan(low, high, color=_CHOSEN, alpha=0.12)
        summary.axvline(
            sweep.recommended_lr,
            color=_CHOSEN,
            label=f"recommended {lr_text(sweep.recommended_lr)}",
        )
    summary.set_xscale("log")
    summary.set_yscale("log")
    summary.set_xlabel("learning rate")
    summary.legend(fontsize=7)
    return figure


def _top(points: list[tuple[float, float]]) -> float:
    values = [value for _, value in points if value and math.isfinite(value)]
    return max(values) if values else 1.0


def plot_finder(finder: Finder) -> Figure:
    """The smoothed loss against the LR, the suggested LR and each algorithm's pick marked."""
    figure = Figure(figsize=(6, 3.4), layout="constrained")
    axes = figure.subplots()
    axes.plot(np.array(finder.lrs), np.array(finder.losses), color="#1565c0")
    if finder.suggested_lr is not None:
        axes.axvline(
            finder.suggested_lr,
            color=_CHOSEN,
            linewidth=1.6,
            label=f"suggested {lr_text(finder.suggested_lr)}",
        )
    styles = {"valley": "-", "steep": "--", "minimum": ":", "lightning": "-."}
    for name, value in finder.suggestions.items():
        if value is not None:
            axes.axvline(
                value, color="#616161", linestyle=styles[name], label=f"{name} {lr_text(value)}"
            )
    if finder.blow_up_lr is not None:
        axes.axvline(
            finder.blow_up_lr,
            color="#000000",
            linewidth=0.8,
            label=f"blows up {lr_text(finder.blow_up_lr)}",
        )
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("smoothed loss")
    axes.legend(fontsize=7)
    return figure
