"""The What-if page's state, cached computations and charts.

The scenario being edited lives in ``st.session_state`` (widget keys below); every
computation is cached by small values: the page context's ``at`` (database file,
snapshot id, settings), a :class:`~kpi_engine.whatif.views.ScenarioDraft` (a hashable
tuple of changes), and for the Monte Carlo the runs, the seed and the slip range.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from kpi_engine.core.errors import KpiError
from kpi_engine.core.rag import RAG_COLOURS
from kpi_engine.engine import views
from kpi_engine.engine.schedule import Schedule, prepare_schedule
from kpi_engine.whatif import views as wv
from kpi_engine.whatif.scenarios import Scenario, ScenarioResult, compare_scenarios, run_scenario
from kpi_engine.whatif.simulation import SimulationResult, simulate
from ui import charts, loaders
from ui import format as fmt

At = tuple[str, int, loaders.SettingsKey]
Spec = dict[str, Any]
#: A triangular slip range the Monte Carlo applies: ("project" | "milestone", id, min, most likely, max).
Override = tuple[str, str, float, float, float]

# ------------------------------------------------------------------ session-state keys
MILESTONES = "wi_milestones"
PROJECTS = "wi_projects"
SET_FINISHES = "wi_set_finishes"
WORKAROUNDS = "wi_workarounds"
NAME = "wi_name"
OPENED = "wi_opened"
NOTICE = "wi_notice"
SIMULATION = "wi_mc_params"
#: The search box narrowing the pickers of a large portfolio.
SEARCH = "wi_find"
#: Keys of the pickers of the two forms and of the Monte Carlo range.
SET_FINISH_PICK, WORKAROUND_PICK, TARGET_PICK = "wi_sf_milestone", "wi_wa_milestone", "wi_mc_target"
#: The Monte Carlo target picker's first choice: no triangular range.
NO_TARGET = ""
#: Days a newly picked milestone or project slips until its slider moves.
DEFAULT_SLIP = 14
MAX_SLIP = 120

BEFORE, AFTER, TARGET = "#90A4AE", "#1565C0", "#263238"
#: KPIs the before/after chart draws at most (a row each); the table under it lists them all.
KPI_CHART_ROWS = 15


def slip_key(milestone_id: str) -> str:
    """Widget key of a milestone's slip slider."""
    return f"wi_slip_{milestone_id}"


def project_slip_key(project_id: str) -> str:
    """Widget key of a project's slip slider."""
    return f"wi_pslip_{project_id}"


def slip_picker(
    label: str,
    ids: list[str],
    labels: dict[str, str],
    key: str,
    slider_key: Callable[[str], str],
    placeholder: str,
    help: str,
) -> None:
    """A multiselect of what to slip, then a slider of extra days for each item picked.

    Both keep their state for the session (``key`` and ``slider_key(item)``); a new item
    starts at :data:`DEFAULT_SLIP` days.
    """
    picked = st.multiselect(
        label,
        ids,
        format_func=lambda i: labels.get(i, i),
        key=key,
        placeholder=placeholder,
        persist_state="session",
        help=help,
    )
    for item in picked:
        st.session_state.setdefault(slider_key(item), DEFAULT_SLIP)
        st.slider(
            f"{fmt.plain(labels.get(item, item))}: extra days",
            0,
            MAX_SLIP,
            key=slider_key(item),
            persist_state="session",
            format="+%d days",
        )


# ------------------------------------------------------------------ the draft in session state
def draft() -> wv.ScenarioDraft:
    """Return the scenario being edited, read from the page's widgets and lists."""
    state = st.session_state
    return wv.ScenarioDraft(
        slips=tuple((m, int(state.get(slip_key(m), DEFAULT_SLIP))) for m in state.get(MILESTONES, [])),
        project_slips=tuple((p, int(state.get(project_slip_key(p), DEFAULT_SLIP))) for p in state.get(PROJECTS, [])),
        set_finishes=tuple(sorted(state.get(SET_FINISHES, {}).items())),
        workarounds=tuple(state.get(WORKAROUNDS, {}).values()),
    )


def keep_known(milestone_ids: Container[str], project_ids: Container[str]) -> None:
    """Drop picks the chosen snapshot does not offer (e.g. after switching snapshots).

    ``milestone_ids`` and ``project_ids`` answer ``in`` quickly (the label dicts of :func:`choices`).
    """
    state = st.session_state
    if MILESTONES in state:
        state[MILESTONES] = [m for m in state[MILESTONES] if m in milestone_ids]
    if PROJECTS in state:
        state[PROJECTS] = [p for p in state[PROJECTS] if p in project_ids]


