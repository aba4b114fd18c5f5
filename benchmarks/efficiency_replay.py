"""Stage 2 of the search-efficiency benchmark: searches replayed against the trained table.

No training: a replayed search proposes candidates exactly as divco does (TPE through
`space.suggest`, or a random order), "trains" a candidate by reading one seed's stored curve
epoch by epoch through the same stopper classes the searcher uses, and pays for the epochs it
read. A candidate already trained or stopped is a free duplicate, as in `searcher run`.
Hypervolume is measured on the *mean* over the table's seeds of the final accuracy (the search
itself only sees one seed), against log10 GFLOPs, from a fixed reference point.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import optuna

from searcher.run.asha import AshaStopper
from searcher.run.claim import PRUNED_RETRIES
from searcher.run.pruning import CostBucketMedianStopper
from searcher.study import attrs
from searcher.study.open import DIRECTIONS, make_sampler
from searcher.study.records import TrialRecord
from space.search_space import SearchSpace
from space.suggest import suggest
from trainers.train.cotrain import EpochReport, StopTraining
from trainers.train.evaluate import Evaluation

Strategy = Literal["random", "tpe", "tpe+median", "tpe+asha", "random+asha"]
STRATEGIES: tuple[Strategy, ...] = ("random", "tpe", "tpe+median", "tpe+asha", "random+asha")
DEFAULT_STRATEGY: Strategy = "tpe+asha"  # what `searcher run` does
MAX_IDLE_PROPOSALS = 200  # as searcher/run/loop.py: consecutive duplicates before giving up
MAX_PROPOSALS = 600  # TPE's proposals slow down with the trial count: a replay ends there


@dataclass(frozen=True)
class Entry:
    cid: str
    params: dict[str, Any]
    gflops: float
    truth: float  # mean over seeds of the final validation accuracy
    curves: tuple[tuple[float, ...], ...]


def entries(table: dict[str, Any]) -> dict[str, Entry]:
    return {
        cid: Entry(cid, row["params"], row["gflops"],
                   statistics.fmean(c[-1] for c in row["curves"].values()),
                   tuple(tuple(row["curves"][s]) for s in sorted(row["curves"], key=int)))
        for cid, row in table["rows"].items()
    }  # fmt: skip


def reference_point(table: dict[str, Entry]) -> tuple[float, float]:
    """(the worst mean accuracy, log10 of the largest GFLOPs): every candidate counts >= 0."""
    return (min(e.truth for e in table.values()), max(math.log10(e.gflops) for e in table.values()))


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


@dataclass
class Replay:
    """One replayed search: its cost so far and the (epochs, hypervolume) after every trial."""

    table: dict[str, Entry]
    ref: tuple[float, float]
    rng: random.Random
    stopping: Literal["none", "median", "asha"]
    eta: int = 3
    min_epochs: int = 2
    # A replay ends once it holds `goal` hypervolume and has spent `horizon` epochs: what comes
    # after changes neither measure (and TPE's proposals get slower with every trial).
    goal: float = math.inf
    horizon: int = 0

    @property
    def done(self) -> bool:
        return self.trace[-1][1] >= self.goal and self.epochs >= self.horizon

    def __post_init__(self) -> None:
        self.epochs, self.records, self.seen = 0, [], set()
        self.runs: dict[str, list[int]] = {}  # the seeds each candidate ran with, in order
        self.stopped: set[str] = set()  # candidates whose every run so far was stopped
        self.trace: list[tuple[int, float]] = [(0, 0.0)]
        self.trained: list[tuple[float, float]] = []

    def train(self, cid: str, reference: bool) -> float | None:
        """Reads one seed's curve through the stopper; the final accuracy, None if stopped."""
        entry = self.table[cid]
        used = self.runs.setdefault(cid, [])
        seed = self.rng.choice([s for s in range(len(entry.curves)) if s not in used] or [0])
        used.append(seed)
        curve = entry.curves[seed]
        stopper = None if reference else self.stopper(entry.gflops)
        ran = len(curve)
        for epoch, accuracy in enumerate(curve, 1):
            report = EpochReport(epoch, len(curve), 0.0, 0.0,
                                 Evaluation(accuracy, (accuracy,), 0.0, 1), 0.0,
                                 final=epoch == len(curve))  # fmt: skip
            try:
                if stopper is not None:
                    stopper(report)
            except StopTraining:
                ran = epoch
                break
        self.epochs += ran
        status = "trained" if ran == len(curve) else "pruned"
        values = {attrs.GFLOPS: entry.gflops, attrs.CURVE: list(curve[:ran])}
        self.records.append(TrialRecord(len(self.records), "COMPLETE", status, values))
        self.seen.add(cid)
        (self.stopped.add if status == "pruned" else self.stopped.discard)(cid)
        if status == "trained":
            self.trained.append((entry.truth, math.log10(entry.gflops)))
        self.trace.append((self.epochs, hypervolume(self.trained, self.ref)))
        return curve[-1] if status == "trained" else None

    def retries(self, cid: str) -> bool:
        """As searcher/run/claim.py: a stopped candidate proposed again trains once more."""
        return cid in self.stopped and len(self.runs[cid]) <= PRUNED_RETRIES

    def stopper(self, gflops: float) -> Callable[[EpochReport], None] | None:
        if self.stopping == "median":
            return CostBucketMedianStopper(gflops, list(self.records))
        if self.stopping == "asha":
            return AshaStopper(gflops, list(self.records), self.eta, self.min_epochs)
        return None


