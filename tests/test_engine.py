"""The rule engine: the safe expression language, templates, rule files and evaluation."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from engine_cases import KNOWN_FEATURES, RULE_FILES

from lrdoctor.engine import (
    Config,
    ExpressionError,
    RuleError,
    TemplateError,
    builtin_rules_dir,
    compile_expression,
    compile_template,
    evaluate,
    fails,
    load_catalogue,
    load_rule_file,
)
from lrdoctor.engine.evaluate import UNDETERMINED_CONFIDENCE

HEALTHY_LOSS = {
    "points": 200,
    "first_step": 0,
    "last_step": 1990,
    "first_nonfinite_step": None,
    "final_over_initial": 0.21,
}


def catalogue():
    return load_catalogue([RULE_FILES], KNOWN_FEATURES, include_builtin=False)


# --- the expression language -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("growth > limit", {"growth": 4.2, "limit": 3}, True),
        ("growth > limit", {"growth": 2.0, "limit": 3}, False),
        ("0 < ratio <= 1", {"ratio": 0.5}, True),
        ("0 < ratio <= 1", {"ratio": 1.5}, False),
        ("a + b * c - d / e", {"a": 1, "b": 2, "c": 3, "d": 8, "e": 4}, 5.0),
        ("step % 10", {"step": 23}, 3),
        ("-x + +y", {"x": 2, "y": 5}, 3),
        ("not (a > 1) and (b == 2 or c != 3)", {"a": 0, "b": 5, "c": 4}, True),
        ("flag and count >= 3", {"flag": True, "count": 3}, True),
        ("0.6 + 0.4 * (g > 30)", {"g": 42.0}, 1.0),
        ("1e-3 < lr < 1e-1", {"lr": 3e-3}, True),
        ("True", {}, True),
    ],
)
def test_expressions_compute_arithmetic_comparisons_and_logic(text, values, expected):
    assert compile_expression(text).evaluate(values) == pytest.approx(expected)


def test_expression_reports_the_names_it_reads():
    expression = compile_expression("first_nonfinite_step >= 0 or growth > 3 * max_growth")
    assert expression.names == {"first_nonfinite_step", "growth", "max_growth"}


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ("a.__class__", "attribute access"),
        ("loss.real > 1", "attribute access"),
        ("open('x')", "a function call"),
        ("__import__('os').system('true')", "a function call"),
        ("import os", "an import statement"),
        ("__builtins__", "the name `__builtins__`"),
        ("_private > 1", "the name `_private`"),
        ("values[0] > 1", "subscripting"),
        ("(lambda: 1) == 1", "a lambda"),
        ("[x for x in range(3)]", "a list comprehension"),
        ("{x for x in y}", "a set comprehension"),
        ("{x: 1 for x in y}", "a dict comprehension"),
        ("sum(x for x in y)", "a function call"),
        ("any(x for x in y)", "a function call"),
        ("f'{a}' == 'b'", "an f-string"),
        ("(n := 10) > 1", "an assignment expression (:=)"),
        ("*rest", "unpacking (*)"),
        ("9 ** 9 ** 9", "the power operator (**)"),
        ("10 // 3", "the // operator"),
        ("a | b", "the | operator"),
        ("~a", "the ~ operator"),
        ("'text' == name", "a string"),
        ("x is None", "the `is` operator"),
        ("x in (1, 2)", "the `in` operator"),
        ("a if b else c", "a conditional expression (if/else)"),
        ("[1, 2]", "a list"),
        ("3j > 1", "a complex number"),
        ("x = 1", "an assignment"),
        ("a; b", "several statements"),
        ("None", "None"),
    ],
)
def test_expressions_refuse_everything_outside_the_whitelist(text, construct):
    with pytest.raises(ExpressionError) as raised:
        compile_expression(text)
    assert str(raised.value).startswith(construct)
    assert "not allowed" in str(raised.value)


def test_refusal_quotes_the_offending_part_and_its_column():
    with pytest.raises(ExpressionError) as raised:
        compile_expression("growth > 3 and x.__class__")
    assert str(raised.value) == "attribute access is not allowed: `x.__class__` (column 16)"


def test_syntax_errors_and_oversized_expressions_are_refused():
    with pytest.raises(ExpressionError, match="is not a valid expression"):
        compile_expression("growth >")
    with pytest.raises(ExpressionError, match="is empty"):
        compile_expression("  ")
    with pytest.raises(ExpressionError, match="characters long"):
        compile_expression(" + ".join(["a"] * 1000))
    with pytest.raises(ExpressionError, match="nesting deeper than 64 levels"):
        compile_expression("-" * 100 + "1")


@pytest.mark.parametrize("missing", [None, math.nan])
def test_comparisons_with_missing_values_are_unknown_and_never_hold(missing):
    values = {"x": missing, "limit": 3.0}
    for text in [
        "x > limit",
        "x <= limit",
        "x == x",
        "x != limit",
        "not (x > limit)",
        "-x < limit",
        "x + 1 > limit",
        "0 < x < 10",
    ]:
        expression = compile_expression(text)
        assert expression.evaluate(values) is None, text
        assert expression.holds(values) is False, text


def test_and_or_follow_three_valued_logic():
    values = {"absent": None, "big": 10.0}
    assert compile_expression("absent > 1 or big > 5").holds(values) is True
    assert compile_expression("big > 5 or absent > 1").holds(values) is True
    assert compile_expression("absent > 1 and big > 50").evaluate(values) is False
    assert compile_expression("absent > 1 and big > 5").evaluate(values) is None
    assert compile_expression("absent > 1 or big > 50").evaluate(values) is None
    assert compile_expression("not (absent > 1 and big > 50)").holds(values) is True


def test_names_not_given_are_missing_and_division_by_zero_is_unknown():
    assert compile_expression("nowhere > 1").evaluate({}) is None
    assert compile_expression("a / b > 1").evaluate({"a": 1, "b": 0}) is None
    assert compile_expression("a % b").evaluate({"a": 1, "b": 0}) is None
    assert compile_expression("a > 1").holds({"a": math.inf}) is True


# --- message templates --------------------------------------------------------------------


def test_templates_format_with_specs_and_say_unknown_for_missing_values():
    template = compile_template("loss grew {growth:.1f}x over {steps} steps (limit {limit}x)")
    assert template.fields == ("growth", "steps", "limit")
    assert template.render({"growth": 4.2371, "steps": 50, "limit": 3.0}) == (
        "loss grew 4.2x over 50 steps (limit 3.0x)"
    )
    assert template.render({"growth": None, "steps": 50, "limit": 3}) == (
        "loss grew unknownx over 50 steps (limit 3x)"
    )
    assert (
        compile_template("{share:.0%} nan={v:.2f} {{literal}}").render(
            {"share": 0.25, "v": math.nan}
        )
        == "25% nan=nan {literal}"
    )
    # a share or growth of a loss that reached 1e30 is not printed as thirty digits
    huge = compile_template("by {share:.0%} of its drop, {growth:.1f}x, inf={v:.1f}")
    assert huge.render({"share": 8.489e32, "growth": 1.8e30, "v": math.inf}) == (
        "by 8.49e+34% of its drop, 1.8e+30x, inf=inf"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{a.b}", "no attribute or index access"),
        ("{a.__class__.__init__.__globals__}", "no attribute or index access"),
        ("{a[0]}", "no attribute or index access"),
        ("{}", "an empty field"),
        ("{0}", "a field is a feature or option name"),
        ("{_hidden}", "a field is a feature or option name"),
        ("{a!r}", "conversion `!r`"),
        ("{a:{width}}", "nested fields"),
        ("{a:999999999}", "more than 99 characters"),
        ("{a:s}", "does not format numbers"),
        ("unbalanced {", "literal braces"),
    ],
)
def test_templates_refuse_anything_but_names_with_format_specs(text, problem):
    with pytest.raises(TemplateError, match=problem):
        compile_template(text)


# --- rule files and the catalogue ---------------------------------------------------------


def test_catalogue_loads_rule_files_with_all_their_fields():
    rules = catalogue()
    assert [str(rule) for rule in rules] == [
        "USR101 loss-nan-or-explodes",
        "USR201 grad-norm-spikes-often",
        "USR301 few-loss-points",
    ]
    diverges = rules.get("loss-nan-or-explodes")
    assert diverges is rules.get("USR101")
    assert (diverges.label, diverges.severity, diverges.signal, diverges.priority) == (
        "diverging",
        "error",
        "train_loss",
        10,
    )
    assert diverges.defaults == {"max_growth": 3.0}
    option = diverges.options["max_growth"]
    assert (option.type, option.minimum, option.maximum) == ("float", 1.0, None)
    assert option.help.startswith("How many times the initial loss")
    assert diverges.steps == ("first_step", "last_step")
    assert diverges.evidence == ("first_nonfinite_step", "final_over_initial")
    assert diverges.page.example == "loss 2.3 at step 0, 41.7 at step 500, NaN from step 520"
    assert diverges.page.references == ("https://cs231n.github.io/neural-networks-3/#loss",)
    assert [remedy.kind for remedy in diverges.remedies] == ["data", "lr"]
    assert diverges.remedies[1].needs == ("lr", "lr_low", "lr_high")
    assert Path(diverges.source).name == "USR101-loss-nan-or-explodes.toml"
    spikes = rules.get("USR201")
    assert spikes.evidence == ("points", "spike_fraction")
    assert spikes.defaults == {"max_spike_fraction": 0.05, "min_points": 20}
    assert spikes.page.references == ()


def test_builtin_rules_are_the_repository_rules_wherever_lrdoctor_is_installed():
    folder = builtin_rules_dir()
    repository = Path(__file__).resolve().parents[1] / "rules"
    shipped = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".toml"))
    assert shipped == sorted(path.name for path in repository.glob("*.toml"))
    assert (folder / "README.md").is_file()


def test_user_rules_dir_is_loaded_together_with_the_builtin_rules():
    builtin = load_catalogue()
    combined = load_catalogue([RULE_FILES])
    assert len(combined) == len(builtin) + 3
    assert combined.get("USR201").title == (
        "The gradient norm spikes far above its median again and again"
    )


def test_files_starting_with_underscore_or_not_toml_are_skipped(tmp_path):
    shutil.copy(RULE_FILES / "USR301-few-loss-points.toml", tmp_path / "USR301.toml")
    (tmp_path / "_draft.toml").write_text("this is not even TOML")
    (tmp_path / "notes.md").write_text("# notes")
    rules = load_catalogue([tmp_path], KNOWN_FEATURES, include_builtin=False)
    assert [rule.code for rule in rules] == ["USR301"]


def test_duplicate_code_names_both_files(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    shutil.copy(RULE_FILES / "USR301-few-loss-points.toml", first / "one.toml")
    text = (RULE_FILES / "USR301-few-loss-points.toml").read_text()
    (second / "two.toml").write_text(text.replace('name = "few-loss-points"', 'name = "other"'))
    with pytest.raises(RuleError) as raised:
        load_catalogue([first, second], KNOWN_FEATURES, include_builtin=False)
    message = str(raised.value)
    assert message.startswith(str(second / "two.toml"))
    assert "USR301 is already defined in" in message and str(first / "one.toml") in message


def test_duplicate_name_is_refused(tmp_path):
    shutil.copy(RULE_FILES / "USR301-few-loss-points.toml", tmp_path / "one.toml")
    text = (RULE_FILES / "USR301-few-loss-points.toml").read_text()
    (tmp_path / "two.toml").write_text(text.replace('"USR301"', '"USR302"'))
    with pytest.raises(RuleError, match="few-loss-points is already defined in .*one.toml"):
        load_catalogue([tmp_path], KNOWN_FEATURES, include_builtin=False)


def write_rule(folder: Path, replacements: dict[str, str], name: str = "rule.toml") -> Path:
    """A copy of USR101 with lines replaced (key -> whole new line, "" to drop the line)."""
    lines = (RULE_FILES / "USR101-loss-nan-or-explodes.toml").read_text().splitlines()
    for key, new_line in replacements.items():
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} ="))
        lines[index] = new_line
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("condition", "construct"),
    [
        ("points.__class__ == 1", "attribute access"),
        ("open('/etc/passwd') != 0", "a function call"),
        ("__import__('os').system('touch pwned') == 0", "a function call"),
        ("points[0] > 1", "subscripting"),
        ("(lambda: 0)() > 1", "a function call"),
        ("[x for x in points] == 1", "a list comprehension"),
        ("__debug__", "the name `__debug__`"),
        ("10 ** 10 ** 10 > points", "the power operator (**)"),
    ],
)
def test_malicious_condition_in_a_rule_file_names_file_and_construct(
    tmp_path, condition, construct
):
    path = write_rule(tmp_path, {"condition": f"condition = '''{condition}'''"})
    with pytest.raises(RuleError) as raised:
        load_rule_file(path, KNOWN_FEATURES)
    message = str(raised.value)
    assert message.startswith(f"{path}: condition: {construct} is not allowed")


def test_unknown_feature_name_is_refused_at_load_time_with_a_suggestion(tmp_path):
    path = write_rule(tmp_path, {"condition": 'condition = "final_over_intial > max_growth"'})
    with pytest.raises(RuleError) as raised:
        load_rule_file(path, KNOWN_FEATURES)
    assert str(raised.value) == (
        f"{path}: condition: unknown name `final_over_intial`: not a feature nor an option "
        "of this rule (did you mean `final_over_initial`?)"
    )
    assert load_rule_file(path).condition.names == {"final_over_intial", "max_growth"}


@pytest.mark.parametrize(
    ("replacements", "expected"),
    [
        (
            {"severity": 'severity = "fatal"'},
            "severity: 'fatal' is not one of info, warning, error",
        ),
        ({"label": 'label = "healthy"'}, "label: 'healthy' is not one of diverging, "),
        ({"signal": 'signal = "accuracy"'}, "signal: 'accuracy' is not one of train_loss, "),
        ({"code": 'code = "101"'}, "code: '101' is not of the form 'LRD101'"),
        ({"name": 'name = "Loss_Diverges"'}, "name: 'Loss_Diverges' is not of the form"),
        ({"title": ""}, "title: is required"),
        ({"priority": 'priority = "high"'}, "priority: expected an integer, got 'high'"),
        ({"confidence": "confidence = 1.5"}, "confidence: expected a number from 0 to 1"),
        (
            {"condition": 'condtion = "points > 1"'},
            "condtion: unknown key (did you mean `condition`?)",
        ),
        (
            {"message": 'message = "grew {final_over_initial.real}"'},
            "message: field `{final_over_initial.real}` is not allowed",
        ),
        ({"message": 'message = "grew {growth}"'}, "message: unknown name `growth`"),
        ({"evidence": 'evidence = ["spikes"]'}, "evidence: unknown name `spikes`"),
        (
            {"steps": 'steps = ["first_step", "last_step", "points"]'},
            "steps: expected at most 2 feature names, got 3",
        ),
        ({"default": "default = 0.5"}, "options.max_growth.default: 0.5 is below the minimum 1.0"),
        ({"type": 'type = "string"'}, "options.max_growth.type: 'string' is not one of float, "),
        ({"help": ""}, "options.max_growth.help: is required"),
        ({"what": ""}, "page.what: is required"),
        ({"kind": 'kind = "magic"'}, "remedies[0].kind: 'magic' is not one of data, "),
        (
            {"fallback": ""},
            "remedies[1].fallback: is required because the text uses values "
            "that may be unknown: lr, lr_low, lr_high",
        ),
        (
            {"fallback": 'fallback = "Lower it to {lr_low}."'},
            "remedies[1].fallback: may use only the rule's options",
        ),
        ({"needs": 'needs = ["lr", "lr_low"]'}, "remedies[1].text: unknown name `lr_high`"),
    ],
)
def test_invalid_fields_are_refused_naming_file_and_key(tmp_path, replacements, expected):
    path = write_rule(tmp_path, replacements)
    with pytest.raises(RuleError) as raised:
        load_rule_file(path, KNOWN_FEATURES)
    assert str(raised.value).startswith(f"{path}: {expected}")


def test_option_named_like_a_feature_and_malformed_toml_are_refused(tmp_path):
    path = write_rule(tmp_path, {})
    path.write_text(path.read_text().replace("max_growth", "points"))
    with pytest.raises(RuleError, match=r"options\.points: option `points` has the same name"):
        load_rule_file(path, KNOWN_FEATURES)
    path.write_text("code = \n")
    with pytest.raises(RuleError, match=r"rule\.toml: is not valid TOML"):
        load_rule_file(path, KNOWN_FEATURES)


def test_missing_rules_dir_is_an_error(tmp_path):
    with pytest.raises(RuleError, match="does not exist or is not a folder"):
        load_catalogue([tmp_path / "nowhere"], include_builtin=False)


# --- evaluation -----------------------------------------------------------------------------


def test_exploding_loss_gives_a_finding_with_evidence_message_and_steps():
    features = {"train_loss": {**HEALTHY_LOSS, "final_over_initial": 42.5}}
    [finding] = evaluate(catalogue(), Config(), features)
    assert (finding.code, finding.name, finding.label, finding.severity) == (
        "USR101",
        "loss-nan-or-explodes",
        "diverging",
        "error",
    )
    assert finding.confidence == 1.0
    assert finding.steps == (0, 1990)
    assert dict(finding.evidence) == {"first_nonfinite_step": None, "final_over_initial": 42.5}
    assert dict(finding.parameters) == {"max_growth": 3.0}
    assert finding.message == (
        "loss grew 42.5x from start to end (limit 3.0x); first NaN/inf at step unknown"
    )


def test_remedies_use_advisor_values_when_known_and_fall_back_otherwise():
    features = {"train_loss": {**HEALTHY_LOSS, "final_over_initial": 5.0}}
    [finding] = evaluate(catalogue(), Config(), features)
    data_first, lower_lr = finding.remedies
    assert data_first.kind == "data"
    assert data_first.render() == (
        "Check the inputs for NaN/inf and unscaled features before touching the learning rate."
    )
    assert lower_lr.needs == ("lr", "lr_low", "lr_high")
    assert lower_lr.render({"lr": 0.1, "lr_low": 0.01, "lr_high": 0.03}) == (
        "Lower the peak learning rate from 0.1 to 0.01..0.03."
    )
    assert lower_lr.render({"lr": 0.1}) == "Lower the peak learning rate 3-10x."
    assert lower_lr.render() == "Lower the peak learning rate 3-10x."
    assert finding.to_dict({"lr": 0.1})["remedies"][1]["text"] == (
        "Lower the peak learning rate 3-10x."
    )


def test_nan_loss_fires_with_undetermined_confidence_when_growth_is_unmeasurable():
    features = {
        "train_loss": {**HEALTHY_LOSS, "first_nonfinite_step": 520, "final_over_initial": math.nan}
    }
    [finding] = evaluate(catalogue(), Config(), features)
    assert finding.code == "USR101"
    assert finding.confidence == UNDETERMINED_CONFIDENCE
    assert finding.message == (
        "loss grew nanx from start to end (limit 3.0x); first NaN/inf at step 520"
    )


def test_healthy_features_give_no_findings_and_absent_signals_are_skipped():
    assert evaluate(catalogue(), Config(), {"train_loss": HEALTHY_LOSS}) == []
    spiky = {"points": 100, "spike_fraction": 0.09}
    [finding] = evaluate(catalogue(), Config(), {"grad_norm": spiky})
    assert finding.code == "USR201"
    assert finding.confidence == 0.7
    assert finding.steps is None
    assert finding.message == ("9.0% of steps had a gradient norm over 10x the median (limit 5%)")
    assert finding.remedies[0].render({"clip_at": 2.4}) == "Clip the gradient norm at about 2.4."


def test_missing_feature_values_keep_a_rule_quiet():
    no_grad_norm = {"points": None, "spike_fraction": None}
    assert evaluate(catalogue(), Config(), {"grad_norm": no_grad_norm}) == []


def test_findings_are_ordered_by_priority_and_numpy_scalars_are_accepted():
    features = {
        "train_loss": {
            "points": np.int64(5),
            "first_step": np.int64(0),
            "last_step": np.int64(40),
            "first_nonfinite_step": np.int64(30),
            "final_over_initial": np.float64(np.inf),
        },
        "grad_norm": {"points": 40, "spike_fraction": np.float64(0.5)},
    }
    findings = evaluate(catalogue(), Config(), features)
    assert [(finding.code, finding.priority) for finding in findings] == [
        ("USR301", 1),
        ("USR101", 10),
        ("USR201", 20),
    ]
    assert findings[0].message == "only 5 points logged (need 10)"
    assert findings[0].steps == (0, 40)
    assert findings[1].confidence == 1.0
    assert fails(findings, "error") and fails(findings, "warning")
    assert not fails(findings[:1], "warning")


def test_features_that_are_not_scalars_are_a_programming_error():
    with pytest.raises(TypeError, match="feature 'points' of signal 'train_loss' is a list"):
        evaluate(catalogue(), Config(), {"train_loss": {"points": [1, 2]}})
