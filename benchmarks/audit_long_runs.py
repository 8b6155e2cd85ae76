"""`lrdoctor audit --jobs 2 --format jsonl` over many long runs of five tags: wall time and peak
memory at two run counts (a script, not a test; needs torch and lightning).

One real run is trained once (cached in the temp folder, keyed by its length): a small MLP
classifier under SGD with momentum and a cosine schedule, logging through Lightning's own
CSVLogger at every step its loss, accuracy, learning rate and gradient norm, and a validation
loss every 400 steps (five tags). The workloads are hard-linked replicas of its
`metrics.csv`, one version folder per run, as a sweep or a cluster's experiments would lay
them out: the same bytes, no disk cost, the page cache warm after the first pass.

    python benchmarks/audit_long_runs.py                 # 1,000 x 20,000 and 10,000 x 2,000
    python benchmarks/audit_long_runs.py --long 100 --short 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _measure import load_line, lrdoctor_command, measure

from lrdoctor.discovery import read_runs

VAL_EVERY = 400
WORKLOAD_VERSION = 1


def train_once(steps: int, folder: Path) -> Path:
    """The `metrics.csv` of one real training run of `steps` steps (written once)."""
    done = folder / "lightning_logs" / "run" / "version_0" / "metrics.csv"
    if done.exists():
        return done
    import torch
    from lightning.pytorch.loggers import CSVLogger

    torch.manual_seed(0)
    torch.set_num_threads(1)
    inputs = torch.randn(4096, 16)
    labels = (inputs[:, :4].sum(1) + 0.5 * torch.randn(4096) > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    logger = CSVLogger(folder / "lightning_logs", name="run", version=0)
    for step in range(steps):
        batch = torch.randint(0, 3584, (32,))
        output = model(inputs[batch])
        loss = torch.nn.functional.cross_entropy(output, labels[batch])
        optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1e9)
        metrics = {
            "train_loss": loss.item(),
            "train_acc": (output.argmax(1) == labels[batch]).float().mean().item(),
            "lr-SGD": optimizer.param_groups[0]["lr"],
            "grad_norm": grad_norm.item(),
        }
        optimizer.step()
        schedule.step()
        if (step + 1) % VAL_EVERY == 0:
            with torch.no_grad():
                held_out = model(inputs[3584:])
                metrics["val_loss"] = torch.nn.functional.cross_entropy(
                    held_out, labels[3584:]
                ).item()
        logger.log_metrics(metrics, step)
    logger.save()
    return done


def replicate(metrics: Path, folder: Path, runs: int) -> Path:
    """`runs` version folders, each holding a hard link to `metrics` (made once)."""
    root = folder / f"replicas-{runs}"
    marker = root / ".complete"
    if marker.exists():
        return root
    for index in range(runs):
        version = root / "lightning_logs" / f"run{index:05d}" / "version_0"
        version.mkdir(parents=True, exist_ok=True)
        target = version / "metrics.csv"
        if not target.exists():
            os.link(metrics, target)
    marker.touch()
    return root


def audit_figures(root: Path, runs: int, steps: int) -> None:
    """Time and peak memory of one streaming audit of `root`, with the load beside them."""
    print(f"{runs:,} runs of {steps:,} steps x 5 tags, audit --jobs 2 --format jsonl")
    print(f"  before: {load_line()}")
    result = measure(lrdoctor_command("audit", str(root), "--jobs", "2", "--format", "jsonl"))
    print(
        f"  {result.seconds:.1f} s wall, {result.cpu_seconds:.1f} s CPU, "
        f"peak RSS {result.peak_mib:.0f} MiB ({runs / result.seconds:.0f} runs/s)"
    )
    print(f"  after:  {load_line()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=1000, help="runs of --long-steps steps")
    parser.add_argument("--long-steps", type=int, default=20_000)
    parser.add_argument("--short", type=int, default=10_000, help="runs of --short-steps steps")
    parser.add_argument("--short-steps", type=int, default=2_000)
    arguments = parser.parse_args()
    base = Path(tempfile.gettempdir()) / f"lrdoctor-bench-long-runs-v{WORKLOAD_VERSION}"
    workloads = ((arguments.long, arguments.long_steps), (arguments.short, arguments.short_steps))
    for runs, steps in workloads:
        folder = base / f"s{steps}"
        metrics = train_once(steps, folder)
        (run,) = read_runs([metrics]).runs
        print(f"one run: {run.total_points:,} points, tags {sorted(run.points)}")
        measure(lrdoctor_command("audit", str(metrics)))  # untimed: imports, bytecode cache
        audit_figures(replicate(metrics, folder, runs), runs, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
