"""Overfitting (LRD701): the validation loss climbs from its best while the training loss keeps
falling. Checked on runs trained for real and on real logs from public projects."""

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from trained_runs import logged_run

import lrdoctor
from lrdoctor.audit import audit
from lrdoctor.cli import EXIT_OK, main
from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.engine import evaluate_rules
from tools.samples.logview import LogPlan
from tools.samples.tasks import TaskSpec
from tools.samples.training import ModelSpec, Recipe
from tools.samples.writers import write_keras_csv

SCHEMA = json.loads((Path(lrdoctor.__file__).parent / "schemas" / "audit.schema.json").read_text())

# An MLP with 64 hidden units fits 64 noisy examples of a tanh teacher within a few epochs,
# then spends the other fifty memorising their noise.
FEW_EXAMPLES = TaskSpec("teacher_regression", 8, 64, 512, noise=0.5, data_seed=5)
MEMORISES = Recipe(FEW_EXAMPLES, ModelSpec("mlp", (64,)), "momentum", 0.02, 16, 60, seed=1)
KERAS_EPOCHS = LogPlan("keras_csv", "training.log", "epoch")


def _written(folder: Path, recipe: Recipe) -> Path:
    """Train `recipe` for real and write its Keras CSV log (one row per epoch) to `folder`."""
    write_keras_csv(folder, logged_run(recipe, KERAS_EPOCHS))
    return folder


def _diagnosis(folder: Path):
    (run,) = read_runs([folder]).runs
    return run, Doctor().diagnose(run)


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    return _written(tmp_path_factory.mktemp("memorised"), MEMORISES)


def test_a_memorised_training_set_is_overfitting_and_the_best_step_comes_first(memorised):
    run, diagnosis = _diagnosis(memorised)
    assert diagnosis.verdict == "overfitting"
    (finding,) = diagnosis.findings
    assert finding.code == "LRD701"
    val = run.curves["val_loss"]
    lowest = int(val.values.argmin())
    best_step = int(val.steps[lowest])
    assert finding.evidence["val_best_eval_step"] == best_step < int(val.steps[-1])
    assert finding.steps == (best_step, int(run.curves["loss"].steps[-1]))
    remedies = diagnosis.to_dict()["findings"][0]["remedies"]
    assert remedies[0].startswith(f"Keep the checkpoint of step {best_step},")
    assert f"({val.values[lowest]:.4g})" in remedies[0]
    assert remedies[1].startswith("Regularise") and "more data" in remedies[2]
    assert "learning rate" in remedies[-1]


def test_the_same_model_on_enough_data_is_healthy(tmp_path):
    plenty = replace(MEMORISES, task=replace(FEW_EXAMPLES, n_train=4096))
    _, diagnosis = _diagnosis(_written(tmp_path, plenty))
    assert diagnosis.verdict == "healthy"
    assert not diagnosis.findings


def test_a_training_dynamics_verdict_wins_and_overfitting_is_still_listed(tmp_path):
    """Twice the LR makes the evaluations bounce (LRD202) while the model memorises: the
    dynamics come first, so the verdict is theirs, and the overfitting finding follows.
    A diverging run cannot show this: its training loss does not keep falling."""
    _, diagnosis = _diagnosis(_written(tmp_path, replace(MEMORISES, lr=0.04)))
    assert diagnosis.verdict == "oscillating"
    codes = [finding.code for finding in diagnosis.findings]
    assert "LRD701" in codes and codes[0] != "LRD701"


