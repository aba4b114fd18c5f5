"""What 32 racing stand-in workers found (benchmarks/workers_load.py): a trial that has written
its final status but not yet its final state still holds its slot and its candidate."""

from __future__ import annotations

import random

import optuna
import pytest

from searcher.run.claim import CLAIMING, blocking_below, claim, counts_toward_target, decide
from searcher.study import attrs


@pytest.mark.parametrize("status", ["trained", "pruned"])
def test_a_finishing_trial_still_counts_toward_the_target(status: str) -> None:
    """A trained trial writes `status: trained`, then Optuna's `tell` makes it COMPLETE; a claim
    read in between saw neither `training` nor a finished trial, and trained one too many."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    finishing, other = study.ask(), study.ask()
    finishing.set_user_attr(attrs.CANDIDATE_ID, "a")
    finishing.set_user_attr(attrs.STATUS, "training")
    finishing.set_user_attr(attrs.STATUS, status)  # still RUNNING: tell comes next
    assert counts_toward_target(study.trials[0])
    other.set_user_attr(attrs.CANDIDATE_ID, "b")
    assert claim(other, "b", target=1, poll=pytest.fail).outcome == "surplus"


def test_a_finishing_twin_is_not_trained_again() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    finishing, twin = study.ask(), study.ask()
    for trial in (finishing, twin):
        trial.set_user_attr(attrs.CANDIDATE_ID, "a")
    finishing.set_user_attr(attrs.STATUS, "trained")
    decision = claim(twin, "a", target=10, poll=pytest.fail)
    assert decision.outcome == "duplicate" and decision.twin == finishing.number


def asked(study: optuna.Study, ids: list[str | None]) -> list[optuna.Trial]:
    trials = [study.ask() for _ in ids]
    for trial, cid in zip(trials, ids, strict=True):
        if cid is not None:
            trial.set_user_attr(attrs.CANDIDATE_ID, cid)
    return trials


def test_a_claim_waits_only_for_lower_trials_that_can_change_its_decision() -> None:
    """64 workers proposing at once made each claim wait for every lower undecided trial; one
    of another candidate cannot make this one a duplicate, nor surplus while the target has
    room for all of them."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    _other, mine = asked(study, ["a", "b"])
    assert claim(mine, "b", target=10, poll=pytest.fail).outcome == "training"
    unnamed = optuna.create_study(directions=["maximize", "minimize"])
    _proposing, mine = asked(unnamed, [None, "b"])  # its candidate not written yet: may be b
    waited: list[int] = []
    claim(mine, "b", target=10, poll=lambda: waited.append(1), wait_limit_s=0.05)
    assert waited
    full = optuna.create_study(directions=["maximize", "minimize"])
    _other, mine = asked(full, ["a", "b"])  # target 2: both fit, no wait; target 1: wait
    assert claim(mine, "b", target=2, poll=pytest.fail).outcome == "training"


@pytest.mark.parametrize("seed", range(40))
def test_any_order_the_narrowed_wait_allows_keeps_the_target_and_trains_once(seed: int) -> None:
    """Claims decided in a random order, each only once nothing blocks it: never more trained
    than the target, never a candidate twice, whatever the order."""
    rng = random.Random(seed)
    study = optuna.create_study(directions=["maximize", "minimize"])
    done = [study.ask() for _ in range(rng.randrange(4))]
    for trial, cid in zip(done, rng.sample(range(6), len(done)), strict=True):
        trial.set_user_attr(attrs.CANDIDATE_ID, f"c{cid}")
        trial.set_user_attr(attrs.STATUS, "training")
    trials = asked(study, [f"c{rng.randrange(6)}" for _ in range(12)])
    target = rng.randrange(3, 10)
    for trial in trials:
        trial.set_user_attr(attrs.STATUS, CLAIMING)
    pending = list(trials)
    while pending:
        stored = study.get_trials(deepcopy=False)
        ready = [t for t in pending if not blocking_below(stored, t.number, t.user_attrs[attrs.CANDIDATE_ID], target)]  # fmt: skip
        trial = rng.choice(ready)
        pending.remove(trial)
        outcome = decide(stored, trial.number, trial.user_attrs[attrs.CANDIDATE_ID], target).outcome
        trial.set_user_attr(attrs.STATUS, outcome)
    counted = [t for t in study.get_trials(deepcopy=False) if counts_toward_target(t)]
    ids = [t.user_attrs[attrs.CANDIDATE_ID] for t in counted]
    assert len(counted) <= max(target, len(done)) and len(set(ids)) == len(ids)
