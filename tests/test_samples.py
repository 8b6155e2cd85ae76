"""The numpy sample generator (tools/samples), and the labelled corpus in sample_logs/."""

from __future__ import annotations

import csv
import json
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from trained_runs import logged_run

from lrdoctor.discovery import read_runs
from tools.samples.checks import (
    is_diverging,
    is_exploding_gradients,
    is_healthy,
    is_minibatch_noise,
    measure,
    passes,
)
from tools.samples.logview import GRAD_NORM, LR, TRAIN_LOSS, VAL_LOSS, LogPlan, logged_view
from tools.samples.models import MLP, Adam, VanillaRNN, clip_by_global_norm, global_norm
from tools.samples.recipes import SPLITS, candidates
from tools.samples.tasks import TaskSpec
from tools.samples.training import ModelSpec, Recipe, train
from tools.samples.writers import (
    LoggedRun,
    write_hf_trainer_state,
    write_lightning_csv,
    write_wide_csv,
)

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"
LINEAR_TASK = TaskSpec("linear_regression", 6, 256, 64, noise=0.1, data_seed=3)
HEALTHY_LINEAR = Recipe(LINEAR_TASK, ModelSpec("linear"), "sgd", 0.05, 16, 12, seed=1)


def _finite_difference_error(model, x, y) -> float:
    """Largest gap between backprop gradients and central differences, over every parameter."""
    _, grads = model.loss_and_grads(x, y)
    worst = 0.0
    for param, grad in zip(model.params, grads, strict=True):
        for index in range(param.size):
            original = param.flat[index]
            param.flat[index] = original + 1e-6
            above = model.loss(x, y)
            param.flat[index] = original - 1e-6
            below = model.loss(x, y)
            param.flat[index] = original
            worst = max(worst, abs((above - below) / 2e-6 - grad.flat[index]))
    return worst


@pytest.mark.parametrize(
    ("sizes", "loss", "activation"),
    [
        ([4, 1], "mse", "tanh"),  # linear regression
        ([4, 3], "ce", "tanh"),  # softmax (logistic) regression
        ([4, 6, 3], "ce", "tanh"),  # 2-layer MLP
        ([4, 5, 5, 5, 5, 2], "mse", "relu"),  # deep plain MLP
    ],
)
def test_mlp_gradients_match_finite_differences(sizes, loss, activation):
    rng = np.random.default_rng(0)
    model = MLP(sizes, loss, rng, activation=activation)
    x = rng.normal(size=(7, sizes[0]))
    y = rng.integers(0, sizes[-1], size=7) if loss == "ce" else rng.normal(size=(7, sizes[-1]))
    assert _finite_difference_error(model, x, y) < 1e-7


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_gradients_match_finite_differences(activation):
    rng = np.random.default_rng(1)
    model = VanillaRNN(3, 5, 2, rng, recurrent_gain=0.9, activation=activation)
    x = rng.normal(size=(4, 9, 3))
    y = rng.normal(size=(4, 9, 2))
    assert _finite_difference_error(model, x, y) < 1e-7


def test_clipping_scales_to_the_limit_and_leaves_small_gradients_alone():
    grads = [np.array([3.0, 4.0]), np.array([12.0])]
    norm = global_norm(grads)
    assert norm == pytest.approx(13.0)
    clipped = clip_by_global_norm(grads, 1.0, norm)
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-5)
    assert clip_by_global_norm(grads, 20.0, norm) is grads


def test_adam_first_step_moves_each_parameter_by_the_lr():
    params = [np.array([1.0, -2.0])]
    Adam().step(params, [np.array([0.5, -3.0])], lr=0.1)
    np.testing.assert_allclose(params[0], [0.9, -1.9], atol=1e-6)


def test_healthy_recipes_really_learn():
    linear = train(HEALTHY_LINEAR)
    assert linear.train_loss_full[-1] < linear.train_loss_full[0] / 20
    mlp_task = TaskSpec("teacher_regression", 5, 256, 64, noise=0.05, data_seed=4)
    mlp = train(Recipe(mlp_task, ModelSpec("mlp", (16,)), "adam", 0.01, 16, 15, seed=2))
    assert mlp.train_loss_full[-1] < mlp.train_loss_full[0] / 5
    rnn_task = TaskSpec("sequence_filter", 2, 64, 16, noise=0.02, seq_len=12, data_seed=5)
    rnn = train(Recipe(rnn_task, ModelSpec("rnn", (8,)), "adam", 0.01, 16, 15, clip=1.0, seed=3))
    assert rnn.train_loss_full[-1] < rnn.train_loss_full[0] / 3


