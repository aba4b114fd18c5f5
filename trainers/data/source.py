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
        pixels = self.images.float().div(255).transpose(0, 1).flatten(1)
        return tuple(pixels.mean(1).tolist()), tuple(pixels.std(1).clamp_min(1e-3).tolist())


def _resize(images: Tensor, size: int) -> Tensor:
    return TF.resize(images, [size, size], antialias=True)


@dataclass(frozen=True, eq=False)
class DataSource:
    name: str
    train: Split
    val: Split
    test: Split | None
    class_names: tuple[str, ...]

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


def split_train_val(full: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """A seeded, stratified split: every class keeps its share in both parts."""
    if not 0 < val_fraction < 1:
        raise ConfigError(f"validation fraction {val_fraction} must be between 0 and 1")
    generator = torch.Generator().manual_seed(seed)
    val_index = []
    for label in full.labels.unique():
        members = (full.labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        val_index.append(members[: max(1, round(len(members) * val_fraction))])
    is_val = torch.zeros(len(full), dtype=torch.bool)
    is_val[torch.cat(val_index)] = True
    return full.subset((~is_val).nonzero().flatten()), full.subset(is_val.nonzero().flatten())


@dataclass(frozen=True)
class LoadOptions:
    """How to hold the data: `mode` auto picks streaming for folders too large for memory;
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
    through loader processes, `auto` streams folders whose decoded size exceeds
    `trainers.data.imagefolder.MEMORY_LIMIT_BYTES`. Only image folders can stream.
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
