"""The MLflow reader, on stores written by the real MLflow client and a real `mlflow server`."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from mlflow_server import free_port, mlflow_server, mlflow_server_process  # noqa: F401

from lrdoctor.model import Curve, Run
from lrdoctor.readers import mlflow as mlflow_reader
from lrdoctor.readers.base import Claim, ReadError, ReadOptions
from lrdoctor.readers.mlflow import READER, read_tracking_uri

INF = math.inf
NAN = math.nan
BASE_MS = 1_700_000_000_000
RESUMED_MS = BASE_MS + 600_000
END_MS = BASE_MS + 900_000


@dataclass(frozen=True)
class LoggedRun:
    """What a test run logs: `metrics[key][i]` at step i, then `rewrites` after a resume."""

    experiment: str
    status: str
    params: dict[str, str]
    metrics: dict[str, list[float]]
    rewrites: dict[str, dict[int, float]] = field(default_factory=dict)

    def expected_values(self, key: str) -> list[float]:
        values = list(self.metrics[key])
        for step, value in self.rewrites.get(key, {}).items():
            values[step] = value
        return values

    def expected_wall_times(self, key: str) -> list[float]:
        rewritten = self.rewrites.get(key, {})
        return [
            ((RESUMED_MS if step in rewritten else BASE_MS) + 1000 * step) / 1000
            for step in range(len(self.metrics[key]))
        ]


RUNS = {
    "sgd-lr0.1": LoggedRun(
        "baseline",
        "FINISHED",
        {"lr": "0.1", "batch_size": "32", "optimizer": "sgd"},
        {"loss": [2.3, 1.7, 1.2, 0.9, 0.7], "val/accuracy": [0.1, 0.4, 0.6, 0.7, 0.75]},
    ),
    "sgd-lr1.0": LoggedRun(
        "baseline",
        "FAILED",
        {"lr": "1.0", "batch_size": "32", "optimizer": "sgd"},
        {"loss": [2.3, 9.5, INF, NAN, NAN], "val/accuracy": [0.1, 0.05, -INF, NAN, NAN]},
    ),
    "adam-lr0.001": LoggedRun(
        "sweep",
        "FINISHED",
        {"lr": "0.001", "batch_size": "64", "optimizer": "adam"},
        {"loss": [2.3, 2.1, 1.8, 1.6, 1.4]},
        rewrites={"loss": {3: 1.55, 4: 1.35}},
    ),
}


def log_training_runs(client: MlflowClient) -> dict[str, str]:
    """Log RUNS, a deleted run and a deleted experiment; the run ids by run name."""
    experiment_ids = {name: client.create_experiment(name) for name in ("baseline", "sweep")}
    run_ids = {}
    for name, logged in RUNS.items():
        run_id = client.create_run(
            experiment_ids[logged.experiment], start_time=BASE_MS, run_name=name
        ).info.run_id
        client.log_batch(
            run_id,
            metrics=[
                Metric(key, value, BASE_MS + 1000 * step, step)
                for key, values in logged.metrics.items()
                for step, value in enumerate(values)
            ],
            params=[Param(key, value) for key, value in logged.params.items()],
            tags=[RunTag("team", "vision")],
        )
        resumed = [
            Metric(key, value, RESUMED_MS + 1000 * step, step)
            for key, rewrites in logged.rewrites.items()
            for step, value in rewrites.items()
        ]
        if resumed:
            client.log_batch(run_id, metrics=resumed)
        client.set_terminated(run_id, status=logged.status, end_time=END_MS)
        run_ids[name] = run_id
    discarded = client.create_run(experiment_ids["baseline"], run_name="discarded").info.run_id
    client.log_metric(discarded, "loss", 0.1, step=0)
    client.delete_run(discarded)
    run_ids["discarded"] = discarded
    abandoned = client.create_experiment("abandoned")
    gone = client.create_run(abandoned, run_name="gone").info.run_id
    client.log_metric(gone, "loss", 0.1, step=0)
    client.delete_experiment(abandoned)
    return run_ids


@dataclass(frozen=True)
class Store:
    """A store holding RUNS, and how the reader is asked to read it."""

    label: str
    run_ids: dict[str, str]
    read: Callable[[ReadOptions], list[Run]]


@dataclass(frozen=True)
class WrittenStore:
    """A store file or folder holding RUNS, with the ids the client gave the runs."""

    path: Path
    run_ids: dict[str, str]


@pytest.fixture(scope="module", autouse=True)
def boot_server_early(mlflow_server_process):  # noqa: F811
    """Let the tracking server start while the tests of file stores run."""


@pytest.fixture(scope="module")
def folder_store(tmp_path_factory: pytest.TempPathFactory) -> WrittenStore:
    store = tmp_path_factory.mktemp("folder") / "mlruns"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        run_ids = log_training_runs(MlflowClient(store.as_uri()))
    return WrittenStore(store, run_ids)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> WrittenStore:
    # A name with characters that need quoting in the read-only SQLite URI.
    database = tmp_path_factory.mktemp("sqlite store #1 50%") / "tracking.db"
    run_ids = log_training_runs(MlflowClient(f"sqlite:///{database.as_posix()}"))
    return WrittenStore(database, run_ids)


@pytest.fixture(scope="module")
def server_run_ids(mlflow_server: str) -> dict[str, str]:  # noqa: F811
    """RUNS logged to the tracking server over HTTP."""
    return log_training_runs(MlflowClient(mlflow_server))


@pytest.fixture(scope="module", params=["folder", "sqlite", "server"])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "server":
        uri = request.getfixturevalue("mlflow_server")
        run_ids = request.getfixturevalue("server_run_ids")
        return Store(uri, run_ids, lambda options: read_tracking_uri(uri, options))
    written = request.getfixturevalue(f"{request.param}_store")
    path = written.path
    return Store(
        path.name, written.run_ids, lambda options: READER.read(path, path.parent, options)
    )


def by_name(runs: list[Run]) -> dict[str, Run]:
    named = {run.name: run for run in runs}
    assert len(named) == len(runs), "two runs share a name"
    return named


def snapshot(folder: Path) -> dict[str, tuple[int, str | None]]:
    """Modification time and content hash of everything under `folder` (and itself)."""
    state = {}
    for entry in [folder, *sorted(folder.rglob("*"))]:
        content = hashlib.sha256(entry.read_bytes()).hexdigest() if entry.is_file() else None
        state[entry.relative_to(folder).as_posix()] = (entry.stat().st_mtime_ns, content)
    return state


def walk_claims(root: Path) -> list[Claim]:
    """Claims made while walking `root` top-down, skipping what earlier claims own."""
    claims = []
    for directory, dirnames, filenames in os.walk(root):
        found = READER.claim(Path(directory), sorted(dirnames), sorted(filenames))
        owned = {name for claim in found for name in claim.owned_dirs}
        dirnames[:] = [name for name in dirnames if name not in owned]
        claims.extend(found)
    return claims


# Every store kind ------------------------------------------------------------------------------


def test_reads_every_active_run_with_params_and_metadata(store: Store):
    runs = by_name(store.read(ReadOptions()))

    assert set(runs) == set(RUNS)
    for name, logged in RUNS.items():
        run = runs[name]
        run_id = store.run_ids[name]
        assert run.format == "mlflow"
        assert run.source == f"{store.label}#{run_id}"
        assert dict(run.params) == logged.params
        assert run.metadata["experiment_name"] == logged.experiment
        assert run.metadata["run_id"] == run_id
        assert run.metadata["status"] == logged.status
        assert run.metadata["team"] == "vision"
        assert run.metadata["mlflow.runName"] == name
        assert run.metadata["start_time"] == "2023-11-14T22:13:20.000+00:00"
        assert run.metadata["end_time"] == "2023-11-14T22:28:20.000+00:00"
        assert run.warnings == ()


def test_curves_hold_every_step_with_nan_inf_and_the_latest_rewrite(store: Store):
    runs = by_name(store.read(ReadOptions()))

    for name, logged in RUNS.items():
        curves = runs[name].curves
        assert set(curves) == set(logged.metrics)
        for key in logged.metrics:
            curve = curves[key]
            assert curve.tag == key
            np.testing.assert_array_equal(curve.steps, np.arange(len(logged.metrics[key])))
            np.testing.assert_array_equal(curve.values, logged.expected_values(key))
            np.testing.assert_array_equal(curve.wall_times, logged.expected_wall_times(key))


SELECTIONS = [
    (ReadOptions(experiment="sweep"), {"adam-lr0.001"}),
    (ReadOptions(experiment="baseline"), {"sgd-lr0.1", "sgd-lr1.0"}),
    (ReadOptions(experiment="no such experiment"), set()),
    (ReadOptions(experiment="abandoned"), set()),
    (ReadOptions(filter_string="params.lr = '0.1'"), {"sgd-lr0.1"}),
    (ReadOptions(filter_string="params.optimizer != 'sgd'"), {"adam-lr0.001"}),
    (ReadOptions(filter_string="metrics.loss > 1"), {"adam-lr0.001"}),
    (ReadOptions(filter_string="metrics.loss < 1"), {"sgd-lr0.1"}),  # NaN compares false
    (ReadOptions(filter_string="metrics.`val/accuracy` >= 0.75"), {"sgd-lr0.1"}),
    (ReadOptions(filter_string="attributes.status = 'FAILED'"), {"sgd-lr1.0"}),
    (ReadOptions(filter_string="attributes.run_name LIKE 'sgd%'"), {"sgd-lr0.1", "sgd-lr1.0"}),
    (ReadOptions(experiment="baseline", filter_string="params.lr = '0.001'"), set()),
]


@pytest.mark.parametrize(
    ("options", "expected"), SELECTIONS, ids=[str(index) for index in range(len(SELECTIONS))]
)
def test_selects_by_experiment_and_filter(store: Store, options: ReadOptions, expected: set[str]):
    assert {run.name for run in store.read(options)} == expected


def test_selects_by_run_id(store: Store):
    run_id = store.run_ids["sgd-lr1.0"]

    assert [run.name for run in store.read(ReadOptions(run_id=run_id))] == ["sgd-lr1.0"]
    assert store.read(ReadOptions(run_id=run_id, experiment="sweep")) == []
    assert store.read(ReadOptions(run_id=run_id, filter_string="params.lr = '0.1'")) == []
    assert store.read(ReadOptions(run_id="0123456789abcdef0123456789abcdef")) == []
    assert store.read(ReadOptions(run_id="../sweep")) == []


def test_an_invalid_filter_is_a_read_error_naming_the_store(store: Store):
    with pytest.raises(ReadError, match="loss") as raised:
        store.read(ReadOptions(filter_string="loss <"))
    assert raised.value.source == store.label


# Folder stores ---------------------------------------------------------------------------------


def test_folder_reader_returns_what_the_mlflow_client_returns(
    folder_store: WrittenStore, monkeypatch: pytest.MonkeyPatch
):
    runs = {
        run.metadata["run_id"]: run
        for run in READER.read(folder_store.path, folder_store.path.parent, ReadOptions())
    }
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(folder_store.path.as_uri())
    experiments = client.search_experiments()
    client_runs = client.search_runs([experiment.experiment_id for experiment in experiments])

    assert set(runs) == {client_run.info.run_id for client_run in client_runs}
    for client_run in client_runs:
        run = runs[client_run.info.run_id]
        assert run.name == client_run.info.run_name
        assert dict(run.params) == client_run.data.params
        assert {key: run.metadata[key] for key in client_run.data.tags} == client_run.data.tags
        assert run.metadata["status"] == client_run.info.status
        assert set(run.curves) == set(client_run.data.metrics)
        for key, curve in run.curves.items():
            history = client.get_metric_history(client_run.info.run_id, key)
            expected = Curve.from_points(
                key,
                [point.step for point in history],
                [point.value for point in history],
                [point.timestamp / 1000 for point in history],
            )
            np.testing.assert_array_equal(curve.steps, expected.steps)
            np.testing.assert_array_equal(curve.values, expected.values)
            np.testing.assert_array_equal(curve.wall_times, expected.wall_times)


@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.loss < 1",
        "metrics.loss >= 1",
        "metrics.loss != 0.7",
        "metrics.`val/accuracy` < 0.5",
        "params.lr = '0.1' and metrics.loss < 1",
        "tags.team = 'vision'",
        "tags.`mlflow.runName` ILIKE '%ADAM%'",
        "attributes.start_time >= 1700000000000",
        "attributes.status != 'FINISHED'",
    ],
)
def test_folder_filters_select_what_the_mlflow_client_selects(
    folder_store: WrittenStore, monkeypatch: pytest.MonkeyPatch, filter_string: str
):
    options = ReadOptions(filter_string=filter_string)
    selected = {
        run.metadata["run_id"]
        for run in READER.read(folder_store.path, folder_store.path.parent, options)
    }
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(folder_store.path.as_uri())
    experiment_ids = [experiment.experiment_id for experiment in client.search_experiments()]

    assert selected == {
        run.info.run_id for run in client.search_runs(experiment_ids, filter_string)
    }


def test_reads_a_folder_store_without_mlflow_allow_file_store(
    folder_store: WrittenStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)

    runs = READER.read(
        folder_store.path, folder_store.path.parent, ReadOptions(filter_string="params.lr = '0.1'")
    )

    assert [run.name for run in runs] == ["sgd-lr0.1"]
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ


def test_reads_a_run_folder_given_directly(folder_store: WrittenStore):
    run_id = folder_store.run_ids["adam-lr0.001"]
    run_folder = next(folder_store.path.glob(f"*/{run_id}"))

    assert READER.can_read(run_folder)
    (run,) = READER.read(run_folder, run_folder.parent, ReadOptions())
    assert run.name == "adam-lr0.001"
    assert run.source == f"mlruns#{run_id}"
    np.testing.assert_array_equal(run.curves["loss"].values, [2.3, 2.1, 1.8, 1.55, 1.35])


def copied_store(folder_store: WrittenStore, tmp_path: Path) -> Path:
    """A copy of the written store to damage: the module's fixture stays intact."""
    store = tmp_path / "mlruns"
    shutil.copytree(folder_store.path, store)
    return store


