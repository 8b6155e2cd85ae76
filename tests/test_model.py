"""The data model: ordering, duplicate steps, non-finite values, immutability."""

import numpy as np
import pytest

from lrdoctor.model import Curve, Run


def test_points_are_sorted_by_step():
    curve = Curve.from_points("loss", [3, 1, 2], [0.3, 0.1, 0.2], [30.0, 10.0, 20.0])
    assert curve.steps.tolist() == [1, 2, 3]
    assert curve.values.tolist() == [0.1, 0.2, 0.3]
    assert curve.wall_times.tolist() == [10.0, 20.0, 30.0]


def test_relogged_step_keeps_the_most_recent_write_by_wall_time():
    # A run resumed from a checkpoint at step 2 re-logs steps 2 and 3 later in time; the
    # resumed writer's file may be read first, so write order alone must not decide.
    curve = Curve.from_points(
        "loss",
        steps=[2, 3, 0, 1, 2, 3],
        values=[9.2, 9.3, 1.0, 0.9, 0.8, 0.7],
        wall_times=[200.0, 201.0, 100.0, 101.0, 102.0, 103.0],
    )
    assert curve.steps.tolist() == [0, 1, 2, 3]
    assert curve.values.tolist() == [1.0, 0.9, 9.2, 9.3]


def test_without_wall_times_the_later_row_wins():
    curve = Curve.from_points("loss", [0, 1, 1, 2], [1.0, 0.9, 0.5, 0.4])
    assert curve.values.tolist() == [1.0, 0.5, 0.4]
    assert np.isnan(curve.wall_times).all()


def test_nan_and_inf_are_kept_as_data():
    curve = Curve.from_points("loss", [0, 1, 2, 3], [1.0, np.inf, np.nan, -np.inf])
    assert len(curve) == 4
    assert np.isinf(curve.values[1]) and np.isnan(curve.values[2]) and curve.values[3] < 0


def test_curve_and_run_cannot_be_changed():
    curve = Curve.from_points("loss", [0, 1], [1.0, 0.5])
    with pytest.raises(ValueError):
        curve.values[0] = 7.0
    run = Run("r", "s", "test", curves={"loss": curve}, params={"lr": "0.1"})
    with pytest.raises(TypeError):
        run.params["lr"] = "1.0"
    with pytest.raises(TypeError):
        run.curves["other"] = curve
    with pytest.raises(AttributeError):
        run.name = "other"  # type: ignore[misc]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        Curve.from_points("loss", [0, 1], [1.0])


def test_run_frame_and_counts():
    run = Run(
        "r",
        "s",
        "test",
        curves={
            "loss": Curve.from_points("loss", [0, 1, 2], [3.0, 2.0, 1.0]),
            "lr": Curve.from_points("lr", [0], [0.1]),
        },
    )
    assert run.points == {"loss": 3, "lr": 1}
    assert run.total_points == 4
    frame = run.to_frame()
    assert list(frame.columns) == ["tag", "step", "value", "wall_time"]
    assert frame[frame.tag == "loss"].value.tolist() == [3.0, 2.0, 1.0]


def test_params_come_in_key_order_whatever_order_a_reader_met_them():
    """Reports of the same logs must be byte-identical; a protobuf map or a folder listing
    hands params over in no fixed order."""
    met = {"lr": "0.1", "batch_size": "32", "model": "mlp"}
    one = Run(name="a", source="a", format="csv", params=met)
    other = Run(name="a", source="a", format="csv", params=dict(reversed(list(met.items()))))
    assert list(one.params) == list(other.params) == ["batch_size", "lr", "model"]


def test_a_long_curve_is_sampled_faithfully_for_features():
    """Features of a curve longer than FEATURE_POINTS are measured on a sample that keeps
    the exact steps of its spike, its first NaN and its extremes, and every k-th point."""
    steps = np.arange(1, 300_001) * 10
    values = np.linspace(2.0, 0.5, steps.size)
    values[123_457] = 90.0  # one spike, between two sampled points
    values[200_003:200_010] = np.nan
    curve = Curve.from_points("loss", steps, values)
    sample = curve.sample(10_000)
    assert 10_000 <= len(sample) < 10_200
    kept = dict(zip(sample.steps.tolist(), sample.values.tolist(), strict=True))
    assert kept[int(steps[123_457])] == 90.0  # the spike, at its own step
    assert np.isnan(kept[int(steps[200_003])])  # the first NaN of the stretch
    assert kept[int(steps[0])] == 2.0 and int(sample.steps[-1]) == int(steps[-1])
    assert np.nanmin(sample.values) == np.nanmin(values[np.isfinite(values)])
    assert curve.sample(len(curve)) is curve  # short enough: the curve itself
