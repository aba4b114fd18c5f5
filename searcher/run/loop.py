"""`searcher run`: the search loop of one worker over a shared study.

Each iteration is one `study.optimize(n_trials=1)` call, so Optuna's own machinery does the
distributed parts: the heartbeat of the running trial and failing stale trials of killed
workers. Before each trial the loop enqueues lost candidates again and, once they are due,
untrained references (recovery.py), then decides whether to go on: until the study holds its
target of trained candidates (pruned ones included: they used compute) and every reference is
trained. References are due from the start (`--references first`) or when the slots left are
the ones they hold (`last`, the default: the front first, the comparison after it);
infeasible and duplicate proposals are stored so the sampler learns, but not counted.
Confirmation runs (racing, searcher/run/race_step.py) take slots of the target too: before a
new trial, a free slot may go to one more seed of a point the front hangs on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from searcher.run.claim import fail_stale_trials
from searcher.run.config import SearchConfig
from searcher.run.objective import TrialObjective
from searcher.run.progress import Progress
from searcher.run.race_step import Racer
from searcher.run.recovery import (
    failed_meanwhile,
    pending_references,
    requeue_lost,
    run_target,
)
from searcher.run.slots import confirmation_count, slots_used
from searcher.run.summary import SearchSummary
from searcher.run.trial_run import latency_excess, measure
from searcher.study import attrs
from searcher.study.front_sampler import FrontSampler
from searcher.study.frontier import FRONT_ATTR, front_summary, front_view
from searcher.study.open import OBJECTIVE_ATTRS, open_study
from searcher.study.records import TrialRecord, read_records
from searcher.study.storage import default_storage_url, open_storage
from space.budget import Budget, fits, over_budget
from space.cost import estimate
from space.errors import DivcoError, InfeasibleBudgetError
from space.search_space import SearchSpace
from trainers.data import DataSource, load_data
from trainers.train.cotrain import resolve_device

MAX_IDLE_PROPOSALS = 200  # consecutive infeasible/duplicate proposals before giving up
MAX_CONSECUTIVE_FAILURES = 5


class RepeatedFailureError(DivcoError):
    """Every recent trial failed: the cause is the worker's, not the candidates'."""


SPLIT_SEED = 0  # the validation split stays the same across runs and seeds of one study


def check_budget_is_satisfiable(space: SearchSpace, budget: Budget) -> None:
    if not budget.is_static:
        return  # nothing to cost up front (large spaces take a while to cost)
    candidates = space.candidates()
    if not any(not over_budget(c, budget) for c in candidates):
        cheapest = min(candidates, key=lambda c: (estimate(c).gflops, estimate(c).params_m))
        cost = estimate(cheapest)
        raise InfeasibleBudgetError(
            f"no candidate of space '{space.name}' fits {budget.describe()}; the cheapest is "
            f"{cheapest.label} at {cost.gflops:.4g} GFLOPs, {cost.params_m:.4g} M params"
        )


def check_latency_is_satisfiable(space: SearchSpace, config: SearchConfig) -> None:
    """Times the candidate with the fewest multiply-adds per member (untrained: latency does not
    depend on weights); if even it breaks the latency budget, no search is started."""
    fitting = [c for c in space.candidates() if not over_budget(c, config.budget)]
    quickest = min(fitting, key=lambda c: (estimate(c).max_member_gflops, estimate(c).gflops))
    reasons, _ = latency_excess(measure(quickest, config), config)
    if reasons:
        raise InfeasibleBudgetError(
            f"no candidate of space '{space.name}' fits {config.budget.describe()}: the one with "
            f"the fewest multiply-adds, {quickest.label}, measures {'; '.join(reasons)}"
        )


@dataclass(frozen=True)
class PreparedSearch:
    space: SearchSpace
    data: DataSource
    study: optuna.Study
    url: str
    startup: dict[str, float] = field(default_factory=dict)  # seconds: data index, costs


def prepare(config: SearchConfig) -> PreparedSearch:
    """Loads data, checks the device and the budget, opens (or creates and seeds) the study;
    trains nothing."""
    resolve_device(config.device)  # a device this machine lacks: one line, nothing stored
    begun = time.perf_counter()
    data = load_data(
        config.data, config.data_dir, seed=SPLIT_SEED, mode=config.data_mode,
        workers=config.data_workers, cache_dir=config.runs_dir,
    )  # fmt: skip
    space = config.space.with_data(data.in_channels, data.num_classes)
    loaded = time.perf_counter()
    check_budget_is_satisfiable(space, config.budget)
    startup = {"data": loaded - begun, "costs": time.perf_counter() - loaded}
    if config.budget.needs_latency:
        check_latency_is_satisfiable(space, config)
    url = config.storage or default_storage_url(config.runs_dir)
    storage = open_storage(url, config.heartbeat_s, config.storage_outage_limit_s, config.worker)
    opened = time.perf_counter()  # a new study costs every candidate once (its anchor)
    study = open_study(
        storage, config.study_name, space, config.data, config.objective, config.seed,
        config.sampler, config.references,
    )  # fmt: skip
    startup["study"] = time.perf_counter() - opened
    if isinstance(study.sampler, FrontSampler) and config.budget.is_static:  # costed above
        study.sampler.restrict(lambda candidate: fits(candidate, config.budget))
    study.set_user_attr(attrs.BUDGET, config.budget.to_dict())
    study.set_user_attr(attrs.STOPPING, stopping_rule(config))
    study.set_user_attr(attrs.MEASUREMENT, {"latency_runtime": config.latency_runtime})
    return PreparedSearch(space, data, study, url, startup)


def stopping_rule(config: SearchConfig) -> dict[str, object]:
    """The sampler, early-stopping rule and reference order of the latest run; workers that
    join the study use them too."""
    return {"sampler": config.sampler, "stopping": config.stopping, "asha_eta": config.asha_eta,
            "asha_min_epochs": config.asha_min_epochs, "references": config.references}  # fmt: skip


def study_records(study_name: str, storage: str) -> list[TrialRecord]:
    return read_records(optuna.load_study(study_name=study_name, storage=open_storage(storage)))


def target_of(study: optuna.Study, config: SearchConfig) -> int:
    if config.trial_target == "total":
        return config.n_trials
    return run_target(study.user_attrs, config.n_trials, slots_used(study)[0])


def run_search(
    config: SearchConfig, out: Callable[[str], None] = print, prepared: PreparedSearch | None = None
) -> SearchSummary:
    prepared = prepared or prepare(config)
    return SearchLoop(prepared, config, Progress(out, config.objective, config.worker)).run()


class SearchLoop:
    POLL_S = 1.0

    def __init__(self, prepared: PreparedSearch, config: SearchConfig, progress: Progress) -> None:
        self.prepared, self.study, self.config, self.progress = (
            prepared,
            prepared.study,
            config,
            progress,
        )
        self.target = target_of(self.study, config)
        self.last_waited_for = 0
        self.failures = 0
        self.objective = TrialObjective(
            prepared.space, prepared.data, config, progress, self.target
        )
        self.racer = Racer(self.study, prepared.data, config, progress)
        self.free_slot = False  # set by work_left: a slot no trial or reference holds
        self.propose = True  # set by work_left: False while others hold every slot left

    def run(self) -> SearchSummary:
        config, summary = self.config, SearchSummary(self.config.study_name, self.prepared.url)
        finished = [t for t in self.study.get_trials(deepcopy=False) if t.state.is_finished()]
        self.progress.start(
            config, self.prepared.space, self.prepared.data, len(finished), self.target
        )
        self.progress.startup(self.prepared.startup)
        start, idle = time.perf_counter(), 0
        while idle < MAX_IDLE_PROPOSALS:
            if config.timeout_s is not None and time.perf_counter() - start > config.timeout_s:
                self.progress.out(f"timeout of {config.timeout_s:g} s reached")
                break
            if not self.work_left():
                self.close_contests(summary)
                break
            if not self.propose:
                continue
            if self.free_slot and self.racer.step():
                summary.counts["confirmation runs"] = summary.counts.get("confirmation runs", 0) + 1
                idle = 0
                self.progress.front(self.publish_front())
                continue
            status = self.one_trial()
            summary.counts[status] = summary.counts.get(status, 0) + 1
            idle = 0 if status in ("trained", "pruned", "failed", "surplus") else idle + 1
            self.count_failures(status)
        if idle >= MAX_IDLE_PROPOSALS:
            self.progress.out(
                f"stopped: the last {idle} proposals were all infeasible or already trained"
            )
        summary.seconds = time.perf_counter() - start
        self.progress.finish(summary, read_records(self.study))
        return summary

    def work_left(self) -> bool:
        """Enqueues lost candidates and untrained references, then says whether this worker
        should start a trial; waits (returning True) while others hold the last slots."""
        space = self.prepared.space
        references = space.reference_candidates()
        fail_stale_trials(self.study)  # a killed worker's trial first, so it is enqueued now
        trials = self.study.get_trials(deepcopy=False)  # one read for the whole step
        study_attrs = self.study.user_attrs
        done, running = slots_used(self.study, trials, study_attrs)  # queued trials hold none
        pending, running_references = pending_references(
            self.study, references, space.trial_params, trials
        )
        due = self.references_due(done + running, len(pending))
        requeued = requeue_lost(self.study, references if due else [], space.trial_params, trials)
        self.report_requeued(requeued, {r.label for r in pending})
        if requeued:
            trials = self.study.get_trials(deepcopy=False)
        self.free_slot, self.propose = False, True
        if pending and due:  # the target never stops a study before its references are trained
            return True
        confirms = sum(confirmation_count(self.study, study_attrs))
        self.objective.target = self.target - confirms  # the slots left to trials
        if done >= self.target and not running_references:
            return False
        if done + running >= self.target or done >= self.target:
            self.wait_for_others(running)  # others hold the last slots or train a reference
            # a new proposal could only be surplus; a queued retry still trains (it holds a slot)
            self.propose = any(t.state == TrialState.WAITING for t in trials)
        else:
            self.free_slot = True
        return True

    def references_due(self, used: int, pending: int) -> bool:
        """Untrained references train now: always when they come first; when they come last,
        once the slots left are the ones they hold (claim.py keeps those from proposals)."""
        return self.config.references == "first" or used + pending >= self.target

    def report_requeued(self, labels: list[str], references: set[str]) -> None:
        for label in labels:
            if label in references and self.config.references == "last":
                self.progress.out(f"queued: {label} (a reference, trained in the run's last slots)")
            else:
                self.progress.out(f"enqueued again: {label} (its last trial was lost or failed)")

    def close_contests(self, summary: SearchSummary) -> None:
        """The slots are spent: contested front points still on one seed get a second seed
        (beyond the target, within the share), so the front the run ends with states none
        of its contests on a single run."""
        while self.racer.step(closing=True):
            key = "closing confirmation runs"
            summary.counts[key] = summary.counts.get(key, 0) + 1
            self.progress.front(self.publish_front())

    def count_failures(self, status: str) -> None:
        """A failure that repeats for every candidate (a bad device, a full disk) stops the run
        after MAX_CONSECUTIVE_FAILURES, naming the last error, instead of looping forever."""
        if status in ("trained", "pruned"):
            self.failures = 0
        elif status == "failed":
            self.failures += 1
            if self.failures >= MAX_CONSECUTIVE_FAILURES:
                raise RepeatedFailureError(
                    f"stopped after {self.failures} failed trials in a row; the last error: "
                    f"{self.objective.error or 'unknown'}"
                )

    def one_trial(self) -> str:
        try:
            self.study.optimize(self.objective, n_trials=1, catch=(DivcoError, RuntimeError))
        except ValueError as exc:
            if not failed_meanwhile(exc):
                raise
            self.progress.out("this trial was failed meanwhile by another worker (its heartbeat "
                              "came late); its candidate is queued again")  # fmt: skip
            return "lost"
        status = self.objective.status
        if status == "trained":
            self.progress.front(self.publish_front())
        return status

    def publish_front(self) -> list[TrialRecord]:
        """The front on seed means, also stored as a study attribute for peer clients."""
        cost_key = OBJECTIVE_ATTRS[self.config.objective]
        view = front_view(read_records(self.study), cost_key)
        self.study.set_user_attr(FRONT_ATTR, front_summary(view, cost_key))
        return view.front

    def wait_for_others(self, running: int) -> None:
        """Running trials of other workers either finish or, if their worker died, go stale."""
        if running != self.last_waited_for:  # say it once per change, not every poll
            self.progress.waiting(running)
            self.last_waited_for = running
        time.sleep(self.POLL_S)
        fail_stale_trials(self.study)
