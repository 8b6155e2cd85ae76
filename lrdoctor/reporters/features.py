"""`lrdoctor features`: every name a rule condition may use, what it means and where from.

A rule author needs the vocabulary the loader accepts (`known_features()`), not the source
code: each feature's docstring says what it measures, and the derived names (`val_`, `has_`,
across-signal features, run facts) say which curve or record they come from.
"""

from __future__ import annotations

import inspect
import json
import textwrap
from dataclasses import asdict, dataclass

from lrdoctor.features import (
    ACROSS,
    FEATURES,
    HAS_PREFIX,
    MIN_POINTS,
    OPTIONAL_SIGNALS,
    RUN_FACTS,
    VAL_PREFIX,
    known_features,
    run_facts,
)

KINDS = {
    "feature": "Measured on one curve. A rule reads those of its own signal; the grad_* and lr_* "
    "ones every rule reads.",
    "across": "Measured across two curves of the run; unknown unless both have enough points.",
    "presence": "Whether a curve was logged: every rule reads these.",
    "run fact": "Read from the run's params, not from a curve: every rule reads these.",
    "validation": "A validation-loss feature under the val_ prefix: every rule reads these.",
}
"""Where a name comes from, in the order `lrdoctor features` lists them."""


@dataclass(frozen=True)
class FeatureDoc:
    name: str
    kind: str
    signals: tuple[str, ...]
    """The curves it is measured on; empty for a run fact."""
    doc: str


def _first_paragraph(docstring: str | None) -> str:
    return " ".join(inspect.cleandoc(docstring or "").split("\n\n")[0].split())


def _describe(name: str) -> FeatureDoc:
    if name in FEATURES:
        spec = FEATURES[name]
        return FeatureDoc(name, "feature", spec.signals, _first_paragraph(spec.function.__doc__))
    if name in ACROSS:
        spec = ACROSS[name]
        return FeatureDoc(name, "across", spec.signals, _first_paragraph(spec.function.__doc__))
    if name in RUN_FACTS:
        return FeatureDoc(name, "run fact", (), _first_paragraph(run_facts.__doc__))
    if name.startswith(HAS_PREFIX) and name[len(HAS_PREFIX) :] in OPTIONAL_SIGNALS:
        signal = name[len(HAS_PREFIX) :]
        doc = (
            f"True when a {signal} curve was logged with at least {MIN_POINTS} points before "
            "any NaN or inf, false otherwise: a condition can say what holds when the curve "
            "is absent."
        )
        return FeatureDoc(name, "presence", (signal,), doc)
    base = name[len(VAL_PREFIX) :]
    if name.startswith(VAL_PREFIX) and base in FEATURES:
        measures = _first_paragraph(FEATURES[base].function.__doc__)
        doc = f"`{base}` measured on the validation loss. {measures}"
        return FeatureDoc(name, "validation", ("val_loss",), doc)
    raise ValueError(f"feature name {name!r} comes from nowhere lrdoctor.features knows")


def describe_features() -> list[FeatureDoc]:
    """Every name `known_features()` accepts, grouped by where it comes from, by name within."""
    described = [_describe(name) for name in known_features()]
    order = list(KINDS)
    return sorted(described, key=lambda entry: (order.index(entry.kind), entry.name))


def render_json(entries: list[FeatureDoc]) -> str:
    return json.dumps({"features": [asdict(entry) for entry in entries]}, indent=2)


def render_text(entries: list[FeatureDoc]) -> str:
    """One section per origin; each name with its signals, then its documentation."""
    width = max(len(entry.name) for entry in entries) + 2
    lines = []
    for kind, meaning in KINDS.items():
        members = [entry for entry in entries if entry.kind == kind]
        if not members:
            continue
        if lines:
            lines.append("")
        lines += textwrap.wrap(f"{kind.upper()}: {meaning}", width=88)
        for entry in members:
            lines.append(f"  {entry.name.ljust(width)}{', '.join(entry.signals) or 'params'}")
            lines += textwrap.wrap(
                entry.doc, width=88, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
    return "\n".join(lines)
