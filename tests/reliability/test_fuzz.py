"""Fuzzing the upload: mutated copies of the worked example's CSVs and workbook.

Each case either ingests or is refused with UploadRejected whose problems name the file
(and the row and column when a cell is at fault): never another exception, and never a
partial snapshot -- a stored snapshot holds exactly the rows uploaded, a refused one
leaves the database empty.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path

import pytest
from builders import FLEET_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_engine import cli
from kpi_engine.core.errors import Problem, UploadRejected
from kpi_engine.core.schema import TABLES
from kpi_engine.ingest import SourceFile, read_upload
from kpi_engine.store import Store

AS_OF = date(2026, 6, 15)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rows(table: str) -> list[list[str]]:
    with open(FLEET_DIR / f"{table}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# optional sheets (mitigations) are not part of the example
FLEET = {table: _rows(table) for table in TABLES if (FLEET_DIR / f"{table}.csv").exists()}
#: (table, column) of every date and number cell of the example: where random text goes.
TYPED = [
    (table, column)
    for table, columns in TABLES.items()
    for column, spec in columns.items()
    if str(spec.dtype) in ("Date", "Float64", "Int64")
    and table in FLEET
    and column in FLEET[table][0]
    and len(FLEET[table]) > 1
]
#: Text a person could type into a cell (control characters are the byte mutations' business).
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
#: Problems about a whole row (a value beyond the last header belongs to no column).
WHOLE_ROW = ("values but the header has",)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1", "mac-roman"]


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@st.composite
def mutated_csvs(draw: st.DrawFn) -> tuple[list[SourceFile], tuple[str, int, str] | None]:
    """The example's CSVs with one mutation; also the (file, row, column) of a mutated cell, if any."""
    tables = {table: [list(r) for r in rows] for table, rows in FLEET.items()}
    kind = draw(st.sampled_from(["cell", "swap", "cut", "delete", "insert", "encoding"]))
    cell = None
    table = draw(st.sampled_from(sorted(tables)))
    rows = tables[table]
    if kind == "cell":
        table, column = draw(st.sampled_from(TYPED))
        rows = tables[table]
        index = rows[0].index(column)
        row = draw(st.integers(1, len(rows) - 1))
        rows[row][index] = draw(TEXT | st.sampled_from(["31/02/2026", "1e400", "N/A", "#REF!", "--", "0\n:"]))
        cell = (f"{table}.csv", row + 1, column)
    elif kind == "swap" and len(rows[0]) > 1:
        a, b = draw(st.lists(st.integers(0, len(rows[0]) - 1), min_size=2, max_size=2, unique=True))
        swap_values = draw(st.booleans())  # swap the header names only, or whole columns
        for r in rows[: None if swap_values else 1]:
            r[a], r[b] = r[b], r[a]
    encoded = {t: _csv_text(r).encode("utf-8") for t, r in tables.items()}
    data = encoded[table]
    if kind == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "delete":
        start = draw(st.integers(0, len(data)))
        data = data[:start] + data[start + draw(st.integers(1, 40)) :]
    elif kind == "insert":
        start = draw(st.integers(0, len(data)))
        data = data[:start] + draw(st.binary(min_size=1, max_size=20)) + data[start:]
    elif kind == "encoding":
        data = data.decode("utf-8").encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
        if draw(st.booleans()):  # an interrupted copy: cut anywhere, even inside a character
            data = data[: draw(st.integers(0, len(data)))]
    encoded[table] = data
    return [SourceFile(f"{t}.csv", d) for t, d in encoded.items()], cell


def _check_refusal(problems: list[Problem], names: set[str], cell: tuple[str, int, str] | None) -> None:
    assert problems, "an upload refused without a problem"
    for problem in problems:
        assert problem.file in names or "," in problem.file, problem
        assert problem.message and "\n" not in problem.message, problem
        # a problem with a row names its column too, unless the whole row is at fault
        assert problem.row is None or problem.column or any(w in problem.message for w in WHOLE_ROW), problem
        assert "Traceback" not in problem.message
    if cell is not None:
        file, row, column = cell
        named = [p for p in problems if p.file == file and (p.row == row or (p.row is None and p.column == column))]
        assert named, f"no problem names row {row} or column {column} of {file}: {problems}"


def _ingest_all_or_nothing(upload: object) -> None:
    """Store the upload in an empty database: all of it, or nothing."""
    with Store.open(":memory:") as store:
        try:
            result = store.ingest(upload, AS_OF)  # type: ignore[arg-type]
        except UploadRejected as err:
            assert all(p.message for p in err.problems)
            assert store.is_empty()
            return
        portfolio = store.load_portfolio(result.snapshot_id)
        for table, frame in upload.tables.items():  # type: ignore[attr-defined]
            assert getattr(portfolio, table).height == frame.height == result.rows[table], table


