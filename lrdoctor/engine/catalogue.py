"""The rule catalogue: rule files (TOML, one rule each) loaded, checked and indexed.

Built-in rules live in the repository's top-level `rules/`, which the wheel ships as
`lrdoctor/_rules`; users add folders of their own (`--rules-dir`). Every field is checked
when a file is loaded, and errors name the file and the key, so a broken rule is reported
before any run is diagnosed. `rules/README.md` documents the format.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from lrdoctor.engine.conditions import Expression, ExpressionError, Value, compile_expression
from lrdoctor.engine.errors import RuleError, closest, did_you_mean
from lrdoctor.engine.templates import Template, TemplateError, compile_template
from lrdoctor.engine.tomlfile import read_toml
from lrdoctor.engine.vocabulary import LABELS, REMEDY_KINDS, RULE_SIGNALS, SEVERITIES

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

CODE_PATTERN = re.compile(r"[A-Z]{2,5}[0-9]{3}")
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
DEFAULT_PRIORITY = 100
DEFAULT_CONFIDENCE = 0.5
"""A rule that states no confidence is uncalibrated: as likely right as not, never certain."""
VERDICTS_FILE = "_verdicts.toml"
"""Per-folder data for verdicts no rule gives; its `_` prefix keeps it out of the rules."""
UNCALIBRATED_CONFIDENCE = 0.5
"""Healthy confidence when no rules folder states one: nothing was measured, so a coin flip."""
OPTION_TYPES = ("float", "int", "bool")

_RULE_KEYS = frozenset(
    "code name label title severity signal priority condition confidence steps evidence "
    "message options page remedies defers_to".split()
)
_OPTION_KEYS = frozenset({"default", "type", "min", "max", "help"})
_PAGE_KEYS = frozenset({"what", "why", "example", "references"})
_REMEDY_KEYS = frozenset({"text", "kind", "needs", "fallback"})


@dataclass(frozen=True)
class OptionSpec:
    """A rule parameter users may override: its type, default, allowed range and help."""

    name: str
    type: str
    default: Value
    help: str
    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: object) -> Value:
        """`value` converted to the option's type; raises `ValueError` saying what is wrong."""
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(
                f"expected {'an integer' if self.type == 'int' else 'a number'}, got {value!r}"
            )
        if self.type == "int":
            if not isinstance(value, int):
                raise ValueError(f"expected an integer, got {value!r}")
        else:
            value = float(value)
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{value!r} is below the minimum {self.minimum!r}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{value!r} is above the maximum {self.maximum!r}")
        return value


@dataclass(frozen=True)
class RulePage:
    """The documentation sections `lrdoctor explain CODE` prints (ruff's rule pages)."""

    what: str
    why: str
    example: str = ""
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemedySpec:
    """One remedy: `text` may use values an advisor computes (`needs`); `fallback` never does.

    The advisor shows `text` only when every value it needs is known, else `fallback`, so a
    remedy never shows an invented number.
    """

    kind: str
    text: Template
    needs: tuple[str, ...] = ()
    fallback: Template | None = None


@dataclass(frozen=True, eq=False)
class Rule:
    """One rule file, checked: a condition over features of one signal and what to say.

    Rules compare and hash by identity: each is loaded once, from one file.
    """

    code: str
    name: str
    label: str
    title: str
    severity: str
    signal: str
    priority: int
    condition: Expression
    confidence: Expression
    steps: tuple[str, ...]
    evidence: tuple[str, ...]
    message: Template
    options: Mapping[str, OptionSpec]
    page: RulePage
    remedies: tuple[RemedySpec, ...]
    source: str
    defers_to: tuple[str, ...] = ()
    """Names or codes of rules that explain the same evidence better: when one of them fires
    on the run, this rule's finding is dropped (one statement instead of copied limits)."""

    @property
    def defaults(self) -> dict[str, Value]:
        """Each option's default value."""
        return {name: spec.default for name, spec in self.options.items()}

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@dataclass(frozen=True)
class Catalogue:
    """All loaded rules, sorted by code, addressable by code or name.

    `healthy_confidence` is the measured chance that a run no rule fires on is healthy
    (`[verdicts.healthy]` in a folder's `_verdicts.toml`; the last folder that sets it wins).
    """

    rules: tuple[Rule, ...]
    healthy_confidence: float = UNCALIBRATED_CONFIDENCE

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, code_or_name: str) -> Rule | None:
        """The rule with this code or name, if any."""
        for rule in self.rules:
            if code_or_name in (rule.code, rule.name):
                return rule
        return None

    def suggest(self, code_or_name: str) -> str:
        """A " (did you mean `x`?)" hint naming the rule code or name closest to a miss;
        case is ignored, so `lrd101` points at `LRD101`."""
        keys = {key.lower(): key for rule in self.rules for key in (rule.code, rule.name)}
        close = closest(code_or_name.lower(), keys)
        return f" (did you mean `{keys[close]}`?)" if close else ""

    def matching(self, selector: str) -> tuple[Rule, ...]:
        """Rules a `select`/`ignore` entry names: a name, a code, or a code prefix (`LRD1`)."""
        by_name = [rule for rule in self.rules if rule.name == selector]
        if by_name:
            return tuple(by_name)
        return tuple(rule for rule in self.rules if rule.code.startswith(selector.upper()))


