"""The model families: small enough to train in well under a second on one CPU thread."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """Which family, and its size. `norm` is for resnet_mlp (layer, batch or none)."""

    family: str
    width: int = 32
    depth: int = 2
    activation: str = "relu"
    norm: str = "layer"
    dropout: float = 0.0
    pre_ln: bool = False  # transformer: LayerNorm before (True) or after (False) each block
    he_init: bool = False  # MLPs: Kaiming-normal weights, so a deep plain net trains with SGD
    head_scale: float = 1.0  # multiplies the output layer's initial weights


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "tanh": nn.Tanh(), "gelu": nn.GELU()}[name]


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
    """LSTM or GRU over characters (vocab > 0) or over real-valued sequences."""

    def __init__(self, cell: str, spec: ModelSpec, inputs: int, outputs: int, vocab: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16) if vocab else nn.Linear(inputs, 16)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
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


def _initialised(net: nn.Sequential, spec: ModelSpec) -> nn.Sequential:
    """He initialisation of every linear layer when asked, and the output layer scaled by
    `head_scale` (a small head keeps a deep plain net's first loss near the data's scale)."""
    if spec.he_init:
        for layer in net.modules():
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    with torch.no_grad():
        net[-1].weight.mul_(spec.head_scale)
    return net


def build_model(spec: ModelSpec, inputs: int, outputs: int, vocab: int, seq_len: int) -> nn.Module:
    """Instantiate the family; the caller seeds torch first so the weights are reproducible."""
    family = spec.family
    if family in ("linear", "logistic"):
        return nn.Linear(inputs, outputs)
    if family in ("mlp", "deep_mlp"):
        layers: list[nn.Module] = []
        width_in = inputs
        for _ in range(spec.depth):
            layers += [nn.Linear(width_in, spec.width), _activation(spec.activation)]
            if spec.dropout:
                layers.append(nn.Dropout(spec.dropout))
            width_in = spec.width
        return _initialised(nn.Sequential(*layers, nn.Linear(width_in, outputs)), spec)
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
    if family in ("lstm", "gru"):
        return _Recurrent(family, spec, inputs, outputs, vocab)
    if family == "transformer":
        return _Transformer(spec, vocab, seq_len)
    raise ValueError(f"unknown family {family!r}")
