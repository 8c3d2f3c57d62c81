"""Reporting credibility over the snapshot history (DOMAIN.md section 7 rule 2).

A **report** is a (snapshot, milestone) pair where the milestone was open and had a
reported status other than Unknown; a **watermelon** is a report better than the computed
status. Per person named as a milestone owner (a milestone with several owners counts for
each), per project and per program: ``reports``, ``watermelons`` and ``credibility`` =
1 - watermelons / reports (null with no reports).

These are facts about reports, not judgements about people: the wording of
:func:`reporting_sentence` says what the reports were, never what a person is.

>>> reports = report_rows(result, snapshot_id=1)        # doctest: +SKIP
>>> credibility(reports)                                # doctest: +SKIP
"""

from __future__ import annotations

from datetime import date

import polars as pl

from kpi_engine.core.owners import owner_names, person_key_expr
from kpi_engine.engine.compute import EngineResult

#: One report: a milestone's status as reported in one snapshot, and as computed.
REPORT_SCHEMA = pl.Schema(
    {
        "snapshot_id": pl.Int64(),
        "as_of": pl.Date(),
        "milestone_id": pl.String(),
        "milestone_name": pl.String(),
        "project_id": pl.String(),
        "project_name": pl.String(),
        "program": pl.String(),
        "owner": pl.String(),
        "reported_status": pl.String(),
        "computed_status": pl.String(),
        "watermelon": pl.Boolean(),
    }
)
#: Fields of the ``credibility`` CLI output (CLI.md).
CREDIBILITY_FIELDS = ["person", "reports", "watermelons", "credibility"]
#: How many recent weeks :func:`reporting_sentence` speaks about at most.
SENTENCE_WEEKS = 12


def report_rows(result: EngineResult, snapshot_id: int) -> pl.DataFrame:
    """Return the reports of one computed snapshot (columns of :data:`REPORT_SCHEMA`).

    Parameters
    ----------
    result
        The snapshot's engine result (its watermelon flags).
    snapshot_id
        The snapshot's id, kept on every row.
    """
    return status_reports(result.milestones, result.portfolio.as_of, snapshot_id)


def status_reports(milestones: pl.DataFrame, as_of: date, snapshot_id: int) -> pl.DataFrame:
    """Return the reports among a snapshot's milestones (columns of :data:`REPORT_SCHEMA`).

    Parameters
    ----------
    milestones
        The snapshot's milestones with their statuses and project columns
        (:attr:`EngineResult.milestones` or :func:`~kpi_engine.engine.compute.statuses`).
    as_of
        The snapshot's date.
    snapshot_id
        The snapshot's id, kept on every row.
    """
    return (
        milestones.filter(pl.col("actual_finish").is_null() & (pl.col("reported_status") != "Unknown"))
        .select(
            pl.lit(snapshot_id, pl.Int64).alias("snapshot_id"),
            pl.lit(as_of, pl.Date).alias("as_of"),
            "milestone_id",
            pl.col("name").alias("milestone_name"),
            "project_id",
            "project_name",
            "program",
            "owner",
            "reported_status",
            "computed_status",
            "watermelon",
        )
        .cast(REPORT_SCHEMA)
    )


def empty_reports() -> pl.DataFrame:
    """Return a frame of no reports."""
    return pl.DataFrame(schema=REPORT_SCHEMA)


def by_person(reports: pl.DataFrame) -> pl.DataFrame:
    """Return one row per (report, person named in its owner), with ``person`` and ``person_key``.

    A person spelled differently across snapshots ("Smith, John", "john  smith") is one
    person; the name shown is the spelling of their latest report. Each distinct owner
    string is split once (a portfolio has far fewer owners than reports) and joined back.
    """
    owners = (
        reports.select("owner")
        .unique()
        .filter(pl.col("owner").is_not_null())
        .with_columns(owner_names(pl.col("owner")).alias("person"))
        .explode("person")
        .filter(pl.col("person").is_not_null())
        .with_columns(person_key_expr(pl.col("person")).alias("person_key"))
    )
    exploded = reports.join(owners, on="owner", how="inner", maintain_order="left_right")
    # the last spelling in report order within the latest snapshot
    shown = (
        exploded.sort("as_of", "snapshot_id", maintain_order=True)
        .group_by("person_key")
        .agg(pl.col("person").last().alias("_shown"))
    )
    return exploded.join(shown, on="person_key").with_columns(pl.col("_shown").alias("person")).drop("_shown")


