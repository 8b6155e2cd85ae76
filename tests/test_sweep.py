"""LR sweeps (issue 10): finding sweeps, judging each LR, the recommendation, the outputs.

The sample sweeps in sample_logs/sweeps/ are real PyTorch training written through the
frameworks' own loggers (python -m tools.sweeps); truth.json holds, per sweep, the LR whose
run reached the lowest validation loss. They are read once for the module.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

import lrdoctor
from lrdoctor.cli import EXIT_INPUT_ERROR, main
from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.sweep import SweepOptions, lr_text, read_sweeps
from lrdoctor.sweeps.finder import (
    Finder,
    FinderOptions,
    minimum,
    planned_iterations,
    ramp,
    recorded,
    steep,
    steepest_gradient,
    suggest,
    valley,
    valley_span,
)
from tools.sweeps.evaluate import (
    ScoredFinder,
    factor,
    finder_table,
    load_truth,
    match,
    match_finder,
    score,
)

SWEEPS = Path(__file__).resolve().parents[1] / "sample_logs" / "sweeps"
SCHEMA = json.loads((Path(lrdoctor.__file__).parent / "schemas" / "sweep.schema.json").read_text())
TRUTH = load_truth(SWEEPS)
AUDIT_SCHEMA = json.loads(
    (Path(lrdoctor.__file__).parent / "schemas" / "audit.schema.json").read_text()
)


@pytest.fixture(scope="module")
def result():
    return lrdoctor.sweep(SWEEPS)


def _truth(name: str, **group) -> dict:
    return next(t for t in TRUTH if t["sweep"] == name and t["group"] == group)


def test_every_sample_sweep_is_found_with_all_its_runs(result):
    assert len(TRUTH) >= 12
    for truth in TRUTH:
        found = match(truth, result)
        assert found is not None, truth["sweep"]
        assert found.swept == "lr"
        # The Trainer logs its LR every few steps: a one-cycle peak is read a little low.
        lrs = sorted(run.lr for run in found.runs)
        assert lrs == pytest.approx(truth["lrs"], rel=0.01), truth["sweep"]
        for key, value in truth["group"].items():
            assert found.group[key] == str(value)
    # Each run is in one sweep at most.
    sources = [run.source for found in result.sweeps for run in found.runs]
    assert len(sources) == len(set(sources))


def test_a_run_of_another_setup_is_not_forced_into_a_sweep(result):
    decoys = {name for truth in TRUTH for name in truth["decoys"]}
    assert len(decoys) >= 2
    in_sweeps = {run.name for found in result.sweeps for run in found.runs}
    for decoy in decoys:
        assert not any(name.endswith(decoy) for name in in_sweeps), decoy
        assert any(
            name.endswith(decoy) or name.endswith(decoy + ".csv") for name in result.unswept
        ), decoy


def test_the_lr_is_read_from_params_the_lr_curve_or_the_run_name(result):
    """MLflow params and hparams.yaml; the Trainer's learning_rate curve (its dirs are
    named trial-<i>); the name alone for CSVs that log no LR column."""
    where = {truth["sweep"]: {run.lr_from for run in match(truth, result).runs} for truth in TRUTH}
    assert where["spiral-mlp-sgd"] == {"params"}
    assert where["regression-mlp-momentum"] == {"params"}
    assert where["images-cnn-adam"] == {"curve"}
    assert where["regression-overfit-adamw"] == {"name"}
    assert where["blobs-linear-sgd"] == {"name"}


def test_recommendation_within_one_grid_step_of_the_measured_best(result):
    rows = {split: [t for t in TRUTH if t["split"] == split] for split in ("dev", "heldout")}
    rates = {}
    for split, truths in rows.items():
        scored = score(truths, result)
        rates[split] = sum(row.hit for row in scored) / len(scored)
        print(f"{split}: {sum(row.hit for row in scored)}/{len(scored)} sweeps hit")
    assert rates["dev"] >= 0.9
    assert rates["heldout"] >= 0.9


def test_recommended_range_and_edge_are_consistent(result):
    for found in result.sweeps:
        if found.recommended_lr is None:
            continue
        low, high = found.recommended_range
        assert low <= found.recommended_lr <= high, found.name
        stable, unstable = found.edge
        if stable is not None and unstable is not None:
            assert stable < unstable
            assert all(run.lr != unstable or not run.usable for run in found.runs)


def test_reasons_give_the_numbers(result):
    """As in the issue: the unstable LRs first with what went wrong, then the choice."""
    found = match(_truth("spiral-resnet-sgd-bs", batch_size=16), result)
    text = found.summary
    assert "1 diverged at step" in text and "(NaN)" in text
    assert "is the largest stable LR (trend tau -" in text
    low, high = (lr_text(lr) for lr in found.recommended_range)
    assert found.reasons[-1] == f"use {lr_text(found.recommended_lr)}, refine in {low}..{high}"
    assert found.budget_step > 0
    assert any(run.diverged_at for run in found.runs)


def test_a_second_axis_gives_a_sweep_per_value_and_their_interplay(result):
    axes = {item.sweeps[0].split(" [")[0]: item for item in result.interplay}
    item = next(item for name, item in axes.items() if "spiral-resnet-sgd-bs" in name)
    assert item.param == "batch_size"
    assert item.values == ("16", "128")
    assert all(lr is not None for lr in item.largest_stable_lr)
    assert "largest stable LR" in item.reason and "batch_size=16" in item.reason


def test_whole_grid_diverging_says_to_extend_down():
    runs = read_runs([SWEEPS / "dev" / "spiral-resnet-sgd-bs"]).runs
    broken = [r for r in runs if r.params.get("lr") in ("1.0", "3.0")]
    assert len(broken) == 4
    options = SweepOptions(min_values=2)
    found = read_sweeps(broken, options, Doctor()).sweeps
    assert len(found) == 2
    for item in found:
        assert item.recommended_lr is None
        assert item.extend["direction"] == "down"
        assert item.recommended_range[1] < 1.0
        assert "extend the grid down" in item.summary


def test_whole_grid_crawling_says_to_extend_up():
    runs = read_runs([SWEEPS / "dev" / "spiral-mlp-sgd"]).runs
    slow = [r for r in runs if float(r.params["lr"]) <= 0.01]
    (found,) = read_sweeps(slow, SweepOptions(), Doctor()).sweeps
    assert found.recommended_lr == 0.01
    assert found.edge == (0.01, None)
    assert found.extend["direction"] == "up"
    assert "extend it up" in found.summary


def test_group_by_splits_and_a_too_small_grid_is_no_sweep(tmp_path):
    shutil.copytree(SWEEPS / "dev" / "blobs-mlp-momentum-bs", tmp_path / "sweep")
    split = lrdoctor.sweep(tmp_path, group_by=["batch_size"])
    assert sorted(found.group["batch_size"] for found in split.sweeps) == ["64", "8"]
    by_batch = lrdoctor.sweep(tmp_path, by="batch_size")
    assert not by_batch.sweeps  # two batch sizes per LR: fewer than min_values
    assert len(by_batch.unswept) == 12


def test_json_follows_the_published_schema_and_the_cli_matches_the_library(result, tmp_path):
    document = json.loads(result.to_json())
    jsonschema.validate(document, SCHEMA)
    assert document["schema"] == "lrdoctor.sweep/1"
    one = SWEEPS / "dev" / "images-cnn-adam"
    out = tmp_path / "deep" / "sweep.json"
    done = CliRunner().invoke(main, ["sweep", str(one), "--format", "json", "-o", str(out)])
    assert done.exit_code == 0, done.output
    printed = json.loads(out.read_text())
    jsonschema.validate(printed, SCHEMA)
    assert printed["sweeps"] == json.loads(lrdoctor.sweep(one).to_json())["sweeps"]
    (entry,) = printed["sweeps"]
    assert set(entry["runs"][0]) >= {"name", "source", "lr", "verdict", "stable", "trend"}
    assert entry["recommended_lr"] == match(_truth("images-cnn-adam"), result).recommended_lr


def test_text_marks_the_recommended_row():
    done = CliRunner().invoke(main, ["sweep", str(SWEEPS / "dev" / "images-cnn-adam")])
    assert done.exit_code == 0
    lines = done.output.splitlines()
    assert lines[1].split() == ["LR", "VERDICT", "STABLE", "TREND", "FINAL", "BEST"] + [
        "BEST",
        "VAL",
        "FINAL",
        "VAL",
    ]
    marked = [line for line in lines if line.startswith(">")]
    assert len(marked) == 1
    recommended = next(line for line in lines if line.startswith("recommended: "))
    assert marked[0].split()[1] == recommended.split()[1]
    assert any(line.startswith("why: ") for line in lines)


def test_bad_input_is_one_line_without_a_traceback(tmp_path):
    done = CliRunner().invoke(main, ["sweep", str(tmp_path / "missing")])
    assert done.exit_code == EXIT_INPUT_ERROR
    assert "Traceback" not in done.output
    assert "missing" in done.output and "nothing could be read" in done.output


def test_fastai_and_lightning_suggestions_follow_the_published_algorithms():
    lrs = np.array([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0])
    losses = np.array([3.0, 2.0, 5.0, 4.0, 2.5, 2.0, 1.0, 6.0])
    # Longest decreasing run 5, 4, 2.5, 2, 1 ends at index 6; fastai starts it at 6 - 5 = 1
    # and picks start + int(5/3) + int(5/6) = 2.
    assert valley_span(losses) == (1, 6)
    assert valley(lrs, losses) == 1e-3
    assert steep(lrs, losses) == 1e-2  # 4 -> 2.5 is the largest fall per decade
    assert minimum(lrs, losses) == 10.0 / 10
    # Lightning: central differences against the LR itself, here evenly spaced:
    # (3 - 5) / 2 at the second point is the steepest.
    assert steepest_gradient(np.arange(1.0, 6.0), np.array([5, 4.8, 3, 2.9, 2.8])) == 2.0


FINDER_TRUTH = json.loads((SWEEPS / "truth.json").read_text())["finders"]


def test_range_tests_are_read_and_kept_out_of_sweeps(result):
    """Issue 10, point 4 and its acceptance: range tests on the sample sweeps' set-ups, in
    several formats, each read as one, in no sweep, its suggestion within 3x of fastai's
    valley on the same curve."""
    assert len(FINDER_TRUTH) >= 8 and len({truth["logger"] for truth in FINDER_TRUTH}) >= 4
    in_sweeps = {run.source for found in result.sweeps for run in found.runs}
    for truth in FINDER_TRUTH:
        finder = match_finder(truth, result)
        assert finder is not None, truth["finder"]
        assert finder.source not in in_sweeps
        assert set(finder.suggestions) == {"valley", "steep", "minimum", "lightning"}
        assert truth["start_lr"] < finder.suggested_lr < truth["end_lr"]
        # 3x less a step of the ramp (100 steps over 8 decades): a margin for a valley one
        # point away, and for the 4 digits of the JSON
        valley = finder.suggestions["valley"]
        assert factor(finder.to_dict()["suggested_lr"], valley) <= 3 / 10**0.08 + 1e-3
        assert finder.suggested_lr == pytest.approx(
            suggest(valley, finder.suggestions["minimum"], 3 / 10**0.08), rel=0.01
        )
        assert finder.blow_up_lr is None or finder.blow_up_lr > finder.suggested_lr
        assert "valley" in finder.reason and lr_text(finder.suggested_lr) in finder.reason
    assert len(result.finders) == len(FINDER_TRUTH)
    assert not any(name.endswith("lr-find") for name in result.unswept)


@pytest.mark.parametrize("truth", FINDER_TRUTH, ids=lambda truth: truth["finder"])
def test_range_tests_stop_where_their_library_stops(truth):
    """The logged test ends where its library's recorder stopped it, and lrdoctor, replaying
    that recorder on the logged losses, stops at the same step and places fastai's trim from
    the same num_it, whether or not the log carries it (CSV exports do not)."""
    (run,) = [
        run
        for run in read_runs([SWEEPS / truth["path"]]).runs
        if truth["finder"] in run.name.replace(".csv", "").split("/")
    ]
    lrs, raw = ramp(run)
    smooth, stopped = recorded(raw, FinderOptions(), truth["protocol"])
    assert smooth.size == lrs.size == truth["steps"]
    assert stopped == truth["stopped"] and (stopped or truth["steps"] == truth["num_it"])
    fastai_smooth, fastai_stopped = recorded(raw, FinderOptions(), "fastai")
    assert planned_iterations(run, lrs, fastai_smooth.size, fastai_stopped) == truth["num_it"]


def test_fastai_smoothing_is_pytorch_s_float32_arithmetic():
    """fastai's AvgSmoothLoss: torch.lerp on float32 tensors, divided by 1 - beta^t; in
    float64 near-equal losses can swap order and move the valley."""
    torch = pytest.importorskip("torch")
    raw = np.random.default_rng(3).gamma(2.0, 1.0, 400).astype(np.float32)
    raw[300:] *= np.linspace(1, 40, 100, dtype=np.float32)  # a blow-up to stop at
    value, best, expected = torch.tensor(0.0), math.inf, []
    for count, loss in enumerate(raw, start=1):
        value = torch.lerp(torch.tensor(float(loss)), value, 0.98)
        expected.append(float(value / (1 - 0.98**count)))
        best = min(best, expected[-1])
        if expected[-1] > 4 * best:
            break
    smooth, stopped = recorded(raw, FinderOptions(), "fastai")
    assert stopped and smooth.tolist() == expected


def test_lightning_lr_find_is_reproduced_from_its_raw_losses(tmp_path):
    """Lightning's own Tuner.lr_find, its raw losses caught as a logger would log them:
    lrdoctor's replay of its recorder gives the same smoothed curve, stop and suggestion."""
    torch = pytest.importorskip("torch")
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.tuner import Tuner

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(),
                                           torch.nn.Linear(16, 2))  # fmt: skip
            self.lr, self.raw = 1e-3, []

        def training_step(self, batch, index):
            loss = torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])
            self.raw.append(loss.item())
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    torch.manual_seed(0)
    x = torch.randn(512, 4)
    data = torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long())
    model = Tiny()
    trainer = pl.Trainer(max_epochs=20, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)  # fmt: skip
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    found = Tuner(trainer).lr_find(model, train_dataloaders=loader, max_lr=1e3)
    losses, lrs = found.results["loss"], np.array(found.results["lr"])
    smooth, stopped = recorded(np.array(model.raw[: len(losses)]), FinderOptions(), "lightning")
    assert stopped and len(losses) < 100  # max_lr 1e3 blows SGD up before the end
    assert smooth.tolist() == losses
    assert steepest_gradient(lrs[10:-1], smooth[10:-1]) == found.suggestion()


