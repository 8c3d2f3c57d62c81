"""Altair chart builders; every chart takes frames the engine (or kpi_engine.engine.views) made.

One RAG colour scale everywhere (:data:`kpi_engine.core.rag.RAG_COLOURS`).
"""

from __future__ import annotations

import textwrap
from datetime import date
from typing import Literal

import altair as alt
import polars as pl

from kpi_engine.core.rag import RAG_COLOURS, RAG_ORDER, rag_text_colour
from kpi_engine.engine import views
from ui import format as fmt

#: A chart of layers (altair types ``alt.layer`` and ``+`` as giving either).
Layered = alt.LayerChart | alt.FacetChart

SERIES_COLOURS = {"Actual": "#263238", "Projected": "#1565C0", "Baseline plan": "#90A4AE"}
FONT = 13


def when(channel: type[alt.SchemaBase], test: str | alt.Parameter, yes: object, no: object) -> alt.SchemaBase:
    """A channel valued ``yes`` where ``test`` holds (an expression or a selection), else ``no``.

    Built as the channel's own value class: Altair turns the plain ``alt.condition(...)`` dict,
    like a ``"field:Q"`` string, into its channel class by a slow schema lookup (tens of
    milliseconds each), which every cold chart paid.
    """
    condition = alt.condition(test, alt.value(yes), alt.value(no))["condition"]
    return channel(no, condition=condition)


def rag_scale() -> alt.Scale:
    """The shared status -> colour scale."""
    return alt.Scale(domain=RAG_ORDER, range=[RAG_COLOURS[s] for s in RAG_ORDER])


def _present(frame: pl.DataFrame, column: str) -> list[str]:
    """The statuses a frame holds, in legend order (a legend lists only what the chart shows)."""
    found = set(frame[column].drop_nulls().to_list())
    return [s for s in RAG_ORDER if s in found]


def _wrap(text: str, width: int, lines: int) -> str:
    parts = textwrap.wrap(text or "", width=width) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: max(width - 1, 1)].rstrip() + "…"
    return "\n".join(parts)


# --------------------------------------------------------------------------- causal chain


