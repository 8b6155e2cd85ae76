"""Command line: python -m tools.corpus OUT
--split dev|heldout|fresh|fresh2|fresh3|fresh4|fresh5|fresh6|schedules|all --jobs 2 (all: dev and
heldout; schedules: dev's kinds with each verdict's schedule drawn apart from it)."""

from __future__ import annotations

import argparse

from tools.corpus.generate import main_args
from tools.corpus.recipes import VERDICTS


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.corpus", description=__doc__)
    parser.add_argument("out", help="output folder (runs under OUT/<split>/, OUT/labels.json)")
    parser.add_argument(
        "--split",
        choices=(
            "dev",
            "heldout",
            "fresh",
            "fresh2",
            "fresh3",
            "fresh4",
            "fresh5",
            "fresh6",
            "schedules",
            "all",
        ),
        default="all",
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    parser.add_argument(
        "--per-verdict",
        type=int,
        default=None,
        help="kept runs per verdict (40 dev, 20 heldout, 15 in each fresh split)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--verdicts",
        nargs="+",
        choices=VERDICTS,
        default=list(VERDICTS),
        help="generate only these verdicts (to merge into an existing corpus)",
    )
    args = parser.parse_args()
    main_args(args.out, args.split, args.jobs, args.per_verdict, args.seed, tuple(args.verdicts))


if __name__ == "__main__":
    main()
