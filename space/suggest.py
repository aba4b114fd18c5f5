"""The one adapter between Optuna's trial API and `Candidate`.

It only needs `suggest_categorical`, so `space` does not import optuna. Per-family dimensions are
conditional parameters named "<family>.depth" etc., which Optuna's samplers handle natively.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from space.candidate import Candidate
from space.params import FAMILY, IMAGE_SIZE, INIT, MEMBERS, NETWORKS, PER_FAMILY, member_prefix
from space.search_space import SearchSpace


class SuggestsCategorical(Protocol):
    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def suggest(trial: SuggestsCategorical, space: SearchSpace) -> Candidate:
    params: dict[str, Any] = {}
    if space.kind == "heterogeneous":
        count = trial.suggest_categorical(MEMBERS, list(space.networks))
        params[MEMBERS] = count
        for i in range(count):
            params.update(_suggest_architecture(trial, space, member_prefix(i)))
    else:
        params.update(_suggest_architecture(trial, space, ""))
        params[NETWORKS] = trial.suggest_categorical(NETWORKS, list(space.networks))
    params[IMAGE_SIZE] = trial.suggest_categorical(IMAGE_SIZE, list(space.image_sizes))
    if space.inits:
        params[INIT] = trial.suggest_categorical(INIT, list(space.inits))
    return Candidate.from_params(params, space.template())


def _suggest_architecture(
    trial: SuggestsCategorical, space: SearchSpace, prefix: str
) -> dict[str, Any]:
    name = trial.suggest_categorical(f"{prefix}{FAMILY}", space.family_names)
    choices = space.families[name]
    params: dict[str, Any] = {f"{prefix}{FAMILY}": name}
    for key in PER_FAMILY:
        params[f"{prefix}{name}.{key}"] = trial.suggest_categorical(
            f"{prefix}{name}.{key}", list(choices.options(key))
        )
    return params
