"""The search space: candidates, architecture families, division rules, cost model, presets.

The names below load on first use (PEP 562), so `space.errors` and the other torch-free modules
can be imported without torch: read-only commands (`searcher --help`, `frontier`, `ui`) stay
light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from space.candidate import Candidate
    from space.cost import Cost, estimate
    from space.division import build, divide, divided_dropout, divided_weight_decay, undivided
    from space.errors import ConfigError, DivcoError
    from space.families import FAMILIES
    from space.member import MemberSpec
    from space.recipe import Recipe

_HOMES = {
    "FAMILIES": "space.families",
    "Candidate": "space.candidate",
    "ConfigError": "space.errors",
    "Cost": "space.cost",
    "DivcoError": "space.errors",
    "MemberSpec": "space.member",
    "Recipe": "space.recipe",
    "build": "space.division",
    "divide": "space.division",
    "divided_dropout": "space.division",
    "divided_weight_decay": "space.division",
    "estimate": "space.cost",
    "undivided": "space.division",
}
__all__ = [
    "FAMILIES",
    "Candidate",
    "ConfigError",
    "Cost",
    "DivcoError",
    "MemberSpec",
    "Recipe",
    "build",
    "divide",
    "divided_dropout",
    "divided_weight_decay",
    "estimate",
    "undivided",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'space' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
