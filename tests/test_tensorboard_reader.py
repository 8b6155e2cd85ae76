"""The TensorBoard reader on real event files: the shared third-party fixtures (checked
against their PROVENANCE.md), files written here by tensorboardX and by tensorboard's own
writer, and damaged copies."""

from __future__ import annotations

import math
import os
import shutil
import struct
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sample_runs import LABELS, firing_run, run_path
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary import DirectoryOutput, Writer
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util
from tensorboardX import SummaryWriter

from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.readers import _tfrecord
from lrdoctor.readers._tfrecord import read_event_file
from lrdoctor.readers.base import Claim, ReadError, ReadOptions
from lrdoctor.readers.tensorboard import READER, add_scalars_tag
from lrdoctor.roles import assign_roles

OPTIONS = ReadOptions()

# Every directory of the shared TensorBoard fixtures that holds event files.
FIXTURE_EVENT_DIRECTORIES = [
    "tf2_summary_scalar",
    "lingvo_simple_value",
    "keras_callback/train",
    "torch_summarywriter_reducer/strict/run_1",
    "torch_summarywriter_reducer/strict/run_2",
    "torch_summarywriter_reducer/strict/run_3",
    "torch_summarywriter_reducer/lax/run_1",
    "torch_summarywriter_reducer/duplicate_steps/run_1",
    "sb3_dqn_torch/DQN_1",
    "tensorboardx_ray_tune",
    "lightning_tblogger/medium_pilot/version_0",
    "lightning_tblogger/crashed_before_first_log/version_0",
    "lightning_tblogger/smoke_two_points/version_0",
    "derived_edge_cases/truncated",
    "derived_edge_cases/empty",
]


@pytest.fixture
def tensorboard_fixtures(shared_fixtures: Path) -> Path:
    return shared_fixtures / "tensorboard"


def read_one(path: Path, root: Path | None = None):
    runs = READER.read(path, root or path.parent, OPTIONS)
    assert len(runs) == 1
    return runs[0]


def discover(root: Path) -> dict[str, list]:
    """Runs found by walking `root` top-down the way discovery does, honouring claims."""
    runs = {}
    for directory, dirnames, filenames in os.walk(root):
        claims = READER.claim(Path(directory), sorted(dirnames), sorted(filenames))
        for claim in claims:
            dirnames[:] = [name for name in dirnames if name not in claim.owned_dirs]
            for run in READER.read(claim.path, root, OPTIONS):
                runs[run.name] = run
    return runs


def loader_points(path: Path) -> dict[str, list[tuple[int, float, float]]]:
    """Scalar points per tag in write order, as tensorboard's own event loader yields them."""
    points = defaultdict(list)
    for event in LegacyEventFileLoader(str(path)).Load():
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                points[value.tag].append((event.step, value.simple_value, event.wall_time))
            elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
                number = float(tensor_util.make_ndarray(value.tensor))
                points[value.tag].append((event.step, number, event.wall_time))
    return points


def scalar_event(tag: str, value: float, step: int, wall_time: float) -> event_pb2.Event:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary)


def tensor_event(
    tag: str, tensor, step: int, wall_time: float, plugin: str | None = "scalars"
) -> event_pb2.Event:
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if plugin is not None:
        value.metadata.plugin_data.plugin_name = plugin
    return event_pb2.Event(
        wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=[value])
    )


def write_events(directory: Path, events: list[event_pb2.Event]) -> Path:
    """Write events with tensorboard's own EventFileWriter (what torch's SummaryWriter uses)."""
    before = set(directory.glob("*tfevents*"))
    writer = EventFileWriter(str(directory))
    for event in events:
        writer.add_event(event)
    writer.close()
    (path,) = set(directory.glob("*tfevents*")) - before
    return path


def record_spans(data: bytes) -> list[tuple[int, int]]:
    """(offset, data length) of each TFRecord, walked independently of the reader."""
    spans, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        spans.append((offset, length))
        offset += 16 + length
    return spans


# --- Shared fixtures: every file agrees with tensorboard's own loader -------------------


@pytest.mark.parametrize("relative", FIXTURE_EVENT_DIRECTORIES)
def test_every_fixture_file_matches_tensorboards_own_loader(tensorboard_fixtures, relative):
    for path in sorted((tensorboard_fixtures / relative).glob("*tfevents*")):
        contents = read_event_file(path)
        expected = loader_points(path)
        assert set(contents.scalars) == set(expected), path.name
        for tag, points in contents.scalars.items():
            steps, values, wall_times = map(np.array, zip(*expected[tag], strict=True))
            np.testing.assert_array_equal(points.steps, steps)
            np.testing.assert_array_equal(points.values, values)
            np.testing.assert_array_equal(points.wall_times, wall_times)


def test_discovery_over_the_fixture_tree_finds_each_run_once(tensorboard_fixtures):
    runs = discover(tensorboard_fixtures)
    assert sorted(runs) == [
        "derived_edge_cases/empty",
        "derived_edge_cases/truncated",
        "keras_callback",
        "lightning_tblogger/crashed_before_first_log/version_0",
        "lightning_tblogger/medium_pilot/version_0",
        "lightning_tblogger/smoke_two_points/version_0",
        "lingvo_simple_value",
        "sb3_dqn_torch/DQN_1",
        "tensorboardx_ray_tune",
        "tf2_summary_scalar",
        "torch_summarywriter_reducer/duplicate_steps/run_1",
        "torch_summarywriter_reducer/lax/run_1",
        "torch_summarywriter_reducer/strict/run_1",
        "torch_summarywriter_reducer/strict/run_2",
        "torch_summarywriter_reducer/strict/run_3",
    ]
    assert all(run.format == "tensorboard" for run in runs.values())


# --- Shared fixtures: the facts of PROVENANCE.md ------------------------------------------


def test_tf2_tensor_content_scalars_with_step_zero_omitted(tensorboard_fixtures):
    directory = tensorboard_fixtures / "tf2_summary_scalar"
    run = read_one(directory, tensorboard_fixtures)
    assert run.name == "tf2_summary_scalar"
    assert run.source == str(directory)
    assert run.format == "tensorboard"
    assert run.warnings == ()
    curve = run.curves["my_metric"]
    assert list(run.curves) == ["my_metric"]
    np.testing.assert_array_equal(curve.steps, np.arange(100))
    np.testing.assert_array_equal(curve.values, 0.5 * np.arange(100))
    assert (np.diff(curve.wall_times) >= 0).all() and curve.wall_times[0] > 1.5e9


