"""The data every reader returns: a `Run` holding named `Curve`s.

Both are frozen. Curve arrays are read-only numpy arrays, so a curve handed to features or
rules cannot be changed behind the reader's back.
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas loads only when a frame is asked for: readers need numpy alone
    import pandas as pd


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Curve:
    """One logged scalar series: `values[i]` was logged at `steps[i]` at `wall_times[i]`.

    Points are sorted by step and every step appears once. NaN and inf values are kept: a
    loss that turns NaN is evidence, not bad data. `wall_times` is NaN where the format does
    not record when a point was written (most CSV logs).
    """

    tag: str
    steps: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray

    @classmethod
    def from_points(
        cls,
        tag: str,
        steps: Iterable[int] | np.ndarray,
        values: Iterable[float] | np.ndarray,
        wall_times: Iterable[float] | np.ndarray | None = None,
    ) -> Curve:
        """Build a curve from points in write order, resolving re-logged steps.

        A run resumed from a checkpoint logs some steps twice; the most recent write (by wall
        time, then by position in the input) is the one that describes the run as it ended.
        """
        step_array = np.asarray(steps, dtype=np.int64).ravel()
        value_array = np.asarray(values, dtype=np.float64).ravel()
        if wall_times is None:
            wall_array = np.full(step_array.shape, np.nan)
        else:
            wall_array = np.asarray(wall_times, dtype=np.float64).ravel()
        if not (step_array.shape == value_array.shape == wall_array.shape):
            raise ValueError(
                f"curve {tag!r}: steps, values and wall times differ in length "
                f"({step_array.size}, {value_array.size}, {wall_array.size})"
            )
        write_order = np.arange(step_array.size)
        # NaN wall times sort last in numpy; replace them so they compare equal and the
        # write order decides among them.
        wall_key = np.where(np.isnan(wall_array), -np.inf, wall_array)
        order = np.lexsort((write_order, wall_key, step_array))
        sorted_steps = step_array[order]
        is_last_of_step = np.ones(sorted_steps.size, dtype=bool)
        if sorted_steps.size:
            is_last_of_step[:-1] = sorted_steps[1:] != sorted_steps[:-1]
        keep = order[is_last_of_step]
        return cls(
            tag=tag,
            steps=_frozen(step_array[keep]),
            values=_frozen(value_array[keep]),
            wall_times=_frozen(wall_array[keep]),
        )

    def __len__(self) -> int:
        return int(self.steps.size)

    def sample(self, points: int, jumps: int = 64) -> Curve:
        """The curve itself up to `points` points; longer, a faithful sample of about that
        many: every k-th point (so scatter and trend keep their measure), the last one, the
        lowest and highest finite values, the first non-finite value of each stretch, and the
        `jumps` largest jumps from one point to the next (a spike stays a spike). Kept points
        keep their exact steps, so findings quote the steps of the log."""
        count = len(self)
        if count <= points:
            return self
        values = self.values
        keep = np.zeros(count, dtype=bool)
        keep[:: -(-count // points)] = True
        keep[-1] = True
        finite = np.isfinite(values)
        if finite.any():
            finite_at = np.flatnonzero(finite)
            keep[finite_at[[np.argmin(values[finite]), np.argmax(values[finite])]]] = True
        keep[1:] |= ~finite[1:] & finite[:-1]
        keep[0] |= not finite[0]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.abs(np.diff(np.log(np.abs(values))))
        ratio = np.where(np.isfinite(ratio), ratio, 0.0)
        if jumps and ratio.size:
            largest = np.argpartition(ratio, -min(jumps, ratio.size))[-jumps:]
            keep[largest + 1] = True
        chosen = np.flatnonzero(keep)
        return Curve(
            self.tag,
            _frozen(self.steps[chosen]),
            _frozen(values[chosen]),
            _frozen(self.wall_times[chosen]),
        )

    def to_frame(self) -> pd.DataFrame:
        """The curve as a DataFrame with columns step, value, wall_time."""
        import pandas as pd

        return pd.DataFrame(
            {"step": self.steps, "value": self.values, "wall_time": self.wall_times}
        )


def _freeze_mapping(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


# Runs and diagnoses cross process boundaries in parallel audits; read-only mappings
# travel as plain dicts and are frozen again on arrival.
copyreg.pickle(MappingProxyType, lambda proxy: (_freeze_mapping, (dict(proxy),)))


@dataclass(frozen=True)
class Run:
    """One training run as found on disk or in a tracking store.

    `name` is what users recognise (a path relative to the folder they gave, or the MLflow
    run name); `source` says exactly where it came from (a path or a URI with the run id).
    `warnings` records what the reader had to work around, so a report can say how far the
    data can be trusted.
    """

    name: str
    source: str
    format: str
    curves: Mapping[str, Curve] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "curves", _freeze_mapping(self.curves))
        # sorted by key: readers meet params in the order of a protobuf map or a folder
        # listing, and reports of the same logs must come out byte for byte the same
        params = dict(sorted((self.params or {}).items()))
        object.__setattr__(self, "params", _freeze_mapping(params))
        object.__setattr__(self, "metadata", _freeze_mapping(self.metadata))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @property
    def points(self) -> dict[str, int]:
        """Number of points per tag."""
        return {tag: len(curve) for tag, curve in self.curves.items()}

    @property
    def total_points(self) -> int:
        return sum(len(curve) for curve in self.curves.values())

    def to_frame(self) -> pd.DataFrame:
        """All curves in long form: tag, step, value, wall_time."""
        import pandas as pd

        frames = [curve.to_frame().assign(tag=tag) for tag, curve in self.curves.items()]
        if not frames:
            return pd.DataFrame(columns=["tag", "step", "value", "wall_time"])
        return pd.concat(frames, ignore_index=True)[["tag", "step", "value", "wall_time"]]
