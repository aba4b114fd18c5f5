"""Racing on hand-made points: who gets a further seed, what stays a tie, the cap."""

from __future__ import annotations

import math

import pytest

from searcher.run.racing import next_seeds
from searcher.study.contest import Point, mean_front, seed_spread, ties, unresolved_pairs

SPREAD = 0.01  # one seed's standard deviation: one point of accuracy


def point(key: int, cost: float, *accuracies: float) -> Point:
    return Point(key, cost, tuple(accuracies))


def test_seed_spread_pools_within_point_deviations_and_falls_back_to_the_prior() -> None:
    assert seed_spread([point(0, 1, 0.9)], prior=0.02) == 0.02
    points = [point(0, 1, 0.90, 0.92), point(1, 2, 0.80, 0.80, 0.83), point(2, 3, 0.5)]
    # squares: 2 * 0.01^2 + (0.01^2 + 0.01^2 + 0.02^2), freedom 1 + 2; the prior: 2 * 0.02^2, 2
    assert seed_spread(points, 0.02) == pytest.approx(math.sqrt((0.0008 + 0.0008) / 5))


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


def test_fewest_seeds_first_then_most_contested() -> None:
    points = [point(0, 1, 0.950), point(1, 2, 0.965), point(2, 3, 0.9651)]
    chosen = next_seeds(points, SPREAD)
    assert chosen[:2] == [1, 2]  # their gap is 0.01 points; 0 and 1 are 1.5 points apart
    assert set(chosen) == {0, 1, 2}
    points[1] = point(1, 2, 0.965, 0.965)
    assert next_seeds(points, SPREAD)[-1] == 1  # its second seed is what it has over the others


def test_front_points_before_the_points_that_could_join_it() -> None:
    # 1 is off the front (0 is cheaper and level), 2 is on it: 2 goes first though 1 is closer.
    points = [point(0, 1, 0.950), point(1, 2, 0.9499), point(2, 3, 0.960)]
    assert next_seeds(points, SPREAD) == [0, 2, 1]


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
