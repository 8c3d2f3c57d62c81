"""A digest as people read it: an e-mail (plain text and HTML) and a chat message.

Everything shown comes from the data, so everything is made safe for where it goes:
header values are one line (a line break in a name cannot add a header), HTML is escaped
(a ``<script>`` in a milestone name shows as text), chat text escapes the characters Slack
reads as markup, and links are built only from the checked dashboard address and
URL-encoded ids. The HTML needs no pictures and no scripts: a small table, inline styles,
the shared RAG colours.

>>> one_line("Dana\\r\\nBcc: all@example.com")
'Dana Bcc: all@example.com'
>>> item_link("https://dash.example/", "M1", "K-CPM", None)
'https://dash.example/exceptions?item=M1:K-CPM'
>>> item_link("https://dash.example/", None, None, "project has no owner", "P-9")
'https://dash.example/exceptions?item=P-9&finding=project+has+no+owner'
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlencode, urlsplit

import polars as pl

from kpi_engine.core.rag import RAG_COLOURS, rag_text_colour
from kpi_engine.loop.digests import Digest
from kpi_engine.loop.views import item_title

#: What each decision means, in the order the digest lists them.
WHAT_TO_DO: dict[str, str] = {
    "recover": "bring the date back (say by when)",
    "workaround": "spend to recover part of the value (cost, first day, fraction recovered)",
    "accept": "take the loss",
    "escalate": "hand it up to the next level now",
}

_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text: object) -> str:
    """Return text fit for a header or a table cell: control characters and line breaks become spaces."""
    return " ".join(_LINE_BREAKS.sub(" ", str(text)).split())


def item_link(
    dashboard_url: str,
    milestone_id: str | None,
    kpi_id: str | None,
    finding: str | None,
    project_id: str | None = None,
) -> str | None:
    """The address of an item's drill-down on the dashboard's Exceptions page, or None without a dashboard address.

    The item is named as the page names its rows (``item=M1:K-CPM``, ``item=M5``,
    ``item=K-IDLE``, ``item=P-9`` for a finding on a project), with ``finding`` when a
    governance finding shares that key.
    """
    if not dashboard_url:
        return None
    key = f"{milestone_id}:{kpi_id}" if milestone_id and kpi_id else (milestone_id or kpi_id or project_id or "")
    query = urlencode({k: v for k, v in (("item", key), ("finding", finding)) if v}, safe=":")
    base = dashboard_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        return None
    return f"{base}/exceptions?{query}"


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def subject(digest: Digest, currency: str) -> str:
    """``3 items need your decision: 400,000 USD at risk`` (one line, whatever the data holds)."""
    n = digest.items.height
    need = f"{n} {_plural(n, 'item needs', 'items need')}"
    money = f"{digest.value_at_risk:,.0f} {currency} at risk" if digest.value_at_risk >= 0.5 else "no value at risk"
    if digest.forwarded:
        return one_line(f"For {digest.person}, who has no e-mail address: {need} a decision: {money}")
    return one_line(f"{need} your decision: {money}")


def reason_text(row: dict[str, Any], currency: str) -> str:
    """Why an item is in the digest, in a few words."""
    reason, level, role = row["reason"], row["escalation_level"], row["escalate_role"] or "person to act"
    if reason == "overdue":
        return (
            f"overdue: the {row['decision']} decision of {row['decision_by']} was due "
            f"{row['decision_due']:%Y-%m-%d} and the item is still open"
        )
    if reason == "reminder" and row.get("decision") == "accept":
        return f"reminder: the value at risk grew to {row['value_at_risk']:,.0f} {currency} since it was accepted"
    if reason == "reminder":
        return f"reminder: still no decision at level {level} ({role})"
    why_up = []
    if row.get("raised_by_waiting"):
        why_up.append(f"{row.get('days_undecided')} days without a decision")
    if row.get("raised_by_overdue"):
        why_up.append("a decision went overdue")
    if row.get("raised_by_escalate"):
        why_up.append("escalated by a decision")
    because = f" ({', '.join(why_up)})" if why_up else ""
    if reason == "higher level":
        return f"higher level: now level {level}, {role}{because}"
    return f"new: escalated to you at level {level}, {role}{because}"


@dataclass(frozen=True)
class RenderedDigest:
    """A digest written out: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def _rows(digest: Digest, currency: str, dashboard_url: str) -> list[dict[str, Any]]:
    items = digest.items.with_columns(item_title().alias("label"))
    rows = []
    for row in items.iter_rows(named=True):
        rows.append(
            {
                **row,
                "label": one_line(row["label"]),
                "why_text": one_line(row["why"] or ""),
                "reason_text": one_line(reason_text(row, currency)),
                "link": item_link(
                    dashboard_url, row["milestone_id"], row["kpi_id"], row["finding"], row.get("finding_project")
                ),
                "money": f"{row['value_at_risk'] or 0.0:,.0f} {currency}" if row["kind"] == "milestone" else "-",
                "status": row["computed_status"] if row["kind"] == "milestone" else "Finding",
            }
        )
    return rows


