"""Leave one model family out: tune rule options on the other development families, then
score the left-out family with the tuned and the default options. The gap says how much of
what tuning gains is fitted to the families it saw."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lrdoctor.engine import Catalogue, ConfigError
from lrdoctor.engine.tomlfile import read_toml
from tools.evaluation.judging import Options, Rejudge
from tools.evaluation.labels import Labelled
from tools.evaluation.scoring import accuracy, macro_f1

TUNING_FILE = Path(__file__).resolve().parents[1] / "tuning.toml"


@dataclass(frozen=True)
class Tuning:
    """Which options may move, and to which multiples of their defaults."""

    options: tuple[tuple[str, str], ...]  # (rule name, option name)
    multipliers: tuple[float, ...]
    rounds: int


def read_tuning(path: Path, catalogue: Catalogue) -> Tuning:
    """The tuning file, each option checked against the rules so a typo is an error."""
    data = read_toml(path, ConfigError)
    options = []
    for entry in data["options"]:
        rule_name, _, option = entry.partition(".")
        rule = catalogue.get(rule_name)
        if rule is None or option not in rule.options:
            raise ConfigError(path, f"{entry!r} names no rule option")
        if rule.options[option].type == "bool":
            raise ConfigError(path, f"{entry!r} is a true/false option: it has no multiples")
        options.append((rule.name, option))
    return Tuning(tuple(options), tuple(map(float, data["multipliers"])), int(data["rounds"]))


def _candidates(catalogue: Catalogue, rule_name: str, option: str, multipliers) -> list:
    """The default and its allowed multiples, in the option's type."""
    rule = catalogue.get(rule_name)
    spec, default = rule.options[option], rule.defaults[option]
    values = [default]
    for multiplier in multipliers:
        value = default * multiplier
        try:
            value = spec.check(round(value) if spec.type == "int" else value)
        except ValueError:  # outside the option's allowed range
            continue
        if value not in values:
            values.append(value)
    return values


def _with(options: Options, rule: str, option: str, value) -> dict:
    return {**options, rule: {**options.get(rule, {}), option: value}}


def tune(rejudge: Rejudge, runs: Sequence[Labelled], tuning: Tuning) -> dict:
    """Options maximising macro-F1 on `runs` by coordinate search; ties keep the current value,
    so an option moves only when it helps."""

    def objective(options: Options) -> float:
        judged = rejudge.verdicts(options)
        return macro_f1([(run.label, judged[run.name][0]) for run in runs])

    current: dict = {}
    best = objective(current)
    for _ in range(tuning.rounds):
        moved = False
        for rule, option in tuning.options:
            for value in _candidates(rejudge.catalogue, rule, option, tuning.multipliers):
                trial = _with(current, rule, option, value)
                found = objective(trial)
                if found > best:
                    current, best, moved = trial, found, True
        if not moved:
            break
    defaults = {rule: rejudge.catalogue.get(rule).defaults for rule in current}
    moved_options = {
        rule: {k: v for k, v in options.items() if v != defaults[rule][k]}
        for rule, options in current.items()
    }
    return {rule: options for rule, options in moved_options.items() if options}


@dataclass(frozen=True)
class FamilyResult:
    """A left-out family scored with the default options and with those tuned without it."""

    family: str
    runs: int
    tuned_on: int  # development runs of the other families
    accuracy_default: float
    accuracy_tuned: float
    macro_f1_default: float
    macro_f1_tuned: float
    options: Mapping[str, Mapping[str, float]]  # the tuned options that differ from defaults

    def to_dict(self) -> dict:
        return {**self.__dict__, "options": {k: dict(v) for k, v in self.options.items()}}


def leave_one_family_out(
    rejudge: Rejudge, runs: Sequence[Labelled], tuning: Tuning
) -> list[FamilyResult]:
    """For each family of `runs` (the development split), tune on the others, score it."""
    default = rejudge.verdicts()
    results = []
    for family in sorted({run.family for run in runs}):
        held = [run for run in runs if run.family == family]
        others = [run for run in runs if run.family != family]
        options = tune(rejudge, others, tuning)
        tuned = rejudge.verdicts(options)
        before = [(run.label, default[run.name][0]) for run in held]
        after = [(run.label, tuned[run.name][0]) for run in held]
        results.append(
            FamilyResult(
                family,
                len(held),
                len(others),
                accuracy(before),
                accuracy(after),
                macro_f1(before),
                macro_f1(after),
                options,
            )
        )
    return results
