from __future__ import annotations

import pytest

from space import Candidate, ConfigError, Recipe, build, divide, estimate
from space.cost import member_cost
from space.member import Architecture
from space.search_space import load_space
from space.suggest import suggest
from tests.space.test_candidate import FirstChoiceTrial

TEMPLATE = Candidate(
    "resnet", 8, 4, image_size=12, in_channels=1, recipe=Recipe(mode="independent")
)
MEMBERS = [
    Architecture("wide_resnet", 10, 1),
    Architecture("resnet", 14, 2),
    Architecture("resnet", 8, 4),
]


def test_heterogeneous_candidates_round_trip_and_are_canonical() -> None:
    hetero = TEMPLATE.with_members(MEMBERS)
    assert hetero.members == tuple(sorted(MEMBERS)) and hetero.networks == 3
    assert TEMPLATE.with_members(list(reversed(MEMBERS))) == hetero  # order does not matter
    assert Candidate.from_dict(hetero.to_dict()) == hetero
    assert Candidate.from_yaml(hetero.to_yaml()) == hetero
    assert Candidate.from_json(hetero.to_json()) == hetero
    assert Candidate.from_params(hetero.to_params(), TEMPLATE) == hetero
    assert hetero.id != TEMPLATE.with_members(MEMBERS[:2]).id
    assert hetero.label == "[ResNet-8 w4 + ResNet-14 w2 + WRN-10-1] @12px"


def test_members_are_built_as_given_and_cost_is_their_sum() -> None:
    hetero = TEMPLATE.with_members(MEMBERS)
    specs = divide(hetero)
    assert [(s.family, s.depth, s.width) for s in specs] == [
        (m.family, m.depth, m.width) for m in hetero.members
    ]
    assert [type(m).__name__ for m in build(hetero)] == ["ResNet", "ResNet", "WideResNet"]
    expected = sum(member_cost(spec, 12).gflops for spec in specs)
    assert estimate(hetero).gflops == pytest.approx(expected)
    assert estimate(hetero).params_m == pytest.approx(
        sum(member_cost(s, 12).params_m for s in specs)
    )


def test_invalid_heterogeneous_candidates_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 2 members"):
        TEMPLATE.with_members(MEMBERS[:1])
    with pytest.raises(ConfigError, match="unknown family 'vgg'"):
        TEMPLATE.with_members([Architecture("vgg", 8, 1), MEMBERS[0]])
    with pytest.raises(ConfigError, match="must be its first member's"):
        TEMPLATE.replace(members=tuple(MEMBERS))


def test_heterogeneous_space_enumerates_multisets_and_suggests_members() -> None:
    space = load_space("digits-hetero")
    assert space.kind == "heterogeneous"
    candidates = space.candidates()
    assert len(candidates) == len(set(candidates))
    assert {c.networks for c in candidates} == {2, 3, 4}
    picks = {"M": 2, "m0.family": "wide_resnet", "m1.family": "resnet", "m1.resnet.width": 8}
    trial = FirstChoiceTrial(picks)
    candidate = suggest(trial, space)
    assert [m.family for m in candidate.members] == ["resnet", "wide_resnet"]
    assert Candidate.from_params(trial.params, space.template()) == candidate


def test_the_largest_member_stands_in_for_the_undivided_network() -> None:
    from space import undivided

    baseline = undivided(TEMPLATE.with_members(MEMBERS))
    assert baseline.members == () and baseline.networks == 1
    assert baseline.architecture == Architecture(
        "wide_resnet", 10, 1
    )  # 0.08 M vs 0.003-0.005 M params