def test_the_suggestion_is_minimum_over_10_kept_near_the_valley():
    assert suggest(1e-2, 2e-2, 3.0) == 2e-2  # within 3x: the classic rule as it is
    assert suggest(1e-2, 1e-1, 3.0) == pytest.approx(3e-2)  # capped
    assert suggest(1e-2, 1e-3, 3.0) == pytest.approx(1e-2 / 3)  # raised
    assert suggest(1e-2, None, 3.0) == 1e-2
    assert suggest(None, 1e-3, 3.0) is None


def test_range_test_table_counts_hits_and_says_which_cannot_be_met():
    def row(valley, suggested, best):
        finder = Finder("t", "t", (), (), suggested, {"valley": valley}, None, "")
        truth = {"finder": "t", "protocol": "fastai", "best_lr": best}
        return ScoredFinder(truth, finder)

    rows = [row(1e-2, 2e-2, 3e-2), row(1e-2, 1e-2, 5e-2), row(1e-3, 3e-3, 1e-1),
            row(1e-2, 4e-2, 3e-2)]  # fmt: skip
    assert [r.hit for r in rows] == [True, False, False, False]
    assert [r.feasible for r in rows] == [True, True, False, True]
    table = finder_table(rows)
    assert table[1].startswith("hit ") and table[2].startswith("MISS")
    assert table[3].startswith("n/a ")
    assert "1 of 4 range tests within 3x of both (the valley: 2)" in table
    assert table[-1].startswith("1 of 4 cannot be") and "100x" in table[-1]


