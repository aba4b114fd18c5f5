"""The front sampler: whole candidates, never one already settled, the largest expected gain first."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from searcher.study import attrs
from searcher.study.front_model import MAX_RUNS, FrontModel
from searcher.study.front_sampler import FrontSampler
from searcher.study.open import open_study
from searcher.study.sampler import SnapshotTPESampler
from searcher.study.seeds import confirmation_key
from space.candidate import Candidate
from space.search_space import SearchSpace, load_space
from space.suggest import suggest


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return load_space("digits")


def cost(c: Candidate) -> float:
    """A made-up cost that rises with size, so tests need no cost model."""
    return c.depth * c.width**2 * c.image_size**2 * 1e-9 * (1 + 0.1 * c.networks)


def truth(c: Candidate) -> float:
    """A made-up accuracy: rises with the cost; S = 4, the Wide ResNets and 8 px cost accuracy,
    so most candidates are dominated (as on digits: 15 of 90 on the front)."""
    penalty = (
        0.12 * (c.networks == 4) + 0.1 * (c.family == "wide_resnet") + 0.06 * (c.image_size == 8)
    )
    return 1 - 0.5 * math.exp(-0.8 * (math.log10(cost(c)) + 6)) - penalty


def sampler(space: SearchSpace, seed: int = 0) -> FrontSampler:
    return FrontSampler(space, {c.id: cost(c) for c in space.candidates()}, seed)


def study_of(space: SearchSpace, seed: int = 0) -> optuna.Study:
    return optuna.create_study(directions=["maximize", "minimize"], sampler=sampler(space, seed))


def store(study: optuna.Study, c: Candidate, state: TrialState, status: str | None = None) -> None:
    """A trial of `c` in the given state, as `searcher run` leaves one."""
    study.enqueue_trial(c.to_params())
    trial = study.ask()
    suggest(trial, study._space)  # type: ignore[attr-defined]
    if status:
        trial.set_user_attr(attrs.STATUS, status)
    if state == TrialState.COMPLETE:
        study.tell(trial, [truth(c), cost(c)])
    elif state != TrialState.RUNNING:
        study.tell(trial, state=state)


def settled_but(space: SearchSpace, left: Candidate) -> optuna.Study:
    study = study_of(space)
    study._space = space  # type: ignore[attr-defined]
    for c in space.candidates():
        if c != left:
            store(study, c, TrialState.COMPLETE)
    return study


def next_proposal(study: optuna.Study, space: SearchSpace) -> dict:
    chooser: FrontSampler = study.sampler  # type: ignore[assignment]
    return chooser.choose(study.get_trials(deepcopy=False))


def test_it_proposes_the_one_candidate_left_and_retries_a_stopped_one_once(space) -> None:
    left = space.candidates()[17]
    study = settled_but(space, left)
    assert next_proposal(study, space) == space.trial_params(left)
    store(study, left, TrialState.PRUNED, "pruned")  # stopped: one retry
    assert next_proposal(study, space) == space.trial_params(left)
    store(study, left, TrialState.PRUNED, "pruned")  # stopped again
    assert next_proposal(study, space) == {}


@pytest.mark.parametrize(("state", "status"), [(TrialState.RUNNING, "training"),
                                               (TrialState.PRUNED, "infeasible"),
                                               (TrialState.COMPLETE, "trained")])  # fmt: skip
def test_it_never_proposes_a_running_infeasible_or_trained_candidate(space, state, status) -> None:
    left = space.candidates()[5]
    study = settled_but(space, left)
    store(study, left, state, status)
    assert next_proposal(study, space) == {}


def test_it_proposes_the_candidate_expected_to_top_the_front(space, monkeypatch) -> None:
    study = study_of(space)
    study._space = space  # type: ignore[attr-defined]
    for c in space.candidates()[::9]:
        store(study, c, TrialState.COMPLETE)
    chooser: FrontSampler = study.sampler  # type: ignore[assignment]
    untried = [c for c in space.candidates() if c not in space.candidates()[::9]]
    cheapest = min(untried, key=cost)
    belief = np.full(len(chooser.model.ids), math.log(0.5))  # below every trained point
    belief[chooser.model.index[cheapest.id]] = math.log(1e-3)  # near-perfect and the cheapest
    monkeypatch.setattr(chooser.model, "fit", lambda runs: (belief, np.full_like(belief, 0.05)))
    assert next_proposal(study, space) == space.trial_params(cheapest)


def hypervolume(points: list[tuple[float, float]], floor: float, limit: float) -> float:
    """(accuracy, log cost) points: the area they dominate above `floor`, left of `limit`."""
    area, best = 0.0, floor
    ordered = sorted((g, a) for a, g in points)
    for (g, a), (following, _) in zip(ordered, [*ordered[1:], (limit, 0.0)], strict=True):
        best = max(best, a)
        area += (following - g) * (best - floor)
    return area


def test_a_search_proposes_each_candidate_once_and_holds_the_front_sooner_than_uniform_order(
    space,
) -> None:
    """On the made-up truth: trials until what was trained holds 99 % of the front's
    hypervolume, against the same for uniformly random orders."""
    points = {c.id: (truth(c), math.log10(cost(c))) for c in space.candidates()}
    floor, limit = min(a for a, _ in points.values()), max(g for _, g in points.values())
    goal = 0.99 * hypervolume(list(points.values()), floor, limit)

    def trials_to_goal(order: list[str]) -> int:
        return next(n for n in range(1, len(order) + 1)
                    if hypervolume([points[k] for k in order[:n]], floor, limit) >= goal)  # fmt: skip

    def searched(seed: int) -> list[str]:
        study, seen = study_of(space, seed), []
        for _ in range(len(points)):
            trial = study.ask()
            c = suggest(trial, space)
            assert c.id not in seen  # never a candidate twice
            seen.append(c.id)
            study.tell(trial, [truth(c), cost(c)])
            if trials_to_goal(seen + list(set(points) - set(seen))) <= len(seen):
                break
        return seen

    rng = np.random.default_rng(0)
    uniform = [trials_to_goal(list(rng.permutation(list(points)))) for _ in range(100)]
    assert max(len(searched(seed)) for seed in range(3)) < np.median(uniform) / 2


def test_a_study_searches_with_it_unless_the_objective_is_measured_latency(space) -> None:
    storage = optuna.storages.InMemoryStorage()
    study = open_study(storage, "g", space, "digits", "gflops", seed=0)
    assert isinstance(study.sampler, FrontSampler)
    assert isinstance(open_study(storage, "l", space, "digits", "latency").sampler,
                      SnapshotTPESampler)  # fmt: skip
    assert isinstance(open_study(storage, "t", space, "digits", "gflops", sampler="tpe").sampler,
                      SnapshotTPESampler)  # fmt: skip


def test_it_learns_from_every_confirmation_seed_of_a_trained_trial(space, monkeypatch) -> None:
    study = study_of(space)
    study._space = space  # type: ignore[attr-defined]
    for c in space.candidates()[:6]:
        store(study, c, TrialState.COMPLETE)
    first = study.get_trials()[0]
    study.set_user_attr(confirmation_key(first.number), {"0": first.values[0], "1": 0.5, "2": 0.6})
    chooser: FrontSampler = study.sampler  # type: ignore[assignment]
    seen: list = []
    fitted = chooser.model.fit
    monkeypatch.setattr(chooser.model, "fit", lambda runs: seen.append(runs) or fitted(runs))
    trial = study.ask()
    suggest(trial, space)
    cid = space.candidates()[0].id
    assert sorted(a for c, a in seen[0] if c == cid) == sorted([first.values[0], 0.5, 0.6])
    assert len(seen[0]) == 6 + 2


def test_a_large_study_fits_the_model_on_a_bounded_number_of_rows(space) -> None:
    chooser = sampler(space)
    ids = chooser.model.ids
    many_seeds = [(cid, 0.9 + 0.001 * k) for cid in ids[:80] for k in range(10)]  # 800 runs
    means = chooser.model.bounded(many_seeds)
    assert len(means) == 80 and dict(means)[ids[0]] == pytest.approx(0.9045)
    assert chooser.model.bounded(many_seeds[:MAX_RUNS]) == many_seeds[:MAX_RUNS]


def test_past_the_bound_in_candidates_a_seeded_subset_is_fitted() -> None:
    model = FrontModel({str(i): [float(i), float(i % 7)] for i in range(MAX_RUNS + 200)}, seed=0)
    runs = [(cid, 0.9) for cid in model.ids]
    subset = model.bounded(runs)
    assert len(subset) == MAX_RUNS == len(set(subset)) and subset == model.bounded(runs)


def test_restricted_to_a_budget_it_proposes_only_candidates_that_fit(space) -> None:
    study = study_of(space)
    chooser: FrontSampler = study.sampler  # type: ignore[assignment]
    limit = sorted(cost(c) for c in space.candidates())[30]
    chooser.restrict(lambda c: cost(c) <= limit)
    proposed = []
    for _ in range(20):
        trial = study.ask()
        c = suggest(trial, space)
        proposed.append(cost(c))
        study.tell(trial, [truth(c), cost(c)])
    assert max(proposed) <= limit
