"""Multi-objective asynchronous successive halving (MO-ASHA, Schmucker et al. 2021).

A trial is judged at rungs of `max_epochs // eta**k` epochs (k >= 1, at least `min_epochs`, never
the last epoch): it continues only if it lies in the top `1/eta` of every trial that reached that
rung, ranked by non-dominated sorting on (accuracy at the rung, log10 GFLOPs) with ties broken by
crowding distance; with fewer than `eta` trials at the rung it continues. Asynchronous: the rung
table holds whoever has passed the rung so far, running trials included (their `curve` attribute
grows each epoch), so no worker ever waits. The learning-rate schedule stays on the full epoch
count, so a trial that continues is exactly a full-recipe trial. Cost is the cost model's GFLOPs
(known before training); log10 so that crowding measures spacing across decades of cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from searcher.study import attrs
from searcher.study.records import TrialRecord
from trainers.train.cotrain import EpochReport, StopTraining

RecordSource = Sequence[TrialRecord] | Callable[[], Sequence[TrialRecord]]
# Statuses whose curve is a genuine training run; duplicates copy another trial's curve.
JUDGED = ("trained", "pruned", "running")


@dataclass(frozen=True)
class RungEntry:
    key: int  # trial number (or any id unique within the table)
    accuracy: float  # validation accuracy after the rung's epoch: maximised
    cost: float  # minimised (log10 GFLOPs in the stopper)


def rung_epochs(max_epochs: int, eta: int = 3, min_epochs: int = 2) -> list[int]:
    """Epochs after which trials are judged, ascending: 300 -> [3, 11, 33, 100]."""
    rungs, k = set(), 1
    while (epoch := max_epochs // eta**k) >= max(min_epochs, 1):
        rungs.add(epoch)
        k += 1
    return sorted(e for e in rungs if e < max_epochs)


def dominates(a: RungEntry, b: RungEntry) -> bool:
    return (a.accuracy >= b.accuracy and a.cost <= b.cost) and (
        a.accuracy > b.accuracy or a.cost < b.cost
    )


def nondominated_fronts(entries: Sequence[RungEntry]) -> list[list[RungEntry]]:
    """Non-dominated sorting: front 0 is the Pareto set, front 1 the Pareto set of the rest...

    Two objectives allow O(n log n): taken cheapest first (the more accurate first at equal
    cost), an entry joins the first front whose most recent entry it is not dominated by; that
    entry is the most accurate of its front so far, so the fronts' last accuracies fall with the
    front index and a binary search finds the place. Identical entries share a front."""
    fronts: list[list[RungEntry]] = []
    for e in sorted(entries, key=lambda e: (e.cost, -e.accuracy)):
        low, high = 0, len(fronts)
        while low < high:  # first front whose last entry does not dominate e
            middle = (low + high) // 2
            if dominates(fronts[middle][-1], e):
                low = middle + 1
            else:
                high = middle
        if low == len(fronts):
            fronts.append([])
        fronts[low].append(e)
    return fronts


def crowding_distances(front: Sequence[RungEntry]) -> dict[int, float]:
    """NSGA-II crowding distance within one front (boundary points: infinity). Identical points
    get the same distance, so a tie-break never depends on table order."""
    points = sorted({(e.accuracy, e.cost) for e in front})
    distance = dict.fromkeys(points, 0.0)
    for axis in (0, 1):
        ordered = sorted(points, key=lambda p: p[axis])
        span = ordered[-1][axis] - ordered[0][axis]
        distance[ordered[0]] = distance[ordered[-1]] = math.inf
        for prev, point, nxt in zip(ordered, ordered[1:], ordered[2:], strict=False):
            if span > 0:
                distance[point] += (nxt[axis] - prev[axis]) / span
    return {e.key: distance[(e.accuracy, e.cost)] for e in front}


def ranking(entries: Sequence[RungEntry]) -> dict[int, tuple[int, float]]:
    """Each entry's (front index, -crowding distance): lower is better."""
    ranks: dict[int, tuple[int, float]] = {}
    for index, front in enumerate(nondominated_fronts(entries)):
        for key, distance in crowding_distances(front).items():
            ranks[key] = (index, -distance)
    return ranks


def promoted(entries: Sequence[RungEntry], key: int, eta: int = 3) -> bool:
    """Whether entry `key` is in the top `len // eta` of its rung table. An entry continues
    when fewer than that many entries rank strictly better (ties at the cut all continue),
    and always when the table holds fewer than `eta` entries."""
    if len(entries) < eta:
        return True
    ranks = ranking(entries)
    better = sum(rank < ranks[key] for k, rank in ranks.items() if k != key)
    return better < len(entries) // eta


class AshaStopper:
    """The MO-ASHA rule as a training callback (same interface as `CostBucketMedianStopper`).

    `records` is the study's records, or a function that re-reads them: asynchronous rungs
    need the table as it is when this trial reaches the rung, not when it started.
    """

    def __init__(
        self,
        gflops: float,
        records: RecordSource,
        eta: int = 3,
        min_epochs: int = 2,
        number: int | None = None,
    ) -> None:
        self.cost = math.log10(max(gflops, 1e-12))
        self.records, self.eta, self.min_epochs, self.number = records, eta, min_epochs, number
        self.stopped_at: int | None = None

    def __call__(self, report: EpochReport) -> None:
        if report.final or report.epoch >= report.epochs:
            return
        if report.epoch not in rung_epochs(report.epochs, self.eta, self.min_epochs):
            return
        table = [*self.rung_table(report.epoch), RungEntry(-1, report.val.accuracy, self.cost)]
        if not promoted(table, -1, self.eta):
            self.stopped_at = report.epoch
            raise StopTraining

    def rung_table(self, epoch: int) -> list[RungEntry]:
        """Every other trial that reached `epoch`, finished or still running."""
        records = self.records() if callable(self.records) else self.records
        return [
            RungEntry(r.number, r.attrs[attrs.CURVE][epoch - 1], rung_cost(r))
            for r in records
            if r.number != self.number
            and r.status in JUDGED
            and len(r.attrs.get(attrs.CURVE) or ()) >= epoch
            and r.attrs.get(attrs.GFLOPS) is not None
        ]


def rung_cost(record: TrialRecord) -> float:
    return math.log10(max(float(record.attrs[attrs.GFLOPS]), 1e-12))