def run_file(store: Path, run_id: str, relative: str) -> Path:
    """A file of run `run_id` in the store, whatever its experiment folder."""
    return next(store.glob(f"*/{run_id}/{relative}"))


def test_file_uri_reads_the_folder_store(folder_store: WrittenStore):
    uri = folder_store.path.as_uri()

    runs = by_name(read_tracking_uri(uri, ReadOptions(experiment="sweep")))

    assert set(runs) == {"adam-lr0.001"}
    assert runs["adam-lr0.001"].source == f"{uri}#{folder_store.run_ids['adam-lr0.001']}"


def test_malformed_metric_lines_are_skipped_with_a_warning(
    folder_store: WrittenStore, tmp_path: Path
):
    store = copied_store(folder_store, tmp_path)
    loss_file = run_file(store, folder_store.run_ids["sgd-lr0.1"], "metrics/loss")
    with loss_file.open("a") as metric_file:  # a crash mid-write leaves a torn last line
        metric_file.write("1700000005000 not-a-number 5\n17000000")

    runs = by_name(READER.read(store, tmp_path, ReadOptions()))

    assert runs["sgd-lr0.1"].warnings == (
        f"{loss_file.relative_to(store).as_posix()}: 2 lines skipped: malformed (first at line 6)",
    )
    np.testing.assert_array_equal(
        runs["sgd-lr0.1"].curves["loss"].values, [2.3, 1.7, 1.2, 0.9, 0.7]
    )
    assert runs["sgd-lr1.0"].warnings == ()


