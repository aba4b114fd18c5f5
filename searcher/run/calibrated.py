"""Calibrated, hedged early stopping: MO-ASHA's cut, made only where the study showed it is safe.

A rung's ranking can mislead: on an 18-epoch recipe, 2-epoch accuracy ranks slow-starting front
members low on every seed, so MO-ASHA stops both their runs. This rule keeps MO-ASHA's cut (top
`1/eta` by non-dominated sorting and crowding at rungs of `epochs // eta**k`) and adds three
guards, all read from the study's records each time a trial reaches a rung (asynchronous, as
MO-ASHA):

- calibration: every run the study trained to the end is a witness. The eventual front of those
  runs (final accuracy vs cost) is checked against each rung:
  would today's cut at that rung have stopped the member? A rung judges only once at least
  `evidence` members were checked there and at most `max_miss` of them would have been cut;
  before that it lets trials pass, so they are judged at a later, reliable rung or never;
- hedge: a deterministic share of trial numbers (`hedge`) is never stopped. Those trials keep
  the calibration honest after a rung starts to cut (stopped runs never show their end), and
  no rung can stop every run of a front member;
- near-ties continue: a trial is judged with its accuracy raised by the seed spread measured at
  that rung (pooled over candidates trained with several seeds; `prior` until there are
  enough), so a trial within the noise of the cut is not stopped.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from searcher.run.asha import JUDGED, RecordSource, RungEntry, promoted, rung_cost, rung_epochs
from searcher.study import attrs
from searcher.study.records import TrialRecord
from trainers.train.cotrain import EpochReport, StopTraining

# Defaults chosen from benchmarks/search_efficiency.py's replays (docs/benchmarks/search-efficiency.md).
HEDGE = 0.2  # share of trials never stopped
EVIDENCE = 6  # eventual front members a rung must have been checked on before it judges
MAX_MISS = 0.0  # share of them a reliable rung may cut
PRIOR_SPREAD = 0.01  # seed sd of accuracy before the study measured one (digits: ~1 point)
MIN_SPREAD_PAIRS = 3  # pairs of seeds of one candidate before a measured spread replaces the prior


@dataclass(frozen=True)
class Run:
    """One training run as the rule sees it: cost is log10 GFLOPs."""

    key: int
    candidate: str
    cost: float
    curve: tuple[float, ...]
    finished: bool  # trained to its end (status `trained`), so its final accuracy is known


@dataclass(frozen=True)
class Calibration:
    rung: int
    checked: int  # eventual front members with an accuracy at this rung
    cut: int  # of which this rung's cut would have stopped
    reliable: bool


def runs_of(records: Sequence[TrialRecord]) -> list[Run]:
    return [
        Run(r.number, str(r.attrs.get(attrs.CANDIDATE_ID, r.number)), rung_cost(r),
            tuple(r.attrs[attrs.CURVE]), r.status == "trained")
        for r in records
        if r.status in JUDGED and r.attrs.get(attrs.CURVE) and r.attrs.get(attrs.GFLOPS) is not None
    ]  # fmt: skip


def hedged(number: int, share: float) -> bool:
    """Exactly `share` of consecutive trial numbers, evenly spread (0.2: 4, 9, 14, ...)."""
    return math.floor((number + 1) * share) > math.floor(number * share)


def seed_spread(runs: Sequence[Run], epoch: int | None, prior: float) -> float:
    """The seed standard deviation of accuracy after `epoch` (None: the final accuracy of
    finished runs), from candidates run with several seeds: the median |difference| between
    two seeds of a candidate over 0.954 (its value for normal noise), robust to the few
    candidates that diverge on one seed. `prior` until `MIN_SPREAD_PAIRS` pairs exist."""
    groups: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        if epoch is None and run.finished:
            groups[run.candidate].append(run.curve[-1])
        elif epoch is not None and len(run.curve) >= epoch:
            groups[run.candidate].append(run.curve[epoch - 1])
    gaps = sorted(abs(a - b) for values in groups.values()
                  for i, a in enumerate(values) for b in values[i + 1 :])  # fmt: skip
    if len(gaps) < MIN_SPREAD_PAIRS:
        return prior
    return statistics.median(gaps) / 0.954


def front_members(runs: Sequence[Run]) -> list[Run]:
    """Finished runs that no other finished run dominates on (final accuracy, cost): the
    eventual front. Runs of equal cost and accuracy are all members."""
    done = sorted((r for r in runs if r.finished), key=lambda r: r.cost)
    members, best_cheaper, i = [], -math.inf, 0
    while i < len(done):
        j = i
        while j < len(done) and done[j].cost == done[i].cost:
            j += 1
        best_here = max(r.curve[-1] for r in done[i:j])
        members += [r for r in done[i:j] if best_cheaper < r.curve[-1] == best_here]
        best_cheaper = max(best_cheaper, best_here)
        i = j
    return members


def cut(runs: Sequence[Run], rung: int, key: int, accuracy: float, cost: float, eta: int) -> bool:
    """Whether MO-ASHA's rung table (every other run that reached `rung`) stops this entry."""
    table = [RungEntry(r.key, r.curve[rung - 1], r.cost)
             for r in runs if r.key != key and len(r.curve) >= rung]  # fmt: skip
    return not promoted([*table, RungEntry(key, accuracy, cost)], key, eta)


