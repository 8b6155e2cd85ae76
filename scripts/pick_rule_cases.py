"""Rewrite `tests/rule_cases.toml` from `sample_logs/`: run it after regenerating the samples.

For each built-in rule it picks development runs by what lrdoctor says of them: two on which
the rule is the top finding and the verdict matches the label (the first a file or folder of
its own with a name of its own, so report tests can audit it alone), a healthy run and a run
of the most confusable failure on which the rule stays quiet. Quiet runs log the curve the
rule reads, so "quiet" means judged and not fired. Held-out runs are never used.

A rule the corpus cannot show (no run of its verdict, or none it is the top finding of) gets
what it can, and is named on stderr: tests/test_rule_cases.py then fails on it unless it is
exempted there with a reason. LRD001 never has one: no corpus run is labelled insufficient data.

    python scripts/pick_rule_cases.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from lrdoctor.audit import audit
from lrdoctor.diagnosis import Diagnosis
from lrdoctor.discovery import read_runs
from lrdoctor.engine import load_catalogue
from lrdoctor.features import known_features

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"
# rule -> (the failure most easily confused with it, which curve a quiet run must log)
PLAN = {
    "LRD001": ("diverging", None),  # a short curve that blew up is LRD104's, not "too few"
    "LRD002": ("too_slow", "lr"),  # a warm-up also climbs: only a whole-run ramp is a range test
    "LRD101": ("exploding_gradients", None),
    "LRD102": ("oscillating", None),
    "LRD103": ("overfitting", "val_loss"),  # a rise after the best, but in the val loss
    "LRD104": ("minibatch_noise", None),
    "LRD105": ("minibatch_noise", None),  # jumps that come back down
    "LRD106": ("oscillating", None),
    "LRD201": ("minibatch_noise", "no val_loss"),
    "LRD202": ("overfitting", "val_loss"),
    "LRD204": ("minibatch_noise", "val_loss"),  # tiny batches bounce the val loss a little
    "LRD205": ("diverging", None),  # a rise after the best that goes on past the start
    "LRD206": ("too_slow", None),  # both stay near the start; a too-small LR falls steadily
    "LRD301": ("poor_feature_scaling", None),
    "LRD302": ("diverging", None),  # a loss that collapsed to chance and stays there
    "LRD303": ("diverging", None),  # a loss that jumped to chance and stays there
    "LRD401": ("oscillating", None),
    "LRD402": ("oscillating", None),  # both scatter; only the batch size differs
    "LRD403": ("oscillating", "val_loss"),  # both scatter; the val loss bounces with the weights
    "LRD404": ("exploding_gradients", "grad_norm"),  # both jump; exploding ones jump rarely
    "LRD501": ("diverging", "grad_norm"),
    "LRD502": ("minibatch_noise", "no grad_norm"),
    "LRD503": ("diverging", None),  # a short curve that ends high is LRD104's
    "LRD601": ("too_slow", "no val_loss"),
    "LRD602": ("too_slow", "val_loss"),
    "LRD603": ("exploding_gradients", "grad_norm"),  # large gradients, but in spikes
    "LRD604": ("too_slow", "lr"),  # a tiny LR, but the loss does not fall
    "LRD701": ("diverging", "val_loss"),  # the val loss rises, but so does the training loss
}
HEADER = """\
# Each built-in rule must fire on "fires" and stay quiet on "quiet": real training runs
# from sample_logs/ (names as lrdoctor lists them). "fires" runs carry the rule's label;
# "quiet" holds a healthy run and a run of the failure most easily confused with it, both
# with the curve the rule reads (a val-loss rule is only quiet where a val loss was logged).
# Where one exists, the first run of each list is a file or folder of its own with a name no
# other has, so report tests can audit it alone; LRD101's first run is preferably one whose
# loss grew a millionfold before it turned NaN. An empty list: the corpus has no such run (see
# tests/test_rule_cases.py for the rules exempted and why).
# Written by `python scripts/pick_rule_cases.py` after the samples are regenerated.
"""


def _on_disk(name: str) -> bool:
    return (SAMPLES / name).exists()


def _alone(name: str, leaves: Counter) -> bool:
    """A file or folder of its own that, audited alone, keeps a name no other such run has
    (unlike the many Lightning `version_0` folders)."""
    return _on_disk(name) and leaves[Path(name).name] == 1


def _blows_up(name: str, diagnosis: Diagnosis) -> bool:
    """The loss grew a millionfold before turning NaN: the log-scale plot test likes one."""
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


def _fires(code: str, label: str, dev: dict, diagnoses: dict, leaves: Counter) -> list[str]:
    """Up to two runs the rule is the top finding of, with the right verdict."""
    fires = [
        name
        for name, d in sorted(diagnoses.items())
        if d.findings and d.findings[0].code == code and d.verdict == label == dev[name]["label"]
    ]
    preferred = (lambda n: _blows_up(n, diagnoses[n])) if code == "LRD101" else _on_disk
    fires.sort(key=lambda name: (not _alone(name, leaves), not _on_disk(name), not preferred(name)))
    if not fires:
        return []
    other_format = [n for n in fires[1:] if dev[n]["format"] != dev[fires[0]]["format"]]
    return [fires[0]] + (other_format or fires[1:])[:1]


def _quiet(
    code: str, label: str, need: str | None, dev: dict, diagnoses: dict, leaves: Counter
) -> str | None:
    """The first run (alone first) of `label`, judged right, on which `code` is quiet."""
    candidates = sorted(
        (
            name
            for name, d in diagnoses.items()
            if dev[name]["label"] == label
            and d.verdict == label
            and code not in [f.code for f in d.findings]
            and _logs(d, need)
        ),
        key=lambda name: (not _alone(name, leaves), not _on_disk(name), name),
    )
    return candidates[0] if candidates else None


def main() -> int:
    rules = {rule.code: rule.label for rule in load_catalogue(known_features=known_features())}
    if set(rules) != set(PLAN):
        print(f"PLAN and rules/ differ: {sorted(set(rules) ^ set(PLAN))}", file=sys.stderr)
        return 1
    labels = json.loads((SAMPLES / "labels.json").read_text())["runs"]
    dev = {name: entry for name, entry in labels.items() if entry["split"] == "dev"}
    diagnoses = {d.name: d for d in audit(SAMPLES).diagnoses if d.name in dev}
    leaves = Counter(Path(name).name for name in labels)
    lines, unshown = [HEADER], []
    for code, (confusable, need) in PLAN.items():
        fires = _fires(code, rules[code], dev, diagnoses, leaves)
        if not fires:
            unshown.append(code)
        quiet = []
        for label in ("healthy", confusable):
            name = _quiet(code, label, need, dev, diagnoses, leaves)
            if name is None:
                print(f"{code}: no quiet {label} dev run", file=sys.stderr)
            else:
                quiet.append(name)
        lines += [
            f"[{code}]",
            "fires = [" + ", ".join(json.dumps(name) for name in fires) + "]",
            "quiet = [" + ", ".join(json.dumps(name) for name in quiet) + "]",
            "",
        ]
    (ROOT / "tests" / "rule_cases.toml").write_text("\n".join(lines).rstrip() + "\n")
    print("wrote tests/rule_cases.toml")
    if unshown:
        print(f'no "fires" dev run (none has it as top finding): {unshown}', file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