def causal_chain(chain: pl.DataFrame) -> Layered:
    """Boxes joined by arrows: cause -> milestone -> project -> KPI -> objective.

    ``chain`` comes from :func:`kpi_engine.engine.views.causal_chain`.
    """
    n = max(chain.height, 1)
    half = 0.44
    boxes = chain.with_columns(
        (pl.col("step") - half).alias("x0"),
        (pl.col("step") + half).alias("x1"),
        pl.col("level").str.to_uppercase().alias("kicker"),
        pl.col("title").map_elements(lambda t: _wrap(t, 24, 2), return_dtype=pl.String).alias("title_wrapped"),
        pl.col("detail").map_elements(lambda t: _wrap(t, 28, 4), return_dtype=pl.String).alias("detail_wrapped"),
        pl.col("status").map_elements(rag_text_colour, return_dtype=pl.String).alias("ink"),
    )
    x_scale = alt.Scale(domain=[-0.5, n - 0.5], nice=False)
    y_scale = alt.Scale(domain=[0, 1.18], nice=False)
    base = alt.Chart(boxes)
    rects = (
        base.mark_rect(cornerRadius=8, stroke="#455A64", strokeWidth=0.6)
        .encode(
            x=alt.X("x0:Q", scale=x_scale, axis=None),
            x2=alt.X2("x1:Q"),
            y=alt.Y("y0:Q", scale=y_scale, axis=None),
            y2=alt.Y2("y1:Q"),
            color=alt.Color("status:N", scale=rag_scale(), legend=None),
            tooltip=[
                alt.Tooltip("level:N", title="Step"),
                alt.Tooltip("title:N", title="What"),
                alt.Tooltip("detail:N", title="Detail"),
                alt.Tooltip("status:N", title="Status"),
            ],
        )
        .transform_calculate(y0="0.02", y1="0.98")
    )
    kicker = (
        base.mark_text(fontSize=11, fontWeight="bold", color="#546E7A", baseline="bottom")
        .encode(
            x=alt.X("step:Q", scale=x_scale),
            y=alt.Y("yk:Q", scale=y_scale),
            text=alt.Text("kicker:N"),
        )
        .transform_calculate(yk="1.16")
    )
    titles = (
        base.mark_text(fontSize=FONT, fontWeight="bold", lineBreak="\n", baseline="top")
        .encode(
            x=alt.X("step:Q", scale=x_scale),
            y=alt.Y("yt:Q", scale=y_scale),
            text=alt.Text("title_wrapped:N"),
            color=alt.Color("ink:N", scale=None),
        )
        .transform_calculate(yt="0.9")
    )
    details = (
        base.mark_text(fontSize=FONT - 1, lineBreak="\n", baseline="top")
        .encode(
            x=alt.X("step:Q", scale=x_scale),
            y=alt.Y("yd:Q", scale=y_scale),
            text=alt.Text("detail_wrapped:N"),
            color=alt.Color("ink:N", scale=None),
        )
        .transform_calculate(yd="0.52")
    )
    layers: list[alt.Chart] = [rects, kicker, titles, details]
    if chain.height > 1:
        arrows = pl.DataFrame({"a": [s + half for s in range(n - 1)], "b": [s + 1 - half - 0.03 for s in range(n - 1)]})
        shaft = (
            alt.Chart(arrows)
            .mark_rule(strokeWidth=2.5, color="#37474F")
            .encode(
                x=alt.X("a:Q", scale=x_scale),
                x2=alt.X2("b:Q"),
                y=alt.Y("ym:Q", scale=y_scale),
            )
            .transform_calculate(ym="0.5")
        )
        head = (
            alt.Chart(arrows)
            .mark_point(shape="triangle-right", size=140, filled=True, color="#37474F", opacity=1)
            .encode(
                x=alt.X("b:Q", scale=x_scale),
                y=alt.Y("ym:Q", scale=y_scale),
            )
            .transform_calculate(ym="0.5")
        )
        layers += [shaft, head]
    return alt.layer(*layers).properties(height=210).configure_view(strokeWidth=0)


# --------------------------------------------------------------------------- drill-down


def slip_history(history: pl.DataFrame, title: str) -> Layered:
    """A milestone's computed finish in each snapshot against its baseline finish."""
    points = history.with_columns(pl.col("computed_finish").alias("finish"))
    axis = alt.Axis(format="%d %b", tickCount="week", labelOverlap=True)
    base = alt.Chart(points).encode(x=alt.X("as_of:T", title="Snapshot", axis=axis))
    line = base.mark_line(point=alt.OverlayMarkDef(size=70, filled=True), color=SERIES_COLOURS["Projected"]).encode(
        y=alt.Y("finish:T", title="Computed finish", scale=alt.Scale(zero=False), axis=alt.Axis(format="%d %b %Y")),
        tooltip=[
            alt.Tooltip("as_of:T", title="Snapshot", format="%Y-%m-%d"),
            alt.Tooltip("finish:T", title="Computed finish", format="%Y-%m-%d"),
            alt.Tooltip("slip_days:Q", title="Slip (days)"),
            alt.Tooltip("moved_days:Q", title="Moved since last week (days)"),
        ],
    )
    baseline = base.mark_line(strokeDash=[6, 4], color=SERIES_COLOURS["Baseline plan"]).encode(
        y=alt.Y("baseline_finish:T"),
        tooltip=[alt.Tooltip("baseline_finish:T", title="Baseline finish", format="%Y-%m-%d")],
    )
    return alt.layer(baseline, line).properties(height=260, title=alt.TitleParams(title, anchor="start"))


# --------------------------------------------------------------------------- heatmaps

