"""The paper's division rules: one network of width w becomes S members of width ~ w / sqrt(S).

Family-specific width rules live in each family's `divide`; the regularisation rules that hold
for every family (dropout p / S, weight decay x exp(1/S - 1)) live here.
"""

from __future__ import annotations

import math

from torch import nn

from space.candidate import Candidate
from space.families import build_member, family
from space.member import MemberSpec


def divided_weight_decay(weight_decay: float, networks: int) -> float:
    """The paper's Eq. 6: smaller members need less regularisation (x0.607 at S=2, x0.472 at S=4)."""
    return weight_decay * math.exp(1.0 / networks - 1.0)


def divided_dropout(dropout: float, networks: int) -> float:
    return dropout / networks


def regularisation_divisor(candidate: Candidate) -> int:
    """S for a divided network; 1 for heterogeneous members, which are chosen thin, not divided."""
    return 1 if candidate.members else candidate.networks


def member_weight_decay(candidate: Candidate) -> float:
    return divided_weight_decay(candidate.recipe.weight_decay, regularisation_divisor(candidate))


def divide(candidate: Candidate) -> list[MemberSpec]:
    """The member specs of a candidate: S copies of the divided network (seeds differ at
    training), or a heterogeneous candidate's own members."""
    shared = {
        "stem": candidate.stem,
        "in_channels": candidate.in_channels,
        "num_classes": candidate.num_classes,
        "dropout": divided_dropout(candidate.recipe.dropout, regularisation_divisor(candidate)),
        "divided_by": regularisation_divisor(candidate),
    }
    if candidate.members:
        return [
            MemberSpec(m.family, m.depth, m.width, m.groups, **shared) for m in candidate.members
        ]
    width, groups = family(candidate.family).divide(
        candidate.width, candidate.groups, candidate.networks
    )
    spec = MemberSpec(candidate.family, candidate.depth, width, groups, **shared)
    return [spec] * candidate.networks


def undivided(candidate: Candidate) -> Candidate:
    """The S=1 network the candidate was divided from: the baseline every result is compared to.
    A heterogeneous ensemble has none; its largest member (by parameters) stands in."""
    if not candidate.members:
        return candidate.replace(networks=1)
    specs = divide(candidate)
    sizes = [sum(p.numel() for p in build_member(spec).parameters()) for spec in specs]
    largest = candidate.members[sizes.index(max(sizes))]
    return candidate.replace(
        members=(), networks=1, family=largest.family, depth=largest.depth,
        width=largest.width, groups=largest.groups,
    )  # fmt: skip


def build(candidate: Candidate) -> list[nn.Module]:
    """Fresh, randomly initialised member modules (seed the global RNG first to repeat)."""
    return [build_member(spec) for spec in divide(candidate)]
