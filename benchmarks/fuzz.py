"""Long fuzzing of the readers (issue 12, point 6): real logs damaged in many ways, each read in
a worker process under a time limit, counting what must never happen (a script, not a test).

The logs are the real ones in ../shared/fixtures beside the checkout (read from there, never
copied into the repository) and the repository's sample_logs. Each case copies one log, with
what its reader needs beside it (an MLflow metric file comes with its run and experiment),
into a temporary folder, damages it with one mutation, and reads the folder as lrdoctor does:
discovery finds the sources and each reader reads its own (any exception but `ReadError`
counts: `discovery.read_runs` would turn it into a problem and hide it). Every
`--cli-every`-th case is also audited by the `lrdoctor audit` command. Counted, per format
and mutation:

- exceptions: a traceback from the library or the command, or a reading process that died
  (a crash; a read may use `--memory` MiB of address space, past which it raises
  MemoryError, which counts too);
- hangs: a case not done within `--timeout` seconds (the worker is killed and replaced);
- writes: a byte of the copied folder changed, or a file added, by reading it;
- warnings: a Python warning raised while reading (it would reach the terminal);
- line losses: one damaged line of a text log (a data row of a CSV, a line of an MLflow
  metric file, a line of a log_history entry of a Trainer state) or one damaged record of a
  TensorBoard file cost more points than that line, entry or record holds (the same file
  without it), or every point of the file.

Mutations: `bit-flip` (1-8 bits anywhere), `truncate` (the file cut anywhere), `splice` (the
start of this log and the end of another), `chunk` (a piece of the file copied over another
place), and the single-line ones: `line-flip` (bytes inside one line or record flipped or
set to a byte that means something to a parser: a quote, a separator, a line end, a digit),
`line-cut` (the file cut inside one line or record), `line-delete`, `line-duplicate`.

The exit status is 1 when any exception, hang, write or line loss was found. A case is
replayed alone with the same `--seed` and `--case`:

    python benchmarks/fuzz.py --cases 3000 --seed 1 --seconds 1200
    python benchmarks/fuzz.py --seed 1 --case 417 --keep damaged/
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
FIXTURES = REPOSITORY.parent / "shared" / "fixtures"
SAMPLE_LOGS = REPOSITORY / "sample_logs"
sys.path.insert(0, str(REPOSITORY))

WHOLE_FILE_MUTATIONS = ("bit-flip", "truncate", "splice", "chunk")
LINE_MUTATIONS = ("line-flip", "line-cut", "line-delete", "line-duplicate")
CSV_SUFFIXES = (".csv", ".tsv", ".log")
TENSORBOARD_PREFIX = "events.out.tfevents"
# Warnings Python's default filters do not show.
QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
# Bytes that mean something to a parser: quotes, separators, line ends, parts of numbers.
TELLING_BYTES = b'"\',;\t\n\r .-+eEnNiI0123456789{}[]:\x00\xff'
COUNTS = ("exceptions", "hangs", "writes", "warnings", "line losses")


@dataclass(frozen=True)
class Log:
    """One real log: `kind` says how to copy and cut it; `files` maps each file copied to
    its place in the case folder, `target` is the place of the file that gets damaged."""

    kind: str
    origin: Path
    files: tuple[tuple[Path, str], ...]
    target: str


def find_logs(roots: list[Path]) -> dict[str, list[Log]]:
    """Every log under `roots`, by kind, in a fixed order (so a seed names the same cases)."""
    logs: dict[str, list[Log]] = defaultdict(list)
    for root in roots:
        for path in sorted(root.rglob("*")):
            log = _as_log(path) if path.is_file() else None
            if log is not None:
                logs[log.kind].append(log)
    return dict(logs)


def _as_log(path: Path) -> Log | None:
    if path.name.startswith(TENSORBOARD_PREFIX):
        return Log("tensorboard", path, ((path, f"run/{path.name}"),), f"run/{path.name}")
    if path.name == "trainer_state.json":
        place = "run/trainer_state.json"
        return Log("hf-trainer", path, ((path, place),), place)
    if path.suffix == ".db":
        return Log("mlflow-sqlite", path, ((path, path.name),), path.name)
    metrics = next((parent for parent in path.parents if parent.name == "metrics"), None)
    if metrics is not None:
        return _mlflow_metric_log(path, metrics)
    if path.suffix in CSV_SUFFIXES:
        return Log("csv", path, ((path, path.name),), path.name)
    return None


def _mlflow_metric_log(path: Path, metrics: Path) -> Log | None:
    """A metric file of a folder store, copied with its run and the experiment's meta.yaml."""
    run, experiment = metrics.parent, metrics.parent.parent
    if not (run / "meta.yaml").is_file() or not (experiment / "meta.yaml").is_file():
        return None
    place = f"mlruns/{experiment.name}"
    files = [(experiment / "meta.yaml", f"{place}/meta.yaml")]
    files += [
        (file, f"{place}/{run.name}/{file.relative_to(run).as_posix()}")
        for file in sorted(run.rglob("*"))
        if file.is_file()
    ]
    target = f"{place}/{run.name}/{path.relative_to(run).as_posix()}"
    return Log("mlflow", path, tuple(files), target)


