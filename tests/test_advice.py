"""Remedies quote the learning rate in effect where a finding happened, not only the peak.

A cosine schedule decays the LR many-fold; advice for a finding late in such a run must quote
the LR logged there. Runs are trained for real with the numpy trainer and read back."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from trained_runs import dev_task, logged_run

from lrdoctor.advice import advise_at
from lrdoctor.cli import main
from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.roles import assign_roles
from tools.samples.logview import LogPlan
from tools.samples.training import ModelSpec, Recipe
from tools.samples.writers import write_wide_csv

COSINE = Recipe(dev_task(101), ModelSpec("linear", ()), "sgd", 0.05, 32, 20, schedule="cosine")
PER_STEP_WITH_LR = LogPlan("wide_csv", "cosine.csv", "sample", every=1, lr=True, val=False)


@pytest.fixture(scope="module")
def cosine_run(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("cosine")
    write_wide_csv(folder, logged_run(COSINE, PER_STEP_WITH_LR))
    (run,) = read_runs([folder]).runs
    return run


def test_a_late_finding_quotes_the_lr_logged_at_its_steps(cosine_run):
    lr = cosine_run.curves[assign_roles(cosine_run)["lr"]]
    late = (int(lr.steps[int(lr.steps.size * 0.9)]), int(lr.steps[-1]))
    advice = Doctor().diagnose(cosine_run).advice
    at_late = advise_at(advice, lr, late)
    logged_late = float(lr.values[(lr.steps >= late[0]) & (lr.steps <= late[1])].max())
    assert at_late["lr"] == pytest.approx(logged_late)
    assert at_late["lr"] < advice["lr_peak"] / 10  # the schedule had decayed by then
    assert at_late["lr_peak"] == advice["lr_peak"] == pytest.approx(float(lr.values.max()))
    assert at_late["lr_div10"] == pytest.approx(logged_late / 10, rel=0.05)


def test_a_whole_run_finding_quotes_the_peak_and_no_curve_keeps_the_run_advice(cosine_run):
    lr = cosine_run.curves[assign_roles(cosine_run)["lr"]]
    advice = Doctor().diagnose(cosine_run).advice
    whole = (int(lr.steps[0]), int(lr.steps[-1]))
    assert advise_at(advice, lr, whole)["lr"] == pytest.approx(advice["lr_peak"])
    assert advise_at(advice, None, whole) == dict(advice)
    before_any = (int(lr.steps[0]) - 10, int(lr.steps[0]) - 5)
    assert advise_at(advice, lr, before_any) == dict(advice)


def test_nan_during_warm_up_quotes_the_logged_lr(shared_fixtures):
    """A real log (TF2 example issue): NaN at step 750 while the LR warmed up to 6e-4. The
    LR at the bad steps is also the peak here; the cosine test above tells the two apart."""
    path = shared_fixtures / "wild2" / "csv" / "yunyang1994_tf2examples_8_warmup_lr_nan.csv"
    (run,) = read_runs([path]).runs
    entry = Doctor().diagnose(run).to_dict()
    (finding,) = entry["findings"]
    assert finding["rule"] == "LRD101"
    assert "Lower the learning rate from 0.0006 to 6e-05..0.0002" in finding["remedies"][-1]


def test_each_remedy_says_whether_the_logs_support_it(shared_fixtures):
    """Clipping without a logged norm is a general check; the LR the run logged is evidence."""
    path = shared_fixtures / "wild2" / "csv" / "yunyang1994_tf2examples_8_warmup_lr_nan.csv"
    (run,) = read_runs([path]).runs
    (finding,) = Doctor().diagnose(run).to_dict()["findings"]
    assert finding["remedy_basis"] == ["general", "general", "logs"]
    assert "for example at 1.0" in finding["remedies"][1]
    text = CliRunner().invoke(main, ["diagnose", str(path)]).output
    assert "overflow the weights. (general check)" in text
    assert "warm-up steps.\n" in text
