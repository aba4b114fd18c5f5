"""What one Optuna trial does: propose, reject if over budget, reuse if already trained, claim a
slot of the study's trial target, co-train, and record the documented attributes.

It runs inside `study.optimize`, so Optuna's heartbeat marks a killed worker's trial failed; the
search loop enqueues such candidates again (searcher/run/recovery.py). Reference trials are
never stopped early and never surplus: every front keeps the divide-or-not comparison.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from searcher.run.asha import AshaStopper
from searcher.run.calibrated import CalibratedStopper
from searcher.run.claim import claim
from searcher.run.config import SearchConfig
from searcher.run.progress import Progress
from searcher.run.pruning import CostBucketMedianStopper
from searcher.run.recovery import slot_holders
from searcher.run.step_progress import StepProgress, terminal_bar_file
from searcher.run.teacher import TeacherSource
from searcher.run.trial_run import run_trial
from searcher.study import attrs
from searcher.study.open import BUDGET_CONSTRAINT, OBJECTIVE_ATTRS
from searcher.study.records import TrialRecord, read_records
from searcher.study.resilient import set_trial_attrs
from space.budget import over_budget
from space.candidate import Candidate
from space.cost import estimate
from space.errors import DivcoError
from space.search_space import SearchSpace
from space.suggest import suggest
from trainers.data import DataSource
from trainers.train.cotrain import EpochReport, TrainingCallback
from trainers.train.imitation import teacher_candidate

RESULT_KEYS = (attrs.ACCURACY, attrs.MEMBER_ACCURACIES, attrs.VAL_LOSS, attrs.TEST_ACCURACY,
               attrs.CURVE, attrs.LATENCY, attrs.LATENCY_MS, attrs.LATENCY_MODE, attrs.LATENCY_LAYOUT, attrs.LATENCY_UNSTABLE, attrs.TRAIN_SECONDS,
               attrs.IMAGES_PER_S, attrs.EPOCHS_RUN, attrs.STOPPED_BY, attrs.DEVICE,
               attrs.CHECKPOINT, attrs.TEACHER, attrs.TEACHER_SECONDS, attrs.IMITATION_LOSSES)  # fmt: skip


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
        self.reference_ids = {c.id for c in space.reference_candidates()}
        self.status = "failed"
        self.error = ""
        self.trained_one = False  # its first step says where the worker's start-up went

    def __call__(self, trial: optuna.Trial) -> Sequence[float]:
        self.status = "failed"
        candidate = suggest(trial, self.space)
        worker = f"{socket.gethostname()}:{os.getpid()}"
        reference = {attrs.REFERENCE: True} if candidate.id in self.reference_ids else {}
        set_attrs(
            trial,
            candidate_attrs(candidate)
            | reference
            | teacher_id(candidate)
            | {attrs.SEED: self.config.seed, attrs.WORKER: worker},
        )
        reasons = over_budget(candidate, self.config.budget)
        if reasons:
            return self.infeasible(trial, candidate, reasons)
        trials = trial.study.get_trials(deepcopy=False)  # one read for the twin and the claim
        records = read_records(trial.study, trials)
        twin = next((r for r in records if r.status == "trained" and r.attrs.get(attrs.CANDIDATE_ID) == candidate.id), None)  # fmt: skip
        if twin is not None:
            return self.duplicate(trial, candidate, twin)
        retry_seed = self.claim(trial, candidate, trials)
        try:
            return self.train(trial, candidate, records, retry_seed)
        except KeyboardInterrupt:
            set_attrs(trial, {attrs.STATUS: "failed", attrs.ERROR: INTERRUPTED})
            raise
        except (DivcoError, RuntimeError) as exc:
            self.error = " ".join(str(exc).split())[:500]
            set_attrs(trial, {attrs.STATUS: "failed", attrs.ERROR: self.error})
            self.progress.failed(trial.number, exc)
            raise

    def claim(
        self, trial: optuna.Trial, candidate: Candidate, trials: list[FrozenTrial]
    ) -> int | None:
        """Marks the trial as training, unless another worker's trial trains this candidate or
        holds the last slot of the target (searcher/run/claim.py): then this trial ends as
        pruned, with status `duplicate` or `surplus`, before any training. Returns the seed of a
        retry of a pruned candidate (one its pruned run did not use), None otherwise."""
        references, lost = slot_holders(
            trial.study, self.space.reference_candidates(), self.space.trial_params, trials
        )  # a lost candidate's retry trains whatever the target, as a reference does
        held = references | lost
        exempt = candidate.id in self.reference_ids or candidate.id in lost
        decision = claim(trial, candidate.id, None if exempt else self.target, references=held)
        if decision.outcome == "duplicate":
            set_attrs(trial, {attrs.STATUS: "duplicate", attrs.DUPLICATE_OF: decision.twin})
            self.status = "duplicate"
            self.progress.duplicate(trial.number, candidate, decision.twin)
            raise optuna.TrialPruned
        if decision.outcome == "surplus":
            set_attrs(trial, {attrs.STATUS: "surplus"})
            self.status = "surplus"
            self.progress.surplus(trial.number)
            raise optuna.TrialPruned
        if decision.retry_seed is not None:
            set_attrs(trial, {attrs.SEED: decision.retry_seed, attrs.RETRY: decision.attempt})
        return decision.retry_seed

    def stopper(
        self, trial: optuna.Trial, candidate: Candidate, records: list[TrialRecord]
    ) -> TrainingCallback | None:
        """The early-stopping rule for this candidate; references always run to the end, and
        under the calibrated rule so does the retry of a stopped candidate (its second chance)."""
        config = self.config
        if config.stopping == "none" or candidate.id in self.reference_ids:
            return None
        gflops = estimate(candidate).gflops
        if config.stopping == "median":
            return CostBucketMedianStopper(gflops, records)
        # asynchronous rungs: re-read the study when this trial reaches a rung
        study, number = trial.study, trial.number
        eta, min_epochs = config.asha_eta, config.asha_min_epochs
        if config.stopping == "asha":
            return AshaStopper(gflops, lambda: read_records(study), eta, min_epochs, number)
        retry = bool(trial.user_attrs.get(attrs.RETRY))
        return CalibratedStopper(
            gflops, lambda: read_records(study), number, eta, min_epochs, exempt=retry
        )

    def train(
        self, trial: optuna.Trial, candidate: Candidate, records: list[TrialRecord],
        retry_seed: int | None = None,
    ) -> Sequence[float]:  # fmt: skip
        config = self.config
        if retry_seed is not None:
            config = dataclasses.replace(config, seed=retry_seed)
        stopper = self.stopper(trial, candidate, records)
        self.progress.trial_start(trial.number, candidate, retry_seed=retry_seed)
        on_epoch = StepProgress(
            self.progress.out, record_curve(trial, self.progress.epoch),
            store=lambda figures: trial.set_user_attr(attrs.PROGRESS, figures),
            bar_file=terminal_bar_file(config.worker), announce=not self.trained_one,
        )  # fmt: skip
        self.trained_one = True
        teacher = TeacherSource(trial, self.data, config, self.progress.out)
        outcome = run_trial(candidate, self.data, config, trial.number, stopper, on_epoch, teacher)
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
        """Discrete spaces get re-proposed; the stored result is reused, not retrained.

        The trial ends PRUNED, not COMPLETE: the twin already stands for the candidate among
        the complete trials, so Optuna's own `best_trials` (and optuna-dashboard) show the same
        front as divco, and TPE still sees the re-proposal (pruned trials rank below complete
        ones), which steers it away from proposing the candidate again."""
        set_attrs(trial, {k: twin.attrs[k] for k in RESULT_KEYS if k in twin.attrs})
        set_attrs(trial, {attrs.STATUS: "duplicate", attrs.DUPLICATE_OF: twin.number})
        trial.set_constraint(BUDGET_CONSTRAINT, 0.0)
        self.progress.duplicate(trial.number, candidate, twin.number)
        self.status = "duplicate"
        raise optuna.TrialPruned


INTERRUPTED = "interrupted"  # the error of a trial stopped by Ctrl-C or SIGTERM (not its fault)


def record_curve(trial: optuna.Trial, then: TrainingCallback) -> TrainingCallback:
    """Stores the curve so far after every epoch: MO-ASHA's rung tables in other workers
    include this trial while it is still running."""
    curve: list[float] = []

    def on_epoch(report: EpochReport) -> None:
        curve.append(report.val.accuracy)
        trial.set_user_attr(attrs.CURVE, list(curve))
        then(report)

    return on_epoch


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


def teacher_id(candidate: Candidate) -> dict[str, object]:
    """Written before the claim, so the teacher's claim (searcher/run/teacher.py) sees it."""
    if candidate.recipe.init != "wide_then_narrow":
        return {}
    return {attrs.TEACHER_ID: teacher_candidate(candidate).id}


def set_attrs(trial: optuna.Trial, values: dict[str, object]) -> None:
    set_trial_attrs(trial, values)  # one transaction, not one per attribute
