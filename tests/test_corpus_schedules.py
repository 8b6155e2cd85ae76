"""The schedules split: dev's kinds with each verdict's LR schedule drawn apart from the
verdict, and the check that a healthy run whose LR is never lowered was tuned (3x the LR
does no better), which lets such runs into the corpus at all."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tools.corpus.checks import HELD_LR, Measures, is_healthy, passes  # noqa: E402
from tools.corpus.recipes import HELD, SCHEDULES_FOR, SPLITS, VERDICTS, candidate  # noqa: E402

LABELS = Path(__file__).resolve().parent.parent / "sample_logs" / "labels.json"


@pytest.mark.parametrize("label", VERDICTS)
def test_schedules_are_drawn_apart_from_the_verdict(label):
    found = [candidate("schedules", label, i, 0) for i in range(16)]
    assert all(c.family in SPLITS["dev"].families for c in found)
    drawn = {c.setup.schedule for c in found if c.variant != "late"}
    assert drawn <= set(SCHEDULES_FOR[label])
    assert len(drawn) >= 3, drawn  # not one schedule per verdict, as in the other splits
    for c in found:
        if c.fix is not None and label not in ("diverging", "too_slow"):
            assert c.fix.schedule == c.setup.schedule, c  # the fix removes the cause only


def test_a_healthy_run_at_a_held_lr_is_checked_against_three_times_its_lr():
    found = [candidate("schedules", "healthy", i, 0) for i in range(16)]
    held = [c for c in found if c.setup.schedule in HELD]
    assert held and all(c.variant == HELD_LR for c in held)
    for c in held:
        assert c.fix.lr == pytest.approx(3 * c.setup.lr)
        assert replace(c.fix, lr=c.setup.lr) == c.setup
    assert all(c.variant != HELD_LR for c in found if c.setup.schedule not in HELD)


def _healthy_measures() -> Measures:
    """The measures of a real healthy dev run, as its label entry records them."""
    runs = json.loads(LABELS.read_text())["runs"].values()
    entry = next(e for e in runs if e["label"] == "healthy" and e["split"] == "dev")
    values = {k: float("nan") if v == "nan" else v for k, v in entry["check"]["measures"].items()}
    return Measures(**values)


def test_a_run_still_creeping_down_at_a_held_lr_is_healthy_unless_a_larger_lr_beats_it():
    creeping = replace(_healthy_measures(), late_fall=0.3, lr_lowered_late=False)
    assert not is_healthy(creeping)  # the decaying-schedule check asks for a flat end
    gap = creeping.initial - creeping.floor
    level = replace(creeping, final=creeping.final - 0.01 * gap)  # 3x the LR: about as low
    beaten = replace(creeping, final=creeping.final - 0.2 * gap)  # 3x the LR: far lower
    assert passes("healthy", creeping, level, HELD_LR)
    assert not passes("healthy", creeping, beaten, HELD_LR)
    assert not passes("healthy", creeping, level)  # other variants keep the late-fall test
