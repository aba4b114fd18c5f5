from __future__ import annotations

import pytest

from space import FAMILIES, Candidate, ConfigError, Recipe
from space.search_space import load_space
from space.suggest import suggest

FULL = Candidate(
    "resnext", 29, 4, networks=2, image_size=24, groups=8, stem="imagenet", in_channels=1,
    num_classes=100, recipe=Recipe(epochs=3, lr=0.05, mode="independent", time_limit_s=9.5),
)  # fmt: skip


def test_round_trips_through_dict_yaml_and_json() -> None:
    assert Candidate.from_dict(FULL.to_dict()) == FULL
    assert Candidate.from_yaml(FULL.to_yaml()) == FULL
    assert Candidate.from_json(FULL.to_json()) == FULL


def test_round_trips_through_trial_params() -> None:
    template = Candidate("resnet", 8, 2, recipe=FULL.recipe, stem="imagenet", in_channels=1)
    back = Candidate.from_params(FULL.to_params(), template.replace(num_classes=100))
    assert back == FULL


def test_id_is_stable_and_distinguishes_candidates() -> None:
    assert FULL.id == Candidate.from_json(FULL.to_json()).id
    assert len(FULL.id) == 12
    assert FULL.replace(networks=4).id != FULL.id
    assert FULL.replace(recipe=Recipe(epochs=4)).id != FULL.id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"family": "vgg"}, f"unknown family 'vgg'; valid: {', '.join(FAMILIES.keys())}$"),
        ({"depth": 30}, "depth 30 is not allowed for family 'resnext'; allowed: 9n\\+2"),
        ({"networks": 0}, "S \\(networks\\) 0 is not allowed; S must be >= 1"),
        ({"image_size": 7}, "image_size 7 is not allowed; it must be >= 8"),
        ({"width": 0}, "width 0 is not allowed"),
        ({"stem": "huge"}, "stem 'huge' is not allowed; allowed: cifar, imagenet"),
        ({"networks": 2.5}, "networks=2.5 is not an integer"),
    ],
)
def test_invalid_candidates_are_refused_with_the_allowed_values(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        FULL.replace(**changes)


def test_groups_only_for_grouped_families() -> None:
    with pytest.raises(ConfigError, match="groups 4 is not allowed for family 'resnet'"):
        Candidate("resnet", 8, 4, groups=4)


def test_unknown_keys_and_bad_yaml_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown candidate key\\(s\\) colour"):
        Candidate.from_dict(FULL.to_dict() | {"colour": "red"})
    with pytest.raises(ConfigError, match="unknown recipe key\\(s\\) epoch; valid: epochs"):
        Candidate.from_dict(FULL.to_dict() | {"recipe": {"epoch": 3}})
    with pytest.raises(ConfigError, match="malformed"):
        Candidate.from_yaml("family: [resnet")
    with pytest.raises(ConfigError, match="recipe mode 'both' is not allowed"):
        Recipe(mode="both")  # type: ignore[arg-type]


def test_yaml_numbers_in_exponent_form_are_read_as_numbers() -> None:
    text = FULL.to_yaml().replace("lr: 0.05", "lr: 5e-2")
    assert Candidate.from_yaml(text).recipe.lr == 0.05


class FirstChoiceTrial:
    """Duck-typed trial: what `suggest` needs of Optuna, recording what it was asked."""

    def __init__(self, picks: dict[str, object]) -> None:
        self.picks, self.params = picks, {}

    def suggest_categorical(self, name: str, choices: list[object]) -> object:
        value = self.picks.get(name, choices[0])
        assert value in choices
        self.params[name] = value
        return value


def test_suggest_builds_the_candidate_named_by_the_trial_params() -> None:
    space = load_space("digits")
    trial = FirstChoiceTrial({"family": "wide_resnet", "wide_resnet.width": 2, "S": 4})
    candidate = suggest(trial, space)
    assert (candidate.family, candidate.width, candidate.networks) == ("wide_resnet", 2, 4)
    assert candidate.to_params() == trial.params
    assert candidate.recipe == space.recipe
    assert candidate.in_channels == 1
