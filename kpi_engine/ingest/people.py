"""Checks of the optional people sheet: addresses that can be used, and each person once.

An e-mail address goes into a message header and a chat address receives a web request, so
both are checked here, at the boundary: a malformed one rejects the upload with its row
named, rather than failing a notification run weeks later.
"""

from __future__ import annotations

import polars as pl

from kpi_engine.core.addresses import email_ok_expr, web_address_ok_expr
from kpi_engine.core.errors import Problem
from kpi_engine.ingest.model import problems_where
from kpi_engine.loop.people import person_key_expr


def people_problems(people: pl.DataFrame) -> list[Problem]:
    """Return the problems of an uploaded people table (canonical columns plus provenance).

    - ``email`` must be one plain address (``name@example.com``): no spaces, line breaks,
      angle brackets or second address;
    - ``chat`` must be an ``https://`` (or ``http://``) address: the incoming-webhook URL of
      a Slack or Microsoft Teams channel;
    - two rows naming the same person by the owner rule ("Smith, John" and "John Smith")
      are one person twice (rows with the very same name are reported as duplicates).
    """
    if people.height == 0:
        return []
    email = pl.col("email").str.strip_chars()
    chat = pl.col("chat").str.strip_chars()
    checked = people.with_columns(
        email_ok_expr(email).alias("_email_ok"),
        web_address_ok_expr(chat).alias("_chat_ok"),
        person_key_expr(pl.col("name")).alias("_key"),
    )
    problems = problems_where(
        checked,
        (email != "") & ~pl.col("_email_ok"),
        "email",
        pl.format("'{}' is not an e-mail address; write one address such as name@example.com", email),
    )
    problems += problems_where(
        checked,
        (chat != "") & ~pl.col("_chat_ok"),
        "chat",
        pl.format(
            "'{}' is not a web address; give the incoming-webhook URL of a Slack or Teams channel, "
            "starting with https://",
            chat,
        ),
    )
    first = checked.filter(pl.col("_key").is_not_null()).group_by("_key", maintain_order=True).first()
    twins = checked.join(
        first.select(
            "_key",
            pl.col("name").alias("_first_name"),
            pl.col("_file").alias("_first_file"),
            pl.col("_sheet").alias("_first_sheet"),
            pl.col("_row").alias("_first_row"),
        ),
        on="_key",
    )
    problems += problems_where(
        twins,
        pl.col("name") != pl.col("_first_name"),
        "name",
        pl.format(
            "'{}' is the same person as '{}' ({}, sheet {}, row {}); keep one row per person",
            pl.col("name"),
            pl.col("_first_name"),
            pl.col("_first_file"),
            pl.col("_first_sheet"),
            pl.col("_first_row"),
        ),
    )
    return problems
