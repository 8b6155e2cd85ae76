"""Audit every run under some paths: the library behind `lrdoctor audit` and `diagnose`."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

from lrdoctor import __version__
from lrdoctor.diagnosis import VERDICTS, Diagnosis, Doctor, unreadable
from lrdoctor.discovery import Problem, Source, find_sources, is_uri, read_runs, read_source
from lrdoctor.engine import Catalogue, Config
from lrdoctor.model import Run
from lrdoctor.readers import ReadError, ReadOptions, relative_name
from lrdoctor.remote import is_remote, relative_url_name
from lrdoctor.sweeps.grouping import Member, SweepGroup, group_sweeps, sweep_member

if TYPE_CHECKING:  # pandas loads when a frame is asked for, not for every audit
    import pandas as pd

SCHEMA = "lrdoctor.audit/1"
Keep = Callable[[Run, Diagnosis], object]
"""What to take of each run while it is in memory (a plot, features): a module-level
function, so that parallel audits can run it in their workers."""


def nothing_read(verdicts: Iterable[str]) -> bool:
    """Whether none of these verdicts judged a run: all unreadable, or none at all."""
    return all(verdict == "unreadable" for verdict in verdicts)


@dataclass(frozen=True)
class AuditResult:
    """Diagnoses of every run found, plus problems that were not tied to one run."""

    diagnoses: tuple[Diagnosis, ...]
    problems: tuple[Problem, ...] = ()
    paths: tuple[str, ...] = ()
    options: ReadOptions | None = None
    format_in: str | None = None
    collected: Mapping[tuple[str, str], object] = field(
        default_factory=dict, compare=False, repr=False
    )
    """What the audit's `collect` took of each run, by (name, source)."""
    catalogue: Catalogue | None = field(default=None, compare=False, repr=False)
    """The rules the runs were judged by, for reports that show a rule's page."""
    sweeps: tuple[SweepGroup, ...] = ()
    """The LR sweeps among the runs: runs that share everything but the LR (`lrdoctor sweep`
    judges them and recommends one)."""

    def sweep_of(self) -> dict[tuple[str, str], str]:
        """Each sweep member's sweep name, by (run name, source)."""
        return {(m.name, m.source): group.name for group in self.sweeps for m in group.members}

    def plot(self, name: str | None = None):
        """A matplotlib Figure: every run's loss coloured by verdict, or one run in full.

        The overview draws the thumbnails of an audit that collected `lrdoctor.plots.sketch`.
        Otherwise, and for one run in full, the curves are read again from the audited paths:
        the audit keeps diagnoses, not curves.
        """
        from lrdoctor.plots import Sketch, pair_runs, plot_overview, plot_run

        sketches = [self.collected.get((d.name, d.source)) for d in self.diagnoses]
        if name is None and all(
            isinstance(found, Sketch) or d.verdict == "unreadable"
            for d, found in zip(self.diagnoses, sketches, strict=True)
        ):
            thumbnails = [found.thumbnail if found else None for found in sketches]
            return plot_overview(list(zip(self.diagnoses, thumbnails, strict=True)))
        runs = read_runs(self.paths, self.options, self.format_in).runs
        pairs = pair_runs(self.diagnoses, runs)
        if name is None:
            return plot_overview(pairs)
        for diagnosis, run in pairs:
            if diagnosis.name == name and run is not None:
                return plot_run(run, diagnosis)
        raise KeyError(f"no readable run named {name!r} in this audit")

    @property
    def nothing_read(self) -> bool:
        """Whether no run could be read at all: the audit judged nothing."""
        return nothing_read(d.verdict for d in self.diagnoses)

    def by_diagnosis(self) -> dict[str, int]:
        counts = Counter(d.verdict for d in self.diagnoses)
        return {verdict: counts[verdict] for verdict in VERDICTS if counts[verdict]}

    def to_frame(self) -> pd.DataFrame:
        """One row per run: verdict, confidence, the top finding and the signals used."""
        rows = []
        for diagnosis in self.diagnoses:
            top = diagnosis.findings[0] if diagnosis.findings else None
            rows.append(
                {
                    "name": diagnosis.name,
                    "format": diagnosis.format,
                    "diagnosis": diagnosis.verdict,
                    "confidence": diagnosis.confidence,
                    "rule": top.code if top else None,
                    "message": top.message if top else None,
                    "findings": len(diagnosis.findings),
                    **{f"{role}_tag": tag for role, tag in diagnosis.signals.items()},
                    "source": diagnosis.source,
                }
            )
        import pandas as pd

        return pd.DataFrame(rows)

    def to_json(self) -> str:
        """The report as `lrdoctor audit --format json` writes it."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_dict(self) -> dict:
        """The `lrdoctor.audit/1` JSON contract (see `lrdoctor/schemas/audit.schema.json`)."""
        sweep_of = self.sweep_of()
        runs = []
        for diagnosis in self.diagnoses:
            entry = diagnosis.to_dict()
            sweep = sweep_of.get((diagnosis.name, diagnosis.source))
            if sweep is not None:
                entry["sweep"] = sweep
            runs.append(entry)
        return {
            "schema": SCHEMA,
            "lrdoctor": __version__,
            "runs": runs,
            "summary": {"runs": len(self.diagnoses), "by_diagnosis": self.by_diagnosis()},
            "problems": [{"source": p.source, "message": p.message} for p in self.problems],
            "sweeps": [group.to_dict() for group in self.sweeps],
        }


def _source_name(location: str, root: str) -> str:
    if is_remote(location):
        return relative_url_name(location, root)
    path = Path(location)
    return relative_name(path, Path(root)) if path.exists() else location


_worker_doctor: Doctor | None = None


def _start_worker(config: Config) -> None:
    """Each worker process loads the rules once."""
    global _worker_doctor
    _worker_doctor = Doctor(config)


def _diagnose_source(
    source: Source, options: ReadOptions, doctor: Doctor, keep: Keep | None = None
) -> list[tuple[Diagnosis, object]]:
    """Every run of one source, each with what `keep` takes from it while it is in memory.

    A source that cannot be read is one `unreadable` diagnosis, and so is a run without a
    single data point: nothing of it could be read, whatever its reader warned.
    """
    try:
        runs = read_source(source, options)
    except ReadError as error:
        name = _source_name(source.location, source.root)
        return [(unreadable(name, source.location, error.problem), None)]
    judged = []
    for run in runs:
        if not run.total_points:
            empty = unreadable(run.name, run.source, "no data points")
            judged.append((replace(empty, format=run.format, warnings=run.warnings), None))
            continue
        diagnosis = doctor.diagnose(run)
        judged.append((diagnosis, keep(run, diagnosis) if keep else None))
    return judged


def _diagnose_in_worker(
    source: Source, options: ReadOptions, keep: Keep | None
) -> list[tuple[Diagnosis, object]]:
    return _diagnose_source(source, options, _worker_doctor, keep)


def iter_judged(
    paths: Sequence[str | os.PathLike],
    doctor: Doctor,
    options: ReadOptions | None = None,
    format_in: str | None = None,
    jobs: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    keep: Keep | None = None,
    scheduler: object = None,
) -> Iterator[tuple[Diagnosis, object] | Problem]:
    """Diagnose runs source by source, in discovery order whatever `jobs` or `scheduler` is.

    Memory holds the sources being read, not the whole audit, so results stream to the
    reporter; `keep(run, diagnosis)` (a module-level function, so workers can run it) takes
    what a reporter needs of a run, such as its plot, before the run is dropped. A source
    that cannot be read yields an `unreadable` diagnosis and the audit goes on; paths that
    hold nothing readable at all yield a `Problem`. `on_progress(done, total)` is called
    after each source. With a `scheduler` (see `audit`) the sources are read and diagnosed
    on a Dask cluster, which is connected to before discovery starts.
    """
    options = options or ReadOptions()
    if scheduler is not None:
        from lrdoctor.cluster import connect

        with connect(scheduler, workers=jobs, timeout=options.timeout) as client:
            sources, problems = find_sources(paths, format_in)
            yield from problems
            batches = _judged_on_cluster(client, sources, options, doctor.config, keep)
            yield from _counted(batches, len(sources), on_progress)
        return
    sources, problems = find_sources(paths, format_in)
    yield from problems
    if jobs > 1 and len(sources) > 1:
        pool = ProcessPoolExecutor(
            max_workers=min(jobs, len(sources)),
            initializer=_start_worker,
            initargs=(doctor.config,),
        )
        with pool:
            batches = pool.map(
                _diagnose_in_worker, sources, repeat(options), repeat(keep), chunksize=4
            )
            yield from _counted(batches, len(sources), on_progress)
    else:
        batches = (_diagnose_source(source, options, doctor, keep) for source in sources)
        yield from _counted(batches, len(sources), on_progress)


_cluster_doctor: tuple[Config, Doctor] | None = None
_cluster_doctor_lock = threading.Lock()


def _diagnose_on_cluster(
    sources: list[Source], options: ReadOptions, config: Config, keep: Keep | None
) -> list[list[tuple[Diagnosis, object]]]:
    """A batch of sources on a Dask worker, which loads the rules once per configuration."""
    global _cluster_doctor
    with _cluster_doctor_lock:
        if _cluster_doctor is None or _cluster_doctor[0] != config:
            _cluster_doctor = (config, Doctor(config))
        doctor = _cluster_doctor[1]
    return [_diagnose_source(source, options, doctor, keep) for source in sources]


def _judged_on_cluster(
    client, sources: list[Source], options: ReadOptions, config: Config, keep: Keep | None
) -> Iterator[list[tuple[Diagnosis, object]]]:
    """Each source's judged runs from the cluster, in order. Workers get absolute paths (their
    working folder is not the client's) and the diagnoses name them as the user did; a source
    whose task failed even alone is `unreadable` with the reason."""
    from lrdoctor.cluster import Failed, map_in_order

    directory = os.getcwd()
    sent = [_absolute(source, directory) for source in sources]
    results = map_in_order(client, _diagnose_on_cluster, sent, options, config, keep)
    for given, absolute, judged in zip(sources, sent, results, strict=True):
        if isinstance(judged, Failed):
            name = _source_name(given.location, given.root)
            yield [(unreadable(name, given.location, str(judged)), None)]
        elif absolute == given:
            yield judged
        else:
            yield [(_as_given(d, absolute, given), kept) for d, kept in judged]


def _absolute(source: Source, directory: str) -> Source:
    """The source as a worker in another folder must see it: its path (or the file of a
    `sqlite:///relative.db` tracking URI) taken from the client's `directory`."""
    location = source.location
    if location.lower().startswith(_SQLITE) and not os.path.isabs(location[len(_SQLITE) :]):
        uri = _SQLITE + os.path.join(directory, location[len(_SQLITE) :])
        return replace(source, location=uri, root=uri if source.root == location else source.root)
    if os.path.isabs(location) or is_uri(location) or is_remote(location):
        return source
    location = os.path.join(directory, location)
    return replace(source, location=location, root=os.path.join(directory, source.root))


