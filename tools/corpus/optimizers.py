"""Optimisers that torch does not ship, written out from their papers for the fresh5 and
fresh6 splits.

LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning") and LARS (You et al.
2017, "Large Batch Training of Convolutional Networks") scale each tensor's step by a trust
ratio, the tensor's norm over its update's norm, as large-batch training uses them; AdaBelief
(Zhuang et al. 2020) is Adam with the second moment of the gradient's deviation from its
running mean (its "belief") in place of the raw second moment. Fresh6: Yogi (Zaheer et al.
2018, "Adaptive Methods for Nonconvex Optimization") moves Adam's second moment additively,
by the sign of its gap to the squared gradient, so that it cannot fall quickly; Adan (Xie et
al. 2022, "Adan: Adaptive Nesterov Momentum Algorithm") adds a running mean of the gradient's
change and scales by the second moment of the Nesterov-extrapolated gradient; MADGRAD
(Defazio and Jelassi 2021, "Adaptivity without Compromise") is momentumised dual averaging
with a cube-root denominator of the LR-weighted sum of squared gradients.
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


class Yogi(_PerTensor):
    """Yogi: m as Adam's; v <- v - (1 - beta2) sign(v - g^2) g^2 (v starts at 1e-6, as the
    paper's experiments and torch-optimizer start it); the step lr m_hat / (sqrt(v_hat) + eps)
    with both moments bias-corrected as Adam's; the paper's eps 1e-3; L2 weight decay added to
    the gradient."""

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-3, weight_decay=0.0,
                 initial_v=1e-6):  # fmt: skip
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults | {"initial_v": initial_v})

    def _update(self, p, group, state) -> None:
        if group["weight_decay"]:
            p.grad = p.grad.add(p, alpha=group["weight_decay"])
        fresh = not state
        m, v, beta2, correct1, correct2 = _first_moments(p, group, state, "v")
        if fresh:
            v.fill_(group["initial_v"])
        squared = p.grad * p.grad
        v.addcmul_(torch.sign(v - squared), squared, value=-(1 - beta2))
        denominator = (v / correct2).sqrt().add_(group["eps"])
        p.addcdiv_(m, denominator, value=-group["lr"] / correct1)


class Adan(_PerTensor):
    """Adan (the paper's Algorithm 1 with the official code's bias corrections): m the EMA of
    the gradient, d the EMA of its change g_k - g_{k-1} (0 at the first step), n the EMA of
    (g_k + beta2' (g_k - g_{k-1}))^2; the step lr (m_hat + beta2' d_hat) / (sqrt(n_hat) + eps),
    then the weights divided by 1 + lr * weight_decay (the paper's proximal decay). `betas` are
    the EMAs' keep rates (0.98, 0.92, 0.99: the paper's beta1..3 = 0.02, 0.08, 0.01), beta2' =
    betas[1]."""

    def __init__(self, params, lr=1e-3, betas=(0.98, 0.92, 0.99), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})  # fmt: skip

    def _update(self, p, group, state) -> None:
        beta1, beta2, beta3 = group["betas"]
        grad = p.grad
        if not state:
            state["step"] = 0
            for name in ("m", "d", "n"):
                state[name] = torch.zeros_like(p)
            state["previous"] = grad.clone()
        state["step"] += 1
        t = state["step"]
        change = grad - state["previous"]
        state["previous"] = grad.clone()
        m, d, n = state["m"], state["d"], state["n"]
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        d.mul_(beta2).add_(change, alpha=1 - beta2)
        extrapolated = grad + beta2 * change
        n.mul_(beta3).addcmul_(extrapolated, extrapolated, value=1 - beta3)
        direction = m / (1 - beta1**t) + beta2 * d / (1 - beta2**t)
        denominator = (n / (1 - beta3**t)).sqrt().add_(group["eps"])
        p.addcdiv_(direction, denominator, value=-group["lr"])
        if group["weight_decay"]:
            p.div_(1 + group["lr"] * group["weight_decay"])


class MADGRAD(_PerTensor):
    """MADGRAD (the paper's Algorithm, as its authors' code runs it): at step k (from 0) the
    weight lambda_k = lr sqrt(k + 1); s += lambda_k g and nu += lambda_k g^2; the dual point
    z = x_0 - s / (nu^(1/3) + eps); the weights x <- (1 - c) x + c z with c = 1 - momentum
    (momentum 0.9, eps 1e-6); L2 weight decay added to the gradient."""

    def __init__(self, params, lr=1e-2, momentum=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "eps": eps,
                                  "weight_decay": weight_decay})  # fmt: skip

    def _update(self, p, group, state) -> None:
        grad = p.grad
        if group["weight_decay"]:
            grad = grad.add(p, alpha=group["weight_decay"])
        if not state:
            state["step"] = 0
            state["s"] = torch.zeros_like(p)
            state["nu"] = torch.zeros_like(p)
            state["x0"] = p.clone()
        weight = group["lr"] * (state["step"] + 1) ** 0.5
        state["step"] += 1
        state["s"].add_(grad, alpha=weight)
        state["nu"].addcmul_(grad, grad, value=weight)
        z = state["x0"] - state["s"] / state["nu"].pow(1 / 3).add_(group["eps"])
        c = 1 - group["momentum"]
        p.mul_(1 - c).add_(z, alpha=c)
