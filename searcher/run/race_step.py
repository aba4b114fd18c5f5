"""Racing inside `searcher run`: before each new trial the worker may spend the slot on one more
seed of a point whose place on the front is not resolved (searcher/run/racing.py).

A slot goes to racing when the study holds RACE_AFTER trained points, some contested point is
below the seed cap and no other worker trains it now, and the run fits the share: confirmation
epochs, this run's included, stay within `confirm_share` of the study's training epochs (trials
and confirmation runs) since racing could first open, after the trial that made RACE_AFTER
trained points: the trials before are not owed seeds, and counting them let racing take its
whole share at once the moment it opened (replays: 0.82-0.9x the epochs to 99 % of the front,
with no fewer confirmed points). This is what the replay benchmark replays
(benchmarks/efficiency_replay.py `Replay.confirm`). Each confirmation run takes one slot of the
trial target, as a trial does (searcher/run/loop.py), so `--n-trials` counts trainings, not
candidates. Once the slots are spent, a closing pass gives each contested point of the mean
front one more seed, up to `confirm_seeds`, even past the share: the last trials had no slot
left to be confirmed in, and a point racing left on two seeds gets its third where that can
still settle its place (racing.settleable). 200 replays: 79 -> 83 % of the 6-epoch table's
reported front on the true one, 78 -> 80.5 % on the 18-epoch table, against second seeds only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna

from searcher.run.config import SearchConfig
from searcher.run.progress import Progress
from searcher.run.racing import RACE_AFTER, next_seeds, settleable
from searcher.run.seed_claim import SeedClaims
from searcher.run.seed_runs import Trainer, further_seeds, lease_for, stored_runs, train_seed
from searcher.study import attrs
from searcher.study.contest import PRIOR_SPREAD, mean_front, seed_spread
from searcher.study.frontier import seed_points
from searcher.study.open import OBJECTIVE_ATTRS
from searcher.study.records import TrialRecord, read_records
from searcher.study.seeds import confirmations, live_claims
from trainers.data import DataSource
from trainers.train.cotrain import train


@dataclass(frozen=True)
class Ledger:
    """Training epochs of the study: its trials' and its confirmation runs' (stored or under
    way in other workers)."""

    trial_epochs: float
    confirm_epochs: float

    def allows(self, epochs: float, share: float) -> bool:
        total = self.trial_epochs + self.confirm_epochs + epochs
        return self.confirm_epochs + epochs <= share * total


def run_epochs(record: TrialRecord) -> int:
    return int(record.attrs.get(attrs.EPOCHS_RUN) or 0)


def ledger(records: Sequence[TrialRecord], study_attrs: dict[str, Any], now: float) -> Ledger:
    by_number = {r.number: r for r in records}
    spent = sum(run_epochs(r) for r in since_racing_opened(records))
    runs = {n: max(0, len(seeds) - 1) for n, seeds in confirmations(study_attrs).items()}
    for n in live_claims(study_attrs, now):
        runs[n] = runs.get(n, 0) + 1
    confirm = sum(k * run_epochs(by_number[n]) for n, k in runs.items() if n in by_number)
    return Ledger(spent, confirm)


def since_racing_opened(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trained and stopped trials after the one that made RACE_AFTER trained points, in
    trial order: the training the confirmation share is a share of."""
    done = sorted((r for r in records if r.status in ("trained", "pruned")), key=lambda r: r.number)
    trained = 0
    for i, record in enumerate(done):
        trained += record.status == "trained"
        if trained >= RACE_AFTER:
            return done[i + 1 :]
    return []


class Racer:
    def __init__(
        self, study: optuna.Study, data: DataSource, config: SearchConfig, progress: Progress,
        trainer: Trainer | None = None, claims: SeedClaims | None = None,
    ) -> None:  # fmt: skip
        self.study, self.data, self.config, self.progress = study, data, config, progress
        self.trainer = trainer or train
        self.claims = claims or SeedClaims(study)
        self.cost_key = OBJECTIVE_ATTRS[config.objective]
        self.closed: set[int] = set()  # the points this worker's closing pass gave a seed

    def step(self, closing: bool = False) -> bool:
        """Trains one confirmation seed if racing wants one and the share allows; True if so.

        `closing`: the run's slots are spent; only contested points of the mean front get a
        seed, one each per pass (`self.closed` remembers them), up to the cap, even past the
        share, so the front a run ends with states no contest on a single run."""
        if self.config.confirm_share <= 0:
            return False
        records = read_records(self.study)
        points = seed_points(records, self.cost_key)
        if len(points) < RACE_AFTER:
            return False
        spread = seed_spread(points, PRIOR_SPREAD)
        by_number = {r.number: r for r in records}
        study_attrs = self.study.user_attrs
        busy = live_claims(study_attrs, self.claims.clock())
        books = ledger(records, study_attrs, self.claims.clock())
        cap = self.config.confirm_seeds
        if closing:  # one seed per contested front point that it can still settle
            closable = ({p.key for p in mean_front(points)} - self.closed) & settleable(
                points, spread, cap
            )
        for number in next_seeds(points, spread, cap):
            if closing and number not in closable:
                continue
            record = by_number[number]
            fits = closing or books.allows(run_epochs(record), self.config.confirm_share)
            if number in busy or not fits:
                continue
            if self.race(record):
                if closing:
                    self.closed.add(number)
                return True
        return False

    def race(self, record: TrialRecord) -> bool:
        """Claims the trial's next seed and trains it; False when another worker holds it."""
        runs = stored_runs(self.study, record)
        seed = next(s for s in further_seeds(record, len(runs) + 1) if str(s) not in runs)
        if not self.claims.take(record.number, seed, self.lease(record)):
            return False
        if str(seed) in stored_runs(self.study, record):  # stored while this worker claimed
            self.claims.release(record.number)
            return False
        self.progress.confirm_start(record, seed, len(runs) + 1)
        accuracy = train_seed(
            self.study, record, seed, self.data, self.config.device, self.trainer, self.claims
        )
        self.progress.confirm_end(record, seed, accuracy, stored_runs(self.study, record))
        return True

    def lease(self, record: TrialRecord) -> float:
        return lease_for(record, floor_s=3.0 * self.config.heartbeat_s)
