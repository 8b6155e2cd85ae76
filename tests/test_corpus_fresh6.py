"""The fresh6 split's set-up: families, optimisers and schedules no other split uses, the
hand-written optimisers, the new tasks' losses (InfoNCE near ln(batch) at the start, a
Gaussian NLL that goes negative), and its logging habits (the loop's own evaluation of the
training slice, bf16 autocast for one run in four)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lion_pytorch")

import torch  # noqa: E402

from tools.corpus.data import TaskSpec, hetero_bayes_nll, make_data  # noqa: E402
from tools.corpus.generate import (  # noqa: E402
    HETERO_FLOOR,
    STEP_ONLY,
    _positive,
    choose_plan,
)
from tools.corpus.models import ModelSpec  # noqa: E402
from tools.corpus.optimizers import MADGRAD, Adan, Yogi  # noqa: E402
from tools.corpus.recipes import (  # noqa: E402
    FRESH6_DECAYING,
    SPLITS,
    TUNED_LR,
    VERDICTS,
    candidate,
)
from tools.corpus.train import (  # noqa: E402
    LogPlan,
    Setup,
    _gaussian_nll,
    _info_nce,
    _scheduler,
    to_runlog,
    train,
)

EARLIER = [name for name in SPLITS if name != "fresh6"]


def test_fresh6_families_and_optimisers_are_in_no_other_split():
    fresh6 = SPLITS["fresh6"]
    for name in EARLIER:
        split = SPLITS[name]
        assert not set(fresh6.families) & set(split.families), name
        assert not set(fresh6.optimizers) & (set(split.optimizers) | set(split.minority)), name
    for family in fresh6.families:
        assert set(fresh6.optimizers) <= set(TUNED_LR[family])
        assert set(TUNED_LR[family]) <= set(fresh6.optimizers) | {"momentum"}


@pytest.mark.parametrize("label", VERDICTS)
def test_fresh6_candidates_are_pure_and_new_in_kind(label):
    first = [candidate("fresh6", label, i, 0) for i in range(6)]
    again = [candidate("fresh6", label, i, 0) for i in range(6)]
    assert first == again
    assert [c.setup.probe_every for c in first] == [c.setup.probe_every for c in again]
    assert all(c.family in SPLITS["fresh6"].families for c in first)
    allowed = set(SPLITS["fresh6"].optimizers)
    if label == "exploding_gradients":  # a deep plain net under plain SGD
        allowed = {"sgd"}
    if label == "poor_feature_scaling":  # adaptive optimisers absorb the features' scale
        allowed = {"momentum"}
    assert all(c.setup.optimizer in allowed for c in first)
    # the run and its fix evaluate the training slice at the same steps (full_eval)
    assert all(c.setup.probe_every >= 2 for c in first)
    assert all(c.fix is None or c.fix.probe_every == c.setup.probe_every for c in first)
    earlier = [candidate(name, label, i, 0) for name in EARLIER for i in range(6)]
    assert not {c.setup.schedule for c in earlier} & set(FRESH6_DECAYING)
    assert all(c.setup.probe_every == 0 for c in earlier)


@pytest.mark.parametrize("optimizer", [Yogi, Adan, MADGRAD])
def test_hand_written_optimisers_fit_a_least_squares_problem(optimizer):
    torch.manual_seed(0)
    x, w = torch.randn(256, 8), torch.randn(8, 1)
    y = x @ w
    model = torch.nn.Linear(8, 1)
    lr = {Yogi: 1e-2, Adan: 1e-2, MADGRAD: 1e-2}[optimizer]
    opt = optimizer(model.parameters(), lr=lr)
    with torch.no_grad():
        first = float(torch.nn.functional.mse_loss(model(x), y))
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    assert float(loss) < 0.05 * first


def test_yogi_moves_its_second_moment_additively():
    """Adam's v would jump to (1 - beta2) g^2 = 1e-3 g^2 from 1e-6; Yogi's moves by the same
    amount but from its floor and by sign: one large gradient raises v by (1 - beta2) g^2, and
    a zero gradient then lowers it by nothing."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = Yogi([p], lr=1e-2)
    p.grad = torch.tensor([10.0])
    opt.step()
    v = float(opt.state[p]["v"])
    assert v == pytest.approx(1e-6 + 1e-3 * 100.0)
    p.grad = torch.tensor([0.0])
    opt.step()
    assert float(opt.state[p]["v"]) == pytest.approx(v)  # sign(v - 0) * 0: unchanged