def load_draft(chosen: wv.ScenarioDraft, milestone_ids: Container[str], project_ids: Container[str]) -> list[str]:
    """Put a draft into the page's widgets (call from a callback, before they are drawn).

    Returns the changes left out because the snapshot offers no such open milestone or project.
    """
    state = st.session_state
    known_m, known_p = milestone_ids, project_ids
    dropped = [f"{m} +{d} days" for m, d in chosen.slips if m not in known_m]
    dropped += [f"project {p} +{d} days" for p, d in chosen.project_slips if p not in known_p]
    state[MILESTONES] = [m for m, _ in chosen.slips if m in known_m]
    for m, days in chosen.slips:
        if m in known_m:
            state[slip_key(m)] = min(int(days), MAX_SLIP)
    state[PROJECTS] = [p for p, _ in chosen.project_slips if p in known_p]
    for p, days in chosen.project_slips:
        if p in known_p:
            state[project_slip_key(p)] = min(int(days), MAX_SLIP)
    dropped += [
        f"{m} +{d} days (the slider stops at {MAX_SLIP})"
        for m, d in (*chosen.slips, *chosen.project_slips)
        if d > MAX_SLIP
    ]
    state[SET_FINISHES] = dict(chosen.set_finishes)
    state[WORKAROUNDS] = {w[0]: w for w in chosen.workarounds}
    return dropped


def clear_draft() -> None:
    """Forget the scenario being edited (a callback)."""
    state = st.session_state
    state[MILESTONES], state[PROJECTS] = [], []
    state[SET_FINISHES], state[WORKAROUNDS] = {}, {}
    state.pop(OPENED, None)
    state[NAME] = ""


def notify(kind: str, message: object) -> None:
    """Keep a message for the next run: callbacks run before the page draws anything."""
    st.session_state[NOTICE] = (kind, message)


def take_notice() -> tuple[str, object] | None:
    """Return (and forget) the message a callback left."""
    return st.session_state.pop(NOTICE, None)


def author() -> str:
    """Who saves a scenario: the signed-in user's name or e-mail, else "local user"."""
    user = st.user
    if user.get("is_logged_in"):
        return str(user.get("name") or user.get("email") or "signed-in user")
    return "local user"


# ------------------------------------------------------------------ cached computations
@loaders.shared(max_entries=8)
def schedule(path: str, snapshot_id: int, settings: loaders.SettingsKey) -> Schedule:
    """The snapshot's prepared schedule (what every scenario propagates through).

    Shared, not copied: scenarios and simulations only read it (they copy what they change).
    """
    return prepare_schedule(loaders.result(path, snapshot_id, settings).portfolio)


def _run(at: At, chosen: wv.ScenarioDraft, name: str = "") -> ScenarioResult:
    base = loaders.result(*at)
    return run_scenario(base.portfolio, chosen.to_scenario(name), base.settings, base=base, schedule=schedule(*at))


@dataclass(frozen=True)
class Choices:
    """The open milestones and projects a scenario can change, with their labels.

    Built once per snapshot and shared (read-only): a large portfolio has tens of
    thousands, too many to rebuild, or to offer in a picker, on every rerun.
    """

    milestones: pl.DataFrame
    projects: pl.DataFrame
    milestone_labels: dict[str, str]
    project_labels: dict[str, str]

    @property
    def many(self) -> bool:
        """True when the pickers cannot offer every choice (a search box narrows them)."""
        return max(self.milestones.height, self.projects.height) > views.CHOICES


@loaders.shared(max_entries=8)
def choices(at: At) -> Choices:
    """Open milestones and projects a scenario can change, most value at risk first.

    See :func:`kpi_engine.whatif.views.milestone_choices`. Shared: never mutate what it returns.
    """
    milestones = loaders.result(*at).milestones
    m, p = wv.milestone_choices(milestones), wv.project_choices(milestones)
    return Choices(
        m,
        p,
        dict(zip(m["milestone_id"].to_list(), m["label"].to_list(), strict=False)),
        dict(zip(p["project_id"].to_list(), p["label"].to_list(), strict=False)),
    )


