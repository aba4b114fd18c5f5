"""Stage 2 of the search-efficiency benchmark: searches replayed against the trained table.

No training: a replayed search proposes candidates exactly as divco does (its front sampler or
TPE, through `space.suggest`, or a random order), "trains" a candidate by reading one seed's stored curve
epoch by epoch through the same stopper classes the searcher uses, and pays for the epochs it
read. A candidate already trained or stopped is a free duplicate, as in `searcher run`; a
stopped one proposed again is retried once with another seed (searcher/run/claim.py). After
each run the search confirms as `searcher run` does: `racing.next_seeds` picks the contested
point, which trains one more seed at full fidelity, while confirmation stays within
`confirm_share` of all epochs spent. What it reports is scored by efficiency_score.py.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import optuna
from efficiency_score import Sample, reference_point_of, score, true_front

from searcher.run.asha import AshaStopper
from searcher.run.calibrated import CalibratedStopper, Calibration
from searcher.run.claim import PRUNED_RETRIES
from searcher.run.pruning import CostBucketMedianStopper
from searcher.run.racing import CAP, CONFIRM_SHARE, RACE_AFTER, next_seeds, settleable
from searcher.study import attrs
from searcher.study.anchor import anchors
from searcher.study.contest import PRIOR_SPREAD, Point, mean_front, seed_spread
from searcher.study.front_sampler import FrontSampler
from searcher.study.open import DIRECTIONS, ReferenceOrder
from searcher.study.records import TrialRecord
from searcher.study.sampler import make_sampler
from searcher.study.seeds import confirmation_key, confirmations
from space.search_space import SearchSpace
from space.suggest import suggest
from trainers.train.cotrain import EpochReport, StopTraining
from trainers.train.evaluate import Evaluation

Stopping = Literal["none", "median", "asha", "calibrated"]
STRATEGIES = ("random", "tpe", "tpe+median", "tpe+asha", "random+asha", "tpe+calibrated",
              "random+calibrated", "front", "front+calibrated", "front+asha")  # fmt: skip
DEFAULT_STRATEGY = "front+calibrated"  # what `searcher run` does
MAX_IDLE_PROPOSALS = 200  # as searcher/run/loop.py: consecutive duplicates before giving up
MAX_PROPOSALS = 600  # TPE's proposals slow down with the trial count: a replay ends there


@dataclass(frozen=True)
class Entry:
    key: int
    cid: str
    params: dict[str, Any]
    gflops: float
    truth: float  # mean over seeds of the final validation accuracy
    curves: tuple[tuple[float, ...], ...]


def entries(table: dict[str, Any]) -> dict[str, Entry]:
    return {
        cid: Entry(key, cid, row["params"], row["gflops"],
                   statistics.fmean(c[-1] for c in row["curves"].values()),
                   tuple(tuple(row["curves"][s]) for s in sorted(row["curves"], key=int)))
        for key, (cid, row) in enumerate(sorted(table["rows"].items()))
    }  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """What a replay varies: the stopping rules' and confirmation's parameters."""

    eta: int = 3
    min_epochs: int = 2
    confirm_share: float = CONFIRM_SHARE  # of all epochs spent
    confirm_cap: int = CAP  # seeds per point
    confirm_prior: float = PRIOR_SPREAD  # seed spread before two seeds of one point exist
    stopper: dict[str, Any] = field(default_factory=dict)  # CalibratedStopper's keywords
    references: ReferenceOrder = "last"  # when divco and TPE train the space's
    # references (`searcher run --references`); random search never trains them apart


@dataclass
class Replay:
    """One replayed search: what it trained, what it spent, and the scored front after each run."""

    table: dict[str, Entry]
    rng: random.Random
    stopping: Stopping
    settings: Settings
    goal: float = math.inf  # the replay ends once it holds `goal` hypervolume
    horizon: int = 0  # ... and has spent `horizon` epochs
    report_at: int = 0  # the search stops once it holds `goal` and spent this (`end`)
    last: tuple[str, ...] = ()  # references trained when the search stops, before closing

    def __post_init__(self) -> None:
        self.truth = {e.key: (e.truth, math.log10(e.gflops)) for e in self.table.values()}
        self.by_key = {e.key: e for e in self.table.values()}
        self.front = true_front(self.truth)
        self.ref = reference_point_of(self.truth)
        self.epochs = self.confirm_epochs = 0
        self.opened: int | None = None  # epochs spent when racing opened
        self.records: list[TrialRecord] = []
        self.seen: set[str] = set()
        self.runs: dict[str, list[int]] = {}  # the seeds each candidate ran with, in order
        self.finals: dict[str, list[tuple[int, float]]] = {}  # full runs: (seed, accuracy)
        self.stopped: set[str] = set()  # candidates whose every run so far was stopped
        self.trace: list[Sample] = [Sample(0, 0.0, 0.0, 0.0)]
        self.cache: dict[tuple[int, int], Calibration] = {}
        self.end: Sample | None = None  # the front reported when the search stops, closed

    @property
    def done(self) -> bool:
        return self.trace[-1].hypervolume >= self.goal and self.epochs >= self.horizon

    def train(self, cid: str, reference: bool) -> float | None:
        """One search run through the stopper, then confirmation; the run's final accuracy,
        None if it was stopped."""
        entry = self.table[cid]
        used = self.runs.setdefault(cid, [])
        seed = self.rng.choice([s for s in range(len(entry.curves)) if s not in used] or [0])
        retry = bool(used)
        used.append(seed)
        stopper = None if reference else self.stopper(entry.gflops, retry)
        ran = read_curve(entry.curves[seed], stopper)
        self.record(entry, seed, ran)
        self.seen.add(cid)
        (self.stopped.add if ran < len(entry.curves[seed]) else self.stopped.discard)(cid)
        self.confirm()
        return entry.curves[seed][-1] if ran == len(entry.curves[seed]) else None

    def record(self, entry: Entry, seed: int, ran: int) -> None:
        curve = entry.curves[seed]
        status = "trained" if ran == len(curve) else "pruned"
        values = {attrs.GFLOPS: entry.gflops, attrs.CURVE: list(curve[:ran]),
                  attrs.CANDIDATE_ID: entry.cid}  # fmt: skip
        self.records.append(TrialRecord(len(self.records), "COMPLETE", status, values))
        self.epochs += ran
        if status == "trained":
            self.finals.setdefault(entry.cid, []).append((seed, curve[-1]))
        points = self.points()
        self.trace.append(score(points, self.truth, self.front, self.ref, self.epochs))
        reached = self.trace[-1].hypervolume >= self.goal and self.epochs >= self.report_at
        if self.end is None and reached:
            self.end = self.closed()

    def closed(self) -> Sample:
        """The front the search reports if it stops now: its references trained last (if
        `last` names them and they are untrained), then, as `searcher run`'s closing pass
        (race_step.Racer.step(closing=True)), each contested mean-front point gets one more
        seed, up to the cap, past the share; the main replay goes on unchanged."""
        finals = {cid: list(runs) for cid, runs in self.finals.items()}
        rng, epochs = random.Random(), self.epochs
        rng.setstate(self.rng.getstate())
        for cid in self.last:  # as `searcher run --references last`: in the run's last slots
            if cid in self.table and cid not in finals:
                entry = self.table[cid]
                seed = rng.randrange(len(entry.curves))
                finals[cid] = [(seed, entry.curves[seed][-1])]
                epochs += len(entry.curves[seed])
        given: set[int] = set()  # one closing run per point
        cap = self.settings.confirm_cap
        while self.settings.confirm_share > 0:
            points = self.points(finals)
            spread = seed_spread(points, self.settings.confirm_prior)
            closable = ({p.key for p in mean_front(points)} - given) & settleable(
                points, spread, cap
            )
            chosen = [k for k in next_seeds(points, spread, cap) if k in closable]
            if not chosen:
                break
            given.add(chosen[0])
            entry = self.by_key[chosen[0]]
            seed = unused_seed(entry, finals[entry.cid], rng)
            if seed is None:
                break
            finals[entry.cid].append((seed, entry.curves[seed][-1]))
            epochs += len(entry.curves[seed])
        return score(self.points(finals), self.truth, self.front, self.ref, epochs)

    def points(self, finals: dict[str, list[tuple[int, float]]] | None = None) -> list[Point]:
        return [Point(self.table[cid].key, self.table[cid].gflops, tuple(a for _, a in runs))
                for cid, runs in (self.finals if finals is None else finals).items()]  # fmt: skip

    def confirm(self) -> None:
        """Further seeds for the contested points, one at a time, within the share."""
        share = self.settings.confirm_share
        if self.opened is None and len(self.finals) >= RACE_AFTER:
            self.opened = self.epochs  # as race_step.ledger: the share counts from here
        while share > 0 and self.opened is not None:
            epochs = len(next(iter(self.table.values())).curves[0])
            if self.confirm_epochs + epochs > share * (self.epochs - self.opened + epochs):
                return
            points = self.points()
            spread = seed_spread(points, self.settings.confirm_prior)
            chosen = next_seeds(points, spread, self.settings.confirm_cap)
            if not chosen:
                return
            entry = self.by_key[chosen[0]]
            seed = unused_seed(entry, self.finals[entry.cid], self.rng)
            if seed is None:
                return
            self.record(entry, seed, len(entry.curves[0]))
            self.confirm_epochs += len(entry.curves[0])

    def retries(self, cid: str) -> bool:
        """As searcher/run/claim.py: a stopped candidate proposed again trains once more."""
        return cid in self.stopped and len(self.runs[cid]) <= PRUNED_RETRIES

    def stopper(self, gflops: float, retry: bool) -> Callable[[EpochReport], None] | None:
        records, s = list(self.records), self.settings
        if self.stopping == "median":
            return CostBucketMedianStopper(gflops, records)
        if self.stopping == "asha":
            return AshaStopper(gflops, records, s.eta, s.min_epochs)
        if self.stopping == "calibrated":
            return CalibratedStopper(gflops, records, len(records), s.eta, s.min_epochs,
                                     exempt=retry, cache=self.cache, **s.stopper)  # fmt: skip
        return None


def unused_seed(entry: Entry, runs: list[tuple[int, float]], rng: random.Random) -> int | None:
    """A table seed the candidate has not run with (`searcher run` gives each confirmation run a
    new seed); None once the table's seeds are spent."""
    done = {seed for seed, _ in runs}
    free = [seed for seed in range(len(entry.curves)) if seed not in done]
    return rng.choice(free) if free else None


