"""Fewer points for the frontier chart of a large study, keeping every point that matters.

A browser draws a few thousand points well; a study of tens of thousands would ship megabytes
of JSON on every render. Beyond `MAX_POINTS` the chart keeps every Pareto point, every
reference network and the selected trial, and stands one point (the most accurate) for each
cell of a grid over the others, so the cloud's shape and its upper edge stay where they were.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_POINTS = 2500
GRID = (60, 40)  # cells along cost (log where the chart is) and accuracy


@dataclass(frozen=True)
class Thinned:
    frame: pd.DataFrame  # what the chart draws; a `represents` column once thinned
    note: str  # says what was thinned (two lines), or "" when every trial is drawn


def thin(
    frame: pd.DataFrame,
    cost: str,
    keep: Collection[int],
    log_cost: bool,
    limit: int = MAX_POINTS,
) -> Thinned:
    """`frame` as is when it has at most `limit` rows; else the kept trials, the references
    and one point per grid cell of the rest."""
    if len(frame) <= limit:
        return Thinned(frame, "")
    kept = frame["trial"].isin(keep) | frame["reference"].fillna(False).astype(bool)
    rest = frame[~kept]
    x = np.log10(rest[cost].clip(lower=1e-12)) if log_cost else rest[cost]
    cells = _bins(x, GRID[0]) * GRID[1] + _bins(rest["accuracy"], GRID[1])
    counts = cells.value_counts()
    stand_ins = (
        rest.assign(cell=cells)
        .sort_values(["accuracy", cost], ascending=[False, True])
        .drop_duplicates("cell")
    )
    stand_ins = stand_ins.assign(represents=stand_ins["cell"].map(counts)).drop(columns="cell")
    drawn = pd.concat([frame[kept].assign(represents=1), stand_ins])
    note = (
        f"{len(frame):,} trials: every Pareto point, reference and the selected trial drawn;\n"
        f"the other {len(rest):,} thinned to {len(stand_ins):,}, the most accurate in each grid "
        "cell (hover: how many it stands for)"
    )
    return Thinned(drawn, note)


def _bins(values: pd.Series, n: int) -> pd.Series:
    low, high = float(values.min()), float(values.max())
    span = high - low or 1.0
    return ((values - low) / span * n).astype(int).clip(0, n - 1)
