"""The dashboard's four tabs. Each draws from the reader's table; none reads the storage itself."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from searcher.study.frontier import spread_words
from searcher.study.storage import redact
from searcher.study.tables import divide_rows
from ui import charts
from ui.data import (
    HIDDEN_BY_DEFAULT,
    SERIES,
    base_label,
    candidate_yaml,
    running_table,
    with_errors,
)
from ui.reader import StudyReader
from ui.thinning import MAX_POINTS, thin

PAGE_ROWS = 25
MAX_BASES = 10  # lines on the divide-or-widen charts: a legend stays readable
SELECTED = "selected-trial"  # session key: the trial the detail tab shows (kept on the chart)


def draw(where: Any, reader: StudyReader, key: Hashable, build: Callable[[], alt.Chart]) -> None:
    """A chart whose Vega-Lite spec is built once per reader revision and key: Altair's
    validation costs tenths of a second a chart, which an idle rerun should not pay."""
    spec = reader.memo(("chart", key), lambda: build().to_dict(validate=False))
    where.vega_lite_chart(spec=spec, width="stretch")


def paged(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """One page of a long table: the browser gets PAGE_ROWS rows, not the whole study."""
    pages = max(1, math.ceil(len(table) / PAGE_ROWS))
    if pages == 1:
        return table
    page = st.number_input(
        f"Page (of {pages}, {PAGE_ROWS} rows each, {len(table):,} rows)", 1, pages, 1, key=key
    )
    return table.iloc[(page - 1) * PAGE_ROWS : page * PAGE_ROWS]


def readable(table: pd.DataFrame, costs: list[str]) -> pd.DataFrame:
    """Costs with significant digits (they span decades), accuracies with four decimals and
    counts as integers (a column with a missing value is float otherwise: `w4.0000`)."""
    table = table.copy()
    for column in costs:
        table[column] = table[column].map(lambda v: "-" if pd.isna(v) else f"{v:.4g}")
    table["accuracy"] = table["accuracy"].map(lambda v: v if isinstance(v, str) else f"{v:.4f}")
    for column in {"S", "width", "image_size", "trial", "seeds"} & set(table.columns):
        table[column] = table[column].astype("Int64")
    return table


def budget_grid(values: pd.Series) -> list[float]:
    """Ten steps per decade from the cheapest to the dearest trial: stable while trials arrive."""
    low, high = math.floor(math.log10(values.min())), math.ceil(math.log10(values.max()))
    return [round(10 ** (low + i / 10), 12) for i in range((high - low) * 10 + 1)]


def budget_control(frame: pd.DataFrame, cost: str, cost_title: str) -> float | None:
    values = frame[cost].dropna()
    values = values[values > 0]
    if values.empty:
        return None
    grid = budget_grid(values)
    key = f"budget-{cost}"
    if key in st.session_state and st.session_state[key] not in grid:
        del st.session_state[key]
    chosen = st.select_slider(f"Budget on {cost_title}", options=grid, value=grid[-1], key=key,
                              format_func=lambda v: f"{v:.3g}")  # fmt: skip
    return None if chosen >= grid[-1] else chosen


def frontier_tab(
    reader: StudyReader, cost: str, cost_title: str, show_hidden: bool
) -> pd.DataFrame:
    frame = reader.frame()
    running = running_table(frame, time.time())
    if not running.empty:  # a long search: how far each trial is and when it ends
        st.markdown(f"**Running: {len(running)} trials**")
        st.table(running.set_index("trial"))
    shown = frame if show_hidden else frame[~frame["status"].isin(HIDDEN_BY_DEFAULT)]
    shown = shown.dropna(subset=["accuracy", cost])
    if shown.empty:
        st.info("No trial with an accuracy and this cost yet: the search is still starting.")
        return shown
    budget = budget_control(shown, cost, cost_title)
    view = reader.view(cost)  # the front on seed means, the seed spread and the ties
    confirmed = set(frame.loc[frame["seeds"].fillna(1) > 1, "trial"])
    errors = with_errors(frame, view, {r.number for r in view.front} | confirmed)
    shown = shown.merge(errors[["trial", "se", "tie with"]], on="trial", how="left")
    front = errors[errors["trial"].isin(reader.front(cost))].sort_values(cost)
    trained = frame[(frame["status"] == "trained") & frame[cost].notna()]
    within = trained if budget is None else trained[trained[cost] <= budget]
    best = within.sort_values(["mean_accuracy", cost], ascending=[False, True]).head(1)
    columns = st.columns(4)
    columns[0].metric("trials shown", len(shown))
    columns[1].metric("trained", int((frame["status"] == "trained").sum()))
    columns[2].metric("Pareto-optimal", len(front))
    columns[3].metric(
        "best within budget (mean over seeds)",
        f"{best['mean_accuracy'].iloc[0]:.4f}" if not best.empty else "none",
    )
    keep = {*front["trial"], *best["trial"]}
    selected = st.session_state.get(SELECTED)
    extra = selected if selected not in keep else None  # the chart changes only if it adds one

    def chart() -> alt.Chart:
        drawn = thin(shown, cost, {*keep, extra}, log_cost=charts.log_cost(shown, cost))
        return charts.frontier_chart(drawn.frame, front, cost, cost_title, budget, best, drawn.note)

    draw(st, reader, ("frontier", cost, budget, show_hidden, extra), chart)
    if not best.empty:
        b = best.iloc[0]
        tied = [int(t) for t in view.ties.get(int(b["trial"]), ()) if t in set(within["trial"])]
        tie = f"; a tie with trial(s) {', '.join(map(str, tied))}: the seeds do not tell them apart" if tied else ""  # fmt: skip
        st.success(
            f"Most accurate within budget: trial {b['trial']}, {b['label']}: mean accuracy {b['mean_accuracy']:.4f} over {int(b['seeds'])} seed(s) at {b[cost]:.4g} ({cost_title}){tie}"
        )
    st.markdown(
        f"**Pareto front: {len(front)} of {len(frame)} trials**, on seed means (accuracy: mean ± "
        f"its standard error, {spread_words(view.spread)}; `tie with`: not told apart by the seeds)"
    )
    front = front.assign(accuracy=[f"{m:.4f} ± {e:.4f}" for m, e in zip(front["mean_accuracy"], front["se"], strict=True)])  # fmt: skip
    columns = ["trial", "label", "accuracy", "seeds", "tie with", cost, "S", "width", "family",
               "image_size", "members"]  # fmt: skip
    table = readable(paged(front[columns], key="front-page"), costs=[cost])
    st.table(table.rename(columns={cost: cost_title}).set_index("trial"))
    return best


def divide_tab(reader: StudyReader) -> None:
    frame = reader.frame()
    trained = frame[(frame["status"] == "trained") & (frame["series"] != SERIES[3])]
    if trained.empty:
        st.info("No trained trials yet.")
        return
    compared = reader.memo("divided bases", lambda: divided_bases(trained))
    if compared.empty:
        st.info("No undivided network has been trained at more than one S yet. New studies train "
                "the space's `references` at every S first; wait for those trials.")  # fmt: skip
        return
    st.caption(
        "Each line is one undivided network split into S members (width ÷ √S): does dividing pay on your data?"
    )
    drawn = compared[compared["base"].isin(compared["base"].unique()[:MAX_BASES])]
    if len(drawn) < len(compared):
        st.caption(f"The {MAX_BASES} most accurate of {compared['base'].nunique()} undivided "
                   "networks are drawn; the table lists them all.")  # fmt: skip
    left, right = st.columns(2)
    for where, value, title in (
        (left, "accuracy", "ensemble accuracy"),
        (right, "gflops", "GFLOPs"),
    ):
        draw(
            where,
            reader,
            ("divide", value),
            lambda v=value, t=title: charts.divide_chart(drawn, v, t),
        )
    costs = ["gflops", "latency_ms", "latency_concurrent_b1"]
    table = compared[["base", "S", "trial", "accuracy", "members", *costs, "latency_how"]]
    st.table(readable(paged(table, key="divide-page"), costs).set_index(["base", "S"]))
    seed_note(reader)


def seed_note(reader: StudyReader) -> None:
    """Whether each divided network differs from its S = 1 network by more than the seed
    spread: a two-sided paired t-test over the seeds `searcher confirm` trained both with."""
    rows = reader.memo("divide vs seeds", lambda: divide_rows(reader.records))
    if not rows:
        st.caption("Is a difference larger than the seed spread? Confirm the S = 1 and divided "
                   "trials with `searcher confirm --trials N,M --seeds K` (K >= 2) to see.")  # fmt: skip
        return
    st.caption("Against the S = 1 network, seed by seed (difference in points, mean ± std over "
               "the shared seeds; two-sided paired t-test, beyond the seed spread at p < 0.05):")  # fmt: skip
    st.table(pd.DataFrame(rows).set_index("trial"))


def divided_bases(trained: pd.DataFrame) -> pd.DataFrame:
    """Undivided networks trained at more than one S, named in `Candidate.label` style; the most
    accurate trial per (network, S), networks ordered by their best accuracy."""
    trained = trained.assign(base=trained["label"].map(base_label))
    best = trained.sort_values("accuracy", ascending=False).drop_duplicates(["base", "S"])
    counts = best.groupby("base")["S"].nunique()
    compared = best[best["base"].isin(counts[counts > 1].index)]
    order = compared.groupby("base")["accuracy"].max().sort_values(ascending=False).index
    rank = {base: i for i, base in enumerate(order)}
    return compared.sort_values(["base", "S"], key=lambda c: c.map(rank) if c.name == "base" else c)


def series_tab(
    read: Callable[[str], StudyReader], names: list[str], current: str, cost: str, cost_title: str
) -> None:
    chosen = st.multiselect(
        "Studies to compare", names, default=names if len(names) <= 6 else [current]
    )
    readers = [read(name) for name in chosen]
    revisions = tuple(r.refresh() for r in readers)
    frames = [f for f in (r.frame() for r in readers) if not f.empty]
    trained = [f[(f["status"] == "trained") & f[cost].notna()] for f in frames]
    combined = pd.concat(trained) if trained else pd.DataFrame()
    if combined.empty:
        st.info("No trained trials in the chosen studies.")
        return
    if len(combined) > MAX_POINTS:
        st.caption(f"{len(combined):,} trained trials: the fronts and a sample of {MAX_POINTS:,} drawn")  # fmt: skip
    key = ("series", tuple(chosen), revisions, cost)
    draw(st, read(current), key, lambda: series_chart(combined, cost, cost_title))
    summary = combined.groupby("series").agg(
        trials=("trial", "size"), best_accuracy=("accuracy", "max")
    )
    st.table(summary)
    for series in SERIES:
        if series not in summary.index:
            st.info(f"No '{series}' trials yet: `searcher compare --budget-gflops X` runs all the series "
                    "on the same data and budget.")  # fmt: skip


def series_chart(combined: pd.DataFrame, cost: str, cost_title: str) -> alt.Chart:
    """Each series' front as a line over its points; beyond MAX_POINTS the fronts and a sample."""
    fronts = []
    for _, group in combined.groupby("series"):
        ordered = group.sort_values([cost, "accuracy"], ascending=[True, False])
        fronts.append(
            ordered[ordered["accuracy"] > ordered["accuracy"].cummax().shift(fill_value=-1)]
        )
    fronts_frame = pd.concat(fronts)
    drawn = combined
    if len(combined) > MAX_POINTS:  # the browser draws thousands of points well, not tens
        sample = combined.sample(n=MAX_POINTS, random_state=0)
        drawn = pd.concat([fronts_frame, sample]).drop_duplicates(["study", "trial"])
    return charts.series_chart(drawn, fronts_frame, cost, cost_title)


