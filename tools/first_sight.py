"""Record what lrdoctor said of each spent held-out split the first time it saw it:
`python -m tools.first_sight` rewrites `tools/first_sight.json`.

Each held-out split was evaluated once with the rules of one commit, then studied and folded
into dev (`sample_logs/dev/<split>/`, its labels' `generation` names the commit). This tool
checks each such commit out into a temporary git worktree, audits the split's folder with the
code and rules of that commit, and keeps (split, run, label, verdict, confidence) per run.
Those verdicts are out of sample in kind, as no later figure over the same runs can be:
`tools.calibrate` maps confidences fitted on dev onto how often first-sight verdicts were
right. Needs the git history; run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = Path(__file__).with_name("first_sight.json")
FIRST_JUDGED = re.compile(r"evaluated once as held-out with the rules of ([0-9a-f]{7,40})")


def spent_splits(labels: dict) -> list[tuple[str, str]]:
    """(folder under sample_logs/dev, commit) of each spent held-out split, as its runs'
    `generation` names the commit whose rules first judged it."""
    found = {}
    for key, entry in labels.items():
        match = FIRST_JUDGED.search(entry.get("generation") or "")
        folders = key.split("/")
        if match and len(folders) > 2 and folders[0] == "dev":
            found[folders[1]] = match.group(1)
    return sorted(found.items())


def _label_key(labels: dict, split: str, name: str) -> str | None:
    """The labels' key of a run named `name` by an audit of the split's folder alone."""
    exact = f"dev/{split}/{name}"
    if exact in labels:
        return exact
    nested = [key for key in labels if key.startswith(f"dev/{split}/") and key.endswith("/" + name)]
    if len(nested) == 1:
        return nested[0]
    return name if name in labels else None  # MLflow runs are keyed by their run names


def audit_at(commit: str, folder: Path) -> list[dict]:
    """`lrdoctor audit FOLDER --format json` run with the code and rules of `commit`."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
            check=True,
            capture_output=True,
        )
        try:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            audit = subprocess.run(
                [sys.executable, "-m", "lrdoctor", "audit", str(folder), "--format", "json"],
                cwd=tree,
                env=env,
                capture_output=True,
                text=True,
            )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True
            )
    if not audit.stdout.strip():
        raise SystemExit(f"{commit}: the audit of {folder} printed nothing: {audit.stderr[-500:]}")
    return json.loads(audit.stdout)["runs"]


def collect(samples: Path) -> list[dict]:
    labels = json.loads((samples / "labels.json").read_text(encoding="utf-8"))["runs"]
    records = []
    for split, commit in spent_splits(labels):
        for run in audit_at(commit, (samples / "dev" / split).resolve()):
            key = _label_key(labels, split, run["name"])
            if key is None:
                raise SystemExit(f"{split}: no label for the run {run['name']!r}")
            records.append(
                {
                    "split": split,
                    "commit": commit,
                    "run": key,
                    "label": labels[key]["label"],
                    "verdict": run["diagnosis"],
                    "confidence": run["confidence"],
                }
            )
        print(f"{split}: {sum(r['split'] == split for r in records)} runs", file=sys.stderr)
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.first_sight", description=__doc__)
    parser.add_argument("--samples", type=Path, default=ROOT / "sample_logs")
    args = parser.parse_args(argv)
    records = collect(args.samples)
    lines = ",\n".join(json.dumps(record) for record in records)
    RECORDS.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
    print(f"wrote {len(records)} first-sight verdicts to {RECORDS.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
