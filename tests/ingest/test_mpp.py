"""MS Project .mpp through MPXJ: the plan read by MPXJ maps as the same plan saved as XML.

MPXJ cannot write .mpp files, so these tests hand the .mpp reader a plan MPXJ writes (MPX,
made from the XML sample by MPXJ itself): MPXJ's reader recognises a file by its content,
so that is the same path an .mpp takes (read by MPXJ, written as MS Project XML, mapped).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from kpi_engine.ingest import SourceFile, read_paths, read_upload

from .support import SAMPLE_EXPORTS, accepted, problem_lines

REPO = SAMPLE_EXPORTS.parents[2]

pytest.importorskip("mpxj")


def _mpx_of_sample() -> bytes:
    from kpi_engine.ingest.tools.mpp import _java

    java = _java()  # starts the JVM as an .mpp upload does
    from java.io import ByteArrayOutputStream
    from org.mpxj.mpx import MPXWriter

    project = java["reader"]().read(str(SAMPLE_EXPORTS / "msproject_telematics.xml"))
    out = ByteArrayOutputStream()
    MPXWriter().write(project, out)
    return bytes(out.toByteArray())


def test_a_plan_read_by_mpxj_maps_as_its_xml() -> None:
    from_xml = accepted(
        SourceFile("msproject_telematics.xml", (SAMPLE_EXPORTS / "msproject_telematics.xml").read_bytes())
    )
    from_mpp = accepted(SourceFile("telematics.mpp", _mpx_of_sample()))
    assert from_mpp.files[0].source == "msproject"
    # the MPX format keeps no custom field aliases, so the reported status is the one difference
    columns = [c for c in from_xml.tables["milestones"].columns if c not in ("reported_status", "_file")]
    assert from_mpp.tables["milestones"].select(columns).rows() == from_xml.tables["milestones"].select(columns).rows()
    for table in ("tasks", "dependencies"):
        assert from_mpp.tables[table].drop("_file").rows() == from_xml.tables[table].drop("_file").rows()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "it holds no format MPXJ reads"),
        (b"MS Project plan, but only in name", "it holds no format MPXJ reads"),
    ],
)
def test_a_damaged_mpp_is_refused_naming_the_file(data: bytes, expected: str) -> None:
    lines = problem_lines(SourceFile("plan.mpp", data))
    assert len(lines) == 1 and lines[0].startswith("plan.mpp, sheet -, row -, column -: "), lines
    assert expected in lines[0]


@pytest.mark.parametrize(
    ("reader_says", "expected"),
    [
        ("File is password protected", "the plan is protected with a password; remove the password"),
        ("File is password protected. Please enter password.", "the plan is protected with a password"),
        (
            "Invalid file format MSProject.MPP4",
            "the plan was saved by a version of MS Project this program cannot read",
        ),
        ("Error reading file\nat org.mpxj...", "the plan is damaged and cannot be read (Error reading file)"),
    ],
)
def test_what_mpxj_says_becomes_a_message_for_the_planner(reader_says: str, expected: str) -> None:
    from kpi_engine.ingest.tools.mpp import SAVE_AS_XML, _reader_problem

    message = _reader_problem(reader_says)
    assert message.startswith(expected) and message.endswith(SAVE_AS_XML)
    assert "\n" not in message


def test_without_java_an_mpp_upload_is_refused_with_what_to_install(tmp_path: Path) -> None:
    """A machine with no Java runtime: the Java installations are hidden in a mount namespace of its own.

    The upload goes through the CLI in that namespace, onto a store holding one week: the
    .mpp is refused with what to install and the stored week is untouched.
    """
    from kpi_engine.ingest.tools.mpp import NO_JAVA
    from kpi_engine.store import Store

    db = tmp_path / "kpi.duckdb"
    with Store.open(db) as store:
        store.ingest(
            read_upload(read_paths([SAMPLE_EXPORTS.parent / "portfolio"])), as_of=date(2026, 6, 1), author="pmo"
        )
    plan = tmp_path / "telematics.mpp"
    plan.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    hidden = tmp_path / "no_java"
    hidden.mkdir()
    # JAVA_HOME unset; /usr/bin/java then points into the hidden /usr/lib/jvm and resolves to nothing
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    script = f'mount --bind "{hidden}" /usr/lib/jvm && exec "$0" "$@"'
    command = ["unshare", "-m", "sh", "-c", script, sys.executable, "-m", "kpi_engine", "ingest", str(plan)]
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0 or not Path("/usr/lib/jvm").is_dir():
        reason = f"cannot hide the Java runtime here (unshare -m: {probe.stderr.strip() or 'no /usr/lib/jvm'})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run(
        [*command, "--db", str(db), "--as-of", "2026-06-08"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"telematics.mpp, sheet -, row -, column -: {NO_JAVA}", done.stderr
    with Store.open(db) as store:
        assert [store.snapshot_as_of(s) for s in store.snapshot_ids()] == [date(2026, 6, 1)]
