"""Stage 3 of the search-efficiency benchmark: the front a replayed search reports, scored at the truth.

A search reports the front of the seed means of what it trained (its confirmation seeds
included). Each reported point is scored at the table's true mean (over all its seeds):
hypervolume (accuracy vs log10 GFLOPs, from a fixed reference point), the share of reported
points that lie on the table's true front, and how much the reported accuracy overstates the
truth. The search's own values never enter the hypervolume.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from searcher.study.contest import Point, mean_front


def hypervolume(points: Sequence[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by (accuracy, log10 cost) points (accuracy up, cost down) within ref."""
    inside = sorted((c, a) for a, c in points if a > ref[0] and c < ref[1])
    if not inside:
        return 0.0
    area, best = 0.0, ref[0]
    for (cost, accuracy), following in zip(inside, [*inside[1:], (ref[1], 0.0)], strict=True):
        best = max(best, accuracy)
        area += (following[0] - cost) * (best - ref[0])
    return area


def true_front(truth: dict[int, tuple[float, float]]) -> set[int]:
    """Keys whose (true accuracy, log10 cost) no other key dominates."""
    points = [Point(key, cost, (accuracy,)) for key, (accuracy, cost) in truth.items()]
    return {p.key for p in mean_front(points)}


@dataclass(frozen=True)
class Sample:
    """The reported front after a search has spent `epochs` (confirmation included)."""

    epochs: int
    hypervolume: float  # of the reported points, at their true means
    on_front: float  # share of reported points on the true front
    overstatement: float  # mean (reported - true) accuracy over reported points


def score(
    points: Sequence[Point], truth: dict[int, tuple[float, float]], front: set[int],
    ref: tuple[float, float], epochs: int,
) -> Sample:  # fmt: skip
    reported = mean_front(points)
    if not reported:
        return Sample(epochs, 0.0, 0.0, 0.0)
    at_truth = [truth[p.key] for p in reported]
    return Sample(
        epochs,
        hypervolume(at_truth, ref),
        sum(p.key in front for p in reported) / len(reported),
        statistics.fmean(p.mean - truth[p.key][0] for p in reported),
    )


def epochs_to_reach(trace: Sequence[Sample], level: float) -> float:
    """The first time the reported front held `level` hypervolume (inf: never)."""
    return next((float(s.epochs) for s in trace if s.hypervolume >= level), math.inf)


def at_budget(trace: Sequence[Sample], epochs: int) -> Sample:
    """The reported front as it stood when the budget ran out."""
    return [s for s in trace if s.epochs <= epochs][-1]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between order statistics; inf (not reached) stays inf."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    if math.isinf(high):
        return high
    return low + (high - low) * (position - math.floor(position))


def reference_point_of(truth: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """(the worst true accuracy, the largest log10 cost): every candidate counts >= 0."""
    return (min(a for a, _ in truth.values()), max(c for _, c in truth.values()))
