"""The CSV-family reader against files laid out exactly as each logger writes them, and the
real third-party logs in the shared fixtures."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lrdoctor.discovery import read_runs
from lrdoctor.readers.base import ReadError, ReadOptions
from lrdoctor.readers.csv_logs import READER

OPTIONS = ReadOptions()


def read_one(path: Path, root: Path):
    runs = READER.read(path, root, OPTIONS)
    assert len(runs) == 1
    return runs[0]


def write_lightning_metrics(path: Path, records: list[dict]) -> None:
    """What Lightning's CSVLogger does: DictWriter over the sorted union of keys, CRLF rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted({key for record in records for key in record})
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=keys)
        writer.writeheader()
        writer.writerows(records)


def write_keras_log(path: Path, epochs: list[dict]) -> None:
    """What Keras' CSVLogger does: `epoch` then the sorted metric keys, excel dialect (CRLF)."""
    keys = sorted(epochs[0])
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["epoch", *keys], dialect="excel")
        writer.writeheader()
        for epoch, logs in enumerate(epochs):
            writer.writerow({"epoch": epoch, **logs})


def lightning_records(steps: range, loss_of, epoch_every: int) -> list[dict]:
    """LearningRateMonitor's row, then the training row, at every logging step."""
    records = []
    for step in steps:
        records.append({"lr-Adam": 0.001 * (step + 1), "step": step})
        records.append(
            {"epoch": step // epoch_every, "step": step, "train/nll_loss": loss_of(step)}
        )
        if step % epoch_every == epoch_every - 1:
            records.append({"epoch": step // epoch_every, "step": step, "val/rmse_loss": 0.5})
    return records


def test_lightning_sparse_rows_become_separate_curves(tmp_path):
    losses = {0: 2.0, 1: 1.5, 2: float("nan"), 3: float("inf"), 4: 0.9, 5: 0.8}
    metrics = tmp_path / "lightning_logs" / "version_0" / "metrics.csv"
    write_lightning_metrics(metrics, lightning_records(range(6), losses.__getitem__, 3))

    run = read_one(metrics, tmp_path)

    assert metrics.read_bytes().count(b"\r\n") == 1 + 6 * 2 + 2
    assert run.name == "lightning_logs/version_0"
    assert run.format == "lightning-csv"
    assert run.source == str(metrics)
    assert run.points == {"epoch": 6, "lr-Adam": 6, "train/nll_loss": 6, "val/rmse_loss": 2}
    loss = run.curves["train/nll_loss"]
    assert loss.steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert loss.values[:2].tolist() == [2.0, 1.5]
    assert math.isnan(loss.values[2]) and loss.values[3] == math.inf
    assert run.curves["lr-Adam"].values.tolist() == pytest.approx(
        [0.001 * (s + 1) for s in range(6)]
    )
    assert run.curves["val/rmse_loss"].steps.tolist() == [2, 5]
    assert np.isnan(loss.wall_times).all()
    assert run.metadata["step_column"] == "step"
    assert run.warnings == ()


def test_lightning_resumed_run_keeps_the_later_rows(tmp_path):
    first = lightning_records(range(5), lambda step: 10.0 + step, 100)
    resumed = lightning_records(range(3, 7), lambda step: 20.0 + step, 100)
    metrics = tmp_path / "version_1" / "metrics.csv"
    write_lightning_metrics(metrics, first + resumed)

    loss = read_one(metrics, tmp_path).curves["train/nll_loss"]

    assert loss.steps.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert loss.values.tolist() == [10.0, 11.0, 12.0, 23.0, 24.0, 25.0, 26.0]


def test_lightning_hparams_with_python_tuples_become_params(tmp_path):
    version = tmp_path / "lightning_logs" / "version_0"
    write_lightning_metrics(version / "metrics.csv", lightning_records(range(2), float, 10))
    hparams = {"lr": 0.03, "betas": (0.9, 0.999), "model": {"layers": 4, "act": "gelu"}}
    (version / "hparams.yaml").write_text(yaml.dump(hparams))

    run = read_one(version / "metrics.csv", tmp_path)

    assert "!!python/tuple" in (version / "hparams.yaml").read_text()
    assert dict(run.params) == {
        "lr": "0.03",
        "betas": "[0.9, 0.999]",
        "model.layers": "4",
        "model.act": "gelu",
    }


def test_broken_hparams_is_a_warning_not_an_error(tmp_path):
    version = tmp_path / "version_0"
    write_lightning_metrics(version / "metrics.csv", lightning_records(range(2), float, 10))
    (version / "hparams.yaml").write_text("lr: [0.1\n")

    run = read_one(version / "metrics.csv", tmp_path)

    assert run.params == {}
    assert len(run.warnings) == 1 and "hparams.yaml" in run.warnings[0]
    assert run.points["train/nll_loss"] == 2


def test_keras_csvlogger_log_with_crlf_and_nan(tmp_path):
    epochs = [
        {"loss": 0.9, "accuracy": 0.6, "val_loss": 0.8, "learning_rate": 0.01},
        {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "learning_rate": 0.01},
        {"loss": float("nan"), "accuracy": 0.1, "val_loss": float("nan"), "learning_rate": 0.001},
    ]
    log = tmp_path / "training.log"
    write_keras_log(log, epochs)

    run = read_one(log, tmp_path)

    assert log.read_bytes().startswith(b"epoch,accuracy,learning_rate,loss,val_loss\r\n")
    assert run.format == "keras-csv"
    assert run.name == "training.log"
    assert set(run.curves) == {"accuracy", "learning_rate", "loss", "val_loss"}
    assert run.curves["loss"].steps.tolist() == [0, 1, 2]
    assert run.curves["loss"].values[:2].tolist() == [0.9, 0.5]
    assert math.isnan(run.curves["loss"].values[2])
    assert run.curves["learning_rate"].values.tolist() == [0.01, 0.01, 0.001]
    assert run.metadata["step_column"] == "epoch"


def test_claim_takes_csv_tsv_and_keras_logs_only(tmp_path):
    write_keras_log(tmp_path / "training.log", [{"loss": 1.0}])
    (tmp_path / "server.log").write_text("2024-01-01 started epoch 1\n")
    (tmp_path / "pip.log").write_text("step,epoch,loss\n")
    (tmp_path / "runs.CSV").write_text("step,loss\n1,2\n")
    (tmp_path / "sweep.tsv").write_text("step\tloss\n1\t2\n")
    (tmp_path / "notes.txt").write_text("step,loss\n")
    names = sorted(p.name for p in tmp_path.iterdir())

    claims = READER.claim(tmp_path, [], names)

    assert [claim.path.name for claim in claims] == ["runs.CSV", "sweep.tsv", "training.log"]
    assert all(claim.owned_files == (claim.path.name,) for claim in claims)
    assert READER.can_read(tmp_path / "training.log")
    assert not READER.can_read(tmp_path / "server.log")
    assert not READER.can_read(tmp_path)


def write_wandb_chart_export(path: Path, axis: str, rows: list[list[object]], runs: list[str]):
    """A W&B chart's "Export CSV": every field quoted, each run's value then its band."""
    header = [axis]
    for run in runs:
        header += [f"{run} - train/loss", f"{run} - train/loss__MIN", f"{run} - train/loss__MAX"]
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(rows)


def test_wandb_chart_export_gives_one_run_per_prefix(tmp_path):
    path = tmp_path / "wandb_export_2024-05-05T10_07_23.csv"
    rows = [
        [0, 2.0, 1.9, 2.1, 3.0, 3.0, 3.0],
        [100, 1.0, 0.9, 1.1, "", "", ""],
        [200, "NaN", "NaN", "NaN", 2.0, 2.0, 2.0],
        [300, "", "", "", 1.0, 1.0, 1.0],
    ]
    write_wandb_chart_export(path, "Step", rows, ["brisk-sun-3", "sweep - lr 3e-4"])

    runs = READER.read(path, tmp_path, OPTIONS)

    assert path.read_text().startswith('"Step","brisk-sun-3 - train/loss","brisk-sun-3 - train')
    assert [run.name for run in runs] == [
        "wandb_export_2024-05-05T10_07_23.csv/brisk-sun-3",
        "wandb_export_2024-05-05T10_07_23.csv/sweep - lr 3e-4",
    ]
    assert all(run.format == "wandb-csv" and run.warnings == () for run in runs)
    brisk, sweep = runs
    assert set(brisk.curves) == set(sweep.curves) == {"train/loss"}
    assert brisk.curves["train/loss"].steps.tolist() == [0, 100, 200]
    assert brisk.curves["train/loss"].values[:2].tolist() == [2.0, 1.0]
    assert math.isnan(brisk.curves["train/loss"].values[2])
    assert sweep.curves["train/loss"].steps.tolist() == [0, 200, 300]
    assert sweep.curves["train/loss"].values.tolist() == [3.0, 2.0, 1.0]


@pytest.mark.parametrize("axis", ["trainer/global_step", "train/global_step"])
def test_wandb_chart_export_against_a_framework_step_metric_uses_it(tmp_path, axis):
    """Lightning's WandbLogger and transformers' WandbCallback each define their step."""
    path = tmp_path / "wandb_export.csv"
    write_wandb_chart_export(path, axis, [[10, 2.0, 2.0, 2.0], [20, 1.0, 1.0, 1.0]], ["solo"])

    (run,) = READER.read(path, tmp_path, OPTIONS)

    assert run.metadata["step_column"] == axis
    assert run.curves["train/loss"].steps.tolist() == [10, 20]
    assert run.warnings == ()


def test_wandb_chart_export_against_time_uses_row_numbers(tmp_path):
    path = tmp_path / "wandb_export.csv"
    rows = [[0.0, 2.0, 2.0, 2.0], [1.5, 1.0, 1.0, 1.0], [3.0, 0.5, 0.5, 0.5]]
    write_wandb_chart_export(path, "Relative Time (Process)", rows, ["solo"])

    (run,) = READER.read(path, tmp_path, OPTIONS)

    assert run.curves["train/loss"].steps.tolist() == [0, 1, 2]
    assert run.curves["train/loss"].values.tolist() == [2.0, 1.0, 0.5]
    assert run.warnings == (
        "the x axis 'Relative Time (Process)' is not a step: using row numbers (from 0)",
    )


def test_wandb_run_history_export_is_a_wide_csv(tmp_path):
    history = pd.DataFrame(
        {
            "_step": [0, 1, 2, 3],
            "_runtime": [1.0, 2.0, 3.0, 4.0],
            "_timestamp": [1.7e9, 1.7e9 + 1, 1.7e9 + 2, 1.7e9 + 3],
            "train/loss": [2.0, 1.5, None, 1.0],
            "eval/loss": [None, None, 1.8, None],
        }
    )
    path = tmp_path / "history.csv"
    history.to_csv(path)  # what `wandb.Api().run(...).history().to_csv(...)` writes

    run = read_one(path, tmp_path)

    assert run.format == "csv"
    assert run.metadata["step_column"] == "_step"
    assert set(run.curves) == {"_runtime", "train/loss", "eval/loss"}
    assert run.curves["train/loss"].steps.tolist() == [0, 1, 3]
    assert run.curves["eval/loss"].steps.tolist() == [2]
    assert run.curves["train/loss"].wall_times.tolist() == [1.7e9, 1.7e9 + 1, 1.7e9 + 3]


def test_long_csv_with_wall_times_and_nan(tmp_path):
    rows = pd.DataFrame(
        {
            "tag": ["loss", "lr", "loss", "lr", "loss", "loss"],
            "step": [0, 0, 10, 10, 20, 10],
            "value": [1.0, 0.1, float("nan"), 0.05, float("inf"), 0.7],
            "wall_time": [100.0, 100.0, 110.0, 110.0, 120.0, 130.0],
        }
    )
    path = tmp_path / "scalars.csv"
    rows.to_csv(path, index=False, na_rep="nan")

    run = read_one(path, tmp_path)

    assert run.format == "long-csv"
    assert run.points == {"loss": 3, "lr": 2}
    loss = run.curves["loss"]
    assert loss.steps.tolist() == [0, 10, 20]
    assert loss.values.tolist() == [1.0, 0.7, math.inf]
    assert loss.wall_times.tolist() == [100.0, 130.0, 120.0]
    assert run.curves["lr"].values.tolist() == [0.1, 0.05]


def test_tsv_skips_text_columns_and_keeps_nan_spellings(tmp_path):
    path = tmp_path / "progress.tsv"
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream, delimiter="\t")
        writer.writerow(["date", "iteration", "hostname", "done", "hist", "loss", "reward"])
        writer.writerow(["2021-04-11_10-57-49", 1, "285e2a0aa751", False, "[]", "NaN", "-inf"])
        writer.writerow(["2021-04-11_10-58-17", 2, "285e2a0aa751", False, "[75.0]", 0.5, ""])
        writer.writerow(["2021-04-11_10-58-45", 3, "285e2a0aa751", True, "[80.0]", "Infinity", 3])

    run = read_one(path, tmp_path)

    assert run.format == "csv"
    assert set(run.curves) == {"loss", "reward"}
    loss = run.curves["loss"]
    assert loss.steps.tolist() == [1, 2, 3]
    assert math.isnan(loss.values[0]) and loss.values[1:].tolist() == [0.5, math.inf]
    assert run.curves["reward"].steps.tolist() == [1, 3]
    assert run.curves["reward"].values.tolist() == [-math.inf, 3.0]
    assert run.metadata["skipped_columns"] == "date, hostname, done, hist"
    assert run.warnings == ()


def test_semicolon_csv_prefers_step_over_epoch_and_reads_timestamps(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(
        "epoch;global_step;timestamp;loss\n0.5;10.0;1700000000.5;0.9\n1.0;20.0;1700000010.5;0.7\n"
    )

    run = read_one(path, tmp_path)

    assert run.metadata["step_column"] == "global_step"
    assert set(run.curves) == {"epoch", "loss"}
    assert run.curves["loss"].steps.tolist() == [10, 20]
    assert run.curves["epoch"].values.tolist() == [0.5, 1.0]
    assert run.curves["loss"].wall_times.tolist() == [1700000000.5, 1700000010.5]


def test_fractional_epoch_without_step_falls_back_to_row_numbers(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0.5,0.9\n1.0,0.8\n1.5,0.7\n")

    run = read_one(path, tmp_path)

    assert run.curves["loss"].steps.tolist() == [0, 1, 2]
    assert run.curves["epoch"].values.tolist() == [0.5, 1.0, 1.5]
    assert run.metadata["step_column"] == "row number"
    assert len(run.warnings) == 1 and "'epoch'" in run.warnings[0]


def test_metric_columns_without_step_use_row_numbers(tmp_path):
    path = tmp_path / "losses.csv"
    pd.DataFrame({"loss": [0.9, 0.8], "val_loss": [1.0, 0.95]}).to_csv(path)

    run = read_one(path, tmp_path)

    assert path.read_text().startswith(",loss,val_loss")
    assert set(run.curves) == {"loss", "val_loss"}
    assert run.curves["val_loss"].steps.tolist() == [0, 1]
    assert run.warnings == ("no step-like column: using row numbers (from 0) as steps",)


def test_duplicate_steps_keep_the_later_row(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("step,loss\n1,0.9\n2,0.8\n3,0.7\n2,0.5\n3,0.4\n4,0.3\n")

    loss = read_one(path, tmp_path).curves["loss"]

    assert loss.steps.tolist() == [1, 2, 3, 4]
    assert loss.values.tolist() == [0.9, 0.5, 0.4, 0.3]


def test_rows_with_wrong_field_count_are_skipped_with_a_warning(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("step,loss,acc\n1,0.9,0.1\n2,0.8\n3,0.7,0.3\n4,0.6,0.4,9\n5,0.5,0.5\n6,0.")

    run = read_one(path, tmp_path)

    assert run.curves["loss"].steps.tolist() == [1, 3, 5]
    assert run.curves["acc"].values.tolist() == [0.1, 0.3, 0.5]
    assert run.warnings == (
        "log.csv: 3 rows skipped: a number of fields other than the header's 3 (first at line 3)",
    )


def test_spaces_after_commas_and_a_repeated_header(tmp_path):
    path = tmp_path / "concatenated.csv"
    path.write_text("step, loss\n1, 0.9\n2,  \nstep, loss\n3, 0.7\n")

    run = read_one(path, tmp_path)

    assert run.curves["loss"].steps.tolist() == [1, 3]
    assert run.curves["loss"].values.tolist() == [0.9, 0.7]
    assert run.warnings == ("skipped 1 repeated header row(s)",)


def test_header_only_file_is_a_run_with_no_points(tmp_path):
    path = tmp_path / "training.log"
    write_keras_log(path, [{"loss": 1.0}])
    path.write_bytes(path.read_bytes().split(b"\r\n")[0] + b"\r\n")

    run = read_one(path, tmp_path)

    assert run.curves == {}
    assert run.format == "keras-csv"
    assert run.warnings == ("the file has a header but no data rows: nothing was logged",)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"\n \r\n", "empty file"),
        *[
            (
                only_line_breaks,
                "not a training log: no step-like column (step, epoch, iteration, ...) and no "
                "metric-like column (loss, acc, lr, ...)",
            )
            for only_line_breaks in (b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\r\n")
        ],
        (b"st\xffep,loss\n1,0.5\n2,0.4\n", "undecodable bytes at offset 2: not UTF-8 text"),
        (b"step,loss\n1,\xff\n2,\xfe\n3,\xfd\n", "undecodable bytes at offset 12: not UTF-8 text"),
        (b"step,loss\n1,abc\n2,def\n", "no numeric column besides the step column 'step'"),
        (b"loss,host\nabc,x\n", "no numeric column"),
        (
            b"sepal_length,sepal_width,species\n5.1,3.5,setosa\n",
            "not a training log: no step-like column (step, epoch, iteration, ...) and no "
            "metric-like column (loss, acc, lr, ...)",
        ),
    ],
)
def test_unreadable_files_raise_read_error(tmp_path, content, problem):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(ReadError) as raised:
        READER.read(path, tmp_path, OPTIONS)

    assert raised.value.source == str(path)
    assert raised.value.problem == problem


# The real logs in ../shared/fixtures/csv, checked against csv/PROVENANCE.md.


def test_real_opal_v2_lightning_sparse_rows(shared_fixtures):
    root = shared_fixtures / "csv"
    run = read_one(root / "lightning_csvlogger" / "opal_v2_version_0_metrics.csv", root)

    assert run.format == "lightning-csv"
    assert run.name == "lightning_csvlogger/opal_v2_version_0_metrics.csv"
    assert run.metadata["rows"] == "224"
    train, val, lr = (run.curves[t] for t in ("train/nll_loss", "val/rmse_loss", "lr-Adam"))
    assert (len(train), train.steps[0], train.steps[-1]) == (108, 49, 5399)
    assert (len(val), val.steps[0], val.steps[-1]) == (8, 678, 5431)
    assert len(lr) == 108 and lr.steps.tolist() == train.steps.tolist()
    assert lr.values[0] == 0.00328141592920354
    peak = int(lr.values.argmax())
    assert round(lr.values[peak], 4) == 0.0291 and 0 < peak < len(lr) - 1
    assert lr.values[-1] < lr.values[peak] / 10
    assert train.values[0] == 0.0575530878690101


def test_real_genrisk_gan_that_turned_nan(shared_fixtures):
    root = shared_fixtures / "csv"
    run = read_one(root / "lightning_csvlogger" / "genrisk_version_0_metrics.csv", root)

    disc, gen = run.curves["train_disc_loss"], run.curves["train_gen_loss"]
    assert len(disc) == len(gen) == 320
    assert disc.steps.tolist() == list(range(320))
    assert disc.values[0] == 1.6226933508321501e24
    assert np.isnan(disc.values[1:]).all() and np.isnan(gen.values).all()
    assert run.curves["epoch"].values[[0, -1]].tolist() == [0.0, 79.0]


@pytest.mark.parametrize(
    ("file_name", "rows", "first_step", "last_step", "tags"),
    [
        ("goreg_version_0_metrics.csv", 28, 49, 1399, {"train_loss", "train_acc", "epoch"}),
        ("eth_disco_version_0_metrics.csv", 4, 49, 199, {"train_loss", "epoch"}),
        ("jordi6_version_0_metrics.csv", 2, 49, 99, {"train_loss", "epoch"}),
    ],
)
def test_real_small_lightning_logs(shared_fixtures, file_name, rows, first_step, last_step, tags):
    root = shared_fixtures / "csv"
    run = read_one(root / "lightning_csvlogger" / file_name, root)

    assert run.format == "lightning-csv"
    assert set(run.curves) == tags
    loss = run.curves["train_loss"]
    assert (len(loss), loss.steps[0], loss.steps[-1]) == (rows, first_step, last_step)
    assert run.warnings == ()


def test_real_eth_disco_loss_range(shared_fixtures):
    root = shared_fixtures / "csv"
    run = read_one(root / "lightning_csvlogger" / "eth_disco_version_0_metrics.csv", root)

    values = run.curves["train_loss"].values
    assert values[0] == 31788.318359375
    assert 1.7e4 < values.min() < values.max() < 3.2e4


def test_real_keras_logs(shared_fixtures):
    root = shared_fixtures / "csv"
    akboles = read_one(root / "keras_csvlogger" / "akboles_training.log", root)
    amine = read_one(root / "keras_csvlogger" / "amineechraibi_training.log", root)

    assert READER.can_read(root / "keras_csvlogger" / "akboles_training.log")
    assert akboles.format == amine.format == "keras-csv"
    assert set(akboles.curves) == {"acc", "loss", "val_acc", "val_loss"}
    assert akboles.curves["val_loss"].steps.tolist() == list(range(10))
    assert akboles.curves["loss"].values[6] == 0.0089228776368227864
    assert set(amine.curves) == {"acc", "loss"}
    assert amine.curves["loss"].steps.tolist() == list(range(25))


def test_real_ray_tune_progress(shared_fixtures):
    root = shared_fixtures / "csv"
    run = read_one(root / "ray_tune" / "progress.csv", root)

    assert run.format == "csv"
    assert run.metadata["step_column"] == "timesteps_total"
    skipped = run.metadata["skipped_columns"].split(", ")
    assert {"hist_stats/episode_reward", "hist_stats/episode_lengths", "done", "date"} <= set(
        skipped
    )
    loss = run.curves["info/learner/default_policy/total_loss"]
    assert (len(loss), loss.steps[0], loss.steps[-1]) == (500, 4000, 2000000)
    assert loss.values[0] == 1.2799434382468462
    assert round(loss.values[-1], 2) == 8.17
    assert loss.wall_times[0] == 1618138669.0
    assert set(run.curves["info/learner/default_policy/cur_lr"].values) == {5e-05}
    reward = run.curves["episode_reward_mean"]
    assert len(reward) == 500 and np.isnan(reward.values[:2]).all()
    assert run.curves["training_iteration"].values[[0, -1]].tolist() == [1.0, 500.0]


def test_a_line_that_is_not_utf8_costs_that_line(tmp_path):
    """One damaged byte in a data row loses that row, with a warning naming the line, not the
    file (a header or most of the lines undecodable: not a text log at all)."""
    path = tmp_path / "log.csv"
    path.write_bytes(b"step,loss\n1,0.5\n2,\xff0.4\n3,0.3\n4,0.2\n")
    (run,) = read_runs([str(path)]).runs
    np.testing.assert_array_equal(run.curves["loss"].steps, [1, 3, 4])
    expected = "1 row skipped: bytes that are not UTF-8 (first at line 3)"
    assert any(expected in warning for warning in run.warnings)