OVERFIT = SWEEPS / "dev" / "regression-overfit-adamw"


def test_seeds_and_dates_in_names_do_not_split_a_sweep(tmp_path):
    """Real sweeps name runs `adamw-lr1e-04-seed3-2026-12-07T161203`: numbers with one value
    per run, or one value for all, are not a set-up; another word (`sgd`) is."""
    for index, path in enumerate(sorted(OVERFIT.glob("*.csv"))):
        optimiser = "sgd" if path.stem.endswith("_sgd") else "adamw"
        lr = path.stem.removesuffix("_sgd").rsplit("lr", 1)[1]
        stamp = f"2026-12-07T16{10 + index}{7 * index % 60:02d}"
        shutil.copy(path, tmp_path / f"{optimiser}-lr{lr}-seed{index}-{stamp}.csv")
    found = lrdoctor.sweep(tmp_path)
    (one,) = found.sweeps
    assert len(one.runs) == 6 and not one.group
    assert [name for name in found.unswept if name.startswith("sgd-")] == list(found.unswept)
    assert len(found.unswept) == 1


def test_a_batch_size_only_in_the_names_splits_the_sweep(tmp_path):
    for path in sorted(OVERFIT.glob("*-lr*e-0?.csv")):
        lr = path.stem.rsplit("lr", 1)[1]
        for batch in (16, 64):
            shutil.copy(path, tmp_path / f"lr{lr}_bs{batch}.csv")
    found = lrdoctor.sweep(tmp_path)
    assert sorted(sweep.group["bs"] for sweep in found.sweeps) == ["16", "64"]
    assert all(len(sweep.runs) == 6 for sweep in found.sweeps)
    (item,) = found.interplay
    assert item.param == "bs" and item.values == ("16", "64")


