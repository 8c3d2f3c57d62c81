"""Pieces the tool adapters share: picking and stacking columns, KPI tags, milestone grouping, predecessors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from kpi_engine.core.errors import Problem
from kpi_engine.ingest.dates import NO_DATE
from kpi_engine.ingest.model import PROVENANCE, Block, Outcome, TablePart, problems_where
from kpi_engine.ingest.values import is_flag_text, split_list, to_flag


def pick(block: Block, fields: dict[str, tuple[str, ...]]) -> tuple[pl.DataFrame, dict[str, str]]:
    """Select the columns a tool adapter reads, renamed to field names.

    Returns the frame (a field whose header is absent is an all-null column) and
    field -> header text as the file shows it (absent fields are left out).
    """
    exprs, labels = [], {}
    for name, keys in fields.items():
        column = block.column(*keys)
        if column is None:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        else:
            exprs.append(pl.col(column).alias(name))
            labels[name] = block.label(column)
    return block.data.select(*exprs, *PROVENANCE), labels


def read_together(
    blocks: list[Block], read: Callable[[Block], tuple[pl.DataFrame, dict[str, str]]]
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Read the blocks of a tool that takes several files as one upload (Jira, Asana).

    Each block is read with ``read`` (picked fields and field -> header); the rows are
    stacked in upload order and a field's header is the one of the first block that has it.
    """
    read_blocks = [read(b) for b in blocks]
    labels: dict[str, str] = {}
    for _, block_labels in reversed(read_blocks):
        labels.update(block_labels)
    return pl.concat([frame for frame, _ in read_blocks], how="vertical_relaxed"), labels


def upload_place(blocks: list[Block]) -> tuple[str, str]:
    """The file and sheet named on parts read from several blocks together.

    One block names its own file and sheet; several name their distinct files, comma
    separated in upload order, and the sheet ``-``.
    """
    first = blocks[0]
    return (first.file, first.name) if len(blocks) == 1 else (", ".join(dict.fromkeys(b.file for b in blocks)), "-")


def kpi_links(frame: pl.DataFrame, milestone: str, tags: pl.Expr, prefix: str) -> pl.DataFrame:
    """Links from tags like ``kpi:K-OTD`` on rows whose milestone is known (Jira labels, Asana tags).

    ``tags`` is a list expression over ``frame``; every tag starting with ``prefix`` (any case)
    links the row's ``milestone`` column to the KPI named after the prefix.  Returns the
    provenance, ``milestone_id`` and ``kpi_id``, one row per distinct pair in file order.
    """
    return (
        frame.select(milestone, *PROVENANCE, _tag=tags)
        .explode("_tag")
        .filter(pl.col("_tag").str.to_lowercase().str.starts_with(prefix))
        .select(
            *PROVENANCE,
            milestone_id=pl.col(milestone),
            kpi_id=pl.col("_tag").str.slice(len(prefix)).str.strip_chars(),
        )
        .unique(["milestone_id", "kpi_id"], keep="first", maintain_order=True)
    )


#: canonical column -> (expression over picked fields, the fields it reads, header to name when absent)
Spec = dict[str, tuple[pl.Expr, tuple[str, ...], str]]


def build(frame: pl.DataFrame, labels: dict[str, str], spec: Spec) -> tuple[pl.DataFrame, dict[str, str]]:
    """Compute the canonical columns of a table part from picked fields.

    A column none of whose fields the file has is left out (so the validation reports a
    required one as a missing column, naming the header it expected, rather than every
    row as blank); its label is the expected header.  Columns reading no field (computed
    values) are always kept.

    Returns the frame (with the provenance columns) and canonical column -> header label.
    """
    exprs, out = [], {}
    for column, (expr, fields, expected) in spec.items():
        found = [labels[f] for f in fields if f in labels]
        out[column] = found[0] if found else expected
        if found or not fields:
            exprs.append(expr.alias(column))
    return frame.select(*exprs, *PROVENANCE), out


