"""Data sources. Importing this package registers `digits`, `cifar10`, `cifar100`, `imagefolder`."""

from __future__ import annotations

from trainers.data import cifar, digits, imagefolder
from trainers.data.source import DATASETS, DataSource, ImageSet, load_data

__all__ = ["DATASETS", "DataSource", "ImageSet", "cifar", "digits", "imagefolder", "load_data"]
