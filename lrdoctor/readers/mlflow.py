"""MLflow tracking stores: `mlruns/` folders, SQLite files and tracking servers.

Folder stores are parsed directly instead of through `MlflowClient`: MLflow 3 refuses them
unless MLFLOW_ALLOW_FILE_STORE is set, its FileStore creates `.trash/` inside the store (a
write into the user's logs), and it rejects runs without an `artifacts/` folder, which stores
committed to git lack (git keeps no empty folders). The parser reads the files the FileStore
reads, in the same way; a test checks that both return the same data.

SQLite stores are read with SQL, read-only, when their schema revision is one whose tables
were checked against the client (`DIRECT_SQL_SCHEMAS`): the client makes one query and one
object per point, about 35,000 points a second. Other revisions, and reads with a search
filter (MLflow's own search code decides those), go through `MlflowClient`, as do tracking
servers. A SQLite file is opened read-only. Two kinds are read from a copy in a temporary
folder instead: a store whose schema predates the installed MLflow (the client would migrate
the file in place), and a store in WAL mode, as `mlflow migrate-filestore` leaves it (even a
read-only connection creates `-wal` and `-shm` files next to it).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import sqlite3
import ssl
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

from lrdoctor.model import Run
from lrdoctor.readers.base import (
    Claim,
    ReadError,
    ReadOptions,
    Skipped,
    fits_int64,
    ordered_curve,
    relative_name,
)

FORMAT = "mlflow"
SQLITE_HEADER = b"SQLite format 3\x00"
# Header byte 18, the file format write version: 1 for a rollback journal, 2 for WAL.
SQLITE_WAL_OFFSET = 18
MLFLOW_TABLES = frozenset({"experiments", "runs", "metrics", "params"})
# Experiment sub-folders holding something other than runs (FileStore.RESERVED_EXPERIMENT_FOLDERS).
NOT_RUN_FOLDERS = frozenset({"tags", "datasets", "traces", "models"})
# FileStore writes a run's status as its RunStatus enum number.
RUN_STATUS_NAMES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
# SQL has no infinity: MLflow's SQL store saves +/-inf as the largest float, so that value
# read back from a client means infinity.
SQL_INFINITY = sys.float_info.max
# MLflow's own rule for run ids; anything else cannot name a run (and must not reach a path).
RUN_ID_PATTERN = re.compile(r"[a-zA-Z0-9][\w\-]{0,255}")
# Runs per search request; a module constant so a test can force several pages.
SEARCH_PAGE_SIZE = 1000
# Metric histories fetched from a tracking server at once (one request each).
SERVER_FETCHERS = 4
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Alembic revisions of MLflow's SQL schema (alembic_version) read with SQL instead of the
# client: the twenty newest up to the head of MLflow 3.17, and the three MLflow 3.18 added
# (skill registry, issue and MCP tables: none the reader reads). Each was checked by writing a
# store with that release's client, downgrading it to the revision and comparing both ways of
# reading it (the same runs in the same order, params, tags and points; the tests in
# tests/test_mlflow_reader.py). MLflow cannot downgrade a store below the oldest of them, so
# older stores go through the client.
DIRECT_SQL_SCHEMAS = frozenset(
    """
    dc11669786a5 75868b020152 b7e2c1a4d9f3 17e22815139b 1971f2d9a75b 6f8d9c3b2a1e
    c3d9e7f1a2b4 c1d2e3f4a5b6 a8b9c0d1e2f3 b7e4c1a90f23 89d3d66ed43f da6fb0208061
    7d34483879f0 ae8bbe7743c9 a5b4c3d2e1f0 c3d6457b6d8a 76601a5f987d e1f2a3b4c5d6
    1b5f0d9ad7c1 c8d9e0f1a2b3 e7d1f4b2a9c6 8b6ad64cb8f5 f4a9b2c7d1e6
    """.split()
)
# MLflow 3's workspaces: the client refuses a store with experiments outside the default one.
DEFAULT_WORKSPACE = "default"
# The columns of a metric file line, in order, named as in MetricHistory.
METRIC_LINE = {"timestamps_ms": np.int64, "values": np.float64, "steps": np.int64}


class MetricHistory(NamedTuple):
    """Every logged point of one metric, in write order (re-logged steps included)."""

    steps: np.ndarray
    values: np.ndarray
    timestamps_ms: np.ndarray


ReadMetric = Callable[[Path], tuple[MetricHistory, Skipped]]
"""How a folder store's metric file is read: all of it, or the lines added since a read."""


