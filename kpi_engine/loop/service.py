"""The loop on a stored portfolio: where items stand, a notification run, a decision recorded.

This is the seam between the store and the loop's pure functions (as
:mod:`kpi_engine.analysis` is for the engine); the CLI and the pages call it.

>>> with Store.open("kpi.duckdb") as store:                       # doctest: +SKIP
...     outcome = notify(store, smtp={"host": "mail.example"}, dry_run=True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import polars as pl

from kpi_engine.analysis import analyse
from kpi_engine.core.errors import InputError
from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import EngineResult
from kpi_engine.loop.decisions import (
    DecisionRequest,
    WorkaroundValue,
    check_decision,
    decision_row,
    find_item,
    workaround_value,
)
from kpi_engine.loop.delivery import SmtpConfig, post_json, send_emails
from kpi_engine.loop.digests import Digest, plan_digests, sent_rows
from kpi_engine.loop.items import open_items
from kpi_engine.loop.log import empty_notifications
from kpi_engine.loop.status import item_status
from kpi_engine.loop.views import item_history
from kpi_engine.output.digest import RenderedDigest, chat_payload, email_message, render_digest
from kpi_engine.store import Store


@dataclass(frozen=True)
class LoopState:
    """The loop as of one snapshot: the engine's result, the item status and the log."""

    result: EngineResult
    snapshot_id: int
    status: pl.DataFrame
    notifications: pl.DataFrame
    decisions: pl.DataFrame

    @property
    def as_of(self) -> date:
        """The snapshot date."""
        return self.result.portfolio.as_of

    @property
    def people(self) -> pl.DataFrame:
        """The snapshot's people table."""
        return self.result.portfolio.people

    def history(self) -> pl.DataFrame:
        """Every item's story as of this snapshot: notified, decided, re-escalated, closed."""
        return item_history(self.status, self.notifications, self.decisions, self.as_of)


def loop_state(
    store: Store,
    snapshot_id: int | None = None,
    settings: Settings | None = None,
    result: EngineResult | None = None,
) -> LoopState:
    """Compute where every open item of a snapshot (default: the latest) stands.

    Parameters
    ----------
    store
        The database.
    snapshot_id
        The snapshot; default the latest.
    settings
        Default: the stored settings.
    result
        The snapshot's engine result when the caller has it (the dashboard's cache).
    """
    settings = settings or store.settings()
    snapshot_id = store.latest_snapshot_id() if snapshot_id is None else snapshot_id
    result = result if result is not None else analyse(store, snapshot_id, settings)
    log = store.loop_log
    notifications, decisions = log.notifications(), log.decisions()
    status = item_status(open_items(result), notifications, decisions, result.portfolio.as_of, settings.ack_days)
    return LoopState(result, snapshot_id, status, notifications, decisions)


@dataclass(frozen=True)
class Delivered:
    """One digest of a run: what it said, which channels accepted it, what went wrong."""

    digest: Digest
    rendered: RenderedDigest
    channels: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def sent(self) -> bool:
        """True when at least one server accepted it (its items count as told)."""
        return bool(self.channels)


@dataclass(frozen=True)
class NotifyOutcome:
    """What a notification run did."""

    snapshot_id: int
    as_of: date
    dry_run: bool
    delivered: list[Delivered] = field(default_factory=list)
    run_id: int | None = None

    @property
    def problems(self) -> list[str]:
        """Every failure, ``Name <address>: what went wrong``."""
        return [f"{d.digest.label}: {problem}" for d in self.delivered for problem in d.problems]


