"""The PyTorch training loop: one set-up in, every step's loss, gradient norm and LR out.

Besides the minibatch loss a logger would see, the loop measures at evaluation points the
clean loss on a fixed slice of the training set and the validation loss: the label checks
judge where the run really is from those, and what a reader can see from the logged points.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from dataclasses import replace as dataclasses_replace

import numpy as np
import torch
from lion_pytorch import Lion
from torch import nn

from tools.corpus.data import Data, TaskSpec, make_data, scale_features, standardise
from tools.corpus.models import ModelSpec, build_model
from tools.corpus.optimizers import LAMB, LARS, MADGRAD, AdaBelief, Adan, Yogi
from tools.corpus.runlog import Evaluation, Point, RunLog

EVALUATIONS = 20
CLEAN_SLICE = {"charlm": 32, "seqreg": 64}  # default 128: training examples in the clean loss
NAN_TAIL_STEPS = 50  # steps logged after the weights turn NaN, before the run is abandoned


@dataclass(frozen=True)
class Setup:
    """Everything that decides a run; two equal set-ups give identical runs."""

    task: TaskSpec
    model: ModelSpec
    optimizer: str = "adam"  # a name _optimizer knows: sgd, momentum, adamw, nadam, ...
    lr: float = 1e-3
    batch_size: int = 32
    steps: int = 600  # planned; rounded to whole epochs
    schedule: str = "constant"  # constant, warmup, cosine, step, linear_decay, onecycle,
    # plateau, warm_restarts, exponential, polynomial, cyclic, inv_sqrt, multistep, wsd,
    # warmup_exp, cosine_floor, goyal, rex, inverse_time
    warmup_fraction: float = 0.1
    weight_decay: float = 0.0
    clip: float | None = None
    precision: str = "fp32"  # fp32, bf16 (CPU autocast) or fp16 (weights in float16, no scaling)
    frozen: bool = False
    feature_scales: tuple[tuple[int, float], ...] = ()  # (column, factor) pairs
    standardised: bool = False
    seed: int = 0
    # Micro-batches of batch_size per optimiser step (gradient accumulation). Out of the
    # repr, so that the earlier splits' candidates print as before this field existed.
    accumulation: int = field(default=1, repr=False)
    # (checkpoint, stop) as fractions of the run: the run stops at `stop` and resumes from the
    # checkpoint saved at `checkpoint` (weights, optimiser and scheduler restored; the data
    # loader reshuffles), so the steps between are trained twice. Out of the repr, as above.
    restart: tuple[float, float] = field(default=(), repr=False)
    # every so many steps the loop also evaluates the mean loss on the fixed training slice
    # (eval mode, no gradient), for a loop that logs that instead of mini-batch losses (the
    # full_eval cadence); 0: never. Out of the repr, as above.
    probe_every: int = field(default=0, repr=False)

    @property
    def data(self) -> Data:
        data = make_data(self.task)
        if self.feature_scales:
            data = scale_features(data, dict(self.feature_scales))
        return standardise(data) if self.standardised else data


@dataclass
class Result:
    """Per-step arrays (length = steps run) and the evaluations (the first at step 0)."""

    setup: Setup
    steps_per_epoch: int
    planned_steps: int
    loss: np.ndarray
    grad_norm: np.ndarray
    lr: np.ndarray
    eval_steps: np.ndarray
    clean: np.ndarray  # loss on a fixed slice of the training set, eval mode
    val: np.ndarray
    seconds: float = 0.0
    abandoned: bool = False  # weights went NaN/inf and the run was stopped
    last_part: np.ndarray | None = None  # each step's last micro-batch loss (accumulation)
    # a restarted run's first attempt at the steps it trained twice: "steps" (1-based, from the
    # checkpoint's step + 1 to the stop), "loss", "grad_norm", "lr", "last_part", and its
    # evaluations then ("eval_steps", "clean", "val"); the arrays above hold the final run
    lost: dict | None = None
    probe: np.ndarray | None = None  # the clean loss after each probe_every steps (Setup)


# Each optimiser name: its torch class and the arguments beyond lr and weight decay.
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adagrad": (torch.optim.Adagrad, {}),
    "nadam": (torch.optim.NAdam, {}),
    "radam": (torch.optim.RAdam, {}),
    "adamax": (torch.optim.Adamax, {}),
    "adadelta": (torch.optim.Adadelta, {}),
    "asgd": (torch.optim.ASGD, {}),
    "amsgrad": (torch.optim.Adam, {"amsgrad": True}),
    "adafactor": (torch.optim.Adafactor, {}),
    "adamw_gpt": (torch.optim.AdamW, {"betas": (0.9, 0.95), "weight_decay": 0.1}),  # nanoGPT's
    "nesterov99": (torch.optim.SGD, {"momentum": 0.99, "nesterov": True}),
    "lion": (Lion, {}),  # lion-pytorch: betas (0.9, 0.99), the paper's
    "rmsprop_centered": (torch.optim.RMSprop, {"centered": True, "momentum": 0.9}),
    "nadamw": (torch.optim.NAdam, {"decoupled_weight_decay": True, "weight_decay": 0.01}),
    "lamb": (LAMB, {"weight_decay": 0.01}),  # BERT's LAMB decay
    "lars": (LARS, {"weight_decay": 1e-4}),  # momentum 0.9, trust coefficient 0.001
    "adabelief": (AdaBelief, {}),
    "yogi": (Yogi, {}),  # eps 1e-3, the paper's
    "adan": (Adan, {"weight_decay": 0.02}),  # the official code's default decay
    "madgrad": (MADGRAD, {}),  # momentum 0.9
}


def _optimizer(setup: Setup, params) -> torch.optim.Optimizer:
    if setup.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {setup.optimizer!r}")
    cls, extra = OPTIMIZERS[setup.optimizer]
    return cls(params, **{"lr": setup.lr, "weight_decay": setup.weight_decay} | extra)


def _scheduler(setup: Setup, opt: torch.optim.Optimizer, steps: int):
    sched = torch.optim.lr_scheduler
    warm = max(1, int(setup.warmup_fraction * steps))
    if setup.schedule == "constant":
        return None
    if setup.schedule == "warmup":
        return sched.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    if setup.schedule == "cosine":
        return sched.CosineAnnealingLR(opt, steps)
    if setup.schedule == "step":
        return sched.StepLR(opt, max(1, steps // 3), gamma=0.3)
    if setup.schedule == "linear_decay":
        return sched.LinearLR(opt, 1.0, 0.02, total_iters=steps)
    if setup.schedule == "onecycle":
        # those have no momentum to cycle
        cycle = setup.optimizer not in ("sgd", "adagrad", "asgd", "adadelta", "adafactor")
        return sched.OneCycleLR(opt, setup.lr, total_steps=steps + 1, cycle_momentum=cycle)
    if setup.schedule == "plateau":
        return sched.ReduceLROnPlateau(opt, factor=0.3, patience=2)
    if setup.schedule == "warm_restarts":  # cycles of 1, 2 and 4 sevenths: the last one ends
        return sched.CosineAnnealingWarmRestarts(opt, max(1, steps // 7), T_mult=2)
    if setup.schedule == "exponential":  # to 1% of the peak by the end
        return sched.ExponentialLR(opt, 0.01 ** (1 / steps))
    if setup.schedule == "polynomial":
        return sched.PolynomialLR(opt, total_iters=steps, power=2.0)
    if setup.schedule == "cyclic":  # triangular2: four cycles from LR/10 up to the LR, each
        # peak half the last; no momentum cycling (Lion and centered RMSprop's would not fit)
        return sched.CyclicLR(opt, setup.lr / 10, setup.lr, step_size_up=max(1, steps // 8),
                              mode="triangular2", cycle_momentum=False)  # fmt: skip
    if setup.schedule == "inv_sqrt":  # linear warm-up, then LR * sqrt(warm-up / step)
        return sched.LambdaLR(opt, lambda s: min((s + 1) / warm, math.sqrt(warm / (s + 1))))
    if setup.schedule == "multistep":  # the ResNet habit: a tenth at half and three quarters
        return sched.MultiStepLR(opt, [steps // 2, 3 * steps // 4], gamma=0.1)
    if setup.schedule == "wsd":  # warm-up, stable, decay: linear warm-up, the peak LR held,
        # then linearly to 0 over the last fifth (as recent LLM pre-training runs do)
        decay = max(1, steps // 5)
        return sched.LambdaLR(opt, lambda s: min((s + 1) / warm, 1.0, (steps - s) / decay))
    if setup.schedule == "warmup_exp":  # linear warm-up, then exponential decay to 2% at the end
        rate = 0.02 ** (1 / max(1, steps - warm))
        return sched.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else rate ** (s - warm))
    if setup.schedule == "cosine_floor":  # cosine down to a tenth over 85% of the steps, then held
        span = max(1, int(0.85 * steps))
        return sched.LambdaLR(
            opt, lambda s: 0.1 + 0.45 * (1 + math.cos(math.pi * min(s, span) / span))
        )
    if setup.schedule == "goyal":  # Goyal et al.'s large-batch recipe: linear warm-up over
        # the first 5%, then a tenth at half and again at three quarters
        warm5 = max(1, steps // 20)
        return sched.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm5)
                              * (0.1 if s >= steps // 2 else 1.0)
                              * (0.1 if s >= 3 * steps // 4 else 1.0))  # fmt: skip
    if setup.schedule == "rex":  # REX (Chen et al. 2022): (1 - z) / (0.5 + 0.5 (1 - z)), z the
        # share of the run done: held high longer than linear decay, to 0 at the end
        return sched.LambdaLR(opt, lambda s: (1 - s / steps) / (0.5 + 0.5 * (1 - s / steps)))
    if setup.schedule == "inverse_time":  # Keras InverseTimeDecay(lr, decay_steps=steps,
        # decay_rate=9): lr / (1 + 9 t / steps), a tenth at the end
        return sched.LambdaLR(opt, lambda s: 1.0 / (1.0 + 9.0 * s / steps))
    raise ValueError(f"unknown schedule {setup.schedule!r}")


def _vae_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The negative ELBO per example: Bernoulli reconstruction summed over pixels plus the
    KL divergence of the code from N(0, I); `out` is [logits, mean, log-variance]."""
    pixels = y.shape[1]
    logits, mean, log_var = out[:, :pixels], *out[:, pixels:].chunk(2, dim=1)
    recon = nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum")
    kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
    return (recon + kl) / y.shape[0]