@dataclass
class RunRecord:
    """One run as its store holds it, whichever way it was read."""

    run_id: str
    run_name: str
    experiment_id: str
    experiment_name: str
    status: str
    user_id: str
    start_time_ms: int | None
    end_time_ms: int | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, MetricHistory]
    warnings: list[str] = field(default_factory=list)

    def to_run(self, store: str, store_warnings: list[str]) -> Run:
        metadata = {
            **self.tags,
            "experiment_id": self.experiment_id,
            "experiment_name": self.experiment_name,
            "run_id": self.run_id,
            "status": self.status,
        }
        if self.start_time_ms is not None:
            metadata["start_time"] = _iso_time(self.start_time_ms)
        if self.end_time_ms is not None:
            metadata["end_time"] = _iso_time(self.end_time_ms)
        curves = {
            key: ordered_curve(key, history.steps, history.values, history.timestamps_ms / 1000)
            for key, history in sorted(self.metrics.items())
        }
        return Run(
            name=self.run_name or self.tags.get("mlflow.runName") or self.run_id,
            source=f"{store}#{self.run_id}",
            format=FORMAT,
            curves=curves,
            params=self.params,
            metadata=metadata,
            warnings=(*store_warnings, *self.warnings),
        )


class MlflowReader:
    """MLflow folder stores, their run folders, and SQLite stores recognised by their tables."""

    name = "mlflow"

    def claim(self, directory: Path, dirnames: list[str], filenames: list[str]) -> list[Claim]:
        claims = []
        if is_folder_store(directory, dirnames) or is_run_folder(dirnames, filenames):
            claims.append(Claim(directory, owned_dirs=tuple(dirnames)))
        claims.extend(
            Claim(directory / filename, owned_files=(filename,))
            for filename in filenames
            if is_mlflow_sqlite(directory / filename)
        )
        return claims

    def can_read(self, path: Path) -> bool:
        if path.is_file():
            return is_mlflow_sqlite(path)
        if not path.is_dir():
            return False
        dirnames, filenames = _folder_entries(path)
        return is_folder_store(path, dirnames) or is_run_folder(dirnames, filenames)

    def read(self, path: Path, root: Path, options: ReadOptions) -> list[Run]:
        if path.is_file():
            return _read_sqlite_store(path, relative_name(path, root), options)
        return read_folder(path, root, options)


def read_folder(
    path: Path, root: Path, options: ReadOptions, read_metric: ReadMetric | None = None
) -> list[Run]:
    """The runs of a folder store or run folder, each metric file read by `read_metric`
    (all of it by default; `lrdoctor.watch` reads the lines added since its last read, and
    gets runs holding the new points)."""
    store, run_folder = _locate_folder_store(path, relative_name(path, root))
    return _read_folder_store(store, relative_name(store, root), options, run_folder, read_metric)


READER = MlflowReader()


def read_tracking_uri(uri: str, options: ReadOptions) -> list[Run]:
    """Read the runs behind an MLflow tracking URI: `sqlite:///`, `http(s)://` or `file:`."""
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme in ("http", "https"):
        return _read_tracking_server(uri, options)
    if uri.startswith("sqlite:///"):
        path = Path(urllib.parse.unquote(uri.removeprefix("sqlite:///")))
        if not path.is_file():
            raise ReadError(uri, "no such SQLite file")
        return _read_sqlite_store(path, uri, options)
    if scheme == "file":
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(uri).path))
        if not path.is_dir():
            raise ReadError(uri, "no such folder")
        store, run_folder = _locate_folder_store(path, uri)
        return _read_folder_store(store, uri, options, run_folder)
    raise ReadError(uri, "not a tracking URI lrdoctor reads (sqlite:///, http(s):// or file:)")


def is_folder_store(directory: Path, dirnames: list[str]) -> bool:
    """Whether `directory` is an `mlruns/` store: numbered experiment folders with meta.yaml."""
    if directory.name == "mlruns" and ".trash" in dirnames:
        return True
    return any(name.isdigit() and (directory / name / "meta.yaml").is_file() for name in dirnames)


def is_run_folder(dirnames: list[str], filenames: list[str]) -> bool:
    """Whether a folder is one run of a folder store (found when walking an experiment folder)."""
    return "meta.yaml" in filenames and "metrics" in dirnames and "params" in dirnames


