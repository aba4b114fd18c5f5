"""The streaming feed: a DataLoader whose worker processes decode, resize and make the views.

The main process plans every step as a `Key` (the split positions per member and an augmentation
seed, both drawn from the trainer's generator), so the images, their order and their views do
not depend on the number of workers. One worker pool serves training, validation and test: the
feed sets the plan before each pass, and the workers persist across epochs. Memory is held per
batch in flight, never per data set. Images that fail to decode are left out of their batch and
counted (one warning per split).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from space.candidate import Candidate
from space.recipe import Augmentation
from trainers.data.augment import views
from trainers.data.batch import Batch, SplitName, member_orders
from trainers.data.source import DataSource
from trainers.data.stream import StreamSet, default_workers

log = logging.getLogger(__name__)
EVAL_BATCH = 256
PREFETCH = 4  # batches in flight per worker


class Key(NamedTuple):
    split: str  # "train", "val" or "test"
    rows: tuple[np.ndarray, ...]  # split positions: one array (shared) or one per member
    copies: int  # views made of each array's images
    seed: int
    policy: Augmentation


class Plan(Sampler[Key]):
    """The keys of the next pass; the feed replaces them before iterating the loader."""

    def __init__(self) -> None:
        self.keys: list[Key] = []

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


class Steps(Dataset[tuple[list[Tensor], list[Tensor], int]]):
    """Runs in the workers: a key in, its views (uint8), targets and failed-decode count out."""

    def __init__(self, splits: dict[str, StreamSet], size: int) -> None:
        self.splits, self.size = splits, size

    def __getitem__(self, key: Key) -> tuple[list[Tensor], list[Tensor], int]:
        split = self.splits[key.split]
        generator = torch.Generator().manual_seed(key.seed)
        images_out: list[Tensor] = []
        targets: list[Tensor] = []
        bad = 0
        for rows in key.rows:
            images, labels, missing = split.decode(rows, self.size)
            bad += missing
            if len(images):
                images_out.extend(views(images, key.copies, key.policy, generator))
            else:
                images_out.extend([images] * key.copies)
            targets.extend([labels] * key.copies)
        return images_out, targets, bad


class StreamFeed:
    def __init__(
        self, data: DataSource, candidate: Candidate, generator: torch.Generator,
        device: torch.device,
    ) -> None:  # fmt: skip
        assert isinstance(data.train, StreamSet)
        recipe = candidate.recipe
        self.data, self.generator, self.device = data, generator, device
        self.members, self.batch = candidate.networks, recipe.batch_size
        self.policy = recipe.augmentation
        self.shared = recipe.mode == "cotrain"
        self.steps_per_epoch = max(1, len(data.train) // self.batch)
        splits = {"train": data.train, "val": data.val, "test": data.test}
        self.splits = {k: v for k, v in splits.items() if isinstance(v, StreamSet)}
        self.plan = Plan()
        workers = data.train.workers
        workers = default_workers(device.type) if workers is None else workers
        self.loader = DataLoader(
            Steps(self.splits, candidate.image_size),
            batch_size=None, sampler=self.plan, num_workers=workers,
            pin_memory=device.type == "cuda", persistent_workers=workers > 0,
            prefetch_factor=PREFETCH if workers > 0 else None,
            generator=torch.Generator().manual_seed(0),
        )  # fmt: skip
        self.skipped: dict[str, int] = {}

    def _train_keys(self) -> list[Key]:
        n, batch = len(self.data.train), self.batch
        orders = member_orders(n, self.members, self.shared, self.generator)
        orders = orders[:1] if self.shared else orders
        copies = self.members if self.shared else 1
        keys = []
        for step in range(self.steps_per_epoch):
            rows = tuple(o[step * batch : (step + 1) * batch].numpy() for o in orders)
            seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
            keys.append(Key("train", rows, copies, seed, self.policy))
        return keys

    def _pass(self, split: str, keys: list[Key]) -> Iterator[tuple[list[Tensor], list[Tensor]]]:
        self.plan.keys = keys
        bad = 0
        for images, targets, missing in self.loader:
            bad += missing
            if any(len(t) == 0 for t in targets):
                continue  # every image of this batch failed to decode
            yield images, targets
        if bad and split not in self.skipped:
            log.warning("skipped %d unreadable image(s) in the %s split under %s",
                        bad, split, self.splits[split].root)  # fmt: skip
        self.skipped.setdefault(split, bad)

    def _to_device(self, images: Tensor) -> Tensor:
        return self.data.normalise(images.to(self.device, non_blocking=True))

    def epoch(self) -> Iterator[Batch]:
        for images, targets in self._pass("train", self._train_keys()):
            yield Batch(
                [self._to_device(x) for x in images],
                [t.to(self.device, non_blocking=True) for t in targets],
            )

    def evaluation(self, split: SplitName) -> Iterator[tuple[Tensor, Tensor]]:
        data = self.data.val if split == "val" else self.data.test
        assert data is not None
        n = len(data)
        keys = [Key(split, (np.arange(s, min(s + EVAL_BATCH, n)),), 1, 0, "none")
                for s in range(0, n, EVAL_BATCH)]  # fmt: skip
        for images, targets in self._pass(split, keys):
            yield self._to_device(images[0]), targets[0]

    def close(self) -> None:
        """Stops the worker processes now rather than whenever the loader is collected."""
        iterator = getattr(self.loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        self.loader._iterator = None