def _opening(digest: Digest) -> str:
    if digest.forwarded:
        return (
            f"{digest.person} has no e-mail address in the people sheet, so their digest comes to the PMO: "
            "please pass it on, and add their address to the people sheet."
        )
    return f"Dear {digest.person},"


def render_text(digest: Digest, *, currency: str, as_of: date, dashboard_url: str = "") -> str:
    """The plain-text part: one numbered block per item, then what to do."""
    rows = _rows(digest, currency, dashboard_url)
    n = len(rows)
    lines = [
        one_line(_opening(digest)),
        "",
        f"{n} {_plural(n, 'item needs', 'items need')} a decision, snapshot as of {as_of:%Y-%m-%d}: "
        f"{digest.value_at_risk:,.0f} {currency} at risk. Worst first.",
        "",
    ]
    for number, row in enumerate(rows, start=1):
        lines += [
            f"{number}. {row['label']}",
            f"   Value at risk: {row['money']} · {row['status']} · level {row['escalation_level']}"
            f" ({one_line(row['escalate_role'] or '-')})",
            f"   Why: {row['why_text']}",
            f"   Reason: {row['reason_text']}",
        ]
        if row["link"]:
            lines.append(f"   Open: {row['link']}")
        lines.append("")
    lines.append("What to do: decide on each item, on the dashboard (Exceptions or My items) or with the PMO:")
    width = max(len(word) for word in WHAT_TO_DO)
    lines += [f"  {word.ljust(width)}  {meaning}" for word, meaning in WHAT_TO_DO.items()]
    if not dashboard_url:
        lines.append("Open the Exceptions page of the dashboard to see each item.")
    return "\n".join(lines) + "\n"


def _badge(status: str) -> str:
    fill = RAG_COLOURS.get(status, RAG_COLOURS["Unknown"])
    return (
        f'<span style="background:{fill};color:{rag_text_colour(status)};padding:2px 8px;border-radius:10px;'
        f'font-weight:600;white-space:nowrap">{html.escape(status)}</span>'
    )


