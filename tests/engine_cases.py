"""What the engine tests share: the user rule files and the feature names they may use."""

from pathlib import Path

RULE_FILES = Path(__file__).parent / "rule_files"

# The names a feature registry would provide; the engine only ever sees this set.
KNOWN_FEATURES = {
    "points",
    "first_step",
    "last_step",
    "first_nonfinite_step",
    "final_over_initial",
    "spike_fraction",
}