def test_madgrad_is_dual_averaging_from_its_start():
    """MADGRAD's point is x0 - s / nu^(1/3), averaged in with momentum: with a constant
    gradient g the dual point after k steps is x0 - sign(g) |g|^(1/3) (sum lambda)^(2/3)."""
    p = torch.nn.Parameter(torch.ones(1))
    opt = MADGRAD([p], lr=0.1, momentum=0.0)
    for _ in range(3):
        p.grad = torch.tensor([2.0])
        opt.step()
    weights = sum(0.1 * math.sqrt(k + 1) for k in range(3))
    expected = 1.0 - 2.0 * weights / (4.0 * weights) ** (1 / 3)
    assert float(p) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("schedule", FRESH6_DECAYING)
def test_fresh6_schedules(schedule):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    setup = Setup(task=TaskSpec("hetero"), model=ModelSpec("hetero"), optimizer="sgd", lr=1.0,
                  schedule=schedule, steps=100)  # fmt: skip
    scheduler = _scheduler(setup, opt, 100)
    rates = []
    for _ in range(100):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert rates[-1] < 0.9 * rates[70]  # lowered late: healthy runs may still be falling
    if schedule == "goyal":  # warm-up over 5 steps, a tenth from 50, a hundredth from 75
        assert rates[0] == pytest.approx(0.2) and rates[4] == pytest.approx(1.0)
        assert rates[49] == pytest.approx(1.0) and rates[50] == pytest.approx(0.1)
        assert rates[74] == pytest.approx(0.1) and rates[75] == pytest.approx(0.01)
    if schedule == "rex":  # above linear decay all the way, 2/3 at half time
        assert rates[0] == pytest.approx(1.0) and rates[50] == pytest.approx(2 / 3)
        assert all(rate >= 1 - s / 100 for s, rate in enumerate(rates))
    if schedule == "inverse_time":  # Keras InverseTimeDecay: lr / (1 + 9 t / T)
        assert rates[50] == pytest.approx(1 / 5.5) and rates[99] == pytest.approx(1 / 9.91)


def _small(kind: str, model: ModelSpec, optimizer: str = "yogi", **task) -> Setup:
    spec = TaskSpec(kind, n_train=256, n_val=64, seed=3, **task)
    lr = TUNED_LR[model.family][optimizer]
    return Setup(task=spec, model=model, optimizer=optimizer, lr=lr, batch_size=32, steps=64,
                 seed=1)  # fmt: skip


def test_the_gaussian_nll_goes_negative_and_is_torchs():
    setup = _small("hetero", ModelSpec("hetero", 32, 2), dim=6, rank=2, noise=0.2)
    result = train(setup)
    assert result.clean[0] > 0 > result.clean[-1]  # a variance below 1 makes the NLL negative
    assert result.loss[-1] < 0 and result.val[-1] < 0
    out, y = torch.randn(5, 2), torch.randn(5, 1)
    torch_nll = torch.nn.GaussianNLLLoss()(out[:, :1], y, out[:, 1:].exp())
    assert float(_gaussian_nll(out, y)) == pytest.approx(float(torch_nll))
    # the data's own NLL: the true mean and sd, as the checks' positive scale assumes
    spec = replace(setup.task, n_train=20000)
    data = make_data(spec)
    best = hetero_bayes_nll(spec)
    assert best == pytest.approx(math.log(0.2) + 0.5)
    assert data.loss == "gaussian_nll" and data.outputs == 2


def test_hetero_runs_are_judged_on_a_positive_scale():
    setup = _small("hetero", ModelSpec("hetero", 32, 2), dim=6, rank=2, noise=0.2)
    result = train(setup)
    log = to_runlog(result, LogPlan("plain_csv", "sampled", 4, False, False, True), "h", {})
    offset = HETERO_FLOOR - hetero_bayes_nll(setup.task)
    shifted, shifted_log = _positive(result, log, offset)
    assert np.allclose(shifted.clean, result.clean + offset)
    assert shifted.clean.min() > 0 and min(p.train_loss for p in shifted_log.points) > 0
    assert min(p.train_loss for p in log.points) < 0  # the written log keeps the real losses
    assert shifted_log.evals[0].val_loss == pytest.approx(log.evals[0].val_loss + offset)


def test_infonce_starts_near_ln_batch_and_is_judged_on_the_batchs_scale():
    setup = _small("views", ModelSpec("siamese", 32, 2, bottleneck=16), "madgrad", dim=12,
                   rank=4, noise=0.5)  # fmt: skip
    data = make_data(setup.task)
    assert data.x_train.shape == (256, 2, 12) and data.loss == "infonce"
    result = train(setup)
    assert abs(result.loss[0] - math.log(32)) < 0.4
    assert abs(result.clean[0] - math.log(32)) < 0.4  # 128 rows in groups of the batch's 32
    assert result.clean[-1] < result.clean[0] - 0.3
    # in groups: four groups of 32 rows are the mean of the four groups' losses
    out = torch.nn.functional.normalize(torch.randn(128, 2, 8), dim=-1)
    whole = float(_info_nce(out, 32))
    parts = [float(_info_nce(out[i : i + 32], 32)) for i in range(0, 128, 32)]
    assert whole == pytest.approx(float(np.mean(parts)), rel=1e-5)
    assert float(_info_nce(out, 128)) > whole  # more negatives, a harder pick


