"""Write the bundled sample portfolio as canonical CSV files.

The sample is a logistics company's strategy portfolio: 8 objectives, 25 KPIs, 40
projects in 8 programs, 300 milestones, 1,500 tasks, dependencies, milestone-to-KPI links
and monthly KPI actuals, plus eight weekly status uploads from 2026-04-27 to 2026-06-15.
The worked example of DOMAIN.md section 5 (the routing-software story) is part of it with
its own ids and values; in the last week it is exactly the worked example.

Everything is drawn from ``random.Random(SEED)``: the same script writes the same bytes,
whatever the date or the machine.

Usage::

    python data/sample/generate.py            # rewrites data/sample/portfolio and weeks
    python data/sample/generate.py --out DIR  # writes DIR/portfolio and DIR/weeks
"""

from __future__ import annotations

import argparse
import csv
import graphlib
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

SEED = 20260615

#: The eight weekly snapshots; the first and the last hold every project.
WEEKS: tuple[date, ...] = tuple(date(2026, 4, 27) + timedelta(weeks=k) for k in range(8))
PERIOD_START = date(2026, 1, 1)
#: Month-end actuals known before the first snapshot (portfolio/kpi_actuals.csv).
STATIC_MONTHS = (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31))
#: Month-end actuals that arrive with a weekly upload: upload date -> month end.
PUBLISHED_MONTHS = {date(2026, 5, 4): date(2026, 4, 30), date(2026, 6, 1): date(2026, 5, 31)}

#: Column order of every file, as DOMAIN.md section 1.
COLUMNS: dict[str, tuple[str, ...]] = {
    "objectives": ("objective_id", "name", "owner", "description"),
    "kpis": (
        "kpi_id",
        "name",
        "objective_id",
        "owner",
        "unit",
        "direction",
        "baseline_value",
        "target_value",
        "period_start",
        "target_date",
    ),
    "kpi_actuals": ("kpi_id", "as_of", "value"),
    "projects": ("project_id", "name", "program", "portfolio", "owner", "sponsor", "budget"),
    "milestones": (
        "milestone_id",
        "project_id",
        "name",
        "owner",
        "baseline_start",
        "baseline_finish",
        "forecast_finish",
        "actual_finish",
        "percent_complete",
        "reported_status",
    ),
    "tasks": ("task_id", "milestone_id", "name", "owner", "forecast_finish", "actual_finish"),
    "dependencies": ("predecessor_id", "successor_id", "lag_days"),
    "links": ("milestone_id", "kpi_id", "kpi_delta", "ramp_days", "value_per_week"),
}

Row = list[str]

# --------------------------------------------------------------------------------------
# The worked example (DOMAIN.md section 5), kept as literal text so that the last week
# reproduces it character for character.
# --------------------------------------------------------------------------------------

FLEET_OBJECTIVES: list[Row] = [
    ["O-FLEET", "Cut fleet operating cost", "Dana Whitfield", "Lower the cost of every mile driven this fiscal year"],
    ["O-SERVICE", "Deliver on time, every time", "Marco Bellini", "Customer promise for 2026"],
]
FLEET_KPIS: list[Row] = [
    [
        "K-CPM",
        "Cost per mile",
        "O-FLEET",
        "Sam Okafor",
        "USD/mile",
        "lower_is_better",
        "2.10",
        "1.95",
        "2026-01-01",
        "2026-09-30",
    ],
    [
        "K-OTD",
        "On-time delivery rate",
        "O-SERVICE",
        "Marco Bellini",
        "%",
        "higher_is_better",
        "91.0",
        "95.0",
        "2026-01-01",
        "2026-12-31",
    ],
    [
        "K-IDLE",
        "Idle hours per truck per week",
        "O-FLEET",
        "Sam Okafor",
        "hours",
        "lower_is_better",
        "6.0",
        "5.0",
        "2026-01-01",
        "2026-12-31",
    ],
]
FLEET_PROJECTS: list[Row] = [
    [
        "P-ROUTE",
        "Fleet routing optimization",
        "Fleet Optimization",
        "Operations",
        "Priya Raman",
        "Dana Whitfield",
        "1200000",
    ],
    ["P-TELE", "Telematics retrofit", "Fleet Optimization", "Operations", "Tom Becker", "Dana Whitfield", "800000"],
    ["P-DRV", "Driver mobile app", "Customer Experience", "Operations", "Luis Ortega", "Marco Bellini", "600000"],
    ["P-WH", "Warehouse slotting", "Customer Experience", "Operations", "Mei Chen", "Marco Bellini", "300000"],
    ["P-PROC", "Procurement savings", "Fleet Optimization", "Operations", "Ann Lee", "Dana Whitfield", "150000"],
    ["P-OFFICE", "Office refresh", "Corporate", "Support", "Jo Park", "Dana Whitfield", "50000"],
]
FLEET_LINKS: list[Row] = [
    ["M1", "K-CPM", "-0.10", "28", "133333.33"],
    ["M2", "K-CPM", "-0.05", "0", "40000"],
    ["M3", "K-OTD", "3.0", "0", "20000"],
    ["M4", "K-OTD", "1.0", "0", "10000"],
    ["M5", "K-CPM", "0", "0", "5000"],
]
FLEET_DEPENDENCIES: list[Row] = [["M1", "M3", "7"]]
#: K-CPM's March actual is known before the first snapshot; the May actuals arrive with
#: the 2026-06-01 upload. No other fleet actuals exist, so the worked example's
#: projections hold in the last week.
FLEET_STATIC_ACTUALS: list[Row] = [["K-CPM", "2026-03-31", "2.10"]]
FLEET_PUBLISHED_ACTUALS: dict[date, list[Row]] = {
    date(2026, 6, 1): [["K-CPM", "2026-05-31", "2.05"], ["K-OTD", "2026-05-31", "92.0"]],
}
FLEET_PROJECT_IDS = tuple(row[0] for row in FLEET_PROJECTS)

# Week by week (index 0 = 2026-04-27, 7 = 2026-06-15): the go-live keeps its forecast and
# its Green status while the vendor integration task drifts three weeks past it.
_M1_FORECAST = ["2026-08-31"] * 7 + ["2026-09-07"]
_M1_STATUS = ["On track"] * 4 + ["Green"] * 4
_M1_PERCENT = ["45", "50", "55", "60", "65", "70", "75", "80"]
_T1_FORECAST = [
    "2026-08-25",
    "2026-08-25",
    "2026-08-28",
    "2026-09-02",
    "2026-09-07",
    "2026-09-11",
    "2026-09-16",
    "2026-09-21",
]


