"""The evaluation harness (tools/evaluate.py, tools/evaluation/): scores and calibration on
hand-made records, grouping, both labels.json schemas, and leave-one-family-out tuning on a
small folder of runs trained for real."""

import json
from math import isclose

import pytest
from trained_runs import logged_run

import tools.evaluation.lofo
from tools.evaluate import evaluate, lofo
from tools.evaluation.judging import Rejudge, judge
from tools.evaluation.labels import labelled_run, read_labels
from tools.evaluation.lofo import read_tuning, tune
from tools.evaluation.scoring import by_group, expected_calibration_error, reliability, score
from tools.samples.logview import LogPlan
from tools.samples.tasks import TaskSpec
from tools.samples.training import ModelSpec, Recipe
from tools.samples.writers import write_wide_csv

H, D = "healthy", "diverging"


def test_reliability_table_and_calibration_error_by_hand():
    records = [
        (H, D, 0.2),  # 0.0-0.5: 1 run, mean 0.2, right 0
        (H, H, 0.55),
        (H, D, 0.55),  # 0.5-0.6: mean 0.55, right 0.5
        (D, D, 0.6 + 0.3),  # 0.8999999999999999: rounded into 0.9-1.0
        (D, D, 0.95),  # 0.9-1.0: mean 0.925, right 1
        (H, H, 1.0),
        (D, H, 1.0),  # exactly 1.0: mean 1, right 0.5
    ]
    bins = reliability(records)
    table = [(b.low, b.high, b.count, b.mean_confidence, b.share_right) for b in bins]
    assert [row[:3] for row in table] == [
        (0.0, 0.5, 1),
        (0.5, 0.6, 2),
        (0.6, 0.7, 0),
        (0.7, 0.8, 0),
        (0.8, 0.9, 0),
        (0.9, 1.0, 2),
        (1.0, 1.0, 2),
    ]
    assert table[1][3:] == (pytest.approx(0.55), 0.5)
    assert table[5][3:] == (pytest.approx(0.925), 1.0)
    assert table[6][3:] == (1.0, 0.5)
    assert table[2][3:] == (None, None)
    expected = (1 * 0.2 + 2 * 0.05 + 2 * 0.075 + 2 * 0.5) / 7
    assert isclose(expected_calibration_error(bins), expected)
    assert isclose(score(records).expected_calibration_error, expected)


def test_macro_f1_counts_labels_present_even_ones_no_rule_gives():
    scores = score([("overfitting", H, 0.9), (H, H, 0.9), (D, D, 1.0)])
    assert scores.labels == (H, D, "overfitting")
    assert scores.recall == {H: 1.0, D: 1.0, "overfitting": 0.0}
    assert scores.f1[H] == pytest.approx(2 / 3)  # precision 1/2, recall 1
    assert scores.macro_f1 == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert scores.accuracy == pytest.approx(2 / 3)
    assert scores.healthy_false_alarm_rate == 0.0


def test_scores_by_family_and_format_skip_a_grouping_some_runs_lack():
    records = [(H, H, 1.0), (D, H, 1.0), (D, D, 1.0), (H, D, 0.6)]
    groups = [
        {"family": "mlp", "format": "csv", "logger": "wandb"},
        {"family": "mlp", "format": "tb", "logger": "wandb"},
        {"family": "rnn", "format": "csv"},
        {"family": "rnn", "format": "csv"},
    ]
    found = by_group(records, groups)
    assert list(found) == ["family", "format"]
    assert {k: (s.runs, s.accuracy) for k, s in found["family"].items()} == {
        "mlp": (2, 0.5),
        "rnn": (2, 0.5),
    }
    assert found["family"]["mlp"].confusion == {H: {H: 1}, D: {H: 1}}
    assert found["format"]["csv"].confusion == {H: {H: 1, D: 1}, D: {D: 1}}


def test_both_label_schemas_give_family_and_cadence():
    old = labelled_run(
        "a.csv",
        {"label": H, "split": "dev", "format": "wide_csv", "recipe": {"model": "rnn"},
         "logging": {"cadence": "sample"}},
    )  # fmt: skip
    new = labelled_run(
        "b.csv",
        {"label": D, "split": "heldout", "format": "wide_csv", "logger": "wandb",
         "family": "gru", "cadence": "epoch", "recipe": {"model": "rnn_gru"}},
    )  # fmt: skip
    assert old.groups == {"family": "rnn", "format": "wide_csv", "cadence": "sample"}
    assert new.groups == {
        "family": "gru",
        "format": "wide_csv",
        "logger": "wandb",
        "cadence": "epoch",
    }


