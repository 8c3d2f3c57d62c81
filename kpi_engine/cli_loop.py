"""The headless commands of the escalation loop (CLI.md): ``notify``, ``decide``, ``decisions``.

Registered by :func:`kpi_engine.cli.build_parser` through :func:`add_loop_commands`; errors
are turned into exit statuses by :func:`kpi_engine.cli.main` like every other command's.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import polars as pl

from kpi_engine.cli import PROG, _add_db, _add_format, iso_date
from kpi_engine.core.settings import SMTP_SECURITY
from kpi_engine.loop.decisions import DecisionRequest, item_label
from kpi_engine.loop.log import DECISIONS, NEEDS_DUE
from kpi_engine.loop.people import person_key
from kpi_engine.output.digest import digest_summary
from kpi_engine.output.formats import render_table, to_json
from kpi_engine.store import Store

if TYPE_CHECKING:
    from kpi_engine.loop.service import NotifyOutcome

#: Fields of each decision in ``decisions`` JSON (CLI.md).
DECISION_FIELDS = ["milestone_id", "kpi_id", "finding", "decision", "by", "due", "note", "recorded_at", "snapshot_id"]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a fraction between 0 and 1, e.g. 0.6")
    return value


def _amount(text: str) -> float:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        value = float("nan")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not an amount of 0 or more, e.g. 50000")
    return value


def _port(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number from 1 to 65535")
    return int(text)


def _add_notify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notify",
        help="send each person a digest of the items escalated to them that are new to them",
        description="Send the digests of the escalation loop for the latest snapshot (DOMAIN.md section 6) by "
        "SMTP, and to chat webhooks where set. A digest counts as sent only once a server accepted it; "
        "one that fails is tried again by the next run, and the command exits 1. The password comes only "
        "from KPI_SMTP_PASSWORD.",
    )
    _add_db(p)
    p.add_argument("--dry-run", action="store_true", help="show every digest; send nothing and record nothing")
    _add_format(p, ("table", "json"))
    p.add_argument("--smtp-host", metavar="HOST", help="mail server (default: $KPI_SMTP_HOST, else the settings)")
    p.add_argument(
        "--smtp-port", type=_port, metavar="PORT", help="its port (default: $KPI_SMTP_PORT, else the settings, 587)"
    )
    p.add_argument("--smtp-from", metavar="ADDRESS", help="sender address (default: $KPI_SMTP_FROM, else the settings)")
    p.add_argument("--smtp-user", metavar="NAME", help="login name (default: $KPI_SMTP_USER, else the settings)")
    p.add_argument(
        "--smtp-security",
        choices=SMTP_SECURITY,
        help="auto: STARTTLS when offered; starttls: required; ssl: port 465; none: never (default: the settings)",
    )
    p.add_argument("--dashboard-url", metavar="URL", help="the dashboard's address, for links (default: the settings)")
    p.set_defaults(func=cmd_notify)


def _add_decide(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "decide",
        help="record a decision on an open item",
        description="Record a decision on an item open in the latest snapshot: the milestone and KPI of a row "
        "of the exception list, or a governance finding on a milestone, KPI or project (--finding). Decisions are "
        "never changed; a later one supersedes.",
    )
    _add_db(p)
    p.add_argument("--milestone", metavar="ID", help="the item's milestone")
    p.add_argument("--kpi", metavar="ID", help="the item's KPI")
    p.add_argument("--finding", metavar="TEXT", help="the governance finding, e.g. 'several owners'")
    p.add_argument("--project", metavar="ID", help="the project of a finding on a project, e.g. 'project has no owner'")
    p.add_argument("--by", required=True, metavar="NAME", help="who decides (the person the item is escalated to)")
    p.add_argument("--decision", required=True, choices=DECISIONS, help="what they decided")
    p.add_argument("--due", type=iso_date, metavar="YYYY-MM-DD", help="by when (needed for recover and workaround)")
    p.add_argument("--note", default="", metavar="TEXT", help="why, in a sentence")
    p.add_argument("--cost", type=_amount, metavar="AMOUNT", help="a workaround's cost")
    p.add_argument("--start", type=iso_date, metavar="YYYY-MM-DD", help="a workaround's first day")
    p.add_argument("--fraction", type=_fraction, metavar="P", help="the fraction of the value a workaround recovers")
    p.set_defaults(func=cmd_decide)


def _add_decisions(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decisions", help="list every decision recorded, oldest first")
    _add_db(p)
    _add_format(p, ("table", "json"))
    p.set_defaults(func=cmd_decisions)


def add_loop_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``notify``, ``decide`` and ``decisions``."""
    for add in (_add_notify, _add_decide, _add_decisions):
        add(sub)


def _usage(command: str, text: str) -> int:
    print(f"{PROG} {command}: error: {text}", file=sys.stderr)
    return 2


