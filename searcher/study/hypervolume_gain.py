"""The expected gain in a front's hypervolume from one more point whose cost is known.

divco's front is accuracy (maximised) against log10 cost (minimised), and a candidate's cost is
known before training: only its accuracy is uncertain. For a point at cost `c` the front's
hypervolume grows, on each step of the front's staircase right of `c`, by how far the point's
accuracy rises above that step. With a Gaussian belief about the accuracy the expectation is
closed-form: the sum over those steps of the step's width times the expected improvement over
its height (the one-objective EI of Jones et al. 1998). The belief is about the log error rate
(seed noise shrinks as accuracy nears 1: near-perfect candidates differ by a few images), so the
improvement is a log-normal's shortfall. No sampling, exact in two objectives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]  # (log10 cost, accuracy)


def staircase(points: Sequence[Point], floor: float) -> list[Point]:
    """The front's steps: (log cost where the step starts, best accuracy from there on),
    cheapest first, strictly rising; `floor` below the cheapest point."""
    steps: list[Point] = []
    for cost, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if accuracy > (steps[-1][1] if steps else floor):
            steps.append((cost, accuracy))
    return steps


def expected_improvement(mean: float, sd: float, height: float) -> float:
    """E[max(0, A - height)] where the error rate 1 - A is log-normal: log(1 - A) ~ N(mean, sd).

    The shortfall of a log-normal below 1 - height (a put option's price, Black-Scholes)."""
    strike = 1.0 - height
    if strike <= 0:
        return 0.0
    if sd <= 0:
        return max(0.0, strike - math.exp(mean))
    d = (math.log(strike) - mean) / sd
    return strike * _phi(d) - math.exp(mean + sd * sd / 2) * _phi(d - sd)


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def expected_gain(
    cost: float, mean: float, sd: float, steps: Sequence[Point], floor: float, limit: float
) -> float:
    """Expected hypervolume gain of a point at `cost` (log10) with log(1 - accuracy) ~ N(mean, sd), over
    the front `steps` (from `staircase`), up to the reference cost `limit`."""
    if cost >= limit:
        return 0.0
    height, start, gain = floor, cost, 0.0
    for step_cost, step_accuracy in steps:
        if step_cost <= cost:
            height = step_accuracy
            continue
        gain += (step_cost - start) * expected_improvement(mean, sd, height)
        height, start = step_accuracy, step_cost
        if step_cost >= limit:
            return gain
    return gain + (limit - start) * expected_improvement(mean, sd, height)
