"""From a run to a verdict: assign roles, measure features, let the rules decide.

The verdict is the label of the highest-precedence finding. Precedence is each rule's
`priority` (lower first), then confidence. The built-in rules give confounders (exploding
gradients, poor feature scaling, mini-batch noise) a higher precedence than the learning-rate
verdicts, so a run whose evidence says "noise" is not reported as "LR too high".

Confidence is the measured chance that the verdict is right: the top finding's, or for a
healthy run the rules folder's `_verdicts.toml` (fitted by `python -m tools.calibrate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from lrdoctor.advice import advise, advise_at
from lrdoctor.engine import (
    ActiveRule,
    Config,
    Finding,
    evaluate_rules,
    load_catalogue,
    select_rules,
)
from lrdoctor.engine.vocabulary import VERDICTS, remedies_in_order
from lrdoctor.features import (
    FEATURES,
    HAS_PREFIX,
    OPTIONAL_SIGNALS,
    SIGNALS,
    VAL_PREFIX,
    Prepared,
    Value,
    known_features,
    measure,
    measure_across,
    run_facts,
)
from lrdoctor.model import Run
from lrdoctor.roles import assign_roles, missing_overrides

__all__ = ["VERDICTS", "Diagnosis", "Doctor", "unreadable"]

_SHARED_PREFIXES = ("grad_", "lr_")
FEATURE_POINTS = 100_000
"""Features of a longer curve are measured on a faithful sample of about this many points
(`Curve.sample`): memory then follows this, not the log, and no corpus or fixture curve is
that long (the longest: 8,192 points)."""


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on one run, the findings behind it and the values remedies quote."""

    name: str
    source: str
    format: str
    verdict: str
    confidence: float
    signals: Mapping[str, str]
    findings: tuple[Finding, ...] = ()
    advice: Mapping[str, Value] = field(default_factory=dict)
    finding_advice: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    note: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    """The run's hyper-parameters as its logs recorded them, so runs of a sweep can be told
    apart in every report."""

    def to_dict(self) -> dict:
        """The run entry of the `lrdoctor.audit/1` JSON contract."""
        return {
            "name": self.name,
            "source": self.source,
            "format": self.format,
            "diagnosis": self.verdict,
            "confidence": round(self.confidence, 3),
            "signals": dict(self.signals),
            "findings": [self._finding_dict(finding) for finding in self.findings],
            "warnings": ([self.note] if self.note else []) + list(self.warnings),
            "params": {key: str(value) for key, value in self.params.items()},
        }

    def _finding_dict(self, finding: Finding) -> dict:
        """A finding's entry: its remedies in order, each rendered with the advice in effect
        where the finding happened, and what each rests on."""
        advice = self._advice_for(finding)
        remedies = remedies_in_order(finding.remedies)
        return {
            "rule": finding.code,
            "name": finding.name,
            "label": finding.label,
            "severity": finding.severity,
            "confidence": round(finding.confidence, 3),
            "signal": finding.signal,
            "steps": list(finding.steps) if finding.steps else None,
            "message": finding.message,
            "evidence": {k: _json_number(v) for k, v in finding.evidence.items()},
            "remedies": [remedy.render(advice) for remedy in remedies],
            "remedy_basis": [remedy.basis(advice) for remedy in remedies],
        }

    def _advice_for(self, finding: Finding) -> Mapping[str, Value]:
        return self.finding_advice.get(finding.code, self.advice)

    def _repr_html_(self) -> str:
        """A compact view for Jupyter: verdict, then each finding and its first remedy."""
        entry = self.to_dict()
        rows = "".join(
            f"<tr><td>{escape(f['rule'])}</td><td>{escape(f['label'])}</td>"
            f"<td>{escape(f['message'])}</td>"
            f"<td>{escape(f['remedies'][0]) if f['remedies'] else ''}</td></tr>"
            for f in entry["findings"]
        )
        table = (
            "<table><tr><th>rule</th><th>verdict</th><th>evidence</th><th>first remedy</th></tr>"
            f"{rows}</table>"
            if rows
            else ""
        )
        return (
            f"<p><b>{escape(self.name)}</b> ({escape(self.format)}): "
            f"<b>{escape(self.verdict)}</b>, confidence {self.confidence:.2f}</p>{table}"
        )


