"""Remote stores through fsspec (issue 13, point 2): a real S3 API (moto's server mode on
127.0.0.1) holding a copy of some sample runs of every format.

The audit of `s3://bucket/logs` must give the runs the names and verdicts that the local
audit of the same files gives, with requests counted on the server: one listing of the tree
for discovery, and per source one listing plus one GET per log file read.
"""

import json
import logging
import os
import shutil
import socket
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

moto_server = pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
pytest.importorskip("s3fs", reason="s3fs is in the test extra")

from lrdoctor.cli import main  # noqa: E402
from lrdoctor.discovery import find_sources  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs" / "dev"
BUCKET = "lrdoctor-logs"

# A few runs of every format: (folder under sample_logs/dev, how many of its entries).
SUBSET = [
    ("fresh/keras_csv", 2),
    ("fresh/keras_tensorboard", 2),
    ("fresh/lightning_csv/lightning_logs", 2),
    ("fresh/lightning_tensorboard/lightning_logs", 2),
    ("fresh/plain_csv", 3),
    ("fresh/tensorboardx", 2),
    ("fresh/torch_tensorboard/runs", 2),
    ("fresh/wandb_csv", 2),
    ("hf_trainer", 3),
    ("fresh/mlflow_folder", None),
    ("fresh/mlflow_sqlite", None),
]


def _copy_subset(target: Path) -> None:
    for folder, count in SUBSET:
        source = SAMPLES / folder
        entries = sorted(source.iterdir())[:count] if count else sorted(source.iterdir())
        for entry in entries:
            destination = target / folder / entry.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            if entry.is_dir():
                shutil.copytree(entry, destination)
            else:
                shutil.copy2(entry, destination)


class _CountingMotoServer(moto_server.ThreadedMotoServer):
    """moto's threaded server, counting the requests it answers by kind."""

    def __init__(self, port: int):
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.requests: Counter = Counter()

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        backend = DomainDispatcherApplication(create_backend_app)

        def counted(environ, start_response):
            self.requests[_kind(environ)] += 1
            return backend(environ, start_response)

        self._server = make_server(self._ip_address, self._port, counted, True)
        self._server_ready_event.set()
        self._server.serve_forever()


def _kind(environ) -> str:
    method, query = environ["REQUEST_METHOD"], environ.get("QUERY_STRING", "")
    key = environ["PATH_INFO"].strip("/").partition("/")[2]
    if method == "GET" and not key:
        return "list"
    return f"{method.lower()} {'object' if key else 'bucket'}{' ' + query if query else ''}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server with the subset uploaded under `logs/`; yields the local copy, the
    environment pointing at the server, and the server's request log."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    server = _CountingMotoServer(port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    environment = {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    local = tmp_path_factory.mktemp("remote") / "logs"
    _copy_subset(local)
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    for file in sorted(local.rglob("*")):
        if file.is_file():
            client.upload_file(str(file), BUCKET, f"logs/{file.relative_to(local).as_posix()}")
    server.requests.clear()
    try:
        yield local, server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _audit_json(path: str, jobs: int = 1) -> tuple[int, dict, str]:
    result = CliRunner().invoke(
        main, ["audit", path, "--format", "json", "--jobs", str(jobs)], catch_exceptions=False
    )
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}, result.stderr


def _judged(report: dict, root: str) -> dict[str, dict]:
    """Each run's record by name, its source and any path in its warnings written from
    `root`, which the local and the remote audits write differently."""
    judged = {}
    for run in report["runs"]:
        record = dict(run, source=run["source"].removeprefix(root))
        record["warnings"] = [w.replace(root, "") for w in run["warnings"]]
        judged[run["name"]] = record
    return judged


def _files(folder: Path) -> dict[str, bytes]:
    return {
        file.relative_to(folder).as_posix(): file.read_bytes()
        for file in sorted(folder.rglob("*"))
        if file.is_file()
    }


def test_remote_audit_names_and_judges_runs_as_the_local_audit(s3):
    local, server = s3
    local_status, local_report, _ = _audit_json(str(local))
    stored = _stored(local)
    server.requests.clear()
    # two worker processes, as on a machine with two cores: each reads from the store itself
    status, report, errors = _audit_json(f"s3://{BUCKET}/logs", jobs=2)
    requests = dict(server.requests)
    assert errors == ""
    assert status == local_status
    assert len(report["runs"]) >= 20
    assert {run["format"] for run in report["runs"]} >= {"csv", "tensorboard", "mlflow"}
    remote = _judged(report, f"s3://{BUCKET}/logs")
    assert remote == _judged(local_report, str(local))
    assert report["summary"] == local_report["summary"]
    # One listing of the tree to find the sources, then one per source to read it; one GET
    # per CSV header and SQLite file for discovery, and one per log file read. Nothing else:
    # no HEAD per file, no writes.
    files = _files(local)
    sources = len(find_sources([local])[0])
    looked_into = sum(name.endswith((".csv", ".log", ".db")) for name in files)
    assert set(requests) == {"list", "get object"}, requests
    assert requests["list"] <= 1 + sources, requests
    assert requests["get object"] <= len(files) + looked_into, requests
    assert _stored(local) == stored


def _stored(local: Path) -> dict[str, str]:
    """The bucket's objects and their ETags."""
    import boto3

    client = boto3.client("s3")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def test_a_missing_bucket_is_one_line_and_exit_2(s3):
    result = CliRunner().invoke(main, ["audit", "s3://no-such-bucket-here/logs"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "s3://no-such-bucket-here/logs" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_missing_protocol_package_is_one_line_and_exit_2():
    pytest.importorskip("fsspec")
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed here")
    result = CliRunner().invoke(main, ["audit", "gs://some-bucket/logs"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert 'pip install "lrdoctor[gcs]"' in result.stderr


def test_a_single_file_and_a_sub_folder_are_named_as_locally(s3):
    local, _ = s3
    csv_file = min((local / "fresh" / "plain_csv").glob("*.csv"))
    relative = csv_file.relative_to(local).as_posix()
    for given, url in [
        (csv_file, f"s3://{BUCKET}/logs/{relative}"),
        (local / "hf_trainer", f"s3://{BUCKET}/logs/hf_trainer"),
    ]:
        _, local_report, _ = _audit_json(str(given))
        status, report, errors = _audit_json(url)
        assert errors == ""
        assert _judged(report, url) == _judged(local_report, str(given))


def test_an_http_url_of_one_log_file(s3):
    """moto serves a public object over plain http too: fsspec's http file system fetches it."""
    local, server = s3
    csv_file = min(f for f in (local / "fresh" / "plain_csv").glob("*.csv") if "+" not in f.name)
    import boto3

    key = f"logs/{csv_file.relative_to(local).as_posix()}"
    boto3.client("s3").put_object_acl(Bucket=BUCKET, Key=key, ACL="public-read")
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}/{BUCKET}/{key}"
    _, local_report, _ = _audit_json(str(csv_file))
    status, report, errors = _audit_json(url)
    assert errors == ""
    assert [r["name"] for r in report["runs"]] == [csv_file.name]
    assert _judged(report, url.rsplit("/", 1)[0]) == _judged(local_report, str(csv_file.parent))
