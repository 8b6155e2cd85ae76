"""Fit confidences to how often verdicts are right: `python -m tools.calibrate FOLDER --write`.

A verdict's confidence should be the chance that it is right. This tool audits a labelled
folder (`labels.json` beside the logs) once, and on the fitting split (dev) counts, for each
rule, how often the verdict it set was right, split in two by the test its confidence
expression already makes (`0.6 + 0.3 * (noise > 4 * min_noise)`: noise high or not). Runs on
which no rule fires give the `healthy` confidence. Small counts are shrunk towards the
verdict's overall precision (a Beta prior worth `PSEUDO_COUNTS` runs), so no fitted value is
1.0. The fitted values re-score the diagnoses already made, without a second audit: the
reliability table and expected calibration error (ECE) are printed for the fitting split (in
sample) and for every other split (out of sample, the honest figure). `--write` rewrites only
the `confidence = ...` line of each rule file and of `_verdicts.toml`.

Precision on dev overstates how often a verdict is right on runs of a new kind: the spent
held-out splits, judged once by the rules of their day, were right 85% of the time at a
stated 0.9 or more. So each fitted value then goes through a logistic map, logit(p) = a + b *
logit(fitted), fitted to those first-sight verdicts (`tools/first_sight.json`, written by
`python -m tools.first_sight`); `--dev-only` skips it. The map's own check is printed: each
spent split scored by a map fitted without it.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from lrdoctor.audit import iter_judged
from lrdoctor.diagnosis import Diagnosis, Doctor
from lrdoctor.discovery import Problem
from lrdoctor.engine import Config, Expression, Rule, compile_expression
from lrdoctor.engine.catalogue import VERDICTS_FILE
from lrdoctor.engine.evaluate import UNDETERMINED_CONFIDENCE, confidence_of
from tools.evaluation.scoring import Bin, expected_calibration_error
from tools.evaluation.scoring import reliability as scoring_reliability

PSEUDO_COUNTS = 2
"""Weight of the prior, in runs: a rule seen on 2 runs is fitted halfway to its verdict's."""
FITTED_SPLIT = "dev"
HEALTHY = "healthy"
UNJUDGED = ("insufficient_data", "unreadable")
"""Verdicts about the input, not the training: labels do not judge them, so they are left out."""
HIGH_CONFIDENCE = 0.9
FIRST_SIGHT = Path(__file__).with_name("first_sight.json")

Branch = bool | None
"""Which side of a rule's confidence test a finding took; None: unknown, or no test."""
Observation = tuple[str, str, Branch, bool]
"""(rule code or `healthy`, the verdict it gave, branch, whether the verdict was right)."""


@dataclass(frozen=True)
class Outcome:
    """One labelled run: its split, its label and what lrdoctor said of it."""

    split: str
    label: str
    diagnosis: Diagnosis


def _logit(p: float) -> float:
    p = min(0.99, max(0.01, p))
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Novelty:
    """logit(p) = intercept + slope * logit(confidence): from a confidence fitted on dev to
    the chance that a verdict on a run of a kind dev never had is right. The identity
    (0, 1) keeps dev's precision."""

    intercept: float = 0.0
    slope: float = 1.0

    def __call__(self, confidence: float) -> float:
        return 1 / (1 + math.exp(-(self.intercept + self.slope * _logit(confidence))))


def fit_novelty(scored: Sequence[tuple[float, bool]]) -> Novelty:
    """The maximum-likelihood map of (stated confidence, right) pairs."""
    x = np.array([_logit(confidence) for confidence, _ in scored])
    sign = np.array([1.0 if right else -1.0 for _, right in scored])

    def loss(params) -> float:  # the negative log-likelihood
        return float(np.sum(np.logaddexp(0.0, -sign * (params[0] + params[1] * x))))

    intercept, slope = minimize(loss, [0.0, 1.0]).x
    return Novelty(float(intercept), float(slope))


