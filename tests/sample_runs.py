"""Sample runs for tests, chosen through tests/rule_cases.toml rather than named in each test.

The samples are regenerated when the generator or the rules change; rule_cases.toml is the
one place that names runs, and it is regenerated with them.
"""

from __future__ import annotations

import json
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
SAMPLE_LOGS = HERE.parent / "sample_logs"
CASES = tomllib.loads((HERE / "rule_cases.toml").read_text())
LABELS = json.loads((SAMPLE_LOGS / "labels.json").read_text())["runs"]


def firing_run(code: str) -> str:
    """A run (a file or folder of its own) on which rule `code` is the top finding."""
    assert CASES[code]["fires"], f"sample_logs/ has no run that shows {code}"
    name = CASES[code]["fires"][0]
    assert run_path(name).exists(), f"{code}'s first case {name} is not a file or folder"
    return name


def firing_runs_on_disk() -> dict[str, str]:
    """For each rule whose first case is a file or folder of its own, that run."""
    return {
        code: case["fires"][0]
        for code, case in CASES.items()
        if case["fires"] and run_path(case["fires"][0]).exists()
    }


def healthy_run() -> str:
    """A healthy run that is a file or folder of its own."""
    return CASES["LRD101"]["quiet"][0]


def run_path(name: str) -> Path:
    return SAMPLE_LOGS / name


def read_from(source: str, name: str) -> bool:
    """Whether a run's `source` is the sample run `name`: its file, or a file in its folder."""
    path = run_path(name)
    return Path(source) == path or path in Path(source).parents