def _poisson_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The full negative log-likelihood of counts `y` under Poisson(exp(out)): PoissonNLLLoss
    (log_input) plus log(y!), so that it is never negative."""
    nll = nn.functional.poisson_nll_loss(out, y, log_input=True, full=False)
    return nll + torch.lgamma(y + 1).mean()


INFONCE_TEMPERATURE = 0.5  # SimCLR's CIFAR-10 setting


def _info_nce(out: torch.Tensor, group: int) -> torch.Tensor:
    """InfoNCE (SimCLR's NT-Xent between the two views only, both directions): each row's
    first view must pick its own second view among the rows of its group (a training batch:
    `group` rows; an evaluation splits its rows into groups of the training batch's size, so
    that its loss is on the mini-batch's scale, ln(group) at the start). Mean over rows."""
    total = out.new_zeros(())
    for chunk in out.split(group):
        first, second = chunk[:, 0], chunk[:, 1]
        logits = first @ second.T / INFONCE_TEMPERATURE
        labels = torch.arange(chunk.shape[0])
        total = total + 0.5 * (
            nn.functional.cross_entropy(logits, labels, reduction="sum")
            + nn.functional.cross_entropy(logits.T, labels, reduction="sum")
        )
    return total / out.shape[0]


_GAUSSIAN_NLL = nn.GaussianNLLLoss()  # full=False, variance clamped at 1e-6


def _gaussian_nll(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """torch.nn.GaussianNLLLoss of y under N(mean, exp(log-variance)), `out` the two side
    by side: 0.5 (log var + (y - mean)^2 / var), negative once the variance is below 1."""
    return _GAUSSIAN_NLL(out[:, :1], y, out[:, 1:].exp())


def _loss_fn(kind: str, group: int = 0):
    if kind == "infonce":
        return lambda out, _y: _info_nce(out, group)
    if kind == "gaussian_nll":
        return _gaussian_nll
    if kind == "bce":
        return nn.functional.binary_cross_entropy_with_logits
    if kind == "vae":
        return _vae_loss
    if kind == "poisson":
        return _poisson_loss
    if kind == "mse":
        return nn.functional.mse_loss
    if kind in ("lm", "tag"):  # every position's cross-entropy
        return lambda out, y: nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.ravel())
    return nn.functional.cross_entropy


def _weights_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def train(setup: Setup) -> Result:
    """Train `setup` for whole epochs and record every step; stop soon after weights go NaN."""
    start = time.perf_counter()
    torch.manual_seed(setup.seed)
    data = setup.data
    seq_len = setup.task.seq_len
    inputs = data.x_train.shape[-1] if data.loss != "lm" else 0
    model = build_model(setup.model, inputs, data.outputs, data.vocab, seq_len, data.categorical)
    if setup.precision == "fp16":
        model = model.half()
    if setup.frozen:
        model.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(setup, params or [nn.Parameter(torch.zeros(1))])
    n = data.x_train.shape[0]
    batch = min(setup.batch_size, n)
    micro = max(1, min(setup.accumulation, n // batch))
    per_epoch = n // (batch * micro)  # drop_last: a batch of one would break BatchNorm
    epochs = max(1, round(setup.steps / per_epoch))
    total = epochs * per_epoch
    scheduler = _scheduler(setup, opt, total)
    loss_fn = _loss_fn(data.loss, batch)
    if 10 <= epochs <= 30:  # at each epoch's end, where epoch loggers validate
        eval_at = {0} | {per_epoch * (e + 1) for e in range(epochs)}
    else:
        eval_at = set(np.linspace(0, total, EVALUATIONS + 1).round().astype(int).tolist())
    size = CLEAN_SLICE.get(setup.task.kind, 128)
    clean_x, clean_y = data.x_train[:size], data.y_train[:size]
    gen = torch.Generator().manual_seed(setup.seed + 99)
    losses, norms, rates, evals, lasts, probes = [], [], [], [], [], []
    cast = setup.precision == "bf16"

    def forward(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if setup.precision == "fp16":
            x = x.half() if x.is_floating_point() else x
            return loss_fn(model(x).float(), y.float() if data.loss == "mse" else y)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cast):
            out = model(x)
        return loss_fn(out.float(), y)

    def evaluate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            clean = float(forward(clean_x, clean_y))
            val = float(forward(data.x_val, data.y_val))
        model.train()
        evals.append((step, clean, val))
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and step:
            scheduler.step(clean if math.isfinite(clean) else float("inf"))

    def probe() -> None:  # the full_eval cadence's value: the clean loss, nothing else
        model.eval()
        with torch.no_grad():
            probes.append(float(forward(clean_x, clean_y)))
        model.train()

    def batches():  # as `for epoch: order = randperm(); for batch in order` would draw them
        while True:
            order = torch.randperm(n, generator=gen)
            for first in range(0, per_epoch * batch * micro, batch * micro):
                yield order, first

    checkpoint_at = stop_at = None
    if setup.restart:
        checkpoint_at = max(1, int(setup.restart[0] * total))
        stop_at = min(total - 1, max(checkpoint_at + 1, int(setup.restart[1] * total)))
    saved, lost = None, None
    evaluate(0)
    step, abandoned, dead_at = 0, False, None
    source = batches()
    while step < total:
        order, first = next(source)
        rate = opt.param_groups[0]["lr"]
        if dead_at is None:
            opt.zero_grad(set_to_none=True)
            parts = []
            for offset in range(first, first + batch * micro, batch):
                index = order[offset : offset + batch]
                part = forward(data.x_train[index], data.y_train[index])
                if params:  # gradient accumulation: the mean of the micro-batch losses
                    (part / micro).backward()
                parts.append(part.detach())
            loss = parts[0] if micro == 1 else torch.stack(parts).mean()
            if params:
                grads = [p.grad.float() for p in params if p.grad is not None]
                norm = float(torch.linalg.vector_norm(torch.stack(
                    [torch.linalg.vector_norm(g) for g in grads])))  # fmt: skip
                if setup.clip is not None:
                    nn.utils.clip_grad_norm_(params, setup.clip)
                opt.step()
            else:
                norm = 0.0
            loss_value = float(loss.detach())
            last_value = float(parts[-1])
            if not math.isfinite(loss_value) and not _weights_finite(model):
                dead_at = step
        else:
            loss_value, norm = float("nan"), float("nan")
            last_value = loss_value
        if scheduler is not None and not isinstance(
            scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau
        ):
            scheduler.step()
        step += 1
        losses.append(loss_value)
        lasts.append(last_value)
        norms.append(norm)
        rates.append(rate)
        if step in eval_at:
            evaluate(step)
        if setup.probe_every and step % setup.probe_every == 0:
            probe()
        if dead_at is None and step % 50 == 0 and not _weights_finite(model):
            dead_at = step
        if dead_at is not None and step - dead_at >= NAN_TAIL_STEPS:
            abandoned = True
            break
        if step == checkpoint_at and saved is None and dead_at is None:
            saved = copy.deepcopy((model.state_dict(), opt.state_dict(),
                                   scheduler.state_dict() if scheduler else None))  # fmt: skip
        if step == stop_at and saved is not None and lost is None and dead_at is None:
            back = checkpoint_at
            lost = {"steps": np.arange(back + 1, step + 1), "loss": np.array(losses[back:]),
                    "grad_norm": np.array(norms[back:]), "lr": np.array(rates[back:]),
                    "last_part": np.array(lasts[back:])}  # fmt: skip
            redone = [e for e in evals if e[0] > back]
            lost |= {"eval_steps": np.array([e[0] for e in redone], dtype=int),
                     "clean": np.array([e[1] for e in redone]),
                     "val": np.array([e[2] for e in redone])}  # fmt: skip
            del losses[back:], norms[back:], rates[back:], lasts[back:]
            if setup.probe_every:
                del probes[back // setup.probe_every :]
            evals[:] = [e for e in evals if e[0] <= back]
            model_state, opt_state, sched_state = copy.deepcopy(saved)
            model.load_state_dict(model_state)
            opt.load_state_dict(opt_state)
            if scheduler is not None:
                scheduler.load_state_dict(sched_state)
            step = back
    steps = np.array([e[0] for e in evals])
    return Result(
        setup=setup,
        steps_per_epoch=per_epoch,
        planned_steps=total,
        loss=np.array(losses),
        grad_norm=np.array(norms),
        lr=np.array(rates),
        eval_steps=steps,
        clean=np.array([e[1] for e in evals]),
        val=np.array([e[2] for e in evals]),
        seconds=time.perf_counter() - start,
        abandoned=abandoned,
        last_part=np.array(lasts),
        lost=lost,
        probe=np.array(probes) if setup.probe_every else None,
    )


@dataclass(frozen=True)
class LogPlan:
    """How a run is logged: cadence, steps per point, and which series besides the loss."""

    logger: str
    cadence: str  # runlog.CADENCES
    every: int
    grad_norm: bool
    lr: bool
    val: bool
    step_size: int = 1  # what one optimiser step adds to the logged step: samples per step
    # when the loop counts the step axis in samples seen (a global_step += batch_size loop)
    loss_scale: float = 1.0  # multiplies the logged train loss: the batch size when the loop
    # logs a reduction="sum" loss, 1/accumulation when it logs the loss it divided for
    # accumulation
    val_scale: float = 1.0  # multiplies the logged val loss (the batch size for "sum")
    last_micro: bool = False  # the logged train loss is the step's last micro-batch's
    relog: str = ""  # a restarted run (Result.lost): "both" logs its first attempt up to the
    # stop, then the resumed run from the checkpoint on (the steps between twice, as
    # TensorBoard, MLflow and a CSV appended to keep them); "monotonic" drops the resumed
    # run's points up to the stop (W&B ignores steps below its last); "" logs the final run
    # only (a history restored from the checkpoint: the Trainer, Keras, Lightning)


EMA_BETA = 0.98  # fastai's Recorder (AvgSmoothLoss)


def _debiased_ema(losses: np.ndarray) -> np.ndarray:
    """fastai's smoothed loss after each step: an EMA started at 0, divided by 1 - beta^t."""
    out = np.empty(losses.size)
    average = 0.0
    for t, loss in enumerate(losses, start=1):
        average = EMA_BETA * average + (1 - EMA_BETA) * float(loss)
        out[t - 1] = average / (1 - EMA_BETA**t)
    return out


WALL_CLOCK_STALLS = 0.03  # share of steps that stall (data loading, a checkpoint, a
# neighbour's job) for 5-30 times a step's time


def wall_clock_ends(steps: int, every: int, seed: int, evals=()) -> list[int]:
    """The steps after which a loop that logs when `every` typical step-times have passed
    since its last log (`if time.time() - last >= interval`) logs: step times vary by about
    25%, a few steps stall, and each evaluation pauses for 5-15 steps' time, so the logged
    steps are irregularly spaced. Seeded: the same run logs at the same steps."""
    rng = np.random.default_rng((seed, 4242))
    times = rng.lognormal(0.0, 0.25, steps)
    stalls = rng.random(steps) < WALL_CLOCK_STALLS
    times[stalls] *= rng.uniform(5, 30, int(stalls.sum()))
    for step in evals:
        if 0 < step <= steps:
            times[step - 1] += rng.uniform(5, 15)
    ends, last, now = [], 0.0, 0.0
    for step, seconds in enumerate(times, start=1):
        now += seconds
        if now - last >= every:
            ends.append(step)
            last = now
    return ends


def to_runlog(result: Result, plan: LogPlan, name: str, params: dict) -> RunLog:
    """What the logger would have recorded of `result` under `plan`."""
    if plan.relog and result.lost is not None:
        return _resumed_runlog(result, plan, name, params)
    per_epoch = result.steps_per_epoch
    every = per_epoch if plan.cadence in ("epoch", "last_batch") else plan.every
    steps_run = result.loss.size
    smoothed = _debiased_ema(result.loss) if plan.cadence == "ema" else None
    losses = result.loss
    if plan.last_micro and result.last_part is not None:
        losses = result.last_part
    ends = range(every, steps_run + 1, every)
    if plan.cadence == "wall_clock":
        evals_at = [int(s) for s in result.eval_steps]
        ends = wall_clock_ends(steps_run, every, result.setup.seed, evals_at)
    points = []
    for end in ends:
        if plan.cadence in ("sampled", "step", "last_batch", "accumulated", "wall_clock"):
            value = losses[end - 1]
        elif smoothed is not None:
            value = smoothed[end - 1]
        elif plan.cadence == "full_eval":  # the loop's own evaluation, no mini-batch noise
            value = result.probe[end // result.setup.probe_every - 1]
        elif plan.cadence == "cumulative_mean":
            value = float(np.mean(result.loss[:end]))
        elif plan.cadence == "running_mean":
            value = float(np.mean(result.loss[(end - 1) // per_epoch * per_epoch : end]))
        else:  # interval_mean and epoch: the mean of the steps since the last point
            value = float(np.mean(losses[end - every : end]))
        points.append(
            Point(
                step=end * plan.step_size,
                epoch=round(end / per_epoch, 6),
                train_loss=float(value) * plan.loss_scale,
                grad_norm=float(result.grad_norm[end - 1]) if plan.grad_norm else None,
                lr=float(result.lr[end - 1]) if plan.lr else None,
            )
        )
    evals = []
    if plan.val:
        for step, val in zip(result.eval_steps, result.val, strict=True):
            if step == 0 or (plan.cadence == "epoch" and step % per_epoch):
                continue
            epoch = round(int(step) / per_epoch, 6)
            evals.append(Evaluation(int(step) * plan.step_size, epoch, float(val) * plan.val_scale))
    return RunLog(
        name=name,
        cadence=plan.cadence,
        every=every,
        steps_per_epoch=per_epoch,
        points=points,
        evals=evals,
        params=params,
    )


def _resumed_runlog(result: Result, plan: LogPlan, name: str, params: dict) -> RunLog:
    """A restarted run as its logger kept it: the first attempt's points up to the stop, then
    the resumed run's from its checkpoint on (its smoothed loss started afresh), on the same
    grid of steps; under `monotonic` the resumed run's points begin after the stop."""
    lost = result.lost
    back, stop = int(lost["steps"][0]) - 1, int(lost["steps"][-1])
    first = dataclasses_replace(
        result,
        loss=np.concatenate([result.loss[:back], lost["loss"]]),
        grad_norm=np.concatenate([result.grad_norm[:back], lost["grad_norm"]]),
        lr=np.concatenate([result.lr[:back], lost["lr"]]),
        last_part=np.concatenate([result.last_part[:back], lost["last_part"]]),
        eval_steps=np.concatenate([result.eval_steps[result.eval_steps <= back],
                                   lost["eval_steps"]]).astype(int),
        clean=np.concatenate([result.clean[result.eval_steps <= back], lost["clean"]]),
        val=np.concatenate([result.val[result.eval_steps <= back], lost["val"]]),
        lost=None,
    )  # fmt: skip
    plain = dataclasses_replace(plan, relog="")
    before = to_runlog(first, plain, name, params)
    after = to_runlog(dataclasses_replace(result, lost=None), plain, name, params)
    if plan.cadence == "ema":  # the smoother starts again with the resumed fit
        smoothed = _debiased_ema(result.loss[back:])
        for point in after.points:
            end = point.step // plan.step_size
            if end > back:
                point.train_loss = float(smoothed[end - back - 1]) * plan.loss_scale
    if plan.cadence == "cumulative_mean":  # so does the meter
        for point in after.points:
            end = point.step // plan.step_size
            if end > back:
                point.train_loss = float(np.mean(result.loss[back:end])) * plan.loss_scale
    resumed_from = stop if plan.relog == "monotonic" else back
    cut = resumed_from * plan.step_size
    points = [p for p in before.points if p.step <= stop * plan.step_size]
    points += [dataclasses_replace(p, session=1) for p in after.points if p.step > cut]
    evals = [e for e in before.evals if e.step <= stop * plan.step_size]
    evals += [dataclasses_replace(e, session=1) for e in after.evals if e.step > cut]
    return dataclasses_replace(before, points=points, evals=evals)
