"""Thresholds and currency (DOMAIN.md section 2 defaults), stored with the data."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from kpi_engine.core.bounds import MAX_MONEY, MAX_SLIP_DAYS
from kpi_engine.core.errors import InputError
from kpi_engine.core.money import round_cents


@dataclass(frozen=True)
class Settings:
    """The user-changeable thresholds and the currency of money figures."""

    amber_days: int = 7
    red_days: int = 14
    escalation_value: float = 250_000.0
    currency: str = "USD"
    #: Budget for the board deck's "best use of a budget" slide; 0 leaves the slide out.
    workaround_budget: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Return the settings as a plain dict (for storage and JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Settings:
        """Build settings from stored text or numbers, rejecting unknown names and bad values."""
        known = {f.name: f for f in fields(cls)}
        unknown = [name for name in values if name not in known]
        if unknown:
            raise InputError(f"unknown setting '{unknown[0]}'; known settings: {', '.join(known)}")
        # Amber <= Red is checked once, on the finished settings: one value at a time, a stored
        # Amber of 60 would be refused against the default Red of 14 before Red 90 is read.
        relaxed = replace(cls(), amber_days=0, red_days=2**31)
        for name, value in values.items():
            relaxed = relaxed.with_value(name, value)
        result = replace(cls(), **{name: getattr(relaxed, name) for name in values})
        return result.with_value("amber_days", result.amber_days)

    @staticmethod
    def convert(name: str, value: object) -> int | float | str:
        """Convert one setting's value to its type and check its range (not against other settings).

        Raises
        ------
        InputError
            An unknown name, a value of the wrong type, a negative or non-finite number,
            more than 3,650 days, more than 10**12 of money, or a blank currency.
        """
        kinds: dict[str, type] = {
            "amber_days": int,
            "red_days": int,
            "escalation_value": float,
            "currency": str,
            "workaround_budget": float,
        }
        if name not in kinds:
            raise InputError(f"unknown setting '{name}'; known settings: {', '.join(kinds)}")
        wrong_type = InputError(f"setting '{name}' must be a {kinds[name].__name__}, got '{value}'")
        if kinds[name] is str:
            text = str(value)
            if not text.strip():
                raise InputError("setting 'currency' cannot be blank")
            return text
        try:
            given: Any = value.strip() if isinstance(value, str) else value
            number: float = float(given) if kinds[name] is float else int(given)
        except (TypeError, ValueError, OverflowError):
            raise wrong_type from None
        if not math.isfinite(number):
            raise InputError(f"setting '{name}' must be a finite number, got {value}")
        if number < 0:
            raise InputError(f"setting '{name}' cannot be negative, got {value}")
        if kinds[name] is int:
            if number > MAX_SLIP_DAYS:
                raise InputError(f"setting '{name}' can be at most {MAX_SLIP_DAYS:,} days, got {value}")
            return int(number)
        if number > MAX_MONEY:
            raise InputError(f"setting '{name}' can be at most {MAX_MONEY:,.0f}, got {value}")
        return round_cents(number)

    def with_value(self, name: str, value: object) -> Settings:
        """Return a copy with one setting changed, converted to its type and checked."""
        new = replace(self, **{name: self.convert(name, value)})  # type: ignore[arg-type]
        if new.amber_days > new.red_days:
            raise InputError(
                f"the Amber threshold ({new.amber_days} days) cannot exceed the Red threshold ({new.red_days} days)"
            )
        return new
