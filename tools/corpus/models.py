"""The model families: small enough to train in well under a second on one CPU thread."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from tools.corpus.data import COUNTS_MEAN


@dataclass(frozen=True)
class ModelSpec:
    """Which family, and its size. `norm` is for resnet_mlp (layer, batch or none),
    resnet_cnn (batch or none) and highway (layer, none, or plain: no norm, gates open);
    `bottleneck` is the autoencoder's code width; denoiser: norm "none" drops its skips."""

    family: str
    width: int = 32
    depth: int = 2
    activation: str = "relu"
    norm: str = "layer"
    dropout: float = 0.0
    pre_ln: bool = False  # transformer: LayerNorm before (True) or after (False) each block
    he_init: bool = False  # MLPs, autoencoders, conv1d: Kaiming-normal weights, so a deep
    # plain net trains with SGD
    head_scale: float = 1.0  # multiplies the output layer's initial weights
    bottleneck: int = 4
    # poisson: the output's initial bias, the log of the typical count (out of the repr, so
    # that the earlier splits' candidates print as before it existed)
    log_count: float = field(default=math.log(COUNTS_MEAN), repr=False)
    # matfac: the global bias's initial value (the site's mean rating; out of the repr, as above)
    output_bias: float = field(default=0.0, repr=False)


def _activation(name: str) -> nn.Module:
    activations = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU,
                   "hardswish": nn.Hardswish}  # fmt: skip
    return activations[name]()


class _Residual(nn.Module):
    def __init__(self, width: int, norm: str, activation: str, dropout: float) -> None:
        super().__init__()
        norms = {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d, "none": lambda _: nn.Identity()}
        self.norm = norms[norm](width)
        self.body = nn.Sequential(
            nn.Linear(width, width), _activation(activation), nn.Dropout(dropout),
            nn.Linear(width, width),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(self.norm(x))


class _Recurrent(nn.Module):
    """LSTM, GRU or Elman RNN (tanh) over characters (vocab > 0) or real-valued sequences."""

    def __init__(self, cell: str, spec: ModelSpec, inputs: int, outputs: int, vocab: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16) if vocab else nn.Linear(inputs, 16)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "elman": nn.RNN}[cell]
        self.rnn = rnn(16, spec.width, num_layers=spec.depth, batch_first=True)
        self.head = nn.Linear(spec.width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out)


