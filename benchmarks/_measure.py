"""Whole-process wall time and peak memory of commands, measured in pairs (shared by the
benchmark scripts).

Each command runs under `/usr/bin/time` (GNU time), which reports the peak resident memory of
the process it starts; `ru_maxrss` of a child started straight from a big Python process can
report the parent's peak instead. The commands of a comparison run alternately, so that a
change in the machine's load hits both, and the ratio of each pair is what to trust on a
busy machine.

Commands run as from an installed copy: `pip install` compiles each module's bytecode, but an
editable install under `PYTHONDONTWRITEBYTECODE=1` (as on the development machine) compiles
every lrdoctor module again at each start. So the commands run with bytecode caching on, the
caches in one folder of the temp directory (`PYTHONPYCACHEPREFIX`), filled by the untimed
warm-up round of `compare`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")  # GNU time: -f and -o
BYTECODE_CACHE = Path(tempfile.gettempdir()) / "lrdoctor-bench-pycache"


def _installed_like_environment() -> dict[str, str]:
    """This environment with bytecode written and read from BYTECODE_CACHE."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = str(BYTECODE_CACHE)
    return environment


@dataclass(frozen=True)
class Measurement:
    seconds: float
    cpu_seconds: float
    peak_mib: float


def measure(command: list[str]) -> Measurement:
    """Run `command` once (its output discarded); its wall time, CPU time and peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        timed = [str(GNU_TIME), "-f", "%M %U %S", "-o", report.name, *command]
        started = time.perf_counter()
        done = subprocess.run(
            timed,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_installed_like_environment(),
        )
        seconds = time.perf_counter() - started
        if done.returncode > 1:  # 1 is `lrdoctor audit` reporting findings
            raise RuntimeError(f"{command} failed: {done.stderr.decode()[-2000:]}")
        peak_kib, user, system = report.read().split()[-3:]
    return Measurement(seconds, float(user) + float(system), int(peak_kib) / 1024)


def compare(commands: dict[str, list[str]], repeats: int) -> dict[str, list[Measurement]]:
    """Each command `repeats` times, in turn (A B A B ...), after one untimed warm-up round
    that fills the page cache."""
    for command in commands.values():
        measure(command)
    results: dict[str, list[Measurement]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            results[name].append(measure(command))
    return results


def report(results: dict[str, list[Measurement]], baseline: str) -> None:
    """Median wall and CPU time and the peak RSS per command, and each one's speed relative to
    `baseline` (median of the paired ratios of wall time, and of CPU time, which a busy
    machine disturbs less)."""
    for name, runs in results.items():
        seconds = statistics.median(run.seconds for run in runs)
        cpu = statistics.median(run.cpu_seconds for run in runs)
        peak = max(run.peak_mib for run in runs)
        print(f"  {name:<24} {seconds:7.2f} s wall {cpu:7.2f} s CPU  peak RSS {peak:6.0f} MiB")
        if name != baseline:
            pairs = list(zip(results[baseline], runs, strict=True))
            wall = [base.seconds / run.seconds for base, run in pairs]
            cpu_ratios = [base.cpu_seconds / run.cpu_seconds for base, run in pairs]
            print(
                f"  {'':<24} {statistics.median(wall):.2f}x the speed of {baseline} in wall "
                f"time (pairs: {', '.join(f'{ratio:.2f}' for ratio in wall)}), "
                f"{statistics.median(cpu_ratios):.2f}x in CPU time"
            )


def side_by_side(commands: dict[str, list[str]], repeats: int, baseline: str) -> None:
    """`compare` the commands and `report` them against `baseline`, with the machine's load
    before and after: the ratios are the figures to trust when the load is high."""
    print(f"  before: {load_line()}")
    report(compare(commands, repeats), baseline=baseline)
    print(f"  after:  {load_line()}")


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def python_command(*arguments: str) -> list[str]:
    return [sys.executable, *arguments]


def lrdoctor_command(*arguments: str) -> list[str]:
    return python_command("-m", "lrdoctor", *arguments)
