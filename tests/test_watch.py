"""`lrdoctor watch` and `lrdoctor.watch`: runs followed while real writers write them.

The runs are written by real writers while the watch polls: PyTorch's SummaryWriter and a
CSV file in a training subprocess (`watch_trainer.py`), tensorboardX's SummaryWriter, and
copies of MLflow and Trainer logs from `sample_logs` extended the way their writers extend
them.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from tensorboardX import SummaryWriter

from lrdoctor.cli import main
from lrdoctor.discovery import Problem, read_runs
from lrdoctor.watch import (
    KEPT_POINTS,
    PINNED_POINTS,
    SIDE_PINNED,
    SIDE_POINTS,
    Change,
    KeptCurve,
    Watcher,
)

TESTS = Path(__file__).parent
REPO = TESTS.parent
SAMPLES = REPO / "sample_logs" / "dev"
TRAINER = TESTS / "watch_trainer.py"
INTERVAL = 2.0


def _trainer(out: Path, *runs: str, steps: int, **options) -> subprocess.Popen:
    command = [sys.executable, str(TRAINER), str(out), "--steps", str(steps)]
    for run in runs:
        command += ["--run", run]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_until(condition, timeout: float = 90.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _changes(events) -> list[Change]:
    return [event for event in events if isinstance(event, Change)]


def _logged(out: Path, runs: list[str], steps: int) -> bool:
    """Whether each CSV log holds `steps` data lines (the trainer writes TB first)."""
    files = [out / "csv" / f"{run}.csv" for run in runs]
    return all(f.exists() and f.read_bytes().count(b"\n") > steps for f in files)


def test_a_run_going_nan_is_said_once_and_ends_watch_until_error(tmp_path):
    """A subprocess trains two runs, logged to TensorBoard and CSV; one meets a NaN batch
    part-way. `lrdoctor watch --until error`, polling since before, exits 1 within two
    polling intervals of the NaN being flushed, with one line per log of that run; the
    library, polling all along, says exactly one change per log of that run (healthy ->
    diverging) and nothing for the healthy run."""
    out, go, marker = tmp_path / "logs", tmp_path / "go", tmp_path / "nan-flushed-at"
    trainer = _trainer(
        out, "healthy", "broken:120", steps=200, step_seconds=0.01, go=go, marker=marker
    )
    _wait_until(lambda: _logged(out, ["healthy", "broken"], 5), what="the first steps")
    watcher = Watcher([out], interval=0.2)
    events, verdicts = [], set()

    def follow() -> None:
        while trainer.poll() is None:
            events.extend(watcher.poll())
            verdicts.update(watcher.verdict(name) for name in ("tb/healthy", "csv/healthy.csv"))
            time.sleep(0.2)
        events.extend(watcher.poll())

    library = threading.Thread(target=follow)
    library.start()
    watch = subprocess.Popen(
        [sys.executable, "-m", "lrdoctor", "watch", str(out)]
        + ["--interval", str(INTERVAL), "--until", "error"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(
        target=lambda: lines.extend((time.time(), line.rstrip("\n")) for line in watch.stdout)
    )
    reader.start()
    announced = watch.stderr.readline()  # written after the first poll
    assert announced.startswith("lrdoctor: watching 4 run(s)"), announced
    go.touch()
    returncode = watch.wait(timeout=60)
    exited = time.time()
    reader.join()
    library.join(timeout=120)
    assert trainer.returncode == 0, trainer.stderr.read()
    nan_flushed = float(marker.read_text())

    assert returncode == 1, watch.stderr.read()
    said, latency = [(at - nan_flushed) / INTERVAL for at in (lines[0][0], exited)]
    print(f"\nsaid {said:.2f}, exited {latency:.2f} intervals after the NaN was flushed")
    assert latency <= 2.0
    runs = [line.split(" step ")[0].split(" ", 1)[1] for _, line in lines]
    assert len(runs) == len(set(runs)) and set(runs) <= {"tb/broken", "csv/broken.csv"}
    for _, line in lines:
        assert ": healthy -> diverging (LRD101: the loss is NaN/inf from step 120 on" in line

    assert not [event for event in events if isinstance(event, Problem)]
    changes = _changes(events)
    assert len(changes) == 2
    assert {(change.run, change.old, change.new, change.finding.code) for change in changes} == {
        ("tb/broken", "healthy", "diverging", "LRD101"),
        ("csv/broken.csv", "healthy", "diverging", "LRD101"),
    }
    assert verdicts == {"healthy"}  # the healthy runs were judged all along, and said nothing
    for name in ("tb/healthy", "csv/healthy.csv"):
        assert watcher.state(name).points["loss"] == 200  # every step read, none twice
        assert watcher.verdict(name) == "healthy"


def test_memory_stays_flat_while_a_run_grows_to_a_million_points(tmp_path):
    """A CSV log grows by 100,000 lines at a time to 1,000,000; the points held stay under
    the bound (and the traced memory flat) while every step, and a lone NaN, is seen. The
    log has no step column, so its steps are row numbers: they go on across reads."""
    log = tmp_path / "big.csv"
    log.write_text("loss,grad_norm\n")
    rng = np.random.default_rng(0)
    rows = np.arange(100_000)
    loss = (2.0 * np.exp(-rows / 20_000) + 0.05 * rng.random(rows.size)).tolist()
    grad = (1.0 + rng.random(rows.size)).tolist()
    block = "".join(f"{v!r},{g!r}\n" for v, g in zip(loss, grad, strict=True)).encode()
    loss[54_321] = math.nan  # one bad batch, at row 654,321
    bad_block = "".join(f"{v!r},{g!r}\n" for v, g in zip(loss, grad, strict=True)).encode()
    watcher = Watcher([log])
    held, held_bytes, traced = [], [], []
    tracemalloc.start()
    try:
        for start in range(0, 1_000_000, 100_000):
            with log.open("ab") as stream:
                stream.write(bad_block if start == 600_000 else block)
            watcher.poll()
            held.append(watcher.kept_points)
            held_bytes.append(watcher.kept_bytes)
            traced.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    run = watcher.state("big.csv")
    print(
        f"\npoints held at 100k..1M: {held}; bytes held at 1M {held_bytes[-1]:,}; traced "
        f"bytes after 200k points {traced[1]:,}, after 1M {traced[-1]:,}"
    )
    per_curve = KEPT_POINTS + PINNED_POINTS + 4
    assert all(KEPT_POINTS <= count <= 2 * per_curve for count in held)  # two curves
    assert max(held_bytes) <= 2 * per_curve * 40  # 32 bytes a point, 8 a jump's score
    assert traced[-1] - traced[1] < 2_000_000  # 800,000 more points would be 38 MB
    assert run.curves["loss"].steps[-1] == 999_999
    diagnosis = watcher.doctor.diagnose(run)
    assert diagnosis.verdict == "diverging"
    assert diagnosis.findings[0].evidence["nonfinite_step"] == 654_321


def test_curves_the_diagnosis_does_not_use_are_kept_small(tmp_path):
    """A run that logs 40 other metrics beside its loss (per-layer statistics, say): each of
    them is kept in a few hundred points, the loss in thousands, and all stay readable."""
    log = tmp_path / "wide.csv"
    rows = np.arange(20_000)
    columns = [2.0 * np.exp(-rows / 5_000) + 0.01] + [np.sin(rows / (k + 1)) for k in range(40)]
    header = "step,loss," + ",".join(f"layer{k}/weight_norm" for k in range(40))
    table = np.column_stack([rows, *columns])
    np.savetxt(log, table, delimiter=",", header=header, comments="", fmt="%.6g")
    watcher = Watcher([log])
    watcher.poll()
    (state,) = watcher.runs.values()
    kept = {tag: curve.kept for tag, curve in state.curves.items()}
    assert KEPT_POINTS // 2 <= kept["loss"] <= KEPT_POINTS + PINNED_POINTS + 4
    others = [count for tag, count in kept.items() if tag != "loss"]
    assert len(others) == 40 and max(others) <= SIDE_POINTS + SIDE_PINNED + 4
    assert watcher.state("wide.csv").curves["layer7/weight_norm"].steps[-1] == 19_999


def test_kept_curve_keeps_nans_spikes_and_extremes():
    """Thinning keeps an even sample plus what a sample would miss: the first NaN, a spike,
    the lowest and highest values and the last point."""
    kept = KeptCurve("grad_norm", capacity=1000, pinned=8)
    rng = np.random.default_rng(1)
    values = 1.0 + 0.1 * rng.random(1_000_000)
    values[123_457] = 50.0  # a spike
    values[765_433] = np.nan
    values[765_434:765_440] = 1e-9  # the lowest values, right after it
    for start in range(0, values.size, 65_536):
        chunk = slice(start, start + 65_536)
        steps = np.arange(values.size)[chunk]
        kept.append(steps, values[chunk], np.full(steps.size, np.nan))
    curve = kept.curve()
    assert len(curve) <= 1000 + 8 + 4
    assert kept.stride == 1024  # 1,000,000 / 1024 = 977 samples
    for step in (123_457, 765_433, 765_434, 999_999):
        assert step in curve.steps
    assert np.isnan(curve.values[curve.steps == 765_433]).all()
    assert np.nanmax(curve.values) == 50.0 and np.nanmin(curve.values) == 1e-9
    sample = curve.steps[curve.steps % 1024 == 0]
    assert sample.size == 977 and np.all(np.diff(sample) == 1024)


def test_a_partial_record_at_the_end_of_an_event_file_is_no_damage(tmp_path):
    """An event file copied into the watched folder a few bytes at a time (a writer flushing
    mid-record): every poll reads up to the last complete record, never warns, and the
    points at the end are exactly those of the whole file."""
    written = tmp_path / "written"
    writer = SummaryWriter(str(written))
    for step in range(400):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_scalar("lr", 0.1, step)
    writer.close()
    (source,) = written.glob("*tfevents*")
    data = source.read_bytes()
    watched = tmp_path / "watched" / "run"
    watched.mkdir(parents=True)
    growing = watched / source.name
    watcher = Watcher([tmp_path / "watched"])
    events = []
    with growing.open("wb") as stream:
        for start in range(0, len(data), 997):  # 997 bytes: records are cut anywhere
            stream.write(data[start : start + 997])
            stream.flush()
            events += watcher.poll()
    assert not [event for event in events if isinstance(event, Problem)]
    events += watcher.poll()  # and a poll with nothing new
    run = watcher.state("run")
    whole = read_runs([tmp_path / "watched"]).runs[0]
    assert run.warnings == () and whole.warnings == ()
    for tag in ("loss", "lr"):
        np.testing.assert_array_equal(run.curves[tag].steps, whole.curves[tag].steps)
        np.testing.assert_array_equal(run.curves[tag].values, whole.curves[tag].values)
    assert len(run.curves["loss"]) == 400


def test_an_event_file_replaced_by_a_shorter_one_is_read_anew(tmp_path):
    """A run folder written again from scratch under the same file name: the run is read
    again from its start, not from an offset past the end of the new file."""
    written = tmp_path / "written"
    for name, steps in (("long", 300), ("short", 100)):
        writer = SummaryWriter(str(written / name))
        for step in range(steps):
            writer.add_scalar("loss", float(steps), step)
        writer.close()
    watched = tmp_path / "watched" / "run"
    watched.mkdir(parents=True)
    target = watched / "events.out.tfevents.1.host"
    shutil.copy(next((written / "long").glob("*tfevents*")), target)
    watcher = Watcher([tmp_path / "watched"])
    watcher.poll()
    shutil.copy(next((written / "short").glob("*tfevents*")), target)
    events = watcher.poll()
    assert not [event for event in events if isinstance(event, Problem)]
    run = watcher.state("run")
    assert run.points == {"loss": 100} and set(run.curves["loss"].values) == {100.0}


def test_a_csv_log_is_read_from_its_last_complete_line(tmp_path):
    """A CSV log written a few bytes at a time: lines cut in the middle wait for their end,
    so each step is read once and the curve equals the whole file's."""
    text = "step,loss\n" + "".join(f"{step},{2.0 / (step + 1)!r}\n" for step in range(500))
    log = tmp_path / "run.csv"
    log.write_text("")
    watcher = Watcher([log])
    events = []
    with log.open("a") as stream:
        for start in range(0, len(text), 301):
            stream.write(text[start : start + 301])
            stream.flush()
            events += watcher.poll()
    assert not [event for event in events if isinstance(event, Problem)]
    run = watcher.state("run.csv")
    whole = read_runs([log]).runs[0]
    np.testing.assert_array_equal(run.curves["loss"].steps, np.arange(500))
    np.testing.assert_array_equal(run.curves["loss"].values, whole.curves["loss"].values)