# --- units: the lines of a text log, the records of a TensorBoard file ---------------------


@dataclass(frozen=True)
class Unit:
    """A line or record one damage may hit: bytes `start` to `end`; for a Trainer state, the
    log_history entry the line belongs to."""

    start: int
    end: int
    entry: int | None = None

    def without(self, data: bytes) -> bytes:
        """The log without this line or record (a Trainer state: without its entry)."""
        if self.entry is None:
            return data[: self.start] + data[self.end :]
        entry = self.entry
        return _with_history(data, lambda history: history[:entry] + history[entry + 1 :])

    def before(self, data: bytes) -> bytes:
        """The log cut before this line or record (a Trainer state: before its entry)."""
        if self.entry is None:
            return data[: self.start]
        entry = self.entry
        return _with_history(data, lambda history: history[:entry])


def _with_history(data: bytes, change) -> bytes:
    """A Trainer state with its log_history changed by `change`, indented as the Trainer does."""
    state = json.loads(data)
    return json.dumps({**state, "log_history": change(state["log_history"])}, indent=2).encode()


@functools.cache
def units(log: Log) -> tuple[Unit, ...]:
    """The lines of a text log (a CSV's header is not one), the records of a TensorBoard file,
    the lines of a Trainer state's log_history entries."""
    data = log.origin.read_bytes()
    if log.kind == "tensorboard":
        spans = _records(data)
    elif log.kind in ("csv", "mlflow"):
        spans = _lines(data)[1:] if log.kind == "csv" else _lines(data)
    elif log.kind == "hf-trainer":
        return _entry_lines(data)
    else:
        return ()
    return tuple(Unit(start, end) for start, end in spans)


def _lines(data: bytes) -> list[tuple[int, int]]:
    spans, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        if data[start:end].strip():
            spans.append((start, end))
        start = end
    return spans


def _entry_lines(data: bytes) -> tuple[Unit, ...]:
    """Each line of each log_history entry of a Trainer's indented state (json.dumps with
    indent=2: an entry opens with a line `    {` and closes with `    }`)."""
    try:
        state = json.loads(data)
    except ValueError:
        return ()
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        return ()
    found, entry, opened = [], -1, False
    for start, end in _lines(data):
        line = data[start:end].rstrip()
        if line == b"    {":
            entry, opened = entry + 1, True
        if opened:
            found.append(Unit(start, end, entry))
        if line in (b"    }", b"    },"):
            opened = False
    return tuple(found) if entry + 1 == len(history) else ()


def _records(data: bytes) -> list[tuple[int, int]]:
    spans, start = [], 0
    while start + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, start)
        end = start + 12 + length + 4
        if end > len(data):
            break
        spans.append((start, end))
        start = end
    return spans


# --- mutations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Damage:
    """A damaged copy of a log; `reference`, for a single-line damage, is the same log
    without that line (or cut before it): the damaged copy must keep at least its points."""

    mutation: str
    data: bytes
    detail: str
    reference: bytes | None = None


