from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from space import ConfigError
from trainers.data import load_data


def test_digits_is_split_seeded_and_stratified() -> None:
    a, b = load_data("digits", seed=3), load_data("digits", seed=3)
    assert torch.equal(a.val.labels, b.val.labels)
    assert len(a.train) + len(a.val) == 1797
    assert a.in_channels == 1 and a.num_classes == 10 and a.test is None
    counts = torch.bincount(a.val.labels, minlength=10)
    assert counts.min() >= 30  # every class is represented in validation
    assert a.train.resized(12).shape == (len(a.train), 1, 12, 12)
    assert not torch.equal(load_data("digits", seed=4).val.labels, a.val.labels)


def write_cifar10(root: Path, per_batch: int = 20) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"{i}.png".encode() for i in range(per_batch)],
        }
        with (folder / name).open("wb") as f:
            pickle.dump(batch, f)
    meta = {
        b"label_names": [f"class{i}".encode() for i in range(10)],
        b"num_cases_per_batch": per_batch,
    }
    with (folder / "batches.meta").open("wb") as f:
        pickle.dump(meta, f)
    return folder


def test_cifar10_reads_the_python_pickle_batches(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    data = load_data("cifar10", tmp_path, val_fraction=0.2)
    assert len(data.train) + len(data.val) == 100
    assert data.test is not None and len(data.test) == 20
    assert data.class_names[3] == "class3" and data.in_channels == 3
    with (folder / "data_batch_1").open("rb") as f:
        first = pickle.load(f, encoding="bytes")
    row = torch.from_numpy(first[b"data"][0].reshape(3, 32, 32))
    stored = torch.cat([data.train.images, data.val.images])
    assert any(torch.equal(img, row) for img in stored)  # channel-major layout kept


def test_cifar100_reads_fine_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train", 50), ("test", 10)):
        batch = {b"fine_labels": rng.integers(0, 100, n).tolist(), b"coarse_labels": [0] * n,
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}  # fmt: skip
        (folder / name).write_bytes(pickle.dumps(batch))
    names = {b"fine_label_names": [f"f{i}".encode() for i in range(100)]}
    (folder / "meta").write_bytes(pickle.dumps(names))
    data = load_data("cifar100", tmp_path)
    assert data.num_classes == 100 and len(data.test) == 10


def test_corrupt_cifar_batch_is_one_clear_error(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="data_batch_3 is corrupt or unreadable"):
        load_data("cifar10", tmp_path)


@pytest.mark.parametrize("name", ["cifar10", "imagefolder"])
def test_missing_or_empty_data_dir(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_data(name, tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="needs --data-dir"):
        load_data(name, None)
    with pytest.raises(ConfigError, match=str(tmp_path)):
        load_data(name, tmp_path)


def write_image(path: Path, mode: str, size: tuple[int, int], value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    array = np.full((size[1], size[0], channels), value, dtype=np.uint8).squeeze()
    Image.fromarray(array, mode).save(path)


def test_imagefolder_reads_mixed_sizes_modes_and_skips_unreadable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(6):
        write_image(tmp_path / "train" / "cat" / f"{i}.png", "RGB", (40, 30), 10)
        write_image(tmp_path / "train" / "dog" / f"{i}.jpg", "L", (20, 20), 200)
    write_image(tmp_path / "train" / "dog" / "alpha.png", "RGBA", (64, 64), 90)
    write_image(tmp_path / "test" / "cat" / "t.png", "RGB", (30, 30), 10)
    (tmp_path / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG garbage")
    with caplog.at_level(logging.WARNING):
        data = load_data("imagefolder", tmp_path, val_fraction=0.25)
    assert "skipped 1 unreadable image" in caplog.text
    assert data.class_names == ("cat", "dog") and data.in_channels == 3
    assert len(data.train) + len(data.val) == 13 and len(data.test) == 1
    assert data.train.images.shape[-2:] == (30, 30)  # median shorter side
    cats = torch.cat(
        [data.train.images[data.train.labels == 0], data.val.images[data.val.labels == 0]]
    )
    assert int(cats.float().mean().round()) == 10


def test_imagefolder_with_one_class_is_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "only" / "a.png", "L", (8, 8), 1)
    with pytest.raises(ConfigError, match="needs >= 2 class sub-folders \\(found only\\)"):
        load_data("imagefolder", tmp_path)


def test_unknown_data_set_lists_the_valid_ones() -> None:
    with pytest.raises(
        ConfigError, match="unknown data set 'mnist'; valid: cifar10, cifar100, digits"
    ):
        load_data("mnist")
