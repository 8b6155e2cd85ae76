"""Features on real sample runs: the val-loss view train-loss rules get, and trend_z."""

import numpy as np
from sample_runs import firing_run, run_path
from scipy import stats

from lrdoctor.diagnosis import Doctor
from lrdoctor.discovery import read_runs
from lrdoctor.features import Prepared, known_features, trend_z
from lrdoctor.roles import assign_roles


def _features(name: str) -> dict:
    (run,) = read_runs([run_path(name)]).runs
    return Doctor().features(run, assign_roles(run))


def test_train_loss_rules_see_the_val_curve_under_the_val_prefix():
    features = _features(firing_run("LRD202"))  # logs a val loss
    train, val = features["train_loss"], features["val_loss"]
    assert train["has_val_loss"] is True
    assert train["has_lr"] is ("lr" in features) and train["has_grad_norm"] is (
        "grad_norm" in features
    )
    assert train["val_noise"] == val["noise"] != train["noise"]
    assert train["val_trend_z"] == val["trend_z"]
    assert "val_noise" in known_features() and "val_grad_norm_median" not in known_features()


def test_without_a_val_curve_the_val_features_are_missing_not_zero():
    features = _features(firing_run("LRD601"))  # logs no val loss
    assert "val_loss" not in features
    train = features["train_loss"]
    assert train["has_val_loss"] is False
    assert train["has_lr"] is ("lr" in features) and train["has_grad_norm"] is (
        "grad_norm" in features
    )
    assert train["val_noise"] is None and train["val_late_loglog_slope"] is None


def test_trend_z_is_the_mann_kendall_test_statistic():
    """Two-sided p-value from z matches scipy's Kendall test on the same (tie-free) curve."""
    (run,) = read_runs([run_path(firing_run("LRD301"))]).runs
    curve = run.curves[assign_roles(run)["train_loss"]]
    z = trend_z(Prepared(curve))
    finite = np.isfinite(curve.values)
    steps, values = curve.steps[finite], curve.values[finite]
    assert len(np.unique(values)) == len(values)
    expected = stats.kendalltau(steps, values, method="asymptotic").pvalue
    np.testing.assert_allclose(2 * stats.norm.sf(abs(z)), expected, rtol=1e-6)
    assert z < -2  # a crawl still falls significantly
