"""The expected hypervolume gain: exact when the accuracy is known, the mean gain when it is not."""

from __future__ import annotations

import math

import numpy as np

from searcher.study.hypervolume_gain import expected_gain, expected_improvement, staircase

FRONT = [(-4.0, 0.80), (-3.5, 0.90), (-3.0, 0.95), (-3.2, 0.85)]  # the last one is dominated
FLOOR, LIMIT = 0.5, -2.0


def area(points: list[tuple[float, float]]) -> float:
    """Hypervolume by brute force on a fine grid of costs (accuracy up, log cost down)."""
    grid = np.linspace(-6.0, LIMIT, 80_001)[:-1]
    best = np.full_like(grid, FLOOR)
    for cost, accuracy in points:
        best = np.where(grid >= cost, np.maximum(best, accuracy), best)
    return float((best - FLOOR).sum() * (grid[1] - grid[0]))


def test_the_staircase_keeps_the_front_cheapest_first() -> None:
    assert staircase(FRONT, FLOOR) == [(-4.0, 0.80), (-3.5, 0.90), (-3.0, 0.95)]


def test_a_known_accuracy_gains_exactly_the_area_it_adds() -> None:
    steps = staircase(FRONT, FLOOR)
    for point in [(-4.5, 0.7), (-3.7, 0.92), (-3.2, 0.97), (-2.5, 0.99), (-3.4, 0.85)]:
        exact = area([*FRONT, point]) - area(FRONT)
        gain = expected_gain(point[0], math.log(1 - point[1]), 0.0, steps, FLOOR, LIMIT)
        assert math.isclose(gain, exact, abs_tol=1e-4), point
    assert expected_gain(-3.4, math.log(1 - 0.85), 0.0, steps, FLOOR, LIMIT) == 0.0  # dominated


def test_an_uncertain_accuracy_gains_the_mean_of_its_gains() -> None:
    steps, rng = staircase(FRONT, FLOOR), np.random.default_rng(0)
    mean, sd, cost = math.log(0.08), 0.6, -3.6
    accuracies = 1 - np.exp(rng.normal(mean, sd, 200_000))
    heights = [(-3.6, 0.80, -3.5), (-3.5, 0.90, -3.0), (-3.0, 0.95, LIMIT)]
    sampled = sum((end - start) * np.maximum(accuracies - h, 0).mean()
                  for start, h, end in heights)  # fmt: skip
    assert math.isclose(expected_gain(cost, mean, sd, steps, FLOOR, LIMIT), sampled, rel_tol=0.01)


def test_more_doubt_about_a_point_below_the_front_is_worth_more() -> None:
    certain = expected_improvement(math.log(0.2), 0.01, 0.9)
    doubtful = expected_improvement(math.log(0.2), 1.0, 0.9)
    assert certain < 1e-6 < doubtful


def test_nothing_is_gained_at_or_past_the_reference_cost() -> None:
    assert expected_gain(LIMIT, math.log(0.001), 1.0, staircase(FRONT, FLOOR), FLOOR, LIMIT) == 0.0
