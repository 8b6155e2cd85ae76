"""The registry of log formats: built-in readers plus third-party `lrdoctor.readers` entry points.

Order matters: discovery asks readers in this order, so a reader that owns whole folders
(an mlruns store, a Trainer output dir) claims them before a reader that would take their
files one by one (CSV).
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points

from lrdoctor.readers.base import Claim, Reader, ReadError, ReadOptions, relative_name

_BUILTIN_MODULES = (
    "lrdoctor.readers.mlflow",
    "lrdoctor.readers.hf_trainer",
    "lrdoctor.readers.tensorboard",
    "lrdoctor.readers.csv_logs",
)

__all__ = ["Claim", "Reader", "ReadError", "ReadOptions", "registry", "relative_name"]


@functools.cache
def registry() -> dict[str, Reader]:
    """Every available reader by name, built-in ones first."""
    readers: dict[str, Reader] = {}
    for module_name in _BUILTIN_MODULES:
        reader = importlib.import_module(module_name).READER
        readers[reader.name] = reader
    for entry_point in entry_points(group="lrdoctor.readers"):
        reader = entry_point.load()
        readers.setdefault(reader.name, reader)
    return readers
