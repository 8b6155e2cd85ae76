"""What every reader provides, so discovery can ask each format in turn."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from lrdoctor.model import Run


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
