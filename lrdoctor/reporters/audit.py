"""Render audit results and single-run diagnoses as text for people or JSON for programs."""

from __future__ import annotations

import click

from lrdoctor.audit import AuditResult
from lrdoctor.diagnosis import Diagnosis
from lrdoctor.engine.vocabulary import VERDICT_ORDER
from lrdoctor.reporters.escaping import printable
from lrdoctor.reporters.wording import GENERAL_CHECK
from lrdoctor.sweeps.values import lr_text

_VERDICT_COLOURS = {"healthy": "green", "insufficient_data": "yellow", "unreadable": "yellow"}


def _verdict(text: str, verdict: str) -> str:
    """Failures in red, healthy in green; click drops the colour when it is not wanted."""
    return click.style(text, fg=_VERDICT_COLOURS.get(verdict, "red"), bold=verdict != "healthy")


def render_json(result: AuditResult) -> str:
    return result.to_json()


def _steps(entry: dict) -> str:
    steps = entry["findings"][0]["steps"] if entry["findings"] else None
    return "-" if not steps else f"{steps[0]}..{steps[1]}"


def _top(entry: dict) -> str:
    if entry["findings"]:
        finding = entry["findings"][0]
        return f"{finding['rule']} {finding['name']}"
    return entry["warnings"][0] if entry["warnings"] and entry["diagnosis"] != "healthy" else ""


def worst_first(result: AuditResult) -> list[dict]:
    """The audit's run entries in the order every table shows them: the worst verdict first,
    then the surest, then by name."""
    return sorted(
        result.to_dict()["runs"],
        key=lambda e: (VERDICT_ORDER.index(e["diagnosis"]), -e["confidence"], e["name"]),
    )


def render_text(result: AuditResult) -> str:
    """A table of runs, worst verdict first, each run's top finding's message and warnings
    under it, and a count per verdict. Text from the logs has its control characters
    escaped."""
    entries = worst_first(result)
    header = ["RUN", "FORMAT", "VERDICT", "CONF", "TOP FINDING", "STEPS"]
    rows = [
        [
            printable(e["name"]),
            printable(e["format"]),
            e["diagnosis"],
            f"{e['confidence']:.2f}",
            printable(_top(e)),
            _steps(e),
        ]
        for e in entries
    ]
    widths = [min(60, max(len(row[i]) for row in [header, *rows])) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    for entry, row in zip(entries, rows, strict=True):
        cells = [cell[:width].ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[2] = _verdict(cells[2], entry["diagnosis"])
        lines.append("  ".join(cells).rstrip())
        if entry["findings"]:  # what was measured, so the table says why, not only which rule
            lines.append(f"    {printable(entry['findings'][0]['message'])}")
        # A warning shown whole as the top finding is not repeated; a cut one is.
        shown = _top(entry) if len(row[4]) <= widths[4] else None
        lines += [f"    warning: {printable(w)}" for w in entry["warnings"] if w != shown]
    lines += sweep_lines(result)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in result.by_diagnosis().items())
    lines.append(f"\n{len(entries)} runs: {counts}" if entries else "no runs found")
    return "\n".join(lines)


def sweep_members(result: AuditResult) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Each sweep's name and its runs as (LR, run name, verdict), the smallest LR first."""
    verdicts = {(d.name, d.source): d.verdict for d in result.diagnoses}
    return [
        (
            group["name"],
            [
                (lr_text(run["value"]), run["name"], verdicts[(run["name"], run["source"])])
                for run in group["runs"]
            ],
        )
        for group in (sweep.to_dict() for sweep in result.sweeps)
    ]


def sweep_lines(result: AuditResult) -> list[str]:
    """The sweeps among the runs, each with its LRs and their verdicts."""
    found = sweep_members(result)
    if not found:
        return []
    lines = [f"\n{len(found)} LR sweeps (lrdoctor sweep recommends an LR from each):"]
    for name, runs in found:
        lines.append(f"  {printable(name)} ({len(runs)} runs)")
        lines.append("    " + ", ".join(f"{lr} {verdict}" for lr, _, verdict in runs))
    return lines


def render_diagnosis_text(diagnosis: Diagnosis) -> str:
    """One run in full: verdict, each finding with its evidence, remedies in order."""
    entry = diagnosis.to_dict()
    signals = ", ".join(f"{role}={tag}" for role, tag in entry["signals"].items())
    lines = [
        printable(f"{entry['name']}  ({entry['format']}, {entry['source']})"),
        f"verdict: {_verdict(entry['diagnosis'], entry['diagnosis'])}"
        f"  (confidence {entry['confidence']:.2f})",
        f"signals: {printable(signals or 'none')}",
    ]
    for finding in entry["findings"]:
        steps = finding["steps"]
        where = f" at steps {steps[0]}..{steps[1]}" if steps else ""
        lines += [
            "",
            f"{finding['rule']} {finding['name']} [{finding['severity']}]{where}",
            f"  {printable(finding['message'])}",
            "  evidence: "
            + ", ".join(f"{name}={_number(value)}" for name, value in finding["evidence"].items()),
            "  remedies, in order:",
        ]
        lines += [
            f"    {i}. {printable(text)}{GENERAL_CHECK[basis]}"
            for i, (text, basis) in enumerate(
                zip(finding["remedies"], finding["remedy_basis"], strict=True), start=1
            )
        ]
    lines += [f"warning: {printable(warning)}" for warning in entry["warnings"]]
    return "\n".join(lines)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
