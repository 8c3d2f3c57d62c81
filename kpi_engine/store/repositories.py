"""What people save besides the uploads: settings, roles, what-if scenarios, mapping profiles.

Each is stored as JSON text next to its name, so that a newer version of the program can
add fields without a migration. Names people type are checked once, here: they head pages
and fill pickers, so they must fit on one line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, is_dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from kpi_engine.core.access import AccessPolicy
from kpi_engine.core.errors import InputError, NotFoundError
from kpi_engine.core.settings import Settings
from kpi_engine.store.connection import _now, q
from kpi_engine.store.counters import next_id

if TYPE_CHECKING:
    from kpi_engine.store import Store

#: Key of the access policy (roles by e-mail address) in the settings table.
ACCESS_POLICY_KEY = "access_policy"
#: The longest name a scenario or a mapping profile may have: it heads pages and fills pickers.
NAME_CHARS = 80


# ---------------------------------------------------------------------- settings and roles
def load_settings(store: Store) -> Settings:
    """The stored settings (defaults for any not stored); see :meth:`Store.settings`."""
    known = {f.name for f in fields(Settings)}
    # Names a newer version may have stored are ignored rather than refused.
    values = {key: json.loads(value) for key, value in store._rows("SELECT key, value FROM settings") if key in known}
    return Settings.from_dict(values)


def save_settings(store: Store, settings: Settings) -> None:
    """Store every setting."""
    items = [(key, json.dumps(value)) for key, value in settings.to_dict().items()]

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        for key, value in items:
            _put_setting(cur, key, value)

    store._write(work)


def load_access_policy(store: Store) -> AccessPolicy:
    """The stored roles by e-mail address (an empty policy when none is stored)."""
    rows = store._rows("SELECT value FROM settings WHERE key = ?", [ACCESS_POLICY_KEY])
    return AccessPolicy.from_dict(json.loads(rows[0][0])) if rows else AccessPolicy()


def save_access_policy(store: Store, policy: AccessPolicy) -> None:
    """Store the roles by e-mail address (kept in the settings table as JSON)."""
    text = json.dumps(policy.to_dict(), sort_keys=True)
    store._write(lambda cur: _put_setting(cur, ACCESS_POLICY_KEY, text))


def _put_setting(cur: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Store one setting, replacing its stored value (a delete and an insert: no keys are declared)."""
    cur.execute("DELETE FROM settings WHERE key = ?", [key])
    cur.execute("INSERT INTO settings VALUES (?, ?)", [key, value])


# ---------------------------------------------------------------------- scenarios
def save_scenario(store: Store, name: str, spec: dict[str, Any], snapshot_id: int | None, author: str) -> int:
    """Save a new what-if scenario and return its id; see :meth:`Store.save_scenario`."""
    name = _scenario_name(name)
    text = _to_json_text(spec)

    def work(cur: duckdb.DuckDBPyConnection) -> int:
        _check_scenario_name_free(cur, name, None)
        now = _now()
        scenario_id = next_id(cur, "scenario_ids")
        cur.execute(
            "INSERT INTO scenarios VALUES (?, ?, ?, ?, ?, ?, ?)",
            [scenario_id, name, author, now, now, snapshot_id, text],
        )
        return scenario_id

    return store._write(work)


def list_scenarios(store: Store) -> pl.DataFrame:
    """The saved scenarios, oldest first."""
    return store._frame(
        "SELECT scenario_id, name, author, created_at, updated_at, snapshot_id FROM scenarios ORDER BY scenario_id"
    )


