"""Delivery of digests: e-mail by SMTP, chat by Slack or Microsoft Teams incoming webhooks.

A message counts as sent only when the server accepted it: the SMTP server answered the
message with 250, the webhook with a 2xx status. Everything else is a failure with the
server's own words, and the run records the digest as not sent so that the next run
tries again.

SMTP settings come from, in this order, the command line, the environment
(``KPI_SMTP_HOST``, ``KPI_SMTP_PORT``, ``KPI_SMTP_FROM``, ``KPI_SMTP_USER``,
``KPI_SMTP_SECURITY``) and the stored settings. The password comes only from
``KPI_SMTP_PASSWORD``: it is never stored, never printed, and never sent over a
connection that is not encrypted unless the settings say ``smtp_security = none``.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from kpi_engine.core.addresses import is_email_address
from kpi_engine.core.errors import InputError
from kpi_engine.core.settings import SMTP_SECURITY, Settings

#: Environment variables of the SMTP settings (the password has no other source).
SMTP_ENVIRONMENT = {
    "host": "KPI_SMTP_HOST",
    "port": "KPI_SMTP_PORT",
    "sender": "KPI_SMTP_FROM",
    "user": "KPI_SMTP_USER",
    "security": "KPI_SMTP_SECURITY",
    "password": "KPI_SMTP_PASSWORD",
}
#: Seconds to wait for a server before giving up on it.
TIMEOUT = 30.0


class DeliveryError(InputError):
    """The settings do not allow any message to go out (no server, no sender)."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send e-mail. The password is kept out of ``repr`` and never stored."""

    host: str
    port: int
    sender: str
    security: str = "auto"
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = TIMEOUT
    #: Certificates to trust (tests use their own authority); default: the system's.
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def resolve(
        cls,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        sender: str | None = None,
        user: str | None = None,
        security: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SmtpConfig:
        """Combine command-line values, the environment and the stored settings, in that order.

        Raises
        ------
        DeliveryError
            No server or no sender address, or a value that cannot be used.
        """
        env = os.environ if environ is None else environ

        def pick(given: object, name: str, stored: object) -> str:
            if given not in (None, ""):
                return str(given).strip()
            found = env.get(SMTP_ENVIRONMENT[name], "").strip()
            return found or str(stored).strip()

        chosen_host = pick(host, "host", settings.smtp_host)
        chosen_sender = pick(sender, "sender", settings.smtp_from)
        chosen_security = pick(security, "security", settings.smtp_security).lower()
        port_text = pick(port, "port", settings.smtp_port)
        if not chosen_host:
            raise DeliveryError(
                "no mail server is set: give --smtp-host, set KPI_SMTP_HOST, or set it on the Settings page"
            )
        if not chosen_sender:
            raise DeliveryError(
                "no sender address is set: give --smtp-from, set KPI_SMTP_FROM, or set it on the Settings page"
            )
        if not is_email_address(chosen_sender):
            raise DeliveryError(f"the sender address '{chosen_sender}' is not one e-mail address")
        if any(c.isspace() or not c.isprintable() for c in chosen_host):
            raise DeliveryError(f"the mail server '{chosen_host}' cannot hold spaces or line breaks")
        if chosen_security not in SMTP_SECURITY:
            raise DeliveryError(f"unknown SMTP security '{chosen_security}'; use one of {', '.join(SMTP_SECURITY)}")
        try:
            chosen_port = int(port_text)
        except ValueError:
            raise DeliveryError(f"the SMTP port '{port_text}' is not a number") from None
        if not 1 <= chosen_port <= 65535:
            raise DeliveryError(f"the SMTP port {chosen_port} is not a port number (1 to 65535)")
        return cls(
            host=chosen_host,
            port=chosen_port,
            sender=chosen_sender,
            security=chosen_security,
            user=pick(user, "user", settings.smtp_user),
            password=env.get(SMTP_ENVIRONMENT["password"], ""),
        )

    @property
    def where(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"


def password_is_set(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``KPI_SMTP_PASSWORD`` holds a password (the Settings page says so, never what it is)."""
    env = os.environ if environ is None else environ
    return bool(env.get(SMTP_ENVIRONMENT["password"], ""))


class _Session:
    """One SMTP connection, opened on first use and opened again once if the server hangs up."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        return self.config.ssl_context or ssl.create_default_context()

    def open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        c = self.config
        smtp: smtplib.SMTP
        if c.security == "ssl":
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            smtp.ehlo()
            encrypted = c.security == "ssl"
            if c.security in ("auto", "starttls") and smtp.has_extn("starttls"):
                smtp.starttls(context=self._context())
                smtp.ehlo()
                encrypted = True
            elif c.security == "starttls":
                raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS, which the settings require")
            if c.user:
                if not encrypted and c.security != "none":
                    raise smtplib.SMTPNotSupportedError(
                        "the connection is not encrypted, so the password is not sent; use a server that offers "
                        "STARTTLS, or smtp_security = ssl"
                    )
                smtp.login(c.user, c.password)
        except BaseException:
            _close(smtp)
            raise
        self._smtp = smtp
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises when the server did not accept it for its recipient."""
        for attempt in (1, 2):
            smtp = self.open()
            try:
                refused = smtp.send_message(message)
            except smtplib.SMTPServerDisconnected:
                self._smtp = None
                if attempt == 2:
                    raise
                continue
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
            return

    def close(self) -> None:
        if self._smtp is not None:
            _close(self._smtp)
            self._smtp = None


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def smtp_problem(err: BaseException, config: SmtpConfig) -> str:
    """What went wrong, in the server's own words where it gave any."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"the mail server refused {address}: {code} {_text(reply)}"
            for address, (code, reply) in err.recipients.items()
        )
    if isinstance(err, smtplib.SMTPSenderRefused):
        return f"the mail server refused the sender {err.sender}: {err.smtp_code} {_text(err.smtp_error)}"
    if isinstance(err, smtplib.SMTPAuthenticationError):
        return f"the mail server {config.where} refused the login of {config.user}: {err.smtp_code} {_text(err.smtp_error)}"
    if isinstance(err, smtplib.SMTPResponseException):
        return f"the mail server {config.where} answered {err.smtp_code} {_text(err.smtp_error)}"
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return f"the mail server {config.where}: {err}"
    if isinstance(err, (ssl.SSLError, ssl.CertificateError)):
        return f"no secure connection to the mail server {config.where}: {err}"
    if isinstance(err, OSError):
        return f"cannot reach the mail server {config.where}: {err.strerror or err}"
    return f"the mail server {config.where}: {err}"


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def send_emails(messages: Iterable[tuple[str, EmailMessage]], config: SmtpConfig) -> dict[str, str | None]:
    """Send messages over one connection.

    Parameters
    ----------
    messages
        (key, message) pairs; the key names the message in the answer.
    config
        The server.

    Returns
    -------
    dict
        key -> None when the server accepted the message, else what went wrong.
    """
    outcome: dict[str, str | None] = {}
    session = _Session(config)
    try:
        for key, message in messages:
            try:
                session.send(message)
                outcome[key] = None
            except (smtplib.SMTPException, OSError) as err:
                outcome[key] = smtp_problem(err, config)
                if not isinstance(err, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)):
                    session.close()  # a connection in an unknown state: start afresh for the next one
    finally:
        session.close()
    return outcome


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects did not accept the message: do not follow it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post_json(url: str, payload: Mapping[str, Any], *, timeout: float = TIMEOUT) -> str | None:
    """POST one JSON document; None when the server answered 2xx, else what went wrong."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "kpi-engine"},
        method="POST",
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        return f"the chat webhook answered {err.code} {err.reason}"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return f"cannot reach the chat webhook: {reason}"
    if not 200 <= status < 300:
        return f"the chat webhook answered {status}"
    return None
