"""Any directory of class sub-folders of images (PNG/JPEG/..., any size, grey, RGB or RGBA).

With `train/` and `test/` (or `val/`) sub-directories the second is the test split; without
`train/` the root holds the classes and `test/` or `val/` next to them is the test split, never
a class. The folder is indexed once (`trainers.data.index`, cached in `cache_dir`); then either
every image is decoded into one uint8 tensor (`memory`), stored square at the median shorter side
of the data (at most 256 px), or the splits stream from disk (`stream`, `trainers.data.stream`).
`auto` streams when the decoded training set would exceed `MEMORY_LIMIT_BYTES`. All-grey folders
stay one channel.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from space.errors import ConfigError
from trainers.data.decode import decode
from trainers.data.index import FolderIndex, load_index
from trainers.data.source import (
    DATASETS,
    DataSource,
    ImageSet,
    LoadOptions,
    Split,
    require_dir,
    split_train_val,
)
from trainers.data.stream import StreamSet

log = logging.getLogger(__name__)
MAX_SIDE = 256
TEST_DIRS = ("test", "val")
MEMORY_LIMIT_BYTES = 1 << 30


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def layout(root: Path) -> tuple[Path, Path | None, tuple[str, ...]]:
    """The training root, the test root (or None) and the class names."""
    has_train = (root / "train").is_dir()
    train_root = root / "train" if has_train else root
    test_root = next((root / d for d in TEST_DIRS if (root / d).is_dir()), None)
    classes = tuple(p.name for p in _class_dirs(train_root) if has_train or p.name not in TEST_DIRS)
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        raise ConfigError(f"image folder {train_root} needs >= 2 class sub-folders (found {found})")
    return train_root, test_root, classes


def _index(root: Path, classes: tuple[str, ...], options: LoadOptions) -> FolderIndex:
    index = load_index(root, classes, options.cache_dir)
    if index.skipped:
        log.warning("skipped %d unreadable image(s) under %s", index.skipped, root)
    if not len(index):
        raise ConfigError(f"image folder {root} has no readable images")
    return index


def _in_memory(index: FolderIndex, side: int, mode: str) -> ImageSet:
    """Decodes the indexed images one at a time into one preallocated tensor."""
    channels = 1 if mode == "L" else 3
    images = torch.empty(len(index), channels, side, side, dtype=torch.uint8)
    kept: list[int] = []
    for row in range(len(index)):
        array = decode(index.path(row), side, mode)
        if array is not None:
            images[len(kept)] = torch.from_numpy(array).permute(2, 0, 1)
            kept.append(row)
    if len(kept) < len(index):
        log.warning("skipped %d unreadable image(s) under %s", len(index) - len(kept), index.root)
        if not kept:
            raise ConfigError(f"image folder {index.root} has no readable images")
        images = images[: len(kept)].clone()
    return ImageSet(images, torch.from_numpy(index.labels[kept]))


def _split(index: FolderIndex, side: int, mode: str, stream: bool, workers: int | None) -> Split:
    if stream:
        return StreamSet(index, np.arange(len(index), dtype=np.int64), mode, workers)
    return _in_memory(index, side, mode)


@DATASETS.register("imagefolder")
def load(data_dir: Path | None, val_fraction: float, seed: int, options: LoadOptions) -> DataSource:
    root = require_dir(data_dir, "imagefolder")
    train_root, test_root, classes = layout(root)
    index = _index(train_root, classes, options)
    side = min(MAX_SIDE, index.median_side)
    mode = "L" if bool(index.grey.all()) else "RGB"
    decoded_bytes = len(index) * (1 if mode == "L" else 3) * side * side
    stream = options.mode == "stream" or (
        options.mode == "auto" and decoded_bytes > MEMORY_LIMIT_BYTES
    )
    full = _split(index, side, mode, stream, options.workers)
    test = None
    if test_root is not None:
        test = _split(_index(test_root, classes, options), side, mode, stream, options.workers)
    train, val = split_train_val(full, val_fraction, seed)
    return DataSource(root.name, train, val, test, classes)
