"""Plan files are recognised by content or extension, in folders too, and never read as sheets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kpi_engine.ingest import SourceFile, detect_source, read_paths, read_upload
from kpi_engine.ingest.detect import plan_format

from .support import SAMPLE_EXPORTS


@pytest.mark.parametrize(
    ("name", "source"), [("msproject_telematics.xml", "msproject"), ("p6_pick_to_light.xer", "p6")]
)
def test_detect_source_of_sample_plans(name: str, source: str) -> None:
    assert detect_source(read_paths([SAMPLE_EXPORTS / name])[0]) == source


@pytest.mark.parametrize(
    ("name", "data", "plan"),
    [
        ("export.txt", (SAMPLE_EXPORTS / "p6_pick_to_light.xer").read_bytes(), "xer"),  # content wins
        ("plan.dat", (SAMPLE_EXPORTS / "msproject_telematics.xml").read_bytes(), "mspdi"),
        ("notes.xml", b"<notes/>", "mspdi"),  # named .xml: the XML reader says what it holds
        ("Plan.MPP", b"anything", "mpp"),
        ("plan.mpt", b"anything", "mpp"),
        ("milestones.csv", b"milestone_id,name\n", None),
        ("book.xlsx", b"PK\x03\x04", None),
    ],
)
def test_plan_format_by_content_then_extension(name: str, data: bytes, plan: str | None) -> None:
    assert plan_format(name, data) == plan


def test_a_folder_reads_plan_files_too(tmp_path: Path) -> None:
    for name in ("msproject_telematics.xml", "p6_pick_to_light.xer"):
        shutil.copy(SAMPLE_EXPORTS / name, tmp_path / name)
    files = read_paths([tmp_path])
    assert [f.name for f in files] == ["msproject_telematics.xml", "p6_pick_to_light.xer"]
    upload = read_upload(files)
    assert sorted(upload.tables["milestones"]["project_id"].unique().to_list()) == ["P-013", "P-TELE"]
    assert [(f.name, f.source) for f in upload.files] == [
        ("msproject_telematics.xml", "msproject"),
        ("p6_pick_to_light.xer", "p6"),
    ]


def test_an_xer_named_txt_is_read_as_p6_not_as_a_tab_separated_sheet() -> None:
    data = (SAMPLE_EXPORTS / "p6_pick_to_light.xer").read_bytes()
    upload = read_upload([SourceFile("export.txt", data)])
    assert upload.files[0].source == "p6"
    assert upload.tables["milestones"].height == 5
