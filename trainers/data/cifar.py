"""CIFAR-10 / CIFAR-100 in the standard python-pickle batch format.

The directory is the extracted archive (`cifar-10-batches-py` or `cifar-100-python`) or its
parent. When the files are missing and the machine has internet, torchvision downloads them.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from space.errors import ConfigError
from trainers.data.source import (
    DATASETS,
    DataSource,
    ImageSet,
    LoadOptions,
    require_dir,
    require_memory,
    split_train_val,
)


@dataclass(frozen=True)
class Layout:
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    names_key: bytes
    label_key: bytes
    num_classes: int


LAYOUTS = {
    "cifar10": Layout("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)),
                      ("test_batch",), "batches.meta", b"label_names", b"labels", 10),
    "cifar100": Layout("cifar-100-python", ("train",), ("test",), "meta", b"fine_label_names",
                       b"fine_labels", 100),
}  # fmt: skip


def _unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise ConfigError(f"CIFAR file {path} is corrupt or unreadable: {exc}") from None


def _read_batches(folder: Path, files: tuple[str, ...], label_key: bytes) -> ImageSet:
    images, labels = [], []
    for name in files:
        batch = _unpickle(folder / name)
        if b"data" not in batch or label_key not in batch:
            raise ConfigError(f"CIFAR file {folder / name} lacks 'data' or '{label_key.decode()}'")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ConfigError(f"CIFAR file {folder / name} has data of shape {data.shape}")
        images.append(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()))
        labels.append(torch.tensor(batch[label_key], dtype=torch.long))
    return ImageSet(torch.cat(images), torch.cat(labels))


def _locate(data_dir: Path, name: str) -> Path:
    layout = LAYOUTS[name]
    for folder in (data_dir / layout.folder, data_dir):
        if all((folder / f).is_file() for f in layout.train_files):
            return folder
    _try_download(data_dir, name)
    folder = data_dir / layout.folder
    missing = [f for f in layout.train_files if not (folder / f).is_file()]
    if missing:
        raise ConfigError(f"{data_dir} has no {name} batches (missing {', '.join(missing)})")
    return folder


def _try_download(data_dir: Path, name: str) -> None:
    from torchvision import datasets

    dataset = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        dataset(str(data_dir), train=True, download=True)
    except Exception:  # no internet: the caller reports the missing files
        return


def _load(
    name: str, data_dir: Path | None, val_fraction: float, seed: int, options: LoadOptions
) -> DataSource:
    require_memory(name, options)
    folder = _locate(require_dir(data_dir, name), name)
    layout = LAYOUTS[name]
    full = _read_batches(folder, layout.train_files, layout.label_key)
    test = None
    if all((folder / f).is_file() for f in layout.test_files):
        test = _read_batches(folder, layout.test_files, layout.label_key)
    meta = _unpickle(folder / layout.meta_file) if (folder / layout.meta_file).is_file() else {}
    class_names = tuple(n.decode() for n in meta.get(layout.names_key, []))
    class_names = class_names or tuple(str(i) for i in range(layout.num_classes))
    train, val = split_train_val(full, val_fraction, seed)
    return DataSource(name, train, val, test, class_names)


@DATASETS.register("cifar10")
def load_cifar10(
    data_dir: Path | None, val_fraction: float, seed: int, options: LoadOptions
) -> DataSource:
    return _load("cifar10", data_dir, val_fraction, seed, options)


@DATASETS.register("cifar100")
def load_cifar100(
    data_dir: Path | None, val_fraction: float, seed: int, options: LoadOptions
) -> DataSource:
    return _load("cifar100", data_dir, val_fraction, seed, options)