def replay(
    strategy: Strategy,
    seed: int,
    table: dict[str, Entry],
    space: SearchSpace,
    budget_epochs: int,
    eta: int = 3,
    min_epochs: int = 2,
    goal: float = math.inf,
    horizon: int = 0,
) -> list[tuple[int, float]]:
    sampler, _, stopping = strategy.partition("+")
    run = Replay(table, reference_point(table), random.Random(seed), stopping or "none", eta,
                 min_epochs, goal, horizon)  # type: ignore[arg-type]  # fmt: skip
    if sampler == "random":
        order = sorted(table)
        run.rng.shuffle(order)
        for cid in order:  # then the stopped ones again, as a sampler with replacement would
            if run.epochs >= budget_epochs or run.done:
                break
            run.train(cid, reference=False)
            if run.retries(cid):
                order.insert(run.rng.randrange(order.index(cid) + 1, len(order) + 1), cid)
        return run.trace
    _replay_tpe(run, seed, space, budget_epochs)
    return run.trace


def _replay_tpe(run: Replay, seed: int, space: SearchSpace, budget_epochs: int) -> None:
    """divco's sampler and its reference trials first, as `searcher run` creates a study."""
    study = optuna.create_study(directions=list(DIRECTIONS), sampler=make_sampler(seed))
    references = {c.id for c in space.reference_candidates()}
    for reference in space.reference_candidates():
        study.enqueue_trial(reference.to_params())
    idle = 0
    for _ in range(MAX_PROPOSALS):
        if run.epochs >= budget_epochs or idle >= MAX_IDLE_PROPOSALS or run.done:
            break
        if len(run.seen) == len(run.table) and not any(map(run.retries, run.stopped)):
            break
        trial = study.ask()
        cid = suggest(trial, space).id
        if cid in run.seen and not run.retries(cid):
            idle += 1
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        idle = 0
        accuracy = run.train(cid, reference=cid in references)
        if accuracy is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, [accuracy, run.table[cid].gflops])


def epochs_to_reach(trace: Sequence[tuple[int, float]], level: float) -> float:
    return next((float(e) for e, hv in trace if hv >= level), math.inf)


def hypervolume_at(trace: Sequence[tuple[int, float]], epochs: int) -> float:
    return max((hv for e, hv in trace if e <= epochs), default=0.0)
