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