def test_lingvo_events_carrying_seven_values_each(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "lingvo_simple_value", tensorboard_fixtures)
    assert sorted(run.curves) == [
        "bleu/dev",
        "bleu/split:dev",
        "brevity_penalty/dev",
        "brevity_penalty/split:dev",
        "log_perplexity/dev",
        "log_perplexity/split:dev",
        "runtime/sentence/sec",
    ]
    for curve in run.curves.values():
        assert len(curve) == 360
        assert (curve.steps[0], curve.steps[-1]) == (1500, 185200)
    bleu = run.curves["bleu/dev"]
    assert bleu.values[0] == pytest.approx(0.112, abs=5e-4)
    assert bleu.values[-1] == pytest.approx(0.285, abs=5e-4)
    np.testing.assert_array_equal(bleu.values, run.curves["bleu/split:dev"].values)
    assert (run.curves["log_perplexity/split:dev"].values == 0).all()


def test_keras_callback_with_only_train_and_a_profile_empty_file(tensorboard_fixtures):
    directory = tensorboard_fixtures / "keras_callback"
    assert READER.can_read(directory)
    assert READER.claim(directory, ["train"], []) == [Claim(directory, owned_dirs=("train",))]
    run = read_one(directory, tensorboard_fixtures)
    assert run.name == "keras_callback"
    assert list(run.curves) == ["train/epoch_loss"]
    loss = run.curves["train/epoch_loss"]
    np.testing.assert_array_equal(loss.steps, np.arange(10))
    assert loss.values[0] == pytest.approx(332.68, abs=0.005)
    assert loss.values[-1] == pytest.approx(234.80, abs=0.005)
    assert "profile-empty" in run.metadata["files"]
    assert run.warnings == ()


@pytest.mark.parametrize("index", [1, 2, 3])
def test_torch_strict_runs(tensorboard_fixtures, index):
    directory = tensorboard_fixtures / f"torch_summarywriter_reducer/strict/run_{index}"
    run = read_one(directory, tensorboard_fixtures)
    assert run.name == f"torch_summarywriter_reducer/strict/run_{index}"
    assert run.points == {"strict/foo": 100}
    np.testing.assert_array_equal(run.curves["strict/foo"].steps, np.arange(0, 500, 5))


def test_torch_lax_run(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "torch_summarywriter_reducer/lax/run_1")
    assert run.points == {"lax/bar_1": 110, "lax/bar_2": 110, "lax/foo": 110}
    for curve in run.curves.values():
        np.testing.assert_array_equal(curve.steps, np.arange(110))


def test_duplicate_steps_keep_the_latest_write(tensorboard_fixtures):
    directory = tensorboard_fixtures / "torch_summarywriter_reducer/duplicate_steps/run_1"
    run = read_one(directory)
    assert run.points == {"dup_steps/bar": 200, "dup_steps/foo": 200}
    (path,) = directory.glob("*tfevents*")
    written = loader_points(path)
    for tag, curve in run.curves.items():
        assert len(written[tag]) == 210
        np.testing.assert_array_equal(curve.steps, np.arange(200))
        latest = {}
        for step, value, wall_time in written[tag]:
            if step not in latest or wall_time >= latest[step][1]:
                latest[step] = (value, wall_time)
        np.testing.assert_array_equal(curve.values, [latest[step][0] for step in range(200)])


def test_sb3_tags_including_one_with_a_space(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "sb3_dqn_torch/DQN_1")
    assert run.points == {
        "rollout/ep_len_mean": 200,
        "rollout/ep_rew_mean": 200,
        "rollout/exploration rate": 200,
        "time/fps": 200,
        "train/learning_rate": 195,
        "train/loss": 195,
    }
    np.testing.assert_array_equal(
        run.curves["rollout/exploration rate"].steps, np.arange(10_000, 2_000_001, 10_000)
    )
    loss = run.curves["train/loss"]
    assert (loss.steps[0], loss.steps[-1]) == (60_000, 2_000_000)
    assert loss.values[0] == pytest.approx(0.0463, abs=5e-5)
    assert loss.values[-1] == pytest.approx(0.0273, abs=5e-5)


def test_tensorboardx_ray_file_with_histograms(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "tensorboardx_ray_tune")
    assert len(run.curves) == 36  # ~38 tags of which two are histograms
    assert not any("hist_stats" in tag for tag in run.curves)
    late = {tag for tag, count in run.points.items() if count == 498}
    assert late == {
        "ray/tune/episode_len_mean",
        "ray/tune/episode_reward_max",
        "ray/tune/episode_reward_mean",
        "ray/tune/episode_reward_min",
        "ray/tune/sampler_perf/mean_action_processing_ms",
        "ray/tune/sampler_perf/mean_env_wait_ms",
        "ray/tune/sampler_perf/mean_inference_ms",
        "ray/tune/sampler_perf/mean_raw_obs_processing_ms",
    }
    assert set(run.points.values()) == {498, 500}
    for tag, curve in run.curves.items():
        first_step = 12_000 if tag in late else 4_000
        np.testing.assert_array_equal(curve.steps, np.arange(first_step, 2_000_001, 4_000))
    total_loss = run.curves["ray/tune/info/learner/default_policy/total_loss"]
    assert total_loss.values[0] == pytest.approx(1.28, abs=5e-3)
    assert total_loss.values[-1] == pytest.approx(8.17, abs=5e-3)
    learning_rate = run.curves["ray/tune/info/learner/default_policy/cur_lr"]
    assert (learning_rate.values == np.float32(5e-05)).all()


LIGHTNING_TRAIN_TAGS = [
    "train_kl",
    "train_kl_weight",
    "train_latent_mean_abs",
    "train_latent_var_mean",
    "train_log_precision",
    "train_loss",
    "train_recon_mse",
    "train_recon_nll",
]


