"""An inbox folder: exports saved into it are ingested once, then moved to ``done/`` or ``rejected/``.

The folder is polled (no file-system events: they miss files on network shares). A file is
taken once it is complete, i.e. its size and modification time did not change between two
polls. Files that belong together (a canonical CSV set, an export split into several
files) are saved within seconds of each other, so the inbox waits until the whole folder
has settled: when no waiting file is new or changed since the previous poll, every waiting
file is read as ONE upload. An upload is stored or refused whole, as with ``ingest``:

- stored: its files move to the done folder;
- refused: its files move to the rejected folder, each with ``<name>.problems.txt`` beside
  it listing every problem of the upload, one line each as the command line prints them;
  nothing of it is stored.

Each result is one line, printed and appended to ``inbox.log`` in the watched folder.
What storing means (reading, validating, the store) is passed in by the caller, so this
module only decides which files, when, and where they go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kpi_engine.core.errors import DatabaseBusyError, InputError, KpiError, UploadRejected

#: The log of the inbox, in the watched folder.
LOG_NAME = "inbox.log"
#: Where stored and refused files go, unless the caller names other folders.
DONE_FOLDER, REJECTED_FOLDER = "done", "rejected"
#: The suffix of the problem list written beside a refused file.
PROBLEMS_SUFFIX = ".problems.txt"
#: Files still being written by a browser or a copy tool, and temporary files of Office.
UNFINISHED_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp")

#: Stores the files of one upload and returns the lines that say what was stored;
#: raises :class:`UploadRejected` or :class:`InputError` when the files are refused.
IngestFiles = Callable[[list[Path]], list[str]]


@dataclass(frozen=True)
class InboxResult:
    """What happened to one upload of the inbox.

    Attributes
    ----------
    files
        The names of the files of the upload, in name order.
    stored
        True when stored (moved to the done folder), False when refused.
    lines
        The summary of what was stored, or every problem found.
    """

    files: tuple[str, ...]
    stored: bool
    lines: tuple[str, ...]


@dataclass
class Inbox:
    """A watched folder and where its files go.

    Parameters
    ----------
    folder
        The folder exports are saved into.
    ingest
        Stores the files of one upload (see :data:`IngestFiles`).
    done, rejected
        Where stored and refused files go (default ``folder/done`` and ``folder/rejected``).
    echo
        Receives each log line as it is written (the command line prints it).
    """

    folder: Path
    ingest: IngestFiles
    done: Path | None = None
    rejected: Path | None = None
    echo: Callable[[str], None] = print
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict, init=False)
    _handled: set[tuple[str, int, int]] = field(default_factory=set, init=False)
    #: True when the last poll left the files waiting because storing failed for another reason than the files
    deferred: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if not self.folder.is_dir():
            raise InputError(f"the inbox folder {self.folder} does not exist or is not a folder")
        self.done = self.done or self.folder / DONE_FOLDER
        self.rejected = self.rejected or self.folder / REJECTED_FOLDER
        for target in (self.done, self.rejected):
            if target.resolve() == self.folder.resolve():
                # a file moved into the folder it came from would be read again and again
                raise InputError(f"the folder for done and rejected files cannot be the inbox folder {self.folder}")

    # ------------------------------------------------------------------ polling
    def waiting(self) -> dict[str, tuple[int, int]]:
        """The files waiting in the folder: name -> (size, modification time in ns).

        Sub-folders, hidden files, Office lock files (``~$name.xlsx``), downloads in progress
        and the inbox's own log are not uploads.
        """
        files = {}
        for path in self.folder.iterdir():
            name = path.name
            if name == LOG_NAME or name.startswith((".", "~$")) or name.lower().endswith(UNFINISHED_SUFFIXES):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # moved away between listing and looking
                continue
            if not path.is_file():
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            if (name, *key) not in self._handled:
                files[name] = key
        return files

    def poll(self) -> list[InboxResult]:
        """Look at the folder once; ingest the waiting files as one upload if the folder has settled.

        Returns
        -------
        list of InboxResult
            Empty while nothing waits or something is still being written; else one result.
        """
        now = self.waiting()
        self.deferred = False
        settled = bool(now) and now == self._seen
        self._seen = now
        if not settled:
            return []
        result = self._ingest_batch(sorted(now))
        if result is None:  # the database was busy: the files wait for the next poll
            self.deferred = True
            self._seen = {}
            return []
        for name in result.files:
            self._handled.add((name, *now[name]))
        self._seen = {}
        return [result]

    def run(
        self,
        *,
        interval: float,
        polls: int | None = None,
        until_idle: bool = False,
        stop: Callable[[], bool] = lambda: False,
    ) -> list[InboxResult]:
        """Poll every ``interval`` seconds until ``polls`` polls were made, the folder is idle, or ``stop()``.

        Parameters
        ----------
        interval
            Seconds between two polls.
        polls
            Stop after this many polls (None: no limit).
        until_idle
            Stop at the first poll after which no file waits, or after which the waiting
            files could not be stored for a reason not theirs (the one-shot form for a
            scheduled job: it still waits for files being written to settle).
        stop
            Asked between polls (and while waiting): True ends the watch, never inside an upload.

        Returns
        -------
        list of InboxResult
            Every upload handled, in order.
        """
        results: list[InboxResult] = []
        made = 0
        while not stop():
            results += self.poll()
            made += 1
            if polls is not None and made >= polls:
                break
            if until_idle and (self.deferred or not self.waiting()):
                break
            wake = time.monotonic() + interval
            while not stop() and time.monotonic() < wake:
                time.sleep(min(0.1, interval))
        return results

    # ------------------------------------------------------------------ one upload
    def _ingest_batch(self, names: list[str]) -> InboxResult | None:
        paths = [self.folder / name for name in names]
        try:
            lines = self.ingest(paths)
        except DatabaseBusyError as err:
            self._log(f"waiting   {', '.join(names)}: {err}")
            return None
        except UploadRejected as err:
            return self._refuse(names, [str(p) for p in err.problems])
        except InputError as err:
            return self._refuse(names, [str(err)])
        except (KpiError, OSError) as err:
            # not a fault of the files (the database cannot be written, ...): they stay for the next poll
            self._log(f"waiting   {', '.join(names)}: {err}")
            return None
        done = self.done
        assert done is not None  # set in __post_init__
        summary = f"stored    {', '.join(names)}: {'; '.join(line.rstrip('.') for line in lines)}"
        try:
            self._move(paths, done)
        except OSError as err:  # stored all the same: the files are remembered, never stored twice
            summary += f" (could not move them to {done}: {err.strerror or err})"
        self._log(summary)
        return InboxResult(tuple(names), True, tuple(lines))

    def _refuse(self, names: list[str], problems: list[str]) -> InboxResult:
        rejected = self.rejected
        assert rejected is not None  # set in __post_init__
        try:
            moved = self._move([self.folder / name for name in names], rejected)
        except OSError as err:  # refused all the same: the files are remembered, never read twice
            self._log(f"rejected  {', '.join(names)}: could not move them to {rejected}: {err.strerror or err}")
            return InboxResult(tuple(names), False, tuple(problems))
        text = "\n".join(problems) + "\n"
        for target in moved:
            target.with_name(target.name + PROBLEMS_SUFFIX).write_text(text, encoding="utf-8")
        where = ", ".join(str(t.with_name(t.name + PROBLEMS_SUFFIX)) for t in moved)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        self._log(f"rejected  {', '.join(names)}: {count}, nothing stored; see {where}")
        return InboxResult(tuple(names), False, tuple(problems))

    def _move(self, paths: Sequence[Path], target: Path) -> list[Path]:
        """Move files into ``target``; a name already there gets the time of the move added."""
        target.mkdir(parents=True, exist_ok=True)
        moved = []
        for path in paths:
            destination = _free_name(target, path.name)
            path.replace(destination)
            moved.append(destination)
        return moved

    def _log(self, text: str) -> None:
        line = f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')}  {text}"
        self.echo(line)
        with (self.folder / LOG_NAME).open("a", encoding="utf-8") as log:
            log.write(line + "\n")


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``stem.YYYYMMDD-HHMMSS[-N].suffix`` when that name is taken (weekly exports repeat names)."""
    candidate = folder / name
    if not candidate.exists() and not (folder / (name + PROBLEMS_SUFFIX)).exists():
        return candidate
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        tail = f"{stamp}-{n}" if n > 1 else stamp
        candidate = folder / (f"{stem}.{tail}.{suffix}" if suffix else f"{stem}.{tail}")
        if not candidate.exists():
            return candidate
        n += 1
