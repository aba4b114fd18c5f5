"""Racing on hand-made points: who gets a further seed, what stays a tie, the cap."""

from __future__ import annotations

import math

import pytest

from searcher.run.racing import next_seeds, settleable
from searcher.study.contest import (
    Point,
    accuracy_spread,
    closeness,
    mean_front,
    seed_spread,
    ties,
    unresolved_pairs,
)

SPREAD = 0.2  # one seed's standard deviation of log(1 - accuracy): one point of accuracy at 0.95


def point(key: int, cost: float, *accuracies: float) -> Point:
    return Point(key, cost, tuple(accuracies))


def test_seed_spread_pools_within_point_deviations_of_the_log_error_and_falls_back_to_the_prior() -> (
    None
):
    assert seed_spread([point(0, 1, 0.9)], prior=0.3) == 0.3
    # error rates 0.1 / 0.2 and 0.01 / 0.01 / 0.04: each log's deviation from its point's mean
    points = [point(0, 1, 0.9, 0.8), point(1, 2, 0.99, 0.99, 0.96), point(2, 3, 0.5)]
    half = math.log(2) / 2
    third = [math.log(0.01) - (2 * math.log(0.01) + math.log(0.04)) / 3] * 2
    third.append(math.log(0.04) - (2 * math.log(0.01) + math.log(0.04)) / 3)
    squares = 2 * 0.3**2 + 2 * half**2 + sum(d * d for d in third)  # the prior: 2 freedoms
    assert seed_spread(points, 0.3) == pytest.approx(math.sqrt(squares / (2 + 1 + 2)))


def test_the_same_gap_is_resolved_near_perfect_accuracy_and_not_far_from_it() -> None:
    # Seed noise scales with the error rate: one point apart at 0.85 is noise, at 0.99 it is not.
    assert accuracy_spread(SPREAD, 0.85) == pytest.approx(0.03)
    assert closeness(point(0, 1, 0.85), point(1, 2, 0.86), SPREAD) < 1
    assert closeness(point(0, 1, 0.985), point(1, 2, 0.995), SPREAD) > 1


def test_a_pair_of_agreeing_seeds_does_not_zero_the_spread() -> None:
    assert seed_spread([point(0, 1, 0.95, 0.95)], 0.01) == pytest.approx(0.01 * math.sqrt(2 / 3))


def test_mean_front_is_on_seed_means_cheapest_first() -> None:
    lucky = point(1, 2, 0.99, 0.85)  # one lucky seed, mean 0.92
    front = mean_front([point(0, 1, 0.93), lucky, point(2, 3, 0.95), point(3, 3, 0.94)])
    assert [p.key for p in front] == [0, 2]


def test_a_clear_loser_gets_no_further_seed() -> None:
    points = [point(0, 1, 0.90), point(1, 2, 0.97), point(2, 3, 0.80)]  # 2 is 17 points behind
    assert 2 not in next_seeds(points, SPREAD)
    assert all(2 not in pair for pair in unresolved_pairs(points, SPREAD))


def test_a_contested_front_point_gets_one() -> None:
    # 1 is on the front, half a point above the cheaper 0: one seed cannot tell them apart.
    points = [point(0, 1, 0.950), point(1, 2, 0.955), point(2, 3, 0.99)]
    chosen = next_seeds(points, SPREAD)
    assert set(chosen) == {0, 1} and chosen.count(1) == 1
    assert 2 not in chosen  # ten standard errors ahead of 1: resolved


def test_a_point_in_the_shadow_of_a_clear_dominator_gets_none() -> None:
    # 2 is level with 1 but 0 (cheaper) is far above it: 2's place does not hang on 1.
    points = [point(0, 1, 0.99), point(1, 2, 0.900), point(2, 3, 0.899)]
    assert next_seeds(points, SPREAD) == []


def test_fewest_seeds_first_then_the_largest_share_of_the_front() -> None:
    # All three on the front and contested; 1 holds 1.5 points over a decade of cost, 2 holds
    # 0.01 points, 0 (the least accurate) none of the area above the worst mean.
    points = [point(0, 1, 0.950), point(1, 10, 0.965), point(2, 11, 0.9651)]
    assert next_seeds(points, SPREAD) == [1, 2, 0]
    points[1] = point(1, 10, 0.965, 0.965)
    assert next_seeds(points, SPREAD)[-1] == 1  # its second seed is what it has over the others


