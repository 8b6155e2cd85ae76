"""Applying the selected rules to a run's features: which fire, and what each finding says."""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lrdoctor.engine.catalogue import Catalogue, RemedySpec
from lrdoctor.engine.conditions import Expression, Namespace, Value
from lrdoctor.engine.config import ActiveRule, Config, select_rules
from lrdoctor.engine.vocabulary import severity_rank

UNDETERMINED_CONFIDENCE = 0.5
"""Confidence of a finding whose confidence expression reads a missing value: as likely as not."""


@dataclass(frozen=True)
class Remedy:
    """A rule's remedy bound to the run's features and the rule's options.

    An advisor supplies the values the remedy `needs` (say, a suggested learning rate);
    `render` uses the full text only when every value it shows is known, else the fallback.
    """

    spec: RemedySpec
    known: Mapping[str, Value] = field(repr=False)

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def needs(self) -> tuple[str, ...]:
        return self.spec.needs

    def render(self, advice: Mapping[str, Value] | None = None) -> str:
        """The remedy as text, with `advice` giving the values named in `needs`."""
        values = self._values(advice)
        if self._full_text_applies(values):
            return self.spec.text.render(values)
        return self.spec.fallback.render(values)

    def basis(self, advice: Mapping[str, Value] | None = None) -> str:
        """ "logs" when the text quotes values this run logged (an LR, a step, a norm), else
        "general": a check worth making that the logs neither show nor rule out."""
        values = self._values(advice)
        if self.spec.text.fields and self._full_text_applies(values):
            return "logs"
        return "general"

    def _values(self, advice: Mapping[str, Value] | None) -> dict[str, Value]:
        advice = advice or {}
        return {**self.known, **{name: advice.get(name) for name in self.spec.needs}}

    def _full_text_applies(self, values: Mapping[str, Value]) -> bool:
        return self.spec.fallback is None or all(
            _is_known(values.get(name)) for name in self.spec.text.fields
        )


@dataclass(frozen=True)
class Finding:
    """A rule that fired on one signal of a run, with the evidence that made it fire."""

    code: str
    name: str
    label: str
    title: str
    severity: str
    priority: int
    confidence: float
    signal: str
    steps: tuple[int, int] | None
    evidence: Mapping[str, Value]
    parameters: Mapping[str, Value]
    message: str
    remedies: tuple[Remedy, ...]
    # Every feature and option the rule saw, so a confidence can be re-scored (calibration).
    values: Mapping[str, Value] = field(default_factory=dict, repr=False, compare=False)
    defers_to: tuple[str, ...] = ()

    def to_dict(self, advice: Mapping[str, Value] | None = None) -> dict:
        """Plain data (remedies rendered with `advice`), for reporters that serialise."""
        return {
            "code": self.code,
            "name": self.name,
            "label": self.label,
            "title": self.title,
            "severity": self.severity,
            "priority": self.priority,
            "confidence": self.confidence,
            "signal": self.signal,
            "steps": list(self.steps) if self.steps is not None else None,
            "evidence": dict(self.evidence),
            "parameters": dict(self.parameters),
            "message": self.message,
            "remedies": [
                {"kind": remedy.kind, "text": remedy.render(advice)} for remedy in self.remedies
            ],
        }


def evaluate(
    catalogue: Catalogue,
    config: Config,
    features_by_signal: Mapping[str, Mapping[str, Value]],
) -> list[Finding]:
    """Findings of the rules `config` selects, ordered by priority (lower first), then code.

    `features_by_signal` maps a signal role (`train_loss`, ...) to its feature values; a rule
    whose signal is absent is not evaluated. A feature that is `None` or NaN was not
    measurable: conditions treat it as unknown and a rule fires only when definitely true.
    """
    return evaluate_rules(select_rules(catalogue, config), features_by_signal)


def evaluate_rules(
    active_rules: Iterable[ActiveRule],
    features_by_signal: Mapping[str, Mapping[str, Value]],
) -> list[Finding]:
    """Like `evaluate`, for rules already selected (and checked) by `select_rules`."""
    findings = []
    normalised = {
        signal: {name: _scalar(signal, name, value) for name, value in features.items()}
        for signal, features in features_by_signal.items()
    }
    for active in active_rules:
        features = normalised.get(active.rule.signal)
        if features is None:
            continue
        finding = _apply(active, features)
        if finding is not None:
            findings.append(finding)
    return sorted(drop_deferred(findings), key=lambda finding: (finding.priority, finding.code))


def drop_deferred(findings: Iterable[Finding]) -> list[Finding]:
    """The findings left once each rule that defers to another fired rule steps aside."""
    findings = list(findings)
    fired = {key for finding in findings for key in (finding.code, finding.name)}
    return [finding for finding in findings if not fired.intersection(finding.defers_to)]


def fails(findings: Iterable[Finding], fail_on: str | None) -> bool:
    """Whether any finding is at or above the `fail_on` severity (exit status 1)."""
    if fail_on is None:
        return False
    threshold = severity_rank(fail_on)
    return any(severity_rank(finding.severity) >= threshold for finding in findings)


def _apply(active: ActiveRule, features: Mapping[str, Value]) -> Finding | None:
    rule = active.rule
    namespace = ChainMap(features, active.options)
    if not rule.condition.holds(namespace):
        return None
    known = MappingProxyType(dict(namespace))
    return Finding(
        code=rule.code,
        name=rule.name,
        label=rule.label,
        title=rule.title,
        severity=rule.severity,
        priority=rule.priority,
        confidence=confidence_of(rule.confidence, namespace),
        signal=rule.signal,
        steps=_step_range([features.get(name) for name in rule.steps]),
        evidence=MappingProxyType({name: features.get(name) for name in rule.evidence}),
        parameters=active.options,
        message=rule.message.render(namespace),
        remedies=tuple(Remedy(spec, known) for spec in rule.remedies),
        values=known,
        defers_to=rule.defers_to,
    )


def confidence_of(expression: Expression, namespace: Namespace) -> float:
    """A confidence expression's value clamped to 0..1; undetermined when it reads a gap."""
    value = expression.evaluate(namespace)
    if not _is_known(value):
        return UNDETERMINED_CONFIDENCE
    return min(1.0, max(0.0, float(value)))


def _step_range(values: list[Value]) -> tuple[int, int] | None:
    if not values or not all(_is_known(value) and math.isfinite(value) for value in values):
        return None
    return int(values[0]), int(values[-1])


def _is_known(value: Value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _scalar(signal: str, name: str, value: object) -> Value:
    """A feature value as a plain Python scalar (numpy scalars are unwrapped)."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if value is None or type(value) in (bool, int, float):
        return value
    raise TypeError(
        f"feature {name!r} of signal {signal!r} is a {type(value).__name__}; "
        "features are numbers, booleans or None"
    )
