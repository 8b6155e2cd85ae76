"""Swept values as logs write them and as people write LRs."""

from __future__ import annotations

import math


def positive_number(text: object) -> float | None:
    """The positive, finite number `text` writes (`3e-4`, `0.001`), else None."""
    try:
        number = float(str(text))
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def lr_text(value: float) -> str:
    """1e-1, 3e-2, 2.5e-4, 1: how people write LRs."""
    mantissa, exponent = f"{value:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = int(exponent)
    return mantissa if power == 0 else f"{mantissa}e{power}"