def is_mlflow_sqlite(path: Path) -> bool:
    """Whether `path` is a SQLite database with MLflow's tables, whatever its name."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return False
        with contextlib.closing(_connect_read_only(path, immutable=_uses_wal(path))) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {name for (name,) in rows}
    except (OSError, sqlite3.Error, UnicodeDecodeError):  # a damaged schema's error message
        return False
    return MLFLOW_TABLES.issubset(tables)


# Folder stores -------------------------------------------------------------------------------


def _folder_entries(path: Path) -> tuple[list[str], list[str]]:
    """Names of the sub-folders and of the files in `path`."""
    dirnames, filenames = [], []
    for entry in path.iterdir():
        (dirnames if entry.is_dir() else filenames).append(entry.name)
    return dirnames, filenames


def _locate_folder_store(path: Path, label: str) -> tuple[Path, Path | None]:
    """The store holding `path`, and the run folder when `path` is a single run."""
    dirnames, filenames = _folder_entries(path)
    if is_folder_store(path, dirnames):
        return path, None
    if is_run_folder(dirnames, filenames):
        return path.parent.parent, path
    raise ReadError(label, "not an MLflow store (mlruns/) or run folder")


def _read_folder_store(
    store: Path,
    label: str,
    options: ReadOptions,
    run_folder: Path | None = None,
    read_metric: ReadMetric | None = None,
) -> list[Run]:
    if run_folder is not None:
        if options.run_id not in (None, run_folder.name):
            return []
        options = replace(options, run_id=run_folder.name)
    if not _selects_a_valid_run_id(options):
        return []
    store_warnings: list[str] = []
    unreadable: list[str] = []
    records: list[RunRecord] = []
    without_meta: list[Path] = []
    for experiment_folder, experiment in _folder_experiments(store, store_warnings, unreadable):
        experiment_name = str(experiment.get("name", ""))
        if options.experiment is not None and experiment_name != options.experiment:
            continue
        for candidate in _folder_runs(experiment_folder, options.run_id):
            if not (candidate / "meta.yaml").is_file():
                without_meta.append(candidate)
                continue
            try:
                record = _parse_folder_run(candidate, experiment_name, read_metric)
            except (OSError, yaml.YAMLError, ValueError) as error:
                unreadable.append(f"skipped run {_store_path(candidate, store)}: {error}")
                continue
            if record is not None:
                records.append(record)
    if not records and not without_meta and unreadable:
        raise ReadError(label, "; ".join(unreadable))
    store_warnings.extend(unreadable)
    if options.filter_string:
        records = _filter_records(records, options.filter_string, label)
    runs = [record.to_run(label, store_warnings) for record in records]
    return runs + [
        _run_without_meta(folder, store, label, store_warnings) for folder in without_meta
    ]


def _run_without_meta(folder: Path, store: Path, label: str, store_warnings: list[str]) -> Run:
    """A run folder without meta.yaml, as a run without points: every report then lists it
    as unreadable with this reason (FileStore drops it with a log line). Its metrics are not
    read, as meta.yaml alone says whether the run was deleted."""
    return Run(
        name=folder.name,
        source=f"{label}#{folder.name}",
        format=FORMAT,
        metadata={"experiment_id": folder.parent.name, "run_id": folder.name},
        warnings=(*store_warnings, f"{_store_path(folder, store)}/: no meta.yaml, run not read"),
    )


def _folder_experiments(
    store: Path, store_warnings: list[str], unreadable: list[str]
) -> Iterator[tuple[Path, dict]]:
    """Active experiments of a store (`.trash/` holds deleted ones), noting what was skipped."""
    for folder in sorted(store.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        meta_file = folder / "meta.yaml"
        if not meta_file.is_file():
            if _holds_runs(folder):
                store_warnings.append(
                    f"skipped {folder.name}/: a separate MLflow store nested in this one; "
                    "give its path to read it"
                )
            continue
        try:
            meta = _load_yaml(meta_file)
        except (OSError, yaml.YAMLError, ValueError) as error:
            unreadable.append(f"skipped experiment {folder.name}/: {error}")
            continue
        if str(meta.get("experiment_id")) != folder.name:
            store_warnings.append(
                f"skipped {folder.name}/: its meta.yaml names experiment "
                f"{meta.get('experiment_id')!r}, not {folder.name!r}"
            )
            continue
        if meta.get("lifecycle_stage", "active") == "active":
            yield folder, meta


def _holds_runs(folder: Path) -> bool:
    """Whether `folder` is itself a folder store with runs (one nested in another store)."""
    if not is_folder_store(folder, _folder_entries(folder)[0]):
        return False
    experiments = [child for child in folder.iterdir() if (child / "meta.yaml").is_file()]
    return any(_folder_runs(experiment, None) for experiment in experiments)


def _folder_runs(experiment_folder: Path, run_id: str | None) -> list[Path]:
    """Run folders of an experiment: every sub-folder but reserved and hidden ones, those
    without meta.yaml included so that they are reported, not dropped."""
    if run_id is not None:
        candidates = [experiment_folder / run_id]
    else:
        candidates = sorted(experiment_folder.iterdir())
    return [
        folder
        for folder in candidates
        if folder.name not in NOT_RUN_FOLDERS
        and not folder.name.startswith(".")
        and folder.is_dir()
    ]


def _parse_folder_run(
    folder: Path, experiment_name: str, read_metric: ReadMetric | None = None
) -> RunRecord | None:
    """The run stored in `folder`, or None when the run was deleted."""
    read_metric = read_metric or _read_metric_file
    meta = _load_yaml(folder / "meta.yaml")
    if meta.get("lifecycle_stage", "active") != "active":
        return None
    status = meta.get("status", 1)
    warnings: list[str] = []
    metrics: dict[str, MetricHistory] = {}
    store = folder.parent.parent
    for key, path in _value_files(folder / "metrics"):
        history, skipped = read_metric(path)
        warnings.extend(skipped.warnings(_store_path(path, store)))
        _keep_history(metrics, warnings, key, history)
    return RunRecord(
        run_id=folder.name,
        run_name=str(meta.get("run_name") or ""),
        experiment_id=str(meta.get("experiment_id", folder.parent.name)),
        experiment_name=experiment_name,
        status=RUN_STATUS_NAMES.get(status, str(status)),
        user_id=str(meta.get("user_id") or ""),
        start_time_ms=_milliseconds(meta.get("start_time")),
        end_time_ms=_milliseconds(meta.get("end_time")),
        params={key: _read_text(path) for key, path in _value_files(folder / "params")},
        tags={key: _read_text(path) for key, path in _value_files(folder / "tags")},
        metrics=metrics,
        warnings=warnings,
    )


def _value_files(folder: Path) -> list[tuple[str, Path]]:
    """(key, file) for each file under `folder`; keys with `/` are nested folders."""
    if not folder.is_dir():
        return []
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return [(path.relative_to(folder).as_posix(), path) for path in files]


def _read_metric_file(path: Path) -> tuple[MetricHistory, Skipped]:
    """Points of a metric file, and the lines skipped as malformed or out of range."""
    return parse_metric_text(_read_text(path))


def parse_metric_text(text: str) -> tuple[MetricHistory, Skipped]:
    """Points of the text of a metric file, and the lines skipped as malformed or out of range.

    Lines are `<timestamp_ms> <value> [<step> [<dataset name> <dataset digest>]]`, as
    FileStore writes them; a missing step is step 0, as FileStore reads it. The usual file,
    every line with three fields, is parsed by numpy in one go.
    """
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if lines:
        try:
            points = np.loadtxt(
                [line for _, line in lines],
                dtype=list(METRIC_LINE.items()),
                comments=None,
                ndmin=1,
            )
        except ValueError:
            pass  # Some line is not three numbers that fit int64 where needed: line by line.
        else:
            history = MetricHistory(points["steps"], points["values"], points["timestamps_ms"])
            return history, Skipped("line", "lines")
    return _parse_metric_lines(lines)


def _parse_metric_lines(lines: list[tuple[int, str]]) -> tuple[MetricHistory, Skipped]:
    """Line by line, for files with short, dataset-tagged, malformed or out-of-range lines.

    A step or timestamp outside int64 is a damaged line, not a number to wrap around; it
    costs that point only.
    """
    points: dict[str, list] = {name: [] for name in METRIC_LINE}
    skipped = Skipped("line", "lines")
    for number, line in lines:
        fields = line.split()
        if len(fields) not in (2, 3, 5):
            skipped.add("malformed", first=f"first at line {number}")
            continue
        try:
            point = {
                "timestamps_ms": int(fields[0]),
                "values": float(fields[1]),
                "steps": int(fields[2]) if len(fields) > 2 else 0,
            }
        except ValueError:
            skipped.add("malformed", first=f"first at line {number}")
            continue
        problem = _point_problem(point["steps"], point["timestamps_ms"])
        if problem:
            skipped.add(problem, first=f"first at line {number}")
            continue
        for name, value in point.items():
            points[name].append(value)
    columns = {name: np.array(points[name], dtype=dtype) for name, dtype in METRIC_LINE.items()}
    return MetricHistory(**columns), skipped


def _point_problem(step: float, timestamp_ms: float) -> str:
    """Why a point cannot be kept as int64 step and timestamp ("" when it can)."""
    if not fits_int64(step):
        return "step out of range"
    if not fits_int64(timestamp_ms):
        return "timestamp out of range"
    return ""


def _keep_history(
    metrics: dict[str, MetricHistory], warnings: list[str], key: str, history: MetricHistory
) -> None:
    """Keep a metric with points; one whose every line was lost is named instead."""
    if history.steps.size:
        metrics[key] = history
    else:
        warnings.append(f"metric {key!r}: no points")


def _filter_records(records: list[RunRecord], filter_string: str, label: str) -> list[RunRecord]:
    """Runs matching an MLflow search filter, evaluated by MLflow's own search code."""
    from mlflow.entities import Metric, Param, RunData, RunInfo, RunTag
    from mlflow.entities import Run as MlflowRun
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    candidates = []
    for record in records:
        info = RunInfo(
            record.run_id,
            record.experiment_id,
            record.user_id,
            record.status,
            record.start_time_ms,
            record.end_time_ms,
            "active",
            run_name=record.run_name or record.tags.get("mlflow.runName"),
        )
        latest = [Metric(key, *_latest_point(history)) for key, history in record.metrics.items()]
        data = RunData(
            metrics=latest,
            params=[Param(key, value) for key, value in record.params.items()],
            tags=[RunTag(key, value) for key, value in record.tags.items()],
        )
        candidates.append(MlflowRun(info, data))
    try:
        matching = {run.info.run_id for run in SearchUtils.filter(candidates, filter_string)}
    except MlflowException as error:
        problem = f"invalid filter string {filter_string!r}: {_first_line(error.message)}"
        raise ReadError(label, problem) from error
    return [record for record in records if record.run_id in matching]


