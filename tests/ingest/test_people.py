"""The optional people sheet: read from CSV or workbook, checked at the boundary, carried forward."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_engine.ingest import SourceFile, read_upload
from kpi_engine.store import Store

from .support import accepted, csv_file, problem_lines, workbook


def test_a_people_csv_is_read_with_its_synonym_headers() -> None:
    upload = accepted(csv_file("contacts.csv", "Person,E-mail,Slack\nDana Whitfield,dana@example.com,\n"))
    (row,) = upload.tables["people"].select("name", "email", "chat").rows()
    assert row == ("Dana Whitfield", "dana@example.com", None)


def test_a_people_sheet_in_a_workbook_is_read() -> None:
    data = workbook({"people": [["name", "email", "chat"], ["Jo Park", "jo@example.com", "https://hooks.slack.com/x"]]})
    upload = accepted(SourceFile("book.xlsx", data))
    assert upload.tables["people"]["chat"].to_list() == ["https://hooks.slack.com/x"]


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        pytest.param(
            "dana.example.com",
            "'dana.example.com' is not an e-mail address; write one address such as name@example.com",
            id="no-at-sign",
        ),
        pytest.param(
            '"dana@example.com\nBcc: all@example.com"',
            "'dana@example.com\\nBcc: all@example.com' is not an e-mail address; write one address such as "
            "name@example.com",
            id="header-injection",
        ),
        pytest.param(
            '"dana@example.com, sam@example.com"',
            "'dana@example.com, sam@example.com' is not an e-mail address; write one address such as name@example.com",
            id="two-addresses",
        ),
        pytest.param(
            "<script>@example.com",
            "'<script>@example.com' is not an e-mail address; write one address such as name@example.com",
            id="markup",
        ),
    ],
)
def test_a_malformed_email_rejects_the_upload_naming_its_row(email: str, problem: str) -> None:
    lines = problem_lines(csv_file("people.csv", f"name,email\nSam Okafor,sam@example.com\nDana Whitfield,{email}\n"))
    assert lines == [f"people.csv, sheet people, row 3, column email: {problem}"]


def test_a_chat_address_must_be_a_web_address() -> None:
    lines = problem_lines(csv_file("people.csv", "name,chat\nJo Park,javascript:alert(1)\n"))
    assert lines == [
        "people.csv, sheet people, row 2, column chat: 'javascript:alert(1)' is not a web address; give the "
        "incoming-webhook URL of a Slack or Teams channel, starting with https://"
    ]


def test_one_person_spelt_two_ways_is_one_person_twice() -> None:
    text = 'name,email\nDana Whitfield,d@example.com\n"Whitfield,  dana",x@example.com\n'
    lines = problem_lines(csv_file("people.csv", text))
    assert lines == [
        "people.csv, sheet people, row 3, column name: 'Whitfield,  dana' is the same person as 'Dana Whitfield' "
        "(people.csv, sheet people, row 2); keep one row per person"
    ]


def test_a_sheet_with_only_a_name_column_is_not_taken_for_people() -> None:
    (line,) = problem_lines(csv_file("export.csv", "Name,Colour\nDana,blue\n"))
    assert "the headers match no layout this program reads" in line


def test_people_are_carried_forward_and_updated_by_name(tmp_path, fleet_dir) -> None:
    fleet = [csv_file(p.name, p.read_text()) for p in sorted(fleet_dir.glob("*.csv"))]
    with Store.open(tmp_path / "kpi.duckdb") as store:
        store.ingest(read_upload(fleet), date(2026, 6, 15))
        # a later upload changes one address and names nobody else: the others stay
        update = [csv_file("people.csv", "name,email\nDana Whitfield,dana@new.example\n")]
        store.ingest(read_upload(update), date(2026, 6, 22))
        people = store.load_portfolio().people
    assert people.height == 11
    assert people.filter(name="Dana Whitfield")["email"].item() == "dana@new.example"
    assert people.filter(name="Jo Park")["email"].item() == "jo.park@fleet.example"