def test_a_csv_log_rewritten_under_a_new_header_is_read_again(tmp_path):
    """Lightning's CSVLogger rewrites metrics.csv under a wider header when a metric first
    appears (validation after the first epoch): the log is read again from its start, so no
    step is counted twice and the new column is followed from then on."""
    log = tmp_path / "version_0" / "metrics.csv"
    log.parent.mkdir()
    rows = [f"{step},0,{1.0 / (step + 1)!r}\n" for step in range(100)]
    log.write_text("step,epoch,train_loss\n" + "".join(rows))
    watcher = Watcher([tmp_path])
    watcher.poll()
    wide = [row.rstrip("\n") + ",\n" for row in rows] + ["99,0,,0.5\n"]
    log.write_text("step,epoch,train_loss,val_loss\n" + "".join(wide))
    watcher.poll()
    with log.open("a") as stream:
        stream.write("".join(f"{step},1,{1.0 / (step + 1)!r},\n" for step in range(100, 150)))
    watcher.poll()
    run = watcher.state("version_0")
    assert run.points == {"epoch": 150, "train_loss": 150, "val_loss": 1}
    np.testing.assert_array_equal(run.curves["train_loss"].steps, np.arange(150))


def test_a_csv_log_started_again_is_read_again(tmp_path):
    """A run restarted from scratch writes its log anew, as long as before: the bytes last
    read are no longer where they were, so the log is read again instead of appended to."""
    log = tmp_path / "run.csv"
    log.write_text("step,loss\n" + "".join(f"{step},1.0\n" for step in range(100)))
    watcher = Watcher([log])
    watcher.poll()
    log.write_text("step,loss\n" + "".join(f"{step},2.0\n" for step in range(120)))
    watcher.poll()
    run = watcher.state("run.csv")
    assert run.points == {"loss": 120} and set(run.curves["loss"].values) == {2.0}


