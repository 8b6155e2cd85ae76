"""Start-up of the CLI against importing numpy and pandas, whole processes side by side (a
script, not a test): `lrdoctor --version` and `lrdoctor --help` load no heavy module, so they
should cost less than the imports every data tool pays.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse

from _measure import lrdoctor_command, python_command, side_by_side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    side_by_side(
        {
            "lrdoctor --version": lrdoctor_command("--version"),
            "lrdoctor --help": lrdoctor_command("--help"),
            "import numpy, pandas": python_command("-c", "import numpy, pandas"),
        },
        arguments.repeats,
        baseline="import numpy, pandas",
    )


if __name__ == "__main__":
    main()
