"""Delivery through real servers: what counts as sent, what a refusal leaves for the next run."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine import cli
from kpi_engine.core.settings import Settings
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.loop.delivery import DeliveryError, SmtpConfig, password_is_set, send_emails
from kpi_engine.loop.service import notify
from kpi_engine.store import Store

from .servers import certificate, free_port, smtp_server, webhook_server

SENDER = "pmo@fleet.example"
DANA, MARCO = "dana.whitfield@fleet.example", "marco.bellini@fleet.example"
EVERYONE = sorted(["ann.lee@fleet.example", DANA, "jo.park@fleet.example", MARCO, "sam.okafor@fleet.example"])


@pytest.fixture(scope="module")
def fleet_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example with people, as of 15 June, nothing notified yet."""
    path = tmp_path_factory.mktemp("fleet") / "kpi.duckdb"
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(path) as store:
        store.ingest(read_upload(files), date(2026, 6, 15), sources=files)
    return path


@pytest.fixture
def db(fleet_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "kpi.duckdb"
    shutil.copyfile(fleet_db, path)
    return str(path)


def _notify(db: str, port: int, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list, str]:
    smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-from", SENDER]
    code = cli.main(["notify", "--db", db, *smtp, "--format", "json", *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_a_refused_recipient_exits_1_names_them_and_is_sent_by_the_next_run(db, capsys) -> None:
    with smtp_server(refuse={DANA}) as (port, mailbox):
        code, digests, err = _notify(db, port, capsys)
        assert code == 1
        assert err.splitlines() == [
            f"not sent: Dana Whitfield <{DANA}>: the mail server refused {DANA}: 550 5.1.1 mailbox unavailable"
        ]
        assert {d["to"]: d["sent"] for d in digests} == {address: address != DANA for address in EVERYONE}
        assert sorted(r.recipients[0] for r in mailbox.received) == [a for a in EVERYONE if a != DANA]
    with Store.open(db) as store:
        (run,) = store.loop_log.runs().to_dicts()
        assert (run["messages"], run["failures"]) == (4, 1)
        assert run["failed"] == [
            f"Dana Whitfield <{DANA}>: the mail server refused {DANA}: 550 5.1.1 mailbox unavailable"
        ]
        assert DANA not in store.loop_log.notifications()["address"].to_list()
    with smtp_server() as (port, mailbox):  # the server takes Dana's mail again
        code, digests, err = _notify(db, port, capsys)
        assert (code, err) == (0, "")
        assert [(d["to"], d["sent"]) for d in digests] == [(DANA, True)]
        assert [r.recipients for r in mailbox.received] == [[DANA]]


def test_a_server_that_is_not_there_sends_nothing_and_records_nothing_as_sent(db, capsys) -> None:
    port = free_port()  # nothing listens here
    code, digests, err = _notify(db, port, capsys)
    assert code == 1
    assert len(err.splitlines()) == 5
    assert all(f"cannot reach the mail server 127.0.0.1:{port}" in line for line in err.splitlines())
    assert [d["sent"] for d in digests] == [False] * 5
    with Store.open(db) as store:
        assert store.loop_log.notifications().height == 0
        assert store.loop_log.runs()["failures"].to_list() == [5]
    with smtp_server() as (port, mailbox):
        code, digests, _ = _notify(db, port, capsys)
        assert code == 0 and len(mailbox.received) == 5


def test_dry_run_shows_every_message_and_records_nothing(db, capsys) -> None:
    assert cli.main(["notify", "--db", db, "--dry-run"]) == 0  # no server needed
    out = capsys.readouterr().out
    assert out.startswith("Dry run, nothing sent or recorded: 5 digest(s) for the snapshot of 2026-06-15.")
    assert f"--- To: Dana Whitfield <{DANA}>" in out
    assert "Subject: 1 item needs your decision: 400,000 USD at risk" in out
    with Store.open(db) as store:
        assert store.loop_log.runs().height == 0 and store.loop_log.notifications().height == 0


def test_no_mail_server_set_is_an_input_error_before_anything_is_sent(db, capsys, monkeypatch) -> None:
    monkeypatch.delenv("KPI_SMTP_HOST", raising=False)
    assert cli.main(["notify", "--db", db]) == 1
    assert capsys.readouterr().err == (
        "no mail server is set: give --smtp-host, set KPI_SMTP_HOST, or set it on the Settings page\n"
    )
    with Store.open(db) as store:
        assert store.loop_log.runs().height == 0


def test_smtp_settings_come_from_flags_then_the_environment_then_the_settings() -> None:
    stored = Settings(smtp_host="stored.example", smtp_port=25, smtp_from="stored@example.com", smtp_user="stored")
    env = {"KPI_SMTP_HOST": "env.example", "KPI_SMTP_PORT": "2525", "KPI_SMTP_PASSWORD": "s3cret"}
    config = SmtpConfig.resolve(stored, host="flag.example", environ=env)
    assert (config.host, config.port, config.sender, config.user, config.password) == (
        "flag.example",
        2525,
        "stored@example.com",
        "stored",
        "s3cret",
    )
    assert "s3cret" not in repr(config)
    assert password_is_set(env) and not password_is_set({})
    with pytest.raises(DeliveryError, match="not one e-mail address"):
        SmtpConfig.resolve(stored, sender="PMO <pmo@example.com>", environ={})


def test_starttls_and_login_over_a_real_tls_connection(tmp_path: Path) -> None:
    server_tls, client_tls = certificate(tmp_path)
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, DANA, "test"
    message.set_content("hello")
    with smtp_server(tls=server_tls, login=("pmo", "right")) as (port, mailbox):
        good = SmtpConfig("127.0.0.1", port, SENDER, "starttls", "pmo", "right", ssl_context=client_tls)
        assert send_emails([("a", message)], good) == {"a": None}
        assert [r.recipients for r in mailbox.received] == [[DANA]]
        wrong = SmtpConfig("127.0.0.1", port, SENDER, "starttls", "pmo", "wrong", ssl_context=client_tls)
        (problem,) = send_emails([("a", message)], wrong).values()
        assert problem is not None and "refused the login of pmo: 535" in problem
    with smtp_server() as (port, _):  # a server without STARTTLS never sees the password
        plain = SmtpConfig("127.0.0.1", port, SENDER, "auto", "pmo", "right")
        (problem,) = send_emails([("a", message)], plain).values()
        assert problem is not None and "the password is not sent" in problem


# aiosmtpd warns because it does not count a TLS-from-the-first-byte connection as TLS; it is
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_ssl_from_the_first_byte_with_login(tmp_path: Path) -> None:
    server_tls, client_tls = certificate(tmp_path)
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, MARCO, "test"
    message.set_content("hello")
    with smtp_server(implicit_tls=server_tls, login=("pmo", "right")) as (port, mailbox):
        config = SmtpConfig("127.0.0.1", port, SENDER, "ssl", "pmo", "right", ssl_context=client_tls)
        assert send_emails([("a", message)], config) == {"a": None}
        assert [r.recipients for r in mailbox.received] == [[MARCO]]
        untrusted = SmtpConfig("127.0.0.1", port, SENDER, "ssl", "pmo", "right")  # the system's authorities
        (problem,) = send_emails([("a", message)], untrusted).values()
        assert problem is not None and problem.startswith(f"no secure connection to the mail server 127.0.0.1:{port}")
        assert len(mailbox.received) == 1


def test_chat_webhooks_receive_one_json_post_per_digest(db, capsys) -> None:
    with webhook_server() as (hook_port, hook), smtp_server() as (port, _):
        with Store.open(db) as store:
            store.save_settings(store.settings().with_value("chat_webhook", hook.url(hook_port, "/channel")))
        code, _, _ = _notify(db, port, capsys)
        assert code == 0
        assert [path for path, _ in hook.posts] == ["/channel"] * 5
        texts = [body["text"] for _, body in hook.posts]
        assert any(t.startswith("*1 item needs your decision: 400,000 USD at risk*") for t in texts)
    with Store.open(db) as store:
        assert set(store.loop_log.notifications()["channels"]) == {"email, chat"}


def test_a_webhook_that_refuses_is_a_failure_but_the_mail_still_counts(db, capsys) -> None:
    with webhook_server(status=500) as (hook_port, hook), smtp_server() as (port, _):
        with Store.open(db) as store:
            store.save_settings(store.settings().with_value("chat_webhook", hook.url(hook_port)))
        code, digests, err = _notify(db, port, capsys)
    assert code == 1
    assert all(d["sent"] for d in digests)
    assert len(err.splitlines()) == 5 and "the chat webhook answered 500" in err


def test_a_person_without_an_address_goes_to_the_pmo(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "fleet"
    shutil.copytree(FLEET_DIR, folder)
    people = (folder / "people.csv").read_text().replace("sam.okafor@fleet.example", "")
    (folder / "people.csv").write_text(people)
    (folder / "fleet.xlsx").unlink()
    db = str(tmp_path / "kpi.duckdb")
    assert cli.main(["ingest", str(folder), "--db", db, "--as-of", "2026-06-15"]) == 0
    assert cli.main(["settings", "--db", db, "--set", "pmo_email=pmo.office@fleet.example"]) == 0
    capsys.readouterr()
    with smtp_server() as (port, mailbox):
        code, digests, _ = _notify(db, port, capsys)
        assert code == 0
        sam = next(d for d in digests if d["name"] == "Sam Okafor")
        assert sam["to"] == "pmo.office@fleet.example" and sam["sent"]
        (message,) = mailbox.to("pmo.office@fleet.example")
        assert (
            message.message["Subject"]
            == "For Sam Okafor, who has no e-mail address: 1 item needs a decision: no value at risk"
        )
        assert message.text.startswith("Sam Okafor has no e-mail address in the people sheet")
    with Store.open(db) as store:
        from kpi_engine.loop.digests import missing_contacts
        from kpi_engine.loop.service import loop_state

        state = loop_state(store)
        found = missing_contacts(state.status, state.people)
    assert found.select("person", "finding", "items").rows() == [("Sam Okafor", "no contact details", 1)]


def test_without_a_pmo_address_an_unreachable_person_is_a_failure(tmp_path: Path) -> None:
    folder = tmp_path / "fleet"
    shutil.copytree(FLEET_DIR, folder)
    (folder / "people.csv").unlink()
    (folder / "fleet.xlsx").unlink()
    db = tmp_path / "kpi.duckdb"
    files = read_paths([folder])
    with Store.open(db) as store:
        store.ingest(read_upload(files), date(2026, 6, 15))
        with smtp_server() as (port, mailbox):
            outcome = notify(store, smtp={"host": "127.0.0.1", "port": port, "sender": SENDER})
        assert mailbox.received == []
    assert outcome.problems[0] == "Ann Lee: Ann Lee has no e-mail address and no PMO address is set in the settings"
    assert len(outcome.problems) == 5


def test_a_persons_own_webhook_wins_over_the_channel(tmp_path: Path, capsys) -> None:
    with webhook_server() as (hook_port, hook), smtp_server() as (port, _):
        folder = tmp_path / "fleet"
        shutil.copytree(FLEET_DIR, folder)
        (folder / "fleet.xlsx").unlink()
        people = (folder / "people.csv").read_text()
        own = hook.url(hook_port, "/dana")
        (folder / "people.csv").write_text(
            people.replace("dana.whitfield@fleet.example,", f"dana.whitfield@fleet.example,{own}")
        )
        db = str(tmp_path / "kpi.duckdb")
        assert cli.main(["ingest", str(folder), "--db", db, "--as-of", "2026-06-15"]) == 0
        assert cli.main(["settings", "--db", db, "--set", f"chat_webhook={hook.url(hook_port, '/channel')}"]) == 0
        capsys.readouterr()
        code, _, _ = _notify(db, port, capsys)
    assert code == 0
    assert sorted(path for path, _ in hook.posts) == ["/channel"] * 4 + ["/dana"]
    dana = next(body for path, body in hook.posts if path == "/dana")
    assert dana["text"].startswith("*1 item needs your decision: 400,000 USD at risk*\nDear Dana Whitfield,")
