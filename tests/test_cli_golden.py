"""The CLI's JSON on the worked example, compared with golden files kept in the repository.

A change in any figure, field or order shows up as a diff of the golden file. When the
change is intended, rewrite them with ``python -m pytest tests/test_cli_golden.py
--update-golden`` and review the diff before committing it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpi_engine import cli

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"

CASES = [
    pytest.param("exceptions", ["exceptions", "--format", "json"], id="exceptions"),
    pytest.param("kpis", ["kpis", "--format", "json"], id="kpis"),
    pytest.param(
        "whatif",
        ["whatif", "--slip", "M1=14", "--workaround", "M1:2026-08-31:50000:0.6", "--format", "json"],
        id="whatif-m1-plus-14-with-workaround",
    ),
    pytest.param("simulate", ["simulate", "--runs", "500", "--seed", "0", "--format", "json"], id="simulate-seed-0"),
]


@pytest.fixture(scope="module")
def fleet_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The worked example stored as one snapshot as of 2026-06-15."""
    from builders import FLEET_DIR

    db = str(tmp_path_factory.mktemp("golden") / "kpi.duckdb")
    files = [str(p) for p in sorted(FLEET_DIR.glob("*.csv"))]
    assert cli.main(["ingest", *files, "--db", db, "--as-of", "2026-06-15"]) == 0
    return db


@pytest.mark.parametrize(("name", "args"), CASES)
def test_json_output_matches_its_golden_file(
    name: str, args: list[str], fleet_db: str, update_golden: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main([*args, "--db", fleet_db]) == 0
    produced = json.loads(capsys.readouterr().out)
    path = GOLDEN / f"{name}.json"
    if update_golden:
        path.write_text(json.dumps(produced, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with --update-golden once and review it"
    assert produced == json.loads(path.read_text(encoding="utf-8"))
