"""What features cost: per-run feature time and audit throughput over sample_logs/dev (a
script, not a test).

Features are most of an audit of small runs, so their time per run is measured apart from
reading: the runs are read once, then `Doctor().features` is timed over all of them (best of
`--repeats` passes, wall and CPU time; CPU time is what a busy machine disturbs less). The
audit throughput is whole `lrdoctor audit` processes with `--jobs 1` and `--jobs 2`, run in
turn.

    python benchmarks/feature_cost.py [--repeats 3] [PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _measure import compare, load_line, lrdoctor_command, report

from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.roles import assign_roles

DEV_LOGS = Path(__file__).resolve().parents[1] / "sample_logs" / "dev"


def feature_time(path: Path, repeats: int) -> tuple[int, float, float]:
    """(runs with a training loss, best wall seconds, best CPU seconds) of one features pass."""
    doctor = Doctor()
    runs = [(run, assign_roles(run)) for run in read_runs([path]).runs]
    runs = [(run, signals) for run, signals in runs if "train_loss" in signals]
    walls, cpus = [], []
    for _ in range(repeats + 1):  # the first pass warms caches and is not counted
        wall, cpu = time.perf_counter(), time.process_time()
        for run, signals in runs:
            doctor.features(run, signals)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return len(runs), min(walls[1:]), min(cpus[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEV_LOGS)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    print(f"  before: {load_line()}")
    count, wall, cpu = feature_time(arguments.path, arguments.repeats)
    print(
        f"  features of {count} runs: {wall / count * 1e3:.2f} ms a run wall, "
        f"{cpu / count * 1e3:.2f} ms CPU (best of {arguments.repeats})"
    )
    runs = len(read_runs([arguments.path]).runs)
    commands = {
        f"audit --jobs {jobs}": lrdoctor_command(
            "audit", str(arguments.path), "--format", "json", "--jobs", str(jobs)
        )
        for jobs in (1, 2)
    }
    results = compare(commands, arguments.repeats)
    report(results, baseline="audit --jobs 1")
    for name, measured in results.items():
        seconds = statistics.median(run.seconds for run in measured)
        print(f"  {name}: {runs / seconds:.1f} runs/s ({runs} runs)")
    print(f"  after:  {load_line()}")


if __name__ == "__main__":
    main()
