"""scikit-learn's bundled 8x8 digits (1797 grey images, 10 classes): the embedded default."""

from __future__ import annotations

from pathlib import Path

import torch
from sklearn.datasets import load_digits

from trainers.data.source import (
    DATASETS,
    DataSource,
    ImageSet,
    LoadOptions,
    require_memory,
    split_train_val,
)


@DATASETS.register("digits")
def load(data_dir: Path | None, val_fraction: float, seed: int, options: LoadOptions) -> DataSource:
    require_memory("digits", options)
    bunch = load_digits()
    # Pixel values are 0..16; scale to 0..255 so every source shares one uint8 pipeline.
    images = torch.from_numpy(bunch.images * 255.0 / 16.0).round().to(torch.uint8).unsqueeze(1)
    full = ImageSet(images, torch.from_numpy(bunch.target).long())
    train, val = split_train_val(full, val_fraction, seed)
    names = tuple(str(n) for n in bunch.target_names)
    return DataSource("digits", train, val, test=None, class_names=names)
