"""Configuration: discovery, checking, command-line precedence and its effect on verdicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from engine_cases import KNOWN_FEATURES, RULE_FILES

from lrdoctor.engine import (
    Config,
    ConfigError,
    evaluate,
    find_config_file,
    load_catalogue,
    load_config,
    load_config_file,
    select_rules,
    with_command_line,
)


@pytest.fixture
def rules():
    return load_catalogue([RULE_FILES], KNOWN_FEATURES, include_builtin=False)


def loss_growing(times: float) -> dict:
    return {
        "train_loss": {
            "points": 200,
            "first_step": 0,
            "last_step": 1990,
            "first_nonfinite_step": None,
            "final_over_initial": times,
        }
    }


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- discovery --------------------------------------------------------------------------------


def test_pyproject_section_is_found_walking_up_from_a_run_folder(tmp_path):
    pyproject = write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.lrdoctor]\nselect = ["USR1"]\nfail-on = "error"\n',
    )
    run_folder = tmp_path / "runs" / "exp1" / "seed0"
    run_folder.mkdir(parents=True)
    assert find_config_file(run_folder) == pyproject
    assert find_config_file(run_folder / "events.out.tfevents.1") == pyproject
    config = load_config(run_folder)
    assert config.source == pyproject
    assert config.select == ("USR1",)
    assert config.fail_on == "error"
    assert config.ignore == ()


def test_pyproject_without_the_section_is_passed_over(tmp_path):
    own_file = write(tmp_path / "lrdoctor.toml", 'ignore = ["few-loss-points"]\n')
    write(tmp_path / "project" / "pyproject.toml", "[tool.black]\nline-length = 99\n")
    config = load_config(tmp_path / "project")
    assert config.source == own_file
    assert config.ignore == ("few-loss-points",)


def test_lrdoctor_toml_wins_over_pyproject_in_the_same_folder(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.lrdoctor]\nfail-on = "info"\n')
    own_file = write(tmp_path / "lrdoctor.toml", 'fail-on = "error"\n')
    config = load_config(tmp_path)
    assert (config.source, config.fail_on) == (own_file, "error")


def test_the_nearest_configuration_wins(tmp_path):
    write(tmp_path / "lrdoctor.toml", 'fail-on = "error"\n')
    nearer = write(tmp_path / "sub" / "pyproject.toml", '[tool.lrdoctor]\nfail-on = "info"\n')
    assert load_config(tmp_path / "sub").source == nearer
    assert load_config(tmp_path / "sub").fail_on == "info"


def test_all_keys_are_read(tmp_path):
    (tmp_path / "my_rules").mkdir()
    config = load_config_file(
        write(
            tmp_path / "lrdoctor.toml",
            """
select = ["USR", "grad-norm-spikes-often"]
ignore = ["USR301"]
fail-on = "info"
rules-dir = "my_rules"

[rules.USR101]
max_growth = 5

