"""Measure diagnosis accuracy on labelled logs: `python -m lrdoctor.evaluate sample_logs`.

Labels come from `labels.json` beside the logs (written by `python -m lrdoctor.samples`).
Figures are reported separately for the development split, on which thresholds may be
tuned, and the held-out split, which is never tuned on.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from scipy.stats import binomtest

from lrdoctor.audit import AuditResult, audit
from lrdoctor.diagnosis import Diagnosis
from lrdoctor.engine.vocabulary import LABELLED_VERDICTS


@dataclass(frozen=True)
class Scores:
    """Accuracy figures of one split."""

    runs: int
    confusion: Mapping[str, Mapping[str, int]]  # true label -> predicted verdict -> count
    precision: Mapping[str, float]
    recall: Mapping[str, float]
    f1: Mapping[str, float]
    macro_f1: float
    healthy_false_alarm_rate: float
    accuracy: float
    # 95% Wilson intervals: with 20 runs a verdict, one run moves a recall by 0.05.
    healthy_false_alarm_interval: tuple[float, float]
    recall_interval: Mapping[str, tuple[float, float]]

    def to_dict(self) -> dict:
        return {
            "runs": self.runs,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "healthy_false_alarm_rate": self.healthy_false_alarm_rate,
            "healthy_false_alarm_interval": list(self.healthy_false_alarm_interval),
            "precision": dict(self.precision),
            "recall": dict(self.recall),
            "recall_interval": {label: list(ci) for label, ci in self.recall_interval.items()},
            "f1": dict(self.f1),
            "confusion": {label: dict(row) for label, row in self.confusion.items()},
        }


def _interval(successes: int, trials: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; the whole range when there are no trials."""
    if not trials:
        return (0.0, 1.0)
    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def score(pairs: Sequence[tuple[str, str]]) -> Scores:
    """Scores of (true label, predicted verdict) pairs; macro-F1 over the labelled verdicts."""
    confusion = {label: Counter() for label in LABELLED_VERDICTS}
    for truth, predicted in pairs:
        confusion[truth][predicted] += 1
    precision, recall, f1 = {}, {}, {}
    for label in LABELLED_VERDICTS:
        true_positive = confusion[label][label]
        predicted = sum(row[label] for row in confusion.values())
        actual = sum(confusion[label].values())
        precision[label] = true_positive / predicted if predicted else 0.0
        recall[label] = true_positive / actual if actual else 0.0
        both = precision[label] + recall[label]
        f1[label] = 2 * precision[label] * recall[label] / both if both else 0.0
    present = [label for label in LABELLED_VERDICTS if sum(confusion[label].values())]
    healthy = sum(confusion["healthy"].values())
    return Scores(
        runs=len(pairs),
        confusion={label: dict(row) for label, row in confusion.items()},
        precision=precision,
        recall=recall,
        f1=f1,
        macro_f1=sum(f1[label] for label in present) / len(present) if present else 0.0,
        healthy_false_alarm_rate=(
            (healthy - confusion["healthy"]["healthy"]) / healthy if healthy else 0.0
        ),
        healthy_false_alarm_interval=_interval(healthy - confusion["healthy"]["healthy"], healthy),
        recall_interval={
            label: _interval(confusion[label][label], sum(confusion[label].values()))
            for label in LABELLED_VERDICTS
        },
        accuracy=sum(confusion[label][label] for label in LABELLED_VERDICTS) / len(pairs)
        if pairs
        else 0.0,
    )


TUNING_SPLIT = "dev"


@dataclass(frozen=True)
class Miss:
    """A labelled run whose verdict differs from its label."""

    name: str
    label: str
    verdict: str
    top_finding: str  # "CODE name" of the finding that set the verdict, "" for healthy


def _labelled(
    folder: Path, result: AuditResult | None, splits: Sequence[str] | None
) -> tuple[dict[str, dict], dict[str, Diagnosis]]:
    """The labels of `splits` (all when None) and the diagnosis of every labelled run."""
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))["runs"]
    if splits:
        unknown = set(splits) - {entry["split"] for entry in labels.values()}
        if unknown:
            raise SystemExit(f"{folder}: no split named {', '.join(sorted(unknown))}")
        labels = {name: entry for name, entry in labels.items() if entry["split"] in splits}
    diagnoses = {d.name: d for d in (result or audit(folder)).diagnoses}
    missing = sorted(set(labels) - set(diagnoses))
    if missing:
        raise SystemExit(f"{folder}: labelled runs not found by the audit: {', '.join(missing)}")
    return labels, diagnoses


