"""Altair charts of the dashboard: frontier, divide-or-widen, series comparison, trial detail."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ui.data import SERIES

TOOLTIP = ["trial", "label", "status", "series", "family", "depth", "width", "groups", "S",
           "image_size", "accuracy", "members", "test_accuracy", "gflops", "params_m",
           "latency_concurrent_b1", "latency_sequential_b1", "latency_undivided_b1", "device"]  # fmt: skip
SERIES_COLOURS = [
    "#7f7f7f",
    "#d62728",
    "#1f77b4",
    "#2ca02c",
]  # single, co-trained, independent, hetero
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down"]


def _cost_scale(frame: pd.DataFrame, cost: str) -> alt.Scale:
    values = frame[cost].dropna()
    positive = not values.empty and (values > 0).all()
    return (
        alt.Scale(type="log")
        if positive and values.max() / values.min() > 20
        else alt.Scale(zero=False)
    )


def frontier_chart(frame: pd.DataFrame, front: pd.DataFrame, cost: str, cost_title: str,
                   budget: float | None, best: pd.DataFrame) -> alt.Chart:  # fmt: skip
    """Every trial a point (colour = S, shape = family), the Pareto front a line, the region over
    the budget shaded and the best candidate within it ringed."""
    x = alt.X(f"{cost}:Q", title=cost_title, scale=_cost_scale(frame, cost))
    y = alt.Y("accuracy:Q", title="ensemble accuracy (validation)", scale=alt.Scale(zero=False))
    points = alt.Chart(frame).mark_point(filled=True, size=90, opacity=0.85).encode(
        x=x, y=y,
        color=alt.Color("S:O", title="S (networks)", scale=alt.Scale(scheme="viridis")),
        shape=alt.Shape("family:N", scale=alt.Scale(range=SHAPES)),
        tooltip=[c for c in TOOLTIP if c in frame.columns],
    )  # fmt: skip
    line = (
        alt.Chart(front)
        .mark_line(color="#d62728", strokeWidth=2, interpolate="step-after")
        .encode(x=x, y=y)
    )
    layers = [points, line]
    if budget is not None:
        upper = float(frame[cost].max()) * 1.5
        shade = pd.DataFrame({"start": [budget], "end": [upper]})
        layers.insert(
            0,
            alt.Chart(shade).mark_rect(color="#888", opacity=0.15).encode(x="start:Q", x2="end:Q"),
        )
    if not best.empty:
        ring = (
            alt.Chart(best)
            .mark_point(shape="circle", size=450, color="#d62728", strokeWidth=3)
            .encode(x=x, y=y)
        )
        layers.append(ring)
    return alt.layer(*layers).properties(height=440).interactive()


def divide_chart(frame: pd.DataFrame, value: str, title: str) -> alt.Chart:
    """One line per undivided base network: how `value` changes with S."""
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=80, filled=True))
        .encode(
            x=alt.X("S:O", title="S (networks)"),
            y=alt.Y(f"{value}:Q", title=title, scale=alt.Scale(zero=False)),
            color=alt.Color("base:N", title="undivided network"),
            tooltip=["base", "S", "label", "accuracy", "members", "gflops"],
        )
        .properties(height=320)
    )


def series_chart(
    frame: pd.DataFrame, fronts: pd.DataFrame, cost: str, cost_title: str
) -> alt.Chart:
    x = alt.X(f"{cost}:Q", title=cost_title, scale=_cost_scale(frame, cost))
    y = alt.Y("accuracy:Q", title="ensemble accuracy (validation)", scale=alt.Scale(zero=False))
    color = alt.Color(
        "series:N", title="series", scale=alt.Scale(domain=list(SERIES), range=SERIES_COLOURS)
    )
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=70, opacity=0.5)
        .encode(x=x, y=y, color=color, tooltip=[c for c in TOOLTIP if c in frame.columns])
    )
    lines = (
        alt.Chart(fronts)
        .mark_line(strokeWidth=2.5, interpolate="step-after")
        .encode(x=x, y=y, color=color)
    )
    return alt.layer(points, lines).properties(height=440).interactive()


def curve_chart(curve: list[float]) -> alt.Chart:
    data = pd.DataFrame({"epoch": range(1, len(curve) + 1), "validation accuracy": curve})
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(x="epoch:O", y=alt.Y("validation accuracy:Q", scale=alt.Scale(zero=False)))
        .properties(height=240)
    )


def members_chart(members: list[float], ensemble: float) -> alt.Chart:
    names = [f"member {i}" for i in range(len(members))] + ["ensemble"]
    data = pd.DataFrame({"network": names, "accuracy": [*members, ensemble]})
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("network:N", sort=None), y=alt.Y("accuracy:Q", scale=alt.Scale(zero=False)),
        color=alt.condition(alt.datum.network == "ensemble", alt.value("#d62728"), alt.value("#4c78a8")),
    ).properties(height=240)  # fmt: skip
