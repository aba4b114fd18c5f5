"""A split of an indexed image folder that is decoded on demand and never held whole.

It offers what `split_train_val` and the trainer need from a split (labels, length, `subset`,
channels, pixel statistics); the trainer reads it through `trainers.data.stream_feed`, whose worker
processes call `decode`. `resized` decodes the whole split and is meant for small ones (export).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from trainers.data.decode import decode
from trainers.data.index import FolderIndex

STATS_SAMPLE = 256  # images decoded to estimate the normalisation statistics
STATS_SIDE = 64


def default_workers(device_type: str) -> int:
    """Loader processes when none were asked for: for a GPU one per core this process may use
    (at most 8); for CPU training half of them, since the training itself needs the others."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    return max(1, min(8, cores if device_type == "cuda" else cores // 2))


@dataclass(frozen=True, eq=False)
class StreamSet:
    index: FolderIndex
    rows: np.ndarray  # positions in the index, int64
    mode: str  # "L" or "RGB": what every image is converted to
    workers: int | None  # loader processes (0: decode in the training process; None: default)

    def __len__(self) -> int:
        return len(self.rows)

    @functools.cached_property
    def labels(self) -> Tensor:
        return torch.from_numpy(self.index.labels[self.rows])

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    @property
    def root(self) -> Path:
        return self.index.root

    def subset(self, index: Tensor) -> StreamSet:
        return StreamSet(self.index, self.rows[index.numpy()], self.mode, self.workers)

    def decode(
        self, positions: Sequence[int] | np.ndarray, side: int
    ) -> tuple[Tensor, Tensor, int]:
        """The images at these positions of the split (uint8 N x C x side x side), their labels and
        the number that could not be decoded (left out of both)."""
        arrays, labels = [], []
        for pos in positions:
            row = int(self.rows[pos])
            array = decode(self.index.path(row), side, self.mode)
            if array is not None:
                arrays.append(array)
                labels.append(int(self.index.labels[row]))
        bad = len(positions) - len(arrays)
        if not arrays:
            empty = torch.empty(0, self.channels, side, side, dtype=torch.uint8)
            return empty, torch.empty(0, dtype=torch.long), bad
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        return images, torch.tensor(labels, dtype=torch.long), bad

    def resized(self, size: int) -> Tensor:
        """Every image of the split at size x size; unreadable ones are black (labels stay aligned)."""
        out = torch.zeros(len(self), self.channels, size, size, dtype=torch.uint8)
        for pos in range(len(self)):
            array = decode(self.index.path(int(self.rows[pos])), size, self.mode)
            if array is not None:
                out[pos] = torch.from_numpy(array).permute(2, 0, 1)
        return out

    def pixel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std in [0, 1], estimated on a seeded sample of the split."""
        generator = torch.Generator().manual_seed(0)
        sample = torch.randperm(len(self), generator=generator)[:STATS_SAMPLE].numpy()
        images = self.decode(sample, STATS_SIDE)[0]
        if not len(images):
            return (0.5,) * self.channels, (0.25,) * self.channels
        pixels = images.float().div(255).transpose(0, 1).flatten(1)
        return tuple(pixels.mean(1).tolist()), tuple(pixels.std(1).clamp_min(1e-3).tolist())