def test_a_store_nested_in_a_store_is_named_in_a_warning(
    folder_store: WrittenStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = copied_store(folder_store, tmp_path)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    nested = MlflowClient((store / "mlruns").as_uri())
    nested_run = nested.create_run("0", run_name="nested").info.run_id
    nested.log_metric(nested_run, "loss", 3.0, timestamp=BASE_MS, step=0)

    runs = by_name(READER.read(store, tmp_path, ReadOptions()))

    assert set(runs) == set(RUNS)
    for run in runs.values():
        assert run.warnings == (
            "skipped mlruns/: a separate MLflow store nested in this one; give its path to read it",
        )
    (inner,) = READER.read(store / "mlruns", tmp_path, ReadOptions())
    assert inner.name == "nested"
    assert inner.source == f"mlruns/mlruns#{nested_run}"


def test_an_unreadable_run_is_skipped_and_named_in_the_warnings(
    folder_store: WrittenStore, tmp_path: Path
):
    store = copied_store(folder_store, tmp_path)
    run_id = folder_store.run_ids["adam-lr0.001"]
    meta_file = run_file(store, run_id, "meta.yaml")
    meta_file.write_text("run_id: [unclosed\n")
    skipped = f"skipped run {meta_file.parent.relative_to(store).as_posix()}: "

    runs = by_name(READER.read(store, tmp_path, ReadOptions()))

    assert set(runs) == {"sgd-lr0.1", "sgd-lr1.0"}
    for run in runs.values():
        (warning,) = run.warnings
        assert warning.startswith(skipped)
    with pytest.raises(ReadError, match=skipped) as raised:
        READER.read(store, tmp_path, ReadOptions(experiment="sweep"))
    assert raised.value.source == "mlruns"


def test_a_run_folder_without_meta_yaml_is_a_run_without_points_saying_why(
    folder_store: WrittenStore, tmp_path: Path
):
    store = copied_store(folder_store, tmp_path)
    run_id = folder_store.run_ids["adam-lr0.001"]
    meta_file = run_file(store, run_id, "meta.yaml")
    meta_file.unlink()
    reason = f"{meta_file.parent.relative_to(store).as_posix()}/: no meta.yaml, run not read"

    runs = by_name(READER.read(store, tmp_path, ReadOptions()))

    assert set(runs) == {"sgd-lr0.1", "sgd-lr1.0", run_id}
    assert runs["sgd-lr0.1"].warnings == runs["sgd-lr1.0"].warnings == ()
    lost = runs[run_id]
    assert (lost.source, lost.total_points, lost.warnings) == (f"mlruns#{run_id}", 0, (reason,))
    (alone,) = READER.read(store, tmp_path, ReadOptions(experiment="sweep"))
    assert alone == lost  # not a ReadError: the run is named, the store is not blamed
    assert READER.read(store, tmp_path, ReadOptions(run_id=run_id)) == [lost]


def test_claims_a_folder_store_once_owning_all_its_folders(folder_store: WrittenStore):
    store = folder_store.path

    claims = walk_claims(store.parent)

    assert claims == [
        Claim(store, owned_dirs=tuple(sorted(entry.name for entry in store.iterdir())))
    ]
    assert READER.can_read(store)


def test_claims_each_run_folder_when_walking_an_experiment_folder(folder_store: WrittenStore):
    run_ids = folder_store.run_ids
    experiment_folder = next(folder_store.path.glob(f"*/{run_ids['sgd-lr0.1']}")).parent

    claims = walk_claims(experiment_folder)

    assert not READER.can_read(experiment_folder)
    assert {claim.path.name for claim in claims} == {
        run_ids["sgd-lr0.1"],
        run_ids["sgd-lr1.0"],
        run_ids["discarded"],
    }
    discarded = experiment_folder / run_ids["discarded"]
    assert READER.read(discarded, experiment_folder, ReadOptions()) == []


# SQLite stores ---------------------------------------------------------------------------------


def test_claims_sqlite_stores_by_their_tables_not_their_names(
    sqlite_store: WrittenStore, tmp_path: Path
):
    shutil.copy(sqlite_store.path, tmp_path / "tracking.bin")
    with sqlite3.connect(tmp_path / "notes.db") as other:
        other.execute("CREATE TABLE notes (text TEXT)")
    (tmp_path / "fake.db").write_text("experiments runs metrics params\n")

    claims = walk_claims(tmp_path)

    assert claims == [Claim(tmp_path / "tracking.bin", owned_files=("tracking.bin",))]
    assert READER.can_read(tmp_path / "tracking.bin")
    assert not READER.can_read(tmp_path / "notes.db")
    with pytest.raises(ReadError, match="not an MLflow SQLite store"):
        READER.read(tmp_path / "notes.db", tmp_path, ReadOptions())


def test_sqlite_uri_reads_the_store(sqlite_store: WrittenStore):
    uri = f"sqlite:///{sqlite_store.path.as_posix()}"

    runs = by_name(read_tracking_uri(uri, ReadOptions(experiment="sweep")))

    assert set(runs) == {"adam-lr0.001"}
    assert runs["adam-lr0.001"].source == f"{uri}#{sqlite_store.run_ids['adam-lr0.001']}"


def test_missing_sqlite_file_is_a_read_error_and_is_not_created(tmp_path: Path):
    uri = f"sqlite:///{(tmp_path / 'missing.db').as_posix()}"

    with pytest.raises(ReadError, match="no such SQLite file"):
        read_tracking_uri(uri, ReadOptions())
    assert list(tmp_path.iterdir()) == []


def downgrade_one_revision(database: Path) -> None:
    """Give the store the schema of the previous MLflow release (undo its newest migration)."""
    import sqlalchemy
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    url = f"sqlite:///{database.as_posix()}"
    config = _get_alembic_config(url)
    script = ScriptDirectory.from_config(config)
    previous = script.get_revision(script.get_current_head()).down_revision
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, previous)
    engine.dispose()


