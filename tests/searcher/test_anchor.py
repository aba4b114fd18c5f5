"""The anchor: a new study is seeded with the space's cheapest candidate (after its references
when they come first)."""

from __future__ import annotations

import optuna
import pytest

from searcher.study.anchor import anchors
from searcher.study.open import open_study
from space.cost import estimate
from space.search_space import load_space


def test_the_anchor_is_the_cheapest_candidate_and_no_candidate_dominates_it() -> None:
    space = load_space("digits")
    (anchor,) = anchors(space)
    costs = sorted(estimate(c).gflops for c in space.candidates())
    assert estimate(anchor).gflops == costs[0] < costs[1]  # strictly cheapest: on every front
    assert anchor not in space.reference_candidates()


@pytest.mark.parametrize("references", ["first", "last"])
def test_a_new_study_is_seeded_with_its_references_if_first_then_the_anchor_once(
    references: str,
) -> None:
    space = load_space("digits")
    storage = optuna.storages.InMemoryStorage()
    study = open_study(storage, "s", space, "digits", "gflops", seed=0, references=references)  # type: ignore[arg-type]
    waiting = [
        t.system_attrs["fixed_params"]
        for t in study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    ]
    first = space.reference_candidates() if references == "first" else []
    seeded = [*first, *anchors(space)]
    assert waiting == [space.trial_params(c) for c in seeded]
    open_study(storage, "s", space, "digits", "gflops", seed=0, references=references)  # type: ignore[arg-type]
    assert len(study.get_trials()) == len(seeded)  # seeded once, not again on resume