@FUZZ
@given(mutated_csvs())
def test_mutated_csv_uploads_ingest_or_are_refused_cleanly(case: tuple[list[SourceFile], tuple | None]) -> None:
    files, cell = case
    try:
        upload = read_upload(files)
    except UploadRejected as err:
        _check_refusal(err.problems, {f.name for f in files}, cell)
        return
    _ingest_all_or_nothing(upload)


# ---------------------------------------------------------------------- plan files
SAMPLE_PLANS = Path(__file__).resolve().parents[2] / "data" / "sample" / "exports"
PLANS = {
    name: (SAMPLE_PLANS / name).read_bytes()
    for name in ("msproject_telematics.xml", "p6_pick_to_light.xer", "mpxj/mpp9baseline.mpp")
}


@st.composite
def mutated_plans(draw: st.DrawFn) -> SourceFile:
    """A sample MS Project XML, P6 .xer or real .mpp file with one mutation of its text or bytes."""
    name = draw(st.sampled_from(sorted(PLANS)))
    data = PLANS[name]
    kinds = ["cut", "delete", "insert", "flip"] + ([] if name.endswith(".mpp") else ["field"])
    kind = draw(st.sampled_from(kinds))
    if kind == "cut":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "delete":
        start = draw(st.integers(0, len(data)))
        data = data[:start] + data[start + draw(st.integers(1, 40)) :]
    elif kind == "insert":
        start = draw(st.integers(0, len(data)))
        data = data[:start] + draw(st.binary(min_size=1, max_size=20)) + data[start:]
    elif kind == "flip":
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1 :]
    else:
        # one value (an element's text, an .xer field) replaced by text a person could type
        pattern = rb"\t([^\t\r\n]*)" if name.endswith(".xer") else rb">([^<>]+)<"
        found = list(re.finditer(pattern, data))
        value = draw(TEXT).translate({ord(c): " " for c in "<>&\t\r\n"}).encode()
        at = found[draw(st.integers(0, len(found) - 1))]
        data = data[: at.start(1)] + value + data[at.end(1) :]
    return SourceFile(Path(name).name, data)


@FUZZ
@given(mutated_plans())
def test_mutated_plan_files_ingest_or_are_refused_cleanly(file: SourceFile) -> None:
    try:
        upload = read_upload([file])
    except UploadRejected as err:
        _check_refusal(err.problems, {file.name}, None)
        return
    _ingest_all_or_nothing(upload)


# ---------------------------------------------------------------------- workbooks
def _workbook(tables: dict[str, list[list[object]]]) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False, "nan_inf_to_errors": True})
    book.set_properties({"created": datetime(2026, 6, 15)})  # the same bytes every time: hypothesis replays them
    for table, rows in tables.items():
        sheet = book.add_worksheet(table)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value not in (None, ""):
                    sheet.write(r, c, value)
    book.close()
    return out.getvalue()


@st.composite
def mutated_workbooks(draw: st.DrawFn) -> tuple[SourceFile, tuple[str, int, str] | None]:
    """The example as one workbook with one mutation: a cell, two columns, or its bytes."""
    tables: dict[str, list[list[object]]] = {table: [list(r) for r in rows] for table, rows in FLEET.items()}
    kind = draw(st.sampled_from(["cell", "number-cell", "swap", "cut", "flip"]))
    cell = None
    if kind in ("cell", "number-cell"):
        table, column = draw(st.sampled_from(TYPED))
        rows = tables[table]
        index = rows[0].index(column)
        row = draw(st.integers(1, len(rows) - 1))
        value: object = (
            draw(TEXT)
            if kind == "cell"
            else draw(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**12), 10**12))
        )
        rows[row][index] = value
        cell = ("fleet.xlsx", row + 1, column)
    elif kind == "swap":
        table = draw(st.sampled_from(sorted(tables)))
        header = tables[table][0]
        if len(header) > 1:
            a, b = draw(st.lists(st.integers(0, len(header) - 1), min_size=2, max_size=2, unique=True))
            for r in tables[table]:
                r[a], r[b] = r[b], r[a]
    data = _workbook(tables)
    if kind == "cut":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "flip":
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1 :]
    return SourceFile("fleet.xlsx", data), cell


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_workbooks())
def test_mutated_workbooks_ingest_or_are_refused_cleanly(case: tuple[SourceFile, tuple | None]) -> None:
    file, cell = case
    try:
        upload = read_upload([file])
    except UploadRejected as err:
        _check_refusal(err.problems, {file.name}, cell)
        return
    _ingest_all_or_nothing(upload)


