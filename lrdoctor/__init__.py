"""lrdoctor: diagnose failed training runs from their logged curves."""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Public name -> the module defining it. Loaded on first access (PEP 562), so a command that
# only needs the CLI (`lrdoctor --help`) does not import pandas, scipy or matplotlib.
# `audit`, `sweep` and `watch` are the `_Package` properties below.
_EXPORTS = {
    "AuditResult": "lrdoctor.audit",
    "Diagnosis": "lrdoctor.diagnosis",
    "Doctor": "lrdoctor.diagnosis",
    "Discovery": "lrdoctor.discovery",
    "Problem": "lrdoctor.discovery",
    "read_runs": "lrdoctor.discovery",
    "Curve": "lrdoctor.model",
    "Run": "lrdoctor.model",
    "ReadError": "lrdoctor.readers",
    "ReadOptions": "lrdoctor.readers",
    "assign_roles": "lrdoctor.roles",
    "SweepOptions": "lrdoctor.sweep",
    "SweepResult": "lrdoctor.sweep",
}

__all__ = [
    "AuditResult",
    "Curve",
    "Diagnosis",
    "Doctor",
    "Discovery",
    "Problem",
    "ReadError",
    "ReadOptions",
    "Run",
    "SweepOptions",
    "SweepResult",
    "assign_roles",
    "audit",
    "read_runs",
    "sweep",
    "watch",
]

if TYPE_CHECKING:
    from lrdoctor.audit import AuditResult, audit
    from lrdoctor.diagnosis import Diagnosis, Doctor
    from lrdoctor.discovery import Discovery, Problem, read_runs
    from lrdoctor.model import Curve, Run
    from lrdoctor.readers import ReadError, ReadOptions
    from lrdoctor.roles import assign_roles
    from lrdoctor.sweep import SweepOptions, SweepResult, sweep
    from lrdoctor.watch import watch


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lrdoctor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Package(types.ModuleType):
    """`lrdoctor.audit`, `lrdoctor.sweep` and `lrdoctor.watch` are the functions even once the
    submodules of those names are imported: the import system sets the parent's attribute to
    the submodule, which would hide it."""

    @property
    def audit(self):
        return importlib.import_module("lrdoctor.audit").audit

    @audit.setter
    def audit(self, _module) -> None:
        """The submodule stays reachable through `sys.modules` and `from lrdoctor.audit`."""

    @property
    def sweep(self):
        return importlib.import_module("lrdoctor.sweep").sweep

    @sweep.setter
    def sweep(self, _module) -> None:
        """As for `audit`: `from lrdoctor.sweep import ...` still reaches the submodule."""

    @property
    def watch(self):
        return importlib.import_module("lrdoctor.watch").watch

    @watch.setter
    def watch(self, _module) -> None:
        """As for `audit`: `from lrdoctor.watch import ...` still reaches the submodule."""


sys.modules[__name__].__class__ = _Package
