"""Settings read back from storage (Settings.from_dict)."""

from __future__ import annotations

import pytest

from kpi_engine.core.errors import InputError
from kpi_engine.core.settings import Settings


def test_stored_thresholds_above_the_default_red_are_read_back():
    # regression: Amber 60 was checked against the default Red of 14 before Red 90 was read
    assert Settings.from_dict({"amber_days": 60, "red_days": 90}) == Settings(amber_days=60, red_days=90)


def test_thresholds_below_the_default_amber_are_read_back():
    assert Settings.from_dict({"red_days": 5, "amber_days": 3}) == Settings(amber_days=3, red_days=5)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"amber_days": 30, "red_days": 20}, "cannot exceed the Red threshold", id="amber-above-red"),
        pytest.param({"red_days": 3}, r"Amber threshold \(7 days\) cannot exceed", id="red-below-default-amber"),
        pytest.param({"bogus": 1}, "unknown setting 'bogus'", id="unknown-name"),
        pytest.param({"red_days": "soon"}, "must be a int", id="not-a-number"),
    ],
)
def test_bad_stored_settings_are_refused(values, message):
    with pytest.raises(InputError, match=message):
        Settings.from_dict(values)


def test_text_from_storage_is_converted():
    assert Settings.from_dict({"escalation_value": "1000", "currency": "EUR"}) == Settings(
        escalation_value=1000.0, currency="EUR"
    )
