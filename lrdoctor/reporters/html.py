"""One self-contained HTML report of an audit: an index of runs, then each run in full.

Everything is inline (plots as PNG data URIs, CSS, a few lines of vanilla JS), so the file
opens offline and can be attached to a ticket. Every string that came from the logs is
escaped; the data the script needs is a JSON block with `<`, `>` and `&` escaped, never
markup built from log text.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from html import escape

from lrdoctor import __version__
from lrdoctor.audit import AuditResult
from lrdoctor.diagnosis import Doctor
from lrdoctor.engine import Rule
from lrdoctor.engine.vocabulary import VERDICT_ORDER
from lrdoctor.plots import VERDICT_COLOURS, Sketch, figure_png, plot_overview, sketch_pairs
from lrdoctor.reporters.rules import render_page
from lrdoctor.reporters.wording import GENERAL_CHECK

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 1.5em;
 color:#212121}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:0 0 .3em;word-break:break-all}
table{border-collapse:collapse}
th,td{padding:.25em .6em;border-bottom:1px solid #e0e0e0;text-align:left}
#index th[data-sort]{cursor:pointer;user-select:none}
#index th[data-sort]:hover{text-decoration:underline}
#index{width:100%}#index td{white-space:nowrap}
#index td.name{white-space:normal;word-break:break-all;min-width:14em}
#index td.params{max-width:0;width:24%;overflow:hidden;text-overflow:ellipsis;color:#616161;
 font-size:.9em}
.badge{color:#fff;border-radius:3px;padding:0 .45em;font-size:.9em;white-space:nowrap}
.controls{margin:.8em 0;display:flex;gap:.6em}.controls input{flex:1;padding:.3em}
section.run{border-top:2px solid #eeeeee;margin-top:1.5em;padding-top:1em}
.meta{color:#616161;font-size:.9em;word-break:break-all}
.finding{margin:.8em 0;padding:.4em .8em;border-left:4px solid #d84315;background:#fafafa}
.evidence td:first-child{font-family:monospace}
img.plot{max-width:100%;height:auto}
pre{white-space:pre-wrap;background:#f5f5f5;padding:.6em;font-size:.85em}
.warning{color:#8d6e63}
"""