_MEASURE_TITLES = {"max_slip_days": "Worst slip (days)", "value_at_risk": "Value at risk"}


def _row_order(ranked: bool) -> alt.EncodingSortField | str:
    """Rows by name, or in the order the measure ranks them (``row_rank``) when only the first are drawn."""
    return alt.EncodingSortField(field="row_rank", op="min") if ranked else "ascending"


def slip_heatmap(
    cells: pl.DataFrame, measure: views.SlipMeasure, group_title: str, currency: str, ranked: bool = False
) -> Layered:
    """Group x month-due cells coloured by worst slip or value at risk; click selects cells.

    ``cells`` comes from :func:`kpi_engine.engine.views.slip_heatmap`, or its first groups from
    :func:`kpi_engine.engine.views.top_slip_cells`: then ``ranked`` lists the rows worst first
    (``row_rank``) instead of by name. The selection is named ``cell`` and carries
    ``group`` and ``month``.
    """
    pick = alt.selection_point(name="cell", fields=["group", "month"], on="click", clear="dblclick")
    scheme: Literal["reds", "orangered"] = "reds" if measure == "max_slip_days" else "orangered"
    top = max(float(cells.select(pl.col(measure).max().fill_null(0.0)).item()), 1.0) if cells.height else 1.0
    money_format = ",.0f"
    base = alt.Chart(cells).encode(
        x=alt.X("month:O", title="Month due (baseline finish)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("group:N", title=group_title, sort=_row_order(ranked), axis=alt.Axis(labelLimit=260)),
    )
    rects = (
        base.mark_rect(stroke="white", strokeWidth=1.5)
        .encode(
            color=alt.Color(
                f"{measure}:Q",
                title=_MEASURE_TITLES[measure],
                scale=alt.Scale(scheme=scheme, domain=[0, top], clamp=True),
            ),
            opacity=when(alt.OpacityValue, pick, 1.0, 0.35),
            tooltip=[
                alt.Tooltip("group:N", title=group_title),
                alt.Tooltip("month:O", title="Month due"),
                alt.Tooltip("milestones:Q", title="Milestones"),
                alt.Tooltip("late:Q", title="Late"),
                alt.Tooltip("red:Q", title="Red"),
                alt.Tooltip("amber:Q", title="Amber"),
                alt.Tooltip("max_slip_days:Q", title="Worst slip (days)"),
                alt.Tooltip("mean_slip_days:Q", title="Average slip (days)", format=".1f"),
                alt.Tooltip("value_at_risk:Q", title=f"Value at risk ({currency})", format=money_format),
            ],
        )
        .add_params(pick)
    )
    label_value = "max_slip_days" if measure == "max_slip_days" else "var_k"
    labels = (
        base.mark_text(fontSize=11)
        .encode(
            text=alt.Text(f"{label_value}:Q", format=",.0f"),
            color=when(alt.ColorValue, f"datum.{measure} > {top * 0.55}", "white", "#263238"),
        )
        .transform_calculate(var_k="datum.value_at_risk / 1000")
    )
    # Streamlit fits title, axes and legend inside the height: leave room for them
    height = 130 + 30 * max(cells["group"].n_unique(), 1)
    title = (
        "Worst slip per cell (days)" if measure == "max_slip_days" else f"Value at risk per cell (thousand {currency})"
    )
    return alt.layer(rects, labels).properties(height=height, title=alt.TitleParams(title, anchor="start"))


def kpi_program_heatmap(cells: pl.DataFrame, currency: str, ranked: bool = False) -> Layered:
    """KPI x program cells coloured by the share of planned KPI movement the slips lose.

    ``cells`` comes from :func:`kpi_engine.engine.views.kpi_program_impact`, or its first KPIs
    from :func:`kpi_engine.engine.views.top_kpi_cells`: then ``ranked`` lists the KPIs that lose
    the most first. The selection is named ``kcell`` and carries ``kpi_id`` and ``program``.
    """
    pick = alt.selection_point(name="kcell", fields=["kpi_id", "program"], on="click", clear="dblclick")
    base = alt.Chart(cells).encode(
        x=alt.X("program:N", title="Program", axis=alt.Axis(labelAngle=-30, labelLimit=200, labelOverlap=False)),
        y=alt.Y(
            "kpi:N", title="KPI", sort=_row_order(ranked) if ranked else alt.Undefined, axis=alt.Axis(labelLimit=260)
        ),
    )
    rects = (
        base.mark_rect(stroke="white", strokeWidth=1.5)
        .encode(
            color=alt.Color(
                "lost_share:Q",
                title="Planned movement lost",
                scale=alt.Scale(scheme="reds", domain=[0, 1]),
                legend=alt.Legend(format=".0%"),
            ),
            opacity=when(alt.OpacityValue, pick, 1.0, 0.35),
            tooltip=[
                alt.Tooltip("kpi:N", title="KPI"),
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("links:Q", title="Milestones linked"),
                alt.Tooltip("kpi_delta:Q", title="Planned KPI movement", format="+.4g"),
                alt.Tooltip("kpi_impact:Q", title="Lost by the target date", format="+.4g"),
                alt.Tooltip("unit:N", title="Unit"),
                alt.Tooltip("lost_share:Q", title="Share lost", format=".0%"),
                alt.Tooltip("value_at_risk:Q", title=f"Value at risk ({currency})", format=",.0f"),
            ],
        )
        .add_params(pick)
    )
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text("lost_share:Q", format=".0%"),
        color=when(alt.ColorValue, "datum.lost_share > 0.55", "white", "#263238"),
    )
    height = 190 + 28 * max(cells["kpi"].n_unique(), 1)
    return alt.layer(rects, labels).properties(
        height=height, title=alt.TitleParams("Share of each KPI's planned movement lost to slips", anchor="start")
    )