def _latest_point(history: MetricHistory) -> tuple[float, int, int]:
    """(value, timestamp, step) of the point MLflow reports as the metric's latest value."""
    step, timestamp, value = max(
        zip(
            history.steps.tolist(),
            history.timestamps_ms.tolist(),
            history.values.tolist(),
            strict=True,
        )
    )
    return value, timestamp, step


def _load_yaml(path: Path) -> dict:
    content = yaml.load(_read_text(path), Loader=YAML_LOADER)
    if not isinstance(content, dict):
        raise ValueError(f"{path.name} is not a YAML mapping")
    return content


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _selects_a_valid_run_id(options: ReadOptions) -> bool:
    return options.run_id is None or RUN_ID_PATTERN.fullmatch(options.run_id) is not None


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _store_path(path: Path, store: Path) -> str:
    return path.relative_to(store).as_posix()


def _milliseconds(value: object) -> int | None:
    """A meta.yaml time (ms since the epoch), or None when it is missing or not a number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _iso_time(milliseconds: int) -> str:
    try:
        moment = datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return str(milliseconds)
    return moment.isoformat(timespec="milliseconds")


# SQLite stores --------------------------------------------------------------------------------


def _read_sqlite_store(path: Path, label: str, options: ReadOptions) -> list[Run]:
    if not is_mlflow_sqlite(path):
        tables = ", ".join(sorted(MLFLOW_TABLES))
        raise ReadError(label, f"not an MLflow SQLite store (it lacks the tables {tables})")
    if not options.filter_string:
        runs = _read_with_sql(path, label, options)
        if runs is not None:
            return runs
    with _client_errors(label), _sqlite_client(path) as client:
        return _read_with_client(client, label, options)


# SQLite stores read with SQL -------------------------------------------------------------------

_ACTIVE_RUNS = """
    SELECT run_uuid FROM runs WHERE lifecycle_stage = 'active' AND experiment_id IN ({experiments})
    {run_condition}