def read_curve(curve: tuple[float, ...], stopper: Callable[[EpochReport], None] | None) -> int:
    """Feeds the stored curve to the stopper epoch by epoch; the epochs it let run."""
    for epoch, accuracy in enumerate(curve, 1):
        report = EpochReport(epoch, len(curve), 0.0, 0.0,
                             Evaluation(accuracy, (accuracy,), 0.0, 1), 0.0,
                             final=epoch == len(curve))  # fmt: skip
        try:
            if stopper is not None:
                stopper(report)
        except StopTraining:
            return epoch
    return len(curve)


@dataclass(frozen=True)
class Outcome:
    """A replay's scored front after every run, and the (closed) front it reports at its end."""

    trace: list[Sample]
    end: Sample


def replay(
    strategy: str, seed: int, table: dict[str, Entry], space: SearchSpace, budget_epochs: int,
    settings: Settings, goal: float = math.inf, horizon: int = 0, report_at: int = 0,
) -> Outcome:  # fmt: skip
    sampler, _, stopping = strategy.partition("+")
    run = Replay(table, random.Random(seed), stopping or "none", settings, goal, horizon,  # type: ignore[arg-type]
                 report_at)  # fmt: skip
    if sampler == "random":
        order = sorted(table)
        run.rng.shuffle(order)
        for cid in order:  # then the stopped ones again, as a sampler with replacement would
            if run.epochs >= budget_epochs or run.done:
                break
            run.train(cid, reference=False)
            if run.retries(cid):
                order.insert(run.rng.randrange(order.index(cid) + 1, len(order) + 1), cid)
    else:
        _replay_study(run, seed, space, budget_epochs, sampler)
    return Outcome(run.trace, run.end or run.closed())


