"""CLI output: JSON by the contract, plain tables, CSV safe for spreadsheets."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_engine.output.formats import format_cell, render, render_table, to_json, write_output


def test_json_dates_numbers_booleans_and_missing_values():
    frame = pl.DataFrame(
        {
            "milestone_id": ["M1", "M2"],
            "computed_finish": [date(2026, 9, 21), None],
            "slip_days": [21, None],
            "kpi_impact": [-0.0679, float("nan")],
            "watermelon": [True, False],
        }
    )
    assert json.loads(to_json(frame)) == [
        {
            "milestone_id": "M1",
            "computed_finish": "2026-09-21",
            "slip_days": 21,
            "kpi_impact": -0.0679,
            "watermelon": True,
        },
        {"milestone_id": "M2", "computed_finish": None, "slip_days": None, "kpi_impact": None, "watermelon": False},
    ]


def test_json_nested_values_and_dataclasses():
    @dataclass
    class Result:
        when: datetime
        values: dict[str, float]

    text = to_json({"baseline": Result(datetime(2026, 6, 15, 9, 30), {"a": math.inf, "b": 1.5})})
    assert json.loads(text) == {"baseline": {"when": "2026-06-15T09:30:00", "values": {"a": None, "b": 1.5}}}


def test_json_refuses_unknown_types():
    with pytest.raises(TypeError, match="object"):
        to_json(object())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(None, "", id="missing"),
        pytest.param(400000.0, "400,000", id="money-whole"),
        pytest.param(2.0179, "2.0179", id="kpi-four-decimals"),
        pytest.param(-0.00001, "0", id="rounds-to-zero-without-sign"),
        pytest.param(1234567, "1,234,567", id="integer"),
        pytest.param(True, "yes", id="boolean"),
        pytest.param(date(2026, 9, 21), "2026-09-21", id="date"),
        pytest.param(datetime(2026, 6, 15, 9, 30, 5), "2026-06-15 09:30", id="datetime-to-minute"),
        pytest.param(["a.csv", "b.csv"], "a.csv, b.csv", id="list"),
        pytest.param({"tasks": 3, "links": 4}, "tasks 3, links 4", id="mapping"),
    ],
)
def test_format_cell(value, text):
    assert format_cell(value) == text


def test_table_aligns_numbers_right_and_text_left():
    frame = pl.DataFrame({"kpi_id": ["K-CPM", "K1"], "projected": [2.0179, 95.0]})
    assert render_table(frame) == "\n".join(
        [
            "kpi_id  projected",
            "------  ---------",
            "K-CPM      2.0179",
            "K1             95",
        ]
    )


def test_table_of_nothing_and_multiline_cells():
    assert render_table(pl.DataFrame({"a": []}), empty="No rows.") == "No rows."
    assert render_table(pl.DataFrame({"why": ["two\nlines"]})).splitlines()[2] == "two lines"


def test_csv_neutralises_formulas_but_not_numbers():
    frame = pl.DataFrame({"name": ["=HYPERLINK(1)", "-x", "plain"], "slip_days": [-5, 3, 0]})
    text = render(frame, "csv")
    assert text.startswith("\ufeff")
    assert text.splitlines()[1:] == ["'=HYPERLINK(1),-5", "'-x,3", "plain,0"]


def test_write_output_sends_csv_bytes_with_bom():
    class Stream(io.TextIOWrapper):
        pass

    raw = io.BytesIO()
    stream = Stream(raw, encoding="utf-8")
    write_output(pl.DataFrame({"a": ["é"]}), "csv", stream)
    assert raw.getvalue() == "\ufeffa\r\né\r\n".encode()


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**12), 10**12))))
def test_any_numbers_make_valid_json(values):
    parsed = json.loads(to_json({"values": values}))
    assert len(parsed["values"]) == len(values)
    assert all(p is None or isinstance(p, (int, float)) for p in parsed["values"])