"""


def _read_with_sql(path: Path, label: str, options: ReadOptions) -> list[Run] | None:
    """What the client returns for the store at `path`, read with SQL in a few queries; None
    when the client has to read it (a schema revision not checked, another workspace, an
    error)."""
    try:
        with _sqlite_connection(path) as connection:
            if not _sql_readable(connection):
                return None
            records = _sql_records(connection, options)
    except sqlite3.Error:
        return None
    return [record.to_run(label, []) for record in records]


@contextlib.contextmanager
def _sqlite_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the store, or to a temporary copy of a store in WAL mode."""
    if not _uses_wal(path):
        with contextlib.closing(_connect_read_only(path)) as connection:
            yield connection
        return
    with tempfile.TemporaryDirectory(prefix="lrdoctor-", ignore_cleanup_errors=True) as folder:
        copy = Path(folder) / "store.db"
        _copy_sqlite(path, copy)
        with contextlib.closing(sqlite3.connect(copy)) as connection:
            yield connection


def _sql_readable(connection: sqlite3.Connection) -> bool:
    """Whether the schema revision was checked and every experiment is in the default
    workspace (where there are workspaces)."""
    revisions = {
        revision for (revision,) in connection.execute("SELECT version_num FROM alembic_version")
    }
    if len(revisions) != 1 or not revisions <= DIRECT_SQL_SCHEMAS:
        return False
    columns = {row[1] for row in connection.execute("PRAGMA table_info(experiments)")}
    if "workspace" not in columns:
        return True
    other = connection.execute(
        "SELECT 1 FROM experiments WHERE workspace IS NOT NULL AND workspace != ? LIMIT 1",
        (DEFAULT_WORKSPACE,),
    )
    return other.fetchone() is None