def render_html(digest: Digest, *, currency: str, as_of: date, dashboard_url: str = "") -> str:
    """The HTML part: a small table, worst first, every value escaped."""
    esc = html.escape
    rows = _rows(digest, currency, dashboard_url)
    n = len(rows)
    cell = "padding:8px 10px;border-top:1px solid #d9d9d9;vertical-align:top"
    body = []
    for row in rows:
        link = f'<a href="{esc(row["link"], quote=True)}" style="color:#0b57d0">Open</a>' if row["link"] else ""
        body.append(
            "<tr>"
            f'<td style="{cell}"><b>{esc(row["label"])}</b>'
            f'<div style="color:#444;margin-top:4px">{esc(row["why_text"])}</div></td>'
            f'<td style="{cell}">{_badge(row["status"])}</td>'
            f'<td style="{cell};text-align:right;white-space:nowrap">{esc(row["money"])}</td>'
            f'<td style="{cell};white-space:nowrap">{esc(str(row["escalation_level"]))} · '
            f"{esc(one_line(row['escalate_role'] or '-'))}</td>"
            f'<td style="{cell}">{esc(row["reason_text"])}</td>'
            f'<td style="{cell}">{link}</td>'
            "</tr>"
        )
    head = "".join(
        f'<th style="text-align:left;padding:8px 10px;background:#f2f2f2">{h}</th>'
        for h in ("Item", "Status", "Value at risk", "Level", "Why you get it", "")
    )
    todo = "".join(f"<li><b>{esc(word)}</b>: {esc(meaning)}</li>" for word, meaning in WHAT_TO_DO.items())
    summary = (
        f"<b>{n} {_plural(n, 'item needs', 'items need')} a decision</b>, snapshot as of {as_of:%Y-%m-%d}: "
        f"<b>{esc(f'{digest.value_at_risk:,.0f} {currency}')}</b> at risk. Worst first."
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(subject(digest, currency))}</title></head>"
        '<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1a1a1a;'
        'max-width:960px;margin:16px">'
        f"<p>{esc(one_line(_opening(digest)))}</p><p>{summary}</p>"
        f'<table style="border-collapse:collapse;width:100%"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        "<p>What to do: decide on each item, on the dashboard (Exceptions or My items) or with the PMO:</p>"
        f"<ul>{todo}</ul>"
        "</body></html>"
    )


def render_digest(digest: Digest, *, currency: str, as_of: date, dashboard_url: str = "") -> RenderedDigest:
    """Write a digest out: its subject, plain-text part and HTML part."""
    return RenderedDigest(
        subject=subject(digest, currency),
        text=render_text(digest, currency=currency, as_of=as_of, dashboard_url=dashboard_url),
        html=render_html(digest, currency=currency, as_of=as_of, dashboard_url=dashboard_url),
    )


def email_message(rendered: RenderedDigest, *, sender: str, to: str, person: str) -> EmailMessage:
    """The e-mail of a rendered digest: plain text with an HTML alternative.

    ``sender`` and ``to`` are checked addresses; ``person`` (from the data) is made one
    line before it becomes the display name.
    """
    message = EmailMessage()
    message["Subject"] = one_line(rendered.subject)
    message["From"] = Address(display_name="Strategy execution dashboard", addr_spec=sender)
    message["To"] = Address(display_name=one_line(person), addr_spec=to)
    message["Date"] = format_datetime(datetime.now().astimezone())
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_teams_workflow(url: str) -> bool:
    """True for a Microsoft Teams workflow webhook (it takes an Adaptive Card, not plain text)."""
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith((".logic.azure.com", ".powerplatform.com", ".powerautomate.com"))


def chat_payload(rendered: RenderedDigest, digest: Digest, url: str) -> dict[str, Any]:
    """The JSON body of one chat message for ``url``.

    Slack and Teams connector webhooks take ``{"text": ...}``; Teams workflow webhooks an
    Adaptive Card with the same text. Characters Slack reads as markup are escaped.
    """
    lines = rendered.text.rstrip("\n").splitlines()
    text = f"*{_slack_escape(rendered.subject)}*\n" + "\n".join(_slack_escape(line) for line in lines)
    if is_teams_workflow(url):
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": rendered.subject, "weight": "Bolder", "wrap": True},
                            {"type": "TextBlock", "text": rendered.text, "wrap": True},
                        ],
                    },
                }
            ],
        }
    return {"text": text}


def digest_summary(digest: Digest) -> pl.DataFrame:
    """The items of a digest as the CLI's JSON names them (CLI.md ``notify``)."""
    return digest.items.select(
        "kind", "milestone_id", "kpi_id", "finding", "escalation_level", "value_at_risk", "reason"
    )