def test_new_event_files_and_new_run_folders_are_picked_up(tmp_path):
    """A run resumed by a second writer (a second event file in its folder) and a run folder
    created after the watch started are both followed."""
    first = SummaryWriter(str(tmp_path / "a"))
    for step in range(50):
        first.add_scalar("loss", 1.0, step)
    first.close()
    watcher = Watcher([tmp_path])
    watcher.poll()
    assert watcher.state("a").points == {"loss": 50}
    time.sleep(1.1)  # event file names carry the time in seconds
    resumed = SummaryWriter(str(tmp_path / "a"))
    for step in range(50, 80):
        resumed.add_scalar("loss", 1.0, step)
    resumed.close()
    fresh = SummaryWriter(str(tmp_path / "b"))
    fresh.add_scalar("loss", 1.0, 0)
    fresh.close()
    watcher.poll()
    assert len(list((tmp_path / "a").glob("*tfevents*"))) == 2
    assert watcher.state("a").points == {"loss": 80}
    assert watcher.state("b").points == {"loss": 1}


def test_mlflow_metric_lines_are_read_as_they_are_appended(tmp_path):
    """An MLflow folder store whose metric file gets new lines (FileStore appends): the new
    points are added to what was read, and a NaN among them changes the verdict."""
    store = tmp_path / "mlruns"
    shutil.copytree(SAMPLES / "fresh" / "mlflow_folder" / "mlruns", store)
    watcher = Watcher([store])
    before = {state.name: state.run() for state in _opened(watcher)}
    healthy = next(name for name in before if watcher.verdict(name) == "healthy")
    run = before[healthy]
    loss_file = next(store.glob(f"*/{run.source.rsplit('#', 1)[1]}/metrics/loss"))
    last = int(run.curves["loss"].steps[-1])
    with loss_file.open("a") as stream:
        stream.write("".join(f"1700000000000 nan {last + i}\n" for i in range(1, 4)))
    changes = _changes(watcher.poll())
    assert [(c.run, c.old, c.new, c.finding.code) for c in changes] == [
        (healthy, "healthy", "diverging", "LRD101")
    ]
    grown = watcher.state(healthy)
    assert len(grown.curves["loss"]) == len(run.curves["loss"]) + 3
    whole = {r.name: r for r in read_runs([store]).runs}[healthy]
    np.testing.assert_array_equal(grown.curves["loss"].steps, whole.curves["loss"].steps)


