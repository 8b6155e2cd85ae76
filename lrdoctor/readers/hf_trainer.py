"""Hugging Face Trainer output folders, read from `trainer_state.json`.

The Trainer writes its whole `log_history` into `trainer_state.json` at the end of training
and into every `checkpoint-<step>/` on the way, so the folder holds several copies of one
history, each a prefix of the latest. One run is read from the copy with the largest
`global_step`; a copy that is not a prefix of it is reported, since it means two runs shared
the output folder.

With `report_to="tensorboard"` (the default of transformers 4 when tensorboard is installed)
the Trainer also logs the same entries to TensorBoard under `runs/<date>_<host>/`. The output
folder's claim owns `runs/`, so one training is one run, not two.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from lrdoctor.model import Curve, Run
from lrdoctor.readers.base import (
    Claim,
    ReadError,
    ReadOptions,
    Skipped,
    fits_int64,
    relative_name,
)
from lrdoctor.readers.tensorboard import is_event_file_name

STATE_FILE = "trainer_state.json"
CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+)")
# TrainingArguments.logging_dir's default: output_dir/runs/<date>_<host>.
TENSORBOARD_DIR = "runs"
# Top-level settings that say how the run was configured (the rest describes its outcome).
PARAM_KEYS = (
    "train_batch_size",
    "logging_steps",
    "eval_steps",
    "save_steps",
    "max_steps",
    "num_train_epochs",
)
OUTCOME_KEYS = (
    "global_step",
    "epoch",
    "best_metric",
    "best_global_step",
    "best_model_checkpoint",
    "total_flos",
    "num_input_tokens_seen",
)
# Only the end-of-training summary entry carries these; its values describe the whole run.
SUMMARY_MARKERS = ("train_runtime", "train_loss")


class HfTrainerReader:
    """Reads a Trainer output folder (or one `trainer_state.json`) into one run."""

    name = "hf-trainer"

    def claim(self, directory: Path, dirnames: list[str], filenames: list[str]) -> list[Claim]:
        checkpoints = tuple(
            name
            for name in dirnames
            if CHECKPOINT_DIR.fullmatch(name) and (directory / name / STATE_FILE).is_file()
        )
        has_state = STATE_FILE in filenames
        if not (has_state or checkpoints):
            return []
        if TENSORBOARD_DIR in dirnames and _tensorboard_logs(directory):
            checkpoints += (TENSORBOARD_DIR,)
        return [
            Claim(
                directory,
                owned_dirs=checkpoints,
                owned_files=(STATE_FILE,) if has_state else (),
            )
        ]

    def can_read(self, path: Path) -> bool:
        if path.is_file():
            return path.name == STATE_FILE
        return bool(_state_files(path))

    def read(self, path: Path, root: Path, options: ReadOptions) -> list[Run]:
        output_dir = path.parent if path.is_file() else path
        files = [path] if path.is_file() else _state_files(path)
        if not files:
            raise ReadError(path, f"no {STATE_FILE} here or in checkpoint-* sub-folders")
        states, errors = [], []
        for file in files:
            try:
                states.append(_load_state(file))
            except ReadError as error:
                errors.append(error)
        if not states:
            if len(errors) == 1:
                raise errors[0]
            raise ReadError(output_dir, "; ".join(str(error) for error in errors))
        # Ties go to the earliest file: the top-level state, which also holds the summary.
        _, chosen = max(enumerate(states), key=lambda item: (item[1].global_step, -item[0]))
        warnings = [f"{error.source}: {error.problem}; ignored" for error in errors]
        warnings += [
            f"{state.file}: {state.damage}; ignored"
            for state in states
            if state.damage and state is not chosen
        ]
        warnings += [
            f"{_shown(state.file, output_dir)} is not a prefix of "
            f"{_shown(chosen.file, output_dir)}: the folder may hold checkpoints of another run"
            for state in states
            if state is not chosen and not _is_prefix(state.history, chosen.history)
        ]
        return [_to_run(chosen, relative_name(output_dir, root), output_dir, warnings)]


@dataclass(frozen=True)
class _State:
    file: Path
    raw: dict
    history: list[dict]
    global_step: int
    damage: str = ""
    """Why the file was read entry by entry ("" when it is valid JSON)."""
    damaged_lines: tuple[int, ...] = ()
    """The lines where a damaged entry starts, each skipped."""


def _state_files(directory: Path) -> list[Path]:
    """The top-level state first, then checkpoints by step."""
    top = [directory / STATE_FILE] if (directory / STATE_FILE).is_file() else []
    try:
        children = list(directory.iterdir())
    except OSError:
        return top
    checkpoints = sorted(
        (int(match[1]), child / STATE_FILE)
        for child in children
        if (match := CHECKPOINT_DIR.fullmatch(child.name)) and (child / STATE_FILE).is_file()
    )
    return top + [file for _, file in checkpoints]


def _tensorboard_logs(output_dir: Path) -> list[str]:
    """The Trainer's TensorBoard folders (`runs/<date>_<host>`) holding event files."""
    logs = output_dir / TENSORBOARD_DIR
    try:
        folders = sorted(child for child in logs.iterdir() if child.is_dir())
        return [
            folder.relative_to(output_dir).as_posix()
            for folder in folders
            if any(is_event_file_name(entry.name) for entry in folder.iterdir())
        ]
    except OSError:
        return []


