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
    from kpi_engine.ingest import read_paths, read_upload

    def parse(i: int, week: Path) -> tuple[list[SourceFile], ParsedUpload]:
        files = read_paths([folder / "portfolio", week] if i == 0 else [week])
        return files, read_upload(files)

    weeks = sample_weeks(folder)
    results = []
    # the next week is read and checked while this one is stored (the store's work waits on
    # the database and Polars much of the time); weeks are stored in order, one at a time
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpi-sample-reader")
    try:
        upcoming = reader.submit(parse, 0, weeks[0][1])
        for i, (as_of, _) in enumerate(weeks):
            files, upload = upcoming.result()
            if i + 1 < len(weeks):
                upcoming = reader.submit(parse, i + 1, weeks[i + 1][1])
            results.append(store.ingest(upload, as_of, author="sample", sources=files))
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
    return results
