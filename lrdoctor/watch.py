"""Follow runs while they are written: the library behind `lrdoctor watch`.

Each poll reads only what was added since the last one and re-diagnoses the runs that got new
points, from points kept per run:

- TensorBoard event files from the byte after their last complete record (a record cut short
  at the end is a write in progress, read at the next poll); new event files and new run
  folders are found by walking the paths again at every poll.
- CSV logs from their last complete line (the header is kept and put before the new lines);
  a file rewritten under another header, as Lightning does when a new metric appears, or cut
  shorter, is read again from its start.
- MLflow folder stores by their metric files, which FileStore only appends to.
- Everything else (`trainer_state.json`, MLflow SQLite stores, tracking servers, third-party
  readers) read again whole: Trainer folders when a file in them changed size or time, stores
  and servers at most every `store_interval` seconds.

Memory per run is bounded: each curve the diagnosis uses (train and val loss, grad norm, lr)
keeps every point up to `KEPT_POINTS` (any other curve `SIDE_POINTS`), then a regular
sample of every `stride`-th point (the stride doubles as the run grows), plus the points a
sample would miss and rules need: the first non-finite value, the largest and smallest
values, the last point and the `PINNED_POINTS` largest jumps from one point to the next (a
gradient-norm spike, the step into or out of NaN).

While a run is written, the rules in `JUDGED_AT_THE_END` wait: a loss still falling is not
yet "too slow". A run that gets no new point for `quiet_after` seconds is closed: judged by
every rule, said if that changes its verdict, and its points dropped; if it is written
again, its source is read again from the start.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lrdoctor.diagnosis import Diagnosis, Doctor
from lrdoctor.discovery import Problem, Source, find_sources, is_uri
from lrdoctor.engine import Config, Finding, fails
from lrdoctor.model import Curve, Run
from lrdoctor.readers import ReadError, ReadOptions

DEFAULT_INTERVAL = 5.0
QUIET_AFTER = 900.0
"""Seconds without a new point after which a run is closed."""
STORE_INTERVAL = 30.0
"""MLflow SQLite stores and tracking servers are read again at most this often (seconds)."""
KEPT_POINTS = 8192
"""Regular samples kept per curve: between half this and this many once a run is longer."""
PINNED_POINTS = 64
"""The largest jumps between consecutive points kept per curve besides the samples."""
SIDE_POINTS, SIDE_PINNED = 256, 8
"""What is kept of a curve the diagnosis does not use (per-layer statistics, accuracy ...):
a run logging hundreds of tags stays small, and a tag that later takes a role has a sketch."""
CSV_CHUNK_BYTES = 16 << 20
"""A CSV log is read this many bytes at a time, so a first read of a huge log stays bounded."""
MAX_WARNINGS = 20
QUIET_VERDICTS = frozenset({"healthy", "insufficient_data"})
"""Verdicts a run may start in or move between without a line: a healthy run says nothing."""
JUDGED_AT_THE_END = (
    "loss-crawls",
    "loss-never-falls",
    "loss-at-chance",
    "ill-conditioned",
    "val-loss-crawls",
)
"""Rules that judge how far the loss got by the end of the run ("still falling at the end",
"never fell", "still at chance"): every run being written is there in its first steps, so
they judge a run when it is closed (or in a `once` pass), not while it is being written."""

VERDICT, FINDING, FINDING_GONE, CLOSED = "verdict", "finding", "finding_gone", "closed"


@dataclass(frozen=True)
class Change:
    """A run's verdict or findings changed (or the run was closed) at one poll.

    `kind` is `verdict` (`old` -> `new`; `old` is None for a run first seen unhealthy),
    `finding` (a finding appeared, the verdict stayed), `finding_gone` (one went away) or
    `closed` (no new point for the quiet period, and the rules that judge a finished run
    changed what was said: `old` -> `new`). `finding` is the finding behind the change:
    the new top finding for a verdict change, None when the run became healthy.
    """

    kind: str
    time: float
    run: str
    source: str
    format: str
    step: int | None
    old: str | None
    new: str
    finding: Finding | None
    diagnosis: Diagnosis | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PollSummary:
    """What one poll saw, for a progress line: runs followed, sources, seconds it took."""

    number: int
    runs: int
    sources: int
    seconds: float


class KeptCurve:
    """One curve as the watch keeps it, in bounded memory however long the run grows.

    Points are numbered in the order they arrive. Every point is kept until `capacity`
    points are held; then only points whose number is a multiple of `stride` stay, the
    stride doubling each time the sample fills up, so the sample is always an evenly spaced
    `capacity / 2` to `capacity` points of the whole run (its scatter and trend are those of
    the run). Beside it: the first non-finite point, the largest and the smallest finite
    value, the last point, and the `pinned` largest jumps from the point before (relative
    to its size; into or out of NaN/inf counts as infinite).
    """

    def __init__(self, tag: str, capacity: int = KEPT_POINTS, pinned: int = PINNED_POINTS):
        self.tag = tag
        self.capacity = capacity
        self.pinned = pinned
        self.seen = 0
        self.stride = 1
        self._sample = _Points.empty()
        self._jumps = _Points.empty()
        self._jump_scores = np.empty(0)
        self._notable: dict[str, _Points] = {}
        self._previous = np.nan

    def append(self, steps: np.ndarray, values: np.ndarray, wall_times: np.ndarray) -> None:
        """Add points in write order."""
        count = len(steps)
        if not count:
            return
        order = self.seen + np.arange(count, dtype=np.int64)
        chunk = _Points(
            order,
            np.asarray(steps, dtype=np.int64),
            np.asarray(values, dtype=np.float64),
            np.asarray(wall_times, dtype=np.float64),
        )
        self._add_sample(chunk)
        self._add_jumps(chunk)
        self._add_notable(chunk)
        self._previous = float(chunk.values[-1])
        self.seen += count

    def _add_sample(self, chunk: _Points) -> None:
        self._sample = _Points.join([self._sample, chunk.where(chunk.order % self.stride == 0)])
        self._thin()

    def _thin(self) -> None:
        sample = self._sample
        while len(sample) > self.capacity:
            self.stride *= 2
            sample = sample.where(sample.order % self.stride == 0)
        self._sample = sample

    def limit(self, capacity: int, pinned: int) -> None:
        """Keep at most `capacity` samples and `pinned` jumps from now on (never more)."""
        if capacity >= self.capacity and pinned >= self.pinned:
            return
        self.capacity, self.pinned = min(capacity, self.capacity), min(pinned, self.pinned)
        self._thin()
        if len(self._jumps) > self.pinned:
            keep = np.sort(np.lexsort((self._jumps.order, -self._jump_scores))[: self.pinned])
            self._jumps, self._jump_scores = self._jumps.take(keep), self._jump_scores[keep]

    def _add_jumps(self, chunk: _Points) -> None:
        values = chunk.values
        before = np.concatenate(([self._previous], values[:-1]))
        finite, finite_before = np.isfinite(values), np.isfinite(before)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # how many e-folds a point is from the one before (a 20x spike: 3.0); across
            # zero or a change of sign, the jump relative to the larger of the two (<= 2)
            ratio = np.abs(np.log(np.abs(values)) - np.log(np.abs(before)))
            relative = np.abs(values - before) / np.maximum(np.abs(before), np.abs(values))
            scores = np.where(values * before > 0, ratio, relative)
        scores = np.where(finite & finite_before, np.nan_to_num(scores), 0.0)
        scores[finite != finite_before] = np.inf
        if self.seen == 0:
            scores[0] = 0.0  # the first point has no point before it
        candidates = np.flatnonzero(scores > 0)
        if candidates.size > self.pinned:  # the chunk's largest first, earliest among equals
            ranked = np.lexsort((candidates, -scores[candidates]))
            candidates = np.sort(candidates[ranked[: self.pinned]])
        jumps = _Points.join([self._jumps, chunk.take(candidates)])
        jump_scores = np.concatenate((self._jump_scores, scores[candidates]))
        if len(jumps) > self.pinned:
            keep = np.sort(np.lexsort((jumps.order, -jump_scores))[: self.pinned])
            jumps, jump_scores = jumps.take(keep), jump_scores[keep]
        self._jumps, self._jump_scores = jumps, jump_scores

    def _add_notable(self, chunk: _Points) -> None:
        values = chunk.values
        finite = np.flatnonzero(np.isfinite(values))
        if "first_nonfinite" not in self._notable and finite.size < values.size:
            first = int(np.flatnonzero(~np.isfinite(values))[0])
            self._notable["first_nonfinite"] = chunk.take([first])
        if finite.size:
            highest = int(finite[np.argmax(values[finite])])
            lowest = int(finite[np.argmin(values[finite])])
            if "max" not in self._notable or values[highest] > self._notable["max"].values[0]:
                self._notable["max"] = chunk.take([highest])
            if "min" not in self._notable or values[lowest] < self._notable["min"].values[0]:
                self._notable["min"] = chunk.take([lowest])
        self._notable["last"] = chunk.take([len(chunk) - 1])

    def points(self) -> _Points:
        """Every kept point once, in write order."""
        joined = _Points.join([self._sample, self._jumps, *self._notable.values()])
        _, first = np.unique(joined.order, return_index=True)
        return joined.take(first)

    def curve(self) -> Curve:
        kept = self.points()
        return Curve.from_points(self.tag, kept.steps, kept.values, kept.wall_times)

    @property
    def kept(self) -> int:
        """How many points are held (at most `capacity + pinned + 4`)."""
        return len(self.points())

    @property
    def nbytes(self) -> int:
        """Bytes held by the kept points' arrays."""
        parts = [self._sample, self._jumps, *self._notable.values()]
        return sum(part.nbytes for part in parts) + self._jump_scores.nbytes


