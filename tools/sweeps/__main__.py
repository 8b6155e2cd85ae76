"""Command line: python -m tools.sweeps OUT [--only NAME...]"""

from __future__ import annotations

import argparse

from tools.sweeps.generate import SWEEPS, generate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.sweeps", description=__doc__)
    parser.add_argument("out", help="output folder (sweeps under OUT/<split>/, OUT/truth.json)")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SWEEPS], default=None)
    args = parser.parse_args()
    generate(args.out, args.only)


if __name__ == "__main__":
    main()