def test_an_mlflow_sqlite_store_is_read_again_at_most_every_store_interval(tmp_path):
    """A SQLite store is read whole again, but not more often than `store_interval`: rows
    MLflow adds in between (a NaN loss, stored as 0 with is_nan set) are seen at the next
    read after it."""
    import sqlite3

    database = tmp_path / "mlflow.db"
    shutil.copy(SAMPLES / "fresh" / "mlflow_sqlite" / "mlflow.db", database)
    now = [0.0]
    watcher = Watcher([database], interval=1.0, store_interval=30.0, clock=lambda: now[0])
    watcher.poll()
    healthy = next(name for _, name in watcher.said if watcher.verdict(name) == "healthy")
    run = watcher.state(healthy)
    run_uuid, last = run.source.rsplit("#", 1)[1], int(run.curves["loss"].steps[-1])
    with sqlite3.connect(database) as connection:
        connection.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES ('loss', 0, 1700000000000, ?, ?, 1)",
            [(run_uuid, last + i) for i in range(1, 4)],
        )
    now[0] = 29.0
    assert _changes(watcher.poll()) == []  # not read again yet
    now[0] = 30.0
    changes = _changes(watcher.poll())
    assert [(c.run, c.old, c.new, c.finding.code) for c in changes] == [
        (healthy, "healthy", "diverging", "LRD101")
    ]
    assert len(watcher.state(healthy).curves["loss"]) == len(run.curves["loss"]) + 3


