"""DuckDB opened with safe settings, and SQL that never carries a value in its text."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from kpi_engine.core.access import AccessPolicy, Role
from kpi_engine.core.settings import Settings
from kpi_engine.ingest import SourceFile, read_upload
from kpi_engine.store import Store

STORE_DIR = Path(__file__).resolve().parents[2] / "kpi_engine" / "store"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "data" / "kpi.duckdb", memory_limit="512MB") as opened:
        yield opened


def setting(store: Store, name: str) -> Any:
    return store._rows("SELECT current_setting(?)", [name])[0][0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("enable_external_access", False),
        ("autoload_known_extensions", False),
        ("autoinstall_known_extensions", False),
        ("python_enable_replacements", False),
        ("lock_configuration", True),
        ("memory_limit", "488.2 MiB"),  # 512 MB as DuckDB writes it
    ],
)
def test_setting_is_in_force(store: Store, name: str, value: object) -> None:
    assert setting(store, name) == value


def test_memory_limit_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_DB_MEMORY_LIMIT", "256MB")
    with Store.open(tmp_path / "kpi.duckdb") as opened:
        assert setting(opened, "memory_limit") == "244.1 MiB"


def test_only_the_data_folder_may_be_touched(store: Store) -> None:
    """DuckDB's own spill folder next to the database is the one place it may write."""
    allowed = setting(store, "allowed_directories")
    assert allowed and all(Path(folder).resolve().is_relative_to(store.path.parent.resolve()) for folder in allowed)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT * FROM read_csv('/etc/hostname')", id="read-a-file-outside"),
        pytest.param("SELECT * FROM read_csv('{data}/notes.csv')", id="read-a-file-inside-the-data-folder"),
        pytest.param("COPY (SELECT 1) TO '{data}/out.csv'", id="write-a-file"),
        pytest.param("ATTACH '{data}/other.duckdb' AS other", id="attach-another-database"),
        pytest.param("SELECT * FROM 'https://example.com/data.csv'", id="read-the-network"),
        pytest.param("INSTALL httpfs", id="install-an-extension"),
        pytest.param("LOAD httpfs", id="load-an-extension"),
        pytest.param("SET enable_external_access = true", id="switch-access-back-on"),
        pytest.param("SET python_enable_replacements = true", id="switch-replacements-back-on"),
        pytest.param("SET memory_limit = '100GB'", id="raise-the-memory-limit"),
        pytest.param("RESET lock_configuration", id="unlock"),
    ],
)
def test_sql_cannot_reach_outside_or_change_the_settings(store: Store, sql: str) -> None:
    (store.path.parent / "notes.csv").write_text("a\n1\n")
    with pytest.raises(duckdb.Error, match=r"disabled|locked|Permission|Cannot"):
        store._rows(sql.format(data=store.path.parent))
    assert not (store.path.parent / "out.csv").exists()


def test_regression_sql_could_switch_python_replacements_back_on(store: Store) -> None:
    """Without lock_configuration, one SET re-enabled reading Python variables from SQL."""
    with pytest.raises(duckdb.Error, match="locked"):
        store._rows("SET python_enable_replacements = true")
    assert setting(store, "python_enable_replacements") is False


def test_sql_cannot_read_a_python_variable_by_its_name(store: Store) -> None:
    secret_frame = pl.DataFrame({"password": ["hunter2"]})  # a replacement scan would find this
    assert secret_frame.height == 1
    with pytest.raises(duckdb.CatalogException, match="secret_frame"):
        store._frame("SELECT * FROM secret_frame")


# ---------------------------------------------------------------------- values never in SQL text
HOSTILE = "Zq9'); DROP TABLE snapshots; --"


def test_no_value_ever_reaches_the_sql_text(store: Store) -> None:
    """Every value a person types travels as a bound parameter: record every SQL text and look."""
    with store.record_statements() as seen:
        _store_hostile_values(store)
    assert seen, "nothing was recorded"
    leaked = [sql for sql in seen if "zq9" in sql.lower()]
    assert leaked == []
    assert store.snapshots().height == 2