# --------------------------------------------------------------------------- KPI trajectory


def kpi_trajectory(trajectory: pl.DataFrame, kpi: dict[str, object], drivers: pl.DataFrame, as_of: date) -> Layered:
    """Actuals, the projected path and the baseline plan's path to the target, with the
    milestones that drive the KPI marked at their computed finish (coloured by status).

    ``trajectory`` and ``drivers`` come from :func:`kpi_engine.engine.views.kpi_trajectory` and
    :func:`kpi_engine.engine.views.kpi_drivers`.
    """
    unit = str(kpi.get("unit") or "")
    y_title = f"{kpi['name']}" + (f" ({unit})" if unit else "")
    series_scale = alt.Scale(domain=list(SERIES_COLOURS), range=list(SERIES_COLOURS.values()))
    dash_scale = alt.Scale(domain=list(SERIES_COLOURS), range=[[1, 0], [1, 0], [6, 4]])
    values = [v for v in trajectory["value"].to_list() if v is not None] + [float(kpi["target_value"])]  # type: ignore[arg-type]
    low, high = min(values), max(values)
    pad = (high - low) * 0.12 or abs(high) * 0.05 or 1.0
    y_scale = alt.Scale(domain=[low - pad, high + pad], nice=False, zero=False)
    lines = (
        alt.Chart(trajectory)
        .mark_line(strokeWidth=2.5, interpolate="linear")
        .encode(
            x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %Y", tickCount="month", labelOverlap=True)),
            y=alt.Y("value:Q", title=y_title, scale=y_scale),
            color=alt.Color("series:N", title=None, scale=series_scale, legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash("series:N", scale=dash_scale, legend=None),
            tooltip=[
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("date:T", title="Date", format="%Y-%m-%d"),
                alt.Tooltip("value:Q", title="Value", format=",.4g"),
            ],
        )
    )
    actual_points = (
        alt.Chart(trajectory.filter(pl.col("series") == "Actual"))
        .mark_point(filled=True, size=60, color=SERIES_COLOURS["Actual"])
        .encode(
            x=alt.X("date:T"),
            y=alt.Y("value:Q", scale=y_scale),
            tooltip=[
                alt.Tooltip("date:T", title="Actual on", format="%Y-%m-%d"),
                alt.Tooltip("value:Q", title="Value"),
            ],
        )
    )
    target = pl.DataFrame(
        {
            "date": [kpi["target_date"]],
            "value": [kpi["target_value"]],
            "label": [f"Target {fmt.kpi_number(kpi['target_value'])}"],
        }
    )
    target_rule = (
        alt.Chart(target)
        .mark_rule(color="#C62828", strokeDash=[2, 3], strokeWidth=1.5)
        .encode(y=alt.Y("value:Q", scale=y_scale))
    )
    target_point = (
        alt.Chart(target)
        .mark_point(shape="diamond", size=160, filled=True, color="#C62828")
        .encode(
            x=alt.X("date:T"),
            y=alt.Y("value:Q", scale=y_scale),
            tooltip=[
                alt.Tooltip("date:T", title="Target date", format="%Y-%m-%d"),
                alt.Tooltip("value:Q", title="Target"),
            ],
        )
    )
    target_text = (
        alt.Chart(target)
        .mark_text(align="right", dx=-10, dy=-10, color="#C62828", fontWeight="bold")
        .encode(x=alt.X("date:T"), y=alt.Y("value:Q", scale=y_scale), text=alt.Text("label:N"))
    )
    now = alt.Chart(pl.DataFrame({"date": [as_of], "label": [f"as of {fmt.day(as_of, year=False)}"]}))
    today = now.mark_rule(color="#546E7A", strokeDash=[4, 4]).encode(
        x=alt.X("date:T"), tooltip=[alt.Tooltip("date:T", title="As of", format="%Y-%m-%d")]
    )
    today_text = now.mark_text(align="left", baseline="top", dx=4, color="#546E7A", fontSize=11).encode(
        x=alt.X("date:T"), y=alt.YValue(4), text=alt.Text("label:N")
    )
    layers: list[alt.Chart] = [target_rule, today, today_text, lines, actual_points, target_point, target_text]
    if drivers.height:
        ticks = (
            alt.Chart(drivers)
            .mark_rule(strokeWidth=2, opacity=0.75)
            .encode(
                x=alt.X("computed_finish:T"),
                color=alt.Color(
                    "computed_status:N",
                    scale=rag_scale(),
                    title="Milestone status",
                    legend=alt.Legend(orient="top", values=_present(drivers, "computed_status")),
                ),
                tooltip=[
                    alt.Tooltip("milestone_id:N", title="Milestone"),
                    alt.Tooltip("milestone_name:N", title="Name"),
                    alt.Tooltip("baseline_finish:T", title="Baseline finish", format="%Y-%m-%d"),
                    alt.Tooltip("computed_finish:T", title="Computed finish", format="%Y-%m-%d"),
                    alt.Tooltip("slip_days:Q", title="Slip (days)"),
                    alt.Tooltip("kpi_delta:Q", title="KPI delta", format="+.4g"),
                    alt.Tooltip("computed_status:N", title="Status"),
                ],
            )
        )
        layers.insert(0, ticks)
    title = f"{kpi['name']}: actuals, projection from the computed finishes, baseline plan and target"
    return (
        alt.layer(*layers)
        .resolve_scale(color="independent")
        .properties(height=400, title=alt.TitleParams(title, anchor="start"))
    )


# --------------------------------------------------------------------------- pulse


def value_at_risk_by(frame: pl.DataFrame, group: str, currency: str) -> alt.Chart:
    """Horizontal bars of value at risk per group, in the frame's order (largest first), stacked by status.

    ``frame`` comes from :func:`kpi_engine.engine.views.value_at_risk_by`; its summed "other" group
    stays last. No legend.
    """
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("value_at_risk:Q", title=f"Value at risk ({currency})", axis=alt.Axis(format="~s")),
            y=alt.Y(
                f"{group}:N",
                title=None,
                sort=frame[group].unique(maintain_order=True).to_list(),
                axis=alt.Axis(labelLimit=240),
            ),
            # no legend: narrow columns clip it; the page names the colours with RAG badges
            color=alt.Color("computed_status:N", scale=rag_scale(), legend=None),
            tooltip=[
                alt.Tooltip(f"{group}:N", title=group.capitalize()),
                alt.Tooltip("computed_status:N", title="Status"),
                alt.Tooltip("milestones:Q", title="Milestones"),
                alt.Tooltip("value_at_risk:Q", title=f"Value at risk ({currency})", format=",.0f"),
            ],
        )
        .properties(height=70 + 40 * frame[group].n_unique())
    )