def damage(log: Log, data: bytes, mutation: str, rng: random.Random, other: bytes) -> Damage:
    size = len(data)
    if mutation == "bit-flip":
        damaged = bytearray(data)
        spots = sorted(rng.randrange(size) for _ in range(rng.randint(1, 8)))
        for spot in spots:
            damaged[spot] ^= 1 << rng.randrange(8)
        return Damage(mutation, bytes(damaged), f"bits flipped at {spots}")
    if mutation == "truncate":
        cut = rng.randrange(size)
        return Damage(mutation, data[:cut], f"cut at byte {cut} of {size}")
    if mutation == "splice":
        cut, other_cut = rng.randrange(size + 1), rng.randrange(len(other) + 1)
        return Damage(
            mutation, data[:cut] + other[other_cut:], f"bytes 0-{cut} + other from {other_cut}"
        )
    if mutation == "chunk":
        start, at = rng.randrange(size), rng.randrange(size)
        chunk = data[start : start + rng.randint(1, 256)]
        damaged = data[:at] + chunk + data[at + len(chunk) :]
        return Damage(mutation, damaged, f"{len(chunk)} bytes from {start} over {at}")
    unit = rng.choice(units(log))
    start, end = unit.start, unit.end
    where = f"line/record at bytes {start}-{end}"
    if mutation == "line-flip":
        damaged = bytearray(data)
        content_end = end - 1 if data[end - 1 : end] == b"\n" else end
        spots = sorted({rng.randrange(start, content_end) for _ in range(rng.randint(1, 4))})
        for spot in spots:
            if rng.random() < 0.5:
                damaged[spot] = rng.choice(TELLING_BYTES)
            else:
                damaged[spot] ^= rng.randint(1, 255)
        reference = unit.without(data)
        return Damage(mutation, bytes(damaged), f"{where}, bytes changed at {spots}", reference)
    if mutation == "line-cut":
        cut = rng.randrange(start + 1, end) if end - start > 1 else start
        return Damage(mutation, data[:cut], f"{where}, cut at {cut}", unit.before(data))
    if mutation == "line-delete":
        return Damage(mutation, data[:start] + data[end:], where)
    if mutation == "line-duplicate":
        # a Trainer state's entry with a line twice is not valid JSON: it may cost that entry
        reference = unit.without(data) if log.kind == "hf-trainer" else data
        return Damage(mutation, data[:end] + data[start:], where, reference)
    raise ValueError(mutation)


# --- reading in a worker process -----------------------------------------------------------