@pytest.mark.parametrize("kind", ["implicit", "ratings"])
def test_the_recommender_learns_its_feedback(kind):
    bias = 3.5 if kind == "ratings" else 0.0
    setup = _small(kind, ModelSpec("matfac", 8, 0, output_bias=bias), dim=40, seq_len=30,
                   rank=3, noise=0.5)  # fmt: skip
    setup = replace(setup, task=replace(setup.task, n_train=4096), batch_size=128, steps=96)
    data = make_data(setup.task)
    assert data.x_train.shape == (4096, 2) and int(data.x_train[:, 0].max()) < 40
    result = train(setup)
    if kind == "implicit":  # clicks: binary cross-entropy from ln 2
        assert data.loss == "bce" and set(data.y_train.unique().tolist()) == {0.0, 1.0}
        assert result.clean[0] == pytest.approx(math.log(2), abs=0.02)
    else:  # whole stars from 1 to 5, MSE from the site's typical rating
        assert data.loss == "mse" and set(data.y_train.unique().tolist()) <= {1, 2, 3, 4, 5}
        assert result.clean[0] < 2.0
    assert result.clean[-1] < 0.95 * result.clean[0]


def test_full_eval_logs_the_loops_own_noiseless_train_loss():
    setup = _small("hetero", ModelSpec("hetero", 32, 2, dropout=0.3), dim=6, rank=2,
                   noise=0.3)  # fmt: skip
    probed = replace(setup, probe_every=4)
    result = train(probed)
    assert np.array_equal(result.loss, train(setup).loss)  # evaluating does not change training
    assert result.probe.size == result.loss.size // 4
    log = to_runlog(result, LogPlan("plain_csv", "full_eval", 4, False, False, False), "f", {})
    logged = np.array([p.train_loss for p in log.points])
    assert [p.step for p in log.points] == list(range(4, result.loss.size + 1, 4))
    assert np.array_equal(logged, result.probe)
    # where an evaluation falls on a logged step, the logged loss is the clean loss (eval mode,
    # no dropout, the fixed training slice) and not that step's mini-batch loss
    both = [int(s) for s in result.eval_steps if s and s % 4 == 0]
    assert both
    for step in both:
        clean = result.clean[list(result.eval_steps).index(step)]
        assert logged[step // 4 - 1] == pytest.approx(clean)
        assert abs(logged[step // 4 - 1] - result.loss[step - 1]) > 1e-6
    # no mini-batch noise: smoother than one sampled loss per point
    sampled = result.loss[3::4][: logged.size]
    assert np.std(np.diff(logged[-8:])) < np.std(np.diff(sampled[-8:]))


def test_fresh6_plans_log_full_eval_only_where_the_label_allows():
    seen = Counter()
    for label in VERDICTS:
        for index in range(3):
            cand = candidate("fresh6", label, index, 0)
            small = replace(cand.setup.task, n_train=min(cand.setup.task.n_train, 256))
            result = train(replace(cand.setup, task=small, steps=48))
            rng = np.random.default_rng(index)
            plan = choose_plan("fresh6", label, index, result, rng)
            seen[plan.cadence] += 1
            if label in STEP_ONLY:
                assert plan.cadence in ("step", "sampled")
            if plan.cadence == "full_eval":
                assert plan.every % cand.setup.probe_every == 0
                to_runlog(result, plan, "x", {})  # every logged step has its evaluation
    assert seen["full_eval"] >= 3


def test_about_one_fresh6_run_in_four_trains_under_bf16_autocast():
    precisions = Counter(candidate("fresh6", "healthy", i, 0).setup.precision for i in range(80))
    assert 0.12 <= precisions["bf16"] / 80 <= 0.4
    assert set(precisions) == {"bf16", "fp32"}
    setup = _small("views", ModelSpec("siamese", 32, 2, bottleneck=16), "yogi", dim=12, rank=4,
                   noise=0.5)  # fmt: skip
    bf16 = train(replace(setup, precision="bf16"))
    fp32 = train(setup)
    assert not np.array_equal(bf16.loss, fp32.loss)  # autocast changed the arithmetic
    assert bf16.clean[-1] < bf16.clean[0] - 0.3  # and it trains
