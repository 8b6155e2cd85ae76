"""What every reader provides, so discovery can ask each format in turn."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from lrdoctor.model import Curve, Run

# Steps (and MLflow timestamps) are stored as int64; a number outside it would wrap around.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class ReadError(Exception):
    """A source could not be read at all; the message names the source and the problem."""

    def __init__(self, source: str | os.PathLike, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


@dataclass(frozen=True)
class ReadOptions:
    """Selection options that readers honour where they apply (MLflow: all three)."""

    experiment: str | None = None
    run_id: str | None = None
    filter_string: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class Claim:
    """A source a reader recognised while discovery walked a directory.

    `path` is what discovery later passes to `read`. `owned_dirs` names sub-directories of the
    walked directory that belong to this source (an mlruns store's experiments, the
    `train/`/`validation/` folders of a Keras run), so discovery does not walk into them and
    no run is found twice. `owned_files` likewise names files of the directory.
    """

    path: Path
    owned_dirs: tuple[str, ...] = ()
    owned_files: tuple[str, ...] = ()


@runtime_checkable
class Reader(Protocol):
    """A log format. Instances are registered in `lrdoctor.readers.REGISTRY`."""

    name: str

    def claim(self, directory: Path, dirnames: list[str], filenames: list[str]) -> list[Claim]:
        """Sources of this format in `directory` (one step of a top-down walk).

        `dirnames` and `filenames` are the entries of `directory` not yet owned by another
        reader. Must be cheap: look at names and at most a few header bytes.
        """
        ...

    def can_read(self, path: Path) -> bool:
        """Whether `path` (a file or directory given by the user) is in this format."""
        ...

    def read(self, path: Path, root: Path, options: ReadOptions) -> list[Run]:
        """Read every run in `path`; names are relative to `root`, the folder the user gave.

        Raises `ReadError` when nothing at all can be read; problems that leave some data
        readable go into `Run.warnings` instead.
        """
        ...


def relative_name(path: Path, root: Path) -> str:
    """A run's display name: `path` relative to the folder the user gave, with `/`."""
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return path.name
    text = relative.as_posix()
    return text if text != "." else (root.resolve().name or str(root))


def ordered_curve(tag: str, steps: np.ndarray, values: np.ndarray, wall_times: np.ndarray) -> Curve:
    """`Curve.from_points(tag, steps, values, wall_times)`, without its sort when the steps
    already rise strictly, as in most logs (the sort then keeps every point in place). The
    arrays become the curve's own: a long curve is not held twice while it is made."""
    if steps.size > 1 and not (steps[1:] > steps[:-1]).all():
        return Curve.from_points(tag, steps, values, wall_times)
    return Curve(
        tag, _owned(steps, np.int64), _owned(values, np.float64), _owned(wall_times, np.float64)
    )


def _owned(array: np.ndarray, dtype: type) -> np.ndarray:
    """`array` as a read-only array of `dtype`, copied only when it is a view that its owner
    could still change (a fresh array, or one nobody can write, is frozen as it is)."""
    array = np.asarray(array, dtype=dtype)
    if array.base is not None and array.flags.writeable:
        array = array.copy()
    array.setflags(write=False)
    return array


def fits_int64(number: float) -> bool:
    """Whether a step or timestamp can be stored as int64 without wrapping (NaN cannot)."""
    return INT64_MIN <= number <= INT64_MAX


def int64_steps(steps: np.ndarray) -> np.ndarray:
    """Which float steps are finite and inside int64, so casting them is exact, not wrapped."""
    return np.isfinite(steps) & (steps >= -(2.0**63)) & (steps < 2.0**63)


@dataclass
class Skipped:
    """The points one file lost, by problem, told as one warning (readers keep reading past a
    damaged line, entry or row instead of giving up on the file)."""

    unit: str
    units: str
    counts: dict[str, int] = field(default_factory=dict)
    firsts: dict[str, str] = field(default_factory=dict)

    def add(self, problem: str, count: int = 1, first: str = "") -> None:
        """Count `count` items lost to `problem`; `first` says where the first one was."""
        if count:
            self.counts[problem] = self.counts.get(problem, 0) + count
            if first:
                self.firsts.setdefault(problem, first)

    def warnings(self, file: str) -> list[str]:
        """`["<file>: 3 lines skipped: step out of range"]`, or `[]` when nothing was lost."""
        total = sum(self.counts.values())
        if not total:
            return []
        several = len(self.counts) > 1
        detail = ", ".join(self._detail(problem, several) for problem in self.counts)
        return [f"{file}: {total} {self.unit if total == 1 else self.units} skipped: {detail}"]

    def _detail(self, problem: str, with_count: bool) -> str:
        notes = [str(self.counts[problem])] if with_count else []
        notes += [self.firsts[problem]] if problem in self.firsts else []
        return f"{problem} ({', '.join(notes)})" if notes else problem
