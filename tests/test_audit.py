"""Audit and diagnose on the labelled logs of real training runs in sample_logs/."""

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

import lrdoctor
from lrdoctor.audit import audit
from lrdoctor.cli import EXIT_FINDINGS, EXIT_INPUT_ERROR, EXIT_OK, main
from tools.evaluate import evaluate, tuning_misses

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"
LABELS = json.loads((SAMPLE_LOGS / "labels.json").read_text())["runs"]
SCHEMA = json.loads((Path(lrdoctor.__file__).parent / "schemas" / "audit.schema.json").read_text())
# The command-line tests audit the runs of one logger: one audit of the whole corpus (the
# library's, below) is all this module can afford.
ONE_LOGGER = SAMPLE_LOGS / "dev" / "plain_csv"


@pytest.fixture(scope="module")
def sample_audit():
    return audit(SAMPLE_LOGS)


@pytest.fixture(scope="module")
def one_logger_audit():
    return audit(ONE_LOGGER)


def diagnosed_as(sample_audit, label: str, split: str = "dev") -> list:
    """Runs labelled `label` that lrdoctor also diagnoses as `label` (file-based, dev split)."""
    return [
        d
        for d in sample_audit.diagnoses
        if d.name in LABELS
        and LABELS[d.name]["label"] == label
        and LABELS[d.name]["split"] == split
        and d.verdict == label
        and Path(d.source).exists()
    ]