def _opened(watcher: Watcher):
    watcher.poll()
    return list(watcher.runs.values())


def test_trainer_state_is_read_again_when_it_changes(tmp_path):
    """A Trainer output folder that gets a new checkpoint, whose trainer_state.json holds
    the history so far, is read again, and only then."""
    run = tmp_path / "calm-otter-5104"
    shutil.copytree(SAMPLES / "hf_trainer" / "calm-otter-5104", run)
    watcher = Watcher([tmp_path])
    assert not _changes(watcher.poll())
    reads = watcher.followers[("hf-trainer", str(run))].last_read
    for event_file in run.glob("runs/*/*tfevents*"):  # the Trainer's TensorBoard logs grow
        with event_file.open("ab") as stream:
            stream.write(b"\0")
    assert watcher.poll() == []
    assert watcher.followers[("hf-trainer", str(run))].last_read == reads  # not read again
    state = json.loads((run / "checkpoint-512" / "trainer_state.json").read_text())
    last = max(entry["step"] for entry in state["log_history"])
    state["log_history"] += [{"step": last + i, "loss": math.nan} for i in range(1, 4)]
    state["global_step"] = last + 3
    checkpoint = run / f"checkpoint-{last + 3}"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps(state))
    changes = _changes(watcher.poll())
    assert [(c.old, c.new, c.finding.code, c.step) for c in changes] == [
        ("healthy", "diverging", "LRD101", last + 3)
    ]


def test_a_quiet_run_is_closed_and_judged_as_finished(tmp_path):
    """While written, a loss still falling is not "too slow"; once the run has been quiet
    for the quiet period it is judged by every rule, said once, and its points dropped."""
    now = [1000.0]
    log = tmp_path / "crawl.csv"
    log.write_text("step,loss\n")
    watcher = Watcher([log], quiet_after=60.0, clock=lambda: now[0])
    events = []
    for start in range(0, 400, 50):
        with log.open("a") as stream:
            stream.write("".join(f"{s},{2.0 - 0.001 * s}\n" for s in range(start, start + 50)))
        events += watcher.poll()
        now[0] += 1.0
    assert _changes(events) == []
    now[0] += 60.0
    (closed,) = _changes(watcher.poll())
    assert (closed.kind, closed.old, closed.new) == ("closed", "healthy", "too_slow")
    assert watcher.runs == {} and watcher.kept_points == 0
    assert _changes(watcher.poll()) == []


