"""Training logs kept as CSV: Lightning and Keras CSVLoggers, W&B exports, any wide or long table.

Every variant is recognised from its header, never from its file name, because logs get
renamed and copied. The variants differ only in where the x axis and the run name come from:

- `lightning-csv`: columns `step` and `epoch`; sparse rows, one metric group per row.
- `keras-csv`: `epoch` is the first column and no finer step column exists.
- `wandb-csv`: a chart export: the x axis, then `<run> - <metric>` columns (several runs).
- `long-csv`: one point per row, in columns tag (or metric/key/name), step and value.
- `csv`: any other table with a step-like column and numeric metric columns.

An empty cell means "not logged at this step" and gives no point; `nan` and `inf` are values
and are kept. A file is rejected as not a training log only when it has neither a step-like
column nor a column whose name contains a metric word (loss, acc, lr, ...): a table like that
is a data set, and reading its rows as steps would invent a training curve.

A row whose step is missing, NaN or outside int64 costs that row, not the file (a cast would
wrap the step around); every row a file loses is counted in one warning.

Files are cut into cells by pandas' C tokeniser where that gives the same table as Python's
csv module, which reads the rest (`_csv_table`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lrdoctor.model import Curve, Run
from lrdoctor.readers._csv_table import NumericColumn, Table, load_table
from lrdoctor.readers._hparams import read_hparams_beside
from lrdoctor.readers.base import (
    Claim,
    ReadError,
    ReadOptions,
    int64_steps,
    ordered_curve,
    relative_name,
)

# Step-like column names, finest-grained first: the first usable one is the x axis.
# Ray Tune logs to TensorBoard with `timesteps_total` as the step, so it beats the iteration.
# W&B's step metrics: Lightning's WandbLogger defines `trainer/global_step`, transformers'
# WandbCallback `train/global_step`; a chart plotted against one exports it as the x axis.
STEP_COLUMNS = (
    "step",
    "global_step",
    "trainer/global_step",
    "train/global_step",
    "_step",
    "timesteps_total",
    "iteration",
    "iter",
    "training_iteration",
    "epoch",
)
WALL_TIME_COLUMNS = ("wall_time", "wall time", "walltime", "_timestamp", "timestamp", "time")
LONG_TAG_COLUMNS = ("tag", "metric", "key", "name")
METRIC_WORDS = frozenset(
    "loss acc accuracy lr learning error err perplexity ppl reward return score f1 auc "
    "grad norm bleu rouge wer cer mse mae rmse nll kl entropy precision recall iou dice "
    "map metric".split()
)
WANDB_COLUMN = re.compile(r"(?P<run>.+) - (?P<metric>.+)")
WANDB_EXTREMES = ("__MIN", "__MAX")
SUFFIXES = (".csv", ".tsv")
LIGHTNING_FILE = "metrics.csv"
HEADER_PEEK_BYTES = 65536


class CsvReader:
    """Reads one CSV-family file into one run (several for a W&B export)."""

    name = "csv"

    def claim(self, directory: Path, dirnames: list[str], filenames: list[str]) -> list[Claim]:
        return [
            Claim(directory / filename, owned_files=(filename,))
            for filename in filenames
            if _is_csv_log_name(directory / filename)
        ]

    def can_read(self, path: Path) -> bool:
        return path.is_file() and _is_csv_log_name(path)

    def read(self, path: Path, root: Path, options: ReadOptions) -> list[Run]:
        return read_runs(path, root)


def read_runs(path: Path, root: Path, data: bytes | None = None, first_row: int = 0) -> list[Run]:
    """`CsvReader.read`; `data` stands for the file's bytes when given, and `first_row` is
    the number of the first data row in it (`lrdoctor.watch` reads the header and the lines
    appended since its last read, whose row numbers go on from the rows read before)."""
    table = _load_table(path, data)
    layout = _detect_layout(table.header)
    if layout != "wandb-csv":
        _require_log_columns(table, path)
    if table.row_count == 0:
        return [_header_only_run(table, path, root, layout)]
    if layout == "wandb-csv":
        return _read_wandb(table, path, root, first_row)
    if layout == "long-csv":
        return [_read_long(table, path, root)]
    return [_read_wide(table, path, root, layout, first_row)]


def _is_csv_log_name(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return not _header_is_not_a_log(path)
    return suffix == ".log" and _has_keras_header(path)


def _header_is_not_a_log(path: Path) -> bool:
    """A readable header with neither a step-like nor a metric-like column: a data table.

    Such files (a dataset's `train.csv`) are left alone rather than reported as unreadable
    runs. Empty or undecodable files are still claimed, so the user hears why they failed.
    """
    try:
        with path.open("rb") as stream:
            first_line = stream.readline(HEADER_PEEK_BYTES).decode("utf-8-sig").strip()
    except (OSError, UnicodeDecodeError):
        return False
    if not first_line:
        return False
    delimiter = max(",\t;", key=first_line.count)
    header = [name.strip().strip('"') for name in first_line.split(delimiter)]
    return not (_step_candidates(header) or any(_looks_like_metric(name) for name in header))


def _has_keras_header(path: Path) -> bool:
    """Keras' CSVLogger writes `epoch` first, then the metric names, comma-separated."""
    try:
        with path.open("rb") as stream:
            first_line = stream.readline(HEADER_PEEK_BYTES)
        fields = first_line.decode("utf-8-sig").strip().split(",")
    except (OSError, UnicodeDecodeError):
        return False
    return len(fields) >= 2 and fields[0] == "epoch" and all(fields)


def _load_table(path: Path, data: bytes | None = None) -> Table:
    suffix = path.suffix.lower()
    return load_table(path, lambda first_line: _sniff_delimiter(suffix, first_line), data)


def _sniff_delimiter(suffix: str, first_line: str) -> str:
    if suffix == ".tsv":
        return "\t"
    return max((",", "\t", ";"), key=first_line.count)


def _detect_layout(header: Sequence[str]) -> str:
    lowered = [name.lower() for name in header]
    step_names = [name for name in lowered if name in STEP_COLUMNS]
    is_run_metric = [bool(WANDB_COLUMN.fullmatch(name)) for name in header]
    if len(header) >= 2 and not is_run_metric[0] and all(is_run_metric[1:]):
        return "wandb-csv"
    if step_names and "value" in lowered and any(name in LONG_TAG_COLUMNS for name in lowered):
        return "long-csv"
    if "step" in header and "epoch" in header:
        return "lightning-csv"
    if lowered and lowered[0] == "epoch" and step_names == ["epoch"]:
        return "keras-csv"
    return "csv"


def _is_index_column(name: str) -> bool:
    """The unnamed index column pandas writes with `to_csv()` (blank or `Unnamed: 0`)."""
    return not name or name.startswith("Unnamed: ")


def _looks_like_metric(name: str) -> bool:
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(word in METRIC_WORDS for word in words)


def _integral(column: NumericColumn) -> bool:
    """Whether every filled cell of a step column is a whole number (steps are integers).

    Cells that are not finite or overflow int64 are damage: they cost their row later
    (`_usable_steps`), not the column its place as the step; so do a few cells that are not
    numbers at all (a damaged byte), up to one in a hundred.
    """
    steps = column.values[column.present & int64_steps(column.values)]
    damaged = column.non_numeric <= max(1, steps.size // 100)
    return steps.size > 0 and damaged and bool(np.all(steps == np.floor(steps)))


def _missing_at_most_damage(column: NumericColumn) -> bool:
    """Whether a column lacks no more cells than damage costs: one in a hundred, or one
    (a short log with one damaged step keeps its step column)."""
    missing = int(column.present.size - column.present.sum())
    return missing <= max(1, column.present.size // 100)


def _usable_steps(
    steps: np.ndarray, present: np.ndarray, step_name: str, table: Table
) -> np.ndarray:
    """Rows whose step is filled, not NaN and inside int64 (casting the others would wrap
    them); the rows dropped are counted in `table.skipped`."""
    return _drop_rows(
        table,
        np.ones(steps.size, dtype=bool),
        (
            (f"no number in step column {step_name!r}", ~present),
            ("step is NaN", np.isnan(steps)),
            ("step out of range", ~int64_steps(steps)),
        ),
    )


def _drop_rows(
    table: Table, keep: np.ndarray, problems: Sequence[tuple[str, np.ndarray]]
) -> np.ndarray:
    """`keep` without the bad rows of each problem, each row counted under its first one."""
    keep = keep.copy()
    for problem, bad in problems:
        dropped = keep & bad
        table.skipped.add(problem, int(dropped.sum()))
        keep &= ~dropped
    return keep


def _choose_step_column(
    table: Table, candidates: Sequence[str]
) -> tuple[str | None, NumericColumn | None, list[str]]:
    """The finest-grained step-like column holding whole numbers, complete columns first."""
    if candidates:  # the usual log: the finest candidate is complete and whole
        finest = table.numbers(table.header.index(candidates[0]))
        if finest.present.all() and _integral(finest):
            return candidates[0], finest, []
    parsed = {name: table.numbers(table.header.index(name)) for name in candidates}
    usable = [name for name in candidates if _integral(parsed[name])]
    # complete but for damage: a cell or two lost to a damaged byte keeps the finer column
    complete = [name for name in usable if _missing_at_most_damage(parsed[name])]
    chosen = (complete or usable or [None])[0]
    warnings = []
    fractional = [name for name in candidates if name not in usable and parsed[name].present.any()]
    if fractional and (chosen is None or _rank(fractional[0]) < _rank(chosen)):
        warnings.append(
            f"step-like column {fractional[0]!r} holds values that are not whole numbers; "
            + (f"using {chosen!r} as the step" if chosen else "using row numbers as steps")
        )
    if chosen is None:
        return None, None, warnings
    return chosen, parsed[chosen], warnings


def _rank(column_name: str) -> int:
    return STEP_COLUMNS.index(column_name.lower())


def _step_candidates(header: Sequence[str]) -> list[str]:
    names = [name for name in header if name.lower() in STEP_COLUMNS]
    return sorted(names, key=_rank)


def _wall_time_column(table: Table, exclude: set[str]) -> tuple[str | None, np.ndarray]:
    by_lower = {name.lower(): name for name in table.header if name not in exclude}
    for candidate in WALL_TIME_COLUMNS:
        name = by_lower.get(candidate)
        if name is None:
            continue
        column = table.numbers(table.header.index(name))
        if column.is_numeric:
            return name, column.values
    return None, np.full(table.row_count, np.nan)


def _run_name(path: Path, root: Path, layout: str) -> str:
    """Lightning names a run by its version folder; a renamed copy is named by its file."""
    if layout == "lightning-csv" and path.name == LIGHTNING_FILE:
        return relative_name(path.parent, root)
    return relative_name(path, root)


def _require_log_columns(table: Table, path: Path) -> None:
    if _step_candidates(table.header) or any(_looks_like_metric(n) for n in table.header):
        return
    raise ReadError(
        path,
        "not a training log: no step-like column (step, epoch, iteration, ...) and no "
        "metric-like column (loss, acc, lr, ...)",
    )


def _header_only_run(table: Table, path: Path, root: Path, layout: str) -> Run:
    """A log created before anything was logged: a run with no points says it crashed early."""
    params, warnings = _lightning_params(path, layout)
    warnings.extend(table.warnings)
    warnings.extend(table.skipped.warnings(path.name))
    warnings.append("the file has a header but no data rows: nothing was logged")
    return Run(
        name=_run_name(path, root, layout),
        source=str(path),
        format=layout,
        params=params,
        metadata={"rows": "0"},
        warnings=tuple(warnings),
    )


def _read_wide(table: Table, path: Path, root: Path, layout: str, first_row: int = 0) -> Run:
    params, warnings = _lightning_params(path, layout)
    warnings.extend(table.warnings)
    step_name, step_column, step_warnings = _choose_step_column(
        table, _step_candidates(table.header)
    )
    warnings.extend(step_warnings)
    if step_column is None:
        steps = np.arange(first_row, first_row + table.row_count, dtype=np.float64)
        has_step = np.ones(table.row_count, dtype=bool)
        if not step_warnings:
            warnings.append("no step-like column: using row numbers (from 0) as steps")
    else:
        steps = step_column.values
        has_step = _usable_steps(steps, step_column.present, step_name, table)
    wall_name, wall_times = _wall_time_column(table, {step_name} if step_name else set())
    # The rows with a usable step, once (usually all): each column picks its filled cells.
    step_rows = slice(None) if has_step.all() else np.flatnonzero(has_step)
    row_steps, row_wall_times = steps[step_rows].astype(np.int64), wall_times[step_rows]
    shared = _SharedSteps(row_steps, row_wall_times if wall_name else None)
    curves: dict[str, Curve] = {}
    skipped: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(table.header):
        if name in (step_name, wall_name) or _is_index_column(name):
            continue
        if name in seen:
            warnings.append(f"column {name!r} appears more than once; using the first")
            continue
        seen.add(name)
        column = table.numbers(index)
        filled = np.flatnonzero(column.present[step_rows])
        if not column.is_numeric or not filled.size:
            skipped.append(name)
            continue
        if column.non_numeric:
            warnings.append(
                f"column {name!r}: skipped {column.non_numeric} cell(s) that are not numbers "
                f"(e.g. {column.example!r})"
            )
        curves[name] = ordered_curve(
            name, shared.steps(filled), column.values[step_rows][filled], shared.wall_times(filled)
        )
    if not curves:
        besides = f" besides the step column {step_name!r}" if step_name else ""
        raise ReadError(path, f"no numeric column{besides}")
    warnings.extend(table.skipped.warnings(path.name))
    metadata = {"step_column": step_name or "row number", "rows": str(table.row_count)}
    if skipped:
        metadata["skipped_columns"] = ", ".join(skipped)
    return Run(
        name=_run_name(path, root, layout),
        source=str(path),
        format=layout,
        curves=curves,
        params=params,
        metadata=metadata,
        warnings=tuple(warnings),
    )


class _SharedSteps:
    """The steps and wall times of the rows a column fills, one array for all the columns
    that fill the same rows (a Lightning log's training metrics), read-only like a curve's.
    Without a wall-time column every wall time is NaN: one value, not an array per curve."""

    def __init__(self, row_steps: np.ndarray, row_wall_times: np.ndarray | None) -> None:
        self.row_steps, self.row_wall_times = row_steps, row_wall_times
        self.last_rows: np.ndarray | None = None
        self.last_steps = self.last_wall_times = row_steps[:0]

    def steps(self, rows: np.ndarray) -> np.ndarray:
        if self.last_rows is None or not np.array_equal(rows, self.last_rows):
            self.last_rows = rows
            self.last_steps = self.row_steps[rows]
            self.last_steps.setflags(write=False)
            self.last_wall_times = self._wall_times(rows)
        return self.last_steps

    def wall_times(self, rows: np.ndarray) -> np.ndarray:
        self.steps(rows)
        return self.last_wall_times

    def _wall_times(self, rows: np.ndarray) -> np.ndarray:
        if self.row_wall_times is None:
            return np.broadcast_to(np.float64(np.nan), rows.shape)
        wall_times = self.row_wall_times[rows]
        wall_times.setflags(write=False)
        return wall_times


def _read_wandb(table: Table, path: Path, root: Path, first_row: int = 0) -> list[Run]:
    """A W&B chart export: the x axis, then `<run> - <metric>` columns with `__MIN`/`__MAX`
    bands. Run names may contain ` - ` themselves, so the metric is after the last one."""
    axis = table.header[0]
    step_name, step_column, step_warnings = _choose_step_column(table, _step_candidates([axis]))
    if step_column is None:
        steps = np.arange(first_row, first_row + table.row_count, dtype=np.float64)
        has_step = np.ones(table.row_count, dtype=bool)
        step_warnings.append(f"the x axis {axis!r} is not a step: using row numbers (from 0)")
    else:
        steps = step_column.values
        has_step = _usable_steps(steps, step_column.present, step_name, table)
    by_run: dict[str, dict[str, Curve]] = {}
    run_warnings: dict[str, list[str]] = {}
    for index, name in enumerate(table.header[1:], start=1):
        if name.endswith(WANDB_EXTREMES):
            continue
        match = WANDB_COLUMN.fullmatch(name)
        run, metric = match["run"], match["metric"]
        column = table.numbers(index)
        curves = by_run.setdefault(run, {})
        warnings = run_warnings.setdefault(run, [])
        keep = column.present & has_step
        if not column.is_numeric or not keep.any():
            warnings.append(f"column {name!r} holds no numbers; skipped")
            continue
        if column.non_numeric:
            warnings.append(
                f"column {name!r}: skipped {column.non_numeric} cell(s) that are not numbers"
            )
        curves[metric] = Curve.from_points(
            metric, steps[keep].astype(np.int64), column.values[keep]
        )
    if not any(by_run.values()):
        raise ReadError(path, "no numeric column in this W&B export")
    file_warnings = table.warnings + table.skipped.warnings(path.name) + step_warnings
    return [
        Run(
            name=f"{relative_name(path, root)}/{run}",
            source=str(path),
            format="wandb-csv",
            curves=curves,
            metadata={"step_column": step_name or "row number", "rows": str(table.row_count)},
            warnings=tuple(file_warnings + run_warnings[run]),
        )
        for run, curves in by_run.items()
    ]


def _read_long(table: Table, path: Path, root: Path) -> Run:
    """One point per row: (tag, step, value[, wall time])."""
    import pandas as pd

    lowered = [name.lower() for name in table.header]
    tag_name = next(table.header[lowered.index(n)] for n in LONG_TAG_COLUMNS if n in lowered)
    value_name = table.header[lowered.index("value")]
    step_name = _step_candidates(table.header)[0]
    tags = np.array(
        [tag.strip() for tag in table.cells(table.header.index(tag_name))], dtype=object
    )
    steps = table.numbers(table.header.index(step_name))
    values = table.numbers(table.header.index(value_name))
    _, wall_times = _wall_time_column(table, {step_name, value_name, tag_name})
    keep = _drop_rows(
        table,
        _usable_steps(steps.values, steps.present, step_name, table),
        (
            ("step not a whole number", steps.values != np.floor(steps.values)),
            ("no tag", tags == ""),
            ("no numeric value", ~values.present),
        ),
    )
    warnings = table.warnings + table.skipped.warnings(path.name)
    points = pd.DataFrame(
        {
            "tag": tags[keep],
            "step": steps.values[keep].astype(np.int64),
            "value": values.values[keep],
            "wall_time": wall_times[keep],
        }
    )
    curves = {
        str(tag): Curve.from_points(str(tag), group["step"], group["value"], group["wall_time"])
        for tag, group in points.groupby("tag", sort=False)
    }
    if not curves and table.row_count:
        raise ReadError(path, "no numeric column: no row has a tag, a step and a numeric value")
    return Run(
        name=relative_name(path, root),
        source=str(path),
        format="long-csv",
        curves=curves,
        metadata={"step_column": step_name, "rows": str(table.row_count)},
        warnings=tuple(warnings),
    )


def _lightning_params(path: Path, layout: str) -> tuple[dict[str, str], list[str]]:
    """Hyperparameters from the `hparams.yaml` Lightning writes beside `metrics.csv`."""
    if layout != "lightning-csv":
        return {}, []
    return read_hparams_beside(path.parent)


READER = CsvReader()
