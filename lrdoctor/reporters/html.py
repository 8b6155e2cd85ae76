"""One self-contained, interactive HTML report of an audit: an index of runs, then each run.

The page comes from Jinja2 templates with autoescaping (`templates/`), so every string from
the logs is escaped where it is written. The curves are data, not pictures: each run's thinned
curves (`lrdoctor.reporters.curves`) are one JSON document, gzip-compressed and
base64-encoded into the page (gzip makes the JSON of the curves about 3.5 times smaller), and
drawn by uPlot (MIT, vendored in `vendor/` with its licence) with zoom, hover values, a
log/linear switch, TensorBoard's smoothing and the findings marked where they happen.

The index's rows and the text of the runs' sections are rendered here by the same
autoescaped templates (`index_rows.html.j2`, `run_sections.html.j2`) and packed the same way:
their markup repeats itself from run to run and gzip makes it about 13 times smaller (the
1,308 runs of sample_logs: 3.9 MB of rows and sections, 0.4 MB packed), so its page stays
well under its 6 MB budget. The page itself holds each section's shell (its id, the run's
name, its charts' placeholder) and lists the runs' reader warnings; its script unpacks the
rest with the browser's `DecompressionStream` and puts it in place before it wires up the
charts, the anchors and the controls. Everything is inline: the file opens offline and loads
nothing.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.resources import files
from pathlib import PurePosixPath

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from lrdoctor import __version__
from lrdoctor.audit import AuditResult
from lrdoctor.engine import Rule, load_catalogue
from lrdoctor.engine.vocabulary import VERDICT_ORDER
from lrdoctor.plots import EVENT_FINDINGS, LOG_SCALE_RATIO, VERDICT_COLOURS
from lrdoctor.reporters.audit import worst_first
from lrdoctor.reporters.curves import RunCurves
from lrdoctor.reporters.rules import render_page
from lrdoctor.reporters.wording import GENERAL_CHECK

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
"""Nothing from the network, ever: inline styles and scripts only."""

PARAMS_SHOWN = 40
"""Characters of a run's hyper-parameters shown in the index: the table fits the page."""

ROLE_TITLES = {
    "train_loss": "train loss",
    "val_loss": "val loss",
    "grad_norm": "gradient norm",
    "lr": "learning rate",
}


def packed_text(text: str) -> Markup:
    """Text, gzip-compressed and base64-encoded, which the browser unpacks with
    `DecompressionStream`. Base64 holds no markup character, so it is safe in a <script>."""
    # Level 6: a quarter of level 9's time for 1% more bytes (859 sample runs: 0.24 s, 0.93 s).
    packed = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)
    return Markup(base64.b64encode(packed).decode("ascii"))


