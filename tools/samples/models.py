"""Small numpy models and optimisers, trained for real to produce the sample logs.

Every model exposes `params` (a list of arrays updated in place) and
`loss_and_grads(x, y)`, which returns the mean loss of the batch and the exact gradient of
that loss with respect to each parameter (backpropagation, checked against finite
differences in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer `labels` and its gradient with respect to `logits`."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_norm
    count = logits.shape[0]
    loss = -log_probs[np.arange(count), labels].mean()
    grad = np.exp(log_probs)
    grad[np.arange(count), labels] -= 1.0
    return float(loss), grad / count


def _squared_error(outputs: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error (over every output element) and its gradient."""
    diff = outputs - targets
    return float(np.mean(diff * diff)), 2.0 * diff / diff.size


LOSSES = {"ce": _softmax_cross_entropy, "mse": _squared_error}


class MLP:
    """A plain fully connected network; with no hidden layer it is linear or logistic regression.

    `init_gain` multiplies the usual He (ReLU) or Glorot (tanh) initial scale: above 1 a deep
    plain stack amplifies signals layer by layer, which is how deep nets without
    normalisation get exploding gradients.
    """

    def __init__(
        self,
        sizes: list[int],
        loss: str,
        rng: np.random.Generator,
        activation: str = "tanh",
        init_gain: float = 1.0,
    ):
        self.sizes = list(sizes)
        self.loss_name = loss
        self.activation = activation
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            base = np.sqrt(2.0 / fan_in) if activation == "relu" else np.sqrt(1.0 / fan_in)
            self.params.append(rng.normal(0.0, init_gain * base, size=(fan_in, fan_out)))
            self.params.append(np.zeros(fan_out))

    def _act(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0) if self.activation == "relu" else np.tanh(z)

    def _act_grad(self, activated: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return (activated > 0.0).astype(activated.dtype)
        return 1.0 - activated * activated

    def outputs(self, x: np.ndarray) -> np.ndarray:
        hidden = x
        layers = len(self.params) // 2
        for index in range(layers):
            z = hidden @ self.params[2 * index] + self.params[2 * index + 1]
            hidden = self._act(z) if index < layers - 1 else z
        return hidden

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return LOSSES[self.loss_name](self.outputs(x), y)[0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        layers = len(self.params) // 2
        activations = [x]
        hidden = x
        for index in range(layers):
            z = hidden @ self.params[2 * index] + self.params[2 * index + 1]
            hidden = self._act(z) if index < layers - 1 else z
            activations.append(hidden)
        loss, delta = LOSSES[self.loss_name](hidden, y)
        grads: list[np.ndarray] = [np.empty(0)] * len(self.params)
        for index in reversed(range(layers)):
            grads[2 * index] = activations[index].T @ delta
            grads[2 * index + 1] = delta.sum(axis=0)
            if index:
                delta = (delta @ self.params[2 * index].T) * self._act_grad(activations[index])
        return loss, grads


class VanillaRNN:
    """An Elman RNN (tanh, or ReLU as in IRNN) predicting every step of (batch, time, features).

    Backpropagation through time over long sequences multiplies the recurrent Jacobian once
    per step, so once the recurrent weights amplify, gradients grow by orders of magnitude.
    ReLU states are unbounded, so there the forward pass can blow up too.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        rng: np.random.Generator,
        recurrent_gain: float = 1.0,
        activation: str = "tanh",
    ):
        orthogonal, _ = np.linalg.qr(rng.normal(size=(hidden_size, hidden_size)))
        if activation == "relu":
            orthogonal = np.eye(hidden_size)  # IRNN: identity, scaled by the gain
        self.activation = activation
        self.loss_name = "mse"
        self.params = [
            rng.normal(0.0, np.sqrt(1.0 / input_size), size=(input_size, hidden_size)),
            recurrent_gain * orthogonal,
            np.zeros(hidden_size),
            rng.normal(0.0, np.sqrt(1.0 / hidden_size), size=(hidden_size, output_size)),
            np.zeros(output_size),
        ]

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All hidden states (batch, time + 1, hidden), starting from zeros, and the outputs."""
        w_in, w_rec, bias, w_out, b_out = self.params
        batch, steps, _ = x.shape
        driven = x @ w_in + bias
        states = np.zeros((batch, steps + 1, w_rec.shape[0]))
        for t in range(steps):
            pre = driven[:, t] + states[:, t] @ w_rec
            states[:, t + 1] = np.maximum(pre, 0.0) if self.activation == "relu" else np.tanh(pre)
        return states, states[:, 1:] @ w_out + b_out

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return _squared_error(self._forward(x)[1], y)[0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        w_in, w_rec, _, w_out, _ = self.params
        states, outputs = self._forward(x)
        loss, d_out = _squared_error(outputs, y)
        hidden = w_rec.shape[0]
        after = states[:, 1:]
        if self.activation == "relu":
            local = (after > 0.0).astype(after.dtype)
        else:
            local = 1.0 - after * after
        d_from_out = d_out @ w_out.T
        d_pre = np.empty_like(after)
        carry = np.zeros_like(states[:, 0])
        for t in reversed(range(x.shape[1])):
            d_pre[:, t] = (d_from_out[:, t] + carry) * local[:, t]
            carry = d_pre[:, t] @ w_rec.T
        flat_pre = d_pre.reshape(-1, hidden)
        return loss, [
            x.reshape(-1, x.shape[2]).T @ flat_pre,
            states[:, :-1].reshape(-1, hidden).T @ flat_pre,
            flat_pre.sum(axis=0),
            after.reshape(-1, hidden).T @ d_out.reshape(-1, d_out.shape[2]),
            d_out.sum(axis=(0, 1)),
        ]


def global_norm(grads: list[np.ndarray]) -> float:
    """The L2 norm of all gradients together, as `clip_grad_norm_` and HF's `grad_norm`."""
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))


def clip_by_global_norm(grads: list[np.ndarray], max_norm: float, norm: float) -> list[np.ndarray]:
    """Scale gradients down to `max_norm` when their global norm exceeds it (PyTorch's rule)."""
    if not np.isfinite(norm) or norm <= max_norm:
        return grads
    scale = max_norm / (norm + 1e-6)
    return [g * scale for g in grads]


@dataclass
class SGD:
    """Plain stochastic gradient descent."""

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        for param, grad in zip(params, grads, strict=True):
            param -= lr * grad


@dataclass
class Momentum:
    """Heavy-ball momentum in PyTorch's form: v = beta * v + g; p -= lr * v."""

    beta: float = 0.9
    velocity: list[np.ndarray] = field(default_factory=list)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        if not self.velocity:
            self.velocity = [np.zeros_like(p) for p in params]
        for param, grad, velocity in zip(params, grads, self.velocity, strict=True):
            velocity *= self.beta
            velocity += grad
            param -= lr * velocity


@dataclass
class Adam:
    """Adam with bias correction (Kingma and Ba, 2015)."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    count: int = 0
    first: list[np.ndarray] = field(default_factory=list)
    second: list[np.ndarray] = field(default_factory=list)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        if not self.first:
            self.first = [np.zeros_like(p) for p in params]
            self.second = [np.zeros_like(p) for p in params]
        self.count += 1
        correction1 = 1.0 - self.beta1**self.count
        correction2 = 1.0 - self.beta2**self.count
        for param, grad, first, second in zip(params, grads, self.first, self.second, strict=True):
            first *= self.beta1
            first += (1.0 - self.beta1) * grad
            second *= self.beta2
            second += (1.0 - self.beta2) * grad * grad
            param -= lr * (first / correction1) / (np.sqrt(second / correction2) + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
