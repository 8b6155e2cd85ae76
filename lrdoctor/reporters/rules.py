"""Render the rule catalogue (`lrdoctor rules`) and rule pages (`lrdoctor explain`)."""

from __future__ import annotations

import json
import textwrap

from lrdoctor.engine import Catalogue, Rule
from lrdoctor.engine.vocabulary import REMEDY_KINDS


def _summary(rule: Rule) -> dict:
    return {
        "code": rule.code,
        "name": rule.name,
        "label": rule.label,
        "severity": rule.severity,
        "signal": rule.signal,
        "priority": rule.priority,
        "title": rule.title,
        "condition": rule.condition.text,
        "defers_to": list(rule.defers_to),
        "options": {
            name: {"default": spec.default, "type": spec.type, "help": spec.help}
            for name, spec in rule.options.items()
        },
        "source": rule.source,
    }


def render_catalogue_json(catalogue: Catalogue) -> str:
    return json.dumps({"rules": [_summary(rule) for rule in catalogue]}, indent=2)


def render_catalogue_text(catalogue: Catalogue) -> str:
    rows = [
        [rule.code, rule.name, rule.label, rule.severity, rule.title]
        for rule in sorted(catalogue, key=lambda r: r.code)
    ]
    header = ["CODE", "NAME", "VERDICT", "SEVERITY", "TITLE"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def _paragraphs(text: str) -> str:
    return "\n\n".join(
        textwrap.fill(" ".join(block.split()), width=88)
        for block in text.strip().split("\n\n")
        if block.strip()
    )


def render_page(rule: Rule) -> str:
    """The rule's page in ruff's layout: what it does, why, example, fix, options."""
    page = rule.page
    lines = [
        f"# {rule.name} ({rule.code})",
        "",
        f"Verdict: {rule.label}. Severity: {rule.severity}. Reads: {rule.signal}.",
        "",
        "## What it does",
        _paragraphs(page.what),
        "",
        "## Why is this bad?",
        _paragraphs(page.why),
    ]
    if page.example:
        lines += ["", "## Example", _paragraphs(page.example)]
    lines += ["", "## Fix (in this order)"]
    lines += [
        f"{i}. [{remedy.kind}] {(remedy.fallback or remedy.text).text}"
        for i, remedy in enumerate(
            sorted(rule.remedies, key=lambda r: REMEDY_KINDS.index(r.kind)), start=1
        )
    ]
    lines += ["", "## Condition", f"    {rule.condition.text}"]
    if rule.defers_to:
        lines.append(
            f"Stays quiet when {', '.join(rule.defers_to)} fires: that rule explains the same "
            "evidence better."
        )
    if rule.options:
        lines += ["", "## Options"]
        for name, spec in rule.options.items():
            lines.append(f"- `{name}` ({spec.type}, default {spec.default}): {spec.help}")
    if page.references:
        lines += ["", "## References"]
        lines += [f"- {reference}" for reference in page.references]
    return "\n".join(lines)