def test_lightning_medium_pilot_without_the_hp_metric_placeholder(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "lightning_tblogger/medium_pilot/version_0")
    assert set(LIGHTNING_TRAIN_TAGS) <= set(run.curves)
    assert "hp_metric" not in run.curves
    assert not any(tag.startswith("_hparams_") for tag in run.curves)
    for tag in LIGHTNING_TRAIN_TAGS:
        np.testing.assert_array_equal(run.curves[tag].steps, np.arange(15, 816, 16))
    loss = run.curves["train_loss"]
    # PROVENANCE.md rounds the first loss to 15886; the file holds 15890.497 (0.03 % off).
    assert loss.values[0] == pytest.approx(15886, rel=1e-3)
    assert loss.values[-1] == pytest.approx(1859, abs=0.5)
    assert run.warnings == ()


def test_lightning_run_with_hparams_only_has_no_curves(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "lightning_tblogger/crashed_before_first_log/version_0")
    assert run.curves == {}
    assert len(run.warnings) == 1
    assert "no scalar data found" in run.warnings[0]


def test_lightning_smoke_run_with_two_points(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "lightning_tblogger/smoke_two_points/version_0")
    for tag in LIGHTNING_TRAIN_TAGS:
        np.testing.assert_array_equal(run.curves[tag].steps, [63, 127])
    assert "hp_metric" not in run.curves


def test_truncated_file_reads_up_to_the_last_complete_record(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "derived_edge_cases/truncated")
    curve = run.curves["strict/foo"]
    np.testing.assert_array_equal(curve.steps, np.arange(0, 495, 5))
    complete = read_one(tensorboard_fixtures / "torch_summarywriter_reducer/strict/run_1")
    np.testing.assert_array_equal(curve.values, complete.curves["strict/foo"].values[:99])
    (warning,) = run.warnings
    assert warning.startswith("events.out.tfevents.1622543341.janoshs-mbp.lan.86862.0: ")
    assert "truncated" in warning


def test_empty_file_gives_a_run_without_curves_and_warnings(tensorboard_fixtures):
    run = read_one(tensorboard_fixtures / "derived_edge_cases/empty")
    assert run.curves == {}
    assert run.warnings[0] == "events.out.tfevents.0000000000.empty: empty file (0 bytes)"
    assert "no scalar data found" in run.warnings[1]


# --- Shared fixtures against tbparse ------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "frame"),
    [
        ("sb3_dqn_torch/DQN_1", "scalars"),
        ("lingvo_simple_value", "scalars"),
        ("tensorboardx_ray_tune", "scalars"),
        ("tf2_summary_scalar", "tensors"),  # tbparse lists TF2 scalars as tensors
    ],
)
def test_agrees_with_tbparse(tensorboard_fixtures, relative, frame):
    tbparse = pytest.importorskip("tbparse")
    directory = tensorboard_fixtures / relative
    expected = getattr(tbparse.SummaryReader(str(directory), pivot=False), frame)
    run = read_one(directory)
    assert sorted(run.curves) == sorted(expected["tag"].unique())
    for tag, curve in run.curves.items():
        rows = expected[expected["tag"] == tag].sort_values("step", kind="stable")
        np.testing.assert_array_equal(curve.steps, rows["step"].to_numpy())
        np.testing.assert_array_equal(curve.values, rows["value"].to_numpy())


# --- Files written here with tensorboardX -------------------------------------------------