def test_training_records_every_step_and_the_lr_actually_used():
    result = train(replace(HEALTHY_LINEAR, schedule="step"))
    steps = HEALTHY_LINEAR.epochs * HEALTHY_LINEAR.steps_per_epoch
    assert result.loss.shape == result.grad_norm.shape == result.lr.shape == (steps,)
    assert result.lr[0] == 0.05
    assert result.lr[-1] == pytest.approx(0.0005)
    assert result.eval_steps[0] == 0 and result.eval_steps[-1] == steps


def test_generation_is_deterministic():
    first, second = train(HEALTHY_LINEAR), train(HEALTHY_LINEAR)
    np.testing.assert_array_equal(first.loss, second.loss)
    np.testing.assert_array_equal(first.grad_norm, second.grad_norm)
    split = SPLITS["dev"]
    assert list(candidates(split, "oscillating", 3, 2)) == list(
        candidates(split, "oscillating", 3, 2)
    )


def test_diverging_recipe_turns_non_finite_and_stops_when_asked():
    result = train(replace(HEALTHY_LINEAR, lr=3.0, stop_on_nan=True))
    assert not np.isfinite(result.loss[-1])
    assert np.isfinite(result.loss[:-1]).all()
    assert result.stopped_at == result.steps - 1


def _measured(recipe: Recipe, floor: float = 0.0):
    result = train(recipe)
    plan = LogPlan("tensorboard", "x", "sample", 1, grad_norm=True)
    return measure(result, logged_view(result, plan), floor)


def test_label_checks_reject_mismatched_outcomes():
    healthy = _measured(HEALTHY_LINEAR, floor=0.0085)
    diverging = _measured(replace(HEALTHY_LINEAR, lr=3.0), floor=0.0085)
    assert is_healthy(healthy)
    assert not is_diverging(healthy)
    assert is_diverging(diverging)
    assert not is_healthy(diverging)
    # A run is not minibatch noise or exploding gradients just because its fix is healthy.
    assert not is_minibatch_noise(healthy, healthy)
    assert not is_exploding_gradients(healthy, healthy)
    assert not passes("too_slow", healthy, healthy)
    assert not passes("oscillating", healthy, None)


def test_healthy_means_flat_on_a_log_plot_unless_the_schedule_lowered_the_lr_late():
    healthy = _measured(HEALTHY_LINEAR, floor=0.0085)
    assert not healthy.lr_lowered_late and healthy.late_fall <= 0.05
    still_falling = replace(healthy, late_fall=0.2)
    assert not is_healthy(still_falling)
    assert is_healthy(replace(still_falling, lr_lowered_late=True))
    for schedule, lowered in [("cosine", True), ("step", True), ("warmup", False)]:
        recipe = replace(HEALTHY_LINEAR, schedule=schedule, warmup_fraction=0.1)
        assert _measured(recipe, floor=0.0085).lr_lowered_late is lowered, schedule


def test_a_poor_scaling_crawl_must_show_in_the_loss_itself():
    fixed = _measured(HEALTHY_LINEAR, floor=0.0085)
    crawl = replace(fixed, early_share=0.9, late_progress=0.3)
    deep_in_excess = replace(crawl, final=fixed.final * 30, late_fall=0.15)
    assert passes("poor_feature_scaling", deep_in_excess, fixed)
    assert not passes("poor_feature_scaling", replace(deep_in_excess, late_fall=0.04), fixed)


def _logged_run(plan: LogPlan) -> tuple[LoggedRun, dict]:
    run = logged_run(HEALTHY_LINEAR, plan)
    return run, run.view