def test_audit_json_follows_the_published_contract(sample_audit, one_logger_audit):
    document = json.loads(json.dumps(sample_audit.to_dict()))
    jsonschema.validate(document, SCHEMA)
    assert {run["name"] for run in document["runs"]} >= set(LABELS)
    assert document["summary"]["runs"] == len(document["runs"])
    assert sum(document["summary"]["by_diagnosis"].values()) == len(document["runs"])
    result = CliRunner().invoke(
        main, ["audit", str(ONE_LOGGER), "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == EXIT_OK
    printed = json.loads(result.stdout)
    jsonschema.validate(printed, SCHEMA)
    assert printed["schema"] == "lrdoctor.audit/1"
    assert printed["lrdoctor"] == lrdoctor.__version__
    assert printed == json.loads(json.dumps(one_logger_audit.to_dict()))


@pytest.fixture(scope="module")
def accuracy(sample_audit):
    return evaluate(SAMPLE_LOGS, sample_audit)


def test_dev_accuracy_does_not_regress(accuracy):
    """The development split is what thresholds are tuned on: guard what was reached.

    Set just under the figures `python -m tools.evaluate sample_logs --split dev` printed for
    the 1,065 dev runs (the six spent held-out splits and the schedules split included) and
    the rules of this commit (macro-F1 0.878, 10 of 165 healthy runs flagged, oscillating
    recall 0.63 the lowest);
    re-set them when the corpus or the rules change."""
    dev = accuracy["dev"]
    assert dev.macro_f1 >= 0.87
    assert dev.healthy_false_alarm_rate <= 10 / 165 + 1e-9
    present = {label: r for label, r in dev.recall.items() if sum(dev.confusion[label].values())}
    assert min(present.values()) >= 0.62, present


def test_held_out_figures_do_not_regress(accuracy):
    """Held-out runs differ in kind from every dev run and were never used to tune: fresh6's
    siamese embedding nets (InfoNCE), matrix-factorisation recommenders and heteroscedastic
    regression MLPs whose Gaussian NLL goes negative; Yogi, Adan and MADGRAD; the goyal, REX
    and inverse-time schedules; a loop's own eval-mode loss on its training slice (full_eval)
    and bf16 autocast. It has no feature-scaling runs (its recipe passed 0 of 15).

    Evaluated once with the rules of de6c78f (`python -m tools.evaluate sample_logs --split
    heldout`): macro-F1 0.625, accuracy 0.667 (70 of 105), 1 of 15 healthy runs flagged,
    recalls diverging 0.93, healthy 0.93, exploding 0.87, minibatch_noise 0.80, too_slow 0.67,
    oscillating 0.47 and overfitting 0.00 (10 of 15 read as exploding gradients: a training
    loss that goes negative); 14 of 15 verdicts at confidence 0.9 or more right, ECE 0.110.
    The issue's bars (macro-F1 0.90, healthy at most 5%, every recall 0.8; ECE 0.05) are not
    met; this guards what was measured, just under it, so a change that loses held-out ground
    fails. Re-set it only with a new held-out split."""
    if "heldout" not in accuracy:
        pytest.skip(
            "no held-out split: the last one was tuned on and joined dev; a new one is "
            "generated with python -m tools.corpus OUT --split NEW, of kinds dev has not seen"
        )
    held_out = accuracy["heldout"]
    assert held_out.macro_f1 >= 0.62
    assert held_out.accuracy >= 70 / 105 - 1e-9
    assert held_out.healthy_false_alarm_rate <= 1 / 15 + 1e-9
    measured = {  # recall of each verdict at the one evaluation
        "healthy": 14 / 15,
        "diverging": 14 / 15,
        "exploding_gradients": 13 / 15,
        "minibatch_noise": 12 / 15,
        "too_slow": 10 / 15,
        "oscillating": 7 / 15,
    }
    for label, recall in measured.items():
        assert held_out.recall[label] >= recall - 1e-9, label
    assert held_out.expected_calibration_error <= 0.12
    confident = [b for b in held_out.reliability if b.low >= 0.9]
    runs = sum(b.count for b in confident)
    right = sum(b.count * (b.share_right or 0) for b in confident)
    assert runs and right >= 0.9 * runs


def test_findings_carry_evidence_steps_and_ordered_remedies(sample_audit):
    for diagnosis in sample_audit.diagnoses:
        entry = diagnosis.to_dict()
        for finding in entry["findings"]:
            assert finding["evidence"], finding
            assert finding["remedies"], finding
            assert finding["message"]
            if finding["steps"] is not None:
                assert finding["steps"][0] <= finding["steps"][1]
        if entry["findings"]:
            assert entry["diagnosis"] == entry["findings"][0]["label"]


def test_noise_is_not_reported_as_a_learning_rate_problem(sample_audit):
    noisy = diagnosed_as(sample_audit, "minibatch_noise")
    assert noisy
    for diagnosis in noisy:
        remedies = diagnosis.to_dict()["findings"][0]["remedies"]
        assert "batch size" in " ".join(remedies[:2]).lower()
        assert "learning rate" not in remedies[0].lower()


def test_remedies_quote_values_from_the_logs(sample_audit):
    with_batch = [
        d for d in diagnosed_as(sample_audit, "minibatch_noise") if d.advice.get("batch_size")
    ]
    assert with_batch, "no noisy sample run records its batch size"
    diagnosis = with_batch[0]
    text = " ".join(diagnosis.to_dict()["findings"][0]["remedies"])
    assert f"(now {diagnosis.advice['batch_size']})" in text
    with_lr = [d for d in diagnosed_as(sample_audit, "diverging") if d.advice.get("lr")]
    assert with_lr
    remedies = " ".join(with_lr[0].to_dict()["findings"][0]["remedies"])
    assert f"{with_lr[0].advice['lr']:.2g}" in remedies


def test_fail_on_sets_the_exit_status(sample_audit):
    diverging = next(
        Path(d.source).name
        for d in diagnosed_as(sample_audit, "diverging")
        if Path(d.source).parent == ONE_LOGGER
    )
    runner = CliRunner()
    plain = runner.invoke(main, ["audit", str(ONE_LOGGER)], catch_exceptions=False)
    assert plain.exit_code == EXIT_OK
    failing = runner.invoke(main, ["audit", str(ONE_LOGGER), "--fail-on", "error"])
    assert failing.exit_code == EXIT_FINDINGS
    assert diverging in failing.stdout


def _noisy_by_lrd401_alone(sample_audit):
    """A run diagnosed minibatch_noise by LRD401 and no other rule: turning LRD401 off (or
    selecting it alone) must then change what is reported."""
    return next(
        d
        for d in diagnosed_as(sample_audit, "minibatch_noise")
        if [f.code for f in d.findings] == ["LRD401"]
    )


def test_a_pyproject_override_changes_a_verdict(sample_audit, tmp_path, monkeypatch):
    noisy = _noisy_by_lrd401_alone(sample_audit)
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.lrdoctor.rules.minibatch-noise]\nmin_noise = 5.0\n'
    )
    result = runner.invoke(
        main, ["diagnose", noisy.source, "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == EXIT_OK
    (entry,) = json.loads(result.stdout)["runs"]
    assert entry["diagnosis"] != "minibatch_noise"
    assert "LRD401" not in [f["rule"] for f in entry["findings"]]

    (tmp_path / "pyproject.toml").write_text(
        "[tool.lrdoctor.rules.minibatch-noise]\nmin_nois = 5\n"
    )
    bad = runner.invoke(main, ["diagnose", noisy.source])
    assert bad.exit_code == EXIT_INPUT_ERROR
    assert "min_nois" in bad.stderr and "pyproject.toml" in bad.stderr


def test_ignore_and_select_on_the_command_line(sample_audit):
    noisy = _noisy_by_lrd401_alone(sample_audit)
    runner = CliRunner()
    ignored = runner.invoke(
        main, ["diagnose", noisy.source, "--ignore", "LRD4", "--format", "json"]
    )
    assert "LRD401" not in ignored.stdout
    selected = runner.invoke(
        main, ["diagnose", noisy.source, "--select", "minibatch-noise", "--format", "json"]
    )
    (entry,) = json.loads(selected.stdout)["runs"]
    assert [f["rule"] for f in entry["findings"]] == ["LRD401"]


def test_select_and_ignore_take_comma_lists():
    """`--select A,B` is `--select A --select B`, as ruff takes rule lists."""
    runner = CliRunner()
    folder = str(ONE_LOGGER)

    def rules_fired(*options):
        result = runner.invoke(main, ["audit", folder, "--format", "json", *options])
        return {f["rule"] for run in json.loads(result.stdout)["runs"] for f in run["findings"]}

    everything = rules_fired()
    assert {"LRD401", "LRD101"} <= everything and any(r.startswith("LRD5") for r in everything)
    assert (
        rules_fired("--select", "LRD401,LRD5")
        == rules_fired("--select", "LRD401", "--select", "LRD5")
        == {r for r in everything if r == "LRD401" or r.startswith("LRD5")}
    )
    ignored = rules_fired("--ignore", "minibatch-noise, LRD1")
    assert ignored == {r for r in everything if r != "LRD401" and not r.startswith("LRD1")}


def test_a_user_rule_from_rules_dir_fires(sample_audit, tmp_path):
    """A loss crawling down on unscaled features is still improving when training stops."""
    slow = diagnosed_as(sample_audit, "poor_feature_scaling")[0]
    (tmp_path / "TEAM001-still-improving.toml").write_text(
        "\n".join(
            [
                'code = "TEAM001"',
                'name = "still-improving"',
                'label = "too_slow"',
                'title = "Still improving at the end of the budget"',
                'severity = "info"',
                'signal = "train_loss"',
                'condition = "trend_z < -2"',
                'message = "Mann-Kendall z {trend_z:.1f}"',
                "[page]",
                'what = "The loss was still going down when training stopped."',
                'why = "More steps would have helped."',
                "[[remedies]]",
                'kind = "schedule"',
                'text = "Train for more steps."',
            ]
        )
    )
    result = CliRunner().invoke(
        main,
        ["diagnose", slow.source, "--rules-dir", str(tmp_path), "--format", "json"],
        catch_exceptions=False,
    )
    (entry,) = json.loads(result.stdout)["runs"]
    assert "TEAM001" in [f["rule"] for f in entry["findings"]]


def test_an_unreadable_run_does_not_stop_the_audit(sample_audit, tmp_path):
    good = next(d.source for d in diagnosed_as(sample_audit, "healthy") if d.name.endswith(".csv"))
    shutil.copy(good, tmp_path / "good.csv")
    (tmp_path / "broken.csv").write_bytes(b"\x00\xff\xfe not text")
    result = CliRunner().invoke(
        main, ["audit", str(tmp_path), "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == EXIT_OK
    verdicts = {run["name"]: run["diagnosis"] for run in json.loads(result.stdout)["runs"]}
    assert verdicts["broken.csv"] == "unreadable"
    assert verdicts["good.csv"] == "healthy"


def test_audit_text_lists_worst_first_with_a_summary(one_logger_audit):
    result = CliRunner().invoke(main, ["audit", str(ONE_LOGGER)], catch_exceptions=False)
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["RUN", "FORMAT", "VERDICT", "CONF"]
    rows = [line for line in lines[1:] if line.strip() and not line.startswith(" ")][:-1]
    verdicts = [row.split()[2] for row in rows]
    assert verdicts[0] == "diverging" and verdicts[-1] == "healthy"
    by_name = {d.name: d for d in one_logger_audit.diagnoses}
    # each finding's measurement stands on the line under its run
    for row, following in zip(lines[1:-1], lines[2:], strict=True):
        diagnosis = by_name.get(row.split()[0]) if row and not row.startswith(" ") else None
        if diagnosis is not None and diagnosis.findings:
            assert following == f"    {diagnosis.findings[0].message}"
    summary = lines[-1]
    assert summary.startswith(f"{len(one_logger_audit.diagnoses)} runs: ")


def test_library_audit_accepts_a_single_path(one_logger_audit):
    assert audit(str(ONE_LOGGER)).to_dict() == one_logger_audit.to_dict()


def test_evaluation_of_one_split_leaves_the_others_unscored(sample_audit, accuracy):
    only_dev = evaluate(SAMPLE_LOGS, sample_audit, splits=["dev"])
    assert list(only_dev) == ["dev"]
    assert only_dev["dev"] == accuracy["dev"]
    with pytest.raises(SystemExit, match="no split named nosuch"):
        evaluate(SAMPLE_LOGS, sample_audit, splits=["nosuch"])


def test_misses_are_listed_for_the_dev_split_only(sample_audit, accuracy):
    misses = tuning_misses(SAMPLE_LOGS, sample_audit)
    dev = accuracy["dev"]
    wrong = sum(n for label, row in dev.confusion.items() for v, n in row.items() if v != label)
    assert len(misses) == wrong > 0
    verdicts = {d.name: d for d in sample_audit.diagnoses}
    for miss in misses:
        assert LABELS[miss.name]["split"] == "dev" and LABELS[miss.name]["label"] == miss.label
        diagnosis = verdicts[miss.name]
        assert diagnosis.verdict == miss.verdict != miss.label
        top = diagnosis.findings[0] if diagnosis.findings else None
        assert miss.top_finding == (f"{top.code} {top.name}" if top else "")


def test_every_rate_comes_with_a_95_percent_interval_around_it(accuracy):
    for scores in accuracy.values():
        low, high = scores.healthy_false_alarm_interval
        assert low <= scores.healthy_false_alarm_rate <= high
        for label, recall in scores.recall.items():
            low, high = scores.recall_interval[label]
            assert (
                low <= recall <= high and high - low > 0.05
            )  # a few dozen runs cannot pin it down


def test_each_run_carries_its_hyper_parameters():
    """Runs of a sweep differ in their params: every report entry names them, as logged."""
    folder = SAMPLE_LOGS / "dev" / "lightning_csv" / "lightning_logs" / "bold-badger-5642"
    (entry,) = audit(str(folder)).to_dict()["runs"]
    hparams = yaml.safe_load((folder / "version_0" / "hparams.yaml").read_text())
    assert entry["params"] == {key: str(value) for key, value in hparams.items()}
    assert entry["params"]["lr"] == str(hparams["lr"]) and "batch_size" in entry["params"]