def _tally(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (
        frame.group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("reports"), pl.col("watermelon").sum().cast(pl.Int64).alias("watermelons"))
        .with_columns((1.0 - pl.col("watermelons") / pl.col("reports")).alias("credibility"))
    )


def credibility(reports: pl.DataFrame, by: str = "person", people: pl.DataFrame | None = None) -> pl.DataFrame:
    """Return reports, watermelons and credibility per person, project or program.

    Parameters
    ----------
    reports
        Reports of every snapshot considered (:func:`report_rows`, concatenated).
    by
        ``person`` (columns ``person, reports, watermelons, credibility``), ``project``
        (``project_id, project_name, ...``) or ``program`` (``program, ...``; a project
        with no program counts under a null program).
    people
        :func:`by_person` of ``reports`` when the caller has it (the people are split once
        for the table and the weeks); computed here otherwise.

    Returns
    -------
    pl.DataFrame
        Ranked: most watermelons first, then lowest credibility, then by name.
    """
    if by == "person":
        keys, frame = ["person"], by_person(reports) if people is None else people
        table = _tally(frame, ["person_key", "person"]).drop("person_key")
    elif by == "project":
        keys = ["project_id", "project_name"]
        # the project's latest name: of the latest date, its latest upload
        names = (
            reports.sort("as_of", "snapshot_id", maintain_order=True)
            .group_by("project_id")
            .agg(pl.col("project_name").last())
        )
        table = _tally(reports.drop("project_name").join(names, on="project_id"), keys)
    elif by == "program":
        keys = ["program"]
        table = _tally(reports, keys)
    else:
        raise ValueError(f"credibility by 'person', 'project' or 'program', not {by!r}")
    return table.select(*keys, "reports", "watermelons", "credibility").sort(
        ["watermelons", "credibility", *keys], descending=[True, False] + [False] * len(keys), nulls_last=True
    )


def watermelon_weeks(reports: pl.DataFrame, people: pl.DataFrame | None = None) -> pl.DataFrame:
    """Return per person and snapshot date: ``reports`` and ``watermelons`` (for small multiples).

    Every snapshot date of ``reports`` appears for every person (0 reports when they gave none);
    ``people`` is :func:`by_person` of ``reports`` when the caller has it.
    """
    people = by_person(reports) if people is None else people
    weeks = reports.select("as_of").unique()
    grid = people.select("person_key", "person").unique("person_key").join(weeks, how="cross")
    counts = people.group_by("person_key", "as_of").agg(
        pl.len().cast(pl.Int64).alias("reports"), pl.col("watermelon").sum().cast(pl.Int64).alias("watermelons")
    )
    return (
        grid.join(counts, on=["person_key", "as_of"], how="left")
        .with_columns(pl.col("reports").fill_null(0), pl.col("watermelons").fill_null(0))
        .drop("person_key")
        .sort("person", "as_of")
    )


def reporting_sentences(reports: pl.DataFrame, owner: str | None) -> list[str]:
    """Return one sentence per person an owner string names, about their recent reports.

    E.g. "Priya Raman's reports were better than computed in 3 of the last 3 weeks." A
    week is a snapshot in which the person reported at least once; the sentence covers
    their last :data:`SENTENCE_WEEKS` such weeks. A person with no reports gets no sentence.
    """
    if owner is None or reports.height == 0:
        return []
    wanted = pl.DataFrame({"owner": [owner]}).select(owner_names(pl.col("owner")).alias("person")).explode("person")
    wanted = wanted.filter(pl.col("person").is_not_null()).with_columns(person_key_expr(pl.col("person")).alias("key"))
    people = by_person(reports)
    sentences = []
    for name, key in wanted.iter_rows():
        weeks = (
            people.filter(pl.col("person_key") == key)
            .group_by("as_of")
            .agg(pl.col("watermelon").any().alias("better"))
            .sort("as_of")
            .tail(SENTENCE_WEEKS)
        )
        if weeks.height:
            sentences.append(reporting_sentence(name, int(weeks["better"].sum()), weeks.height))
    return sentences


def reporting_sentence(person: str, better_weeks: int, weeks: int) -> str:
    """Return the sentence about a person's reports: facts about reports, not a judgement."""
    last = "1 week" if weeks == 1 else f"the last {weeks} weeks"
    return f"{person}'s reports were better than computed in {better_weeks} of {last}."
