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


def divide(candidate: Candidate) -> list[MemberSpec]:
    """The S member specs of a candidate (identical architectures; seeds differ at training)."""
    width, groups = family(candidate.family).divide(
        candidate.width, candidate.groups, candidate.networks
    )
    spec = MemberSpec(
        family=candidate.family,
        depth=candidate.depth,
        width=width,
        groups=groups,
        stem=candidate.stem,
        in_channels=candidate.in_channels,
        num_classes=candidate.num_classes,
        dropout=divided_dropout(candidate.recipe.dropout, candidate.networks),
    )
    return [spec] * candidate.networks


def undivided(candidate: Candidate) -> Candidate:
    """The S=1 network the candidate was divided from: the baseline every result is compared to."""
    return candidate.replace(networks=1)


def build(candidate: Candidate) -> list[nn.Module]:
    """Fresh, randomly initialised member modules (seed the global RNG first to repeat)."""
    return [build_member(spec) for spec in divide(candidate)]