def _replay_study(
    run: Replay, seed: int, space: SearchSpace, budget_epochs: int, kind: str
) -> None:
    """divco's sampler (`kind`: front, with the table's exact costs, or tpe), its anchor first
    and its references first or last, as `searcher run` seeds a study (searcher/study/open.py)."""
    gflops = {e.cid: e.gflops for e in run.table.values()}
    sampler = FrontSampler(space, gflops, seed) if kind == "front" else make_sampler(seed)
    study = optuna.create_study(directions=list(DIRECTIONS), sampler=sampler)
    references = {c.id for c in space.reference_candidates()}
    first = run.settings.references == "first"
    if not first:
        run.last = tuple(c.id for c in space.reference_candidates())
    for seeded in [*(space.reference_candidates() if first else []), *anchors(space)]:
        study.enqueue_trial(seeded.to_params())
    idle, numbers = 0, {}  # the trial that trained each candidate
    for _ in range(MAX_PROPOSALS):
        if run.epochs >= budget_epochs or idle >= MAX_IDLE_PROPOSALS or run.done:
            break
        if len(run.seen) == len(run.table) and not any(map(run.retries, run.stopped)):
            break
        store_seeds(study, run, numbers)
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
            numbers[cid] = trial.number


def store_seeds(study: optuna.Study, run: Replay, numbers: dict[str, int]) -> None:
    """Confirmation seeds as `searcher run` stores them: a study attribute per trained trial
    (searcher/study/seeds.py), which the front sampler reads."""
    stored = confirmations(study.user_attrs)
    for cid, number in numbers.items():
        seeds = {str(seed): accuracy for seed, accuracy in run.finals[cid]}
        if len(seeds) > 1 and stored.get(number) != seeds:
            study.set_user_attr(confirmation_key(number), seeds)