def _sql_records(connection: sqlite3.Connection, options: ReadOptions) -> list[RunRecord]:
    """The active runs of the active experiments, as `_read_with_client` selects and orders
    them (newest start first, then by run id)."""
    query = "SELECT experiment_id, name FROM experiments WHERE lifecycle_stage = 'active'"
    arguments: tuple = ()
    if options.experiment is not None:
        query += " AND name = ?"
        arguments = (options.experiment,)
    experiment_names = {str(key): name for key, name in connection.execute(query, arguments)}
    if not experiment_names or not _selects_a_valid_run_id(options):
        return []
    placeholders = ", ".join("?" * len(experiment_names))
    selection = _ACTIVE_RUNS.format(
        experiments=placeholders,
        run_condition="AND run_uuid = ?" if options.run_id is not None else "",
    )
    selected = (*experiment_names, *((options.run_id,) if options.run_id is not None else ()))
    params = _sql_key_values(connection, "params", selection, selected)
    tags = _sql_key_values(connection, "tags", selection, selected)
    metric_keys: dict[str, list[str]] = {}
    for run_id, key in connection.execute(
        f"SELECT run_uuid, key FROM latest_metrics WHERE run_uuid IN ({selection})", selected
    ):
        metric_keys.setdefault(run_id, []).append(key)
    rows = connection.execute(
        "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time FROM runs"
        f" WHERE run_uuid IN ({selection}) ORDER BY start_time DESC, run_uuid",
        selected,
    ).fetchall()
    records = []
    for run_id, name, experiment_id, user_id, status, start_time, end_time in rows:
        run_tags = tags.get(run_id, {})
        metrics: dict[str, MetricHistory] = {}
        warnings: list[str] = []
        for key in metric_keys.get(run_id, []):
            history, skipped = _sql_history(connection, run_id, key)
            warnings.extend(skipped.warnings(f"metric {key!r}"))
            _keep_history(metrics, warnings, key, history)
        records.append(
            RunRecord(
                run_id=run_id,
                run_name=name or run_tags.get("mlflow.runName") or "",
                experiment_id=str(experiment_id),
                experiment_name=experiment_names[str(experiment_id)],
                status=status,
                user_id=user_id or "",
                start_time_ms=start_time,
                end_time_ms=end_time,
                params=params.get(run_id, {}),
                tags=run_tags,
                metrics=metrics,
                warnings=warnings,
            )
        )
    return records


def _sql_key_values(
    connection: sqlite3.Connection, table: str, selection: str, selected: tuple
) -> dict[str, dict[str, str]]:
    """{run id: {key: value}} of the params or tags of the selected runs."""
    by_run: dict[str, dict[str, str]] = {}
    for run_id, key, value in connection.execute(
        f"SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({selection})", selected
    ):
        by_run.setdefault(run_id, {})[key] = value
    return by_run