def read_folder(folder: str) -> dict:
    """What lrdoctor reads from `folder`: its points, the formats of its runs, the traceback
    of an exception that escaped a reader, and the warnings raised."""
    from lrdoctor.discovery import find_sources
    from lrdoctor.readers import ReadError, ReadOptions, registry

    outcome: dict = {"points": 0, "formats": [], "error": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for quiet in QUIET_WARNINGS:
            warnings.simplefilter("ignore", quiet)
        try:
            sources, _ = find_sources([folder])
            for source in sources:
                reader = registry()[source.reader]
                try:
                    runs = reader.read(Path(source.location), Path(source.root), ReadOptions())
                except ReadError:  # unreadable as a whole: reported, not an exception
                    continue
                outcome["points"] += sum(run.total_points for run in runs)
                outcome["formats"] += [run.format for run in runs]
        except Exception:
            outcome["error"] = traceback.format_exc()
    outcome["warnings"] = [f"{item.category.__name__}: {item.message}" for item in caught]
    return outcome


def _serve(connection, memory_limit: int) -> None:
    """Read the folders the fuzzer sends until it goes away, in at most `memory_limit` bytes
    of address space (a reader that asks for more raises MemoryError, which counts)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    while True:
        try:
            folder = connection.recv()
        except EOFError:
            return
        connection.send(read_folder(folder))


class Worker:
    """A forked process that reads folders; killed and replaced when a read overruns."""

    def __init__(self, memory_limit: int) -> None:
        self.memory_limit = memory_limit
        self.process = None
        self.connection = None

    def read(self, folder: Path, timeout: float) -> dict | None:
        """The outcome of reading `folder`, or None when it took longer than `timeout`."""
        if self.process is None or not self.process.is_alive():
            self._start()
        self.connection.send(str(folder))
        if not self.connection.poll(timeout):
            self.stop()
            return None
        try:
            return self.connection.recv()
        except EOFError:  # the worker died: a crash, or past its memory limit
            self.process.join()
            error = f"the reading process died (exit status {self.process.exitcode})"
            self.process = None
            return {"points": 0, "formats": [], "error": error, "warnings": []}

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, self.memory_limit), daemon=True)
        self.process.start()
        child.close()  # the worker's end: held here, a dead worker would never be noticed

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.process = None


def _warm_imports() -> None:
    """Imports every fork of the worker would repeat otherwise."""
    import pandas  # noqa: F401

    from lrdoctor.readers import registry

    registry()


# --- one case ------------------------------------------------------------------------------


@dataclass
class Tally:
    cases: int = 0
    cli: int = 0
    counts: Counter = field(default_factory=Counter)


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _lay_out(log: Log, data: bytes, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for source, place in log.files:
        (folder / place).parent.mkdir(parents=True, exist_ok=True)
        if place == log.target:
            (folder / place).write_bytes(data)
        else:
            shutil.copyfile(source, folder / place)


@dataclass
class Reading:
    """A read of one damaged folder, and what went wrong in it."""

    outcome: dict | None
    wrote: bool
    cli_problem: str = ""


class Fuzzer:
    def __init__(self, logs: dict[str, list[Log]], arguments, scratch: Path) -> None:
        self.logs, self.arguments, self.scratch = logs, arguments, scratch
        self.kinds = sorted(logs)
        self.worker = Worker(arguments.memory << 20)
        self.clean_points: dict[Path, tuple[int, str]] = {}
        self.tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self.failures: list[str] = []

    def read(self, log: Log, data: bytes, with_cli: bool = False) -> Reading:
        folder = self.scratch / "case"
        _lay_out(log, data, folder)
        before = _folder_digest(folder)
        outcome = self.worker.read(folder, self.arguments.timeout)
        cli_problem = self._audit(folder) if with_cli and outcome is not None else ""
        return Reading(outcome, _folder_digest(folder) != before, cli_problem)

    def _audit(self, folder: Path) -> str:
        """'' when `lrdoctor audit` of `folder` ends with status 0, 1 or 2 and no traceback."""
        command = [sys.executable, "-m", "lrdoctor", "audit", str(folder), "--format", "json"]
        command += ["--jobs", "1"]
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=self.arguments.timeout * 4, cwd=REPOSITORY
            )
        except subprocess.TimeoutExpired:
            return "hang"
        stderr = done.stderr.decode(errors="replace")
        if done.returncode not in (0, 1, 2) or "Traceback" in stderr:
            return f"exit status {done.returncode}: {stderr[-1500:]}"
        return ""

    def points_of(self, log: Log, data: bytes) -> int | None:
        reading = self.read(log, data)
        return None if reading.outcome is None else reading.outcome["points"]

    def clean(self, log: Log, data: bytes) -> tuple[int, str]:
        """The points and format of the undamaged log (read once)."""
        if log.origin not in self.clean_points:
            outcome = self.read(log, data).outcome or {"points": 0, "formats": []}
            formats = sorted(set(outcome["formats"]))
            self.clean_points[log.origin] = (outcome["points"], formats[0] if formats else "")
        return self.clean_points[log.origin]

    def run_case(self, index: int) -> Damage:
        rng = random.Random(f"{self.arguments.seed}:{index}")
        kind = rng.choice(self.kinds)
        log = rng.choice(self.logs[kind])
        data = log.origin.read_bytes()
        points, format_name = self.clean(log, data)
        mutations = WHOLE_FILE_MUTATIONS + (LINE_MUTATIONS if units(log) else ())
        mutation = rng.choice(mutations) if data else "splice"
        other_kind = kind if rng.random() < 0.7 else rng.choice(self.kinds)
        other = rng.choice(self.logs[other_kind]).origin.read_bytes()
        damaged = damage(log, data, mutation, rng, other)
        with_cli = self.arguments.cli_every > 0 and index % self.arguments.cli_every == 0
        reading = self.read(log, damaged.data, with_cli)
        label = (format_name or "unreadable") if kind == "csv" else kind
        tally = self.tallies[(label, mutation)]
        tally.cases += 1
        tally.cli += with_cli
        found = self._judge(log, damaged, points, reading)
        for count, note in found:
            tally.counts[count] += 1
            if count != "warnings":
                self.failures.append(
                    f"case {index} ({count}): {_shown(log.origin)}, {mutation}, "
                    f"{damaged.detail}\n{note}"
                )
        if found and self.arguments.keep:
            _keep(Path(self.arguments.keep), index, log, damaged, found)
        return damaged

    def _judge(
        self, log: Log, damaged: Damage, clean_points: int, reading: Reading
    ) -> list[tuple[str, str]]:
        found = []
        if reading.outcome is None or reading.cli_problem == "hang":
            found.append(("hangs", "no answer within the time limit"))
        if reading.cli_problem and reading.cli_problem != "hang":
            found.append(("exceptions", f"lrdoctor audit: {reading.cli_problem}"))
        if reading.wrote:
            found.append(("writes", "the folder changed while it was read"))
        if reading.outcome is None:
            return found
        if reading.outcome["error"]:
            found.append(("exceptions", reading.outcome["error"]))
        if reading.outcome["warnings"]:
            found.append(("warnings", "; ".join(reading.outcome["warnings"][:3])))
        if damaged.reference is not None and clean_points and not reading.outcome["error"]:
            expected = self.points_of(log, damaged.reference)
            got = reading.outcome["points"]
            if expected is not None and got < expected:
                whole = "all points" if got == 0 else f"{expected - got} points more"
                found.append(
                    ("line losses", f"{whole}: {got} read, {expected} without that line")
                )
        return found

    def close(self) -> None:
        self.worker.stop()


def _shown(path: Path) -> str:
    for root, name in ((FIXTURES, "fixtures"), (REPOSITORY, "")):
        if path.is_relative_to(root):
            return f"{name}/{path.relative_to(root)}".lstrip("/")
    return str(path)


def _keep(folder: Path, index: int, log: Log, damaged: Damage, found) -> None:
    """The damaged file of a case and what was found, to look at or to turn into a test."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"case-{index}-{Path(log.target).name}").write_bytes(damaged.data)
    note = {"log": _shown(log.origin), "mutation": damaged.mutation, "detail": damaged.detail}
    note["found"] = [{"count": count, "note": text} for count, text in found]
    (folder / f"case-{index}.json").write_text(json.dumps(note, indent=2) + "\n")


def print_table(tallies: dict[tuple[str, str], Tally]) -> None:
    header = f"{'format':<16} {'mutation':<15} {'cases':>6} {'cli':>4}"
    print(header + "".join(f" {count:>11}" for count in COUNTS))
    total = Tally()
    for (format_name, mutation), tally in sorted(tallies.items()):
        row = f"{format_name:<16} {mutation:<15} {tally.cases:>6} {tally.cli:>4}"
        print(row + "".join(f" {tally.counts[count]:>11}" for count in COUNTS))
        total.cases += tally.cases
        total.cli += tally.cli
        total.counts.update(tally.counts)
    row = f"{'all':<16} {'':<15} {total.cases:>6} {total.cli:>4}"
    print(row + "".join(f" {total.counts[count]:>11}" for count in COUNTS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="stop after this many cases")
    parser.add_argument("--seconds", type=float, default=600, help="or after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", type=int, help="replay this one case of --seed")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per read")
    parser.add_argument("--memory", type=int, default=4096, help="MiB of address space per read")
    parser.add_argument("--cli-every", type=int, default=50, help="audit every Nth case too")
    parser.add_argument("--keep", help="write each case that finds something to this folder")
    arguments = parser.parse_args()
    roots = [root for root in (FIXTURES, SAMPLE_LOGS) if root.is_dir()]
    logs = find_logs(roots)
    print(
        "logs: "
        + ", ".join(f"{len(found)} {kind}" for kind, found in sorted(logs.items()))
        + f" (from {', '.join(_shown(root) for root in roots)})"
    )
    _warm_imports()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lrdoctor-fuzz-") as scratch:
        fuzzer = Fuzzer(logs, arguments, Path(scratch))
        try:
            if arguments.case is not None:
                damaged = fuzzer.run_case(arguments.case)
                print(f"case {arguments.case}: {damaged.mutation}, {damaged.detail}")
            else:
                index = 0
                while index < arguments.cases and time.perf_counter() - started < arguments.seconds:
                    fuzzer.run_case(index)
                    index += 1
        finally:
            fuzzer.close()
    print(f"{sum(t.cases for t in fuzzer.tallies.values())} cases in "
          f"{time.perf_counter() - started:.0f} s, seed {arguments.seed}")
    print_table(fuzzer.tallies)
    for failure in fuzzer.failures[:20]:
        print("\n" + failure.rstrip())
    if len(fuzzer.failures) > 20:
        print(f"\n... and {len(fuzzer.failures) - 20} more")
    return 1 if fuzzer.failures else 0


if __name__ == "__main__":
    sys.exit(main())
