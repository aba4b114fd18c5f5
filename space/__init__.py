"""The search space: candidates, architecture families, division rules, cost model, presets."""

from __future__ import annotations

from space.candidate import Candidate
from space.cost import Cost, estimate
from space.division import build, divide, divided_dropout, divided_weight_decay, undivided
from space.errors import ConfigError, DivcoError
from space.families import FAMILIES
from space.member import MemberSpec
from space.recipe import Recipe

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
