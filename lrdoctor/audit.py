"""Audit every run under some paths: the library behind `lrdoctor audit` and `diagnose`."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lrdoctor import __version__
from lrdoctor.diagnosis import VERDICTS, Diagnosis, Doctor, unreadable
from lrdoctor.discovery import Problem, find_sources, read_source
from lrdoctor.engine import Config
from lrdoctor.readers import ReadError, ReadOptions, relative_name

SCHEMA = "lrdoctor.audit/1"


@dataclass(frozen=True)
class AuditResult:
    """Diagnoses of every run found, plus problems that were not tied to one run."""

    diagnoses: tuple[Diagnosis, ...]
    problems: tuple[Problem, ...] = ()

    def by_diagnosis(self) -> dict[str, int]:
        counts = Counter(d.verdict for d in self.diagnoses)
        return {verdict: counts[verdict] for verdict in VERDICTS if counts[verdict]}

    def to_dict(self) -> dict:
        """The `lrdoctor.audit/1` JSON contract (see `lrdoctor/schemas/audit.schema.json`)."""
        return {
            "schema": SCHEMA,
            "lrdoctor": __version__,
            "runs": [diagnosis.to_dict() for diagnosis in self.diagnoses],
            "summary": {"runs": len(self.diagnoses), "by_diagnosis": self.by_diagnosis()},
        }


def _source_name(location: str, root: str) -> str:
    path = Path(location)
    return relative_name(path, Path(root)) if path.exists() else location


def iter_diagnoses(
    paths: Sequence[str | os.PathLike],
    doctor: Doctor,
    options: ReadOptions | None = None,
    format_in: str | None = None,
) -> Iterator[Diagnosis | Problem]:
    """Diagnose runs one source at a time, so memory holds one source, not the whole audit.

    A source that cannot be read yields an `unreadable` diagnosis and the audit goes on.
    Paths that hold nothing readable at all yield a `Problem`.
    """
    options = options or ReadOptions()
    sources, problems = find_sources(paths, format_in)
    yield from problems
    for source in sources:
        try:
            runs = read_source(source, options)
        except ReadError as error:
            name = _source_name(source.location, source.root)
            yield unreadable(name, source.location, error.problem)
            continue
        for run in runs:
            yield doctor.diagnose(run)


def audit(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    config: Config | None = None,
    options: ReadOptions | None = None,
    format_in: str | None = None,
) -> AuditResult:
    """Find, read and diagnose every run under `paths` (files, folders, tracking URIs)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    doctor = Doctor(config)
    diagnoses, problems = [], []
    for item in iter_diagnoses(paths, doctor, options, format_in):
        (problems if isinstance(item, Problem) else diagnoses).append(item)
    return AuditResult(tuple(diagnoses), tuple(problems))
