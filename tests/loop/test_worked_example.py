"""DOMAIN.md section 6's worked example, step by step, through the CLI and a real SMTP server.

Ingest fleet as of 2026-06-15 with people; notify: five digests to the right people;
notify again: none; Marco decides recover for M3 due 2026-06-29; the same data as of
2026-06-22; notify: nothing to Marco, Ann, Jo or Sam, and Dana gets M5 and M6 (sponsor,
level 2), K-IDLE (objective owner, level 3) and a reminder of M1; as of 2026-07-06 M3's
decision is overdue and Marco receives it again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine import cli

from .servers import Mailbox, smtp_server

SENDER = "pmo@fleet.example"
DANA, MARCO = "dana.whitfield@fleet.example", "marco.bellini@fleet.example"
ANN, JO, SAM = "ann.lee@fleet.example", "jo.park@fleet.example", "sam.okafor@fleet.example"
CSVS = [str(p) for p in sorted(FLEET_DIR.glob("*.csv"))]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _items(mailbox: Mailbox, address: str) -> list[str]:
    """The item lines of the digests ``address`` received (their numbered titles)."""
    return [line for r in mailbox.to(address) for line in r.text.splitlines() if re.match(r"\d+\. ", line)]


def test_the_worked_example_of_section_6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "kpi.duckdb")
    with smtp_server() as (port, mailbox):
        smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-from", SENDER]
        notify = ["notify", "--db", db, *smtp, "--dashboard-url", "https://dash.fleet.example", "--format", "json"]

        # 15 June: five digests, one per person, each with their own item
        assert _run(capsys, "ingest", *CSVS, "--db", db, "--as-of", "2026-06-15")[0] == 0
        code, out, err = _run(capsys, *notify)
        assert (code, err) == (0, "")
        sent = json.loads(out)
        assert [(d["name"], d["to"], d["sent"]) for d in sent] == [
            ("Ann Lee", ANN, True),
            ("Dana Whitfield", DANA, True),
            ("Jo Park", JO, True),
            ("Marco Bellini", MARCO, True),
            ("Sam Okafor", SAM, True),
        ]
        assert {d["name"]: [(i["milestone_id"] or i["kpi_id"], i["reason"]) for i in d["items"]] for d in sent} == {
            "Ann Lee": [("M5", "new")],
            "Dana Whitfield": [("M1", "new")],
            "Jo Park": [("M6", "new")],
            "Marco Bellini": [("M3", "new")],
            "Sam Okafor": [("K-IDLE", "new")],
        }
        assert sorted(r.recipients[0] for r in mailbox.received) == sorted([ANN, DANA, JO, MARCO, SAM])
        dana = mailbox.to(DANA)[0]
        assert dana.message["Subject"] == "1 item needs your decision: 400,000 USD at risk"
        assert "Routing software go-live (Fleet routing optimization, Priya Raman) now finishes 2026-09-21" in dana.text
        assert "https://dash.fleet.example/exceptions?item=M1:K-CPM" in dana.html

        # an immediate second run: nothing new, nothing sent
        code, out, _ = _run(capsys, *notify)
        assert (code, json.loads(out), len(mailbox.received)) == (0, [], 5)

        # Marco decides to recover M3 by 29 June
        code, out, err = _run(
            capsys,
            "decide",
            "--db",
            db,
            "--milestone",
            "M3",
            "--kpi",
            "K-OTD",
            "--by",
            "Marco Bellini",
            "--decision",
            "recover",
            "--due",
            "2026-06-29",
        )
        assert (code, err) == (0, "")
        assert out.startswith("Recorded decision 1: Marco Bellini decided recover for M3 -> K-OTD, due 2026-06-29")

        # 22 June, the same data: only Dana hears, about four items
        mailbox.received.clear()
        assert _run(capsys, "ingest", *CSVS, "--db", db, "--as-of", "2026-06-22")[0] == 0
        code, out, _ = _run(capsys, *notify)
        assert code == 0
        (digest,) = json.loads(out)
        assert digest["name"] == "Dana Whitfield"
        assert sorted(
            (i["milestone_id"] or i["kpi_id"], i["escalation_level"], i["reason"]) for i in digest["items"]
        ) == [
            ("K-IDLE", 3, "higher level"),
            ("M1", 3, "reminder"),
            ("M5", 2, "higher level"),
            ("M6", 2, "higher level"),
        ]
        assert [r.recipients for r in mailbox.received] == [[DANA]]
        for address in (MARCO, ANN, JO, SAM):
            assert mailbox.to(address) == []
        text = mailbox.received[0].text
        assert "higher level: now level 2, sponsor (7 days without a decision)" in text
        assert "higher level: now level 3, objective owner (7 days without a decision)" in text
        assert "reminder: still no decision at level 3" in text

        # 6 July: M3's decision is overdue, and Marco hears about it again
        mailbox.received.clear()
        assert _run(capsys, "ingest", *CSVS, "--db", db, "--as-of", "2026-07-06")[0] == 0
        code, out, _ = _run(capsys, *notify)
        assert code == 0
        marco = next(d for d in json.loads(out) if d["name"] == "Marco Bellini")
        assert [(i["milestone_id"], i["kpi_id"], i["reason"]) for i in marco["items"]] == [("M3", "K-OTD", "overdue")]
        assert _items(mailbox, MARCO) == ["1. M3 Driver app rollout → On-time delivery rate"]
        assert "overdue: the recover decision of Marco Bellini was due 2026-06-29" in mailbox.to(MARCO)[0].text

    # what the exception list says now
    code, out, _ = _run(capsys, "exceptions", "--db", db, "--format", "json")
    rows = {(r["milestone_id"], r["kpi_id"]): r for r in json.loads(out)}
    m3 = rows[("M3", "K-OTD")]
    assert (m3["decision"], m3["decision_by"], m3["decision_due"], m3["first_notified"]) == (
        "recover",
        "Marco Bellini",
        "2026-06-29",
        "2026-06-15",
    )
    assert rows[("M5", None)]["escalate_to"] == "Dana Whitfield"
    assert rows[("M5", None)]["decision"] is None