def read_first_sight(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def first_sight_pairs(records: Iterable[Mapping]) -> list[tuple[float, bool]]:
    """(stated confidence, right) of the first-sight verdicts lrdoctor judges on."""
    return [
        (record["confidence"], record["verdict"] == record["label"])
        for record in records
        if record["verdict"] not in UNJUDGED
    ]


@dataclass(frozen=True)
class Fit:
    """Counts of verdicts given and verdicts right, per (rule code or `healthy`, branch)."""

    labels: Mapping[str, str]  # rule code (or `healthy`) -> the verdict it gives
    counts: Mapping[tuple[str, Branch], tuple[int, int]]  # cell -> (runs, right)
    novelty: Novelty = field(default_factory=Novelty)

    def prior(self, label: str) -> float:
        """The verdict's overall precision, Laplace-smoothed so it is never 0 or 1."""
        runs = right = 0
        for (key, _), (n, k) in self.counts.items():
            if self.labels[key] == label:
                runs, right = runs + n, right + k
        return (right + 1) / (runs + 2)

    def confidence(self, key: str, branch: Branch) -> float:
        """The cell's precision shrunk towards its verdict's, to 2 decimals, within 0.01..0.99.

        The prior is worth `PSEUDO_COUNTS` runs and is below 1, so no fitted value is 1.0.
        The novelty map then turns dev's precision into the chance on a new kind.
        Capping at Laplace's (right + 1) / (runs + 2) as well was tried: leave-one-out on the
        dev split of sample_logs found it underconfident (ECE 0.08, 0.03 without it).
        """
        runs, right = self.counts.get((key, branch), (0, 0))
        shrunk = (right + PSEUDO_COUNTS * self.prior(self.labels[key])) / (runs + PSEUDO_COUNTS)
        return min(0.99, max(0.01, round(self.novelty(shrunk), 2)))

    def given(self, key: str, branch: Branch, tests: Mapping[str, Expression | None]) -> float:
        """The confidence a verdict from this cell gets once written: a test that reads a
        missing value leaves the rule's confidence undetermined, whatever was fitted."""
        if tests.get(key) is not None and branch is None:
            return UNDETERMINED_CONFIDENCE
        return self.confidence(key, branch)


def fit(
    observations: Iterable[Observation],
    labels: Mapping[str, str] | None = None,
    novelty: Novelty | None = None,
) -> Fit:
    """Count (key, label, branch, right) observations; `labels` adds keys never observed."""
    known = dict(labels or {})
    counts: dict[tuple[str, Branch], tuple[int, int]] = {}
    for key, label, branch, right in observations:
        known[key] = label
        runs, hits = counts.get((key, branch), (0, 0))
        counts[key, branch] = (runs + 1, hits + int(right))
    return Fit(known, counts, novelty or Novelty())


def leave_one_out(
    observations: Sequence[Observation],
    labels: Mapping[str, str],
    tests: Mapping,
    novelty: Novelty | None = None,
) -> list[tuple[float, bool]]:
    """(confidence, right) of each observation as fitted without it: out of sample."""
    scored = []
    for index, (key, _, branch, right) in enumerate(observations):
        rest = fit([*observations[:index], *observations[index + 1 :]], labels, novelty)
        scored.append((rest.given(key, branch, tests), right))
    return scored


def branch_of(rule: Rule) -> Expression | None:
    """The first test (comparison, `and`/`or`, `not`) in the rule's confidence, if any."""
    text = rule.confidence.text
    for node in ast.walk(ast.parse(text, mode="eval").body):
        if isinstance(node, (ast.Compare, ast.BoolOp)) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
        ):
            return compile_expression(ast.get_source_segment(text, node))
    return None


def side(test: Expression | None, values: Mapping) -> Branch:
    """The branch a finding took: the test's truth, None when unknown or there is no test."""
    if test is None:
        return None
    value = test.evaluate(values)
    return None if value is None else bool(value)


def fitted_confidence(rule: Rule, test: Expression | None, result: Fit) -> str:
    """The rule's fitted confidence expression: a number, or one value per side of `test`."""
    if test is None:
        return f"{result.confidence(rule.code, None):.2f}"
    when_false = result.confidence(rule.code, False)
    step = round(result.confidence(rule.code, True) - when_false, 2)
    sign = "-" if step < 0 else "+"
    return f"{when_false:.2f} {sign} {abs(step):.2f} * ({test.text})"


def fitted_expressions(
    rules: Iterable[Rule], tests: Mapping[str, Expression | None], result: Fit
) -> dict[str, Expression]:
    """Each rule's fitted confidence, compiled as the engine will read it once written."""
    return {
        rule.code: compile_expression(fitted_confidence(rule, tests[rule.code], result))
        for rule in rules
    }