def offered(at: At, search: str) -> tuple[list[str], list[str]]:
    """The milestone and project ids the pickers offer: the first matches of ``search``, and those picked.

    At most :data:`kpi_engine.engine.views.CHOICES` of each match. What the slip pickers and the
    Monte Carlo range already hold is offered too: a picker drops a value it does not
    offer. The two form pickers are left to move to the first match of a new search.
    """
    state = st.session_state
    keep_m = list(state.get(MILESTONES, []))
    keep_p = list(state.get(PROJECTS, []))
    kind, _, owner = str(state.get(TARGET_PICK) or "").partition(":")
    (keep_p if kind == "project" else keep_m).append(owner)
    return (
        _offered(at, "milestones", search, tuple(k for k in keep_m if k)),
        _offered(at, "projects", search, tuple(k for k in keep_p if k)),
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _offered(at: At, kind: str, search: str, keep: tuple[str, ...]) -> list[str]:
    options = choices(at)
    if kind == "milestones":
        return views.offered_choices(options.milestones, "milestone_id", search, keep)
    return views.offered_choices(options.projects, "project_id", search, keep)


def targets(milestone_ids: list[str], project_ids: list[str]) -> list[str]:
    """The choices of the Monte Carlo range picker: none, each project, each milestone."""
    return [NO_TARGET, *(f"project:{p}" for p in project_ids), *(f"milestone:{m}" for m in milestone_ids)]


@dataclass(frozen=True)
class ScenarioView:
    """What the page shows of one scenario."""

    summary: wv.WhatIfSummary
    kpis: pl.DataFrame
    moved: pl.DataFrame
    waterfall: pl.DataFrame
    #: the sentence under the waterfall of a scenario that changes no value at risk (None otherwise)
    waterfall_caption: str | None
    mitigations: pl.DataFrame
    escalations: pl.DataFrame
    kpi_chart: Spec | None
    waterfall_chart: Spec


@st.cache_data(show_spinner="Recomputing the portfolio with these changes ...", max_entries=64)
def scenario_view(at: At, chosen: wv.ScenarioDraft) -> ScenarioView:
    """Run a draft on a snapshot and prepare its tables and charts.

    Raises
    ------
    ScenarioError
        When a change does not fit the snapshot.
    """
    result = _run(at, chosen)
    currency = loaders.settings_of(at[2]).currency
    kpis = wv.kpi_before_after(result.kpi_diff)
    waterfall = wv.value_at_risk_waterfall(result)
    return ScenarioView(
        summary=wv.summary(result),
        kpis=kpis,
        moved=wv.moved_milestones(result),
        waterfall=waterfall,
        waterfall_caption=wv.waterfall_caption(waterfall, currency),
        mitigations=wv.mitigation_table(result),
        escalations=result.escalations,
        kpi_chart=kpi_before_after_chart(kpis.head(KPI_CHART_ROWS), of=kpis.height).to_dict(validate=False)
        if kpis.height
        else None,
        waterfall_chart=waterfall_chart(
            waterfall, currency, fmt.money(result.value_at_risk_total_before, currency)
        ).to_dict(validate=False),
    )


@dataclass(frozen=True)
class ComparisonView:
    """Two to four scenarios side by side: a table and a grouped bar chart."""

    table: pl.DataFrame
    chart: Spec


@st.cache_data(show_spinner="Comparing scenarios ...", max_entries=16)
def comparison(at: At, named: tuple[tuple[str, wv.ScenarioDraft], ...]) -> ComparisonView:
    """Compare named drafts on one snapshot.

    Raises
    ------
    ScenarioError
        Fewer than two or more than four scenarios, or one does not fit the snapshot.
    """
    results = [_run(at, chosen, name) for name, chosen in named]
    compared = compare_scenarios(results)
    kpis = loaders.result(*at).kpis
    currency = loaders.settings_of(at[2]).currency
    names = dict(zip(kpis["kpi_id"].to_list(), kpis["name"].to_list(), strict=False))
    return ComparisonView(
        table=wv.comparison_table(compared, names, currency),
        chart=comparison_chart(wv.comparison_bars(compared), currency).to_dict(validate=False),
    )


@dataclass(frozen=True)
class SimulationView:
    """What the page shows of a Monte Carlo simulation."""

    result: SimulationResult
    caption: str
    kpis: pl.DataFrame
    criticality: pl.DataFrame
    histogram_chart: Spec
    seconds: float


@loaders.shared(max_entries=8)
def simulation(
    at: At, chosen: wv.ScenarioDraft | None, runs: int, seed: int, override: Override | None
) -> SimulationView:
    """Simulate ``runs`` random slip outcomes of a snapshot (on top of a draft's slips, when given).

    Shared and read-only (a simulation of a large portfolio holds every milestone's outcome).

    Raises
    ------
    InputError
        A slip range that is not ``0 <= min <= most likely <= max``, or too many runs.
    ScenarioError
        When the draft does not fit the snapshot.
    """
    started = time.perf_counter()
    base = loaders.result(*at)
    overrides: dict[str, tuple[float, float, float]] = {}
    project_overrides: dict[str, tuple[float, float, float]] = {}
    if override is not None:
        kind, owner, low, mode, high = override
        (project_overrides if kind == "project" else overrides)[owner] = (low, mode, high)
    scenario = chosen.to_scenario("") if chosen is not None and not chosen.is_empty else None
    result = simulate(
        base.portfolio,
        base.settings,
        runs=runs,
        seed=seed,
        history=loaders.history(at[0], at[1]),
        overrides=overrides,
        project_overrides=project_overrides,
        base_schedule=schedule(*at),
        scenario=scenario,
    )
    currency = loaders.settings_of(at[2]).currency
    return SimulationView(
        result=result,
        caption=wv.distribution_caption(result.milestones),
        kpis=wv.kpi_confidence(result.kpis),
        criticality=wv.critical_milestones(result),
        histogram_chart=histogram_chart(
            wv.histogram(result.value_at_risk.totals),
            wv.percentile_marks(result.value_at_risk),
            result.value_at_risk.deterministic,
            currency,
        ).to_dict(validate=False),
        seconds=time.perf_counter() - started,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def fan_spec(
    at: At, chosen: wv.ScenarioDraft | None, runs: int, seed: int, override: Override | None, kpi_id: str
) -> Spec:
    """The fan chart of one KPI of a simulation (the simulation itself comes from its cache)."""
    result = simulation(at, chosen, runs, seed, override).result
    kpi = result.kpis.filter(pl.col("kpi_id") == kpi_id).row(0, named=True)
    return fan_chart(wv.fan(result.trajectory, result.kpis, kpi_id), kpi).to_dict(validate=False)


def run_simulation_with_progress(
    at: At, chosen: wv.ScenarioDraft | None, runs: int, seed: int, override: Override | None
) -> SimulationView:
    """Run a simulation inside an ``st.status`` box that says what it is doing."""
    with st.status(f"Simulating {runs:,} runs ...", expanded=True) as status:
        bar = st.progress(0.05, text="Reading every snapshot's slip history")
        loaders.history(at[0], at[1])
        bar.progress(0.3, text=f"Drawing {runs:,} random slips for every open milestone and propagating them")
        view = simulation(at, chosen, runs, seed, override)
        bar.progress(1.0, text="Summarising finishes, KPIs and value at risk")
        status.update(label=f"Simulated {runs:,} runs in {view.seconds:.1f} s", state="complete", expanded=False)
    return view


# ------------------------------------------------------------------ saved scenarios (the store)
def saved_scenarios() -> pl.DataFrame:
    """The saved scenarios, newest first, with the date of the snapshot each was built on."""
    saved = loaders.store().list_scenarios()
    snaps = loaders.snapshots(loaders.db_path()).select("snapshot_id", pl.col("as_of").alias("snapshot_as_of"))
    return saved.join(snaps, on="snapshot_id", how="left").sort("scenario_id", descending=True)


def saved_draft(scenario_id: int) -> tuple[str, wv.ScenarioDraft]:
    """Return a saved scenario's name and its changes as a draft.

    Raises
    ------
    NotFoundError
        No scenario has that id.
    ScenarioError
        The stored changes are malformed.
    """
    stored = loaders.store().load_scenario(scenario_id)
    return stored["name"], wv.ScenarioDraft.from_scenario(Scenario.from_dict(stored["spec"], stored["name"]))


def override_label(option: str, milestone_labels: dict[str, str], project_labels: dict[str, str]) -> str:
    """Label of a slip-range choice: "" (none), "project:P-ROUTE" or "milestone:M1"."""
    if option == NO_TARGET:
        return "None: use the history"
    kind, owner = option.split(":", 1)
    if kind == "project":
        return f"Project {project_labels.get(owner, owner)}"
    return f"Milestone {milestone_labels.get(owner, owner)}"


def guarded(action: Callable[[], str | None]) -> None:
    """Run a store action from a callback; leave its success message, or its error, for the page."""
    try:
        message = action()
    except KpiError as err:
        notify("error", err)
    else:
        if message:
            notify("success", message)


# ------------------------------------------------------------------ callbacks of the page's buttons
# Callbacks run before the page is drawn, so they may set the builder's widgets; their
# messages wait in session state (:func:`notify`) until the page shows them.


def add_set_finish() -> None:
    """Set the chosen milestone's finish (the "Set finish" form)."""
    state = st.session_state
    finishes = dict(state.get(SET_FINISHES, {}))
    finishes[state["wi_sf_milestone"]] = state["wi_sf_date"]
    state[SET_FINISHES] = finishes


def remove_set_finish(milestone_id: str) -> None:
    """Drop a set finish."""
    finishes = dict(st.session_state.get(SET_FINISHES, {}))
    finishes.pop(milestone_id, None)
    st.session_state[SET_FINISHES] = finishes


def add_workaround() -> None:
    """Add a workaround from the "Add a workaround" form; a second one on a milestone replaces the first."""
    state = st.session_state
    milestone_id = state["wi_wa_milestone"]
    workarounds = dict(state.get(WORKAROUNDS, {}))
    replaced = milestone_id in workarounds
    workarounds[milestone_id] = (
        milestone_id,
        state["wi_wa_start"],
        float(state["wi_wa_cost"]),
        int(state["wi_wa_percent"]) / 100,
    )
    state[WORKAROUNDS] = workarounds
    if replaced:
        notify("info", f"The workaround on {milestone_id} replaces the one it had: a milestone takes one workaround.")


def remove_workaround(milestone_id: str) -> None:
    """Drop a workaround."""
    workarounds = dict(st.session_state.get(WORKAROUNDS, {}))
    workarounds.pop(milestone_id, None)
    st.session_state[WORKAROUNDS] = workarounds


def save_new(snapshot_id: int) -> None:
    """Save the scenario being edited under the name typed, as a new saved scenario."""

    def save() -> str:
        name = str(st.session_state.get(NAME, ""))
        spec = draft().to_scenario(name.strip()).to_dict()
        scenario_id = loaders.store().save_scenario(name, spec, snapshot_id, author=author())
        st.session_state[OPENED] = {"id": scenario_id, "name": name.strip()}
        return f"Saved '{name.strip()}'."

    guarded(save)


def update_opened() -> None:
    """Save the changes being edited into the opened scenario."""
    opened = st.session_state.get(OPENED)
    if not opened:
        return

    def update() -> str:
        loaders.store().update_scenario(opened["id"], draft().to_scenario(opened["name"]).to_dict())
        return f"Saved the changes to '{opened['name']}'."

    guarded(update)


def open_saved(scenario_id: int, milestone_ids: Container[str], project_ids: Container[str]) -> None:
    """Load a saved scenario into the builder."""

    def open_it() -> str:
        name, chosen = saved_draft(scenario_id)
        dropped = load_draft(chosen, milestone_ids, project_ids)
        st.session_state[OPENED] = {"id": scenario_id, "name": name}
        st.session_state[NAME] = name
        if dropped:
            notify(
                "warning",
                f"Opened '{name}', without changes this snapshot cannot take: "
                + "; ".join(dropped)
                + ". The milestone or project has finished or is not in this snapshot.",
            )
            return ""
        return f"Opened '{name}'."

    guarded(open_it)


def rename_saved(scenario_id: int) -> None:
    """Rename a saved scenario to the name typed in the rename box."""

    def rename() -> str:
        new_name = str(st.session_state.get("wi_rename_to", ""))
        loaders.store().rename_scenario(scenario_id, new_name)
        opened = st.session_state.get(OPENED)
        if opened and opened["id"] == scenario_id:
            st.session_state[OPENED] = {"id": scenario_id, "name": new_name.strip()}
            st.session_state[NAME] = new_name.strip()
        st.session_state["wi_rename_to"] = ""
        return f"Renamed to '{new_name.strip()}'."

    guarded(rename)


def delete_saved(scenario_id: int, name: str) -> None:
    """Delete a saved scenario."""

    def delete() -> str:
        loaders.store().delete_scenario(scenario_id)
        opened = st.session_state.get(OPENED)
        if opened and opened["id"] == scenario_id:
            st.session_state.pop(OPENED, None)
        return f"Deleted '{name}'."

    guarded(delete)


def compared_drafts(chosen: list[int], current: wv.ScenarioDraft) -> tuple[tuple[str, wv.ScenarioDraft], ...]:
    """The scenarios picked for comparison as (name, draft); id 0 stands for the one being edited.

    Raises
    ------
    NotFoundError, ScenarioError
        A saved scenario is gone or malformed.
    """
    named = []
    for scenario_id in chosen:
        if scenario_id == CURRENT:
            named.append((str(st.session_state.get(NAME) or "").strip() or "Being edited", current))
        else:
            named.append(saved_draft(scenario_id))
    return tuple(named)


#: The option standing for the scenario being edited in the comparison picker.
CURRENT = 0


# ------------------------------------------------------------------ charts
def _kpi_format(value: str) -> str:
    """A Vega expression formatting a KPI value as :func:`ui.format.kpi_number` does (2.0179 -> 2.018)."""
    return (
        f"(abs({value}) < 10 ? format({value}, '.3f') : abs({value}) < 1000 ? format({value}, '.1f') "
        f": format({value}, ',.0f'))"
    )


def kpi_before_after_chart(kpis: pl.DataFrame, of: int | None = None) -> charts.Layered:
    """One row per KPI the scenario moves: its projection before (grey dot) and after
    (diamond, red when it misses, green when it meets) and its target (black tick).

    Each row spans its own values (KPIs come in different units), so the x axis carries
    no scale; every mark is labelled with its value. ``kpis`` comes from
    :func:`kpi_engine.whatif.views.kpi_before_after` (its first rows when ``of``, the
    number of KPIs that move, is larger: the subtitle says so).
    """
    rows = kpis.with_columns(
        pl.when(pl.col("misses_after"))
        .then(pl.lit(RAG_COLOURS["Red"]))
        .otherwise(pl.lit(RAG_COLOURS["Green"]))
        .alias("after_colour"),
        pl.concat_str(pl.col("label"), pl.lit("|"), pl.col("verdict")).alias("row"),
    )
    tooltip = [
        alt.Tooltip("label:N", title="KPI"),
        alt.Tooltip("projected_before:Q", title="Projected before", format=",.4~f"),
        alt.Tooltip("projected_after:Q", title="Projected after", format=",.4~f"),
        alt.Tooltip("target_value:Q", title="Target", format=",.4~f"),
        alt.Tooltip("verdict:N", title="Verdict"),
    ]
    x_scale = alt.Scale(domain=[0, 1], nice=False)
    y = alt.Y(
        "row:N",
        title=None,
        sort=rows["row"].to_list(),
        axis=alt.Axis(
            labelExpr="split(datum.label, '|')",
            labelLimit=260,
            labelFontSize=12,
            labelPadding=10,
            domain=False,
            ticks=False,
        ),
    )
    base = alt.Chart(rows).encode(y=y, tooltip=tooltip)
    span = base.mark_rule(strokeWidth=3, color="#B0BEC5").encode(
        x=alt.X("x_before:Q", scale=x_scale, axis=None), x2=alt.X2("x_after:Q")
    )
    target = base.mark_tick(thickness=3, size=34, color=TARGET).encode(x=alt.X("x_target:Q", scale=x_scale))
    before = base.mark_point(filled=True, size=150, color=BEFORE, opacity=1).encode(
        x=alt.X("x_before:Q", scale=x_scale)
    )
    after = base.mark_point(filled=True, size=240, opacity=1, shape="diamond").encode(
        x=alt.X("x_after:Q", scale=x_scale), color=alt.Color("after_colour:N", scale=None)
    )

    def label(column: str, prefix: str, dy: int, colour: str) -> alt.Chart:
        return (
            base.mark_text(dy=dy, fontSize=11, color=colour)
            .encode(
                x=alt.X(f"x_{column.removeprefix('projected_').removesuffix('_value')}:Q", scale=x_scale),
                text=alt.Text("text:N"),
            )
            .transform_calculate(text=f"'{prefix}' + " + _kpi_format(f"datum.{column}"))
        )

    layers = [
        span,
        target,
        before,
        after,
        label("projected_after", "after ", -18, "#263238"),
        label("projected_before", "before ", 18, "#607D8B"),
        label("target_value", "target ", 24, TARGET),
    ]
    return (
        alt.layer(*layers)
        .properties(
            height=110 + 64 * rows.height,
            title=alt.TitleParams(
                "KPI projections: before, after and target",
                subtitle=(
                    f"the {rows.height} of {of:,} KPIs that move most (all in KPI figures) · "
                    if of is not None and of > rows.height
                    else ""
                )
                + "grey dot before · diamond after (red misses, green meets) · black tick target",
                anchor="start",
            ),
        )
        .configure_view(strokeWidth=0)
    )


def waterfall_chart(steps: pl.DataFrame, currency: str, snapshot_total: str) -> charts.Layered:
    """How a scenario changes the value at risk: one bar per milestone and workaround, then the net change.

    ``steps`` comes from :func:`kpi_engine.whatif.views.value_at_risk_waterfall`; a scenario
    that changes no value at risk draws its two equal totals instead (:func:`unchanged_chart`).
    """
    if wv.changes_nothing(steps):
        return unchanged_chart(steps, currency)
    colours = alt.Scale(
        domain=["increase", "decrease", "total"], range=[RAG_COLOURS["Red"], RAG_COLOURS["Green"], "#546E7A"]
    )
    frame = steps.with_columns(pl.max_horizontal("start", "end").alias("label_at"))
    y = alt.Y(
        "step:N",
        title=None,
        sort=frame["step"].to_list(),
        axis=alt.Axis(labelLimit=260),
        scale=alt.Scale(paddingInner=0.25),
    )
    base = alt.Chart(frame).encode(y=y)
    bars = base.mark_bar(cornerRadius=2).encode(
        x=alt.X("start:Q", title=f"Change in value at risk ({currency})", axis=alt.Axis(format="~s")),
        x2=alt.X2("end:Q"),
        color=alt.Color("kind:N", scale=colours, legend=None),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("amount:Q", title=f"Amount ({currency})", format=",.0f"),
            alt.Tooltip("end:Q", title=f"Running total ({currency})", format=",.0f"),
        ],
    )
    labels = (
        base.mark_text(align="left", dx=4, fontSize=11, color="#263238")
        .encode(
            x=alt.X("label_at:Q"),
            text=alt.Text("text:N"),
        )
        .transform_calculate(text="format(datum.amount, '+,.3~s')")
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color="#263238").encode(x=alt.X("x:Q"))
    height = 120 + 36 * frame.height
    return alt.layer(bars, zero, labels).properties(
        height=height,
        title=alt.TitleParams(
            "Change in value at risk, by milestone",
            subtitle=f"vs the snapshot's {snapshot_total} · red adds, green takes off, grey net",
            anchor="start",
        ),
    )


def unchanged_chart(steps: pl.DataFrame, currency: str) -> charts.Layered:
    """The value at risk before and after a scenario that changes none of it: two equal grey bars from zero."""
    # a scale from zero to zero has no ticks (its axis reads "NaN"): give it one to 1 at least
    top = float(steps["end"].max() or 0.0)  # type: ignore[arg-type]
    scale = alt.Scale() if top > 0.5 else alt.Scale(domain=[0, 1])
    base = alt.Chart(steps).encode(
        y=alt.Y("step:N", title=None, sort=steps["step"].to_list(), axis=alt.Axis(labelLimit=260))
    )
    bars = base.mark_bar(cornerRadius=2, color="#546E7A").encode(
        x=alt.X("end:Q", title=f"Value at risk ({currency})", axis=alt.Axis(format="~s"), scale=scale),
        tooltip=[
            alt.Tooltip("step:N", title="Value at risk"),
            alt.Tooltip("end:Q", title=f"Amount ({currency})", format=",.0f"),
        ],
    )
    labels = base.mark_text(align="left", dx=4, fontSize=11, color="#263238").encode(
        x=alt.X("end:Q", scale=scale), text=alt.Text("end:Q", format=",.3~s")
    )
    return alt.layer(bars, labels).properties(
        height=120 + 36 * steps.height,
        title=alt.TitleParams(
            "Value at risk: this scenario changes nothing",
            subtitle="the snapshot as is and this scenario, side by side",
            anchor="start",
        ),
    )


def comparison_chart(bars: pl.DataFrame, currency: str) -> charts.Layered:
    """Grouped bars of how each of 2-4 scenarios changes the money figures of the snapshot as is.

    ``bars`` comes from :func:`kpi_engine.whatif.views.comparison_bars`. The bars show the
    change against the snapshot, not the figures themselves: a 0.2M difference between
    two scenarios disappears on a 0-7M scale but fills a chart of differences.
    """
    changed = bars.filter(pl.col("scenario_order") > 0)
    scenarios = changed.sort("scenario_order")["scenario"].unique(maintain_order=True).to_list()
    palette = ["#1565C0", "#EF6C00", "#6A1B9A", "#00838F"]
    figures = bars.sort("figure_order")["figure"].unique(maintain_order=True).to_list()
    # scenarios that change nothing still get a scale around zero (an empty one reads "NaN")
    moved = bool(changed.height) and float(changed["change"].abs().max() or 0.0) > 0.5  # type: ignore[arg-type]
    base = alt.Chart(changed).encode(
        x=alt.X("figure:N", title=None, sort=figures, axis=alt.Axis(labelAngle=0, labelLimit=220)),
        xOffset=alt.XOffset("scenario:N", sort=scenarios),
        y=alt.Y(
            "change:Q",
            title=f"Change against the snapshot as is ({currency})",
            axis=alt.Axis(format="+~s"),
            scale=alt.Scale() if moved else alt.Scale(domain=[-1, 1]),
        ),
    )
    bars_layer = base.mark_bar().encode(
        color=alt.Color(
            "scenario:N",
            sort=scenarios,
            title=None,
            scale=alt.Scale(domain=scenarios, range=palette[: len(scenarios)]),
            legend=alt.Legend(orient="top", labelLimit=280),
        ),
        tooltip=[
            alt.Tooltip("scenario:N", title="Scenario"),
            alt.Tooltip("figure:N", title="Figure"),
            alt.Tooltip("change:Q", title=f"Change ({currency})", format="+,.0f"),
            alt.Tooltip("value:Q", title=f"Scenario ({currency})", format=",.0f"),
        ],
    )
    labels = base.mark_text(dy=-7, fontSize=11).encode(text=alt.Text("change:Q", format="+.3~s"))
    zero = alt.Chart(pl.DataFrame({"zero": [0.0]})).mark_rule(color="#455A64").encode(y=alt.Y("zero:Q"))
    snapshot = bars.filter(pl.col("scenario_order") == 0)
    subtitle = " · ".join(
        f"{figure} {fmt.money(value, currency, compact=True)}"
        for figure, value in zip(snapshot["figure"].to_list(), snapshot["value"].to_list(), strict=False)
    )
    return alt.layer(bars_layer, labels, zero).properties(
        height=320,
        title=alt.TitleParams(
            "Scenarios side by side: change against the snapshot as is",
            subtitle=f"The snapshot as is: {subtitle}",
            anchor="start",
        ),
    )


def fan_chart(fan: pl.DataFrame, kpi: dict[str, Any]) -> charts.Layered:
    """A KPI's simulated path: the P10-P90 band, the median and the target.

    ``fan`` comes from :func:`kpi_engine.whatif.views.fan`; ``kpi`` is a row of
    ``SimulationResult.kpis``.
    """
    unit = kpi.get("unit") or ""
    y_title = f"{kpi['name']}" + (f" ({unit})" if unit else "")
    values = [*fan["p10"].to_list(), *fan["p90"].to_list(), float(kpi["target_value"])]
    low, high = min(values), max(values)
    pad = (high - low) * 0.15 or abs(high) * 0.05 or 1.0
    y_scale = alt.Scale(domain=[low - pad, high + pad], nice=False, zero=False)
    x = alt.X("date:T", title=None, axis=alt.Axis(format="%b %Y", tickCount="month", labelOverlap=True))
    base = alt.Chart(fan).encode(x=x)
    band = base.mark_area(opacity=0.25, color=AFTER).encode(
        y=alt.Y("p10:Q", title=y_title, scale=y_scale),
        y2=alt.Y2("p90:Q"),
        tooltip=[
            alt.Tooltip("date:T", title="Date", format="%Y-%m-%d"),
            alt.Tooltip("p10:Q", title="P10", format=",.4~f"),
            alt.Tooltip("p50:Q", title="Median", format=",.4~f"),
            alt.Tooltip("p90:Q", title="P90", format=",.4~f"),
        ],
    )
    median = base.mark_line(strokeWidth=2.5, color=AFTER, point=alt.OverlayMarkDef(size=30, color=AFTER)).encode(
        y=alt.Y("p50:Q", scale=y_scale)
    )
    target = pl.DataFrame({"value": [float(kpi["target_value"])], "label": [f"target {kpi['target_value']:,.4g}"]})
    rule = (
        alt.Chart(target)
        .mark_rule(color=RAG_COLOURS["Red"], strokeDash=[6, 4], strokeWidth=1.5)
        .encode(y=alt.Y("value:Q", scale=y_scale))
    )
    rule_text = (
        alt.Chart(target)
        .mark_text(align="left", dx=4, dy=-8, color=RAG_COLOURS["Red"], fontWeight="bold")
        .encode(y=alt.Y("value:Q", scale=y_scale), x=alt.XValue(0), text=alt.Text("label:N"))
    )
    title = f"{kpi['name']}: median and P10-P90 band"
    return alt.layer(band, median, rule, rule_text).properties(height=320, title=alt.TitleParams(title, anchor="start"))


def histogram_chart(bins: pl.DataFrame, marks: pl.DataFrame, deterministic: float, currency: str) -> charts.Layered:
    """Histogram of the simulated total value at risk with P50 / P80 / P95 and the plan marked.

    ``bins`` and ``marks`` come from :func:`kpi_engine.whatif.views.histogram` and
    :func:`~kpi_engine.whatif.views.percentile_marks`.
    """
    x_scale = alt.Scale(zero=False, nice=False)
    bars = (
        alt.Chart(bins)
        .mark_bar(color="#78909C", opacity=0.85)
        .encode(
            x=alt.X(
                "bin_start:Q", title=f"Total value at risk ({currency})", scale=x_scale, axis=alt.Axis(format="~s")
            ),
            x2=alt.X2("bin_end:Q"),
            y=alt.Y("runs:Q", title="Runs"),
            y2=alt.Y2Datum(0),
            tooltip=[
                alt.Tooltip("bin_start:Q", title="From", format=",.0f"),
                alt.Tooltip("bin_end:Q", title="To", format=",.0f"),
                alt.Tooltip("runs:Q", title="Runs"),
                alt.Tooltip("share:Q", title="Share of runs", format=".1%"),
            ],
        )
    )
    lines = pl.concat(
        [
            marks.with_columns(pl.lit("percentile").alias("kind")),
            pl.DataFrame({"label": ["plan"], "value": [deterministic], "kind": ["plan"]}),
        ]
    )
    colours = alt.Scale(
        domain=["P50", "P80", "P95", "plan"], range=[RAG_COLOURS["Amber"], "#EF6C00", RAG_COLOURS["Red"], "#263238"]
    )
    rules = (
        alt.Chart(lines)
        .mark_rule(strokeWidth=2)
        .encode(
            x=alt.X("value:Q", scale=x_scale),
            color=alt.Color("label:N", scale=colours, title=None, legend=alt.Legend(orient="top")),
            strokeDash=charts.when(alt.StrokeDashValue, "datum.kind == 'plan'", [5, 4], [1, 0]),
            tooltip=[alt.Tooltip("label:N", title="Mark"), alt.Tooltip("value:Q", title=currency, format=",.0f")],
        )
    )
    texts = (
        alt.Chart(lines.filter(pl.col("kind") == "percentile"))
        .mark_text(align="left", dx=3, baseline="top", fontWeight="bold", fontSize=11)
        .encode(
            x=alt.X("value:Q", scale=x_scale),
            y=alt.YValue(4),
            text=alt.Text("label:N"),
            color=alt.Color("label:N", scale=colours, legend=None),
        )
    )
    return alt.layer(bars, rules, texts).properties(
        height=320, title=alt.TitleParams("Total value at risk across runs", anchor="start")
    )
