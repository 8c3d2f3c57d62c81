"""The limits every upload is held to, in one place.

Each limit has a default here and an environment variable that overrides it, read when
the limit is used (so a deployment can change it without a code change):

=========================  ===========================  =========================================
limit                      environment variable         default
=========================  ===========================  =========================================
one uploaded file          ``KPI_MAX_UPLOAD_MB``        50 MB (Streamlit's ``server.maxUploadSize``
                                                        in ``.streamlit/config.toml`` says the same)
a workbook, unpacked       ``KPI_MAX_UNPACKED_MB``      500 MB
entries in a workbook      ``KPI_MAX_WORKBOOK_PARTS``   10,000
cells a workbook spans     ``KPI_MAX_WORKBOOK_CELLS``   5,000,000
tasks in a plan file       ``KPI_MAX_PLAN_TASKS``       200,000 (MS Project XML/.mpp, P6 .xer)
=========================  ===========================  =========================================

A workbook is a zip archive: a small file may unpack to gigabytes (a "zip bomb"). The
archive's declared sizes and entry count are checked before any reader opens it, and the
declared sizes are then verified while unpacking in bounded pieces, so neither a bomb nor
an archive that understates its sizes gets to a reader.

The reader (calamine) holds a sheet as a full rectangle from its first to its last cell,
about 150-400 bytes per cell by the time the cells are text in a frame: two cells at A1
and ZZ100000 of a 2 KB file cost gigabytes. The rectangle every sheet spans is therefore
measured from its cell references while unpacking, and the cell limit bounds the memory
a workbook can take (5 million cells: 1-2 GB at worst, a few hundred MB for real sheets;
a real workbook of 50 MB holds about that many cells).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from kpi_engine.core.errors import InputError, Problem

#: 1 MB as Streamlit and the CLI count it.
MB = 1024 * 1024

#: The largest file accepted, in MB (equal to ``server.maxUploadSize`` of the dashboard).
DEFAULT_MAX_UPLOAD_MB = 50.0
#: A workbook may not unpack to more than this, in MB (calamine has no limit of its own):
#: ten times the upload limit, the most real worksheets compress.
DEFAULT_MAX_UNPACKED_MB = 500.0
#: Workbooks hold tens of parts (a few per sheet); tens of thousands means a hostile archive.
DEFAULT_MAX_WORKBOOK_PARTS = 10_000
#: The sheets of a workbook may span at most this many cells in all (see the module docstring).
DEFAULT_MAX_WORKBOOK_CELLS = 5_000_000
#: A plan file (MS Project, P6) may hold at most this many tasks: the largest real
#: programmes hold tens of thousands; every task costs a few kB while it is read.
DEFAULT_MAX_PLAN_TASKS = 200_000
#: A large part may not unpack at a ratio above this: worksheets compress 10-100 times,
#: bombs reach deflate's limit of about 1,000.
MAX_RATIO = 500
#: Parts smaller than this (in bytes) may have any ratio: a blank sheet compresses well.
RATIO_CHECKED_FROM = 1_000_000


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise InputError(f"the environment variable {name} must be a number above 0, got '{raw}'")
    return value


def max_upload_mb(explicit: float | None = None) -> float:
    """Return the size limit of one uploaded file in MB.

    Parameters
    ----------
    explicit
        A limit given on purpose (the CLI's ``--max-upload-mb``); wins when given.

    Returns
    -------
    float
        ``explicit``, else ``$KPI_MAX_UPLOAD_MB``, else :data:`DEFAULT_MAX_UPLOAD_MB`.

    Raises
    ------
    InputError
        The environment variable is not a number above 0.
    """
    if explicit is not None:
        return explicit
    return _env_number("KPI_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB)


def max_unpacked_bytes() -> int:
    """Return how many bytes a workbook may unpack to (``$KPI_MAX_UNPACKED_MB``, else 500 MB)."""
    return int(_env_number("KPI_MAX_UNPACKED_MB", DEFAULT_MAX_UNPACKED_MB) * MB)


def max_workbook_parts() -> int:
    """Return how many entries a workbook archive may hold (``$KPI_MAX_WORKBOOK_PARTS``, else 10,000)."""
    return int(_env_number("KPI_MAX_WORKBOOK_PARTS", DEFAULT_MAX_WORKBOOK_PARTS))


def max_workbook_cells() -> int:
    """Return how many cells the sheets of a workbook may span (``$KPI_MAX_WORKBOOK_CELLS``, else 5,000,000)."""
    return int(_env_number("KPI_MAX_WORKBOOK_CELLS", DEFAULT_MAX_WORKBOOK_CELLS))


def max_plan_tasks() -> int:
    """Return how many tasks one plan file may hold (``$KPI_MAX_PLAN_TASKS``, else 200,000)."""
    return int(_env_number("KPI_MAX_PLAN_TASKS", DEFAULT_MAX_PLAN_TASKS))


def oversized_problems(sizes: Iterable[tuple[str, int]], max_mb: float, raise_hint: str = "") -> list[Problem]:
    """One problem per file larger than ``max_mb``.

    Parameters
    ----------
    sizes
        (file name, size in bytes) of each file.
    max_mb
        The limit in MB (1 MB = 1,048,576 bytes).
    raise_hint
        How this caller raises the limit, e.g. ``"with --max-upload-mb"``; blank to only
        advise splitting the file.

    Returns
    -------
    list[Problem]
        File-level problems (no sheet, row or column), in the order given.
    """
    advice = f"split it or raise the limit {raise_hint}" if raise_hint else "split it into smaller files"
    return [
        Problem(
            name, "-", None, "", f"the file is {size / MB:.3g} MB, over the {max_mb:g} MB limit for one file; {advice}"
        )
        for name, size in sizes
        if size > max_mb * MB
    ]
