"""Command line: python -m tools.sweeps OUT [--only NAME...] [--finders | --finders-only]
[--reseed N]

--reseed runs the range tests from another initialisation and batch order (each sweep's
seed + N); with a copy of sample_logs/sweeps/truth.json in OUT, `python -m
tools.sweeps.evaluate OUT` then scores them against the same trained best LRs."""

from __future__ import annotations

import argparse

from tools.sweeps.generate import SWEEPS, generate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.sweeps", description=__doc__)
    parser.add_argument("out", help="output folder (sweeps under OUT/<split>/, OUT/truth.json)")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SWEEPS], default=None)
    parser.add_argument("--finders", action="store_true", help="also the LR range tests")
    parser.add_argument("--finders-only", action="store_true", help="only the LR range tests")
    parser.add_argument("--reseed", type=int, default=0, help="range tests' seed offset")
    args = parser.parse_args()
    only = [] if args.finders_only else args.only
    generate(args.out, only, args.finders or args.finders_only, args.reseed)


if __name__ == "__main__":
    main()