#: Words status columns use for progress, not health: read as blank (= Unknown).
PROGRESS_WORDS = ("not started", "in progress", "future task", "on hold", "to do", "open", "planned")
#: Status words of the tools that the model's list lacks -> the model's word: Smartsheet's
#: RYGB symbol Blue marks finished work; MS Project's own Status field says On Schedule.
TOOL_STATUS_WORDS = {"blue": "Complete", "on schedule": "Green"}


def status_text(status: pl.Expr) -> pl.Expr:
    """A status column as the model reads it.

    Progress words (:data:`PROGRESS_WORDS`) are blank; Blue and On Schedule become
    Complete and Green; every other text is kept, so that a word the model does not know
    is reported with its cell rather than dropped.
    """
    key = status.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    return (
        pl.when(key.is_in(PROGRESS_WORDS))
        .then(None)
        .when(key.is_in(list(TOOL_STATUS_WORDS)))
        .then(key.replace_strict(TOOL_STATUS_WORDS, default=None))
        .otherwise(status)
    )


def blank_na(text: pl.Expr) -> pl.Expr:
    """Null where a date cell says NA (MS Project's "no date")."""
    return pl.when(text.str.to_lowercase().is_in(NO_DATE)).then(None).otherwise(text)


def part(
    block_or_file: Block | tuple[str, str],
    table: str,
    frame: pl.DataFrame,
    labels: dict[str, str],
    source: str,
    *,
    derived: bool = False,
    decimal_comma: bool = False,
    epoch1904: bool = False,
) -> TablePart:
    """Wrap adapter output as a TablePart (columns named canonically, text values)."""
    if isinstance(block_or_file, Block):
        file, sheet = block_or_file.file, block_or_file.name
        decimal_comma, epoch1904 = block_or_file.sheet.decimal_comma, block_or_file.sheet.epoch1904
    else:
        file, sheet = block_or_file
    return TablePart(
        table=table,
        frame=frame,
        labels=labels,
        file=file,
        sheet=sheet,
        source=source,
        decimal_comma=decimal_comma,
        epoch1904=epoch1904,
        derived=derived,
    )


def flag_problems(frame: pl.DataFrame, column: str, label: str) -> list[Problem]:
    """Cells of a Yes/No column that are neither."""
    return problems_where(
        frame, ~is_flag_text(pl.col(column)), label, pl.format("'{}' is not Yes or No", pl.col(column))
    )


def not_imported(frame: pl.DataFrame, mask: pl.Expr, column: str, why: str) -> list[Problem]:
    """Warnings for rows an adapter leaves out on purpose, one per row, saying why."""
    return problems_where(frame, mask, column, pl.lit(why))


