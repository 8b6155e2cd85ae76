"""Render `lrdoctor sweep` results: a table per sweep with the chosen row marked, then why;
as text, JSON, Markdown (plots beside it) or one self-contained HTML page."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from lrdoctor.reporters.escaping import printable
from lrdoctor.sweep import Sweep, SweepResult
from lrdoctor.sweeps.finder import Finder
from lrdoctor.sweeps.values import lr_text

_STYLE = (
    "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
    "td,th{padding:2px 8px;text-align:left}.chosen{background:#fde0dc}</style>"
)

_COLUMNS = ("", "LR", "VERDICT", "STABLE", "TREND", "FINAL", "BEST", "BEST VAL", "FINAL VAL")


def render_json(result: SweepResult) -> str:
    return result.to_json()


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def render_sweep_text(sweep: Sweep) -> str:
    """The sweep's runs by LR (the recommended one marked `>`), then the reasons."""
    rows = []
    for run in sweep.runs:
        rows.append(
            (
                ">" if run.lr == sweep.recommended_lr else "",
                lr_text(run.lr),
                run.verdict,
                "yes" if run.stable else "no",
                "-" if run.trend is None else f"{run.trend:+.2f}",
                _cell(run.final_loss),
                _cell(run.best_loss),
                _cell(run.best_val_loss),
                _cell(run.final_val_loss),
            )
        )
    widths = [max(len(str(row[i])) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    lines = [
        f"{printable(sweep.name)}  ({sweep.swept} sweep of {len(sweep.runs)} runs, "
        f"budget step {sweep.budget_step:,}, {printable(sweep.source)})"
    ]
    for row in [_COLUMNS, *rows]:
        lines.append(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    if sweep.recommended_lr is not None:
        low, high = sweep.recommended_range
        lines.append(
            f"recommended: {lr_text(sweep.recommended_lr)} "
            f"(refine in {lr_text(low)}..{lr_text(high)})"
        )
    stable, unstable = sweep.edge
    lines.append(
        "edge of stability: "
        f"{lr_text(stable) if stable else 'none'} stable, "
        f"{lr_text(unstable) if unstable else 'none found'} unstable"
    )
    lines.append("why: " + printable(sweep.summary))
    return "\n".join(lines)


def render_finder_text(finder: Finder) -> str:
    """The LR a range test suggests, every algorithm's pick, where the loss blew up, why."""
    picks = ", ".join(
        f"{name} {lr_text(value) if value else '-'}" for name, value in finder.suggestions.items()
    )
    suggested = lr_text(finder.suggested_lr) if finder.suggested_lr else "none"
    blow_up = f"blows up at {lr_text(finder.blow_up_lr)}" if finder.blow_up_lr else "no blow-up"
    return "\n".join(
        [
            f"{printable(finder.name)}  (LR range test, {len(finder.lrs)} points, "
            f"{printable(finder.source)})",
            f"suggested: {suggested}  ({picks}; {blow_up})",
            "why: " + printable(finder.reason),
        ]
    )


def render_text(result: SweepResult) -> str:
    if not result.sweeps and not result.finders:
        return (
            f"no sweep found among {result.runs_read} runs: a sweep needs at least 3 runs "
            "that differ only in the swept parameter"
        )
    parts = [render_sweep_text(sweep) for sweep in result.sweeps]
    parts += [render_finder_text(finder) for finder in result.finders]
    parts += [f"{printable(item.param)}: {printable(item.reason)}" for item in result.interplay]
    if result.unswept:
        shown = ", ".join(printable(name) for name in result.unswept[:10])
        more = f" and {len(result.unswept) - 10} more" if len(result.unswept) > 10 else ""
        runs = "run" if len(result.unswept) == 1 else "runs"
        parts.append(f"in no sweep ({len(result.unswept)} {runs}): {shown}{more}")
    return "\n\n".join(parts)


def _rows(sweep: Sweep) -> list[tuple[bool, tuple[str, ...]]]:
    """(recommended?, cells) for every run, by LR."""
    return [
        (
            run.lr == sweep.recommended_lr,
            (
                lr_text(run.lr),
                run.verdict,
                "yes" if run.stable else "no",
                "-" if run.trend is None else f"{run.trend:+.2f}",
                _cell(run.final_loss),
                _cell(run.best_val_loss),
                "-" if run.best_val_step is None else f"{run.best_val_step:,}",
            ),
        )
        for run in sweep.runs
    ]


_HEADER = ("LR", "verdict", "stable", "trend", "loss at budget", "best val", "at step")


def _recommendation(sweep: Sweep) -> str:
    if sweep.recommended_lr is None:
        return "no LR recommended"
    low, high = sweep.recommended_range
    return f"use {lr_text(sweep.recommended_lr)}, refine in {lr_text(low)}..{lr_text(high)}"


def _figures(result: SweepResult):
    """(title, figure) for every sweep and range test; matplotlib is imported only here."""
    from lrdoctor.reporters.sweep_plots import plot_finder, plot_sweep

    for sweep in result.sweeps:
        yield sweep.name, plot_sweep(sweep)
    for finder in result.finders:
        yield finder.name, plot_finder(finder)


def render_markdown(result: SweepResult, output: Path) -> str:
    """Markdown with each sweep's table and reasons; plots go to `<stem>-plots/` beside it."""
    from lrdoctor.plots import figure_png
    from lrdoctor.reporters.markdown import _file_stem, _text, plots_folder

    folder = plots_folder(output)
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for index, (title, figure) in enumerate(_figures(result)):
        path = folder / f"{_file_stem(index, title)}.png"
        path.write_bytes(figure_png(figure))
        images[title] = f"{folder.name}/{path.name}"
    lines = ["# LR sweeps", ""]
    if not result.sweeps and not result.finders:
        lines.append(_text(render_text(result)))
    for sweep in result.sweeps:
        lines += [f"## {_text(sweep.name)}", "", f"**{_recommendation(sweep)}**", ""]
        lines += [f"- {_text(reason)}" for reason in sweep.reasons]
        lines += ["", "| " + " | ".join(_HEADER) + " |", "|" + " --- |" * len(_HEADER)]
        for chosen, cells in _rows(sweep):
            shown = [_text(cell) for cell in cells]
            if chosen:
                shown = [f"**{cell}**" for cell in shown]
            lines.append("| " + " | ".join(shown) + " |")
        lines += ["", f"![{_text(sweep.name)}]({images[sweep.name]})", ""]
    for finder in result.finders:
        lines += [f"## LR range test: {_text(finder.name)}", "", _text(finder.reason), ""]
        lines += [f"![{_text(finder.name)}]({images[finder.name]})", ""]
    return "\n".join(lines)


def render_html(result: SweepResult) -> str:
    """One page, plots embedded: nothing beside it to lose."""
    from lrdoctor.plots import figure_png

    images = {
        title: base64.b64encode(figure_png(figure)).decode() for title, figure in _figures(result)
    }
    parts = ["<!doctype html><meta charset='utf-8'><title>lrdoctor: LR sweeps</title>"]
    parts.append(_STYLE)
    parts.append("<h1>LR sweeps</h1>")
    if not result.sweeps and not result.finders:
        parts.append(f"<p>{escape(render_text(result))}</p>")
    for sweep in result.sweeps:
        parts.append(f"<h2>{escape(sweep.name)}</h2><p><b>{_recommendation(sweep)}</b></p>")
        parts.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in sweep.reasons) + "</ul>")
        head = "".join(f"<th>{escape(h)}</th>" for h in _HEADER)
        body = "".join(
            f"<tr class='{'chosen' if chosen else ''}'>"
            + "".join(f"<td>{escape(cell)}</td>" for cell in cells)
            + "</tr>"
            for chosen, cells in _rows(sweep)
        )
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
        parts.append(
            f"<img alt='{escape(sweep.name)}' src='data:image/png;base64,{images[sweep.name]}'>"
        )
    for finder in result.finders:
        parts.append(f"<h2>LR range test: {escape(finder.name)}</h2>")
        parts.append(f"<p>{escape(finder.reason)}</p>")
        parts.append(
            f"<img alt='{escape(finder.name)}' src='data:image/png;base64,{images[finder.name]}'>"
        )
    return "\n".join(parts)
