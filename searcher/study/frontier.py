"""The accuracy-cost Pareto front: one function for `searcher frontier` and the dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from searcher.study import attrs
from searcher.study.records import TrialRecord

COST_KEYS = (attrs.GFLOPS, attrs.PARAMS_M, attrs.LATENCY_MS)


def pareto_front(records: Sequence[TrialRecord], cost_key: str = attrs.GFLOPS) -> list[TrialRecord]:
    """Trained trials not dominated in (higher accuracy, lower cost), cheapest first.

    Pruned, infeasible, duplicate and failed trials never enter: their accuracy is not a
    finished model's. Trials with exactly the same accuracy and cost are all kept, as Optuna's
    `study.best_trials` keeps them, so a peer client shows the same front.
    """
    trained = [
        r
        for r in records
        if r.status == "trained" and r.accuracy is not None and r.cost(cost_key) is not None
    ]
    trained.sort(key=lambda r: (r.cost(cost_key), -r.accuracy, r.number))
    front: list[TrialRecord] = []
    for record in trained:
        if not front or record.accuracy > front[-1].accuracy:
            front.append(record)
        elif (record.accuracy, record.cost(cost_key)) == (
            front[-1].accuracy,
            front[-1].cost(cost_key),
        ):
            front.append(record)  # a tie: neither dominates the other
    return front