def detail_tab(reader: StudyReader, storage: str, best: pd.DataFrame, cost: str) -> None:
    frame = reader.frame()
    trained = frame[frame["status"] == "trained"].sort_values("accuracy", ascending=False)
    if trained.empty:
        st.info("No trained trials yet.")
        return
    st.markdown(f"**Trained trials, most accurate first ({len(trained):,})**")
    page = paged(trained[["trial", "label", "accuracy", cost, "S", "family", "image_size"]],
                 key="trials-page")  # fmt: skip
    st.dataframe(page, hide_index=True, width="stretch")
    labels = dict(zip(trained["trial"], trained["label"], strict=True))
    default = int(best["trial"].iloc[0]) if not best.empty else int(trained["trial"].iloc[0])
    current = st.session_state.get(SELECTED, default)
    current = current if current in labels else default
    options = list(dict.fromkeys([current, default, *page["trial"]]))  # this page's trials
    number = st.selectbox("Trial (this page's, the best and the one shown)", options,
                          index=options.index(current), format_func=lambda n: f"#{n} {labels[n]}")  # fmt: skip
    st.session_state[SELECTED] = number
    trial_detail(reader, storage, number)


def trial_detail(reader: StudyReader, storage: str, number: int) -> None:
    record = next(r for r in reader.records if r.number == number)
    left, right = st.columns(2)
    left.markdown("**Candidate**")
    left.code(candidate_yaml(record), language="yaml")
    right.markdown("**Learning curve**")
    draw(
        right, reader, ("curve", number), lambda: charts.curve_chart(record.attrs.get("curve", []))
    )
    right.markdown("**Members and ensemble**")
    members = record.attrs.get("member_accuracies", [])
    draw(right, reader, ("members", number), lambda: charts.members_chart(members, record.accuracy))
    imitation_table(right, record.attrs)
    latency = record.attrs.get("latency") or {"rows": [], "device": "?"}
    runtime = latency.get("runtime", "pytorch")  # tables stored before runtimes were recorded
    st.markdown(
        f"**Latency on {latency['device']}, in {runtime}** (sequential vs concurrent members vs "
        "the undivided network)"
    )
    st.table(pd.DataFrame(latency["rows"]))
    st.markdown("**Export it**")
    st.code(
        f"searcher export --storage '{redact(storage)}' --study '{reader.name}' --trial {number} --out export-{number}",
        language="bash",
    )


def imitation_table(where: Any, values: dict[str, Any]) -> None:
    """Go Wide, Then Narrow trials: the relative imitation loss of each stage and the teacher."""
    losses = values.get("imitation_losses")
    if not losses:
        return
    teacher = values.get("teacher") or {}
    how = "trained by this trial" if values.get("teacher_trained") else "reused"
    where.markdown(
        f"**Imitation of {teacher.get('label', 'the wide teacher')}** ({how}, "
        f"{values.get('teacher_seconds') or 0:.1f} s of teacher training, not in train time)"
    )
    where.table(pd.DataFrame({"stage": range(1, len(losses) + 1), "imitation loss": losses}))
