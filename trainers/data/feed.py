"""Where the trainer's batches come from: one `Feed` per training run, in memory or streamed.

A feed yields, per step, one normalised view per member and its targets, already on the device,
and the validation / test batches; the training loop does not know where the pixels live.
`cotrain` gives every member its own view of the same images in the same order; `independent`
gives every member its own order. The in-memory feed on a GPU keeps the uint8 training set on the
device and makes crops and flips there, batched (policies none / crop / crop_flip); `paper`
(AutoAugment, erasing) and every policy on the CPU make views on the host, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

from space.candidate import Candidate
from space.recipe import Augmentation
from trainers.data.augment import views
from trainers.data.batch import Batch, Feed, SplitName, member_orders
from trainers.data.source import DataSource
from trainers.data.stream import StreamSet

EVAL_BATCH = 512
Placement = Literal["host", "device"]


def placement(device: torch.device, policy: Augmentation) -> Placement:
    """Where the in-memory feed keeps the training images and makes the views."""
    return "device" if device.type == "cuda" and policy != "paper" else "host"


def open_feed(
    data: DataSource, candidate: Candidate, generator: torch.Generator, device: torch.device
) -> Feed:
    """The streaming feed for streamed data, the in-memory feed otherwise."""
    if isinstance(data.train, StreamSet):
        # starts worker processes: imported only when needed
        from trainers.data.stream_feed import StreamFeed

        return StreamFeed(data, candidate, generator, device)
    return MemoryFeed(data, candidate, generator, device)


class MemoryFeed:
    def __init__(
        self, data: DataSource, candidate: Candidate, generator: torch.Generator,
        device: torch.device,
    ) -> None:  # fmt: skip
        recipe = candidate.recipe
        self.data, self.generator, self.device = data, generator, device
        self.size, self.members = candidate.image_size, candidate.networks
        self.batch, self.policy = recipe.batch_size, recipe.augmentation
        self.shared = recipe.mode == "cotrain"
        self.placement = placement(device, self.policy)
        home = device if self.placement == "device" else torch.device("cpu")
        self.images = data.train.resized(self.size).to(home)
        self.labels = data.train.labels.to(home)
        self.steps_per_epoch = max(1, len(self.labels) // self.batch)
        self._val = data.val.resized(self.size)  # uint8: normalised a batch at a time (4x less)

    def epoch(self) -> Iterator[Batch]:
        orders = member_orders(len(self.labels), self.members, self.shared, self.generator)
        home, batch = self.images.device, self.batch
        for step in range(self.steps_per_epoch):
            index = [order[step * batch : (step + 1) * batch].to(home) for order in orders]
            if self.shared:  # same images, one independent view per member
                inputs = views(self.images[index[0]], len(index), self.policy, self.generator)
            else:
                inputs = [views(self.images[i], 1, self.policy, self.generator)[0] for i in index]
            yield Batch(
                [self.data.normalise(x.to(self.device, non_blocking=True)) for x in inputs],
                [self.labels[i].to(self.device, non_blocking=True) for i in index],
            )

    def evaluation(self, split: SplitName) -> Iterator[tuple[Tensor, Tensor]]:
        """Normalised batches: a float copy of a whole split would cost 4x its pixels."""
        if split == "val":
            inputs, labels = self._val, self.data.val.labels
        else:
            assert self.data.test is not None
            inputs, labels = self.data.test.resized(self.size), self.data.test.labels
        for start in range(0, len(labels), EVAL_BATCH):
            batch = inputs[start : start + EVAL_BATCH]
            yield self.data.normalise(batch), labels[start : start + EVAL_BATCH]

    def close(self) -> None:
        """Nothing to release: the tensors go with the feed."""
