"""Short curves (fewer than 8 points) get a verdict only on unambiguous evidence: NaN, or a
jump of a hundredfold; otherwise insufficient_data. Runs trained for real, logged per epoch."""

from pathlib import Path

import pytest
from trained_runs import dev_task, logged_run

from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from tools.samples.logview import LogPlan
from tools.samples.training import ModelSpec, Recipe
from tools.samples.writers import write_keras_csv

KERAS_EPOCHS = LogPlan("keras_csv", "training.log", "epoch", val=False)


def _five_epochs(folder: Path, lr: float):
    """A linear model trained by SGD for five epochs, one Keras CSV row per epoch."""
    recipe = Recipe(dev_task(101), ModelSpec("linear", ()), "sgd", lr, 32, 5)
    write_keras_csv(folder, logged_run(recipe, KERAS_EPOCHS))
    (run,) = read_runs([folder]).runs
    return run, Doctor().diagnose(run)


def test_five_epochs_that_blow_up_are_diverging_not_insufficient(tmp_path):
    run, diagnosis = _five_epochs(tmp_path, 0.6)  # 3e5 after one epoch, 2e27 after five
    loss = run.curves["loss"].values
    assert loss.size == 5 and loss[-1] / loss[0] > 100
    assert diagnosis.verdict == "diverging"
    assert diagnosis.findings[0].code == "LRD104"


def test_five_calm_epochs_are_insufficient_data(tmp_path):
    _, diagnosis = _five_epochs(tmp_path, 0.1)
    assert diagnosis.verdict == "insufficient_data"
    assert [finding.code for finding in diagnosis.findings] == ["LRD001"]


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("wy1iu_sphereface_103_loss_rising.csv", "insufficient_data"),  # 4 points, 1.33x
        ("yunyang1994_tf2examples_8_warmup_lr_nan.csv", "diverging"),  # NaN at step 750
    ],
)
def test_short_real_logs_are_judged_only_on_unambiguous_evidence(shared_fixtures, name, verdict):
    (run,) = read_runs([shared_fixtures / "wild2" / "csv" / name]).runs
    assert Doctor().diagnose(run).verdict == verdict
