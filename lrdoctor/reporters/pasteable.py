"""Audit results to paste elsewhere: a CSV row per run for a spreadsheet or pandas, GitHub
workflow annotations plus a step-summary table for CI, and a summary of at most ten lines for
a chat message. Each renders the `lrdoctor.audit/1` entries; none measures anything."""

from __future__ import annotations

import csv
import io

from lrdoctor.audit import AuditResult
from lrdoctor.reporters.audit import worst_first
from lrdoctor.reporters.escaping import printable

CSV_COLUMNS = (
    "name",
    "source",
    "format",
    "diagnosis",
    "confidence",
    "rule",
    "finding",
    "severity",
    "first_step",
    "last_step",
    "message",
    "remedy",
    "findings",
    "warnings",
    "params",
    "sweep",
)
SUMMARY_LINES = 10
"""A chat message's budget: the counts, the worst runs, and a line saying how many more."""


def _top(entry: dict) -> dict | None:
    return entry["findings"][0] if entry["findings"] else None


def render_csv(result: AuditResult, per_finding: bool = False) -> str:
    """One row per run, worst first: the verdict, its top finding (what was measured, where,
    and the first remedy), every rule that fired, the reader's warnings, the run's
    hyper-parameters (`key=value; ...`), so the runs of a sweep sort side by side, and the
    sweep it belongs to. `per_finding`: a row per finding instead (a run without one still
    has its row), each with that finding's rule, steps, message and first remedy."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in worst_first(result):
        run = {
            "name": entry["name"],
            "source": entry["source"],
            "format": entry["format"],
            "diagnosis": entry["diagnosis"],
            "confidence": entry["confidence"],
            "findings": " ".join(f["rule"] for f in entry["findings"]),
            "warnings": " | ".join(entry["warnings"]),
            "params": "; ".join(f"{key}={value}" for key, value in entry["params"].items()),
            "sweep": entry.get("sweep", ""),
        }
        shown = entry["findings"] if per_finding else entry["findings"][:1]
        for finding in shown or [{}]:
            steps = finding.get("steps") or (None, None)
            writer.writerow(
                {
                    **run,
                    "rule": finding.get("rule", ""),
                    "finding": finding.get("name", ""),
                    "severity": finding.get("severity", ""),
                    "first_step": "" if steps[0] is None else steps[0],
                    "last_step": "" if steps[1] is None else steps[1],
                    "message": finding.get("message", ""),
                    "remedy": (finding.get("remedies") or [""])[0],
                }
            )
    return out.getvalue()


def _command_data(text: str) -> str:
    """A workflow command's message: GitHub reads `%`, CR and LF as escapes there."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _command_property(text: str) -> str:
    """A workflow command's property value, where `:` and `,` also separate fields."""
    return _command_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github_annotations(result: AuditResult) -> str:
    """`::error` / `::warning` lines, one per run that is not healthy, titled with the verdict
    and rule, on the run's source file, as GitHub Actions shows them on a workflow run."""
    lines = []
    for entry in worst_first(result):
        top = _top(entry)
        if entry["diagnosis"] == "healthy" or (top is None and not entry["warnings"]):
            continue
        level = "error" if top is not None and top["severity"] == "error" else "warning"
        title = f"lrdoctor: {entry['name']} is {entry['diagnosis']}"
        if top is not None:
            title += f" ({top['rule']} {top['name']})"
            message = f"{top['message']}. Fix first: {(top['remedies'] or ['-'])[0]}"
        else:
            message = entry["warnings"][0]
        lines.append(
            f"::{level} file={_command_property(entry['source'])},"
            f"title={_command_property(title)}::{_command_data(message)}"
        )
    return "\n".join(lines)


def _cell(text: object) -> str:
    return printable(text).replace("|", "\\|")


def render_github_summary(result: AuditResult) -> str:
    """The Markdown for `$GITHUB_STEP_SUMMARY`: a count per verdict and a row per run that is
    not healthy, with the measured fact and the first remedy."""
    entries = worst_first(result)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in result.by_diagnosis().items())
    lines = ["## lrdoctor audit", "", f"{len(entries)} runs: {counts or 'none'}", ""]
    flagged = [e for e in entries if e["diagnosis"] != "healthy"]
    if flagged:
        lines += ["| run | verdict | conf | finding | fix first |", "|---|---|---|---|---|"]
        for entry in flagged:
            top = _top(entry)
            finding = f"{top['rule']}: {top['message']}" if top else "; ".join(entry["warnings"])
            remedy = (top["remedies"] or [""])[0] if top else ""
            lines.append(
                f"| {_cell(entry['name'])} | {entry['diagnosis']} | {entry['confidence']:.2f} "
                f"| {_cell(finding)} | {_cell(remedy)} |"
            )
    return "\n".join(lines) + "\n"


def render_summary(result: AuditResult) -> str:
    """At most ten lines: the counts, then the worst runs, each with its verdict, the one
    measured fact behind it and the first remedy, then how many more were flagged."""
    entries = worst_first(result)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in result.by_diagnosis().items())
    lines = [f"lrdoctor: {len(entries)} runs: {counts or 'none'}"]
    flagged = [e for e in entries if e["diagnosis"] != "healthy"]
    room = SUMMARY_LINES - 1 - (len(flagged) > SUMMARY_LINES - 1)
    for entry in flagged[:room]:
        top = _top(entry)
        line = f"- {printable(entry['name'])}: {entry['diagnosis']} ({entry['confidence']:.2f})"
        if top is not None:
            line += f", {printable(top['message'])}; fix: {(top['remedies'] or ['-'])[0]}"
        elif entry["warnings"]:
            line += f", {printable(entry['warnings'][0])}"
        lines.append(line)
    if len(flagged) > room:
        lines.append(f"... and {len(flagged) - room} more flagged runs")
    return "\n".join(lines)