def observe(
    outcomes: Iterable[Outcome], tests: Mapping[str, Expression | None]
) -> list[Observation]:
    """(key, label, branch, right) of each judged run: the top finding's rule, or healthy."""
    observations = []
    for outcome in outcomes:
        diagnosis = outcome.diagnosis
        if diagnosis.verdict in UNJUDGED:
            continue
        right = diagnosis.verdict == outcome.label
        if not diagnosis.findings:
            observations.append((HEALTHY, HEALTHY, None, right))
            continue
        top = diagnosis.findings[0]
        branch = side(tests.get(top.code), top.values)
        observations.append((top.code, top.label, branch, right))
    return observations


def rescore(
    diagnosis: Diagnosis, confidences: Mapping[str, Expression], healthy: float
) -> tuple[str, float]:
    """Verdict and confidence the diagnosis gets with new confidences, without re-auditing.

    Findings are re-ranked as `Doctor.diagnose` ranks them, since confidence breaks ties.
    """
    if diagnosis.verdict in UNJUDGED:
        return diagnosis.verdict, diagnosis.confidence
    if not diagnosis.findings:
        return HEALTHY, healthy
    scored = [
        (
            finding,
            confidence_of(confidences[finding.code], finding.values)
            if finding.code in confidences
            else finding.confidence,
        )
        for finding in diagnosis.findings
    ]
    top, confidence = min(scored, key=lambda pair: (pair[0].priority, -pair[1], pair[0].code))
    return top.label, confidence


def reliability(scored: Sequence[tuple[float, bool]]) -> tuple[tuple[Bin, ...], float]:
    """The evaluation harness's reliability bins and expected calibration error of
    (confidence, right) pairs."""
    bins = scoring_reliability([("", "" if right else "x", c) for c, right in scored])
    return bins, expected_calibration_error(bins)


def audit_labelled(folder: Path, rules_dir: Path) -> list[Outcome]:
    """Diagnose every labelled run of `folder` with the rules of `rules_dir` alone."""
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))["runs"]
    doctor = Doctor(Config(), rules_dirs=[rules_dir], builtin_rules=False)
    diagnoses = {
        item[0].name: item[0]
        for item in iter_judged([folder], doctor)
        if not isinstance(item, Problem)
    }
    missing = sorted(set(labels) - set(diagnoses))
    if missing:
        raise SystemExit(f"{folder}: labelled runs not found by the audit: {', '.join(missing)}")
    return [
        Outcome(entry["split"], entry["label"], diagnoses[name]) for name, entry in labels.items()
    ]


_CONFIDENCE_LINE = re.compile(r"^confidence[ \t]*=.*$", re.MULTILINE)
_CONDITION_LINE = re.compile(r"^condition[ \t]*=.*$", re.MULTILINE)
_TABLE_HEADER = re.compile(r"^[ \t]*\[", re.MULTILINE)


def replace_confidence(text: str, value: str, after: re.Pattern = _CONDITION_LINE) -> str:
    """`text` with the `confidence = ...` line of its first table set to `value`.

    Everything else is kept byte for byte; without such a line, one is added after the first
    line `after` matches.
    """
    header = _TABLE_HEADER.search(text)
    end = header.start() if header else len(text)
    line = f"confidence = {value}"
    found = _CONFIDENCE_LINE.search(text, 0, end)
    if found:
        return text[: found.start()] + line + text[found.end() :]
    anchor = after.search(text)
    if anchor is None:
        raise ValueError("no confidence line and nowhere to add one")
    return text[: anchor.end()] + "\n" + line + text[anchor.end() :]


_HEALTHY_HEADER = re.compile(r"^\[verdicts\.healthy\][ \t]*$", re.MULTILINE)
_NEW_VERDICTS_FILE = """\
# Confidence of the verdict no rule gives: the chance that a run on which no rule fires is
# healthy, measured on the development split by `python -m tools.calibrate LABELLED_FOLDER`.
# The leading `_` keeps this file out of the rules.

[verdicts.healthy]
confidence = {value}
"""


