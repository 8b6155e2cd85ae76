"""Short curves (fewer than 8 points) get a verdict only on unambiguous evidence: NaN, a jump
of a hundredfold, a rise at every logged point, a loss that begins and stays at the chance
level; otherwise insufficient_data. Runs trained for real, logged per epoch, and real
published logs whose authors stated the outcome."""

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
    ("name", "verdict", "code"),
    [
        # 35.8, 38.8, 43.7, 47.7: up at every log, 1.33x ("loss=87.3365" follows)
        ("wy1iu_sphereface_103_loss_rising.csv", "diverging", "LRD106"),
        ("yunyang1994_tf2examples_8_warmup_lr_nan.csv", "diverging", "LRD101"),  # NaN at 750
        # CIFAR-10, 2.330 -> 2.304 over 4 epochs: ln 10 = 2.3026
        ("archsyscall_convnets_tf2_2_mobilenet_stuck_at_chance.csv", "too_slow", "LRD303"),
        # ImageNet, 6.9116 ... 6.9070 over 5 logs: ln 1000 = 6.9078
        ("jixing0415_caffe_mobilenetv3_1_loss_flat_at_chance.csv", "too_slow", "LRD303"),
        # 55.98, 47.15, 47.41, 63.44, 53.04, 57.99, 50.31: noise or a bounce, 7 points can't tell
        ("chenyilun95_tfcpn_40_loss_fluctuates.csv", "insufficient_data", "LRD001"),
    ],
)
def test_short_real_logs_are_judged_only_on_unambiguous_evidence(
    shared_fixtures, name, verdict, code
):
    (run,) = read_runs([shared_fixtures / "wild2" / "csv" / name]).runs
    diagnosis = Doctor().diagnose(run)
    assert (diagnosis.verdict, diagnosis.findings[0].code) == (verdict, code)


def test_a_short_rise_that_falls_back_is_not_called_diverging(shared_fixtures, tmp_path):
    """The sphereface log with its last point lowered below the one before: no longer a rise
    at every point, so the four points are too few to judge."""
    source = shared_fixtures / "wild2" / "csv" / "wy1iu_sphereface_103_loss_rising.csv"
    lines = source.read_text().splitlines()
    step, loss, lr = lines[-1].split(",")
    changed = tmp_path / "dips.csv"
    changed.write_text("\n".join([*lines[:-1], f"{step},{float(loss) * 0.85:.4f},{lr}"]) + "\n")
    (run,) = read_runs([changed]).runs
    assert Doctor().diagnose(run).verdict == "insufficient_data"
