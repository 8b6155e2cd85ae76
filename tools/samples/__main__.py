"""`python -m tools.samples OUTDIR`: regenerate the labelled sample logs into OUTDIR."""

import os

# The models are tiny: one BLAS thread per worker process is faster than several.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402 - the thread limits above must be set before numpy loads
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from tools.samples.generate import generate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.samples", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="folder to (re)create, e.g. sample_logs")
    parser.add_argument("--workers", type=int, default=2, help="training processes (default 2)")
    args = parser.parse_args(argv)
    for split in ("dev", "heldout"):
        shutil.rmtree(args.out_dir / split, ignore_errors=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    generate(args.out_dir, workers=args.workers, progress=lambda text: print(text, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