def fleet_week(week: int) -> tuple[list[Row], list[Row]]:
    """Return the worked example's milestone and task rows as uploaded in week ``week``."""
    m2_done = week >= 5  # finished 2026-05-29, first reported in the 2026-06-01 upload
    m4_done = week >= 1  # finished 2026-04-30, first reported in the 2026-05-04 upload
    milestones = [
        [
            "M1",
            "P-ROUTE",
            "Routing software go-live",
            "Priya Raman",
            "2026-03-01",
            "2026-08-31",
            _M1_FORECAST[week],
            "",
            _M1_PERCENT[week],
            _M1_STATUS[week],
        ],
        [
            "M2",
            "P-TELE",
            "Telematics retrofit complete",
            "Tom Becker",
            "2026-02-01",
            "2026-05-31",
            "2026-05-31" if week == 0 else "2026-05-29",
            "2026-05-29" if m2_done else "",
            "100" if m2_done else ["80", "85", "90", "95", "95"][week],
            "Complete" if m2_done else "Green",
        ],
        [
            "M3",
            "P-DRV",
            "Driver app rollout",
            "Luis Ortega",
            "2026-09-07",
            "2026-09-30",
            "2026-09-30",
            "",
            ["0", "0", "0", "5", "5", "5", "10", "10"][week],
            "Green",
        ],
        [
            "M4",
            "P-WH",
            "Warehouse slotting live",
            "Mei Chen",
            "2026-01-15",
            "2026-04-30",
            "2026-04-30",
            "2026-04-30" if m4_done else "",
            "100" if m4_done else "95",
            "Done" if m4_done else "Green",
        ],
        [
            "M5",
            "P-PROC",
            "Fuel card renegotiation",
            "Ann Lee / Bob Stone",
            "",
            "2026-07-31",
            "2026-07-31",
            "",
            ["20", "25", "25", "30", "35", "40", "45", "50"][week],
            "On track",
        ],
        [
            "M6",
            "P-OFFICE",
            "Office party planning",
            "Jo Park",
            "",
            "2026-07-15",
            "2026-07-15",
            "",
            ["0", "0", "5", "5", "10", "10", "15", "20"][week],
            "Green",
        ],
    ]
    tasks = [
        ["T1", "M1", "Vendor API integration", "Kofi Mensah", _T1_FORECAST[week], ""],
        ["T2", "M1", "Dispatcher training", "Kofi Mensah", "2026-08-20", ""],
        ["T3", "M3", "App store release", "Luis Ortega", "2026-09-25", ""],
    ]
    return milestones, tasks


# --------------------------------------------------------------------------------------
# Reference content of the generated part.
# --------------------------------------------------------------------------------------

GENERATED_OBJECTIVES: list[Row] = [
    [
        "O-WAREHOUSE",
        "Raise warehouse productivity",
        "Helen Ruiz",
        "More lines picked per hour with fewer errors across all distribution centres",
    ],
    [
        "O-GREEN",
        "Decarbonise the network",
        "Grace Okonkwo",
        "Cut scope 1 emissions on the way to the 2030 science-based target",
    ],
    [
        "O-SAFE",
        "Zero harm on the road and in the warehouse",
        "Victor Hale",
        "Fewer injuries and preventable accidents every quarter",
    ],
    ["O-GROW", "Grow contract logistics revenue", "Nadia Farouk", "Win and onboard new contract customers faster"],
    ["O-CASH", "Free up working capital", "Robert Klein", "Collect faster, recover overcharges and hold overhead flat"],
    ["O-PEOPLE", "Keep our drivers", "Aisha Grant", "Halve the gap to the industry's best driver retention"],
]


@dataclass(frozen=True)
class KpiSpec:
    """A generated KPI and the outcome the sample gives it in the last week."""

    kpi_id: str
    name: str
    objective_id: str
    owner: str
    unit: str
    direction: str
    baseline: float
    target: float
    target_date: date
    decimals: int
    meets: bool = True
    has_actuals: bool = True


_H, _L = "higher_is_better", "lower_is_better"
_SEP, _DEC = date(2026, 9, 30), date(2026, 12, 31)

GENERATED_KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("K-MAINT", "Maintenance cost per truck", "O-FLEET", "Rita Alvarez", "USD k/month", _L, 1.85, 1.60, _DEC, 2),
    KpiSpec("K-UTIL", "Truck utilisation", "O-FLEET", "Rita Alvarez", "%", _H, 78.0, 84.0, _SEP, 1),
    KpiSpec("K-FUEL", "Fuel consumption", "O-GREEN", "Owen Price", "L/100 km", _L, 34.5, 32.5, _DEC, 1),
    # No objective: escalation stops at the KPI's owner.
    KpiSpec("K-EMPTY", "Empty miles", "", "Derek Olsen", "%", _L, 14.5, 11.5, _DEC, 1),
    KpiSpec("K-TRACK", "Shipments tracked in real time", "O-SERVICE", "Laura Mendes", "%", _H, 62.0, 90.0, _SEP, 1),
    # "Smith, John" is one person (surname, given name).
    KpiSpec(
        "K-CLAIMS",
        "Damage claims rate",
        "O-SERVICE",
        "Smith, John",
        "% of shipments",
        _L,
        0.85,
        0.60,
        _DEC,
        2,
        meets=False,
    ),
    # The survey runs once a year: no actual yet, projected from the baseline.
    KpiSpec(
        "K-NPS",
        "Customer net promoter score",
        "O-SERVICE",
        "Laura Mendes",
        "points",
        _H,
        31.0,
        40.0,
        _DEC,
        0,
        has_actuals=False,
    ),
    # Two owners: a governance finding.
    KpiSpec(
        "K-LEAD",
        "Average delivery lead time",
        "O-SERVICE",
        "Kenji Watanabe and Laura Mendes",
        "days",
        _L,
        3.4,
        2.9,
        _DEC,
        2,
    ),
    KpiSpec("K-PICK", "Picks per labour hour", "O-WAREHOUSE", "Kenji Watanabe", "picks/hour", _H, 95.0, 115.0, _DEC, 1),
    KpiSpec(
        "K-DOCK", "Dock-to-stock time", "O-WAREHOUSE", "Kenji Watanabe", "hours", _L, 18.0, 12.0, _SEP, 1, meets=False
    ),
    KpiSpec("K-ACC", "Order accuracy", "O-WAREHOUSE", "Beatriz Costa", "%", _H, 99.10, 99.60, _DEC, 2),
    KpiSpec("K-CO2", "Scope 1 emissions", "O-GREEN", "Owen Price", "tCO2/month", _L, 4200.0, 3800.0, _DEC, 0),
    KpiSpec(
        "K-EV", "Electric share of tractor fleet", "O-GREEN", "Owen Price", "%", _H, 2.0, 8.0, _DEC, 1, meets=False
    ),
    KpiSpec("K-LTIR", "Lost-time injury rate", "O-SAFE", "Fatima Zahra", "per 200k hours", _L, 2.40, 1.80, _DEC, 2),
    KpiSpec(
        "K-PREV",
        "Preventable accidents per million miles",
        "O-SAFE",
        "Fatima Zahra",
        "accidents/M miles",
        _L,
        1.20,
        0.90,
        _SEP,
        2,
    ),
    KpiSpec(
        "K-CERT", "Drivers with current safety certification", "O-SAFE", "Chloe Martin", "%", _H, 82.0, 98.0, _SEP, 1
    ),
    KpiSpec(
        "K-TURN", "Driver turnover (annualised)", "O-PEOPLE", "Chloe Martin", "%", _L, 68.0, 55.0, _DEC, 1, meets=False
    ),
    KpiSpec("K-REV", "New contract revenue", "O-GROW", "Hannah Brooks", "USD k/month", _H, 850.0, 1300.0, _DEC, 0),
    KpiSpec("K-QUOTE", "Quote turnaround", "O-GROW", "Ivan Petrov", "hours", _L, 36.0, 8.0, _SEP, 1, meets=False),
    KpiSpec("K-DSO", "Days sales outstanding", "O-CASH", "Tariq Hassan", "days", _L, 52.0, 45.0, _DEC, 1),
    KpiSpec("K-AUDIT", "Freight audit recoveries", "O-CASH", "Tariq Hassan", "USD k/month", _H, 120.0, 200.0, _SEP, 0),
    KpiSpec("K-OVH", "Overhead cost", "O-CASH", "Tariq Hassan", "USD k/month", _L, 3400.0, 3100.0, _DEC, 0),
)
KPI_BY_ID = {k.kpi_id: k for k in GENERATED_KPIS}