def test_lightning_cadence_and_layout(tmp_path):
    plan = LogPlan(
        "lightning_csv", "lightning_logs/version_0", "lightning", 10, grad_norm=True, lr=True
    )
    run, view = _logged_run(plan)
    assert view[TRAIN_LOSS].steps[:3].tolist() == [9, 19, 29]
    write_lightning_csv(tmp_path, run)
    text = (tmp_path / plan.name / "metrics.csv").read_bytes().decode()
    assert text.startswith("epoch,grad_2.0_norm_total,lr-SGD,step,train_loss,val_loss\r\n")
    rows = list(csv.DictReader(text.splitlines()))
    train_rows = [row for row in rows if row["train_loss"]]
    assert [int(row["step"]) for row in train_rows] == view[TRAIN_LOSS].steps.tolist()
    assert float(train_rows[0]["train_loss"]) == pytest.approx(view[TRAIN_LOSS].values[0], rel=1e-6)
    assert sum(1 for row in rows if row["val_loss"]) == HEALTHY_LINEAR.epochs
    assert "lr: 0.05" in (tmp_path / plan.name / "hparams.yaml").read_text()


def test_trainer_state_logs_rounded_interval_means(tmp_path):
    plan = LogPlan("hf_trainer_state", "out/checkpoint-192", "mean", 8, grad_norm=True, lr=True)
    run, view = _logged_run(plan)
    write_hf_trainer_state(tmp_path, run)
    text = (tmp_path / plan.name / "trainer_state.json").read_text()
    state = json.loads(text)
    assert text == json.dumps(state, indent=2, sort_keys=True) + "\n"
    assert state["train_batch_size"] == 16
    train_entries = [entry for entry in state["log_history"] if "loss" in entry]
    result = train(HEALTHY_LINEAR)
    assert train_entries[0]["step"] == 8
    assert train_entries[0]["loss"] == round(float(result.loss[:8].mean()), 4)
    assert train_entries[0]["grad_norm"] == pytest.approx(result.grad_norm[7])
    assert (
        len([entry for entry in state["log_history"] if "eval_loss" in entry])
        == HEALTHY_LINEAR.epochs
    )


def test_csv_writers_are_byte_deterministic(tmp_path):
    plan = LogPlan("wide_csv", "csv/run.csv", "sample", 5, grad_norm=True, lr=True)
    first, _ = _logged_run(plan)
    write_wide_csv(tmp_path / "a", first)
    second, view = _logged_run(plan)
    write_wide_csv(tmp_path / "b", second)
    assert (tmp_path / "a/csv/run.csv").read_bytes() == (tmp_path / "b/csv/run.csv").read_bytes()
    header = (tmp_path / "a/csv/run.csv").read_text().splitlines()[0]
    assert header == "step,loss,val_loss,lr,grad_norm"
    assert set(view) == {TRAIN_LOSS, VAL_LOSS, LR, GRAD_NORM}


def _runs_on_disk(root: Path) -> set[str]:
    """Every run lrdoctor finds in the sample folder, by the name it lists it under."""
    found = read_runs([root])
    assert not found.problems, found.problems
    return {run.name for run in found.runs}


# What labels.json (schema 2, written by tools/corpus) says of every run in sample_logs/.
RUN_FIELDS = {
    "label",
    "split",
    "format",
    "logger",
    "family",
    "task",
    "optimizer",
    "schedule",
    "cadence",
    "batch_size",
    "lr",
    "precision",
    "logs",
    "recipe",
    "check",
}


HELD_OUT_SPENT = (
    "no held-out split: the last one was tuned on and joined dev; a new one is generated "
    "with python -m tools.corpus OUT --split NEW, a split of kinds dev has not seen"
)


@pytest.fixture(scope="module")
def labels() -> dict:
    if not (SAMPLE_LOGS / "labels.json").is_file():
        pytest.skip("sample_logs/ not generated (python -m tools.corpus sample_logs --split all)")
    return json.loads((SAMPLE_LOGS / "labels.json").read_text())


def test_labels_cover_every_run_on_disk(labels):
    # sweeps/ holds the LR sweeps, labelled by their own truth.json (tests/test_sweep.py);
    # MLflow lists its runs there by their run names, not paths
    sweeps = {run.name for run in read_runs([SAMPLE_LOGS / "sweeps"]).runs}
    on_disk = {n for n in _runs_on_disk(SAMPLE_LOGS) if not n.startswith("sweeps/")} - sweeps
    assert on_disk == set(labels["runs"])


LOGGED_FIELDS = {"grad_norm", "lr", "val", "train_loss", "train_loss_scale", "val_loss_scale"}


