"""`searcher run`: ask the study for candidates, reject infeasible ones before training,
co-train the rest, measure them, and record everything under the documented attribute names.

`--n-trials` counts trained candidates (pruned ones included: they used compute); infeasible
and duplicate proposals are recorded, so the sampler learns, but not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from searcher import attrs
from searcher.frontier import pareto_front
from searcher.progress import Progress
from searcher.pruning import CostBucketMedianStopper
from searcher.records import TrialRecord, read_records
from searcher.storage import default_storage_url, open_storage
from searcher.study import BUDGET_CONSTRAINT, OBJECTIVE_ATTRS, Objective, open_study
from searcher.trial_run import TrialOutcome, run_trial
from space.budget import Budget, over_budget
from space.candidate import Candidate
from space.cost import estimate
from space.errors import DivcoError, InfeasibleBudgetError
from space.search_space import SearchSpace
from space.suggest import suggest
from trainers.data import DataSource, load_data

MAX_IDLE_PROPOSALS = 200  # consecutive infeasible/duplicate proposals before giving up
SPLIT_SEED = 0  # the validation split stays the same across runs and seeds of one study


@dataclass(frozen=True)
class SearchConfig:
    space: SearchSpace
    data: str = "digits"
    data_dir: str | None = None
    storage: str | None = None
    study: str | None = None
    n_trials: int = 24
    timeout_s: float | None = None
    budget: Budget = field(default_factory=Budget)
    objective: Objective = "gflops"
    device: str = "cpu"
    seed: int = 0
    runs_dir: Path = Path("runs")
    pruning: bool = True
    throughput_batch: int = 64

    @property
    def study_name(self) -> str:
        return self.study or f"{self.data}-{self.space.name}"


@dataclass
class SearchSummary:
    study_name: str
    storage: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def check_budget_is_satisfiable(space: SearchSpace, budget: Budget) -> None:
    candidates = space.candidates()
    if not any(not over_budget(c, budget) for c in candidates):
        cheapest = min(candidates, key=lambda c: (estimate(c).gflops, estimate(c).params_m))
        cost = estimate(cheapest)
        raise InfeasibleBudgetError(
            f"no candidate of space '{space.name}' fits {budget.describe()}; the cheapest is "
            f"{cheapest.label} at {cost.gflops:.4g} GFLOPs, {cost.params_m:.4g} M params"
        )


def run_search(config: SearchConfig, out: Callable[[str], None] = print) -> SearchSummary:
    data = load_data(config.data, config.data_dir, seed=SPLIT_SEED)
    space = config.space.with_data(data.in_channels, data.num_classes)
    check_budget_is_satisfiable(space, config.budget)
    url = config.storage or default_storage_url(config.runs_dir)
    storage = open_storage(url)
    study = open_study(
        storage, config.study_name, space, config.data, config.objective, config.seed
    )
    return SearchLoop(study, space, data, config, Progress(out, config.objective)).run(url)


class SearchLoop:
    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        data: DataSource,
        config: SearchConfig,
        progress: Progress,
    ) -> None:
        self.study, self.space, self.data, self.config, self.progress = (
            study,
            space,
            data,
            config,
            progress,
        )
        self.cost_attr = OBJECTIVE_ATTRS[config.objective]

    def run(self, url: str) -> SearchSummary:
        config = self.config
        summary = SearchSummary(config.study_name, url)
        finished = [t for t in self.study.get_trials(deepcopy=False) if t.state.is_finished()]
        self.progress.start(config, self.space, self.data, len(finished))
        start = time.perf_counter()
        trained = idle = 0
        while trained < config.n_trials and idle < MAX_IDLE_PROPOSALS:
            if config.timeout_s is not None and time.perf_counter() - start > config.timeout_s:
                self.progress.out(f"timeout of {config.timeout_s:g} s reached")
                break
            status = self.one_trial()
            summary.counts[status] = summary.counts.get(status, 0) + 1
            trained += status in ("trained", "pruned")
            idle = 0 if status in ("trained", "pruned", "failed") else idle + 1
        if idle >= MAX_IDLE_PROPOSALS:
            self.progress.out(
                f"stopped: the last {idle} proposals were all infeasible or already trained"
            )
        summary.seconds = time.perf_counter() - start
        self.progress.finish(summary, read_records(self.study))
        return summary

    def one_trial(self) -> str:
        trial = self.study.ask()
        candidate = suggest(trial, self.space)
        set_attrs(trial, candidate_attrs(candidate) | {attrs.SEED: self.config.seed})
        reasons = over_budget(candidate, self.config.budget)
        if reasons:
            return self.tell_infeasible(trial, candidate, reasons)
        records = read_records(self.study)
        twin = next(
            (
                r
                for r in records
                if r.status == "trained" and r.attrs.get(attrs.CANDIDATE_ID) == candidate.id
            ),
            None,
        )
        if twin is not None:
            return self.tell_duplicate(trial, candidate, twin)
        stopper = (
            CostBucketMedianStopper(estimate(candidate).gflops, records)
            if self.config.pruning
            else None
        )
        self.progress.trial_start(trial.number, candidate)
        try:
            outcome = run_trial(
                candidate, self.data, self.config, trial.number, stopper, self.progress.epoch
            )
        except KeyboardInterrupt:
            set_attrs(trial, {attrs.STATUS: "failed", attrs.ERROR: "interrupted"})
            self.study.tell(trial, state=TrialState.FAIL)
            raise
        except (DivcoError, RuntimeError) as exc:
            set_attrs(
                trial, {attrs.STATUS: "failed", attrs.ERROR: " ".join(str(exc).split())[:500]}
            )
            self.study.tell(trial, state=TrialState.FAIL)
            self.progress.failed(trial.number, exc)
            return "failed"
        return self.tell_outcome(trial, outcome, estimate(candidate).gflops)

    def tell_infeasible(self, trial: optuna.Trial, candidate: Candidate, reasons: list[str]) -> str:
        budget, cost = self.config.budget, estimate(candidate)
        excess = sum(
            max(0.0, value / limit - 1.0)
            for limit, value in ((budget.gflops, cost.gflops), (budget.params_m, cost.params_m))
            if limit is not None
        )
        set_attrs(trial, {attrs.STATUS: "infeasible", attrs.OVER_BUDGET: reasons})
        trial.set_constraint(BUDGET_CONSTRAINT, max(excess, 1e-6))
        objective_cost = cost.gflops if self.config.objective == "gflops" else float("inf")
        self.study.tell(trial, [0.0, objective_cost])
        self.progress.infeasible(trial.number, candidate, reasons)
        return "infeasible"

    def tell_duplicate(self, trial: optuna.Trial, candidate: Candidate, twin: TrialRecord) -> str:
        """Discrete spaces get re-proposed; the stored result is reused, not retrained."""
        set_attrs(trial, {k: twin.attrs[k] for k in RESULT_KEYS if k in twin.attrs})
        set_attrs(trial, {attrs.STATUS: "duplicate", attrs.DUPLICATE_OF: twin.number})
        trial.set_constraint(BUDGET_CONSTRAINT, 0.0)
        self.study.tell(trial, [twin.accuracy, twin.attrs[self.cost_attr]])
        self.progress.duplicate(trial.number, candidate, twin.number)
        return "duplicate"

    def tell_outcome(self, trial: optuna.Trial, outcome: TrialOutcome, cost: float) -> str:
        set_attrs(trial, outcome.attrs)
        trial.set_constraint(BUDGET_CONSTRAINT, outcome.constraint)
        if outcome.status == "infeasible":
            self.study.tell(trial, [0.0, outcome.attrs[attrs.LATENCY_MS]])
            self.progress.infeasible(
                trial.number, outcome.candidate, outcome.attrs[attrs.OVER_BUDGET]
            )
            return "infeasible"
        if outcome.status == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(
                trial, [outcome.attrs[attrs.ACCURACY], outcome.attrs.get(self.cost_attr, cost)]
            )
        front = pareto_front(read_records(self.study), self.cost_attr)
        self.progress.trial_end(trial.number, outcome, front)
        return outcome.status


RESULT_KEYS = (attrs.ACCURACY, attrs.MEMBER_ACCURACIES, attrs.VAL_LOSS, attrs.TEST_ACCURACY,
               attrs.CURVE, attrs.LATENCY, attrs.LATENCY_MS, attrs.TRAIN_SECONDS,
               attrs.IMAGES_PER_S, attrs.EPOCHS_RUN, attrs.STOPPED_BY, attrs.DEVICE,
               attrs.CHECKPOINT)  # fmt: skip


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
