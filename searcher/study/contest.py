"""Which points of a noisy accuracy-cost front are told apart, and which are ties.

Cost (GFLOPs, parameters) is exact, so dominance between two points is a test on accuracy
alone: a pair is resolved when its gap in mean accuracy exceeds `z` standard errors of that gap,
the standard error coming from the study's pooled seed spread. Only pairs whose order decides
whether one of them is on the front matter; a point clearly dominated by a third point is not
worth a seed, whatever its gap to a neighbour. Pure (no optuna) so the dashboard, `searcher run`
and the replay benchmark share one rule.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# One-sided 95 %: the question is directional (is the one ahead really ahead?).
Z = 1.645
# One seed's accuracy spread before the study has measured its own: one point of accuracy (the
# digits space's seeds differ by a median 1.1 points on its 359-image validation split).
PRIOR_SPREAD = 0.01
PRIOR_FREEDOM = 2  # the weight of that prior, in degrees of freedom of the pooled estimate


@dataclass(frozen=True)
class Point:
    """One trained configuration: its exact cost (minimised) and one validation accuracy per
    seed."""

    key: int
    cost: float
    accuracies: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.accuracies:
            raise ValueError(f"point {self.key} has no accuracy")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def n(self) -> int:
        return len(self.accuracies)


def seed_spread(points: Sequence[Point], prior: float) -> float:
    """Pooled within-point standard deviation over seeds (each point's own mean removed), from
    the points with at least two seeds; `prior` until one has. The prior counts as
    PRIOR_FREEDOM degrees of freedom, so one pair of seeds that happen to agree does not
    declare every gap resolved."""
    squares = PRIOR_FREEDOM * prior**2
    freedom = PRIOR_FREEDOM
    for p in points:
        if p.n >= 2:
            mean = p.mean
            squares += sum((a - mean) ** 2 for a in p.accuracies)
            freedom += p.n - 1
    return math.sqrt(squares / freedom)


def dominates(a: Point, b: Point) -> bool:
    """a dominates b on mean accuracy (up) and cost (down); equal points dominate neither."""
    return a.cost <= b.cost and a.mean >= b.mean and (a.cost < b.cost or a.mean > b.mean)


def mean_front(points: Sequence[Point]) -> list[Point]:
    """Points not dominated on mean accuracy and cost, cheapest first; exact ties all kept."""
    ordered = sorted(points, key=lambda p: (p.cost, -p.mean, p.key))
    front: list[Point] = []
    for p in ordered:
        level = bool(front) and (p.mean, p.cost) == (front[-1].mean, front[-1].cost)
        if not front or p.mean > front[-1].mean or level:
            front.append(p)
    return front


def margin(a: Point, b: Point, spread: float, z: float = Z) -> float:
    """The gap in mean accuracy a pair must exceed to count as resolved."""
    return z * spread * math.sqrt(1 / a.n + 1 / b.n)


def closeness(a: Point, b: Point, spread: float, z: float = Z) -> float:
    """|gap| / margin: below 1 is unresolved; the smaller, the more contested."""
    bound = margin(a, b, spread, z)
    gap = abs(a.mean - b.mean)
    return gap / bound if bound > 0 else (0.0 if gap == 0 else math.inf)


def unresolved_pairs(points: Sequence[Point], spread: float, z: float = Z) -> list[tuple[int, int]]:
    """Pairs (smaller key first) whose order decides whether one of them is on the mean front
    and whose gap is within the margin, most contested first.

    For x no costlier than y, the order of x and y decides y's place when y is on the front and
    ahead of x (reversed, x would dominate y), or when x is at least level with y and no third
    point clearly dominates y (reversed, y would leave x's shadow)."""
    points = near_front(points, spread, z)
    on_front = {p.key for p in mean_front(points)}
    clear = {
        y.key: {c.key for c in points if dominates(c, y) and closeness(c, y, spread, z) >= 1}
        for y in points
    }
    found: dict[tuple[int, int], float] = {}
    for x in points:
        for y in points:
            if x.key == y.key or x.cost > y.cost:
                continue
            score = closeness(x, y, spread, z)
            if score >= 1:
                continue
            decides = y.key in on_front if x.mean < y.mean else not (clear[y.key] - {x.key})
            if decides:
                pair = (min(x.key, y.key), max(x.key, y.key))
                found[pair] = min(score, found.get(pair, math.inf))
    return sorted(found, key=lambda pair: (found[pair], pair))


def near_front(points: Sequence[Point], spread: float, z: float = Z) -> list[Point]:
    """The points less than the widest margin (one seed each) below the best mean at their
    cost. A point further below is clearly dominated and clearly behind every front point
    at or above its cost, so it is in no unresolved pair: a study of 10 000 trials compares
    the few hundred near its front, not all pairs."""
    widest = z * spread * math.sqrt(2)
    best_at: dict[float, float] = {}
    best = -math.inf
    for p in sorted(points, key=lambda p: p.cost):
        best = max(best, p.mean)
        best_at[p.cost] = best  # the last of equal costs: every point of that cost counted
    return [p for p in points if best_at[p.cost] - p.mean < widest]


def ties(points: Sequence[Point], spread: float, cap: int) -> set[frozenset[int]]:
    """Unresolved pairs where both points already have `cap` seeds: more seeds are not spent on
    them, so the front states them as ties."""
    n = {p.key: p.n for p in points}
    return {
        frozenset(pair)
        for pair in unresolved_pairs(points, spread)
        if n[pair[0]] >= cap and n[pair[1]] >= cap
    }