class _Transformer(nn.Module):
    """A tiny causal char-level transformer; post-LN unless `pre_ln`."""

    def __init__(self, spec: ModelSpec, vocab: int, seq_len: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, spec.width)
        self.position = nn.Parameter(0.02 * torch.randn(seq_len, spec.width))
        layer = nn.TransformerEncoderLayer(
            spec.width, 2, 2 * spec.width, spec.dropout, batch_first=True, norm_first=spec.pre_ln
        )
        self.blocks = nn.TransformerEncoder(layer, spec.depth, enable_nested_tensor=False)
        self.head = nn.Linear(spec.width, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        hidden = self.embed(x) + self.position[:length]
        return self.head(self.blocks(hidden, mask=self.mask[:length, :length], is_causal=True))


def _norm2d(norm: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


class _ResidualConv(nn.Module):
    """A ResNet basic block at constant width: conv-norm-act-conv-norm, plus the input."""

    def __init__(self, channels: int, norm: str, activation: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            _norm2d(norm, channels), _activation(activation),
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            _norm2d(norm, channels),
        )  # fmt: skip
        self.act = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


def _resnet_cnn(spec: ModelSpec, outputs: int) -> nn.Sequential:
    """A conv stem, a 2x2 pool (the blocks run at half resolution, for speed), `depth`
    residual blocks, global average pooling and a linear head."""
    width = spec.width
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=spec.norm == "none"), _norm2d(spec.norm, width),
        _activation(spec.activation), nn.MaxPool2d(2),
        *[_ResidualConv(width, spec.norm, spec.activation) for _ in range(spec.depth)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(spec.dropout), nn.Linear(width, outputs),
    )  # fmt: skip


class _CausalConv(nn.Module):
    """Conv1d padded on the left only, so position t sees no input after t."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.pad = 2 * dilation
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.pad(x, (self.pad, 0)))


class _TemporalConv(nn.Module):
    """A plain causal dilated 1-D conv stack (no residuals, no normalisation) over
    characters (vocab > 0) or real-valued channels; one output per position."""

    def __init__(self, spec: ModelSpec, inputs: int, outputs: int, vocab: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, spec.width) if vocab else nn.Linear(inputs, spec.width)
        layers: list[nn.Module] = []
        for i in range(spec.depth):
            layers += [_CausalConv(spec.width, 2 ** (i % 4)), _activation(spec.activation)]
            if spec.dropout:
                layers.append(nn.Dropout(spec.dropout))
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(spec.width, outputs)
        _initialised(nn.Sequential(self.body, self.head), spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.body(self.embed(x).transpose(1, 2)).transpose(1, 2)
        return self.head(hidden)


def _autoencoder(spec: ModelSpec, inputs: int) -> nn.Sequential:
    """`depth` hidden layers each side of a linear code of `bottleneck` units."""
    hidden = [spec.width] * spec.depth
    layers: list[nn.Module] = []
    for sizes in ([inputs, *hidden, spec.bottleneck], [spec.bottleneck, *hidden, inputs]):
        for width_in, width_out in itertools.pairwise(sizes[:-1]):
            layers += [nn.Linear(width_in, width_out), _activation(spec.activation)]
            if spec.dropout:
                layers.append(nn.Dropout(spec.dropout))
        layers.append(nn.Linear(sizes[-2], sizes[-1]))  # the code and the output are linear
    return _initialised(nn.Sequential(*layers), spec)


def _initialised(net: nn.Sequential, spec: ModelSpec) -> nn.Sequential:
    """He initialisation of every linear and conv layer when asked, and the output layer
    scaled by `head_scale` (a small head keeps a deep plain net's first loss near the data's
    scale)."""
    if spec.he_init:
        for layer in net.modules():
            if isinstance(layer, nn.Linear | nn.Conv1d):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    with torch.no_grad():
        net[-1].weight.mul_(spec.head_scale)
    return net


class _MixerBlock(nn.Module):
    """MLP-Mixer: LayerNorm, an MLP across tokens, the residual; LayerNorm, an MLP across
    channels, the residual."""

    def __init__(self, tokens: int, width: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.tokens = nn.Sequential(
            nn.Linear(tokens, 2 * tokens), _activation(activation), nn.Linear(2 * tokens, tokens)
        )
        self.channels = nn.Sequential(
            nn.Linear(width, 2 * width), _activation(activation), nn.Dropout(dropout),
            nn.Linear(2 * width, width),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, tokens, width)
        x = x + self.tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channels(self.norm2(x))


class _Mixer(nn.Module):
    """A tiny MLP-Mixer on square one-channel images: a 4x4 grid of patches, each embedded
    linearly, `depth` mixer blocks, LayerNorm, mean over tokens, a linear head."""

    def __init__(self, spec: ModelSpec, side: int, outputs: int) -> None:
        super().__init__()
        self.patch = max(1, side // 4)
        tokens = (side // self.patch) ** 2
        self.embed = nn.Linear(self.patch * self.patch, spec.width)
        self.blocks = nn.Sequential(
            *[_MixerBlock(tokens, spec.width, spec.activation, spec.dropout)
              for _ in range(spec.depth)]
        )  # fmt: skip
        self.norm = nn.LayerNorm(spec.width)
        self.head = nn.Linear(spec.width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch
        patches = nn.functional.unfold(x, p, stride=p).transpose(1, 2)  # (batch, tokens, p*p)
        hidden = self.norm(self.blocks(self.embed(patches)))
        return self.head(hidden.mean(dim=1))


class _HighwayLayer(nn.Module):
    """Highway layer: t * act(transform(x)) + (1 - t) * x with the gate t = sigmoid(gate(x));
    LayerNorm on the input when norm is layer. build_model starts the gate's bias at -2 (the
    layer mostly carries its input at first) or, for the plain variant, at 0."""

    def __init__(self, width: int, norm: str, activation: str, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width) if norm == "layer" else nn.Identity()
        self.transform, self.gate = nn.Linear(width, width), nn.Linear(width, width)
        self.act, self.drop = _activation(activation), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        t = torch.sigmoid(self.gate(h))
        return t * self.drop(self.act(self.transform(h))) + (1 - t) * x


class _TextClassifier(nn.Module):
    """fastText-like: the mean of character and hashed character-bigram embeddings over the
    window (EmbeddingBag), `depth` hidden layers (0 in the corpus: linear, as fastText), a
    linear head. 128 bigram buckets: with 2048 and hidden layers it memorised its windows."""

    BUCKETS = 128

    def __init__(self, spec: ModelSpec, vocab: int, outputs: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.bag = nn.EmbeddingBag(vocab + self.BUCKETS, spec.width, mode="mean")
        layers: list[nn.Module] = []
        for _ in range(spec.depth):
            layers += [nn.Linear(spec.width, spec.width), _activation(spec.activation)]
            if spec.dropout:
                layers.append(nn.Dropout(spec.dropout))
        self.body = _initialised(nn.Sequential(*layers, nn.Linear(spec.width, outputs)), spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bigrams = (x[:, :-1] * 131 + x[:, 1:]) % self.BUCKETS + self.vocab
        return self.body(self.bag(torch.cat([x, bigrams], dim=1)))


def _separable_block(channels: int, stride: int, activation: str) -> nn.Sequential:
    """MobileNet's block: a 3x3 depthwise conv and a 1x1 pointwise conv, each followed by
    GroupNorm (batch-size independent, so batch 1-4 runs train) and the activation."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, stride, padding=1, groups=channels, bias=False),
        nn.GroupNorm(4, channels), _activation(activation),
        nn.Conv2d(channels, channels, 1, bias=False), nn.GroupNorm(4, channels),
        _activation(activation),
    )  # fmt: skip


