"""Property tests over every reader (issue 12, point 6): a real sample log of each format,
damaged by hypothesis (a truncation, flipped bytes, a chunk of the file spliced in elsewhere),
is read without an exception escaping and without a byte of it changing; in a CSV log, a
damaged data row costs that row, not the file.

Bounded to a few seconds: 25 damaged copies per format. A longer search is one setting away
(HYPOTHESIS_PROFILE=long below)."""

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_runs import SAMPLE_LOGS

from lrdoctor.discovery import read_runs

settings.register_profile(
    "short",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("long", parent=settings.get_profile("short"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))

DEV = SAMPLE_LOGS / "dev"
# format -> (the folder copied, the file in it that gets damaged)
SAMPLES = {
    "plain csv": (DEV / "plain_csv", "bold-falcon-5363.csv"),
    "lightning csv": (
        DEV / "lightning_csv" / "lightning_logs" / "bold-badger-5642",
        "version_0/metrics.csv",
    ),
    "trainer_state.json": (
        DEV / "hf_trainer" / "calm-maple-5446",
        "checkpoint-288/trainer_state.json",
    ),
    "tensorboard": (
        DEV / "torch_tensorboard" / "runs" / "cnn-adam-lr2e-04-b16-5131",
        "events.out.tfevents.1796647082.vm.5758.46",
    ),
}
LINE_FORMATS = ("plain csv", "lightning csv")


@st.composite
def damage(draw, data: bytes) -> bytes:
    """One of: cut the file short, flip up to 8 bytes, or copy a chunk over another place."""
    kind = draw(st.sampled_from(["truncate", "flip", "splice"]))
    size = len(data)
    if kind == "truncate":
        return data[: draw(st.integers(0, size - 1))]
    if kind == "flip":
        damaged = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, size - 1))
            damaged[at] ^= draw(st.integers(1, 255))
        return bytes(damaged)
    start = draw(st.integers(0, size - 1))
    chunk = data[start : start + draw(st.integers(1, 64))]
    at = draw(st.integers(0, size - 1))
    return data[:at] + chunk + data[at + len(chunk) :]


def _points(folder: Path) -> int:
    return sum(run.total_points for run in read_runs([str(folder)]).runs)


def _copy(name: str, tmp_path: Path) -> tuple[Path, Path]:
    source, damaged = SAMPLES[name]
    folder = tmp_path / "run"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
    return folder, folder / damaged


@pytest.mark.parametrize("name", list(SAMPLES))
def test_a_damaged_log_is_read_without_escaping_errors_or_writes(name, tmp_path):
    folder, target = _copy(name, tmp_path)
    clean = target.read_bytes()
    assert _points(folder) > 0

    @given(damaged=damage(clean))
    def check(damaged):
        target.write_bytes(damaged)
        before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        found = read_runs([str(folder)])  # never raises: damage becomes problems or warnings
        after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        assert after == before
        for problem in found.problems:
            assert problem.message and problem.source

    check()


@pytest.mark.parametrize("name", LINE_FORMATS)
def test_a_damaged_line_costs_that_line_not_the_file(name, tmp_path):
    """In a CSV log, flipping bytes inside one data row loses at most that row's points."""
    folder, target = _copy(name, tmp_path)
    lines = target.read_bytes().split(b"\n")
    whole = _points(folder)
    per_row = whole / max(1, len([line for line in lines[1:] if line.strip()]))

    @given(row=st.integers(1, len(lines) - 2), at=st.integers(0, 200), flip=st.integers(1, 255))
    def check(row, at, flip):
        line = bytearray(lines[row])
        if not line:
            return
        line[at % len(line)] ^= flip
        target.write_bytes(b"\n".join([*lines[:row], bytes(line), *lines[row + 1 :]]))
        found = read_runs([str(folder)])
        assert found.runs, found.problems  # the file is still read
        lost = whole - sum(run.total_points for run in found.runs)
        assert lost <= 2 * per_row + 2, (row, bytes(line))

    check()
