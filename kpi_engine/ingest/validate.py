"""Turn table parts (text) into canonical typed frames, reporting every problem on the way.

All checks are column-wise Polars expressions; Python only builds Problem objects for
the rows that fail.  Unknown references (a task naming a milestone that does not exist)
are not checked here: the store checks them against the whole snapshot.
"""

from __future__ import annotations

import polars as pl

from kpi_engine.core.errors import Problem
from kpi_engine.core.schema import DIRECTIONS, KEYS, STATUS_WORDS, TABLES, conform
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
    table, labels, columns = part.table, part.labels, TABLES[part.table]
    problems: list[Problem] = []
    warnings: list[Problem] = []
    raw = part.frame  # text as read, quoted in messages
    present = [n for n in columns if n in raw.columns]
    for name, col in columns.items():
        if name not in raw.columns and col.required:
            label = labels.get(name, name)
            problems.append(Problem(part.file, part.sheet, None, label, missing_column_message(label)))

    def report(mask: pl.Series | pl.Expr, name: str, message: pl.Expr) -> None:
        if isinstance(mask, pl.Series):
            if not mask.any():
                return
            mask = pl.lit(mask)
        problems.extend(problems_where(raw, mask, labels.get(name, name), message))

    # Excel errors (#N/A) anywhere and ids Excel rounded (1.21143E+15); a cheap test finds
    # the columns worth the regex, then those cells are reported once and treated as blank
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
            report(mask, name, message)
            reported[name] = mask if name not in reported else reported[name] | mask
    text = {n: (raw[n].set(reported[n], None) if n in reported else raw[n]) for n in present}  # type: ignore[arg-type]

    typed: dict[str, pl.Series] = {}
    date_cols = [n for n in present if columns[n].dtype == pl.Date]
    if date_cols:
        parsed = parse_date_columns({n: text[n] for n in date_cols}, order=part.date_order, epoch1904=part.epoch1904)
        for n, result in parsed.items():
            if result.order_problem:
                problems.append(Problem(part.file, part.sheet, None, labels.get(n, n), result.order_problem))
            report(result.bad, n, bad_date_message(pl.col(n)))
            typed[n] = result.dates
    for n in present:
        if columns[n].dtype in (pl.Float64, pl.Int64):
            values = parse_numbers(text[n], decimal_comma=part.decimal_comma)
            report(text[n].is_not_null() & values.is_null(), n, _number_message(pl.col(n)))
            if columns[n].dtype == pl.Int64:
                fractional = (values != values.round(0)).fill_null(False)
                report(fractional, n, pl.format("'{}' is not a whole number of days", pl.col(n)))
                values = values.set(fractional, None).cast(pl.Int64)  # type: ignore[arg-type]
            typed[n] = values

    # required values: blank cells not already reported as something else
    for n in present:
        if columns[n].required and not columns[n].blank_allowed:
            blank = text[n].is_null()
            report(blank & ~reported[n] if n in reported else blank, n, pl.lit(MISSING_VALUE))

    if table == "kpis" and "direction" in present:
        key = text["direction"].str.to_lowercase().str.replace_all(r"[\s\-_]+", "_")
        known = key.is_in(DIRECTIONS)
        report(
            text["direction"].is_not_null() & ~known,
            "direction",
            pl.format("direction must be higher_is_better or lower_is_better, not '{}'", pl.col("direction")),
        )
        typed["direction"] = key.set(~known, None)  # type: ignore[arg-type]
    if table == "milestones" and "reported_status" in present:
        key = text["reported_status"].str.to_lowercase().str.replace_all(r"\s+", " ")
        known = key.is_in(list(STATUS_WORDS)) | (key == "unknown")
        report(
            text["reported_status"].is_not_null() & ~known,
            "reported_status",
            pl.format(
                f"'{{}}' is not a status; use one of: {ACCEPTED_STATUSES} (or leave it blank)",
                pl.col("reported_status"),
            ),
        )
        typed["reported_status"] = key.replace_strict(STATUS_WORDS, default=None, return_dtype=pl.String)
    if table == "milestones" and "percent_complete" in present:
        pct = typed["percent_complete"]
        report(
            ((pct < 0) | (pct > 100)).fill_null(False),
            "percent_complete",
            pl.format("'{}' is outside 0-100", pl.col("percent_complete")),
        )
        if pct.drop_nulls().len() and pct.max() <= 1 and ((pct > 0) & (pct < 1)).any():  # type: ignore[operator]
            warnings.append(
                Problem(
                    part.file,
                    part.sheet,
                    None,
                    labels["percent_complete"],
                    "every value is between 0 and 1 and is read as a percentage (0.8 = 0.8 %); write 80 for 80 %",
                )
            )

    if table == "mitigations":  # candidate workarounds (DOMAIN.md section 7)
        for name, bad, rule in (("cost", "< 0", "cannot be negative"), ("fraction", "outside", "is outside 0 to 1")):
            if name in typed:
                value = typed[name]
                mask = (value < 0) if bad == "< 0" else ((value < 0) | (value > 1))
                report(mask.fill_null(False), name, pl.format(f"'{{}}' {rule}", pl.col(name)))

    out = pl.DataFrame(
        [
            (typed.get(n, text[n]) if n in present else pl.repeat(None, raw.height, dtype=col.dtype, eager=True))
            .alias(n)
            .cast(col.dtype)
            for n, col in columns.items()
        ]
    )
    problems.extend(_order_checks(table, pl.concat([out, raw.select(PROVENANCE)], how="horizontal"), labels))
    result = pl.concat([conform(table, out), raw.select(PROVENANCE)], how="horizontal")
    return result, problems, warnings


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
    # counting distinct keys is cheaper than marking duplicates: do that only when there are some
    if frame.select(keyed.n_unique() == pl.len()).item():
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
