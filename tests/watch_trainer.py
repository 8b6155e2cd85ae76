"""A real training for the watch tests, run as a script in a subprocess.

Trains linear regressions with mini-batch SGD and logs every step as it happens: to
TensorBoard with PyTorch's SummaryWriter and to a CSV file, each flushed after every step.
Where torch is not installed (the test extra does not pull it), the same SGD runs in numpy
and tensorboardX's SummaryWriter writes the events. A run given
`--nan-at STEP` meets a corrupted batch (a NaN feature) at that step: its loss is NaN from
there on, as the weights are. With `--go FILE` it waits for FILE before that step, so a test
can start the watch first; `--marker FILE` receives the wall time right after the NaN step
was flushed to both logs.

    python tests/watch_trainer.py OUT --run healthy --run broken:150 --steps 300
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

SAMPLES, FEATURES, BATCH = 4096, 8, 64
LEARNING_RATE = 0.05


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--run", action="append", required=True, help="NAME or NAME:NAN_STEP")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--step-seconds", type=float, default=0.01)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--marker", type=Path)
    args = parser.parse_args()
    # TensorBoard's own switch to its stub of TensorFlow: writing event files needs no TF,
    # and importing a TF that happens to be installed costs seconds.
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    try:
        import torch
    except ImportError:
        torch = None
    runs = []
    if torch is not None:
        from torch.utils.tensorboard import SummaryWriter

        torch.set_num_threads(1)  # a small model: more threads would only compete with the watch
        torch.manual_seed(0)
        features = torch.randn(SAMPLES, FEATURES)
        targets = features @ torch.randn(FEATURES, 1) + 0.1 * torch.randn(SAMPLES, 1)
    else:
        import numpy as np
        from tensorboardX import SummaryWriter

        rng = np.random.default_rng(0)
        features = rng.standard_normal((SAMPLES, FEATURES))
        targets = features @ rng.standard_normal((FEATURES, 1))
        targets += 0.1 * rng.standard_normal((SAMPLES, 1))
    for spec in args.run:
        name, _, nan_at = spec.partition(":")
        if torch is not None:
            model = torch.nn.Linear(FEATURES, 1)
            optimiser = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        else:
            model, optimiser = np.zeros((FEATURES, 1)), None
        writer = SummaryWriter(str(args.out / "tb" / name), flush_secs=3600)
        csv_path = args.out / "csv" / f"{name}.csv"
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv = csv_path.open("w", encoding="utf-8")
        csv.write("step,loss,lr\n")
        csv.flush()
        runs.append([model, optimiser, writer, csv, int(nan_at) if nan_at else None])
    for step in range(args.steps):
        if torch is not None:
            batch = torch.randint(0, SAMPLES, (BATCH,))
        else:
            batch = rng.integers(0, SAMPLES, BATCH)
        for run in runs:
            model, optimiser, writer, csv, nan_at = run
            inputs = features[batch]
            if step == nan_at:
                if args.go is not None:
                    _wait_for(args.go)
                inputs = inputs.clone() if torch is not None else inputs.copy()
                inputs[0, 0] = float("nan")  # a corrupted record reaches the model
            if torch is not None:
                loss = torch.nn.functional.mse_loss(model(inputs), targets[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                value = loss.item()
            else:
                with np.errstate(invalid="ignore"):
                    error = inputs @ model - targets[batch]
                    value = float(np.mean(error**2))
                    run[0] = model - LEARNING_RATE * 2 * inputs.T @ error / BATCH
            writer.add_scalar("loss", value, step)
            writer.add_scalar("lr", LEARNING_RATE, step)
            writer.flush()
            csv.write(f"{step},{value!r},{LEARNING_RATE}\n")
            csv.flush()
            if step == nan_at and args.marker is not None:
                args.marker.write_text(repr(time.time()), encoding="utf-8")
        time.sleep(args.step_seconds)
    for _, _, writer, csv, _ in runs:
        writer.close()
        csv.close()


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
