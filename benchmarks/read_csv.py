"""`lrdoctor runs` over Lightning `metrics.csv` files against pandas `read_csv` of the same
files, whole processes side by side (a script, not a test).

The workload is written once by Lightning's own CSVLogger (cached in the temp folder, keyed by
the parameters): RUNS runs, each logging a training row (loss, accuracy, gradient norm, epoch)
and LearningRateMonitor's row at every step, and a validation row every 1,000 steps, as a
Trainer does; about 1.8 MB per file, 355 MB in all at the default size. Before timing, the
points lrdoctor reads from one file are checked against pandas' (same steps and values).

    python benchmarks/read_csv.py                       # 200 runs x 17,500 steps (~355 MB)
    python benchmarks/read_csv.py --runs 10 --steps 2000 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from _measure import lrdoctor_command, python_command, side_by_side

WORKLOAD_VERSION = 1
VAL_EVERY = 1000
PANDAS_READS = "import sys, pandas\nfor path in sys.argv[1:]:\n    pandas.read_csv(path)\n"


def _write_run(job: tuple[Path, int, int]) -> None:
    """One run through Lightning's CSVLogger, float32 values as `tensor.item()` gives them."""
    from lightning.pytorch.loggers import CSVLogger

    save_dir, run_index, steps = job
    rng = np.random.default_rng(run_index)
    step_numbers = np.arange(steps)
    decay = 1.0 + step_numbers / (500.0 * (1 + run_index % 7))
    loss = (2.0 / decay + rng.normal(0, 0.05, steps)).astype(np.float32).tolist()
    accuracy = (1.0 - 1.0 / decay).astype(np.float32).tolist()
    grad_norm = np.abs(rng.normal(1.0, 0.3, steps)).astype(np.float32).tolist()
    learning_rate = (1e-3 * np.cos(step_numbers / steps)).tolist()
    logger = CSVLogger(str(save_dir), name="lightning_logs", version=run_index)
    for step in range(steps):
        epoch = step // 2000
        logger.log_metrics({"lr-Adam": learning_rate[step]}, step=step)
        logger.log_metrics(
            {
                "train_loss": loss[step],
                "train_acc": accuracy[step],
                "grad_norm": grad_norm[step],
                "epoch": epoch,
            },
            step=step,
        )
        if step % VAL_EVERY == VAL_EVERY - 1:
            logger.log_metrics({"val_loss": loss[step] * 1.1, "epoch": epoch}, step=step)
    logger.save()


def prepare_workload(runs: int, steps: int) -> Path:
    key = f"r{runs}-s{steps}-v{WORKLOAD_VERSION}"
    base = Path(tempfile.gettempdir()) / f"lrdoctor-bench-csv-{key}"
    complete = base / "complete"
    if complete.exists():
        print("workload: cached")
        return base / "logs"
    print("workload: writing with Lightning's CSVLogger (done once) ...", flush=True)
    started = time.perf_counter()
    with Pool(2) as pool:
        pool.map(_write_run, [(base / "logs", index, steps) for index in range(runs)])
    complete.write_text("written\n")
    print(f"workload: written in {time.perf_counter() - started:.0f} s")
    return base / "logs"


def same_points_as_pandas(path: Path) -> list[str]:
    """Where lrdoctor's curves of one file differ from pandas' columns (empty if nowhere)."""
    import pandas as pd

    from lrdoctor.readers.base import ReadOptions
    from lrdoctor.readers.csv_logs import READER

    (run,) = READER.read(path, path.parent, ReadOptions())
    table = pd.read_csv(path)
    problems = []
    for name, curve in run.curves.items():
        # a step logged twice (epoch on the training and the validation row) keeps its last
        column = table[["step", name]].dropna().drop_duplicates("step", keep="last")
        column = column.sort_values("step", kind="stable")
        if not (
            np.array_equal(curve.steps, column["step"].to_numpy(np.int64))
            and np.array_equal(curve.values, column[name].to_numpy(np.float64))
        ):
            problems.append(name)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=17_500)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    logs = prepare_workload(arguments.runs, arguments.steps)
    files = sorted(logs.rglob("metrics.csv"))
    size = sum(path.stat().st_size for path in files)
    print(f"workload: {len(files)} Lightning metrics.csv files, {size / 1e6:,.0f} MB")
    problems = same_points_as_pandas(files[0])
    print(
        f"  points of {files[0].parent.name}: "
        + ("same as pandas" if not problems else f"DIFFERENT in {problems}")
    )
    side_by_side(
        {
            "lrdoctor runs": lrdoctor_command("runs", str(logs)),
            "pandas read_csv": python_command("-c", PANDAS_READS, *map(str, files)),
        },
        arguments.repeats,
        baseline="pandas read_csv",
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