def _load_state(file: Path) -> _State:
    try:
        data = file.read_bytes()
    except OSError as error:
        raise ReadError(file, f"cannot be opened ({error.strerror})") from error
    try:
        text = data.decode("utf-8")
        raw = json.loads(text, parse_int=_json_int)
    except UnicodeDecodeError as error:
        problem = f"undecodable bytes at offset {error.start}"
        return _salvaged_state(file, data.decode("utf-8", errors="replace"), problem)
    except json.JSONDecodeError as error:
        problem = f"invalid JSON at line {error.lineno} column {error.colno} ({error.msg})"
        return _salvaged_state(file, text, problem)
    if not isinstance(raw, dict) or not isinstance(raw.get("log_history"), list):
        raise ReadError(file, "no log_history list: not a Trainer state")
    return _state(file, raw, [entry for entry in raw["log_history"] if isinstance(entry, dict)])


def _state(file: Path, raw: dict, history: list[dict], damage: str = "", damaged=()) -> _State:
    global_step = raw.get("global_step")
    if _step_problem(global_step):
        steps = [entry.get("step") for entry in history]
        global_step = max((step for step in steps if not _step_problem(step)), default=0)
    return _State(file, raw, history, int(global_step), damage, tuple(damaged))


def _salvaged_state(file: Path, text: str, problem: str) -> _State:
    """The state of a damaged file, its log_history read entry by entry: damage costs the
    entries it touches, not the file. Nothing salvaged is the `problem` as a `ReadError`."""
    key = text.find('"log_history"')
    position = text.find("[", key) + 1 if key >= 0 else 0
    # Where the Trainer closes the list: a `]` before it is damage, not the end.
    closing = text.rfind("\n  ]")
    decoder = json.JSONDecoder(parse_int=_json_int)
    history: list[dict] = []
    damaged: list[int] = []
    while position:
        position = _past_separators(text, position)
        if position >= len(text) or (text[position] == "]" and position > closing):
            break
        entry, end = _decoded_entry(decoder, text, position)
        if entry is None:
            damaged.append(text.count("\n", 0, position) + 1)
            end = text.find("{", position + 1)
        else:
            history.append(entry)
        position = end if end > 0 else 0
    if not history:
        raise ReadError(file, problem)
    raw = {
        match["key"]: value
        for match in _TOP_LEVEL_SCALAR.finditer(text)
        if (value := _json_scalar(match["value"])) is not None
    }
    return _state(file, raw, history, problem, damaged)


