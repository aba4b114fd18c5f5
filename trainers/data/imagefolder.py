"""Any directory of class sub-folders of images (PNG/JPEG/..., any size, grey, RGB or RGBA).

With `train/` and `test/` (or `val/`) sub-directories the second is the test split; otherwise
every image is training data. Images are stored square: shorter side resized, centre-cropped,
at the median shorter side of the data (at most 256 px). All-grey folders stay one channel.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from space.errors import ConfigError
from trainers.data.source import DATASETS, DataSource, ImageSet, require_dir, split_train_val

log = logging.getLogger(__name__)
MAX_SIDE = 256
TEST_DIRS = ("test", "val")


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _open_all(root: Path, classes: list[str]) -> tuple[list[Image.Image], list[int], int]:
    images, labels, skipped = [], [], 0
    for label, name in enumerate(classes):
        folder = root / name
        for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
            try:
                with Image.open(path) as img:
                    img.load()
                    images.append(img.copy())
                labels.append(label)
            except (UnidentifiedImageError, OSError):
                skipped += 1
    return images, labels, skipped


def _to_tensor(images: list[Image.Image], side: int, mode: str) -> torch.Tensor:
    arrays = []
    for img in images:
        img = img.convert("RGBA").convert(mode) if img.mode in ("P", "LA") else img.convert(mode)
        scale = side / min(img.size)
        w, h = max(side, round(img.width * scale)), max(side, round(img.height * scale))
        img = img.resize((w, h), Image.Resampling.BILINEAR)
        left, top = (w - side) // 2, (h - side) // 2
        array = np.asarray(img.crop((left, top, left + side, top + side)), dtype=np.uint8)
        arrays.append(array[..., None] if array.ndim == 2 else array)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _read(
    root: Path, classes: list[str], side: int | None, mode: str | None
) -> tuple[ImageSet, int, str]:
    images, labels, skipped = _open_all(root, classes)
    if skipped:
        log.warning("skipped %d unreadable image(s) under %s", skipped, root)
    if not images:
        raise ConfigError(f"image folder {root} has no readable images")
    side = side or min(MAX_SIDE, int(statistics.median(min(i.size) for i in images)))
    mode = mode or ("L" if all(i.mode in ("L", "1", "I;16", "I") for i in images) else "RGB")
    return ImageSet(_to_tensor(images, side, mode), torch.tensor(labels)), side, mode


@DATASETS.register("imagefolder")
def load(data_dir: Path | None, val_fraction: float, seed: int) -> DataSource:
    root = require_dir(data_dir, "imagefolder")
    train_root = root / "train" if (root / "train").is_dir() else root
    test_root = next((root / d for d in TEST_DIRS if (root / d).is_dir()), None)
    classes = [p.name for p in _class_dirs(train_root)]
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        raise ConfigError(f"image folder {train_root} needs >= 2 class sub-folders (found {found})")
    full, side, mode = _read(train_root, classes, None, None)
    test = _read(test_root, classes, side, mode)[0] if test_root is not None else None
    train, val = split_train_val(full, val_fraction, seed)
    return DataSource(root.name, train, val, test, tuple(classes))
