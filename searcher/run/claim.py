"""Which of several racing workers trains a candidate, and who holds the last slots of the target.

Optuna hands out trial numbers atomically at `ask`, before sampling; a trial's status is written
later. So the claim is ordered by trial number, and made safe under any interleaving by waiting:

1. the trial writes `claiming` (undecided);
2. it waits while a lower-numbered running trial is undecided (no status yet, or `claiming`)
   and could change its decision: one whose candidate is not written yet or is this one (it may
   be about to claim it), or any of them while they and this one could overrun the target
   between them (a lower trial decides without counting this one). With many workers proposing
   at once, waiting for every lower undecided trial made claims queue behind each other;
3. it then decides from what the lower-numbered and the finished trials say: a twin that trains
   or trained the candidate wins; so does a pruned twin once the candidate was retried (an
   early-stopping rule judges one seed's curve: a candidate it stopped and that the sampler
   proposes again trains once more, with a seed its stopped run did not use, so one unlucky seed
   does not drop a front point for good); otherwise, if the trained and training trials fill
   the target, this one is surplus; otherwise it writes `training`. A reference that none of those trials
   holds keeps a slot reserved: references train whatever the target says (a killed one is
   retried), so a slot taken from a lost reference would overshoot the target when it returns.

A higher-numbered twin never decides before this one has, so exactly one of two racing trials
of a candidate trains; a higher-numbered trial of another candidate decides first only when
every lower undecided trial could train beside it, so the trials that count toward the target
never exceed it (tests/searcher/test_load_claim.py tries random orders). A worker
that dies while undecided stops its heartbeat; the wait fails such stale trials and gives up
after `wait_limit_s` of working time (then the dead trial is ignored): time this process spent
waiting for an absent database does not count (searcher/study/outage.py), so a database restart
never lets a claim decide before the lower trials did.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from searcher.study import attrs
from searcher.study.outage import working_clock

CLAIMING = "claiming"
UNDECIDED = (None, CLAIMING)
COUNTED = ("trained", "pruned")  # finished statuses that use up the study's trial target
STALE_CHECK_S = 2.0  # how often a waiting claim looks for trials whose worker died
PRUNED_RETRIES = attrs.PRUNED_RETRIES  # runs a stopped candidate gets again when proposed again


def counts_toward_target(trial: FrozenTrial) -> bool:
    status = trial.user_attrs.get(attrs.STATUS)
    if trial.state == TrialState.RUNNING:  # a finished run writes its status just before its state
        return status == "training" or status in COUNTED
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) and status in COUNTED


@dataclass(frozen=True)
class Claim:
    outcome: Literal["training", "duplicate", "surplus"]
    twin: int | None = None  # the trial that trains (or trained) the candidate, for duplicates
    attempt: int = 0  # the candidate's earlier pruned runs (1 for a retry)
    retry_seed: int | None = None  # a retry's training seed: one above its pruned runs' seeds


def blocking_below(
    trials: list[FrozenTrial],
    number: int,
    candidate_id: str,
    target: int | None,
    references: frozenset[str] = frozenset(),
) -> list[int]:
    """The lower-numbered undecided trials this one must wait for: those that may be its twin
    (candidate not written yet, or the same), and all of them while they and this one could
    overrun the target between them (a lower trial decides without counting this one)."""
    undecided = [
        t
        for t in trials
        if t.number < number
        and t.state == TrialState.RUNNING
        and t.user_attrs.get(attrs.STATUS) in UNDECIDED
    ]
    twins = [t.number for t in undecided if t.user_attrs.get(attrs.CANDIDATE_ID) in (None, candidate_id)]  # fmt: skip
    if twins or target is None or not undecided:
        return twins
    ahead = counted_ahead(trials, number)
    held = {t.user_attrs.get(attrs.CANDIDATE_ID) for t in ahead}
    if len(ahead) + len(references - held) + len(undecided) + 1 > target:
        return [t.number for t in undecided]
    return []


def wait_for_lower_trials(
    study: optuna.Study,
    blocking: Callable[[list[FrozenTrial]], list[int]],
    poll: Callable[[], None],
    wait_limit_s: float,
    clock: Callable[[], float] = working_clock,
) -> list[FrozenTrial]:
    """Waits until no lower trial is `blocking`; returns the study's trials as last read.

    Between full reads it polls one row: the highest trial it waits for, which decides last
    (each waits for those below it). With 64 workers proposing at once a full read of every
    running trial per poll filled a 2-core machine (docs/benchmarks/workers-load.md). A full
    read decides; the poll only says "still waiting", so no decision rests on a partial view."""
    deadline, next_stale_check = clock() + wait_limit_s, clock()
    trials = study.get_trials(deepcopy=False)
    while clock() < deadline:
        waited = blocking(trials)
        if not waited:
            return trials
        while clock() < deadline:
            poll()
            if clock() >= next_stale_check:  # a dead worker's trial goes stale after ~3 beats
                fail_stale_trials(study)
                next_stale_check = clock() + STALE_CHECK_S
            if max(waited) not in blocking(refreshed(study, trials, max(waited))):
                break  # it moved on: read everything again
        trials = study.get_trials(deepcopy=False)
    return study.get_trials(deepcopy=False)  # a dead trial is ignored after the limit


def refreshed(study: optuna.Study, trials: list[FrozenTrial], number: int) -> list[FrozenTrial]:
    """`trials` with trial `number` read again from the storage (each trial exists from its
    `ask` on, so the lower ones are all in `trials` already)."""
    storage = study._storage  # the one way to read a single trial by id
    return [storage.get_trial(t._trial_id) if t.number == number else t for t in trials]


def fail_stale_trials(study: optuna.Study) -> None:
    """Marks the trials of workers that stopped beating as failed (a no-op without heartbeat)."""
    with warnings.catch_warnings():  # "experimental" since Optuna 2.9, stable in practice
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def counted_ahead(trials: list[FrozenTrial], number: int) -> list[FrozenTrial]:
    """The trials that count toward the target as trial `number` sees them: lower-numbered
    ones and finished ones (a higher-numbered running trial decides knowing of this one)."""
    return [
        t
        for t in trials
        if t.number != number
        and counts_toward_target(t)
        and (t.number < number or t.state != TrialState.RUNNING)
    ]


def decide(
    trials: list[FrozenTrial],
    number: int,
    candidate_id: str,
    target: int | None,
    references: frozenset[str] = frozenset(),
) -> Claim:
    """The decision of trial `number`, from the study's trials once the lower ones decided;
    `references` are the candidate ids that will train whatever the target (see the module)."""
    ahead = counted_ahead(trials, number)
    twins = sorted(
        (t for t in ahead if t.user_attrs.get(attrs.CANDIDATE_ID) == candidate_id),
        key=lambda t: t.number,
    )
    settled = next((t for t in twins if t.user_attrs.get(attrs.STATUS) != "pruned"), None)
    if settled is not None:
        return Claim("duplicate", settled.number)
    if len(twins) > PRUNED_RETRIES:
        return Claim("duplicate", twins[-1].number)
    held = {t.user_attrs.get(attrs.CANDIDATE_ID) for t in ahead}
    if target is not None and len(ahead) + len(references - held) >= target:
        return Claim("surplus")
    if not twins:
        return Claim("training")
    seed = 1 + max(int(t.user_attrs.get(attrs.SEED, 0)) for t in twins)
    return Claim("training", attempt=len(twins), retry_seed=seed)


def claim(
    trial: optuna.Trial,
    candidate_id: str,
    target: int | None,
    poll: Callable[[], None] = lambda: time.sleep(0.2),
    wait_limit_s: float = 60.0,
    clock: Callable[[], float] = working_clock,
    references: frozenset[str] = frozenset(),
) -> Claim:
    """Claims the candidate for this trial; `target` None exempts it (references always train).
    Writes `training` when it wins; the caller records duplicates and surplus trials."""
    trial.set_user_attr(attrs.STATUS, CLAIMING)

    def blocking(trials: list[FrozenTrial]) -> list[int]:
        return blocking_below(trials, trial.number, candidate_id, target, references)

    trials = wait_for_lower_trials(trial.study, blocking, poll, wait_limit_s, clock)
    decision = decide(trials, trial.number, candidate_id, target, references)
    if decision.outcome == "training":
        trial.set_user_attr(attrs.STATUS, "training")
    return decision