_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('lrdoctor-data').textContent);
  var table = document.getElementById('index');
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var keys = {
    name: function (run) { return run.name.toLowerCase(); },
    verdict: function (run) { return data.verdict_order.indexOf(run.diagnosis); },
    confidence: function (run) { return -run.confidence; }
  };
  var ascending = true, lastKey = null;
  function entry(row) { return data.runs[Number(row.dataset.index)]; }
  table.querySelectorAll('th[data-sort]').forEach(function (header) {
    header.addEventListener('click', function () {
      var key = keys[header.dataset.sort];
      ascending = lastKey === header.dataset.sort ? !ascending : true;
      lastKey = header.dataset.sort;
      rows.sort(function (a, b) {
        var x = key(entry(a)), y = key(entry(b));
        return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  var text = document.getElementById('filter-text');
  var verdict = document.getElementById('filter-verdict');
  function filter() {
    var needle = text.value.toLowerCase();
    rows.forEach(function (row) {
      var run = entry(row);
      var shown = (!verdict.value || run.diagnosis === verdict.value) &&
        (run.name + ' ' + run.diagnosis + ' ' + run.format).toLowerCase().indexOf(needle) >= 0;
      row.hidden = !shown;
    });
  }
  text.addEventListener('input', filter);
  verdict.addEventListener('change', filter);
  document.body.dataset.indexRows = String(rows.length);
  window.addEventListener('load', function () {
    var loaded = Array.prototype.filter.call(document.images, function (image) {
      return image.complete && image.naturalWidth > 0;
    });
    document.body.dataset.imagesLoaded = String(loaded.length);
  });
})();
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _json_for_script(data: dict) -> str:
    """JSON safe inside a <script> element: no `</script>`, no `<!--`, no entity surprises."""
    text = json.dumps(data, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _image(png: bytes, alt: str, css_class: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img class="{css_class}" alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def _badge(verdict: str, text: str | None = None) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#000000")
    return f'<span class="badge" style="background:{colour}">{escape(text or verdict)}</span>'


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


PARAMS_SHOWN = 40
"""Characters of a run's hyper-parameters shown in the index: the table fits the page."""


def _params_cell(params: dict) -> str:
    """The run's hyper-parameters, cut to a line (the whole list on hover), so the runs of a
    sweep can be told apart and filtered by, say, "lr=0.01"."""
    text = ", ".join(f"{key}={value}" for key, value in params.items())
    shown = text if len(text) <= PARAMS_SHOWN else text[: PARAMS_SHOWN - 1] + "\u2026"
    return f'<td class="params" title="{escape(text)}">{escape(shown)}</td>'


def _index(entries: list[dict]) -> str:
    verdicts = [v for v in VERDICT_ORDER if any(e["diagnosis"] == v for e in entries)]
    options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in verdicts)
    rows = []
    for index, entry in enumerate(entries):
        top = entry["findings"][0] if entry["findings"] else None
        steps = top["steps"] if top else None
        rows.append(
            f'<tr data-index="{index}">'
            f'<td class="name"><a href="#run-{index}">{escape(entry["name"])}</a></td>'
            f"<td>{escape(entry['format'])}</td>"
            f"<td>{_badge(entry['diagnosis'])}</td>"
            f"<td>{entry['confidence']:.2f}</td>"
            f"<td>{escape(top['rule'] + ' ' + top['name']) if top else ''}</td>"
            f"<td>{f'{steps[0]}..{steps[1]}' if steps else ''}</td>"
            f"{_params_cell(entry['params'])}</tr>"
        )
    return (
        '<div class="controls">'
        '<input id="filter-text" type="search"'
        ' placeholder="filter runs by name, verdict, format, hyper-parameter"'
        ' aria-label="filter runs">'
        '<select id="filter-verdict" aria-label="verdict"><option value="">all verdicts</option>'
        f"{options}</select></div>"
        '<table id="index"><thead><tr><th data-sort="name">run</th><th>format</th>'
        '<th data-sort="verdict">verdict</th><th data-sort="confidence">confidence</th>'
        "<th>top finding</th><th>steps</th><th>hyper-parameters</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _finding(finding: dict, rule: Rule | None) -> str:
    steps = finding["steps"]
    where = f" at steps {steps[0]}..{steps[1]}" if steps else ""
    evidence = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(_number(value))}</td></tr>"
        for name, value in finding["evidence"].items()
    )
    remedies = "".join(
        f"<li>{escape(text + GENERAL_CHECK[basis])}</li>"
        for text, basis in zip(finding["remedies"], finding["remedy_basis"], strict=True)
    )
    page = (
        f"<details><summary>rule page: {escape(rule.code)} {escape(rule.name)}</summary>"
        f"<pre>{escape(render_page(rule))}</pre></details>"
        if rule is not None
        else ""
    )
    return (
        '<div class="finding">'
        f"<strong>{escape(finding['rule'])} {escape(finding['name'])}</strong> "
        f"[{escape(finding['severity'])}, confidence {finding['confidence']:.2f}] on "
        f"{escape(finding['signal'])}{where}"
        f"<p>{escape(finding['message'])}</p>"
        f'<table class="evidence"><tbody>{evidence}</tbody></table>'
        f"<p>Remedies, in order:</p><ol>{remedies}</ol>{page}</div>"
    )


def _section(index: int, entry: dict, plot: bytes | None, rules: dict[str, Rule]) -> str:
    signals = ", ".join(f"{role} = {tag}" for role, tag in entry["signals"].items()) or "none"
    image = _image(plot, f"curves of {entry['name']}", "plot") if plot else ""
    findings = "".join(_finding(f, rules.get(f["rule"])) for f in entry["findings"])
    warnings = "".join(f'<p class="warning">{escape(w)}</p>' for w in entry["warnings"])
    return (
        f'<section class="run" id="run-{index}"><h2>{escape(entry["name"])}</h2>'
        f"<p>{_badge(entry['diagnosis'])} confidence {entry['confidence']:.2f}</p>"
        f'<p class="meta">{escape(entry["format"])}, {escape(entry["source"])}<br>'
        f"signals: {escape(signals)}</p>{warnings}{image}{findings}"
        '<p><a href="#index">back to the index</a></p></section>'
    )


def render_html(
    result: AuditResult,
    sketches: Mapping[tuple[str, str], Sketch],
    rules: Iterable[Rule] | None = None,
) -> str:
    """The audit as one self-contained HTML page, with a plot of each run that could be read.

    `sketches` (see `lrdoctor.plots.sketch`) hold each run's plot, keyed by (name, source).
    `rules` are the rules whose pages the report shows (default: the built-in catalogue).
    """
    pairs = sketch_pairs(result.diagnoses, sketches)
    entries = [diagnosis.to_dict() for diagnosis, _ in pairs]
    by_code = {rule.code: rule for rule in (rules if rules is not None else Doctor().catalogue)}
    plots = [found.png if found else None for _, found in pairs]
    thumbnails = [(diagnosis, found.thumbnail if found else None) for diagnosis, found in pairs]
    overview = (
        _image(figure_png(plot_overview(thumbnails), dpi=72), "overview of all runs", "plot")
        if len(pairs) > 1
        else ""
    )
    counts = " ".join(
        _badge(verdict, f"{n} {verdict}") for verdict, n in result.by_diagnosis().items()
    )
    problems = "".join(f'<p class="warning">{escape(str(p))}</p>' for p in result.problems)
    data = {
        "verdict_order": list(VERDICT_ORDER),
        "runs": [
            {key: e[key] for key in ("name", "format", "diagnosis", "confidence")} for e in entries
        ],
    }
    sections = "".join(
        _section(index, entry, plot, by_code)
        for index, (entry, plot) in enumerate(zip(entries, plots, strict=True))
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>lrdoctor audit: {len(entries)} runs</title><style>{_STYLE}</style></head>"
        f"<body><h1>lrdoctor audit</h1><p>{len(entries)} runs: {counts}. "
        f"lrdoctor {escape(__version__)}.</p>{problems}{overview}"
        f"{_index(entries)}{sections}"
        f'<script type="application/json" id="lrdoctor-data">{_json_for_script(data)}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