@dataclass(frozen=True)
class ProjectSpec:
    """A generated project: what it is called, where it sits, which KPIs it moves."""

    name: str
    subject: str
    program: str
    kpis: tuple[str, ...]


_FO, _CX, _CO = "Fleet Optimization", "Customer Experience", "Corporate"
_WA = "Warehouse Automation"
_SU, _SC, _DF, _NE = "Sustainability", "Safety & Compliance", "Digital Freight", "Network Expansion"

PROGRAMS: dict[str, tuple[str, str]] = {  # program -> (portfolio, sponsor)
    _FO: ("Operations", "Dana Whitfield"),
    _CX: ("Operations", "Marco Bellini"),
    _CO: ("Support", "Robert Klein"),
    _WA: ("Technology", "Helen Ruiz"),
    _SU: ("Operations", "Grace Okonkwo"),
    _SC: ("Operations", "Victor Hale"),
    _DF: ("Technology", "Nadia Farouk"),
    _NE: ("Growth", "Nadia Farouk"),
}

GENERATED_PROJECTS: tuple[ProjectSpec, ...] = (
    ProjectSpec("Predictive maintenance", "Predictive maintenance", _FO, ("K-MAINT", "K-UTIL")),
    ProjectSpec("Tyre pressure monitoring", "Tyre monitoring", _FO, ("K-MAINT", "K-FUEL")),
    ProjectSpec("Fleet right-sizing", "Fleet right-sizing", _FO, ("K-UTIL", "K-EMPTY")),
    ProjectSpec("Backhaul load matching", "Backhaul matching", _FO, ("K-EMPTY", "K-UTIL", "K-REV")),
    ProjectSpec("Customer portal 2.0", "Customer portal", _CX, ("K-TRACK", "K-NPS")),
    ProjectSpec("Proactive delay alerts", "Delay alerts", _CX, ("K-TRACK", "K-NPS")),
    ProjectSpec("Claims process redesign", "Claims process", _CX, ("K-CLAIMS", "K-NPS")),
    ProjectSpec("Regional hub scheduling", "Hub scheduling", _CX, ("K-LEAD", "K-NPS")),
    ProjectSpec("Finance ERP upgrade", "ERP finance module", _CO, ("K-DSO", "K-OVH")),
    ProjectSpec("Freight audit automation", "Freight audit", _CO, ("K-AUDIT",)),
    ProjectSpec("Shared services consolidation", "Shared services", _CO, ("K-OVH",)),
    ProjectSpec("E-invoicing rollout", "E-invoicing", _CO, ("K-DSO",)),
    ProjectSpec("Pick-to-light Dallas DC", "Pick-to-light", _WA, ("K-PICK", "K-ACC")),
    ProjectSpec("Autonomous mobile robots Memphis", "AMR", _WA, ("K-PICK",)),
    ProjectSpec("WMS upgrade", "WMS", _WA, ("K-ACC", "K-DOCK", "K-PICK")),
    ProjectSpec("Yard management system", "Yard management", _WA, ("K-DOCK",)),
    ProjectSpec("Dock appointment scheduling", "Dock scheduling", _WA, ("K-DOCK", "K-LEAD")),
    ProjectSpec("Drone cycle counting", "Drone counting", _WA, ("K-ACC",)),
    ProjectSpec("Electric tractor pilot", "EV tractor", _SU, ("K-EV", "K-CO2")),
    ProjectSpec("Depot charging infrastructure", "Depot charging", _SU, ("K-EV",)),
    ProjectSpec("Rail intermodal shift", "Intermodal", _SU, ("K-CO2", "K-FUEL")),
    ProjectSpec("Eco-driving program", "Eco-driving", _SU, ("K-FUEL", "K-CO2")),
    ProjectSpec("Driver safety coaching", "Safety coaching", _SC, ("K-PREV", "K-CERT")),
    ProjectSpec("AI dashcam rollout", "Dashcam", _SC, ("K-PREV", "K-CLAIMS")),
    ProjectSpec("Forklift proximity sensors", "Proximity sensors", _SC, ("K-LTIR",)),
    ProjectSpec("Safety certification academy", "Certification academy", _SC, ("K-CERT", "K-TURN")),
    ProjectSpec("Driver retention program", "Retention program", _SC, ("K-TURN", "K-CERT")),
    ProjectSpec("Dynamic pricing engine", "Pricing engine", _DF, ("K-QUOTE", "K-REV")),
    ProjectSpec("Carrier marketplace", "Carrier marketplace", _DF, ("K-EMPTY", "K-REV")),
    ProjectSpec("EDI modernisation", "EDI", _DF, ("K-TRACK", "K-DSO")),
    ProjectSpec("Instant quote API", "Quote API", _DF, ("K-QUOTE",)),
    ProjectSpec("Phoenix cross-dock", "Phoenix cross-dock", _NE, ("K-LEAD", "K-REV")),
    ProjectSpec("Atlanta DC expansion", "Atlanta DC", _NE, ("K-REV", "K-PICK")),
    ProjectSpec("Mexico cross-border lane", "Cross-border lane", _NE, ("K-REV", "K-LEAD")),
)

