"""A real PostgreSQL server on 127.0.0.1 for the shared-store tests, from a temporary ``initdb``.

Debian's ``postgresql`` package puts its programs under ``/usr/lib/postgresql/<version>/bin``;
they refuse to run as root, so when the tests run as root the server runs as the
``postgres`` user, in a folder handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Where Debian installs the server's programs; the newest version found is used.
PG_ROOT = Path("/usr/lib/postgresql")


class ServerUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (not installed, or it failed to start)."""


@dataclass(frozen=True)
class PgServer:
    """A running server: where it listens and how to make a fresh database on it."""

    host: str
    port: int
    user: str
    bin_dir: Path
    run_as: list[str]

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its name."""
        name = name or "kpi_" + uuid.uuid4().hex[:12]
        _run(
            [*self.run_as, str(self.bin_dir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name]
        )
        return name

    def url(self, database: str, data_path: Path | None = None) -> str:
        """The store URL of a database on this server, with its data folder."""
        url = f"postgresql://{self.user}@{self.host}:{self.port}/{database}"
        return url if data_path is None else f"{url}?data_path={data_path}"


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise ServerUnavailable(f"{' '.join(argv[-6:])} failed: {(done.stderr or done.stdout).strip()[:500]}")
    return done.stdout


def _bin_dir() -> Path:
    found = sorted(
        PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
    )
    if not found:
        raise ServerUnavailable(
            f"PostgreSQL is not installed (no {PG_ROOT}/*/bin/initdb); install Debian's postgresql package"
        )
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """Start a throwaway server on a free port; stop it and remove its files afterwards.

    Raises
    ------
    ServerUnavailable
        The programs are missing or the server did not start.
    """
    bin_dir = _bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="kpi-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise ServerUnavailable("running as root and 'runuser' is missing, so PostgreSQL cannot be started")
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    port = _free_port()
    started = False
    try:
        _run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        _run(
            [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
        )
        started = True
        yield PgServer("127.0.0.1", port, "postgres", bin_dir, run_as)
    finally:
        if started:
            with contextlib.suppress(ServerUnavailable, subprocess.TimeoutExpired):
                _run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)