def builtin_rules_dir() -> Path | Traversable:
    """Where the built-in rules are: inside the installed package, else in the checkout."""
    packaged = importlib.resources.files("lrdoctor") / "_rules"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "rules"
    if checkout.is_dir():
        return checkout
    raise RuleError(
        "lrdoctor",
        "the built-in rules are missing (neither lrdoctor/_rules nor "
        "rules/ next to the package exists)",
    )


def load_catalogue(
    extra_dirs: Iterable[Path] = (),
    known_features: Collection[str] | None = None,
    include_builtin: bool = True,
) -> Catalogue:
    """Load the built-in rules and every rule file in `extra_dirs`.

    With `known_features` (the feature registry's names), a rule naming anything else is
    refused at load time, so a typo cannot leave a rule silently never firing. Codes and
    names must be unique across all folders.
    """
    folders: list[Path | Traversable] = [builtin_rules_dir()] if include_builtin else []
    for folder in extra_dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise RuleError(folder, "the rules folder does not exist or is not a folder")
        folders.append(folder)
    by_code: dict[str, Rule] = {}
    by_name: dict[str, Rule] = {}
    healthy_confidence = UNCALIBRATED_CONFIDENCE
    for folder in folders:
        healthy_confidence = read_verdicts_file(folder).get("healthy", healthy_confidence)
        for resource in rule_files(folder):
            rule = load_rule_file(resource, known_features)
            for index, key in ((by_code, rule.code), (by_name, rule.name)):
                if key in index:
                    raise RuleError(resource, f"{key} is already defined in {index[key].source}")
                index[key] = rule
    for rule in by_code.values():
        for other in rule.defers_to:
            if other not in by_code and other not in by_name:
                hint = did_you_mean(other, set(by_code) | set(by_name))
                raise RuleError(rule.source, f"defers_to: no rule {other!r} is loaded{hint}")
    return Catalogue(
        rules=tuple(sorted(by_code.values(), key=lambda rule: rule.code)),
        healthy_confidence=healthy_confidence,
    )


def read_verdicts_file(folder: Path | Traversable) -> dict[str, float]:
    """The confidences a folder's `_verdicts.toml` sets, by verdict (empty if it has none).

    Only `healthy` may be set: every other verdict comes from a rule, whose file states its
    own confidence.
    """
    resource = folder / VERDICTS_FILE
    if not resource.is_file():
        return {}
    data = read_toml(resource, RuleError)
    if set(data) - {"verdicts"}:
        raise RuleError(resource, "expected only [verdicts.<verdict>] tables")
    verdicts = data.get("verdicts", {})
    if not isinstance(verdicts, dict) or set(verdicts) - {"healthy"}:
        raise RuleError(resource, "verdicts: only [verdicts.healthy] may be set")
    confidences = {}
    for verdict, table in verdicts.items():
        value = table.get("confidence") if isinstance(table, dict) else None
        if (
            not isinstance(table, dict)
            or set(table) != {"confidence"}
            or not (_is_number(value) and 0.0 <= value <= 1.0)
        ):
            raise RuleError(
                resource, f"verdicts.{verdict}: expected only confidence = a number from 0 to 1"
            )
        confidences[verdict] = float(value)
    return confidences


def rule_files(folder: Path | Traversable) -> list[Path | Traversable]:
    """The rule files of a folder: `*.toml` not starting with `_` or `.` (not recursive)."""
    return sorted(
        (
            entry
            for entry in folder.iterdir()
            if entry.name.endswith(".toml")
            and not entry.name.startswith(("_", "."))
            and entry.is_file()
        ),
        key=lambda entry: entry.name,
    )


def load_rule_file(
    resource: Path | Traversable, known_features: Collection[str] | None = None
) -> Rule:
    """Read and check one rule file; any problem raises `RuleError` naming file and key."""
    return _RuleReader(resource, known_features).read()