_SQLITE = "sqlite:///"


def _as_given(diagnosis: Diagnosis, absolute: Source, given: Source) -> Diagnosis:
    """The diagnosis with the source's path written as the user gave it, as a local audit
    writes it (in its source, its name when unreadable, and any warning quoting it)."""

    def written(text: str) -> str:
        return text.replace(absolute.location, given.location)

    return replace(
        diagnosis,
        name=written(diagnosis.name),
        source=written(diagnosis.source),
        warnings=tuple(map(written, diagnosis.warnings)),
        note=written(diagnosis.note),
    )


def _counted(batches, total: int, on_progress) -> Iterator[tuple[Diagnosis, object]]:
    for done, batch in enumerate(batches, start=1):
        yield from batch
        if on_progress is not None:
            on_progress(done, total)


def audit(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    config: Config | None = None,
    options: ReadOptions | None = None,
    format_in: str | None = None,
    jobs: int = 1,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    on_diagnosis: Callable[[Diagnosis], None] | None = None,
    collect: Keep | None = None,
    scheduler: object = None,
    retain: bool = True,
) -> AuditResult:
    """Find, read and diagnose every run under `paths` (files, folders, tracking URIs).

    `on_progress(done, total)` follows the sources read; `on_diagnosis` sees each run's
    diagnosis as soon as it is made, so a report can stream; `collect(run, diagnosis)` (see
    `Keep`) fills `AuditResult.collected`. Rules that cannot be loaded raise `EngineError`
    before anything is read. `retain=False` keeps no diagnosis in the result (nor what sweeps
    are found from): for a caller that takes each through `on_diagnosis`, so memory does not
    grow with the number of runs.

    `scheduler` sends the reading and diagnosing to a Dask cluster (`pip install
    "lrdoctor[dask]"`): a scheduler address (`tcp://host:port`), "local" for a LocalCluster
    of `jobs` worker processes started and closed for this audit, or a `distributed.Client`.
    Discovery stays here; the workers must see the paths (or tracking URIs) this process
    sees. The result is the one a local audit gives. `lrdoctor.cluster.ClusterError` when dask
    is missing, the scheduler cannot be reached within `options.timeout` or the workers do not
    run this lrdoctor.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    doctor = Doctor(config)
    diagnoses, problems, collected, members = [], [], {}, []
    keep = _AndMember(collect, doctor.config.signals)
    judged = iter_judged(paths, doctor, options, format_in, jobs, on_progress, keep, scheduler)
    for item in judged:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        diagnosis, both = item
        if on_diagnosis is not None:
            on_diagnosis(diagnosis)
        if not retain:
            continue
        diagnoses.append(diagnosis)
        if both is not None:
            member, kept = both
            members.append(replace(member, name=diagnosis.name, source=diagnosis.source))
            if kept is not None:
                collected[(diagnosis.name, diagnosis.source)] = kept
    found, _ = group_sweeps(members)
    return AuditResult(
        tuple(diagnoses),
        tuple(problems),
        tuple(map(os.fspath, paths)),
        options,
        format_in,
        collected,
        doctor.catalogue,
        tuple(group for sweeps, _ in found for group in sweeps),
    )


@dataclass(frozen=True)
class _AndMember:
    """A `Keep` that takes each run's sweep `Member` beside what `keep` takes, so sweeps are
    found after the audit without its curves (a dataclass of module-level parts: workers
    unpickle it)."""

    keep: Keep | None
    signals: Mapping[str, str] | None

    def __call__(self, run: Run, diagnosis: Diagnosis) -> tuple[Member, object]:
        kept = self.keep(run, diagnosis) if self.keep is not None else None
        return sweep_member(run, signals=self.signals), kept
