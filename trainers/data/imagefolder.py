"""Any directory of class sub-folders of images (PNG/JPEG/..., any size, grey, RGB or RGBA).

With `train/` and `test/` (or `val/`) sub-directories the second is the test split; without
`train/` the root holds the classes and `test/` or `val/` next to them is the test split, never
a class. The folder is indexed once (`trainers.data.index`, cached in `cache_dir`); then either
every image is decoded into one uint8 tensor (`memory`), stored square at the median shorter side
of the data (at most 256 px), or the splits stream from disk (`stream`, `trainers.data.stream`).
`auto` streams when the decoded training set would not fit the memory this machine (or its
container) has left (`trainers.data.memory`); the run's first lines say which mode and why.
All-grey folders stay one channel.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from space.errors import ConfigError
from trainers.data import memory
from trainers.data.decode import decode
from trainers.data.index import FolderIndex, load_index
from trainers.data.source import (
    DATASETS,
    DataSource,
    ImageSet,
    LoadOptions,
    Split,
    require_dir,
    split_index,
    split_train_val,
)
from trainers.data.stream import StreamSet

log = logging.getLogger(__name__)
MAX_SIDE = 256
TEST_DIRS = ("test", "val")
MEMORY_LIMIT_BYTES: int | None = None  # a fixed ceiling for auto (None: the machine decides)


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


def _in_memory(index: FolderIndex, side: int, mode: str, order: Tensor | None = None) -> ImageSet:
    """Decodes the indexed images (in `order`, all rows by default) one at a time into one
    preallocated tensor: the pixels once, no list of arrays and no stacked copy."""
    rows = order.tolist() if order is not None else range(len(index))
    channels = 1 if mode == "L" else 3
    images = torch.empty(len(rows), channels, side, side, dtype=torch.uint8)
    kept: list[int] = []
    for row in rows:
        array = decode(index.path(row), side, mode)
        if array is not None:
            images[len(kept)] = torch.from_numpy(array).permute(2, 0, 1)
            kept.append(row)
    if len(kept) < len(rows):
        log.warning("skipped %d unreadable image(s) under %s", len(rows) - len(kept), index.root)
        if not kept:
            raise ConfigError(f"image folder {index.root} has no readable images")
        images = images[: len(kept)].clone()
    return ImageSet(images, torch.from_numpy(index.labels[kept]))


def _train_val_in_memory(
    index: FolderIndex, side: int, mode: str, val_fraction: float, seed: int
) -> tuple[Split, Split]:
    """Decodes the training rows, then the validation rows, into one tensor and returns the
    two parts as views of it: splitting after decoding would copy every image once more."""
    train_rows, val_rows = split_index(torch.from_numpy(index.labels), val_fraction, seed)
    both = _in_memory(index, side, mode, torch.cat([train_rows, val_rows]))
    if len(both) < len(index):  # an image became unreadable after indexing: split what is left
        return split_train_val(both, val_fraction, seed)
    cut = len(train_rows)
    train = ImageSet(both.images[:cut], both.labels[:cut])
    return train, ImageSet(both.images[cut:], both.labels[cut:])


def _streamed(index: FolderIndex, mode: str, workers: int | None) -> StreamSet:
    return StreamSet(index, np.arange(len(index), dtype=np.int64), mode, workers)


def choose_mode(decoded_bytes: int, options: LoadOptions) -> tuple[str, str]:
    """("memory" or "stream", the line that says why) for this folder on this machine."""
    if options.mode != "auto":
        return options.mode, memory.describe(
            decoded_bytes, options.mode, f"--data-mode {options.mode}"
        )
    if MEMORY_LIMIT_BYTES is not None and decoded_bytes > MEMORY_LIMIT_BYTES:
        why = f"--data-mode auto: over the fixed ceiling of {MEMORY_LIMIT_BYTES} bytes"
        return "stream", memory.describe(decoded_bytes, "stream", why)
    free = memory.available()
    chosen = "memory" if memory.fits(decoded_bytes, free) else "stream"
    return chosen, memory.describe(decoded_bytes, chosen, memory.auto_reason(decoded_bytes, free))


@DATASETS.register("imagefolder")
def load(data_dir: Path | None, val_fraction: float, seed: int, options: LoadOptions) -> DataSource:
    root = require_dir(data_dir, "imagefolder")
    train_root, test_root, classes = layout(root)
    index = _index(train_root, classes, options)
    side = min(MAX_SIDE, index.median_side)
    mode = "L" if bool(index.grey.all()) else "RGB"
    test_index = _index(test_root, classes, options) if test_root is not None else None
    images = len(index) + (len(test_index) if test_index is not None else 0)
    chosen, note = choose_mode(images * (1 if mode == "L" else 3) * side * side, options)
    test: Split | None = None
    if chosen == "stream":
        train, val = split_train_val(_streamed(index, mode, options.workers), val_fraction, seed)
        if test_index is not None:
            test = _streamed(test_index, mode, options.workers)
    else:
        train, val = _train_val_in_memory(index, side, mode, val_fraction, seed)
        if test_index is not None:
            test = _in_memory(test_index, side, mode)
    return DataSource(root.name, train, val, test, classes, note=note)
