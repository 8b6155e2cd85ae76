"""The corpus scrubber: the writers' absolute paths leave the files, the runs read the same.

Stores are written by MlflowClient and tensorboard's own event writer into a folder that is
then copied, as a generated corpus is copied into sample_logs/: the scrubber must find the
folder the files were written in, not only the one it is given.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from lrdoctor import read_runs
from tools.corpus.scrub import leftovers, scrub

LOSSES = [2.0, 1.5, 1.2, 1.0, 0.9, 0.85]


def _write_mlflow(tracking_uri: str, name: str) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    run_id = client.create_run(client.create_experiment("scrub"), run_name=name).info.run_id
    metrics = [Metric("loss", value, 1000 + step, step) for step, value in enumerate(LOSSES)]
    client.log_batch(run_id, metrics=metrics)
    client.set_terminated(run_id)


def _write_events(logdir: Path, output_dir: str) -> None:
    """A text summary of the arguments (as transformers' TensorBoardCallback logs them), the
    same path as a hyper-parameter, and a loss curve."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    text = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING, string_val=[f'{{"output_dir": "{output_dir}"}}'.encode()]
    )
    session = plugin_data_pb2.SessionStartInfo()
    session.hparams["output_dir"].string_value = output_dir
    hparams = plugin_data_pb2.HParamsPluginData(session_start_info=session)
    summaries = [
        summary_pb2.Summary.Value(
            tag="args/text_summary",
            tensor=text,
            metadata=summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
            ),
        ),
        summary_pb2.Summary.Value(
            tag="_hparams_/session_start_info",
            metadata=summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(
                    plugin_name="hparams", content=hparams.SerializeToString()
                )
            ),
        ),
    ]
    writer = EventFileWriter(str(logdir))
    writer.add_event(event_pb2.Event(step=0, summary=summary_pb2.Summary(value=summaries)))
    for step, value in enumerate(LOSSES):
        loss = summary_pb2.Summary.Value(tag="loss", simple_value=value)
        writer.add_event(event_pb2.Event(step=step, summary=summary_pb2.Summary(value=[loss])))
    writer.close()


def _curves(root: Path) -> dict:
    discovery = read_runs([root])
    assert not discovery.problems
    return {
        (run.name, tag): (curve.steps.tolist(), curve.values.tolist())
        for run in discovery.runs
        for tag, curve in run.curves.items()
    }


def test_a_copied_corpus_loses_every_path_of_the_machine_and_reads_the_same(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's SQLite store puts artifacts under ./mlruns
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    made = tmp_path / "made"
    _write_mlflow((made / "folder" / "mlruns").as_uri(), "in-folder")
    _write_mlflow(f"sqlite:///{(made / 'sqlite' / 'mlflow.db').as_posix()}", "in-sqlite")
    _write_events(made / "tb" / "run", str(made / "tb"))
    copy = tmp_path / "copy"
    shutil.copytree(made, copy)
    written = {path: path.read_bytes() for path in copy.rglob("*") if path.is_file()}
    assert any(str(made).encode() in data for data in written.values())
    assert any(f"{tmp_path}/mlruns".encode() in data for data in written.values())

    assert scrub(copy) == 5  # two experiments' and one run's meta.yaml, mlflow.db, events

    for path in copy.rglob("*"):
        if path.is_file():
            assert str(tmp_path).encode() not in path.read_bytes(), path
    assert leftovers(copy) == []
    curves = _curves(copy)
    assert curves == _curves(made)
    assert sorted(curves) == [("in-folder", "loss"), ("in-sqlite", "loss"), ("tb/run", "loss")]
    for steps, values in curves.values():
        assert steps == list(range(len(LOSSES)))
        np.testing.assert_allclose(values, LOSSES, rtol=1e-6)
    tensorboard_run = next(run for run in read_runs([copy]).runs if run.name == "tb/run")
    assert tensorboard_run.params == {"output_dir": "tb"}  # hparams content decoded, rewritten
    assert scrub(copy) == 0


def test_text_keeps_its_format_and_a_bare_folder_becomes_dot(tmp_path):
    root = tmp_path / "corpus"
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "hparams.yaml").write_text(f"save_dir: {root}\nlog: file://{root}/dev\n")
    assert scrub(root) == 1
    assert (root / "dev" / "hparams.yaml").read_text() == "save_dir: .\nlog: dev\n"
