"""One adapter per tool export: each maps blocks (header + rows) onto canonical table parts.

Plan files (MS Project XML and .mpp, Primavera P6 .xer) are not sheets: each has a reader
that maps the whole file (:data:`PLAN_READERS`).
"""

from __future__ import annotations

from collections.abc import Callable

from kpi_engine.ingest.model import Block, Outcome, SourceFile
from kpi_engine.ingest.tools import asana, jira, mpp, mspdi, msproject, p6, smartsheet

#: tool name -> adapter taking every block of the upload recognised as that tool.
ADAPTERS: dict[str, Callable[[list[Block]], Outcome]] = {
    "jira": jira.adapt,
    "msproject": msproject.adapt,
    "smartsheet": smartsheet.adapt,
    "asana": asana.adapt,
}

#: plan file format (``detect.plan_format``) -> reader of one such file.
PLAN_READERS: dict[str, Callable[[SourceFile], Outcome]] = {
    "mspdi": mspdi.read_mspdi,
    "mpp": mpp.read_mpp,
    "xer": p6.read_xer,
}

#: plan format -> how a problem names the kind of file
PLAN_NAMES = {
    "mspdi": "an MS Project XML plan",
    "mpp": "an MS Project plan (.mpp)",
    "xer": "a Primavera P6 schedule (.xer)",
}


def read_plan(file: SourceFile, plan: str | None, source: str) -> Outcome:
    """Read one plan file as ``source`` asks; every reading problem is a problem naming the file.

    Parameters
    ----------
    file
        The uploaded file.
    plan
        Its format as ``detect.plan_format`` recognised it (None: not a plan file).
    source
        ``auto``, or the source the user named (``msproject`` or ``p6`` fit plan files).
    """
    from kpi_engine.core.errors import InputError, Problem, RowError
    from kpi_engine.ingest.detect import PLAN_SOURCES

    if plan is None or source not in ("auto", PLAN_SOURCES[plan]):
        what = PLAN_NAMES[plan] if plan is not None else "not a Primavera P6 schedule (.xer)"
        told = "a P6 schedule" if source == "p6" else f"a {source} export"
        message = f"the file is {what}, not {told}; choose source auto"
        if plan is None:
            message = "the file is not a Primavera P6 schedule (.xer): it does not start with ERMHDR"
        return Outcome(problems=[Problem(file.name, "-", None, "", message)])
    try:
        return PLAN_READERS[plan](file)
    except RowError as err:
        return Outcome(problems=[err.problem])
    except InputError as err:
        return Outcome(problems=[Problem(file.name, "-", None, "", str(err))])
