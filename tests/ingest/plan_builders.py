"""Small MS Project XML and P6 .xer files built from literal rows, for the plan file tests."""

from __future__ import annotations

from kpi_engine.ingest import SourceFile

NS = "http://schemas.microsoft.com/project"


def mspdi_task(
    uid: int,
    name: str,
    *,
    level: int = 1,
    finish: str | None = "2026-03-13T17:00:00",
    summary: bool = False,
    milestone: bool = False,
    baseline: str | None = None,
    links: tuple[tuple[int, int, int, int], ...] = (),
    status: str | None = None,
) -> str:
    """One Task element; ``links`` are (PredecessorUID, Type, LinkLag, LagFormat)."""
    parts = [
        f"<UID>{uid}</UID><ID>{uid}</ID><Name>{name}</Name><OutlineLevel>{level}</OutlineLevel>",
        f"<Finish>{finish}</Finish>" if finish else "",
        f"<Summary>{int(summary)}</Summary><Milestone>{int(milestone)}</Milestone>",
        *(
            f"<PredecessorLink><PredecessorUID>{p}</PredecessorUID><Type>{t}</Type>"
            f"<LinkLag>{lag}</LinkLag><LagFormat>{fmt}</LagFormat></PredecessorLink>"
            for p, t, lag, fmt in links
        ),
        f"<ExtendedAttribute><FieldID>188743731</FieldID><Value>{status}</Value></ExtendedAttribute>" if status else "",
        f"<Baseline><Number>0</Number><Finish>{baseline}</Finish></Baseline>" if baseline else "",
    ]
    return "<Task>" + "".join(parts) + "</Task>"


def mspdi(*tasks: str, title: str = "P-APP", minutes_per_day: int | None = None, name: str = "plan.xml") -> SourceFile:
    """An MS Project XML file holding ``tasks`` (a Status custom field is declared as Text1)."""
    per_day = f"<MinutesPerDay>{minutes_per_day}</MinutesPerDay>" if minutes_per_day else ""
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Project xmlns="{NS}"><Title>{title}</Title>{per_day}'
        "<ExtendedAttributes><ExtendedAttribute><FieldID>188743731</FieldID><FieldName>Text1</FieldName>"
        "<Alias>Status</Alias></ExtendedAttribute></ExtendedAttributes>"
        f"<Tasks>{''.join(tasks)}</Tasks></Project>"
    )
    return SourceFile(name, text.encode())


XER_TASK_FIELDS = [
    "task_id",
    "proj_id",
    "wbs_id",
    "clndr_id",
    "task_type",
    "status_code",
    "task_code",
    "task_name",
    "act_end_date",
    "early_end_date",
    "target_end_date",
]


def xer(
    tasks: list[list[str]],
    preds: list[list[str]] = (),  # type: ignore[assignment]
    *,
    projects: tuple[tuple[str, str], ...] = (("1", "P-APP"),),
    calendars: tuple[tuple[str, str], ...] = (("10", "8"), ("11", "10")),
    version: str = "19.12",
    name: str = "plan.xer",
) -> SourceFile:
    """A .xer file: TASK rows in :data:`XER_TASK_FIELDS` order, TASKPRED rows of
    (task_id, pred_task_id, pred_type, lag_hr_cnt), PROJECT (proj_id, proj_short_name) and
    CALENDAR (clndr_id, day_hr_cnt) records."""
    lines = [f"ERMHDR\t{version}\t2026-06-15\tProject\tadmin\tAdmin\tdb\tProject Management\tUSD"]
    lines += ["%T\tCALENDAR", "%F\tclndr_id\tday_hr_cnt", *(f"%R\t{c}\t{h}" for c, h in calendars)]
    lines += ["%T\tPROJECT", "%F\tproj_id\tproj_short_name", *(f"%R\t{i}\t{n}" for i, n in projects)]
    lines += ["%T\tTASK", "%F\t" + "\t".join(XER_TASK_FIELDS), *("%R\t" + "\t".join(t) for t in tasks)]
    if preds:
        lines += ["%T\tTASKPRED", "%F\ttask_id\tpred_task_id\tpred_type\tlag_hr_cnt"]
        lines += ["%R\t" + "\t".join(p) for p in preds]
    lines.append("%E")
    return SourceFile(name, ("\r\n".join(lines) + "\r\n").encode())
