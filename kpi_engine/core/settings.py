"""Thresholds and currency (DOMAIN.md section 2 defaults), stored with the data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from kpi_engine.core.errors import InputError


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

    def with_value(self, name: str, value: object) -> Settings:
        """Return a copy with one setting changed, converted to its type and checked."""
        kinds = {
            "amber_days": int,
            "red_days": int,
            "escalation_value": float,
            "currency": str,
            "workaround_budget": float,
        }
        if name not in kinds:
            raise InputError(f"unknown setting '{name}'; known settings: {', '.join(kinds)}")
        try:
            converted = kinds[name](value)
        except (TypeError, ValueError):
            raise InputError(f"setting '{name}' must be a {kinds[name].__name__}, got '{value}'") from None
        if name in ("amber_days", "red_days", "escalation_value", "workaround_budget") and not converted >= 0:
            raise InputError(f"setting '{name}' cannot be negative, got {value}")
        if name == "currency" and not str(converted).strip():
            raise InputError("setting 'currency' cannot be blank")
        new = replace(self, **{name: converted})
        if new.amber_days > new.red_days:
            raise InputError(
                f"the Amber threshold ({new.amber_days} days) cannot exceed the Red threshold ({new.red_days} days)"
            )
        return new
