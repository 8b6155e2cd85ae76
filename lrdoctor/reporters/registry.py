"""Every audit report format by name: `--format` choices come from here, not an if/elif chain.

Renderers import their modules when called, so listing the formats (building the CLI) loads
neither the audit stack nor matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lrdoctor.audit import AuditResult
    from lrdoctor.diagnosis import Diagnosis
    from lrdoctor.model import Run


@dataclass(frozen=True)
class Reporter:
    """A report format: `render(result, output)` gives its text. Plotting formats `collect`
    what they draw of each run while it is in memory (Markdown its plot, HTML its thinned
    curves; see `lrdoctor.audit`), found in `result.collected`; Markdown needs the output
    file, because its plots go beside it."""

    name: str
    render: Callable[[AuditResult, Path | None], str]
    collect: Callable[[Run, Diagnosis], object] | None = None
    needs_output: bool = False
    line: Callable[[Diagnosis], str] | None = None
    """Streaming formats: one run's line, written as soon as the run is judged."""


def _text(result, *_) -> str:
    from lrdoctor.reporters.audit import render_text

    return render_text(result)


def _json(result, *_) -> str:
    from lrdoctor.reporters.audit import render_json

    return render_json(result)


def _sketch(run, diagnosis):
    """`lrdoctor.plots.sketch`, imported in the process that draws (an audit's worker)."""
    from lrdoctor.plots import sketch

    return sketch(run, diagnosis)


def _curves(run, diagnosis):
    """`lrdoctor.reporters.curves.collect_curves`, imported in the audit's worker."""
    from lrdoctor.reporters.curves import collect_curves

    return collect_curves(run, diagnosis)


def _markdown(result, out) -> str:
    from lrdoctor.reporters.markdown import render_markdown

    return render_markdown(result, result.collected, out)


def _html(result, out) -> str:
    from lrdoctor.reporters.html import render_html

    return render_html(result, result.collected, result.catalogue)


def _csv(result, *_) -> str:
    from lrdoctor.reporters.pasteable import render_csv

    return render_csv(result).rstrip("\n")


def _csv_per_finding(result, *_) -> str:
    from lrdoctor.reporters.pasteable import render_csv

    return render_csv(result, per_finding=True).rstrip("\n")


def _github(result, *_) -> str:
    """Annotation lines for the workflow log; the Markdown summary goes to the file GitHub
    names in $GITHUB_STEP_SUMMARY (appended, as every step shares it), else after them."""
    import os

    from lrdoctor.reporters.pasteable import render_github_annotations, render_github_summary

    annotations = render_github_annotations(result)
    summary = render_github_summary(result)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary_file:
        return "\n\n".join(part for part in (annotations, summary.rstrip()) if part)
    with open(summary_file, "a", encoding="utf-8") as out:
        out.write(summary)
    return annotations


def _jsonl_line(diagnosis) -> str:
    """A run entry of lrdoctor.audit/1 on one line, for `jq` or a log shipper."""
    import json

    return json.dumps(diagnosis.to_dict(), allow_nan=False, separators=(",", ":"))


def _jsonl(result, *_) -> str:
    return "\n".join(_jsonl_line(diagnosis) for diagnosis in result.diagnoses)


def _summary(result, *_) -> str:
    from lrdoctor.reporters.pasteable import render_summary

    return render_summary(result)


REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (
        Reporter("text", _text),
        Reporter("json", _json),
        Reporter("markdown", _markdown, collect=_sketch, needs_output=True),
        Reporter("html", _html, collect=_curves),
        Reporter("csv", _csv),
        Reporter("github", _github),
        Reporter("summary", _summary),
        Reporter("jsonl", _jsonl, line=_jsonl_line),
    )
}
CSV_PER_FINDING = Reporter("csv", _csv_per_finding)
"""`--format csv --per-finding`: a row per finding instead of per run."""
