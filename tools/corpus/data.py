"""Data sets made in torch or shipped with Python, so the corpus needs no download.

Every task is built from a seed alone: the same seed gives the same tensors on any machine.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, replace

import torch
from torch.nn import functional as nn_functional

TEXT_MODULES = ("argparse", "typing", "inspect", "difflib", "dataclasses", "pathlib", "textwrap")
# textcls: which of these modules a window of source came from (none is a charlm text)
TEXTCLS_MODULES = ("shutil", "tarfile", "zipfile", "logging", "calendar", "fractions",
                   "tokenize", "ast", "enum", "gettext", "optparse", "heapq")  # fmt: skip
TEXTCLS_VOCAB = 128  # characters above ASCII share the last id
CATEGORY_LEVELS = 10  # tabular: levels of each categorical column


@dataclass(frozen=True)
class TaskSpec:
    """What to learn. `kind`: blobs, spiral, regression, images, charlm, seqreg, reconstruct,
    textcls (`text`: the modules joined by "+", one class each; `seq_len`: window length),
    tabular or tabreg (classes or a target from `rank` categorical and `dim` numeric columns),
    binimages (grey images from a `rank`-dimensional code, each its own target), seqtag (one of
    `classes` tags per step of `seq_len` steps of `dim` channels; `label_noise`: share of
    tags replaced by random ones), graph (`n_train` graphs of `seq_len` nodes in `classes`
    communities, `dim` noisy feature channels per node; each node tagged with its community),
    denoise (images of side `dim` from a `rank`-dimensional code, Gaussian pixel noise of sd
    `noise` on the input, the clean image the target), counts (Poisson counts whose log-rate
    an MLP teacher gives from `dim` features), views (two noisy views of each of `n_train`
    points of `dim` features from a `rank`-dimensional code: which view goes with which),
    implicit and ratings (user-item pairs of `dim` users and `seq_len` items whose taste is a
    `rank`-dimensional dot product: clicked or not, or 1-5 stars), hetero (a regression
    whose noise sd, `noise` times a factor that `rank` of the `dim` features set, varies with
    the input))."""

    kind: str
    classes: int = 2  # classification: number of classes
    dim: int = 8  # input features (tabular), image side (images)
    n_train: int = 512
    n_val: int = 96
    target_scale: float = 1.0  # regression: targets are this many times a unit-scale signal
    noise: float = 0.05  # label / target noise, relative
    teacher: str = "linear"  # regression: linear or mlp teacher
    text: str = "textwrap"  # charlm: stdlib module whose source is the text
    seq_len: int = 32
    label_noise: float = 0.0  # classification: share of labels replaced by random ones
    seed: int = 0
    rank: int = 4  # reconstruct: dimension of the subspace the clean data lie in; tabular
    # and tabreg: categorical columns (a new field would change every earlier split's repr)


@dataclass
class Data:
    """Train and validation tensors; `outputs` is the model's output width."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    outputs: int
    loss: str  # "ce", "mse", "lm" or "tag" (cross-entropy over every position), "vae",
    # "poisson" (the full Poisson negative log-likelihood of a log-rate), "infonce" (views),
    # "bce" (implicit feedback) or "gaussian_nll" (a mean and a log-variance: hetero)
    vocab: int = 0
    categorical: int = 0  # leading input columns that hold category ids (levels: vocab)


