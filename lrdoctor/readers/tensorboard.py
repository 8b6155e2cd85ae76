"""TensorBoard event files: one `Run` per run directory, with every scalar point.

A run is a directory of `*tfevents*` files. Two writers spread one run over sub-directories,
and both are folded back into the run they belong to:

- `add_scalars(main_tag, {key: value})` (PyTorch, tensorboardX) writes each key to its own
  sub-directory whose events carry the tag `main_tag`: PyTorch names it
  `main_tag.replace("/", "_") + "_" + key`, tensorboardX nests it as `main_tag/key`. Their
  points become the tag `main_tag/key` of the parent run.
- Keras' TensorBoard callback writes `<logdir>/train/` and `<logdir>/validation/`; they form
  one run named after `<logdir>`, with tags `train/...` and `validation/...`.

Decoding is in `_tfrecord`, which reads every point (never tensorboard's EventAccumulator,
which keeps a sample of 10,000).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from lrdoctor.model import Curve, Run
from lrdoctor.readers._hparams import read_hparams_beside
from lrdoctor.readers._tfrecord import (
    SCALARS_PLUGIN,
    EventFileScalars,
    Points,
    read_event_file,
)
from lrdoctor.readers.base import Claim, ReadError, ReadOptions, ordered_curve, relative_name

EVENT_FILE_MARKER = "tfevents"
KERAS_SPLITS = ("train", "validation")
# How deep below a run directory add_scalars sub-directories are looked for: tensorboardX
# nests one level per "/" in the main tag, plus one for the key.
ADD_SCALARS_MAX_DEPTH = 4
HPARAMS_PLUGIN = "hparams"
# PyTorch Lightning logs hp_metric = -1 at step 0 beside the hyper-parameters as a
# placeholder for a metric the user may log later; it is not a measurement.
LIGHTNING_PLACEHOLDER_TAG = "hp_metric"


def is_event_file_name(name: str) -> bool:
    """TensorBoard's own test: the name contains `tfevents` (`.v2`, `.profile-empty` too)."""
    return EVENT_FILE_MARKER in name


def _event_file_names(directory: Path) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            return sorted(
                entry.name
                for entry in entries
                if is_event_file_name(entry.name) and entry.is_file()
            )
    except OSError:
        return []


def _subdirectory_names(directory: Path) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entry.name for entry in entries if entry.is_dir())
    except OSError:
        return []


def _event_directories(directory: Path, depth: int) -> Iterator[Path]:
    """`directory` and its sub-directories, down to `depth` levels, that hold event files."""
    if _event_file_names(directory):
        yield directory
    if depth > 1:
        for name in _subdirectory_names(directory):
            yield from _event_directories(directory / name, depth - 1)


def _holds_events_below(directory: Path) -> bool:
    return next(_event_directories(directory, ADD_SCALARS_MAX_DEPTH), None) is not None


def _owned_event_directories(run_directory: Path) -> Iterator[Path]:
    """Every directory holding event files in the sub-trees a run directory's claim owns,
    parents before children."""
    for child in _subdirectory_names(run_directory):
        if not _holds_events_below(run_directory / child):
            continue
        for directory, dirnames, filenames in os.walk(run_directory / child):
            dirnames.sort()
            if any(is_event_file_name(name) for name in filenames):
                yield Path(directory)


def _keras_splits(directory: Path, names: list[str]) -> tuple[str, ...]:
    return tuple(
        split for split in KERAS_SPLITS if split in names and _event_file_names(directory / split)
    )


def add_scalars_tag(tag: str, relative_directory: str) -> str | None:
    """The tag `main_tag/key` that add_scalars wrote as `tag` into `relative_directory`
    (relative to the run, `/`-separated), or None if the directory is not add_scalars'."""
    torch_prefix = tag.replace("/", "_") + "_"
    if "/" not in relative_directory and relative_directory.startswith(torch_prefix):
        key = relative_directory[len(torch_prefix) :]
    elif relative_directory.startswith(tag + "/"):
        key = relative_directory[len(tag) + 1 :]
    else:
        return None
    return f"{tag}/{key}" if key else None


@dataclass
class _DirectoryScalars:
    """The scalars of the event files of one directory, merged in file-name order."""

    scalars: dict[str, Points] = field(default_factory=dict)
    plugins: set[str] = field(default_factory=set)
    hparams: dict[str, float | str | bool] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    valid_files: int = 0
    invalid_files: int = 0