def write(
    rules_dir: Path, rules: Sequence[Rule], tests: Mapping[str, Expression | None], result: Fit
) -> None:
    """Rewrite the confidence of each rule file and of `healthy` in `rules_dir`."""
    for rule in rules:
        path = Path(rule.source)
        test = tests[rule.code]
        value = fitted_confidence(rule, test, result)
        text = path.read_text(encoding="utf-8")
        path.write_text(
            replace_confidence(text, value if test is None else json.dumps(value)),
            encoding="utf-8",
        )
    healthy = f"{result.confidence(HEALTHY, None):.2f}"
    path = rules_dir / VERDICTS_FILE
    if not path.is_file():
        path.write_text(_NEW_VERDICTS_FILE.format(value=healthy), encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    header = _HEALTHY_HEADER.search(text)
    if header is None:
        text += f"\n[verdicts.healthy]\nconfidence = {healthy}\n"
    else:
        body = replace_confidence(text[header.end() :], healthy, _HEALTHY_HEADER)
        text = text[: header.end()] + body
    path.write_text(text, encoding="utf-8")


def render_fit(result: Fit, tests: Mapping[str, Expression | None]) -> list[str]:
    """The fitted table: one row per (rule, branch) seen on the fitting split."""
    lines = [f"{'rule':<8} {'verdict':<21} {'branch':<8} {'runs':>5} {'right':>5}  fitted"]
    for key, branch in sorted(result.counts, key=lambda cell: (cell[0], str(cell[1]))):
        runs, right = result.counts[key, branch]
        name = "all" if tests.get(key) is None else str(branch).lower().replace("none", "unknown")
        shown = f"{result.given(key, branch, tests):.2f}"
        lines.append(f"{key:<8} {result.labels[key]:<21} {name:<8} {runs:>5} {right:>5}  {shown}")
    seen = {key for key, _ in result.counts}
    for key in sorted(set(result.labels) - seen):  # never set a verdict: given the prior
        shown = f"{result.confidence(key, None):.2f}"
        lines.append(f"{key:<8} {result.labels[key]:<21} {'(none)':<8} {0:>5} {0:>5}  {shown}")
    lines += [f"  {key} test: {test.text}" for key, test in sorted(tests.items()) if test]
    priors = sorted({label: result.prior(label) for label in result.labels.values()}.items())
    lines.append("prior (overall precision): " + ", ".join(f"{k} {v:.2f}" for k, v in priors))
    return lines


def render_reliability(title: str, scored: Sequence[tuple[float, bool]]) -> list[str]:
    """A reliability table, its ECE and how often confident (>= 0.9) verdicts are right."""
    bins, ece = reliability(scored)
    lines = [title, f"{'confidence':<11} {'runs':>5} {'share':>6} {'mean conf':>9}"]
    for b in bins:
        where = "1.0" if b.low == b.high else f"[{b.low:.1f},{b.high:.1f})"
        share, mean = b.share_right or 0.0, b.mean_confidence or 0.0
        lines.append(f"{where:<11} {b.count:>5} {share:>6.2f} {mean:>9.2f}")
    high = [right for confidence, right in scored if round(confidence, 6) >= HIGH_CONFIDENCE]
    share = f"{sum(high) / len(high):.0%}" if high else "n/a"
    lines.append(
        f"ECE {ece:.3f}; confidence >= {HIGH_CONFIDENCE}: {sum(high)}/{len(high)} right ({share})"
    )
    return lines


def render_novelty(records: Sequence[Mapping], novelty: Novelty) -> list[str]:
    """The novelty map, and each spent split's first-sight verdicts scored by a map fitted
    on the other splits: its out-of-sample check."""
    lines = [
        "",
        f"== novelty map, fitted on {len(records)} first-sight verdicts: logit(p) = "
        f"{novelty.intercept:.2f} + {novelty.slope:.2f} * logit(fitted) ==",
        "  " + ", ".join(f"{c:.2f} -> {novelty(c):.2f}" for c in (0.6, 0.75, 0.9, 0.95, 0.99)),
        f"{'split':<9} {'runs':>5} {'right':>6}  {'ECE as stated':>13} {'mapped':>7}"
        f"  {'>=0.9 right as stated':>21} {'mapped':>10}",
    ]
    for split in sorted({record["split"] for record in records}):
        mine = first_sight_pairs(r for r in records if r["split"] == split)
        rest = fit_novelty(first_sight_pairs(r for r in records if r["split"] != split))
        mapped = [(rest(confidence), right) for confidence, right in mine]
        cells = []
        for scored in (mine, mapped):
            high = [right for confidence, right in scored if confidence >= HIGH_CONFIDENCE]
            cells.append(f"{sum(high)}/{len(high)}")
        lines.append(
            f"{split:<9} {len(mine):>5} {sum(r for _, r in mine) / len(mine):>6.2f}"
            f"  {reliability(mine)[1]:>13.3f} {reliability(mapped)[1]:>7.3f}"
            f"  {cells[0]:>21} {cells[1]:>10}"
        )
    return lines


def report(
    outcomes: Sequence[Outcome],
    rules: Sequence[Rule],
    tests: Mapping[str, Expression | None],
    result: Fit,
    fitted_split: str,
) -> list[str]:
    """Reliability of each split, re-scored with the fitted values; the fitted split first."""
    new = fitted_expressions(rules, tests, result)
    healthy = result.confidence(HEALTHY, None)
    lines = []
    for split in sorted({o.split for o in outcomes}, key=lambda s: (s != fitted_split, s)):
        chosen = [o for o in outcomes if o.split == split and o.diagnosis.verdict not in UNJUDGED]
        before = [(o.diagnosis.confidence, o.diagnosis.verdict == o.label) for o in chosen]
        after = []
        for outcome in chosen:
            verdict, confidence = rescore(outcome.diagnosis, new, healthy)
            after.append((confidence, verdict == outcome.label))
        kind = "in sample: fitted on these runs" if split == fitted_split else "OUT OF SAMPLE"
        lines += ["", *render_reliability(f"== {split}, fitted confidences ({kind}) ==", after)]
        lines.append(
            f"(with the confidences the rules state now: ECE {reliability(before)[1]:.3f})"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.calibrate", description=__doc__)
    parser.add_argument("folder", type=Path, help="labelled logs (labels.json beside them)")
    parser.add_argument("--rules-dir", type=Path, default=Path("rules"))
    parser.add_argument("--split", default=FITTED_SPLIT, help="the split to fit on")
    parser.add_argument(
        "--write", action="store_true", help="rewrite the confidence lines in --rules-dir"
    )
    parser.add_argument("--first-sight", type=Path, default=FIRST_SIGHT)
    parser.add_argument(
        "--dev-only", action="store_true", help="keep dev's precision: no novelty map"
    )
    args = parser.parse_args(argv)
    novelty, novelty_lines = Novelty(), []
    if not args.dev_only:
        records = read_first_sight(args.first_sight)
        novelty = fit_novelty(first_sight_pairs(records))
        novelty_lines = render_novelty(records, novelty)
    outcomes = audit_labelled(args.folder, args.rules_dir)
    catalogue = Doctor(rules_dirs=[args.rules_dir], builtin_rules=False).catalogue
    rules = [rule for rule in catalogue if rule.label not in UNJUDGED]
    tests = {rule.code: branch_of(rule) for rule in rules}
    fitted_on = [o for o in outcomes if o.split == args.split]
    if not fitted_on:
        raise SystemExit(f"{args.folder}: no run in split {args.split!r}")
    labels = {HEALTHY: HEALTHY} | {rule.code: rule.label for rule in rules}
    result = fit(observe(fitted_on, tests), labels, novelty)
    left_out = sum(o.diagnosis.verdict in UNJUDGED for o in fitted_on)
    lines = [
        f"== fitted on {args.split}: {len(fitted_on) - left_out} runs "
        f"({left_out} insufficient_data or unreadable left out) =="
    ]
    lines += render_fit(result, tests)
    lines += novelty_lines
    observations = observe(fitted_on, tests)
    lines += [
        "",
        *render_reliability(
            f"== {args.split}, each run scored by a fit without it (leave-one-out) ==",
            leave_one_out(observations, labels, tests, novelty),
        ),
    ]
    lines += report(outcomes, rules, tests, result, args.split)
    print("\n".join(lines))
    if args.write:
        write(args.rules_dir, rules, tests, result)
        Doctor(rules_dirs=[args.rules_dir], builtin_rules=False)  # refuses a broken rewrite
        print(f"\nwrote the fitted confidences to {args.rules_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
