"""A real PyTorch training for the watch tests, run as a script in a subprocess.

Trains linear regressions with SGD and logs every step as it happens: to TensorBoard with
PyTorch's SummaryWriter and to a CSV file, each flushed after every step. A run given
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
    import torch
    from torch.utils.tensorboard import SummaryWriter

    torch.set_num_threads(1)  # a small model: more threads would only compete with the watch
    torch.manual_seed(0)
    features = torch.randn(SAMPLES, FEATURES)
    targets = features @ torch.randn(FEATURES, 1) + 0.1 * torch.randn(SAMPLES, 1)
    runs = []
    for spec in args.run:
        name, _, nan_at = spec.partition(":")
        model = torch.nn.Linear(FEATURES, 1)
        optimiser = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        writer = SummaryWriter(str(args.out / "tb" / name), flush_secs=3600)
        csv_path = args.out / "csv" / f"{name}.csv"
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv = csv_path.open("w", encoding="utf-8")
        csv.write("step,loss,lr\n")
        csv.flush()
        runs.append((model, optimiser, writer, csv, int(nan_at) if nan_at else None))
    for step in range(args.steps):
        batch = torch.randint(0, SAMPLES, (BATCH,))
        for model, optimiser, writer, csv, nan_at in runs:
            inputs = features[batch]
            if step == nan_at:
                if args.go is not None:
                    _wait_for(args.go)
                inputs = inputs.clone()
                inputs[0, 0] = float("nan")  # a corrupted record reaches the model
            loss = torch.nn.functional.mse_loss(model(inputs), targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            writer.add_scalar("loss", loss.item(), step)
            writer.add_scalar("lr", LEARNING_RATE, step)
            writer.flush()
            csv.write(f"{step},{loss.item()!r},{LEARNING_RATE}\n")
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
