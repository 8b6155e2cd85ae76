"""Audit time and peak memory for 1,000 runs with --jobs 1 and --jobs 2 (a script, not a test).

The workload replicates the file-based runs of sample_logs/ (TensorBoard dirs, CSV logs,
Trainer output dirs) into a temporary folder until it holds 1,000 runs, then runs
`lrdoctor audit --format json` on it in a child process per setting and prints wall time,
runs per second and the peak resident memory of the largest process.

    python benchmarks/audit_batch.py [--runs 1000] [--format json|html]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrdoctor.discovery import read_runs

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"


def build_workload(folder: Path, runs: int) -> int:
    """Copy sample runs (file or folder sources only) until `runs` are there."""
    sources = [
        Path(run.source)
        for run in read_runs([SAMPLE_LOGS]).runs
        if run.format != "mlflow" and Path(run.source).exists()
    ]
    copied = 0
    while copied < runs:
        for source in sources:
            if copied == runs:
                break
            target = folder / f"copy-{copied // len(sources):03d}" / source.relative_to(SAMPLE_LOGS)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
            copied += 1
    return copied


def timed_audit(folder: Path, jobs: int, report: str = "json") -> tuple[float, int, float]:
    """(seconds, runs in the report, peak RSS MB of the largest process) for one audit."""
    code = (
        "import resource, sys\n"
        "from lrdoctor.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "    print(max(own, kids), file=sys.stderr)\n"
    )
    out = str(folder.parent / f"report-{jobs}.html")
    started = time.perf_counter()
    child = subprocess.run(
        [
            *(sys.executable, "-c", code, "audit", str(folder), "--jobs", str(jobs)),
            *(("--format", "json") if report == "json" else ("--format", report, "-o", out)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    peak_kb = int(child.stderr.strip().splitlines()[-1])
    if report == "json":
        runs = json.loads(child.stdout)["summary"]["runs"]
    else:
        runs = Path(out).read_text().count('<section class="run"') or -1
    return elapsed, runs, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--format", choices=("json", "html"), default="json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lrdoctor-bench-audit-") as tmp:
        folder = Path(tmp) / "runs"
        count = build_workload(folder, args.runs)
        size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        print(
            f"workload: {count} runs replicated from sample_logs/ ({size_mb:.0f} MB), "
            f"--format {args.format}"
        )
        results = {}
        for jobs in (1, 2):
            seconds, runs, peak_mb = timed_audit(folder, jobs, args.format)
            results[jobs] = seconds
            print(
                f"  --jobs {jobs}: {seconds:6.1f} s  {runs / seconds:6.1f} runs/s  "
                f"{runs} runs  peak RSS {peak_mb:.0f} MB (largest process)"
            )
        print(f"  speed-up with 2 processes: {results[1] / results[2]:.2f}x")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
