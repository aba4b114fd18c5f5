"""Streaming image folders: the index and its cache, the split, the views, bad files, training."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from space import Candidate, ConfigError, Recipe
from trainers import load_data, train
from trainers.data import imagefolder
from trainers.data.feed import MemoryFeed, open_feed
from trainers.data.index import load_index
from trainers.data.stream import StreamSet

RECIPE = Recipe(epochs=1, batch_size=8, lr=0.05, warmup_epochs=0, js_warmup_epochs=1,
                augmentation="crop_flip")  # fmt: skip


def write_image(
    path: Path, value: int, size: tuple[int, int] = (20, 16), mode: str = "RGB"
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 1 if mode == "L" else 3
    array = np.full((size[1], size[0], channels), value, dtype=np.uint8).squeeze()
    Image.fromarray(array, mode).save(path)


def make_folder(
    root: Path, per_class: int = 12, classes: tuple[str, ...] = ("a", "b", "c")
) -> Path:
    """Every image is one flat grey value that names it: class * 60 + index."""
    for label, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / name / f"{i:03d}.png", label * 60 + i)
    return root


def candidate(networks: int = 2, mode: str = "cotrain", channels: int = 3, **recipe) -> Candidate:
    return Candidate("resnet", 8, 2, networks=networks, image_size=8, in_channels=channels,
                     num_classes=3, recipe=Recipe(**{**RECIPE.to_dict(), "mode": mode, **recipe}))  # fmt: skip


def test_the_index_is_cached_and_a_corrupt_cache_is_rebuilt_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root, cache = make_folder(tmp_path / "data", per_class=3), tmp_path / "runs"
    classes = ("a", "b", "c")
    first = load_index(root, classes, cache)
    assert len(first) == 9 and first.sizes.tolist()[0] == [20, 16] and not first.grey.any()
    [cached] = cache.glob("index-*.npz")

    def no_scan(*args: object) -> None:
        raise AssertionError("the folder was scanned again")

    with monkeypatch.context() as patch:
        patch.setattr("trainers.data.index.scan", no_scan)
        again = load_index(root, classes, cache)
    assert again.paths.tolist() == first.paths.tolist()
    assert again.labels.tolist() == first.labels.tolist()

    cached.write_bytes(b"not an npz file")
    with caplog.at_level(logging.WARNING):
        rebuilt = load_index(root, classes, cache)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreadable" in warnings[0].getMessage()
    assert rebuilt.paths.tolist() == first.paths.tolist()
    assert load_index(root, classes, cache).paths.tolist() == first.paths.tolist()  # rewritten

    write_image(root / "b" / "new.png", 7)  # a changed folder is scanned again
    assert len(load_index(root, classes, cache)) == 10


def test_the_stream_split_is_the_memory_split_seeded_and_stratified(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data")
    memory = load_data("imagefolder", root, val_fraction=0.25, seed=5, mode="memory")
    stream = load_data("imagefolder", root, val_fraction=0.25, seed=5, mode="stream", workers=0)
    assert isinstance(stream.train, StreamSet) and not isinstance(memory.train, StreamSet)
    assert torch.equal(memory.val.labels, stream.val.labels)
    assert torch.bincount(stream.val.labels).tolist() == [3, 3, 3]
    assert torch.equal(memory.val.resized(8), stream.val.resized(8))  # the same images, in order
    assert stream.in_channels == 3 and stream.num_classes == 3
    other = load_data("imagefolder", root, val_fraction=0.25, seed=6, mode="stream", workers=0)
    assert not torch.equal(other.val.resized(8), stream.val.resized(8))


def test_auto_mode_streams_only_folders_too_large_for_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "data", per_class=2)
    assert not isinstance(load_data("imagefolder", root).train, StreamSet)
    monkeypatch.setattr(imagefolder, "MEMORY_LIMIT_BYTES", 100)
    assert isinstance(load_data("imagefolder", root, workers=0).train, StreamSet)
    with pytest.raises(ConfigError, match="only imagefolder streams"):
        load_data("digits", mode="stream")
    with pytest.raises(ConfigError, match="data mode 'disk' is not allowed"):
        load_data("imagefolder", root, mode="disk")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["memory", "stream"])
def test_cotrain_views_share_images_and_independent_members_have_their_own_order(
    tmp_path: Path, mode: str
) -> None:
    data = load_data("imagefolder", make_folder(tmp_path / "d"), mode=mode, workers=0)
    for training, shared in (("cotrain", True), ("independent", False)):
        feed = open_feed(data, candidate(3, training, augmentation="none"),
                         torch.Generator().manual_seed(0), torch.device("cpu"))  # fmt: skip
        try:
            assert isinstance(feed, MemoryFeed) == (mode == "memory")
            batch = next(iter(feed.epoch()))
        finally:
            feed.close()
        same_targets = all(torch.equal(t, batch.targets[0]) for t in batch.targets)
        same_images = all(torch.equal(x, batch.inputs[0]) for x in batch.inputs)
        assert same_targets == shared and same_images == shared
        assert [len(t) for t in batch.targets] == [8, 8, 8]


def test_streamed_batches_do_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d")
    batches = []
    for workers in (0, 1):
        data = load_data("imagefolder", root, mode="stream", workers=workers)
        feed = open_feed(data, candidate(2), torch.Generator().manual_seed(3), torch.device("cpu"))
        try:
            batches.append(list(feed.epoch()))
        finally:
            feed.close()
        assert not multiprocessing.active_children()
    for one, other in zip(*batches, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(one.inputs, other.inputs, strict=True))
        assert all(torch.equal(a, b) for a, b in zip(one.targets, other.targets, strict=True))


def test_unreadable_files_are_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_folder(tmp_path / "d", per_class=8)
    (root / "a" / "garbage.png").write_bytes(b"\x89PNG not really")  # fails at indexing
    good = (root / "b" / "000.png").read_bytes()
    (root / "b" / "truncated.png").write_bytes(good[: len(good) // 2])  # fails when decoded
    with caplog.at_level(logging.WARNING):
        data = load_data("imagefolder", root, val_fraction=0.25, mode="stream", workers=0)
        assert "skipped 1 unreadable image(s)" in caplog.text
        assert len(data.train) + len(data.val) == 25  # the truncated file is indexed
        result = train(candidate(2), data, seed=0)
    assert caplog.text.count("skipped 1 unreadable image(s) in the") == 1
    assert result.val.count in (len(data.val), len(data.val) - 1)


def test_a_folder_of_only_unreadable_files_is_one_clear_error(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.jpg").write_bytes(b"no image here")
    for mode in ("memory", "stream"):
        with pytest.raises(ConfigError, match=f"image folder {tmp_path} has no readable images"):
            load_data("imagefolder", tmp_path, mode=mode, cache_dir=tmp_path / "runs")


@pytest.mark.parametrize("test_dir", ["test", "val"])
def test_a_test_folder_next_to_the_classes_is_the_test_split_not_a_class(
    tmp_path: Path, test_dir: str
) -> None:
    make_folder(tmp_path, per_class=4, classes=("cat", "dog"))
    write_image(tmp_path / test_dir / "cat" / "t0.png", 1)
    write_image(tmp_path / test_dir / "dog" / "t1.png", 61)
    data = load_data("imagefolder", tmp_path, val_fraction=0.25)
    assert data.class_names == ("cat", "dog")
    assert len(data.train) + len(data.val) == 8
    assert data.test is not None and data.test.labels.tolist() == [0, 1]


def test_a_short_streamed_training_run_ends_with_no_worker_left(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "d", per_class=10)
    write_image(tmp_path / "d" / "test" / "a" / "t.png", 3)
    data = load_data("imagefolder", root, val_fraction=0.2, mode="stream", workers=1,
                     cache_dir=tmp_path / "runs")  # fmt: skip
    result = train(candidate(2, epochs=2), data, seed=0)
    assert len(result.history) == 2 and result.val.count == len(data.val) == 6
    assert result.test is not None and result.test.count == 1
    assert all(np.isfinite(r.train_loss) for r in result.history)
    assert not multiprocessing.active_children()
    cut = train(candidate(2, epochs=3, time_limit_s=1e-3), data, seed=0)  # leaves an epoch early
    assert cut.stopped_by == "time_limit" and cut.val.count == len(data.val)
    assert not multiprocessing.active_children()
