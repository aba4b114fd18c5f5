"""Candidates as Optuna trial params and back: the names `space.suggest` gives the dimensions.

Homogeneous: "family", "<family>.depth|width|groups", "S", "image_size".
Heterogeneous: "M" (members), "m<i>.family", "m<i>.<family>.depth|width|groups", "image_size".
Per-family names make conditional parameters, which Optuna's samplers handle natively.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from space.member import Architecture

if TYPE_CHECKING:
    from space.candidate import Candidate

FAMILY = "family"
NETWORKS = "S"
MEMBERS = "M"
IMAGE_SIZE = "image_size"
INIT = "init"  # recipe init, where the space searches it (`inits`); absent means scratch
PER_FAMILY = ("depth", "width", "groups")


def member_prefix(index: int) -> str:
    return f"m{index}."


def to_params(candidate: Candidate) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if candidate.members:
        params[MEMBERS] = len(candidate.members)
        for i, arch in enumerate(candidate.members):
            params.update(_arch_params(arch, member_prefix(i)))
    else:
        params.update(_arch_params(candidate.architecture, ""))
        params[NETWORKS] = candidate.networks
    params[IMAGE_SIZE] = candidate.image_size
    if candidate.recipe.init != "scratch":
        params[INIT] = candidate.recipe.init
    return params


def from_params(params: dict[str, Any], template: Candidate) -> Candidate:
    image_size = params.get(IMAGE_SIZE, template.image_size)
    if INIT in params:
        template = template.replace(recipe=dataclasses.replace(template.recipe, init=params[INIT]))
    if MEMBERS in params:
        members = [_arch_from(params, member_prefix(i), template) for i in range(params[MEMBERS])]
        return template.with_members(members, image_size=image_size)
    arch = _arch_from(params, "", template)
    return template.replace(
        family=arch.family, depth=arch.depth, width=arch.width, groups=arch.groups,
        networks=params.get(NETWORKS, template.networks), image_size=image_size, members=(),
    )  # fmt: skip


def _arch_params(arch: Architecture, prefix: str) -> dict[str, Any]:
    params: dict[str, Any] = {f"{prefix}{FAMILY}": arch.family}
    for name in PER_FAMILY:
        params[f"{prefix}{arch.family}.{name}"] = getattr(arch, name)
    return params


def _arch_from(params: dict[str, Any], prefix: str, template: Candidate) -> Architecture:
    name = params[f"{prefix}{FAMILY}"]
    values = {k: params.get(f"{prefix}{name}.{k}", getattr(template, k)) for k in PER_FAMILY}
    return Architecture(family=name, **values)
