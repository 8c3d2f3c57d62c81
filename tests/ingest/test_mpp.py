"""MS Project .mpp through MPXJ: the plan read by MPXJ maps as the same plan saved as XML.

MPXJ cannot write .mpp files, so these tests hand the .mpp reader a plan MPXJ writes (MPX,
made from the XML sample by MPXJ itself): MPXJ's reader recognises a file by its content,
so that is the same path an .mpp takes (read by MPXJ, written as MS Project XML, mapped).
"""

from __future__ import annotations

import pytest

from kpi_engine.ingest import SourceFile

from .support import SAMPLE_EXPORTS, accepted, problem_lines

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