class _RuleReader:
    """Checks one rule file's fields, raising `RuleError(file, "key: problem")`."""

    def __init__(self, resource: Path | Traversable, known_features: Collection[str] | None):
        self.resource = resource
        self.known_features = None if known_features is None else frozenset(known_features)

    def fail(self, key: str, problem: str) -> RuleError:
        return RuleError(self.resource, f"{key}: {problem}")

    def read(self) -> Rule:
        data = read_toml(self.resource, RuleError)
        self.check_keys(data, _RULE_KEYS, "")
        identity = {
            "code": self.text(data, "code", pattern=CODE_PATTERN, example="LRD101"),
            "name": self.text(data, "name", pattern=NAME_PATTERN, example="loss-diverges"),
            "label": self.choice(data, "label", LABELS),
            "title": self.text(data, "title"),
            "severity": self.choice(data, "severity", SEVERITIES),
            "signal": self.choice(data, "signal", RULE_SIGNALS),
            "priority": self.integer(data, "priority", DEFAULT_PRIORITY),
        }
        options = self.read_options(data.get("options", {}))
        option_names = set(options)
        condition = self.read_expression(data, "condition", option_names)
        return Rule(
            **identity,
            condition=condition,
            confidence=self.read_confidence(data, option_names),
            steps=self.read_feature_list(data, "steps", max_length=2),
            evidence=self.read_feature_list(
                data, "evidence", default=sorted(condition.names - option_names)
            ),
            message=self.read_template(self.text(data, "message"), "message", option_names),
            options=MappingProxyType(options),
            page=self.read_page(data.get("page")),
            remedies=self.read_remedies(data.get("remedies"), option_names),
            source=str(self.resource),
            defers_to=self.text_list(data, "defers_to"),
        )

    def check_keys(self, table: Mapping, allowed: frozenset[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                raise self.fail(
                    f"{prefix}{key}",
                    f"unknown key{hint}; allowed keys are {', '.join(sorted(allowed))}",
                )

    def text(
        self,
        table: Mapping,
        key: str,
        prefix: str = "",
        pattern: re.Pattern | None = None,
        example: str = "",
        required: bool = True,
    ) -> str:
        if key not in table:
            if required:
                raise self.fail(f"{prefix}{key}", "is required")
            return ""
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{prefix}{key}", f"expected non-empty text, got {value!r}")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(f"{prefix}{key}", f"{value!r} is not of the form {example!r}")
        return value.strip()

    def choice(self, table: Mapping, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(table, key)
        if value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def integer(self, table: Mapping, key: str, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {value!r}")
        return value

    def text_list(self, table: Mapping, key: str, prefix: str = "") -> tuple[str, ...]:
        values = table.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise self.fail(f"{prefix}{key}", f"expected a list of texts, got {values!r}")
        return tuple(values)

    def table(self, value: object, key: str) -> Mapping:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {value!r}")
        return value

    def check_names(self, names: Iterable[str], key: str, allowed_extra: Collection[str]) -> None:
        """Refuse names that are neither features (when known) nor in `allowed_extra`."""
        if self.known_features is None:
            return
        allowed = self.known_features | set(allowed_extra)
        for name in sorted(names):
            if name not in allowed:
                raise self.fail(
                    key,
                    f"unknown name `{name}`: not a feature nor an option of this rule"
                    f"{did_you_mean(name, allowed)}",
                )

    def read_options(self, value: object) -> dict[str, OptionSpec]:
        return {
            name: self.read_option(name, spec)
            for name, spec in self.table(value, "options").items()
        }

    def read_option(self, name: str, value: object) -> OptionSpec:
        key = f"options.{name}"
        if not name.isidentifier() or name.startswith("_"):
            raise self.fail(
                key, "an option name is an identifier such as max_growth (letters, digits, _)"
            )
        if self.known_features is not None and name in self.known_features:
            raise self.fail(key, f"option `{name}` has the same name as a feature")
        spec = self.table(value, key)
        self.check_keys(spec, _OPTION_KEYS, f"{key}.")
        option_type = self.text(spec, "type", prefix=f"{key}.")
        if option_type not in OPTION_TYPES:
            raise self.fail(
                f"{key}.type", f"{option_type!r} is not one of {', '.join(OPTION_TYPES)}"
            )
        bounds = {}
        for bound in ("min", "max"):
            if bound in spec:
                limit = spec[bound]
                if option_type == "bool" or not _is_number(limit):
                    raise self.fail(
                        f"{key}.{bound}",
                        f"expected a number for a {option_type} option, got {limit!r}",
                    )
                bounds[bound] = limit
        if bounds.get("min", -math.inf) > bounds.get("max", math.inf):
            raise self.fail(f"{key}.min", f"{bounds['min']!r} is above max {bounds['max']!r}")
        if "default" not in spec:
            raise self.fail(f"{key}.default", "is required")
        option = OptionSpec(
            name=name,
            type=option_type,
            default=None,
            help=self.text(spec, "help", prefix=f"{key}."),
            minimum=bounds.get("min"),
            maximum=bounds.get("max"),
        )
        try:
            return dataclasses.replace(option, default=option.check(spec["default"]))
        except ValueError as error:
            raise self.fail(f"{key}.default", str(error)) from None

    def read_expression(self, table: Mapping, key: str, option_names: set[str]) -> Expression:
        text = self.text(table, key)
        try:
            expression = compile_expression(text)
        except ExpressionError as error:
            raise self.fail(key, str(error)) from None
        self.check_names(expression.names, key, option_names)
        return expression

    def read_confidence(self, table: Mapping, option_names: set[str]) -> Expression:
        value = table.get("confidence", DEFAULT_CONFIDENCE)
        if isinstance(value, str):
            return self.read_expression(table, "confidence", option_names)
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise self.fail(
                "confidence", f"expected a number from 0 to 1 or an expression, got {value!r}"
            )
        return compile_expression(repr(float(value)))

    def read_feature_list(
        self,
        table: Mapping,
        key: str,
        max_length: int | None = None,
        default: list[str] | None = None,
    ) -> tuple[str, ...]:
        if key not in table and default is not None:
            return tuple(default)
        names = self.text_list(table, key)
        if max_length is not None and len(names) > max_length:
            raise self.fail(key, f"expected at most {max_length} feature names, got {len(names)}")
        self.check_names(names, key, ())
        return names

    def read_template(
        self, text: str, key: str, option_names: set[str], extra_names: Collection[str] = ()
    ) -> Template:
        try:
            template = compile_template(text)
        except TemplateError as error:
            raise self.fail(key, str(error)) from None
        self.check_names(template.fields, key, option_names | set(extra_names))
        return template

    def read_page(self, value: object) -> RulePage:
        if value is None:
            raise self.fail("page", "is required (a table with what, why, example, references)")
        page = self.table(value, "page")
        self.check_keys(page, _PAGE_KEYS, "page.")
        return RulePage(
            what=self.text(page, "what", prefix="page."),
            why=self.text(page, "why", prefix="page."),
            example=self.text(page, "example", prefix="page.", required=False),
            references=self.text_list(page, "references", prefix="page."),
        )

    def read_remedies(self, value: object, option_names: set[str]) -> tuple[RemedySpec, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail("remedies", "at least one remedy is required ([[remedies]] tables)")
        return tuple(
            self.read_remedy(entry, f"remedies[{index}]", option_names)
            for index, entry in enumerate(value)
        )

    def read_remedy(self, value: object, key: str, option_names: set[str]) -> RemedySpec:
        entry = self.table(value, key)
        prefix = f"{key}."
        self.check_keys(entry, _REMEDY_KEYS, prefix)
        kind = self.text(entry, "kind", prefix=prefix)
        if kind not in REMEDY_KINDS:
            raise self.fail(f"{prefix}kind", f"{kind!r} is not one of {', '.join(REMEDY_KINDS)}")
        needs = self.text_list(entry, "needs", prefix=prefix)
        for need in needs:
            if not need.isidentifier() or need.startswith("_"):
                raise self.fail(f"{prefix}needs", f"{need!r} is not a valid value name")
            if need in option_names or need in (self.known_features or ()):
                raise self.fail(
                    f"{prefix}needs",
                    f"`{need}` is a feature or option, which the rule already knows; "
                    "list only values an advisor computes",
                )
        text = self.read_template(
            self.text(entry, "text", prefix=prefix), f"{prefix}text", option_names, needs
        )
        return RemedySpec(
            kind=kind,
            text=text,
            needs=needs,
            fallback=self.read_fallback(entry, text, option_names, prefix),
        )

    def read_fallback(
        self, entry: Mapping, text: Template, option_names: set[str], prefix: str
    ) -> Template | None:
        """The text shown when `text` cannot be: it may use only the rule's options."""
        may_be_unknown = [name for name in text.fields if name not in option_names]
        if "fallback" not in entry:
            if may_be_unknown:
                raise self.fail(
                    f"{prefix}fallback",
                    "is required because the text uses values that may be unknown: "
                    f"{', '.join(may_be_unknown)}",
                )
            return None
        key = f"{prefix}fallback"
        try:
            fallback = compile_template(self.text(entry, "fallback", prefix=prefix))
        except TemplateError as error:
            raise self.fail(key, str(error)) from None
        not_options = [name for name in fallback.fields if name not in option_names]
        if not_options:
            raise self.fail(
                key,
                "may use only the rule's options, since it is shown when values are "
                f"unknown; it uses {', '.join(not_options)}",
            )
        return fallback


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
