"""Audits on a Dask cluster (`lrdoctor audit --scheduler`): a real scheduler and real worker
processes on 127.0.0.1, whose reports must equal the local audit's byte for byte, and which
lose no run when a worker is killed mid-audit."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

import lrdoctor
from lrdoctor.cli import EXIT_INPUT_ERROR, EXIT_OK, main
from lrdoctor.readers._tfrecord import read_event_file

distributed = pytest.importorskip("distributed", reason="the test extra installs dask")

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs" / "dev"
TESTS = Path(__file__).resolve().parent
# A mix of every reader's files, copied so that a worker reads what the client found.
SUBSET = {
    "plain_csv": 8,
    "hf_trainer": 5,
    "tensorboardx": 5,
    "torch_tensorboard/runs": 4,
    "wandb_csv": 3,
    "keras_tensorboard": 3,
}
EXPLODING_RUN = "bold-falcon-5363.csv"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _working_directory(folder: Path):
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


class Cluster:
    """A `dask scheduler` and `dask worker` processes on 127.0.0.1, each a subprocess started
    in a folder of its own (not the client's), with this test module importable."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.workers: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._start(
            "scheduler", ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"]
        )

    def _start(self, name: str, arguments: list[str]) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("w")
        return subprocess.Popen(
            ["nice", "-n", "10", sys.executable, "-m", "dask", *arguments],
            cwd=self.folder,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def add_worker(self, name: str) -> None:
        self.workers[name] = self._start(
            name,
            [
                "worker",
                self.address,
                *("--nworkers", "1", "--nthreads", "1", "--no-nanny", "--no-dashboard"),
                *("--host", "127.0.0.1", "--name", name, "--death-timeout", "60"),
            ],
        )

    def client(self) -> distributed.Client:
        return distributed.Client(self.address, timeout=60, set_as_default=False)

    def wait_for_workers(self, count: int) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=90)

    def stop(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers.values(), self.scheduler]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask-cluster")
    started = Cluster(folder)
    try:
        for name in ("w0", "w1"):
            started.add_worker(name)
        started.wait_for_workers(2)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """About 30 runs of every file format, plus a damaged and an empty CSV (unreadable)."""
    folder = tmp_path_factory.mktemp("dask-corpus")
    logs = folder / "logs"
    for logger, count in SUBSET.items():
        for item in sorted((SAMPLE_LOGS / logger).iterdir())[:count]:
            target = logs / logger / item.name
            if item.is_dir():
                shutil.copytree(item, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(item, target)
    (logs / "plain_csv" / "damaged.csv").write_bytes(b"\xff\xfe\x00step,loss\n\xff1,\x802\n")
    (logs / "plain_csv" / "empty.csv").write_bytes(b"")
    return folder


def _audit(corpus: Path, *arguments: str, env: dict | None = None):
    """`lrdoctor audit logs ...` run from the corpus folder (a relative path, as users type)."""
    with _working_directory(corpus):
        return CliRunner().invoke(main, ["audit", "logs", *arguments], env=env)


@pytest.fixture(scope="module")
def local_json(corpus) -> str:
    result = _audit(corpus, "--format", "json", "--jobs", "1")
    assert result.exit_code == EXIT_OK, result.output
    return result.stdout


def test_cluster_audit_equals_the_local_one_byte_for_byte(cluster, corpus, local_json):
    result = _audit(corpus, "--format", "json", "--scheduler", cluster.address)
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout == local_json
    runs = json.loads(local_json)["runs"]
    assert len(runs) >= 30
    unreadable = {run["name"]: run for run in runs if run["diagnosis"] == "unreadable"}
    assert {"plain_csv/damaged.csv", "plain_csv/empty.csv"} <= set(unreadable)
    assert all(run["warnings"] for run in unreadable.values())  # each with its reason
    # workers read from the client's folder, and the report names paths as the user did
    assert all(run["source"].startswith("logs/") for run in runs)


def test_streamed_lines_from_the_environment_scheduler_equal_local_ones(cluster, corpus):
    local = _audit(corpus, "--format", "jsonl", "--jobs", "2")
    remote = _audit(corpus, "--format", "jsonl", env={"LRDOCTOR_SCHEDULER": cluster.address})
    assert remote.exit_code == local.exit_code == EXIT_OK
    assert remote.stdout == local.stdout
    assert len(remote.stdout.splitlines()) >= 30


def test_a_relative_sqlite_tracking_uri_is_read_from_the_clients_folder(cluster, tmp_path):
    shutil.copy2(SAMPLE_LOGS / "mlflow_sqlite" / "mlflow.db", tmp_path / "mlflow.db")
    audit = ["audit", "sqlite:///mlflow.db", "--format", "json"]
    with _working_directory(tmp_path):
        local = CliRunner().invoke(main, [*audit, "--jobs", "1"])
        remote = CliRunner().invoke(main, [*audit, "--scheduler", cluster.address])
    assert local.exit_code == remote.exit_code == EXIT_OK
    assert remote.stdout == local.stdout
    runs = json.loads(local.stdout)["runs"]
    assert len(runs) >= 30 and not any(run["diagnosis"] == "unreadable" for run in runs)


def test_a_worker_killed_mid_audit_loses_no_run(cluster, local_json, corpus):
    """A third worker joins; once the first results are in, a worker that is running a task
    or holding a result not yet fetched is killed (SIGKILL), and every run still comes back,
    as the local audit reports it."""
    cluster.add_worker("victim")
    cluster.wait_for_workers(3)
    killed = []
    with cluster.client() as observer:

        def kill_a_busy_worker(done: int, total: int) -> None:
            if killed:
                return
            info = observer.scheduler_info(n_workers=-1)["workers"]
            busy = observer.processing()
            held = observer.has_what()
            for address, worker in info.items():
                if busy.get(address) or held.get(address):
                    killed.append(worker["name"])
                    cluster.workers[worker["name"]].kill()
                    cluster.workers[worker["name"]].wait()
                    return

        with _working_directory(corpus):
            result = lrdoctor.audit(
                "logs", scheduler=cluster.address, on_progress=kill_a_busy_worker
            )
        assert killed, "no worker had work when the first result came in"
        survivors = observer.scheduler_info(n_workers=-1)["workers"]
    assert killed[0] not in {worker["name"] for worker in survivors.values()}
    local = json.loads(local_json)
    verdicts = [(run["name"], run["diagnosis"]) for run in result.to_dict()["runs"]]
    assert verdicts == [(run["name"], run["diagnosis"]) for run in local["runs"]]
    assert json.loads(result.to_json()) == local  # two workers are left for the other tests


def explode_on_one_run(run, diagnosis):
    """A `collect` that raises for one run: its task fails on every try."""
    if diagnosis.name == EXPLODING_RUN:
        raise RuntimeError("collect failed on purpose")
    return diagnosis.verdict


def test_a_run_that_raises_on_a_worker_is_unreadable_with_the_reason(cluster, corpus, tmp_path):
    logs = tmp_path / "csv"
    logs.mkdir()
    for name in ("bold-falcon-5363.csv", "bold-falcon-5849.csv", "bold-maple-5534.csv"):
        shutil.copy2(SAMPLE_LOGS / "plain_csv" / name, logs / name)
    result = lrdoctor.audit([str(logs)], scheduler=cluster.address, collect=explode_on_one_run)
    verdicts = {d.name: d.verdict for d in result.diagnoses}
    assert len(verdicts) == 3
    assert verdicts["bold-falcon-5363.csv"] == "unreadable"
    failed = next(d for d in result.diagnoses if d.verdict == "unreadable")
    assert "RuntimeError: collect failed on purpose" in failed.to_dict()["warnings"][0]
    others = [d for d in result.diagnoses if d is not failed]
    assert all(d.verdict != "unreadable" for d in others)
    assert all(result.collected[(d.name, d.source)] == d.verdict for d in others)


def test_a_local_cluster_gives_the_local_report(corpus, local_json):
    result = _audit(corpus, "--format", "json", "--scheduler", "local", "--jobs", "2")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout == local_json


def test_jobs_is_ignored_with_a_scheduler_address_and_said_so(cluster, corpus):
    result = _audit(corpus, "--format", "summary", "--scheduler", cluster.address, "-j", "8")
    assert result.exit_code == EXIT_OK
    assert f"--jobs is ignored with --scheduler {cluster.address}" in result.stderr


def test_an_unreachable_scheduler_is_one_line_and_exit_2(corpus):
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    result = _audit(corpus, "--scheduler", address, "--timeout", "1")
    assert result.exit_code == EXIT_INPUT_ERROR
    assert f"cannot reach the Dask scheduler at {address} within 1 s" in result.stderr
    assert "Traceback" not in result.output
    assert time.monotonic() - started < 15


def test_without_dask_the_message_says_what_to_install(corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an import of a missing one does
    result = _audit(corpus, "--scheduler", "local")
    assert result.exit_code == EXIT_INPUT_ERROR
    assert 'pip install "lrdoctor[dask]"' in result.stderr
    assert "Traceback" not in result.output


def test_event_files_read_while_another_thread_holds_the_readers_frames():
    """Every Dask worker samples its threads' frames (its profiler); a frame held from
    another thread kept the event file's mapping exported, and closing it raised, so a
    TensorBoard run came out unreadable now and then on a cluster only."""
    files = sorted((SAMPLE_LOGS / "tensorboardx").rglob("events.out.tfevents*"))[:5]
    held: list[dict] = []
    stop = threading.Event()

    def sample_frames() -> None:
        while not stop.is_set():
            held[:] = [sys._current_frames()]
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample_frames, daemon=True)
    sampler.start()
    try:
        read = [read_event_file(path) for _ in range(10) for path in files]
    finally:
        stop.set()
        sampler.join()
    assert all(contents.is_event_file and contents.records for contents in read)