@dataclass(frozen=True)
class _Points:
    order: np.ndarray
    steps: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray

    @classmethod
    def empty(cls) -> _Points:
        return cls(*(np.empty(0, dtype=t) for t in (np.int64, np.int64, float, float)))

    @classmethod
    def join(cls, parts: Sequence[_Points]) -> _Points:
        return cls(*(np.concatenate(column) for column in zip(*parts, strict=True)))

    def __iter__(self):
        return iter((self.order, self.steps, self.values, self.wall_times))

    def __len__(self) -> int:
        return int(self.order.size)

    def where(self, mask: np.ndarray) -> _Points:
        return _Points(*(column[mask] for column in self))

    def take(self, indices) -> _Points:
        return _Points(*(column[indices] for column in self))

    @property
    def nbytes(self) -> int:
        return sum(column.nbytes for column in self)


@dataclass(eq=False)
class _RunState:
    """What the watch holds of one run: its kept curves and what was last said about it."""

    key: tuple[str, str]
    name: str
    source: str
    format: str
    curves: dict[str, KeptCurve] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    last_new_point: float = 0.0

    def add(self, run: Run) -> bool:
        """Take `run`'s points as new ones; whether there were any. A read that found
        nothing new only brings params: its warnings would say "no scalar data"."""
        self.source = run.source
        self.params.update(run.params)
        if not run.total_points:
            return False
        self.metadata.update(run.metadata)
        for warning in run.warnings:
            if warning not in self.warnings and len(self.warnings) < MAX_WARNINGS:
                self.warnings.append(warning)
        for tag, curve in run.curves.items():
            kept = self.curves.setdefault(tag, KeptCurve(tag))
            kept.append(curve.steps, curve.values, curve.wall_times)
        return True

    def run(self) -> Run:
        curves = {tag: kept.curve() for tag, kept in sorted(self.curves.items())}
        return Run(
            self.name, self.source, self.format, curves, self.params, self.metadata, self.warnings
        )

    @property
    def kept_points(self) -> int:
        return sum(kept.kept for kept in self.curves.values())


