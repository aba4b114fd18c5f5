"""What one Optuna trial does: propose, reject if over budget, reuse if already trained, claim a
slot of the study's trial target, co-train, and record the documented attributes.

It runs inside `study.optimize`, so Optuna's heartbeat marks a killed worker's trial failed and
the storage's retry callback re-enqueues its candidate once.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from searcher.run.config import SearchConfig
from searcher.run.progress import Progress
from searcher.run.pruning import CostBucketMedianStopper
from searcher.run.trial_run import run_trial
from searcher.study import attrs
from searcher.study.open import BUDGET_CONSTRAINT, OBJECTIVE_ATTRS
from searcher.study.records import TrialRecord, read_records
from space.budget import over_budget
from space.candidate import Candidate
from space.cost import estimate
from space.errors import DivcoError
from space.search_space import SearchSpace
from space.suggest import suggest
from trainers.data import DataSource

RESULT_KEYS = (attrs.ACCURACY, attrs.MEMBER_ACCURACIES, attrs.VAL_LOSS, attrs.TEST_ACCURACY,
               attrs.CURVE, attrs.LATENCY, attrs.LATENCY_MS, attrs.TRAIN_SECONDS,
               attrs.IMAGES_PER_S, attrs.EPOCHS_RUN, attrs.STOPPED_BY, attrs.DEVICE,
               attrs.CHECKPOINT)  # fmt: skip
COUNTED = ("trained", "pruned")  # statuses that use up the study's trial target


def counts_toward_target(trial: optuna.trial.FrozenTrial) -> bool:
    status = trial.user_attrs.get(attrs.STATUS)
    if trial.state == TrialState.RUNNING:
        return status == "training"
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) and status in COUNTED


class TrialObjective:
    def __init__(
        self,
        space: SearchSpace,
        data: DataSource,
        config: SearchConfig,
        progress: Progress,
        target: int,
    ) -> None:
        self.space, self.data, self.config, self.progress = space, data, config, progress
        self.target = target
        self.cost_attr = OBJECTIVE_ATTRS[config.objective]
        self.status = "failed"

    def __call__(self, trial: optuna.Trial) -> Sequence[float]:
        self.status = "failed"
        candidate = suggest(trial, self.space)
        worker = f"{socket.gethostname()}:{os.getpid()}"
        set_attrs(
            trial, candidate_attrs(candidate) | {attrs.SEED: self.config.seed, attrs.WORKER: worker}
        )
        reasons = over_budget(candidate, self.config.budget)
        if reasons:
            return self.infeasible(trial, candidate, reasons)
        records = read_records(trial.study)
        twin = next((r for r in records if r.status == "trained" and r.attrs.get(attrs.CANDIDATE_ID) == candidate.id), None)  # fmt: skip
        if twin is not None:
            return self.duplicate(trial, candidate, twin)
        self.claim(trial, candidate)
        try:
            return self.train(trial, candidate, records)
        except KeyboardInterrupt:
            set_attrs(trial, {attrs.STATUS: "failed", attrs.ERROR: "interrupted"})
            raise
        except (DivcoError, RuntimeError) as exc:
            set_attrs(
                trial, {attrs.STATUS: "failed", attrs.ERROR: " ".join(str(exc).split())[:500]}
            )
            self.progress.failed(trial.number, exc)
            raise

    def claim(self, trial: optuna.Trial, candidate: Candidate) -> None:
        """Marks the trial as training, unless a lower-numbered trial (another worker's, racing
        this one) already trains this candidate or holds the last slot of the target: then this
        trial ends as pruned, with status `duplicate` or `surplus`, before any training."""
        trial.set_user_attr(attrs.STATUS, "training")
        ahead = [
            t
            for t in trial.study.get_trials(deepcopy=False)
            if t.number < trial.number and counts_toward_target(t)
        ]
        twin = next(
            (t for t in ahead if t.user_attrs.get(attrs.CANDIDATE_ID) == candidate.id), None
        )
        if twin is not None:
            set_attrs(trial, {attrs.STATUS: "duplicate", attrs.DUPLICATE_OF: twin.number})
            self.status = "duplicate"
            self.progress.duplicate(trial.number, candidate, twin.number)
            raise optuna.TrialPruned
        if len(ahead) >= self.target:
            set_attrs(trial, {attrs.STATUS: "surplus"})
            self.status = "surplus"
            self.progress.surplus(trial.number)
            raise optuna.TrialPruned

    def train(
        self, trial: optuna.Trial, candidate: Candidate, records: list[TrialRecord]
    ) -> Sequence[float]:
        stopper = (
            CostBucketMedianStopper(estimate(candidate).gflops, records)
            if self.config.pruning
            else None
        )
        self.progress.trial_start(trial.number, candidate)
        outcome = run_trial(
            candidate, self.data, self.config, trial.number, stopper, self.progress.epoch
        )
        set_attrs(trial, outcome.attrs)
        trial.set_constraint(BUDGET_CONSTRAINT, outcome.constraint)
        self.status = outcome.status
        if outcome.status == "infeasible":
            self.progress.infeasible(trial.number, candidate, outcome.attrs[attrs.OVER_BUDGET])
            return [0.0, outcome.attrs[attrs.LATENCY_MS]]
        self.progress.trial_end(trial.number, outcome)
        if outcome.status == "pruned":
            raise optuna.TrialPruned
        return objective_values(candidate_attrs(candidate) | outcome.attrs, self.cost_attr)

    def infeasible(
        self, trial: optuna.Trial, candidate: Candidate, reasons: list[str]
    ) -> Sequence[float]:
        budget, cost = self.config.budget, estimate(candidate)
        excess = sum(
            max(0.0, value / limit - 1.0)
            for limit, value in ((budget.gflops, cost.gflops), (budget.params_m, cost.params_m))
            if limit is not None
        )
        set_attrs(trial, {attrs.STATUS: "infeasible", attrs.OVER_BUDGET: reasons})
        trial.set_constraint(BUDGET_CONSTRAINT, max(excess, 1e-6))
        self.progress.infeasible(trial.number, candidate, reasons)
        self.status = "infeasible"
        return [0.0, cost.gflops if self.config.objective == "gflops" else float("inf")]

    def duplicate(
        self, trial: optuna.Trial, candidate: Candidate, twin: TrialRecord
    ) -> Sequence[float]:
        """Discrete spaces get re-proposed; the stored result is reused, not retrained."""
        set_attrs(trial, {k: twin.attrs[k] for k in RESULT_KEYS if k in twin.attrs})
        set_attrs(trial, {attrs.STATUS: "duplicate", attrs.DUPLICATE_OF: twin.number})
        trial.set_constraint(BUDGET_CONSTRAINT, 0.0)
        self.progress.duplicate(trial.number, candidate, twin.number)
        self.status = "duplicate"
        return objective_values(twin.attrs, self.cost_attr)


def objective_values(values: dict[str, Any], cost_attr: str) -> list[float]:
    """(accuracy, or MnasNet's reward when the latency reward is soft; the cost)."""
    return [values.get(attrs.REWARD, values[attrs.ACCURACY]), values[cost_attr]]


def candidate_attrs(candidate: Candidate) -> dict[str, object]:
    cost = estimate(candidate)
    return {
        attrs.CANDIDATE: candidate.to_dict(),
        attrs.CANDIDATE_ID: candidate.id,
        attrs.LABEL: candidate.label,
        attrs.GFLOPS: cost.gflops,
        attrs.MEMBER_GFLOPS: [m.gflops for m in cost.members],
        attrs.PARAMS_M: cost.params_m,
    }


def set_attrs(trial: optuna.Trial, values: dict[str, object]) -> None:
    for key, value in values.items():
        trial.set_user_attr(key, value)
