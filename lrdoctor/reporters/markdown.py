"""A Markdown post-mortem of an audit, to paste into an issue or a pull request.

Plots are written as PNG files in a folder beside the Markdown file and linked by relative
paths, so the folder can be committed or attached as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from pathlib import Path
from urllib.parse import quote

from lrdoctor.audit import AuditResult
from lrdoctor.plots import Sketch, figure_png, plot_overview, sketch_pairs
from lrdoctor.reporters.audit import sweep_members
from lrdoctor.reporters.escaping import printable
from lrdoctor.reporters.wording import GENERAL_CHECK

# Characters that start emphasis, code, links or table cells anywhere in a line.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def _text(value: object) -> str:
    """Log text shown as itself on one line: control characters escaped (a newline would end
    a table row), Markdown punctuation and HTML tags neutralised."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escape(printable(value), quote=False))


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _file_stem(index: int, name: str) -> str:
    slug = _UNSAFE_FILE_CHARACTERS.sub("-", name).strip("-.")[:60]
    return f"{index:03d}-{slug or 'run'}"


def plots_folder(out_path: Path) -> Path:
    """Where the plots of the report at `out_path` go: `<stem>-plots/` beside it."""
    return out_path.parent / f"{out_path.stem}-plots"


def _finding_lines(finding: dict) -> list[str]:
    steps = finding["steps"]
    where = f" at steps {steps[0]}..{steps[1]}" if steps else ""
    lines = [
        "",
        f"#### {_text(finding['rule'])} {_text(finding['name'])} "
        f"({_text(finding['severity'])}, confidence {finding['confidence']:.2f}){where}",
        "",
        _text(finding["message"]),
        "",
        "| evidence | value |",
        "| --- | --- |",
    ]
    lines += [
        f"| {_text(name)} | {_text(_number(value))} |"
        for name, value in finding["evidence"].items()
    ]
    lines += ["", "Remedies, in order:", ""]
    lines += [
        f"{i}. {_text(text)}{GENERAL_CHECK[basis]}"
        for i, (text, basis) in enumerate(
            zip(finding["remedies"], finding["remedy_basis"], strict=True), start=1
        )
    ]
    return lines


def render_markdown(
    result: AuditResult, sketches: Mapping[tuple[str, str], Sketch], out_path: Path
) -> str:
    """The post-mortem text for `out_path`; writes its plots into `plots_folder(out_path)`.

    `sketches` (see `lrdoctor.plots.sketch`) hold each run's plot, keyed by (name, source).

    The caller writes the returned text to `out_path`, so links resolve from there.
    """
    out_path = Path(out_path)
    folder = plots_folder(out_path)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = sketch_pairs(result.diagnoses, sketches)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in result.by_diagnosis().items())
    lines = ["# lrdoctor audit", "", f"{len(pairs)} runs: {counts or 'none'}."]
    lines += [f"\n> {_text(problem)}" for problem in result.problems]
    if len(pairs) > 1:
        thumbnails = [(diagnosis, found.thumbnail if found else None) for diagnosis, found in pairs]
        (folder / "overview.png").write_bytes(figure_png(plot_overview(thumbnails), dpi=72))
        lines += ["", f"![overview of all runs]({quote(folder.name)}/overview.png)"]
    lines += ["", "| run | verdict | confidence | top finding |", "| --- | --- | --- | --- |"]
    for diagnosis, _ in pairs:
        top = diagnosis.findings[0] if diagnosis.findings else None
        finding = f"{top.code} {top.name}" if top else ""
        lines.append(
            f"| {_text(diagnosis.name)} | {diagnosis.verdict} | {diagnosis.confidence:.2f} "
            f"| {finding} |"
        )
    sweeps = sweep_members(result)
    if sweeps:
        lines += [
            "",
            "## LR sweeps",
            "",
            "Runs that share everything but the LR; `lrdoctor sweep` recommends an LR from each.",
        ]
    for name, runs in sweeps:
        lines += ["", f"### {_text(name)}", "", "| LR | run | verdict |", "| --- | --- | --- |"]
        lines += [f"| {lr} | {_text(run)} | {verdict} |" for lr, run, verdict in runs]
    for index, (diagnosis, found) in enumerate(pairs, start=1):
        entry = diagnosis.to_dict()
        signals = ", ".join(f"{role} = {tag}" for role, tag in entry["signals"].items())
        lines += [
            "",
            f"## {_text(entry['name'])}",
            "",
            f"**{entry['diagnosis']}** (confidence {entry['confidence']:.2f}); "
            f"{_text(entry['format'])}, {_text(entry['source'])}",
            "",
            f"Signals: {_text(signals or 'none')}",
        ]
        lines += [f"\n> warning: {_text(warning)}" for warning in entry["warnings"]]
        if found is not None:
            png_name = f"{_file_stem(index, diagnosis.name)}.png"
            (folder / png_name).write_bytes(found.png)
            link = f"{quote(folder.name)}/{png_name}"
            lines += ["", f"![curves of {_text(entry['name'])}]({link})"]
        if entry["findings"]:
            lines += ["", "### Evidence"]
        for finding in entry["findings"]:
            lines += _finding_lines(finding)
    return "\n".join(lines) + "\n"
