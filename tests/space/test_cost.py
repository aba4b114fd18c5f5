from __future__ import annotations

import pytest

from space import Candidate, estimate

# The paper's table (Zhao et al.), CIFAR-100 heads at 32x32: (params M, GFLOPs) for S = 1, 2, 4.
PAPER_SIZES = [
    ("wide_resnet", 16, 8, 1, {1: (11.0, 1.55), 2: (12.4, 1.75), 4: (11.1, 1.58)}),
    ("wide_resnet", 28, 10, 1, {1: (36.5, 5.25), 2: (35.8, 5.16), 4: (36.7, 5.28)}),
    ("resnext", 29, 64, 8, {1: (34.4, 5.40), 2: (35.1, 5.49)}),
]
CASES = [
    (fam, depth, width, groups, s, sizes)
    for fam, depth, width, groups, table in PAPER_SIZES
    for s, sizes in table.items()
]


@pytest.mark.parametrize(("fam", "depth", "width", "groups", "networks", "expected"), CASES)
def test_cost_model_reproduces_the_papers_sizes_within_2_percent(
    fam: str, depth: int, width: int, groups: int, networks: int, expected: tuple[float, float]
) -> None:
    candidate = Candidate(fam, depth, width, groups=groups, networks=networks, num_classes=100)
    cost = estimate(candidate)
    params_m, gflops = expected
    assert cost.params_m == pytest.approx(params_m, rel=0.02)
    assert cost.gflops == pytest.approx(gflops, rel=0.02)


def test_cost_is_the_sum_over_members_and_scales_with_image_size() -> None:
    one = estimate(Candidate("resnet", 8, 16, networks=1, image_size=16))
    four = estimate(Candidate("resnet", 8, 16, networks=4, image_size=16))
    assert len(four.members) == 4
    assert four.gflops == pytest.approx(sum(m.gflops for m in four.members))
    assert four.max_member_gflops == pytest.approx(four.gflops / 4)
    bigger = estimate(Candidate("resnet", 8, 16, networks=1, image_size=32))
    # Convolutions dominate: four times the pixels, about four times the multiply-adds.
    assert bigger.gflops == pytest.approx(4 * one.gflops, rel=0.05)
    assert bigger.params_m == one.params_m


def test_cost_is_cached_per_candidate() -> None:
    candidate = Candidate("wide_resnet", 10, 1, networks=2, image_size=12)
    assert estimate(candidate) is estimate(candidate.replace())