def load_scenario(store: Store, scenario_id: int) -> dict[str, Any]:
    """One scenario with its spec decoded; see :meth:`Store.load_scenario`."""
    rows = store._rows(
        "SELECT scenario_id, name, spec, snapshot_id, author, created_at, updated_at FROM scenarios "
        "WHERE scenario_id = ?",
        [scenario_id],
    )
    if not rows:
        raise _scenario_not_found(scenario_id)
    sid, name, spec, snapshot_id, author, created_at, updated_at = rows[0]
    return {
        "scenario_id": sid,
        "name": name,
        "spec": json.loads(spec),
        "snapshot_id": snapshot_id,
        "author": author,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def rename_scenario(store: Store, scenario_id: int, new_name: str) -> None:
    """Rename a scenario; see :meth:`Store.rename_scenario`."""
    name = _scenario_name(new_name)

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        _check_scenario_name_free(cur, name, scenario_id)
        _update_scenario_row(cur, scenario_id, "name", name)

    store._write(work)


def update_scenario(store: Store, scenario_id: int, spec: dict[str, Any]) -> None:
    """Replace the changes a scenario holds."""
    text = _to_json_text(spec)
    store._write(lambda cur: _update_scenario_row(cur, scenario_id, "spec", text))


def delete_scenario(store: Store, scenario_id: int) -> None:
    """Delete a scenario; see :meth:`Store.delete_scenario`."""

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        _check_scenario_exists(cur, scenario_id)
        cur.execute("DELETE FROM scenarios WHERE scenario_id = ?", [scenario_id])

    store._write(work)


# ---------------------------------------------------------------------- mapping profiles
def save_mapping_profile(store: Store, name: str, mapping: dict[str, Any]) -> None:
    """Save (or replace) a named column mapping; see :meth:`Store.save_mapping_profile`."""
    clean = short_name(name, "a mapping profile")
    text = _to_json_text(mapping)

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("DELETE FROM mapping_profiles WHERE name = ?", [clean])
        cur.execute("INSERT INTO mapping_profiles VALUES (?, ?, ?)", [clean, text, _now()])

    store._write(work)


def mapping_profiles(store: Store) -> list[str]:
    """The names of the saved mapping profiles, sorted."""
    return [r[0] for r in store._rows("SELECT name FROM mapping_profiles ORDER BY name")]


def load_mapping_profile(store: Store, name: str) -> dict[str, Any]:
    """A saved mapping as a dict; see :meth:`Store.load_mapping_profile`."""
    rows = store._rows("SELECT spec FROM mapping_profiles WHERE name = ?", [name.strip()])
    if not rows:
        known = ", ".join(mapping_profiles(store)) or "none yet"
        raise NotFoundError(f"there is no mapping profile named '{name}'; saved profiles: {known}")
    return dict(json.loads(rows[0][0]))


def _to_json_text(value: object) -> str:
    """Serialise a scenario spec or mapping: dates become ISO text, dataclasses dicts."""

    def default(obj: object) -> object:
        if isinstance(obj, (date, datetime)):
            return obj.isoformat()
        if is_dataclass(obj) and not isinstance(obj, type):
            return asdict(obj)
        if isinstance(obj, (set, frozenset, tuple)):
            return list(obj)
        raise TypeError(f"cannot store a value of type {type(obj).__name__}")

    return json.dumps(value, default=default, sort_keys=True)


def short_name(name: str, what: str) -> str:
    """Return a name people typed, stripped; refuse a blank, multi-line or too long one.

    ``what`` names the thing in the message, e.g. "a scenario".

    Raises
    ------
    InputError
        The name is blank, holds a line break or is longer than :data:`NAME_CHARS`.
    """
    clean = name.strip()
    if not clean:
        raise InputError(f"{what} needs a name")
    if any(c in clean for c in "\r\n\t\v\f\x85\u2028\u2029"):
        raise InputError(f"the name of {what} must fit on one line; remove its line breaks")
    if len(clean) > NAME_CHARS:
        raise InputError(
            f"the name of {what} is {len(clean)} characters long; shorten it to {NAME_CHARS} characters or fewer"
        )
    return clean


def _scenario_name(name: str) -> str:
    return short_name(name, "a scenario")


def _scenario_not_found(scenario_id: int) -> NotFoundError:
    return NotFoundError(f"there is no saved scenario with id {scenario_id}; it may have been deleted")


def _check_scenario_name_free(cur: duckdb.DuckDBPyConnection, name: str, scenario_id: int | None) -> None:
    rows = cur.execute(
        "SELECT scenario_id FROM scenarios WHERE lower(name) = lower(?) AND scenario_id IS DISTINCT FROM ?",
        [name, scenario_id],
    ).fetchall()
    if rows:
        raise InputError(f"a scenario named '{name}' already exists; choose another name")


def _update_scenario_row(cur: duckdb.DuckDBPyConnection, scenario_id: int, column: str, value: str) -> None:
    _check_scenario_exists(cur, scenario_id)
    cur.execute(
        f"UPDATE scenarios SET {q(column)} = ?, updated_at = ? WHERE scenario_id = ?", [value, _now(), scenario_id]
    )


def _check_scenario_exists(cur: duckdb.DuckDBPyConnection, scenario_id: int) -> None:
    if not cur.execute("SELECT 1 FROM scenarios WHERE scenario_id = ?", [scenario_id]).fetchall():
        raise _scenario_not_found(scenario_id)
