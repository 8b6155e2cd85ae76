"""Every audit report format by name: `--format` choices come from here, not an if/elif chain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lrdoctor.audit import AuditResult
from lrdoctor.engine import Rule
from lrdoctor.model import Run
from lrdoctor.reporters import audit as text_and_json
from lrdoctor.reporters.html import render_html
from lrdoctor.reporters.markdown import render_markdown


@dataclass(frozen=True)
class Reporter:
    """A report format. Plotting formats need the runs' curves, not only the diagnoses;
    Markdown needs the output file, because its plots are saved beside it."""

    name: str
    extension: str
    render: Callable[[AuditResult, Sequence[Run], Path | None, Iterable[Rule]], str]
    needs_runs: bool = False
    needs_output: bool = False


REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (
        Reporter(
            "text", ".txt", lambda result, runs, out, rules: text_and_json.render_text(result)
        ),
        Reporter(
            "json", ".json", lambda result, runs, out, rules: text_and_json.render_json(result)
        ),
        Reporter(
            "markdown",
            ".md",
            lambda result, runs, out, rules: render_markdown(result, runs, out),
            needs_runs=True,
            needs_output=True,
        ),
        Reporter(
            "html",
            ".html",
            lambda result, runs, out, rules: render_html(result, runs, rules),
            needs_runs=True,
        ),
    )
}
