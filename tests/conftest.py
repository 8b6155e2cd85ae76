"""Shared test set-up: where the real third-party fixtures live."""

from pathlib import Path

import pytest

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture
def shared_fixtures() -> Path:
    """The real log files from public projects, read in place (never copied into the repo)."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is absent: the real third-party log files are not here")
    return SHARED_FIXTURES
