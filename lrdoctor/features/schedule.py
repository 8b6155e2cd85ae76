"""Features of the logged learning rate: the schedule the run actually followed."""

from __future__ import annotations

import numpy as np

from lrdoctor.features.core import Prepared, feature

# --- learning rate ------------------------------------------------------------------------


@feature("lr")
def lr_initial(c: Prepared) -> float | None:
    """First logged learning rate."""
    return float(c.clean[0]) if c.clean.size else None


@feature("lr")
def lr_peak(c: Prepared) -> float | None:
    """Largest logged learning rate (the peak after any warm-up)."""
    return float(np.max(c.clean)) if c.clean.size else None


@feature("lr")
def lr_final(c: Prepared) -> float | None:
    """Last logged learning rate."""
    return float(c.clean[-1]) if c.clean.size else None


@feature("lr")
def lr_warmup_steps(c: Prepared) -> int | None:
    """Steps from the first logged point to the peak learning rate (0 without warm-up)."""
    if not c.clean.size:
        return None
    return int(c.clean_steps[int(np.argmax(c.clean))] - c.clean_steps[0])


@feature("lr")
def lr_drops(c: Prepared) -> int | None:
    """Number of sudden learning-rate cuts (by 2x or more between two logged points)."""
    if c.clean.size < 2:
        return None
    previous, current = c.clean[:-1], c.clean[1:]
    return int(np.sum((current > 0) & (previous / np.where(current > 0, current, 1) >= 2)))


@feature("lr")
def lr_rising_share(c: Prepared) -> float | None:
    """Share of logged learning-rate steps that go up: near 1 for an LR range test, which
    ramps the LR over the whole run; a warm-up is a short rise before a hold or a decay."""
    if c.clean.size < 2:
        return None
    return float(np.mean(np.diff(c.clean) > 0))


@feature("lr")
def lr_ramp_decades(c: Prepared) -> float | None:
    """Orders of magnitude from the first to the last positive learning rate logged."""
    positive = c.clean[c.clean > 0]
    if positive.size < 2:
        return None
    return float(np.log10(positive[-1] / positive[0]))


@feature("lr")
def lr_midpoint_share(c: Prepared) -> float | None:
    """Share of the decades from the first to the last positive LR already climbed at the
    middle step: 0.5 for an exponential ramp (an LR range test), 0.9 or more for a linear
    warm-up from near zero, whose LR is a hundredth of its peak only at its first steps."""
    positive = c.clean > 0
    rates, steps = c.clean[positive], c.clean_steps[positive].astype(float)
    if rates.size < 3 or rates[-1] <= rates[0]:
        return None
    levels = np.log10(rates)
    middle = float(np.interp((steps[0] + steps[-1]) / 2, steps, levels))
    return float((middle - levels[0]) / (levels[-1] - levels[0]))