[signals]
train_loss = "loss/train"
grad_norm = "optim/grad_norm"
""",
        )
    )
    assert config.select == ("USR", "grad-norm-spikes-often")
    assert config.ignore == ("USR301",)
    assert config.fail_on == "info"
    assert config.rules_dirs == ((tmp_path / "my_rules").resolve(),)
    assert {key: dict(value) for key, value in config.rule_options.items()} == {
        "USR101": {"max_growth": 5}
    }
    assert dict(config.signals) == {"train_loss": "loss/train", "grad_norm": "optim/grad_norm"}


# --- checking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('selct = ["USR101"]', "tool.lrdoctor.selct: unknown key (did you mean `select`?)"),
        ('fail_on = "error"', "tool.lrdoctor.fail_on: unknown key (did you mean `fail-on`?)"),
        ('fail-on = "fatal"', "tool.lrdoctor.fail-on: 'fatal' is not one of info, warning, error"),
        ('select = "USR101"', "tool.lrdoctor.select: expected a list of rule codes"),
        ("ignore = [101]", "tool.lrdoctor.ignore: expected a list of rule codes"),
        ('rules-dir = "missing"', "tool.lrdoctor.rules-dir: 'missing' is not a folder"),
        ('rules = ["USR101"]', "tool.lrdoctor.rules: expected tables of rule options"),
        (
            'signals = {train_los = "loss"}',
            "tool.lrdoctor.signals.train_los: unknown signal role (did you mean `train_loss`?)",
        ),
        ("signals = {val_loss = 3}", "tool.lrdoctor.signals.val_loss: expected the logged tag"),
    ],
)
def test_invalid_configuration_names_file_and_key(tmp_path, body, expected):
    pyproject = write(tmp_path / "pyproject.toml", f"[tool.lrdoctor]\n{body}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(raised.value).startswith(f"{pyproject}: {expected}")


def test_keys_in_lrdoctor_toml_are_named_without_the_tool_prefix(tmp_path):
    own_file = write(tmp_path / "lrdoctor.toml", 'fail-on = "never"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(raised.value) == f"{own_file}: fail-on: 'never' is not one of info, warning, error"


def test_malformed_toml_is_a_config_error(tmp_path):
    write(tmp_path / "lrdoctor.toml", "select = [\n")
    with pytest.raises(ConfigError, match="lrdoctor.toml: is not valid TOML"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "[tool.lrdoctor.rules.loss-nan-or-explodes]\nmax_growth = 0.5",
            "tool.lrdoctor.rules.loss-nan-or-explodes.max_growth: 0.5 is below the minimum 1.0",
        ),
        (
            "[tool.lrdoctor.rules.USR201]\nmax_spike_fraction = 1.5",
            "tool.lrdoctor.rules.USR201.max_spike_fraction: 1.5 is above the maximum 1.0",
        ),
        (
            "[tool.lrdoctor.rules.USR201]\nmin_points = 2.5",
            "tool.lrdoctor.rules.USR201.min_points: expected an integer, got 2.5",
        ),
        (
            "[tool.lrdoctor.rules.USR101]\nmax_growth = true",
            "tool.lrdoctor.rules.USR101.max_growth: expected a number, got True",
        ),
        (
            '[tool.lrdoctor.rules.USR101]\nmax_growth = "5"',
            "tool.lrdoctor.rules.USR101.max_growth: expected a number, got '5'",
        ),
        (
            "[tool.lrdoctor.rules.USR101]\nmax_grwth = 5",
            "tool.lrdoctor.rules.USR101.max_grwth: rule USR101 loss-nan-or-explodes has no such "
            "option (its options: max_growth)",
        ),
        (
            "[tool.lrdoctor.rules.loss-nan-or-explode]\nmax_growth = 5",
            "tool.lrdoctor.rules.loss-nan-or-explode: no rule has this code or name (did you mean "
            "`loss-nan-or-explodes`?)",
        ),
        (
            "[tool.lrdoctor.rules.USR101]\nmax_growth = 5\n"
            "[tool.lrdoctor.rules.loss-nan-or-explodes]\nmax_growth = 6",
            "tool.lrdoctor.rules.loss-nan-or-explodes: rule USR101 loss-nan-or-explodes is already "
            "configured under `USR101`",
        ),
        (
            '[tool.lrdoctor]\nselect = ["USR9"]',
            "tool.lrdoctor.select: 'USR9' matches no rule code, code prefix or rule name",
        ),
        (
            '[tool.lrdoctor]\nignore = ["loss-explodes"]',
            "tool.lrdoctor.ignore: 'loss-explodes' matches no rule code",
        ),
    ],
)
def test_rule_settings_are_checked_against_the_catalogue(tmp_path, rules, table, expected):
    pyproject = write(tmp_path / "pyproject.toml", f"{table}\n")
    config = load_config(tmp_path)
    with pytest.raises(ConfigError) as raised:
        select_rules(rules, config)
    assert str(raised.value).startswith(f"{pyproject}: {expected}")


# --- effect on verdicts --------------------------------------------------------------------------


def test_option_override_in_pyproject_changes_the_verdict(tmp_path, rules):
    features = loss_growing(4.2)
    [finding] = evaluate(rules, Config(), features)
    assert (finding.label, finding.message.split(";")[0]) == (
        "diverging",
        "loss grew 4.2x from start to end (limit 3.0x)",
    )
    write(
        tmp_path / "pyproject.toml", "[tool.lrdoctor.rules.loss-nan-or-explodes]\nmax_growth = 5\n"
    )
    config = load_config(tmp_path)
    assert evaluate(rules, config, features) == []
    [finding] = evaluate(rules, config, loss_growing(6.0))
    assert dict(finding.parameters) == {"max_growth": 5.0}
    assert finding.message.startswith("loss grew 6.0x from start to end (limit 5.0x)")


def test_option_override_by_code_in_lrdoctor_toml_makes_a_rule_fire(tmp_path, rules):
    features = loss_growing(2.5)
    assert evaluate(rules, Config(), features) == []
    write(tmp_path / "lrdoctor.toml", "[rules.USR101]\nmax_growth = 2\n")
    [finding] = evaluate(rules, load_config(tmp_path), features)
    assert (finding.code, finding.label) == ("USR101", "diverging")


@pytest.mark.parametrize(
    ("select", "ignore", "expected"),
    [
        (None, [], ["USR101", "USR201", "USR301"]),
        (["USR101"], [], ["USR101"]),
        (["USR"], ["USR3"], ["USR101", "USR201"]),
        (["usr2", "few-loss-points"], [], ["USR201", "USR301"]),
        (None, ["grad-norm-spikes-often", "USR101"], ["USR301"]),
        ([], [], []),
    ],
)
def test_select_and_ignore_by_code_prefix_and_name(rules, select, ignore, expected):
    config = with_command_line(Config(), select=select, ignore=ignore)
    assert [active.rule.code for active in select_rules(rules, config)] == expected


def test_ignored_rule_no_longer_gives_its_verdict(tmp_path, rules):
    features = loss_growing(4.2)
    write(tmp_path / "pyproject.toml", '[tool.lrdoctor]\nignore = ["loss-nan-or-explodes"]\n')
    assert evaluate(rules, load_config(tmp_path), features) == []


def test_command_line_wins_over_the_file_and_errors_name_the_option(tmp_path, rules):
    write(
        tmp_path / "pyproject.toml",
        '[tool.lrdoctor]\nselect = ["USR1"]\nfail-on = "info"\n'
        "[tool.lrdoctor.rules.USR301]\nmin_points = 50\n",
    )
    config = with_command_line(load_config(tmp_path), select=["USR3"], fail_on="error")
    assert (config.select, config.fail_on) == (("USR3",), "error")
    [active] = select_rules(rules, config)
    assert dict(active.options) == {"min_points": 50}
    with pytest.raises(ConfigError) as raised:
        with_command_line(config, fail_on="fatal")
    assert (
        str(raised.value) == "command line: --fail-on: 'fatal' is not one of info, warning, error"
    )
    with pytest.raises(ConfigError) as raised:
        select_rules(rules, with_command_line(config, ignore=["LRD999"]))
    assert str(raised.value) == (
        "command line: --ignore: 'LRD999' matches no rule code, code prefix or rule name"
    )


def test_rules_dir_from_configuration_loads_user_rules(tmp_path):
    (tmp_path / "team").mkdir()
    shutil.copy(RULE_FILES / "USR201-grad-norm-spikes-often.toml", tmp_path / "team" / "x.toml")
    write(tmp_path / "pyproject.toml", '[tool.lrdoctor]\nrules-dir = ["team"]\n')
    config = load_config(tmp_path)
    assert config.rules_dirs == ((tmp_path / "team").resolve(),)
    catalogue = load_catalogue(config.rules_dirs, KNOWN_FEATURES, include_builtin=False)
    [finding] = evaluate(catalogue, config, {"grad_norm": {"points": 30, "spike_fraction": 0.2}})
    assert finding.code == "USR201"


def test_rules_dir_on_the_command_line_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "config_home" / "rules_a").mkdir(parents=True)
    (tmp_path / "work" / "rules_b").mkdir(parents=True)
    write(tmp_path / "config_home" / "lrdoctor.toml", 'rules-dir = "rules_a"\n')
    config = load_config(tmp_path / "config_home")
    assert config.rules_dirs == ((tmp_path / "config_home" / "rules_a").resolve(),)
    monkeypatch.chdir(tmp_path / "work")
    overridden = with_command_line(config, rules_dirs=[Path("rules_b")])
    assert overridden.rules_dirs == ((tmp_path / "work" / "rules_b").resolve(),)
