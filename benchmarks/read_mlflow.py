"""`lrdoctor runs` on an MLflow SQLite store against the MLflow client reading the same runs,
whole processes side by side (a script, not a test).

The store is written once by the MLflow client (cached in the temp folder, keyed by the
parameters): RUNS runs of 5 metrics x STEPS steps, 600,000 points at the default size,
logged in batches as a training loop does. The alternative is what a user would write with
the client: search every run, then fetch each metric's history. Before timing, the points
lrdoctor reads are checked against the client's (same runs, steps and values). With
--server, the same comparison against an `mlflow server` on that store (over HTTP: one
request per metric history, which lrdoctor fetches 4 at a time).

    python benchmarks/read_mlflow.py                    # 60 runs x 5 metrics x 2,000 steps
    python benchmarks/read_mlflow.py --runs 4 --steps 500 --repeats 1 --server
"""

from __future__ import annotations

import argparse
import contextlib
import math
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from _measure import lrdoctor_command, python_command, side_by_side

WORKLOAD_VERSION = 1
METRICS = ("loss", "val_loss", "lr", "grad_norm", "accuracy")
BATCH = 1000  # the client's limit of metrics per log_batch call
CLIENT_READS = """
import sys
from mlflow.tracking import MlflowClient

client = MlflowClient(sys.argv[1])
experiments = [experiment.experiment_id for experiment in client.search_experiments()]
points = 0
for run in client.search_runs(experiments, max_results=10000):
    for key in run.data.metrics:
        points += len(client.get_metric_history(run.info.run_id, key))
print(points)
"""


def write_store(database: Path, runs: int, steps: int) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{database.as_posix()}")
    experiment = client.create_experiment("bench")
    base_ms = 1_700_000_000_000
    for index in range(runs):
        rng = np.random.default_rng(index)
        run_id = client.create_run(experiment, run_name=f"run-{index:03d}").info.run_id
        decay = 1.0 + np.arange(steps) / 300.0
        series = {
            "loss": 2.0 / decay + rng.normal(0, 0.05, steps),
            "val_loss": 2.2 / decay,
            "lr": np.full(steps, 1e-3 * (1 + index)),
            "grad_norm": np.abs(rng.normal(1.0, 0.3, steps)),
            "accuracy": 1.0 - 1.0 / decay,
        }
        if index == 0:
            series["loss"][7] = math.nan
            series["loss"][9] = math.inf
        points = [
            Metric(key, float(values[step]), base_ms + 100 * step, step)
            for step in range(steps)
            for key, values in series.items()
        ]
        for start in range(0, len(points), BATCH):
            client.log_batch(run_id, metrics=points[start : start + BATCH])
        client.log_param(run_id, "lr", str(1e-3 * (1 + index)))
        client.set_terminated(run_id)


def prepare_workload(runs: int, steps: int) -> Path:
    key = f"r{runs}-s{steps}-v{WORKLOAD_VERSION}"
    base = Path(tempfile.gettempdir()) / f"lrdoctor-bench-mlflow-{key}"
    database = base / "mlflow.db"
    if (base / "complete").exists():
        print("workload: cached")
        return database
    print("workload: writing with the MLflow client (done once) ...", flush=True)
    base.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    write_store(database, runs, steps)
    (base / "complete").write_text("written\n")
    print(f"workload: written in {time.perf_counter() - started:.0f} s")
    return database


def differences_from_client(database: Path) -> list[str]:
    """Where lrdoctor's curves differ from the client's histories (empty if nowhere)."""
    from mlflow.tracking import MlflowClient

    from lrdoctor.model import Curve
    from lrdoctor.readers.base import ReadOptions
    from lrdoctor.readers.mlflow import read_tracking_uri

    uri = f"sqlite:///{database.as_posix()}"
    ours = {run.metadata["run_id"]: run for run in read_tracking_uri(uri, ReadOptions())}
    client = MlflowClient(uri)
    problems = []
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    for run in client.search_runs(experiments, max_results=10000):
        mine = ours.pop(run.info.run_id, None)
        if mine is None or set(mine.curves) != set(run.data.metrics):
            problems.append(f"run {run.info.run_name}: missing or other metrics")
            continue
        for key, curve in mine.curves.items():
            history = client.get_metric_history(run.info.run_id, key)
            expected = Curve.from_points(
                key,
                [point.step for point in history],
                [_infinity_restored(point.value) for point in history],
                [point.timestamp / 1000 for point in history],
            )
            same = np.array_equal(curve.steps, expected.steps) and np.array_equal(
                curve.values, expected.values, equal_nan=True
            )
            if not same:
                problems.append(f"run {run.info.run_name}, {key}: other points")
    problems.extend(f"run {run_id}: not in the client's runs" for run_id in ours)
    return problems


@contextlib.contextmanager
def tracking_server(database: Path) -> Iterator[str]:
    """An `mlflow server` on the store, on a free local port; its URI once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="lrdoctor-bench-artifacts-") as artifacts:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", "2"),
                *("--backend-store-uri", f"sqlite:///{database.as_posix()}"),
                *("--default-artifact-root", Path(artifacts).as_uri()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        uri = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    with urllib.request.urlopen(f"{uri}/health", timeout=1):
                        break
                except (urllib.error.URLError, OSError):
                    time.sleep(0.1)
            yield uri
        finally:
            server.terminate()
            server.wait(timeout=30)


def _infinity_restored(value: float) -> float:
    """MLflow's SQL store saves +/-inf as the largest float; lrdoctor reads it as inf."""
    return math.copysign(math.inf, value) if abs(value) == sys.float_info.max else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--server", action="store_true", help="also through mlflow server")
    arguments = parser.parse_args()
    database = prepare_workload(arguments.runs, arguments.steps)
    points = arguments.runs * arguments.steps * len(METRICS)
    size = database.stat().st_size / 1e6
    print(f"workload: {arguments.runs} runs, {points:,} points in a SQLite store of {size:.0f} MB")
    problems = differences_from_client(database)
    print("  points: " + ("same as the client's" if not problems else f"DIFFERENT: {problems[:3]}"))
    uri = f"sqlite:///{database.as_posix()}"
    side_by_side(
        {
            "lrdoctor runs": lrdoctor_command("runs", uri),
            "MLflow client": python_command("-c", CLIENT_READS, uri),
        },
        arguments.repeats,
        baseline="MLflow client",
    )
    if arguments.server:
        with tracking_server(database) as server_uri:
            print(f"the same store behind mlflow server (2 workers), {arguments.repeats} pairs")
            side_by_side(
                {
                    "lrdoctor runs": lrdoctor_command("runs", server_uri),
                    "MLflow client": python_command("-c", CLIENT_READS, server_uri),
                },
                arguments.repeats,
                baseline="MLflow client",
            )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