def _mobilenet(spec: ModelSpec, outputs: int) -> nn.Sequential:
    """A 3x3 stem, `depth` depthwise-separable blocks (the first halves the resolution),
    global average pooling and a linear head."""
    width = spec.width
    blocks = [_separable_block(width, 2 if i == 0 else 1, spec.activation)
              for i in range(spec.depth)]  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False), nn.GroupNorm(4, width),
        _activation(spec.activation), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(spec.dropout), nn.Linear(width, outputs),
    )  # fmt: skip


class _Tabular(nn.Module):
    """Entity embeddings for the category ids (one table, each column's ids offset) beside
    the numeric columns, then an MLP of `depth` hidden layers."""

    EMBEDDING = 4

    def __init__(self, spec: ModelSpec, inputs: int, outputs: int, levels: int, categorical: int):
        super().__init__()
        self.categorical, self.levels = categorical, levels
        self.embed = nn.Embedding(categorical * levels, self.EMBEDDING)
        layers: list[nn.Module] = []
        width_in = categorical * self.EMBEDDING + inputs - categorical
        for _ in range(spec.depth):
            layers += [nn.Linear(width_in, spec.width), _activation(spec.activation)]
            if spec.dropout:
                layers.append(nn.Dropout(spec.dropout))
            width_in = spec.width
        self.body = _initialised(nn.Sequential(*layers, nn.Linear(width_in, outputs)), spec)
        self.register_buffer("offsets", torch.arange(categorical) * levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x[:, : self.categorical].long() + self.offsets
        embedded = self.embed(ids).flatten(1).to(x.dtype)
        return self.body(torch.cat([embedded, x[:, self.categorical :]], dim=1))


class _ViT(nn.Module):
    """A tiny Vision Transformer on square one-channel images: non-overlapping patches (a
    4x4 grid) embedded linearly, a class token, learned positions, `depth` pre-LN encoder
    blocks (2 heads, MLP ratio 2, GELU), LayerNorm and a linear head on the class token."""

    def __init__(self, spec: ModelSpec, side: int, outputs: int) -> None:
        super().__init__()
        self.patch = max(1, side // 4)
        tokens = (side // self.patch) ** 2
        self.embed = nn.Linear(self.patch * self.patch, spec.width)
        self.cls = nn.Parameter(torch.zeros(1, 1, spec.width))
        self.position = nn.Parameter(0.02 * torch.randn(1, tokens + 1, spec.width))
        layer = nn.TransformerEncoderLayer(spec.width, 2, 2 * spec.width, spec.dropout,
                                           activation="gelu", batch_first=True,
                                           norm_first=True)  # fmt: skip
        self.blocks = nn.TransformerEncoder(layer, spec.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(spec.width)
        self.head = nn.Linear(spec.width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch
        patches = nn.functional.unfold(x, p, stride=p).transpose(1, 2)  # (batch, tokens, p*p)
        hidden = self.embed(patches)
        hidden = torch.cat([self.cls.expand(x.shape[0], -1, -1).to(hidden.dtype), hidden], 1)
        hidden = self.blocks(hidden + self.position.to(hidden.dtype))
        return self.head(self.norm(hidden[:, 0]))


class _VAE(nn.Module):
    """A variational autoencoder on flattened images: an MLP encoder of `depth` hidden
    layers to the mean and log-variance of a `bottleneck`-wide Gaussian code, a sample by
    the reparameterisation trick (the mean in eval mode), an MLP decoder to pixel logits.
    The output is [logits, mean, log-variance] side by side: the "vae" loss splits it."""

    def __init__(self, spec: ModelSpec, pixels: int) -> None:
        super().__init__()
        self.latent = spec.bottleneck
        encoder: list[nn.Module] = []
        width_in = pixels
        for _ in range(spec.depth):
            encoder += [nn.Linear(width_in, spec.width), _activation(spec.activation)]
            width_in = spec.width
        self.encoder = nn.Sequential(*encoder, nn.Linear(width_in, 2 * self.latent))
        decoder: list[nn.Module] = []
        width_in = self.latent
        for _ in range(spec.depth):
            decoder += [nn.Linear(width_in, spec.width), _activation(spec.activation)]
            width_in = spec.width
        self.decoder = nn.Sequential(*decoder, nn.Linear(width_in, pixels))
        if spec.he_init:
            _initialised(self.encoder, spec)
            _initialised(self.decoder, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, log_var = self.encoder(x.flatten(1)).chunk(2, dim=1)
        code = mean
        if self.training:
            code = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return torch.cat([self.decoder(code), mean, log_var], dim=1)


class _Tagger(nn.Module):
    """A bidirectional GRU sequence tagger: each step's channels embedded linearly, a
    `depth`-layer bidirectional GRU of `width` units each way, a linear head per step."""

    def __init__(self, spec: ModelSpec, inputs: int, outputs: int) -> None:
        super().__init__()
        self.embed = nn.Linear(inputs, 16)
        self.rnn = nn.GRU(16, spec.width, num_layers=spec.depth, batch_first=True,
                          bidirectional=True)  # fmt: skip
        self.drop = nn.Dropout(spec.dropout)
        self.head = nn.Linear(2 * spec.width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(self.drop(out))


class _GCN(nn.Module):
    """A graph convolutional network (Kipf and Welling): `depth` layers of
    H <- act(D^-1/2 (A + I) D^-1/2 H W) over each graph's nodes, a linear head per node.
    Each input row holds a node's adjacency row (`nodes` columns), then its features."""

    def __init__(self, spec: ModelSpec, inputs: int, outputs: int, nodes: int) -> None:
        super().__init__()
        self.nodes = nodes
        sizes = [inputs - nodes] + [spec.width] * spec.depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.act = _activation(spec.activation)
        self.drop = nn.Dropout(spec.dropout)
        self.head = nn.Linear(sizes[-1], outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        adjacency, h = x[..., : self.nodes], x[..., self.nodes :]
        adjacency = adjacency + torch.eye(self.nodes, dtype=x.dtype)
        scale = adjacency.sum(-1).rsqrt()
        norm = scale[..., :, None] * adjacency * scale[..., None, :]
        for layer in self.layers:
            h = self.drop(self.act(norm @ layer(h)))
        return self.head(h)


class _Denoiser(nn.Module):
    """A small U-Net image denoiser: a conv stem, `depth` strided-down conv blocks, as many
    upsampling blocks each joined to its encoder block by a skip, a 1x1 conv to one channel.
    `norm="none"` with He init and a small head makes it a plain deep net (no skips)."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        width, self.skips = spec.width, spec.norm != "none"
        self.stem = nn.Conv2d(1, width, 3, padding=1)
        self.act = _activation(spec.activation)
        self.down = nn.ModuleList(
            nn.Conv2d(width, width, 3, stride=2 if self.skips else 1, padding=1)
            for _ in range(spec.depth)
        )
        self.up = nn.ModuleList(
            nn.Conv2d(2 * width if self.skips else width, width, 3, padding=1)
            for _ in range(spec.depth)
        )
        self.head = nn.Conv2d(width, 1, 1)
        if spec.he_init:
            for conv in [self.stem, *self.down, *self.up]:
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                nn.init.zeros_(conv.bias)
            with torch.no_grad():
                self.head.weight.mul_(spec.head_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.stem(x))
        kept = []
        for conv in self.down:
            kept.append(h)
            h = self.act(conv(h))
        for conv, skip in zip(self.up, reversed(kept), strict=True):
            if self.skips:
                h = nn.functional.interpolate(h, size=skip.shape[-2:], mode="nearest")
                h = torch.cat([h, skip], dim=1)
            h = self.act(conv(h))
        return self.head(h)


def _plain_mlp(spec: ModelSpec, inputs: int, outputs: int) -> nn.Sequential:
    """`depth` hidden layers of `width` (activation, optional dropout), then a linear layer to
    `outputs`: the MLP families' net and the siamese net's encoder."""
    layers: list[nn.Module] = []
    width_in = inputs
    for _ in range(spec.depth):
        layers += [nn.Linear(width_in, spec.width), _activation(spec.activation)]
        if spec.dropout:
            layers.append(nn.Dropout(spec.dropout))
        width_in = spec.width
    return _initialised(nn.Sequential(*layers, nn.Linear(width_in, outputs)), spec)


class _Siamese(nn.Module):
    """A siamese embedding net: one MLP encoder (`depth` hidden layers of `width`, a linear
    projection to `bottleneck` units) applied to both views of each row, each embedding
    L2-normalised (SimCLR's). Input (batch, 2, features), output (batch, 2, bottleneck)."""

    def __init__(self, spec: ModelSpec, inputs: int) -> None:
        super().__init__()
        self.encoder = _plain_mlp(spec, inputs, spec.bottleneck)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.encoder(x), dim=-1)


class _MatrixFactorisation(nn.Module):
    """A matrix-factorisation recommender: `width`-dimensional user and item embeddings
    (normal, sd 0.1, as recommenders start them), a bias per user and per item and a global
    one; the output is their dot product plus the biases, one number per (user, item) row."""

    def __init__(self, spec: ModelSpec, users: int, items: int) -> None:
        super().__init__()
        self.users, self.items = nn.Embedding(users, spec.width), nn.Embedding(items, spec.width)
        self.user_bias, self.item_bias = nn.Embedding(users, 1), nn.Embedding(items, 1)
        self.bias = nn.Parameter(torch.full((1,), spec.output_bias))
        self.drop = nn.Dropout(spec.dropout)
        with torch.no_grad():
            for table in (self.users, self.items):
                table.weight.normal_(0.0, 0.1)
            for table in (self.user_bias, self.item_bias):
                table.weight.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, i = x[:, 0].long(), x[:, 1].long()
        taste = (self.drop(self.users(u)) * self.items(i)).sum(-1)
        biases = self.user_bias(u).squeeze(-1) + self.item_bias(i).squeeze(-1)
        return taste.to(biases.dtype) + biases + self.bias


def build_model(
    spec: ModelSpec, inputs: int, outputs: int, vocab: int, seq_len: int, categorical: int = 0
) -> nn.Module:
    """Instantiate the family; the caller seeds torch first so the weights are reproducible."""
    family = spec.family
    if family in ("linear", "logistic"):
        return nn.Linear(inputs, outputs)
    if family in ("mlp", "deep_mlp"):
        return _plain_mlp(spec, inputs, outputs)
    if family == "resnet_mlp":
        blocks = [
            _Residual(spec.width, spec.norm, spec.activation, spec.dropout)
            for _ in range(spec.depth)
        ]
        net = nn.Sequential(nn.Linear(inputs, spec.width), *blocks, nn.Linear(spec.width, outputs))
        return _initialised(net, spec)
    if family == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), _activation(spec.activation), nn.MaxPool2d(2),
            nn.Conv2d(6, 12, 3, padding=1), _activation(spec.activation),
            nn.AdaptiveMaxPool2d(2), nn.Flatten(), nn.Dropout(spec.dropout),
            nn.Linear(48, outputs),
        )  # fmt: skip
    if family in ("lstm", "gru", "elman"):
        return _Recurrent(family, spec, inputs, outputs, vocab)
    if family == "transformer":
        return _Transformer(spec, vocab, seq_len)
    if family == "resnet_cnn":
        return _resnet_cnn(spec, outputs)
    if family == "conv1d":
        return _TemporalConv(spec, inputs, outputs, vocab)
    if family == "autoencoder":
        return _autoencoder(spec, inputs)
    if family == "mixer":
        return _Mixer(spec, inputs, outputs)  # inputs: the image side
    if family == "highway":  # plain norm: no LayerNorm, the gates open (bias 0, not -2)
        carry = 0.0 if spec.norm == "plain" else -2.0
        layers = [_HighwayLayer(spec.width, spec.norm, spec.activation, spec.dropout)
                  for _ in range(spec.depth)]  # fmt: skip
        net = nn.Sequential(nn.Linear(inputs, spec.width), _activation(spec.activation), *layers,
                            nn.Linear(spec.width, outputs))  # fmt: skip
        net = _initialised(net, spec)
        with torch.no_grad():
            for layer in layers:
                layer.gate.bias.fill_(carry)
        return net
    if family == "textcls":
        return _TextClassifier(spec, vocab, outputs)
    if family == "mobilenet":
        return _mobilenet(spec, outputs)
    if family == "tabular":  # vocab: the levels of each categorical column
        return _Tabular(spec, inputs, outputs, vocab, categorical)
    if family == "vit":
        return _ViT(spec, inputs, outputs)  # inputs: the image side
    if family == "vae":
        return _VAE(spec, inputs * inputs)  # inputs: the image side
    if family == "tagger":
        return _Tagger(spec, inputs, outputs)
    if family == "gcn":
        return _GCN(spec, inputs, outputs, seq_len)  # seq_len: nodes per graph
    if family == "denoiser":
        return _Denoiser(spec)
    if family == "poisson":  # an MLP whose single output is the log of the rate
        layers = []
        width_in = inputs
        for _ in range(spec.depth):
            layers += [nn.Linear(width_in, spec.width), _activation(spec.activation)]
            width_in = spec.width
        net = _initialised(nn.Sequential(*layers, nn.Linear(width_in, outputs)), spec)
        with torch.no_grad():  # the log of the typical count, as count models start
            net[-1].bias.fill_(spec.log_count)
        return net
    if family == "siamese":
        return _Siamese(spec, inputs)
    if family == "matfac":
        return _MatrixFactorisation(spec, vocab, seq_len)  # vocab: users; seq_len: items
    if family == "hetero":  # an MLP whose two outputs are the mean and the log-variance
        layers = []
        width_in = inputs
        for _ in range(spec.depth):
            layers += [nn.Linear(width_in, spec.width), _activation(spec.activation)]
            if spec.dropout:
                layers.append(nn.Dropout(spec.dropout))
            width_in = spec.width
        net = _initialised(nn.Sequential(*layers, nn.Linear(width_in, outputs)), spec)
        if spec.head_scale == 0:  # zero-initialised: mean 0, variance 1 at the start
            with torch.no_grad():
                net[-1].bias.zero_()
        return net
    raise ValueError(f"unknown family {family!r}")