def best_net_frontier(frontier: pl.DataFrame, budget: float, currency: str) -> Layered:
    """Best total net value of workarounds against the budget (a step line), the current budget marked.

    ``frontier`` holds ``budget, total_net`` (:attr:`kpi_engine.whatif.optimize.Optimum.frontier`,
    thinned): the best net rises at each budget and stays flat until the next.
    """
    money = alt.Axis(format="~s")
    line = (
        alt.Chart(frontier)
        .mark_line(
            interpolate="step-after",
            strokeWidth=3,
            color=RAG_COLOURS["Green"],
            point=alt.OverlayMarkDef(color=RAG_COLOURS["Green"]),
        )
        .encode(
            x=alt.X("budget:Q", title=f"Budget ({currency})", axis=money),
            y=alt.Y("total_net:Q", title=f"Best net value ({currency})", axis=money),
            tooltip=[
                alt.Tooltip("budget:Q", title=f"Budget ({currency})", format=",.0f"),
                alt.Tooltip("total_net:Q", title=f"Best net value ({currency})", format=",.0f"),
            ],
        )
    )
    marker = pl.DataFrame({"budget": [budget], "label": [f"budget {budget:,.0f}"]})
    rule = alt.Chart(marker).mark_rule(color="black", strokeDash=[4, 3]).encode(x=alt.X("budget:Q"))
    label = (
        alt.Chart(marker)
        .mark_text(align="left", dx=5, dy=-6, fontSize=FONT, baseline="top")
        .encode(x=alt.X("budget:Q"), y=alt.YValue(0), text=alt.Text("label:N"))
    )
    return alt.layer(line, rule, label).properties(height=300)


