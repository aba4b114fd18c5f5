from __future__ import annotations

from pathlib import Path

import pytest

from space import ConfigError
from space.budget import Budget, fits, over_budget
from space.cost import estimate
from space.search_space import load_space, preset_names


def test_presets_load_and_enumerate_valid_candidates() -> None:
    assert {"digits", "cifar", "imagenet"} <= set(preset_names())
    digits = load_space("digits")
    candidates = digits.candidates()
    assert len(candidates) == len(set(candidates)) == 90
    assert {c.in_channels for c in candidates} == {1}


def test_references_cover_every_s_of_the_space() -> None:
    digits = load_space("digits")
    refs = digits.reference_candidates()
    assert [c.networks for c in refs if c.family == "resnet"] == [1, 2, 4]
    assert all(ref in digits.candidates() for ref in refs)


def test_digits_preset_spans_a_wide_cost_range() -> None:
    costs = [estimate(c).gflops for c in load_space("digits").candidates()]
    assert max(costs) / min(costs) > 100


def test_fingerprint_changes_with_what_the_space_proposes() -> None:
    digits = load_space("digits")
    assert digits.fingerprint == load_space("digits").fingerprint
    assert digits.with_recipe(epochs=1).fingerprint != digits.fingerprint


def test_budget_feasibility_comes_from_the_cost_model() -> None:
    candidates = load_space("digits").candidates()
    cheapest = min(candidates, key=lambda c: estimate(c).gflops)
    dearest = max(candidates, key=lambda c: estimate(c).gflops)
    budget = Budget(gflops=estimate(cheapest).gflops * 1.01)
    assert fits(cheapest, budget)
    assert not fits(dearest, budget)
    assert "GFLOPs >" in over_budget(dearest, budget)[0]
    assert not fits(dearest, Budget(params_m=1e-4))


@pytest.mark.parametrize("value", [0, -1.0])
def test_budget_must_be_positive(value: float) -> None:
    with pytest.raises(ConfigError, match="must be > 0"):
        Budget(gflops=value)


SPACE = """
families:
  resnet: {depths: [8], widths: [4]}
networks: [1, 2]
image_sizes: [8]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("families: [resnet", "malformed YAML"),
        (SPACE + "colour: red\n", "unknown key\\(s\\) colour; valid: description, families"),
        (SPACE.replace("resnet:", "vgg:"), "unknown family 'vgg'; valid: .*, resnet, "),
        (SPACE.replace("depths: [8]", "depths: [9]"), "depth 9 is not allowed for family 'resnet'"),
        (SPACE.replace("widths", "width"), "unknown .* families.resnet key\\(s\\) width"),
        (SPACE.replace("[1, 2]", "[0]"), "S \\(networks\\) 0 is not allowed"),
        (SPACE.replace("image_sizes: [8]", "image_sizes: [4]"), "image_size 4 is not allowed"),
        (SPACE.replace("[1, 2]", "[one]"), "networks must be a non-empty list of integers"),
        (SPACE + "recipe: {epochs: 0}\n", "recipe epochs=0 is not allowed"),
    ],
)
def test_bad_space_files_are_refused_with_one_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_space(str(path))


def test_unknown_preset_and_missing_file() -> None:
    with pytest.raises(
        ConfigError, match="unknown space preset 'tiny'; valid: cifar, cifar-hetero, digits"
    ):
        load_space("tiny")
    with pytest.raises(ConfigError, match="does not exist"):
        load_space("missing.yaml")


def test_space_round_trips_through_its_dict() -> None:
    from space.search_space import space_from_dict

    for name in ("digits", "cifar"):
        space = load_space(name)
        back = space_from_dict(space.to_dict(), name)
        assert back == space and back.fingerprint == space.fingerprint
