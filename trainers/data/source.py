"""A loaded data set: its splits (uint8 images in memory, or streamed) and a seeded validation split.

The validation split is carved from the training data and is what a search optimises; the data
set's own test split, where it has one, is kept apart and never used to select anything. Every
split offers the `Split` protocol; `ImageSet` holds its images in memory, `StreamSet`
(`trainers.data.stream`) decodes them on demand. `LoadOptions.mode` chooses between them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, get_args

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from space.checks import check_choice
from space.errors import ConfigError
from space.registry import Registry

DataMode = Literal["auto", "memory", "stream"]
Stats = tuple[tuple[float, ...], tuple[float, ...]]


class Split(Protocol):
    """What the trainer, the validation split and the export need from a split."""

    @property
    def labels(self) -> Tensor: ...
    @property
    def channels(self) -> int: ...
    def __len__(self) -> int: ...
    def subset(self, index: Tensor) -> Split: ...
    def resized(self, size: int) -> Tensor: ...
    def pixel_stats(self) -> Stats: ...


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images as uint8 N x C x H x W and int64 labels; `resized` is cached per size."""

    images: Tensor
    labels: Tensor
    _resized: dict[int, Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError("images must be uint8 N x C x H x W")
        if len(self.images) != len(self.labels):
            raise ValueError("images and labels differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    def resized(self, size: int) -> Tensor:
        """All images at size x size (antialiased), computed once per size."""
        if size not in self._resized:
            same = self.images.shape[-2:] == (size, size)
            self._resized[size] = self.images if same else _resize(self.images, size)
        return self._resized[size]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    def subset(self, index: Tensor) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index])

    def pixel_stats(self) -> Stats:
        return chunked_stats(self.images)


CHUNK = 256  # images per step of whole-set operations: a float copy of all of them is 4x the set


def chunked_stats(images: Tensor) -> Stats:
    """Per-channel mean and (unbiased) std in [0, 1], summed in float64 a chunk at a time, so
    the memory it takes does not grow with the set (a float copy of it would be 4x its bytes)."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(images), CHUNK):
        pixels = images[start : start + CHUNK].transpose(0, 1).reshape(channels, -1).double()
        total += pixels.sum(1)
        squares += pixels.square().sum(1)
    count = max(1, images[:, 0].numel())
    mean = total / count
    variance = (squares - total * mean) / max(1, count - 1)
    std = variance.clamp_min(0).sqrt().div(255).clamp_min(1e-3)
    return tuple(mean.div(255).tolist()), tuple(std.tolist())


def _resize(images: Tensor, size: int) -> Tensor:
    """Resized a chunk at a time into one uint8 tensor: resizing converts to float inside."""
    out = torch.empty(*images.shape[:2], size, size, dtype=torch.uint8)
    for start in range(0, len(images), CHUNK):
        chunk = images[start : start + CHUNK]
        out[start : start + CHUNK] = TF.resize(chunk, [size, size], antialias=True)
    return out


@dataclass(frozen=True, eq=False)
class DataSource:
    name: str
    train: Split
    val: Split
    test: Split | None
    class_names: tuple[str, ...]
    note: str = ""  # how the data is held and why (an image folder's mode), for the run's start

    @property
    def in_channels(self) -> int:
        return self.train.channels

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @functools.cached_property
    def mean_std(self) -> Stats:
        """Per-channel mean and std of the training images in [0, 1], for normalisation."""
        return self.train.pixel_stats()

    def normalise(self, images: Tensor) -> Tensor:
        mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in self.mean_std)
        return (images.float().div(255) - mean.to(images.device)) / std.to(images.device)


def split_index(labels: Tensor, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """The rows of a seeded, stratified split (train, val), each ascending: every class keeps its
    share in both parts."""
    if not 0 < val_fraction < 1:
        raise ConfigError(f"validation fraction {val_fraction} must be between 0 and 1")
    generator = torch.Generator().manual_seed(seed)
    val_index = []
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        val_index.append(members[: max(1, round(len(members) * val_fraction))])
    is_val = torch.zeros(len(labels), dtype=torch.bool)
    is_val[torch.cat(val_index)] = True
    return (~is_val).nonzero().flatten(), is_val.nonzero().flatten()


def split_train_val(full: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """The split of `split_index`, as two subsets (an in-memory set is copied once)."""
    train, val = split_index(full.labels, val_fraction, seed)
    return full.subset(train), full.subset(val)


@dataclass(frozen=True)
class LoadOptions:
    """How to hold the data: `mode` auto streams folders too large for the memory available;
    `workers` is the streaming loader's process count (None: from the cores and the training
    device, see `trainers.data.stream.default_workers`); `cache_dir` keeps
    image folder indexes (None: no cache)."""

    mode: DataMode = "auto"
    workers: int | None = None
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        check_choice("data mode", self.mode, get_args(DataMode))
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"data loader workers {self.workers} must be >= 0")


Loader = Callable[[Path | None, float, int, LoadOptions], DataSource]
DATASETS: Registry[Loader] = Registry("data set")


def load_data(
    name: str,
    data_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    *,
    mode: DataMode = "auto",
    workers: int | None = None,
    cache_dir: str | Path | None = None,
) -> DataSource:
    """Loads a registered data set; `data_dir` is needed by all but the embedded `digits`.

    `mode`: `memory` decodes everything once into one uint8 tensor, `stream` reads image folders
    through loader processes, `auto` streams folders whose decoded pixels do not fit the memory
    this machine or container has left (`trainers.data.memory`). Only image folders can stream.
    """
    options = LoadOptions(mode, workers, Path(cache_dir) if cache_dir is not None else None)
    loader = DATASETS.get(name)
    return loader(Path(data_dir) if data_dir is not None else None, val_fraction, seed, options)


def require_memory(name: str, options: LoadOptions) -> None:
    """For data sets that are always held in memory (they are small)."""
    if options.mode == "stream":
        raise ConfigError(f"data set '{name}' is always held in memory; only imagefolder streams")


def require_dir(data_dir: Path | None, name: str) -> Path:
    if data_dir is None:
        raise ConfigError(f"data set '{name}' needs --data-dir")
    if not data_dir.is_dir():
        raise ConfigError(f"data directory {data_dir} does not exist")
    return data_dir
