"""Rewrite `tests/rule_cases.toml` from `sample_logs/`: run it after regenerating the samples.

For each built-in rule it picks development runs by what lrdoctor says of them: two on which
the rule is the top finding and the verdict matches the label (the first a file or folder of
its own, so report tests can audit it alone), a healthy run and a run of the most confusable
failure on which the rule stays quiet. Quiet runs log the curve the rule reads, so "quiet"
means judged and not fired. Held-out runs are never used.

    python scripts/pick_rule_cases.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lrdoctor.audit import audit
from lrdoctor.diagnosis import Diagnosis
from lrdoctor.discovery import read_runs

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"
# rule -> (the failure most easily confused with it, which curve a quiet run must log)
PLAN = {
    "LRD101": ("exploding_gradients", None),
    "LRD102": ("oscillating", None),
    "LRD201": ("minibatch_noise", "no val_loss"),
    "LRD202": ("minibatch_noise", "val_loss"),
    "LRD301": ("poor_feature_scaling", None),
    "LRD401": ("oscillating", None),
    "LRD501": ("diverging", "grad_norm"),
    "LRD502": ("minibatch_noise", None),
    "LRD601": ("too_slow", "no val_loss"),
    "LRD602": ("too_slow", "val_loss"),
}
HEADER = """\
# Each built-in rule must fire on "fires" and stay quiet on "quiet": real training runs
# from sample_logs/ (names as lrdoctor lists them). "fires" runs carry the rule's label;
# "quiet" holds a healthy run and a run of the failure most easily confused with it, both
# with the curve the rule reads (a val-loss rule is only quiet where a val loss was logged).
# Where one exists, the first run of each list is a file or folder of its own, so report
# tests can audit it alone; LRD101's first run grows a millionfold before it turns NaN.
# Written by `python scripts/pick_rule_cases.py` after the samples are regenerated.
"""


def _on_disk(name: str) -> bool:
    return (SAMPLES / name).exists()


def _blows_up(name: str, diagnosis: Diagnosis) -> bool:
    """The loss grew a millionfold before turning NaN: the log-scale plot test needs one."""
    if not _on_disk(name):
        return False
    (run,) = read_runs([SAMPLES / name]).runs
    values = run.curves[diagnosis.signals["train_loss"]].values
    finite = values[np.isfinite(values)]
    return finite.size > 0 and finite.max() / finite[0] > 1e6


def _logs(diagnosis: Diagnosis, need: str | None) -> bool:
    if need is None:
        return True
    if need.startswith("no "):
        return need[3:] not in diagnosis.signals
    return need in diagnosis.signals


def main() -> int:
    labels = json.loads((SAMPLES / "labels.json").read_text())["runs"]
    dev = {name: entry for name, entry in labels.items() if entry["split"] == "dev"}
    diagnoses = {d.name: d for d in audit(SAMPLES).diagnoses if d.name in dev}
    lines = [HEADER]
    for code, (confusable, need) in PLAN.items():
        fires = [
            name
            for name, d in sorted(diagnoses.items())
            if d.findings and d.findings[0].code == code and d.verdict == dev[name]["label"]
        ]
        preferred = (lambda n: _blows_up(n, diagnoses[n])) if code == "LRD101" else _on_disk
        fires.sort(key=lambda name: (not _on_disk(name), not preferred(name)))
        if not fires:
            print(f"{code}: fires on no development run of its label", file=sys.stderr)
            return 1
        other_format = [n for n in fires[1:] if dev[n]["format"] != dev[fires[0]]["format"]]
        chosen = [fires[0]] + (other_format or fires[1:])[:1]
        quiet = []
        for label in ("healthy", confusable):
            candidates = sorted(
                (
                    name
                    for name, d in diagnoses.items()
                    if dev[name]["label"] == label
                    and d.verdict == label
                    and code not in [f.code for f in d.findings]
                    and _logs(d, need)
                ),
                key=lambda name: (not _on_disk(name), name),
            )
            if not candidates:
                print(f"{code}: no quiet {label} run", file=sys.stderr)
                return 1
            quiet.append(candidates[0])
        lines += [
            f"[{code}]",
            "fires = [" + ", ".join(json.dumps(name) for name in chosen) + "]",
            "quiet = [" + ", ".join(json.dumps(name) for name in quiet) + "]",
            "",
        ]
    (ROOT / "tests" / "rule_cases.toml").write_text("\n".join(lines).rstrip() + "\n")
    print("wrote tests/rule_cases.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
