"""divco's dashboard: `searcher ui --storage URL [--study NAME]` runs this with Streamlit.

It answers "what is the most accurate model within my budget, and does dividing help here?".
It only reads the storage, and re-reads it every few seconds while a search is running.
"""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd
import streamlit as st

from searcher.study.storage import redact
from ui import charts
from ui.data import (
    COST_AXES,
    HIDDEN_BY_DEFAULT,
    SERIES,
    front_numbers,
    load_records,
    study_names,
    to_frame,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study")
    parser.add_argument("--refresh-s", type=float, default=5.0)
    return parser.parse_args(sys.argv[1:])


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
    frame: pd.DataFrame, records: list, cost: str, cost_title: str, show_hidden: bool
) -> pd.DataFrame:
    shown = frame if show_hidden else frame[~frame["status"].isin(HIDDEN_BY_DEFAULT)]
    shown = shown.dropna(subset=["accuracy", cost])
    if shown.empty:
        st.info("No trial with an accuracy and this cost yet: the search is still starting.")
        return shown
    budget = budget_control(shown, cost, cost_title)
    front = frame[frame["trial"].isin(front_numbers(records, cost))].sort_values(cost)
    trained = frame[(frame["status"] == "trained") & frame[cost].notna()]
    within = trained if budget is None else trained[trained[cost] <= budget]
    best = within.sort_values(["accuracy", cost], ascending=[False, True]).head(1)
    columns = st.columns(4)
    columns[0].metric("trials shown", len(shown))
    columns[1].metric("trained", int((frame["status"] == "trained").sum()))
    columns[2].metric("Pareto-optimal", len(front))
    columns[3].metric(
        "best within budget", f"{best['accuracy'].iloc[0]:.4f}" if not best.empty else "none"
    )
    st.altair_chart(
        charts.frontier_chart(shown, front, cost, cost_title, budget, best),
        use_container_width=True,
    )
    if not best.empty:
        b = best.iloc[0]
        st.success(
            f"Most accurate within budget: trial {b['trial']}, {b['label']}: accuracy {b['accuracy']:.4f} at {b[cost]:.4g} ({cost_title})"
        )
    st.markdown(f"**Pareto front: {len(front)} of {len(frame)} trials**")
    columns = ["trial", "label", "accuracy", cost, "S", "width", "family", "image_size", "members"]
    table = front[columns].copy()
    table[cost] = table[cost].map(
        lambda v: f"{v:.4g}"
    )  # costs span decades: keep significant digits
    table["accuracy"] = table["accuracy"].map(lambda v: f"{v:.4f}")
    st.table(table.rename(columns={cost: cost_title}).set_index("trial"))
    return best


def divide_tab(frame: pd.DataFrame) -> None:
    trained = frame[(frame["status"] == "trained") & (frame["series"] != SERIES[3])].copy()
    if trained.empty:
        st.info("No trained trials yet.")
        return
    trained["base"] = trained.apply(
        lambda r: f"{r['family']} d{r['depth']} w{r['width']} g{r['groups']} @{r['image_size']}px",
        axis=1,
    )
    bases = trained.groupby("base")["S"].nunique()
    compared = trained[trained["base"].isin(bases[bases > 1].index)]
    if compared.empty:
        st.info("No undivided network has been trained at more than one S yet. New studies train "
                "the space's `references` at every S first; wait for those trials.")  # fmt: skip
        return
    st.caption(
        "Each line is one undivided network split into S members (width ÷ √S): does dividing pay on your data?"
    )
    left, right = st.columns(2)
    left.altair_chart(
        charts.divide_chart(compared, "accuracy", "ensemble accuracy"), use_container_width=True
    )
    right.altair_chart(charts.divide_chart(compared, "gflops", "GFLOPs"), use_container_width=True)
    table = compared.sort_values(["base", "S"])[
        ["base", "S", "trial", "accuracy", "members", "gflops", "latency_concurrent_b1"]
    ]
    st.table(table.set_index(["base", "S"]))