@dataclass
class _Said:
    """The last verdict and findings reported for a run (kept after the run is closed)."""

    verdict: str | None = None
    findings: dict[str, Finding] = field(default_factory=dict)


class _Follower:
    """Reads one source again and again; `read()` gives its runs with the points added
    since the last call, or None when nothing changed. `whole` says the runs of the last
    read hold every point (a first read, or a re-read) rather than only the new ones."""

    whole = True

    def read(self, now: float) -> list[Run] | None:
        raise NotImplementedError


class _EventFiles(_Follower):
    """A TensorBoard run folder (or file), each event file read from where the last read
    stopped, through the reader's own folding of sub-folders into runs."""

    def __init__(self, source: Source):
        self.path, self.root = Path(source.location), Path(source.root)
        self.offsets: dict[str, int] = {}
        self.plugins: dict[str, dict[str, str]] = {}
        self.reads = 0
        self.shrunk = False

    def read(self, now: float) -> list[Run]:
        from lrdoctor.readers.tensorboard import read_runs

        self.whole = self.reads == 0
        self.reads += 1
        self.shrunk = False
        runs = read_runs(self.path, self.root, self._read_new)
        if self.shrunk:  # an event file was replaced by a shorter one: read the run anew
            self.offsets.clear()
            self.whole = True
            runs = read_runs(self.path, self.root, self._read_new)
        return runs

    def _read_new(self, path: Path):
        from lrdoctor.readers._tfrecord import read_event_file

        key = str(path)
        start = self.offsets.get(key, 0)
        if start and path.stat().st_size < start:
            self.shrunk = True
            start = 0
        contents = read_event_file(path, start, growing=True)
        self.offsets[key] = contents.end
        # TF1 names a tag's plugin on its first event only: later reads need it too.
        plugins = self.plugins.setdefault(key, {})
        plugins.update(contents.plugins)
        contents.plugins.update(plugins)
        return contents