def test_every_run_is_described_in_full(labels):
    assert labels["schema"] == 2
    for name, run in labels["runs"].items():
        assert RUN_FIELDS <= set(run), (name, RUN_FIELDS - set(run))
        assert run["label"] in labels["verdicts"] and run["split"] in ("dev", "heldout"), name
        # which curves were logged; fresh4 also says how its logged loss was scaled
        assert {"grad_norm", "lr", "val"} <= set(run["logs"]) <= LOGGED_FIELDS, name
        assert run["recipe"]["lr"] == run["lr"] and run["recipe"]["batch_size"] == run["batch_size"]


def test_both_splits_hold_enough_runs_of_each_verdict(labels):
    """Healthy runs set the false-alarm rate; a verdict with a handful of runs has no recall."""
    per_split = Counter((run["split"], run["label"]) for run in labels["runs"].values())
    for split in sorted({split for split, _ in per_split}):
        assert per_split[(split, "healthy")] >= 15, split
        shown = {label for (where, label) in per_split if where == split}
        assert len(shown) >= 5, (split, shown)
        assert all(per_split[(split, label)] >= 5 for label in shown), per_split


def test_every_kept_run_passed_its_check_and_the_counts_add_up(labels):
    runs = labels["runs"].values()
    assert all(run["check"]["passed"] for run in runs)
    for key, count in labels["counts"].items():
        assert count["candidates"] == count["kept"] + count["dropped"], key
    assert sum(count["kept"] for count in labels["counts"].values()) == len(runs)
    assert sum(count["dropped"] for count in labels["counts"].values()) == len(labels["dropped"])
    # Each failure's fix (its cause undone) trains a healthy run; overfitting's fix is judged
    # on its validation loss alone (labels["rules"]["overfitting"]). A healthy run has no
    # cause to undo: its "fix" (a longer run of a text model) only measures the text's floor.
    for run in runs:
        if run["label"] not in ("overfitting", "healthy"):
            assert run["check"]["fix"]["healthy"], run["check"]


@pytest.mark.parametrize("field", ["family", "logger", "optimizer", "cadence"])
def test_heldout_differs_from_dev_in_kind(labels, field):
    """The held-out split brings what tuning on dev never saw: each of these fields has
    values only held-out runs use. Its model families are wholly new there."""
    dev = {run[field] for run in labels["runs"].values() if run["split"] == "dev"}
    heldout = {run[field] for run in labels["runs"].values() if run["split"] == "heldout"}
    if not heldout:
        pytest.skip(HELD_OUT_SPENT)
    if field != "logger":  # dev now holds every logger lrdoctor reads
        assert heldout - dev, field
    if field == "family":
        assert not heldout & dev, (field, heldout & dev)


def test_no_machine_paths_in_committed_files():
    """The sample logs name no folder of the machine that generated them, in text or binary
    files (TensorBoard events and MLflow databases carry the paths their writers saw)."""
    if not SAMPLE_LOGS.is_dir():
        pytest.skip("sample_logs/ not generated")
    machine_folders = {str(SAMPLE_LOGS.resolve().parents[1]), tempfile.gettempdir()}
    found = sorted(
        str(path.relative_to(SAMPLE_LOGS))
        for path in SAMPLE_LOGS.rglob("*")
        if path.is_file()
        and any(f"{folder}/".encode() in path.read_bytes() for folder in machine_folders)
    )
    assert not found, f"{len(found)} files, e.g. {found[:3]}"


def test_a_run_that_breaks_before_its_first_logged_point_is_dropped_not_a_crash():
    result = train(replace(HEALTHY_LINEAR, lr=3.0, stop_on_nan=True))
    plan = LogPlan("lightning_csv", "x", "lightning", result.steps + 10)  # first log: never
    view = logged_view(result, plan)
    assert view[TRAIN_LOSS].values.size == 0
    measures = measure(result, view, 0.0085)
    assert np.isnan(measures.growth) and np.isnan(measures.peak)
    assert not passes("diverging", measures, None)


def test_interval_means_of_a_blown_up_loss_stay_finite_as_the_trainer_logs_them():
    result = train(replace(HEALTHY_LINEAR, lr=3.0))
    logged = logged_view(result, LogPlan("hf_trainer_state", "out", "mean", 1))[TRAIN_LOSS]
    huge = result.loss[np.isfinite(result.loss)].max()
    assert 1e305 < huge  # numpy's round(x, 4) overflows to inf above about 1.8e304
    np.testing.assert_array_equal(logged.values, [round(float(x), 4) for x in result.loss])
    assert huge in logged.values