def schema_revision(database: Path) -> str:
    with closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return revision


def _skip_unless_sql_reads(database: Path) -> None:
    """A newer MLflow than the reader was checked against: its head revision goes through the
    client, which refuses to read an older store without migrating it."""
    revision = schema_revision(database)
    if revision not in mlflow_reader.DIRECT_SQL_SCHEMAS:
        pytest.skip(
            f"MLflow {mlflow.__version__} writes schema {revision}, not yet checked for reading "
            "with SQL: add it to DIRECT_SQL_SCHEMAS once these tests pass with it"
        )


def test_reads_an_older_schema_without_migrating_the_file(
    sqlite_store: WrittenStore, tmp_path: Path
):
    _skip_unless_sql_reads(sqlite_store.path)
    database = tmp_path / "old.db"
    shutil.copy(sqlite_store.path, database)
    downgrade_one_revision(database)
    assert schema_revision(database) != schema_revision(sqlite_store.path)
    before = snapshot(tmp_path)

    runs = by_name(READER.read(database, tmp_path, ReadOptions()))

    assert snapshot(tmp_path) == before
    assert set(runs) == set(RUNS)
    np.testing.assert_array_equal(
        runs["sgd-lr1.0"].curves["loss"].values, [2.3, 9.5, INF, NAN, NAN]
    )
    assert runs["sgd-lr1.0"].source == f"old.db#{sqlite_store.run_ids['sgd-lr1.0']}"


