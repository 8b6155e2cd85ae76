"""Render `lrdoctor sweep` results: a table per sweep with the chosen row marked, then why."""

from __future__ import annotations

from lrdoctor.reporters.escaping import printable
from lrdoctor.sweep import Sweep, SweepResult, lr_text
from lrdoctor.sweeps.finder import Finder

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