def test_markdown_and_html_reports_show_each_sweep_and_range_test(tmp_path):
    paths = [str(SWEEPS / "dev" / "images-cnn-adam"), str(SWEEPS / "finders" / "blobs-mlp-adam")]
    runner = CliRunner()
    refused = runner.invoke(main, ["sweep", *paths, "--format", "markdown"])
    assert refused.exit_code == 2 and "--output" in refused.output
    out = tmp_path / "report" / "sweeps.md"
    done = runner.invoke(main, ["sweep", *paths, "--format", "markdown", "-o", str(out)])
    assert done.exit_code == 0, done.output
    text = out.read_text()
    assert text.count("\n## ") == 2 and "## LR range test: " in text
    chosen = [line for line in text.splitlines() if line.startswith("| **")]
    assert len(chosen) == 1 and chosen[0].startswith("| **3e-2** |")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 2
    assert all((out.parent / image).read_bytes().startswith(b"\x89PNG") for image in images)
    page = tmp_path / "sweeps.html"
    done = runner.invoke(main, ["sweep", *paths, "--format", "html", "-o", str(page)])
    assert done.exit_code == 0
    html = page.read_text()
    assert html.count("src='data:image/png;base64,") == 2
    assert html.count("<tr class='chosen'>") == 1


@pytest.mark.parametrize("folder", ["hf_trainer", "plain_csv"])
def test_unrelated_runs_that_share_a_folder_form_no_sweep(folder):
    """The labelled corpus: one run per set-up, LRs in names, params and LR curves, in
    folders of one logger. Before the budget, grid and name checks these made 3-run
    'sweeps' of different models."""
    found = lrdoctor.sweep(SWEEPS.parent / "dev" / folder)
    assert not found.sweeps
    assert found.unswept and len(found.unswept) == found.runs_read