def calibrate(
    runs: Sequence[Run], rung: int, eta: int, evidence: int, max_miss: float, prior: float
) -> Calibration:
    """Would this rung, judged as the rule judges (near-ties raised), have cut the members of
    the eventual front? Reliable once `evidence` members were checked and few enough were cut."""
    margin = seed_spread(runs, rung, prior)
    members = [m for m in front_members(runs) if len(m.curve) >= rung]
    missed = sum(cut(runs, rung, m.key, m.curve[rung - 1] + margin, m.cost, eta) for m in members)
    reliable = len(members) >= evidence and missed <= max_miss * len(members)
    return Calibration(rung, len(members), missed, reliable)


class CalibratedStopper:
    """The calibrated rule as a training callback (the interface of `AshaStopper`).

    `records` is the study's records or a function that re-reads them. `exempt` trials (a
    retry of a stopped candidate: its second chance) are never stopped, as hedged ones.
    `cache` may be shared by the stoppers of one process (a replay) when records only grow:
    calibrations are kept per rung and number of records."""

    def __init__(
        self,
        gflops: float,
        records: RecordSource,
        number: int | None = None,
        eta: int = 3,
        min_epochs: int = 2,
        hedge: float = HEDGE,
        evidence: int = EVIDENCE,
        max_miss: float = MAX_MISS,
        prior: float = PRIOR_SPREAD,
        exempt: bool = False,
        cache: dict[tuple[int, int], Calibration] | None = None,
    ) -> None:
        self.cost = math.log10(max(gflops, 1e-12))
        self.records, self.number, self.eta, self.min_epochs = records, number, eta, min_epochs
        self.hedge, self.evidence, self.max_miss, self.prior = hedge, evidence, max_miss, prior
        self.exempt = exempt or (number is not None and hedged(number, hedge))
        self.cache = cache
        self.stopped_at: int | None = None
        self.calibrations: list[Calibration] = []  # the rungs it judged at, for the record

    def __call__(self, report: EpochReport) -> None:
        if self.exempt or report.final or report.epoch >= report.epochs:
            return
        if report.epoch not in rung_epochs(report.epochs, self.eta, self.min_epochs):
            return
        records = self.records() if callable(self.records) else self.records
        runs = [r for r in runs_of(records) if r.key != self.number]
        calibration = self.calibration(runs, report.epoch, len(records))
        self.calibrations.append(calibration)
        if not calibration.reliable:
            return
        raised = report.val.accuracy + seed_spread(runs, report.epoch, self.prior)
        if cut(runs, report.epoch, -1, raised, self.cost, self.eta):
            self.stopped_at = report.epoch
            raise StopTraining

    def calibration(self, runs: list[Run], rung: int, size: int) -> Calibration:
        key = (rung, size)
        if self.cache is not None and key in self.cache:
            return self.cache[key]
        calibration = calibrate(runs, rung, self.eta, self.evidence, self.max_miss, self.prior)
        if self.cache is not None:
            self.cache[key] = calibration
        return calibration
