"""A real `mlflow server` process on 127.0.0.1, shared by the test session.

Test modules import the fixtures by name (`from mlflow_server import ...`). Start-up takes
several seconds, so `mlflow_server_process` only starts the process; `mlflow_server` waits
until it answers. A module can request the first early (autouse) and the second late, so the
server boots while other tests run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_LIMIT_SECONDS = 90.0


@dataclass
class MlflowServer:
    """A server process started by this test session."""

    process: subprocess.Popen
    port: int
    log_path: Path
    started_at: float
    startup_seconds: float | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_healthy(self) -> str | None:
        """Block until /health answers; the reason it never will, if so."""
        while self.startup_seconds is None:
            if self.process.poll() is not None:
                return (
                    f"mlflow server exited with code {self.process.returncode}: {self._log_tail()}"
                )
            if time.monotonic() - self.started_at > START_LIMIT_SECONDS:
                limit = f"{START_LIMIT_SECONDS:.0f} s"
                return f"mlflow server not healthy after {limit}: {self._log_tail()}"
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=1):
                    self.startup_seconds = time.monotonic() - self.started_at
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        return None

    def stop(self) -> None:
        """End the server and the worker it spawned (its own process group)."""
        if self.process.poll() is not None:
            return
        if hasattr(os, "killpg"):
            os.killpg(self.process.pid, signal.SIGTERM)
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            if hasattr(os, "killpg"):
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
            self.process.wait()

    def _log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return " | ".join(lines[-8:]) or "(no output)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Start `mlflow server` (SQLite backend in a temporary folder) without waiting for it."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{(folder / 'tracking.db').as_posix()}",
        "--default-artifact-root", (folder / "artifacts").as_uri(),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    # The job runner would start a pool of worker processes the tests never use.
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = MlflowServer(process, port, log_path, started_at=time.monotonic())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mlflow_server(mlflow_server_process: MlflowServer) -> str:
    """The URI of a healthy tracking server; skips when the server cannot start here."""
    problem = mlflow_server_process.wait_until_healthy()
    if problem:
        pytest.skip(problem)
    return mlflow_server_process.uri
