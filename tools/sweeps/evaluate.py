"""Score `lrdoctor.sweep` on the sample sweeps against the LR training measured best.

A sweep is a hit when the recommended LR is within one grid step of the LR whose run reached
the lowest validation loss, and the recommended range includes the recommended LR.

A range test meets the issue's bar when its suggested LR is within a factor of 3 of fastai's
valley on the same curve and within a factor of 3 of the best LR the sweep of its set-up
(and batch size) found by training. Where the valley itself is more than 9x from that LR, no
suggestion can meet both: the table says so.

Command line: python -m tools.sweeps.evaluate SWEEPS_FOLDER [--split dev|heldout]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from lrdoctor.sweep import Sweep, SweepResult, lr_text, sweep
from lrdoctor.sweeps.finder import Finder

WITHIN = 3.0  # the factor, both against the valley and against the trained best


@dataclass(frozen=True)
class Scored:
    truth: dict
    found: Sweep | None
    steps_off: int | None  # grid steps between the recommended and the measured best LR

    @property
    def hit(self) -> bool:
        if self.found is None or self.steps_off is None or self.steps_off > 1:
            return False
        low, high = self.found.recommended_range
        return low <= self.found.recommended_lr <= high


def load_truth(root: Path) -> list[dict]:
    return json.loads((Path(root) / "truth.json").read_text())["sweeps"]


def match(truth: dict, result: SweepResult) -> Sweep | None:
    """The sweep lrdoctor found for a truth entry: under its folder, with its group values."""
    folder = "/" + truth["sweep"] + "/"  # sweep names are unique; MLflow sources relative
    wanted = {key: str(value) for key, value in truth["group"].items()}
    candidates = [
        found
        for found in result.sweeps
        if folder in "/" + found.source.replace("\\", "/") + "/"
        and all(found.group.get(key) == value for key, value in wanted.items())
    ]
    return max(candidates, key=lambda found: len(found.runs), default=None)


def score(truths: list[dict], result: SweepResult) -> list[Scored]:
    scored = []
    for truth in truths:
        found = match(truth, result)
        off = None
        if found is not None and found.recommended_lr is not None and truth["best_lr"]:
            lrs = truth["lrs"]
            nearest = min(lrs, key=lambda lr: abs(lr - found.recommended_lr) / lr)
            off = abs(lrs.index(nearest) - lrs.index(truth["best_lr"]))
        scored.append(Scored(truth, found, off))
    return scored


def factor(a: float | None, b: float | None) -> float:
    """How many times the larger of two LRs is the smaller; infinite when one is missing."""
    if not a or not b:
        return math.inf
    return max(a, b) / min(a, b)


@dataclass(frozen=True)
class ScoredFinder:
    truth: dict
    found: Finder | None

    @property
    def valley(self) -> float | None:
        return self.found.suggestions.get("valley") if self.found else None

    @property
    def suggested(self) -> float | None:
        return self.found.suggested_lr if self.found else None

    @property
    def from_valley(self) -> float:
        return factor(self.suggested, self.valley)

    @property
    def from_best(self) -> float:
        return factor(self.suggested, self.truth["best_lr"])

    @property
    def feasible(self) -> bool:
        """Some LR is within 3x of both the valley and the trained best."""
        return factor(self.valley, self.truth["best_lr"]) <= WITHIN**2 * (1 + 1e-9)

    @property
    def hit(self) -> bool:
        return max(self.from_valley, self.from_best) <= WITHIN * (1 + 1e-9)


def match_finder(truth: dict, result: SweepResult) -> Finder | None:
    """The range test lrdoctor read for a truth entry: the one whose name has the `finder`
    as a part (a file name counts without its extension); finder names are unique."""
    for found in result.finders:
        parts = found.name.replace("\\", "/").split("/")
        if truth["finder"] in parts + [part.rsplit(".", 1)[0] for part in parts]:
            return found
    return None


def score_finders(truths: list[dict], result: SweepResult) -> list[ScoredFinder]:
    return [ScoredFinder(truth, match_finder(truth, result)) for truth in truths]


def finder_table(rows: list[ScoredFinder]) -> list[str]:
    """One line per range test: fastai's valley, the suggestion, the trained best, both factors."""
    lines = [
        f"{'range test':43} {'protocol':9} {'valley':>7} {'suggested':>9} {'trained':>7} "
        f"{'x valley':>8} {'x trained':>9}"
    ]
    for row in rows:
        verdict = "hit " if row.hit else ("MISS" if row.feasible else "n/a ")
        lines.append(
            f"{verdict} {row.truth['finder']:38} {row.truth['protocol']:9} "
            f"{_lr(row.valley):>7} {_lr(row.suggested):>9} {_lr(row.truth['best_lr']):>7} "
            f"{row.from_valley:8.2f} {row.from_best:9.2f}"
        )
    hits = sum(row.hit for row in rows)
    infeasible = [row for row in rows if not row.feasible]
    alone = sum(factor(row.valley, row.truth["best_lr"]) <= WITHIN * (1 + 1e-9) for row in rows)
    lines.append(f"{hits} of {len(rows)} range tests within 3x of both (the valley: {alone})")
    if infeasible:
        worst = ", ".join(
            f"{row.truth['finder']} {_times(factor(row.valley, row.truth['best_lr']))}"
            for row in infeasible
        )
        lines.append(
            f"{len(infeasible)} of {len(rows)} cannot be (n/a): fastai's valley is more than 9x "
            f"from the trained best ({worst})"
        )
    return lines


def _times(value: float) -> str:
    return f"{value:.2g}x" if value < 10 else f"{value:.0f}x"


def _lr(value: float | None) -> str:
    return lr_text(value) if value else "none"


def print_sweeps(root: Path, split: str) -> None:
    truths = [t for t in load_truth(root) if t["split"] == split]
    result = sweep(root / split)
    rows = score(truths, result)
    for row in rows:
        name = row.truth["sweep"] + "".join(f" {k}={v}" for k, v in row.truth["group"].items())
        rec = row.found.recommended_lr if row.found else None
        print(
            f"{'hit ' if row.hit else 'MISS'} {name}: best {lr_text(row.truth['best_lr'])}, "
            f"recommended {lr_text(rec) if rec else 'none'} ({row.steps_off} steps off)"
        )
        if row.found is not None and not row.hit:
            print("     " + row.found.summary)
    hits = sum(row.hit for row in rows)
    print(f"{split}: {hits}/{len(rows)} sweeps within one grid step ({hits / len(rows):.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.sweeps.evaluate", description=__doc__)
    parser.add_argument("root", help="the sample sweeps folder (holding truth.json)")
    parser.add_argument("--split", choices=("dev", "heldout"), default="dev")
    args = parser.parse_args()
    root = Path(args.root)
    if (root / args.split).is_dir():  # a folder of re-seeded range tests has no sweeps
        print_sweeps(root, args.split)
    finders = json.loads((root / "truth.json").read_text())["finders"]
    finders = [truth for truth in finders if truth["split"] == args.split]
    if finders:
        print()
        print("\n".join(finder_table(score_finders(finders, sweep(root / "finders")))))


if __name__ == "__main__":
    main()
