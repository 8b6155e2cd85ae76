"""Benchmark lrdoctor's TensorBoard reader against tbparse on the same event files.

Writes a workload with tensorboardX (once; cached in the temp directory, keyed by the
parameters): RUNS runs x 4 tags x STEPS steps plus a sparse validation tag, and one run of
BIG_POINTS points. Reads the runs with both readers, checks that every curve has identical
steps, values and counts, and prints scalars/second, the speed ratio, and each reader's peak
memory on the big run, each measured in a child process of its own.

Times of the readers alone are CPU seconds of this process (both readers use one core), so
other work on the machine does not skew the ratio. Then whole processes side by side:
`lrdoctor runs` on the runs folder against a script reading it with tbparse (wall and CPU
time, peak RSS, paired runs, with `lrdoctor runs` on a run of one point beside them: the
start-up that every command pays), and `lrdoctor runs` and `lrdoctor audit` on the big run.

    python benchmarks/read_tensorboard.py              # the full workload (~1.6 M + 2 M points)
    python benchmarks/read_tensorboard.py --runs 2 --steps 2000 --big-points 100000
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from _measure import lrdoctor_command, measure, python_command, side_by_side
from tbparse import SummaryReader
from tensorboardX import SummaryWriter

from lrdoctor.readers.base import ReadOptions
from lrdoctor.readers.tensorboard import READER

TRAIN_TAGS = ("train/loss", "train/lr", "train/grad_norm", "train/accuracy")
VAL_TAG = "val/loss"
VAL_EVERY = 500
WORKLOAD_VERSION = 1
MAXRSS_UNIT_BYTES = 1 if sys.platform == "darwin" else 1024
TBPARSE_READS = (
    "import sys\n"
    "from tbparse import SummaryReader\n"
    "SummaryReader(sys.argv[1], pivot=False, extra_columns={'dir_name'}).scalars\n"
)


def _train_values(run_index: int, steps: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(run_index)
    decay = 1.0 + steps / (1000.0 * (1 + run_index % 5))
    values = {
        "train/loss": 2.0 / decay + rng.normal(0.0, 0.05, steps.size),
        "train/lr": np.full(steps.size, 1e-3 * (1 + run_index)),
        "train/grad_norm": np.abs(rng.normal(1.0, 0.3, steps.size)),
        "train/accuracy": 1.0 - 1.0 / decay,
    }
    if run_index == 0 and steps.size > 20:
        values["train/loss"][10] = math.nan  # NaN and inf are data: both readers keep them
        values["train/loss"][20] = math.inf
    return values


def _write_run(job: tuple[Path, int, int, bool]) -> None:
    """Write one run with tensorboardX, as a training script would (one call per scalar)."""
    run_dir, run_index, steps, with_val = job
    step_numbers = np.arange(steps)
    values = _train_values(run_index, step_numbers)
    writer = SummaryWriter(str(run_dir), max_queue=10_000, flush_secs=600)
    for step in range(steps):
        for tag in TRAIN_TAGS:
            writer.add_scalar(tag, float(values[tag][step]), step)
        if with_val and step % VAL_EVERY == 0:
            writer.add_scalar(VAL_TAG, 2.5 / (1.0 + step / 1000.0), step)
    writer.close()


def prepare_workload(runs: int, steps: int, big_points: int) -> tuple[Path, Path]:
    """The workload's runs folder and big-run folder, written now unless cached."""
    key = f"r{runs}-s{steps}-b{big_points}-v{WORKLOAD_VERSION}"
    base = Path(tempfile.gettempdir()) / f"lrdoctor-bench-tensorboard-{key}"
    runs_dir, big_dir = base / "runs", base / "big" / "run_big"
    complete = base / "complete"
    if complete.exists():
        print(f"workload: cached in {base}")
        return runs_dir, big_dir
    print(f"workload: writing to {base} with tensorboardX (slow, done once) ...", flush=True)
    started = time.perf_counter()
    big_job = (big_dir, runs, big_points // len(TRAIN_TAGS), False)
    run_jobs = [(runs_dir / f"run_{index:02d}", index, steps, True) for index in range(runs)]
    jobs = [big_job, *run_jobs]
    with Pool(2) as pool:
        pool.map(_write_run, jobs, chunksize=1)
    complete.write_text("written\n")
    print(f"workload: written in {time.perf_counter() - started:.0f} s")
    return runs_dir, big_dir


def startup_run(base: Path) -> Path:
    """A run of one point, for the whole-process cost of `lrdoctor runs` without the reading
    (Python, imports, discovery, the table)."""
    run_dir = base / "startup" / "run_one_point"
    if not any(run_dir.glob("*tfevents*")):
        writer = SummaryWriter(str(run_dir))
        writer.add_scalar("train/loss", 1.0, 0)
        writer.close()
    return run_dir.parent


def read_with_lrdoctor(run_dirs: list[Path], root: Path) -> dict[tuple[str, str], tuple]:
    curves = {}
    for run_dir in run_dirs:
        for run in READER.read(run_dir, root, ReadOptions()):
            for tag, curve in run.curves.items():
                curves[(run.name, tag)] = (curve.steps, curve.values)
    return curves


def read_with_tbparse(root: Path) -> dict[tuple[str, str], tuple]:
    frame = SummaryReader(str(root), pivot=False, extra_columns={"dir_name"}).scalars
    curves = {}
    for (dir_name, tag), group in frame.groupby(["dir_name", "tag"], sort=False):
        ordered = group.sort_values("step", kind="stable")
        curves[(dir_name or root.name, tag)] = (
            ordered["step"].to_numpy(np.int64),
            ordered["value"].to_numpy(np.float64),
        )
    return curves


def _point_count(curves: dict) -> int:
    return sum(steps.size for steps, _ in curves.values())


def differences(ours: dict, theirs: dict) -> list[str]:
    """Where the two readers disagree (empty when steps, values and counts are identical)."""
    problems = []
    if set(ours) != set(theirs):
        problems.append(f"curves differ: {sorted(set(ours) ^ set(theirs))[:5]}")
    for key in sorted(set(ours) & set(theirs)):
        (our_steps, our_values), (their_steps, their_values) = ours[key], theirs[key]
        if our_steps.size != their_steps.size:
            problems.append(f"{key}: {our_steps.size} points vs {their_steps.size}")
        elif not np.array_equal(our_steps, their_steps):
            problems.append(f"{key}: steps differ")
        elif not np.array_equal(our_values, their_values, equal_nan=True):
            problems.append(f"{key}: values differ")
    return problems


def measure_in_child(reader: str, run_dir: Path) -> dict:
    """Time and peak memory of one reader on one run, in a fresh interpreter."""
    output = subprocess.run(
        [sys.executable, __file__, "--measure", reader, str(run_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _peak_rss_bytes() -> int:
    """This process's peak resident memory.

    On Linux ru_maxrss survives execve (a child started from a big parent reports the
    parent's peak), so the address space's own high-water mark, VmHWM, is used there.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * MAXRSS_UNIT_BYTES


def _measure(reader: str, run_dir: Path) -> None:
    """Child-process side of `measure_in_child`: prints one JSON line. Both readers are
    imported already, so the baseline is the same for both."""
    baseline = _peak_rss_bytes()
    started = time.process_time()
    if reader == "lrdoctor":
        curves = read_with_lrdoctor([run_dir], run_dir.parent)
    else:
        curves = read_with_tbparse(run_dir)
    points = _point_count(curves)
    seconds = time.process_time() - started
    result = {"points": points, "seconds": seconds, "baseline": baseline, "peak": _peak_rss_bytes()}
    print(json.dumps(result))


def _megabytes(count: float) -> str:
    return f"{count / 1e6:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--big-points", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="paired whole-process runs")
    parser.add_argument("--measure", nargs=2, metavar=("READER", "RUN_DIR"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        _measure(arguments.measure[0], Path(arguments.measure[1]))
        return 0

    runs_dir, big_dir = prepare_workload(arguments.runs, arguments.steps, arguments.big_points)
    run_dirs = sorted(path for path in runs_dir.iterdir() if path.is_dir())
    files = sorted(runs_dir.rglob("*tfevents*"))
    size = sum(path.stat().st_size for path in files)

    started = time.process_time()
    ours = read_with_lrdoctor(run_dirs, runs_dir)
    our_seconds = time.process_time() - started
    started = time.process_time()
    theirs = read_with_tbparse(runs_dir)
    their_seconds = time.process_time() - started

    points = _point_count(ours)
    problems = differences(ours, theirs)
    print(
        f"workload: {len(run_dirs)} runs, {len(ours)} curves, {points:,} scalars "
        f"in {len(files)} files ({_megabytes(size)})"
    )
    print(f"  lrdoctor: {our_seconds:7.2f} CPU s  {points / our_seconds:>12,.0f} scalars/s")
    their_points = _point_count(theirs)
    print(
        f"  tbparse:  {their_seconds:7.2f} CPU s  {their_points / their_seconds:>12,.0f} scalars/s"
    )
    print(f"  speed ratio: {their_seconds / our_seconds:.1f}x")
    verdict = "identical" if not problems else "DIFFERENT: " + "; ".join(problems[:5])
    print(f"  steps, values and counts: {verdict}")

    print(f"big run: {arguments.big_points:,} points, one child process per reader")
    for reader in ("lrdoctor", "tbparse"):
        result = measure_in_child(reader, big_dir)
        print(
            f"  {reader:9} {result['seconds']:7.2f} CPU s  "
            f"{result['points'] / result['seconds']:>12,.0f} scalars/s  "
            f"peak RSS {_megabytes(result['peak'])} "
            f"({_megabytes(result['peak'] - result['baseline'])} above the imports)"
        )

    print(f"whole processes on the {len(run_dirs)} runs, {arguments.repeats} paired runs each")
    print("  (start-up: `lrdoctor runs` on a run of one point, the part that is not reading)")
    side_by_side(
        {
            "lrdoctor runs": lrdoctor_command("runs", str(runs_dir)),
            "start-up": lrdoctor_command("runs", str(startup_run(runs_dir.parent))),
            "tbparse": python_command("-c", TBPARSE_READS, str(runs_dir)),
        },
        arguments.repeats,
        baseline="tbparse",
    )
    print("whole processes on the big run, once each")
    for name, command in (
        ("lrdoctor runs", lrdoctor_command("runs", str(big_dir))),
        ("lrdoctor audit", lrdoctor_command("audit", str(big_dir))),
        ("tbparse", python_command("-c", TBPARSE_READS, str(big_dir))),
    ):
        result = measure(command)
        print(
            f"  {name:<24} {result.seconds:7.2f} s wall {result.cpu_seconds:7.2f} s CPU  "
            f"peak RSS {result.peak_mib:6.0f} MiB"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
