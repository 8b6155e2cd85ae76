"""Optimisers that torch does not ship, written out from their papers for the fresh5 split.

LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning") and LARS (You et al.
2017, "Large Batch Training of Convolutional Networks") scale each tensor's step by a trust
ratio, the tensor's norm over its update's norm, as large-batch training uses them; AdaBelief
(Zhuang et al. 2020) is Adam with the second moment of the gradient's deviation from its
running mean (its "belief") in place of the raw second moment.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer


class _PerTensor(Optimizer):
    """The loop the three share: each parameter with a gradient, its state, one update."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group, self.state[p])
        return loss

    def _update(self, p, group, state) -> None:
        raise NotImplementedError


def _first_moments(p, group, state, second: str) -> tuple:
    """Advance the step count and the gradient's running mean; the bias corrections."""
    if not state:
        state["step"] = 0
        state["m"] = torch.zeros_like(p)
        state[second] = torch.zeros_like(p)
    state["step"] += 1
    beta1, beta2 = group["betas"]
    state["m"].mul_(beta1).add_(p.grad, alpha=1 - beta1)
    t = state["step"]
    return state["m"], state[second], beta2, 1 - beta1**t, 1 - beta2**t


class LAMB(_PerTensor):
    """Adam's bias-corrected direction plus decoupled weight decay, each tensor's step scaled
    to `lr` times its norm (trust ratio ||w|| / ||update||, clamped to [0, 10]; 1 where
    either norm is 0)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})  # fmt: skip

    def _update(self, p, group, state) -> None:
        m, v, beta2, correct1, correct2 = _first_moments(p, group, state, "v")
        v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        update = (m / correct1) / ((v / correct2).sqrt() + group["eps"])
        if group["weight_decay"]:
            update.add_(p, alpha=group["weight_decay"])
        w_norm, u_norm = float(p.norm()), float(update.norm())
        trust = min(w_norm / u_norm, 10.0) if w_norm > 0 and u_norm > 0 else 1.0
        p.add_(update, alpha=-group["lr"] * trust)


class LARS(_PerTensor):
    """SGD with momentum whose every tensor's local LR is `eta` ||w|| / (||g|| + wd ||w||)
    (the paper's trust coefficient eta = 0.001; `eta` where the weights are all zero)."""

    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0.0, eta=1e-3):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay,
                                  "eta": eta})  # fmt: skip

    def _update(self, p, group, state) -> None:
        grad = p.grad.add(p, alpha=group["weight_decay"])
        w_norm, g_norm = float(p.norm()), float(p.grad.norm())
        trust = group["eta"]
        if w_norm > 0 and g_norm > 0:
            trust *= w_norm / (g_norm + group["weight_decay"] * w_norm)
        if "velocity" not in state:
            state["velocity"] = torch.zeros_like(p)
        velocity = state["velocity"]
        velocity.mul_(group["momentum"]).add_(grad, alpha=group["lr"] * trust)
        p.sub_(velocity)


class AdaBelief(_PerTensor):
    """AdaBelief: m the EMA of the gradient, s the EMA of (g - m)^2 plus eps, both
    bias-corrected; the step lr m / (sqrt(s) + eps); decoupled weight decay (the paper's
    defaults: betas 0.9, 0.999, eps 1e-16)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})  # fmt: skip

    def _update(self, p, group, state) -> None:
        if group["weight_decay"]:
            p.mul_(1 - group["lr"] * group["weight_decay"])
        m, s, beta2, correct1, correct2 = _first_moments(p, group, state, "s")
        deviation = p.grad - m
        s.mul_(beta2).addcmul_(deviation, deviation, value=1 - beta2).add_(group["eps"])
        denominator = (s / correct2).sqrt().add_(group["eps"])
        p.addcdiv_(m, denominator, value=-group["lr"] / correct1)