ReadFile = Callable[[Path], EventFileScalars]
"""How an event file is read: all of it (`read_event_file`), or what was added since the
last read (`lrdoctor.watch`)."""


def _read_files(
    paths: list[Path], label_root: Path, read_file: ReadFile = read_event_file
) -> _DirectoryScalars:
    """Read the event files of one TensorBoard run directory (or one file).

    TF1's FileWriter names a tag's plugin only on its first event, so tensor values without
    plugin metadata count as scalars when any file of the directory names the plugin
    `scalars` for that tag.
    """
    result = _DirectoryScalars()
    parts: dict[str, list[Points]] = defaultdict(list)
    pending: dict[str, list[Points]] = defaultdict(list)
    plugin_of_tag: dict[str, str] = {}
    for path in paths:
        label = path.relative_to(label_root).as_posix()
        result.files.append(label)
        try:
            contents = read_file(path)
        except OSError as error:
            result.warnings.append(f"{label}: cannot read ({error.strerror or error})")
            result.invalid_files += 1
            continue
        result.warnings.extend(f"{label}: {warning}" for warning in contents.warnings)
        if contents.is_event_file:
            result.valid_files += 1
        else:
            result.invalid_files += 1
        for tag, points in contents.scalars.items():
            parts[tag].append(points)
        for tag, points in contents.pending_tensors.items():
            pending[tag].append(points)
        for tag, plugin in contents.plugins.items():
            plugin_of_tag.setdefault(tag, plugin)
        result.hparams.update(contents.hparams)
    for tag, tensor_points in pending.items():
        if plugin_of_tag.get(tag) == SCALARS_PLUGIN:
            parts[tag].extend(tensor_points)
    result.scalars = {tag: Points.concatenate(points) for tag, points in parts.items()}
    result.plugins = set(plugin_of_tag.values())
    return result


def _read_directory(
    directory: Path, label_root: Path, read_file: ReadFile = read_event_file
) -> _DirectoryScalars:
    names = _event_file_names(directory)
    return _read_files([directory / name for name in names], label_root, read_file)


def _is_lightning_placeholder(curve: Curve, plugins: set[str]) -> bool:
    return (
        HPARAMS_PLUGIN in plugins
        and len(curve) == 1
        and curve.steps[0] == 0
        and curve.values[0] == -1
    )


def _build_run(
    path: Path,
    name: str,
    parts: list[tuple[_DirectoryScalars, Callable[[str], str]]],
) -> Run:
    """One Run from the scalars of several directories, each with its tag renaming."""
    points_by_tag: dict[str, list[Points]] = defaultdict(list)
    plugins: set[str] = set()
    hparams: dict[str, float | str | bool] = {}
    files: list[str] = []
    warnings: list[str] = []
    for scalars, rename in parts:
        for tag, points in scalars.scalars.items():
            points_by_tag[rename(tag)].append(points)
        plugins |= scalars.plugins
        hparams |= scalars.hparams
        files.extend(scalars.files)
        warnings.extend(scalars.warnings)
    if not any(scalars.valid_files for scalars, _ in parts) and any(
        scalars.invalid_files for scalars, _ in parts
    ):
        raise ReadError(path, "no readable TensorBoard event file: " + "; ".join(warnings))
    curves = {}
    for tag in sorted(points_by_tag):
        points = Points.concatenate(points_by_tag[tag])
        curve = ordered_curve(tag, points.steps, points.values, points.wall_times)
        if not (tag == LIGHTNING_PLACEHOLDER_TAG and _is_lightning_placeholder(curve, plugins)):
            curves[tag] = curve
    if not curves:
        warnings.append(
            f"no scalar data found in {len(files)} event file(s): they hold only headers, "
            "hyper-parameters or non-scalar summaries"
        )
    params, hparams_warnings = read_hparams_beside(path)
    return Run(
        name=name,
        source=str(path),
        format="tensorboard",
        curves=curves,
        params=hparams | params,  # Lightning's hparams.yaml, where present, has the last word
        metadata={"files": ", ".join(files)},
        warnings=tuple(warnings) + tuple(hparams_warnings),
    )


