"""The figures of docs/scale.md: discovery, a local audit and an audit on a 2-worker Dask
cluster on 127.0.0.1, over about 10^4 runs (a script, not a test; needs lrdoctor[dask]).

The workload is hard-linked copies of sample_logs/ (every format, MLflow stores included) in
a temporary folder until it holds `--runs` runs or more: new folders, the same file contents,
so it costs no disk and the page cache holds it after the first pass, as it would for a
store read twice. Each audit runs in a child process under GNU time (wall, CPU, peak RSS of
its largest process); the scheduler's and workers' memory is sampled every 0.2 s.

    python benchmarks/scale.py [--runs 10000] [--skip-local] [--skip-cluster]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import GNU_TIME, load_line  # noqa: E402

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"
COUNT_SOURCES = """
import gc, sys, time, tracemalloc
from lrdoctor.discovery import find_sources
find_sources([sys.argv[2]])  # every reader imported first, so that only the sources are traced
tracemalloc.start()
started = time.perf_counter()
sources, problems = find_sources([sys.argv[1]])
seconds = time.perf_counter() - started
held, _ = tracemalloc.get_traced_memory()
count = len(sources)
del sources, problems
gc.collect()
print(count, seconds, (held - tracemalloc.get_traced_memory()[0]) / count)
"""
HELD_PER_RUN = """
import gc, sys, tracemalloc
import lrdoctor
lrdoctor.audit(sys.argv[2], jobs=2)  # every import and the rules first: only results traced
tracemalloc.start()
result = lrdoctor.audit(sys.argv[1], jobs=2)
held, _ = tracemalloc.get_traced_memory()
runs = len(result.diagnoses)
del result
gc.collect()
print(runs, (held - tracemalloc.get_traced_memory()[0]) / runs)
"""
WARM_UP = SAMPLE_LOGS / "dev" / "keras_csv"
"""A few runs read before anything is measured: imports, rules and the workers' start."""


