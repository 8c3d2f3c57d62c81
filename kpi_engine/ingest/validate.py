"""Turn table parts (text) into canonical typed frames, reporting every problem on the way.

All checks are column-wise Polars expressions; Python only builds Problem objects for
the rows that fail.  Dates and numbers must lie in the ranges of
:mod:`kpi_engine.core.bounds`.  Unknown references (a task naming a milestone that does
not exist) are not checked here: the store checks them against the whole snapshot, and
calls :func:`schedule_problems` on it for dependency cycles and undatable finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

import numpy as np
import polars as pl

from kpi_engine.core.bounds import (
    COLUMN_RANGES,
    EARLIEST_DATE,
    LATEST_COMPUTED_DATE,
    LATEST_DATE,
    PLACEHOLDER_DATES,
)
from kpi_engine.core.errors import CycleError, Problem, UploadRejected, describe_cycles
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.schema import DIRECTIONS, KEYS, STATUS_WORDS, TABLES, conform
from kpi_engine.engine.schedule import EPOCH, day_number, prepare_schedule
from kpi_engine.ingest.dates import bad_date_message, parse_date_columns
from kpi_engine.ingest.model import PROVENANCE, TablePart, problems_where
from kpi_engine.ingest.values import ROUNDED_ID_MESSAGE, is_excel_error, is_rounded_id, parse_numbers

MISSING_VALUE = "a value is required here"

ACCEPTED_STATUSES = ", ".join(STATUS_WORDS)


def missing_column_message(label: str) -> str:
    """The problem text for a required column the sheet does not have."""
    return f"required column '{label}' is missing"


def _excel_error_message(value: pl.Expr) -> pl.Expr:
    return pl.format("the cell shows the Excel error {}; fix the formula or clear the cell", value)


def _number_message(value: pl.Expr) -> pl.Expr:
    return pl.format("'{}' is not a number", value)


def convert(part: TablePart) -> tuple[pl.DataFrame, list[Problem], list[Problem]]:
    """Convert one part to the canonical columns and types of its table.

    Returns
    -------
    frame : DataFrame
        ``conform(table, ...)`` columns plus ``_file``, ``_sheet``, ``_row``; cells with
        problems are null.
    problems : list of Problem
        Everything that blocks the upload, one problem per bad cell.
    warnings : list of Problem
        Notes that do not block it.
    """
    found = _Findings(part)
    _check_required_columns(found)
    text, reported = _clean_text(found)
    typed = _parse_dates(found, text)
    typed |= _parse_numbers(found, text)
    _check_required_values(found, text, reported)
    typed |= _parse_enumerations(found, text)
    _check_value_ranges(found, typed)
    return _assemble(found, text, typed), found.problems, found.warnings


class _Findings:
    """One part being converted and what its checks found so far, in the order they ran.

    The order of the checks is the order of the problems a person reads.
    """

    def __init__(self, part: TablePart) -> None:
        self.part = part
        self.table, self.labels, self.columns = part.table, part.labels, TABLES[part.table]
        self.raw = part.frame  # text as read, quoted in messages
        self.present = [n for n in self.columns if n in self.raw.columns]
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def report(self, mask: pl.Series | pl.Expr, name: str, message: pl.Expr) -> None:
        """Add a problem for every row of ``mask``, naming the column as the sheet labels it."""
        if isinstance(mask, pl.Series):
            if not mask.any():
                return
            mask = pl.lit(mask)
        self.problems.extend(problems_where(self.raw, mask, self.labels.get(name, name), message))

    def sheet_problem(self, name: str, message: str) -> Problem:
        """A problem of a whole column (no row), naming it as the sheet labels it."""
        return Problem(self.part.file, self.part.sheet, None, self.labels.get(name, name), message)


def _check_required_columns(found: _Findings) -> None:
    """Report each required column the sheet does not have."""
    for name, col in found.columns.items():
        if name not in found.raw.columns and col.required:
            label = found.labels.get(name, name)
            found.problems.append(found.sheet_problem(name, missing_column_message(label)))


def _clean_text(found: _Findings) -> tuple[dict[str, pl.Series], dict[str, pl.Series]]:
    """Report Excel errors and ids Excel rounded; return the text with those cells blank, and where they were.

    A cheap test finds the columns worth the regex, then those cells are reported once
    and treated as blank.
    """
    raw, present = found.raw, found.present
    ids = [n for n in present if n.endswith("_id")]
    suspects = (
        raw.select(
            *(pl.col(n).str.starts_with("#").any().alias(f"#{n}") for n in present),
            *(pl.col(n).str.contains("E+", literal=True).any().alias(f"E{n}") for n in ids),
        ).row(0, named=True)
        if present
        else {}
    )
    reported: dict[str, pl.Series] = {}
    for name in present:
        flagged = []
        if suspects.get(f"#{name}"):
            flagged.append(("excel", raw.select(is_excel_error(pl.col(name))).to_series()))
        if suspects.get(f"E{name}"):
            flagged.append(("rounded", raw.select(is_rounded_id(pl.col(name))).to_series()))
        for kind, mask in flagged:
            message = (
                _excel_error_message(pl.col(name))
                if kind == "excel"
                else pl.format(f"{ROUNDED_ID_MESSAGE} (value '{{}}')", pl.col(name))
            )
            found.report(mask, name, message)
            reported[name] = mask if name not in reported else reported[name] | mask
    text = {n: (raw[n].set(reported[n], None) if n in reported else raw[n]) for n in present}
    return text, reported


def _parse_dates(found: _Findings, text: dict[str, pl.Series]) -> dict[str, pl.Series]:
    """Parse the date columns; report unreadable dates, an ambiguous day/month order and dates out of range."""
    part, typed = found.part, {}
    date_cols = [n for n in found.present if found.columns[n].dtype == pl.Date]
    if date_cols:
        parsed = parse_date_columns({n: text[n] for n in date_cols}, order=part.date_order, epoch1904=part.epoch1904)
        for n, result in parsed.items():
            if result.order_problem:
                found.problems.append(found.sheet_problem(n, result.order_problem))
            found.report(result.bad, n, bad_date_message(pl.col(n)))
            found.problems.extend(_date_range_problems(found.raw, n, result.dates, found.labels))
            typed[n] = _outside_dates_blank(result.dates)
    return typed


def _parse_numbers(found: _Findings, text: dict[str, pl.Series]) -> dict[str, pl.Series]:
    """Parse the number columns; report text that is no number, numbers out of range and fractional days."""
    typed = {}
    for n in found.present:
        dtype = found.columns[n].dtype
        if dtype in (pl.Float64, pl.Int64):
            values = parse_numbers(text[n], decimal_comma=found.part.decimal_comma)
            found.report(text[n].is_not_null() & values.is_null(), n, _number_message(pl.col(n)))
            values = _number_range(found.table, n, values, found.report, found.labels)
            if dtype == pl.Int64:
                fractional = (values != values.round(0)).fill_null(False)
                found.report(fractional, n, pl.format("'{}' is not a whole number of days", pl.col(n)))
                values = values.set(fractional, None).cast(pl.Int64)
            typed[n] = values
    return typed


def _check_required_values(found: _Findings, text: dict[str, pl.Series], reported: dict[str, pl.Series]) -> None:
    """Report blank cells of required columns, except those already reported as something else."""
    for n in found.present:
        if found.columns[n].required and not found.columns[n].blank_allowed:
            blank = text[n].is_null()
            found.report(blank & ~reported[n] if n in reported else blank, n, pl.lit(MISSING_VALUE))


def _parse_enumerations(found: _Findings, text: dict[str, pl.Series]) -> dict[str, pl.Series]:
    """Read a KPI's direction and a milestone's reported status in any spelling; report unknown words."""
    table, present, typed = found.table, found.present, {}
    if table == "kpis" and "direction" in present:
        key = text["direction"].str.to_lowercase().str.replace_all(r"[\s\-_]+", "_")
        known = key.is_in(DIRECTIONS)
        found.report(
            text["direction"].is_not_null() & ~known,
            "direction",
            pl.format("direction must be higher_is_better or lower_is_better, not '{}'", pl.col("direction")),
        )
        typed["direction"] = key.set(~known, None)
    if table == "milestones" and "reported_status" in present:
        key = text["reported_status"].str.to_lowercase().str.replace_all(r"\s+", " ")
        known = key.is_in(list(STATUS_WORDS)) | (key == "unknown")
        found.report(
            text["reported_status"].is_not_null() & ~known,
            "reported_status",
            pl.format(
                f"'{{}}' is not a status; use one of: {ACCEPTED_STATUSES} (or leave it blank)",
                pl.col("reported_status"),
            ),
        )
        typed["reported_status"] = key.replace_strict(STATUS_WORDS, default=None, return_dtype=pl.String)
    return typed


def _check_value_ranges(found: _Findings, typed: dict[str, pl.Series]) -> None:
    """Report a percent complete outside 0-100 (warn when it reads like fractions) and bad workaround figures."""
    table, present = found.table, found.present
    if table == "milestones" and "percent_complete" in present:
        pct = typed["percent_complete"]
        found.report(
            ((pct < 0) | (pct > 100)).fill_null(False),
            "percent_complete",
            pl.format("'{}' is outside 0-100", pl.col("percent_complete")),
        )
        if pct.drop_nulls().len() and pct.max() <= 1 and ((pct > 0) & (pct < 1)).any():  # type: ignore[operator]  # max() of a numeric column is a number here
            found.warnings.append(
                Problem(
                    found.part.file,
                    found.part.sheet,
                    None,
                    found.labels["percent_complete"],
                    "every value is between 0 and 1 and is read as a percentage (0.8 = 0.8 %); write 80 for 80 %",
                )
            )

    if table == "mitigations":  # candidate workarounds (DOMAIN.md section 7)
        for name, bad, rule in (("cost", "< 0", "cannot be negative"), ("fraction", "outside", "is outside 0 to 1")):
            if name in typed:
                value = typed[name]
                mask = (value < 0) if bad == "< 0" else ((value < 0) | (value > 1))
                found.report(mask.fill_null(False), name, pl.format(f"'{{}}' {rule}", pl.col(name)))


def _assemble(found: _Findings, text: dict[str, pl.Series], typed: dict[str, pl.Series]) -> pl.DataFrame:
    """The canonical frame with provenance: typed values, else the cleaned text, else blank columns.

    Dates that must come in order within a row are checked here, on the typed values.
    """
    raw, table = found.raw, found.table
    out = pl.DataFrame(
        [
            (typed.get(n, text[n]) if n in found.present else pl.repeat(None, raw.height, dtype=col.dtype, eager=True))
            .alias(n)
            .cast(col.dtype)
            for n, col in found.columns.items()
        ]
    )
    found.problems.extend(
        _order_checks(table, pl.concat([out, raw.select(PROVENANCE)], how="horizontal"), found.labels)
    )
    return pl.concat([conform(table, out), raw.select(PROVENANCE)], how="horizontal")


def _date_range_problems(raw: pl.DataFrame, name: str, dates: pl.Series, labels: dict[str, str]) -> list[Problem]:
    """Dates outside EARLIEST_DATE..LATEST_DATE (:mod:`kpi_engine.core.bounds`).

    A placeholder date such as 9999-12-31 is refused like any other date out of range,
    with a hint to leave the cell blank (docs/choices.md).
    """
    outside = ((dates < EARLIEST_DATE) | (dates > LATEST_DATE)).fill_null(False)
    if not outside.any():
        return []
    hint = (
        pl.when(pl.col("_placeholder"))
        .then(pl.lit("; it looks like a placeholder for 'no date': leave the cell blank instead"))
        .otherwise(pl.lit("; if it stands for 'no date', leave the cell blank"))
    )
    message = pl.format(
        f"'{{}}' is outside the dates this program accepts ({EARLIEST_DATE} to {LATEST_DATE}){{}}", pl.col(name), hint
    )
    placeholder = dates.is_in(list(PLACEHOLDER_DATES)).fill_null(False).alias("_placeholder")
    return problems_where(raw.with_columns(placeholder), pl.lit(outside), labels.get(name, name), message)


def _outside_dates_blank(dates: pl.Series) -> pl.Series:
    """``dates`` with those outside the accepted range made null (they are reported)."""
    outside = (dates < EARLIEST_DATE) | (dates > LATEST_DATE)
    return pl.select(pl.when(pl.lit(outside)).then(None).otherwise(pl.lit(dates))).to_series().alias(dates.name)


def _number_range(
    table: str,
    name: str,
    values: pl.Series,
    report: Callable[[pl.Series | pl.Expr, str, pl.Expr], None],
    labels: dict[str, str],
) -> pl.Series:
    """Report numbers outside the range :data:`~kpi_engine.core.bounds.COLUMN_RANGES` declares; make them null."""
    allowed = COLUMN_RANGES.get((table, name))
    if allowed is None:
        return values
    outside = ((values < allowed.low) | (values > allowed.high)).fill_null(False)
    if not outside.any():
        return values
    label = labels.get(name, name)
    message = pl.format(f"'{{}}' is out of range: {label} must be a number {allowed.describe()}", pl.col(name))
    report(outside, name, message)
    return values.set(outside, None)


def _order_checks(table: str, frame: pl.DataFrame, labels: dict[str, str]) -> list[Problem]:
    """Dates that must come in order within a row."""
    pairs = {
        "kpis": ("period_start", "target_date", "target_date {} is before period_start {}"),
        "milestones": ("baseline_start", "baseline_finish", "baseline_finish {} is before baseline_start {}"),
    }
    if table not in pairs:
        return []
    first, second, text = pairs[table]
    a, b = pl.col(first), pl.col(second)
    if frame.schema[first] != pl.Date or frame.schema[second] != pl.Date:
        return []
    return problems_where(frame, (b < a).fill_null(False), labels.get(second, second), pl.format(text, b, a))


def duplicate_problems(table: str, frame: pl.DataFrame) -> list[Problem]:
    """Rows whose key (``schema.KEYS``) repeats an earlier row, each naming the first one.

    Rows whose key has a blank part are already reported as missing values and skipped.
    """
    key = list(KEYS[table])
    if frame.height < 2:
        return []
    keyed = pl.col(key[0]) if len(key) == 1 else pl.struct(key)
    # counting distinct key hashes is cheaper than marking duplicates (1M task ids: 21 ms
    # against 116 ms for the ids themselves): distinct hashes are distinct keys; equal ones
    # (a duplicate, or rarely two keys of one hash) are then told apart exactly
    if frame.select(keyed.hash().n_unique() == pl.len()).item():
        return []
    not_blank = pl.all_horizontal(pl.col(key).is_not_null())
    mask = frame.select(keyed.is_duplicated() & not_blank).to_series()
    if not mask.any():
        return []
    dup = frame.select(*key, *PROVENANCE).with_row_index("_pos").filter(mask)
    first = dup.group_by(key, maintain_order=True).agg(
        pl.col("_file").first().alias("_f_file"),
        pl.col("_sheet").first().alias("_f_sheet"),
        pl.col("_row").first().alias("_f_row"),
        pl.col("_pos").first().alias("_f_pos"),
    )
    later = dup.join(first, on=key, nulls_equal=True).filter(pl.col("_pos") != pl.col("_f_pos")).sort("_pos")
    described = pl.concat_str([pl.lit(f"{k} '") + pl.col(k).cast(pl.String) + pl.lit("'") for k in key], separator=", ")
    message = pl.format(
        "duplicate {}: already in {}, sheet {}, row {}",
        described,
        pl.col("_f_file"),
        pl.col("_f_sheet"),
        pl.col("_f_row"),
    )
    return problems_where(later, pl.lit(True), key[0], message)


def schedule_problems(
    portfolio: Portfolio, uploaded: Mapping[str, pl.DataFrame], carried_from: int | None
) -> list[Problem]:
    """Problems of the merged snapshot's schedule: dependency cycles and finishes no one can date.

    Checked on the snapshot an upload would make (its own rows plus the rows carried
    forward), so a cycle closed by a carried-forward row is refused too.

    Parameters
    ----------
    portfolio
        The merged snapshot (milestones, tasks and dependencies are enough).
    uploaded
        The upload's tables with their provenance columns, to name the file, sheet and row.
    carried_from
        The snapshot rows were carried forward from (named for rows the upload did not bring).

    Returns
    -------
    list of Problem
        One per cycle (naming its milestones in order, located at the first of its
        dependencies the upload brought) and one per milestone whose computed finish
        falls after :data:`~kpi_engine.core.bounds.LATEST_DATE`.
    """
    return schedule_check(portfolio, uploaded, carried_from)[0]


def schedule_check(
    portfolio: Portfolio, uploaded: Mapping[str, pl.DataFrame], carried_from: int | None
) -> tuple[list[Problem], int | None]:
    """:func:`schedule_problems` and the latest computed finish (a day number; None: no milestone or a cycle)."""
    try:
        schedule = prepare_schedule(portfolio)
    except CycleError as err:
        return [_cycle_problem(cycle, uploaded.get("dependencies"), carried_from) for cycle in err.cycles], None
    finish = schedule.finish()
    late = np.flatnonzero(finish > day_number(LATEST_DATE))
    ids = schedule.milestones["milestone_id"]
    problems = [
        _late_problem(str(ids[int(i)]), _date_text(int(finish[int(i)])), uploaded, carried_from)
        for i in late[: UploadRejected.MAX_LISTED]
    ]
    return problems, int(finish.max()) if finish.size else None


def _date_text(day: int) -> str:
    """A day number as YYYY-MM-DD, or "after 9999-12-31" when no calendar holds it."""
    if day > day_number(LATEST_COMPUTED_DATE):
        return f"after {LATEST_COMPUTED_DATE}"
    return (EPOCH + timedelta(days=day)).isoformat()


def _carried(carried_from: int | None) -> str:
    return f"snapshot {carried_from}" if carried_from is not None else "the stored data"


def _cycle_problem(cycle: list[str], dependencies: pl.DataFrame | None, carried_from: int | None) -> Problem:
    """One problem for one cycle, at the first dependency of it the upload brought."""
    edges = pl.DataFrame(
        {"predecessor_id": cycle[:-1], "successor_id": cycle[1:], "_order": list(range(len(cycle) - 1))},
        schema={"predecessor_id": pl.String, "successor_id": pl.String, "_order": pl.Int64},
    )
    located = (
        edges.join(
            dependencies.select("predecessor_id", "successor_id", *PROVENANCE), on=["predecessor_id", "successor_id"]
        ).sort("_order", "_file", "_sheet", "_row")
        if dependencies is not None
        else pl.DataFrame()
    )
    message = (
        f"these dependencies form {describe_cycles([cycle])}: a milestone would wait for itself, so no "
        "finish date can be computed; remove or correct one of them"
    )
    if located.height == 0:
        return Problem(_carried(carried_from), "dependencies", None, "", message + " (all carried forward)")
    rows = located.select(*PROVENANCE).rows()
    file, sheet, row = rows[0]
    others = [r for f, sh, r in rows[1:] if (f, sh) == (file, sheet)]
    if others:
        message += f" (also on row{'s' if len(others) > 1 else ''} {', '.join(str(r) for r in others)})"
    elif len(rows) < len(cycle) - 1:
        message += f" (the others are carried forward from {_carried(carried_from)})"
    return Problem(file, sheet, row, "successor_id", message)


def _late_problem(
    milestone_id: str, finish: str, uploaded: Mapping[str, pl.DataFrame], carried_from: int | None
) -> Problem:
    """A milestone whose computed finish passes LATEST_DATE, at a dependency leading to it (else its own row)."""
    message = (
        f"milestone '{milestone_id}' would finish {'on ' if not finish.startswith('after') else ''}{finish} "
        f"after its predecessors, lags and durations, later than {LATEST_DATE}, the last date this program "
        "accepts; check the lag_days of the dependencies leading to it"
    )
    dependencies = uploaded.get("dependencies")
    if dependencies is not None:
        hits = dependencies.filter(pl.col("successor_id") == milestone_id)
        if hits.height:
            file, sheet, row = hits.select(*PROVENANCE).row(0)
            return Problem(file, sheet, row, "lag_days", message)
    milestones = uploaded.get("milestones")
    if milestones is not None:
        hits = milestones.filter(pl.col("milestone_id") == milestone_id)
        if hits.height:
            file, sheet, row = hits.select(*PROVENANCE).row(0)
            return Problem(file, sheet, row, "milestone_id", message)
    return Problem(_carried(carried_from), "dependencies", None, "lag_days", message)
