"""Load the bundled sample portfolio (data/sample) into a store, one snapshot per week."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from kpi_engine.core.errors import InputError
from kpi_engine.store import IngestResult, Store

if TYPE_CHECKING:
    from kpi_engine.ingest import ParsedUpload, SourceFile

#: The bundled sample, next to the package in the repository.
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"


def sample_weeks(folder: Path = SAMPLE_DIR) -> list[tuple[date, Path]]:
    """Return the weekly upload folders of a sample (``weeks/YYYY-MM-DD``), oldest first.

    Raises
    ------
    InputError
        The folder holds no ``portfolio`` folder or no week folder.
    """
    weeks_dir = folder / "weeks"
    weeks = []
    for child in weeks_dir.iterdir() if weeks_dir.is_dir() else ():
        try:
            weeks.append((date.fromisoformat(child.name), child))
        except ValueError:
            continue  # not a week folder (notes, a README)
    if not (folder / "portfolio").is_dir() or not weeks:
        raise InputError(
            f"{folder} is not a sample portfolio: it needs a 'portfolio' folder and 'weeks/YYYY-MM-DD' folders"
        )
    return sorted(weeks)


def load_sample(store: Store, folder: Path = SAMPLE_DIR) -> list[IngestResult]:
    """Store the sample portfolio: one snapshot per week folder, dated by the folder name.

    The first week is ``portfolio/`` (objectives, KPIs, projects, links, dependencies,
    actuals) plus the first week's files; each later week is uploaded alone, as a PMO's
    weekly partial upload. Loading the sample again stores nothing new.

    Parameters
    ----------
    store
        Where to store the snapshots.
    folder
        The sample folder (default: the bundled ``data/sample``).

    Returns
    -------
    list[IngestResult]
        One result per week, oldest first.
    """
    import kpi_engine.ingest  # noqa: F401  # imported here, never first in the reading thread

    weeks = sample_weeks(folder)
    results = []
    # the next week is read and checked while the store writes this one (two cores: both at once)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sample-read") as reader:
        pending = [reader.submit(_read_week, folder, week, i == 0) for i, (_, week) in enumerate(weeks)]
        try:
            for (as_of, _), read in zip(weeks, pending, strict=True):
                files, upload = read.result()
                results.append(store.ingest(upload, as_of, author="sample", sources=files))
        finally:
            for read in pending:  # a failure stops the reading of later weeks too
                read.cancel()
    return results


def _read_week(folder: Path, week: Path, first: bool) -> tuple[list[SourceFile], ParsedUpload]:
    """Read and check one week's files (the first week with the ``portfolio`` folder)."""
    from kpi_engine.ingest import read_paths, read_upload

    files = read_paths([folder / "portfolio", week] if first else [week])
    return files, read_upload(files)
