"""The lines `lrdoctor watch` prints: one per verdict or finding change, for people or as JSON.

Text: `12:04:31 runs/b17 step 4,210: healthy -> diverging (LRD101: the loss is NaN/inf from
step 4,205 on (1% of logged points))`. JSON lines: one object per change (`lrdoctor.watch/1`),
the finding as the run entries of `lrdoctor.audit/1` write it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from lrdoctor.reporters.escaping import printable

if TYPE_CHECKING:
    from lrdoctor.watch import Change

SCHEMA = "lrdoctor.watch/1"


def render_text(change: Change) -> str:
    """One line: local time, run, last step read, then what changed and the finding behind."""
    clock = time.strftime("%H:%M:%S", time.localtime(change.time))
    step = f"step {change.step:,}" if change.step is not None else "no step yet"
    head = f"{clock} {printable(change.run)} {step}: "
    finding = f" ({_finding_text(change)})" if change.finding is not None else ""
    if change.kind == "verdict":
        return f"{head}{change.old or 'new'} -> {change.new}{finding}"
    if change.kind == "finding":
        return f"{head}{change.new}, new finding{finding}"
    if change.kind == "finding_gone":
        return f"{head}{change.new}, finding gone{finding}"
    if change.old == change.new:
        return f"{head}closed, no longer written: {change.new}{finding}"
    return f"{head}closed, no longer written: {change.old or 'new'} -> {change.new}{finding}"


def _finding_text(change: Change) -> str:
    return f"{change.finding.code}: {printable(change.finding.message)}"


def render_json_line(change: Change) -> str:
    """The change as one JSON object on one line."""
    entry = {
        "schema": SCHEMA,
        "time": datetime.fromtimestamp(change.time, timezone.utc).isoformat(),
        "change": change.kind,
        "run": change.run,
        "source": change.source,
        "format": change.format,
        "step": change.step,
        "from": change.old,
        "to": change.new,
        "finding": _finding_entry(change),
    }
    return json.dumps(entry, allow_nan=False, separators=(",", ":"))


def _finding_entry(change: Change) -> dict | None:
    """The finding as `lrdoctor.audit/1` writes it (remedies rendered with the run's values)."""
    if change.finding is None:
        return None
    entries = change.diagnosis.to_dict()["findings"] if change.diagnosis else []
    found = next((entry for entry in entries if entry["rule"] == change.finding.code), None)
    if found is not None:
        return found
    finding = change.finding  # gone from the run's diagnosis: what it said when it was there
    return {
        "rule": finding.code,
        "name": finding.name,
        "label": finding.label,
        "severity": finding.severity,
        "steps": list(finding.steps) if finding.steps else None,
        "message": finding.message,
    }
