"""Features across the training and validation loss: how well the model generalises."""

from __future__ import annotations

import numpy as np

from lrdoctor.features.core import Prepared, across


@across("train_loss", "val_loss")
def val_gap(train: Prepared, val: Prepared) -> float | None:
    """Final val loss over final train loss in decades (log10): the generalisation gap.

    Near 0 the model does as well on unseen data as on its training data; 0.3 means the val
    loss ends twice the training loss (memorising). Negative values are common with dropout
    or when the training loss is averaged over an epoch the model improved during.
    """
    if not (train.positive and val.positive):
        return None
    return float(np.median(val.tail(0.10)) - np.median(train.tail(0.10)))