def evaluate(
    folder: Path, result: AuditResult | None = None, splits: Sequence[str] | None = None
) -> dict[str, Scores]:
    """Score each split of `folder`'s labels.json, or only `splits`.

    `folder` is audited unless `result` is given.
    """
    labels, diagnoses = _labelled(folder, result, splits)
    pairs: dict[str, list[tuple[str, str]]] = {}
    for name, entry in labels.items():
        pairs.setdefault(entry["split"], []).append((entry["label"], diagnoses[name].verdict))
    return {split: score(found) for split, found in sorted(pairs.items())}


def tuning_misses(folder: Path, result: AuditResult | None = None) -> list[Miss]:
    """The development runs lrdoctor gets wrong: what threshold tuning looks at.

    Held-out misses are never listed: reading them would be tuning on the held-out split.
    """
    labels, diagnoses = _labelled(folder, result, [TUNING_SPLIT])
    misses = []
    for name, entry in sorted(labels.items(), key=lambda item: (item[1]["label"], item[0])):
        diagnosis = diagnoses[name]
        if diagnosis.verdict != entry["label"]:
            top = diagnosis.findings[0] if diagnosis.findings else None
            finding = f"{top.code} {top.name}" if top else ""
            misses.append(Miss(name, entry["label"], diagnosis.verdict, finding))
    return misses


def render(results: Mapping[str, Scores]) -> str:
    lines = []
    short = {label: label[:8] for label in LABELLED_VERDICTS}
    for split, scores in results.items():
        lines += [
            f"== {split} split: {scores.runs} runs ==",
            f"macro-F1 {scores.macro_f1:.3f}   accuracy {scores.accuracy:.3f}   "
            f"healthy false alarms {scores.healthy_false_alarm_rate:.1%} "
            f"(95% CI {scores.healthy_false_alarm_interval[0]:.0%}.."
            f"{scores.healthy_false_alarm_interval[1]:.0%})",
            "",
            "confusion (rows: true label, columns: verdict)",
        ]
        predicted = sorted(
            {v for row in scores.confusion.values() for v in row},
            key=lambda v: (
                v not in LABELLED_VERDICTS,
                LABELLED_VERDICTS.index(v) if v in LABELLED_VERDICTS else 0,
                v,
            ),
        )
        lines.append(" " * 22 + " ".join(f"{short.get(v, v[:8]):>9}" for v in predicted))
        for label in LABELLED_VERDICTS:
            row = scores.confusion[label]
            lines.append(f"{label:>21} " + " ".join(f"{row.get(v, 0):>9}" for v in predicted))
        lines += ["", f"{'verdict':>21} {'precision':>9} {'recall':>9} {'F1':>9}  recall 95% CI"]
        lines += [
            f"{label:>21} {scores.precision[label]:>9.3f} {scores.recall[label]:>9.3f} "
            f"{scores.f1[label]:>9.3f}  {scores.recall_interval[label][0]:.2f}.."
            f"{scores.recall_interval[label][1]:.2f}"
            for label in LABELLED_VERDICTS
        ]
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lrdoctor.evaluate", description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=Path("sample_logs"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--split",
        action="append",
        help="report only this split (repeatable); tune with --split dev so the held-out "
        "figures stay unseen until the final check",
    )
    parser.add_argument(
        "--misses",
        action="store_true",
        help=f"also list the {TUNING_SPLIT} runs whose verdict differs from their label "
        "(held-out misses are never listed)",
    )
    args = parser.parse_args(argv)
    result = audit(args.folder)
    results = evaluate(args.folder, result, splits=args.split)
    misses = tuning_misses(args.folder, result) if args.misses else None
    if args.json:
        document = {split: s.to_dict() for split, s in results.items()}
        if misses is not None:
            document["misses"] = [asdict(miss) for miss in misses]
        print(json.dumps(document, indent=2))
        return
    print(render(results))
    if misses is not None:
        print(f"== {TUNING_SPLIT} runs whose verdict differs from their label ==")
        for miss in misses:
            print(f"{miss.label:>21} -> {miss.verdict:<21} {miss.top_finding:<26} {miss.name}")


if __name__ == "__main__":
    main()
