"""Confidences are fitted precisions: shrunk counts, written as data, read back by the engine."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sample_runs import SAMPLE_LOGS, firing_runs_on_disk, healthy_run, run_path

from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.engine import RuleError, builtin_rules_dir, compile_expression, load_catalogue
from lrdoctor.engine.catalogue import UNCALIBRATED_CONFIDENCE, VERDICTS_FILE
from tools.calibrate import (
    FIRST_SIGHT,
    HEALTHY,
    UNJUDGED,
    Novelty,
    branch_of,
    first_sight_pairs,
    fit,
    fit_novelty,
    fitted_confidence,
    fitted_expressions,
    read_first_sight,
    reliability,
    rescore,
    write,
)


@pytest.fixture
def rules_copy(tmp_path):
    """A private copy of the built-in rules, which tests may rewrite."""
    folder = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), folder)
    return folder


def _rules(folder):
    return list(Doctor(rules_dirs=[folder], builtin_rules=False).catalogue)


def _judged(rules):
    return [rule for rule in rules if rule.label not in UNJUDGED]


def test_fit_shrinks_each_cell_towards_its_verdicts_precision():
    observations = [
        ("A", "x", True, True),
        ("A", "x", True, True),
        ("A", "x", True, True),
        ("A", "x", False, True),
        ("A", "x", False, False),
        ("B", "x", None, False),
        ("B", "x", None, True),
        ("B", "x", None, True),
    ]
    result = fit(observations, {"C": "x"})
    assert result.prior("x") == pytest.approx(7 / 10)  # 6 of 8 right, Laplace-smoothed
    assert result.confidence("A", True) == 0.88  # (3 + 2 * 0.7) / 5
    assert result.confidence("A", False) == 0.6  # (1 + 1.4) / 4
    assert result.confidence("B", None) == 0.68  # (2 + 1.4) / 5
    assert result.confidence("C", None) == 0.7  # never seen: the prior


def test_a_verdict_right_every_time_is_still_not_certain():
    result = fit([("A", "x", None, True)] * 500)
    assert result.confidence("A", None) == 0.99


def test_the_branch_is_the_test_the_confidence_makes_and_survives_a_rewrite(rules_copy):
    rules = {rule.code: rule for rule in _rules(rules_copy)}
    split = next(rule for rule in rules.values() if branch_of(rule) is not None)
    test = branch_of(split)
    result = fit([(split.code, split.label, True, False), (split.code, split.label, False, True)])
    rewritten = fitted_confidence(split, test, result)
    assert " - " in rewritten  # the true side is right less often: a negative step
    assert f"({test.text})" in rewritten
    assert branch_of(_with_confidence(split, rewritten)).text == test.text
    assert branch_of(_with_confidence(split, "0.9")) is None


def _with_confidence(rule, text):
    return replace(rule, confidence=compile_expression(text))


def _synthetic_fit(rules):
    """A fit that moves every confidence away from what the rule files say."""
    observations = [(HEALTHY, HEALTHY, None, right) for right in (True, True, False)]
    for rule in rules:
        branch = None if branch_of(rule) is None else True
        observations += [
            (rule.code, rule.label, branch, True),
            (rule.code, rule.label, None, False),
        ]
    labels = {HEALTHY: HEALTHY} | {rule.code: rule.label for rule in rules}
    return fit(observations, labels)


def test_write_changes_only_confidence_lines_and_the_rules_still_load(rules_copy):
    without = Path(_judged(_rules(rules_copy))[0].source)  # its confidence line is removed
    lines = without.read_text().splitlines(keepends=True)
    without.write_text("".join(line for line in lines if not line.startswith("confidence")))
    rules = _judged(_rules(rules_copy))
    before = {path.name: path.read_text() for path in rules_copy.iterdir() if path.is_file()}
    tests = {rule.code: branch_of(rule) for rule in rules}
    result = _synthetic_fit(rules)

    write(rules_copy, rules, tests, result)

    changed = 0
    for name, text in before.items():
        old, new = text.splitlines(), (rules_copy / name).read_text().splitlines()
        if name == without.name:
            assert [line for line in new if not line.startswith("confidence")] == old
            assert len(new) == len(old) + 1
            changed += 1
            continue
        assert len(old) == len(new), name
        diff = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        assert all(a.startswith("confidence =") and b.startswith("confidence =") for a, b in diff)
        changed += bool(diff)
    assert changed == len(rules) + 1  # every judged rule and the healthy verdict
    catalogue = load_catalogue([rules_copy], include_builtin=False)
    assert catalogue.healthy_confidence == result.confidence(HEALTHY, None)
    for rule in rules:
        fitted = fitted_confidence(rule, tests[rule.code], result)
        read = catalogue.get(rule.code).confidence.text
        assert read == fitted if tests[rule.code] else float(read) == float(fitted)


def _sample_runs():
    names = [healthy_run(), *firing_runs_on_disk().values()]
    return [run for name in names for run in read_runs([run_path(name)]).runs]


def test_rescoring_gives_what_diagnosing_with_the_written_rules_gives(rules_copy):
    rules = _judged(_rules(rules_copy))
    tests = {rule.code: branch_of(rule) for rule in rules}
    result = _synthetic_fit(rules)
    before = Doctor(rules_dirs=[rules_copy], builtin_rules=False)
    write(rules_copy, rules, tests, result)
    after = Doctor(rules_dirs=[rules_copy], builtin_rules=False)
    new = fitted_expressions(rules, tests, result)
    runs = _sample_runs()
    assert {after.diagnose(run).verdict for run in runs} >= {"healthy", "diverging"}
    for run in runs:
        old, fresh = before.diagnose(run), after.diagnose(run)
        verdict, confidence = rescore(old, new, result.confidence(HEALTHY, None))
        assert (verdict, confidence) == pytest.approx((fresh.verdict, fresh.confidence))


def test_healthy_confidence_is_read_from_the_rules_folder(rules_copy):
    (rules_copy / VERDICTS_FILE).write_text("[verdicts.healthy]\nconfidence = 0.42\n")
    (run,) = read_runs([run_path(healthy_run())]).runs
    diagnosis = Doctor(rules_dirs=[rules_copy], builtin_rules=False).diagnose(run)
    assert (diagnosis.verdict, diagnosis.confidence) == ("healthy", 0.42)
    assert diagnosis.to_dict()["confidence"] == 0.42


def test_the_builtin_healthy_confidence_is_measured_not_certain():
    (run,) = read_runs([run_path(healthy_run())]).runs
    diagnosis = Doctor().diagnose(run)
    assert diagnosis.verdict == "healthy"
    assert diagnosis.confidence == load_catalogue().healthy_confidence < 1.0


def test_without_a_verdicts_file_healthy_is_a_coin_flip(rules_copy):
    (rules_copy / VERDICTS_FILE).unlink()
    catalogue = load_catalogue([rules_copy], include_builtin=False)
    assert catalogue.healthy_confidence == UNCALIBRATED_CONFIDENCE == 0.5
    assert catalogue.get("LRD101") is not None  # the data file is not a rule, and not needed


@pytest.mark.parametrize(
    "text",
    [
        "[verdicts.diverging]\nconfidence = 0.5\n",
        "[verdicts.healthy]\nconfidence = 1.5\n",
        "[verdicts.healthy]\nconfidence = 0.9\nnote = 'x'\n",
        "confidence = 0.9\n",
    ],
)
def test_a_malformed_verdicts_file_is_refused(rules_copy, text):
    (rules_copy / VERDICTS_FILE).write_text(text)
    with pytest.raises(RuleError, match=VERDICTS_FILE):
        load_catalogue([rules_copy], include_builtin=False)


def test_reliability_bins_and_expected_calibration_error():
    scored = [(0.95, True), (0.95, False), (0.6 + 0.3, True), (0.55, True), (0.3, False)]
    bins, ece = reliability(scored)
    rows = {(b.low, b.high): (b.count, b.share_right, b.mean_confidence) for b in bins}
    count, share, mean = rows[0.9, 1.0]  # 0.6 + 0.3 is 0.9
    assert (count, share) == (3, pytest.approx(2 / 3))
    assert mean == pytest.approx((0.95 + 0.95 + 0.9) / 3)
    assert rows[0.5, 0.6] == (1, 1.0, 0.55)
    assert rows[0.0, 0.5] == (1, 0.0, 0.3)
    assert rows[0.8, 0.9] == (0, None, None)
    # gaps: |2/3 - 0.9333| on 3 runs, |1 - 0.55| and |0 - 0.3| on one each
    assert ece == pytest.approx((3 * (0.9333333 - 2 / 3) + 0.45 + 0.3) / 5)


def test_a_rule_without_a_confidence_is_uncalibrated_not_certain(rules_copy):
    """A verdict is never 1.00 by default: a rule file that states no confidence gets 0.5."""
    path = rules_copy / "LRD102-loss-explodes.toml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(x for x in lines if not x.startswith("confidence")), "utf-8")
    rule = next(r for r in _rules(rules_copy) if r.code == "LRD102")
    assert rule.confidence.evaluate({}) == 0.5


def test_the_novelty_map_learns_how_often_stated_confidence_held():
    # stated 0.95 but right 3 times in 5, stated 0.6 and right 1 time in 2: the map lowers both
    scored = [(0.95, True)] * 30 + [(0.95, False)] * 20 + [(0.6, True)] * 10 + [(0.6, False)] * 10
    novelty = fit_novelty(scored)
    assert novelty(0.95) == pytest.approx(0.6, abs=0.02)
    assert novelty(0.6) == pytest.approx(0.5, abs=0.02)
    assert novelty(0.9) < novelty(0.95)  # monotone: it never reorders findings
    calibrated = [(0.9, True)] * 90 + [(0.9, False)] * 10 + [(0.5, True)] * 50 + [(0.5, False)] * 50
    identity = fit_novelty(calibrated)
    assert identity(0.9) == pytest.approx(0.9, abs=0.01) and identity(0.5) == pytest.approx(0.5)


def test_the_novelty_map_applies_to_every_fitted_value():
    observations = [("A", "x", None, True)] * 9 + [("A", "x", None, False)]
    halving = Novelty(intercept=-2.0, slope=1.0)
    plain, mapped = fit(observations), fit(observations, novelty=halving)
    assert mapped.confidence("A", None) < plain.confidence("A", None)
    assert mapped.confidence("A", None) == pytest.approx(
        halving((9 + 2 * plain.prior("x")) / 12), abs=0.005
    )


def test_first_sight_records_are_the_spent_splits_as_labelled():
    """tools/first_sight.json holds what the rules of each spent held-out split's day said of
    it; every run is a labelled dev run of that split, with the label it has now."""
    labels = json.loads((SAMPLE_LOGS / "labels.json").read_text())["runs"]
    records = read_first_sight(FIRST_SIGHT)
    assert records
    for record in records:
        entry = labels[record["run"]]
        assert entry["split"] == "dev" and entry["label"] == record["label"], record
        assert record["commit"] in entry["generation"], record
        assert 0 < record["confidence"] <= 1
    pairs = first_sight_pairs(records)
    stated_high = [right for confidence, right in pairs if confidence >= 0.9]
    # the reason for the map: verdicts stated at 0.9 or more were right less than 90% of the time
    assert sum(stated_high) / len(stated_high) < 0.9
