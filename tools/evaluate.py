"""Measure diagnosis accuracy on labelled logs: `python -m tools.evaluate sample_logs`.

Labels come from `labels.json` beside the logs (written by `python -m tools.corpus`).
Figures are reported separately for the development split, on which thresholds may be
tuned, and the held-out split, which is never tuned on; within each, by model family, log
format, logger and cadence, with a reliability table of the verdict confidence. `--lofo`
measures how far tuning on some model families carries to another.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lrdoctor.audit import AuditResult, audit
from lrdoctor.diagnosis import Diagnosis
from lrdoctor.engine.vocabulary import LABELLED_VERDICTS
from tools.evaluation.judging import Judged, Rejudge, judge
from tools.evaluation.labels import Labelled, read_labels
from tools.evaluation.lofo import TUNING_FILE, FamilyResult, leave_one_family_out, read_tuning
from tools.evaluation.scoring import Scores, by_group, score

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
) -> tuple[dict[str, Labelled], dict[str, Diagnosis]]:
    """The labels of `splits` (all when None) and the diagnosis of every labelled run."""
    labels = read_labels(folder)
    if splits:
        unknown = set(splits) - {run.split for run in labels.values()}
        if unknown:
            raise SystemExit(f"{folder}: no split named {', '.join(sorted(unknown))}")
        labels = {name: run for name, run in labels.items() if run.split in splits}
    diagnoses = {d.name: d for d in (result or audit(folder)).diagnoses}
    missing = sorted(set(labels) - set(diagnoses))
    if missing:
        raise SystemExit(f"{folder}: labelled runs not found by the audit: {', '.join(missing)}")
    return labels, diagnoses


def _by_split(
    labels: Mapping[str, Labelled], diagnoses: Mapping[str, Diagnosis]
) -> dict[str, tuple[list, list]]:
    """Split -> (records, groups) of its runs, in the order of labels.json."""
    found: dict[str, tuple[list, list]] = {}
    for name, run in labels.items():
        records, groups = found.setdefault(run.split, ([], []))
        records.append((run.label, diagnoses[name].verdict, diagnoses[name].confidence))
        groups.append(run.groups)
    return dict(sorted(found.items()))


def evaluate(
    folder: Path, result: AuditResult | None = None, splits: Sequence[str] | None = None
) -> dict[str, Scores]:
    """Score each split of `folder`'s labels.json, or only `splits`.

    `folder` is audited unless `result` is given.
    """
    split_runs = _by_split(*_labelled(folder, result, splits))
    return {split: score(records) for split, (records, _) in split_runs.items()}


def breakdown(
    folder: Path, result: AuditResult | None = None, splits: Sequence[str] | None = None
) -> dict[str, dict[str, dict[str, Scores]]]:
    """Split -> grouping (family, format, logger, cadence) -> value -> scores."""
    split_runs = _by_split(*_labelled(folder, result, splits))
    return {split: by_group(records, groups) for split, (records, groups) in split_runs.items()}


def tuning_misses(folder: Path, result: AuditResult | None = None) -> list[Miss]:
    """The development runs lrdoctor gets wrong: what threshold tuning looks at.

    Held-out misses are never listed: reading them would be tuning on the held-out split.
    """
    labels, diagnoses = _labelled(folder, result, [TUNING_SPLIT])
    misses = []
    for name, run in sorted(labels.items(), key=lambda item: (item[1].label, item[0])):
        diagnosis = diagnoses[name]
        if diagnosis.verdict != run.label:
            top = diagnosis.findings[0] if diagnosis.findings else None
            finding = f"{top.code} {top.name}" if top else ""
            misses.append(Miss(name, run.label, diagnosis.verdict, finding))
    return misses


def lofo(
    folder: Path, judged: Judged | None = None, tuning_file: Path = TUNING_FILE
) -> list[FamilyResult]:
    """Leave-one-family-out over the development split; `folder` is judged unless `judged`."""
    result, doctor, features = judged or judge(folder)
    labels, diagnoses = _labelled(folder, result, [TUNING_SPLIT])
    rejudge = Rejudge(doctor, [diagnoses[name] for name in labels], features)
    tuning = read_tuning(tuning_file, doctor.catalogue)
    return leave_one_family_out(rejudge, list(labels.values()), tuning)


def _order(verdict: str) -> tuple:
    known = verdict in LABELLED_VERDICTS
    return (not known, LABELLED_VERDICTS.index(verdict) if known else 0, verdict)


def _render_scores(scores: Scores) -> list[str]:
    lines = [
        f"macro-F1 {scores.macro_f1:.3f}   accuracy {scores.accuracy:.3f}   "
        f"healthy false alarms {scores.healthy_false_alarm_rate:.1%} "
        f"(95% CI {scores.healthy_false_alarm_interval[0]:.0%}.."
        f"{scores.healthy_false_alarm_interval[1]:.0%})   "
        f"ECE {scores.expected_calibration_error:.3f}",
        "",
        "confusion (rows: true label, columns: verdict)",
    ]
    predicted = sorted({v for row in scores.confusion.values() for v in row}, key=_order)
    lines.append(" " * 22 + " ".join(f"{v[:8]:>9}" for v in predicted))
    for label in scores.labels:
        row = scores.confusion[label]
        lines.append(f"{label:>21} " + " ".join(f"{row.get(v, 0):>9}" for v in predicted))
    lines += ["", f"{'verdict':>21} {'precision':>9} {'recall':>9} {'F1':>9}  recall 95% CI"]
    lines += [
        f"{label:>21} {scores.precision[label]:>9.3f} {scores.recall[label]:>9.3f} "
        f"{scores.f1[label]:>9.3f}  {scores.recall_interval[label][0]:.2f}.."
        f"{scores.recall_interval[label][1]:.2f}"
        for label in scores.labels
    ]
    lines += ["", f"{'confidence':>21} {'runs':>9} {'mean':>9} {'right':>9}"]
    for b in scores.reliability:
        span = "1.0" if b.low == b.high else f"{b.low:.1f}-{b.high:.1f}"
        if b.count:
            lines.append(f"{span:>21} {b.count:>9} {b.mean_confidence:>9.3f} {b.share_right:>9.3f}")
        else:
            lines.append(f"{span:>21} {0:>9}")
    return lines


def _render_groups(groups: Mapping[str, Mapping[str, Scores]]) -> list[str]:
    """Per grouping, a row per value: runs, accuracy, macro-F1 and its confusions."""
    lines = []
    for grouping, values in groups.items():
        lines += ["", f"{'by ' + grouping:>21} {'runs':>5} {'acc':>6} {'mF1':>6}  confusions"]
        for value, scores in values.items():
            confused = ", ".join(
                f"{truth}->{verdict} {count}"
                for truth, row in scores.confusion.items()
                for verdict, count in sorted(row.items(), key=lambda item: _order(item[0]))
                if verdict != truth
            )
            lines.append(
                f"{value:>21} {scores.runs:>5} {scores.accuracy:>6.3f} "
                f"{scores.macro_f1:>6.3f}  {confused or '-'}"
            )
    return lines


def render(
    results: Mapping[str, Scores],
    groups: Mapping[str, Mapping[str, Mapping[str, Scores]]] | None = None,
) -> str:
    lines = []
    for split, scores in results.items():
        lines += [f"== {split} split: {scores.runs} runs ==", *_render_scores(scores)]
        lines += _render_groups((groups or {}).get(split, {}))
        lines.append("")
    return "\n".join(lines)


def render_lofo(results: Sequence[FamilyResult]) -> str:
    lines = [
        f"== leave one family out ({TUNING_SPLIT} split; tuned on the other families) ==",
        f"{'family':>14} {'runs':>5} {'tuned on':>8}  {'accuracy':>15}  {'macro-F1':>15}"
        "  options tuned",
        f"{'':>30}{'default':>8} {'tuned':>6}  {'default':>8} {'tuned':>6}",
    ]
    for r in results:
        options = ", ".join(
            f"{rule}.{name}={value:g}"
            for rule, changed in r.options.items()
            for name, value in changed.items()
        )
        lines.append(
            f"{r.family:>14} {r.runs:>5} {r.tuned_on:>8}  {r.accuracy_default:>8.3f} "
            f"{r.accuracy_tuned:>6.3f}  {r.macro_f1_default:>8.3f} {r.macro_f1_tuned:>6.3f}"
            f"  {options or 'defaults'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.evaluate", description=__doc__)
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
    parser.add_argument(
        "--lofo",
        action="store_true",
        help=f"also tune the options of --tuning on all {TUNING_SPLIT} model families but "
        "one and score that one, for each family",
    )
    parser.add_argument(
        "--tuning", type=Path, default=TUNING_FILE, help="the options --lofo may tune"
    )
    args = parser.parse_args(argv)
    judged = judge(args.folder)
    result = judged[0]
    results = evaluate(args.folder, result, splits=args.split)
    groups = breakdown(args.folder, result, splits=args.split)
    misses = tuning_misses(args.folder, result) if args.misses else None
    families = lofo(args.folder, judged, args.tuning) if args.lofo else None
    if args.json:
        document = {
            split: {
                **s.to_dict(),
                "groups": {
                    grouping: {value: g.to_dict() for value, g in values.items()}
                    for grouping, values in groups[split].items()
                },
            }
            for split, s in results.items()
        }
        if misses is not None:
            document["misses"] = [asdict(miss) for miss in misses]
        if families is not None:
            document["lofo"] = [family.to_dict() for family in families]
        print(json.dumps(document, indent=2))
        return
    print(render(results, groups))
    if misses is not None:
        print(f"== {TUNING_SPLIT} runs whose verdict differs from their label ==")
        for miss in misses:
            print(f"{miss.label:>21} -> {miss.verdict:<21} {miss.top_finding:<26} {miss.name}")
    if families is not None:
        print(render_lofo(families))


if __name__ == "__main__":
    main()
