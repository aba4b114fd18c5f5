"""The one adapter between Optuna's trial API and `Candidate`.

It only needs `suggest_categorical`, so `space` does not import optuna. Per-family dimensions are
conditional parameters named "<family>.depth" etc., which Optuna's samplers handle natively.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from space.candidate import (
    FAMILY_PARAM,
    IMAGE_SIZE_PARAM,
    NETWORKS_PARAM,
    PER_FAMILY_PARAMS,
    Candidate,
)
from space.search_space import SearchSpace


class SuggestsCategorical(Protocol):
    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def suggest(trial: SuggestsCategorical, space: SearchSpace) -> Candidate:
    name = trial.suggest_categorical(FAMILY_PARAM, space.family_names)
    choices = space.families[name]
    params: dict[str, Any] = {FAMILY_PARAM: name}
    for key in PER_FAMILY_PARAMS:
        options = list(choices.options(key))
        params[f"{name}.{key}"] = trial.suggest_categorical(f"{name}.{key}", options)
    params[NETWORKS_PARAM] = trial.suggest_categorical(NETWORKS_PARAM, list(space.networks))
    params[IMAGE_SIZE_PARAM] = trial.suggest_categorical(IMAGE_SIZE_PARAM, list(space.image_sizes))
    return Candidate.from_params(params, space.template())
