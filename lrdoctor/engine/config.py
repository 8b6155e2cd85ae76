"""User configuration: `[tool.lrdoctor]` in pyproject.toml, or the top level of lrdoctor.toml.

Precedence is defaults < configuration file < command line. Every key is checked: unknown
keys, wrong types and out-of-range rule options are errors naming the file and the key (or
the command-line option), as in ruff and sqlfluff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from lrdoctor.engine.catalogue import Catalogue, Rule
from lrdoctor.engine.conditions import Value
from lrdoctor.engine.errors import ConfigError, did_you_mean
from lrdoctor.engine.tomlfile import read_toml
from lrdoctor.engine.vocabulary import SEVERITIES, SIGNAL_ROLES

CONFIG_FILE_NAME = "lrdoctor.toml"
PYPROJECT_FILE_NAME = "pyproject.toml"
PYPROJECT_SECTION = ("tool", "lrdoctor")
COMMAND_LINE = "command line"

# Setting (attribute of Config) -> its key in a configuration file; the command-line option
# is the same key with `--` in front.
_FILE_KEYS = {
    "select": "select",
    "ignore": "ignore",
    "fail_on": "fail-on",
    "rules_dirs": "rules-dir",
    "rule_options": "rules",
    "signals": "signals",
}
# The command-line options that set one role's tag, as `[signals]` does in a file.
SIGNAL_OPTIONS = {
    "train_loss": "--loss-tag",
    "val_loss": "--val-loss-tag",
    "grad_norm": "--grad-norm-tag",
    "lr": "--lr-tag",
}


def _empty() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True)
class Config:
    """Settings after reading a configuration file (or none) and the command line.

    `select` is None for "every rule". `rule_options` maps a rule code or name, as written in
    the file, to option overrides; they are checked against the catalogue by `select_rules`.
    """

    source: Path | None = None
    key_prefix: str = ""
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None  # None: findings never change the exit status
    rules_dirs: tuple[Path, ...] = ()
    rule_options: Mapping[str, Mapping[str, object]] = field(default_factory=_empty)
    signals: Mapping[str, str] = field(default_factory=_empty)
    from_command_line: frozenset[str] = frozenset()

    def __getstate__(self) -> dict:
        """Audits with --jobs send the configuration to worker processes pickled, and where
        they are spawned rather than forked (macOS, Windows, Python 3.14 on Linux) mapping
        proxies cannot be pickled: plain dicts travel instead."""
        state = dict(self.__dict__)
        state["rule_options"] = {rule: dict(values) for rule, values in self.rule_options.items()}
        state["signals"] = dict(self.signals)
        return state

    def __setstate__(self, state: dict) -> None:
        state["rule_options"] = MappingProxyType(
            {rule: MappingProxyType(values) for rule, values in state["rule_options"].items()}
        )
        state["signals"] = MappingProxyType(state["signals"])
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def where(self, setting: str, *subkeys: str) -> tuple[str, str]:
        """(source, key) naming where `setting` was given, for error messages."""
        if setting in self.from_command_line:
            if setting == "signals" and subkeys:
                return COMMAND_LINE, SIGNAL_OPTIONS.get(subkeys[0], f"--{subkeys[0]}")
            return COMMAND_LINE, f"--{_FILE_KEYS[setting]}"
        prefix = [self.key_prefix] if self.key_prefix else []
        return str(self.source or "defaults"), ".".join([*prefix, _FILE_KEYS[setting], *subkeys])

    def error(self, setting: str, problem: str, *subkeys: str) -> ConfigError:
        source, key = self.where(setting, *subkeys)
        return ConfigError(source, f"{key}: {problem}")


@dataclass(frozen=True)
class ActiveRule:
    """A selected rule with its option values after configuration overrides."""

    rule: Rule
    options: Mapping[str, Value]


def find_config_file(start: Path) -> Path | None:
    """The nearest lrdoctor.toml, or pyproject.toml with `[tool.lrdoctor]`, from `start` up.

    In one folder lrdoctor.toml wins over pyproject.toml; a pyproject.toml without the
    section is passed over, as ruff does.
    """
    start = Path(start).resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        own_file = candidate / CONFIG_FILE_NAME
        if own_file.is_file():
            return own_file
        pyproject = candidate / PYPROJECT_FILE_NAME
        if pyproject.is_file() and _pyproject_section(pyproject) is not None:
            return pyproject
    return None


def load_config(start: Path) -> Config:
    """The configuration that applies to `start` (a file or folder); defaults if none."""
    path = find_config_file(start)
    return Config() if path is None else load_config_file(path)


def load_config_file(path: Path) -> Config:
    """Read and check one configuration file (lrdoctor.toml or pyproject.toml)."""
    path = Path(path)
    if path.name == PYPROJECT_FILE_NAME:
        table = _pyproject_section(path)
        if table is None:
            raise ConfigError(path, "has no [tool.lrdoctor] section")
        config = Config(source=path, key_prefix=".".join(PYPROJECT_SECTION))
    else:
        table = read_toml(path, ConfigError)
        config = Config(source=path)
    for key in table:
        if key not in _FILE_KEYS.values():
            hint = did_you_mean(key, _FILE_KEYS.values())
            prefix = f"{config.key_prefix}." if config.key_prefix else ""
            raise ConfigError(
                path,
                f"{prefix}{key}: unknown key{hint}; allowed keys are "
                f"{', '.join(_FILE_KEYS.values())}",
            )
    values = {}
    for setting, key in _FILE_KEYS.items():
        if key in table:
            values[setting] = _SETTING_READERS[setting](config, table[key])
    return replace(config, **values)


def with_command_line(
    config: Config,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    fail_on: str | None = None,
    rules_dirs: Iterable[Path] | None = None,
    signals: Mapping[str, str] | None = None,
) -> Config:
    """`config` with the values given on the command line (None: not given) taking over.

    `signals` (role -> tag, from `--loss-tag` and the like) is checked as the file's
    `[signals]` is and replaces the file's tag role by role.
    """
    given = {
        "select": select,
        "ignore": ignore,
        "fail_on": fail_on,
        "rules_dirs": rules_dirs,
        "signals": signals,
    }
    given = {setting: value for setting, value in given.items() if value is not None}
    marked = replace(config, from_command_line=config.from_command_line | set(given))
    values = {}
    for setting, value in given.items():
        if setting in ("select", "ignore", "rules_dirs"):
            value = [str(item) for item in value]
        elif setting == "signals":
            value = dict(value)
        values[setting] = _SETTING_READERS[setting](marked, value)
    if "signals" in values:
        values["signals"] = MappingProxyType({**config.signals, **values["signals"]})
    return replace(marked, **values)


def select_rules(catalogue: Catalogue, config: Config) -> tuple[ActiveRule, ...]:
    """The rules `select` minus `ignore` leaves, each with its configured option values.

    Selectors that match no rule and overrides of unknown rules or options are errors, so a
    typo in the configuration is never silently ignored.
    """
    overrides = _resolve_overrides(catalogue, config)
    if config.select is None:
        selected = list(catalogue)
    else:
        selected = _matching(catalogue, config, "select")
    ignored = {rule.code for rule in _matching(catalogue, config, "ignore")}
    return tuple(
        ActiveRule(rule, MappingProxyType({**rule.defaults, **overrides.get(rule.code, {})}))
        for rule in dict.fromkeys(selected)
        if rule.code not in ignored
    )


def _matching(catalogue: Catalogue, config: Config, setting: str) -> list[Rule]:
    rules = []
    for selector in getattr(config, setting):
        matched = catalogue.matching(selector)
        if not matched:
            raise config.error(
                setting, f"{selector!r} matches no rule code, code prefix or rule name"
            )
        rules.extend(matched)
    return rules


def _resolve_overrides(catalogue: Catalogue, config: Config) -> dict[str, dict[str, Value]]:
    overrides: dict[str, dict[str, Value]] = {}
    configured_by: dict[str, str] = {}
    for selector, values in config.rule_options.items():
        rule = catalogue.get(selector)
        if rule is None:
            names = [key for known in catalogue for key in (known.code, known.name)]
            hint = did_you_mean(selector, names)
            raise config.error("rule_options", f"no rule has this code or name{hint}", selector)
        if rule.code in configured_by:
            raise config.error(
                "rule_options",
                f"rule {rule} is already configured under `{configured_by[rule.code]}`; "
                "use one table per rule",
                selector,
            )
        configured_by[rule.code] = selector
        checked = {}
        for option_name, value in values.items():
            spec = rule.options.get(option_name)
            if spec is None:
                known = ", ".join(rule.options) or "none"
                raise config.error(
                    "rule_options",
                    f"rule {rule} has no such option (its options: {known})",
                    selector,
                    option_name,
                )
            try:
                checked[option_name] = spec.check(value)
            except ValueError as error:
                raise config.error("rule_options", str(error), selector, option_name) from None
        overrides[rule.code] = checked
    return overrides


def _pyproject_section(path: Path) -> dict | None:
    table = read_toml(path, ConfigError)
    for key in PYPROJECT_SECTION:
        table = table.get(key)
        if not isinstance(table, dict):
            return None
    return table


def _read_selectors(config: Config, setting: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise config.error(
            setting, f"expected a list of rule codes, code prefixes or names, got {value!r}"
        )
    return tuple(item.strip() for item in value)


def _read_fail_on(config: Config, value: object) -> str:
    if value not in SEVERITIES:
        raise config.error("fail_on", f"{value!r} is not one of {', '.join(SEVERITIES)}")
    return value


def _read_rules_dirs(config: Config, value: object) -> tuple[Path, ...]:
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(isinstance(item, str) and item for item in entries):
        raise config.error("rules_dirs", f"expected a folder or a list of folders, got {value!r}")
    from_file = config.source is not None and "rules_dirs" not in config.from_command_line
    base = config.source.parent if from_file else Path.cwd()
    folders = []
    for entry in entries:
        folder = (base / entry).resolve()
        if not folder.is_dir():
            raise config.error("rules_dirs", f"{entry!r} is not a folder")
        folders.append(folder)
    return tuple(folders)


def _read_rule_options(config: Config, value: object) -> Mapping[str, Mapping[str, object]]:
    if not isinstance(value, dict):
        raise config.error("rule_options", f"expected tables of rule options, got {value!r}")
    for selector, options in value.items():
        if not isinstance(options, dict):
            raise config.error(
                "rule_options", f"expected a table of option values, got {options!r}", selector
            )
    return MappingProxyType(
        {selector: MappingProxyType(dict(options)) for selector, options in value.items()}
    )


def _read_signals(config: Config, value: object) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise config.error("signals", f'expected a table of role = "tag", got {value!r}')
    for role, tag in value.items():
        if role not in SIGNAL_ROLES:
            hint = did_you_mean(role, SIGNAL_ROLES)
            raise config.error(
                "signals", f"unknown signal role{hint}; roles are {', '.join(SIGNAL_ROLES)}", role
            )
        if not isinstance(tag, str) or not tag:
            raise config.error("signals", f"expected the logged tag as text, got {tag!r}", role)
    return MappingProxyType(dict(value))


_SETTING_READERS = {
    "select": lambda config, value: _read_selectors(config, "select", value),
    "ignore": lambda config, value: _read_selectors(config, "ignore", value),
    "fail_on": _read_fail_on,
    "rules_dirs": _read_rules_dirs,
    "rule_options": _read_rule_options,
    "signals": _read_signals,
}
