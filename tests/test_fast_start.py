"""The CLI loads heavy modules only when a command needs them (issue 11, "a fast start").

Each case runs in a fresh interpreter, because this test session has imported them all.
"""

import json
import subprocess
import sys
from pathlib import Path

PLAIN_CSV = Path(__file__).resolve().parents[1] / "sample_logs" / "dev" / "plain_csv"

# Runs the CLI as the console script does, then prints which modules of interest it loaded.
DRIVER = """
import json, sys
from lrdoctor.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    heavy = ("pandas", "scipy", "matplotlib", "mlflow", "fsspec", "s3fs")
    print(json.dumps(sorted(name for name in heavy if name in sys.modules)), file=sys.stderr)
"""


def run_cli(*args: str) -> tuple[str, list[str]]:
    """The command's stdout and the heavy modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, check=True
    )
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_help_imports_no_heavy_module():
    output, loaded = run_cli("--help")
    assert "Diagnose training runs" in output
    assert loaded == []


def test_runs_on_a_csv_imports_no_scipy_matplotlib_or_mlflow():
    csv_file = min(PLAIN_CSV.glob("*.csv"))
    output, loaded = run_cli("runs", str(csv_file))
    assert csv_file.name in output
    assert not {"scipy", "matplotlib", "mlflow", "fsspec", "s3fs"} & set(loaded)
