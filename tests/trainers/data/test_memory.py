"""In-memory data costs its decoded pixels: peak allocations counted by a dispatch-mode spy (not
RSS, not timing), and `--data-mode auto` decided from the memory available (injected here)."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torchvision.transforms.v2 import functional as TF

from space import Candidate, Recipe
from trainers import load_data
from trainers.data import feed, imagefolder, memory, source
from trainers.data.feed import MemoryFeed
from trainers.data.stream import StreamSet

SIDE = 24
RECIPE = Recipe(epochs=1, batch_size=8, lr=0.05, warmup_epochs=0, js_warmup_epochs=1,
                augmentation="crop_flip")  # fmt: skip


class PeakBytes(TorchDispatchMode):
    """Counts the bytes of every CPU storage a torch op creates until the storage is freed,
    and keeps the peak: where the data set lives, whatever the allocator or the OS report."""

    def __init__(self) -> None:
        super().__init__()
        self.live, self.peak, self.seen = 0, 0, set[int]()

    def _free(self, key: int, size: int) -> None:
        self.live -= size
        self.seen.discard(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu":
                continue
            storage = tensor.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if size and key not in self.seen:
                self.seen.add(key)
                self.live += size
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self._free, key, size)
        return out


def make_folder(root: Path, images: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(images):
        path = root / f"class{i % 3}" / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)).save(path)
    return root


def peak_of_a_run(folder: Path) -> int:
    """Peak bytes of loading in memory, the normalisation statistics, and a trial's feed at the
    stored size: one training batch and the whole validation pass."""
    with PeakBytes() as spy:
        data = load_data("imagefolder", folder, mode="memory")
        _ = data.mean_std
        candidate = Candidate("resnet", 8, 2, networks=2, image_size=SIDE, in_channels=3,
                              num_classes=3, recipe=RECIPE)  # fmt: skip
        fed = MemoryFeed(data, candidate, torch.Generator().manual_seed(0), torch.device("cpu"))
        next(iter(fed.epoch()))
        for _batch in fed.evaluation("val"):
            pass
    return spy.peak


def test_in_memory_data_costs_its_decoded_pixels_and_a_constant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Peak growth from 40 to 160 images is at most 1.5x their decoded bytes (chunks and eval
    batches made small, as they are small beside a real data set)."""
    monkeypatch.setattr(source, "CHUNK", 8)
    monkeypatch.setattr(feed, "EVAL_BATCH", 8)
    small = peak_of_a_run(make_folder(tmp_path / "small", 40))
    large = peak_of_a_run(make_folder(tmp_path / "large", 160))
    decoded = (160 - 40) * 3 * SIDE * SIDE
    assert large - small <= 1.5 * decoded, (large - small) / decoded


def test_chunked_statistics_and_resizes_equal_the_whole_set_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(source, "CHUNK", 7)
    images = torch.randint(0, 256, (30, 3, 12, 12), dtype=torch.uint8)
    mean, std = source.chunked_stats(images)
    pixels = images.float().div(255).transpose(0, 1).flatten(1)
    assert mean == pytest.approx(pixels.mean(1).tolist(), abs=1e-6)
    assert std == pytest.approx(pixels.std(1).tolist(), abs=1e-6)
    expected = TF.resize(images, [5, 5], antialias=True)
    assert torch.equal(source.ImageSet(images, torch.zeros(30)).resized(5), expected)


def test_train_and_val_are_views_of_one_tensor_in_the_old_order(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", 30)
    data = load_data("imagefolder", folder, val_fraction=0.25, seed=3, mode="memory")
    train, val = data.train, data.val
    assert isinstance(train, source.ImageSet) and isinstance(val, source.ImageSet)
    assert train.images.untyped_storage().data_ptr() == val.images.untyped_storage().data_ptr()
    streamed = load_data("imagefolder", folder, val_fraction=0.25, seed=3, mode="stream",
                         workers=0)  # fmt: skip
    assert torch.equal(val.resized(SIDE), streamed.val.resized(SIDE))
    assert torch.equal(train.labels, streamed.train.labels)


def test_auto_decides_from_the_memory_available_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path / "d", 12)
    decoded = 12 * 3 * SIDE * SIDE
    monkeypatch.setattr(memory, "available", lambda: memory.Available(4 * decoded, "cgroup limit"))
    held = load_data("imagefolder", folder, workers=0)
    assert not isinstance(held.train, StreamSet)
    assert held.note.startswith("data held in memory: 0.0 MB of decoded pixels")
    assert "fits within 50% of the 0.1 MB available (cgroup limit)" in held.note
    monkeypatch.setattr(memory, "available", lambda: memory.Available(2 * decoded, "MemAvailable"))
    streamed = load_data("imagefolder", folder, workers=0)
    assert isinstance(streamed.train, StreamSet)
    assert "streamed from disk" in streamed.note and "exceeds" in streamed.note
    forced = load_data("imagefolder", folder, mode="memory")
    assert forced.note.endswith("; --data-mode memory")


def test_available_memory_is_the_smaller_of_the_machine_and_the_container(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 8000000 kB\nMemAvailable:    4000000 kB\n")
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    v2.mkdir()
    v1.mkdir()
    assert memory.available(meminfo, v2, v1) == memory.Available(4_096_000_000, "MemAvailable")
    (v2 / "memory.max").write_text("max\n")
    assert memory.available(meminfo, v2, v1).source == "MemAvailable"
    (v2 / "memory.max").write_text("3000000000\n")
    (v2 / "memory.current").write_text("1000000000\n")
    assert memory.available(meminfo, v2, v1) == memory.Available(2_000_000_000, "cgroup limit")
    (v2 / "memory.max").unlink()
    (v1 / "memory.limit_in_bytes").write_text(str(1 << 62))  # cgroup v1's "no limit"
    assert memory.available(meminfo, v2, v1).source == "MemAvailable"
    assert imagefolder.MEMORY_LIMIT_BYTES is None