def test_the_json_report_of_an_overfitting_run_follows_the_schema(memorised):
    result = CliRunner().invoke(
        main, ["audit", str(memorised), "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == EXIT_OK
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    (entry,) = document["runs"]
    assert entry["diagnosis"] == "overfitting"
    assert document["summary"]["by_diagnosis"] == {"overfitting": 1}


def test_explain_shows_the_overfitting_rule_with_stopping_first():
    result = CliRunner().invoke(main, ["explain", "LRD701"], catch_exceptions=False)
    assert result.exit_code == EXIT_OK
    assert "Verdict: overfitting." in result.stdout
    fix = result.stdout.split("## Fix (in this order)\n")[1].split("\n\n")[0].splitlines()
    kinds = [line.split("[", 1)[1].split("]", 1)[0] for line in fix]
    assert kinds == ["stopping", "regularisation", "regularisation", "lr"]


# Real runs of public projects with a label read from their curves (wild2/labels.json).
WILD2_OVERFITTING = (
    "hf/merlinmy_whisper_small_hi",  # five evaluations: too few for cross-curve features
    "keras_csv/irfanet10_heartsound_221017/training.log",  # training loss near the float floor
    "keras_csv/achuthan2909_ecg_analysis/training.log",
)


WILD2 = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "wild2"


@pytest.fixture(scope="module")
def wild2():
    """Every wild2 run diagnosed once, with the labels (read in place, never copied)."""
    if not WILD2.is_dir():
        pytest.skip("../shared/fixtures/wild2 is absent: the real third-party logs are not here")
    labels = json.loads((WILD2 / "labels.json").read_text())
    return {d.name: d for d in audit(WILD2).diagnoses}, labels


@pytest.mark.parametrize("name", WILD2_OVERFITTING)
def test_real_overfitting_runs_are_called_overfitting(wild2, name):
    diagnoses, _ = wild2
    assert diagnoses[name].verdict == "overfitting"
    assert diagnoses[name].findings[0].code == "LRD701"


def test_no_real_healthy_run_is_flagged_as_overfitting(wild2):
    """Among them a ViT fine-tune whose last evaluation ticks up (0.043 -> 0.054)."""
    diagnoses, labels = wild2
    healthy = [entry["path"] for entry in labels if entry["label"] == "healthy"]
    judged = [
        diagnosis
        for name, diagnosis in diagnoses.items()
        if any(
            path == name or path.startswith(name + "/") or name.startswith(path + "/")
            for path in healthy
        )
    ]
    assert len(judged) >= len(healthy) - 1  # the U-Net logged no training loss at all
    assert not [d.name for d in judged if any(f.code == "LRD701" for f in d.findings)]


def test_a_real_whisper_run_with_five_evaluations_quotes_its_first(shared_fixtures):
    (run,) = read_runs([shared_fixtures / "hf" / "whisper_large_v2_old_format"]).runs
    diagnosis = Doctor().diagnose(run)
    assert diagnosis.verdict == "overfitting"
    assert diagnosis.to_dict()["findings"][0]["remedies"][0].startswith(
        "Keep the checkpoint of step 1000, where the validation loss was lowest (0.321)"
    )


# Overfitting runs of the corpus (real training, checked against a fix that stops at the val
# loss's best) whose gradient norm or loss spikes above a level that collapsed as the
# training loss reached its floor: LRD501/LRD502 read those as exploding gradients.
SPIKES_AT_THE_FLOOR = (
    "dev/fresh/tensorboardx/resnet_cnn-radam-lr3e-02-b16-15207",
    "dev/fresh2/plain_csv/eager-maple-20351.csv",
    "dev/fresh3/torch_tensorboard/runs/mobilenet-adamw_gpt-lr1e-02-b16-25063",
    "dev/fresh3/torch_tensorboard/runs/proud-river-25071",
    "dev/fresh4/plain_csv/tagger-lion-lr3e-03-b16-30151.csv",
)


@pytest.mark.parametrize("name", SPIKES_AT_THE_FLOOR)
def test_spikes_at_the_floor_of_an_overfitting_run_do_not_hide_it(name):
    """The spike rules defer to LRD701: a val loss climbing while the training loss keeps
    falling is the finding to act on, and the spikes are measured against a collapsed level."""
    (run,) = read_runs([Path(__file__).parent.parent / "sample_logs" / name]).runs
    doctor = Doctor()
    diagnosis = doctor.diagnose(run)
    assert diagnosis.verdict == "overfitting"
    assert diagnosis.findings[0].code == "LRD701"
    spike_rules = [active for active in doctor.rules if active.rule.code in ("LRD501", "LRD502")]
    alone = evaluate_rules(spike_rules, doctor.features(run, diagnosis.signals))
    assert alone, "without LRD701 beside them the spike rules fire on this run"
