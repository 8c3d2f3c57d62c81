"""E-mail and web addresses that are safe to use: in a message header, as a link, as a webhook.

Addresses come from uploaded files and from the settings; each is checked once, where it
enters, with one pattern shared by the Python and the Polars checks.

>>> is_email_address("dana@example.com"), is_email_address("dana@example.com\\nBcc: x@evil.example")
(True, False)
>>> is_web_address("https://hooks.slack.com/services/T0/B0/x"), is_web_address("javascript:alert(1)")
(True, False)
"""

from __future__ import annotations

import re

import polars as pl

#: An address a mail server accepts and a header cannot be broken by: no spaces, quotes,
#: angle brackets, commas or line breaks; a dot in the domain. ASCII classes only, so the
#: regex engines of Python and Polars read it alike.
EMAIL_PATTERN = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
#: An http(s) address: a host (no user name), an optional port, then printable ASCII only.
WEB_ADDRESS_PATTERN = r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][!-~]*)?"


def is_email_address(text: str | None) -> bool:
    """Return True when ``text`` is one plain e-mail address (``name@example.com``)."""
    return text is not None and re.fullmatch(EMAIL_PATTERN, text) is not None


def is_web_address(text: str | None) -> bool:
    """Return True when ``text`` is an http(s) address with a host and no spaces or line breaks."""
    return text is not None and re.fullmatch(WEB_ADDRESS_PATTERN, text) is not None


def email_ok_expr(email: pl.Expr) -> pl.Expr:
    """:func:`is_email_address` of every value of a String column (null stays null)."""
    return email.str.contains(f"^(?:{EMAIL_PATTERN})$")


def web_address_ok_expr(url: pl.Expr) -> pl.Expr:
    """:func:`is_web_address` of every value of a String column (null stays null)."""
    return url.str.contains(f"^(?:{WEB_ADDRESS_PATTERN})$")