def _without_logged_tags(
    hparams_scalars: _DirectoryScalars,
    run_parts: list[tuple[_DirectoryScalars, Callable[[str], str]]],
) -> _DirectoryScalars:
    """add_hparams' metric values without those whose tag the run already logs.

    `add_hparams(hparams, {"loss": final_loss})` writes the final value at step 0; merged
    into the run's `loss` curve it would replace or precede its first point, so a curve that
    fell would seem to start where it ended.
    """
    logged = {rename(tag) for scalars, rename in run_parts for tag in scalars.scalars}
    kept = {tag: points for tag, points in hparams_scalars.scalars.items() if tag not in logged}
    return replace(hparams_scalars, scalars=kept)


def _unchanged(tag: str) -> str:
    return tag


def _prefixed(prefix: str) -> Callable[[str], str]:
    return lambda tag: f"{prefix}/{tag}"


class TensorBoardReader:
    """Reads TensorBoard run directories (and single event files)."""

    name = "tensorboard"

    def claim(self, directory: Path, dirnames: list[str], filenames: list[str]) -> list[Claim]:
        """A directory with event files owns its add_scalars sub-directories; a directory
        without any owns its Keras `train/` and `validation/` children."""
        event_files = tuple(sorted(name for name in filenames if is_event_file_name(name)))
        if event_files:
            owned = tuple(name for name in dirnames if _holds_events_below(directory / name))
            return [Claim(directory, owned_dirs=owned, owned_files=event_files)]
        splits = _keras_splits(directory, dirnames)
        return [Claim(directory, owned_dirs=splits)] if splits else []

    def can_read(self, path: Path) -> bool:
        if path.is_file():
            return is_event_file_name(path.name)
        if not path.is_dir():
            return False
        return bool(_event_file_names(path)) or bool(_keras_splits(path, _subdirectory_names(path)))

    def read(self, path: Path, root: Path, options: ReadOptions) -> list[Run]:
        """The run at `path`, plus a run for each sub-directory that turned out to be a run
        of its own rather than add_scalars output."""
        return read_runs(path, root)


def read_runs(path: Path, root: Path, read_file: ReadFile = read_event_file) -> list[Run]:
    """`TensorBoardReader.read`, each event file read by `read_file`: `lrdoctor.watch` reads
    only what was appended since its last visit, and gets runs holding the new points."""
    if path.is_file():
        scalars = _read_files([path], path.parent, read_file)
        return [_build_run(path, relative_name(path.parent, root), [(scalars, _unchanged)])]
    if not path.is_dir():
        raise ReadError(path, "no such file or directory")
    if _event_file_names(path):
        return _read_run_directory(path, root, read_file)
    splits = _keras_splits(path, _subdirectory_names(path))
    if not splits:
        raise ReadError(path, f"no TensorBoard event files (*{EVENT_FILE_MARKER}*) here")
    parts = [(_read_directory(path / split, path, read_file), _prefixed(split)) for split in splits]
    return [_build_run(path, relative_name(path, root), parts)]


def _read_run_directory(path: Path, root: Path, read_file: ReadFile) -> list[Run]:
    """Fold each event directory of the owned sub-trees into the nearest enclosing run:
    as add_scalars output, as a Keras split, or else as a run of its own."""
    parts_by_run = {path: [(_read_directory(path, path, read_file), _unchanged)]}
    for directory in _owned_event_directories(path):
        run_directory = next(parent for parent in directory.parents if parent in parts_by_run)
        scalars = _read_directory(directory, run_directory, read_file)
        relative = directory.relative_to(run_directory).as_posix()
        renamed = {tag: add_scalars_tag(tag, relative) for tag in scalars.scalars}
        if None not in renamed.values():
            parts_by_run[run_directory].append((scalars, renamed.__getitem__))
        elif relative in KERAS_SPLITS:
            parts_by_run[run_directory].append((scalars, _prefixed(relative)))
        elif scalars.hparams and run_directory == directory.parent:
            # add_hparams (PyTorch, tensorboardX) writes the hyper-parameters and their
            # metric values into a timestamped child of the run: they belong to the run.
            parts_by_run[run_directory].append(
                (_without_logged_tags(scalars, parts_by_run[run_directory]), _unchanged)
            )
        else:
            parts_by_run[directory] = [(scalars, _unchanged)]
    runs, problems = [], []
    for run_directory, parts in parts_by_run.items():
        try:
            runs.append(_build_run(run_directory, relative_name(run_directory, root), parts))
        except ReadError as error:
            problems.append(str(error))
    if not runs:
        raise ReadError(path, problems[0])
    runs[0] = replace(runs[0], warnings=runs[0].warnings + tuple(problems))
    return runs


READER = TensorBoardReader()
