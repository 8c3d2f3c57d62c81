"""Digests as people read them, and what hostile text in the data cannot do to them."""

from __future__ import annotations

import email
import shutil
from datetime import date
from email.policy import default as default_policy
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine import cli
from kpi_engine.output.digest import chat_payload, email_message, item_link, one_line, render_digest

from .servers import smtp_server
from .support import Loop

SCRIPT = "<script>alert('x')</script>"


def _dana_on_22_june() -> tuple:
    loop = Loop()
    loop.upload(date(2026, 6, 15))
    loop.notify()
    loop.decide("M3", "K-OTD", "recover", "Marco Bellini", due=date(2026, 6, 29))
    loop.upload(date(2026, 6, 22))
    (digest,) = loop.notify()
    return digest, render_digest(digest, currency="USD", as_of=date(2026, 6, 22), dashboard_url="https://dash.example")


def test_the_subject_says_how_many_items_and_the_money() -> None:
    _, rendered = _dana_on_22_june()
    assert rendered.subject == "4 items need your decision: 400,000 USD at risk"


def test_the_items_come_worst_first_with_why_money_level_reason_and_link() -> None:
    _, rendered = _dana_on_22_june()
    titles = [line for line in rendered.text.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert titles == [
        "1. M1 Routing software go-live → Cost per mile",
        "2. KPI K-IDLE Idle hours per truck per week: no work drives this KPI",
        "3. M5 Fuel card renegotiation: several owners",
        "4. M6 Office party planning: not tied to any KPI",
    ]
    block = rendered.text.split("2. KPI")[0]
    assert "   Value at risk: 400,000 USD · Red · level 3 (objective owner)" in block
    assert "   Reason: reminder: still no decision at level 3 (objective owner)" in block
    assert "   Open: https://dash.example/exceptions?item=M1:K-CPM" in block
    for word in ("recover", "workaround", "accept", "escalate"):
        assert f"  {word}" in rendered.text


def test_the_html_part_is_a_table_in_rag_colours_with_nothing_to_load_or_run() -> None:
    _, rendered = _dana_on_22_june()
    page = rendered.html.lower()
    assert page.count("<tr>") == 5  # header and four items
    assert "background:#c62828" in page  # Red
    for forbidden in ("<script", "<img", "<link", "<iframe", "javascript:", "url(", "@import"):
        assert forbidden not in page


def test_hostile_text_is_shown_as_text_and_cannot_add_a_header() -> None:
    digest, _ = _dana_on_22_june()
    hostile = digest.items.with_columns(
        milestone_name=digest.items["milestone_name"] + SCRIPT,
        why=digest.items["why"] + "\r\nBcc: everyone@evil.example <b>bold</b>",
    )
    from dataclasses import replace

    evil = replace(digest, person="Dana Whitfield\r\nBcc: everyone@evil.example", items=hostile)
    rendered = render_digest(evil, currency="USD", as_of=date(2026, 6, 22), dashboard_url="https://dash.example")
    assert SCRIPT not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<b>bold</b>" not in rendered.html
    message = email_message(rendered, sender="pmo@fleet.example", to="dana.whitfield@fleet.example", person=evil.person)
    parsed = email.message_from_bytes(message.as_bytes(), policy=default_policy)
    assert parsed["Bcc"] is None
    assert parsed["To"].addresses[0].addr_spec == "dana.whitfield@fleet.example"
    assert "\n" not in parsed["To"] and "\n" not in parsed["Subject"]
    slack = chat_payload(rendered, evil, "https://hooks.slack.com/services/x")["text"]
    assert "<script>" not in slack and "&lt;script&gt;" in slack


def test_a_teams_workflow_gets_an_adaptive_card() -> None:
    digest, rendered = _dana_on_22_june()
    body = chat_payload(rendered, digest, "https://prod-01.westeurope.logic.azure.com/workflows/abc")
    card = body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["text"] == rendered.subject


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://dash.example", "https://dash.example/exceptions?item=K+1&finding=a%26b", id="escaped-ids"
        ),
        pytest.param("", None, id="no-dashboard"),
        pytest.param("javascript:alert(1)//", None, id="not-a-web-address"),
    ],
)
def test_links_are_built_from_the_dashboard_address_and_encoded_ids(url: str, expected: str | None) -> None:
    assert item_link(url, None, "K 1", "a&b") == expected


def test_one_line_removes_every_kind_of_line_break() -> None:
    assert one_line("a\r\nb\x85c\u2028d\u2029e\tf\x00g") == "a b c d e f g"


def test_hostile_names_travel_through_a_real_server_without_adding_recipients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "fleet"
    shutil.copytree(FLEET_DIR, folder)
    (folder / "fleet.xlsx").unlink()
    milestones = (folder / "milestones.csv").read_text()
    milestones = milestones.replace("Routing software go-live", f'"Routing {SCRIPT}\r\nBcc: all@evil.example"')
    (folder / "milestones.csv").write_text(milestones)
    objectives = (folder / "objectives.csv").read_text()
    (folder / "objectives.csv").write_text(objectives.replace("Cut fleet operating cost", "Cut <b>cost</b>"))
    db = str(tmp_path / "kpi.duckdb")
    assert cli.main(["ingest", str(folder), "--db", db, "--as-of", "2026-06-15"]) == 0
    with smtp_server() as (port, mailbox):
        smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-from", "pmo@fleet.example"]
        code = cli.main(["notify", "--db", db, *smtp])
        assert code == 0, capsys.readouterr().err
        (dana,) = mailbox.to("dana.whitfield@fleet.example")
    assert dana.recipients == ["dana.whitfield@fleet.example"]
    assert dana.message["Bcc"] is None
    assert SCRIPT not in dana.html and "&lt;script&gt;" in dana.html