def series_tab(storage: str, names: list[str], current: str, cost: str, cost_title: str) -> None:
    chosen = st.multiselect(
        "Studies to compare", names, default=names if len(names) <= 6 else [current]
    )
    frames, fronts = [], []
    for name in chosen:
        records = load_records(storage, name)
        frame = to_frame(records, name)
        frames.append(frame[(frame["status"] == "trained") & frame[cost].notna()])
    combined = pd.concat(frames) if frames else pd.DataFrame()
    if combined.empty:
        st.info("No trained trials in the chosen studies.")
        return
    for _, group in combined.groupby("series"):
        ordered = group.sort_values([cost, "accuracy"], ascending=[True, False])
        fronts.append(
            ordered[ordered["accuracy"] > ordered["accuracy"].cummax().shift(fill_value=-1)]
        )
    st.altair_chart(
        charts.series_chart(combined, pd.concat(fronts), cost, cost_title), use_container_width=True
    )
    summary = combined.groupby("series").agg(
        trials=("trial", "size"), best_accuracy=("accuracy", "max")
    )
    st.table(summary)
    for series in SERIES:
        if series not in summary.index:
            st.info(f"No '{series}' trials yet: `searcher compare --budget-gflops X` runs all four series "
                    "on the same data and budget.")  # fmt: skip


def detail_tab(
    frame: pd.DataFrame, records: list, storage: str, study: str, best: pd.DataFrame
) -> None:
    trained = frame[frame["status"] == "trained"].sort_values("accuracy", ascending=False)
    if trained.empty:
        st.info("No trained trials yet.")
        return
    options = trained["trial"].tolist()
    default = options.index(int(best["trial"].iloc[0])) if not best.empty else 0
    number = st.selectbox("Trial", options, index=default,
                          format_func=lambda n: f"#{n} {trained.set_index('trial').loc[n, 'label']}")  # fmt: skip
    record = next(r for r in records if r.number == number)
    row = trained.set_index("trial").loc[number]
    left, right = st.columns(2)
    left.markdown("**Candidate**")
    left.code(row["candidate_yaml"], language="yaml")
    right.markdown("**Learning curve**")
    right.altair_chart(charts.curve_chart(record.attrs.get("curve", [])), use_container_width=True)
    right.markdown("**Members and ensemble**")
    right.altair_chart(
        charts.members_chart(record.attrs.get("member_accuracies", []), record.accuracy),
        use_container_width=True,
    )
    latency = record.attrs.get("latency") or {"rows": [], "device": "?"}
    st.markdown(
        f"**Latency on {latency['device']}** (sequential vs concurrent members vs the undivided network)"
    )
    st.table(pd.DataFrame(latency["rows"]))
    st.markdown("**Export it**")
    st.code(
        f"searcher export --storage '{redact(storage)}' --study '{study}' --trial {number} --out export-{number}",
        language="bash",
    )


def dashboard(
    storage: str, study: str, names: list[str], cost_title: str, show_hidden: bool
) -> None:
    cost = COST_AXES[cost_title]
    records = load_records(storage, study)
    frame = to_frame(records, study)
    st.caption(f"study **{study}** · {len(records)} trials · storage `{redact(storage)}`")
    if frame.empty:
        st.info("This study has no trials yet. Start one with `searcher run --budget-gflops 20`.")
        return
    tabs = st.tabs(["Frontier", "Divide or widen", "Homogeneous vs heterogeneous", "Trial detail"])
    with tabs[0]:
        best = frontier_tab(frame, records, cost, cost_title, show_hidden)
    with tabs[1]:
        divide_tab(frame)
    with tabs[2]:
        series_tab(storage, names, study, cost, cost_title)
    with tabs[3]:
        detail_tab(frame, records, storage, study, best)


def main() -> None:
    args = parse_args()
    st.set_page_config(page_title="divco", layout="wide")
    st.title("divco · divide or widen?")
    try:
        names = study_names(args.storage)
    except Exception as exc:  # unreachable or not an Optuna storage: say so, no traceback
        st.error(f"Cannot read storage {redact(args.storage)}: {' '.join(str(exc).split())[:300]}")
        st.stop()
    if not names:
        st.warning(
            "The storage holds no study yet. Start one with `searcher run --budget-gflops 20`."
        )
        st.stop()
    with st.sidebar:
        study = st.selectbox(
            "Study", names, index=names.index(args.study) if args.study in names else 0
        )
        cost_title = st.selectbox("Cost axis", list(COST_AXES))
        show_hidden = st.toggle("Show infeasible, failed and other untrained trials", value=False)
        live = st.toggle(
            "Live refresh", value=True, help=f"re-read the storage every {args.refresh_s:g} s"
        )
    render = st.fragment(run_every=args.refresh_s if live else None)(dashboard)
    render(args.storage, study, names, cost_title, show_hidden)


main()
