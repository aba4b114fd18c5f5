"""The front sampler's costs: counted at the smallest image size, scaled by the input's area."""

from __future__ import annotations

import math

import pytest

from space.cost import approximate_gflops, estimate
from space.search_space import load_space


@pytest.mark.parametrize("preset", ["digits", "digits-hetero"])
def test_scaled_costs_are_within_a_hundredth_of_a_decade_of_the_counts(preset: str) -> None:
    space = load_space(preset)
    candidates = space.candidates()[::7]  # every size of the space, a seventh of its candidates
    assert len({c.image_size for c in candidates}) == len(space.image_sizes) > 1
    approximate = approximate_gflops(candidates)
    smallest = min(space.image_sizes)
    for c in candidates:
        exact = estimate(c).gflops
        error = abs(math.log10(approximate[c.id] / exact))
        assert error < 0.01 and (c.image_size > smallest or error == 0), c.label
