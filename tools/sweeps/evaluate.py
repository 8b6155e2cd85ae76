"""Score `lrdoctor.sweep` on the sample sweeps against the LR training measured best.

A sweep is a hit when the recommended LR is within one grid step of the LR whose run reached
the lowest validation loss, and the recommended range includes the recommended LR.

Command line: python -m tools.sweeps.evaluate SWEEPS_FOLDER [--split dev|heldout]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from lrdoctor.sweep import Sweep, SweepResult, lr_text, sweep


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.sweeps.evaluate", description=__doc__)
    parser.add_argument("root", help="the sample sweeps folder (holding truth.json)")
    parser.add_argument("--split", choices=("dev", "heldout"), default="dev")
    args = parser.parse_args()
    root = Path(args.root)
    truths = [t for t in load_truth(root) if t["split"] == args.split]
    result = sweep(root / args.split)
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
    print(f"{args.split}: {hits}/{len(rows)} sweeps within one grid step ({hits / len(rows):.0%})")
    if args.split == "dev":
        finders = {finder.name.split("/")[0]: finder for finder in sweep(root / "finders").finders}
        for truth in json.loads((root / "truth.json").read_text())["finders"]:
            found = finders.get(truth["sweep"])
            suggested = found.suggested_lr if found else None
            factor = max(suggested, truth["best_lr"]) / min(suggested, truth["best_lr"])
            print(
                f"finder {truth['finder']}: suggested {lr_text(suggested)}, best by training "
                f"{lr_text(truth['best_lr'])} (factor {factor:.1f})"
            )


if __name__ == "__main__":
    main()
