"""Early stopping of poor candidates in a two-objective search.

Optuna's pruners need a single objective, and pruning against all finished trials would kill
cheap candidates, which learn slower but make the low-cost end of the frontier. So divco uses a
median stopping rule *within a cost bucket*: after epoch e (from `min_epoch`, never the last), a
candidate stops when its validation accuracy is below the median that finished candidates of
similar cost (the same half-decade of GFLOPs) had at epoch e, given at least `min_peers` of them.
It reaches the trainer as a callback that raises `StopTraining`; the trainer knows no Optuna.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from searcher.study import attrs
from searcher.study.records import TrialRecord
from trainers.train.cotrain import EpochReport, StopTraining


def cost_bucket(gflops: float) -> int:
    """Half-decade buckets: 1-3.16 MFLOPs, 3.16-10 MFLOPs, ... share a bucket."""
    return math.floor(2 * math.log10(max(gflops, 1e-12)))


class CostBucketMedianStopper:
    def __init__(
        self, gflops: float, records: Sequence[TrialRecord], min_epoch: int = 2, min_peers: int = 3
    ):
        bucket = cost_bucket(gflops)
        self.peer_curves = [
            r.attrs[attrs.CURVE]
            for r in records
            if r.status in ("trained", "pruned")
            and r.attrs.get(attrs.CURVE)
            and cost_bucket(r.attrs[attrs.GFLOPS]) == bucket
        ]
        self.min_epoch, self.min_peers = min_epoch, min_peers
        self.stopped_at: int | None = None

    def __call__(self, report: EpochReport) -> None:
        if report.epoch < self.min_epoch or report.final or report.epoch >= report.epochs:
            return
        peers = [
            curve[report.epoch - 1] for curve in self.peer_curves if len(curve) >= report.epoch
        ]
        if len(peers) >= self.min_peers and report.val.accuracy < statistics.median(peers):
            self.stopped_at = report.epoch
            raise StopTraining