def build_workload(folder: Path, runs: int, one_copy: int) -> int:
    """Hard-linked copies of sample_logs/ (`one_copy` runs each) until `runs` runs are
    there; the run count."""
    copies = -(-runs // one_copy)
    for copy in range(copies):
        shutil.copytree(SAMPLE_LOGS, folder / f"copy-{copy:03d}", copy_function=os.link)
    return copies * one_copy


class Timed:
    """One command under GNU time; for a jsonl report, when its first line was written."""

    def __init__(self, command: list[str], first_line_of: Path | None = None):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
            started = time.perf_counter()
            child = subprocess.Popen(
                [str(GNU_TIME), "-f", "%M %U %S", "-o", report.name, *command],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self.first_line = None
            while child.poll() is None:
                if self.first_line is None and first_line_of and _has_a_line(first_line_of):
                    self.first_line = time.perf_counter() - started
                time.sleep(0.05)
            self.seconds = time.perf_counter() - started
            if child.returncode > 1:
                raise RuntimeError(f"{command} failed: {child.stderr.read().decode()[-2000:]}")
            peak_kib, user, system = report.read().split()[-3:]
        self.cpu = float(user) + float(system)
        self.peak_mib = int(peak_kib) / 1024

    def line(self, label: str, runs: int) -> str:
        first = f", first line after {self.first_line:.1f} s" if self.first_line else ""
        return (
            f"  {label:<34} {self.seconds:7.1f} s wall ({runs / self.seconds:5.0f} runs/s"
            f"{first}), {self.cpu:7.1f} s CPU of this process tree, "
            f"peak RSS {self.peak_mib:5.0f} MiB (largest process)"
        )


def _has_a_line(path: Path) -> bool:
    try:
        with path.open("rb") as text:
            return b"\n" in text.read(1 << 16)
    except OSError:
        return False


class Sampler(threading.Thread):
    """The peak RSS of some processes, sampled until stopped."""

    def __init__(self, processes: dict[str, psutil.Process]):
        super().__init__(daemon=True)
        self.processes = processes
        self.peaks = dict.fromkeys(processes, 0)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            for name, process in self.processes.items():
                try:
                    self.peaks[name] = max(self.peaks[name], process.memory_info().rss)
                except psutil.Error:
                    pass

    def cpu(self) -> dict[str, float]:
        times = {}
        for name, process in self.processes.items():
            try:
                spent = process.cpu_times()
                times[name] = spent.user + spent.system
            except psutil.Error:
                times[name] = float("nan")
        return times


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(folder: Path) -> tuple[str, dict[str, subprocess.Popen]]:
    """A `dask scheduler` and two `dask worker` processes (1 thread each) on 127.0.0.1."""
    import distributed

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    started = {
        "scheduler": subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    }
    for name in ("worker-0", "worker-1"):
        started[name] = subprocess.Popen(
            [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-nanny"]
            + ["--no-dashboard", "--host", "127.0.0.1", "--name", name],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    with distributed.Client(address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
    return address, started


def stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    lrdoctor = [sys.executable, "-m", "lrdoctor"]
    with tempfile.TemporaryDirectory(prefix="lrdoctor-scale-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "runs"
        held = subprocess.run(
            [sys.executable, "-c", HELD_PER_RUN, str(SAMPLE_LOGS), str(WARM_UP)],
            capture_output=True,
            text=True,
        )
        judged, per_run = held.stdout.split()
        print(
            f"  the audit result holds {float(per_run) / 1024:.1f} KiB per run "
            f"(Python objects, measured over the {judged} runs of sample_logs/)"
        )

        runs = build_workload(folder, args.runs, int(judged))
        print(f"workload: {runs} runs, hard-linked copies of sample_logs/; {load_line()}")

        found = subprocess.run(
            [sys.executable, "-c", COUNT_SOURCES, str(folder), str(WARM_UP)],
            capture_output=True,
            text=True,
        )
        sources, seconds, per_source = found.stdout.split()
        print(
            f"  discovery: {sources} sources in {float(seconds):.2f} s, "
            f"{float(per_source):.0f} bytes held per source"
        )
        reports = {}
        if not args.skip_local:
            for report in ("jsonl", "json"):
                out = tmp / f"local.{report}"
                audit = [*lrdoctor, "audit", str(folder), "--jobs", "2", "--format", report]
                timed = Timed([*audit, "-o", str(out)], out if report == "jsonl" else None)
                print(timed.line(f"local --jobs 2 --format {report}", runs))
                reports[("local", report)] = out.read_bytes()
            print(f"  ({load_line()})")

        if not args.skip_cluster:
            address, cluster = start_cluster(tmp)
            try:
                sampler = Sampler({n: psutil.Process(p.pid) for n, p in cluster.items()})
                sampler.start()
                warm_up = [*lrdoctor, "audit", str(WARM_UP), "--scheduler", address]
                cold = Timed([*warm_up, "--format", "summary"])
                print(
                    f"  2-worker cluster, first audit (cold workers, {WARM_UP.name}): "
                    f"{cold.seconds:.1f} s"
                )
                before = sampler.cpu()
                for report in ("jsonl", "json"):
                    out = tmp / f"cluster.{report}"
                    audit = [*lrdoctor, "audit", str(folder), "--scheduler", address]
                    command = [*audit, "--format", report, "-o", str(out)]
                    timed = Timed(command, out if report == "jsonl" else None)
                    print(timed.line(f"2-worker cluster --format {report}", runs))
                    reports[("cluster", report)] = out.read_bytes()
                sampler.stopped.set()
                after = sampler.cpu()
                for name, peak in sampler.peaks.items():
                    print(
                        f"    {name}: peak RSS {peak / 2**20:5.0f} MiB, "
                        f"{after[name] - before[name]:6.1f} s CPU over both audits"
                    )
            finally:
                stop(cluster)
            print(f"  ({load_line()})")

        for report in ("jsonl", "json"):
            if ("local", report) in reports and ("cluster", report) in reports:
                same = reports[("local", report)] == reports[("cluster", report)]
                size = len(reports[("local", report)]) / 2**20
                print(
                    f"  --format {report}: {size:.1f} MiB, cluster report "
                    f"{'byte-identical to' if same else 'DIFFERS from'} the local one"
                )


if __name__ == "__main__":
    main()
