"""Find every run under the paths and URIs a user gives, whatever mix of formats they hold.

Finding and reading are separate steps: `find_sources` walks each folder once and lets every
reader claim what it recognises; `read_source` reads one claim. A batch audit can then read
sources in parallel, and one bad source never stops the others.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from lrdoctor.model import Run
from lrdoctor.readers import ReadError, ReadOptions, registry
from lrdoctor.remote import is_remote

T = TypeVar("T")
_URI = re.compile(r"^(sqlite|https?|file|databricks)://?", re.IGNORECASE)
# Folders that never hold a user's runs but can be huge; MLflow's `.trash` holds deleted runs.
_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages", ".git", ".trash"}


@dataclass(frozen=True)
class Source:
    """One thing to read: `location` (a path or URI) in `reader`'s format, found under `root`."""

    reader: str
    location: str
    root: str


@dataclass(frozen=True)
class Problem:
    """A source that could not be read, or a part of a folder that could not be walked."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True)
class Discovery:
    """What was read from the user's paths: the runs and every problem met on the way."""

    runs: tuple[Run, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    unreadable: tuple[Problem, ...] = field(default_factory=tuple)
    """The problems that are sources found but not read (a damaged or empty file): a listing
    shows them as runs that could not be read, as an audit does; they are in `problems` too."""


def is_uri(text: str) -> bool:
    return bool(_URI.match(text))


def _readers_for(format_in: str | None) -> dict:
    readers = registry()
    if format_in is None:
        return readers
    if format_in not in readers:
        raise ValueError(f"unknown input format {format_in!r}; choose from {', '.join(readers)}")
    return {format_in: readers[format_in]}


def _points_to_ancestor(link: Path) -> bool:
    target = link.resolve()
    return target == link.parent.resolve() or target in link.parent.resolve().parents


def _walk(
    root: Path, readers: dict, problems: list[Problem]
) -> Iterator[tuple[Source, tuple[Path, ...]]]:
    """Walk `root` once, following symlinks but never into the same folder twice.

    Each source comes with the paths its claim owns, so a source found again inside them
    from another of the user's paths is known to be part of it.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = directory.stat()
        except OSError as error:
            problems.append(Problem(str(directory), f"cannot be read ({error.strerror})"))
            continue
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            if directory.is_symlink():
                problems.append(
                    Problem(str(directory), "symbolic link to a folder already walked; skipped")
                )
            continue
        seen.add(identity)
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            problems.append(Problem(str(directory), f"cannot be listed ({error.strerror})"))
            continue
        dirnames, filenames = [], []
        for entry in listing:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name in _SKIPPED_DIRS or entry.name.startswith("."):
                    continue
                if entry.is_symlink() and _points_to_ancestor(Path(entry.path)):
                    problems.append(
                        Problem(entry.path, "symbolic link loop (points to a parent); skipped")
                    )
                    continue
                dirnames.append(entry.name)
            elif entry.name.startswith("."):
                continue
            elif entry.is_file() or entry.is_symlink():
                if entry.is_symlink() and not os.path.exists(entry.path):
                    problems.append(Problem(entry.path, "broken symbolic link; skipped"))
                    continue
                filenames.append(entry.name)
        for name, reader in readers.items():
            for claim in reader.claim(directory, list(dirnames), list(filenames)):
                owned = tuple(directory / n for n in claim.owned_dirs + claim.owned_files)
                yield Source(name, str(claim.path), str(root)), owned
                dirnames = [d for d in dirnames if d not in claim.owned_dirs]
                filenames = [f for f in filenames if f not in claim.owned_files]
                if Path(claim.path).parent == directory:
                    filenames = [f for f in filenames if f != Path(claim.path).name]
        stack.extend(directory / name for name in reversed(dirnames))


def find_sources(
    paths: Iterable[str | os.PathLike], format_in: str | None = None
) -> tuple[list[Source], list[Problem]]:
    """Every source under `paths` (files, folders, tracking URIs), each listed once however
    the paths overlap (nested folders, a file inside a folder given, symbolic links)."""
    readers = _readers_for(format_in)
    found: list[tuple[Source, tuple[Path, ...]]] = []
    problems: list[Problem] = []
    for given in paths:
        text = os.fspath(given)
        if is_remote(text):
            found.extend(_remote_sources(text, readers, format_in, problems))
            continue
        if is_uri(text) and not Path(text).exists():
            found.append((Source("mlflow", text, text), ()))
            continue
        path = Path(text)
        if not path.exists():
            problems.append(Problem(text, "no such file or folder"))
            continue
        if path.is_file():
            # A forced format is trusted: that is what --format-in is for.
            reader = format_in or next((n for n, r in readers.items() if r.can_read(path)), None)
            if reader is None:
                problems.append(Problem(text, "not a log format lrdoctor can read"))
            else:
                found.append((Source(reader, text, str(path.parent)), ()))
            continue
        walked = list(_walk(path, readers, problems))
        if not walked:
            problems.append(Problem(text, "no training runs found in this folder"))
        found.extend(walked)
    return _once(found), list(dict.fromkeys(problems))


def _remote_sources(
    url: str, readers: dict, format_in: str | None, problems: list[Problem]
) -> list[tuple[Source, tuple[Path, ...]]]:
    """The sources under a URL, found by the same claims on a local stand-in of its tree
    (`lrdoctor.remote.mirrored_tree`), each located and rooted by URL."""
    from lrdoctor.remote import mirrored_tree

    with mirrored_tree(url) as (local, to_url):
        if local.is_file():
            reader = format_in or next((n for n, r in readers.items() if r.can_read(local)), None)
            if reader is None:
                problems.append(Problem(url, "not a log format lrdoctor can read"))
                return []
            return [(Source(reader, url, to_url(str(local.parent))), ())]
        walked_problems: list[Problem] = []
        walked = [
            (Source(s.reader, to_url(s.location), url), ())
            for s, _ in _walk(local, readers, walked_problems)
        ]
        problems.extend(Problem(to_url(p.source), p.message) for p in walked_problems)
    if not walked:
        problems.append(Problem(url, "no training runs found in this folder"))
    return walked


def _identity(source: Source) -> tuple[str, str]:
    """What a source is, whichever of the user's paths led to it."""
    if is_remote(source.location) or (
        is_uri(source.location) and not Path(source.location).exists()
    ):
        return source.reader, source.location
    return source.reader, os.path.realpath(source.location)


def _once(found: list[tuple[Source, tuple[Path, ...]]]) -> list[Source]:
    """The first of any source found twice, and none inside what another source owns (an
    experiment folder of a store given too, the checkpoints of a Trainer folder)."""
    identified = [(_identity(source), source, owned) for source, owned in found]
    owner: dict[str, tuple[str, str]] = {}
    for identity, _, owned in identified:
        for path in owned:
            owner.setdefault(os.path.realpath(path), identity)
    unique: dict[tuple[str, str], Source] = {}
    for identity, source, _ in identified:
        if identity not in unique and not _owned_by_another(identity, owner):
            unique[identity] = source
    return list(unique.values())


def _owned_by_another(identity: tuple[str, str], owner: dict[str, tuple[str, str]]) -> bool:
    _, path = identity
    if not os.path.isabs(path):  # a tracking URI
        return False
    while True:
        if owner.get(path, identity) != identity:
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def read_source(source: Source, options: ReadOptions) -> list[Run]:
    """Read one source; any failure becomes a `ReadError` naming the source."""
    try:
        if is_remote(source.location):
            from lrdoctor.remote import read_remote

            reader = registry()[source.reader]
            return read_remote(
                source.location,
                source.root,
                source.reader,
                lambda path, root: reader.read(path, root, options),
            )
        if is_uri(source.location) and not Path(source.location).exists():
            from lrdoctor.readers.mlflow import read_tracking_uri

            return read_tracking_uri(source.location, options)
        reader = registry()[source.reader]
        return reader.read(Path(source.location), Path(source.root), options)
    except ReadError:
        raise
    except Exception as error:  # a reader bug on a strange file must not stop an audit
        raise ReadError(
            source.location, f"could not be read ({type(error).__name__}: {error})"
        ) from error


@dataclass(frozen=True)
class Unreadable(Problem):
    """A source that was found but could not be read (a damaged or empty file)."""


def iter_read(
    paths: Sequence[str | os.PathLike],
    options: ReadOptions | None = None,
    format_in: str | None = None,
) -> Iterator[Run | Problem]:
    """Find the sources under `paths`, then read them one at a time: yield each problem met
    while walking, then each run as soon as its source is read (an `Unreadable` where it
    cannot be). Nothing is kept, so a caller that lets each run go holds one source at most."""
    options = options or ReadOptions()
    sources, problems = find_sources(paths, format_in)
    yield from problems
    for source in sources:
        try:
            yield from read_source(source, options)
        except ReadError as error:
            yield Unreadable(error.source, error.problem)


def read_runs(
    paths: Sequence[str | os.PathLike],
    options: ReadOptions | None = None,
    format_in: str | None = None,
) -> Discovery:
    """Find and read every run under `paths`; problems are collected, never raised."""
    runs, problems, unreadable = sort_read(iter_read(paths, options, format_in))
    return Discovery(tuple(runs), (*problems, *unreadable), tuple(unreadable))


def sort_read(
    items: Iterable[Run | Problem], keep: Callable[[Run], T] = lambda run: run
) -> tuple[list[T], list[Problem], list[Problem]]:
    """`iter_read`'s items sorted into what `keep` takes of each run (the run itself unless
    told otherwise: `lrdoctor runs` keeps a summary and lets the run go), the problems met
    while walking, and the sources that could not be read."""
    kept: list[T] = []
    problems: list[Problem] = []
    unreadable: list[Problem] = []
    for item in items:
        if isinstance(item, Unreadable):
            unreadable.append(Problem(item.source, item.message))
        elif isinstance(item, Problem):
            problems.append(item)
        else:
            kept.append(keep(item))
    return kept, problems, unreadable
