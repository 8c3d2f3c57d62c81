"""The inbox options of ``ingest``: ``--watch FOLDER`` and the one-shot ``FOLDER --move-done DONE``.

Only the options are parsed here; :mod:`kpi_engine.ingest.inbox` decides which files are
taken, when, and where they go, and :func:`kpi_engine.cli.ingest_paths` stores them.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from kpi_engine.cli import PROG, _ingest_summary, ingest_paths, positive_int, positive_number
from kpi_engine.ingest.inbox import DONE_FOLDER, LOG_NAME, REJECTED_FOLDER, Inbox

#: Seconds between two looks at the folder when --interval is not given.
DEFAULT_INTERVAL = 5.0

_INBOX_ONLY = ("move_rejected", "interval", "polls", "until_idle")


def add_inbox_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--watch``, ``--move-done``, ``--move-rejected``, ``--interval``, ``--polls`` and ``--until-idle``."""
    group = parser.add_argument_group(
        "inbox folder",
        "Ingest the files saved into one folder, each once, when complete; files saved together "
        "are one upload. Stored files move to the done folder, refused ones to the rejected "
        f"folder with NAME{'.problems.txt'} beside them; each result is printed and logged in "
        f"FOLDER/{LOG_NAME}.",
    )
    group.add_argument("--watch", action="store_true", help="keep watching the folder (PATH) until stopped (Ctrl+C)")
    group.add_argument(
        "--move-done",
        metavar="DIR",
        default=None,
        help=f"where stored files go (default with --watch: FOLDER/{DONE_FOLDER}); "
        "without --watch: ingest what the folder holds once, then stop (for a scheduled job)",
    )
    group.add_argument(
        "--move-rejected",
        metavar="DIR",
        default=None,
        help=f"where refused files go (default: FOLDER/{REJECTED_FOLDER})",
    )
    group.add_argument(
        "--interval",
        type=positive_number,
        default=None,
        metavar="SECONDS",
        help=f"time between two looks at the folder (default: {DEFAULT_INTERVAL:g})",
    )
    group.add_argument("--polls", type=positive_int, default=None, metavar="N", help="stop after N looks")
    group.add_argument("--until-idle", action="store_true", help="stop once no file waits in the folder")


def wants_inbox(args: argparse.Namespace) -> bool:
    """Whether ``ingest`` was given an inbox option, rather than asked to store PATH once."""
    return bool(args.watch or args.move_done is not None or _inbox_only_option(args))


def _inbox_only_option(args: argparse.Namespace) -> str | None:
    """The first option given that only means something for an inbox folder, if any."""
    for name in _INBOX_ONLY:
        if getattr(args, name) not in (None, False):
            return "--" + name.replace("_", "-")
    return None


def _stored(args: argparse.Namespace, paths: list[Path]) -> list[str]:
    """Store one upload of the inbox; the summary ``ingest`` prints, and how many warnings it had."""
    result, removed = ingest_paths(args, paths)
    lines = _ingest_summary(result) + removed
    if result.warnings:
        lines.append(f"{len(result.warnings)} warning(s), the first: {result.warnings[0]}")
    return lines


def _usage(text: str) -> int:
    print(f"{PROG} ingest: error: {text}", file=sys.stderr)
    return 2


def cmd_inbox(args: argparse.Namespace) -> int:
    """Watch (``--watch``) or empty once (``--move-done``) the inbox folder named by PATH.

    Exit status 0 also when files were refused: the refusal is the inbox's result, logged
    and filed in the rejected folder.
    """
    if not (args.watch or args.move_done is not None):
        return _usage(f"{_inbox_only_option(args)} works with --watch or --move-done only")
    if len(args.paths) != 1 or not Path(args.paths[0]).is_dir():
        return _usage("--watch and --move-done take exactly one PATH, the inbox folder")
    folder = Path(args.paths[0])
    if any(d is not None and Path(d).resolve() == folder.resolve() for d in (args.move_done, args.move_rejected)):
        return _usage("--move-done and --move-rejected must name another folder than the inbox folder")
    inbox = Inbox(
        folder,
        ingest=lambda paths: _stored(args, paths),
        done=Path(args.move_done) if args.move_done else None,
        rejected=Path(args.move_rejected) if args.move_rejected else None,
        echo=lambda line: print(line, flush=True),
    )
    interval = args.interval if args.interval is not None else DEFAULT_INTERVAL
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        # finish the upload under way, then stop (Ctrl+C, or a service manager stopping the job)
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        inbox.run(
            interval=interval,
            polls=args.polls,
            until_idle=args.until_idle or not args.watch,
            stop=lambda: bool(stopping),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopping:
        print(f"stopped watching {folder}", flush=True)
    return 0
