"""The fresh4 split's set-up: families, optimisers and schedules no other split uses, and
its logging habits (wall-clock intervals, a summed or divided logged loss)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lion_pytorch")

from tools.corpus.data import TaskSpec, make_data  # noqa: E402
from tools.corpus.models import ModelSpec  # noqa: E402
from tools.corpus.recipes import (  # noqa: E402
    FRESH4_DECAYING,
    SPLITS,
    TUNED_LR,
    VERDICTS,
    candidate,
)
from tools.corpus.train import LogPlan, Setup, to_runlog, train, wall_clock_ends  # noqa: E402

EARLIER = [name for name in SPLITS if name != "fresh4"]


def test_fresh4_families_and_optimisers_are_in_no_other_split():
    fresh4 = SPLITS["fresh4"]
    for name in EARLIER:
        split = SPLITS[name]
        assert not set(fresh4.families) & set(split.families), name
        assert not set(fresh4.optimizers) & (set(split.optimizers) | set(split.minority)), name
    for family in fresh4.families:
        assert set(TUNED_LR[family]) == set(fresh4.optimizers)


@pytest.mark.parametrize("label", VERDICTS)
def test_fresh4_candidates_are_pure_and_new_in_kind(label):
    first = [candidate("fresh4", label, i, 0) for i in range(6)]
    assert first == [candidate("fresh4", label, i, 0) for i in range(6)]
    assert all(c.family in SPLITS["fresh4"].families for c in first)
    # plain SGD for exploding gradients only: fresh4's optimisers normalise the step
    allowed = set(SPLITS["fresh4"].optimizers)
    if label == "exploding_gradients":
        allowed.add("sgd")
    assert all(c.setup.optimizer in allowed for c in first)
    earlier = {candidate(name, label, i, 0).setup.schedule for name in EARLIER for i in range(6)}
    assert not earlier & set(FRESH4_DECAYING)


def test_wall_clock_steps_are_irregular_and_seeded():
    ends = wall_clock_ends(600, 10, seed=3, evals=(100, 200))
    assert ends == wall_clock_ends(600, 10, seed=3, evals=(100, 200))
    gaps = np.diff(ends)
    assert 30 <= len(ends) <= 70 and gaps.min() < gaps.max()


def test_vae_loss_is_an_elbo_on_the_scale_of_its_pixels():
    task = TaskSpec("binimages", dim=8, rank=3, noise=0.2, n_train=64, n_val=16, seed=1)
    data = make_data(task)
    assert data.loss == "vae" and float(data.y_train.min()) >= 0 and float(data.y_train.max()) <= 1
    setup = Setup(task=task, model=ModelSpec("vae", 16, 1, bottleneck=2), optimizer="lion",
                  lr=1e-3, batch_size=16, steps=4, seed=1)  # fmt: skip
    result = train(setup)
    assert 20 < result.clean[0] < 64  # about 64 pixels * ln 2 at first


def test_logged_loss_scales_and_last_micro_batch():
    task = TaskSpec("seqtag", classes=3, dim=4, seq_len=8, n_train=64, n_val=16, seed=2)
    setup = Setup(task=task, model=ModelSpec("tagger", 8, 1), optimizer="nadamw", lr=1e-2,
                  batch_size=8, steps=8, accumulation=2, schedule="inv_sqrt", seed=1)  # fmt: skip
    result = train(setup)
    plain = to_runlog(result, LogPlan("plain_csv", "sampled", 2, False, False, True), "a", {})
    divided = LogPlan("plain_csv", "sampled", 2, False, False, True, loss_scale=0.5,
                      last_micro=True)  # fmt: skip
    summed = LogPlan("plain_csv", "sampled", 2, False, False, True, loss_scale=8.0, val_scale=8.0)
    bug = to_runlog(result, divided, "b", {})
    total = to_runlog(result, summed, "c", {})
    np.testing.assert_allclose([p.train_loss for p in bug.points],
                               0.5 * result.last_part[1::2], rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose([p.train_loss for p in total.points],
                               [8 * p.train_loss for p in plain.points], rtol=1e-6)  # fmt: skip
    assert [e.val_loss for e in bug.evals] == [e.val_loss for e in plain.evals]
