from __future__ import annotations

import pytest
import torch

from space import FAMILIES, Candidate, build, divide
from space.families.base import Family, family
from space.registry import Registry


def small_candidate(name: str, networks: int, image_size: int, stem: str = "cifar") -> Candidate:
    """Each family's own `smallest` (depth, width, groups), so a new family is tested unchanged."""
    depth, width, groups = family(name).smallest
    return Candidate(
        name, depth, width, networks=networks, image_size=image_size, groups=groups,
        stem=stem, in_channels=1, num_classes=7,
    )  # fmt: skip


@pytest.mark.parametrize("name", FAMILIES.keys())
def test_every_registered_family_declares_a_valid_smallest_config(name: str) -> None:
    depth, width, groups = family(name).smallest
    family(name).check(name, depth, width, groups)


@pytest.mark.parametrize("name", FAMILIES.keys())
@pytest.mark.parametrize("networks", [1, 2, 4])
@pytest.mark.parametrize("image_size", [8, 20])
def test_family_builds_and_runs_forward(name: str, networks: int, image_size: int) -> None:
    torch.manual_seed(0)
    candidate = small_candidate(name, networks, image_size)
    members = build(candidate)
    assert len(members) == networks
    x = torch.randn(3, 1, image_size, image_size)
    for member in members:
        out = member.eval()(x)
        assert out.shape == (3, 7)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", FAMILIES.keys())
def test_imagenet_stem_builds(name: str) -> None:
    candidate = small_candidate(name, 2, 64, stem="imagenet").replace(in_channels=3)
    out = build(candidate)[0].eval()(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 7)


def test_division_rules_match_the_paper() -> None:
    wrn = [divide(Candidate("wide_resnet", 16, 8, networks=s))[0].width for s in (1, 2, 4)]
    assert wrn == [8, 6, 4]
    wrn28 = [divide(Candidate("wide_resnet", 28, 10, networks=s))[0].width for s in (1, 2, 4)]
    assert wrn28 == [10, 7, 5]
    resnext = [divide(Candidate("resnext", 29, 64, groups=8, networks=s))[0] for s in (1, 2, 4)]
    assert [m.groups for m in resnext] == [8, 4, 2]
    assert {m.width for m in resnext} == {64}
    resnet = [divide(Candidate("resnet", 110, 16, networks=s))[0].width for s in (1, 2, 4)]
    assert resnet == [16, 12, 8]
    # Outside the paper's table the stem width is divided by sqrt(S), at least 1 channel.
    assert divide(Candidate("resnet", 8, 10, networks=4))[0].width == 5
    assert divide(Candidate("resnet", 8, 2, networks=9))[0].width == 1


def test_members_of_a_divided_candidate_get_divided_dropout() -> None:
    from space.recipe import Recipe

    candidate = Candidate("resnet", 8, 16, networks=4, recipe=Recipe(dropout=0.2))
    assert [spec.dropout for spec in divide(candidate)] == pytest.approx([0.05] * 4)


def test_registry_refuses_duplicates_and_lists_keys_on_a_miss() -> None:
    registry: Registry[int] = Registry("thing")
    registry.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(2)
    with pytest.raises(KeyError, match="unknown thing 'b'; valid: a"):
        registry.get("b")


def test_family_lookup_is_through_the_registry() -> None:
    for name in FAMILIES:
        assert isinstance(family(name), Family)