def run_contents(run: Run) -> tuple:
    """Everything a reader returns about a run, arrays as bytes (NaN and -0.0 compared too)."""
    curves = [
        (tag, curve.steps.tobytes(), curve.values.tobytes(), curve.wall_times.tobytes())
        for tag, curve in run.curves.items()
    ]
    return run.name, run.source, list(run.params.items()), run.metadata, run.warnings, curves


@pytest.mark.parametrize("selection", ["all", "experiment", "run id"])
def test_sql_and_the_client_read_a_sqlite_store_alike(sqlite_store: WrittenStore, selection: str):
    """The direct SQL read returns what the MLflow client returns, run for run and point for
    point, in the same order, and writes nothing."""
    path = sqlite_store.path
    _skip_unless_sql_reads(path)
    options = {
        "all": ReadOptions(),
        "experiment": ReadOptions(experiment="baseline"),
        "run id": ReadOptions(run_id=sqlite_store.run_ids["sgd-lr1.0"]),
    }[selection]
    before = snapshot(path.parent)

    with_sql = mlflow_reader._read_with_sql(path, "store", options)
    with mlflow_reader._sqlite_client(path) as client:
        with_client = mlflow_reader._read_with_client(client, "store", options)

    assert with_sql is not None
    assert [run_contents(run) for run in with_sql] == [run_contents(run) for run in with_client]
    assert len(with_sql) == {"all": 3, "experiment": 2, "run id": 1}[selection]
    assert snapshot(path.parent) == before


