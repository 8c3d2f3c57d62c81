"""Which store an address names, and a file from before the counters (schema version 2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from builders import FLEET_DIR

from kpi_engine.core.errors import InputError, WriteConflictError
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import SCHEMA_VERSION, Store, is_url
from kpi_engine.store.backends import EmbeddedFile, SharedStore, _sql_text, backend_for, extension_files, parse_url


def test_a_postgresql_address_names_the_shared_store_and_keeps_its_parts(tmp_path: Path) -> None:
    address = parse_url(f"postgresql://kpi:s%40cret@db.example.com:6543/team?data_path={tmp_path / 'lake'}")
    assert (address.user, address.password, address.host, address.port, address.database) == (
        "kpi",
        "s@cret",
        "db.example.com",
        6543,
        "team",
    )
    assert address.data_path == tmp_path / "lake"
    assert address.name == "postgresql://kpi@db.example.com:6543/team"
    assert isinstance(backend_for(f"postgresql://kpi@h/team?data_path={tmp_path}"), SharedStore)
    assert isinstance(backend_for(tmp_path / "kpi.duckdb"), EmbeddedFile)
    assert is_url("postgres://a@b/c") and not is_url(str(tmp_path / "kpi.duckdb"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("postgresql://kpi:pw@db/team", r"needs \?data_path=FOLDER", id="no-data-path"),
        pytest.param("postgresql://kpi:pw@/team?data_path=x", "needs a host and a database", id="no-host"),
        pytest.param("postgresql://kpi:pw@db?data_path=x", "needs a host and a database", id="no-database"),
        pytest.param("postgresql://kpi:pw@db:port/team?data_path=x", "port that is not a number", id="bad-port"),
        pytest.param("postgresql://kpi:pw@db/team?data_path=x&sslmode=on", "unknown parameters: sslmode", id="unknown"),
    ],
)
def test_a_bad_address_is_refused_without_showing_its_password(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as refused:
        parse_url(url)
    assert "pw" not in str(refused.value)


def test_an_unreachable_server_is_named_without_its_password(tmp_path: Path, lake_extensions: None) -> None:
    with pytest.raises(InputError, match="cannot be opened") as refused:
        Store.open(f"postgresql://kpi:topsecret@127.0.0.1:1/team?data_path={tmp_path / 'lake'}")
    assert "postgresql://kpi@127.0.0.1:1/team" in str(refused.value)
    assert "topsecret" not in str(refused.value)


def test_a_version_2_file_keeps_its_ids_moving_forward_and_replaces_settings(tmp_path: Path) -> None:
    """A file from before the counters: keys, sequences and ids handed out already stay valid."""
    path = tmp_path / "v2.duckdb"
    with Store.open(path):
        pass
    with duckdb.connect(str(path)) as raw:  # as version 2 declared them: keys and sequences
        for table in ("settings", "scenarios"):
            raw.execute(f"DROP TABLE {table}")
        raw.execute("DROP TABLE counters")
        raw.execute("CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        raw.execute("CREATE SEQUENCE scenario_ids START 1")
        raw.execute(
            "CREATE TABLE scenarios (scenario_id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, author VARCHAR NOT NULL, "
            "created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, snapshot_id BIGINT, spec VARCHAR NOT NULL)"
        )
        for name in ("a", "b", "c"):  # three saved, the last two deleted: ids 2 and 3 are used up
            raw.execute(
                "INSERT INTO scenarios VALUES (nextval('scenario_ids'), ?, '', now(), now(), NULL, '{}')", [name]
            )
        raw.execute("DELETE FROM scenarios WHERE scenario_id > 1")
        raw.execute("INSERT INTO settings VALUES ('red_days', '30')")
        raw.execute("UPDATE schema_version SET version = 2")
    with Store.open(path) as store:
        assert store.save_scenario("d", {}, None) > 3  # never an id handed out before
        settings = store.settings()
        store.save_settings(settings)
        store.save_settings(settings)  # a replace, twice, on a table that still declares its key
        assert store.settings().red_days == 30
        assert store._rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_write_that_loses_every_race_is_refused_after_its_tries_and_stores_nothing(shared_store_url: str) -> None:
    """Another program commits a write during each attempt: the retries stop, and nothing is stored."""
    with Store.open(shared_store_url) as store:
        assert isinstance(store.backend, SharedStore)
        other = store.backend.connect({"autoload_known_extensions": False}, 0.0)  # a second program, in effect
        tries: list[int] = []

        def work(cur: duckdb.DuckDBPyConnection) -> None:
            tries.append(1)
            cur.execute("INSERT INTO settings VALUES ('red_days', '99')")
            other.execute("UPDATE counters SET value = value + 1 WHERE name = 'writes'")  # commits first

        store.WRITE_ATTEMPTS = 3
        try:
            with pytest.raises(WriteConflictError, match=r"kept saving .* first \(3 tries\); nothing of this change"):
                store._write(work)
        finally:
            other.close()
        assert len(tries) == 3
        assert store._rows("SELECT count(*) FROM settings WHERE key = 'red_days'") == [(0,)]
        store.save_settings(store.settings())  # the next write lands
        assert store._rows("SELECT value FROM counters WHERE name = 'writes'")[0][0] == 4


def test_a_large_frame_reaches_duckdb_in_row_group_batches_with_every_row_in_order() -> None:
    """DuckDB inserts an Arrow table a batch per thread: a large frame is handed over in batches, nothing lost or moved."""
    import math

    import polars as pl

    from kpi_engine.store.backends import ARROW_BATCH_ROWS, to_arrow

    n = 2 * ARROW_BATCH_ROWS + 17
    frame = pl.DataFrame({"i": range(n), "id": [f"T-{i}" for i in range(n)]})
    table = to_arrow(frame)
    sizes = [batch.num_rows for batch in table.to_batches()]
    assert len(sizes) == math.ceil(n / ARROW_BATCH_ROWS) and max(sizes) == ARROW_BATCH_ROWS and sum(sizes) == n
    assert [batch.num_rows for batch in to_arrow(frame.head(100)).to_batches()] == [100]

    con = duckdb.connect()
    con.register("rows", table)
    con.execute("CREATE TABLE t AS SELECT * FROM rows")
    assert pl.from_arrow(con.sql("SELECT * FROM t").to_arrow_table()).equals(frame)


def test_the_shared_store_keeps_every_table_s_rows_in_parquet_files_not_in_the_catalog(shared_store_url: str) -> None:
    # DuckLake would inline inserts of a few rows into PostgreSQL as SQL text, an uploaded
    # file's bytes included (one row per file): the store attaches with inlining off
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(shared_store_url) as store:
        result = store.ingest(read_upload(files), date(2026, 6, 15), sources=files)
        assert result.snapshot_id == 1
        assert store.file_bytes(files[0].sha256) == files[0].data  # read back from its Parquet file
    data = parse_url(shared_store_url).data_path / "main"
    # the fleet's objectives are 2 rows and each file's bytes 1 row: both under the inlining limit of 10
    for table in ("objectives", "file_data_1", "snapshots"):
        assert list((data / table).glob("*.parquet")), f"no Parquet file for {table}"
    # and PostgreSQL holds no table of inlined rows
    with duckdb.connect() as con:
        for extension in extension_files():
            con.execute("LOAD " + _sql_text(str(extension)))
        con.execute(f"ATTACH {_sql_text(parse_url(shared_store_url).conninfo())} AS pg (TYPE postgres, READ_ONLY)")
        assert con.execute("SELECT count(*) FROM pg.public.ducklake_inlined_data_tables").fetchall() == [(0,)]