def _sql_history(
    connection: sqlite3.Connection, run_id: str, key: str
) -> tuple[MetricHistory, Skipped]:
    """A metric's points in the client's order (timestamp, step, value), NaN where MLflow
    flagged one, without those whose step or timestamp does not fit int64."""
    # `+key` keeps SQLite on the run_uuid index instead of the primary key, which starts with
    # the key (every run's rows of it); is_nan last, as in the primary key the client's own
    # query walks.
    rows = connection.execute(
        "SELECT timestamp, step, value, is_nan FROM metrics WHERE run_uuid = ? AND +key = ?"
        " ORDER BY timestamp, step, value, is_nan",
        (run_id, key),
    ).fetchall()
    timestamps, steps, values, is_nan = zip(*rows, strict=True) if rows else ((),) * 4
    step_array, timestamp_array = np.array(steps), np.array(timestamps)
    if not (step_array.dtype == timestamp_array.dtype == np.int64):
        # A REAL or NULL step or timestamp: a damaged row, checked point by point.
        return _checked_history(
            (step, timestamp, math.nan if flagged else value)
            for timestamp, step, value, flagged in rows
        )
    value_array = np.array(values, dtype=np.float64)
    value_array[np.array(is_nan, dtype=bool)] = np.nan
    history = MetricHistory(step_array, _sql_infinities(value_array), timestamp_array)
    return history, Skipped("point", "points")


# SQLite stores and tracking servers, through MlflowClient --------------------------------------


@contextlib.contextmanager
def _sqlite_client(path: Path) -> Iterator:
    """A client that cannot write to the store at `path`.

    The store is opened read-only. The client refuses a read-only store whose schema is older
    than the installed MLflow (it needs to migrate it); then, and for a store in WAL mode, it
    reads a copy in a temporary folder.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    from sqlalchemy.exc import SQLAlchemyError

    if not _uses_wal(path):
        try:
            with _quiet_mlflow_logs():
                client = MlflowClient(_read_only_sqlite_uri(path))
        except (MlflowException, SQLAlchemyError):
            client = None
        if client is not None:
            yield client
            return
    with tempfile.TemporaryDirectory(prefix="lrdoctor-", ignore_cleanup_errors=True) as folder:
        copy = Path(folder) / "store.db"
        _copy_sqlite(path, copy)
        with _quiet_mlflow_logs():
            client = MlflowClient(f"sqlite:///{copy.as_posix()}")
        yield client


def _uses_wal(path: Path) -> bool:
    with path.open("rb") as handle:
        header = handle.read(SQLITE_WAL_OFFSET + 1)
    return len(header) > SQLITE_WAL_OFFSET and header[SQLITE_WAL_OFFSET] == 2


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a store without writing next to it.

    A rollback-journal store is copied through SQLite's backup API, under a read lock, so the
    copy is consistent. A WAL store cannot be opened without creating files beside it, so its
    file and its write-ahead log are copied as they are; SQLite replays the log in the copy.
    """
    if _uses_wal(source):
        shutil.copyfile(source, target)
        write_ahead_log = source.with_name(f"{source.name}-wal")
        if write_ahead_log.is_file():
            shutil.copyfile(write_ahead_log, target.with_name(f"{target.name}-wal"))
        return
    reader = contextlib.closing(_connect_read_only(source))
    writer = contextlib.closing(sqlite3.connect(target))
    with reader as source_connection, writer as target_connection:
        source_connection.backup(target_connection)


def _connect_read_only(path: Path, immutable: bool = False) -> sqlite3.Connection:
    """A read-only connection; `immutable` also skips locks and the WAL, creating no file."""
    options = "mode=ro&immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True)


def _read_only_sqlite_uri(path: Path) -> str:
    """A SQLAlchemy URL opening `path` read-only through a SQLite `file:` URI.

    SQLAlchemy unquotes the database part once, so the `file:` URI is quoted once more; a `#`
    or `?` in the path would otherwise cut `mode=ro` off. The `+pysqlite` driver name keeps
    MLflow from creating the "parent folder" of a `sqlite:///file:...` URL in the working
    directory.
    """
    file_uri = urllib.parse.quote(path.resolve().as_uri(), safe=":/")
    return f"sqlite+pysqlite:///{file_uri}?mode=ro&uri=true"


@contextlib.contextmanager
def _quiet_mlflow_logs() -> Iterator[None]:
    """Hide MLflow's INFO lines about creating and migrating tables (of a temporary copy)."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _read_tracking_server(uri: str, options: ReadOptions) -> list[Run]:
    _check_server_answers(uri, options.timeout)
    # The client retries for minutes by default; one bounded attempt per request instead.
    bounded = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(options.timeout))),
    }
    from mlflow.tracking import MlflowClient

    with _environment(bounded), _client_errors(uri):
        return _read_with_client(MlflowClient(uri), uri, options, SERVER_FETCHERS)


def _check_server_answers(uri: str, timeout: float) -> None:
    """Fail fast, naming the URI, when nothing answers there."""
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # Something answered; the client reports what it makes of the answer.
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, ssl.SSLError):
            return  # Something answered; the client applies the user's TLS settings.
        raise ReadError(uri, f"no MLflow tracking server answers there ({reason})") from error


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _client_errors(source: str) -> Iterator[None]:
    """Turn what the MLflow client raises into a ReadError naming the source."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except MlflowException as error:
        raise ReadError(source, _first_line(error.message)) from error
    except (SQLAlchemyError, RequestException, OSError, sqlite3.Error) as error:
        raise ReadError(source, f"{type(error).__name__}: {_first_line(str(error))}") from error


