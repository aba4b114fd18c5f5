from __future__ import annotations

import pytest

from searcher.run.pruning import CostBucketMedianStopper, cost_bucket
from searcher.study import attrs
from searcher.study.records import TrialRecord
from trainers.train.cotrain import EpochReport, StopTraining
from trainers.train.evaluate import Evaluation


def record(number: int, gflops: float, curve: list[float], status: str = "trained") -> TrialRecord:
    return TrialRecord(number, "COMPLETE", status, {attrs.GFLOPS: gflops, attrs.CURVE: curve})


def report(epoch: int, accuracy: float, epochs: int = 6) -> EpochReport:
    return EpochReport(epoch, epochs, 1.0, 0.0, Evaluation(accuracy, (accuracy,), 1.0, 100), 1.0)


PEERS = [record(i, 0.002, [0.3, 0.8, 0.9, 0.95]) for i in range(3)]


def test_buckets_are_half_decades() -> None:
    assert cost_bucket(0.002) == cost_bucket(0.003)
    assert cost_bucket(0.002) != cost_bucket(0.004)
    assert cost_bucket(0.002) != cost_bucket(0.0002)


def test_stops_below_the_median_of_peers_of_similar_cost() -> None:
    stopper = CostBucketMedianStopper(0.0025, PEERS)
    stopper(report(1, 0.1))  # before min_epoch: never
    stopper(report(2, 0.85))  # above the peers' 0.8 at epoch 2
    with pytest.raises(StopTraining):
        stopper(report(3, 0.5))
    assert stopper.stopped_at == 3


def test_cheap_candidates_are_not_judged_against_expensive_ones() -> None:
    stopper = CostBucketMedianStopper(0.00002, PEERS)
    stopper(report(3, 0.2))  # no peers in its bucket: keeps training


def test_needs_enough_peers_and_never_stops_the_last_epoch() -> None:
    CostBucketMedianStopper(0.002, PEERS[:2])(report(3, 0.1))
    CostBucketMedianStopper(0.002, PEERS)(report(6, 0.1))
    infeasible = [record(i, 0.002, [0.9] * 4, status="infeasible") for i in range(3)]
    CostBucketMedianStopper(0.002, infeasible)(report(3, 0.1))
