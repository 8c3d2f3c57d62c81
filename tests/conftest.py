"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fleet_dir() -> Path:
    """The worked example of DOMAIN.md section 5, one CSV per sheet plus fleet.xlsx."""
    folder = REPO.parent / "shared" / "spec" / "fleet"
    if not folder.is_dir():
        pytest.skip(f"the worked example is not at {folder}")
    return folder
