"""Which points of a noisy accuracy-cost front are told apart, and which are ties.

Cost (GFLOPs, parameters) is exact, so dominance between two points is a test on accuracy
alone: a pair is resolved when its gap in mean accuracy exceeds `z` standard errors of that gap.
Seed noise scales with the error rate (on the digits tables one seed's accuracy varies by 4
points at 0.85 and by 0.2 at 0.995, while the log of the error rate varies by 0.2-0.6 at every
level), so the study's pooled seed spread is measured on log(1 - accuracy), and a point's
spread in accuracy is that times its own error rate. Only pairs whose order decides
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
# One seed's spread in log(1 - accuracy) before the study has measured its own (the digits
# tables: 0.2-0.6, 0.4 at 0.97-0.99 accuracy; 0.4 is 0.4 points of accuracy at 0.99).
PRIOR_SPREAD = 0.4
ERROR_FLOOR = 1e-3  # a perfect run's error rate, for the log: a fraction of one image
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


def log_error(accuracy: float) -> float:
    return math.log(max(1.0 - accuracy, ERROR_FLOOR))


def seed_spread(points: Sequence[Point], prior: float) -> float:
    """Pooled within-point standard deviation of log(1 - accuracy) over seeds (each point's own
    mean removed), from the points with at least two seeds; `prior` until one has. The prior
    counts as PRIOR_FREEDOM degrees of freedom, so one pair of seeds that happen to agree does
    not declare every gap resolved."""
    squares = PRIOR_FREEDOM * prior**2
    freedom = PRIOR_FREEDOM
    for p in points:
        if p.n >= 2:
            logs = [log_error(a) for a in p.accuracies]
            mean = statistics.fmean(logs)
            squares += sum((v - mean) ** 2 for v in logs)
            freedom += p.n - 1
    return math.sqrt(squares / freedom)


def accuracy_spread(spread: float, accuracy: float) -> float:
    """One seed's standard deviation in accuracy at `accuracy`, from the study's log-scale
    spread (the delta method: d log(1 - a) = da / (1 - a))."""
    return spread * max(1.0 - accuracy, ERROR_FLOOR)


def standard_error(spread: float, accuracy: float, seeds: int | float) -> float:
    """A mean accuracy's standard error over `seeds`, from the study's log-scale spread."""
    return accuracy_spread(spread, accuracy) / math.sqrt(seeds)


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


def margin(a: Point, b: Point, spread: float, z: float = Z, seeds: int | None = None) -> float:
    """The gap in mean accuracy a pair must exceed to count as resolved (with `seeds` each
    instead of the seeds they have: what the pair would need at that many)."""
    n_a, n_b = (seeds, seeds) if seeds else (a.n, b.n)
    return z * math.hypot(standard_error(spread, a.mean, n_a), standard_error(spread, b.mean, n_b))


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
    best_at: dict[float, float] = {}
    best = -math.inf
    for p in sorted(points, key=lambda p: p.cost):
        best = max(best, p.mean)
        best_at[p.cost] = best  # the last of equal costs: every point of that cost counted
    return [
        p for p in points if best_at[p.cost] - p.mean < widest(p.mean, best_at[p.cost], spread, z)
    ]


def widest(mean: float, best: float, spread: float, z: float) -> float:
    """The margin of a one-seed point at `mean` against a one-seed point at `best`."""
    return z * math.hypot(accuracy_spread(spread, mean), accuracy_spread(spread, best))


def ties(points: Sequence[Point], spread: float, cap: int) -> set[frozenset[int]]:
    """Unresolved pairs where both points already have `cap` seeds: more seeds are not spent on
    them, so the front states them as ties."""
    n = {p.key: p.n for p in points}
    return {
        frozenset(pair)
        for pair in unresolved_pairs(points, spread)
        if n[pair[0]] >= cap and n[pair[1]] >= cap
    }
