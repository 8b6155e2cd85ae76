"""What `lrdoctor runs` shows: each run's format, chosen signals, point counts and warnings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

from lrdoctor.model import Run
from lrdoctor.roles import assign_roles, missing_overrides


@dataclass(frozen=True)
class RunSummary:
    name: str
    source: str
    format: str
    signals: dict[str, str]
    points: dict[str, int]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "format": self.format,
            "signals": dict(self.signals),
            "points": dict(self.points),
            "warnings": list(self.warnings),
        }


def summarise(run: Run, overrides: Mapping[str, str] | None = None) -> RunSummary:
    """The inventory line of one run, with roles assigned."""
    return RunSummary(
        name=run.name,
        source=run.source,
        format=run.format,
        signals=assign_roles(run, overrides),
        points=run.points,
        warnings=tuple(run.warnings) + tuple(missing_overrides(run, overrides)),
    )


def unreadable_summary(source: str, problem: str) -> RunSummary:
    """The inventory line of a source that could not be read: listed, with the reason, where
    the run would have been."""
    return RunSummary(
        name=PurePath(source).name or source,
        source=source,
        format="unreadable",
        signals={},
        points={},
        warnings=(problem,),
    )
