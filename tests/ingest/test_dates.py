"""Date parsing: every accepted form, the day/month order decision, and what is refused."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_engine.ingest.dates import parse_date_columns, parse_dates


def dates_of(*values: str | None, **kwargs: object) -> list[date | None]:
    result = parse_dates(pl.Series("d", list(values), dtype=pl.String), **kwargs)  # type: ignore[arg-type]
    assert result.order_problem is None
    assert not result.bad.any()
    return result.dates.to_list()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-03-14", id="iso"),
        pytest.param("2026-3-14", id="iso-short"),
        pytest.param("2026-03-14 08:00:00", id="iso-datetime-from-workbook"),
        pytest.param("2026-03-14T08:00Z", id="iso-t-zulu"),
        pytest.param("2026/03/14", id="iso-slashes"),
        pytest.param("46095", id="excel-serial"),
        pytest.param("46095.75", id="excel-serial-with-time"),
        pytest.param("Sat 3/14/26", id="msproject-weekday"),
        pytest.param("3/14/26 8:00 AM", id="msproject-time"),
        pytest.param("14/Mar/26 03:26 PM", id="jira"),
        pytest.param("14 March 2026", id="long-month"),
        pytest.param("14-Mar-2026", id="dd-mon-yyyy"),
        pytest.param("March 14, 2026", id="month-first-words"),
        pytest.param("14th March 2026", id="ordinal"),
        pytest.param("14.03.2026", id="dotted-day-first"),
    ],
)
def test_each_accepted_form_reads_as_the_same_day(text: str) -> None:
    assert dates_of(text) == [date(2026, 3, 14)]


def test_na_and_blank_are_empty_not_bad() -> None:
    assert dates_of("NA", "N/A", None, "2026-01-02") == [None, None, None, date(2026, 1, 2)]


def test_excel_serials_in_the_1904_system() -> None:
    # 1904 system: serial 0 is 1904-01-01, so a date is 1,462 days less than in the 1900 system
    assert dates_of("44633", epoch1904=True) == [date(2026, 3, 14)]


def test_day_first_decided_by_a_day_above_12() -> None:
    assert dates_of("03/04/2026", "25/12/2026") == [date(2026, 4, 3), date(2026, 12, 25)]


def test_month_first_decided_by_a_second_part_above_12() -> None:
    assert dates_of("03/04/2026", "12/25/2026") == [date(2026, 3, 4), date(2026, 12, 25)]


def test_same_day_and_month_needs_no_order() -> None:
    assert dates_of("03/03/2026") == [date(2026, 3, 3)]


def test_ambiguous_column_is_refused_not_guessed() -> None:
    result = parse_dates(pl.Series("d", ["03/04/2026", "05/06/2026"]))
    assert result.order_problem == (
        "dates such as '03/04/2026' could be day/month or month/day; use ISO dates (YYYY-MM-DD) "
        "or give the date order (dmy or mdy) in a column mapping"
    )
    assert result.dates.null_count() == 2
    assert not result.bad.any()  # reported once for the column, not per cell


def test_mixed_orders_are_refused() -> None:
    result = parse_dates(pl.Series("d", ["25/12/2026", "12/25/2026", "2026-01-01"]))
    assert result.order_problem == (
        "this column mixes day/month dates ('25/12/2026') and month/day dates ('12/25/2026'); "
        "use one order or ISO dates (YYYY-MM-DD)"
    )
    assert result.dates.to_list() == [None, None, date(2026, 1, 1)]


def test_given_order_settles_an_ambiguous_column() -> None:
    assert dates_of("03/04/2026", order="dmy") == [date(2026, 4, 3)]
    assert dates_of("03/04/2026", order="mdy") == [date(2026, 3, 4)]


def test_given_order_makes_contradicting_values_bad() -> None:
    result = parse_dates(pl.Series("d", ["12/25/2026"]), order="dmy")
    assert result.bad.to_list() == [True]


def test_an_ambiguous_column_follows_the_other_date_columns_of_its_sheet() -> None:
    parsed = parse_date_columns(
        {"start": pl.Series("start", ["03/04/2026"]), "finish": pl.Series("finish", ["03/25/2026"])}
    )
    assert parsed["start"].dates.to_list() == [date(2026, 3, 4)]
    assert parsed["finish"].dates.to_list() == [date(2026, 3, 25)]


def test_sheet_columns_that_disagree_leave_an_ambiguous_one_undecided() -> None:
    parsed = parse_date_columns(
        {
            "a": pl.Series("a", ["25/03/2026"]),
            "b": pl.Series("b", ["03/25/2026"]),
            "c": pl.Series("c", ["03/04/2026"]),
        }
    )
    assert parsed["c"].order_problem is not None
    assert parsed["a"].order_problem is None and parsed["b"].order_problem is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("tomorrow", id="word"),
        pytest.param("2026-02-30", id="no-such-day"),
        pytest.param("31/02/2026", id="no-such-day-numeric"),
        pytest.param("2026", id="year-only"),
        pytest.param("123", id="tiny-serial"),
        pytest.param("14 Smarch 2026", id="no-such-month"),
        pytest.param("TBD", id="tbd"),
    ],
)
def test_values_that_are_not_dates_are_flagged(text: str) -> None:
    result = parse_dates(pl.Series("d", [text]))
    assert result.bad.to_list() == [True]
    assert result.dates.to_list() == [None]


@settings(deadline=None, max_examples=60)
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2150, 12, 31)))
def test_iso_and_day_first_forms_round_trip(day: date) -> None:
    forms = [day.isoformat(), day.strftime("%d %B %Y"), day.strftime("%d-%b-%Y"), day.strftime("%B %d, %Y")]
    assert dates_of(*forms) == [day] * len(forms)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)), min_size=1, max_size=20))
def test_numeric_dates_either_parse_exactly_or_are_refused(days: list[date]) -> None:
    # written day first: decided when some day exceeds 12 or parts agree, refused otherwise
    text = [d.strftime("%d/%m/%Y") for d in days]
    result = parse_dates(pl.Series("d", text))
    if result.order_problem is None:
        assert result.dates.to_list() == days
    else:
        assert all(d.day <= 12 for d in days)
