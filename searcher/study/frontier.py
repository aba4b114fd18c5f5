"""The accuracy-cost Pareto front: one function for `searcher frontier` and the dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from searcher.study import attrs
from searcher.study.records import TrialRecord

COST_KEYS = (attrs.GFLOPS, attrs.PARAMS_M, attrs.LATENCY_MS)


def pareto_front(records: Sequence[TrialRecord], cost_key: str = attrs.GFLOPS) -> list[TrialRecord]:
    """Trained trials not dominated in (higher accuracy, lower cost), cheapest first.

    Pruned, infeasible, duplicate and failed trials never enter: their accuracy is not a
    finished model's.
    """
    trained = [
        r
        for r in records
        if r.status == "trained" and r.accuracy is not None and r.cost(cost_key) is not None
    ]
    trained.sort(key=lambda r: (r.cost(cost_key), -r.accuracy, r.number))
    front, best = [], float("-inf")
    for record in trained:
        if record.accuracy > best:
            front.append(record)
            best = record.accuracy
    return front