def cmd_notify(args: argparse.Namespace) -> int:
    """Send (or with --dry-run show) the digests of the latest snapshot; exit 1 when one was not sent."""
    from kpi_engine.loop.service import notify

    overrides = {
        "host": args.smtp_host,
        "port": args.smtp_port,
        "sender": args.smtp_from,
        "user": args.smtp_user,
        "security": args.smtp_security,
    }
    with Store.open(args.db) as store:
        outcome = notify(
            store,
            smtp={k: v for k, v in overrides.items() if v is not None},
            dashboard_url=args.dashboard_url,
            dry_run=args.dry_run,
        )
    if args.format == "json":
        print(
            to_json(
                [
                    {"to": d.digest.to, "name": d.digest.person, "items": digest_summary(d.digest), "sent": d.sent}
                    for d in outcome.delivered
                ]
            )
        )
    else:
        print(_notify_table(outcome, args.dry_run))
    for problem in outcome.problems:
        print(f"not sent: {problem}", file=sys.stderr)
    return 1 if outcome.problems else 0


def _notify_table(outcome: NotifyOutcome, dry_run: bool) -> str:
    """What a run did, as a person reads it; with --dry-run every message too."""
    delivered = outcome.delivered
    when = f"the snapshot of {outcome.as_of:%Y-%m-%d}"
    if not delivered:
        tail = "" if dry_run else f" (run {outcome.run_id})"
        return f"Nothing new to send for {when}{tail}."
    sent = sum(d.sent for d in delivered)
    if dry_run:
        head = f"Dry run, nothing sent or recorded: {len(delivered)} digest(s) for {when}."
    else:
        head = f"Sent {sent} of {len(delivered)} digest(s) for {when} (run {outcome.run_id})."
    table = pl.DataFrame(
        {
            "to": [d.digest.to or "(nowhere)" for d in delivered],
            "name": [d.digest.person for d in delivered],
            "items": [d.digest.items.height for d in delivered],
            "value_at_risk": [round(d.digest.value_at_risk) for d in delivered],
            "sent": [d.sent for d in delivered],
        }
    )
    parts = [head, render_table(table)]
    if dry_run:
        for d in delivered:
            parts += ["", f"--- To: {d.digest.label}", f"Subject: {d.rendered.subject}", "", d.rendered.text.rstrip()]
    return "\n".join(parts)


def cmd_decide(args: argparse.Namespace) -> int:
    """Record a decision on an open item of the latest snapshot."""
    from kpi_engine.loop.service import record_decision

    if not args.milestone and not args.kpi and not (args.project and args.finding):
        return _usage("decide", "name the item with --milestone (and --kpi), or --kpi or --project with --finding")
    if args.decision in NEEDS_DUE and args.due is None:
        return _usage("decide", f"a {args.decision} decision needs --due YYYY-MM-DD")
    if args.decision == "workaround" and None in (args.cost, args.start, args.fraction):
        return _usage("decide", "a workaround decision needs --cost, --start and --fraction")
    request = DecisionRequest(
        milestone_id=args.milestone,
        kpi_id=args.kpi,
        finding=args.finding,
        decision=args.decision,
        by=args.by,
        due=args.due,
        note=args.note,
        cost=args.cost,
        start=args.start,
        fraction=args.fraction,
        project_id=args.project,
    )
    with Store.open(args.db) as store:
        recorded = record_decision(store, request)
        currency = store.settings().currency
    item = recorded.item
    subject = item_label(item)
    due = f", due {args.due:%Y-%m-%d}" if args.due else ""
    print(
        f"Recorded decision {recorded.decision_id}: {' '.join(args.by.split())} decided {args.decision} for "
        f"{subject}{due} (snapshot {recorded.snapshot_id} as of {recorded.as_of:%Y-%m-%d})."
    )
    if recorded.workaround is not None:
        w = recorded.workaround
        print(
            f"The workaround recovers {w.recovered_value:,.0f} {currency} for {w.cost:,.0f} {currency}: "
            f"net value {w.net_value:,.0f} {currency}."
        )
    if args.decision == "escalate" and item["escalation_level"] >= 3:
        print("note: the item is already at level 3, the top; escalating cannot raise it further.", file=sys.stderr)
    target = item["escalate_to"]
    if target and person_key(args.by) != person_key(target):
        print(f"note: the item is escalated to {target}; recorded as decided by {args.by}.", file=sys.stderr)
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    """List every decision, oldest first."""
    with Store.open(args.db) as store:
        decisions = store.loop_log.decisions()
    rows = decisions.rename({"decided_by": "by"}).select(DECISION_FIELDS)
    if args.format == "json":
        print(to_json(rows))
    else:
        print(render_table(rows, empty="No decisions recorded yet."))
    return 0
