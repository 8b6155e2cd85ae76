"""Logs on object stores and web servers, through fsspec: `s3://`, `gs://`, `az://`, `hf://`,
`http(s)://` (single files).

Discovery lists a remote folder with one recursive listing and lays out its tree as empty
files in a temporary folder, so the readers' claims run unchanged; only the first bytes of the
files a claim looks into (CSV and Keras log headers) and SQLite files (`*.db`, `*.sqlite`,
`*.sqlite3`) are fetched then. Reading a source fetches the files of that one source (its log
files, never checkpoints or artifacts) into a temporary folder laid out as under the root,
reads them with the local reader and deletes them, so a run read from a URL is named as a local
audit of the same files names it. fsspec and the protocol packages are imported only here.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath

from lrdoctor.model import Run
from lrdoctor.readers import ReadError

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
# Schemes read as MLflow tracking URIs, not as file systems.
_TRACKING_SCHEMES = {"sqlite", "databricks", "file"}
# An http(s) URL is a file to fetch only when it names a log file; otherwise it is an MLflow
# tracking server.
_HTTP_FILE = re.compile(r"(\.(csv|tsv|log|json|db|sqlite3?)|tfevents[^/]*)$", re.IGNORECASE)
_EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "hf": "hf",
    "http": "remote",
    "https": "remote",
}
_HEADER_SUFFIXES = (".csv", ".tsv", ".log")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
HEADER_BYTES = 65536


class RemoteError(Exception):
    """A URL that cannot be listed at all: a missing package, bucket or permission."""


def is_remote(text: str) -> bool:
    """Whether `text` is a URL to read through fsspec rather than a tracking URI."""
    match = _SCHEME.match(text)
    if not match:
        return False
    scheme = match[1].lower()
    if scheme in ("http", "https"):
        return bool(_HTTP_FILE.search(text.split("?", 1)[0]))
    return scheme not in _TRACKING_SCHEMES


def _file_system(url: str):
    import fsspec

    scheme = _SCHEME.match(url)[1].lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as error:
        extra = _EXTRAS.get(scheme)
        hint = f'pip install "lrdoctor[{extra}]"' if extra else "install its fsspec package"
        raise RemoteError(f"{url}: reading {scheme}:// needs a package: {hint}") from error
    except ValueError as error:
        raise RemoteError(f"{url}: {error}") from error


def _failure(url: str, error: Exception) -> RemoteError:
    if isinstance(error, FileNotFoundError):
        return RemoteError(f"{url}: no such bucket, folder or file")
    if isinstance(error, PermissionError):
        return RemoteError(f"{url}: access denied")
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return RemoteError(f"{url}: cannot be reached ({text})")


def _listing(fs, path: str, url: str) -> dict[str, dict]:
    """Every file under `path` (or `path` itself when it is a file), by path: one listing."""
    try:
        if _SCHEME.match(url)[1].lower() in ("http", "https"):
            return {path: fs.info(path)}
        found = fs.find(path, withdirs=False, detail=True)
        if not found:
            info = fs.info(path)
            found = {path: info} if info.get("type") == "file" else {}
    except Exception as error:  # whatever the backend raises, the user gets one line
        raise _failure(url, error) from error
    return {name: info for name, info in found.items() if info.get("type") == "file"}


def _relative(path: str, root: str) -> str:
    return PurePosixPath(path).relative_to(PurePosixPath(root)).as_posix()


def _wanted_by_claims(name: str) -> str | None:
    """What discovery needs of a file: its header, all of it, or nothing (an empty stand-in)."""
    lower = name.lower()
    if lower.endswith(_HEADER_SUFFIXES):
        return "header"
    if lower.endswith(_SQLITE_SUFFIXES):
        return "all"
    return None


@contextmanager
def mirrored_tree(url: str) -> Iterator[tuple[Path, Callable[[str], str]]]:
    """The tree under `url` as a temporary local folder (named as the URL's last part) for the
    claims to walk, and a function turning a path in it back into a URL."""
    fs, root = _file_system(url)
    files = _listing(fs, root, url)
    single = list(files) == [root]
    base = PurePosixPath(root).parent.as_posix() if single else root
    url_base = url.rstrip("/").rsplit("/", 1)[0] if single else url.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="lrdoctor-") as scratch:
        local_base = Path(scratch) / (PurePosixPath(base).name or "root")
        local_base.mkdir()
        heads, wholes = [], []
        for path, info in files.items():
            relative = _relative(path, base)
            local = local_base / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            local.touch()
            need = _wanted_by_claims(relative) if info.get("size") else None  # empty: exact
            if need == "header":
                heads.append((path, local, min(int(info.get("size") or 0), HEADER_BYTES)))
            elif need == "all":
                wholes.append((path, local))
        _fetch_into(fs, url, [(path, local) for path, local, _ in heads], [n for *_, n in heads])
        _fetch_into(fs, url, wholes, None)
        local_root = local_base / _relative(root, base) if single else local_base

        def to_url(local_path: str) -> str:
            relative = Path(local_path).relative_to(local_base).as_posix()
            return url_base if relative == "." else f"{url_base}/{relative}"

        yield local_root, to_url


def _fetch_into(fs, url: str, targets: list[tuple[str, Path]], sizes: list[int] | None) -> None:
    """Fetch the files (or their first `sizes` bytes) concurrently and write them locally."""
    if not targets:
        return
    paths = [path for path, _ in targets]
    try:
        if sizes is None:
            contents = fs.cat(paths, on_error="raise")
            data = [contents[path] for path in paths]
        else:
            data = fs.cat_ranges(paths, [0] * len(paths), sizes)
    except Exception as error:  # whatever the backend raises, the user gets one line
        raise _failure(url, error) from error
    for (_, local), content in zip(targets, data, strict=True):
        if isinstance(content, Exception):
            raise _failure(url, content)
        local.write_bytes(content)


def _is_log_file(relative: str, reader: str) -> bool:
    """The files a reader reads in a source folder: logs, never checkpoints or artifacts."""
    parts = relative.split("/")
    name = parts[-1]
    if reader == "mlflow":
        return "artifacts" not in parts[:-1]
    if reader == "hf-trainer":
        return name == "trainer_state.json" or "tfevents" in name
    return "tfevents" in name or name == "hparams.yaml"


def read_remote(
    location: str, root: str, reader_name: str, read: Callable[[Path, Path], list[Run]]
) -> list[Run]:
    """Fetch one source's files into a temporary folder laid out as under `root`, read them
    with `read(path, root)`, and give the runs the URL's names and sources."""
    fs, path = _file_system(location)
    _, root_path = _file_system(root)
    if _is_file_source(path, reader_name):
        wanted = _file_and_companions(fs, path, location)
    else:
        listing = _listing(fs, path, location)
        wanted = [name for name in listing if _is_log_file(_relative(name, path), reader_name)]
    base = root_path if _inside(path, root_path) else PurePosixPath(path).parent.as_posix()
    url_base = root.rstrip("/") if base == root_path else location.rsplit("/", 1)[0]
    with tempfile.TemporaryDirectory(prefix="lrdoctor-") as scratch:
        local_base = Path(scratch) / (PurePosixPath(base).name or "root")
        targets = []
        for name in wanted:
            local = local_base / _relative(name, base)
            local.parent.mkdir(parents=True, exist_ok=True)
            targets.append((name, local))
        local_base.mkdir(parents=True, exist_ok=True)
        _fetch_into(fs, location, targets, None)
        local_path = local_base / _relative(path, base) if path != base else local_base
        prefixes = {str(local_base.resolve()), str(local_base)}

        def as_url(text: str) -> str:
            for prefix in sorted(prefixes, key=len, reverse=True):
                text = text.replace(prefix, url_base)
            return text

        try:
            runs = read(local_path, local_base)
        except ReadError as error:
            raise ReadError(as_url(error.source), as_url(error.problem)) from error
        return [
            replace(
                run,
                source=as_url(run.source),
                warnings=tuple(as_url(w) for w in run.warnings),
                metadata={k: as_url(v) for k, v in run.metadata.items()},
            )
            for run in runs
        ]


def _is_file_source(path: str, reader_name: str) -> bool:
    name = PurePosixPath(path).name
    return (
        reader_name == "csv"
        or "tfevents" in name
        or name == "trainer_state.json"
        or name.lower().endswith(_SQLITE_SUFFIXES)
    )


def _file_and_companions(fs, path: str, url: str) -> list[str]:
    """A file, and the files a reader reads beside it (Lightning's `hparams.yaml`, SQLite's
    write-ahead log), from one listing of its folder (none over http)."""
    if url.lower().startswith(("http://", "https://")):
        return [path]
    parent = PurePosixPath(path).parent.as_posix()
    try:
        beside = {name.rstrip("/") for name in fs.ls(parent, detail=False)}
    except Exception as error:  # whatever the backend raises, the user gets one line
        raise _failure(url, error) from error
    if path not in beside:
        raise ReadError(url, "no such file")
    companions = {f"{parent}/hparams.yaml", f"{path}-wal", f"{path}-shm"}
    return [path, *sorted(companions & beside)]


def _inside(path: str, root: str) -> bool:
    return path == root or PurePosixPath(root) in PurePosixPath(path).parents


def relative_url_name(location: str, root: str) -> str:
    """A remote source's display name: its part of the URL below `root`, as a local audit
    names it below the folder given."""
    location, root = location.rstrip("/"), root.rstrip("/")
    if location == root:
        return PurePosixPath(root.split("://", 1)[1]).name or root
    if location.startswith(root + "/"):
        return location[len(root) + 1 :]
    return os.path.basename(location)
