"""lrdoctor: diagnose failed training runs from their logged curves."""

__version__ = "0.1.0"

from lrdoctor.audit import AuditResult, audit  # noqa: E402
from lrdoctor.diagnosis import Diagnosis, Doctor  # noqa: E402
from lrdoctor.discovery import Discovery, Problem, read_runs  # noqa: E402
from lrdoctor.model import Curve, Run  # noqa: E402
from lrdoctor.readers import ReadError, ReadOptions  # noqa: E402
from lrdoctor.roles import assign_roles  # noqa: E402

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
    "assign_roles",
    "audit",
    "read_runs",
]
