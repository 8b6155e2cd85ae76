"""Read `labels.json` of a labelled folder, in either schema the corpus generators write.

Schema 1 (tools/samples) names the model family in `recipe.model` and the cadence in
`logging.cadence`; schema 2 states `family`, `logger` and `cadence` at the top of each entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GROUPINGS = ("family", "format", "logger", "cadence")
"""What runs can be grouped by; a grouping is reported when the labels give it."""


@dataclass(frozen=True)
class Labelled:
    """A labelled run: its true verdict, its split and what it can be grouped by."""

    name: str
    label: str
    split: str
    groups: Mapping[str, str]  # grouping (family, format, ...) -> value, when labels.json has it

    @property
    def family(self) -> str:
        return self.groups["family"]


def labelled_run(name: str, entry: Mapping) -> Labelled:
    """One entry of labels.json's `runs`, schema 1 or 2."""
    logging = entry.get("logging") or {}
    groups = {
        "family": entry.get("family") or entry["recipe"]["model"],
        "format": entry.get("format"),
        "logger": entry.get("logger"),
        "cadence": entry.get("cadence") or logging.get("cadence"),
    }
    return Labelled(
        name, entry["label"], entry["split"], {k: str(v) for k, v in groups.items() if v}
    )


def read_labels(folder: Path) -> dict[str, Labelled]:
    """Every labelled run of `folder`, by the run name lrdoctor lists it under."""
    runs = json.loads((Path(folder) / "labels.json").read_text(encoding="utf-8"))["runs"]
    return {name: labelled_run(name, entry) for name, entry in runs.items()}