def notify(
    store: Store,
    *,
    smtp: Mapping[str, Any] | None = None,
    dashboard_url: str | None = None,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    ssl_context: Any = None,
) -> NotifyOutcome:
    """Run one notification: plan the digests of the latest snapshot, send them, record what went out.

    Parameters
    ----------
    store
        The database.
    smtp
        Values given on the command line (``host``, ``port``, ``sender``, ``user``,
        ``security``); the environment and the settings fill in the rest
        (:meth:`~kpi_engine.loop.delivery.SmtpConfig.resolve`).
    dashboard_url
        The dashboard's address for links; default the setting.
    dry_run
        Plan and render everything, send nothing and record nothing.
    environ
        The environment to read ``KPI_SMTP_*`` from (default ``os.environ``).
    ssl_context
        Certificates to trust for STARTTLS and SSL (default the system's).

    Raises
    ------
    DeliveryError
        An e-mail is due but no mail server or sender is set: nothing was sent.
    """
    settings = store.settings()
    state = loop_state(store, settings=settings)
    url = settings.dashboard_url if dashboard_url is None else dashboard_url.strip()
    digests = plan_digests(state.status, state.people, pmo_email=settings.pmo_email, chat_webhook=settings.chat_webhook)
    rendered = [render_digest(d, currency=settings.currency, as_of=state.as_of, dashboard_url=url) for d in digests]
    if dry_run:
        delivered = [Delivered(d, r) for d, r in zip(digests, rendered, strict=True)]
        return NotifyOutcome(state.snapshot_id, state.as_of, True, delivered)

    started = _now()
    emails = {}
    if any(d.to for d in digests):
        config = SmtpConfig.resolve(settings, environ=environ, **dict(smtp or {}))
        if ssl_context is not None:
            config = replace(config, ssl_context=ssl_context)
        emails = send_emails(
            (
                (str(i), email_message(r, sender=config.sender, to=d.to, person=d.person))
                for i, (d, r) in enumerate(zip(digests, rendered, strict=True))
                if d.to
            ),
            config,
        )
    delivered = []
    for i, (digest, text) in enumerate(zip(digests, rendered, strict=True)):
        channels: list[str] = []
        problems: list[str] = []
        if digest.to:
            failure = emails[str(i)]
            channels += [] if failure else ["email"]
            problems += [failure] if failure else []
        if digest.chat:
            failure = post_json(digest.chat, chat_payload(text, digest, digest.chat))
            channels += [] if failure else ["chat"]
            problems += [failure] if failure else []
        if not digest.to and not digest.chat:
            problems.append(f"{digest.person} has no e-mail address and no PMO address is set in the settings")
        delivered.append(Delivered(digest, text, tuple(channels), tuple(problems)))

    sent = [
        sent_rows(
            d.digest,
            run_id=0,
            snapshot_id=state.snapshot_id,
            as_of=state.as_of,
            sent_at=_now(),
            channels=list(d.channels),
        )
        for d in delivered
        if d.sent
    ]
    run_id = store.loop_log.record_run(
        snapshot_id=state.snapshot_id,
        as_of=state.as_of,
        started_at=started,
        notifications=pl.concat(sent) if sent else empty_notifications(),
        recipients=[d.digest.label for d in delivered if d.sent],
        failed=[f"{d.digest.label}: {'; '.join(d.problems)}" for d in delivered if not d.sent],
    )
    return NotifyOutcome(state.snapshot_id, state.as_of, False, delivered, run_id)


@dataclass(frozen=True)
class DecisionRecorded:
    """A decision stored: its id, the item it is on, and a workaround's money."""

    decision_id: int
    item: dict[str, Any]
    snapshot_id: int
    as_of: date
    workaround: WorkaroundValue | None = None


def record_decision(store: Store, request: DecisionRequest, state: LoopState | None = None) -> DecisionRecorded:
    """Check a decision against the latest snapshot and append it to the log.

    Raises
    ------
    NotFoundError
        The item is not open in the latest snapshot.
    InputError
        The decision cannot be recorded as asked (:func:`~kpi_engine.loop.decisions.check_decision`).
    """
    state = state or loop_state(store)
    if state.snapshot_id != store.latest_snapshot_id():
        raise InputError("decisions are recorded on the latest snapshot; choose it first")
    item = find_item(state.status, request.milestone_id, request.kpi_id, request.finding, request.project_id)
    check_decision(request, state.as_of)
    value = None
    if request.decision == "workaround":
        assert request.start is not None and request.cost is not None and request.fraction is not None
        value = workaround_value(state.result, item["milestone_id"], request.start, request.cost, request.fraction)
    decision_id = store.loop_log.record_decision(
        decision_row(request, item, snapshot_id=state.snapshot_id, as_of=state.as_of)
    )
    return DecisionRecorded(decision_id, item, state.snapshot_id, state.as_of, value)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)