# A top-level `"key": value` line of the Trainer's indented JSON (indent=2).
_TOP_LEVEL_SCALAR = re.compile(r'^  "(?P<key>\w+)": (?P<value>[^\[{\n]*?),?$', re.MULTILINE)


def _past_separators(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n,":
        position += 1
    return position


def _decoded_entry(decoder: json.JSONDecoder, text: str, start: int) -> tuple[dict | None, int]:
    """The entry that starts at `start` and where it ends; None when it is damaged."""
    if text[start] != "{":
        return None, start
    try:
        entry, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError:
        return None, start
    if not isinstance(entry, dict) or "\ufffd" in text[start:end]:
        return None, start
    return entry, end


def _json_scalar(text: str) -> object:
    try:
        return json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError:
        return None


def _json_int(text: str) -> int | float:
    """A JSON integer; one past Python's digit limit for int() is read as a float (infinite),
    so it costs its entry instead of the file."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _step_problem(step: object) -> str:
    """Why `step` cannot place an entry's values on the step axis ("" when it can): Python's
    json reads NaN, Infinity and integers of any size, and none of those is a step."""
    if not _is_number(step):
        return "no step"
    if isinstance(step, float):
        if math.isnan(step):
            return "step is NaN"
        if math.isinf(step):
            return "step out of range"
        if not step.is_integer():
            return "step not a whole number"
    return "" if fits_int64(int(step)) else "step out of range"


def _as_float(value: int | float) -> float:
    """A logged value as a float; an integer too large for one is infinite, as json reads
    the same number written with an exponent."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _is_summary(entry: dict) -> bool:
    return any(key in entry for key in SUMMARY_MARKERS) and "loss" not in entry


def _is_prefix(shorter: list[dict], longer: list[dict]) -> bool:
    """Entries compared as JSON text, so a logged NaN equals itself."""
    logged = [_canonical(entry) for entry in shorter if not _is_summary(entry)]
    latest = [_canonical(entry) for entry in longer if not _is_summary(entry)]
    return latest[: len(logged)] == logged


def _canonical(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True)


def _shown(file: Path, output_dir: Path) -> str:
    return file.relative_to(output_dir).as_posix()


def _to_run(state: _State, name: str, output_dir: Path, warnings: list[str]) -> Run:
    points: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    metadata = {"trainer_state": _shown(state.file, output_dir)}
    skipped = Skipped("log_history entry", "log_history entries")
    if state.damage:
        warnings.append(f"{state.file}: {state.damage}; log_history read entry by entry")
        if state.damaged_lines:
            first = f"first at line {state.damaged_lines[0]}"
            skipped.add("not valid JSON", len(state.damaged_lines), first=first)
    for entry in state.history:
        if _is_summary(entry):
            metadata.update(
                {key: str(value) for key, value in entry.items() if key not in ("step", "epoch")}
            )
            continue
        step = entry.get("step")
        if problem := _step_problem(step):
            skipped.add(problem)
            continue
        for key, value in entry.items():
            if key != "step" and _is_number(value):
                steps, values = points[key]
                steps.append(int(step))
                values.append(_as_float(value))
    warnings.extend(skipped.warnings(_shown(state.file, output_dir)))
    if not state.history:
        warnings.append("log_history is empty: the Trainer saved state before logging anything")
    for key in OUTCOME_KEYS:
        if state.raw.get(key) is not None:
            metadata[key] = str(state.raw[key])
    params = {key: str(state.raw[key]) for key in PARAM_KEYS if state.raw.get(key) is not None}
    if tensorboard_logs := _tensorboard_logs(output_dir):
        metadata["tensorboard_logs"] = ", ".join(tensorboard_logs)
    return Run(
        name=name,
        source=str(state.file),
        format="hf-trainer",
        curves={tag: Curve.from_points(tag, *xy) for tag, xy in points.items()},
        params=params,
        metadata=metadata,
        warnings=tuple(warnings),
    )


READER = HfTrainerReader()