def _json_number(value: Value) -> Value | str:
    """JSON has no NaN or inf: say them as strings rather than emit invalid JSON."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return value


class Doctor:
    """Rules loaded and configured once, applied to many runs."""

    def __init__(
        self,
        config: Config | None = None,
        rules_dirs: Sequence[Path] = (),
        builtin_rules: bool = True,
    ):
        """`builtin_rules=False` uses only `rules_dirs`, e.g. a copy of the rules being fitted."""
        self.config = config or Config()
        catalogue = load_catalogue(
            extra_dirs=tuple(rules_dirs) + tuple(self.config.rules_dirs),
            known_features=known_features(),
            include_builtin=builtin_rules,
        )
        self.catalogue = catalogue
        self.rules: tuple[ActiveRule, ...] = select_rules(catalogue, self.config)

    def features(self, run: Run, signals: Mapping[str, str]) -> dict[str, dict[str, Value]]:
        """Features per signal; every signal also sees the grad-norm and lr features by name,
        the val-loss features as `val_<name>` (None where the run logs no such curve),
        `has_<signal>` for the optional signals, the features measured across signals and the
        run's facts from its params (`RUN_FACTS`)."""
        prepared = {
            role: Prepared(run.curves[tag].sample(FEATURE_POINTS))
            for role, tag in signals.items()
            if role in SIGNALS
        }
        measured = {role: measure(curve, role) for role, curve in prepared.items()}
        shared = {name: None for name in known_features()}
        shared |= {  # grad_* and lr_* features belong to one signal each
            name: measured.get(spec.signals[0], {}).get(name)
            for name, spec in FEATURES.items()
            if name.startswith(_SHARED_PREFIXES)
        }
        val = measured.get("val_loss", {})
        shared |= {VAL_PREFIX + name: value for name, value in val.items()}
        for role in OPTIONAL_SIGNALS:
            shared[HAS_PREFIX + role] = role in prepared and prepared[role].measurable
        shared |= measure_across(prepared) | run_facts(run)
        return {role: shared | values for role, values in measured.items()}

    def diagnose(self, run: Run) -> Diagnosis:
        signals = assign_roles(run, self.config.signals)
        base = {"name": run.name, "source": run.source, "format": run.format}
        # A tag the user named but the run lacks is said on every report, not just `runs`.
        warnings = (*run.warnings, *missing_overrides(run, self.config.signals))
        base |= {"signals": signals, "warnings": warnings, "params": dict(run.params)}
        loss_tag = signals.get("train_loss")
        if loss_tag is None:
            found = ", ".join(sorted(run.curves)) or "no scalar data"
            return Diagnosis(
                **base,
                verdict="insufficient_data",
                confidence=1.0,
                note=f"no training-loss curve was found (tags: {found})",
            )
        features = self.features(run, signals)
        findings = evaluate_rules(self.rules, features)
        advice = advise(run, features)
        if not findings:
            confidence = self.catalogue.healthy_confidence
            return Diagnosis(**base, verdict="healthy", confidence=confidence, advice=advice)
        ordered = sorted(findings, key=precedence)
        top = ordered[0]
        lr_curve = run.curves.get(signals["lr"]) if "lr" in signals else None
        return Diagnosis(
            **base,
            verdict=top.label,
            confidence=top.confidence,
            findings=tuple(ordered),
            advice=advice,
            finding_advice={
                finding.code: advise_at(advice, lr_curve, finding.steps) for finding in ordered
            },
        )


def precedence(finding: Finding) -> tuple[int, float, str]:
    """Sort key of findings, first sets the verdict: priority, then higher confidence, code."""
    return finding.priority, -finding.confidence, finding.code


def unreadable(name: str, source: str, problem: str) -> Diagnosis:
    """The verdict for a source that could not be read at all."""
    return Diagnosis(
        name=name,
        source=source,
        format="unknown",
        verdict="unreadable",
        confidence=1.0,
        signals={},
        note=problem,
    )