class _CsvLines(_Follower):
    """A CSV log read from its last complete line; its header is put before the new lines.

    A file that no longer starts with the header read, or no longer holds the last bytes
    read where they were, was rewritten (Lightning widens its header so) and is read anew.
    """

    TAIL_BYTES = 64

    def __init__(self, source: Source):
        self.path, self.root = Path(source.location), Path(source.root)
        self.header = b""
        self.tail = b""
        self.offset = 0
        self.rows = 0

    def read(self, now: float) -> list[Run] | None:
        from lrdoctor.readers.csv_logs import read_runs

        self.whole = not self.header
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as stream:
                if self.header and (size < self.offset or not self._unchanged(stream)):
                    self.header, self.tail, self.offset, self.rows = b"", b"", 0, 0
                    self.whole = True
                if not self.header and not self._read_header(stream):
                    return None
                stream.seek(self.offset)
                runs: list[Run] = []
                while chunk := self._complete_lines(stream):
                    self.offset += len(chunk)  # lines that cannot be read cost themselves
                    self.tail = (self.tail + chunk[-self.TAIL_BYTES :])[-self.TAIL_BYTES :]
                    try:
                        new = read_runs(self.path, self.root, self.header + chunk, self.rows)
                    except ReadError:
                        if self.whole and not runs:
                            raise
                        new = []  # lines with no number in any column: nothing to add
                    self.rows += max((int(run.metadata.get("rows", 0)) for run in new), default=0)
                    runs.extend(new)
        except OSError as error:
            raise ReadError(self.path, f"cannot be read ({error.strerror or error})") from error
        return runs or None

    def _read_header(self, stream) -> bool:
        """Whether the header line is complete; a header the reader rejects (not UTF-8, not
        a training log) raises its `ReadError` as reading the whole file would."""
        from lrdoctor.readers.csv_logs import read_runs

        stream.seek(0)
        line = stream.readline(1 << 20)
        if not line.endswith(b"\n") or not line.strip():
            return False
        read_runs(self.path, self.root, line)
        self.header, self.offset = line, len(line)
        return True

    def _unchanged(self, stream) -> bool:
        stream.seek(0)
        if stream.read(len(self.header)) != self.header:
            return False
        stream.seek(self.offset - len(self.tail))
        return stream.read(len(self.tail)) == self.tail

    @staticmethod
    def _complete_lines(stream) -> bytes:
        start = stream.tell()
        chunk = stream.read(CSV_CHUNK_BYTES)
        end = chunk.rfind(b"\n") + 1
        stream.seek(start + end)
        return chunk[:end]


