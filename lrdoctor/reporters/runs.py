"""Render the run inventory of `lrdoctor runs` as a text table or JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from lrdoctor.discovery import Problem
from lrdoctor.inventory import RunSummary
from lrdoctor.reporters.escaping import printable

_ROLE_COLUMNS = ("train_loss", "val_loss", "grad_norm", "lr")


def render_json(summaries: Sequence[RunSummary], problems: Sequence[Problem]) -> str:
    document = {
        "runs": [summary.to_dict() for summary in summaries],
        "problems": [{"source": p.source, "message": p.message} for p in problems],
    }
    return json.dumps(document, indent=2, allow_nan=False)


def _role_cell(summary: RunSummary, role: str) -> str:
    tag = summary.signals.get(role)
    return "-" if tag is None else f"{printable(tag)} ({summary.points[tag]})"


def render_text(summaries: Sequence[RunSummary]) -> str:
    """An aligned table, one line per run, each run's warnings indented under it. Text from
    the logs has its control characters escaped."""
    if not summaries:
        return "no runs found"
    header = ["RUN", "FORMAT", "POINTS", *(role.upper() for role in _ROLE_COLUMNS)]
    rows = [
        [
            printable(s.name),
            printable(s.format),
            str(sum(s.points.values())),
            *(_role_cell(s, r) for r in _ROLE_COLUMNS),
        ]
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()
    ]
    for summary, row in zip(summaries, rows, strict=True):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        lines.extend(f"    warning: {printable(warning)}" for warning in summary.warnings)
    formats = Counter(s.format for s in summaries)
    breakdown = ", ".join(f"{count} {printable(name)}" for name, count in formats.most_common())
    lines.append(f"{len(summaries)} run{'s' if len(summaries) != 1 else ''}: {breakdown}")
    return "\n".join(lines)
