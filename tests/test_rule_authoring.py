"""What a rule author reads (issue 11, point 5): `explain` in every format, `features`, a
current docs/rules.md, a README example that loads and a README that says how remedies are
ordered."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrdoctor.cli import EXIT_INPUT_ERROR, EXIT_OK, main
from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.engine import load_catalogue
from lrdoctor.engine.vocabulary import REMEDY_KINDS
from lrdoctor.features import known_features
from lrdoctor.reporters.rules import DOCS_COMMAND

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
RULES_README = ROOT / "rules" / "README.md"
DOCS = ROOT / "docs" / "rules.md"
CSV_RUN = ROOT / "sample_logs" / "dev" / "plain_csv" / "bold-falcon-5363.csv"


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(known_features=known_features())


def test_explain_all_prints_every_page(catalogue):
    text = run_cli("explain", "--all").stdout
    headings = re.findall(r"^# (\S+) \((\w+)\)$", text, flags=re.MULTILINE)
    assert headings == [(rule.name, rule.code) for rule in catalogue]
    document = json.loads(run_cli("explain", "--all", "--format", "json").stdout)
    assert [page["code"] for page in document["rules"]] == [rule.code for rule in catalogue]


def test_explain_json_is_the_rule_file_checked(catalogue):
    path = ROOT / "rules" / "LRD102-loss-explodes.toml"
    data = tomllib.loads(path.read_text())
    page = json.loads(run_cli("explain", "loss-explodes", "--format", "json").stdout)
    assert (page["code"], page["label"], page["priority"]) == ("LRD102", data["label"], 41)
    assert page["condition"] == data["condition"]
    assert page["page"]["why"] == " ".join(data["page"]["why"].split())
    for name, option in data["options"].items():
        assert page["options"][name]["default"] == option["default"]
        assert page["options"][name]["help"] == option["help"]
    kinds = [remedy["kind"] for remedy in page["remedies"]]
    assert kinds == sorted((r["kind"] for r in data["remedies"]), key=REMEDY_KINDS.index)
    assert page["remedies"][-1]["fallback"] == "Lower the peak learning rate 3-10x."


def test_explain_markdown_is_the_rules_section_of_the_docs():
    section = run_cli("explain", "LRD201", "--format", "markdown").stdout
    assert section.startswith("## LRD201 loss-oscillates\n")
    assert (
        "| Condition | `" in section and "### Remedies, in the order reports show them" in section
    )
    assert section.strip() in DOCS.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ("loss-explode", "loss-explodes"),
        ("lrd102", "LRD102"),
        ("minibach-noise", "minibatch-noise"),
    ],
)
def test_an_unknown_rule_gets_a_did_you_mean(given, hint):
    result = CliRunner().invoke(main, ["explain", given])
    assert result.exit_code == EXIT_INPUT_ERROR
    assert result.stderr.strip().splitlines() == [
        f"Error: no rule {given!r} (did you mean `{hint}`?); `lrdoctor rules` lists them"
    ]


@pytest.mark.parametrize("args", [[], ["--all", "LRD101"]], ids=["neither", "both"])
def test_explain_needs_a_rule_or_all(args):
    result = CliRunner().invoke(main, ["explain", *args])
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "give either a RULE (code or name) or --all" in result.stderr


def test_features_lists_every_name_a_condition_may_use():
    entries = json.loads(run_cli("features", "--format", "json").stdout)["features"]
    by_name = {entry["name"]: entry for entry in entries}
    assert len(by_name) == len(entries) and set(by_name) == known_features()
    assert all(len(entry["doc"].split()) >= 3 for entry in entries)
    assert (by_name["growth"]["kind"], by_name["growth"]["signals"]) == (
        "feature",
        ["train_loss", "val_loss"],
    )
    assert by_name["val_noise"]["signals"] == ["val_loss"]
    assert by_name["val_noise"]["doc"].startswith("`noise` measured on the validation loss.")
    assert by_name["has_grad_norm"]["signals"] == ["grad_norm"]
    assert by_name["spike_coincidence"]["kind"] == "across"
    assert by_name["batch_size"]["kind"] == "run fact"
    text = run_cli("features").stdout
    listed = re.findall(r"^  (\w+) +", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(known_features())


def test_docs_rules_md_is_what_the_generator_writes_now():
    written = run_cli("explain", "--all", "--format", "markdown").stdout
    assert DOCS.read_text(encoding="utf-8") == written, (
        f"docs/rules.md is out of date with the rule files: regenerate it with `{DOCS_COMMAND}`"
    )


def _readme_example() -> str:
    text = RULES_README.read_text(encoding="utf-8")
    section = text.split("## A complete example", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, flags=re.DOTALL).group(1)


def _advice_names() -> set[str]:
    """The values the advisor computes, taken from a real diagnosis."""
    run = read_runs([str(CSV_RUN)]).runs[0]
    return set(Doctor().diagnose(run).advice)


def test_the_readme_example_loads_beside_the_builtin_rules(tmp_path, catalogue):
    example = _readme_example()
    data = tomllib.loads(example)
    file_name = f"{data['code']}-{data['name']}.toml"
    assert f"`{file_name}`" in RULES_README.read_text(encoding="utf-8")
    (tmp_path / file_name).write_text(example)
    loaded = load_catalogue(extra_dirs=[tmp_path], known_features=known_features())
    rule = loaded.get(data["code"])
    assert rule is not None and len(loaded) == len(catalogue) + 1
    needs = {name for remedy in rule.remedies for name in remedy.needs}
    assert needs and needs <= _advice_names(), "the example needs values no advisor computes"


def test_the_readme_lists_every_value_the_advisor_computes():
    text = RULES_README.read_text(encoding="utf-8")
    table = text.split("The values a remedy may list in `needs`", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert listed == _advice_names() - known_features()


def test_the_readme_states_the_remedy_order_the_reports_use(tmp_path):
    text = RULES_README.read_text(encoding="utf-8")
    kind_row = next(line for line in text.splitlines() if line.startswith("| `kind` |"))
    kinds = kind_row.split("What it changes:", 1)[1].split(". ", 1)[0]
    stated = re.findall(r"`(\w+)`", kinds)
    assert stated == list(REMEDY_KINDS)
    assert "remedies of the same kind keep their order in the file" in kind_row
    # A rule whose remedies are written lr, data, lr: reports show data, then both lr ones
    # in the file's order.
    rule = _readme_example().replace('code = "ACME101"', 'code = "ORD001"')
    rule = rule.replace('name = "loss-ends-high"', 'name = "order-check"')
    rule = rule.replace('condition = "growth > max_growth"', 'condition = "points > 0"')
    rule += '\n[[remedies]]\nkind = "lr"\ntext = "Second lr remedy."\n'
    (tmp_path / "ORD001-order-check.toml").write_text(rule)
    args = ["--rules-dir", str(tmp_path), "--select", "ORD001", "--jobs", "1"]
    result = run_cli("diagnose", str(CSV_RUN), *args, "--format", "json")
    remedies = json.loads(result.stdout)["runs"][0]["findings"][0]["remedies"]
    assert [remedy.split()[0] for remedy in remedies] == ["Check", "Lower", "Second"]
    page = run_cli("explain", "ORD001", "--rules-dir", str(tmp_path), "--format", "json").stdout
    assert [r["kind"] for r in json.loads(page)["remedies"]] == ["data", "lr", "lr"]
    assert run_cli("explain", "ORD001", "--rules-dir", str(tmp_path)).exit_code == EXIT_OK


def test_docs_rules_md_names_rule_files_not_paths_of_this_machine():
    docs = DOCS.read_text(encoding="utf-8")
    assert "| File | `LRD101-loss-not-finite.toml` |" in docs
    assert str(ROOT) not in docs
