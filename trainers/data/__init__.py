"""Where batches come from: data sources, the image index, streaming, views and the feeds. Importing it registers `digits`, `cifar10`, `cifar100`, `imagefolder`."""

from __future__ import annotations

from trainers.data import cifar, digits, imagefolder
from trainers.data.source import DATASETS, DataMode, DataSource, ImageSet, LoadOptions, load_data

__all__ = [
    "DATASETS",
    "DataMode",
    "DataSource",
    "ImageSet",
    "LoadOptions",
    "cifar",
    "digits",
    "imagefolder",
    "load_data",
]
