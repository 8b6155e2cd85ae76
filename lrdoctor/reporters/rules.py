"""Render the rule catalogue (`lrdoctor rules`) and rule pages (`lrdoctor explain`).

A page comes as text for the terminal, JSON for tools and Markdown; the Markdown of every
built-in rule is `docs/rules.md`, which a test keeps equal to what this module writes now.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from pathlib import PurePath

from lrdoctor.engine import Catalogue, Rule
from lrdoctor.engine.vocabulary import remedies_in_order

DOCS_COMMAND = "lrdoctor explain --all --format markdown > docs/rules.md"
"""How docs/rules.md is written; the page says so, and so does the test that checks it."""


_SUMMARY_KEYS = ("code", "name", "label", "severity", "signal", "priority", "title")
_SUMMARY_OPTION_KEYS = ("default", "type", "help")


def _summary(rule: Rule) -> dict:
    """The `rules --format json` entry: the page's identity, condition and options, without
    the page text and remedies `explain` gives."""
    page = page_dict(rule)
    return {
        **{key: page[key] for key in _SUMMARY_KEYS},
        "condition": page["condition"],
        "defers_to": page["defers_to"],
        "options": {
            name: {key: option[key] for key in _SUMMARY_OPTION_KEYS}
            for name, option in page["options"].items()
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
        for i, remedy in enumerate(remedies_in_order(rule.remedies), start=1)
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


def render_pages_text(rules: list[Rule]) -> str:
    return "\n\n\n".join(render_page(rule) for rule in rules)


def page_dict(rule: Rule) -> dict:
    """Everything a rule file says, checked, for tools: the `explain --format json` entry."""
    return {
        "code": rule.code,
        "name": rule.name,
        "label": rule.label,
        "title": rule.title,
        "severity": rule.severity,
        "signal": rule.signal,
        "priority": rule.priority,
        "condition": rule.condition.text,
        "confidence": rule.confidence.text,
        "defers_to": list(rule.defers_to),
        "options": {
            name: {
                "type": spec.type,
                "default": spec.default,
                "min": spec.minimum,
                "max": spec.maximum,
                "help": spec.help,
            }
            for name, spec in rule.options.items()
        },
        "page": {
            "what": " ".join(rule.page.what.split()),
            "why": " ".join(rule.page.why.split()),
            "example": rule.page.example,
            "references": list(rule.page.references),
        },
        "remedies": [
            {
                "kind": remedy.kind,
                "text": remedy.text.text,
                "needs": list(remedy.needs),
                "fallback": remedy.fallback.text if remedy.fallback else None,
            }
            for remedy in remedies_in_order(rule.remedies)
        ],
        "source": rule.source,
    }


def render_pages_json(rules: list[Rule]) -> str:
    """One rule's page as an object; several as `{"rules": [...]}`."""
    pages = [page_dict(rule) for rule in rules]
    return json.dumps(pages[0] if len(pages) == 1 else {"rules": pages}, indent=2)


def _cell(text: object) -> str:
    """A Markdown table cell: a `|` would end the cell, a newline the row."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: object) -> str:
    return f"`{_cell(text)}`"


def render_page_markdown(rule: Rule) -> str:
    """One rule as a section of `docs/rules.md`: its fields, page, remedies and options."""
    page = rule.page
    facts = [
        ("Verdict", _code(rule.label)),
        ("Severity", rule.severity),
        ("Signal", _code(rule.signal)),
        ("Priority", str(rule.priority)),
        ("Condition", _code(rule.condition.text)),
    ]
    if rule.defers_to:
        facts.append(("Stays quiet when these fire", ", ".join(map(_code, rule.defers_to))))
    facts.append(("File", _code(PurePath(rule.source).name)))
    lines = [f"## {rule.code} {rule.name}", "", f"{rule.title}.", "", "| | |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in facts]
    lines += ["", "### What it does", "", " ".join(page.what.split())]
    lines += ["", "### Why is this bad?", "", " ".join(page.why.split())]
    if page.example:
        lines += ["", "### Example", "", " ".join(page.example.split())]
    lines += ["", "### Remedies, in the order reports show them", ""]
    for number, remedy in enumerate(remedies_in_order(rule.remedies), start=1):
        lines.append(f"{number}. *{remedy.kind}*: {' '.join(remedy.text.text.split())}")
        if remedy.fallback is not None:
            unknown = [f"`{name}`" for name in remedy.text.fields if name not in rule.options]
            when = f"When {' or '.join(unknown)} is unknown" if unknown else "Otherwise"
            lines.append(f"   {when}: {' '.join(remedy.fallback.text.split())}")
    if rule.options:
        lines += ["", "### Options", "", "| option | type | default | range | meaning |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for name, spec in rule.options.items():
            low = "" if spec.minimum is None else spec.minimum
            high = "" if spec.maximum is None else spec.maximum
            span = f"{low}..{high}" if (low, high) != ("", "") else ""
            lines.append(
                f"| {_code(name)} | {spec.type} | {_code(spec.default)} | {span} | "
                f"{_cell(spec.help)} |"
            )
    if page.references:
        lines += ["", "### References", ""]
        lines += [f"- {reference}" for reference in page.references]
    return "\n".join(lines)


def _anchor(rule: Rule) -> str:
    """GitHub's anchor for the rule's `## CODE name` heading."""
    return f"#{rule.code.lower()}-{rule.name}"


def render_rules_markdown(rules: Iterable[Rule]) -> str:
    """The rule reference: an index of every rule, then each rule's section."""
    lines = [
        "# Rule reference",
        "",
        f"Written from the rule files by `{DOCS_COMMAND}`: do not edit it by hand.",
        "",
        "`rules/README.md` explains the rule format; `lrdoctor features` lists the names a "
        "condition may use.",
        "",
        "| code | name | verdict | severity | title |",
        "| --- | --- | --- | --- | --- |",
    ]
    rules = list(rules)
    lines += [
        f"| [{rule.code}]({_anchor(rule)}) | {rule.name} | {_code(rule.label)} | "
        f"{rule.severity} | {_cell(rule.title)} |"
        for rule in rules
    ]
    for rule in rules:
        lines += ["", render_page_markdown(rule)]
    return "\n".join(lines)


def render_pages(rules: list[Rule], output_format: str, as_document: bool = False) -> str:
    """What `lrdoctor explain` prints: `as_document` (for `--all`) makes the Markdown a
    whole reference with an index, as docs/rules.md is, rather than one section per rule."""
    if output_format == "json":
        return render_pages_json(rules)
    if output_format == "markdown":
        if as_document:
            return render_rules_markdown(rules)
        return "\n\n".join(render_page_markdown(rule) for rule in rules)
    return render_pages_text(rules)
