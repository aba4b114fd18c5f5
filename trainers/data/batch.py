"""What every feed yields, in memory or streamed: the batch, the feed's protocol, member orders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, NamedTuple, Protocol

import torch
from torch import Tensor

SplitName = Literal["val", "test"]


class Batch(NamedTuple):
    inputs: list[Tensor]  # one normalised view per member, on the device
    targets: list[Tensor]


class Feed(Protocol):
    steps_per_epoch: int

    def epoch(self) -> Iterator[Batch]: ...
    def evaluation(self, split: SplitName) -> Iterator[tuple[Tensor, Tensor]]: ...
    def close(self) -> None: ...


def member_orders(n: int, members: int, shared: bool, generator: torch.Generator) -> list[Tensor]:
    """One shuffled order shared by all members (cotrain) or one per member (independent)."""
    orders = [torch.randperm(n, generator=generator) for _ in range(1 if shared else members)]
    return orders * members if shared else orders