def assign_to_milestones(level: np.ndarray, is_milestone: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For each row of a schedule, the position of the milestone row it belongs to (-1 when none).

    The rule: a row belongs to the first milestone at or below it under the same outline
    parent (a milestone belongs to itself); a row with no such milestone belongs to the
    milestone its parent summary belongs to, by the same rule, up to the top.  Rows of
    different ``group`` values (projects) never share a parent.

    Walks the outline level by level; each level is one vectorised pass.
    """
    n = len(level)
    index = np.arange(n)
    parent = np.full(n, -1)
    for lvl in np.unique(level):
        # the last row above with a smaller level, within the same group
        last = (
            pl.DataFrame({"g": group, "cand": np.where(level < lvl, index, -1)})
            .select(pl.when(pl.col("cand") >= 0).then(pl.col("cand")).forward_fill().over("g").fill_null(-1))
            .to_series()
            .to_numpy()
        )
        at = level == lvl
        parent[at] = last[at]
    resolved = (
        pl.DataFrame({"g": group, "p": parent, "m": np.where(is_milestone, index, -1)})
        .select(pl.when(pl.col("m") >= 0).then(pl.col("m")).backward_fill().over("g", "p").fill_null(-1))
        .to_series()
        .to_numpy()
        .copy()
    )
    for lvl in np.unique(level):
        todo = (level == lvl) & (resolved < 0) & (parent >= 0)
        resolved[todo] = resolved[parent[todo]]
    return resolved


_PRED = r"(?i)^(?<id>\d+)\s*(?<type>[a-z]{2})?\s*(?:(?<sign>[+-])\s*(?<amount>\d+(?:[.,]\d+)?)\s*(?<unit>[a-z%]*)\.?)?$"
_LAG_UNITS = {
    **dict.fromkeys(("", "d", "day", "days", "ed", "eday", "edays", "edy", "edys"), 1),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks", "ew", "ewk", "ewks", "eweek", "eweeks"), 7),
}


def predecessor_links(frame: pl.DataFrame, column: str, label: str) -> tuple[pl.DataFrame, list[Problem]]:
    """Parse a Predecessors column (``3``, ``3FS+2 days``, ``4,7SS``) into milestone dependencies.

    Parameters
    ----------
    frame
        The schedule's rows with ``column`` (the predecessors text), ``_id`` (the row ID
        predecessors name), ``_milestone`` (the milestone the row belongs to, or null) and
        the provenance columns.

    Returns
    -------
    dependencies : DataFrame
        ``predecessor_id``, ``successor_id``, ``lag_days`` (text) and provenance: one row per
        pair of different milestones, the largest lag kept when several links join the same pair.
    problems : list of Problem
        Links between two milestones of another type than finish-to-start (a link inside
        one milestone makes no dependency, whatever its type), lags in unsupported units,
        text that is not a predecessor, IDs that are not rows of the file.
    """
    items = (
        frame.filter(pl.col(column).is_not_null())
        .select(pl.col(column).alias("_text"), split_list(pl.col(column)).alias("_item"), "_milestone", *PROVENANCE)
        .explode("_item")
        .filter(pl.col("_item").is_not_null())
        .with_columns(_p=pl.col("_item").str.extract_groups(_PRED))
        .unnest("_p")
    )
    problems: list[Problem] = []
    unparsed = pl.col("id").is_null()
    problems += problems_where(
        items,
        unparsed,
        label,
        pl.format("'{}' is not a predecessor like 3, 3FS or 3FS+2 days", pl.col("_item")),
    )
    link_type = pl.col("type").str.to_uppercase()
    wrong_type = link_type.is_not_null() & (link_type != "FS")
    unit = pl.col("unit").fill_null("").str.to_lowercase()
    bad_unit = ~unparsed & pl.col("amount").is_not_null() & ~unit.is_in(list(_LAG_UNITS))
    problems += problems_where(
        items,
        bad_unit,
        label,
        pl.format(
            "'{}': lag unit '{}' is not supported; use days (d, ed) or weeks (w, ew)", pl.col("_item"), pl.col("unit")
        ),
    )
    milestone_of_id = frame.select(id=pl.col("_id"), _pred_milestone=pl.col("_milestone"), _found=pl.lit(True)).unique(
        "id", keep="first"
    )
    good = items.filter(~unparsed & ~bad_unit).join(milestone_of_id, on="id", how="left", maintain_order="left")
    problems += problems_where(
        good,
        pl.col("_found").is_null(),
        label,
        pl.format("predecessor {} is not a row ID of this file", pl.col("id")),
    )
    # a link inside one milestone makes no dependency: only links between milestones must be FS
    cross = (
        pl.col("_found").fill_null(False)
        & pl.col("_milestone").is_not_null()
        & pl.col("_pred_milestone").is_not_null()
        & (pl.col("_milestone") != pl.col("_pred_milestone"))
    )
    problems += problems_where(
        good,
        cross & wrong_type,
        label,
        pl.format("'{}': only finish-to-start (FS) dependencies are supported, not {}", pl.col("_item"), link_type),
    )
    known = good.filter(cross & ~wrong_type.fill_null(False))
    sign = pl.when(pl.col("sign") == "-").then(-1.0).otherwise(1.0)
    amount = pl.col("amount").str.replace(",", ".").cast(pl.Float64).fill_null(0.0)
    lag = sign * amount * unit.replace_strict(_LAG_UNITS, default=1, return_dtype=pl.Float64)
    pairs = (
        known.with_columns(_lag=lag)
        .sort("_lag", descending=True, maintain_order=True)
        .unique(["_pred_milestone", "_milestone"], keep="first", maintain_order=True)
        .sort("_row")
        .select(
            *PROVENANCE,
            predecessor_id=pl.col("_pred_milestone"),
            successor_id=pl.col("_milestone"),
            # whole days stay "2" (not "2.0"); a fractional lag keeps its fraction and is reported
            lag_days=pl.when(pl.col("_lag") == pl.col("_lag").round(0))
            .then(pl.col("_lag").cast(pl.Int64).cast(pl.String))
            .otherwise(pl.col("_lag").cast(pl.String)),
        )
    )
    return pairs, problems


def distinct_dependencies(pairs: pl.DataFrame) -> pl.DataFrame:
    """Dependencies from ``_pos``, provenance, ``predecessor_id`` and ``successor_id`` rows.

    In file order; pairs with a blank side, a milestone depending on itself, and repeats
    of a pair are left out. Tools that say "blocks" give no lag: ``lag_days`` is 0.
    """
    return (
        pairs.sort("_pos", maintain_order=True)
        .filter(
            pl.col("predecessor_id").is_not_null()
            & pl.col("successor_id").is_not_null()
            & (pl.col("predecessor_id") != pl.col("successor_id"))
        )
        .unique(["predecessor_id", "successor_id"], keep="first", maintain_order=True)
        .select(*PROVENANCE, "predecessor_id", "successor_id", lag_days=pl.lit("0"))
    )


def zero_duration(text: pl.Expr) -> pl.Expr:
    """True where a Duration cell is zero (``0``, ``0 days``, ``0d``, ``0 hrs``, ``0 days?``)."""
    amount = text.str.extract(r"^\s*([0-9]+(?:[.,][0-9]+)?)", 1).str.replace(",", ".").cast(pl.Float64, strict=False)
    return (amount == 0).fill_null(False)


def milestone_flag(block: Block, labels: dict[str, str], what: str) -> tuple[pl.Expr | None, list[Problem]]:
    """Which rows of a schedule are milestones: the ``Milestone`` column, else a zero ``Duration``.

    Returns the flag expression (None when the sheet has neither column) and the problems:
    cells of the Milestone column that are not yes/no, or the missing column.
    """
    if "milestone" in labels:
        return to_flag(pl.col("milestone")).fill_null(False), []
    if "duration" in labels:
        return zero_duration(pl.col("duration")), []
    message = f"required column 'Milestone' is missing ({what}, or a 'Duration' column where milestones are 0)"
    return None, [Problem(block.file, block.name, None, "Milestone", message)]


def row_position(block: Block) -> pl.Expr:
    """A row's position under the header (1 = first row below it), as schedules number rows."""
    return (pl.col("_row") - block.header_row).cast(pl.String)


