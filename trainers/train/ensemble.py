"""An ensemble of S member networks and how their outputs are combined.

The ensemble holds no training policy. How members execute is a `MemberRunner`: the default runs
them one after another; a fused backend (members as one grouped-convolution network) can replace
it without callers changing, since they only call `member_logits` and `forward`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from space.recipe import Aggregation


class MemberRunner(Protocol):
    def __call__(self, members: nn.ModuleList, inputs: Sequence[Tensor]) -> list[Tensor]: ...


def run_in_sequence(members: nn.ModuleList, inputs: Sequence[Tensor]) -> list[Tensor]:
    return [member(x) for member, x in zip(members, inputs, strict=True)]


def aggregate(logits: Sequence[Tensor], aggregation: Aggregation) -> Tensor:
    """Combined class scores; their argmax is the ensemble's prediction.

    mean_logits: mean of logits. mean_prob: log of the mean softmax (so log_softmax of the result
    is exact). geometric: mean of log-softmaxes (the normalised geometric mean, up to a constant).
    """
    stacked = torch.stack(list(logits))
    if aggregation == "mean_logits":
        return stacked.mean(0)
    log_probs = F.log_softmax(stacked.float(), dim=-1)
    if aggregation == "mean_prob":
        return torch.logsumexp(log_probs, dim=0) - math.log(len(logits))
    return log_probs.mean(0)


class Ensemble(nn.Module):
    def __init__(
        self,
        members: Sequence[nn.Module],
        aggregation: Aggregation = "mean_logits",
        runner: MemberRunner = run_in_sequence,
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.aggregation: Aggregation = aggregation
        self.runner = runner

    def __len__(self) -> int:
        return len(self.members)

    def member_logits(self, x: Tensor | Sequence[Tensor]) -> list[Tensor]:
        """Each member's logits; `x` is one batch for all or one batch (view) per member."""
        inputs = [x] * len(self.members) if isinstance(x, Tensor) else list(x)
        return self.runner(self.members, inputs)

    def forward(self, x: Tensor) -> Tensor:
        return aggregate(self.member_logits(x), self.aggregation)
