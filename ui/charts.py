"""Altair charts of the dashboard: frontier, divide-or-widen, series comparison, trial detail."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ui.data import SERIES

Y_TITLE = "ensemble accuracy (validation)"
TOOLTIP = ["trial", "label", "status", "series", "family", "depth", "width", "groups", "S",
           "image_size", "accuracy", "mean_accuracy", "seeds", "members", "test_accuracy", "gflops", "params_m",
           "latency_ms", "latency_how", "latency_concurrent_b1", "latency_sequential_b1",
           "latency_undivided_b1",
           "latency_unstable", "device",
           "represents"]  # fmt: skip
SERIES_COLOURS = [
    "#7f7f7f",
    "#d62728",
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
]  # single, co-trained, independent, hetero, wide then narrow
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down"]


def log_cost(frame: pd.DataFrame, cost: str) -> bool:
    """A log cost axis where costs are positive and span more than a factor of 20."""
    values = frame[cost].dropna()
    return not values.empty and bool((values > 0).all()) and values.max() / values.min() > 20


def _cost_scale(frame: pd.DataFrame, cost: str) -> alt.Scale:
    return alt.Scale(type="log") if log_cost(frame, cost) else alt.Scale(zero=False)


def frontier_chart(frame: pd.DataFrame, front: pd.DataFrame, cost: str, cost_title: str,
                   budget: float | None, best: pd.DataFrame, note: str = "") -> alt.Chart:  # fmt: skip
    """Every trial a point at its mean over seeds (colour = S, shape = family), the Pareto front
    on those means a line, error bars where `frame` has a standard error (`se`), the region over
    the budget shaded and the best candidate within it ringed. `note` (on the chart) says when
    the points were thinned (ui.thinning)."""
    x = alt.X(f"{cost}:Q", title=cost_title, scale=_cost_scale(frame, cost))
    # padding: the ring round the best trial stays whole at the top of the chart
    y_scale = alt.Scale(zero=False, padding=14)
    field = "mean_accuracy" if "mean_accuracy" in frame.columns else "accuracy"
    y = alt.Y(f"{field}:Q", title=Y_TITLE + (", mean over seeds" if field != "accuracy" else ""),
              scale=y_scale)  # fmt: skip
    full = frame
    frame, front, best = _only(frame, cost, *TOOLTIP), _only(front, cost), _only(best, cost)
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
    layers = [points, line, *_seed_error_bars(full, cost, x)]
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
    chart = alt.layer(*layers).properties(height=440)
    if note:
        chart = chart.properties(
            title=alt.TitleParams(
                note.splitlines(), anchor="start", fontSize=12, fontWeight="normal"
            )
        )
    return chart.interactive()


def _seed_error_bars(frame: pd.DataFrame, cost: str, x: alt.X) -> list[alt.Chart]:
    """A bar and a tick at the mean: mean ± its standard error where the frame has one (`se`:
    the front and the confirmed trials), else mean ± std over the confirmed seeds."""
    if "se" in frame.columns and frame["se"].notna().any():
        rows = frame[frame["se"].notna()]
        mean, half, what = rows["mean_accuracy"], rows["se"], "standard error"
    elif "confirm_mean" in frame.columns and frame["confirm_mean"].notna().any():
        rows = frame[frame["confirm_mean"].notna()]
        mean, half, what = rows["confirm_mean"], rows["confirm_std"], "seeds std"
    else:
        return []
    bars = pd.DataFrame({
        "trial": rows["trial"], cost: rows[cost], "seeds mean": mean, what: half,
        "low": mean - half, "high": mean + half, "seeds": rows.get("seeds", rows.get("confirm_seeds")),
        "tie with": rows.get("tie with", ""),
    })  # fmt: skip
    tip = ["trial", "seeds mean", what, "seeds", "tie with"]
    low, mean = alt.Y("low:Q", title=Y_TITLE), alt.Y("seeds mean:Q", title=Y_TITLE)
    rule = alt.Chart(bars).mark_rule(color="#333", strokeWidth=2)
    tick = alt.Chart(bars).mark_tick(color="#333", thickness=2, size=12)
    return [
        rule.encode(x=x, y=low, y2="high:Q", tooltip=tip),
        tick.encode(x=x, y=mean, tooltip=tip),
    ]


def _only(frame: pd.DataFrame, cost: str, *columns: str) -> pd.DataFrame:
    """The columns a layer draws or shows: every other column would travel to the browser too."""
    wanted = dict.fromkeys(["trial", cost, "accuracy", "mean_accuracy", "S", "family", *columns])
    return frame[[c for c in wanted if c in frame.columns]]


def divide_chart(frame: pd.DataFrame, value: str, title: str) -> alt.Chart:
    """One line per undivided base network: how `value` changes with S."""
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=80, filled=True))
        .encode(
            x=alt.X("S:O", title="S (networks)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{value}:Q", title=title, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "base:N",
                title="undivided network",
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=0, titleLimit=0),
            ),
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
    """Bars from just below the weakest member, each labelled with its accuracy: the one-point
    gaps between members and the ensemble are what matter, and a bar from 0 would hide them."""
    names = [f"member {i}" for i in range(len(members))] + ["ensemble"]
    values = [*members, ensemble]
    data = pd.DataFrame({"network": names, "accuracy": values})
    low, high = members_axis(values)
    y = alt.Y("accuracy:Q", title="validation accuracy", scale=alt.Scale(domain=[low, high]))
    x = alt.X("network:N", sort=None, title=None, axis=alt.Axis(labelAngle=0))
    base = alt.Chart(data).encode(x=x, y=y)
    bars = base.mark_bar(clip=True).encode(
        y2=alt.datum(low),
        color=alt.condition(alt.datum.network == "ensemble", alt.value("#d62728"), alt.value("#4c78a8")),
    )  # fmt: skip
    labels = base.mark_text(dy=-7, fontSize=12).encode(text=alt.Text("accuracy:Q", format=".4f"))
    return alt.layer(bars, labels).properties(height=240)


def members_axis(values: list[float]) -> tuple[float, float]:
    """The accuracy axis: a margin of a third of the spread (at least half a point) around the
    values, never below 0 or above 1."""
    low, high = min(values), max(values)
    margin = max((high - low) / 3, 0.005)
    return max(0.0, low - margin), min(1.0, high + margin)