def _store_hostile_values(store: Store) -> None:
    """Ingest, save and rename with a hostile string in every value a person can type."""
    files = [
        SourceFile("projects.csv", f'project_id,name,owner\n"P{HOSTILE}","{HOSTILE}","{HOSTILE}"\n'.encode()),
        SourceFile(
            "milestones.csv",
            (
                "milestone_id,project_id,name,owner,baseline_finish,reported_status\n"
                f'"M{HOSTILE}","P{HOSTILE}","{HOSTILE}","{HOSTILE}",2026-09-30,Green\n'
            ).encode(),
        ),
    ]
    first = store.ingest(read_upload(files), date(2026, 6, 1), author=HOSTILE, sources=files, note=HOSTILE)
    files[1] = SourceFile("milestones.csv", files[1].data.replace(b"Green", b"Red"))
    store.ingest(read_upload(files), date(2026, 6, 8), author=HOSTILE, sources=files)
    scenario = store.save_scenario(HOSTILE, {"note": HOSTILE}, first.snapshot_id, author=HOSTILE)
    store.rename_scenario(scenario, HOSTILE + " 2")
    store.update_scenario(scenario, {"note": HOSTILE + " 3"})
    assert store.load_scenario(scenario)["spec"] == {"note": HOSTILE + " 3"}
    store.save_mapping_profile(HOSTILE, {"table": HOSTILE})
    assert store.load_mapping_profile(HOSTILE) == {"table": HOSTILE}
    store.save_settings(Settings(currency=HOSTILE))
    store.save_access_policy(AccessPolicy({"zq9@example.com": Role.PMO}))
    assert store.access_policy().roles == {"zq9@example.com": Role.PMO}
    portfolio = store.load_portfolio()
    assert portfolio.milestones["name"].to_list() == [HOSTILE]
    assert store.changes()["milestone_id"].to_list() == [f"M{HOSTILE}"]
    assert HOSTILE.encode() in store.file_bytes(store.files()["sha256"][0])
    store.delete_scenario(scenario)


#: Local variables of the store that hold SQL built only from quoted identifiers (``param``: the
#: name of a named parameter, checked to be an identifier).
SQL_FRAGMENTS = {
    "cols",
    "body",
    "where",
    "same_key",
    "not_uploaded",
    "missing",
    "conditions",
    "order",
    "touched",
    "param",
    # merge.py: the rows of the base (snapshot_rows) or those kept aside of them, a quoted milestone column, a row's key
    # columns (quoted)
    "base_rows",
    "milestone_column",
    "key",
    # lineage.py: the lineage table, or the lineages bound to a named parameter
    "lineages",
    # removals.py: the rows of the milestones removed for good (merge.py's _removed_for_good)
    "gone",
    # merge.py: the new snapshot's milestones outside the scope, and the scope's (quoted names)
    "kept_milestones",
    "scope",
    # consolidation.py: the removals counted in a chain (quoted tables)
    "counts",
    # schedule_check.py: registered views of the upload and SQL naming only them, and the
    # milestone and task rows a schedule term is read from (a view or snapshot_rows)
    "view",
    "named",
    "milestone_rows",
    "task_rows",
    # copy.py: the constant condition naming the store's own database and schema in the catalog
    "_HERE",
    # file_contents.py: the name the bytes of one file are registered under
    "_CONTENT_VIEW",
}
_SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|WHERE|FROM|EXISTS|SET|JOIN)\b")


def _allowed(node: ast.expr) -> bool:
    """An interpolation that can only be a quoted identifier or SQL made of them."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        # snapshot_rows & co. build SQL from quoted identifiers (kpi_engine/store/lineage.py)
        return node.func.id in (
            "q",
            "_upload_view",
            "snapshot_rows",
            "every_snapshots_rows",
            "kept_aside",
            "_removed_for_good",
            "_scope_milestones",
            "_gone_milestones",
            "removals_table",
            "data_table",
            "q_list",
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join":
        return isinstance(node.func.value, ast.Constant)  # ", ".join(...) of parts checked where they are made
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        # SQL types by column; the names of the upload's registered views by table
        return node.value.id in ("_SQL_TYPES", "views")
    if isinstance(node, ast.IfExp):  # a choice between two allowed pieces, e.g. a constant ORDER BY or nothing
        return all(
            (isinstance(branch, ast.Constant) and isinstance(branch.value, str)) or _allowed(branch)
            for branch in (node.body, node.orelse)
        )
    return isinstance(node, ast.Name) and node.id in SQL_FRAGMENTS


def test_store_builds_no_sql_by_formatting_values_into_it() -> None:
    modules = sorted(STORE_DIR.glob("*.py"))
    assert modules, "the store package has no modules"
    offenders = []
    for module in modules:
        source = module.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.JoinedStr):
                continue
            text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            if not _SQL_WORDS.search(text):
                continue
            for part in node.values:
                if isinstance(part, ast.FormattedValue) and not _allowed(part.value):
                    segment = ast.get_source_segment(source, part.value)
                    offenders.append(f"{module.name} line {node.lineno}: {{{segment}}}")
    assert offenders == []
