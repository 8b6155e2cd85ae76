"""Every audit report format by name: `--format` choices come from here, not an if/elif chain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lrdoctor.audit import AuditResult
from lrdoctor.engine import Rule
from lrdoctor.plots import Sketch
from lrdoctor.reporters import audit as text_and_json
from lrdoctor.reporters.html import render_html
from lrdoctor.reporters.markdown import render_markdown

Sketches = Mapping[tuple[str, str], Sketch]


@dataclass(frozen=True)
class Reporter:
    """A report format. Plotting formats need each run's sketch (its plot, made while the
    run was in memory); Markdown needs the output file, because its plots go beside it."""

    name: str
    render: Callable[
        [AuditResult, Mapping[tuple[str, str], Sketch], Path | None, Iterable[Rule]], str
    ]
    needs_sketches: bool = False
    needs_output: bool = False


REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (
        Reporter("text", lambda result, *_: text_and_json.render_text(result)),
        Reporter("json", lambda result, *_: text_and_json.render_json(result)),
        Reporter(
            "markdown",
            lambda result, sketches, out, rules: render_markdown(result, sketches, out),
            needs_sketches=True,
            needs_output=True,
        ),
        Reporter(
            "html",
            lambda result, sketches, out, rules: render_html(result, sketches, rules),
            needs_sketches=True,
        ),
    )
}