def test_a_schema_revision_not_checked_is_left_to_the_client(
    sqlite_store: WrittenStore, tmp_path: Path
):
    _skip_unless_sql_reads(sqlite_store.path)
    database = tmp_path / "other.db"
    shutil.copy(sqlite_store.path, database)
    assert mlflow_reader._read_with_sql(database, "other", ReadOptions()) is not None
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '0584bdc529eb'")

    assert mlflow_reader._read_with_sql(database, "other", ReadOptions()) is None


def test_reads_a_store_in_wal_mode_while_a_writer_has_it_open(
    sqlite_store: WrittenStore, tmp_path: Path
):
    """`mlflow migrate-filestore` leaves its store in WAL mode; a training job may be writing."""
    database = tmp_path / "wal.db"
    shutil.copy(sqlite_store.path, database)
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    writer = MlflowClient(f"sqlite:///{database.as_posix()}")
    experiment_id = writer.get_experiment_by_name("sweep").experiment_id
    late_run = writer.create_run(experiment_id, run_name="late").info.run_id
    writer.log_metric(late_run, "loss", 0.5, timestamp=BASE_MS, step=7)
    assert (tmp_path / "wal.db-wal").stat().st_size > 0  # the new run is only in the log yet
    before = snapshot(tmp_path)

    runs = by_name(READER.read(database, tmp_path, ReadOptions(experiment="sweep")))

    assert snapshot(tmp_path) == before
    assert set(runs) == {"adam-lr0.001", "late"}
    np.testing.assert_array_equal(runs["late"].curves["loss"].steps, [7])
    np.testing.assert_array_equal(runs["late"].curves["loss"].values, [0.5])