class _MetricFiles(_Follower):
    """An MLflow folder store: each metric file read from its last complete line."""

    def __init__(self, source: Source, options: ReadOptions):
        self.path, self.root, self.options = Path(source.location), Path(source.root), options
        self.offsets: dict[str, int] = {}
        self.reads = 0

    def read(self, now: float) -> list[Run]:
        from lrdoctor.readers.mlflow import read_folder

        self.whole = self.reads == 0
        self.reads += 1
        return read_folder(self.path, self.root, self.options, self._read_new)

    def _read_new(self, path: Path):
        from lrdoctor.readers.mlflow import parse_metric_text

        key = str(path)
        with path.open("rb") as stream:
            stream.seek(self.offsets.get(key, 0))
            data = stream.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offsets[key] = self.offsets.get(key, 0) + len(complete)
        return parse_metric_text(complete.decode("utf-8", errors="replace"))


class _Rereader(_Follower):
    """A source read whole again: when a file under it changed size or time (a Trainer
    folder), or at most every `every` seconds where nothing says it changed (a store)."""

    def __init__(
        self,
        source: Source,
        options: ReadOptions,
        every: float,
        signed: bool,
        names: frozenset[str] | None = None,
    ):
        """`names`, when given, are the only file names whose change counts (a Trainer
        folder's `trainer_state.json`, not the event files it also holds)."""
        self.source, self.options, self.every, self.signed = source, options, every, signed
        self.names = names
        self.last_read = -np.inf
        self.signature: object = None

    def read(self, now: float) -> list[Run] | None:
        from lrdoctor.discovery import read_source

        if now - self.last_read < self.every:
            return None
        signature = _signature(Path(self.source.location), self.names) if self.signed else None
        if self.signed and signature == self.signature:
            return None
        self.last_read, self.signature = now, signature
        return read_source(self.source, self.options)


def _signature(path: Path, only: frozenset[str] | None = None) -> tuple:
    """Size and modification time of every file at or under `path` (named in `only`, when
    given), and of a SQLite store's write-ahead log beside it."""
    if path.is_file():
        files = [path, path.with_name(path.name + "-wal")]
    else:
        files = [
            Path(folder) / name
            for folder, _, names in os.walk(path)
            for name in names
            if only is None or name in only
        ]
    signature = []
    for file in sorted(files):
        try:
            info = file.stat()
        except OSError:
            continue
        signature.append((str(file), info.st_size, info.st_mtime_ns))
    return tuple(signature)


