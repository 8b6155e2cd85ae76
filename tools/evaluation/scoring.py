"""Accuracy figures of (true label, verdict, confidence) records, and how well the verdict
confidence is calibrated: a confidence of 0.8 should be right on about 80% of runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from scipy.stats import binomtest

from lrdoctor.engine.vocabulary import LABELLED_VERDICTS

Record = tuple[str, str, float]
"""(true label, predicted verdict, confidence of the verdict)."""

BIN_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Reliability bins [0, 0.5), [0.5, 0.6) ... [0.9, 1.0), then exactly 1.0 on its own: rules
state confidences in tenths, and a healthy verdict or a certain rule gives 1.0."""


@dataclass(frozen=True)
class Bin:
    """Runs whose verdict confidence falls in [low, high) (exactly 1.0 when low == high)."""

    low: float
    high: float
    count: int
    mean_confidence: float | None  # None for an empty bin
    share_right: float | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Scores:
    """Accuracy figures of one split (or one group of runs)."""

    runs: int
    labels: tuple[str, ...]  # the true labels present, vocabulary order first
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
    reliability: tuple[Bin, ...]
    expected_calibration_error: float

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
            "reliability": [b.to_dict() for b in self.reliability],
            "expected_calibration_error": self.expected_calibration_error,
        }


def interval(successes: int, trials: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; the whole range when there are no trials."""
    if not trials:
        return (0.0, 1.0)
    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def present_labels(truths: Iterable[str]) -> tuple[str, ...]:
    """The true labels that occur, in vocabulary order; a label the vocabulary lacks (a verdict
    no rule gives yet) still counts, after the known ones."""
    found = set(truths)
    known = [label for label in LABELLED_VERDICTS if label in found]
    return (*known, *sorted(found - set(LABELLED_VERDICTS)))


def _confusion(pairs: Iterable[tuple[str, str]]) -> dict[str, Counter]:
    confusion: dict[str, Counter] = {}
    for truth, predicted in pairs:
        confusion.setdefault(truth, Counter())[predicted] += 1
    return confusion


def _per_label(
    confusion: Mapping[str, Counter], labels: Sequence[str]
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Precision, recall and F1 of each label."""
    precision, recall, f1 = {}, {}, {}
    for label in labels:
        true_positive = confusion[label][label]
        predicted = sum(row[label] for row in confusion.values())
        precision[label] = true_positive / predicted if predicted else 0.0
        recall[label] = true_positive / sum(confusion[label].values())
        both = precision[label] + recall[label]
        f1[label] = 2 * precision[label] * recall[label] / both if both else 0.0
    return precision, recall, f1


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Mean F1 over the true labels present: the figure tuning maximises, without intervals."""
    confusion = _confusion(pairs)
    labels = present_labels(confusion)
    f1 = _per_label(confusion, labels)[2]
    return sum(f1.values()) / len(labels) if labels else 0.0


def accuracy(pairs: Sequence[tuple[str, str]]) -> float:
    return sum(truth == predicted for truth, predicted in pairs) / len(pairs) if pairs else 0.0


def reliability(records: Sequence[Record]) -> tuple[Bin, ...]:
    """Count, mean confidence and share of right verdicts in each confidence bin."""
    bounds = [*pairwise(BIN_EDGES), (1.0, 1.0)]
    members: list[list[Record]] = [[] for _ in bounds]
    for record in records:
        # Rounded first: 0.6 + 0.3 is 0.8999999999999999 in floating point, and belongs in 0.9.
        confidence = round(record[2], 9)
        index = next(
            i for i, (low, high) in enumerate(bounds) if low <= confidence < high or low == high
        )
        members[index].append(record)
    return tuple(
        Bin(
            low,
            high,
            len(found),
            sum(c for _, _, c in found) / len(found) if found else None,
            sum(t == p for t, p, _ in found) / len(found) if found else None,
        )
        for (low, high), found in zip(bounds, members, strict=True)
    )


def expected_calibration_error(bins: Sequence[Bin]) -> float:
    """Count-weighted mean of |share right - mean confidence| over the bins."""
    total = sum(b.count for b in bins)
    if not total:
        return 0.0
    return sum(b.count * abs(b.share_right - b.mean_confidence) for b in bins if b.count) / total


def score(records: Sequence[Record]) -> Scores:
    """Scores of (true label, predicted verdict, confidence) records."""
    pairs = [(truth, predicted) for truth, predicted, _ in records]
    confusion = _confusion(pairs)
    labels = present_labels(confusion)
    precision, recall, f1 = _per_label(confusion, labels)
    healthy = confusion.get("healthy", Counter())
    alarms = sum(healthy.values()) - healthy["healthy"]
    bins = reliability(records)
    return Scores(
        runs=len(records),
        labels=labels,
        confusion={label: dict(confusion[label]) for label in labels},
        precision=precision,
        recall=recall,
        f1=f1,
        macro_f1=macro_f1(pairs),
        healthy_false_alarm_rate=alarms / sum(healthy.values()) if healthy else 0.0,
        accuracy=accuracy(pairs),
        healthy_false_alarm_interval=interval(alarms, sum(healthy.values())),
        recall_interval={
            label: interval(confusion[label][label], sum(confusion[label].values()))
            for label in labels
        },
        reliability=bins,
        expected_calibration_error=expected_calibration_error(bins),
    )


def by_group(
    records: Sequence[Record], groups: Sequence[Mapping[str, str]]
) -> dict[str, dict[str, Scores]]:
    """Scores per value of each grouping (family, format, ...) that every record has."""
    if not groups:
        return {}
    shared = set.intersection(*map(set, groups))
    result = {}
    for grouping in (g for g in groups[0] if g in shared):
        members: dict[str, list[Record]] = {}
        for record, group in zip(records, groups, strict=True):
            members.setdefault(group[grouping], []).append(record)
        result[grouping] = {value: score(found) for value, found in sorted(members.items())}
    return result
