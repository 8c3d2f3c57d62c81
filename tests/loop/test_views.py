"""Titles of the loop's items, as My items and the digests show them."""

from __future__ import annotations

import polars as pl

from kpi_engine.loop.views import item_labels


def test_a_finding_on_a_project_is_titled_by_its_id_and_a_name_that_says_more() -> None:
    rows = pl.DataFrame(
        {
            "kind": ["governance", "governance", "governance"],
            "milestone_id": [None, None, None],
            "kpi_id": [None, None, None],
            "finding": ["project has no owner"] * 3,
            "finding_project": ["RTE", "Depot build", "P-9"],
            "project_name": ["Fleet routing platform", "Depot build", None],
        }
    )
    assert item_labels(rows).to_list() == [
        "Project RTE Fleet routing platform: project has no owner",
        "Project Depot build: project has no owner",
        "Project P-9: project has no owner",
    ]
