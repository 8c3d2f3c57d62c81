"""Fixtures of the reliability tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_reader(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record every file calamine is asked to open (none should be)."""
    import fastexcel

    opened: list[bytes] = []
    monkeypatch.setattr(fastexcel, "read_excel", lambda data, *a, **k: opened.append(data))
    return opened
