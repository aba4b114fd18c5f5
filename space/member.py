"""One member network of a divided ensemble, fully specified: what a family needs to build it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

Stem = Literal["cifar", "imagenet"]


@dataclass(frozen=True)
class MemberSpec:
    """`divided_by` is the S the member's network was divided by (1 for heterogeneous members,
    which are not divided): families whose division touches more than (width, groups), such as
    PyramidNet's ShakeDrop probability p_L / sqrt(S), read it."""

    family: str
    depth: int
    width: int
    groups: int = 1
    stem: Stem = "cifar"
    in_channels: int = 3
    num_classes: int = 10
    dropout: float = 0.0
    divided_by: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, order=True)
class Architecture:
    """One member's own architecture in a heterogeneous ensemble (members are not divided)."""

    family: str
    depth: int
    width: int
    groups: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
