"""One error hierarchy; every message is written for a PMO analyst, not a programmer."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


class KpiError(Exception):
    """Base class of every error the engine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an uploaded file, located as precisely as the file allows.

    ``row`` is the row number a person sees in the file (header = row 1 for CSV and
    sheets), or None when the problem concerns a whole column or file.
    """

    file: str
    sheet: str
    row: int | None
    column: str
    message: str

    def __post_init__(self) -> None:
        # One problem is one line (the CLI prints one per line): a header wrapped onto two
        # lines in Excel reads joined by a space; a quoted cell shows its line break as \n
        # and any other control character as \xNN.
        for name in ("file", "sheet", "column"):
            value = getattr(self, name)
            if isinstance(value, str) and ("\n" in value or "\r" in value):
                object.__setattr__(self, name, " ".join(value.split()))
        if _CONTROL.search(self.message):
            shown = self.message.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
            object.__setattr__(self, "message", _CONTROL.sub(lambda c: f"\\x{ord(c.group()):02x}", shown))

    def __str__(self) -> str:
        row = "-" if self.row is None else str(self.row)
        column = self.column or "-"
        return f"{self.file}, sheet {self.sheet}, row {row}, column {column}: {self.message}"


class InputError(KpiError, ValueError):
    """Input a user gave cannot be used."""


class RowError(InputError):
    """A value in an uploaded file cannot be used."""

    def __init__(self, file: str, sheet: str, row: int | None, column: str, problem: str) -> None:
        self.problem = Problem(file, sheet, row, column, problem)
        super().__init__(str(self.problem))


class UploadRejected(InputError):
    """An upload has problems; nothing of it was stored.

    Holds every problem found (the message lists the first 50 and counts the rest).
    """

    MAX_LISTED = 50

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[: self.MAX_LISTED]]
        extra = len(self.problems) - self.MAX_LISTED
        if extra > 0:
            lines.append(f"... and {extra} more problems")
        super().__init__("\n".join(lines))

    def lines(self) -> list[str]:
        """Return the message lines: one per problem, the first 50, then a count."""
        return str(self).splitlines()


class CycleError(InputError):
    """The dependencies between milestones form a cycle, so no finish date can be computed.

    ``cycles`` holds each cycle found as the milestone ids in dependency order, starting
    and ending with the same id (``["M1", "M3", "M1"]``); ``milestone_ids`` every id on them.
    """

    def __init__(self, cycles: list[list[str]]) -> None:
        self.cycles = [list(c) for c in cycles]
        self.milestone_ids = sorted({m for cycle in self.cycles for m in cycle})
        super().__init__(
            f"dependencies form {describe_cycles(self.cycles)}; a milestone cannot wait for itself, "
            "so no finish date can be computed: remove or correct one of these dependencies"
        )


def describe_cycles(cycles: list[list[str]]) -> str:
    """Name cycles for people: "a cycle M1 -> M3 -> M1" or "cycles A -> A and B -> C -> B"."""
    shown = [" -> ".join(cycle) for cycle in cycles]
    if len(shown) == 1:
        return f"a cycle {shown[0]}"
    return "cycles " + ", ".join(shown[:-1]) + " and " + shown[-1]


class OutOfRangeError(InputError):
    """A date or an amount falls outside the range the program can compute with."""


class NoDataError(KpiError, LookupError):
    """The database holds no snapshot yet (or not the one asked for)."""


class NotFoundError(KpiError, LookupError):
    """A milestone, project, KPI, scenario or profile named by the user does not exist."""


class DatabaseBusyError(KpiError, RuntimeError):
    """Another program holds the database file; retry in a moment."""


class WriteConflictError(KpiError, RuntimeError):
    """Other programs kept writing to the shared store first; nothing of this write was stored."""


class ScenarioError(InputError):
    """A what-if scenario cannot be applied as written."""


class OutputError(KpiError, OSError):
    """A report or export file cannot be written where the user asked."""
