"""The rule engine: rules are data (TOML files), conditions a safe expression language.

Flow: `load_catalogue` reads and checks the rule files, `load_config` finds the user's
settings, `with_command_line` lets the command line override them, and `evaluate` applies
the selected rules to a run's features, returning `Finding`s.
"""

from lrdoctor.engine.catalogue import (
    Catalogue,
    OptionSpec,
    RemedySpec,
    Rule,
    RulePage,
    builtin_rules_dir,
    load_catalogue,
    load_rule_file,
)
from lrdoctor.engine.conditions import Expression, ExpressionError, compile_expression
from lrdoctor.engine.config import (
    ActiveRule,
    Config,
    find_config_file,
    load_config,
    load_config_file,
    select_rules,
    with_command_line,
)
from lrdoctor.engine.errors import ConfigError, EngineError, RuleError
from lrdoctor.engine.evaluate import Finding, Remedy, evaluate, evaluate_rules, fails
from lrdoctor.engine.templates import Template, TemplateError, compile_template

__all__ = [
    "ActiveRule",
    "Catalogue",
    "Config",
    "ConfigError",
    "EngineError",
    "Expression",
    "ExpressionError",
    "Finding",
    "OptionSpec",
    "Remedy",
    "RemedySpec",
    "Rule",
    "RuleError",
    "RulePage",
    "Template",
    "TemplateError",
    "builtin_rules_dir",
    "compile_expression",
    "compile_template",
    "evaluate",
    "evaluate_rules",
    "fails",
    "find_config_file",
    "load_catalogue",
    "load_config",
    "load_config_file",
    "load_rule_file",
    "select_rules",
    "with_command_line",
]