def watermelon_weeks(weeks: pl.DataFrame, order: list[str], columns: int = 3) -> alt.FacetChart:
    """Small multiples: per person, how many of their reports were better than computed each week.

    ``weeks`` holds ``person, as_of, reports, watermelons``
    (:func:`kpi_engine.engine.credibility.watermelon_weeks`); ``order`` lists the people in
    the order of the ranked table.
    """
    frame = weeks.with_columns(pl.col("as_of").cast(pl.String))
    return (
        alt.Chart(frame)
        .mark_bar(color=RAG_COLOURS["Red"])
        .encode(
            x=alt.X("as_of:O", title=None, axis=alt.Axis(labelAngle=-45, labelFontSize=10)),
            y=alt.Y("watermelons:Q", title=None, axis=alt.Axis(tickMinStep=1)),
            tooltip=[
                alt.Tooltip("person:N", title="Owner"),
                alt.Tooltip("as_of:N", title="Snapshot"),
                alt.Tooltip("reports:Q", title="Reports"),
                alt.Tooltip("watermelons:Q", title="Better than computed"),
            ],
        )
        .properties(width=110, height=80)
        .facet(
            facet=alt.Facet("person:N", title=None, sort=order, header=alt.Header(labelFontSize=FONT)),
            columns=columns,
        )
    )
