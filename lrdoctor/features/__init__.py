"""Named measurements of curves: what rules reason about.

`core` holds the registry and the prepared curve; each other module registers the features of
one kind of curve when imported. Importing this package registers them all.
"""

from lrdoctor.features import generalisation, gradients, loss, schedule  # noqa: F401 (register)
from lrdoctor.features.core import (
    ACROSS,
    FEATURES,
    HAS_PREFIX,
    LOSS_SIGNALS,
    MIN_POINTS,
    OPTIONAL_SIGNALS,
    RUN_FACTS,
    SIGNALS,
    VAL_PREFIX,
    FeatureSpec,
    Prepared,
    Value,
    known_features,
    measure,
    measure_across,
    run_facts,
)
from lrdoctor.features.loss import trend_z

__all__ = [
    "ACROSS",
    "FEATURES",
    "HAS_PREFIX",
    "LOSS_SIGNALS",
    "MIN_POINTS",
    "OPTIONAL_SIGNALS",
    "RUN_FACTS",
    "SIGNALS",
    "VAL_PREFIX",
    "FeatureSpec",
    "Prepared",
    "Value",
    "known_features",
    "measure",
    "measure_across",
    "run_facts",
    "trend_z",
]