#: Columns a schedule adapter (MS Project, Smartsheet) prepares for :func:`schedule_parts`.
SCHEDULE_FIELDS = ("name", "owner", "bstart", "bfinish", "finish", "afinish", "pct", "status", "preds")


def schedule_parts(
    block: Block,
    rows: pl.DataFrame,
    labels: dict[str, str],
    source: str,
    tool: str,
    expected: dict[str, str],
    *,
    flags_read: bool = True,
) -> Outcome:
    """Milestones, tasks and dependencies of a schedule whose rows an adapter has prepared.

    ``rows`` holds the text fields of :data:`SCHEDULE_FIELDS` plus ``_key`` (the id a row
    gets as milestone or task), ``_project``, ``_id`` (the row id predecessors name),
    ``_level`` (outline level), ``_summary`` and ``_ms`` (booleans) and the provenance
    columns; ``labels`` names the header each field came from, ``expected`` the header
    the tool calls a field (named when the file lacks it).  An optional ``_lead`` column
    (Int64, -1 for none) gives the position of the milestone a row's successor links lead
    to (plan files, :func:`~kpi_engine.ingest.tools.plans.lead_milestones`); it wins over
    the outline rule of :func:`assign_to_milestones`.  A plan with tasks but no milestone is
    a problem, unless ``flags_read`` is False (the adapter found milestone flags it could not
    read, and said so).
    """
    outcome = Outcome()
    position = assign_to_milestones(
        rows["_level"].to_numpy(), rows["_ms"].to_numpy(), rows["_project"].rank("dense").to_numpy()
    )
    if "_lead" in rows.columns:
        # a plan file says which milestone a task leads to: that wins over the outline
        lead = rows["_lead"].to_numpy()
        position = np.where(lead >= 0, lead, position)
    at = pl.Series(np.maximum(position, 0))
    rows = rows.with_columns(_milestone=rows["_key"].gather(at).set(pl.Series(position < 0), None))
    col = pl.col

    def want(field: str) -> str:
        return expected.get(field, field)

    finish = labels.get("finish", want("finish"))
    milestones = rows.filter(col("_ms"))
    work_count = rows.filter(~col("_ms") & ~col("_summary")).height
    if flags_read and not milestones.height and work_count:
        # every task would be left out one warning at a time and the upload then "holds no rows"
        outcome.problems.append(
            Problem(
                block.file,
                block.name,
                None,
                "",
                f"no task of the plan is marked as a milestone, so none of its {work_count} tasks can be "
                f"linked to a KPI; mark the milestones in {tool} and export again",
            )
        )
        return outcome
    if "bfinish" in labels:
        outcome.warnings += not_imported(
            milestones,
            col("finish").is_not_null() & blank_na(col("bfinish")).is_null(),
            labels["bfinish"],
            f"no baseline finish, so the milestone's {finish} is used as its baseline and it shows no slip; "
            f"save a baseline in {tool}",
        )
    elif milestones.height:
        outcome.warnings.append(
            Problem(
                block.file,
                block.name,
                None,
                "Baseline Finish",
                f"the export has no Baseline Finish column, so each milestone's {finish} is used as its "
                "baseline and none shows slip",
            )
        )
    frame, frame_labels = build(
        milestones,
        labels,
        {
            "milestone_id": (col("_key"), (), labels["key"]),
            "project_id": (col("_project"), (), labels["project"]),
            "name": (col("name"), ("name",), want("name")),
            "owner": (col("owner"), ("owner",), want("owner")),
            "baseline_start": (col("bstart"), ("bstart",), want("bstart")),
            "baseline_finish": (
                pl.coalesce(blank_na(col("bfinish")), col("finish")),
                ("bfinish", "finish"),
                want("finish"),
            ),
            "forecast_finish": (col("finish"), ("finish",), want("finish")),
            "actual_finish": (col("afinish"), ("afinish",), want("afinish")),
            "percent_complete": (col("pct"), ("pct",), want("pct")),
            "reported_status": (col("status"), ("status",), want("status")),
        },
    )
    outcome.parts.append(part(block, "milestones", frame, frame_labels, source))
    work = rows.filter(~col("_ms") & ~col("_summary"))
    outcome.warnings += not_imported(
        work,
        col("_milestone").is_null(),
        labels.get("name", want("name")),
        (
            "no successor of this task leads to a milestone and no milestone follows it under its summary, "
            "so it belongs to no milestone; it was not imported"
            if "_lead" in rows.columns
            else "no milestone follows this task under its summary, so it belongs to no milestone; it was not imported"
        ),
    )
    frame, frame_labels = build(
        work.filter(col("_milestone").is_not_null()),
        labels,
        {
            "task_id": (col("_key"), (), labels["key"]),
            "milestone_id": (col("_milestone"), (), labels.get("name", want("name"))),
            "name": (col("name"), ("name",), want("name")),
            "owner": (col("owner"), ("owner",), want("owner")),
            "forecast_finish": (col("finish"), ("finish",), want("finish")),
            "actual_finish": (col("afinish"), ("afinish",), want("afinish")),
        },
    )
    outcome.parts.append(part(block, "tasks", frame, frame_labels, source))
    if "preds" in labels:
        deps, problems = predecessor_links(rows, "preds", labels["preds"])
        outcome.problems += problems
        if deps.height:
            outcome.parts.append(
                part(
                    block,
                    "dependencies",
                    deps,
                    dict.fromkeys(("predecessor_id", "successor_id", "lag_days"), labels["preds"]),
                    source,
                )
            )
    return outcome


def each_block(blocks: list[Block], adapt_block: Callable[[Block], Outcome]) -> Outcome:
    """Map every sheet of an upload on its own (each file of a schedule tool is its own schedule)."""
    outcome = Outcome()
    for block in blocks:
        outcome.extend(adapt_block(block))
    return outcome
