"""The fresh3 split's training and logging habits: gradient accumulation, a step axis in
samples seen, tabular inputs whose category ids survive standardisation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")

from tools.corpus.data import CATEGORY_LEVELS, TaskSpec, make_data, standardise  # noqa: E402
from tools.corpus.models import ModelSpec  # noqa: E402
from tools.corpus.recipes import VERDICTS, candidate  # noqa: E402
from tools.corpus.train import LogPlan, Setup, to_runlog, train  # noqa: E402

TABLE = TaskSpec("tabreg", dim=5, rank=2, n_train=64, n_val=16, seed=3)


def test_accumulating_two_micro_batches_trains_as_one_batch_of_twice_the_size():
    whole = Setup(task=TABLE, model=ModelSpec("tabular", 8, 1), optimizer="sgd", lr=0.05,
                  batch_size=16, steps=8, seed=1)  # fmt: skip
    split = replace(whole, batch_size=8, accumulation=2)
    a, b = train(whole), train(split)
    assert a.steps_per_epoch == b.steps_per_epoch == 4
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5)
    np.testing.assert_allclose(a.grad_norm, b.grad_norm, rtol=1e-4)


def test_samples_axis_counts_batch_times_micro_batches_per_step():
    setup = Setup(task=TABLE, model=ModelSpec("tabular", 8, 1), optimizer="adafactor",
                  lr=0.1, batch_size=8, steps=16, accumulation=2, seed=1)  # fmt: skip
    result = train(setup)
    plan = LogPlan("plain_csv", "accumulated", 2, False, False, True, step_size=16)
    log = to_runlog(result, plan, "run", {})
    assert [p.step for p in log.points] == [16 * s for s in range(2, 17, 2)]
    assert all(e.step % 16 == 0 for e in log.evals)
    assert log.points[-1].epoch == result.loss.size / result.steps_per_epoch


def test_standardise_keeps_category_ids():
    data = make_data(replace(TABLE, n_train=256))
    scaled = standardise(data)
    ids = scaled.x_train[:, : data.categorical]
    assert data.categorical == 2
    assert bool((ids == data.x_train[:, :2]).all()) and int(ids.max()) < CATEGORY_LEVELS
    assert float(scaled.x_train[:, 2:].std(0).sub(1).abs().max()) < 1e-4


@pytest.mark.parametrize("label", VERDICTS)
def test_fresh3_candidates_are_pure_and_use_their_optimisers(label):
    first = [candidate("fresh3", label, i, 0) for i in range(6)]
    assert first == [candidate("fresh3", label, i, 0) for i in range(6)]
    new = {"adafactor", "adamw_gpt", "nesterov99"}
    assert all(c.setup.optimizer in new for c in first)
