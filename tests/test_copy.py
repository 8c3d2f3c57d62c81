"""Copying a whole store into an empty one (``copy``): every table, row for row, and every read the same."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loop.servers import smtp_server

from kpi_engine import cli
from kpi_engine.output.formats import to_json
from kpi_engine.store import Store
from kpi_engine.store.copy import OWN_TABLES, copy_store, shown, store_tables
from kpi_engine.store.counters import ID_COUNTERS

REPO = Path(__file__).resolve().parents[1]
EXPORTS = REPO / "data" / "sample" / "exports"
#: The reading commands whose JSON must be the same on a copy.
READS = (
    ["exceptions", "--format", "json"],
    ["kpis", "--format", "json"],
    ["snapshots", "--format", "json"],
    ["decisions", "--format", "json"],
    ["credibility", "--format", "json"],
    ["settings", "--format", "json"],
    ["optimize", "--budget", "250000", "--format", "json"],
)


def _ok(*argv: str) -> str:
    """Run a command in this process; it must succeed; return what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    assert code == 0, err.getvalue()
    return out.getvalue()


def fill_every_table(path: Path, folder: Path) -> None:
    """The sample's eight weeks, then a week with a tool export, people and candidate workarounds,
    settings, a scenario, a mapping profile, a decision and a notification run sent by a real SMTP server.
    """
    from kpi_engine.sample import load_sample

    with Store.open(path) as store:
        load_sample(store)
        store.save_scenario("Routing slips two weeks", {"slips": [["M1", 14]]}, store.latest_snapshot_id(), "Ana")
        store.save_scenario("Dropped", {"slips": []}, None, "Ana")
        store.delete_scenario(store.list_scenarios()["scenario_id"].max())  # an id the copy must not give again
        store.save_mapping_profile("Jira with our columns", {"columns": {"Epic": "name"}})
    export, extra = folder / "export", folder / "extra"
    export.mkdir()
    extra.mkdir()
    shutil.copy(EXPORTS / "jira_routing.csv", export)
    (extra / "people.csv").write_text("name,email,chat\nPriya Raman,priya@fleet.example,\n")
    (extra / "mitigations.csv").write_text(
        "milestone_id,name,start_date,cost,fraction\nM5,Second supplier,2026-07-01,50000,0.5\n"
    )
    db = str(path)
    _ok("ingest", str(export), "--db", db, "--as-of", "2026-06-22", "--allow-removals")
    _ok("ingest", str(extra), "--db", db, "--as-of", "2026-06-22")  # version 2 of that week
    _ok("settings", "--db", db, "--set", "amber_days=3", "--set", "pmo_email=pmo@fleet.example")
    (item, *_) = json.loads(_ok("exceptions", "--db", db, "--format", "json"))
    kpi = ["--kpi", item["kpi_id"]] if item["kpi_id"] else []
    _ok("decide", "--db", db, "--milestone", item["milestone_id"], *kpi, "--by", "Dana Whitfield",
        "--decision", "recover", "--due", "2026-07-31", "--note", "vendor call on Monday")  # fmt: skip
    with smtp_server() as (port, _mailbox):
        _ok("notify", "--db", db, "--smtp-host", "127.0.0.1", "--smtp-port", str(port),
            "--smtp-from", "pmo@fleet.example")  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a row in every table (filled once; tests copy it, never change it)."""
    folder = tmp_path_factory.mktemp("source")
    path = folder / "source.duckdb"
    fill_every_table(path, folder)
    return path


def contents(path: Path | str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of a store, sorted (the store's own schema version and counters left out)."""
    with Store.open(path) as store, store._db.cursor() as cur:
        # the catalog itself, not the copy's own list of tables: a table the copy skipped shows
        tables = [t for (t,) in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall() if t not in OWN_TABLES]
        return {t: cur.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}


def reads(db: str) -> dict[str, object]:
    """What the CLI's reading commands print (latest snapshot), and the figures of every snapshot."""
    from kpi_engine.analysis import analyse
    from kpi_engine.loop.service import loop_state
    from kpi_engine.loop.views import exceptions_with_loop

    seen: dict[str, object] = {" ".join(argv): _ok(argv[0], "--db", db, *argv[1:]) for argv in READS}
    with Store.open(db) as store:
        for snapshot_id in store.snapshot_ids():
            result = analyse(store, snapshot_id)
            status = loop_state(store, snapshot_id, result=result).status
            seen[f"exceptions {snapshot_id}"] = to_json(exceptions_with_loop(status))
            seen[f"kpis {snapshot_id}"] = to_json(result.kpis)
            seen[f"changes {snapshot_id}"] = to_json(store.changes(snapshot_id))
            seen[f"portfolio {snapshot_id}"] = [
                to_json(frame) for frame in store.load_portfolio(snapshot_id).tables().values()
            ]
        files = store.files()
        seen["files"] = to_json(files)
        seen["bytes"] = {sha: store.file_bytes(sha) for sha in files["sha256"].unique().sort()}
        seen["scenarios"] = [store.load_scenario(i) for i in store.list_scenarios()["scenario_id"]]
        seen["mapping profiles"] = {name: store.load_mapping_profile(name) for name in store.mapping_profiles()}
        seen["notification runs"] = to_json(store.loop_log.runs())
        seen["notifications"] = to_json(store.loop_log.notifications())
    return seen


