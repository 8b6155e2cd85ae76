"""Features of the gradient norm, alone and against the loss."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lrdoctor.features.core import Prepared, across, feature, needs_points, recent_level
from lrdoctor.features.loss import spike_indices

# --- gradient norm ------------------------------------------------------------------------


def _grad_ratio(c: Prepared) -> np.ndarray:
    median = np.median(c.clean)
    return c.clean / median if median > 0 else np.full(c.clean.shape, np.nan)


def _grad_local_ratio(c: Prepared) -> np.ndarray:
    """Each gradient norm over the running median of the 21 points around it (NaN where 0)."""
    local = ndimage.median_filter(c.clean, size=21, mode="nearest")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(local > 0, c.clean / local, np.nan)


@feature("grad_norm")
@needs_points
def grad_norm_median(c: Prepared) -> float:
    """Median logged gradient norm: the typical size of an update's gradient."""
    return float(np.median(c.clean))


@feature("grad_norm")
@needs_points
def grad_norm_p90(c: Prepared) -> float:
    """90th percentile of the gradient norm: a clip value that leaves most steps untouched."""
    return float(np.percentile(c.clean, 90))


@feature("grad_norm")
@needs_points
def grad_spike_ratio(c: Prepared) -> float | None:
    """Largest gradient norm over the median: 100 means a step 100x larger than typical."""
    ratio = _grad_ratio(c)
    return None if np.isnan(ratio).all() else float(np.nanmax(ratio))


@feature("grad_norm")
@needs_points
def grad_local_spike_ratio(c: Prepared) -> float | None:
    """Largest gradient norm over the running median around it (window of 21 points).

    Gradient norms shrink as training converges, so the early norms of a healthy run can be
    tens of times the overall median; an explosion is a jump above the *local* level.
    """
    ratio = _grad_local_ratio(c)
    return None if np.isnan(ratio).all() else float(np.nanmax(ratio))


@feature("grad_norm")
@needs_points
def grad_local_p90(c: Prepared) -> float | None:
    """90th percentile of each gradient norm over the running median of the 21 around it.

    Tiny batches give every step a different gradient: one norm in ten sits at 2-7x its
    neighbours' level all through the run. Exploding gradients are rare jumps above a calm
    level (about 1.6x here), and a loss logged as a moving average hides the first but not
    this.
    """
    ratio = _grad_local_ratio(c)
    return None if np.isnan(ratio).all() else float(np.nanpercentile(ratio, 90))


@feature("grad_norm")
@needs_points
def grad_spike_count(c: Prepared) -> int:
    """Points where the gradient norm exceeds 10x its median."""
    return int(np.sum(_grad_ratio(c) > 10))


@feature("grad_norm")
@needs_points
def first_grad_spike_step(c: Prepared) -> int | None:
    """Step of the first gradient norm above 10x its median."""
    spikes = np.flatnonzero(_grad_ratio(c) > 10)
    return int(c.clean_steps[spikes[0]]) if spikes.size else None


@feature("grad_norm")
@needs_points
def grad_norm_growth(c: Prepared) -> float | None:
    """Median of the last 10% over median of the first 10%: steady growth of gradients."""
    head = np.median(c.clean[: max(3, c.clean.size // 10)])
    tail = np.median(c.clean[-max(3, c.clean.size // 10) :])
    return float(tail / head) if head > 0 else None


@feature("grad_norm")
@needs_points
def grad_jump_ratio(c: Prepared) -> float | None:
    """Largest gradient norm over the median of the 21 norms logged before it.

    Against the recent level, not the whole run: gradient norms shrink as training converges,
    so an early norm can be far above the overall median in a healthy run, and a 20x jump
    late in training is an explosion even when it stays below the early norms.
    """
    values = c.clean.astype(float)
    recent = recent_level(values)[5:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(recent > 0, values[5:] / recent, np.nan)
    return None if np.isnan(ratio).all() else float(np.nanmax(ratio))


@across("train_loss", "grad_norm")
def spike_coincidence(loss: Prepared, grad: Prepared) -> float | None:
    """Share of gradient-norm spikes (10x their local median) met by a loss spike.

    A spike in the gradient norm that throws the loss up at the same step is an update that
    blew up, not a noisy measurement: clipping would have bounded it. The loss spike must be
    at the loss point nearest the gradient spike or one of its neighbours.
    """
    spikes = np.flatnonzero(_grad_local_ratio(grad) > 10)
    if not spikes.size or loss.clean_steps.size < 2:
        return None
    loss_spikes = np.zeros(loss.clean.size + 2, dtype=bool)
    loss_spikes[spike_indices(loss, 8.0) + 1] = True
    nearest = np.searchsorted(loss.clean_steps, grad.clean_steps[spikes])
    nearest = np.clip(nearest, 0, loss.clean.size - 1) + 1
    met = loss_spikes[nearest - 1] | loss_spikes[nearest] | loss_spikes[nearest + 1]
    return float(np.mean(met))


@across("train_loss", "grad_norm")
def grad_per_root_loss(loss: Prepared, grad: Prepared) -> float | None:
    """Median gradient norm over the square root of the median loss: the scale of the inputs
    each weight sees, whatever the loss's own scale.

    The gradient of a squared error at the model's output is about 2 sqrt(loss), that of a
    cross-entropy at most about 1; a weight's gradient multiplies it by the activation feeding
    the weight. With standardised inputs the ratio stays within about 1-10 (a target in
    thousands raises the loss and the gradient alike); features in raw units of hundreds or
    thousands raise it to hundreds or more.
    """
    if not loss.positive:
        return None
    level = float(np.median(loss.clean))
    return float(np.median(grad.clean)) / np.sqrt(level) if level > 0 else None