def _blobs(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    centres = torch.randn(
        spec.classes, spec.dim, generator=torch.Generator().manual_seed(spec.seed)
    )
    centres *= 3.0 / math.sqrt(max(spec.dim, 1) / 4)
    labels = torch.randint(0, spec.classes, (n,), generator=gen)
    x = centres[labels] + torch.randn(n, spec.dim, generator=gen)
    return x, labels


def _spiral(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.randint(0, spec.classes, (n,), generator=gen)
    radius = torch.rand(n, generator=gen)
    angle = 2 * math.pi * labels / spec.classes + 3.0 * radius
    angle = angle + spec.noise * torch.randn(n, generator=gen)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1) * 2.0
    if spec.dim > 2:
        x = torch.cat([x, 0.1 * torch.randn(n, spec.dim - 2, generator=gen)], dim=1)
    return x, labels


def _regression(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    teacher_gen = torch.Generator().manual_seed(spec.seed + 7)
    x = torch.randn(n, spec.dim, generator=gen)
    if spec.teacher == "linear":
        weights = torch.randn(spec.dim, 1, generator=teacher_gen) / math.sqrt(spec.dim)
        signal = x @ weights
    else:
        hidden = torch.randn(spec.dim, 16, generator=teacher_gen) / math.sqrt(spec.dim)
        out = torch.randn(16, 1, generator=teacher_gen) / 2.0
        signal = torch.tanh(x @ hidden) @ out
    y = signal + spec.noise * torch.randn(n, 1, generator=gen)
    return x, y * spec.target_scale


def _images(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Oriented bars, crosses and blocks at random places, with pixel noise: one class each."""
    side = spec.dim
    labels = torch.randint(0, spec.classes, (n,), generator=gen)
    images = torch.zeros(n, 1, side, side)
    rows = torch.randint(1, side - 3, (n,), generator=gen)
    cols = torch.randint(1, side - 3, (n,), generator=gen)
    for i in range(n):
        r, c, k = int(rows[i]), int(cols[i]), int(labels[i]) % 4
        if k == 0:
            images[i, 0, r, c : c + 3] = 1.0
        elif k == 1:
            images[i, 0, r : r + 3, c] = 1.0
        elif k == 2:
            for d in range(3):
                images[i, 0, r + d, c + d] = 1.0
        else:
            images[i, 0, r : r + 2, c : c + 2] = 1.0
        if int(labels[i]) >= 4:  # classes 4-7: the same shapes, brighter and doubled
            images[i, 0] = images[i, 0] * 2.0 + torch.roll(images[i, 0], 1, dims=1)
    return images + spec.noise * torch.randn(images.shape, generator=gen), labels


def stdlib_text(module: str) -> str:
    """Source code of a standard-library module: text that ships with every Python."""
    return inspect.getsource(__import__(module, fromlist=["_"]))


def _charlm(spec: TaskSpec) -> Data:
    text = stdlib_text(spec.text)[:60000]
    chars = sorted(set(text))
    table = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([table[ch] for ch in text], dtype=torch.long)
    length = spec.seq_len + 1
    windows = ids[: (ids.numel() // length) * length].view(-1, length)
    order = torch.randperm(windows.shape[0], generator=torch.Generator().manual_seed(spec.seed))
    windows = windows[order]
    train = windows[: spec.n_train]
    val = windows[spec.n_train : spec.n_train + spec.n_val]
    return Data(train[:, :-1], train[:, 1:], val[:, :-1], val[:, 1:], len(chars), "lm", len(chars))


def _textcls(spec: TaskSpec) -> Data:
    """Which stdlib module a `seq_len`-character window of source came from: the windows of
    each module (non-overlapping, its first 60000 characters), shuffled by the seed."""
    windows, labels = [], []
    for label, module in enumerate(spec.text.split("+")):
        text = stdlib_text(module)[:60000]
        ids = torch.tensor([min(ord(ch), TEXTCLS_VOCAB - 1) for ch in text], dtype=torch.long)
        rows = ids[: (ids.numel() // spec.seq_len) * spec.seq_len].view(-1, spec.seq_len)
        windows.append(rows)
        labels.append(torch.full((rows.shape[0],), label, dtype=torch.long))
    x, y = torch.cat(windows), torch.cat(labels)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(spec.seed))
    x, y = x[order], y[order]
    train, val = slice(0, spec.n_train), slice(spec.n_train, spec.n_train + spec.n_val)
    classes = len(spec.text.split("+"))
    return Data(x[train], y[train], x[val], y[val], classes, "ce", TEXTCLS_VOCAB)


def _seqreg(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A running, decaying sum of the inputs: a target only a recurrent state can follow."""
    x = torch.randn(n, spec.seq_len, spec.dim, generator=gen)
    y = torch.zeros(n, spec.seq_len, 1)
    state = torch.zeros(n)
    for t in range(spec.seq_len):
        state = 0.8 * state + x[:, t].mean(dim=1)
        y[:, t, 0] = state
    return x, (y + spec.noise * torch.randn(y.shape, generator=gen)) * spec.target_scale


def _tabular_signal(spec: TaskSpec, gen: torch.Generator, n: int, outputs: int):
    """Category ids and numeric columns, and a teacher's output on them: an MLP of the
    numeric columns plus one learned effect per category level, as a table of customers."""
    teacher = torch.Generator().manual_seed(spec.seed + 13)
    hidden = torch.randn(spec.dim, 16, generator=teacher) / math.sqrt(spec.dim)
    head = torch.randn(16, outputs, generator=teacher) / 2.0
    effects = torch.randn(spec.rank, CATEGORY_LEVELS, outputs, generator=teacher) / 2.0
    ids = torch.randint(0, CATEGORY_LEVELS, (n, spec.rank), generator=gen)
    numeric = torch.randn(n, spec.dim, generator=gen)
    signal = torch.tanh(numeric @ hidden) @ head
    for column in range(spec.rank):
        signal = signal + effects[column, ids[:, column]]
    return torch.cat([ids.float(), numeric], dim=1), signal


def _tabular(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes: the teacher's highest output (separable, as the blobs are)."""
    x, signal = _tabular_signal(spec, gen, n, spec.classes)
    return x, signal.argmax(dim=1)


def _tabreg(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, signal = _tabular_signal(spec, gen, n, 1)
    y = signal + spec.noise * torch.randn(n, 1, generator=gen)
    return x, y * spec.target_scale


def _reconstruct(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-variance points near a `rank`-dimensional subspace; the target is the input."""
    basis_gen = torch.Generator().manual_seed(spec.seed + 11)
    basis = torch.randn(spec.rank, spec.dim, generator=basis_gen) / math.sqrt(spec.rank)
    x = torch.randn(n, spec.rank, generator=gen) @ basis
    x = x + spec.noise * torch.randn(n, spec.dim, generator=gen)
    return x, x


def _binimages(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Square images (side `dim`) of grey levels in [0, 1] that a `rank`-dimensional code
    explains: a sigmoid of smooth random patterns mixed by a Gaussian code, each image its own
    target (a VAE's Bernoulli pixels). Shapes at random places left too little for a code to
    explain: the VAEs collapsed onto the mean image (KL 0)."""
    side = spec.dim
    codes = torch.randn(n, spec.rank, generator=gen) / math.sqrt(spec.rank)
    logits = codes @ _pattern_basis(spec, salt=19)
    pixels = torch.sigmoid(logits + spec.noise * torch.randn(n, side * side, generator=gen))
    return pixels.view(n, 1, side, side), pixels


def _pattern_basis(spec: TaskSpec, salt: int) -> torch.Tensor:
    """`rank` smooth random patterns of `dim` x `dim` pixels (bilinear 4 x 4 noise), flat,
    scaled to a standard deviation of 3: what a low-dimensional image code mixes."""
    side, patterns = spec.dim, torch.Generator().manual_seed(spec.seed + salt)
    coarse = torch.randn(spec.rank, 1, 4, 4, generator=patterns)
    basis = nn_functional.interpolate(coarse, size=(side, side), mode="bilinear",
                                      align_corners=False).flatten(1)  # fmt: skip
    return 3.0 * basis / basis.std(dim=1, keepdim=True)


SEQTAG_DECAY = 0.7


def _seqtag(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence tagging that needs both directions: step t's tag is the quantile bucket of a
    decaying sum of one projection of the past and present minus one of the future (as a
    part-of-speech tag depends on the words either side). Tags evenly likely."""
    teacher = torch.Generator().manual_seed(spec.seed + 17)
    weights = torch.randn(spec.dim, 2, generator=teacher)
    weights = weights / weights.norm(dim=0, keepdim=True)
    x = torch.randn(n, spec.seq_len, spec.dim, generator=gen)
    u, v = (x @ weights).unbind(-1)
    left, right = torch.zeros_like(u), torch.zeros_like(v)
    for t in range(spec.seq_len):
        left[:, t] = u[:, t] + (SEQTAG_DECAY * left[:, t - 1] if t else 0.0)
    for t in reversed(range(spec.seq_len)):
        right[:, t] = v[:, t] + (SEQTAG_DECAY * right[:, t + 1] if t < spec.seq_len - 1 else 0.0)
    signal = (left - right) / math.sqrt(2 / (1 - SEQTAG_DECAY**2))
    edges = torch.distributions.Normal(0.0, 1.0).icdf(torch.arange(1, spec.classes) / spec.classes)
    tags = torch.bucketize(signal, edges)
    if spec.label_noise:
        flip = torch.rand(tags.shape, generator=gen) < spec.label_noise
        tags[flip] = torch.randint(0, spec.classes, (int(flip.sum()),), generator=gen)
    return x, tags


GRAPH_P_IN, GRAPH_P_OUT = 0.5, 0.03  # edge probabilities within and between communities
GRAPH_SIGNAL = 1.4  # the community means' norm over half the per-node noise's (sqrt(dim) / 2)


def _graph(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Small graphs (ego-net-like subgraphs of a social graph): each node in one of `classes`
    communities, edges likelier within one (a stochastic block model), node features a weak
    community signal in noise, so that a node's own features tell its community only in
    part and its neighbours' tell the rest. Each example's row per node: its adjacency row
    (`seq_len` columns), then its `dim` features; the tags are the communities."""
    nodes = spec.seq_len
    teacher = torch.Generator().manual_seed(spec.seed + 23)
    means = torch.randn(spec.classes, spec.dim, generator=teacher)
    means = GRAPH_SIGNAL * means / means.norm(dim=1, keepdim=True) * math.sqrt(spec.dim) / 2
    tags = torch.randint(0, spec.classes, (n, nodes), generator=gen)
    same = tags[:, :, None] == tags[:, None, :]
    chance = torch.where(same, GRAPH_P_IN, GRAPH_P_OUT)
    upper = torch.triu(torch.rand(n, nodes, nodes, generator=gen) < chance, diagonal=1)
    adjacency = (upper | upper.transpose(1, 2)).float()
    features = means[tags] + torch.randn(n, nodes, spec.dim, generator=gen)
    if spec.label_noise:
        flip = torch.rand(tags.shape, generator=gen) < spec.label_noise
        tags[flip] = torch.randint(0, spec.classes, (int(flip.sum()),), generator=gen)
    return torch.cat([adjacency, features], dim=2), tags


def _denoise(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey images in [0, 1] from a `rank`-dimensional code (as binimages), the input with
    Gaussian pixel noise of sd `noise`, the clean image the target (pixel MSE)."""
    side = spec.dim
    codes = torch.randn(n, spec.rank, generator=gen) / math.sqrt(spec.rank)
    clean = torch.sigmoid(codes @ _pattern_basis(spec, salt=29)).view(n, 1, side, side)
    return clean + spec.noise * torch.randn(clean.shape, generator=gen), clean


COUNTS_MEAN = 3.0  # counts: the typical rate (events per row)


def _counts(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Event counts (claims, visits, clicks) drawn from Poisson(rate), log(rate) a teacher of
    `dim` standard-normal features around log(COUNTS_MEAN): an MLP (`teacher` "mlp"), or
    linear (a log-linear GLM's truth) in the first `rank` columns with a log-rate of sd
    `target_scale` / 2 around the log of `classes` (the typical count: visits per month)."""
    teacher = torch.Generator().manual_seed(spec.seed + 31)
    x = torch.randn(n, spec.dim, generator=gen)
    if spec.teacher == "linear":  # on its first `rank` columns, the first weighing 1.5x
        weights = torch.zeros(spec.dim, 1)
        weights[: spec.rank, 0] = 1.0
        weights[0, 0] = 1.5
        signs = torch.randint(0, 2, (spec.dim, 1), generator=teacher) * 2 - 1
        weights = signs * weights / weights.norm() * spec.target_scale / 2
        log_rate = math.log(spec.classes) + x @ weights
        return x, torch.poisson(log_rate.exp(), generator=gen)
    hidden = torch.randn(spec.dim, 16, generator=teacher) / math.sqrt(spec.dim)
    head = torch.randn(16, 1, generator=teacher) / 3.0
    log_rate = math.log(COUNTS_MEAN) + torch.tanh(x @ hidden) @ head
    return x, torch.poisson(log_rate.exp(), generator=gen)


def _views(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of `dim` features that a `rank`-dimensional Gaussian code explains through a
    fixed random non-linear map (a product's or a sensor window's true state), each seen
    twice with independent noise of sd `noise` and a fifth of its features dropped at random
    (two augmentations): rows of shape (2, dim). The target is the row's own index (the
    positive pair is the other view of the same row); nothing else is labelled."""
    teacher = torch.Generator().manual_seed(spec.seed + 41)
    mixing = torch.randn(spec.rank, spec.dim, generator=teacher) / math.sqrt(spec.rank)
    codes = torch.randn(n, spec.rank, generator=gen)
    clean = torch.tanh(1.5 * codes @ mixing) / 0.6  # about unit variance per feature
    views = []
    for _ in range(2):
        kept = (torch.rand(n, spec.dim, generator=gen) >= 0.2).float()
        views.append(kept * (clean + spec.noise * torch.randn(n, spec.dim, generator=gen)))
    return torch.stack(views, dim=1), torch.arange(n)


def _tastes(spec: TaskSpec, gen: torch.Generator, n: int):
    """`n` (user, item) pairs drawn uniformly, and the true affinity of each: a dot product of
    `rank`-dimensional user and item factors (unit variance) plus user and item biases (sd
    0.5: generous users, popular items)."""
    teacher = torch.Generator().manual_seed(spec.seed + 37)
    users, items = spec.dim, spec.seq_len
    scale = spec.rank**-0.25
    user_f = torch.randn(users, spec.rank, generator=teacher) * scale
    item_f = torch.randn(items, spec.rank, generator=teacher) * scale
    user_b = 0.5 * torch.randn(users, generator=teacher)
    item_b = 0.5 * torch.randn(items, generator=teacher)
    u = torch.randint(0, users, (n,), generator=gen)
    i = torch.randint(0, items, (n,), generator=gen)
    affinity = (user_f[u] * item_f[i]).sum(1) + user_b[u] + item_b[i]
    return torch.stack([u, i], dim=1), affinity


def _implicit(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Implicit feedback: whether the user clicked the item, Bernoulli(sigmoid(3 affinity -
    1.5)) (about a third clicked)."""
    pairs, affinity = _tastes(spec, gen, n)
    clicked = torch.rand(n, generator=gen) < torch.sigmoid(3.0 * affinity - 1.5)
    return pairs, clicked.float()


RATINGS_MEAN = 3.5  # ratings: the typical star rating


def _ratings(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Explicit ratings: RATINGS_MEAN + 0.8 affinity plus noise of sd `noise`, rounded to
    whole stars from 1 to 5."""
    pairs, affinity = _tastes(spec, gen, n)
    stars = RATINGS_MEAN + 0.8 * affinity + spec.noise * torch.randn(n, generator=gen)
    return pairs, stars.round().clamp(1, 5)


HETERO_SPREAD = 0.6  # hetero: the sd of the log of the noise's sd across inputs


def _hetero(spec: TaskSpec, gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """y = f(x) + sd(x) e: an MLP teacher's mean (as `regression`'s; `teacher` "linear": a
    linear mean of sd 1 in the first `rank` features, the first weighing 1.5x) and a noise sd
    of `noise` times exp(a linear function of the first `rank` features, sd HETERO_SPREAD)."""
    teacher = torch.Generator().manual_seed(spec.seed + 43)
    x = torch.randn(n, spec.dim, generator=gen)
    hidden = torch.randn(spec.dim, 16, generator=teacher) / math.sqrt(spec.dim)
    head = torch.randn(16, 1, generator=teacher) / 2.0
    mean = torch.tanh(x @ hidden) @ head
    if spec.teacher == "linear":
        weights = torch.zeros(spec.dim, 1)
        weights[: spec.rank, 0] = 1.0
        weights[0, 0] = 1.5
        signs = torch.randint(0, 2, (spec.dim, 1), generator=teacher) * 2 - 1
        mean = x @ (signs * weights / weights.norm())
    spread = torch.zeros(spec.dim, 1)
    spread[: spec.rank, 0] = torch.randn(spec.rank, generator=teacher)
    spread = HETERO_SPREAD * spread / spread.norm()
    sd = spec.noise * torch.exp(x @ spread)
    y = mean + sd * torch.randn(n, 1, generator=gen)
    return x, y * spec.target_scale


def hetero_bayes_nll(spec: TaskSpec) -> float:
    """The expected Gaussian NLL (GaussianNLLLoss, full=False) of the true mean and variance:
    E[log sd(x)] + 1/2, and log sd(x) is log(noise * target_scale) plus a zero-mean term."""
    return math.log(spec.noise * spec.target_scale) + 0.5


def make_data(spec: TaskSpec) -> Data:
    """Build the task's train and validation sets from its seed."""
    if spec.kind == "charlm":
        return _charlm(spec)
    if spec.kind == "textcls":
        return _textcls(spec)
    make = {
        "blobs": _blobs,
        "spiral": _spiral,
        "regression": _regression,
        "images": _images,
        "seqreg": _seqreg,
        "reconstruct": _reconstruct,
        "tabular": _tabular,
        "tabreg": _tabreg,
        "binimages": _binimages,
        "seqtag": _seqtag,
        "graph": _graph,
        "denoise": _denoise,
        "counts": _counts,
        "views": _views,
        "implicit": _implicit,
        "ratings": _ratings,
        "hetero": _hetero,
    }[spec.kind]
    x_train, y_train = make(spec, torch.Generator().manual_seed(spec.seed + 1), spec.n_train)
    x_val, y_val = make(spec, torch.Generator().manual_seed(spec.seed + 2), spec.n_val)
    if spec.kind == "seqtag":  # its tags are flipped per step, as they are made
        return Data(x_train, y_train, x_val, y_val, spec.classes, "tag")
    if spec.kind == "binimages":
        return Data(x_train, y_train, x_val, y_val, spec.dim * spec.dim, "vae")
    if spec.kind == "graph":  # its tags are flipped per node, as they are made
        return Data(x_train, y_train, x_val, y_val, spec.classes, "tag")
    if spec.kind == "denoise":
        return Data(x_train, y_train, x_val, y_val, 1, "mse")
    if spec.kind == "counts":
        return Data(x_train, y_train, x_val, y_val, 1, "poisson")
    if spec.kind == "views":  # outputs: unused (the embedding's width is the model's)
        return Data(x_train, y_train, x_val, y_val, 0, "infonce")
    if spec.kind in ("implicit", "ratings"):  # vocab: the users (items: seq_len)
        loss = "bce" if spec.kind == "implicit" else "mse"
        return Data(x_train, y_train, x_val, y_val, 1, loss, spec.dim)
    if spec.kind == "hetero":  # a mean and a log-variance
        return Data(x_train, y_train, x_val, y_val, 2, "gaussian_nll")
    if spec.label_noise:  # in both sets: a memorised training label does not carry over
        gen = torch.Generator().manual_seed(spec.seed + 3)
        for y in (y_train, y_val):
            flip = torch.rand(y.shape[0], generator=gen) < spec.label_noise
            y[flip] = torch.randint(0, spec.classes, (int(flip.sum()),), generator=gen)
    if spec.kind in ("regression", "seqreg"):
        return Data(x_train, y_train, x_val, y_val, 1, "mse")
    if spec.kind in ("tabular", "tabreg"):
        outputs, loss = (1, "mse") if spec.kind == "tabreg" else (spec.classes, "ce")
        return Data(x_train, y_train, x_val, y_val, outputs, loss, CATEGORY_LEVELS, spec.rank)
    if spec.kind == "reconstruct":
        return Data(x_train, y_train, x_val, y_val, spec.dim, "mse")
    return Data(x_train, y_train, x_val, y_val, spec.classes, "ce")


def known_floor(spec: TaskSpec) -> float | None:
    """The lowest loss the task allows, where the data say it: None for text."""
    if spec.kind in ("regression", "seqreg", "tabreg"):
        return (spec.noise * spec.target_scale) ** 2
    if spec.kind == "reconstruct":  # a code of the data's rank loses the noise off the subspace
        return spec.noise**2 * (spec.dim - spec.rank) / spec.dim
    if spec.kind in ("charlm", "textcls", "binimages", "seqtag") or spec.label_noise:
        return None  # binimages: a VAE's bound; seqtag: tags change at thresholds
    if spec.kind in ("graph", "denoise", "counts"):  # the best a node's neighbourhood, a
        return None  # denoiser or a count model can do is not known in closed form
    if spec.kind in ("views", "implicit", "ratings", "hetero"):  # hetero: its Bayes NLL is
        return None  # known (hetero_bayes_nll), but a finite net does not reach it
    return 0.0  # separable classes: cross-entropy -> 0


def scale_features(data: Data, factors: dict[int, float]) -> Data:
    """Multiply some input columns by large factors: raw units a person forgot to normalise."""
    x_train, x_val = data.x_train.clone(), data.x_val.clone()
    for column, factor in factors.items():  # the last axis: features, or channels of a sequence
        x_train[..., column] *= factor
        x_val[..., column] *= factor
    return replace(data, x_train=x_train, x_val=x_val)


def standardise(data: Data) -> Data:
    """Z-score the input columns with training-set statistics; category ids stay ids."""
    mean, std = data.x_train.mean(0), data.x_train.std(0).clamp_min(1e-8)
    mean[..., : data.categorical], std[..., : data.categorical] = 0.0, 1.0
    return replace(data, x_train=(data.x_train - mean) / std, x_val=(data.x_val - mean) / std)