#: Milestone phases in plan order; (phase, weight of its KPI effect).
PHASES: tuple[tuple[str, float], ...] = (
    ("business case approved", 0.2),
    ("requirements signed off", 0.3),
    ("vendor selected", 0.3),
    ("design approved", 0.4),
    ("build complete", 0.6),
    ("integration testing passed", 0.6),
    ("pilot live", 1.2),
    ("training complete", 0.8),
    ("wave 1 go-live", 1.6),
    ("wave 2 go-live", 1.6),
    ("full rollout complete", 2.0),
    ("hypercare closed", 0.5),
    ("benefits review", 0.3),
)

TASK_NAMES: tuple[str, ...] = (
    "Vendor API integration",
    "Data mapping",
    "Test scripts written",
    "Site survey",
    "Purchase order issued",
    "Training materials",
    "Cutover plan",
    "Security review",
    "Change request approval",
    "Hardware install",
    "Integration testing",
    "Go/no-go meeting",
    "User acceptance testing",
    "Data migration",
    "Process design workshop",
    "Stakeholder sign-off",
    "Network cabling",
    "Label printer setup",
    "Report build",
    "Master data cleanse",
    "Performance testing",
    "Supplier contract",
    "Union consultation",
    "Pilot site readiness",
    "Runbook handover",
    "Dashboard build",
    "SOP update",
    "Legal review",
    "Budget approval",
    "Interface specification",
    "Device rollout",
    "Floor layout change",
    "Driver briefing",
    "Customer communication",
    "Defect triage",
    "Access provisioning",
    "Load testing",
    "Permit application",
    "Benefits baseline",
    "Lessons learned",
)

FIRST_NAMES = (
    "Elena",
    "Raj",
    "Carlos",
    "Mia",
    "Grace",
    "Omar",
    "Sofia",
    "Daniel",
    "Yuki",
    "Amara",
    "Lukas",
    "Isabel",
    "Kwame",
    "Nora",
    "Pavel",
    "Leila",
    "Jonas",
    "Camila",
    "Arjun",
    "Hana",
    "Mateo",
    "Zoe",
    "Emeka",
    "Ingrid",
    "Tariq",
    "Lina",
    "Viktor",
    "Rosa",
    "Samir",
    "Freya",
    "Diego",
    "Aiko",
    "Felix",
    "Naomi",
    "Hugo",
    "Priscilla",
    "Ravi",
    "Greta",
    "Malik",
    "Esther",
)
LAST_NAMES = (
    "Novak",
    "Patel",
    "Diaz",
    "Schultz",
    "Kim",
    "Haddad",
    "Rossi",
    "Fischer",
    "Tanaka",
    "Mensah",
    "Berg",
    "Moreno",
    "Asante",
    "Lindqvist",
    "Kowalski",
    "Rahimi",
    "Weber",
    "Santos",
    "Iyer",
    "Sato",
    "Herrera",
    "Walsh",
    "Okeke",
    "Dahl",
    "Aziz",
    "Brennan",
    "Sokolov",
    "Vargas",
    "Khan",
    "Holm",
    "Ramos",
    "Mori",
    "Wagner",
    "Adeyemi",
    "Laurent",
    "Quinn",
    "Menon",
    "Nilsen",
    "Bello",
    "Cohen",
)

#: Ways a project writes its status; each project keeps to one vocabulary
#: (Green, Amber, Red, Complete), all understood by the status normaliser.
STATUS_STYLES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("Green", "Amber", "Red", ("Complete",)),
    ("On track", "At risk", "Late", ("Done",)),
    ("green", "amber", "red", ("closed", "complete")),
    ("G", "A", "R", ("Complete",)),
    ("OK", "Yellow", "Off track", ("Done",)),
    ("on track", "at risk", "blocked", ("done", "Complete")),
)

TRAJECTORIES = ("stable", "early", "late", "creep", "jump", "recover", "hidden")

# --------------------------------------------------------------------------------------
# The generated plan and its week-by-week state.
# --------------------------------------------------------------------------------------


@dataclass
class Project:
    """A generated project and the people on it."""

    project_id: str
    spec: ProjectSpec
    owner: str
    sponsor: str
    budget: str
    team: list[str]
    style: tuple[str, str, str, tuple[str, ...]]
    export_propensity: float


@dataclass
class Task:
    """A generated task; ``frac`` places its finish within its milestone's span."""

    task_id: str
    name: str
    owner: str
    frac: float
    straggler: bool
    hidden: bool = False
    forecast: list[date | None] = field(default_factory=lambda: [None] * len(WEEKS))
    actual: list[date | None] = field(default_factory=lambda: [None] * len(WEEKS))


@dataclass
class Milestone:
    """A generated milestone: its plan, how its forecast moves, and its state per week."""

    milestone_id: str
    project: Project
    phase_weight: float
    name: str
    owner: str
    start: date  # planned start, also when the output leaves baseline_start blank
    baseline_finish: date
    show_start: bool
    show_forecast: bool
    trajectory: str
    optimist: bool
    blank_status: bool
    tasks: list[Task] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # forecast - baseline, per week
    hidden_offsets: list[int] = field(default_factory=list)  # the hidden task's drift
    forecast: list[date] = field(default_factory=list)
    actual: list[date | None] = field(default_factory=list)
    percent: list[int] = field(default_factory=list)
    status: list[str] = field(default_factory=list)


def _days(d: date, n: int) -> date:
    return d + timedelta(days=n)


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