def packed_json(data: object) -> Markup:
    """JSON (no NaN), packed as `packed_text`: the page's data and curves."""
    return packed_text(json.dumps(data, allow_nan=False, separators=(",", ":")))


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("lrdoctor.reporters", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _asset(folder: str, name: str) -> Markup:
    """A vendored or own script or style sheet, inlined as it is (they are ours, not log
    text); a file that could end its element early is refused."""
    text = files("lrdoctor.reporters").joinpath(folder, name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"{folder}/{name} would close its element early")
    return Markup(text)


def _rounded(value: float | None) -> float | None:
    """A loss for the script to sort by: 5 digits; None when missing or not finite."""
    return None if value is None or not math.isfinite(value) else float(f"{value:.5g}")


@cache
def _uplot() -> Markup:
    """uPlot with its MIT licence in front of it, as the licence asks of every copy."""
    licence = files("lrdoctor.reporters").joinpath("vendor", "uPlot.LICENSE").read_text("utf-8")
    return Markup(f"/*\n{licence.replace('*/', '* /')}*/\n") + _asset("vendor", "uPlot.iife.min.js")


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _params_text(params: Mapping[str, str]) -> tuple[str, str]:
    """The whole key=value list and what fits the index cell."""
    text = ", ".join(f"{key}={value}" for key, value in params.items())
    shown = text if len(text) <= PARAMS_SHOWN else text[: PARAMS_SHOWN - 1] + "\u2026"
    return text, shown


def _location(entry: dict) -> PurePosixPath:
    """The run's own folder or file (an MLflow run: its id under the store)."""
    source = entry["source"].replace("\\", "/")
    if entry["format"].startswith("mlflow") or "://" in source:
        store, _, run = source.partition("#")
        return PurePosixPath(store) / (run or entry["name"])
    path = PurePosixPath(source)
    last = PurePosixPath(entry["name"]).name
    # A run folder's log file (metrics.csv), or a Trainer's checkpoint-N/trainer_state.json.
    return next((p for p in (path, path.parent, path.parent.parent) if p.name == last), path)


def folders(entries: list[dict]) -> list[str]:
    """Each run's folder, for grouping: the nearest folder above the run that holds other
    runs too (so `lightning_logs/<name>/version_0` groups under `lightning_logs`), as
    `lrdoctor sweep` finds its containers; an MLflow store for its runs."""
    locations = [_location(entry) for entry in entries]
    counts = Counter(parent for location in locations for parent in location.parents)
    return [
        str(next((p for p in location.parents if counts[p] >= 2), location.parent))
        for location in locations
    ]


def _mark_kind(finding: dict, first_step: int | None) -> str | None:
    """How a finding is drawn: a line at its step (an event), a shaded window, or nothing
    when its window is the whole run (the chart's title names it)."""
    if finding["steps"] is None:
        return None
    if finding["name"] in EVENT_FINDINGS:
        return "event"
    if first_step is not None and finding["steps"][0] <= first_step:
        return None
    return "window"


def _run_view(
    index: int, entry: dict, folder: str, curves: RunCurves | None, paged: set[str]
) -> dict:
    """What the template and the script need of one run."""
    first_step = None
    if curves is not None and "train_loss" in curves.curves and curves.curves["train_loss"].steps:
        first_step = curves.curves["train_loss"].steps[0]
    params_text, params_shown = _params_text(entry["params"])
    findings = []
    marks = []
    for finding in entry["findings"]:
        kind = _mark_kind(finding, first_step)
        findings.append(
            {
                **finding,
                "evidence_rows": [(k, _number(v)) for k, v in finding["evidence"].items()],
                "remedy_texts": [
                    text + GENERAL_CHECK[basis]
                    for text, basis in zip(
                        finding["remedies"], finding["remedy_basis"], strict=True
                    )
                ],
                "has_page": finding["rule"] in paged,
            }
        )
        if finding["steps"] is not None:
            start, end = finding["steps"]
            marks.append(
                {
                    "code": finding["rule"],
                    "name": finding["name"],
                    "signal": finding["signal"],
                    "start": start,
                    "end": end,
                    "kind": kind or "run",
                }
            )
    top = entry["findings"][0] if entry["findings"] else None
    return {
        "index": index,
        "entry": entry,
        "colour": VERDICT_COLOURS.get(entry["diagnosis"], "#000000"),
        "signals": ", ".join(f"{role} = {tag}" for role, tag in entry["signals"].items()) or "none",
        "findings": findings,
        "top": top,
        "params_text": params_text,
        "params_shown": params_shown,
        "final_loss": curves.final_loss if curves else None,
        "best_loss": curves.best_loss if curves else None,
        "folder": folder,
        "experiment": curves.experiment if curves else "",
        "marks": marks,
        "points": {role: c.points for role, c in curves.curves.items()} if curves else {},
        "drawn": {role: len(c.steps) for role, c in curves.curves.items()} if curves else {},
    }


def _script_entry(view: dict) -> dict:
    """A run as the page's script sees it: what it sorts, groups and marks by (the filter
    reads the index row's own text)."""
    entry = view["entry"]
    top = view["top"]
    return {
        "name": entry["name"],
        "format": entry["format"],
        "diagnosis": entry["diagnosis"],
        "confidence": entry["confidence"],
        "final_loss": _rounded(view["final_loss"]),
        "best_loss": _rounded(view["best_loss"]),
        "top": f"{top['rule']} {top['name']}" if top else "",
        "folder": view["folder"],
        "experiment": view["experiment"],
        "sweep": view["entry"].get("sweep", ""),
        "marks": view["marks"],
    }


def render_html(
    result: AuditResult,
    curves: Mapping[tuple[str, str], RunCurves],
    rules: Iterable[Rule] | None = None,
) -> str:
    """The audit as one self-contained, interactive HTML page.

    `curves` (see `lrdoctor.reporters.curves.collect_curves`, which `lrdoctor audit --format
    html` collects in its workers) hold each readable run's curves, keyed by (name, source).
    `rules` are the rules whose pages the report shows (default: the built-in catalogue).
    """
    catalogue = list(rules if rules is not None else load_catalogue())
    entries = worst_first(result)
    fired = {f["rule"] for e in entries for f in e["findings"]}
    pages = [(rule, render_page(rule)) for rule in catalogue if rule.code in fired]
    paged = {rule.code for rule, _ in pages}
    views = [
        _run_view(index, entry, folder, curves.get((entry["name"], entry["source"])), paged)
        for index, (entry, folder) in enumerate(zip(entries, folders(entries), strict=True))
    ]
    counts = Counter(e["diagnosis"] for e in entries)
    data = {
        "verdict_order": list(VERDICT_ORDER),
        "log_ratio": LOG_SCALE_RATIO,
        "colours": VERDICT_COLOURS,
        "runs": [_script_entry(view) for view in views],
    }
    packed = [
        (
            {role: c.to_dict() for role, c in found.curves.items()}
            if (found := curves.get((e["name"], e["source"]))) is not None
            else None
        )
        for e in entries
    ]
    environment = _environment()
    parts = {"runs": views, "role_titles": ROLE_TITLES}
    return environment.get_template("report.html.j2").render(
        csp=CSP,
        version=__version__,
        runs=views,
        counts=[
            (v, counts[v], VERDICT_COLOURS.get(v, "#000000")) for v in VERDICT_ORDER if counts[v]
        ],
        verdicts=[v for v in VERDICT_ORDER if counts[v]],
        problems=[str(p) for p in result.problems],
        pages=pages,
        experiments=any(view["experiment"] for view in views),
        sweeps=any(entry.get("sweep") for entry in entries),
        role_titles=ROLE_TITLES,
        warned=[view for view in views if view["entry"]["warnings"]],
        data=packed_json(data),
        index_rows=packed_text(environment.get_template("index_rows.html.j2").render(parts)),
        sections=packed_text(environment.get_template("run_sections.html.j2").render(parts)),
        curves=packed_json(packed),
        uplot_css=_asset("vendor", "uPlot.min.css"),
        uplot_js=_uplot(),
        report_css=_asset("templates", "report.css"),
        report_js=_asset("templates", "report.js"),
    )
