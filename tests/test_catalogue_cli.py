"""The built-in rule catalogue stays honest, and `rules` / `explain` show it."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrdoctor.cli import EXIT_INPUT_ERROR, EXIT_OK, main
from lrdoctor.diagnosis import VERDICTS
from lrdoctor.engine import load_catalogue
from lrdoctor.engine.vocabulary import REMEDY_KINDS
from lrdoctor.features import ACROSS, FEATURES, known_features

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
RULE_FILES = sorted(RULES_DIR.glob("LRD*.toml"))


def test_the_catalogue_loads_and_covers_every_failure_verdict():
    catalogue = load_catalogue(known_features=known_features())
    assert sorted(rule.code for rule in catalogue) == sorted(
        tomllib.loads(path.read_text())["code"] for path in RULE_FILES
    )
    failure_verdicts = set(VERDICTS) - {"healthy", "unreadable"}
    assert {rule.label for rule in catalogue} == failure_verdicts


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_every_builtin_rule_has_a_full_page(path):
    data = tomllib.loads(path.read_text())
    assert path.stem == f"{data['code']}-{data['name']}"
    page = data["page"]
    for section in ("what", "why", "example"):
        assert len(page[section].split()) >= 5, f"{path.name}: page.{section} is too thin"
    assert page["references"], f"{path.name}: no references"
    assert data["remedies"], f"{path.name}: no remedies"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_explain_prints_each_rule_page(path):
    data = tomllib.loads(path.read_text())
    for key in (data["code"], data["name"]):
        result = CliRunner().invoke(main, ["explain", key], catch_exceptions=False)
        assert result.exit_code == EXIT_OK
        out = result.stdout
        assert out.startswith(f"# {data['name']} ({data['code']})")
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
            assert heading in out
        for option in data.get("options", {}):
            assert f"`{option}`" in out
        fix = out.split("## Fix (in this order)\n")[1].split("\n\n")[0].splitlines()
        shown = [line.split("[", 1)[1].split("]", 1)[0] for line in fix]
        assert sorted(shown) == sorted(remedy["kind"] for remedy in data["remedies"])
        assert shown == sorted(shown, key=REMEDY_KINDS.index), "causes other than the LR first"
        assert "lr" not in shown or shown[-1] == "lr"


def test_explain_unknown_rule_is_a_usage_error():
    result = CliRunner().invoke(main, ["explain", "LRD999"])
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "no rule 'LRD999'" in result.stderr


def test_rules_lists_the_catalogue_as_text_and_json():
    runner = CliRunner()
    text = runner.invoke(main, ["rules"], catch_exceptions=False).stdout
    document = json.loads(runner.invoke(main, ["rules", "--format", "json"]).stdout)
    codes = [rule["code"] for rule in document["rules"]]
    assert len(codes) == len(RULE_FILES)
    for rule in document["rules"]:
        assert f"{rule['code']}  {rule['name']}" in text
        assert rule["condition"]


def test_every_feature_is_documented():
    for name, spec in (FEATURES | ACROSS).items():
        assert len(spec.doc.split()) >= 3, f"feature {name} has no docstring saying what it is"


def test_a_malicious_user_rule_is_refused_with_a_clear_error(tmp_path):
    text = (RULES_DIR / "LRD301-loss-crawls.toml").read_text()
    text = text.replace('code = "LRD301"', 'code = "EVL001"').replace(
        'name = "loss-crawls"', 'name = "evil"'
    )
    for condition, construct in [
        ("__import__('os').system('touch pwned')", "call"),
        ("trend_tau.__class__", "attribute"),
        ("[x for x in (1, 2)]", "comprehension"),
    ]:
        folder = tmp_path / construct
        folder.mkdir()
        start = text.index("\ncondition = ")
        end = text.index("\n", start + 1)
        rule = text[:start] + f"\ncondition = {json.dumps(condition)}" + text[end:]
        (folder / "EVL001-evil.toml").write_text(rule)
        result = CliRunner().invoke(main, ["rules", "--rules-dir", str(folder)])
        assert result.exit_code == EXIT_INPUT_ERROR, condition
        assert "EVL001-evil.toml" in result.stderr
        assert construct in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_help_has_examples_for_every_command():
    runner = CliRunner()
    for command in ([], ["runs"], ["audit"], ["diagnose"], ["rules"], ["explain"], ["features"]):
        for flag in ("--help", "-h"):
            result = runner.invoke(main, [*command, flag], catch_exceptions=False)
            assert result.exit_code == EXIT_OK
            assert "Examples:" in result.stdout and "lrdoctor " in result.stdout


def test_version():
    from lrdoctor import __version__

    result = CliRunner().invoke(main, ["--version"])
    assert result.stdout.strip() == f"lrdoctor, version {__version__}"