def test_among_points_off_the_front_the_most_contested_first() -> None:
    points = [point(0, 1, 0.97), point(1, 2, 0.9690), point(2, 3, 0.9699), point(3, 4, 0.99)]
    assert next_seeds(points, SPREAD)[-2:] == [2, 1]  # 2 is closer to 0 than 1 is


def test_front_points_before_the_points_that_could_join_it() -> None:
    # 1 is off the front (0 is cheaper and level), 0 and 2 are on it: both go before 1, though
    # 1 is the closest to 0.
    points = [point(0, 1, 0.950), point(1, 2, 0.9499), point(2, 3, 0.960)]
    chosen = next_seeds(points, SPREAD)
    assert set(chosen[:2]) == {0, 2} and chosen[2] == 1


def test_the_cap_holds() -> None:
    points = [point(0, 1, 0.95, 0.96, 0.95), point(1, 2, 0.955)]
    assert next_seeds(points, SPREAD, cap=3) == [1]
    assert next_seeds(points, SPREAD, cap=2) == [1]
    assert next_seeds([point(0, 1, 0.95, 0.96), point(1, 2, 0.955, 0.96)], SPREAD, cap=2) == []


def test_a_tie_stays_a_tie() -> None:
    a = point(0, 1, 0.950, 0.952, 0.948)
    b = point(1, 2, 0.951, 0.953, 0.949)
    assert next_seeds([a, b], SPREAD, cap=3) == []
    assert ties([a, b], SPREAD, cap=3) == {frozenset({0, 1})}
    assert ties([a, b], SPREAD, cap=4) == set()  # below the cap it is still being raced


def test_a_third_seed_only_where_it_can_settle_the_pair() -> None:
    """Two seeds each, unresolved: a gap the cap would resolve if the means held earns a third
    seed; a gap that would stay inside the margin at the cap is a tie already (the closing
    pass spends nothing on it); a point on one seed always gets its second."""
    settles = [point(0, 1, 0.95, 0.95), point(1, 2, 0.962, 0.962)]
    stays = [point(0, 1, 0.95, 0.95), point(1, 2, 0.958, 0.958)]
    for points in (settles, stays):
        assert unresolved_pairs(points, SPREAD) == [(0, 1)]  # both contested at two seeds
    assert 1 in settleable(settles, SPREAD, cap=3) and 0 in settleable(settles, SPREAD, cap=3)
    assert 1 not in settleable(stays, SPREAD, cap=3) and 0 not in settleable(stays, SPREAD, cap=3)
    assert 1 in settleable(stays, SPREAD, cap=8)  # a much higher cap could still settle it
    assert 1 in settleable([point(0, 1, 0.95, 0.95), point(1, 2, 0.958)], SPREAD, cap=3)


def test_a_resolved_pair_is_no_tie() -> None:
    a = point(0, 1, 0.90, 0.90, 0.90)
    b = point(1, 2, 0.95, 0.95, 0.95)
    assert ties([a, b], SPREAD, cap=3) == set() and next_seeds([a, b], SPREAD) == []


def test_equal_cost_points_race_each_other() -> None:
    points = [point(0, 1, 0.950), point(1, 1, 0.951)]
    assert set(next_seeds(points, SPREAD)) == {0, 1}


def test_a_point_needs_an_accuracy() -> None:
    with pytest.raises(ValueError, match="no accuracy"):
        Point(0, 1.0, ())


def test_comparing_only_points_near_the_front_loses_no_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import random

    import searcher.study.contest as contest

    rng = random.Random(7)
    points = [
        point(k, rng.choice([1, 2, 3, 4, 5, 6]), *(rng.gauss(0.9, 0.03) for _ in range(rng.randint(1, 3))))
        for k in range(120)
    ]  # fmt: skip
    filtered = unresolved_pairs(points, SPREAD)
    assert len(contest.near_front(points, SPREAD)) < len(points) / 2
    monkeypatch.setattr(contest, "near_front", lambda points, spread, z: list(points))
    assert filtered == unresolved_pairs(points, SPREAD) != []
