"""Engine benchmark: the full computation of one snapshot against a same-run floor.

The floor is one Polars join of links to milestones and KPIs with a group-by over the same
data: the least any engine must do. Each size runs in a process of its own, so that its
peak resident memory (``resource.getrusage``) is its own: 100k milestones (500k tasks,
10k KPIs, 150k links, 100k dependencies) and a tenth of that, for the growth ratio.
Engine and floor take turns (one run of each per round) and medians are reported.

``full engine`` is :func:`~kpi_engine.engine.compute.compute` as every caller gets it:
figures, escalations and the ordered exception list, whose ``why`` sentences are written
when a page or file shows rows (``EngineResult.with_why``). ``engine + every sentence``
also writes all of them (``EngineResult.exceptions``), as the CLI's full list does.

Run with ``python -m bench.bench_engine [--scale 1.0] [--repeat 5]``.

Profile (py-spy and cProfile, share of ``compute`` at 100k milestones; the shared machine
was loaded, so shares are rough). py-spy is run with ``--idle`` so that the time the main
thread waits for Polars' worker threads counts; cProfile with ``time.process_time`` counts
the CPU time of every thread:

rounds 1-5 (sentences on demand, one packed sort, ids looked up by a join)
    py-spy (load ~1, 30 runs): prepare_schedule 33% (resolve 19%, graph levels 9%),
    build_exception_list 27% (its order and ranks ~30% of it: the descending rank of
    100k slips alone ~12 ms), governance findings 14% (owner checks ~20 ms a run: the
    owner rule three times and a frame pass on every table), pair escalation 5%,
    status 4%, KPI projection 3.5%, roll-up 3.4%, governance escalation 2.3%, link figures 2%.
    CPU per stage: exception list 92 ms, schedule 91 ms (resolve 57, graph 21 of which
    topological levels 17: a pass over every node at each of 22 levels), findings 49 ms.
round 6 (ids hashed into a numpy table of row positions and checked against the text,
levels that cost their frontier, one owner check for all tables, dangling ids looked for
among unresolved rows only, every sort key packed into one unique integer)
    in-process A/B medians of CPU time, same run: resolve 52 -> 33 ms and 44 -> 29 ms,
    topological levels 14 -> 7.6 ms, descending slip ranks 11.8 -> 0.9 ms, findings
    25 -> 15 ms; link figures in numpy 15.7 -> 12.6 ms. Tried and dropped: reported
    statuses by a hash look-up per row (13 ms against 10 ms for the replace), project
    context by position (29 ms against 7-10 ms for the join): a look-up of 100k ids
    into 10k costs as much as Polars' join, the hash table pays off only on the larger
    reference sets and runs of tasks.
    py-spy now (load ~20, 15 runs): prepare_schedule 38% (resolve 22%, graph levels 6%),
    build_exception_list 17% (gathering ~100k rows' 29 columns 6%, the order 3%),
    governance findings 12% (owner check 3%), pair escalation 8%, link figures 4%,
    status 4%, KPI projection 4%, roll-up 2.5%, governance escalation 1.3%.
    What is left is one Polars or numpy pass per column and stage over 100k-500k rows:
    about 30 columns gathered for the exception rows, ~600k references hashed and checked,
    and a dozen stages each with a few passes; none stands out any more.
round 7 (exception columns gathered at plain positions and nulled where a row has none,
instead of appending a row of nulls to every column and copying the frame into one chunk;
the pairs' owners and the roll-up's escalations gathered from one chunk)
    CPU per stage (process time, medians of 15 runs, load ~9): compute 252 ms; exception
    list 73 ms (gathering ~101k rows x 29 columns 32 ms, the order 22 ms of which the dense
    rank of the value at risk 6 ms and re-packing keys 6 ms), schedule 65 ms (resolve 36 ms:
    hashing 11 ms and checking the text 9 ms a reference column; graph 16 ms; the latest
    open-task forecast 5 ms), pair escalation 19 ms, KPI projection 16 ms, link figures
    15 ms, roll-up 15 ms, findings 15 ms, status 12 ms. The milestone columns of the
    exception rows took 12.6 ms gathered the old way and 3.8 ms the new way (same values);
    a gather from a frame of several chunks costs about twice one from a single chunk
    (owners 4.5 ms against 1.4 ms). Alternating with round 6's code, three runs each
    (load 13-16): CPU 4.7x / 4.6x / 4.6x the floor (201, 232, 248 ms) against 4.7x / 4.9x /
    5.2x (231, 267, 255 ms); peak RSS 366-373 MB against 363-372 MB.
round 7's code on a quiet machine (2026-12-07 16:40-16:45 UTC, load average 0.2-0.7)
    ``--repeat 7``: CPU 4.7x (120.8 / 25.7 ms, ``--child``) and 5.1x (118.4 / 23.3 ms); wall
    5.7x. CPU per stage (process time, medians of 15): compute 126 ms; exception list 35.5 ms
    (its order 6.7 ms, two ``np.unique`` sorts of ~101k keys 5 ms of it; gathering the columns
    about 12 ms), schedule 29.6 ms (resolving references 14.1 ms, the graph 8.1 ms, the latest
    open-task forecast 3 ms), statuses 27.5 ms (link figures 8.5, KPI projection 7.7, status
    7.2, the projects' columns about 4), findings 9.4 ms, pair escalation 9.1 ms, roll-up
    5.4 ms, governance escalation 2.8 ms, lonely milestones 1.7 ms. For scale: Polars' own
    join of the 500k tasks to the milestones with a group-by max takes 52.7 ms of CPU, about
    twice the floor, which leaves the tasks out; the engine gets the same by position in
    about 5 ms.
round 8 (2026-12-07 evening: the exception order by one plain sort of packed unique keys,
money ranked among the rows that put money at risk only, the keys re-ranked by a sort
of themselves when they would overflow; reported statuses coded once per distinct text;
KPI ramps in place; the governance escalation's empty columns made by Polars)
    line profiles (in-process): the order 9.5 -> 5.7 ms (``np.unique`` of ~101k amounts
    4.8 ms and of the packed keys 2.9 ms gone; ``np.sort`` of int64 keys is a vectorised
    sort, about 0.3 ms, against 1.1-2.8 ms for ``np.argsort``), computed status 7.1 ->
    5.9 ms, ramps 4.3 -> 3.6 ms, the empty project columns of the findings 1.2 -> 0.2 ms.
    ``--child --repeat 7``, alternating with the code before (5e708fb), three runs each
    (20:37 UTC, load average 1.5-1.7): CPU 111.0 / 24.7, 112.6 / 24.7, 113.1 / 25.4 ms =
    4.5x, 4.6x, 4.5x the floor, against 124.0 / 25.7, 119.9 / 25.1, 119.4 / 24.5 ms = 4.8x,
    4.8x, 4.9x; three more runs each right after: 105.3-108.4 ms (4.4-4.6x) against
    114.7-128.2 ms (4.7-5.4x). Peak RSS 389-400 MB against 372-402 MB (it varies by
    about 30 MB from run to run either way). The exception order was checked against the
    code before on 300 random key sets (overflowing and not, with NaN and -0.0): the same
    order every time. What is left is as in round 7: no stage above a quarter of the time;
    at 100 milestones the engine still takes about 20 ms, the fixed cost of ~130 Polars
    calls and their Python around them.
round 9 (2026-12-07 late evening: unlinked milestones and KPIs by position, the pairs'
"bad now" from their flags; docs/speed.md, "what the two open aims would take")
    timed alone: 0.65 -> 0.19 ms and 2.17 -> 1.36 ms; the whole engine shows no difference
    through the machine's noise (``--child --repeat 7`` five times each alternating: CPU
    medians 120.6 against 117.2 ms; the floor's CPU 25.5-42.7 ms between processes). The
    two sizes of one run fit about 20 ms of fixed CPU plus 0.98 us per milestone: the part
    that grows is 3.7x the floor at 100k by itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import polars as pl

from bench.common import cpu_medians, interleaved_medians, peak_rss_mb, print_table
from bench.portfolio_gen import generate_portfolio
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import compute


def floor(portfolio: Portfolio) -> pl.DataFrame:
    """One join of links to milestones and KPIs and a group-by: the baseline to compare with."""
    return (
        portfolio.links.join(portfolio.milestones, on="milestone_id")
        .join(portfolio.kpis, on="kpi_id")
        .group_by("kpi_id")
        .agg(pl.col("kpi_delta").sum(), pl.col("value_per_week").sum(), pl.len())
    )


def portfolio_at(scale: float) -> Portfolio:
    """The benchmark portfolio at ``scale`` x (100k milestones, 10k KPIs, 150k links, 100k dependencies)."""
    return generate_portfolio(
        milestones=int(100_000 * scale),
        tasks_per_milestone=5,
        kpis=int(10_000 * scale),
        links=int(150_000 * scale),
        dependencies=int(100_000 * scale),
        seed=1,
    )


def measure(scale: float, repeat: int) -> dict[str, float]:
    """Median seconds of the engine, the engine with every sentence, and the floor, plus peak RSS (MB)."""
    portfolio = portfolio_at(scale)
    medians = interleaved_medians(
        {
            "engine": (_nothing, lambda: compute(portfolio)),
            "sentences": (_nothing, lambda: compute(portfolio).exceptions),
            "floor": (_nothing, lambda: floor(portfolio)),
        },
        repeat=repeat,
    )
    cpu = cpu_medians({"engine": lambda: compute(portfolio), "floor": lambda: floor(portfolio)}, repeat)
    return {
        **medians,
        "engine_cpu": cpu["engine"],
        "floor_cpu": cpu["floor"],
        "milestones": float(portfolio.milestones.height),
        "peak_mb": peak_rss_mb(),
    }


def _nothing() -> None:
    """No set-up between runs."""


def _in_child(scale: float, repeat: int) -> dict[str, float]:
    """Run :func:`measure` in a fresh Python process (its own peak memory) and return its figures."""
    command = [sys.executable, "-m", "bench.bench_engine", "--child", "--scale", str(scale), "--repeat", str(repeat)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k milestones, 500k tasks, 10k KPIs")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help="measure one size and print its figures as JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.scale, args.repeat)))
        return
    large = _in_child(args.scale, args.repeat)
    small = _in_child(args.scale / 10, args.repeat)
    rows = []
    for figures in (large, small):
        n, base = int(figures["milestones"]), figures["floor"]
        rows += [
            (f"full engine, {n:,} milestones", figures["engine"], f"{figures['engine'] / base:.1f}x the floor"),
            ("  engine + every why sentence", figures["sentences"], f"{figures['sentences'] / base:.1f}x the floor"),
            ("  floor: join links+milestones+KPIs, group-by", base, f"same run; peak RSS {figures['peak_mb']:.0f} MB"),
            (
                "  CPU time: engine / floor",
                figures["engine_cpu"],
                f"{figures['engine_cpu'] / figures['floor_cpu']:.1f}x the floor's {figures['floor_cpu'] * 1000:.1f} ms",
            ),
        ]
    rows.append(
        (
            "growth 10x the data",
            large["engine"],
            f"{large['engine'] / small['engine']:.1f}x the time "
            f"(floor {large['floor'] / small['floor']:.1f}x; with every sentence "
            f"{large['sentences'] / small['sentences']:.1f}x; CPU time "
            f"{large['engine_cpu'] / small['engine_cpu']:.1f}x)",
        )
    )
    print_table(rows)


if __name__ == "__main__":
    main()
