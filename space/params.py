"""The names of the searched dimensions as Optuna trial params, per architecture.

Homogeneous: "family", "<family>.depth|width|groups", "S", "image_size".
Heterogeneous: "M" (members), "m<i>.family", "m<i>.<family>.depth|width|groups", "image_size".
Per-family names make conditional parameters, which Optuna's samplers handle natively.
`Candidate.to_params` / `Candidate.from_params` assemble a whole candidate from these; this
module knows architectures only, so it sits below the candidate.
"""

from __future__ import annotations

from typing import Any

from space.member import Architecture

FAMILY = "family"
NETWORKS = "S"
MEMBERS = "M"
IMAGE_SIZE = "image_size"
INIT = "init"  # recipe init, where the space searches it (`inits`); absent means scratch
PER_FAMILY = ("depth", "width", "groups")


def member_prefix(index: int) -> str:
    return f"m{index}."


def arch_params(arch: Architecture, prefix: str) -> dict[str, Any]:
    params: dict[str, Any] = {f"{prefix}{FAMILY}": arch.family}
    for name in PER_FAMILY:
        params[f"{prefix}{arch.family}.{name}"] = getattr(arch, name)
    return params


def arch_from(params: dict[str, Any], prefix: str, defaults: Any) -> Architecture:
    """The architecture under `prefix`; dimensions the params lack come from `defaults`."""
    name = params[f"{prefix}{FAMILY}"]
    values = {k: params.get(f"{prefix}{name}.{k}", getattr(defaults, k)) for k in PER_FAMILY}
    return Architecture(family=name, **values)
