"""Thresholds, currency and how digests go out (DOMAIN.md sections 2 and 6 defaults), stored with the data.

No secret is a setting: the SMTP password only ever comes from the environment
(``KPI_SMTP_PASSWORD``), so it is never written to the database nor shown back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from kpi_engine.core.addresses import is_email_address, is_web_address
from kpi_engine.core.errors import InputError

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

    def with_value(self, name: str, value: object) -> Settings:
        """Return a copy with one setting changed, converted to its type and checked."""
        kinds = {f.name: f.type for f in fields(self)}
        if name not in kinds:
            raise InputError(f"unknown setting '{name}'; known settings: {', '.join(kinds)}")
        kind = {"int": int, "float": float, "str": str}[str(kinds[name])]
        try:
            converted = kind(value)
        except (TypeError, ValueError):
            raise InputError(f"setting '{name}' must be a {kind.__name__}, got '{value}'") from None
        if isinstance(converted, str):
            converted = converted.strip()
        if name in ("amber_days", "red_days", "escalation_value") and converted < 0:
            raise InputError(f"setting '{name}' cannot be negative, got {value}")
        if name == "currency" and not str(converted).strip():
            raise InputError("setting 'currency' cannot be blank")
        _check_notification_setting(name, converted)
        new = replace(self, **{name: converted})
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