def test_tensorboardx_add_scalar_values_steps_and_wall_times(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    steps = [0, 1, 127, 128, 16_384, 2**40]  # step varints of 0 to 6 bytes
    for index, step in enumerate(steps):
        writer.add_scalar("train/loss", 1.0 / (index + 1), step, walltime=1000.0 + index)
    writer.close()
    run = read_one(tmp_path)
    curve = run.curves["train/loss"]
    np.testing.assert_array_equal(curve.steps, steps)
    expected = [np.float32(1.0 / (index + 1)) for index in range(len(steps))]
    np.testing.assert_array_equal(curve.values, expected)
    np.testing.assert_array_equal(curve.wall_times, 1000.0 + np.arange(len(steps)))
    assert run.name == tmp_path.name


def test_nan_and_inf_are_kept_as_points(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for step, value in enumerate([1.0, math.nan, math.inf, -math.inf, 0.5]):
        writer.add_scalar("loss", value, step)
    writer.close()
    values = read_one(tmp_path).curves["loss"].values
    assert values[0] == 1.0 and math.isnan(values[1])
    assert values[2] == math.inf and values[3] == -math.inf and values[4] == 0.5


def test_tensorboardx_add_scalars_nests_main_tag_and_key(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for step in range(5):
        writer.add_scalar("lr", 0.1, step)
        writer.add_scalars("Loss", {"train": 1.0 / (step + 1), "val": 2.0 / (step + 1)}, step)
    writer.close()
    written_to = {path.parent.relative_to(tmp_path) for path in tmp_path.rglob("*tfevents*")}
    assert written_to == {Path("."), Path("Loss/train"), Path("Loss/val")}
    runs = discover(tmp_path)
    assert list(runs) == [tmp_path.name]
    run = runs[tmp_path.name]
    assert run.points == {"Loss/train": 5, "Loss/val": 5, "lr": 5}
    np.testing.assert_array_equal(
        run.curves["Loss/val"].values, np.float32(2.0 / (np.arange(5) + 1))
    )
    claim = READER.claim(tmp_path, ["Loss"], [path.name for path in tmp_path.glob("*tfevents*")])
    assert claim[0].owned_dirs == ("Loss",)


def test_pytorch_add_scalars_layout_is_merged_into_its_parent(tmp_path):
    """PyTorch names the sub-directory main_tag.replace('/', '_') + '_' + key."""
    parent = SummaryWriter(str(tmp_path))
    parent.add_scalar("lr", 0.1, 0)
    parent.close()
    for key, offset in (("train", 0.0), ("val", 1.0)):
        child = SummaryWriter(str(tmp_path / f"Loss_group_{key}"))
        for step in range(3):
            child.add_scalar("Loss/group", offset + step, step)
        child.close()
    (run,) = READER.read(tmp_path, tmp_path, OPTIONS)
    assert run.points == {"Loss/group/train": 3, "Loss/group/val": 3, "lr": 1}
    np.testing.assert_array_equal(run.curves["Loss/group/val"].values, [1.0, 2.0, 3.0])
    assert "Loss_group_train/" in run.metadata["files"]


def test_add_scalars_tag_naming_relation():
    assert add_scalars_tag("Loss/group", "Loss_group_train") == "Loss/group/train"
    assert add_scalars_tag("Loss/group", "Loss/group/val") == "Loss/group/val"
    assert add_scalars_tag("accuracy", "accuracy_top_5") == "accuracy/top_5"
    assert add_scalars_tag("loss", "version_0") is None
    assert add_scalars_tag("loss", "loss_") is None


def test_subdirectory_that_is_not_add_scalars_output_is_a_run_of_its_own(tmp_path):
    parent = SummaryWriter(str(tmp_path))
    parent.add_scalar("loss", 1.0, 0)
    parent.close()
    nested = SummaryWriter(str(tmp_path / "finetune"))
    nested.add_scalar("loss", 2.0, 0)
    nested.close()
    runs = discover(tmp_path)
    assert sorted(runs) == sorted([tmp_path.name, "finetune"])
    assert runs[tmp_path.name].points == {"loss": 1}
    assert runs["finetune"].source == str(tmp_path / "finetune")
    assert runs["finetune"].curves["loss"].values.tolist() == [2.0]


def test_nested_runs_inside_a_run_directory_are_each_read_once(tmp_path):
    """Each event directory under a run joins its nearest enclosing run or starts its own."""
    run = tmp_path / "run"
    write_events(run, [scalar_event("lr", 0.1, 0, 1.0)])
    write_events(run / "finetune", [scalar_event("loss", 2.0, 0, 1.0)])
    write_events(run / "finetune" / "loss_val", [scalar_event("loss", 3.0, 0, 1.0)])
    deep = run / "finetune" / "a" / "b" / "c" / "d" / "e"
    write_events(deep, [scalar_event("accuracy", 0.5, 0, 1.0)])
    runs = discover(tmp_path)
    assert sorted(runs) == ["run", "run/finetune", "run/finetune/a/b/c/d/e"]
    assert runs["run"].points == {"lr": 1}
    assert runs["run/finetune"].points == {"loss": 1, "loss/val": 1}
    assert runs["run/finetune/a/b/c/d/e"].points == {"accuracy": 1}
    assert runs["run/finetune"].metadata["files"].count("loss_val/") == 1


def test_several_files_in_one_directory_are_merged(tmp_path):
    for suffix, steps in ((".first", range(0, 3)), (".second", range(3, 6))):
        writer = SummaryWriter(str(tmp_path), filename_suffix=suffix)
        for step in steps:
            writer.add_scalar("loss", float(step), step)
        writer.add_scalar(f"only{suffix}", 1.0, 0)
        writer.close()
    assert len(list(tmp_path.glob("*tfevents*"))) == 2
    run = read_one(tmp_path)
    assert run.points == {"loss": 6, "only.first": 1, "only.second": 1}
    np.testing.assert_array_equal(run.curves["loss"].values, np.arange(6.0))
    assert run.metadata["files"].count("tfevents") == 2


def test_resumed_run_relogging_steps_keeps_the_later_values(tmp_path):
    first = SummaryWriter(str(tmp_path), filename_suffix=".a")
    for step in range(100):
        first.add_scalar("loss", 1.0, step, walltime=1000.0 + step)
    first.close()
    resumed = SummaryWriter(str(tmp_path), filename_suffix=".b")
    for step in range(50, 150):
        resumed.add_scalar("loss", 2.0, step, walltime=2000.0 + step)
    resumed.close()
    curve = read_one(tmp_path).curves["loss"]
    np.testing.assert_array_equal(curve.steps, np.arange(150))
    np.testing.assert_array_equal(curve.values, [1.0] * 50 + [2.0] * 100)


def test_histograms_images_and_text_are_skipped(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    rng = np.random.default_rng(0)
    for step in range(4):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_histogram("weights", rng.normal(size=1000), step)
        writer.add_image("sample", rng.random((3, 64, 64)), step)
        writer.add_text("note", f"step {step}", step)
    writer.close()
    run = read_one(tmp_path)
    assert run.points == {"loss": 4}
    np.testing.assert_array_equal(run.curves["loss"].values, np.float32(1.0 / np.arange(1, 5)))
    assert run.warnings == ()


def test_decoding_in_small_blocks_gives_the_same_points(tmp_path, monkeypatch):
    """Block boundaries and the per-block layout limit must not change what is read."""
    writer = SummaryWriter(str(tmp_path))
    for step in range(300):
        for tag in ("a", "bb", "ccc", "dddd"):
            writer.add_scalar(tag, step * len(tag), step)
    writer.close()
    expected = read_one(tmp_path)
    monkeypatch.setattr(_tfrecord, "_BLOCK_RECORDS", 7)
    monkeypatch.setattr(_tfrecord, "_MAX_LAYOUT_ROUNDS", 1)
    chunked = read_one(tmp_path)
    assert chunked.points == expected.points == {"a": 300, "bb": 300, "ccc": 300, "dddd": 300}
    for tag, curve in expected.curves.items():
        np.testing.assert_array_equal(chunked.curves[tag].values, curve.values)
        np.testing.assert_array_equal(chunked.curves[tag].steps, curve.steps)


# --- Files written with tensorboard's own writers ----------------------------------------


def test_tensorboard_writer_tensor_scalars(tmp_path):
    """tensorboard.summary.Writer stores scalars as float_val tensors (plugin "scalars")."""
    writer = Writer(DirectoryOutput(str(tmp_path)))
    for step in range(0, 300, 3):
        writer.add_scalar("eval/accuracy", step / 300, step, wall_time=100.0 + step)
    writer.close()
    curve = read_one(tmp_path).curves["eval/accuracy"]
    np.testing.assert_array_equal(curve.steps, np.arange(0, 300, 3))
    np.testing.assert_array_equal(curve.values, np.float32(np.arange(0, 300, 3) / 300))
    np.testing.assert_array_equal(curve.wall_times, 100.0 + np.arange(0, 300, 3))


def test_tag_with_spaces(tmp_path):
    """tensorboardX replaces spaces in tags; torch (via this writer) keeps them."""
    events = [scalar_event("exploration rate", 0.9 - step / 10, step, 1.0) for step in range(5)]
    write_events(tmp_path, events)
    curve = read_one(tmp_path).curves["exploration rate"]
    np.testing.assert_array_equal(curve.values, np.float32(0.9 - np.arange(5) / 10))


def test_tensor_scalars_of_every_encoding(tmp_path):
    """Tensor scalars built with the protobuf classes, written by tensorboard's writer:
    float_val, double_val, half and int in tensor_content, int_val (the protobuf path),
    and a string tensor, which is not a scalar."""
    tensor_content = tensor_util.make_tensor_proto(np.float16(0.5))
    tensor_content.ClearField("half_val")
    tensor_content.tensor_content = np.float16(0.5).tobytes()
    int_content = tensor_util.make_tensor_proto(np.int32(7))
    int_content.ClearField("int_val")
    int_content.tensor_content = np.int32(7).tobytes()
    make = tensor_util.make_tensor_proto
    events = []
    for step in range(3):
        events += [
            tensor_event("float32", make(np.float32(1.5 + step)), step, 1.0),
            tensor_event("float64", make(np.float64(0.1 + step)), step, 1.0),
            tensor_event("half_content", tensor_content, step, 1.0),
            tensor_event("int_content", int_content, step, 1.0),
            tensor_event("int_val", make(np.int64(-3 - step)), step, 1.0),
            tensor_event("note", make("text"), step, 1.0, plugin="text"),
        ]
    write_events(tmp_path, events)
    run = read_one(tmp_path)
    assert run.points == {
        "float32": 3,
        "float64": 3,
        "half_content": 3,
        "int_content": 3,
        "int_val": 3,
    }
    np.testing.assert_array_equal(run.curves["float32"].values, [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(run.curves["float64"].values, [0.1, 1.1, 2.1])
    np.testing.assert_array_equal(run.curves["half_content"].values, [0.5] * 3)
    np.testing.assert_array_equal(run.curves["int_content"].values, [7.0] * 3)
    np.testing.assert_array_equal(run.curves["int_val"].values, [-3.0, -4.0, -5.0])


def test_tf1_tensor_scalars_with_plugin_metadata_on_the_first_event_only(tmp_path):
    """TF1's FileWriter strips a tag's metadata after its first event."""
    make = tensor_util.make_tensor_proto
    events = [tensor_event("loss", make(np.float32(2.0)), 0, 1.0)]
    events += [
        tensor_event("loss", make(np.float32(2.0 - step / 10)), step, 1.0, plugin=None)
        for step in range(1, 5)
    ]
    events += [
        tensor_event("unnamed", make(np.float32(step)), step, 1.0, plugin=None) for step in range(3)
    ]
    write_events(tmp_path, events)
    run = read_one(tmp_path)
    assert run.points == {"loss": 5}
    np.testing.assert_array_equal(run.curves["loss"].values, np.float32(2.0 - np.arange(5) / 10))


def test_keras_train_and_validation_form_one_run(tmp_path):
    logdir = tmp_path / "fit"
    for split, offset in (("train", 0.0), ("validation", 0.5)):
        writer = Writer(DirectoryOutput(str(logdir / split)))
        for epoch in range(4):
            writer.add_scalar("epoch_loss", offset + 1.0 / (epoch + 1), epoch)
        writer.close()
    assert READER.can_read(logdir)
    claims = READER.claim(logdir, ["train", "validation"], [])
    assert claims == [Claim(logdir, owned_dirs=("train", "validation"))]
    runs = discover(tmp_path)
    assert list(runs) == ["fit"]
    run = runs["fit"]
    assert run.points == {"train/epoch_loss": 4, "validation/epoch_loss": 4}
    np.testing.assert_array_equal(
        run.curves["validation/epoch_loss"].values, np.float32(0.5 + 1.0 / np.arange(1, 5))
    )


def test_hp_metric_logged_by_the_user_is_kept(tmp_path):
    hparams = summary_pb2.Summary.Value(tag="_hparams_/experiment")
    hparams.metadata.plugin_data.plugin_name = "hparams"
    events = [
        event_pb2.Event(wall_time=1.0, summary=summary_pb2.Summary(value=[hparams])),
        scalar_event("hp_metric", -1.0, 0, 1.0),
        scalar_event("hp_metric", 0.75, 10, 2.0),
    ]
    write_events(tmp_path, events)
    curve = read_one(tmp_path).curves["hp_metric"]
    np.testing.assert_array_equal(curve.values, [-1.0, 0.75])


def test_large_events_with_many_values(tmp_path):
    """Events above the bulk decoder's size limit go through protobuf, checksum included."""
    tags = [f"layer_{index:03d}/grad_norm" for index in range(80)]
    events = []
    for step in range(3):
        values = [
            summary_pb2.Summary.Value(tag=tag, simple_value=step + index)
            for index, tag in enumerate(tags)
        ]
        summary = summary_pb2.Summary(value=values)
        events.append(event_pb2.Event(wall_time=1.0, step=step, summary=summary))
    path = write_events(tmp_path, events)
    lengths = [length for _, length in record_spans(path.read_bytes())[1:]]
    assert min(lengths) > _tfrecord._BULK_MAX_BYTES
    run = read_one(tmp_path)
    assert len(run.curves) == 80
    np.testing.assert_array_equal(run.curves["layer_079/grad_norm"].values, [79.0, 80.0, 81.0])

    data = bytearray(path.read_bytes())
    offset, length = record_spans(bytes(data))[2]
    data[offset + 12 + length - 1] ^= 0x01  # last byte of step 1's event
    path.write_bytes(bytes(data))
    damaged = read_one(tmp_path)
    np.testing.assert_array_equal(damaged.curves["layer_079/grad_norm"].steps, [0, 2])
    assert "data checksum mismatch" in damaged.warnings[0]


# --- Damaged files ---------------------------------------------------------------------


def test_crc32c_matches_the_standard_check_value():
    """CRC-32C of b"123456789" is 0xE3069283; TFRecord stores it rotated and offset."""
    crc = 0xE3069283
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    assert _tfrecord.masked_crc32c(b"123456789") == masked
    rows = np.frombuffer(b"123456789" * 3, dtype=np.uint8).reshape(3, 9)
    assert _tfrecord.masked_crc32c_rows(rows).tolist() == [masked] * 3


@pytest.fixture
def sb3_copy(tensorboard_fixtures, tmp_path) -> Path:
    source = tensorboard_fixtures / "sb3_dqn_torch/DQN_1"
    (path,) = source.glob("*tfevents*")
    target = tmp_path / "DQN_1"
    target.mkdir()
    shutil.copyfile(path, target / path.name)
    return target / path.name


def test_bad_data_checksum_skips_that_record_only(sb3_copy):
    original = read_one(sb3_copy.parent)
    data = bytearray(sb3_copy.read_bytes())
    spans = record_spans(bytes(data))
    offset, length = spans[500]
    data[offset + 12 + length - 2] ^= 0x40  # a byte of the float value
    sb3_copy.write_bytes(bytes(data))
    damaged = read_one(sb3_copy.parent)
    (warning,) = damaged.warnings
    assert warning.startswith(sb3_copy.name + ": 1 record(s) skipped: data checksum mismatch")
    assert f"record 500 at byte {offset}" in warning
    assert damaged.total_points == original.total_points - 1
    for tag, curve in original.curves.items():
        kept = damaged.curves[tag]
        missing = set(curve.steps.tolist()) - set(kept.steps.tolist())
        assert len(missing) <= 1
        np.testing.assert_array_equal(kept.values, curve.values[np.isin(curve.steps, kept.steps)])


def test_bad_length_checksum_costs_that_record_only(sb3_copy):
    """A damaged length hides where its record ends; reading resumes at the next record."""
    original = read_one(sb3_copy.parent)
    data = bytearray(sb3_copy.read_bytes())
    offset, length = record_spans(bytes(data))[1001]
    data[offset + 1] ^= 0x01
    sb3_copy.write_bytes(bytes(data))
    run = read_one(sb3_copy.parent)
    assert run.warnings == (
        f"{sb3_copy.name}: 1 damaged stretch(es) skipped: length checksum mismatch, "
        f"{16 + length} bytes (first: record 1001 at byte {offset})",
    )
    assert run.total_points == original.total_points - 1  # record 1001 holds one value
    for tag, curve in original.curves.items():
        kept = run.curves[tag]
        assert len(set(curve.steps.tolist()) - set(kept.steps.tolist())) <= 1
        np.testing.assert_array_equal(kept.values, curve.values[np.isin(curve.steps, kept.steps)])


def test_garbage_file_raises_read_error(tmp_path):
    (tmp_path / "events.out.tfevents.123.garbage").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ReadError, match="not a TensorBoard event file"):
        READER.read(tmp_path, tmp_path, OPTIONS)


def test_garbage_beside_a_valid_file_is_a_warning(tmp_path):
    (tmp_path / "events.out.tfevents.0.garbage").write_bytes(b"not an event file at all" * 10)
    write_events(tmp_path, [scalar_event("loss", 0.5, 3, 1.0)])
    run = read_one(tmp_path)
    assert run.points == {"loss": 1}
    expected = "events.out.tfevents.0.garbage: not a TensorBoard event file"
    assert any(warning.startswith(expected) for warning in run.warnings)


# --- Entry points -------------------------------------------------------------------------


def test_single_event_file_is_a_run_named_after_its_directory(tensorboard_fixtures):
    (path,) = (tensorboard_fixtures / "sb3_dqn_torch/DQN_1").glob("*tfevents*")
    assert READER.can_read(path)
    run = read_one(path)
    assert run.name == "DQN_1"
    assert run.source == str(path)
    assert run.points["train/loss"] == 195


def test_can_read_and_claim_reject_other_folders(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,loss\n0,1.0\n")
    (tmp_path / "train").mkdir()
    assert not READER.can_read(tmp_path)
    assert not READER.can_read(tmp_path / "metrics.csv")
    assert READER.claim(tmp_path, ["train"], ["metrics.csv"]) == []
    with pytest.raises(ReadError, match="no TensorBoard event files"):
        READER.read(tmp_path, tmp_path, OPTIONS)


def test_claim_owns_event_files_and_add_scalars_subdirectories_only(tmp_path):
    write_events(tmp_path, [scalar_event("loss", 0.5, 0, 1.0)])
    write_events(tmp_path / "loss_val", [scalar_event("loss", 0.7, 0, 1.0)])
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "hparams.yaml").write_text("lr: 0.1\n")
    event_files = [path.name for path in tmp_path.glob("*tfevents*")]
    (claim,) = READER.claim(tmp_path, ["checkpoints", "loss_val"], ["hparams.yaml", *event_files])
    assert claim == Claim(tmp_path, owned_dirs=("loss_val",), owned_files=tuple(event_files))
    assert read_one(tmp_path).points == {"loss": 1, "loss/val": 1}


def test_lightning_hparams_beside_the_event_files_become_params(shared_fixtures):
    """TensorBoardLogger writes hparams.yaml (with a !!python/tuple) next to the events."""
    run_dir = shared_fixtures / "tensorboard" / "lightning_tblogger" / "medium_pilot"
    (run,) = read_runs([run_dir]).runs
    assert run.params["lr"] == "0.001"
    assert run.params["input_shape"] == "[128, 64]"
    assert run.params["z_dim"] == "32"
    assert run.warnings == ()


def test_hparams_in_a_lightning_event_file_become_params(tensorboard_fixtures, tmp_path):
    """Without its hparams.yaml, a Lightning run still has its hyper-parameters: the
    session-start summary of the hparams plugin is decoded."""
    source = tensorboard_fixtures / "lightning_tblogger/medium_pilot/version_0"
    (event_file,) = source.glob("events.out.tfevents.*")
    shutil.copy(event_file, tmp_path)
    run = read_one(tmp_path)
    assert run.params["lr"] == pytest.approx(0.001)
    assert run.params["kl_beta"] == pytest.approx(0.7)
    assert run.params["posterior_type"] == "diag"
    # With the yaml beside it, the yaml's values win (Lightning writes both).
    assert read_one(source).params["z_dim"] == "32"


def test_add_hparams_child_directory_belongs_to_its_run(tmp_path):
    """tensorboardX and PyTorch write add_hparams into a timestamped child of the run."""
    writer = SummaryWriter(str(tmp_path / "run1"))
    for step in range(20):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    writer.add_hparams({"lr": 0.03, "batch_size": 2, "optimizer": "sgd"}, {"hparam/loss": 0.05})
    writer.close()
    (child,) = [path for path in (tmp_path / "run1").iterdir() if path.is_dir()]
    assert list(child.glob("events.out.tfevents.*"))
    runs = discover(tmp_path)
    assert list(runs) == ["run1"]
    run = runs["run1"]
    assert run.params == {"lr": pytest.approx(0.03), "batch_size": 2.0, "optimizer": "sgd"}
    assert set(run.curves) == {"train/loss", "hparam/loss"}


def test_add_hparams_metric_named_like_a_logged_tag_adds_no_point_to_its_curve(tmp_path):
    """add_hparams writes its metric values at step 0: the run's final loss must not become
    the first point of the loss curve it summarises."""
    writer = SummaryWriter(str(tmp_path / "run1"))
    for step in range(1, 21):
        writer.add_scalar("loss", 1.0 / step, step)
    writer.add_scalar("val_loss", 0.5, 20)
    writer.add_hparams({"lr": 0.03}, {"loss": 0.05, "val_loss": 0.5, "hparam/acc": 0.9})
    writer.close()

    run = discover(tmp_path)["run1"]

    assert run.params == {"lr": pytest.approx(0.03)}
    assert set(run.curves) == {"loss", "val_loss", "hparam/acc"}
    assert run.curves["loss"].steps.tolist() == list(range(1, 21))
    assert run.curves["loss"].values[0] == 1.0
    assert run.curves["val_loss"].steps.tolist() == [20]


def test_a_remedy_quotes_the_lr_that_add_hparams_recorded(tmp_path):
    """A real run whose loss exploded, re-logged with tensorboardX: its LR reaches the remedy."""
    name = firing_run("LRD102")
    (source,) = read_runs([run_path(name)]).runs
    roles = assign_roles(source)
    writer = SummaryWriter(str(tmp_path / "exploded"))
    for role, tag in (("train_loss", "train/loss"), ("val_loss", "val/loss")):
        if role not in roles:
            continue
        curve = source.curves[roles[role]]
        for step, value in zip(curve.steps.tolist(), curve.values.tolist(), strict=True):
            writer.add_scalar(tag, value, step)
    lr = LABELS[name]["lr"]
    writer.add_hparams({"lr": lr, "optimizer": "sgd"}, {"hparam/val_loss": 0.0})
    writer.close()
    (run,) = read_runs([tmp_path]).runs
    diagnosis = Doctor().diagnose(run)
    assert diagnosis.verdict == "diverging"
    remedies = diagnosis.to_dict()["findings"][0]["remedies"]
    assert f"Lower the learning rate from {lr:.2g} to {lr / 10:.2g}..{lr / 3:.2g}." in remedies


def test_keras_batch_level_logging_keeps_every_role_on_the_epoch_axis(tmp_path):
    """A real Keras fit with update_freq=1: batch_loss (by batch) is not the training loss
    against validation/epoch_loss and the learning rate (by epoch index)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras", reason="the run is written by Keras' own callback")
    pytest.importorskip("tensorflow", reason="Keras' TensorBoard callback writes through tf")
    inputs = np.random.default_rng(0).normal(size=(80, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    callback = keras.callbacks.TensorBoard(str(tmp_path / "fit"), update_freq=1)
    model.fit(
        inputs,
        inputs.sum(1),
        batch_size=16,
        epochs=2,
        validation_split=0.2,
        verbose=0,
        callbacks=[callback],
    )

    (run,) = read_runs([tmp_path]).runs
    roles = assign_roles(run)

    assert len(run.curves["train/batch_loss"]) == 8  # 4 batches per epoch
    assert roles == {
        "train_loss": "train/epoch_loss",
        "val_loss": "validation/epoch_loss",
        "lr": "train/epoch_learning_rate",
    }
    for tag in roles.values():
        assert run.curves[tag].steps.tolist() == [0, 1]


# --- The bulk decoder's fast paths, on files of the real writers ---------------------------
# Framing without a Python loop (`_FileDecoder._frame_window`), each batch of records of one
# length decoded layout by layout from its first record (`_decode_first_row_layout`) with
# checksums corrected column by column (`masked_crc32c_varying`); the walk, the grouping by
# hash and protobuf take what these do not.


def torch_run(directory: Path, steps, new_style: bool = False, double: bool = False) -> Path:
    """A run written by PyTorch's SummaryWriter: three tags of two name lengths, step
    varints of one to three bytes, so batches of one length hold several layouts."""
    torch_tensorboard = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tensorboard.SummaryWriter(str(directory))
    style = {"new_style": new_style, "double_precision": double}
    for step in steps:
        writer.add_scalar("train/loss", 2.0 / (1 + step) + (step % 7) * 1e-3, step, **style)
        writer.add_scalar("train/lr", 1e-3 * (1 + step % 3), step, **style)
        if step % 50 == 0:
            writer.add_scalar("val/loss", 2.5 / (1 + step), step, **style)
    writer.close()
    (path,) = directory.glob("*tfevents*")
    return path


def tensorboardx_run(directory: Path, steps) -> Path:
    writer = SummaryWriter(str(directory))
    for step in steps:
        writer.add_scalar("train/loss", 2.0 / (1 + step), step)
        writer.add_scalar("test/loss", 2.5 / (1 + step), step)  # same length, another tag
    writer.close()
    (path,) = directory.glob("*tfevents*")
    return path


def assert_points_equal_protobufs(path: Path) -> None:
    """Every point read equals the one tensorboard's loader decodes with protobuf."""
    contents = read_event_file(path)
    expected = loader_points(path)
    assert set(contents.scalars) == set(expected)
    for tag, points in expected.items():
        steps, values, wall_times = (np.array(column) for column in zip(*points, strict=True))
        read = contents.scalars[tag]
        np.testing.assert_array_equal(read.steps, steps)
        np.testing.assert_array_equal(read.values, values)
        np.testing.assert_array_equal(read.wall_times, wall_times)


STEPS = [*range(0, 300), *range(16_000, 16_700)]  # varints of 1, 2 and 3 bytes


@pytest.mark.parametrize(
    "writer",
    ["torch simple_value", "torch float tensor", "torch double tensor", "tensorboardX"],
)
def test_hand_decoded_points_equal_protobufs_on_real_writers(tmp_path, monkeypatch, writer):
    """simple_value and tensor scalars (float_val, double_val, plugin "scalars") decoded
    in bulk equal protobuf's decoding, point for point, and the fast paths did the work."""
    if writer == "tensorboardX":
        path = tensorboardx_run(tmp_path, STEPS)
    else:
        path = torch_run(
            tmp_path, STEPS, new_style=writer != "torch simple_value", double="double" in writer
        )
    walked = []
    walk = _tfrecord._frame_records
    monkeypatch.setattr(
        _tfrecord,
        "_frame_records",
        lambda data, start, count: walked.append(count) or walk(data, start, count),
    )
    by_first_row = []
    first_row = _tfrecord._FileDecoder._decode_first_row_layout

    def spy(self, record_numbers, indices, starts, rows, stored_crc):
        others = first_row(self, record_numbers, indices, starts, rows, stored_crc)
        by_first_row.append(rows.shape[0] - (rows.shape[0] if others is None else others.size))
        return others

    monkeypatch.setattr(_tfrecord._FileDecoder, "_decode_first_row_layout", spy)
    assert_points_equal_protobufs(path)
    assert walked == []  # framed without the Python walk
    assert sum(by_first_row) >= len(STEPS) * 2  # the scalar records, layout by layout


def test_framing_windows_find_the_records_the_walk_finds(tmp_path, monkeypatch):
    """Window boundaries (and the last record of a file) do not change the framing."""
    path = torch_run(tmp_path, range(400))
    data = path.read_bytes()
    walked, _ = _tfrecord._frame_records(data, 0, 1 << 20)
    framed, lengths, end, cut_short = _tfrecord._FileDecoder(data)._frame_window(0)
    np.testing.assert_array_equal(framed, walked)
    assert end == len(data) and not cut_short
    assert lengths.tolist() == [struct.unpack_from("<Q", data, int(o))[0] for o in walked]
    expected = read_event_file(path)
    for window in (17, 100, 997):
        monkeypatch.setattr(_tfrecord, "_FRAME_WINDOW_BYTES", window)
        chunked = read_event_file(path)
        assert chunked.warnings == [] and chunked.records == expected.records
        for tag, points in expected.scalars.items():
            np.testing.assert_array_equal(chunked.scalars[tag].steps, points.steps)
            np.testing.assert_array_equal(chunked.scalars[tag].values, points.values)


def test_an_event_without_a_wall_time_mid_file_is_walked_over(tmp_path, monkeypatch):
    """An Event of wall time 0 does not start with the wall-time field: the vectorised
    framing stops before it, the walk frames it and the records after it, and every point
    is read."""
    events = [scalar_event("loss", 1.0 / (1 + step), step, 50.0 + step) for step in range(300)]
    events[120] = scalar_event("loss", 0.25, 120, 0.0)  # wall_time 0 is not serialized
    path = write_events(tmp_path, events)
    walked = []
    walk = _tfrecord._frame_records
    monkeypatch.setattr(
        _tfrecord,
        "_frame_records",
        lambda data, start, count: walked.append(start) or walk(data, start, count),
    )
    contents = read_event_file(path)
    assert contents.warnings == []
    assert len(walked) >= 1
    np.testing.assert_array_equal(contents.scalars["loss"].steps, np.arange(300))
    assert contents.scalars["loss"].wall_times[120] == 0.0
    assert_points_equal_protobufs(path)


@pytest.mark.parametrize("where", ["value", "wall time", "step", "tag"])
def test_a_damaged_record_mid_file_costs_that_record_only(tmp_path, where):
    """One flipped bit in the middle of a PyTorch file, in a variable field (the record
    stays in its layout, its checksum corrected by column fails) or in the tag (the record
    leaves its layout and is checked in full): that point is lost, with a warning naming
    the file and the record, and nothing else."""
    path = torch_run(tmp_path, range(1000))
    original = read_event_file(path)
    data = bytearray(path.read_bytes())
    spans = record_spans(bytes(data))
    index = 1500
    offset, length = spans[index]
    event = event_pb2.Event.FromString(bytes(data[offset + 12 : offset + 12 + length]))
    (value,) = event.summary.value
    record = bytes(data[offset + 12 : offset + 12 + length])
    position = {
        "value": length - 2,
        "wall time": 3,
        "step": 10,
        "tag": record.index(value.tag.encode()) + 2,
    }[where]
    data[offset + 12 + position] ^= 0x04
    path.write_bytes(bytes(data))
    run = read_one(tmp_path)
    assert run.warnings == (
        f"{path.name}: 1 record(s) skipped: data checksum mismatch "
        f"(first: record {index} at byte {offset})",
    )
    damaged = read_event_file(path)
    for tag, points in original.scalars.items():
        kept = damaged.scalars[tag]
        lost = 1 if tag == value.tag else 0
        assert kept.steps.size == points.steps.size - lost
        expected = points.steps != event.step if lost else np.ones(points.steps.size, bool)
        np.testing.assert_array_equal(kept.steps, points.steps[expected])
        np.testing.assert_array_equal(kept.values, points.values[expected])


def test_checksums_corrected_by_column_equal_full_checksums(tmp_path):
    """On the records of a real file, grouped by length: the first row's checksum corrected
    for the varying columns equals the checksum computed over every byte."""
    path = torch_run(tmp_path, range(200), new_style=True)
    data = path.read_bytes()
    spans = record_spans(data)
    by_length = defaultdict(list)
    for offset, length in spans:
        by_length[length].append(np.frombuffer(data, np.uint8, length, offset + 12))
    for rows in by_length.values():
        rows = np.stack(rows)
        varying = np.flatnonzero((rows != rows[0]).any(axis=0)).tolist()
        np.testing.assert_array_equal(
            _tfrecord.masked_crc32c_varying(rows, 0, varying), _tfrecord.masked_crc32c_rows(rows)
        )
        stored = [
            struct.unpack_from("<I", data, offset + 12 + length)[0]
            for offset, length in spans
            if length == rows.shape[1]
        ]
        assert _tfrecord.masked_crc32c_varying(rows, 0, varying).tolist() == stored
