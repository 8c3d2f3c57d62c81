"""The shared store across real processes: writers at once, readers during writes, a writer killed.

Every process here opens the same store on the test PostgreSQL server (``shared_store_url``
in conftest.py); writers are separate Python processes or the CLI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import date
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store, data_version

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture
def url(shared_store_url: str) -> str:
    """A shared store holding the worked example as snapshot 1 (2026-06-15)."""
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(shared_store_url) as store:
        store.ingest(read_upload(files), date(2026, 6, 15), author="first", sources=files)
    return shared_store_url


def _cli(url: str, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kpi_engine", *argv, "--db", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=REPO,
    )


def _week(tmp_path: Path, name: str, forecast: str) -> Path:
    """The fleet's milestones.csv with M1's forecast moved: one project's weekly upload."""
    text = (FLEET_DIR / "milestones.csv").read_text().replace("2026-08-31,2026-09-07", f"2026-08-31,{forecast}")
    folder = tmp_path / name
    folder.mkdir()
    (folder / "milestones.csv").write_text(text)
    return folder / "milestones.csv"


def _stalled_writer(url: str, upload: Path, as_of: str, go: Path) -> subprocess.Popen[str]:
    """A writer that stops inside its transaction, after writing every row, until ``go`` exists."""
    script = textwrap.dedent(
        f"""
        import time
        from datetime import date
        from pathlib import Path
        import kpi_engine.store.merge as store_merge
        from kpi_engine.ingest import read_paths, read_upload
        from kpi_engine.store import Store

        checked = store_merge._reference_problems  # runs after the rows are written, before the commit
        def stall(*args, **kwargs):
            problems = checked(*args, **kwargs)
            print("inside the transaction", flush=True)
            while not Path({str(go)!r}).exists():
                time.sleep(0.05)
            return problems
        store_merge._reference_problems = stall
        files = read_paths([Path({str(upload)!r})])
        with Store.open({url!r}) as store:
            result = store.ingest(read_upload(files), date.fromisoformat({as_of!r}), author="stalled", sources=files)
        print(result.snapshot_id, result.rebased, flush=True)
        print(result.message, flush=True)
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO
    )


def test_two_cli_uploads_started_together_both_land(url: str, tmp_path: Path) -> None:
    first = _cli(url, "ingest", str(_week(tmp_path, "a", "2026-09-14")), "--as-of", "2026-06-22")
    second = _cli(url, "ingest", str(_week(tmp_path, "b", "2026-09-21")), "--as-of", "2026-06-29")
    outputs = [process.communicate(timeout=300) for process in (first, second)]

    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    assert not any("busy" in out + err for out, err in outputs)
    with Store.open(url) as store:
        listed = store.snapshots()  # by date; ids in the order the two committed, either first
        assert sorted(listed["snapshot_id"].to_list()) == [1, 2, 3]
        assert listed["as_of"].to_list() == [date(2026, 6, 15), date(2026, 6, 22), date(2026, 6, 29)]
        forecasts = {
            as_of: store.load_portfolio(sid).milestones.filter(milestone_id="M1")["forecast_finish"].item()
            for sid, as_of in listed.select("snapshot_id", "as_of").iter_rows()
            if sid != 1
        }
    assert forecasts == {date(2026, 6, 22): date(2026, 9, 14), date(2026, 6, 29): date(2026, 9, 21)}


def test_a_writer_that_meets_a_newer_snapshot_is_merged_again_on_top_of_it(url: str, tmp_path: Path) -> None:
    """The stalled writer began on snapshot 1; another upload of the same week lands meanwhile.

    The stalled one's commit conflicts; it is run again on top of snapshot 2 and stored as
    version 2 of that week, saying so. Nothing of either is lost.
    """
    go = tmp_path / "go"
    stalled = _stalled_writer(url, _week(tmp_path, "a", "2026-09-14"), "2026-06-22", go)
    assert stalled.stdout is not None
    try:
        assert stalled.stdout.readline().strip() == "inside the transaction"
        quick = _cli(url, "ingest", str(FLEET_DIR / "tasks.csv"), "--as-of", "2026-06-22")
        out, err = quick.communicate(timeout=300)
        assert quick.returncode == 0, err
        assert "Stored snapshot 2" in out
        go.touch()
        stalled.wait(timeout=300)
        # the run again passes the stall once more (``go`` exists by then) and says so
        lines = [line for line in stalled.stdout.read().splitlines() if line != "inside the transaction"]
    finally:
        if stalled.poll() is None:
            stalled.kill()
            stalled.wait()
    assert stalled.returncode == 0
    assert lines[0] == "3 True"
    assert "Another upload was stored first; this one was merged again on top of snapshot 2." in lines[1]
    with Store.open(url) as store:
        listed = store.snapshots()
        assert listed.select("snapshot_id", "version").rows() == [(1, 1), (2, 1), (3, 2)]
        assert listed["author"].to_list()[2] == "stalled"
        latest = store.load_portfolio(3)
    assert latest.milestones.filter(milestone_id="M1")["forecast_finish"].item() == date(2026, 9, 14)
    assert latest.tasks.height > 0


def test_readers_read_while_a_writer_is_inside_its_transaction(url: str, tmp_path: Path) -> None:
    """Readers in this process and a reading CLI run to the end while the writer holds its transaction open."""
    go = tmp_path / "go"
    stalled = _stalled_writer(url, _week(tmp_path, "a", "2026-09-14"), "2026-06-22", go)
    assert stalled.stdout is not None
    failures: list[BaseException] = []
    try:
        assert stalled.stdout.readline().strip() == "inside the transaction"
        version = data_version(url)

        def read() -> None:
            try:
                with Store.open(url) as store:
                    for _ in range(3):
                        assert store.snapshot_ids() == [1]
                        assert store.load_portfolio().milestones.height > 0
            except BaseException as err:
                failures.append(err)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        cli_reader = _cli(url, "exceptions", "--format", "json")
        out, err = cli_reader.communicate(timeout=300)
        for reader in readers:
            reader.join(timeout=300)
        assert not any(reader.is_alive() for reader in readers)
        assert cli_reader.returncode == 0, err
        assert out.startswith("[")
        assert data_version(url) == version  # the writer has not committed yet
        go.touch()
        stalled.wait(timeout=300)
    finally:
        if stalled.poll() is None:
            stalled.kill()
            stalled.wait()
    assert failures == []
    assert stalled.returncode == 0
    assert data_version(url) != version
    with Store.open(url) as store:
        assert store.snapshot_ids() == [1, 2]


def test_a_writer_killed_inside_its_transaction_loses_nothing_and_the_next_write_lands(
    url: str, tmp_path: Path
) -> None:
    stalled = _stalled_writer(url, _week(tmp_path, "a", "2026-09-14"), "2026-06-22", tmp_path / "never")
    assert stalled.stdout is not None
    try:
        assert stalled.stdout.readline().strip() == "inside the transaction"
        stalled.send_signal(signal.SIGKILL)
    finally:
        stalled.wait(timeout=60)
    assert stalled.returncode == -signal.SIGKILL

    with Store.open(url) as store:
        assert store.snapshot_ids() == [1]
        assert store.load_portfolio(1).milestones.filter(milestone_id="M1")["forecast_finish"].item() == date(
            2026, 9, 7
        )
    after = _cli(url, "ingest", str(_week(tmp_path, "b", "2026-09-21")), "--as-of", "2026-06-22")
    out, err = after.communicate(timeout=300)
    assert after.returncode == 0, err
    assert "Stored snapshot 2" in out
    with Store.open(url) as store:
        assert store.snapshot_ids() == [1, 2]
        assert store.load_portfolio(2).milestones.filter(milestone_id="M1")["forecast_finish"].item() == date(
            2026, 9, 21
        )


def _first_start(url: str, go: Path) -> subprocess.Popen[str]:
    """What an app instance does on its first start: open the store, and load the sample when it is empty."""
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from kpi_engine.sample import load_sample
        from kpi_engine.store import Store

        print("ready", flush=True)
        while not Path({str(go)!r}).exists():
            time.sleep(0.01)
        with Store.open({url!r}) as store:
            if store.is_empty():
                load_sample(store)
            print(store.snapshot_ids(), flush=True)
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO
    )


def test_two_first_starts_at_once_on_an_empty_store_create_it_and_load_the_sample_once(
    shared_store_url: str, tmp_path: Path
) -> None:
    """Both create the catalog and the tables at the same moment: neither fails, nothing is stored twice."""
    from kpi_engine.sample import sample_weeks

    go = tmp_path / "go"
    starts = [_first_start(shared_store_url, go) for _ in range(2)]
    try:
        for start in starts:
            assert start.stdout is not None
            assert start.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [start.communicate(timeout=600) for start in starts]
    finally:
        for start in starts:
            if start.poll() is None:
                start.kill()
                start.wait()

    weeks = len(sample_weeks())
    assert [start.returncode for start in starts] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == [str(list(range(1, weeks + 1)))] * 2
    with Store.open(shared_store_url) as store:
        assert store.snapshots()["as_of"].to_list() == [as_of for as_of, _ in sample_weeks()]
        # one row per counter and one schema version: the tables were created and seeded once
        assert store._rows("SELECT name, count(*) FROM counters GROUP BY name HAVING count(*) > 1") == []
        assert store._rows("SELECT count(*) FROM schema_version") == [(1,)]


def test_compacting_while_another_program_uploads_and_decides_loses_nothing(url: str, tmp_path: Path) -> None:
    """Compacting, with unused files deleted at once, while the CLI uploads and records decisions."""
    script = textwrap.dedent(f"""
        from datetime import date
        from kpi_engine.store import Store
        with Store.open({url!r}) as store:
            for i in range(40):
                decision = {{"snapshot_id": 1, "as_of": date(2026, 6, 15), "kind": "milestone", "milestone_id": f"M{{i}}"}}
                store.loop_log.record_decision({{**decision, "decision": "accept", "decided_by": "Ann Lee"}})
        """)
    writer = subprocess.Popen(
        [sys.executable, "-c", script], env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    upload = _cli(url, "ingest", str(_week(tmp_path, "a", "2026-09-14")), "--as-of", "2026-06-22")
    compactions = [_cli(url, "compact", "--keep-days", "0").communicate(timeout=300) for _ in range(3)]
    outputs = [process.communicate(timeout=300) for process in (writer, upload)]

    assert [process.returncode for process in (writer, upload)] == [0, 0], outputs
    assert all(out.startswith("Compacted ") and not err for out, err in compactions), compactions
    with Store.open(url) as store:
        assert store.snapshot_ids() == [1, 2]
        assert store.loop_log.decisions()["milestone_id"].to_list() == [f"M{i}" for i in range(40)]
        m1 = store.load_portfolio(2).milestones.filter(milestone_id="M1")["forecast_finish"].item()
        assert m1 == date(2026, 9, 14)
        assert store.files(1).height > 0 and store.file_bytes(store.files(1)["sha256"][0])