def test_once_judges_runs_as_an_audit_does():
    """One pass over finished logs gives each run the verdict `lrdoctor audit` gives it."""
    from lrdoctor.audit import audit

    paths = [SAMPLES / "hf_trainer", SAMPLES / "fresh" / "keras_csv"]
    audited = {d.name: d.verdict for d in audit(paths).diagnoses}
    watcher = Watcher(paths, finished=True)
    watcher.poll()
    watched = {name: watcher.verdict(name) for _, name in watcher.said}
    assert len(watched) == len(audited) > 20
    assert watched == audited


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_cli_once_jsonl_names_each_unhealthy_run_and_leaves_the_logs_alone(tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLES / "hf_trainer", logs)
    before = _snapshot(logs)
    result = CliRunner().invoke(
        main,
        ["watch", str(logs), "--once", "--format", "jsonl", "--until", "error"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    entries = [json.loads(line) for line in result.output.splitlines()]
    audit = CliRunner().invoke(main, ["audit", str(logs), "--format", "json", "--jobs", "1"])
    unhealthy = {
        run["name"]: run["diagnosis"]
        for run in json.loads(audit.output)["runs"]
        if run["diagnosis"] not in ("healthy", "insufficient_data")
    }
    assert {entry["run"]: entry["to"] for entry in entries} == unhealthy
    for entry in entries:
        assert entry["schema"] == "lrdoctor.watch/1"
        assert entry["change"] == "verdict" and entry["from"] is None
        assert entry["finding"]["label"] == entry["to"]
    assert _snapshot(logs) == before
    assert not list(tmp_path.glob("logs/**/*.lock"))


def test_cli_text_line_says_the_step_the_change_and_the_finding(tmp_path):
    shutil.copytree(SAMPLES / "hf_trainer" / "mlp-sgd-lr2e+00-b32-5201", tmp_path / "b17")
    result = CliRunner().invoke(main, ["watch", str(tmp_path), "--once"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    clock, rest = line.split(" ", 1)
    assert len(clock) == 8 and clock[2] == clock[5] == ":"
    assert rest == (
        "b17 step 55: new -> diverging (LRD101: the loss is NaN/inf from step 10 on (91% of "
        "logged points))"
    )


def test_cli_bad_input_is_one_message_naming_the_file(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["watch", str(tmp_path / "nope"), "--once"])
    assert missing.exit_code == 2
    assert "nope: no such file or folder" in missing.output
    assert "Traceback" not in missing.output
    damaged = tmp_path / "damaged.csv"
    damaged.write_bytes(b"\xff\xfe\x00garbage\n\x01\x02")
    unreadable = runner.invoke(main, ["watch", str(damaged), "--once"])
    assert unreadable.exit_code == 2
    assert f"lrdoctor: {damaged}: undecodable bytes" in unreadable.output
    assert "nothing could be read" in unreadable.output
    assert "Traceback" not in unreadable.output


def test_each_kind_of_change_has_its_line():
    """A finding that appears or goes while the verdict stays, and a run closed, are said
    in words of their own, in text and in JSON lines (a finding gone keeps its rule)."""
    from lrdoctor.diagnosis import Doctor
    from lrdoctor.reporters.watch import render_json_line, render_text

    (run,) = read_runs([SAMPLES / "hf_trainer" / "mlp-sgd-lr2e+00-b32-5201"]).runs
    diagnosis = Doctor().diagnose(run)
    finding = diagnosis.findings[0]
    base = {"time": 0.0, "run": "b17", "source": run.source, "format": run.format, "step": 4210}
    texts = {
        kind: render_text(Change(kind, **base, old=old, new="diverging", finding=finding))
        for kind, old in (
            ("finding", "diverging"),
            ("finding_gone", "diverging"),
            ("closed", "healthy"),
        )
    }
    assert texts["finding"].endswith(
        "b17 step 4,210: diverging, new finding (LRD101: " + finding.message + ")"
    )
    assert "b17 step 4,210: diverging, finding gone (LRD101: " in texts["finding_gone"]
    assert "step 4,210: closed, no longer written: healthy -> diverging (LRD101" in texts["closed"]
    gone = Change("finding_gone", **base, old="healthy", new="healthy", finding=finding)
    entry = json.loads(render_json_line(gone))
    assert (entry["change"], entry["from"], entry["finding"]["rule"]) == (
        "finding_gone",
        "healthy",
        "LRD101",
    )
    assert entry["time"] == "1970-01-01T00:00:00+00:00"
