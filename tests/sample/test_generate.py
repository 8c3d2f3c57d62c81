"""The bundled sample portfolio: reproducible, well-formed, and telling the worked example."""

from __future__ import annotations

import csv
import graphlib
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from kpi_engine.core.schema import STATUS_WORDS, TABLES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
GENERATOR = SAMPLE / "generate.py"
FLEET = REPO / "tests" / "fixtures" / "fleet"

WEEKS = ["2026-04-27", "2026-05-04", "2026-05-11", "2026-05-18", "2026-05-25", "2026-06-01", "2026-06-08", "2026-06-15"]
STATIC = ["objectives", "kpis", "projects", "links", "dependencies", "kpi_actuals"]
FLEET_MILESTONES = {"M1", "M2", "M3", "M4", "M5", "M6"}
FLEET_KPIS = {"K-CPM", "K-OTD", "K-IDLE"}
DATE_COLUMNS = {
    "kpis": ("period_start", "target_date"),
    "kpi_actuals": ("as_of",),
    "milestones": ("baseline_start", "baseline_finish", "forecast_finish", "actual_finish"),
    "tasks": ("forecast_finish", "actual_finish"),
}


def _run_generator(out: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], check=True, capture_output=True, text=True)


def _files(root: Path) -> dict[str, bytes]:
    """The generated CSVs (portfolio/ and weeks/; exports/ holds hand-written tool exports)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for folder in ("portfolio", "weeks")
        for p in sorted((root / folder).rglob("*.csv"))
    }


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    _run_generator(out)
    return out


@pytest.fixture(scope="module")
def static(generated: Path) -> dict[str, list[dict[str, str]]]:
    return {table: _read(generated / "portfolio" / f"{table}.csv") for table in STATIC}


@pytest.fixture(scope="module")
def weeks(generated: Path) -> dict[str, dict[str, list[dict[str, str]]]]:
    return {week: {p.stem: _read(p) for p in sorted((generated / "weeks" / week).glob("*.csv"))} for week in WEEKS}


# -- reproducibility --------------------------------------------------------------------


def test_two_runs_write_byte_identical_files(generated: Path, tmp_path: Path) -> None:
    _run_generator(tmp_path)
    assert _files(tmp_path) == _files(generated)


def test_committed_sample_is_what_the_generator_writes(generated: Path) -> None:
    # Fails when generate.py changed and `python data/sample/generate.py` was not rerun.
    assert _files(SAMPLE) == _files(generated)


def test_a_rerun_removes_files_it_no_longer_writes(tmp_path: Path) -> None:
    stale = tmp_path / "weeks" / "2026-01-05" / "milestones.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("milestone_id\n", encoding="utf-8")
    _run_generator(tmp_path)
    assert not stale.parent.exists()


# -- layout and format ------------------------------------------------------------------


def test_layout_is_static_tables_plus_eight_weekly_uploads(generated: Path) -> None:
    names = set(_files(generated))
    expected = {f"portfolio/{t}.csv" for t in STATIC}
    expected |= {f"weeks/{w}/{t}.csv" for w in WEEKS for t in ("milestones", "tasks")}
    expected |= {"weeks/2026-05-04/kpi_actuals.csv", "weeks/2026-06-01/kpi_actuals.csv"}
    assert names == expected


def test_headers_are_the_canonical_columns_in_order(generated: Path) -> None:
    for path in generated.rglob("*.csv"):
        assert _header(path) == list(TABLES[path.stem]), path


def test_files_are_small_utf8_with_unix_newlines(generated: Path) -> None:
    files = _files(generated)
    assert sum(len(b) for b in files.values()) < 1_500_000
    for name, data in files.items():
        text = data.decode("utf-8")
        assert "\r" not in text, name
        assert text.endswith("\n"), name


def test_every_date_is_an_iso_calendar_date(generated: Path) -> None:
    for path in generated.rglob("*.csv"):
        for row in _read(path):
            for column in DATE_COLUMNS.get(path.stem, ()):
                if row[column]:
                    assert date.fromisoformat(row[column]).isoformat() == row[column]


def test_numbers_parse(static: dict[str, list[dict[str, str]]]) -> None:
    for row in static["kpis"]:
        float(row["baseline_value"]), float(row["target_value"])
    for row in static["links"]:
        float(row["kpi_delta"])
        assert 0 <= float(row["ramp_days"]) <= 60
        assert 1_000 <= float(row["value_per_week"]) <= 150_000
    for row in static["dependencies"]:
        assert 0 <= int(row["lag_days"]) <= 14
    for row in static["projects"]:
        assert row["budget"] == "" or float(row["budget"]) > 0


# -- counts and identity ----------------------------------------------------------------


def test_counts(static: dict[str, list[dict[str, str]]], weeks: dict) -> None:
    assert len(static["objectives"]) == 8
    assert len(static["kpis"]) == 25
    assert len(static["projects"]) == 40
    assert len({p["program"] for p in static["projects"]}) == 8
    assert len({p["portfolio"] for p in static["projects"]}) == 4
    assert 140 <= len(static["dependencies"]) <= 160
    assert 320 <= len(static["links"]) <= 380
    for week in (WEEKS[0], WEEKS[-1]):
        assert len(weeks[week]["milestones"]) == 300
        assert len(weeks[week]["tasks"]) == 1500


def test_ids_are_unique(static: dict[str, list[dict[str, str]]], weeks: dict) -> None:
    keyed = {
        "objectives": ("objective_id",),
        "kpis": ("kpi_id",),
        "projects": ("project_id",),
        "links": ("milestone_id", "kpi_id"),
        "dependencies": ("predecessor_id", "successor_id"),
    }
    for table, key in keyed.items():
        keys = [tuple(row[c] for c in key) for row in static[table]]
        assert len(keys) == len(set(keys)), table
    for week, tables in weeks.items():
        for table, column in (("milestones", "milestone_id"), ("tasks", "task_id")):
            ids = [row[column] for row in tables[table]]
            assert len(ids) == len(set(ids)), (week, table)
    actuals = [(r["kpi_id"], r["as_of"]) for r in static["kpi_actuals"]]
    actuals += [(r["kpi_id"], r["as_of"]) for tables in weeks.values() for r in tables.get("kpi_actuals", [])]
    assert len(actuals) == len(set(actuals))


def test_references_resolve_except_the_deliberate_governance_cases(
    static: dict[str, list[dict[str, str]]], weeks: dict
) -> None:
    objectives = {r["objective_id"] for r in static["objectives"]}
    kpis = {r["kpi_id"] for r in static["kpis"]}
    projects = {r["project_id"] for r in static["projects"]}
    milestones = {r["milestone_id"] for r in weeks[WEEKS[-1]]["milestones"]}
    assert {r["objective_id"] for r in static["kpis"]} - objectives == {""}  # K-EMPTY
    assert {r["project_id"] for r in weeks[WEEKS[-1]]["milestones"]} == projects
    assert {r["kpi_id"] for r in static["kpi_actuals"]} <= kpis
    assert {r["milestone_id"] for r in static["links"]} - milestones == {"M-0412"}
    assert {r["kpi_id"] for r in static["links"]} - kpis == {"K-OTIF"}
    ends = {r["predecessor_id"] for r in static["dependencies"]}
    ends |= {r["successor_id"] for r in static["dependencies"]}
    assert ends - milestones == {"M-0500"}
    for week, tables in weeks.items():
        uploaded = {r["milestone_id"] for r in tables["milestones"]}
        assert {r["milestone_id"] for r in tables["tasks"]} - uploaded == {"M-0999"}, week
        assert {r["kpi_id"] for r in tables.get("kpi_actuals", [])} <= kpis


def test_every_milestone_and_task_is_in_the_first_and_last_week(weeks: dict) -> None:
    first, last = weeks[WEEKS[0]], weeks[WEEKS[-1]]
    for table, column in (("milestones", "milestone_id"), ("tasks", "task_id")):
        assert {r[column] for r in first[table]} == {r[column] for r in last[table]}


def test_partial_weeks_upload_whole_projects(weeks: dict) -> None:
    everything = weeks[WEEKS[0]]
    by_project: dict[str, set[str]] = {}
    for r in everything["milestones"]:
        by_project.setdefault(r["project_id"], set()).add(r["milestone_id"])
    tasks_of: dict[str, set[str]] = {}
    for r in everything["tasks"]:
        tasks_of.setdefault(r["milestone_id"], set()).add(r["task_id"])
    for week in WEEKS[1:-1]:
        rows = weeks[week]
        uploaded = {r["project_id"] for r in rows["milestones"]}
        assert 0.6 <= len(uploaded) / len(by_project) <= 0.9, week
        assert "P-ROUTE" in uploaded
        milestones = {r["milestone_id"] for r in rows["milestones"]}
        assert milestones == set().union(*(by_project[p] for p in uploaded))
        tasks = {r["task_id"] for r in rows["tasks"] if r["milestone_id"] != "M-0999"}
        assert tasks == set().union(*(tasks_of.get(m, set()) for m in milestones))


# -- plan consistency -------------------------------------------------------------------


def test_dependencies_point_forward_and_form_no_cycle(static: dict[str, list[dict[str, str]]], weeks: dict) -> None:
    finish = {r["milestone_id"]: date.fromisoformat(r["baseline_finish"]) for r in weeks[WEEKS[-1]]["milestones"]}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for r in static["dependencies"]:
        pred, succ = r["predecessor_id"], r["successor_id"]
        if pred in finish and succ in finish:
            assert finish[succ] > finish[pred], r
            sorter.add(succ, pred)
    assert len(list(sorter.static_order())) > 100  # raises CycleError on a cycle


def test_generated_work_stays_off_the_worked_example(static: dict) -> None:
    # The worked example's figures hold in the sample only if nothing else moves its KPIs.
    for r in static["links"]:
        assert (r["milestone_id"] in FLEET_MILESTONES) == (r["kpi_id"] in FLEET_KPIS), r
    for r in static["dependencies"]:
        touches = {r["predecessor_id"], r["successor_id"]} & FLEET_MILESTONES
        assert not touches or (r["predecessor_id"], r["successor_id"]) == ("M1", "M3")


def test_milestone_states_are_consistent_week_by_week(weeks: dict) -> None:
    done: dict[str, str] = {}
    for week in WEEKS:
        as_of = date.fromisoformat(week)
        for r in weeks[week]["milestones"]:
            pct = int(r["percent_complete"])
            assert 0 <= pct <= 100
            if r["actual_finish"]:
                assert date.fromisoformat(r["actual_finish"]) <= as_of
                assert pct == 100
                assert done.setdefault(r["milestone_id"], r["actual_finish"]) == r["actual_finish"]
            else:
                assert pct < 100
                assert r["milestone_id"] not in done, "a finished milestone reopened"
        for r in weeks[week]["tasks"]:
            if r["actual_finish"]:
                assert date.fromisoformat(r["actual_finish"]) <= as_of


def test_finished_milestones_have_finished_tasks(weeks: dict) -> None:
    for week in WEEKS:
        finished = {r["milestone_id"]: r["actual_finish"] for r in weeks[week]["milestones"] if r["actual_finish"]}
        for r in weeks[week]["tasks"]:
            if r["milestone_id"] in finished:
                assert r["actual_finish"] and r["actual_finish"] <= finished[r["milestone_id"]]


def test_most_open_milestones_are_forecast_on_or_after_the_snapshot(weeks: dict) -> None:
    for week in WEEKS:
        open_rows = [r for r in weeks[week]["milestones"] if not r["actual_finish"]]
        past_due = [r for r in open_rows if (r["forecast_finish"] or r["baseline_finish"]) < week]
        assert len(past_due) <= 0.05 * len(open_rows), week


def test_reported_statuses_are_words_the_normaliser_knows(weeks: dict) -> None:
    seen = {r["reported_status"] for t in weeks.values() for r in t["milestones"]}
    assert {s.strip().lower() for s in seen} - {""} <= set(STATUS_WORDS)
    assert "" in seen  # some projects leave the status blank


def test_governance_cases_are_present(static: dict[str, list[dict[str, str]]], weeks: dict) -> None:
    owners = [r["owner"] for r in weeks[WEEKS[-1]]["milestones"]]
    assert 2 <= owners.count("") <= 5
    assert "Ann Lee, Bob Stone" in owners and "Ann Lee / Bob Stone" in owners
    assert "Smith, John" in owners
    linked = {r["milestone_id"] for r in static["links"]}
    unlinked = [r for r in weeks[WEEKS[-1]]["milestones"] if r["milestone_id"] not in linked]
    assert 3 <= len(unlinked) <= 20
    kpis_with_links = {r["kpi_id"] for r in static["links"]}
    assert [k["kpi_id"] for k in static["kpis"] if k["kpi_id"] not in kpis_with_links] == ["K-IDLE"]
    with_actuals = {r["kpi_id"] for r in static["kpi_actuals"]}
    with_actuals |= {r["kpi_id"] for t in weeks.values() for r in t.get("kpi_actuals", [])}
    assert sorted({k["kpi_id"] for k in static["kpis"]} - with_actuals) == ["K-IDLE", "K-NPS"]


# -- the worked example inside the sample ------------------------------------------------


def test_actuals_are_never_dated_after_their_upload(static: dict, weeks: dict) -> None:
    assert max(r["as_of"] for r in static["kpi_actuals"]) < WEEKS[0]
    for week, tables in weeks.items():
        assert all(r["as_of"] <= week for r in tables.get("kpi_actuals", []))


def test_routing_go_live_reports_green_while_its_vendor_task_slips(weeks: dict) -> None:
    m1 = [next(r for r in weeks[w]["milestones"] if r["milestone_id"] == "M1") for w in WEEKS]
    t1 = [next(r for r in weeks[w]["tasks"] if r["task_id"] == "T1") for w in WEEKS]
    assert m1[0]["forecast_finish"] == "2026-08-31"
    assert all(STATUS_WORDS[r["reported_status"].lower()] == "Green" for r in m1)
    forecasts = [r["forecast_finish"] for r in t1]
    assert forecasts == sorted(forecasts) and forecasts[0] < "2026-08-31" < forecasts[-1]


def test_last_week_holds_the_worked_example_exactly(static: dict, weeks: dict) -> None:
    def fleet(table: str) -> list[dict[str, str]]:
        return _read(FLEET / f"{table}.csv")

    last = weeks[WEEKS[-1]]
    ids = {"milestones": FLEET_MILESTONES, "tasks": {"T1", "T2", "T3"}}
    for table, key in (("milestones", "milestone_id"), ("tasks", "task_id")):
        assert [r for r in last[table] if r[key] in ids[table]] == fleet(table)
    for table, key in (("objectives", "objective_id"), ("kpis", "kpi_id"), ("projects", "project_id")):
        wanted = fleet(table)
        names = {r[key] for r in wanted}
        assert [r for r in static[table] if r[key] in names] == wanted
    assert [r for r in static["links"] if r["milestone_id"] in FLEET_MILESTONES] == fleet("links")
    assert [r for r in static["dependencies"] if r["predecessor_id"] in FLEET_MILESTONES] == fleet("dependencies")
    actuals = static["kpi_actuals"] + [r for t in weeks.values() for r in t.get("kpi_actuals", [])]
    assert sorted((r["kpi_id"], r["as_of"], r["value"]) for r in actuals if r["kpi_id"] in FLEET_KPIS) == sorted(
        (r["kpi_id"], r["as_of"], r["value"]) for r in fleet("kpi_actuals")
    )
