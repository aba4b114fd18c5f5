"""What 32 racing stand-in workers found (benchmarks/workers_load.py): a trial that has written
its final status but not yet its final state still holds its slot and its candidate."""

from __future__ import annotations

import optuna
import pytest

from searcher.run.claim import claim, counts_toward_target
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