@pytest.fixture
def copied(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy" / "copied.duckdb"
    out = _ok("copy", "--from", str(source), "--to", str(target))
    assert out.splitlines()[0] == (f"Copied 10 snapshot(s) and everything stored with them from {source} to {target}.")
    return target


def test_every_table_is_copied_row_for_row(source: Path, copied: Path) -> None:
    """Fails when a table the schema declares is missing from the copy, or differs."""
    before, after = contents(source), contents(copied)
    removals = [table for table in before if table.endswith("_removals")]
    empty = [
        table
        for table, rows in before.items()
        if not rows
        # one table of removed rows per canonical table, alike: the ones the uploads fill stand for the rest
        and not (table in removals and any(before[t] for t in removals))
        # bytes kept by schema version 2 and before: test_backup copies such a store
        and table != "file_blobs"
    ]
    assert not empty, f"fill {empty} in fill_every_table, so that this test shows the copy carries them"
    assert set(after) == set(before)
    for table, rows in before.items():
        assert after[table] == rows, table


def test_the_copy_answers_every_read_as_the_source(source: Path, copied: Path, capsys) -> None:
    expected, got = reads(str(source)), reads(str(copied))
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key] == value, key
    snapshots = json.loads(got["snapshots --format json"])  # type: ignore[arg-type]
    assert [s["as_of"] for s in snapshots][-3:] == ["2026-06-15", "2026-06-22", "2026-06-22"]


def test_new_ids_on_a_copy_follow_the_ones_it_holds(source: Path, copied: Path) -> None:
    with Store.open(source) as store:
        given = store._rows("SELECT max(scenario_id) + 1 FROM scenarios")[0][0] + 1  # one was deleted
        runs = store.loop_log.runs()["run_id"].max()
    with Store.open(copied) as store:
        assert store.save_scenario("After the move", {}, None) == given
        decision = {"kind": "milestone", "milestone_id": "M1", "decision": "accept", "decided_by": "Dana Whitfield"}
        decision |= {"snapshot_id": store.latest_snapshot_id(), "as_of": store.snapshot_as_of(1)}
        assert store.loop_log.record_decision(decision) == 2
        started = store._rows("SELECT max(started_at) FROM notification_runs")[0][0]
        run = store.loop_log.record_run(
            snapshot_id=1, as_of=store.snapshot_as_of(1), started_at=started, notifications=_no_rows(),
            recipients=[], failed=[],
        )  # fmt: skip
        assert run == runs + 1


def _no_rows():  # type: ignore[no-untyped-def]
    import polars as pl

    from kpi_engine.loop.log import NOTIFICATION_COLUMNS

    return pl.DataFrame(schema=NOTIFICATION_COLUMNS)


def test_every_id_counter_names_the_column_it_numbers(tmp_path: Path) -> None:
    with Store.open(tmp_path / "fresh.duckdb") as store, store._db.cursor() as cur:
        names = {row[0] for row in cur.execute("SELECT name FROM counters").fetchall()}
        tables = store_tables(cur)
        assert set(ID_COUNTERS) <= names
        for table, column in ID_COUNTERS.values():
            assert table in tables
            assert cur.execute(f'SELECT count("{column}") FROM "{table}"').fetchall() == [(0,)]
        # no sequences: ids come from the counters on every backend
        assert cur.execute("SELECT count(*) FROM duckdb_sequences()").fetchall() == [(0,)]
    assert {"schema_version", "counters"} == OWN_TABLES