# --- Leave one family out, on runs trained for real ---------------------------------------

LINEAR = Recipe(
    TaskSpec("linear_regression", 6, 256, 64, noise=0.1, data_seed=3),
    ModelSpec("linear"),
    "sgd",
    0.05,
    16,
    12,
    seed=1,
)  # 192 steps
MLP = Recipe(
    TaskSpec("teacher_regression", 5, 256, 64, noise=0.05, data_seed=4),
    ModelSpec("mlp", (16,)),
    "adam",
    0.01,
    16,
    15,
    seed=2,
)  # 240 steps


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two families, each a run logged at 12 points and one at about 100: too few points
    only when `too-few-points.min_points` is doubled from 8 to 16."""
    root = tmp_path_factory.mktemp("lofo")
    for family, recipe, every_short in (("linear", LINEAR, 16), ("mlp", MLP, 20)):
        for length, every in (("short", every_short), ("long", 2)):
            plan = LogPlan("wide_csv", f"{family}-{length}.csv", "sample", every)
            write_wide_csv(root, logged_run(recipe, plan))
    (root / "tuning.toml").write_text(
        'multipliers = [0.5, 2.0]\nrounds = 1\noptions = ["too-few-points.min_points"]\n'
    )
    return root


def write_labels(root, short_labels):
    """labels.json (schema 2): a long run healthy, a short one as `short_labels[family]`."""
    runs = {
        f"{family}-{length}.csv": {
            "label": short_labels[family] if length == "short" else H,
            "split": "dev",
            "format": "wide_csv",
            "family": family,
        }
        for family in ("linear", "mlp")
        for length in ("short", "long")
    }
    (root / "labels.json").write_text(json.dumps({"schema": 2, "runs": runs}))


def test_default_options_reproduce_the_audit_from_features_measured_once(folder):
    write_labels(folder, {"linear": H, "mlp": H})
    result, doctor, features = judge(folder)
    assert set(features) == {d.name for d in result.diagnoses} == set(read_labels(folder))
    rejudge = Rejudge(doctor, result.diagnoses, features)
    assert rejudge.verdicts() == {d.name: (d.verdict, d.confidence) for d in result.diagnoses}
    default = rejudge.verdicts()
    doubled = rejudge.verdicts({"too-few-points": {"min_points": 16}})
    assert {name for name, judged in doubled.items() if judged != default[name]} == {
        "linear-short.csv",
        "mlp-short.csv",
    }
    assert doubled["mlp-short.csv"] == ("insufficient_data", 1.0)
    assert evaluate(folder, result)["dev"].runs == 4


def test_left_out_family_is_scored_with_options_tuned_only_on_the_others(folder, monkeypatch):
    tuning_file = folder / "tuning.toml"
    write_labels(folder, {"linear": "insufficient_data", "mlp": "insufficient_data"})
    judged = judge(folder)
    tuned_on = []

    def spy(rejudge, runs, tuning):
        tuned_on.append(sorted(run.name for run in runs))
        return tune(rejudge, runs, tuning)

    monkeypatch.setattr(tools.evaluation.lofo, "tune", spy)
    both = {r.family: r for r in lofo(folder, judged, tuning_file)}
    assert tuned_on == [["mlp-long.csv", "mlp-short.csv"], ["linear-long.csv", "linear-short.csv"]]
    doubled = {"too-few-points": {"min_points": 16}}
    assert both["linear"].options == both["mlp"].options == doubled
    assert both["linear"].runs == both["linear"].tuned_on == 2
    assert both["linear"].accuracy_tuned == 1.0 > both["linear"].accuracy_default

    # Relabelling the left-out family changes its score but not what was tuned for it ...
    write_labels(folder, {"linear": H, "mlp": "insufficient_data"})
    relabelled = {r.family: r for r in lofo(folder, judged, tuning_file)}
    assert relabelled["linear"].options == doubled
    assert relabelled["linear"].accuracy_tuned == 0.5
    # ... while relabelling the family tuned on does change it.
    assert relabelled["mlp"].options == {}

    result, doctor, features = judged
    rejudge = Rejudge(doctor, result.diagnoses, features)
    mlp_only = [run for run in read_labels(folder).values() if run.family == "mlp"]
    assert tune(rejudge, mlp_only, read_tuning(tuning_file, doctor.catalogue)) == doubled
