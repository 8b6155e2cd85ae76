"""Every audit report format by name: `--format` choices come from here, not an if/elif chain.

Renderers import their modules when called, so listing the formats (building the CLI) loads
neither the audit stack nor matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lrdoctor.audit import AuditResult
    from lrdoctor.engine import Rule
    from lrdoctor.plots import Sketch


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


def _text(result, *_) -> str:
    from lrdoctor.reporters.audit import render_text

    return render_text(result)


def _json(result, *_) -> str:
    from lrdoctor.reporters.audit import render_json

    return render_json(result)


def _markdown(result, sketches, out, rules) -> str:
    from lrdoctor.reporters.markdown import render_markdown

    return render_markdown(result, sketches, out)


def _html(result, sketches, out, rules) -> str:
    from lrdoctor.reporters.html import render_html

    return render_html(result, sketches, rules)


REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (
        Reporter("text", _text),
        Reporter("json", _json),
        Reporter("markdown", _markdown, needs_sketches=True, needs_output=True),
        Reporter("html", _html, needs_sketches=True),
    )
}