@pytest.fixture(scope="module")
def audited():
    return lrdoctor.audit(SWEEPS, jobs=2)


def test_audit_groups_the_runs_of_each_sweep_as_lrdoctor_sweep_does(audited, result):
    """Issue 10, point 5: an audit's reports group sweep members; its workers send back a
    small record per run (no curves), and the grouping is the one `lrdoctor sweep` uses."""
    expected = {s.name: sorted((r.name, r.lr) for r in s.runs) for s in result.sweeps}
    found = {g.name: sorted((m.name, m.value) for m in g.members) for g in audited.sweeps}
    assert found == expected and len(found) == len(TRUTH)
    finders = {finder.name for finder in result.finders}
    in_sweeps = {m.name for group in audited.sweeps for m in group.members}
    assert finders and not finders & in_sweeps  # range tests are in no sweep


def test_audit_reports_name_each_run_s_sweep(audited, tmp_path):
    document = json.loads(audited.to_json())
    jsonschema.validate(document, AUDIT_SCHEMA)
    members = {run["name"] for group in document["sweeps"] for run in group["runs"]}
    tagged = {run["name"]: run.get("sweep") for run in document["runs"]}
    assert {name for name, sweep in tagged.items() if sweep} == members
    for group in document["sweeps"]:
        values = [run["value"] for run in group["runs"]]
        assert values == sorted(values)  # smallest LR first, as the tables list them
    result = CliRunner().invoke(main, ["audit", str(SWEEPS / "dev" / "spiral-mlp-sgd")])
    assert "1 LR sweeps" in result.output
    assert "1e-3 too_slow" in result.output.split("1 LR sweeps")[1]
    report = tmp_path / "audit.md"
    CliRunner().invoke(
        main, ["audit", str(SWEEPS / "dev"), "--format", "markdown", "-o", str(report)]
    )
    text = report.read_text()
    assert "## LR sweeps" in text and "### spiral-mlp-sgd" in text


@pytest.mark.parametrize(
    ("rates", "is_one"),
    [
        (np.geomspace(1e-7, 10, 60), True),  # fastai's exponential ramp
        (np.linspace(1e-5, 1e-2, 60), False),  # a run stopped during a linear warm-up
    ],
)
def test_the_audit_and_the_sweep_reader_agree_on_what_is_a_range_test(rates, is_one):
    """One definition, rule LRD002's: a linear warm-up from near zero also climbs three
    decades at every step, but has climbed most of them by its middle step."""
    steps = np.arange(1, rates.size + 1)
    loss = 2.0 / (1 + steps / 20) + 0.01 * np.sin(steps)
    run = lrdoctor.Run(
        "ramp",
        "ramp.csv",
        "csv",
        {
            "lr": lrdoctor.Curve.from_points("lr", steps, rates),
            "loss": lrdoctor.Curve.from_points("loss", steps, loss),
        },
    )
    assert (ramp(run) is not None) is is_one
    codes = [finding.code for finding in Doctor().diagnose(run).findings]
    assert ("LRD002" in codes) is is_one