class Watcher:
    """The state of a watch: a follower per source, the kept points of each open run and
    what was last said about each run. `poll()` reads what is new and says what changed."""

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        config: Config | None = None,
        options: ReadOptions | None = None,
        format_in: str | None = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        quiet_after: float = QUIET_AFTER,
        store_interval: float = STORE_INTERVAL,
        finished: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        """`finished` judges every run by every rule at once, as an audit does (a `once`
        pass over logs that are no longer written)."""
        self.paths = [os.fspath(path) for path in paths]
        self.doctor = Doctor(config)
        self.open_doctor = self.doctor
        if not finished:
            config = config or Config()
            waiting = [name for name in JUDGED_AT_THE_END if self.doctor.catalogue.get(name)]
            self.open_doctor = Doctor(replace(config, ignore=(*config.ignore, *waiting)))
        self.options = options or ReadOptions()
        self.format_in = format_in
        self.interval, self.quiet_after, self.store_interval = interval, quiet_after, store_interval
        self.clock = clock
        self.followers: dict[tuple[str, str], _Follower] = {}
        self.runs: dict[tuple[str, str], _RunState] = {}
        self.said: dict[tuple[str, str], _Said] = {}
        self.closed: set[tuple[str, str]] = set()
        self.problems_said: set[Problem] = set()
        self.polls = 0

    def poll(self) -> list[Change | Problem]:
        """One pass: find sources, read what is new, re-diagnose the runs that grew, close
        runs that went quiet. Returns the changes, and problems not reported before."""
        now = self.clock()
        self.polls += 1
        sources, problems = find_sources(self.paths, self.format_in)
        events: list[Change | Problem] = [p for p in problems if self._first_time(p)]
        grown: list[_RunState] = []
        for source in sources:
            identity = (source.reader, source.location)
            follower = self.followers.get(identity)
            if follower is None:
                follower = self.followers[identity] = self._follower(source)
            try:
                runs = follower.read(now)
            except ReadError as error:
                problem = Problem(error.source, error.problem)
                events.extend([problem] if self._first_time(problem) else [])
                continue
            except Exception as error:  # a reader bug on a strange file must not end the watch
                reason = f"could not be read ({type(error).__name__}: {error})"
                problem = Problem(source.location, reason)
                events.extend([problem] if self._first_time(problem) else [])
                continue
            if runs is not None:
                grown.extend(self._take(identity, follower, runs, now))
        for state in dict.fromkeys(grown):
            events.extend(self._judge(state, now))
        events.extend(self._close_quiet(now))
        return events

    def _first_time(self, problem: Problem) -> bool:
        new = problem not in self.problems_said
        self.problems_said.add(problem)
        return new

    def _follower(self, source: Source) -> _Follower:
        location = Path(source.location)
        local = not (is_uri(source.location) and not location.exists())
        if source.reader == "tensorboard" and local:
            return _EventFiles(source)
        if source.reader == "csv" and local:
            return _CsvLines(source)
        if source.reader == "mlflow" and local and location.is_dir():
            return _MetricFiles(source, self.options)
        if source.reader == "mlflow":  # a SQLite store or a tracking server
            return _Rereader(source, self.options, max(self.interval, self.store_interval), False)
        if source.reader == "hf-trainer":
            from lrdoctor.readers.hf_trainer import STATE_FILE

            return _Rereader(source, self.options, 0.0, local, frozenset({STATE_FILE}))
        return _Rereader(source, self.options, 0.0, signed=local)

    def _take(
        self, identity: tuple[str, str], follower: _Follower, runs: list[Run], now: float
    ) -> list[_RunState]:
        """Add what was read to each run's state; the states that got new points."""
        grown, started = [], set()
        for run in runs:
            key = (identity[1], run.name)  # a Trainer run's source moves to each checkpoint
            if key in self.closed:
                if not follower.whole:  # written again: read the whole source anew
                    self.followers.pop(identity, None)
                    continue
                self.closed.discard(key)
            if (follower.whole and key not in started) or key not in self.runs:
                self.runs[key] = _RunState(key, run.name, run.source, run.format)
                started.add(key)
            state = self.runs[key]
            if state.add(run):
                state.last_new_point = now
                grown.append(state)
        return grown

    def _judge(self, state: _RunState, now: float, closing: bool = False) -> list[Change]:
        run = state.run()
        diagnosis = (self.doctor if closing else self.open_doctor).diagnose(run)
        used = set(diagnosis.signals.values())
        for tag, kept in state.curves.items():
            if tag not in used:
                kept.limit(SIDE_POINTS, SIDE_PINNED)
        said = self.said.setdefault(state.key, _Said())
        findings = {finding.code: finding for finding in diagnosis.findings}
        old = said.verdict
        base = {
            "time": now,
            "run": state.name,
            "source": state.source,
            "format": state.format,
            "step": _last_step(run, diagnosis),
            "old": old,
            "new": diagnosis.verdict,
            "diagnosis": diagnosis,
        }
        changes = []
        top = diagnosis.findings[0] if diagnosis.findings else None
        if diagnosis.verdict != old:
            if not (diagnosis.verdict in QUIET_VERDICTS and old in QUIET_VERDICTS | {None}):
                changes.append(Change(CLOSED if closing else VERDICT, finding=top, **base))
        elif closing:
            if set(findings) != set(said.findings):
                changes.append(Change(CLOSED, finding=top, **base))
        else:
            changes += [
                Change(FINDING, finding=finding, **base)
                for code, finding in findings.items()
                if code not in said.findings
            ]
            changes += [
                Change(FINDING_GONE, finding=finding, **base)
                for code, finding in said.findings.items()
                if code not in findings
            ]
        said.verdict, said.findings = diagnosis.verdict, findings
        return changes

    def _close_quiet(self, now: float) -> list[Change]:
        """Judge each run quiet for `quiet_after` seconds as finished, then drop it."""
        changes = []
        for key, state in list(self.runs.items()):
            if now - state.last_new_point < self.quiet_after:
                continue
            if state.curves:
                changes.extend(self._judge(state, now, closing=True))
            del self.runs[key]
            self.closed.add(key)
        return changes

    @property
    def kept_points(self) -> int:
        """Points held over every open run: what bounds the watch's memory."""
        return sum(state.kept_points for state in self.runs.values())

    @property
    def kept_bytes(self) -> int:
        """Bytes of the arrays that hold those points."""
        return sum(kept.nbytes for state in self.runs.values() for kept in state.curves.values())

    def verdict(self, name: str) -> str | None:
        """The verdict last found for the run named `name` (None before its first)."""
        return next((said.verdict for key, said in self.said.items() if key[1] == name), None)

    def state(self, name: str) -> Run | None:
        """The run named `name` as the watch holds it (its kept points), or None."""
        for state in self.runs.values():
            if state.name == name:
                return state.run()
        return None


