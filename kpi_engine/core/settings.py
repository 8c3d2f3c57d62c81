"""Thresholds, currency and how digests go out (DOMAIN.md sections 2 and 6 defaults), stored with the data.

No secret is a setting: the SMTP password only ever comes from the environment
(``KPI_SMTP_PASSWORD``), so it is never written to the database nor shown back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from kpi_engine.core.addresses import is_email_address, is_web_address
from kpi_engine.core.bounds import MAX_MONEY, MAX_SLIP_DAYS
from kpi_engine.core.errors import InputError
from kpi_engine.core.money import round_cents

#: How a digest reaches the SMTP server: ``auto`` upgrades with STARTTLS when the server
#: offers it (and never sends a password over a connection that stayed plain), ``starttls``
#: requires the upgrade, ``ssl`` connects encrypted from the start (port 465), ``none``
#: never encrypts (a relay on the same machine).
SMTP_SECURITY = ("auto", "starttls", "ssl", "none")


@dataclass(frozen=True)
class Settings:
    """The user-changeable thresholds, the currency of money figures and the notification settings."""

    amber_days: int = 7
    red_days: int = 14
    escalation_value: float = 250_000.0
    currency: str = "USD"
    #: Budget for the board deck's "best use of a budget" slide; 0 leaves the slide out.
    workaround_budget: float = 0.0
    #: Days of snapshot dates an escalated item may wait for a decision before it goes one level up.
    ack_days: int = 7
    #: Where the digests of people with no e-mail address go (blank: nowhere, the run says so).
    pmo_email: str = ""
    #: The dashboard's address, for links to each item in the digests (blank: no links).
    dashboard_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "auto"
    #: The sender of the digests.
    smtp_from: str = ""
    #: The SMTP login name (its password only ever comes from ``KPI_SMTP_PASSWORD``).
    smtp_user: str = ""
    #: A Slack or Teams channel's incoming webhook for everyone without one of their own.
    chat_webhook: str = ""

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

    @classmethod
    def convert(cls, name: str, value: object) -> int | float | str:
        """Convert one setting's value to its type and check its range (not against other settings).

        Raises
        ------
        InputError
            An unknown name, a value of the wrong type, a negative or non-finite number,
            more than 3,650 days, more than 10**12 of money, a blank currency, or a
            notification setting that could not work.
        """
        kinds = {f.name: {"int": int, "float": float, "str": str}[str(f.type)] for f in fields(cls)}
        if name not in kinds:
            raise InputError(f"unknown setting '{name}'; known settings: {', '.join(kinds)}")
        kind = kinds[name]
        if kind is str:
            text = str(value).strip()
            if name == "currency" and not text:
                raise InputError("setting 'currency' cannot be blank")
            _check_notification_setting(name, text)
            return text
        try:
            given: Any = value.strip() if isinstance(value, str) else value
            number: float = float(given) if kind is float else int(given)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"setting '{name}' must be a {kind.__name__}, got '{value}'") from None
        if not math.isfinite(number):
            raise InputError(f"setting '{name}' must be a finite number, got {value}")
        if number < 0:
            raise InputError(f"setting '{name}' cannot be negative, got {value}")
        if kind is int:
            _check_notification_setting(name, int(number))
            if name != "smtp_port" and number > MAX_SLIP_DAYS:
                raise InputError(f"setting '{name}' can be at most {MAX_SLIP_DAYS:,} days, got {value}")
            return int(number)
        if number > MAX_MONEY:
            raise InputError(f"setting '{name}' can be at most {MAX_MONEY:,.0f}, got {value}")
        return round_cents(number)

    def with_value(self, name: str, value: object) -> Settings:
        """Return a copy with one setting changed, converted to its type and checked."""
        new = replace(self, **{name: self.convert(name, value)})  # type: ignore[arg-type]  # convert() returns the field's own type
        if new.amber_days > new.red_days:
            raise InputError(
                f"the Amber threshold ({new.amber_days} days) cannot exceed the Red threshold ({new.red_days} days)"
            )
        return new


def _check_notification_setting(name: str, value: object) -> None:
    """Refuse notification settings that could not work or could break a message."""
    text = str(value)
    if name == "ack_days" and int(text) < 1:
        raise InputError(f"setting 'ack_days' must be at least 1 day, got {value}")
    if name == "smtp_port" and not 1 <= int(text) <= 65535:
        raise InputError(f"setting 'smtp_port' must be a port number from 1 to 65535, got {value}")
    if name == "smtp_security" and text not in SMTP_SECURITY:
        raise InputError(f"setting 'smtp_security' must be one of {', '.join(SMTP_SECURITY)}, got '{value}'")
    if name in ("pmo_email", "smtp_from") and text and not is_email_address(text):
        raise InputError(f"setting '{name}' must be one e-mail address such as pmo@example.com, got '{value}'")
    if name in ("dashboard_url", "chat_webhook") and text and not is_web_address(text):
        raise InputError(f"setting '{name}' must be a web address starting with https://, got '{value}'")
    if name in ("smtp_host", "smtp_user") and any(not c.isprintable() or c.isspace() for c in text):
        raise InputError(f"setting '{name}' cannot hold spaces or line breaks, got '{value}'")
