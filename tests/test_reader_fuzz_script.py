"""benchmarks/fuzz.py, the long fuzz run over real logs, still runs: a few cases of it, which
must find nothing (the long run is `python benchmarks/fuzz.py --cases 5000`)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz.py"


def test_a_short_fuzz_run_finds_nothing():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "25", "--seed", "1", "--cli-every", "0"],
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "25 cases in" in done.stdout
    total = next(line for line in done.stdout.splitlines() if line.startswith("all "))
    assert total.split()[1:] == ["25", "0", "0", "0", "0", "0", "0"]