# ---------------------------------------------------------------------- random edits through the command line
#: Values a person (or an export) could put in any cell: edges of every range, placeholders,
#: ids that exist and ids that do not, owners with credentials.
EDIT_VALUES = [
    "9999-12-31",
    "2999-12-31",
    "1899-12-30",
    "1900-01-01",
    "2199-12-31",
    "2026-09-30",
    "2026-06-15",
    "3000000",
    "1e12",
    "-1e12",
    "1e308",
    "-5",
    "0",
    "3650",
    "-3650",
    "125000",
    "0.5",
    "",
    "M1",
    "M3",
    "M33",
    "K-CPM",
    "K-XXX",
    "P-ROUTE",
    "Ann Lee, PhD, MBA",
    "Smith, John",
    "Red",
]
MILESTONE_IDS = ["M1", "M2", "M3", "M4", "M5", "M6", "M33"]
KPI_IDS = ["K-CPM", "K-OTD", "K-IDLE", "K-XXX"]


@st.composite
def edited_fleets(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    """The example's CSV rows with one to three edits: a cell, a dependency or link added, a row dropped."""
    tables = {table: [list(r) for r in rows] for table, rows in FLEET.items()}
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "dependency", "link", "drop"]))
        if kind == "cell":
            table = draw(st.sampled_from(sorted(tables)))
            rows = tables[table]
            if len(rows) < 2:
                continue
            row, column = draw(st.integers(1, len(rows) - 1)), draw(st.integers(0, len(rows[0]) - 1))
            rows[row][column] = draw(st.sampled_from(EDIT_VALUES) | TEXT)
        elif kind == "dependency":  # cycles, self-dependencies and unknown ids among them
            lag = draw(st.sampled_from(["0", "7", "-3", "3650", "3651", ""]))
            tables["dependencies"].append(
                [draw(st.sampled_from(MILESTONE_IDS)), draw(st.sampled_from(MILESTONE_IDS)), lag]
            )
        elif kind == "link":
            money = draw(st.sampled_from(["125000", "0", "1e9", "1e10", "-1", ""]))
            ramp = draw(st.sampled_from(["0", "28", "-5", ""]))
            row = [draw(st.sampled_from(MILESTONE_IDS)), draw(st.sampled_from(KPI_IDS)), "-0.1", ramp, money]
            tables["links"].append(row)
        else:
            table = draw(st.sampled_from(sorted(tables)))
            if len(tables[table]) > 1:
                del tables[table][draw(st.integers(1, len(tables[table]) - 1))]
    return tables


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _snapshot_ids(db: Path) -> list[int]:
    with Store.open(db) as store:
        return store.snapshot_ids()


def _reads(db: Path) -> None:
    """Every reading command exits 0 with a JSON document and nothing on stderr."""
    for argv in (
        ["exceptions", "--format", "json"],
        ["kpis", "--format", "json"],
        ["whatif", "--format", "json"],
        ["simulate", "--runs", "20", "--format", "json"],
    ):
        code, out, err = _cli(*argv, "--db", str(db))
        assert (code, err) == (0, ""), (argv, err)
        json.loads(out)


@pytest.fixture(scope="module")
def fleet_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the clean worked example as snapshot 1 (2026-06-15)."""
    path = tmp_path_factory.mktemp("fleet") / "kpi.duckdb"
    code, _, err = _cli(
        "ingest", *sorted(str(p) for p in FLEET_DIR.glob("*.csv")), "--db", str(path), "--as-of", "2026-06-15"
    )
    assert code == 0, err
    return path


@pytest.mark.slow
@settings(
    # each example runs two CLI ingests and reads every snapshot back (about 2 s): 25 keep the
    # whole suite inside its ten minutes
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(edited_fleets())
def test_random_edits_are_stored_and_read_or_refused_whole_and_later_snapshots_read(fleet_db: Path, tables) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "kpi.duckdb"
        shutil.copy(fleet_db, db)
        upload = Path(folder) / "upload"
        upload.mkdir()
        for table, rows in tables.items():
            (upload / f"{table}.csv").write_text(_csv_text(rows), encoding="utf-8")
        code, _, err = _cli("ingest", str(upload), "--db", str(db), "--as-of", "2026-06-22")
        assert "Traceback" not in err and "unexpected error" not in err, err
        names = {f"{table}.csv" for table in tables}
        if code == 0:
            assert _snapshot_ids(db) == [1, 2]
            _reads(db)
        else:
            assert code == 1, err
            problems = [line for line in err.splitlines() if not line.startswith("warning: ")]
            assert problems, err
            if problems[-1].startswith("Nothing was stored. Upload the missing milestones too"):
                # not bad data: the upload drops milestones, refused until confirmed (--allow-removals)
                assert all(line.startswith("This upload removes milestone '") for line in problems[:-1]), err
                assert len(problems) > 1, err
            else:
                for line in problems:
                    assert line.split(",")[0] in names or line.startswith("snapshot "), line
                    assert ", sheet " in line and ", row " in line and ", column " in line, line
            assert _snapshot_ids(db) == [1]  # nothing of the upload is stored
        # the clean example a week later is stored and read, whatever came before
        clean = sorted(str(p) for p in FLEET_DIR.glob("*.csv"))
        code, _, err = _cli("ingest", *clean, "--db", str(db), "--as-of", "2026-06-29")
        assert code == 0, err
        _reads(db)
