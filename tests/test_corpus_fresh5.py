"""The fresh5 split's set-up: families, optimisers and schedules no other split uses, the
hand-written optimisers, the new tasks' losses, and its logging habits (a run resumed from an
earlier checkpoint that logs the steps between twice, per-image and per-graph sums)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lion_pytorch")

import torch  # noqa: E402

from tools.corpus import writers  # noqa: E402
from tools.corpus.data import TaskSpec, make_data  # noqa: E402
from tools.corpus.models import ModelSpec  # noqa: E402
from tools.corpus.optimizers import LAMB, LARS, AdaBelief  # noqa: E402
from tools.corpus.recipes import (  # noqa: E402
    FRESH5_DECAYING,
    SPLITS,
    TUNED_LR,
    VERDICTS,
    candidate,
)
from tools.corpus.train import LogPlan, Setup, _scheduler, to_runlog, train  # noqa: E402

EARLIER = list(SPLITS)[: list(SPLITS).index("fresh5")]  # later ones may reuse what dev has


def test_fresh5_families_and_optimisers_are_in_no_other_split():
    fresh5 = SPLITS["fresh5"]
    for name in EARLIER:
        split = SPLITS[name]
        assert not set(fresh5.families) & set(split.families), name
        assert not set(fresh5.optimizers) & (set(split.optimizers) | set(split.minority)), name
    for family in fresh5.families:
        assert set(fresh5.optimizers) <= set(TUNED_LR[family])
        assert set(TUNED_LR[family]) <= set(fresh5.optimizers) | {"momentum"}


@pytest.mark.parametrize("label", VERDICTS)
def test_fresh5_candidates_are_pure_and_new_in_kind(label):
    first = [candidate("fresh5", label, i, 0) for i in range(6)]
    assert first == [candidate("fresh5", label, i, 0) for i in range(6)]
    assert all(c.family in SPLITS["fresh5"].families for c in first)
    allowed = set(SPLITS["fresh5"].optimizers)
    if label == "exploding_gradients":  # LARS and LAMB normalise each tensor's step
        allowed = {"sgd"}
    if label == "poor_feature_scaling":  # adaptive optimisers absorb the features' scale
        allowed = {"momentum", "sgd"}
    assert all(c.setup.optimizer in allowed for c in first)
    earlier = {candidate(name, label, i, 0).setup.schedule for name in EARLIER for i in range(6)}
    assert not earlier & set(FRESH5_DECAYING)


@pytest.mark.parametrize("optimizer", [LAMB, LARS, AdaBelief])
def test_hand_written_optimisers_fit_a_least_squares_problem(optimizer):
    torch.manual_seed(0)
    x, w = torch.randn(256, 8), torch.randn(8, 1)
    y = x @ w
    model = torch.nn.Linear(8, 1)
    lr = {LAMB: 1e-2, LARS: 3.0, AdaBelief: 1e-2}[optimizer]
    opt = optimizer(model.parameters(), lr=lr)
    with torch.no_grad():
        first = float(torch.nn.functional.mse_loss(model(x), y))
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    assert float(loss) < 0.05 * first


@pytest.mark.parametrize("schedule", FRESH5_DECAYING)
def test_fresh5_schedules_warm_up_or_decay_to_their_end(schedule):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    setup = Setup(task=TaskSpec("counts"), model=ModelSpec("poisson"), optimizer="sgd", lr=1.0,
                  schedule=schedule, steps=100)  # fmt: skip
    scheduler = _scheduler(setup, opt, 100)
    rates = []
    for _ in range(100):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert max(rates) == pytest.approx(1.0, rel=0.05)
    assert rates[-1] < 0.9 * rates[70]  # lowered late: healthy runs may still be falling
    if schedule == "cosine_floor":
        assert rates[-1] == pytest.approx(0.1) and rates[90] == pytest.approx(0.1)


def test_new_tasks_and_their_losses():
    graph = make_data(TaskSpec("graph", classes=3, dim=5, seq_len=16, n_train=32, n_val=8, seed=1))
    assert graph.loss == "tag" and graph.x_train.shape == (32, 16, 16 + 5)
    adjacency = graph.x_train[..., :16]
    assert torch.equal(adjacency, adjacency.transpose(1, 2))
    denoise = make_data(TaskSpec("denoise", dim=8, rank=3, noise=0.2, n_train=16, seed=1))
    assert denoise.loss == "mse" and denoise.y_train.min() >= 0 and denoise.y_train.max() <= 1
    setup = Setup(task=TaskSpec("counts", dim=6, n_train=256, n_val=32, teacher="mlp", seed=1),
                  model=ModelSpec("poisson", 16, 1), optimizer="lamb", lr=1e-2, batch_size=64,
                  steps=8, seed=1)  # fmt: skip
    result = train(setup)
    assert result.clean.min() > 0  # the full Poisson NLL, log(y!) included
    gcn = Setup(task=TaskSpec("graph", classes=3, dim=5, seq_len=16, n_train=64, n_val=16,
                              seed=2), model=ModelSpec("gcn", 16, 2), optimizer="lars", lr=3.0,
                batch_size=16, steps=8, seed=1)  # fmt: skip
    assert train(gcn).clean[0] == pytest.approx(math.log(3), abs=0.3)


def test_a_resumed_run_logs_the_steps_between_twice():
    task = TaskSpec("graph", classes=3, dim=5, seq_len=16, n_train=128, n_val=16, seed=2)
    setup = Setup(task=task, model=ModelSpec("gcn", 16, 2), optimizer="adabelief", lr=1e-2,
                  batch_size=8, steps=64, schedule="wsd", restart=(0.25, 0.5), seed=1)  # fmt: skip
    result = train(setup)
    assert result.loss.size == 64 and result.lost is not None
    assert list(result.lost["steps"]) == list(range(17, 33))
    plan = LogPlan("plain_csv", "sampled", 4, True, True, True, relog="both")
    log = to_runlog(result, plan, "resumed", {})
    steps = [p.step for p in log.points]
    assert steps == list(range(4, 33, 4)) + list(range(20, 65, 4))
    assert [p.session for p in log.points].count(1) == len(range(20, 65, 4))
    first = {p.step: p.train_loss for p in log.points if p.session == 0}
    again = {p.step: p.train_loss for p in log.points if p.session == 1}
    assert first[16] == pytest.approx(float(result.loss[15]))  # before the checkpoint: one run
    assert first[32] != again[32]  # trained twice, on other batches
    w_and_b = to_runlog(result, LogPlan("wandb_csv", "sampled", 4, False, False, False,
                                        relog="monotonic"), "w", {})  # fmt: skip
    assert [p.step for p in w_and_b.points] == list(range(4, 65, 4))
    final_only = to_runlog(result, LogPlan("hf_trainer", "step", 1, False, False, False), "h", {})
    assert np.allclose([p.train_loss for p in final_only.points], result.loss)


def test_resumed_runs_are_written_in_logging_order(tmp_path):
    task = TaskSpec("counts", dim=4, n_train=256, n_val=32, teacher="mlp", seed=1)
    setup = Setup(task=task, model=ModelSpec("poisson", 16, 1), optimizer="lamb", lr=1e-2,
                  batch_size=16, steps=48, restart=(0.5, 0.75), seed=1)  # fmt: skip
    result = train(setup)
    plan = LogPlan("plain_csv", "sampled", 4, False, False, True, relog="both")
    log = to_runlog(result, plan, "resumed", {"task": "counts"})
    writers.write("plain_csv", tmp_path, log)
    rows = (tmp_path / "resumed.csv").read_text().splitlines()[1:]
    steps = [int(row.split(",")[0]) for row in rows]
    assert steps == sorted(steps[: steps.index(36) + 1]) + sorted(steps[steps.index(36) + 1 :])
    assert steps.count(28) == 2 and steps[-1] == 48
    writers.write("tensorboardx", tmp_path, log)
    assert len(list((tmp_path / "resumed").glob("events.out.tfevents.*"))) == 2


def test_cumulative_mean_restarts_with_the_resumed_process():
    task = TaskSpec("counts", dim=4, n_train=256, n_val=32, teacher="mlp", seed=1)
    setup = Setup(task=task, model=ModelSpec("poisson", 16, 1), optimizer="adabelief", lr=1e-2,
                  batch_size=16, steps=48, restart=(0.5, 0.75), seed=1)  # fmt: skip
    result = train(setup)
    plain = to_runlog(result, LogPlan("plain_csv", "cumulative_mean", 8, False, False, False),
                      "a", {})  # fmt: skip
    assert [p.train_loss for p in plain.points] == pytest.approx(
        [float(np.mean(result.loss[:end])) for end in range(8, 49, 8)]
    )
    resumed = to_runlog(result, LogPlan("plain_csv", "cumulative_mean", 8, False, False, False,
                                        relog="both"), "b", {})  # fmt: skip
    last = resumed.points[-1]
    assert last.session == 1 and last.train_loss == pytest.approx(np.mean(result.loss[24:48]))