def _read_with_client(client, label: str, options: ReadOptions, fetchers: int = 1) -> list[Run]:
    """The runs the client selects, with every metric history, fetched by `fetchers` threads
    (a tracking server answers one request per history)."""
    from mlflow.entities import ViewType

    if options.experiment is not None:
        experiment = client.get_experiment_by_name(options.experiment)
        experiments = [experiment] if experiment and experiment.lifecycle_stage == "active" else []
    else:
        experiments = _all_pages(
            lambda token: client.search_experiments(
                view_type=ViewType.ACTIVE_ONLY, max_results=SEARCH_PAGE_SIZE, page_token=token
            )
        )
    if not experiments or not _selects_a_valid_run_id(options):
        return []
    conditions = [options.filter_string] if options.filter_string else []
    if options.run_id is not None:
        conditions.append(f"attributes.run_id = '{options.run_id}'")
    experiment_names = {experiment.experiment_id: experiment.name for experiment in experiments}
    runs = _all_pages(
        lambda token: client.search_runs(
            list(experiment_names),
            filter_string=" and ".join(conditions),
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=SEARCH_PAGE_SIZE,
            page_token=token,
        )
    )
    wanted = [(run.info.run_id, key) for run in runs for key in run.data.metrics]

    def fetch(run_and_key: tuple[str, str]) -> tuple[MetricHistory, Skipped]:
        # Converted at once, so the client's Metric objects of one history at a time live.
        return _client_history(client.get_metric_history(*run_and_key))

    if fetchers > 1:
        with ThreadPoolExecutor(fetchers) as pool:
            by_history = iter(list(pool.map(fetch, wanted)))
    else:
        by_history = map(fetch, wanted)
    records = []
    for run in runs:
        info, data = run.info, run.data
        metrics: dict[str, MetricHistory] = {}
        warnings: list[str] = []
        for key in data.metrics:
            history, skipped = next(by_history)
            warnings.extend(skipped.warnings(f"metric {key!r}"))
            _keep_history(metrics, warnings, key, history)
        records.append(
            RunRecord(
                run_id=info.run_id,
                run_name=info.run_name or "",
                experiment_id=info.experiment_id,
                experiment_name=experiment_names[info.experiment_id],
                status=info.status,
                user_id=info.user_id or "",
                start_time_ms=info.start_time,
                end_time_ms=info.end_time,
                params=dict(data.params),
                tags=dict(data.tags),
                metrics=metrics,
                warnings=warnings,
            )
        )
    return [record.to_run(label, []) for record in records]


def _all_pages(fetch_page: Callable) -> list:
    items, token = [], None
    while True:
        page = fetch_page(token)
        items.extend(page)
        token = page.token
        if not token:
            return items


def _client_history(metrics: list) -> tuple[MetricHistory, Skipped]:
    """A metric's points as the client returns them."""
    return _checked_history((metric.step, metric.timestamp, metric.value) for metric in metrics)


def _checked_history(points: Iterable[tuple]) -> tuple[MetricHistory, Skipped]:
    """(step, timestamp, value) points without those whose step or timestamp does not fit
    int64 (a damaged row of the store)."""
    skipped = Skipped("point", "points")
    kept = []
    for point in points:
        problem = _point_problem(point[0], point[1])
        if problem:
            skipped.add(problem)
        else:
            kept.append(point)
    steps, timestamps, values = zip(*kept, strict=True) if kept else ((), (), ())
    history = MetricHistory(
        steps=np.array(steps, dtype=np.int64),
        values=_sql_infinities(np.array(values, dtype=np.float64)),
        timestamps_ms=np.array(timestamps, dtype=np.int64),
    )
    return history, skipped


def _sql_infinities(values: np.ndarray) -> np.ndarray:
    """Infinities back from the largest floats MLflow's SQL store saves them as."""
    values[values == SQL_INFINITY] = np.inf
    values[values == -SQL_INFINITY] = -np.inf
    return values