def _fmt_sig(value: float, significant: int = 3) -> str:
    """Format with ``significant`` digits, never in exponent notation."""
    if value == 0:
        return "0"
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _iso(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def _ramp(days: int, ramp_days: int) -> float:
    if days < 0:
        return 0.0
    if ramp_days == 0:
        return 1.0
    return min(1.0, days / ramp_days)


class _People:
    """Hands out distinct, varied person names."""

    def __init__(self, rng: random.Random) -> None:
        first, last = list(FIRST_NAMES), list(LAST_NAMES)
        rng.shuffle(first)
        rng.shuffle(last)
        # Walk the diagonals of the first x last grid: consecutive names share neither part.
        size = len(first)
        self._names = [f"{first[(k + shift) % size]} {last[k]}" for shift in range(size) for k in range(size)]
        self._next = 0

    def next(self) -> str:
        name = self._names[self._next]
        self._next += 1
        return name


def _spread(rng: random.Random, total: int, slots: int, floor: int, cap: int) -> list[int]:
    """Split ``total`` into ``slots`` counts between ``floor`` and ``cap``."""
    counts = [floor] * slots
    for _ in range(total - floor * slots):
        while True:
            k = rng.randrange(slots)
            if counts[k] < cap:
                counts[k] += 1
                break
    return counts


def build_projects(rng: random.Random) -> list[Project]:
    """Return the generated projects with owners, sponsors, budgets and teams."""
    people = _People(rng)
    projects = []
    for k, spec in enumerate(GENERATED_PROJECTS, start=1):
        portfolio_sponsor = PROGRAMS[spec.program][1]
        owner = "Smith, John" if k == 7 else people.next()
        team = [owner] + [people.next() for _ in range(rng.randint(3, 5))]
        budget = str(rng.randint(8, 350) * 10_000)
        projects.append(
            Project(
                project_id=f"P-{k:03d}",
                spec=spec,
                owner=owner,
                # A project with no sponsor and one with no budget: both optional columns.
                sponsor="" if k == 12 else portfolio_sponsor,
                budget="" if k == 18 else budget,
                team=team,
                style=STATUS_STYLES[rng.randrange(len(STATUS_STYLES))],
                export_propensity=rng.uniform(0.55, 0.98),
            )
        )
    return projects


def _trajectory_offsets(rng: random.Random, kind: str) -> tuple[list[int], list[int]]:
    """Return the forecast offset (days after baseline) per week and the hidden task's."""
    n = len(WEEKS)
    hidden: list[int] = []
    if kind == "stable":
        off = 0 if rng.random() < 0.7 else rng.randint(-3, 3)
        offsets = [off] * n
    elif kind == "early":
        offsets = [rng.randint(-10, -3)] * n
    elif kind == "late":
        offsets = [rng.randint(15, 40)] * n
    elif kind == "creep":
        start, off = rng.randint(1, 6), rng.randint(0, 5)
        offsets = []
        for w in range(n):
            if w > start:
                off += rng.randint(1, 6)
            offsets.append(off)
    elif kind == "jump":
        at, size = rng.randint(1, 6), rng.randint(15, 45)
        offsets = [size if w >= at else 0 for w in range(n)]
    elif kind == "recover":
        off, start, floor = rng.randint(10, 25), rng.randint(1, 3), rng.randint(0, 3)
        offsets = []
        for w in range(n):
            if w >= start:
                off = max(floor, off - rng.randint(3, 7))
            offsets.append(off)
    else:  # hidden: the milestone's forecast holds while one task drifts past it
        offsets = [0] * n
        start, off = rng.randint(0, 3), rng.randint(-8, -3)
        for w in range(n):
            if w > start:
                off += rng.randint(3, 7)
            hidden.append(off)
    return offsets, hidden


def build_milestones(rng: random.Random, projects: list[Project]) -> list[Milestone]:
    """Return the generated milestones (294) with their tasks (1,496) and trajectories."""
    counts = _spread(rng, 294, len(projects), 6, 13)
    milestones: list[Milestone] = []
    for project, count in zip(projects, counts, strict=False):
        # Phases in plan order; a short project skips some of them. Spans overlap, so the
        # phases are named in order of their planned finish.
        phase_idx = sorted(rng.sample(range(len(PHASES)), count))
        start = _days(date(2025, 12, 1), rng.randint(0, 165))
        spans = []
        for _ in phase_idx:
            finish = _days(start, rng.randint(21, 75))
            if finish < date(2026, 1, 15):
                finish = date(2026, 1, 15) + timedelta(days=rng.randint(0, 20))
            spans.append((finish, start))
            start = _days(start, rng.randint(14, 38))
        for phase_no, (finish, start) in zip(phase_idx, sorted(spans), strict=False):
            phase, weight = PHASES[phase_no]
            milestone_id = f"M-{len(milestones) + 1:04d}"
            name = f"{project.spec.subject} {phase}"
            owner = project.owner if rng.random() < 0.6 else rng.choice(project.team[1:])
            future = finish >= _days(WEEKS[0], -20)
            if future:
                kind = rng.choices(TRAJECTORIES, weights=(66, 6, 3, 10, 4, 5, 6))[0]
                if kind == "hidden" and finish <= date(2026, 7, 15):
                    kind = "creep"
            else:
                kind = rng.choices(("stable", "early", "late"), weights=(75, 10, 15))[0]
            offsets, hidden = _trajectory_offsets(rng, kind)
            milestones.append(
                Milestone(
                    milestone_id=milestone_id,
                    project=project,
                    phase_weight=weight,
                    name=name[0].upper() + name[1:],
                    owner=owner,
                    start=start,
                    baseline_finish=finish,
                    show_start=rng.random() >= 0.1,
                    show_forecast=True,
                    trajectory=kind,
                    optimist=kind == "hidden" or rng.random() < 0.15,
                    blank_status=False,
                    offsets=offsets,
                    hidden_offsets=hidden,
                )
            )
    _add_owner_cases(rng, milestones)
    _add_tasks(rng, milestones)
    return milestones


def _add_owner_cases(rng: random.Random, milestones: list[Milestone]) -> None:
    """Blank owners, two owners, one-person "Surname, Given" owners, blank fields."""
    picks = rng.sample(range(len(milestones)), 14)
    for k in picks[:3]:
        milestones[k].owner = ""
    two = ("Ann Lee, Bob Stone", "{a} & {b}", "{a}; {b}", "{a} and {b}")
    for k, pattern in zip(picks[3:7], two, strict=False):
        team = milestones[k].project.team
        milestones[k].owner = pattern.format(a=team[0], b=team[1])
    for k in picks[7:9]:
        milestones[k].owner = "Smith, John"
    milestones[picks[9]].owner = "Nguyen, Thi Mai"
    for k in picks[10:14]:
        milestones[k].blank_status = True
    # A forecast left blank on a few future, steady milestones (the baseline stands in).
    steady = [m for m in milestones if m.trajectory == "stable" and m.baseline_finish > date(2026, 10, 1)]
    for m in rng.sample(steady, 3):
        m.show_forecast = False
        m.offsets = [0] * len(WEEKS)


def _add_tasks(rng: random.Random, milestones: list[Milestone]) -> None:
    counts = _spread(rng, 1496, len(milestones), 2, 12)
    number = 0
    for m, count in zip(milestones, counts, strict=False):
        fracs = sorted(rng.uniform(0.25, 1.0) for _ in range(count))
        if rng.random() < 0.7:
            fracs[-1] = 1.0
        names = rng.sample(TASK_NAMES, count)
        for k, (frac, name) in enumerate(zip(fracs, names, strict=False)):
            number += 1
            owner = "" if rng.random() < 0.08 else rng.choice(m.project.team)
            m.tasks.append(
                Task(
                    task_id=f"T-{number:05d}",
                    name=name,
                    owner=owner,
                    frac=frac,
                    straggler=rng.random() < 0.05,
                    hidden=m.trajectory == "hidden" and k == count - 1,
                )
            )


def simulate(rng: random.Random, milestones: list[Milestone], dependencies: list[Row]) -> None:
    """Fill in each milestone's and task's state in every weekly snapshot.

    A candid project manager moves a milestone's forecast when a predecessor in the same
    project slips; slips in other projects, and tasks drifting past their milestone, go
    unnoticed: the engine finds those.
    """
    by_id = {m.milestone_id: m for m in milestones}
    same_project: dict[str, list[tuple[Milestone, int]]] = {}
    for pred_id, succ_id, lag in dependencies:
        pred, succ = by_id[pred_id], by_id[succ_id]
        if pred.project is succ.project:
            same_project.setdefault(succ_id, []).append((pred, int(lag)))
    # Baseline finishes increase along every dependency: predecessors come first.
    for m in sorted(milestones, key=lambda m: m.baseline_finish):
        preds = [] if m.optimist else same_project.get(m.milestone_id, [])
        duration = (m.baseline_finish - m.start).days
        done_at: int | None = None
        overdue_until: int | None = None
        frozen: date | None = None
        pct_prev = 0
        for w, as_of in enumerate(WEEKS):
            previous = WEEKS[w - 1] if w else None
            if done_at is not None:
                m.forecast.append(m.forecast[-1])
                m.actual.append(m.actual[-1])
                m.percent.append(100)
                m.status.append(m.status[-1])
                for t in m.tasks:
                    t.forecast[w], t.actual[w] = t.forecast[w - 1], t.actual[w - 1]
                continue
            forecast = frozen or _days(m.baseline_finish, m.offsets[w])
            for pred, lag in preds:
                pred_finish = pred.actual[w] or max(pred.forecast[w], as_of)
                forecast = max(forecast, _days(pred_finish, lag + duration))
            finished = False
            if forecast <= as_of:
                if overdue_until is None:
                    # Past due: most deliver on time, some sit open for weeks.
                    lingers = rng.random() < 0.1 and (w > 0 or forecast > _days(as_of, -30))
                    overdue_until = w + rng.choice((1, 2, 3, 99)) if lingers else w
                    frozen = forecast
                finished = w >= overdue_until
            if finished:
                actual = forecast if previous is None else max(forecast, _days(previous, 1))
                actual = min(actual, as_of)
                done_at = w
                m.forecast.append(forecast)
                m.actual.append(actual)
                m.percent.append(100)
                m.status.append(rng.choice(m.project.style[3]))
                for t in m.tasks:
                    if w and t.actual[w - 1] is not None:
                        t.forecast[w], t.actual[w] = t.forecast[w - 1], t.actual[w - 1]
                        continue
                    fc = _days(m.start, round(t.frac * (forecast - m.start).days))
                    fc = min(fc, actual)
                    t.forecast[w] = fc
                    if previous is not None:
                        fc = min(actual, max(fc, _days(previous, 1)))
                    t.actual[w] = fc
                continue
            m.forecast.append(forecast)
            m.actual.append(None)
            elapsed = (as_of - m.start).days
            whole = max(1, (forecast - m.start).days)
            pct = 0 if elapsed <= 0 else min(95, round(100 * elapsed / whole / 5) * 5)
            if forecast < as_of:
                pct = max(pct, 90)
            pct_prev = max(pct_prev, pct)  # a PMO rarely reports less done than last week
            m.percent.append(pct_prev)
            m.status.append(_reported(m, forecast, as_of))
            for t in m.tasks:
                _step_task(t, m, w, forecast)
        if m.blank_status:
            m.status = [s if m.actual[w] else "" for w, s in enumerate(m.status)]
        else:
            # Now and then a week's status is left blank.
            m.status = [s if m.actual[w] or rng.random() >= 0.03 else "" for w, s in enumerate(m.status)]


def _step_task(t: Task, m: Milestone, w: int, forecast: date) -> None:
    """Move one task of an open milestone to week ``w``."""
    as_of = WEEKS[w]
    previous = WEEKS[w - 1] if w else None
    if previous is not None and t.actual[w - 1] is not None:
        t.forecast[w], t.actual[w] = t.forecast[w - 1], t.actual[w - 1]
        return
    last = t.forecast[w - 1] if previous is not None else None
    if previous is not None and last is not None and last <= previous:
        # A straggler sat open past its forecast last week; it closes this week.
        t.forecast[w] = last
        t.actual[w] = _days(previous, (as_of - previous).days // 2)
        return
    if t.hidden:
        fc = _days(m.baseline_finish, m.hidden_offsets[w])
    else:
        fc = _days(m.start, round(t.frac * max(1, (forecast - m.start).days)))
    t.forecast[w] = fc
    if fc > as_of:
        return
    if t.straggler and fc > _days(as_of, -10):
        return  # open a few days past its forecast: closes next week
    t.actual[w] = fc if previous is None else max(fc, _days(previous, 1))


def _reported(m: Milestone, forecast: date, as_of: date) -> str:
    green, amber, red, _ = m.project.style
    slip = (forecast - m.baseline_finish).days
    if m.optimist:
        # Optimists say Green until the slip is too big to hide.
        return amber if slip > 30 else green
    if forecast < as_of or slip > 14:
        return red
    return amber if slip > 7 else green


# --------------------------------------------------------------------------------------
# Dependencies, links and actuals.
# --------------------------------------------------------------------------------------


def build_dependencies(rng: random.Random, milestones: list[Milestone]) -> list[Row]:
    """Return ~148 finish-to-start dependencies consistent with the baseline plan.

    Every successor starts no earlier than its predecessor's baseline finish plus the lag,
    so the graph is acyclic (baseline finishes strictly increase along every edge).
    """
    by_project: dict[str, list[Milestone]] = {}
    for m in milestones:
        by_project.setdefault(m.project.project_id, []).append(m)
    within: list[tuple[Milestone, Milestone]] = []
    for members in by_project.values():
        for j, succ in enumerate(members):
            earlier = [p for p in members[:j] if p.baseline_finish <= succ.start]
            if earlier:
                within.append((max(earlier, key=lambda p: p.baseline_finish), succ))
    chosen = rng.sample(within, min(118, len(within)))
    same_program, other_program = [], []
    for p in milestones:
        for s in milestones:
            gap = (s.start - p.baseline_finish).days
            if p.project is s.project or not 0 <= gap <= 45:
                continue
            if p.project.spec.program == s.project.spec.program:
                same_program.append((p, s))
            else:
                other_program.append((p, s))
    chosen += rng.sample(same_program, 26) + rng.sample(other_program, 4)
    seen: set[tuple[str, str]] = set()
    rows: list[Row] = []
    for p, s in chosen:
        key = (p.milestone_id, s.milestone_id)
        if key in seen:
            continue
        seen.add(key)
        slack = (s.start - p.baseline_finish).days
        rows.append([p.milestone_id, s.milestone_id, str(rng.randint(0, min(14, slack)))])
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def computed_finishes(milestones: list[Milestone], dependencies: list[Row], w: int) -> dict[str, date]:
    """Computed finish of every generated milestone in week ``w`` (DOMAIN.md 2.1)."""
    as_of = WEEKS[w]
    by_id = {m.milestone_id: m for m in milestones}
    preds: dict[str, list[tuple[str, int]]] = {m.milestone_id: [] for m in milestones}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for m in milestones:
        sorter.add(m.milestone_id)
    for pred, succ, lag in dependencies:
        if pred in by_id and succ in by_id:
            preds[succ].append((pred, int(lag)))
            sorter.add(succ, pred)
    finish: dict[str, date] = {}
    for mid in sorter.static_order():
        m = by_id[mid]
        if m.actual[w] is not None:
            finish[mid] = m.actual[w]
            continue
        candidates = [m.forecast[w] if m.show_forecast else m.baseline_finish, as_of]
        candidates += [t.forecast[w] for t in m.tasks if t.actual[w] is None]
        duration = (m.baseline_finish - m.start).days if m.show_start else 0
        candidates += [_days(finish[p], lag + duration) for p, lag in preds[mid]]
        finish[mid] = max(candidates)
    return finish


@dataclass
class Link:
    """A generated link before its KPI delta is sized."""

    milestone: Milestone
    kpi_id: str
    weight: float
    ramp_days: int
    value_per_week: float
    delta: float = 0.0


def build_links(rng: random.Random, milestones: list[Milestone]) -> list[Link]:
    """Tie most milestones to one or two of their project's KPIs."""
    links: list[Link] = []
    for m in milestones:
        late_phase = m.name.endswith(("hypercare closed", "benefits review"))
        roll = rng.random()
        if (late_phase and roll < 0.25) or roll < 0.004:
            continue  # not tied to any KPI
        choices = list(m.project.spec.kpis)
        extra = rng.random()
        count = 1 if extra < 0.66 or len(choices) == 1 else (2 if extra < 0.93 else 3)
        for kpi_id in rng.sample(choices, min(count, len(choices))):
            value_only = m.phase_weight <= 0.3 and rng.random() < 0.07
            weight = 0.0 if value_only else m.phase_weight * rng.lognormvariate(0.0, 0.5)
            value = math.exp(rng.uniform(math.log(1_000), math.log(60_000))) * (0.5 + m.phase_weight)
            links.append(
                Link(
                    milestone=m,
                    kpi_id=kpi_id,
                    weight=weight,
                    ramp_days=rng.choice((0, 0, 7, 14, 21, 28, 30, 45, 60)),
                    value_per_week=min(150_000.0, max(1_000.0, round(value / 500) * 500)),
                )
            )
    return links


def _noise(rng: random.Random, spec: KpiSpec) -> dict[date, float]:
    sd = 0.03 * abs(spec.target - spec.baseline)
    return {m: rng.gauss(0.0, sd) for m in (*STATIC_MONTHS, *PUBLISHED_MONTHS.values())}


def size_links(
    rng: random.Random, links: list[Link], finish: dict[str, date], noise: dict[str, dict[date, float]]
) -> None:
    """Size every link's KPI delta so that its KPI lands where the sample wants it.

    In the last week the projection of a KPI is its baseline plus the noise of its latest
    actual plus the links' ramped-in deltas; the deltas are scaled so that most KPIs meet
    their target with a small margin and the others fall short.
    """
    last_month = max(PUBLISHED_MONTHS.values())
    for spec in GENERATED_KPIS:
        own = [lk for lk in links if lk.kpi_id == spec.kpi_id]
        ramped = sum(
            lk.weight * _ramp((spec.target_date - finish[lk.milestone.milestone_id]).days, lk.ramp_days) for lk in own
        )
        if ramped <= 0:
            raise ValueError(f"{spec.kpi_id}: no linked milestone delivers before its target")
        factor = rng.uniform(1.03, 1.15) if spec.meets else rng.uniform(0.7, 0.9)
        wanted = (spec.target - spec.baseline) * factor
        wanted -= noise[spec.kpi_id][last_month] if spec.has_actuals else 0.0
        scale = wanted / ramped
        for lk in own:
            lk.delta = float(_fmt_sig(lk.weight * scale)) if lk.weight else 0.0


def cap_value_at_risk(links: list[Link], finish: dict[str, date], cap: float = 380_000) -> None:
    """Keep every generated link's value at risk in the last week under ``cap``.

    The worked example's M1 -> K-CPM (400,000) then stays the top exception.
    """
    for lk in links:
        spec = KPI_BY_ID[lk.kpi_id]
        start = max(lk.milestone.baseline_finish, PERIOD_START)
        end = min(finish[lk.milestone.milestone_id], _days(spec.target_date, 1))
        days = (end - start).days
        if days > 0 and lk.value_per_week / 7 * days > cap:
            lk.value_per_week = math.floor(cap * 7 / days / 500) * 500


def build_actuals(
    links: list[Link], milestones: list[Milestone], noise: dict[str, dict[date, float]]
) -> dict[date, list[Row]]:
    """Month-end actuals: baseline plus what delivered milestones have ramped in, plus noise."""
    finals = {m.milestone_id: m.actual[-1] for m in milestones}
    months = (*STATIC_MONTHS, *PUBLISHED_MONTHS.values())
    rows: dict[date, list[Row]] = {month: [] for month in months}
    for spec in GENERATED_KPIS:
        if not spec.has_actuals:
            continue
        own = [lk for lk in links if lk.kpi_id == spec.kpi_id]
        for month in months:
            value = spec.baseline + noise[spec.kpi_id][month]
            for lk in own:
                done = finals[lk.milestone.milestone_id]
                if done is not None and done <= month:
                    value += lk.delta * _ramp((month - done).days, lk.ramp_days)
            rows[month].append([spec.kpi_id, month.isoformat(), _fmt(value, spec.decimals)])
    return rows


# --------------------------------------------------------------------------------------
# Output.
# --------------------------------------------------------------------------------------


def _milestone_row(m: Milestone, w: int) -> Row:
    return [
        m.milestone_id,
        m.project.project_id,
        m.name,
        m.owner,
        _iso(m.start) if m.show_start else "",
        _iso(m.baseline_finish),
        _iso(m.forecast[w]) if m.show_forecast else "",
        _iso(m.actual[w]),
        str(m.percent[w]),
        m.status[w],
    ]


def _task_rows(m: Milestone, w: int) -> list[Row]:
    return [[t.task_id, m.milestone_id, t.name, t.owner, _iso(t.forecast[w]), _iso(t.actual[w])] for t in m.tasks]


def _exporting_projects(rng: random.Random, projects: list[Project]) -> list[set[str]]:
    """Which projects' PMO uploaded in each week: all in the first and last week.

    The worked example's projects upload every week so that its story reads the same in
    every snapshot; of the others, a varying share uploads, the keen ones more often.
    """
    every = set(FLEET_PROJECT_IDS) | {p.project_id for p in projects}
    weeks: list[set[str]] = []
    for w in range(len(WEEKS)):
        if w in (0, len(WEEKS) - 1):
            weeks.append(every)
            continue
        share = rng.uniform(0.62, 0.86)
        wanted = round(share * len(every)) - len(FLEET_PROJECT_IDS)
        # Weighted sampling without replacement: keys u ** (1 / weight), largest first.
        keys = sorted(projects, key=lambda p: rng.random() ** (1 / p.export_propensity), reverse=True)
        weeks.append(set(FLEET_PROJECT_IDS) | {p.project_id for p in keys[:wanted]})
    return weeks


def _write(path: Path, table: str, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS[table])
        writer.writerows(rows)


def _clean(out: Path) -> None:
    """Remove the CSV files an earlier run wrote, so a changed layout leaves nothing stale."""
    for folder in (out / "portfolio", out / "weeks"):
        if not folder.is_dir():
            continue
        for csv_file in sorted(folder.rglob("*.csv")):
            csv_file.unlink()
        for sub in sorted(folder.glob("*"), reverse=True):
            if sub.is_dir() and not any(sub.iterdir()):
                sub.rmdir()


def generate(out: Path, seed: int = SEED) -> list[Path]:
    """Write the sample portfolio under ``out`` and return the files written.

    Parameters
    ----------
    out
        Folder that receives ``portfolio/`` (static tables) and ``weeks/YYYY-MM-DD/``.
    seed
        Seed of the random generator; the default gives the committed sample.

    Returns
    -------
    list[Path]
        Every file written, in writing order.
    """
    rng = random.Random(seed)
    projects = build_projects(rng)
    milestones = build_milestones(rng, projects)
    dependencies = build_dependencies(rng, milestones)
    simulate(rng, milestones, dependencies)
    last = len(WEEKS) - 1
    finish = computed_finishes(milestones, dependencies, last)
    links = build_links(rng, milestones)
    noise = {spec.kpi_id: _noise(rng, spec) for spec in GENERATED_KPIS}
    size_links(rng, links, finish, noise)
    cap_value_at_risk(links, finish)
    actuals = build_actuals(links, milestones, noise)
    exports = _exporting_projects(rng, projects)

    kpi_rows = FLEET_KPIS + [
        [
            k.kpi_id,
            k.name,
            k.objective_id,
            k.owner,
            k.unit,
            k.direction,
            _fmt(k.baseline, k.decimals),
            _fmt(k.target, k.decimals),
            PERIOD_START.isoformat(),
            k.target_date.isoformat(),
        ]
        for k in GENERATED_KPIS
    ]
    project_rows = FLEET_PROJECTS + [
        [p.project_id, p.spec.name, p.spec.program, PROGRAMS[p.spec.program][0], p.owner, p.sponsor, p.budget]
        for p in projects
    ]
    link_rows = (
        FLEET_LINKS
        + [
            [lk.milestone.milestone_id, lk.kpi_id, _fmt_sig(lk.delta), str(lk.ramp_days), _fmt(lk.value_per_week, 0)]
            for lk in links
        ]
        + [
            # Governance: links naming a milestone deleted from the plan and a retired KPI.
            ["M-0412", "K-REV", "25", "0", "8000"],
            [rng.choice(milestones).milestone_id, "K-OTIF", "0.5", "14", "12000"],
        ]
    )
    dependency_rows = (
        FLEET_DEPENDENCIES
        + dependencies
        + [
            # Governance: a predecessor that no longer exists.
            ["M-0500", rng.choice(milestones[150:]).milestone_id, "0"],
        ]
    )
    static_actuals = FLEET_STATIC_ACTUALS + [row for month in STATIC_MONTHS for row in actuals[month]]

    written: list[Path] = []
    _clean(out)
    portfolio = out / "portfolio"
    for table, rows in (
        ("objectives", FLEET_OBJECTIVES + GENERATED_OBJECTIVES),
        ("kpis", kpi_rows),
        ("projects", project_rows),
        ("links", link_rows),
        ("dependencies", dependency_rows),
        ("kpi_actuals", static_actuals),
    ):
        _write(portfolio / f"{table}.csv", table, rows)
        written.append(portfolio / f"{table}.csv")

    # Governance: a task left behind on a milestone that was deleted; its PMO tool
    # exports it every week.
    orphan = ["T-01497", "M-0999", "Legacy data extract", "Raj Patel", "2026-05-15", ""]
    for w, as_of in enumerate(WEEKS):
        folder = out / "weeks" / as_of.isoformat()
        fleet_milestones, fleet_tasks = fleet_week(w)
        milestone_rows = [r for r in fleet_milestones if r[1] in exports[w]]
        task_rows = [r for r in fleet_tasks if any(m[0] == r[1] for m in milestone_rows)]
        for m in milestones:
            if m.project.project_id in exports[w]:
                milestone_rows.append(_milestone_row(m, w))
                task_rows += _task_rows(m, w)
        task_rows.append(orphan)
        _write(folder / "milestones.csv", "milestones", milestone_rows)
        _write(folder / "tasks.csv", "tasks", task_rows)
        written += [folder / "milestones.csv", folder / "tasks.csv"]
        if as_of in PUBLISHED_MONTHS:
            rows = actuals[PUBLISHED_MONTHS[as_of]] + FLEET_PUBLISHED_ACTUALS.get(as_of, [])
            _write(folder / "kpi_actuals.csv", "kpi_actuals", rows)
            written.append(folder / "kpi_actuals.csv")
    return written


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python data/sample/generate.py [--out DIR] [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder for portfolio/ and weeks/ (default: beside this script)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    files = generate(args.out, args.seed)
    total = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files, {total / 1024:.0f} KiB, under {args.out}")


if __name__ == "__main__":
    main()