def _last_step(run: Run, diagnosis: Diagnosis) -> int | None:
    """The last step read of the run's training loss (of any curve when it has none)."""
    tag = diagnosis.signals.get("train_loss")
    curves = [run.curves[tag]] if tag in run.curves else list(run.curves.values())
    steps = [int(curve.steps[-1]) for curve in curves if len(curve)]
    return max(steps, default=None)


def reaches(change: Change, severity: str | None) -> bool:
    """Whether the run, as `change` saw it, has a finding at or above `severity`."""
    if severity is None or change.diagnosis is None:
        return False
    return fails(change.diagnosis.findings, severity)


def watch(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    config: Config | None = None,
    options: ReadOptions | None = None,
    format_in: str | None = None,
    *,
    interval: float = DEFAULT_INTERVAL,
    once: bool = False,
    until: str | None = None,
    quiet_after: float = QUIET_AFTER,
    store_interval: float = STORE_INTERVAL,
    on_poll: Callable[[PollSummary], None] | None = None,
) -> Iterator[Change | Problem]:
    """Follow the runs under `paths` and yield each verdict or finding change as it is seen,
    and each problem (a source that cannot be read, a path with no runs yet) once.

    Polls every `interval` seconds until the caller stops iterating; `once` makes a single
    pass; `until` (a severity) ends the watch after the poll in which some run first has a
    finding at or above it (see `reaches`). `on_poll` sees a `PollSummary` after each poll.
    Rules that cannot be loaded raise `EngineError` before anything is read.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    watcher = Watcher(
        paths,
        config,
        options,
        format_in,
        interval=interval,
        quiet_after=quiet_after,
        store_interval=store_interval,
        finished=once,
    )
    while True:
        started = time.monotonic()
        events = watcher.poll()
        yield from events
        if on_poll is not None:
            seconds = time.monotonic() - started
            on_poll(PollSummary(watcher.polls, len(watcher.runs), len(watcher.followers), seconds))
        stop = any(isinstance(event, Change) and reaches(event, until) for event in events)
        if once or stop:
            return
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


__all__ = ["Change", "KeptCurve", "PollSummary", "Watcher", "reaches", "watch"]