@pytest.mark.parametrize("kind", ["folder", "sqlite"])
def test_reading_never_changes_the_store(kind: str, request: pytest.FixtureRequest):
    written = request.getfixturevalue(f"{kind}_store")
    folder = written.path if kind == "folder" else written.path.parent
    before = snapshot(folder)

    for options in [
        ReadOptions(),
        ReadOptions(experiment="sweep"),
        ReadOptions(run_id=written.run_ids["sgd-lr0.1"]),
        ReadOptions(filter_string="metrics.loss < 1"),
    ]:
        assert READER.read(written.path, folder.parent, options)

    assert snapshot(folder) == before


@pytest.mark.parametrize("kind", ["sqlite", "server"])
def test_reads_every_page_of_search_results(
    kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(mlflow_reader, "SEARCH_PAGE_SIZE", 1)
    if kind == "server":
        request.getfixturevalue("server_run_ids")
        runs = read_tracking_uri(request.getfixturevalue("mlflow_server"), ReadOptions())
    else:
        database = request.getfixturevalue("sqlite_store").path
        runs = READER.read(database, database.parent, ReadOptions())

    assert {run.name for run in runs} == set(RUNS)


# The real MLflow 1.x store ---------------------------------------------------------------------


def test_reads_the_keras_autolog_store_written_by_mlflow_1(shared_fixtures: Path):
    store = shared_fixtures / "mlflow" / "keras_autolog_mlruns" / "mlruns"
    before = snapshot(store)

    (run,) = READER.read(store, store.parent, ReadOptions())

    run_id = "ed05f9cd599442fe9a0c9222184710b8"
    assert run.name == run_id  # no run name was recorded
    assert run.source == f"mlruns#{run_id}"
    assert run.metadata["experiment_name"] == "Speech model simple rnn"
    assert run.metadata["experiment_id"] == "1"
    assert run.metadata["status"] == "FINISHED"
    assert run.metadata["mlflow.autologging"] == "tensorflow"
    assert run.metadata["start_time"] == "2021-08-11T16:02:55.478+00:00"
    loss = run.curves["loss"]
    assert list(run.curves) == ["loss"]
    np.testing.assert_array_equal(loss.steps, np.arange(10))
    assert loss.values[0] == pytest.approx(332.684, abs=1e-3)
    assert loss.values[-1] == pytest.approx(234.798, abs=1e-3)
    assert np.all(np.diff(loss.values) < 0)
    assert loss.wall_times[0] == pytest.approx(1628697792.090)
    assert len(run.params) == 20
    assert run.params["opt_learning_rate"] == "0.002"
    assert run.params["opt_name"] == "SGD"
    assert run.params["batch_size"] == "None"
    assert run.params["epochs"] == "10"
    assert run.warnings == ()  # the nested mlruns/mlruns/ holds no run
    assert snapshot(store) == before


def test_the_keras_autolog_store_is_claimed_once_and_filtered(shared_fixtures: Path):
    root = shared_fixtures / "mlflow" / "keras_autolog_mlruns"

    claims = walk_claims(root)

    assert claims == [Claim(root / "mlruns", owned_dirs=("0", "1", "mlruns"))]
    store = root / "mlruns"
    sgd = READER.read(
        store, root, ReadOptions(filter_string="params.opt_name = 'SGD' and metrics.loss < 300")
    )
    assert [run.metadata["run_id"] for run in sgd] == ["ed05f9cd599442fe9a0c9222184710b8"]
    assert READER.read(store, root, ReadOptions(filter_string="metrics.loss < 200")) == []
    assert READER.read(store, root, ReadOptions(experiment="Default")) == []


# Tracking servers ------------------------------------------------------------------------------


def test_an_unreachable_server_fails_fast_naming_the_uri():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()

    with pytest.raises(ReadError, match="no MLflow tracking server answers there") as raised:
        read_tracking_uri(uri, ReadOptions(timeout=3))

    assert time.monotonic() - started < 10
    assert raised.value.source == uri
    assert str(raised.value).startswith(uri)


class RefusingHandler(BaseHTTPRequestHandler):
    """A server that is up but refuses every request, as an overloaded tracking server does."""

    def do_GET(self) -> None:
        self.send_error(503, "Service Unavailable")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_refusing_server_fails_fast_without_retries_leaking(refusing_server: str):
    environment = dict(os.environ)
    started = time.monotonic()

    with pytest.raises(ReadError) as raised:
        read_tracking_uri(refusing_server, ReadOptions(timeout=3))

    assert time.monotonic() - started < 10
    assert raised.value.source == refusing_server
    assert "503" in str(raised.value)
    assert dict(os.environ) == environment


def test_unsupported_tracking_uri_is_a_read_error():
    with pytest.raises(ReadError, match="not a tracking URI lrdoctor reads"):
        read_tracking_uri("databricks://profile", ReadOptions())


def test_reads_every_page_of_a_long_metric_history(
    server_run_ids: dict[str, str],
    mlflow_server: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
):
    """The client fetches a history in pages of 25,000 points; pages of 2 show all are read."""
    from mlflow.tracking._tracking_service import client as tracking_service

    monkeypatch.setattr(tracking_service, "GET_METRIC_HISTORY_MAX_RESULTS", 2)

    (run,) = read_tracking_uri(mlflow_server, ReadOptions(experiment="sweep"))

    np.testing.assert_array_equal(run.curves["loss"].values, [2.3, 2.1, 1.8, 1.55, 1.35])
