"""Audit a labelled folder once, keeping each run's features, then re-apply the rules with
other options without measuring any curve again: what makes option tuning take seconds."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from lrdoctor.audit import AuditResult, iter_judged
from lrdoctor.diagnosis import Diagnosis, Doctor
from lrdoctor.discovery import Problem
from lrdoctor.engine import Config, Finding, evaluate_rules, select_rules
from lrdoctor.engine.evaluate import drop_deferred
from lrdoctor.features import Value
from lrdoctor.model import Run

Features = Mapping[str, Mapping[str, Value]]
"""A run's features by signal, as `Doctor.features` measures them."""
Options = Mapping[str, Mapping[str, Value]]
"""Rule name -> option -> value: overrides of the rules' defaults, as in `[tool.lrdoctor.rules]`."""

Judged = tuple[AuditResult, Doctor, dict[str, Features]]
"""An audit, the Doctor that made it and the features of each run it diagnosed."""


class _KeepingDoctor(Doctor):
    """A Doctor that hands over the features of the run it just diagnosed."""

    _last: dict | None = None

    def features(self, run: Run, signals: Mapping[str, str]) -> dict:
        self._last = super().features(run, signals)
        return self._last

    def kept(self, run: Run, diagnosis: Diagnosis) -> dict | None:
        """`keep` for `iter_judged`: None for a run diagnosed without features."""
        kept, self._last = self._last, None
        return kept


def judge(folder: Path) -> Judged:
    """The audit of `folder` (default options), its Doctor and the features of each run."""
    doctor = _KeepingDoctor()
    diagnoses, problems, features = [], [], {}
    for item in iter_judged([folder], doctor, keep=doctor.kept):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        diagnosis, kept = item
        diagnoses.append(diagnosis)
        if kept is not None:
            features[diagnosis.name] = kept
    result = AuditResult(tuple(diagnoses), tuple(problems), (os.fspath(folder),))
    return result, doctor, features


class Rejudge:
    """Verdicts of some runs under other rule options.

    Each rule's findings are cached per option values, so a trial that changes one option
    re-applies one rule. Runs diagnosed without features (no training loss) keep their verdict.
    """

    def __init__(self, doctor: Doctor, diagnoses: Sequence[Diagnosis], features: dict):
        self.catalogue = doctor.catalogue
        self.healthy_confidence = doctor.catalogue.healthy_confidence
        self.fixed = {d.name: (d.verdict, d.confidence) for d in diagnoses}
        self.features = {d.name: features[d.name] for d in diagnoses if d.name in features}
        self._findings: dict[tuple, dict[str, Finding | None]] = {}
        # With the default options this must decide as the audit did, or it measures nothing.
        differ = sorted(
            name for name, judged in self.verdicts().items() if judged != self.fixed[name]
        )
        if differ:
            raise RuntimeError(f"re-applying the rules changed the audit's verdicts: {differ}")

    def verdicts(self, options: Options | None = None) -> dict[str, tuple[str, float]]:
        """(verdict, confidence) of each run with `options` overriding the rules' defaults."""
        config = Config(rule_options=MappingProxyType(dict(options or {})))
        per_rule = [self._rule_findings(active) for active in select_rules(self.catalogue, config)]
        judged = {name: self.fixed[name] for name in self.fixed if name not in self.features}
        for name in self.features:
            findings = [found[name] for found in per_rule if found[name] is not None]
            judged[name] = self._verdict(drop_deferred(findings))
        return judged

    def _rule_findings(self, active) -> dict[str, Finding | None]:
        key = (active.rule.code, tuple(sorted(active.options.items())))
        if key not in self._findings:
            signal = active.rule.signal
            self._findings[key] = {
                name: next(iter(evaluate_rules([active], {signal: by_signal[signal]})), None)
                if signal in by_signal
                else None
                for name, by_signal in self.features.items()
            }
        return self._findings[key]

    def _verdict(self, findings: list[Finding]) -> tuple[str, float]:
        """As `Doctor.diagnose` decides: the first finding by priority, then confidence."""
        if not findings:
            return "healthy", self.healthy_confidence
        top = min(findings, key=lambda f: (f.priority, -f.confidence, f.code))
        return top.label, top.confidence