def test_a_store_that_holds_data_is_refused_and_left_as_it_was(source: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "busy.duckdb"
    with Store.open(target) as store:
        store.save_mapping_profile("kept", {"columns": {}})
    before = contents(target)
    capsys.readouterr()
    assert cli.main(["copy", "--from", str(source), "--to", str(target)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"the store to copy to, {target}, already holds data (mapping_profiles 1); "
        "copy only into an empty store: name a new file or an empty database\n"
    )
    assert contents(target) == before


def test_a_copy_that_fails_half_way_leaves_the_target_empty(source: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.duckdb"
    shutil.copyfile(source, broken)
    with duckdb.connect(str(broken)) as raw:  # a file some other program changed: people lost a column
        raw.execute("ALTER TABLE people DROP COLUMN chat")
    target = tmp_path / "target.duckdb"
    capsys.readouterr()
    assert cli.main(["copy", "--from", str(broken), "--to", str(target)]) == 1
    assert capsys.readouterr().err == (
        "the table people of the store to copy from lacks the column(s) chat; "
        "open it once with this version of the program, then copy again\n"
    )
    # tables before people in the copy's order (changes, decisions, ..., milestones) were written, then undone
    assert all(rows == [] for rows in contents(target).values())


def test_an_empty_store_copies_into_an_empty_one(tmp_path: Path, capsys) -> None:
    with Store.open(tmp_path / "empty.duckdb"):
        pass
    out = _ok("copy", "--from", str(tmp_path / "empty.duckdb"), "--to", str(tmp_path / "new.duckdb"))
    assert out.splitlines()[1] == "Rows: none (the source store is empty)"
    with Store.open(tmp_path / "new.duckdb") as store:
        assert store.is_empty()


def test_the_source_defaults_to_the_environment(source: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("KPI_DB", str(source))
    out = _ok("copy", "--to", str(tmp_path / "backup.duckdb"))
    assert out.startswith(f"Copied 10 snapshot(s) and everything stored with them from {source} to ")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["copy", "--from", "{tmp}/missing.duckdb", "--to", "{tmp}/new.duckdb"], 1,
         "there is no database file {tmp}/missing.duckdb to copy from"),
        (["copy", "--from", "{tmp}/one.duckdb", "--to", "{tmp}/../{name}/one.duckdb"], 1,
         "the store to copy from and the store to copy to are the same, {tmp}/one.duckdb"),
        (["copy", "--from", "{tmp}/one.duckdb"], 2,
         "python -m kpi_engine copy: error: the following arguments are required: --to "
         "(see python -m kpi_engine copy --help)"),
    ],
)  # fmt: skip
def test_bad_copies_say_why_and_create_nothing(argv, code, message, tmp_path: Path, capsys) -> None:
    with Store.open(tmp_path / "one.duckdb"):
        pass
    fill = {"tmp": str(tmp_path), "name": tmp_path.name}
    capsys.readouterr()
    assert cli.main([arg.format(**fill) for arg in argv]) == code
    assert capsys.readouterr().err == message.format(**fill) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.duckdb"]


def test_a_database_password_is_never_shown() -> None:
    url = "postgresql://kpi:s3cret@db.example:5432/kpi?data_path=/srv/lake"
    assert shown(url) == "postgresql://kpi@db.example:5432/kpi?data_path=/srv/lake"
    assert shown("data/kpi.duckdb") == "data/kpi.duckdb"
    assert shown("postgresql://db.example/kpi") == "postgresql://db.example/kpi"


def test_copy_store_works_on_open_stores(source: Path, tmp_path: Path) -> None:
    """The engine call under the command: two open stores, the target written once."""
    with Store.open(source) as src, Store.open(tmp_path / "t.duckdb") as dst:
        result = copy_store(src, dst)
        assert result.snapshots == 10
        assert result.rows["snapshots"] == 10
        assert set(result.rows) == set(contents(source))


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=15, deadline=None)
@given(
    specs=st.dictionaries(
        st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30).filter(str.strip),
        st.dictionaries(_TEXT, st.one_of(_TEXT, st.integers(-(2**53), 2**53), st.floats(allow_nan=False), st.none())),
        max_size=4,
    )
)
def test_any_text_and_numbers_a_store_holds_come_back_the_same_from_a_copy(specs: dict[str, dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "s.duckdb", Path(folder) / "t.duckdb"
        saved: dict[str, dict[str, object]] = {}
        with Store.open(source) as store:
            for name, spec in specs.items():
                store.save_mapping_profile(name, {"columns": spec})
                saved[name.strip()] = spec  # names are kept stripped; a later one replaces
            names = store.mapping_profiles()
        assert sorted(names) == sorted(saved)
        with Store.open(source) as src, Store.open(target) as dst:
            copy_store(src, dst)
        with Store.open(target) as store:
            assert store.mapping_profiles() == names
            for name in names:
                assert store.load_mapping_profile(name) == {"columns": saved[name]}
